//! Executing one descriptor as the device would: validation in hardware order, then the
//! operation, giving the completion record to write (or none).

use bytemuck::Zeroable;
use iaa_descriptors::{
    AnalyticsError as AE, CompressAecs, CompressionFlags, Coverage, Crc64Flags, DecompressionFlags,
    DeviceCode, DsaCompletionRecord, DsaDescriptor, DsaOpcode, HeaderGen, Histogram, IaaCap,
    IaaCompletionRecord, IaaDescriptor, IaaOpcode, OpFlags, COMPRESS_AECS_SIZE,
};

use super::crc::{crc64, Crc32, Crc32Kind, Xor16};
use super::deflate::{self, DstSink, Inflated, RingSink, Scratch};
use super::dma;
use super::{DeviceKind, FaultKind, ModelConfig, ModelWqConfig};

/// Status codes the model writes (shared IAA/DSA numbering).
pub(crate) mod st {
    pub const SUCCESS: u8 = 0x01;
    pub const SUCCESS_PRED: u8 = 0x02;
    pub const PAGE_FAULT: u8 = 0x03;
    pub const WRITE_FAULT: u8 = 0x80;
    pub const BATCH_FAIL: u8 = 0x05;
    pub const ANALYTICS: u8 = 0x0A;
    pub const OUTBUF_OVERFLOW: u8 = 0x0B;
    pub const BAD_OPCODE: u8 = 0x10;
    pub const INVALID_FLAGS: u8 = 0x11;
    pub const RESERVED: u8 = 0x12;
    pub const XFER_SIZE: u8 = 0x13;
    pub const DESC_COUNT: u8 = 0x14;
    pub const OVERLAP: u8 = 0x16;
    pub const DUALCAST_ALIGN: u8 = 0x17;
    pub const DESC_LIST_ALIGN: u8 = 0x18;
    pub const CR_ALIGN: u8 = 0x1B;
    pub const ADDR_ALIGN: u8 = 0x1C;
    pub const HW_ERROR: u8 = 0x20;
    pub const TRANSLATION_FAIL: u8 = 0x22;
    pub const WATCHDOG: u8 = 0x24;
    pub const INVALID_OP_FLAGS16: u8 = 0x30;
    pub const INVALID_FILTER_FLAGS: u8 = 0x31;
}

/// A record to write: address, bytes (64 for IAA, 32 for DSA) and whether to write it at all.
pub(crate) struct Done {
    pub addr: u64,
    pub rec: [u8; 64],
    pub len: usize,
    pub write: bool,
}

impl Done {
    /// Commit the record to memory (all bytes, status last).
    pub(crate) fn commit(&self) -> bool {
        if !self.write {
            return false;
        }
        // SAFETY: the completion address is part of the descriptor; the DMA contract of
        // `WorkQueue::submit` makes it valid and reserved for the device until written.
        unsafe { dma::write_record(self.addr, &self.rec[..self.len]) }.is_ok()
    }
}

/// Operation flags every IAA/DSA opcode accepts.
const COMMON_FLAGS: u32 = OpFlags::BOF.0
    | OpFlags::CRAV.0
    | OpFlags::RCR.0
    | OpFlags::RCI.0
    | OpFlags::CC.0
    | OpFlags::ADDR1_TCS.0
    | OpFlags::ADDR2_TCS.0
    | OpFlags::ADDR3_TCS.0
    | OpFlags::CR_TCS.0
    | OpFlags::STORD.0
    | OpFlags::DRDBK.0;
/// IAA compress/decompress also accept the source-2 and CRC selection flags.
const IAA_CODEC_FLAGS: u32 =
    COMMON_FLAGS | 0x03_0000 | 0x0C_0000 | OpFlags::CRC_RFC3720.0 | OpFlags::AECS_RW_TGLS.0;
/// DSA: FENCE (batches) and check-result; bit 16 for CRC ops (read seed from address).
const DSA_FLAGS: u32 = COMMON_FLAGS | OpFlags::FENCE.0 | OpFlags::CR.0;
const DSA_CRC_SEED_ADDR: u32 = 0x1_0000;

/// Block on fault: with WQCFG.bof and the descriptor's BOF flag a page fault is resolved by the
/// host (page request) and the operation continues; only the time is lost.
fn resolve_bof(wq: &ModelWqConfig, f: OpFlags, fault: Option<FaultKind>) -> Option<FaultKind> {
    match fault {
        Some(FaultKind::PageFault { .. }) if wq.block_on_fault && f.contains(OpFlags::BOF) => None,
        other => other,
    }
}

