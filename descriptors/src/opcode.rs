//! Opcodes of IAA and DSA (descriptor byte 7), as `linux/idxd.h` and spec §2.2 / §5.1 define them.

macro_rules! opcode_enum {
    ($(#[$m:meta])* $name:ident { $($(#[$vm:meta])* $v:ident = $n:expr,)* }) => {
        $(#[$m])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
        #[repr(u8)]
        pub enum $name { $($(#[$vm])* $v = $n,)* }
        impl $name {
            /// Every opcode of this device kind.
            pub const ALL: &'static [$name] = &[$($name::$v),*];
            /// Decode a raw opcode byte; `None` for an opcode the device kind does not define.
            pub const fn from_u8(b: u8) -> Option<$name> {
                match b { $($n => Some($name::$v),)* _ => None }
            }
            /// Short name for diagnostics.
            pub const fn name(self) -> &'static str {
                match self { $($name::$v => stringify!($v),)* }
            }
        }
        impl From<$name> for u8 { fn from(o: $name) -> u8 { o as u8 } }
    };
}

opcode_enum! {
    /// IAA opcodes. There is no BATCH on IAA (spec §2.2).
    IaaOpcode {
        /// Writes a completion record only.
        Noop = 0x00,
        /// Waits for earlier descriptors.
        Drain = 0x02,
        /// Copy.
        Memmove = 0x03,
        /// Translation fetch (2.0).
        TranslationFetch = 0x0A,
        /// Decrypt (later generations).
        Decrypt = 0x40,
        /// Encrypt (later generations).
        Encrypt = 0x41,
        /// DEFLATE decompress (and decompress + filter).
        Decompress = 0x42,
        /// DEFLATE compress.
        Compress = 0x43,
        /// CRC64 with a descriptor-supplied polynomial.
        Crc64 = 0x44,
        /// Zero-decompress, 32-bit.
        ZeroDecompress32 = 0x48,
        /// Zero-decompress, 16-bit.
        ZeroDecompress16 = 0x49,
        /// Zero-decompress, 8-bit.
        ZeroDecompress8 = 0x4A,
        /// Zero-compress, 32-bit.
        ZeroCompress32 = 0x4C,
        /// Zero-compress, 16-bit.
        ZeroCompress16 = 0x4D,
        /// Zero-compress, 8-bit.
        ZeroCompress8 = 0x4E,
        /// Scan.
        Scan = 0x50,
        /// Set membership.
        SetMembership = 0x51,
        /// Extract.
        Extract = 0x52,
        /// Select.
        Select = 0x53,
        /// RLE burst.
        RleBurst = 0x54,
        /// Find unique.
        FindUnique = 0x55,
        /// Expand.
        Expand = 0x56,
    }
}

opcode_enum! {
    /// DSA opcodes.
    DsaOpcode {
        /// Writes a completion record only.
        Noop = 0x00,
        /// Batch of descriptors in memory.
        Batch = 0x01,
        /// Waits for earlier descriptors.
        Drain = 0x02,
        /// Copy.
        Memmove = 0x03,
        /// Fill with an 8-byte pattern.
        Memfill = 0x04,
        /// Compare two buffers.
        Compare = 0x05,
        /// Compare a buffer with an 8-byte pattern.
        CompareValue = 0x06,
        /// Create a delta record.
        CreateDelta = 0x07,
        /// Apply a delta record.
        ApplyDelta = 0x08,
        /// Copy to two destinations.
        Dualcast = 0x09,
        /// Translation fetch (2.0).
        TranslationFetch = 0x0A,
        /// CRC-32C generation.
        CrcGenerate = 0x10,
        /// Copy with CRC-32C generation.
        CopyCrc = 0x11,
        /// DIF check.
        DifCheck = 0x12,
        /// DIF insert.
        DifInsert = 0x13,
        /// DIF strip.
        DifStrip = 0x14,
        /// DIF update.
        DifUpdate = 0x15,
        /// DIX generate (2.0).
        DixGenerate = 0x17,
        /// Cache flush.
        CacheFlush = 0x20,
    }
}

/// The IAA operations an IAA 1.0 device reports in OPCAP on Sapphire Rapids (spec §0.2).
pub const IAA_SPR_OPCAP: &[IaaOpcode] = &[
    IaaOpcode::Noop,
    IaaOpcode::Drain,
    IaaOpcode::Memmove,
    IaaOpcode::Decompress,
    IaaOpcode::Compress,
    IaaOpcode::Crc64,
    IaaOpcode::ZeroDecompress32,
    IaaOpcode::ZeroDecompress16,
    IaaOpcode::ZeroCompress32,
    IaaOpcode::ZeroCompress16,
    IaaOpcode::Scan,
    IaaOpcode::SetMembership,
    IaaOpcode::Extract,
    IaaOpcode::Select,
    IaaOpcode::RleBurst,
    IaaOpcode::FindUnique,
    IaaOpcode::Expand,
];

/// A 256-bit operation-capability bitmap (OPCAP register, sysfs `op_cap`, WQ `op_config`):
/// bit n set means opcode n is supported.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
pub struct OpCap(pub [u64; 4]);

impl OpCap {
    /// Whether opcode `op` is supported.
    pub const fn supports(&self, op: u8) -> bool {
        self.0[(op / 64) as usize] & (1u64 << (op % 64)) != 0
    }
    /// `self` with opcode `op` marked supported.
    pub const fn with(mut self, op: u8) -> Self {
        self.0[(op / 64) as usize] |= 1u64 << (op % 64);
        self
    }
    /// A bitmap holding exactly the given opcodes.
    pub fn from_opcodes(ops: impl IntoIterator<Item = u8>) -> Self {
        ops.into_iter().fold(OpCap::default(), |c, o| c.with(o))
    }
    /// The SPR IAA 1.0 capability bitmap.
    pub fn iaa_spr() -> Self {
        Self::from_opcodes(IAA_SPR_OPCAP.iter().map(|o| *o as u8))
    }
}
