//! The entry points over `iaa::Pool`.
//!
//! Each `extern "C"` function is a thin shell: it runs its body under [`guard`] (no panic
//! crosses the boundary) and turns the body's `Result` into a return code. The bodies check
//! every pointer and size before they build a Rust slice from it, so the only requirement left
//! on the C side is the usual one: a non-NULL pointer with a length must point to that many
//! readable (or writable) bytes.

use std::ffi::{c_char, c_int, c_void, CString};
use std::mem::{align_of, size_of};
use std::ptr;
use std::sync::OnceLock;
use std::time::Duration;

use iaa::{Budgets, Codec, Level, Outputs, Path, Pool, UnitError, UnitResult, WqChoice};

use crate::codes::IAA_OK;
use crate::error::{to_code, unit_code, CapiError};
use crate::types::*;
use crate::{guard, guard_or};

const POOL_MAGIC: u64 = u64::from_le_bytes(*b"iaa_pool");

/// Largest `size` field accepted in a versioned struct: a guard against garbage, far above any
/// struct this ABI will define.
const MAX_STRUCT_SIZE: usize = 4096;

/// A pool of per-CPU compression contexts (opaque). Create with `iaa_pool_create`, share
/// between threads freely, free with `iaa_pool_destroy`.
#[allow(non_camel_case_types)]
pub struct iaa_pool {
    magic: u64,
    pub(crate) pool: Pool,
    /// Handles alive on this pool (`iaa_submit_*` until `iaa_handle_wait`/`_free`), times 2,
    /// plus 1 once `iaa_pool_destroy` was called: the pool is freed when this reaches 1.
    pub(crate) handles_state: std::sync::atomic::AtomicUsize,
    /// Finished handles kept for reuse, so a warm submit allocates nothing. Boxed: a handle's
    /// address is what C holds, and the `iaa::Handle` inside borrows its own vectors.
    #[allow(clippy::vec_box)]
    pub(crate) spare_handles: std::sync::Mutex<Vec<Box<crate::handle::Inflight>>>,
}

// Compile-time facts the ABI relies on.
const _: () = assert!(iaa::FALLBACK_CAUSES <= IAA_FALLBACK_CAUSES_MAX);
const _: () = {
    const fn is_sync<T: Sync + Send>() {}
    is_sync::<Pool>();
};

/// The pool behind a C handle: NULL, misaligned or non-pool pointers (wrong magic) are refused.
///
/// # Safety
/// `p` is NULL or points to readable memory of at least `size_of::<iaa_pool>()` bytes (a pool
/// returned by `iaa_pool_create` and not yet destroyed).
pub(crate) unsafe fn pool_ref<'a>(p: *const iaa_pool) -> Result<&'a Pool, CapiError> {
    if p.is_null() {
        return Err(CapiError::Null("pool"));
    }
    if !(p as usize).is_multiple_of(align_of::<iaa_pool>()) {
        return Err(CapiError::Invalid("pool is not a pool handle"));
    }
    // SAFETY: non-null, aligned, and the caller promises a live pool.
    let r = unsafe { &*p };
    if r.magic != POOL_MAGIC {
        return Err(CapiError::Invalid("pool is not a live pool handle"));
    }
    Ok(&r.pool)
}

/// True when `len` elements of `T` at `p` fit in the address space and in an `isize`.
fn range_ok<T>(p: *const T, len: usize) -> bool {
    len.checked_mul(size_of::<T>())
        .is_some_and(|b| b <= isize::MAX as usize && (p as usize).checked_add(b).is_some())
}

/// A shared slice from a C pointer and length; NULL is accepted only with `len == 0`.
///
/// # Safety
/// When `len > 0` and `p` is non-null, `p` points to `len` readable, initialised `T`s that no
/// one writes during the call.
pub(crate) unsafe fn in_slice<'a, T>(
    p: *const T,
    len: usize,
    what: &'static str,
) -> Result<&'a [T], CapiError> {
    if len == 0 {
        return Ok(&[]);
    }
    if p.is_null() {
        return Err(CapiError::Null(what));
    }
    if !(p as usize).is_multiple_of(align_of::<T>()) || !range_ok(p, len) {
        return Err(CapiError::Invalid(what));
    }
    // SAFETY: non-null, aligned, within the address space; readable per the caller.
    Ok(unsafe { std::slice::from_raw_parts(p, len) })
}

/// A mutable slice from a C pointer and length; NULL is accepted only with `len == 0`.
///
/// # Safety
/// When `len > 0` and `p` is non-null, `p` points to `len` writable `T`s that nothing else
/// accesses during the call (the disjointness checks of the callers cover the other
/// arguments).
pub(crate) unsafe fn out_slice<'a, T>(
    p: *mut T,
    len: usize,
    what: &'static str,
) -> Result<&'a mut [T], CapiError> {
    if len == 0 {
        return Ok(&mut []);
    }
    if p.is_null() {
        return Err(CapiError::Null(what));
    }
    if !(p as usize).is_multiple_of(align_of::<T>()) || !range_ok(p, len) {
        return Err(CapiError::Invalid(what));
    }
    // SAFETY: non-null, aligned, within the address space; writable and unaliased per the
    // caller.
    Ok(unsafe { std::slice::from_raw_parts_mut(p, len) })
}

/// `[start, end)` of a slice's bytes.
pub(crate) fn span<T>(s: &[T]) -> (usize, usize) {
    let a = s.as_ptr() as usize;
    (a, a + std::mem::size_of_val(s))
}

/// True when no two `writes` overlap and no write overlaps any of `reads` (empty ranges never
/// overlap). Both slices are reordered in place; nothing is allocated.
pub(crate) fn disjoint(writes: &mut [(usize, usize)], reads: &mut [(usize, usize)]) -> bool {
    writes.sort_unstable();
    reads.sort_unstable();
    // Move the non-empty writes to the front, keeping their order.
    let mut m = 0;
    for i in 0..writes.len() {
        if writes[i].0 < writes[i].1 {
            writes[m] = writes[i];
            m += 1;
        }
    }
    let w = &writes[..m];
    if w.windows(2).any(|p| p[1].0 < p[0].1) {
        return false;
    }
    // Sweep the reads (sorted by start) against the sorted, disjoint writes: writes before `j`
    // end at or before the current read's start, hence before every later read's start too.
    let mut j = 0;
    for r in reads.iter().filter(|r| r.0 < r.1) {
        while j < w.len() && w[j].1 <= r.0 {
            j += 1;
        }
        // w[j] (if any) ends after r.0, so it overlaps r exactly when it starts before r.1.
        if j < w.len() && w[j].0 < r.1 {
            return false;
        }
    }
    true
}

/// Per-thread vectors reused by the batch calls, so a call allocates nothing once a thread has
/// made one call of that size. Kept with `'static` element lifetimes while idle; a call
/// re-binds the (empty) vectors to its own lifetimes with [`rebind`].
#[derive(Default)]
struct Scratch {
    results: Vec<UnitResult>,
    ins: Vec<&'static [u8]>,
    outs: Vec<&'static mut [u8]>,
    writes: Vec<(usize, usize)>,
    reads: Vec<(usize, usize)>,
}

