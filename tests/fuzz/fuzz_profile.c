/* fuzz_profile.c - the drift profile reader (the .ais DRIFT section's bytes). The input is the
 * section without its XXH64 trailer, which is computed here, so mutations reach the parser
 * instead of stopping at the checksum. A profile that reads must serialize, read back and
 * serialize to the same bytes, and compare with itself without failing. */
#include <aistack/aistack.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <xxhash.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    uint8_t *buf = malloc(size + 8);
    if (!buf) return 0;
    memcpy(buf, data, size);
    uint64_t h = XXH64(buf, size, 0);
    memcpy(buf + size, &h, 8);
    ais_profile *p = NULL;
    if (ais_profile_deserialize(buf, size + 8, &p) != AIS_OK) {
        if (p) abort(); /* a failure leaves nothing behind */
        free(buf);
        return 0;
    }
    size_t n = 0, n2 = 0;
    if (ais_profile_serialize(p, NULL, 0, &n) != AIS_OK) abort();
    uint8_t *a = malloc(n), *b = NULL;
    ais_profile *q = NULL;
    if (!a || ais_profile_serialize(p, a, n, &n) != AIS_OK) abort();
    if (ais_profile_deserialize(a, n, &q) != AIS_OK) {
        fprintf(stderr, "a serialized profile does not read back: %s\n", ais_last_error());
        abort();
    }
    if (ais_profile_serialize(q, NULL, 0, &n2) != AIS_OK || n2 != n || !(b = malloc(n2)) ||
        ais_profile_serialize(q, b, n2, &n2) != AIS_OK || memcmp(a, b, n) != 0) {
        fprintf(stderr, "a profile does not serialize to the same bytes twice\n");
        abort();
    }
    ais_drift_report *r = NULL;
    ais_status st = ais_profile_drift(p, q, &r);
    if (st != AIS_OK && st != AIS_E_OUT_OF_MEMORY) {
        fprintf(stderr, "a profile does not compare with its copy: %s\n", ais_last_error());
        abort();
    }
    ais_drift_report_destroy(r);
    ais_profile_destroy(q);
    ais_profile_destroy(p);
    free(a);
    free(b);
    free(buf);
    return 0;
}
