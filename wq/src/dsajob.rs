//! [`DsaJobMemory`]: the memory DSA jobs let the device touch (completion records and a batch
//! descriptor list), owned in one place, and [`DsaJobMemory::run`], which submits a window of
//! jobs and waits for them in one safe call.
//!
//! # Which memory the device touches, and until when
//! DSA jobs name the caller's buffers directly, so they run only on a WQ whose device reads
//! process memory ([`WorkQueue::reads_process_memory`]: kernel user WQs with PASID, the model).
//! - **Reading jobs** (CRC-32C, compare, compare-pattern) only read the caller's memory. When
//!   one does not complete within the budget it is given up on: its record (and the batch list,
//!   for a batch) is quarantined in this memory until the device writes it, and the caller's
//!   buffers are free when `run` returns: a late read of them is harmless (the design's rule for
//!   inputs read in place).
//! - **Writing jobs** (copy, fill) write the caller's memory. `run` never returns while the
//!   device may still write it: it waits for their records past the budget, however long the
//!   device takes, as the kernel does when it drains a WQ on close. The budget's expiry is
//!   reported ([`RunReport::writes_overdue`]) so the caller stops sending writes to that WQ.
//!   A device reports page faults and errors in the record instead of stalling, so on a working
//!   device this wait ends.
//!
//! Every descriptor is built here from the jobs' slices, on the stack, and submitted at once:
//! the DMA contract of [`WorkQueue::submit`] holds by construction, so the crates above stay
//! safe Rust.

use std::mem::ManuallyDrop;
use std::time::Duration;

use bytemuck::Zeroable;
use iaa_descriptors::{
    DsaBatch, DsaCompare, DsaCompletionRecord, DsaCrc, DsaDescriptor, DsaFill, DsaMemmove,
};

use crate::slab::{Slab, Waiter};
use crate::{WorkQueue, WqError};

/// One DSA job over the caller's memory.
#[derive(Debug)]
pub enum DsaJob<'a> {
    /// CRC-32C of `src`, continuing from `seed` (zlib convention: 0 starts a fresh CRC; the
    /// record's CRC value is the finished CRC).
    Crc32c {
        /// The bytes.
        src: &'a [u8],
        /// A previous finished CRC-32C, or 0.
        seed: u32,
    },
    /// Compare `a` with `b` (equal lengths).
    Compare {
        /// First buffer.
        a: &'a [u8],
        /// Second buffer, as long as `a`.
        b: &'a [u8],
    },
    /// Compare `src` with the 8-byte `pattern` repeated.
    Pattern {
        /// The bytes.
        src: &'a [u8],
        /// The pattern, little-endian (byte `i` of `src` is compared with byte `i % 8`).
        pattern: u64,
    },
    /// Copy `src` into the front of `dst` (at least as long).
    Copy {
        /// Source.
        src: &'a [u8],
        /// Destination.
        dst: &'a mut [u8],
    },
    /// Fill `dst` with the 8-byte `pattern` repeated.
    Fill {
        /// Destination.
        dst: &'a mut [u8],
        /// The pattern, little-endian.
        pattern: u64,
    },
}

