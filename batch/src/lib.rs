//! `iaa`: batched compression over Intel IAA, with per-unit software fallback.
//!
//! A [`Pool`] is built once; it holds one context per possible CPU (codec state, and on the
//! hardware path the descriptors, completion records, AECS and bounce buffers), kept until the
//! pool is dropped. A call takes the context of the CPU it runs on, holds it for the whole
//! batch, and allocates nothing.
//!
//! A batch is N independent units: unit `i` of the input goes to output slot `i`, and
//! `results[i]` says what happened to it ([`UnitResult`]). One failing unit never fails the
//! others; an incompressible unit is a normal outcome (store it raw). Every unit is a
//! self-contained raw-deflate stream with back-references of at most 4 KiB, readable by the
//! hardware and by any inflater.
//!
//! The same pool runs the DSA operations a storage engine uses on N buffers per call
//! ([`Pool::crc32c`], [`Pool::same_filled`], [`Pool::compare`], [`Pool::copy`],
//! [`Pool::fill`]): on a DSA where the pool has one ([`DsaPath`]), in batch descriptors, each
//! unit the DSA does not finish redone in software.
//!
//! ```
//! use iaa::{Path, Pool, UnitResult};
//! let pool = Pool::builder().path(Path::Software).contexts(2).build().unwrap();
//! let src = b"hello hello hello hello hello hello hello hello ".repeat(200);
//! let mut out = vec![0u8; 4 * 4096];
//! let mut res = [UnitResult::Pending; 4];
//! let units = src.len().div_ceil(4096);
//! let sum = pool
//!     .compress_batch(&src, 4096, iaa::Outputs::flat(&mut out, 4096), &mut res[..units])
//!     .unwrap();
//! assert!(sum.all_ok());
//! ```

#![warn(missing_docs)]
// Safe Rust throughout: the device memory, descriptor building and submission are
// `iaa_wq::IaaJobMemory` (and its IOMMU mapping `iaa_driver::vfio::MappedJobMemory`).
#![forbid(unsafe_code)]

mod config;
mod context;
mod cpu;
mod device;
mod dsa;
mod engine;
mod error;
mod io;
mod pool;
mod result;
mod selftest;
mod selftest_dsa;
mod soft;
mod spread;
mod stats;

#[cfg(feature = "model")]
pub use config::ModelOptions;
pub use config::{
    Budgets, Codec, Device, DsaPath, HwMode, Level, Path, PoolBuilder, SoftwareEncoder,
    TrainingSample, WqChoice, LEARN_BYTES, MAX_COMPLETION_TIMEOUT, MAX_CONTEXTS,
    MAX_DSA_BATCH_SIZE, MAX_HW_BATCH_SIZE, MAX_HW_LARGE_BUDGET, MAX_SUBMIT_RETRIES,
    MAX_TRAINING_SAMPLE, MAX_UNIT_SIZE, MIN_COMPLETION_TIMEOUT,
};
pub use context::ContextBytes;
pub use dsa::DsaSummary;
pub use error::{Error, UnitError};
pub use io::{Inputs, Outputs};
pub use pool::{Handle, Pool};
pub use result::{crc32, BatchSummary, ExecPath, UnitResult};
pub use selftest::{
    selftest, selftest_with_dsa, Check, CheckStatus, SelfTest, Verdict, VerdictKind,
};
pub use stats::{FallbackCause, PathCounts, Stats, FALLBACK_CAUSES};
