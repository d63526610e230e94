//! The strictness check run after libdeflate accepted a stream: reject what libdeflate accepts
//! and zlib (RFC 1951) does not, writing nothing and as cheaply as possible.
//!
//! What libdeflate (1.26, read in its `decompress_template.h` and `build_decode_table`)
//! accepts and zlib refuses, and where it can be seen:
//!
//! - in a dynamic header: HLIT > 286 or HDIST > 30; a code-length code of one codeword of
//!   length 1 or none (zlib wants it complete). libdeflate itself refuses over-subscribed
//!   codes, incomplete codes other than one codeword of length 1 or none, a repeat of the
//!   previous length at the start and a run past HLIT + HDIST (`tests/strict.rs` pins each).
//! - in the data of a fixed-Huffman block: literal/length symbols 286 and 287, distance
//!   symbols 30 and 31 (libdeflate decodes them as length 258 and far distances).
//! - in the data of a dynamic block whose literal/length or distance code has one codeword
//!   or none: the bit pattern no code uses (libdeflate decodes it as the one symbol, or, for
//!   an empty distance code, as distance 1).
//!
//! So a dynamic block whose two codes have two codewords or more cannot hold a forbidden
//! symbol: when it is the final block the check ends at its header, which it scans without
//! storing a length or building a table beyond the code-length code's ([`scan_final`]).
//! Every other block is walked without output, with a table per code that gives the total
//! bits (code plus extra bits) of each symbol and whether it is a literal, a length, the end
//! of block or forbidden; the walk's only job there is to find where the next block starts
//! (or to meet a forbidden symbol). A stored block is skipped by its length.

use crate::lz77::CL_ORDER;
use std::sync::OnceLock;

use crate::inflate::InflateError;
use crate::lz77::{DIST_EXTRA, LEN_EXTRA};

/// Index bits of the literal/length walk table.
const LIT_BITS: u32 = 11;
/// Index bits of the distance walk table.
const DIST_BITS: u32 = 8;

/// Distance entry kinds (bits 5..8 of a distance entry; bits 0..5 are the symbol's total
/// bits, code plus extra bits).
const DIST: u8 = 5;
/// Forbidden symbol or unused bit pattern.
const BAD: u8 = 3;
/// The code is longer than the table's index bits: decode it canonically.
const LONG: u8 = 4;

#[inline(always)]
const fn entry(kind: u8, bits: u32) -> u8 {
    (kind << 5) | bits as u8
}

/// Literal/length walk entry kinds (bits 16.. of a [`LitWalk`] entry).
/// A literal.
const W_LITS: u32 = 0;
/// A length symbol and its extra bits: a distance follows.
const W_LEN: u32 = 1;
/// The end of block.
const W_EOB: u32 = 2;
/// A forbidden symbol or an unused bit pattern.
const W_BAD: u32 = 3;
/// A code longer than [`LIT_BITS`]: decode it canonically.
const W_LONG: u32 = 4;

/// A literal/length walk entry: `bits` to consume in all (code and a length's extra bits,
/// bits 0..6: the entry itself is a shift count), `code` bits of them taken by the code
/// (bits 8..14), and the kind.
#[inline(always)]
const fn wentry(kind: u32, code: u32, bits: u32) -> u32 {
    kind << 16 | code << 8 | bits
}

/// Input bits, LSB first. Past the end of the input the stream reads as zero bits, so the
/// loops need no bounds test per symbol; [`Bits::overran`] tells whether any of those were
/// consumed, and the check then fails.
#[derive(Clone)]
struct Bits<'a> {
    src: &'a [u8],
    pos: usize,
    acc: u64,
    cnt: u32,
}

