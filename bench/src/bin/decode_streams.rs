//! Decompression speed is a property of the stream as much as of the decoder. This program
//! decodes, in one run on the same corpus units, the streams of libdeflate level 1 (32 KiB
//! window, not IAA-readable beyond 4 KiB units), of our software path (4 KiB window, fast and
//! better) and, with `--features isal`, of ISA-L level 1 with a 4 KiB window, each with
//! libdeflate itself and with our `iaa_fallback::Decompressor`. It shows whether a gap to
//! "libdeflate on its own stream" comes from the decoder or from the stream.
//!
//! `cargo run --release -p iaa-bench [--features isal] --bin decode_streams [-- --runs 5]`
//!
//! MB/s = uncompressed bytes / median thread CPU time; "x ref" = against libdeflate decoding
//! libdeflate-1's stream at the same unit size.

use iaa_bench::engine::{median, thread_cpu_secs};
use iaa_bench::peers::zlib::Zlib;
use iaa_bench::{arg, corpus_bytes, Compressed, UnitCodec};
use iaa_fallback::inflate::{inflate_status, InflateOptions};
use iaa_fallback::{max_compressed_len, CompressOutcome, Compressor, Decompressor, Level};

/// One compressed unit and its original length (units that did not shrink are left out, as
/// a caller would store them raw).
type Units = Vec<(Vec<u8>, usize)>;

/// One encoder call: compress `src` into `dst`, `Some(len)` when it produced a stream.
type Encode<'a> = dyn FnMut(&[u8], &mut [u8]) -> Option<usize> + 'a;

fn encode(files: &[&[u8]], unit: usize, f: &mut Encode<'_>) -> (Units, f64) {
    let mut out = Vec::new();
    let mut dst = vec![0u8; max_compressed_len(unit) + 1024];
    let (mut raw, mut stored) = (0usize, 0usize);
    for data in files {
        for u in data.chunks(unit) {
            raw += u.len();
            match f(u, &mut dst) {
                Some(n) if n < u.len() => {
                    stored += n;
                    out.push((dst[..n].to_vec(), u.len()));
                }
                _ => stored += u.len(),
            }
        }
    }
    (out, raw as f64 / stored as f64)
}

fn main() {
    let runs = arg("--runs", 5).max(1) as usize;
    // `--unit N`: only that unit size (default: 4, 16 and 64 KiB).
    let only = arg("--unit", 0) as usize;
    // `--per-file N`: the first N bytes of each file (a quick run, or one under callgrind).
    let (corpus, _) = corpus_bytes(arg("--per-file", u64::MAX) as usize);
    let files: Vec<&[u8]> = corpus.files.iter().map(|f| f.data.as_slice()).collect();
    let names: Vec<&str> = corpus.files.iter().map(|f| f.name.as_str()).collect();
    let total: usize = files.iter().map(|f| f.len()).sum();
    println!(
        "corpus: {} ({total} bytes); median of {runs} runs; thread CPU time",
        names.join(" ")
    );
    println!(
        "| unit | stream (window) | ratio | blocks/unit | decoder | decompress MB/s | x ref | ours / libdeflate |\n|---|---|---:|---:|---|---:|---:|---:|"
    );
    for unit in [4096usize, 16384, 65536] {
        if only != 0 && unit != only {
            continue;
        }
        let mut streams: Vec<(&str, Units, f64)> = Vec::new();
        let mut lib =
            libdeflater::Compressor::new(libdeflater::CompressionLvl::new(1).expect("level 1"));
        let (u, r) = encode(&files, unit, &mut |s, d| lib.deflate_compress(s, d).ok());
        streams.push(("libdeflate-1 (32 KiB)", u, r));
        // zlib's default level: its blocks end when 16 K symbols are buffered, so larger
        // units are several blocks.
        let mut zl = Zlib::new(6).expect("zlib level 6");
        let (u, r) = encode(&files, unit, &mut |s, d| match zl.compress(s, d) {
            Ok(Compressed::Bytes(n)) => Some(n),
            _ => None,
        });
        streams.push(("zlib-6 (32 KiB)", u, r));
        for (name, level) in [
            ("ours fast (4 KiB)", Level::Fast),
            ("ours better (4 KiB)", Level::Better),
        ] {
            let mut c = Compressor::new(level);
            let (u, r) = encode(&files, unit, &mut |s, d| match c.compress(s, d) {
                Ok(CompressOutcome::Compressed(n)) => Some(n),
                _ => None,
            });
            streams.push((name, u, r));
        }
        #[cfg(feature = "isal")]
        {
            let mut c = iaa_fallback::isal::IsalCompressor::new();
            let (u, r) = encode(&files, unit, &mut |s, d| match c.compress(s, d) {
                Ok(CompressOutcome::Compressed(n)) => Some(n),
                _ => None,
            });
            streams.push(("ISA-L-1 (4 KiB)", u, r));
        }
        let mut raw_dec = libdeflater::Decompressor::new();
        let mut ours = Decompressor::new();
        let mut out = vec![0u8; unit];
        // times[stream][decoder]
        let mut times = vec![[Vec::new(), Vec::new()]; streams.len()];
        for run in 0..runs {
            for (k, (_, units, _)) in streams.iter().enumerate() {
                // Alternate which decoder goes first, so neither always runs on a warm cache.
                for d in [run % 2, 1 - run % 2] {
                    let t = thread_cpu_secs();
                    for (z, n) in units {
                        let m = if d == 0 {
                            raw_dec.deflate_decompress(z, &mut out[..*n]).ok()
                        } else {
                            ours.decompress(z, &mut out[..*n]).ok()
                        };
                        assert_eq!(m, Some(*n), "a unit failed to decode");
                    }
                    times[k][d].push(thread_cpu_secs() - t);
                }
            }
        }
        let mbps = |k: usize, d: usize| {
            let bytes: usize = streams[k].1.iter().map(|u| u.1).sum();
            bytes as f64 / median(&times[k][d]) / 1e6
        };
        let reference = mbps(0, 0);
        for (k, (name, units, ratio)) in streams.iter().enumerate() {
            // Deflate blocks per unit (our checked inflater counts them).
            let blocks: u64 = units
                .iter()
                .map(|(z, n)| {
                    inflate_status(z, &mut out[..*n], &InflateOptions::default())
                        .map_or(0, |s| u64::from(s.blocks))
                })
                .sum();
            let per_unit = blocks as f64 / units.len().max(1) as f64;
            let own = mbps(k, 1) / mbps(k, 0);
            for (d, dec) in ["libdeflate", "ours (iaa-fallback)"].iter().enumerate() {
                let v = mbps(k, d);
                let rel = if d == 1 {
                    format!("{own:.3}x")
                } else {
                    String::new()
                };
                println!(
                    "| {} KiB | {name} | {ratio:.3} | {per_unit:.2} | {dec} | {v:.1} | {:.2}x | {rel} |",
                    unit / 1024,
                    v / reference
                );
            }
        }
    }
}
