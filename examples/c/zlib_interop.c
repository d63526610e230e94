/*
 * zlib_interop: compress a file in 4 KiB units through libiaa and inflate every unit with
 * zlib; then deflate every unit with zlib (4 KiB window) and decompress them with libiaa.
 * Every byte is compared. Exit status 0 when both directions round-trip, 1 otherwise.
 *
 *   cc zlib_interop.c $(pkg-config --cflags --libs iaa-static) -lz -o zlib_interop
 *   ./zlib_interop FILE [UNIT_SIZE [hw [fixed|dynamic|trained]]]
 *
 * With "hw" the pool requires the hardware path (IAA_PATH_HARDWARE, no hybrid software help,
 * 2 s completion timeout): a device, or the device model with IAA_DEVICE=model in the
 * environment. The last word picks how the device codes the units (default: the library's,
 * IAA_HW_MODE_AUTO): "fixed", "dynamic" (each unit its own code) or "trained" (one code
 * learnt from the file's first 64 KiB).
 */
#include <iaa.h>

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#define CALL_UNITS 256 /* units handed to one batch call */

static int fail(const char *what, int code)
{
    fprintf(stderr, "zlib_interop: %s: %d (%s)\n", what, code, iaa_strerror(code));
    return 1;
}

static unsigned char *read_file(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    size_t cap = 1 << 20, n = 0;
    unsigned char *buf = malloc(cap);
    size_t got;
    while (buf && (got = fread(buf + n, 1, cap - n, f)) > 0) {
        n += got;
        if (n == cap) {
            unsigned char *bigger = realloc(buf, cap *= 2);
            if (!bigger) {
                free(buf);
                buf = NULL;
            }
            buf = bigger;
        }
    }
    fclose(f);
    *len = n;
    return buf;
}

/* Raw inflate of one unit with zlib; returns the output length or -1. */
static long zlib_inflate_raw(const unsigned char *src, size_t len, unsigned char *dst, size_t cap)
{
    z_stream s;
    memset(&s, 0, sizeof s);
    if (inflateInit2(&s, -15) != Z_OK)
        return -1;
    s.next_in = (unsigned char *)src;
    s.avail_in = (uInt)len;
    s.next_out = dst;
    s.avail_out = (uInt)cap;
    int rc = inflate(&s, Z_FINISH);
    long out = rc == Z_STREAM_END && s.avail_in == 0 ? (long)s.total_out : -1;
    inflateEnd(&s);
    return out;
}

