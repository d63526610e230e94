//! The DSA operations of a pool in C: CRC-32C, same-filled detection, compare, copy and fill of
//! `n` buffers (`iaa::Pool::crc32c` and the others). Each call takes arrays of `n` buffer
//! pointers declared `const void *`, like the pointer-array compression calls, so arrays of any
//! object-pointer type pass without a cast.

use std::cell::RefCell;
use std::ffi::{c_int, c_void};

use iaa::{DsaSummary, Inputs, Outputs, Pool};

use crate::codes::IAA_OK;
use crate::error::{to_code, CapiError};
use crate::ffi::{batch_info_arg, disjoint, in_slice, out_slice, pool_ref, rebind, span};
use crate::guard;
use crate::iaa_pool;
use crate::types::iaa_batch_info;

#[derive(Default)]
struct DsaScratch {
    a: Vec<&'static [u8]>,
    b: Vec<&'static [u8]>,
    outs: Vec<&'static mut [u8]>,
    pats: Vec<Option<u64>>,
    equal: Vec<bool>,
    writes: Vec<(usize, usize)>,
    reads: Vec<(usize, usize)>,
}

thread_local! {
    static SCRATCH: RefCell<DsaScratch> = RefCell::default();
}

/// One call's buffers, borrowed for the call into this thread's scratch vectors.
struct Work<'a> {
    a: Vec<&'a [u8]>,
    b: Vec<&'a [u8]>,
    outs: Vec<&'a mut [u8]>,
    pats: Vec<Option<u64>>,
    equal: Vec<bool>,
    writes: Vec<(usize, usize)>,
    reads: Vec<(usize, usize)>,
}

/// Borrow `n` buffers from the C arrays `ptrs` (`lens.len()` pointers) and `lens` into `into`
/// (cleared first), recording their spans as reads.
///
/// # Safety
/// `ptrs` is NULL (only with no lengths) or holds `lens.len()` readable pointers, and each
/// `ptrs[i]` holds `lens[i]` readable bytes (NULL only with length 0), for `'a`.
unsafe fn bind_in<'a>(
    ptrs: *const c_void,
    lens: &[usize],
    what: &'static str,
    into: &mut Vec<&'a [u8]>,
    reads: &mut Vec<(usize, usize)>,
) -> Result<(), CapiError> {
    into.clear();
    // SAFETY: `ptrs` holds `lens.len()` pointers (this function's contract).
    let ptrs: &[*const u8] = unsafe { in_slice(ptrs.cast::<*const u8>(), lens.len(), what)? };
    reads.push(span(ptrs));
    for (&p, &l) in ptrs.iter().zip(lens) {
        // SAFETY: forwarded from this function's contract.
        let s: &'a [u8] = unsafe { in_slice(p, l, what)? };
        reads.push(span(s));
        into.push(s);
    }
    Ok(())
}

/// As [`bind_in`] for writable buffers (spans recorded as writes).
///
/// # Safety
/// As [`bind_in`], each `ptrs[i]` holding `lens[i]` writable bytes.
unsafe fn bind_out<'a>(
    ptrs: *const c_void,
    lens: &[usize],
    into: &mut Vec<&'a mut [u8]>,
    writes: &mut Vec<(usize, usize)>,
    reads: &mut Vec<(usize, usize)>,
) -> Result<(), CapiError> {
    into.clear();
    // SAFETY: `ptrs` holds `lens.len()` pointers (this function's contract).
    let ptrs: &[*mut u8] = unsafe { in_slice(ptrs.cast::<*mut u8>(), lens.len(), "dst")? };
    reads.push(span(ptrs));
    for (&p, &l) in ptrs.iter().zip(lens) {
        // SAFETY: forwarded from this function's contract; disjointness is checked by the
        // caller before anything is written.
        let s: &'a mut [u8] = unsafe { out_slice(p, l, "dst[i]")? };
        writes.push(span(s));
        into.push(s);
    }
    Ok(())
}

