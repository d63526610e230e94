//! LZ77 match finding limited to IAA's 4 KiB window (every distance <= 4096).
//!
//! Shared with the software device model: [`Matcher::tokens`] turns one buffer into
//! [`Token`]s with no history from earlier calls (as an IAA compress job).
//!
//! Design: no hash chains at [`Level::Fast`]: one table slot per 5-byte hash, greedy parsing,
//! a skip that grows over long literal runs. [`Level::Better`] keeps a 4096-entry `prev` ring
//! (exactly the window) for short hash chains and one-step lazy matching. Tables are rarely
//! cleared between calls: slots hold `position + base`, and every call raises `base` past all
//! values stored before, so old entries read as empty (the Fast table's 16-bit values are
//! cleared when they would wrap around). The output never depends on earlier calls.

use crate::{FallbackError, Level};

/// Largest back-reference distance (IAA history size).
pub const WINDOW: usize = 4096;
/// Shortest match emitted.
pub const MIN_MATCH: usize = 4;
/// Longest match DEFLATE can code.
pub const MAX_MATCH: usize = 258;
/// Largest number of input bytes parsed at once (with one symbol histogram). The compressor
/// writes two such parse blocks as one DEFLATE block when that is estimated no larger (see
/// `Compressor::compress_body`).
pub(crate) const BLOCK: usize = 32 * 1024;

const HASH_BITS_MAX: u32 = 15;
const SKIP: usize = 6;

/// Largest input the default constructors size their state for ([`Matcher::new`],
/// `Compressor::new`): 64 KiB.
pub const DEFAULT_MAX_UNIT: usize = 64 * 1024;

/// Bits of the Fast level's hint table (`u16` entries) for inputs of up to `max_unit` bytes:
/// 2^14 (32 KiB) up to 4 KiB, 2^16 (128 KiB) above. Fewer bits than these cost speed at each
/// size (more colliding hints that pass the distance test and fail the byte test: 2^12 at
/// 4 KiB units was ~15 % slower; at 16 KiB units 2^15 was 3-5 % slower than 2^16 in
/// alternating runs, 2^14 ~8 %; at 64 KiB 2^15 3-6 %). 2^15 at 4 KiB units was ~4 % faster
/// still, but would take the state of a 4 KiB context past 64 KiB.
pub(crate) fn fast_bits(max_unit: usize) -> u32 {
    match max_unit {
        0..=4096 => 14,
        _ => 16,
    }
}

/// Bits of the Better level's chain heads (`u32` entries) for inputs of up to `max_unit`
/// bytes: 2^13 up to 4 KiB, 2^15 above.
fn better_bits(max_unit: usize) -> u32 {
    if max_unit <= 4096 {
        13
    } else {
        HASH_BITS_MAX
    }
}

/// Input bytes per DEFLATE block for inputs of up to `max_unit` bytes: [`BLOCK`], or less for
/// small units (at least 4 KiB), so the sequence buffer follows the unit size. Longer inputs
/// are still compressed correctly, in more blocks.
pub(crate) fn block_len(max_unit: usize) -> usize {
    max_unit.clamp(4096, BLOCK)
}

/// Sequences one block of `block` input bytes can need.
pub(crate) fn max_seqs(block: usize) -> usize {
    block / MIN_MATCH + 2
}

/// One LZ77 token.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Token {
    /// A literal byte.
    Literal(u8),
    /// Copy `len` (3..=258) bytes from `dist` (1..=4096) bytes back.
    Match {
        /// Match length.
        len: u16,
        /// Distance back.
        dist: u16,
    },
}

/// `lits` literal bytes (taken from the source in order), then a match (`len == 0`: none).
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct Seq {
    /// The literal count (below 2^24: a parse block is at most [`BLOCK`] bytes), and the
    /// match's distance symbol in the top 8 bits (computed once, for the histogram, and
    /// reused by the block writer).
    pub lits: u32,
    pub len: u16,
    pub dist: u16,
}

impl Seq {
    /// Number of literals before the match.
    #[inline(always)]
    pub fn nlits(&self) -> usize {
        (self.lits & 0xFF_FFFF) as usize
    }
    /// The match's distance symbol (0 without a match).
    #[inline(always)]
    pub fn dist_sym(&self) -> usize {
        (self.lits >> 24) as usize
    }
}

