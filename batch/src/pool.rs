//! [`Pool`]: per-CPU contexts created once, and the calls that use them.

use std::cell::Cell;
use std::ops::{Deref, DerefMut};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::Relaxed};
use std::sync::{Condvar, Mutex};

use crate::config::{Codec, Level, Path, PoolBuilder, SoftwareEncoder};
use crate::cpu;
use crate::engine::{Job, Op};
use crate::error::Error;
use crate::hw;
use crate::io::{Inputs, Outputs};
use crate::result::{BatchSummary, UnitResult};
use crate::soft::SoftCodec;
use crate::stats::{CtxStats, FallbackCause, Stats, WqStats};

/// One per-CPU context: codec state and, on the hardware path, the descriptors, completion
/// records, AECS and bounce buffers. Created at pool build, dropped with the pool.
pub(crate) struct Context {
    /// Software codec state (used by the software path and by per-unit fallback).
    pub(crate) soft: SoftCodec,
    /// Scratch for verify-after-compress in software (`max_unit_size` bytes when verify is on).
    pub(crate) verify_buf: Box<[u8]>,
    /// Hardware side, when the pool has a device.
    pub(crate) hw: Option<hw::HwCtx>,
    /// Largest-first submission order of the current decompress chunk (hardware batch size).
    pub(crate) order: Box<[u32]>,
    /// Moving average of one software unit's time, in ns (hybrid decisions).
    pub(crate) sw_unit_ns: u64,
    /// Moving average of one hardware unit's time from submit to completion, in ns.
    pub(crate) hw_unit_ns: u64,
}

/// A context with its lock, its statistics and the token of the thread holding it.
///
/// The lock is "the context is in its cell": taking it moves the (boxed) context out under the
/// mutex, giving it back moves it in and wakes one waiter. The holder owns the context outright
/// while it works, so a [`Handle`] holding it can move to another thread (a `MutexGuard`
/// could not).
#[repr(align(128))]
pub(crate) struct CtxCell {
    /// Thread token of the holder (0 = nobody); lets a thread that already holds this context
    /// (through a live handle) pick another one instead of deadlocking on itself.
    owner: AtomicU64,
    /// Held by a handle the caller keeps (a `submit_*` that returned unfinished), not by a
    /// call that ends by itself: never worth waiting for.
    parked: AtomicBool,
    pub(crate) stats: CtxStats,
    slot: Mutex<Option<Box<Context>>>,
    freed: Condvar,
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

/// Configuration as resolved at build.
#[derive(Debug, Clone)]
pub(crate) struct Resolved {
    pub(crate) builder: PoolBuilder,
    /// Whether the hardware path is in use.
    pub(crate) hardware: bool,
    /// Why there is no hardware (Auto pools without a device), for `describe()`.
    pub(crate) no_device_reason: Option<String>,
    /// Threads a spread software batch may use (including the caller).
    pub(crate) spread_threads: usize,
}

/// Memory held by one context, per path (see [`Pool::context_bytes`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ContextBytes {
    /// Software part: codec state (compressor + decompressor), verify scratch, bookkeeping.
    pub software: usize,
    /// Of `software`, the codec state: deflate = iaa-fallback's compressor with the heap it
    /// reports, plus the decompressor handle (libdeflate's few KiB of C heap not included);
    /// zstd = zstd's own count of its contexts (C heap).
    pub codec_state: usize,
    /// Hardware part: descriptors, 64-byte-aligned completion records, AECS, input and output
    /// bounce buffers, slot bookkeeping (0 for a software pool).
    pub hardware: usize,
}

impl ContextBytes {
    /// Both parts.
    pub fn total(&self) -> usize {
        self.software + self.hardware
    }
}

/// A pool of per-CPU compression contexts. Build it once ([`Pool::builder`]), share it (it is
/// `Send + Sync`), drop it when done. Every call takes the context of the CPU it runs on and
/// holds it for the whole call; after the pool is built, calls allocate nothing (except
/// `spread_over_cores`, which starts scoped threads).
pub struct Pool {
    // Field order matters: contexts (whose hardware memory the device may still write) drop
    // before the backend (device model threads, portals).
    pub(crate) cells: Box<[CtxCell]>,
    pub(crate) wq_stats: Box<[WqStats]>,
    pub(crate) cfg: Resolved,
    pub(crate) bytes: ContextBytes,
    pub(crate) backend: Option<hw::Backend>,
}

