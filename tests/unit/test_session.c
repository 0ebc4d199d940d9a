/* test_session.c - running models: plans per input shape, plan-time folding of shape
 * subgraphs, the memory plan, zero-copy outputs, zero allocations in steady state, input
 * checks, data-dependent shapes, threads, allocation failures. */
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include "runtime/model.h"
#include "test_util.h"

/* ---- building graphs ---- */

static const char *const batch_names[] = {"batch", NULL, NULL};

/* y = relu(x + b) * s with x [batch, 4] */
static ais_model *affine_relu_model(ais_tensor **b_out, ais_tensor **s_out) {
    ais__graph *g = ais_test_graph_new(13);
    ais_test_graph_input(g, "x", AIS_DTYPE_F32, AIS_SHAPE(-1, 4), batch_names);
    ais_tensor *b = ais_test_rand_f32(AIS_SHAPE(4), -1, 1);
    ais_tensor *s = ais_test_rand_f32(AIS_SHAPE(1, 4), 0.5, 2);
    AIS_ASSERT_OK(ais_tensor_copy(b, b_out));
    AIS_ASSERT_OK(ais_tensor_copy(s, s_out));
    ais_test_graph_const(g, "b", b);
    ais_test_graph_const(g, "s", s);
    ais_test_graph_node(g, "add", "Add", "x", "b", "h");
    ais_test_graph_node(g, "relu", "Relu", "h", NULL, "r");
    ais_test_graph_node(g, "mul", "Mul", "r", "s", "y");
    ais_test_graph_output(g, "y");
    return ais_test_model_at_level(g, 2);
}

static void affine_relu_ref(const ais_tensor *x, const ais_tensor *b, const ais_tensor *s,
                            double *want) {
    const float *px = ais_tensor_data(x), *pb = ais_tensor_data(b), *ps = ais_tensor_data(s);
    size_t n = ais_tensor_size(x);
    for (size_t i = 0; i < n; i++) {
        float h = px[i] + pb[i % 4];
        want[i] = (double)((h > 0 ? h : 0) * ps[i % 4]);
    }
}

static void test_run_and_replan(void **state) {
    (void)state;
    ais_tensor *b, *s;
    ais_model *m = affine_relu_model(&b, &s);
    ais_session *sess = NULL;
    AIS_ASSERT_OK(ais_session_create(m, NULL, &sess));
    /* odd batch sizes, back and forth: each new shape re-plans, results stay right */
    const int64_t batches[] = {3, 1, 17, 3, 0, 17};
    for (size_t t = 0; t < AIS__ARRAY_LEN(batches); t++) {
        ais_tensor *x = ais_test_rand_f32(AIS_SHAPE(batches[t], 4), -2, 2);
        ais_tensor *y = NULL;
        const ais_tensor *ins[1] = {x};
        const char *in_names[1] = {"x"}, *out_names[1] = {"y"};
        AIS_ASSERT_OK(ais_session_run(sess, in_names, ins, 1, out_names, &y, 1));
        assert_int_equal(ais_tensor_ndim(y), 2);
        assert_int_equal(ais_tensor_shape(y)[0], batches[t]);
        assert_int_equal(ais_tensor_shape(y)[1], 4);
        double want[17 * 4];
        affine_relu_ref(x, b, s, want);
        ais_test_assert_close_values(y, want, ais_tensor_size(x), 1e-6, 1e-6);
        ais_tensor_destroy(x);
        ais_tensor_destroy(y);
    }
    assert_int_equal(ais_session_node_count(sess), 3);
    const char *name, *op;
    ais_backend be = AIS_BACKEND_CUDA;
    AIS_ASSERT_OK(ais_session_node_info(sess, 2, &name, &op, &be));
    assert_string_equal(name, "mul");
    assert_string_equal(op, "Mul");
    assert_int_equal(be, AIS_BACKEND_CPU);
    AIS_ASSERT_STATUS(ais_session_node_info(sess, 3, &name, &op, &be), AIS_E_NOT_FOUND);
    ais_session_destroy(sess);
    ais_session_destroy(NULL);
    ais_model_destroy(m);
    ais_tensor_destroy(b);
    ais_tensor_destroy(s);
}

