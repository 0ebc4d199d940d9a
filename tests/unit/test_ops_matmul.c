/* test_ops_matmul.c - MatMul and Gemm against naive loops: broadcasting, 1-D promotion, dtypes,
 * C broadcasting, errors and allocation failures. */
#include "dense_test_ref.h"

/* NumPy matmul on doubles. ys/yn receive the output shape. */
static double *ref_matmul(const double *a, const int64_t *as, size_t an, const double *b,
                          const int64_t *bs, size_t bn, int64_t *ys, size_t *yn) {
    int64_t A[8], B[8];
    size_t ra = an == 1 ? 2 : an, rb = bn == 1 ? 2 : bn;
    if (an == 1) {
        A[0] = 1;
        A[1] = as[0];
    } else {
        memcpy(A, as, an * sizeof(int64_t));
    }
    if (bn == 1) {
        B[0] = bs[0];
        B[1] = 1;
    } else {
        memcpy(B, bs, bn * sizeof(int64_t));
    }
    int64_t M = A[ra - 2], K = A[ra - 1], N = B[rb - 1];
    size_t nb = (ra > rb ? ra : rb) - 2;
    int64_t bd[8], ad[8], bdd[8];
    for (size_t i = 0; i < nb; i++) {
        ad[i] = i + (ra - 2) >= nb ? A[i + (ra - 2) - nb] : 1;
        bdd[i] = i + (rb - 2) >= nb ? B[i + (rb - 2) - nb] : 1;
        bd[i] = ad[i] == 1 ? bdd[i] : ad[i];
    }
    size_t batches = dt_numel(bd, nb);
    *yn = 0;
    for (size_t i = 0; i < nb; i++)
        ys[(*yn)++] = bd[i];
    if (an > 1) ys[(*yn)++] = M;
    if (bn > 1) ys[(*yn)++] = N;
    double *y = calloc(batches * (size_t)(M * N) + 1, sizeof(double));
    for (size_t bi = 0; bi < batches; bi++) {
        size_t rem = bi, ao = 0, bo = 0, am = 1, bm = 1;
        for (size_t ax = nb; ax-- > 0;) {
            size_t idx = rem % (size_t)bd[ax];
            rem /= (size_t)bd[ax];
            ao += (ad[ax] == 1 ? 0 : idx) * am;
            bo += (bdd[ax] == 1 ? 0 : idx) * bm;
            am *= (size_t)ad[ax];
            bm *= (size_t)bdd[ax];
        }
        for (int64_t i = 0; i < M; i++)
            for (int64_t j = 0; j < N; j++) {
                double s = 0;
                for (int64_t k = 0; k < K; k++)
                    s += a[ao * (size_t)(M * K) + (size_t)(i * K + k)] *
                         b[bo * (size_t)(K * N) + (size_t)(k * N + j)];
                y[bi * (size_t)(M * N) + (size_t)(i * N + j)] = s;
            }
    }
    return y;
}

static void check_matmul(ais_dtype dt, const int64_t *as, size_t an, const int64_t *bs, size_t bn) {
    size_t na = dt_numel(as, an), nbv = dt_numel(bs, bn);
    double lo = ais__dtype_is_int(dt) ? -20 : -1, hi = -lo;
    double *a = dt_rand(dt, na, lo, hi), *b = dt_rand(dt, nbv, lo, hi);
    int64_t ys[8];
    size_t yn;
    double *want = ref_matmul(a, as, an, b, bs, bn, ys, &yn);
    ais_tensor *ta = dt_tensor(dt, as, an, a), *tb = dt_tensor(dt, bs, bn, b);
    const ais_tensor *in[] = {ta, tb};
    ais_tensor *y = dt_run("MatMul", NULL, in, 2);
    assert_int_equal(ais_tensor_dtype(y), dt);
    assert_int_equal(ais_tensor_ndim(y), yn);
    for (size_t i = 0; i < yn; i++)
        assert_int_equal(ais_tensor_shape(y)[i], ys[i]);
    double k = (double)(an == 1 ? as[0] : as[an - 1]);
    ais_test_assert_close_values(y, want, dt_numel(ys, yn), dt_rtol(dt),
                                 ais__dtype_is_int(dt) ? 0 : dt_rtol(dt) * (k + 1));
    ais_tensor_destroy(y);
    ais_tensor_destroy(ta);
    ais_tensor_destroy(tb);
    free(a);
    free(b);
    free(want);
}