impl Bits<'_> {
    /// At least 56 valid bits in `acc` afterwards (zero bits past the end of the input).
    #[inline(always)]
    fn refill(&mut self) {
        if !self.refill_fast() {
            self.refill_slow();
        }
    }

    /// [`Bits::refill`] when 8 bytes are left to load (then `true`), else nothing.
    #[inline(always)]
    fn refill_fast(&mut self) -> bool {
        // Two comparisons, no overflow test on `pos + 8`.
        if let Some(b) = self.src.get(self.pos..).and_then(<[u8]>::first_chunk::<8>) {
            let v = u64::from_le_bytes(*b);
            // The bits above `cnt` already in `acc` are the same stream bits, so OR-ing the
            // word in again leaves them unchanged.
            self.acc |= v << self.cnt;
            self.pos += ((63 - self.cnt) >> 3) as usize;
            self.cnt |= 56;
            true
        } else {
            false
        }
    }

    /// Near the end of the input. Takes and returns the reader's state by value, so the
    /// reader's fields need no memory address and stay in registers in the hot loops.
    #[inline(always)]
    fn refill_slow(&mut self) {
        (self.pos, self.acc, self.cnt) = refill_slow(self.src, self.pos, self.acc, self.cnt);
    }

    #[inline(always)]
    fn take(&mut self, n: u32) -> u32 {
        let v = (self.acc & ((1u64 << n) - 1)) as u32;
        self.acc >>= n;
        self.cnt -= n;
        v
    }

    #[inline(always)]
    fn skip(&mut self, n: u32) {
        self.acc >>= n;
        self.cnt -= n;
    }

    /// Bits consumed so far (zero bits past the end included).
    fn consumed(&self) -> u64 {
        self.pos as u64 * 8 - u64::from(self.cnt)
    }

    /// Whether the walk read past the end of the input.
    fn overran(&self) -> bool {
        self.consumed() > self.src.len() as u64 * 8
    }
}

/// [`Bits::refill_slow`]'s work: byte by byte, zero bytes past the end of `src`.
#[cold]
#[inline(never)]
fn refill_slow(src: &[u8], mut pos: usize, mut acc: u64, mut cnt: u32) -> (usize, u64, u32) {
    while cnt <= 56 {
        let byte = src.get(pos).copied().unwrap_or(0);
        acc |= u64::from(byte) << cnt;
        pos += 1;
        cnt += 8;
    }
    (pos, acc, cnt)
}

/// What a code longer than a table's index bits needs: per length the first canonical code
/// (MSB first), how many codes there are and where their symbols start in `sorted`.
struct Canon<const N: usize> {
    count: [u16; 16],
    first: [u16; 16],
    offs: [u16; 16],
    sorted: [u16; N],
}

impl<const N: usize> Canon<N> {
    fn new() -> Self {
        Canon {
            count: [0; 16],
            first: [0; 16],
            offs: [0; 16],
            sorted: [0; N],
        }
    }

    /// Call `each(symbol, length, reversed code)` for each symbol with a code, in symbol
    /// order, and fill the canonical tables (`self.count` set and checked already).
    #[inline(always)]
    fn assign(&mut self, lens: &[u8], mut each: impl FnMut(usize, u32, usize)) {
        let mut next = [0u32; 16];
        let mut offs = [0u16; 16];
        let mut c = 0u32;
        for l in 1..16 {
            c = (c + u32::from(self.count[l - 1])) << 1;
            next[l] = c;
            self.first[l] = c as u16;
            if l < 15 {
                offs[l + 1] = offs[l] + self.count[l];
            }
        }
        self.offs = offs;
        for (s, &l) in lens.iter().enumerate() {
            if l == 0 {
                continue;
            }
            let l32 = u32::from(l);
            let code = next[l as usize];
            next[l as usize] += 1;
            if let Some(slot) = self.sorted.get_mut(offs[l as usize] as usize) {
                *slot = s as u16;
            }
            offs[l as usize] += 1;
            each(s, l32, (code.reverse_bits() >> (32 - l32)) as usize);
        }
    }

    /// Decode a code longer than `bits` (its first `bits` bits are no shorter code),
    /// canonically; `(symbol, code length)`, or `None` for an unused pattern. `acc` holds at
    /// least 15 valid bits.
    #[cold]
    #[inline(never)]
    fn long(&self, acc: u64, bits: u32) -> Option<(usize, u32)> {
        // The next 15 bits, first stream bit highest.
        let msb = u32::from((acc as u16).reverse_bits() >> 1);
        for l in bits + 1..16 {
            let code = msb >> (15 - l);
            let (first, count) = (
                u32::from(self.first[l as usize]),
                u32::from(self.count[l as usize]),
            );
            if code.wrapping_sub(first) < count {
                let at = u32::from(self.offs[l as usize]) + code - first;
                return self.sorted.get(at as usize).map(|&s| (usize::from(s), l));
            }
        }
        None
    }
}

