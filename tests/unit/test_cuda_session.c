/*
 * test_cuda_session.c - sessions on the CUDA backend through the executor. Without the backend
 * or without a device: ais_session_create must answer AIS_E_NO_DEVICE with a message and no
 * session, then the test exits 77 (skipped). With a device: small graphs run on a CUDA session
 * and on a CPU session with the same inputs must agree (f32, |d| <= 1e-4 + 1e-4 |cpu|); one has
 * an operator the GPU lacks in the middle (Mod), so values cross both ways; another ends in a
 * data-dependent operator (NonZero) on the CPU; placement must report both backends; a repeat
 * run allocates nothing on the host; allocation failures while planning are clean.
 */
#include <stdio.h>
#include <string.h>

#include "runtime/model.h"
#include "test_util.h"

/* ---- building graphs ---- */

static void add_input(ais__graph *g, const char *name, const int64_t *dims, size_t ndim,
                      const char *const *dim_names) {
    int32_t v;
    AIS_ASSERT_OK(ais__graph_value(g, name, &v));
    AIS_ASSERT_OK(ais__graph_declare(g, v, AIS_DTYPE_F32, (int32_t)ndim, dims, dim_names));
    AIS_ASSERT_OK(ais__graph_add_input(g, v));
}

static void add_const(ais__graph *g, const char *name, ais_tensor *t) {
    int32_t v;
    AIS_ASSERT_OK(ais__graph_value(g, name, &v));
    AIS_ASSERT_OK(ais__graph_set_constant(g, v, t));
}

static void add_output(ais__graph *g, const char *name) {
    int32_t v;
    AIS_ASSERT_OK(ais__graph_value(g, name, &v));
    AIS_ASSERT_OK(ais__graph_add_output(g, v));
}

static void add_node(ais__graph *g, const char *name, const char *op, ais_attrs *attrs,
                     const char *in0, const char *in1, const char *in2, const char *out) {
    const char *ins[3] = {in0, in1, in2};
    size_t n_in = in2 ? 3 : in1 ? 2 : 1;
    const char *outs[1] = {out};
    AIS_ASSERT_OK(ais__graph_add_node(g, name, op, "", attrs, ins, n_in, outs, 1, NULL));
}

static ais_model *make_model(ais__graph *g) {
    ais_model *m = NULL;
    AIS_ASSERT_OK(ais__model_from_graph(g, NULL, &m));
    return m;
}

static ais_options *backend_options(ais_backend b, int64_t device) {
    ais_options *o = NULL;
    AIS_ASSERT_OK(ais_options_create(&o));
    AIS_ASSERT_OK(ais_options_set_int(o, AIS_OPT_BACKEND, b));
    AIS_ASSERT_OK(ais_options_set_int(o, AIS_OPT_DEVICE_ID, device));
    return o;
}

/* y = x * 2: a graph that any backend could run. */
static ais_model *tiny_model(void) {
    ais__graph *g = ais_test_graph_new(13);
    add_input(g, "x", AIS_SHAPE(2, 3), NULL);
    add_const(g, "two", ais_test_tensor(AIS_DTYPE_F32, AIS_SHAPE(1), (const double[]){2}));
    add_node(g, "mul", "Mul", NULL, "x", "two", NULL, "y");
    add_output(g, "y");
    return make_model(g);
}

/* A CUDA session must be refused cleanly; returns whether it was (no device). */
static bool check_no_device(void) {
    ais_model *m = tiny_model();
    ais_options *o = backend_options(AIS_BACKEND_CUDA, 0);
    ais_session *s = (ais_session *)0x1;
    ais_status st = ais_session_create(m, o, &s);
    bool refused = st != AIS_OK;
    if (refused) {
        AIS_ASSERT_STATUS(st, AIS_E_NO_DEVICE);
        assert_null(s);
        ais_test_assert_error_contains("CUDA");
        assert_true(strlen(ais_last_error()) > 20);
    } else {
        ais_session_destroy(s);
    }
    /* a CPU session on the same model is unaffected */
    ais_session *c = NULL;
    AIS_ASSERT_OK(ais_session_create(m, NULL, &c));
    ais_session_destroy(c);
    ais_options_destroy(o);
    ais_model_destroy(m);
    return refused;
}

