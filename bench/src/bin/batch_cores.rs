//! Software batches spread over cores (`spread_over_cores`) against one core.
//!
//! ```text
//! cargo run --release -p iaa-bench --bin batch_cores [-- --units 2048 --reps 7]
//! ```
//! Both pools compress the same `units` pages of 4 KiB per call on the software path; the best
//! of `reps` calls is reported, alternating the two pools.

use std::time::{Duration, Instant};

use iaa::{Outputs, Path, Pool, UnitResult};
use iaa_bench::{arg, corpus_bytes};

/// CPU time (user + system) of the whole process so far.
fn cpu_time() -> Duration {
    // SAFETY: getrusage writes one rusage struct into the zeroed value we pass.
    let mut ru: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: valid pointer to a live rusage.
    unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut ru) };
    let tv = |t: libc::timeval| Duration::new(t.tv_sec as u64, t.tv_usec as u32 * 1000);
    tv(ru.ru_utime) + tv(ru.ru_stime)
}

fn main() {
    let units = arg("--units", 2048) as usize;
    let reps = arg("--reps", 7) as usize;
    let (corpus, data) = corpus_bytes(units * 4096 / 4 + 4096);
    let src = &data[..(units * 4096).min(data.len() / 4096 * 4096)];
    let units = src.len() / 4096;
    let one = Pool::builder().path(Path::Software).build().expect("pool");
    let spread = Pool::builder()
        .path(Path::Software)
        .spread_over_cores(true)
        .build()
        .expect("pool");
    let mut out = vec![0u8; units * 4096];
    let mut res = vec![UnitResult::Pending; units];
    let mut best = [Duration::MAX; 2];
    let mut cpu = [Duration::ZERO; 2];
    for _ in 0..reps {
        for (k, pool) in [&one, &spread].into_iter().enumerate() {
            let c = cpu_time();
            let t = Instant::now();
            let sum = pool
                .compress_batch(src, 4096, Outputs::flat(&mut out, 4096), &mut res)
                .expect("call");
            let wall = t.elapsed();
            if wall < best[k] {
                best[k] = wall;
                cpu[k] = cpu_time() - c;
            }
            assert!(sum.all_ok());
        }
    }
    let mbps = |t: Duration| src.len() as f64 / t.as_secs_f64() / 1e6;
    println!(
        "batch_cores: {units} units of 4 KiB per call ({})",
        corpus.describe()
    );
    println!(
        "cores available: {}; spread pool batch_size() = {}",
        std::thread::available_parallelism().map_or(1, |n| n.get()),
        spread.batch_size()
    );
    println!();
    println!("| software pool          | ms/call | MB/s   | CPU ms (process) |");
    println!("|------------------------|--------:|-------:|-----------------:|");
    for (k, name) in ["one core", "spread_over_cores"].into_iter().enumerate() {
        println!(
            "| {name:<22} | {:>7.2} | {:>6.1} | {:>16.2} |",
            best[k].as_secs_f64() * 1e3,
            mbps(best[k]),
            cpu[k].as_secs_f64() * 1e3
        );
    }
    println!();
    println!(
        "speed-up: {:.2}x (CPU/wall of the spread call: {:.2}; load average now: {})",
        best[0].as_secs_f64() / best[1].as_secs_f64(),
        cpu[1].as_secs_f64() / best[1].as_secs_f64(),
        std::fs::read_to_string("/proc/loadavg")
            .unwrap_or_default()
            .trim()
    );
}
