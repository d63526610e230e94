//! The model's DEFLATE engine: a compressor that codes LZ77 tokens (4 KiB window, no history
//! across descriptors) with the Huffman codes **given in the AECS**, and a checked inflater
//! with the device's 4 KiB history and EOB rules. Errors carry IAA analytics error codes.

use iaa_descriptors::{
    AnalyticsError as AE, CompressAecs, CompressionFlags, EndProcessing, EobRule, Histogram,
    HuffEntry, D_SYMBOLS, HISTOGRAM_BYTES, LL_SYMBOLS,
};

/// Device history window: back-references reach at most this far.
pub(crate) const WINDOW: usize = 4096;
const HASH_BITS: u32 = 12;
/// Candidates tried per position. Two keeps the model's ratio close to the software path's
/// while halving its host CPU per unit (8 cost ~74 µs per 4 KiB unit, 2 ~49 µs), which the
/// latency and hybrid benchmarks need: the model's compute runs on the same cores as the caller.
const MAX_CHAIN: usize = 2;
/// A match this long ends the chain search early.
const GOOD_MATCH: usize = 32;
const MIN_MATCH: usize = 3;
const MAX_MATCH: usize = 258;

const LEN_BASE: [u16; 29] = [
    3, 4, 5, 6, 7, 8, 9, 10, 11, 13, 15, 17, 19, 23, 27, 31, 35, 43, 51, 59, 67, 83, 99, 115, 131,
    163, 195, 227, 258,
];
const LEN_EXTRA: [u8; 29] = [
    0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3, 4, 4, 4, 4, 5, 5, 5, 5, 0,
];
const DIST_BASE: [u16; 30] = [
    1, 2, 3, 4, 5, 7, 9, 13, 17, 25, 33, 49, 65, 97, 129, 193, 257, 385, 513, 769, 1025, 1537,
    2049, 3073, 4097, 6145, 8193, 12289, 16385, 24577,
];
const DIST_EXTRA: [u8; 30] = [
    0, 0, 0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 6, 6, 7, 7, 8, 8, 9, 9, 10, 10, 11, 11, 12, 12, 13,
    13,
];

const fn len_table() -> [u8; 259] {
    let mut t = [0u8; 259];
    let mut len = 3;
    while len <= 258 {
        let mut i = LEN_BASE.len() - 1;
        while LEN_BASE[i] as usize > len {
            i -= 1;
        }
        t[len] = i as u8;
        len += 1;
    }
    t
}

const fn dist_table() -> [u8; WINDOW + 1] {
    let mut t = [0u8; WINDOW + 1];
    let mut d = 1;
    while d <= WINDOW {
        let mut i = DIST_BASE.len() - 1;
        while DIST_BASE[i] as usize > d {
            i -= 1;
        }
        t[d] = i as u8;
        d += 1;
    }
    t
}

static LEN_SYM: [u8; 259] = len_table();
static DIST_SYM: [u8; WINDOW + 1] = dist_table();

/// Length symbol index (0-28) of a match length 3..=258.
#[inline]
fn len_symbol(len: usize) -> usize {
    LEN_SYM[len] as usize
}

/// Distance symbol (0-23) of a distance 1..=4096.
#[inline]
fn dist_symbol(dist: usize) -> usize {
    DIST_SYM[dist] as usize
}

/// Per-engine working memory, allocated once.
pub(crate) struct Scratch {
    head: Vec<u32>,
    prev: Vec<u32>,
    ring: Vec<u8>,
    /// The job's source, copied in by `dma::read_into` (kept between jobs).
    pub(crate) input: Vec<u8>,
}

impl Scratch {
    pub(crate) fn new() -> Self {
        Scratch {
            head: vec![0; 1 << HASH_BITS],
            prev: vec![0; WINDOW],
            ring: vec![0; WINDOW],
            input: Vec::new(),
        }
    }
}

/// LZ77 token.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Token {
    Lit(u8),
    Match { len: usize, dist: usize },
}

