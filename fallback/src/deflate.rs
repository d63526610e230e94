//! Raw-DEFLATE encoder whose back-references stay within IAA's 4 KiB window.

use crate::huffman::{assign_codes, build_lengths};
use crate::lz77::CL_ORDER;
use crate::lz77::{
    max_seqs, Freqs, Matcher, Seq, DEFAULT_MAX_UNIT, DIST_BASE, DIST_EXTRA, LEN_BASE, LEN_EXTRA,
};
use crate::variant::Variant;
use crate::{FallbackError, Level};

/// Result of [`Compressor::compress`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CompressOutcome {
    /// Compressed into this many bytes of `dst` (always fewer than the input).
    Compressed(usize),
    /// The output would not be smaller than the input: store the unit raw.
    Incompressible,
}

/// A `dst` of this size never makes [`Compressor::compress`] fail.
pub fn max_compressed_len(src_len: usize) -> usize {
    // Stored blocks: 5 bytes per 65535 plus one final empty marker, plus slack for the
    // fast bit writer.
    src_len + 5 * (src_len / 65535 + 2) + 16
}

/// LSB-first bit writer with a 64-bit accumulator. Counts the would-be length past the end
/// of `buf` instead of failing.
struct BitWriter<'a> {
    buf: &'a mut [u8],
    pos: usize,
    acc: u64,
    cnt: u32,
}

impl<'a> BitWriter<'a> {
    fn new(buf: &'a mut [u8]) -> Self {
        BitWriter {
            buf,
            pos: 0,
            acc: 0,
            cnt: 0,
        }
    }

    /// Append `n` bits (`bits` has nothing above bit n). Keep `cnt + n <= 64` between flushes.
    #[inline(always)]
    fn put(&mut self, bits: u64, n: u32) {
        self.acc |= bits << self.cnt;
        self.cnt += n;
    }

    /// Write out whole bytes; afterwards at most 7 bits are pending. Needs `cnt < 64`.
    #[inline(always)]
    fn flush(&mut self) {
        debug_assert!(self.cnt < 64);
        let nb = (self.cnt >> 3) as usize;
        if let Some(d) = self.buf.get_mut(self.pos..self.pos + 8) {
            d.copy_from_slice(&self.acc.to_le_bytes());
            self.pos += nb;
            self.acc >>= nb * 8;
            self.cnt &= 7;
        } else {
            (self.pos, self.acc, self.cnt) = flush_slow(self.buf, self.pos, self.acc, self.cnt);
        }
    }

    /// Flush byte by byte (end of output, headers).
    fn flush_slow(&mut self) {
        (self.pos, self.acc, self.cnt) = flush_slow(self.buf, self.pos, self.acc, self.cnt);
    }

    /// Pad to a byte boundary with zero bits and flush.
    fn align(&mut self) {
        if self.cnt & 7 != 0 {
            self.cnt += 8 - (self.cnt & 7);
        }
        self.flush_slow();
    }

    /// Bits written so far (including pending ones).
    fn bits(&self) -> u64 {
        self.pos as u64 * 8 + self.cnt as u64
    }

    /// Copy raw bytes (writer must be aligned).
    fn copy(&mut self, data: &[u8]) {
        debug_assert_eq!(self.cnt, 0);
        if let Some(d) = self.buf.get_mut(self.pos..self.pos + data.len()) {
            d.copy_from_slice(data);
        }
        self.pos += data.len();
    }
}

/// Byte-wise flush near the end of `buf`; bytes past its end are counted, not written.
#[cold]
#[inline(never)]
fn flush_slow(buf: &mut [u8], mut pos: usize, mut acc: u64, mut cnt: u32) -> (usize, u64, u32) {
    while cnt >= 8 {
        if let Some(b) = buf.get_mut(pos) {
            *b = acc as u8;
        }
        pos += 1;
        acc >>= 8;
        cnt -= 8;
    }
    (pos, acc, cnt)
}

/// Extra bits of each code-length symbol (16: 2, 17: 3, 18: 7).
const CL_EXTRA: [u8; 19] = [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2, 3, 7];

