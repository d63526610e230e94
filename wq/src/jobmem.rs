//! [`IaaJobMemory`]: everything an IAA compress/decompress job may let the device touch, owned
//! in one place, so submitting a job is safe.
//!
//! Per slot: a descriptor, a 64-byte-aligned completion record, an input and an output bounce
//! buffer; one pair of fixed-mode AECS for all slots. Slots come in two sizes
//! ([`IaaJobMemory::with_sizes`]): many small ones (a 4 KiB page each) and a few large ones
//! (16 or 64 KiB units), so large units run on the device without every slot being large. Descriptors are built
//! only by [`IaaJobMemory::prepare`], from this memory's own addresses, and the memory is freed
//! only when no record the device may still write is pending (otherwise it is leaked), so
//! [`IaaJobMemory::submit`] keeps the DMA contract of [`WorkQueue::submit`] by construction.
//! Callers copy their data in and out; the device never sees caller memory.

use std::mem::ManuallyDrop;
use std::time::{Duration, Instant};

use bytemuck::{Pod, Zeroable};
use iaa_descriptors::{CompressAecs, IaaCompress, IaaDecompress, IaaDescriptor};

use crate::slab::{IaaRecords, Slab, Slot};
use crate::{WorkQueue, WqError};

/// One 64-byte line of a bounce buffer (64-byte aligned).
#[derive(Clone, Copy, Pod, Zeroable)]
#[repr(C, align(64))]
struct Line([u8; 64]);

const LINE: usize = 64;
/// Lines per 4 KiB page.
const PAGE_LINES: usize = 4096 / LINE;

/// How long dropping job memory waits by default for the device to finish pending records
/// before it leaks the memory instead of freeing it.
pub const DROP_WAIT: Duration = Duration::from_millis(200);

/// What a slot's descriptor asks the device to do.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum IaaJob {
    /// Compress the slot's input (`len` bytes, already copied in with
    /// [`IaaJobMemory::fill_input`]) into its output buffer, at most `max_out` bytes, with the
    /// fixed Huffman tables.
    Compress {
        /// Input bytes.
        len: usize,
        /// Output limit (at most the buffer capacity).
        max_out: usize,
    },
    /// Decompress the slot's input (`len` bytes) into its output buffer, at most `max_out`.
    Decompress {
        /// Input bytes.
        len: usize,
        /// Output limit (at most the buffer capacity).
        max_out: usize,
    },
    /// Decompress the slot's own output (`len` compressed bytes) with output suppressed, to
    /// check it (the record's CRC).
    Verify {
        /// Compressed bytes in the output buffer.
        len: usize,
    },
}

/// The device-visible memory of `slots` IAA jobs. See the module docs.
pub struct IaaJobMemory {
    descs: ManuallyDrop<Slab<IaaDescriptor>>,
    recs: ManuallyDrop<IaaRecords>,
    aecs: ManuallyDrop<Slab<CompressAecs>>,
    inbuf: ManuallyDrop<Slab<Line>>,
    outbuf: ManuallyDrop<Slab<Line>>,
    /// Slots `0..small` have `lines` lines each; slots `small..` have `large_lines`.
    small: usize,
    lines: usize,
    large_lines: usize,
    /// Per slot: submitted, and the record not yet seen written by [`IaaJobMemory::release`].
    submitted: Box<[bool]>,
    /// Per slot: its descriptor reads the caller's memory ([`IaaJobMemory::prepare_reading`]),
    /// so it may go only to a WQ whose device reads process memory.
    reads_caller: Box<[std::cell::Cell<bool>]>,
    drop_deadline: Option<Instant>,
}

impl IaaJobMemory {
    /// Memory for `slots` jobs with bounce buffers of at least `buf_cap` bytes (rounded up to
    /// 64). `pages`: records, AECS and buffers each in whole 4 KiB pages of their own, so
    /// they can be mapped through an IOMMU ([`IaaJobMemory::device_regions`]).
    pub fn new(slots: usize, buf_cap: usize, pages: bool) -> Result<Self, WqError> {
        Self::with_sizes(slots, buf_cap, 0, 0, pages)
    }

