//! The container's unit codec: batches of units through `iaa::Pool` (path Auto: the IAA
//! hardware when a device is found, else the software path, with per-unit fallback).

use crate::container::{Codec, UnitCodec, UnitOutcome};
use iaa::{Outputs, Path, Pool, UnitResult};

/// Compression level chosen on the command line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum CliLevel {
    /// Fastest.
    #[default]
    Fast,
    /// Smaller output, slower (software path only; the hardware uses its own Huffman codes).
    Better,
}

/// A pool sized for one unit size, and the per-chunk result array it fills.
pub struct PoolCodec {
    pool: Pool,
    results: Vec<UnitResult>,
}

impl PoolCodec {
    /// Builds a pool for units of at most `unit_size` bytes.
    pub fn new(codec: Codec, level: CliLevel, unit_size: usize) -> Result<Self, String> {
        let pool = Pool::builder()
            .path(Path::Auto)
            .codec(match codec {
                Codec::Deflate => iaa::Codec::Deflate,
                Codec::Zstd => iaa::Codec::Zstd,
            })
            .level(match level {
                CliLevel::Fast => iaa::Level::Fast,
                CliLevel::Better => iaa::Level::Better,
            })
            .max_unit_size(unit_size)
            .build()
            .map_err(|e| e.to_string())?;
        Ok(PoolCodec {
            pool,
            results: Vec::new(),
        })
    }

    /// One line saying which path the pool uses and why, and its software deflate encoder.
    pub fn describe(&self) -> String {
        match self.pool.codec() {
            iaa::Codec::Deflate => format!(
                "{}; software deflate encoder: {}",
                self.pool.describe(),
                self.pool.software_encoder().name()
            ),
            iaa::Codec::Zstd => self.pool.describe(),
        }
    }
}

fn first_failure(results: &[UnitResult]) -> Option<(usize, String)> {
    results.iter().enumerate().find_map(|(i, r)| match r {
        UnitResult::Failed(e) => Some((i, e.to_string())),
        UnitResult::Pending => Some((i, "unit left pending".to_string())),
        _ => None,
    })
}

impl UnitCodec for PoolCodec {
    fn compress_chunk(
        &mut self,
        src: &[u8],
        unit_size: usize,
        slots: &mut [u8],
        out: &mut [UnitOutcome],
    ) -> Result<(), (usize, String)> {
        self.results.clear();
        self.results.resize(out.len(), UnitResult::Pending);
        self.pool
            .compress_batch(
                src,
                unit_size,
                Outputs::flat(slots, unit_size),
                &mut self.results,
            )
            .map_err(|e| (0, e.to_string()))?;
        if let Some(f) = first_failure(&self.results) {
            return Err(f);
        }
        for (o, r) in out.iter_mut().zip(&self.results) {
            *o = match r {
                UnitResult::Done { len, .. } => UnitOutcome::Compressed(*len),
                _ => UnitOutcome::Incompressible,
            };
        }
        Ok(())
    }

    fn decompress_chunk(
        &mut self,
        inputs: &[&[u8]],
        outputs: &mut [&mut [u8]],
        lens: &mut [usize],
    ) -> Result<(), (usize, String)> {
        if inputs.is_empty() {
            return Ok(());
        }
        self.results.clear();
        self.results.resize(inputs.len(), UnitResult::Pending);
        self.pool
            .decompress_batch(inputs, outputs, &mut self.results)
            .map_err(|e| (0, e.to_string()))?;
        if let Some(f) = first_failure(&self.results) {
            return Err(f);
        }
        for (l, r) in lens.iter_mut().zip(&self.results) {
            *l = r.len().unwrap_or(0);
        }
        Ok(())
    }
}