/// Length of the common prefix of `a` and `b` (at most `b.len()`), 8 bytes at a time.
#[inline]
fn match_len(a: &[u8], b: &[u8]) -> usize {
    let max = b.len().min(a.len());
    let mut i = 0;
    while i + 8 <= max {
        let mut x = [0u8; 8];
        let mut y = [0u8; 8];
        x.copy_from_slice(&a[i..i + 8]);
        y.copy_from_slice(&b[i..i + 8]);
        let d = u64::from_le_bytes(x) ^ u64::from_le_bytes(y);
        if d != 0 {
            return i + (d.trailing_zeros() / 8) as usize;
        }
        i += 8;
    }
    while i < max && a[i] == b[i] {
        i += 1;
    }
    i
}

fn hash3(b: &[u8]) -> usize {
    let v = (b[0] as u32) | ((b[1] as u32) << 8) | ((b[2] as u32) << 16);
    (v.wrapping_mul(0x9E37_79B1) >> (32 - HASH_BITS)) as usize
}

/// Greedy hash-chain LZ77 over `src` alone (no history), distances <= 4096.
fn tokens(src: &[u8], s: &mut Scratch, literals_only: bool, mut emit: impl FnMut(Token) -> bool) {
    s.head.iter_mut().for_each(|h| *h = 0);
    let insert = |s: &mut Scratch, p: usize| -> u32 {
        let h = hash3(&src[p..]);
        let cand = s.head[h];
        s.head[h] = p as u32 + 1;
        s.prev[p % WINDOW] = cand;
        cand
    };
    let mut pos = 0;
    while pos < src.len() {
        let mut best = (0usize, 0usize);
        if !literals_only && pos + MIN_MATCH <= src.len() {
            let mut cand = insert(s, pos);
            let max = (src.len() - pos).min(MAX_MATCH);
            let mut steps = 0;
            while cand != 0 && steps < MAX_CHAIN {
                let c = cand as usize - 1;
                if c >= pos || pos - c > WINDOW {
                    break;
                }
                let l = match_len(&src[c..], &src[pos..pos + max]);
                if l > best.0 {
                    best = (l, pos - c);
                    if l == max || l >= GOOD_MATCH {
                        break;
                    }
                }
                let next = s.prev[c % WINDOW];
                if next == 0 || next as usize > c {
                    break;
                }
                cand = next;
                steps += 1;
            }
        }
        if best.0 >= MIN_MATCH {
            if !emit(Token::Match {
                len: best.0,
                dist: best.1,
            }) {
                return;
            }
            for p in pos + 1..pos + best.0 {
                if p + MIN_MATCH <= src.len() {
                    insert(s, p);
                }
            }
            pos += best.0;
        } else {
            if !emit(Token::Lit(src[pos])) {
                return;
            }
            pos += 1;
        }
    }
}

/// LSB-first bit writer into a bounded destination.
struct BitOut<'a> {
    buf: &'a mut [u8],
    pos: usize,
    acc: u64,
    n: u32,
    overflow: bool,
}

impl<'a> BitOut<'a> {
    fn new(buf: &'a mut [u8]) -> Self {
        BitOut {
            buf,
            pos: 0,
            acc: 0,
            n: 0,
            overflow: false,
        }
    }
    #[inline]
    fn put(&mut self, v: u32, bits: u32) {
        debug_assert!(bits <= 32 && self.n < 32);
        self.acc |= ((v as u64) & ((1u64 << bits) - 1)) << self.n;
        self.n += bits;
        if self.n >= 32 {
            self.flush_bytes();
        }
    }
    /// Move the whole bytes of the accumulator to the buffer (8 at a time when there is room).
    fn flush_bytes(&mut self) {
        let nbytes = (self.n / 8) as usize;
        if self.pos + 8 <= self.buf.len() {
            self.buf[self.pos..self.pos + 8].copy_from_slice(&self.acc.to_le_bytes());
            self.pos += nbytes;
            self.acc = if nbytes == 8 {
                0
            } else {
                self.acc >> (nbytes * 8)
            };
            self.n -= nbytes as u32 * 8;
            return;
        }
        while self.n >= 8 {
            if self.pos == self.buf.len() {
                self.overflow = true;
                self.n = 0;
                self.acc = 0;
                return;
            }
            self.buf[self.pos] = self.acc as u8;
            self.pos += 1;
            self.acc >>= 8;
            self.n -= 8;
        }
    }
    fn total_bits(&self) -> u64 {
        self.pos as u64 * 8 + self.n as u64
    }
    /// Pad to a byte boundary with zero bits.
    fn align(&mut self) {
        let r = self.n % 8;
        if r > 0 {
            self.put(0, 8 - r);
        }
    }
    /// Write out a partial last byte (unflushed output keeps its valid bits in the low end),
    /// unless `keep_tail`: then the partial byte is returned instead (for the AECS accumulator).
    fn finish(mut self, keep_tail: bool) -> Result<(usize, u8, u8), ()> {
        while self.n >= 8 && !self.overflow {
            self.flush_bytes();
        }
        if keep_tail {
            return if self.overflow {
                Err(())
            } else {
                Ok((self.pos, self.acc as u8, self.n as u8))
            };
        }
        if self.n > 0 {
            if self.pos == self.buf.len() {
                return Err(());
            }
            self.buf[self.pos] = self.acc as u8;
            self.pos += 1;
        }
        if self.overflow {
            Err(())
        } else {
            Ok((self.pos, 0, 0))
        }
    }
}