    /// Memory for `slots` jobs of at least `buf_cap` bytes and `large` jobs of at least
    /// `large_cap` bytes (each rounded up to 64). [`IaaJobMemory::claim`] hands out the
    /// smallest free slot that fits the unit.
    pub fn with_sizes(
        slots: usize,
        buf_cap: usize,
        large: usize,
        large_cap: usize,
        pages: bool,
    ) -> Result<Self, WqError> {
        if slots == 0 || buf_cap == 0 || (large > 0 && large_cap < buf_cap) {
            return Err(WqError::BadCapacity(slots.min(buf_cap)));
        }
        let lines = buf_cap.div_ceil(LINE);
        let large_lines = if large > 0 {
            large_cap.div_ceil(LINE)
        } else {
            0
        };
        let total = slots
            .checked_mul(lines)
            .and_then(|a| {
                large
                    .checked_mul(large_lines)
                    .and_then(|b| a.checked_add(b))
            })
            .ok_or(WqError::BadCapacity(slots))?;
        let slots_all = slots
            .checked_add(large)
            .ok_or(WqError::BadCapacity(large))?;
        let buf = |n| {
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
            Slab::new_pages(2)?
        } else {
            Slab::new(2)?
        };
        aecs.write(0, &CompressAecs::fixed());
        aecs.write(1, &CompressAecs::fixed());
        let recs = if pages {
            IaaRecords::new_pages(slots_all)?
        } else {
            IaaRecords::new(slots_all)?
        };
        let (inbuf, outbuf) = (buf(total)?, buf(total)?);
        // Make every buffer page resident now: the allocator may hand out untouched zero pages
        // (fresh mmap), and the device's first write to such a page would fault (a page-fault
        // completion and a resubmission, or with block-on-fault a stall) on the hot path.
        for slab in [&inbuf, &outbuf] {
            for i in (0..slab.capacity()).step_by(PAGE_LINES) {
                slab.write(i, &Line([0; LINE]));
            }
        }
        Ok(IaaJobMemory {
            descs: ManuallyDrop::new(Slab::new(slots_all)?),
            recs: ManuallyDrop::new(recs),
            aecs: ManuallyDrop::new(aecs),
            inbuf: ManuallyDrop::new(inbuf),
            outbuf: ManuallyDrop::new(outbuf),
            small: slots,
            lines,
            large_lines,
            submitted: vec![false; slots_all].into_boxed_slice(),
            reads_caller: (0..slots_all)
                .map(|_| std::cell::Cell::new(false))
                .collect(),
            drop_deadline: None,
        })
    }

    /// Capacity of the largest bounce buffer: the largest unit a slot takes.
    pub fn buf_cap(&self) -> usize {
        self.lines.max(self.large_lines) * LINE
    }

    /// Capacity of a small slot's bounce buffers.
    pub fn small_cap(&self) -> usize {
        self.lines * LINE
    }

    /// Number of slots, small and large.
    pub fn slots(&self) -> usize {
        self.submitted.len()
    }

    /// First line and line count of slot `i`'s buffers.
    fn span(&self, i: usize) -> (usize, usize) {
        if i < self.small {
            (i * self.lines, self.lines)
        } else {
            (
                self.small * self.lines + (i - self.small) * self.large_lines,
                self.large_lines,
            )
        }
    }

    /// Capacity of slot `s`'s bounce buffers.
    pub fn cap_of(&self, s: Slot) -> usize {
        self.span(s.index()).1 * LINE
    }

    /// The regions the device reads or writes (records, AECS, input and output buffers), as
    /// (start, bytes): what to map through an IOMMU. Descriptors are not among them: the CPU
    /// copies them to the portal.
    pub fn device_regions(&self) -> [(*mut u8, usize); 4] {
        [
            self.recs.region(),
            self.aecs.region(),
            self.inbuf.region(),
            self.outbuf.region(),
        ]
    }

