//! Error types: [`Error`] for a whole call or pool construction (bad shapes, no device),
//! [`UnitError`] for one unit of a batch (the others are unaffected).

/// Errors of pool construction and of whole calls (shape validation). A call that returns
/// `Err` has not touched any output slot or result.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Error {
    /// `unit_size` was 0.
    #[error("unit_size must be at least 1 byte")]
    ZeroUnitSize,
    /// Fewer output slots than units.
    #[error("{units} units need {units} output slots, got {slots}")]
    TooFewSlots {
        /// Units in the call.
        units: usize,
        /// Output slots given.
        slots: usize,
    },
    /// Fewer expected CRCs than units.
    #[error("{units} units need {units} expected CRCs, got {crcs}")]
    TooFewCrcs {
        /// Units in the call.
        units: usize,
        /// CRCs given.
        crcs: usize,
    },
    /// Fewer result entries than units.
    #[error("{units} units need {units} result entries, got {results}")]
    TooFewResults {
        /// Units in the call.
        units: usize,
        /// Result entries given.
        results: usize,
    },
    /// An output slot is shorter than the unit it receives (copy).
    #[error("output slot {unit} has {have} bytes, its unit needs {need}")]
    SlotTooSmall {
        /// Index of the unit.
        unit: usize,
        /// Bytes of the unit.
        need: usize,
        /// Bytes of the slot.
        have: usize,
    },
    /// A unit is larger than the 32-bit sizes of a descriptor allow.
    #[error("unit of {len} bytes exceeds the 4 GiB - 1 limit of one unit")]
    UnitTooLarge {
        /// Length of the offending unit.
        len: usize,
    },
    /// A flat buffer was given a stride of 0.
    #[error("stride must be at least 1 byte")]
    ZeroStride,
    /// A unit of a flat input is longer than the stride or runs past the buffer.
    #[error("flat input unit {unit} is longer than the stride or runs past the buffer")]
    BadInputLayout {
        /// Index of the offending unit.
        unit: usize,
    },
    /// Verify-after-compress in software needs a scratch buffer of the unit's size, and the
    /// unit is larger than the pool's `max_unit_size`.
    #[error("verify-after-compress needs units of at most {max} bytes, got {len}")]
    VerifyUnitTooLarge {
        /// Length of the offending unit.
        len: usize,
        /// The pool's `max_unit_size`.
        max: usize,
    },
    /// `Path::Hardware` was requested and no usable device or model was found.
    #[error("no IAA device available: {0}")]
    NoDevice(String),
    /// A numeric option is outside its documented range (`field` names it as the builder
    /// method or C `iaa_config` field does).
    #[error("{field} = {value} is outside {min}..={max}")]
    OutOfRange {
        /// The option.
        field: &'static str,
        /// The value given.
        value: u64,
        /// Smallest allowed value.
        min: u64,
        /// Largest allowed value.
        max: u64,
    },
    /// Allocating the pool's memory failed (`bytes` in the request that failed).
    #[error("out of memory allocating {bytes} bytes for the pool")]
    OutOfMemory {
        /// Size of the failed request.
        bytes: usize,
    },
    /// The builder was given an inconsistent configuration.
    #[error("invalid configuration: {0}")]
    Config(&'static str),
    /// The zstd codec is software-only and cannot run on `Path::Hardware`.
    #[error("codec {0} has no hardware path; use Path::Software or Path::Auto")]
    CodecNotOnHardware(&'static str),
    /// Allocating or initialising a per-CPU context failed.
    #[error("creating the context of CPU {cpu} failed: {reason}")]
    ContextInit {
        /// The CPU whose context failed.
        cpu: usize,
        /// Why.
        reason: String,
    },
    /// Live handles (of this thread or others) hold every context of the pool, so a new call
    /// has none to take and would wait for handles that may end only after it returns.
    #[error("live handles hold all {0} contexts of the pool")]
    AllContextsHeld(usize),
}

/// Why one unit failed. Hardware trouble never shows up here: it sends the unit to the
/// software path. These are failures of the unit itself (or of the software path).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum UnitError {
    /// The compressed input is not a valid raw-deflate (or zstd) stream.
    #[error("corrupt compressed input")]
    Corrupt,
    /// The decompressed data does not fit the output slot.
    #[error("output slot too small for the decompressed unit")]
    OutputTooSmall,
    /// Verify-after-compress found that the compressed unit does not decompress to its input
    /// (software path; hardware mismatches are redone in software first).
    #[error("verify-after-compress mismatch")]
    VerifyFailed,
    /// The software codec reported an internal error.
    #[error("software codec error")]
    Codec,
    /// Decompression: the unit's bytes hold a valid deflate stream that ends after
    /// `consumed` bytes, and more bytes follow it (a unit must be exactly one stream). The
    /// slot holds the stream's output, but the unit is not `Done`.
    #[error("{trailing} bytes follow the deflate stream, which ends after {consumed} bytes")]
    TrailingData {
        /// Input bytes the stream used.
        consumed: usize,
        /// Bytes after it.
        trailing: usize,
    },
    /// Decompression with expected CRCs: the unit decoded, but the CRC-32 of its output is not
    /// the one the caller expected. The slot holds the (wrong) output; the unit is not `Done`.
    #[error("CRC-32 of the output is {actual:#010x}, expected {expected:#010x}")]
    CrcMismatch {
        /// The caller's CRC.
        expected: u32,
        /// The output's CRC.
        actual: u32,
    },
    /// The unit was never finished because its handle was dropped before completion.
    #[error("unit abandoned: its handle was dropped before it completed")]
    Abandoned,
}
