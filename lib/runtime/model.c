/*
 * model.c - options, loading a model (check, sort, fold constants, drop dead nodes, fuse), and the
 * model's introspection. The session (session.c) runs what this file prepares.
 */
#include "model.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "format/format.h"
#include "pipeline/pipeline.h"

/* ---- options ---- */

typedef struct ais__option_info {
    const char *name;
    int64_t min, max, dflt;
} ais__option_info;

static const ais__option_info ais__options_info[AIS__N_OPTIONS] = {
    [AIS_OPT_THREADS] = {"AIS_OPT_THREADS", 0, 1024, 0},
    [AIS_OPT_OPT_LEVEL] = {"AIS_OPT_OPT_LEVEL", 0, 2, 2},
    [AIS_OPT_BACKEND] = {"AIS_OPT_BACKEND", AIS_BACKEND_CPU, AIS_BACKEND_CUDA, AIS_BACKEND_CPU},
    [AIS_OPT_DEVICE_ID] = {"AIS_OPT_DEVICE_ID", 0, 1023, 0},
    [AIS_OPT_MAX_FILE_BYTES] = {"AIS_OPT_MAX_FILE_BYTES", 1, INT64_MAX, (int64_t)1 << 40},
    [AIS_OPT_MAP_WEIGHTS] = {"AIS_OPT_MAP_WEIGHTS", 0, 1, 1},
    [AIS_OPT_SAVE_COMPRESSION] = {"AIS_OPT_SAVE_COMPRESSION", 0, 22, 0},
    [AIS_OPT_VERIFY_CHECKSUMS] = {"AIS_OPT_VERIFY_CHECKSUMS", 0, 1, 1},
    [AIS_OPT_MAX_TENSOR_BYTES] = {"AIS_OPT_MAX_TENSOR_BYTES", 1, INT64_MAX, (int64_t)1 << 30},
    [AIS_OPT_MAX_FOLD_BYTES] = {"AIS_OPT_MAX_FOLD_BYTES", 0, INT64_MAX, (int64_t)1 << 26},
    [AIS_OPT_EXTRA_FIELDS] = {"AIS_OPT_EXTRA_FIELDS", AIS_EXTRA_FIELDS_ERROR,
                              AIS_EXTRA_FIELDS_IGNORE, AIS_EXTRA_FIELDS_ERROR},
    [AIS_OPT_TEXT_MAX_LENGTH] = {"AIS_OPT_TEXT_MAX_LENGTH", 0, (int64_t)1 << 20, 0},
    [AIS_OPT_TEXT_POOLING] = {"AIS_OPT_TEXT_POOLING", 1, 2, 1},
    [AIS_OPT_TEXT_NORMALIZE] = {"AIS_OPT_TEXT_NORMALIZE", 0, 1, 0},
    [AIS_OPT_PROFILE] = {"AIS_OPT_PROFILE", 0, 1, 0},
    [AIS_OPT_METRICS] = {"AIS_OPT_METRICS", 0, 1, 1},
    [AIS_OPT_QDQ_FUSION] = {"AIS_OPT_QDQ_FUSION", 0, 1, 1},
    [AIS_OPT_DRIFT_WINDOW] = {"AIS_OPT_DRIFT_WINDOW", 0, (int64_t)1 << 20, 1000},
    [AIS_OPT_DRIFT_WINDOW_MODE] = {"AIS_OPT_DRIFT_WINDOW_MODE", AIS_WINDOW_RESERVOIR,
                                   AIS_WINDOW_LAST, AIS_WINDOW_RESERVOIR},
    [AIS_OPT_DRIFT_WINDOW_SEED] = {"AIS_OPT_DRIFT_WINDOW_SEED", 0, INT64_MAX, 0},
};

static bool ais__option_known(ais_option key) {
    return (int)key > 0 && (int)key < AIS__N_OPTIONS && ais__options_info[key].name;
}

int64_t ais__option(const ais_options *o, ais_option key) {
    if (!ais__option_known(key)) return 0;
    if (o && o->set[key]) return o->values[key];
    return ais__options_info[key].dflt;
}

AIS_API ais_status ais_options_create(ais_options **out) {
    if (!out) return ais__error(AIS_E_INVALID_ARGUMENT, "ais_options_create: out is NULL");
    *out = ais__calloc(1, sizeof **out);
    if (!*out) return ais__oom(sizeof **out, "options");
    return AIS_OK;
}

AIS_API void ais_options_destroy(ais_options *options) { ais__free(options); }

AIS_API ais_status ais_options_set_progress(ais_options *options, ais_progress_fn fn,
                                            void *user_data) {
    if (!options)
        return ais__error(AIS_E_INVALID_ARGUMENT, "ais_options_set_progress: options is NULL");
    options->progress = fn;
    options->progress_data = user_data;
    return AIS_OK;
}

AIS_API ais_status ais_option_bounds(ais_option key, int64_t *min_value, int64_t *max_value) {
    if (!ais__option_known(key))
        return ais__error(AIS_E_INVALID_ARGUMENT, "unknown option key %d", (int)key);
    if (min_value) *min_value = ais__options_info[key].min;
    if (max_value) *max_value = ais__options_info[key].max;
    return AIS_OK;
}

