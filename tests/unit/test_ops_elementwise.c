/* test_ops_elementwise.c - unary, binary and variadic elementwise operators against naive
 * references, with broadcasting corners, dtype paths, errors and allocation failures. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "ops/op.h"
#include "tensor/tensor.h"
#include "test_util.h"

/* ---- helpers ---- */

/* A tensor of dtype with random values in [lo, hi) (integers: whole numbers). */
static ais_tensor *rand_tensor(ais_dtype dt, const int64_t *shape, size_t ndim, double lo,
                               double hi) {
    ais_tensor *t = NULL;
    AIS_ASSERT_OK(ais_tensor_create(dt, shape, ndim, &t));
    for (size_t i = 0; i < ais_tensor_size(t); i++) {
        double v = ais__dtype_is_float(dt) ? ais_test_uniform(lo, hi)
                                           : (double)ais_test_randint((int64_t)lo, (int64_t)hi);
        ais__store_f64(ais_tensor_data(t), dt, i, v);
    }
    return t;
}

static double at(const ais_tensor *t, size_t i) { return ais__load_f64(t->data, t->dtype, i); }

/* Offset into an input of shape (id, in_) of the output element `flat` of shape (od, on). */
static size_t bc_off(size_t flat, const int64_t *od, size_t on, const int64_t *id, size_t in_) {
    size_t off = 0, stride = 1;
    for (size_t k = on; k-- > 0;) {
        size_t i = flat % (size_t)od[k];
        flat /= (size_t)od[k];
        if (k >= on - in_) {
            int64_t d = id[k - (on - in_)];
            if (d != 1) off += i * stride;
            stride *= (size_t)d;
        }
    }
    return off;
}

static ais_status run(const char *op, const ais_attrs *attrs, const ais_tensor *a,
                      const ais_tensor *b, ais_tensor **out) {
    const ais_tensor *in[2] = {a, b};
    *out = NULL;
    return ais_op_run(op, attrs, in, b ? 2 : 1, out, 1);
}

static ais_status run_opset(const char *op, int64_t opset, const ais_attrs *attrs,
                            const ais_tensor *const *in, size_t n_in, ais_tensor **out,
                            size_t n_out) {
    for (size_t i = 0; i < n_out; i++)
        out[i] = NULL;
    return ais_op_run_opset("", op, opset, attrs, in, n_in, out, n_out);
}

static ais_attrs *attrs_new(void) {
    ais_attrs *a = NULL;
    AIS_ASSERT_OK(ais_attrs_create(&a));
    return a;
}

/* ---- unary references ---- */

typedef double (*ref1_fn)(double x, const double *p);

static double r_abs(double x, const double *p) { return fabs(x); }
static double r_neg(double x, const double *p) { return -x; }
static double r_recip(double x, const double *p) { return 1.0 / x; }
static double r_floor(double x, const double *p) { return floor(x); }
static double r_ceil(double x, const double *p) { return ceil(x); }
static double r_round(double x, const double *p) {
    double f = floor(x), d = x - f;
    if (d > 0.5) return f + 1;
    if (d < 0.5) return f;
    return fmod(f, 2.0) == 0 ? f : f + 1;
}
static double r_sign(double x, const double *p) { return x > 0 ? 1 : x < 0 ? -1 : 0; }
static double r_exp(double x, const double *p) { return exp(x); }
static double r_log(double x, const double *p) { return log(x); }
static double r_sqrt(double x, const double *p) { return sqrt(x); }
static double r_erf(double x, const double *p) { return erf(x); }
static double r_sin(double x, const double *p) { return sin(x); }
static double r_cos(double x, const double *p) { return cos(x); }
static double r_tan(double x, const double *p) { return tan(x); }
static double r_asin(double x, const double *p) { return asin(x); }
static double r_acos(double x, const double *p) { return acos(x); }
static double r_atan(double x, const double *p) { return atan(x); }
static double r_sinh(double x, const double *p) { return sinh(x); }
static double r_cosh(double x, const double *p) { return cosh(x); }
static double r_asinh(double x, const double *p) { return asinh(x); }
static double r_acosh(double x, const double *p) { return acosh(x); }
static double r_atanh(double x, const double *p) { return atanh(x); }
static double r_tanh(double x, const double *p) { return tanh(x); }
static double r_relu(double x, const double *p) { return x > 0 ? x : 0; }
static double r_leaky(double x, const double *p) { return x >= 0 ? x : p[0] * x; }
static double r_elu(double x, const double *p) { return x >= 0 ? x : p[0] * (exp(x) - 1); }
static double r_selu(double x, const double *p) {
    return x > 0 ? p[1] * x : p[1] * (p[0] * exp(x) - p[0]);
}
static double r_celu(double x, const double *p) {
    return fmax(0, x) + fmin(0, p[0] * (exp(x / p[0]) - 1));
}
static double r_sigmoid(double x, const double *p) { return 1 / (1 + exp(-x)); }
static double r_hardsigmoid(double x, const double *p) { return fmax(0, fmin(1, p[0] * x + p[1])); }
static double r_hardswish(double x, const double *p) { return x * fmax(0, fmin(1, x / 6 + 0.5)); }
static double r_softplus(double x, const double *p) { return log(exp(x) + 1); }
static double r_softsign(double x, const double *p) { return x / (1 + fabs(x)); }
static double r_gelu(double x, const double *p) { return 0.5 * x * (1 + erf(x / sqrt(2.0))); }
static double r_gelu_tanh(double x, const double *p) {
    return 0.5 * x * (1 + tanh(sqrt(2 / M_PI) * (x + 0.044715 * x * x * x)));
}
static double r_thresh(double x, const double *p) { return x > p[0] ? x : 0; }
static double r_mish(double x, const double *p) { return x * tanh(log(1 + exp(x))); }
static double r_shrink(double x, const double *p) {
    return x < -p[0] ? x + p[1] : x > p[0] ? x - p[1] : 0;
}

typedef struct unary_case {
    const char *op;
    ref1_fn ref;
    double lo, hi;
    const char *attr1;
    double v1;
    const char *attr2;
    double v2;
} unary_case;

