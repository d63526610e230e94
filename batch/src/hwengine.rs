//! The hardware half of the batch engine. Per step: reclaim quarantined slots the device has
//! finished, fill free slots with the next units (descriptor into the context's slab, submit
//! with a retry budget), poll every in-flight record once, and decide each finished unit:
//! copy out, verify, incompressible, or send that unit alone to software. When the hardware is
//! saturated the calling thread compresses pending units in software (hybrid).

use std::sync::atomic::Ordering::Relaxed;
use std::time::Instant;

use iaa_descriptors::StatusClass;

use crate::engine::{count_result, Job, Op};
use crate::error::UnitError;
use crate::hw::{classify, Busy, HwCtx, Phase, Submit};
use crate::pool::{Context, Held, Pool};
use crate::result::{ExecPath, UnitResult};
use crate::stats::{bump, FallbackCause};

/// Sort unit indices by input length, largest first (ties keep index order), in place.
pub(crate) fn largest_first(order: &mut [u32], len_of: impl Fn(usize) -> usize) {
    order.sort_unstable_by_key(|&u| (std::cmp::Reverse(len_of(u as usize)), u));
}

/// Weight of a new sample in the moving averages (1/8).
fn ewma(old: u64, new: u64) -> u64 {
    if old == 0 {
        new
    } else {
        old - old / 8 + new / 8
    }
}

/// Hybrid, near the end of a call: a unit submitted now would come back (after about
/// `hw_unit_ns`, measured with the window full) later than the calling thread could compress
/// all `rem` remaining units in software (`sw_unit_ns` each), so submitting it would only make
/// the caller wait for the device at the end. False while either estimate is unknown.
fn device_would_finish_last(rem: usize, hw_unit_ns: u64, sw_unit_ns: u64) -> bool {
    hw_unit_ns > 0 && sw_unit_ns > 0 && hw_unit_ns > (rem as u64).saturating_mul(sw_unit_ns)
}

impl Job<'_, '_> {
    /// The unit at position `pos`: decompress chunks are submitted largest input first.
    fn unit_at(&self, ctx: &Context, pos: usize) -> usize {
        let b = ctx.order.len();
        if self.op == Op::Decompress && b > 0 && pos / b == self.order_chunk {
            ctx.order[pos - self.order_chunk * b] as usize
        } else {
            pos
        }
    }

    /// Make sure the chunk holding position `pos` has its largest-first order.
    fn ensure_order(&mut self, ctx: &mut Context, pos: usize) {
        let b = ctx.order.len();
        if self.op != Op::Decompress || b == 0 || pos / b == self.order_chunk {
            return;
        }
        self.order_chunk = pos / b;
        let lo = self.order_chunk * b;
        let hi = (lo + b).min(self.back);
        for (k, u) in (lo..hi).enumerate() {
            ctx.order[k] = u as u32;
        }
        let ins = self.inputs;
        largest_first(&mut ctx.order[..hi - lo], |u| ins.len_of(u));
    }

    /// Run unit `u` in software because of `cause`, timing it for the hybrid decisions.
    fn fallback(&mut self, pool: &Pool, held: &mut Held<'_>, u: usize, cause: FallbackCause) {
        held.cell.stats.fallback(cause);
        self.sw_since_poll = true;
        let t = Instant::now();
        self.soft(pool, held, u);
        let ns = t.elapsed().as_nanos() as u64;
        held.guard.sw_unit_ns = ewma(held.guard.sw_unit_ns, ns);
    }