static void test_zero_copy_and_zero_alloc(void **state) {
    (void)state;
    ais_tensor *b, *s;
    ais_model *m = affine_relu_model(&b, &s);
    ais_session *sess = NULL;
    AIS_ASSERT_OK(ais_session_create(m, NULL, &sess));
    ais_tensor *x = ais_test_rand_f32(AIS_SHAPE(5, 4), -2, 2);
    ais_tensor *y = NULL;
    AIS_ASSERT_OK(ais_tensor_create(AIS_DTYPE_F32, AIS_SHAPE(5, 4), &y));
    void *ydata = ais_tensor_data(y);
    const ais_tensor *ins[1] = {x};
    AIS_ASSERT_OK(ais_session_run(sess, NULL, ins, 1, NULL, &y, 1)); /* warm-up: plans */
    assert_ptr_equal(ais_tensor_data(y), ydata);

    /* new input values, same shapes: the run must allocate nothing */
    ais_test_fill_uniform(ais_tensor_data(x), 20, -2, 2);
    memset(ydata, 0xff, 20 * sizeof(float));
    ais_test_alloc_install(-1, false);
    ais_status st = ais_session_run(sess, NULL, ins, 1, NULL, &y, 1);
    long count = ais_test_alloc_count();
    ais_test_alloc_remove();
    AIS_ASSERT_OK(st);
    assert_int_equal(count, 0);
    assert_ptr_equal(ais_tensor_data(y), ydata);
    double want[20];
    affine_relu_ref(x, b, s, want);
    ais_test_assert_close_values(y, want, 20, 1e-6, 1e-6);

    /* a wrong-shape output tensor is refused and left alone */
    ais_tensor *bad = NULL;
    AIS_ASSERT_OK(ais_tensor_create(AIS_DTYPE_F32, AIS_SHAPE(4, 5), &bad));
    AIS_ASSERT_STATUS(ais_session_run(sess, NULL, ins, 1, NULL, &bad, 1), AIS_E_SHAPE);
    ais_test_assert_error_contains("'y'");
    ais_test_assert_error_contains("[4, 5]");
    ais_test_assert_error_contains("[5, 4]");
    assert_non_null(bad);
    ais_tensor_destroy(bad);
    ais_tensor_destroy(x);
    ais_tensor_destroy(y);
    ais_session_destroy(sess);
    ais_model_destroy(m);
    ais_tensor_destroy(b);
    ais_tensor_destroy(s);
}

static void test_input_errors(void **state) {
    (void)state;
    ais_tensor *b, *s;
    ais_model *m = affine_relu_model(&b, &s);
    ais_session *sess = NULL;
    AIS_ASSERT_OK(ais_session_create(m, NULL, &sess));
    ais_tensor *x = ais_test_rand_f32(AIS_SHAPE(2, 5), -1, 1);
    ais_tensor *xi = NULL;
    AIS_ASSERT_OK(ais_tensor_create(AIS_DTYPE_I64, AIS_SHAPE(2, 4), &xi));
    ais_tensor *x3 = ais_test_rand_f32(AIS_SHAPE(2, 4, 1), -1, 1);
    ais_tensor *y = NULL;
    const ais_tensor *ins[1] = {x};
    AIS_ASSERT_STATUS(ais_session_run(sess, NULL, ins, 1, NULL, &y, 1), AIS_E_SHAPE);
    ais_test_assert_error_contains("'x'");
    ais_test_assert_error_contains("[batch, 4]");
    ais_test_assert_error_contains("[2, 5]");
    assert_null(y);
    ins[0] = x3;
    AIS_ASSERT_STATUS(ais_session_run(sess, NULL, ins, 1, NULL, &y, 1), AIS_E_SHAPE);
    ais_test_assert_error_contains("[2, 4, 1]");
    ins[0] = xi;
    AIS_ASSERT_STATUS(ais_session_run(sess, NULL, ins, 1, NULL, &y, 1), AIS_E_DTYPE);
    ais_test_assert_error_contains("'x'");
    ais_test_assert_error_contains("f32");
    ais_test_assert_error_contains("i64");
    const char *wrong[1] = {"nope"};
    AIS_ASSERT_STATUS(ais_session_run(sess, wrong, ins, 1, NULL, &y, 1), AIS_E_NOT_FOUND);
    ais_test_assert_error_contains("'nope'");
    AIS_ASSERT_STATUS(ais_session_run(sess, NULL, NULL, 0, NULL, &y, 1), AIS_E_INVALID_ARGUMENT);
    ais_test_assert_error_contains("'x' is missing");
    ais_tensor *ok = ais_test_rand_f32(AIS_SHAPE(2, 4), -1, 1);
    const ais_tensor *two[2] = {ok, ok};
    AIS_ASSERT_STATUS(ais_session_run(sess, NULL, two, 2, NULL, &y, 1), AIS_E_INVALID_ARGUMENT);
    ais_test_assert_error_contains("2 inputs given");
    const char *dup[2] = {"x", "x"};
    AIS_ASSERT_STATUS(ais_session_run(sess, dup, two, 2, NULL, &y, 1), AIS_E_INVALID_ARGUMENT);
    ais_test_assert_error_contains("twice");
    ins[0] = ok;
    AIS_ASSERT_STATUS(ais_session_run(NULL, NULL, ins, 1, NULL, &y, 1), AIS_E_INVALID_ARGUMENT);
    AIS_ASSERT_STATUS(ais_session_run(sess, NULL, ins, 1, NULL, &y, 2), AIS_E_INVALID_ARGUMENT);
    assert_null(y);
    ais_tensor_destroy(ok);
    ais_tensor_destroy(x);
    ais_tensor_destroy(xi);
    ais_tensor_destroy(x3);
    ais_session_destroy(sess);
    ais_model_destroy(m);
    ais_tensor_destroy(b);
    ais_tensor_destroy(s);
}

