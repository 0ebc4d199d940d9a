/*
 * test_cpu_qdq.c - DynamicQuantizeLinear's passes (the kernel table's dynq_minmax and dynq_row,
 * lib/cpu/x86/avx2/avx2_qdq.c and avx512/avx512_qdq.c) at every instruction-set level this
 * machine has, against the portable ones of lib/ops/qdq_rows.c: the same bytes and the same
 * range for every length (vector bodies and tails), values on rounding ties (k + 0.5 steps,
 * which round half to even), values far past the u8 range (+-inf, 1e30: saturate), NaN (skipped
 * by the range, quantized to 0), and zero points across [0, 255]; and ais__qdq_dynamic (the
 * operator's whole computation) against a direct evaluation of the ONNX formula.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "cpu/cpu.h"
#include "ops/qdq_rows.h"
#include "test_util.h"

/* n values in [-r, r], some on exact ties of scale s and some extreme, when special. */
static void fill(float *x, size_t n, float r, float s, bool special) {
    for (size_t i = 0; i < n; i++) {
        x[i] = (float)ais_test_uniform(-r, r);
        if (i % 7 == 3) x[i] = ((float)ais_test_randint(-300, 300) + 0.5f) * s; /* a tie */
    }
    if (!special || n < 5) return;
    x[ais_test_randint(0, (int64_t)n - 1)] = NAN;
    x[ais_test_randint(0, (int64_t)n - 1)] = INFINITY;
    x[ais_test_randint(0, (int64_t)n - 1)] = -1e30f;
    x[ais_test_randint(0, (int64_t)n - 1)] = 1e30f;
}

static void test_dynq_levels(void **state) {
    (void)state;
    const ais_cpu_isa isas[] = {AIS_CPU_ISA_SCALAR, AIS_CPU_ISA_AVX2, AIS_CPU_ISA_AVX512,
                                AIS_CPU_ISA_AVX512_VNNI};
    float *x = malloc(600 * sizeof *x);
    uint8_t *want = malloc(600), *got = malloc(600);
    assert_non_null(x);
    assert_non_null(want);
    assert_non_null(got);
    int levels = 0;
    for (size_t li = 0; li < sizeof isas / sizeof *isas; li++) {
        const ais__cpu_kernels *t = ais__cpu_for(isas[li]);
        if (!t) continue;
        /* AVX2 and up have their own; the scalar level uses the reference itself */
        if (isas[li] >= AIS_CPU_ISA_AVX2) {
            assert_non_null(t->dynq_minmax);
            assert_non_null(t->dynq_row);
        }
        if (!t->dynq_row) continue;
        levels++;
        for (size_t n = 0; n < 600; n += n < 70 ? 1 : 37) {
            for (int rep = 0; rep < 3; rep++) {
                float s = (float)ais_test_uniform(0.001, 0.05);
                fill(x, n, 300.0f * s, s, rep == 2);
                float zp = (float)(rep == 0 ? 0 : rep == 1 ? 255 : ais_test_randint(0, 255));
                memset(want, 0xa5, 600);
                memset(got, 0xa5, 600);
                ais__qdq_dynamic_row(x, s, zp, want, n);
                t->dynq_row(x, s, zp, got, n);
                for (size_t i = 0; i < 600; i++)
                    if (got[i] != want[i])
                        fail_msg("isa %d dynq_row n %zu: y[%zu] = %d, expected %d (x %g, s %g, "
                                 "zp %g)",
                                 (int)isas[li], n, i, got[i], want[i], i < n ? x[i] : 0.0, s, zp);
                float start[2][2] = {{0, 0}, {-1e-3f, 1e-3f}};
                for (int k = 0; k < 2; k++) {
                    float wmn = start[k][0], wmx = start[k][1], gmn = wmn, gmx = wmx;
                    ais__qdq_minmax_row(x, n, &wmn, &wmx);
                    t->dynq_minmax(x, n, &gmn, &gmx);
                    if (gmn != wmn || gmx != wmx)
                        fail_msg("isa %d dynq_minmax n %zu: [%g, %g], expected [%g, %g]",
                                 (int)isas[li], n, gmn, gmx, wmn, wmx);
                }
            }
        }
    }
    assert_true(levels >= 1 || ais__cpu_isa_detected() < AIS_CPU_ISA_AVX2);
    free(x);
    free(want);
    free(got);
}

/* The operator as ONNX writes it: scale = (max(0, max x) - min(0, min x)) / 255, zero point
 * saturate(round(0 - min / scale)), y = saturate(round(x / scale) + zp), rounding half to even. */
static void test_dynamic_formula(void **state) {
    (void)state;
    size_t n = 1000;
    float *x = malloc(n * sizeof *x);
    uint8_t *y = malloc(n);
    assert_non_null(x);
    assert_non_null(y);
    for (int rep = 0; rep < 4; rep++) {
        float lo = rep == 1 ? 0.5f : -3.0f, hi = rep == 2 ? -0.5f : 2.0f;
        for (size_t i = 0; i < n; i++)
            x[i] = rep == 3 ? 0.0f : (float)ais_test_uniform(lo, hi);
        float s;
        uint8_t zp;
        ais__qdq_dynamic(x, n, y, &s, &zp);
        float mn = 0, mx = 0;
        for (size_t i = 0; i < n; i++) {
            mn = fminf(mn, x[i]);
            mx = fmaxf(mx, x[i]);
        }
        float ws = (mx == mn ? 1.0f : mx - mn) / 255.0f;
        assert_true(s == ws);
        float wz = nearbyintf(fminf(fmaxf(0.0f - mn / ws, 0.0f), 255.0f));
        assert_int_equal(zp, (int)wz);
        for (size_t i = 0; i < n; i++) {
            float r = nearbyintf(x[i] / ws) + wz;
            int want = r < 0 ? 0 : r > 255 ? 255 : (int)r;
            if (y[i] != want) fail_msg("y[%zu] = %d, expected %d (x %g)", i, y[i], want, x[i]);
        }
    }
    free(x);
    free(y);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_dynq_levels),
        cmocka_unit_test(test_dynamic_formula),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
