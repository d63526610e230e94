//! The batch engine: one state machine per call, shared by the blocking and the asynchronous
//! forms and by every path. Units advance from `front`; on the hardware path up to
//! `hw_batch_size` are in flight in the context's slots, and a unit the device cannot finish goes
//! to the software codec on the calling thread, alone.

use std::sync::atomic::Ordering::Relaxed;

use crate::config::PoolBuilder;
use crate::error::UnitError;
use crate::io::{Inputs, Outputs};
use crate::pool::{thread_token, Context, Held, Pool};
use crate::result::{BatchSummary, ExecPath, UnitResult};
use crate::soft::SoftOutcome;
use crate::stats::{bump, CtxStats, Dir, FallbackCause};

/// The operation of a call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Op {
    Compress,
    Decompress,
}

impl Op {
    /// The operation as the WQ chooser names it.
    pub(crate) fn choice_op(self) -> iaa_driver::choice::Op {
        match self {
            Op::Compress => iaa_driver::choice::Op::Compress,
            Op::Decompress => iaa_driver::choice::Op::Decompress,
        }
    }

    pub(crate) fn dir(self) -> Dir {
        match self {
            Op::Compress => Dir::Compress,
            Op::Decompress => Dir::Decompress,
        }
    }
}

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
    pub(crate) order_chunk: usize,
    /// The CPU the call started on: it chooses the WQs (hardware path).
    pub(crate) cpu: usize,
    /// Units submitted so far: compress descriptors round-robin over the package's IAAs.
    pub(crate) seq: usize,
    /// This thread ran a software unit since it last polled the device.
    pub(crate) sw_since_poll: bool,
}