impl Drop for Pool {
    fn drop(&mut self) {
        // One shared deadline for the device to finish quarantined slots of every context.
        let deadline = std::time::Instant::now() + hw::DROP_WAIT;
        for c in self.cells.iter_mut() {
            let slot = c.slot.get_mut().unwrap_or_else(|p| p.into_inner());
            if let Some(h) = slot.as_mut().and_then(|ctx| ctx.hw.as_mut()) {
                h.set_drop_deadline(deadline);
            }
        }
    }
}

impl std::fmt::Debug for Pool {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Pool")
            .field("path", &self.describe())
            .field("contexts", &self.cells.len())
            .finish()
    }
}

impl Pool {
    /// A builder with every option at its default.
    pub fn builder() -> PoolBuilder {
        PoolBuilder::default()
    }

    pub(crate) fn from_builder(b: PoolBuilder) -> Result<Pool, Error> {
        let ncpu = b
            .cpus
            .unwrap_or_else(|| cpu::possible_cpus().min(crate::config::MAX_CONTEXTS));
        let (backend, no_device_reason) = match b.path {
            Path::Software => (None, None),
            Path::Hardware | Path::Auto if b.codec == Codec::Zstd => {
                (None, Some("zstd has no hardware path".to_string()))
            }
            Path::Hardware => match hw::Backend::open(&b) {
                Ok(be) => (Some(be), None),
                Err(reason) => return Err(Error::NoDevice(reason)),
            },
            Path::Auto => match hw::Backend::open(&b) {
                Ok(be) => (Some(be), None),
                Err(reason) => (None, Some(reason)),
            },
        };
        let hardware = backend.is_some();
        let spread_threads = if b.spread_over_cores {
            std::thread::available_parallelism()
                .map_or(1, |n| n.get())
                .min(ncpu)
        } else {
            1
        };
        let cfg = Resolved {
            builder: b,
            hardware,
            no_device_reason,
            spread_threads,
        };
        // Every context is built before the pool exists; if one fails, the ones already built
        // are dropped with `cells` (their Drop is the cleanup), and nothing was shared yet.
        let mut cells = Vec::new();
        try_reserve(&mut cells, ncpu)?;
        let mut bytes = ContextBytes {
            software: 0,
            codec_state: 0,
            hardware: 0,
        };
        for c in 0..ncpu {
            let (ctx, b) = Context::new(&cfg, backend.as_ref(), c)
                .map_err(|reason| Error::ContextInit { cpu: c, reason })?;
            bytes = b;
            cells.push(CtxCell {
                owner: AtomicU64::new(0),
                parked: AtomicBool::new(false),
                stats: CtxStats::default(),
                slot: Mutex::new(Some(Box::new(ctx))),
                freed: Condvar::new(),
            });
        }
        let wqs = backend.as_ref().map_or(0, |be| be.wq_count());
        let wq_stats = (0..wqs).map(|_| WqStats::default()).collect();
        Ok(Pool {
            cells: cells.into_boxed_slice(),
            wq_stats,
            cfg,
            bytes,
            backend,
        })
    }

    /// Number of per-CPU contexts (one per possible CPU unless overridden).
    pub fn contexts(&self) -> usize {
        self.cells.len()
    }

    /// Whether calls go to the hardware (a device or the device model) first.
    pub fn is_hardware(&self) -> bool {
        self.cfg.hardware
    }

    /// The names of the hardware path's work queues (`wq1.0` on the kernel path), in the order
    /// of [`Stats::wq_submissions`](crate::Stats::wq_submissions); empty on the software path.
    pub fn work_queues(&self) -> Vec<String> {
        self.backend
            .as_ref()
            .map_or_else(Vec::new, |b| b.wq_names())
    }

    /// The codec of the pool.
    pub fn codec(&self) -> Codec {
        self.cfg.builder.codec
    }

    /// Whether hybrid batches are on (the caller takes units while the device is saturated).
    pub fn hybrid(&self) -> bool {
        self.cfg.builder.hybrid
    }

    /// Whether verify-after-compress is on.
    pub fn verify(&self) -> bool {
        self.cfg.builder.verify
    }