/// Symbol frequencies of one block, filled while parsing.
pub(crate) struct Freqs {
    pub lit: [u32; 288],
    pub dist: [u32; 32],
}

impl Freqs {
    pub fn new() -> Self {
        Freqs {
            lit: [0; 288],
            dist: [0; 32],
        }
    }
    pub fn clear(&mut self) {
        self.lit = [0; 288];
        self.dist = [0; 32];
    }

    /// Add `o`'s counts to these.
    pub fn add(&mut self, o: &Freqs) {
        for (a, b) in self.lit.iter_mut().zip(&o.lit) {
            *a += b;
        }
        for (a, b) in self.dist.iter_mut().zip(&o.dist) {
            *a += b;
        }
    }

    /// Estimated bits of the literal/length and distance symbols of these counts with ideal
    /// codes, in 1/256 bit: `N log2 N - sum f log2 f` per alphabet (extra bits left out).
    pub fn entropy_bits256(&self) -> u64 {
        fn part(f: &[u32]) -> u64 {
            let (mut n, mut s) = (0u64, 0u64);
            for &x in f {
                n += x as u64;
                s += xlog2x(x as u64);
            }
            xlog2x(n).saturating_sub(s)
        }
        part(&self.lit[..286]) + part(&self.dist[..30])
    }
}

/// `x * log2(x)` in 1/256 bit (0 for 0), from the exponent and a 64-entry table of the next six
/// mantissa bits (error below 0.03 bit per unit of x).
#[inline(always)]
fn xlog2x(x: u64) -> u64 {
    // round(256 * log2(1 + m / 64))
    const FRAC: [u16; 64] = [
        0, 6, 11, 17, 22, 28, 33, 38, 44, 49, 54, 59, 63, 68, 73, 78, 82, 87, 92, 96, 100, 105,
        109, 113, 118, 122, 126, 130, 134, 138, 142, 146, 150, 154, 157, 161, 165, 169, 172, 176,
        179, 183, 186, 190, 193, 197, 200, 203, 207, 210, 213, 216, 220, 223, 226, 229, 232, 235,
        238, 241, 244, 247, 250, 253,
    ];
    if x == 0 {
        return 0;
    }
    let e = 63 - x.leading_zeros() as u64;
    let m = if e >= 6 {
        (x >> (e - 6)) & 63
    } else {
        (x << (6 - e)) & 63
    };
    x * (e * 256 + FRAC[m as usize] as u64)
}

/// Length symbol (257..=285) minus 257, for match lengths 0..=258 (entries below 3 unused).
pub(crate) static LEN_SYM: [u8; 259] = make_len_sym();
/// The order in which a dynamic block header lists the code-length code's lengths (RFC 1951
/// 3.2.7).
pub(crate) const CL_ORDER: [usize; 19] = [
    16, 17, 18, 0, 8, 7, 9, 6, 10, 5, 11, 4, 12, 3, 13, 2, 14, 1, 15,
];
/// Base length of each length symbol (index = symbol - 257).
pub(crate) const LEN_BASE: [u16; 29] = [
    3, 4, 5, 6, 7, 8, 9, 10, 11, 13, 15, 17, 19, 23, 27, 31, 35, 43, 51, 59, 67, 83, 99, 115, 131,
    163, 195, 227, 258,
];
/// Extra bits of each length symbol.
pub(crate) const LEN_EXTRA: [u8; 29] = [
    0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3, 4, 4, 4, 4, 5, 5, 5, 5, 0,
];
/// Base distance of each distance symbol.
pub(crate) const DIST_BASE: [u16; 30] = [
    1, 2, 3, 4, 5, 7, 9, 13, 17, 25, 33, 49, 65, 97, 129, 193, 257, 385, 513, 769, 1025, 1537,
    2049, 3073, 4097, 6145, 8193, 12289, 16385, 24577,
];
/// Extra bits of each distance symbol.
pub(crate) const DIST_EXTRA: [u8; 30] = [
    0, 0, 0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 6, 6, 7, 7, 8, 8, 9, 9, 10, 10, 11, 11, 12, 12, 13,
    13,
];