fn record_wanted(flags: OpFlags, success: bool) -> bool {
    flags.contains(OpFlags::CRAV) && (flags.contains(OpFlags::RCR) || !success)
}

fn nonzero(b: &[u8]) -> bool {
    b.iter().any(|&x| x != 0)
}

fn overlaps(a: u64, alen: u64, b: u64, blen: u64) -> bool {
    alen > 0 && blen > 0 && a < b.saturating_add(blen) && b < a.saturating_add(alen)
}

/// Execute one descriptor of a device of `cfg.kind` on WQ `wq`.
pub(crate) fn execute(
    cfg: &ModelConfig,
    wq: &ModelWqConfig,
    desc: &[u8; 64],
    fault: Option<FaultKind>,
    s: &mut Scratch,
) -> Done {
    match cfg.kind {
        DeviceKind::Iaa => {
            let d = IaaDescriptor::from_bytes(desc);
            let mut rec = iaa(cfg, wq, &d, fault, s);
            if cfg.skew_bytes_completed
                && d.opcode() == IaaOpcode::Decompress as u8
                && rec.status == st::SUCCESS
            {
                // A device that disagrees with the spec (`iaa selftest` must name it).
                rec.bytes_completed = rec.bytes_completed.saturating_sub(1);
            }
            let ok = rec.status == st::SUCCESS;
            let mut out = [0u8; 64];
            out.copy_from_slice(bytemuck::bytes_of(&rec));
            Done {
                addr: d.completion_addr,
                rec: out,
                len: 64,
                write: record_wanted(d.op_flags(), ok),
            }
        }
        DeviceKind::Dsa => {
            let d = DsaDescriptor::from_bytes(desc);
            let rec = dsa(cfg, wq, &d, fault, false);
            let ok = matches!(rec.status, st::SUCCESS | st::SUCCESS_PRED);
            let mut out = [0u8; 64];
            out[..32].copy_from_slice(bytemuck::bytes_of(&rec));
            Done {
                addr: d.completion_addr,
                rec: out,
                len: 32,
                write: record_wanted(d.op_flags(), ok),
            }
        }
    }
}

/// Bytes an operation moves (for the latency model).
pub(crate) fn work_bytes(kind: DeviceKind, desc: &[u8; 64]) -> u64 {
    let size = u32::from_le_bytes([desc[32], desc[33], desc[34], desc[35]]) as u64;
    match (kind, desc[7]) {
        (_, 0x00) | (_, 0x02) => 0,
        (DeviceKind::Dsa, 0x01) => 0,
        _ => size,
    }
}

// ---------------------------------------------------------------------------------------------
// IAA

struct Reject {
    status: u8,
    invalid_flags: u32,
}

fn reject(status: u8) -> Reject {
    Reject {
        status,
        invalid_flags: 0,
    }
}

