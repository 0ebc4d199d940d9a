/* test_ops_shape.c - Reshape, Flatten, Squeeze, Unsqueeze, Shape, Size, Expand, ConstantOfShape,
 * Range and EyeLike against naive references, both opset forms, and their errors. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "ops/op.h"
#include "tensor/tensor.h"
#include "test_util.h"

static ais_tensor *i64v(const int64_t *v, size_t n) {
    ais_tensor *t = NULL;
    int64_t shape[1] = {(int64_t)n};
    AIS_ASSERT_OK(ais_tensor_create(AIS_DTYPE_I64, shape, 1, &t));
    if (n) memcpy(ais_tensor_data(t), v, n * sizeof *v);
    return t;
}

static ais_tensor *scalar(ais_dtype dt, double v) {
    ais_tensor *t = NULL;
    AIS_ASSERT_OK(ais_tensor_create(dt, NULL, 0, &t));
    ais__store_f64(ais_tensor_data(t), dt, 0, v);
    return t;
}

static void assert_shape(const ais_tensor *t, const int64_t *d, size_t n) {
    assert_int_equal(ais_tensor_ndim(t), n);
    for (size_t i = 0; i < n; i++)
        assert_int_equal(ais_tensor_shape(t)[i], d[i]);
}

static void assert_same_bytes(const ais_tensor *a, const ais_tensor *b) {
    assert_int_equal(ais_tensor_nbytes(a), ais_tensor_nbytes(b));
    assert_memory_equal(ais_tensor_data(a), ais_tensor_data(b), ais_tensor_nbytes(a));
}

/* Runs op at opset with one int-list argument given as attribute `name` (attr_form) or as
 * input 1. */
static ais_status run_list(const char *op, int64_t opset, const ais_tensor *x, const char *name,
                           const int64_t *v, size_t n, bool attr_form, ais_attrs *extra,
                           ais_tensor **y) {
    ais_attrs *at = extra;
    if (!at) AIS_ASSERT_OK(ais_attrs_create(&at));
    ais_tensor *t = NULL;
    const ais_tensor *in[2] = {x, NULL};
    if (attr_form) {
        if (v) AIS_ASSERT_OK(ais_attrs_set_ints(at, name, v, n));
    } else if (v) {
        in[1] = t = i64v(v, n);
    }
    ais_status st = ais_op_run_opset("", op, opset, at, in, in[1] ? 2 : 1, y, 1);
    ais_tensor_destroy(t);
    if (!extra) ais_attrs_destroy(at);
    return st;
}

