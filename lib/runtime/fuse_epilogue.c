/*
 * fuse_epilogue.c - the optimization level 2 pass (after fuse_transformer.c, before fuse.c) that
 * moves the Adds after a product into the product's store (issue 11):
 *
 *   MatMul(A, constant f32 B [K, N]) -> Add(constant f32 bias [N]) [-> Add(Z) | -> Relu/Gelu]
 *   MatMul -> BiasGelu(., bias)  (what fuse_transformer.c made of Add(bias) -> Gelu)
 *   MatMul -> Add(Z) [-> Relu/Gelu]
 *       -> com.microsoft FusedMatMulBias(A, B, bias, Z) (lib/ops/fused.c)
 *   Conv(X, W[, B]) -> Add(Z) [-> Relu]  (a ResNet block's skip connection; or a Sum of two,
 *                                          ShuffleNet's)
 *       -> com.microsoft FusedConv(X, W, B, Z) (ONNX Runtime's contract: act(Conv + Z))
 *   Add(P, Q) -> LayerNormalization(., constant f32 Scale [H][, B]) over the last axis
 *       -> com.microsoft SkipLayerNormalization(P, Q, Scale, B) (ORT's contract; lib/ops/norm.c)
 *
 * The Adds go to a product's store first (a residual there costs no pass at all); an Add before
 * a LayerNorm that no product took (a BERT's embedding sum, a residual whose product has a
 * computed B) still saves writing the sum and reading it back. When others read the sum too (a
 * pre-LayerNorm transformer's next residual), the fused node writes it as its output 3, only if
 * all those readers run after the LayerNorm.
 *
 * Z is a computed value (not a constant) other than the product. Every intermediate value has
 * exactly one reader and is no graph output. The fused node takes the place of the chain's last
 * node, so a Z computed after the product (ResNet's downsampling branch) is ready when it runs.
 * Shapes the pass cannot see are the fused kernels' to check: FusedMatMulBias computes the
 * unfused Add's broadcast; FusedConv requires Z to broadcast to the convolution's output.
 *
 * Not for models loaded for CUDA (AIS_OPT_BACKEND at load, as the QDQ and transformer passes):
 * the GPU backend has no FusedMatMulBias and its FusedConv no Z, so fused nodes would run on the
 * host with copies. A CUDA-plugin build still fuses for the CPU, its default.
 */
#include <string.h>

#include "model.h"

#define AIS__FE_DOMAIN "com.microsoft"

typedef struct ais__fe_chain {
    int32_t anchor, last; /* the product, and the node whose place the fused node takes */
    int32_t mid[2];       /* the other nodes of the chain (-1: none) */
    int32_t bias, z, out; /* values (-1: none) */
    const char *act;      /* NULL: none */
} ais__fe_chain;

typedef struct ais__fe {
    ais_model *m;
    ais__graph *g;
    uint32_t *readers; /* per value: input slots reading it */
    int32_t *reader;   /* per value: the last node counted reading it */
    bool *used;        /* per node: part of a chain already */
} ais__fe;

static bool ais__fe_dflt(const char *d) { return !d || !d[0] || strcmp(d, "ai.onnx") == 0; }

static bool ais__fe_is(const ais__node *n, const char *op) {
    return strcmp(n->op_type, op) == 0 && ais__fe_dflt(n->domain);
}

/* The node's one output (trailing omitted outputs aside), or -1. */
static int32_t ais__fe_out(const ais__node *n) {
    size_t k = n->n_outputs;
    while (k > 0 && n->outputs[k - 1] < 0)
        k--;
    return k == 1 ? n->outputs[0] : -1;
}

static bool ais__fe_arity(const ais__node *n, size_t count) {
    if (n->n_inputs != count) return false;
    for (size_t k = 0; k < count; k++)
        if (n->inputs[k] < 0) return false;
    return true;
}

