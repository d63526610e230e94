//! Compress arbitrary data at both levels with every encoder variant this CPU supports
//! (`Variant::supported()`) and state sized for 4 KiB, 16 KiB and 64 KiB units: every variant
//! must write the portable variant's bytes, and libdeflate and the 4 KiB-window inflater must
//! give the input back (so no distance exceeds 4096).
#![no_main]

use iaa_fallback::inflate::{inflate, InflateOptions};
use iaa_fallback::{
    max_compressed_len, CompressOutcome, Compressor, Decompressor, Level, Variant,
};
use libfuzzer_sys::fuzz_target;
use std::cell::RefCell;

struct State {
    /// Per (level, max_unit): one compressor per supported variant, the portable one first.
    sets: Vec<Vec<Compressor>>,
    d: Decompressor,
}

thread_local! {
    static S: RefCell<State> = RefCell::new(State {
        sets: [Level::Fast, Level::Better]
            .into_iter()
            .flat_map(|level| {
                [4096usize, 16384, 65536].into_iter().map(move |max| {
                    Variant::supported()
                        .into_iter()
                        .map(|v| Compressor::with_variant(level, max, v).expect("supported"))
                        .collect()
                })
            })
            .collect(),
        d: Decompressor::new(),
    });
}

fuzz_target!(|data: &[u8]| {
    S.with(|s| {
        let State { sets, d } = &mut *s.borrow_mut();
        let mut z = vec![0u8; max_compressed_len(data.len())];
        let mut other = vec![0u8; max_compressed_len(data.len())];
        let mut back = vec![0u8; data.len()];
        for set in sets.iter_mut() {
            let (reference, variants) = set.split_first_mut().expect("portable is first");
            let r = reference
                .compress(data, &mut z)
                .expect("never fails with max_compressed_len");
            for c in variants.iter_mut() {
                let o = c.compress(data, &mut other).expect("never fails");
                assert_eq!(o, r, "{:?}", c.variant());
                if let CompressOutcome::Compressed(n) = o {
                    assert_eq!(other[..n], z[..n], "{:?} differs", c.variant());
                }
            }
            if let CompressOutcome::Compressed(n) = r {
                assert!(n < data.len());
                assert_eq!(d.decompress(&z[..n], &mut back), Ok(data.len()));
                assert_eq!(back, data);
                back.fill(0);
                assert_eq!(inflate(&z[..n], &mut back, &InflateOptions::iaa()), Ok(data.len()));
                assert_eq!(back, data);
            }
        }
    });
});