fn reversed(e: HuffEntry) -> (u32, u32) {
    let mut r = 0u32;
    for i in 0..e.len {
        r |= ((e.code as u32 >> i) & 1) << (e.len - 1 - i);
    }
    (r, e.len as u32)
}

/// Result of a compress job.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Compressed {
    /// Bytes written (a partial last byte counts).
    pub bytes: usize,
    /// Valid data bits in the last byte before any flush padding (0 = the last byte is whole).
    pub last_bits: u8,
    /// With `keep_tail`: the bits after the last whole byte (value, count), not written.
    pub tail: (u8, u8),
}

/// Compress `src` into `dst` with the code tables and accumulator prefix of `aecs`.
pub(crate) fn compress(
    src: &[u8],
    dst: &mut [u8],
    aecs: &CompressAecs,
    flags: CompressionFlags,
    keep_tail: bool,
    s: &mut Scratch,
) -> Result<Compressed, AE> {
    if aecs.num_output_accum_bits as usize > aecs.output_accum.len() * 8 {
        return Err(AE::InvalidAecs);
    }
    let mut ll = [(0u32, 0u32); LL_SYMBOLS];
    let mut d = [(0u32, 0u32); D_SYMBOLS];
    for (i, e) in ll.iter_mut().enumerate() {
        *e = reversed(HuffEntry::unpack(aecs.ll_sym[i]));
    }
    for (i, e) in d.iter_mut().enumerate() {
        *e = reversed(HuffEntry::unpack(aecs.d_sym[i]));
    }
    let mut out = BitOut::new(dst);
    let nbits = aecs.num_output_accum_bits as usize;
    for i in 0..nbits / 8 {
        out.put(aecs.output_accum[i] as u32, 8);
    }
    if !nbits.is_multiple_of(8) {
        out.put(aecs.output_accum[nbits / 8] as u32, (nbits % 8) as u32);
    }
    let mut bad_code = false;
    let literals_only = flags.contains(CompressionFlags::GEN_LITERALS);
    tokens(src, s, literals_only, |t| {
        match t {
            Token::Lit(b) => {
                let (c, l) = ll[b as usize];
                if l == 0 {
                    bad_code = true;
                    return false;
                }
                out.put(c, l);
            }
            Token::Match { len, dist } => {
                let ls = len_symbol(len);
                let (c, l) = ll[257 + ls];
                let ds = dist_symbol(dist);
                let (dc, dl) = d[ds];
                if l == 0 || dl == 0 {
                    bad_code = true;
                    return false;
                }
                out.put(c, l);
                out.put((len - LEN_BASE[ls] as usize) as u32, LEN_EXTRA[ls] as u32);
                out.put(dc, dl);
                out.put(
                    (dist - DIST_BASE[ds] as usize) as u32,
                    DIST_EXTRA[ds] as u32,
                );
            }
        }
        !out.overflow
    });
    if bad_code {
        return Err(AE::InvalidHuffCode);
    }
    let end = flags.end_processing();
    if end != EndProcessing::None {
        let (c, l) = ll[256];
        if l == 0 {
            return Err(AE::InvalidHuffCode);
        }
        out.put(c, l);
    }
    let stored_final = match end {
        EndProcessing::AppendEobStored => Some(false),
        EndProcessing::AppendEobFinalStored => Some(true),
        _ => None,
    };
    if let Some(fin) = stored_final {
        out.put(fin as u32, 1);
        out.put(0, 2);
        out.align();
        out.put(0x0000, 16);
        out.put(0xFFFF, 16);
    }
    let last_bits = (out.total_bits() % 8) as u8;
    if flags.contains(CompressionFlags::FLUSH_OUTPUT) {
        out.align();
    }
    let (bytes, tv, tn) = out
        .finish(keep_tail && !flags.contains(CompressionFlags::FLUSH_OUTPUT))
        .map_err(|_| AE::UnrecoverableOutputOverflow)?;
    Ok(Compressed {
        bytes,
        last_bits,
        tail: (tv, tn),
    })
}

