//! Compress arbitrary data at both levels: libdeflate and the 4 KiB-window inflater must give
//! it back (so no distance exceeds 4096).
#![no_main]

use iaa_fallback::inflate::{inflate, InflateOptions};
use iaa_fallback::{max_compressed_len, CompressOutcome, Compressor, Decompressor, Level};
use libfuzzer_sys::fuzz_target;
use std::cell::RefCell;

thread_local! {
    static S: RefCell<(Compressor, Compressor, Decompressor)> = RefCell::new((
        Compressor::new(Level::Fast),
        Compressor::new(Level::Better),
        Decompressor::new(),
    ));
}

fuzz_target!(|data: &[u8]| {
    S.with(|s| {
        let (fast, better, d) = &mut *s.borrow_mut();
        let mut z = vec![0u8; max_compressed_len(data.len())];
        let mut back = vec![0u8; data.len()];
        for c in [fast, better] {
            match c.compress(data, &mut z).expect("never fails with max_compressed_len") {
                CompressOutcome::Incompressible => {}
                CompressOutcome::Compressed(n) => {
                    assert!(n < data.len());
                    assert_eq!(d.decompress(&z[..n], &mut back), Ok(data.len()));
                    assert_eq!(back, data);
                    back.fill(0);
                    assert_eq!(inflate(&z[..n], &mut back, &InflateOptions::iaa()), Ok(data.len()));
                    assert_eq!(back, data);
                }
            }
        }
    });
});
