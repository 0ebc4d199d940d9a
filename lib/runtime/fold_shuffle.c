/*
 * fold_shuffle.c - the optimization level 2 pass that folds a channel shuffle into the grouped
 * convolution before it. ShuffleNet writes the shuffle as Reshape [N, G, Cg, H, W] -> Transpose
 * perm [0, 2, 1, 3, 4] -> Reshape [N, G * Cg, H, W] right after a convolution of G groups: a copy
 * of the whole activation (7% of the model's time at one thread). The convolution computes its
 * output group by group, Cg channels each, so it can store group g's channel i straight where
 * the shuffle puts it, channel i * G + g (conv.c, attribute "ais_shuffled_output" holding the
 * first Reshape's [N, G, Cg, H, W]; the GEMM paths store a group's rows G rows apart). The
 * result is bit-identical and the three nodes go.
 *
 * Which convolution: Conv or FusedConv without a residual Z, 2-D, constant W [G * Cg, C / G,
 * kh, kw] with C / G >= 2 (a depthwise one takes other paths) and group G. The convolution
 * checks at run time that its output is [N, G * Cg, H, W] (the shuffle then moves whole planes).
 */
#include <string.h>

#include "model.h"

static bool ais__fsh_default_domain(const char *d) {
    return !d || !d[0] || strcmp(d, "ai.onnx") == 0;
}

static bool ais__fsh_is(const ais__node *n, const char *op) {
    return strcmp(n->op_type, op) == 0 && ais__fsh_default_domain(n->domain);
}

/* The int64 constant input k of node n with `len` elements, or NULL. */
static const int64_t *ais__fsh_ints(const ais__graph *g, const ais__node *n, size_t k,
                                    size_t len) {
    const ais_tensor *t = ais__graph_baked_input(g, n, k);
    if (!t || t->dtype != AIS_DTYPE_I64 || t->ndim != 1 || t->numel != len) return NULL;
    return t->data;
}

/* The node producing value v when its output is read by exactly one slot, is neither a graph
 * input nor output, and the node has that single output; else -1. */
static int32_t ais__fsh_sole_producer(const ais__graph *g, const uint32_t *readers,
                                      const bool *gone, int32_t v) {
    if (v < 0) return -1;
    const ais__value *val = &g->values[v];
    if (readers[v] != 1 || (val->flags & (AIS__VALUE_OUTPUT | AIS__VALUE_INPUT | AIS__VALUE_CONST)) ||
        val->producer < 0 || gone[val->producer])
        return -1;
    const ais__node *p = &g->nodes[val->producer];
    if (p->n_outputs < 1 || p->outputs[0] != v) return -1;
    for (size_t k = 1; k < p->n_outputs; k++)
        if (p->outputs[k] >= 0) return -1;
    return val->producer;
}

/* The node whose input reads value v when exactly one slot reads it (v no graph output);
 * else -1. */
static int32_t ais__fsh_sole_reader(const ais__graph *g, const uint32_t *readers, const bool *gone,
                                    int32_t v) {
    if (v < 0 || readers[v] != 1 || (g->values[v].flags & AIS__VALUE_OUTPUT)) return -1;
    for (size_t i = 0; i < g->n_nodes; i++)
        for (size_t k = 0; k < g->nodes[i].n_inputs; k++)
            if (g->nodes[i].inputs[k] == v) return gone[i] ? -1 : (int32_t)i;
    return -1;
}

/* Whether node c is a Conv/FusedConv the shuffle of `groups` groups of `per` channels can fold
 * into (above), not yet holding one. */
static bool ais__fsh_grouped(const ais__graph *g, const ais__node *c, int64_t groups,
                             int64_t per) {
    bool conv = ais__fsh_is(c, "Conv") ||
                (strcmp(c->op_type, "FusedConv") == 0 && c->domain &&
                 strcmp(c->domain, "com.microsoft") == 0);
    if (!conv || c->n_inputs < 2 || c->n_inputs > 3 || c->inputs[1] < 0 ||
        ais__attr_find(c->attrs, "ais_shuffled_output"))
        return false;
    const ais_tensor *w = ais__graph_baked_input(g, c, 1);
    return w && w->ndim == 4 && w->dims[0] == groups * per && w->dims[1] >= 2 &&
           ais__attr_int(c->attrs, "group", 1) == groups;
}

/* When Reshape node i starts a channel shuffle right after a grouped convolution it can fold
 * into, the convolution writes the shuffle's output and the shuffle's nodes are marked gone
 * (*folded); else nothing changes. */
