/*
 * trailing: a unit with bytes after its deflate stream is IAA_ETRAILING, and
 * iaa_decompress_batch_consumed says where the stream ended.
 *
 *   1. Three units: a stream followed by 3 bytes, the same stream alone, garbage. Results
 *      IAA_ETRAILING / 4096 / -EBADMSG; consumed = stream length / stream length / 0.
 *   2. The first consumed[0] bytes of the trailing unit decompress alone to the page.
 *   3. A wrong expected CRC: IAA_ECRC, consumed = the unit's length. consumed = NULL works.
 *   4. iaa_decompress_batch (no consumed array) reports the same results.
 *   5. A consumed array overlapping results is refused with -EINVAL, nothing written.
 *
 * Exit status 0 when all hold. Run with IAA_DEVICE=model for the hardware path.
 *
 *   cc trailing.c $(pkg-config --cflags --libs iaa-static) -pthread -o trailing && ./trailing
 */
#include <iaa.h>

#include <errno.h>
#include <stdio.h>
#include <string.h>

#define PAGE 4096

static int failures;

#define CHECK(cond)                                                                    \
    do {                                                                               \
        if (!(cond)) {                                                                 \
            fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #cond);   \
            failures++;                                                                \
        }                                                                              \
    } while (0)

int main(void)
{
    static unsigned char page[PAGE], z[PAGE + 16], out[3][PAGE], again[PAGE];
    const void *src[3];
    void *dst[3];
    size_t lens[3], caps[3], consumed[3], n = 0, got = 0;
    int32_t res[3];
    uint32_t crc = 0, wrong[3];
    iaa_pool *pool;
    char why[160];
    int i, rc;

    for (i = 0; i < PAGE; i++)
        page[i] = (unsigned char)("trailing bytes are reported "[i % 28] + (i / 512));
    if (iaa_pool_create(NULL, &pool) != 0) {
        fprintf(stderr, "pool creation failed\n");
        return 1;
    }
    iaa_pool_describe(pool, why, sizeof why);
    printf("pool: %s\n", why);
    rc = iaa_compress(pool, page, PAGE, z, PAGE, &n, &crc);
    CHECK(rc == 0 && n > 0 && n < PAGE);
    z[n] = 0xAA;
    z[n + 1] = 0x55;
    z[n + 2] = 0x00;

    src[0] = z;
    lens[0] = n + 3;
    src[1] = z;
    lens[1] = n;
    src[2] = page; /* not deflate */
    lens[2] = 64;
    for (i = 0; i < 3; i++) {
        dst[i] = out[i];
        caps[i] = PAGE;
        consumed[i] = 12345;
    }

    /* 1 */
    rc = iaa_decompress_batch_consumed(pool, src, lens, dst, caps, 3, NULL, res, 3, NULL,
                                       consumed, NULL);
    CHECK(rc == 0);
    CHECK(res[0] == IAA_ETRAILING);
    CHECK(consumed[0] == n);
    CHECK(res[1] == PAGE && memcmp(out[1], page, PAGE) == 0);
    CHECK(consumed[1] == n);
    CHECK(res[2] == -EBADMSG);
    CHECK(consumed[2] == 0);
    printf("stream %lu bytes + 3 trailing: result %d (%s), consumed %lu\n", (unsigned long)n,
           (int)res[0], iaa_strerror(res[0]), (unsigned long)consumed[0]);

    /* 2 */
    rc = iaa_decompress(pool, z, consumed[0], again, PAGE, &crc, &got, NULL);
    CHECK(rc == 0 && got == PAGE && memcmp(again, page, PAGE) == 0);

    /* 3 */
    wrong[0] = wrong[1] = wrong[2] = crc ^ 1;
    rc = iaa_decompress_batch_consumed(pool, &src[1], &lens[1], &dst[1], &caps[1], 1, wrong,
                                       res, 1, NULL, consumed, NULL);
    CHECK(rc == 0 && res[0] == IAA_ECRC && consumed[0] == n);
    rc = iaa_decompress_batch_consumed(pool, src, lens, dst, caps, 3, NULL, res, 3, NULL, NULL,
                                       NULL);
    CHECK(rc == 0 && res[0] == IAA_ETRAILING && res[1] == PAGE && res[2] == -EBADMSG);

    /* 4 */
    rc = iaa_decompress_batch(pool, src, lens, dst, caps, 3, NULL, res, 3, NULL, NULL);
    CHECK(rc == 0 && res[0] == IAA_ETRAILING && res[1] == PAGE && res[2] == -EBADMSG);

    /* 5 */
    res[0] = 7;
    rc = iaa_decompress_batch_consumed(pool, src, lens, dst, caps, 1, NULL, res, 1, NULL,
                                       (size_t *)(void *)res, NULL);
    CHECK(rc == -EINVAL);
    CHECK(res[0] == 7);

    iaa_pool_destroy(pool);
    if (failures) {
        fprintf(stderr, "%d checks failed\n", failures);
        return 1;
    }
    printf("all checks passed\n");
    return 0;
}
