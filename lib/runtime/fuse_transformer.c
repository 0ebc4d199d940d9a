/*
 * fuse_transformer.c - the optimization level 2 pass for the subgraphs that exporters emit for
 * transformer blocks (issue 11 item 3), run before fuse.c:
 *
 *   LayerNorm  ReduceMean, Sub, Pow(2), ReduceMean, Add(eps), Sqrt, Div, Mul(scale)[, Add(bias)]
 *              (torch below opset 17) -> com.microsoft LayerNormalization (lib/ops/norm.c)
 *   Gelu       x * 0.5 * (1 + erf(x / sqrt 2)) and 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3)))
 *              in the orders exporters write them -> com.microsoft Gelu (approximate none/tanh)
 *   BiasGelu   Gelu(Add(x, constant 1-D bias)) -> com.microsoft BiasGelu (lib/ops/attention.c)
 *   Attention  MatMul(Transpose(Q), Transpose(K)), Div/Mul by a constant, Add(mask), Softmax,
 *              MatMul(., Transpose(V)), Transpose -> com.microsoft FusedAttention, which reads the
 *              [B, S, heads, head_size] tensors before the Transposes and writes the one after
 *              the last, so none of the transposed copies, scores or probabilities is stored.
 *
 * Matching is strict: every intermediate value has exactly one reader inside the pattern (two for
 * LayerNorm's centred x) and is no graph output, every constant is checked (exponent 2, eps, 0.5,
 * 1, sqrt 2, the Transpose perms, Softmax and ReduceMean axes, keepdims). Anything else leaves
 * the graph as it is. A model loaded for the CUDA backend (AIS_OPT_BACKEND) keeps its attention
 * and bias + Gelu subgraphs: the GPU runs their parts and not the fused CPU kernels, and a node
 * it cannot run would move to the host with copies (fuse.c's Clip measured 7x slower so).
 * Shapes the pass cannot see (intermediate values are inferred when a session
 * plans) are checked by the fused operators' infer, which fails where the unfused graph's
 * broadcasting would have given a different result (e.g. a mask that does not broadcast to the
 * scores), rather than compute something else.
 */
#include <math.h>
#include <string.h>

#include "model.h"

#define AIS__FT_DOMAIN "com.microsoft"

typedef struct ais__ft {
    ais_model *m;
    ais__graph *g;
    uint32_t *readers; /* per value: input slots of live nodes reading it (kept up to date) */
    int32_t *reader;   /* per value: a node that read it when counted or rewritten (a hint) */
    bool *gone;        /* per node */
    size_t counts[AIS__FT_N];
} ais__ft;

static void ais__ft_count_readers(ais__ft *f) {
    memset(f->readers, 0, (f->g->n_values ? f->g->n_values : 1) * sizeof *f->readers);
    for (size_t i = 0; i < f->g->n_nodes; i++) {
        if (f->gone[i]) continue;
        const ais__node *n = &f->g->nodes[i];
        for (size_t k = 0; k < n->n_inputs; k++)
            if (n->inputs[k] >= 0) {
                f->readers[n->inputs[k]]++;
                f->reader[n->inputs[k]] = (int32_t)i;
            }
    }
}

/* Node i stops (delta -1) or starts (+1) reading its inputs. */
static void ais__ft_reads(ais__ft *f, int32_t i, int delta) {
    const ais__node *n = &f->g->nodes[i];
    for (size_t k = 0; k < n->n_inputs; k++) {
        if (n->inputs[k] < 0) continue;
        f->readers[n->inputs[k]] = (uint32_t)((int64_t)f->readers[n->inputs[k]] + delta);
        if (delta > 0) f->reader[n->inputs[k]] = i;
    }
}

static bool ais__ft_default_domain(const char *d) {
    return !d || !d[0] || strcmp(d, "ai.onnx") == 0;
}

/* The live node producing v when it is op_type of the default domain with its one output v,
 * else -1. */
static int32_t ais__ft_prod(const ais__ft *f, int32_t v, const char *op_type) {
    if (v < 0) return -1;
    int32_t p = f->g->values[v].producer;
    if (p < 0 || f->gone[p]) return -1;
    const ais__node *n = &f->g->nodes[p];
    if (strcmp(n->op_type, op_type) != 0 || !ais__ft_default_domain(n->domain)) return -1;
    size_t n_out = n->n_outputs;
    while (n_out > 0 && n->outputs[n_out - 1] < 0)
        n_out--;
    return n_out == 1 && n->outputs[0] == v ? p : -1;
}