static const unary_case unary_cases[] = {
    {"Abs", r_abs, -5, 5, NULL, 0, NULL, 0},
    {"Neg", r_neg, -5, 5, NULL, 0, NULL, 0},
    {"Reciprocal", r_recip, 0.5, 5, NULL, 0, NULL, 0},
    {"Floor", r_floor, -5, 5, NULL, 0, NULL, 0},
    {"Ceil", r_ceil, -5, 5, NULL, 0, NULL, 0},
    {"Round", r_round, -5, 5, NULL, 0, NULL, 0},
    {"Sign", r_sign, -5, 5, NULL, 0, NULL, 0},
    {"Exp", r_exp, -10, 10, NULL, 0, NULL, 0},
    {"Log", r_log, 0.01, 100, NULL, 0, NULL, 0},
    {"Sqrt", r_sqrt, 0, 100, NULL, 0, NULL, 0},
    {"Erf", r_erf, -3, 3, NULL, 0, NULL, 0},
    {"Sin", r_sin, -3, 3, NULL, 0, NULL, 0},
    {"Cos", r_cos, -3, 3, NULL, 0, NULL, 0},
    {"Tan", r_tan, -1.2, 1.2, NULL, 0, NULL, 0},
    {"Asin", r_asin, -0.99, 0.99, NULL, 0, NULL, 0},
    {"Acos", r_acos, -0.99, 0.99, NULL, 0, NULL, 0},
    {"Atan", r_atan, -5, 5, NULL, 0, NULL, 0},
    {"Sinh", r_sinh, -4, 4, NULL, 0, NULL, 0},
    {"Cosh", r_cosh, -4, 4, NULL, 0, NULL, 0},
    {"Asinh", r_asinh, -5, 5, NULL, 0, NULL, 0},
    {"Acosh", r_acosh, 1.01, 5, NULL, 0, NULL, 0},
    {"Atanh", r_atanh, -0.95, 0.95, NULL, 0, NULL, 0},
    {"Tanh", r_tanh, -5, 5, NULL, 0, NULL, 0},
    {"Relu", r_relu, -5, 5, NULL, 0, NULL, 0},
    {"LeakyRelu", r_leaky, -5, 5, "alpha", 0.01, NULL, 0},
    {"LeakyRelu", r_leaky, -5, 5, "alpha", 0.3, NULL, 0},
    {"Elu", r_elu, -5, 5, "alpha", 1.0, NULL, 0},
    {"Elu", r_elu, -5, 5, "alpha", 0.5, NULL, 0},
    {"Selu", r_selu, -5, 5, "alpha", 1.67326319217681884765625, "gamma", 1.05070102214813232421875},
    {"Selu", r_selu, -5, 5, "alpha", 2.0, "gamma", 3.0},
    {"Celu", r_celu, -5, 5, "alpha", 1.0, NULL, 0},
    {"Celu", r_celu, -5, 5, "alpha", 2.5, NULL, 0},
    {"Sigmoid", r_sigmoid, -20, 20, NULL, 0, NULL, 0},
    {"HardSigmoid", r_hardsigmoid, -5, 5, "alpha", 0.2, "beta", 0.5},
    {"HardSigmoid", r_hardsigmoid, -5, 5, "alpha", 0.7, "beta", 0.1},
    {"HardSwish", r_hardswish, -6, 6, NULL, 0, NULL, 0},
    {"Softplus", r_softplus, -20, 20, NULL, 0, NULL, 0},
    {"Softsign", r_softsign, -5, 5, NULL, 0, NULL, 0},
    {"Gelu", r_gelu, -5, 5, NULL, 0, NULL, 0},
    {"ThresholdedRelu", r_thresh, -5, 5, "alpha", 1.0, NULL, 0},
    {"ThresholdedRelu", r_thresh, -5, 5, "alpha", 0.25, NULL, 0},
    {"Mish", r_mish, -10, 10, NULL, 0, NULL, 0},
    {"Shrink", r_shrink, -2, 2, "lambd", 0.5, "bias", 0.0},
    {"Shrink", r_shrink, -2, 2, "lambd", 1.0, "bias", 0.25},
};

/* Attributes of a case, and the reference parameters in the order the references read them
 * (defaults when the case gives none). */
static ais_attrs *case_attrs(const unary_case *c, double *p) {
    ais_attrs *a = attrs_new();
    /* The reference computes with the float that the attribute holds. volatile: GCC 12 at -O3
     * (SLP) drops the double -> float -> double rounding of the pair otherwise. */
    volatile float v1 = (float)c->v1, v2 = (float)c->v2;
    if (c->attr1) AIS_ASSERT_OK(ais_attrs_set_float(a, c->attr1, v1));
    if (c->attr2) AIS_ASSERT_OK(ais_attrs_set_float(a, c->attr2, v2));
    p[0] = v1;
    p[1] = v2;
    return a;
}

static void check_unary(const unary_case *c, ais_dtype dt, const int64_t *shape, size_t nd,
                        double rtol, double atol) {
    double p[2];
    ais_attrs *attrs = case_attrs(c, p);
    ais_tensor *x = rand_tensor(dt, shape, nd, c->lo, c->hi);
    ais_tensor *y = NULL;
    ais_status st = run(c->op, attrs, x, NULL, &y);
    if (st != AIS_OK) fail_msg("%s on %s: %s", c->op, ais_dtype_name(dt), ais_last_error());
    size_t n = ais_tensor_size(x);
    double *want = malloc((n ? n : 1) * sizeof(double));
    for (size_t i = 0; i < n; i++)
        want[i] = c->ref(at(x, i), p);
    assert_int_equal(ais_tensor_dtype(y), dt);
    assert_int_equal(ais_tensor_ndim(y), nd);
    if (getenv("AIS_TEST_VERBOSE")) print_message("%s %s %.9g\n", c->op, ais_dtype_name(dt), p[0]);
    ais_test_assert_close_values(y, want, n, rtol, atol);
    free(want);
    ais_tensor_destroy(x);
    ais_tensor_destroy(y);
    ais_attrs_destroy(attrs);
}

static void test_unary_f32(void **state) {
    (void)state;
    static const int64_t sizes[] = {1, 7, 1023};
    for (size_t k = 0; k < AIS__ARRAY_LEN(unary_cases); k++) {
        for (size_t s = 0; s < AIS__ARRAY_LEN(sizes); s++)
            check_unary(&unary_cases[k], AIS_DTYPE_F32, &sizes[s], 1, 1e-5, 1e-6);
        check_unary(&unary_cases[k], AIS_DTYPE_F32, AIS_SHAPE(3, 5, 7), 1e-5, 1e-6);
        check_unary(&unary_cases[k], AIS_DTYPE_F32, AIS_SHAPE(2, 0, 3), 1e-5, 1e-6);
        check_unary(&unary_cases[k], AIS_DTYPE_F32, NULL, 0, 1e-5, 1e-6);
    }
}

static void test_unary_f64_f16_bf16(void **state) {
    (void)state;
    for (size_t k = 0; k < AIS__ARRAY_LEN(unary_cases); k++) {
        check_unary(&unary_cases[k], AIS_DTYPE_F64, AIS_SHAPE(4, 33), 1e-12, 1e-14);
        /* inputs are exact in f16; the result is rounded once to f16 (or bf16) */
        check_unary(&unary_cases[k], AIS_DTYPE_F16, AIS_SHAPE(5, 61), 2e-3, 1e-3);
        check_unary(&unary_cases[k], AIS_DTYPE_BF16, AIS_SHAPE(301), 1.6e-2, 1e-2);
    }
}

