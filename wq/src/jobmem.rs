//! [`IaaJobMemory`]: everything an IAA compress/decompress job may let the device touch, owned
//! in one place, and the one table of its slots' states, so submitting a job is safe.
//!
//! Per slot: a 64-byte-aligned completion record, an input and an output bounce buffer; one
//! pair of fixed-mode AECS for all slots. Slots come in two sizes ([`Layout`]):
//! many small ones (a 4 KiB page each) and a few large ones (16 or 64 KiB units), so large
//! units run on the device without every slot being large.
//!
//! # The slot table
//! Each slot is in one state, kept here and nowhere else:
//!
//! ```text
//!   Free --claim--> Claimed --submit--> InFlight(wq) --poll sees the record--> Claimed --release--> Free
//!                      ^                    |   \--reap sees the record--> Written --poll--> Claimed
//!                      |                    \--quarantine--> Quarantined(wq) --reap sees the record--> Free
//!                      \------------------------------------ resubmit (a Claimed slot again) ----/
//! ```
//!
//! The table owns the WQ credits of its descriptors: a credit goes back to the WQ the slot was
//! submitted to exactly once, when the record is first seen written (by [`IaaJobMemory::poll`]
//! or [`IaaJobMemory::reap`]). Submission makes at most `1 + retries` attempts
//! ([`WorkQueue::submit_with`], the only retry loop) and reaps this table's completions between
//! attempts, so a dedicated WQ whose credits this context holds gets them back before the next
//! try.
//!
//! Descriptors are built on the stack from this memory's own addresses (or, with
//! [`Input::InPlace`], the caller's input for a device that reads process memory) and submitted
//! at once; the memory is freed only when no record the device may still write is pending
//! (otherwise it is leaked), so [`IaaJobMemory::submit`] keeps the DMA contract of
//! [`WorkQueue::submit`] by construction.

use std::mem::ManuallyDrop;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use bytemuck::{Pod, Zeroable};
use iaa_descriptors::{
    CompressAecs, Histogram, IaaCompletionRecord, IaaCompress, IaaCompressStats, IaaCrc64,
    IaaDecompress, IaaDescriptor, HISTOGRAM_BYTES,
};

use crate::slab::{Slab, Slot};
use crate::{WorkQueue, WqError};

/// One 64-byte line of a bounce buffer (64-byte aligned).
#[derive(Clone, Copy, Pod, Zeroable)]
#[repr(C, align(64))]
struct Line([u8; 64]);

/// One slot's statistics output (the histogram of a statistics pass), 64-byte aligned.
#[derive(Clone, Copy, Pod, Zeroable)]
#[repr(C, align(64))]
struct HistBuf([u8; HISTOGRAM_BYTES]);

/// Counters per symbol of a statistics pass: literal/length (286 + 2 unused) then distance
/// (30 + 2 unused), as the device writes them.
pub const HISTOGRAM_COUNTERS: usize = HISTOGRAM_BYTES / 4;

const LINE: usize = 64;
/// Lines per 4 KiB page.
const PAGE_LINES: usize = 4096 / LINE;

/// How long dropping job memory waits by default for the device to finish pending records
/// before it leaks the memory instead of freeing it.
pub const DROP_WAIT: Duration = Duration::from_millis(200);

/// What a slot's descriptor asks the device to do.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum IaaJob {
    /// Compress the slot's input (`len` bytes) into its output buffer, at most `max_out` bytes,
    /// with the fixed Huffman tables.
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
    /// check it (the record's CRC). The destination the descriptor names (never written) is
    /// the slot's input buffer, or with [`Input::InPlace`] the original input, as the kernel's
    /// `iaa_compress_verify` does.
    Verify {
        /// Compressed bytes in the output buffer.
        len: usize,
    },
    /// Statistics pass (dynamic Huffman, first of two passes): the literal/length and distance
    /// histogram of the input (`len` bytes) into the slot's statistics buffer
    /// ([`IaaJobMemory::histogram`]); no compressed output. Needs [`Layout::slot_tables`].
    Stats {
        /// Input bytes.
        len: usize,
    },
    /// Compress as [`IaaJob::Compress`], with the code of the slot's own table
    /// ([`IaaJobMemory::set_slot_table`]) instead of the context's. Needs
    /// [`Layout::slot_tables`].
    CompressWithSlotTable {
        /// Input bytes.
        len: usize,
        /// Output limit (at most the buffer capacity).
        max_out: usize,
    },
    /// CRC64 of the input (`len` bytes) with polynomial `poly` (the record's bytes 40-47);
    /// nothing is written but the record.
    Crc64 {
        /// Input bytes.
        len: usize,
        /// The descriptor's polynomial field.
        poly: u64,
        /// Flag bit 15: most-significant bit first.
        msb_first: bool,
        /// Flag bit 14: invert the initial value and the result.
        invert: bool,
    },
}

