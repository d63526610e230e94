//! Fast, strict raw-DEFLATE decompression: libdeflate decodes, and a check rejects what
//! libdeflate accepts but RFC 1951 (as zlib reads it) does not.

use crate::inflate::{inflate_status, InflateError, InflateOptions};
use crate::libdeflate::{LdDecompressor, LdError};

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
    /// The stream is valid and ends after `consumed` of the input's bytes; the rest is not
    /// part of it. `dst` holds the stream's `written` bytes of output.
    #[error("{trailing} bytes follow the end of the deflate stream (which used {consumed})")]
    TrailingData {
        /// Input bytes the stream used (its final byte possibly in part).
        consumed: usize,
        /// Input bytes after it.
        trailing: usize,
        /// Output bytes of the stream, in `dst`.
        written: usize,
    },
    /// The C allocation of libdeflate's decoder state failed.
    #[error("out of memory for the decompressor state")]
    OutOfMemory,
}

/// Reusable raw-DEFLATE decompressor (any window up to 32 KiB).
pub struct Decompressor {
    inner: Option<LdDecompressor>,
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
    /// Allocate the decompressor state. If the C allocation fails, every call returns
    /// [`DecompressError::OutOfMemory`]; [`Decompressor::try_new`] reports it here instead.
    pub fn new() -> Self {
        Decompressor {
            inner: LdDecompressor::new(),
        }
    }

    /// Allocate the decompressor state; `None` when the allocation fails.
    pub fn try_new() -> Option<Self> {
        LdDecompressor::new().map(|d| Decompressor { inner: Some(d) })
    }

    /// Decompress one raw-DEFLATE stream from `src` into `dst`; `Ok(n)` = bytes written, and
    /// the stream used all of `src`.
    ///
    /// Strict: `Ok` only for a stream zlib accepts (RFC 1951; the checks libdeflate leaves out
    /// are made here). Bytes after the final block are [`DecompressError::TrailingData`].
    /// On any other error the content of `dst` is unspecified. Does not allocate.
    pub fn decompress(&mut self, src: &[u8], dst: &mut [u8]) -> Result<usize, DecompressError> {
        let inner = self.inner.as_mut().ok_or(DecompressError::OutOfMemory)?;
        let (used, written) = match inner.decompress_ex(src, dst) {
            Ok((used, written)) => {
                crate::strict::check(&src[..used], written).map_err(DecompressError::Corrupt)?;
                (used, written)
            }
            Err(LdError::BadData | LdError::NoSpace) => {
                // Slow path only on failure: our checked decoder says why (libdeflate reads
                // zero bits past the end, so a truncated stream can look like a full buffer),
                // and decodes the rare stream zlib accepts and libdeflate does not.
                match inflate_status(src, dst, &InflateOptions::default()) {
                    Err(InflateError::Truncated { .. }) => return Err(DecompressError::Truncated),
                    Err(InflateError::OutputOverflow { .. }) => {
                        return Err(DecompressError::OutputTooSmall)
                    }
                    Err(e) => return Err(DecompressError::Corrupt(e)),
                    Ok(st) => (st.bytes_consumed(), st.written),
                }
            }
        };
        if used < src.len() {
            return Err(DecompressError::TrailingData {
                consumed: used,
                trailing: src.len() - used,
                written,
            });
        }
        Ok(written)
    }
}
