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