const fn make_len_sym() -> [u8; 259] {
    let mut t = [0u8; 259];
    let mut s = 0;
    while s < 29 {
        let base = LEN_BASE[s] as usize;
        let n = 1usize << LEN_EXTRA[s];
        let mut l = base;
        while l < base + n && l <= 258 {
            t[l] = s as u8;
            l += 1;
        }
        s += 1;
    }
    t[258] = 28;
    t
}

/// Distance symbol for a distance 1..=32768.
#[inline(always)]
pub(crate) fn dist_sym(dist: u32) -> usize {
    // Branch-free: symbol = 2 * floor(log2(d)) + the bit below the top one (d = dist - 1);
    // d = 0 and 1 give 0 and 1.
    let d = dist - 1;
    let l = 31 - (d | 1).leading_zeros();
    (2 * l + ((d >> l.saturating_sub(1)) & 1)) as usize
}

#[inline(always)]
fn rd32(s: &[u8], i: usize) -> u32 {
    u32::from_le_bytes(s[i..i + 4].try_into().unwrap_or([0; 4]))
}

#[inline(always)]
fn rd64(s: &[u8], i: usize) -> u64 {
    u64::from_le_bytes(s[i..i + 8].try_into().unwrap_or([0; 8]))
}

/// Length of the common prefix of `s[a..]` and `s[b..]` (a < b), not reaching past `lim`.
#[inline(always)]
fn extend(s: &[u8], a: usize, b: usize, lim: usize) -> usize {
    // Two slices of equal length checked once, so the 8-byte loads need no bounds checks.
    let y = &s[b..lim];
    let x = &s[a..a + y.len()];
    let mut n = 0;
    for (p, q) in x.chunks_exact(8).zip(y.chunks_exact(8)) {
        let d = u64::from_le_bytes(p.try_into().unwrap_or([0; 8]))
            ^ u64::from_le_bytes(q.try_into().unwrap_or([0; 8]));
        if d != 0 {
            return n + (d.trailing_zeros() / 8) as usize;
        }
        n += 8;
    }
    n + x[n..]
        .iter()
        .zip(&y[n..])
        .take_while(|(p, q)| p == q)
        .count()
}

/// One sequence of literals covering `src[start..end]`.
fn literals_only(src: &[u8], start: usize, end: usize, seqs: &mut [Seq], f: &mut Freqs) -> usize {
    count_lits(f, &src[start..end]);
    seqs[0] = Seq {
        lits: (end - start) as u32,
        len: 0,
        dist: 0,
    };
    1
}

/// Fast-level hash of the low 5 bytes of `x`: a 5-byte key finds fewer, longer matches than a
/// 4-byte one (faster, and a better ratio on the corpus), while any 4 equal bytes still
/// count as a match.
/// `shift` = 64 - the table's bits.
#[inline(always)]
fn hash5(x: u64, shift: u32) -> usize {
    ((x << 24).wrapping_mul(889_523_592_379) >> shift) as usize
}

/// The 5 bytes at `i` (low 40 bits).
#[inline(always)]
fn rd40(s: &[u8], i: usize) -> u64 {
    // One bounds check for the five bytes.
    let w = &s[i..i + 5];
    u32::from_le_bytes(w[..4].try_into().unwrap_or([0; 4])) as u64 | (w[4] as u64) << 32
}

/// Better-level hash of 4 bytes.
#[inline(always)]
fn hash(v: u32, shift: u32) -> usize {
    (v.wrapping_mul(0x9E37_79B1) >> shift) as usize
}

/// Count the literals after the last match and store them as the final sequence `n` (no
/// match); returns the sequence count.
fn record_tail(f: &mut Freqs, seqs: &mut [Seq], n: usize, lits: &[u8]) -> usize {
    count_lits(f, lits);
    seqs[n] = Seq {
        lits: lits.len() as u32,
        len: 0,
        dist: 0,
    };
    n + 1
}

/// Count literal bytes into `f`, four per iteration (fewer loop instructions per byte; the
/// four increments stay in order, so repeated bytes give the same counts).
#[inline(always)]
fn count_lits(f: &mut Freqs, lits: &[u8]) {
    let mut ch = lits.chunks_exact(4);
    for t in &mut ch {
        f.lit[t[0] as usize] += 1;
        f.lit[t[1] as usize] += 1;
        f.lit[t[2] as usize] += 1;
        f.lit[t[3] as usize] += 1;
    }
    for &b in ch.remainder() {
        f.lit[b as usize] += 1;
    }
}

