/* test_ops_misc.c - Cast, CastLike, Identity, Dropout and Constant. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "ops/op.h"
#include "tensor/tensor.h"
#include "test_util.h"

static double at(const ais_tensor *t, size_t i) { return ais__load_f64(t->data, t->dtype, i); }

static ais_status cast_to(const ais_tensor *x, ais_dtype to, ais_tensor **y) {
    ais_attrs *a = NULL;
    AIS_ASSERT_OK(ais_attrs_create(&a));
    AIS_ASSERT_OK(ais_attrs_set_int(a, "to", (int64_t)to));
    const ais_tensor *in[1] = {x};
    *y = NULL;
    ais_status st = ais_op_run("Cast", a, in, 1, y, 1);
    ais_attrs_destroy(a);
    return st;
}

/* The reference for float -> integer: truncate, saturate to the range, NaN -> 0. */
static double sat(double v, double lo, double hi) {
    if (isnan(v)) return 0;
    v = trunc(v);
    return v < lo ? lo : v > hi ? hi : v;
}

static void test_cast_float_to_int(void **state) {
    (void)state;
    const double v[] = {0,     3.7,      -3.7,         1e20,          -1e20,
                        NAN,   INFINITY, -INFINITY,    127.9,         -128.5,
                        255.5, 65535.9,  2147483520.0, -2147483648.0, 0.999};
    const size_t n = AIS__ARRAY_LEN(v);
    ais_tensor *x = ais_test_tensor(AIS_DTYPE_F32, AIS_SHAPE((int64_t)n), v);
    ais_tensor *xd = ais_test_tensor(AIS_DTYPE_F64, AIS_SHAPE((int64_t)n), v);
    static const struct {
        ais_dtype dt;
        double lo, hi;
    } to[] = {
        {AIS_DTYPE_I8, -128, 127},
        {AIS_DTYPE_U8, 0, 255},
        {AIS_DTYPE_I16, -32768, 32767},
        {AIS_DTYPE_U16, 0, 65535},
        {AIS_DTYPE_I32, -2147483648.0, 2147483647.0},
        {AIS_DTYPE_U32, 0, 4294967295.0},
        {AIS_DTYPE_I64, -9.2233720368547758e18, 9.2233720368547758e18},
        {AIS_DTYPE_U64, 0, 1.8446744073709552e19},
    };
    for (size_t k = 0; k < AIS__ARRAY_LEN(to); k++) {
        for (int src = 0; src < 2; src++) {
            ais_tensor *y = NULL;
            AIS_ASSERT_OK(cast_to(src ? xd : x, to[k].dt, &y));
            assert_int_equal(ais_tensor_dtype(y), to[k].dt);
            for (size_t i = 0; i < n; i++) {
                double w = sat(at(src ? xd : x, i), to[k].lo, to[k].hi);
                double g = at(y, i);
                if (g != w)
                    fail_msg("Cast %s -> %s of %g: got %.17g, want %.17g", src ? "f64" : "f32",
                             ais_dtype_name(to[k].dt), v[i], g, w);
            }
            ais_tensor_destroy(y);
        }
    }
    /* bool: nonzero (NaN included) is true */
    ais_tensor *y = NULL;
    AIS_ASSERT_OK(cast_to(x, AIS_DTYPE_BOOL, &y));
    for (size_t i = 0; i < n; i++)
        assert_true(at(y, i) == (double)(v[i] != 0));
    ais_tensor_destroy(y);
    ais_tensor_destroy(x);
    ais_tensor_destroy(xd);
}