thread_local! {
    static SCRATCH: std::cell::RefCell<Scratch> = std::cell::RefCell::default();
}

/// Takes this thread's scratch (a fresh one if a panic lost it or the thread is exiting).
fn take_scratch() -> Scratch {
    SCRATCH
        .try_with(|s| std::mem::take(&mut *s.borrow_mut()))
        .unwrap_or_default()
}

/// Returns the scratch for the next call on this thread.
fn put_scratch(s: Scratch) {
    let _ = SCRATCH.try_with(|c| *c.borrow_mut() = s);
}

/// An empty vector of one element lifetime turned into an empty vector of another, keeping its
/// allocation (in-place collection of a `vec::IntoIter` whose element layout does not change).
pub(crate) fn rebind<A, B>(mut v: Vec<A>) -> Vec<B> {
    v.clear();
    v.into_iter()
        .map(|_| unreachable!("the vector is empty"))
        .collect()
}

/// Reads the `size` field of a caller's versioned struct and bounds it.
///
/// # Safety
/// `p` is non-null and points to at least a readable `size_t`.
unsafe fn struct_size<T>(p: *const T, what: &'static str) -> Result<usize, CapiError> {
    if !(p as usize).is_multiple_of(align_of::<usize>()) {
        return Err(CapiError::Invalid(what));
    }
    // SAFETY: non-null and aligned; every versioned struct starts with a size_t.
    let size = unsafe { ptr::read(p as *const usize) };
    if !(size_of::<usize>()..=MAX_STRUCT_SIZE).contains(&size) || !range_ok(p as *const u8, size) {
        return Err(CapiError::Invalid(what));
    }
    Ok(size)
}

/// A validated `iaa_batch_info*` (NULL allowed) and its caller size.
///
/// # Safety
/// `info` is NULL or points to a writable struct of `info->size` bytes.
pub(crate) unsafe fn batch_info_arg(
    info: *mut iaa_batch_info,
) -> Result<Option<(*mut iaa_batch_info, usize)>, CapiError> {
    if info.is_null() {
        return Ok(None);
    }
    // SAFETY: non-null; the caller promises a struct starting with its size.
    let size = unsafe { struct_size(info, "info->size")? };
    Ok(Some((info, size)))
}

/// Writes a call's summary into the caller's `iaa_batch_info`.
///
/// # Safety
/// As for [`batch_info_arg`], whose result this takes.
pub(crate) unsafe fn write_info(info: Option<(*mut iaa_batch_info, usize)>, s: &iaa::BatchSummary) {
    if let Some((p, size)) = info {
        let v = iaa_batch_info {
            size: size_of::<iaa_batch_info>(),
            units: s.units as u64,
            hardware: s.hardware as u64,
            software: s.software as u64,
            incompressible: s.incompressible as u64,
            failed: s.failed as u64,
        };
        // SAFETY: `p` holds `size` writable bytes (checked by batch_info_arg).
        unsafe { write_versioned(&v, p, size) };
    }
}

/// The builder described by a C config.
///
/// # Safety
/// `cfg` is NULL or points to a readable struct of `cfg->size` bytes.
unsafe fn builder_from(cfg: *const iaa_config) -> Result<iaa::PoolBuilder, CapiError> {
    let c = if cfg.is_null() {
        iaa_config::defaults()
    } else {
        // SAFETY: non-null; the caller promises `cfg->size` readable bytes.
        let size = unsafe { struct_size(cfg, "cfg->size")? };
        // SAFETY: as above; every field of iaa_config is an integer or a raw pointer, for which
        // any bytes are a valid value (the pointer is only dereferenced below, checked).
        unsafe { read_versioned(iaa_config::defaults(), cfg, size) }.ok_or(CapiError::Invalid(
            "cfg has non-zero fields this library does not know",
        ))?
    };
    let path = match c.path {
        IAA_PATH_AUTO => Path::Auto,
        IAA_PATH_HARDWARE => Path::Hardware,
        IAA_PATH_SOFTWARE => Path::Software,
        _ => return Err(CapiError::Invalid("cfg->path")),
    };
    let codec = match c.codec {
        IAA_CODEC_DEFLATE => Codec::Deflate,
        IAA_CODEC_ZSTD => Codec::Zstd,
        _ => return Err(CapiError::Invalid("cfg->codec")),
    };
    let level = match c.level {
        IAA_LEVEL_FAST => Level::Fast,
        IAA_LEVEL_BETTER => Level::Better,
        _ => return Err(CapiError::Invalid("cfg->level")),
    };
    if c.flags & !KNOWN_FLAGS != 0 {
        return Err(CapiError::Invalid("cfg->flags has unknown bits"));
    }
    let mut b = Pool::builder()
        .path(path)
        .codec(codec)
        .level(level)
        .verify(c.flags & IAA_FLAG_VERIFY != 0)
        .hybrid(c.flags & IAA_FLAG_NO_HYBRID == 0)
        .spread_over_cores(c.flags & IAA_FLAG_SPREAD_OVER_CORES != 0);
    if c.hw_batch_size != 0 {
        b = b.hw_batch_size(c.hw_batch_size as usize);
    }
    if c.contexts != 0 {
        b = b.contexts(c.contexts as usize);
    }
    if c.max_unit_size != 0 {
        let n = usize::try_from(c.max_unit_size)
            .map_err(|_| CapiError::Invalid("cfg->max_unit_size"))?;
        b = b.max_unit_size(n);
    }
    if c.completion_timeout_us != 0 {
        b = b.budgets(Budgets {
            completion_timeout: Duration::from_micros(c.completion_timeout_us),
            ..Budgets::default()
        });
    }
    if c.wq != 0 {
        b = b.wq(WqChoice::Index(c.wq as usize - 1));
    }
    b = b.hw_mode(match c.hw_mode {
        IAA_HW_MODE_AUTO => iaa::HwMode::Auto,
        IAA_HW_MODE_FIXED => iaa::HwMode::Fixed,
        IAA_HW_MODE_DYNAMIC => iaa::HwMode::Dynamic,
        IAA_HW_MODE_TRAINED => iaa::HwMode::Trained,
        _ => return Err(CapiError::Invalid("cfg->hw_mode")),
    });
    // No sample (length 0): the pool learns its code from its first units.
    if c.hw_mode == IAA_HW_MODE_TRAINED && c.training_sample_len > 0 {
        if c.training_sample_len > iaa::MAX_TRAINING_SAMPLE {
            return Err(CapiError::Invalid("cfg->training_sample_len"));
        }
        // SAFETY: the caller promises `training_sample_len` readable bytes at
        // `training_sample` (this function's contract, see iaa_pool_create).
        let sample = unsafe {
            in_slice(
                c.training_sample as *const u8,
                c.training_sample_len,
                "cfg->training_sample",
            )?
        };
        b = b.training_sample(sample.to_vec());
    }
    Ok(b)
}

