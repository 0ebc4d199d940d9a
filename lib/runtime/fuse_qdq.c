/*
 * fuse_qdq.c - the optimization level 2 pass for QDQ models (issue 18 item 2): ONNX Runtime's
 * quantize_static with QuantFormat.QDQ writes each quantized layer as DequantizeLinear on its
 * 8-bit inputs, the float operator, and QuantizeLinear on its output. Run as written, every layer
 * dequantizes, computes in float and quantizes again. This pass turns each such group into the
 * integer operator, so activations stay 8-bit between fused layers:
 *
 *   DQ(x), DQ(const w)[, DQ(const int32 b) | const f32 b] -> Conv [-> Relu | Clip] -> Q
 *                                                   -> QLinearConv
 *   DQ(a), DQ(b) -> MatMul -> Q                     -> QLinearMatMul
 *   DQ(a), DQ(const b)[, bias] -> Gemm [-> Q]        -> com.microsoft QGemm (float out without Q)
 *   DQ(a), DQ(b) -> Add | Mul -> Q                  -> com.microsoft QLinearAdd | QLinearMul
 *   DQ(x) -> Sigmoid | GlobalAveragePool -> Q       -> com.microsoft QLinearSigmoid |
 *                                                      QLinearGlobalAveragePool
 *   DQ(x1), DQ(x2), ... -> Concat -> Q              -> com.microsoft QLinearConcat
 *   DQ(x) -> MaxPool | Reshape | Flatten | Transpose | Squeeze | Unsqueeze -> Q, the Q with the
 *            DQ's scale and zero point              -> the operator on the 8-bit tensor
 *   MatMulInteger(a, const B, a_zp, b_zp) -> Cast -> Mul(Mul(a_scale, const b_scale))
 *            [-> Add(const bias)]                 -> com.microsoft MatMulIntegerToFloat
 *            (quantize_dynamic's products; see ais__qf_dynq)
 *
 * Depthwise convolutions fuse only where lib/cpu's table has the integer depthwise kernel (see
 * ais__qf_conv).
 *
 * The validity rules are ONNX Runtime's QDQ selectors' (qdq_selectors.cc), restated: scales
 * and zero points are constants, activations per tensor (one scale), weights per tensor or per
 * output channel (Conv axis 0; MatMul/Gemm per column of B); every input of the operator comes
 * from a DequantizeLinear; the operator's output is read only by the one QuantizeLinear (or, for
 * Conv/MatMul/Gemm, by a Relu/Clip that the Q makes redundant: a Relu when the Q's zero point is
 * the type's minimum, a Clip whose bounds hold the Q's whole range) and is no graph output; the
 * input and output 8-bit types agree, and a signed activation needs signed weights; 16- and
 * 4-bit types stay unfused (the integer operators are 8-bit). A DequantizeLinear read by several
 * operators feeds each fused one its 8-bit input (as ORT's unique-DQ duplication does) and goes
 * once nothing reads its float output.
 *
 * Numerics: the fused operators requantize the exact int32 sum once (round half to even), where
 * the unfused graph rounds the float products and sums first: an output on a rounding boundary
 * can land one quantization step apart, as with ORT's own fused kernels. A float bias is
 * quantized to int32 with the scale x_scale * w_scale, as ORT's quantizer does.
 *
 * model.c keeps the DequantizeLinear nodes of constant weights from being folded to float
 * before this pass (AIS_OPT_QDQ_FUSION on), then folds those that no fused group took. A model
 * loaded for the CUDA backend is left alone: the GPU backend has no integer kernels, and every
 * fused node would run on the host with copies.
 */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "cpu/cpu.h"
#include "model.h"

typedef struct ais__qf {
    ais_model *m;
    ais__graph *g;
    uint32_t *readers; /* per value: input slots of live nodes reading it (kept up to date) */
    int32_t *reader;   /* per value: a live node that reads it (exact when readers[v] == 1) */
    bool *gone;        /* per node */
    size_t n_values;   /* values that readers/reader cover (new constants come after) */
    size_t counts[AIS__QDQ_N];
} ais__qf;

/* The quantization of one DequantizeLinear input or QuantizeLinear output. */
typedef struct ais__qp {
    int32_t node;  /* the Q or DQ node */
    int32_t q;     /* the 8-bit (or int32 bias) value: DQ's input, Q's output */
    int32_t scale; /* constant f32 */
    int32_t zp;    /* constant of the quantized type, or -1 (absent: 0, u8 for Q) */
    ais_dtype type;
    size_t n;     /* scale elements: 1 per tensor */
    int64_t axis; /* DQ's axis attribute (default 1), as written */
} ais__qp;

static bool ais__qf_default_domain(const char *d) {
    return !d || !d[0] || strcmp(d, "ai.onnx") == 0;
}