#ifdef AIS_HAVE_CUDA

/* Runs m on a CPU and a CUDA session with the same inputs and compares every output. */
static void compare_backends(ais_model *m, const ais_tensor *const *in, size_t n_in,
                             size_t n_out) {
    ais_options *oc = backend_options(AIS_BACKEND_CUDA, 0);
    ais_session *gpu = NULL, *cpu = NULL;
    AIS_ASSERT_OK(ais_session_create(m, oc, &gpu));
    AIS_ASSERT_OK(ais_session_create(m, NULL, &cpu));
    ais_tensor *yg[4] = {0}, *yc[4] = {0};
    assert_true(n_out <= 4);
    AIS_ASSERT_OK(ais_session_run(gpu, NULL, in, n_in, NULL, yg, n_out));
    AIS_ASSERT_OK(ais_session_run(cpu, NULL, in, n_in, NULL, yc, n_out));
    for (size_t j = 0; j < n_out; j++) ais_test_assert_close(yg[j], yc[j], 1e-4, 1e-4);
    /* again, into the tensors of the first run (garbage first): the same results */
    for (size_t j = 0; j < n_out; j++)
        memset(ais_tensor_data(yg[j]), 0xff, ais_tensor_nbytes(yg[j]));
    AIS_ASSERT_OK(ais_session_run(gpu, NULL, in, n_in, NULL, yg, n_out));
    for (size_t j = 0; j < n_out; j++) ais_test_assert_close(yg[j], yc[j], 1e-4, 1e-4);
    for (size_t j = 0; j < n_out; j++) {
        ais_tensor_destroy(yg[j]);
        ais_tensor_destroy(yc[j]);
    }
    ais_session_destroy(gpu);
    ais_session_destroy(cpu);
    ais_options_destroy(oc);
}

/* Placement after a run: counts of nodes per backend, and the backend of the node `name`. */
static void placement(ais_session *s, size_t *n_cpu, size_t *n_cuda, const char *name,
                      ais_backend *b_of_name) {
    *n_cpu = *n_cuda = 0;
    size_t n = ais_session_node_count(s);
    assert_true(n > 0);
    for (size_t i = 0; i < n; i++) {
        const char *nm, *op;
        ais_backend b;
        AIS_ASSERT_OK(ais_session_node_info(s, i, &nm, &op, &b));
        if (b == AIS_BACKEND_CPU) ++*n_cpu;
        else if (b == AIS_BACKEND_CUDA) ++*n_cuda;
        else fail_msg("node %s: backend %d", nm, (int)b);
        if (name && strcmp(nm, name) == 0) *b_of_name = b;
    }
    AIS_ASSERT_STATUS(ais_session_node_info(s, n, NULL, NULL, NULL), AIS_E_NOT_FOUND);
}

static const char *const batch_names[] = {"N", NULL, NULL, NULL};

/* Conv -> Relu -> MaxPool -> Flatten -> Gemm -> Softmax on x [N, 3, 9, 9]. */
static ais_model *cnn_model(void) {
    ais__graph *g = ais_test_graph_new(13);
    add_input(g, "x", AIS_SHAPE(-1, 3, 9, 9), batch_names);
    add_const(g, "w", ais_test_rand_f32(AIS_SHAPE(4, 3, 3, 3), -0.5, 0.5));
    add_const(g, "b", ais_test_rand_f32(AIS_SHAPE(4), -0.5, 0.5));
    add_const(g, "w2", ais_test_rand_f32(AIS_SHAPE(5, 64), -0.3, 0.3));
    add_const(g, "b2", ais_test_rand_f32(AIS_SHAPE(5), -0.3, 0.3));
    ais_attrs *ca = NULL, *pa = NULL, *ga = NULL, *sa = NULL;
    AIS_ASSERT_OK(ais_attrs_create(&ca));
    AIS_ASSERT_OK(ais_attrs_set_ints(ca, "pads", (const int64_t[]){1, 1, 1, 1}, 4));
    AIS_ASSERT_OK(ais_attrs_create(&pa));
    AIS_ASSERT_OK(ais_attrs_set_ints(pa, "kernel_shape", (const int64_t[]){2, 2}, 2));
    AIS_ASSERT_OK(ais_attrs_set_ints(pa, "strides", (const int64_t[]){2, 2}, 2));
    AIS_ASSERT_OK(ais_attrs_create(&ga));
    AIS_ASSERT_OK(ais_attrs_set_int(ga, "transB", 1));
    AIS_ASSERT_OK(ais_attrs_create(&sa));
    AIS_ASSERT_OK(ais_attrs_set_int(sa, "axis", -1));
    add_node(g, "conv", "Conv", ca, "x", "w", "b", "c");
    add_node(g, "relu", "Relu", NULL, "c", NULL, NULL, "r");
    add_node(g, "pool", "MaxPool", pa, "r", NULL, NULL, "p"); /* [N, 4, 4, 4] */
    add_node(g, "flat", "Flatten", NULL, "p", NULL, NULL, "f");
    add_node(g, "gemm", "Gemm", ga, "f", "w2", "b2", "z");
    add_node(g, "softmax", "Softmax", sa, "z", NULL, NULL, "y");
    add_output(g, "y");
    return make_model(g);
}