/* v is read by exactly `uses` input slots and is neither a graph input nor output. */
static bool ais__ft_private(const ais__ft *f, int32_t v, uint32_t uses) {
    const ais__value *val = &f->g->values[v];
    return f->readers[v] == uses && !(val->flags & (AIS__VALUE_INPUT | AIS__VALUE_OUTPUT));
}

/* The node's inputs are exactly `count` present values (no omitted optional ones). */
static bool ais__ft_arity(const ais__node *n, size_t count) {
    if (n->n_inputs != count) return false;
    for (size_t k = 0; k < count; k++)
        if (n->inputs[k] < 0) return false;
    return true;
}

/* A constant scalar (any rank, one element) of f32 or f64 that cannot be fed. */
static bool ais__ft_scalar(const ais__ft *f, int32_t v, double *out) {
    if (v < 0) return false;
    const ais__value *val = &f->g->values[v];
    if (!(val->flags & AIS__VALUE_CONST) || (val->flags & AIS__VALUE_INPUT)) return false;
    const ais_tensor *t = val->constant;
    if (t->numel != 1) return false;
    if (t->dtype == AIS_DTYPE_F32)
        *out = ((const float *)t->data)[0];
    else if (t->dtype == AIS_DTYPE_F64)
        *out = ((const double *)t->data)[0];
    else
        return false;
    return true;
}

static bool ais__ft_scalar_is(const ais__ft *f, int32_t v, double want, double tol) {
    double d;
    return ais__ft_scalar(f, v, &d) && fabs(d - want) <= tol;
}

/* A constant f32 vector of rank 1 (LayerNorm's scale and bias, BiasGelu's bias). */
static bool ais__ft_vector(const ais__ft *f, int32_t v) {
    const ais__value *val = &f->g->values[v];
    if (!(val->flags & AIS__VALUE_CONST) || (val->flags & AIS__VALUE_INPUT)) return false;
    return val->constant->dtype == AIS_DTYPE_F32 && val->constant->ndim == 1;
}

/* For a binary node reading v and something else: the other input, or -1. */
static int32_t ais__ft_other(const ais__node *n, int32_t v) {
    if (!ais__ft_arity(n, 2)) return -1;
    if (n->inputs[0] == v && n->inputs[1] != v) return n->inputs[1];
    if (n->inputs[1] == v && n->inputs[0] != v) return n->inputs[0];
    return -1;
}

/* The only reader of v among the live nodes, when it is op_type of the default domain. */
static bool ais__ft_reads_v(const ais__node *n, int32_t v) {
    for (size_t k = 0; k < n->n_inputs; k++)
        if (n->inputs[k] == v) return true;
    return false;
}

static int32_t ais__ft_reader(const ais__ft *f, int32_t v, const char *op_type) {
    if (!ais__ft_private(f, v, 1)) return -1;
    /* the hint, when it still reads v, is the one reader; else (after a rewrite moved readers)
     * a scan finds it, which keeps the pass linear on ordinary graphs */
    int32_t h = f->reader[v];
    if (h >= 0 && !f->gone[h] && ais__ft_reads_v(&f->g->nodes[h], v)) {
        const ais__node *n = &f->g->nodes[h];
        return strcmp(n->op_type, op_type) == 0 && ais__ft_default_domain(n->domain) ? h : -1;
    }
    for (size_t i = 0; i < f->g->n_nodes; i++) {
        if (f->gone[i]) continue;
        const ais__node *n = &f->g->nodes[i];
        for (size_t k = 0; k < n->n_inputs; k++)
            if (n->inputs[k] == v)
                return strcmp(n->op_type, op_type) == 0 && ais__ft_default_domain(n->domain)
                           ? (int32_t)i
                           : -1;
    }
    return -1;
}

/* Output 0 of node i (which has exactly one). */
static int32_t ais__ft_out(const ais__ft *f, int32_t i) {
    const ais__node *n = &f->g->nodes[i];
    size_t n_out = n->n_outputs;
    while (n_out > 0 && n->outputs[n_out - 1] < 0)
        n_out--;
    return n_out == 1 ? n->outputs[0] : -1;
}

