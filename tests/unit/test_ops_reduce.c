/* test_ops_reduce.c - Reduce* and ArgMax/ArgMin against naive loops over random tensors. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "ops/op.h"
#include "tensor/tensor.h"
#include "test_util.h"

static const char *const kinds[] = {
    "ReduceSum", "ReduceMean", "ReduceMax",    "ReduceMin",       "ReduceProd",
    "ReduceL1",  "ReduceL2",   "ReduceLogSum", "ReduceLogSumExp", "ReduceSumSquare"};

/* Naive reference: y (output numel) from x, reduced on mask, in double. */
static void ref_reduce(int kind, const ais_tensor *x, const bool *mask, double *y, size_t ny) {
    size_t r = ais_tensor_ndim(x);
    const int64_t *d = ais_tensor_shape(x);
    double *cnt = calloc(ny + 1, sizeof *cnt), *mx = calloc(ny + 1, sizeof *mx);
    for (size_t i = 0; i < ny; i++) {
        y[i] = kind == 4 ? 1 : kind == 2 ? -INFINITY : kind == 3 ? INFINITY : 0;
        mx[i] = -INFINITY;
    }
    for (int pass = 0; pass < 2; pass++) {
        size_t idx[8] = {0};
        for (size_t e = 0; e < ais_tensor_size(x); e++) {
            size_t o = 0;
            for (size_t a = 0; a < r; a++)
                if (!mask[a]) o = o * (size_t)d[a] + idx[a];
            double v = ais__load_f64(ais_tensor_data(x), ais_tensor_dtype(x), e);
            if (pass == 0) {
                cnt[o] += 1;
                mx[o] = fmax(mx[o], v);
                switch (kind) {
                case 0:
                case 1:
                case 7: y[o] += v; break;
                case 2: y[o] = fmax(y[o], v); break;
                case 3: y[o] = fmin(y[o], v); break;
                case 4: y[o] *= v; break;
                case 5: y[o] += fabs(v); break;
                case 6:
                case 9: y[o] += v * v; break;
                default: break;
                }
            } else if (kind == 8) {
                y[o] += exp(v - mx[o]);
            }
            for (size_t a = r; a-- > 0;) {
                if (++idx[a] < (size_t)d[a]) break;
                idx[a] = 0;
            }
        }
    }
    for (size_t i = 0; i < ny; i++) {
        if (kind == 1) y[i] /= cnt[i];
        if (kind == 6) y[i] = sqrt(y[i]);
        if (kind == 7) y[i] = log(y[i]);
        if (kind == 8) y[i] = cnt[i] ? mx[i] + log(y[i]) : -INFINITY;
    }
    free(cnt);
    free(mx);
}

/* Like ais_test_tensor, for every dtype (f16/bf16 too) through the library's conversions. */
static ais_tensor *mk(ais_dtype dt, const int64_t *shape, size_t ndim, const double *v) {
    ais_tensor *t = NULL;
    AIS_ASSERT_OK(ais_tensor_create(dt, shape, ndim, &t));
    for (size_t i = 0; i < ais_tensor_size(t); i++)
        ais__store_f64(ais_tensor_data(t), dt, i, v[i]);
    return t;
}

static ais_tensor *i64_tensor(const int64_t *v, size_t n) {
    ais_tensor *t = NULL;
    int64_t shape[1] = {(int64_t)n};
    AIS_ASSERT_OK(ais_tensor_create(AIS_DTYPE_I64, shape, 1, &t));
    if (n) memcpy(ais_tensor_data(t), v, n * sizeof *v);
    return t;
}

