//! The plain C structs of the ABI and their versioning rule.
//!
//! Every struct that may grow starts with a `size_t size` field that the caller sets to
//! `sizeof` of the struct as it was compiled. The library reads (or writes) only the first
//! `size` bytes, so a program built against an older header keeps working with a newer library,
//! and a newer program with an older library as long as it leaves the fields the library does
//! not know at zero (otherwise the call returns `-EINVAL`). Zero means "default" in every
//! field of [`iaa_config`].

/// `iaa_config.path`: hardware if a device (or the device model, `IAA_DEVICE=model`) is
/// found, else software. The default.
pub const IAA_PATH_AUTO: u32 = 0;
/// `iaa_config.path`: hardware required; pool creation fails with `-ENODEV` without a
/// device. Also the value of `iaa_pool_path` for a pool that found one.
pub const IAA_PATH_HARDWARE: u32 = 1;
/// `iaa_config.path`: software only. Also the value of `iaa_pool_path` for a pool without
/// a device.
pub const IAA_PATH_SOFTWARE: u32 = 2;

/// `iaa_config.codec`: raw deflate (RFC 1951) with a 4 KiB window, readable by IAA and by
/// any inflater (zlib `inflateInit2(&s, -15)`). The default.
pub const IAA_CODEC_DEFLATE: u32 = 0;
/// `iaa_config.codec`: zstd frames, software only.
pub const IAA_CODEC_ZSTD: u32 = 1;

/// `iaa_config.level`: fastest software compression. The default.
pub const IAA_LEVEL_FAST: u32 = 0;
/// `iaa_config.level`: better ratio, slower (software path only).
pub const IAA_LEVEL_BETTER: u32 = 1;

/// `iaa_config.hw_mode`: fixed Huffman codes, one descriptor per unit (the default; the
/// kernel's fixed mode).
pub const IAA_HW_MODE_FIXED: u32 = 0;
/// `iaa_config.hw_mode`: dynamic Huffman codes, two passes per unit on IAA 1.0 (a statistics
/// pass on the device, the code built on the CPU, the compression with it): a better ratio for
/// a second descriptor.
pub const IAA_HW_MODE_DYNAMIC: u32 = 1;

/// `iaa_config.flags`: decompress every compressed unit again and compare before
/// reporting it.
pub const IAA_FLAG_VERIFY: u32 = 1;
/// `iaa_config.flags`: do not let the calling thread compress in software while the
/// hardware is saturated.
pub const IAA_FLAG_NO_HYBRID: u32 = 2;
/// `iaa_config.flags`: spread large software batches over the machine's cores.
pub const IAA_FLAG_SPREAD_OVER_CORES: u32 = 4;
/// Every flag this version knows.
pub(crate) const KNOWN_FLAGS: u32 =
    IAA_FLAG_VERIFY | IAA_FLAG_NO_HYBRID | IAA_FLAG_SPREAD_OVER_CORES;

/// Length of `iaa_stats.fallbacks`; causes beyond the library's own count stay 0.
pub const IAA_FALLBACK_CAUSES_MAX: usize = 16;

/// Options of a pool. Initialise with `iaa_config_init` (or `{ .size = sizeof(iaa_config) }`),
/// then set the fields you need; 0 means the default everywhere.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
#[allow(non_camel_case_types)]
pub struct iaa_config {
    /// `sizeof(iaa_config)` as the caller compiled it.
    pub size: usize,
    /// `IAA_PATH_AUTO` (default), `IAA_PATH_HARDWARE` or `IAA_PATH_SOFTWARE`.
    pub path: u32,
    /// `IAA_CODEC_DEFLATE` (default) or `IAA_CODEC_ZSTD`.
    pub codec: u32,
    /// `IAA_LEVEL_FAST` (default) or `IAA_LEVEL_BETTER`.
    pub level: u32,
    /// `IAA_FLAG_*` bits; unknown bits give `-EINVAL`.
    pub flags: u32,
    /// Units one hardware submission keeps in flight per context, 1..1024 (0: 8, the kernel's
    /// value). Out of range: `-EINVAL`.
    pub hw_batch_size: u32,
    /// Number of per-CPU contexts, 1..4096 (0: one per possible CPU, at most 4096). Out of
    /// range: `-EINVAL`.
    pub contexts: u32,
    /// Largest unit the hardware path takes, 1..16777216 (16 MiB); larger units go to software
    /// (0: 65536). Out of range: `-EINVAL`.
    pub max_unit_size: u64,
    /// How long a unit may stay on the device before it goes to software, in microseconds,
    /// 1..60000000 (60 s) (0: the library's default, 20000). Out of range: `-EINVAL`.
    pub completion_timeout_us: u64,
    /// Work queue choice (hardware path): 0 spreads the contexts over every WQ of the device
    /// (the default); `n > 0` sends every context to WQ `n - 1` of the pool. A WQ the device
    /// does not have counts as no device: `-ENODEV` with `IAA_PATH_HARDWARE`, the software
    /// path with `IAA_PATH_AUTO`.
    pub wq: u32,
    /// How the hardware path codes each unit: `IAA_HW_MODE_FIXED` (0, default) or
    /// `IAA_HW_MODE_DYNAMIC`; other values `-EINVAL`.
    pub hw_mode: u32,
}

