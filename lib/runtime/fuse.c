/*
 * fuse.c - the optimization level 2 pass: Conv, Gemm or MatMul whose only reader is an
 * activation becomes one FusedConv/FusedGemm/FusedMatMul node (lib/ops/fused.c), which saves a
 * pass over the output and, on CUDA, a kernel launch.
 */
#include <math.h>
#include <string.h>

#include "model.h"

#define AIS__FUSED_DOMAIN "com.microsoft"

static bool ais__default_domain(const char *d) { return !d || !d[0] || strcmp(d, "ai.onnx") == 0; }

/* A Clip bound that the fused node can carry: absent, or a constant f32 scalar. */
static bool ais__clip_bound(const ais__graph *g, const ais__node *n, size_t k, float dflt,
                            float *v) {
    *v = dflt;
    if (k >= n->n_inputs || n->inputs[k] < 0) return true;
    const ais__value *b = &g->values[n->inputs[k]];
    if (!(b->flags & AIS__VALUE_CONST) || (b->flags & AIS__VALUE_INPUT)) return false;
    const ais_tensor *t = b->constant;
    if (t->dtype != AIS_DTYPE_F32 || t->numel != 1 || t->ndim > 1) return false;
    *v = ((const float *)t->data)[0];
    return true;
}

/* The activation name and parameters of node n, or false when it cannot be fused. */
static bool ais__activation_of(const ais__graph *g, const ais__node *n, int64_t opset,
                               bool fuse_clip, const char **name, float *params, size_t *n_params) {
    *n_params = 0;
    const char *op = n->op_type;
    if (strcmp(op, "Gelu") == 0 &&
        (ais__default_domain(n->domain) || strcmp(n->domain, "com.microsoft") == 0)) {
        const char *a = ais__attr_string(n->attrs, "approximate", "none");
        if (strcmp(a, "none") == 0)
            *name = "Gelu";
        else if (strcmp(a, "tanh") == 0)
            *name = "GeluTanh";
        else
            return false;
        return true;
    }
    if (!ais__default_domain(n->domain)) return false;
    if (strcmp(op, "Relu") == 0 || strcmp(op, "Sigmoid") == 0 || strcmp(op, "Tanh") == 0) {
        *name = op;
        return true;
    }
    if (strcmp(op, "LeakyRelu") == 0) {
        *name = op;
        params[0] = ais__attr_float(n->attrs, "alpha", 0.01f);
        *n_params = 1;
        return true;
    }
    /* Clip (ReLU6 in MobileNets) is not fused in builds with the CUDA plugin: the CUDA
     * backend's epilogues have no clamp, so a fused node would pull each convolution back to
     * the CPU (measured on an H200: mobilenet_v2 34.6 ms fused vs 5.0 ms unfused). Builds
     * without it only ever run on the CPU, whose convolution kernels clamp in their store
     * (a pass over every activation saved: 16% of MobileNetV2's time). The internal option
     * fuse_clip (struct ais_options) folds it anyway, for the tests of the fused form. */
#ifndef AIS_HAVE_CUDA_PLUGIN
    fuse_clip = true;
#endif
    if (strcmp(op, "Clip") == 0 && !fuse_clip) {
        return false;
    } else if (strcmp(op, "Clip") == 0) {
        *name = op;
        *n_params = 2;
        if (opset < 11) {
            params[0] = ais__attr_float(n->attrs, "min", -INFINITY);
            params[1] = ais__attr_float(n->attrs, "max", INFINITY);
            return true;
        }
        return ais__clip_bound(g, n, 1, -INFINITY, &params[0]) &&
               ais__clip_bound(g, n, 2, INFINITY, &params[1]);
    }
    return false;
}

static const char *ais__fused_name(const ais__node *p) {
    if (!ais__default_domain(p->domain)) return NULL;
    if (strcmp(p->op_type, "Conv") == 0) return "FusedConv";
    if (strcmp(p->op_type, "Gemm") == 0) return "FusedGemm";
    if (strcmp(p->op_type, "MatMul") == 0) return "FusedMatMul";
    return NULL;
}

