/*
 * iaa.h: C interface of the iaa library (batched deflate/zstd compression on Intel IAA, with
 * a per-unit software fallback). Link with libiaa_capi (pkg-config names: iaa, iaa-static).
 *
 *   iaa_pool *pool;
 *   if (iaa_pool_create(NULL, &pool) != 0) ...;                    // defaults: auto path, deflate
 *   int rc = iaa_compress_batch(pool, src, len, 4096, dst, dst_len, 4096, res, nres, NULL);
 *   // res[i] >= 0: unit i compressed to res[i] bytes at dst + i * 4096
 *   // res[i] == IAA_INCOMPRESSIBLE: store unit i raw;  other negative: -errno / IAA_E*
 *   iaa_pool_destroy(pool);
 *
 * Return codes: 0 or a length on success; a negative errno value (-EINVAL, -ENODEV, ...), or
 * IAA_INCOMPRESSIBLE / IAA_EVERIFY / IAA_EINTERNAL. iaa_strerror() names any of them.
 * Every function is thread-safe; a pool may be shared by threads (not while it is destroyed).
 */


#ifndef IAA_H
#define IAA_H

/*
 * Generated from capi/src by cbindgen (tests/header.rs); do not edit by hand.
 * Regenerate: IAA_CAPI_BLESS=1 cargo test -p iaa-capi --test header
 */

#include <stddef.h>
#include <stdint.h>

/* Version of this header; iaa_version_string() gives the library's. */
#define IAA_VERSION_MAJOR 0
#define IAA_VERSION_MINOR 1
#define IAA_VERSION_PATCH 0
#define IAA_VERSION_STRING "0.1.0"


/**
 * Success.
 */
#define IAA_OK 0

/**
 * Compression only: the unit would not get smaller (or does not fit its output slot). Nothing
 * meaningful was written to the slot; store the unit raw. Not a failure.
 */
#define IAA_INCOMPRESSIBLE (-10001)

/**
 * Verify-after-compress found that a compressed unit does not decompress to its input.
 */
#define IAA_EVERIFY (-10002)

/**
 * An internal error (a bug: the library caught a panic at the C boundary). The pool is still
 * usable; please report it.
 */
#define IAA_EINTERNAL (-10003)

/**
 * `iaa_config.path`: hardware if a device (or the device model, `IAA_DEVICE=model`) is
 * found, else software. The default.
 */
#define IAA_PATH_AUTO 0

/**
 * `iaa_config.path`: hardware required; pool creation fails with `-ENODEV` without a
 * device. Also the value of `iaa_pool_path` for a pool that found one.
 */
#define IAA_PATH_HARDWARE 1

/**
 * `iaa_config.path`: software only. Also the value of `iaa_pool_path` for a pool without
 * a device.
 */
#define IAA_PATH_SOFTWARE 2

/**
 * `iaa_config.codec`: raw deflate (RFC 1951) with a 4 KiB window, readable by IAA and by
 * any inflater (zlib `inflateInit2(&s, -15)`). The default.
 */
#define IAA_CODEC_DEFLATE 0

/**
 * `iaa_config.codec`: zstd frames, software only.
 */
#define IAA_CODEC_ZSTD 1

/**
 * `iaa_config.level`: fastest software compression. The default.
 */
#define IAA_LEVEL_FAST 0

/**
 * `iaa_config.level`: better ratio, slower (software path only).
 */
#define IAA_LEVEL_BETTER 1

/**
 * `iaa_config.flags`: decompress every compressed unit again and compare before
 * reporting it.
 */
#define IAA_FLAG_VERIFY 1

/**
 * `iaa_config.flags`: do not let the calling thread compress in software while the
 * hardware is saturated.
 */
#define IAA_FLAG_NO_HYBRID 2

/**
 * `iaa_config.flags`: spread large software batches over the machine's cores.
 */
#define IAA_FLAG_SPREAD_OVER_CORES 4

/**
 * Length of `iaa_stats.fallbacks`; causes beyond the library's own count stay 0.
 */
#define IAA_FALLBACK_CAUSES_MAX 16

/**
 * Options of a pool. Initialise with `iaa_config_init` (or `{ .size = sizeof(iaa_config) }`),
 * then set the fields you need; 0 means the default everywhere.
 */