static void test_output_names(void **state) {
    (void)state;
    ais_tensor *b, *s;
    ais_model *m = affine_relu_model(&b, &s);
    ais_session *sess = NULL;
    AIS_ASSERT_OK(ais_session_create(m, NULL, &sess));
    ais_tensor *x = ais_test_rand_f32(AIS_SHAPE(2, 4), -1, 1), *y = NULL;
    const ais_tensor *ins[1] = {x};
    const char *outn[1] = {"zzz"};
    AIS_ASSERT_STATUS(ais_session_run(sess, NULL, ins, 1, outn, &y, 1), AIS_E_NOT_FOUND);
    ais_test_assert_error_contains("'zzz'");
    assert_null(y);
    AIS_ASSERT_OK(ais_session_run(sess, NULL, ins, 1, NULL, NULL, 0)); /* runs, keeps nothing */
    ais_tensor_destroy(x);
    ais_session_destroy(sess);
    ais_model_destroy(m);
    ais_tensor_destroy(b);
    ais_tensor_destroy(s);
}

/* x [batch, 3, 4] -> Reshape(x, Concat(Unsqueeze(Gather(Shape(x), 0)), [-1])) -> [batch, 12]:
 * what exporters emit for flatten. The shape subgraph is computed while planning. */
static void test_shape_chain_folded(void **state) {
    (void)state;
    ais__graph *g = ais_test_graph_new(13);
    ais_test_graph_input(g, "x", AIS_DTYPE_F32, AIS_SHAPE(-1, 3, 4), batch_names);
    ais_test_graph_const(g, "zero", ais_test_tensor(AIS_DTYPE_I64, NULL, 0, (const double[]){0}));
    ais_test_graph_const(g, "axes0",
                         ais_test_tensor(AIS_DTYPE_I64, AIS_SHAPE(1), (const double[]){0}));
    ais_test_graph_const(g, "minus1",
                         ais_test_tensor(AIS_DTYPE_I64, AIS_SHAPE(1), (const double[]){-1}));
    ais_test_graph_node(g, "shape", "Shape", "x", NULL, "sx");
    ais_test_graph_node(g, "gather", "Gather", "sx", "zero", "n");
    ais_test_graph_node(g, "unsq", "Unsqueeze", "n", "axes0", "n1");
    const char *cin[2] = {"n1", "minus1"}, *cout[1] = {"target"};
    ais_attrs *a = NULL;
    AIS_ASSERT_OK(ais_attrs_create(&a));
    AIS_ASSERT_OK(ais_attrs_set_int(a, "axis", 0));
    AIS_ASSERT_OK(ais__graph_add_node(g, "concat", "Concat", "", a, cin, 2, cout, 1, NULL));
    ais_test_graph_node(g, "reshape", "Reshape", "x", "target", "flat");
    ais_test_graph_node(g, "relu", "Relu", "flat", NULL, "y");
    ais_test_graph_output(g, "y");
    ais_model *m = ais_test_model_at_level(g, 2);
    assert_int_equal(ais_model_node_count(m), 6); /* nothing is constant before the shapes */
    ais_session *sess = NULL;
    AIS_ASSERT_OK(ais_session_create(m, NULL, &sess));
    for (int64_t batch = 1; batch <= 3; batch++) {
        ais_tensor *x = ais_test_rand_f32(AIS_SHAPE(batch, 3, 4), -1, 1), *y = NULL;
        const ais_tensor *ins[1] = {x};
        AIS_ASSERT_OK(ais_session_run(sess, NULL, ins, 1, NULL, &y, 1));
        /* Shape, Gather, Unsqueeze, Concat ran while planning; Reshape and Relu run */
        assert_int_equal(ais__session_steps(sess), 2);
        assert_int_equal(ais_tensor_ndim(y), 2);
        assert_int_equal(ais_tensor_shape(y)[0], batch);
        assert_int_equal(ais_tensor_shape(y)[1], 12);
        double want[36];
        const float *px = ais_tensor_data(x);
        for (size_t i = 0; i < ais_tensor_size(x); i++)
            want[i] = px[i] > 0 ? px[i] : 0;
        ais_test_assert_close_values(y, want, ais_tensor_size(x), 0, 0);
        ais_tensor_destroy(x);
        ais_tensor_destroy(y);
    }
    ais_session_destroy(sess);
    ais_model_destroy(m);
}

