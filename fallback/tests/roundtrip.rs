//! Every corpus file, cut into units of several sizes, at both levels: our compressor's output
//! must be decoded to the original by libdeflate, by zlib (flate2, raw deflate) and by our own
//! inflater with a 4096-byte window (proving no distance exceeds 4096).

mod common;

use iaa_fallback::inflate::{inflate, InflateOptions};
use iaa_fallback::{max_compressed_len, CompressOutcome, Compressor, Decompressor, Level};
use std::io::Read;

/// Bytes of each file used: everything in release, a prefix in debug builds (< 60 s).
fn budget(unit: usize) -> usize {
    let small = unit <= 100;
    if cfg!(debug_assertions) {
        if small {
            16 << 10
        } else {
            384 << 10
        }
    } else if small {
        1 << 20
    } else {
        usize::MAX
    }
}

fn zlib_inflate(src: &[u8], expect_len: usize) -> Vec<u8> {
    let mut out = Vec::with_capacity(expect_len);
    flate2::read::DeflateDecoder::new(src)
        .read_to_end(&mut out)
        .expect("zlib inflates our output");
    out
}

fn check_units(data: &[u8], unit: usize, level: Level) -> (usize, usize, usize) {
    let mut c = Compressor::new(level);
    let mut d = Decompressor::new();
    let mut comp = vec![0u8; max_compressed_len(unit.min(data.len()).max(1))];
    let mut back = vec![0u8; unit.min(data.len()).max(1)];
    let opts = InflateOptions::iaa();
    let (mut total_in, mut total_out, mut incompressible) = (0, 0, 0);
    for u in data.chunks(unit) {
        total_in += u.len();
        match c
            .compress(u, &mut comp)
            .expect("compress never fails with max_compressed_len")
        {
            CompressOutcome::Incompressible => {
                incompressible += 1;
                total_out += u.len();
            }
            CompressOutcome::Compressed(n) => {
                assert!(n < u.len());
                total_out += n;
                let z = &comp[..n];
                let m = d.decompress(z, &mut back).expect("libdeflate decodes");
                assert_eq!(&back[..m], u, "libdeflate round trip, unit {unit}");
                back.fill(0);
                let m = inflate(z, &mut back, &opts).expect("4 KiB-window inflate decodes");
                assert_eq!(&back[..m], u, "own inflate round trip, unit {unit}");
                assert_eq!(zlib_inflate(z, u.len()), u, "zlib round trip, unit {unit}");
            }
        }
    }
    (total_in, total_out, incompressible)
}

#[test]
fn corpus_all_unit_sizes_both_levels() {
    for name in common::FILES {
        let Some(data) = common::load(name) else {
            continue;
        };
        for unit in [1usize, 100, 4096, 4097, 65536, usize::MAX] {
            let data = &data[..data.len().min(budget(unit))];
            let unit = unit.min(data.len());
            for level in [Level::Fast, Level::Better] {
                let (i, o, inc) = check_units(data, unit, level);
                eprintln!(
                    "{name:8} unit {unit:>9} {level:?}: {i} -> {o} bytes (ratio {:.3}), {inc} incompressible",
                    i as f64 / o as f64
                );
                if unit >= 4096 {
                    assert!(o < i, "{name} compresses at unit {unit}");
                }
                if unit == 1 {
                    assert_eq!(inc, i, "1-byte units never compress");
                }
            }
        }
    }
}

#[test]
fn better_is_not_worse_on_text() {
    let Some(data) = common::load("dickens") else {
        return;
    };
    let data = &data[..data.len().min(256 << 10)];
    let (_, fast, _) = check_units(data, 4096, Level::Fast);
    let (_, better, _) = check_units(data, 4096, Level::Better);
    assert!(better <= fast, "better {better} vs fast {fast}");
}

#[test]
fn random_data_is_incompressible() {
    let mut c = Compressor::default();
    for n in [0usize, 1, 2, 5, 100, 4096, 65536, 200_000] {
        let src = common::random_bytes(n, n as u64 + 7);
        let mut dst = vec![0u8; max_compressed_len(n)];
        assert_eq!(
            c.compress(&src, &mut dst),
            Ok(CompressOutcome::Incompressible),
            "n = {n}"
        );
        // Also with a dst exactly as large as the input.
        let mut dst = vec![0u8; n];
        assert_eq!(
            c.compress(&src, &mut dst),
            Ok(CompressOutcome::Incompressible),
            "n = {n}"
        );
    }
}