/// The shape of an [`IaaJobMemory`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Layout {
    /// Small slots (at least 1).
    pub slots: usize,
    /// Bytes of each small slot's buffers (rounded up to 64).
    pub buf_cap: usize,
    /// Large slots (0 for none).
    pub large: usize,
    /// Bytes of each large slot's buffers (at least `buf_cap` when `large > 0`).
    pub large_cap: usize,
    /// Records, tables and buffers each in whole 4 KiB pages of their own, so they can be
    /// mapped through an IOMMU ([`IaaJobMemory::device_regions`]).
    pub pages: bool,
    /// Give each slot an input buffer of its size; false for a device that reads process
    /// memory, where every input is read in place ([`Input::InPlace`]) and the memory is
    /// about half.
    pub copy_inputs: bool,
    /// Give each slot a compress table of its own and a statistics buffer (dynamic Huffman
    /// compression: [`IaaJob::Stats`], [`IaaJob::CompressWithSlotTable`]), 4,416 bytes more
    /// per slot.
    pub slot_tables: bool,
}

impl Layout {
    /// `slots` slots of `buf_cap` bytes, input buffers, no large slots, no slot tables.
    pub const fn small(slots: usize, buf_cap: usize, pages: bool) -> Layout {
        Layout {
            slots,
            buf_cap,
            large: 0,
            large_cap: 0,
            pages,
            copy_inputs: true,
            slot_tables: false,
        }
    }
}

/// Where a compress or decompress descriptor reads its input.
#[derive(Clone, Copy, Debug)]
pub enum Input<'a> {
    /// The slot's input buffer, filled with [`IaaJobMemory::fill_input`].
    Copied,
    /// The caller's bytes where they are (zero-copy). Accepted only by a WQ whose device reads
    /// process memory ([`WorkQueue::reads_process_memory`]). The device may read them after
    /// the caller's borrow ends (a unit abandoned after a timeout); such a unit's result is
    /// never used, and a late read cannot write process memory.
    InPlace(&'a [u8]),
}

/// The state of one slot (see the module docs).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum State {
    Free,
    /// Held by the caller: not submitted, or its record consumed.
    Claimed,
    /// Submitted to WQ `wq`; the device may write the record and the output buffer.
    InFlight {
        wq: u16,
    },
    /// In flight, and its record seen written by [`IaaJobMemory::reap`] (credit returned);
    /// the caller has not polled it yet.
    Written,
    /// Given up on while in flight on WQ `wq`: not reused until the record is written.
    Quarantined {
        wq: u16,
    },
}

/// One row of the table: the state and what the last descriptor asked (for a resubmission).
#[derive(Clone, Copy, Debug)]
struct Row {
    state: State,
    job: IaaJob,
    /// The caller's memory the last descriptor named (its input; for a verify, the original
    /// input as the never-written destination), else 0.
    src: u64,
    /// Its length.
    src_len: usize,
}

/// Why a submission did not happen.
#[derive(Debug, thiserror::Error)]
pub enum SubmitError {
    /// The WQ kept refusing (full, no credit, disabled) until the retry budget ran out
    /// (`retries` retries were made): try later, or do the unit elsewhere.
    #[error("the WQ refused the descriptor until the retry budget ran out: {error}")]
    Busy {
        /// What the last attempt saw.
        error: WqError,
        /// Retries made.
        retries: u32,
    },
    /// The portal or the call failed (a broken portal, a bad slot, zero-copy to a WQ that
    /// cannot read process memory).
    #[error("submission failed: {0}")]
    Failed(WqError),
}

/// The device-visible memory of `slots` IAA jobs and their slot table. See the module docs.
pub struct IaaJobMemory {
    recs: ManuallyDrop<Slab<IaaCompletionRecord>>,
    /// The context's table pair (`0`, `1`: fixed, or set with [`IaaJobMemory::set_table`]),
    /// then with slot tables a pair per slot (`2 + 2i`, `3 + 2i`).
    aecs: ManuallyDrop<Slab<CompressAecs>>,
    /// With slot tables, one statistics buffer per slot (else one, unused).
    hist: ManuallyDrop<Slab<HistBuf>>,
    slot_tables: bool,
    inbuf: ManuallyDrop<Slab<Line>>,
    outbuf: ManuallyDrop<Slab<Line>>,
    /// Slots `0..small` have `lines` lines each; slots `small..` have `large_lines`.
    small: usize,
    lines: usize,
    large_lines: usize,
    rows: Box<[Row]>,
    /// Slots in `Quarantined` or `InFlight` (what `reap` must look at).
    out: usize,
    /// Whether the slots have input buffers ([`Input::Copied`]); without them every input is
    /// read in place.
    copies_inputs: bool,
    quarantined: usize,
    drop_deadline: Option<Instant>,
}

