//! The software codec state of one context: 4 KiB-window deflate (IAA-readable output) from
//! `iaa-fallback`'s own encoder ([`iaa_fallback::Compressor`]) or, with the `isal` feature,
//! ISA-L's level 1, decompressed by `iaa-fallback`'s decompressor; or zstd contexts.
//! Allocated once with the context; compress/decompress allocate nothing.
//!
//! [`soft_unit`] is the software step of the engine: the software path runs every unit through
//! it, the hardware path each unit the device could not finish.

use iaa_fallback::zstd_codec::{ZstdCodec, ZstdError};
use iaa_fallback::{CompressOutcome, Compressor, DecompressError, Decompressor};

use crate::config::{Codec, Level, PoolBuilder, SoftwareEncoder};
use crate::error::UnitError;
use crate::io::Op;
use crate::result::{crc32, ExecPath, UnitResult};
use crate::stats::{bump, CtxStats};

/// The software side of one context: the codec state and the verify scratch.
pub(crate) struct SoftCtx {
    pub(crate) codec: SoftCodec,
    /// Scratch for verify-after-compress (`max_unit_size` bytes when verify is on).
    verify_buf: Box<[u8]>,
}

impl SoftCtx {
    pub(crate) fn new(b: &PoolBuilder) -> Result<SoftCtx, String> {
        let codec = SoftCodec::new(
            b.codec,
            b.level,
            b.encoder.resolve(b.codec, b.level),
            b.max_unit_size,
        )?;
        let n = if b.verify { b.max_unit_size } else { 0 };
        let mut v = Vec::new();
        v.try_reserve_exact(n)
            .map_err(|_| format!("allocation of the {n}-byte verify scratch failed"))?;
        v.resize(n, 0u8);
        Ok(SoftCtx {
            codec,
            verify_buf: v.into_boxed_slice(),
        })
    }

    /// Bytes of the codec state.
    pub(crate) fn codec_bytes(&self) -> usize {
        self.codec.state_bytes()
    }

    /// Bytes of the codec state and the verify scratch.
    pub(crate) fn bytes(&self) -> usize {
        self.codec.state_bytes() + self.verify_buf.len()
    }
}

/// Compress or decompress one unit with the context's software codec, count it, and say what
/// happened. Verify-after-compress (when on) decompresses the output and compares.
pub(crate) fn soft_unit(
    ctx: &mut SoftCtx,
    st: &CtxStats,
    b: &PoolBuilder,
    op: Op,
    input: &[u8],
    out: &mut [u8],
) -> UnitResult {
    let r = match op {
        Op::Compress => match ctx.codec.compress(input, out) {
            Ok(SoftOutcome::Compressed(n)) => {
                if b.verify && !soft_verify(ctx, st, input, &out[..n]) {
                    UnitResult::Failed(UnitError::VerifyFailed)
                } else {
                    UnitResult::Done {
                        len: n,
                        path: ExecPath::Software,
                        crc: crc32(input),
                    }
                }
            }
            Ok(SoftOutcome::Incompressible) => UnitResult::Incompressible,
            Err(e) => UnitResult::Failed(e),
        },
        Op::Decompress => match ctx.codec.decompress(input, out) {
            Ok(n) => UnitResult::Done {
                len: n,
                path: ExecPath::Software,
                crc: crc32(&out[..n]),
            },
            Err(e) => UnitResult::Failed(e),
        },
    };
    st.count(op, false, input.len(), &r);
    r
}

/// Decompress `comp` into the verify scratch and compare with `orig`.
fn soft_verify(ctx: &mut SoftCtx, st: &CtxStats, orig: &[u8], comp: &[u8]) -> bool {
    bump(&st.verify_checks);
    let ok = orig.len() <= ctx.verify_buf.len()
        && matches!(ctx.codec.decompress(comp, &mut ctx.verify_buf[..orig.len()]),
                    Ok(n) if n == orig.len())
        && ctx.verify_buf[..orig.len()] == *orig;
    if !ok {
        bump(&st.verify_failures);
    }
    ok
}

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
    Zstd(Box<ZstdCodec>),
}

impl SoftCodec {
    /// Allocate the codec state.
    /// `encoder` is resolved ([`SoftwareEncoder::resolve`]) and was checked by the builder.
    /// The native encoder's state is sized for units of up to `max_unit_size` bytes
    /// ([`Compressor::for_max_unit`]; larger units still compress, in smaller blocks).
    pub(crate) fn new(
        codec: Codec,
        level: Level,
        encoder: SoftwareEncoder,
        max_unit_size: usize,
    ) -> Result<Self, String> {
        match codec {
            Codec::Deflate => {
                let lvl = match level {
                    Level::Fast => iaa_fallback::Level::Fast,
                    Level::Better => iaa_fallback::Level::Better,
                };
                let comp = match encoder {
                    #[cfg(feature = "isal")]
                    SoftwareEncoder::Isal => Encoder::Isal(Box::new(
                        iaa_fallback::isal::IsalCompressor::try_for_max_unit(max_unit_size)
                            .map_err(|e| e.to_string())?,
                    )),
                    #[cfg(not(feature = "isal"))]
                    SoftwareEncoder::Isal => {
                        return Err("the ISA-L encoder is not in this build".to_string())
                    }
                    SoftwareEncoder::Auto | SoftwareEncoder::Native => Encoder::Native(Box::new(
                        Compressor::try_for_max_unit(lvl, max_unit_size)
                            .map_err(|e| e.to_string())?,
                    )),
                };
                let decomp = Decompressor::try_new()
                    .ok_or_else(|| "out of memory for the decompressor state".to_string())?;
                Ok(SoftCodec::Deflate {
                    comp,
                    decomp: Box::new(decomp),
                })
            }
            Codec::Zstd => {
                let level = match level {
                    Level::Fast => 1,
                    Level::Better => 3,
                };
                let z = ZstdCodec::new(level).map_err(|e| e.to_string())?;
                Ok(SoftCodec::Zstd(Box::new(z)))
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
            SoftCodec::Zstd(z) => z.state_bytes(),
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
            SoftCodec::Zstd(z) => Ok(match z.compress(src, dst) {
                Ok(CompressOutcome::Compressed(n)) => SoftOutcome::Compressed(n),
                Ok(CompressOutcome::Incompressible) | Err(_) => SoftOutcome::Incompressible,
            }),
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
            SoftCodec::Zstd(z) => match z.decompress(src, dst) {
                Ok(n) => Ok(n),
                Err(ZstdError::OutputTooSmall) => Err(UnitError::OutputTooSmall),
                Err(ZstdError::Zstd(_)) => Err(UnitError::Corrupt),
            },
        }
    }
}