static void test_reshape(void **s) {
    (void)s;
    ais_tensor *x = ais_test_rand_f32(AIS_SHAPE(2, 3, 4), -1, 1), *y = NULL;
    int64_t sh[3] = {0, -1, 2};
    AIS_ASSERT_OK(run_list("Reshape", 13, x, "shape", sh, 3, false, NULL, &y));
    assert_shape(y, AIS_SHAPE(2, 6, 2));
    assert_same_bytes(x, y);
    ais_tensor_destroy(y);
    y = NULL;
    AIS_ASSERT_OK(run_list("Reshape", 1, x, "shape", sh, 3, true, NULL, &y));
    assert_shape(y, AIS_SHAPE(2, 6, 2));
    ais_tensor_destroy(y);
    y = NULL;
    /* incompatible: the message names both shapes */
    int64_t bad[2] = {5, -1};
    AIS_ASSERT_STATUS(run_list("Reshape", 13, x, "shape", bad, 2, false, NULL, &y), AIS_E_SHAPE);
    ais_test_assert_error_contains("[2, 3, 4]");
    ais_test_assert_error_contains("[5, -1]");
    ais_test_assert_error_contains("Reshape");
    assert_null(y);
    int64_t bad2[2] = {7, 3};
    AIS_ASSERT_STATUS(run_list("Reshape", 13, x, "shape", bad2, 2, false, NULL, &y), AIS_E_SHAPE);
    ais_test_assert_error_contains("[7, 3]");
    int64_t two[2] = {-1, -1};
    AIS_ASSERT_STATUS(run_list("Reshape", 13, x, "shape", two, 2, false, NULL, &y), AIS_E_SHAPE);
    ais_test_assert_error_contains("more than one -1");
    ais_tensor_destroy(x);

    /* allowzero: 0 is a real extent (only with an empty input) */
    ais_tensor *e = ais_test_rand_f32(AIS_SHAPE(0, 3), -1, 1);
    ais_attrs *at = NULL;
    AIS_ASSERT_OK(ais_attrs_create(&at));
    AIS_ASSERT_OK(ais_attrs_set_int(at, "allowzero", 1));
    int64_t z[3] = {3, 0, 1};
    AIS_ASSERT_OK(run_list("Reshape", 14, e, "shape", z, 3, false, at, &y));
    assert_shape(y, AIS_SHAPE(3, 0, 1));
    ais_tensor_destroy(y);
    y = NULL;
    /* without allowzero the 0 copies the input's extent 3 at axis 1 */
    AIS_ASSERT_STATUS(run_list("Reshape", 14, e, "shape", z, 3, false, NULL, &y), AIS_E_SHAPE);
    ais_attrs_destroy(at);
    ais_tensor_destroy(e);

    /* view: given the same data as output, nothing is copied; given other memory, it is */
    ais_tensor *a = ais_test_rand_f32(AIS_SHAPE(4, 5), -1, 1), *b = NULL;
    AIS_ASSERT_OK(ais_tensor_create(AIS_DTYPE_F32, AIS_SHAPE(20), &b));
    int64_t f[1] = {20};
    AIS_ASSERT_OK(run_list("Reshape", 21, a, "shape", f, 1, false, NULL, &b));
    assert_same_bytes(a, b);
    ais_tensor_destroy(b);
    b = NULL;
    AIS_ASSERT_OK(ais_tensor_reshape(a, f, 1, &b));
    float *pa = ais_tensor_data(a);
    pa[3] = 42.0f;
    AIS_ASSERT_OK(run_list("Reshape", 21, a, "shape", f, 1, false, NULL, &b));
    assert_true(((float *)ais_tensor_data(b))[3] == 42.0f);
    ais_tensor_destroy(b);
    ais_tensor_destroy(a);
    const ais__op_def *d = ais__op_find("", "Reshape", 21);
    assert_non_null(d);
    assert_true(d->flags & AIS__OP_VIEW);
    assert_int_equal(d->value_inputs, 2);
}

static void test_flatten_squeeze_unsqueeze(void **s) {
    (void)s;
    ais_tensor *x = ais_test_rand_f32(AIS_SHAPE(2, 1, 3, 1), -1, 1), *y = NULL;
    const ais_tensor *in[1] = {x};
    ais_attrs *at = NULL;
    AIS_ASSERT_OK(ais_attrs_create(&at));
    int64_t axes_want[5][3] = {{1, 6}, {2, 3}, {2, 3}, {6, 1}, {6, 1}};
    int64_t axv[5] = {0, 1, -3, 3, 4};
    for (int i = 0; i < 5; i++) {
        AIS_ASSERT_OK(ais_attrs_set_int(at, "axis", axv[i]));
        AIS_ASSERT_OK(ais_op_run("Flatten", at, in, 1, &y, 1));
        assert_shape(y, axes_want[i], 2);
        assert_same_bytes(x, y);
        ais_tensor_destroy(y);
        y = NULL;
    }
    AIS_ASSERT_OK(ais_attrs_set_int(at, "axis", 5));
    AIS_ASSERT_STATUS(ais_op_run("Flatten", at, in, 1, &y, 1), AIS_E_INVALID_ARGUMENT);
    ais_attrs_destroy(at);

    for (int form = 0; form < 2; form++) {
        int64_t opset = form ? 11 : 13;
        int64_t ax[1] = {-1};
        AIS_ASSERT_OK(run_list("Squeeze", opset, x, "axes", ax, 1, form, NULL, &y));
        assert_shape(y, AIS_SHAPE(2, 1, 3));
        assert_same_bytes(x, y);
        ais_tensor_destroy(y);
        y = NULL;
        AIS_ASSERT_OK(run_list("Squeeze", opset, x, "axes", NULL, 0, form, NULL, &y));
        assert_shape(y, AIS_SHAPE(2, 3));
        ais_tensor_destroy(y);
        y = NULL;
        int64_t notone[1] = {2};
        AIS_ASSERT_STATUS(run_list("Squeeze", opset, x, "axes", notone, 1, form, NULL, &y),
                          AIS_E_SHAPE);
        ais_test_assert_error_contains("extent is 3");
        int64_t ua[2] = {0, -1};
        AIS_ASSERT_OK(run_list("Unsqueeze", opset, x, "axes", ua, 2, form, NULL, &y));
        assert_shape(y, AIS_SHAPE(1, 2, 1, 3, 1, 1));
        assert_same_bytes(x, y);
        ais_tensor_destroy(y);
        y = NULL;
        int64_t dup[2] = {1, -5};
        AIS_ASSERT_STATUS(run_list("Unsqueeze", opset, x, "axes", dup, 2, form, NULL, &y),
                          AIS_E_INVALID_ARGUMENT);
        ais_test_assert_error_contains("twice");
        int64_t far[1] = {9};
        AIS_ASSERT_STATUS(run_list("Unsqueeze", opset, x, "axes", far, 1, form, NULL, &y),
                          AIS_E_INVALID_ARGUMENT);
    }
    /* the old form rejects axes as an input */
    int64_t ax[1] = {1};
    AIS_ASSERT_STATUS(run_list("Unsqueeze", 11, x, "axes", ax, 1, false, NULL, &y),
                      AIS_E_INVALID_ARGUMENT);
    ais_tensor_destroy(x);
}

