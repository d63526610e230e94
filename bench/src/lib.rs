//! Benchmarks of this project's software path against peer libraries, on the same corpus in
//! one run: libdeflate, zlib and zstd always; ISA-L with the `isal` feature.
//!
//! The `iaa bench` command ([`iaa-cli`]) is a thin front end over [`run_default`] and
//! [`engine::run`]; other helpers' benchmark binaries live in `src/bin/`.

pub mod corpus;
pub mod engine;
pub mod peers;

pub use corpus::{Corpus, CorpusError, CorpusSource, LoadOptions};
pub use engine::{BenchConfig, BenchError, Clock, Report, Row};
pub use peers::{Compressed, PeerError, UnitCodec};
