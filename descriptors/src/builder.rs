//! Builders, one type per operation (the shape of `io-uring`'s `opcode` module): required fields
//! in `new()`, optional ones as chained setters, `build()` gives the raw 64-byte descriptor.
//! Every field a builder does not set, reserved ones included, is zero.
//!
//! Addresses are whatever the device translates: user virtual addresses with SVA (kernel
//! character-device path), IOVAs in VFIO mode, or model addresses.

use bytemuck::Zeroable;

use crate::aecs::{COMPRESS_AECS_SIZE, HISTOGRAM_BYTES};
use crate::dsa::DsaDescriptor;
use crate::flags::{
    CompressionFlags, Crc64Flags, DecompressionFlags, EndProcessing, EobRule, HeaderGen, OpFlags,
};
use crate::iaa::IaaDescriptor;
use crate::opcode::{DsaOpcode, IaaOpcode};

/// Setters shared by every builder: they edit `self.flags` (the 24-bit operation flags).
macro_rules! common_setters {
    () => {
        /// Block on fault (only effective when the WQ has block-on-fault enabled).
        pub fn block_on_fault(mut self, on: bool) -> Self {
            self.flags = set(self.flags, OpFlags::BOF, on);
            self
        }
        /// Request a completion record on success too (RCR). Off means the record is written
        /// only on failure (CRAV without RCR).
        pub fn request_record(mut self, on: bool) -> Self {
            self.flags = set(self.flags, OpFlags::RCR, on);
            self
        }
        /// Cache control: write the destination into the CPU cache.
        pub fn cache_control(mut self, on: bool) -> Self {
            self.flags = set(self.flags, OpFlags::CC, on);
            self
        }
        /// Replace the operation flags wholesale (for tests and exotic uses).
        pub fn op_flags(mut self, flags: OpFlags) -> Self {
            self.flags = flags;
            self
        }
    };
}

fn set(f: OpFlags, bit: OpFlags, on: bool) -> OpFlags {
    if on {
        f.with(bit)
    } else {
        f.without(bit)
    }
}

fn iaa_base(opcode: IaaOpcode, flags: OpFlags, completion: u64) -> IaaDescriptor {
    let mut d = IaaDescriptor::zeroed();
    d.set_opcode_flags(opcode as u8, flags);
    d.completion_addr = completion;
    d
}

fn dsa_base(opcode: DsaOpcode, flags: OpFlags, completion: u64) -> DsaDescriptor {
    let mut d = DsaDescriptor::zeroed();
    d.set_opcode_flags(opcode as u8, flags);
    d.completion_addr = completion;
    d
}

/// IAA compress. Defaults are exactly what Linux `iaa_crypto` submits in fixed mode (spec §2.5):
/// op flags CRAV|RCR|RD_SRC2_AECS|CC = `0x01010C`, compression flags FLUSH_OUTPUT|APPEND_EOB =
/// `0x0006`, AECS size 1568. The AECS decides the code: [`crate::CompressAecs::fixed`] for fixed
/// mode, [`crate::CompressAecs::dynamic`] for caller-supplied code lengths.
#[derive(Clone, Copy, Debug)]
pub struct IaaCompress {
    src: u64,
    src_len: u32,
    dst: u64,
    dst_cap: u32,
    aecs: u64,
    aecs_size: u32,
    completion: u64,
    flags: OpFlags,
    cflags: CompressionFlags,
}