/// The shared frame of the DSA calls: the pool, the lengths, this thread's scratch (nothing is
/// allocated once its vectors are large enough), the totals into `info`.
///
/// # Safety
/// `pool` is NULL or live; `lens` is NULL (only with `n` 0) or holds `n` readable elements;
/// `info` is NULL or holds `info->size` writable bytes.
unsafe fn frame(
    pool: *mut iaa_pool,
    lens: *const usize,
    n: usize,
    info: *mut iaa_batch_info,
    body: impl for<'a> FnOnce(&Pool, &'a [usize], &mut Work<'a>) -> Result<DsaSummary, CapiError>,
) -> c_int {
    guard(|| {
        to_code((|| {
            // SAFETY: `pool` is NULL or live (this function's contract); NULL is refused.
            let p = unsafe { pool_ref(pool)? };
            // SAFETY: `info` is NULL or holds its size (this function's contract).
            let info = unsafe { batch_info_arg(info)? };
            // SAFETY: `lens` holds `n` elements (this function's contract).
            let lens: &[usize] = unsafe { in_slice(lens, n, "lens")? };
            let mut s = SCRATCH
                .try_with(|s| std::mem::take(&mut *s.borrow_mut()))
                .unwrap_or_default();
            let mut w = Work {
                a: rebind(std::mem::take(&mut s.a)),
                b: rebind(std::mem::take(&mut s.b)),
                outs: rebind(std::mem::take(&mut s.outs)),
                pats: std::mem::take(&mut s.pats),
                equal: std::mem::take(&mut s.equal),
                writes: std::mem::take(&mut s.writes),
                reads: std::mem::take(&mut s.reads),
            };
            w.writes.clear();
            w.reads.clear();
            w.reads.push(span(lens));
            let r = body(p, lens, &mut w);
            let s = DsaScratch {
                a: rebind(w.a),
                b: rebind(w.b),
                outs: rebind(w.outs),
                pats: w.pats,
                equal: w.equal,
                writes: w.writes,
                reads: w.reads,
            };
            let _ = SCRATCH.try_with(|c| *c.borrow_mut() = s);
            let sum = r?;
            let b = iaa::BatchSummary {
                units: sum.units,
                hardware: sum.hardware,
                software: sum.software,
                ..iaa::BatchSummary::default()
            };
            // SAFETY: `info` passed batch_info_arg above.
            unsafe { crate::ffi::write_info(info, &b) };
            Ok(IAA_OK)
        })())
    })
}

/// CRC-32C (Castagnoli, the iSCSI/RocksDB checksum) of `n` buffers: `crcs[i]` receives the
/// CRC-32C of `units[i]` (`lens[i]` bytes) continuing from `seed` (0 for a fresh CRC; a
/// previous finished CRC-32C to continue one), the value of the `crc32c` crate's
/// `crc32c_append(seed, ...)`, of Intel's `crc32c` in RocksDB (`crc32c::Extend(seed, ...)`),
/// and of the DSA's CRC generation. The DSA is the one the pool's device implies: the
/// kernel's DSA WQs (`/dev/dsa/wqX.Y`, of type user, on a device with PASID), or the DSA model
/// with `IAA_DEVICE=model`; an `IAA_PATH_SOFTWARE` pool, or a host without a usable DSA, does
/// the DSA operations in software (`iaa_pool_describe` says which). On a DSA the units go in
/// windows of 32, one batch descriptor each where the WQ takes batches (through a mapped
/// portal), else single descriptors; units the DSA does not finish are done in software
/// (`iaa_stats.dsa_fallbacks`). All five `iaa_dsa_*` calls work this way; a copy or fill is
/// complete when the call returns.
/// `info` (may be NULL) receives the totals (`hardware`, `software`; `failed` is 0).
///
/// Returns 0, or `-EINVAL` (nothing written) for a NULL pool, a NULL array with `n` > 0, a NULL
/// buffer with a non-zero length, or `crcs` overlapping an input.
///
/// # Safety
/// `units` and `lens` hold `n` elements, each `units[i]` `lens[i]` readable bytes; `crcs` holds
/// `n` writable elements. Thread-safe.
#[no_mangle]
pub unsafe extern "C" fn iaa_dsa_crc32c(
    pool: *mut iaa_pool,
    units: *const c_void,
    lens: *const usize,
    n: usize,
    seed: u32,
    crcs: *mut u32,
    info: *mut iaa_batch_info,
) -> c_int {
    let body = |p: &Pool, lens: &[usize], w: &mut Work<'_>| {
        // SAFETY: `units` holds `n` pointers, each to its length in readable bytes (this
        // function's contract).
        unsafe { bind_in(units, lens, "units", &mut w.a, &mut w.reads)? };
        // SAFETY: `crcs` holds `n` writable elements (this function's contract); overlaps are
        // refused below, before use.
        let crcs = unsafe { out_slice(crcs, n, "crcs")? };
        w.writes.push(span(crcs));
        if !disjoint(&mut w.writes, &mut w.reads) {
            return Err(CapiError::Invalid("crcs overlaps an input"));
        }
        Ok(p.crc32c(Inputs::Slices(&w.a), seed, crcs)?)
    };
    // SAFETY: `pool`, `lens` and `info` carry this function's contract, which is frame's.
    unsafe { frame(pool, lens, n, info, body) }
}