/* The only node reading v when v is no graph input or output and that node is in no chain. */
static int32_t ais__fe_sole_reader(const ais__fe *f, int32_t v) {
    const ais__value *val = &f->g->values[v];
    if (v < 0 || f->readers[v] != 1 || (val->flags & (AIS__VALUE_INPUT | AIS__VALUE_OUTPUT)))
        return -1;
    int32_t r = f->reader[v];
    return r >= 0 && !f->used[r] ? r : -1;
}

static bool ais__fe_const(const ais__fe *f, int32_t v) {
    const ais__value *val = &f->g->values[v];
    return (val->flags & AIS__VALUE_CONST) && !(val->flags & AIS__VALUE_INPUT) && val->constant;
}

/* A constant f32 tensor of rank r (and, for rank 1 or 2, these extents when >= 0). */
static bool ais__fe_const_f32(const ais__fe *f, int32_t v, uint32_t rank, int64_t d0) {
    if (!ais__fe_const(f, v)) return false;
    const ais_tensor *t = f->g->values[v].constant;
    return t->dtype == AIS_DTYPE_F32 && t->ndim == rank && (d0 < 0 || t->dims[0] == d0);
}

/* For Add node a reading v: the other input, or -1. */
static int32_t ais__fe_other(const ais__node *a, int32_t v) {
    if (!ais__fe_arity(a, 2)) return -1;
    if (a->inputs[0] == v && a->inputs[1] != v) return a->inputs[1];
    if (a->inputs[1] == v && a->inputs[0] != v) return a->inputs[0];
    return -1;
}

/* Gelu (erf form) of ONNX (opset 20) or com.microsoft with its one input. */
static bool ais__fe_gelu(const ais__node *n) {
    bool ms = n->domain && strcmp(n->domain, "com.microsoft") == 0;
    return strcmp(n->op_type, "Gelu") == 0 && (ms || ais__fe_dflt(n->domain)) &&
           ais__fe_arity(n, 1) &&
           strcmp(ais__attr_string(n->attrs, "approximate", "none"), "none") == 0;
}

/* After value v (the chain so far ends at node c->last): an activation that reads only v. */
static void ais__fe_act(const ais__fe *f, ais__fe_chain *c, int32_t v, bool gelu_ok) {
    int32_t r = ais__fe_sole_reader(f, v);
    if (r < 0) return;
    const ais__node *n = &f->g->nodes[r];
    if (ais__fe_is(n, "Relu") && ais__fe_arity(n, 1))
        c->act = "Relu";
    else if (gelu_ok && ais__fe_gelu(n))
        c->act = "Gelu";
    else
        return;
    c->mid[c->mid[0] < 0 ? 0 : 1] = c->last;
    c->last = r;
    c->out = ais__fe_out(n);
}

/* Z for Add node a that reads v: a computed value other than v. A Sum of two is the same Add
 * (ShuffleNet's units end in Sum(Conv, shortcut) -> Relu; ais__fe_other checks the two). */
static int32_t ais__fe_resid(const ais__fe *f, const ais__node *a, int32_t v) {
    if (!ais__fe_is(a, "Add") && !ais__fe_is(a, "Sum")) return -1;
    int32_t z = ais__fe_other(a, v);
    return z >= 0 && !ais__fe_const(f, z) && ais__fe_out(a) >= 0 ? z : -1;
}