static void test_cnn(void **state) {
    (void)state;
    ais_model *m = cnn_model();
    for (int64_t batch = 1; batch <= 3; batch += 2) {
        ais_tensor *x = ais_test_rand_f32(AIS_SHAPE(batch, 3, 9, 9), -1, 1);
        const ais_tensor *in[1] = {x};
        compare_backends(m, in, 1, 1);
        ais_tensor_destroy(x);
    }
    /* placement, replanning and a steady state without host allocations */
    ais_options *oc = backend_options(AIS_BACKEND_CUDA, 0);
    ais_session *s = NULL;
    AIS_ASSERT_OK(ais_session_create(m, oc, &s));
    ais_tensor *x = ais_test_rand_f32(AIS_SHAPE(2, 3, 9, 9), -1, 1);
    const ais_tensor *in[1] = {x};
    ais_tensor *y = NULL;
    AIS_ASSERT_OK(ais_session_run(s, NULL, in, 1, NULL, &y, 1));
    size_t n_cpu, n_cuda;
    ais_backend b = AIS_BACKEND_CPU;
    placement(s, &n_cpu, &n_cuda, "gemm", &b);
    assert_int_equal(b, AIS_BACKEND_CUDA);
    assert_true(n_cuda >= 3); /* Relu, Gemm, Softmax at least; Conv and MaxPool with cuDNN */
    ais_test_alloc_install(-1, false);
    ais_status st = ais_session_run(s, NULL, in, 1, NULL, &y, 1);
    long count = ais_test_alloc_count();
    ais_test_alloc_remove();
    AIS_ASSERT_OK(st);
    assert_int_equal(count, 0);
    ais_tensor_destroy(y);
    ais_tensor_destroy(x);
    ais_session_destroy(s);
    ais_options_destroy(oc);
    ais_model_destroy(m);
}

/*
 * a = relu(x) [GPU], b = Mod(a, c) [CPU: a comes back], d = b + x [GPU: b and x go over],
 * e = d * a [GPU]. Outputs e (made on the GPU), b (made on the CPU) and a (made on the GPU and
 * already copied back for Mod).
 */
static ais_model *fallback_model(void) {
    ais__graph *g = ais_test_graph_new(13);
    add_input(g, "x", AIS_SHAPE(-1, 37), batch_names);
    add_const(g, "c", ais_test_rand_f32(AIS_SHAPE(37), 0.3f, 0.9f));
    ais_attrs *ma = NULL;
    AIS_ASSERT_OK(ais_attrs_create(&ma));
    AIS_ASSERT_OK(ais_attrs_set_int(ma, "fmod", 1));
    add_node(g, "relu", "Relu", NULL, "x", NULL, NULL, "a");
    add_node(g, "mod", "Mod", ma, "a", "c", NULL, "b");
    add_node(g, "add", "Add", NULL, "b", "x", NULL, "d");
    add_node(g, "mul", "Mul", NULL, "d", "a", NULL, "e");
    add_output(g, "e");
    add_output(g, "b");
    add_output(g, "a");
    return make_model(g);
}

