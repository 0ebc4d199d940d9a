/*
 * test_cuda_ops.c - the CUDA backend. Without a device: every entry point answers
 * AIS_E_NO_DEVICE (or a clean argument error) with a message, then the test exits 77 (skipped).
 * With a device: each GPU operator against a naive reference written here, and against the CPU
 * operator through ais_op_run when the registry has it, on fresh random inputs; error bound
 * max|got - ref| / max|ref| <= 1e-5 (f32; 1e-4 for products and transcendental chains), 1e-2 for
 * f16/bf16. AIS_GPU_BENCH=1 adds a timing table (GPU vs CPU on the same inputs).
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ops/op.h"
#include "test_util.h"

#ifdef AIS_HAVE_CUDA
#include "backend/backend.h"
#include "backend/cuda/cuda_internal.h"

static ais__cuda_ctx *g_ctx;

/* Device memory for the tests' tensors: one block, handed out from a bump pointer and reset
 * before each GPU call. (The library plans its own device memory per session.) */
static unsigned char *g_dev;
static size_t g_dev_size, g_dev_used;

static void dev_reset(void) { g_dev_used = 0; }

/* Fills *t as a device tensor of that dtype and shape from the block. */
static ais_status dev_tensor(ais_dtype dtype, const int64_t *dims, size_t ndim, ais_tensor *t) {
    AIS__CHECK(ais__shape_validate(dims, ndim, dtype, "test device tensor"));
    size_t numel = 0, es = ais_dtype_size(dtype);
    (void)ais__shape_numel(dims, ndim, es, &numel);
    size_t start = (g_dev_used + 255) & ~(size_t)255, bytes = numel * es;
    if (start + bytes > g_dev_size)
        return ais__error(AIS_E_OUT_OF_MEMORY, "test device block: %zu bytes wanted, %zu free",
                          bytes, g_dev_size - AIS__MIN(g_dev_size, start));
    ais__tensor_init_borrowed(t, dtype, dims, ndim, g_dev + start);
    g_dev_used = start + bytes;
    return AIS_OK;
}

/* ---- no device ---- */

static void test_no_device_entry_points(void **state) {
    (void)state;
    int n = -1;
    ais_status st = ais__cuda_available(&n);
    if (st == AIS_OK) {
        assert_true(n > 0);
        return;
    }
    assert_int_equal(st, AIS_E_NO_DEVICE);
    assert_int_equal(n, 0);
    ais_test_assert_error_contains("no CUDA device");
    ais__cuda_ctx *c = (ais__cuda_ctx *)0x1;
    AIS_ASSERT_STATUS(ais__cuda_ctx_create(0, &c), AIS_E_NO_DEVICE);
    assert_null(c);
    ais_test_assert_error_contains("no CUDA device");
    char name[128];
    AIS_ASSERT_STATUS(ais__cuda_device_name(0, name, sizeof name), AIS_E_NO_DEVICE);
    ais__cuda_ctx_destroy(NULL);
}

static void test_argument_errors(void **state) {
    (void)state;
    AIS_ASSERT_STATUS(ais__cuda_available(NULL), AIS_E_INVALID_ARGUMENT);
    AIS_ASSERT_STATUS(ais__cuda_ctx_create(0, NULL), AIS_E_INVALID_ARGUMENT);
    AIS_ASSERT_STATUS(ais__cuda_synchronize(NULL), AIS_E_INVALID_ARGUMENT);
    void *p = (void *)0x1;
    AIS_ASSERT_STATUS(ais__cuda_malloc(NULL, 16, &p), AIS_E_INVALID_ARGUMENT);
    ais_tensor *x = ais_test_rand_f32(AIS_SHAPE(4), -1, 1);
    ais_tensor *out[1] = {x};
    const ais_tensor *in[1] = {x};
    AIS_ASSERT_STATUS(ais__cuda_run_node(NULL, "Relu", 21, NULL, in, 1, out, 1),
                      AIS_E_INVALID_ARGUMENT);
    ais_test_assert_error_contains("Relu");
    ais_tensor_destroy(x);
}

/* The backend table resolves operator definitions once, at plan time (its supports), into a map
 * in the context; run_node then finds the entry with one probe. Needs no device: supports never
 * touches CUDA, so a zeroed context stands in for a real one. */
static void test_plan_time_table(void **state) {
    (void)state;
    const ais__backend *be = ais__cuda_backend_table();
    assert_non_null(be);
    assert_int_equal(be->version, AIS__BACKEND_VERSION);
    ais__cuda_ctx fake;
    memset(&fake, 0, sizeof fake);
    ais_tensor *x = ais_test_rand_f32(AIS_SHAPE(2, 3), -1, 1);
    const ais_tensor *one[1] = {x}, *two[2] = {x, x};
    /* more definitions than the map's first size, GPU operators and CPU-only ones mixed */
    static const char *const names[] = {
        "Relu",       "Mod",        "Add",        "NonZero",     "Sigmoid",
        "TopK",       "Tanh",       "Exp",        "Log",         "Sqrt",
        "Abs",        "Neg",        "Floor",      "Ceil",        "Sin",
        "Cos",        "Erf",        "Sub",        "Mul",         "Div",
        "Pow",        "Max",        "Min",        "Tile",        "Softmax",
        "LogSoftmax", "Transpose",  "Identity",   "Reshape",     "Flatten",
        "Squeeze",    "Unsqueeze",  "Elu",        "Softplus",    "HardSigmoid",
        "HardSwish",  "Reciprocal", "Sign",       "Round",       "CumSum",
        "ArgMax",     "ReduceSum",  "ReduceMean", "ReduceMax",   "ReduceMin",
        "Equal",      "Less",       "Greater",    "LessOrEqual", "GreaterOrEqual",
        "Atan",       "Asin",       "Acos",       "Tan",         "Sinh",
        "Cosh"};
    size_t n_defs = 0;
    for (size_t i = 0; i < AIS__ARRAY_LEN(names); i++) {
        const ais__op_def *def = ais__op_find("", names[i], 17);
        if (!def) continue;
        n_defs++;
        bool binary = ais__cuda_op_find(names[i]) && def->max_inputs >= 2 && def->min_inputs >= 2;
        bool got = be->supports(&fake, def, NULL, binary ? two : one, binary ? 2 : 1);
        bool want_gpu = ais__cuda_op_find(names[i]) != NULL;
        if (!want_gpu) assert_false(got);
        /* asked again (a second plan): the same answer from the map */
        assert_int_equal(be->supports(&fake, def, NULL, binary ? two : one, binary ? 2 : 1), got);
    }
    assert_true(n_defs > 32);
    assert_true(fake.n_op_slots == n_defs);
    assert_true(fake.cap_op_slots >= 2 * n_defs);
    /* entries made before the map grew are still found */
    const ais__op_def *relu = ais__op_find("", "Relu", 17);
    assert_true(be->supports(&fake, relu, NULL, one, 1));
    assert_false(be->supports(&fake, ais__op_find("", "Mod", 17), NULL, two, 2));
    /* running a definition that no plan resolved is an internal error, not a name search */
    ais_tensor *out[1] = {x};
    ais__op_ctx octx;
    memset(&octx, 0, sizeof octx);
    octx.opset = 17;
    const ais__op_def *gelu = ais__op_find("", "Gelu", 20);
    if (gelu) {
        AIS_ASSERT_STATUS(be->run_node(&fake, gelu, &octx, one, 1, out, 1), AIS_E_INTERNAL);
        ais_test_assert_error_contains("without being planned");
    }
    /* a planned one reaches CUDA, which, without a device, refuses (with one, the host
     * pointers here must not reach a kernel) */
    int n_dev = 0;
    if (ais__cuda_available(&n_dev) != AIS_OK) {
        AIS_ASSERT_STATUS(be->run_node(&fake, relu, &octx, one, 1, out, 1), AIS_E_NO_DEVICE);
        ais_test_assert_error_contains("no NVIDIA driver / no GPU found");
    }
    ais__free(fake.op_slots);
    ais_tensor_destroy(x);
}

