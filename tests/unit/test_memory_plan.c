/* test_memory_plan.c - the host plan's arena (runtime/memory_plan.c): Concat inputs placed
 * inside the joined tensor so that their producers write it directly, and unread optional
 * outputs (Dropout's mask, MaxPool's indices) dropped at load (runtime/model.c). Random graphs
 * of Relu/Neg/Concat/Dropout on NCHW maps against a reference computed here, with batch 1 (the
 * contiguous case) and 2, Concat on the channel axis and on the batch axis, nested Concats, an
 * input joined twice, members read after the join, and members or joins that are graph
 * outputs. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "runtime/model.h"
#include "runtime/session_internal.h"
#include "test_util.h"

enum { MAXV = 40 };

static void name_of(char *buf, size_t n, int i) { snprintf(buf, n, "v%d", i); }

static const char *output_name(const ais_model *m, size_t j) {
    const char *name = NULL;
    AIS_ASSERT_OK(ais_model_output_info(m, j, &name, NULL, NULL, NULL));
    return name;
}

static void add_concat(ais__graph *g, int64_t axis, const int *ins, size_t n_in, int out) {
    char names[3][16], oname[16];
    const char *in_names[3];
    for (size_t k = 0; k < n_in; k++) {
        name_of(names[k], sizeof names[k], ins[k]);
        in_names[k] = names[k];
    }
    name_of(oname, sizeof oname, out);
    const char *outs[1] = {oname};
    ais_attrs *a = NULL;
    AIS_ASSERT_OK(ais_attrs_create(&a));
    AIS_ASSERT_OK(ais_attrs_set_int(a, "axis", axis));
    AIS_ASSERT_OK(ais__graph_add_node(g, oname, "Concat", "", a, in_names, n_in, outs, 1, NULL));
}

typedef struct val {
    int64_t c;     /* channels */
    bool readable; /* false: a join on the batch axis, of another batch: only a graph output */
    size_t numel;
    double *ref; /* batch x c x H x W */
} val;

/* A value later nodes may read, mostly one of the last few (as in a CNN's blocks). */
static int pick(const val *v, int nv) {
    for (;;) {
        int a = ais_test_randint(0, 3) ? nv - 1 - (int)ais_test_randint(0, nv < 4 ? nv - 1 : 3)
                                       : (int)ais_test_randint(0, nv - 1);
        if (v[a].readable) return a;
    }
}

