//! [`Pool`]: per-CPU contexts created once, and the calls that use them.

use std::sync::atomic::Ordering::Relaxed;

use crate::config::{Codec, HwMode, Level, Path, PoolBuilder, SoftwareEncoder};
use crate::context::{lock_current, thread_token, Context, ContextBytes, CtxCell, Held, Lane};
use crate::cpu;
use crate::device;
use crate::engine::{Env, Job};
use crate::error::Error;
use crate::io::{Inputs, Op, Outputs};
use crate::result::{BatchSummary, UnitResult};
use crate::stats::{Stats, WqStats};

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

impl PoolBuilder {
    /// Build the pool: check the configuration, discover the device (unless
    /// `Path::Software`) and allocate every per-CPU context.
    pub fn build(self) -> Result<Pool, Error> {
        self.check()?;
        Pool::from_builder(self)
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
    pub(crate) backend: Option<device::Backend>,
    /// The DSA of the DSA operations, if any.
    pub(crate) dsa: Option<crate::dsa::DsaBackend>,
    /// Why the DSA operations run in software although a DSA was looked for.
    pub(crate) dsa_missing: Option<String>,
}

impl Drop for Pool {
    fn drop(&mut self) {
        // One shared deadline for the device to finish quarantined slots of every context.
        let deadline = std::time::Instant::now() + device::DROP_WAIT;
        for c in self.cells.iter_mut() {
            if let Some(Context {
                lane: Lane::Hardware(h),
                ..
            }) = c.get_mut()
            {
                h.mem.set_drop_deadline(deadline);
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
            Path::Hardware => match device::Backend::open(&b) {
                Ok(be) => (Some(be), None),
                Err(reason) => return Err(Error::NoDevice(reason)),
            },
            Path::Auto => match device::Backend::open(&b) {
                Ok(be) => (Some(be), None),
                Err(reason) => (None, Some(reason)),
            },
        };
        let hardware = backend.is_some();
        let (dsa, dsa_missing) = match crate::dsa::DsaBackend::open(&b)? {
            crate::dsa::DsaOpen::Software => (None, None),
            crate::dsa::DsaOpen::Missing(why) => (None, Some(why)),
            crate::dsa::DsaOpen::Device(d) if !d.in_place() => (
                None,
                Some(format!(
                    "{}: the device cannot work on process memory in place (no PASID)",
                    d.name()
                )),
            ),
            crate::dsa::DsaOpen::Device(d) => (Some(d), None),
        };
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
            let (ctx, b) = Context::new(&cfg.builder, backend.as_ref(), dsa.as_ref(), c)
                .map_err(|reason| Error::ContextInit { cpu: c, reason })?;
            bytes = b;
            cells.push(CtxCell::new(ctx));
        }
        let wqs = backend.as_ref().map_or(0, |be| be.wq_count());
        let wq_stats = (0..wqs).map(|_| WqStats::default()).collect();
        Ok(Pool {
            cells: cells.into_boxed_slice(),
            wq_stats,
            cfg,
            bytes,
            backend,
            dsa,
            dsa_missing,
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

    /// How the hardware path codes each unit.
    pub fn hw_mode(&self) -> HwMode {
        self.cfg.builder.hw_mode
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

    /// The names of the DSA work queues the DSA operations ([`Pool::crc32c`] and the others)
    /// use (`wq2.0` on the kernel path); empty when they run in software.
    pub fn dsa_work_queues(&self) -> Vec<String> {
        self.dsa.as_ref().map_or_else(Vec::new, |d| d.wq_names())
    }

    /// Whether the DSA operations go to a DSA (or the DSA model) first.
    pub fn has_dsa(&self) -> bool {
        self.dsa.is_some()
    }

    /// One line saying which path is in use and why, for compression and for the DSA
    /// operations.
    pub fn describe(&self) -> String {
        let dsa = match (&self.dsa, &self.dsa_missing) {
            (Some(d), _) => format!("DSA operations: {}", d.name()),
            (None, Some(why)) => format!("DSA operations: software ({why})"),
            (None, None) => "DSA operations: software".to_string(),
        };
        format!("{}; {dsa}", self.describe_compression())
    }

    fn describe_compression(&self) -> String {
        match (&self.backend, &self.cfg.no_device_reason) {
            (Some(be), _) => {
                let hg = be.header_gen();
                let codes = match (self.cfg.builder.hw_mode, hg) {
                    (HwMode::Auto, true) => {
                        "dynamic Huffman codes generated by the device (IAA 2.0, one pass) for \
                         units up to 4 KiB, fixed codes above"
                            .to_string()
                    }
                    (HwMode::Auto, false) | (HwMode::Fixed, _) => "fixed Huffman codes".into(),
                    (HwMode::Dynamic, true) => "dynamic Huffman codes: generated by the device \
                         (IAA 2.0, one pass) up to 4 KiB, a statistics pass then the \
                         compression with each unit's own code above"
                        .into(),
                    (HwMode::Dynamic, false) => "dynamic Huffman codes: a statistics pass, then \
                         the compression with each unit's own code (this IAA does not generate \
                         headers)"
                        .into(),
                    (HwMode::Trained, _) => be.trained_note().unwrap_or_default(),
                };
                format!("hardware: {}; {codes}", be.name())
            }
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

    /// What a job needs of the pool.
    pub(crate) fn env(&self) -> Env<'_> {
        Env {
            b: &self.cfg.builder,
            backend: self.backend.as_ref(),
            wq_stats: &self.wq_stats,
            no_device: self.cfg.no_device_reason.is_some(),
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
        let held = lock_current(&self.cells)?;
        held.cell.stats.batches.fetch_add(1, Relaxed);
        let job = Job::new(op, inputs, outputs, &mut results[..n], expected);
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
            self.job.start(&self.pool.env(), held);
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
            self.job.step(&self.pool.env(), held);
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
            let env = self.pool.env();
            let threads = self.pool.cfg.spread_threads;
            if threads > 1 && !self.pool.cfg.hardware {
                crate::spread::spread_rest(&mut self.job, &env, &self.pool.cells, threads, held);
            }
            self.job.run_to_end(&env, held);
        }
        self.held = None;
        self.job.summary
    }
}

impl Drop for Handle<'_, '_> {
    fn drop(&mut self) {
        if let Some(held) = self.held.as_mut() {
            if !self.job.is_done() {
                self.job.abandon(held);
            }
        }
    }
}

/// Reserve room for `n` more elements, or `Error::OutOfMemory` (never an abort).
fn try_reserve<T>(v: &mut Vec<T>, n: usize) -> Result<(), Error> {
    v.try_reserve_exact(n).map_err(|_| Error::OutOfMemory {
        bytes: n.saturating_mul(std::mem::size_of::<T>()),
    })
}