#[test]
fn small_dst_is_a_typed_error_and_exact_fit_works() {
    let src = b"abcabcabcabcabcabcabcabcabcabcabcabcabcabcabcabcabcabcabcabcabcabcabc".repeat(50);
    let mut c = Compressor::default();
    let mut big = vec![0u8; max_compressed_len(src.len())];
    let CompressOutcome::Compressed(n) = c.compress(&src, &mut big).unwrap() else {
        panic!("repetitive data compresses")
    };
    let mut exact = vec![0u8; n];
    assert_eq!(
        c.compress(&src, &mut exact),
        Ok(CompressOutcome::Compressed(n))
    );
    assert_eq!(exact, big[..n]);
    let mut small = vec![0u8; n - 1];
    assert!(matches!(
        c.compress(&src, &mut small),
        Err(iaa_fallback::FallbackError::OutputTooSmall { .. })
    ));
}

#[test]
fn long_runs_and_window_edges() {
    // Data whose best matches sit exactly at and just beyond 4096 bytes back.
    let block = common::random_bytes(4096, 99);
    let mut src = block.clone();
    src.extend_from_slice(&block); // distance exactly 4096
    src.extend_from_slice(&common::random_bytes(1, 5));
    src.extend_from_slice(&block); // distance 4097: must not be used
    src.extend(std::iter::repeat_n(b'z', 100_000));
    for level in [Level::Fast, Level::Better] {
        let mut c = Compressor::new(level);
        let mut dst = vec![0u8; max_compressed_len(src.len())];
        let CompressOutcome::Compressed(n) = c.compress(&src, &mut dst).unwrap() else {
            panic!("compresses")
        };
        let mut back = vec![0u8; src.len()];
        let m = inflate(&dst[..n], &mut back, &InflateOptions::iaa()).unwrap();
        assert_eq!(back[..m], src[..]);
        // The repeated random block must have been found (distance 4096).
        assert!(n < src.len() - 4096, "{level:?}: {n}");
    }
}

#[test]
fn matcher_tokens_respect_window() {
    use iaa_fallback::lz77::{Matcher, Token};
    let Some(data) = common::load("xml") else {
        return;
    };
    let data = &data[..data.len().min(200_000)];
    let mut m = Matcher::new();
    let mut rebuilt = Vec::new();
    m.tokens(data, &mut |t| match t {
        Token::Literal(b) => rebuilt.push(b),
        Token::Match { len, dist } => {
            assert!((3..=258).contains(&len) && (1..=4096).contains(&dist));
            let start = rebuilt.len() - dist as usize;
            for k in 0..len as usize {
                rebuilt.push(rebuilt[start + k]);
            }
        }
    });
    assert_eq!(rebuilt, data);
}

#[test]
fn state_memory_is_reported_and_small() {
    let fast = Compressor::new(Level::Fast).state_bytes();
    let better = Compressor::new(Level::Better).state_bytes();
    eprintln!("state bytes: Fast {fast}, Better {better}");
    // Fast: 128 KiB of hints plus the sequence buffer of two 32 KiB parse blocks (128 KiB);
    // Better: chains instead of hints.
    assert!(fast > 64 << 10 && fast < 320 << 10, "{fast}");
    assert!(better > fast, "{better} vs {fast}");
}

#[test]
fn outcome_does_not_depend_on_dst_size() {
    // Mixed data: text, runs and random bytes, several lengths.
    let text = common::load("dickens").unwrap_or_else(|| b"some text, some text. ".repeat(3000));
    let noise = common::random_bytes(70_000, 17);
    let mut inputs: Vec<Vec<u8>> = Vec::new();
    for n in [5usize, 40, 300, 3000, 70_000] {
        inputs.push(text[..n.min(text.len())].to_vec());
        inputs.push(noise[..n].to_vec());
        let mut mixed = text[..n.min(text.len()) / 2].to_vec();
        mixed.extend_from_slice(&noise[..n / 2]);
        inputs.push(mixed);
    }
    for level in [Level::Fast, Level::Better] {
        let mut c = Compressor::new(level);
        for src in &inputs {
            let mut big = vec![0u8; max_compressed_len(src.len())];
            let want = c.compress(src, &mut big).unwrap();
            let sizes = [
                0usize,
                1,
                src.len() / 3,
                src.len() / 2,
                src.len().saturating_sub(1),
                src.len(),
            ];
            for &d in &sizes {
                let mut dst = vec![0xAAu8; d];
                let got = c.compress(src, &mut dst);
                match want {
                    CompressOutcome::Incompressible => {
                        assert_eq!(got, Ok(CompressOutcome::Incompressible))
                    }
                    CompressOutcome::Compressed(k) if k <= d => {
                        assert_eq!(got, Ok(CompressOutcome::Compressed(k)));
                        assert_eq!(dst[..k], big[..k]);
                    }
                    CompressOutcome::Compressed(k) => assert_eq!(
                        got,
                        Err(iaa_fallback::FallbackError::OutputTooSmall {
                            needed: k,
                            available: d
                        })
                    ),
                }
            }
        }
    }
}
