//! Huffman codes for the device's compress pass, built on the CPU (QPL's "dynamic, software
//! two-pass" and "static" styles, spec §4.4): from the statistics-mode histogram
//! ([`Histogram`], spec §2.4) to a length-limited canonical code ([`DeviceCode`]) written into
//! the compress AECS (codes at 0x120 / 0x5A0, the dynamic block header in the output
//! accumulator at 0x20, its bit count at 0x1C, spec §4.3), so that the device emits a standard
//! dynamic-Huffman DEFLATE block.
//!
//! Everything here works in fixed-size arrays: building a code and writing it into an AECS
//! allocate nothing, so an engine can do it per unit.
//!
//! Limits (RFC 1951 and what the hardware reads): literal/length and distance codes of at most
//! 15 bits ([`MAX_CODE_LEN`]; the AECS entry has a 4-bit length field), the code-length code
//! of at most 7 bits ([`MAX_CL_CODE_LEN`]), 286 literal/length and 30 distance symbols. The
//! header run-length codes the literal/length lengths and the distance lengths **separately**:
//! IAA decodes the two sequences on their own and refuses a repeat that crosses from one into
//! the other (analytics error 4, spec §3.3); QPL's header writer codes them separately too.

use crate::aecs::{canonical_codes, BitSink, CompressAecs, HuffEntry, CL_ORDER};
use crate::{DescriptorError, D_SYMBOLS, HISTOGRAM_BYTES, LL_SYMBOLS};

/// Longest literal/length or distance code (RFC 1951; the AECS length field holds 1-15).
pub const MAX_CODE_LEN: u8 = 15;
/// Longest code-length code (RFC 1951: 3-bit lengths).
pub const MAX_CL_CODE_LEN: u8 = 7;
/// Bits the AECS output accumulator holds (256 bytes): the largest header it can carry.
pub const MAX_HEADER_BITS: usize = 256 * 8;

/// The statistics-mode output (spec §2.4, QPL `hw_iaa_histogram`): 286 literal/length counts,
/// 2 reserved u32, 30 distance counts, 2 reserved u32, all little-endian, 1280 bytes. The
/// device counts the LZ77 tokens the compress pass of the same input will code (and one EOB
/// when end processing appends it).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Histogram {
    /// Literal/length symbol counts (0-255 literals, 256 EOB, 257-285 lengths).
    pub ll: [u32; LL_SYMBOLS],
    /// Distance symbol counts.
    pub d: [u32; D_SYMBOLS],
}

/// Byte offset of the distance counts in the statistics output.
const HIST_D_OFFSET: usize = (LL_SYMBOLS + 2) * 4;

impl Default for Histogram {
    fn default() -> Self {
        Self::new()
    }
}

impl Histogram {
    /// All counts zero.
    pub const fn new() -> Self {
        Histogram {
            ll: [0; LL_SYMBOLS],
            d: [0; D_SYMBOLS],
        }
    }

    /// Read the device's statistics output (at least [`HISTOGRAM_BYTES`] bytes; the reserved
    /// words are ignored).
    pub fn from_bytes(b: &[u8]) -> Result<Self, DescriptorError> {
        if b.len() < HISTOGRAM_BYTES {
            return Err(DescriptorError::ShortHistogram(b.len()));
        }
        let word = |i: usize| u32::from_le_bytes([b[i], b[i + 1], b[i + 2], b[i + 3]]);
        let mut h = Histogram::new();
        for (s, v) in h.ll.iter_mut().enumerate() {
            *v = word(s * 4);
        }
        for (s, v) in h.d.iter_mut().enumerate() {
            *v = word(HIST_D_OFFSET + s * 4);
        }
        Ok(h)
    }

    /// Write in the device's statistics layout (reserved words zero).
    pub fn to_bytes(&self, out: &mut [u8; HISTOGRAM_BYTES]) {
        out.fill(0);
        for (s, v) in self.ll.iter().enumerate() {
            out[s * 4..s * 4 + 4].copy_from_slice(&v.to_le_bytes());
        }
        for (s, v) in self.d.iter().enumerate() {
            let o = HIST_D_OFFSET + s * 4;
            out[o..o + 4].copy_from_slice(&v.to_le_bytes());
        }
    }

    /// Add `other`'s counts (saturating): a trained code's histogram over many units.
    pub fn add(&mut self, other: &Histogram) {
        for (a, b) in self.ll.iter_mut().zip(other.ll.iter()) {
            *a = a.saturating_add(*b);
        }
        for (a, b) in self.d.iter_mut().zip(other.d.iter()) {
            *a = a.saturating_add(*b);
        }
    }
}

