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
