//! This project's public API on the software path: `iaa::Pool` (`Path::Software`, level
//! fast, one of its software encoders), one `compress_units` / `decompress_batch` call for all
//! units of a pass, so the row shows what a caller of the batch API gets, pool overhead
//! included.

use super::{Compressed, PeerError, UnitCodec};
use iaa::{Outputs, Path, Pool, SoftwareEncoder, UnitResult};

/// A software-path pool and its result array.
pub struct PoolSoftware {
    name: &'static str,
    encoder: SoftwareEncoder,
    pool: Pool,
    results: Vec<UnitResult>,
}

impl PoolSoftware {
    /// A pool on the software path at level fast with `encoder` (`Native` or `Isal`; the
    /// latter only in builds with the `isal` feature).
    pub fn new(encoder: SoftwareEncoder) -> Result<Self, PeerError> {
        let name = match encoder {
            SoftwareEncoder::Isal => "ours iaa::Pool fast (batch, ISA-L encoder)",
            SoftwareEncoder::Native => "ours iaa::Pool fast (batch)",
            SoftwareEncoder::Auto => "ours iaa::Pool fast (batch, auto encoder)",
        };
        Ok(PoolSoftware {
            name,
            encoder,
            pool: pool(encoder, 65536)?,
            results: Vec::new(),
        })
    }
}

/// A software pool at level fast with `encoder`, its contexts sized for `max_unit_size`.
fn pool(encoder: SoftwareEncoder, max_unit_size: usize) -> Result<Pool, PeerError> {
    Pool::builder()
        .path(Path::Software)
        .level(iaa::Level::Fast)
        .software_encoder(encoder)
        .max_unit_size(max_unit_size)
        .build()
        .map_err(|e| PeerError::Init {
            codec: "iaa::Pool",
            detail: e.to_string(),
        })
}

fn failure(results: &[UnitResult], what: &'static str) -> Option<(usize, PeerError)> {
    results.iter().enumerate().find_map(|(i, r)| {
        let detail = match r {
            UnitResult::Failed(e) => e.to_string(),
            UnitResult::Pending => "left pending".to_string(),
            _ => return None,
        };
        Some((
            i,
            if what == "compress" {
                PeerError::Compress {
                    codec: "iaa::Pool",
                    detail,
                }
            } else {
                PeerError::Decompress {
                    codec: "iaa::Pool",
                    detail,
                }
            },
        ))
    })
}

impl UnitCodec for PoolSoftware {
    fn name(&self) -> &str {
        self.name
    }
    fn is_ours(&self) -> bool {
        true
    }
    fn set_unit_size(&mut self, unit_size: usize) -> Result<(), PeerError> {
        self.pool = pool(self.encoder, unit_size)?;
        Ok(())
    }
    fn max_compressed_len(&mut self, src_len: usize) -> usize {
        iaa_fallback::max_compressed_len(src_len)
    }
    fn compress(&mut self, src: &[u8], dst: &mut [u8]) -> Result<Compressed, PeerError> {
        let mut out = [Compressed::Incompressible];
        let len = dst.len();
        self.compress_many(&[src], dst, len, &mut out)
            .map_err(|(_, e)| e)?;
        Ok(out[0])
    }
    fn decompress(&mut self, src: &[u8], dst: &mut [u8]) -> Result<usize, PeerError> {
        let mut lens = [0usize];
        self.decompress_many(&[src], &mut [dst], &mut lens)
            .map_err(|(_, e)| e)?;
        Ok(lens[0])
    }
    fn compress_many(
        &mut self,
        srcs: &[&[u8]],
        slots: &mut [u8],
        slot: usize,
        out: &mut [Compressed],
    ) -> Result<(), (usize, PeerError)> {
        self.results.clear();
        self.results.resize(srcs.len(), UnitResult::Pending);
        self.pool
            .compress_units(srcs, Outputs::flat(slots, slot), &mut self.results)
            .map_err(|e| {
                (
                    0,
                    PeerError::Compress {
                        codec: "iaa::Pool",
                        detail: e.to_string(),
                    },
                )
            })?;
        if let Some(f) = failure(&self.results, "compress") {
            return Err(f);
        }
        for (o, r) in out.iter_mut().zip(&self.results) {
            *o = match r.len() {
                Some(n) => Compressed::Bytes(n),
                None => Compressed::Incompressible,
            };
        }
        Ok(())
    }
    fn decompress_many(
        &mut self,
        srcs: &[&[u8]],
        dsts: &mut [&mut [u8]],
        lens: &mut [usize],
    ) -> Result<(), (usize, PeerError)> {
        self.results.clear();
        self.results.resize(srcs.len(), UnitResult::Pending);
        self.pool
            .decompress_batch(srcs, dsts, &mut self.results)
            .map_err(|e| {
                (
                    0,
                    PeerError::Decompress {
                        codec: "iaa::Pool",
                        detail: e.to_string(),
                    },
                )
            })?;
        if let Some(f) = failure(&self.results, "decompress") {
            return Err(f);
        }
        for (l, r) in lens.iter_mut().zip(&self.results) {
            *l = r.len().unwrap_or(0);
        }
        Ok(())
    }
}