/// What a second dynamic header costs, in 1/256 bit, for the decision to write two parse
/// blocks as one DEFLATE block (~90 bytes: 17 header bits, the code-length code and ~170
/// code-length symbols).
const HEADER_BITS256: u64 = 90 * 8 * 256;

/// Two parse blocks are also written as one when that is estimated at most 1/`MERGE_SLACK`
/// larger than two blocks: measured at 64 KiB units, a slack of 1 % keeps the ratio of the
/// exact choice within 0.004 on every file kind of `bench/other-data.sh` while fewer units are
/// split (a split unit's first block is walked by the strict decoder).
const MERGE_SLACK: u64 = 100;

/// Huffman tables of one block.
struct Codes {
    ll_lens: [u8; 288],
    ll_codes: [u16; 288],
    d_lens: [u8; 32],
    d_codes: [u16; 32],
}

impl Codes {
    fn fixed() -> Self {
        let mut c = Codes {
            ll_lens: [0; 288],
            ll_codes: [0; 288],
            d_lens: [5; 32],
            d_codes: [0; 32],
        };
        for (s, l) in c.ll_lens.iter_mut().enumerate() {
            *l = match s {
                0..=143 => 8,
                144..=255 => 9,
                256..=279 => 7,
                _ => 8,
            };
        }
        assign_codes(&c.ll_lens, &mut c.ll_codes);
        assign_codes(&c.d_lens, &mut c.d_codes);
        c
    }
}

/// Reusable DEFLATE compressor (4 KiB window). All memory is allocated in [`Compressor::new`].
pub struct Compressor {
    /// The code this compressor runs (portable, or compiled for a CPU extension).
    variant: Variant,
    matcher: Matcher,
    seqs: Box<[Seq]>,
    freqs: Box<Freqs>,
    /// The histogram of a second parse block that may join the first in one DEFLATE block.
    freqs2: Box<Freqs>,
    dynamic: Box<Codes>,
    fixed: Box<Codes>,
    scratch: [u32; 320],
    /// Code-length RLE items: symbol | extra << 8.
    rle: Box<[u16; 320]>,
    /// The block writer's output staging (see [`write_seqs`]).
    stage: Box<Stage>,
    cl_freq: [u32; 19],
    cl_lens: [u8; 19],
    cl_codes: [u16; 19],
}

impl Default for Compressor {
    fn default() -> Self {
        Self::new(Level::Fast)
    }
}

impl Compressor {
    /// A compressor for `level`, its state sized for inputs of up to 64 KiB
    /// (`Compressor::for_max_unit(level, 65536)`).
    pub fn new(level: Level) -> Self {
        Self::for_max_unit(level, DEFAULT_MAX_UNIT)
    }

    /// A compressor for `level` whose state is sized for inputs of up to `max_unit` bytes:
    /// the Fast level's hint table has 2^14 entries up to 4 KiB, 2^16 above; the sequence
    /// buffer holds one parse block of `max_unit` bytes (at least 4 KiB, at
    /// most 32 KiB), two when `max_unit` is larger (a unit of up to 64 KiB can then be one
    /// DEFLATE block). Longer inputs still compress correctly (more, smaller blocks; fewer hints),
    /// so the output of any input is the same valid stream format, only the ratio and speed
    /// follow the sizing.
    ///
    /// It runs the variant [`Variant::selected`] chose for this CPU once per process. Aborts,
    /// as `Vec` does, if the allocation fails; [`Compressor::try_for_max_unit`] returns the
    /// error instead.
    pub fn for_max_unit(level: Level, max_unit: usize) -> Self {
        Self::try_for_max_unit(level, max_unit).unwrap_or_else(|e| crate::alloc_failed(e))
    }

    /// [`Compressor::for_max_unit`], or [`FallbackError::OutOfMemory`] when allocating its
    /// tables or sequence buffer fails.
    pub fn try_for_max_unit(level: Level, max_unit: usize) -> Result<Self, FallbackError> {
        Self::build(level, max_unit, Variant::selected())
    }

    /// [`Compressor::for_max_unit`] running a given variant (tests and benchmarks force each
    /// one); [`FallbackError::UnsupportedVariant`] if this CPU cannot run it,
    /// [`FallbackError::OutOfMemory`] if the allocation fails. Every variant gives the same
    /// output bytes.
    pub fn with_variant(
        level: Level,
        max_unit: usize,
        variant: Variant,
    ) -> Result<Self, FallbackError> {
        if !variant.is_supported() {
            return Err(FallbackError::UnsupportedVariant(variant.name()));
        }
        Self::build(level, max_unit, variant)
    }