static void test_supports(void **state) {
    (void)state;
    ais__tensor_desc f32 = {AIS_DTYPE_F32, 2, {3, 4}}, i64 = {AIS_DTYPE_I64, 1, {3}};
    ais__tensor_desc f16 = {AIS_DTYPE_F16, 2, {3, 4}}, bl = {AIS_DTYPE_BOOL, 2, {3, 4}};
    const ais__tensor_desc *one[1] = {&f32}, *two[2] = {&f32, &f32}, *mixed[2] = {&f32, &f16};
    assert_true(ais__cuda_supports("Relu", 14, one, 1, NULL));
    assert_true(ais__cuda_supports("Add", 14, two, 2, NULL));
    assert_false(ais__cuda_supports("Add", 14, mixed, 2, NULL));
    assert_false(ais__cuda_supports("NoSuchOp", 14, one, 1, NULL));
    const ais__tensor_desc *ione[1] = {&i64}, *gather[2] = {&f32, &i64},
                           *where[3] = {&bl, &f32, &f32};
    assert_false(ais__cuda_supports("Relu", 14, ione, 1, NULL));
    assert_true(ais__cuda_supports("Gather", 13, gather, 2, NULL));
    assert_true(ais__cuda_supports("Where", 16, where, 3, NULL));
    assert_true(ais__cuda_supports("MatMul", 13, two, 2, NULL));
    assert_false(ais__cuda_supports(NULL, 13, two, 2, NULL));
    ais_attrs *a = NULL;
    AIS_ASSERT_OK(ais_attrs_create(&a));
    AIS_ASSERT_OK(ais_attrs_set_string(a, "activation", "Swish"));
    assert_false(ais__cuda_supports("Gemm", 13, two, 2, a));
    AIS_ASSERT_OK(ais_attrs_set_string(a, "approximate", "bogus"));
    assert_false(ais__cuda_supports("Gelu", 20, one, 1, a));
    ais_attrs_destroy(a);
    /* global pools (any spatial rank, floats) and pools with ceil_mode run on the device */
    ais__tensor_desc x4 = {AIS_DTYPE_F32, 4, {2, 3, 9, 9}}, i4 = {AIS_DTYPE_I32, 4, {2, 3, 9, 9}};
    const ais__tensor_desc *px4[1] = {&x4}, *pi4[1] = {&i4};
    assert_true(ais__cuda_supports("GlobalAveragePool", 1, px4, 1, NULL));
    assert_true(ais__cuda_supports("GlobalMaxPool", 1, px4, 1, NULL));
    assert_false(ais__cuda_supports("GlobalAveragePool", 1, one, 1, NULL));
    assert_false(ais__cuda_supports("GlobalMaxPool", 1, pi4, 1, NULL));
    AIS_ASSERT_OK(ais_attrs_create(&a));
    AIS_ASSERT_OK(ais_attrs_set_ints(a, "kernel_shape", (int64_t[]){3, 3}, 2));
    AIS_ASSERT_OK(ais_attrs_set_int(a, "ceil_mode", 1));
    assert_true(ais__cuda_supports("MaxPool", 12, px4, 1, a));
    assert_true(ais__cuda_supports("AveragePool", 11, px4, 1, a));
    assert_false(ais__cuda_supports("MaxPool", 12, pi4, 1, a));
    ais_attrs_destroy(a);
    /* a node carrying the CPU's folded channel shuffle (runtime/fold_shuffle.c; a .ais file
     * written from a CPU load keeps it) stays on the CPU, whatever the operator */
    ais__tensor_desc w4 = {AIS_DTYPE_F32, 4, {3, 3, 1, 1}};
    const ais__tensor_desc *conv[2] = {&x4, &w4};
    AIS_ASSERT_OK(ais_attrs_create(&a));
    AIS_ASSERT_OK(ais_attrs_set_int(a, "group", 1));
    assert_true(ais__cuda_supports("Relu", 14, one, 1, a));
    AIS_ASSERT_OK(ais_attrs_set_ints(a, "ais_shuffled_output", (int64_t[]){2, 1, 3, 9, 9}, 5));
    assert_false(ais__cuda_supports("Conv", 11, conv, 2, a));
    assert_false(ais__cuda_supports("Relu", 14, one, 1, a));
    ais_attrs_destroy(a);
}

/* ---- with a device ---- */

static double norm_err(const ais_tensor *got, const double *ref, size_t n) {
    double worst = 0, scale = 1e-30;
    for (size_t i = 0; i < n; i++) {
        double g = ais__load_f64(got->data, got->dtype, i);
        if (isnan(ref[i]) && isnan(g)) continue;
        double d = fabs(g - ref[i]);
        if (isnan(d)) d = INFINITY;
        if (d > worst) worst = d;
        if (fabs(ref[i]) > scale) scale = fabs(ref[i]);
    }
    return n ? worst / scale : 0;
}

static void expect_close(const char *what, const ais_tensor *got, const double *ref, double tol) {
    double e = norm_err(got, ref, got->numel);
    if (!(e <= tol)) fail_msg("%s: normalized error %g exceeds %g", what, e, tol);
}

/* Uploads inputs, runs on the GPU, downloads into fresh host tensors of the given shapes. */
static ais_status gpu_run(const char *op, int64_t opset, const ais_attrs *attrs,
                          const ais_tensor *const *in, size_t n_in, ais_tensor *const *out,
                          size_t n_out) {
    dev_reset();
    ais_tensor din[8], dout[4];
    const ais_tensor *pin[8];
    ais_tensor *pout[4];
    for (size_t i = 0; i < n_in; i++) {
        pin[i] = NULL;
        if (!in[i]) continue;
        AIS__CHECK(dev_tensor(in[i]->dtype, in[i]->dims, in[i]->ndim, &din[i]));
        AIS__CHECK(ais__cuda_copy_to_device(g_ctx, in[i], &din[i]));
        pin[i] = &din[i];
    }
    for (size_t i = 0; i < n_out; i++) {
        pout[i] = NULL;
        if (!out[i]) continue;
        AIS__CHECK(dev_tensor(out[i]->dtype, out[i]->dims, out[i]->ndim, &dout[i]));
        pout[i] = &dout[i];
    }
    AIS__CHECK(ais__cuda_run_node(g_ctx, op, opset, attrs, pin, n_in, pout, n_out));
    for (size_t i = 0; i < n_out; i++)
        if (out[i]) AIS__CHECK(ais__cuda_copy_to_host(g_ctx, &dout[i], out[i]));
    return ais__cuda_synchronize(g_ctx);
}

static ais_tensor *new_t(ais_dtype dt, const int64_t *dims, size_t nd) {
    ais_tensor *t = NULL;
    AIS_ASSERT_OK(ais_tensor_create(dt, dims, nd, &t));
    return t;
}

static ais_tensor *rand_t(ais_dtype dt, const int64_t *dims, size_t nd, double lo, double hi) {
    ais_tensor *t = new_t(dt, dims, nd);
    for (size_t i = 0; i < t->numel; i++)
        ais__store_f64(t->data, dt, i, ais_test_uniform(lo, hi));
    return t;
}

static double *vals(const ais_tensor *t) {
    double *v = malloc((t->numel + 1) * sizeof *v);
    for (size_t i = 0; i < t->numel; i++)
        v[i] = ais__load_f64(t->data, t->dtype, i);
    return v;
}

/* Also against the CPU operator when the registry has it (after the operators land). */
static void vs_cpu(const char *op, int64_t opset, const ais_attrs *attrs,
                   const ais_tensor *const *in, size_t n_in, const ais_tensor *got, double tol) {
    if (!ais_op_exists("", op)) return;
    ais_tensor *cpu[1] = {NULL};
    ais_status st = ais_op_run_opset("", op, opset, attrs, in, n_in, cpu, 1);
    if (st != AIS_OK) {
        print_message("note: CPU %s failed: %s\n", op, ais_last_error());
        return;
    }
    double *ref = vals(cpu[0]);
    char what[64];
    snprintf(what, sizeof what, "%s vs CPU", op);
    expect_close(what, got, ref, tol);
    free(ref);
    ais_tensor_destroy(cpu[0]);
}

static double tol_of(ais_dtype dt, double f32_tol) { return dt == AIS_DTYPE_F32 ? f32_tol : 2e-2; }

