//! One IAA/DSA work queue (WQ): the portal a descriptor is submitted to, submission with the
//! instruction the WQ and the CPU call for, credits, and completion polling.
//!
//! Submission methods ([`SubmitMethod`]):
//! - **MOVDIR64B** to a dedicated WQ's mmapped portal (posted; the driver keeps at most `size`
//!   descriptors outstanding with credits),
//! - **ENQCMD** to a shared WQ's portal, retried a bounded number of times while the device
//!   answers "retry" (ZF = 1),
//! - **write()** of the 64-byte descriptor to the WQ's character device (the unprivileged kernel
//!   path, spec §7.1; used where mmap needs CAP_SYS_RAWIO),
//! - the **device model**'s portal ([`SoftPortal`]), with exactly the ENQCMD/MOVDIR64B
//!   semantics (retry on a full or disabled shared WQ).
//!
//! Instructions are chosen at run time from CPUID ([`CpuFeatures`], cached); a method whose
//! instruction the CPU lacks is refused with [`WqError::CpuLacks`], never executed.
//!
//! Every `unsafe` of the hot path is in this crate: `hw.rs` (the instructions), `slab.rs`
//! (aligned memory, atomic status reads) and `jobmem.rs` ([`IaaJobMemory`]: job memory with the
//! one table of its slots' states, whose descriptors it builds itself, so its submit is safe
//! and crates above stay safe Rust), and `dsajob.rs` ([`DsaJobMemory`]: the same for DSA jobs
//! over the caller's memory, submitted and awaited in one call). [`RecordSlab`] is the plain
//! record pool for callers that build their own descriptors (tests).
//!
//! # The DMA contract
//! A descriptor names memory by address; the device (or the model) reads and writes it after
//! [`WorkQueue::submit`] returns, until the completion record's status becomes non-zero. That is
//! why `submit` is `unsafe`: the caller keeps every buffer the descriptor names (source,
//! destination, AECS, completion record, batch list) alive and untouched until then; when a
//! wait times out, the buffers go to [`RecordSlab::quarantine`] and stay there until the device
//! is seen to be done with them.

#![warn(missing_docs)]

pub mod cpu;
pub mod dsajob;
mod hw;
pub mod jobmem;
pub mod slab;