static void test_concat_in_place_random(void **state) {
    (void)state;
    for (int trial = 0; trial < 200; trial++) {
        /* 4 x 4: a channel is 64 bytes, so joins go in place; 3 x 5: 60 bytes, they cannot
         * (inputs must start on AIS__ALIGN bytes) */
        int64_t H = trial % 4 ? 4 : 3, W = trial % 4 ? 4 : 5;
        const size_t plane = (size_t)(H * W);
        int64_t batch = ais_test_randint(1, 2);
        val v[MAXV];
        bool is_output[MAXV] = {false};
        ais__graph *g = ais_test_graph_new(13);
        v[0].c = ais_test_randint(1, 4);
        v[0].readable = true;
        v[0].numel = (size_t)(batch * v[0].c) * plane;
        ais_test_graph_input(g, "v0", AIS_DTYPE_F32, AIS_SHAPE(batch, v[0].c, H, W), NULL);
        ais_tensor *x = ais_test_rand_f32(AIS_SHAPE(batch, v[0].c, H, W), -1, 1);
        v[0].ref = malloc(sizeof(double) * v[0].numel);
        for (size_t i = 0; i < v[0].numel; i++)
            v[0].ref[i] = ((const float *)ais_tensor_data(x))[i];
        int nv = 1, n_nodes = (int)ais_test_randint(3, MAXV - 1);
        for (; nv <= n_nodes; nv++) {
            int kind = (int)ais_test_randint(0, 3); /* 0 Relu, 1 Neg, 2 Dropout, 3 Concat */
            int a = pick(v, nv);
            char an[16], on[16];
            name_of(an, sizeof an, a);
            name_of(on, sizeof on, nv);
            val *r = &v[nv];
            r->readable = true;
            if (kind < 3) {
                r->c = v[a].c;
                r->numel = v[a].numel;
                r->ref = malloc(sizeof(double) * r->numel);
                for (size_t e = 0; e < r->numel; e++) {
                    double t = v[a].ref[e];
                    r->ref[e] = kind == 0 ? (t > 0 ? t : 0) : kind == 1 ? -t : t;
                }
                if (kind == 2) { /* the mask: read as a graph output now and then */
                    char mn[16];
                    snprintf(mn, sizeof mn, "m%d", nv);
                    const char *ins[1] = {an}, *outs[2] = {on, mn};
                    AIS_ASSERT_OK(
                        ais__graph_add_node(g, on, "Dropout", "", NULL, ins, 1, outs, 2, NULL));
                    if (ais_test_randint(0, 3) == 0) ais_test_graph_output(g, mn);
                } else {
                    ais_test_graph_node(g, on, kind == 0 ? "Relu" : "Neg", an, NULL, on);
                }
                continue;
            }
            /* Concat of 2-3 values (one may come twice) on the channels (1 or -3), or now and
             * then on the batch axis (0) of values with a's channel count */
            int ins[3];
            size_t n_in = (size_t)ais_test_randint(2, 3);
            int64_t axis = ais_test_randint(0, 5) == 0 ? 0 : ais_test_randint(0, 1) ? 1 : -3;
            r->c = 0;
            r->numel = 0;
            for (size_t k = 0; k < n_in; k++) {
                int b = pick(v, nv);
                ins[k] = axis == 0 && v[b].c != v[a].c ? a : b;
                r->c += v[ins[k]].c;
                r->numel += v[ins[k]].numel;
            }
            add_concat(g, axis, ins, n_in, nv);
            r->ref = malloc(sizeof(double) * r->numel);
            size_t o = 0;
            if (axis == 0) {
                r->readable = false;
                is_output[nv] = true;
                for (size_t k = 0; k < n_in; k++)
                    for (size_t e = 0; e < v[ins[k]].numel; e++)
                        r->ref[o++] = v[ins[k]].ref[e];
                continue;
            }
            for (int64_t bb = 0; bb < batch; bb++)
                for (size_t k = 0; k < n_in; k++) {
                    size_t n = (size_t)v[ins[k]].c * plane;
                    memcpy(r->ref + o, v[ins[k]].ref + (size_t)bb * n, n * sizeof(double));
                    o += n;
                }
        }
        is_output[nv - 1] = true;
        for (int i = 1; i < nv; i++)
            if (ais_test_randint(0, 9) == 0) is_output[i] = true;
        int outs[MAXV], n_outs = 0;
        for (int i = 1; i < nv; i++) {
            if (!is_output[i]) continue;
            char on[16];
            name_of(on, sizeof on, i);
            ais_test_graph_output(g, on);
            outs[n_outs++] = i;
        }
        ais_model *m = ais_test_model_at_level(g, ais_test_randint(1, 2));
        ais_session *s = NULL;
        AIS_ASSERT_OK(ais_session_create(m, NULL, &s));
        size_t n_all = ais_model_output_count(m);
        for (int run = 0; run < 2; run++) {
            ais_tensor *y[2 * MAXV] = {NULL};
            const ais_tensor *in[1] = {x};
            AIS_ASSERT_OK(ais_session_run(s, NULL, in, 1, NULL, y, n_all));
            /* the outputs in the graph's order, masks among them: find ours by name */
            for (int k = 0; k < n_outs; k++) {
                char on[16];
                name_of(on, sizeof on, outs[k]);
                size_t j = 0;
                while (j < n_all && strcmp(output_name(m, j), on) != 0)
                    j++;
                assert_true(j < n_all);
                const val *r = &v[outs[k]];
                assert_int_equal(ais_tensor_size(y[j]), r->numel);
                ais_test_assert_close_values(y[j], r->ref, r->numel, 0, 0);
            }
            for (size_t j = 0; j < n_all; j++) {
                if (output_name(m, j)[0] == 'm') { /* masks (bool from opset 10) stay all true */
                    assert_int_equal(ais_tensor_dtype(y[j]), AIS_DTYPE_BOOL);
                    const uint8_t *mk = ais_tensor_data(y[j]);
                    for (size_t e = 0; e < ais_tensor_size(y[j]); e++)
                        assert_int_equal(mk[e], 1);
                }
                ais_tensor_destroy(y[j]);
            }
        }
        ais_session_destroy(s);
        ais_model_destroy(m);
        ais_tensor_destroy(x);
        for (int i = 0; i < nv; i++)
            free(v[i].ref);
    }
}

