//! Aligned, zeroed, fixed-capacity slabs (allocated once) for descriptors, completion records
//! and AECS, and the completion-record slab with polling and quarantine.
//!
//! Device memory rules (spec §6.4): the device writes every byte of a record except the status
//! byte first, then the status byte last with release ordering. The reader here loads the
//! status byte atomically, and only after a non-zero value (acquire) copies the rest.

use std::alloc::{alloc_zeroed, dealloc, Layout};
use std::any::Any;
use std::ptr::NonNull;
use std::sync::atomic::{AtomicU8, Ordering};
use std::time::{Duration, Instant};

use bytemuck::Pod;
use iaa_descriptors::{
    CompressAecs, DecompressAecs, DsaCompletionRecord, DsaDescriptor, IaaCompletionRecord,
    IaaDescriptor,
};

use crate::WqError;

/// Page size for [`Slab::new_pages`] (x86: 4 KiB; IOMMU mappings are made in whole pages).
pub const PAGE: usize = 4096;

/// A fixed number of `T`, zeroed, aligned as `T` demands (64 for descriptors and IAA records,
/// 32 for DSA records and AECS), allocated once in [`Slab::new`] and never moved or grown.
///
/// Elements are accessed through copies (`read`/`write`), never references, because a device
/// may be reading or writing them at the same time as the CPU holds the slab.
pub struct Slab<T: Pod> {
    ptr: NonNull<T>,
    cap: usize,
    /// Alignment of the allocation (at least `align_of::<T>()`; 4096 for [`Slab::new_pages`]).
    align: usize,
}

// SAFETY: the slab owns plain-old-data memory; every access goes through raw pointers with
// volatile/atomic operations, so sharing the handle between threads adds no aliasing of Rust
// references. Cross-thread use follows the DMA contract of `WorkQueue::submit`.
unsafe impl<T: Pod> Send for Slab<T> {}
// SAFETY: as above.
unsafe impl<T: Pod> Sync for Slab<T> {}

impl<T: Pod> Slab<T> {
    /// `cap` zeroed elements (`cap` >= 1).
    pub fn new(cap: usize) -> Result<Self, WqError> {
        Self::with_align(cap, core::mem::align_of::<T>())
    }

    /// `cap` zeroed elements in whole 4 KiB pages of their own (start page-aligned, size
    /// rounded up to pages), so the slab can be mapped through an IOMMU (VFIO) without
    /// exposing any other memory to the device.
    pub fn new_pages(cap: usize) -> Result<Self, WqError> {
        Self::with_align(cap, PAGE)
    }

    fn with_align(cap: usize, align: usize) -> Result<Self, WqError> {
        let layout = Self::layout(cap, align)?;
        // SAFETY: the layout has non-zero size (cap >= 1 and T is not zero-sized: checked in
        // `layout`).
        let raw = unsafe { alloc_zeroed(layout) };
        let ptr = NonNull::new(raw.cast::<T>()).ok_or(WqError::Alloc {
            bytes: layout.size(),
        })?;
        Ok(Slab { ptr, cap, align })
    }

    fn layout(cap: usize, align: usize) -> Result<Layout, WqError> {
        if cap == 0 || core::mem::size_of::<T>() == 0 {
            return Err(WqError::BadCapacity(cap));
        }
        let a = Layout::array::<T>(cap).map_err(|_| WqError::BadCapacity(cap))?;
        let align = align.max(a.align());
        let size = a
            .size()
            .checked_next_multiple_of(align)
            .ok_or(WqError::BadCapacity(cap))?;
        Layout::from_size_align(size, align).map_err(|_| WqError::BadCapacity(cap))
    }

    /// The whole allocation: its start and its size in bytes (a multiple of 4 KiB for
    /// [`Slab::new_pages`]).
    pub fn region(&self) -> (*mut u8, usize) {
        let size = Self::layout(self.cap, self.align).map_or(0, |l| l.size());
        (self.ptr.as_ptr().cast(), size)
    }

    /// Number of elements.
    pub fn capacity(&self) -> usize {
        self.cap
    }