fn iaa_validate(
    cfg: &ModelConfig,
    wq: &ModelWqConfig,
    d: &IaaDescriptor,
) -> Result<IaaOpcode, Reject> {
    let b = d.as_bytes();
    let op = match IaaOpcode::from_u8(d.opcode()) {
        Some(op) if cfg.opcap.supports(d.opcode()) && super::IAA_MODELLED.contains(&op) => op,
        _ => return Err(reject(st::BAD_OPCODE)),
    };
    if d.header_reserved() != 0 {
        return Err(reject(st::RESERVED));
    }
    let flags = d.flags_opcode & OpFlags::FIELD_MASK;
    let valid = match op {
        IaaOpcode::Compress | IaaOpcode::Decompress => IAA_CODEC_FLAGS,
        _ => COMMON_FLAGS,
    };
    let mut invalid = flags & !valid;
    let rd = (flags >> 16) & 3;
    let wr = (flags >> 18) & 3;
    if matches!(op, IaaOpcode::Compress | IaaOpcode::Decompress) {
        if rd >= 2 {
            invalid |= flags & 0x03_0000;
        }
        if wr == 3 {
            invalid |= flags & 0x0C_0000;
        }
    }
    if invalid != 0 {
        return Err(Reject {
            status: st::INVALID_FLAGS,
            invalid_flags: invalid,
        });
    }
    let f = d.op_flags();
    if f.contains(OpFlags::CRAV) && !d.completion_addr.is_multiple_of(64) {
        return Err(reject(st::CR_ALIGN));
    }
    let int_ok = |b: &[u8]| !nonzero(b) || f.contains(OpFlags::RCI);
    let reserved_bad = match op {
        IaaOpcode::Noop | IaaOpcode::Drain => {
            nonzero(&b[16..36]) || nonzero(&b[38..64]) || !int_ok(&b[36..38])
        }
        IaaOpcode::Memmove => nonzero(&b[38..64]),
        IaaOpcode::Compress => nonzero(&b[56..64]),
        IaaOpcode::Decompress => nonzero(&b[60..64]),
        IaaOpcode::Crc64 => nonzero(&b[24..32]) || nonzero(&b[40..56]),
        _ => false,
    };
    if reserved_bad {
        return Err(reject(st::RESERVED));
    }
    let max = wq.max_transfer as u64;
    let has_dst = matches!(op, IaaOpcode::Compress | IaaOpcode::Decompress);
    if d.src1_size as u64 > max || (has_dst && d.max_dst_size as u64 > max) {
        return Err(reject(st::XFER_SIZE));
    }
    if has_dst
        && (rd == 1 || wr != 0)
        && (!d.src2_addr.is_multiple_of(32) || !d.src2_size.is_multiple_of(32))
    {
        return Err(reject(st::ADDR_ALIGN));
    }
    match op {
        IaaOpcode::Compress => {
            let cf = CompressionFlags(d.op_flags16);
            let bad = CompressionFlags::RESERVED_MASK
                | CompressionFlags::COMPRESS_BE.0
                | CompressionFlags::INDEXING_MASK
                | CompressionFlags::LOAD_DICT_MASK;
            // Header generation: one pass only, and only on a device with IAACAP.header_gen
            // (IAA 2.0); an IAA 1.0 rejects the field as it does today.
            let hg_ok = match cf.header_gen() {
                HeaderGen::None => true,
                HeaderGen::OnePass { .. } => {
                    IaaCap(cfg.iaa_cap).contains(IaaCap::HEADER_GEN)
                        && !cf.contains(CompressionFlags::STATS_MODE)
                        && !cf.contains(CompressionFlags::GEN_LITERALS)
                }
                HeaderGen::TwoPass { .. } | HeaderGen::Reserved(_) => false,
            };
            if cf.0 & bad != 0 || !hg_ok {
                return Err(reject(st::INVALID_OP_FLAGS16));
            }
        }
        IaaOpcode::Decompress => {
            let df = DecompressionFlags(d.op_flags16);
            let bad = DecompressionFlags::RESERVED_MASK
                | DecompressionFlags::BIT_ORDER_BE.0
                | DecompressionFlags::INDEXING_MASK;
            if df.0 & bad != 0 || !df.contains(DecompressionFlags::ENABLE) {
                return Err(reject(st::INVALID_OP_FLAGS16));
            }
            if d.filter_flags != 0 {
                return Err(reject(st::INVALID_FILTER_FLAGS));
            }
        }
        IaaOpcode::Crc64
            if d.op_flags16 & !(Crc64Flags::INVERT.0 | Crc64Flags::MSB_FIRST.0) != 0 =>
        {
            return Err(reject(st::INVALID_OP_FLAGS16));
        }
        IaaOpcode::Memmove | IaaOpcode::Noop | IaaOpcode::Drain => {}
        _ => {}
    }
    if has_dst {
        let (s, sl, t, tl) = (
            d.src1_addr,
            d.src1_size as u64,
            d.dst_addr,
            d.max_dst_size as u64,
        );
        let suppress = op == IaaOpcode::Decompress
            && DecompressionFlags(d.op_flags16).contains(DecompressionFlags::SUPPRESS_OUTPUT);
        let aecs_len = if rd == 1 || wr != 0 {
            d.src2_size as u64 * 2
        } else {
            0
        };
        if (!suppress && overlaps(s, sl, t, tl))
            || overlaps(s, sl, d.src2_addr, aecs_len)
            || (!suppress && overlaps(t, tl, d.src2_addr, aecs_len))
        {
            return Err(reject(st::OVERLAP));
        }
    }
    Ok(op)
}