/* Runs a reduction with the axes given either as attribute (old opset) or input (new). */
static ais_status run_reduce(const char *op, const ais_tensor *x, const int64_t *axes, size_t na,
                             int keep, bool input_form, int noop, ais_tensor **y) {
    ais_attrs *at = NULL;
    AIS_ASSERT_OK(ais_attrs_create(&at));
    if (keep >= 0) AIS_ASSERT_OK(ais_attrs_set_int(at, "keepdims", keep));
    if (noop >= 0) AIS_ASSERT_OK(ais_attrs_set_int(at, "noop_with_empty_axes", noop));
    bool sum = strcmp(op, "ReduceSum") == 0;
    int64_t opset = input_form ? (sum ? 13 : 18) : (sum ? 11 : 13);
    ais_tensor *ax = NULL;
    const ais_tensor *in[2] = {x, NULL};
    if (input_form && axes) {
        ax = i64_tensor(axes, na);
        in[1] = ax;
    } else if (axes && na) {
        AIS_ASSERT_OK(ais_attrs_set_ints(at, "axes", axes, na));
    }
    ais_status st = ais_op_run_opset("", op, opset, at, in, in[1] ? 2 : 1, y, 1);
    ais_tensor_destroy(ax);
    ais_attrs_destroy(at);
    return st;
}

static void check_random(ais_dtype dt, double rtol, double atol) {
    for (int iter = 0; iter < 120; iter++) {
        int kind = iter % 10;
        size_t r = (size_t)ais_test_randint(0, 4);
        int64_t dims[8];
        for (size_t i = 0; i < r; i++)
            dims[i] = ais_test_randint(1, 5) + (iter % 17 == 3 ? 6 : 0);
        bool mask[8] = {false};
        int64_t axes[8];
        size_t na = 0;
        for (size_t i = 0; i < r; i++)
            if (ais_test_randint(0, 1)) {
                mask[i] = true;
                axes[na++] = ais_test_randint(0, 1) ? (int64_t)i : (int64_t)i - (int64_t)r;
            }
        if (na == 0)
            for (size_t i = 0; i < r; i++)
                mask[i] = true;
        size_t n = 1;
        for (size_t i = 0; i < r; i++)
            n *= (size_t)dims[i];
        double *vals = malloc((n + 1) * sizeof *vals);
        for (size_t i = 0; i < n; i++)
            vals[i] = kind == 4   ? ais_test_uniform(0.5, 1.5)
                      : kind == 7 ? ais_test_uniform(0.1, 2)
                                  : ais_test_uniform(-2, 2);
        ais_tensor *x = mk(dt, dims, r, vals);
        int keep = (int)ais_test_randint(0, 1);
        bool input_form = iter % 2 == 0;
        ais_tensor *y = NULL;
        AIS_ASSERT_OK(run_reduce(kinds[kind], x, na ? axes : NULL, na, keep, input_form, -1, &y));
        size_t ny = ais_tensor_size(y);
        double *want = malloc((ny + 1) * sizeof *want);
        ref_reduce(kind, x, mask, want, ny);
        size_t k = 0;
        for (size_t i = 0; i < r; i++)
            if (!mask[i] || keep) {
                assert_int_equal(ais_tensor_shape(y)[k], mask[i] ? 1 : dims[i]);
                k++;
            }
        assert_int_equal(ais_tensor_ndim(y), k);
        /* A float32 sum of many terms of both signs is only as exact as the sum of their
         * magnitudes allows (its rounding error scales with that, not with the result, which
         * cancellation can make small): widen atol by that bound for the sum-like kinds. */
        double tol_abs = atol;
        if (dt != AIS_DTYPE_F64 && kind != 2 && kind != 3 && kind != 4) {
            double *mag = malloc((ny + 1) * sizeof *mag);
            ref_reduce(5 /* ReduceL1 */, x, mask, mag, ny);
            for (size_t i = 0; i < ny; i++)
                tol_abs = fmax(tol_abs, 4e-7 * fabs(mag[i]));
            free(mag);
        }
        ais_test_assert_close_values(y, want, ny, rtol, tol_abs);
        free(vals);
        free(want);
        ais_tensor_destroy(x);
        ais_tensor_destroy(y);
    }
}

static void test_reduce_f32(void **s) {
    (void)s;
    check_random(AIS_DTYPE_F32, 1e-5, 1e-5);
}
static void test_reduce_f64(void **s) {
    (void)s;
    check_random(AIS_DTYPE_F64, 1e-12, 1e-12);
}
static void test_reduce_f16(void **s) {
    (void)s;
    check_random(AIS_DTYPE_F16, 2e-2, 2e-2);
}

