//! The crate's error type and its mapping to the C return codes.

use std::ffi::c_int;

use crate::codes::{IAA_ECRC, IAA_EINTERNAL, IAA_ETRAILING, IAA_EVERIFY, IAA_INCOMPRESSIBLE};

/// Why an entry point refused a call (before or instead of running it).
#[derive(Debug, thiserror::Error)]
pub(crate) enum CapiError {
    /// A pointer argument was NULL where a value is needed.
    #[error("{0} is NULL")]
    Null(&'static str),
    /// A size or combination of sizes the ABI cannot express or the memory cannot hold.
    #[error("invalid argument: {0}")]
    Invalid(&'static str),
    /// The Rust library refused the call or the pool.
    #[error(transparent)]
    Iaa(#[from] iaa::Error),
}

impl CapiError {
    /// The negative return code of this error.
    pub(crate) fn code(&self) -> c_int {
        match self {
            CapiError::Null(_) | CapiError::Invalid(_) => -libc::EINVAL,
            CapiError::Iaa(e) => iaa_error_code(e),
        }
    }
}

/// The code of a whole-call or pool-creation error of the Rust library.
pub(crate) fn iaa_error_code(e: &iaa::Error) -> c_int {
    use iaa::Error as E;
    match e {
        E::NoDevice(_) => -libc::ENODEV,
        E::ContextInit { .. } | E::OutOfMemory { .. } => -libc::ENOMEM,
        E::CodecNotOnHardware(_) => -libc::EOPNOTSUPP,
        E::AllContextsHeld(_) => -libc::EDEADLK,
        // Every other error is a malformed call or configuration: zero unit size or stride,
        // too few slots or results, a unit too large, an invalid option.
        _ => -libc::EINVAL,
    }
}

/// The per-unit `int32_t` result of one finished unit: its length, `IAA_INCOMPRESSIBLE`, or a
/// negative code. `Err` when a length does not fit `int32_t` (the entry points exclude that by
/// checking the slot capacities first, so this is a guard, not a path).
pub(crate) fn unit_code(r: &iaa::UnitResult) -> Result<i32, CapiError> {
    use iaa::{UnitError as U, UnitResult as R};
    Ok(match r {
        R::Done { len, .. } => {
            i32::try_from(*len).map_err(|_| CapiError::Invalid("unit length exceeds INT32_MAX"))?
        }
        R::Incompressible => IAA_INCOMPRESSIBLE,
        R::Pending => -libc::EINPROGRESS,
        R::Failed(e) => match e {
            U::Corrupt => -libc::EBADMSG,
            U::OutputTooSmall => -libc::EOVERFLOW,
            U::VerifyFailed => IAA_EVERIFY,
            U::Abandoned => -libc::ECANCELED,
            U::TrailingData { .. } => IAA_ETRAILING,
            U::CrcMismatch { .. } => IAA_ECRC,
            // The software codec's internal errors (and any cause added later).
            _ => -libc::EIO,
        },
    })
}

/// The code an entry point returns for a `Result`.
pub(crate) fn to_code(r: Result<c_int, CapiError>) -> c_int {
    match r {
        Ok(c) => c,
        Err(e) => e.code(),
    }
}

/// Used by the guard when a panic was caught.
pub(crate) const PANIC_CODE: c_int = IAA_EINTERNAL;
