//! Strict decoding: `Decompressor` accepts exactly what zlib accepts, including the streams
//! libdeflate alone would accept, and reports bytes after the final block.

use iaa_fallback::{DecompressError, Decompressor};

fn lsb(v: u32, n: u32) -> Vec<u8> {
    (0..n).map(|i| ((v >> i) & 1) as u8).collect()
}

/// A Huffman code, MSB first (as RFC 1951 writes codes into the LSB-first bit stream).
fn msb(v: u32, n: u32) -> Vec<u8> {
    (0..n).rev().map(|i| ((v >> i) & 1) as u8).collect()
}

fn pack(bits: &[u8]) -> Vec<u8> {
    let mut v = vec![0u8; bits.len().div_ceil(8)];
    for (i, &b) in bits.iter().enumerate() {
        v[i / 8] |= b << (i % 8);
    }
    v
}

fn corrupt(src: &[u8], cap: usize) -> bool {
    let mut out = vec![0u8; cap];
    matches!(
        Decompressor::new().decompress(src, &mut out),
        Err(DecompressError::Corrupt(_))
    )
}

#[test]
fn fixed_block_symbol_286_from_the_issue_is_corrupt() {
    // "a", then literal/length symbol 286 (libdeflate: a length-258 match), then EOB.
    assert!(corrupt(&[0x4b, 0x1c, 0x03, 0x00], 1024));
}

#[test]
fn incomplete_literal_length_code_from_the_issue_is_corrupt() {
    let s = [
        0x05, 0xc0, 0x81, 0x00, 0x00, 0x00, 0x00, 0x80, 0x20, 0xd6, 0xfc, 0x25, 0x4e,
    ];
    assert!(corrupt(&s, 1024));
}

#[test]
fn fixed_block_symbol_287_and_distance_30_are_corrupt() {
    // Symbol 287 (code 11000111) in a final fixed block.
    let mut bits = vec![1, 1, 0];
    bits.extend(msb(0b1100_0111, 8));
    bits.extend(msb(0, 7)); // EOB
    assert!(corrupt(&pack(&bits), 1024));

    // 30,000 stored bytes, then a fixed block copying 3 bytes from distance code 30 (libdeflate:
    // distance 24,577 + extra bits, which lies inside the output written so far).
    let n = 30_000u32;
    let mut s = vec![0x00];
    s.extend((n as u16).to_le_bytes());
    s.extend((!(n as u16)).to_le_bytes());
    s.extend((0..n).map(|i| (i * 7 + i / 251) as u8));
    let mut bits = vec![1, 1, 0];
    bits.extend(msb(1, 7)); // symbol 257: length 3
    bits.extend(msb(30, 5)); // distance code 30
    bits.extend(lsb(0, 13));
    bits.extend(msb(0, 7)); // EOB
    s.extend(pack(&bits));
    assert!(corrupt(&s, 40_000));
    // The same with distance code 29 (16,385 + extra bits) is fine.
    let mut ok = s[..5 + n as usize].to_vec();
    let mut bits = vec![1, 1, 0];
    bits.extend(msb(1, 7));
    bits.extend(msb(29, 5));
    bits.extend(lsb(0, 13));
    bits.extend(msb(0, 7));
    ok.extend(pack(&bits));
    let mut out = vec![0u8; 40_000];
    assert_eq!(
        Decompressor::new().decompress(&ok, &mut out),
        Ok(n as usize + 3)
    );
}

#[test]
fn too_many_codes_in_a_dynamic_header_is_corrupt() {
    // HLIT = 30 (287 literal/length codes): zlib refuses the header; libdeflate reads 288.
    let mut bits = vec![1, 0, 1];
    bits.extend(lsb(30, 5));
    bits.extend(lsb(0, 5));
    bits.extend(lsb(0, 4));
    bits.extend([0; 64]);
    assert!(corrupt(&pack(&bits), 1024));
}

#[test]
fn trailing_bytes_are_reported_with_the_stream_length() {
    // Final stored block "hello", then two more bytes.
    let mut s = vec![0x01, 5, 0, 0xFA, 0xFF];
    s.extend(b"hello");
    let mut out = [0u8; 16];
    assert_eq!(Decompressor::new().decompress(&s, &mut out), Ok(5));
    s.extend([0xAA, 0x55]);
    assert_eq!(
        Decompressor::new().decompress(&s, &mut out),
        Err(DecompressError::TrailingData {
            consumed: 10,
            trailing: 2,
            written: 5
        })
    );
    assert_eq!(&out[..5], b"hello");
}