    /// Bytes allocated, descriptors included.
    pub fn bytes(&self) -> usize {
        self.descs.region().1 + self.device_regions().iter().map(|r| r.1).sum::<usize>()
    }

    /// The completion records (for [`WorkQueue::poll`], which returns the WQ credit).
    pub fn records(&self) -> &IaaRecords {
        &self.recs
    }

    /// Claim a free slot whose buffers hold `need` bytes: a small one when it fits, else a
    /// large one (quarantined slots are skipped until reaped). `None` when none is free.
    pub fn claim(&mut self, need: usize) -> Option<Slot> {
        let (small, small_cap) = (self.small, self.small_cap());
        if need <= small_cap {
            if let Some(s) = self.recs.claim_where(|i| i < small) {
                return Some(s);
            }
        }
        if need <= self.large_lines * LINE {
            return self.recs.claim_where(|i| i >= small);
        }
        None
    }

    /// Give a slot back once its record was consumed (or it was never submitted). A
    /// quarantined slot is not released (only [`IaaJobMemory::reap`] does that).
    pub fn release(&mut self, s: Slot) {
        if self.recs.is_quarantined(s) {
            return;
        }
        if let Some(f) = self.submitted.get_mut(s.index()) {
            *f = false;
        }
        let _ = self.recs.release(s);
    }

    /// Quarantine a submitted slot whose record is not written yet: it is not handed out
    /// again until [`IaaJobMemory::reap`] sees the record written.
    pub fn quarantine(&mut self, s: Slot) -> bool {
        self.recs.quarantine(s, None).is_ok()
    }

    /// Whether `s` is quarantined.
    pub fn is_quarantined(&self, s: Slot) -> bool {
        self.recs.is_quarantined(s)
    }

    /// Slots in quarantine.
    pub fn quarantined(&self) -> usize {
        self.recs.quarantined()
    }

    /// Release the quarantined slots whose records the device has written.
    pub fn reap(&mut self) {
        if self.recs.quarantined() == 0 {
            return;
        }
        self.recs.reap();
        for (i, f) in self.submitted.iter_mut().enumerate() {
            if *f && !self.recs.is_in_use(Slot::from_index(i)) {
                *f = false;
            }
        }
    }

    /// Copy `src` into the input buffer of `slot` (at most [`IaaJobMemory::buf_cap`] bytes are
    /// copied).
    pub fn fill_input(&self, s: Slot, src: &[u8]) {
        let (base, lines) = self.span(s.index());
        let n = src.len().min(lines * LINE);
        self.inbuf.write_bytes(base, &src[..n]);
    }

    /// Copy the first `dst.len()` bytes (at most the capacity) of `slot`'s output buffer into
    /// `dst`. Call after the slot's record showed completion (acquire), so the device's writes
    /// are visible.
    pub fn copy_output(&self, s: Slot, dst: &mut [u8]) {
        let (base, lines) = self.span(s.index());
        let n = dst.len().min(lines * LINE);
        self.outbuf.read_bytes(base, &mut dst[..n]);
    }

    /// Build the descriptor of `job` for `slot` (input already copied in for compress and
    /// decompress); sizes are clamped to the buffer capacity.
    pub fn prepare(&self, s: Slot, job: IaaJob) {
        let i = s.index();
        let (base, lines) = self.span(i);
        let cap = lines * LINE;
        let rec = self.recs.addr(s);
        let inb = self.inbuf.addr(base).unwrap_or(0);
        let outb = self.outbuf.addr(base).unwrap_or(0);
        let n = |x: usize| x.min(cap) as u32;
        let desc = match job {
            IaaJob::Compress { len, max_out } => IaaCompress::new(
                inb,
                n(len),
                outb,
                n(max_out),
                self.aecs.addr(0).unwrap_or(0),
                rec,
            )
            .build(),
            IaaJob::Decompress { len, max_out } => {
                IaaDecompress::new(inb, n(len), outb, n(max_out), rec).build()
            }
            // Decode the slot's own compressed output; nothing is written (suppress output),
            // the destination names the slot's input buffer only to be a valid address.
            IaaJob::Verify { len } => IaaDecompress::new(outb, n(len), inb, n(cap), rec)
                .suppress_output(true)
                .build(),
        };
        self.descs.write(i, &desc);
        self.reads_caller[i].set(false);
    }

