//! Benchmarks of this project's software path against peer libraries, on the same data in one
//! run: libdeflate, zlib and zstd always; ISA-L with the `isal` feature.
//!
//! The `iaa bench` command (crate `iaa-cli`) is a thin front end over this library: it loads a
//! corpus with [`corpus::load`], builds the codecs with [`peers::all_codecs`], measures with
//! [`engine::run`] and prints [`Report::to_table`] or the report as JSON. The benchmark
//! programs in `src/bin/` (driver overhead, batch latency, hybrid, cores, decode_streams) reuse
//! [`corpus`] and the engine's clock.

pub mod corpus;
pub mod dsa;
pub mod engine;
pub mod peers;

pub use corpus::{Corpus, CorpusError, CorpusSource, LoadOptions};
pub use engine::{BenchConfig, BenchError, Clock, Report, Row};
pub use peers::{Compressed, PeerError, UnitCodec};

/// The value after `name` on the command line (`--units 512`), or `default` when absent or
/// not a number.
pub fn arg(name: &str, default: u64) -> u64 {
    let args: Vec<String> = std::env::args().collect();
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// The corpus (Silesia from `../shared/corpus`, else generated data), at most `per_file` bytes
/// of each file, and all its files concatenated.
pub fn corpus_bytes(per_file: usize) -> (Corpus, Vec<u8>) {
    let corpus = corpus::load(
        None,
        LoadOptions {
            max_bytes_per_file: Some(per_file),
        },
    )
    .expect("corpus");
    let data = corpus
        .files
        .iter()
        .flat_map(|f| f.data.iter().copied())
        .collect();
    (corpus, data)
}