    /// One pass; false when nothing moved.
    pub(crate) fn hw_step(&mut self, pool: &Pool, held: &mut Held<'_>) -> bool {
        let Some(backend) = pool.backend.as_ref() else {
            return false;
        };
        let b = &pool.cfg.builder;
        let wqs = backend.wqs();
        let mut progressed = false;
        let mut window_full = false;

        if let Some(h) = held.guard.hw.as_mut() {
            h.reap(wqs);
        }

        // 1. Fill free slots with the next units.
        while self.front < self.back {
            let pos = self.front;
            self.ensure_order(&mut held.guard, pos);
            let u = self.unit_at(&held.guard, pos);
            let input = self.inputs.unit(u);
            let slot_len = self.outputs.slot_len(u);
            let hw = held.guard.hw.as_mut().expect("hardware context");
            let cap = hw.buf_cap();
            let (phase, max_out) = match self.op {
                Op::Compress => (
                    Phase::Compress,
                    slot_len.min(input.len().saturating_sub(1)).min(cap),
                ),
                Op::Decompress => (Phase::Decompress, slot_len.min(cap)),
            };
            if input.len() > cap {
                self.front += 1;
                self.fallback(pool, held, u, FallbackCause::TooLarge);
                progressed = true;
                continue;
            }
            if self.op == Op::Compress && max_out == 0 {
                // One-byte unit, or an empty slot: nothing smaller fits.
                self.front += 1;
                let r = UnitResult::Incompressible;
                count_result(&held.cell.stats, self.op, true, input.len(), &r);
                self.finish(u, r);
                progressed = true;
                continue;
            }
            if b.hybrid
                && self.inflight > 0
                && device_would_finish_last(
                    self.back - self.front,
                    held.guard.hw_unit_ns,
                    held.guard.sw_unit_ns,
                )
            {
                // End of the call: the caller finishes what is left before the device would
                // return this unit, so it stays here (taken from the tail below).
                window_full = true;
                break;
            }
            let hw = held.guard.hw.as_mut().expect("hardware context");
            // The slot must hold the input, and a decompress's output up to the buffer size.
            let need = match self.op {
                Op::Compress => input.len(),
                Op::Decompress => input.len().max(max_out),
            };
            let Some(slot) = hw.claim(need) else {
                window_full = true;
                break;
            };
            hw.prepare(slot, phase, input, max_out);
            let wq_idx = backend.pick(self.op, self.cpu, self.seq);
            let mut retried = 0;
            let sub = hw.submit(&wqs[wq_idx], slot, b.budgets.submit_retries, &mut retried);
            held.cell.stats.submit_retries.fetch_add(retried, Relaxed);
            match sub {
                Submit::Accepted => {
                    hw.busy[slot.index()] = Some(Busy {
                        slot,
                        unit: u,
                        phase,
                        t0: Instant::now(),
                        resubmitted: false,
                        wq: wq_idx,
                    });
                    self.seq += 1;
                    self.front += 1;
                    self.inflight += 1;
                    pool.wq_stats[wq_idx].add(input.len());
                    progressed = true;
                }
                Submit::Refused => {
                    hw.release(slot);
                    if b.hybrid || self.inflight == 0 {
                        // Saturated: this thread does the unit while the device works.
                        self.front += 1;
                        self.fallback(pool, held, u, FallbackCause::SubmitRefused);
                        progressed = true;
                    }
                    break;
                }
                Submit::Failed => {
                    hw.release(slot);
                    self.front += 1;
                    self.fallback(pool, held, u, FallbackCause::DeviceError);
                    progressed = true;
                }
            }
        }

        // 2. Poll every slot in flight once.
        let nslots = held.guard.hw.as_ref().map_or(0, |h| h.busy.len());
        for i in 0..nslots {
            let hw = held.guard.hw.as_mut().expect("hardware context");
            let Some(busy) = hw.busy[i] else {
                continue;
            };
            let Some(rec) = wqs[busy.wq].poll(hw.records(), busy.slot) else {
                if busy.t0.elapsed() > b.budgets.completion_timeout {
                    // Abandon: the slot stays quarantined until its record is written.
                    hw.quarantine(busy.slot, busy.wq);
                    self.inflight -= 1;
                    bump(&held.cell.stats.timeouts);
                    self.fallback(pool, held, busy.unit, FallbackCause::Timeout);
                    progressed = true;
                }
                continue;
            };
            progressed = true;
            let ns = busy.t0.elapsed().as_nanos() as u64;
            // A completion seen right after this thread did software work may have waited for
            // it: only undelayed observations feed the device's latency estimate.
            if !self.sw_since_poll {
                held.guard.hw_unit_ns = ewma(held.guard.hw_unit_ns, ns);
            }
            self.hw_complete(pool, held, busy, &rec);
        }

        self.sw_since_poll = false;

        // 3. Nothing moved: the window is full (or quarantined) and units remain.
        if !progressed && self.front < self.back {
            let ctx = &held.guard;
            if window_full && self.inflight == 0 {
                // Every slot is quarantined by earlier timeouts.
                self.front += 1;
                let pos = self.front - 1;
                let u = self.unit_at(&held.guard, pos);
                self.fallback(pool, held, u, FallbackCause::Quarantined);
                progressed = true;
            } else if window_full
                && b.hybrid
                && ctx.hw_unit_ns > 0
                && ctx.sw_unit_ns < ctx.hw_unit_ns
            {
                // A software unit finishes before a device unit would: take one from the tail.
                self.back -= 1;
                let pos = self.back;
                let u = self.unit_at(&held.guard, pos);
                self.fallback(pool, held, u, FallbackCause::Saturated);
                progressed = true;
            }
        }
        progressed
    }

