//! The optional ISA-L backend (feature `isal`): output readable with a 4 KiB window.
#![cfg(feature = "isal")]

mod common;

use iaa_fallback::inflate::{inflate, InflateOptions};
use iaa_fallback::isal::IsalCompressor;
use iaa_fallback::{max_compressed_len, CompressOutcome};

#[test]
fn isal_units_inflate_with_4k_window() {
    let mut c = IsalCompressor::new();
    for name in common::FILES {
        let Some(data) = common::load(name) else {
            continue;
        };
        let data = &data[..data.len().min(1 << 20)];
        for unit in [4096usize, 65536] {
            let mut z = vec![0u8; max_compressed_len(unit)];
            let mut back = vec![0u8; unit];
            for u in data.chunks(unit) {
                if let CompressOutcome::Compressed(n) = c.compress(u, &mut z).unwrap() {
                    assert!(n < u.len());
                    let m = inflate(&z[..n], &mut back, &InflateOptions::iaa()).unwrap();
                    assert_eq!(&back[..m], u);
                }
            }
        }
    }
    let r = common::random_bytes(5000, 1);
    let mut z = vec![0u8; 5000];
    assert_eq!(c.compress(&r, &mut z), Ok(CompressOutcome::Incompressible));
}

/// ISA-L's own headers may run a code-length repeat into the distance lengths (IAA refuses
/// them); the backend re-encodes those units natively, so no output it returns has one.
#[test]
fn isal_outputs_have_no_crossing_repeat() {
    use iaa_fallback::inflate::crossing_repeats;
    let mut units = 0u64;
    let mut reencoded = 0u64;
    for unit in [4096usize, 16384, 65536] {
        let mut c = IsalCompressor::new();
        let mut z = vec![0u8; max_compressed_len(unit)];
        for name in common::FILES {
            let Some(data) = common::load(name) else {
                continue;
            };
            for u in data[..data.len().min(2 << 20)].chunks(unit) {
                if let CompressOutcome::Compressed(n) = c.compress(u, &mut z).unwrap() {
                    assert_eq!(crossing_repeats(&z[..n], u.len()), Ok(0), "{name} {unit}");
                    units += 1;
                }
            }
        }
        reencoded += c.reencoded();
    }
    eprintln!("ISA-L backend: {units} units checked, {reencoded} re-encoded natively");
}

/// The one unit of the corpus (every 4/16/64 KiB unit of the four files) where ISA-L writes a
/// header IAA refuses: dickens, the 64 KiB unit at 5,308,416. It comes back re-encoded.
#[test]
fn isal_crossing_unit_is_reencoded() {
    use iaa_fallback::inflate::crossing_repeats;
    let Some(d) = common::load("dickens") else {
        return;
    };
    let u = &d[5308416..5308416 + 65536];
    let mut c = IsalCompressor::new();
    let mut z = vec![0u8; max_compressed_len(65536)];
    let CompressOutcome::Compressed(n) = c.compress(u, &mut z).unwrap() else {
        panic!("the unit compresses");
    };
    assert_eq!(c.reencoded(), 1);
    assert_eq!(crossing_repeats(&z[..n], u.len()), Ok(0));
    let mut back = vec![0u8; 65536];
    assert_eq!(
        inflate(&z[..n], &mut back, &InflateOptions::iaa()),
        Ok(65536)
    );
    assert_eq!(&back[..], u);
}