static void test_unary_gelu_tanh_and_tests(void **state) {
    (void)state;
    ais_attrs *a = attrs_new();
    AIS_ASSERT_OK(ais_attrs_set_string(a, "approximate", "tanh"));
    ais_tensor *x = rand_tensor(AIS_DTYPE_F32, AIS_SHAPE(257), -5, 5), *y = NULL;
    AIS_ASSERT_OK(run("Gelu", a, x, NULL, &y));
    double want[257];
    for (size_t i = 0; i < 257; i++)
        want[i] = r_gelu_tanh(at(x, i), NULL);
    ais_test_assert_close_values(y, want, 257, 1e-5, 1e-6);
    ais_tensor_destroy(y);
    /* an unknown approximation is refused, and Gelu works in an old opset */
    AIS_ASSERT_OK(ais_attrs_set_string(a, "approximate", "fast"));
    AIS_ASSERT_STATUS(run("Gelu", a, x, NULL, &y), AIS_E_INVALID_ARGUMENT);
    ais_test_assert_error_contains("fast");
    assert_null(y);
    const ais_tensor *in[1] = {x};
    AIS_ASSERT_OK(run_opset("Gelu", 13, NULL, in, 1, &y, 1));
    ais_tensor_destroy(y);
    ais_attrs_destroy(a);
    ais_tensor_destroy(x);

    /* IsNaN, IsInf with both detect flags, Not */
    const double v[] = {1.0, NAN, INFINITY, -INFINITY, -0.0, 3e38};
    ais_tensor *t = ais_test_tensor(AIS_DTYPE_F32, AIS_SHAPE(6), v);
    AIS_ASSERT_OK(run("IsNaN", NULL, t, NULL, &y));
    assert_int_equal(ais_tensor_dtype(y), AIS_DTYPE_BOOL);
    ais_test_assert_close_values(y, (const double[]){0, 1, 0, 0, 0, 0}, 6, 0, 0);
    ais_tensor_destroy(y);
    AIS_ASSERT_OK(run("IsInf", NULL, t, NULL, &y));
    ais_test_assert_close_values(y, (const double[]){0, 0, 1, 1, 0, 0}, 6, 0, 0);
    ais_tensor_destroy(y);
    a = attrs_new();
    AIS_ASSERT_OK(ais_attrs_set_int(a, "detect_negative", 0));
    AIS_ASSERT_OK(run("IsInf", a, t, NULL, &y));
    ais_test_assert_close_values(y, (const double[]){0, 0, 1, 0, 0, 0}, 6, 0, 0);
    ais_tensor_destroy(y);
    AIS_ASSERT_OK(ais_attrs_set_int(a, "detect_negative", 1));
    AIS_ASSERT_OK(ais_attrs_set_int(a, "detect_positive", 0));
    AIS_ASSERT_OK(run("IsInf", a, t, NULL, &y));
    ais_test_assert_close_values(y, (const double[]){0, 0, 0, 1, 0, 0}, 6, 0, 0);
    ais_tensor_destroy(y);
    ais_attrs_destroy(a);
    /* Relu lets NaN through, Round rounds halves to even */
    AIS_ASSERT_OK(run("Relu", NULL, t, NULL, &y));
    ais_test_assert_close_values(y, (const double[]){1, NAN, INFINITY, 0, 0, 3e38}, 6, 1e-7, 0);
    ais_tensor_destroy(y);
    ais_tensor_destroy(t);
    t = ais_test_tensor(AIS_DTYPE_F32, AIS_SHAPE(6),
                        (const double[]){0.5, 1.5, 2.5, -0.5, -2.5, 2.6});
    AIS_ASSERT_OK(run("Round", NULL, t, NULL, &y));
    ais_test_assert_close_values(y, (const double[]){0, 2, 2, -0.0, -2, 3}, 6, 0, 0);
    ais_tensor_destroy(y);
    ais_tensor_destroy(t);
    t = ais_test_tensor(AIS_DTYPE_BOOL, AIS_SHAPE(3), (const double[]){1, 0, 1});
    AIS_ASSERT_OK(run("Not", NULL, t, NULL, &y));
    ais_test_assert_close_values(y, (const double[]){0, 1, 0}, 3, 0, 0);
    ais_tensor_destroy(y);
    /* a float-only operator refuses bool and integers, naming the dtype */
    AIS_ASSERT_STATUS(run("Exp", NULL, t, NULL, &y), AIS_E_DTYPE);
    ais_test_assert_error_contains("bool");
    ais_test_assert_error_contains("Exp");
    ais_tensor_destroy(t);
}

static void test_unary_int(void **state) {
    (void)state;
    static const ais_dtype dts[] = {AIS_DTYPE_I8, AIS_DTYPE_I16, AIS_DTYPE_I32, AIS_DTYPE_I64};
    static const unary_case ic[] = {{"Abs", r_abs, -100, 100, NULL, 0, NULL, 0},
                                    {"Neg", r_neg, -100, 100, NULL, 0, NULL, 0},
                                    {"Sign", r_sign, -100, 100, NULL, 0, NULL, 0},
                                    {"Relu", r_relu, -100, 100, NULL, 0, NULL, 0}};
    for (size_t d = 0; d < AIS__ARRAY_LEN(dts); d++)
        for (size_t k = 0; k < AIS__ARRAY_LEN(ic); k++)
            check_unary(&ic[k], dts[d], AIS_SHAPE(3, 67), 0, 0);
    check_unary(&ic[0], AIS_DTYPE_U8, AIS_SHAPE(10), 0, 0);
    check_unary(&ic[2], AIS_DTYPE_U32, AIS_SHAPE(10), 0, 0);
    /* INT_MIN wraps instead of trapping */
    ais_tensor *t = ais_test_tensor(AIS_DTYPE_I8, AIS_SHAPE(3), (const double[]){-128, 127, 0});
    ais_tensor *y = NULL;
    AIS_ASSERT_OK(run("Abs", NULL, t, NULL, &y));
    ais_test_assert_close_values(y, (const double[]){-128, 127, 0}, 3, 0, 0);
    ais_tensor_destroy(y);
    AIS_ASSERT_OK(run("Neg", NULL, t, NULL, &y));
    ais_test_assert_close_values(y, (const double[]){-128, -127, 0}, 3, 0, 0);
    ais_tensor_destroy(y);
    ais_tensor_destroy(t);
    /* Neg of an unsigned type is not in the schema */
    t = ais_test_tensor(AIS_DTYPE_U8, AIS_SHAPE(1), (const double[]){1});
    AIS_ASSERT_STATUS(run("Neg", NULL, t, NULL, &y), AIS_E_DTYPE);
    ais_test_assert_error_contains("u8");
    ais_tensor_destroy(t);
}

