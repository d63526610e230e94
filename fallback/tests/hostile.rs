//! Hostile inputs give typed errors, never panics.

mod common;

use iaa_fallback::inflate::{inflate, inflate_status, InflateError, InflateOptions, StopAt};
use iaa_fallback::{
    max_compressed_len, CompressOutcome, Compressor, DecompressError, Decompressor,
};
use std::io::Write;

fn zlib_deflate(data: &[u8], level: u32) -> Vec<u8> {
    let mut e = flate2::write::DeflateEncoder::new(Vec::new(), flate2::Compression::new(level));
    e.write_all(data).unwrap();
    e.finish().unwrap()
}

fn sample() -> Vec<u8> {
    let mut v = Vec::new();
    for i in 0..3000u32 {
        v.extend_from_slice(format!("line {} of the sample, value {}\n", i, i * 7 % 13).as_bytes());
    }
    v
}

fn ours(data: &[u8]) -> Vec<u8> {
    let mut c = Compressor::default();
    let mut out = vec![0u8; max_compressed_len(data.len())];
    match c.compress(data, &mut out).unwrap() {
        CompressOutcome::Compressed(n) => out[..n].to_vec(),
        CompressOutcome::Incompressible => panic!("sample compresses"),
    }
}

#[test]
fn truncated_streams() {
    let data = sample();
    let z = ours(&data);
    let mut d = Decompressor::new();
    let mut out = vec![0u8; data.len()];
    for cut in [0, 1, 2, z.len() / 2, z.len() - 1] {
        assert_eq!(
            d.decompress(&z[..cut], &mut out),
            Err(DecompressError::Truncated),
            "cut {cut}"
        );
        assert!(matches!(
            inflate(&z[..cut], &mut out, &InflateOptions::iaa()),
            Err(InflateError::Truncated { .. })
        ));
    }
}

#[test]
fn output_too_small() {
    let data = sample();
    let z = ours(&data);
    let mut d = Decompressor::new();
    let mut out = vec![0u8; data.len() - 1];
    assert_eq!(
        d.decompress(&z, &mut out),
        Err(DecompressError::OutputTooSmall)
    );
    assert_eq!(
        inflate(&z, &mut out, &InflateOptions::iaa()),
        Err(InflateError::OutputOverflow {
            written: data.len() - 1
        })
    );
    assert_eq!(out[..], data[..data.len() - 1], "the prefix is correct");
    // Exact size works.
    let mut out = vec![0u8; data.len()];
    assert_eq!(d.decompress(&z, &mut out), Ok(data.len()));
}

#[test]
fn invalid_block_type_and_stored_length() {
    let mut out = [0u8; 64];
    // BFINAL=1, BTYPE=11.
    assert_eq!(
        inflate(&[0x07, 0, 0], &mut out, &InflateOptions::default()),
        Err(InflateError::InvalidBlockType)
    );
    assert!(matches!(
        Decompressor::new().decompress(&[0x07, 0, 0], &mut out),
        Err(DecompressError::Corrupt(_))
    ));
    // Stored block with NLEN != !LEN.
    let bad = [0x01, 0x05, 0x00, 0x00, 0x00, 1, 2, 3, 4, 5];
    assert_eq!(
        inflate(&bad, &mut out, &InflateOptions::default()),
        Err(InflateError::BadStoredLength)
    );
    let good = [0x01, 0x05, 0x00, 0xFA, 0xFF, 1, 2, 3, 4, 5];
    assert_eq!(inflate(&good, &mut out, &InflateOptions::default()), Ok(5));
    assert_eq!(Decompressor::new().decompress(&good, &mut out), Ok(5));
}

#[test]
fn invalid_codes() {
    let mut out = [0u8; 64];
    // Fixed block with literal/length symbol 286 (code 11000110, 8 bits).
    // Bits LSB-first: BFINAL=1, BTYPE=01, then the code MSB-first.
    let mut bits: Vec<u8> = vec![1, 1, 0];
    bits.extend([1, 1, 0, 0, 0, 1, 1, 0]);
    bits.extend([0; 16]);
    let bytes = pack(&bits);
    assert_eq!(
        inflate(&bytes, &mut out, &InflateOptions::default()),
        Err(InflateError::InvalidCode)
    );
    assert!(matches!(
        Decompressor::new().decompress(&bytes, &mut out),
        Err(DecompressError::Corrupt(_))
    ));
    // Dynamic block with HLIT = 30 (287 codes): too many.
    let mut bits: Vec<u8> = vec![1, 0, 1];
    bits.extend(lsb(30, 5));
    bits.extend(lsb(0, 5));
    bits.extend(lsb(0, 4));
    bits.extend([0; 64]);
    assert_eq!(
        inflate(&pack(&bits), &mut out, &InflateOptions::default()),
        Err(InflateError::TooManyCodes)
    );
    // Dynamic block whose code-length code is over-subscribed (three lengths of 1).
    let mut bits: Vec<u8> = vec![1, 0, 1];
    bits.extend(lsb(0, 5));
    bits.extend(lsb(0, 5));
    bits.extend(lsb(0, 4)); // 4 code-length lengths: symbols 16, 17, 18, 0
    for _ in 0..3 {
        bits.extend(lsb(1, 3));
    }
    bits.extend(lsb(0, 3));
    bits.extend([0; 64]);
    assert_eq!(
        inflate(&pack(&bits), &mut out, &InflateOptions::default()),
        Err(InflateError::InvalidCodeLengths)
    );
}

