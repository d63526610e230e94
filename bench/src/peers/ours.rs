//! This project's software path: `iaa-fallback` raw deflate with a 4 KiB window
//! (IAA-decodable), at its two levels.

use super::{Compressed, PeerError, UnitCodec};
use iaa_fallback::{CompressOutcome, Compressor, Decompressor, Level};

/// Which `iaa-fallback` level.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OursLevel {
    /// `Level::Fast`.
    Fast,
    /// `Level::Better`.
    Better,
}

/// `iaa-fallback` compressor and decompressor, allocated once.
pub struct Ours {
    name: &'static str,
    level: Level,
    comp: Compressor,
    decomp: Decompressor,
}

impl Ours {
    /// The software path at `level`.
    pub fn new(level: OursLevel) -> Self {
        let (name, level) = match level {
            OursLevel::Fast => ("ours iaa-fallback fast", Level::Fast),
            OursLevel::Better => ("ours iaa-fallback better", Level::Better),
        };
        Ours {
            name,
            level,
            comp: Compressor::new(level),
            decomp: Decompressor::new(),
        }
    }
}

impl UnitCodec for Ours {
    fn name(&self) -> &str {
        self.name
    }
    fn is_ours(&self) -> bool {
        true
    }
    fn set_unit_size(&mut self, unit_size: usize) -> Result<(), PeerError> {
        self.comp = Compressor::for_max_unit(self.level, unit_size);
        Ok(())
    }
    fn max_compressed_len(&mut self, src_len: usize) -> usize {
        iaa_fallback::max_compressed_len(src_len)
    }
    fn compress(&mut self, src: &[u8], dst: &mut [u8]) -> Result<Compressed, PeerError> {
        match self.comp.compress(src, dst) {
            Ok(CompressOutcome::Compressed(n)) => Ok(Compressed::Bytes(n)),
            Ok(CompressOutcome::Incompressible) => Ok(Compressed::Incompressible),
            Err(e) => Err(PeerError::Compress {
                codec: "iaa-fallback",
                detail: e.to_string(),
            }),
        }
    }
    fn decompress(&mut self, src: &[u8], dst: &mut [u8]) -> Result<usize, PeerError> {
        self.decomp
            .decompress(src, dst)
            .map_err(|e| PeerError::Decompress {
                codec: "iaa-fallback",
                detail: e.to_string(),
            })
    }
}
