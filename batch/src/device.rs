//! The device side of the pool: the backend (the work queues of a device or of the device
//! model, and how a unit chooses one) and each context's hardware memory ([`HwCtx`]: the job
//! memory with its slot table, mapped through the IOMMU in VFIO mode, and the units in flight).
//!
//! The device writes only the context's own memory, never the caller's: outputs are copied out
//! after completion. Inputs are copied into the slot's input buffer, except where the device
//! reads the process's memory (PASID/SVA, the model), where descriptors name them in place. A
//! unit that times out is therefore abandoned safely: its slot stays quarantined until the
//! device writes the record, and the caller's buffers are free the moment the call returns.

use std::sync::Arc;
use std::time::{Duration, Instant};

use iaa_driver::vfio::{IommuMapper, MappedJobMemory};
use iaa_wq::{IaaJobMemory, Layout, Slot, WorkQueue};

use crate::config::{Device, HwMode, PoolBuilder, WqChoice};

/// The device the pool runs on (opened by `iaa_driver::open`) and how units choose its WQs.
pub(crate) struct Backend {
    dev: iaa_driver::open::Backend,
    choice: WqChoice,
    /// `HwMode::Trained`: the pool's code, installed in every context's table; or why there
    /// is none (the contexts keep the fixed code).
    trained: Option<Result<iaa_descriptors::CompressAecs, String>>,
    /// `HwMode::Trained` without a sample: the code learnt from the first units, once built.
    learned: std::sync::OnceLock<iaa_descriptors::CompressAecs>,
    /// The statistics summed so far and the input bytes they cover (learning only).
    learning: std::sync::Mutex<(iaa_descriptors::Histogram, usize)>,
}

impl Backend {
    /// Open the device the builder asks for; `Err` says why there is none.
    pub(crate) fn open(b: &PoolBuilder) -> Result<Backend, String> {
        use iaa_driver::open::{self, Target};
        #[cfg(feature = "model")]
        iaa_model::register();
        let dev = match &b.device {
            Device::Auto => open::open(&Target::Auto),
            Device::Named(n) => open::open(&Target::Named(n.clone())),
            Device::Kernel { sys_root, dev_root } => open::open(&Target::Kernel {
                sys_root: sys_root.clone(),
                dev_root: dev_root.clone(),
            }),
            Device::Vfio(bdf) => open::open(&Target::Vfio(bdf.clone())),
            #[cfg(feature = "model")]
            Device::Model(o) => return Self::checked(model_backend(o)?, b),
        };
        let dev = dev.map_err(|e| match &b.device {
            Device::Auto => format!("{e} (IAA_DEVICE=model selects the device model)"),
            _ => e.to_string(),
        })?;
        Self::checked(dev, b)
    }

    fn checked(dev: iaa_driver::open::Backend, b: &PoolBuilder) -> Result<Backend, String> {
        let n = dev.wqs().len();
        if n == 0 {
            return Err(format!("{}: no work queue", dev.name()));
        }
        if let WqChoice::Index(i) = b.wq {
            if i >= n {
                return Err(format!("WQ {i} asked for, {} has {n}", dev.name()));
            }
        }
        let mut be = Backend {
            dev,
            choice: b.wq,
            trained: None,
            learned: std::sync::OnceLock::new(),
            learning: std::sync::Mutex::new((iaa_descriptors::Histogram::new(), 0)),
        };
        if let (HwMode::Trained, Some(sample)) = (b.hw_mode, &b.training_sample) {
            be.trained = Some(be.train(b, &sample.0));
        }
        Ok(be)
    }