/* A random DAG of Add/Mul/Relu over one shape, against a naive evaluation: checks that the
 * arena's buffer reuse and the view aliases never clobber a live value. */
static void test_random_dag_memory_plan(void **state) {
    (void)state;
    enum { N_NODES = 60, N = 13 };
    for (int rep = 0; rep < 4; rep++) {
        ais__graph *g = ais_test_graph_new(13);
        ais_test_graph_input(g, "v0", AIS_DTYPE_F32, AIS_SHAPE(N), NULL);
        ais_test_graph_input(g, "v1", AIS_DTYPE_F32, AIS_SHAPE(N), NULL);
        static const char *ops[] = {"Add", "Mul", "Relu", "Identity"};
        int op_of[N_NODES + 2], a_of[N_NODES + 2], b_of[N_NODES + 2];
        char name[32], an[32], bn[32], nn[32];
        for (int i = 2; i < N_NODES + 2; i++) {
            int op = (int)ais_test_randint(0, 3);
            int a = (int)ais_test_randint(AIS__MAX(0, i - 6), i - 1);
            int bb = (int)ais_test_randint(AIS__MAX(0, i - 10), i - 1);
            op_of[i] = op;
            a_of[i] = a;
            b_of[i] = bb;
            snprintf(name, sizeof name, "v%d", i);
            snprintf(an, sizeof an, "v%d", a);
            snprintf(bn, sizeof bn, "v%d", bb);
            snprintf(nn, sizeof nn, "n%d", i);
            ais_test_graph_node(g, nn, ops[op], an, op < 2 ? bn : NULL, name);
        }
        /* outputs: the last value and two from the middle */
        int outs[3] = {N_NODES + 1, N_NODES / 2, N_NODES / 3};
        for (int k = 0; k < 3; k++) {
            snprintf(name, sizeof name, "v%d", outs[k]);
            ais_test_graph_output(g, name);
        }
        ais_model *m = ais_test_model_at_level(g, 2);
        ais_session *sess = NULL;
        AIS_ASSERT_OK(ais_session_create(m, NULL, &sess));
        for (int run = 0; run < 2; run++) {
            ais_tensor *x0 = ais_test_rand_f32(AIS_SHAPE(N), -1.5, 1.5);
            ais_tensor *x1 = ais_test_rand_f32(AIS_SHAPE(N), -1.5, 1.5);
            static double ref[N_NODES + 2][N];
            for (int j = 0; j < N; j++) {
                ref[0][j] = ((float *)ais_tensor_data(x0))[j];
                ref[1][j] = ((float *)ais_tensor_data(x1))[j];
            }
            for (int i = 2; i < N_NODES + 2; i++) {
                for (int j = 0; j < N; j++) {
                    float a = (float)ref[a_of[i]][j], bb = (float)ref[b_of[i]][j];
                    float r = op_of[i] == 0   ? a + bb
                              : op_of[i] == 1 ? a * bb
                              : op_of[i] == 2 ? (a > 0 ? a : 0)
                                              : a;
                    ref[i][j] = r;
                }
            }
            const ais_tensor *ins[2] = {x0, x1};
            ais_tensor *y[3] = {NULL, NULL, NULL};
            AIS_ASSERT_OK(ais_session_run(sess, NULL, ins, 2, NULL, y, 3));
            for (int k = 0; k < 3; k++)
                ais_test_assert_close_values(y[k], ref[outs[k]], N, 1e-5, 1e-6);
            for (int k = 0; k < 3; k++)
                ais_tensor_destroy(y[k]);
            ais_tensor_destroy(x0);
            ais_tensor_destroy(x1);
        }
        /* the arena reuses buffers: far less than one buffer per node */
        assert_true(ais__session_arena_bytes(sess) < (size_t)N_NODES * 64 / 2);
        ais_session_destroy(sess);
        ais_model_destroy(m);
    }
}