/* Node i rewritten as domain/op_type with these inputs and attributes (taken, also on failure);
 * its output stays. */
static ais_status ais__ft_rewrite(ais__ft *f, int32_t i, const char *op_type, ais_attrs *attrs,
                                  const int32_t *inputs, size_t n_inputs) {
    ais__ft_reads(f, i, -1);
    ais_status st = ais__model_retype_node(f->m, i, AIS__FT_DOMAIN, op_type, inputs, n_inputs);
    ais__ft_reads(f, i, +1);
    if (st != AIS_OK) {
        ais_attrs_destroy(attrs);
        return st;
    }
    ais__node *n = &f->g->nodes[i];
    ais_attrs_destroy(n->attrs);
    n->attrs = attrs;
    return AIS_OK;
}

static void ais__ft_drop(ais__ft *f, const int32_t *nodes, size_t count) {
    for (size_t k = 0; k < count; k++)
        if (nodes[k] >= 0 && !f->gone[nodes[k]]) {
            ais__ft_reads(f, nodes[k], -1);
            f->gone[nodes[k]] = true;
        }
}

/* ---- LayerNorm ---- */

/* ReduceMean over the last axis only, keeping it: axes [-1] (attribute, or the constant input
 * from opset 18), or [rank - 1] when x's rank is declared. */
static bool ais__ft_mean_last(const ais__ft *f, int32_t i, int32_t x) {
    const ais__node *n = &f->g->nodes[i];
    if (ais__attr_int(n->attrs, "keepdims", 1) != 1) return false;
    const int64_t *axes = NULL;
    size_t na = 0;
    if (f->m->opsets[i] >= 18) {
        if (!ais__ft_arity(n, 2) || ais__attr_find(n->attrs, "axes")) return false;
        const ais__value *av = &f->g->values[n->inputs[1]];
        if (!(av->flags & AIS__VALUE_CONST) || (av->flags & AIS__VALUE_INPUT) ||
            av->constant->dtype != AIS_DTYPE_I64 || av->constant->numel != 1)
            return false;
        axes = av->constant->data;
        na = 1;
    } else if (!ais__ft_arity(n, 1) || !ais__attr_ints(n->attrs, "axes", &axes, &na)) {
        return false;
    }
    if (na != 1 || n->inputs[0] != x) return false;
    int32_t rank = f->g->values[x].ndim;
    return axes[0] == -1 || (rank > 0 && axes[0] == rank - 1);
}