/// The literal/length walk table: per value of the next [`LIT_BITS`] input bits, the entry
/// ([`wentry`]) of the symbol whose code they start with. (Entries that also took the
/// literals after a short literal, several per lookup, were tried: building them for 2048
/// entries per block cost more than they saved on the corpus's 64 KiB multi-block streams,
/// whose literal codes are mostly 7-11 bits.)
struct LitWalk {
    entries: [u32; 1 << LIT_BITS],
    canon: Canon<288>,
}

/// The distance walk table: per value of the next [`DIST_BITS`] bits, the total bits of the
/// distance (code and extra bits), or `BAD` / `LONG`.
struct DistWalk {
    entries: [u8; 1 << DIST_BITS],
    canon: Canon<32>,
}

/// The single-symbol walk entry of literal/length symbol `s` with a code of `l` bits;
/// 286 and 287 are forbidden (only fixed blocks give them codes).
#[inline(always)]
fn lit_wentry(s: usize, l: u32) -> u32 {
    match s {
        0..=255 => wentry(W_LITS, l, l),
        256 => wentry(W_EOB, l, l),
        257..=285 => wentry(W_LEN, l, l + u32::from(LEN_EXTRA[s - 257])),
        _ => wentry(W_BAD, 0, 0),
    }
}

impl LitWalk {
    fn new() -> Self {
        LitWalk {
            entries: [0; 1 << LIT_BITS],
            canon: Canon::new(),
        }
    }

    /// Tables of the code `lens` (counts already in `self.canon.count`, lengths checked).
    /// Patterns no code uses are `W_BAD`.
    fn build(&mut self, lens: &[u8]) {
        const SIZE: usize = 1 << LIT_BITS;
        let one = &mut self.entries;
        one.fill(wentry(W_BAD, 0, 0));
        self.canon.assign(lens, |s, l, rev| {
            if l <= LIT_BITS {
                let e = lit_wentry(s, l);
                let mut k = rev;
                while k < SIZE {
                    one[k] = e;
                    k += 1 << l;
                }
            } else {
                one[rev & (SIZE - 1)] = wentry(W_LONG, 0, 0);
            }
        });
    }
}

impl DistWalk {
    fn new() -> Self {
        DistWalk {
            entries: [entry(BAD, 0); 1 << DIST_BITS],
            canon: Canon::new(),
        }
    }

    fn build(&mut self, lens: &[u8]) {
        const SIZE: usize = 1 << DIST_BITS;
        let entries = &mut self.entries;
        entries.fill(entry(BAD, 0));
        self.canon.assign(lens, |s, l, rev| {
            if l <= DIST_BITS {
                let e = dist_kind(s, l);
                let mut k = rev;
                while k < SIZE {
                    entries[k] = e;
                    k += 1 << l;
                }
            } else {
                entries[rev & (SIZE - 1)] = entry(LONG, 0);
            }
        });
    }
}

#[inline(always)]
fn dist_kind(s: usize, l: u32) -> u8 {
    match DIST_EXTRA.get(s) {
        Some(&e) => entry(DIST, l + u32::from(e)),
        None => entry(BAD, 0),
    }
}

/// Check code-length counts (`count[0]` ignored) the way zlib does. `Ok(true)`: complete;
/// `Ok(false)`: incomplete but accepted (one code of length 1, or no code at all, allowed
/// only when `allow_incomplete`).
fn kraft(count: &[u16; 16], allow_incomplete: bool) -> Result<bool, InflateError> {
    let mut left: i32 = 1;
    let mut max = 0;
    for (l, &c) in count.iter().enumerate().skip(1) {
        left = (left << 1) - i32::from(c);
        if left < 0 {
            return Err(InflateError::InvalidCodeLengths);
        }
        if c > 0 {
            max = l;
        }
    }
    if left > 0 && !(allow_incomplete && max <= 1) {
        return Err(InflateError::InvalidCodeLengths);
    }
    Ok(left == 0)
}

