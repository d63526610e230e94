//! The hardware side of the pool: the backend (the work queues of a device or of the device
//! model) and each context's hardware memory: descriptors, 64-byte-aligned completion records,
//! the fixed-mode AECS, and per-slot input and output bounce buffers.
//!
//! The device reads and writes only the context's own memory, never the caller's: inputs are
//! copied into the slot's input buffer before submission and outputs copied out after
//! completion. A unit that times out is therefore abandoned safely: its slot (record and
//! buffers) stays quarantined until the device writes the record, and the caller's buffers are
//! free the moment the call returns.

use std::sync::Arc;
use std::time::{Duration, Instant};

use iaa_descriptors::{iaa_class, IaaCompletionRecord, StatusClass};
use iaa_driver::vfio::{IommuMapper, MappedJobMemory};
use iaa_wq::{IaaJob, IaaJobMemory, IaaRecords, Slot, WorkQueue, WqError};

use crate::config::{Device, PoolBuilder, WqChoice};
use crate::engine::Op;

/// The device the pool runs on (opened by `iaa_driver::open`) and how units choose its WQs.
pub(crate) struct Backend {
    dev: iaa_driver::open::Backend,
    choice: WqChoice,
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
        Ok(Backend { dev, choice: b.wq })
    }

    pub(crate) fn new_context(&self, cpu: usize, b: &PoolBuilder) -> Result<HwCtx, String> {
        let (small_cap, large, large_cap) = slot_sizes(b);
        HwCtx::new(
            cpu,
            b.hw_batch_size,
            small_cap,
            large,
            large_cap,
            self.dev.mapper().cloned(),
            self.dev.shares_address_space(),
        )
        .map_err(|e| e.to_string())
    }

    /// The WQ unit number `seq` of an `op` call from `cpu` is submitted to.
    pub(crate) fn pick(&self, op: Op, cpu: usize, seq: usize) -> usize {
        match self.choice {
            WqChoice::Index(i) => i,
            WqChoice::Socket => self.dev.pick(cpu, op.choice_op(), seq),
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
    if o.engines > 64 || !(1..=8).contains(&o.wqs) || !(1..=128).contains(&o.wq_size) {
        return Err(
            "ModelOptions out of range (engines 0..=64, wqs 1..=8, wq_size 1..=128)".into(),
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
        ..ModelConfig::iaa(o.engines)
    };
    let dev = ModelDevice::start(cfg).map_err(|e| format!("device model: {e}"))?;
    iaa_model::backend(dev, "device model").map_err(|e| format!("device model: {e}"))
}

/// What a slot is doing.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Phase {
    Compress,
    /// Decompress of the slot's own output with output suppressed; `crc` is what the
    /// compression reported, `len` the compressed length.
    Verify {
        crc: u32,
        len: usize,
    },
    Decompress,
}

/// A slot in flight.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Busy {
    pub(crate) slot: Slot,
    pub(crate) unit: usize,
    pub(crate) phase: Phase,
    pub(crate) t0: Instant,
    pub(crate) resubmitted: bool,
    /// The WQ it was submitted to.
    pub(crate) wq: usize,
}

/// How a submission went.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Submit {
    Accepted,
    /// Refused until the retry budget ran out (WQ full, no credit).
    Refused,
    /// The portal failed.
    Failed,
}

/// The device memory of one context: plain, or mapped through an IOMMU (VFIO mode).
enum JobMem {
    Plain(IaaJobMemory),
    Mapped(MappedJobMemory),
}

/// The hardware side of one context: its job memory (`hw_batch_size` slots of descriptor,
/// record and bounce buffers, see [`IaaJobMemory`]) and which slots are in flight.
pub(crate) struct HwCtx {
    /// Index of the context in the pool.
    pub(crate) index: usize,
    /// Quarantined slots, by slot index: the slot, the WQ it was submitted to, and whether
    /// its credit was returned.
    quar: Box<[Option<(Slot, usize, bool)>]>,
    mem: JobMem,
    /// In-flight slots, indexed by slot index.
    pub(crate) busy: Box<[Option<Busy>]>,
    /// Inputs are read by the device where they are (see [`HwCtx::prepare`]).
    zero_copy: bool,
}

