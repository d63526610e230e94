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