impl iaa_config {
    /// All defaults, with `size` set.
    pub(crate) fn defaults() -> Self {
        iaa_config {
            size: std::mem::size_of::<iaa_config>(),
            path: IAA_PATH_AUTO,
            codec: IAA_CODEC_DEFLATE,
            level: IAA_LEVEL_FAST,
            flags: 0,
            hw_batch_size: 0,
            contexts: 0,
            max_unit_size: 0,
            completion_timeout_us: 0,
            wq: 0,
            hw_mode: IAA_HW_MODE_FIXED,
        }
    }
}

/// Totals of one batch call, filled when a non-NULL pointer is passed.
#[repr(C)]
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[allow(non_camel_case_types)]
pub struct iaa_batch_info {
    /// `sizeof(iaa_batch_info)` as the caller compiled it.
    pub size: usize,
    /// Units in the call.
    pub units: u64,
    /// Units done by the hardware (or the device model).
    pub hardware: u64,
    /// Units done by the software path.
    pub software: u64,
    /// Units reported `IAA_INCOMPRESSIBLE`.
    pub incompressible: u64,
    /// Units that failed (a negative result other than `IAA_INCOMPRESSIBLE`).
    pub failed: u64,
}

/// Work of one direction on one path.
#[repr(C)]
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[allow(non_camel_case_types)]
pub struct iaa_path_counts {
    /// Units completed.
    pub units: u64,
    /// Input bytes of those units.
    pub bytes_in: u64,
    /// Output bytes of those units.
    pub bytes_out: u64,
}

/// Statistics of a pool since its creation (sums over all contexts). Set `size` before
/// calling `iaa_pool_stats`.
#[repr(C)]
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[allow(non_camel_case_types)]
pub struct iaa_stats {
    /// `sizeof(iaa_stats)` as the caller compiled it.
    pub size: usize,
    /// Compressions done by the hardware.
    pub compress_hw: iaa_path_counts,
    /// Compressions done by the software path.
    pub compress_sw: iaa_path_counts,
    /// Decompressions done by the hardware.
    pub decompress_hw: iaa_path_counts,
    /// Decompressions done by the software path.
    pub decompress_sw: iaa_path_counts,
    /// Units reported incompressible.
    pub incompressible: u64,
    /// Units that failed.
    pub unit_errors: u64,
    /// Refused submissions that were retried.
    pub submit_retries: u64,
    /// Units that timed out on the device.
    pub timeouts: u64,
    /// Page faults answered by touching the page and resubmitting.
    pub fault_resubmits: u64,
    /// Verify-after-compress checks run.
    pub verify_checks: u64,
    /// Verify-after-compress mismatches.
    pub verify_failures: u64,
    /// Batch calls started (a single compress or decompress counts as one).
    pub batches: u64,
    /// Units sent to the software path for any cause (sum of `fallbacks`).
    pub fallbacks_total: u64,
    /// Units sent to the software path, by cause; `iaa_fallback_cause_name(i)` names index i.
    pub fallbacks: [u64; IAA_FALLBACK_CAUSES_MAX],
}