impl DsaJob<'_> {
    /// Whether the device writes the caller's memory for this job.
    pub fn writes(&self) -> bool {
        matches!(self, DsaJob::Copy { .. } | DsaJob::Fill { .. })
    }

    /// Bytes the descriptor's transfer size covers.
    pub fn len(&self) -> usize {
        match self {
            DsaJob::Crc32c { src, .. } | DsaJob::Pattern { src, .. } => src.len(),
            DsaJob::Compare { a, .. } => a.len(),
            DsaJob::Copy { src, .. } => src.len(),
            DsaJob::Fill { dst, .. } => dst.len(),
        }
    }

    /// Whether the job covers no bytes.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Why the device may not take this job, if so: empty, over `max_transfer`, or
    /// mismatched lengths.
    fn refusal(&self, max_transfer: u32) -> Option<NotRun> {
        let n = self.len();
        if n == 0 || n > max_transfer as usize {
            return Some(NotRun::Size);
        }
        match self {
            DsaJob::Compare { a, b } if a.len() != b.len() => Some(NotRun::Size),
            DsaJob::Copy { src, dst } if dst.len() < src.len() => Some(NotRun::Size),
            _ => None,
        }
    }

    /// The descriptor, with its record at `rec`.
    fn descriptor(&self, rec: u64) -> DsaDescriptor {
        let len = self.len() as u32;
        match self {
            DsaJob::Crc32c { src, seed } => DsaCrc::generate(src.as_ptr() as u64, len, rec)
                .seed(*seed)
                .build(),
            DsaJob::Compare { a, b } => {
                DsaCompare::new(a.as_ptr() as u64, b.as_ptr() as u64, len, rec).build()
            }
            DsaJob::Pattern { src, pattern } => {
                DsaCompare::pattern(*pattern, src.as_ptr() as u64, len, rec).build()
            }
            DsaJob::Copy { src, dst } => {
                DsaMemmove::new(src.as_ptr() as u64, dst.as_ptr() as u64, len, rec).build()
            }
            DsaJob::Fill { dst, pattern } => {
                DsaFill::new(*pattern, dst.as_ptr() as u64, len, rec).build()
            }
        }
    }
}

/// Why a job did not reach the device.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NotRun {
    /// The WQ refused until the retry budget ran out (full, no credit, disabled), or the
    /// portal failed.
    Refused,
    /// Empty, larger than the WQ's maximum transfer, or lengths that do not match.
    Size,
    /// The device cannot read process memory (no PASID): DSA jobs need it.
    NoProcessMemory,
    /// Records of an earlier call are still with the device (quarantined).
    Quarantined,
    /// In a batch the device ended without running it: the batch failed as a whole, with
    /// this status in its record (e.g. a page fault, an invalid descriptor list).
    Skipped {
        /// The batch record's status byte.
        batch_status: u8,
    },
}

/// What happened to one job.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DsaOutcome {
    /// Not yet looked at (the initial value of an outcome array).
    Pending,
    /// The device wrote this record (any status: the caller classifies it).
    Record(DsaCompletionRecord),
    /// The job never reached the device, or the device skipped it.
    NotRun(NotRun),
    /// A reading job that did not complete within the budget: given up on, its record
    /// quarantined.
    TimedOut,
}

/// How [`DsaJobMemory::run`] submits.
#[derive(Clone, Copy, Debug)]
pub struct RunOptions {
    /// Put two or more jobs into one batch descriptor (one portal write). Only where the WQ
    /// takes batches: not through `write(2)` (Linux refuses BATCH there on devices without
    /// safe user submission), and only on a device whose maximum batch size is at least the
    /// window.
    pub batch: bool,
    /// Retries after a refused submission ([`WorkQueue::submit_with`]).
    pub retries: u32,
    /// The WQ's largest transfer size (`max_transfer_size`); larger jobs are not run.
    pub max_transfer: u32,
    /// How long to wait for the records.
    pub budget: Duration,
}

/// Totals of one [`DsaJobMemory::run`].
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct RunReport {
    /// Descriptors accepted by the portal (a batch counts once).
    pub submitted: u32,
    /// Refused attempts that were retried.
    pub retries: u32,
    /// A writing job was still running when the budget ran out (the call then waited for
    /// it): the WQ is too slow or stuck; send no more writes to it.
    pub writes_overdue: bool,
}

/// What a record slot of this memory is doing.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Rec {
    /// Nothing in flight.
    Idle,
    /// Submitted alone; its credit not yet returned.
    Single,
    /// A sub-descriptor of the batch in flight (the batch record holds the credit).
    InBatch,
    /// Done (record consumed, credit returned).
    Seen,
}

/// The device-visible memory of up to `slots` DSA jobs: a 32-byte-aligned completion record per
/// job plus one for a batch descriptor, and a 64-byte-aligned list of `slots` descriptors.
pub struct DsaJobMemory {
    recs: ManuallyDrop<Slab<DsaCompletionRecord>>,
    list: ManuallyDrop<Slab<DsaDescriptor>>,
    state: Box<[Rec]>,
    /// Records given up on (timed out): the WQ they went to, and whether the batch record is
    /// among them. `run` and drop wait for them to be written.
    quarantine: Option<(usize, bool)>,
}

