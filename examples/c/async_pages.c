/*
 * async_pages: the asynchronous calls. Two batches of 4 KiB pages are submitted at once
 * (iaa_submit_compress_units), polled in turn while the caller does other work, and finished
 * with iaa_handle_wait; every compressed page is then inflated by zlib and compared. The
 * compressed pages are decompressed back asynchronously too. Exit status 0 on success.
 *
 *   cc async_pages.c $(pkg-config --cflags --libs iaa-static) -lz -o async_pages
 *   ./async_pages [hw]
 *
 * With "hw" the pool requires the hardware path (a device, or IAA_DEVICE=model).
 */
#include <iaa.h>

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#define PAGE 4096
#define PAGES 16 /* per batch */
#define BATCHES 2

static int fail(const char *what, int code)
{
    fprintf(stderr, "async_pages: %s: %d (%s)\n", what, code, iaa_strerror(code));
    return 1;
}

static long zlib_inflate_raw(const uint8_t *src, size_t len, uint8_t *dst, size_t cap)
{
    z_stream s;
    memset(&s, 0, sizeof s);
    if (inflateInit2(&s, -15) != Z_OK)
        return -1;
    s.next_in = (Bytef *)src;
    s.avail_in = (uInt)len;
    s.next_out = dst;
    s.avail_out = (uInt)cap;
    int r = inflate(&s, Z_FINISH);
    long out = (r == Z_STREAM_END) ? (long)s.total_out : -1;
    inflateEnd(&s);
    return out;
}

int main(int argc, char **argv)
{
    int hw = argc > 1 && strcmp(argv[1], "hw") == 0;
    iaa_config cfg;
    iaa_config_init(&cfg);
    if (hw) {
        cfg.path = IAA_PATH_HARDWARE;
        cfg.completion_timeout_us = 2000000;
    }
    iaa_pool *pool;
    int rc = iaa_pool_create(&cfg, &pool);
    if (rc)
        return fail("iaa_pool_create", rc);

    /* Pages of text-like data, and their slots. */
    static uint8_t src[BATCHES][PAGES][PAGE], dst[BATCHES][PAGES][PAGE], back[BATCHES][PAGES][PAGE];
    for (int b = 0; b < BATCHES; b++)
        for (int p = 0; p < PAGES; p++) {
            int n = 0;
            while (n < PAGE)
                n += snprintf((char *)src[b][p] + n, PAGE - n, "batch %d page %d line %d; ", b, p, n);
        }

    const uint8_t *in[BATCHES][PAGES];
    uint8_t *out[BATCHES][PAGES];
    size_t lens[BATCHES][PAGES], caps[BATCHES][PAGES];
    int32_t res[BATCHES][PAGES];
    iaa_handle *h[BATCHES];
    for (int b = 0; b < BATCHES; b++) {
        for (int p = 0; p < PAGES; p++) {
            in[b][p] = src[b][p];
            out[b][p] = dst[b][p];
            lens[b][p] = PAGE;
            caps[b][p] = PAGE;
        }
        rc = iaa_submit_compress_units(pool, in[b], lens[b], out[b], caps[b], PAGES, res[b],
                                       PAGES, NULL, &h[b]);
        if (rc)
            return fail("iaa_submit_compress_units", rc);
    }

    /* Poll both handles in turn; count the caller's "other work" between polls. */
    unsigned long other_work = 0;
    int done[BATCHES] = {0};
    while (!done[0] || !done[1]) {
        for (int b = 0; b < BATCHES; b++) {
            if (done[b])
                continue;
            rc = iaa_handle_poll(h[b]);
            if (rc < 0)
                return fail("iaa_handle_poll", rc);
            done[b] = rc;
        }
        other_work++;
    }
    uint64_t hw_units = 0;
    for (int b = 0; b < BATCHES; b++) {
        iaa_batch_info info = {.size = sizeof info};
        rc = iaa_handle_wait(h[b], &info);
        if (rc)
            return fail("iaa_handle_wait", rc);
        hw_units += info.hardware;
    }

    /* zlib inflates every page; then decompress them back through the library, async. */
    size_t total_in = 0, total_out = 0;
    for (int b = 0; b < BATCHES; b++)
        for (int p = 0; p < PAGES; p++) {
            if (res[b][p] < 0)
                return fail("a page did not compress", res[b][p]);
            uint8_t tmp[PAGE];
            if (zlib_inflate_raw(dst[b][p], (size_t)res[b][p], tmp, PAGE) != PAGE ||
                memcmp(tmp, src[b][p], PAGE) != 0) {
                fprintf(stderr, "async_pages: zlib disagrees on batch %d page %d\n", b, p);
                return 1;
            }
            total_in += PAGE;
            total_out += (size_t)res[b][p];
            in[b][p] = dst[b][p];
            lens[b][p] = (size_t)res[b][p];
            out[b][p] = back[b][p];
        }
    for (int b = 0; b < BATCHES; b++) {
        rc = iaa_submit_decompress_batch(pool, in[b], lens[b], out[b], caps[b], PAGES, NULL, res[b],
                                         PAGES, NULL, &h[b]);
        if (rc)
            return fail("iaa_submit_decompress_batch", rc);
    }
    for (int b = 0; b < BATCHES; b++) {
        rc = iaa_handle_wait(h[b], NULL);
        if (rc)
            return fail("iaa_handle_wait", rc);
        for (int p = 0; p < PAGES; p++)
            if (res[b][p] != PAGE || memcmp(back[b][p], src[b][p], PAGE) != 0) {
                fprintf(stderr, "async_pages: batch %d page %d did not come back\n", b, p);
                return 1;
            }
    }
    printf("async: %d units in %d handles, %zu -> %zu bytes, hw units %llu, polls %lu; "
           "all inflated by zlib and decompressed back\n",
           BATCHES * PAGES, BATCHES, total_in, total_out, (unsigned long long)hw_units,
           other_work);
    iaa_pool_destroy(pool);
    return 0;
}