impl IaaCompress {
    /// Compress `src_len` bytes at `src` into at most `dst_cap` bytes at `dst`, with the code
    /// tables of the AECS at `aecs`, writing the record at `completion`.
    pub fn new(src: u64, src_len: u32, dst: u64, dst_cap: u32, aecs: u64, completion: u64) -> Self {
        IaaCompress {
            src,
            src_len,
            dst,
            dst_cap,
            aecs,
            aecs_size: COMPRESS_AECS_SIZE,
            completion,
            flags: OpFlags::CRAV_RCR_CC.with(OpFlags::RD_SRC2_AECS),
            cflags: CompressionFlags::FLUSH_OUTPUT.with(CompressionFlags::END_APPEND_EOB),
        }
    }
    common_setters!();
    /// Bytes of AECS the device reads (default 1568).
    pub fn aecs_size(mut self, size: u32) -> Self {
        self.aecs_size = size;
        self
    }
    /// Flush the output accumulator to a byte boundary at the end (default on).
    pub fn flush(mut self, on: bool) -> Self {
        self.cflags = if on {
            self.cflags.with(CompressionFlags::FLUSH_OUTPUT)
        } else {
            self.cflags.without(CompressionFlags::FLUSH_OUTPUT)
        };
        self
    }
    /// What to append after the data (default: EOB).
    pub fn end_processing(mut self, e: EndProcessing) -> Self {
        self.cflags = self.cflags.with_end_processing(e);
        self
    }
    /// Report CRC-32C instead of CRC-32 in the completion record.
    pub fn crc32c(mut self, on: bool) -> Self {
        self.flags = set(self.flags, OpFlags::CRC_RFC3720, on);
        self
    }
    /// IAA 2.0 header generation ([`HeaderGen`], needs IAACAP bit 8). One-pass generation
    /// needs no AECS: this clears RD_SRC2_AECS and the AECS address and size, as Linux
    /// `deflate-iaa-dynamic` submits it (op flags `0x10C`, compression flags `0x3006`).
    /// `HeaderGen::None` sets the field back to 0 (the AECS read stays as it is).
    pub fn header_gen(mut self, h: HeaderGen) -> Self {
        self.cflags = self.cflags.with_header_gen(h);
        if matches!(h, HeaderGen::OnePass { .. }) {
            self.flags = self.flags.without(OpFlags::RD_SRC2_AECS);
            self.aecs = 0;
            self.aecs_size = 0;
        }
        self
    }
    /// The descriptor.
    pub fn build(self) -> IaaDescriptor {
        let mut d = iaa_base(IaaOpcode::Compress, self.flags, self.completion);
        d.src1_addr = self.src;
        d.src1_size = self.src_len;
        d.dst_addr = self.dst;
        d.max_dst_size = self.dst_cap;
        d.src2_addr = self.aecs;
        d.src2_size = self.aecs_size;
        d.op_flags16 = self.cflags.0;
        d
    }
}

/// IAA compress in statistics mode: no output data, a 1280-byte literal/length + distance
/// histogram (286+2 and 30+2 u32 counters) written to `hist`, the first pass of a software
/// two-pass dynamic compression.
#[derive(Clone, Copy, Debug)]
pub struct IaaCompressStats {
    src: u64,
    src_len: u32,
    hist: u64,
    completion: u64,
    flags: OpFlags,
}

impl IaaCompressStats {
    /// Histogram of `src_len` bytes at `src` into the 1280 bytes at `hist`.
    pub fn new(src: u64, src_len: u32, hist: u64, completion: u64) -> Self {
        IaaCompressStats {
            src,
            src_len,
            hist,
            completion,
            flags: OpFlags::CRAV_RCR_CC,
        }
    }
    common_setters!();
    /// The descriptor.
    pub fn build(self) -> IaaDescriptor {
        let mut d = iaa_base(IaaOpcode::Compress, self.flags, self.completion);
        d.src1_addr = self.src;
        d.src1_size = self.src_len;
        d.dst_addr = self.hist;
        d.max_dst_size = HISTOGRAM_BYTES as u32;
        d.op_flags16 = CompressionFlags::STATS_MODE.0;
        d
    }
}

/// IAA decompress of a raw DEFLATE stream. Defaults: op flags CRAV|RCR|CC (`0x10C`),
/// decompression flags ENABLE|FLUSH_OUTPUT with stop-and-check at the final block's EOB (`0x1F`),
/// which accepts multi-block streams. Linux's single-block rule is `EobRule::StopAndCheckAnyEob`
/// (flags `0x0F`).
#[derive(Clone, Copy, Debug)]
pub struct IaaDecompress {
    src: u64,
    src_len: u32,
    dst: u64,
    dst_cap: u32,
    completion: u64,
    flags: OpFlags,
    dflags: DecompressionFlags,
    aecs: u64,
    aecs_size: u32,
}