    /// The variant this compressor runs.
    pub fn variant(&self) -> Variant {
        self.variant
    }

    /// The tables and the sequence buffer (all that grows with `max_unit`) are allocated
    /// fallibly (`try_reserve`); the four fixed boxes of 3.8 KB in all with `Box::new` (safe
    /// Rust has no fallible `Box` on stable).
    fn build(level: Level, max_unit: usize, variant: Variant) -> Result<Self, FallbackError> {
        let matcher = Matcher::tables_only(level, max_unit)?;
        // Room for two parse blocks (one DEFLATE block of both) when a unit spans more than one.
        let pairs = if max_unit > matcher.block() { 2 } else { 1 };
        let nseqs = pairs * max_seqs(matcher.block());
        Ok(Compressor {
            variant,
            matcher,
            seqs: crate::try_boxed(nseqs, Seq::default())?,
            freqs: Box::new(Freqs::new()),
            freqs2: Box::new(Freqs::new()),
            dynamic: Box::new(Codes {
                ll_lens: [0; 288],
                ll_codes: [0; 288],
                d_lens: [0; 32],
                d_codes: [0; 32],
            }),
            fixed: Box::new(Codes::fixed()),
            scratch: [0; 320],
            rle: Box::new([0; 320]),
            stage: Box::new([0; STAGE + 8]),
            cl_freq: [0; 19],
            cl_lens: [0; 19],
            cl_codes: [0; 19],
        })
    }

    /// Bytes of heap memory this compressor holds (for per-context accounting).
    pub fn state_bytes(&self) -> usize {
        self.matcher.state_bytes()
            + self.seqs.len() * std::mem::size_of::<Seq>()
            + 2 * std::mem::size_of::<Freqs>()
            + 2 * std::mem::size_of::<Codes>()
            + std::mem::size_of::<[u16; 320]>()
            + std::mem::size_of::<Stage>()
    }

    /// Compress `src` as one raw-DEFLATE stream (final block flagged, byte padded) into `dst`.
    /// Every back-reference distance is <= 4096, so IAA hardware can decompress the result.
    ///
    /// Returns [`CompressOutcome::Incompressible`] when the output would not be smaller than
    /// `src` (then `dst` holds garbage), and [`FallbackError::OutputTooSmall`] when a smaller
    /// output does not fit `dst` (never for `dst.len() >= src.len()`). Does not allocate.
    pub fn compress(
        &mut self,
        src: &[u8],
        dst: &mut [u8],
    ) -> Result<CompressOutcome, FallbackError> {
        match self.variant {
            Variant::Portable => self.compress_body(src, dst),
            #[cfg(target_arch = "x86_64")]
            Variant::Avx2 => crate::variant::avx2::compress(self, src, dst),
            #[cfg(target_arch = "x86_64")]
            Variant::Avx512 => crate::variant::avx512::compress(self, src, dst),
            // Not reached: `with_variant` refuses a variant this target cannot run.
            #[allow(unreachable_patterns)]
            _ => self.compress_body(src, dst),
        }
    }

