//! Benchmarks of this project's software path against peer libraries, on the same corpus in
//! one run: libdeflate, zlib and zstd always; ISA-L with the `isal` feature.
//!
//! The `iaa bench` command is a thin front end over this module: it loads a corpus with
//! [`corpus::load`], builds the codecs with [`peers::all_codecs`], measures with
//! [`engine::run`] and prints [`Report::to_table`] or the report as JSON. The benchmark
//! binaries of the `bench/` crate (driver overhead, batch latency, hybrid, cores) reuse
//! [`corpus`].

pub mod corpus;
pub mod engine;
pub mod peers;

pub use corpus::{Corpus, CorpusError, CorpusSource, LoadOptions};
pub use engine::{BenchConfig, BenchError, Clock, Report, Row};
pub use peers::{Compressed, PeerError, UnitCodec};