/* NonZero's output shape depends on the values: planned as dynamic, allocated per run. */
static void test_data_dependent_shape(void **state) {
    (void)state;
    ais__graph *g = ais_test_graph_new(13);
    ais_test_graph_input(g, "x", AIS_DTYPE_F32, AIS_SHAPE(2, 3), NULL);
    ais_test_graph_node(g, "relu", "Relu", "x", NULL, "r");
    ais_test_graph_node(g, "nz", "NonZero", "r", NULL, "idx");
    ais_test_graph_output(g, "idx");
    ais_test_graph_output(g, "r");
    ais_model *m = ais_test_model_at_level(g, 2);
    ais_session *sess = NULL;
    AIS_ASSERT_OK(ais_session_create(m, NULL, &sess));
    for (int run = 0; run < 3; run++) {
        ais_tensor *x = ais_test_rand_f32(AIS_SHAPE(2, 3), -1, 1);
        ais_tensor *out[2] = {NULL, NULL};
        const ais_tensor *ins[1] = {x};
        AIS_ASSERT_OK(ais_session_run(sess, NULL, ins, 1, NULL, out, 2));
        const float *px = ais_tensor_data(x);
        double want[12];
        int64_t nnz = 0;
        for (int i = 0; i < 6; i++)
            nnz += px[i] > 0;
        int64_t c = 0;
        for (int i = 0; i < 6; i++) {
            if (px[i] <= 0) continue;
            want[c] = i / 3;
            want[nnz + c] = i % 3;
            c++;
        }
        assert_int_equal(ais_tensor_dtype(out[0]), AIS_DTYPE_I64);
        assert_int_equal(ais_tensor_shape(out[0])[0], 2);
        assert_int_equal(ais_tensor_shape(out[0])[1], nnz);
        ais_test_assert_close_values(out[0], want, (size_t)(2 * nnz), 0, 0);
        ais_tensor_destroy(out[0]);
        ais_tensor_destroy(out[1]);
        ais_tensor_destroy(x);
    }
    ais_session_destroy(sess);
    ais_model_destroy(m);
}