static void test_shape_size(void **s) {
    (void)s;
    ais_tensor *x = ais_test_rand_f32(AIS_SHAPE(2, 3, 0, 5), -1, 1), *y = NULL;
    const ais_tensor *in[1] = {x};
    AIS_ASSERT_OK(ais_op_run("Shape", NULL, in, 1, &y, 1));
    ais_test_assert_close_values(y, (double[]){2, 3, 0, 5}, 4, 0, 0);
    ais_tensor_destroy(y);
    y = NULL;
    ais_attrs *at = NULL;
    AIS_ASSERT_OK(ais_attrs_create(&at));
    AIS_ASSERT_OK(ais_attrs_set_int(at, "start", -3));
    AIS_ASSERT_OK(ais_attrs_set_int(at, "end", -1));
    AIS_ASSERT_OK(ais_op_run("Shape", at, in, 1, &y, 1));
    ais_test_assert_close_values(y, (double[]){3, 0}, 2, 0, 0);
    ais_tensor_destroy(y);
    y = NULL;
    AIS_ASSERT_OK(ais_attrs_set_int(at, "start", 10));
    AIS_ASSERT_OK(ais_op_run("Shape", at, in, 1, &y, 1));
    assert_int_equal(ais_tensor_size(y), 0);
    ais_tensor_destroy(y);
    y = NULL;
    /* before opset 15 start/end do not exist */
    AIS_ASSERT_OK(ais_op_run_opset("", "Shape", 13, at, in, 1, &y, 1));
    assert_int_equal(ais_tensor_size(y), 4);
    ais_tensor_destroy(y);
    y = NULL;
    ais_attrs_destroy(at);
    AIS_ASSERT_OK(ais_op_run("Size", NULL, in, 1, &y, 1));
    assert_int_equal(ais_tensor_ndim(y), 0);
    assert_int_equal(((int64_t *)ais_tensor_data(y))[0], 0);
    ais_tensor_destroy(y);
    ais_tensor_destroy(x);
}

