/*
 * iaa.h: C interface of the iaa library (batched deflate/zstd compression on Intel IAA, with
 * a per-unit software fallback). Link with libiaa (pkg-config names: iaa, iaa-static;
 * packaged by `cargo build --release -p iaa-capi && target/release/iaa-dist`).
 *
 *   iaa_pool *pool;
 *   if (iaa_pool_create(NULL, &pool) != 0) ...;                    // defaults: auto path, deflate
 *   int rc = iaa_compress_batch(pool, src, len, 4096, dst, dst_len, 4096, res, nres, crcs, NULL);
 *   // res[i] >= 0: unit i compressed to res[i] bytes at dst + i * 4096
 *   // res[i] == IAA_INCOMPRESSIBLE: store unit i raw;  other negative: -errno / IAA_E*
 *   // crcs[i] (crcs may be NULL): CRC-32 (gzip/zlib) of unit i's uncompressed bytes
 *   iaa_pool_destroy(pool);
 *
 * Return codes: 0 or a length on success; a negative errno value (-EINVAL, -ENODEV, ...), or
 * IAA_INCOMPRESSIBLE / IAA_EVERIFY / IAA_EINTERNAL / IAA_ETRAILING / IAA_ECRC. iaa_strerror()
 * names any of them.
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
 * Decompression only: the unit holds a valid deflate stream followed by bytes that are not
 * part of it (a unit must be exactly one stream). The slot holds the stream's output, but the
 * unit is not accepted.
 */
#define IAA_ETRAILING (-10004)

/**
 * Decompression with expected CRCs: the unit decoded, but the CRC-32 of its output is not
 * the expected one. The slot holds the output, but the unit is not accepted.
 */
#define IAA_ECRC (-10005)

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
 * An unfinished asynchronous call (opaque). From `iaa_submit_compress_units` or
 * `iaa_submit_decompress_batch`; ends with `iaa_handle_wait` or `iaa_handle_free`. One thread
 * at a time may use a handle; it may move between threads.
 */
typedef struct iaa_handle iaa_handle;

/**
 * A pool of per-CPU compression contexts (opaque). Create with `iaa_pool_create`, share
 * between threads freely, free with `iaa_pool_destroy`.
 */
typedef struct iaa_pool iaa_pool;

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
   * Units one hardware submission keeps in flight per context, 1..1024 (0: 8, the kernel's
   * value). Out of range: `-EINVAL`.
   */
  uint32_t hw_batch_size;
  /**
   * Number of per-CPU contexts, 1..4096 (0: one per possible CPU, at most 4096). Out of
   * range: `-EINVAL`.
   */
  uint32_t contexts;
  /**
   * Largest unit the hardware path takes, 1..16777216 (16 MiB); larger units go to software
   * (0: 65536). Out of range: `-EINVAL`.
   */
  uint64_t max_unit_size;
  /**
   * How long a unit may stay on the device before it goes to software, in microseconds,
   * 1..60000000 (60 s) (0: the library's default, 20000). Out of range: `-EINVAL`.
   */
  uint64_t completion_timeout_us;
  /**
   * Work queue choice (hardware path): 0 spreads the contexts over every WQ of the device
   * (the default); `n > 0` sends every context to WQ `n - 1` of the pool. A WQ the device
   * does not have counts as no device: `-ENODEV` with `IAA_PATH_HARDWARE`, the software
   * path with `IAA_PATH_AUTO`.
   */
  uint32_t wq;
  /**
   * Reserved, must be 0.
   */
  uint32_t reserved;
} iaa_config;

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