/* x -> Relu, Neg -> Concat on channels -> Relu -> y: with batch 1 the memory plan puts both
 * members inside the joined tensor and marks the Concat step joined (it never runs); with batch
 * 2 the channels of one image are not contiguous and the step copies. Same values either way. */
static void test_concat_joined_at_plan_time(void **state) {
    (void)state;
    for (int64_t batch = 1; batch <= 2; batch++) {
        ais__graph *g = ais_test_graph_new(13);
        ais_test_graph_input(g, "x", AIS_DTYPE_F32, AIS_SHAPE(batch, 3, 4, 4), NULL);
        ais_test_graph_node(g, "a", "Relu", "x", NULL, "a");
        ais_test_graph_node(g, "b", "Neg", "x", NULL, "b");
        ais_attrs *at = NULL;
        AIS_ASSERT_OK(ais_attrs_create(&at));
        AIS_ASSERT_OK(ais_attrs_set_int(at, "axis", 1));
        const char *ins[2] = {"a", "b"}, *outs[1] = {"c"};
        AIS_ASSERT_OK(ais__graph_add_node(g, "c", "Concat", "", at, ins, 2, outs, 1, NULL));
        ais_test_graph_node(g, "y", "Relu", "c", NULL, "y");
        ais_test_graph_output(g, "y");
        ais_model *m = ais_test_model_at_level(g, 1);
        ais_tensor *x = ais_test_rand_f32(AIS_SHAPE(batch, 3, 4, 4), -1, 1);
        ais_session *s = NULL;
        AIS_ASSERT_OK(ais_session_create(m, NULL, &s));
        for (int run = 0; run < 2; run++) {
            ais_tensor *y = NULL;
            const ais_tensor *in[1] = {x};
            AIS_ASSERT_OK(ais_session_run(s, NULL, in, 1, NULL, &y, 1));
            const float *px = ais_tensor_data(x), *py = ais_tensor_data(y);
            size_t img = 3 * 16;
            for (int64_t bb = 0; bb < batch; bb++)
                for (size_t e = 0; e < img; e++) {
                    float v = px[(size_t)bb * img + e];
                    assert_true(py[(size_t)bb * 2 * img + e] == (v > 0 ? v : 0));
                    assert_true(py[(size_t)bb * 2 * img + img + e] == (v < 0 ? -v : 0));
                }
            ais_tensor_destroy(y);
        }
        size_t concats = 0;
        for (size_t i = 0; i < s->plan->n_steps; i++) {
            const ais__step *st = &s->plan->steps[i];
            if (strcmp(st->def->name, "Concat") != 0) continue;
            concats++;
            assert_int_equal(st->joined, batch == 1);
        }
        assert_int_equal(concats, 1);
        ais_session_destroy(s);
        ais_model_destroy(m);
        ais_tensor_destroy(x);
    }
}

/* A node with 3 inputs at most and 3 outputs at most (NULL: fewer). */
static void add_node3(ais__graph *g, const char *op, ais_attrs *at, const char *i0, const char *i1,
                      const char *i2, const char *o0, const char *o1, const char *o2) {
    const char *ins[3] = {i0, i1, i2}, *outs[3] = {o0, o1, o2};
    size_t ni = i2 ? 3 : i1 ? 2 : 1, no = o2 ? 3 : o1 ? 2 : 1;
    AIS_ASSERT_OK(ais__graph_add_node(g, o0, op, "", at, ins, ni, outs, no, NULL));
}