    /// The software compression level of the pool.
    pub fn level(&self) -> Level {
        self.cfg.builder.level
    }

    /// The software deflate encoder the pool's contexts use (`Auto` resolved for this build).
    pub fn software_encoder(&self) -> SoftwareEncoder {
        let b = &self.cfg.builder;
        b.encoder.resolve(b.codec, b.level)
    }

    /// One line saying which path is in use and why.
    pub fn describe(&self) -> String {
        match (&self.backend, &self.cfg.no_device_reason) {
            (Some(be), _) => format!("hardware: {}", be.name()),
            (None, Some(r)) => format!("software ({r})"),
            (None, None) => "software".to_string(),
        }
    }

    /// How many units one call runs in parallel: the hardware batch size (default 8) on the
    /// hardware path; on the software path 1, or the number of threads a batch is spread over
    /// with `spread_over_cores`. A sizing hint: calls accept any number of units.
    pub fn batch_size(&self) -> usize {
        if self.cfg.hardware {
            self.cfg.builder.hw_batch_size
        } else {
            self.cfg.spread_threads
        }
    }

    /// Memory of one context, per path. Every context of the pool costs the same.
    pub fn context_bytes(&self) -> ContextBytes {
        self.bytes
    }

    /// A snapshot of the statistics (sum over every context).
    pub fn stats(&self) -> Stats {
        let mut s = Stats {
            wq_submissions: vec![0; self.wq_stats.len()],
            wq_bytes: vec![0; self.wq_stats.len()],
            ..Stats::default()
        };
        for c in self.cells.iter() {
            c.stats.read_into(&mut s);
        }
        for (i, w) in self.wq_stats.iter().enumerate() {
            s.wq_submissions[i] = w.submissions.load(Relaxed);
            s.wq_bytes[i] = w.bytes.load(Relaxed);
        }
        s
    }

    /// The statistics of each context separately (index = context; per-WQ counts are in
    /// [`Pool::stats`] only).
    pub fn stats_per_context(&self) -> Vec<Stats> {
        self.cells
            .iter()
            .map(|c| {
                let mut s = Stats::default();
                c.stats.read_into(&mut s);
                s
            })
            .collect()
    }

