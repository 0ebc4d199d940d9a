/* graph.c - building the IR: values by name, nodes, opsets, metadata, held resources. */
#include "graph.h"

#include <stdio.h>
#include <string.h>

static uint64_t ais__hash_str(const char *s) {
    uint64_t h = 1469598103934665603ull; /* FNV-1a */
    for (; *s; s++) h = (h ^ (uint8_t)*s) * 1099511628211ull;
    return h;
}

/* Grows an array of `elem` bytes to hold one more item. */
static bool ais__grow(void **items, size_t *cap, size_t count, size_t elem) {
    if (count < *cap) return true;
    size_t ncap = *cap ? *cap * 2 : 16;
    void *p = ais__realloc(*items, *cap * elem, ncap * elem);
    if (!p) return false;
    memset((char *)p + *cap * elem, 0, (ncap - *cap) * elem);
    *items = p;
    *cap = ncap;
    return true;
}

ais_status ais__graph_create(ais__graph **out) {
    *out = ais__calloc(1, sizeof **out);
    if (!*out) return ais__oom(sizeof **out, "graph");
    return AIS_OK;
}

static void ais__value_clear(ais__value *v) {
    ais__free(v->name);
    for (int i = 0; i < AIS_MAX_DIMS; i++) ais__free(v->dim_names[i]);
    ais_tensor_destroy(v->constant);
}

void ais__graph_node_clear(ais__node *n) {
    ais__free(n->name);
    ais__free(n->op_type);
    ais__free(n->domain);
    ais_attrs_destroy(n->attrs);
    ais__free(n->inputs);
    ais__free(n->outputs);
}

void ais__graph_destroy(ais__graph *g) {
    if (!g) return;
    for (size_t i = 0; i < g->n_values; i++) ais__value_clear(&g->values[i]);
    for (size_t i = 0; i < g->n_nodes; i++) ais__graph_node_clear(&g->nodes[i]);
    for (size_t i = 0; i < g->n_opsets; i++) ais__free(g->opsets[i].domain);
    for (size_t i = 0; i < g->n_meta; i++) {
        ais__free(g->meta[i].key);
        ais__free(g->meta[i].value);
    }
    /* Constants are gone, so what they borrowed from can go too. */
    for (size_t i = g->n_holds; i-- > 0;) g->holds[i].release(g->holds[i].ctx);
    ais__free(g->values);
    ais__free(g->nodes);
    ais__free(g->inputs);
    ais__free(g->outputs);
    ais__free(g->opsets);
    ais__free(g->meta);
    ais__free(g->holds);
    ais__free(g->index);
    ais__free(g);
}

const char *ais__node_label(const ais__node *n, char *buf, size_t size) {
    if (n->name && n->name[0])
        snprintf(buf, size, "node '%s'", n->name);
    else
        snprintf(buf, size, "graph.node[%ld]", (long)n->index);
    return buf;
}

const ais_tensor *ais__graph_baked_input(const ais__graph *g, const ais__node *n, size_t k) {
    if (k >= n->n_inputs || n->inputs[k] < 0) return NULL;
    const ais__value *v = &g->values[n->inputs[k]];
    if (!(v->flags & AIS__VALUE_CONST) || (v->flags & AIS__VALUE_INPUT)) return NULL;
    return v->constant;
}

int32_t ais__graph_find(const ais__graph *g, const char *name) {
    if (!g->index_cap || !name) return -1;
    size_t mask = g->index_cap - 1;
    for (size_t i = ais__hash_str(name) & mask;; i = (i + 1) & mask) {
        int32_t v = g->index[i];
        if (v < 0) return -1;
        if (strcmp(g->values[v].name, name) == 0) return v;
    }
}

static ais_status ais__index_rebuild(ais__graph *g, size_t cap) {
    int32_t *idx = ais__malloc(cap * sizeof *idx);
    if (!idx) return ais__oom(cap * sizeof *idx, "graph name index");
    for (size_t i = 0; i < cap; i++) idx[i] = -1;
    for (size_t v = 0; v < g->n_values; v++) {
        size_t i = ais__hash_str(g->values[v].name) & (cap - 1);
        while (idx[i] >= 0) i = (i + 1) & (cap - 1);
        idx[i] = (int32_t)v;
    }
    ais__free(g->index);
    g->index = idx;
    g->index_cap = cap;
    return AIS_OK;
}