/// Which symbols get a code.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Coverage {
    /// Only the symbols the histogram counts (and EOB): the two-pass dynamic mode, where the
    /// histogram is of the very input the code then compresses. A symbol without a code that
    /// the input needs ends the compress pass with analytics error 30.
    Observed,
    /// Every literal/length symbol 0-285 and distance symbol 0-29, each counted as at least
    /// 1/4096 of its tree's total (and at least once): a trained code that must compress any
    /// input, not only its sample. The floor keeps codes near 12 bits at most; on the device
    /// model (`bench/README.md` `hw_modes`) it moves a code learnt from a file's own first
    /// 256 KiB by at most 0.003 of ratio, and lifts one learnt from English text and used on
    /// database pages from 1.001 to 1.090 at 4 KiB units (fixed codes: 1.242).
    AllSymbols,
}

/// [`Coverage::AllSymbols`]: each symbol counts at least `total >> 12`.
const ALL_SYMBOLS_FLOOR_SHIFT: u32 = 12;

/// A length-limited canonical Huffman code for the device and the dynamic block header that
/// announces it. Build with [`DeviceCode::from_histogram`] or [`DeviceCode::from_lengths`];
/// put it into a compress AECS with [`DeviceCode::write_aecs`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DeviceCode {
    ll_lens: [u8; LL_SYMBOLS],
    d_lens: [u8; D_SYMBOLS],
    ll: [HuffEntry; LL_SYMBOLS],
    d: [HuffEntry; D_SYMBOLS],
    /// The header bits (BFINAL = 0), LSB first.
    header: [u8; MAX_HEADER_BITS / 8],
    header_bits: u16,
}

impl DeviceCode {
    /// The code for `h`: lengths of at most 15 bits minimising the coded size of `h`'s
    /// symbols, EOB always coded, every code complete (at least two codes per tree, as zlib
    /// wants). Fails only when the header would not fit the AECS output accumulator
    /// ([`DescriptorError::HeaderTooLong`]; then compress that unit in fixed mode).
    pub fn from_histogram(h: &Histogram, coverage: Coverage) -> Result<Self, DescriptorError> {
        let mut ll = h.ll;
        let mut d = h.d;
        ll[256] = ll[256].max(1);
        if coverage == Coverage::AllSymbols {
            // Every symbol counts at least 1/4096 of its tree's total (at least once), so no
            // code is much longer than 12 bits: the data a trained code meets later may use
            // symbols its sample used rarely or never.
            let floor = |f: &[u32]| {
                let total: u64 = f.iter().map(|&x| u64::from(x)).sum();
                u32::try_from(total >> ALL_SYMBOLS_FLOOR_SHIFT).map_or(u32::MAX, |v| v.max(1))
            };
            let (fl, fd) = (floor(&ll), floor(&d));
            ll.iter_mut().for_each(|f| *f = (*f).max(fl));
            d.iter_mut().for_each(|f| *f = (*f).max(fd));
        }
        let mut ll_lens = [0u8; LL_SYMBOLS];
        let mut d_lens = [0u8; D_SYMBOLS];
        code_lengths(&ll, MAX_CODE_LEN, &mut ll_lens);
        code_lengths(&d, MAX_CODE_LEN, &mut d_lens);
        Self::from_lengths(&ll_lens, &d_lens)
    }

    /// The code with these lengths (each 0-15; both codes complete, or a single code of
    /// length 1; EOB coded) and its header.
    pub fn from_lengths(
        ll_lens: &[u8; LL_SYMBOLS],
        d_lens: &[u8; D_SYMBOLS],
    ) -> Result<Self, DescriptorError> {
        if !crate::aecs::is_complete_code(ll_lens) || !crate::aecs::is_complete_code(d_lens) {
            return Err(DescriptorError::InvalidCodeLengths(
                "incomplete code: other inflaters (zlib) would reject the block",
            ));
        }
        if ll_lens[256] == 0 {
            return Err(DescriptorError::InvalidCodeLengths(
                "end-of-block (256) has no code",
            ));
        }
        let mut c = DeviceCode {
            ll_lens: *ll_lens,
            d_lens: *d_lens,
            ll: [HuffEntry { code: 0, len: 0 }; LL_SYMBOLS],
            d: [HuffEntry { code: 0, len: 0 }; D_SYMBOLS],
            header: [0; MAX_HEADER_BITS / 8],
            header_bits: 0,
        };
        canonical_codes(ll_lens, &mut c.ll)?;
        canonical_codes(d_lens, &mut c.d)?;
        c.header_bits = write_header(ll_lens, d_lens, &mut c.header)? as u16;
        Ok(c)
    }

