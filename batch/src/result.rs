//! Per-unit results and the per-call summary.

use crate::error::UnitError;

/// Which path produced a unit's result.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExecPath {
    /// The device (or the device model).
    Hardware,
    /// The software codec.
    Software,
}

/// The result of one unit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum UnitResult {
    /// Not finished (still in flight, or its handle has not completed it yet).
    #[default]
    Pending,
    /// `len` bytes were written to the front of the unit's output slot (compressed bytes for a
    /// compression, the original bytes for a decompression).
    Done {
        /// Bytes written.
        len: usize,
        /// Who did it.
        path: ExecPath,
        /// CRC-32 (gzip/zlib, [`crc32`]) of the unit's uncompressed bytes: the input of a
        /// compression, the output of a decompression. From the device's completion record on
        /// the hardware path, computed in software otherwise.
        crc: u32,
    },
    /// Compression only: the output would not be smaller than the unit or would not fit its
    /// slot. Store the unit raw. Nothing meaningful was written to the slot.
    Incompressible,
    /// The unit failed; the other units are unaffected.
    Failed(UnitError),
}

impl UnitResult {
    /// The output length of a `Done` unit.
    #[allow(clippy::len_without_is_empty)]
    pub fn len(&self) -> Option<usize> {
        match self {
            UnitResult::Done { len, .. } => Some(*len),
            _ => None,
        }
    }
    /// The CRC-32 of a `Done` unit's uncompressed bytes.
    pub fn crc(&self) -> Option<u32> {
        match self {
            UnitResult::Done { crc, .. } => Some(*crc),
            _ => None,
        }
    }
    /// True for `Done`.
    pub fn is_done(&self) -> bool {
        matches!(self, UnitResult::Done { .. })
    }
    /// The unit's error, if it failed.
    pub fn error(&self) -> Option<UnitError> {
        match self {
            UnitResult::Failed(e) => Some(*e),
            _ => None,
        }
    }
}

/// CRC-32 (gzip/zlib) of `data`, the checksum [`UnitResult::Done`] reports (use it for an
/// `Incompressible` unit stored raw).
pub fn crc32(data: &[u8]) -> u32 {
    crc32fast::hash(data)
}

/// Totals of one call. Per-unit detail is in the results slice.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct BatchSummary {
    /// Units in the call.
    pub units: usize,
    /// Units that ended `Done` on the hardware.
    pub hardware: usize,
    /// Units that ended `Done` on the software path.
    pub software: usize,
    /// Units reported incompressible.
    pub incompressible: usize,
    /// Units that failed.
    pub failed: usize,
}

impl BatchSummary {
    /// True when no unit failed (incompressible units are a normal outcome).
    pub fn all_ok(&self) -> bool {
        self.failed == 0 && self.finished() == self.units
    }
    /// Units with a final result.
    pub fn finished(&self) -> usize {
        self.hardware + self.software + self.incompressible + self.failed
    }
    /// Add the per-outcome counts of `o` (not its unit count).
    pub(crate) fn add(&mut self, o: &BatchSummary) {
        self.hardware += o.hardware;
        self.software += o.software;
        self.incompressible += o.incompressible;
        self.failed += o.failed;
    }
    pub(crate) fn record(&mut self, r: &UnitResult) {
        match r {
            UnitResult::Pending => {}
            UnitResult::Done {
                path: ExecPath::Hardware,
                ..
            } => self.hardware += 1,
            UnitResult::Done {
                path: ExecPath::Software,
                ..
            } => self.software += 1,
            UnitResult::Incompressible => self.incompressible += 1,
            UnitResult::Failed(_) => self.failed += 1,
        }
    }
}