    /// Build a compress or decompress descriptor for `slot` that reads `src` where it is (no
    /// copy into the slot's input buffer); the output still goes to the slot's own buffer
    /// (the device writes only this memory). [`IaaJobMemory::submit`] takes it only to a WQ
    /// whose device reads process memory ([`WorkQueue::reads_process_memory`]). The device
    /// may read `src` after the caller's borrow ends (a unit abandoned after a timeout); such
    /// a unit's result is never used, and a late read cannot write process memory. `Verify`
    /// jobs read the slot's own output and are built as by [`IaaJobMemory::prepare`].
    pub fn prepare_reading(&self, s: Slot, job: IaaJob, src: &[u8]) {
        let i = s.index();
        let (base, lines) = self.span(i);
        let cap = lines * LINE;
        let rec = self.recs.addr(s);
        let outb = self.outbuf.addr(base).unwrap_or(0);
        let at = src.as_ptr() as u64;
        let n = |x: usize| x.min(cap) as u32;
        let desc = match job {
            IaaJob::Compress { len, max_out } => IaaCompress::new(
                at,
                n(len.min(src.len())),
                outb,
                n(max_out),
                self.aecs.addr(0).unwrap_or(0),
                rec,
            )
            .build(),
            IaaJob::Decompress { len, max_out } => {
                IaaDecompress::new(at, n(len.min(src.len())), outb, n(max_out), rec).build()
            }
            IaaJob::Verify { .. } => return self.prepare(s, job),
        };
        self.descs.write(i, &desc);
        self.reads_caller[i].set(true);
    }

    /// Submit `slot`'s prepared descriptor to `wq` once (its record reset first). Refusals
    /// (`NoCredit`, `Refused`, `RetriesExhausted`) may be retried by the caller.
    pub fn submit(&mut self, wq: &WorkQueue, s: Slot) -> Result<(), WqError> {
        let i = s.index();
        if !self.recs.is_in_use(s) || self.recs.is_quarantined(s) {
            return Err(WqError::BadSlot(i));
        }
        let desc = self.descs.read(i).ok_or(WqError::BadSlot(i))?;
        if self.reads_caller[i].get() && !wq.reads_process_memory() {
            return Err(WqError::BadConfig(
                "a descriptor naming the caller's memory needs a WQ whose device reads process memory",
            ));
        }
        self.recs.reset(s);
        // SAFETY: the DMA contract of `WorkQueue::submit`. The descriptor was built by
        // `prepare` from this memory's own addresses only (record, AECS, the slot's bounce
        // buffers), which the CPU accesses only through copies, never references; or by
        // `prepare_reading`, whose source is the caller's memory, read-only, and then only for
        // a device that reads through this process's page tables (checked just above), where
        // a read after the caller's borrow faults or sees stale bytes on the device side and
        // writes nothing. The memory
        // is not freed while the device may write it: `submitted` stays set until the slot is
        // released or reaped after its record was written, and Drop leaks everything while a
        // submitted record is unwritten or a slot is quarantined.
        let r = unsafe { wq.submit_iaa(&desc) };
        if r.is_ok() {
            self.submitted[i] = true;
        }
        r
    }