    /// The whole encoder, always inlined into each variant's entry point so that every
    /// variant compiles it (with the matcher and the block writer) for its own instruction
    /// set; the portable variant is this code as it is.
    #[inline(always)]
    pub(crate) fn compress_body(
        &mut self,
        src: &[u8],
        dst: &mut [u8],
    ) -> Result<CompressOutcome, FallbackError> {
        let limit_bits = (src.len() as u64) * 8;
        let mut w = BitWriter::new(dst);
        self.matcher.begin(src.len());
        let block = self.matcher.block();
        let mut start = 0;
        loop {
            let mut end = (start + block).min(src.len());
            self.freqs.clear();
            let mut nseq = self
                .matcher
                .parse(src, start, end, &mut self.seqs, &mut self.freqs);
            // The next parse block joins this one in one DEFLATE block when the estimated
            // size of one block (one header, one code) is no larger than of two: a 64 KiB
            // unit of uniform data is then one block, which the strict decoder checks from
            // its header alone; data whose statistics change keeps its two codes.
            if end < src.len() && self.seqs.len() >= nseq + max_seqs(block) {
                let end2 = (end + block).min(src.len());
                self.freqs2.clear();
                let n2 =
                    self.matcher
                        .parse(src, end, end2, &mut self.seqs[nseq..], &mut self.freqs2);
                let apart = self.freqs.entropy_bits256() + self.freqs2.entropy_bits256();
                self.freqs.add(&self.freqs2);
                let one = self.freqs.entropy_bits256();
                if one <= apart + HEADER_BITS256 + one / MERGE_SLACK {
                    nseq += n2;
                } else {
                    // Two blocks: undo the sum, write the first, keep the second.
                    for (a, b) in self.freqs.lit.iter_mut().zip(&self.freqs2.lit) {
                        *a -= b;
                    }
                    for (a, b) in self.freqs.dist.iter_mut().zip(&self.freqs2.dist) {
                        *a -= b;
                    }
                    self.freqs.lit[256] = 1;
                    self.write_block(&mut w, src, start, end, nseq, false, limit_bits);
                    if w.bits() + 7 >= limit_bits {
                        return Ok(CompressOutcome::Incompressible);
                    }
                    self.seqs.copy_within(nseq..nseq + n2, 0);
                    std::mem::swap(&mut self.freqs, &mut self.freqs2);
                    nseq = n2;
                    start = end;
                }
                end = end2;
            }
            let last = end == src.len();
            self.freqs.lit[256] = 1;
            self.write_block(&mut w, src, start, end, nseq, last, limit_bits);
            if w.bits() + 7 >= limit_bits {
                return Ok(CompressOutcome::Incompressible);
            }
            if last {
                break;
            }
            start = end;
        }
        w.align();
        let n = w.pos;
        if n >= src.len() {
            Ok(CompressOutcome::Incompressible)
        } else if n > w.buf.len() {
            Err(FallbackError::OutputTooSmall {
                needed: n,
                available: w.buf.len(),
            })
        } else {
            Ok(CompressOutcome::Compressed(n))
        }
    }

