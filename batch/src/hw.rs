//! The hardware side of the pool: the backend (the work queues of a device or of the device
//! model) and each context's hardware memory: descriptors, 64-byte-aligned completion records,
//! the fixed-mode AECS, and per-slot input and output bounce buffers.
//!
//! The device reads and writes only the context's own memory, never the caller's: inputs are
//! copied into the slot's input buffer before submission and outputs copied out after
//! completion. A unit that times out is therefore abandoned safely: its slot (record and
//! buffers) stays quarantined until the device writes the record, and the caller's buffers are
//! free the moment the call returns.

use std::sync::atomic::{AtomicUsize, Ordering::Relaxed};
use std::sync::Arc;
use std::time::{Duration, Instant};

use iaa_descriptors::{iaa_class, IaaCompletionRecord, StatusClass};
use iaa_driver::model::{self, ModelDevice};
use iaa_driver::vfio::{IommuMapper, IommuQueues, MappedJobMemory};
use iaa_wq::{IaaJob, IaaJobMemory, IaaRecords, Slot, WorkQueue, WqError};

use crate::config::{Device, PoolBuilder, WqChoice};
use crate::engine::Op;

/// A device backend: its work queues, and the model that serves them (if any).
pub(crate) struct Backend {
    // Work queues drop before the model device they submit to.
    pub(crate) wqs: Arc<[WorkQueue]>,
    pub(crate) model: Option<Arc<ModelDevice>>,
    /// VFIO mode: the IOMMU every context maps its device memory through.
    mapper: Option<Arc<dyn IommuMapper>>,
    /// VFIO mode: the device (kept up while the pool lives; dropped after the WQs).
    _iommu: Option<Arc<IommuQueues>>,
    name: String,
    choice: WqChoice,
    /// Round-robin position over the compress WQs (`WqChoice::SplitOps`).
    next_comp: AtomicUsize,
}

impl Backend {
    /// Open the device the builder asks for; `Err` says why there is none.
    pub(crate) fn open(b: &PoolBuilder) -> Result<Backend, String> {
        let queues = |wqs: Arc<[WorkQueue]>, name: String| -> Result<Backend, String> {
            if wqs.is_empty() {
                return Err("no work queue given".into());
            }
            if let WqChoice::Index(i) = b.wq {
                if i >= wqs.len() {
                    return Err(format!("WQ {i} asked for, there are {}", wqs.len()));
                }
            }
            Ok(Backend {
                name: format!("{name}, {} WQ(s)", wqs.len()),
                wqs,
                model: None,
                mapper: None,
                _iommu: None,
                choice: b.wq,
                next_comp: AtomicUsize::new(0),
            })
        };
        let iommu = |q: Arc<IommuQueues>| -> Result<Backend, String> {
            let mut be = queues(Arc::clone(&q.wqs), format!("VFIO {}", q.name))?;
            be.mapper = Some(Arc::clone(&q.mapper));
            be._iommu = Some(q);
            Ok(be)
        };
        let (dev, how) = match &b.device {
            Device::Queues(wqs, name) => return queues(Arc::clone(wqs), name.clone()),
            Device::Iommu(q) => return iommu(Arc::clone(q)),
            Device::SharedModel(d) => (Arc::clone(d), "device model (shared)"),
            Device::Model(cfg) => (
                ModelDevice::start(cfg.clone()).map_err(|e| format!("device model: {e}"))?,
                "device model",
            ),
            Device::Auto => {
                if let Some(q) = vfio_from_env()? {
                    return iommu(Arc::new(q));
                }
                if model::selected_by_env() {
                    let cfg = model::ModelConfig::from_env().map_err(|e| e.to_string())?;
                    (
                        ModelDevice::start(cfg).map_err(|e| format!("device model: {e}"))?,
                        "device model (IAA_DEVICE=model)",
                    )
                } else {
                    let host = iaa_driver::kernel::open_host();
                    if let Some(why) = host.why_none() {
                        return Err(format!(
                            "no IAA work queue: {why} (IAA_DEVICE=model selects the device model)"
                        ));
                    }
                    let names: Vec<String> =
                        host.wqs.iter().map(|k| k.sysfs_name.clone()).collect();
                    let wqs: Vec<WorkQueue> = host.wqs.into_iter().map(|k| k.wq).collect();
                    return queues(wqs.into(), format!("kernel WQs {}", names.join(" ")));
                }
            }
        };
        if dev.cfg().kind != model::DeviceKind::Iaa {
            return Err("the device model is a DSA, not an IAA".into());
        }
        let n = dev.cfg().wqs.len();
        if n == 0 {
            return Err("the device has no work queue".into());
        }
        if let WqChoice::Index(i) = b.wq {
            if i >= n {
                return Err(format!("WQ {i} asked for, the device has {n}"));
            }
        }
        let wqs: Arc<[WorkQueue]> = (0..n)
            .map(|i| dev.wq(i).map_err(|e| e.to_string()))
            .collect::<Result<Vec<_>, _>>()?
            .into();
        let c = dev.cfg();
        let name = format!(
            "{how}, {} engine(s), {} WQ(s) ({:?} size {})",
            c.engines, n, c.wqs[0].mode, c.wqs[0].size
        );
        Ok(Backend {
            wqs,
            model: Some(dev),
            mapper: None,
            _iommu: None,
            name,
            choice: b.wq,
            next_comp: AtomicUsize::new(0),
        })
    }

