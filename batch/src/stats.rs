//! Statistics: relaxed atomic counters kept per context (each on its own cache lines, written
//! only by the thread holding that context), summed when read.

use std::sync::atomic::{AtomicU64, Ordering::Relaxed};

use crate::io::Op;
use crate::result::UnitResult;

/// Why a unit went to the software path instead of the hardware.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(usize)]
pub enum FallbackCause {
    /// `Path::Auto` found no device.
    NoDevice = 0,
    /// The WQ refused the submission until the retry budget ran out.
    SubmitRefused,
    /// A page fault that one touch-and-resubmit did not resolve.
    PageFault,
    /// The device reported an error for the unit (including input it could not decode).
    DeviceError,
    /// The unit did not complete within the completion timeout.
    Timeout,
    /// Hardware verify-after-compress mismatch: the unit was redone in software.
    VerifyMismatch,
    /// The unit is larger than the context's hardware buffers (`max_unit_size`).
    TooLarge,
    /// Hybrid: the hardware was saturated, so the calling thread took the unit.
    Saturated,
    /// Decompress: the device could not decode the unit (a back-reference beyond its 4 KiB
    /// window, an output overflow, an invalid stream); software gives the final answer.
    Undecodable,
    /// Every hardware slot of the context was quarantined by earlier timed-out units.
    Quarantined,
}

/// Number of [`FallbackCause`] values.
pub const FALLBACK_CAUSES: usize = 10;

impl FallbackCause {
    /// Every cause, in index order.
    pub const ALL: [FallbackCause; FALLBACK_CAUSES] = [
        FallbackCause::NoDevice,
        FallbackCause::SubmitRefused,
        FallbackCause::PageFault,
        FallbackCause::DeviceError,
        FallbackCause::Timeout,
        FallbackCause::VerifyMismatch,
        FallbackCause::TooLarge,
        FallbackCause::Saturated,
        FallbackCause::Undecodable,
        FallbackCause::Quarantined,
    ];
    /// Short name.
    pub fn name(self) -> &'static str {
        match self {
            FallbackCause::NoDevice => "no_device",
            FallbackCause::SubmitRefused => "submit_refused",
            FallbackCause::PageFault => "page_fault",
            FallbackCause::DeviceError => "device_error",
            FallbackCause::Timeout => "timeout",
            FallbackCause::VerifyMismatch => "verify_mismatch",
            FallbackCause::TooLarge => "too_large",
            FallbackCause::Saturated => "saturated",
            FallbackCause::Undecodable => "undecodable",
            FallbackCause::Quarantined => "quarantined",
        }
    }
}

/// One direction (compress or decompress) on one path.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct PathCounts {
    /// Units completed.
    pub units: u64,
    /// Input bytes of those units.
    pub bytes_in: u64,
    /// Output bytes of those units.
    pub bytes_out: u64,
}

/// A snapshot of a pool's statistics (sum over all contexts).
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Stats {
    /// Compressions done by the hardware.
    pub compress_hw: PathCounts,
    /// Compressions done by the software path.
    pub compress_sw: PathCounts,
    /// Decompressions done by the hardware.
    pub decompress_hw: PathCounts,
    /// Decompressions done by the software path.
    pub decompress_sw: PathCounts,
    /// Units reported incompressible (store raw).
    pub incompressible: u64,
    /// Of `incompressible`, those decided by the software path.
    pub incompressible_sw: u64,
    /// Units that ended in a [`crate::UnitError`].
    pub unit_errors: u64,
    /// Of `unit_errors`, those decided by the software path.
    pub unit_errors_sw: u64,
    /// Units sent to software, by cause (index = `FallbackCause as usize`).
    pub fallbacks: [u64; FALLBACK_CAUSES],
    /// Refused submissions that were retried.
    pub submit_retries: u64,
    /// Units that timed out on the device.
    pub timeouts: u64,
    /// Page faults answered by touch-and-resubmit.
    pub fault_resubmits: u64,
    /// Verify-after-compress checks run.
    pub verify_checks: u64,
    /// Verify-after-compress mismatches (hardware and software).
    pub verify_failures: u64,
    /// Batch calls (of any size) started.
    pub batches: u64,
    /// Hardware submissions per work queue (index = WQ index of the pool).
    pub wq_submissions: Vec<u64>,
    /// Hardware input bytes per work queue.
    pub wq_bytes: Vec<u64>,
    /// DSA operations ([`crate::Pool::crc32c`] and the others): units the DSA did.
    pub dsa_hw: u64,
    /// DSA operations: units done in software. On a pool with a DSA these are the fallbacks
    /// (each with one cause in `dsa_fallbacks`) plus the units decided without a descriptor
    /// (empty units, compare pairs of different lengths, same-filled candidates whose length
    /// is not a multiple of 8), which have no cause; on a pool whose DSA is missing every unit
    /// has the cause `no_device`.
    pub dsa_sw: u64,
    /// DSA units sent to software, by cause (index = `FallbackCause as usize`).
    pub dsa_fallbacks: [u64; FALLBACK_CAUSES],
    /// DSA descriptors submitted (a batch descriptor counts once).
    pub dsa_submissions: u64,
    /// DSA calls.
    pub dsa_calls: u64,
}

impl Stats {
    /// Fallbacks for one cause.
    pub fn fallback(&self, cause: FallbackCause) -> u64 {
        self.fallbacks[cause as usize]
    }
    /// Fallbacks of every cause.
    pub fn total_fallbacks(&self) -> u64 {
        self.fallbacks.iter().sum()
    }
    /// Units that ended on the software path (done, incompressible or failed there): on a
    /// hardware pool each of them has exactly one fallback cause, so this equals
    /// [`Stats::total_fallbacks`].
    pub fn software_units(&self) -> u64 {
        self.compress_sw.units
            + self.decompress_sw.units
            + self.incompressible_sw
            + self.unit_errors_sw
    }
}