    /// Pointer to element `i`, if in range.
    pub fn ptr(&self, i: usize) -> Option<*mut T> {
        // SAFETY: i < cap, so the offset stays inside the allocation.
        (i < self.cap).then(|| unsafe { self.ptr.as_ptr().add(i) })
    }

    /// Address of element `i` as a device sees it with SVA (the process virtual address).
    pub fn addr(&self, i: usize) -> Option<u64> {
        self.ptr(i).map(|p| p as u64)
    }

    /// A copy of element `i`.
    pub fn read(&self, i: usize) -> Option<T> {
        // SAFETY: the pointer is in range and aligned; T is Pod, so any bytes are a valid T.
        self.ptr(i).map(|p| unsafe { p.read_volatile() })
    }

    /// Copy the bytes starting at element `first` into `dst` (one `memcpy`); false, copying
    /// nothing, if they run past the end. For memory the device wrote: call it only after the
    /// record that covers it showed completion (acquire).
    pub fn read_bytes(&self, first: usize, dst: &mut [u8]) -> bool {
        let Some(src) = self.byte_range(first, dst.len()) else {
            return false;
        };
        // SAFETY: `src..src+len` lies inside this slab's allocation (checked); `dst` is a
        // distinct Rust buffer, so the ranges do not overlap; the device does not write these
        // bytes now (the caller's contract above), and nothing holds a reference into them.
        unsafe { std::ptr::copy_nonoverlapping(src, dst.as_mut_ptr(), dst.len()) };
        true
    }

    /// Copy `src` into the bytes starting at element `first` (one `memcpy`); false, copying
    /// nothing, if they run past the end. The device must not be reading or writing them (the
    /// submit contract: the slot is not in flight).
    pub fn write_bytes(&self, first: usize, src: &[u8]) -> bool {
        let Some(dst) = self.byte_range(first, src.len()) else {
            return false;
        };
        // SAFETY: `dst..dst+len` lies inside this slab's allocation (checked) and no reference
        // into it exists; `src` is a distinct Rust buffer, so the ranges do not overlap.
        unsafe { std::ptr::copy_nonoverlapping(src.as_ptr(), dst.cast_mut(), src.len()) };
        true
    }

    /// Start of `len` bytes at element `first`, if they fit in the slab.
    fn byte_range(&self, first: usize, len: usize) -> Option<*const u8> {
        let size = core::mem::size_of::<T>();
        let start = first.checked_mul(size)?;
        let end = start.checked_add(len)?;
        if end > self.cap.checked_mul(size)? {
            return None;
        }
        // SAFETY: `start <= cap * size`, inside (or one past) the allocation.
        Some(unsafe { self.ptr.as_ptr().cast::<u8>().add(start) }.cast_const())
    }

    /// Overwrite element `i`; false if out of range.
    pub fn write(&self, i: usize, v: &T) -> bool {
        match self.ptr(i) {
            Some(p) => {
                // SAFETY: in range and aligned; the element is not in flight (submit contract).
                unsafe { p.write_volatile(*v) };
                true
            }
            None => false,
        }
    }
}

impl<T: Pod> Drop for Slab<T> {
    fn drop(&mut self) {
        if let Ok(layout) = Self::layout(self.cap, self.align) {
            // SAFETY: allocated in `with_align` with exactly this layout.
            unsafe { dealloc(self.ptr.as_ptr().cast(), layout) };
        }
    }
}

/// Slab of IAA descriptors (64-byte aligned).
pub type IaaDescriptorSlab = Slab<IaaDescriptor>;
/// Slab of DSA descriptors (64-byte aligned).
pub type DsaDescriptorSlab = Slab<DsaDescriptor>;
/// Slab of compress AECS (32-byte aligned).
pub type CompressAecsSlab = Slab<CompressAecs>;
/// Slab of decompress AECS (32-byte aligned).
pub type DecompressAecsSlab = Slab<DecompressAecs>;

/// A completion record: plain data whose first byte is the status (0 = not complete).
pub trait CompletionRecord: Pod {
    /// The status code of a record (status byte & 0x7F), for diagnostics.
    fn status_code(&self) -> u8;
}
impl CompletionRecord for IaaCompletionRecord {
    fn status_code(&self) -> u8 {
        self.status & 0x7F
    }
}
impl CompletionRecord for DsaCompletionRecord {
    fn status_code(&self) -> u8 {
        self.status & 0x7F
    }
}

