/* test_session_into.c - ais_session_run_into: results against ais_session_run's, the three
 * places an output can land (the caller's buffer written by the nodes, copied there, session
 * memory), data-dependent and pass-through outputs, every misuse with its status and message,
 * no allocation in steady state, metrics and profiling, allocation failures. */
#include <stdalign.h>
#include <string.h>

#include "runtime/model.h"
#include "runtime/session_internal.h"
#include "test_util.h"

static const char *const batch_names[] = {"batch", NULL};

/* y = relu(x + b) * s, x [batch, 4]; also z = x * s (two outputs) */
static ais_model *two_output_model(void) {
    ais__graph *g = ais_test_graph_new(13);
    ais_test_graph_input(g, "x", AIS_DTYPE_F32, AIS_SHAPE(-1, 4), batch_names);
    ais_test_graph_const(g, "b", ais_test_rand_f32(AIS_SHAPE(4), -1, 1));
    ais_test_graph_const(g, "s", ais_test_rand_f32(AIS_SHAPE(1, 4), 0.5, 2));
    ais_test_graph_node(g, "add", "Add", "x", "b", "h");
    ais_test_graph_node(g, "relu", "Relu", "h", NULL, "r");
    ais_test_graph_node(g, "mul", "Mul", "r", "s", "y");
    ais_test_graph_node(g, "mul2", "Mul", "x", "s", "z");
    ais_test_graph_output(g, "y");
    ais_test_graph_output(g, "z");
    return ais_test_model_at_level(g, 2);
}

static ais_buffer_view in_view(const ais_tensor *t) {
    ais_buffer_view v;
    memset(&v, 0, sizeof v);
    v.data = ais_tensor_data(t);
    v.nbytes = ais_tensor_nbytes(t);
    v.dtype = (int32_t)ais_tensor_dtype(t);
    v.ndim = (uint32_t)ais_tensor_ndim(t);
    memcpy(v.dims, ais_tensor_shape(t), v.ndim * sizeof(int64_t));
    return v;
}

/* The view describes exactly what ais_session_run returns for the same output. */
static void assert_view_is(const ais_buffer_view *v, const ais_tensor *want) {
    assert_int_equal(v->dtype, ais_tensor_dtype(want));
    assert_int_equal(v->ndim, ais_tensor_ndim(want));
    for (uint32_t k = 0; k < AIS_MAX_DIMS; k++)
        assert_int_equal(v->dims[k], k < v->ndim ? ais_tensor_shape(want)[k] : 0);
    assert_int_equal(v->nbytes, ais_tensor_nbytes(want));
    if (v->nbytes) assert_memory_equal(v->data, ais_tensor_data(want), v->nbytes);
}

static void assert_view_cleared(const ais_buffer_view *v) {
    assert_null(v->data);
    assert_int_equal(v->nbytes, 0);
    assert_int_equal(v->dtype, AIS_DTYPE_UNDEFINED);
    assert_int_equal(v->ndim, 0);
}

static void run_reference(ais_session *sess, const ais_tensor *x, ais_tensor **out, size_t n) {
    const ais_tensor *ins[1] = {x};
    for (size_t j = 0; j < n; j++)
        out[j] = NULL;
    AIS_ASSERT_OK(ais_session_run(sess, NULL, ins, 1, NULL, out, n));
}