    #[allow(clippy::too_many_arguments)]
    #[inline(always)]
    fn write_block(
        &mut self,
        w: &mut BitWriter<'_>,
        src: &[u8],
        start: usize,
        end: usize,
        nseq: usize,
        last: bool,
        limit_bits: u64,
    ) {
        let f = &*self.freqs;
        // Extra bits are the same for the fixed and the dynamic code.
        let mut extra: u64 = 0;
        for (&fr, &e) in f.lit[257..286].iter().zip(LEN_EXTRA.iter()) {
            extra += fr as u64 * e as u64;
        }
        for (&fr, &e) in f.dist[..30].iter().zip(DIST_EXTRA.iter()) {
            extra += fr as u64 * e as u64;
        }
        let d = &mut *self.dynamic;
        // Literal/length codes of at most 14 bits (not DEFLATE's 15): four literals then fit the
        // writer's accumulator between flushes in every block (with 15-bit codes, which large
        // blocks of text often have, the writer needed a flush per three). Measured on
        // dickens at 64 KiB units: 1.9 % fewer instructions, ratio 2.215 -> 2.216.
        build_lengths(&f.lit[..286], 14, &mut d.ll_lens[..286], &mut self.scratch);
        build_lengths(&f.dist[..30], 15, &mut d.d_lens[..30], &mut self.scratch);
        // u32 sums (a block has < 2^17 symbols of <= 15 bits) so the loops vectorize.
        let (mut dyn_sum, mut fix_sum) = (0u32, 0u32);
        for ((&fr, &dl), &fl) in f.lit[..286]
            .iter()
            .zip(&d.ll_lens[..286])
            .zip(&self.fixed.ll_lens[..286])
        {
            dyn_sum += fr * dl as u32;
            fix_sum += fr * fl as u32;
        }
        for (&fr, &dl) in f.dist[..30].iter().zip(&d.d_lens[..30]) {
            dyn_sum += fr * dl as u32;
            fix_sum += fr * 5;
        }
        let mut dyn_bits: u64 = 3 + extra + dyn_sum as u64;
        let fix_bits: u64 = 3 + extra + fix_sum as u64;
        // Header of the dynamic block.
        let hlit = 257
            + d.ll_lens[257..286]
                .iter()
                .rposition(|&l| l != 0)
                .map_or(0, |p| p + 1);
        let hdist = 1 + d.d_lens[..30].iter().rposition(|&l| l != 0).unwrap_or(0);
        let nrle = rle_lengths(&d.ll_lens[..hlit], &d.d_lens[..hdist], &mut self.rle);
        self.cl_freq = [0; 19];
        for &it in &self.rle[..nrle] {
            self.cl_freq[(it & 0xFF) as usize] += 1;
        }
        build_lengths(&self.cl_freq, 7, &mut self.cl_lens, &mut self.scratch);
        let hclen = 4 + CL_ORDER[4..]
            .iter()
            .rposition(|&s| self.cl_lens[s] != 0)
            .map_or(0, |p| p + 1);
        dyn_bits += 14 + 3 * hclen as u64;
        let mut rle_bits = 0u32;
        for &it in &self.rle[..nrle] {
            let s = (it & 0xFF) as usize % 19;
            rle_bits += (self.cl_lens[s] + CL_EXTRA[s]) as u32;
        }
        dyn_bits += rle_bits as u64;
        let n = end - start;
        let stored_bits = {
            let chunks = n.div_ceil(65535).max(1) as u64;
            // Worst-case padding per chunk: 3 header bits + 7 padding.
            chunks * (40 + 10) + n as u64 * 8
        };
        let best = dyn_bits.min(fix_bits);
        if stored_bits <= best {
            if w.bits() + stored_bits >= limit_bits {
                // Cannot be smaller than the input: caller reports incompressible.
                w.pos = w.pos.max(limit_bits.div_ceil(8) as usize);
                return;
            }
            write_stored(w, &src[start..end], last);
            return;
        }
        if w.bits() + best + 7 >= limit_bits {
            w.pos = w.pos.max(limit_bits.div_ceil(8) as usize);
            return;
        }
        let use_dyn = dyn_bits < fix_bits;
        if use_dyn {
            assign_codes(&d.ll_lens[..286], &mut d.ll_codes[..286]);
            assign_codes(&d.d_lens[..30], &mut d.d_codes[..30]);
            assign_codes(&self.cl_lens, &mut self.cl_codes);
            w.put(last as u64 | (2 << 1), 3);
            w.put(
                (hlit - 257) as u64 | ((hdist - 1) as u64) << 5 | ((hclen - 4) as u64) << 10,
                14,
            );
            w.flush();
            for &s in &CL_ORDER[..hclen] {
                w.put(self.cl_lens[s] as u64, 3);
                w.flush();
            }
            for &it in &self.rle[..nrle] {
                let s = (it & 0xFF) as usize % 19;
                let e = (it >> 8) as u64;
                // `e` is 0 for the lengths 0..=15 (no extra bits).
                let cl = self.cl_lens[s] as u32;
                w.put(self.cl_codes[s] as u64 | e << cl, cl + CL_EXTRA[s] as u32);
                w.flush();
            }
        } else {
            w.put(last as u64 | (1 << 1), 3);
            w.flush();
        }
        let codes: &Codes = if use_dyn { &self.dynamic } else { &self.fixed };
        debug_assert!(codes.ll_lens[..256].iter().all(|&l| l <= 14));
        write_seqs(w, &mut self.stage, codes, src, start, &self.seqs[..nseq]);
    }
}

fn write_stored(w: &mut BitWriter<'_>, data: &[u8], last: bool) {
    let mut chunks = data.chunks(65535).peekable();
    if data.is_empty() {
        w.put(last as u64, 3);
        w.align();
        w.copy(&[0, 0, 0xFF, 0xFF]);
        return;
    }
    while let Some(c) = chunks.next() {
        let fin = last && chunks.peek().is_none();
        w.put(fin as u64, 3);
        w.align();
        let l = c.len() as u16;
        let mut hdr = [0u8; 4];
        hdr[..2].copy_from_slice(&l.to_le_bytes());
        hdr[2..].copy_from_slice(&(!l).to_le_bytes());
        w.copy(&hdr);
        w.copy(c);
    }
}