impl IaaDecompress {
    /// Decompress `src_len` bytes at `src` into at most `dst_cap` bytes at `dst`.
    pub fn new(src: u64, src_len: u32, dst: u64, dst_cap: u32, completion: u64) -> Self {
        IaaDecompress {
            src,
            src_len,
            dst,
            dst_cap,
            completion,
            flags: OpFlags::CRAV_RCR_CC,
            dflags: DecompressionFlags(
                DecompressionFlags::ENABLE.0
                    | DecompressionFlags::FLUSH_OUTPUT.0
                    | EobRule::StopAndCheckFinalEob.bits(),
            ),
            aecs: 0,
            aecs_size: 0,
        }
    }
    common_setters!();
    /// Which EOB stops and/or is checked.
    pub fn eob_rule(mut self, rule: EobRule) -> Self {
        self.dflags = DecompressionFlags((self.dflags.0 & !0x1C) | rule.bits());
        self
    }
    /// Ignore the last `bits` bits of the input (0-7 on IAA 1.0; 8-15 use the 2.0 extension bit).
    pub fn ignore_end_bits(mut self, bits: u8) -> Self {
        let b = bits & 0xF;
        let mut f = self.dflags.0
            & !DecompressionFlags::IGNORE_END_BITS_MASK
            & !DecompressionFlags::IGNORE_END_BITS_EXT.0;
        f |= ((b as u16) & 7) << 6;
        if b >= 8 {
            f |= DecompressionFlags::IGNORE_END_BITS_EXT.0;
        }
        self.dflags = DecompressionFlags(f);
        self
    }
    /// Decode without writing output (verification: compare the record's CRC).
    pub fn suppress_output(mut self, on: bool) -> Self {
        self.dflags = if on {
            self.dflags.with(DecompressionFlags::SUPPRESS_OUTPUT)
        } else {
            self.dflags.without(DecompressionFlags::SUPPRESS_OUTPUT)
        };
        self
    }
    /// Report CRC-32C instead of CRC-32.
    pub fn crc32c(mut self, on: bool) -> Self {
        self.flags = set(self.flags, OpFlags::CRC_RFC3720, on);
        self
    }
    /// Flush all output (default on).
    pub fn flush(mut self, on: bool) -> Self {
        self.dflags = if on {
            self.dflags.with(DecompressionFlags::FLUSH_OUTPUT)
        } else {
            self.dflags.without(DecompressionFlags::FLUSH_OUTPUT)
        };
        self
    }
    /// Use a decompress AECS at `addr` of `size` bytes (x2 if written): `read` loads state from
    /// it, `write_on_overflow` saves state when the output overflows (continuation).
    pub fn aecs(mut self, addr: u64, size: u32, read: bool, write_on_overflow: bool) -> Self {
        self.aecs = addr;
        self.aecs_size = size;
        self.flags = set(self.flags, OpFlags::RD_SRC2_AECS, read);
        self.flags = set(self.flags, OpFlags::WR_SRC2_AECS_OVFL, write_on_overflow);
        self
    }
    /// The descriptor.
    pub fn build(self) -> IaaDescriptor {
        let mut d = iaa_base(IaaOpcode::Decompress, self.flags, self.completion);
        d.src1_addr = self.src;
        d.src1_size = self.src_len;
        d.dst_addr = self.dst;
        d.max_dst_size = self.dst_cap;
        d.op_flags16 = self.dflags.0;
        d.src2_addr = self.aecs;
        d.src2_size = self.aecs_size;
        d
    }
}

/// IAA CRC64 with a descriptor-supplied polynomial (result at record bytes 40-47).
#[derive(Clone, Copy, Debug)]
pub struct IaaCrc64 {
    src: u64,
    src_len: u32,
    poly: u64,
    completion: u64,
    flags: OpFlags,
    cflags: Crc64Flags,
}

impl IaaCrc64 {
    /// CRC64 of `src_len` bytes at `src` with polynomial `poly` (normal form, MSB = x^63).
    pub fn new(src: u64, src_len: u32, poly: u64, completion: u64) -> Self {
        IaaCrc64 {
            src,
            src_len,
            poly,
            completion,
            flags: OpFlags::CRAV_RCR_CC,
            cflags: Crc64Flags::EMPTY,
        }
    }
    common_setters!();
    /// Invert the CRC (initial value and result all ones).
    pub fn invert(mut self, on: bool) -> Self {
        self.cflags = if on {
            self.cflags.with(Crc64Flags::INVERT)
        } else {
            self.cflags.without(Crc64Flags::INVERT)
        };
        self
    }
    /// Most-significant-bit-first bit order.
    pub fn msb_first(mut self, on: bool) -> Self {
        self.cflags = if on {
            self.cflags.with(Crc64Flags::MSB_FIRST)
        } else {
            self.cflags.without(Crc64Flags::MSB_FIRST)
        };
        self
    }
    /// The descriptor.
    pub fn build(self) -> IaaDescriptor {
        let mut d = iaa_base(IaaOpcode::Crc64, self.flags, self.completion);
        d.src1_addr = self.src;
        d.src1_size = self.src_len;
        d.op_flags16 = self.cflags.0;
        d.set_crc64_poly(self.poly);
        d
    }
}