    pub(crate) fn new_context(&self, cpu: usize, b: &PoolBuilder) -> Result<HwCtx, String> {
        HwCtx::new(cpu, b.hw_batch_size, b.max_unit_size, self.mapper.clone())
            .map_err(|e| e.to_string())
    }

    /// The WQ a call of `op` from context `ctx` submits to.
    pub(crate) fn pick(&self, op: Op, ctx: usize) -> usize {
        let n = self.wqs.len();
        match self.choice {
            WqChoice::Index(i) => i,
            WqChoice::SplitOps { compress_wqs } if compress_wqs >= 1 && n > compress_wqs => {
                let dec = n - compress_wqs;
                match op {
                    Op::Compress => dec + self.next_comp.fetch_add(1, Relaxed) % compress_wqs,
                    Op::Decompress => ctx % dec,
                }
            }
            _ => ctx % n,
        }
    }

    pub(crate) fn wq_count(&self) -> usize {
        self.wqs.len()
    }

    pub(crate) fn name(&self) -> String {
        self.name.clone()
    }
}

/// `IAA_DEVICE=vfio:BDF` (a function bound to vfio-pci) or `IAA_DEVICE=vfio-model` (the
/// register model and the device model, `IAA_MODEL_ENGINES` engines, default 2); `None` for
/// any other value.
fn vfio_from_env() -> Result<Option<IommuQueues>, String> {
    use iaa_driver::vfio::{Bar0ModelConfig, ModelVfio, VfioIdxd};
    let Ok(v) = std::env::var("IAA_DEVICE") else {
        return Ok(None);
    };
    let v = v.trim();
    // Up to 8 dedicated WQs (capped by the device), and a small arena: the pool maps its own
    // context memory, so the arena only proves the DMA path.
    const WQS: usize = 8;
    const ARENA: usize = 1 << 16;
    if v.eq_ignore_ascii_case("vfio-model") {
        let engines = std::env::var("IAA_MODEL_ENGINES")
            .ok()
            .and_then(|e| e.trim().parse().ok())
            .unwrap_or(2);
        let dev = ModelVfio::open(Bar0ModelConfig::spr_iaa(), WQS, engines, ARENA)
            .map_err(|e| format!("VFIO over the device model: {e}"))?;
        return Ok(Some(
            dev.into_queues("device model (IAA_DEVICE=vfio-model)".into()),
        ));
    }
    if let Some(bdf) = v.strip_prefix("vfio:") {
        let dev = VfioIdxd::open(std::path::Path::new("/sys"), bdf, WQS, ARENA)
            .map_err(|e| format!("VFIO {bdf}: {e}"))?;
        return dev
            .into_queues(format!("{bdf} (IAA_DEVICE=vfio:{bdf})"))
            .map(Some)
            .map_err(|e| format!("VFIO {bdf}: {e}"));
    }
    Ok(None)
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
}

impl HwCtx {
    /// `mapper`: VFIO mode, where the device reaches memory only through the IOMMU: the
    /// memory it touches (records, AECS, bounce buffers) gets pages of its own, mapped at
    /// IOVA = process address, so the descriptors need no translation.
    fn new(
        index: usize,
        slots: usize,
        buf_cap: usize,
        mapper: Option<Arc<dyn IommuMapper>>,
    ) -> Result<HwCtx, String> {
        let mem = IaaJobMemory::new(slots, buf_cap, mapper.is_some()).map_err(|e| e.to_string())?;
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

    /// Claim a free slot (quarantined ones are skipped until reaped).
    pub(crate) fn claim(&mut self) -> Option<Slot> {
        self.mem_mut().claim()
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
        let job = match phase {
            Phase::Compress => {
                m.fill_input(s, input);
                IaaJob::Compress {
                    len: input.len(),
                    max_out,
                }
            }
            Phase::Decompress => {
                m.fill_input(s, input);
                IaaJob::Decompress {
                    len: input.len(),
                    max_out,
                }
            }
            Phase::Verify { len, .. } => IaaJob::Verify { len },
        };
        m.prepare(s, job);
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