static void test_clip(void **state) {
    (void)state;
    ais_tensor *x = rand_tensor(AIS_DTYPE_F32, AIS_SHAPE(4, 129), -3, 3), *y = NULL;
    size_t n = ais_tensor_size(x);
    double *want = malloc(n * sizeof(double));
    /* opset 6: attributes */
    ais_attrs *a = attrs_new();
    AIS_ASSERT_OK(ais_attrs_set_float(a, "min", -1.0f));
    AIS_ASSERT_OK(ais_attrs_set_float(a, "max", 0.5f));
    const ais_tensor *in[3] = {x, NULL, NULL};
    AIS_ASSERT_OK(run_opset("Clip", 6, a, in, 1, &y, 1));
    for (size_t i = 0; i < n; i++)
        want[i] = fmin(0.5, fmax(-1.0, at(x, i)));
    ais_test_assert_close_values(y, want, n, 0, 0);
    ais_tensor_destroy(y);
    /* opset 6 takes no bound inputs */
    ais_tensor *lo = ais_test_tensor(AIS_DTYPE_F32, NULL, 0, (const double[]){-0.25});
    ais_tensor *hi = ais_test_tensor(AIS_DTYPE_F32, NULL, 0, (const double[]){2.0});
    in[1] = lo;
    AIS_ASSERT_STATUS(run_opset("Clip", 6, a, in, 2, &y, 1), AIS_E_INVALID_ARGUMENT);
    /* opset 11: inputs; attributes are ignored; an absent bound does not clip */
    AIS_ASSERT_OK(run_opset("Clip", 11, a, in, 2, &y, 1));
    for (size_t i = 0; i < n; i++)
        want[i] = fmax(-0.25, at(x, i));
    ais_test_assert_close_values(y, want, n, 0, 0);
    ais_tensor_destroy(y);
    in[1] = NULL;
    in[2] = hi;
    AIS_ASSERT_OK(run_opset("Clip", 13, NULL, in, 3, &y, 1));
    for (size_t i = 0; i < n; i++)
        want[i] = fmin(2.0, at(x, i));
    ais_test_assert_close_values(y, want, n, 0, 0);
    ais_tensor_destroy(y);
    AIS_ASSERT_OK(run_opset("Clip", 13, NULL, in, 1, &y, 1));
    for (size_t i = 0; i < n; i++)
        want[i] = at(x, i);
    ais_test_assert_close_values(y, want, n, 0, 0);
    ais_tensor_destroy(y);
    /* bounds must be scalars of the input's dtype */
    ais_tensor *bad = ais_test_tensor(AIS_DTYPE_F32, AIS_SHAPE(2), (const double[]){0, 1});
    in[1] = bad;
    AIS_ASSERT_STATUS(run_opset("Clip", 13, NULL, in, 3, &y, 1), AIS_E_SHAPE);
    ais_test_assert_error_contains("min must be a scalar");
    ais_tensor *bad2 = ais_test_tensor(AIS_DTYPE_F64, NULL, 0, (const double[]){0});
    in[1] = bad2;
    AIS_ASSERT_STATUS(run_opset("Clip", 13, NULL, in, 3, &y, 1), AIS_E_DTYPE);
    ais_test_assert_error_contains("f64");
    /* integers (opset 12+) */
    ais_tensor *xi = rand_tensor(AIS_DTYPE_I32, AIS_SHAPE(100), -50, 50);
    ais_tensor *loi = ais_test_tensor(AIS_DTYPE_I32, NULL, 0, (const double[]){-7});
    ais_tensor *hii = ais_test_tensor(AIS_DTYPE_I32, AIS_SHAPE(1), (const double[]){9});
    const ais_tensor *ini[3] = {xi, loi, hii};
    AIS_ASSERT_OK(run_opset("Clip", 13, NULL, ini, 3, &y, 1));
    for (size_t i = 0; i < 100; i++)
        want[i] = fmin(9, fmax(-7, at(xi, i)));
    ais_test_assert_close_values(y, want, 100, 0, 0);
    ais_tensor_destroy(y);
    /* f16 through f32 */
    ais_tensor *xh = rand_tensor(AIS_DTYPE_F16, AIS_SHAPE(64), -3, 3);
    ais_tensor *loh = rand_tensor(AIS_DTYPE_F16, NULL, 0, -1, -1);
    const ais_tensor *inh[2] = {xh, loh};
    AIS_ASSERT_OK(run_opset("Clip", 13, NULL, inh, 2, &y, 1));
    for (size_t i = 0; i < 64; i++)
        want[i] = fmax(at(loh, 0), at(xh, i));
    ais_test_assert_close_values(y, want, 64, 0, 0);
    ais_tensor_destroy(y);
    ais_tensor *objs[] = {x, lo, hi, bad, bad2, xi, loi, hii, xh, loh};
    for (size_t i = 0; i < AIS__ARRAY_LEN(objs); i++)
        ais_tensor_destroy(objs[i]);
    ais_attrs_destroy(a);
    free(want);
}

/* ---- binary ---- */

typedef double (*ref2_fn)(double a, double b);
static double r_add(double a, double b) { return a + b; }
static double r_sub(double a, double b) { return a - b; }
static double r_mul(double a, double b) { return a * b; }
static double r_div(double a, double b) { return a / b; }
static double r_pow(double a, double b) { return pow(a, b); }
static double r_max(double a, double b) { return a > b ? a : b; }
static double r_min(double a, double b) { return a < b ? a : b; }
static double r_eq(double a, double b) { return a == b; }
static double r_lt(double a, double b) { return a < b; }
static double r_gt(double a, double b) { return a > b; }
static double r_le(double a, double b) { return a <= b; }
static double r_ge(double a, double b) { return a >= b; }
static double r_prelu(double a, double b) { return a < 0 ? a * b : a; }
static double r_and(double a, double b) { return a != 0 && b != 0; }
static double r_or(double a, double b) { return a != 0 || b != 0; }
static double r_xor(double a, double b) { return (a != 0) != (b != 0); }
static double r_idiv(double a, double b) { return b == 0 ? 0 : trunc(a / b); }
static double r_fmod(double a, double b) { return b == 0 ? 0 : fmod(a, b); }
static double r_pymod(double a, double b) {
    if (b == 0) return 0;
    double r = fmod(a, b);
    return (r != 0 && (r < 0) != (b < 0)) ? r + b : r;
}

typedef struct shape_pair {
    int64_t a[4], b[4];
    size_t na, nb;
} shape_pair;

static const shape_pair pairs[] = {
    {{1023}, {1023}, 1, 1},       {{3, 1, 5}, {4, 1}, 3, 2}, {{2, 3}, {0}, 2, 0},
    {{0}, {2, 3}, 0, 2},          {{4, 5}, {5}, 2, 1},       {{5}, {4, 5}, 1, 2},
    {{5, 1}, {1, 6}, 2, 2},       {{0, 3}, {3}, 2, 1},       {{2, 0, 3}, {1, 3}, 3, 2},
    {{2, 3, 4}, {2, 1, 4}, 3, 3}, {{1, 1}, {7}, 2, 1},       {{7, 1, 9}, {7, 9, 1}, 3, 3},
};

static void check_binary(const char *op, const ais_attrs *attrs, ais_dtype dt, ais_dtype out_dt,
                         const shape_pair *sp, ref2_fn ref, double lo, double hi, double blo,
                         double bhi, double rtol) {
    ais_tensor *a = rand_tensor(dt, sp->a, sp->na, lo, hi);
    ais_tensor *b = rand_tensor(dt, sp->b, sp->nb, blo, bhi);
    ais_tensor *y = NULL;
    ais_status st = run(op, attrs, a, b, &y);
    if (st != AIS_OK) fail_msg("%s on %s: %s", op, ais_dtype_name(dt), ais_last_error());
    assert_int_equal(ais_tensor_dtype(y), out_dt);
    size_t n = ais_tensor_size(y), on = ais_tensor_ndim(y);
    const int64_t *od = ais_tensor_shape(y);
    double *want = malloc((n ? n : 1) * sizeof(double));
    for (size_t i = 0; i < n; i++)
        want[i] =
            ref(at(a, bc_off(i, od, on, sp->a, sp->na)), at(b, bc_off(i, od, on, sp->b, sp->nb)));
    ais_test_assert_close_values(y, want, n, rtol, rtol * 1e-2);
    free(want);
    ais_tensor_destroy(a);
    ais_tensor_destroy(b);
    ais_tensor_destroy(y);
}