static void test_matmul_shapes(void **state) {
    (void)state;
    check_matmul(AIS_DTYPE_F32, AIS_SHAPE(2, 1, 3, 4), AIS_SHAPE(5, 4, 6));
    check_matmul(AIS_DTYPE_F32, AIS_SHAPE(7, 3, 5), AIS_SHAPE(5, 2));    /* B shared: folded */
    check_matmul(AIS_DTYPE_F32, AIS_SHAPE(3, 5), AIS_SHAPE(4, 5, 2));    /* A shared */
    check_matmul(AIS_DTYPE_F32, AIS_SHAPE(1, 5), AIS_SHAPE(3, 1, 5, 2)); /* rank promotion */
    check_matmul(AIS_DTYPE_F32, AIS_SHAPE(3, 4), AIS_SHAPE(4));          /* 1-D B */
    check_matmul(AIS_DTYPE_F32, AIS_SHAPE(4), AIS_SHAPE(4, 5));          /* 1-D A */
    check_matmul(AIS_DTYPE_F32, AIS_SHAPE(4), AIS_SHAPE(4));             /* dot: scalar */
    check_matmul(AIS_DTYPE_F32, AIS_SHAPE(4), AIS_SHAPE(2, 4, 3));       /* 1-D A, batched B */
    check_matmul(AIS_DTYPE_F32, AIS_SHAPE(2, 3, 4), AIS_SHAPE(4));       /* batched A, 1-D B */
    check_matmul(AIS_DTYPE_F32, AIS_SHAPE(0, 3, 4), AIS_SHAPE(4, 2));    /* empty batch */
    check_matmul(AIS_DTYPE_F32, AIS_SHAPE(3, 0), AIS_SHAPE(0, 2));       /* K = 0: zeros */
    check_matmul(AIS_DTYPE_F32, AIS_SHAPE(2, 0, 4), AIS_SHAPE(2, 4, 3)); /* M = 0 */
    check_matmul(AIS_DTYPE_F32, AIS_SHAPE(65, 130), AIS_SHAPE(130, 33)); /* BLAS-sized */
}

static void test_matmul_parallel(void **state) {
    (void)state;
    AIS_ASSERT_OK(ais_set_num_threads(3));
    check_matmul(AIS_DTYPE_F32, AIS_SHAPE(2, 8, 5, 7), AIS_SHAPE(2, 8, 7, 3)); /* attention-like */
    check_matmul(AIS_DTYPE_F64, AIS_SHAPE(16, 3, 7), AIS_SHAPE(16, 7, 2));
    check_matmul(AIS_DTYPE_I32, AIS_SHAPE(9, 2, 3), AIS_SHAPE(9, 3, 4));
    AIS_ASSERT_OK(ais_set_num_threads(1));
}

static void test_matmul_dtypes(void **state) {
    (void)state;
    const ais_dtype dts[] = {AIS_DTYPE_F64, AIS_DTYPE_F16, AIS_DTYPE_BF16, AIS_DTYPE_I32,
                             AIS_DTYPE_I64, AIS_DTYPE_U32, AIS_DTYPE_U64};
    for (size_t i = 0; i < sizeof dts / sizeof dts[0]; i++) {
        if (dts[i] == AIS_DTYPE_U32 || dts[i] == AIS_DTYPE_U64) continue; /* covered below */
        check_matmul(dts[i], AIS_SHAPE(2, 1, 3, 4), AIS_SHAPE(5, 4, 6));
        check_matmul(dts[i], AIS_SHAPE(4), AIS_SHAPE(3, 4, 2));
    }
    /* unsigned: nonnegative values */
    double a[6] = {1, 2, 3, 4, 5, 6}, b[6] = {7, 8, 9, 10, 11, 12};
    ais_tensor *ta = dt_tensor(AIS_DTYPE_U64, AIS_SHAPE(2, 3), a);
    ais_tensor *tb = dt_tensor(AIS_DTYPE_U64, AIS_SHAPE(3, 2), b);
    const ais_tensor *in[] = {ta, tb};
    ais_tensor *y = dt_run("MatMul", NULL, in, 2);
    const double want[4] = {1 * 7 + 2 * 9 + 3 * 11, 1 * 8 + 2 * 10 + 3 * 12, 4 * 7 + 5 * 9 + 6 * 11,
                            4 * 8 + 5 * 10 + 6 * 12};
    ais_test_assert_close_values(y, want, 4, 0, 0);
    ais_tensor_destroy(y);
    ais_tensor_destroy(ta);
    ais_tensor_destroy(tb);
}