static void test_where_outputs_land(void **state) {
    (void)state;
    ais_model *m = two_output_model();
    ais_session *sess = NULL;
    AIS_ASSERT_OK(ais_session_create(m, NULL, &sess));
    alignas(64) float big[64];
    alignas(64) float small[3];
    const int64_t batches[] = {5, 1, 16, 5, 0, 3};
    for (size_t t = 0; t < AIS__ARRAY_LEN(batches); t++) {
        ais_tensor *x = ais_test_rand_f32(AIS_SHAPE(batches[t], 4), -2, 2);
        ais_tensor *want[2];
        run_reference(sess, x, want, 2);
        ais_buffer_view in = in_view(x);
        ais_buffer_view out[2];
        memset(out, 0, sizeof out);
        /* y into the caller's buffer (the nodes write there), z into session memory */
        for (size_t k = 0; k < 64; k++)
            big[k] = -7.0f;
        out[0].buffer = big;
        out[0].capacity = sizeof big;
        AIS_ASSERT_OK(ais_session_run_into(sess, &in, 1, NULL, out, 2));
        assert_view_is(&out[0], want[0]);
        assert_view_is(&out[1], want[1]);
        if (batches[t]) {
            assert_ptr_equal(out[0].data, big);
            assert_ptr_not_equal(out[1].data, NULL);
            assert_true(big[batches[t] * 4 - 1] != -7.0f || out[0].nbytes == 0);
        }
        if (batches[t] < 16) assert_true(big[batches[t] * 4] == -7.0f); /* not past the result */
        assert_ptr_equal(out[0].buffer, big); /* buffer and capacity are never changed */
        assert_int_equal(out[0].capacity, sizeof big);
        /* a buffer too small: session memory instead, the buffer untouched */
        for (size_t k = 0; k < 3; k++)
            small[k] = -9.0f;
        out[0].buffer = small;
        out[0].capacity = sizeof small;
        out[1].buffer = NULL;
        AIS_ASSERT_OK(ais_session_run_into(sess, &in, 1, NULL, out, 2));
        assert_view_is(&out[0], want[0]);
        if (out[0].nbytes > sizeof small) assert_ptr_not_equal(out[0].data, small);
        for (size_t k = 0; k < 3 && out[0].nbytes > sizeof small; k++)
            assert_true(small[k] == -9.0f);
        /* the same views again: the same results */
        AIS_ASSERT_OK(ais_session_run_into(sess, &in, 1, NULL, out, 2));
        assert_view_is(&out[0], want[0]);
        assert_view_is(&out[1], want[1]);
        /* one output, chosen by index: z only, into a buffer */
        const size_t pick[1] = {1};
        ais_buffer_view one;
        memset(&one, 0, sizeof one);
        one.buffer = big;
        one.capacity = sizeof big;
        AIS_ASSERT_OK(ais_session_run_into(sess, &in, 1, pick, &one, 1));
        assert_view_is(&one, want[1]);
        if (batches[t]) assert_ptr_equal(one.data, big);
        ais_tensor_destroy(want[0]);
        ais_tensor_destroy(want[1]);
        ais_tensor_destroy(x);
    }
    /* no outputs asked for: runs, reports nothing */
    ais_tensor *x = ais_test_rand_f32(AIS_SHAPE(2, 4), -2, 2);
    ais_buffer_view in = in_view(x);
    AIS_ASSERT_OK(ais_session_run_into(sess, &in, 1, NULL, NULL, 0));
    ais_tensor_destroy(x);
    ais_session_destroy(sess);
    ais_model_destroy(m);
}

static void test_zero_alloc_steady_state(void **state) {
    (void)state;
    ais_model *m = two_output_model();
    ais_session *sess = NULL;
    AIS_ASSERT_OK(ais_session_create(m, NULL, &sess));
    ais_tensor *x = ais_test_rand_f32(AIS_SHAPE(8, 4), -2, 2);
    ais_buffer_view in = in_view(x), out[2];
    memset(out, 0, sizeof out);
    alignas(64) float buf[32];
    out[1].buffer = buf;
    out[1].capacity = sizeof buf;
    AIS_ASSERT_OK(ais_session_run_into(sess, &in, 1, NULL, out, 2)); /* plans */
    ais_test_fill_uniform(ais_tensor_data(x), 32, -2, 2);
    ais_tensor *want[2];
    run_reference(sess, x, want, 2);
    ais_test_alloc_install(-1, false);
    ais_status st = ais_session_run_into(sess, &in, 1, NULL, out, 2);
    long count = ais_test_alloc_count();
    ais_test_alloc_remove();
    AIS_ASSERT_OK(st);
    assert_int_equal(count, 0);
    assert_view_is(&out[0], want[0]);
    assert_view_is(&out[1], want[1]);
    assert_ptr_equal(out[1].data, buf);
    ais_tensor_destroy(want[0]);
    ais_tensor_destroy(want[1]);
    ais_tensor_destroy(x);
    ais_session_destroy(sess);
    ais_model_destroy(m);
}

/* x [2, 3] -> NonZero(Relu(x)) (shape known only at run time), Relu(x); and an input and a
 * constant as outputs at level 0 (results the run does not own). */