fn analytics(rec: &mut IaaCompletionRecord, e: AE) {
    rec.status = st::ANALYTICS;
    rec.error_code = e as u8;
}

fn iaa(
    cfg: &ModelConfig,
    wq: &ModelWqConfig,
    d: &IaaDescriptor,
    fault: Option<FaultKind>,
    s: &mut Scratch,
) -> IaaCompletionRecord {
    let mut rec = IaaCompletionRecord::zeroed();
    let op = match iaa_validate(cfg, wq, d) {
        Ok(op) => op,
        Err(r) => {
            rec.status = r.status;
            rec.invalid_flags = r.invalid_flags;
            return rec;
        }
    };
    let fault = resolve_bof(wq, d.op_flags(), fault);
    match fault {
        Some(FaultKind::HardwareError) => {
            rec.status = st::HW_ERROR;
            return rec;
        }
        Some(FaultKind::Watchdog) => {
            rec.status = st::WATCHDOG;
            return rec;
        }
        Some(FaultKind::PageFault { write }) => {
            // IAA: no partial completion; the whole descriptor must be resubmitted.
            rec.status = st::PAGE_FAULT | if write { st::WRITE_FAULT } else { 0 };
            rec.fault_addr = if write { d.dst_addr } else { d.src1_addr };
            return rec;
        }
        _ => {}
    }
    let overflow_fault = fault == Some(FaultKind::OutputOverflow);
    match op {
        IaaOpcode::Noop | IaaOpcode::Drain => rec.status = st::SUCCESS,
        IaaOpcode::Memmove => {
            // SAFETY: DMA contract (module dma).
            match unsafe { dma::copy(d.src1_addr, d.dst_addr, d.src1_size as usize) } {
                Ok(()) => {
                    rec.status = st::SUCCESS;
                    rec.bytes_completed = d.src1_size;
                    rec.output_size = d.src1_size;
                }
                Err(_) => rec.status = st::TRANSLATION_FAIL,
            }
        }
        IaaOpcode::Crc64 => {
            // SAFETY: DMA contract (module dma).
            match unsafe { dma::src(d.src1_addr, d.src1_size as usize) } {
                Ok(src) => {
                    let f = Crc64Flags(d.op_flags16);
                    let v = crc64(
                        d.crc64_poly(),
                        f.contains(Crc64Flags::MSB_FIRST),
                        f.contains(Crc64Flags::INVERT),
                        src,
                    );
                    rec.set_crc64(v);
                    rec.status = st::SUCCESS;
                    rec.bytes_completed = d.src1_size;
                }
                Err(_) => rec.status = st::TRANSLATION_FAIL,
            }
        }
        IaaOpcode::Compress => compress(d, s, overflow_fault, &mut rec),
        IaaOpcode::Decompress => decompress(d, s, overflow_fault, &mut rec),
        _ => rec.status = st::BAD_OPCODE,
    }
    rec
}

fn crc_kind(d: &IaaDescriptor) -> Crc32Kind {
    if d.op_flags().contains(OpFlags::CRC_RFC3720) {
        Crc32Kind::Castagnoli
    } else {
        Crc32Kind::Gzip
    }
}

/// Read the job's source into the scratch buffer, then run `job` on it; an unreadable source
/// completes as the device's read page fault (or a translation failure for a bad range).
fn with_source(
    d: &IaaDescriptor,
    s: &mut Scratch,
    rec: &mut IaaCompletionRecord,
    job: impl FnOnce(&[u8], &mut Scratch, &mut IaaCompletionRecord),
) {
    let mut input = std::mem::take(&mut s.input);
    match dma::read_into(d.src1_addr, d.src1_size as usize, &mut input) {
        Ok(()) => job(&input, s, rec),
        Err(dma::ReadError::Fault(at)) => {
            rec.status = st::PAGE_FAULT;
            rec.fault_addr = at;
        }
        Err(dma::ReadError::BadRange) => rec.status = st::TRANSLATION_FAIL,
    }
    s.input = input;
}

fn compress(
    d: &IaaDescriptor,
    s: &mut Scratch,
    overflow_fault: bool,
    rec: &mut IaaCompletionRecord,
) {
    with_source(d, s, rec, |src, s, rec| {
        compress_src(d, src, s, overflow_fault, rec)
    })
}