/// Creates a pool. `cfg` may be NULL (all defaults). On success `*out` is the new pool and the
/// result is 0; on failure `*out` is NULL and the result is `-EINVAL` (bad config),
/// `-ENODEV` (`IAA_PATH_HARDWARE` without a device), `-EOPNOTSUPP` (zstd on the hardware
/// path) or `-ENOMEM`.
///
/// # Safety
/// `cfg` is NULL or points to an `iaa_config` whose `size` bytes are readable (and, with
/// `IAA_HW_MODE_TRAINED`, whose `training_sample` holds `training_sample_len` readable bytes); `out` is NULL
/// (refused) or writable.
#[no_mangle]
pub unsafe extern "C" fn iaa_pool_create(cfg: *const iaa_config, out: *mut *mut iaa_pool) -> c_int {
    guard(|| {
        to_code((|| {
            if out.is_null() {
                return Err(CapiError::Null("out"));
            }
            if !(out as usize).is_multiple_of(align_of::<*mut iaa_pool>()) {
                return Err(CapiError::Invalid("out"));
            }
            // SAFETY: non-null, aligned, writable per the caller. Written first so every
            // failure leaves NULL behind.
            unsafe { out.write(ptr::null_mut()) };
            // SAFETY: forwarded from this function's contract.
            let pool = unsafe { builder_from(cfg)? }.build()?;
            let handle = Box::into_raw(Box::new(iaa_pool {
                magic: POOL_MAGIC,
                pool,
                handles_state: std::sync::atomic::AtomicUsize::new(0),
                spare_handles: std::sync::Mutex::new(Vec::with_capacity(
                    crate::handle::SPARE_HANDLES,
                )),
            }));
            // SAFETY: as above.
            unsafe { out.write(handle) };
            Ok(IAA_OK)
        })())
    })
}

/// Frees a pool and every context it holds. NULL is a no-op. No other call on this pool may be
/// running or start afterwards. Handles still alive on it (`iaa_submit_*`) stay valid: the
/// pool is freed when the last of them is waited for or freed.
///
/// # Safety
/// `pool` is NULL or a pool from `iaa_pool_create` not yet destroyed.
#[no_mangle]
pub unsafe extern "C" fn iaa_pool_destroy(pool: *mut iaa_pool) {
    guard(|| {
        // SAFETY: forwarded from this function's contract.
        if pool.is_null() || unsafe { pool_ref(pool) }.is_err() {
            return IAA_OK;
        }
        // SAFETY: a live pool created by Box::into_raw; the magic is cleared first so a stale
        // pool pointer used later is refused as long as the memory is not reused.
        unsafe {
            (*pool).magic = 0;
            crate::handle::destroy_pool(pool);
        }
        IAA_OK
    });
}

/// `IAA_PATH_HARDWARE` if the pool sends units to a device (or the device model) first,
/// `IAA_PATH_SOFTWARE` if it runs in software only; `-EINVAL` for a NULL pool.
///
/// # Safety
/// `pool` is NULL or a live pool.
#[no_mangle]
pub unsafe extern "C" fn iaa_pool_path(pool: *const iaa_pool) -> c_int {
    guard(|| {
        // SAFETY: forwarded from this function's contract.
        to_code(unsafe { pool_ref(pool) }.map(|p| {
            if p.is_hardware() {
                IAA_PATH_HARDWARE as c_int
            } else {
                IAA_PATH_SOFTWARE as c_int
            }
        }))
    })
}

/// Writes one line saying which path the pool uses and why (e.g. `"software (no IAA device:
/// ...)"`) into `buf` (NUL-terminated, truncated to `len - 1` bytes). Returns the length of
/// the whole line (like `snprintf`), or a negative code.
///
/// # Safety
/// `pool` is NULL or a live pool; `buf` is NULL (only with `len == 0`) or holds `len` writable
/// bytes.
#[no_mangle]
pub unsafe extern "C" fn iaa_pool_describe(
    pool: *const iaa_pool,
    buf: *mut c_char,
    len: usize,
) -> c_int {
    guard(|| {
        to_code((|| {
            // SAFETY: forwarded from this function's contract.
            let p = unsafe { pool_ref(pool)? };
            // SAFETY: as above.
            let out = unsafe { out_slice(buf as *mut u8, len, "buf")? };
            let text = p.describe();
            let bytes = text.as_bytes();
            if let Some(room) = out.len().checked_sub(1) {
                let n = room.min(bytes.len());
                out[..n].copy_from_slice(&bytes[..n]);
                out[n] = 0;
            }
            c_int::try_from(bytes.len()).map_err(|_| CapiError::Invalid("description too long"))
        })())
    })
}

/// Runs the self-test of the hardware path (`iaa selftest`): every WQ of `device` goes through
/// a fixed plan of known inputs (compress, decompress, verify, CRC64, a page-fault probe, a WQ
/// filled at once, latency), each completion-record field the library relies on compared with
/// the software path. `device` is a NUL-terminated name as `IAA_DEVICE` takes it (`"iax1"`,
/// `"wq1.0"`, a PCI address, `"vfio:BDF"`, `"model"`, `"vfio-model"`), or NULL for
/// `IAA_DEVICE` from the environment, else every usable kernel WQ. The report is written as
/// JSON into `json` (NUL-terminated, truncated to `len - 1` bytes; `json` may be NULL with
/// `len == 0`): an object with `device`, `checks` (each with `wq`, `op`, `input`, `status`
/// `"pass"`/`"fail"`/`"skipped"`, `detail`, and for a disagreement `field`, `seen`,
/// `expected`, `pool_action`) and `verdicts` (each with `wq`, `kind` `"ok"`/
/// `"ok_with_fallbacks"`/`"unusable"`, `verdict`). When `json_len` is not NULL it receives
/// the length of the whole report (call again with `len > *json_len` for all of it).
///
/// Returns 0 when every WQ passed, the number of WQs that did not (> 0), or a negative code:
/// `-ENODEV` (no device: `json` then holds `{"error": "..."}` with the reason), `-EINVAL`.
/// Takes about a second per WQ on the device model.
///
/// # Safety
/// `device` is NULL or a NUL-terminated string; `json` is NULL (only with `len == 0`) or holds
/// `len` writable bytes; `json_len` is NULL or points to a writable `size_t`.
#[no_mangle]
pub unsafe extern "C" fn iaa_selftest(
    device: *const c_char,
    json: *mut c_char,
    len: usize,
    json_len: *mut usize,
) -> c_int {
    guard(|| {
        to_code((|| {
            let device = if device.is_null() {
                iaa::Device::Auto
            } else {
                // SAFETY: non-NULL and NUL-terminated (this function's contract).
                let name = unsafe { std::ffi::CStr::from_ptr(device) };
                let name = name
                    .to_str()
                    .map_err(|_| CapiError::Invalid("device is not UTF-8"))?;
                iaa::Device::Named(name.to_string())
            };
            // SAFETY: forwarded from this function's contract.
            let out = unsafe { out_slice(json as *mut u8, len, "json")? };
            let (text, code) = match iaa::selftest(device) {
                Ok(r) => {
                    let failed = r
                        .verdicts
                        .iter()
                        .filter(|v| v.kind != iaa::VerdictKind::Ok)
                        .count();
                    let code = c_int::try_from(failed.max(usize::from(r.verdicts.is_empty())))
                        .map_err(|_| CapiError::Invalid("too many WQs"))?;
                    (r.to_json(), code)
                }
                Err(e) => {
                    let code = crate::error::iaa_error_code(&e);
                    (
                        serde_json::json!({ "error": e.to_string() }).to_string(),
                        code,
                    )
                }
            };
            let bytes = text.as_bytes();
            if let Some(room) = out.len().checked_sub(1) {
                let n = room.min(bytes.len());
                out[..n].copy_from_slice(&bytes[..n]);
                out[n] = 0;
            }
            if !json_len.is_null() {
                // SAFETY: non-NULL and writable (this function's contract).
                unsafe { json_len.write(bytes.len()) };
            }
            Ok(code)
        })())
    })
}

