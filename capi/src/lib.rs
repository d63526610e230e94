//! The C ABI of the `iaa` batched compression library.
//!
//! Built as `libiaa_capi.a` (static) and `libiaa_capi.so` (shared) with the header
//! `capi/include/iaa.h`, which `tests/header.rs` regenerates from this crate with cbindgen and
//! compares with the committed copy (`IAA_CAPI_BLESS=1` rewrites it). `build.rs` writes the
//! pkg-config files `iaa.pc` and `iaa-static.pc` into `<target-dir>/<profile>/pkgconfig/`.
//!
//! Rules every entry point keeps:
//! - no panic crosses the boundary: each body runs under `catch_unwind`, and a caught panic
//!   returns `IAA_EINTERNAL`;
//! - null pointers, zero or impossible sizes and short arrays return `-EINVAL` before anything
//!   is written;
//! - a pool may be used by any number of threads at once (`iaa::Pool` is `Sync`); only
//!   `iaa_pool_destroy` needs the caller to ensure no other call on that pool is running.

#![warn(missing_docs)]

mod codes;
mod dsa;
mod error;
mod ffi;
mod handle;
mod types;

pub use codes::*;
pub use dsa::*;
pub use ffi::*;
pub use handle::*;
pub use types::*;

use std::ffi::{c_char, c_int};
use std::panic::{catch_unwind, AssertUnwindSafe};

/// Runs one entry point's body, turning a panic into `IAA_EINTERNAL`.
///
/// `AssertUnwindSafe` is sound here: the bodies hold no state of their own across the call,
/// and a pool whose call panicked stays usable (`iaa::Pool` recovers poisoned contexts, whose
/// fields are valid at every point).
pub(crate) fn guard<F: FnOnce() -> c_int>(body: F) -> c_int {
    guard_or(error::PANIC_CODE, body)
}

/// [`guard`] for entry points that return something other than a code.
pub(crate) fn guard_or<T, F: FnOnce() -> T>(on_panic: T, body: F) -> T {
    catch_unwind(AssertUnwindSafe(body)).unwrap_or(on_panic)
}

/// The library version as `"MAJOR.MINOR.PATCH"` (Cargo's package version), a static string.
/// Compare with the header's `IAA_VERSION_STRING` to detect a header/library mismatch.
#[no_mangle]
pub extern "C" fn iaa_version_string() -> *const c_char {
    concat!(env!("CARGO_PKG_VERSION"), "\0").as_ptr().cast()
}

/// Fills `*cfg` with the defaults (every field 0) and `cfg->size = sizeof(iaa_config)`. Does
/// nothing when `cfg` is NULL.
///
/// # Safety
/// `cfg` is NULL or points to a writable `iaa_config`.
#[no_mangle]
pub unsafe extern "C" fn iaa_config_init(cfg: *mut iaa_config) {
    if !cfg.is_null() {
        // SAFETY: non-null, and the caller promises a writable iaa_config.
        unsafe { cfg.write(iaa_config::defaults()) };
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_panic_becomes_iaa_einternal_and_never_unwinds_further() {
        let hook = std::panic::take_hook();
        std::panic::set_hook(Box::new(|_| {})); // keep the test output clean
        let code = guard(|| panic!("boom"));
        let size = guard_or(7usize, || -> usize { panic!("boom") });
        std::panic::set_hook(hook);
        assert_eq!(code, IAA_EINTERNAL);
        assert_eq!(size, 7);
        assert_eq!(guard(|| 42), 42);
    }
}