use std::any::Any;
use std::os::fd::{AsFd, OwnedFd};
use std::ptr::NonNull;
use std::sync::atomic::{AtomicU32, AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

pub use cpu::CpuFeatures;
pub use dsajob::{DsaJob, DsaJobMemory, DsaOutcome, NotRun, RunOptions, RunReport};
pub use jobmem::{Code, IaaJob, IaaJobMemory, Input, Layout, SubmitError, HISTOGRAM_COUNTERS};
pub use slab::{
    poll_raw, CompletionRecord, CompressAecsSlab, DecompressAecsSlab, DsaDescriptorSlab,
    DsaRecords, IaaDescriptorSlab, IaaRecords, RecordSlab, Slab, Slot, WaitOutcome, Waiter, PAGE,
};

/// Errors of this crate.
#[derive(Debug, thiserror::Error)]
pub enum WqError {
    /// The submission method needs an instruction this CPU does not have.
    #[error("this CPU lacks {0}; the submission method cannot be used")]
    CpuLacks(&'static str),
    /// The portal mapping is unusable.
    #[error("bad portal: {0}")]
    BadPortal(&'static str),
    /// A WQ configuration value is out of range.
    #[error("bad WQ configuration: {0}")]
    BadConfig(&'static str),
    /// A dedicated WQ already has `size` descriptors outstanding.
    #[error("no credit: {outstanding} descriptors outstanding on a dedicated WQ of size {size}")]
    NoCredit {
        /// Descriptors outstanding.
        outstanding: u32,
        /// WQ size.
        size: u32,
    },
    /// A shared WQ kept answering "retry" (full or disabled).
    #[error("shared WQ refused the descriptor {attempts} times (full or disabled)")]
    RetriesExhausted {
        /// Submission attempts made.
        attempts: u32,
    },
    /// The portal refused a descriptor where no retry is possible.
    #[error("the portal refused the descriptor")]
    Refused,
    /// `write()` to the WQ character device failed.
    #[error("write to the WQ device failed: {0}")]
    Io(#[from] std::io::Error),
    /// An allocation failed.
    #[error("allocation of {bytes} bytes failed")]
    Alloc {
        /// Bytes requested.
        bytes: usize,
    },
    /// A slab capacity of 0 or too large.
    #[error("bad slab capacity {0}")]
    BadCapacity(usize),
    /// A slot that is not in use (or already quarantined) was passed.
    #[error("slot {0} is not in use")]
    BadSlot(usize),
}

/// How descriptors reach the device.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum SubmitMethod {
    /// MOVDIR64B to a dedicated WQ portal.
    Movdir64b,
    /// ENQCMD to a shared WQ portal.
    Enqcmd,
    /// `write()` to the WQ character device.
    Write,
    /// The software device model's portal.
    Model,
}

/// Dedicated or shared WQ.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum WqMode {
    /// One submitter, posted writes, software flow control (credits).
    Dedicated,
    /// Many submitters, ENQCMD with device flow control (retry).
    Shared,
}

/// Driver-side configuration of one WQ.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct WqConfig {
    /// Dedicated or shared.
    pub mode: WqMode,
    /// WQ size (entries): the credit limit of a dedicated WQ.
    pub size: u32,
    /// Retries after a "retry" answer (shared WQ, or EAGAIN on `write()`); Linux uses 32.
    pub enqcmd_retries: u32,
}

impl WqConfig {
    /// Default retry bound (Linux `enqcmds_retries` default).
    pub const DEFAULT_RETRIES: u32 = 32;
    /// A dedicated WQ of `size` entries.
    pub const fn dedicated(size: u32) -> Self {
        WqConfig {
            mode: WqMode::Dedicated,
            size,
            enqcmd_retries: Self::DEFAULT_RETRIES,
        }
    }
    /// A shared WQ of `size` entries.
    pub const fn shared(size: u32) -> Self {
        WqConfig {
            mode: WqMode::Shared,
            size,
            enqcmd_retries: Self::DEFAULT_RETRIES,
        }
    }
}

/// Answer of a software portal to one descriptor (ENQCMD's ZF).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PortalAccept {
    /// Taken (or, on a dedicated WQ, silently dropped as hardware would).
    Accepted,
    /// Shared WQ full (occupancy at threshold) or disabled: try again.
    Retry,
}

/// A portal that is not memory: the device model.
pub trait SoftPortal: Send + Sync {
    /// Push one 64-byte descriptor, as MOVDIR64B (`Dedicated`) or ENQCMD (`Shared`) would.
    ///
    /// # Safety
    /// The DMA contract of [`WorkQueue::submit`]: every address in the descriptor stays valid
    /// and untouched by the caller until the completion record is written.
    unsafe fn push(&self, desc: &[u8; 64], mode: WqMode) -> PortalAccept;
}

enum Target {
    Portal {
        base: NonNull<u8>,
        mask: usize,
        _keep: Option<Box<dyn Any + Send + Sync>>,
    },
    Fd(OwnedFd),
    Model(Arc<dyn SoftPortal>),
}

/// Counters of one WQ (monotonic).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct WqStats {
    /// Descriptors accepted by the portal.
    pub submitted: u64,
    /// Refused attempts ("retry" answers, no credit): each one led to another attempt or,
    /// the last of a budget, to giving up.
    pub retries: u64,
    /// Submissions that gave up (retries exhausted or no credit).
    pub refused: u64,
    /// Completions reported back (credits returned): `submitted - outstanding`.
    pub completed: u64,
}

/// One work queue. `Send + Sync`; any number of threads may submit to a shared WQ.
pub struct WorkQueue {
    target: Target,
    method: SubmitMethod,
    cfg: WqConfig,
    outstanding: AtomicU32,
    next_off: AtomicUsize,
    submitted: AtomicU64,
    retries: AtomicU64,
    refused: AtomicU64,
    /// The device translates descriptor addresses through this process's page tables (PASID /
    /// SVA, or the in-process model): it may be given the caller's memory to read.
    process_memory: bool,
}

// SAFETY: the only non-Send/Sync field is the portal pointer. A portal page accepts concurrent
// 64-byte MOVDIR64B/ENQCMD writes from any thread (each is a single atomic 64-byte transaction),
// and the mapping outlives the WorkQueue (contract of `with_portal`).
unsafe impl Send for WorkQueue {}
// SAFETY: as above; all other state is atomic.
unsafe impl Sync for WorkQueue {}