/// Bytes of the block writer's staging buffer (a power of two), past which it is copied out.
const STAGE: usize = 2048;
/// The staging buffer: [`STAGE`] bytes and the 8 a flush may store past them.
type Stage = [u8; STAGE + 8];
/// The staging buffer is copied out once it holds this many bytes; between two checks at most
/// one group of four literals, or one to three literals and a match, are written (< 16 bytes).
const STAGE_FULL: usize = STAGE - 64;

/// Bit accumulator of the block writer, flushing into a [`Stage`]: the flush's 8-byte store
/// goes to an index masked into the array, so it needs no test against the output's length
/// (the general [`BitWriter`] tests it at every flush: ~7 of ~16 instructions). `pos` stays
/// below [`STAGE`]: the writer copies the stage out (see [`drain`]) when it passes
/// [`STAGE_FULL`].
struct StageWriter<'s> {
    buf: &'s mut Stage,
    pos: usize,
    acc: u64,
    cnt: u32,
}

impl StageWriter<'_> {
    /// Append `n` bits (`bits` has nothing above bit n). Keep `cnt + n <= 64` between flushes.
    #[inline(always)]
    fn put(&mut self, bits: u64, n: u32) {
        self.acc |= bits << self.cnt;
        self.cnt += n;
    }

    /// Write out whole bytes; afterwards at most 7 bits are pending. Needs `cnt < 64`.
    #[inline(always)]
    fn flush(&mut self) {
        let i = self.pos & (STAGE - 1);
        self.buf[i..i + 8].copy_from_slice(&self.acc.to_le_bytes());
        let nb = (self.cnt >> 3) as usize;
        self.pos = i + nb;
        self.acc >>= nb * 8;
        self.cnt &= 7;
    }
}

/// Copy the staged bytes to `out` when the stage is nearly full (`force`: in any case).
#[inline(always)]
fn drain(out: &mut BitWriter<'_>, w: &mut StageWriter<'_>, force: bool) {
    if w.pos >= STAGE_FULL || force {
        drain_now(out, &w.buf[..w.pos]);
        w.pos = 0;
    }
}

/// Append `bytes` at `out.pos` (pending bits of `out` are not touched: they live in the stage
/// writer meanwhile); bytes past the end of `out.buf` are counted, not written, as
/// [`BitWriter::flush`] does.
#[inline(never)]
fn drain_now(out: &mut BitWriter<'_>, bytes: &[u8]) {
    let room = out.buf.len().saturating_sub(out.pos).min(bytes.len());
    if let Some(d) = out.buf.get_mut(out.pos..out.pos + room) {
        d.copy_from_slice(&bytes[..room]);
    }
    out.pos += bytes.len();
}

