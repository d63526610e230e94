//! The hardware side of the pool: the backend (work queues of a device or of the device model)
//! and the per-context hardware resources. Filled in with `iaa-wq` and the device model.

use crate::config::PoolBuilder;

/// A device backend. No backend exists in this build yet, so the type has no values.
pub(crate) enum Backend {}

/// The hardware side of one context (no values in this build yet).
pub(crate) enum HwCtx {}

impl Backend {
    /// Open the device the builder asks for; `Err` says why there is none.
    pub(crate) fn open(_b: &PoolBuilder) -> Result<Backend, String> {
        Err("this build has no hardware backend (iaa-wq / device model not integrated yet)".into())
    }
    pub(crate) fn new_context(&self, _cpu: usize, _b: &PoolBuilder) -> Result<HwCtx, String> {
        match *self {}
    }
    pub(crate) fn wq_count(&self) -> usize {
        match *self {}
    }
    pub(crate) fn name(&self) -> String {
        match *self {}
    }
}

impl HwCtx {
    pub(crate) fn bytes(&self) -> usize {
        match *self {}
    }
}