static void test_reduce_ints(void **s) {
    (void)s;
    int64_t dims[3] = {3, 4, 5};
    double v[60];
    for (int i = 0; i < 60; i++)
        v[i] = (double)ais_test_randint(-9, 9);
    ais_dtype dts[3] = {AIS_DTYPE_I32, AIS_DTYPE_I64, AIS_DTYPE_I8};
    for (int t = 0; t < 3; t++) {
        ais_tensor *x = ais_test_tensor(dts[t], dims, 3, v);
        int ks[5] = {0, 2, 3, 5, 9}; /* exact integer reductions */
        for (int j = 0; j < 5; j++) {
            int64_t axes[2] = {0, -1};
            bool mask[3] = {true, false, true};
            ais_tensor *y = NULL;
            AIS_ASSERT_OK(run_reduce(kinds[ks[j]], x, axes, 2, 0, true, -1, &y));
            assert_int_equal(ais_tensor_dtype(y), dts[t]);
            double want[4];
            ref_reduce(ks[j], x, mask, want, 4);
            if (dts[t] == AIS_DTYPE_I8)
                for (int i = 0; i < 4; i++)
                    want[i] = (double)(int8_t)(int64_t)want[i];
            ais_test_assert_close_values(y, want, 4, 0, 0);
            ais_tensor_destroy(y);
        }
        /* mean truncates toward zero like the reference's cast */
        ais_tensor *y = NULL;
        int64_t ax1[1] = {1};
        AIS_ASSERT_OK(run_reduce("ReduceMean", x, ax1, 1, 1, true, -1, &y));
        bool m1[3] = {false, true, false};
        double want[15];
        ref_reduce(1, x, m1, want, 15);
        for (int i = 0; i < 15; i++)
            want[i] = trunc(want[i]);
        ais_test_assert_close_values(y, want, 15, 0, 0);
        ais_tensor_destroy(y);
        ais_tensor_destroy(x);
    }
}

static void test_reduce_empty_and_noop(void **s) {
    (void)s;
    ais_tensor *x = ais_test_rand_f32(AIS_SHAPE(2, 0, 3), -1, 1), *y = NULL;
    int64_t ax[1] = {1};
    AIS_ASSERT_OK(run_reduce("ReduceMax", x, ax, 1, 1, true, -1, &y));
    assert_int_equal(ais_tensor_size(y), 6);
    for (int i = 0; i < 6; i++)
        assert_true(isinf(((float *)ais_tensor_data(y))[i]) &&
                    ((float *)ais_tensor_data(y))[i] < 0);
    ais_tensor_destroy(y);
    y = NULL;
    AIS_ASSERT_OK(run_reduce("ReduceSum", x, ax, 1, 0, true, -1, &y));
    assert_int_equal(ais_tensor_ndim(y), 2);
    for (int i = 0; i < 6; i++)
        assert_true(((float *)ais_tensor_data(y))[i] == 0.0f);
    ais_tensor_destroy(y);
    y = NULL;
    AIS_ASSERT_OK(run_reduce("ReduceProd", x, ax, 1, 0, true, -1, &y));
    for (int i = 0; i < 6; i++)
        assert_true(((float *)ais_tensor_data(y))[i] == 1.0f);
    ais_tensor_destroy(y);
    y = NULL;
    /* reducing the non-empty axis of an empty tensor gives an empty result */
    int64_t ax2[1] = {2};
    AIS_ASSERT_OK(run_reduce("ReduceMin", x, ax2, 1, 1, true, -1, &y));
    assert_int_equal(ais_tensor_size(y), 0);
    ais_tensor_destroy(y);
    ais_tensor_destroy(x);

    double v[1] = {0};
    ais_tensor *xi = ais_test_tensor(AIS_DTYPE_I32, AIS_SHAPE(0, 2), v);
    int64_t ax0[1] = {0};
    y = NULL;
    AIS_ASSERT_OK(run_reduce("ReduceMax", xi, ax0, 1, 0, true, -1, &y));
    assert_int_equal(((int32_t *)ais_tensor_data(y))[0], INT32_MIN);
    ais_tensor_destroy(y);
    ais_tensor_destroy(xi);

    /* noop_with_empty_axes: empty axes input returns the input unchanged */
    x = ais_test_rand_f32(AIS_SHAPE(3, 4), -1, 1);
    y = NULL;
    AIS_ASSERT_OK(run_reduce("ReduceSum", x, ax, 0, 1, true, 1, &y));
    ais_test_assert_close(y, x, 0, 0);
    ais_tensor_destroy(y);
    y = NULL;
    AIS_ASSERT_OK(run_reduce("ReduceSum", x, ax, 0, 1, true, 0, &y));
    assert_int_equal(ais_tensor_size(y), 1);
    ais_tensor_destroy(y);
    ais_tensor_destroy(x);
}