static void test_dynamic_and_passthrough(void **state) {
    (void)state;
    ais__graph *g = ais_test_graph_new(13);
    ais_test_graph_input(g, "x", AIS_DTYPE_F32, AIS_SHAPE(2, 3), NULL);
    ais_test_graph_const(g, "k",
                         ais_test_tensor(AIS_DTYPE_I64, AIS_SHAPE(2), (const double[]){3, 4}));
    ais_test_graph_node(g, "relu", "Relu", "x", NULL, "r");
    ais_test_graph_node(g, "nz", "NonZero", "r", NULL, "idx");
    ais_test_graph_output(g, "idx");
    ais_test_graph_output(g, "r");
    ais_test_graph_output(g, "x");
    ais_test_graph_output(g, "k");
    ais_model *m = ais_test_model_at_level(g, 0);
    ais_session *sess = NULL;
    AIS_ASSERT_OK(ais_session_create(m, NULL, &sess));
    alignas(64) int64_t ibuf[12];
    for (int run = 0; run < 4; run++) {
        ais_tensor *x = ais_test_rand_f32(AIS_SHAPE(2, 3), -1, 1);
        ais_tensor *want[4];
        run_reference(sess, x, want, 4);
        ais_buffer_view in = in_view(x), out[4];
        memset(out, 0, sizeof out);
        /* odd runs: the NonZero result copied into a buffer that fits; even: session memory */
        if (run % 2) {
            out[0].buffer = ibuf;
            out[0].capacity = sizeof ibuf;
        }
        AIS_ASSERT_OK(ais_session_run_into(sess, &in, 1, NULL, out, 4));
        for (int k = 0; k < 4; k++)
            assert_view_is(&out[k], want[k]);
        if (run % 2 && out[0].nbytes) assert_ptr_equal(out[0].data, ibuf);
        /* the input as an output is a copy in session memory, not the caller's array */
        assert_ptr_not_equal(out[2].data, ais_tensor_data(x));
        ais_test_fill_uniform(ais_tensor_data(x), 6, 5, 6); /* the caller reuses its input */
        assert_view_is(&out[2], want[2]);
        for (int k = 0; k < 4; k++)
            ais_tensor_destroy(want[k]);
        ais_tensor_destroy(x);
    }
    /* reordered: k then idx */
    ais_tensor *x = ais_test_rand_f32(AIS_SHAPE(2, 3), -1, 1);
    ais_tensor *want[4];
    run_reference(sess, x, want, 4);
    ais_buffer_view in = in_view(x), out[2];
    memset(out, 0, sizeof out);
    const size_t pick[2] = {3, 0};
    AIS_ASSERT_OK(ais_session_run_into(sess, &in, 1, pick, out, 2));
    assert_view_is(&out[0], want[3]);
    assert_view_is(&out[1], want[0]);
    for (int k = 0; k < 4; k++)
        ais_tensor_destroy(want[k]);
    ais_tensor_destroy(x);
    ais_session_destroy(sess);
    ais_model_destroy(m);
}

/* Each misuse: its status, a message naming what was wrong, every output view cleared, and the
 * caller's buffer fields left as they were. */
#define EXPECT_FAIL_N(n_views, call, status, needle)                                               \
    do {                                                                                           \
        for (size_t q_ = 0; q_ < 2; q_++) {                                                        \
            out[q_].data = (void *)1;                                                              \
            out[q_].nbytes = 77;                                                                   \
            out[q_].dtype = 5;                                                                     \
            out[q_].ndim = 2;                                                                      \
        }                                                                                          \
        AIS_ASSERT_STATUS(call, status);                                                           \
        ais_test_assert_error_contains(needle);                                                    \
        for (size_t q_ = 0; q_ < (n_views); q_++)                                                  \
            assert_view_cleared(&out[q_]);                                                         \
        assert_ptr_equal(out[0].buffer, obuf);                                                     \
        assert_int_equal(out[0].capacity, sizeof obuf);                                            \
    } while (0)
#define EXPECT_FAIL(call, status, needle) EXPECT_FAIL_N(2, call, status, needle)

