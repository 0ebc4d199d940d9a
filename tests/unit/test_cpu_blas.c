/* test_cpu_blas.c - the GEMM provider of the CPU kernel table (lib/cpu/cpu_blas.c), including
 * its matrix-vector shortcuts for one-row and one-column products, against a naive loop, with
 * every transpose and padded leading dimensions. */
#include <math.h>
#include <stdlib.h>

#include "cpu/cpu.h"
#include "test_util.h"

static void check_gemm(bool ta, bool tb, int64_t m, int64_t n, int64_t k) {
    /* stored shapes: A is [m,k] or [k,m]; B is [k,n] or [n,k]; leading dims padded by 3 */
    int64_t ar = ta ? k : m, ac = ta ? m : k, br = tb ? n : k, bc = tb ? k : n;
    int64_t lda = ac + 3, ldb = bc + 3, ldc = n + 3;
    float *a = calloc((size_t)(ar * lda), sizeof(float)), *b = calloc((size_t)(br * ldb), sizeof(float));
    float *c = calloc((size_t)(m * ldc), sizeof(float)), *c0 = calloc((size_t)(m * ldc), sizeof(float));
    assert_non_null(a);
    assert_non_null(b);
    assert_non_null(c);
    assert_non_null(c0);
    ais_test_fill_uniform(a, (size_t)(ar * lda), -1, 1);
    ais_test_fill_uniform(b, (size_t)(br * ldb), -1, 1);
    ais_test_fill_uniform(c, (size_t)(m * ldc), -1, 1);
    for (int64_t i = 0; i < m * ldc; i++) c0[i] = c[i];
    const float alpha = 0.75f, beta = -0.5f;
    ais__sgemm(ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
    for (int64_t i = 0; i < m; i++) {
        for (int64_t j = 0; j < ldc; j++) {
            if (j >= n) { /* padding untouched */
                assert_true(c[i * ldc + j] == c0[i * ldc + j]);
                continue;
            }
            double s = 0;
            for (int64_t p = 0; p < k; p++) {
                double av = ta ? a[p * lda + i] : a[i * lda + p];
                double bv = tb ? b[j * ldb + p] : b[p * ldb + j];
                s += av * bv;
            }
            double want = alpha * s + beta * c0[i * ldc + j];
            if (fabs(c[i * ldc + j] - want) > 1e-4 * (1 + fabs(want)))
                fail_msg("sgemm ta=%d tb=%d m=%lld n=%lld k=%lld: [%lld,%lld] got %g want %g", ta, tb,
                         (long long)m, (long long)n, (long long)k, (long long)i, (long long)j,
                         c[i * ldc + j], want);
        }
    }
    free(a);
    free(b);
    free(c);
    free(c0);
}

static void test_sgemm_shapes(void **state) {
    (void)state;
    const int64_t shapes[][3] = {{1, 5, 7}, {6, 1, 7}, {1, 1, 9}, {4, 5, 6}, {1, 33, 64}, {17, 1, 3}};
    for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++)
        for (int ta = 0; ta < 2; ta++)
            for (int tb = 0; tb < 2; tb++) check_gemm(ta, tb, shapes[s][0], shapes[s][1], shapes[s][2]);
}

int main(void) {
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_sgemm_shapes)};
    return cmocka_run_group_tests(tests, NULL, NULL);
}