static bool ais__fe_match_matmul(const ais__fe *f, int32_t i, ais__fe_chain *c) {
    const ais__node *mm = &f->g->nodes[i];
    if (!ais__fe_is(mm, "MatMul") || !ais__fe_arity(mm, 2) ||
        !ais__fe_const_f32(f, mm->inputs[1], 2, -1))
        return false;
    int64_t n = f->g->values[mm->inputs[1]].constant->dims[1];
    int32_t x = ais__fe_out(mm), r = x >= 0 ? ais__fe_sole_reader(f, x) : -1;
    if (r < 0) return false;
    *c = (ais__fe_chain){i, r, {-1, -1}, -1, -1, ais__fe_out(&f->g->nodes[r]), NULL};
    const ais__node *rn = &f->g->nodes[r];
    if (strcmp(rn->op_type, "BiasGelu") == 0 && rn->domain &&
        strcmp(rn->domain, "com.microsoft") == 0) {
        if (!ais__fe_arity(rn, 2) || rn->inputs[0] != x ||
            !ais__fe_const_f32(f, rn->inputs[1], 1, n) || c->out < 0)
            return false;
        c->bias = rn->inputs[1];
        c->act = "Gelu";
        return true;
    }
    if (!ais__fe_is(rn, "Add") || c->out < 0) return false;
    int32_t other = ais__fe_other(rn, x);
    if (other < 0) return false;
    if (ais__fe_const_f32(f, other, 1, n)) {
        c->bias = other;
        int32_t r2 = ais__fe_sole_reader(f, c->out);
        int32_t z = r2 >= 0 ? ais__fe_resid(f, &f->g->nodes[r2], c->out) : -1;
        if (z >= 0) {
            c->z = z;
            c->mid[0] = r;
            c->last = r2;
            c->out = ais__fe_out(&f->g->nodes[r2]);
            return true;
        }
        ais__fe_act(f, c, c->out, true);
        return true;
    }
    if ((c->z = ais__fe_resid(f, rn, x)) < 0) return false;
    ais__fe_act(f, c, c->out, true);
    return true;
}

static bool ais__fe_match_conv(const ais__fe *f, int32_t i, ais__fe_chain *c) {
    const ais__node *cv = &f->g->nodes[i];
    if (!ais__fe_is(cv, "Conv") || cv->n_inputs < 2 || cv->n_inputs > 3 || cv->inputs[0] < 0 ||
        cv->inputs[1] < 0 || !ais__fe_const(f, cv->inputs[1]))
        return false;
    int32_t x = ais__fe_out(cv), r = x >= 0 ? ais__fe_sole_reader(f, x) : -1;
    if (r < 0) return false;
    *c = (ais__fe_chain){i, r, {-1, -1}, -1, -1, ais__fe_out(&f->g->nodes[r]), NULL};
    if ((c->z = ais__fe_resid(f, &f->g->nodes[r], x)) < 0) return false;
    ais__fe_act(f, c, c->out, false);
    return true;
}

/* LayerNormalization node i (ONNX or what fuse_transformer.c makes) over the last axis, with
 * constant f32 Scale and B of shape [H], H > 1, reading the sum of Add node *add. The
 * Scale's shape pins H, so a fused node fails only where the unfused LayerNorm fails too. */
static bool ais__fe_match_skipln(const ais__fe *f, int32_t i, int32_t *add, bool *keep_sum) {
    const ais__graph *g = f->g;
    const ais__node *ln = &g->nodes[i];
    bool ms = ln->domain && strcmp(ln->domain, AIS__FE_DOMAIN) == 0;
    if (strcmp(ln->op_type, "LayerNormalization") != 0 || !(ms || ais__fe_dflt(ln->domain)) ||
        ln->n_inputs < 2 || ln->n_inputs > 3 || ln->inputs[0] < 0 || ln->inputs[1] < 0 ||
        ais__fe_out(ln) < 0 || ais__attr_int(ln->attrs, "axis", -1) != -1 ||
        ais__attr_int(ln->attrs, "stash_type", 1) != 1)
        return false;
    for (size_t k = 1; k < ln->n_inputs; k++) {
        int32_t v = ln->inputs[k];
        if (v < 0) continue;
        if (!ais__fe_const(f, v)) return false;
        const ais_tensor *t = g->values[v].constant;
        if (t->dtype != AIS_DTYPE_F32 || t->ndim != 1 || t->dims[0] < 2 ||
            (k == 2 && t->numel != g->values[ln->inputs[1]].constant->numel))
            return false;
    }
    int32_t sum = ln->inputs[0], a = g->values[sum].producer;
    if (a < 0 || a >= i || f->used[a]) return false;
    const ais__node *an = &g->nodes[a];
    if (!ais__fe_is(an, "Add") || !ais__fe_arity(an, 2) || ais__fe_out(an) != sum ||
        (ais__fe_const(f, an->inputs[0]) && ais__fe_const(f, an->inputs[1])))
        return false;
    *keep_sum = f->readers[sum] != 1 || (g->values[sum].flags & AIS__VALUE_OUTPUT);
    if (g->values[sum].flags & AIS__VALUE_INPUT) return false;
    /* the other readers must come after the fused node's place (the LayerNorm's) */
    for (int32_t j = 0; *keep_sum && j < i; j++)
        for (size_t k = 0; k < g->nodes[j].n_inputs; k++)
            if (g->nodes[j].inputs[k] == sum) return false;
    *add = a;
    return true;
}

