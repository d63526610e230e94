//! Arbitrary bytes into every decoder: typed errors only, never a panic or overrun.
#![no_main]

use iaa_fallback::inflate::{inflate_status, InflateOptions, StopAt};
use iaa_fallback::Decompressor;
use libfuzzer_sys::fuzz_target;
use std::cell::RefCell;

thread_local! {
    static D: RefCell<Decompressor> = RefCell::new(Decompressor::new());
}

fuzz_target!(|data: &[u8]| {
    // First byte picks the output size, so overflow paths are reached too.
    let (cap, src) = match data.split_first() {
        Some((&c, rest)) => ((c as usize) << 8 | 0xFF, rest),
        None => (0, data),
    };
    let mut out = vec![0u8; cap];
    let lib = D.with(|d| d.borrow_mut().decompress(src, &mut out));
    let full = inflate_status(src, &mut out, &InflateOptions::default());
    let iaa = inflate_status(src, &mut out, &InflateOptions::iaa());
    let _ = inflate_status(src, &mut out, &InflateOptions { stop: StopAt::AnyEob, ..InflateOptions::iaa() });
    if let Ok(st) = iaa {
        // A stream valid under the 4 KiB window is valid under 32 KiB, with the same result.
        assert_eq!(full, Ok(st));
    }
    if let (Ok(n), Ok(st)) = (lib, full) {
        assert_eq!(n, st.written);
    }
});
