//! Per-unit latency of one 8-unit compress batch versus 8 single-unit calls, through the
//! device model with a latency model of about 3 µs per 4 KiB unit and 8 engines (the kernel's
//! zswap figures for comparison: 1,356 ns per page batched vs 3,503 ns sequential, p50).
//!
//! ```text
//! cargo run --release -p iaa-bench --bin batch_latency [-- --rounds N --ns-per-kib 750 --engines 8 --replay 1]
//! ```
//! `--replay 1` runs the model in its replay mode (`IAA_DEVICE=model` with
//! `IAA_MODEL_REPLAY_MIB`, the other `IAA_MODEL_*` variables set from these options): every
//! page is compressed and decompressed once before timing, so the timed jobs are answered
//! from remembered results and the model's own compute leaves the latency path.
//! Each round takes the next 8 pages (4 KiB) of the corpus (Silesia, or generated data) and
//! times (a) one `compress_batch` of 8 units and (b) 8 `compress` calls, (a) first in even
//! rounds and (b) first in odd ones, since the first to touch a round's pages (and the
//! replaying model's remembered results for them) takes the cache misses (then the same for
//! decompression of those pages); the
//! report gives per-page p50/p99 of both. Hybrid is off so every unit goes through the device.

use std::time::Instant;

use iaa::{Device, ModelOptions, Outputs, Path, Pool, UnitResult};
use iaa_bench::{arg, corpus_bytes};

fn pct(v: &mut [f64], p: f64) -> f64 {
    v.sort_by(|a, b| a.total_cmp(b));
    v[((v.len() - 1) as f64 * p).round() as usize]
}