impl<R: CompletionRecord> Slab<R> {
    /// The status byte of record `i` as an atomic, borrowed from the slab (the device writes
    /// it while the CPU looks, so it is never read as a plain byte).
    #[inline]
    pub fn status(&self, i: usize) -> Option<&AtomicU8> {
        // SAFETY: `i` is in range, so the pointer is a live record owned by `self`, and the
        // reference lives no longer than `self`. Byte 0 is the record's status; AtomicU8 has
        // the layout of u8, and the device and the CPU only ever access that byte atomically.
        self.ptr(i).map(|p| unsafe { &*p.cast::<AtomicU8>() })
    }

    /// Poll record `i` once: `Some(copy)` when its status is non-zero ([`poll_raw`]).
    #[inline]
    pub fn poll(&self, i: usize) -> Option<R> {
        let p = self.ptr(i)?;
        // SAFETY: in range, aligned, owned by the slab.
        unsafe { poll_raw(p) }
    }
}

/// Poll a record once: `Some(copy)` when its status is non-zero. The status is read with an
/// acquire load, so every other byte the device wrote before it is visible in the copy.
///
/// # Safety
/// `rec` points to a live, aligned completion record.
#[inline]
pub unsafe fn poll_raw<R: CompletionRecord>(rec: *const R) -> Option<R> {
    // SAFETY: the record is live (caller) and byte 0 is its status; AtomicU8 has the layout
    // of u8 and the device and the CPU only ever access that byte atomically. The reference
    // does not outlive this statement.
    let st = unsafe { &*rec.cast::<AtomicU8>() }.load(Ordering::Acquire);
    if st == 0 {
        return None;
    }
    // SAFETY: the device finished writing the record before it stored the status (release);
    // the acquire load above orders this copy after those writes.
    Some(unsafe { rec.read_volatile() })
}

/// An identifier of one record in a [`RecordSlab`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Slot(u32);

impl Slot {
    /// The index in the slab.
    pub const fn index(self) -> usize {
        self.0 as usize
    }

    /// The slot of index `i` (callers check the range against their slab).
    pub(crate) const fn from_index(i: usize) -> Slot {
        Slot(i as u32)
    }
}

/// What a bounded wait ended with.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WaitOutcome<R> {
    /// The device wrote the record (copy included).
    Done(R),
    /// The time budget ran out before the status became non-zero. The record and every buffer
    /// of its descriptor must be quarantined ([`RecordSlab::quarantine`]).
    TimedOut,
}

/// Escalating wait: spin with PAUSE, then yield the CPU, bounded by a time budget. The clock is
/// read only every few iterations.
#[derive(Debug)]
pub struct Waiter {
    /// When the wait started; `None` until the first pause of an [`Waiter::idle`] waiter.
    start: Option<Instant>,
    budget: Duration,
    iters: u32,
    spins: u32,
}

/// PAUSE iterations before the waiter starts yielding (or UMWAITing).
const SPIN_ITERS: u32 = 2048;
/// Longest single UMWAIT, in TSC cycles (~50 us at 2 GHz); the budget is re-checked after it.
pub(crate) const UMWAIT_CYCLES: u64 = 100_000;

impl Waiter {
    /// A waiter with `budget` of time, starting now.
    pub fn new(budget: Duration) -> Self {
        Waiter {
            start: Some(Instant::now()),
            budget,
            iters: 0,
            spins: SPIN_ITERS,
        }
    }

    /// A waiter for a loop that mostly makes progress: its clock starts at the first pause
    /// (so [`Waiter::reset`] after progress costs no clock read), and it yields (or UMWAITs)
    /// after `spins` PAUSEs.
    pub fn idle(budget: Duration, spins: u32) -> Self {
        Waiter {
            start: None,
            budget,
            iters: 0,
            spins,
        }
    }

    /// Start over (progress was made).
    #[inline]
    pub fn reset(&mut self) {
        self.start = None;
        self.iters = 0;
    }