static void test_cast_floats_and_ints(void **state) {
    (void)state;
    /* f32 -> f16, bf16, f64 and back, on random data of odd length */
    ais_tensor *x = ais_test_rand_f32(AIS_SHAPE(3, 341), -100, 100);
    size_t n = ais_tensor_size(x);
    static const ais_dtype fl[] = {AIS_DTYPE_F16, AIS_DTYPE_BF16, AIS_DTYPE_F64};
    /* bf16 truncates (ONNX's reference Cast): up to 2^-7 relative, not half of it */
    static const double rtol[] = {4.9e-4, 7.9e-3, 0};
    for (size_t k = 0; k < 3; k++) {
        ais_tensor *y = NULL, *z = NULL;
        AIS_ASSERT_OK(cast_to(x, fl[k], &y));
        AIS_ASSERT_OK(cast_to(y, AIS_DTYPE_F32, &z));
        for (size_t i = 0; i < n; i++) {
            double w = at(x, i), g = at(z, i);
            if (fabs(g - w) > rtol[k] * fabs(w))
                fail_msg("%s round trip of %g gave %g", ais_dtype_name(fl[k]), w, g);
            /* the round trip through f32 is exact */
            assert_true(at(y, i) == g);
            if (fl[k] == AIS_DTYPE_BF16) { /* exactly the upper 16 bits */
                float wf = (float)w;
                uint32_t b;
                memcpy(&b, &wf, sizeof b);
                assert_int_equal(((const uint16_t *)ais_tensor_data(y))[i], b >> 16);
            }
        }
        ais_tensor_destroy(y);
        ais_tensor_destroy(z);
    }
    ais_tensor_destroy(x);
    /* integer -> integer wraps; integer -> float is exact for small values; bool -> float */
    const double iv[] = {0, 1, -1, 127, -128, 300, -300, 65537, 2147483647.0, -2147483648.0};
    ais_tensor *xi = ais_test_tensor(AIS_DTYPE_I64, AIS_SHAPE(10), iv);
    ais_tensor *y = NULL;
    AIS_ASSERT_OK(cast_to(xi, AIS_DTYPE_I8, &y));
    for (size_t i = 0; i < 10; i++)
        assert_true(at(y, i) == (double)((int8_t)(int64_t)iv[i]));
    ais_tensor_destroy(y);
    AIS_ASSERT_OK(cast_to(xi, AIS_DTYPE_U16, &y));
    for (size_t i = 0; i < 10; i++)
        assert_true(at(y, i) == (double)((uint16_t)(int64_t)iv[i]));
    ais_tensor_destroy(y);
    AIS_ASSERT_OK(cast_to(xi, AIS_DTYPE_F32, &y));
    for (size_t i = 0; i < 10; i++)
        assert_true(at(y, i) == (float)iv[i]);
    ais_tensor_destroy(y);
    AIS_ASSERT_OK(cast_to(xi, AIS_DTYPE_BOOL, &y));
    for (size_t i = 0; i < 10; i++)
        assert_true(at(y, i) == (double)(iv[i] != 0));
    ais_tensor *z = NULL;
    AIS_ASSERT_OK(cast_to(y, AIS_DTYPE_F16, &z));
    for (size_t i = 0; i < 10; i++)
        assert_true(at(z, i) == (iv[i] != 0));
    ais_tensor_destroy(z);
    ais_tensor_destroy(y);
    /* a large u64 stays exact through i64 -> u64 -> i64 */
    int64_t big = INT64_MIN + 12345;
    ais_tensor *bi = NULL;
    AIS_ASSERT_OK(ais_tensor_create(AIS_DTYPE_I64, AIS_SHAPE(1), &bi));
    *(int64_t *)ais_tensor_data(bi) = big;
    AIS_ASSERT_OK(cast_to(bi, AIS_DTYPE_U64, &y));
    assert_true(*(uint64_t *)ais_tensor_data(y) == (uint64_t)big);
    AIS_ASSERT_OK(cast_to(y, AIS_DTYPE_I64, &z));
    assert_true(*(int64_t *)ais_tensor_data(z) == big);
    ais_tensor_destroy(z);
    ais_tensor_destroy(y);
    ais_tensor_destroy(bi);
    /* same dtype, empty tensor, scalar */
    AIS_ASSERT_OK(cast_to(xi, AIS_DTYPE_I64, &y));
    assert_memory_equal(ais_tensor_data(y), ais_tensor_data(xi), 80);
    ais_tensor_destroy(y);
    ais_tensor_destroy(xi);
    ais_tensor *e = NULL;
    AIS_ASSERT_OK(ais_tensor_create(AIS_DTYPE_F32, AIS_SHAPE(0, 4), &e));
    AIS_ASSERT_OK(cast_to(e, AIS_DTYPE_I32, &y));
    assert_int_equal(ais_tensor_size(y), 0);
    assert_int_equal(ais_tensor_ndim(y), 2);
    ais_tensor_destroy(y);
    ais_tensor_destroy(e);
}

