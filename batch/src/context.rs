//! Per-CPU contexts: what one holds ([`Context`]: the software codec state and, on the hardware
//! path, the device memory), its cell in the pool ([`CtxCell`]: lock, statistics, holder), and
//! how a call takes one ([`lock_current`], [`lock_helper`]) and gives it back ([`Held`]'s drop).

use std::cell::Cell;
use std::ops::{Deref, DerefMut};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::Relaxed};
use std::sync::{Condvar, Mutex};

use crate::config::PoolBuilder;
use crate::cpu;
use crate::device::{Backend, HwCtx};
use crate::error::Error;
use crate::soft::SoftCtx;
use crate::stats::CtxStats;

/// One per-CPU context, created at pool build, dropped with the pool.
pub(crate) struct Context {
    /// Software codec state (the software path, and per-unit fallback on the hardware path).
    pub(crate) soft: SoftCtx,
    /// Where units go first.
    pub(crate) lane: Lane,
    /// The DSA operations' memory, when the pool has a DSA that works on process memory in
    /// place (else they run in software).
    pub(crate) dsa: Option<crate::dsa::DsaCtx>,
}

/// The path of a context: the type, not a flag, decides which step runs.
// The context is boxed in its cell, so the size of the software variant does not matter.
#[allow(clippy::large_enum_variant)]
pub(crate) enum Lane {
    /// Every unit in software on the calling thread.
    Software,
    /// Units go to the device, and to software one by one when the device cannot finish them.
    Hardware(HwCtx),
}

impl Context {
    /// Build one context (`backend`: the pool's device, if any); returns it with its memory
    /// figures.
    pub(crate) fn new(
        b: &PoolBuilder,
        backend: Option<&Backend>,
        dsa: Option<&crate::dsa::DsaBackend>,
        cpu: usize,
    ) -> Result<(Context, ContextBytes), String> {
        let soft = SoftCtx::new(b)?;
        let lane = match backend {
            Some(be) => Lane::Hardware(be.new_context(cpu, b)?),
            None => Lane::Software,
        };
        let dsa = match dsa {
            Some(be) if be.in_place() => Some(be.new_context(cpu, b)?),
            _ => None,
        };
        let codec_state = soft.codec_bytes();
        let software =
            soft.bytes() + std::mem::size_of::<CtxCell>() + std::mem::size_of::<Context>();
        let hardware = match &lane {
            Lane::Hardware(h) => h.bytes(),
            Lane::Software => 0,
        } + dsa.as_ref().map_or(0, |d| d.bytes());
        Ok((
            Context { soft, lane, dsa },
            ContextBytes {
                software,
                codec_state,
                hardware,
            },
        ))
    }
}

/// Memory held by one context, per path (see [`crate::Pool::context_bytes`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ContextBytes {
    /// Software part: codec state (compressor + decompressor), verify scratch, bookkeeping.
    pub software: usize,
    /// Of `software`, the codec state: deflate = iaa-fallback's compressor with the heap it
    /// reports, plus the decompressor handle (libdeflate's few KiB of C heap not included);
    /// zstd = zstd's own count of its contexts (C heap).
    pub codec_state: usize,
    /// Hardware part: 64-byte-aligned completion records, AECS, input and output bounce
    /// buffers, the slot table and the units in flight, plus the DSA operations' records and
    /// batch list (0 for a software pool).
    pub hardware: usize,
}

impl ContextBytes {
    /// Both parts.
    pub fn total(&self) -> usize {
        self.software + self.hardware
    }
}

/// A context with its lock, its statistics and the token of the thread holding it.
///
/// The lock is "the context is in its cell": taking it moves the (boxed) context out under the
/// mutex, giving it back moves it in and wakes one waiter. The holder owns the context outright
/// while it works, so a [`crate::Handle`] holding it can move to another thread (a
/// `MutexGuard` could not).
#[repr(align(128))]
pub(crate) struct CtxCell {
    /// Thread token of the holder (0 = nobody); lets a thread that already holds this context
    /// (through a live handle) pick another one instead of deadlocking on itself.
    pub(crate) owner: AtomicU64,
    /// Held by a handle the caller keeps (a `submit_*` that returned unfinished), not by a
    /// call that ends by itself: never worth waiting for.
    pub(crate) parked: AtomicBool,
    pub(crate) stats: CtxStats,
    slot: Mutex<Option<Box<Context>>>,
    freed: Condvar,
}

impl CtxCell {
    pub(crate) fn new(ctx: Context) -> CtxCell {
        CtxCell {
            owner: AtomicU64::new(0),
            parked: AtomicBool::new(false),
            stats: CtxStats::default(),
            slot: Mutex::new(Some(Box::new(ctx))),
            freed: Condvar::new(),
        }
    }

    /// The context while nobody holds it (the pool is being dropped: `&mut` proves it).
    pub(crate) fn get_mut(&mut self) -> Option<&mut Context> {
        let slot = self.slot.get_mut().unwrap_or_else(|p| p.into_inner());
        slot.as_deref_mut()
    }
}

