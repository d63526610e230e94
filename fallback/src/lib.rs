//! Software path of the IAA driver: raw DEFLATE that IAA hardware can read (every
//! back-reference within 4 KiB), a checked inflater, the CRCs the hardware reports, and zstd
//! as a software-only codec. See `fallback/README.md` for the design and measured figures.
// `unsafe` is allowed only in the CPU-specific variant files (`src/variant/avx2.rs`,
// `avx512.rs`: calling code compiled for an instruction set the CPU was checked to have) and
// in the FFI modules (`libdeflate`, and `isal` with that feature).
#![deny(unsafe_code)]
#![warn(missing_docs)]

pub mod crc;
mod decompress;
mod deflate;
mod huffman;
pub mod inflate;
#[cfg(feature = "isal")]
pub mod isal;
mod libdeflate;
pub mod lz77;
mod strict;
pub mod variant;
pub mod zstd_codec;

pub use decompress::{DecompressError, Decompressor};
pub use deflate::{max_compressed_len, CompressOutcome, Compressor};
pub use variant::Variant;

/// Compression level of [`Compressor`].
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum Level {
    /// Greedy parsing with a one-slot hash table: the speed level.
    #[default]
    Fast,
    /// Short hash chains within the 4 KiB window and lazy matching: better ratio.
    Better,
}

/// Errors of [`Compressor::compress`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum FallbackError {
    /// The compressed output (smaller than the input) does not fit `dst`.
    #[error("compressed output needs {needed} bytes, dst has {available}")]
    OutputTooSmall {
        /// Bytes the output needs (a lower bound, `available + 1`, from the `isal` backend,
        /// which cannot tell).
        needed: usize,
        /// Size of `dst`.
        available: usize,
    },
    /// An optional backend (feature `isal`) returned this error code.
    #[error("compression backend error {0}")]
    Backend(i32),
    /// [`Compressor::with_variant`] was asked for a variant this CPU cannot run.
    #[error("the {0} encoder variant needs CPU features this machine lacks")]
    UnsupportedVariant(&'static str),
    /// Allocating the compressor's state failed ([`Compressor::try_for_max_unit`],
    /// [`Compressor::with_variant`]); `bytes` in the request that failed.
    #[error("out of memory allocating {bytes} bytes of compressor state")]
    OutOfMemory {
        /// Size of the allocation that failed.
        bytes: usize,
    },
}

/// `n` copies of `v` in a boxed slice, or [`FallbackError::OutOfMemory`] (never an abort).
pub(crate) fn try_boxed<T: Clone>(n: usize, v: T) -> Result<Box<[T]>, FallbackError> {
    let mut b = Vec::new();
    b.try_reserve_exact(n)
        .map_err(|_| FallbackError::OutOfMemory {
            bytes: n.saturating_mul(std::mem::size_of::<T>()),
        })?;
    b.resize(n, v);
    Ok(b.into_boxed_slice())
}

/// What the infallible constructors do when [`try_boxed`] fails: what `Vec` does, abort
/// through the allocation error handler.
pub(crate) fn alloc_failed(e: FallbackError) -> ! {
    let bytes = match e {
        FallbackError::OutOfMemory { bytes } => bytes,
        _ => 0,
    };
    std::alloc::handle_alloc_error(
        std::alloc::Layout::from_size_align(bytes.max(1), 8)
            .unwrap_or(std::alloc::Layout::new::<u64>()),
    )
}
