//! Unit codecs of the container, on the project's software path (`iaa-fallback`).

use crate::container::UnitCodec;
use iaa_fallback::{CompressOutcome, Compressor, Decompressor, Level};

/// Compression level chosen on the command line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum CliLevel {
    /// Fastest (deflate: `Level::Fast`; zstd: level 1).
    #[default]
    Fast,
    /// Smaller output (deflate: `Level::Better`; zstd: level 6).
    Better,
}

/// Raw deflate with a 4 KiB window through `iaa-fallback`.
pub struct DeflateCodec {
    comp: Compressor,
    decomp: Decompressor,
}

impl DeflateCodec {
    /// Allocates the compressor and decompressor state once.
    pub fn new(level: CliLevel) -> Self {
        let level = match level {
            CliLevel::Fast => Level::Fast,
            CliLevel::Better => Level::Better,
        };
        DeflateCodec {
            comp: Compressor::new(level),
            decomp: Decompressor::new(),
        }
    }
}

impl UnitCodec for DeflateCodec {
    fn max_compressed_len(&self, src_len: usize) -> usize {
        iaa_fallback::max_compressed_len(src_len)
    }
    fn compress(&mut self, src: &[u8], dst: &mut [u8]) -> Result<Option<usize>, String> {
        match self.comp.compress(src, dst) {
            Ok(CompressOutcome::Compressed(n)) => Ok(Some(n)),
            Ok(CompressOutcome::Incompressible) => Ok(None),
            Err(e) => Err(e.to_string()),
        }
    }
    fn decompress(&mut self, src: &[u8], dst: &mut [u8]) -> Result<usize, String> {
        self.decomp.decompress(src, dst).map_err(|e| e.to_string())
    }
}

/// One zstd frame per unit through `iaa_fallback::zstd_codec`.
pub struct ZstdCodec {
    codec: Result<iaa_fallback::zstd_codec::ZstdCodec, String>,
}

impl ZstdCodec {
    /// zstd contexts at the level for `level` (a failed allocation is reported per unit).
    pub fn new(level: CliLevel) -> Self {
        let level = match level {
            CliLevel::Fast => 1,
            CliLevel::Better => 6,
        };
        ZstdCodec {
            codec: iaa_fallback::zstd_codec::ZstdCodec::new(level).map_err(|e| e.to_string()),
        }
    }

    fn inner(&mut self) -> Result<&mut iaa_fallback::zstd_codec::ZstdCodec, String> {
        self.codec.as_mut().map_err(|e| e.clone())
    }
}

impl UnitCodec for ZstdCodec {
    fn max_compressed_len(&self, src_len: usize) -> usize {
        // ZSTD_COMPRESSBOUND: input + input/256 + a margin for small inputs, plus slack.
        let small = if src_len < 128 << 10 {
            ((128 << 10) - src_len) >> 11
        } else {
            0
        };
        src_len + (src_len >> 8) + small + 64
    }
    fn compress(&mut self, src: &[u8], dst: &mut [u8]) -> Result<Option<usize>, String> {
        match self.inner()?.compress(src, dst) {
            Ok(CompressOutcome::Compressed(n)) => Ok(Some(n)),
            Ok(CompressOutcome::Incompressible) => Ok(None),
            Err(e) => Err(e.to_string()),
        }
    }
    fn decompress(&mut self, src: &[u8], dst: &mut [u8]) -> Result<usize, String> {
        self.inner()?
            .decompress(src, dst)
            .map_err(|e| e.to_string())
    }
}