ais_status ais__graph_value(ais__graph *g, const char *name, int32_t *index) {
    int32_t found = ais__graph_find(g, name);
    if (found >= 0) {
        *index = found;
        return AIS_OK;
    }
    if (g->n_values >= INT32_MAX / 4) return ais__error(AIS_E_LIMIT, "graph: too many values");
    /* keep the index at most half full */
    if ((g->n_values + 1) * 2 > g->index_cap)
        AIS__CHECK(ais__index_rebuild(g, g->index_cap ? g->index_cap * 2 : 64));
    if (!ais__grow((void **)&g->values, &g->cap_values, g->n_values, sizeof *g->values))
        return ais__oom(sizeof *g->values * g->cap_values * 2, "graph values");
    ais__value *v = &g->values[g->n_values];
    memset(v, 0, sizeof *v);
    v->name = ais__strdup(name);
    if (!v->name) return ais__oom(strlen(name) + 1, "value name");
    v->ndim = -1;
    v->producer = -1;
    size_t mask = g->index_cap - 1;
    size_t i = ais__hash_str(name) & mask;
    while (g->index[i] >= 0) i = (i + 1) & mask;
    g->index[i] = (int32_t)g->n_values;
    *index = (int32_t)g->n_values++;
    return AIS_OK;
}

ais_status ais__graph_declare(ais__graph *g, int32_t value, ais_dtype dtype, int32_t ndim,
                              const int64_t *dims, const char *const *dim_names) {
    if (ndim > AIS_MAX_DIMS)
        return ais__error(AIS_E_LIMIT, "value '%s': %d dimensions, at most %d are supported",
                          g->values[value].name, ndim, AIS_MAX_DIMS);
    ais__value *v = &g->values[value];
    v->dtype = dtype;
    v->ndim = ndim;
    for (int32_t i = 0; i < ndim; i++) {
        v->dims[i] = dims ? dims[i] : AIS__DIM_DYNAMIC;
        ais__free(v->dim_names[i]);
        v->dim_names[i] = NULL;
        if (dim_names && dim_names[i] && dim_names[i][0]) {
            v->dim_names[i] = ais__strdup(dim_names[i]);
            if (!v->dim_names[i]) return ais__oom(strlen(dim_names[i]) + 1, "dimension name");
        }
    }
    return AIS_OK;
}

ais_status ais__graph_set_constant(ais__graph *g, int32_t value, ais_tensor *t) {
    ais__value *v = &g->values[value];
    ais_tensor_destroy(v->constant);
    v->constant = t;
    v->flags |= AIS__VALUE_CONST;
    v->dtype = t->dtype;
    v->ndim = (int32_t)t->ndim;
    for (uint32_t i = 0; i < t->ndim; i++) v->dims[i] = t->dims[i];
    return AIS_OK;
}

static ais_status ais__push_index(int32_t **items, size_t *n, size_t *cap, int32_t v,
                                  const char *what) {
    if (!ais__grow((void **)items, cap, *n, sizeof **items))
        return ais__oom(*cap * 2 * sizeof **items, what);
    (*items)[(*n)++] = v;
    return AIS_OK;
}

ais_status ais__graph_add_input(ais__graph *g, int32_t value) {
    g->values[value].flags |= AIS__VALUE_INPUT;
    return ais__push_index(&g->inputs, &g->n_inputs, &g->cap_inputs, value, "graph inputs");
}

ais_status ais__graph_add_output(ais__graph *g, int32_t value) {
    g->values[value].flags |= AIS__VALUE_OUTPUT;
    return ais__push_index(&g->outputs, &g->n_outputs, &g->cap_outputs, value, "graph outputs");
}

static ais_status ais__resolve_names(ais__graph *g, const char *const *names, size_t n,
                                     int32_t **out) {
    *out = ais__malloc((n ? n : 1) * sizeof **out);
    if (!*out) return ais__oom(n * sizeof **out, "node inputs");
    /* all slots defined before any lookup can fail: the caller's cleanup reads them */
    for (size_t i = 0; i < n; i++) (*out)[i] = -1;
    for (size_t i = 0; i < n; i++) {
        if (!names[i] || !names[i][0]) {
            (*out)[i] = -1;
            continue;
        }
        AIS__CHECK(ais__graph_value(g, names[i], &(*out)[i]));
    }
    return AIS_OK;
}