/// Check that `method` can run on a CPU with `feats` and fits `mode`.
pub fn check_method(method: SubmitMethod, mode: WqMode, feats: CpuFeatures) -> Result<(), WqError> {
    match (method, mode) {
        (SubmitMethod::Movdir64b, WqMode::Dedicated) if !feats.movdir64b => {
            Err(WqError::CpuLacks("MOVDIR64B"))
        }
        (SubmitMethod::Enqcmd, WqMode::Shared) if !feats.enqcmd => Err(WqError::CpuLacks("ENQCMD")),
        (SubmitMethod::Movdir64b, WqMode::Shared) => Err(WqError::BadConfig(
            "a shared WQ needs ENQCMD (MOVDIR64B gives no flow control)",
        )),
        (SubmitMethod::Enqcmd, WqMode::Dedicated) => Err(WqError::BadConfig(
            "a dedicated WQ takes MOVDIR64B, not ENQCMD",
        )),
        _ => Ok(()),
    }
}

/// The method a portal submission should use on this CPU for `mode`, if any.
pub fn preferred_portal_method(mode: WqMode, feats: CpuFeatures) -> Option<SubmitMethod> {
    match mode {
        WqMode::Dedicated if feats.movdir64b => Some(SubmitMethod::Movdir64b),
        WqMode::Shared if feats.enqcmd => Some(SubmitMethod::Enqcmd),
        _ => None,
    }
}

impl WorkQueue {
    fn new(target: Target, method: SubmitMethod, cfg: WqConfig) -> Result<Self, WqError> {
        if cfg.size == 0 {
            return Err(WqError::BadConfig("WQ size 0"));
        }
        Ok(WorkQueue {
            target,
            method,
            cfg,
            outstanding: AtomicU32::new(0),
            next_off: AtomicUsize::new(0),
            submitted: AtomicU64::new(0),
            retries: AtomicU64::new(0),
            refused: AtomicU64::new(0),
            process_memory: false,
        })
    }

    /// Declare that the device behind this WQ reads this process's virtual memory (a kernel
    /// user WQ with PASID enabled, or the device model): descriptors may then name the
    /// caller's input directly (`IaaJobMemory::prepare_reading`). A device reading through
    /// the process's page tables can read late, but a late read faults or sees stale bytes on
    /// the device side; it never writes process memory. Default: false (VFIO without PASID
    /// sees only IOMMU-mapped memory).
    pub fn reading_process_memory(mut self, yes: bool) -> Self {
        self.process_memory = yes;
        self
    }

    /// Whether descriptors may name process memory for the device to read
    /// ([`WorkQueue::reading_process_memory`]).
    pub fn reads_process_memory(&self) -> bool {
        self.process_memory
    }

    /// A WQ whose portal is a software portal (the device model).
    pub fn with_model(portal: Arc<dyn SoftPortal>, cfg: WqConfig) -> Result<Self, WqError> {
        Self::new(Target::Model(portal), SubmitMethod::Model, cfg)
    }

    /// A WQ whose descriptors are `write()`n to its character device (`/dev/iax/wqX.Y`).
    pub fn with_write_fd(fd: OwnedFd, cfg: WqConfig) -> Result<Self, WqError> {
        Self::new(Target::Fd(fd), SubmitMethod::Write, cfg)
    }

    /// A WQ on an mmapped portal page of `len` bytes (a power of two >= 64, normally 4096),
    /// submitted with `method` (MOVDIR64B for dedicated, ENQCMD for shared). `keep` holds the
    /// mapping (e.g. a `memmap2::MmapMut`) for the life of the WorkQueue. Refuses a method the
    /// CPU lacks.
    ///
    /// # Safety
    /// `portal` is the start of a mapped WQ portal of `len` bytes that stays mapped for the life
    /// of the returned WorkQueue (own it through `keep` or outlive it).
    pub unsafe fn with_portal(
        portal: *mut u8,
        len: usize,
        method: SubmitMethod,
        cfg: WqConfig,
        keep: Option<Box<dyn Any + Send + Sync>>,
    ) -> Result<Self, WqError> {
        check_method(method, cfg.mode, CpuFeatures::get())?;
        if !matches!(method, SubmitMethod::Movdir64b | SubmitMethod::Enqcmd) {
            return Err(WqError::BadConfig("a portal takes MOVDIR64B or ENQCMD"));
        }
        let base = NonNull::new(portal).ok_or(WqError::BadPortal("null portal"))?;
        if len < 64 || !len.is_power_of_two() {
            return Err(WqError::BadPortal("length not a power of two >= 64"));
        }
        if !(portal as usize).is_multiple_of(64) {
            return Err(WqError::BadPortal("portal not 64-byte aligned"));
        }
        Self::new(
            Target::Portal {
                base,
                mask: len - 64,
                _keep: keep,
            },
            method,
            cfg,
        )
    }