/// Same-filled detection of `n` pages (zswap's check before it compresses a page): `filled[i]`
/// is 1 when `pages[i]` (`lens[i]` bytes) is one 8-byte word repeated, else 0, and
/// `patterns[i]` (may be NULL: not wanted) receives that word (little-endian), 0 for a page
/// that is not same-filled. A page shorter than 8 bytes or whose length is not a multiple of 8
/// is not same-filled. One DSA compare-pattern per page, in batch descriptors.
///
/// Returns and refuses as `iaa_dsa_crc32c`.
///
/// # Safety
/// `pages` and `lens` hold `n` elements, each `pages[i]` `lens[i]` readable bytes; `filled`
/// (and `patterns` when not NULL) hold `n` writable elements. Thread-safe.
#[no_mangle]
pub unsafe extern "C" fn iaa_dsa_same_filled(
    pool: *mut iaa_pool,
    pages: *const c_void,
    lens: *const usize,
    n: usize,
    filled: *mut u8,
    patterns: *mut u64,
    info: *mut iaa_batch_info,
) -> c_int {
    let body = |p: &Pool, lens: &[usize], w: &mut Work<'_>| {
        // SAFETY: `pages` holds `n` pointers, each to its length in readable bytes (this
        // function's contract).
        unsafe { bind_in(pages, lens, "pages", &mut w.a, &mut w.reads)? };
        // SAFETY: `filled` holds `n` writable elements (this function's contract); overlaps
        // are refused below, before use.
        let filled = unsafe { out_slice(filled, n, "filled")? };
        w.writes.push(span(filled));
        // SAFETY: `patterns` is NULL or holds `n` writable elements (this function's
        // contract); overlaps are refused below, before use.
        let mut patterns = unsafe { crate::ffi::opt_out_slice(patterns, n, "patterns")? };
        if let Some(pt) = patterns.as_deref() {
            w.writes.push(span(pt));
        }
        if !disjoint(&mut w.writes, &mut w.reads) {
            return Err(CapiError::Invalid("filled or patterns overlaps an input"));
        }
        w.pats.clear();
        w.pats.resize(n, None);
        let sum = p.same_filled(Inputs::Slices(&w.a), &mut w.pats)?;
        for (i, v) in w.pats.iter().enumerate() {
            filled[i] = v.is_some() as u8;
            if let Some(pt) = patterns.as_deref_mut() {
                pt[i] = v.unwrap_or(0);
            }
        }
        Ok(sum)
    };
    // SAFETY: `pool`, `lens` and `info` carry this function's contract, which is frame's.
    unsafe { frame(pool, lens, n, info, body) }
}