static void test_reduce_big_parallel(void **s) {
    (void)s;
    ais_set_num_threads(2);
    int64_t shapes[3][3] = {{3, 30001, 1}, {1, 70001, 1}, {5, 301, 67}};
    for (int t = 0; t < 3; t++) {
        ais_tensor *x = ais_test_rand_f32(shapes[t], 3, -1, 1);
        for (int ax = 0; ax < 3; ax++) {
            int64_t axes[1] = {ax};
            bool mask[3] = {false};
            mask[ax] = true;
            ais_tensor *y = NULL;
            AIS_ASSERT_OK(run_reduce("ReduceSum", x, axes, 1, 1, true, -1, &y));
            size_t ny = ais_tensor_size(y);
            double *want = malloc(ny * sizeof *want);
            ref_reduce(0, x, mask, want, ny);
            ais_test_assert_close_values(y, want, ny, 1e-4, 1e-3);
            free(want);
            ais_tensor_destroy(y);
        }
        ais_tensor_destroy(x);
    }
}

static void ref_arg(const ais_tensor *x, size_t axis, bool is_max, bool last, int64_t *out) {
    const int64_t *d = ais_tensor_shape(x);
    size_t outer = 1, inner = 1, r = (size_t)d[axis];
    for (size_t i = 0; i < axis; i++)
        outer *= (size_t)d[i];
    for (size_t i = axis + 1; i < ais_tensor_ndim(x); i++)
        inner *= (size_t)d[i];
    for (size_t o = 0; o < outer; o++)
        for (size_t i = 0; i < inner; i++) {
            size_t best = 0;
            double bv = 0;
            for (size_t j = 0; j < r; j++) {
                double v =
                    ais__load_f64(ais_tensor_data(x), ais_tensor_dtype(x), (o * r + j) * inner + i);
                if (j == 0 || (is_max ? v > bv : v < bv) || (last && v == bv)) best = j, bv = v;
            }
            out[o * inner + i] = (int64_t)best;
        }
}

static void test_argmax_argmin(void **s) {
    (void)s;
    for (int iter = 0; iter < 40; iter++) {
        size_t r = (size_t)ais_test_randint(1, 4);
        int64_t dims[4];
        size_t n = 1;
        for (size_t i = 0; i < r; i++)
            n *= (size_t)(dims[i] = ais_test_randint(1, 5));
        double *v = malloc(n * sizeof *v);
        for (size_t i = 0; i < n; i++)
            v[i] = (double)ais_test_randint(-3, 3); /* many ties */
        ais_dtype dt = iter % 2 ? AIS_DTYPE_F32 : AIS_DTYPE_I64;
        ais_tensor *x = ais_test_tensor(dt, dims, r, v);
        size_t axis = (size_t)ais_test_randint(0, (int64_t)r - 1);
        bool last = iter % 3 == 0, is_max = iter % 4 < 2;
        int keep = iter % 5 != 0;
        ais_attrs *at = NULL;
        AIS_ASSERT_OK(ais_attrs_create(&at));
        AIS_ASSERT_OK(ais_attrs_set_int(at, "axis", (int64_t)axis - (iter % 2 ? (int64_t)r : 0)));
        AIS_ASSERT_OK(ais_attrs_set_int(at, "keepdims", keep));
        AIS_ASSERT_OK(ais_attrs_set_int(at, "select_last_index", last));
        ais_tensor *y = NULL;
        const ais_tensor *in[1] = {x};
        AIS_ASSERT_OK(ais_op_run(is_max ? "ArgMax" : "ArgMin", at, in, 1, &y, 1));
        assert_int_equal(ais_tensor_dtype(y), AIS_DTYPE_I64);
        assert_int_equal(ais_tensor_ndim(y), keep ? r : r - 1);
        int64_t *want = malloc(n * sizeof *want);
        ref_arg(x, axis, is_max, last, want);
        for (size_t i = 0; i < ais_tensor_size(y); i++)
            assert_int_equal(((int64_t *)ais_tensor_data(y))[i], want[i]);
        free(v);
        free(want);
        ais_tensor_destroy(x);
        ais_tensor_destroy(y);
        ais_attrs_destroy(at);
    }
}