typedef struct binary_case {
    const char *op;
    ref2_fn ref;
    double lo, hi, blo, bhi;
    bool to_bool;
} binary_case;

static const binary_case binary_cases[] = {
    {"Add", r_add, -5, 5, -5, 5, false},       {"Sub", r_sub, -5, 5, -5, 5, false},
    {"Mul", r_mul, -5, 5, -5, 5, false},       {"Div", r_div, -5, 5, 0.5, 5, false},
    {"Pow", r_pow, 0.1, 3, -2, 2, false},      {"Max", r_max, -5, 5, -5, 5, false},
    {"Min", r_min, -5, 5, -5, 5, false},       {"Sum", r_add, -5, 5, -5, 5, false},
    {"Mean", NULL, -5, 5, -5, 5, false},       {"Equal", r_eq, -2, 2, -2, 2, true},
    {"Less", r_lt, -5, 5, -5, 5, true},        {"Greater", r_gt, -5, 5, -5, 5, true},
    {"LessOrEqual", r_le, -2, 2, -2, 2, true}, {"GreaterOrEqual", r_ge, -2, 2, -2, 2, true},
};

static double r_mean2(double a, double b) { return (a + b) / 2; }

static void test_binary_f32_broadcast(void **state) {
    (void)state;
    for (size_t k = 0; k < AIS__ARRAY_LEN(binary_cases); k++) {
        const binary_case *c = &binary_cases[k];
        ref2_fn ref = c->ref ? c->ref : r_mean2;
        for (size_t s = 0; s < AIS__ARRAY_LEN(pairs); s++) {
            bool integral = c->to_bool && (strcmp(c->op, "Equal") == 0 || c->lo == -2);
            /* Equal and <=, >= are tested on whole numbers so that ties occur */
            if (integral) {
                check_binary(c->op, NULL, AIS_DTYPE_I32, AIS_DTYPE_BOOL, &pairs[s], ref, c->lo,
                             c->hi, c->blo, c->bhi, 0);
                check_binary(c->op, NULL, AIS_DTYPE_F32, AIS_DTYPE_BOOL, &pairs[s], ref, 0, 1, 0, 1,
                             0);
            } else {
                check_binary(c->op, NULL, AIS_DTYPE_F32,
                             c->to_bool ? AIS_DTYPE_BOOL : AIS_DTYPE_F32, &pairs[s], ref, c->lo,
                             c->hi, c->blo, c->bhi, c->to_bool ? 0 : 1e-5);
            }
        }
        /* f64, f16, bf16 on one broadcasting pair */
        ais_dtype o = c->to_bool ? AIS_DTYPE_BOOL : AIS_DTYPE_F64;
        check_binary(c->op, NULL, AIS_DTYPE_F64, o, &pairs[1], ref, c->lo, c->hi, c->blo, c->bhi,
                     c->to_bool ? 0 : 1e-12);
        if (!c->to_bool) {
            check_binary(c->op, NULL, AIS_DTYPE_F16, AIS_DTYPE_F16, &pairs[4], ref, c->lo, c->hi,
                         c->blo, c->bhi, 2e-3);
            check_binary(c->op, NULL, AIS_DTYPE_BF16, AIS_DTYPE_BF16, &pairs[1], ref, c->lo, c->hi,
                         c->blo, c->bhi, 1.6e-2);
        }
    }
}

static void test_binary_int(void **state) {
    (void)state;
    static const ais_dtype dts[] = {AIS_DTYPE_I8, AIS_DTYPE_I16, AIS_DTYPE_I32, AIS_DTYPE_I64,
                                    AIS_DTYPE_U8, AIS_DTYPE_U16, AIS_DTYPE_U32, AIS_DTYPE_U64};
    for (size_t d = 0; d < AIS__ARRAY_LEN(dts); d++) {
        bool s = ais__dtype_is_signed(dts[d]);
        double lo = s ? -10 : 0;
        for (size_t p = 0; p < 6; p++) {
            check_binary("Add", NULL, dts[d], dts[d], &pairs[p], r_add, 0, 10, 0, 10, 0);
            check_binary("Mul", NULL, dts[d], dts[d], &pairs[p], r_mul, lo, 10, lo, 10, 0);
            check_binary("Max", NULL, dts[d], dts[d], &pairs[p], r_max, lo, 10, lo, 10, 0);
            check_binary("Min", NULL, dts[d], dts[d], &pairs[p], r_min, lo, 10, lo, 10, 0);
            check_binary("Div", NULL, dts[d], dts[d], &pairs[p], r_idiv, lo, 100, lo, 10, 0);
            check_binary("Less", NULL, dts[d], AIS_DTYPE_BOOL, &pairs[p], r_lt, lo, 10, lo, 10, 0);
            ais_attrs *a = attrs_new();
            check_binary("Mod", a, dts[d], dts[d], &pairs[p], r_pymod, lo, 100, lo, 10, 0);
            AIS_ASSERT_OK(ais_attrs_set_int(a, "fmod", 1));
            check_binary("Mod", a, dts[d], dts[d], &pairs[p], r_fmod, lo, 100, lo, 10, 0);
            ais_attrs_destroy(a);
            if (s) check_binary("Sub", NULL, dts[d], dts[d], &pairs[p], r_sub, lo, 10, lo, 10, 0);
            if (s)
                check_binary("PRelu", NULL, dts[d], dts[d], &pairs[4], r_prelu, lo, 10, lo, 10, 0);
        }
    }
    /* float Mod, both signs */
    ais_attrs *a = attrs_new();
    AIS_ASSERT_OK(ais_attrs_set_int(a, "fmod", 1));
    check_binary("Mod", a, AIS_DTYPE_F32, AIS_DTYPE_F32, &pairs[1], r_fmod, -10, 10, 0.5, 3, 1e-5);
    check_binary("Mod", a, AIS_DTYPE_F32, AIS_DTYPE_F32, &pairs[1], r_fmod, -10, 10, -3, -0.5,
                 1e-5);
    ais_attrs_destroy(a);

    /* Wrapping and traps: INT_MIN / -1, division and modulo by zero */
    ais_tensor *x = ais_test_tensor(AIS_DTYPE_I32, AIS_SHAPE(5),
                                    (const double[]){INT32_MIN, INT32_MIN, 7, -7, INT32_MAX});
    ais_tensor *y = ais_test_tensor(AIS_DTYPE_I32, AIS_SHAPE(5), (const double[]){-1, 0, 0, 2, 1});
    ais_tensor *z = NULL;
    AIS_ASSERT_OK(run("Div", NULL, x, y, &z));
    ais_test_assert_close_values(z, (const double[]){INT32_MIN, 0, 0, -3, INT32_MAX}, 5, 0, 0);
    ais_tensor_destroy(z);
    AIS_ASSERT_OK(run("Mod", NULL, x, y, &z));
    ais_test_assert_close_values(z, (const double[]){0, 0, 0, 1, 0}, 5, 0, 0);
    ais_tensor_destroy(z);
    AIS_ASSERT_OK(run("Add", NULL, x, x, &z)); /* wraps */
    ais_test_assert_close_values(z, (const double[]){0, 0, 14, -14, -2}, 5, 0, 0);
    ais_tensor_destroy(z);
    ais_tensor_destroy(x);
    ais_tensor_destroy(y);
    x = ais_test_tensor(AIS_DTYPE_I64, AIS_SHAPE(2), (const double[]){-9.2233720368547758e18, 5});
    y = ais_test_tensor(AIS_DTYPE_I64, AIS_SHAPE(2), (const double[]){-1, 0});
    AIS_ASSERT_OK(run("Div", NULL, x, y, &z));
    assert_true(((int64_t *)ais_tensor_data(z))[0] == INT64_MIN);
    assert_true(((int64_t *)ais_tensor_data(z))[1] == 0);
    ais_tensor_destroy(z);
    ais_tensor_destroy(x);
    ais_tensor_destroy(y);
}

