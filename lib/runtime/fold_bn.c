/*
 * fold_bn.c - the optimization level 2 pass that folds an inference BatchNormalization into the
 * Conv before it: y = scale * (conv(x, W) + b - mean) / sqrt(var + eps) + B is the convolution
 * with W'[m] = W[m] * s[m] and b'[m] = (b[m] - mean[m]) * s[m] + B[m], s = scale / sqrt(var +
 * eps). Exporters leave these pairs in many CNNs (ResNet-50, Inception v2, ShuffleNet, DenseNet
 * from the ONNX zoo); folding removes a pass over every such activation, and lets the fusion
 * pass (fuse.c, which runs next) fold the Relu that follows into the convolution too.
 * The folded weights are new constants (the originals may be shared or mapped from the file);
 * originals that nothing reads any more are dropped.
 */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "model.h"

static bool ais__fbn_default_domain(const char *d) {
    return !d || !d[0] || strcmp(d, "ai.onnx") == 0;
}

/* The f32 constant of input k of node n with `len` elements (0: any), or NULL. */
static const ais_tensor *ais__fbn_const(const ais__graph *g, const ais__node *n, size_t k,
                                        size_t len) {
    const ais_tensor *t = ais__graph_baked_input(g, n, k);
    if (!t || t->dtype != AIS_DTYPE_F32 || (len && (t->ndim != 1 || t->numel != len))) return NULL;
    return t;
}

static size_t ais__fbn_n_outputs(const ais__node *n) {
    size_t k = n->n_outputs;
    while (k > 0 && n->outputs[k - 1] < 0)
        k--;
    return k;
}

/* A new constant value named after `base` holding t (owned by the graph from here on). */
static ais_status ais__fbn_new_const(ais_model *m, const char *base, const char *what, size_t node,
                                     ais_tensor *t, int32_t *index) {
    char name[256];
    snprintf(name, sizeof name, "%s.bn_folded_%s.%zu", base, what, node);
    if (ais__graph_find(m->graph, name) >= 0) {
        ais_tensor_destroy(t);
        return ais__error(AIS_E_INTERNAL, "value %s exists already", name);
    }
    ais_status st = ais__graph_value(m->graph, name, index);
    if (st != AIS_OK) {
        ais_tensor_destroy(t);
        return st;
    }
    m->weight_bytes += t->nbytes;
    return ais__graph_set_constant(m->graph, *index, t);
}

/* Folds BatchNormalization node i into Conv node p (checked by the caller). */
static ais_status ais__fbn_fold(ais_model *m, size_t p, size_t i, const ais_tensor *w,
                                const ais_tensor *b, const ais_tensor *const bn[4], float eps) {
    ais__graph *g = m->graph;
    const int64_t mo = w->dims[0];
    const size_t per = w->numel / (size_t)mo;
    ais_tensor *nw = NULL, *nb = NULL;
    AIS__CHECK(ais_tensor_create(AIS_DTYPE_F32, w->dims, w->ndim, &nw));
    ais_status st = ais_tensor_create(AIS_DTYPE_F32, &mo, 1, &nb);
    if (st != AIS_OK) {
        ais_tensor_destroy(nw);
        return st;
    }
    const float *sc = bn[0]->data, *bb = bn[1]->data, *mean = bn[2]->data, *var = bn[3]->data;
    const float *wv = w->data, *bv = b ? b->data : NULL;
    float *nwv = nw->data, *nbv = nb->data;
    for (int64_t c = 0; c < mo; c++) {
        /* in double, so the folded weights round once */
        double s = (double)sc[c] / sqrt((double)var[c] + (double)eps);
        for (size_t k = 0; k < per; k++)
            nwv[(size_t)c * per + k] = (float)((double)wv[(size_t)c * per + k] * s);
        nbv[c] = (float)(((bv ? (double)bv[c] : 0.0) - (double)mean[c]) * s + (double)bb[c]);
    }
    char wname[200];
    snprintf(wname, sizeof wname, "%s", g->values[g->nodes[p].inputs[1]].name);
    int32_t wi, bi;
    if ((st = ais__fbn_new_const(m, wname, "w", i, nw, &wi)) != AIS_OK) {
        ais_tensor_destroy(nb);
        return st;
    }
    AIS__CHECK(ais__fbn_new_const(m, wname, "b", i, nb, &bi));
    ais__node *pn = &g->nodes[p];
    if (pn->n_inputs < 3) {
        int32_t *in = ais__malloc(3 * sizeof *in);
        if (!in) return ais__oom(3 * sizeof *in, "folded convolution inputs");
        in[0] = pn->inputs[0];
        in[1] = pn->inputs[1];
        ais__free(pn->inputs);
        pn->inputs = in;
        pn->n_inputs = 3;
    }
    pn->inputs[1] = wi;
    pn->inputs[2] = bi;
    /* the convolution now writes the normalization's output */
    int32_t x = pn->outputs[0], y = g->nodes[i].outputs[0];
    g->values[x].producer = -1;
    pn->outputs[0] = y;
    g->values[y].producer = (int32_t)p;
    return AIS_OK;
}

