//! Hybrid batches: with a device (model) slower than the software path, a batch that lets the
//! calling thread compress pending units in software while the device works on the rest beats
//! both the device alone and software alone.
//!
//! ```text
//! cargo run --release -p iaa-bench --bin batch_hybrid [-- --units 512 --slowdown 4 --engines 2 --reps 5]
//! ```
//! The software time per 4 KiB unit `t_sw` is measured first; the model's latency is set to
//! `slowdown * t_sw` per unit, so with `engines` engines the device alone delivers
//! `engines / slowdown` of the software rate. Each mode compresses the same `units` pages per
//! call; the best of `reps` calls is reported, with the share of units each path did.

use std::time::{Duration, Instant};

use iaa::model::{Latency, ModelConfig, ModelWqConfig};
use iaa::{Budgets, Device, Outputs, Path, Pool, PoolBuilder, UnitResult};
use iaa_cli::bench::corpus::{self, LoadOptions};

fn arg(name: &str, default: u64) -> u64 {
    let args: Vec<String> = std::env::args().collect();
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// Wall time of one call and its summary.
fn run(pool: &Pool, src: &[u8]) -> (Duration, iaa::BatchSummary) {
    let n = src.len() / 4096;
    let mut out = vec![0u8; n * 4096];
    let mut res = vec![UnitResult::Pending; n];
    let t = Instant::now();
    let sum = pool
        .compress_batch(src, 4096, Outputs::flat(&mut out, 4096), &mut res)
        .expect("call");
    let wall = t.elapsed();
    assert!(sum.all_ok());
    (wall, sum)
}

fn main() {
    let units = arg("--units", 512) as usize;
    let slowdown = arg("--slowdown", 4);
    let engines = arg("--engines", 2) as usize;
    let reps = arg("--reps", 5) as usize;
    let corpus = corpus::load(
        None,
        LoadOptions {
            max_bytes_per_file: Some(units * 4096 / 4 + 4096),
        },
    )
    .expect("corpus");
    let data: Vec<u8> = corpus
        .files
        .iter()
        .flat_map(|f| f.data.iter().copied())
        .collect();
    let src = &data[..(units * 4096).min(data.len() / 4096 * 4096)];
    let units = src.len() / 4096;

    let sw = Pool::builder()
        .path(Path::Software)
        .build()
        .expect("software pool");
    let t_sw = (0..3)
        .map(|_| run(&sw, src).0)
        .min()
        .unwrap_or_default()
        .as_nanos() as u64
        / units as u64;
    let per_unit = t_sw * slowdown;
    let model = |hybrid: bool| -> PoolBuilder {
        Pool::builder()
            .path(Path::Hardware)
            .hybrid(hybrid)
            .budgets(Budgets {
                completion_timeout: Duration::from_secs(1),
                ..Budgets::default()
            })
            .device(Device::Model(ModelConfig {
                engines,
                wqs: vec![ModelWqConfig::shared(64)],
                latency: Latency {
                    fixed_ns: per_unit,
                    ns_per_kib: 0,
                },
                ..ModelConfig::iaa(engines)
            }))
    };
    let hw = model(false).build().expect("device pool");
    let hy = model(true).build().expect("hybrid pool");
    println!(
        "batch_hybrid: {} units of 4 KiB per call ({})",
        units,
        corpus.describe()
    );
    println!(
        "software: {t_sw} ns/unit; model: {engines} engine(s), latency {per_unit} ns/unit \
         ({slowdown}x software), so the device alone runs at {:.2}x the software rate",
        engines as f64 / slowdown as f64
    );
    // The three modes alternate, so a change of machine load hits them alike; best of `reps`.
    let mut best = [(Duration::MAX, iaa::BatchSummary::default()); 3];
    for _ in 0..reps {
        for (k, p) in [&sw, &hw, &hy].into_iter().enumerate() {
            let r = run(p, src);
            if r.0 < best[k].0 {
                best[k] = r;
            }
        }
    }
    let [(t_sw_all, _), (t_hw, s_hw), (t_hy, s_hy)] = best;
    let mbps = |t: Duration| src.len() as f64 / t.as_secs_f64() / 1e6;
    println!();
    println!("| mode                   | ms/call | MB/s   | units hw | units sw |");
    println!("|------------------------|--------:|-------:|---------:|---------:|");
    println!(
        "| software only          | {:>7.2} | {:>6.1} | {:>8} | {:>8} |",
        t_sw_all.as_secs_f64() * 1e3,
        mbps(t_sw_all),
        0,
        units
    );
    println!(
        "| device only (no hybrid) | {:>7.2} | {:>6.1} | {:>8} | {:>8} |",
        t_hw.as_secs_f64() * 1e3,
        mbps(t_hw),
        s_hw.hardware,
        s_hw.software
    );
    println!(
        "| hybrid (device + caller) | {:>7.2} | {:>6.1} | {:>8} | {:>8} |",
        t_hy.as_secs_f64() * 1e3,
        mbps(t_hy),
        s_hy.hardware,
        s_hy.software
    );
    println!();
    println!(
        "hybrid vs software only: {:.2}x; hybrid vs device only: {:.2}x",
        t_sw_all.as_secs_f64() / t_hy.as_secs_f64(),
        t_hw.as_secs_f64() / t_hy.as_secs_f64()
    );
    for (name, p) in [("device-only", &hw), ("hybrid", &hy)] {
        let st = p.stats();
        let causes: Vec<String> = iaa::FallbackCause::ALL
            .iter()
            .filter(|c| st.fallback(**c) > 0)
            .map(|c| format!("{} {}", c.name(), st.fallback(*c)))
            .collect();
        println!(
            "{name} pool fallbacks over all calls: [{}]",
            causes.join(", ")
        );
    }
}