/// How many units one call runs in parallel: the hardware batch size on the hardware path
/// (default 8); on the software path 1, or the thread count with
/// `IAA_FLAG_SPREAD_OVER_CORES`. A sizing hint: calls take any number of units. 0 for a NULL
/// pool.
///
/// # Safety
/// `pool` is NULL or a live pool.
#[no_mangle]
pub unsafe extern "C" fn iaa_batch_size(pool: *const iaa_pool) -> usize {
    // SAFETY: forwarded from this function's contract.
    guard_or(0, || {
        // SAFETY: `pool` is NULL or a live pool from iaa_pool_create (this function's contract);
        // pool_ref refuses NULL.
        unsafe { pool_ref(pool) }.map_or(0, |p| p.batch_size())
    })
}

/// The largest compressed form of `src_len` bytes in either codec: raw deflate's worst case
/// `src_len + 5 * max(1, ceil(src_len / 65535))` (stored blocks, which bound every deflate
/// encoder that falls back to them) or zstd's `ZSTD_COMPRESSBOUND(src_len)`, whichever is
/// larger (saturating at `SIZE_MAX`). The batch and single calls themselves never write more
/// than `src_len - 1` bytes for a unit (larger output is `IAA_INCOMPRESSIBLE`: store the unit
/// raw), so slots of the unit's size are enough for them; this bound is for buffers that must
/// hold any stream.
#[no_mangle]
pub extern "C" fn iaa_compress_bound(src_len: usize) -> usize {
    let deflate = src_len.saturating_add(src_len.div_ceil(65535).max(1).saturating_mul(5));
    let zstd = src_len
        .saturating_add(src_len >> 8)
        .saturating_add((128usize << 10).saturating_sub(src_len) >> 11);
    deflate.max(zstd)
}

/// Number of units `src_len` bytes make at `unit_size` bytes each (the last may be shorter);
/// 0 when `unit_size` is 0. The `results_len` and slot count a compress batch needs.
#[no_mangle]
pub extern "C" fn iaa_unit_count(src_len: usize, unit_size: usize) -> usize {
    if unit_size == 0 {
        0
    } else {
        src_len.div_ceil(unit_size)
    }
}

/// Compresses `src` cut into units of `unit_size` bytes (the last may be shorter). Unit `i`
/// goes to the slot `dst + i * dst_stride` of `dst_stride` bytes, and `results[i]` receives its
/// compressed length (>= 0), `IAA_INCOMPRESSIBLE` (store it raw; the slot holds nothing
/// useful), or a negative code. One unit failing never fails the others.
///
/// Returns 0 when every unit has its result (look at `results`), or a negative code for a
/// malformed call, in which case no slot and no result was written: `-EINVAL` for a NULL pool
/// or buffer with a non-zero length, `unit_size` 0 or above `INT32_MAX`, `dst_stride` 0,
/// `dst_len < units * dst_stride`, `results_len < units`, or overlapping `src`, `dst` and
/// `results`. `units = iaa_unit_count(src_len, unit_size)`; `info` (may be NULL) receives the
/// call's totals, including how many units ran on the hardware and in software. `crcs` (may be
/// NULL: not wanted) receives per unit the CRC-32 (gzip/zlib) of the unit's uncompressed bytes
/// for a compressed or incompressible unit (from the device's completion record on the
/// hardware path), 0 for a failed one.
///
/// # Safety
/// Each non-NULL pointer holds the given number of readable (`src`) or writable (`dst`,
/// `results`, `crcs` (`units` elements), `info->size` bytes of `info`) bytes or elements.
/// Thread-safe.
#[no_mangle]
pub unsafe extern "C" fn iaa_compress_batch(
    pool: *mut iaa_pool,
    src: *const c_void,
    src_len: usize,
    unit_size: usize,
    dst: *mut c_void,
    dst_len: usize,
    dst_stride: usize,
    results: *mut i32,
    results_len: usize,
    crcs: *mut u32,
    info: *mut iaa_batch_info,
) -> c_int {
    guard(|| {
        to_code((|| {
            // SAFETY: `pool` is NULL or a live pool from iaa_pool_create (this function's
            // contract); pool_ref refuses NULL.
            let p = unsafe { pool_ref(pool)? };
            // SAFETY: `info` is NULL or holds `info->size` writable bytes (this function's
            // contract); batch_info_arg checks both.
            let info = unsafe { batch_info_arg(info)? };
            if unit_size == 0 || unit_size > i32::MAX as usize {
                return Err(CapiError::Invalid("unit_size must be in 1..=INT32_MAX"));
            }
            if dst_stride == 0 {
                return Err(CapiError::Invalid("dst_stride is 0"));
            }
            let n = src_len.div_ceil(unit_size);
            if results_len < n {
                return Err(CapiError::Invalid(
                    "results_len is smaller than the unit count",
                ));
            }
            if dst_len / dst_stride < n {
                return Err(CapiError::Invalid("dst_len holds fewer slots than units"));
            }
            // SAFETY: `src` is readable for src_len elements during this call (this function's
            // contract); in_slice refuses NULL unless the count is 0.
            let src = unsafe { in_slice(src.cast::<u8>(), src_len, "src")? };
            // SAFETY: `dst` is writable for dst_len elements during this call (this function's
            // contract); out_slice refuses NULL unless the count is 0, and overlaps are refused
            // before use.
            let dst = unsafe { out_slice(dst.cast::<u8>(), dst_len, "dst")? };
            // SAFETY: `results` is writable for n elements during this call (this function's
            // contract); out_slice refuses NULL unless the count is 0, and overlaps are refused
            // before use.
            let results = unsafe { out_slice(results, n, "results")? };
            // SAFETY: `crcs` is NULL (not wanted) or writable for n elements during this call (this
            // function's contract).
            let mut crcs = unsafe { opt_out_slice(crcs, n, "crcs")? };
            let crc_span = crcs.as_deref().map_or((0, 0), span);
            if !disjoint(&mut [span(dst), span(results), crc_span], &mut [span(src)]) {
                return Err(CapiError::Invalid("src, dst, results and crcs overlap"));
            }
            let mut scratch = take_scratch();
            scratch.results.clear();
            scratch.results.resize(n, UnitResult::Pending);
            let sum = p.compress_batch(
                src,
                unit_size,
                Outputs::flat(dst, dst_stride),
                &mut scratch.results,
            );
            let done = sum.map_err(CapiError::from).and_then(|sum| {
                for (i, (o, r)) in results.iter_mut().zip(&scratch.results).enumerate() {
                    *o = unit_code(r)?;
                    if let Some(c) = crcs.as_deref_mut() {
                        c[i] = unit_crc(r, src.chunks(unit_size).nth(i).unwrap_or(&[]));
                    }
                }
                Ok(sum)
            });
            put_scratch(scratch);
            // SAFETY: `info` passed batch_info_arg above: NULL, or writable for the size it
            // declares.
            unsafe { write_info(info, &done?) };
            Ok(IAA_OK)
        })())
    })
}