static void test_fallback(void **state) {
    (void)state;
    ais_model *m = fallback_model();
    ais_tensor *x = ais_test_rand_f32(AIS_SHAPE(5, 37), -3, 3);
    const ais_tensor *in[1] = {x};
    compare_backends(m, in, 1, 3);
    ais_options *oc = backend_options(AIS_BACKEND_CUDA, 0);
    ais_session *s = NULL;
    AIS_ASSERT_OK(ais_session_create(m, oc, &s));
    ais_tensor *y[3] = {0};
    AIS_ASSERT_OK(ais_session_run(s, NULL, in, 1, NULL, y, 3));
    size_t n_cpu, n_cuda;
    ais_backend b = AIS_BACKEND_CUDA;
    placement(s, &n_cpu, &n_cuda, "mod", &b);
    assert_int_equal(b, AIS_BACKEND_CPU);
    assert_int_equal(n_cpu, 1);
    assert_int_equal(n_cuda, 3);
    /* the same session on other values: no host allocation, results still right */
    ais_test_fill_uniform(ais_tensor_data(x), 5 * 37, -3, 3);
    ais_test_alloc_install(-1, false);
    ais_status st = ais_session_run(s, NULL, in, 1, NULL, y, 3);
    long count = ais_test_alloc_count();
    ais_test_alloc_remove();
    AIS_ASSERT_OK(st);
    assert_int_equal(count, 0);
    const float *xp = ais_tensor_data(x);
    {
        ais_session *cpu = NULL;
        ais_tensor *yc[3] = {0};
        AIS_ASSERT_OK(ais_session_create(m, NULL, &cpu));
        AIS_ASSERT_OK(ais_session_run(cpu, NULL, in, 1, NULL, yc, 3));
        for (int j = 0; j < 3; j++) ais_test_assert_close(y[j], yc[j], 1e-5, 1e-5);
        const float *ap = ais_tensor_data(yc[2]);
        for (int i = 0; i < 5 * 37; i++) assert_true(ap[i] == (xp[i] > 0 ? xp[i] : 0.0f));
        for (int j = 0; j < 3; j++) ais_tensor_destroy(yc[j]);
        ais_session_destroy(cpu);
    }
    for (int j = 0; j < 3; j++) ais_tensor_destroy(y[j]);
    ais_tensor_destroy(x);
    ais_session_destroy(s);
    ais_options_destroy(oc);
    ais_model_destroy(m);
}

/* r = relu(x) [GPU] feeds NonZero [CPU, data-dependent shape] and Neg [GPU]. */
static void test_dynamic_after_device(void **state) {
    (void)state;
    ais__graph *g = ais_test_graph_new(13);
    add_input(g, "x", AIS_SHAPE(4, 6), NULL);
    add_node(g, "relu", "Relu", NULL, "x", NULL, NULL, "r");
    add_node(g, "nz", "NonZero", NULL, "r", NULL, NULL, "idx");
    add_node(g, "neg", "Neg", NULL, "r", NULL, NULL, "n");
    add_output(g, "idx");
    add_output(g, "n");
    ais_model *m = make_model(g);
    ais_tensor *x = ais_test_rand_f32(AIS_SHAPE(4, 6), -1, 1);
    const ais_tensor *in[1] = {x};
    compare_backends(m, in, 1, 2);
    ais_options *oc = backend_options(AIS_BACKEND_CUDA, 0);
    ais_session *s = NULL;
    AIS_ASSERT_OK(ais_session_create(m, oc, &s));
    ais_tensor *y[2] = {0};
    AIS_ASSERT_OK(ais_session_run(s, NULL, in, 1, NULL, y, 2));
    size_t n_cpu, n_cuda;
    ais_backend b = AIS_BACKEND_CUDA;
    placement(s, &n_cpu, &n_cuda, "nz", &b);
    assert_int_equal(b, AIS_BACKEND_CPU);
    assert_int_equal(n_cuda, 2);
    /* the count of nonzeros is the count of positive inputs */
    size_t pos = 0;
    const float *xp = ais_tensor_data(x);
    for (int i = 0; i < 24; i++) pos += xp[i] > 0;
    assert_int_equal(ais_tensor_shape(y[0])[1], (int64_t)pos);
    for (int j = 0; j < 2; j++) ais_tensor_destroy(y[j]);
    ais_tensor_destroy(x);
    ais_session_destroy(s);
    ais_options_destroy(oc);
    ais_model_destroy(m);
}

