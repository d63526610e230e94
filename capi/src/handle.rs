//! The asynchronous calls: `iaa_submit_*` starts a batch and returns an `iaa_handle`;
//! `iaa_handle_poll` drives it, `iaa_handle_wait` finishes it, `iaa_handle_free` abandons it.
//!
//! An `iaa_handle` ([`Inflight`] on the Rust side) holds the caller's buffers as Rust slices
//! and the `iaa::Handle` that borrows them. Rust cannot name those borrows (they point into the
//! caller's memory and into the `Inflight`'s own vectors), so they are given the `'static`
//! lifetime here, and this module keeps the promise that makes that sound: the `iaa::Handle` is
//! always dropped before the vectors it borrows are touched, and the C contract says the
//! caller's buffers stay valid until the handle is waited for or freed. Finished `Inflight`s
//! go back to their pool for reuse, so a warm submit allocates nothing.

use std::ffi::{c_int, c_void};
use std::mem::align_of;
use std::sync::atomic::Ordering::AcqRel;

use iaa::{BatchSummary, Pool, UnitResult};

use crate::codes::IAA_OK;
use crate::error::{to_code, CapiError};
use crate::ffi::{
    batch_info_arg, bind_units, c_arrays, iaa_pool, pool_ref, write_info, write_results, CArrays,
    CUnits,
};
use crate::guard;
use crate::types::iaa_batch_info;

/// The handle's state under its Rust name.
pub(crate) type Inflight = iaa_handle;

const HANDLE_MAGIC: u64 = u64::from_le_bytes(*b"iaa_hndl");

/// Finished handles a pool keeps for reuse (more are freed).
pub(crate) const SPARE_HANDLES: usize = 64;

/// An unfinished asynchronous call (opaque). From `iaa_submit_compress_units` or
/// `iaa_submit_decompress_batch`; ends with `iaa_handle_wait` or `iaa_handle_free`. One thread
/// at a time may use a handle; it may move between threads.
#[allow(non_camel_case_types)]
pub struct iaa_handle {
    /// The running call; borrows `ins`, `outs`, `results` and the caller's buffers.
    job: Option<iaa::Handle<'static, 'static>>,
    magic: u64,
    pool: *mut iaa_pool,
    ins: Vec<&'static [u8]>,
    outs: Vec<&'static mut [u8]>,
    results: Vec<UnitResult>,
    /// Decompress: the caller's expected CRCs, copied at submit (empty: none).
    expected: Vec<u32>,
    writes: Vec<(usize, usize)>,
    reads: Vec<(usize, usize)>,
    /// The caller's result array and its length (written when the call finishes).
    c_results: *mut i32,
    /// The caller's CRC array (NULL: not wanted), written with the results.
    c_crcs: *mut u32,
    units: usize,
    /// Totals, kept when the job finishes.
    summary: BatchSummary,
    /// Whether the caller's results were written.
    reported: bool,
}

// SAFETY: the raw pointers are the pool (Sync) and the caller's result array, which the C
// contract hands to whichever single thread uses the handle; `iaa::Handle` is Send.
unsafe impl Send for Inflight {}

impl Inflight {
    fn new() -> Self {
        Inflight {
            job: None,
            magic: 0,
            pool: std::ptr::null_mut(),
            ins: Vec::new(),
            outs: Vec::new(),
            results: Vec::new(),
            expected: Vec::new(),
            writes: Vec::new(),
            reads: Vec::new(),
            c_results: std::ptr::null_mut(),
            c_crcs: std::ptr::null_mut(),
            units: 0,
            summary: BatchSummary::default(),
            reported: false,
        }
    }

    /// Once the job is done (or to abandon it): drop it, then write the caller's results.
    fn finish(&mut self, abandon: bool) -> Result<(), CapiError> {
        if let Some(job) = self.job.take() {
            if abandon {
                // Units still pending are marked Abandoned by the drop; no totals are reported.
                drop(job);
            } else {
                self.summary = job.wait();
            }
        }
        if !self.reported {
            self.reported = true;
            // SAFETY: the caller's `results` array of `units` writable elements, checked at
            // submit and promised valid until the handle ends.
            let out = unsafe { std::slice::from_raw_parts_mut(self.c_results, self.units) };
            // SAFETY: the same for the optional `crcs` array.
            let crcs = (!self.c_crcs.is_null())
                .then(|| unsafe { std::slice::from_raw_parts_mut(self.c_crcs, self.units) });
            write_results(&self.results, &self.ins, out, crcs)?;
        }
        Ok(())
    }
}