/* Rewrites producer p to the fused operator reading the activation's output value y. */
static ais_status ais__fuse_pair(ais_model *m, size_t p, int32_t y, const char *fused,
                                 const char *act, const float *params, size_t n_params) {
    ais__graph *g = m->graph;
    ais__node *pn = &g->nodes[p];
    if (!pn->attrs) AIS__CHECK(ais_attrs_create(&pn->attrs));
    AIS__CHECK(ais_attrs_set_string(pn->attrs, "activation", act));
    if (n_params)
        AIS__CHECK(ais_attrs_set_floats(pn->attrs, "activation_params", params, n_params));
    AIS__CHECK(ais__model_retype_node(m, (int32_t)p, AIS__FUSED_DOMAIN, fused, NULL, 0));
    g->values[pn->outputs[0]].producer = -1;
    pn->outputs[0] = y;
    g->values[y].producer = (int32_t)p;
    return AIS_OK;
}

ais_status ais__graph_fuse(ais_model *m) {
    ais__graph *g = m->graph;
    size_t n = g->n_nodes;
    if (n == 0) return AIS_OK;
    /* readers[v]: input slots reading value v over all nodes */
    uint32_t *readers = ais__calloc(g->n_values ? g->n_values : 1, sizeof *readers);
    bool *gone = ais__calloc(n, sizeof *gone);
    ais_status st = AIS_OK;
    if (!readers || !gone) {
        st = ais__oom(g->n_values * sizeof *readers + n, "graph fusion");
        goto done;
    }
    for (size_t i = 0; i < n; i++)
        for (size_t k = 0; k < g->nodes[i].n_inputs; k++)
            if (g->nodes[i].inputs[k] >= 0) readers[g->nodes[i].inputs[k]]++;
    size_t fused_count = 0;
    for (size_t i = 0; i < n; i++) {
        const ais__node *a = &g->nodes[i];
        if (a->n_inputs == 0 || a->inputs[0] < 0) continue;
        size_t n_out = a->n_outputs;
        while (n_out > 0 && a->outputs[n_out - 1] < 0)
            n_out--;
        if (n_out != 1 || a->outputs[0] < 0) continue;
        const char *act;
        float params[2];
        size_t n_params;
        if (!ais__activation_of(g, a, m->opsets[i], m->fuse_clip, &act, params, &n_params))
            continue;
        int32_t x = a->inputs[0];
        const ais__value *xv = &g->values[x];
        if (readers[x] != 1 || (xv->flags & (AIS__VALUE_OUTPUT | AIS__VALUE_INPUT)) ||
            xv->producer < 0 || gone[xv->producer])
            continue;
        size_t p = (size_t)xv->producer;
        const ais__node *pn = &g->nodes[p];
        const char *fused = ais__fused_name(pn);
        size_t p_out = pn->n_outputs;
        while (p_out > 0 && pn->outputs[p_out - 1] < 0)
            p_out--;
        if (!fused || p_out != 1 || pn->outputs[0] != x) continue;
        if (fused_count == 0 && ais__graph_opset(g, AIS__FUSED_DOMAIN) <= 0 &&
            (st = ais__graph_set_opset(g, AIS__FUSED_DOMAIN, 1)) != AIS_OK)
            goto done;
        if ((st = ais__fuse_pair(m, p, a->outputs[0], fused, act, params, n_params)) != AIS_OK)
            goto done;
        /* Clip's bound inputs lose a reader; Relu's input is now nobody's */
        for (size_t k = 0; k < a->n_inputs; k++)
            if (a->inputs[k] >= 0) readers[a->inputs[k]]--;
        gone[i] = true;
        fused_count++;
    }
    if (fused_count == 0) goto done;
    ais__model_drop_nodes(m, gone, readers, g->n_values);
done:
    ais__free(readers);
    ais__free(gone);
    return st;
}
