//! The engine of one batch, top to bottom: one state machine per call ([`Job`]), shared by the
//! blocking and the asynchronous forms and by both paths.
//!
//! - The path is the context's [`Lane`]: `Software` runs each unit through the software step
//!   ([`soft_unit`], beside this file); `Hardware` runs [`Job::hw_step`].
//! - One hardware step: reap the slots the device finished with; **fill** the window (each unit
//!   at the front is admitted by [`admit`], a pure function, then claimed, described and
//!   submitted); **poll** every unit in flight once (each written record is classified and
//!   [`decide`]d, a pure function of (completion class, phase, sizes), and the action applied);
//!   when nothing moved, [`when_stuck`] says whether the calling thread takes a unit itself
//!   (hybrid).
//! - A unit the device cannot finish goes to the software step on the calling thread, alone,
//!   with its counted cause ([`FallbackCause`]).
//!
//! Slot states, WQ credits and the one submission retry budget are the job memory's
//! ([`iaa_wq::IaaJobMemory`]); this file decides and records which unit is where.

use std::time::Instant;

use iaa_descriptors::{iaa_class, StatusClass};
use iaa_wq::{Code, IaaJob, Input, SubmitError, Waiter};

use crate::config::{HwMode, PoolBuilder};
use crate::context::{Context, Held, Lane};
use crate::device::{dynamic_table, Backend, Flight, HwCtx, Phase};
use crate::error::UnitError;
use crate::io::{Inputs, Op, Outputs};
use crate::result::{BatchSummary, ExecPath, UnitResult};
use crate::soft::{soft_unit, SoftCtx};
use crate::stats::{bump, CtxStats, FallbackCause, WqStats};

/// What a job needs of its pool.
pub(crate) struct Env<'p> {
    pub(crate) b: &'p PoolBuilder,
    pub(crate) backend: Option<&'p Backend>,
    /// Per-WQ submission counters, in the backend's WQ order.
    pub(crate) wq_stats: &'p [WqStats],
    /// The pool runs in software because it found no device (counted per unit).
    pub(crate) no_device: bool,
}

/// PAUSE iterations of an idle wait before it starts yielding the CPU (on a small machine the
/// device model's engine threads need it).
const IDLE_SPINS: u32 = 64;

/// The state of one call.
pub(crate) struct Job<'a, 'b> {
    pub(crate) op: Op,
    pub(crate) inputs: Inputs<'a>,
    pub(crate) outputs: Outputs<'a, 'b>,
    pub(crate) results: &'a mut [UnitResult],
    /// Decompress: the CRC-32 each unit's output must have (one per unit), if the caller gave
    /// them.
    pub(crate) expected: Option<&'a [u32]>,
    /// Next position to start (positions map to units, see `unit_at`).
    pub(crate) front: usize,
    /// Positions `[back, n)` were taken from the tail by the calling thread (hybrid).
    pub(crate) back: usize,
    /// Units on the device.
    pub(crate) inflight: usize,
    pub(crate) summary: BatchSummary,
    /// Decompress: the chunk (of `hw_batch_size` positions) whose largest-first order is in
    /// the context's `order` array.
    order_chunk: usize,
    /// The CPU the call started on: it chooses the WQs (hardware path).
    cpu: usize,
    /// Units submitted so far: compress descriptors round-robin over the package's IAAs.
    seq: usize,
    /// This thread ran a software unit since it last polled the device.
    sw_since_poll: bool,
}

impl<'a, 'b> Job<'a, 'b> {
    pub(crate) fn new(
        op: Op,
        inputs: Inputs<'a>,
        outputs: Outputs<'a, 'b>,
        results: &'a mut [UnitResult],
        expected: Option<&'a [u32]>,
    ) -> Self {
        let n = results.len();
        Job {
            op,
            inputs,
            outputs,
            results,
            expected,
            front: 0,
            back: n,
            inflight: 0,
            summary: BatchSummary {
                units: n,
                ..BatchSummary::default()
            },
            order_chunk: usize::MAX,
            cpu: 0,
            seq: 0,
            sw_since_poll: false,
        }
    }

    pub(crate) fn is_done(&self) -> bool {
        self.front >= self.back && self.inflight == 0
    }

    /// Record the final result of unit `u` (a decompressed unit whose CRC is not the expected
    /// one fails).
    pub(crate) fn finish(&mut self, u: usize, r: UnitResult) {
        let r = check_crc(self.expected.map(|e| e[u]), r);
        self.results[u] = r;
        self.summary.record(&r);
    }

    // ---- Driving the job ------------------------------------------------------------------

    /// Called once at submission: on the hardware path, note the CPU and fill the window.
    pub(crate) fn start(&mut self, env: &Env<'_>, held: &mut Held<'_>) {
        if let Lane::Hardware(hw) = &held.guard.lane {
            self.cpu = iaa_wq::cpu::current_cpu().unwrap_or(hw.index);
            self.hw_step(env, held);
        }
    }