static void test_logic_bitshift(void **state) {
    (void)state;
    static const struct {
        const char *op;
        ref2_fn ref;
    } lc[] = {{"And", r_and}, {"Or", r_or}, {"Xor", r_xor}, {"Equal", r_eq}};
    for (size_t k = 0; k < AIS__ARRAY_LEN(lc); k++)
        for (size_t p = 0; p < AIS__ARRAY_LEN(pairs); p++)
            check_binary(lc[k].op, NULL, AIS_DTYPE_BOOL, AIS_DTYPE_BOOL, &pairs[p], lc[k].ref, 0, 1,
                         0, 1, 0);
    ais_tensor *x = ais_test_tensor(AIS_DTYPE_U8, AIS_SHAPE(4), (const double[]){1, 255, 16, 3});
    ais_tensor *s = ais_test_tensor(AIS_DTYPE_U8, AIS_SHAPE(4), (const double[]){1, 1, 8, 200});
    ais_tensor *z = NULL;
    ais_attrs *a = attrs_new();
    AIS_ASSERT_OK(ais_attrs_set_string(a, "direction", "LEFT"));
    AIS_ASSERT_OK(run("BitShift", a, x, s, &z));
    ais_test_assert_close_values(z, (const double[]){2, 254, 0, 0}, 4, 0, 0);
    ais_tensor_destroy(z);
    AIS_ASSERT_OK(ais_attrs_set_string(a, "direction", "RIGHT"));
    AIS_ASSERT_OK(run("BitShift", a, x, s, &z));
    ais_test_assert_close_values(z, (const double[]){0, 127, 0, 0}, 4, 0, 0);
    ais_tensor_destroy(z);
    AIS_ASSERT_OK(ais_attrs_set_string(a, "direction", "UP"));
    AIS_ASSERT_STATUS(run("BitShift", a, x, s, &z), AIS_E_INVALID_ARGUMENT);
    ais_test_assert_error_contains("UP");
    ais_attrs_destroy(a);
    ais_tensor_destroy(x);
    ais_tensor_destroy(s);
    /* And on floats is refused */
    x = ais_test_rand_f32(AIS_SHAPE(2), 0, 1);
    AIS_ASSERT_STATUS(run("And", NULL, x, x, &z), AIS_E_DTYPE);
    ais_test_assert_error_contains("f32");
    ais_tensor_destroy(x);
}

static void test_pow_mixed(void **state) {
    (void)state;
    ais_tensor *x = rand_tensor(AIS_DTYPE_F32, AIS_SHAPE(3, 50), 0.1, 3);
    ais_tensor *e = rand_tensor(AIS_DTYPE_I64, AIS_SHAPE(50), -3, 3);
    ais_tensor *z = NULL;
    AIS_ASSERT_OK(run("Pow", NULL, x, e, &z));
    assert_int_equal(ais_tensor_dtype(z), AIS_DTYPE_F32);
    double want[150];
    for (size_t i = 0; i < 150; i++)
        want[i] = pow(at(x, i), at(e, i % 50));
    ais_test_assert_close_values(z, want, 150, 1e-5, 0);
    ais_tensor_destroy(z);
    ais_tensor_destroy(e);
    /* integer base, integer and float exponents */
    ais_tensor *b = rand_tensor(AIS_DTYPE_I32, AIS_SHAPE(40), -5, 5);
    e = rand_tensor(AIS_DTYPE_I32, AIS_SHAPE(40), 0, 5);
    AIS_ASSERT_OK(run("Pow", NULL, b, e, &z));
    for (size_t i = 0; i < 40; i++)
        want[i] = pow(at(b, i), at(e, i));
    ais_test_assert_close_values(z, want, 40, 0, 0);
    ais_tensor_destroy(z);
    ais_tensor_destroy(e);
    e = ais_test_tensor(AIS_DTYPE_F32, NULL, 0, (const double[]){2.0});
    AIS_ASSERT_OK(run("Pow", NULL, b, e, &z));
    assert_int_equal(ais_tensor_dtype(z), AIS_DTYPE_I32);
    for (size_t i = 0; i < 40; i++)
        want[i] = at(b, i) * at(b, i);
    ais_test_assert_close_values(z, want, 40, 0, 0);
    ais_tensor_destroy(z);
    ais_tensor_destroy(e);
    ais_tensor_destroy(b);
    ais_tensor_destroy(x);
}