AIS_API ais_status ais_options_set_int(ais_options *options, ais_option key, int64_t value) {
    if (!options) return ais__error(AIS_E_INVALID_ARGUMENT, "ais_options_set_int: options is NULL");
    if (!ais__option_known(key))
        return ais__error(AIS_E_INVALID_ARGUMENT, "ais_options_set_int: unknown option key %d",
                          (int)key);
    const ais__option_info *inf = &ais__options_info[key];
    if (value < inf->min || value > inf->max)
        return ais__error(AIS_E_INVALID_ARGUMENT, "%s: %lld is out of range [%lld, %lld]",
                          inf->name, (long long)value, (long long)inf->min, (long long)inf->max);
    options->values[key] = value;
    options->set[key] = true;
    return AIS_OK;
}

AIS_API ais_status ais_options_get_int(const ais_options *options, ais_option key,
                                       int64_t *value) {
    if (!value) return ais__error(AIS_E_INVALID_ARGUMENT, "ais_options_get_int: value is NULL");
    if (!ais__option_known(key))
        return ais__error(AIS_E_INVALID_ARGUMENT, "ais_options_get_int: unknown option key %d",
                          (int)key);
    *value = ais__option(options, key);
    return AIS_OK;
}

/* ---- checking and sorting ---- */

bool ais__op_is_random(const char *domain, const char *op_type) {
    static const char *const random_ops[] = {"RandomNormal",     "RandomUniform",
                                             "RandomNormalLike", "RandomUniformLike",
                                             "Multinomial",      "Bernoulli"};
    if (domain && domain[0] && strcmp(domain, "ai.onnx") != 0) return false;
    for (size_t i = 0; i < AIS__ARRAY_LEN(random_ops); i++)
        if (strcmp(op_type, random_ops[i]) == 0) return true;
    return false;
}

static const char *ais__domain_name(const char *domain) {
    return domain && domain[0] ? domain : "ai.onnx";
}

/* The registry lookup scans every operator; a model has few distinct (domain, operator)
 * pairs, so each is looked up once and remembered here (a failed lookup is an error anyway). */
typedef struct ais__def_cache {
    struct {
        const char *op_type, *domain;
        const ais__op_def *def;
        int64_t opset;
    } slot[64];
} ais__def_cache;

static uint64_t ais__op_key_hash(const char *op_type, const char *domain) {
    uint64_t h = 1469598103934665603ull; /* FNV-1a over both names */
    for (const char *c = op_type; *c; c++)
        h = (h ^ (uint8_t)*c) * 1099511628211ull;
    for (const char *c = domain; *c; c++)
        h = (h ^ (uint8_t)*c) * 1099511628211ull;
    return h;
}

static const ais__op_def *ais__cached_def(ais__def_cache *c, const ais__graph *g,
                                          const ais__node *n, int64_t *opset) {
    size_t at = (size_t)(ais__op_key_hash(n->op_type, n->domain) % AIS__ARRAY_LEN(c->slot));
    if (c->slot[at].def && strcmp(c->slot[at].op_type, n->op_type) == 0 &&
        strcmp(c->slot[at].domain, n->domain) == 0) {
        *opset = c->slot[at].opset;
        return c->slot[at].def;
    }
    *opset = ais__graph_opset(g, n->domain);
    const ais__op_def *def = *opset > 0 ? ais__op_find(n->domain, n->op_type, *opset) : NULL;
    if (def) {
        c->slot[at].op_type = n->op_type;
        c->slot[at].domain = n->domain;
        c->slot[at].def = def;
        c->slot[at].opset = *opset;
    }
    return def;
}

/* Resolves every node's operator for the opset its domain imports and checks slot counts. */
static ais_status ais__resolve_ops(ais_model *m) {
    ais__graph *g = m->graph;
    char lb[AIS__NODE_LABEL_MAX];
    ais__def_cache cache;
    memset(&cache, 0, sizeof cache);
    for (size_t i = 0; i < g->n_opsets; i++) /* every reader's imports, used by a node or not */
        AIS__CHECK(ais__opset_check(g->opsets[i].domain, g->opsets[i].version));
    for (size_t i = 0; i < g->n_nodes; i++) {
        const ais__node *n = &g->nodes[i];
        int64_t opset;
        const ais__op_def *def = ais__cached_def(&cache, g, n, &opset);
        const char *label = def ? "" : ais__node_label(n, lb, sizeof lb);
        if (opset <= 0)
            return ais__error(AIS_E_FORMAT, "%s (%s): the model imports no opset for domain '%s'",
                              label, n->op_type, ais__domain_name(n->domain));
        if (!def) {
            const ais__op_def *any = ais__op_find_any(n->domain, n->op_type);
            if (any)
                return ais__error(AIS_E_UNSUPPORTED,
                                  "%s: operator %s (domain '%s') at opset %lld is not "
                                  "supported; the oldest version implemented is %d",
                                  label, n->op_type, ais__domain_name(n->domain), (long long)opset,
                                  any->since_version);
            return ais__error(AIS_E_UNSUPPORTED,
                              "%s: unsupported operator %s (domain '%s', opset %lld)", label,
                              n->op_type, ais__domain_name(n->domain), (long long)opset);
        }
        size_t n_in = n->n_inputs, n_out = n->n_outputs;
        while (n_in > 0 && n->inputs[n_in - 1] < 0) n_in--;
        while (n_out > 0 && n->outputs[n_out - 1] < 0) n_out--;
        if (n_in < (size_t)def->min_inputs ||
            (def->max_inputs >= 0 && n_in > (size_t)def->max_inputs))
            return ais__error(AIS_E_FORMAT, "%s (%s): %zu inputs, expected %d to %d",
                              ais__node_label(n, lb, sizeof lb), n->op_type, n_in, def->min_inputs,
                              def->max_inputs);
        for (size_t k = 0; k < (size_t)def->min_inputs; k++)
            if (n->inputs[k] < 0)
                return ais__error(AIS_E_FORMAT, "%s (%s): required input %zu is empty",
                                  ais__node_label(n, lb, sizeof lb), n->op_type, k);
        if (n_out < (size_t)def->min_outputs || n_out > 64 ||
            (def->max_outputs >= 0 && n_out > (size_t)def->max_outputs))
            return ais__error(AIS_E_FORMAT, "%s (%s): %zu outputs, expected %d to %d",
                              ais__node_label(n, lb, sizeof lb), n->op_type, n_out,
                              def->min_outputs, def->max_outputs);
        m->defs[i] = def;
        m->opsets[i] = opset;
    }
    return AIS_OK;
}