    /// Decide a unit whose record is written.
    fn hw_complete(
        &mut self,
        pool: &Pool,
        held: &mut Held<'_>,
        busy: Busy,
        rec: &iaa_descriptors::IaaCompletionRecord,
    ) {
        let b = &pool.cfg.builder;
        let backend = pool.backend.as_ref().expect("backend");
        let u = busy.unit;
        let i = busy.slot.index();
        let input_len = self.inputs.len_of(u);
        let class = classify(rec);
        let st = &held.cell.stats;
        let hw: &mut HwCtx = held.guard.hw.as_mut().expect("hardware context");
        let wq = &backend.wqs()[busy.wq];
        match (class, busy.phase) {
            (StatusClass::Done, Phase::Compress) => {
                let len = rec.output_size as usize;
                if len == 0 || len >= input_len || len > self.outputs.slot_len(u) {
                    hw.release(busy.slot);
                    self.inflight -= 1;
                    let r = UnitResult::Incompressible;
                    count_result(st, self.op, true, input_len, &r);
                    self.finish(u, r);
                } else if b.verify {
                    bump(&st.verify_checks);
                    let phase = Phase::Verify { crc: rec.crc, len };
                    hw.prepare(busy.slot, phase, &[], 0);
                    let mut retried = 0;
                    let sub = hw.submit(wq, busy.slot, b.budgets.submit_retries, &mut retried);
                    st.submit_retries.fetch_add(retried, Relaxed);
                    if sub == Submit::Accepted {
                        hw.busy[i] = Some(Busy {
                            phase,
                            t0: Instant::now(),
                            resubmitted: false,
                            ..busy
                        });
                    } else {
                        hw.release(busy.slot);
                        self.inflight -= 1;
                        let cause = if sub == Submit::Refused {
                            FallbackCause::SubmitRefused
                        } else {
                            FallbackCause::DeviceError
                        };
                        self.fallback(pool, held, u, cause);
                    }
                } else {
                    self.hw_copy_out(held, busy, len, input_len, rec.crc);
                }
            }
            (StatusClass::Done, Phase::Verify { crc, len }) => {
                if rec.crc == crc && rec.bytes_completed as usize == len {
                    self.hw_copy_out(held, busy, len, input_len, crc);
                } else {
                    bump(&st.verify_failures);
                    hw.release(busy.slot);
                    self.inflight -= 1;
                    self.fallback(pool, held, u, FallbackCause::VerifyMismatch);
                }
            }
            (StatusClass::Done, Phase::Decompress)
                if (rec.bytes_completed as usize) < input_len =>
            {
                // The stream ended before the unit did: the software path reports the
                // trailing bytes (and rechecks the stream).
                hw.release(busy.slot);
                self.inflight -= 1;
                self.fallback(pool, held, u, FallbackCause::Undecodable);
            }
            (StatusClass::Done, Phase::Decompress) => {
                let len = rec.output_size as usize;
                self.hw_copy_out(held, busy, len, input_len, rec.crc);
            }
            (StatusClass::TouchPageAndResubmit, _) if !busy.resubmitted => {
                hw.touch(rec.fault_addr, rec.status & 0x80 != 0);
                if hw.zero_copy() {
                    // The device read the caller's input where it is: fault its page in.
                    touch_input(self.inputs.unit(u), rec.fault_addr);
                }
                let mut retried = 0;
                let sub = hw.submit(wq, busy.slot, b.budgets.submit_retries, &mut retried);
                st.submit_retries.fetch_add(retried, Relaxed);
                bump(&st.fault_resubmits);
                if sub == Submit::Accepted {
                    hw.busy[i] = Some(Busy {
                        t0: Instant::now(),
                        resubmitted: true,
                        ..busy
                    });
                } else {
                    hw.release(busy.slot);
                    self.inflight -= 1;
                    self.fallback(pool, held, u, FallbackCause::PageFault);
                }
            }
            (StatusClass::OutputOverflow, Phase::Compress) => {
                // Fixed-mode output does not fit: the kernel's "incompressible" (store raw).
                hw.release(busy.slot);
                self.inflight -= 1;
                let r = UnitResult::Incompressible;
                count_result(st, self.op, true, input_len, &r);
                self.finish(u, r);
            }
            (class, phase) => {
                hw.release(busy.slot);
                self.inflight -= 1;
                let cause = match (class, phase) {
                    (StatusClass::TouchPageAndResubmit, _) => FallbackCause::PageFault,
                    (StatusClass::OutputOverflow, Phase::Decompress)
                        if self.outputs.slot_len(u) > hw.buf_cap() =>
                    {
                        FallbackCause::TooLarge
                    }
                    (StatusClass::OutputOverflow | StatusClass::BadInput, Phase::Decompress) => {
                        FallbackCause::Undecodable
                    }
                    (StatusClass::OutputOverflow | StatusClass::BadInput, Phase::Verify { .. }) => {
                        bump(&st.verify_failures);
                        FallbackCause::VerifyMismatch
                    }
                    _ => FallbackCause::DeviceError,
                };
                self.fallback(pool, held, u, cause);
            }
        }
    }