static double unary_ref(const char *op, double x) {
    if (!strcmp(op, "Relu")) return x > 0 ? x : 0;
    if (!strcmp(op, "Sigmoid")) return 1 / (1 + exp(-x));
    if (!strcmp(op, "Tanh")) return tanh(x);
    if (!strcmp(op, "Gelu")) return 0.5 * x * (1 + erf(x / sqrt(2.0)));
    if (!strcmp(op, "Erf")) return erf(x);
    if (!strcmp(op, "Exp")) return exp(x);
    if (!strcmp(op, "Abs")) return fabs(x);
    if (!strcmp(op, "Neg")) return -x;
    if (!strcmp(op, "LeakyRelu")) return x >= 0 ? x : 0.01 * x;
    return NAN;
}

static void test_unary(void **state) {
    (void)state;
    const char *ops[] = {"Relu", "Sigmoid", "Tanh", "Gelu",     "Erf",
                         "Exp",  "Abs",     "Neg",  "LeakyRelu"};
    ais_dtype dts[] = {AIS_DTYPE_F32, AIS_DTYPE_F16, AIS_DTYPE_BF16};
    for (size_t d = 0; d < 3; d++)
        for (size_t o = 0; o < AIS__ARRAY_LEN(ops); o++) {
            int64_t n = 4099 + (int64_t)o; /* odd: exercises the float4 tail */
            ais_tensor *x = rand_t(dts[d], &n, 1, -3, 3), *y = new_t(dts[d], &n, 1);
            const ais_tensor *in[1] = {x};
            ais_tensor *out[1] = {y};
            AIS_ASSERT_OK(gpu_run(ops[o], 20, NULL, in, 1, out, 1));
            double *ref = vals(x);
            for (int64_t i = 0; i < n; i++)
                ref[i] = unary_ref(ops[o], ref[i]);
            expect_close(ops[o], y, ref, tol_of(dts[d], 1e-5));
            vs_cpu(ops[o], 20, NULL, in, 1, y, tol_of(dts[d], 1e-5));
            free(ref);
            ais_tensor_destroy(x);
            ais_tensor_destroy(y);
        }
}

static void test_binary_broadcast(void **state) {
    (void)state;
    const char *ops[] = {"Add", "Sub", "Mul", "Div", "Pow", "Max", "Less"};
    int64_t sa[] = {3, 1, 5}, sb[] = {4, 1}, so[] = {3, 4, 5};
    for (size_t o = 0; o < AIS__ARRAY_LEN(ops); o++) {
        bool cmp = !strcmp(ops[o], "Less");
        ais_tensor *a = rand_t(AIS_DTYPE_F32, sa, 3, 0.5, 2),
                   *b = rand_t(AIS_DTYPE_F32, sb, 2, 0.5, 2);
        ais_tensor *y = new_t(cmp ? AIS_DTYPE_BOOL : AIS_DTYPE_F32, so, 3);
        const ais_tensor *in[2] = {a, b};
        ais_tensor *out[1] = {y};
        AIS_ASSERT_OK(gpu_run(ops[o], 14, NULL, in, 2, out, 1));
        double ref[60];
        const float *pa = a->data, *pb = b->data;
        for (int i = 0; i < 3; i++)
            for (int j = 0; j < 4; j++)
                for (int k = 0; k < 5; k++) {
                    double u = pa[i * 5 + k], v = pb[j], r;
                    switch (o) {
                    case 0: r = u + v; break;
                    case 1: r = u - v; break;
                    case 2: r = u * v; break;
                    case 3: r = u / v; break;
                    case 4: r = pow(u, v); break;
                    case 5: r = u > v ? u : v; break;
                    default: r = u < v; break;
                    }
                    ref[(i * 4 + j) * 5 + k] = r;
                }
        expect_close(ops[o], y, ref, 1e-5);
        vs_cpu(ops[o], 14, NULL, in, 2, y, 1e-5);
        ais_tensor_destroy(a);
        ais_tensor_destroy(b);
        ais_tensor_destroy(y);
    }
    /* dense, aligned, a multiple of 4: the float4 path; and i64 */
    int64_t n = 1 << 16;
    ais_tensor *a = rand_t(AIS_DTYPE_F32, &n, 1, -1, 1), *b = rand_t(AIS_DTYPE_F32, &n, 1, -1, 1);
    ais_tensor *y = new_t(AIS_DTYPE_F32, &n, 1);
    const ais_tensor *in[2] = {a, b};
    ais_tensor *out[1] = {y};
    AIS_ASSERT_OK(gpu_run("Mul", 14, NULL, in, 2, out, 1));
    double *ref = vals(a);
    for (int64_t i = 0; i < n; i++)
        ref[i] *= ((float *)b->data)[i];
    expect_close("Mul dense", y, ref, 1e-6);
    free(ref);
    ais_tensor_destroy(a);
    ais_tensor_destroy(b);
    ais_tensor_destroy(y);
    int64_t s2[] = {2, 3};
    a = rand_t(AIS_DTYPE_I64, s2, 2, -100, 100);
    b = rand_t(AIS_DTYPE_I64, s2 + 1, 1, 1, 9);
    y = new_t(AIS_DTYPE_I64, s2, 2);
    in[0] = a, in[1] = b, out[0] = y;
    AIS_ASSERT_OK(gpu_run("Add", 14, NULL, in, 2, out, 1));
    for (int i = 0; i < 6; i++)
        assert_int_equal(((int64_t *)y->data)[i],
                         ((int64_t *)a->data)[i] + ((int64_t *)b->data)[i % 3]);
    ais_tensor_destroy(a);
    ais_tensor_destroy(b);
    ais_tensor_destroy(y);
}

static void softmax_case(const int64_t *dims, size_t nd, int64_t axis, ais_dtype dt, bool lg) {
    ais_tensor *x = rand_t(dt, dims, nd, -5, 5), *y = new_t(dt, dims, nd);
    ais_attrs *at = NULL;
    AIS_ASSERT_OK(ais_attrs_create(&at));
    AIS_ASSERT_OK(ais_attrs_set_int(at, "axis", axis));
    const ais_tensor *in[1] = {x};
    ais_tensor *out[1] = {y};
    const char *op = lg ? "LogSoftmax" : "Softmax";
    AIS_ASSERT_OK(gpu_run(op, 13, at, in, 1, out, 1));
    int64_t a = axis < 0 ? axis + (int64_t)nd : axis, outer = 1, n = dims[a], inner = 1;
    for (int64_t i = 0; i < a; i++)
        outer *= dims[i];
    for (size_t i = (size_t)a + 1; i < nd; i++)
        inner *= dims[i];
    double *v = vals(x), *ref = malloc(x->numel * sizeof *ref);
    for (int64_t o = 0; o < outer; o++)
        for (int64_t j = 0; j < inner; j++) {
            double m = -INFINITY, s = 0;
            for (int64_t k = 0; k < n; k++)
                m = fmax(m, v[(o * n + k) * inner + j]);
            for (int64_t k = 0; k < n; k++)
                s += exp(v[(o * n + k) * inner + j] - m);
            for (int64_t k = 0; k < n; k++) {
                size_t i = (size_t)((o * n + k) * inner + j);
                ref[i] = lg ? v[i] - m - log(s) : exp(v[i] - m) / s;
            }
        }
    expect_close(op, y, ref, tol_of(dt, 1e-5));
    vs_cpu(op, 13, at, in, 1, y, tol_of(dt, 1e-5));
    free(v);
    free(ref);
    ais_attrs_destroy(at);
    ais_tensor_destroy(x);
    ais_tensor_destroy(y);
}

static void test_softmax(void **state) {
    (void)state;
    softmax_case((int64_t[]){64, 100}, 2, -1, AIS_DTYPE_F32, false);  /* warp per row */
    softmax_case((int64_t[]){37, 1500}, 2, -1, AIS_DTYPE_F32, false); /* block per row */
    softmax_case((int64_t[]){4, 7, 9}, 3, 1, AIS_DTYPE_F32, false);   /* strided axis */
    softmax_case((int64_t[]){5, 333}, 2, -1, AIS_DTYPE_F32, true);
    softmax_case((int64_t[]){8, 2000}, 2, -1, AIS_DTYPE_F16, false);
    softmax_case((int64_t[]){8, 200}, 2, -1, AIS_DTYPE_BF16, true);
}