static int ais__size_cmp(const void *a, const void *b) {
    size_t x = *(const size_t *)a, y = *(const size_t *)b;
    return (x > y) - (x < y);
}

static bool ais__value_defined(const ais__value *v) {
    return v->producer >= 0 || (v->flags & (AIS__VALUE_INPUT | AIS__VALUE_CONST));
}

/* Checks that every value read is defined, then orders the nodes so that producers come
 * first (Kahn's algorithm, stable: ready nodes keep their file order). */
static ais_status ais__check_and_sort(ais__graph *g, size_t *order) {
    for (size_t i = 0; i < g->n_nodes; i++) {
        const ais__node *n = &g->nodes[i];
        for (size_t k = 0; k < n->n_inputs; k++) {
            if (n->inputs[k] < 0) continue;
            const ais__value *v = &g->values[n->inputs[k]];
            char lb[AIS__NODE_LABEL_MAX];
            if (!ais__value_defined(v))
                return ais__error(AIS_E_FORMAT,
                                  "%s (%s): input '%s' is neither a graph input, an "
                                  "initializer nor the output of a node",
                                  ais__node_label(n, lb, sizeof lb), n->op_type, v->name);
        }
    }
    for (size_t i = 0; i < g->n_outputs; i++) {
        const ais__value *v = &g->values[g->outputs[i]];
        if (!ais__value_defined(v))
            return ais__error(AIS_E_FORMAT, "graph output '%s' is not produced by any node",
                              v->name);
    }
    size_t n = g->n_nodes, nv = g->n_values;
    if (n == 0) return AIS_OK;
    /* pending[i]: inputs of node i whose producer has not been placed yet. Consumers of each
     * value in one array (cstart[v] .. cstart[v+1]), one entry per input slot, so placing a
     * node touches only its readers: linear in nodes + edges however the file orders them. */
    size_t n_edges = 0, n_used = 0;
    for (size_t i = 0; i < n; i++)
        n_edges += g->nodes[i].n_inputs;
    size_t *pending = ais__calloc(n, sizeof *pending);
    size_t *cstart = ais__calloc(nv + 1, sizeof *cstart);
    int32_t *cons = ais__malloc((n_edges ? n_edges : 1) * sizeof *cons);
    ais_status st = AIS_OK;
    if (!pending || !cstart || !cons) {
        st = ais__oom(n * sizeof *pending + (nv + 1) * sizeof *cstart + n_edges * sizeof *cons,
                      "graph sort");
        goto done;
    }
    for (size_t i = 0; i < n; i++) {
        const ais__node *nd = &g->nodes[i];
        for (size_t k = 0; k < nd->n_inputs; k++) {
            int32_t v = nd->inputs[k];
            if (v < 0 || g->values[v].producer < 0) continue;
            pending[i]++;
            cstart[v + 1]++;
            n_used++;
        }
    }
    for (size_t v = 0; v < nv; v++)
        cstart[v + 1] += cstart[v];
    for (size_t i = n; i-- > 0;) { /* filled backwards: each list ends up in node order */
        const ais__node *nd = &g->nodes[i];
        for (size_t k = nd->n_inputs; k-- > 0;) {
            int32_t v = nd->inputs[k];
            if (v < 0 || g->values[v].producer < 0) continue;
            cons[--cstart[v + 1]] = (int32_t)i;
        }
    }
    /* cstart[v + 1] is now where v's list starts: shift to v's list = [cstart[v], cstart[v+1]) */
    memmove(cstart, cstart + 1, nv * sizeof *cstart);
    cstart[nv] = n_used;
    size_t head = 0, tail = 0;
    for (size_t i = 0; i < n; i++)
        if (pending[i] == 0) order[tail++] = i;
    while (head < tail) {
        size_t cur = order[head++], first = tail;
        const ais__node *pn = &g->nodes[cur];
        for (size_t k = 0; k < pn->n_outputs; k++) {
            int32_t v = pn->outputs[k];
            if (v < 0) continue;
            for (size_t e = cstart[v]; e < cstart[v + 1]; e++)
                if (--pending[cons[e]] == 0) order[tail++] = (size_t)cons[e];
        }
        /* nodes made ready by one placement go in file order (what a sorted file keeps) */
        if (tail - first > 1) qsort(order + first, tail - first, sizeof *order, ais__size_cmp);
    }
    if (tail < n) {
        size_t bad = 0;
        while (bad < n && pending[bad] == 0) bad++;
        char lb[AIS__NODE_LABEL_MAX];
        st = ais__error(AIS_E_FORMAT, "the graph has a cycle through %s (%s)",
                        ais__node_label(&g->nodes[bad], lb, sizeof lb), g->nodes[bad].op_type);
    }
done:
    ais__free(pending);
    ais__free(cstart);
    ais__free(cons);
    return st;
}

