//! zstd as a software-only codec (IAA cannot decode it): the one zstd type of the project,
//! used by the pool's zstd contexts.

use zstd::zstd_safe::{get_frame_content_size, CCtx, DCtx};

use crate::CompressOutcome;

/// zstd failures.
#[derive(Debug, thiserror::Error)]
pub enum ZstdError {
    /// The output does not fit `dst`.
    #[error("output buffer too small")]
    OutputTooSmall,
    /// zstd reported an error (corrupt or truncated frame, bad level, no memory for a
    /// context, ...).
    #[error("zstd: {0}")]
    Zstd(String),
}

/// Compress `src` into one zstd frame in `dst` at `level` (1..=22, negative = faster).
/// [`CompressOutcome::Incompressible`] when the frame would not be smaller than `src`.
/// Allocates a zstd context per call; use [`ZstdCodec`] to reuse one.
pub fn compress(level: i32, src: &[u8], dst: &mut [u8]) -> Result<CompressOutcome, ZstdError> {
    ZstdCodec::new(level)?.compress(src, dst)
}

/// Decompress one zstd frame; `Ok(n)` = bytes written.
pub fn decompress(src: &[u8], dst: &mut [u8]) -> Result<usize, ZstdError> {
    ZstdCodec::new(1)?.decompress(src, dst)
}

/// Reusable zstd contexts, warmed up when made: after [`ZstdCodec::new`], compressing and
/// decompressing units of up to 4 KiB allocate nothing.
pub struct ZstdCodec {
    c: CCtx<'static>,
    d: DCtx<'static>,
    level: i32,
}

impl std::fmt::Debug for ZstdCodec {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ZstdCodec")
            .field("level", &self.level)
            .finish()
    }
}

impl ZstdCodec {
    /// Contexts for compression at `level`.
    pub fn new(level: i32) -> Result<Self, ZstdError> {
        let no_ctx = || ZstdError::Zstd("cannot create a context (out of memory)".into());
        let mut z = ZstdCodec {
            c: CCtx::try_create().ok_or_else(no_ctx)?,
            d: DCtx::try_create().ok_or_else(no_ctx)?,
            level,
        };
        // zstd sizes its work buffers on first use: do it now, not in a call.
        let src = [0x5Au8; 4096];
        let mut dst = [0u8; 4096];
        let mut back = [0u8; 4096];
        if let CompressOutcome::Compressed(n) = z.compress(&src, &mut dst)? {
            z.decompress(&dst[..n], &mut back)?;
        }
        Ok(z)
    }

    /// Bytes of state the two contexts hold (zstd's own count, C heap).
    pub fn state_bytes(&self) -> usize {
        self.c.sizeof() + self.d.sizeof()
    }

    /// See [`compress`]: the frame must be strictly smaller than `src` and fit `dst`, else
    /// [`CompressOutcome::Incompressible`].
    pub fn compress(&mut self, src: &[u8], dst: &mut [u8]) -> Result<CompressOutcome, ZstdError> {
        let cap = dst.len().min(src.len().saturating_sub(1));
        if cap == 0 {
            return Ok(CompressOutcome::Incompressible);
        }
        match self.c.compress(&mut dst[..cap], src, self.level) {
            Ok(n) if n < src.len() => Ok(CompressOutcome::Compressed(n)),
            // With a valid context and level the only error is "destination too small".
            Ok(_) | Err(_) => Ok(CompressOutcome::Incompressible),
        }
    }

    /// See [`decompress`]: a frame whose header says it needs more than `dst` is
    /// [`ZstdError::OutputTooSmall`]; any other failure is [`ZstdError::Zstd`].
    pub fn decompress(&mut self, src: &[u8], dst: &mut [u8]) -> Result<usize, ZstdError> {
        match self.d.decompress(dst, src) {
            Ok(n) => Ok(n),
            Err(code) => match get_frame_content_size(src) {
                Ok(Some(n)) if n > dst.len() as u64 => Err(ZstdError::OutputTooSmall),
                _ => Err(ZstdError::Zstd(
                    zstd::zstd_safe::get_error_name(code).to_string(),
                )),
            },
        }
    }
}
