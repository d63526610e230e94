/*
 * selftest: iaa_selftest from C, on the device model.
 *
 *   1. "model": every WQ passes (returns 0) and the JSON report names its checks.
 *   2. The report's length is given back, so a small buffer can be grown to fit.
 *   3. "model" with IAA_MODEL_QUIRK=bytes_completed (set in the environment by the test):
 *      returns 1 (one WQ did not pass) and the report names the field.
 *   4. A device that does not exist: -ENODEV, and the JSON carries the reason.
 *
 *   cc selftest.c $(pkg-config --cflags --libs iaa-static) -o selftest && ./selftest
 */
#include <iaa.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int failures;

static void check(int ok, const char *what) {
    if (!ok) {
        printf("FAIL: %s\n", what);
        failures++;
    }
}

int main(void) {
    static char json[1 << 16];
    size_t need = 0;
    int quirk = getenv("IAA_MODEL_QUIRK") != NULL;
    int rc = iaa_selftest("model", json, sizeof json, &need);
    printf("iaa_selftest(model) = %d, report %zu bytes\n", rc, need);
    if (quirk) {
        check(rc == 1, "a disagreeing model fails its one WQ");
        check(strstr(json, "\"field\": \"bytes_completed\"") != NULL, "the field is named");
        check(strstr(json, "\"ok_with_fallbacks\"") != NULL, "the verdict says fallbacks");
    } else {
        check(rc == 0, "the model passes");
        check(strstr(json, "\"op\": \"decompress\"") != NULL, "decompress checks reported");
        check(strstr(json, "\"verdict\": \"hardware path OK\"") != NULL, "verdict OK");
        check(need == strlen(json), "the whole report fits and its length is given");
        /* A 16-byte buffer: truncated, NUL-terminated, the full length still given. */
        char small[16];
        size_t full = 0;
        rc = iaa_selftest("model", small, sizeof small, &full);
        check(rc == 0 && strlen(small) == 15 && full > 1000, "truncated report");
    }
    rc = iaa_selftest("vfio:0000:ff:1f.7", json, sizeof json, NULL);
    check(rc == -ENODEV, "no such device is -ENODEV");
    check(strstr(json, "\"error\"") != NULL, "and the JSON says why");
    if (failures == 0)
        printf("all checks passed\n");
    return failures == 0 ? 0 : 1;
}
