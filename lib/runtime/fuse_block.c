/*
 * fuse_block.c - the optimization level 2 pass (after fuse.c) that makes MobileNetV2's
 * inverted-residual block one node (issue 11):
 *
 *   FusedConv(X, We [CE, C, 1, 1], Be, activation Relu or Clip)        1x1 expansion
 *     -> FusedConv(., Wd [CE, 1, K, K], Bd, group CE, activation Relu or Clip)   depthwise
 *     -> Conv(., Wp [M, CE, 1, 1], Bp) or FusedConv(., Wp, Bp, Z) without activation
 *   -> com.microsoft FusedInvertedResidual(X, We, Be, Wd, Bd, Wp, Bp[, Z]) (lib/ops/conv_block.c)
 *
 * which runs the block a band of output rows at a time, so that the expanded tensor stays in
 * cache. Taken only where that kernel is the fast path: weights and biases constant f32, the
 * expansion of at most AIS__BLOCK_MAX_INPUT input channels (the table's conv_pw_small), at most
 * AIS__BLOCK_MAX_EXPANDED expanded ones (the projection runs through the same broadcast kernel,
 * which beyond that depth falls behind the GEMM path), K 3 or 5, strides 1 or 2, and a CPU level
 * with conv_pw_small and dwconv_planes (AVX2; AVX-512 keeps its GEMM path, not measured there).
 * In MobileNetV2 these are the blocks of 16 to 32 input channels at 112x112 to 28x28, the ones
 * whose expanded tensors (0.6 to 4.8 MB) do not fit in L2. The intermediate values have this
 * chain as their only reader and are no graph outputs. The fused node takes the projection's
 * place, so a Z computed after the expansion is ready when it runs. Not for models loaded for
 * CUDA (no such kernel there).
 */
#include <math.h>
#include <string.h>

#include "cpu/cpu.h"
#include "model.h"

#define AIS__BLOCK_DOMAIN "com.microsoft"
#define AIS__BLOCK_MAX_INPUT 32
#define AIS__BLOCK_MAX_EXPANDED 256

typedef struct ais__blk_chain {
    int32_t e, d, p; /* expansion, depthwise and projection nodes */
    float clip_e[2], clip_d[2];
} ais__blk_chain;

static bool ais__blk_node_is(const ais__node *n, const char *op, bool ms) {
    if (strcmp(n->op_type, op) != 0) return false;
    if (ms) return n->domain && strcmp(n->domain, AIS__BLOCK_DOMAIN) == 0;
    return !n->domain || !n->domain[0] || strcmp(n->domain, "ai.onnx") == 0;
}

static const ais_tensor *ais__blk_const(const ais__graph *g, const ais__node *n, size_t k) {
    const ais_tensor *t = ais__graph_baked_input(g, n, k);
    return t && t->dtype == AIS_DTYPE_F32 && t->data ? t : NULL;
}

/* Every value of the ints attribute `name` equals v (or it is absent). */
static bool ais__blk_ints_all(const ais_attrs *a, const char *name, int64_t v, size_t count) {
    const int64_t *p;
    size_t n;
    if (!ais__attr_ints(a, name, &p, &n)) return true;
    if (n != count) return false;
    for (size_t i = 0; i < n; i++)
        if (p[i] != v) return false;
    return true;
}

/* A 2-D convolution node's geometry attributes: explicit pads, unit dilations, equal strides s. */
static bool ais__blk_geometry(const ais__node *n, int64_t group, int64_t *s) {
    const char *ap = ais__attr_string(n->attrs, "auto_pad", "NOTSET");
    const int64_t *st;
    size_t ns;
    *s = 1;
    if (strcmp(ap, "NOTSET") != 0 || ais__attr_int(n->attrs, "group", 1) != group ||
        !ais__blk_ints_all(n->attrs, "dilations", 1, 2))
        return false;
    if (ais__attr_ints(n->attrs, "strides", &st, &ns)) {
        if (ns != 2 || st[0] != st[1]) return false;
        *s = st[0];
    }
    return true;
}

/* The clamp of a FusedConv's Relu or Clip activation. */
static bool ais__blk_clamp(const ais__node *n, float *lohi) {
    const char *act = ais__attr_string(n->attrs, "activation", NULL);
    if (!act) return false;
    if (strcmp(act, "Relu") == 0) {
        lohi[0] = 0.0f, lohi[1] = INFINITY;
        return true;
    }
    const float *v;
    size_t n_v;
    if (strcmp(act, "Clip") != 0) return false;
    lohi[0] = -INFINITY, lohi[1] = INFINITY;
    if (ais__attr_floats(n->attrs, "activation_params", &v, &n_v)) {
        if (n_v != 2) return false;
        lohi[0] = v[0], lohi[1] = v[1];
    }
    return lohi[0] <= lohi[1];
}

