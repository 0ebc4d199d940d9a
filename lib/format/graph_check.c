/*
 * graph_check.c - the structural rules that every model reader's graph must meet, checked in
 * one place so that the readers cannot drift apart (a .ais graph once loaded with an input
 * listed twice, which the ONNX reader refused). The session still sorts and type-checks; this
 * is what a file can get wrong in its lists of names.
 */
#include "format.h"

#include <stdio.h>
#include <string.h>

static const char *ais__vname(const ais__graph *g, int32_t v) { return g->values[v].name; }

static ais_status ais__check_list(const ais__graph *g, const int32_t *list, size_t n,
                                  const char *what, uint8_t *seen) {
    memset(seen, 0, g->n_values);
    for (size_t i = 0; i < n; i++) {
        int32_t v = list[i];
        if (v < 0 || (size_t)v >= g->n_values)
            return ais__error(AIS_E_FORMAT, "graph %s %zu refers to value %d of %zu", what, i, v,
                              g->n_values);
        if (seen[v])
            return ais__error(AIS_E_FORMAT, "graph %s '%s' is listed twice", what,
                              ais__vname(g, v));
        seen[v] = 1;
    }
    return AIS_OK;
}

static ais_status ais__check_nodes(const ais__graph *g) {
    char label[160];
    for (size_t i = 0; i < g->n_nodes; i++) {
        const ais__node *n = &g->nodes[i];
        for (size_t k = 0; k < n->n_outputs; k++) {
            int32_t v = n->outputs[k];
            if (v < 0) continue;
            const ais__value *val = &g->values[v];
            const char *clash = val->producer != (int32_t)i     ? "the output of another node"
                                : val->flags & AIS__VALUE_INPUT ? "a graph input"
                                : val->flags & AIS__VALUE_CONST ? "a constant"
                                                                : NULL;
            if (clash) {
                return ais__error(AIS_E_FORMAT, "%s (%s): output '%s' is also %s",
                                  ais__node_label(n, label, sizeof label), n->op_type, val->name,
                                  clash);
            }
        }
        for (size_t k = 0; k < n->n_inputs; k++) {
            int32_t v = n->inputs[k];
            if (v < 0) continue;
            const ais__value *val = &g->values[v];
            if (val->producer < 0 && !(val->flags & (AIS__VALUE_INPUT | AIS__VALUE_CONST))) {
                return ais__error(AIS_E_FORMAT,
                                  "%s (%s): input '%s' is neither a graph input, a constant nor "
                                  "the output of a node",
                                  ais__node_label(n, label, sizeof label), n->op_type, val->name);
            }
        }
    }
    return AIS_OK;
}

ais_status ais__graph_validate(const ais__graph *g) {
    uint8_t *seen = ais__malloc(g->n_values ? g->n_values : 1);
    if (!seen) return ais__oom(g->n_values, "graph check");
    ais_status st = ais__check_list(g, g->inputs, g->n_inputs, "input", seen);
    for (size_t i = 0; st == AIS_OK && i < g->n_inputs; i++) {
        const ais__value *v = &g->values[g->inputs[i]];
        if (v->flags & AIS__VALUE_CONST)
            st = ais__error(AIS_E_FORMAT, "graph input '%s' is also a constant", v->name);
        else if (v->producer >= 0)
            st = ais__error(AIS_E_FORMAT, "graph input '%s' is also the output of a node", v->name);
    }
    if (st == AIS_OK) st = ais__check_list(g, g->outputs, g->n_outputs, "output", seen);
    for (size_t i = 0; st == AIS_OK && i < g->n_outputs; i++) {
        const ais__value *v = &g->values[g->outputs[i]];
        if (v->producer < 0 && !(v->flags & (AIS__VALUE_INPUT | AIS__VALUE_CONST)))
            st = ais__error(AIS_E_FORMAT, "graph output '%s' is not produced by any node", v->name);
    }
    ais__free(seen);
    if (st == AIS_OK) st = ais__check_nodes(g);
    return st;
}