impl DsaJobMemory {
    /// Memory for windows of up to `slots` jobs (1..=1024, the DSA's largest batch).
    pub fn new(slots: usize) -> Result<Self, WqError> {
        if slots == 0 || slots > 1024 {
            return Err(WqError::BadCapacity(slots));
        }
        let recs = Slab::new(slots + 1)?;
        let list = Slab::new(slots)?;
        let mut state = Vec::new();
        state
            .try_reserve_exact(slots + 1)
            .map_err(|_| WqError::Alloc { bytes: slots + 1 })?;
        state.resize(slots + 1, Rec::Idle);
        Ok(DsaJobMemory {
            recs: ManuallyDrop::new(recs),
            list: ManuallyDrop::new(list),
            state: state.into_boxed_slice(),
            quarantine: None,
        })
    }

    /// Jobs one [`DsaJobMemory::run`] takes at most.
    pub fn slots(&self) -> usize {
        self.list.capacity()
    }

    /// Bytes allocated (records, list, table).
    pub fn bytes(&self) -> usize {
        self.recs.region().1 + self.list.region().1 + self.state.len()
    }

    /// Whether records of an earlier run are still quarantined.
    pub fn is_quarantined(&self) -> bool {
        self.quarantine.is_some()
    }

    fn batch_rec(&self) -> usize {
        self.slots()
    }

    /// Release what the device has now written of an earlier run's quarantine, returning the
    /// credits; true when nothing is quarantined any more.
    pub fn reap(&mut self, wqs: &[WorkQueue]) -> bool {
        let Some((wq, batch)) = self.quarantine else {
            return true;
        };
        let pending = |i: usize| self.recs.poll(i).is_none();
        let still = if batch {
            pending(self.batch_rec())
        } else {
            (0..self.slots()).any(|i| self.state[i] == Rec::Single && pending(i))
        };
        if still {
            return false;
        }
        let credits = if batch {
            1
        } else {
            self.state.iter().filter(|s| **s == Rec::Single).count() as u32
        };
        if let Some(w) = wqs.get(wq) {
            w.complete(credits);
        }
        self.state.fill(Rec::Idle);
        self.quarantine = None;
        true
    }