static void test_expand(void **s) {
    (void)s;
    for (int iter = 0; iter < 40; iter++) {
        size_t rx = (size_t)ais_test_randint(0, 3), rs = (size_t)ais_test_randint(0, 4);
        int64_t xd[4], sd[4];
        for (size_t i = 0; i < rx; i++)
            xd[i] = ais_test_randint(0, 1) ? 1 : ais_test_randint(2, 4);
        for (size_t i = 0; i < rs; i++)
            sd[i] = ais_test_randint(0, 1) ? 1 : ais_test_randint(2, 4);
        /* make right-aligned pairs compatible */
        for (size_t i = 0; i < rx && i < rs; i++) {
            int64_t *a = &xd[rx - 1 - i], *b = &sd[rs - 1 - i];
            if (*a != 1 && *b != 1) *b = *a;
        }
        ais_tensor *x = ais_test_rand_f32(xd, rx, -1, 1), *sh = i64v(sd, rs), *y = NULL;
        const ais_tensor *in[2] = {x, sh};
        AIS_ASSERT_OK(ais_op_run("Expand", NULL, in, 2, &y, 1));
        size_t r = ais_tensor_ndim(y);
        const int64_t *yd = ais_tensor_shape(y);
        assert_int_equal(r, rx > rs ? rx : rs);
        size_t idx[4] = {0};
        const float *xp = ais_tensor_data(x), *yp = ais_tensor_data(y);
        for (size_t e = 0; e < ais_tensor_size(y); e++) {
            size_t off = 0;
            for (size_t i = 0; i < rx; i++) {
                size_t a = r - rx + i;
                off = off * (size_t)xd[i] + (xd[i] == 1 ? 0 : idx[a]);
            }
            assert_true(yp[e] == xp[off]);
            for (size_t a = r; a-- > 0;) {
                if (++idx[a] < (size_t)yd[a]) break;
                idx[a] = 0;
            }
        }
        ais_tensor_destroy(x);
        ais_tensor_destroy(sh);
        ais_tensor_destroy(y);
    }
    ais_tensor *x = ais_test_rand_f32(AIS_SHAPE(3, 2), -1, 1), *y = NULL;
    ais_tensor *sh = i64v((int64_t[]){4, 1}, 2);
    const ais_tensor *in[2] = {x, sh};
    AIS_ASSERT_STATUS(ais_op_run("Expand", NULL, in, 2, &y, 1), AIS_E_SHAPE);
    ais_test_assert_error_contains("Expand");
    ais_tensor_destroy(sh);
    ais_tensor_destroy(x);
}

static void test_constant_of_shape(void **s) {
    (void)s;
    ais_tensor *sh = i64v((int64_t[]){2, 3}, 2), *y = NULL;
    const ais_tensor *in[1] = {sh};
    AIS_ASSERT_OK(ais_op_run("ConstantOfShape", NULL, in, 1, &y, 1));
    assert_int_equal(ais_tensor_dtype(y), AIS_DTYPE_F32);
    ais_test_assert_close_values(y, (double[]){0, 0, 0, 0, 0, 0}, 6, 0, 0);
    ais_tensor_destroy(y);
    y = NULL;
    ais_attrs *at = NULL;
    AIS_ASSERT_OK(ais_attrs_create(&at));
    ais_tensor *v = scalar(AIS_DTYPE_I32, -7);
    AIS_ASSERT_OK(ais_attrs_set_tensor(at, "value", v));
    ais_tensor_destroy(v);
    AIS_ASSERT_OK(ais_op_run("ConstantOfShape", at, in, 1, &y, 1));
    assert_int_equal(ais_tensor_dtype(y), AIS_DTYPE_I32);
    ais_test_assert_close_values(y, (double[]){-7, -7, -7, -7, -7, -7}, 6, 0, 0);
    ais_tensor_destroy(y);
    y = NULL;
    ais_tensor *neg = i64v((int64_t[]){2, -3}, 2);
    in[0] = neg;
    AIS_ASSERT_STATUS(ais_op_run("ConstantOfShape", at, in, 1, &y, 1), AIS_E_SHAPE);
    ais_test_assert_error_contains("negative");
    ais_tensor *empty = i64v(NULL, 0);
    in[0] = empty;
    AIS_ASSERT_OK(ais_op_run("ConstantOfShape", at, in, 1, &y, 1));
    assert_int_equal(ais_tensor_ndim(y), 0);
    assert_int_equal(((int32_t *)ais_tensor_data(y))[0], -7);
    ais_tensor_destroy(y);
    ais_tensor_destroy(empty);
    ais_tensor_destroy(neg);
    ais_attrs_destroy(at);
    ais_tensor_destroy(sh);
    assert_int_equal(ais__op_find("", "ConstantOfShape", 21)->value_inputs, 1);
}

