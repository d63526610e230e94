//! Differential decoding: arbitrary bytes as one raw-deflate unit through zlib (the
//! reference), the pool's software path and the device model's hardware path. All three must
//! agree on accept or reject, and on the output when they accept.
//!
//! Byte 0 picks the output slot size (1..=4096, so the model takes every unit); the rest is
//! the unit. "Accept" means: one whole valid stream, using every input byte, whose output fits
//! the slot. The model may hand a unit it cannot decode (a distance beyond its 4 KiB window)
//! to the software path; that unit must then be one zlib accepts, and the result still agree.
#![no_main]

use std::sync::OnceLock;

use flate2::{Decompress, FlushDecompress, Status};
use iaa::{Device, ExecPath, ModelOptions, Path, Pool, UnitResult};
use libfuzzer_sys::fuzz_target;

fn software() -> &'static Pool {
    static P: OnceLock<Pool> = OnceLock::new();
    P.get_or_init(|| {
        Pool::builder()
            .path(Path::Software)
            .contexts(1)
            .build()
            .expect("software pool")
    })
}

fn model() -> &'static Pool {
    static P: OnceLock<Pool> = OnceLock::new();
    P.get_or_init(|| {
        Pool::builder()
            .path(Path::Hardware)
            .hybrid(false)
            .contexts(1)
            .device(Device::Model(ModelOptions {
                engines: 0, // inline engine: deterministic, no threads
                wqs: 1,
                wq_size: 16,
                dedicated: true,
                ..ModelOptions::default()
            }))
            .build()
            .expect("model pool")
    })
}

/// zlib's verdict: `Some(output)` for one whole stream that uses all of `src` and fits `cap`.
fn zlib(src: &[u8], cap: usize) -> Option<Vec<u8>> {
    let mut d = Decompress::new(false);
    let mut out = vec![0u8; cap];
    match d.decompress(src, &mut out, FlushDecompress::Finish) {
        Ok(Status::StreamEnd) if d.total_in() as usize == src.len() => {
            out.truncate(d.total_out() as usize);
            Some(out)
        }
        _ => None,
    }
}

fn run(pool: &Pool, src: &[u8], cap: usize) -> (Option<Vec<u8>>, UnitResult) {
    let mut out = vec![0u8; cap];
    let r = pool.decompress(src, &mut out).expect("a well-formed call");
    match r {
        UnitResult::Done { len, .. } => (Some(out[..len].to_vec()), r),
        _ => (None, r),
    }
}

fuzz_target!(|data: &[u8]| {
    let Some((&b0, src)) = data.split_first() else {
        return;
    };
    let cap = 1 + (b0 as usize * 4096) / 256 % 4096;
    let want = zlib(src, cap);
    let (soft, rs) = run(software(), src, cap);
    assert_eq!(soft, want, "software path vs zlib: {rs:?}");
    let (hw, rh) = run(model(), src, cap);
    assert_eq!(hw, want, "model path vs zlib: {rh:?}");
    // A unit the model accepted itself was accepted by zlib too (checked above).
    if let UnitResult::Done { path: ExecPath::Hardware, .. } = rh {
        assert!(want.is_some());
    }
});