static void test_matmul_errors(void **state) {
    (void)state;
    ais_tensor *a = ais_test_rand_f32(AIS_SHAPE(2, 3), -1, 1);
    ais_tensor *b = ais_test_rand_f32(AIS_SHAPE(4, 5), -1, 1);
    const ais_tensor *in[] = {a, b};
    dt_fails("MatMul", NULL, in, 2, AIS_E_SHAPE, "[2, 3]");
    ais_test_assert_error_contains("[4, 5]");
    ais_test_assert_error_contains("MatMul");
    ais_tensor *c = ais_test_rand_f32(AIS_SHAPE(3, 3, 4), -1, 1);
    ais_tensor *d = ais_test_rand_f32(AIS_SHAPE(2, 4, 2), -1, 1);
    const ais_tensor *in2[] = {c, d};
    dt_fails("MatMul", NULL, in2, 2, AIS_E_SHAPE, "broadcast");
    double v[12] = {0};
    ais_tensor *f = dt_tensor(AIS_DTYPE_F64, AIS_SHAPE(3, 4), v);
    const ais_tensor *in3[] = {a, f};
    dt_fails("MatMul", NULL, in3, 2, AIS_E_DTYPE, "f64");
    ais_tensor *bl = dt_tensor(AIS_DTYPE_BOOL, AIS_SHAPE(3, 4), v);
    const ais_tensor *in4[] = {bl, bl};
    dt_fails("MatMul", NULL, in4, 2, AIS_E_DTYPE, "bool");
    ais_tensor *s = dt_tensor(AIS_DTYPE_F32, NULL, 0, v);
    const ais_tensor *in5[] = {s, a};
    dt_fails("MatMul", NULL, in5, 2, AIS_E_SHAPE, "rank");
    ais_tensor *objs[] = {a, b, c, d, f, bl, s};
    for (size_t i = 0; i < 7; i++)
        ais_tensor_destroy(objs[i]);
}

/* An output slot that is also an input (y = a @ b written into a): K spans several k slices of
 * the GEMM, which reads A again after C's first partial sums are stored, so without the eager
 * entry's copy the result would be garbage. The slot gets exactly what a fresh output gets; a slot
 * of the wrong shape that aliases an input fails and is left as it was. */
static void test_matmul_output_aliases_input(void **state) {
    (void)state;
    ais_tensor *a = ais_test_rand_f32(AIS_SHAPE(96, 700), -1, 1);
    ais_tensor *b = ais_test_rand_f32(AIS_SHAPE(700, 700), -1, 1);
    const ais_tensor *in[] = {a, b};
    ais_tensor *want = dt_run("MatMul", NULL, in, 2);
    ais_tensor *out[] = {a};
    assert_int_equal(ais_op_run("MatMul", NULL, in, 2, out, 1), AIS_OK);
    assert_ptr_equal(out[0], a);
    assert_memory_equal(ais_tensor_data(a), ais_tensor_data(want), 96 * 700 * sizeof(float));

    float *b_before = malloc(700 * 700 * sizeof(float));
    memcpy(b_before, ais_tensor_data(b), 700 * 700 * sizeof(float));
    ais_tensor *out2[] = {b};
    assert_int_equal(ais_op_run("MatMul", NULL, in, 2, out2, 1), AIS_E_SHAPE);
    ais_test_assert_error_contains("[96, 700]");
    assert_memory_equal(ais_tensor_data(b), b_before, 700 * 700 * sizeof(float));
    free(b_before);
    ais_tensor_destroy(want);
    ais_tensor_destroy(a);
    ais_tensor_destroy(b);
}

/* ---- Gemm ---- */