/// Decompresses `units` independent units: unit `i` is `src[i]` (`src_lens[i]` bytes of raw
/// deflate, or a zstd frame for an `IAA_CODEC_ZSTD` pool) and goes to `dst[i]`, which holds
/// `dst_caps[i]` bytes. `src` and `dst` are arrays of `units` pointers; they are declared
/// `const void *` so that an array of any object-pointer type (`unsigned char *`, `char *`,
/// `uint8_t *`, `void *`, const or not) passes without a cast, and must be aligned for a
/// pointer. `expected_crcs` (may be NULL: no check) gives the CRC-32 (gzip/zlib) each unit's
/// output must have: a unit that decodes to other bytes gets `IAA_ECRC` (on every path: a
/// device result is checked like a software one). `crcs` (may be NULL: not wanted) receives
/// each decompressed unit's CRC-32 (from the device's completion record on the hardware path),
/// 0 for a failed unit. A unit must be exactly one deflate stream: bytes after its final block
/// give `IAA_ETRAILING` (`iaa_decompress_batch_consumed` also says where the stream ended); a
/// unit that succeeds used all of its `src_lens[i]` bytes. `results[i]` receives the
/// decompressed length (>= 0) or a negative code: `-EBADMSG` (corrupt input), `-EOVERFLOW`
/// (does not fit `dst_caps[i]`), ... Any raw deflate stream is accepted (32 KiB windows too;
/// those run in software).
///
/// Returns 0 when every unit has its result, or a negative code for a malformed call (nothing
/// written): `-EINVAL` for a NULL pool or array, a NULL buffer with a non-zero length, a
/// `dst_caps[i]` above `INT32_MAX`, `results_len < units`, or output buffers that overlap each
/// other, an input or `results`. `info` (may be NULL) receives the call's totals.
///
/// # Safety
/// The four arrays (and `expected_crcs`, `crcs` when not NULL) hold `units` elements; each
/// non-NULL buffer holds its length in readable (`src[i]`) or writable (`dst[i]`) bytes;
/// `results` holds `results_len` writable elements. Thread-safe.
#[no_mangle]
pub unsafe extern "C" fn iaa_decompress_batch(
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
    info: *mut iaa_batch_info,
) -> c_int {
    // SAFETY: the same arguments and contract, without the consumed counts.
    unsafe {
        iaa_decompress_batch_consumed(
            pool,
            src,
            src_lens,
            dst,
            dst_caps,
            units,
            expected_crcs,
            results,
            results_len,
            crcs,
            ptr::null_mut(),
            info,
        )
    }
}

/// `iaa_decompress_batch` that also reports, per unit, how many input bytes its stream used.
/// `consumed` (may be NULL: then this is `iaa_decompress_batch`) receives `units` counts:
/// `consumed[i] = src_lens[i]` for a unit that decoded (`results[i] >= 0`, or `IAA_ECRC`);
/// for a unit whose result is `IAA_ETRAILING`, the length of its deflate stream, which ends
/// inside `src[i]` after `consumed[i]` bytes (the stream's last byte may be used in part) and
/// is followed by `src_lens[i] - consumed[i]` bytes that are not part of it (`dst[i]` holds the
/// stream's output, but the unit is not accepted; decompressing the first `consumed[i]` bytes
/// alone gives that output and its length); 0 for a unit that failed otherwise. A zstd pool
/// reports no `IAA_ETRAILING` (its units decode as whole zstd frames or fail). Everything
/// else, the refusals included (`consumed` may not overlap the other arrays or buffers), is as
/// for `iaa_decompress_batch`; the asynchronous `iaa_submit_decompress_batch` has no consumed
/// array.
///
/// # Safety
/// As for `iaa_decompress_batch`; `consumed` is NULL or holds `units` writable elements.
/// Thread-safe.
#[no_mangle]
pub unsafe extern "C" fn iaa_decompress_batch_consumed(
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
    consumed: *mut usize,
    info: *mut iaa_batch_info,
) -> c_int {
    guard(|| {
        // SAFETY: this function's arguments carry the contract of the call below, which is this
        // function's own (see its # Safety).
        to_code(unsafe {
            vector_call(
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
                    consumed,
                },
                info,
            )
        })
    })
}

/// Compresses `units` separate buffers (scattered pages, say): unit `i` is `src[i]`
/// (`src_lens[i]` bytes) and goes to `dst[i]` (`dst_caps[i]` bytes). `results[i]` receives the
/// compressed length (>= 0), `IAA_INCOMPRESSIBLE` (store the unit raw), or a negative code;
/// `crcs` (may be NULL) the CRC-32 of unit `i`'s input as `iaa_compress_batch` gives it.
/// Returns and refuses exactly like `iaa_decompress_batch`.
///
/// # Safety
/// As for `iaa_decompress_batch`. Thread-safe.
#[no_mangle]
pub unsafe extern "C" fn iaa_compress_units(
    pool: *mut iaa_pool,
    src: *const c_void,
    src_lens: *const usize,
    dst: *const c_void,
    dst_caps: *const usize,
    units: usize,
    results: *mut i32,
    results_len: usize,
    crcs: *mut u32,
    info: *mut iaa_batch_info,
) -> c_int {
    guard(|| {
        // SAFETY: this function's arguments carry the contract of the call below, which is this
        // function's own (see its # Safety).
        to_code(unsafe {
            vector_call(
                true,
                pool,
                CUnits {
                    src,
                    src_lens,
                    dst,
                    dst_caps,
                    units,
                    expected_crcs: ptr::null(),
                    results,
                    results_len,
                    crcs,
                    consumed: ptr::null_mut(),
                },
                info,
            )
        })
    })
}