/// Copies the first `min(caller_size, size_of::<T>())` bytes of `value` to `out`, keeping the
/// caller's `size` field. Returns false (nothing written) when `caller_size` cannot even hold
/// the `size` field.
///
/// # Safety
/// `out` must be valid for writes of `caller_size` bytes (the caller's struct).
pub(crate) unsafe fn write_versioned<T: Copy>(value: &T, out: *mut T, caller_size: usize) -> bool {
    if caller_size < std::mem::size_of::<usize>() {
        return false;
    }
    let n = caller_size.min(std::mem::size_of::<T>());
    let skip = std::mem::size_of::<usize>();
    // SAFETY: both regions are at least `n` bytes (ours is `size_of::<T>()`, the caller's is
    // `caller_size`); they cannot overlap because `value` is a Rust reference to our own
    // local. The caller's leading `size` field is not overwritten.
    unsafe {
        std::ptr::copy_nonoverlapping(
            (value as *const T as *const u8).add(skip),
            (out as *mut u8).add(skip),
            n - skip,
        );
    }
    true
}

/// Reads a caller's versioned struct into a default-initialised `T`: the first
/// `min(caller_size, size_of::<T>())` bytes come from the caller, the rest keep their default.
/// Bytes beyond `size_of::<T>()` (fields of a newer header) must be zero. Returns None when
/// `caller_size` is too small to hold the `size` field or unknown trailing bytes are non-zero.
///
/// # Safety
/// `src` must be valid for reads of `caller_size` bytes.
pub(crate) unsafe fn read_versioned<T: Copy>(
    defaults: T,
    src: *const T,
    caller_size: usize,
) -> Option<T> {
    if caller_size < std::mem::size_of::<usize>() {
        return None;
    }
    let ours = std::mem::size_of::<T>();
    let mut value = defaults;
    let n = caller_size.min(ours);
    // SAFETY: `src` is readable for `caller_size >= n` bytes; `value` is our own local of
    // `ours >= n` bytes; they do not overlap. Every field of the structs this is used with is
    // an integer or a raw pointer, so any bit pattern is a valid value.
    unsafe {
        std::ptr::copy_nonoverlapping(src as *const u8, &mut value as *mut T as *mut u8, n);
    }
    if caller_size > ours {
        // SAFETY: the caller's struct is readable for `caller_size` bytes.
        let extra =
            unsafe { std::slice::from_raw_parts((src as *const u8).add(ours), caller_size - ours) };
        if extra.iter().any(|&b| b != 0) {
            return None;
        }
    }
    Some(value)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versioned_read_takes_the_callers_prefix_and_rejects_unknown_nonzero_fields() {
        let mut big = [0u64; 10]; // a "newer" config: 80 bytes
        let ours = std::mem::size_of::<iaa_config>();
        big[0] = 80;
        big[1] = u64::from(IAA_PATH_SOFTWARE); // path (low half) + codec (high half) = 0
        let defaults = iaa_config::defaults();
        let src = big.as_ptr() as *const iaa_config;
        // SAFETY: `big` is 80 readable bytes.
        let got = unsafe { read_versioned(defaults, src, 80) }.expect("zero tail accepted");
        assert_eq!(got.path, IAA_PATH_SOFTWARE);
        assert!(ours < 80);
        big[9] = 1;
        let src = big.as_ptr() as *const iaa_config;
        // SAFETY: as above.
        assert!(unsafe { read_versioned(defaults, src, 80) }.is_none());
        // An "older" caller that only knows `size` and `path`: the rest keeps its defaults.
        let mut small = defaults;
        small.path = IAA_PATH_HARDWARE;
        small.codec = IAA_CODEC_ZSTD;
        // SAFETY: `small` is a whole iaa_config, so 12 bytes are readable.
        let got = unsafe { read_versioned(defaults, &small, 12) }.expect("prefix");
        assert_eq!(
            (got.path, got.codec),
            (IAA_PATH_HARDWARE, IAA_CODEC_DEFLATE)
        );
        // SAFETY: as above.
        assert!(unsafe { read_versioned(defaults, &small, 4) }.is_none());
    }

    #[test]
    fn versioned_write_stops_at_the_callers_size_and_keeps_its_size_field() {
        let value = iaa_batch_info {
            size: 999,
            units: 1,
            hardware: 2,
            software: 3,
            incompressible: 4,
            failed: 5,
        };
        let mut out = iaa_batch_info {
            size: 24,
            ..Default::default()
        };
        // SAFETY: `out` is a whole iaa_batch_info, larger than 24 bytes.
        assert!(unsafe { write_versioned(&value, &mut out, 24) });
        assert_eq!(
            (out.size, out.units, out.hardware, out.software),
            (24, 1, 2, 0)
        );
        // SAFETY: as above.
        assert!(!unsafe { write_versioned(&value, &mut out, 7) });
    }
}