static void ais__qf_reads(ais__qf *f, int32_t i, int delta) {
    const ais__node *n = &f->g->nodes[i];
    for (size_t k = 0; k < n->n_inputs; k++) {
        int32_t v = n->inputs[k];
        if (v < 0 || (size_t)v >= f->n_values) continue;
        f->readers[v] = (uint32_t)((int64_t)f->readers[v] + delta);
        if (delta > 0) f->reader[v] = i;
    }
}

static size_t ais__qf_n_out(const ais__node *n) {
    size_t k = n->n_outputs;
    while (k > 0 && n->outputs[k - 1] < 0)
        k--;
    return k;
}

static size_t ais__qf_n_in(const ais__node *n) {
    size_t k = n->n_inputs;
    while (k > 0 && n->inputs[k - 1] < 0)
        k--;
    return k;
}

static const ais_tensor *ais__qf_const(const ais__qf *f, int32_t v) {
    if (v < 0) return NULL;
    const ais__value *val = &f->g->values[v];
    if (!(val->flags & AIS__VALUE_CONST) || (val->flags & AIS__VALUE_INPUT)) return NULL;
    return val->constant;
}

static bool ais__qf_is8(ais_dtype d) { return d == AIS_DTYPE_U8 || d == AIS_DTYPE_I8; }

/* v's one reader when it has exactly one and is no graph output, else -1. */
static int32_t ais__qf_sole_reader(const ais__qf *f, int32_t v) {
    if (v < 0 || (size_t)v >= f->n_values || f->readers[v] != 1 ||
        (f->g->values[v].flags & AIS__VALUE_OUTPUT))
        return -1;
    int32_t r = f->reader[v];
    return r >= 0 && !f->gone[r] ? r : -1;
}

/* Scale and zero point of node nd's inputs 1 and 2: constant, f32 scale, matching element
 * counts, the zero point's type 8-bit (or int32 when int32_ok). */
static bool ais__qf_params(const ais__qf *f, const ais__node *nd, bool int32_ok, ais__qp *p) {
    size_t n_in = ais__qf_n_in(nd);
    if (n_in < 2 || n_in > 3 || ais__qf_n_out(nd) != 1 || nd->inputs[0] < 0) return false;
    const ais_tensor *s = ais__qf_const(f, nd->inputs[1]);
    const ais_tensor *z = n_in > 2 ? ais__qf_const(f, nd->inputs[2]) : NULL;
    if (!s || s->dtype != AIS_DTYPE_F32 || s->numel == 0 || s->ndim > 1) return false;
    if (n_in > 2 && (!z || z->numel != s->numel || z->ndim != s->ndim)) return false;
    /* blocked quantization (opset 21) and output_dtype are not what the operators take */
    if (ais__attr_int(nd->attrs, "block_size", 0) != 0 ||
        ais__attr_int(nd->attrs, "output_dtype", 0) != 0)
        return false;
    p->scale = nd->inputs[1];
    p->zp = n_in > 2 ? nd->inputs[2] : -1;
    p->type = z ? z->dtype : AIS_DTYPE_U8;
    p->n = s->numel;
    p->axis = ais__attr_int(nd->attrs, "axis", 1);
    if (!(ais__qf_is8(p->type) || (int32_ok && p->type == AIS_DTYPE_I32))) return false;
    for (size_t k = 0; k < s->numel; k++) {
        float sc = ((const float *)s->data)[k];
        if (!(sc > 0) || !isfinite(sc)) return false; /* ORT: positive scales */
    }
    return true;
}

/* Input value v is the output of a live DequantizeLinear: fills p (p->q its quantized input). */
static bool ais__qf_dq(const ais__qf *f, int32_t v, bool int32_ok, ais__qp *p) {
    if (v < 0 || (size_t)v >= f->n_values) return false;
    int32_t d = f->g->values[v].producer;
    if (d < 0 || f->gone[d]) return false;
    const ais__node *nd = &f->g->nodes[d];
    if (strcmp(nd->op_type, "DequantizeLinear") != 0 || !ais__qf_default_domain(nd->domain) ||
        nd->outputs[0] != v || !ais__qf_params(f, nd, int32_ok, p))
        return false;
    /* the 8-bit input's type is the zero point's; without one it cannot be told here */
    if (p->zp < 0) return false;
    p->node = d;
    p->q = nd->inputs[0];
    return true;
}

/* Value y's only reader is a QuantizeLinear per tensor: fills p (p->q its output). */
static bool ais__qf_q(const ais__qf *f, int32_t y, ais__qp *p) {
    int32_t r = ais__qf_sole_reader(f, y);
    if (r < 0) return false;
    const ais__node *nd = &f->g->nodes[r];
    if (strcmp(nd->op_type, "QuantizeLinear") != 0 || !ais__qf_default_domain(nd->domain) ||
        nd->inputs[0] != y || !ais__qf_params(f, nd, false, p) || p->n != 1 || p->zp < 0 ||
        ais__attr_int(nd->attrs, "saturate", 1) != 1)
        return false;
    p->node = r;
    p->q = nd->outputs[0];
    return p->q >= 0;
}