static void test_device_errors(void **state) {
    (void)state;
    ais_model *m = tiny_model();
    ais_options *o = backend_options(AIS_BACKEND_CUDA, 1000);
    ais_session *s = (ais_session *)0x1;
    AIS_ASSERT_STATUS(ais_session_create(m, o, &s), AIS_E_NO_DEVICE);
    assert_null(s);
    ais_test_assert_error_contains("1000");
    ais_options_destroy(o);
    ais_model_destroy(m);
}

/* Allocation failures while planning and running a device plan. */
typedef struct sweep_ctx {
    ais_session *s;
    ais_tensor *x[2];
    ais_tensor *y[3];
    int turn;
} sweep_ctx;

static ais_status sweep_run(void *p) {
    sweep_ctx *c = p;
    /* each attempt plans from scratch (cleanup drops the plan), on alternating shapes */
    const ais_tensor *in[1] = {c->x[c->turn++ & 1]};
    return ais_session_run(c->s, NULL, in, 1, NULL, c->y, 3);
}

static void sweep_cleanup(void *p) {
    sweep_ctx *c = p;
    ais__session_drop_plan(c->s); /* what the attempt planned, also when it failed later */
    for (int j = 0; j < 3; j++) {
        ais_tensor_destroy(c->y[j]);
        c->y[j] = NULL;
    }
}

static void test_oom_sweep(void **state) {
    (void)state;
    ais_model *m = fallback_model();
    ais_options *oc = backend_options(AIS_BACKEND_CUDA, 0);
    sweep_ctx c = {0};
    AIS_ASSERT_OK(ais_session_create(m, oc, &c.s));
    c.x[0] = ais_test_rand_f32(AIS_SHAPE(2, 37), -1, 1);
    c.x[1] = ais_test_rand_f32(AIS_SHAPE(3, 37), -1, 1);
    long n = ais_test_oom_sweep("device plan", sweep_run, sweep_cleanup, &c, 400);
    assert_true(n > 0);
    /* still right after all those failures */
    ais_tensor *yc[3] = {0};
    ais_session *cpu = NULL;
    AIS_ASSERT_OK(ais_session_create(m, NULL, &cpu));
    const ais_tensor *in[1] = {c.x[0]};
    AIS_ASSERT_OK(ais_session_run(cpu, NULL, in, 1, NULL, yc, 3));
    AIS_ASSERT_OK(ais_session_run(c.s, NULL, in, 1, NULL, c.y, 3));
    for (int j = 0; j < 3; j++) ais_test_assert_close(c.y[j], yc[j], 1e-5, 1e-5);
    sweep_cleanup(&c);
    for (int j = 0; j < 3; j++) ais_tensor_destroy(yc[j]);
    ais_session_destroy(cpu);
    ais_tensor_destroy(c.x[0]);
    ais_tensor_destroy(c.x[1]);
    ais_session_destroy(c.s);
    ais_options_destroy(oc);
    ais_model_destroy(m);
}

#endif /* AIS_HAVE_CUDA */

int main(void) {
    ais_test_seed();
    /* Also a cmocka-free check: a failing assert here ends the program with a non-77 code. */
    if (check_no_device()) {
#ifdef AIS_HAVE_CUDA
        printf("SKIP: no CUDA device (%s)\n", ais_last_error());
#else
        printf("SKIP: CUDA backend not built (%s)\n", ais_last_error());
#endif
        return 77;
    }
#ifdef AIS_HAVE_CUDA
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_cnn),
        cmocka_unit_test(test_fallback),
        cmocka_unit_test(test_dynamic_after_device),
        cmocka_unit_test(test_device_errors),
        cmocka_unit_test(test_oom_sweep),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
#else
    printf("FAIL: a CUDA session was created in a build without the CUDA backend\n");
    return 1;
#endif
}