    /// Pause once; `false` when the budget is spent (then stop waiting).
    #[inline]
    pub fn pause(&mut self) -> bool {
        let start = *self.start.get_or_insert_with(Instant::now);
        self.iters = self.iters.wrapping_add(1);
        if self.iters < self.spins {
            core::hint::spin_loop();
        } else {
            std::thread::yield_now();
        }
        if self.iters.is_multiple_of(64) || self.iters >= self.spins {
            return start.elapsed() < self.budget;
        }
        true
    }

    /// Whether the spinning phase is over.
    pub fn spun(&self) -> bool {
        self.iters >= self.spins
    }

    /// Time spent so far.
    pub fn elapsed(&self) -> Duration {
        self.start.map_or(Duration::ZERO, |s| s.elapsed())
    }
}

struct Quarantined {
    slot: u32,
    _keep: Option<Box<dyn Any + Send>>,
}

/// Completion records with a free list and a quarantine: a record whose wait timed out is never
/// handed out again (and the caller's buffers given to [`RecordSlab::quarantine`] are never
/// dropped) until the device is seen to have written it ([`RecordSlab::reap`]).
pub struct RecordSlab<R: CompletionRecord> {
    slab: Slab<R>,
    free: Vec<u32>,
    in_use: Vec<bool>,
    quarantine: Vec<Quarantined>,
}

impl<R: CompletionRecord> RecordSlab<R> {
    /// `cap` zeroed records, all free.
    pub fn new(cap: usize) -> Result<Self, WqError> {
        Self::from_slab(Slab::new(cap)?)
    }

    /// As [`RecordSlab::new`], the records in pages of their own ([`Slab::new_pages`]).
    pub fn new_pages(cap: usize) -> Result<Self, WqError> {
        Self::from_slab(Slab::new_pages(cap)?)
    }

    /// The records' memory (start, bytes), e.g. to map it through an IOMMU.
    pub fn region(&self) -> (*mut u8, usize) {
        self.slab.region()
    }

    fn from_slab(slab: Slab<R>) -> Result<Self, WqError> {
        let cap = slab.capacity();
        let cap32 = u32::try_from(cap).map_err(|_| WqError::BadCapacity(cap))?;
        Ok(RecordSlab {
            slab,
            free: (0..cap32).rev().collect(),
            in_use: vec![false; cap],
            quarantine: Vec::with_capacity(cap),
        })
    }

    /// Number of records.
    pub fn capacity(&self) -> usize {
        self.slab.capacity()
    }

    /// Records free to claim.
    pub fn free_count(&self) -> usize {
        self.free.len()
    }

    /// Records in quarantine.
    pub fn quarantined(&self) -> usize {
        self.quarantine.len()
    }

    /// Take a free record, its status reset to 0; `None` when all are in use or quarantined.
    pub fn claim(&mut self) -> Option<Slot> {
        let i = self.free.pop()?;
        self.in_use[i as usize] = true;
        self.reset(Slot(i));
        Some(Slot(i))
    }

    /// Take a free record whose index `fits`, its status reset to 0; `None` when none is free.
    /// Scans the free list (no allocation).
    pub fn claim_where(&mut self, fits: impl Fn(usize) -> bool) -> Option<Slot> {
        let pos = self.free.iter().rposition(|&i| fits(i as usize))?;
        let i = self.free.remove(pos);
        self.in_use[i as usize] = true;
        self.reset(Slot(i));
        Some(Slot(i))
    }

    /// Give a record back after its completion was consumed.
    pub fn release(&mut self, s: Slot) -> Result<(), WqError> {
        match self.in_use.get_mut(s.index()) {
            Some(u) if *u => {
                *u = false;
                self.free.push(s.0);
                Ok(())
            }
            _ => Err(WqError::BadSlot(s.index())),
        }
    }

    /// The device address of the record (for the descriptor's completion address).
    pub fn addr(&self, s: Slot) -> u64 {
        // Slots only come from `claim`, so the index is in range.
        self.slab.addr(s.index()).unwrap_or(0)
    }