/// Shared body of the pointer-array calls.
///
/// # Safety
/// As for `iaa_decompress_batch`.
unsafe fn vector_call(
    compress: bool,
    pool: *mut iaa_pool,
    c: CUnits,
    info: *mut iaa_batch_info,
) -> Result<c_int, CapiError> {
    // SAFETY: `pool` is NULL or a live pool from iaa_pool_create (this function's contract);
    // pool_ref refuses NULL.
    let p = unsafe { pool_ref(pool)? };
    // SAFETY: `info` is NULL or holds `info->size` writable bytes (this function's contract);
    // batch_info_arg checks both.
    let info = unsafe { batch_info_arg(info)? };
    // SAFETY: every array of `c` holds its element count, readable (`results`, `crcs` writable)
    // during this call (this function's contract).
    let mut a = unsafe { c_arrays(c)? };
    let mut scratch = take_scratch();
    // SAFETY: the arrays of `a` were checked by c_arrays; each source and destination pointer names
    // its length during this call (this function's contract), and units_call refuses overlaps
    // before use.
    let r = unsafe { units_call(compress, p, &mut a, &mut scratch) };
    put_scratch(scratch);
    // SAFETY: `info` passed batch_info_arg above: NULL, or writable for the size it declares.
    unsafe { write_info(info, &r?) };
    Ok(IAA_OK)
}

/// The raw arguments of a pointer-array call.
pub(crate) struct CUnits {
    pub(crate) src: *const c_void,
    pub(crate) src_lens: *const usize,
    pub(crate) dst: *const c_void,
    pub(crate) dst_caps: *const usize,
    pub(crate) units: usize,
    /// NULL: no expected CRCs (always NULL for compression).
    pub(crate) expected_crcs: *const u32,
    pub(crate) results: *mut i32,
    pub(crate) results_len: usize,
    /// NULL: the caller wants no CRCs.
    pub(crate) crcs: *mut u32,
    /// NULL: the caller wants no consumed-byte counts (always NULL but for
    /// `iaa_decompress_batch_consumed`).
    pub(crate) consumed: *mut usize,
}

/// The C arrays of a pointer-array call, checked: `units` elements each, `results` of at least
/// `units` elements (only the first `units` are used).
pub(crate) struct CArrays<'a> {
    pub(crate) srcs: &'a [*const u8],
    pub(crate) lens: &'a [usize],
    pub(crate) dsts: &'a [*mut u8],
    pub(crate) caps: &'a [usize],
    pub(crate) results: &'a mut [i32],
    pub(crate) expected: Option<&'a [u32]>,
    pub(crate) crcs: Option<&'a mut [u32]>,
    pub(crate) consumed: Option<&'a mut [usize]>,
}

/// Checks and borrows the arrays of a pointer-array call.
///
/// # Safety
/// Each non-NULL array holds `units` elements (`results` `results_len`), readable (`results`
/// and `crcs` writable) during the borrow.
pub(crate) unsafe fn c_arrays<'a>(c: CUnits) -> Result<CArrays<'a>, CapiError> {
    let units = c.units;
    if c.results_len < units {
        return Err(CapiError::Invalid("results_len is smaller than units"));
    }
    Ok(CArrays {
        // SAFETY: `src` is readable for units elements during this call (this function's contract);
        // in_slice refuses NULL unless the count is 0.
        srcs: unsafe { in_slice(c.src.cast::<*const u8>(), units, "src")? },
        // SAFETY: `src_lens` is readable for units elements during this call (this function's
        // contract); in_slice refuses NULL unless the count is 0.
        lens: unsafe { in_slice(c.src_lens, units, "src_lens")? },
        // SAFETY: `dst` is readable for units elements during this call (this function's contract);
        // in_slice refuses NULL unless the count is 0.
        dsts: unsafe { in_slice(c.dst.cast::<*mut u8>(), units, "dst")? },
        // SAFETY: `dst_caps` is readable for units elements during this call (this function's
        // contract); in_slice refuses NULL unless the count is 0.
        caps: unsafe { in_slice(c.dst_caps, units, "dst_caps")? },
        // SAFETY: `results` is writable for units elements during this call (this function's
        // contract); out_slice refuses NULL unless the count is 0, and overlaps are refused before
        // use.
        results: unsafe { out_slice(c.results, units, "results")? },
        expected: if c.expected_crcs.is_null() {
            None
        } else {
            // SAFETY: `expected_crcs` is readable for units elements during this call (this
            // function's contract); in_slice refuses NULL unless the count is 0.
            Some(unsafe { in_slice(c.expected_crcs, units, "expected_crcs")? })
        },
        // SAFETY: `crcs` is NULL (not wanted) or writable for units elements during this call (this
        // function's contract).
        crcs: unsafe { opt_out_slice(c.crcs, units, "crcs")? },
        // SAFETY: `consumed` is NULL (not wanted) or writable for units elements during this
        // call (this function's contract).
        consumed: unsafe { opt_out_slice(c.consumed, units, "consumed")? },
    })
}

/// `None` for NULL, else [`out_slice`].
///
/// # Safety
/// As for [`out_slice`] when not NULL.
pub(crate) unsafe fn opt_out_slice<'a, T>(
    p: *mut T,
    len: usize,
    what: &'static str,
) -> Result<Option<&'a mut [T]>, CapiError> {
    if p.is_null() {
        return Ok(None);
    }
    // SAFETY: forwarded from this function's contract.
    unsafe { out_slice(p, len, what) }.map(Some)
}

/// The CRC a C caller gets for a finished unit: the result's CRC-32 of the uncompressed
/// bytes, for an incompressible unit the CRC-32 of its input (which the caller stores raw),
/// 0 for a failed unit.
pub(crate) fn unit_crc(r: &UnitResult, input: &[u8]) -> u32 {
    match r {
        UnitResult::Done { crc, .. } => *crc,
        UnitResult::Incompressible => iaa::crc32(input),
        _ => 0,
    }
}

/// Borrows every unit's buffer into `ins` / `outs` (cleared first) and checks that no output
/// overlaps another output, an input, the arrays or `results`. `writes` and `reads` are
/// scratch (cleared first); nothing is allocated once they are large enough.
///
/// # Safety
/// Each `a.srcs[i]` holds `a.lens[i]` readable bytes and each `a.dsts[i]` `a.caps[i]` writable
/// bytes (NULL only with length 0), valid for `'a`.
pub(crate) unsafe fn bind_units<'a>(
    a: &CArrays<'_>,
    ins: &mut Vec<&'a [u8]>,
    outs: &mut Vec<&'a mut [u8]>,
    writes: &mut Vec<(usize, usize)>,
    reads: &mut Vec<(usize, usize)>,
) -> Result<(), CapiError> {
    ins.clear();
    outs.clear();
    writes.clear();
    reads.clear();
    for (&s, &l) in a.srcs.iter().zip(a.lens) {
        // SAFETY: forwarded from this function's contract.
        ins.push(unsafe { in_slice(s, l, "src[i]")? });
    }
    for (&d, &c) in a.dsts.iter().zip(a.caps) {
        if c > i32::MAX as usize {
            return Err(CapiError::Invalid("dst_caps[i] exceeds INT32_MAX"));
        }
        // SAFETY: forwarded from this function's contract; disjointness is checked below,
        // before any slot is written.
        outs.push(unsafe { out_slice(d, c, "dst[i]")? });
    }
    writes.extend(outs.iter().map(|s| span(s)));
    writes.push(span(a.results));
    if let Some(c) = a.crcs.as_deref() {
        writes.push(span(c));
    }
    if let Some(c) = a.consumed.as_deref() {
        writes.push(span(c));
    }
    reads.extend(ins.iter().map(|s| span(s)));
    reads.extend([span(a.srcs), span(a.lens), span(a.dsts), span(a.caps)]);
    if let Some(e) = a.expected {
        reads.push(span(e));
    }
    if !disjoint(writes, reads) {
        return Err(CapiError::Invalid("output buffers overlap"));
    }
    Ok(())
}