static double ais__qf_scale(const ais__qf *f, const ais__qp *p, size_t i) {
    return ((const float *)f->g->values[p->scale].constant->data)[p->n == 1 ? 0 : i];
}

static int32_t ais__qf_zp(const ais__qf *f, const ais__qp *p, size_t i) {
    if (p->zp < 0) return 0;
    const ais_tensor *z = f->g->values[p->zp].constant;
    size_t k = p->n == 1 ? 0 : i;
    if (z->dtype == AIS_DTYPE_U8) return ((const uint8_t *)z->data)[k];
    if (z->dtype == AIS_DTYPE_I8) return ((const int8_t *)z->data)[k];
    return ((const int32_t *)z->data)[k];
}

/* Both per tensor with equal scale and zero point values. */
static bool ais__qf_same(const ais__qf *f, const ais__qp *a, const ais__qp *b) {
    return a->n == 1 && b->n == 1 && a->type == b->type &&
           ais__qf_scale(f, a, 0) == ais__qf_scale(f, b, 0) &&
           ais__qf_zp(f, a, 0) == ais__qf_zp(f, b, 0);
}

/* A Relu or Clip at node r that QuantizeLinear q makes redundant (ORT's
 * IsClipMadeRedundantByQ): Relu when the zero point is the type's minimum; Clip when its bounds
 * (constants) hold the range the Q can represent. */
static bool ais__qf_redundant_act(const ais__qf *f, int32_t r, const ais__qp *q) {
    const ais__node *a = &f->g->nodes[r];
    if (!ais__qf_default_domain(a->domain) || ais__qf_n_out(a) != 1) return false;
    int32_t qmin = q->type == AIS_DTYPE_U8 ? 0 : -128, qmax = q->type == AIS_DTYPE_U8 ? 255 : 127;
    int32_t zp = ais__qf_zp(f, q, 0);
    if (strcmp(a->op_type, "Relu") == 0) return zp == qmin;
    if (strcmp(a->op_type, "Clip") != 0) return false;
    float lo = -INFINITY, hi = INFINITY;
    if (f->m->opsets[r] < 11) {
        lo = ais__attr_float(a->attrs, "min", -INFINITY);
        hi = ais__attr_float(a->attrs, "max", INFINITY);
    } else {
        for (size_t k = 1; k < 3 && k < a->n_inputs; k++) {
            if (a->inputs[k] < 0) continue;
            const ais_tensor *t = ais__qf_const(f, a->inputs[k]);
            if (!t || t->numel != 1 || t->dtype != AIS_DTYPE_F32) return false;
            *(k == 1 ? &lo : &hi) = ((const float *)t->data)[0];
        }
    }
    float s = (float)ais__qf_scale(f, q, 0);
    /* every float the Q maps inside [qmin, qmax] unclipped: what Clip cuts the Q saturates */
    return lo <= s * (float)(qmin - zp) && hi >= s * (float)(qmax - zp);
}

/* The output value of node i, and the QuantizeLinear after it, possibly through a redundant
 * Relu/Clip (*act, else -1) when act_ok. */
static bool ais__qf_out_q(const ais__qf *f, int32_t i, bool act_ok, ais__qp *q, int32_t *act) {
    const ais__node *n = &f->g->nodes[i];
    *act = -1;
    if (ais__qf_n_out(n) != 1 || n->outputs[0] < 0) return false;
    int32_t y = n->outputs[0];
    if (ais__qf_q(f, y, q)) return true;
    int32_t r = ais__qf_sole_reader(f, y);
    if (!act_ok || r < 0 || f->g->nodes[r].inputs[0] != y || ais__qf_n_out(&f->g->nodes[r]) != 1)
        return false;
    if (!ais__qf_q(f, f->g->nodes[r].outputs[0], q) || !ais__qf_redundant_act(f, r, q))
        return false;
    *act = r;
    return true;
}

/* A new constant value named after node i. */
static ais_status ais__qf_new_const(ais__qf *f, int32_t i, const char *what, ais_tensor *t,
                                    int32_t *index) {
    char name[256];
    const ais__node *n = &f->g->nodes[i];
    snprintf(name, sizeof name, "%s.qdq_%s.%d", n->name ? n->name : "node", what, (int)n->index);
    if (ais__graph_find(f->g, name) >= 0) {
        ais_tensor_destroy(t);
        return ais__error(AIS_E_INTERNAL, "value %s exists already", name);
    }
    ais_status st = ais__graph_value(f->g, name, index);
    if (st != AIS_OK) {
        ais_tensor_destroy(t);
        return st;
    }
    f->m->weight_bytes += t->nbytes;
    return ais__graph_set_constant(f->g, *index, t);
}

/*
 * The int32 bias of an integer Conv/Gemm with n output channels whose accumulator has scale
 * alpha * x_scale * w_scale[c]: the DQ'd int32 constant itself when its scale is that product
 * (as ORT's quantizer writes it) and its zero point 0, else the float bias (a DQ'd constant or
 * an f32 constant) quantized to it. *b = -1 without bias; false when it cannot be done.
 */