static void layernorm_case(int64_t rows, int64_t n, ais_dtype dt) {
    int64_t dims[2] = {rows, n};
    ais_tensor *x = rand_t(dt, dims, 2, -2, 3), *sc = rand_t(dt, &n, 1, 0.5, 1.5);
    ais_tensor *b = rand_t(dt, &n, 1, -1, 1), *y = new_t(dt, dims, 2);
    const ais_tensor *in[3] = {x, sc, b};
    ais_tensor *out[1] = {y};
    AIS_ASSERT_OK(gpu_run("LayerNormalization", 17, NULL, in, 3, out, 1));
    double *v = vals(x), *s = vals(sc), *bb = vals(b);
    double *ref = malloc(x->numel * sizeof *ref);
    for (int64_t r = 0; r < rows; r++) {
        double m = 0, var = 0;
        for (int64_t j = 0; j < n; j++)
            m += v[r * n + j];
        m /= (double)n;
        for (int64_t j = 0; j < n; j++)
            var += (v[r * n + j] - m) * (v[r * n + j] - m);
        var /= (double)n;
        for (int64_t j = 0; j < n; j++)
            ref[r * n + j] = (v[r * n + j] - m) / sqrt(var + 1e-5) * s[j] + bb[j];
    }
    expect_close("LayerNormalization", y, ref, tol_of(dt, 1e-5));
    vs_cpu("LayerNormalization", 17, NULL, in, 3, y, tol_of(dt, 1e-5));
    free(v), free(s), free(bb), free(ref);
    ais_tensor_destroy(x), ais_tensor_destroy(sc), ais_tensor_destroy(b), ais_tensor_destroy(y);
}

static void test_layernorm(void **state) {
    (void)state;
    layernorm_case(33, 768, AIS_DTYPE_F32);
    layernorm_case(3, 10000, AIS_DTYPE_F32); /* past the shared-memory cache */
    layernorm_case(17, 5, AIS_DTYPE_F32);
    layernorm_case(16, 1024, AIS_DTYPE_F16);
    layernorm_case(16, 512, AIS_DTYPE_BF16);
}

static void test_reduce(void **state) {
    (void)state;
    int64_t dims[3] = {5, 6, 70}, od[3] = {5, 1, 70};
    const char *ops[] = {"ReduceSum", "ReduceMean", "ReduceMax", "ReduceMin"};
    for (int o = 0; o < 4; o++) {
        ais_tensor *x = rand_t(AIS_DTYPE_F32, dims, 3, -1, 1), *y = new_t(AIS_DTYPE_F32, od, 3);
        ais_attrs *at = NULL;
        AIS_ASSERT_OK(ais_attrs_create(&at));
        AIS_ASSERT_OK(ais_attrs_set_ints(at, "axes", (int64_t[]){-2}, 1));
        const ais_tensor *in[1] = {x};
        ais_tensor *out[1] = {y};
        AIS_ASSERT_OK(gpu_run(ops[o], 11, at, in, 1, out, 1));
        const float *p = x->data;
        double ref[350];
        for (int i = 0; i < 5; i++)
            for (int k = 0; k < 70; k++) {
                double acc = o == 2 ? -INFINITY : o == 3 ? INFINITY : 0;
                for (int j = 0; j < 6; j++) {
                    double v = p[(i * 6 + j) * 70 + k];
                    acc = o < 2 ? acc + v : o == 2 ? fmax(acc, v) : fmin(acc, v);
                }
                ref[i * 70 + k] = o == 1 ? acc / 6 : acc;
            }
        expect_close(ops[o], y, ref, 1e-5);
        vs_cpu(ops[o], 11, at, in, 1, y, 1e-5);
        ais_attrs_destroy(at);
        ais_tensor_destroy(x);
        ais_tensor_destroy(y);
    }
    /* everything, long: the warp path */
    int64_t n = 100000, one = 1;
    ais_tensor *x = rand_t(AIS_DTYPE_F32, &n, 1, 0, 1), *y = new_t(AIS_DTYPE_F32, &one, 1);
    const ais_tensor *in[1] = {x};
    ais_tensor *out[1] = {y};
    AIS_ASSERT_OK(gpu_run("ReduceSum", 11, NULL, in, 1, out, 1));
    double s = 0;
    for (int64_t i = 0; i < n; i++)
        s += ((float *)x->data)[i];
    expect_close("ReduceSum all", y, &s, 1e-5);
    ais_tensor_destroy(x);
    ais_tensor_destroy(y);
}

static void transpose_case(const int64_t *dims, const int64_t *perm, size_t nd) {
    int64_t od[8];
    for (size_t i = 0; i < nd; i++)
        od[i] = dims[perm[i]];
    ais_tensor *x = rand_t(AIS_DTYPE_F32, dims, nd, -1, 1), *y = new_t(AIS_DTYPE_F32, od, nd);
    ais_attrs *at = NULL;
    AIS_ASSERT_OK(ais_attrs_create(&at));
    AIS_ASSERT_OK(ais_attrs_set_ints(at, "perm", perm, nd));
    const ais_tensor *in[1] = {x};
    ais_tensor *out[1] = {y};
    AIS_ASSERT_OK(gpu_run("Transpose", 13, at, in, 1, out, 1));
    double *ref = malloc(y->numel * sizeof *ref);
    int64_t st[8], s = 1;
    for (size_t i = nd; i-- > 0;)
        st[i] = s, s *= dims[i];
    for (size_t i = 0; i < y->numel; i++) {
        size_t rem = i, off = 0;
        for (size_t k = nd; k-- > 0;) {
            off += (rem % (size_t)od[k]) * (size_t)st[perm[k]];
            rem /= (size_t)od[k];
        }
        ref[i] = ((float *)x->data)[off];
    }
    expect_close("Transpose", y, ref, 0);
    vs_cpu("Transpose", 13, at, in, 1, y, 0);
    free(ref);
    ais_attrs_destroy(at);
    ais_tensor_destroy(x);
    ais_tensor_destroy(y);
}

static void test_transpose(void **state) {
    (void)state;
    transpose_case((int64_t[]){3, 40, 50}, (int64_t[]){0, 2, 1}, 3); /* tiled */
    transpose_case((int64_t[]){33, 65}, (int64_t[]){1, 0}, 2);
    transpose_case((int64_t[]){2, 3, 4, 5}, (int64_t[]){2, 0, 3, 1}, 4);
    transpose_case((int64_t[]){2, 1, 7}, (int64_t[]){1, 0, 2}, 3); /* a copy */
}