    /// Step until done. Between steps that moved nothing: PAUSE, then UMWAIT on a record in
    /// flight where the CPU has it, else yield the CPU.
    pub(crate) fn run_to_end(&mut self, env: &Env<'_>, held: &mut Held<'_>) {
        let mut w = Waiter::idle(env.b.budgets.completion_timeout, IDLE_SPINS);
        while !self.is_done() {
            if self.step(env, held) {
                w.reset();
                continue;
            }
            let more = match &held.guard.lane {
                Lane::Hardware(hw) => match hw.first_in_flight() {
                    Some(s) => hw.mem.pause_on(s, &mut w),
                    None => w.pause(),
                },
                Lane::Software => w.pause(),
            };
            if !more {
                // The budget is only the waiter's pacing: completion timeouts are per unit.
                w.reset();
            }
        }
    }

    /// One step of progress; false when nothing moved (the device is still working).
    pub(crate) fn step(&mut self, env: &Env<'_>, held: &mut Held<'_>) -> bool {
        if self.is_done() {
            return true;
        }
        match held.guard.lane {
            Lane::Hardware(_) => self.hw_step(env, held),
            Lane::Software => {
                let u = self.front;
                self.front += 1;
                if env.no_device {
                    held.cell.stats.fallback(FallbackCause::NoDevice);
                }
                self.soft(env, &mut held.guard.soft, &held.cell.stats, u);
                true
            }
        }
    }

    /// Give up: unfinished units become `Abandoned`; units in flight leave their slots
    /// quarantined until the device writes their records.
    pub(crate) fn abandon(&mut self, held: &mut Held<'_>) {
        if let Lane::Hardware(hw) = &mut held.guard.lane {
            for i in 0..hw.flights.len() {
                if let Some(f) = hw.flights[i].take() {
                    hw.mem.quarantine(f.slot);
                }
            }
        }
        for u in 0..self.results.len() {
            if self.results[u] == UnitResult::Pending {
                self.finish(u, UnitResult::Failed(UnitError::Abandoned));
                bump(&held.cell.stats.unit_errors);
            }
        }
        self.front = self.back;
        self.inflight = 0;
    }

    // ---- The hardware step ----------------------------------------------------------------