fn compress_src(
    d: &IaaDescriptor,
    src: &[u8],
    s: &mut Scratch,
    overflow_fault: bool,
    rec: &mut IaaCompletionRecord,
) {
    let cf = CompressionFlags(d.op_flags16);
    let flags = d.op_flags();
    // SAFETY: DMA contract; the destination is not the source (validated, 0x16).
    let Ok(dst) = (unsafe { dma::dst(d.dst_addr, d.max_dst_size as usize) }) else {
        rec.status = st::TRANSLATION_FAIL;
        return;
    };
    if overflow_fault {
        analytics(rec, AE::UnrecoverableOutputOverflow);
        return;
    }
    if cf.contains(CompressionFlags::STATS_MODE) {
        match deflate::histogram(src, dst, cf, s) {
            Ok(n) => {
                rec.status = st::SUCCESS;
                rec.output_size = n as u32;
                rec.bytes_completed = d.src1_size;
            }
            Err(e) => analytics(rec, e),
        }
        return;
    }
    let rd = (flags.0 >> 16) & 3;
    let header_gen = cf.header_gen();
    let generate = matches!(header_gen, HeaderGen::OnePass { .. });
    // One-pass header generation needs no AECS (Linux submits it without one); with one, its
    // seeds are used and its code tables and accumulator are not.
    if (rd != 1 && !generate) || (rd == 1 && d.src2_size < COMPRESS_AECS_SIZE) {
        analytics(rec, AE::InvalidAecs);
        return;
    }
    let toggle = flags.contains(OpFlags::AECS_RW_TGLS);
    let read_at = d.src2_addr + if toggle { d.src2_size as u64 } else { 0 };
    let write_at = d.src2_addr + if toggle { 0 } else { d.src2_size as u64 };
    let mut aecs = if rd == 1 {
        // SAFETY: DMA contract: the AECS (x2 when written) is valid for the device.
        match unsafe { dma::read_pod::<CompressAecs>(read_at) } {
            Ok(a) => a,
            Err(_) => {
                rec.status = st::TRANSLATION_FAIL;
                return;
            }
        }
    } else {
        CompressAecs::zeroed()
    };
    if let HeaderGen::OnePass { bfinal } = header_gen {
        generated_code(src, cf, bfinal, &mut aecs, s);
    }
    let mut crc = Crc32::new(crc_kind(d), aecs.crc);
    crc.update(src);
    let mut xor = Xor16::new(aecs.xor_checksum as u16);
    xor.update(src);
    let write_aecs = flags.contains(OpFlags::WR_SRC2_AECS_COMP);
    match deflate::compress(src, dst, &aecs, cf, write_aecs, s) {
        Ok(c) => {
            rec.status = st::SUCCESS;
            rec.output_size = c.bytes as u32;
            // With the AECS written and no flush, the bits after the last whole byte go to
            // the output accumulator of the written AECS (the next job starts with them).
            rec.output_bits = if c.tail.1 > 0 { 0 } else { c.last_bits };
            rec.bytes_completed = d.src1_size;
            rec.crc = crc.value();
            rec.xor_csum = xor.value();
            if write_aecs {
                let mut out = aecs;
                out.crc = rec.crc;
                out.xor_checksum = rec.xor_csum as u32;
                out.output_accum = [0; 256];
                out.output_accum[0] = c.tail.0;
                out.num_output_accum_bits = c.tail.1 as u32;
                // SAFETY: DMA contract (second AECS half).
                if unsafe { dma::write_pod(write_at, &out) }.is_err() {
                    rec.status = st::TRANSLATION_FAIL;
                }
            }
        }
        Err(e) => analytics(rec, e),
    }
}

/// IAA 2.0 one-pass header generation as the model does it: the statistics of this input (the
/// same LZ77 as the compress pass that follows, and the EOB end processing appends), a code
/// built from them ([`DeviceCode::from_histogram`], the same builder the driver uses for the
/// two-pass mode), its tables and header (BFINAL from the field) in `aecs`. A header that
/// would not fit the accumulator (never for real data) falls back to the fixed code.
fn generated_code(
    src: &[u8],
    cf: CompressionFlags,
    bfinal: bool,
    aecs: &mut CompressAecs,
    s: &mut Scratch,
) {
    let mut hist = Histogram::new();
    deflate::count_tokens(src, cf, s, &mut hist);
    match DeviceCode::from_histogram(&hist, Coverage::Observed) {
        Ok(code) => code.write_aecs(aecs, bfinal),
        Err(_) => {
            let f = CompressAecs::fixed();
            aecs.ll_sym = f.ll_sym;
            aecs.d_sym = f.d_sym;
            aecs.output_accum = f.output_accum;
            aecs.output_accum[0] = (aecs.output_accum[0] & !1) | bfinal as u8;
            aecs.num_output_accum_bits = f.num_output_accum_bits;
        }
    }
}

