/* test_ops_loss.c - NegativeLogLikelihoodLoss and SoftmaxCrossEntropyLoss vs naive loops. */
#include <math.h>
#include <string.h>

#include "ops/op.h"
#include "tensor/tensor.h"
#include "test_util.h"

static double at(const ais_tensor *t, size_t i) { return ais__load_f64(t->data, t->dtype, i); }

static const char *const reductions[] = {"none", "sum", "mean"};

/* One random case: x [N, C, D1, D2] (D2 may be absent), random targets with some set to the
 * ignore index, optional weights. */
static void run_case(bool sce, int red, bool weighted, bool ignore) {
    int64_t n = ais_test_randint(1, 3), c = ais_test_randint(2, 5), d = ais_test_randint(1, 4);
    ais_tensor *x = ais_test_rand_f32(AIS_SHAPE(n, c, d, 2), -3, 3);
    double tv[24], wv[5];
    const int64_t ii = -5;
    for (int64_t i = 0; i < n * d * 2; i++)
        tv[i] =
            ignore && ais_test_randint(0, 3) == 0 ? (double)ii : (double)ais_test_randint(0, c - 1);
    tv[0] = 0; /* never all ignored (the mean would divide by zero) */
    for (int64_t k = 0; k < c; k++)
        wv[k] = ais_test_uniform(0.1, 2);
    ais_tensor *t = ais_test_tensor(AIS_DTYPE_I64, AIS_SHAPE(n, d, 2), tv);
    ais_tensor *w = ais_test_tensor(AIS_DTYPE_F32, AIS_SHAPE(c), wv);
    ais_attrs *a = NULL;
    AIS_ASSERT_OK(ais_attrs_create(&a));
    AIS_ASSERT_OK(ais_attrs_set_string(a, "reduction", reductions[red]));
    if (ignore) AIS_ASSERT_OK(ais_attrs_set_int(a, "ignore_index", ii));
    const ais_tensor *in[] = {x, t, weighted ? w : NULL};
    ais_tensor *out[2] = {NULL, NULL};
    size_t n_out = sce ? 2 : 1;
    AIS_ASSERT_OK(ais_op_run(sce ? "SoftmaxCrossEntropyLoss" : "NegativeLogLikelihoodLoss", a, in,
                             weighted ? 3 : 2, out, n_out));
    size_t m = (size_t)(d * 2);
    double sum = 0, wsum = 0;
    for (size_t i = 0; i < (size_t)n; i++)
        for (size_t j = 0; j < m; j++) {
            size_t b = i * (size_t)c * m + j;
            double mx = -INFINITY, se = 0;
            for (size_t k = 0; k < (size_t)c; k++)
                mx = fmax(mx, at(x, b + k * m));
            for (size_t k = 0; k < (size_t)c; k++)
                se += exp(at(x, b + k * m) - mx);
            if (sce)
                for (size_t k = 0; k < (size_t)c; k++)
                    assert_true(fabs(at(out[1], b + k * m) - (at(x, b + k * m) - mx - log(se))) <
                                1e-5);
            int64_t cls = (int64_t)tv[i * m + j];
            double l = 0, wt = 0;
            if (!(ignore && cls == ii)) {
                double v = at(x, b + (size_t)cls * m);
                double lp = sce ? v - mx - log(se) : v;
                wt = weighted ? (double)(float)wv[cls] : 1;
                l = -lp * wt;
            }
            if (red == 0) assert_true(fabs(at(out[0], i * m + j) - l) < 1e-5);
            sum += l;
            wsum += wt;
        }
    if (red == 0) {
        assert_int_equal(ais_tensor_ndim(out[0]), 3);
    } else {
        assert_int_equal(ais_tensor_ndim(out[0]), 0);
        double want = red == 1 ? sum : sum / wsum;
        if (fabs(at(out[0], 0) - want) > 1e-4 * (1 + fabs(want)))
            fail_msg("%s %s: got %g want %g", sce ? "sce" : "nll", reductions[red], at(out[0], 0),
                     want);
    }
    ais_tensor_destroy(out[0]);
    ais_tensor_destroy(out[1]);
    ais_tensor_destroy(x);
    ais_tensor_destroy(t);
    ais_tensor_destroy(w);
    ais_attrs_destroy(a);
}

static void test_loss_random(void **state) {
    (void)state;
    for (int sce = 0; sce < 2; sce++)
        for (int red = 0; red < 3; red++)
            for (int flags = 0; flags < 4; flags++)
                run_case(sce, red, flags & 1, flags & 2);
}