/// The counts of each code length in `lens`.
fn counts(lens: &[u8]) -> [u16; 16] {
    let mut count = [0u16; 16];
    for &l in lens {
        count[usize::from(l & 15)] += 1;
    }
    count[0] = 0;
    count
}

/// Tables of the fixed code, built once per process.
struct Fixed {
    lit: LitWalk,
    dist: DistWalk,
}

fn fixed() -> &'static Fixed {
    static FIXED: OnceLock<Fixed> = OnceLock::new();
    FIXED.get_or_init(|| {
        let mut lens = [0u8; 288];
        for (s, l) in lens.iter_mut().enumerate() {
            *l = match s {
                0..=143 => 8,
                144..=255 => 9,
                256..=279 => 7,
                _ => 8,
            };
        }
        let mut f = Fixed {
            lit: LitWalk::new(),
            dist: DistWalk::new(),
        };
        f.lit.canon.count = counts(&lens);
        f.lit.build(&lens);
        f.dist.canon.count = counts(&[5; 32]);
        f.dist.build(&[5; 32]);
        f
    })
}

/// Check a stream libdeflate decoded successfully from exactly `src` (the bytes it reported
/// using) into `written` bytes. `Ok` means zlib accepts it too, and decodes it to the same
/// bytes.
///
/// Not inlined, and the tables of a walked dynamic block live in [`walk_dynamic`]'s frame:
/// inlined into the caller with them, its frame was 28 KiB, six stack pages probed on every
/// call.
#[inline(never)]
pub(crate) fn check(src: &[u8], written: usize) -> Result<(), InflateError> {
    let mut b = Bits {
        src,
        pos: 0,
        acc: 0,
        cnt: 0,
    };
    let truncated = InflateError::Truncated { written: 0 };
    let mut first = true;
    loop {
        b.refill();
        let hdr = b.take(3);
        let fin = hdr & 1 != 0;
        match hdr >> 1 {
            0 => {
                b.skip(b.cnt & 7);
                let len = b.take(16);
                let nlen = b.take(16);
                if len != (!nlen & 0xFFFF) {
                    return Err(InflateError::BadStoredLength);
                }
                if b.overran() {
                    return Err(truncated);
                }
                // Skip the data: restart the bit reader at the byte after it.
                let at = (b.consumed() / 8) as usize + len as usize;
                if at > src.len() {
                    return Err(truncated);
                }
                b = Bits {
                    src,
                    pos: at,
                    acc: 0,
                    cnt: 0,
                };
            }
            1 => {
                let f = fixed();
                walk(&mut b, &f.lit, &f.dist)?;
            }
            2 => {
                if fin {
                    // The common case, a final dynamic block: its header alone decides.
                    // When it is the only block and wrote something, its literal/length
                    // code has a codeword besides the end of block (libdeflate ended the
                    // block on one), so two or more.
                    let at = b.clone();
                    let ok = if first && written > 0 {
                        scan_final::<true>(&mut b)?
                    } else {
                        scan_final::<false>(&mut b)?
                    };
                    if ok {
                        return if b.overran() { Err(truncated) } else { Ok(()) };
                    }
                    // Rare: a code of one codeword or none; walk the block after all.
                    b = at;
                }
                walk_dynamic(&mut b)?;
            }
            _ => return Err(InflateError::InvalidBlockType),
        }
        if b.overran() {
            return Err(truncated);
        }
        if fin {
            return Ok(());
        }
        first = false;
    }
}