fn decompress(
    d: &IaaDescriptor,
    s: &mut Scratch,
    overflow_fault: bool,
    rec: &mut IaaCompletionRecord,
) {
    if (d.op_flags().0 >> 16) & 3 == 1 {
        // The model keeps no decoder state in an AECS (documented gap).
        analytics(rec, AE::InvalidAecs);
        return;
    }
    with_source(d, s, rec, |src, s, rec| {
        decompress_src(d, src, s, overflow_fault, rec)
    })
}

fn decompress_src(
    d: &IaaDescriptor,
    src: &[u8],
    s: &mut Scratch,
    overflow_fault: bool,
    rec: &mut IaaCompletionRecord,
) {
    let df = DecompressionFlags(d.op_flags16);
    let rule = df.eob_rule();
    let ieb = df.ignore_end_bits();
    let kind = crc_kind(d);
    let (res, n, crc, xor) = if df.contains(DecompressionFlags::SUPPRESS_OUTPUT) {
        let mut sink = RingSink::new(s, Crc32::new(kind, 0), Xor16::new(0));
        let r = deflate::inflate(src, ieb, rule, &mut sink);
        (r, 0, sink.crc.value(), sink.xor.value())
    } else {
        // SAFETY: DMA contract; no overlap with src (validated, 0x16).
        let Ok(dst) = (unsafe { dma::dst(d.dst_addr, d.max_dst_size as usize) }) else {
            rec.status = st::TRANSLATION_FAIL;
            return;
        };
        let mut cap = dst.len();
        let mut r;
        let mut n;
        loop {
            let mut sink = DstSink {
                buf: &mut dst[..cap],
                n: 0,
            };
            r = deflate::inflate(src, ieb, rule, &mut sink);
            n = sink.n;
            // An injected overflow: the same job with a destination one byte short.
            if overflow_fault && matches!(r, Inflated::Done { .. }) && n > 0 && cap >= n {
                cap = n - 1;
                continue;
            }
            break;
        }
        let mut c = Crc32::new(kind, 0);
        c.update(&dst[..n]);
        let mut x = Xor16::new(0);
        x.update(&dst[..n]);
        (r, n, c.value(), x.value())
    };
    rec.output_size = n as u32;
    rec.crc = crc;
    rec.xor_csum = xor;
    match res {
        Inflated::Done { consumed } => {
            rec.status = st::SUCCESS;
            rec.bytes_completed = consumed as u32;
        }
        Inflated::Overflow { consumed } => {
            rec.status = st::OUTBUF_OVERFLOW;
            rec.bytes_completed = consumed as u32;
        }
        Inflated::Error(e) => analytics(rec, e),
    }
}

// ---------------------------------------------------------------------------------------------
// DSA