impl HwCtx {
    /// `mapper`: VFIO mode, where the device reaches memory only through the IOMMU: the
    /// memory it touches (records, AECS, bounce buffers) gets pages of its own, mapped at
    /// IOVA = process address, so the descriptors need no translation.
    fn new(
        index: usize,
        slots: usize,
        buf_cap: usize,
        large: usize,
        large_cap: usize,
        mapper: Option<Arc<dyn IommuMapper>>,
        zero_copy: bool,
    ) -> Result<HwCtx, String> {
        let mem = IaaJobMemory::with_sizes(slots, buf_cap, large, large_cap, mapper.is_some())
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
            quar: vec![None; slots].into_boxed_slice(),
            mem,
            busy: vec![None; slots].into_boxed_slice(),
            zero_copy,
        })
    }

    fn mem(&self) -> &IaaJobMemory {
        self.mem.get()
    }

    fn mem_mut(&mut self) -> &mut IaaJobMemory {
        self.mem.get_mut()
    }

    /// The completion records (for `WorkQueue::poll`).
    pub(crate) fn records(&self) -> &IaaRecords {
        self.mem().records()
    }

    /// Until when dropping this context waits for the device to finish quarantined slots (the
    /// pool sets one deadline for all its contexts, so dropping a pool waits once).
    pub(crate) fn set_drop_deadline(&mut self, at: Instant) {
        self.mem_mut().set_drop_deadline(at);
    }

    /// Bytes of hardware memory and bookkeeping of this context.
    pub(crate) fn bytes(&self) -> usize {
        let slots = self.busy.len();
        self.mem().bytes()
            + slots * std::mem::size_of::<Option<Busy>>()
            + slots * std::mem::size_of::<Option<(Slot, usize, bool)>>()
            // The record slab's free list (u32), in-use flags and quarantine list (slot + keep),
            // and the submitted flags.
            + slots * (4 + 1 + 24 + 1)
    }

    /// Capacity of one bounce buffer.
    pub(crate) fn buf_cap(&self) -> usize {
        self.mem().buf_cap()
    }

    /// Copy the first `dst.len()` bytes of `slot`'s output buffer into `dst`. Called only after
    /// the slot's record showed completion (acquire), so the device's writes are visible.
    pub(crate) fn copy_output(&self, s: Slot, dst: &mut [u8]) {
        self.mem().copy_output(s, dst);
    }

    /// Quarantine a slot submitted to WQ `wq` whose record is not written: neither the slot
    /// nor its buffers are reused until the device writes the record.
    pub(crate) fn quarantine(&mut self, s: Slot, wq: usize) {
        self.busy[s.index()] = None;
        if self.mem_mut().quarantine(s) {
            self.quar[s.index()] = Some((s, wq, false));
        }
    }

    /// Release quarantined slots whose record the device has now written, returning each
    /// one's credit to the WQ it was submitted to.
    pub(crate) fn reap(&mut self, wqs: &[WorkQueue]) {
        if self.mem().quarantined() == 0 {
            return;
        }
        let HwCtx { quar, mem, .. } = self;
        for (s, w, credited) in quar.iter_mut().flatten() {
            if !*credited && mem.get().records().poll(*s).is_some() {
                wqs[*w].complete(1);
                *credited = true;
            }
        }
        mem.get_mut().reap();
        let m = mem.get();
        for q in quar.iter_mut() {
            if let Some((s, w, credited)) = *q {
                if !m.is_quarantined(s) {
                    if !credited {
                        // Written between the two looks above.
                        wqs[w].complete(1);
                    }
                    *q = None;
                }
            }
        }
    }

    /// Claim a free slot whose buffers hold `need` bytes (quarantined ones are skipped until
    /// reaped).
    pub(crate) fn claim(&mut self, need: usize) -> Option<Slot> {
        self.mem_mut().claim(need)
    }

    /// Give a slot back.
    pub(crate) fn release(&mut self, s: Slot) {
        self.busy[s.index()] = None;
        self.mem_mut().release(s);
    }

    /// Build the descriptor of `phase` for `slot` (copying `input` in for compress and
    /// decompress).
    pub(crate) fn prepare(&self, s: Slot, phase: Phase, input: &[u8], max_out: usize) {
        let m = self.mem();
        let len = input.len();
        let job = match phase {
            Phase::Compress => IaaJob::Compress { len, max_out },
            Phase::Decompress => IaaJob::Decompress { len, max_out },
            Phase::Verify { len, .. } => return m.prepare(s, IaaJob::Verify { len }),
        };
        if self.zero_copy {
            // The device reads the caller's input where it is (PASID/SVA).
            m.prepare_reading(s, job, input);
        } else {
            m.fill_input(s, input);
            m.prepare(s, job);
        }
    }

    /// Whether descriptors name the caller's input directly (the device reads process memory)
    /// instead of a copy in the slot's input buffer.
    pub(crate) fn zero_copy(&self) -> bool {
        self.zero_copy
    }

    /// Submit `slot`'s descriptor, retrying a refusal at most `retries` times. `retried` is
    /// increased by the number of extra attempts.
    pub(crate) fn submit(
        &mut self,
        wq: &WorkQueue,
        s: Slot,
        retries: u32,
        retried: &mut u64,
    ) -> Submit {
        let m = self.mem_mut();
        for attempt in 0..=retries {
            match m.submit(wq, s) {
                Ok(()) => return Submit::Accepted,
                Err(WqError::NoCredit { .. })
                | Err(WqError::Refused)
                | Err(WqError::RetriesExhausted { .. }) => {
                    if attempt < retries {
                        *retried += 1;
                        std::hint::spin_loop();
                    }
                }
                Err(_) => return Submit::Failed,
            }
        }
        Submit::Refused
    }

    /// Touch the faulting byte (read it, and write it back for a write fault) if it is in this
    /// context's memory, as a CPU access would fault the page in.
    pub(crate) fn touch(&self, addr: u64, write: bool) {
        self.mem().touch(addr, write);
    }
}

impl JobMem {
    fn get(&self) -> &IaaJobMemory {
        match self {
            JobMem::Plain(m) => m,
            JobMem::Mapped(m) => m,
        }
    }

    fn get_mut(&mut self) -> &mut IaaJobMemory {
        match self {
            JobMem::Plain(m) => m,
            JobMem::Mapped(m) => m,
        }
    }
}

/// How long dropping a pool waits for the device to finish quarantined slots before it leaks
/// their memory instead of freeing it.
pub(crate) const DROP_WAIT: Duration = iaa_wq::jobmem::DROP_WAIT;

/// A completed record, classified.
pub(crate) fn classify(r: &IaaCompletionRecord) -> StatusClass {
    iaa_class(r.status, r.error_code)
}