    /// Take a free context: the one of the CPU the caller runs on, else the next free one.
    /// When none is free, wait (in short slices, rescanning) for one held by a call that ends
    /// by itself; never for one a live handle holds (this thread's or another's), which may
    /// be released only after this call returns. `AllContextsHeld` when live handles hold
    /// every context.
    pub(crate) fn lock_current(&self) -> Result<Held<'_>, Error> {
        let me = thread_token();
        let n = self.cells.len();
        let start = cpu::current_cpu(n);
        loop {
            let mut busy = None;
            for k in 0..n {
                let cell = &self.cells[(start + k) % n];
                if cell.owner.load(Relaxed) == me {
                    continue;
                }
                if let Some(h) = self.try_cell(cell, me, None) {
                    return Ok(h);
                }
                if !cell.parked.load(Relaxed) {
                    busy.get_or_insert(cell);
                }
            }
            let Some(cell) = busy else {
                return Err(Error::AllContextsHeld(n));
            };
            if let Some(h) = self.try_cell(cell, me, Some(WAIT_SLICE)) {
                return Ok(h);
            }
        }
    }

    /// Take `cell`'s context if it is there, waiting up to `wait` for it to come back.
    fn try_cell<'p>(
        &'p self,
        cell: &'p CtxCell,
        me: u64,
        wait: Option<std::time::Duration>,
    ) -> Option<Held<'p>> {
        // The mutex only guards the move in and out (no user code runs under it), so a
        // poisoned one still holds a valid state.
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

    /// Lock a context for a spread helper thread: any free one not held by `caller`, else
    /// block on the first one not held by `caller`; `None` if `caller` holds them all.
    pub(crate) fn lock_helper(&self, first: usize, caller: u64) -> Option<Held<'_>> {
        let me = thread_token();
        let n = self.cells.len();
        let mut fallback = None;
        for k in 0..n {
            let cell = &self.cells[(first + k) % n];
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
        fallback.map(|cell| self.lock_cell(cell, me))
    }

    fn lock_cell<'p>(&'p self, cell: &'p CtxCell, me: u64) -> Held<'p> {
        // The mutex only guards the move in and out (no user code runs under it), so a
        // poisoned one still holds a valid state.
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

    /// Start compressing `inputs` into `outputs`: validates the shapes, takes a free context
    /// (this CPU's first, else any other) and submits the first units; the returned handle
    /// finishes the job ([`Handle::poll`], [`Handle::wait`]). The handle borrows every
    /// buffer, so nothing can touch them until it is done or dropped.
    ///
    /// While the handle lives it holds its context; other calls, from any thread, take
    /// another one and never wait for it. When live handles hold every context, a new call
    /// fails with [`Error::AllContextsHeld`]. On the software path the units run inside
    /// [`Handle::poll`] (one per call) and [`Handle::wait`]: a handle nobody polls makes no
    /// progress.
    pub fn submit_compress<'a, 'b: 'a>(
        &'a self,
        inputs: impl Into<Inputs<'a>>,
        outputs: impl Into<Outputs<'a, 'b>>,
        results: &'a mut [UnitResult],
    ) -> Result<Handle<'a, 'b>, Error> {
        self.submit_with(
            Op::Compress,
            inputs.into(),
            outputs.into(),
            results,
            None,
            true,
        )
    }

    /// Start decompressing `inputs` (one raw-deflate or zstd unit each) into `outputs`; the
    /// handle holds its context as [`Pool::submit_compress`]'s does.
    pub fn submit_decompress<'a, 'b: 'a>(
        &'a self,
        inputs: impl Into<Inputs<'a>>,
        outputs: impl Into<Outputs<'a, 'b>>,
        results: &'a mut [UnitResult],
    ) -> Result<Handle<'a, 'b>, Error> {
        self.submit_with(
            Op::Decompress,
            inputs.into(),
            outputs.into(),
            results,
            None,
            true,
        )
    }

    /// [`Pool::submit_decompress`] that also checks each unit's output against
    /// `expected_crcs[i]` (CRC-32, gzip/zlib): a unit that decodes to other bytes ends
    /// [`crate::UnitError::CrcMismatch`] instead of `Done`, on every path.
    pub fn submit_decompress_checked<'a, 'b: 'a>(
        &'a self,
        inputs: impl Into<Inputs<'a>>,
        outputs: impl Into<Outputs<'a, 'b>>,
        expected_crcs: &'a [u32],
        results: &'a mut [UnitResult],
    ) -> Result<Handle<'a, 'b>, Error> {
        let inputs = inputs.into();
        if expected_crcs.len() < inputs.count() {
            return Err(Error::TooFewCrcs {
                units: inputs.count(),
                crcs: expected_crcs.len(),
            });
        }
        self.submit_with(
            Op::Decompress,
            inputs,
            outputs.into(),
            results,
            Some(expected_crcs),
            true,
        )
    }

    /// The shared start of every call. `park`: the handle goes back to the caller (a
    /// `submit_*`), so other calls must not wait for its context; false for the blocking
    /// calls, which finish their handle at once.
    fn submit_with<'a, 'b: 'a>(
        &'a self,
        op: Op,
        inputs: Inputs<'a>,
        outputs: Outputs<'a, 'b>,
        results: &'a mut [UnitResult],
        expected: Option<&'a [u32]>,
        park: bool,
    ) -> Result<Handle<'a, 'b>, Error> {
        inputs.validate()?;
        outputs.validate()?;
        let n = inputs.count();
        if outputs.count() < n {
            return Err(Error::TooFewSlots {
                units: n,
                slots: outputs.count(),
            });
        }
        if results.len() < n {
            return Err(Error::TooFewResults {
                units: n,
                results: results.len(),
            });
        }
        let b = &self.cfg.builder;
        if op == Op::Compress && b.verify {
            for i in 0..n {
                let len = inputs.len_of(i);
                if len > b.max_unit_size {
                    return Err(Error::VerifyUnitTooLarge {
                        len,
                        max: b.max_unit_size,
                    });
                }
            }
        }
        for r in results[..n].iter_mut() {
            *r = UnitResult::Pending;
        }
        let held = self.lock_current()?;
        held.cell.stats.batches.fetch_add(1, Relaxed);
        let mut job = Job::new(op, inputs, outputs, &mut results[..n]);
        job.expected = expected;
        let mut h = Handle {
            pool: self,
            held: Some(held),
            job,
        };
        h.start();
        if let Some(held) = h.held.as_ref().filter(|_| park) {
            held.cell.parked.store(true, Relaxed);
        }
        Ok(h)
    }

    /// Compress `src` cut into units of `unit_size` bytes (the last may be shorter), unit `i`
    /// into output slot `i`; `results[i]` says what happened to it. Blocks until every unit is
    /// done. `Err` only for a malformed call (then no slot or result was touched).
    pub fn compress_batch<'a, 'b: 'a>(
        &'a self,
        src: &'a [u8],
        unit_size: usize,
        dst: impl Into<Outputs<'a, 'b>>,
        results: &'a mut [UnitResult],
    ) -> Result<BatchSummary, Error> {
        Ok(self
            .submit_with(
                Op::Compress,
                Inputs::units(src, unit_size),
                dst.into(),
                results,
                None,
                false,
            )?
            .wait())
    }

    /// Compress a list of units (slices, or a flat buffer with lengths), unit `i` into slot `i`.
    pub fn compress_units<'a, 'b: 'a>(
        &'a self,
        inputs: impl Into<Inputs<'a>>,
        dst: impl Into<Outputs<'a, 'b>>,
        results: &'a mut [UnitResult],
    ) -> Result<BatchSummary, Error> {
        Ok(self
            .submit_with(
                Op::Compress,
                inputs.into(),
                dst.into(),
                results,
                None,
                false,
            )?
            .wait())
    }

    /// Decompress N units, unit `i` into slot `i` (the hardware path submits the largest
    /// inputs of each batch first). Blocks until every unit is done.
    pub fn decompress_batch<'a, 'b: 'a>(
        &'a self,
        inputs: impl Into<Inputs<'a>>,
        dst: impl Into<Outputs<'a, 'b>>,
        results: &'a mut [UnitResult],
    ) -> Result<BatchSummary, Error> {
        Ok(self
            .submit_with(
                Op::Decompress,
                inputs.into(),
                dst.into(),
                results,
                None,
                false,
            )?
            .wait())
    }

    /// [`Pool::decompress_batch`] with the CRC-32 each unit's output must have
    /// ([`Pool::submit_decompress_checked`]).
    pub fn decompress_batch_checked<'a, 'b: 'a>(
        &'a self,
        inputs: impl Into<Inputs<'a>>,
        dst: impl Into<Outputs<'a, 'b>>,
        expected_crcs: &'a [u32],
        results: &'a mut [UnitResult],
    ) -> Result<BatchSummary, Error> {
        let inputs = inputs.into();
        if expected_crcs.len() < inputs.count() {
            return Err(Error::TooFewCrcs {
                units: inputs.count(),
                crcs: expected_crcs.len(),
            });
        }
        Ok(self
            .submit_with(
                Op::Decompress,
                inputs,
                dst.into(),
                results,
                Some(expected_crcs),
                false,
            )?
            .wait())
    }

    /// Compress one buffer into `dst`: a batch of one unit. An empty `src` is `Incompressible`.
    pub fn compress(&self, src: &[u8], dst: &mut [u8]) -> Result<UnitResult, Error> {
        if src.is_empty() {
            return Ok(UnitResult::Incompressible);
        }
        let mut r = [UnitResult::Pending];
        let mut slots = [dst];
        self.compress_batch(src, src.len(), &mut slots, &mut r)?;
        Ok(r[0])
    }

    /// Decompress one unit into `dst`: a batch of one unit.
    pub fn decompress(&self, src: &[u8], dst: &mut [u8]) -> Result<UnitResult, Error> {
        let ins = [src];
        let mut r = [UnitResult::Pending];
        let mut slots = [dst];
        self.decompress_batch(&ins, &mut slots, &mut r)?;
        Ok(r[0])
    }
}