/// Read the header of a dynamic block that must be walked, build its tables and walk it.
#[inline(never)]
fn walk_dynamic(b: &mut Bits<'_>) -> Result<(), InflateError> {
    let mut lens = [0u8; LENS];
    let h = read_header(b, &mut lens)?;
    if b.overran() {
        return Err(InflateError::Truncated { written: 0 });
    }
    // Counted and checked as zlib does (libdeflate checks most of it too, but a walked
    // block is rare enough not to lean on that).
    let (lit, dist) = (&lens[..h.hlit], &lens[h.hlit..h.total]);
    let (mut lt, mut dt) = (LitWalk::new(), DistWalk::new());
    lt.canon.count = counts(lit);
    dt.canon.count = counts(dist);
    kraft(&lt.canon.count, true)?;
    kraft(&dt.canon.count, true)?;
    lt.build(lit);
    dt.build(dist);
    walk(b, &lt, &dt)
}

/// Room for 286 + 30 code lengths and the 8-byte stores that fill them.
const LENS: usize = 288 + 32 + 8;

/// What a dynamic header said.
struct Header {
    /// HLIT: literal/length code lengths, at `lens[..hlit]`.
    hlit: usize,
    /// HLIT + HDIST: the distance code lengths are `lens[hlit..total]`.
    total: usize,
}

/// Per code-length symbol: extra bits and the repeat count they add to (0..=15: 0 and 1).
const CL_EXTRA: [u32; 19] = [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2, 3, 7];
const CL_BASE: [u32; 19] = [1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 3, 3, 11];

/// Code-length table entry of symbol `sym` with a code of `len` bits: bits 0..6 all bits the
/// symbol takes (code and extra bits: the entry itself is the shift count, x86 shifts use
/// only those bits), 8..11 the code's length, 11..16 the length value (0 for repeats of
/// zero; 16 = repeat the previous one), bit 16 set for a length other than 0, bit 17 for a
/// repeat of the previous length, bit 18 for a length of 2 or more, 19..23 the repeat base,
/// 25..32 the mask of its extra bits.
const fn cl_entry(sym: usize, len: u32) -> u32 {
    let extra = CL_EXTRA[sym];
    let val = if sym <= 16 { sym as u32 } else { 0 };
    let nonzero = (sym >= 1 && sym <= 15) as u32;
    let repeat = (sym == 16) as u32;
    let long = (sym >= 2 && sym <= 15) as u32;
    (len + extra)
        | len << 8
        | val << 11
        | nonzero << 16
        | repeat << 17
        | long << 18
        | CL_BASE[sym] << 19
        | ((1 << extra) - 1) << 25
}

/// [`cl_entry`] of every symbol and code length (1..=7), computed at compile time.
const CL_ENTRIES: [[u32; 8]; 19] = {
    let mut t = [[0u32; 8]; 19];
    let mut s = 0;
    while s < 19 {
        let mut l = 1;
        while l < 8 {
            t[s][l] = cl_entry(s, l as u32);
            l += 1;
        }
        s += 1;
    }
    t
};

/// 7-bit values with their bits reversed: a code of `l` bits read LSB first indexes the
/// table at `REV7[code << (7 - l)]`.
const REV7: [u8; 128] = {
    let mut t = [0u8; 128];
    let mut i = 0;
    while i < 128 {
        t[i] = ((i as u8).reverse_bits()) >> 1;
        i += 1;
    }
    t
};

/// The repeat count of entry `e` given the bits `acc` at the symbol.
#[inline(always)]
fn cl_repeat(e: u32, acc: u64) -> u32 {
    (e >> 19 & 15) + ((acc >> (e >> 8 & 7)) as u32 & (e >> 25))
}