/* Outputs that are an input or a constant; an unfolded (level 0) Constant feeding Reshape. */
static void test_passthrough_and_level0(void **state) {
    (void)state;
    ais__graph *g = ais_test_graph_new(13);
    ais_test_graph_input(g, "x", AIS_DTYPE_F32, AIS_SHAPE(2, 6), NULL);
    ais_test_graph_const(g, "k",
                         ais_test_tensor(AIS_DTYPE_I64, AIS_SHAPE(2), (const double[]){3, 4}));
    ais_attrs *a = NULL;
    AIS_ASSERT_OK(ais_attrs_create(&a));
    ais_tensor *val = ais_test_tensor(AIS_DTYPE_I64, AIS_SHAPE(3), (const double[]){4, -1, 3});
    AIS_ASSERT_OK(ais_attrs_set_tensor(a, "value", val));
    ais_tensor_destroy(val);
    const char *couts[1] = {"shape"};
    AIS_ASSERT_OK(ais__graph_add_node(g, "c", "Constant", "", a, NULL, 0, couts, 1, NULL));
    ais_test_graph_node(g, "reshape", "Reshape", "x", "shape", "y");
    ais_test_graph_output(g, "y");
    ais_test_graph_output(g, "x");
    ais_test_graph_output(g, "k");
    ais_model *m = ais_test_model_at_level(g, 0);
    ais_session *sess = NULL;
    AIS_ASSERT_OK(ais_session_create(m, NULL, &sess));
    ais_tensor *x = ais_test_rand_f32(AIS_SHAPE(2, 6), -1, 1);
    ais_tensor *out[3] = {NULL, NULL, NULL};
    const ais_tensor *ins[1] = {x};
    AIS_ASSERT_OK(ais_session_run(sess, NULL, ins, 1, NULL, out, 3));
    assert_int_equal(ais_tensor_ndim(out[0]), 3);
    assert_int_equal(ais_tensor_shape(out[0])[1], 1);
    double want[12];
    for (int i = 0; i < 12; i++)
        want[i] = ((float *)ais_tensor_data(x))[i];
    ais_test_assert_close_values(out[0], want, 12, 0, 0);
    ais_test_assert_close_values(out[1], want, 12, 0, 0);
    assert_ptr_not_equal(ais_tensor_data(out[1]), ais_tensor_data(x));
    ais_test_assert_close_values(out[2], (const double[]){3, 4}, 2, 0, 0);
    for (int k = 0; k < 3; k++)
        ais_tensor_destroy(out[k]);
    ais_tensor_destroy(x);
    ais_session_destroy(sess);
    ais_model_destroy(m);
}

static void test_backend_option(void **state) {
    (void)state;
    ais_tensor *b, *s;
    ais_model *m = affine_relu_model(&b, &s);
    ais_options *o = NULL;
    AIS_ASSERT_OK(ais_options_create(&o));
    AIS_ASSERT_OK(ais_options_set_int(o, AIS_OPT_BACKEND, AIS_BACKEND_CUDA));
    ais_session *sess = (ais_session *)0x1;
    ais_status st = ais_session_create(m, o, &sess);
    if (st != AIS_OK) {
        assert_int_equal(st, AIS_E_NO_DEVICE);
        assert_null(sess);
        ais_test_assert_error_contains("CUDA");
    } else {
        ais_session_destroy(sess);
    }
    AIS_ASSERT_STATUS(ais_session_create(NULL, o, &sess), AIS_E_INVALID_ARGUMENT);
    AIS_ASSERT_STATUS(ais_session_create(m, o, NULL), AIS_E_INVALID_ARGUMENT);
    ais_options_destroy(o);
    ais_model_destroy(m);
    ais_tensor_destroy(b);
    ais_tensor_destroy(s);
}

/* ---- threads: many sessions on one model at once ---- */

typedef struct thread_job {
    ais_model *model;
    const ais_tensor *x;
    ais_tensor *y[10];
    ais_status st;
    int threads;
} thread_job;

static void *thread_main(void *arg) {
    thread_job *job = arg;
    ais_options *o = NULL;
    job->st = ais_options_create(&o);
    if (job->st == AIS_OK) job->st = ais_options_set_int(o, AIS_OPT_THREADS, job->threads);
    ais_session *sess = NULL;
    if (job->st == AIS_OK) job->st = ais_session_create(job->model, o, &sess);
    for (int i = 0; i < 10 && job->st == AIS_OK; i++) {
        const ais_tensor *ins[1] = {job->x};
        job->st = ais_session_run(sess, NULL, ins, 1, NULL, &job->y[i], 1);
    }
    ais_session_destroy(sess);
    ais_options_destroy(o);
    return NULL;
}

static void test_threads(void **state) {
    (void)state;
    ais_tensor *b, *s;
    ais_model *m = affine_relu_model(&b, &s);
    ais_tensor *x = ais_test_rand_f32(AIS_SHAPE(33, 4), -2, 2);
    double want[33 * 4];
    affine_relu_ref(x, b, s, want);
    enum { T = 4 };
    thread_job jobs[T];
    pthread_t th[T];
    memset(jobs, 0, sizeof jobs);
    for (int t = 0; t < T; t++) {
        jobs[t].model = m;
        jobs[t].x = x;
        jobs[t].threads = 1 + t % 2;
        assert_int_equal(pthread_create(&th[t], NULL, thread_main, &jobs[t]), 0);
    }
    for (int t = 0; t < T; t++)
        pthread_join(th[t], NULL);
    for (int t = 0; t < T; t++) {
        AIS_ASSERT_OK(jobs[t].st);
        for (int i = 0; i < 10; i++) {
            ais_test_assert_close_values(jobs[t].y[i], want, 33 * 4, 1e-6, 1e-6);
            assert_memory_equal(ais_tensor_data(jobs[t].y[i]), ais_tensor_data(jobs[0].y[0]),
                                33 * 4 * sizeof(float));
        }
    }
    for (int t = 0; t < T; t++)
        for (int i = 0; i < 10; i++)
            ais_tensor_destroy(jobs[t].y[i]);
    ais_tensor_destroy(x);
    ais_model_destroy(m);
    ais_tensor_destroy(b);
    ais_tensor_destroy(s);
}