    /// Literal/length code lengths (0 = no code).
    pub fn ll_lengths(&self) -> &[u8; LL_SYMBOLS] {
        &self.ll_lens
    }

    /// Distance code lengths (0 = no code).
    pub fn d_lengths(&self) -> &[u8; D_SYMBOLS] {
        &self.d_lens
    }

    /// The dynamic block header (BFINAL = 0, BTYPE = 10, HLIT, HDIST, HCLEN, the code-length
    /// code, the run-length-coded lengths) as LSB-first bytes and its length in bits: what the
    /// device emits before the first token.
    pub fn header(&self) -> (&[u8], usize) {
        let bits = self.header_bits as usize;
        (&self.header[..bits.div_ceil(8)], bits)
    }

    /// Bits the block takes for the symbols counted in `h` (header, codes and extra bits, no
    /// EOB beyond `h`'s count); `None` if `h` counts a symbol that has no code.
    pub fn block_bits(&self, h: &Histogram) -> Option<u64> {
        let mut bits = self.header_bits as u64;
        for (s, &f) in h.ll.iter().enumerate() {
            if f == 0 {
                continue;
            }
            let l = self.ll_lens[s] as u64;
            if l == 0 {
                return None;
            }
            let extra = if s >= 257 { LEN_EXTRA[s - 257] } else { 0 } as u64;
            bits += f as u64 * (l + extra);
        }
        for (s, &f) in h.d.iter().enumerate() {
            if f == 0 {
                continue;
            }
            let l = self.d_lens[s] as u64;
            if l == 0 {
                return None;
            }
            bits += f as u64 * (l + DIST_EXTRA[s] as u64);
        }
        Some(bits)
    }

    /// Put the code into `aecs` for a compress descriptor that reads it (RD_SRC2_AECS): the
    /// literal/length entries at 0x120 and distance entries at 0x5A0 (bits 14:0 code, MSB-first
    /// value; bits 18:15 length), the header (with `bfinal`) in the output accumulator at 0x20
    /// and its bit count at 0x1C. The CRC and XOR seeds are left as they are. No allocation.
    pub fn write_aecs(&self, aecs: &mut CompressAecs, bfinal: bool) {
        for (dst, e) in aecs.ll_sym.iter_mut().zip(self.ll.iter()) {
            *dst = e.pack();
        }
        for (dst, e) in aecs.d_sym.iter_mut().zip(self.d.iter()) {
            *dst = e.pack();
        }
        aecs.output_accum = self.header;
        aecs.output_accum[0] = (aecs.output_accum[0] & !1) | bfinal as u8;
        aecs.num_output_accum_bits = self.header_bits as u32;
    }
}

/// Extra bits of the length symbols 257-285.
const LEN_EXTRA: [u8; 29] = [
    0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3, 4, 4, 4, 4, 5, 5, 5, 5, 0,
];
/// Extra bits of the distance symbols 0-29.
const DIST_EXTRA: [u8; 30] = [
    0, 0, 0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 6, 6, 7, 7, 8, 8, 9, 9, 10, 10, 11, 11, 12, 12, 13,
    13,
];

/// Largest alphabet coded here (literal/length).
const MAX_SYMS: usize = LL_SYMBOLS;

