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

/// The largest unit the CLI's pools put on a device (the pool's default `max_unit_size`).
pub const MAX_DEVICE_UNIT: usize = 65536;

/// A pool sized for one unit size, and the per-chunk result array it fills.
pub struct PoolCodec {
    pool: Pool,
    results: Vec<UnitResult>,
    /// Print [`PoolCodec::report`] to stderr when dropped (`iaa decompress -v`, whose codec
    /// lives inside the container reader).
    report_on_drop: bool,
}

impl PoolCodec {
    /// Builds a pool whose device slots fit units of `unit_size` bytes (up to 64 KiB, the
    /// pool's default largest unit; larger units run in software); `hybrid` as the pool's
    /// option of that name; `timeout_ms` the device completion timeout (None: the library's);
    /// `hw_mode` how the device codes each unit, with the training sample of
    /// `iaa::HwMode::Trained`.
    pub fn new(
        codec: Codec,
        level: CliLevel,
        unit_size: usize,
        hybrid: bool,
        timeout_ms: Option<u64>,
        (hw_mode, sample): (iaa::HwMode, Option<Vec<u8>>),
    ) -> Result<Self, String> {
        let mut budgets = iaa::Budgets::default();
        if let Some(ms) = timeout_ms {
            budgets.completion_timeout = std::time::Duration::from_millis(ms);
        }
        let mut b = Pool::builder();
        if let Some(sample) = sample {
            b = b.training_sample(sample);
        }
        let pool = b
            .budgets(budgets)
            .path(Path::Auto)
            .codec(match codec {
                Codec::Deflate => iaa::Codec::Deflate,
                Codec::Zstd => iaa::Codec::Zstd,
            })
            .level(match level {
                CliLevel::Fast => iaa::Level::Fast,
                CliLevel::Better => iaa::Level::Better,
            })
            .hybrid(hybrid)
            .hw_mode(hw_mode)
            .max_unit_size(unit_size.clamp(1, MAX_DEVICE_UNIT))
            .build()
            .map_err(|e| e.to_string())?;
        Ok(PoolCodec {
            pool,
            results: Vec::new(),
            report_on_drop: false,
        })
    }

    /// Where the units ran: on the device and in software, with the causes of every fallback
    /// (`iaa compress -v`, `iaa decompress -v`).
    pub fn report(&self) -> String {
        let s = self.pool.stats();
        let mut line = format!(
            "units on the device: {} compress, {} decompress; in software: {} compress, {} \
             decompress",
            s.compress_hw.units, s.decompress_hw.units, s.compress_sw.units, s.decompress_sw.units
        );
        let causes: Vec<String> = iaa::FallbackCause::ALL
            .iter()
            .filter(|c| s.fallback(**c) > 0)
            .map(|c| format!("{} {}", c.name(), s.fallback(*c)))
            .collect();
        if !causes.is_empty() {
            line.push_str("; fallbacks: ");
            line.push_str(&causes.join(", "));
        }
        line
    }

    /// Print [`PoolCodec::report`] to stderr when dropped.
    pub fn report_on_drop(&mut self, on: bool) {
        self.report_on_drop = on;
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

impl Drop for PoolCodec {
    fn drop(&mut self) {
        if self.report_on_drop {
            eprintln!("iaa: {}", self.report());
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
