//! zstd as a software-only codec (IAA cannot decode it).

use crate::CompressOutcome;

/// zstd failures.
#[derive(Debug, thiserror::Error)]
pub enum ZstdError {
    /// The output does not fit `dst`.
    #[error("output buffer too small")]
    OutputTooSmall,
    /// zstd reported an error (corrupt or truncated frame, bad level, ...).
    #[error("zstd: {0}")]
    Zstd(String),
}

fn too_small(msg: &str) -> bool {
    msg.contains("Destination buffer is too small") || msg.contains("dstSize_tooSmall")
}

/// Compress `src` into one zstd frame in `dst` at `level` (1..=22, negative = faster).
/// [`CompressOutcome::Incompressible`] when the frame would not be smaller than `src`.
/// Allocates a zstd context per call; use [`ZstdCodec`] to reuse one.
pub fn compress(level: i32, src: &[u8], dst: &mut [u8]) -> Result<CompressOutcome, ZstdError> {
    let mut c = ZstdCodec::new(level)?;
    c.compress(src, dst)
}

/// Decompress one zstd frame; `Ok(n)` = bytes written.
pub fn decompress(src: &[u8], dst: &mut [u8]) -> Result<usize, ZstdError> {
    let mut c = ZstdCodec::new(1)?;
    c.decompress(src, dst)
}

/// Reusable zstd contexts.
pub struct ZstdCodec {
    c: zstd::bulk::Compressor<'static>,
    d: zstd::bulk::Decompressor<'static>,
}

impl std::fmt::Debug for ZstdCodec {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ZstdCodec")
    }
}

impl ZstdCodec {
    /// Contexts for compression at `level`.
    pub fn new(level: i32) -> Result<Self, ZstdError> {
        let c = zstd::bulk::Compressor::new(level).map_err(|e| ZstdError::Zstd(e.to_string()))?;
        let d = zstd::bulk::Decompressor::new().map_err(|e| ZstdError::Zstd(e.to_string()))?;
        Ok(ZstdCodec { c, d })
    }

    /// See [`compress`].
    pub fn compress(&mut self, src: &[u8], dst: &mut [u8]) -> Result<CompressOutcome, ZstdError> {
        let cap = dst.len().min(src.len().saturating_sub(1));
        match self.c.compress_to_buffer(src, &mut dst[..cap]) {
            Ok(n) => Ok(CompressOutcome::Compressed(n)),
            Err(e) if too_small(&e.to_string()) => {
                if cap < dst.len() || dst.len() >= src.len().saturating_sub(1) {
                    Ok(CompressOutcome::Incompressible)
                } else {
                    Err(ZstdError::OutputTooSmall)
                }
            }
            Err(e) => Err(ZstdError::Zstd(e.to_string())),
        }
    }

    /// See [`decompress`].
    pub fn decompress(&mut self, src: &[u8], dst: &mut [u8]) -> Result<usize, ZstdError> {
        match self.d.decompress_to_buffer(src, dst) {
            Ok(n) => Ok(n),
            Err(e) if too_small(&e.to_string()) => Err(ZstdError::OutputTooSmall),
            Err(e) => Err(ZstdError::Zstd(e.to_string())),
        }
    }
}