/// Code lengths (at most `limit` bits) for the counts `freq` (at most 286 symbols) into
/// `lens`: an optimal Huffman code, then lengths above `limit` folded back with the Kraft sum
/// kept exactly 1. Symbols with count 0 get no code, except that fewer than two used symbols
/// are padded to two codes of length 1 (a complete code). No allocation.
pub fn code_lengths(freq: &[u32], limit: u8, lens: &mut [u8]) {
    let n_all = freq.len().min(lens.len()).min(MAX_SYMS);
    lens.iter_mut().for_each(|l| *l = 0);
    // Used symbols sorted by (count, symbol).
    let mut sym = [0u16; MAX_SYMS];
    let mut n = 0;
    for (s, &f) in freq.iter().enumerate().take(n_all) {
        if f != 0 {
            sym[n] = s as u16;
            n += 1;
        }
    }
    if n < 2 {
        // One (or no) symbol: two codes of length 1, the second on a neighbour.
        let a = if n == 1 { sym[0] as usize } else { 0 };
        let b = if a == 0 { 1 } else { 0 };
        if n_all >= 2 {
            lens[a] = 1;
            lens[b] = 1;
        }
        return;
    }
    let sym = &mut sym[..n];
    sym.sort_unstable_by_key(|&s| ((freq[s as usize] as u64) << 16) | s as u64);
    // Two-queue Huffman: leaves 0..n (ascending weight), internal nodes n..2n-1 made in
    // non-decreasing weight order; parent links give each leaf its depth.
    let mut weight = [0u64; 2 * MAX_SYMS];
    let mut parent = [0u16; 2 * MAX_SYMS];
    for (i, &s) in sym.iter().enumerate() {
        weight[i] = freq[s as usize] as u64;
    }
    let (mut leaf, mut inner) = (0usize, n);
    for node in n..2 * n - 1 {
        let mut pick = || {
            let take_leaf = leaf < n && (inner >= node || weight[leaf] <= weight[inner]);
            if take_leaf {
                leaf += 1;
                leaf - 1
            } else {
                inner += 1;
                inner - 1
            }
        };
        let a = pick();
        let b = pick();
        weight[node] = weight[a] + weight[b];
        parent[a] = node as u16;
        parent[b] = node as u16;
    }
    // Depths: the root (2n-2) is 0; a parent always has a higher index than its children.
    let mut depth = [0u8; 2 * MAX_SYMS];
    let root = 2 * n - 2;
    for i in (0..root).rev() {
        depth[i] = depth[parent[i] as usize].saturating_add(1);
    }
    // Length histogram, limited.
    let mut count = [0u32; 256];
    for &dpt in &depth[..n] {
        count[dpt as usize] += 1;
    }
    limit_counts(&mut count, limit as usize);
    // Longest codes to the least frequent symbols.
    let mut i = 0;
    for len in (1..=limit as usize).rev() {
        for _ in 0..count[len] {
            lens[sym[i] as usize] = len as u8;
            i += 1;
        }
    }
}

/// Make the length histogram `count` obey `limit` while keeping the Kraft sum exactly 1.
fn limit_counts(count: &mut [u32; 256], limit: usize) {
    let mut over = 0u32;
    for c in count.iter_mut().skip(limit + 1) {
        over += *c;
        *c = 0;
    }
    if over == 0 {
        return;
    }
    count[limit] += over;
    let full: u64 = 1 << limit;
    let mut kraft: u64 = (1..=limit).map(|l| (count[l] as u64) << (limit - l)).sum();
    while kraft > full {
        // Move one code from the longest length below the limit one level down.
        let mut l = limit - 1;
        while count[l] == 0 {
            l -= 1;
        }
        count[l] -= 1;
        count[l + 1] += 1;
        kraft -= 1 << (limit - l - 1);
    }
    while kraft < full {
        // Overshot: shorten the longest code whose gain still fits.
        let mut l = limit;
        while count[l] == 0 || (1u64 << (limit - l)) > full - kraft {
            l -= 1;
        }
        count[l] -= 1;
        count[l - 1] += 1;
        kraft += 1 << (limit - l);
    }
}

/// Run-length code one sequence of code lengths (symbols 0-18, extra-bit values) into
/// `out[n..]`; returns the new item count.
fn rle(v: &[u8], out: &mut [(u8, u8); LL_SYMBOLS + D_SYMBOLS], mut n: usize) -> usize {
    let mut i = 0;
    while i < v.len() {
        let l = v[i];
        let mut run = 1;
        while i + run < v.len() && v[i + run] == l {
            run += 1;
        }
        i += run;
        if l == 0 {
            while run >= 11 {
                let r = run.min(138);
                out[n] = (18, (r - 11) as u8);
                n += 1;
                run -= r;
            }
            if run >= 3 {
                out[n] = (17, (run - 3) as u8);
                n += 1;
                run = 0;
            }
        } else {
            out[n] = (l, 0);
            n += 1;
            run -= 1;
            while run >= 3 {
                let r = run.min(6);
                out[n] = (16, (r - 3) as u8);
                n += 1;
                run -= r;
            }
        }
        for _ in 0..run {
            out[n] = (l, 0);
            n += 1;
        }
    }
    n
}

