/*
 * fold_affine.c - the optimization level 2 pass (after fold_bn.c, before the fusions) that folds
 * a Mul or an Add by a per-channel constant into the Conv or the inference BatchNormalization
 * before it:
 *
 *   Conv(X, W[, B]) -> Mul(., s)  ==  Conv(X, W[m] * s[m], B[m] * s[m])
 *   Conv(X, W[, B]) -> Add(., t)  ==  Conv(X, W, B[m] + t[m])
 *   BatchNormalization(X, scale, B, mean, var) -> Mul(., s)  ==  ...(X, scale * s, B * s, ...)
 *   BatchNormalization(X, scale, B, mean, var) -> Add(., t)  ==  ...(X, scale, B + t, ...)
 *
 * s and t are f32 constants with one element, or one per channel laid out to broadcast along
 * axis 1 ([C, 1, 1] for an NCHW output) and with no more axes than the output, so the broadcast
 * keeps the output's shape. Caffe2 exports (the ONNX zoo's DenseNet-121 and Inception v2) follow
 * every BatchNormalization with such a Mul and Add: unfolded they are two passes over each
 * activation, and they keep the Relu after them from the convolution's store (fuse.c runs next).
 * Nodes are visited in order, so a chain (Conv, BatchNormalization folded into it, Mul, Add)
 * folds link by link into the first node. The constants it changes are copies the pass makes
 * (once per node: a copy made by this pass is changed in place after that); the originals may be
 * shared or mapped from the file, and those nothing reads any more are dropped.
 */
#include <stdio.h>
#include <string.h>

#include "model.h"

static bool ais__fa_dflt(const char *d) { return !d || !d[0] || strcmp(d, "ai.onnx") == 0; }

static bool ais__fa_is(const ais__node *n, const char *op) {
    return strcmp(n->op_type, op) == 0 && ais__fa_dflt(n->domain);
}

static size_t ais__fa_n_outputs(const ais__node *n) {
    size_t k = n->n_outputs;
    while (k > 0 && n->outputs[k - 1] < 0)
        k--;
    return k;
}

/* The f32 constant read by input k of node n, or NULL. */
static const ais_tensor *ais__fa_const(const ais__graph *g, const ais__node *n, size_t k) {
    const ais_tensor *t = ais__graph_baked_input(g, n, k);
    return t && t->dtype == AIS_DTYPE_F32 ? t : NULL;
}

/* The rank of value v as the graph tells it: declared, or carried from a Conv's weight or a
 * declared value through operators whose output has their first input's rank; -1: unknown. */
static int32_t ais__fa_rank(const ais__graph *g, int32_t v, int depth) {
    if (v < 0 || depth > 64) return -1;
    const ais__value *val = &g->values[v];
    if (val->ndim >= 0) return val->ndim;
    if (val->producer < 0) return -1;
    const ais__node *n = &g->nodes[val->producer];
    if (n->n_inputs == 0 || n->outputs[0] != v) return -1;
    if (ais__fa_is(n, "Conv")) {
        const ais_tensor *w = ais__fa_const(g, n, 1);
        return w ? (int32_t)w->ndim : -1;
    }
    static const char *const same_rank[] = {
        "Relu",    "BatchNormalization", "MaxPool", "AveragePool", "Concat", "LRN", "Dropout",
        "Identity"};
    for (size_t k = 0; k < sizeof same_rank / sizeof same_rank[0]; k++)
        if (ais__fa_is(n, same_rank[k])) return ais__fa_rank(g, n->inputs[0], depth + 1);
    return -1;
}

/* Whether constant c broadcasts per channel onto an output of rank r with ch channels (axis 1)
 * without changing its shape. */
static bool ais__fa_per_channel(const ais_tensor *c, int32_t r, int64_t ch) {
    if (r < 2 || (int32_t)c->ndim > r) return false;
    if (c->numel == 1) return true;
    if ((int64_t)c->numel != ch) return false;
    int32_t axis = (int32_t)c->ndim - r + 1; /* c's axis that lines up with axis 1 */
    if (axis < 0) return false;
    for (int32_t d = 0; d < (int32_t)c->ndim; d++)
        if (c->dims[d] != (d == axis ? ch : 1)) return false;
    return true;
}

typedef struct ais__fa {
    ais_model *m;
    ais__graph *g;
    uint32_t *readers; /* input slots reading each value, for values < n_values */
    size_t n_values;   /* values before this pass: later ones are its own copies */
    size_t node;       /* the Mul or Add being folded (names the copies) */
} ais__fa;

