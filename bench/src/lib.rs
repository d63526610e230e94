//! Helpers shared by the benchmark programs in `src/bin/` (the `iaa bench` engine itself lives
//! in `iaa-cli`, `cli/src/bench/`).

use iaa_cli::bench::corpus::{self, Corpus, LoadOptions};

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