/// Read HLIT, HDIST, HCLEN and the code-length code, and build its table (7 index bits:
/// every pattern is a code, since the code must be complete). `b` holds >= 53 bits.
#[inline(always)]
fn read_cl_code(b: &mut Bits<'_>, table: &mut [u32; 128]) -> Result<(usize, usize), InflateError> {
    let hlit = b.take(5) as usize + 257;
    let hdist = b.take(5) as usize + 1;
    let hclen = b.take(4) as usize + 4;
    if hlit > 286 || hdist > 30 {
        return Err(InflateError::TooManyCodes);
    }
    let mut cl = [0u8; 19];
    for &s in &CL_ORDER[..hclen] {
        if b.cnt < 3 {
            b.refill();
        }
        cl[s] = b.take(3) as u8;
    }
    // The code-length code must be complete (zlib allows no exception for it; libdeflate
    // takes one of a single length-1 code or none).
    let count = counts(&cl);
    kraft(&count, false)?;
    // The symbols by code length, then symbol (canonical order); those without a code go
    // to the end, so the loop has no branch.
    let mut at = [0u8; 8];
    let mut n = 0u8;
    for l in 1..8 {
        at[l] = n;
        n += count[l] as u8;
    }
    at[0] = n;
    let mut sorted = [0u8; 32];
    for (s, &l) in cl.iter().enumerate() {
        let l = usize::from(l & 7);
        sorted[usize::from(at[l]) & 31] = s as u8;
        at[l] += 1;
    }
    // Table built by doubling: after length `l` the first 2^l entries hold every code of at
    // most `l` bits (each repeats with its period), so the next length starts from a copy
    // of them; each symbol is stored once, and the copies are fixed-size moves.
    let (mut code, mut k) = (0usize, 0usize);
    for l in 1..8 {
        let half = 1usize << (l - 1);
        if l > 1 {
            let (lo, hi) = table.split_at_mut(half);
            hi[..half].copy_from_slice(lo);
        }
        for _ in 0..count[l] {
            let s = usize::from(sorted[k & 31]);
            table[usize::from(REV7[(code << (7 - l)) & 127])] = CL_ENTRIES[s][l];
            code += 1;
            k += 1;
        }
        code <<= 1;
    }
    Ok((hlit, hlit + hdist))
}

/// Check the header of a final dynamic block, and say whether that is all the block needs:
/// `Ok(true)` when both codes are seen to have two codewords or more. `Ok(false)` only says
/// the scan did not see it (the caller then reads the header again and walks the block).
///
/// Why that suffices: libdeflate (1.26, `build_decode_table`) refuses an over-subscribed
/// code and an incomplete one other than a single codeword of length 1 or no codeword, a
/// repeat of the previous length at the start and a run past HLIT + HDIST; and it reached
/// this block's end-of-block code. So a code with two codewords or more that libdeflate took
/// is complete: every bit pattern is a code, of a symbol below HLIT <= 286 or HDIST <= 30,
/// which zlib decodes as libdeflate did. The tests of `tests/strict.rs` pin each of those
/// libdeflate refusals, so an update that drops one fails there.
///
/// No length is stored and no Kraft sum taken. The literal/length code has two codewords
/// when one of its lengths is 2 or more (a single codeword has length 1): one OR per
/// symbol, left out when the caller knows it already (`LIT_KNOWN`). The distance lengths (a
/// few dozen) are counted, those that are not 0; a run that crosses from the
/// literal/length lengths into them is not counted (an undercount only sends the block to
/// the walk).
#[inline(never)]
fn scan_final<const LIT_KNOWN: bool>(b: &mut Bits<'_>) -> Result<bool, InflateError> {
    let mut table = [0u32; 128];
    let mut r = b.clone();
    let (hlit, total) = read_cl_code(&mut r, &mut table)?;
    // A local reader (the caller's stays in memory). One refill per seven lengths (0..=15,
    // at most 7 bits each, and a refill leaves >= 56), so >= 7 bits are left when the group
    // ends: enough to look up the next symbol's entry before the refill, which only adds
    // bits above those. A repeat (16, 17, 18: up to 14 bits; a few per header) refills
    // itself and starts a new group. The path from one symbol to the next is mask, load,
    // shift; a refill's load runs beside it instead of on it.
    //
    // In this loop only the low 6 bits of `r.cnt` are the count: the whole entry is
    // subtracted (its bits 0..6 are the symbol's bits, 6 is 0), which is exact modulo 64, and
    // the refill uses only those bits; the count is masked when the loop ends.
    let (mut i, mut long) = (0usize, 0u32);
    r.refill();
    let mut e = table[(r.acc & 127) as usize];
    'lit: loop {
        for _ in 0..7 {
            // The entry is the shift count (bits 0..6, 6 and 7 are 0; a shift uses only
            // 0..6): no mask on the path to the next symbol.
            if e & 0xFE00_0000 != 0 {
                // A repeat (a mask of extra bits in bits 25..32): its count.
                i += cl_repeat(e, r.acc) as usize;
                r.acc = r.acc.wrapping_shr(e);
                r.cnt = r.cnt.wrapping_sub(e);
                if i >= hlit {
                    break 'lit;
                }
                scan_refill(&mut r);
                e = table[(r.acc & 127) as usize];
                continue 'lit;
            }
            // A length covers one.
            i += 1;
            r.acc = r.acc.wrapping_shr(e);
            r.cnt = r.cnt.wrapping_sub(e);
            if !LIT_KNOWN {
                long |= e;
            }
            if i >= hlit {
                break 'lit;
            }
            e = table[(r.acc & 127) as usize];
        }
        scan_refill(&mut r);
    }
    r.cnt &= 63;
    // `prev`: 1 when the last distance length was not 0 (a repeat of it is `prev` too).
    let (mut prev, mut dist) = (0u32, 0u32);
    while i < total && dist < 2 {
        if r.cnt < 14 {
            r.refill();
        }
        let e = table[(r.acc & 127) as usize];
        let rep = cl_repeat(e, r.acc);
        r.skip(e & 63);
        let f = (e >> 16 & 1) | (e >> 17 & prev);
        prev = f;
        dist += f * rep;
        i += rep as usize;
    }
    *b = r;
    Ok((LIT_KNOWN || long >> 18 & 1 != 0) && dist >= 2)
}