/// Builders of the operations that carry a source, a destination and a size in the same three
/// fields on IAA and DSA (bytes 16, 24, 32).
macro_rules! copy_like {
    ($(#[$m:meta])* $name:ident, $desc:ident, $base:ident, $op:expr, $flags:expr) => {
        $(#[$m])*
        #[derive(Clone, Copy, Debug)]
        pub struct $name {
            a1: u64,
            a2: u64,
            len: u32,
            completion: u64,
            flags: OpFlags,
        }
        impl $name {
            /// Required fields: first address, second address, size, completion record.
            pub fn new(a1: u64, a2: u64, len: u32, completion: u64) -> Self {
                $name { a1, a2, len, completion, flags: $flags }
            }
            common_setters!();
            /// The descriptor.
            pub fn build(self) -> $desc {
                let mut d = $base($op, self.flags, self.completion);
                copy_fields(&mut d, self.a1, self.a2, self.len);
                d
            }
        }
    };
}

trait CopyFields {
    fn set_copy(&mut self, a1: u64, a2: u64, len: u32);
}
impl CopyFields for IaaDescriptor {
    fn set_copy(&mut self, a1: u64, a2: u64, len: u32) {
        self.src1_addr = a1;
        self.dst_addr = a2;
        self.src1_size = len;
    }
}
impl CopyFields for DsaDescriptor {
    fn set_copy(&mut self, a1: u64, a2: u64, len: u32) {
        self.addr1 = a1;
        self.addr2 = a2;
        self.size = len;
    }
}
fn copy_fields<D: CopyFields>(d: &mut D, a1: u64, a2: u64, len: u32) {
    d.set_copy(a1, a2, len)
}

const DSA_DEFAULT: OpFlags = OpFlags(OpFlags::CRAV.0 | OpFlags::RCR.0);

copy_like!(
    /// IAA memmove: `new(src, dst, len, completion)`.
    IaaMemmove, IaaDescriptor, iaa_base, IaaOpcode::Memmove, OpFlags::CRAV_RCR_CC
);
copy_like!(
    /// DSA memmove: `new(src, dst, len, completion)`.
    DsaMemmove, DsaDescriptor, dsa_base, DsaOpcode::Memmove, DSA_DEFAULT
);
copy_like!(
    /// DSA fill: `new(pattern, dst, len, completion)`; the 8-byte pattern repeats.
    DsaFill, DsaDescriptor, dsa_base, DsaOpcode::Memfill, DSA_DEFAULT
);
/// DSA CRC-32C generation (`generate`) or copy with CRC-32C (`copy`), seeded with
/// [`DsaCrc::seed`] (default 0).
#[derive(Clone, Copy, Debug)]
pub struct DsaCrc {
    src: u64,
    dst: u64,
    len: u32,
    seed: u32,
    completion: u64,
    flags: OpFlags,
    op: DsaOpcode,
}

impl DsaCrc {
    /// CRC of `len` bytes at `src`.
    pub fn generate(src: u64, len: u32, completion: u64) -> Self {
        DsaCrc {
            src,
            dst: 0,
            len,
            seed: 0,
            completion,
            flags: DSA_DEFAULT,
            op: DsaOpcode::CrcGenerate,
        }
    }
    /// Copy `len` bytes from `src` to `dst` and compute their CRC.
    pub fn copy(src: u64, dst: u64, len: u32, completion: u64) -> Self {
        DsaCrc {
            dst,
            op: DsaOpcode::CopyCrc,
            ..Self::generate(src, len, completion)
        }
    }
    common_setters!();
    /// The CRC seed.
    pub fn seed(mut self, seed: u32) -> Self {
        self.seed = seed;
        self
    }
    /// The descriptor.
    pub fn build(self) -> DsaDescriptor {
        let mut d = dsa_base(self.op, self.flags, self.completion);
        copy_fields(&mut d, self.src, self.dst, self.len);
        d.set_crc_seed(self.seed);
        d
    }
}

/// DSA compare (`new(src1, src2, len, completion)`) or compare-pattern
/// (`pattern(pattern, src, len, completion)`); the record's `result` is 0 when equal.
#[derive(Clone, Copy, Debug)]
pub struct DsaCompare {
    a1: u64,
    a2: u64,
    len: u32,
    completion: u64,
    flags: OpFlags,
    op: DsaOpcode,
    expected: u8,
}

impl DsaCompare {
    /// Compare `len` bytes at `src1` and `src2`.
    pub fn new(src1: u64, src2: u64, len: u32, completion: u64) -> Self {
        DsaCompare {
            a1: src1,
            a2: src2,
            len,
            completion,
            flags: DSA_DEFAULT,
            op: DsaOpcode::Compare,
            expected: 0,
        }
    }
    /// Compare `len` bytes at `src` with the repeated 8-byte `pattern`.
    pub fn pattern(pattern: u64, src: u64, len: u32, completion: u64) -> Self {
        DsaCompare {
            op: DsaOpcode::CompareValue,
            ..Self::new(pattern, src, len, completion)
        }
    }
    common_setters!();
    /// Check the result against `expected` (CR flag): a mismatch completes with
    /// "success, predicate false".
    pub fn expect(mut self, expected: u8) -> Self {
        self.flags = self.flags.with(OpFlags::CR);
        self.expected = expected;
        self
    }
    /// The descriptor.
    pub fn build(self) -> DsaDescriptor {
        let mut d = dsa_base(self.op, self.flags, self.completion);
        copy_fields(&mut d, self.a1, self.a2, self.len);
        d.set_expected_res(self.expected);
        d
    }
}

/// DSA dualcast: copy `len` bytes from `src` to `dst1` and `dst2` (bits 11:0 of the two
/// destinations must be equal).
#[derive(Clone, Copy, Debug)]
pub struct DsaDualcast {
    src: u64,
    dst1: u64,
    dst2: u64,
    len: u32,
    completion: u64,
    flags: OpFlags,
}

impl DsaDualcast {
    /// Required fields.
    pub fn new(src: u64, dst1: u64, dst2: u64, len: u32, completion: u64) -> Self {
        DsaDualcast {
            src,
            dst1,
            dst2,
            len,
            completion,
            flags: DSA_DEFAULT,
        }
    }
    common_setters!();
    /// The descriptor.
    pub fn build(self) -> DsaDescriptor {
        let mut d = dsa_base(DsaOpcode::Dualcast, self.flags, self.completion);
        copy_fields(&mut d, self.src, self.dst1, self.len);
        d.set_dest2(self.dst2);
        d
    }
}

/// DSA batch: `count` descriptors in a 64-byte-aligned list at `list`.
#[derive(Clone, Copy, Debug)]
pub struct DsaBatch {
    list: u64,
    count: u32,
    completion: u64,
    flags: OpFlags,
}

impl DsaBatch {
    /// Required fields.
    pub fn new(list: u64, count: u32, completion: u64) -> Self {
        DsaBatch {
            list,
            count,
            completion,
            flags: DSA_DEFAULT,
        }
    }
    common_setters!();
    /// The descriptor.
    pub fn build(self) -> DsaDescriptor {
        let mut d = dsa_base(DsaOpcode::Batch, self.flags, self.completion);
        d.addr1 = self.list;
        d.size = self.count;
        d
    }
}

/// Operations that carry only a completion record (noop, drain).
macro_rules! record_only {
    ($(#[$m:meta])* $name:ident, $desc:ident, $base:ident, $op:expr, $flags:expr) => {
        $(#[$m])*
        #[derive(Clone, Copy, Debug)]
        pub struct $name {
            completion: u64,
            flags: OpFlags,
        }
        impl $name {
            /// Required field: the completion record address.
            pub fn new(completion: u64) -> Self {
                $name { completion, flags: $flags }
            }
            common_setters!();
            /// The descriptor.
            pub fn build(self) -> $desc {
                $base($op, self.flags, self.completion)
            }
        }
    };
}

record_only!(
    /// IAA no-op: writes a completion record (a liveness probe).
    IaaNoop, IaaDescriptor, iaa_base, IaaOpcode::Noop, OpFlags::CRAV_RCR_CC
);
record_only!(
    /// IAA drain: completes after earlier descriptors of the WQ.
    IaaDrain, IaaDescriptor, iaa_base, IaaOpcode::Drain, OpFlags::CRAV_RCR_CC
);
record_only!(
    /// DSA no-op.
    DsaNoop, DsaDescriptor, dsa_base, DsaOpcode::Noop, DSA_DEFAULT
);
record_only!(
    /// DSA drain.
    DsaDrain, DsaDescriptor, dsa_base, DsaOpcode::Drain, DSA_DEFAULT
);
