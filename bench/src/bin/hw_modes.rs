//! Compression ratio of the hardware path's modes, on the device model's executor directly
//! (no pool, no queues): fixed (the kernel's AECS), dynamic on IAA 1.0 (statistics pass, code
//! built on the CPU with `iaa_descriptors::DeviceCode`, compress pass), IAA 2.0 one-pass
//! header generation, and trained (one code per file, built from the statistics of its first
//! `--train-kib` KiB of units (default `iaa::LEARN_BYTES`, what a trained pool without a sample
//! learns from), or of as many units spread evenly over the file, every symbol coded, applied
//! to all its units), beside the software
//! path's fast and better levels, at 4, 16 and 64 KiB units, in one run on the same data.
//!
//! ```text
//! cargo run --release -p iaa-bench --bin hw_modes [-- --max-mib N --train-kib 256 --ns-per-kib 750]
//! ```
//! Ratio = input bytes / output bytes, a unit whose output would not be smaller than the unit
//! counted as stored raw (its size), no container. Every output is decoded again (software
//! inflater, 4 KiB window) and compared. Device µs per unit: descriptors per unit times the
//! latency model (`--ns-per-kib`, 750 = 3 µs per 4 KiB as in `batch_latency`); the model's
//! latency does not depend on the mode, so one-pass header generation counts as one descriptor.

use iaa_bench::{arg, corpus, LoadOptions};
use iaa_descriptors::{CompressAecs, Coverage, DeviceCode, Histogram, HISTOGRAM_BYTES};
use iaa_fallback::inflate::{inflate, InflateOptions};
use iaa_fallback::{max_compressed_len, CompressOutcome, Compressor, Level};
use iaa_model::{Executor, Latency, ModelConfig, IAA2_CAP};

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Mode {
    SoftFast,
    SoftBetter,
    Fixed,
    Dynamic,
    OnePass,
    Trained,
    TrainedSpread,
    TrainedPool,
}

const MODES: [Mode; 8] = [
    Mode::SoftFast,
    Mode::SoftBetter,
    Mode::Fixed,
    Mode::Dynamic,
    Mode::OnePass,
    Mode::Trained,
    Mode::TrainedSpread,
    Mode::TrainedPool,
];

impl Mode {
    fn name(self) -> &'static str {
        match self {
            Mode::SoftFast => "software fast",
            Mode::SoftBetter => "software better",
            Mode::Fixed => "device fixed",
            Mode::Dynamic => "device dynamic, IAA 1.0 two-pass",
            Mode::OnePass => "device dynamic, IAA 2.0 one-pass",
            Mode::Trained => "device trained (first units)",
            Mode::TrainedSpread => "device trained (units spread over the file)",
            Mode::TrainedPool => "device trained, one code for all files (the corpus' first units)",
        }
    }
    /// Device descriptors per unit.
    fn descriptors(self) -> u64 {
        match self {
            Mode::SoftFast | Mode::SoftBetter => 0,
            Mode::Dynamic => 2,
            _ => 1,
        }
    }
}

fn histogram(x: &mut Executor, u: &[u8]) -> Histogram {
    let mut hist = [0u8; HISTOGRAM_BYTES];
    let r = x.statistics(u, &mut hist);
    assert_eq!(r.status, 1, "statistics pass");
    Histogram::from_bytes(&hist).expect("1280 bytes")
}