// ---------------------------------------------------------------------------------------------
// Differential: `Decompressor` (libdeflate + the strictness check of `src/strict.rs`) against
// our own checked inflater, which follows zlib's rules, on generated streams built to reach
// every case the check exists for: fixed blocks with symbols 286/287 and distances 30/31,
// dynamic blocks with incomplete (one-code) and empty distance codes whose unused pattern is
// or is not used, HLIT/HDIST above the limits, incomplete code-length codes, several blocks
// of every kind in one stream, and bit flips of all of them.

use iaa_fallback::inflate::{inflate_status, InflateOptions};

struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

#[derive(Default)]
struct Bw {
    bytes: Vec<u8>,
    bit: usize,
}

impl Bw {
    fn put(&mut self, v: u32, n: u32) {
        for i in 0..n {
            if self.bit.is_multiple_of(8) {
                self.bytes.push(0);
            }
            let last = self.bytes.len() - 1;
            self.bytes[last] |= (((v >> i) & 1) as u8) << (self.bit % 8);
            self.bit += 1;
        }
    }
    /// A Huffman code (MSB first).
    fn code(&mut self, c: u32, n: u32) {
        for i in (0..n).rev() {
            self.put((c >> i) & 1, 1);
        }
    }
}

/// Canonical codes of `lens` (0 = no code).
fn canonical(lens: &[u8]) -> Vec<u32> {
    let mut count = [0u32; 16];
    for &l in lens {
        count[l as usize] += 1;
    }
    count[0] = 0;
    let mut next = [0u32; 16];
    let mut c = 0;
    for l in 1..16 {
        c = (c + count[l - 1]) << 1;
        next[l] = c;
    }
    lens.iter()
        .map(|&l| {
            if l == 0 {
                0
            } else {
                next[l as usize] += 1;
                next[l as usize] - 1
            }
        })
        .collect()
}

/// Code lengths of a random complete code over `n` random symbols of `alphabet` (`must`
/// always among them), at most 15 bits.
fn complete_lens(r: &mut Rng, alphabet: usize, n: usize, must: Option<usize>) -> Vec<u8> {
    let mut leaves = vec![0u8];
    while leaves.len() < n.max(2) {
        let k = r.below(leaves.len() as u64) as usize;
        if leaves[k] < 15 {
            let d = leaves[k] + 1;
            leaves[k] = d;
            leaves.push(d);
        }
    }
    let mut syms: Vec<usize> = (0..alphabet).collect();
    for i in (1..syms.len()).rev() {
        syms.swap(i, r.below(i as u64 + 1) as usize);
    }
    if let Some(m) = must {
        let at = syms.iter().position(|&s| s == m).unwrap_or(0);
        syms.swap(0, at);
    }
    let mut lens = vec![0u8; alphabet];
    for (d, &s) in leaves.iter().zip(&syms) {
        lens[s] = *d;
    }
    lens
}

/// One block's symbols: literals, matches (length symbol + extra, distance symbol + extra)
/// and EOB, drawn from the symbols that have codes (and, rarely, the unused pattern of a
/// one-code code, written as the code with its bit inverted).
fn body(r: &mut Rng, w: &mut Bw, ll: &[u8], dl: &[u8], out: &mut usize) {
    const LEN_EXTRA: [u32; 29] = [
        0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3, 4, 4, 4, 4, 5, 5, 5, 5, 0,
    ];
    const DIST_EXTRA: [u32; 32] = [
        0, 0, 0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 6, 6, 7, 7, 8, 8, 9, 9, 10, 10, 11, 11, 12, 12,
        13, 13, 13, 13,
    ];
    let lc = canonical(ll);
    let dc = canonical(dl);
    let lsyms: Vec<usize> = (0..ll.len()).filter(|&s| ll[s] != 0 && s != 256).collect();
    let dsyms: Vec<usize> = (0..dl.len()).filter(|&s| dl[s] != 0).collect();
    let n = r.below(40);
    for _ in 0..n {
        if lsyms.is_empty() {
            break;
        }
        let s = lsyms[r.below(lsyms.len() as u64) as usize];
        if s < 256 {
            w.code(lc[s], ll[s] as u32);
            *out += 1;
            continue;
        }
        if *out == 0 {
            continue;
        }
        w.code(lc[s], ll[s] as u32);
        let extra = LEN_EXTRA.get(s - 257).copied().unwrap_or(0);
        w.put(r.next() as u32 & ((1 << extra) - 1), extra);
        *out += 3;
        if dsyms.is_empty() || r.below(50) == 0 {
            // No distance code (or its unused pattern): one bit that is not a code.
            let (c, l) = dsyms.first().map_or((0, 1), |&d| (dc[d] ^ 1, dl[d] as u32));
            w.code(c, l);
        } else {
            // Small distances mostly, so most streams stay valid.
            let d = if r.below(4) == 0 {
                dsyms[r.below(dsyms.len() as u64) as usize]
            } else {
                *dsyms.iter().min().unwrap_or(&0)
            };
            w.code(dc[d], dl[d] as u32);
            let extra = DIST_EXTRA[d];
            w.put(
                if r.below(2) == 0 { 0 } else { r.next() as u32 } & ((1 << extra) - 1),
                extra,
            );
        }
    }
    if ll[256] != 0 {
        w.code(lc[256], ll[256] as u32);
    } else {
        w.code(0, 1);
    }
}