static void test_misuse(void **state) {
    (void)state;
    ais_model *m = two_output_model();
    ais_session *sess = NULL;
    AIS_ASSERT_OK(ais_session_create(m, NULL, &sess));
    ais_tensor *x = ais_test_rand_f32(AIS_SHAPE(2, 4), -1, 1);
    alignas(64) float obuf[16];
    ais_buffer_view out[2];
    memset(out, 0, sizeof out);
    out[0].buffer = obuf;
    out[0].capacity = sizeof obuf;
    ais_buffer_view in = in_view(x), bad;

    AIS_ASSERT_STATUS(ais_session_run_into(NULL, &in, 1, NULL, out, 2), AIS_E_INVALID_ARGUMENT);
    ais_test_assert_error_contains("session is NULL");
    AIS_ASSERT_STATUS(ais_session_run_into(sess, &in, 1, NULL, NULL, 2), AIS_E_INVALID_ARGUMENT);
    ais_test_assert_error_contains("outputs is NULL");
    EXPECT_FAIL(ais_session_run_into(sess, NULL, 1, NULL, out, 2), AIS_E_INVALID_ARGUMENT,
                "inputs is NULL");
    EXPECT_FAIL(ais_session_run_into(sess, &in, 0, NULL, out, 2), AIS_E_INVALID_ARGUMENT,
                "0 inputs given, the model has 1 (in this order: 'x')");
    ais_buffer_view two[2] = {in, in};
    EXPECT_FAIL(ais_session_run_into(sess, two, 2, NULL, out, 2), AIS_E_INVALID_ARGUMENT,
                "2 inputs given");
    ais_buffer_view three[3];
    memset(three, 0, sizeof three);
    AIS_ASSERT_STATUS(ais_session_run_into(sess, &in, 1, NULL, three, 3), AIS_E_INVALID_ARGUMENT);
    ais_test_assert_error_contains("3 outputs asked for, the model has 2");
    const size_t far[1] = {2}, dup[2] = {1, 1};
    EXPECT_FAIL_N(1, ais_session_run_into(sess, &in, 1, far, out, 1), AIS_E_INVALID_ARGUMENT,
                  "output index 2 (view 0) is out of range");
    EXPECT_FAIL(ais_session_run_into(sess, &in, 1, dup, out, 2), AIS_E_INVALID_ARGUMENT,
                "output 1 ('z') is asked for twice");

    bad = in;
    bad.dtype = AIS_DTYPE_I64;
    bad.nbytes = 64;
    EXPECT_FAIL(ais_session_run_into(sess, &bad, 1, NULL, out, 2), AIS_E_DTYPE,
                "input 'x': expected dtype f32, got i64");
    bad.dtype = 99;
    EXPECT_FAIL(ais_session_run_into(sess, &bad, 1, NULL, out, 2), AIS_E_DTYPE,
                "input 'x': dtype 99 is not an element type");
    bad.dtype = AIS_DTYPE_STRING;
    EXPECT_FAIL(ais_session_run_into(sess, &bad, 1, NULL, out, 2), AIS_E_DTYPE,
                "strings and sequences");
    bad = in;
    bad.ndim = AIS_MAX_DIMS + 1;
    EXPECT_FAIL(ais_session_run_into(sess, &bad, 1, NULL, out, 2), AIS_E_LIMIT,
                "9 dimensions, at most 8");
    bad = in;
    bad.ndim = 3;
    bad.dims[2] = 1;
    EXPECT_FAIL(ais_session_run_into(sess, &bad, 1, NULL, out, 2), AIS_E_SHAPE,
                "input 'x': expected shape [batch, 4], got [2, 4, 1]");
    bad = in;
    bad.dims[1] = 2;
    EXPECT_FAIL(ais_session_run_into(sess, &bad, 1, NULL, out, 2), AIS_E_SHAPE, "got [2, 2]");
    bad = in;
    bad.dims[0] = -1;
    EXPECT_FAIL(ais_session_run_into(sess, &bad, 1, NULL, out, 2), AIS_E_SHAPE,
                "input 'x': dimension 0 is negative");
    bad = in;
    bad.nbytes = 31;
    EXPECT_FAIL(ais_session_run_into(sess, &bad, 1, NULL, out, 2), AIS_E_SHAPE,
                "input 'x': f32 [2, 4] needs 32 bytes, nbytes is 31");
    bad = in;
    bad.data = NULL;
    EXPECT_FAIL(ais_session_run_into(sess, &bad, 1, NULL, out, 2), AIS_E_INVALID_ARGUMENT,
                "input 'x': data is NULL");
    alignas(64) unsigned char raw[64];
    bad = in;
    bad.data = raw + 2;
    EXPECT_FAIL(ais_session_run_into(sess, &bad, 1, NULL, out, 2), AIS_E_INVALID_ARGUMENT,
                "not aligned to 4 bytes");

    /* output buffers: misaligned, overlapping the input, overlapping each other */
    out[1].buffer = raw + 2;
    out[1].capacity = 32;
    EXPECT_FAIL(ais_session_run_into(sess, &in, 1, NULL, out, 2), AIS_E_INVALID_ARGUMENT,
                "output 'z': buffer");
    out[1].buffer = (float *)ais_tensor_data(x) + 4;
    EXPECT_FAIL(ais_session_run_into(sess, &in, 1, NULL, out, 2), AIS_E_INVALID_ARGUMENT,
                "output 'z': the buffer overlaps input 'x'");
    out[1].buffer = obuf + 8;
    EXPECT_FAIL(ais_session_run_into(sess, &in, 1, NULL, out, 2), AIS_E_INVALID_ARGUMENT,
                "the buffers of outputs 'y' and 'z' overlap");
    out[1].buffer = obuf + 16; /* just past y's: fine */
    out[1].capacity = 0;
    AIS_ASSERT_OK(ais_session_run_into(sess, &in, 1, NULL, out, 2));
    assert_ptr_equal(out[0].data, obuf);

    /* a call while another runs (the busy flag held as a concurrent call would) changes
     * nothing, output views included */
    atomic_store(&sess->busy, true);
    void *kept = out[1].data;
    AIS_ASSERT_STATUS(ais_session_run_into(sess, &in, 1, NULL, out, 2), AIS_E_BUSY);
    ais_test_assert_error_contains("ais_session_run_into: the session is already running");
    assert_ptr_equal(out[1].data, kept);
    atomic_store(&sess->busy, false);

    /* a failed run leaves the session usable */
    AIS_ASSERT_OK(ais_session_run_into(sess, &in, 1, NULL, out, 2));
    ais_tensor_destroy(x);
    ais_session_destroy(sess);
    ais_model_destroy(m);
}