/* Inputs 1 and 2 of node n: a constant f32 W of rank 4 [d0, d1, k, k] (d < 0: any) and a
 * constant f32 bias [W's d0]. */
static bool ais__blk_weights(const ais__graph *g, const ais__node *n, int64_t d0, int64_t d1,
                             int64_t k) {
    if (n->n_inputs < 3 || n->inputs[0] < 0) return false;
    const ais_tensor *w = ais__blk_const(g, n, 1), *b = ais__blk_const(g, n, 2);
    if (!w || !b || w->ndim != 4 || (d0 >= 0 && w->dims[0] != d0) ||
        (d1 >= 0 && w->dims[1] != d1) || w->dims[2] != w->dims[3] ||
        (k > 0 ? w->dims[2] != k : (w->dims[2] != 3 && w->dims[2] != 5)))
        return false;
    return b->ndim == 1 && b->dims[0] == w->dims[0];
}

/* The node's one output (trailing omitted ones aside), or -1. */
static int32_t ais__blk_out(const ais__node *n) {
    size_t k = n->n_outputs;
    while (k > 0 && n->outputs[k - 1] < 0)
        k--;
    return k == 1 ? n->outputs[0] : -1;
}

/* The only node reading v when v is no graph input or output, or -1. */
static int32_t ais__blk_sole_reader(const ais__graph *g, const uint32_t *readers,
                                    const int32_t *reader, int32_t v) {
    if (v < 0 || readers[v] != 1 || (g->values[v].flags & (AIS__VALUE_INPUT | AIS__VALUE_OUTPUT)))
        return -1;
    return reader[v];
}

static bool ais__blk_match(const ais__graph *g, const uint32_t *readers, const int32_t *reader,
                           int32_t i, ais__blk_chain *c) {
    const ais__node *e = &g->nodes[i];
    int64_t s;
    if (!ais__blk_node_is(e, "FusedConv", true) || e->n_inputs != 3 ||
        !ais__blk_weights(g, e, -1, -1, 1) || !ais__blk_geometry(e, 1, &s) || s != 1 ||
        !ais__blk_ints_all(e->attrs, "pads", 0, 4) || !ais__blk_clamp(e, c->clip_e))
        return false;
    const ais_tensor *we = g->values[e->inputs[1]].constant;
    int64_t ce = we->dims[0];
    if (we->dims[1] > AIS__BLOCK_MAX_INPUT || ce > AIS__BLOCK_MAX_EXPANDED) return false;
    int32_t d = ais__blk_sole_reader(g, readers, reader, ais__blk_out(e));
    if (d < 0) return false;
    const ais__node *dn = &g->nodes[d];
    if (!ais__blk_node_is(dn, "FusedConv", true) || dn->n_inputs != 3 ||
        dn->inputs[0] != e->outputs[0] || !ais__blk_weights(g, dn, ce, 1, 0) ||
        !ais__blk_geometry(dn, ce, &s) || (s != 1 && s != 2) || !ais__blk_clamp(dn, c->clip_d))
        return false;
    const int64_t *pads;
    size_t np;
    if (ais__attr_ints(dn->attrs, "pads", &pads, &np)) {
        if (np != 4) return false;
        for (size_t k = 0; k < 4; k++) /* the operator's range; MobileNets pad K / 2 */
            if (pads[k] < 0 || pads[k] >= g->values[dn->inputs[1]].constant->dims[2]) return false;
    }
    int32_t p = ais__blk_sole_reader(g, readers, reader, ais__blk_out(dn));
    if (p < 0) return false;
    const ais__node *pn = &g->nodes[p];
    bool fused = ais__blk_node_is(pn, "FusedConv", true);
    if (!(fused || ais__blk_node_is(pn, "Conv", false)) || pn->inputs[0] != dn->outputs[0] ||
        !ais__blk_weights(g, pn, -1, ce, 1) || !ais__blk_geometry(pn, 1, &s) || s != 1 ||
        !ais__blk_ints_all(pn->attrs, "pads", 0, 4) || ais__blk_out(pn) < 0)
        return false;
    if (fused ? (pn->n_inputs > 4 || ais__attr_string(pn->attrs, "activation", NULL) != NULL)
              : pn->n_inputs != 3)
        return false;
    c->e = i, c->d = d, c->p = p;
    return true;
}

