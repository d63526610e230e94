//! Peer: libdeflate (crate `libdeflater`), raw deflate.

use super::{Compressed, PeerError, UnitCodec};

/// libdeflate at one level; compressor and decompressor allocated once.
pub struct Libdeflate {
    name: String,
    comp: libdeflater::Compressor,
    decomp: libdeflater::Decompressor,
}

impl Libdeflate {
    /// libdeflate at `level` (1..=12).
    pub fn new(level: i32) -> Result<Self, PeerError> {
        let lvl = libdeflater::CompressionLvl::new(level).map_err(|e| PeerError::Init {
            codec: "libdeflate",
            detail: format!("{e:?}"),
        })?;
        Ok(Libdeflate {
            name: format!("libdeflate-{level}"),
            comp: libdeflater::Compressor::new(lvl),
            decomp: libdeflater::Decompressor::new(),
        })
    }
}

impl UnitCodec for Libdeflate {
    fn name(&self) -> &str {
        &self.name
    }
    fn max_compressed_len(&mut self, src_len: usize) -> usize {
        self.comp.deflate_compress_bound(src_len)
    }
    fn compress(&mut self, src: &[u8], dst: &mut [u8]) -> Result<Compressed, PeerError> {
        self.comp
            .deflate_compress(src, dst)
            .map(Compressed::Bytes)
            .map_err(|e| PeerError::Compress {
                codec: "libdeflate",
                detail: format!("{e:?}"),
            })
    }
    fn decompress(&mut self, src: &[u8], dst: &mut [u8]) -> Result<usize, PeerError> {
        self.decomp
            .deflate_decompress(src, dst)
            .map_err(|e| PeerError::Decompress {
                codec: "libdeflate",
                detail: format!("{e:?}"),
            })
    }
}
