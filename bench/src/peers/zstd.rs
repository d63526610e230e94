//! Peer: zstd (crate `zstd`), one frame per unit, contexts allocated once.

use super::{Compressed, PeerError, UnitCodec};

/// zstd at one level.
pub struct Zstd {
    name: String,
    comp: zstd::bulk::Compressor<'static>,
    decomp: zstd::bulk::Decompressor<'static>,
}

impl Zstd {
    /// zstd at `level`.
    pub fn new(level: i32) -> Result<Self, PeerError> {
        let init = |e: std::io::Error| PeerError::Init {
            codec: "zstd",
            detail: e.to_string(),
        };
        Ok(Zstd {
            name: format!("zstd-{level}"),
            comp: zstd::bulk::Compressor::new(level).map_err(init)?,
            decomp: zstd::bulk::Decompressor::new().map_err(init)?,
        })
    }
}

impl UnitCodec for Zstd {
    fn name(&self) -> &str {
        &self.name
    }
    fn max_compressed_len(&mut self, src_len: usize) -> usize {
        zstd::zstd_safe::compress_bound(src_len)
    }
    fn compress(&mut self, src: &[u8], dst: &mut [u8]) -> Result<Compressed, PeerError> {
        self.comp
            .compress_to_buffer(src, dst)
            .map(Compressed::Bytes)
            .map_err(|e| PeerError::Compress {
                codec: "zstd",
                detail: e.to_string(),
            })
    }
    fn decompress(&mut self, src: &[u8], dst: &mut [u8]) -> Result<usize, PeerError> {
        self.decomp
            .decompress_to_buffer(src, dst)
            .map_err(|e| PeerError::Decompress {
                codec: "zstd",
                detail: e.to_string(),
            })
    }
}