impl IaaJobMemory {
    /// Memory for `slots` jobs with bounce buffers of at least `buf_cap` bytes (rounded up to
    /// 64). `pages`: records, AECS and buffers each in whole 4 KiB pages of their own, so
    /// they can be mapped through an IOMMU ([`IaaJobMemory::device_regions`]).
    pub fn new(slots: usize, buf_cap: usize, pages: bool) -> Result<Self, WqError> {
        Self::with_layout(Layout::small(slots, buf_cap, pages))
    }

    /// Memory of the given [`Layout`]: `slots` jobs of at least `buf_cap` bytes and `large`
    /// jobs of at least `large_cap` bytes. [`IaaJobMemory::claim`] hands out the smallest free
    /// slot that fits the unit. At most 65,535 slots.
    pub fn with_layout(l: Layout) -> Result<Self, WqError> {
        let Layout {
            slots,
            buf_cap,
            large,
            large_cap,
            pages,
            copy_inputs,
            slot_tables,
        } = l;
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
            .filter(|&n| n <= u16::MAX as usize)
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
        let tables = if slot_tables { 2 + 2 * slots_all } else { 2 };
        let aecs = if pages {
            Slab::new_pages(tables)?
        } else {
            Slab::new(tables)?
        };
        for i in 0..tables {
            aecs.write(i, &CompressAecs::fixed());
        }
        let hists = if slot_tables { slots_all } else { 1 };
        let hist = if pages {
            Slab::new_pages(hists)?
        } else {
            Slab::new(hists)?
        };
        let recs = if pages {
            Slab::new_pages(slots_all)?
        } else {
            Slab::new(slots_all)?
        };
        let (inbuf, outbuf) = (buf(if copy_inputs { total } else { 1 })?, buf(total)?);
        // Make every buffer page resident now: the allocator may hand out untouched zero pages
        // (fresh mmap), and the device's first write to such a page would fault (a page-fault
        // completion and a resubmission, or with block-on-fault a stall) on the hot path.
        for slab in [&inbuf, &outbuf] {
            for i in (0..slab.capacity()).step_by(PAGE_LINES) {
                slab.write(i, &Line([0; LINE]));
            }
        }
        let mut rows = Vec::new();
        rows.try_reserve_exact(slots_all)
            .map_err(|_| WqError::Alloc {
                bytes: slots_all * std::mem::size_of::<Row>(),
            })?;
        rows.resize(
            slots_all,
            Row {
                state: State::Free,
                job: IaaJob::Verify { len: 0 },
                src: 0,
                src_len: 0,
            },
        );
        Ok(IaaJobMemory {
            recs: ManuallyDrop::new(recs),
            aecs: ManuallyDrop::new(aecs),
            hist: ManuallyDrop::new(hist),
            slot_tables,
            inbuf: ManuallyDrop::new(inbuf),
            outbuf: ManuallyDrop::new(outbuf),
            small: slots,
            lines,
            large_lines,
            rows: rows.into_boxed_slice(),
            out: 0,
            copies_inputs: copy_inputs,
            quarantined: 0,
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
        self.rows.len()
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
    /// (start, bytes): what to map through an IOMMU.
    pub fn device_regions(&self) -> [(*mut u8, usize); 5] {
        [
            self.recs.region(),
            self.aecs.region(),
            self.hist.region(),
            self.inbuf.region(),
            self.outbuf.region(),
        ]
    }

    /// Whether the slots have tables of their own ([`Layout::slot_tables`]).
    pub fn has_slot_tables(&self) -> bool {
        self.slot_tables
    }

    /// Replace the context's table (the one [`IaaJob::Compress`] uses; fixed by default), e.g.
    /// with a trained dynamic code. Only while no slot is in flight (false otherwise).
    pub fn set_table(&mut self, table: &CompressAecs) -> bool {
        if self.out > 0 {
            return false;
        }
        self.aecs.write(0, table) && self.aecs.write(1, table)
    }

    /// Set the claimed slot `s`'s own table (for [`IaaJob::CompressWithSlotTable`]); false
    /// when the memory has no slot tables or `s` is not claimed.
    pub fn set_slot_table(&self, s: Slot, table: &CompressAecs) -> bool {
        let i = s.index();
        self.slot_tables
            && self.rows.get(i).map(|r| r.state) == Some(State::Claimed)
            && self.aecs.write(2 + 2 * i, table)
    }

    /// The histogram a statistics pass of slot `s` wrote. Call after [`IaaJobMemory::poll`]
    /// returned its record.
    pub fn histogram(&self, s: Slot) -> Option<Histogram> {
        if !self.slot_tables {
            return None;
        }
        let h = self.hist.read(s.index())?;
        Histogram::from_bytes(&h.0).ok()
    }

    /// Bytes allocated: the device regions and the slot table.
    pub fn bytes(&self) -> usize {
        self.device_regions().iter().map(|r| r.1).sum::<usize>()
            + self.rows.len() * std::mem::size_of::<Row>()
    }

    /// Claim a free slot whose buffers hold `need` bytes: a small one when it fits, else a
    /// large one (quarantined slots are skipped until reaped). `None` when none is free.
    pub fn claim(&mut self, need: usize) -> Option<Slot> {
        let small = self.small;
        let range = if need <= self.small_cap() {
            0..self.rows.len()
        } else if need <= self.large_lines * LINE {
            small..self.rows.len()
        } else {
            return None;
        };
        let i = range
            .into_iter()
            .find(|&i| self.rows[i].state == State::Free)?;
        self.rows[i].state = State::Claimed;
        Some(Slot::from_index(i))
    }

    /// Give a claimed slot back (never submitted, or its record consumed by
    /// [`IaaJobMemory::poll`]). A slot in flight or quarantined is not released.
    pub fn release(&mut self, s: Slot) {
        if let Some(r) = self.rows.get_mut(s.index()) {
            if r.state == State::Claimed {
                r.state = State::Free;
            }
        }
    }

    /// Quarantine a slot in flight whose record is not written yet: it is not handed out
    /// again until [`IaaJobMemory::reap`] sees the record written (and returns the WQ's
    /// credit). A slot whose record was already seen written is simply released. False if the
    /// slot was not in flight.
    pub fn quarantine(&mut self, s: Slot) -> bool {
        let Some(r) = self.rows.get_mut(s.index()) else {
            return false;
        };
        match r.state {
            State::InFlight { wq } => {
                r.state = State::Quarantined { wq };
                self.quarantined += 1;
                true
            }
            State::Written => {
                r.state = State::Free;
                self.out -= 1;
                true
            }
            _ => false,
        }
    }

    /// Whether `s` is quarantined.
    pub fn is_quarantined(&self, s: Slot) -> bool {
        matches!(
            self.rows.get(s.index()).map(|r| r.state),
            Some(State::Quarantined { .. })
        )
    }

    /// Slots in quarantine.
    pub fn quarantined(&self) -> usize {
        self.quarantined
    }

    /// Look at every slot the device holds: a quarantined one whose record is now written is
    /// freed, an in-flight one is marked written (for [`IaaJobMemory::poll`]); each returns
    /// its credit to the WQ it was submitted to. Returns how many records were seen.
    pub fn reap(&mut self, wqs: &[WorkQueue]) -> usize {
        if self.out == 0 {
            return 0;
        }
        let mut seen = 0;
        for i in 0..self.rows.len() {
            let (wq, next) = match self.rows[i].state {
                State::InFlight { wq } => (wq, State::Written),
                State::Quarantined { wq } => (wq, State::Free),
                _ => continue,
            };
            if self.recs.poll(i).is_none() {
                continue;
            }
            if let Some(w) = wqs.get(wq as usize) {
                w.complete(1);
            }
            seen += 1;
            if next == State::Free {
                self.quarantined -= 1;
                self.out -= 1;
            }
            self.rows[i].state = next;
        }
        seen
    }

    /// Poll slot `s` once: `Some(record)` when the device has written it; the slot is then
    /// `Claimed` again (release it, or submit it again) and the WQ has its credit back.
    #[inline]
    pub fn poll(&mut self, s: Slot, wqs: &[WorkQueue]) -> Option<IaaCompletionRecord> {
        let i = s.index();
        let wq = match self.rows.get(i)?.state {
            State::InFlight { wq } => Some(wq),
            State::Written => None,
            _ => return None,
        };
        let rec = self.recs.poll(i)?;
        if let Some(w) = wq.and_then(|w| wqs.get(w as usize)) {
            w.complete(1);
        }
        self.rows[i].state = State::Claimed;
        self.out -= 1;
        Some(rec)
    }

    /// Wait a little for slot `s`'s record: one step of `w` (PAUSE, later yield), and once
    /// `w` has spun, where the CPU has WAITPKG, UMONITOR/UMWAIT on the record first (the CPU
    /// sleeps until the device writes it or about 50 us pass). False when `w`'s budget is
    /// spent.
    pub fn pause_on(&self, s: Slot, w: &mut crate::Waiter) -> bool {
        if w.spun() && crate::CpuFeatures::get().waitpkg {
            if let Some(p) = self.recs.ptr(s.index()) {
                let pending = || self.recs.poll(s.index()).is_none();
                // SAFETY: WAITPKG checked; the record is live memory of this slab, borrowed
                // for the call.
                unsafe { crate::hw::umwait_on(p.cast(), crate::slab::UMWAIT_CYCLES, pending) };
            }
        }
        w.pause()
    }

    /// Copy `src` into the input buffer of `slot` (at most [`IaaJobMemory::buf_cap`] bytes are
    /// copied). Only a claimed slot's buffer is written.
    pub fn fill_input(&self, s: Slot, src: &[u8]) {
        if !self.copies_inputs || self.rows.get(s.index()).map(|r| r.state) != Some(State::Claimed)
        {
            return;
        }
        let (base, lines) = self.span(s.index());
        let n = src.len().min(lines * LINE);
        self.inbuf.write_bytes(base, &src[..n]);
    }

    /// Copy the first `dst.len()` bytes (at most the capacity) of `slot`'s output buffer into
    /// `dst`. Call after [`IaaJobMemory::poll`] returned the slot's record (acquire), so the
    /// device's writes are visible.
    pub fn copy_output(&self, s: Slot, dst: &mut [u8]) {
        let (base, lines) = self.span(s.index());
        let n = dst.len().min(lines * LINE);
        self.outbuf.read_bytes(base, &mut dst[..n]);
    }

    /// The descriptor of `job` for slot `i` naming the caller's `src` of `src_len` bytes (0:
    /// the slot's input buffer); sizes are clamped to the buffer capacity.
    fn descriptor(&self, i: usize, job: IaaJob, src: u64, src_len: usize) -> IaaDescriptor {
        let (base, lines) = self.span(i);
        let cap = lines * LINE;
        let rec = self.recs.addr(i).unwrap_or(0);
        let inb = self.inbuf.addr(base).unwrap_or(0);
        let outb = self.outbuf.addr(base).unwrap_or(0);
        let input = if src != 0 { src } else { inb };
        let n = |x: usize| x.min(cap) as u32;
        match job {
            IaaJob::Compress { len, max_out } => IaaCompress::new(
                input,
                n(len),
                outb,
                n(max_out),
                self.aecs.addr(0).unwrap_or(0),
                rec,
            )
            .build(),
            IaaJob::Decompress { len, max_out } => {
                IaaDecompress::new(input, n(len), outb, n(max_out), rec).build()
            }
            IaaJob::Stats { len } => {
                IaaCompressStats::new(input, n(len), self.hist.addr(i).unwrap_or(0), rec).build()
            }
            IaaJob::CompressWithSlotTable { len, max_out } => IaaCompress::new(
                input,
                n(len),
                outb,
                n(max_out),
                self.aecs.addr(2 + 2 * i).unwrap_or(0),
                rec,
            )
            .build(),
            IaaJob::Crc64 {
                len,
                poly,
                msb_first,
                invert,
            } => IaaCrc64::new(input, n(len), poly, rec)
                .msb_first(msb_first)
                .invert(invert)
                .build(),
            // Decode the slot's own compressed output; nothing is written (suppress output):
            // the destination only has to be a valid address of the original size.
            IaaJob::Verify { len } => {
                let (dst, max) = if src != 0 {
                    (src, n(src_len))
                } else {
                    (inb, n(cap))
                };
                IaaDecompress::new(outb, n(len), dst, max, rec)
                    .suppress_output(true)
                    .build()
            }
        }
    }

    /// Build the descriptor of `job` for the claimed slot `s` and submit it to `wqs[wq]`,
    /// making at most `1 + retries` attempts and reaping this table's completions between
    /// them. Returns the retries used. `input` says where a compress or decompress reads
    /// (a verify reads the slot's own output).
    pub fn submit(
        &mut self,
        s: Slot,
        job: IaaJob,
        input: Input<'_>,
        wqs: &[WorkQueue],
        wq: usize,
        retries: u32,
    ) -> Result<u32, SubmitError> {
        let i = self.claimed(s)?;
        if !self.slot_tables
            && matches!(
                job,
                IaaJob::Stats { .. } | IaaJob::CompressWithSlotTable { .. }
            )
        {
            return Err(SubmitError::Failed(WqError::BadConfig(
                "this job memory has no slot tables (Layout::slot_tables)",
            )));
        }
        let (src, src_len) = match input {
            Input::Copied if !self.copies_inputs => {
                return Err(SubmitError::Failed(WqError::BadConfig(
                    "this job memory has no input buffers: inputs are read in place",
                )))
            }
            Input::Copied => (0, 0),
            Input::InPlace(b) => (b.as_ptr() as u64, b.len()),
        };
        let job = match (job, input) {
            (IaaJob::Compress { len, max_out }, Input::InPlace(b)) => IaaJob::Compress {
                len: len.min(b.len()),
                max_out,
            },
            (IaaJob::Decompress { len, max_out }, Input::InPlace(b)) => IaaJob::Decompress {
                len: len.min(b.len()),
                max_out,
            },
            (
                IaaJob::Crc64 {
                    len,
                    poly,
                    msb_first,
                    invert,
                },
                Input::InPlace(b),
            ) => IaaJob::Crc64 {
                len: len.min(b.len()),
                poly,
                msb_first,
                invert,
            },
            (j, _) => j,
        };
        self.rows[i].job = job;
        self.rows[i].src = src;
        self.rows[i].src_len = src_len;
        self.submit_row(i, wqs, wq, retries)
    }

    /// Submit the claimed slot `s`'s last descriptor again (after a page fault was touched
    /// in), to `wqs[wq]`.
    pub fn resubmit(
        &mut self,
        s: Slot,
        wqs: &[WorkQueue],
        wq: usize,
        retries: u32,
    ) -> Result<u32, SubmitError> {
        let i = self.claimed(s)?;
        self.submit_row(i, wqs, wq, retries)
    }

    /// The index of `s` if it is claimed (only a claimed slot can be submitted).
    fn claimed(&self, s: Slot) -> Result<usize, SubmitError> {
        let i = s.index();
        match self.rows.get(i).map(|r| r.state) {
            Some(State::Claimed) => Ok(i),
            _ => Err(SubmitError::Failed(WqError::BadSlot(i))),
        }
    }

    fn submit_row(
        &mut self,
        i: usize,
        wqs: &[WorkQueue],
        wq: usize,
        retries: u32,
    ) -> Result<u32, SubmitError> {
        let Some(w) = wqs.get(wq).filter(|_| wq <= u16::MAX as usize) else {
            return Err(SubmitError::Failed(WqError::BadConfig("no such WQ")));
        };
        let Row {
            job, src, src_len, ..
        } = self.rows[i];
        if src != 0 && !w.reads_process_memory() {
            return Err(SubmitError::Failed(WqError::BadConfig(
                "a descriptor naming the caller's memory needs a WQ whose device reads process memory",
            )));
        }
        let desc = self.descriptor(i, job, src, src_len);
        if let Some(st) = self.recs.status(i) {
            st.store(0, Ordering::Relaxed);
        }
        // Mark it in flight before the attempt: the device may write the record as soon as
        // the portal takes the descriptor. Reaping between attempts skips this slot (its
        // record is zero until the device has it).
        self.rows[i].state = State::InFlight { wq: wq as u16 };
        self.out += 1;
        let (rows, recs, out) = (&mut self.rows, &*self.recs, self.out);
        let mut reap = || reap_rows(rows, recs, wqs, out, i);
        // SAFETY: the DMA contract of `WorkQueue::submit`. The descriptor was built by
        // `descriptor` from this memory's own addresses (record, AECS, the slot's bounce
        // buffers), which the CPU accesses only through copies, never references; or with the
        // caller's input (`Input::InPlace`), read-only, and then only for a device that reads
        // through this process's page tables (checked just above), where a read after the
        // caller's borrow faults or sees stale bytes on the device side and writes nothing.
        // The memory is not freed while the device may write it: the slot stays `InFlight` or
        // `Quarantined` until its record is seen written, and Drop leaks everything while such
        // a record is unwritten.
        let r = unsafe { w.submit_with(desc.as_bytes(), retries, &mut reap) };
        match r {
            Ok(n) => Ok(n),
            Err(e) => {
                self.rows[i].state = State::Claimed;
                self.out -= 1;
                Err(match e {
                    WqError::NoCredit { .. }
                    | WqError::RetriesExhausted { .. }
                    | WqError::Refused => SubmitError::Busy { error: e, retries },
                    e => SubmitError::Failed(e),
                })
            }
        }
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

    /// Whether the device may still write this memory: a slot in flight or quarantined with
    /// its record unwritten.
    pub fn pending(&self) -> bool {
        self.rows.iter().enumerate().any(|(i, r)| {
            matches!(r.state, State::InFlight { .. } | State::Quarantined { .. })
                && self.recs.poll(i).is_none()
        })
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

/// The reaping done between two submission attempts of slot `skip`: in-flight slots whose
/// record is written become `Written` and return their credit (quarantined ones wait for
/// [`IaaJobMemory::reap`]).
fn reap_rows(
    rows: &mut [Row],
    recs: &Slab<IaaCompletionRecord>,
    wqs: &[WorkQueue],
    out: usize,
    skip: usize,
) {
    if out <= 1 {
        return;
    }
    for (i, r) in rows.iter_mut().enumerate() {
        if i == skip {
            continue;
        }
        if let State::InFlight { wq } = r.state {
            if recs.poll(i).is_some() {
                if let Some(w) = wqs.get(wq as usize) {
                    w.complete(1);
                }
                r.state = State::Written;
            }
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
                ManuallyDrop::drop(&mut self.recs);
                ManuallyDrop::drop(&mut self.aecs);
                ManuallyDrop::drop(&mut self.hist);
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
            let wqs = [WorkQueue::with_model(portal.clone(), WqConfig::dedicated(8)).unwrap()];
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
            let job = IaaJob::Compress {
                len: 5000,
                max_out: 9999,
            };
            m.submit(a, job, Input::Copied, &wqs, 0, 0).unwrap();
            let verify = IaaJob::Verify { len: 100 };
            m.submit(b, verify, Input::Copied, &wqs, 0, 0).unwrap();
            assert_eq!(wqs[0].outstanding(), 2);
            let descs = portal.0.lock().unwrap().clone();
            for d in &descs {
                assert!(inside(d.completion_addr, 64, &regions));
                assert!(inside(d.src1_addr, d.src1_size as usize, &regions));
                assert!(inside(d.dst_addr, d.max_dst_size as usize, &regions));
                assert!(d.src1_size <= 4096 && d.max_dst_size <= 4096);
            }
            assert!(m.pending());
            assert!(!m.settle(Instant::now()), "nothing written yet");
            m.release(a); // refused: in flight
            assert!(m.claim(1).is_none());
            portal.complete();
            assert!(m.settle(Instant::now() + Duration::from_secs(1)));
            assert!(m.poll(a, &wqs).is_some());
            assert!(m.poll(a, &wqs).is_none(), "a record is consumed once");
            assert_eq!(m.reap(&wqs), 1, "b's record seen while reaping");
            assert_eq!(wqs[0].outstanding(), 0, "each credit returned exactly once");
            assert!(m.poll(b, &wqs).is_some());
            assert_eq!(wqs[0].outstanding(), 0);
            m.release(a);
            m.release(b);
            // A quarantined slot whose record then arrives is reaped, with its credit.
            let c = m.claim(1).unwrap();
            let job = IaaJob::Decompress {
                len: 10,
                max_out: 10,
            };
            m.submit(c, job, Input::Copied, &wqs, 0, 0).unwrap();
            assert!(m.quarantine(c));
            assert!(m.pending());
            m.release(c); // refused: quarantined
            assert_eq!(m.quarantined(), 1);
            assert_eq!(wqs[0].outstanding(), 1);
            portal.complete();
            m.reap(&wqs);
            assert_eq!((m.quarantined(), wqs[0].outstanding()), (0, 0));
            assert!(!m.pending());
            // Reaped means free again: not submittable until claimed.
            assert!(matches!(
                m.submit(c, job, Input::Copied, &wqs, 0, 0),
                Err(SubmitError::Failed(WqError::BadSlot(_)))
            ));
        }
    }

    #[test]
    fn a_refused_submission_reaps_its_own_completions_for_credit() {
        // A dedicated WQ of 1: the second slot gets the credit only once the first slot's
        // record is seen, which the retry loop does by reaping between attempts.
        let portal = Arc::new(Keep::default());
        let wqs = [WorkQueue::with_model(portal.clone(), WqConfig::dedicated(1)).unwrap()];
        let mut m = IaaJobMemory::new(2, 4096, false).unwrap();
        let (a, b) = (m.claim(1).unwrap(), m.claim(1).unwrap());
        let job = IaaJob::Compress {
            len: 10,
            max_out: 9,
        };
        m.submit(a, job, Input::Copied, &wqs, 0, 3).unwrap();
        assert!(matches!(
            m.submit(b, job, Input::Copied, &wqs, 0, 3),
            Err(SubmitError::Busy {
                error: WqError::NoCredit { .. },
                retries: 3
            })
        ));
        // One budget: the first attempt and 3 retries, all refused, then given up.
        assert_eq!(wqs[0].stats().retries, 4);
        portal.complete();
        assert_eq!(m.submit(b, job, Input::Copied, &wqs, 0, 3).unwrap(), 1);
        assert!(m.poll(a, &wqs).is_some(), "a's record is still delivered");
        portal.complete();
        assert!(m.poll(b, &wqs).is_some());
        assert_eq!(wqs[0].outstanding(), 0);
    }

    #[test]
    fn zero_copy_goes_only_to_a_wq_reading_process_memory() {
        let portal = Arc::new(Keep::default());
        let plain = WorkQueue::with_model(portal.clone(), WqConfig::dedicated(8)).unwrap();
        let sva = WorkQueue::with_model(portal.clone(), WqConfig::dedicated(8))
            .unwrap()
            .reading_process_memory(true);
        let wqs = [plain, sva];
        let mut m = IaaJobMemory::new(1, 4096, false).unwrap();
        let s = m.claim(1).unwrap();
        let data = vec![3u8; 100];
        let job = IaaJob::Compress {
            len: 100,
            max_out: 99,
        };
        assert!(matches!(
            m.submit(s, job, Input::InPlace(&data), &wqs, 0, 0),
            Err(SubmitError::Failed(WqError::BadConfig(_)))
        ));
        m.submit(s, job, Input::InPlace(&data), &wqs, 1, 0).unwrap();
        let d = portal.0.lock().unwrap()[0];
        assert_eq!((d.src1_addr, d.src1_size), (data.as_ptr() as u64, 100));
        portal.complete();
        assert!(m.poll(s, &wqs).is_some());
        // A resubmission repeats the same descriptor.
        m.resubmit(s, &wqs, 1, 0).unwrap();
        assert_eq!(portal.0.lock().unwrap()[0].src1_addr, data.as_ptr() as u64);
        portal.complete();
        assert!(m.poll(s, &wqs).is_some());
    }

    #[test]
    fn without_input_buffers_every_input_is_read_in_place() {
        let portal = Arc::new(Keep::default());
        let wq = WorkQueue::with_model(portal.clone(), WqConfig::dedicated(8)).unwrap();
        let wqs = [wq.reading_process_memory(true)];
        let with = IaaJobMemory::with_layout(Layout {
            large: 2,
            large_cap: 65536,
            copy_inputs: true,
            ..Layout::small(8, 4096, false)
        })
        .unwrap();
        let mut m = IaaJobMemory::with_layout(Layout {
            large: 2,
            large_cap: 65536,
            copy_inputs: false,
            ..Layout::small(8, 4096, false)
        })
        .unwrap();
        assert!(
            m.bytes() * 10 < with.bytes() * 6,
            "{} vs {}",
            m.bytes(),
            with.bytes()
        );
        let s = m.claim(100).unwrap();
        let job = IaaJob::Compress {
            len: 100,
            max_out: 99,
        };
        assert!(matches!(
            m.submit(s, job, Input::Copied, &wqs, 0, 0),
            Err(SubmitError::Failed(WqError::BadConfig(_)))
        ));
        let data = vec![1u8; 100];
        m.submit(s, job, Input::InPlace(&data), &wqs, 0, 0).unwrap();
        portal.complete();
        assert!(m.poll(s, &wqs).is_some());
        // The verify names the original input as its (never written) destination, as the
        // kernel's iaa_compress_verify does.
        let verify = IaaJob::Verify { len: 50 };
        m.submit(s, verify, Input::InPlace(&data), &wqs, 0, 0)
            .unwrap();
        let d = portal.0.lock().unwrap()[0];
        assert_eq!((d.dst_addr, d.max_dst_size), (data.as_ptr() as u64, 100));
        portal.complete();
        assert!(m.poll(s, &wqs).is_some());
    }

    #[test]
    fn bad_sizes_are_errors() {
        assert!(IaaJobMemory::new(0, 4096, false).is_err());
        assert!(IaaJobMemory::new(4, 0, true).is_err());
    }

    #[test]
    fn large_units_take_large_slots_and_small_units_prefer_small_ones() {
        let portal = Arc::new(Keep::default());
        let wqs = [WorkQueue::with_model(portal.clone(), WqConfig::dedicated(8)).unwrap()];
        let mut m = IaaJobMemory::with_layout(Layout {
            large: 1,
            large_cap: 65536,
            copy_inputs: true,
            ..Layout::small(2, 4096, false)
        })
        .unwrap();
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
        let job = |len| IaaJob::Compress {
            len,
            max_out: len - 1,
        };
        m.submit(big, job(65536), Input::Copied, &wqs, 0, 0)
            .unwrap();
        m.submit(a, job(4096), Input::Copied, &wqs, 0, 0).unwrap();
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
        assert!(m.poll(big, &wqs).is_some() && m.poll(a, &wqs).is_some());
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