/* ---- optimization ---- */

bool ais__outputs_exceed(const ais__op_def *def, ais__op_ctx *ctx, const ais_tensor *const *in,
                         size_t n_in, size_t n_out, uint64_t limit, size_t *which,
                         ais__tensor_desc *desc, uint64_t *bytes) {
    ais__tensor_desc d[64];
    if (n_out > AIS__ARRAY_LEN(d) || !def->infer) return false;
    memset(d, 0, sizeof d[0] * n_out);
    char saved[1024]; /* a failed inference here is not the caller's error */
    snprintf(saved, sizeof saved, "%s", ais_last_error());
    ais_status st = ais__op_opaque_check(def, in, n_in, NULL, 0);
    if (st == AIS_OK) st = def->infer(ctx, in, n_in, d, n_out);
    if (st != AIS_OK) {
        (void)ais__error(AIS_E_INTERNAL, "%s", saved);
        return false;
    }
    for (size_t k = 0; k < n_out; k++) {
        if (ais__dtype_is_opaque(d[k].dtype) || d[k].ndim > AIS_MAX_DIMS) continue;
        size_t numel;
        uint64_t b = ais__shape_numel(d[k].dims, d[k].ndim, ais_dtype_size(d[k].dtype), &numel)
                         ? (uint64_t)numel * ais_dtype_size(d[k].dtype)
                         : UINT64_MAX;
        if (b <= limit) continue;
        *which = k;
        *desc = d[k];
        *bytes = b;
        return true;
    }
    return false;
}

/* Runs a node whose inputs are all constant and makes its outputs constants; *folded false
 * when an output would be larger than max_bytes (the node then runs at run time). */
static ais_status ais__fold_node(ais__graph *g, size_t i, const ais__op_def *def, int64_t opset,
                                 uint64_t max_bytes, bool *folded) {
    *folded = false;
    const ais__node *n = &g->nodes[i];
    size_t n_in = n->n_inputs, n_out = n->n_outputs;
    while (n_in > 0 && n->inputs[n_in - 1] < 0) n_in--;
    while (n_out > 0 && n->outputs[n_out - 1] < 0) n_out--;
    const ais_tensor *stack_in[16] = {NULL};
    const ais_tensor **in = stack_in;
    if (n_in > AIS__ARRAY_LEN(stack_in)) {
        in = ais__malloc(n_in * sizeof *in);
        if (!in) return ais__oom(n_in * sizeof *in, "constant folding");
    }
    for (size_t k = 0; k < n_in; k++) in[k] = n->inputs[k] >= 0 ? g->values[n->inputs[k]].constant : NULL;
    ais_tensor *out[64] = {NULL};
    /* a failing fold names the node (ais__op_invoke prefixes the label) */
    char lb[AIS__NODE_LABEL_MAX];
    ais__op_ctx ctx = {.op_type = n->op_type,
                       .node_name = ais__node_label(n, lb, sizeof lb),
                       .opset = opset,
                       .attrs = n->attrs};
    size_t which;
    ais__tensor_desc big;
    uint64_t bytes;
    /* The state first: the size check's infer reads it as the run's does (folding happens
     * before ais__prepare_nodes, on a graph that still changes). */
    void *state = NULL;
    ais_status st = ais__op_state_begin(def, &ctx, &state);
    if (st != AIS_OK) {
        ais__error_prefix("%s (%s)", ctx.node_name, n->op_type);
    } else if (!ais__outputs_exceed(def, &ctx, in, n_in, n_out, max_bytes, &which, &big, &bytes)) {
        st = ais__op_invoke(def, &ctx, in, n_in, out, n_out);
        *folded = st == AIS_OK;
    }
    ais__op_state_end(def, &ctx, state);
    ais__op_ctx_release(&ctx);
    if (in != stack_in) ais__free(in);
    if (st != AIS_OK || !*folded) return st;
    for (size_t k = 0; k < n_out; k++) {
        if (n->outputs[k] < 0) {
            ais_tensor_destroy(out[k]);
            continue;
        }
        /* the value keeps its producer index until the node is dropped */
        ais__graph_set_constant(g, n->outputs[k], out[k]);
    }
    return AIS_OK;
}

static bool ais__node_foldable(const ais_model *m, const ais__node *n) {
    const ais__graph *g = m->graph;
    /* QDQ fusion reads the 8-bit weights behind DequantizeLinear: folded after it */
    if (m->qdq_fusion && strcmp(n->op_type, "DequantizeLinear") == 0 &&
        (!n->domain || !n->domain[0] || strcmp(n->domain, "ai.onnx") == 0))
        return false;
    for (size_t k = 0; k < n->n_inputs; k++)
        if (n->inputs[k] >= 0 && !(g->values[n->inputs[k]].flags & AIS__VALUE_CONST))
            return false;
    return !ais__op_is_random(n->domain, n->op_type);
}