/* The LayerNorm node i becomes SkipLayerNormalization in its place; Add node a goes. */
static ais_status ais__fe_apply_skipln(ais__fe *f, int32_t i, int32_t a, bool keep_sum,
                                       bool *gone) {
    ais__graph *g = f->g;
    ais__node *ln = &g->nodes[i];
    const ais__node *an = &g->nodes[a];
    size_t n_in = ln->n_inputs + 1, n_out = keep_sum ? 4 : 1;
    int32_t *ins = ais__malloc(n_in * sizeof *ins), *outs = ais__malloc(n_out * sizeof *outs);
    /* LayerNormalization's epsilon defaults to 1e-5, SkipLayerNormalization's to 1e-12 */
    float eps = ais__attr_float(ln->attrs, "epsilon", 1e-5f);
    ais_status st = AIS_OK;
    if (!ins || !outs) st = ais__oom(64, "skip LayerNorm node");
    if (st == AIS_OK && !ln->attrs) st = ais_attrs_create(&ln->attrs);
    if (st == AIS_OK) st = ais_attrs_set_float(ln->attrs, "epsilon", eps);
    if (st == AIS_OK) {
        ins[0] = an->inputs[0];
        ins[1] = an->inputs[1];
        for (size_t k = 1; k < ln->n_inputs; k++)
            ins[k + 1] = ln->inputs[k];
        st = ais__model_retype_node(f->m, i, AIS__FE_DOMAIN, "SkipLayerNormalization", ins, n_in);
    }
    ais__free(ins);
    if (st != AIS_OK) {
        ais__free(outs);
        return st;
    }
    outs[0] = ln->outputs[0];
    if (keep_sum) outs[1] = outs[2] = -1, outs[3] = an->outputs[0];
    ais__free(ln->outputs);
    ln->outputs = outs;
    ln->n_outputs = n_out;
    gone[a] = true;
    return AIS_OK;
}

/* Rewrites the anchor as the fused node and swaps it into the last node's place. */
static ais_status ais__fe_apply(ais__fe *f, const ais__fe_chain *c, bool *gone) {
    ais__graph *g = f->g;
    ais__node *an = &g->nodes[c->anchor];
    bool conv = strcmp(an->op_type, "Conv") == 0;
    int32_t in[4] = {an->inputs[0], an->inputs[1], -1, -1};
    if (conv && an->n_inputs > 2) in[2] = an->inputs[2];
    if (!conv) in[2] = c->bias;
    in[3] = c->z;
    size_t n_in = 4;
    while (n_in > 2 && in[n_in - 1] < 0)
        n_in--;
    if (!an->attrs) AIS__CHECK(ais_attrs_create(&an->attrs));
    if (c->act) AIS__CHECK(ais_attrs_set_string(an->attrs, "activation", c->act));
    AIS__CHECK(ais__model_retype_node(f->m, c->anchor, AIS__FE_DOMAIN,
                                      conv ? "FusedConv" : "FusedMatMulBias", in, n_in));
    if (an->outputs[0] >= 0) g->values[an->outputs[0]].producer = -1;
    an->outputs[0] = c->out;
    /* the anchor's struct moves to the last node's place and the last node's to the anchor's,
     * which is then dropped with the other nodes of the chain */
    ais__node tmp = g->nodes[c->last];
    g->nodes[c->last] = *an;
    g->nodes[c->anchor] = tmp;
    const ais__op_def *def = f->m->defs[c->anchor];
    int64_t opset = f->m->opsets[c->anchor];
    f->m->defs[c->anchor] = f->m->defs[c->last];
    f->m->opsets[c->anchor] = f->m->opsets[c->last];
    f->m->defs[c->last] = def;
    f->m->opsets[c->last] = opset;
    g->values[c->out].producer = c->last;
    gone[c->anchor] = true;
    for (int k = 0; k < 2; k++)
        if (c->mid[k] >= 0) gone[c->mid[k]] = true;
    return AIS_OK;
}