static void test_layout_ops(void **state) {
    (void)state;
    /* Concat on axis 1 */
    ais_tensor *a = rand_t(AIS_DTYPE_F32, (int64_t[]){2, 3, 4}, 3, -1, 1);
    ais_tensor *b = rand_t(AIS_DTYPE_F32, (int64_t[]){2, 5, 4}, 3, -1, 1);
    ais_tensor *y = new_t(AIS_DTYPE_F32, (int64_t[]){2, 8, 4}, 3);
    ais_attrs *at = NULL;
    AIS_ASSERT_OK(ais_attrs_create(&at));
    AIS_ASSERT_OK(ais_attrs_set_int(at, "axis", 1));
    const ais_tensor *in2[2] = {a, b};
    ais_tensor *out[1] = {y};
    AIS_ASSERT_OK(gpu_run("Concat", 13, at, in2, 2, out, 1));
    double ref[64];
    for (int i = 0; i < 2; i++)
        for (int j = 0; j < 8; j++)
            for (int k = 0; k < 4; k++)
                ref[(i * 8 + j) * 4 + k] = j < 3 ? ((float *)a->data)[(i * 3 + j) * 4 + k]
                                                 : ((float *)b->data)[(i * 5 + j - 3) * 4 + k];
    expect_close("Concat", y, ref, 0);
    ais_tensor_destroy(y);
    /* Slice b[:, 4:0:-2, 1:] */
    ais_tensor *starts = ais_test_tensor(AIS_DTYPE_I64, (int64_t[]){2}, 1, (double[]){4, 1});
    ais_tensor *ends = ais_test_tensor(AIS_DTYPE_I64, (int64_t[]){2}, 1, (double[]){0, 100});
    ais_tensor *axes = ais_test_tensor(AIS_DTYPE_I64, (int64_t[]){2}, 1, (double[]){1, 2});
    ais_tensor *steps = ais_test_tensor(AIS_DTYPE_I64, (int64_t[]){2}, 1, (double[]){-2, 1});
    y = new_t(AIS_DTYPE_F32, (int64_t[]){2, 2, 3}, 3);
    const ais_tensor *in5[5] = {b, starts, ends, axes, steps};
    out[0] = y;
    AIS_ASSERT_OK(gpu_run("Slice", 13, NULL, in5, 5, out, 1));
    for (int i = 0; i < 2; i++)
        for (int j = 0; j < 2; j++)
            for (int k = 0; k < 3; k++)
                ref[(i * 2 + j) * 3 + k] = ((float *)b->data)[(i * 5 + 4 - 2 * j) * 4 + k + 1];
    expect_close("Slice", y, ref, 0);
    ais_tensor_destroy(y);
    /* Gather rows of an embedding with a negative index, then one out of range */
    ais_tensor *emb = rand_t(AIS_DTYPE_F32, (int64_t[]){10, 6}, 2, -1, 1);
    ais_tensor *idx = ais_test_tensor(AIS_DTYPE_I64, (int64_t[]){3}, 1, (double[]){2, -1, 0});
    y = new_t(AIS_DTYPE_F32, (int64_t[]){3, 6}, 2);
    const ais_tensor *ing[2] = {emb, idx};
    out[0] = y;
    AIS_ASSERT_OK(gpu_run("Gather", 13, NULL, ing, 2, out, 1));
    int rows[3] = {2, 9, 0};
    for (int i = 0; i < 3; i++)
        for (int k = 0; k < 6; k++)
            ref[i * 6 + k] = ((float *)emb->data)[rows[i] * 6 + k];
    expect_close("Gather", y, ref, 0);
    ((int64_t *)idx->data)[1] = 10;
    AIS_ASSERT_STATUS(gpu_run("Gather", 13, NULL, ing, 2, out, 1), AIS_E_INVALID_ARGUMENT);
    ais_test_assert_error_contains("out of range");
    ais_tensor_destroy(y);
    /* Where with three-way broadcasting, Cast f32 -> f16 -> f32 */
    ais_tensor *c = ais_test_tensor(AIS_DTYPE_BOOL, (int64_t[]){3, 1}, 2, (double[]){1, 0, 1});
    ais_tensor *xw = rand_t(AIS_DTYPE_F32, (int64_t[]){1, 4}, 2, -1, 1);
    ais_tensor *zw = rand_t(AIS_DTYPE_F32, (int64_t[]){3, 4}, 2, -1, 1);
    y = new_t(AIS_DTYPE_F32, (int64_t[]){3, 4}, 2);
    const ais_tensor *inw[3] = {c, xw, zw};
    out[0] = y;
    AIS_ASSERT_OK(gpu_run("Where", 16, NULL, inw, 3, out, 1));
    for (int i = 0; i < 3; i++)
        for (int k = 0; k < 4; k++)
            ref[i * 4 + k] = i != 1 ? ((float *)xw->data)[k] : ((float *)zw->data)[i * 4 + k];
    expect_close("Where", y, ref, 0);
    ais_tensor *h = new_t(AIS_DTYPE_F16, (int64_t[]){3, 4}, 2);
    AIS_ASSERT_OK(ais_attrs_set_int(at, "to", AIS_DTYPE_F16));
    const ais_tensor *inc[1] = {zw};
    out[0] = h;
    AIS_ASSERT_OK(gpu_run("Cast", 13, at, inc, 1, out, 1));
    for (int i = 0; i < 12; i++)
        assert_int_equal(((uint16_t *)h->data)[i], ais__f32_to_f16(((float *)zw->data)[i]));
    ais_tensor_destroy(h);
    ais_tensor_destroy(c), ais_tensor_destroy(xw), ais_tensor_destroy(zw), ais_tensor_destroy(y);
    ais_tensor_destroy(emb), ais_tensor_destroy(idx);
    ais_tensor_destroy(starts), ais_tensor_destroy(ends), ais_tensor_destroy(axes),
        ais_tensor_destroy(steps);
    ais_tensor_destroy(a), ais_tensor_destroy(b);
    ais_attrs_destroy(at);
}

static void matmul_ref(const float *a, const float *b, double *y, int64_t m, int64_t k, int64_t n) {
    for (int64_t i = 0; i < m; i++)
        for (int64_t j = 0; j < n; j++) {
            double s = 0;
            for (int64_t p = 0; p < k; p++)
                s += (double)a[i * k + p] * b[p * n + j];
            y[i * n + j] = s;
        }
}

static void matmul_case(const int64_t *da, size_t na, const int64_t *db, size_t nb,
                        const int64_t *dy, size_t ny, int64_t bstride_a, int64_t bstride_b) {
    ais_tensor *a = rand_t(AIS_DTYPE_F32, da, na, -1, 1), *b = rand_t(AIS_DTYPE_F32, db, nb, -1, 1);
    ais_tensor *y = new_t(AIS_DTYPE_F32, dy, ny);
    const ais_tensor *in[2] = {a, b};
    ais_tensor *out[1] = {y};
    AIS_ASSERT_OK(gpu_run("MatMul", 13, NULL, in, 2, out, 1));
    int64_t m = dy[ny - 2], n = dy[ny - 1], k = da[na - 1], batch = (int64_t)y->numel / (m * n);
    double *ref = malloc(y->numel * sizeof *ref);
    /* batch index i maps to input batches by the given element strides (0: broadcast) */
    for (int64_t i = 0; i < batch; i++)
        matmul_ref((float *)a->data + bstride_a * i, (float *)b->data + bstride_b * i,
                   ref + i * m * n, m, k, n);
    expect_close("MatMul", y, ref, 1e-5);
    vs_cpu("MatMul", 13, NULL, in, 2, y, 1e-5);
    free(ref);
    ais_tensor_destroy(a), ais_tensor_destroy(b), ais_tensor_destroy(y);
}

static void test_matmul_gemm(void **state) {
    (void)state;
    matmul_case((int64_t[]){2, 3, 33, 65}, 4, (int64_t[]){65, 17}, 2, (int64_t[]){2, 3, 33, 17}, 4,
                33 * 65, 0);
    matmul_case((int64_t[]){2, 5, 7}, 3, (int64_t[]){2, 7, 3}, 3, (int64_t[]){2, 5, 3}, 3, 35, 21);
    matmul_case((int64_t[]){5, 7}, 2, (int64_t[]){4, 7, 3}, 3, (int64_t[]){4, 5, 3}, 3, 0, 21);
    /* Gemm: transB, bias row, ReLU epilogue through cuBLASLt */
    int64_t m = 37, k = 64, n = 48;
    ais_tensor *a = rand_t(AIS_DTYPE_F32, (int64_t[]){m, k}, 2, -1, 1);
    ais_tensor *bt = rand_t(AIS_DTYPE_F32, (int64_t[]){n, k}, 2, -1, 1);
    ais_tensor *c = rand_t(AIS_DTYPE_F32, (int64_t[]){n}, 1, -1, 1);
    ais_tensor *y = new_t(AIS_DTYPE_F32, (int64_t[]){m, n}, 2);
    ais_attrs *at = NULL;
    AIS_ASSERT_OK(ais_attrs_create(&at));
    AIS_ASSERT_OK(ais_attrs_set_int(at, "transB", 1));
    AIS_ASSERT_OK(ais_attrs_set_float(at, "alpha", 0.5f));
    const ais_tensor *in[3] = {a, bt, c};
    ais_tensor *out[1] = {y};
    double *ref = malloc((size_t)(m * n) * sizeof *ref);
    for (int pass = 0; pass < 3; pass++) {
        if (pass == 1) AIS_ASSERT_OK(ais_attrs_set_string(at, "activation", "Relu"));
        if (pass == 2) AIS_ASSERT_OK(ais_attrs_set_float(at, "beta", 2.0f)); /* cuBLAS path */
        AIS_ASSERT_OK(gpu_run("Gemm", 13, at, in, 3, out, 1));
        for (int64_t i = 0; i < m; i++)
            for (int64_t j = 0; j < n; j++) {
                double s = 0;
                for (int64_t p = 0; p < k; p++)
                    s += (double)((float *)a->data)[i * k + p] * ((float *)bt->data)[j * k + p];
                s = 0.5 * s + (pass == 2 ? 2.0 : 1.0) * ((float *)c->data)[j];
                ref[i * n + j] = pass ? fmax(s, 0) : s;
            }
        expect_close("Gemm", y, ref, 1e-5);
        if (pass == 0) vs_cpu("Gemm", 13, at, in, 3, y, 1e-5);
    }
    free(ref);
    ais_attrs_destroy(at);
    ais_tensor_destroy(a), ais_tensor_destroy(bt), ais_tensor_destroy(c), ais_tensor_destroy(y);
}