/// Count the tokens the compress pass codes for `src` (and the EOB end processing appends)
/// into `h`.
pub(crate) fn count_tokens(
    src: &[u8],
    flags: CompressionFlags,
    s: &mut Scratch,
    h: &mut Histogram,
) {
    *h = Histogram::new();
    tokens(
        src,
        s,
        flags.contains(CompressionFlags::GEN_LITERALS),
        |t| {
            match t {
                Token::Lit(b) => h.ll[b as usize] += 1,
                Token::Match { len, dist } => {
                    h.ll[257 + len_symbol(len)] += 1;
                    h.d[dist_symbol(dist)] += 1;
                }
            }
            true
        },
    );
    if flags.end_processing() != EndProcessing::None {
        h.ll[256] += 1;
    }
}

/// Statistics mode: the literal/length (286 + 2) and distance (30 + 2) histograms as u32
/// little-endian, 1280 bytes. The EOB count is 1 when end processing appends an EOB.
pub(crate) fn histogram(
    src: &[u8],
    dst: &mut [u8],
    flags: CompressionFlags,
    s: &mut Scratch,
) -> Result<usize, AE> {
    let Some(out) = dst.get_mut(..HISTOGRAM_BYTES) else {
        return Err(AE::UnrecoverableOutputOverflow);
    };
    let mut h = Histogram::new();
    count_tokens(src, flags, s, &mut h);
    let mut b = [0u8; HISTOGRAM_BYTES];
    h.to_bytes(&mut b);
    out.copy_from_slice(&b);
    Ok(HISTOGRAM_BYTES)
}

// ------------------------------------------------------------------------------------------
// Inflate

/// Where decoded bytes go.
pub(crate) trait Sink {
    /// Append a byte; `false` when the output is full.
    fn lit(&mut self, b: u8) -> bool;
    /// Copy `len` bytes from `dist` back; `Err(true)` when full, `Err(false)` when `dist`
    /// reaches before the start of the stream.
    fn copy(&mut self, dist: usize, len: usize) -> Result<(), bool>;
}

/// Output into the destination buffer.
pub(crate) struct DstSink<'a> {
    pub buf: &'a mut [u8],
    pub n: usize,
}

impl Sink for DstSink<'_> {
    #[inline]
    fn lit(&mut self, b: u8) -> bool {
        if self.n == self.buf.len() {
            return false;
        }
        self.buf[self.n] = b;
        self.n += 1;
        true
    }
    fn copy(&mut self, dist: usize, len: usize) -> Result<(), bool> {
        if dist > self.n {
            return Err(false);
        }
        let fit = len.min(self.buf.len() - self.n);
        if dist >= fit {
            self.buf
                .copy_within(self.n - dist..self.n - dist + fit, self.n);
            self.n += fit;
        } else {
            for _ in 0..fit {
                self.buf[self.n] = self.buf[self.n - dist];
                self.n += 1;
            }
        }
        if fit < len {
            Err(true)
        } else {
            Ok(())
        }
    }
}

/// Output that is only checksummed (suppress-output / verify): a 4 KiB ring for history.
pub(crate) struct RingSink<'a> {
    ring: &'a mut [u8],
    pub n: usize,
    pub crc: super::crc::Crc32,
    pub xor: super::crc::Xor16,
}

