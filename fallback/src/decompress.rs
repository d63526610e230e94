//! Fast raw-DEFLATE decompression through libdeflate.

use crate::inflate::{inflate, InflateError, InflateOptions};

/// Why [`Decompressor::decompress`] failed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum DecompressError {
    /// The input ends before the stream does.
    #[error("compressed input is truncated")]
    Truncated,
    /// The input is not valid raw DEFLATE (the checked decoder's diagnosis attached).
    #[error("compressed input is corrupt: {0}")]
    Corrupt(InflateError),
    /// The decompressed data does not fit `dst`.
    #[error("output buffer too small")]
    OutputTooSmall,
}

/// Reusable raw-DEFLATE decompressor (any window up to 32 KiB).
pub struct Decompressor {
    inner: libdeflater::Decompressor,
}

impl Default for Decompressor {
    fn default() -> Self {
        Self::new()
    }
}

impl std::fmt::Debug for Decompressor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Decompressor")
    }
}

impl Decompressor {
    /// Allocate the decompressor state.
    pub fn new() -> Self {
        Decompressor {
            inner: libdeflater::Decompressor::new(),
        }
    }

    /// Decompress one raw-DEFLATE stream from `src` into `dst`; `Ok(n)` = bytes written.
    /// On error the content of `dst` is unspecified. Does not allocate.
    pub fn decompress(&mut self, src: &[u8], dst: &mut [u8]) -> Result<usize, DecompressError> {
        match self.inner.deflate_decompress(src, dst) {
            Ok(n) => Ok(n),
            Err(_) => {
                // Slow path only on failure: let the checked decoder say why (libdeflate reads
                // zero bits past the end, so a truncated stream can look like a full buffer).
                match inflate(src, dst, &InflateOptions::default()) {
                    Err(InflateError::Truncated { .. }) => Err(DecompressError::Truncated),
                    Err(InflateError::OutputOverflow { .. }) => {
                        Err(DecompressError::OutputTooSmall)
                    }
                    Err(e) => Err(DecompressError::Corrupt(e)),
                    // libdeflate rejects a few streams zlib-style decoders accept (e.g. some
                    // incomplete codes); report them as corrupt too.
                    Ok(_) => Err(DecompressError::Corrupt(InflateError::InvalidCodeLengths)),
                }
            }
        }
    }
}