static void test_loss_errors(void **state) {
    (void)state;
    ais_tensor *x = ais_test_rand_f32(AIS_SHAPE(2, 3, 4), -1, 1);
    double tv[8] = {0, 1, 2, 0, 1, 2, 0, 1};
    ais_tensor *t = ais_test_tensor(AIS_DTYPE_I64, AIS_SHAPE(2, 4), tv);
    ais_tensor *tbad = ais_test_tensor(AIS_DTYPE_I64, AIS_SHAPE(2, 3), tv);
    ais_tensor *tf = ais_test_tensor(AIS_DTYPE_F32, AIS_SHAPE(2, 4), tv);
    tv[5] = 7;
    ais_tensor *trange = ais_test_tensor(AIS_DTYPE_I32, AIS_SHAPE(2, 4), tv);
    ais_tensor *w = ais_test_rand_f32(AIS_SHAPE(4), 0, 1);
    ais_tensor *y = NULL;
    const char *op = "NegativeLogLikelihoodLoss";
    AIS_ASSERT_STATUS(ais_op_run(op, NULL, (const ais_tensor *[]){x, tbad}, 2, &y, 1), AIS_E_SHAPE);
    ais_test_assert_error_contains("does not match input");
    AIS_ASSERT_STATUS(ais_op_run(op, NULL, (const ais_tensor *[]){x, tf}, 2, &y, 1), AIS_E_DTYPE);
    ais_test_assert_error_contains("target has dtype f32");
    AIS_ASSERT_STATUS(ais_op_run(op, NULL, (const ais_tensor *[]){x, t, w}, 3, &y, 1), AIS_E_SHAPE);
    ais_test_assert_error_contains("weight must have shape [3]");
    AIS_ASSERT_STATUS(ais_op_run(op, NULL, (const ais_tensor *[]){x, trange}, 2, &y, 1),
                      AIS_E_INVALID_ARGUMENT);
    ais_test_assert_error_contains("target 7");
    ais_attrs *a = NULL;
    AIS_ASSERT_OK(ais_attrs_create(&a));
    AIS_ASSERT_OK(ais_attrs_set_string(a, "reduction", "max"));
    AIS_ASSERT_STATUS(
        ais_op_run("SoftmaxCrossEntropyLoss", a, (const ais_tensor *[]){x, t}, 2, &y, 1),
        AIS_E_INVALID_ARGUMENT);
    ais_test_assert_error_contains("reduction 'max'");
    assert_null(y);
    /* empty batch with reduction none: an empty loss */
    ais_tensor *e = ais_test_rand_f32(AIS_SHAPE(0, 3), -1, 1);
    ais_tensor *te = ais_test_tensor(AIS_DTYPE_I64, AIS_SHAPE(0), tv);
    AIS_ASSERT_OK(ais_attrs_set_string(a, "reduction", "none"));
    AIS_ASSERT_OK(
        ais_op_run("SoftmaxCrossEntropyLoss", a, (const ais_tensor *[]){e, te}, 2, &y, 1));
    assert_int_equal(ais_tensor_size(y), 0);
    ais_tensor_destroy(y);
    ais_tensor_destroy(e);
    ais_tensor_destroy(te);
    ais_tensor_destroy(x);
    ais_tensor_destroy(t);
    ais_tensor_destroy(tbad);
    ais_tensor_destroy(tf);
    ais_tensor_destroy(trange);
    ais_tensor_destroy(w);
    ais_attrs_destroy(a);
}

typedef struct {
    ais_tensor *x, *t, *y;
} sweep_ctx;

static ais_status sweep_run(void *p) {
    sweep_ctx *c = p;
    const ais_tensor *in[] = {c->x, c->t};
    return ais_op_run("SoftmaxCrossEntropyLoss", NULL, in, 2, &c->y, 1);
}
static void test_loss_oom(void **state) {
    (void)state;
    sweep_ctx c = {0};
    c.x = ais_test_rand_f32(AIS_SHAPE(3, 4), -1, 1);
    c.t = ais_test_tensor(AIS_DTYPE_I64, AIS_SHAPE(3), (double[]){0, 3, 1});
    assert_true(AIS_TEST_OOM_SWEEP("SoftmaxCrossEntropyLoss", sweep_run, &c, 20,
                                   AIS_OWN_TENSOR(&c.y)) >= 1);
    ais_tensor_destroy(c.x);
    ais_tensor_destroy(c.t);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_loss_random),
        cmocka_unit_test(test_loss_errors),
        cmocka_unit_test(test_loss_oom),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