impl<'a, 'b> Job<'a, 'b> {
    pub(crate) fn new(
        op: Op,
        inputs: Inputs<'a>,
        outputs: Outputs<'a, 'b>,
        results: &'a mut [UnitResult],
    ) -> Self {
        let n = results.len();
        Job {
            op,
            inputs,
            outputs,
            results,
            expected: None,
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

    /// Record the final result of unit `u`.
    pub(crate) fn finish(&mut self, u: usize, r: UnitResult) {
        let r = self.check_crc(u, r);
        self.results[u] = r;
        self.summary.record(&r);
    }

    /// A decompressed unit whose CRC is not the expected one fails.
    fn check_crc(&self, u: usize, r: UnitResult) -> UnitResult {
        match (self.expected, r) {
            (Some(exp), UnitResult::Done { crc, .. }) if exp[u] != crc => {
                UnitResult::Failed(UnitError::CrcMismatch {
                    expected: exp[u],
                    actual: crc,
                })
            }
            _ => r,
        }
    }

    /// Called once at submission.
    pub(crate) fn start(&mut self, pool: &Pool, held: &mut Held<'_>) {
        if let Some(hw) = held.guard.hw.as_ref() {
            self.cpu = iaa_wq::cpu::current_cpu().unwrap_or(hw.index);
            self.hw_step(pool, held);
        }
    }

    /// Step until done; between passes that moved nothing, spin briefly, then yield the CPU
    /// (on a small machine the device model's engines need it).
    pub(crate) fn run_to_end(&mut self, pool: &Pool, held: &mut Held<'_>) {
        let mut idle = 0u32;
        while !self.is_done() {
            if self.step(pool, held) {
                idle = 0;
            } else {
                idle = idle.saturating_add(1);
                if idle < 64 {
                    std::hint::spin_loop();
                } else {
                    std::thread::yield_now();
                }
            }
        }
    }

    /// One step of progress; false when nothing moved (the device is still working).
    pub(crate) fn step(&mut self, pool: &Pool, held: &mut Held<'_>) -> bool {
        if self.is_done() {
            return true;
        }
        if held.guard.hw.is_some() {
            return self.hw_step(pool, held);
        }
        let u = self.front;
        self.front += 1;
        if pool.cfg.no_device_reason.is_some() {
            crate::pool::count_fallback(held.cell, FallbackCause::NoDevice);
        }
        self.soft(pool, held, u);
        true
    }

    /// Run unit `u` in software on this context and record its result.
    pub(crate) fn soft(&mut self, pool: &Pool, held: &mut Held<'_>, u: usize) {
        let input = self.inputs.unit(u);
        let out = self.outputs.slot(u);
        let r = soft_unit(
            &mut held.guard,
            &held.cell.stats,
            &pool.cfg.builder,
            self.op,
            input,
            out,
        );
        self.finish(u, r);
    }

    /// Give up: unfinished units become `Abandoned`; in-flight hardware slots are quarantined.
    pub(crate) fn abandon(&mut self, pool: &Pool, held: &mut Held<'_>) {
        if held.guard.hw.is_some() {
            self.hw_abandon(pool, held);
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

    /// Software path with `spread_over_cores`: the remaining units are shared out in small
    /// chunks from one queue, so every thread (the caller and `spread_threads - 1` scoped
    /// helpers, each on another context of the pool, each starting with one chunk) keeps
    /// taking work until none is left.
    /// Units differ in cost (text compresses slower than zeros), so a fixed split into equal
    /// parts would leave one core idle while the other finishes its part.
    pub(crate) fn spread_rest(&mut self, pool: &Pool, held: &mut Held<'_>) {
        let rem = self.back.saturating_sub(self.front);
        let parts = pool.cfg.spread_threads.min(rem / 2);
        if parts < 2 {
            return;
        }
        // Chunks small enough to balance (about 8 per thread), large enough that the queue's
        // lock is taken rarely.
        let chunk = (rem / (parts * 8)).clamp(1, 64);
        let caller = thread_token();
        let op = self.op;
        let b = &pool.cfg.builder;
        let no_device = pool.cfg.no_device_reason.is_some();
        let ins = self.inputs.split_at(self.front).1.split_at(rem).0;
        let outs = self.outputs.reborrow().into_split(self.front).1;
        let res = &mut self.results[self.front..self.back];
        let ncells = pool.cells.len();
        let me_first = crate::cpu::current_cpu(ncells);
        let range = self.front..self.back;
        let queue = SpreadQueue::new(ins, outs, res);
        let total = std::thread::scope(|s| {
            let queue = &queue;
            let mut joins = Vec::with_capacity(parts - 1);
            for p in 1..parts {
                let first = (me_first + p) % ncells;
                // Each helper starts with a chunk of its own, so it has work even if the
                // caller would otherwise drain the queue before the helper is scheduled.
                let Some(mine) = queue.take(chunk) else { break };
                joins.push(s.spawn(move || {
                    // A helper that finds no free context hands its chunk back to the caller.
                    let Some(mut h) = pool.lock_helper(first, caller) else {
                        return Err(mine);
                    };
                    let (i, mut o, r) = mine;
                    let mut sum = soft_range(&mut h, b, op, no_device, i, o.reborrow(), r);
                    while let Some((i, mut o, r)) = queue.take(chunk) {
                        let part = soft_range(&mut h, b, op, no_device, i, o.reborrow(), r);
                        sum.add(&part);
                    }
                    Ok(sum)
                }));
            }
            let mut total = BatchSummary::default();
            while let Some((i, mut o, r)) = queue.take(chunk) {
                let part = soft_range(held, b, op, no_device, i, o.reborrow(), r);
                total.add(&part);
            }
            for j in joins {
                let part = match j.join() {
                    Ok(Ok(part)) => part,
                    Ok(Err((i, mut o, r))) => {
                        soft_range(held, b, op, no_device, i, o.reborrow(), r)
                    }
                    Err(panic) => std::panic::resume_unwind(panic),
                };
                total.add(&part);
            }
            total
        });
        let mut total = total;
        if self.expected.is_some() {
            // The helpers recorded their units directly: check the CRCs here.
            for u in range {
                let r = self.results[u];
                let checked = self.check_crc(u, r);
                if checked != r {
                    total.software -= 1;
                    total.failed += 1;
                    self.results[u] = checked;
                }
            }
        }
        self.summary.add(&total);
        self.front = self.back;
    }
}

/// The units of a spread batch not yet taken, handed out front first in chunks.
struct SpreadQueue<'a, 'b> {
    rest: std::sync::Mutex<(Inputs<'a>, Outputs<'a, 'b>, &'a mut [UnitResult])>,
}

impl<'a, 'b> SpreadQueue<'a, 'b> {
    fn new(ins: Inputs<'a>, outs: Outputs<'a, 'b>, res: &'a mut [UnitResult]) -> Self {
        Self {
            rest: std::sync::Mutex::new((ins, outs, res)),
        }
    }

    /// The next (at most) `chunk` units with their slots and results; `None` when all are
    /// taken.
    #[allow(clippy::type_complexity)]
    fn take(&self, chunk: usize) -> Option<(Inputs<'a>, Outputs<'a, 'b>, &'a mut [UnitResult])> {
        // Only splitting happens under the lock, so a poisoned lock still holds a valid state.
        let mut g = self.rest.lock().unwrap_or_else(|p| p.into_inner());
        let n = g.2.len();
        if n == 0 {
            return None;
        }
        let k = chunk.min(n);
        let empty_ins = g.0.split_at(0).0;
        let (ins, outs, res) =
            std::mem::replace(&mut *g, (empty_ins, Outputs::Slices(&mut []), &mut []));
        let (i0, i1) = ins.split_at(k);
        let (o0, o1) = outs.into_split(k);
        let (r0, r1) = res.split_at_mut(k);
        *g = (i1, o1, r1);
        Some((i0, o0, r0))
    }
}

/// Compress or decompress every unit of `ins` in software on one context.
fn soft_range(
    held: &mut Held<'_>,
    b: &PoolBuilder,
    op: Op,
    no_device: bool,
    ins: Inputs<'_>,
    mut outs: Outputs<'_, '_>,
    res: &mut [UnitResult],
) -> BatchSummary {
    let mut sum = BatchSummary::default();
    for (u, r) in res.iter_mut().enumerate().take(ins.count()) {
        if no_device {
            held.cell.stats.fallback(FallbackCause::NoDevice);
        }
        *r = soft_unit(
            &mut held.guard,
            &held.cell.stats,
            b,
            op,
            ins.unit(u),
            outs.slot(u),
        );
        sum.record(r);
    }
    sum
}

/// Compress or decompress one unit with the context's software codec, count it, and say what
/// happened. Verify-after-compress (when on) decompresses the output and compares.
pub(crate) fn soft_unit(
    ctx: &mut Context,
    st: &CtxStats,
    b: &PoolBuilder,
    op: Op,
    input: &[u8],
    out: &mut [u8],
) -> UnitResult {
    let r = match op {
        Op::Compress => match ctx.soft.compress(input, out) {
            Ok(SoftOutcome::Compressed(n)) => {
                if b.verify && !soft_verify(ctx, st, input, &out[..n]) {
                    UnitResult::Failed(UnitError::VerifyFailed)
                } else {
                    UnitResult::Done {
                        len: n,
                        path: ExecPath::Software,
                        crc: crate::result::crc32(input),
                    }
                }
            }
            Ok(SoftOutcome::Incompressible) => UnitResult::Incompressible,
            Err(e) => UnitResult::Failed(e),
        },
        Op::Decompress => match ctx.soft.decompress(input, out) {
            Ok(n) => UnitResult::Done {
                len: n,
                path: ExecPath::Software,
                crc: crate::result::crc32(&out[..n]),
            },
            Err(e) => UnitResult::Failed(e),
        },
    };
    count_result(st, op, false, input.len(), &r);
    r
}

/// Decompress `comp` into the verify scratch and compare with `orig`.
fn soft_verify(ctx: &mut Context, st: &CtxStats, orig: &[u8], comp: &[u8]) -> bool {
    bump(&st.verify_checks);
    let ok = orig.len() <= ctx.verify_buf.len()
        && matches!(ctx.soft.decompress(comp, &mut ctx.verify_buf[..orig.len()]),
                    Ok(n) if n == orig.len())
        && ctx.verify_buf[..orig.len()] == *orig;
    if !ok {
        bump(&st.verify_failures);
    }
    ok
}

/// Count a final unit result in the context statistics.
pub(crate) fn count_result(st: &CtxStats, op: Op, hw: bool, bin: usize, r: &UnitResult) {
    match r {
        UnitResult::Done { len, .. } => st.done(op.dir(), hw, bin, *len),
        UnitResult::Incompressible => {
            st.incompressible.fetch_add(1, Relaxed);
            if !hw {
                st.incompressible_sw.fetch_add(1, Relaxed);
            }
        }
        UnitResult::Failed(_) => {
            st.unit_errors.fetch_add(1, Relaxed);
            if !hw {
                st.unit_errors_sw.fetch_add(1, Relaxed);
            }
        }
        UnitResult::Pending => {}
    }
}