    /// Touch the faulting byte (read it, and write it back for a write fault) if it lies in
    /// this memory's buffers, as a CPU access would fault the page in.
    pub fn touch(&self, addr: u64, write: bool) {
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

    /// Whether the device may still write this memory: a slot quarantined, or submitted with
    /// its record unwritten.
    pub fn pending(&self) -> bool {
        self.recs.quarantined() > 0
            || self
                .submitted
                .iter()
                .enumerate()
                .any(|(i, &f)| f && self.recs.poll(Slot::from_index(i)).is_none())
    }

    /// Until when Drop waits for pending records (default: [`DROP_WAIT`] from the drop).
    pub fn set_drop_deadline(&mut self, at: Instant) {
        self.drop_deadline = Some(at);
    }

    /// The deadline Drop would use if dropped now.
    pub fn drop_deadline(&self) -> Instant {
        self.drop_deadline
            .unwrap_or_else(|| Instant::now() + DROP_WAIT)
    }

    /// Wait until nothing is pending or `deadline` passes; true when nothing is pending.
    pub fn settle(&mut self, deadline: Instant) -> bool {
        loop {
            self.reap();
            if !self.pending() {
                return true;
            }
            if Instant::now() >= deadline {
                return false;
            }
            std::thread::sleep(Duration::from_millis(1));
        }
    }
}

impl Drop for IaaJobMemory {
    fn drop(&mut self) {
        let deadline = self.drop_deadline();
        if self.settle(deadline) {
            // SAFETY: each field is dropped exactly once, here, and never touched again; the
            // device has written every record it was given, so it no longer accesses this
            // memory. (Otherwise everything is leaked: a late device write must not land in
            // freed memory.)
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{PortalAccept, SoftPortal, WqConfig, WqMode};
    use std::sync::{Arc, Mutex};

    /// A portal that keeps every descriptor; `complete()` writes each one's record (status 1).
    #[derive(Default)]
    struct Keep(Mutex<Vec<IaaDescriptor>>);

    impl SoftPortal for Keep {
        unsafe fn push(&self, desc: &[u8; 64], _mode: WqMode) -> PortalAccept {
            self.0
                .lock()
                .unwrap()
                .push(*bytemuck::from_bytes::<IaaDescriptor>(desc));
            PortalAccept::Accepted
        }
    }

    impl Keep {
        fn complete(&self) {
            for d in self.0.lock().unwrap().drain(..) {
                // SAFETY: (test) the record lies in the job memory, alive while we complete.
                unsafe { (d.completion_addr as *mut u8).write_volatile(1) };
            }
        }
    }

    fn inside(addr: u64, len: usize, regions: &[(*mut u8, usize)]) -> bool {
        regions
            .iter()
            .any(|&(p, n)| addr >= p as u64 && addr + len as u64 <= p as u64 + n as u64)
    }

    #[test]
    fn descriptors_name_only_the_memory_itself_and_settle_after_completion() {
        for pages in [false, true] {
            let portal = Arc::new(Keep::default());
            let wq = WorkQueue::with_model(portal.clone(), WqConfig::dedicated(8)).unwrap();
            let mut m = IaaJobMemory::new(2, 4096, pages).unwrap();
            let regions = m.device_regions();
            if pages {
                assert!(regions
                    .iter()
                    .all(|r| r.0 as usize % 4096 == 0 && r.1 % 4096 == 0));
            }
            let a = m.claim(1).unwrap();
            let b = m.claim(1).unwrap();
            assert!(m.claim(1).is_none());
            m.fill_input(a, &[7u8; 5000]); // clamped to the buffer
            m.prepare(
                a,
                IaaJob::Compress {
                    len: 5000,
                    max_out: 9999,
                },
            );
            m.prepare(b, IaaJob::Verify { len: 100 });
            m.submit(&wq, a).unwrap();
            m.submit(&wq, b).unwrap();
            let descs = portal.0.lock().unwrap().clone();
            for d in &descs {
                assert!(inside(d.completion_addr, 64, &regions));
                assert!(inside(d.src1_addr, d.src1_size as usize, &regions));
                assert!(inside(d.dst_addr, d.max_dst_size as usize, &regions));
                assert!(d.src1_size <= 4096 && d.max_dst_size <= 4096);
            }
            assert!(m.pending());
            assert!(!m.settle(Instant::now()), "nothing written yet");
            portal.complete();
            assert!(m.settle(Instant::now() + Duration::from_secs(1)));
            // A quarantined slot whose record then arrives is reaped.
            m.release(a);
            m.release(b);
            let c = m.claim(1).unwrap();
            m.prepare(
                c,
                IaaJob::Decompress {
                    len: 10,
                    max_out: 10,
                },
            );
            m.submit(&wq, c).unwrap();
            assert!(m.quarantine(c));
            assert!(m.pending());
            m.release(c); // refused: quarantined
            assert_eq!(m.quarantined(), 1);
            portal.complete();
            m.reap();
            assert_eq!(m.quarantined(), 0);
            assert!(!m.pending());
            // Reaped means free again: not submittable until claimed.
            assert!(matches!(m.submit(&wq, c), Err(WqError::BadSlot(_))));
        }
    }

    #[test]
    fn bad_sizes_are_errors() {
        assert!(IaaJobMemory::new(0, 4096, false).is_err());
        assert!(IaaJobMemory::new(4, 0, true).is_err());
    }

    #[test]
    fn large_units_take_large_slots_and_small_units_prefer_small_ones() {
        let portal = Arc::new(Keep::default());
        let wq = WorkQueue::with_model(portal.clone(), WqConfig::dedicated(8)).unwrap();
        let mut m = IaaJobMemory::with_sizes(2, 4096, 1, 65536, false).unwrap();
        assert_eq!((m.slots(), m.small_cap(), m.buf_cap()), (3, 4096, 65536));
        assert!(
            m.claim(65537).is_none(),
            "no slot holds more than the large size"
        );
        let big = m.claim(16384).unwrap();
        assert_eq!(m.cap_of(big), 65536);
        assert!(m.claim(4097).is_none(), "the one large slot is taken");
        let a = m.claim(4096).unwrap();
        let b = m.claim(100).unwrap();
        assert_eq!((m.cap_of(a), m.cap_of(b)), (4096, 4096));
        assert!(m.claim(1).is_none());
        m.fill_input(big, &[1u8; 65536]);
        m.prepare(
            big,
            IaaJob::Compress {
                len: 65536,
                max_out: 65535,
            },
        );
        m.prepare(
            a,
            IaaJob::Compress {
                len: 4096,
                max_out: 4095,
            },
        );
        m.submit(&wq, big).unwrap();
        m.submit(&wq, a).unwrap();
        let descs = portal.0.lock().unwrap().clone();
        let regions = m.device_regions();
        for d in &descs {
            assert!(inside(d.src1_addr, d.src1_size as usize, &regions));
            assert!(inside(d.dst_addr, d.max_dst_size as usize, &regions));
        }
        // The buffers do not overlap: the large slot's input ends before or starts after the
        // small slot's.
        let (x, y) = (&descs[0], &descs[1]);
        assert!(
            x.src1_addr + u64::from(x.src1_size) <= y.src1_addr
                || y.src1_addr + u64::from(y.src1_size) <= x.src1_addr
        );
        assert_eq!((x.src1_size, x.max_dst_size), (65536, 65535));
        portal.complete();
        assert!(m.settle(Instant::now() + Duration::from_secs(1)));
        m.release(big);
        m.release(a);
        m.release(b);
        // A small unit takes a small slot first, the large one only when they are gone.
        let s1 = m.claim(10).unwrap();
        let s2 = m.claim(10).unwrap();
        let s3 = m.claim(10).unwrap();
        assert_eq!(
            (m.cap_of(s1), m.cap_of(s2), m.cap_of(s3)),
            (4096, 4096, 65536)
        );
    }
}