fn fixed_lens() -> (Vec<u8>, Vec<u8>) {
    let ll = (0..288)
        .map(|s| match s {
            0..=143 => 8,
            144..=255 => 9,
            256..=279 => 7,
            _ => 8,
        })
        .collect();
    (ll, vec![5; 32])
}

/// A random stream of 1..=4 blocks (stored, fixed, dynamic of every code shape).
fn random_stream(r: &mut Rng) -> Vec<u8> {
    let mut w = Bw::default();
    let blocks = 1 + r.below(4);
    let mut out = 0usize;
    for k in 0..blocks {
        let fin = (k + 1 == blocks) as u32;
        w.put(fin, 1);
        match r.below(5) {
            0 => {
                w.put(0, 2);
                if w.bit % 8 != 0 {
                    w.bit += 8 - w.bit % 8;
                }
                let n = r.below(20) as u32;
                w.put(n, 16);
                w.put(!n & 0xFFFF, 16);
                for _ in 0..n {
                    w.put(r.next() as u32 & 0xFF, 8);
                }
                out += n as usize;
            }
            1 => {
                w.put(1, 2);
                let (ll, dl) = fixed_lens();
                body(r, &mut w, &ll, &dl, &mut out);
            }
            _ => {
                w.put(2, 2);
                // Literal/length code: complete, or only EOB (one code of length 1).
                let hlit = 257 + r.below(32) as usize; // 257..=288: above 286 is refused
                let mut ll = if r.below(10) == 0 {
                    let mut v = vec![0u8; hlit];
                    v[256] = 1;
                    v
                } else {
                    let n = 2 + r.below(hlit as u64 - 1) as usize;
                    complete_lens(r, hlit, n, Some(256))
                };
                // Distance code: complete, one code of length 1, or none.
                let hdist = 1 + r.below(32) as usize; // above 30 is refused
                let dl = match r.below(6) {
                    0 => vec![0u8; hdist],
                    1 => {
                        let mut v = vec![0u8; hdist];
                        v[r.below(hdist as u64) as usize] = 1;
                        v
                    }
                    _ if hdist >= 2 => {
                        let n = 2 + r.below(hdist as u64 - 1) as usize;
                        complete_lens(r, hdist, n, None)
                    }
                    _ => vec![1u8; hdist],
                };
                if r.below(20) == 0 {
                    // Rarely: an over-subscribed or incomplete code.
                    let i = r.below(hlit as u64) as usize;
                    ll[i] = (ll[i] + 1) % 16;
                }
                w.put(hlit as u32 - 257, 5);
                w.put(hdist as u32 - 1, 5);
                // Code-length code: 0..=15 with 4 bits each (complete), or, rarely, with
                // one length changed (incomplete or over-subscribed).
                w.put(15, 4); // HCLEN = 19
                let mut cl = [0u8; 19];
                cl[..16].fill(4);
                if r.below(20) == 0 {
                    cl[r.below(19) as usize] = r.below(8) as u8;
                }
                const ORDER: [usize; 19] = [
                    16, 17, 18, 0, 8, 7, 9, 6, 10, 5, 11, 4, 12, 3, 13, 2, 14, 1, 15,
                ];
                for &s in &ORDER {
                    w.put(cl[s] as u32, 3);
                }
                let cc = canonical(&cl);
                for &l in ll.iter().chain(&dl) {
                    let l = l as usize;
                    if cl[l] != 0 {
                        w.code(cc[l], cl[l] as u32);
                    }
                }
                body(r, &mut w, &ll, &dl, &mut out);
            }
        }
    }
    w.bytes
}