#ifdef __cplusplus
extern "C" {
#endif /* __cplusplus */

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

/**
 * Creates a pool. `cfg` may be NULL (all defaults). On success `*out` is the new pool and the
 * result is 0; on failure `*out` is NULL and the result is `-EINVAL` (bad config),
 * `-ENODEV` (`IAA_PATH_HARDWARE` without a device), `-EOPNOTSUPP` (zstd on the hardware
 * path) or `-ENOMEM`.
 *
 * # Safety
 * `cfg` is NULL or points to an `iaa_config` whose `size` bytes are readable; `out` is NULL
 * (refused) or writable.
 */
int iaa_pool_create(const struct iaa_config *cfg, struct iaa_pool **out);

/**
 * Frees a pool and every context it holds. NULL is a no-op. No other call on this pool may be
 * running or start afterwards. Handles still alive on it (`iaa_submit_*`) stay valid: the
 * pool is freed when the last of them is waited for or freed.
 *
 * # Safety
 * `pool` is NULL or a pool from `iaa_pool_create` not yet destroyed.
 */
void iaa_pool_destroy(struct iaa_pool *pool);

/**
 * `IAA_PATH_HARDWARE` if the pool sends units to a device (or the device model) first,
 * `IAA_PATH_SOFTWARE` if it runs in software only; `-EINVAL` for a NULL pool.
 *
 * # Safety
 * `pool` is NULL or a live pool.
 */
int iaa_pool_path(const struct iaa_pool *pool);

/**
 * Writes one line saying which path the pool uses and why (e.g. `"software (no IAA device:
 * ...)"`) into `buf` (NUL-terminated, truncated to `len - 1` bytes). Returns the length of
 * the whole line (like `snprintf`), or a negative code.
 *
 * # Safety
 * `pool` is NULL or a live pool; `buf` is NULL (only with `len == 0`) or holds `len` writable
 * bytes.
 */
int iaa_pool_describe(const struct iaa_pool *pool, char *buf, size_t len);

/**
 * How many units one call runs in parallel: the hardware batch size on the hardware path
 * (default 8); on the software path 1, or the thread count with
 * `IAA_FLAG_SPREAD_OVER_CORES`. A sizing hint: calls take any number of units. 0 for a NULL
 * pool.
 *
 * # Safety
 * `pool` is NULL or a live pool.
 */
size_t iaa_batch_size(const struct iaa_pool *pool);

/**
 * The largest compressed form of `src_len` bytes in either codec: raw deflate's worst case
 * `src_len + 5 * max(1, ceil(src_len / 65535))` (stored blocks, which bound every deflate
 * encoder that falls back to them) or zstd's `ZSTD_COMPRESSBOUND(src_len)`, whichever is
 * larger (saturating at `SIZE_MAX`). The batch and single calls themselves never write more
 * than `src_len - 1` bytes for a unit (larger output is `IAA_INCOMPRESSIBLE`: store the unit
 * raw), so slots of the unit's size are enough for them; this bound is for buffers that must
 * hold any stream.
 */
size_t iaa_compress_bound(size_t src_len);

/**
 * Number of units `src_len` bytes make at `unit_size` bytes each (the last may be shorter);
 * 0 when `unit_size` is 0. The `results_len` and slot count a compress batch needs.
 */
size_t iaa_unit_count(size_t src_len, size_t unit_size);

/**
 * Compresses `src` cut into units of `unit_size` bytes (the last may be shorter). Unit `i`
 * goes to the slot `dst + i * dst_stride` of `dst_stride` bytes, and `results[i]` receives its
 * compressed length (>= 0), `IAA_INCOMPRESSIBLE` (store it raw; the slot holds nothing
 * useful), or a negative code. One unit failing never fails the others.
 *
 * Returns 0 when every unit has its result (look at `results`), or a negative code for a
 * malformed call, in which case no slot and no result was written: `-EINVAL` for a NULL pool
 * or buffer with a non-zero length, `unit_size` 0 or above `INT32_MAX`, `dst_stride` 0,
 * `dst_len < units * dst_stride`, `results_len < units`, or overlapping `src`, `dst` and
 * `results`. `units = iaa_unit_count(src_len, unit_size)`; `info` (may be NULL) receives the
 * call's totals, including how many units ran on the hardware and in software. `crcs` (may be
 * NULL: not wanted) receives per unit the CRC-32 (gzip/zlib) of the unit's uncompressed bytes
 * for a compressed or incompressible unit (from the device's completion record on the
 * hardware path), 0 for a failed one.
 *
 * # Safety
 * Each non-NULL pointer holds the given number of readable (`src`) or writable (`dst`,
 * `results`, `crcs` (`units` elements), `info->size` bytes of `info`) bytes or elements.
 * Thread-safe.
 */
int iaa_compress_batch(struct iaa_pool *pool,
                       const void *src,
                       size_t src_len,
                       size_t unit_size,
                       void *dst,
                       size_t dst_len,
                       size_t dst_stride,
                       int32_t *results,
                       size_t results_len,
                       uint32_t *crcs,
                       struct iaa_batch_info *info);

/**
 * Decompresses `units` independent units: unit `i` is `src[i]` (`src_lens[i]` bytes of raw
 * deflate, or a zstd frame for an `IAA_CODEC_ZSTD` pool) and goes to `dst[i]`, which holds
 * `dst_caps[i]` bytes. `src` and `dst` are arrays of `units` pointers; they are declared
 * `const void *` so that an array of any object-pointer type (`unsigned char *`, `char *`,
 * `uint8_t *`, `void *`, const or not) passes without a cast, and must be aligned for a
 * pointer. `expected_crcs` (may be NULL: no check) gives the CRC-32 (gzip/zlib) each unit's
 * output must have: a unit that decodes to other bytes gets `IAA_ECRC` (on every path: a
 * device result is checked like a software one). `crcs` (may be NULL: not wanted) receives
 * each decompressed unit's CRC-32 (from the device's completion record on the hardware path),
 * 0 for a failed unit. A unit must be exactly one deflate stream: bytes after its final block
 * give `IAA_ETRAILING` (`iaa_decompress_batch_consumed` also says where the stream ended); a
 * unit that succeeds used all of its `src_lens[i]` bytes. `results[i]` receives the
 * decompressed length (>= 0) or a negative code: `-EBADMSG` (corrupt input), `-EOVERFLOW`
 * (does not fit `dst_caps[i]`), ... Any raw deflate stream is accepted (32 KiB windows too;
 * those run in software).
 *
 * Returns 0 when every unit has its result, or a negative code for a malformed call (nothing
 * written): `-EINVAL` for a NULL pool or array, a NULL buffer with a non-zero length, a
 * `dst_caps[i]` above `INT32_MAX`, `results_len < units`, or output buffers that overlap each
 * other, an input or `results`. `info` (may be NULL) receives the call's totals.
 *
 * # Safety
 * The four arrays (and `expected_crcs`, `crcs` when not NULL) hold `units` elements; each
 * non-NULL buffer holds its length in readable (`src[i]`) or writable (`dst[i]`) bytes;
 * `results` holds `results_len` writable elements. Thread-safe.
 */
int iaa_decompress_batch(struct iaa_pool *pool,
                         const void *src,
                         const size_t *src_lens,
                         const void *dst,
                         const size_t *dst_caps,
                         size_t units,
                         const uint32_t *expected_crcs,
                         int32_t *results,
                         size_t results_len,
                         uint32_t *crcs,
                         struct iaa_batch_info *info);

/**
 * `iaa_decompress_batch` that also reports, per unit, how many input bytes its stream used.
 * `consumed` (may be NULL: then this is `iaa_decompress_batch`) receives `units` counts:
 * `consumed[i] = src_lens[i]` for a unit that decoded (`results[i] >= 0`, or `IAA_ECRC`);
 * for a unit whose result is `IAA_ETRAILING`, the length of its deflate stream, which ends
 * inside `src[i]` after `consumed[i]` bytes (the stream's last byte may be used in part) and
 * is followed by `src_lens[i] - consumed[i]` bytes that are not part of it (`dst[i]` holds the
 * stream's output, but the unit is not accepted; decompressing the first `consumed[i]` bytes
 * alone gives that output and its length); 0 for a unit that failed otherwise. A zstd pool
 * reports no `IAA_ETRAILING` (its units decode as whole zstd frames or fail). Everything
 * else, the refusals included (`consumed` may not overlap the other arrays or buffers), is as
 * for `iaa_decompress_batch`; the asynchronous `iaa_submit_decompress_batch` has no consumed
 * array.
 *
 * # Safety
 * As for `iaa_decompress_batch`; `consumed` is NULL or holds `units` writable elements.
 * Thread-safe.
 */
int iaa_decompress_batch_consumed(struct iaa_pool *pool,
                                  const void *src,
                                  const size_t *src_lens,
                                  const void *dst,
                                  const size_t *dst_caps,
                                  size_t units,
                                  const uint32_t *expected_crcs,
                                  int32_t *results,
                                  size_t results_len,
                                  uint32_t *crcs,
                                  size_t *consumed,
                                  struct iaa_batch_info *info);

/**
 * Compresses `units` separate buffers (scattered pages, say): unit `i` is `src[i]`
 * (`src_lens[i]` bytes) and goes to `dst[i]` (`dst_caps[i]` bytes). `results[i]` receives the
 * compressed length (>= 0), `IAA_INCOMPRESSIBLE` (store the unit raw), or a negative code;
 * `crcs` (may be NULL) the CRC-32 of unit `i`'s input as `iaa_compress_batch` gives it.
 * Returns and refuses exactly like `iaa_decompress_batch`.
 *
 * # Safety
 * As for `iaa_decompress_batch`. Thread-safe.
 */
int iaa_compress_units(struct iaa_pool *pool,
                       const void *src,
                       const size_t *src_lens,
                       const void *dst,
                       const size_t *dst_caps,
                       size_t units,
                       int32_t *results,
                       size_t results_len,
                       uint32_t *crcs,
                       struct iaa_batch_info *info);

/**
 * Compresses one buffer (one unit, at most 4 GiB - 1) into `dst`. Returns 0 with `*out_len`
 * = compressed length, `IAA_INCOMPRESSIBLE` (output would not be smaller than `src_len` or not
 * fit `dst_cap`; store raw; also for `src_len` 0), or a negative code (`-EINVAL` for NULL
 * arguments or overlapping buffers). `*out_len` is 0 unless the result is 0. `crc` (may be
 * NULL) receives the CRC-32 (gzip/zlib) of `src` when the result is 0 or
 * `IAA_INCOMPRESSIBLE`, else 0.
 *
 * # Safety
 * `src` holds `src_len` readable bytes, `dst` `dst_cap` writable bytes, `out_len` is writable
 * (NULL is refused), `crc` is NULL or writable. Thread-safe.
 */
int iaa_compress(struct iaa_pool *pool,
                 const void *src,
                 size_t src_len,
                 void *dst,
                 size_t dst_cap,
                 size_t *out_len,
                 uint32_t *crc);

/**
 * Decompresses one unit (raw deflate, or a zstd frame for a zstd pool) into `dst`. Returns 0
 * with `*out_len` = decompressed length, or a negative code (`-EBADMSG` corrupt input,
 * `-EOVERFLOW` output does not fit `dst_cap`, `IAA_ETRAILING` bytes after the stream,
 * `IAA_ECRC` the output's CRC-32 is not `*expected_crc`, `-EINVAL` bad arguments).
 * `expected_crc` may be NULL (no check); `crc` (may be NULL) receives the CRC-32 of the
 * output when the result is 0, else 0.
 *
 * # Safety
 * As for `iaa_compress`; `expected_crc` is NULL or readable.
 */
int iaa_decompress(struct iaa_pool *pool,
                   const void *src,
                   size_t src_len,
                   void *dst,
                   size_t dst_cap,
                   const uint32_t *expected_crc,
                   size_t *out_len,
                   uint32_t *crc);

/**
 * Fills `*out` (whose `size` the caller sets to `sizeof(iaa_stats)`) with the pool's
 * statistics since creation. Returns 0, or `-EINVAL` for NULL arguments or a bad `size`.
 *
 * # Safety
 * `pool` is NULL or a live pool; `out` is NULL or holds `out->size` writable bytes.
 */
int iaa_pool_stats(const struct iaa_pool *pool, struct iaa_stats *out);

/**
 * Name of fallback cause `index` (the index into `iaa_stats.fallbacks`), e.g.
 * `"page_fault"`; NULL for an index the library does not use.
 */
const char *iaa_fallback_cause_name(uint32_t index);

/**
 * Starts compressing `units` separate buffers like `iaa_compress_units`, without waiting:
 * on success `*out` is a handle and `results[i]` is `-EINPROGRESS` until the handle reports
 * done. Drive it with `iaa_handle_poll`, finish it with `iaa_handle_wait`, or abandon it with
 * `iaa_handle_free`. The handle holds one of the pool's contexts until it ends (a free one:
 * the calling CPU's first, else any other). Other calls, from any thread, take another free
 * context and never wait for one a live handle holds; when live handles hold every context,
 * calls (and submits) return `-EDEADLK` at once. On the software path the units run only
 * inside `iaa_handle_poll` (one unit per call) and `iaa_handle_wait`: a handle nobody polls
 * makes no progress. Refuses malformed calls like `iaa_compress_units` (nothing written but
 * `*out = NULL`), and a NULL `out`.
 *
 * # Safety
 * As for `iaa_compress_units`, and every buffer and array (`src`, `dst`, `results`, `crcs`)
 * must stay valid and untouched by the caller until the handle ends (`results` and `crcs`
 * are written when it ends); the four pointer/length arrays and `expected_crcs` are read
 * during this call only.
 */
int iaa_submit_compress_units(struct iaa_pool *pool,
                              const void *src,
                              const size_t *src_lens,
                              const void *dst,
                              const size_t *dst_caps,
                              size_t units,
                              int32_t *results,
                              size_t results_len,
                              uint32_t *crcs,
                              struct iaa_handle **out);

/**
 * Starts decompressing like `iaa_decompress_batch`, without waiting; see
 * `iaa_submit_compress_units`.
 *
 * # Safety
 * As for `iaa_submit_compress_units`.
 */
int iaa_submit_decompress_batch(struct iaa_pool *pool,
                                const void *src,
                                const size_t *src_lens,
                                const void *dst,
                                const size_t *dst_caps,
                                size_t units,
                                const uint32_t *expected_crcs,
                                int32_t *results,
                                size_t results_len,
                                uint32_t *crcs,
                                struct iaa_handle **out);

/**
 * Makes progress without blocking for long (software path: runs at most one unit; hardware
 * path: one pass over the device's completion records). Returns 1 once every unit has its
 * result (then `results` is written), 0 while units are still running, or a negative code
 * (`-EINVAL` for a NULL or ended handle). The handle stays alive either way: end it with `iaa_handle_wait`.
 *
 * # Safety
 * `h` is NULL or a handle not yet ended, used by one thread at a time.
 */
int iaa_handle_poll(struct iaa_handle *h);

/**
 * Finishes every unit, writes `results` and `info` (may be NULL; the totals of the call), and
 * ends the handle. Returns 0, or `-EINVAL` for a NULL or ended handle or a bad `info->size`
 * (the handle is not ended then).
 *
 * # Safety
 * `h` is NULL or a handle not yet ended; `info` is NULL or holds `info->size` writable bytes.
 */
int iaa_handle_wait(struct iaa_handle *h, struct iaa_batch_info *info);

/**
 * Ends a handle without waiting: units not finished yet get `-ECANCELED` in `results` (their
 * slots hold nothing useful), finished ones keep their result. NULL is a no-op.
 *
 * # Safety
 * `h` is NULL or a handle not yet ended.
 */
void iaa_handle_free(struct iaa_handle *h);

#ifdef __cplusplus
}  /* extern "C" */
#endif  /* __cplusplus */

#endif  /* IAA_H */