/// Marks the pool destroyed; frees it now if no handle is alive.
///
/// # Safety
/// `pool` is a live pool from `Box::into_raw`, destroyed only once.
pub(crate) unsafe fn destroy_pool(pool: *mut iaa_pool) {
    // SAFETY: live per the contract.
    let prev = unsafe { &*pool }.handles_state.fetch_add(1, AcqRel);
    if prev == 0 {
        // SAFETY: destroyed and no handle refers to it any more.
        drop(unsafe { Box::from_raw(pool) });
    }
}

/// One handle of `pool` ended: keep its state for reuse and free the pool if it was destroyed
/// and this was its last handle.
///
/// # Safety
/// `pool` is the live pool `inf` was submitted on.
unsafe fn handle_ended(pool: *mut iaa_pool, mut inf: Box<Inflight>) {
    inf.magic = 0;
    inf.pool = std::ptr::null_mut();
    inf.c_results = std::ptr::null_mut();
    inf.c_crcs = std::ptr::null_mut();
    // No reference into the caller's memory outlives the handle.
    inf.ins.clear();
    inf.outs.clear();
    // SAFETY: live per the contract (this handle keeps it alive).
    let p = unsafe { &*pool };
    if let Ok(mut spare) = p.spare_handles.lock() {
        if spare.len() < spare.capacity() {
            spare.push(inf);
        }
    }
    if p.handles_state.fetch_sub(2, AcqRel) == 3 {
        // SAFETY: destroyed, and this was the last handle.
        drop(unsafe { Box::from_raw(pool) });
    }
}

/// The `Inflight` behind a C handle, checked.
///
/// # Safety
/// `h` is NULL or a handle returned by `iaa_submit_*` and not yet ended.
unsafe fn inflight<'a>(h: *mut iaa_handle) -> Result<&'a mut Inflight, CapiError> {
    if h.is_null() {
        return Err(CapiError::Null("handle"));
    }
    if !(h as usize).is_multiple_of(align_of::<Inflight>()) {
        return Err(CapiError::Invalid("handle is not a handle"));
    }
    // SAFETY: non-null, aligned; live per the caller.
    let inf = unsafe { &mut *h };
    if inf.magic != HANDLE_MAGIC {
        return Err(CapiError::Invalid("handle is not a live handle"));
    }
    Ok(inf)
}

/// Shared body of the two submit calls.
///
/// # Safety
/// As for `iaa_submit_compress_units`.
unsafe fn submit(
    compress: bool,
    pool: *mut iaa_pool,
    c: CUnits,
    out: *mut *mut iaa_handle,
) -> Result<c_int, CapiError> {
    if out.is_null() {
        return Err(CapiError::Null("out"));
    }
    if !(out as usize).is_multiple_of(align_of::<*mut iaa_handle>()) {
        return Err(CapiError::Invalid("out"));
    }
    // SAFETY: `out` is non-NULL and aligned (checked above) and writable for one pointer (this
    // function's contract).
    unsafe { out.write(std::ptr::null_mut()) };
    // SAFETY: `pool` is NULL or a live pool from iaa_pool_create (this function's contract);
    // pool_ref refuses NULL.
    let p: &'static Pool = unsafe { pool_ref(pool)? };
    // SAFETY: every array of `c` holds its element count, readable (`results`, `crcs` writable)
    // during this call (this function's contract).
    let mut a = unsafe { c_arrays(c)? };
    // SAFETY: pool_ref above showed `pool` non-NULL, and it is a live pool (this function's
    // contract), alive for the handle.
    let pool_state = unsafe { &*pool };
    let mut inf = pool_state
        .spare_handles
        .lock()
        .ok()
        .and_then(|mut s| s.pop())
        .unwrap_or_else(|| Box::new(Inflight::new()));
    // SAFETY: forwarded from this function's contract.
    match unsafe { start(compress, p, &mut a, &mut inf) } {
        Ok(()) => {
            pool_state.handles_state.fetch_add(2, AcqRel);
            inf.magic = HANDLE_MAGIC;
            inf.pool = pool;
            let h = Box::into_raw(inf);
            // SAFETY: checked writable above.
            unsafe { out.write(h) };
            Ok(IAA_OK)
        }
        Err(e) => {
            inf.ins.clear();
            inf.outs.clear();
            if let Ok(mut spare) = pool_state.spare_handles.lock() {
                if spare.len() < spare.capacity() {
                    spare.push(inf);
                }
            }
            Err(e)
        }
    }
}

