//! Operation flags (descriptor bytes 4-6) and the opcode-specific 16-bit flag words at byte 38.
//!
//! Values follow `linux/idxd.h` (`IDXD_OP_FLAG_*`) and spec §1, §2.3-§2.4.

macro_rules! flag_type {
    ($(#[$m:meta])* $name:ident($t:ty) { $($(#[$fm:meta])* $f:ident = $v:expr;)* }) => {
        $(#[$m])*
        #[derive(Clone, Copy, PartialEq, Eq, Hash, Default)]
        pub struct $name(pub $t);
        impl $name {
            $($(#[$fm])* pub const $f: $name = $name($v);)*
            /// No flag set.
            pub const EMPTY: $name = $name(0);
            /// The raw bits.
            pub const fn bits(self) -> $t { self.0 }
            /// Whether every bit of `other` is set in `self`.
            pub const fn contains(self, other: $name) -> bool { self.0 & other.0 == other.0 }
            /// `self` with the bits of `other` set (usable in `const` context).
            pub const fn with(self, other: $name) -> $name { $name(self.0 | other.0) }
            /// `self` with the bits of `other` cleared.
            pub const fn without(self, other: $name) -> $name { $name(self.0 & !other.0) }
            /// Names of the flags set, for diagnostics.
            pub fn names(self) -> impl Iterator<Item = &'static str> {
                const ALL: &[(&str, $t)] = &[$((stringify!($f), $v)),*];
                ALL.iter().filter(move |(_, v)| *v != 0 && self.0 & *v == *v).map(|(n, _)| *n)
            }
        }
        impl core::ops::BitOr for $name {
            type Output = $name;
            fn bitor(self, rhs: $name) -> $name { $name(self.0 | rhs.0) }
        }
        impl core::ops::BitOrAssign for $name {
            fn bitor_assign(&mut self, rhs: $name) { self.0 |= rhs.0 }
        }
        impl core::fmt::Debug for $name {
            fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
                write!(f, "{}({:#x}", stringify!($name), self.0)?;
                for n in self.names() { write!(f, " {n}")?; }
                write!(f, ")")
            }
        }
    };
}

flag_type! {
    /// Operation flags, the 24-bit field at descriptor bits 32..56 (common to DSA and IAA).
    OpFlags(u32) {
        /// DSA batch: wait for earlier descriptors of the batch.
        FENCE = 0x0001;
        /// Block on fault (needs GENCAP bit 0 and WQCFG.bof).
        BOF = 0x0002;
        /// Completion record address valid.
        CRAV = 0x0004;
        /// Request a completion record (with CRAV and not RCR the record is written only on failure).
        RCR = 0x0008;
        /// Request a completion interrupt (user space polls instead).
        RCI = 0x0010;
        /// Completion record steering-tag selector (2.0).
        CRSTS = 0x0020;
        /// Check result (DSA compare operations).
        CR = 0x0080;
        /// Cache control: write destination into the CPU cache.
        CC = 0x0100;
        /// Traffic-class selector for address 1.
        ADDR1_TCS = 0x0200;
        /// Traffic-class selector for address 2.
        ADDR2_TCS = 0x0400;
        /// Traffic-class selector for address 3.
        ADDR3_TCS = 0x0800;
        /// Traffic-class selector for the completion record.
        CR_TCS = 0x1000;
        /// Strict ordering of destination writes.
        STORD = 0x2000;
        /// Destination readback.
        DRDBK = 0x4000;
        /// Destination steering-tag selector (2.0).
        DSTS = 0x8000;
        /// IAA: read source 2 as an AECS.
        RD_SRC2_AECS = 0x01_0000;
        /// IAA: read source 2 as a second data input.
        RD_SRC2_2ND = 0x02_0000;
        /// IAA: always write the AECS back on completion.
        WR_SRC2_AECS_COMP = 0x04_0000;
        /// IAA: write the AECS back only on output overflow.
        WR_SRC2_AECS_OVFL = 0x08_0000;
        /// IAA: named in the UAPI, semantics unknown (spec §1, [U]).
        SRC2_STS = 0x10_0000;
        /// IAA: report CRC-32C (RFC 3720) instead of CRC-32 (gzip).
        CRC_RFC3720 = 0x20_0000;
        /// IAA: AECS read/write toggle (spec §4.2).
        AECS_RW_TGLS = 0x40_0000;
    }
}

impl OpFlags {
    /// All bits the 24-bit field can hold.
    pub const FIELD_MASK: u32 = 0x00FF_FFFF;
    /// CRAV | RCR | CC (`0x10C`): what Linux sets on every IAA descriptor it polls for.
    pub const CRAV_RCR_CC: OpFlags = OpFlags(0x010C);
}

/// End processing of an IAA compress job (compression flags bits 3:2).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u16)]
pub enum EndProcessing {
    /// Append nothing (a later job continues the stream).
    None = 0,
    /// Append an end-of-block symbol.
    AppendEob = 1,
    /// Append EOB and an empty non-final stored block.
    AppendEobStored = 2,
    /// Append EOB and an empty final stored block.
    AppendEobFinalStored = 3,
}

flag_type! {
    /// IAA compression flags (16 bits at descriptor byte 38, spec §2.4).
    CompressionFlags(u16) {
        /// Statistics mode: write a histogram instead of compressed data.
        STATS_MODE = 0x0001;
        /// Flush the output accumulator (pad to a byte) at the end.
        FLUSH_OUTPUT = 0x0002;
        /// End processing = append EOB (bits 3:2 = 1).
        END_APPEND_EOB = 0x0004;
        /// End processing = append EOB + empty stored block (bits 3:2 = 2).
        END_APPEND_EOB_STORED = 0x0008;
        /// End processing = append EOB + empty final stored block (bits 3:2 = 3).
        END_APPEND_EOB_FINAL_STORED = 0x000C;
        /// Huffman-only: generate literals only.
        GEN_LITERALS = 0x0010;
        /// Huffman-only big-endian 16-bit output format.
        COMPRESS_BE = 0x0020;
    }
}

/// IAA 2.0 header generation (compression flags bits 14:12, spec §2.4): the device builds the
/// Huffman code from the input and writes the dynamic block header itself. Needs
/// [`IaaCap::HEADER_GEN`]; a device without it rejects the field (0x30).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum HeaderGen {
    /// No header generation (the AECS code and accumulator are used): field 0.
    None,
    /// One pass: statistics, code, header and compressed data from one descriptor; the block
    /// is final when `bfinal` (field 3, what Linux `deflate-iaa-dynamic` uses: flags 0x3006)
    /// or not (field 2).
    OnePass {
        /// BFINAL of the generated header.
        bfinal: bool,
    },
    /// Two passes (fields 6 / 7, the first writes the tables into the output AECS with
    /// compression-2 flag bit 1). Not modelled (the model rejects it, 0x30).
    TwoPass {
        /// BFINAL of the generated header.
        bfinal: bool,
    },
    /// A field value no source defines (1, 4, 5).
    Reserved(u8),
}

impl HeaderGen {
    /// The 3-bit field value.
    pub const fn field(self) -> u16 {
        match self {
            HeaderGen::None => 0,
            HeaderGen::OnePass { bfinal } => 2 | bfinal as u16,
            HeaderGen::TwoPass { bfinal } => 6 | bfinal as u16,
            HeaderGen::Reserved(v) => v as u16 & 7,
        }
    }
    /// From the 3-bit field value.
    pub const fn from_field(v: u16) -> HeaderGen {
        match v & 7 {
            0 => HeaderGen::None,
            2 => HeaderGen::OnePass { bfinal: false },
            3 => HeaderGen::OnePass { bfinal: true },
            6 => HeaderGen::TwoPass { bfinal: false },
            7 => HeaderGen::TwoPass { bfinal: true },
            r => HeaderGen::Reserved(r as u8),
        }
    }
}

flag_type! {
    /// IAACAP (BAR0 0x180, IAA 2.0 only; the kernel's sysfs attribute `iaa_cap` prints it as
    /// `%#llx` and fails with EOPNOTSUPP below version 2). Bit names of Linux
    /// `union iaa_cap_reg` (drivers/dma/idxd/registers.h).
    IaaCap(u64) {
        /// Decompress AECS format 2 (QPL: "gen-2 minimum capabilities").
        DEC_AECS_FORMAT2 = 1 << 0;
        /// Drop initial bits.
        DROP_INIT_BITS = 1 << 1;
        /// Chaining.
        CHAINING = 1 << 2;
        /// Force array output modification.
        FORCE_ARRAY_OUTPUT_MOD = 1 << 3;
        /// Load partial AECS.
        LOAD_PART_AECS = 1 << 4;
        /// Compression early abort.
        COMP_EARLY_ABORT = 1 << 5;
        /// Nested compression.
        NESTED_COMP = 1 << 6;
        /// Dictionary compression.
        DICT_COMP = 1 << 7;
        /// Header generation: [`HeaderGen`] one-pass dynamic compression.
        HEADER_GEN = 1 << 8;
        /// Crypto AES-GCM.
        CRYPTO_GCM = 1 << 9;
        /// Crypto AES-CFB.
        CRYPTO_CFB = 1 << 10;
        /// Crypto AES-XTS.
        CRYPTO_XTS = 1 << 11;
    }
}

impl CompressionFlags {
    /// Mask of the end-processing field.
    pub const END_PROCESSING_MASK: u16 = 0x000C;
    /// Mask of the mini-block indexing field (bits 8:6).
    pub const INDEXING_MASK: u16 = 0x01C0;
    /// Mask of the dictionary field (bits 11:10, IAA 2.0).
    pub const LOAD_DICT_MASK: u16 = 0x0C00;
    /// Mask of the header-generation field (bits 14:12, IAA 2.0).
    pub const HEADER_GEN_MASK: u16 = 0x7000;
    /// Bits no IAA generation defines.
    pub const RESERVED_MASK: u16 = 0x8200;

    /// The end-processing field.
    pub fn end_processing(self) -> EndProcessing {
        match (self.0 & Self::END_PROCESSING_MASK) >> 2 {
            0 => EndProcessing::None,
            1 => EndProcessing::AppendEob,
            2 => EndProcessing::AppendEobStored,
            _ => EndProcessing::AppendEobFinalStored,
        }
    }
    /// The header-generation field (IAA 2.0).
    pub const fn header_gen(self) -> HeaderGen {
        HeaderGen::from_field((self.0 & Self::HEADER_GEN_MASK) >> 12)
    }
    /// `self` with the header-generation field replaced.
    pub const fn with_header_gen(self, h: HeaderGen) -> Self {
        CompressionFlags((self.0 & !Self::HEADER_GEN_MASK) | (h.field() << 12))
    }
    /// `self` with the end-processing field replaced.
    pub fn with_end_processing(self, e: EndProcessing) -> Self {
        CompressionFlags((self.0 & !Self::END_PROCESSING_MASK) | ((e as u16) << 2))
    }
}

/// Which end-of-block symbols stop or are checked by an IAA decompress (flag bits 2, 3, 4).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EobRule {
    /// Neither stop nor check.
    None,
    /// Stop at any EOB.
    StopAnyEob,
    /// Check that the input ends exactly at an EOB (any block).
    CheckAnyEob,
    /// Stop at any EOB and check (what Linux iaa_crypto sets: `0x0C`).
    StopAndCheckAnyEob,
    /// Stop at the EOB of the final block.
    StopFinalEob,
    /// Check that the input ends at the EOB of the final block.
    CheckFinalEob,
    /// Stop and check at the final block's EOB (QPL's default, `0x1C`).
    StopAndCheckFinalEob,
}