    /// The submission method.
    pub fn method(&self) -> SubmitMethod {
        self.method
    }

    /// The configuration.
    pub fn config(&self) -> WqConfig {
        self.cfg
    }

    /// Descriptors submitted whose completion was not yet reported with [`WorkQueue::complete`].
    pub fn outstanding(&self) -> u32 {
        self.outstanding.load(Ordering::Relaxed)
    }

    /// Counters.
    pub fn stats(&self) -> WqStats {
        let submitted = self.submitted.load(Ordering::Relaxed);
        WqStats {
            submitted,
            retries: self.retries.load(Ordering::Relaxed),
            refused: self.refused.load(Ordering::Relaxed),
            completed: submitted.saturating_sub(self.outstanding.load(Ordering::Relaxed) as u64),
        }
    }

    /// The next portal offset: successive submissions rotate through the page in 64-byte steps
    /// (spec §6.2; writes to one MMIO address in a row are slower).
    #[inline]
    fn next_offset(&self, mask: usize) -> usize {
        self.next_off.fetch_add(64, Ordering::Relaxed) & mask
    }

    #[inline]
    fn take_credit(&self) -> Result<(), WqError> {
        if self.cfg.mode == WqMode::Shared {
            // The device does the flow control; the count is only bookkeeping.
            self.outstanding.fetch_add(1, Ordering::Relaxed);
            return Ok(());
        }
        let size = self.cfg.size;
        let mut cur = self.outstanding.load(Ordering::Relaxed);
        loop {
            if cur >= size {
                return Err(WqError::NoCredit {
                    outstanding: cur,
                    size,
                });
            }
            match self.outstanding.compare_exchange_weak(
                cur,
                cur + 1,
                Ordering::Relaxed,
                Ordering::Relaxed,
            ) {
                Ok(_) => return Ok(()),
                Err(v) => cur = v,
            }
        }
    }

    /// Return `n` credits: the completions of `n` submitted descriptors were observed (or, for a
    /// quarantined record, the device was seen done with it).
    #[inline]
    pub fn complete(&self, n: u32) {
        let before = self.outstanding.fetch_sub(n, Ordering::Relaxed);
        if before < n {
            // More completions reported than submissions: clamp at zero (a caller bug; never
            // let the count wrap and lift the credit limit).
            self.outstanding.fetch_add(n - before, Ordering::Relaxed);
        }
    }

    /// Submit one descriptor with the WQ's own retry bound (`enqcmd_retries`, Linux's 32):
    /// [`WorkQueue::submit_with`] with a PAUSE between attempts.
    ///
    /// # Safety
    /// The DMA contract (crate docs): every address in `desc` (completion record, sources,
    /// destinations, AECS, batch list) is valid for the access the operation makes and stays
    /// valid and untouched by the CPU — except polling the status byte through this crate —
    /// until the completion record's status is non-zero, or forever if it never is (quarantine).
    #[inline]
    pub unsafe fn submit(&self, desc: &[u8; 64]) -> Result<(), WqError> {
        // SAFETY: forwarded from the caller.
        unsafe { self.submit_with(desc, self.cfg.enqcmd_retries, core::hint::spin_loop) }
            .map(|_| ())
    }