fn dsa_validate(
    cfg: &ModelConfig,
    wq: &ModelWqConfig,
    d: &DsaDescriptor,
    in_batch: bool,
) -> Result<DsaOpcode, Reject> {
    let b = d.as_bytes();
    let op = match DsaOpcode::from_u8(d.opcode()) {
        Some(op) if cfg.opcap.supports(d.opcode()) && super::DSA_MODELLED.contains(&op) => op,
        _ => return Err(reject(st::BAD_OPCODE)),
    };
    if in_batch && op == DsaOpcode::Batch {
        return Err(reject(st::BAD_OPCODE));
    }
    if d.header_reserved() != 0 {
        return Err(reject(st::RESERVED));
    }
    let flags = d.flags_opcode & OpFlags::FIELD_MASK;
    let valid = match op {
        DsaOpcode::CrcGenerate | DsaOpcode::CopyCrc => DSA_FLAGS | DSA_CRC_SEED_ADDR,
        _ => DSA_FLAGS,
    };
    if flags & !valid != 0 {
        return Err(Reject {
            status: st::INVALID_FLAGS,
            invalid_flags: flags & !valid,
        });
    }
    if d.op_flags().contains(OpFlags::CRAV) && !d.completion_addr.is_multiple_of(32) {
        return Err(reject(st::CR_ALIGN));
    }
    let reserved_bad = nonzero(&b[38..40])
        || match op {
            DsaOpcode::Noop => nonzero(&b[16..36]) || nonzero(&b[40..64]),
            DsaOpcode::Drain => nonzero(&b[32..36]) || nonzero(&b[40..64]),
            DsaOpcode::Batch => nonzero(&b[24..32]) || nonzero(&b[40..64]),
            DsaOpcode::Memmove | DsaOpcode::Memfill => nonzero(&b[40..64]),
            DsaOpcode::Compare | DsaOpcode::CompareValue => nonzero(&b[41..64]),
            DsaOpcode::Dualcast => nonzero(&b[48..64]),
            DsaOpcode::CrcGenerate => {
                nonzero(&b[24..32]) || nonzero(&b[44..48]) || nonzero(&b[56..64])
            }
            DsaOpcode::CopyCrc => nonzero(&b[44..48]) || nonzero(&b[56..64]),
            _ => false,
        };
    if reserved_bad {
        return Err(reject(st::RESERVED));
    }
    match op {
        DsaOpcode::Batch => {
            if !d.addr1.is_multiple_of(64) {
                return Err(reject(st::DESC_LIST_ALIGN));
            }
            if d.size == 0 || d.size > cfg.max_batch {
                return Err(reject(st::DESC_COUNT));
            }
        }
        DsaOpcode::Noop | DsaOpcode::Drain => {}
        _ => {
            if d.size > wq.max_transfer {
                return Err(reject(st::XFER_SIZE));
            }
        }
    }
    if op == DsaOpcode::Dualcast {
        if d.addr2 & 0xFFF != d.dest2() & 0xFFF {
            return Err(reject(st::DUALCAST_ALIGN));
        }
        let n = d.size as u64;
        if overlaps(d.addr1, n, d.addr2, n)
            || overlaps(d.addr1, n, d.dest2(), n)
            || overlaps(d.addr2, n, d.dest2(), n)
        {
            return Err(reject(st::OVERLAP));
        }
    }
    if op == DsaOpcode::CopyCrc && overlaps(d.addr1, d.size as u64, d.addr2, d.size as u64) {
        return Err(reject(st::OVERLAP));
    }
    Ok(op)
}