impl<'a> RingSink<'a> {
    pub(crate) fn new(s: &'a mut Scratch, crc: super::crc::Crc32, xor: super::crc::Xor16) -> Self {
        RingSink {
            ring: &mut s.ring,
            n: 0,
            crc,
            xor,
        }
    }
}

impl Sink for RingSink<'_> {
    #[inline]
    fn lit(&mut self, b: u8) -> bool {
        self.ring[self.n % WINDOW] = b;
        self.n += 1;
        self.crc.byte(b);
        self.xor.byte(b);
        true
    }
    fn copy(&mut self, dist: usize, len: usize) -> Result<(), bool> {
        if dist > self.n || dist > WINDOW {
            return Err(false);
        }
        for _ in 0..len {
            let b = self.ring[(self.n - dist) % WINDOW];
            self.lit(b);
        }
        Ok(())
    }
}

/// How an inflate ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Inflated {
    /// Finished (end of stream, stop rule or end of input); input bytes consumed.
    Done { consumed: usize },
    /// Output full; input bytes consumed before the token that did not fit.
    Overflow { consumed: usize },
    /// Analytics error.
    Error(AE),
}

struct BitIn<'a> {
    src: &'a [u8],
    limit: usize,
    pos: usize,
}

/// Input ended.
struct Short;

impl BitIn<'_> {
    #[inline]
    fn bit(&mut self) -> Result<u32, Short> {
        if self.pos >= self.limit {
            return Err(Short);
        }
        let b = (self.src[self.pos / 8] >> (self.pos % 8)) & 1;
        self.pos += 1;
        Ok(b as u32)
    }
    /// The next `n` (<= 32) bits without consuming them; bits past the end read as zero.
    #[inline]
    fn peek(&self, n: u32) -> u32 {
        let byte = self.pos / 8;
        if let Some(b) = self.src.get(byte..byte + 8) {
            let mut w = [0u8; 8];
            w.copy_from_slice(b);
            let v = u64::from_le_bytes(w) >> (self.pos % 8);
            return (v & ((1u64 << n) - 1)) as u32;
        }
        let mut w = [0u8; 8];
        let end = (byte + 8).min(self.src.len());
        if byte < end {
            w[..end - byte].copy_from_slice(&self.src[byte..end]);
        }
        let v = u64::from_le_bytes(w) >> (self.pos % 8);
        (v & ((1u64 << n) - 1)) as u32
    }
    #[inline]
    fn bits(&mut self, n: u32) -> Result<u32, Short> {
        if self.pos + n as usize > self.limit {
            return Err(Short);
        }
        let v = self.peek(n);
        self.pos += n as usize;
        Ok(v)
    }
    fn left(&self) -> usize {
        self.limit - self.pos
    }
}

/// Bits of the first-level lookup table.
const LUT_BITS: u32 = 9;

/// Canonical Huffman decoding table (counts per length and symbols in code order), plus a
/// lookup table for codes of at most 9 bits: entry = symbol << 4 | length (0 = use the slow
/// path).
struct Huff {
    count: [u16; 16],
    symbol: [u16; 288],
    lut: [u16; 1 << LUT_BITS],
}

impl Huff {
    fn new() -> Self {
        Huff {
            count: [0; 16],
            symbol: [0; 288],
            lut: [0; 1 << LUT_BITS],
        }
    }
}

/// Which incomplete codes [`build`] accepts (RFC 1951 3.2.7, as zlib reads it).
#[derive(Clone, Copy, PartialEq, Eq)]
enum Incomplete {
    /// None: the code-length code must be complete.
    Reject,
    /// Literal/length and distance codes: no code at all, or one code of length 1 (its other
    /// bit pattern is then an invalid code in the data).
    SingleOrEmpty,
}

