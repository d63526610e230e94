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
//!
//! The device model computes each unit's deflate on a host thread (real hardware would not use
//! host CPU), so on a small machine the model and the caller compete for cores. Per mode the
//! bench prints the CPU time of the calling thread and of the model's threads per call, and how
//! long they waited for a core (`/proc/self/task/*/schedstat`): if the model's threads waited,
//! the figure measures the host's cores, not the batch engine.

use std::time::{Duration, Instant};

use iaa::{Budgets, Device, ModelOptions, Outputs, Path, Pool, PoolBuilder, UnitResult};
use iaa_bench::{arg, corpus_bytes};

/// CPU time and run-queue wait (ns) of this process's threads, split into the calling thread
/// (`main`), the device model's engines (`iaa-model-engine*`: their deflate and idle polling)
/// and its completion timer (`iaa-model-timer`).
#[derive(Default, Clone, Copy)]
struct Sched {
    main_cpu: u64,
    main_wait: u64,
    model_cpu: u64,
    model_wait: u64,
    timer_cpu: u64,
}

fn sched() -> Sched {
    let mut s = Sched::default();
    let me = std::process::id().to_string();
    let Ok(dir) = std::fs::read_dir("/proc/self/task") else {
        return s;
    };
    for t in dir.flatten() {
        let p = t.path();
        let comm = std::fs::read_to_string(p.join("comm")).unwrap_or_default();
        let st = std::fs::read_to_string(p.join("schedstat")).unwrap_or_default();
        let mut f = st.split_whitespace().map(|v| v.parse::<u64>().unwrap_or(0));
        let (cpu, wait) = (f.next().unwrap_or(0), f.next().unwrap_or(0));
        if t.file_name().to_str() == Some(me.as_str()) {
            s.main_cpu += cpu;
            s.main_wait += wait;
        } else if comm.starts_with("iaa-model-timer") {
            s.timer_cpu += cpu;
        } else if comm.starts_with("iaa-model") {
            s.model_cpu += cpu;
            s.model_wait += wait;
        }
    }
    s
}

impl Sched {
    fn since(self, a: Sched) -> Sched {
        Sched {
            main_cpu: self.main_cpu - a.main_cpu,
            main_wait: self.main_wait - a.main_wait,
            model_cpu: self.model_cpu - a.model_cpu,
            model_wait: self.model_wait - a.model_wait,
            timer_cpu: self.timer_cpu - a.timer_cpu,
        }
    }
    fn add(&mut self, o: Sched) {
        self.main_cpu += o.main_cpu;
        self.main_wait += o.main_wait;
        self.model_cpu += o.model_cpu;
        self.model_wait += o.model_wait;
        self.timer_cpu += o.timer_cpu;
    }
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
    let (corpus, data) = corpus_bytes(units * 4096 / 4 + 4096);
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
            .device(Device::Model(ModelOptions {
                engines,
                wq_size: 64,
                fixed_ns: per_unit,
                ..ModelOptions::default()
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
    let mut cpu = [Sched::default(); 3];
    let mut wall = [Duration::ZERO; 3];
    for _ in 0..reps {
        for (k, p) in [&sw, &hw, &hy].into_iter().enumerate() {
            let s0 = sched();
            let r = run(p, src);
            cpu[k].add(sched().since(s0));
            wall[k] += r.0;
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
    println!();
    println!(
        "per call, mean of {reps} (ms): CPU of the calling thread, of the model's engines and \
         timer, and how long caller and engines waited for a core"
    );
    let ms = |ns: u64| ns as f64 / reps.max(1) as f64 / 1e6;
    for (name, c) in ["software only", "device only", "hybrid"].iter().zip(cpu) {
        println!(
            "  {name:<14} caller cpu {:>6.2} wait {:>5.2} | engines cpu {:>6.2} wait {:>5.2} \
             | timer cpu {:>5.2}",
            ms(c.main_cpu),
            ms(c.main_wait),
            ms(c.model_cpu),
            ms(c.model_wait),
            ms(c.timer_cpu)
        );
    }
    // The model's deflate is host CPU a real device would not use: say how much, and whether
    // the model had a core of its own during the hybrid calls.
    let dev_units = (s_hw.hardware * reps).max(1) as f64;
    println!(
        "model: {:.1} us host CPU per device unit (device-only calls) vs configured latency \
         {:.1} us; software {:.1} us per unit",
        cpu[1].model_cpu as f64 / dev_units / 1e3,
        per_unit as f64 / 1e3,
        t_sw as f64 / 1e3
    );
    let hy_wait = cpu[2].model_wait as f64 / wall[2].as_nanos().max(1) as f64;
    if hy_wait > 0.2 {
        println!(
            "NOTE: in the hybrid calls the model's engines waited for a core {:.0}% of the \
             time: the host had no core free for the model, whose deflate then competes with \
             the caller's; this hybrid figure measures host load, not the batch engine",
            hy_wait * 100.0
        );
    }
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