static ais_status ais__fsh_try(ais_model *m, size_t i, uint32_t *readers, bool *gone,
                               bool *folded) {
    ais__graph *g = m->graph;
    *folded = false;
    const ais__node *r1n = &g->nodes[i];
    if (!ais__fsh_is(r1n, "Reshape") || r1n->n_inputs != 2 || r1n->n_outputs != 1 ||
        r1n->outputs[0] < 0)
        return AIS_OK;
    const int64_t *d1 = ais__fsh_ints(g, r1n, 1, 5);
    int32_t c = d1 ? ais__fsh_sole_producer(g, readers, gone, r1n->inputs[0]) : -1;
    int32_t tr = c >= 0 ? ais__fsh_sole_reader(g, readers, gone, r1n->outputs[0]) : -1;
    if (tr < 0 || !ais__fsh_is(&g->nodes[tr], "Transpose") ||
        g->nodes[tr].n_inputs != 1 || g->nodes[tr].n_outputs != 1)
        return AIS_OK;
    int32_t r2 = ais__fsh_sole_reader(g, readers, gone, g->nodes[tr].outputs[0]);
    if (r2 < 0 || !ais__fsh_is(&g->nodes[r2], "Reshape") || g->nodes[r2].n_inputs != 2 ||
        g->nodes[r2].inputs[0] != g->nodes[tr].outputs[0] || g->nodes[r2].n_outputs != 1 ||
        g->nodes[r2].outputs[0] < 0)
        return AIS_OK;
    const int64_t *perm, *d2 = ais__fsh_ints(g, &g->nodes[r2], 1, 4);
    size_t n_perm;
    static const int64_t want[5] = {0, 2, 1, 3, 4};
    if (!d2 || !ais__attr_ints(g->nodes[tr].attrs, "perm", &perm, &n_perm) ||
        n_perm != 5 || memcmp(perm, want, sizeof want) != 0)
        return AIS_OK;
    /* explicit extents only (no 0 or -1 to resolve against the input's shape), but for the
     * channels of the last Reshape, which the others fix (torch's view(n, -1, h, w)) */
    for (int k = 0; k < 5; k++)
        if (d1[k] <= 0) return AIS_OK;
    if (d2[0] != d1[0] || (d2[1] != d1[1] * d1[2] && d2[1] != -1) || d2[2] != d1[3] || d2[3] != d1[4] ||
        d1[1] < 2 || !ais__fsh_grouped(g, &g->nodes[c], d1[1], d1[2]))
        return AIS_OK;
    ais__node *cn = &g->nodes[c];
    if (!cn->attrs) AIS__CHECK(ais_attrs_create(&cn->attrs));
    AIS__CHECK(ais_attrs_set_ints(cn->attrs, "ais_shuffled_output", d1, 5));
    /* the convolution now writes the last Reshape's output */
    int32_t y = g->nodes[r2].outputs[0];
    g->values[cn->outputs[0]].producer = -1;
    cn->outputs[0] = y;
    g->values[y].producer = c;
    const int32_t nodes[3] = {(int32_t)i, tr, r2};
    for (int k = 0; k < 3; k++) {
        const ais__node *n = &g->nodes[nodes[k]];
        for (size_t s = 0; s < n->n_inputs; s++)
            if (n->inputs[s] >= 0) readers[n->inputs[s]]--;
        gone[nodes[k]] = true;
    }
    *folded = true;
    return AIS_OK;
}
ais_status ais__graph_fold_shuffle(ais_model *m) {
    ais__graph *g = m->graph;
    size_t n = g->n_nodes, n_values = g->n_values;
    /* the CUDA backend's convolution does not know the attribute */
    if (n == 0 || m->load_for_cuda) return AIS_OK;
    uint32_t *readers = ais__calloc(n_values ? n_values : 1, sizeof *readers);
    bool *gone = ais__calloc(n, sizeof *gone);
    ais_status st = AIS_OK;
    size_t folded = 0;
    if (!readers || !gone) {
        st = ais__oom(n_values * sizeof *readers + n, "channel shuffle folding");
        goto done;
    }
    for (size_t i = 0; i < n; i++)
        for (size_t k = 0; k < g->nodes[i].n_inputs; k++)
            if (g->nodes[i].inputs[k] >= 0) readers[g->nodes[i].inputs[k]]++;
    for (size_t i = 0; i < n; i++) {
        bool f;
        if (gone[i]) continue;
        if ((st = ais__fsh_try(m, i, readers, gone, &f)) != AIS_OK) goto done;
        folded += f;
    }
    if (folded) ais__model_drop_nodes(m, gone, readers, n_values);
done:
    ais__free(readers);
    ais__free(gone);
    return st;
}