/* ---- allocation failures ---- */

typedef struct sweep_ctx {
    ais_model *model;
    ais_session *sess;
    const ais_tensor *x;
    ais_tensor *y;
} sweep_ctx;

static ais_status sweep_session_run(void *arg) {
    sweep_ctx *c = arg;
    AIS__CHECK(ais_session_create(c->model, NULL, &c->sess));
    const ais_tensor *ins[1] = {c->x};
    ais_status st = ais_session_run(c->sess, NULL, ins, 1, NULL, &c->y, 1);
    if (st != AIS_OK && c->y) fail_msg("a failed run left an output tensor");
    return st;
}

static void test_oom_session(void **state) {
    (void)state;
    ais__graph *g = ais_test_graph_new(13);
    ais_test_graph_input(g, "x", AIS_DTYPE_F32, AIS_SHAPE(-1, 3, 4), batch_names);
    ais_test_graph_const(g, "zero", ais_test_tensor(AIS_DTYPE_I64, NULL, 0, (const double[]){0}));
    ais_test_graph_const(g, "axes0",
                         ais_test_tensor(AIS_DTYPE_I64, AIS_SHAPE(1), (const double[]){0}));
    ais_test_graph_const(g, "minus1",
                         ais_test_tensor(AIS_DTYPE_I64, AIS_SHAPE(1), (const double[]){-1}));
    ais_test_graph_node(g, "shape", "Shape", "x", NULL, "sx");
    ais_test_graph_node(g, "gather", "Gather", "sx", "zero", "n");
    ais_test_graph_node(g, "unsq", "Unsqueeze", "n", "axes0", "n1");
    const char *cin[2] = {"n1", "minus1"}, *cout[1] = {"target"};
    ais_attrs *a = NULL;
    AIS_ASSERT_OK(ais_attrs_create(&a));
    AIS_ASSERT_OK(ais_attrs_set_int(a, "axis", 0));
    AIS_ASSERT_OK(ais__graph_add_node(g, "concat", "Concat", "", a, cin, 2, cout, 1, NULL));
    ais_test_graph_node(g, "reshape", "Reshape", "x", "target", "flat");
    ais_test_graph_node(g, "relu", "Relu", "flat", NULL, "r");
    ais_test_graph_node(g, "nz", "NonZero", "r", NULL, "y");
    ais_test_graph_output(g, "y");
    sweep_ctx c = {.model = ais_test_model_at_level(g, 2)};
    ais_tensor *x = ais_test_rand_f32(AIS_SHAPE(2, 3, 4), -1, 1);
    c.x = x;
    long n = AIS_TEST_OOM_SWEEP("session create and first run", sweep_session_run, &c, 2000,
                                AIS_OWN_TENSOR(&c.y), AIS_OWN_SESSION(&c.sess));
    assert_true(n > 10);
    ais_tensor_destroy(x);
    ais_model_destroy(c.model);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_run_and_replan),
        cmocka_unit_test(test_zero_copy_and_zero_alloc),
        cmocka_unit_test(test_input_errors),
        cmocka_unit_test(test_output_names),
        cmocka_unit_test(test_shape_chain_folded),
        cmocka_unit_test(test_random_dag_memory_plan),
        cmocka_unit_test(test_data_dependent_shape),
        cmocka_unit_test(test_passthrough_and_level0),
        cmocka_unit_test(test_backend_option),
        cmocka_unit_test(test_threads),
        cmocka_unit_test(test_oom_session),
    };
    ais_test_seed();
    return cmocka_run_group_tests(tests, NULL, NULL);
}