/* After the QDQ fusion: folds what the level 1 folding left for it (DequantizeLinear of
 * constants that no fused group took, and what only they fed), in node order, so that the
 * remaining float operators read float constants as without the fusion. */
static ais_status ais__fold_after_qdq(ais_model *m) {
    ais__graph *g = m->graph;
    size_t n = g->n_nodes, n_values = g->n_values;
    m->qdq_fusion = false; /* every constant node folds now */
    if (n == 0) return AIS_OK;
    bool *gone = ais__calloc(n, sizeof *gone);
    uint32_t *readers = ais__calloc(n_values ? n_values : 1, sizeof *readers);
    ais_status st = AIS_OK;
    size_t folded = 0;
    if (!gone || !readers) {
        st = ais__oom(n + n_values * sizeof *readers, "folding after QDQ fusion");
        goto done;
    }
    for (size_t i = 0; i < n; i++) {
        if (!ais__node_foldable(m, &g->nodes[i])) continue;
        bool f;
        if ((st = ais__fold_node(g, i, m->defs[i], m->opsets[i], m->max_fold_bytes, &f)) != AIS_OK)
            goto done;
        gone[i] = f;
        folded += f;
    }
    if (folded == 0) goto done;
    for (size_t i = 0; i < n; i++)
        for (size_t k = 0; !gone[i] && k < g->nodes[i].n_inputs; k++)
            if (g->nodes[i].inputs[k] >= 0) readers[g->nodes[i].inputs[k]]++;
    ais__model_drop_nodes(m, gone, readers, n_values);
done:
    ais__free(gone);
    ais__free(readers);
    return st;
}

/* Trailing optional outputs that nothing reads are not made: Dropout's mask (before opset 10 a
 * float tensor as large as X filled per run, the light SqueezeNet's head: 0.35 MB; without it the
 * node is a view of its input), MaxPool's indices, LayerNormalization's statistics. The node
 * keeps at least the operator's min_outputs; variadic outputs (Split's parts,
 * AIS__OP_VARIADIC_OUTPUTS) are never optional: their count is part of the meaning. */
static void ais__trim_unread_outputs(ais__graph *g, size_t i, const ais__op_def *def,
                                     const bool *needed) {
    ais__node *nd = &g->nodes[i];
    if (def->flags & AIS__OP_VARIADIC_OUTPUTS) return;
    size_t keep = nd->n_outputs, least = def->min_outputs > 0 ? (size_t)def->min_outputs : 0;
    while (keep > least && (nd->outputs[keep - 1] < 0 || !needed[nd->outputs[keep - 1]]))
        keep--;
    for (size_t k = keep; k < nd->n_outputs; k++)
        if (nd->outputs[k] >= 0) g->values[nd->outputs[k]].producer = -1;
    nd->n_outputs = keep;
}

/*
 * Folds, marks live nodes, and rewrites the graph's node array as the live nodes in `order`.
 * keep[i] says whether node i survives. Values that nothing reads any more lose their constant
 * data, so weights of folded-away subgraphs are not kept (nor saved).
 */
static ais_status ais__optimize(ais_model *m, size_t *order) {
    ais__graph *g = m->graph;
    size_t n = g->n_nodes;
    bool *keep = ais__calloc(n ? n : 1, sizeof *keep);
    bool *needed = ais__calloc(g->n_values ? g->n_values : 1, sizeof *needed);
    ais__node *nodes = ais__malloc((n ? n : 1) * sizeof *nodes);
    const ais__op_def **defs = ais__malloc((n ? n : 1) * sizeof *defs);
    int64_t *opsets = ais__malloc((n ? n : 1) * sizeof *opsets);
    ais_status st = AIS_OK;
    if (!keep || !needed || !nodes || !defs || !opsets) {
        st = ais__oom(n * (sizeof *nodes + 24), "graph optimization");
        goto done;
    }
    for (size_t i = 0; i < n; i++) keep[i] = true;
    if (m->opt_level >= 1) {
        for (size_t oi = 0; oi < n; oi++) {
            size_t i = order[oi];
            if (!ais__node_foldable(m, &g->nodes[i])) continue;
            bool folded;
            if ((st = ais__fold_node(g, i, m->defs[i], m->opsets[i], m->max_fold_bytes, &folded)) !=
                AIS_OK)
                goto done;
            keep[i] = !folded;
        }
        /* dead nodes: walk back from the outputs */
        for (size_t i = 0; i < g->n_outputs; i++) needed[g->outputs[i]] = true;
        for (size_t oi = n; oi-- > 0;) {
            size_t i = order[oi];
            if (!keep[i]) continue;
            const ais__node *nd = &g->nodes[i];
            bool live = false;
            for (size_t k = 0; k < nd->n_outputs; k++)
                if (nd->outputs[k] >= 0 && needed[nd->outputs[k]]) live = true;
            keep[i] = live;
            if (!live) continue;
            ais__trim_unread_outputs(g, i, m->defs[i], needed);
            for (size_t k = 0; k < nd->n_inputs; k++)
                if (nd->inputs[k] >= 0) needed[nd->inputs[k]] = true;
        }
    } else {
        for (size_t i = 0; i < g->n_outputs; i++) needed[g->outputs[i]] = true;
        for (size_t i = 0; i < n; i++)
            for (size_t k = 0; k < g->nodes[i].n_inputs; k++)
                if (g->nodes[i].inputs[k] >= 0) needed[g->nodes[i].inputs[k]] = true;
    }
    size_t kept = 0;
    for (size_t oi = 0; oi < n; oi++) {
        size_t i = order[oi];
        if (keep[i]) {
            nodes[kept] = g->nodes[i];
            defs[kept] = m->defs[i];
            opsets[kept] = m->opsets[i];
            for (size_t k = 0; k < nodes[kept].n_outputs; k++)
                if (nodes[kept].outputs[k] >= 0)
                    g->values[nodes[kept].outputs[k]].producer = (int32_t)kept;
            kept++;
        } else {
            ais__node *dead = &g->nodes[i];
            for (size_t k = 0; k < dead->n_outputs; k++)
                if (dead->outputs[k] >= 0) g->values[dead->outputs[k]].producer = -1;
            ais__graph_node_clear(dead);
        }
    }
    ais__free(g->nodes);
    g->nodes = nodes;
    g->n_nodes = kept;
    g->cap_nodes = n ? n : 1;
    nodes = NULL;
    ais__free(m->defs);
    ais__free(m->opsets);
    m->defs = defs;
    m->opsets = opsets;
    defs = NULL;
    opsets = NULL;
    m->weight_bytes = 0;
    for (size_t v = 0; v < g->n_values; v++) {
        ais__value *val = &g->values[v];
        if (!(val->flags & AIS__VALUE_CONST)) continue;
        if (!needed[v] && !(val->flags & AIS__VALUE_INPUT)) {
            ais_tensor_destroy(val->constant);
            val->constant = NULL;
            val->flags &= ~(uint32_t)AIS__VALUE_CONST;
            continue;
        }
        m->weight_bytes += val->constant->nbytes;
    }
done:
    ais__free(keep);
    ais__free(needed);
    ais__free(nodes);
    ais__free(defs);
    ais__free(opsets);
    return st;
}