/// Count `lits` and one match of `len` at `dist` in `f`, and store them as sequence `n`;
/// returns the next sequence index. Shared by both levels' parsers (hot: always inlined).
#[inline(always)]
fn record(
    f: &mut Freqs,
    seqs: &mut [Seq],
    n: usize,
    lits: &[u8],
    len: usize,
    dist: usize,
) -> usize {
    count_lits(f, lits);
    f.lit[257 + LEN_SYM[len] as usize] += 1;
    let ds = dist_sym(dist as u32);
    f.dist[ds] += 1;
    seqs[n] = Seq {
        lits: lits.len() as u32 | (ds as u32) << 24,
        len: len as u16,
        dist: dist as u16,
    };
    n + 1
}

/// The LZ77 match finder. State is allocated in [`Matcher::new`]; calls do not allocate.
pub struct Matcher {
    level: Level,
    /// Input bytes per block (see [`block_len`]).
    block: usize,
    head: Box<[u32]>,
    prev: Box<[u32]>,
    /// Fast level: last position (mod 2^16) per hash; cleared only when the stored values
    /// would wrap around (about once per 64 KiB of input).
    hints: Box<[u16]>,
    /// Added to positions stored in `hints`; moved past the window on every new buffer so
    /// that hints of earlier buffers fail the cheap distance test.
    hint_off: u16,
    /// `hint_off` + length of the last buffer: values below it may be in `hints`.
    hint_end: u32,
    base: u32,
    next_base: u32,
    shift: u32,
    seqs: Vec<Seq>,
}

impl Default for Matcher {
    fn default() -> Self {
        Self::new()
    }
}

impl Matcher {
    /// A matcher for [`Level::Fast`].
    pub fn new() -> Self {
        Self::with_level(Level::Fast)
    }

    /// A matcher for the given level, sized for inputs of up to 64 KiB
    /// ([`DEFAULT_MAX_UNIT`]); all memory of [`Matcher::tokens`] is allocated here.
    pub fn with_level(level: Level) -> Self {
        Self::for_max_unit(level, DEFAULT_MAX_UNIT)
    }

    /// A matcher for the given level whose tables are sized for inputs of up to `max_unit`
    /// bytes (longer inputs still give correct tokens, found with the smaller tables).
    /// Aborts, as `Vec` does, if the allocation fails ([`Matcher::try_for_max_unit`] returns
    /// the error instead).
    pub fn for_max_unit(level: Level, max_unit: usize) -> Self {
        Self::try_for_max_unit(level, max_unit).unwrap_or_else(|e| crate::alloc_failed(e))
    }

    /// [`Matcher::for_max_unit`], or [`FallbackError::OutOfMemory`] when the allocation fails.
    pub fn try_for_max_unit(level: Level, max_unit: usize) -> Result<Self, FallbackError> {
        let mut m = Self::tables_only(level, max_unit)?;
        m.seqs = crate::try_boxed(max_seqs(m.block), Seq::default())?.into_vec();
        Ok(m)
    }

    /// The tables without the token buffer (the compressor brings its own), sized for inputs
    /// of up to `max_unit` bytes.
    pub(crate) fn tables_only(level: Level, max_unit: usize) -> Result<Self, FallbackError> {
        let fast = level == Level::Fast;
        Ok(Matcher {
            level,
            block: block_len(max_unit),
            // Each level allocates only the tables it uses.
            head: crate::try_boxed(if fast { 0 } else { 1 << better_bits(max_unit) }, 0)?,
            prev: crate::try_boxed(if fast { 0 } else { WINDOW }, 0)?,
            hints: crate::try_boxed(if fast { 1 << fast_bits(max_unit) } else { 0 }, 0u16)?,
            hint_off: 0,
            hint_end: 0,
            base: 1,
            next_base: 1,
            shift: 32 - 12,
            seqs: Vec::new(),
        })
    }