static bool ais__qf_bias(ais__qf *f, int32_t i, int32_t v, const ais__qp *x, const ais__qp *w,
                         size_t n, float alpha, int32_t *b, int32_t *dq, ais_status *st) {
    *b = -1;
    *dq = -1;
    if (v < 0) return true;
    ais__qp bp;
    const ais_tensor *src = NULL;
    bool is_dq = ais__qf_dq(f, v, true, &bp);
    if (is_dq) {
        src = ais__qf_const(f, bp.q);
        if (!src || src->dtype != AIS_DTYPE_I32 || bp.type != AIS_DTYPE_I32) return false;
        if (bp.n != 1 && bp.n != n) return false;
    } else {
        src = ais__qf_const(f, v);
        if (!src || src->dtype != AIS_DTYPE_F32) return false;
    }
    if (src->numel != n || src->ndim != 1) return false;
    bool exact = is_dq;
    for (size_t c = 0; exact && c < n; c++) {
        float want = alpha * (float)ais__qf_scale(f, x, 0) * (float)ais__qf_scale(f, w, c);
        exact = (float)ais__qf_scale(f, &bp, c) == want && ais__qf_zp(f, &bp, c) == 0;
    }
    if (is_dq) *dq = bp.node;
    if (exact) {
        *b = bp.q;
        return true;
    }
    int64_t len = (int64_t)n;
    ais_tensor *t = NULL;
    if ((*st = ais_tensor_create(AIS_DTYPE_I32, &len, 1, &t)) != AIS_OK) return false;
    for (size_t c = 0; c < n; c++) {
        double fb = is_dq ? ((double)((const int32_t *)src->data)[c] - ais__qf_zp(f, &bp, c)) *
                                ais__qf_scale(f, &bp, c)
                          : (double)((const float *)src->data)[c];
        double s = (double)(alpha * (float)ais__qf_scale(f, x, 0) * (float)ais__qf_scale(f, w, c));
        double r = nearbyint(fb / s);
        if (!(fabs(r) < 2147483647.0)) {
            ais_tensor_destroy(t);
            return false;
        }
        ((int32_t *)t->data)[c] = (int32_t)r;
    }
    *st = ais__qf_new_const(f, i, "bias", t, b);
    return *st == AIS_OK;
}

/* Rewrites node i as domain/op_type with these inputs and attributes (taken, also on failure;
 * NULL keeps the node's own) writing value y; the nodes in drop[] go, and DequantizeLinear nodes
 * in dqs[] go once nothing reads their output. */
static ais_status ais__qf_rewrite(ais__qf *f, int32_t i, const char *domain, const char *op_type,
                                  ais_attrs *attrs, const int32_t *inputs, size_t n_inputs,
                                  int32_t y, const int32_t *drop, size_t n_drop, const int32_t *dqs,
                                  size_t n_dqs) {
    ais__graph *g = f->g;
    ais__qf_reads(f, i, -1);
    ais_status st = ais__model_retype_node(f->m, i, domain, op_type, inputs, n_inputs);
    ais__qf_reads(f, i, +1);
    if (st != AIS_OK) {
        ais_attrs_destroy(attrs);
        return st;
    }
    ais__node *n = &g->nodes[i];
    if (attrs) {
        ais_attrs_destroy(n->attrs);
        n->attrs = attrs;
    }
    for (size_t k = 0; k < n_drop; k++) {
        if (drop[k] < 0 || f->gone[drop[k]]) continue;
        ais__qf_reads(f, drop[k], -1);
        f->gone[drop[k]] = true;
    }
    /* the node now writes the Q's output */
    g->values[n->outputs[0]].producer = -1;
    n->outputs[0] = y;
    g->values[y].producer = i;
    for (size_t k = 0; k < n_dqs; k++) {
        int32_t d = dqs[k];
        if (d < 0 || f->gone[d]) continue;
        int32_t o = g->nodes[d].outputs[0];
        if (f->readers[o] == 0 && !(g->values[o].flags & AIS__VALUE_OUTPUT)) {
            ais__qf_reads(f, d, -1);
            f->gone[d] = true;
        }
    }
    return AIS_OK;
}

/* Types of an integer matrix product or convolution: activation in == out, and a signed
 * activation only with signed weights (ORT's rule; its kernels are u8*s8, u8*u8 and s8*s8). */
static bool ais__qf_mm_types(const ais__qp *x, const ais__qp *w, const ais__qp *y) {
    if (!ais__qf_is8(x->type) || !ais__qf_is8(w->type)) return false;
    if (y && y->type != x->type) return false;
    return x->type != AIS_DTYPE_I8 || w->type == AIS_DTYPE_I8;
}

