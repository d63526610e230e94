//! Cross-crate tests (see `tests/`): conformance with the kernel's `linux/idxd.h`, interop with
//! zlib-compatible inflaters, the hardware path through the device model.
//!
//! The library part only carries the C probe compiled by `build.rs`; the tests link it.