/// [`Bits::refill`] for [`scan_final`]'s loop, where only the count's low 6 bits are valid.
#[inline(always)]
fn scan_refill(r: &mut Bits<'_>) {
    if let Some(w) = r.src.get(r.pos..).and_then(<[u8]>::first_chunk::<8>) {
        // 63 - c = !c for c < 64.
        r.acc |= u64::from_le_bytes(*w).wrapping_shl(r.cnt);
        r.pos += ((!r.cnt & 63) >> 3) as usize;
        r.cnt |= 56;
    } else {
        r.cnt &= 63;
        r.refill_slow();
    }
}

/// Read a dynamic header with its code lengths into `lens`, checked as zlib checks them
/// (the caller checks the two codes' Kraft sums).
#[inline(never)]
fn read_header(b: &mut Bits<'_>, lens: &mut [u8; LENS]) -> Result<Header, InflateError> {
    // On a local copy, as in `walk`.
    let mut r = b.clone();
    let res = read_header_local(&mut r, lens);
    *b = r;
    res
}

#[inline(always)]
fn read_header_local(b: &mut Bits<'_>, lens: &mut [u8; LENS]) -> Result<Header, InflateError> {
    let mut table = [0u32; 128];
    let (hlit, total) = read_cl_code(b, &mut table)?;
    // The first symbol cannot repeat a previous length; every later one has one.
    if b.cnt < 7 {
        b.refill();
    }
    if (table[(b.acc & 127) as usize] >> 11) & 31 == 16 {
        return Err(InflateError::InvalidRepeat);
    }
    let mut prev = 0u8;
    let mut i = 0;
    while i < total {
        if b.cnt < 14 {
            b.refill();
        }
        let e = table[(b.acc & 127) as usize];
        let rep = cl_repeat(e, b.acc) as usize;
        b.skip(e & 63);
        let v = (e >> 11) as u8 & 31;
        let val = if v == 16 { prev } else { v };
        // 8-byte stores (`lens` has room past `total`), no memset call per run.
        let mut k = i;
        while k < (i + rep).min(total) {
            lens[k..k + 8].copy_from_slice(&[val; 8]);
            k += 8;
        }
        prev = val;
        i += rep;
    }
    if i > total {
        return Err(InflateError::InvalidRepeat);
    }
    if lens[256] == 0 {
        return Err(InflateError::MissingEob);
    }
    Ok(Header { hlit, total })
}