/// Outcome of building a code: fine, or over-subscribed or incomplete (beyond what
/// `incomplete` allows).
fn build(h: &mut Huff, lengths: &[u8], incomplete: Incomplete) -> Result<(), ()> {
    h.count = [0; 16];
    for &l in lengths {
        h.count[l as usize] += 1;
    }
    h.count[0] = 0;
    let mut left: i32 = 1;
    for len in 1..16 {
        left <<= 1;
        left -= h.count[len] as i32;
        if left < 0 {
            return Err(());
        }
    }
    let max = (1..16).rev().find(|&l| h.count[l] != 0).unwrap_or(0);
    if left > 0 && !(incomplete == Incomplete::SingleOrEmpty && max <= 1) {
        return Err(());
    }
    let mut offs = [0u16; 16];
    for len in 1..15 {
        offs[len + 1] = offs[len] + h.count[len];
    }
    for (sym, &l) in lengths.iter().enumerate() {
        if l != 0 {
            h.symbol[offs[l as usize] as usize] = sym as u16;
            offs[l as usize] += 1;
        }
    }
    // Lookup table: canonical codes (RFC 1951 3.2.2), bit-reversed because the stream is
    // read LSB first.
    h.lut = [0; 1 << LUT_BITS];
    let mut next = [0u32; 16];
    let mut code = 0u32;
    for (len, slot) in next.iter_mut().enumerate().skip(1) {
        let below = if len == 1 { 0 } else { h.count[len - 1] as u32 };
        code = (code + below) << 1;
        *slot = code;
    }
    for (sym, &l) in lengths.iter().enumerate() {
        if l == 0 {
            continue;
        }
        let c = next[l as usize];
        next[l as usize] += 1;
        if l as u32 > LUT_BITS {
            continue;
        }
        let rev = c.reverse_bits() >> (32 - l as u32);
        let entry = ((sym as u16) << 4) | l as u16;
        let mut k = rev;
        while k < 1 << LUT_BITS {
            h.lut[k as usize] = entry;
            k += 1 << l;
        }
    }
    Ok(())
}

/// Decode one symbol; `Ok(None)` when the bits match no code (incomplete code).
#[inline]
fn decode(r: &mut BitIn<'_>, h: &Huff) -> Result<Option<u16>, Short> {
    let e = h.lut[r.peek(LUT_BITS) as usize];
    if e != 0 {
        let len = (e & 0xF) as usize;
        if r.pos + len > r.limit {
            return Err(Short);
        }
        r.pos += len;
        return Ok(Some(e >> 4));
    }
    decode_slow(r, h)
}

/// Bit-by-bit canonical decoding (codes longer than the lookup table, invalid codes).
fn decode_slow(r: &mut BitIn<'_>, h: &Huff) -> Result<Option<u16>, Short> {
    let (mut code, mut first, mut index) = (0i32, 0i32, 0i32);
    for len in 1..16 {
        code |= r.bit()? as i32;
        let count = h.count[len] as i32;
        if code - count < first {
            return Ok(Some(h.symbol[(index + (code - first)) as usize]));
        }
        index += count;
        first += count;
        first <<= 1;
        code <<= 1;
    }
    Ok(None)
}

const CL_ORDER: [usize; 19] = [
    16, 17, 18, 0, 8, 7, 9, 6, 10, 5, 11, 4, 12, 3, 13, 2, 14, 1, 15,
];

/// Decode the block body with the given codes. `Ok(true)` at EOB.
enum BodyEnd {
    Eob,
    Short,
    Overflow,
    Error(AE),
}

fn body(
    r: &mut BitIn<'_>,
    ll: &Huff,
    d: &Huff,
    out: &mut impl Sink,
    consumed_at: &mut usize,
) -> BodyEnd {
    loop {
        *consumed_at = r.pos;
        let sym = match decode(r, ll) {
            Err(Short) => return BodyEnd::Short,
            Ok(None) => return BodyEnd::Error(AE::BadLlCode),
            Ok(Some(s)) => s as usize,
        };
        if sym < 256 {
            if !out.lit(sym as u8) {
                return BodyEnd::Overflow;
            }
            continue;
        }
        if sym == 256 {
            return BodyEnd::Eob;
        }
        let ls = sym - 257;
        if ls >= 29 {
            return BodyEnd::Error(AE::BadLlCode);
        }
        let len = match r.bits(LEN_EXTRA[ls] as u32) {
            Ok(e) => LEN_BASE[ls] as usize + e as usize,
            Err(Short) => return BodyEnd::Short,
        };
        let ds = match decode(r, d) {
            Err(Short) => return BodyEnd::Short,
            Ok(None) => return BodyEnd::Error(AE::BadDistCode),
            Ok(Some(s)) => s as usize,
        };
        if ds >= 30 {
            return BodyEnd::Error(AE::BadDistCode);
        }
        let dist = match r.bits(DIST_EXTRA[ds] as u32) {
            Ok(e) => DIST_BASE[ds] as usize + e as usize,
            Err(Short) => return BodyEnd::Short,
        };
        if dist > WINDOW {
            return BodyEnd::Error(AE::BadDistance);
        }
        match out.copy(dist, len) {
            Ok(()) => {}
            Err(true) => return BodyEnd::Overflow,
            Err(false) => return BodyEnd::Error(AE::RefBeforeStart),
        }
    }
}