/* A graph node reads axis, keepdims and select_last_index once, when it is prepared at load:
 * two runs of one session give the reference both times, and an attribute of the wrong type
 * fails the load, naming the attribute and the node. */
static void test_arg_prepared_attrs(void **s) {
    (void)s;
    double v[24];
    for (size_t i = 0; i < 24; i++)
        v[i] = (double)ais_test_randint(-2, 2); /* ties, which select_last_index decides */
    ais_tensor *x = ais_test_tensor(AIS_DTYPE_F32, AIS_SHAPE(2, 3, 4), v);
    for (int is_max = 0; is_max < 2; is_max++) {
        const char *op = is_max ? "ArgMax" : "ArgMin";
        ais_attrs *a = NULL;
        AIS_ASSERT_OK(ais_attrs_create(&a));
        AIS_ASSERT_OK(ais_attrs_set_int(a, "axis", -2));
        AIS_ASSERT_OK(ais_attrs_set_int(a, "keepdims", 0));
        AIS_ASSERT_OK(ais_attrs_set_int(a, "select_last_index", 1));
        ais_model *m = NULL;
        AIS_ASSERT_OK(ais_test_op_model(op, 13, a, AIS_DTYPE_F32, AIS_SHAPE(2, 3, 4), &m));
        ais_tensor *y = ais_test_run_xy_twice(m, x);
        assert_int_equal(ais_tensor_ndim(y), 2);
        assert_int_equal(ais_tensor_shape(y)[0], 2);
        assert_int_equal(ais_tensor_shape(y)[1], 4);
        int64_t want[8];
        ref_arg(x, 1, is_max, true, want);
        assert_memory_equal(ais_tensor_data(y), want, sizeof want);
        ais_tensor_destroy(y);
        ais_model_destroy(m);

        AIS_ASSERT_OK(ais_attrs_create(&a));
        AIS_ASSERT_OK(ais_attrs_set_string(a, "keepdims", "no"));
        AIS_ASSERT_STATUS(ais_test_op_model(op, 13, a, AIS_DTYPE_F32, AIS_SHAPE(2, 3, 4), &m),
                          AIS_E_INVALID_ARGUMENT);
        assert_null(m);
        ais_test_assert_error_contains("attribute 'keepdims' is STRING, expected INT");
        ais_test_assert_error_contains(op);
    }
    ais_tensor_destroy(x);
}