/// Compares `n` pairs of buffers: `equal[i]` is 1 when `a[i]` and `b[i]` (both `lens[i]`
/// bytes) hold the same bytes, else 0. One DSA compare per pair, in batch descriptors.
///
/// Returns and refuses as `iaa_dsa_crc32c`.
///
/// # Safety
/// `a`, `b` and `lens` hold `n` elements, each `a[i]` and `b[i]` `lens[i]` readable bytes;
/// `equal` holds `n` writable elements. Thread-safe.
#[no_mangle]
pub unsafe extern "C" fn iaa_dsa_compare(
    pool: *mut iaa_pool,
    a: *const c_void,
    b: *const c_void,
    lens: *const usize,
    n: usize,
    equal: *mut u8,
    info: *mut iaa_batch_info,
) -> c_int {
    let body = |p: &Pool, lens: &[usize], w: &mut Work<'_>| {
        // SAFETY: `a` holds `n` pointers, each to its length in readable bytes (this
        // function's contract).
        unsafe { bind_in(a, lens, "a", &mut w.a, &mut w.reads)? };
        // SAFETY: as for `a`.
        unsafe { bind_in(b, lens, "b", &mut w.b, &mut w.reads)? };
        // SAFETY: `equal` holds `n` writable elements (this function's contract); overlaps
        // are refused below, before use.
        let equal = unsafe { out_slice(equal, n, "equal")? };
        w.writes.push(span(equal));
        if !disjoint(&mut w.writes, &mut w.reads) {
            return Err(CapiError::Invalid("equal overlaps an input"));
        }
        w.equal.clear();
        w.equal.resize(n, false);
        let sum = p.compare(Inputs::Slices(&w.a), Inputs::Slices(&w.b), &mut w.equal)?;
        for (o, e) in equal.iter_mut().zip(&w.equal) {
            *o = *e as u8;
        }
        Ok(sum)
    };
    // SAFETY: `pool`, `lens` and `info` carry this function's contract, which is frame's.
    unsafe { frame(pool, lens, n, info, body) }
}

/// Copies `n` buffers: `src[i]` (`lens[i]` bytes) to `dst[i]`. When the call returns every copy
/// is complete, on the DSA or in software. The buffers must not overlap (`-EINVAL`).
///
/// Returns and refuses as `iaa_dsa_crc32c`.
///
/// # Safety
/// `dst`, `src` and `lens` hold `n` elements, each `src[i]` `lens[i]` readable and each
/// `dst[i]` `lens[i]` writable bytes. Thread-safe.
#[no_mangle]
pub unsafe extern "C" fn iaa_dsa_copy(
    pool: *mut iaa_pool,
    dst: *const c_void,
    src: *const c_void,
    lens: *const usize,
    n: usize,
    info: *mut iaa_batch_info,
) -> c_int {
    let body = |p: &Pool, lens: &[usize], w: &mut Work<'_>| {
        // SAFETY: `src` holds `n` pointers, each to its length in readable bytes (this
        // function's contract).
        unsafe { bind_in(src, lens, "src", &mut w.a, &mut w.reads)? };
        // SAFETY: `dst` holds `n` pointers, each to its length in writable bytes (this
        // function's contract); overlaps are refused below, before use.
        unsafe { bind_out(dst, lens, &mut w.outs, &mut w.writes, &mut w.reads)? };
        if !disjoint(&mut w.writes, &mut w.reads) {
            return Err(CapiError::Invalid("copy buffers overlap"));
        }
        Ok(p.copy(Inputs::Slices(&w.a), Outputs::Slices(&mut w.outs))?)
    };
    // SAFETY: `pool`, `lens` and `info` carry this function's contract, which is frame's.
    unsafe { frame(pool, lens, n, info, body) }
}

/// Fills `n` buffers: every byte `j` of `dst[i]` (`lens[i]` bytes) becomes byte `j % 8` of the
/// little-endian `pattern` (0 zeroes them).
///
/// Returns and refuses as `iaa_dsa_crc32c` (`-EINVAL` also for overlapping buffers).
///
/// # Safety
/// `dst` and `lens` hold `n` elements, each `dst[i]` `lens[i]` writable bytes. Thread-safe.
#[no_mangle]
pub unsafe extern "C" fn iaa_dsa_fill(
    pool: *mut iaa_pool,
    dst: *const c_void,
    lens: *const usize,
    n: usize,
    pattern: u64,
    info: *mut iaa_batch_info,
) -> c_int {
    let body = |p: &Pool, lens: &[usize], w: &mut Work<'_>| {
        // SAFETY: `dst` holds `n` pointers, each to its length in writable bytes (this
        // function's contract); overlaps are refused below, before use.
        unsafe { bind_out(dst, lens, &mut w.outs, &mut w.writes, &mut w.reads)? };
        if !disjoint(&mut w.writes, &mut w.reads) {
            return Err(CapiError::Invalid("fill buffers overlap"));
        }
        Ok(p.fill(Outputs::Slices(&mut w.outs), n, pattern)?)
    };
    // SAFETY: `pool`, `lens` and `info` carry this function's contract, which is frame's.
    unsafe { frame(pool, lens, n, info, body) }
}
