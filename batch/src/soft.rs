//! The software codec state of one context: 4 KiB-window deflate (IAA-readable output) from
//! `iaa-fallback`'s own encoder ([`iaa_fallback::Compressor`]) or, with the `isal` feature,
//! ISA-L's level 1, decompressed by `iaa-fallback`'s decompressor; or zstd contexts.
//! Allocated once with the context; compress/decompress allocate nothing.

use iaa_fallback::{CompressOutcome, Compressor, DecompressError, Decompressor};
use zstd::zstd_safe::{CCtx, DCtx};

use crate::config::{Codec, Level, SoftwareEncoder};
use crate::error::UnitError;

/// Result of compressing one unit in software.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum SoftOutcome {
    /// `n` bytes at the front of the destination.
    Compressed(usize),
    /// Would not be smaller than the unit / would not fit the destination.
    Incompressible,
}

/// A deflate encoder whose distances stay within 4 KiB.
pub(crate) enum Encoder {
    /// `iaa-fallback`'s own.
    Native(Box<Compressor>),
    /// ISA-L level 1, `hist_bits = 12`.
    #[cfg(feature = "isal")]
    Isal(Box<iaa_fallback::isal::IsalCompressor>),
}

impl Encoder {
    fn compress(&mut self, src: &[u8], dst: &mut [u8]) -> Option<usize> {
        let r = match self {
            Encoder::Native(c) => c.compress(src, dst),
            #[cfg(feature = "isal")]
            Encoder::Isal(c) => c.compress(src, dst),
        };
        match r {
            Ok(CompressOutcome::Compressed(n)) => Some(n),
            // Not smaller than the unit, or does not fit the slot: store raw.
            Ok(CompressOutcome::Incompressible) | Err(_) => None,
        }
    }

    fn state_bytes(&self) -> usize {
        match self {
            Encoder::Native(c) => std::mem::size_of::<Compressor>() + c.state_bytes(),
            #[cfg(feature = "isal")]
            Encoder::Isal(c) => c.state_bytes(),
        }
    }
}

/// Per-context software codec state, created once with the context.
pub(crate) enum SoftCodec {
    /// Raw deflate, every distance within 4 KiB.
    Deflate {
        comp: Encoder,
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
    /// `encoder` is resolved ([`SoftwareEncoder::resolve`]) and was checked by the builder.
    pub(crate) fn new(
        codec: Codec,
        level: Level,
        encoder: SoftwareEncoder,
    ) -> Result<Self, String> {
        match codec {
            Codec::Deflate => {
                let lvl = match level {
                    Level::Fast => iaa_fallback::Level::Fast,
                    Level::Better => iaa_fallback::Level::Better,
                };
                let comp = match encoder {
                    #[cfg(feature = "isal")]
                    SoftwareEncoder::Isal => {
                        Encoder::Isal(Box::new(iaa_fallback::isal::IsalCompressor::new()))
                    }
                    #[cfg(not(feature = "isal"))]
                    SoftwareEncoder::Isal => {
                        return Err("the ISA-L encoder is not in this build".to_string())
                    }
                    SoftwareEncoder::Auto | SoftwareEncoder::Native => {
                        Encoder::Native(Box::new(Compressor::new(lvl)))
                    }
                };
                Ok(SoftCodec::Deflate {
                    comp,
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
                comp.state_bytes() + std::mem::size_of::<Decompressor>()
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
            SoftCodec::Deflate { comp, .. } => Ok(match comp.compress(src, dst) {
                Some(n) => SoftOutcome::Compressed(n),
                None => SoftOutcome::Incompressible,
            }),
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
                Err(DecompressError::TrailingData {
                    consumed, trailing, ..
                }) => Err(UnitError::TrailingData { consumed, trailing }),
                Err(DecompressError::OutOfMemory) => Err(UnitError::Codec),
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