/// Borrows the caller's buffers into `inf` and starts the job.
///
/// # Safety
/// As for `iaa_submit_compress_units`: the buffers stay valid until the handle ends.
unsafe fn start(
    compress: bool,
    p: &'static Pool,
    a: &mut CArrays<'_>,
    inf: &mut Inflight,
) -> Result<(), CapiError> {
    let units = a.srcs.len();
    // SAFETY: forwarded from this function's contract (valid until the handle ends, which
    // is what 'static stands for here).
    unsafe {
        bind_units(
            a,
            &mut inf.ins,
            &mut inf.outs,
            &mut inf.writes,
            &mut inf.reads,
        )?
    };
    inf.results.clear();
    inf.results.resize(units, UnitResult::Pending);
    inf.expected.clear();
    if let Some(e) = a.expected {
        inf.expected.extend_from_slice(e);
    }
    // SAFETY: the three slices point into `inf`'s vectors, which stay untouched (and
    // unmoved: they live in the box) until `job` is dropped in `finish`; the caller's buffers
    // they refer to stay valid until the handle ends, per the contract.
    let (i, o, r) = unsafe {
        (
            std::slice::from_raw_parts(inf.ins.as_ptr(), units),
            std::slice::from_raw_parts_mut(inf.outs.as_mut_ptr(), units),
            std::slice::from_raw_parts_mut(inf.results.as_mut_ptr(), units),
        )
    };
    // SAFETY: as above, for `expected` (not touched until the job is dropped).
    let e = unsafe { std::slice::from_raw_parts(inf.expected.as_ptr(), inf.expected.len()) };
    let job = if compress {
        p.submit_compress(i, o, r)?
    } else if a.expected.is_some() {
        p.submit_decompress_checked(i, o, e, r)?
    } else {
        p.submit_decompress(i, o, r)?
    };
    for c in a.results.iter_mut() {
        *c = -libc::EINPROGRESS;
    }
    inf.job = Some(job);
    inf.c_results = a.results.as_mut_ptr();
    inf.c_crcs = a
        .crcs
        .as_deref_mut()
        .map_or(std::ptr::null_mut(), |c| c.as_mut_ptr());
    inf.units = units;
    inf.summary = BatchSummary::default();
    inf.reported = false;
    Ok(())
}

/// Starts compressing `units` separate buffers like `iaa_compress_units`, without waiting:
/// on success `*out` is a handle and `results[i]` is `-EINPROGRESS` until the handle reports
/// done. Drive it with `iaa_handle_poll`, finish it with `iaa_handle_wait`, or abandon it with
/// `iaa_handle_free`. The handle holds one of the pool's contexts until it ends (a free one:
/// the calling CPU's first, else any other). Other calls, from any thread, take another free
/// context and never wait for one a live handle holds; when live handles hold every context,
/// calls (and submits) return `-EDEADLK` at once. On the software path the units run only
/// inside `iaa_handle_poll` (one unit per call) and `iaa_handle_wait`: a handle nobody polls
/// makes no progress. Refuses malformed calls like `iaa_compress_units` (nothing written but
/// `*out = NULL`), and a NULL `out`.
///
/// # Safety
/// As for `iaa_compress_units`, and every buffer and array (`src`, `dst`, `results`, `crcs`)
/// must stay valid and untouched by the caller until the handle ends (`results` and `crcs`
/// are written when it ends); the four pointer/length arrays and `expected_crcs` are read
/// during this call only.
#[no_mangle]
pub unsafe extern "C" fn iaa_submit_compress_units(
    pool: *mut iaa_pool,
    src: *const c_void,
    src_lens: *const usize,
    dst: *const c_void,
    dst_caps: *const usize,
    units: usize,
    results: *mut i32,
    results_len: usize,
    crcs: *mut u32,
    out: *mut *mut iaa_handle,
) -> c_int {
    guard(|| {
        // SAFETY: this function's arguments carry the contract of the call below, which is this
        // function's own (see its # Safety).
        to_code(unsafe {
            submit(
                true,
                pool,
                CUnits {
                    src,
                    src_lens,
                    dst,
                    dst_caps,
                    units,
                    expected_crcs: std::ptr::null(),
                    results,
                    results_len,
                    crcs,
                    consumed: std::ptr::null_mut(),
                },
                out,
            )
        })
    })
}