static void test_range(void **s) {
    (void)s;
    struct {
        ais_dtype dt;
        double a, b, d;
    } cases[] = {{AIS_DTYPE_F32, 0.5, 3.7, 0.3}, {AIS_DTYPE_F32, 3, -2, -0.7},
                 {AIS_DTYPE_I32, -5, 11, 3},     {AIS_DTYPE_I64, 10, 1, -4},
                 {AIS_DTYPE_I64, 1, 1, 2},       {AIS_DTYPE_F64, 1, 0, 1},
                 {AIS_DTYPE_I16, 0, 7, 7}};
    for (size_t c = 0; c < AIS__ARRAY_LEN(cases); c++) {
        ais_tensor *a = scalar(cases[c].dt, cases[c].a), *b = scalar(cases[c].dt, cases[c].b),
                   *d = scalar(cases[c].dt, cases[c].d), *y = NULL;
        const ais_tensor *in[3] = {a, b, d};
        AIS_ASSERT_OK(ais_op_run("Range", NULL, in, 3, &y, 1));
        double n = fmax(ceil((cases[c].b - cases[c].a) / cases[c].d), 0);
        assert_int_equal(ais_tensor_size(y), (size_t)n);
        double want[64];
        for (size_t i = 0; i < (size_t)n; i++)
            want[i] = cases[c].a + (double)i * cases[c].d;
        ais_test_assert_close_values(y, want, (size_t)n, 1e-6, 1e-6);
        ais_tensor_destroy(y);
        ais_tensor_destroy(a);
        ais_tensor_destroy(b);
        ais_tensor_destroy(d);
    }
    ais_tensor *a = scalar(AIS_DTYPE_F32, 0), *z = scalar(AIS_DTYPE_F32, 0),
               *i = scalar(AIS_DTYPE_I32, 1), *y = NULL;
    const ais_tensor *in[3] = {a, a, z};
    AIS_ASSERT_STATUS(ais_op_run("Range", NULL, in, 3, &y, 1), AIS_E_INVALID_ARGUMENT);
    ais_test_assert_error_contains("delta is 0");
    in[2] = i;
    AIS_ASSERT_STATUS(ais_op_run("Range", NULL, in, 3, &y, 1), AIS_E_DTYPE);
    ais_test_assert_error_contains("delta");
    ais_tensor_destroy(a);
    ais_tensor_destroy(z);
    ais_tensor_destroy(i);
}

static void test_eyelike(void **s) {
    (void)s;
    int64_t ks[6] = {0, 1, -2, 4, -9, 100};
    for (int c = 0; c < 6; c++) {
        ais_tensor *x = ais_test_rand_f32(AIS_SHAPE(3, 5), -1, 1), *y = NULL;
        ais_attrs *at = NULL;
        AIS_ASSERT_OK(ais_attrs_create(&at));
        AIS_ASSERT_OK(ais_attrs_set_int(at, "k", ks[c]));
        AIS_ASSERT_OK(ais_attrs_set_int(at, "dtype", AIS_DTYPE_I64));
        const ais_tensor *in[1] = {x};
        AIS_ASSERT_OK(ais_op_run("EyeLike", at, in, 1, &y, 1));
        double want[15];
        for (int i = 0; i < 3; i++)
            for (int j = 0; j < 5; j++)
                want[i * 5 + j] = j - i == ks[c];
        ais_test_assert_close_values(y, want, 15, 0, 0);
        assert_int_equal(ais_tensor_dtype(y), AIS_DTYPE_I64);
        ais_tensor_destroy(y);
        ais_attrs_destroy(at);
        ais_tensor_destroy(x);
    }
}

typedef struct {
    ais_tensor *x, *sh, *y, *z;
} sweep_t;

static ais_status sweep_fn(void *p) {
    sweep_t *s = p;
    const ais_tensor *in[2] = {s->x, s->sh};
    AIS__CHECK(ais_op_run("Reshape", NULL, in, 2, &s->y, 1));
    return ais_op_run("Expand", NULL, in, 2, &s->z, 1);
}

static void test_shape_oom(void **st) {
    (void)st;
    sweep_t s = {0};
    s.x = ais_test_rand_f32(AIS_SHAPE(1, 6), -1, 1);
    s.sh = i64v((int64_t[]){6, 1}, 2);
    long n = AIS_TEST_OOM_SWEEP("Reshape/Expand", sweep_fn, &s, 50, AIS_OWN_TENSOR(&s.y),
                                AIS_OWN_TENSOR(&s.z));
    assert_true(n >= 2);
    ais_tensor_destroy(s.x);
    ais_tensor_destroy(s.sh);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_reshape),           cmocka_unit_test(test_flatten_squeeze_unsqueeze),
        cmocka_unit_test(test_shape_size),        cmocka_unit_test(test_expand),
        cmocka_unit_test(test_constant_of_shape), cmocka_unit_test(test_range),
        cmocka_unit_test(test_eyelike),           cmocka_unit_test(test_shape_oom),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