/// Parse a dynamic block header into `ll` and `d`.
fn dynamic_header(r: &mut BitIn<'_>, ll: &mut Huff, d: &mut Huff) -> Result<Result<(), AE>, Short> {
    let hlit = r.bits(5)? as usize + 257;
    let hdist = r.bits(5)? as usize + 1;
    let hclen = r.bits(4)? as usize + 4;
    if hlit > 286 {
        return Ok(Err(AE::TooManyLlCodes));
    }
    if hdist > 30 {
        return Ok(Err(AE::TooManyDistCodes));
    }
    let mut cl_len = [0u8; 19];
    for &i in CL_ORDER.iter().take(hclen) {
        cl_len[i] = r.bits(3)? as u8;
    }
    let mut cl = Huff::new();
    if build(&mut cl, &cl_len, Incomplete::Reject).is_err() {
        return Ok(Err(AE::BadClCodeLen));
    }
    let mut lens = [0u8; 316];
    let total = hlit + hdist;
    let mut i = 0;
    while i < total {
        let sym = match decode(r, &cl)? {
            Some(s) => s,
            None => return Ok(Err(AE::BadClCode)),
        };
        let (val, rep) = match sym {
            0..=15 => (sym as u8, 1),
            16 => {
                if i == 0 {
                    return Ok(Err(AE::FirstLlCodeRepeat));
                }
                if i == hlit {
                    return Ok(Err(AE::FirstDCodeRepeat));
                }
                (lens[i - 1], 3 + r.bits(2)? as usize)
            }
            17 => (0, 3 + r.bits(3)? as usize),
            _ => (0, 11 + r.bits(7)? as usize),
        };
        if i + rep > total {
            return Ok(Err(if i < hlit {
                AE::WrongNumLlCodes
            } else {
                AE::WrongNumDistCodes
            }));
        }
        // The device decodes the literal/length and the distance lengths as two sequences: a
        // repeat that runs from one into the other leaves the first too long ([U]: error 6
        // inferred; the leading 16 of the distances, error 4, is caught above).
        if i < hlit && i + rep > hlit {
            return Ok(Err(AE::WrongNumLlCodes));
        }
        lens[i..i + rep].fill(val);
        i += rep;
    }
    if lens[..hlit].iter().all(|&l| l == 0) || lens[256] == 0 {
        return Ok(Err(AE::NoLlCode));
    }
    // Over-subscribed and incomplete codes (other than RFC 1951's one-code and no-code cases)
    // both end with the "bad code length" errors 8 / 9 / 10.
    if build(ll, &lens[..hlit], Incomplete::SingleOrEmpty).is_err() {
        return Ok(Err(AE::BadLlCodeLen));
    }
    if build(d, &lens[hlit..total], Incomplete::SingleOrEmpty).is_err() {
        return Ok(Err(AE::BadDistCodeLen));
    }
    Ok(Ok(()))
}

fn fixed_tables(ll: &mut Huff, d: &mut Huff) {
    let mut l = [0u8; 288];
    l[..144].fill(8);
    l[144..256].fill(9);
    l[256..280].fill(7);
    l[280..].fill(8);
    let _ = build(ll, &l, Incomplete::Reject);
    // All 32 five-bit codes; `body` rejects distance symbols 30 and 31 (and literal/length
    // symbols 286 and 287) as invalid codes.
    let _ = build(d, &[5u8; 32], Incomplete::Reject);
}