static void test_conv_pool(void **state) {
    (void)state;
#ifdef AIS_HAVE_CUDNN
    int64_t N = 2, C = 8, H = 13, W = 11, M = 16, G = 2;
    ais_tensor *x = rand_t(AIS_DTYPE_F32, (int64_t[]){N, C, H, W}, 4, -1, 1);
    ais_tensor *w = rand_t(AIS_DTYPE_F32, (int64_t[]){M, C / G, 3, 3}, 4, -1, 1);
    ais_tensor *b = rand_t(AIS_DTYPE_F32, (int64_t[]){M}, 1, -1, 1);
    ais_tensor *y = new_t(AIS_DTYPE_F32, (int64_t[]){N, M, H, W}, 4);
    ais_attrs *at = NULL;
    AIS_ASSERT_OK(ais_attrs_create(&at));
    AIS_ASSERT_OK(ais_attrs_set_int(at, "group", G));
    AIS_ASSERT_OK(ais_attrs_set_ints(at, "pads", (int64_t[]){1, 1, 1, 1}, 4));
    const ais_tensor *in[3] = {x, w, b};
    ais_tensor *out[1] = {y};
    AIS_ASSERT_OK(gpu_run("Conv", 11, at, in, 3, out, 1));
    double *ref = malloc(y->numel * sizeof *ref);
    const float *px = x->data, *pw = w->data, *pb = b->data;
    int64_t cg = C / G, mg = M / G;
    for (int64_t n = 0; n < N; n++)
        for (int64_t m = 0; m < M; m++)
            for (int64_t i = 0; i < H; i++)
                for (int64_t j = 0; j < W; j++) {
                    double s = pb[m];
                    int64_t g = m / mg;
                    for (int64_t c = 0; c < cg; c++)
                        for (int64_t u = 0; u < 3; u++)
                            for (int64_t v = 0; v < 3; v++) {
                                int64_t ii = i + u - 1, jj = j + v - 1;
                                if (ii < 0 || ii >= H || jj < 0 || jj >= W) continue;
                                s += (double)px[((n * C + g * cg + c) * H + ii) * W + jj] *
                                     pw[((m * cg + c) * 3 + u) * 3 + v];
                            }
                    ref[((n * M + m) * H + i) * W + j] = s;
                }
    expect_close("Conv", y, ref, 1e-5);
    vs_cpu("Conv", 11, at, in, 3, y, 1e-5);
    free(ref);
    ais_attrs_destroy(at);
    /* MaxPool 2x2 stride 2 on the conv input */
    ais_tensor *p = new_t(AIS_DTYPE_F32, (int64_t[]){N, C, H / 2, W / 2}, 4);
    AIS_ASSERT_OK(ais_attrs_create(&at));
    AIS_ASSERT_OK(ais_attrs_set_ints(at, "kernel_shape", (int64_t[]){2, 2}, 2));
    AIS_ASSERT_OK(ais_attrs_set_ints(at, "strides", (int64_t[]){2, 2}, 2));
    const ais_tensor *inp[1] = {x};
    out[0] = p;
    AIS_ASSERT_OK(gpu_run("MaxPool", 12, at, inp, 1, out, 1));
    ref = malloc(p->numel * sizeof *ref);
    for (int64_t nc = 0; nc < N * C; nc++)
        for (int64_t i = 0; i < H / 2; i++)
            for (int64_t j = 0; j < W / 2; j++) {
                double mx = -INFINITY;
                for (int u = 0; u < 2; u++)
                    for (int v = 0; v < 2; v++)
                        mx = fmax(mx, px[(nc * H + 2 * i + u) * W + 2 * j + v]);
                ref[(nc * (H / 2) + i) * (W / 2) + j] = mx;
            }
    expect_close("MaxPool", p, ref, 0);
    vs_cpu("MaxPool", 12, at, inp, 1, p, 0);
    free(ref);
    ais_attrs_destroy(at);
    ais_tensor_destroy(p), ais_tensor_destroy(x), ais_tensor_destroy(w), ais_tensor_destroy(b),
        ais_tensor_destroy(y);
#else
    skip();
#endif
}

static void test_batchnorm(void **state) {
    (void)state;
    int64_t N = 3, C = 5, HW = 17;
    ais_tensor *x = rand_t(AIS_DTYPE_F32, (int64_t[]){N, C, HW}, 3, -2, 2);
    ais_tensor *p[4];
    for (int i = 0; i < 4; i++)
        p[i] = rand_t(AIS_DTYPE_F32, &C, 1, i == 3 ? 0.5 : -1, 1.5);
    ais_tensor *y = new_t(AIS_DTYPE_F32, (int64_t[]){N, C, HW}, 3);
    const ais_tensor *in[5] = {x, p[0], p[1], p[2], p[3]};
    ais_tensor *out[1] = {y};
    AIS_ASSERT_OK(gpu_run("BatchNormalization", 15, NULL, in, 5, out, 1));
    double *ref = vals(x);
    for (int64_t i = 0; i < N * C * HW; i++) {
        int64_t c = (i / HW) % C;
        float *s = p[0]->data, *bb = p[1]->data, *m = p[2]->data, *v = p[3]->data;
        ref[i] = (ref[i] - m[c]) / sqrt(v[c] + 1e-5) * s[c] + bb[c];
    }
    expect_close("BatchNormalization", y, ref, 1e-5);
    vs_cpu("BatchNormalization", 15, NULL, in, 5, y, 1e-5);
    free(ref);
    for (int i = 0; i < 4; i++)
        ais_tensor_destroy(p[i]);
    ais_tensor_destroy(x), ais_tensor_destroy(y);
}

/* Runs op on the CPU (for the output shape and the reference), then on the GPU into a tensor of
 * that shape, and compares. */
static void gpu_vs_cpu(const char *op, int64_t opset, const ais_attrs *at,
                       const ais_tensor *const *in, size_t n_in, double tol) {
    ais_tensor *cpu[1] = {NULL};
    AIS_ASSERT_OK(ais_op_run_opset("", op, opset, at, in, n_in, cpu, 1));
    ais_tensor *y = new_t(cpu[0]->dtype, cpu[0]->dims, cpu[0]->ndim);
    ais_tensor *out[1] = {y};
    AIS_ASSERT_OK(gpu_run(op, opset, at, in, n_in, out, 1));
    double *ref = vals(cpu[0]);
    char what[64];
    snprintf(what, sizeof what, "%s vs CPU", op);
    expect_close(what, y, ref, tol);
    free(ref);
    ais_tensor_destroy(cpu[0]), ais_tensor_destroy(y);
}