fn main() {
    let rounds = arg("--rounds", 2000) as usize;
    let ns_per_kib = arg("--ns-per-kib", 750);
    let engines = arg("--engines", 8) as usize;
    let replay = arg("--replay", 0) != 0;
    let device = if replay {
        // The same shape through IAA_DEVICE=model's variables (ModelOptions has no replay
        // field), set before any thread starts.
        for (k, v) in [
            ("IAA_MODEL_ENGINES", engines.to_string()),
            ("IAA_MODEL_WQ_SIZE", "64".to_string()),
            ("IAA_MODEL_WQ_MODE", "shared".to_string()),
            ("IAA_MODEL_FIXED_NS", "0".to_string()),
            ("IAA_MODEL_NS_PER_KIB", ns_per_kib.to_string()),
            ("IAA_MODEL_REPLAY_MIB", "512".to_string()),
        ] {
            std::env::set_var(k, v);
        }
        Device::Named("model".into())
    } else {
        Device::Model(ModelOptions {
            engines,
            wq_size: 64,
            ns_per_kib,
            ..ModelOptions::default()
        })
    };
    let pool = Pool::builder()
        .path(Path::Hardware)
        .device(device)
        .hybrid(false)
        .build()
        .expect("pool on the device model");
    let (corpus, data) = corpus_bytes(4 << 20);
    let pages = data.len() / 4096;
    if replay {
        println!("model in replay mode: every page is computed once before timing");
    }
    println!("batch_latency: {}", pool.describe());
    println!(
        "corpus: {}; latency model {} ns/KiB ({} ns per 4 KiB unit); {} rounds",
        corpus.describe(),
        ns_per_kib,
        ns_per_kib * 4,
        rounds
    );

    let mut out = vec![0u8; 8 * 4096];
    let mut res = [UnitResult::Pending; 8];
    let mut batch_ns = Vec::with_capacity(rounds);
    let mut single_ns = Vec::with_capacity(rounds);
    let mut hw_units = 0usize;
    // Warm-up (replay: every page the timed rounds use, batched and single).
    let warm = if replay { pages / 8 + 1 } else { 50 };
    for r in 0..warm {
        let p = (r * 8) % (pages - 8);
        let src = &data[p * 4096..(p + 8) * 4096];
        pool.compress_batch(src, 4096, Outputs::flat(&mut out, 4096), &mut res)
            .expect("call");
        if replay {
            for k in 0..8 {
                let r = pool.compress(
                    &src[k * 4096..(k + 1) * 4096],
                    &mut out[k * 4096..(k + 1) * 4096],
                );
                std::hint::black_box(r.expect("call"));
            }
        }
    }
    let before = pool.stats();
    for r in 0..rounds {
        let p = (r * 8) % (pages - 8);
        let src = &data[p * 4096..(p + 8) * 4096];
        // The first of the two to touch a round's pages (and the model's remembered results
        // for them) takes the cache misses; alternate which one goes first.
        for batch in [r % 2 == 0, r % 2 != 0] {
            let t = Instant::now();
            if batch {
                let sum = pool
                    .compress_batch(src, 4096, Outputs::flat(&mut out, 4096), &mut res)
                    .expect("call");
                batch_ns.push(t.elapsed().as_nanos() as f64 / 8.0);
                hw_units += sum.hardware;
            } else {
                for k in 0..8 {
                    let r = pool
                        .compress(
                            &src[k * 4096..(k + 1) * 4096],
                            &mut out[k * 4096..(k + 1) * 4096],
                        )
                        .expect("call");
                    std::hint::black_box(r);
                }
                single_ns.push(t.elapsed().as_nanos() as f64 / 8.0);
            }
        }
    }
    // Decompression: the same pages compressed once, then 8-unit decompress batches against
    // 8 single decompress calls (the device's decode is cheaper than its encode in the model).
    let mut comp: Vec<Vec<u8>> = Vec::with_capacity(pages.min(4096));
    for p in 0..pages.min(4096) {
        let mut c = vec![0u8; 4096];
        if let Ok(UnitResult::Done { len, .. }) =
            pool.compress(&data[p * 4096..(p + 1) * 4096], &mut c)
        {
            c.truncate(len);
            comp.push(c);
        }
    }
    if replay {
        for c in comp.chunks_exact(8) {
            let ins: [&[u8]; 8] = std::array::from_fn(|k| c[k].as_slice());
            pool.decompress_batch(&ins, Outputs::flat(&mut out, 4096), &mut res)
                .expect("call");
        }
        for c in &comp {
            let r = pool.decompress(c, &mut out[..4096]);
            std::hint::black_box(r.expect("call"));
        }
    }
    let mut dbatch_ns = Vec::with_capacity(rounds);
    let mut dsingle_ns = Vec::with_capacity(rounds);
    for r in 0..rounds {
        let k0 = (r * 8) % (comp.len() - 8);
        let ins: [&[u8]; 8] = std::array::from_fn(|k| comp[k0 + k].as_slice());
        for batch in [r % 2 == 0, r % 2 != 0] {
            let t = Instant::now();
            if batch {
                let sum = pool
                    .decompress_batch(&ins, Outputs::flat(&mut out, 4096), &mut res)
                    .expect("call");
                dbatch_ns.push(t.elapsed().as_nanos() as f64 / 8.0);
                assert!(sum.all_ok());
            } else {
                for (k, c) in ins.iter().enumerate() {
                    let r = pool
                        .decompress(c, &mut out[k * 4096..(k + 1) * 4096])
                        .expect("call");
                    std::hint::black_box(r);
                }
                dsingle_ns.push(t.elapsed().as_nanos() as f64 / 8.0);
            }
        }
    }
    let d50 = pct(&mut dbatch_ns, 0.5);
    let d99 = pct(&mut dbatch_ns, 0.99);
    let e50 = pct(&mut dsingle_ns, 0.5);
    let e99 = pct(&mut dsingle_ns, 0.99);

    let s = pool.stats();
    let b50 = pct(&mut batch_ns, 0.5);
    let b99 = pct(&mut batch_ns, 0.99);
    let s50 = pct(&mut single_ns, 0.5);
    let s99 = pct(&mut single_ns, 0.99);
    println!();
    println!("| per 4 KiB page            |   p50 ns |   p99 ns |");
    println!("|---------------------------|---------:|---------:|");
    println!("| batch of 8 (compress_batch) | {b50:>8.0} | {b99:>8.0} |");
    println!("| 8 single calls (compress)   | {s50:>8.0} | {s99:>8.0} |");
    println!("| batch of 8 (decompress_batch) | {d50:>8.0} | {d99:>8.0} |");
    println!("| 8 single calls (decompress)   | {e50:>8.0} | {e99:>8.0} |");
    println!();
    println!(
        "speed-up of batching at p50: compress {:.2}x, decompress {:.2}x (kernel zswap on SPR, \
         compress: 3503/1356 = 2.58x)",
        s50 / b50,
        e50 / d50
    );
    println!(
        "units on the device in batches: {hw_units}/{}; fallbacks during the run: {}",
        rounds * 8,
        s.total_fallbacks() - before.total_fallbacks()
    );

    // What one unit costs the model itself (its deflate runs on this machine's CPU, on top of
    // the latency model): the inline model executes each descriptor in the calling thread.
    let inline = Pool::builder()
        .path(Path::Hardware)
        .device(Device::Model(ModelOptions {
            engines: 0,
            ..ModelOptions::default()
        }))
        .hybrid(false)
        .contexts(1)
        .build()
        .expect("inline model");
    let mut per = Vec::with_capacity(rounds);
    for r in 0..rounds {
        let p = (r * 8) % (pages - 8);
        let t = Instant::now();
        let r = inline
            .compress(&data[p * 4096..(p + 1) * 4096], &mut out[..4096])
            .expect("call");
        per.push(t.elapsed().as_nanos() as f64);
        std::hint::black_box(r);
    }
    println!(
        "model compute per 4 KiB unit (inline model, no latency model, driver included): p50 {:.0} ns",
        pct(&mut per, 0.5)
    );
    let sw = Pool::builder()
        .path(Path::Software)
        .contexts(1)
        .build()
        .expect("software pool");
    println!(
        "memory per context: hardware pool {:?} = {} B; software pool {:?} = {} B \
         (kernel: 64.34 KB IAA with 8 buffers, 8.28 KB software)",
        pool.context_bytes(),
        pool.context_bytes().total(),
        sw.context_bytes(),
        sw.context_bytes().total()
    );
    println!(
        "cores: {} (the model's {} engine threads share them with the caller)",
        std::thread::available_parallelism().map_or(1, |n| n.get()),
        engines
    );
}