    /// Reset the status byte to 0 (before reuse or resubmission).
    pub fn reset(&self, s: Slot) {
        if let Some(st) = self.slab.status(s.index()) {
            st.store(0, Ordering::Relaxed);
        }
    }

    /// Poll once: `Some(record)` when the device has written it.
    #[inline]
    pub fn poll(&self, s: Slot) -> Option<R> {
        self.slab.poll(s.index())
    }

    /// Poll until done or until `budget` is spent: spin with PAUSE, then (where the CPU has
    /// WAITPKG) UMONITOR/UMWAIT on the record, else yield.
    pub fn wait(&self, s: Slot, budget: Duration) -> WaitOutcome<R> {
        let mut w = Waiter::new(budget);
        let umwait = crate::CpuFeatures::get().waitpkg;
        loop {
            if let Some(r) = self.poll(s) {
                return WaitOutcome::Done(r);
            }
            if umwait && w.spun() {
                if let Some(p) = self.slab.ptr(s.index()) {
                    // SAFETY: WAITPKG checked; the record is live memory of this slab.
                    unsafe {
                        crate::hw::umwait_on(p.cast(), UMWAIT_CYCLES, || self.poll(s).is_none())
                    };
                }
            }
            if !w.pause() {
                // One last look so a completion that raced the deadline is not lost.
                return match self.poll(s) {
                    Some(r) => WaitOutcome::Done(r),
                    None => WaitOutcome::TimedOut,
                };
            }
        }
    }

    /// Quarantine a record whose wait timed out, together with whatever owns the buffers of its
    /// descriptor (`keep`): neither is reused nor dropped until [`RecordSlab::reap`] sees the
    /// device write the record.
    pub fn quarantine(
        &mut self,
        s: Slot,
        keep: Option<Box<dyn Any + Send>>,
    ) -> Result<(), WqError> {
        match self.in_use.get(s.index()) {
            Some(true) => {}
            _ => return Err(WqError::BadSlot(s.index())),
        }
        if self.quarantine.iter().any(|q| q.slot == s.0) {
            return Err(WqError::BadSlot(s.index()));
        }
        self.quarantine.push(Quarantined {
            slot: s.0,
            _keep: keep,
        });
        Ok(())
    }

    /// Release every quarantined record the device has now written (dropping the buffers kept
    /// with it); returns how many were released.
    pub fn reap(&mut self) -> usize {
        let mut n = 0;
        let mut i = 0;
        while i < self.quarantine.len() {
            let slot = Slot(self.quarantine[i].slot);
            if self.poll(slot).is_some() {
                let q = self.quarantine.swap_remove(i);
                drop(q);
                self.reset(slot);
                self.in_use[slot.index()] = false;
                self.free.push(slot.0);
                n += 1;
            } else {
                i += 1;
            }
        }
        n
    }

    /// Whether a slot is claimed (in use or quarantined).
    pub fn is_in_use(&self, s: Slot) -> bool {
        self.in_use.get(s.index()).copied().unwrap_or(false)
    }

    /// Whether a slot is in quarantine.
    pub fn is_quarantined(&self, s: Slot) -> bool {
        self.quarantine.iter().any(|q| q.slot == s.0)
    }
}