fn dsa(
    cfg: &ModelConfig,
    wq: &ModelWqConfig,
    d: &DsaDescriptor,
    fault: Option<FaultKind>,
    in_batch: bool,
) -> DsaCompletionRecord {
    let mut rec = DsaCompletionRecord::zeroed();
    let op = match dsa_validate(cfg, wq, d, in_batch) {
        Ok(op) => op,
        Err(r) => {
            rec.status = r.status;
            rec.set_invalid_flags(r.invalid_flags);
            return rec;
        }
    };
    let n = d.size as usize;
    let fault = resolve_bof(wq, d.op_flags(), fault);
    match fault {
        Some(FaultKind::HardwareError) => {
            rec.status = st::HW_ERROR;
            return rec;
        }
        Some(FaultKind::Watchdog) => {
            rec.status = st::WATCHDOG;
            return rec;
        }
        Some(FaultKind::PageFault { write }) => {
            // DSA completes partially: the first half is done, the fault is at the next byte.
            let half = n / 2;
            if matches!(op, DsaOpcode::Memmove) {
                // SAFETY: DMA contract; a prefix of the described ranges.
                if unsafe { dma::copy(d.addr1, d.addr2, half) }.is_err() {
                    rec.status = st::TRANSLATION_FAIL;
                    return rec;
                }
                rec.bytes_completed = half as u32;
            }
            rec.status = st::PAGE_FAULT | if write { st::WRITE_FAULT } else { 0 };
            let base = if write { d.addr2 } else { d.addr1 };
            rec.fault_addr = base + rec.bytes_completed as u64;
            return rec;
        }
        _ => {}
    }
    rec.status = st::SUCCESS;
    let xl = st::TRANSLATION_FAIL;
    match op {
        DsaOpcode::Noop | DsaOpcode::Drain => {}
        DsaOpcode::Memmove => {
            // SAFETY: DMA contract; overlap is allowed (memmove).
            if unsafe { dma::copy(d.addr1, d.addr2, n) }.is_err() {
                rec.status = xl;
            }
            rec.bytes_completed = 0;
        }
        DsaOpcode::Memfill => {
            let pat = d.addr1.to_le_bytes();
            // SAFETY: DMA contract.
            match unsafe { dma::dst(d.addr2, n) } {
                Ok(dst) => {
                    for (i, b) in dst.iter_mut().enumerate() {
                        *b = pat[i % 8];
                    }
                }
                Err(_) => rec.status = xl,
            }
        }
        DsaOpcode::Compare | DsaOpcode::CompareValue => {
            let pat = d.addr1.to_le_bytes();
            // SAFETY: DMA contract; both ranges are only read.
            let r = unsafe {
                if op == DsaOpcode::Compare {
                    dma::src(d.addr1, n).and_then(|a| dma::src(d.addr2, n).map(|b| (a, b)))
                } else {
                    dma::src(d.addr2, n).map(|b| (&[][..], b))
                }
            };
            match r {
                Ok((a, b)) => {
                    let first = if op == DsaOpcode::Compare {
                        a.iter().zip(b).position(|(x, y)| x != y)
                    } else {
                        b.iter().enumerate().position(|(i, y)| *y != pat[i % 8])
                    };
                    rec.result = first.is_some() as u8;
                    rec.bytes_completed = first.unwrap_or(0) as u32;
                    if d.op_flags().contains(OpFlags::CR) && rec.result != d.expected_res() {
                        rec.status = st::SUCCESS_PRED;
                    }
                }
                Err(_) => rec.status = xl,
            }
        }
        DsaOpcode::Dualcast => {
            // SAFETY: DMA contract; the three ranges do not overlap (validated).
            let ok = unsafe {
                dma::copy(d.addr1, d.addr2, n).and_then(|_| dma::copy(d.addr1, d.dest2(), n))
            };
            if ok.is_err() {
                rec.status = xl;
            }
        }
        DsaOpcode::CrcGenerate | DsaOpcode::CopyCrc => {
            let seed = if d.flags_opcode & DSA_CRC_SEED_ADDR != 0 {
                // SAFETY: DMA contract: the seed address is part of the descriptor.
                match unsafe { dma::read_pod::<u32>(d.seed_addr()) } {
                    Ok(v) => v,
                    Err(_) => {
                        rec.status = xl;
                        return rec;
                    }
                }
            } else {
                d.crc_seed()
            };
            // SAFETY: DMA contract.
            match unsafe { dma::src(d.addr1, n) } {
                Ok(src) => {
                    let mut c = Crc32::new(Crc32Kind::Castagnoli, seed);
                    c.update(src);
                    // A device that disagrees with the library (`iaa selftest` must say so).
                    rec.set_crc_val((c.value() ^ u32::from(cfg.skew_crc32c)) as u64);
                    if op == DsaOpcode::CopyCrc {
                        // SAFETY: DMA contract; no overlap (validated).
                        if unsafe { dma::copy(d.addr1, d.addr2, n) }.is_err() {
                            rec.status = xl;
                        }
                    }
                }
                Err(_) => rec.status = xl,
            }
        }
        DsaOpcode::Batch => {
            let mut failed = false;
            let mut done = 0u32;
            for i in 0..d.size as u64 {
                // SAFETY: DMA contract: the list holds `size` descriptors.
                let Ok(sub) = (unsafe { dma::read_pod::<[u8; 64]>(d.addr1 + i * 64) }) else {
                    rec.status = 0x06; // page fault reading the batch list
                    rec.bytes_completed = done;
                    return rec;
                };
                let sd = DsaDescriptor::from_bytes(&sub);
                let r = dsa(cfg, wq, &sd, None, true);
                let ok = matches!(r.status, st::SUCCESS | st::SUCCESS_PRED);
                failed |= !ok;
                if record_wanted(sd.op_flags(), ok) {
                    // SAFETY: DMA contract of the sub-descriptor's record.
                    let _ =
                        unsafe { dma::write_record(sd.completion_addr, bytemuck::bytes_of(&r)) };
                }
                done += 1;
            }
            rec.bytes_completed = done;
            if failed {
                rec.status = st::BATCH_FAIL;
            }
        }
        _ => rec.status = st::BAD_OPCODE,
    }
    rec
}
