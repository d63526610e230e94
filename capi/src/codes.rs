//! Return codes of the C ABI and their messages.
//!
//! Every function that can fail returns an `int`: `0` (or a length, where documented) on
//! success, a negative `errno` value from `<errno.h>` on failure (`-EINVAL`, `-ENODEV`, ...),
//! or one of the library's own codes below, which lie outside the kernel's errno range (1..=4095). Per-unit
//! results of the batch calls follow the same rule as `int32_t`: a length `>= 0`, or a
//! negative code.

use std::ffi::{c_char, c_int, CStr};

/// Success.
pub const IAA_OK: c_int = 0;

/// Compression only: the unit would not get smaller (or does not fit its output slot). Nothing
/// meaningful was written to the slot; store the unit raw. Not a failure.
pub const IAA_INCOMPRESSIBLE: c_int = -10001;

/// Verify-after-compress found that a compressed unit does not decompress to its input.
pub const IAA_EVERIFY: c_int = -10002;

/// An internal error (a bug: the library caught a panic at the C boundary). The pool is still
/// usable; please report it.
pub const IAA_EINTERNAL: c_int = -10003;

/// Decompression only: the unit holds a valid deflate stream followed by bytes that are not
/// part of it (a unit must be exactly one stream). The slot holds the stream's output, but the
/// unit is not accepted.
pub const IAA_ETRAILING: c_int = -10004;

/// Decompression with expected CRCs: the unit decoded, but the CRC-32 of its output is not
/// the expected one. The slot holds the output, but the unit is not accepted.
pub const IAA_ECRC: c_int = -10005;

/// The errno values the library returns (as negatives), with the meaning it gives them.
const ERRNO_MESSAGES: &[(c_int, &CStr)] = &[
    (
        libc::EINVAL,
        c"invalid argument (null pointer, zero or oversized size, short array)",
    ),
    (libc::ENODEV, c"no IAA device available"),
    (libc::ENOMEM, c"out of memory while creating the pool"),
    (libc::EBADMSG, c"corrupt compressed input"),
    (libc::EOVERFLOW, c"output buffer too small"),
    (libc::EIO, c"software codec error"),
    (libc::ECANCELED, c"unit abandoned before it completed"),
    (
        libc::EOPNOTSUPP,
        c"codec not supported on the hardware path",
    ),
    (
        libc::EDEADLK,
        c"live handles hold every context of the pool",
    ),
    (libc::EINPROGRESS, c"unit not finished"),
];

/// The message of a code, as a static C string.
pub(crate) fn message(code: c_int) -> &'static CStr {
    match code {
        IAA_OK => c"success",
        c if c > 0 => c"success (a length)",
        IAA_INCOMPRESSIBLE => c"incompressible: store the unit raw",
        IAA_EVERIFY => c"verify-after-compress mismatch",
        IAA_EINTERNAL => c"internal error (panic caught at the C boundary)",
        IAA_ETRAILING => c"bytes follow the end of the unit's deflate stream",
        IAA_ECRC => c"the decompressed unit's CRC-32 is not the expected one",
        c => ERRNO_MESSAGES
            .iter()
            .find(|(e, _)| c.checked_neg() == Some(*e))
            .map(|(_, m)| *m)
            .unwrap_or(c"unknown error code"),
    }
}

/// A static, NUL-terminated English message for any code returned by this library (per-unit
/// results included). Never returns NULL; unknown codes give "unknown error code".
#[no_mangle]
pub extern "C" fn iaa_strerror(code: c_int) -> *const c_char {
    // Cannot panic: a table look-up over static data.
    message(code).as_ptr()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_outside_the_errno_range_and_distinct() {
        let own = [
            IAA_INCOMPRESSIBLE,
            IAA_EVERIFY,
            IAA_EINTERNAL,
            IAA_ETRAILING,
            IAA_ECRC,
        ];
        for (i, a) in own.iter().enumerate() {
            assert!(-*a > 4095, "{a} could be an errno");
            for b in &own[i + 1..] {
                assert_ne!(a, b);
            }
        }
    }

    #[test]
    fn every_known_code_has_its_own_message() {
        let unknown = message(-99_999);
        assert_eq!(unknown, c"unknown error code");
        for (e, m) in ERRNO_MESSAGES {
            assert_eq!(message(-e), *m);
        }
        for c in [
            IAA_INCOMPRESSIBLE,
            IAA_EVERIFY,
            IAA_EINTERNAL,
            IAA_ETRAILING,
            IAA_ECRC,
            i32::MIN,
        ] {
            let m = message(c);
            assert_eq!(m == unknown, c == i32::MIN, "code {c}");
        }
    }
}