    /// The pool's trained code: the device's statistics of `sample` (in pieces of at most
    /// 64 KiB, on WQ 0), summed, every symbol coded.
    fn train(
        &self,
        b: &PoolBuilder,
        sample: &[u8],
    ) -> Result<iaa_descriptors::CompressAecs, String> {
        let tb = b
            .clone()
            .hw_mode(HwMode::Dynamic)
            .hw_batch_size(1)
            .max_unit_size(65536);
        let mut hw = self.new_context(0, &tb)?;
        let mut sum = iaa_descriptors::Histogram::new();
        let wqs = self.wqs();
        for piece in sample.chunks(65536) {
            let slot = hw.mem.claim(piece.len()).ok_or("no slot for training")?;
            let job = iaa_wq::IaaJob::Stats { len: piece.len() };
            let deadline = b.budgets.completion_timeout.max(Duration::from_secs(1));
            let ran = hw.run_one(
                slot,
                job,
                piece,
                false,
                (wqs, 0, b.budgets.submit_retries),
                deadline,
            );
            let rec = match ran {
                Ok((rec, _)) => rec,
                Err(why) => {
                    hw.mem.release(slot);
                    return Err(format!("training statistics pass: {why}"));
                }
            };
            let class = iaa_descriptors::iaa_class(rec.status, rec.error_code);
            let hist = hw.mem.histogram(slot);
            hw.mem.release(slot);
            match (class, hist) {
                (iaa_descriptors::StatusClass::Done, Some(h)) => sum.add(&h),
                _ => {
                    return Err(format!(
                        "training statistics pass failed (status {:#04x})",
                        rec.status
                    ))
                }
            }
        }
        dynamic_table(&sum, iaa_descriptors::Coverage::AllSymbols)
            .ok_or_else(|| "no code from the training statistics".into())
    }

    /// Whether the device generates dynamic headers itself (IAA 2.0, `IaaCap::HEADER_GEN`).
    pub(crate) fn header_gen(&self) -> bool {
        iaa_descriptors::IaaCap(self.dev.iaa_cap()).contains(iaa_descriptors::IaaCap::HEADER_GEN)
    }

    /// Whether this `HwMode::Trained` pool learns its code from its first units (no sample).
    pub(crate) fn learns(&self, b: &PoolBuilder) -> bool {
        b.hw_mode == HwMode::Trained && self.trained.is_none()
    }

    /// Learning: add one unit's statistics (`bytes` of input); the code is built once the sum
    /// covers `LEARN_BYTES`. The lock is taken once per unit, only while learning.
    pub(crate) fn learn(&self, h: &iaa_descriptors::Histogram, bytes: usize) {
        if self.learned.get().is_some() {
            return;
        }
        let mut l = self.learning.lock().unwrap_or_else(|p| p.into_inner());
        l.0.add(h);
        l.1 += bytes;
        if l.1 >= crate::config::LEARN_BYTES {
            if let Some(t) = dynamic_table(&l.0, iaa_descriptors::Coverage::AllSymbols) {
                let _ = self.learned.set(t);
            }
        }
    }

    /// How context `hw` codes the units it admits now: a learning context switches to the
    /// learnt code as soon as it exists and nothing of its own is in flight; until then its
    /// units take the two dynamic passes (statistics forced even where the device generates
    /// headers, since the sum needs them). Returns the mode and whether to use header
    /// generation.
    pub(crate) fn mode_for(&self, b: &PoolBuilder, hw: &mut HwCtx) -> (HwMode, bool) {
        if b.hw_mode != HwMode::Trained || hw.trained_ready {
            return (b.hw_mode, self.header_gen());
        }
        if let Some(t) = self.learned.get() {
            if hw.mem.set_table(t) {
                hw.trained_ready = true;
                return (HwMode::Trained, self.header_gen());
            }
        }
        (HwMode::Dynamic, false)
    }

    /// What the pool's trained code is (`HwMode::Trained`), for `describe()`.
    pub(crate) fn trained_note(&self) -> Option<String> {
        match &self.trained {
            None if self.learned.get().is_some() => {
                Some("one dynamic code learnt from the first units, for every unit".into())
            }
            None => Some(format!(
                "learning one dynamic code from the first {} KiB of units (each its own \
                 dynamic code until then)",
                crate::config::LEARN_BYTES >> 10
            )),
            Some(Ok(_)) => Some("one trained dynamic code for every unit".into()),
            Some(Err(why)) => Some(format!("no trained code ({why}): fixed codes")),
        }
    }

    pub(crate) fn new_context(&self, cpu: usize, b: &PoolBuilder) -> Result<HwCtx, String> {
        let mut hw = HwCtx::new(
            cpu,
            b,
            self.dev.mapper().cloned(),
            self.dev.shares_address_space(),
        )?;
        if let Some(Ok(table)) = &self.trained {
            hw.mem.set_table(table);
        }
        // A pool with a sample (its code, or the fixed codes if building it failed) never
        // learns.
        hw.trained_ready = self.trained.is_some();
        Ok(hw)
    }