/// The reference: our inflater (zlib's rules), and the whole input must be the stream.
fn reference(src: &[u8], dst: &mut [u8]) -> Option<usize> {
    let st = inflate_status(src, dst, &InflateOptions::default()).ok()?;
    (st.bytes_consumed() == src.len()).then_some(st.written)
}

#[test]
fn decompressor_agrees_with_the_checked_inflater_on_generated_streams() {
    let mut r = Rng(0x9E37_79B9_7F4A_7C15);
    let mut d = Decompressor::new();
    let (mut a, mut b) = (vec![0u8; 1 << 16], vec![0u8; 1 << 16]);
    let (mut accepted, mut refused) = (0, 0);
    for case in 0..60_000 {
        let mut s = random_stream(&mut r);
        if case % 3 == 1 && !s.is_empty() {
            let bit = r.below(s.len() as u64 * 8) as usize;
            s[bit / 8] ^= 1 << (bit % 8);
        }
        let want = reference(&s, &mut a);
        let got = d.decompress(&s, &mut b);
        match (want, got) {
            (Some(n), Ok(m)) => {
                assert_eq!(n, m, "case {case}: {s:02x?}");
                assert_eq!(a[..n], b[..n], "case {case}: {s:02x?}");
                accepted += 1;
            }
            (None, Err(_)) => refused += 1,
            (w, g) => panic!("case {case}: reference {w:?}, decompressor {g:?}: {s:02x?}"),
        }
    }
    // Both outcomes must be well represented for the test to mean something.
    assert!(
        accepted > 5_000 && refused > 5_000,
        "{accepted} accepted, {refused} refused"
    );
}

// ---------------------------------------------------------------------------------------------
// What `src/strict.rs` leaves to libdeflate. A final dynamic block whose two codes have two
// codewords or more is checked from its header's lengths alone, without Kraft sums, because
// libdeflate (1.26) itself refuses over-subscribed codes, incomplete codes other than one
// codeword of length 1 or none, a repeat of the previous length at the start and a run past
// HLIT + HDIST. These tests pin each refusal on libdeflate alone: a libdeflate that stops
// making one fails here, and the check must then make it itself.

/// A final dynamic block with literal/length lengths `ll` and distance lengths `dl`, its
/// code lengths written with `syms` (code-length symbols with extra bits) under a complete
/// code-length code that gives 16, 17, 18 and 13, 14, 15 five bits and the rest four, then
/// the data `body` writes.
fn dynamic_block(
    hlit: usize,
    hdist: usize,
    syms: &[(u32, u32, u32)],
    ll: &[u8],
    body: impl FnOnce(&mut Bw, &[u32], &[u8]),
) -> Vec<u8> {
    const ORDER: [usize; 19] = [
        16, 17, 18, 0, 8, 7, 9, 6, 10, 5, 11, 4, 12, 3, 13, 2, 14, 1, 15,
    ];
    let mut cl = [4u8; 19];
    for s in [13, 14, 15, 16, 17, 18] {
        cl[s] = 5;
    }
    let cc = canonical(&cl);
    let mut w = Bw::default();
    w.put(1, 1);
    w.put(2, 2);
    w.put(hlit as u32 - 257, 5);
    w.put(hdist as u32 - 1, 5);
    w.put(15, 4);
    for &s in &ORDER {
        w.put(cl[s] as u32, 3);
    }
    for &(sym, extra, n) in syms {
        w.code(cc[sym as usize], cl[sym as usize] as u32);
        w.put(extra, n);
    }
    let codes = canonical(ll);
    body(&mut w, &codes, ll);
    w.bytes
}

/// The code-length symbols that write `lens` one by one (no repeats).
fn plain(lens: &[u8]) -> Vec<(u32, u32, u32)> {
    lens.iter().map(|&l| (l as u32, 0, 0)).collect()
}

/// A complete literal/length code: literals 0..=254 of 8 bits (255/256 of the code space),
/// literal 255 and EOB of 9 bits (2/512).
fn complete_ll() -> Vec<u8> {
    let mut ll = vec![0u8; 257];
    for l in ll.iter_mut().take(255) {
        *l = 8;
    }
    ll[255] = 9;
    ll[256] = 9;
    ll
}

