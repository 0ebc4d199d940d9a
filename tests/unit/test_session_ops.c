/* test_session_ops.c - operators run through a session whose optional inputs are graph inputs
 * or omitted (''): at plan time such inputs are shape descriptors without data, which an
 * operator's infer must not read (Clip once did and crashed). Also Clip's absent integer
 * bounds. */
#include <math.h>
#include <string.h>

#include "runtime/model.h"
#include "test_util.h"

static ais__graph *new_graph(int64_t opset) {
    ais__graph *g = NULL;
    AIS_ASSERT_OK(ais__graph_create(&g));
    AIS_ASSERT_OK(ais__graph_set_opset(g, "", opset));
    return g;
}

static void add_input(ais__graph *g, const char *name, ais_dtype dtype, const int64_t *dims,
                      size_t ndim) {
    int32_t v;
    AIS_ASSERT_OK(ais__graph_value(g, name, &v));
    AIS_ASSERT_OK(ais__graph_declare(g, v, dtype, (int32_t)ndim, dims, NULL));
    AIS_ASSERT_OK(ais__graph_add_input(g, v));
}

static void add_output(ais__graph *g, const char *name) {
    int32_t v;
    AIS_ASSERT_OK(ais__graph_value(g, name, &v));
    AIS_ASSERT_OK(ais__graph_add_output(g, v));
}

static ais_model *make_model(ais__graph *g) {
    ais_model *m = NULL;
    AIS_ASSERT_OK(ais__model_from_graph(g, NULL, &m));
    return m;
}

/* Clip(x, min, max) where min and max are graph inputs ("" = omitted); names[1..2] say which. */
static ais_model *clip_model(ais_dtype dt, const char *min_name, const char *max_name,
                             int64_t n) {
    ais__graph *g = new_graph(13);
    add_input(g, "x", dt, AIS_SHAPE(n));
    if (*min_name) add_input(g, min_name, dt, NULL, 0);
    if (*max_name) add_input(g, max_name, dt, NULL, 0);
    const char *ins[3] = {"x", min_name, max_name};
    const char *outs[1] = {"y"};
    size_t n_in = *max_name ? 3 : *min_name ? 2 : 1;
    AIS_ASSERT_OK(ais__graph_add_node(g, "clip", "Clip", "", NULL, ins, n_in, outs, 1, NULL));
    add_output(g, "y");
    return make_model(g);
}

static double clamp(double x, double lo, double hi) { return x < lo ? lo : x > hi ? hi : x; }

/* The regression: float Clip with bounds as graph inputs crashed while planning. */
static void test_clip_bounds_are_graph_inputs(void **state) {
    (void)state;
    const char *cases[][2] = {{"lo", "hi"}, {"", "hi"}, {"lo", ""}, {"", ""}};
    for (size_t c = 0; c < AIS__ARRAY_LEN(cases); c++) {
        int64_t n = ais_test_randint(0, 37);
        ais_model *m = clip_model(AIS_DTYPE_F32, cases[c][0], cases[c][1], n);
        ais_session *s = NULL;
        AIS_ASSERT_OK(ais_session_create(m, NULL, &s));
        for (int rep = 0; rep < 3; rep++) { /* same shapes: the cached plan is reused */
            ais_tensor *x = ais_test_rand_f32(AIS_SHAPE(n), -3, 3);
            double lo = ais_test_uniform(-2, 0), hi = ais_test_uniform(0, 2);
            ais_tensor *tlo = ais_test_tensor(AIS_DTYPE_F32, NULL, 0, &lo);
            ais_tensor *thi = ais_test_tensor(AIS_DTYPE_F32, NULL, 0, &hi);
            const ais_tensor *ins[3] = {x, NULL, NULL};
            size_t k = 1;
            if (*cases[c][0]) ins[k++] = tlo;
            if (*cases[c][1]) ins[k++] = thi;
            ais_tensor *y = NULL;
            AIS_ASSERT_OK(ais_session_run(s, NULL, ins, k, NULL, &y, 1));
            double want[37];
            const float *xp = ais_tensor_data(x);
            for (int64_t i = 0; i < n; i++)
                want[i] = clamp(xp[i], *cases[c][0] ? (float)lo : -INFINITY,
                                *cases[c][1] ? (float)hi : INFINITY);
            ais_test_assert_close_values(y, want, (size_t)n, 0, 0);
            ais_tensor_destroy(x);
            ais_tensor_destroy(tlo);
            ais_tensor_destroy(thi);
            ais_tensor_destroy(y);
        }
        ais_session_destroy(s);
        ais_model_destroy(m);
    }
}