static void test_cast_errors_and_castlike(void **state) {
    (void)state;
    ais_tensor *x = ais_test_rand_f32(AIS_SHAPE(5), -3, 3), *y = NULL;
    /* strings are a Cast target (test_strings.c); sequences are not */
    AIS_ASSERT_STATUS(cast_to(x, AIS_DTYPE_SEQUENCE, &y), AIS_E_UNSUPPORTED);
    ais_test_assert_error_contains("is not supported");
    assert_null(y);
    AIS_ASSERT_STATUS(cast_to(x, (ais_dtype)99, &y), AIS_E_UNSUPPORTED);
    const ais_tensor *in[2] = {x, NULL};
    AIS_ASSERT_STATUS(ais_op_run("Cast", NULL, in, 1, &y, 1), AIS_E_INVALID_ARGUMENT);
    ais_test_assert_error_contains("'to'");
    ais_tensor *like = NULL;
    AIS_ASSERT_OK(ais_tensor_create(AIS_DTYPE_I16, AIS_SHAPE(1, 2), &like));
    in[1] = like;
    AIS_ASSERT_OK(ais_op_run("CastLike", NULL, in, 2, &y, 1));
    assert_int_equal(ais_tensor_dtype(y), AIS_DTYPE_I16);
    assert_int_equal(ais_tensor_ndim(y), 1);
    for (size_t i = 0; i < 5; i++)
        assert_true(at(y, i) == (double)((int16_t)trunc(at(x, i))));
    ais_tensor_destroy(y);
    ais_tensor_destroy(like);
    ais_tensor_destroy(x);
}