    /// Find the tokens of `src` (no history before it), in order. Every match has
    /// `4 <= len <= 258` and `1 <= dist <= 4096`. Does not allocate.
    pub fn tokens(&mut self, src: &[u8], out: &mut impl FnMut(Token)) {
        if self.seqs.len() < max_seqs(self.block) {
            // Only a matcher made by `tables_only` lacks the buffer (never handed out).
            self.seqs = vec![Seq::default(); max_seqs(self.block)];
        }
        let mut seqs = std::mem::take(&mut self.seqs);
        // Frequencies are not needed here; a stack scratch keeps tokens() allocation-free.
        let mut freqs = Freqs::new();
        self.begin(src.len());
        let mut start = 0;
        while start < src.len() {
            let end = (start + self.block).min(src.len());
            freqs.clear();
            let n = self.parse(src, start, end, &mut seqs, &mut freqs);
            let mut p = start;
            for s in &seqs[..n] {
                for &b in &src[p..p + s.nlits()] {
                    out(Token::Literal(b));
                }
                p += s.nlits();
                if s.len > 0 {
                    out(Token::Match {
                        len: s.len,
                        dist: s.dist,
                    });
                    p += s.len as usize;
                }
            }
            start = end;
        }
        self.seqs = seqs;
    }

    /// Bytes of heap memory this matcher holds.
    pub fn state_bytes(&self) -> usize {
        self.head.len() * 4
            + self.prev.len() * 4
            + self.hints.len() * 2
            + self.seqs.capacity() * std::mem::size_of::<Seq>()
    }

    /// Start a new independent buffer of `len` bytes: forget all history.
    pub(crate) fn begin(&mut self, len: usize) {
        // Every stored value is below `self.next_base`; make it the new base.
        // (Inputs beyond 4 GiB wrap; every candidate is still checked against the bytes.)
        let need = self.next_base as u64 + len as u64 + 1;
        if need >= u32::MAX as u64 {
            self.head.fill(0);
            self.prev.fill(0);
            self.next_base = 1;
        }
        self.base = self.next_base;
        // Hints of earlier buffers must read as more than WINDOW back: the values of this
        // buffer start WINDOW + 1 past the last stored one and may not wrap around to them
        // (else a stale hint could pass the test and the output would depend on earlier
        // calls). When they would, the table is cleared (0 is then WINDOW + 1 back).
        let mut off = self.hint_end as usize + WINDOW + 1;
        if off + len > 1 << 16 {
            self.hints.fill(0);
            off = WINDOW + 1;
        }
        self.hint_off = off as u16;
        self.hint_end = (off + len).min(1 << 16) as u32;
        self.next_base = self.base.wrapping_add(len as u32).wrapping_add(1);
        let table_bits = self.head.len().max(1).trailing_zeros();
        let bits = if len <= 4096 { 14 } else { HASH_BITS_MAX };
        self.shift = 32 - bits.min(table_bits);
    }

    /// Input bytes per DEFLATE block this matcher's buffers are sized for.
    pub(crate) fn block(&self) -> usize {
        self.block
    }

    /// Parse `src[start..end]` (bytes before `start` are history) into `seqs`, counting the
    /// symbols into `f`. Returns the number of sequences. Matches never pass `end`.
    #[inline(always)]
    pub(crate) fn parse(
        &mut self,
        src: &[u8],
        start: usize,
        end: usize,
        seqs: &mut [Seq],
        f: &mut Freqs,
    ) -> usize {
        match self.level {
            Level::Fast => self.parse_fast(src, start, end, seqs, f),
            Level::Better => self.parse_better(src, start, end, seqs, f),
        }
    }

    #[inline(always)]
    fn parse_fast(
        &mut self,
        src: &[u8],
        start: usize,
        end: usize,
        seqs: &mut [Seq],
        f: &mut Freqs,
    ) -> usize {
        let off = self.hint_off as usize;
        let t = &mut self.hints[..];
        // One monomorphic copy per table size, so the index mask is a constant and the
        // table accesses need no bounds checks.
        if let Ok(tab) = <&mut [u16; 1 << 14]>::try_from(&mut *t) {
            fast_parse(tab, off, src, start, end, seqs, f)
        } else if let Ok(tab) = <&mut [u16; 1 << 15]>::try_from(&mut *t) {
            fast_parse(tab, off, src, start, end, seqs, f)
        } else if let Ok(tab) = <&mut [u16; 1 << 16]>::try_from(&mut *t) {
            fast_parse(tab, off, src, start, end, seqs, f)
        } else {
            // Not reached: Fast matchers own a table of one of these sizes. Stay correct.
            literals_only(src, start, end, seqs, f)
        }
    }