/// The pointer-array calls after their arrays were checked, using (and leaving empty) this
/// thread's scratch vectors.
///
/// # Safety
/// As for [`bind_units`].
unsafe fn units_call(
    compress: bool,
    p: &Pool,
    a: &mut CArrays<'_>,
    scratch: &mut Scratch,
) -> Result<iaa::BatchSummary, CapiError> {
    let n = a.srcs.len();
    let mut ins: Vec<&[u8]> = rebind(std::mem::take(&mut scratch.ins));
    let mut outs: Vec<&mut [u8]> = rebind(std::mem::take(&mut scratch.outs));
    let r = (|| {
        // SAFETY: forwarded from this function's contract.
        unsafe {
            bind_units(
                a,
                &mut ins,
                &mut outs,
                &mut scratch.writes,
                &mut scratch.reads,
            )?
        };
        scratch.results.clear();
        scratch.results.resize(n, UnitResult::Pending);
        let (i, o, r) = (ins.as_slice(), outs.as_mut_slice(), &mut scratch.results);
        let sum = match (compress, a.expected) {
            (true, _) => p.compress_units(i, o, r)?,
            (false, None) => p.decompress_batch(i, o, r)?,
            (false, Some(e)) => p.decompress_batch_checked(i, o, e, r)?,
        };
        write_results(&scratch.results, &ins, a.results, a.crcs.as_deref_mut())?;
        if let Some(c) = a.consumed.as_deref_mut() {
            write_consumed(&scratch.results, &ins, c);
        }
        Ok(sum)
    })();
    scratch.ins = rebind(ins);
    scratch.outs = rebind(outs);
    r
}

/// Writes the C results (and CRCs, when wanted) of finished units.
pub(crate) fn write_results(
    results: &[UnitResult],
    ins: &[&[u8]],
    codes: &mut [i32],
    mut crcs: Option<&mut [u32]>,
) -> Result<(), CapiError> {
    for (i, (o, r)) in codes.iter_mut().zip(results).enumerate() {
        *o = unit_code(r)?;
        if let Some(c) = crcs.as_deref_mut() {
            c[i] = unit_crc(r, ins.get(i).copied().unwrap_or(&[]));
        }
    }
    Ok(())
}

/// The input bytes a decompressed unit's stream used: all of them for a unit that decoded
/// (`Done`, or a CRC mismatch, which is checked on a decoded unit), the stream's length for a
/// unit with trailing bytes, 0 for any other failure.
pub(crate) fn unit_consumed(r: &UnitResult, src_len: usize) -> usize {
    match r {
        UnitResult::Done { .. } | UnitResult::Failed(UnitError::CrcMismatch { .. }) => src_len,
        UnitResult::Failed(UnitError::TrailingData { consumed, .. }) => *consumed,
        _ => 0,
    }
}

/// Writes the consumed-byte counts of finished decompressed units.
fn write_consumed(results: &[UnitResult], ins: &[&[u8]], consumed: &mut [usize]) {
    for (i, (c, r)) in consumed.iter_mut().zip(results).enumerate() {
        *c = unit_consumed(r, ins.get(i).map_or(0, |s| s.len()));
    }
}

/// Shared body of the single-buffer calls.
///
/// # Safety
/// As for `iaa_compress`.
#[allow(clippy::too_many_arguments)]
unsafe fn one(
    compress: bool,
    pool: *mut iaa_pool,
    src: *const c_void,
    src_len: usize,
    dst: *mut c_void,
    dst_cap: usize,
    expected_crc: *const u32,
    out_len: *mut usize,
    crc: *mut u32,
) -> Result<c_int, CapiError> {
    // SAFETY: `pool` is NULL or a live pool from iaa_pool_create (this function's contract);
    // pool_ref refuses NULL.
    let p = unsafe { pool_ref(pool)? };
    // SAFETY: `out_len` is writable for 1 elements during this call (this function's contract);
    // out_slice refuses NULL unless the count is 0, and overlaps are refused before use.
    let out_len = unsafe { out_slice(out_len, 1, "out_len")? };
    out_len[0] = 0;
    // SAFETY: `crc` is NULL (not wanted) or writable for 1 elements during this call (this
    // function's contract).
    let crc = unsafe { opt_out_slice(crc, 1, "crc")? };
    let expected = if expected_crc.is_null() {
        None
    } else {
        // SAFETY: `expected_crc` is readable for 1 elements during this call (this function's
        // contract); in_slice refuses NULL unless the count is 0.
        Some(unsafe { in_slice(expected_crc, 1, "expected_crc")? })
    };
    // SAFETY: `src` is readable for src_len elements during this call (this function's contract);
    // in_slice refuses NULL unless the count is 0.
    let src = unsafe { in_slice(src.cast::<u8>(), src_len, "src")? };
    // SAFETY: `dst` is writable for dst_cap elements during this call (this function's contract);
    // out_slice refuses NULL unless the count is 0, and overlaps are refused before use.
    let dst = unsafe { out_slice(dst.cast::<u8>(), dst_cap, "dst")? };
    let crc_span = crc.as_deref().map_or((0, 0), span);
    if !disjoint(
        &mut [span(dst), span(out_len), crc_span],
        &mut [span(src), expected.map_or((0, 0), span)],
    ) {
        return Err(CapiError::Invalid("src, dst, out_len and crc overlap"));
    }
    let r = match (compress, expected) {
        (true, _) => p.compress(src, dst)?,
        (false, None) => p.decompress(src, dst)?,
        (false, Some(e)) => {
            let ins = [src];
            let mut r = [UnitResult::Pending];
            let mut slots = [dst];
            p.decompress_batch_checked(&ins, &mut slots, e, &mut r)?;
            r[0]
        }
    };
    if let Some(c) = crc {
        c[0] = unit_crc(&r, src);
    }
    match r {
        UnitResult::Done { len, .. } => {
            out_len[0] = len;
            Ok(IAA_OK)
        }
        other => unit_code(&other),
    }
}