static void test_identity_dropout(void **state) {
    (void)state;
    ais_tensor *x = ais_test_rand_f32(AIS_SHAPE(3, 7), -3, 3), *out[2] = {NULL, NULL};
    const ais_tensor *in[3] = {x, NULL, NULL};
    AIS_ASSERT_OK(ais_op_run("Identity", NULL, in, 1, out, 1));
    assert_true(ais_tensor_data(out[0]) != ais_tensor_data(x));
    assert_memory_equal(ais_tensor_data(out[0]), ais_tensor_data(x), ais_tensor_nbytes(x));
    ais_tensor_destroy(out[0]);
    out[0] = NULL;
    /* as a view (what the executor does): the output shares the input's data */
    const ais__op_def *def = ais__op_find("", "Identity", 13);
    assert_non_null(def);
    assert_true(def->flags & AIS__OP_VIEW);
    ais_tensor *view = NULL;
    AIS_ASSERT_OK(ais_tensor_reshape(x, AIS_SHAPE(3, 7), &view));
    ais__op_ctx ctx = {.op_type = "Identity", .node_name = "", .opset = 13};
    AIS_ASSERT_OK(ais__op_invoke(def, &ctx, in, 1, &view, 1));
    assert_true(ais_tensor_data(view) == ais_tensor_data(x));
    ais_tensor_destroy(view);

    /* Dropout: Y = X, the mask all true (bool since opset 10, X's dtype before) */
    AIS_ASSERT_OK(ais_op_run("Dropout", NULL, in, 1, out, 2));
    assert_memory_equal(ais_tensor_data(out[0]), ais_tensor_data(x), ais_tensor_nbytes(x));
    assert_int_equal(ais_tensor_dtype(out[1]), AIS_DTYPE_BOOL);
    for (size_t i = 0; i < 21; i++)
        assert_int_equal(((uint8_t *)ais_tensor_data(out[1]))[i], 1);
    ais_tensor_destroy(out[0]);
    ais_tensor_destroy(out[1]);
    out[0] = out[1] = NULL;
    AIS_ASSERT_OK(ais_op_run_opset("", "Dropout", 7, NULL, in, 1, out, 2));
    assert_int_equal(ais_tensor_dtype(out[1]), AIS_DTYPE_F32);
    for (size_t i = 0; i < 21; i++)
        assert_true(at(out[1], i) == 1.0);
    ais_tensor_destroy(out[0]);
    ais_tensor_destroy(out[1]);
    out[0] = out[1] = NULL;
    ais_tensor *ratio = ais_test_tensor(AIS_DTYPE_F32, NULL, 0, (const double[]){0.3});
    ais_tensor *train = ais_test_tensor(AIS_DTYPE_BOOL, NULL, 0, (const double[]){0});
    in[1] = ratio;
    in[2] = train;
    AIS_ASSERT_OK(ais_op_run("Dropout", NULL, in, 3, out, 1));
    assert_memory_equal(ais_tensor_data(out[0]), ais_tensor_data(x), ais_tensor_nbytes(x));
    ais_tensor_destroy(out[0]);
    out[0] = NULL;
    *(uint8_t *)ais_tensor_data(train) = 1;
    AIS_ASSERT_STATUS(ais_op_run("Dropout", NULL, in, 3, out, 2), AIS_E_UNSUPPORTED);
    ais_test_assert_error_contains("training_mode");
    assert_null(out[0]);
    assert_null(out[1]);
    /* training with ratio 0 drops nothing: Y = X, mask all true */
    *(float *)ais_tensor_data(ratio) = 0.0f;
    AIS_ASSERT_OK(ais_op_run("Dropout", NULL, in, 3, out, 2));
    assert_memory_equal(ais_tensor_data(out[0]), ais_tensor_data(x), ais_tensor_nbytes(x));
    assert_int_equal(ais_tensor_dtype(out[1]), AIS_DTYPE_BOOL);
    for (size_t i = 0; i < ais_tensor_size(x); i++) assert_true(at(out[1], i) == 1.0);
    ais_tensor_destroy(out[0]);
    ais_tensor_destroy(out[1]);
    out[0] = out[1] = NULL;
    /* training without a ratio input means ratio 0.5: refused */
    AIS_ASSERT_STATUS(ais_op_run("Dropout", NULL, (const ais_tensor *const[]){x, NULL, train}, 3,
                                 out, 1),
                      AIS_E_UNSUPPORTED);
    ais_test_assert_error_contains("ratio 0.5");
    in[2] = ratio; /* training_mode must be bool */
    AIS_ASSERT_STATUS(ais_op_run("Dropout", NULL, in, 3, out, 1), AIS_E_INVALID_ARGUMENT);
    ais_test_assert_error_contains("f32");
    ais_tensor_destroy(ratio);
    ais_tensor_destroy(train);
    ais_tensor_destroy(x);
}