#[derive(Default)]
pub(crate) struct AtomicPath {
    units: AtomicU64,
    bytes_in: AtomicU64,
    bytes_out: AtomicU64,
}

impl AtomicPath {
    fn add(&self, bin: usize, bout: usize) {
        self.units.fetch_add(1, Relaxed);
        self.bytes_in.fetch_add(bin as u64, Relaxed);
        self.bytes_out.fetch_add(bout as u64, Relaxed);
    }
    fn read_into(&self, p: &mut PathCounts) {
        p.units += self.units.load(Relaxed);
        p.bytes_in += self.bytes_in.load(Relaxed);
        p.bytes_out += self.bytes_out.load(Relaxed);
    }
}

/// Counters of one context. Aligned so two contexts never share a cache line.
#[repr(align(128))]
#[derive(Default)]
pub(crate) struct CtxStats {
    pub(crate) compress_hw: AtomicPath,
    pub(crate) compress_sw: AtomicPath,
    pub(crate) decompress_hw: AtomicPath,
    pub(crate) decompress_sw: AtomicPath,
    pub(crate) incompressible: AtomicU64,
    pub(crate) incompressible_sw: AtomicU64,
    pub(crate) unit_errors: AtomicU64,
    pub(crate) unit_errors_sw: AtomicU64,
    pub(crate) fallbacks: [AtomicU64; FALLBACK_CAUSES],
    pub(crate) submit_retries: AtomicU64,
    pub(crate) timeouts: AtomicU64,
    pub(crate) fault_resubmits: AtomicU64,
    pub(crate) verify_checks: AtomicU64,
    pub(crate) verify_failures: AtomicU64,
    pub(crate) batches: AtomicU64,
    pub(crate) dsa_hw: AtomicU64,
    pub(crate) dsa_sw: AtomicU64,
    pub(crate) dsa_fallbacks: [AtomicU64; FALLBACK_CAUSES],
    pub(crate) dsa_submissions: AtomicU64,
    pub(crate) dsa_calls: AtomicU64,
}

/// Counters of one work queue (shared by every context).
#[derive(Default)]
pub(crate) struct WqStats {
    pub(crate) submissions: AtomicU64,
    pub(crate) bytes: AtomicU64,
}

impl WqStats {
    pub(crate) fn add(&self, bytes: usize) {
        self.submissions.fetch_add(1, Relaxed);
        self.bytes.fetch_add(bytes as u64, Relaxed);
    }
}

pub(crate) fn bump(c: &AtomicU64) {
    c.fetch_add(1, Relaxed);
}

impl CtxStats {
    pub(crate) fn done(&self, op: Op, hw: bool, bin: usize, bout: usize) {
        let p = match (op, hw) {
            (Op::Compress, true) => &self.compress_hw,
            (Op::Compress, false) => &self.compress_sw,
            (Op::Decompress, true) => &self.decompress_hw,
            (Op::Decompress, false) => &self.decompress_sw,
        };
        p.add(bin, bout);
    }
    /// Count a final unit result (`hw`: it ran on the device; `bin`: its input bytes).
    pub(crate) fn count(&self, op: Op, hw: bool, bin: usize, r: &UnitResult) {
        match r {
            UnitResult::Done { len, .. } => self.done(op, hw, bin, *len),
            UnitResult::Incompressible => {
                bump(&self.incompressible);
                if !hw {
                    bump(&self.incompressible_sw);
                }
            }
            UnitResult::Failed(_) => {
                bump(&self.unit_errors);
                if !hw {
                    bump(&self.unit_errors_sw);
                }
            }
            UnitResult::Pending => {}
        }
    }

    pub(crate) fn fallback(&self, cause: FallbackCause) {
        bump(&self.fallbacks[cause as usize]);
    }
    pub(crate) fn read_into(&self, s: &mut Stats) {
        self.compress_hw.read_into(&mut s.compress_hw);
        self.compress_sw.read_into(&mut s.compress_sw);
        self.decompress_hw.read_into(&mut s.decompress_hw);
        self.decompress_sw.read_into(&mut s.decompress_sw);
        s.incompressible += self.incompressible.load(Relaxed);
        s.incompressible_sw += self.incompressible_sw.load(Relaxed);
        s.unit_errors += self.unit_errors.load(Relaxed);
        s.unit_errors_sw += self.unit_errors_sw.load(Relaxed);
        for (d, c) in s.fallbacks.iter_mut().zip(self.fallbacks.iter()) {
            *d += c.load(Relaxed);
        }
        s.submit_retries += self.submit_retries.load(Relaxed);
        s.timeouts += self.timeouts.load(Relaxed);
        s.fault_resubmits += self.fault_resubmits.load(Relaxed);
        s.verify_checks += self.verify_checks.load(Relaxed);
        s.verify_failures += self.verify_failures.load(Relaxed);
        s.batches += self.batches.load(Relaxed);
        s.dsa_hw += self.dsa_hw.load(Relaxed);
        s.dsa_sw += self.dsa_sw.load(Relaxed);
        for (d, c) in s.dsa_fallbacks.iter_mut().zip(self.dsa_fallbacks.iter()) {
            *d += c.load(Relaxed);
        }
        s.dsa_submissions += self.dsa_submissions.load(Relaxed);
        s.dsa_calls += self.dsa_calls.load(Relaxed);
    }
}