/// IAA completion records (64-byte aligned).
pub type IaaRecords = RecordSlab<IaaCompletionRecord>;
/// DSA completion records (32-byte aligned).
pub type DsaRecords = RecordSlab<DsaCompletionRecord>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slabs_are_aligned_and_zeroed() {
        let d: IaaDescriptorSlab = Slab::new(5).unwrap();
        let r: IaaRecords = RecordSlab::new(7).unwrap();
        let dr: DsaRecords = RecordSlab::new(3).unwrap();
        let a: CompressAecsSlab = Slab::new(2).unwrap();
        for i in 0..5 {
            assert_eq!(d.addr(i).unwrap() % 64, 0);
            assert_eq!(d.read(i).unwrap(), bytemuck::Zeroable::zeroed());
        }
        assert!(d.addr(5).is_none() && d.read(5).is_none());
        for i in 0..2 {
            assert_eq!(a.addr(i).unwrap() % 32, 0);
        }
        assert_eq!(r.capacity(), 7);
        assert_eq!(r.slab.addr(1).unwrap() - r.slab.addr(0).unwrap(), 64);
        assert_eq!(dr.slab.addr(1).unwrap() - dr.slab.addr(0).unwrap(), 32);
        assert!(matches!(
            Slab::<IaaDescriptor>::new(0),
            Err(WqError::BadCapacity(0))
        ));
    }

    #[test]
    fn claim_release_and_exhaustion() {
        let mut r: IaaRecords = RecordSlab::new(2).unwrap();
        let a = r.claim().unwrap();
        let b = r.claim().unwrap();
        assert_ne!(a, b);
        assert!(r.claim().is_none());
        r.release(a).unwrap();
        assert!(r.release(a).is_err(), "double release is refused");
        assert_eq!(r.claim(), Some(a));
    }

    fn complete(r: &IaaRecords, s: Slot, status: u8) {
        let p = r.slab.ptr(s.index()).unwrap();
        // SAFETY: test-only stand-in for the device: write a field, then the status byte.
        unsafe { (*p).output_size = 1234 };
        r.slab
            .status(s.index())
            .unwrap()
            .store(status, Ordering::Release);
    }

    #[test]
    fn poll_sees_status_and_fields() {
        let mut r: IaaRecords = RecordSlab::new(1).unwrap();
        let s = r.claim().unwrap();
        assert!(r.poll(s).is_none());
        complete(&r, s, 1);
        let rec = r.poll(s).unwrap();
        assert_eq!((rec.status, rec.output_size), (1, 1234));
        r.reset(s);
        assert!(r.poll(s).is_none());
    }

    #[test]
    fn wait_is_bounded() {
        let mut r: IaaRecords = RecordSlab::new(1).unwrap();
        let s = r.claim().unwrap();
        let t = Instant::now();
        assert_eq!(r.wait(s, Duration::from_millis(20)), WaitOutcome::TimedOut);
        let el = t.elapsed();
        assert!(
            el >= Duration::from_millis(20) && el < Duration::from_secs(2),
            "{el:?}"
        );
    }

    #[test]
    fn quarantine_holds_slot_and_buffers_until_device_done() {
        use std::sync::Arc;
        let mut r: IaaRecords = RecordSlab::new(1).unwrap();
        let s = r.claim().unwrap();
        let buf = Arc::new(vec![0u8; 16]);
        r.quarantine(s, Some(Box::new(Arc::clone(&buf)))).unwrap();
        assert!(r.is_quarantined(s));
        assert!(r.quarantine(s, None).is_err());
        assert_eq!(r.reap(), 0);
        assert!(
            r.claim().is_none(),
            "a quarantined record is never handed out"
        );
        assert_eq!(
            Arc::strong_count(&buf),
            2,
            "buffers stay owned by the quarantine"
        );
        complete(&r, s, 0x24);
        assert_eq!(r.reap(), 1);
        assert_eq!(
            Arc::strong_count(&buf),
            1,
            "buffers dropped once the device is done"
        );
        let again = r.claim().unwrap();
        assert_eq!(again, s);
        assert!(r.poll(again).is_none(), "status reset before reuse");
    }
}

#[cfg(test)]
mod page_tests {
    use super::*;

    #[test]
    fn page_slabs_own_whole_pages() {
        let s: Slab<IaaDescriptor> = Slab::new_pages(3).unwrap();
        let (p, n) = s.region();
        assert_eq!(p as usize % PAGE, 0);
        assert_eq!(n, PAGE);
        let big: Slab<IaaDescriptor> = Slab::new_pages(65).unwrap();
        assert_eq!(big.region().1, 2 * PAGE);
        let r: IaaRecords = RecordSlab::new_pages(8).unwrap();
        assert_eq!(r.region().0 as usize % PAGE, 0);
        // An ordinary slab is exactly its elements.
        let o: Slab<IaaDescriptor> = Slab::new(3).unwrap();
        assert_eq!(o.region().1, 3 * 64);
        assert!(s.write(2, &<IaaDescriptor as bytemuck::Zeroable>::zeroed()));
        assert!(!s.write(3, &<IaaDescriptor as bytemuck::Zeroable>::zeroed()));
    }
}
