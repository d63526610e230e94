//! `spread_over_cores` on the software path: the remaining units of a batch are shared out in
//! small chunks from one queue, so every thread (the caller and `spread_threads - 1` scoped
//! helpers, each on another context of the pool, each starting with one chunk) keeps taking
//! work until none is left. Units differ in cost (text compresses slower than zeros), so a
//! fixed split into equal parts would leave one core idle while the other finishes its part.

use crate::config::PoolBuilder;
use crate::context::{lock_helper, thread_token, CtxCell, Held};
use crate::engine::{check_crc, Env, Job};
use crate::io::{Inputs, Op, Outputs};
use crate::result::{BatchSummary, UnitResult};
use crate::soft::soft_unit;
use crate::stats::FallbackCause;

/// Run the units of `job` not yet started on up to `threads` threads (the caller included).
pub(crate) fn spread_rest(
    job: &mut Job<'_, '_>,
    env: &Env<'_>,
    cells: &[CtxCell],
    threads: usize,
    held: &mut Held<'_>,
) {
    let rem = job.back.saturating_sub(job.front);
    let parts = threads.min(rem / 2);
    if parts < 2 {
        return;
    }
    // Chunks small enough to balance (about 8 per thread), large enough that the queue's
    // lock is taken rarely.
    let chunk = (rem / (parts * 8)).clamp(1, 64);
    let caller = thread_token();
    let op = job.op;
    let b = env.b;
    let no_device = env.no_device;
    let ins = job.inputs.split_at(job.front).1.split_at(rem).0;
    let outs = job.outputs.reborrow().into_split(job.front).1;
    let res = &mut job.results[job.front..job.back];
    let ncells = cells.len();
    let me_first = crate::cpu::current_cpu(ncells);
    let range = job.front..job.back;
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
                let Some(mut h) = lock_helper(cells, first, caller) else {
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
                Ok(Err((i, mut o, r))) => soft_range(held, b, op, no_device, i, o.reborrow(), r),
                Err(panic) => std::panic::resume_unwind(panic),
            };
            total.add(&part);
        }
        total
    });
    let mut total = total;
    if job.expected.is_some() {
        // The helpers recorded their units directly: check the CRCs here.
        for u in range {
            let r = job.results[u];
            let checked = check_crc(job.expected.map(|e| e[u]), r);
            if checked != r {
                total.software -= 1;
                total.failed += 1;
                job.results[u] = checked;
            }
        }
    }
    job.summary.add(&total);
    job.front = job.back;
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
            &mut held.guard.soft,
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