ais_status ais__graph_fuse_epilogue(ais_model *m, size_t *count) {
    if (count) *count = 0;
    ais__graph *g = m->graph;
    size_t n = g->n_nodes, nv = g->n_values ? g->n_values : 1;
    if (n == 0 || m->load_for_cuda) return AIS_OK;
    ais__fe f = {.m = m, .g = g};
    f.readers = ais__calloc(nv, sizeof *f.readers);
    f.reader = ais__malloc(nv * sizeof *f.reader);
    f.used = ais__calloc(n, sizeof *f.used);
    bool *gone = ais__calloc(n, sizeof *gone);
    ais__fe_chain *chains = ais__malloc(n * sizeof *chains);
    ais_status st = AIS_OK;
    size_t n_chains = 0;
    if (!f.readers || !f.reader || !f.used || !gone || !chains) {
        st = ais__oom(nv * 8 + n * sizeof *chains, "epilogue fusion");
        goto done;
    }
    for (size_t i = 0; i < n; i++)
        for (size_t k = 0; k < g->nodes[i].n_inputs; k++)
            if (g->nodes[i].inputs[k] >= 0) {
                f.readers[g->nodes[i].inputs[k]]++;
                f.reader[g->nodes[i].inputs[k]] = (int32_t)i;
            }
    /* Find the chains on the graph as it is, then rewrite: a rewrite moves nodes. */
    for (size_t i = 0; i < n; i++) {
        ais__fe_chain c;
        if (f.used[i] ||
            !(ais__fe_match_matmul(&f, (int32_t)i, &c) || ais__fe_match_conv(&f, (int32_t)i, &c)))
            continue;
        f.used[c.anchor] = f.used[c.last] = true;
        for (int k = 0; k < 2; k++)
            if (c.mid[k] >= 0) f.used[c.mid[k]] = true;
        chains[n_chains++] = c;
    }
    /* then the Adds before a LayerNorm that no product took (anchor: the Add, last: the
     * LayerNorm, mid[0]: whether the sum stays an output) */
    for (size_t i = 0; i < n; i++) {
        int32_t a;
        bool keep;
        if (f.used[i] || !ais__fe_match_skipln(&f, (int32_t)i, &a, &keep)) continue;
        f.used[a] = f.used[i] = true;
        chains[n_chains++] = (ais__fe_chain){a, (int32_t)i, {keep, -1}, -1, -1, -1, NULL};
    }
    if (n_chains == 0) goto done;
    if (ais__graph_opset(g, AIS__FE_DOMAIN) <= 0 &&
        (st = ais__graph_set_opset(g, AIS__FE_DOMAIN, 1)) != AIS_OK)
        goto done;
    for (size_t k = 0; k < n_chains && st == AIS_OK; k++) {
        const ais__fe_chain *c = &chains[k];
        st = strcmp(g->nodes[c->last].op_type, "LayerNormalization") == 0
                 ? ais__fe_apply_skipln(&f, c->last, c->anchor, c->mid[0], gone)
                 : ais__fe_apply(&f, c, gone);
    }
    /* readers of the kept nodes, for the constants the drop lets go */
    memset(f.readers, 0, nv * sizeof *f.readers);
    for (size_t i = 0; i < n; i++)
        for (size_t k = 0; !gone[i] && k < g->nodes[i].n_inputs; k++)
            if (g->nodes[i].inputs[k] >= 0) f.readers[g->nodes[i].inputs[k]]++;
    ais__model_drop_nodes(m, gone, f.readers, g->n_values);
    if (count) *count = n_chains;
done:
    ais__free(f.readers);
    ais__free(f.reader);
    ais__free(f.used);
    ais__free(gone);
    ais__free(chains);
    return st;
}