static ais_status ais__set_standard_meta(ais__graph *g) {
    char buf[64];
    int64_t v = ais__graph_opset(g, "");
    if (v > 0 && !ais__graph_meta(g, "opset")) {
        snprintf(buf, sizeof buf, "%lld", (long long)v);
        AIS__CHECK(ais__graph_set_meta(g, "opset", buf));
    }
    for (size_t i = 0; i < g->n_opsets; i++) {
        if (!g->opsets[i].domain[0]) continue;
        char key[256];
        snprintf(key, sizeof key, "opset.%s", g->opsets[i].domain);
        if (ais__graph_meta(g, key)) continue;
        snprintf(buf, sizeof buf, "%lld", (long long)g->opsets[i].version);
        AIS__CHECK(ais__graph_set_meta(g, key, buf));
    }
    return AIS_OK;
}

/* Each final node's label, built once: sessions name nodes in messages without formatting. */
static ais_status ais__make_labels(ais_model *m) {
    const ais__graph *g = m->graph;
    char lb[AIS__NODE_LABEL_MAX];
    size_t total = 0, n = g->n_nodes;
    /* an upper bound of each label's length, without formatting it twice */
    for (size_t i = 0; i < n; i++) {
        const char *name = g->nodes[i].name;
        total += name[0] ? AIS__MIN(strlen(name) + 8, sizeof lb) : 24;
    }
    m->labels = ais__malloc((n ? n : 1) * sizeof *m->labels + (total ? total : 1));
    if (!m->labels) return ais__oom(n * sizeof *m->labels + total, "node labels");
    char *at = (char *)(m->labels + (n ? n : 1));
    for (size_t i = 0; i < n; i++) {
        size_t len = strlen(ais__node_label(&g->nodes[i], lb, sizeof lb)) + 1;
        memcpy(at, lb, len);
        m->labels[i] = at;
        at += len;
    }
    return AIS_OK;
}

/* Runs each node's prepare once, on the final graph: sessions on any thread read the states. */
static ais_status ais__prepare_nodes(ais_model *m) {
    const ais__graph *g = m->graph;
    m->states = ais__calloc(g->n_nodes ? g->n_nodes : 1, sizeof *m->states);
    if (!m->states) return ais__oom(g->n_nodes * sizeof *m->states, "model node states");
    for (size_t i = 0; i < g->n_nodes; i++) {
        const ais__node *n = &g->nodes[i];
        if (!m->defs[i]->prepare) continue;
        const ais_tensor **consts = ais__calloc(n->n_inputs ? n->n_inputs : 1, sizeof *consts);
        if (!consts) return ais__oom(n->n_inputs * sizeof *consts, "constant inputs of a node");
        for (size_t k = 0; k < n->n_inputs; k++) {
            if (n->inputs[k] < 0) continue;
            const ais__value *v = &g->values[n->inputs[k]];
            /* An initializer that is also a graph input can be fed: not constant. */
            if ((v->flags & AIS__VALUE_CONST) && !(v->flags & AIS__VALUE_INPUT))
                consts[k] = v->constant;
        }
        ais__op_ctx ctx = {.op_type = n->op_type,
                           .node_name = m->labels[i],
                           .opset = m->opsets[i],
                           .attrs = n->attrs,
                           .consts = consts,
                           .n_consts = n->n_inputs};
        ais__attr_type_reset();
        /* fails on an attribute of the wrong type too */
        ais_status st = ais__attr_type_check(m->defs[i]->prepare(&ctx, &m->states[i]));
        ais__free(consts);
        if (st != AIS_OK) {
            ais__error_prefix("%s (%s)", m->labels[i], n->op_type);
            return st;
        }
    }
    return AIS_OK;
}