/// Inflate `src` (minus `ignore_end_bits` trailing bits) into `out` with the device's rules:
/// 4 KiB history, `rule` for stopping at / checking for an EOB. The end of a stored block counts
/// as an end of block. After a final block's EOB the stream ends.
pub(crate) fn inflate(
    src: &[u8],
    ignore_end_bits: u8,
    rule: EobRule,
    out: &mut impl Sink,
) -> Inflated {
    let total = src.len() * 8;
    let limit = total.saturating_sub(ignore_end_bits as usize);
    let mut r = BitIn { src, limit, pos: 0 };
    let mut ll = Huff::new();
    let mut d = Huff::new();
    // Whether the last thing decoded was a qualifying EOB.
    let mut at_eob = false;
    let qualifies = |fin: bool| !rule.final_only() || fin;
    let done_all = |r: &BitIn<'_>| r.pos.div_ceil(8).min(src.len());
    let short = |at_eob: bool| {
        if rule.checks() && !at_eob {
            Inflated::Error(AE::BadEob)
        } else {
            Inflated::Done {
                consumed: src.len(),
            }
        }
    };
    loop {
        if r.left() < 3 {
            // End of input at a block boundary (padding bits at most).
            return short(at_eob);
        }
        let hdr_start = r.pos;
        let Ok(fin) = r.bit() else {
            return short(at_eob);
        };
        let Ok(btype) = r.bits(2) else {
            return short(at_eob);
        };
        match btype {
            0 => {
                r.pos = r.pos.div_ceil(8) * 8;
                let (Ok(len), Ok(nlen)) = (r.bits(16), r.bits(16)) else {
                    return short(false);
                };
                if len != !nlen & 0xFFFF {
                    return Inflated::Error(AE::InvalidStoredLen);
                }
                for _ in 0..len {
                    let start = r.pos;
                    let Ok(b) = r.bits(8) else {
                        return short(false);
                    };
                    if !out.lit(b as u8) {
                        return Inflated::Overflow {
                            consumed: start / 8,
                        };
                    }
                }
            }
            1 | 2 => {
                if btype == 1 {
                    fixed_tables(&mut ll, &mut d);
                } else {
                    match dynamic_header(&mut r, &mut ll, &mut d) {
                        Err(Short) => {
                            return if rule.checks() {
                                Inflated::Error(AE::HeaderTooBig)
                            } else {
                                short(false)
                            }
                        }
                        Ok(Err(e)) => return Inflated::Error(e),
                        Ok(Ok(())) => {}
                    }
                }
                let mut tok_start = hdr_start;
                match body(&mut r, &ll, &d, out, &mut tok_start) {
                    BodyEnd::Eob => {}
                    BodyEnd::Short => return short(false),
                    BodyEnd::Overflow => {
                        return Inflated::Overflow {
                            consumed: tok_start / 8,
                        }
                    }
                    BodyEnd::Error(e) => return Inflated::Error(e),
                }
            }
            _ => return Inflated::Error(AE::InvalidBlockType),
        }
        at_eob = qualifies(fin == 1);
        if (rule.stops() && at_eob) || fin == 1 {
            if rule.checks() && !at_eob {
                return Inflated::Error(AE::BadEob);
            }
            return Inflated::Done {
                consumed: done_all(&r),
            };
        }
    }
}

#[cfg(test)]
mod strict_tests {
    use super::{inflate, DstSink, Inflated, AE};
    use iaa_descriptors::EobRule;

    fn run(src: &[u8]) -> Inflated {
        let mut buf = [0u8; 1024];
        let mut out = DstSink {
            buf: &mut buf,
            n: 0,
        };
        inflate(src, 0, EobRule::StopAndCheckFinalEob, &mut out)
    }

    #[test]
    fn incomplete_literal_length_code_is_a_bad_code_length() {
        let s = [
            0x05, 0xc0, 0x81, 0x00, 0x00, 0x00, 0x00, 0x80, 0x20, 0xd6, 0xfc, 0x25, 0x4e,
        ];
        assert_eq!(run(&s), Inflated::Error(AE::BadLlCodeLen));
    }

    #[test]
    fn fixed_symbol_286_is_an_invalid_code() {
        assert_eq!(
            run(&[0x4b, 0x1c, 0x03, 0x00]),
            Inflated::Error(AE::BadLlCode)
        );
    }
}