static void check_gemm(ais_dtype dt, int64_t m, int64_t n, int64_t k, int ta, int tb, float alpha,
                       float beta, const int64_t *cs, size_t cn, bool with_c) {
    int64_t as[2] = {ta ? k : m, ta ? m : k}, bs[2] = {tb ? n : k, tb ? k : n};
    double *a = dt_rand(dt, (size_t)(m * k), -1, 1), *b = dt_rand(dt, (size_t)(k * n), -1, 1);
    size_t cnum = with_c ? dt_numel(cs, cn) : 0;
    double *c = dt_rand(dt, cnum, -1, 1);
    double *want = calloc((size_t)(m * n) + 1, sizeof(double));
    int64_t cm = cn == 2 ? cs[0] : 1, cc = cn >= 1 ? cs[cn - 1] : 1;
    for (int64_t i = 0; i < m; i++)
        for (int64_t j = 0; j < n; j++) {
            double s = 0;
            for (int64_t p = 0; p < k; p++)
                s += a[ta ? p * m + i : i * k + p] * b[tb ? j * k + p : p * n + j];
            double cv = with_c ? c[(cm == 1 ? 0 : i) * cc + (cc == 1 ? 0 : j)] : 0;
            want[i * n + j] = alpha * s + beta * cv;
        }
    ais_tensor *tA = dt_tensor(dt, as, 2, a), *tB = dt_tensor(dt, bs, 2, b);
    ais_tensor *tC = with_c ? dt_tensor(dt, cs, cn, c) : NULL;
    ais_attrs *at = dt_attrs();
    AIS_ASSERT_OK(ais_attrs_set_int(at, "transA", ta));
    AIS_ASSERT_OK(ais_attrs_set_int(at, "transB", tb));
    AIS_ASSERT_OK(ais_attrs_set_float(at, "alpha", alpha));
    AIS_ASSERT_OK(ais_attrs_set_float(at, "beta", beta));
    const ais_tensor *in[] = {tA, tB, tC};
    ais_tensor *y = dt_run("Gemm", at, in, with_c ? 3 : 2);
    assert_int_equal(ais_tensor_shape(y)[0], m);
    assert_int_equal(ais_tensor_shape(y)[1], n);
    ais_test_assert_close_values(y, want, (size_t)(m * n), dt_rtol(dt),
                                 ais__dtype_is_int(dt) ? 0 : dt_rtol(dt) * (double)(k + 2));
    ais_tensor_destroy(y);
    ais_tensor_destroy(tA);
    ais_tensor_destroy(tB);
    ais_tensor_destroy(tC);
    ais_attrs_destroy(at);
    free(a);
    free(b);
    free(c);
    free(want);
}

static void test_gemm(void **state) {
    (void)state;
    const int64_t M = 5, N = 7, K = 3;
    for (int ta = 0; ta < 2; ta++)
        for (int tb = 0; tb < 2; tb++) {
            check_gemm(AIS_DTYPE_F32, M, N, K, ta, tb, 0.5f, 2.0f, AIS_SHAPE(M, N), true);
            check_gemm(AIS_DTYPE_F32, M, N, K, ta, tb, 1.0f, 1.0f, NULL, 0, false);
        }
    check_gemm(AIS_DTYPE_F32, M, N, K, 1, 0, 1.5f, -1.0f, AIS_SHAPE(N), true);
    check_gemm(AIS_DTYPE_F32, M, N, K, 0, 1, 1.0f, 0.25f, AIS_SHAPE(1, N), true);
    check_gemm(AIS_DTYPE_F32, M, N, K, 0, 0, 1.0f, 3.0f, AIS_SHAPE(M, 1), true);
    check_gemm(AIS_DTYPE_F32, M, N, K, 0, 0, 1.0f, 3.0f, NULL, 0, true); /* scalar C */
    check_gemm(AIS_DTYPE_F32, M, N, K, 0, 0, 1.0f, 3.0f, AIS_SHAPE(1), true);
    check_gemm(AIS_DTYPE_F32, M, N, 0, 0, 0, 1.0f, 1.0f, AIS_SHAPE(N), true); /* K = 0 */
    check_gemm(AIS_DTYPE_F32, 0, N, K, 0, 0, 1.0f, 1.0f, AIS_SHAPE(N), true); /* M = 0 */
    const ais_dtype dts[] = {AIS_DTYPE_F64, AIS_DTYPE_F16, AIS_DTYPE_BF16};
    for (size_t i = 0; i < 3; i++) {
        check_gemm(dts[i], M, N, K, 1, 1, 0.5f, 2.0f, AIS_SHAPE(N), true);
        check_gemm(dts[i], M, N, K, 0, 0, 1.0f, 1.0f, NULL, 0, false);
    }
    check_gemm(AIS_DTYPE_I32, M, N, K, 1, 0, 1.0f, 1.0f, AIS_SHAPE(M, 1), true);
    check_gemm(AIS_DTYPE_I64, M, N, K, 0, 1, 2.0f, 3.0f, AIS_SHAPE(N), true);
}