    /// Submit `jobs` (at most [`DsaJobMemory::slots`]) to `wqs[wq]` and wait for them;
    /// `out[i]` tells what happened to `jobs[i]`. See the module docs for how long it waits.
    /// Jobs the device may not take (see [`NotRun`]) are left out; all of them when the WQ's
    /// device cannot read process memory, when the memory is still quarantined, or when
    /// `jobs` is larger than the memory or `out` shorter than `jobs`.
    pub fn run(
        &mut self,
        wqs: &[WorkQueue],
        wq: usize,
        jobs: &[DsaJob<'_>],
        opts: RunOptions,
        out: &mut [DsaOutcome],
    ) -> RunReport {
        let mut report = RunReport::default();
        let n = jobs.len();
        let Some(queue) = wqs.get(wq) else {
            out.iter_mut()
                .for_each(|o| *o = DsaOutcome::NotRun(NotRun::Refused));
            return report;
        };
        let all = |out: &mut [DsaOutcome], why| {
            out.iter_mut().for_each(|o| *o = DsaOutcome::NotRun(why));
        };
        if !self.reap(wqs) {
            all(out, NotRun::Quarantined);
            return report;
        }
        if out.len() < n || n > self.slots() {
            all(out, NotRun::Refused);
            return report;
        }
        if !queue.reads_process_memory() {
            all(&mut out[..n], NotRun::NoProcessMemory);
            return report;
        }
        // Which jobs go to the device.
        let mut count = 0;
        for (j, o) in jobs.iter().zip(out.iter_mut()) {
            *o = match j.refusal(opts.max_transfer) {
                Some(why) => DsaOutcome::NotRun(why),
                None => {
                    count += 1;
                    DsaOutcome::Pending
                }
            };
        }
        if count == 0 {
            return report;
        }
        let zero = DsaCompletionRecord::zeroed();
        let batched = opts.batch && count >= 2;
        let mut k = 0;
        for (i, j) in jobs.iter().enumerate() {
            if out[i] != DsaOutcome::Pending {
                continue;
            }
            self.recs.write(i, &zero);
            let rec = self.recs.addr(i).unwrap_or(0);
            let d = j.descriptor(rec);
            if batched {
                self.list.write(k, &d);
                self.state[i] = Rec::InBatch;
                k += 1;
                continue;
            }
            let recs = &*self.recs;
            let state = &mut self.state;
            // SAFETY: the descriptor names `jobs[i]`'s slices, borrowed for this whole call,
            // and record `i` of this memory. `run` returns only when the device is done with
            // every writing job's buffers (the wait below never gives them up); a reading
            // job given up on has its record quarantined in this memory, which is kept
            // (leaked at drop if need be) until the device writes it, and a late read of
            // the caller's input cannot write process memory.
            let r = unsafe {
                queue.submit_with(d.as_bytes(), opts.retries, || {
                    credit_seen(recs, state, queue);
                })
            };
            match r {
                Ok(retries) => {
                    report.submitted += 1;
                    report.retries += retries;
                    self.state[i] = Rec::Single;
                }
                Err(_) => out[i] = DsaOutcome::NotRun(NotRun::Refused),
            }
        }
        if batched {
            let b = self.batch_rec();
            self.recs.write(b, &zero);
            let (list, brec) = (
                self.list.addr(0).unwrap_or(0),
                self.recs.addr(b).unwrap_or(0),
            );
            let d = DsaBatch::new(list, k as u32, brec).build();
            // SAFETY: as for a single job: the list entries `0..k` were written above and
            // name only slices borrowed for this call and records of this memory; the batch
            // record is this memory's too. The wait below keeps writing jobs' buffers until
            // the batch is done; a batch of reading jobs given up on stays quarantined here.
            match unsafe { queue.submit_with(d.as_bytes(), opts.retries, || {}) } {
                Ok(retries) => {
                    report.submitted += 1;
                    report.retries += retries;
                    self.state[b] = Rec::Single;
                }
                Err(_) => {
                    for (i, o) in out.iter_mut().enumerate().take(n) {
                        if self.state[i] == Rec::InBatch {
                            self.state[i] = Rec::Idle;
                            *o = DsaOutcome::NotRun(NotRun::Refused);
                        }
                    }
                    return report;
                }
            }
        }
        self.wait(queue, wq, jobs, opts.budget, out, &mut report);
        report
    }

    /// Wait for every submitted job of this run (see the module docs for the writes).
    fn wait(
        &mut self,
        queue: &WorkQueue,
        wq: usize,
        jobs: &[DsaJob<'_>],
        budget: Duration,
        out: &mut [DsaOutcome],
        report: &mut RunReport,
    ) {
        let n = jobs.len();
        let b = self.batch_rec();
        let batched = self.state[b] == Rec::Single;
        let writes = (0..n).any(|i| self.state[i] != Rec::Idle && jobs[i].writes());
        let mut waiter = Waiter::idle(budget, 2048);
        let mut overdue = false;
        loop {
            let mut open = false;
            if batched {
                if let Some(brec) = self.recs.poll(b) {
                    queue.complete(1);
                    self.state[b] = Rec::Idle;
                    // The batch is done, so is every descriptor in it: a sub-record still
                    // zero was skipped (the batch failed as a whole).
                    for (i, o) in out.iter_mut().enumerate().take(n) {
                        if self.state[i] == Rec::InBatch {
                            *o = match self.recs.poll(i) {
                                Some(r) => DsaOutcome::Record(r),
                                None => DsaOutcome::NotRun(NotRun::Skipped {
                                    batch_status: brec.status,
                                }),
                            };
                            self.state[i] = Rec::Idle;
                        }
                    }
                } else {
                    open = true;
                }
            } else {
                for (i, o) in out.iter_mut().enumerate().take(n) {
                    match self.state[i] {
                        Rec::Single => match self.recs.poll(i) {
                            Some(r) => {
                                queue.complete(1);
                                *o = DsaOutcome::Record(r);
                                self.state[i] = Rec::Idle;
                            }
                            None => open = true,
                        },
                        Rec::Seen => {
                            // Seen (and credited) between submission attempts.
                            *o = match self.recs.poll(i) {
                                Some(r) => DsaOutcome::Record(r),
                                None => DsaOutcome::NotRun(NotRun::Refused),
                            };
                            self.state[i] = Rec::Idle;
                        }
                        _ => {}
                    }
                }
            }
            if !open {
                return;
            }
            // A writing job still with the device (in a batch: the batch holds them all).
            let writes_pending = if batched {
                writes
            } else {
                (0..n).any(|i| self.state[i] == Rec::Single && jobs[i].writes())
            };
            if overdue && writes_pending {
                std::thread::sleep(Duration::from_micros(50));
                continue;
            }
            if !overdue && waiter.pause() {
                continue;
            }
            if writes_pending {
                // The device writes the caller's memory: never give that up (module docs).
                report.writes_overdue = true;
                overdue = true;
                continue;
            }
            // Only reading jobs are left: give up on them, keep their records here.
            for (i, o) in out.iter_mut().enumerate().take(n) {
                match self.state[i] {
                    Rec::Single => *o = DsaOutcome::TimedOut,
                    Rec::InBatch => {
                        *o = DsaOutcome::TimedOut;
                        self.state[i] = Rec::Idle;
                    }
                    _ => {}
                }
            }
            self.quarantine = Some((wq, batched));
            if batched {
                self.state[..n].fill(Rec::Idle);
            } else {
                for s in self.state[..n].iter_mut() {
                    if *s != Rec::Single {
                        *s = Rec::Idle;
                    }
                }
            }
            return;
        }
    }
}

/// Between two submission attempts: return the credits of this run's single jobs whose records
/// are written (they stay `Seen` until the wait reads them).
fn credit_seen(recs: &Slab<DsaCompletionRecord>, state: &mut [Rec], queue: &WorkQueue) {
    for (i, s) in state.iter_mut().enumerate() {
        if *s == Rec::Single && recs.poll(i).is_some() {
            queue.complete(1);
            *s = Rec::Seen;
        }
    }
}

impl Drop for DsaJobMemory {
    fn drop(&mut self) {
        if self.quarantine.is_some() {
            // The device may still write a quarantined record (or read the batch list): the
            // memory is never freed (a bounded leak, only after a device stopped answering).
            return;
        }
        // SAFETY: nothing is in flight (every run waits or quarantines, and there is no
        // quarantine), so the device no longer touches this memory; each slab drops once.
        unsafe {
            ManuallyDrop::drop(&mut self.recs);
            ManuallyDrop::drop(&mut self.list);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_are_checked_before_any_descriptor() {
        let a = [1u8; 16];
        let b = [1u8; 8];
        assert_eq!(
            DsaJob::Compare { a: &a, b: &b }.refusal(1 << 20),
            Some(NotRun::Size)
        );
        assert_eq!(
            DsaJob::Crc32c { src: &[], seed: 0 }.refusal(1 << 20),
            Some(NotRun::Size)
        );
        assert_eq!(
            DsaJob::Crc32c { src: &a, seed: 0 }.refusal(8),
            Some(NotRun::Size)
        );
        let mut d = [0u8; 4];
        assert_eq!(
            DsaJob::Copy {
                src: &a,
                dst: &mut d
            }
            .refusal(1 << 20),
            Some(NotRun::Size)
        );
        assert!(DsaJobMemory::new(0).is_err());
        assert!(DsaJobMemory::new(1025).is_err());
        assert_eq!(DsaJobMemory::new(8).unwrap().slots(), 8);
    }

    #[test]
    fn descriptors_name_the_jobs_slices() {
        let src = [7u8; 64];
        let mut dst = [0u8; 64];
        let d = DsaJob::Copy {
            src: &src,
            dst: &mut dst,
        }
        .descriptor(0x1000);
        assert_eq!(d.addr1, src.as_ptr() as u64);
        assert_eq!(d.size, 64);
        assert_eq!(d.completion_addr, 0x1000);
        let d = DsaJob::Crc32c {
            src: &src,
            seed: 0xABCD,
        }
        .descriptor(0x2000);
        assert_eq!(d.crc_seed(), 0xABCD);
    }
}