impl EobRule {
    /// The flag bits of this rule.
    pub const fn bits(self) -> u16 {
        match self {
            EobRule::None => 0,
            EobRule::StopAnyEob => 0x04,
            EobRule::CheckAnyEob => 0x08,
            EobRule::StopAndCheckAnyEob => 0x0C,
            EobRule::StopFinalEob => 0x14,
            EobRule::CheckFinalEob => 0x18,
            EobRule::StopAndCheckFinalEob => 0x1C,
        }
    }
    /// Decode the rule from decompression flags (bit 4 without bit 2 or 3 means no rule).
    pub const fn from_flags(f: DecompressionFlags) -> EobRule {
        let stop = f.0 & 0x04 != 0;
        let check = f.0 & 0x08 != 0;
        let fin = f.0 & 0x10 != 0;
        match (stop, check, fin) {
            (false, false, _) => EobRule::None,
            (true, false, false) => EobRule::StopAnyEob,
            (false, true, false) => EobRule::CheckAnyEob,
            (true, true, false) => EobRule::StopAndCheckAnyEob,
            (true, false, true) => EobRule::StopFinalEob,
            (false, true, true) => EobRule::CheckFinalEob,
            (true, true, true) => EobRule::StopAndCheckFinalEob,
        }
    }
    /// Whether decoding stops at a qualifying EOB.
    pub const fn stops(self) -> bool {
        self.bits() & 0x04 != 0
    }
    /// Whether the input must end at a qualifying EOB.
    pub const fn checks(self) -> bool {
        self.bits() & 0x08 != 0
    }
    /// Whether only the final block's EOB qualifies.
    pub const fn final_only(self) -> bool {
        self.bits() & 0x10 != 0
    }
}