    /// The WQ unit number `seq` of a call from `cpu` is submitted to (`op`: compress or
    /// decompress, as the socket policy tells them apart).
    pub(crate) fn pick(&self, op: iaa_driver::choice::Op, cpu: usize, seq: usize) -> usize {
        match self.choice {
            WqChoice::Index(i) => i,
            WqChoice::Socket => self.dev.pick(cpu, op, seq),
        }
    }

    /// The work queues.
    pub(crate) fn wqs(&self) -> &[WorkQueue] {
        self.dev.wqs()
    }

    pub(crate) fn wq_names(&self) -> Vec<String> {
        self.dev.info().iter().map(|w| w.name.clone()).collect()
    }

    pub(crate) fn wq_count(&self) -> usize {
        self.dev.wqs().len()
    }

    /// What the device is, its WQs and any notes (a socket borrowing another's IAA).
    pub(crate) fn name(&self) -> String {
        let names: Vec<&str> = self.dev.info().iter().map(|w| w.name.as_str()).collect();
        let mut s = format!(
            "{}, {} WQ(s): {}",
            self.dev.name(),
            names.len(),
            names.join(" ")
        );
        if self.dev.mapper().is_some() {
            s.push_str(", VFIO user mode (every buffer mapped through the IOMMU)");
        }
        for n in self.dev.notes() {
            s.push_str("; ");
            s.push_str(n);
        }
        s
    }
}

/// A small slot holds one page: the unit size of zswap and of most pages a storage engine
/// compresses.
pub(crate) const SMALL_SLOT: usize = 4096;

/// The context's slots: `hw_batch_size` small ones of `min(max_unit_size, 4 KiB)` bytes, and
/// when `max_unit_size` is larger, as many slots of `max_unit_size` bytes as
/// `hw_large_budget` holds (at most `hw_batch_size`). Returns (small cap, large count, large
/// cap).
pub(crate) fn slot_sizes(b: &PoolBuilder) -> (usize, usize, usize) {
    let small = b.max_unit_size.min(SMALL_SLOT);
    if b.max_unit_size <= SMALL_SLOT {
        return (small, 0, 0);
    }
    let large = (b.hw_large_budget / b.max_unit_size).min(b.hw_batch_size);
    (small, large, if large > 0 { b.max_unit_size } else { 0 })
}

/// A device model started for one pool.
#[cfg(feature = "model")]
fn model_backend(o: &crate::config::ModelOptions) -> Result<iaa_driver::open::Backend, String> {
    use iaa_model::{Latency, ModelConfig, ModelDevice, ModelWqConfig};
    if o.engines > 64
        || !(1..=8).contains(&o.wqs)
        || !(1..=128).contains(&o.wq_size)
        || o.replay_mib > 65536
    {
        return Err(
            "ModelOptions out of range (engines 0..=64, wqs 1..=8, wq_size 1..=128, \
                    replay_mib 0..=65536)"
                .into(),
        );
    }
    let wq = if o.dedicated {
        ModelWqConfig::dedicated(o.wq_size)
    } else {
        ModelWqConfig::shared(o.wq_size)
    };
    let cfg = ModelConfig {
        wqs: vec![wq; o.wqs],
        latency: Latency {
            fixed_ns: o.fixed_ns,
            ns_per_kib: o.ns_per_kib,
        },
        require_bounce: o.require_bounce,
        skew_bytes_completed: o.skew_bytes_completed,
        iaa_cap: if o.iaa2 { iaa_model::IAA2_CAP } else { 0 },
        replay: (o.replay_mib > 0).then(|| iaa_model::Replay {
            max_bytes: o.replay_mib.saturating_mul(1 << 20),
        }),
        ..ModelConfig::iaa(o.engines)
    };
    let dev = ModelDevice::start(cfg).map_err(|e| format!("device model: {e}"))?;
    iaa_model::backend(dev, "device model").map_err(|e| format!("device model: {e}"))
}