/// Walk one block's symbols up to its end-of-block code; `Err(InvalidCode)` at a forbidden
/// symbol or an unused pattern. Nothing is written: libdeflate decoded the output already.
///
/// Each lookup of the literal/length table takes a literal or a length with its extra bits
/// (at most `LIT_BITS` + 5 bits), a distance takes at most 28 more. After a literal the next
/// entry is looked up from the bits already there, before any refill, off the path from one
/// lookup to the next; up to four literals share a refill.
#[inline(never)]
fn walk(b: &mut Bits<'_>, lit: &LitWalk, dist: &DistWalk) -> Result<(), InflateError> {
    // On a local copy: through `b` the reader's three fields went to memory every symbol.
    let mut r = b.clone();
    let res = walk_local(&mut r, lit, dist);
    *b = r;
    res
}

#[inline(always)]
fn walk_local(b: &mut Bits<'_>, lit: &LitWalk, dist: &DistWalk) -> Result<(), InflateError> {
    const LM: u64 = (1 << LIT_BITS) - 1;
    refill_checked(b)?;
    let mut e = lit.entries[(b.acc & LM) as usize];
    'refill: loop {
        // Up to four entries per refill: >= 56 bits at the first, and a literal takes at
        // most `LIT_BITS`, so >= 45, 34 and 23 at the next three, and >= 12 after the
        // fourth for the look-ahead. An entry with a distance takes at most 44: from the
        // third slot on, refill before it.
        for slot in 0..4 {
            // The entry is the shift count (bits 0..6; a shift uses only those).
            b.acc = b.acc.wrapping_shr(e);
            b.cnt -= e & 63;
            if e >> 16 != W_LITS {
                if slot >= 2 {
                    refill_checked(b)?;
                }
                if other(b, lit, dist, e)? {
                    return Ok(());
                }
                e = lit.entries[(b.acc & LM) as usize];
                continue 'refill;
            }
            // The next entry is looked up before the refill.
            e = lit.entries[(b.acc & LM) as usize];
        }
        refill_checked(b)?;
    }
}

/// Refill, and fail when the reader is past the end of the input by more than the
/// accumulator holds: some of the zero bits were consumed (the exact test is made at the end
/// of the block). Only a refill moves `pos`, and one that loaded a whole word cannot have
/// gone past the end, so the test is on the slow path only.
#[inline(always)]
fn refill_checked(b: &mut Bits<'_>) -> Result<(), InflateError> {
    if !b.refill_fast() {
        b.refill_slow();
        if b.pos > b.src.len() + 8 {
            return Err(InflateError::Truncated { written: 0 });
        }
    }
    Ok(())
}

/// The rest of a walk entry `e` that is not literals alone, its bits consumed (>= 44 bits
/// left): a long code, a distance, the end of block (`Ok(true)`) or a forbidden symbol.
/// Refills at the end (and before a long code, which with its distance can take 48 bits).
#[inline(always)]
fn other(b: &mut Bits<'_>, lit: &LitWalk, dist: &DistWalk, e: u32) -> Result<bool, InflateError> {
    let mut kind = e >> 16;
    if kind == W_LONG {
        refill_checked(b)?;
        let (s, l) = lit
            .canon
            .long(b.acc, LIT_BITS)
            .ok_or(InflateError::InvalidCode)?;
        let le = lit_wentry(s, l);
        b.skip(le & 63);
        kind = le >> 16;
    }
    match kind {
        W_LITS => {}
        W_LEN => distance(b, dist)?,
        W_EOB => return Ok(true),
        _ => return Err(InflateError::InvalidCode),
    }
    refill_checked(b)?;
    Ok(false)
}

/// Skip one distance code and its extra bits (`b` holds >= 28 bits).
#[inline(always)]
fn distance(b: &mut Bits<'_>, dist: &DistWalk) -> Result<(), InflateError> {
    const DM: u64 = (1 << DIST_BITS) - 1;
    let mut d = dist.entries[(b.acc & DM) as usize];
    if d >> 5 == LONG {
        let (s, l) = dist
            .canon
            .long(b.acc, DIST_BITS)
            .ok_or(InflateError::InvalidCode)?;
        d = dist_kind(s, l);
    }
    if d >> 5 != DIST {
        return Err(InflateError::InvalidCode);
    }
    b.skip(u32::from(d & 31));
    Ok(())
}