static ais_status ais__qf_conv(ais__qf *f, int32_t i, bool *fused) {
    const ais__node *n = &f->g->nodes[i];
    size_t n_in = ais__qf_n_in(n);
    ais__qp x, w, y;
    int32_t act;
    if (n_in < 2 || n_in > 3 || !ais__qf_dq(f, n->inputs[0], false, &x) || x.n != 1 ||
        !ais__qf_dq(f, n->inputs[1], false, &w) || !ais__qf_out_q(f, i, true, &y, &act) ||
        !ais__qf_mm_types(&x, &w, &y))
        return AIS_OK;
    const ais_tensor *wt = ais__qf_const(f, w.q);
    if (!wt || wt->ndim < 3 || wt->dims[0] <= 0) return AIS_OK;
    /* Depthwise (one input channel per group) fuses where the kernel table has the integer
     * depthwise plane (qdw_plane: AVX-512); elsewhere QLinearConv would run it on the float
     * kernel between conversions, which cost more than the float kernel between the DQ and the
     * Q (bench/README.md, "int8"). ORT fuses them; outputs stay within its spread. */
    if (ais__attr_int(n->attrs, "group", 1) > 1 && wt->dims[1] == 1 && !ais__cpu()->qdw_plane)
        return AIS_OK;
    size_t m = (size_t)wt->dims[0];
    int64_t ax;
    if (w.n != 1 && (w.n != m || !ais__norm_axis(w.axis, (int64_t)wt->ndim, &ax) || ax != 0))
        return AIS_OK;
    int32_t b, bdq;
    ais_status st = AIS_OK;
    if (!ais__qf_bias(f, i, n_in > 2 ? n->inputs[2] : -1, &x, &w, m, 1.0f, &b, &bdq, &st))
        return st;
    int32_t in[9] = {x.q, x.scale, x.zp, w.q, w.scale, w.zp, y.scale, y.zp, b};
    int32_t drop[2] = {y.node, act}, dqs[3] = {x.node, w.node, bdq};
    AIS__CHECK(
        ais__qf_rewrite(f, i, "", "QLinearConv", NULL, in, b >= 0 ? 9 : 8, y.q, drop, 2, dqs, 3));
    *fused = true;
    return AIS_OK;
}

static ais_status ais__qf_matmul(ais__qf *f, int32_t i, bool *fused) {
    const ais__node *n = &f->g->nodes[i];
    ais__qp a, b, y;
    int32_t act;
    if (ais__qf_n_in(n) != 2 || !ais__qf_dq(f, n->inputs[0], false, &a) || a.n != 1 ||
        !ais__qf_dq(f, n->inputs[1], false, &b) || !ais__qf_out_q(f, i, true, &y, &act) ||
        !ais__qf_mm_types(&a, &b, &y))
        return AIS_OK;
    if (b.n != 1) { /* per column of a constant [K, N] B */
        const ais_tensor *bt = ais__qf_const(f, b.q);
        int64_t ax;
        if (!bt || bt->ndim != 2 || (size_t)bt->dims[1] != b.n || !ais__norm_axis(b.axis, 2, &ax) ||
            ax != 1)
            return AIS_OK;
    }
    int32_t in[8] = {a.q, a.scale, a.zp, b.q, b.scale, b.zp, y.scale, y.zp};
    int32_t drop[2] = {y.node, act}, dqs[2] = {a.node, b.node};
    AIS__CHECK(ais__qf_rewrite(f, i, "", "QLinearMatMul", NULL, in, 8, y.q, drop, 2, dqs, 2));
    *fused = true;
    return AIS_OK;
}

static ais_status ais__qf_gemm(ais__qf *f, int32_t i, bool *fused) {
    const ais__node *n = &f->g->nodes[i];
    size_t n_in = ais__qf_n_in(n);
    ais__qp a, b, y;
    int32_t act = -1;
    if (n_in < 2 || n_in > 3 || ais__qf_n_out(n) != 1 || !ais__qf_dq(f, n->inputs[0], false, &a) ||
        a.n != 1 || !ais__qf_dq(f, n->inputs[1], false, &b))
        return AIS_OK;
    /* without a Q after it, QGemm writes float (ORT's selector allows that for Gemm) */
    bool quant_out = ais__qf_out_q(f, i, true, &y, &act);
    if (!ais__qf_mm_types(&a, &b, quant_out ? &y : NULL)) return AIS_OK;
    const ais_tensor *bt = ais__qf_const(f, b.q);
    int64_t trans_b = ais__attr_int(n->attrs, "transB", 0);
    float alpha = ais__attr_float(n->attrs, "alpha", 1.0f);
    if (!bt || bt->ndim != 2 || !(alpha > 0)) return AIS_OK;
    size_t nn = (size_t)bt->dims[trans_b ? 0 : 1];
    int64_t ax;
    if (b.n != 1 && (b.n != nn || !ais__norm_axis(b.axis, 2, &ax) || ax != (trans_b ? 0 : 1)))
        return AIS_OK;
    if (n_in > 2 && ais__attr_float(n->attrs, "beta", 1.0f) != 1.0f) return AIS_OK;
    int32_t c, cdq;
    ais_status st = AIS_OK;
    if (!ais__qf_bias(f, i, n_in > 2 ? n->inputs[2] : -1, &a, &b, nn, alpha, &c, &cdq, &st))
        return st;
    ais_attrs *at = NULL;
    AIS__CHECK(ais_attrs_create(&at));
    if ((st = ais_attrs_set_int(at, "transA", ais__attr_int(n->attrs, "transA", 0))) != AIS_OK ||
        (st = ais_attrs_set_int(at, "transB", trans_b)) != AIS_OK ||
        (st = ais_attrs_set_float(at, "alpha", alpha)) != AIS_OK) {
        ais_attrs_destroy(at);
        return st;
    }
    int32_t in[9] = {a.q, a.scale, a.zp, b.q, b.scale, b.zp, c, -1, -1};
    if (quant_out) {
        in[7] = y.scale;
        in[8] = y.zp;
    }
    int32_t drop[2] = {quant_out ? y.node : -1, act}, dqs[3] = {a.node, b.node, cdq};
    AIS__CHECK(ais__qf_rewrite(f, i, "com.microsoft", "QGemm", at, in,
                               quant_out ? 9
                               : c >= 0  ? 7
                                         : 6,
                               quant_out ? y.q : n->outputs[0], drop, 2, dqs, 3));
    *fused = true;
    return AIS_OK;
}