/// What a slot in flight is doing.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Phase {
    /// Dynamic mode's first pass: the histogram of the input; the compression that follows
    /// may write at most `max_out` bytes.
    Stats {
        max_out: usize,
    },
    Compress,
    /// Compression with the pool's trained code; a unit it does not shrink is compressed again
    /// with the fixed codes (at most `max_out` bytes), once.
    CompressTrained {
        max_out: usize,
    },
    /// Decompress of the slot's own output with output suppressed; `crc` is what the
    /// compression reported, `len` the compressed length.
    Verify {
        crc: u32,
        len: usize,
    },
    Decompress,
}

/// A unit on the device: which one, doing what, since when, on which WQ.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Flight {
    pub(crate) slot: Slot,
    pub(crate) unit: usize,
    pub(crate) phase: Phase,
    pub(crate) t0: Instant,
    /// Already resubmitted once after a page fault.
    pub(crate) resubmitted: bool,
    pub(crate) wq: usize,
}

/// The device memory of one context: plain, or mapped through an IOMMU (VFIO mode).
pub(crate) enum JobMem {
    Plain(IaaJobMemory),
    Mapped(MappedJobMemory),
}

impl std::ops::Deref for JobMem {
    type Target = IaaJobMemory;
    fn deref(&self) -> &IaaJobMemory {
        match self {
            JobMem::Plain(m) => m,
            JobMem::Mapped(m) => m,
        }
    }
}

impl std::ops::DerefMut for JobMem {
    fn deref_mut(&mut self) -> &mut IaaJobMemory {
        match self {
            JobMem::Plain(m) => m,
            JobMem::Mapped(m) => m,
        }
    }
}

/// The hardware side of one context: its job memory (slots of record and bounce buffers, and
/// their state table, see [`IaaJobMemory`]), the units in flight by slot, and the figures the
/// hybrid decisions use.
pub(crate) struct HwCtx {
    /// Index of the context in the pool (its CPU when the call's CPU is unknown).
    pub(crate) index: usize,
    pub(crate) mem: JobMem,
    /// The unit in flight in each slot, by slot index.
    pub(crate) flights: Box<[Option<Flight>]>,
    /// Descriptors name the caller's input in place (the device reads process memory).
    pub(crate) zero_copy: bool,
    /// Largest-first submission order of the current decompress chunk (`hw_batch_size`).
    pub(crate) order: Box<[u32]>,
    /// Moving average of one software unit's time, in ns (hybrid decisions).
    pub(crate) sw_unit_ns: u64,
    /// Moving average of one hardware unit's time from submit to completion, in ns.
    pub(crate) hw_unit_ns: u64,
    /// `HwMode::Trained`: the context's table holds the pool's code (its sample's, or the one
    /// learnt from the first units); false while the pool is still learning.
    pub(crate) trained_ready: bool,
}

impl HwCtx {
    /// `mapper`: VFIO mode, where the device reaches memory only through the IOMMU: the
    /// memory it touches (records, AECS, bounce buffers) gets pages of its own, mapped at
    /// IOVA = process address, so the descriptors need no translation.
    fn new(
        index: usize,
        b: &PoolBuilder,
        mapper: Option<Arc<dyn IommuMapper>>,
        zero_copy: bool,
    ) -> Result<HwCtx, String> {
        let (small_cap, large, large_cap) = slot_sizes(b);
        let mem = IaaJobMemory::with_layout(Layout {
            slots: b.hw_batch_size,
            buf_cap: small_cap,
            large,
            large_cap,
            pages: mapper.is_some(),
            copy_inputs: !zero_copy,
            // Dynamic mode, and a trained pool that learns its code from dynamic passes.
            slot_tables: b.hw_mode == HwMode::Dynamic
                || (b.hw_mode == HwMode::Trained && b.training_sample.is_none()),
        })
        .map_err(|e| e.to_string())?;
        let slots = mem.slots();
        let mem = match mapper {
            Some(m) => JobMem::Mapped(
                MappedJobMemory::new(mem, m)
                    .map_err(|e| format!("IOMMU map of the context memory: {e}"))?,
            ),
            None => JobMem::Plain(mem),
        };
        Ok(HwCtx {
            index,
            mem,
            flights: try_boxed(slots, None)?,
            zero_copy,
            order: try_boxed(b.hw_batch_size, 0)?,
            sw_unit_ns: 0,
            hw_unit_ns: 0,
            trained_ready: false,
        })
    }