/* Pools cuDNN cannot express run through pool.cu: ceil_mode, asymmetric pads, dilations. */
static void test_pool_direct(void **state) {
    (void)state;
    int64_t N = 2, C = 3, H = 14, W = 9;
    ais_tensor *x = rand_t(AIS_DTYPE_F32, (int64_t[]){N, C, H, W}, 4, -1, 1);
    ais_attrs *at = NULL;
    AIS_ASSERT_OK(ais_attrs_create(&at));
    AIS_ASSERT_OK(ais_attrs_set_ints(at, "kernel_shape", (int64_t[]){3, 3}, 2));
    AIS_ASSERT_OK(ais_attrs_set_ints(at, "strides", (int64_t[]){2, 2}, 2));
    AIS_ASSERT_OK(ais_attrs_set_int(at, "ceil_mode", 1));
    /* ceil((14 - 3) / 2) + 1 = 7 rows (the last window hangs over the end), 4 columns */
    int64_t OH = 7, OW = 4;
    ais_tensor *y = new_t(AIS_DTYPE_F32, (int64_t[]){N, C, OH, OW}, 4);
    const ais_tensor *in[1] = {x};
    ais_tensor *out[1] = {y};
    AIS_ASSERT_OK(gpu_run("MaxPool", 12, at, in, 1, out, 1));
    double *ref = malloc(y->numel * sizeof *ref);
    const float *px = x->data;
    for (int64_t nc = 0; nc < N * C; nc++)
        for (int64_t i = 0; i < OH; i++)
            for (int64_t j = 0; j < OW; j++) {
                double mx = -INFINITY;
                for (int64_t u = 2 * i; u < 2 * i + 3 && u < H; u++)
                    for (int64_t v = 2 * j; v < 2 * j + 3 && v < W; v++)
                        mx = fmax(mx, px[(nc * H + u) * W + v]);
                ref[(nc * OH + i) * OW + j] = mx;
            }
    expect_close("MaxPool ceil_mode", y, ref, 0);
    vs_cpu("MaxPool", 12, at, in, 1, y, 0);
    free(ref);
    /* AveragePool, ceil_mode with asymmetric pads, excluding and including the pads */
    AIS_ASSERT_OK(ais_attrs_set_ints(at, "pads", (int64_t[]){0, 1, 1, 0}, 4));
    gpu_vs_cpu("AveragePool", 11, at, in, 1, 1e-6);
    AIS_ASSERT_OK(ais_attrs_set_int(at, "count_include_pad", 1));
    gpu_vs_cpu("AveragePool", 11, at, in, 1, 1e-6);
    gpu_vs_cpu("MaxPool", 12, at, in, 1, 0);
    ais_attrs_destroy(at);
    /* 1-D MaxPool with dilations; f16 */
    ais_tensor *x1 = rand_t(AIS_DTYPE_F32, (int64_t[]){2, 4, 21}, 3, -1, 1);
    ais_tensor *xh = rand_t(AIS_DTYPE_F16, (int64_t[]){2, 4, 21}, 3, -1, 1);
    AIS_ASSERT_OK(ais_attrs_create(&at));
    AIS_ASSERT_OK(ais_attrs_set_ints(at, "kernel_shape", (int64_t[]){3}, 1));
    AIS_ASSERT_OK(ais_attrs_set_ints(at, "dilations", (int64_t[]){2}, 1));
    AIS_ASSERT_OK(ais_attrs_set_ints(at, "strides", (int64_t[]){2}, 1));
    AIS_ASSERT_OK(ais_attrs_set_int(at, "ceil_mode", 1));
    gpu_vs_cpu("MaxPool", 12, at, (const ais_tensor *[]){x1}, 1, 0);
    gpu_vs_cpu("MaxPool", 12, at, (const ais_tensor *[]){xh}, 1, 0);
    ais_attrs_destroy(at);
    ais_tensor_destroy(x1), ais_tensor_destroy(xh), ais_tensor_destroy(x), ais_tensor_destroy(y);
}

static void test_global_pool(void **state) {
    (void)state;
    int64_t N = 2, C = 5, H = 7, W = 3;
    ais_tensor *x = rand_t(AIS_DTYPE_F32, (int64_t[]){N, C, H, W}, 4, -1, 1);
    ais_tensor *y = new_t(AIS_DTYPE_F32, (int64_t[]){N, C, 1, 1}, 4);
    const ais_tensor *in[1] = {x};
    ais_tensor *out[1] = {y};
    double *ref = malloc((size_t)(N * C) * sizeof *ref);
    const float *px = x->data;
    for (int pass = 0; pass < 2; pass++) {
        const char *op = pass ? "GlobalMaxPool" : "GlobalAveragePool";
        AIS_ASSERT_OK(gpu_run(op, 1, NULL, in, 1, out, 1));
        for (int64_t nc = 0; nc < N * C; nc++) {
            double acc = pass ? -INFINITY : 0;
            for (int64_t i = 0; i < H * W; i++)
                acc = pass ? fmax(acc, px[nc * H * W + i]) : acc + px[nc * H * W + i];
            ref[nc] = pass ? acc : acc / (double)(H * W);
        }
        expect_close(op, y, ref, pass ? 0 : 1e-6);
        vs_cpu(op, 1, NULL, in, 1, y, 1e-6);
    }
    free(ref);
    ais_tensor_destroy(x), ais_tensor_destroy(y);
    /* 3-D input (one spatial axis) */
    x = rand_t(AIS_DTYPE_F32, (int64_t[]){3, 4, 19}, 3, -1, 1);
    gpu_vs_cpu("GlobalAveragePool", 1, NULL, (const ais_tensor *[]){x}, 1, 1e-6);
    gpu_vs_cpu("GlobalMaxPool", 1, NULL, (const ais_tensor *[]){x}, 1, 0);
    ais_tensor_destroy(x);
}

/* The context caches descriptors and the algorithm per shape: alternating shapes (and a
 * transposed convolution and a pool in between) must each still give the CPU's results. */
static void test_conv_plan_cache(void **state) {
    (void)state;
#ifdef AIS_HAVE_CUDNN
    ais_attrs *at = NULL;
    AIS_ASSERT_OK(ais_attrs_create(&at));
    AIS_ASSERT_OK(ais_attrs_set_ints(at, "pads", (int64_t[]){1, 1, 1, 1}, 4));
    ais_tensor *w = rand_t(AIS_DTYPE_F32, (int64_t[]){6, 4, 3, 3}, 4, -1, 1);
    ais_tensor *b = rand_t(AIS_DTYPE_F32, (int64_t[]){6}, 1, -1, 1);
    ais_tensor *xa = rand_t(AIS_DTYPE_F32, (int64_t[]){1, 4, 9, 10}, 4, -1, 1);
    ais_tensor *xb = rand_t(AIS_DTYPE_F32, (int64_t[]){3, 4, 5, 17}, 4, -1, 1);
    for (int round = 0; round < 3; round++) {
        gpu_vs_cpu("Conv", 11, at, (const ais_tensor *[]){xa, w, b}, 3, 1e-5);
        gpu_vs_cpu("Conv", 11, at, (const ais_tensor *[]){xb, w, b}, 3, 1e-5);
        gpu_vs_cpu("Conv", 11, at, (const ais_tensor *[]){xa, w}, 2, 1e-5);
    }
    ais_attrs_destroy(at);
    ais_tensor_destroy(w), ais_tensor_destroy(b), ais_tensor_destroy(xa), ais_tensor_destroy(xb);
#else
    skip();
#endif
}

/* ---- timing table (AIS_GPU_BENCH=1) ---- */