/* Add, Mul, Sigmoid, GlobalAveragePool, Concat: every input DQ'd per tensor, one type. */
static ais_status ais__qf_elementwise(ais__qf *f, int32_t i, const char *qop, bool *fused) {
    const ais__node *n = &f->g->nodes[i];
    size_t n_in = ais__qf_n_in(n);
    bool concat = strcmp(qop, "QLinearConcat") == 0;
    if (n_in == 0 || n_in > 64 || (!concat && n_in != n->n_inputs)) return AIS_OK;
    ais__qp x[64], y;
    int32_t act;
    for (size_t k = 0; k < n_in; k++)
        if (!ais__qf_dq(f, n->inputs[k], false, &x[k]) || x[k].n != 1 || x[k].type != x[0].type)
            return AIS_OK;
    if (!ais__qf_out_q(f, i, false, &y, &act) || y.type != x[0].type) return AIS_OK;
    int32_t in[2 + 3 * 64], dqs[64];
    size_t m = 0;
    ais_attrs *at = NULL;
    if (concat) {
        in[m++] = y.scale;
        in[m++] = y.zp;
    }
    for (size_t k = 0; k < n_in; k++) {
        in[m++] = x[k].q;
        in[m++] = x[k].scale;
        in[m++] = x[k].zp;
        dqs[k] = x[k].node;
    }
    if (!concat) {
        in[m++] = y.scale;
        in[m++] = y.zp;
    }
    if (strcmp(qop, "QLinearGlobalAveragePool") == 0) {
        AIS__CHECK(ais_attrs_create(&at));
        ais_status st = ais_attrs_set_int(at, "channels_last", 0);
        if (st != AIS_OK) {
            ais_attrs_destroy(at);
            return st;
        }
    }
    AIS__CHECK(ais__qf_rewrite(f, i, "com.microsoft", qop, at, in, m, y.q, &y.node, 1, dqs, n_in));
    *fused = true;
    return AIS_OK;
}

/* DQ -> data movement -> Q with the same quantization: the operator on the 8-bit tensor. */
static ais_status ais__qf_drop_pair(ais__qf *f, int32_t i, bool *fused) {
    const ais__node *n = &f->g->nodes[i];
    ais__qp x, y;
    int32_t act;
    if (ais__qf_n_out(n) != 1 || !ais__qf_dq(f, n->inputs[0], false, &x) ||
        !ais__qf_out_q(f, i, false, &y, &act) || !ais__qf_same(f, &x, &y))
        return AIS_OK;
    /* only input 0 is data; shapes, axes and perms are not DQ'd */
    for (size_t k = 1; k < n->n_inputs; k++) {
        ais__qp o;
        if (ais__qf_dq(f, n->inputs[k], true, &o)) return AIS_OK;
    }
    /* 8-bit MaxPool came with opset 12 */
    if (strcmp(n->op_type, "MaxPool") == 0 && f->m->opsets[i] < 12) return AIS_OK;
    int32_t in[8];
    size_t n_in = n->n_inputs < 8 ? n->n_inputs : 8;
    if (n->n_inputs > 8) return AIS_OK;
    memcpy(in, n->inputs, n_in * sizeof *in);
    in[0] = x.q;
    char op[32];
    snprintf(op, sizeof op, "%s", n->op_type);
    AIS__CHECK(ais__qf_rewrite(f, i, "", op, NULL, in, n_in, y.q, &y.node, 1, &x.node, 1));
    *fused = true;
    return AIS_OK;
}