fn main() {
    let max_mib = arg("--max-mib", 0) as usize;
    let train_kib = arg("--train-kib", (iaa::LEARN_BYTES >> 10) as u64) as usize;
    let ns_per_kib = arg("--ns-per-kib", 750);
    let corpus = corpus::load(
        None,
        LoadOptions {
            max_bytes_per_file: (max_mib > 0).then_some(max_mib << 20),
        },
    )
    .expect("corpus");
    println!("hw_modes: {}", corpus.describe());
    let cfg = ModelConfig {
        iaa_cap: IAA2_CAP,
        latency: Latency {
            fixed_ns: 0,
            ns_per_kib,
        },
        ..ModelConfig::iaa(0)
    };
    let mut x = Executor::new(cfg);
    println!(
        "device model executor (IAACAP {IAA2_CAP:#x}), latency model {ns_per_kib} ns/KiB; \
         trained: one code per file from {train_kib} KiB of its units (first, or spread)"
    );
    println!();
    println!(
        "| unit | mode | ratio | vs device fixed | device descriptors / unit | device µs / unit |"
    );
    println!("|---:|---|---:|---:|---:|---:|");
    for unit in [4096usize, 16384, 65536] {
        let train_units = (train_kib << 10).div_ceil(unit).max(1);
        let mut fast = Compressor::for_max_unit(Level::Fast, unit);
        let mut better = Compressor::for_max_unit(Level::Better, unit);
        let mut dst = vec![0u8; max_compressed_len(unit).max(unit)];
        let mut back = vec![0u8; unit];
        let mut out_bytes = [0u64; MODES.len()];
        let mut in_bytes = 0u64;
        let mut units = 0u64;
        let mut raw = [0u64; MODES.len()];
        // One code for every file, as one pool learns it: from the first units the pool sees
        // (the files in order, so the first file's).
        let mut pool_code = CompressAecs::zeroed();
        {
            let mut sum = Histogram::new();
            let all = corpus.files.iter().flat_map(|f| f.data.chunks(unit));
            for u in all.take(train_units) {
                sum.add(&histogram(&mut x, u));
            }
            DeviceCode::from_histogram(&sum, Coverage::AllSymbols)
                .expect("trained code")
                .write_aecs(&mut pool_code, true);
        }
        let mut per_file = Vec::new();
        for f in &corpus.files {
            let (file_in, file_out) = (in_bytes, out_bytes);
            // The trained codes of this file: from its first units, and from as many units
            // spread evenly over it.
            let n_units = f.data.len().div_ceil(unit);
            let spread = (n_units / train_units.max(1)).max(1);
            let mut codes = [CompressAecs::zeroed(); 2];
            for (k, step) in [1, spread].into_iter().enumerate() {
                let mut sum = Histogram::new();
                for u in f.data.chunks(unit).step_by(step).take(train_units) {
                    sum.add(&histogram(&mut x, u));
                }
                DeviceCode::from_histogram(&sum, Coverage::AllSymbols)
                    .expect("trained code")
                    .write_aecs(&mut codes[k], true);
            }
            let fixed = CompressAecs::fixed();
            for u in f.data.chunks(unit) {
                in_bytes += u.len() as u64;
                units += 1;
                for (mi, mode) in MODES.into_iter().enumerate() {
                    let cap = u.len();
                    let n = match mode {
                        Mode::SoftFast | Mode::SoftBetter => {
                            let c = if mode == Mode::SoftFast {
                                &mut fast
                            } else {
                                &mut better
                            };
                            match c.compress(u, &mut dst).expect("software compress") {
                                CompressOutcome::Compressed(n) => Some(n),
                                CompressOutcome::Incompressible => None,
                            }
                        }
                        _ => {
                            let r = match mode {
                                Mode::Fixed => x.compress(u, &mut dst[..cap], &fixed),
                                Mode::Dynamic => {
                                    let h = histogram(&mut x, u);
                                    let mut a = CompressAecs::zeroed();
                                    match DeviceCode::from_histogram(&h, Coverage::Observed) {
                                        Ok(code) => code.write_aecs(&mut a, true),
                                        Err(_) => a = fixed,
                                    }
                                    x.compress(u, &mut dst[..cap], &a)
                                }
                                Mode::OnePass => x.compress_header_gen(u, &mut dst[..cap]),
                                Mode::Trained => x.compress(u, &mut dst[..cap], &codes[0]),
                                Mode::TrainedPool => x.compress(u, &mut dst[..cap], &pool_code),
                                _ => x.compress(u, &mut dst[..cap], &codes[1]),
                            };
                            match (r.status, r.error_code) {
                                (1, _) if (r.output_size as usize) < cap => {
                                    Some(r.output_size as usize)
                                }
                                (1, _) | (0x0A, 25) => None, // does not shrink: stored raw
                                (s, e) => panic!("{mode:?}: status {s:#x} error {e}"),
                            }
                        }
                    };
                    match n {
                        Some(n) => {
                            let m = inflate(&dst[..n], &mut back, &InflateOptions::iaa())
                                .expect("decodes");
                            assert_eq!(&back[..m], u, "{mode:?} round trip");
                            out_bytes[mi] += n as u64;
                        }
                        None => {
                            out_bytes[mi] += u.len() as u64;
                            raw[mi] += 1;
                        }
                    }
                }
            }
            let r = |mi: usize| (in_bytes - file_in) as f64 / (out_bytes[mi] - file_out[mi]) as f64;
            per_file.push(format!(
                "{} fixed {:.3} / own code {:.3} / one code {:.3}",
                f.name,
                r(2),
                r(5),
                r(7)
            ));
        }
        let ratio = |mi: usize| in_bytes as f64 / out_bytes[mi] as f64;
        let fixed_ratio = ratio(2);
        for (mi, mode) in MODES.into_iter().enumerate() {
            let d = mode.descriptors();
            let us =
                d as f64 * (ns_per_kib as f64 * (in_bytes as f64 / units as f64) / 1024.0) / 1000.0;
            println!(
                "| {} KiB | {} | {:.3} | {:+.1} % | {} | {} |",
                unit / 1024,
                mode.name(),
                ratio(mi),
                (ratio(mi) / fixed_ratio - 1.0) * 100.0,
                if d == 0 { "-".into() } else { d.to_string() },
                if d == 0 {
                    "-".into()
                } else {
                    format!("{us:.1}")
                }
            );
        }
        let stored: Vec<String> = MODES
            .iter()
            .zip(raw)
            .filter(|(_, r)| *r > 0)
            .map(|(m, r)| format!("{} {r}", m.name()))
            .collect();
        println!(
            "|  | {units} units of {unit} bytes; stored raw: {} | | | | |",
            if stored.is_empty() {
                "none".to_string()
            } else {
                stored.join(", ")
            }
        );
        println!(
            "|  | trained per file, device fixed / own code (first units) / one code for all files: {} | | | | |",
            per_file.join("; ")
        );
    }
}
