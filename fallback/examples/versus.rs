//! Our Fast encoder against ISA-L level 1 (4 KiB window, feature `isal`) on any files, per
//! file and unit size, interleaved in one run (thread CPU time, best of `reps`).
//!
//! `cargo run --release -p iaa-fallback --features isal --example versus -- REPS UNITS FILE...`
//! (UNITS comma-separated, e.g. `4096,16384,65536`; a directory stands for its files).
//! `VERSUS_ONLY=ours` or `=isal` runs one side only (for profiling); `IAA_FALLBACK_VARIANT`
//! forces an encoder variant (see `Variant::selected`).

use cpu_time::ThreadTime;
use iaa_fallback::{max_compressed_len, CompressOutcome, Compressor, Level};

fn files(args: &[String]) -> Vec<(String, Vec<u8>)> {
    let mut out = Vec::new();
    for a in args {
        let p = std::path::Path::new(a);
        let mut paths = vec![];
        if p.is_dir() {
            for e in std::fs::read_dir(p).into_iter().flatten().flatten() {
                if e.path().is_file() {
                    paths.push(e.path());
                }
            }
            paths.sort();
        } else {
            paths.push(p.to_path_buf());
        }
        for p in paths {
            if let Ok(d) = std::fs::read(&p) {
                out.push((p.display().to_string(), d));
            }
        }
    }
    out
}

type CompressFn<'a> = dyn FnMut(&[u8], &mut [u8]) -> Option<usize> + 'a;

fn once(data: &[u8], unit: usize, dst: &mut [u8], f: &mut CompressFn<'_>) -> (f64, usize) {
    let t = ThreadTime::now();
    let mut o = 0;
    for u in data.chunks(unit) {
        o += match f(u, dst) {
            Some(n) if n < u.len() => n,
            _ => u.len(),
        };
    }
    (t.elapsed().as_secs_f64(), o)
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let reps: usize = args.get(1).and_then(|s| s.parse().ok()).unwrap_or(3);
    let units: Vec<usize> = args
        .get(2)
        .map(|s| s.split(',').filter_map(|x| x.parse().ok()).collect())
        .unwrap_or_else(|| vec![4096, 16384, 65536]);
    let fs = files(&args[3.min(args.len())..]);
    for &unit in &units {
        let mut dst = vec![0u8; max_compressed_len(unit) + 1024];
        let mut ours = Compressor::for_max_unit(Level::Fast, unit);
        #[cfg(feature = "isal")]
        let mut isal = iaa_fallback::isal::IsalCompressor::new();
        let (mut tot, mut to, mut ti, mut zo, mut zi) = (0usize, 0f64, 0f64, 0usize, 0usize);
        for (name, data) in &fs {
            #[cfg_attr(not(feature = "isal"), allow(unused_mut))]
            let (mut bo, mut bi) = (f64::MAX, f64::MAX);
            #[cfg_attr(not(feature = "isal"), allow(unused_mut))]
            let (mut oo, mut oi) = (0, 0);
            let only = std::env::var("VERSUS_ONLY").unwrap_or_default();
            for _ in 0..reps {
                if only == "isal" {
                    bo = 1.0;
                } else {
                    let r = once(
                        data,
                        unit,
                        &mut dst,
                        &mut |s, d| match ours.compress(s, d) {
                            Ok(CompressOutcome::Compressed(n)) => Some(n),
                            _ => None,
                        },
                    );
                    bo = bo.min(r.0);
                    oo = r.1;
                }
                #[cfg(feature = "isal")]
                if only != "ours" {
                    let r = once(
                        data,
                        unit,
                        &mut dst,
                        &mut |s, d| match isal.compress(s, d) {
                            Ok(CompressOutcome::Compressed(n)) => Some(n),
                            _ => None,
                        },
                    );
                    bi = bi.min(r.0);
                    oi = r.1;
                }
            }
            let n = data.len() as f64;
            println!(
                "{unit:>6} {:<40} ours {:>7.1} MB/s {:.3} | isal {:>7.1} MB/s {:.3} | {:.2}x",
                name.rsplit('/').next().unwrap_or(name),
                n / bo / 1e6,
                n / oo as f64,
                n / bi / 1e6,
                n / oi.max(1) as f64,
                bi / bo
            );
            tot += data.len();
            to += bo;
            ti += bi;
            zo += oo;
            zi += oi;
        }
        println!(
            "{unit:>6} {:<40} ours {:>7.1} MB/s {:.3} | isal {:>7.1} MB/s {:.3} | {:.2}x",
            "ALL",
            tot as f64 / to / 1e6,
            tot as f64 / zo as f64,
            tot as f64 / ti / 1e6,
            tot as f64 / zi.max(1) as f64,
            ti / to
        );
    }
}
