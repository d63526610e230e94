//! Speed and ratio of our compressor against libdeflate level 1 on the Silesia corpus files in
//! ../shared/corpus, cut into 4 KiB and 64 KiB units, one core, in one run.
//!
//! `cargo run --release -p iaa-fallback --example measure [reps]`
//!
//! Ratio = input bytes / output bytes, an incompressible unit counted at its raw size.
//! Speed = input bytes / best-of-`reps` thread CPU time, in MB/s (10^6 bytes); CPU time
//! rather than wall time because the machine is shared.

use cpu_time::ThreadTime;
use iaa_fallback::{max_compressed_len, CompressOutcome, Compressor, Decompressor, Level};
use std::io::Read;

fn load_corpus() -> Vec<(String, Vec<u8>)> {
    // `../shared/corpus` from the repository root, looked up from the source tree and the
    // current directory (a git worktree may sit deeper).
    let mut bases: Vec<std::path::PathBuf> = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .ancestors()
        .map(|p| p.to_path_buf())
        .collect();
    if let Ok(cwd) = std::env::current_dir() {
        bases.extend(cwd.ancestors().map(|p| p.to_path_buf()));
    }
    let dir = bases
        .iter()
        .map(|b| b.join("shared/corpus"))
        .find(|d| d.join("dickens.zip").is_file())
        .unwrap_or_else(|| std::path::PathBuf::from("shared/corpus"));
    let mut files = Vec::new();
    for name in ["dickens", "mr", "osdb", "xml"] {
        let path = dir.join(format!("{name}.zip"));
        let Ok(f) = std::fs::File::open(&path) else {
            eprintln!("{} absent, skipped", path.display());
            continue;
        };
        let mut z = zip::ZipArchive::new(f).expect("zip");
        let mut e = z.by_index(0).expect("entry");
        let mut v = Vec::new();
        e.read_to_end(&mut v).expect("unzip");
        files.push((name.to_string(), v));
    }
    files
}

/// One codec call: compress `src` into `dst`, `Some(len)` on success.
type CompressFn<'a> = dyn FnMut(&[u8], &mut [u8]) -> Option<usize> + 'a;

struct Run {
    secs: f64,
    out_bytes: usize,
}

/// Compress every unit of every file with `f`, returning the best time and the output size.
fn time_units(
    files: &[(String, Vec<u8>)],
    unit: usize,
    reps: usize,
    f: &mut CompressFn<'_>,
) -> Run {
    let mut dst = vec![0u8; max_compressed_len(unit) + 1024];
    let mut best = f64::MAX;
    let mut out_bytes = 0;
    for _ in 0..reps {
        let t = ThreadTime::now();
        let mut o = 0;
        for (_, data) in files {
            for u in data.chunks(unit) {
                o += match f(u, &mut dst) {
                    Some(n) if n < u.len() => n,
                    _ => u.len(),
                };
            }
        }
        best = best.min(t.elapsed().as_secs_f64());
        out_bytes = o;
    }
    Run {
        secs: best,
        out_bytes,
    }
}