/// Starts decompressing like `iaa_decompress_batch`, without waiting; see
/// `iaa_submit_compress_units`.
///
/// # Safety
/// As for `iaa_submit_compress_units`.
#[no_mangle]
pub unsafe extern "C" fn iaa_submit_decompress_batch(
    pool: *mut iaa_pool,
    src: *const c_void,
    src_lens: *const usize,
    dst: *const c_void,
    dst_caps: *const usize,
    units: usize,
    expected_crcs: *const u32,
    results: *mut i32,
    results_len: usize,
    crcs: *mut u32,
    out: *mut *mut iaa_handle,
) -> c_int {
    guard(|| {
        // SAFETY: this function's arguments carry the contract of the call below, which is this
        // function's own (see its # Safety).
        to_code(unsafe {
            submit(
                false,
                pool,
                CUnits {
                    src,
                    src_lens,
                    dst,
                    dst_caps,
                    units,
                    expected_crcs,
                    results,
                    results_len,
                    crcs,
                    consumed: std::ptr::null_mut(),
                },
                out,
            )
        })
    })
}

/// Makes progress without blocking for long (software path: runs at most one unit; hardware
/// path: one pass over the device's completion records). Returns 1 once every unit has its
/// result (then `results` is written), 0 while units are still running, or a negative code
/// (`-EINVAL` for a NULL or ended handle). The handle stays alive either way: end it with `iaa_handle_wait`.
///
/// # Safety
/// `h` is NULL or a handle not yet ended, used by one thread at a time.
#[no_mangle]
pub unsafe extern "C" fn iaa_handle_poll(h: *mut iaa_handle) -> c_int {
    guard(|| {
        to_code((|| {
            // SAFETY: forwarded from this function's contract.
            let inf = unsafe { inflight(h)? };
            let done = match inf.job.as_mut() {
                Some(job) => job.poll(),
                None => true,
            };
            if done {
                inf.finish(false)?;
            }
            Ok(done as c_int)
        })())
    })
}

/// Finishes every unit, writes `results` and `info` (may be NULL; the totals of the call), and
/// ends the handle. Returns 0, or `-EINVAL` for a NULL or ended handle or a bad `info->size`
/// (the handle is not ended then).
///
/// # Safety
/// `h` is NULL or a handle not yet ended; `info` is NULL or holds `info->size` writable bytes.
#[no_mangle]
pub unsafe extern "C" fn iaa_handle_wait(h: *mut iaa_handle, info: *mut iaa_batch_info) -> c_int {
    guard(|| {
        to_code((|| {
            // SAFETY: `h` is NULL or a live handle not yet ended (this function's contract);
            // inflight refuses NULL.
            let inf = unsafe { inflight(h)? };
            // SAFETY: `info` is NULL or holds `info->size` writable bytes (this function's
            // contract); batch_info_arg checks both.
            let info = unsafe { batch_info_arg(info)? };
            let r = inf.finish(false);
            let summary = inf.summary;
            let pool = inf.pool;
            // SAFETY: `h` came from Box::into_raw in `submit` and ends here.
            let inf = unsafe { Box::from_raw(h) };
            // SAFETY: `pool` is the live pool this handle was submitted to (kept in the handle,
            // which pins it), and `inf` is the handle's box, ended here exactly once.
            unsafe { handle_ended(pool, inf) };
            r?;
            // SAFETY: `info` passed batch_info_arg above: NULL, or writable for the size it
            // declares.
            unsafe { write_info(info, &summary) };
            Ok(IAA_OK)
        })())
    })
}

/// Ends a handle without waiting: units not finished yet get `-ECANCELED` in `results` (their
/// slots hold nothing useful), finished ones keep their result. NULL is a no-op.
///
/// # Safety
/// `h` is NULL or a handle not yet ended.
#[no_mangle]
pub unsafe extern "C" fn iaa_handle_free(h: *mut iaa_handle) {
    guard(|| {
        // SAFETY: `h` is NULL or a live handle not yet ended (this function's contract); inflight
        // refuses NULL.
        let Ok(inf) = (unsafe { inflight(h) }) else {
            return IAA_OK;
        };
        let _ = inf.finish(true);
        let pool = inf.pool;
        // SAFETY: `h` came from Box::into_raw in `submit` and ends here.
        let inf = unsafe { Box::from_raw(h) };
        // SAFETY: `pool` is the live pool this handle was submitted to (kept in the handle, which
        // pins it), and `inf` is the handle's box, ended here exactly once.
        unsafe { handle_ended(pool, inf) };
        IAA_OK
    });
}