/* Anchored at the Div (x - mean) / sqrt(var + eps). */
static ais_status ais__ft_layernorm(ais__ft *f, int32_t div, bool *fused) {
    const ais__graph *g = f->g;
    const ais__node *d = &g->nodes[div];
    if (!ais__ft_arity(d, 2)) return AIS_OK;
    int32_t xc = d->inputs[0], dv = ais__ft_out(f, div);
    int32_t sub = ais__ft_prod(f, xc, "Sub"), sqr = ais__ft_prod(f, d->inputs[1], "Sqrt");
    if (sub < 0 || sqr < 0 || dv < 0 || !ais__ft_private(f, xc, 2) ||
        !ais__ft_private(f, d->inputs[1], 1) || !ais__ft_arity(&g->nodes[sub], 2) ||
        !ais__ft_arity(&g->nodes[sqr], 1))
        return AIS_OK;
    int32_t x = g->nodes[sub].inputs[0],
            rm1 = ais__ft_prod(f, g->nodes[sub].inputs[1], "ReduceMean");
    if (rm1 < 0 || !ais__ft_private(f, g->nodes[sub].inputs[1], 1) || !ais__ft_mean_last(f, rm1, x))
        return AIS_OK;
    int32_t sv = g->nodes[sqr].inputs[0], add = ais__ft_prod(f, sv, "Add");
    if (add < 0 || !ais__ft_private(f, sv, 1)) return AIS_OK;
    const ais__node *an = &g->nodes[add];
    double eps;
    int32_t var = -1;
    if (ais__ft_arity(an, 2) && ais__ft_scalar(f, an->inputs[1], &eps))
        var = an->inputs[0];
    else if (ais__ft_arity(an, 2) && ais__ft_scalar(f, an->inputs[0], &eps))
        var = an->inputs[1];
    int32_t rm2 = ais__ft_prod(f, var, "ReduceMean");
    if (rm2 < 0 || !ais__ft_private(f, var, 1) || !(eps >= 0)) return AIS_OK;
    int32_t pv = g->nodes[rm2].inputs[0], pw = ais__ft_prod(f, pv, "Pow");
    if (pw < 0 || !ais__ft_private(f, pv, 1) || !ais__ft_mean_last(f, rm2, pv) ||
        !ais__ft_arity(&g->nodes[pw], 2) || g->nodes[pw].inputs[0] != xc ||
        !ais__ft_scalar_is(f, g->nodes[pw].inputs[1], 2.0, 0))
        return AIS_OK;
    /* the affine part: Mul by a constant scale (required: the fused node's Scale), Add bias */
    int32_t mul = ais__ft_reader(f, dv, "Mul");
    if (mul < 0) return AIS_OK;
    int32_t scale = ais__ft_other(&g->nodes[mul], dv), mv = ais__ft_out(f, mul);
    if (scale < 0 || mv < 0 || !ais__ft_vector(f, scale)) return AIS_OK;
    int32_t last = mul, bias = -1, badd = ais__ft_reader(f, mv, "Add");
    if (badd >= 0) {
        int32_t b = ais__ft_other(&g->nodes[badd], mv);
        if (b >= 0 && ais__ft_vector(f, b) && ais__ft_out(f, badd) >= 0) {
            bias = b;
            last = badd;
        }
    }
    ais_attrs *at = NULL;
    ais_status st = ais_attrs_create(&at);
    if (st == AIS_OK) st = ais_attrs_set_int(at, "axis", -1);
    if (st == AIS_OK) st = ais_attrs_set_float(at, "epsilon", (float)eps);
    if (st != AIS_OK) {
        ais_attrs_destroy(at);
        return st;
    }
    int32_t in[3] = {x, scale, bias};
    AIS__CHECK(ais__ft_rewrite(f, last, "LayerNormalization", at, in, bias >= 0 ? 3 : 2));
    int32_t drop[] = {rm1, sub, pw, rm2, add, sqr, div, last == mul ? -1 : mul};
    ais__ft_drop(f, drop, AIS__ARRAY_LEN(drop));
    *fused = true;
    return AIS_OK;
}

/* ---- Gelu ---- */

/* The tail shared by both forms, from the value a = 1 + erf(.) or 1 + tanh(.) on x: the node
 * computing 0.5 * x * a (as (x * a) * 0.5, (x * 0.5) * a or x * (a * 0.5)), its helper node
 * (h, or -1), and the 0.5 * x node when that is separate. */
static int32_t ais__ft_gelu_tail(const ais__ft *f, int32_t a, int32_t x, int32_t *h) {
    const ais__graph *g = f->g;
    *h = -1;
    int32_t m1 = ais__ft_reader(f, a, "Mul");
    if (m1 < 0) return -1;
    int32_t o = ais__ft_other(&g->nodes[m1], a), m1v = ais__ft_out(f, m1);
    if (o < 0 || m1v < 0) return -1;
    if (o == x) { /* (x * a) * 0.5 */
        int32_t m2 = ais__ft_reader(f, m1v, "Mul");
        if (m2 < 0 || ais__ft_out(f, m2) < 0 ||
            !ais__ft_scalar_is(f, ais__ft_other(&g->nodes[m2], m1v), 0.5, 0))
            return -1;
        *h = m1;
        return m2;
    }
    if (ais__ft_scalar_is(f, o, 0.5, 0)) { /* x * (a * 0.5) */
        int32_t m2 = ais__ft_reader(f, m1v, "Mul");
        if (m2 < 0 || ais__ft_out(f, m2) < 0 || ais__ft_other(&g->nodes[m2], m1v) != x) return -1;
        *h = m1;
        return m2;
    }
    /* (x * 0.5) * a: o is x * 0.5, read only here */
    int32_t hx = ais__ft_prod(f, o, "Mul");
    if (hx < 0 || !ais__ft_private(f, o, 1) || ais__ft_other(&g->nodes[hx], x) < 0 ||
        !ais__ft_scalar_is(f, ais__ft_other(&g->nodes[hx], x), 0.5, 0))
        return -1;
    *h = hx;
    return m1;
}

