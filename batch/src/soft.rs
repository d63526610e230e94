//! The software codec state of one context: `iaa-fallback`'s 4 KiB-window deflate
//! ([`iaa_fallback::Compressor`], IAA-readable output) and its decompressor, or zstd contexts.
//! Allocated once with the context; compress/decompress allocate nothing.

use iaa_fallback::{CompressOutcome, Compressor, DecompressError, Decompressor};
use zstd::zstd_safe::{CCtx, DCtx};

use crate::config::{Codec, Level};
use crate::error::UnitError;

/// Result of compressing one unit in software.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum SoftOutcome {
    /// `n` bytes at the front of the destination.
    Compressed(usize),
    /// Would not be smaller than the unit / would not fit the destination.
    Incompressible,
}

/// Per-context software codec state, created once with the context.
pub(crate) enum SoftCodec {
    /// Raw deflate, every distance within 4 KiB.
    Deflate {
        comp: Box<Compressor>,
        decomp: Box<Decompressor>,
    },
    /// zstd frames (software only).
    Zstd {
        comp: CCtx<'static>,
        decomp: DCtx<'static>,
        level: i32,
    },
}

impl SoftCodec {
    /// Allocate the codec state.
    pub(crate) fn new(codec: Codec, level: Level) -> Result<Self, String> {
        match codec {
            Codec::Deflate => {
                let lvl = match level {
                    Level::Fast => iaa_fallback::Level::Fast,
                    Level::Better => iaa_fallback::Level::Better,
                };
                Ok(SoftCodec::Deflate {
                    comp: Box::new(Compressor::new(lvl)),
                    decomp: Box::new(Decompressor::new()),
                })
            }
            Codec::Zstd => {
                let mut c = SoftCodec::Zstd {
                    comp: CCtx::try_create().ok_or("zstd: cannot create a compression context")?,
                    decomp: DCtx::try_create()
                        .ok_or("zstd: cannot create a decompression context")?,
                    level: match level {
                        Level::Fast => 1,
                        Level::Better => 3,
                    },
                };
                // zstd sizes its work buffers on first use: do it now, not in a call.
                let src = [0x5Au8; 4096];
                let mut dst = [0u8; 4096];
                let mut back = [0u8; 4096];
                if let Ok(SoftOutcome::Compressed(n)) = c.compress(&src, &mut dst) {
                    c.decompress(&dst[..n], &mut back)
                        .map_err(|e| format!("zstd warm-up: {e}"))?;
                }
                Ok(c)
            }
        }
    }

    /// Bytes of state this codec holds. zstd: the library's own count (C heap). Deflate: the
    /// compressor with the heap it reports, and the decompressor's Rust-side size (libdeflate's
    /// own state is on the C heap, a few KiB, not reported).
    pub(crate) fn state_bytes(&self) -> usize {
        match self {
            SoftCodec::Deflate { comp, .. } => {
                std::mem::size_of::<Compressor>()
                    + comp.state_bytes()
                    + std::mem::size_of::<Decompressor>()
            }
            SoftCodec::Zstd { comp, decomp, .. } => comp.sizeof() + decomp.sizeof(),
        }
    }

    /// Compress `src` into `dst`; the output must be strictly smaller than `src` and fit `dst`,
    /// else `Incompressible`.
    pub(crate) fn compress(
        &mut self,
        src: &[u8],
        dst: &mut [u8],
    ) -> Result<SoftOutcome, UnitError> {
        let cap = dst.len().min(src.len().saturating_sub(1));
        if cap == 0 {
            return Ok(SoftOutcome::Incompressible);
        }
        let dst = &mut dst[..cap];
        match self {
            SoftCodec::Deflate { comp, .. } => match comp.compress(src, dst) {
                Ok(CompressOutcome::Compressed(n)) => Ok(SoftOutcome::Compressed(n)),
                // Not smaller than the unit, or does not fit the slot: store raw.
                Ok(CompressOutcome::Incompressible) | Err(_) => Ok(SoftOutcome::Incompressible),
            },
            SoftCodec::Zstd { comp, level, .. } => match comp.compress(dst, src, *level) {
                Ok(n) if n < src.len() => Ok(SoftOutcome::Compressed(n)),
                // With a valid context the only error is "destination too small".
                _ => Ok(SoftOutcome::Incompressible),
            },
        }
    }

    /// Decompress one whole unit into `dst`, returning its length.
    pub(crate) fn decompress(&mut self, src: &[u8], dst: &mut [u8]) -> Result<usize, UnitError> {
        match self {
            SoftCodec::Deflate { decomp, .. } => match decomp.decompress(src, dst) {
                Ok(n) => Ok(n),
                Err(DecompressError::OutputTooSmall) => Err(UnitError::OutputTooSmall),
                Err(DecompressError::Truncated) | Err(DecompressError::Corrupt(_)) => {
                    Err(UnitError::Corrupt)
                }
            },
            SoftCodec::Zstd { decomp, .. } => match decomp.decompress(dst, src) {
                Ok(n) => Ok(n),
                Err(_) => {
                    // Distinguish a too-small slot from a corrupt frame when the frame says.
                    match zstd::zstd_safe::get_frame_content_size(src) {
                        Ok(Some(n)) if n > dst.len() as u64 => Err(UnitError::OutputTooSmall),
                        _ => Err(UnitError::Corrupt),
                    }
                }
            },
        }
    }
}