    /// One pass over the window; false when nothing moved.
    fn hw_step(&mut self, env: &Env<'_>, held: &mut Held<'_>) -> bool {
        let st = &held.cell.stats;
        let Context {
            soft,
            lane: Lane::Hardware(hw),
            ..
        } = &mut *held.guard
        else {
            return false;
        };
        let Some(backend) = env.backend else {
            return false;
        };
        let wqs = backend.wqs();
        let b = env.b;
        let mut progressed = false;
        let mut window_full = false;
        hw.mem.reap(wqs);
        let mode = backend.mode_for(b, hw);

        // 1. Fill the window with the next units.
        while self.front < self.back {
            let pos = self.front;
            self.ensure_order(hw, pos);
            let u = self.unit_at(hw, pos);
            let input = self.inputs.unit(u);
            let keep = b.hybrid
                && self.inflight > 0
                && device_would_finish_last(self.back - pos, hw.hw_unit_ns, hw.sw_unit_ns);
            let cap = hw.mem.buf_cap();
            let (phase, job, need) = match admit(
                self.op,
                mode,
                input.len(),
                self.outputs.slot_len(u),
                cap,
                keep,
            ) {
                Admit::Submit { phase, job, need } => (phase, job, need),
                Admit::Incompressible => {
                    self.front += 1;
                    let r = UnitResult::Incompressible;
                    st.count(self.op, true, input.len(), &r);
                    self.finish(u, r);
                    progressed = true;
                    continue;
                }
                Admit::Software(cause) => {
                    self.front += 1;
                    self.fallback(env, soft, hw, st, u, cause);
                    progressed = true;
                    continue;
                }
                Admit::Hold => {
                    // End of the call: the caller finishes what is left before the device
                    // would return this unit (taken from the tail below).
                    window_full = true;
                    break;
                }
            };
            let Some(slot) = hw.mem.claim(need) else {
                window_full = true;
                break;
            };
            let wq = backend.pick(self.op.choice_op(), self.cpu, self.seq);
            let src = hw.stage(slot, input);
            let flight = Flight {
                slot,
                unit: u,
                phase,
                t0: Instant::now(),
                resubmitted: false,
                wq,
            };
            match launch(b, hw, st, wqs, flight, job, src) {
                Ok(()) => {
                    self.seq += 1;
                    self.front += 1;
                    self.inflight += 1;
                    env.wq_stats[wq].add(input.len());
                    progressed = true;
                }
                Err(SubmitError::Busy { .. }) => {
                    hw.mem.release(slot);
                    if b.hybrid || self.inflight == 0 {
                        // Saturated: this thread does the unit while the device works.
                        self.front += 1;
                        self.fallback(env, soft, hw, st, u, FallbackCause::SubmitRefused);
                        progressed = true;
                    }
                    break;
                }
                Err(SubmitError::Failed(_)) => {
                    hw.mem.release(slot);
                    self.front += 1;
                    self.fallback(env, soft, hw, st, u, FallbackCause::DeviceError);
                    progressed = true;
                }
            }
        }

        // 2. Poll every unit in flight once, and act on each written record.
        for i in 0..hw.flights.len() {
            let Some(f) = hw.flights[i] else {
                continue;
            };
            let Some(rec) = hw.mem.poll(f.slot, wqs) else {
                if f.t0.elapsed() > b.budgets.completion_timeout {
                    // Abandon: the slot stays quarantined until its record is written.
                    hw.flights[i] = None;
                    hw.mem.quarantine(f.slot);
                    self.inflight -= 1;
                    bump(&st.timeouts);
                    self.fallback(env, soft, hw, st, f.unit, FallbackCause::Timeout);
                    progressed = true;
                }
                continue;
            };
            progressed = true;
            // A completion seen right after this thread did software work may have waited for
            // it: only undelayed observations feed the device's latency estimate.
            if !self.sw_since_poll {
                hw.hw_unit_ns = ewma(hw.hw_unit_ns, f.t0.elapsed().as_nanos() as u64);
            }
            let seen = Seen {
                class: iaa_class(rec.status, rec.error_code),
                phase: f.phase,
                out_len: rec.output_size as usize,
                consumed: rec.bytes_completed as usize,
                crc: rec.crc,
                input_len: self.inputs.len_of(f.unit),
                slot_len: self.outputs.slot_len(f.unit),
                buf_cap: hw.mem.buf_cap(),
                verify: b.verify,
                resubmitted: f.resubmitted,
            };
            match decide(&seen) {
                Action::Deliver { len, crc } => self.deliver(hw, st, f, (len, crc), seen.input_len),
                Action::Incompressible => {
                    self.retire(hw, f);
                    let r = UnitResult::Incompressible;
                    st.count(self.op, true, seen.input_len, &r);
                    self.finish(f.unit, r);
                }
                Action::Verify { crc, len } => {
                    bump(&st.verify_checks);
                    let flight = Flight {
                        phase: Phase::Verify { crc, len },
                        t0: Instant::now(),
                        ..f
                    };
                    let job = IaaJob::Verify { len };
                    let orig = hw.staged(self.inputs.unit(f.unit));
                    if let Err(e) = launch(b, hw, st, wqs, flight, job, orig) {
                        self.retire(hw, f);
                        self.fallback(env, soft, hw, st, f.unit, refused_cause(&e));
                    }
                }
                Action::Encode { max_out } => {
                    let hist = hw.mem.histogram(f.slot);
                    if let Some(h) = &hist {
                        if !hw.trained_ready && backend.learns(b) {
                            backend.learn(h, self.inputs.unit(f.unit).len());
                        }
                    }
                    let code = match hist
                        .and_then(|h| dynamic_table(&h, iaa_descriptors::Coverage::Observed))
                    {
                        Some(t) if hw.mem.set_slot_table(f.slot, &t) => Code::Slot,
                        // No valid code from this histogram: the fixed one.
                        _ => Code::Fixed,
                    };
                    self.recompress(env, soft, hw, st, wqs, f, max_out, code);
                }
                Action::Recode { max_out } => {
                    // The trained code did not shrink this unit: the fixed codes, once.
                    self.recompress(env, soft, hw, st, wqs, f, max_out, Code::Fixed);
                }
                Action::Resubmit => {
                    // Fault the page in as a CPU access would, then the same descriptor again.
                    hw.mem.touch(rec.fault_addr, rec.status & 0x80 != 0);
                    if hw.zero_copy {
                        touch_input(self.inputs.unit(f.unit), rec.fault_addr);
                    }
                    bump(&st.fault_resubmits);
                    let r = hw.mem.resubmit(f.slot, wqs, f.wq, b.budgets.submit_retries);
                    count_retries(st, &r);
                    match r {
                        Ok(_) => {
                            hw.flights[i] = Some(Flight {
                                t0: Instant::now(),
                                resubmitted: true,
                                ..f
                            });
                        }
                        Err(_) => {
                            self.retire(hw, f);
                            self.fallback(env, soft, hw, st, f.unit, FallbackCause::PageFault);
                        }
                    }
                }
                Action::Software(cause) => {
                    if cause == FallbackCause::VerifyMismatch {
                        bump(&st.verify_failures);
                    }
                    self.retire(hw, f);
                    self.fallback(env, soft, hw, st, f.unit, cause);
                }
            }
        }
        self.sw_since_poll = false;

        // 3. Nothing moved and units remain: wait, or take one in software.
        if !progressed && self.front < self.back {
            let stuck = when_stuck(
                window_full,
                self.inflight,
                b.hybrid,
                hw.hw_unit_ns,
                hw.sw_unit_ns,
            );
            match stuck {
                Stuck::Wait => {}
                Stuck::Front => {
                    // Every slot is quarantined by earlier timeouts.
                    let u = self.unit_at(hw, self.front);
                    self.front += 1;
                    self.fallback(env, soft, hw, st, u, FallbackCause::Quarantined);
                    progressed = true;
                }
                Stuck::Tail => {
                    // A software unit finishes before a device unit would: take the last.
                    self.back -= 1;
                    let u = self.unit_at(hw, self.back);
                    self.fallback(env, soft, hw, st, u, FallbackCause::Saturated);
                    progressed = true;
                }
            }
        }
        progressed
    }

