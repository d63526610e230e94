//! The hardware side of the pool: the backend (the work queues of a device or of the device
//! model) and each context's hardware memory: descriptors, 64-byte-aligned completion records,
//! the fixed-mode AECS, and per-slot input and output bounce buffers.
//!
//! The device reads and writes only the context's own memory, never the caller's: inputs are
//! copied into the slot's input buffer before submission and outputs copied out after
//! completion. A unit that times out is therefore abandoned safely: its slot (record and
//! buffers) stays quarantined until the device writes the record, and the caller's buffers are
//! free the moment the call returns.

use std::mem::ManuallyDrop;
use std::sync::atomic::{AtomicUsize, Ordering::Relaxed};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytemuck::{Pod, Zeroable};
use iaa_descriptors::{
    iaa_class, CompressAecs, IaaCompletionRecord, IaaCompress, IaaDecompress, IaaDescriptor,
    StatusClass,
};
use iaa_driver::model::{self, ModelDevice};
use iaa_driver::vfio::{IommuMapper, IommuQueues};
use iaa_wq::{IaaRecords, Slab, Slot, WorkQueue, WqError};

use crate::config::{Device, PoolBuilder, WqChoice};
use crate::engine::Op;

/// One 64-byte line of a bounce buffer (64-byte aligned).
#[derive(Clone, Copy, Pod, Zeroable)]
#[repr(C, align(64))]
pub(crate) struct Line([u8; 64]);

const LINE: usize = 64;

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
        let dev = VfioIdxd::open(std::path::Path::new("/"), bdf, WQS, ARENA)
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

/// The hardware memory of one context. `slots` descriptors, records and buffer pairs; slot
/// `i`'s record, descriptor and buffers always go together.
pub(crate) struct HwCtx {
    /// Index of the context in the pool.
    pub(crate) index: usize,
    /// Quarantined slots, by slot index: the slot, the WQ it was submitted to, and whether
    /// its credit was returned.
    quar: Box<[Option<(Slot, usize, bool)>]>,
    descs: ManuallyDrop<Slab<IaaDescriptor>>,
    pub(crate) recs: ManuallyDrop<IaaRecords>,
    aecs: ManuallyDrop<Slab<CompressAecs>>,
    inbuf: ManuallyDrop<Slab<Line>>,
    outbuf: ManuallyDrop<Slab<Line>>,
    lines: usize,
    /// In-flight slots, indexed by slot index.
    pub(crate) busy: Box<[Option<Busy>]>,
    /// Until when Drop waits for the device to finish quarantined slots (set by the pool for
    /// all its contexts at once, so dropping a pool waits once, not once per context).
    pub(crate) drop_deadline: Option<Instant>,
    /// VFIO mode: the IOMMU and the regions (IOVA = address, bytes) mapped through it.
    iommu: Option<Mapped>,
}

/// A context's memory mapped through an IOMMU: the mapper and the (IOVA, bytes) regions.
type Mapped = (Arc<dyn IommuMapper>, Vec<(u64, usize)>);