/* The projection node becomes the fused node; the other two go. */
static ais_status ais__blk_apply(ais_model *m, const ais__blk_chain *c, bool *gone) {
    ais__graph *g = m->graph;
    const ais__node *e = &g->nodes[c->e], *d = &g->nodes[c->d];
    ais__node *p = &g->nodes[c->p];
    int32_t in[8] = {e->inputs[0], e->inputs[1], e->inputs[2], d->inputs[1],
                     d->inputs[2], p->inputs[1], p->inputs[2], -1};
    size_t n_in = 7;
    if (p->n_inputs > 3 && p->inputs[3] >= 0) in[n_in++] = p->inputs[3];
    const int64_t *dp, *ds;
    size_t n;
    int64_t pads[4] = {0, 0, 0, 0}, strides[2] = {1, 1};
    if (ais__attr_ints(d->attrs, "pads", &dp, &n)) memcpy(pads, dp, sizeof pads);
    if (ais__attr_ints(d->attrs, "strides", &ds, &n)) memcpy(strides, ds, sizeof strides);
    ais_attrs *a = NULL;
    ais_status st = ais_attrs_create(&a);
    if (st == AIS_OK) st = ais_attrs_set_ints(a, "strides", strides, 2);
    if (st == AIS_OK) st = ais_attrs_set_ints(a, "pads", pads, 4);
    if (st == AIS_OK) st = ais_attrs_set_floats(a, "expand_clip", c->clip_e, 2);
    if (st == AIS_OK) st = ais_attrs_set_floats(a, "depthwise_clip", c->clip_d, 2);
    if (st == AIS_OK)
        st = ais__model_retype_node(m, c->p, AIS__BLOCK_DOMAIN, "FusedInvertedResidual", in, n_in);
    if (st != AIS_OK) {
        ais_attrs_destroy(a);
        return st;
    }
    ais_attrs_destroy(p->attrs);
    p->attrs = a;
    gone[c->e] = gone[c->d] = true;
    return AIS_OK;
}

ais_status ais__graph_fuse_block(ais_model *m, size_t *count) {
    if (count) *count = 0;
    ais__graph *g = m->graph;
    size_t n = g->n_nodes, nv = g->n_values ? g->n_values : 1;
    const ais__cpu_kernels *t = ais__cpu();
    if (n < 3 || m->load_for_cuda || !t->conv_pw_small || !t->dwconv_planes) return AIS_OK;
    uint32_t *readers = ais__calloc(nv, sizeof *readers);
    int32_t *reader = ais__malloc(nv * sizeof *reader);
    bool *gone = ais__calloc(n, sizeof *gone);
    ais__blk_chain *chains = ais__malloc(n * sizeof *chains);
    ais_status st = AIS_OK;
    size_t n_chains = 0;
    if (!readers || !reader || !gone || !chains) {
        st = ais__oom(nv * 8 + n * sizeof *chains, "inverted-residual fusion");
        goto done;
    }
    for (size_t i = 0; i < n; i++)
        for (size_t k = 0; k < g->nodes[i].n_inputs; k++)
            if (g->nodes[i].inputs[k] >= 0) {
                readers[g->nodes[i].inputs[k]]++;
                reader[g->nodes[i].inputs[k]] = (int32_t)i;
            }
    /* chains do not overlap: each node's output has one reader, so a node is in one chain */
    for (size_t i = 0; i < n; i++)
        if (ais__blk_match(g, readers, reader, (int32_t)i, &chains[n_chains])) n_chains++;
    if (n_chains == 0) goto done;
    if (ais__graph_opset(g, AIS__BLOCK_DOMAIN) <= 0 &&
        (st = ais__graph_set_opset(g, AIS__BLOCK_DOMAIN, 1)) != AIS_OK)
        goto done;
    for (size_t k = 0; k < n_chains && st == AIS_OK; k++)
        st = ais__blk_apply(m, &chains[k], gone);
    if (st != AIS_OK) goto done;
    /* readers of the kept nodes, for the constants the drop lets go */
    memset(readers, 0, nv * sizeof *readers);
    for (size_t i = 0; i < n; i++)
        for (size_t k = 0; !gone[i] && k < g->nodes[i].n_inputs; k++)
            if (g->nodes[i].inputs[k] >= 0) readers[g->nodes[i].inputs[k]]++;
    ais__model_drop_nodes(m, gone, readers, g->n_values);
    if (count) *count = n_chains;
done:
    ais__free(readers);
    ais__free(reader);
    ais__free(gone);
    ais__free(chains);
    return st;
}