/* The value 1 + r where r is node i's output; -1 when it is not that. */
static int32_t ais__ft_one_plus(const ais__ft *f, int32_t i, int32_t *add) {
    int32_t r = ais__ft_out(f, i);
    *add = r < 0 ? -1 : ais__ft_reader(f, r, "Add");
    if (*add < 0) return -1;
    int32_t o = ais__ft_other(&f->g->nodes[*add], r);
    if (o < 0 || !ais__ft_scalar_is(f, o, 1.0, 0)) return -1;
    return ais__ft_out(f, *add);
}

static ais_status ais__ft_gelu_emit(ais__ft *f, int32_t last, int32_t x, bool tanh_form,
                                    const int32_t *drop, size_t n_drop, bool *fused) {
    ais_attrs *at = NULL;
    ais_status st = ais_attrs_create(&at);
    if (st == AIS_OK && tanh_form) st = ais_attrs_set_string(at, "approximate", "tanh");
    if (st != AIS_OK) {
        ais_attrs_destroy(at);
        return st;
    }
    AIS__CHECK(ais__ft_rewrite(f, last, "Gelu", at, &x, 1));
    ais__ft_drop(f, drop, n_drop);
    *fused = true;
    return AIS_OK;
}

/* Anchored at the Erf: x / sqrt(2) or x * (1 / sqrt(2)) feeding it. */
static ais_status ais__ft_gelu_erf(ais__ft *f, int32_t erf, bool *fused) {
    const ais__graph *g = f->g;
    if (!ais__ft_arity(&g->nodes[erf], 1)) return AIS_OK;
    int32_t t = g->nodes[erf].inputs[0], sc = ais__ft_prod(f, t, "Div"), x = -1;
    if (sc >= 0 && ais__ft_arity(&g->nodes[sc], 2) &&
        ais__ft_scalar_is(f, g->nodes[sc].inputs[1], 1.4142135623730951, 1e-6))
        x = g->nodes[sc].inputs[0];
    if (sc < 0 && (sc = ais__ft_prod(f, t, "Mul")) >= 0) {
        const ais__node *mn = &g->nodes[sc];
        for (int k = 0; k < 2 && x < 0; k++)
            if (ais__ft_arity(mn, 2) &&
                ais__ft_scalar_is(f, mn->inputs[1 - k], 0.7071067811865476, 1e-7))
                x = mn->inputs[k];
    }
    if (x < 0 || !ais__ft_private(f, t, 1)) return AIS_OK;
    int32_t add, a = ais__ft_one_plus(f, erf, &add), h;
    if (a < 0) return AIS_OK;
    int32_t last = ais__ft_gelu_tail(f, a, x, &h);
    if (last < 0) return AIS_OK;
    int32_t drop[] = {sc, erf, add, h};
    return ais__ft_gelu_emit(f, last, x, false, drop, AIS__ARRAY_LEN(drop), fused);
}