/* A bound of the wrong shape is refused when planning, without reading its data. */
static void test_clip_bound_shape_error(void **state) {
    (void)state;
    ais__graph *g = new_graph(13);
    add_input(g, "x", AIS_DTYPE_F32, AIS_SHAPE(4));
    add_input(g, "lo", AIS_DTYPE_F32, AIS_SHAPE(2));
    const char *ins[2] = {"x", "lo"}, *outs[1] = {"y"};
    AIS_ASSERT_OK(ais__graph_add_node(g, "clip", "Clip", "", NULL, ins, 2, outs, 1, NULL));
    add_output(g, "y");
    ais_model *m = make_model(g);
    ais_session *s = NULL;
    AIS_ASSERT_OK(ais_session_create(m, NULL, &s));
    ais_tensor *x = ais_test_rand_f32(AIS_SHAPE(4), -1, 1);
    ais_tensor *lo = ais_test_rand_f32(AIS_SHAPE(2), -1, 1);
    const ais_tensor *in[2] = {x, lo};
    ais_tensor *y = NULL;
    AIS_ASSERT_STATUS(ais_session_run(s, NULL, in, 2, NULL, &y, 1), AIS_E_SHAPE);
    ais_test_assert_error_contains("min must be a scalar");
    assert_null(y);
    ais_tensor_destroy(x);
    ais_tensor_destroy(lo);
    ais_session_destroy(s);
    ais_model_destroy(m);
}

/* Absent integer bounds are the type's own lowest and highest values (they once wrapped:
 * INT64_MAX cast to int8 is -1). Through the eager API and a session with '' inputs. */
static void test_clip_int_default_bounds(void **state) {
    (void)state;
    static const struct {
        ais_dtype dt;
        double lo, hi;
    } types[] = {
        {AIS_DTYPE_I8, -128, 127},     {AIS_DTYPE_I16, -32768, 32767},
        {AIS_DTYPE_I32, -2147483648.0, 2147483647.0}, {AIS_DTYPE_I64, -1e15, 1e15},
        {AIS_DTYPE_U8, 0, 255},        {AIS_DTYPE_U16, 0, 65535},
        {AIS_DTYPE_U32, 0, 4294967295.0}, {AIS_DTYPE_U64, 0, 1e15},
    };
    for (size_t t = 0; t < AIS__ARRAY_LEN(types); t++) {
        double v[9];
        /* the extremes and random values in between */
        v[0] = types[t].lo;
        v[1] = types[t].hi;
        for (int i = 2; i < 9; i++) v[i] = (double)ais_test_randint(-100, 100);
        if (types[t].lo == 0)
            for (int i = 2; i < 9; i++) v[i] = fabs(v[i]);
        ais_tensor *x = ais_test_tensor(types[t].dt, AIS_SHAPE(9), v);
        /* eager, no bounds at all */
        ais_tensor *y = NULL;
        const ais_tensor *in1[1] = {x};
        AIS_ASSERT_OK(ais_test_run_op("Clip", NULL, in1, 1, &y, 1));
        ais_test_assert_close_values(y, v, 9, 0, 0);
        ais_tensor_destroy(y);
        /* eager, only a max: the min stays the type's lowest */
        double hi = 50, want[9];
        ais_tensor *th = ais_test_tensor(types[t].dt, NULL, 0, &hi);
        const ais_tensor *in3[3] = {x, NULL, th};
        y = NULL;
        AIS_ASSERT_OK(ais_test_run_op("Clip", NULL, in3, 3, &y, 1));
        for (int i = 0; i < 9; i++) want[i] = v[i] > hi ? hi : v[i];
        ais_test_assert_close_values(y, want, 9, 0, 0);
        ais_tensor_destroy(y);
        /* a session whose min is omitted ('') and max a graph input */
        ais_model *m = clip_model(types[t].dt, "", "hi", 9);
        ais_session *s = NULL;
        AIS_ASSERT_OK(ais_session_create(m, NULL, &s));
        const ais_tensor *ins[2] = {x, th};
        y = NULL;
        AIS_ASSERT_OK(ais_session_run(s, NULL, ins, 2, NULL, &y, 1));
        ais_test_assert_close_values(y, want, 9, 0, 0);
        ais_tensor_destroy(y);
        ais_session_destroy(s);
        ais_model_destroy(m);
        ais_tensor_destroy(th);
        ais_tensor_destroy(x);
    }
}

typedef struct {
    ais_model *m;
    ais_session *s;
    ais_tensor *x, *hi, *y;
} sweep_ctx;

static ais_status sweep_run(void *arg) {
    sweep_ctx *c = arg;
    AIS__CHECK(ais_session_create(c->m, NULL, &c->s));
    const ais_tensor *ins[2] = {c->x, c->hi};
    return ais_session_run(c->s, NULL, ins, 2, NULL, &c->y, 1);
}

static void test_clip_oom(void **state) {
    (void)state;
    sweep_ctx c = {.m = clip_model(AIS_DTYPE_F32, "", "hi", 5)};
    c.x = ais_test_rand_f32(AIS_SHAPE(5), -1, 1);
    double hi = 0.25;
    c.hi = ais_test_tensor(AIS_DTYPE_F32, NULL, 0, &hi);
    assert_true(AIS_TEST_OOM_SWEEP("Clip session", sweep_run, &c, 400, AIS_OWN_SESSION(&c.s),
                                   AIS_OWN_TENSOR(&c.y)) > 0);
    ais_tensor_destroy(c.x);
    ais_tensor_destroy(c.hi);
    ais_model_destroy(c.m);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_clip_bounds_are_graph_inputs),
        cmocka_unit_test(test_clip_bound_shape_error),
        cmocka_unit_test(test_clip_int_default_bounds),
        cmocka_unit_test(test_clip_oom),
    };
    ais_test_seed();
    return cmocka_run_group_tests(tests, NULL, NULL);
}