static void test_constant(void **state) {
    (void)state;
    ais_attrs *a = NULL;
    ais_tensor *y = NULL;
    AIS_ASSERT_OK(ais_attrs_create(&a));
    AIS_ASSERT_STATUS(ais_op_run("Constant", a, NULL, 0, &y, 1), AIS_E_INVALID_ARGUMENT);
    ais_test_assert_error_contains("value");
    AIS_ASSERT_OK(ais_attrs_set_float(a, "value_float", 2.5f));
    AIS_ASSERT_OK(ais_op_run("Constant", a, NULL, 0, &y, 1));
    assert_int_equal(ais_tensor_ndim(y), 0);
    assert_int_equal(ais_tensor_dtype(y), AIS_DTYPE_F32);
    assert_true(at(y, 0) == 2.5);
    ais_tensor_destroy(y);
    y = NULL;
    /* two values are refused */
    AIS_ASSERT_OK(ais_attrs_set_int(a, "value_int", 7));
    AIS_ASSERT_STATUS(ais_op_run("Constant", a, NULL, 0, &y, 1), AIS_E_INVALID_ARGUMENT);
    ais_test_assert_error_contains("value_int");
    ais_attrs_destroy(a);

    AIS_ASSERT_OK(ais_attrs_create(&a));
    AIS_ASSERT_OK(ais_attrs_set_int(a, "value_int", -7));
    AIS_ASSERT_OK(ais_op_run("Constant", a, NULL, 0, &y, 1));
    assert_int_equal(ais_tensor_dtype(y), AIS_DTYPE_I64);
    assert_true(*(int64_t *)ais_tensor_data(y) == -7);
    ais_tensor_destroy(y);
    y = NULL;
    ais_attrs_destroy(a);

    AIS_ASSERT_OK(ais_attrs_create(&a));
    const int64_t iv[] = {3, -1, 4};
    AIS_ASSERT_OK(ais_attrs_set_ints(a, "value_ints", iv, 3));
    AIS_ASSERT_OK(ais_op_run("Constant", a, NULL, 0, &y, 1));
    assert_int_equal(ais_tensor_shape(y)[0], 3);
    assert_memory_equal(ais_tensor_data(y), iv, sizeof iv);
    ais_tensor_destroy(y);
    y = NULL;
    ais_attrs_destroy(a);

    AIS_ASSERT_OK(ais_attrs_create(&a));
    const float fv[] = {0.5f, 1.5f};
    AIS_ASSERT_OK(ais_attrs_set_floats(a, "value_floats", fv, 2));
    AIS_ASSERT_OK(ais_op_run("Constant", a, NULL, 0, &y, 1));
    assert_int_equal(ais_tensor_dtype(y), AIS_DTYPE_F32);
    assert_memory_equal(ais_tensor_data(y), fv, sizeof fv);
    ais_tensor_destroy(y);
    y = NULL;
    ais_attrs_destroy(a);

    AIS_ASSERT_OK(ais_attrs_create(&a));
    ais_tensor *t = ais_test_rand_f32(AIS_SHAPE(2, 3), 0, 1);
    AIS_ASSERT_OK(ais_attrs_set_tensor(a, "value", t));
    AIS_ASSERT_OK(ais_op_run("Constant", a, NULL, 0, &y, 1));
    assert_int_equal(ais_tensor_ndim(y), 2);
    assert_memory_equal(ais_tensor_data(y), ais_tensor_data(t), 24);
    ais_tensor_destroy(y);
    y = NULL;
    ais_attrs_destroy(a);
    AIS_ASSERT_OK(ais_attrs_create(&a));
    AIS_ASSERT_OK(ais_attrs_set_string(a, "value_string", "hello"));
    AIS_ASSERT_STATUS(ais_op_run("Constant", a, NULL, 0, &y, 1), AIS_E_UNSUPPORTED);
    ais_attrs_destroy(a);
    ais_tensor_destroy(t);
    const ais__op_def *def = ais__op_find("", "Constant", 13);
    assert_true(def->flags & AIS__OP_NO_INPUTS);
}

typedef struct sweep_ctx {
    ais_attrs *attrs;
    const ais_tensor *in[1];
    ais_tensor *out;
} sweep_ctx;

static ais_status sweep_cast(void *p) {
    sweep_ctx *c = p;
    c->out = NULL;
    return ais_op_run("Cast", c->attrs, c->in, 1, &c->out, 1);
}

static void test_oom(void **state) {
    (void)state;
    sweep_ctx c = {0};
    AIS_ASSERT_OK(ais_attrs_create(&c.attrs));
    AIS_ASSERT_OK(ais_attrs_set_int(c.attrs, "to", AIS_DTYPE_F16));
    ais_tensor *x = ais_test_rand_f32(AIS_SHAPE(9, 9), 0, 1);
    c.in[0] = x;
    assert_true(AIS_TEST_OOM_SWEEP("Cast", sweep_cast, &c, 20, AIS_OWN_TENSOR(&c.out)) >= 1);
    ais_tensor_destroy(x);
    ais_attrs_destroy(c.attrs);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_cast_float_to_int),
        cmocka_unit_test(test_cast_floats_and_ints),
        cmocka_unit_test(test_cast_errors_and_castlike),
        cmocka_unit_test(test_identity_dropout),
        cmocka_unit_test(test_constant),
        cmocka_unit_test(test_oom),
    };
    ais_test_seed();
    return cmocka_run_group_tests(tests, NULL, NULL);
}
