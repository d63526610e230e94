/*
 * dsa: the DSA operations from C (iaa_dsa_crc32c, iaa_dsa_same_filled, iaa_dsa_compare,
 * iaa_dsa_copy, iaa_dsa_fill), on a software pool and on an IAA_PATH_AUTO pool, which runs
 * them on the DSA model when the test sets IAA_DEVICE=model.
 *
 *   cc dsa.c $(pkg-config --cflags --libs iaa-static) -o dsa && IAA_DEVICE=model ./dsa
 */
#include <iaa.h>

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PAGES 48
#define PAGE 4096

static int failures;

static void check(int ok, const char *what) {
    if (!ok) {
        printf("FAIL: %s\n", what);
        failures++;
    }
}

/* Bitwise CRC-32C, the reference (zlib seed convention). */
static uint32_t crc32c_ref(uint32_t seed, const unsigned char *p, size_t n) {
    uint32_t c = ~seed;
    size_t i;
    int k;
    for (i = 0; i < n; i++) {
        c ^= p[i];
        for (k = 0; k < 8; k++)
            c = (c >> 1) ^ (0x82F63B78u & (0u - (c & 1u)));
    }
    return ~c;
}

static int run(uint32_t path, const char *name) {
    static unsigned char pages[PAGES][PAGE];
    static unsigned char copies[PAGES][PAGE];
    static unsigned char other[PAGES][PAGE];
    unsigned char *pp[PAGES], *cp[PAGES], *op[PAGES];
    size_t lens[PAGES];
    uint32_t crcs[PAGES];
    uint64_t patterns[PAGES];
    unsigned char filled[PAGES], equal[PAGES];
    iaa_config cfg;
    iaa_pool *pool = NULL;
    iaa_batch_info info;
    iaa_stats st;
    int i, j, rc, before = failures;
    uint32_t x = 12345;

    for (i = 0; i < PAGES; i++) {
        for (j = 0; j < PAGE; j++) {
            x = x * 1103515245u + 12345u;
            switch (i % 4) {
            case 0: pages[i][j] = (unsigned char)(x >> 16); break;           /* random */
            case 1: pages[i][j] = 0; break;                                  /* zeros */
            case 2: pages[i][j] = (unsigned char)(j % 8 == 0 ? i : 0x5a); break; /* a word */
            default: pages[i][j] = (unsigned char)("the quick brown fox "[j % 20]); break;
            }
        }
        memcpy(other[i], pages[i], PAGE);
        if (i % 5 == 0)
            other[i][(i * 97) % PAGE] ^= 1;
        pp[i] = pages[i];
        cp[i] = copies[i];
        op[i] = other[i];
        lens[i] = PAGE;
    }

    iaa_config_init(&cfg);
    cfg.path = path;
    cfg.contexts = 2;
    rc = iaa_pool_create(&cfg, &pool);
    check(rc == 0, "pool created");
    if (rc != 0)
        return 1;

    memset(&info, 0, sizeof info);
    info.size = sizeof info;
    rc = iaa_dsa_crc32c(pool, pp, lens, PAGES, 0, crcs, &info);
    check(rc == 0, "iaa_dsa_crc32c returns 0");
    for (i = 0; i < PAGES; i++)
        check(crcs[i] == crc32c_ref(0, pages[i], PAGE), "CRC-32C equals the reference");
    check(info.units == PAGES && info.hardware + info.software == PAGES, "crc32c totals");
    printf("%s: crc32c %llu on the DSA, %llu in software\n", name,
           (unsigned long long)info.hardware, (unsigned long long)info.software);
    {
        const char *nine = "123456789";
        const void *one[1];
        size_t len = 9;
        uint32_t c = 0;
        one[0] = nine;
        rc = iaa_dsa_crc32c(pool, one, &len, 1, 0, &c, NULL);
        check(rc == 0 && c == 0xE3069283u, "CRC-32C check value of \"123456789\"");
    }
    rc = iaa_dsa_crc32c(pool, pp, lens, PAGES, 0xABCDu, crcs, NULL);
    check(rc == 0 && crcs[3] == crc32c_ref(0xABCDu, pages[3], PAGE), "seeded CRC-32C");

    rc = iaa_dsa_same_filled(pool, pp, lens, PAGES, filled, patterns, NULL);
    check(rc == 0, "iaa_dsa_same_filled returns 0");
    for (i = 0; i < PAGES; i++) {
        int want = (i % 4 == 1);
        if (i % 4 == 2) {
            /* byte i then seven 0x5a: same-filled, the word is i | 0x5a5a..5a00 */
            uint64_t w = (uint64_t)i;
            for (j = 1; j < 8; j++)
                w |= (uint64_t)0x5a << (8 * j);
            check(filled[i] == 1 && patterns[i] == w, "a repeated word is same-filled");
        } else {
            check(filled[i] == (unsigned char)want, "same-filled flag");
            if (i % 4 == 1)
                check(patterns[i] == 0, "zero page's word");
        }
    }

    rc = iaa_dsa_compare(pool, pp, op, lens, PAGES, equal, NULL);
    check(rc == 0, "iaa_dsa_compare returns 0");
    for (i = 0; i < PAGES; i++)
        check(equal[i] == (i % 5 != 0), "compare result");

    memset(copies, 0, sizeof copies);
    rc = iaa_dsa_copy(pool, cp, pp, lens, PAGES, NULL);
    check(rc == 0 && memcmp(copies, pages, sizeof pages) == 0, "copies are byte-identical");

    rc = iaa_dsa_fill(pool, cp, lens, PAGES, 0x0807060504030201ull, NULL);
    check(rc == 0, "iaa_dsa_fill returns 0");
    for (i = 0; i < PAGES; i++)
        for (j = 0; j < PAGE; j++)
            if (copies[i][j] != (unsigned char)(j % 8 + 1)) {
                check(0, "fill pattern");
                i = PAGES;
                break;
            }

    /* Malformed calls: nothing written, -EINVAL. */
    crcs[0] = 7;
    check(iaa_dsa_crc32c(pool, NULL, lens, PAGES, 0, crcs, NULL) == -EINVAL, "NULL array");
    check(crcs[0] == 7, "nothing written on -EINVAL");
    check(iaa_dsa_copy(pool, pp, pp, lens, PAGES, NULL) == -EINVAL, "overlapping copy");
    check(iaa_dsa_crc32c(NULL, pp, lens, PAGES, 0, crcs, NULL) == -EINVAL, "NULL pool");

    memset(&st, 0, sizeof st);
    st.size = sizeof st;
    check(iaa_pool_stats(pool, &st) == 0, "stats");
    printf("%s: dsa_hw %llu dsa_sw %llu submissions %llu\n", name,
           (unsigned long long)st.dsa_hw, (unsigned long long)st.dsa_sw,
           (unsigned long long)st.dsa_submissions);
    if (path == IAA_PATH_SOFTWARE)
        check(st.dsa_hw == 0, "a software pool does DSA work in software");
    else if (getenv("IAA_DEVICE") != NULL)
        check(st.dsa_hw > 0 && st.dsa_sw == 0, "the DSA model did every unit");
    iaa_pool_destroy(pool);
    return failures != before;
}

int main(void) {
    run(IAA_PATH_SOFTWARE, "software");
    run(IAA_PATH_AUTO, "auto");
    if (failures) {
        printf("%d checks failed\n", failures);
        return 1;
    }
    printf("all checks passed\n");
    return 0;
}