/* An 8-bit activation's scale or zero point for the fused product (a per-tensor constant, or
 * output k of node src: the DynamicQuantizeLinear that makes A, so it is ready where the product
 * runs); -1 when absent is allowed (the zero point). */
static bool ais__qf_act_param(const ais__qf *f, int32_t v, int32_t src, size_t k, bool absent_ok) {
    if (v < 0) return absent_ok;
    const ais_tensor *c = ais__qf_const(f, v);
    if (c) return c->numel == 1;
    return src >= 0 && (size_t)v < f->n_values && f->g->values[v].producer == src &&
           f->g->nodes[src].n_outputs > k && f->g->nodes[src].outputs[k] == v;
}

/* The other input of a two-input node of the default domain that reads v, and v's slot. */
static int32_t ais__qf_other(const ais__qf *f, int32_t r, const char *op, int32_t v) {
    const ais__node *n = &f->g->nodes[r];
    if (strcmp(n->op_type, op) != 0 || !ais__qf_default_domain(n->domain) || n->n_inputs != 2 ||
        ais__qf_n_out(n) != 1)
        return -1;
    if (n->inputs[0] == v && n->inputs[1] != v) return n->inputs[1];
    if (n->inputs[1] == v && n->inputs[0] != v) return n->inputs[0];
    return -1;
}

/*
 * What ONNX Runtime's quantize_dynamic writes for a MatMul with constant weights:
 *
 *   DynamicQuantizeLinear(x) -> (a, a_scale, a_zp)
 *   MatMulInteger(a, const B [K, N], a_zp, const b_zp) -> Cast(to float)
 *       -> Mul(., Mul(a_scale, const b_scale)) [-> Add(const bias [N])]
 *   -> com.microsoft MatMulIntegerToFloat(a, B, a_scale, b_scale, a_zp, b_zp, bias)
 *
 * as ORT's MatMulIntegerToFloatFusion: the int32 sum is converted and scaled in the GEMM's store
 * instead of three passes over the [M, N] output. The DynamicQuantizeLinear stays: several
 * products may read one quantized activation (a MiniLM's Q, K and V), quantized once. The float
 * arithmetic is the graph's (one product of the two scales, then sum * scale + bias), so the
 * output is the unfused one's bit for bit.
 */
static ais_status ais__qf_dynq(ais__qf *f, int32_t i, bool *fused) {
    const ais__node *n = &f->g->nodes[i];
    size_t n_in = ais__qf_n_in(n);
    if (n_in < 2 || ais__qf_n_out(n) != 1) return AIS_OK;
    int32_t a = n->inputs[0], az = n_in > 2 ? n->inputs[2] : -1, bz = n_in > 3 ? n->inputs[3] : -1;
    const ais_tensor *b = ais__qf_const(f, n->inputs[1]);
    if (a < 0 || (size_t)a >= f->n_values || !b || !ais__qf_is8(b->dtype) || b->ndim != 2)
        return AIS_OK;
    size_t nn = (size_t)b->dims[1];
    const ais_tensor *bzt = bz >= 0 ? ais__qf_const(f, bz) : NULL;
    if (bz >= 0 && (!bzt || bzt->ndim > 1 || (bzt->numel != 1 && bzt->numel != nn))) return AIS_OK;
    int32_t src = f->g->values[a].producer;
    if (!ais__qf_act_param(f, az, src, 2, true)) return AIS_OK;
    /* MatMulInteger -> Cast(to float) -> Mul(., scale) */
    int32_t cast = ais__qf_sole_reader(f, n->outputs[0]);
    if (cast < 0) return AIS_OK;
    const ais__node *c = &f->g->nodes[cast];
    if (strcmp(c->op_type, "Cast") != 0 || !ais__qf_default_domain(c->domain) ||
        c->inputs[0] != n->outputs[0] || ais__qf_n_out(c) != 1 ||
        ais__attr_int(c->attrs, "to", 0) != 1 /* FLOAT */)
        return AIS_OK;
    int32_t mul = ais__qf_sole_reader(f, c->outputs[0]);
    int32_t s = mul >= 0 ? ais__qf_other(f, mul, "Mul", c->outputs[0]) : -1;
    if (s < 0 || (size_t)s >= f->n_values) return AIS_OK;
    /* the scale: Mul(a_scale, b_scale), a_scale A's, b_scale a constant per tensor or column */
    int32_t sm = f->g->values[s].producer;
    if (sm < 0 || f->gone[sm]) return AIS_OK;
    const ais__node *smn = &f->g->nodes[sm];
    if (strcmp(smn->op_type, "Mul") != 0 || !ais__qf_default_domain(smn->domain) ||
        smn->n_inputs != 2 || ais__qf_n_out(smn) != 1)
        return AIS_OK;
    int32_t as = -1, bs = -1;
    for (int k = 0; k < 2 && as < 0; k++) {
        const ais_tensor *t = ais__qf_const(f, smn->inputs[1 - k]);
        if (ais__qf_act_param(f, smn->inputs[k], src, 1, false) && t && t->dtype == AIS_DTYPE_F32 &&
            t->ndim <= 1 && (t->numel == 1 || t->numel == nn) && (!bzt || bzt->numel == t->numel)) {
            as = smn->inputs[k];
            bs = smn->inputs[1 - k];
        }
    }
    const ais_tensor *ast = as >= 0 ? ais__qf_const(f, as) : NULL;
    if (as < 0 || (ast && ast->dtype != AIS_DTYPE_F32)) return AIS_OK;
    /* [-> Add(bias)] */
    int32_t y = f->g->nodes[mul].outputs[0], add = ais__qf_sole_reader(f, y), bias = -1;
    if (add >= 0) {
        int32_t o = ais__qf_other(f, add, "Add", y);
        const ais_tensor *t = o >= 0 ? ais__qf_const(f, o) : NULL;
        if (t && t->dtype == AIS_DTYPE_F32 && t->ndim == 1 && t->numel == nn) bias = o;
    }
    if (bias < 0) add = -1;
    int32_t in[7] = {a, n->inputs[1], as, bs, az, bz, bias};
    size_t m = 7;
    while (m > 4 && in[m - 1] < 0)
        m--;
    int32_t drop[3] = {cast, mul, add};
    AIS__CHECK(ais__qf_rewrite(f, i, "com.microsoft", "MatMulIntegerToFloat", NULL, in, m,
                               add >= 0 ? f->g->nodes[add].outputs[0] : y, drop, 3, &sm, 1));
    *fused = true;
    return AIS_OK;
}