    /// Copy a successful unit's output from the bounce buffer to the caller's slot; `crc` is
    /// the record's CRC-32 of the uncompressed bytes.
    fn hw_copy_out(
        &mut self,
        held: &mut Held<'_>,
        busy: Busy,
        len: usize,
        input_len: usize,
        crc: u32,
    ) {
        let u = busy.unit;
        let hw = held.guard.hw.as_mut().expect("hardware context");
        let r = match self.outputs.slot(u).get_mut(..len) {
            Some(dst) => {
                hw.copy_output(busy.slot, dst);
                UnitResult::Done {
                    len,
                    path: ExecPath::Hardware,
                    crc,
                }
            }
            None => UnitResult::Failed(UnitError::OutputTooSmall),
        };
        hw.release(busy.slot);
        self.inflight -= 1;
        count_result(&held.cell.stats, self.op, true, input_len, &r);
        self.finish(u, r);
    }

    /// Quarantine every slot in flight and forget their units (the handle was dropped).
    pub(crate) fn hw_abandon(&mut self, _pool: &Pool, held: &mut Held<'_>) {
        let Some(hw) = held.guard.hw.as_mut() else {
            return;
        };
        for i in 0..hw.busy.len() {
            if let Some(busy) = hw.busy[i] {
                hw.quarantine(busy.slot, busy.wq);
            }
        }
        self.inflight = 0;
    }
}

/// Read the byte of `input` at device address `addr`, if it is one of `input`'s, as a CPU
/// access would fault its page in.
fn touch_input(input: &[u8], addr: u64) {
    let base = input.as_ptr() as u64;
    if let Some(off) = addr.checked_sub(base).filter(|&o| o < input.len() as u64) {
        std::hint::black_box(input[off as usize]);
    }
}

#[cfg(test)]
mod tests {
    use super::{device_would_finish_last, largest_first};

    #[test]
    fn the_last_units_stay_with_the_caller_only_when_the_device_would_return_later() {
        // Device 480 us per unit with the window full, software 20 us: with 23 units left the
        // next one stays with the caller; with 24 left it still goes to the device.
        assert!(device_would_finish_last(23, 480_000, 20_000));
        assert!(!device_would_finish_last(24, 480_000, 20_000));
        assert!(!device_would_finish_last(500, 480_000, 20_000));
        // Unknown estimates: keep submitting.
        assert!(!device_would_finish_last(1, 0, 20_000));
        assert!(!device_would_finish_last(1, 480_000, 0));
    }

    #[test]
    fn decompress_chunks_submit_largest_inputs_first() {
        let lens = [10usize, 300, 20, 300, 5, 4000, 0, 7];
        let mut order: Vec<u32> = (0..8).collect();
        largest_first(&mut order, |u| lens[u]);
        assert_eq!(order, [5, 1, 3, 2, 0, 7, 4, 6]);
    }
}