static void test_prelu_where(void **state) {
    (void)state;
    ais_tensor *x = rand_tensor(AIS_DTYPE_F32, AIS_SHAPE(2, 3, 4, 5), -5, 5);
    ais_tensor *s = rand_tensor(AIS_DTYPE_F32, AIS_SHAPE(3, 1, 1), 0, 1);
    ais_tensor *z = NULL;
    AIS_ASSERT_OK(run("PRelu", NULL, x, s, &z));
    double want[120];
    for (size_t i = 0; i < 120; i++)
        want[i] = r_prelu(at(x, i), at(s, (i / 20) % 3));
    ais_test_assert_close_values(z, want, 120, 1e-6, 0);
    ais_tensor_destroy(z);
    /* the slope may not widen X */
    ais_tensor *big = rand_tensor(AIS_DTYPE_F32, AIS_SHAPE(7, 2, 3, 4, 5), 0, 1);
    AIS_ASSERT_STATUS(run("PRelu", NULL, x, big, &z), AIS_E_SHAPE);
    ais_test_assert_error_contains("[7, 2, 3, 4, 5]");
    ais_tensor_destroy(big);
    ais_tensor_destroy(s);
    ais_tensor_destroy(x);

    /* Where: three-way broadcasting, several element sizes */
    static const ais_dtype dts[] = {AIS_DTYPE_F32, AIS_DTYPE_I64, AIS_DTYPE_U8, AIS_DTYPE_F16,
                                    AIS_DTYPE_F64};
    for (size_t d = 0; d < AIS__ARRAY_LEN(dts); d++) {
        ais_tensor *c = rand_tensor(AIS_DTYPE_BOOL, AIS_SHAPE(3, 1), 0, 1);
        ais_tensor *a = rand_tensor(dts[d], AIS_SHAPE(1, 4), 0, 100);
        ais_tensor *b = rand_tensor(dts[d], NULL, 0, 0, 100);
        const ais_tensor *in[3] = {c, a, b};
        AIS_ASSERT_OK(ais_op_run("Where", NULL, in, 3, &z, 1));
        assert_int_equal(ais_tensor_ndim(z), 2);
        assert_int_equal(ais_tensor_dtype(z), dts[d]);
        double w[12];
        for (size_t i = 0; i < 12; i++)
            w[i] = at(c, i / 4) != 0 ? at(a, i % 4) : at(b, 0);
        ais_test_assert_close_values(z, w, 12, 0, 0);
        ais_tensor_destroy(z);
        z = NULL;
        /* and the same-shape fast path */
        ais_tensor *c2 = rand_tensor(AIS_DTYPE_BOOL, AIS_SHAPE(1000), 0, 1);
        ais_tensor *a2 = rand_tensor(dts[d], AIS_SHAPE(1000), 0, 100);
        ais_tensor *b2 = rand_tensor(dts[d], AIS_SHAPE(1000), 0, 100);
        const ais_tensor *in2[3] = {c2, a2, b2};
        AIS_ASSERT_OK(ais_op_run("Where", NULL, in2, 3, &z, 1));
        double w2[1000];
        for (size_t i = 0; i < 1000; i++)
            w2[i] = at(c2, i) != 0 ? at(a2, i) : at(b2, i);
        ais_test_assert_close_values(z, w2, 1000, 0, 0);
        ais_tensor_destroy(z);
        z = NULL;
        ais_tensor *objs[] = {c, a, b, c2, a2, b2};
        for (size_t i = 0; i < 6; i++)
            ais_tensor_destroy(objs[i]);
    }
    ais_tensor *c = rand_tensor(AIS_DTYPE_F32, AIS_SHAPE(3), 0, 1);
    const ais_tensor *in[3] = {c, c, c};
    AIS_ASSERT_STATUS(ais_op_run("Where", NULL, in, 3, &z, 1), AIS_E_DTYPE);
    ais_test_assert_error_contains("bool");
    ais_tensor_destroy(c);
}

static void test_variadic(void **state) {
    (void)state;
    static const char *const ops[] = {"Sum", "Mean", "Max", "Min"};
    static const ais_dtype dts[] = {AIS_DTYPE_F32, AIS_DTYPE_F16, AIS_DTYPE_F64};
    for (size_t d = 0; d < AIS__ARRAY_LEN(dts); d++) {
        for (size_t k = 0; k < AIS__ARRAY_LEN(ops); k++) {
            for (size_t n_in = 1; n_in <= 4; n_in++) {
                /* shapes [3,1,5], [4,1], [5], [] in turn */
                ais_tensor *in[4] = {rand_tensor(dts[d], AIS_SHAPE(3, 1, 5), -5, 5),
                                     rand_tensor(dts[d], AIS_SHAPE(4, 1), -5, 5),
                                     rand_tensor(dts[d], AIS_SHAPE(5), -5, 5),
                                     rand_tensor(dts[d], NULL, 0, -5, 5)};
                ais_tensor *z = NULL;
                AIS_ASSERT_OK(ais_op_run(ops[k], NULL, (const ais_tensor *const *)in, n_in, &z, 1));
                size_t n = ais_tensor_size(z);
                double want[60];
                for (size_t i = 0; i < n; i++) {
                    double acc = 0;
                    for (size_t j = 0; j < n_in; j++) {
                        double v = at(in[j], bc_off(i, ais_tensor_shape(z), ais_tensor_ndim(z),
                                                    in[j]->dims, in[j]->ndim));
                        if (j == 0)
                            acc = v;
                        else if (k <= 1)
                            acc += v;
                        else
                            acc = k == 2 ? fmax(acc, v) : fmin(acc, v);
                    }
                    want[i] = k == 1 ? acc / (double)n_in : acc;
                }
                /* f16 rounds every partial result */
                bool h = dts[d] == AIS_DTYPE_F16;
                ais_test_assert_close_values(z, want, n, h ? 4e-3 : 1e-5, h ? 0.05 : 1e-5);
                ais_tensor_destroy(z);
                for (size_t j = 0; j < 4; j++)
                    ais_tensor_destroy(in[j]);
            }
        }
    }
    /* integers for Max, Min and Sum; Mean refuses them */
    ais_tensor *a = rand_tensor(AIS_DTYPE_I64, AIS_SHAPE(2, 3), -9, 9);
    ais_tensor *b = rand_tensor(AIS_DTYPE_I64, AIS_SHAPE(3), -9, 9);
    ais_tensor *in[3] = {a, b, a};
    ais_tensor *z = NULL;
    AIS_ASSERT_OK(ais_op_run("Max", NULL, (const ais_tensor *const *)in, 3, &z, 1));
    double want[6];
    for (size_t i = 0; i < 6; i++)
        want[i] = fmax(at(a, i), at(b, i % 3));
    ais_test_assert_close_values(z, want, 6, 0, 0);
    ais_tensor_destroy(z);
    z = NULL;
    AIS_ASSERT_OK(ais_op_run("Sum", NULL, (const ais_tensor *const *)in, 3, &z, 1));
    for (size_t i = 0; i < 6; i++)
        want[i] = 2 * at(a, i) + at(b, i % 3);
    ais_test_assert_close_values(z, want, 6, 0, 0);
    ais_tensor_destroy(z);
    z = NULL;
    AIS_ASSERT_STATUS(ais_op_run("Mean", NULL, (const ais_tensor *const *)in, 3, &z, 1),
                      AIS_E_DTYPE);
    /* mixed dtypes and shapes that do not broadcast name the culprit */
    ais_tensor *f = rand_tensor(AIS_DTYPE_F32, AIS_SHAPE(3), 0, 1);
    ais_tensor *g = rand_tensor(AIS_DTYPE_F32, AIS_SHAPE(4), 0, 1);
    in[2] = f;
    AIS_ASSERT_STATUS(ais_op_run("Min", NULL, (const ais_tensor *const *)in, 3, &z, 1),
                      AIS_E_DTYPE);
    ais_test_assert_error_contains("input 2 is f32");
    ais_tensor *in2[3] = {f, f, g};
    AIS_ASSERT_STATUS(ais_op_run("Sum", NULL, (const ais_tensor *const *)in2, 3, &z, 1),
                      AIS_E_SHAPE);
    ais_test_assert_error_contains("[4]");
    assert_null(z);
    ais_tensor_destroy(a);
    ais_tensor_destroy(b);
    ais_tensor_destroy(f);
    ais_tensor_destroy(g);
}

