/* test_fuse_qdq.c - the QDQ fusion pass (runtime/fuse_qdq.c) through the graph API: a QDQ Conv
 * + Relu + MaxPool chain becomes QLinearConv and an 8-bit MaxPool, agrees with the unfused graph
 * within one quantization step, saves and loads again; near misses stay float; the option and
 * the CUDA load leave the groups alone; allocation failures during the pass clean up.
 * (tests/python/test_qdq_fusion.py covers every operator and ORT-quantized models.) */
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "runtime/model.h"
#include "test_util.h"

enum { V_FUSE, V_CONV_OUTPUT, V_SCALE_INPUT, V_S8_X_U8W, N_VARIANT };

static ais_status add_const(ais__graph *g, const char *name, ais_dtype dt, const int64_t *dims,
                            size_t nd, const void *data) {
    ais_tensor *t = NULL;
    int32_t v;
    AIS__CHECK(ais_tensor_create(dt, dims, nd, &t));
    memcpy(t->data, data, t->nbytes);
    ais_status st = ais__graph_value(g, name, &v);
    if (st != AIS_OK) {
        ais_tensor_destroy(t);
        return st;
    }
    return ais__graph_set_constant(g, v, t);
}

static ais_status node(ais__graph *g, const char *op, const char *in0, const char *in1,
                       const char *in2, const char *out, ais_attrs *attrs) {
    const char *in[3] = {in0, in1, in2}, *o[1] = {out};
    return ais__graph_add_node(g, NULL, op, "", attrs, in, in2 ? 3 : in1 ? 2 : 1, o, 1, NULL);
}

/* x -> Q -> DQ -> Conv(DQ(w), DQ(b)) -> Relu -> Q -> DQ -> MaxPool -> Q -> DQ -> y.
 * No assertions, so the allocation sweep can call it. */
