//! Completion status codes, analytics error codes, driver command soft errors, and what each
//! means for the driver (its [`StatusClass`]).
//!
//! Values follow `linux/idxd.h` and spec §3.2, §3.3, §5.2, §7.3.

/// What the driver should do with a completion.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum StatusClass {
    /// The record is not written yet (status byte 0).
    Pending,
    /// The operation succeeded.
    Done,
    /// A page fault with block-on-fault off: touch the page and resubmit the whole descriptor.
    TouchPageAndResubmit,
    /// The output did not fit the destination.
    OutputOverflow,
    /// The input data was not valid for the operation (e.g. a corrupt DEFLATE stream, or a
    /// back-reference farther than the device's 4 KiB history): software may still handle it.
    BadInput,
    /// The descriptor itself was malformed: a driver bug, never retried as is.
    BadDescriptor,
    /// The device or its address translation failed: retry elsewhere or in software.
    DeviceFault,
}

macro_rules! code_enum {
    ($(#[$m:meta])* $name:ident { $($(#[$vm:meta])* $v:ident = $n:expr => $class:ident, $text:expr;)* }) => {
        $(#[$m])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
        #[repr(u8)]
        pub enum $name { $($(#[$vm])* $v = $n,)* }
        impl $name {
            /// Every code.
            pub const ALL: &'static [$name] = &[$($name::$v),*];
            /// Decode a code (after masking); `None` for an undefined one.
            pub const fn from_code(c: u8) -> Option<$name> {
                match c { $($n => Some($name::$v),)* _ => None }
            }
            /// What the code means, in plain words.
            pub const fn meaning(self) -> &'static str {
                match self { $($name::$v => $text,)* }
            }
            /// What the driver should do.
            pub const fn class(self) -> StatusClass {
                match self { $($name::$v => StatusClass::$class,)* }
            }
        }
        impl core::fmt::Display for $name {
            fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
                write!(f, "{:#04x} ({})", *self as u8, self.meaning())
            }
        }
    };
}

code_enum! {
    /// IAA completion status (status byte, low 7 bits).
    IaaStatus {
        /// Not complete yet.
        None = 0x00 => Pending, "not complete";
        /// Success.
        Success = 0x01 => Done, "success";
        /// Page fault with block-on-fault off (QPL; not in the UAPI enum).
        PageFaultNoBof = 0x03 => TouchPageAndResubmit, "page fault with block-on-fault off";
        /// Page fault that the page request could not resolve.
        PageFaultIr = 0x04 => DeviceFault, "page fault: invalid page request response";
        /// Analytics error: see the error code.
        AnalyticsError = 0x0A => BadInput, "analytics error (see error code)";
        /// Output buffer overflow (decompress/filter).
        OutbufOverflow = 0x0B => OutputOverflow, "output buffer overflow";
        /// Unsupported opcode.
        BadOpcode = 0x10 => BadDescriptor, "unsupported opcode";
        /// Invalid operation flags.
        InvalidFlags = 0x11 => BadDescriptor, "invalid operation flags";
        /// Non-zero reserved field.
        NozeroReserve = 0x12 => BadDescriptor, "non-zero reserved field";
        /// Invalid transfer size.
        InvalidSize = 0x13 => BadDescriptor, "invalid transfer size";
        /// Overlapping buffers.
        OverlapBuffers = 0x16 => BadDescriptor, "overlapping buffers";
        /// Invalid completion interrupt handle.
        IntHandleInval = 0x19 => BadDescriptor, "invalid completion interrupt handle";
        /// Page fault translating the completion record address.
        CraXlat = 0x1A => DeviceFault, "page fault on the completion record address";
        /// Completion record address not 64-byte aligned.
        CraAlign = 0x1B => BadDescriptor, "completion record not 64-byte aligned";
        /// Misaligned address (AECS).
        AddrAlign = 0x1C => BadDescriptor, "misaligned AECS address or size";
        /// Privilege error.
        PrivBad = 0x1D => BadDescriptor, "privilege error";
        /// Traffic-class configuration error.
        TrafficClassConf = 0x1E => DeviceFault, "traffic class configuration error";
        /// Page fault on the readback address.
        PfaultRdba = 0x1F => DeviceFault, "page fault on readback address";
        /// Hardware error.
        HwErr1 = 0x20 => DeviceFault, "hardware error";
        /// Hardware error on readback.
        HwErrDrb = 0x21 => DeviceFault, "hardware error on readback";
        /// Address translation failure.
        TranslationFail = 0x22 => DeviceFault, "address translation failure";
        /// Page request timeout.
        PrsTimeout = 0x23 => DeviceFault, "page request timeout";
        /// Watchdog expired.
        Watchdog = 0x24 => DeviceFault, "watchdog expired: engine made no progress";
        /// Invalid compression/decompression/CRC flags.
        InvalidCompFlag = 0x30 => BadDescriptor, "invalid compression/decompression flags";
        /// Invalid filter flags.
        InvalidFilterFlag = 0x31 => BadDescriptor, "invalid filter flags";
        /// Invalid input size.
        InvalidInputSize = 0x32 => BadDescriptor, "invalid input size";
        /// Number of elements is zero.
        InvalidNumElems = 0x33 => BadDescriptor, "number of elements is zero";
        /// Invalid source-1 element width.
        InvalidSrc1Width = 0x34 => BadDescriptor, "invalid source-1 element width";
        /// Invert-output on non-bit-vector output.
        InvalidInvertOut = 0x35 => BadDescriptor, "invert output on a non-bit-vector output";
    }
}

code_enum! {
    /// DSA completion status (status byte, low 7 bits).
    DsaStatus {
        /// Not complete yet.
        None = 0x00 => Pending, "not complete";
        /// Success.
        Success = 0x01 => Done, "success";
        /// Success with false predicate (compare found a difference).
        SuccessPred = 0x02 => Done, "success, predicate false";
        /// Page fault with block-on-fault off (partial completion).
        PageFaultNobof = 0x03 => TouchPageAndResubmit, "page fault with block-on-fault off";
        /// Page fault that the page request could not resolve.
        PageFaultIr = 0x04 => DeviceFault, "page fault: invalid page request response";
        /// Batch: at least one descriptor failed.
        BatchFail = 0x05 => BadInput, "batch: a descriptor failed";
        /// Page fault reading the batch list.
        BatchPageFault = 0x06 => TouchPageAndResubmit, "page fault reading the batch descriptor list";
        /// Delta offsets not increasing.
        DrOffsetNoinc = 0x07 => BadInput, "delta record offsets not increasing";
        /// Delta offset out of range.
        DrOffsetErange = 0x08 => BadInput, "delta record offset out of range";
        /// DIF error.
        DifErr = 0x09 => BadInput, "DIF error";
        /// Unsupported opcode.
        BadOpcode = 0x10 => BadDescriptor, "unsupported opcode";
        /// Invalid flags.
        InvalidFlags = 0x11 => BadDescriptor, "invalid operation flags";
        /// Non-zero reserved field.
        NozeroReserve = 0x12 => BadDescriptor, "non-zero reserved field";
        /// Transfer size out of range.
        XferErange = 0x13 => BadDescriptor, "transfer size out of range";
        /// Descriptor count out of range.
        DescCntErange = 0x14 => BadDescriptor, "descriptor count out of range";
        /// Maximum delta size out of range.
        DrErange = 0x15 => BadDescriptor, "maximum delta record size out of range";
        /// Overlapping buffers.
        OverlapBuffers = 0x16 => BadDescriptor, "overlapping buffers";
        /// Dualcast destinations misaligned relative to each other.
        DcastErr = 0x17 => BadDescriptor, "dualcast destination addresses differ in bits 11:0";
        /// Misaligned descriptor list.
        DesclistAlign = 0x18 => BadDescriptor, "descriptor list not 64-byte aligned";
        /// Invalid interrupt handle.
        IntHandleInval = 0x19 => BadDescriptor, "invalid completion interrupt handle";
        /// Page fault translating the completion record address.
        CraXlat = 0x1A => DeviceFault, "page fault on the completion record address";
        /// Completion record misaligned.
        CraAlign = 0x1B => BadDescriptor, "completion record not 32-byte aligned";
        /// Misaligned address.
        AddrAlign = 0x1C => BadDescriptor, "misaligned address";
        /// Privilege error.
        PrivBad = 0x1D => BadDescriptor, "privilege error";
        /// Traffic-class configuration error.
        TrafficClassConf = 0x1E => DeviceFault, "traffic class configuration error";
        /// Page fault on readback address.
        PfaultRdba = 0x1F => DeviceFault, "page fault on readback address";
        /// Hardware error.
        HwErr1 = 0x20 => DeviceFault, "hardware error";
        /// Hardware error on readback.
        HwErrDrb = 0x21 => DeviceFault, "hardware error on readback";
        /// Address translation failure.
        TranslationFail = 0x22 => DeviceFault, "address translation failure";
    }
}

code_enum! {
    /// IAA analytics error codes (completion record byte 1 when status is 0x0A; spec §3.3).
    AnalyticsError {
        /// Input ended before the block header was decoded.
        HeaderTooBig = 1 => BadInput, "input ended inside a block header";
        /// Bad code-length code.
        BadClCode = 2 => BadInput, "bad code-length code";
        /// First literal/length code is a repeat.
        FirstLlCodeRepeat = 3 => BadInput, "first literal/length code length is a repeat (16)";
        /// First distance code is a repeat.
        FirstDCodeRepeat = 4 => BadInput, "first distance code length is a repeat (16)";
        /// All literal/length codes have length 0.
        NoLlCode = 5 => BadInput, "all literal/length code lengths are zero";
        /// Wrong number of literal/length codes.
        WrongNumLlCodes = 6 => BadInput, "wrong number of literal/length codes";
        /// Wrong number of distance codes.
        WrongNumDistCodes = 7 => BadInput, "wrong number of distance codes";
        /// Code-length code over-subscribed.
        BadClCodeLen = 8 => BadInput, "code-length code over-subscribed";
        /// Literal/length code over-subscribed.
        BadLlCodeLen = 9 => BadInput, "literal/length code over-subscribed";
        /// Distance code over-subscribed.
        BadDistCodeLen = 10 => BadInput, "distance code over-subscribed";
        /// Invalid literal/length code.
        BadLlCode = 11 => BadInput, "invalid literal/length code";
        /// Invalid distance code.
        BadDistCode = 12 => BadInput, "invalid distance code";
        /// Block type 3.
        InvalidBlockType = 13 => BadInput, "invalid block type 3";
        /// Stored block LEN != ~NLEN.
        InvalidStoredLen = 14 => BadInput, "stored block length check failed";
        /// EOB check failed.
        BadEob = 15 => BadInput, "input did not end at an end-of-block";
        /// Length 0 or above 258.
        BadLength = 16 => BadInput, "decoded length is 0 or above 258";
        /// Distance 0 or beyond the 4 KiB history.
        BadDistance = 17 => BadInput, "distance is 0 or beyond the 4 KiB history";
        /// Reference before the start of the stream.
        RefBeforeStart = 18 => BadInput, "reference before the start of the stream";
        /// Timeout: no forward progress.
        Timeout = 19 => DeviceFault, "timeout: no forward progress";
        /// Malformed PRLE record.
        PrleFormat = 20 => BadInput, "malformed PRLE record";
        /// Output bit width overflow.
        OutputBitWidth = 21 => BadInput, "output bit-width overflow";
        /// AECS holds an invalid value.
        InvalidAecs = 22 => BadDescriptor, "AECS contains an invalid value";
        /// Source 1 too short.
        Src1TooSmall = 23 => BadInput, "source 1 has fewer elements than expected";
        /// Source 2 too short.
        Src2TooSmall = 24 => BadInput, "source 2 has fewer elements than expected";
        /// Unrecoverable output overflow (compress result does not fit).
        UnrecoverableOutputOverflow = 25 => OutputOverflow, "compressed output does not fit the destination";
        /// Indexing: distance crosses a mini-block.
        DistSpansMiniBlocks = 26 => BadInput, "match distance crosses a mini-block";
        /// Indexing: length crosses a mini-block.
        LenSpansMiniBlocks = 27 => BadInput, "match length crosses a mini-block";
        /// Invalid mini-block size.
        InvalidBlockSize = 28 => BadDescriptor, "invalid mini-block size";
        /// Verify detected incorrect output.
        VerifyFailure = 29 => DeviceFault, "verify detected incorrect output";
        /// Compressor asked to use an invalid Huffman code.
        InvalidHuffCode = 30 => BadDescriptor, "compressor needed a symbol with no Huffman code";
        /// PRLE bit width above 32.
        PrleBitWidth = 31 => BadInput, "PRLE bit width above 32";
        /// Input ended before the number of elements.
        TooFewElements = 32 => BadInput, "input ended before the number of elements";
        /// Zero-decompress input ended inside a record header.
        ZeroDecompTruncated = 34 => BadInput, "zero-decompress input ended inside a record header";
        /// Too many literal/length codes.
        TooManyLlCodes = 35 => BadInput, "more than 286 literal/length codes";
        /// Too many distance codes.
        TooManyDistCodes = 36 => BadInput, "more than 30 distance codes";
    }
}

/// Mask of the status code in the status byte (`DSA_COMP_STATUS_MASK`).
pub const STATUS_CODE_MASK: u8 = 0x7F;
/// Status-byte bit set when a page fault was on a write (`DSA_COMP_STATUS_WRITE`).
pub const STATUS_WRITE_FAULT: u8 = 0x80;

/// A raw status byte, split into its code and write-fault bit.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct StatusByte(pub u8);

impl StatusByte {
    /// The status code (low 7 bits).
    pub const fn code(self) -> u8 {
        self.0 & STATUS_CODE_MASK
    }
    /// Whether a page fault happened on a write.
    pub const fn write_fault(self) -> bool {
        self.0 & STATUS_WRITE_FAULT != 0
    }
    /// Whether the record has been written (non-zero).
    pub const fn is_complete(self) -> bool {
        self.0 != 0
    }
    /// The IAA status, if the code is defined.
    pub const fn iaa(self) -> Option<IaaStatus> {
        IaaStatus::from_code(self.code())
    }
    /// The DSA status, if the code is defined.
    pub const fn dsa(self) -> Option<DsaStatus> {
        DsaStatus::from_code(self.code())
    }
}

/// Class of an IAA completion given its status byte and error code byte: analytics errors are
/// refined by the error code (0x19 is an output overflow, not a data error). Undefined codes
/// are device faults.
pub fn iaa_class(status: u8, error_code: u8) -> StatusClass {
    match StatusByte(status).iaa() {
        Some(IaaStatus::AnalyticsError) => AnalyticsError::from_code(error_code)
            .map(AnalyticsError::class)
            .unwrap_or(StatusClass::BadInput),
        Some(s) => s.class(),
        None => StatusClass::DeviceFault,
    }
}

/// Soft error status of an idxd driver command (sysfs `cmd_status`; `enum idxd_scmd_stat`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[repr(u32)]
pub enum ScmdStatus {
    /// Device already enabled.
    DevEnabled = 0x8000_0010,
    /// Device not enabled.
    DevNotEnabled = 0x8000_0020,
    /// WQ already enabled.
    WqEnabled = 0x8000_0021,
    /// DMA error on the device.
    DevDmaErr = 0x8002_0000,
    /// WQ has no group.
    WqNoGrp = 0x8003_0000,
    /// WQ has no name.
    WqNoName = 0x8004_0000,
    /// WQ needs shared virtual memory, which is off.
    WqNoSvm = 0x8005_0000,
    /// Shared WQ has no threshold.
    WqNoThresh = 0x8006_0000,
    /// Portal mapping error.
    WqPortalErr = 0x8007_0000,
    /// WQ resource allocation error.
    WqResAllocErr = 0x8008_0000,
    /// Per-CPU allocation error.
    PercpuErr = 0x8009_0000,
    /// DMA channel error.
    DmaChanErr = 0x800a_0000,
    /// Character device error.
    CdevErr = 0x800b_0000,
    /// Shared WQs not supported.
    WqNoSwqSupport = 0x800c_0000,
    /// No WQ configured.
    WqNoneConfigured = 0x800d_0000,
    /// WQ has no size.
    WqNoSize = 0x800e_0000,
    /// WQ has no privilege.
    WqNoPriv = 0x800f_0000,
    /// WQ interrupt error.
    WqIrqErr = 0x8010_0000,
    /// User WQ without IOMMU (SVA) support.
    WqUserNoIommu = 0x8011_0000,
}

impl ScmdStatus {
    /// Every soft error.
    pub const ALL: &'static [ScmdStatus] = &[
        Self::DevEnabled,
        Self::DevNotEnabled,
        Self::WqEnabled,
        Self::DevDmaErr,
        Self::WqNoGrp,
        Self::WqNoName,
        Self::WqNoSvm,
        Self::WqNoThresh,
        Self::WqPortalErr,
        Self::WqResAllocErr,
        Self::PercpuErr,
        Self::DmaChanErr,
        Self::CdevErr,
        Self::WqNoSwqSupport,
        Self::WqNoneConfigured,
        Self::WqNoSize,
        Self::WqNoPriv,
        Self::WqIrqErr,
        Self::WqUserNoIommu,
    ];
    /// `IDXD_SCMD_SOFTERR_MASK`.
    pub const SOFTERR_MASK: u32 = 0x8000_0000;
    /// `IDXD_SCMD_SOFTERR_SHIFT`.
    pub const SOFTERR_SHIFT: u32 = 16;
    /// Decode a `cmd_status` value.
    pub fn from_u32(v: u32) -> Option<Self> {
        Self::ALL.iter().copied().find(|s| *s as u32 == v)
    }
}