/* Anchored at the Tanh: sqrt(2/pi) * (x + 0.044715 * x^3), with x^3 as Pow(x, 3) or x * x * x. */
static ais_status ais__ft_gelu_tanh(ais__ft *f, int32_t th, bool *fused) {
    const ais__graph *g = f->g;
    if (!ais__ft_arity(&g->nodes[th], 1)) return AIS_OK;
    int32_t t = g->nodes[th].inputs[0], mc = ais__ft_prod(f, t, "Mul");
    if (mc < 0 || !ais__ft_private(f, t, 1)) return AIS_OK;
    int32_t u = -1;
    for (int k = 0; k < 2 && u < 0; k++)
        if (ais__ft_arity(&g->nodes[mc], 2) &&
            ais__ft_scalar_is(f, g->nodes[mc].inputs[1 - k], 0.7978845608028654, 1e-6))
            u = g->nodes[mc].inputs[k];
    int32_t ua = ais__ft_prod(f, u, "Add");
    if (ua < 0 || !ais__ft_private(f, u, 1) || !ais__ft_arity(&g->nodes[ua], 2)) return AIS_OK;
    /* one side is x, the other 0.044715 * x^3 */
    for (int k = 0; k < 2; k++) {
        int32_t x = g->nodes[ua].inputs[k], w = g->nodes[ua].inputs[1 - k];
        int32_t wm = ais__ft_prod(f, w, "Mul");
        if (wm < 0 || !ais__ft_private(f, w, 1) || !ais__ft_arity(&g->nodes[wm], 2)) continue;
        int32_t cube = -1;
        for (int j = 0; j < 2 && cube < 0; j++)
            if (ais__ft_scalar_is(f, g->nodes[wm].inputs[1 - j], 0.044715, 1e-7))
                cube = g->nodes[wm].inputs[j];
        if (cube < 0 || !ais__ft_private(f, cube, 1)) continue;
        int32_t c1 = ais__ft_prod(f, cube, "Pow"), c2 = -1;
        if (c1 >= 0) {
            if (!ais__ft_arity(&g->nodes[c1], 2) || g->nodes[c1].inputs[0] != x ||
                !ais__ft_scalar_is(f, g->nodes[c1].inputs[1], 3.0, 0))
                continue;
        } else if ((c1 = ais__ft_prod(f, cube, "Mul")) >= 0) {
            /* (x * x) * x in either order */
            int32_t sq = ais__ft_other(&g->nodes[c1], x);
            c2 = ais__ft_prod(f, sq, "Mul");
            if (c2 < 0 || !ais__ft_private(f, sq, 1) || g->nodes[c2].n_inputs != 2 ||
                g->nodes[c2].inputs[0] != x || g->nodes[c2].inputs[1] != x)
                continue;
        } else {
            continue;
        }
        int32_t add, a = ais__ft_one_plus(f, th, &add), h;
        if (a < 0) return AIS_OK;
        int32_t last = ais__ft_gelu_tail(f, a, x, &h);
        if (last < 0) return AIS_OK;
        int32_t drop[] = {c1, c2, wm, ua, mc, th, add, h};
        return ais__ft_gelu_emit(f, last, x, true, drop, AIS__ARRAY_LEN(drop), fused);
    }
    return AIS_OK;
}

/* Gelu(Add(x, bias)) with a constant 1-D bias -> BiasGelu(x, bias). */
static ais_status ais__ft_bias_gelu(ais__ft *f, int32_t ge, bool *fused) {
    const ais__graph *g = f->g;
    const ais__node *n = &g->nodes[ge];
    if (strcmp(n->op_type, "Gelu") != 0 || !n->domain || strcmp(n->domain, AIS__FT_DOMAIN) != 0 ||
        !ais__ft_arity(n, 1) || strcmp(ais__attr_string(n->attrs, "approximate", "none"), "none"))
        return AIS_OK;
    int32_t a = n->inputs[0], add = ais__ft_prod(f, a, "Add");
    if (add < 0 || !ais__ft_private(f, a, 1)) return AIS_OK;
    const ais__node *an = &g->nodes[add];
    for (int k = 0; k < 2; k++) {
        int32_t x = an->inputs[k], b = an->inputs[1 - k];
        if (!ais__ft_arity(an, 2) || !ais__ft_vector(f, b) || ais__ft_vector(f, x)) continue;
        int32_t in[2] = {x, b};
        AIS__CHECK(ais__ft_rewrite(f, ge, "BiasGelu", NULL, in, 2));
        ais__ft_drop(f, &add, 1);
        *fused = true;
        return AIS_OK;
    }
    return AIS_OK;
}

/* ---- attention ---- */

static bool ais__ft_perm_is(const ais__node *n, const int64_t *want) {
    const int64_t *p;
    size_t np;
    if (!ais__ft_arity(n, 1) || !ais__attr_ints(n->attrs, "perm", &p, &np) || np != 4) return false;
    for (size_t k = 0; k < 4; k++)
        if (p[k] != want[k]) return false;
    return true;
}

/* The value v = Transpose(src, perm) with v private to the pattern: src, the node in *tn. */
static int32_t ais__ft_transposed(const ais__ft *f, int32_t v, const int64_t *perm, int32_t *tn) {
    *tn = ais__ft_prod(f, v, "Transpose");
    if (*tn < 0 || !ais__ft_private(f, v, 1) || !ais__ft_perm_is(&f->g->nodes[*tn], perm))
        return -1;
    return f->g->nodes[*tn].inputs[0];
}

/* A declared dtype other than f32 (the fused kernel's only one). */
static bool ais__ft_not_f32(const ais__ft *f, int32_t v) {
    ais_dtype d = f->g->values[v].dtype;
    return d != AIS_DTYPE_UNDEFINED && d != AIS_DTYPE_F32;
}