ais_status ais__graph_add_node(ais__graph *g, const char *name, const char *op_type,
                               const char *domain, ais_attrs *attrs, const char *const *inputs,
                               size_t n_inputs, const char *const *outputs, size_t n_outputs,
                               int32_t *index) {
    ais__node n;
    memset(&n, 0, sizeof n);
    n.attrs = attrs;
    ais_status st = AIS_OK;
    if (!ais__grow((void **)&g->nodes, &g->cap_nodes, g->n_nodes, sizeof *g->nodes)) {
        st = ais__oom(sizeof *g->nodes * g->cap_nodes * 2, "graph nodes");
        goto fail;
    }
    n.name = ais__strdup(name ? name : "");
    n.op_type = ais__strdup(op_type);
    n.domain = ais__strdup(domain && strcmp(domain, "ai.onnx") != 0 ? domain : "");
    if (!n.name || !n.op_type || !n.domain) {
        st = ais__oom(strlen(op_type) + 64, "node name");
        goto fail;
    }
    n.n_inputs = n_inputs;
    n.n_outputs = n_outputs;
    if ((st = ais__resolve_names(g, inputs, n_inputs, &n.inputs)) != AIS_OK) goto fail;
    if ((st = ais__resolve_names(g, outputs, n_outputs, &n.outputs)) != AIS_OK) goto fail;
    int32_t self = (int32_t)g->n_nodes;
    n.index = self;
    char label[AIS__NODE_LABEL_MAX];
    for (size_t i = 0; i < n_outputs; i++) {
        int32_t v = n.outputs[i];
        if (v < 0) continue;
        if (g->values[v].producer >= 0 || (g->values[v].flags & (AIS__VALUE_INPUT | AIS__VALUE_CONST))) {
            st = ais__error(AIS_E_FORMAT, "%s (%s): output '%s' is already produced elsewhere",
                            ais__node_label(&n, label, sizeof label), op_type, g->values[v].name);
            goto fail;
        }
        g->values[v].producer = self;
    }
    g->nodes[g->n_nodes++] = n;
    if (index) *index = self;
    return AIS_OK;
fail:
    /* undo producer marks made for this node */
    if (n.outputs)
        for (size_t i = 0; i < n_outputs; i++)
            if (n.outputs[i] >= 0 && g->values[n.outputs[i]].producer == (int32_t)g->n_nodes)
                g->values[n.outputs[i]].producer = -1;
    ais__free(n.name);
    ais__free(n.op_type);
    ais__free(n.domain);
    ais__free(n.inputs);
    ais__free(n.outputs);
    ais_attrs_destroy(attrs);
    return st;
}

ais_status ais__graph_set_opset(ais__graph *g, const char *domain, int64_t version) {
    if (!domain || strcmp(domain, "ai.onnx") == 0) domain = "";
    for (size_t i = 0; i < g->n_opsets; i++) {
        if (strcmp(g->opsets[i].domain, domain) == 0) {
            g->opsets[i].version = version;
            return AIS_OK;
        }
    }
    ais__opset *p = ais__realloc(g->opsets, g->n_opsets * sizeof *p, (g->n_opsets + 1) * sizeof *p);
    if (!p) return ais__oom((g->n_opsets + 1) * sizeof *p, "opset imports");
    g->opsets = p;
    p[g->n_opsets].domain = ais__strdup(domain);
    if (!p[g->n_opsets].domain) return ais__oom(strlen(domain) + 1, "opset domain");
    p[g->n_opsets++].version = version;
    return AIS_OK;
}

int64_t ais__graph_opset(const ais__graph *g, const char *domain) {
    if (!domain || strcmp(domain, "ai.onnx") == 0) domain = "";
    for (size_t i = 0; i < g->n_opsets; i++)
        if (strcmp(g->opsets[i].domain, domain) == 0) return g->opsets[i].version;
    return 0;
}

ais_status ais__graph_set_meta(ais__graph *g, const char *key, const char *value) {
    char *v = ais__strdup(value);
    if (!v) return ais__oom(strlen(value) + 1, "metadata value");
    for (size_t i = 0; i < g->n_meta; i++) {
        if (strcmp(g->meta[i].key, key) == 0) {
            ais__free(g->meta[i].value);
            g->meta[i].value = v;
            return AIS_OK;
        }
    }
    char *k = ais__strdup(key);
    ais__meta *p = k ? ais__realloc(g->meta, g->n_meta * sizeof *p, (g->n_meta + 1) * sizeof *p) : NULL;
    if (!p) {
        ais__free(k);
        ais__free(v);
        return ais__oom(strlen(key) + 1, "metadata");
    }
    g->meta = p;
    p[g->n_meta].key = k;
    p[g->n_meta++].value = v;
    return AIS_OK;
}

const char *ais__graph_meta(const ais__graph *g, const char *key) {
    for (size_t i = 0; i < g->n_meta; i++)
        if (strcmp(g->meta[i].key, key) == 0) return g->meta[i].value;
    return NULL;
}

ais_status ais__graph_hold(ais__graph *g, void (*release)(void *ctx), void *ctx) {
    ais__hold *p = ais__realloc(g->holds, g->n_holds * sizeof *p, (g->n_holds + 1) * sizeof *p);
    if (!p) {
        release(ctx);
        return ais__oom((g->n_holds + 1) * sizeof *p, "graph resources");
    }
    g->holds = p;
    p[g->n_holds].release = release;
    p[g->n_holds++].ctx = ctx;
    return AIS_OK;
}