    /// Insert position `p` into the chains and return the previous head of its hash.
    #[inline(always)]
    fn insert(&mut self, src: &[u8], p: usize) -> u32 {
        let h = hash(rd32(src, p), self.shift);
        let old = self.head[h];
        self.head[h] = (p as u32).wrapping_add(self.base);
        self.prev[p & (WINDOW - 1)] = old;
        old
    }

    /// Longest match at `ip` among the chain starting with stored value `cand`.
    #[inline(always)]
    fn best_match(&self, src: &[u8], ip: usize, lim: usize, mut cand: u32) -> (usize, usize) {
        const MAX_CHAIN: u32 = 24;
        const NICE: usize = 128;
        let base = self.base;
        let mut best_len = MIN_MATCH - 1;
        let mut best_dist = 0;
        let mut chain = MAX_CHAIN;
        let max_len = lim - ip;
        if max_len < MIN_MATCH {
            return (0, 0);
        }
        let cur = rd32(src, ip);
        while cand >= base && chain > 0 {
            let c = (cand - base) as usize;
            if c >= ip || ip - c > WINDOW {
                break;
            }
            if src[c + best_len.min(max_len - 1)] == src[ip + best_len.min(max_len - 1)]
                && rd32(src, c) == cur
            {
                let len = MIN_MATCH + extend(src, c + MIN_MATCH, ip + MIN_MATCH, lim);
                if len > best_len {
                    best_len = len;
                    best_dist = ip - c;
                    if len >= NICE.min(max_len) {
                        break;
                    }
                }
            }
            let next = self.prev[c & (WINDOW - 1)];
            if next >= cand {
                break;
            }
            cand = next;
            chain -= 1;
        }
        if best_len >= MIN_MATCH {
            (best_len, best_dist)
        } else {
            (0, 0)
        }
    }

    fn parse_better(
        &mut self,
        src: &[u8],
        start: usize,
        end: usize,
        seqs: &mut [Seq],
        f: &mut Freqs,
    ) -> usize {
        let mut n = 0;
        let mut anchor = start;
        let mut ip = start;
        if end - start >= MIN_MATCH + 4 {
            let ilimit = end - MIN_MATCH;
            let mut pending: Option<(usize, usize)> = None;
            while ip < ilimit {
                let (len, dist) = match pending.take() {
                    Some(m) => m,
                    None => {
                        let cand = self.insert(src, ip);
                        self.best_match(src, ip, end.min(ip + MAX_MATCH), cand)
                    }
                };
                if len == 0 {
                    ip += 1;
                    continue;
                }
                // One-step lazy evaluation.
                if len < 32 && ip + 1 < ilimit {
                    let cand = self.insert(src, ip + 1);
                    let next = self.best_match(src, ip + 1, end.min(ip + 1 + MAX_MATCH), cand);
                    if next.0 > len {
                        pending = Some(next);
                        ip += 1;
                        continue;
                    }
                    // ip + 1 is already inserted.
                    n = record(f, seqs, n, &src[anchor..ip], len, dist);
                    let stop = (ip + len).min(ilimit);
                    for p in ip + 2..stop {
                        self.insert(src, p);
                    }
                } else {
                    n = record(f, seqs, n, &src[anchor..ip], len, dist);
                    let stop = (ip + len).min(ilimit);
                    for p in ip + 1..stop {
                        self.insert(src, p);
                    }
                }
                ip += len;
                anchor = ip;
            }
        }
        record_tail(f, seqs, n, &src[anchor..end])
    }
}