    /// Submit one descriptor, making at most `1 + retries` attempts; returns the number of
    /// retries used. This is the crate's only retry loop: a "retry" answer (a shared WQ full
    /// or disabled: ENQCMD's ZF, `EAGAIN` from `write(2)`), a dedicated WQ without credit or
    /// a refusing model portal leads to `between()` (e.g. reaping completions, which returns
    /// credits) and another attempt, until the budget is spent: then what the last attempt
    /// saw ([`WqError::RetriesExhausted`], [`WqError::NoCredit`] or [`WqError::Refused`]).
    /// Any other error ends at once. Each refused attempt counts in [`WqStats::retries`].
    ///
    /// A store fence precedes the first attempt: SFENCE for a real portal and for `write(2)`
    /// too (the kernel's write handler issues MOVDIR64B/ENQCMD itself, without a fence of its
    /// own for our stores), so the descriptor's memory (source, AECS, zeroed record) is
    /// visible first; a release fence for the model (a software device in this process).
    ///
    /// # Safety
    /// As [`WorkQueue::submit`].
    #[inline]
    pub unsafe fn submit_with(
        &self,
        desc: &[u8; 64],
        retries: u32,
        mut between: impl FnMut(),
    ) -> Result<u32, WqError> {
        match self.target {
            Target::Portal { .. } | Target::Fd(_) => hw::store_fence(),
            Target::Model(_) => core::sync::atomic::fence(Ordering::Release),
        }
        let mut last = WqError::Refused;
        for attempt in 0..=retries {
            if attempt > 0 {
                between();
            }
            // SAFETY: forwarded from the caller.
            let e = match unsafe { self.attempt(desc) } {
                Ok(()) => {
                    self.submitted.fetch_add(1, Ordering::Relaxed);
                    return Ok(attempt);
                }
                Err(e) => e,
            };
            last = match e {
                WqError::NoCredit { .. } | WqError::Refused => e,
                WqError::RetriesExhausted { .. } => WqError::RetriesExhausted {
                    attempts: attempt + 1,
                },
                e => {
                    self.refused.fetch_add(1, Ordering::Relaxed);
                    return Err(e);
                }
            };
            self.retries.fetch_add(1, Ordering::Relaxed);
        }
        self.refused.fetch_add(1, Ordering::Relaxed);
        Err(last)
    }

    /// Submit an IAA descriptor (see [`WorkQueue::submit`]).
    ///
    /// # Safety
    /// As [`WorkQueue::submit`].
    #[inline]
    pub unsafe fn submit_iaa(&self, d: &iaa_descriptors::IaaDescriptor) -> Result<(), WqError> {
        // SAFETY: forwarded.
        unsafe { self.submit(d.as_bytes()) }
    }

    /// Submit a DSA descriptor (see [`WorkQueue::submit`]).
    ///
    /// # Safety
    /// As [`WorkQueue::submit`].
    #[inline]
    pub unsafe fn submit_dsa(&self, d: &iaa_descriptors::DsaDescriptor) -> Result<(), WqError> {
        // SAFETY: forwarded.
        unsafe { self.submit(d.as_bytes()) }
    }

    /// One attempt: a credit (dedicated WQ), then the WQ's instruction. `NoCredit` and
    /// `RetriesExhausted { attempts: 1 }` (the "retry" answer) may be retried; a failed
    /// attempt holds no credit.
    ///
    /// # Safety
    /// As [`WorkQueue::submit`].
    #[inline]
    unsafe fn attempt(&self, desc: &[u8; 64]) -> Result<(), WqError> {
        self.take_credit()?;
        // SAFETY: forwarded from the caller.
        let r = unsafe { self.attempt_raw(desc) };
        if r.is_err() {
            self.outstanding.fetch_sub(1, Ordering::Relaxed);
        }
        r
    }

    /// # Safety
    /// As [`WorkQueue::submit`].
    #[inline]
    unsafe fn attempt_raw(&self, desc: &[u8; 64]) -> Result<(), WqError> {
        const RETRY: WqError = WqError::RetriesExhausted { attempts: 1 };
        match &self.target {
            Target::Model(p) => {
                // SAFETY: DMA contract forwarded from the caller.
                match (unsafe { p.push(desc, self.cfg.mode) }, self.cfg.mode) {
                    (PortalAccept::Accepted, _) => Ok(()),
                    (PortalAccept::Retry, WqMode::Shared) => Err(RETRY),
                    // A dedicated WQ never answers "retry": the portal is broken or disabled.
                    (PortalAccept::Retry, WqMode::Dedicated) => Err(WqError::Refused),
                }
            }
            Target::Portal { base, mask, .. } => {
                // SAFETY: offset <= len - 64 and 64-byte aligned inside the mapped page.
                let dst = unsafe { base.as_ptr().add(self.next_offset(*mask)) };
                match self.method {
                    SubmitMethod::Movdir64b => {
                        // SAFETY: CPU support checked in with_portal; dst inside the portal.
                        unsafe { hw::movdir64b(dst, desc) };
                        Ok(())
                    }
                    // SAFETY: CPU support checked in with_portal; dst inside the portal.
                    _ => match unsafe { hw::enqcmd(dst, desc) } {
                        true => Ok(()),
                        false => Err(RETRY),
                    },
                }
            }
            Target::Fd(fd) => {
                let n = hw::write_desc(fd.as_fd(), desc);
                if n == 64 {
                    return Ok(());
                }
                let e = std::io::Error::last_os_error();
                if n < 0 && e.kind() == std::io::ErrorKind::WouldBlock {
                    return Err(RETRY);
                }
                Err(WqError::Io(if n >= 0 {
                    std::io::Error::new(std::io::ErrorKind::WriteZero, "short write")
                } else {
                    e
                }))
            }
        }
    }