/// An unfinished call. It holds the pool context and borrows the caller's buffers; drive it
/// with [`Handle::poll`] or finish it with [`Handle::wait`]. Dropping it unfinished marks the
/// unfinished units [`crate::UnitError::Abandoned`] and quarantines their hardware slots (the
/// device only ever writes into the context's own buffers, never into the caller's).
///
/// A handle is `Send`: it may be polled, waited or dropped on another thread than the one that
/// submitted it (it owns its context while alive). A thread that polls it becomes its holder
/// for deadlock avoidance: a new call from that thread takes another context.
pub struct Handle<'a, 'b> {
    pool: &'a Pool,
    held: Option<Held<'a>>,
    job: Job<'a, 'b>,
}

impl std::fmt::Debug for Handle<'_, '_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Handle")
            .field("summary", &self.job.summary)
            .field("done", &self.is_done())
            .finish()
    }
}

impl<'a, 'b> Handle<'a, 'b> {
    fn start(&mut self) {
        if let Some(held) = self.held.as_mut() {
            self.job.start(self.pool, held);
        }
        self.release_if_done();
    }

    fn release_if_done(&mut self) {
        if self.job.is_done() {
            self.held = None;
        }
    }

    /// Make progress without blocking for long (at most one software unit, or one pass over
    /// the hardware completion records). Returns true once every unit has a result.
    pub fn poll(&mut self) -> bool {
        if let Some(held) = self.held.as_mut() {
            held.cell.owner.store(thread_token(), Relaxed);
            self.job.step(self.pool, held);
        }
        self.release_if_done();
        self.job.is_done()
    }