/// The context a [`Held`] owns (always present until the `Held` is dropped).
pub(crate) struct CtxBox(Option<Box<Context>>);

impl Deref for CtxBox {
    type Target = Context;
    fn deref(&self) -> &Context {
        self.0
            .as_deref()
            .expect("a held context is present until released")
    }
}

impl DerefMut for CtxBox {
    fn deref_mut(&mut self) -> &mut Context {
        self.0
            .as_deref_mut()
            .expect("a held context is present until released")
    }
}

/// A taken context. Dropping it clears the owner token and puts the context back.
pub(crate) struct Held<'p> {
    pub(crate) cell: &'p CtxCell,
    pub(crate) guard: CtxBox,
}

impl Drop for Held<'_> {
    fn drop(&mut self) {
        self.cell.owner.store(0, Relaxed);
        self.cell.parked.store(false, Relaxed);
        let mut slot = self.cell.slot.lock().unwrap_or_else(|p| p.into_inner());
        *slot = self.guard.0.take();
        drop(slot);
        self.cell.freed.notify_one();
    }
}

/// How long a call waits on one busy context before it looks at all of them again.
const WAIT_SLICE: std::time::Duration = std::time::Duration::from_micros(200);

static NEXT_TOKEN: AtomicU64 = AtomicU64::new(1);

thread_local! {
    static TOKEN: Cell<u64> = const { Cell::new(0) };
}

/// A non-zero number unique to the calling thread (no allocation).
pub(crate) fn thread_token() -> u64 {
    TOKEN.with(|t| {
        let v = t.get();
        if v != 0 {
            v
        } else {
            let v = NEXT_TOKEN.fetch_add(1, Relaxed);
            t.set(v);
            v
        }
    })
}

/// Take a free context: the one of the CPU the caller runs on, else the next free one. When
/// none is free, wait (in short slices, rescanning) for one held by a call that ends by
/// itself; never for one a live handle holds (this thread's or another's), which may be
/// released only after this call returns. `AllContextsHeld` when live handles hold every
/// context.
pub(crate) fn lock_current(cells: &[CtxCell]) -> Result<Held<'_>, Error> {
    let me = thread_token();
    let n = cells.len();
    let start = cpu::current_cpu(n);
    loop {
        let mut busy = None;
        for k in 0..n {
            let cell = &cells[(start + k) % n];
            if cell.owner.load(Relaxed) == me {
                continue;
            }
            if let Some(h) = try_cell(cell, me, None) {
                return Ok(h);
            }
            if !cell.parked.load(Relaxed) {
                busy.get_or_insert(cell);
            }
        }
        let Some(cell) = busy else {
            return Err(Error::AllContextsHeld(n));
        };
        if let Some(h) = try_cell(cell, me, Some(WAIT_SLICE)) {
            return Ok(h);
        }
    }
}

/// Take `cell`'s context if it is there, waiting up to `wait` for it to come back.
fn try_cell(cell: &CtxCell, me: u64, wait: Option<std::time::Duration>) -> Option<Held<'_>> {
    // The mutex only guards the move in and out (no user code runs under it), so a poisoned
    // one still holds a valid state.
    let mut slot = cell.slot.lock().unwrap_or_else(|p| p.into_inner());
    if slot.is_none() {
        if let Some(t) = wait {
            slot = cell
                .freed
                .wait_timeout(slot, t)
                .map_or_else(|p| p.into_inner().0, |(g, _)| g);
        }
    }
    let ctx = slot.take()?;
    drop(slot);
    cell.owner.store(me, Relaxed);
    Some(Held {
        cell,
        guard: CtxBox(Some(ctx)),
    })
}

/// Lock a context for a spread helper thread: any free one not held by `caller`, else block
/// on the first one not held by `caller`; `None` if `caller` holds them all.
pub(crate) fn lock_helper(cells: &[CtxCell], first: usize, caller: u64) -> Option<Held<'_>> {
    let me = thread_token();
    let n = cells.len();
    let mut fallback = None;
    for k in 0..n {
        let cell = &cells[(first + k) % n];
        if cell.owner.load(Relaxed) == caller {
            continue;
        }
        if let Ok(mut slot) = cell.slot.try_lock() {
            if let Some(ctx) = slot.take() {
                drop(slot);
                cell.owner.store(me, Relaxed);
                return Some(Held {
                    cell,
                    guard: CtxBox(Some(ctx)),
                });
            }
        }
        fallback.get_or_insert(cell);
    }
    fallback.map(|cell| lock_cell(cell, me))
}

fn lock_cell(cell: &CtxCell, me: u64) -> Held<'_> {
    // The mutex only guards the move in and out (no user code runs under it), so a poisoned
    // one still holds a valid state.
    let mut slot = cell.slot.lock().unwrap_or_else(|p| p.into_inner());
    let ctx = loop {
        if let Some(ctx) = slot.take() {
            break ctx;
        }
        slot = cell.freed.wait(slot).unwrap_or_else(|p| p.into_inner());
    };
    drop(slot);
    cell.owner.store(me, Relaxed);
    Held {
        cell,
        guard: CtxBox(Some(ctx)),
    }
}