fn lsb(v: u32, n: u32) -> Vec<u8> {
    (0..n).map(|i| ((v >> i) & 1) as u8).collect()
}

fn pack(bits: &[u8]) -> Vec<u8> {
    let mut v = vec![0u8; bits.len().div_ceil(8)];
    for (i, &b) in bits.iter().enumerate() {
        v[i / 8] |= b << (i % 8);
    }
    v
}

#[test]
fn distance_too_far_for_iaa_but_fine_for_zlib_window() {
    // zlib level 9 on data repeating every 10000 bytes uses distances > 4096.
    let block = common::random_bytes(10_000, 1);
    let data = [&block[..], &block[..], &block[..]].concat();
    let z = zlib_deflate(&data, 9);
    let mut out = vec![0u8; data.len()];
    match inflate(&z, &mut out, &InflateOptions::iaa()) {
        Err(InflateError::DistanceTooFar { dist, max: 4096 }) => assert!(dist > 4096),
        other => panic!("expected DistanceTooFar, got {other:?}"),
    }
    assert_eq!(
        inflate(&z, &mut out, &InflateOptions::default()),
        Ok(data.len())
    );
    assert_eq!(out, data);
    assert_eq!(Decompressor::new().decompress(&z, &mut out), Ok(data.len()));
}

#[test]
fn distance_before_start() {
    // Fixed block: length 3 (symbol 257 = 0000001, 7 bits), distance code 0 (dist 1) with no
    // output yet.
    let mut bits: Vec<u8> = vec![1, 1, 0];
    bits.extend([0, 0, 0, 0, 0, 0, 1]);
    bits.extend([0, 0, 0, 0, 0]);
    bits.extend([0; 16]);
    let mut out = [0u8; 16];
    assert_eq!(
        inflate(&pack(&bits), &mut out, &InflateOptions::default()),
        Err(InflateError::DistanceBeforeStart {
            dist: 1,
            written: 0
        })
    );
    assert!(matches!(
        Decompressor::new().decompress(&pack(&bits), &mut out),
        Err(DecompressError::Corrupt(_))
    ));
}

#[test]
fn stop_rules_and_consumed_bits() {
    // A non-final stored block "ab", then a final stored block "cd".
    let s = [
        0x00, 2, 0, 0xFD, 0xFF, b'a', b'b', 0x01, 2, 0, 0xFD, 0xFF, b'c', b'd',
    ];
    let mut out = [0u8; 8];
    let all = inflate_status(&s, &mut out, &InflateOptions::default()).unwrap();
    assert_eq!(
        (
            all.written,
            all.blocks,
            all.final_block,
            all.bytes_consumed()
        ),
        (4, 2, true, 14)
    );
    let first = inflate_status(
        &s,
        &mut out,
        &InflateOptions {
            stop: StopAt::AnyEob,
            ..InflateOptions::default()
        },
    )
    .unwrap();
    assert_eq!(
        (
            first.written,
            first.blocks,
            first.final_block,
            first.bits_consumed
        ),
        (2, 1, false, 56)
    );
    // Our compressor's output: consumed bits end within the last byte.
    let z = ours(&sample());
    let mut out = vec![0u8; sample().len()];
    let st = inflate_status(&z, &mut out, &InflateOptions::iaa()).unwrap();
    assert!(st.final_block);
    assert_eq!(st.bytes_consumed(), z.len());
}

#[test]
fn garbage_never_panics() {
    let mut d = Decompressor::new();
    let mut out = vec![0u8; 1 << 16];
    for seed in 0..300u64 {
        let g = common::random_bytes((seed as usize * 37) % 2000, seed);
        let _ = d.decompress(&g, &mut out);
        let _ = inflate(&g, &mut out, &InflateOptions::iaa());
        let _ = inflate(&g, &mut out[..10], &InflateOptions::default());
    }
    // Bit flips of a valid stream.
    let data = sample();
    let z = ours(&data);
    for i in 0..z.len().min(400) {
        let mut y = z.clone();
        y[i] ^= 1 << (i % 8);
        let _ = d.decompress(&y, &mut out);
        if let Ok(n) = inflate(&y, &mut out, &InflateOptions::iaa()) {
            assert!(n <= out.len());
        }
    }
}