static void test_reduce_errors(void **s) {
    (void)s;
    ais_tensor *x = ais_test_rand_f32(AIS_SHAPE(2, 3), -1, 1), *y = NULL;
    int64_t bad[1] = {2};
    AIS_ASSERT_STATUS(run_reduce("ReduceSum", x, bad, 1, 1, true, -1, &y), AIS_E_INVALID_ARGUMENT);
    ais_test_assert_error_contains("ReduceSum");
    ais_test_assert_error_contains("axes value 2 is out of range for rank 2");
    assert_null(y);
    int64_t dup[2] = {1, -1};
    AIS_ASSERT_STATUS(run_reduce("ReduceMean", x, dup, 2, 1, false, -1, &y),
                      AIS_E_INVALID_ARGUMENT);
    ais_test_assert_error_contains("twice");
    /* axes as an input before the opset that introduced it */
    ais_tensor *ax = i64_tensor(bad, 1);
    const ais_tensor *in[2] = {x, ax};
    AIS_ASSERT_STATUS(ais_op_run_opset("", "ReduceMax", 13, NULL, in, 2, &y, 1),
                      AIS_E_INVALID_ARGUMENT);
    AIS_ASSERT_STATUS(ais_op_run_opset("", "ReduceSum", 11, NULL, in, 2, &y, 1),
                      AIS_E_INVALID_ARGUMENT);
    ais_tensor_destroy(ax);
    double bv[2] = {1, 0};
    ais_tensor *b = ais_test_tensor(AIS_DTYPE_BOOL, AIS_SHAPE(2), bv);
    const ais_tensor *bin[1] = {b};
    AIS_ASSERT_STATUS(ais_op_run("ReduceSum", NULL, bin, 1, &y, 1), AIS_E_DTYPE);
    ais_test_assert_error_contains("bool");
    AIS_ASSERT_OK(ais_op_run("ReduceMax", NULL, bin, 1, &y, 1));
    assert_int_equal(((uint8_t *)ais_tensor_data(y))[0], 1);
    ais_tensor_destroy(y);
    y = NULL;
    ais_tensor_destroy(b);
    /* ArgMax over an empty axis has no answer */
    ais_tensor *e = ais_test_rand_f32(AIS_SHAPE(2, 0), -1, 1);
    ais_attrs *at = NULL;
    AIS_ASSERT_OK(ais_attrs_create(&at));
    AIS_ASSERT_OK(ais_attrs_set_int(at, "axis", 1));
    const ais_tensor *ein[1] = {e};
    AIS_ASSERT_STATUS(ais_op_run("ArgMax", at, ein, 1, &y, 1), AIS_E_SHAPE);
    ais_test_assert_error_contains("empty");
    AIS_ASSERT_OK(ais_attrs_set_int(at, "axis", 5));
    AIS_ASSERT_STATUS(ais_op_run("ArgMin", at, in, 1, &y, 1), AIS_E_INVALID_ARGUMENT);
    ais_test_assert_error_contains("axis 5");
    ais_attrs_destroy(at);
    ais_tensor_destroy(e);
    ais_tensor_destroy(x);
}

typedef struct {
    ais_tensor *x, *ax, *y, *z;
} sweep_t;

static ais_status sweep_fn(void *p) {
    sweep_t *s = p;
    const ais_tensor *in[2] = {s->x, s->ax};
    AIS__CHECK(ais_op_run("ReduceLogSumExp", NULL, in, 2, &s->y, 1));
    const ais_tensor *in2[1] = {s->x};
    return ais_op_run("ArgMax", NULL, in2, 1, &s->z, 1);
}

static void test_reduce_oom(void **st) {
    (void)st;
    sweep_t s = {0};
    double v[120];
    for (int i = 0; i < 120; i++)
        v[i] = ais_test_uniform(-1, 1);
    s.x = mk(AIS_DTYPE_F16, AIS_SHAPE(2, 3, 4, 5), v);
    int64_t axes[2] = {0, 2}; /* not contiguous: transposed through scratch */
    s.ax = i64_tensor(axes, 2);
    long n = AIS_TEST_OOM_SWEEP("ReduceLogSumExp/ArgMax", sweep_fn, &s, 50, AIS_OWN_TENSOR(&s.y),
                                AIS_OWN_TENSOR(&s.z));
    assert_true(n >= 2);
    ais_tensor_destroy(s.x);
    ais_tensor_destroy(s.ax);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_reduce_f32),
        cmocka_unit_test(test_reduce_f64),
        cmocka_unit_test(test_reduce_f16),
        cmocka_unit_test(test_reduce_ints),
        cmocka_unit_test(test_reduce_empty_and_noop),
        cmocka_unit_test(test_reduce_big_parallel),
        cmocka_unit_test(test_argmax_argmin),
        cmocka_unit_test(test_arg_prepared_attrs),
        cmocka_unit_test(test_reduce_errors),
        cmocka_unit_test(test_reduce_oom),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
