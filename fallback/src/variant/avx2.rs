//! The AVX2 variant: the portable encoder (`Compressor::compress_body`, with the matcher and
//! the block writer inlined into it) compiled with AVX2, BMI1, BMI2 and LZCNT enabled
//! (variable shifts without flags, `tzcnt`/`lzcnt` for match lengths, 256-bit loops).
#![allow(unsafe_code)]

use crate::deflate::{CompressOutcome, Compressor};
use crate::FallbackError;

/// Whether this CPU has every feature [`compress_avx2`] is compiled for.
pub(crate) fn available() -> bool {
    std::arch::is_x86_feature_detected!("avx2")
        && std::arch::is_x86_feature_detected!("bmi1")
        && std::arch::is_x86_feature_detected!("bmi2")
        && std::arch::is_x86_feature_detected!("lzcnt")
        && std::arch::is_x86_feature_detected!("popcnt")
}

#[target_feature(enable = "avx2,bmi1,bmi2,lzcnt,popcnt")]
fn compress_avx2(
    c: &mut Compressor,
    src: &[u8],
    dst: &mut [u8],
) -> Result<CompressOutcome, FallbackError> {
    c.compress_body(src, dst)
}

/// [`Compressor::compress`] for a compressor of this variant.
pub(crate) fn compress(
    c: &mut Compressor,
    src: &[u8],
    dst: &mut [u8],
) -> Result<CompressOutcome, FallbackError> {
    // The detection is cached by the standard library: one load per call. A compressor only
    // carries this variant after the same check, so the portable branch is not taken.
    if !available() {
        return c.compress_body(src, dst);
    }
    // SAFETY: `compress_avx2` is safe code whose only requirement is that the CPU supports
    // the features it is compiled with (avx2, bmi1, bmi2, lzcnt, popcnt); `available()` just
    // checked every one of them at run time.
    unsafe { compress_avx2(c, src, dst) }
}