/* String outputs (and inputs) are refused: the views have no room for the strings' owner. */
static void test_string_output(void **state) {
    (void)state;
    ais__graph *g = ais_test_graph_new(13);
    ais_test_graph_input(g, "x", AIS_DTYPE_F32, AIS_SHAPE(2), NULL);
    ais_tensor *names = NULL;
    const char *vals[2] = {"a", "b"};
    AIS_ASSERT_OK(ais_tensor_create_strings(AIS_SHAPE(2), vals, &names));
    ais_test_graph_const(g, "names", names);
    ais_test_graph_node(g, "relu", "Relu", "x", NULL, "y");
    ais_test_graph_output(g, "y");
    ais_test_graph_output(g, "names");
    ais_model *m = ais_test_model_at_level(g, 0);
    ais_session *sess = NULL;
    AIS_ASSERT_OK(ais_session_create(m, NULL, &sess));
    ais_tensor *x = ais_test_rand_f32(AIS_SHAPE(2), -1, 1);
    ais_buffer_view in = in_view(x), out[2];
    memset(out, 0, sizeof out);
    AIS_ASSERT_STATUS(ais_session_run_into(sess, &in, 1, NULL, out, 2), AIS_E_DTYPE);
    ais_test_assert_error_contains("output 'names' is a string tensor");
    assert_view_cleared(&out[0]);
    AIS_ASSERT_OK(ais_session_run_into(sess, &in, 1, NULL, out, 1)); /* y alone is fine */
    const float *px = ais_tensor_data(x), *py = out[0].data;
    for (int i = 0; i < 2; i++)
        assert_true(py[i] == (px[i] > 0 ? px[i] : 0));
    ais_tensor_destroy(x);
    ais_session_destroy(sess);
    ais_model_destroy(m);
}

