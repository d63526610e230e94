//! Every encoder variant this CPU supports (`Variant::supported()`), forced one by one: the
//! same bytes as the portable reference, and every stream decodes to its input through
//! libdeflate, zlib (flate2, raw deflate) and our own inflater limited to IAA's 4096-byte
//! window (`InflateOptions::iaa()`: a longer distance is an error). Decoding on the device
//! model (the IAA-decodability test) is in `batch/tests/variants.rs`.

mod common;

use iaa_fallback::inflate::{inflate, InflateOptions};
use iaa_fallback::{
    max_compressed_len, CompressOutcome, Compressor, Decompressor, FallbackError, Level, Variant,
};
use std::io::Read;

/// Inputs of every kind: the corpus (a prefix in debug builds), runs, noise, mixed, short.
fn inputs() -> Vec<(String, Vec<u8>)> {
    let per_file = if cfg!(debug_assertions) {
        256 << 10
    } else {
        4 << 20
    };
    let mut v: Vec<(String, Vec<u8>)> = common::FILES
        .iter()
        .filter_map(|n| {
            common::load(n).map(|d| (n.to_string(), d[..d.len().min(per_file)].to_vec()))
        })
        .collect();
    let noise = common::random_bytes(200_000, 7);
    let text = b"the quick brown fox jumps over the lazy dog; ".repeat(4000);
    let mut mixed = Vec::new();
    for k in 0..40 {
        mixed.extend_from_slice(&text[k * 37..k * 37 + 3000]);
        mixed.extend_from_slice(&noise[k * 2000..k * 2000 + 2000]);
        mixed.extend(std::iter::repeat_n(k as u8, 500 + 97 * k));
    }
    v.push(("noise".into(), noise));
    v.push(("text".into(), text));
    v.push(("mixed".into(), mixed));
    v.push(("zeros".into(), vec![0u8; 150_000]));
    v
}

fn zlib_inflate(src: &[u8], expect_len: usize) -> Vec<u8> {
    let mut out = Vec::with_capacity(expect_len);
    flate2::read::DeflateDecoder::new(src)
        .read_to_end(&mut out)
        .expect("zlib inflates our output");
    out
}

#[test]
fn every_supported_variant_matches_the_portable_one_and_round_trips() {
    let variants = Variant::supported();
    eprintln!(
        "supported variants: {variants:?}; selected: {:?}",
        Variant::selected()
    );
    assert_eq!(variants[0], Variant::Portable);
    let data = inputs();
    let opts = InflateOptions::iaa();
    let mut d = Decompressor::new();
    for level in [Level::Fast, Level::Better] {
        for max_unit in [4096usize, 16384, 65536] {
            // Units at the configured size, and some larger than it (still correct).
            for unit in [max_unit, 3 * max_unit / 2 + 1, 100] {
                let mut reference = Compressor::with_variant(level, max_unit, Variant::Portable)
                    .expect("portable always runs");
                let mut others: Vec<Compressor> = variants[1..]
                    .iter()
                    .map(|&v| Compressor::with_variant(level, max_unit, v).expect("supported"))
                    .collect();
                let mut want = vec![0u8; max_compressed_len(unit)];
                let mut got = vec![0u8; max_compressed_len(unit)];
                let mut back = vec![0u8; unit];
                let (mut total, mut stored) = (0usize, 0usize);
                for (name, bytes) in &data {
                    for u in bytes.chunks(unit) {
                        let r = reference.compress(u, &mut want).expect("fits");
                        total += u.len();
                        stored += match r {
                            CompressOutcome::Compressed(n) => n,
                            CompressOutcome::Incompressible => u.len(),
                        };
                        if let CompressOutcome::Compressed(n) = r {
                            let z = &want[..n];
                            let m = d.decompress(z, &mut back).expect("libdeflate decodes");
                            assert_eq!(&back[..m], u, "{name}: libdeflate, unit {unit}");
                            let m = inflate(z, &mut back, &opts).unwrap_or_else(|e| {
                                panic!("{name}: not within the 4 KiB window / invalid: {e}")
                            });
                            assert_eq!(&back[..m], u, "{name}: own inflate, unit {unit}");
                            assert_eq!(zlib_inflate(z, u.len()), u, "{name}: zlib, unit {unit}");
                        }
                        for c in others.iter_mut() {
                            let g = c.compress(u, &mut got).expect("fits");
                            assert_eq!(g, r, "{name}: {:?} outcome, unit {unit}", c.variant());
                            if let CompressOutcome::Compressed(n) = g {
                                assert_eq!(
                                    got[..n],
                                    want[..n],
                                    "{name}: {:?} bytes differ, unit {unit}",
                                    c.variant()
                                );
                            }
                        }
                    }
                }
                eprintln!(
                    "{level:?} max_unit {max_unit} unit {unit}: {total} -> {stored} bytes, \
                     {} variants identical",
                    variants.len()
                );
            }
        }
    }
}

#[test]
fn unsupported_or_unknown_variants_are_refused_with_a_typed_error() {
    for v in Variant::ALL {
        let r = Compressor::with_variant(Level::Fast, 4096, v);
        if v.is_supported() {
            assert_eq!(r.map(|c| c.variant()).ok(), Some(v));
        } else {
            assert!(matches!(r, Err(FallbackError::UnsupportedVariant(n)) if n == v.name()));
        }
    }
    assert!(Variant::selected().is_supported());
    assert_eq!(Compressor::new(Level::Fast).variant(), Variant::selected());
}

#[test]
fn state_follows_max_unit() {
    let sizes: Vec<usize> = [4096usize, 16384, 65536]
        .iter()
        .map(|&m| Compressor::for_max_unit(Level::Fast, m).state_bytes())
        .collect();
    eprintln!("Fast state bytes at max_unit 4/16/64 KiB: {sizes:?}");
    assert!(sizes[0] <= 48 << 10, "{sizes:?}");
    assert!(sizes[0] < sizes[1] && sizes[1] < sizes[2], "{sizes:?}");
    assert_eq!(sizes[2], Compressor::new(Level::Fast).state_bytes());
}