impl HwCtx {
    /// `mapper`: VFIO mode, where the device reaches memory only through the IOMMU: the
    /// memory it touches (records, AECS, bounce buffers) gets pages of its own, mapped at
    /// IOVA = process address, so the descriptors need no translation. (Descriptors are
    /// copied to the portal by the CPU and are not mapped.)
    fn new(
        index: usize,
        slots: usize,
        buf_cap: usize,
        mapper: Option<Arc<dyn IommuMapper>>,
    ) -> Result<HwCtx, String> {
        let lines = buf_cap.div_ceil(LINE).max(1);
        let e = |e: WqError| e.to_string();
        let pages = mapper.is_some();
        let slab = |n: usize| {
            if pages {
                Slab::<Line>::new_pages(n)
            } else {
                Slab::<Line>::new(n)
            }
        };
        // Two AECS: a device may treat the AECS region as two halves (read/write toggle,
        // spec §4.2), so the region the descriptor names is twice its size; the fixed-mode
        // tables are in the first half, which is what the descriptor reads.
        let aecs = if pages {
            Slab::new_pages(2)
        } else {
            Slab::new(2)
        }
        .map_err(e)?;
        aecs.write(0, &CompressAecs::fixed());
        aecs.write(1, &CompressAecs::fixed());
        let recs = if pages {
            IaaRecords::new_pages(slots)
        } else {
            IaaRecords::new(slots)
        }
        .map_err(e)?;
        let mut ctx = HwCtx {
            index,
            quar: vec![None; slots].into_boxed_slice(),
            descs: ManuallyDrop::new(Slab::new(slots).map_err(e)?),
            recs: ManuallyDrop::new(recs),
            aecs: ManuallyDrop::new(aecs),
            inbuf: ManuallyDrop::new(slab(slots * lines).map_err(e)?),
            outbuf: ManuallyDrop::new(slab(slots * lines).map_err(e)?),
            lines,
            busy: vec![None; slots].into_boxed_slice(),
            drop_deadline: None,
            iommu: None,
        };
        if let Some(m) = mapper {
            let regions = [
                ctx.recs.region(),
                ctx.aecs.region(),
                ctx.inbuf.region(),
                ctx.outbuf.region(),
            ];
            let mut mapped = Vec::with_capacity(regions.len());
            for (p, len) in regions {
                // SAFETY: each region is a page-aligned slab of whole pages owned by this
                // context, accessed only through raw pointers (never Rust references), and
                // unmapped in Drop before it is freed (or leaked with its mapping when the
                // device may still write it).
                let r = unsafe { m.map(p as u64, len, p) };
                if let Err(err) = r {
                    for &(iova, len) in &mapped {
                        let _ = m.unmap(iova, len);
                    }
                    return Err(format!(
                        "IOMMU map of {len} bytes at {p:p} (IOVA = address): {err}"
                    ));
                }
                mapped.push((p as u64, len));
            }
            ctx.iommu = Some((m, mapped));
        }
        Ok(ctx)
    }

    /// Bytes of hardware memory and bookkeeping of this context.
    pub(crate) fn bytes(&self) -> usize {
        let slots = self.busy.len();
        // The slabs as allocated (whole pages each in VFIO mode).
        self.descs.region().1
            + self.recs.region().1
            + self.aecs.region().1
            + self.inbuf.region().1
            + self.outbuf.region().1
            + slots * std::mem::size_of::<Option<Busy>>()
            + slots * std::mem::size_of::<Option<(Slot, usize, bool)>>()
            // The record slab's free list (u32), in-use flags and quarantine list (slot + keep).
            + slots * (4 + 1 + 24)
    }

    /// Capacity of one bounce buffer.
    pub(crate) fn buf_cap(&self) -> usize {
        self.lines * LINE
    }

    fn buf_addr(slab: &Slab<Line>, slot: usize, lines: usize) -> u64 {
        slab.addr(slot * lines).unwrap_or(0)
    }

    /// Copy `src` into the input buffer of `slot` (`src.len() <= buf_cap`).
    fn fill_input(&self, slot: usize, src: &[u8]) {
        let base = slot * self.lines;
        for (k, chunk) in src.chunks(LINE).enumerate() {
            let mut l = Line([0; LINE]);
            l.0[..chunk.len()].copy_from_slice(chunk);
            self.inbuf.write(base + k, &l);
        }
    }

    /// Copy the first `dst.len()` bytes of `slot`'s output buffer into `dst`. Called only after
    /// the slot's record showed completion (acquire), so the device's writes are visible.
    pub(crate) fn copy_output(&self, slot: usize, dst: &mut [u8]) {
        let base = slot * self.lines;
        for (k, chunk) in dst.chunks_mut(LINE).enumerate() {
            if let Some(l) = self.outbuf.read(base + k) {
                chunk.copy_from_slice(&l.0[..chunk.len()]);
            }
        }
    }

    /// Quarantine a slot submitted to WQ `wq` whose record is not written: neither the slot
    /// nor its buffers are reused until the device writes the record.
    pub(crate) fn quarantine(&mut self, s: Slot, wq: usize) {
        self.busy[s.index()] = None;
        if self.recs.quarantine(s, None).is_ok() {
            self.quar[s.index()] = Some((s, wq, false));
        }
    }