typedef struct iaa_config {
  /**
   * `sizeof(iaa_config)` as the caller compiled it.
   */
  size_t size;
  /**
   * `IAA_PATH_AUTO` (default), `IAA_PATH_HARDWARE` or `IAA_PATH_SOFTWARE`.
   */
  uint32_t path;
  /**
   * `IAA_CODEC_DEFLATE` (default) or `IAA_CODEC_ZSTD`.
   */
  uint32_t codec;
  /**
   * `IAA_LEVEL_FAST` (default) or `IAA_LEVEL_BETTER`.
   */
  uint32_t level;
  /**
   * `IAA_FLAG_*` bits; unknown bits give `-EINVAL`.
   */
  uint32_t flags;
  /**
   * Units one hardware submission keeps in flight per context (0: 8, the kernel's value).
   */
  uint32_t hw_batch_size;
  /**
   * Number of per-CPU contexts (0: one per possible CPU).
   */
  uint32_t contexts;
  /**
   * Largest unit the hardware path takes; larger units go to software (0: 4096).
   */
  uint64_t max_unit_size;
  /**
   * How long a unit may stay on the device before it goes to software, in microseconds
   * (0: the library's default).
   */
  uint64_t completion_timeout_us;
  /**
   * Name of the work queue to use, e.g. `"wq1.0"` (NULL: let discovery choose). Copied
   * during `iaa_pool_create`.
   */
  const char *wq_name;
} iaa_config;

/**
 * Work of one direction on one path.
 */
typedef struct iaa_path_counts {
  /**
   * Units completed.
   */
  uint64_t units;
  /**
   * Input bytes of those units.
   */
  uint64_t bytes_in;
  /**
   * Output bytes of those units.
   */
  uint64_t bytes_out;
} iaa_path_counts;

/**
 * Statistics of a pool since its creation (sums over all contexts). Set `size` before
 * calling `iaa_pool_stats`.
 */
typedef struct iaa_stats {
  /**
   * `sizeof(iaa_stats)` as the caller compiled it.
   */
  size_t size;
  /**
   * Compressions done by the hardware.
   */
  struct iaa_path_counts compress_hw;
  /**
   * Compressions done by the software path.
   */
  struct iaa_path_counts compress_sw;
  /**
   * Decompressions done by the hardware.
   */
  struct iaa_path_counts decompress_hw;
  /**
   * Decompressions done by the software path.
   */
  struct iaa_path_counts decompress_sw;
  /**
   * Units reported incompressible.
   */
  uint64_t incompressible;
  /**
   * Units that failed.
   */
  uint64_t unit_errors;
  /**
   * Refused submissions that were retried.
   */
  uint64_t submit_retries;
  /**
   * Units that timed out on the device.
   */
  uint64_t timeouts;
  /**
   * Page faults answered by touching the page and resubmitting.
   */
  uint64_t fault_resubmits;
  /**
   * Verify-after-compress checks run.
   */
  uint64_t verify_checks;
  /**
   * Verify-after-compress mismatches.
   */
  uint64_t verify_failures;
  /**
   * Batch calls started (a single compress or decompress counts as one).
   */
  uint64_t batches;
  /**
   * Units sent to the software path for any cause (sum of `fallbacks`).
   */
  uint64_t fallbacks_total;
  /**
   * Units sent to the software path, by cause; `iaa_fallback_cause_name(i)` names index i.
   */
  uint64_t fallbacks[IAA_FALLBACK_CAUSES_MAX];
} iaa_stats;

/**
 * Totals of one batch call, filled when a non-NULL pointer is passed.
 */
typedef struct iaa_batch_info {
  /**
   * `sizeof(iaa_batch_info)` as the caller compiled it.
   */
  size_t size;
  /**
   * Units in the call.
   */
  uint64_t units;
  /**
   * Units done by the hardware (or the device model).
   */
  uint64_t hardware;
  /**
   * Units done by the software path.
   */
  uint64_t software;
  /**
   * Units reported `IAA_INCOMPRESSIBLE`.
   */
  uint64_t incompressible;
  /**
   * Units that failed (a negative result other than `IAA_INCOMPRESSIBLE`).
   */
  uint64_t failed;
} iaa_batch_info;

#ifdef __cplusplus
extern "C" {
#endif // __cplusplus

/**
 * The library version as `"MAJOR.MINOR.PATCH"` (Cargo's package version), a static string.
 * Compare with the header's `IAA_VERSION_STRING` to detect a header/library mismatch.
 */
const char *iaa_version_string(void);

/**
 * Fills `*cfg` with the defaults (every field 0) and `cfg->size = sizeof(iaa_config)`. Does
 * nothing when `cfg` is NULL.
 *
 * # Safety
 * `cfg` is NULL or points to a writable `iaa_config`.
 */
void iaa_config_init(struct iaa_config *cfg);

/**
 * A static, NUL-terminated English message for any code returned by this library (per-unit
 * results included). Never returns NULL; unknown codes give "unknown error code".
 */
const char *iaa_strerror(int code);

#ifdef __cplusplus
}  // extern "C"
#endif  // __cplusplus

#endif  /* IAA_H */