/* A writable f32 tensor of `len` elements for input k of node p: the pass's own copy when the
 * input is one already, else a new constant copied from the input (zeros when p has no input
 * k), which input k then reads. NULL with *st set on failure. */
static ais_tensor *ais__fa_own(ais__fa *f, size_t p, size_t k, size_t len, ais_status *st) {
    ais__graph *g = f->g;
    ais__node *pn = &g->nodes[p];
    int32_t old = k < pn->n_inputs ? pn->inputs[k] : -1;
    if (old >= 0 && (size_t)old >= f->n_values) return g->values[old].constant;
    const ais_tensor *src = old >= 0 ? g->values[old].constant : NULL;
    int64_t d = (int64_t)len;
    ais_tensor *t = NULL;
    if ((*st = src ? ais_tensor_create(AIS_DTYPE_F32, src->dims, src->ndim, &t)
                   : ais_tensor_create(AIS_DTYPE_F32, &d, 1, &t)) != AIS_OK)
        return NULL;
    if (src)
        memcpy(t->data, src->data, t->nbytes);
    else
        memset(t->data, 0, t->nbytes);
    char name[256];
    snprintf(name, sizeof name, "%s.affine_folded_%zu.%zu", pn->name ? pn->name : "node", k,
             f->node);
    int32_t vi;
    if (ais__graph_find(g, name) >= 0) {
        ais_tensor_destroy(t);
        *st = ais__error(AIS_E_INTERNAL, "value %s exists already", name);
        return NULL;
    }
    if ((*st = ais__graph_value(g, name, &vi)) != AIS_OK) {
        ais_tensor_destroy(t);
        return NULL;
    }
    f->m->weight_bytes += t->nbytes;
    if ((*st = ais__graph_set_constant(g, vi, t)) != AIS_OK) return NULL;
    pn = &g->nodes[p];
    if (k >= pn->n_inputs) { /* a Conv without bias gets one */
        int32_t *in = ais__malloc((k + 1) * sizeof *in);
        if (!in) {
            *st = ais__oom((k + 1) * sizeof *in, "folded node inputs");
            return NULL;
        }
        for (size_t q = 0; q <= k; q++)
            in[q] = q < pn->n_inputs ? pn->inputs[q] : -1;
        ais__free(pn->inputs);
        pn->inputs = in;
        pn->n_inputs = k + 1;
    }
    pn->inputs[k] = vi;
    if (old >= 0) f->readers[old]--;
    return g->values[vi].constant;
}

/* Folds Mul/Add node i (constant c, per channel over ch channels) into node p, a Conv with
 * weight w or a BatchNormalization; p then writes i's output. */
static ais_status ais__fa_fold(ais__fa *f, size_t p, size_t i, const ais_tensor *c, int64_t ch,
                               bool conv, size_t per) {
    ais__graph *g = f->g;
    bool mul = ais__fa_is(&g->nodes[i], "Mul");
    const float *cv = c->data;
    size_t step = c->numel == 1 ? 0 : 1;
    ais_status st = AIS_OK;
    /* Conv: weight (input 1) and bias (input 2); BatchNormalization: scale (1) and B (2) */
    ais_tensor *a = mul ? ais__fa_own(f, p, 1, (size_t)ch, &st) : NULL;
    if (mul && !a) return st;
    ais_tensor *b = ais__fa_own(f, p, 2, (size_t)ch, &st);
    if (!b) return st;
    float *av = a ? a->data : NULL, *bv = b->data;
    for (int64_t m = 0; m < ch; m++) {
        float s = cv[(size_t)m * step];
        if (mul) {
            size_t n = conv ? per : 1;
            for (size_t k = 0; k < n; k++)
                av[(size_t)m * n + k] *= s;
            bv[m] *= s;
        } else {
            bv[m] += s;
        }
    }
    for (size_t k = 0; k < g->nodes[i].n_inputs; k++)
        if (g->nodes[i].inputs[k] >= 0 && (size_t)g->nodes[i].inputs[k] < f->n_values)
            f->readers[g->nodes[i].inputs[k]]--;
    int32_t x = g->nodes[p].outputs[0], y = g->nodes[i].outputs[0];
    g->values[x].producer = -1;
    g->nodes[p].outputs[0] = y;
    g->values[y].producer = (int32_t)p;
    return AIS_OK;
}