/// Compresses one buffer (one unit, at most 4 GiB - 1) into `dst`. Returns 0 with `*out_len`
/// = compressed length, `IAA_INCOMPRESSIBLE` (output would not be smaller than `src_len` or not
/// fit `dst_cap`; store raw; also for `src_len` 0), or a negative code (`-EINVAL` for NULL
/// arguments or overlapping buffers). `*out_len` is 0 unless the result is 0. `crc` (may be
/// NULL) receives the CRC-32 (gzip/zlib) of `src` when the result is 0 or
/// `IAA_INCOMPRESSIBLE`, else 0.
///
/// # Safety
/// `src` holds `src_len` readable bytes, `dst` `dst_cap` writable bytes, `out_len` is writable
/// (NULL is refused), `crc` is NULL or writable. Thread-safe.
#[no_mangle]
pub unsafe extern "C" fn iaa_compress(
    pool: *mut iaa_pool,
    src: *const c_void,
    src_len: usize,
    dst: *mut c_void,
    dst_cap: usize,
    out_len: *mut usize,
    crc: *mut u32,
) -> c_int {
    guard(|| {
        // SAFETY: this function's arguments carry the contract of the call below, which is this
        // function's own (see its # Safety).
        to_code(unsafe {
            one(
                true,
                pool,
                src,
                src_len,
                dst,
                dst_cap,
                ptr::null(),
                out_len,
                crc,
            )
        })
    })
}

/// Decompresses one unit (raw deflate, or a zstd frame for a zstd pool) into `dst`. Returns 0
/// with `*out_len` = decompressed length, or a negative code (`-EBADMSG` corrupt input,
/// `-EOVERFLOW` output does not fit `dst_cap`, `IAA_ETRAILING` bytes after the stream,
/// `IAA_ECRC` the output's CRC-32 is not `*expected_crc`, `-EINVAL` bad arguments).
/// `expected_crc` may be NULL (no check); `crc` (may be NULL) receives the CRC-32 of the
/// output when the result is 0, else 0.
///
/// # Safety
/// As for `iaa_compress`; `expected_crc` is NULL or readable.
#[no_mangle]
pub unsafe extern "C" fn iaa_decompress(
    pool: *mut iaa_pool,
    src: *const c_void,
    src_len: usize,
    dst: *mut c_void,
    dst_cap: usize,
    expected_crc: *const u32,
    out_len: *mut usize,
    crc: *mut u32,
) -> c_int {
    guard(|| {
        // SAFETY: this function's arguments carry the contract of the call below, which is this
        // function's own (see its # Safety).
        to_code(unsafe {
            one(
                false,
                pool,
                src,
                src_len,
                dst,
                dst_cap,
                expected_crc,
                out_len,
                crc,
            )
        })
    })
}

fn counts(c: &iaa::PathCounts) -> iaa_path_counts {
    iaa_path_counts {
        units: c.units,
        bytes_in: c.bytes_in,
        bytes_out: c.bytes_out,
    }
}

/// Fills `*out` (whose `size` the caller sets to `sizeof(iaa_stats)`) with the pool's
/// statistics since creation. Returns 0, or `-EINVAL` for NULL arguments or a bad `size`.
///
/// # Safety
/// `pool` is NULL or a live pool; `out` is NULL or holds `out->size` writable bytes.
#[no_mangle]
pub unsafe extern "C" fn iaa_pool_stats(pool: *const iaa_pool, out: *mut iaa_stats) -> c_int {
    guard(|| {
        to_code((|| {
            // SAFETY: forwarded from this function's contract.
            let p = unsafe { pool_ref(pool)? };
            if out.is_null() {
                return Err(CapiError::Null("out"));
            }
            // SAFETY: non-null; the caller promises `out->size` bytes.
            let size = unsafe { struct_size(out, "out->size")? };
            let s = p.stats();
            let mut fallbacks = [0u64; IAA_FALLBACK_CAUSES_MAX];
            fallbacks[..s.fallbacks.len()].copy_from_slice(&s.fallbacks);
            let mut dsa_fallbacks = [0u64; IAA_FALLBACK_CAUSES_MAX];
            dsa_fallbacks[..s.dsa_fallbacks.len()].copy_from_slice(&s.dsa_fallbacks);
            let v = iaa_stats {
                size: size_of::<iaa_stats>(),
                compress_hw: counts(&s.compress_hw),
                compress_sw: counts(&s.compress_sw),
                decompress_hw: counts(&s.decompress_hw),
                decompress_sw: counts(&s.decompress_sw),
                incompressible: s.incompressible,
                unit_errors: s.unit_errors,
                submit_retries: s.submit_retries,
                timeouts: s.timeouts,
                fault_resubmits: s.fault_resubmits,
                verify_checks: s.verify_checks,
                verify_failures: s.verify_failures,
                batches: s.batches,
                fallbacks_total: s.total_fallbacks(),
                fallbacks,
                dsa_hw: s.dsa_hw,
                dsa_sw: s.dsa_sw,
                dsa_submissions: s.dsa_submissions,
                dsa_fallbacks,
            };
            // SAFETY: `out` holds `size` writable bytes (checked by struct_size).
            unsafe { write_versioned(&v, out, size) };
            Ok(IAA_OK)
        })())
    })
}

/// Name of fallback cause `index` (the index into `iaa_stats.fallbacks`), e.g.
/// `"page_fault"`; NULL for an index the library does not use.
#[no_mangle]
pub extern "C" fn iaa_fallback_cause_name(index: u32) -> *const c_char {
    static NAMES: OnceLock<Vec<CString>> = OnceLock::new();
    guard_or(ptr::null(), || {
        let names = NAMES.get_or_init(|| {
            iaa::FallbackCause::ALL
                .iter()
                .map(|c| CString::new(c.name()).unwrap_or_default())
                .collect()
        });
        names
            .get(index as usize)
            .map_or(ptr::null(), |s| s.as_ptr())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn disjointness() {
        assert!(disjoint(&mut [(0, 4), (4, 8)], &mut [(8, 9), (0, 0)]));
        assert!(!disjoint(&mut [(0, 4), (3, 8)], &mut []));
        assert!(!disjoint(&mut [(10, 20)], &mut [(0, 11)]));
        assert!(!disjoint(
            &mut [(10, 20), (30, 40)],
            &mut [(0, 5), (19, 31)]
        ));
        assert!(disjoint(
            &mut [(10, 20), (30, 40)],
            &mut [(0, 10), (0, 5), (20, 30), (40, 50)]
        ));
        // Overlapping reads are fine; an empty write inside a read is fine.
        assert!(disjoint(&mut [(5, 5)], &mut [(0, 10), (2, 8)]));
        // A read that spans several writes, found after a long earlier read.
        assert!(!disjoint(&mut [(1, 2), (50, 60)], &mut [(0, 1), (3, 100)]));
    }

    #[test]
    fn range_checks_refuse_wraparound() {
        let p = (usize::MAX - 3) as *const u8;
        assert!(!range_ok(p, 8));
        assert!(range_ok(p, 2));
        assert!(!range_ok(std::ptr::dangling::<u64>(), usize::MAX / 4));
    }
}