/// Write the dynamic block header for these (valid) lengths into `buf` (BFINAL = 0); returns
/// its length in bits.
pub(crate) fn write_header(
    ll_lens: &[u8; LL_SYMBOLS],
    d_lens: &[u8; D_SYMBOLS],
    buf: &mut [u8; MAX_HEADER_BITS / 8],
) -> Result<usize, DescriptorError> {
    let hlit = 257
        + ll_lens[257..]
            .iter()
            .rposition(|&l| l != 0)
            .map_or(0, |p| p + 1);
    let hdist = 1 + d_lens.iter().rposition(|&l| l != 0).unwrap_or(0);
    let mut items = [(0u8, 0u8); LL_SYMBOLS + D_SYMBOLS];
    // The two sequences separately: no repeat crosses from one into the other.
    let n = rle(&ll_lens[..hlit], &mut items, 0);
    let n = rle(&d_lens[..hdist], &mut items, n);
    let items = &items[..n];
    let mut freq = [0u32; 19];
    for &(s, _) in items {
        freq[s as usize] += 1;
    }
    let mut cl_lens = [0u8; 19];
    code_lengths(&freq, MAX_CL_CODE_LEN, &mut cl_lens);
    let mut cl = [HuffEntry { code: 0, len: 0 }; 19];
    canonical_codes(&cl_lens, &mut cl)?;
    let hclen = 4 + CL_ORDER[4..]
        .iter()
        .rposition(|&s| cl_lens[s] != 0)
        .map_or(0, |p| p + 1);
    buf.fill(0);
    let mut sink = BitSink::new(buf);
    sink.put(0, 1)?;
    sink.put(0b10, 2)?;
    sink.put((hlit - 257) as u32, 5)?;
    sink.put((hdist - 1) as u32, 5)?;
    sink.put((hclen - 4) as u32, 4)?;
    for &s in &CL_ORDER[..hclen] {
        sink.put(cl_lens[s] as u32, 3)?;
    }
    for &(s, extra) in items {
        sink.put_code(cl[s as usize])?;
        match s {
            16 => sink.put(extra as u32, 2)?,
            17 => sink.put(extra as u32, 3)?,
            18 => sink.put(extra as u32, 7)?,
            _ => {}
        }
    }
    Ok(sink.bits())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kraft(lens: &[u8]) -> u64 {
        lens.iter()
            .filter(|&&l| l > 0)
            .map(|&l| 1u64 << (15 - l))
            .sum()
    }

    #[test]
    fn lengths_are_limited_and_complete() {
        // Fibonacci counts force a 30-deep tree.
        let mut f = [0u32; 40];
        let (mut a, mut b) = (1u32, 1u32);
        for x in f.iter_mut() {
            *x = a;
            let c = a.saturating_add(b);
            a = b;
            b = c;
        }
        for limit in [7u8, 9, 15] {
            let mut l = [0u8; 40];
            code_lengths(&f, limit, &mut l);
            assert!(l.iter().all(|&x| x >= 1 && x <= limit), "{l:?}");
            assert_eq!(kraft(&l), 1 << 15);
            // Less frequent never shorter.
            for i in 1..40 {
                assert!(l[i] <= l[i - 1]);
            }
        }
        let mut l = [0u8; 4];
        code_lengths(&[0, 0, 9, 0], 15, &mut l);
        assert_eq!(l, [1, 0, 1, 0]);
        code_lengths(&[0, 0, 0, 0], 15, &mut l);
        assert_eq!(l, [1, 1, 0, 0]);
    }

    #[test]
    fn runs_stop_at_the_end_of_each_sequence() {
        // Literal/length lengths that end in a run of 8s, distance lengths that start with 8s:
        // coded together the run would cross; coded separately each sequence ends its own.
        let mut ll = [0u8; LL_SYMBOLS];
        ll[..256].fill(9);
        ll[256..].fill(8);
        let d = [8u8; D_SYMBOLS];
        let mut items = [(0u8, 0u8); LL_SYMBOLS + D_SYMBOLS];
        let n_ll = rle(&ll, &mut items, 0);
        let covered = |it: &[(u8, u8)]| -> usize {
            it.iter()
                .map(|&(s, e)| match s {
                    16 | 17 => 3 + e as usize,
                    18 => 11 + e as usize,
                    _ => 1,
                })
                .sum()
        };
        assert_eq!(covered(&items[..n_ll]), LL_SYMBOLS);
        let n = rle(&d, &mut items, n_ll);
        assert_eq!(
            items[n_ll],
            (8, 0),
            "the distances start with a length, not a repeat"
        );
        assert_eq!(covered(&items[n_ll..n]), D_SYMBOLS);
    }
}