static ais_status build(int variant, ais__graph **out) {
    ais__graph *g = NULL;
    *out = NULL;
    AIS__CHECK(ais__graph_create(&g));
    ais_status st;
    int32_t v;
    const int64_t xd[4] = {2, 3, 6, 6}, wd[4] = {4, 3, 3, 3}, c4[1] = {4};
    int8_t w[108];
    uint8_t wu[108];
    for (int i = 0; i < 108; i++) {
        w[i] = (int8_t)((i * 37) % 201 - 100);
        wu[i] = (uint8_t)(w[i] + 128);
    }
    float xs = 0.03f, ws[4] = {0.004f, 0.006f, 0.005f, 0.003f}, bs[4], ys = 0.05f;
    for (int c = 0; c < 4; c++)
        bs[c] = xs * ws[c];
    int32_t b[4] = {-300, 120, 0, 900}, bz[4] = {0};
    int8_t wz[4] = {0}, s8z = 0;
    uint8_t wzu[4] = {128, 128, 128, 128}, xz = 128, yz = 0;
    bool s8 = variant == V_S8_X_U8W;
    ais_attrs *pa = NULL, *wa = NULL, *ba = NULL;
    if ((st = ais__graph_set_opset(g, "", 13)) || (st = ais__graph_value(g, "x", &v)) ||
        (st = ais__graph_declare(g, v, AIS_DTYPE_F32, 4, xd, NULL)) ||
        (st = ais__graph_add_input(g, v)) ||
        (st = add_const(g, "w_q", s8 ? AIS_DTYPE_U8 : AIS_DTYPE_I8, wd, 4, s8 ? (void *)wu : w)) ||
        (st = add_const(g, "w_s", AIS_DTYPE_F32, c4, 1, ws)) ||
        (st =
             add_const(g, "w_z", s8 ? AIS_DTYPE_U8 : AIS_DTYPE_I8, c4, 1, s8 ? (void *)wzu : wz)) ||
        (st = add_const(g, "b_q", AIS_DTYPE_I32, c4, 1, b)) ||
        (st = add_const(g, "b_s", AIS_DTYPE_F32, c4, 1, bs)) ||
        (st = add_const(g, "b_z", AIS_DTYPE_I32, c4, 1, bz)) ||
        (st = add_const(g, "x_z", s8 ? AIS_DTYPE_I8 : AIS_DTYPE_U8, NULL, 0,
                        s8 ? (void *)&s8z : &xz)) ||
        (st = add_const(g, "y_s", AIS_DTYPE_F32, NULL, 0, &ys)) ||
        (st = add_const(g, "y_z", s8 ? AIS_DTYPE_I8 : AIS_DTYPE_U8, NULL, 0,
                        s8 ? (void *)&(int8_t){-128} : &yz)))
        goto fail;
    if (variant == V_SCALE_INPUT) { /* the activation's scale is fed, not constant */
        if ((st = ais__graph_value(g, "x_s", &v)) ||
            (st = ais__graph_declare(g, v, AIS_DTYPE_F32, 0, NULL, NULL)) ||
            (st = ais__graph_add_input(g, v)))
            goto fail;
    } else if ((st = add_const(g, "x_s", AIS_DTYPE_F32, NULL, 0, &xs))) {
        goto fail;
    }
    if ((st = ais_attrs_create(&pa)) ||
        (st = ais_attrs_set_ints(pa, "kernel_shape", (const int64_t[]){2, 2}, 2)) ||
        (st = ais_attrs_set_ints(pa, "strides", (const int64_t[]){2, 2}, 2)) ||
        (st = ais_attrs_create(&wa)) || (st = ais_attrs_set_int(wa, "axis", 0)) ||
        (st = ais_attrs_create(&ba)) || (st = ais_attrs_set_int(ba, "axis", 0)))
        goto fail;
    st = node(g, "QuantizeLinear", "x", "x_s", "x_z", "xq", NULL);
    if (!st) st = node(g, "DequantizeLinear", "xq", "x_s", "x_z", "xd", NULL);
    if (!st) {
        st = node(g, "DequantizeLinear", "w_q", "w_s", "w_z", "wd", wa);
        wa = NULL; /* taken, also on failure */
    }
    if (!st) {
        st = node(g, "DequantizeLinear", "b_q", "b_s", "b_z", "bd", ba);
        ba = NULL; /* taken, also on failure */
    }
    if (!st)
        st = ais_test_graph_conv(g, NULL, "xd", "wd", "bd", (const int64_t[]){1, 1, 1, 1}, 1, "c");
    if (!st) st = node(g, "Relu", "c", NULL, NULL, "r", NULL);
    if (!st) st = node(g, "QuantizeLinear", "r", "y_s", "y_z", "rq", NULL);
    if (!st) st = node(g, "DequantizeLinear", "rq", "y_s", "y_z", "rd", NULL);
    if (!st) {
        st = node(g, "MaxPool", "rd", NULL, NULL, "m", pa);
        pa = NULL; /* taken, also on failure */
    }
    if (!st) st = node(g, "QuantizeLinear", "m", "y_s", "y_z", "mq", NULL);
    if (!st) st = node(g, "DequantizeLinear", "mq", "y_s", "y_z", "y", NULL);
    if (st || (st = ais__graph_value(g, "y", &v)) || (st = ais__graph_add_output(g, v))) goto fail;
    if (variant == V_CONV_OUTPUT &&
        ((st = ais__graph_value(g, "c", &v)) || (st = ais__graph_add_output(g, v))))
        goto fail;
    *out = g;
    return AIS_OK;
fail:
    ais_attrs_destroy(pa);
    ais_attrs_destroy(wa);
    ais_attrs_destroy(ba);
    ais__graph_destroy(g);
    return st;
}

static ais_status load(int variant, int64_t fusion, int64_t backend, ais_model **m) {
    ais__graph *g = NULL;
    *m = NULL;
    AIS__CHECK(build(variant, &g));
    ais_options *o = NULL;
    ais_status st = ais_options_create(&o);
    if (st == AIS_OK) st = ais_options_set_int(o, AIS_OPT_QDQ_FUSION, fusion);
    if (st == AIS_OK) st = ais_options_set_int(o, AIS_OPT_BACKEND, backend);
    if (st != AIS_OK) {
        ais_options_destroy(o);
        ais__graph_destroy(g);
        return st;
    }
    st = ais__model_from_graph(g, o, m);
    ais_options_destroy(o);
    return st;
}

static size_t count_op(const ais_model *m, const char *op_type) {
    size_t n = 0;
    for (size_t i = 0; i < ais_model_node_count(m); i++) {
        const char *op;
        AIS_ASSERT_OK(ais_model_node_info(m, i, NULL, &op, NULL));
        n += strcmp(op, op_type) == 0;
    }
    return n;
}

/* Outputs of the quantization step 0.05: at most one step apart, nearly all equal. */
static void assert_within_step(const ais_tensor *a, const ais_tensor *b) {
    assert_int_equal(a->numel, b->numel);
    size_t off = 0;
    for (size_t i = 0; i < a->numel; i++) {
        float d = fabsf(((const float *)a->data)[i] - ((const float *)b->data)[i]);
        assert_true(d <= 0.05f * 1.001f);
        off += d > 0.025f;
    }
    assert_true(off * 20 <= a->numel);
}