static size_t outputs_of(const ais_model *m, const char *op) {
    const ais__graph *g = m->graph;
    for (size_t i = 0; i < g->n_nodes; i++)
        if (strcmp(g->nodes[i].op_type, op) == 0) return g->nodes[i].n_outputs;
    fail_msg("no %s node", op);
    return 0;
}

/* Trailing optional outputs that nothing reads are dropped at load, down to the operator's
 * minimum: Dropout's mask and MaxPool's indices (none left), LayerNormalization's InvStdDev (its
 * Mean is a graph output: kept). Split's parts are not optional: its unread second part stays.
 * The values are those of the untrimmed graph (level 0 keeps every output). */
static void test_unread_optional_outputs_dropped(void **state) {
    (void)state;
    ais_tensor *x = ais_test_rand_f32(AIS_SHAPE(1, 2, 6, 6), -1, 1);
    ais_tensor *scale = ais_test_rand_f32(AIS_SHAPE(3), 0.5, 2);
    ais_tensor *bias = ais_test_rand_f32(AIS_SHAPE(3), -1, 1);
    ais_tensor *y[2][2] = {{NULL}};
    for (int level = 0; level < 2; level++) {
        ais__graph *g = ais_test_graph_new(17);
        ais_test_graph_input(g, "x", AIS_DTYPE_F32, AIS_SHAPE(1, 2, 6, 6), NULL);
        AIS_ASSERT_OK(ais_test_graph_copy_const(g, "scale", scale));
        AIS_ASSERT_OK(ais_test_graph_copy_const(g, "bias", bias));
        add_node3(g, "Dropout", NULL, "x", NULL, NULL, "d", "dmask", NULL);
        ais_attrs *pa = NULL;
        AIS_ASSERT_OK(ais_attrs_create(&pa));
        AIS_ASSERT_OK(ais_attrs_set_ints(pa, "kernel_shape", (const int64_t[]){2, 2}, 2));
        AIS_ASSERT_OK(ais_attrs_set_ints(pa, "strides", (const int64_t[]){2, 2}, 2));
        add_node3(g, "MaxPool", pa, "d", NULL, NULL, "p", "pidx", NULL);
        add_node3(g, "LayerNormalization", NULL, "p", "scale", "bias", "ln", "mean", "inv");
        ais_attrs *sa = NULL;
        AIS_ASSERT_OK(ais_attrs_create(&sa));
        AIS_ASSERT_OK(ais_attrs_set_int(sa, "axis", 1));
        add_node3(g, "Split", sa, "ln", NULL, NULL, "s0", "s1", NULL);
        ais_test_graph_output(g, "s0");
        ais_test_graph_output(g, "mean");
        ais_model *m = ais_test_model_at_level(g, level);
        if (level == 1) {
            assert_int_equal(outputs_of(m, "Dropout"), 1);
            assert_int_equal(outputs_of(m, "MaxPool"), 1);
            assert_int_equal(outputs_of(m, "LayerNormalization"), 2);
            assert_int_equal(outputs_of(m, "Split"), 2);
        }
        ais_session *s = NULL;
        AIS_ASSERT_OK(ais_session_create(m, NULL, &s));
        const ais_tensor *in[1] = {x};
        AIS_ASSERT_OK(ais_session_run(s, NULL, in, 1, NULL, y[level], 2));
        ais_session_destroy(s);
        ais_model_destroy(m);
    }
    for (int k = 0; k < 2; k++) {
        assert_int_equal(ais_tensor_nbytes(y[0][k]), ais_tensor_nbytes(y[1][k]));
        assert_memory_equal(ais_tensor_data(y[0][k]), ais_tensor_data(y[1][k]),
                            ais_tensor_nbytes(y[0][k]));
        ais_tensor_destroy(y[0][k]);
        ais_tensor_destroy(y[1][k]);
    }
    ais_tensor_destroy(scale);
    ais_tensor_destroy(bias);
    ais_tensor_destroy(x);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_concat_in_place_random),
        cmocka_unit_test(test_concat_joined_at_plan_time),
        cmocka_unit_test(test_unread_optional_outputs_dropped),
    };
    ais_test_seed();
    return cmocka_run_group_tests(tests, NULL, NULL);
}
