/*
 * misuse: every entry point called with the wrong arguments from C must return an error code
 * (never crash, never write). Exit status 0 when every check holds.
 *
 *   cc misuse.c $(pkg-config --cflags --libs iaa) -o misuse && ./misuse
 */
#include <iaa.h>

#include <errno.h>
#include <stdio.h>
#include <string.h>

static int failures;

#define EXPECT(call, want)                                                                     \
    do {                                                                                       \
        int got_ = (call);                                                                     \
        if (got_ != (want)) {                                                                  \
            fprintf(stderr, "%s:%d: %s gave %d (%s), want %d\n", __FILE__, __LINE__, #call,   \
                    got_, iaa_strerror(got_), (want));                                         \
            failures++;                                                                        \
        }                                                                                      \
    } while (0)

int main(void)
{
    uint8_t src[8192], dst[8192];
    int32_t res[2] = {7, 7};
    size_t out_len = 0;
    memset(src, 'a', sizeof src);
    memset(dst, 0x55, sizeof dst);

    iaa_pool *pool = (iaa_pool *)&failures; /* must be reset to NULL on failure */
    iaa_config cfg;
    iaa_config_init(&cfg);
    cfg.size = 0;
    EXPECT(iaa_pool_create(&cfg, &pool), -EINVAL);
    EXPECT(pool == NULL, 1);
    iaa_config_init(&cfg);
    cfg.flags = 0x80000000u;
    EXPECT(iaa_pool_create(&cfg, &pool), -EINVAL);
    EXPECT(iaa_pool_create(NULL, NULL), -EINVAL);
    /* Every numeric field has a range (iaa.h); outside it: -EINVAL at once, no allocation. */
    iaa_config_init(&cfg);
    cfg.contexts = UINT32_MAX;
    EXPECT(iaa_pool_create(&cfg, &pool), -EINVAL);
    EXPECT(pool == NULL, 1);
    iaa_config_init(&cfg);
    cfg.contexts = 4097;
    EXPECT(iaa_pool_create(&cfg, &pool), -EINVAL);
    iaa_config_init(&cfg);
    cfg.hw_batch_size = UINT32_MAX;
    EXPECT(iaa_pool_create(&cfg, &pool), -EINVAL);
    iaa_config_init(&cfg);
    cfg.max_unit_size = UINT64_MAX;
    EXPECT(iaa_pool_create(&cfg, &pool), -EINVAL);
    iaa_config_init(&cfg);
    cfg.completion_timeout_us = UINT64_MAX;
    EXPECT(iaa_pool_create(&cfg, &pool), -EINVAL);
    iaa_config_init(&cfg);
    cfg.path = IAA_PATH_SOFTWARE;
    EXPECT(iaa_pool_create(&cfg, &pool), 0);

    /* NULL pool everywhere. */
    EXPECT(iaa_compress_batch(NULL, src, sizeof src, 4096, dst, sizeof dst, 4096, res, 2,NULL, NULL),
           -EINVAL);
    EXPECT(iaa_compress(NULL, src, sizeof src, dst, sizeof dst, &out_len,NULL), -EINVAL);
    EXPECT(iaa_decompress(NULL, src, sizeof src, dst, sizeof dst,NULL, &out_len,NULL), -EINVAL);
    EXPECT(iaa_pool_path(NULL), -EINVAL);
    EXPECT((int)iaa_batch_size(NULL), 0);
    iaa_stats st = {.size = sizeof st};
    EXPECT(iaa_pool_stats(NULL, &st), -EINVAL);

    /* NULL buffers, zero sizes, short arrays, too-small output regions. */
    EXPECT(iaa_compress_batch(pool, NULL, sizeof src, 4096, dst, sizeof dst, 4096, res, 2, NULL, NULL),
           -EINVAL);
    EXPECT(iaa_compress_batch(pool, src, sizeof src, 4096, NULL, sizeof dst, 4096, res, 2, NULL, NULL),
           -EINVAL);
    EXPECT(iaa_compress_batch(pool, src, sizeof src, 4096, dst, sizeof dst, 4096, NULL, 2, NULL, NULL),
           -EINVAL);
    EXPECT(iaa_compress_batch(pool, src, sizeof src, 0, dst, sizeof dst, 4096, res, 2, NULL, NULL),
           -EINVAL);
    EXPECT(iaa_compress_batch(pool, src, sizeof src, 4096, dst, sizeof dst, 0, res, 2, NULL, NULL),
           -EINVAL);
    EXPECT(iaa_compress_batch(pool, src, sizeof src, 4096, dst, sizeof dst, 4096, res, 1, NULL, NULL),
           -EINVAL);
    EXPECT(iaa_compress_batch(pool, src, sizeof src, 4096, dst, 4096, 4096, res, 2, NULL, NULL),
           -EINVAL);
    EXPECT(iaa_compress_batch(pool, src, sizeof src, 4096, src, sizeof src, 4096, res, 2, NULL, NULL),
           -EINVAL);
    iaa_batch_info bad_info = {0};
    EXPECT(iaa_compress_batch(pool, src, sizeof src, 4096, dst, sizeof dst, 4096, res, 2, NULL,
                              &bad_info),
           -EINVAL);
    EXPECT(iaa_compress(pool, src, sizeof src, dst, sizeof dst, NULL, NULL), -EINVAL);
    EXPECT(iaa_decompress_batch(pool, NULL, NULL, NULL, NULL, 1, NULL, res, 2, NULL, NULL), -EINVAL);
    EXPECT(iaa_pool_stats(pool, NULL), -EINVAL);
    EXPECT(res[0] == 7 && res[1] == 7, 1);
    EXPECT(dst[0] == 0x55 && dst[sizeof dst - 1] == 0x55, 1);

    /* Output slots too small for the data are per-unit outcomes, not call errors. */
    EXPECT(iaa_compress_batch(pool, src, sizeof src, 4096, dst, 16, 8, res, 2, NULL, NULL), 0);
    EXPECT(res[0], IAA_INCOMPRESSIBLE);
    EXPECT(iaa_compress(pool, src, 4096, dst, sizeof dst, &out_len, NULL), 0);
    uint8_t small[100];
    const uint8_t *in[1] = {dst};
    size_t in_len[1] = {out_len};
    uint8_t *outp[1] = {small};
    size_t cap[1] = {sizeof small};
    EXPECT(iaa_decompress_batch(pool, in, in_len, outp, cap, 1, NULL, res, 1, NULL, NULL), 0);
    EXPECT(res[0], -EOVERFLOW);
    EXPECT(strcmp(iaa_strerror(res[0]), "output buffer too small"), 0);

    iaa_pool_destroy(pool);
    iaa_pool_destroy(NULL);
    if (failures == 0)
        printf("misuse: all checks passed\n");
    return failures == 0 ? 0 : 1;
}