/* Node p (the producer of Mul/Add node i's computed input) as a fold target: its channel count
 * and output rank, and for a Conv the weight's elements per output channel. */
static bool ais__fa_target(const ais__graph *g, size_t p, bool *conv, int64_t *ch, int32_t *rank,
                           size_t *per) {
    const ais__node *pn = &g->nodes[p];
    if (ais__fa_n_outputs(pn) != 1) return false;
    if (ais__fa_is(pn, "Conv")) {
        const ais_tensor *w = ais__fa_const(g, pn, 1);
        if (!w || w->ndim < 3 || w->dims[0] <= 0) return false;
        if (pn->n_inputs > 2 && pn->inputs[2] >= 0) {
            const ais_tensor *b = ais__fa_const(g, pn, 2);
            if (!b || b->ndim != 1 || b->dims[0] != w->dims[0]) return false;
        }
        *conv = true;
        *ch = w->dims[0];
        *rank = (int32_t)w->ndim;
        *per = w->numel / (size_t)w->dims[0];
        return true;
    }
    if (ais__fa_is(pn, "BatchNormalization") && pn->n_inputs == 5 &&
        ais__attr_int(pn->attrs, "training_mode", 0) == 0 &&
        ais__attr_int(pn->attrs, "spatial", 1) == 1 && !ais__attr_find(pn->attrs, "is_test")) {
        const ais_tensor *sc = ais__fa_const(g, pn, 1), *bb = ais__fa_const(g, pn, 2);
        if (!sc || !bb || sc->ndim != 1 || bb->ndim != 1 || sc->dims[0] != bb->dims[0] ||
            !ais__fa_const(g, pn, 3) || !ais__fa_const(g, pn, 4))
            return false;
        *conv = false;
        *ch = sc->dims[0];
        *rank = ais__fa_rank(g, pn->inputs[0], 0);
        *per = 1;
        return *rank >= 2;
    }
    return false;
}

ais_status ais__graph_fold_affine(ais_model *m) {
    ais__graph *g = m->graph;
    size_t n = g->n_nodes;
    if (n == 0) return AIS_OK;
    ais__fa f = {.m = m, .g = g, .n_values = g->n_values};
    f.readers = ais__calloc(g->n_values ? g->n_values : 1, sizeof *f.readers);
    bool *gone = ais__calloc(n, sizeof *gone);
    ais_status st = AIS_OK;
    size_t folded = 0;
    if (!f.readers || !gone) {
        st = ais__oom(g->n_values * sizeof *f.readers + n, "per-channel folding");
        goto done;
    }
    for (size_t i = 0; i < n; i++)
        for (size_t k = 0; k < g->nodes[i].n_inputs; k++)
            if (g->nodes[i].inputs[k] >= 0) f.readers[g->nodes[i].inputs[k]]++;
    for (size_t i = 0; i < n; i++) {
        const ais__node *a = &g->nodes[i];
        if ((!ais__fa_is(a, "Mul") && !ais__fa_is(a, "Add")) || a->n_inputs != 2 ||
            ais__fa_n_outputs(a) != 1)
            continue;
        /* one computed input x and one constant c, in either order */
        size_t kc = ais__fa_const(g, a, 1) ? 1 : ais__fa_const(g, a, 0) ? 0 : 2;
        if (kc == 2) continue;
        int32_t x = a->inputs[1 - kc];
        if (x < 0 || (size_t)x >= f.n_values) continue;
        const ais__value *xv = &g->values[x];
        if (f.readers[x] != 1 || (xv->flags & (AIS__VALUE_OUTPUT | AIS__VALUE_INPUT)) ||
            xv->producer < 0 || gone[xv->producer] || g->nodes[xv->producer].outputs[0] != x)
            continue;
        size_t p = (size_t)xv->producer, per = 0;
        bool conv = false;
        int64_t ch = 0;
        int32_t rank = -1;
        const ais_tensor *c = ais__fa_const(g, a, kc);
        if (!ais__fa_target(g, p, &conv, &ch, &rank, &per) || !ais__fa_per_channel(c, rank, ch))
            continue;
        f.node = i;
        if ((st = ais__fa_fold(&f, p, i, c, ch, conv, per)) != AIS_OK) goto done;
        gone[i] = true;
        folded++;
    }
    if (folded == 0) goto done;
    ais__model_drop_nodes(m, gone, f.readers, f.n_values);
done:
    ais__free(f.readers);
    ais__free(gone);
    return st;
}
