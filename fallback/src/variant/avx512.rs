//! The AVX-512 variant: the portable encoder (`Compressor::compress_body`, with the matcher
//! and the block writer inlined into it) compiled with AVX-512 F/BW/VL on top of the AVX2
//! variant's features (512-bit and masked loops where the compiler vectorizes).
#![allow(unsafe_code)]

use crate::deflate::{CompressOutcome, Compressor};
use crate::FallbackError;

/// Whether this CPU has every feature [`compress_avx512`] is compiled for.
pub(crate) fn available() -> bool {
    super::avx2::available()
        && std::arch::is_x86_feature_detected!("popcnt")
        && std::arch::is_x86_feature_detected!("avx512f")
        && std::arch::is_x86_feature_detected!("avx512bw")
        && std::arch::is_x86_feature_detected!("avx512vl")
}

#[target_feature(enable = "avx2,bmi1,bmi2,lzcnt,popcnt,avx512f,avx512bw,avx512vl")]
fn compress_avx512(
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
    // Cached detection, one load per call; a compressor only carries this variant after the
    // same check, so the portable branch is not taken.
    if !available() {
        return c.compress_body(src, dst);
    }
    // SAFETY: `compress_avx512` is safe code whose only requirement is that the CPU supports
    // the features it is compiled with; `available()` just checked every one of them at run
    // time.
    unsafe { compress_avx512(c, src, dst) }
}