ais_status ais__graph_fuse_qdq(ais_model *m, size_t counts[AIS__QDQ_N]) {
    ais__qf f = {.m = m, .g = m->graph, .n_values = m->graph->n_values};
    ais_status st = AIS_OK;
    size_t n = f.g->n_nodes;
    if (counts) memset(counts, 0, AIS__QDQ_N * sizeof *counts);
    if (n == 0 || m->load_for_cuda) return AIS_OK;
    size_t nv = f.n_values ? f.n_values : 1;
    f.readers = ais__calloc(nv, sizeof *f.readers);
    f.reader = ais__malloc(nv * sizeof *f.reader);
    f.gone = ais__calloc(n, sizeof *f.gone);
    if (!f.readers || !f.reader || !f.gone) {
        st = ais__oom(nv * 8 + n, "QDQ fusion");
        goto done;
    }
    for (size_t v = 0; v < nv; v++)
        f.reader[v] = -1;
    for (size_t i = 0; i < n; i++)
        ais__qf_reads(&f, (int32_t)i, +1);
    bool any = false;
    for (size_t i = 0; i < n && st == AIS_OK; i++) {
        if (f.gone[i]) continue;
        const ais__node *nd = &f.g->nodes[i];
        if (!ais__qf_default_domain(nd->domain) || nd->n_inputs == 0) continue;
        const char *op = nd->op_type;
        bool fused = false;
        int kind = -1;
        if (strcmp(op, "Conv") == 0) {
            st = ais__qf_conv(&f, (int32_t)i, &fused);
            kind = AIS__QDQ_CONV;
        } else if (strcmp(op, "MatMul") == 0) {
            st = ais__qf_matmul(&f, (int32_t)i, &fused);
            kind = AIS__QDQ_MATMUL;
        } else if (strcmp(op, "Gemm") == 0) {
            st = ais__qf_gemm(&f, (int32_t)i, &fused);
            kind = AIS__QDQ_GEMM;
        } else if (strcmp(op, "Add") == 0 || strcmp(op, "Mul") == 0 || strcmp(op, "Sigmoid") == 0 ||
                   strcmp(op, "GlobalAveragePool") == 0 || strcmp(op, "Concat") == 0) {
            char qop[40];
            snprintf(qop, sizeof qop, "QLinear%s", op);
            st = ais__qf_elementwise(&f, (int32_t)i, qop, &fused);
            kind = AIS__QDQ_OTHER;
        } else if (strcmp(op, "MaxPool") == 0 || strcmp(op, "Reshape") == 0 ||
                   strcmp(op, "Flatten") == 0 || strcmp(op, "Transpose") == 0 ||
                   strcmp(op, "Squeeze") == 0 || strcmp(op, "Unsqueeze") == 0) {
            st = ais__qf_drop_pair(&f, (int32_t)i, &fused);
            kind = AIS__QDQ_DROPPED;
        } else if (strcmp(op, "MatMulInteger") == 0) {
            st = ais__qf_dynq(&f, (int32_t)i, &fused);
            kind = AIS__QDQ_DYNAMIC;
        }
        if (fused) {
            any = true;
            f.counts[kind]++;
        }
    }
    if (st == AIS_OK && any) ais__model_drop_nodes(m, f.gone, f.readers, f.n_values);
    if (counts) memcpy(counts, f.counts, sizeof f.counts);
done:
    ais__free(f.readers);
    ais__free(f.reader);
    ais__free(f.gone);
    return st;
}