#[inline(always)]
fn write_seqs(
    out: &mut BitWriter<'_>,
    stage: &mut Stage,
    c: &Codes,
    src: &[u8],
    start: usize,
    seqs: &[Seq],
) {
    // The pending bits move into the stage writer (flushed: fewer than 8), which starts at
    // `out.pos`; its bytes are copied out to there.
    debug_assert!(out.cnt < 8);
    let mut sw = StageWriter {
        buf: stage,
        pos: 0,
        acc: out.acc,
        cnt: out.cnt,
    };
    let w = &mut sw;
    // Literals straight from the block's code: a byte indexes the 288-entry arrays without a
    // bounds check, and a code and its length are two loads (one instruction fewer per
    // literal than one merged entry that must be split, and no table to fill per block).
    let (lc, ll) = (&c.ll_codes, &c.ll_lens);
    // Per match length: its code merged with its extra bits | bit count << 24 (<= 20 bits).
    // Filled per length symbol: its 2^extra lengths differ only in the extra bits.
    // 512 entries (253 unused) so that a length indexes it with a mask, not a `% 259`
    // (which compiles to two multiplies per match).
    let mut ltab = [0u32; 512];
    for k in 0..29 {
        let cl = c.ll_lens[257 + k] as u32;
        let first = c.ll_codes[257 + k] as u32 | (cl + LEN_EXTRA[k] as u32) << 24;
        let base = LEN_BASE[k] as usize;
        // Symbol 27 covers 227..=257 (258 has its own symbol 28).
        let n = if k == 27 { 31 } else { 1 << LEN_EXTRA[k] };
        for (j, e) in ltab[base..base + n].iter_mut().enumerate() {
            *e = first | (j as u32) << cl;
        }
    }
    // Per distance symbol: code | code length << 16 | bit count with extra bits << 24 | base
    // distance << 32. 32 entries (2 unused), indexed with a mask.
    let mut dtab = [0u64; 32];
    for (k, e) in dtab[..30].iter_mut().enumerate() {
        let cl = c.d_lens[k] as u64;
        *e = c.d_codes[k] as u64
            | cl << 16
            | (cl + DIST_EXTRA[k] as u64) << 24
            | (DIST_BASE[k] as u64) << 32;
    }
    // Four literals fit the accumulator between flushes (7 pending + 4 * 14 bits): literal and
    // length codes are at most 14 bits long (`write_block` limits them so).
    let mut p = start;
    for s in seqs {
        let lits = &src[p..p + s.nlits()];
        let mut ch = lits.chunks_exact(4);
        for t in &mut ch {
            let a = t[0] as usize;
            let b = t[1] as usize;
            let d = t[2] as usize;
            let e = t[3] as usize;
            w.put(lc[a] as u64, ll[a] as u32);
            w.put(lc[b] as u64, ll[b] as u32);
            w.put(lc[d] as u64, ll[d] as u32);
            w.put(lc[e] as u64, ll[e] as u32);
            w.flush();
            drain(out, w, false);
        }
        let rest = ch.remainder();
        // Nothing to flush after no literals (the last group or match flushed already).
        if !rest.is_empty() {
            for &t in rest {
                let a = t as usize;
                w.put(lc[a] as u64, ll[a] as u32);
            }
            w.flush();
        }
        p += lits.len();
        if s.len > 0 {
            let le = ltab[s.len as usize & 511];
            w.put((le & 0xFF_FFFF) as u64, le >> 24);
            let de = dtab[s.dist_sym() & 31];
            let extra = s.dist as u64 - (de >> 32);
            let dbits = (de & 0xFFFF) | extra << ((de >> 16) & 0xFF);
            w.put(dbits, (de >> 24) as u32 & 0xFF);
            w.flush();
            p += s.len as usize;
        }
        drain(out, w, false);
    }
    w.put(c.ll_codes[256] as u64, c.ll_lens[256] as u32);
    w.flush();
    drain(out, w, true);
    (out.acc, out.cnt) = (sw.acc, sw.cnt);
}

/// Run-length code the literal/length code lengths, then the distance code lengths; items are
/// `symbol | extra << 8`. Each sequence is coded on its own, so no repeat (16/17/18) runs from
/// the literal/length lengths into the distance lengths: RFC 1951 allows such a run, but IAA
/// decodes the two sequences separately and refuses it (analytics error 4, "first code in
/// distance tree is 16"), and everything this encoder writes must be IAA-decodable.
fn rle_lengths(ll: &[u8], d: &[u8], out: &mut [u16; 320]) -> usize {
    let n = rle_one(ll, out, 0);
    rle_one(d, out, n)
}

/// Run-length code one sequence of code lengths into `out[n..]`; returns the new item count.
fn rle_one(v: &[u8], out: &mut [u16; 320], mut n: usize) -> usize {
    let mut i = 0;
    while i < v.len() {
        let l = v[i];
        let mut run = 1 + v[i + 1..].iter().take_while(|&&x| x == l).count();
        i += run;
        if l == 0 {
            while run >= 11 {
                let r = run.min(138);
                out[n] = 18 | ((r - 11) as u16) << 8;
                n += 1;
                run -= r;
            }
            if run >= 3 {
                out[n] = 17 | ((run - 3) as u16) << 8;
                n += 1;
                run = 0;
            }
        } else {
            out[n] = l as u16;
            n += 1;
            run -= 1;
            while run >= 3 {
                let r = run.min(6);
                out[n] = 16 | ((r - 3) as u16) << 8;
                n += 1;
                run -= r;
            }
        }
        while run > 0 {
            out[n] = l as u16;
            n += 1;
            run -= 1;
        }
    }
    n
}