/* Raw deflate of one unit with zlib and a 4 KiB window; returns the output length or -1. */
static long zlib_deflate_raw(const unsigned char *src, size_t len, unsigned char *dst, size_t cap)
{
    z_stream s;
    memset(&s, 0, sizeof s);
    if (deflateInit2(&s, 6, Z_DEFLATED, -12, 8, Z_DEFAULT_STRATEGY) != Z_OK)
        return -1;
    s.next_in = (unsigned char *)src;
    s.avail_in = (uInt)len;
    s.next_out = dst;
    s.avail_out = (uInt)cap;
    int rc = deflate(&s, Z_FINISH);
    long out = rc == Z_STREAM_END ? (long)s.total_out : -1;
    deflateEnd(&s);
    return out;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: %s FILE [UNIT_SIZE [hw [fixed|dynamic|trained]]]\n", argv[0]);
        return 2;
    }
    size_t unit = argc > 2 ? (size_t)strtoul(argv[2], NULL, 10) : 4096;
    if (unit == 0 || unit > (1u << 30)) {
        fprintf(stderr, "bad unit size\n");
        return 2;
    }
    if (strcmp(iaa_version_string(), IAA_VERSION_STRING) != 0) {
        fprintf(stderr, "header %s, library %s\n", IAA_VERSION_STRING, iaa_version_string());
        return 1;
    }
    size_t len;
    unsigned char *data = read_file(argv[1], &len);
    if (!data) {
        perror(argv[1]);
        return 2;
    }

    iaa_config cfg;
    iaa_config_init(&cfg);
    if (argc > 3 && strcmp(argv[3], "hw") == 0) {
        cfg.path = IAA_PATH_HARDWARE;
        cfg.flags |= IAA_FLAG_NO_HYBRID;
        cfg.completion_timeout_us = 2000000; /* generous: the device model may be slow */
        if (argc > 4 && strcmp(argv[4], "fixed") == 0)
            cfg.hw_mode = IAA_HW_MODE_FIXED;
        if (argc > 4 && strcmp(argv[4], "dynamic") == 0)
            cfg.hw_mode = IAA_HW_MODE_DYNAMIC;
        if (argc > 4 && strcmp(argv[4], "trained") == 0) {
            /* One code for the pool, learnt from the file's first 64 KiB. */
            cfg.hw_mode = IAA_HW_MODE_TRAINED;
            cfg.training_sample = data;
            cfg.training_sample_len = len < 65536 ? len : 65536;
        }
    }
    iaa_pool *pool = NULL;
    int rc = iaa_pool_create(&cfg, &pool);
    if (rc != 0)
        return fail("iaa_pool_create", rc);

    size_t slot = unit; /* an output slot per unit; larger output is reported incompressible */
    unsigned char *dst = malloc(CALL_UNITS * slot);
    unsigned char *back = malloc(unit);
    int32_t res[CALL_UNITS];
    uint32_t crcs[CALL_UNITS];
    size_t units = 0, raw = 0, packed = 0;

    /* 1. library compresses, zlib inflates. */
    for (size_t off = 0; off < len; off += CALL_UNITS * unit) {
        size_t chunk = len - off < CALL_UNITS * unit ? len - off : CALL_UNITS * unit;
        size_t n = (chunk + unit - 1) / unit;
        iaa_batch_info info = {.size = sizeof info};
        rc = iaa_compress_batch(pool, data + off, chunk, unit, dst, CALL_UNITS * slot, slot, res,
                                CALL_UNITS, crcs, &info);
        if (rc != 0)
            return fail("iaa_compress_batch", rc);
        if (info.units != n || info.failed != 0)
            return fail("batch info", (int)info.failed);
        for (size_t i = 0; i < n; i++) {
            size_t ulen = i + 1 < n ? unit : chunk - i * unit;
            const unsigned char *orig = data + off + i * unit;
            units++;
            /* The library's per-unit CRC-32 is zlib's crc32() of the unit. */
            if (crcs[i] != (uint32_t)crc32(0L, orig, (uInt)ulen)) {
                fprintf(stderr, "unit %zu: CRC %08x, zlib says %08lx\n", units - 1,
                        (unsigned)crcs[i], crc32(0L, orig, (uInt)ulen));
                return 1;
            }
            if (res[i] == IAA_INCOMPRESSIBLE) {
                raw++;
                continue;
            }
            if (res[i] < 0)
                return fail("unit compression", res[i]);
            long got = zlib_inflate_raw(dst + i * slot, (size_t)res[i], back, unit);
            if (got != (long)ulen || memcmp(back, orig, ulen) != 0) {
                fprintf(stderr, "unit %zu: zlib inflate mismatch (%ld of %zu)\n", units - 1, got,
                        ulen);
                return 1;
            }
            packed += (size_t)res[i];
        }
    }
    printf("library->zlib: %zu units, %zu raw, %zu -> %zu bytes compressed, path %s\n", units, raw,
           len, packed + raw * unit,
           iaa_pool_path(pool) == IAA_PATH_HARDWARE ? "hardware" : "software");

    /* 2. zlib deflates (4 KiB window), library decompresses. */
    size_t zcap = compressBound((uLong)unit);
    unsigned char *zbuf = malloc(CALL_UNITS * zcap);
    const uint8_t *zsrc[CALL_UNITS];
    size_t zlen[CALL_UNITS];
    uint8_t *udst[CALL_UNITS];
    size_t ucap[CALL_UNITS];
    uint32_t want[CALL_UNITS];
    unsigned char *out = malloc(CALL_UNITS * unit);
    size_t checked = 0;
    for (size_t off = 0; off < len; off += CALL_UNITS * unit) {
        size_t chunk = len - off < CALL_UNITS * unit ? len - off : CALL_UNITS * unit;
        size_t n = (chunk + unit - 1) / unit;
        for (size_t i = 0; i < n; i++) {
            size_t ulen = i + 1 < n ? unit : chunk - i * unit;
            long z = zlib_deflate_raw(data + off + i * unit, ulen, zbuf + i * zcap, zcap);
            if (z < 0)
                return fail("zlib deflate", (int)z);
            zsrc[i] = zbuf + i * zcap;
            zlen[i] = (size_t)z;
            udst[i] = out + i * unit; /* the output is exactly the original chunk */
            ucap[i] = ulen;
            want[i] = (uint32_t)crc32(0L, data + off + i * unit, (uInt)ulen);
        }
        /* A wrong expected CRC fails that unit alone (checked on the first chunk). */
        if (off == 0)
            want[0] ^= 1;
        iaa_batch_info info = {.size = sizeof info};
        rc = iaa_decompress_batch(pool, zsrc, zlen, udst, ucap, n, want, res, CALL_UNITS, crcs,
                                  &info);
        if (rc != 0)
            return fail("iaa_decompress_batch", rc);
        if (off == 0) {
            /* The unit is reported, its slot still holds the output; the rest are done. */
            if (res[0] != IAA_ECRC || crcs[0] != 0)
                return fail("a wrong expected CRC", res[0]);
            want[0] ^= 1;
            res[0] = (int32_t)(n > 1 ? unit : chunk);
            crcs[0] = want[0];
        }
        for (size_t i = 0; i < n; i++) {
            size_t ulen = i + 1 < n ? unit : chunk - i * unit;
            if (crcs[i] != want[i]) {
                fprintf(stderr, "unit %zu: CRC %08x, want %08x\n", checked + i, (unsigned)crcs[i],
                        (unsigned)want[i]);
                return 1;
            }
            if (res[i] != (int32_t)ulen) {
                fprintf(stderr, "unit %zu: decompressed %d of %zu bytes (%s)\n", checked + i,
                        res[i], ulen, iaa_strerror(res[i]));
                return 1;
            }
        }
        if (memcmp(out, data + off, chunk) != 0) {
            fprintf(stderr, "zlib->library: mismatch in the chunk at offset %zu\n", off);
            return 1;
        }
        checked += n;
    }
    printf("zlib->library: %zu units decompressed and compared\n", checked);

    iaa_stats st = {.size = sizeof st};
    rc = iaa_pool_stats(pool, &st);
    if (rc != 0)
        return fail("iaa_pool_stats", rc);
    printf("stats: compress hw %llu sw %llu, decompress hw %llu sw %llu, fallbacks %llu\n",
           (unsigned long long)st.compress_hw.units, (unsigned long long)st.compress_sw.units,
           (unsigned long long)st.decompress_hw.units, (unsigned long long)st.decompress_sw.units,
           (unsigned long long)st.fallbacks_total);
    for (uint32_t i = 0; iaa_fallback_cause_name(i) != NULL; i++)
        if (st.fallbacks[i] != 0)
            printf("  fallback %s: %llu\n", iaa_fallback_cause_name(i),
                   (unsigned long long)st.fallbacks[i]);
    if (st.compress_hw.units + st.compress_sw.units + st.incompressible != units ||
        st.decompress_hw.units + st.decompress_sw.units != checked) {
        fprintf(stderr, "statistics do not add up to the units processed\n");
        return 1;
    }
    iaa_pool_destroy(pool);
    free(data);
    free(dst);
    free(back);
    free(zbuf);
    free(out);
    return 0;
}