    /// Copy a finished unit's output from the slot to the caller's output slot.
    /// `(len, crc)`: the output's length and the record's CRC-32; `input_len`: the unit's.
    fn deliver(
        &mut self,
        hw: &mut HwCtx,
        st: &CtxStats,
        f: Flight,
        (len, crc): (usize, u32),
        input_len: usize,
    ) {
        let r = match self.outputs.slot(f.unit).get_mut(..len) {
            Some(dst) => {
                hw.mem.copy_output(f.slot, dst);
                UnitResult::Done {
                    len,
                    path: ExecPath::Hardware,
                    crc,
                }
            }
            None => UnitResult::Failed(UnitError::OutputTooSmall),
        };
        self.retire(hw, f);
        st.count(self.op, true, input_len, &r);
        self.finish(f.unit, r);
    }

    /// Compress unit `f` again in its slot with `code` (after its statistics pass, or after
    /// the trained code did not shrink it), at most `max_out` bytes.
    #[allow(clippy::too_many_arguments)]
    fn recompress(
        &mut self,
        env: &Env<'_>,
        soft: &mut SoftCtx,
        hw: &mut HwCtx,
        st: &CtxStats,
        wqs: &[iaa_wq::WorkQueue],
        f: Flight,
        max_out: usize,
        code: Code,
    ) {
        let input = self.inputs.unit(f.unit);
        let job = IaaJob::Compress {
            len: input.len(),
            max_out,
            code,
        };
        let src = hw.staged(input);
        let flight = Flight {
            phase: Phase::Compress,
            t0: Instant::now(),
            ..f
        };
        if let Err(e) = launch(env.b, hw, st, wqs, flight, job, src) {
            self.retire(hw, f);
            self.fallback(env, soft, hw, st, f.unit, refused_cause(&e));
        }
    }

    /// The unit leaves the device: its slot is free again.
    fn retire(&mut self, hw: &mut HwCtx, f: Flight) {
        hw.flights[f.slot.index()] = None;
        hw.mem.release(f.slot);
        self.inflight -= 1;
    }

    /// Run unit `u` in software because of `cause`, timing it for the hybrid decisions.
    fn fallback(
        &mut self,
        env: &Env<'_>,
        soft: &mut SoftCtx,
        hw: &mut HwCtx,
        st: &CtxStats,
        u: usize,
        cause: FallbackCause,
    ) {
        st.fallback(cause);
        self.sw_since_poll = true;
        let t = Instant::now();
        self.soft(env, soft, st, u);
        hw.sw_unit_ns = ewma(hw.sw_unit_ns, t.elapsed().as_nanos() as u64);
    }

    /// Run unit `u` in software on this context and record its result.
    fn soft(&mut self, env: &Env<'_>, soft: &mut SoftCtx, st: &CtxStats, u: usize) {
        let input = self.inputs.unit(u);
        let r = soft_unit(soft, st, env.b, self.op, input, self.outputs.slot(u));
        self.finish(u, r);
    }

    /// The unit at position `pos`: decompress chunks are submitted largest input first.
    fn unit_at(&self, hw: &HwCtx, pos: usize) -> usize {
        let b = hw.order.len();
        if self.op == Op::Decompress && b > 0 && pos / b == self.order_chunk {
            hw.order[pos - self.order_chunk * b] as usize
        } else {
            pos
        }
    }

    /// Make sure the chunk holding position `pos` has its largest-first order.
    fn ensure_order(&mut self, hw: &mut HwCtx, pos: usize) {
        let b = hw.order.len();
        if self.op != Op::Decompress || b == 0 || pos / b == self.order_chunk {
            return;
        }
        self.order_chunk = pos / b;
        let lo = self.order_chunk * b;
        let hi = (lo + b).min(self.back);
        for (k, u) in (lo..hi).enumerate() {
            hw.order[k] = u as u32;
        }
        let ins = self.inputs;
        largest_first(&mut hw.order[..hi - lo], |u| ins.len_of(u));
    }
}