/* v = MatMul output qk, or qk / c or qk * c with a constant scalar c (*scale: the factor). */
static bool ais__ft_scores(const ais__ft *f, int32_t v, int32_t *scl, double *scale, int32_t *qk) {
    const ais__graph *g = f->g;
    double c = 1.0;
    *scl = -1;
    *qk = v;
    int32_t d = ais__ft_prod(f, v, "Div"), m = ais__ft_prod(f, v, "Mul");
    if (d >= 0) {
        if (!ais__ft_arity(&g->nodes[d], 2) || !ais__ft_scalar(f, g->nodes[d].inputs[1], &c) ||
            !(c != 0) || !isfinite(c))
            return false;
        c = 1.0 / c;
        *qk = g->nodes[d].inputs[0];
        *scl = d;
    } else if (m >= 0) {
        const ais__node *mn = &g->nodes[m];
        if (!ais__ft_arity(mn, 2)) return false;
        if (ais__ft_scalar(f, mn->inputs[1], &c))
            *qk = mn->inputs[0];
        else if (ais__ft_scalar(f, mn->inputs[0], &c))
            *qk = mn->inputs[1];
        else
            return false;
        if (!isfinite(c)) return false;
        *scl = m;
    }
    *scale = c;
    return ais__ft_prod(f, *qk, "MatMul") >= 0;
}

/* Anchored at the Softmax over the last axis of the scores. */
static ais_status ais__ft_attention(ais__ft *f, int32_t smx, bool *fused) {
    static const int64_t bhsd[4] = {0, 2, 1, 3}, bhds[4] = {0, 2, 3, 1}, swap[4] = {0, 1, 3, 2};
    const ais__graph *g = f->g;
    const ais__node *sn = &g->nodes[smx];
    int64_t ax = ais__attr_int(sn->attrs, "axis", f->m->opsets[smx] >= 13 ? -1 : 1);
    if (!ais__ft_arity(sn, 1) || (ax != -1 && ax != 3)) return AIS_OK;
    int32_t s = sn->inputs[0], mask = -1, madd = -1, scl = -1, qk = -1;
    double c = 1.0;
    /* Softmax(Add(Div(QK, c), mask)), with the Add and the scaling each optional; the mask is
     * the Add's input that is not the scaled product */
    if ((madd = ais__ft_prod(f, s, "Add")) >= 0) {
        if (!ais__ft_private(f, s, 1) || !ais__ft_arity(&g->nodes[madd], 2)) return AIS_OK;
        for (int k = 0; k < 2 && qk < 0; k++) {
            s = g->nodes[madd].inputs[k];
            mask = g->nodes[madd].inputs[1 - k];
            if (!ais__ft_scores(f, s, &scl, &c, &qk)) qk = -1;
        }
    } else if (!ais__ft_scores(f, s, &scl, &c, &qk)) {
        return AIS_OK;
    }
    if (qk < 0 || (scl >= 0 && !ais__ft_private(f, s, 1))) return AIS_OK;
    int32_t mm1 = ais__ft_prod(f, qk, "MatMul");
    if (mm1 < 0 || !ais__ft_private(f, qk, 1) || !ais__ft_arity(&g->nodes[mm1], 2)) return AIS_OK;
    int32_t tq, tk, tk2 = -1, tv, to;
    int32_t q = ais__ft_transposed(f, g->nodes[mm1].inputs[0], bhsd, &tq);
    int32_t k = ais__ft_transposed(f, g->nodes[mm1].inputs[1], bhds, &tk);
    if (k < 0) { /* K^T written as a swap of the last two axes of the head-split K */
        int32_t kh = ais__ft_transposed(f, g->nodes[mm1].inputs[1], swap, &tk);
        k = kh < 0 ? -1 : ais__ft_transposed(f, kh, bhsd, &tk2);
    }
    int32_t pv = ais__ft_out(f, smx);
    int32_t mm2 = pv < 0 ? -1 : ais__ft_reader(f, pv, "MatMul");
    if (q < 0 || k < 0 || mm2 < 0 || !ais__ft_arity(&g->nodes[mm2], 2) ||
        g->nodes[mm2].inputs[0] != pv)
        return AIS_OK;
    int32_t v = ais__ft_transposed(f, g->nodes[mm2].inputs[1], bhsd, &tv);
    int32_t ov = ais__ft_out(f, mm2);
    to = ov < 0 ? -1 : ais__ft_reader(f, ov, "Transpose");
    if (v < 0 || to < 0 || !ais__ft_perm_is(&g->nodes[to], bhsd) || ais__ft_out(f, to) < 0)
        return AIS_OK;
    if (ais__ft_not_f32(f, q) || ais__ft_not_f32(f, k) || ais__ft_not_f32(f, v) ||
        (mask >= 0 && ais__ft_not_f32(f, mask)))
        return AIS_OK;
    ais_attrs *at = NULL;
    ais_status st = ais_attrs_create(&at);
    if (st == AIS_OK) st = ais_attrs_set_float(at, "scale", (float)c);
    if (st != AIS_OK) {
        ais_attrs_destroy(at);
        return st;
    }
    int32_t in[4] = {q, k, v, mask};
    AIS__CHECK(ais__ft_rewrite(f, to, "FusedAttention", at, in, mask >= 0 ? 4 : 3));
    int32_t drop[] = {tq, tk, tk2, mm1, scl, madd, smx, tv, mm2};
    ais__ft_drop(f, drop, AIS__ARRAY_LEN(drop));
    *fused = true;
    return AIS_OK;
}