fn libdeflate_accepts(s: &[u8]) -> bool {
    let mut out = vec![0u8; 1024];
    libdeflater::Decompressor::new()
        .deflate_decompress(s, &mut out)
        .is_ok()
}

/// EOB, as the body of a block.
fn eob(w: &mut Bw, codes: &[u32], ll: &[u8]) {
    w.code(codes[256], ll[256] as u32);
}

#[test]
fn libdeflate_refuses_what_the_header_check_leaves_to_it() {
    let ll = complete_ll();
    // Two distance codes of length 1: complete.
    let dl = [1u8, 1];
    let mut lens = ll.clone();
    lens.extend(dl);
    let good = dynamic_block(257, 2, &plain(&lens), &ll, eob);
    assert!(libdeflate_accepts(&good), "the reference block itself");
    let mut out = [0u8; 16];
    assert_eq!(Decompressor::new().decompress(&good, &mut out), Ok(0));

    // Over-subscribed literal/length code (literal 0 of 7 bits instead of 8).
    let mut over = lens.clone();
    over[0] = 7;
    let s = dynamic_block(257, 2, &plain(&over), &over[..257], eob);
    assert!(
        !libdeflate_accepts(&s),
        "over-subscribed literal/length code"
    );
    assert!(corrupt(&s, 1024));

    // Incomplete literal/length code of many codewords (literal 0 of 9 bits).
    let mut inc = lens.clone();
    inc[0] = 9;
    let s = dynamic_block(257, 2, &plain(&inc), &inc[..257], eob);
    assert!(!libdeflate_accepts(&s), "incomplete literal/length code");
    assert!(corrupt(&s, 1024));

    // Incomplete distance code of two codewords (1 and 2 bits) and over-subscribed (1, 1, 1).
    for dl in [&[1u8, 2][..], &[1, 1, 1]] {
        let mut l = ll.clone();
        l.extend(dl);
        let s = dynamic_block(257, dl.len(), &plain(&l), &ll, eob);
        assert!(!libdeflate_accepts(&s), "distance code {dl:?}");
        assert!(corrupt(&s, 1024));
    }

    // A repeat of the previous length as the first code-length symbol (16, 3 times).
    let mut syms = vec![(16u32, 0u32, 2u32)];
    syms.extend(plain(&lens[3..]));
    let s = dynamic_block(257, 2, &syms, &ll, eob);
    assert!(!libdeflate_accepts(&s), "repeat at the start");
    assert!(corrupt(&s, 1024));

    // A run past HLIT + HDIST: the last two lengths (1, 1) written as 1 and then "repeat
    // 3 times" (16 with extra 0), one past the end.
    let mut syms = plain(&lens[..lens.len() - 1]);
    syms.push((16, 0, 2));
    let s = dynamic_block(257, 2, &syms, &ll, eob);
    assert!(!libdeflate_accepts(&s), "run past the end");
    assert!(corrupt(&s, 1024));
}

/// A final dynamic block whose literal/length code is the end of block alone (one codeword,
/// length 1), ended with the unused bit pattern: libdeflate takes it as the end of block,
/// zlib refuses it. The header scan can take the literal/length code as having two codewords
/// without looking only when the block is the stream's only one and wrote something; here
/// it wrote nothing, or a block before it did.
#[test]
fn a_lone_end_of_block_code_ended_by_the_unused_pattern_is_corrupt() {
    let mut ll = vec![0u8; 257];
    ll[256] = 1;
    let dl = [1u8, 1];
    let mut lens = ll.clone();
    lens.extend(dl);
    let block = |bit: u32| dynamic_block(257, 2, &plain(&lens), &ll, |w, _, _| w.put(bit, 1));
    let mut out = [0u8; 16];
    // The used pattern (0) is fine, the unused one (1) is not.
    assert_eq!(Decompressor::new().decompress(&block(0), &mut out), Ok(0));
    assert!(libdeflate_accepts(&block(1)), "libdeflate takes it");
    assert!(corrupt(&block(1), 16));
    // After a stored block of one byte: the stream wrote something, the final block not.
    for bit in [0, 1] {
        let mut s = vec![0x00, 0x01, 0x00, 0xfe, 0xff, b'x'];
        s.extend(block(bit));
        let got = Decompressor::new().decompress(&s, &mut out);
        if bit == 0 {
            assert_eq!(got, Ok(1));
        } else {
            assert!(matches!(got, Err(DecompressError::Corrupt(_))), "{got:?}");
        }
    }
}