/// Submit `job` for `flight` (its slot claimed) to the flight's WQ with the pool's retry
/// budget, and record it in flight.
fn launch(
    b: &PoolBuilder,
    hw: &mut HwCtx,
    st: &CtxStats,
    wqs: &[iaa_wq::WorkQueue],
    flight: Flight,
    job: IaaJob,
    input: Input<'_>,
) -> Result<(), SubmitError> {
    let r = hw.mem.submit(
        flight.slot,
        job,
        input,
        wqs,
        flight.wq,
        b.budgets.submit_retries,
    );
    count_retries(st, &r);
    r?;
    hw.flights[flight.slot.index()] = Some(flight);
    Ok(())
}

/// Count the retries a submission made, accepted or not.
fn count_retries(st: &CtxStats, r: &Result<u32, SubmitError>) {
    let n = match r {
        Ok(n) | Err(SubmitError::Busy { retries: n, .. }) => *n,
        Err(SubmitError::Failed(_)) => 0,
    };
    st.submit_retries
        .fetch_add(n.into(), std::sync::atomic::Ordering::Relaxed);
}

/// The fallback cause of a submission that did not happen.
fn refused_cause(e: &SubmitError) -> FallbackCause {
    match e {
        SubmitError::Busy { .. } => FallbackCause::SubmitRefused,
        SubmitError::Failed(_) => FallbackCause::DeviceError,
    }
}

// ---- The decisions (pure) -------------------------------------------------------------------

/// What to do with the unit at the front of the window.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Admit {
    /// Put it on the device: `job` in a slot whose buffers hold `need` bytes.
    Submit {
        phase: Phase,
        job: IaaJob,
        need: usize,
    },
    /// Nothing smaller fits (a one-byte unit, or an empty output slot): store raw.
    Incompressible,
    /// The device cannot take it: software, for this cause.
    Software(FallbackCause),
    /// Stop filling: the calling thread will take it (hybrid, end of the call).
    Hold,
}

/// The largest unit compressed with the device's one-pass header generation (QPL and Linux use
/// it up to 4 KiB; what IAA 2.0 does above is not known here).
pub(crate) const HEADER_GEN_MAX: usize = 4096;

/// Admit a unit of `input_len` bytes into an output slot of `slot_len` bytes, on a context
/// whose largest slot holds `cap` bytes, compressing in `mode` on a device that generates
/// headers itself when `header_gen`. `keep`: hybrid says the caller should keep it.
pub(crate) fn admit(
    op: Op,
    (mode, header_gen): (HwMode, bool),
    input_len: usize,
    slot_len: usize,
    cap: usize,
    keep: bool,
) -> Admit {
    if input_len > cap {
        return Admit::Software(FallbackCause::TooLarge);
    }
    let max_out = match op {
        Op::Compress => slot_len.min(input_len.saturating_sub(1)).min(cap),
        Op::Decompress => slot_len.min(cap),
    };
    if op == Op::Compress && max_out == 0 {
        return Admit::Incompressible;
    }
    if keep {
        return Admit::Hold;
    }
    let len = input_len;
    let one_pass = header_gen && len <= HEADER_GEN_MAX;
    let compress = |job| Admit::Submit {
        phase: Phase::Compress,
        job,
        need: len,
    };
    let job = |code| IaaJob::Compress { len, max_out, code };
    match (op, mode) {
        (Op::Compress, HwMode::Auto | HwMode::Dynamic) if one_pass => {
            compress(job(Code::HeaderGen))
        }
        (Op::Compress, HwMode::Auto | HwMode::Fixed) => compress(job(Code::Fixed)),
        // The context's table holds the pool's trained code.
        (Op::Compress, HwMode::Trained) => Admit::Submit {
            phase: Phase::CompressTrained { max_out },
            job: job(Code::Context),
            need: len,
        },
        // The statistics pass first; the compression follows in the same slot.
        (Op::Compress, HwMode::Dynamic) => Admit::Submit {
            phase: Phase::Stats { max_out },
            job: IaaJob::Stats { len },
            need: len,
        },
        // The slot holds the input, and the output up to its limit.
        (Op::Decompress, _) => Admit::Submit {
            phase: Phase::Decompress,
            job: IaaJob::Decompress { len, max_out },
            need: len.max(max_out),
        },
    }
}

/// A written completion record with the facts the decision needs.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Seen {
    pub(crate) class: StatusClass,
    pub(crate) phase: Phase,
    /// The record's output size.
    pub(crate) out_len: usize,
    /// The record's bytes completed (input consumed).
    pub(crate) consumed: usize,
    pub(crate) crc: u32,
    pub(crate) input_len: usize,
    /// The caller's output slot.
    pub(crate) slot_len: usize,
    /// The context's largest bounce buffer.
    pub(crate) buf_cap: usize,
    /// Verify-after-compress is on.
    pub(crate) verify: bool,
    /// The unit was already resubmitted once after a page fault.
    pub(crate) resubmitted: bool,
}

