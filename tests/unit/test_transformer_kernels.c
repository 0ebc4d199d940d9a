/*
 * test_transformer_kernels.c - the kernels behind the transformer fusions (issue 11 item 3), at
 * every instruction-set level this machine has: the table's layernorm_row against a two-pass
 * double reference.
 */
#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/common.h"
#include "cpu/cpu.h"
#include "test_util.h"

static const char *const isa_names[] = {"scalar", "avx2", "avx512", "avx512_vnni"};

static void ln_want(const float *x, double *w, size_t n, float eps, const float *g,
                    const float *b) {
    double s = 0, q = 0;
    for (size_t i = 0; i < n; i++)
        s += x[i];
    double mean = s / (double)n;
    for (size_t i = 0; i < n; i++)
        q += (x[i] - mean) * (x[i] - mean);
    double inv = 1 / sqrt(q / (double)n + eps);
    for (size_t i = 0; i < n; i++)
        w[i] = (x[i] - mean) * inv * (g ? g[i] : 1) + (b ? b[i] : 0);
}

/* Every length 1..67 and some large ones, with and without scale and bias, around 0 and around
 * a common offset of 100 (where a one-pass variance without the shift would cancel), in place,
 * nothing written past n, NaN in gives NaN out. */
static void test_layernorm_rows(void **state) {
    (void)state;
    enum { MAXN = 4099 };
    float *x = malloc(MAXN * sizeof *x), *y = malloc((MAXN + 1) * sizeof *y);
    float *g = malloc(MAXN * sizeof *g), *b = malloc(MAXN * sizeof *b);
    double *w = malloc(MAXN * sizeof *w);
    assert_true(x && y && g && b && w);
    ais_test_fill_uniform(g, MAXN, 0.5f, 1.5f);
    ais_test_fill_uniform(b, MAXN, -1, 1);
    for (int isa = 0; isa <= 3; isa++) {
        const ais__cpu_kernels *k = ais__cpu_for((ais_cpu_isa)isa);
        if (!k) continue;
        assert_non_null(k->layernorm_row);
        double worst = 0;
        for (size_t len = 1; len <= MAXN; len = len < 67 ? len + 1 : len * 2 + 1) {
            for (int v = 0; v < 4; v++) {
                float off = v & 1 ? 100.0f : 0.0f;
                const float *gp = v & 2 ? g : NULL, *bp = v & 2 ? b : NULL;
                ais_test_fill_uniform(x, len, off - 3, off + 5);
                ln_want(x, w, len, 1e-5f, gp, bp);
                y[len] = -7.0f;
                k->layernorm_row(x, y, len, 1e-5f, gp, bp);
                assert_true(y[len] == -7.0f);
                /* x - mean is rounded to float: ulp(off) relative to a deviation of about 2 */
                double r = off ? 2e-5 : 5e-6;
                for (size_t i = 0; i < len; i++) {
                    double e = fabs(y[i] - w[i]) / (1 + fabs(w[i]));
                    worst = e > worst ? e : worst;
                    if (e > r)
                        fail_msg("%s layernorm n=%zu i=%zu off=%g: %.9g vs %.9g", isa_names[isa],
                                 len, i, (double)off, (double)y[i], w[i]);
                }
                /* in place gives the same */
                memcpy(y, x, len * sizeof *y);
                k->layernorm_row(y, y, len, 1e-5f, gp, bp);
                for (size_t i = 0; i < len; i++)
                    assert_true(fabs(y[i] - w[i]) <= r * (1 + fabs(w[i])));
            }
        }
        print_message("%-12s layernorm_row max error %.2g (relative to 1 + |y|)\n", isa_names[isa],
                      worst);
        float bad[5] = {1, 2, NAN, 3, 4}, inf[5] = {1, INFINITY, 2, 3, 4}, o[5];
        k->layernorm_row(bad, o, 5, 1e-5f, NULL, NULL);
        for (int i = 0; i < 5; i++)
            assert_true(isnan(o[i]));
        k->layernorm_row(inf, o, 5, 1e-5f, NULL, NULL);
        for (int i = 0; i < 5; i++)
            assert_true(isnan(o[i]));
        /* a constant row: variance 0, output bias (0 here) */
        float c[9] = {3, 3, 3, 3, 3, 3, 3, 3, 3};
        k->layernorm_row(c, o, 5, 1e-5f, NULL, NULL);
        for (int i = 0; i < 5; i++)
            assert_true(o[i] == 0);
    }
    free(x);
    free(y);
    free(g);
    free(b);
    free(w);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_layernorm_rows),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
