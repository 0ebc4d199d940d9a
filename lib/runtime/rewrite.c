/*
 * rewrite.c - what every graph rewrite of the optimization passes (fold_bn.c, fuse.c,
 * fuse_transformer.c, fuse_epilogue.c, fuse_qdq.c) shares: turn a node into the fused operator,
 * and once the pass has marked the nodes it replaced, compact the node list and let go of the
 * constants nothing reads any more.
 */
#include <string.h>

#include "model.h"

void ais__model_drop_nodes(ais_model *m, const bool *gone, const uint32_t *readers,
                           size_t n_readers) {
    ais__graph *g = m->graph;
    /* First forget the producers of the removed nodes' outputs: a value a kept node now makes
     * (a folded Conv writes its BatchNormalization's output) gets its producer back below. */
    for (size_t i = 0; i < g->n_nodes; i++)
        for (size_t k = 0; gone[i] && k < g->nodes[i].n_outputs; k++)
            if (g->nodes[i].outputs[k] >= 0) g->values[g->nodes[i].outputs[k]].producer = -1;
    size_t kept = 0;
    for (size_t i = 0; i < g->n_nodes; i++) {
        if (gone[i]) {
            ais__graph_node_clear(&g->nodes[i]);
            continue;
        }
        if (kept != i) {
            g->nodes[kept] = g->nodes[i];
            m->defs[kept] = m->defs[i];
            m->opsets[kept] = m->opsets[i];
        }
        for (size_t k = 0; k < g->nodes[kept].n_outputs; k++)
            if (g->nodes[kept].outputs[k] >= 0)
                g->values[g->nodes[kept].outputs[k]].producer = (int32_t)kept;
        kept++;
    }
    g->n_nodes = kept;
    /* Constants only the removed nodes read (folded weights, eps, Clip bounds) are not kept, nor
     * saved with the model. */
    /* Values past n_readers were added by the pass (new constants that kept nodes read). */
    for (size_t v = 0; v < n_readers && v < g->n_values; v++) {
        ais__value *val = &g->values[v];
        if (readers[v] || !(val->flags & AIS__VALUE_CONST) ||
            (val->flags & (AIS__VALUE_INPUT | AIS__VALUE_OUTPUT)) || !val->constant)
            continue;
        m->weight_bytes -= AIS__MIN(m->weight_bytes, val->constant->nbytes);
        ais_tensor_destroy(val->constant);
        val->constant = NULL;
        val->flags &= ~(uint32_t)AIS__VALUE_CONST;
    }
}

ais_status ais__model_retype_node(ais_model *m, int32_t i, const char *domain, const char *op_type,
                                  const int32_t *inputs, size_t n_inputs) {
    ais__graph *g = m->graph;
    /* A pass may be the first to write an operator of com.microsoft into the graph. */
    int64_t opset = ais__graph_opset(g, domain);
    bool new_domain = opset <= 0;
    if (new_domain) opset = 1;
    const ais__op_def *def = ais__op_find(domain, op_type, opset);
    if (!def) return ais__error(AIS_E_INTERNAL, "no kernel for %s", op_type);
    char *op = ais__strdup(op_type), *dom = ais__strdup(domain);
    int32_t *in = inputs ? ais__malloc((n_inputs ? n_inputs : 1) * sizeof *in) : NULL;
    ais_status st = AIS_OK;
    if (!op || !dom || (inputs && !in)) st = ais__oom(64, "rewritten node");
    if (st == AIS_OK && new_domain) st = ais__graph_set_opset(g, domain, 1);
    if (st != AIS_OK) {
        ais__free(op);
        ais__free(dom);
        ais__free(in);
        return st;
    }
    ais__node *n = &g->nodes[i];
    ais__free(n->op_type);
    ais__free(n->domain);
    n->op_type = op;
    n->domain = dom;
    if (inputs) {
        memcpy(in, inputs, n_inputs * sizeof *in);
        ais__free(n->inputs);
        n->inputs = in;
        n->n_inputs = n_inputs;
    }
    m->defs[i] = def;
    m->opsets[i] = opset;
    return AIS_OK;
}