/// What to do with a unit whose record is written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Action {
    /// Done: copy `len` bytes out; `crc` is the CRC-32 of the uncompressed bytes.
    Deliver { len: usize, crc: u32 },
    /// The output is not smaller than the input: store raw (the kernel's "incompressible").
    Incompressible,
    /// Check the compressed output on the device: decompress it with output suppressed.
    Verify { crc: u32, len: usize },
    /// Dynamic mode: build the unit's code from the histogram its statistics pass wrote and
    /// compress with it, writing at most `max_out` bytes.
    Encode { max_out: usize },
    /// Trained mode: the pool's code did not shrink the unit; compress it with the fixed
    /// codes, at most `max_out` bytes.
    Recode { max_out: usize },
    /// Touch the faulting page and submit the same descriptor once more.
    Resubmit,
    /// Do the unit in software, for this cause.
    Software(FallbackCause),
}

/// The decision for one written record.
pub(crate) fn decide(s: &Seen) -> Action {
    use FallbackCause as C;
    use StatusClass as K;
    if let Phase::CompressTrained { max_out } = s.phase {
        let not_smaller = s.out_len == 0 || s.out_len >= s.input_len || s.out_len > s.slot_len;
        return match s.class {
            K::Done if not_smaller => Action::Recode { max_out },
            K::OutputOverflow => Action::Recode { max_out },
            // Otherwise as any compression.
            _ => decide(&Seen {
                phase: Phase::Compress,
                ..*s
            }),
        };
    }
    match (s.class, s.phase) {
        (K::Done, Phase::Compress)
            if s.out_len == 0 || s.out_len >= s.input_len || s.out_len > s.slot_len =>
        {
            Action::Incompressible
        }
        (K::Done, Phase::Compress) if s.verify => Action::Verify {
            crc: s.crc,
            len: s.out_len,
        },
        (K::Done, Phase::Compress) => Action::Deliver {
            len: s.out_len,
            crc: s.crc,
        },
        (K::Done, Phase::Stats { max_out }) => Action::Encode { max_out },
        (K::Done, Phase::Verify { crc, len }) if s.crc == crc && s.consumed == len => {
            Action::Deliver { len, crc }
        }
        (K::Done, Phase::Verify { .. }) => Action::Software(C::VerifyMismatch),
        // The stream ended before the unit did: the software path reports the trailing bytes
        // (and rechecks the stream).
        (K::Done, Phase::Decompress) if s.consumed < s.input_len => {
            Action::Software(C::Undecodable)
        }
        (K::Done, Phase::Decompress) => Action::Deliver {
            len: s.out_len,
            crc: s.crc,
        },
        (K::TouchPageAndResubmit, _) if !s.resubmitted => Action::Resubmit,
        (K::TouchPageAndResubmit, _) => Action::Software(C::PageFault),
        // Fixed-mode output does not fit: the kernel's "incompressible" (store raw).
        (K::OutputOverflow, Phase::Compress) => Action::Incompressible,
        (K::OutputOverflow, Phase::Decompress) if s.slot_len > s.buf_cap => {
            Action::Software(C::TooLarge)
        }
        (K::OutputOverflow | K::BadInput, Phase::Decompress) => Action::Software(C::Undecodable),
        (K::OutputOverflow | K::BadInput, Phase::Verify { .. }) => {
            Action::Software(C::VerifyMismatch)
        }
        _ => Action::Software(C::DeviceError),
    }
}

/// What a step that moved nothing does with the units still waiting.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Stuck {
    /// Wait for the device.
    Wait,
    /// Every slot is quarantined (earlier timeouts): the front unit goes to software.
    Front,
    /// Hybrid: software is faster than waiting for a slot; the caller takes the last unit.
    Tail,
}

/// `window_full`: no slot was free for the next unit; the `_ns` figures are the moving
/// averages of one device unit (submit to completion) and one software unit.
pub(crate) fn when_stuck(
    window_full: bool,
    inflight: usize,
    hybrid: bool,
    hw_unit_ns: u64,
    sw_unit_ns: u64,
) -> Stuck {
    if !window_full {
        Stuck::Wait
    } else if inflight == 0 {
        Stuck::Front
    } else if hybrid && hw_unit_ns > 0 && sw_unit_ns < hw_unit_ns {
        Stuck::Tail
    } else {
        Stuck::Wait
    }
}