static void test_binary_errors(void **state) {
    (void)state;
    ais_tensor *a = ais_test_rand_f32(AIS_SHAPE(3, 1, 5), 0, 1);
    ais_tensor *b = ais_test_rand_f32(AIS_SHAPE(4, 2), 0, 1);
    ais_tensor *z = NULL;
    AIS_ASSERT_STATUS(run("Add", NULL, a, b, &z), AIS_E_SHAPE);
    ais_test_assert_error_contains("Add");
    ais_test_assert_error_contains("[3, 1, 5]");
    ais_test_assert_error_contains("[4, 2]");
    ais_test_assert_error_contains("broadcast");
    assert_null(z);
    ais_tensor *i = rand_tensor(AIS_DTYPE_I64, AIS_SHAPE(5), 0, 3);
    AIS_ASSERT_STATUS(run("Add", NULL, a, i, &z), AIS_E_DTYPE);
    ais_test_assert_error_contains("f32");
    ais_test_assert_error_contains("i64");
    AIS_ASSERT_STATUS(run("Less", NULL, i, a, &z), AIS_E_DTYPE);
    /* a caller-provided output of the wrong shape, then of the right one (written in place) */
    ais_tensor *wrong = NULL;
    AIS_ASSERT_OK(ais_tensor_create(AIS_DTYPE_F32, AIS_SHAPE(3, 5), &wrong));
    const ais_tensor *in[2] = {a, a};
    AIS_ASSERT_STATUS(ais_op_run("Mul", NULL, in, 2, &wrong, 1), AIS_E_SHAPE);
    ais_test_assert_error_contains("[3, 5]");
    assert_non_null(wrong);
    ais_tensor_destroy(wrong);
    /* the right shape but the wrong element type is a dtype error */
    AIS_ASSERT_OK(ais_tensor_create(AIS_DTYPE_F64, AIS_SHAPE(3, 1, 5), &wrong));
    AIS_ASSERT_STATUS(ais_op_run("Mul", NULL, in, 2, &wrong, 1), AIS_E_DTYPE);
    ais_test_assert_error_contains("f64");
    ais_tensor_destroy(wrong);
    AIS_ASSERT_OK(ais_tensor_create(AIS_DTYPE_F32, AIS_SHAPE(3, 1, 5), &wrong));
    AIS_ASSERT_OK(ais_op_run("Mul", NULL, in, 2, &wrong, 1));
    for (size_t k = 0; k < 15; k++)
        assert_float_equal(((float *)ais_tensor_data(wrong))[k], at(a, k) * at(a, k), 1e-6);
    ais_tensor_destroy(wrong);
    /* the wrong input count */
    AIS_ASSERT_STATUS(ais_op_run("Add", NULL, in, 1, &z, 1), AIS_E_INVALID_ARGUMENT);
    ais_tensor_destroy(a);
    ais_tensor_destroy(b);
    ais_tensor_destroy(i);
}

/* Large enough to be split across threads, with a bias-style broadcast. */
static void test_threaded(void **state) {
    (void)state;
    AIS_ASSERT_OK(ais_set_num_threads(4));
    ais_tensor *a = ais_test_rand_f32(AIS_SHAPE(301, 997), -1, 1);
    ais_tensor *b = ais_test_rand_f32(AIS_SHAPE(997), -1, 1);
    ais_tensor *c = ais_test_rand_f32(AIS_SHAPE(301, 1), -1, 1);
    ais_tensor *z = NULL;
    AIS_ASSERT_OK(run("Add", NULL, a, b, &z));
    const float *pz = ais_tensor_data(z), *pa = ais_tensor_data(a), *pb = ais_tensor_data(b);
    for (size_t i = 0; i < 301 * 997; i++)
        assert_true(pz[i] == pa[i] + pb[i % 997]);
    ais_tensor_destroy(z);
    AIS_ASSERT_OK(run("Sub", NULL, c, b, &z));
    pz = ais_tensor_data(z);
    const float *pc = ais_tensor_data(c);
    for (size_t i = 0; i < 301 * 997; i++)
        assert_true(pz[i] == pc[i / 997] - pb[i % 997]);
    ais_tensor_destroy(z);
    AIS_ASSERT_OK(run("Sigmoid", NULL, a, NULL, &z));
    pz = ais_tensor_data(z);
    for (size_t i = 0; i < 301 * 997; i += 37)
        assert_float_equal(pz[i], 1 / (1 + exp(-(double)pa[i])), 1e-6);
    ais_tensor_destroy(z);
    ais_tensor_destroy(a);
    ais_tensor_destroy(b);
    ais_tensor_destroy(c);
    AIS_ASSERT_OK(ais_set_num_threads(1));
}

/* ---- allocation failures ---- */

typedef struct sweep_ctx {
    const char *op;
    const ais_tensor *in[3];
    size_t n_in;
    ais_attrs *attrs;
    ais_tensor *out;
} sweep_ctx;

static ais_status sweep_run(void *p) {
    sweep_ctx *c = p;
    c->out = NULL;
    return ais_op_run(c->op, c->attrs, c->in, c->n_in, &c->out, 1);
}

static void test_oom(void **state) {
    (void)state;
    ais_tensor *a = ais_test_rand_f32(AIS_SHAPE(3, 1, 5), 0, 1);
    ais_tensor *b = ais_test_rand_f32(AIS_SHAPE(4, 1), 0, 1);
    sweep_ctx c = {.op = "Add", .in = {a, b}, .n_in = 2};
    assert_true(AIS_TEST_OOM_SWEEP("Add", sweep_run, &c, 20, AIS_OWN_TENSOR(&c.out)) >= 1);
    c.op = "Sum";
    c.in[2] = a;
    c.n_in = 3;
    assert_true(AIS_TEST_OOM_SWEEP("Sum", sweep_run, &c, 20, AIS_OWN_TENSOR(&c.out)) >= 1);
    c.op = "Sigmoid";
    c.n_in = 1;
    assert_true(AIS_TEST_OOM_SWEEP("Sigmoid", sweep_run, &c, 20, AIS_OWN_TENSOR(&c.out)) >= 1);
    ais_tensor_destroy(a);
    ais_tensor_destroy(b);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_unary_f32),
        cmocka_unit_test(test_unary_f64_f16_bf16),
        cmocka_unit_test(test_unary_gelu_tanh_and_tests),
        cmocka_unit_test(test_unary_int),
        cmocka_unit_test(test_clip),
        cmocka_unit_test(test_binary_f32_broadcast),
        cmocka_unit_test(test_binary_int),
        cmocka_unit_test(test_logic_bitshift),
        cmocka_unit_test(test_pow_mixed),
        cmocka_unit_test(test_prelu_where),
        cmocka_unit_test(test_variadic),
        cmocka_unit_test(test_binary_errors),
        cmocka_unit_test(test_threaded),
        cmocka_unit_test(test_oom),
    };
    ais_test_seed();
    return cmocka_run_group_tests(tests, NULL, NULL);
}