ais_status ais__graph_fold_bn(ais_model *m) {
    ais__graph *g = m->graph;
    size_t n = g->n_nodes, n_values = g->n_values;
    if (n == 0) return AIS_OK;
    uint32_t *readers = ais__calloc(g->n_values ? g->n_values : 1, sizeof *readers);
    bool *gone = ais__calloc(n, sizeof *gone);
    ais_status st = AIS_OK;
    size_t folded = 0;
    if (!readers || !gone) {
        st = ais__oom(g->n_values * sizeof *readers + n, "batch-norm folding");
        goto done;
    }
    for (size_t i = 0; i < n; i++)
        for (size_t k = 0; k < g->nodes[i].n_inputs; k++)
            if (g->nodes[i].inputs[k] >= 0) readers[g->nodes[i].inputs[k]]++;
    for (size_t i = 0; i < n; i++) {
        const ais__node *a = &g->nodes[i];
        if (strcmp(a->op_type, "BatchNormalization") != 0 || !ais__fbn_default_domain(a->domain) ||
            a->n_inputs != 5 || a->inputs[0] < 0 || ais__fbn_n_outputs(a) != 1 ||
            ais__attr_int(a->attrs, "training_mode", 0) != 0 ||
            ais__attr_int(a->attrs, "spatial", 1) != 1 || ais__attr_find(a->attrs, "is_test"))
            continue;
        int32_t x = a->inputs[0];
        const ais__value *xv = &g->values[x];
        if (readers[x] != 1 || (xv->flags & (AIS__VALUE_OUTPUT | AIS__VALUE_INPUT)) ||
            xv->producer < 0 || gone[xv->producer])
            continue;
        size_t p = (size_t)xv->producer;
        const ais__node *pn = &g->nodes[p];
        if (strcmp(pn->op_type, "Conv") != 0 || !ais__fbn_default_domain(pn->domain) ||
            ais__fbn_n_outputs(pn) != 1 || pn->outputs[0] != x || pn->n_inputs < 2)
            continue;
        const ais_tensor *w = ais__fbn_const(g, pn, 1, 0);
        if (!w || w->ndim < 3 || w->dims[0] <= 0) continue;
        size_t mo = (size_t)w->dims[0];
        const ais_tensor *b = NULL;
        if (pn->n_inputs > 2 && pn->inputs[2] >= 0 && !(b = ais__fbn_const(g, pn, 2, mo))) continue;
        const ais_tensor *bn[4];
        bool ok = true;
        for (size_t k = 0; k < 4; k++)
            ok = ok && (bn[k] = ais__fbn_const(g, a, k + 1, mo)) != NULL;
        if (!ok) continue;
        float eps = ais__attr_float(a->attrs, "epsilon", 1e-5f);
        int32_t old_w = pn->inputs[1], old_b = pn->n_inputs > 2 ? pn->inputs[2] : -1;
        if ((st = ais__fbn_fold(m, p, i, w, b, bn, eps)) != AIS_OK) goto done;
        /* g->values may have moved; the readers array covers only the old values */
        readers[old_w]--;
        if (old_b >= 0) readers[old_b]--;
        for (size_t k = 0; k < 5; k++)
            readers[a->inputs[k]]--;
        gone[i] = true;
        folded++;
    }
    if (folded == 0) goto done;
    ais__model_drop_nodes(m, gone, readers, n_values);
done:
    ais__free(readers);
    ais__free(gone);
    return st;
}