/// Hybrid, near the end of a call: a unit submitted now would come back (after about
/// `hw_unit_ns`, measured with the window full) later than the calling thread could compress
/// all `rem` remaining units in software (`sw_unit_ns` each), so submitting it would only make
/// the caller wait for the device at the end. False while either estimate is unknown.
pub(crate) fn device_would_finish_last(rem: usize, hw_unit_ns: u64, sw_unit_ns: u64) -> bool {
    hw_unit_ns > 0 && sw_unit_ns > 0 && hw_unit_ns > (rem as u64).saturating_mul(sw_unit_ns)
}

/// A decompressed unit whose CRC is not the `expected` one fails.
pub(crate) fn check_crc(expected: Option<u32>, r: UnitResult) -> UnitResult {
    match (expected, r) {
        (Some(exp), UnitResult::Done { crc, .. }) if exp != crc => {
            UnitResult::Failed(UnitError::CrcMismatch {
                expected: exp,
                actual: crc,
            })
        }
        _ => r,
    }
}

/// Weight of a new sample in the moving averages (1/8).
fn ewma(old: u64, new: u64) -> u64 {
    if old == 0 {
        new
    } else {
        old - old / 8 + new / 8
    }
}

/// Sort unit indices by input length, largest first (ties keep index order), in place.
pub(crate) fn largest_first(order: &mut [u32], len_of: impl Fn(usize) -> usize) {
    order.sort_unstable_by_key(|&u| (std::cmp::Reverse(len_of(u as usize)), u));
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
    use super::*;

    fn seen(class: StatusClass, phase: Phase) -> Seen {
        Seen {
            class,
            phase,
            out_len: 100,
            consumed: 4096,
            crc: 7,
            input_len: 4096,
            slot_len: 4096,
            buf_cap: 4096,
            verify: false,
            resubmitted: false,
        }
    }

    #[test]
    fn compress_completions() {
        let done = seen(StatusClass::Done, Phase::Compress);
        assert_eq!(decide(&done), Action::Deliver { len: 100, crc: 7 });
        let v = Seen {
            verify: true,
            ..done
        };
        assert_eq!(decide(&v), Action::Verify { crc: 7, len: 100 });
        for out_len in [0, 4096, 5000] {
            assert_eq!(decide(&Seen { out_len, ..done }), Action::Incompressible);
        }
        let over = seen(StatusClass::OutputOverflow, Phase::Compress);
        assert_eq!(decide(&over), Action::Incompressible);
    }

    #[test]
    fn verify_completions() {
        let ok = Seen {
            consumed: 100,
            ..seen(StatusClass::Done, Phase::Verify { crc: 7, len: 100 })
        };
        assert_eq!(decide(&ok), Action::Deliver { len: 100, crc: 7 });
        for bad in [Seen { crc: 8, ..ok }, Seen { consumed: 99, ..ok }] {
            assert_eq!(
                decide(&bad),
                Action::Software(FallbackCause::VerifyMismatch)
            );
        }
        let bad_input = Seen {
            class: StatusClass::BadInput,
            ..ok
        };
        assert_eq!(
            decide(&bad_input),
            Action::Software(FallbackCause::VerifyMismatch)
        );
    }

    #[test]
    fn decompress_completions() {
        let d = Seen {
            out_len: 4096,
            consumed: 1000,
            input_len: 1000,
            ..seen(StatusClass::Done, Phase::Decompress)
        };
        assert_eq!(decide(&d), Action::Deliver { len: 4096, crc: 7 });
        let trailing = Seen { consumed: 999, ..d };
        assert_eq!(
            decide(&trailing),
            Action::Software(FallbackCause::Undecodable)
        );
        let over = Seen {
            class: StatusClass::OutputOverflow,
            ..d
        };
        assert_eq!(decide(&over), Action::Software(FallbackCause::Undecodable));
        let big_slot = Seen {
            slot_len: 65536,
            ..over
        };
        assert_eq!(decide(&big_slot), Action::Software(FallbackCause::TooLarge));
    }

    #[test]
    fn faults_resubmit_once_and_other_errors_go_to_software() {
        let f = seen(StatusClass::TouchPageAndResubmit, Phase::Decompress);
        assert_eq!(decide(&f), Action::Resubmit);
        let again = Seen {
            resubmitted: true,
            ..f
        };
        assert_eq!(decide(&again), Action::Software(FallbackCause::PageFault));
        let e = seen(StatusClass::DeviceFault, Phase::Compress);
        assert_eq!(decide(&e), Action::Software(FallbackCause::DeviceError));
    }

    #[test]
    fn admission() {
        let c = admit(Op::Compress, (HwMode::Fixed, true), 4096, 4096, 4096, false);
        assert_eq!(
            c,
            Admit::Submit {
                phase: Phase::Compress,
                job: IaaJob::Compress {
                    len: 4096,
                    max_out: 4095,
                    code: Code::Fixed
                },
                need: 4096
            }
        );
        assert_eq!(
            admit(
                Op::Compress,
                (HwMode::Fixed, false),
                4097,
                8192,
                4096,
                false
            ),
            Admit::Software(FallbackCause::TooLarge)
        );
        assert_eq!(
            admit(Op::Compress, (HwMode::Fixed, false), 1, 10, 4096, false),
            Admit::Incompressible
        );
        assert_eq!(
            admit(Op::Compress, (HwMode::Fixed, false), 100, 0, 4096, false),
            Admit::Incompressible
        );
        assert_eq!(
            admit(Op::Compress, (HwMode::Fixed, false), 100, 100, 4096, true),
            Admit::Hold
        );
        // A decompress slot must hold the output limit too.
        assert_eq!(
            admit(
                Op::Decompress,
                (HwMode::Dynamic, true),
                100,
                65536,
                65536,
                false
            ),
            Admit::Submit {
                phase: Phase::Decompress,
                job: IaaJob::Decompress {
                    len: 100,
                    max_out: 65536
                },
                need: 65536
            }
        );
    }

    #[test]
    fn dynamic_mode_starts_with_the_statistics_pass_and_then_encodes() {
        assert_eq!(
            admit(
                Op::Compress,
                (HwMode::Dynamic, false),
                4096,
                4096,
                4096,
                false
            ),
            Admit::Submit {
                phase: Phase::Stats { max_out: 4095 },
                job: IaaJob::Stats { len: 4096 },
                need: 4096
            }
        );
        // A device that generates headers: one pass up to 4 KiB, two passes above.
        let one = |mode, len| admit(Op::Compress, (mode, true), len, 1 << 16, 1 << 16, false);
        for mode in [HwMode::Auto, HwMode::Dynamic] {
            assert!(matches!(
                one(mode, 4096),
                Admit::Submit {
                    job: IaaJob::Compress {
                        len: 4096,
                        code: Code::HeaderGen,
                        ..
                    },
                    ..
                }
            ));
        }
        assert!(matches!(
            one(HwMode::Dynamic, 4097),
            Admit::Submit {
                job: IaaJob::Stats { len: 4097 },
                ..
            }
        ));
        assert!(matches!(
            one(HwMode::Auto, 4097),
            Admit::Submit {
                job: IaaJob::Compress {
                    len: 4097,
                    code: Code::Fixed,
                    ..
                },
                ..
            }
        ));
        // An IAA 1.0 in Auto mode: fixed codes.
        assert!(matches!(
            admit(Op::Compress, (HwMode::Auto, false), 100, 100, 4096, false),
            Admit::Submit {
                job: IaaJob::Compress { .. },
                ..
            }
        ));
        let stats = seen(StatusClass::Done, Phase::Stats { max_out: 4095 });
        assert_eq!(decide(&stats), Action::Encode { max_out: 4095 });
        let bad = seen(StatusClass::BadInput, Phase::Stats { max_out: 4095 });
        assert_eq!(decide(&bad), Action::Software(FallbackCause::DeviceError));
    }

    #[test]
    fn a_unit_the_trained_code_does_not_shrink_gets_the_fixed_codes_once() {
        let t = Phase::CompressTrained { max_out: 4095 };
        let big = Seen {
            out_len: 4096,
            ..seen(StatusClass::Done, t)
        };
        assert_eq!(decide(&big), Action::Recode { max_out: 4095 });
        let over = seen(StatusClass::OutputOverflow, t);
        assert_eq!(decide(&over), Action::Recode { max_out: 4095 });
        assert_eq!(
            decide(&seen(StatusClass::Done, t)),
            Action::Deliver { len: 100, crc: 7 }
        );
        // The retry runs as a plain compression: not smaller then is incompressible.
        let again = Seen {
            out_len: 4096,
            ..seen(StatusClass::Done, Phase::Compress)
        };
        assert_eq!(decide(&again), Action::Incompressible);
    }

    #[test]
    fn stuck_steps() {
        assert_eq!(when_stuck(false, 0, true, 10, 1), Stuck::Wait);
        assert_eq!(when_stuck(true, 0, false, 0, 0), Stuck::Front);
        assert_eq!(when_stuck(true, 3, true, 10, 1), Stuck::Tail);
        assert_eq!(when_stuck(true, 3, true, 10, 20), Stuck::Wait);
        assert_eq!(when_stuck(true, 3, false, 10, 1), Stuck::Wait);
        assert_eq!(when_stuck(true, 3, true, 0, 1), Stuck::Wait);
    }

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

    #[test]
    fn crc_checks() {
        let done = UnitResult::Done {
            len: 1,
            path: ExecPath::Software,
            crc: 5,
        };
        assert_eq!(check_crc(None, done), done);
        assert_eq!(check_crc(Some(5), done), done);
        assert_eq!(
            check_crc(Some(6), done),
            UnitResult::Failed(UnitError::CrcMismatch {
                expected: 6,
                actual: 5
            })
        );
    }
}