/// The Fast level's parse of `src[start..end]` (bytes before `start` are history) with a
/// hint table of `N` entries (a power of two) whose stored values are positions plus `off`
/// (see [`Matcher::begin`]). Greedy: see the module documentation. Always inlined, so each
/// CPU-specific variant (`crate::variant`) compiles it with its own instruction set.
#[inline(always)]
pub(crate) fn fast_parse<const N: usize>(
    tab: &mut [u16; N],
    off: usize,
    src: &[u8],
    start: usize,
    end: usize,
    seqs: &mut [Seq],
    f: &mut Freqs,
) -> usize {
    let mask: usize = N - 1;
    let shift: u32 = 64 - N.trailing_zeros();
    // Matches never pass `end`; `src.len() == end` helps the bounds checks.
    let src = &src[..end];
    let mut n = 0;
    let mut anchor = start;
    let mut ip = start;
    // (`end >= 16` is then known to the compiler: `end - 4` below does not wrap.)
    if end >= start + 16 {
        let ilimit = end - MIN_MATCH;
        // Steps read 8 bytes and stop 8 bytes before the end: the loop runs while
        // `ip + 9 <= end`, tested as the bounds check of the step's load (one test instead of
        // a loop test and the load's two).
        while let Some(w) = src.get(ip..ip + 9) {
            let v = u64::from_le_bytes(w[..8].try_into().unwrap_or([0; 8]));
            let t0 = (ip + off) as u16;
            // Four positions per step from one 8-byte load; the first that matches wins
            // and ends the step (the later positions are not looked up: cheaper, and
            // fewer, longer matches).
            let mut hit = None;
            for k in 0..4 {
                let vk = (v >> (8 * k)) as u32;
                let h = hash5(v >> (8 * k), shift) & mask;
                let e = tab[h];
                let tk = t0.wrapping_add(k as u16);
                tab[h] = tk;
                // Hints of earlier buffers are more than WINDOW back (see `begin`);
                // a colliding one is just a candidate that fails the byte comparison.
                let d = tk.wrapping_sub(e) as usize;
                let pk = ip + k;
                // A hint of this buffer is of an earlier position of it (`begin`: values
                // grow with the position, the 16-bit ones wrap only past 4 KiB into a
                // buffer), so `d - 1 < WINDOW` implies `d <= pk`: one test per position,
                // no `min(WINDOW, ip)` per step (a test `d <= pk` on the hit path cost
                // more than it saved, by register pressure). The candidate's 4 bytes end
                // before `pk + 4 <= end`; the `min` keeps the read inside `src` for any
                // `d` and lets the compiler drop one bounds check.
                if d.wrapping_sub(1) < WINDOW && rd32(src, pk.wrapping_sub(d).min(end - 4)) == vk {
                    hit = Some((pk, d));
                    break;
                }
            }
            let Some((mut p, dist)) = hit else {
                ip += 4 + ((ip - anchor) >> SKIP);
                continue;
            };
            debug_assert!(dist <= p, "hint of a later position: {dist} > {p}");
            // The position after the hit still goes into the table (most of the ratio
            // the skipped lookups would give; `p + 6 <= end`).
            let q = p + 1;
            tab[hash5(rd40(src, q), shift) & mask] = (q + off) as u16;
            let mut c = p - dist;
            let lim = end.min(p + MAX_MATCH);
            let mut len = MIN_MATCH + extend(src, c + MIN_MATCH, p + MIN_MATCH, lim);
            // Extend backwards over bytes the skip jumped past.
            while p > anchor && c > 0 && len < MAX_MATCH && src[p - 1] == src[c - 1] {
                p -= 1;
                c -= 1;
                len += 1;
            }
            n = record(f, seqs, n, &src[anchor..p], len, dist);
            ip = p + len;
            anchor = ip;
            if ip + 6 <= end {
                // The two positions before the next one, hashed from one 8-byte load.
                let x = rd64(src, ip - 2);
                tab[hash5(x, shift) & mask] = (ip - 2 + off) as u16;
                tab[hash5(x >> 8, shift) & mask] = (ip - 1 + off) as u16;
            } else if ip < ilimit {
                let q = ip - 2;
                tab[hash5(rd40(src, q), shift) & mask] = (q + off) as u16;
                let q = ip - 1;
                tab[hash5(rd40(src, q), shift) & mask] = (q + off) as u16;
            }
        }
    }
    record_tail(f, seqs, n, &src[anchor..end])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dist_sym_matches_the_base_table() {
        for dist in 1..=32768u32 {
            let s = dist_sym(dist);
            let base = DIST_BASE[s] as u32;
            assert!(
                base <= dist && dist < base + (1 << DIST_EXTRA[s]),
                "dist {dist} -> symbol {s}"
            );
        }
    }

    #[test]
    fn len_sym_matches_the_base_table() {
        for (len, &sym) in LEN_SYM.iter().enumerate().skip(3) {
            let s = sym as usize;
            let base = LEN_BASE[s] as usize;
            assert!(base <= len && (len < base + (1 << LEN_EXTRA[s]) || len == 258));
        }
    }
}