static void test_metrics_and_profile(void **state) {
    (void)state;
    ais_model *m = two_output_model();
    ais_options *o = NULL;
    AIS_ASSERT_OK(ais_options_create(&o));
    AIS_ASSERT_OK(ais_options_set_int(o, AIS_OPT_PROFILE, 1));
    ais_session *sess = NULL;
    AIS_ASSERT_OK(ais_session_create(m, o, &sess));
    ais_options_destroy(o);
    ais_tensor *x = ais_test_rand_f32(AIS_SHAPE(3, 4), -1, 1);
    ais_buffer_view in = in_view(x), out[2];
    memset(out, 0, sizeof out);
    for (int i = 0; i < 3; i++)
        AIS_ASSERT_OK(ais_session_run_into(sess, &in, 1, NULL, out, 2));
    ais_tensor *x5 = ais_test_rand_f32(AIS_SHAPE(3, 5), -1, 1);
    ais_buffer_view in5 = in_view(x5);
    AIS_ASSERT_STATUS(ais_session_run_into(sess, &in5, 1, NULL, out, 2), AIS_E_SHAPE);
    ais_tensor_destroy(x5);
    uint64_t v;
    AIS_ASSERT_OK(ais_session_metric(sess, AIS_METRIC_RUNS, &v));
    assert_int_equal(v, 4);
    AIS_ASSERT_OK(ais_session_metric(sess, AIS_METRIC_ERRORS, &v));
    assert_int_equal(v, 1);
    AIS_ASSERT_OK(ais_session_metric(sess, AIS_METRIC_ROWS, &v));
    assert_int_equal(v, 9);
    AIS_ASSERT_OK(ais_session_metric(sess, AIS_METRIC_BYTES_OUT, &v));
    assert_int_equal(v, 3 * 2 * 12 * sizeof(float));
    AIS_ASSERT_OK(ais_session_metric(sess, AIS_METRIC_BYTES_IN, &v));
    /* as with ais_session_run, the bytes of a call refused for its shape count too */
    assert_int_equal(v, (3 * 12 + 15) * sizeof(float));
    uint64_t runs = 0, ns = 0, calls = 0;
    AIS_ASSERT_OK(ais_session_profile(sess, &runs, &ns));
    assert_int_equal(runs, 4);
    assert_true(ns > 0);
    AIS_ASSERT_OK(ais_session_profile_node(sess, 0, NULL, NULL, NULL, &calls, NULL));
    assert_int_equal(calls, 3);
    ais_tensor_destroy(x);
    ais_session_destroy(sess);
    ais_model_destroy(m);
}

typedef struct sweep_ctx {
    ais_model *model;
    ais_session *sess;
    ais_buffer_view in;
    const ais_tensor *want;
} sweep_ctx;

static ais_status sweep_run_into(void *arg) {
    sweep_ctx *c = arg;
    AIS__CHECK(ais_session_create(c->model, NULL, &c->sess));
    ais_buffer_view out[2];
    memset(out, 0, sizeof out);
    ais_status st = ais_session_run_into(c->sess, &c->in, 1, NULL, out, 2);
    if (st != AIS_OK) {
        if (out[0].data || out[1].data) fail_msg("a failed run left an output view set");
        return st;
    }
    assert_view_is(&out[0], c->want);
    return AIS_OK;
}

static void test_oom(void **state) {
    (void)state;
    sweep_ctx c = {.model = two_output_model()};
    ais_tensor *x = ais_test_rand_f32(AIS_SHAPE(3, 4), -1, 1), *want[2];
    AIS_ASSERT_OK(ais_session_create(c.model, NULL, &c.sess));
    run_reference(c.sess, x, want, 2);
    ais_session_destroy(c.sess);
    c.sess = NULL;
    c.in = in_view(x);
    c.want = want[0];
    long n = AIS_TEST_OOM_SWEEP("session create and first run_into", sweep_run_into, &c, 2000,
                                AIS_OWN_SESSION(&c.sess));
    assert_true(n > 5);
    ais_tensor_destroy(want[0]);
    ais_tensor_destroy(want[1]);
    ais_tensor_destroy(x);
    ais_model_destroy(c.model);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_where_outputs_land),
        cmocka_unit_test(test_zero_alloc_steady_state),
        cmocka_unit_test(test_dynamic_and_passthrough),
        cmocka_unit_test(test_misuse),
        cmocka_unit_test(test_string_output),
        cmocka_unit_test(test_metrics_and_profile),
        cmocka_unit_test(test_oom),
    };
    ais_test_seed();
    return cmocka_run_group_tests(tests, NULL, NULL);
}