    /// Poll `slot` once; when done, return the record and one credit.
    #[inline]
    pub fn poll<R: CompletionRecord>(&self, recs: &RecordSlab<R>, slot: Slot) -> Option<R> {
        let r = recs.poll(slot)?;
        self.complete(1);
        Some(r)
    }

    /// Wait for `slot` within `budget`; on `Done` one credit is returned. On `TimedOut` the
    /// caller must [`RecordSlab::quarantine`] the record and its buffers, and later
    /// [`WorkQueue::reap`].
    pub fn wait<R: CompletionRecord>(
        &self,
        recs: &RecordSlab<R>,
        slot: Slot,
        budget: Duration,
    ) -> WaitOutcome<R> {
        let out = recs.wait(slot, budget);
        if let WaitOutcome::Done(_) = out {
            self.complete(1);
        }
        out
    }

    /// Release the quarantined records of `recs` that the device has now written, returning
    /// their credits; returns how many.
    pub fn reap<R: CompletionRecord>(&self, recs: &mut RecordSlab<R>) -> usize {
        let n = recs.reap();
        if n > 0 {
            self.complete(n as u32);
        }
        n
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Mutex;

    /// A portal that records descriptors and answers from a script.
    struct Scripted {
        answers: Mutex<Vec<PortalAccept>>,
        got: Mutex<Vec<[u8; 64]>>,
    }
    impl SoftPortal for Scripted {
        unsafe fn push(&self, desc: &[u8; 64], _mode: WqMode) -> PortalAccept {
            self.got.lock().unwrap().push(*desc);
            self.answers
                .lock()
                .unwrap()
                .pop()
                .unwrap_or(PortalAccept::Accepted)
        }
    }
    fn scripted(answers: Vec<PortalAccept>) -> Arc<Scripted> {
        Arc::new(Scripted {
            answers: Mutex::new(answers),
            got: Mutex::new(Vec::new()),
        })
    }

    #[test]
    fn dedicated_credits_never_exceed_size() {
        let p = scripted(vec![]);
        let wq = WorkQueue::with_model(p.clone(), WqConfig::dedicated(3)).unwrap();
        let d = [0u8; 64];
        for _ in 0..3 {
            // SAFETY: the scripted portal never dereferences descriptor addresses.
            unsafe { wq.submit(&d) }.unwrap();
        }
        // SAFETY: as above.
        let e = unsafe { wq.submit(&d) }.unwrap_err();
        assert!(matches!(
            e,
            WqError::NoCredit {
                outstanding: 3,
                size: 3
            }
        ));
        assert_eq!(
            p.got.lock().unwrap().len(),
            3,
            "refused one never reached the portal"
        );
        wq.complete(1);
        // SAFETY: as above.
        unsafe { wq.submit(&d) }.unwrap();
        assert_eq!(wq.outstanding(), 3);
        let s = wq.stats();
        assert_eq!((s.submitted, s.refused, s.completed), (4, 1, 1));
    }

    #[test]
    fn shared_retries_are_bounded_and_counted() {
        use PortalAccept::*;
        // Answers pop from the end: two retries then accepted.
        let p = scripted(vec![Accepted, Retry, Retry]);
        let wq = WorkQueue::with_model(p.clone(), WqConfig::shared(8)).unwrap();
        // SAFETY: scripted portal.
        unsafe { wq.submit(&[1u8; 64]) }.unwrap();
        assert_eq!(wq.stats().retries, 2);
        assert_eq!(p.got.lock().unwrap().len(), 3);

        let p = scripted(vec![Retry; 100]);
        let mut cfg = WqConfig::shared(8);
        cfg.enqcmd_retries = 4;
        let wq = WorkQueue::with_model(p.clone(), cfg).unwrap();
        // SAFETY: scripted portal.
        let e = unsafe { wq.submit(&[1u8; 64]) }.unwrap_err();
        assert!(matches!(e, WqError::RetriesExhausted { attempts: 5 }));
        assert_eq!(p.got.lock().unwrap().len(), 5);
        assert_eq!(wq.outstanding(), 0, "a refused descriptor holds no credit");
    }

    #[test]
    fn never_runs_a_missing_instruction() {
        let none = CpuFeatures::default();
        assert!(matches!(
            check_method(SubmitMethod::Movdir64b, WqMode::Dedicated, none),
            Err(WqError::CpuLacks("MOVDIR64B"))
        ));
        assert!(matches!(
            check_method(SubmitMethod::Enqcmd, WqMode::Shared, none),
            Err(WqError::CpuLacks("ENQCMD"))
        ));
        let all = CpuFeatures {
            movdir64b: true,
            enqcmd: true,
            waitpkg: true,
        };
        assert!(check_method(SubmitMethod::Movdir64b, WqMode::Dedicated, all).is_ok());
        assert!(check_method(SubmitMethod::Enqcmd, WqMode::Shared, all).is_ok());
        assert!(check_method(SubmitMethod::Movdir64b, WqMode::Shared, all).is_err());
        assert_eq!(
            preferred_portal_method(WqMode::Shared, none),
            None,
            "no instruction, no portal method"
        );
        // On this CPU: with_portal refuses exactly when CPUID says the instruction is absent.
        let mut page = vec![0u8; 8192];
        let off = page.as_ptr().align_offset(4096);
        let p = page[off..].as_mut_ptr();
        // SAFETY: a plain buffer stands in for the portal; the call only validates here and
        // the instruction never executes in this test.
        let r = unsafe {
            WorkQueue::with_portal(
                p,
                4096,
                SubmitMethod::Movdir64b,
                WqConfig::dedicated(4),
                None,
            )
        };
        assert_eq!(r.is_err(), !CpuFeatures::get().movdir64b);
    }

    #[test]
    fn portal_offsets_rotate_within_the_page() {
        let p = scripted(vec![]);
        let wq = WorkQueue::with_model(p, WqConfig::shared(8)).unwrap();
        let mask = 4096 - 64;
        let offs: Vec<usize> = (0..130).map(|_| wq.next_offset(mask)).collect();
        assert_eq!(offs[0], 0);
        assert_eq!(offs[1], 64);
        assert_eq!(offs[63], 4032);
        assert_eq!(offs[64], 0, "wraps at 4 KiB");
        assert!(offs.iter().all(|o| o % 64 == 0 && *o < 4096));
    }

    #[test]
    fn write_path_submits_whole_descriptors() {
        // A pipe stands in for /dev/iax/wqX.Y: the kernel path is write() of 64 bytes.
        let mut fds = [0i32; 2];
        // SAFETY: pipe() fills two fds that we then own.
        assert_eq!(unsafe { libc::pipe(fds.as_mut_ptr()) }, 0);
        use std::os::fd::FromRawFd;
        // SAFETY: fresh fds from pipe().
        let (r, w) = unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) };
        let wq = WorkQueue::with_write_fd(w, WqConfig::shared(4)).unwrap();
        assert_eq!(wq.method(), SubmitMethod::Write);
        let d: [u8; 64] = core::array::from_fn(|i| i as u8);
        // SAFETY: the pipe never dereferences descriptor addresses.
        unsafe { wq.submit(&d) }.unwrap();
        let mut got = [0u8; 64];
        let mut f = std::fs::File::from(r);
        std::io::Read::read_exact(&mut f, &mut got).unwrap();
        assert_eq!(got, d);
        // A closed reader makes write() fail with a typed I/O error (EPIPE), not a panic.
        drop(f);
        // SAFETY: as above.
        unsafe { libc::signal(libc::SIGPIPE, libc::SIG_IGN) };
        // SAFETY: as above.
        let e = unsafe { wq.submit(&d) }.unwrap_err();
        assert!(matches!(e, WqError::Io(_)), "{e:?}");
    }
}