    /// Release quarantined slots whose record the device has now written, returning each
    /// one's credit to the WQ it was submitted to.
    pub(crate) fn reap(&mut self, wqs: &[WorkQueue]) {
        if self.recs.quarantined() == 0 {
            return;
        }
        for q in self.quar.iter_mut().flatten() {
            if !q.2 && self.recs.poll(q.0).is_some() {
                wqs[q.1].complete(1);
                q.2 = true;
            }
        }
        self.recs.reap();
        for q in self.quar.iter_mut() {
            if let Some((s, w, credited)) = *q {
                if !self.recs.is_quarantined(s) {
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
        self.recs.claim()
    }

    /// Give a slot back.
    pub(crate) fn release(&mut self, s: Slot) {
        self.busy[s.index()] = None;
        let _ = self.recs.release(s);
    }

    /// Build the descriptor of `phase` for `slot` (input already in place for compress and
    /// decompress) and store it in the descriptor slab.
    pub(crate) fn prepare(&self, s: Slot, phase: Phase, input: &[u8], max_out: usize) {
        let i = s.index();
        let rec = self.recs.addr(s);
        let inb = Self::buf_addr(&self.inbuf, i, self.lines);
        let outb = Self::buf_addr(&self.outbuf, i, self.lines);
        let desc = match phase {
            Phase::Compress => {
                self.fill_input(i, input);
                IaaCompress::new(
                    inb,
                    input.len() as u32,
                    outb,
                    max_out as u32,
                    self.aecs.addr(0).unwrap_or(0),
                    rec,
                )
                .build()
            }
            Phase::Decompress => {
                self.fill_input(i, input);
                IaaDecompress::new(inb, input.len() as u32, outb, max_out as u32, rec).build()
            }
            // Decode the slot's own compressed output; nothing is written (suppress output),
            // the destination names the slot's input buffer only to be a valid address.
            Phase::Verify { len, .. } => {
                IaaDecompress::new(outb, len as u32, inb, self.buf_cap() as u32, rec)
                    .suppress_output(true)
                    .build()
            }
        };
        self.descs.write(i, &desc);
    }

    /// Submit `slot`'s descriptor, retrying a refusal at most `retries` times. `retried` is
    /// increased by the number of extra attempts.
    pub(crate) fn submit(
        &self,
        wq: &WorkQueue,
        s: Slot,
        retries: u32,
        retried: &mut u64,
    ) -> Submit {
        self.recs.reset(s);
        let Some(desc) = self.descs.read(s.index()) else {
            return Submit::Failed;
        };
        for attempt in 0..=retries {
            // SAFETY: the DMA contract of `WorkQueue::submit`: every address in the descriptor
            // is memory of this context (record, AECS, bounce buffers), which stays allocated
            // and untouched by the CPU until the record is written: the slot is in `busy` until
            // then, or quarantined in `recs` (and leaked by Drop if still pending).
            match unsafe { wq.submit_iaa(&desc) } {
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
        for slab in [&*self.inbuf, &*self.outbuf] {
            let base = slab.addr(0).unwrap_or(0);
            let end = base + (slab.capacity() * LINE) as u64;
            if (base..end).contains(&addr) {
                let i = ((addr - base) as usize) / LINE;
                if let Some(l) = slab.read(i) {
                    if write {
                        slab.write(i, &l);
                    }
                }
            }
        }
    }
}

/// How long dropping a pool waits for the device to finish quarantined slots before it leaks
/// their memory instead of freeing it.
pub(crate) const DROP_WAIT: Duration = Duration::from_millis(200);

/// A completed record, classified.
pub(crate) fn classify(r: &IaaCompletionRecord) -> StatusClass {
    iaa_class(r.status, r.error_code)
}

impl Drop for HwCtx {
    fn drop(&mut self) {
        // Slots the device may still write (timed out, or abandoned by a dropped handle): give
        // the device a moment, then leak the memory rather than free it under a late write.
        let deadline = self
            .drop_deadline
            .unwrap_or_else(|| Instant::now() + DROP_WAIT);
        let mut pending = true;
        while Instant::now() < deadline {
            self.recs.reap();
            let busy_pending = self
                .busy
                .iter()
                .flatten()
                .any(|b| self.recs.poll(b.slot).is_none());
            if self.recs.quarantined() == 0 && !busy_pending {
                pending = false;
                break;
            }
            std::thread::sleep(Duration::from_millis(1));
        }
        if !pending {
            // The device is done with this memory: take it out of the IOMMU before freeing it.
            if let Some((m, regions)) = self.iommu.take() {
                for (iova, len) in regions {
                    let _ = m.unmap(iova, len);
                }
            }
            // SAFETY: each field is dropped exactly once, here, and Drop never touches it again;
            // the device has written every record, so it no longer accesses this memory.
            unsafe {
                ManuallyDrop::drop(&mut self.descs);
                ManuallyDrop::drop(&mut self.recs);
                ManuallyDrop::drop(&mut self.aecs);
                ManuallyDrop::drop(&mut self.inbuf);
                ManuallyDrop::drop(&mut self.outbuf);
            }
        }
    }
}