    /// Bytes of hardware memory and bookkeeping of this context.
    pub(crate) fn bytes(&self) -> usize {
        self.mem.bytes()
            + self.flights.len() * std::mem::size_of::<Option<Flight>>()
            + self.order.len() * 4
    }

    /// Where a descriptor of `slot` reads `data`: in place where the device reads process
    /// memory, else from the slot's input buffer, into which it is copied now.
    pub(crate) fn stage<'a>(&self, slot: Slot, data: &'a [u8]) -> iaa_wq::Input<'a> {
        if self.zero_copy {
            iaa_wq::Input::InPlace(data)
        } else {
            self.mem.fill_input(slot, data);
            iaa_wq::Input::Copied
        }
    }

    /// [`HwCtx::stage`] for a later pass over the unit already staged in its slot (nothing is
    /// copied again).
    pub(crate) fn staged<'a>(&self, data: &'a [u8]) -> iaa_wq::Input<'a> {
        if self.zero_copy {
            iaa_wq::Input::InPlace(data)
        } else {
            iaa_wq::Input::Copied
        }
    }

    /// Submit `job` for the claimed `slot` reading `data` (`resubmit`: the slot's last
    /// descriptor again) to `wqs[wq]` and wait up to `deadline` for its record, yielding the
    /// CPU: the blocking form the self-test and training use (a pool's calls go through the
    /// engine). On a timeout the slot is quarantined. Returns the record and the time from
    /// submission to it.
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn run_one(
        &mut self,
        slot: Slot,
        job: iaa_wq::IaaJob,
        data: &[u8],
        resubmit: bool,
        (wqs, wq, retries): (&[WorkQueue], usize, u32),
        deadline: Duration,
    ) -> Result<(iaa_descriptors::IaaCompletionRecord, Duration), String> {
        let input = self.stage(slot, data);
        let t0 = Instant::now();
        let r = if resubmit {
            self.mem.resubmit(slot, wqs, wq, retries)
        } else {
            self.mem.submit(slot, job, input, wqs, wq, retries)
        };
        r.map_err(|e| format!("not submitted: {e}"))?;
        loop {
            if let Some(rec) = self.mem.poll(slot, wqs) {
                return Ok((rec, t0.elapsed()));
            }
            if t0.elapsed() > deadline {
                self.mem.quarantine(slot);
                return Err(format!("no completion record within {deadline:?}"));
            }
            std::thread::yield_now();
        }
    }

    /// The first slot in flight, if any (to wait on).
    pub(crate) fn first_in_flight(&self) -> Option<Slot> {
        self.flights.iter().flatten().next().map(|f| f.slot)
    }
}

/// `n` copies of `v`, or an error saying the allocation failed (never an abort).
fn try_boxed<T: Clone>(n: usize, v: T) -> Result<Box<[T]>, String> {
    let mut b = Vec::new();
    b.try_reserve_exact(n)
        .map_err(|_| format!("allocation of {n} slot entries failed"))?;
    b.resize(n, v);
    Ok(b.into_boxed_slice())
}

/// The dynamic-Huffman table for a unit whose statistics pass counted `h`: length-limited
/// (15 bits) canonical codes, EOB coded, both trees complete, and the block header (literal
/// and distance lengths run-length coded apart, as IAA decodes them) in the table's output
/// accumulator ([`iaa_descriptors::DeviceCode`]). `coverage`: only the symbols counted (a
/// unit's own code) or all of them (a trained code that must take any input). `None` when the
/// header would not fit (then the unit is compressed with the fixed code). Allocation-free.
pub(crate) fn dynamic_table(
    h: &iaa_descriptors::Histogram,
    coverage: iaa_descriptors::Coverage,
) -> Option<iaa_descriptors::CompressAecs> {
    let code = iaa_descriptors::DeviceCode::from_histogram(h, coverage).ok()?;
    let mut aecs = iaa_descriptors::CompressAecs::zeroed();
    code.write_aecs(&mut aecs, true);
    Some(aecs)
}

/// How long dropping a pool waits for the device to finish quarantined slots before it leaks
/// their memory instead of freeing it.
pub(crate) const DROP_WAIT: Duration = iaa_wq::jobmem::DROP_WAIT;