fn main() {
    let reps: usize = std::env::args()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(3);
    // `measure 3 fast`: only the Fast level and libdeflate-1 (for profiling).
    let only_fast = std::env::args().nth(2).as_deref() == Some("fast");
    let files = load_corpus();
    let total: usize = files.iter().map(|(_, d)| d.len()).sum();
    let names: Vec<&str> = files.iter().map(|(n, _)| n.as_str()).collect();
    println!(
        "corpus: {} ({} bytes), best of {reps} runs, one thread, thread CPU time",
        names.join(" "),
        total
    );
    println!(
        "Compressor::state_bytes: Fast {} B, Better {} B",
        Compressor::new(Level::Fast).state_bytes(),
        Compressor::new(Level::Better).state_bytes()
    );
    println!(
        "{:>6}  {:<28} {:>9} {:>7} {:>12}",
        "unit", "codec", "MB/s", "ratio", "vs libdefl-1"
    );
    // Optional third argument: only this unit size.
    let units: Vec<usize> = match std::env::args().nth(3).and_then(|s| s.parse().ok()) {
        Some(u) => vec![u],
        None => vec![4096, 65536],
    };
    for unit in units {
        let mut lib =
            libdeflater::Compressor::new(libdeflater::CompressionLvl::new(1).expect("level"));
        let reference = time_units(&files, unit, reps, &mut |s, d| {
            lib.deflate_compress(s, d).ok()
        });
        let mbps = |r: &Run| total as f64 / r.secs / 1e6;
        let ratio = |r: &Run| total as f64 / r.out_bytes as f64;
        let row = |name: &str, r: &Run| {
            println!(
                "{unit:>6}  {name:<28} {:>9.1} {:>7.3} {:>11.2}x",
                mbps(r),
                ratio(r),
                mbps(r) / mbps(&reference)
            );
        };
        row("libdeflate-1 (32 KiB window)", &reference);
        let levels: &[Level] = if only_fast {
            &[Level::Fast]
        } else {
            &[Level::Fast, Level::Better]
        };
        for &level in levels {
            let mut c = Compressor::new(level);
            let r = time_units(&files, unit, reps, &mut |s, d| match c.compress(s, d) {
                Ok(CompressOutcome::Compressed(n)) => Some(n),
                _ => None,
            });
            row(&format!("iaa-fallback {level:?} (4 KiB)"), &r);
        }
        #[cfg(feature = "isal")]
        {
            let mut c = iaa_fallback::isal::IsalCompressor::new();
            let r = time_units(&files, unit, reps, &mut |s, d| match c.compress(s, d) {
                Ok(CompressOutcome::Compressed(n)) => Some(n),
                _ => None,
            });
            row("isa-l-1 (4 KiB, feature isal)", &r);
        }
        if only_fast {
            // Per file, for comparison with other tools' per-file figures.
            for (name, data) in &files {
                let one = [(name.clone(), data.clone())];
                let mut c = Compressor::new(Level::Fast);
                let r = time_units(&one, unit, reps, &mut |s, d| match c.compress(s, d) {
                    Ok(CompressOutcome::Compressed(n)) => Some(n),
                    _ => None,
                });
                println!(
                    "{unit:>6}    {name:<26} {:>9.1} {:>7.3}",
                    data.len() as f64 / r.secs / 1e6,
                    data.len() as f64 / r.out_bytes as f64
                );
            }
            continue;
        }
        // Decompression speed (libdeflate) of our Fast output, in uncompressed MB/s.
        let mut c = Compressor::new(Level::Fast);
        let mut units: Vec<(Vec<u8>, usize)> = Vec::new();
        let mut dst = vec![0u8; max_compressed_len(unit)];
        for (_, data) in &files {
            for u in data.chunks(unit) {
                if let Ok(CompressOutcome::Compressed(n)) = c.compress(u, &mut dst) {
                    units.push((dst[..n].to_vec(), u.len()));
                }
            }
        }
        let raw: usize = units.iter().map(|u| u.1).sum();
        let mut d = Decompressor::new();
        let mut out = vec![0u8; unit];
        let mut best = f64::MAX;
        for _ in 0..reps {
            let t = ThreadTime::now();
            for (z, n) in &units {
                let m = d.decompress(z, &mut out[..*n]).expect("decompress");
                assert_eq!(m, *n);
            }
            best = best.min(t.elapsed().as_secs_f64());
        }
        println!(
            "{unit:>6}  {:<28} {:>9.1}",
            "decompress ours (libdeflate)",
            raw as f64 / best / 1e6
        );
        let mut best = f64::MAX;
        let opts = iaa_fallback::inflate::InflateOptions::iaa();
        for _ in 0..reps {
            let t = ThreadTime::now();
            for (z, n) in &units {
                let m = iaa_fallback::inflate::inflate(z, &mut out[..*n], &opts).expect("inflate");
                assert_eq!(m, *n);
            }
            best = best.min(t.elapsed().as_secs_f64());
        }
        println!(
            "{unit:>6}  {:<28} {:>9.1}",
            "decompress ours (own inflate)",
            raw as f64 / best / 1e6
        );
    }
}