ais_status ais__model_from_graph(ais__graph *g, const ais_options *options, ais_model **out) {
    *out = NULL;
    /* First, as when the .ais reader compiled it: a pipeline that does not fit fails the load. */
    ais_status pst = ais__model_attach_pipeline(g);
    if (pst == AIS_OK) pst = ais__model_attach_profile(g);
    if (pst != AIS_OK) {
        ais__graph_destroy(g);
        return pst;
    }
    ais_model *m = ais__calloc(1, sizeof *m);
    if (!m) {
        ais__graph_destroy(g);
        return ais__oom(sizeof *m, "model");
    }
    atomic_init(&m->refs, 1);
    m->graph = g;
    m->opt_level = (int)ais__option(options, AIS_OPT_OPT_LEVEL);
    m->fuse_clip = options && options->fuse_clip;
    m->max_fold_bytes = (uint64_t)ais__option(options, AIS_OPT_MAX_FOLD_BYTES);
    m->load_for_cuda = ais__option(options, AIS_OPT_BACKEND) == AIS_BACKEND_CUDA;
    m->qdq_fusion =
        m->opt_level >= 2 && !m->load_for_cuda && ais__option(options, AIS_OPT_QDQ_FUSION) != 0;
    size_t n = g->n_nodes ? g->n_nodes : 1;
    m->defs = ais__calloc(n, sizeof *m->defs);
    m->opsets = ais__calloc(n, sizeof *m->opsets);
    size_t *order = ais__malloc(n * sizeof *order);
    ais_status st;
    if (!m->defs || !m->opsets || !order) {
        st = ais__oom(n * 24, "model nodes");
    } else if ((st = ais__check_and_sort(g, order)) == AIS_OK &&
               (st = ais__resolve_ops(m)) == AIS_OK && (st = ais__optimize(m, order)) == AIS_OK &&
               (!m->qdq_fusion || ((st = ais__graph_fuse_qdq(m, NULL)) == AIS_OK &&
                                   (st = ais__fold_after_qdq(m)) == AIS_OK)) &&
               (m->opt_level < 2 || ((st = ais__graph_fold_bn(m)) == AIS_OK &&
                                     (st = ais__graph_fold_affine(m)) == AIS_OK &&
                                     (st = ais__graph_fuse_transformer(m, NULL)) == AIS_OK &&
                                     (st = ais__graph_fuse_epilogue(m, NULL)) == AIS_OK &&
                                     (st = ais__graph_fuse(m)) == AIS_OK &&
                                     (st = ais__graph_fold_shuffle(m)) == AIS_OK &&
                                     (st = ais__graph_fuse_block(m, NULL)) == AIS_OK)) &&
               (st = ais__make_labels(m)) == AIS_OK && (st = ais__prepare_nodes(m)) == AIS_OK) {
        st = ais__set_standard_meta(g);
    }
    ais__free(order);
    if (st != AIS_OK) {
        ais_model_destroy(m);
        return st;
    }
    *out = m;
    return AIS_OK;
}

/* ---- public model API ---- */

static void ais__load_opts_from(const ais_options *options, ais__load_opts *lo) {
    ais__load_opts_default(lo);
    if (options) {
        lo->max_file_bytes = (uint64_t)ais__option(options, AIS_OPT_MAX_FILE_BYTES);
        lo->map_weights = ais__option(options, AIS_OPT_MAP_WEIGHTS) != 0;
        lo->verify_data = ais__option(options, AIS_OPT_VERIFY_CHECKSUMS) != 0;
    }
}

AIS_API ais_status ais_model_load(const char *path, const ais_options *options, ais_model **out) {
    if (!out) return ais__error(AIS_E_INVALID_ARGUMENT, "ais_model_load: out is NULL");
    *out = NULL;
    if (!path) return ais__error(AIS_E_INVALID_ARGUMENT, "ais_model_load: path is NULL");
    ais__load_opts lo;
    ais__load_opts_from(options, &lo);
    ais__graph *g = NULL;
    ais_status st = ais__model_read_file(path, &lo, &g);
    if (st != AIS_OK) return st;
    st = ais__model_from_graph(g, options, out);
    if (st != AIS_OK) ais__error_prefix("%s", path);
    return st;
}

AIS_API ais_status ais_model_load_memory(const void *data, size_t size, const ais_options *options,
                                         ais_model **out) {
    if (!out) return ais__error(AIS_E_INVALID_ARGUMENT, "ais_model_load_memory: out is NULL");
    *out = NULL;
    if (!data && size)
        return ais__error(AIS_E_INVALID_ARGUMENT, "ais_model_load_memory: data is NULL");
    ais__load_opts lo;
    ais__load_opts_from(options, &lo);
    ais__graph *g = NULL;
    AIS__CHECK(ais__model_read_memory(data, size, ".", &lo, &g));
    return ais__model_from_graph(g, options, out);
}

AIS_API ais_model *ais_model_retain(ais_model *model) {
    if (model) atomic_fetch_add(&model->refs, 1);
    return model;
}

AIS_API void ais_model_destroy(ais_model *model) {
    if (!model || atomic_fetch_sub(&model->refs, 1) != 1) return;
    if (model->states)
        for (size_t i = 0; i < model->graph->n_nodes; i++)
            if (model->states[i]) model->defs[i]->release(model->states[i]);
    ais__free(model->states);
    ais__free(model->labels);
    ais__graph_destroy(model->graph);
    ais__free(model->defs);
    ais__free(model->opsets);
    ais__free(model);
}