static void test_fuses_and_agrees(void **state) {
    (void)state;
    ais_tensor *x = ais_test_rand_f32(AIS_SHAPE(2, 3, 6, 6), -3, 3);
    ais_model *fused, *plain;
    AIS_ASSERT_OK(load(V_FUSE, 1, AIS_BACKEND_CPU, &fused));
    AIS_ASSERT_OK(load(V_FUSE, 0, AIS_BACKEND_CPU, &plain));
    /* Q(x), QLinearConv (Relu folded: the zero point is 0), MaxPool on u8, DQ(y) */
    assert_int_equal(ais_model_node_count(fused), 4);
    assert_int_equal(count_op(fused, "QLinearConv"), 1);
    assert_int_equal(count_op(fused, "MaxPool"), 1);
    assert_int_equal(count_op(fused, "QuantizeLinear"), 1);
    assert_int_equal(count_op(fused, "DequantizeLinear"), 1);
    assert_int_equal(count_op(plain, "QLinearConv"), 0);
    /* unfused: the weight/bias DQs are folded as before the pass existed */
    assert_int_equal(count_op(plain, "DequantizeLinear"), 3);
    ais_tensor *a = ais_test_run_xy(fused, x), *b = ais_test_run_xy(plain, x);
    assert_within_step(a, b);
    /* a saved fused model loads (fused nodes as written) and gives the same outputs */
    char path[128];
    snprintf(path, sizeof path, "%s/qdq.ais", ais_test_tmpdir());
    AIS_ASSERT_OK(ais_model_save(fused, path, NULL));
    ais_model *again;
    AIS_ASSERT_OK(ais_model_load(path, NULL, &again));
    assert_int_equal(count_op(again, "QLinearConv"), 1);
    ais_tensor *c = ais_test_run_xy(again, x);
    assert_memory_equal(a->data, c->data, a->nbytes);
    unlink(path);
    ais_tensor_destroy(a);
    ais_tensor_destroy(b);
    ais_tensor_destroy(c);
    ais_model_destroy(fused);
    ais_model_destroy(plain);
    ais_model_destroy(again);
    ais_tensor_destroy(x);
}

static void test_near_misses_stay(void **state) {
    (void)state;
    const int variants[3] = {V_CONV_OUTPUT, V_SCALE_INPUT, V_S8_X_U8W};
    for (int k = 0; k < 3; k++) {
        ais_model *m;
        AIS_ASSERT_OK(load(variants[k], 1, AIS_BACKEND_CPU, &m));
        assert_int_equal(count_op(m, "QLinearConv"), 0);
        assert_true(count_op(m, "Conv") + count_op(m, "FusedConv") == 1);
        ais_model_destroy(m);
    }
}

static void test_cuda_load_not_fused(void **state) {
    (void)state;
    /* the model is only built here (ais__model_from_graph runs no backend): the pass reads
     * AIS_OPT_BACKEND and leaves the groups for the GPU */
    ais_model *m;
    AIS_ASSERT_OK(load(V_FUSE, 1, AIS_BACKEND_CUDA, &m));
    assert_int_equal(count_op(m, "QLinearConv"), 0);
    ais_model_destroy(m);
}

static void test_option_range(void **state) {
    (void)state;
    ais_options *o;
    AIS_ASSERT_OK(ais_options_create(&o));
    int64_t v = -1;
    AIS_ASSERT_OK(ais_options_get_int(o, AIS_OPT_QDQ_FUSION, &v));
    assert_int_equal(v, 1);
    AIS_ASSERT_STATUS(ais_options_set_int(o, AIS_OPT_QDQ_FUSION, 2), AIS_E_INVALID_ARGUMENT);
    AIS_ASSERT_OK(ais_options_set_int(o, AIS_OPT_QDQ_FUSION, 0));
    ais_options_destroy(o);
}

static ais_model *sweep_model;

static ais_status sweep_build(void *ctx) {
    (void)ctx;
    return load(V_FUSE, 1, AIS_BACKEND_CPU, &sweep_model);
}

static void test_oom(void **state) {
    (void)state;
    long n =
        AIS_TEST_OOM_SWEEP("QDQ-fused model", sweep_build, NULL, 5000, AIS_OWN_MODEL(&sweep_model));
    assert_true(n > 10);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fuses_and_agrees),
        cmocka_unit_test(test_near_misses_stay),
        cmocka_unit_test(test_cuda_load_not_fused),
        cmocka_unit_test(test_option_range),
        cmocka_unit_test(test_oom),
    };
    ais_test_seed();
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    if (ais_test_tmpdir_remove() != 0) rc = rc ? rc : 1;
    return rc;
}
