//! Instruction counts of decoding under callgrind, without the encoders in the count:
//! `decode_count save DIR` writes the units of `decode_streams`' streams (4, 16 and 64 KiB;
//! libdeflate-1, zlib-6, ours fast, ours better and, with `--features isal`, ISA-L-1) to
//! `DIR/<unit>-<stream>.bin`; `decode_count run FILE ours|libdeflate [STEP]` decodes each unit
//! (or every STEP-th) of one file once, in `decode_all`, which callgrind can count alone:
//!
//! `valgrind --tool=callgrind --toggle-collect='*decode_all*' target/release/decode_count run
//! DIR/4096-0.bin ours`

use iaa_bench::peers::zlib::Zlib;
use iaa_bench::{corpus_bytes, Compressed, UnitCodec};
use iaa_fallback::{max_compressed_len, CompressOutcome, Compressor, Decompressor, Level};
use std::io::Write;

/// Units of one stream: compressed bytes and original length.
type Units = Vec<(Vec<u8>, usize)>;

/// One encoder call: compress `src` into `dst`, `Some(len)` when it produced a stream.
type Encode<'a> = dyn FnMut(&[u8], &mut [u8]) -> Option<usize> + 'a;

fn encode(files: &[&[u8]], unit: usize, f: &mut Encode<'_>) -> Units {
    let mut out = Vec::new();
    let mut dst = vec![0u8; max_compressed_len(unit) + 1024];
    for data in files {
        for u in data.chunks(unit) {
            if let Some(n) = f(u, &mut dst).filter(|&n| n < u.len()) {
                out.push((dst[..n].to_vec(), u.len()));
            }
        }
    }
    out
}

fn save(dir: &str) {
    let (corpus, _) = corpus_bytes(usize::MAX);
    let files: Vec<&[u8]> = corpus.files.iter().map(|f| f.data.as_slice()).collect();
    for unit in [4096usize, 16384, 65536] {
        let mut streams: Vec<Units> = Vec::new();
        let mut lib =
            libdeflater::Compressor::new(libdeflater::CompressionLvl::new(1).expect("level 1"));
        streams.push(encode(&files, unit, &mut |s, d| {
            lib.deflate_compress(s, d).ok()
        }));
        let mut zl = Zlib::new(6).expect("zlib level 6");
        streams.push(encode(&files, unit, &mut |s, d| match zl.compress(s, d) {
            Ok(Compressed::Bytes(n)) => Some(n),
            _ => None,
        }));
        for level in [Level::Fast, Level::Better] {
            let mut c = Compressor::new(level);
            streams.push(encode(&files, unit, &mut |s, d| match c.compress(s, d) {
                Ok(CompressOutcome::Compressed(n)) => Some(n),
                _ => None,
            }));
        }
        #[cfg(feature = "isal")]
        {
            let mut c = iaa_fallback::isal::IsalCompressor::new();
            streams.push(encode(&files, unit, &mut |s, d| match c.compress(s, d) {
                Ok(CompressOutcome::Compressed(n)) => Some(n),
                _ => None,
            }));
        }
        for (k, units) in streams.iter().enumerate() {
            let mut f = std::io::BufWriter::new(
                std::fs::File::create(format!("{dir}/{unit}-{k}.bin")).expect("create"),
            );
            for (z, n) in units {
                f.write_all(&(z.len() as u32).to_le_bytes()).expect("write");
                f.write_all(&(*n as u32).to_le_bytes()).expect("write");
                f.write_all(z).expect("write");
            }
        }
    }
}

fn load(path: &str) -> Units {
    let b = std::fs::read(path).expect("read");
    let mut out = Vec::new();
    let mut at = 0;
    let word = |i: usize| u32::from_le_bytes(b[i..i + 4].try_into().expect("4 bytes")) as usize;
    while at < b.len() {
        let (z, n) = (word(at), word(at + 4));
        out.push((b[at + 8..at + 8 + z].to_vec(), n));
        at += 8 + z;
    }
    out
}

#[inline(never)]
fn decode_all(units: &Units, ours: bool, out: &mut [u8]) -> usize {
    let mut raw = libdeflater::Decompressor::new();
    let mut dec = Decompressor::new();
    let mut total = 0;
    for (z, n) in units {
        let m = if ours {
            dec.decompress(z, &mut out[..*n]).ok()
        } else {
            raw.deflate_decompress(z, &mut out[..*n]).ok()
        };
        assert_eq!(m, Some(*n), "a unit failed to decode");
        total += *n;
    }
    total
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    match args.get(1).map(String::as_str) {
        Some("save") => save(&args[2]),
        Some("run") => {
            // Optional 4th argument: decode every STEP-th unit only (a sample of the corpus).
            let step = args
                .get(4)
                .and_then(|s| s.parse().ok())
                .unwrap_or(1usize)
                .max(1);
            let units: Units = load(&args[2]).into_iter().step_by(step).collect();
            let mut out = vec![0u8; 1 << 16];
            let n = decode_all(&units, args[3] == "ours", &mut out);
            println!("{} units, {n} bytes", units.len());
        }
        _ => eprintln!("decode_count save DIR | decode_count run FILE ours|libdeflate [STEP]"),
    }
}