    /// Whether every unit has a result.
    pub fn is_done(&self) -> bool {
        self.job.is_done()
    }

    /// Units finished so far.
    pub fn summary(&self) -> BatchSummary {
        self.job.summary
    }

    /// Finish every unit and return the totals.
    pub fn wait(mut self) -> BatchSummary {
        if let Some(held) = self.held.as_mut() {
            if self.pool.cfg.spread_threads > 1 && !self.pool.cfg.hardware {
                self.job.spread_rest(self.pool, held);
            }
            self.job.run_to_end(self.pool, held);
        }
        self.held = None;
        self.job.summary
    }
}

impl Drop for Handle<'_, '_> {
    fn drop(&mut self) {
        if let Some(held) = self.held.as_mut() {
            if !self.job.is_done() {
                self.job.abandon(self.pool, held);
            }
        }
    }
}

impl Context {
    /// Build one context; returns it with its memory figures.
    fn new(
        cfg: &Resolved,
        backend: Option<&hw::Backend>,
        cpu: usize,
    ) -> Result<(Context, ContextBytes), String> {
        let b = &cfg.builder;
        let soft = SoftCodec::new(
            b.codec,
            b.level,
            b.encoder.resolve(b.codec, b.level),
            b.max_unit_size,
        )?;
        let verify_len = if b.verify { b.max_unit_size } else { 0 };
        let verify_buf = try_zeroed(verify_len).map_err(|e| e.to_string())?;
        let hw = match backend {
            Some(be) => Some(be.new_context(cpu, b)?),
            None => None,
        };
        let order_len = if hw.is_some() { b.hw_batch_size } else { 0 };
        let order = try_zeroed(order_len).map_err(|e| e.to_string())?;
        let codec_state = soft.state_bytes();
        let software = codec_state
            + verify_len
            + std::mem::size_of::<CtxCell>()
            + std::mem::size_of::<Context>();
        let hardware = hw.as_ref().map_or(0, |h| h.bytes()) + order_len * 4;
        let ctx = Context {
            soft,
            verify_buf,
            hw,
            order,
            sw_unit_ns: 0,
            hw_unit_ns: 0,
        };
        Ok((
            ctx,
            ContextBytes {
                software,
                codec_state,
                hardware,
            },
        ))
    }
}

/// Reserve room for `n` more elements, or `Error::OutOfMemory` (never an abort).
fn try_reserve<T>(v: &mut Vec<T>, n: usize) -> Result<(), Error> {
    v.try_reserve_exact(n).map_err(|_| Error::OutOfMemory {
        bytes: n.saturating_mul(std::mem::size_of::<T>()),
    })
}

/// `n` zeroed (default) elements, or `Error::OutOfMemory`.
fn try_zeroed<T: Default + Clone>(n: usize) -> Result<Box<[T]>, Error> {
    let mut v = Vec::new();
    try_reserve(&mut v, n)?;
    v.resize(n, T::default());
    Ok(v.into_boxed_slice())
}

/// Record a fallback and its cause.
pub(crate) fn count_fallback(cell: &CtxCell, cause: FallbackCause) {
    cell.stats.fallback(cause);
}