static void test_gemm_errors(void **state) {
    (void)state;
    ais_tensor *a = ais_test_rand_f32(AIS_SHAPE(2, 3), -1, 1);
    ais_tensor *b = ais_test_rand_f32(AIS_SHAPE(4, 5), -1, 1);
    ais_tensor *b2 = ais_test_rand_f32(AIS_SHAPE(3, 5), -1, 1);
    ais_tensor *c = ais_test_rand_f32(AIS_SHAPE(3, 5), -1, 1);
    ais_tensor *v = ais_test_rand_f32(AIS_SHAPE(3), -1, 1);
    const ais_tensor *in[] = {a, b};
    dt_fails("Gemm", NULL, in, 2, AIS_E_SHAPE, "[2, 3]");
    ais_test_assert_error_contains("[4, 5]");
    const ais_tensor *in2[] = {a, b2, c};
    dt_fails("Gemm", NULL, in2, 3, AIS_E_SHAPE, "C [3, 5]");
    const ais_tensor *in3[] = {v, b2};
    dt_fails("Gemm", NULL, in3, 2, AIS_E_SHAPE, "rank 2");
    ais_tensor *objs[] = {a, b, b2, c, v};
    for (size_t i = 0; i < 5; i++)
        ais_tensor_destroy(objs[i]);
}

/* ---- allocation failures ---- */

typedef struct {
    const char *op;
    ais_tensor *in[3];
    size_t n_in;
    ais_tensor *out;
} sweep_ctx;

static ais_status sweep_run(void *p) {
    sweep_ctx *s = p;
    return ais_op_run(s->op, NULL, (const ais_tensor *const *)s->in, s->n_in, &s->out, 1);
}
static void test_oom(void **state) {
    (void)state;
    sweep_ctx s = {.op = "MatMul", .n_in = 2};
    s.in[0] = ais_test_rand_f32(AIS_SHAPE(2, 3, 4), -1, 1);
    s.in[1] = ais_test_rand_f32(AIS_SHAPE(2, 4, 5), -1, 1);
    AIS_TEST_OOM_SWEEP("MatMul f32", sweep_run, &s, 20, AIS_OWN_TENSOR(&s.out));
    ais_tensor_destroy(s.in[0]);
    ais_tensor_destroy(s.in[1]);
    double v[24];
    for (int i = 0; i < 24; i++)
        v[i] = i * 0.1;
    s.in[0] = dt_tensor(AIS_DTYPE_F16, AIS_SHAPE(2, 3, 4), v);
    s.in[1] = dt_tensor(AIS_DTYPE_F16, AIS_SHAPE(4, 5), v);
    assert_true(AIS_TEST_OOM_SWEEP("MatMul f16", sweep_run, &s, 20, AIS_OWN_TENSOR(&s.out)) >= 2);
    s.op = "Gemm";
    ais_tensor_destroy(s.in[0]);
    s.in[0] = dt_tensor(AIS_DTYPE_F16, AIS_SHAPE(3, 4), v);
    AIS_TEST_OOM_SWEEP("Gemm f16", sweep_run, &s, 20, AIS_OWN_TENSOR(&s.out));
    ais_tensor_destroy(s.in[0]);
    ais_tensor_destroy(s.in[1]);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_matmul_shapes),
        cmocka_unit_test(test_matmul_parallel),
        cmocka_unit_test(test_matmul_dtypes),
        cmocka_unit_test(test_matmul_errors),
        cmocka_unit_test(test_matmul_output_aliases_input),
        cmocka_unit_test(test_gemm),
        cmocka_unit_test(test_gemm_errors),
        cmocka_unit_test(test_oom),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