flag_type! {
    /// IAA decompression flags (16 bits at descriptor byte 38, spec §2.3; bit names as QPL).
    DecompressionFlags(u16) {
        /// Enable decompression (must be 1 for DEFLATE decode).
        ENABLE = 0x0001;
        /// Write all produced output.
        FLUSH_OUTPUT = 0x0002;
        /// Stop on EOB.
        STOP_ON_EOB = 0x0004;
        /// Check for EOB at the end of input.
        CHECK_EOB = 0x0008;
        /// Stop/check only the EOB of a BFINAL block.
        SELECT_BFINAL_EOB = 0x0010;
        /// Huffman-only big-endian 16-bit input format.
        BIT_ORDER_BE = 0x0020;
        /// Decode but write nothing to the destination (verification).
        SUPPRESS_OUTPUT = 0x0200;
        /// Fourth bit of ignore-end-bits (IAA 2.0).
        IGNORE_END_BITS_EXT = 0x4000;
    }
}

impl DecompressionFlags {
    /// Mask of the ignore-end-bits field (bits 8:6).
    pub const IGNORE_END_BITS_MASK: u16 = 0x01C0;
    /// Mask of the indexing field (bits 12:10).
    pub const INDEXING_MASK: u16 = 0x1C00;
    /// Bits no source defines ([U] spec §2.3).
    pub const RESERVED_MASK: u16 = 0xA000;
    /// Number of trailing input bits to ignore (0-7; the IAA 2.0 extension bit adds 8).
    pub const fn ignore_end_bits(self) -> u8 {
        let low = ((self.0 & Self::IGNORE_END_BITS_MASK) >> 6) as u8;
        if self.0 & Self::IGNORE_END_BITS_EXT.0 != 0 {
            low + 8
        } else {
            low
        }
    }
    /// The EOB rule encoded in bits 2-4.
    pub const fn eob_rule(self) -> EobRule {
        EobRule::from_flags(self)
    }
}

flag_type! {
    /// IAA CRC64 flags (16 bits at descriptor byte 38, spec §2.4).
    Crc64Flags(u16) {
        /// Invert the CRC (initial value and result all ones).
        INVERT = 0x4000;
        /// Most-significant-bit-first (big-endian) bit order.
        MSB_FIRST = 0x8000;
    }
}