/* ---- the pass ---- */

static void ais__ft_compact(ais__ft *f) {
    ais__model_drop_nodes(f->m, f->gone, f->readers, f->g->n_values);
}

ais_status ais__graph_fuse_transformer(ais_model *m, size_t counts[AIS__FT_N]) {
    ais__ft f = {.m = m, .g = m->graph};
    ais_status st = AIS_OK;
    size_t n = f.g->n_nodes;
    if (counts) memset(counts, 0, AIS__FT_N * sizeof *counts);
    if (n == 0) return AIS_OK;
    f.readers = ais__calloc(f.g->n_values ? f.g->n_values : 1, sizeof *f.readers);
    f.reader = ais__malloc((f.g->n_values ? f.g->n_values : 1) * sizeof *f.reader);
    f.gone = ais__calloc(n, sizeof *f.gone);
    if (!f.readers || !f.reader || !f.gone) {
        st = ais__oom(f.g->n_values * sizeof *f.readers + n, "transformer fusion");
        goto done;
    }
    for (size_t v = 0; v < f.g->n_values; v++)
        f.reader[v] = -1;
    ais__ft_count_readers(&f);
    bool any = false;
    /* Gelu first (its Add(1) must not look like a LayerNorm's), then BiasGelu on the Gelus. */
    for (int pass = 0; pass < 3; pass++) {
        for (size_t i = 0; i < n && st == AIS_OK; i++) {
            if (f.gone[i]) continue;
            const ais__node *nd = &f.g->nodes[i];
            bool fused = false, dflt = ais__ft_default_domain(nd->domain);
            int kind = -1;
            if (pass == 0 && dflt && strcmp(nd->op_type, "Erf") == 0) {
                st = ais__ft_gelu_erf(&f, (int32_t)i, &fused);
                kind = AIS__FT_GELU;
            } else if (pass == 0 && dflt && strcmp(nd->op_type, "Tanh") == 0) {
                st = ais__ft_gelu_tanh(&f, (int32_t)i, &fused);
                kind = AIS__FT_GELU;
            } else if (pass == 1 && !m->load_for_cuda && strcmp(nd->op_type, "Gelu") == 0) {
                st = ais__ft_bias_gelu(&f, (int32_t)i, &fused);
                kind = AIS__FT_BIAS_GELU;
            } else if (pass == 2 && dflt && strcmp(nd->op_type, "Div") == 0) {
                st = ais__ft_layernorm(&f, (int32_t)i, &fused);
                kind = AIS__FT_LAYERNORM;
            } else if (pass == 2 && dflt && !m->load_for_cuda &&
                       strcmp(nd->op_type, "Softmax") == 0) {
                st = ais__ft_attention(&f, (int32_t)i, &fused);
                kind = AIS__FT_ATTENTION;
            }
            if (fused) {
                any = true;
                f.counts[kind]++;
            }
        }
    }
    if (st == AIS_OK && any) ais__ft_compact(&f);
    if (counts) memcpy(counts, f.counts, sizeof f.counts);
done:
    ais__free(f.readers);
    ais__free(f.reader);
    ais__free(f.gone);
    return st;
}