static double now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static void bench_one(const char *label, const char *op, const ais_attrs *at,
                      const ais_tensor *const *in, size_t n_in, ais_tensor *y) {
    dev_reset();
    ais_tensor din[4], dy;
    const ais_tensor *pin[4];
    for (size_t i = 0; i < n_in; i++) {
        if (dev_tensor(in[i]->dtype, in[i]->dims, in[i]->ndim, &din[i]) ||
            ais__cuda_copy_to_device(g_ctx, in[i], &din[i]))
            return (void)printf("%-28s  setup failed: %s\n", label, ais_last_error());
        pin[i] = &din[i];
    }
    if (dev_tensor(y->dtype, y->dims, y->ndim, &dy))
        return (void)printf("%-28s  setup failed: %s\n", label, ais_last_error());
    ais_tensor *pout[1] = {&dy};
    cudaEvent_t e0, e1;
    cudaEventCreate(&e0), cudaEventCreate(&e1);
    ais_status st = AIS_OK;
    for (int i = 0; i < 3 && st == AIS_OK; i++)
        st = ais__cuda_run_node(g_ctx, op, 20, at, pin, n_in, pout, 1);
    int iters = 20;
    cudaEventRecord(e0, g_ctx->stream);
    for (int i = 0; i < iters && st == AIS_OK; i++)
        st = ais__cuda_run_node(g_ctx, op, 20, at, pin, n_in, pout, 1);
    cudaEventRecord(e1, g_ctx->stream);
    cudaEventSynchronize(e1);
    float gpu = 0;
    cudaEventElapsedTime(&gpu, e0, e1);
    cudaEventDestroy(e0), cudaEventDestroy(e1);
    if (st != AIS_OK) return (void)printf("%-28s  GPU failed: %s\n", label, ais_last_error());
    double cpu = -1;
    if (ais_op_exists("", op)) {
        ais_tensor *o[1] = {NULL};
        if (ais_op_run_opset("", op, 20, at, in, n_in, o, 1) == AIS_OK) {
            ais_tensor_destroy(o[0]);
            o[0] = NULL;
            double t0 = now_ms();
            int ci = 0;
            while (ci < 3 || (now_ms() - t0 < 300 && ci < 50)) {
                ais_op_run_opset("", op, 20, at, in, n_in, o, 1);
                ais_tensor_destroy(o[0]);
                o[0] = NULL;
                ci++;
            }
            cpu = (now_ms() - t0) / ci;
        }
    }
    double g = gpu / iters;
    if (cpu >= 0)
        printf("%-28s  %10.4f  %10.3f  %8.1fx\n", label, g, cpu, cpu / g);
    else
        printf("%-28s  %10.4f  %10s  %9s\n", label, g, "n/a", "-");
}

static void run_bench(void) {
    char name[160];
    if (ais__cuda_device_name(0, name, sizeof name) == AIS_OK) printf("\ndevice: %s\n", name);
    printf("%-28s  %10s  %10s  %9s\n", "operator (f32)", "GPU ms", "CPU ms", "speedup");
    ais_tensor *a, *b, *c, *y;
    a = rand_t(AIS_DTYPE_F32, (int64_t[]){1024, 4096}, 2, -1, 1);
    b = rand_t(AIS_DTYPE_F32, (int64_t[]){4096, 1024}, 2, -1, 1);
    y = new_t(AIS_DTYPE_F32, (int64_t[]){1024, 1024}, 2);
    bench_one("MatMul 1024x4096x1024", "MatMul", NULL, (const ais_tensor *[]){a, b}, 2, y);
    ais_tensor_destroy(a), ais_tensor_destroy(b), ais_tensor_destroy(y);
    a = rand_t(AIS_DTYPE_F32, (int64_t[]){1, 64, 56, 56}, 4, -1, 1);
    b = rand_t(AIS_DTYPE_F32, (int64_t[]){64, 64, 3, 3}, 4, -1, 1);
    y = new_t(AIS_DTYPE_F32, (int64_t[]){1, 64, 56, 56}, 4);
    ais_attrs *at = NULL;
    ais_attrs_create(&at);
    ais_attrs_set_ints(at, "pads", (int64_t[]){1, 1, 1, 1}, 4);
    bench_one("Conv 3x3 64ch 56x56", "Conv", at, (const ais_tensor *[]){a, b}, 2, y);
    ais_attrs_destroy(at);
    ais_tensor_destroy(a), ais_tensor_destroy(b), ais_tensor_destroy(y);
    a = rand_t(AIS_DTYPE_F32, (int64_t[]){4096, 1024}, 2, -1, 1);
    y = new_t(AIS_DTYPE_F32, (int64_t[]){4096, 1024}, 2);
    bench_one("Softmax 4096x1024", "Softmax", NULL, (const ais_tensor *[]){a}, 1, y);
    b = rand_t(AIS_DTYPE_F32, (int64_t[]){1024}, 1, 0.5, 1.5);
    c = rand_t(AIS_DTYPE_F32, (int64_t[]){1024}, 1, -1, 1);
    bench_one("LayerNorm 4096x1024", "LayerNormalization", NULL, (const ais_tensor *[]){a, b, c}, 3,
              y);
    bench_one("Gelu 4M", "Gelu", NULL, (const ais_tensor *[]){a}, 1, y);
    ais_tensor_destroy(a), ais_tensor_destroy(b), ais_tensor_destroy(c), ais_tensor_destroy(y);
    a = rand_t(AIS_DTYPE_F32, (int64_t[]){16 << 20}, 1, -1, 1);
    b = rand_t(AIS_DTYPE_F32, (int64_t[]){16 << 20}, 1, -1, 1);
    y = new_t(AIS_DTYPE_F32, (int64_t[]){16 << 20}, 1);
    bench_one("Add 16M", "Add", NULL, (const ais_tensor *[]){a, b}, 2, y);
    ais_tensor_destroy(a), ais_tensor_destroy(b), ais_tensor_destroy(y);
    a = rand_t(AIS_DTYPE_F32, (int64_t[]){4096, 4096}, 2, -1, 1);
    y = new_t(AIS_DTYPE_F32, (int64_t[]){4096, 4096}, 2);
    bench_one("Transpose 4096x4096", "Transpose", NULL, (const ais_tensor *[]){a}, 1, y);
    ais_tensor_destroy(y);
    y = new_t(AIS_DTYPE_F32, (int64_t[]){4096, 1}, 2);
    ais_attrs_create(&at);
    ais_attrs_set_ints(at, "axes", (int64_t[]){1}, 1);
    bench_one(
        "ReduceSum 4096x4096 axis 1", "ReduceSum", NULL,
        (const ais_tensor *[]){a, ais_test_tensor(AIS_DTYPE_I64, (int64_t[]){1}, 1, (double[]){1})},
        2, y);
    ais_attrs_destroy(at);
    ais_tensor_destroy(a), ais_tensor_destroy(y);
}

#endif /* AIS_HAVE_CUDA */

int main(void) {
#ifndef AIS_HAVE_CUDA
    printf("SKIP: CUDA backend not built (configure with -DAIS_CUDA=ON and the CUDA toolkit)\n");
    return 77;
#else
    const struct CMUnitTest host_tests[] = {
        cmocka_unit_test(test_no_device_entry_points),
        cmocka_unit_test(test_argument_errors),
        cmocka_unit_test(test_supports),
        cmocka_unit_test(test_plan_time_table),
    };
    int rc = cmocka_run_group_tests_name("cuda (host side)", host_tests, NULL, NULL);
    if (rc) return rc;
    int n = 0;
    if (ais__cuda_available(&n) != AIS_OK) {
        printf("SKIP: no CUDA device (%s)\n", ais_last_error());
        return 77;
    }
    if (ais__cuda_ctx_create(0, &g_ctx) != AIS_OK ||
        ais__cuda_malloc(g_ctx, (size_t)1 << 30, (void **)&g_dev) != AIS_OK) {
        printf("FAIL: CUDA context: %s\n", ais_last_error());
        return 1;
    }
    g_dev_size = (size_t)1 << 30;
    char name[160] = "";
    (void)ais__cuda_device_name(0, name, sizeof name);
    printf("device: %s\n", name);
    const struct CMUnitTest gpu_tests[] = {
        cmocka_unit_test(test_unary),           cmocka_unit_test(test_binary_broadcast),
        cmocka_unit_test(test_softmax),         cmocka_unit_test(test_layernorm),
        cmocka_unit_test(test_reduce),          cmocka_unit_test(test_transpose),
        cmocka_unit_test(test_layout_ops),      cmocka_unit_test(test_matmul_gemm),
        cmocka_unit_test(test_conv_pool),       cmocka_unit_test(test_batchnorm),
        cmocka_unit_test(test_pool_direct),     cmocka_unit_test(test_global_pool),
        cmocka_unit_test(test_conv_plan_cache),
    };
    rc = cmocka_run_group_tests_name("cuda (device)", gpu_tests, NULL, NULL);
    const char *bench = getenv("AIS_GPU_BENCH");
    if (bench && bench[0] == '1') run_bench();
    ais__cuda_free(g_ctx, g_dev);
    ais__cuda_ctx_destroy(g_ctx);
    return rc;
#endif
}