AIS_API size_t ais_model_input_count(const ais_model *model) {
    return model ? model->graph->n_inputs : 0;
}

AIS_API size_t ais_model_output_count(const ais_model *model) {
    return model ? model->graph->n_outputs : 0;
}

static ais_status ais__io_info(const ais_model *model, bool input, size_t index, const char **name,
                               ais_dtype *dtype, size_t *ndim, const int64_t **dims) {
    const char *fn = input ? "ais_model_input_info" : "ais_model_output_info";
    if (!model) return ais__error(AIS_E_INVALID_ARGUMENT, "%s: model is NULL", fn);
    const ais__graph *g = model->graph;
    size_t count = input ? g->n_inputs : g->n_outputs;
    if (index >= count)
        return ais__error(AIS_E_NOT_FOUND, "%s: index %zu, the model has %zu", fn, index, count);
    const ais__value *v = &g->values[input ? g->inputs[index] : g->outputs[index]];
    if (name) *name = v->name;
    if (dtype) *dtype = v->dtype;
    if (ndim) *ndim = v->ndim > 0 ? (size_t)v->ndim : 0;
    if (dims) *dims = v->dims;
    return AIS_OK;
}

AIS_API ais_status ais_model_input_info(const ais_model *model, size_t index, const char **name,
                                        ais_dtype *dtype, size_t *ndim, const int64_t **dims) {
    return ais__io_info(model, true, index, name, dtype, ndim, dims);
}

AIS_API ais_status ais_model_output_info(const ais_model *model, size_t index, const char **name,
                                         ais_dtype *dtype, size_t *ndim, const int64_t **dims) {
    return ais__io_info(model, false, index, name, dtype, ndim, dims);
}

AIS_API const char *ais_model_input_dim_name(const ais_model *model, size_t index, size_t axis) {
    if (!model || index >= model->graph->n_inputs) return NULL;
    const ais__value *v = &model->graph->values[model->graph->inputs[index]];
    if (v->ndim <= 0 || axis >= (size_t)v->ndim) return NULL;
    return v->dim_names[axis];
}

AIS_API const char *ais_model_output_dim_name(const ais_model *model, size_t index, size_t axis) {
    if (!model || index >= model->graph->n_outputs) return NULL;
    const ais__value *v = &model->graph->values[model->graph->outputs[index]];
    if (v->ndim <= 0 || axis >= (size_t)v->ndim) return NULL;
    return v->dim_names[axis];
}

AIS_API size_t ais_model_metadata_count(const ais_model *model) {
    return model ? model->graph->n_meta : 0;
}

AIS_API ais_status ais_model_metadata_at(const ais_model *model, size_t index, const char **key,
                                         const char **value) {
    if (!model) return ais__error(AIS_E_INVALID_ARGUMENT, "ais_model_metadata_at: model is NULL");
    if (index >= model->graph->n_meta)
        return ais__error(AIS_E_NOT_FOUND, "ais_model_metadata_at: index %zu, the model has %zu",
                          index, model->graph->n_meta);
    if (key) *key = model->graph->meta[index].key;
    if (value) *value = model->graph->meta[index].value;
    return AIS_OK;
}

AIS_API const char *ais_model_metadata(const ais_model *model, const char *key) {
    if (!model || !key) return NULL;
    return ais__graph_meta(model->graph, key);
}

AIS_API ais_status ais_model_save(const ais_model *model, const char *path,
                                  const ais_options *options) {
    if (!model || !path)
        return ais__error(AIS_E_INVALID_ARGUMENT, "ais_model_save: %s is NULL",
                          model ? "path" : "model");
    return ais__model_write(model->graph, model->graph->pipeline, path, options);
}

AIS_API ais_status ais_model_save_with_pipeline(const ais_model *model,
                                                const ais_pipeline *pipeline, const char *path,
                                                const ais_options *options) {
    if (!model || !pipeline || !path)
        return ais__error(AIS_E_INVALID_ARGUMENT, "ais_model_save_with_pipeline: %s is NULL",
                          !model ? "model" : !pipeline ? "pipeline" : "path");
    return ais__model_write(model->graph, pipeline, path, options);
}

AIS_API const ais_pipeline *ais_model_pipeline(const ais_model *model) {
    return model ? model->graph->pipeline : NULL;
}

AIS_API size_t ais_model_node_count(const ais_model *model) {
    return model ? model->graph->n_nodes : 0;
}

AIS_API size_t ais_model_weight_bytes(const ais_model *model) {
    return model ? model->weight_bytes : 0;
}

AIS_API ais_status ais_model_node_info(const ais_model *model, size_t index, const char **name,
                                       const char **op_type, const char **domain) {
    if (!model) return ais__error(AIS_E_INVALID_ARGUMENT, "ais_model_node_info: model is NULL");
    if (index >= model->graph->n_nodes)
        return ais__error(AIS_E_NOT_FOUND, "ais_model_node_info: index %zu, the model has %zu nodes",
                          index, model->graph->n_nodes);
    const ais__node *n = &model->graph->nodes[index];
    if (name) *name = n->name;
    if (op_type) *op_type = n->op_type;
    if (domain) *domain = n->domain;
    return AIS_OK;
}
