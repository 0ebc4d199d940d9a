/*
 * qlinear.c - the integer operators of ai.onnx: MatMulInteger (10), ConvInteger (10),
 * QLinearMatMul (10, 21) and QLinearConv (10), u8 and s8, following the ONNX specification and
 * onnx/reference/ops/op_{matmul_integer,conv_integer,qlinear_matmul,qlinear_conv}.py.
 *
 * The products run on lib/cpu's int8 GEMM (qlinear_gemm.h): constant weights packed once at
 * load by prepare, activations packed per call, the zero points and the requantization in the
 * GEMM's store; the convolutions as a GEMM of the weights [M, K] with 8-bit columns [K, P],
 * made and packed a block of 64 columns at a time inside the GEMM's tile loop (1x1
 * convolutions pack the input in place). The plain loops below stay for the forms the GEMM
 * path does not take (a per-row zero point or scale of A) and as the tests' reference; both give
 * the same values. Requantization follows the
 * reference: the int32 sum times (a_scale * b_scale / y_scale), the multiplier rounded to the
 * scales' type (f32 or f16) and the product taken in double (NumPy's int32 * float -> float64),
 * rounded half to even, plus the output zero point, saturated to the output type.
 *
 * Zero points and scales: a scalar (one element) or a vector as the specification allows -
 * per row of A and per column of B for the matrix products, per output channel for the
 * convolution weights.
 */
#include <math.h>
#include <string.h>

#include "dense_util.h"
#include "matmul.h"
#include "op.h"
#include "qlinear_gemm.h"

static inline int32_t ais__qi_at(const void *p, ais_dtype d, size_t i) {
    return d == AIS_DTYPE_U8 ? (int32_t)((const uint8_t *)p)[i] : (int32_t)((const int8_t *)p)[i];
}

/* a + b with two's-complement wrap-around: the specifications let int32 accumulation overflow,
 * which signed C arithmetic must not do. Each product of two 8-bit differences fits in int32. */
static inline int32_t ais__qi_add(int32_t a, int32_t b) {
    return (int32_t)((uint32_t)a + (uint32_t)b);
}

/* A zero point or scale read as a scalar (n == 1) or a vector of n values; absent: zero. */
typedef struct {
    const ais_tensor *t;
    size_t n;
} ais__qi_vec;

static inline int32_t ais__qi_zp(const ais__qi_vec *v, size_t i) {
    return v->t ? ais__qi_at(v->t->data, v->t->dtype, v->n == 1 ? 0 : i) : 0;
}

static inline double ais__qi_scale(const ais__qi_vec *v, size_t i) {
    return ais__load_f64(v->t->data, v->t->dtype, v->n == 1 ? 0 : i);
}

/* Checks that t (named what, may be NULL) has one element, or `n` elements in a vector (of rank
 * 1, or rank 2 with one extent 1 as [M, 1] or [1, N]) when per_ok; `along` names the axis. */
static ais_status ais__qi_vec_of(const ais_tensor *t, const char *what, size_t n, bool per_ok,
                                 const char *along, ais__qi_vec *v) {
    char s[AIS__SHAPE_STR_MAX];
    v->t = t;
    v->n = 1;
    if (!t) return AIS_OK;
    if (t->numel == 1 && t->ndim <= 2) return AIS_OK;
    bool vec = t->ndim == 1 || (t->ndim == 2 && (t->dims[0] == 1 || t->dims[1] == 1));
    if (per_ok && vec && t->numel == n) {
        v->n = n;
        return AIS_OK;
    }
    if (per_ok)
        return ais__error(AIS_E_SHAPE,
                          "%s must be a scalar or have %zu values (one per %s), got %s", what, n,
                          along, ais__shape_str(t->dims, t->ndim, s, sizeof s));
    return ais__error(AIS_E_SHAPE, "%s must be a scalar, got %s", what,
                      ais__shape_str(t->dims, t->ndim, s, sizeof s));
}

static ais_status ais__qi_expect8(const ais_tensor *t, const char *what) {
    return ais__expect_dtype(t, what, AIS_DTYPE_U8, AIS_DTYPE_I8, AIS_DTYPE_UNDEFINED);
}

static ais_status ais__qi_expect_scale(const ais__op_ctx *ctx, const ais_tensor *t,
                                       const char *what) {
    /* float16 scales came with QLinearMatMul-21; QLinearConv keeps float32 */
    if (ctx->opset >= 21 && strcmp(ctx->op_type, "QLinearMatMul") == 0)
        return ais__expect_dtype(t, what, AIS_DTYPE_F32, AIS_DTYPE_F16, AIS_DTYPE_BF16,
                                 AIS_DTYPE_UNDEFINED);
    return ais__expect_dtype(t, what, AIS_DTYPE_F32, AIS_DTYPE_UNDEFINED);
}

/* Rounds a multiplier to the scales' type, as NumPy's arithmetic on those arrays does. */
static double ais__qi_round_to(double v, ais_dtype d) {
    if (d == AIS_DTYPE_F32 || d == AIS_DTYPE_UNDEFINED) return (double)(float)v;
    uint16_t h;
    ais__store_f64(&h, d, 0, v);
    return ais__load_f64(&h, d, 0);
}

/* One requantized value: round half to even, add the zero point, saturate. */
static inline void ais__qi_store(void *y, ais_dtype d, size_t i, double v, int32_t zp) {
    double r = rint(v) + (double)zp;
    if (d == AIS_DTYPE_U8)
        ((uint8_t *)y)[i] = (uint8_t)(r < 0 ? 0 : r > 255 ? 255 : r);
    else
        ((int8_t *)y)[i] = (int8_t)(r < -128 ? -128 : r > 127 ? 127 : r);
}

/* Depthwise convolutions with at most this many taps take the direct path (ais__qi_conv_dw). */
#define AIS__QDW_TAPS 256

/* ---- weights packed at load ---- */

/* The state of every operator here: the packed constant weight, or NULL (packed per call). */
typedef struct {
    ais__qpack *pack;
} ais__qi_state;

static void ais__qi_release(void *vs) {
    ais__qi_state *st = vs;
    if (!st) return;
    ais__qpack_free(st->pack);
    ais__free(st);
}

static ais_status ais__qi_prepare_at(const ais__op_ctx *ctx, void **out, size_t wi, bool conv) {
    ais__qi_state *st = ais__calloc(1, sizeof *st);
    if (!st) return ais__oom(sizeof *st, "integer operator state");
    const ais_tensor *w = ctx->consts && ctx->n_consts > wi ? ctx->consts[wi] : NULL;
    /* a weight that cannot be packed (memory, odd shape) is packed per call instead */
    int64_t group = ais__attr_int(ctx->attrs, "group", 1);
    /* depthwise 1-D/2-D weights are read as they are (ais__qi_conv_dw): no GEMM panels */
    bool dw = conv && w && w->ndim >= 3 && w->ndim <= 4 && w->dims[1] == 1 && group > 1 &&
              w->dims[0] > 0 && (int64_t)w->numel / w->dims[0] <= AIS__QDW_TAPS;
    if (w && conv && !dw)
        st->pack = ais__qpack_conv_new(w, group);
    else if (w)
        st->pack = ais__qpack_b_new(w, false);
    *out = st;
    return AIS_OK;
}

/* The packed weight when in[wi] is still the tensor it was packed from. */
static const ais__qpack *ais__qi_pack(const ais__op_ctx *ctx, const ais_tensor *w) {
    const ais__qi_state *st = ctx->state;
    return st && st->pack && st->pack->src == w->data ? st->pack : NULL;
}

static ais_status ais__mmi_prepare(const ais__op_ctx *ctx, void **out) {
    return ais__qi_prepare_at(ctx, out, 1, false);
}
static ais_status ais__qlmm_prepare(const ais__op_ctx *ctx, void **out) {
    return ais__qi_prepare_at(ctx, out, 3, false);
}
static ais_status ais__ci_prepare(const ais__op_ctx *ctx, void **out) {
    return ais__qi_prepare_at(ctx, out, 1, true);
}
static ais_status ais__qlc_prepare(const ais__op_ctx *ctx, void **out) {
    return ais__qi_prepare_at(ctx, out, 3, true);
}

/* One batch of a matrix product on the GEMM: A [m, k] and B [k, n] row-major at the batch's
 * offsets, B packed (pack, a 2-D constant) or packed per call. */
static void ais__qi_mm_gemm(ais__op_ctx *ctx, const ais__cpu_kernels *t, const ais__mm_plan *p,
                            const ais_tensor *a, int64_t ia, int32_t za, const ais_tensor *b,
                            int64_t ib, const ais_tensor *zb, const ais__qpack *pack,
                            ais__qgemm_ep *ep, void *scratch) {
    ais__qmm q = {.a = (const uint8_t *)a->data + ia * p->m * p->k,
                  .a_signed = a->dtype == AIS_DTYPE_I8,
                  .ars = p->k,
                  .acs = 1,
                  .m = p->m,
                  .k = p->k,
                  .n = p->n,
                  .za = za,
                  .pb = pack ? &pack->b : NULL,
                  .b = (const uint8_t *)b->data + ib * p->k * p->n,
                  .b_signed = b->dtype == AIS_DTYPE_I8,
                  .brs = p->n,
                  .bcs = 1,
                  .zb = zb};
    ais__qmm_run(ctx->pool, t, &q, ep, scratch);
}

static inline size_t ais__qi_al(size_t n) { return (n + 63) & ~(size_t)63; }

/* ---- matrix products ---- */

/* The int32 product of one batch: c[i, j] = sum_k (a[i, k] - za(i)) * (b[k, j] - zb(j)). */
static void ais__qi_mm_one(const ais__mm_plan *p, const ais_tensor *a, int64_t ia,
                           const ais__qi_vec *za, const ais_tensor *b, int64_t ib,
                           const ais__qi_vec *zb, int32_t *c) {
    size_t m = (size_t)p->m, n = (size_t)p->n, k = (size_t)p->k;
    size_t ao = (size_t)ia * m * k, bo = (size_t)ib * k * n;
    for (size_t i = 0; i < m; i++) {
        int32_t zai = ais__qi_zp(za, i);
        for (size_t j = 0; j < n; j++)
            c[i * n + j] = 0;
        for (size_t kk = 0; kk < k; kk++) {
            int32_t av = ais__qi_at(a->data, a->dtype, ao + i * k + kk) - zai;
            if (av == 0) continue;
            for (size_t j = 0; j < n; j++)
                c[i * n + j] =
                    ais__qi_add(c[i * n + j], av * (ais__qi_at(b->data, b->dtype, bo + kk * n + j) -
                                                    ais__qi_zp(zb, j)));
        }
    }
}

static ais_status ais__mmi_check(const ais_tensor *const *in, size_t n_in, ais__mm_plan *p,
                                 ais__qi_vec *za, ais__qi_vec *zb) {
    const ais_tensor *a = in[0], *b = in[1];
    const ais_tensor *azp = n_in > 2 ? in[2] : NULL, *bzp = n_in > 3 ? in[3] : NULL;
    AIS__CHECK(ais__qi_expect8(a, "A"));
    AIS__CHECK(ais__qi_expect8(b, "B"));
    if (azp) AIS__CHECK(ais__expect_same_dtype(azp, "a_zero_point", a, "A"));
    if (bzp) AIS__CHECK(ais__expect_same_dtype(bzp, "b_zero_point", b, "B"));
    AIS__CHECK(ais__mm_plan_make(a, b, p));
    AIS__CHECK(ais__qi_vec_of(azp, "a_zero_point", (size_t)p->m, true, "row of A", za));
    return ais__qi_vec_of(bzp, "b_zero_point", (size_t)p->n, true, "column of B", zb);
}

static ais_status ais__mmi_infer(ais__op_ctx *ctx, const ais_tensor *const *in, size_t n_in,
                                 ais__tensor_desc *out, size_t n_out) {
    ais__mm_plan p;
    ais__qi_vec za, zb;
    AIS__CHECK(ais__mmi_check(in, n_in, &p, &za, &zb));
    ais__desc_set(&out[0], AIS_DTYPE_I32, p.odims, p.ond);
    return AIS_OK;
}

static ais_status ais__mmi_compute(ais__op_ctx *ctx, const ais_tensor *const *in, size_t n_in,
                                   ais_tensor *const *out, size_t n_out) {
    ais__mm_plan p;
    ais__qi_vec za, zb;
    AIS__CHECK(ais__mmi_check(in, n_in, &p, &za, &zb));
    int32_t *c = out[0]->data;
    if (za.n == 1 && p.m > 0 && p.n > 0) {
        const ais__cpu_kernels *t = ais__cpu();
        const ais__qpack *pack = p.b_mats == 1 ? ais__qi_pack(ctx, in[1]) : NULL;
        size_t bytes = ais__qmm_scratch(t, p.m, p.n, p.k, !pack);
        void *scratch = ais__op_scratch(ctx, bytes);
        if (!scratch) return ais__oom(bytes, "the packed int8 operands");
        for (size_t bi = 0; bi < p.nbatch; bi++) {
            int64_t ia, ib;
            ais__mm_offsets(&p, bi, &ia, &ib);
            ais__qgemm_ep ep = {
                .out = AIS__QGEMM_OUT_I32, .y = c + bi * (size_t)(p.m * p.n), .ldy = p.n};
            ais__qi_mm_gemm(ctx, t, &p, in[0], ia, ais__qi_zp(&za, 0), in[1], ib, zb.t, pack, &ep,
                            scratch);
        }
        return AIS_OK;
    }
    for (size_t t = 0; t < p.nbatch; t++) {
        int64_t ia, ib;
        ais__mm_offsets(&p, t, &ia, &ib);
        ais__qi_mm_one(&p, in[0], ia, &za, in[1], ib, &zb, c + t * (size_t)(p.m * p.n));
    }
    return AIS_OK;
}

/* QLinearMatMul: a, a_scale, a_zero_point, b, b_scale, b_zero_point, y_scale, y_zero_point. */
typedef struct {
    ais__mm_plan p;
    ais__qi_vec as, az, bs, bz, ys, yz;
} ais__qlmm;

static ais_status ais__qlmm_check(const ais__op_ctx *ctx, const ais_tensor *const *in,
                                  ais__qlmm *q) {
    const ais_tensor *a = in[0], *b = in[3];
    AIS__CHECK(ais__qi_expect8(a, "a"));
    AIS__CHECK(ais__qi_expect8(b, "b"));
    AIS__CHECK(ais__qi_expect8(in[7], "y_zero_point"));
    AIS__CHECK(ais__expect_same_dtype(in[2], "a_zero_point", a, "a"));
    AIS__CHECK(ais__expect_same_dtype(in[5], "b_zero_point", b, "b"));
    AIS__CHECK(ais__qi_expect_scale(ctx, in[1], "a_scale"));
    AIS__CHECK(ais__expect_same_dtype(in[4], "b_scale", in[1], "a_scale"));
    AIS__CHECK(ais__expect_same_dtype(in[6], "y_scale", in[1], "a_scale"));
    AIS__CHECK(ais__mm_plan_make(a, b, &q->p));
    size_t m = (size_t)q->p.m, n = (size_t)q->p.n;
    AIS__CHECK(ais__qi_vec_of(in[1], "a_scale", m, true, "row of a", &q->as));
    AIS__CHECK(ais__qi_vec_of(in[2], "a_zero_point", m, true, "row of a", &q->az));
    AIS__CHECK(ais__qi_vec_of(in[4], "b_scale", n, true, "column of b", &q->bs));
    AIS__CHECK(ais__qi_vec_of(in[5], "b_zero_point", n, true, "column of b", &q->bz));
    AIS__CHECK(ais__qi_vec_of(in[6], "y_scale", 1, false, "", &q->ys));
    return ais__qi_vec_of(in[7], "y_zero_point", 1, false, "", &q->yz);
}

static ais_status ais__qlmm_infer(ais__op_ctx *ctx, const ais_tensor *const *in, size_t n_in,
                                  ais__tensor_desc *out, size_t n_out) {
    ais__qlmm q;
    AIS__CHECK(ais__qlmm_check(ctx, in, &q));
    ais__desc_set(&out[0], in[7]->dtype, q.p.odims, q.p.ond);
    return AIS_OK;
}

static ais_status ais__qlmm_compute(ais__op_ctx *ctx, const ais_tensor *const *in, size_t n_in,
                                    ais_tensor *const *out, size_t n_out) {
    ais__qlmm q;
    AIS__CHECK(ais__qlmm_check(ctx, in, &q));
    size_t m = (size_t)q.p.m, n = (size_t)q.p.n, mn = m * n;
    if (q.as.n == 1 && q.az.n == 1 && m > 0 && n > 0) {
        const ais__cpu_kernels *t = ais__cpu();
        const ais__qpack *pack = q.p.b_mats == 1 ? ais__qi_pack(ctx, in[3]) : NULL;
        size_t gb = ais__qmm_scratch(t, q.p.m, q.p.n, q.p.k, !pack);
        size_t bytes = gb + ais__qi_al(n * sizeof(double));
        char *scratch = ais__op_scratch(ctx, bytes);
        if (!scratch) return ais__oom(bytes, "the packed int8 operands");
        /* the reference's multiplier per column, rounded as it rounds */
        double *mul = (double *)(void *)(scratch + gb);
        ais_dtype sd = in[1]->dtype, yd = out[0]->dtype;
        double ys = ais__qi_scale(&q.ys, 0);
        for (size_t j = 0; j < n; j++)
            mul[j] = ais__qi_round_to(
                ais__qi_round_to(ais__qi_scale(&q.as, 0) * ais__qi_scale(&q.bs, j), sd) / ys, sd);
        bool u8 = yd == AIS_DTYPE_U8;
        for (size_t bi = 0; bi < q.p.nbatch; bi++) {
            int64_t ia, ib;
            ais__mm_offsets(&q.p, bi, &ia, &ib);
            ais__qgemm_ep ep = {.out = u8 ? AIS__QGEMM_OUT_U8 : AIS__QGEMM_OUT_S8,
                                .dscale = mul,
                                .scale_cs = 1,
                                .zp = ais__qi_zp(&q.yz, 0),
                                .qmin = u8 ? 0 : -128,
                                .qmax = u8 ? 255 : 127,
                                .y = (uint8_t *)out[0]->data + bi * mn,
                                .ldy = q.p.n};
            ais__qi_mm_gemm(ctx, t, &q.p, in[0], ia, ais__qi_zp(&q.az, 0), in[3], ib, q.bz.t, pack,
                            &ep, scratch);
        }
        return AIS_OK;
    }
    int32_t *c = ais__op_scratch(ctx, (mn ? mn : 1) * sizeof(int32_t));
    if (!c) return ais__oom(mn * sizeof(int32_t), "the int32 product");
    ais_dtype sd = in[1]->dtype, yd = out[0]->dtype;
    double ys = ais__qi_scale(&q.ys, 0);
    int32_t yz = ais__qi_zp(&q.yz, 0);
    for (size_t t = 0; t < q.p.nbatch; t++) {
        int64_t ia, ib;
        ais__mm_offsets(&q.p, t, &ia, &ib);
        ais__qi_mm_one(&q.p, in[0], ia, &q.az, in[3], ib, &q.bz, c);
        for (size_t i = 0; i < m; i++)
            for (size_t j = 0; j < n; j++) {
                double ab = ais__qi_round_to(ais__qi_scale(&q.as, i) * ais__qi_scale(&q.bs, j), sd);
                double mul = ais__qi_round_to(ab / ys, sd);
                ais__qi_store(out[0]->data, yd, t * mn + i * n + j, (double)c[i * n + j] * mul, yz);
            }
    }
    return AIS_OK;
}

/* ---- convolutions ---- */

typedef struct {
    ais__dense_geom g;
    int64_t n, c, m, group;
    ais__qi_vec xz, wz;
} ais__qi_conv;

static ais_status ais__qi_conv_check(const ais__op_ctx *ctx, const ais_tensor *x,
                                     const ais_tensor *w, const ais_tensor *xzp,
                                     const ais_tensor *wzp, ais__qi_conv *q) {
    char sx[AIS__SHAPE_STR_MAX], sw[AIS__SHAPE_STR_MAX];
    AIS__CHECK(ais__qi_expect8(x, "x"));
    AIS__CHECK(ais__qi_expect8(w, "w"));
    if (xzp) AIS__CHECK(ais__expect_same_dtype(xzp, "x_zero_point", x, "x"));
    if (wzp) AIS__CHECK(ais__expect_same_dtype(wzp, "w_zero_point", w, "w"));
    if (x->ndim < 3 || w->ndim != x->ndim)
        return ais__error(AIS_E_SHAPE,
                          "x %s must be [N, C, D1...] and w %s [M, C/group, k1...] of the same "
                          "rank",
                          ais__shape_str(x->dims, x->ndim, sx, sizeof sx),
                          ais__shape_str(w->dims, w->ndim, sw, sizeof sw));
    AIS__CHECK(ais__dense_geom_init(ctx, x, w->dims + 2, false, &q->g));
    q->group = ais__attr_int(ctx->attrs, "group", 1);
    q->n = x->dims[0];
    q->c = x->dims[1];
    q->m = w->dims[0];
    if (q->group < 1 || q->c % q->group != 0 || q->m % q->group != 0 ||
        w->dims[1] != q->c / q->group)
        return ais__error(AIS_E_SHAPE,
                          "group %lld does not fit x %s and w %s: C and M must be multiples of "
                          "group and w[1] must be C/group",
                          (long long)q->group, ais__shape_str(x->dims, x->ndim, sx, sizeof sx),
                          ais__shape_str(w->dims, w->ndim, sw, sizeof sw));
    AIS__CHECK(ais__qi_vec_of(xzp, "x_zero_point", 1, false, "", &q->xz));
    return ais__qi_vec_of(wzp, "w_zero_point", (size_t)q->m, true, "output channel", &q->wz);
}

static void ais__qi_conv_out_dims(const ais__qi_conv *q, int64_t *d) {
    d[0] = q->n;
    d[1] = q->m;
    for (size_t i = 0; i < q->g.nsp; i++)
        d[2 + i] = q->g.out[3 - q->g.nsp + i];
}

/* The int32 sums of output channel `m` of image `b` into acc (one per output position). */
static void ais__qi_conv_plane(const ais__qi_conv *q, const ais_tensor *x, const ais_tensor *w,
                               int64_t b, int64_t m, int32_t *acc) {
    const ais__dense_geom *g = &q->g;
    int64_t cg = q->c / q->group, gi = m / (q->m / q->group);
    int64_t ksz = ais__dense_prod3(g->k), isz = ais__dense_prod3(g->in);
    int32_t xz = ais__qi_zp(&q->xz, 0), wz = ais__qi_zp(&q->wz, (size_t)m);
    size_t o = 0;
    for (int64_t od = 0; od < g->out[0]; od++)
        for (int64_t oh = 0; oh < g->out[1]; oh++)
            for (int64_t ow = 0; ow < g->out[2]; ow++, o++) {
                int32_t s = 0;
                for (int64_t c = 0; c < cg; c++) {
                    size_t xo = (size_t)((b * q->c + gi * cg + c) * isz);
                    size_t wo = (size_t)((m * cg + c) * ksz);
                    for (int64_t kd = 0; kd < g->k[0]; kd++) {
                        int64_t id = od * g->stride[0] - g->pb[0] + kd * g->dil[0];
                        if (id < 0 || id >= g->in[0]) continue;
                        for (int64_t kh = 0; kh < g->k[1]; kh++) {
                            int64_t ih = oh * g->stride[1] - g->pb[1] + kh * g->dil[1];
                            if (ih < 0 || ih >= g->in[1]) continue;
                            for (int64_t kw = 0; kw < g->k[2]; kw++) {
                                int64_t iw = ow * g->stride[2] - g->pb[2] + kw * g->dil[2];
                                /* padding holds the zero point: it adds nothing */
                                if (iw < 0 || iw >= g->in[2]) continue;
                                size_t xi = xo + (size_t)((id * g->in[1] + ih) * g->in[2] + iw);
                                size_t wi = wo + (size_t)((kd * g->k[1] + kh) * g->k[2] + kw);
                                s = ais__qi_add(s, (ais__qi_at(x->data, x->dtype, xi) - xz) *
                                                       (ais__qi_at(w->data, w->dtype, wi) - wz));
                            }
                        }
                    }
                }
                acc[o] = s;
            }
}

/* The GEMM path takes every convolution but an empty one. */
static bool ais__qi_conv_gemm_ok(const ais__qi_conv *q) {
    return ais__dense_prod3(q->g.out) > 0 && q->m > 0 && q->n > 0;
}

/* The columns of one group of one image, made a block at a time inside the GEMM's tile loop
 * (ais__qgemm_run_cols): row r = (c, kd, kh, kw) of [K, P], P the output positions. A block of
 * at most 64 positions is gathered into the slot's small work rows (in L1 or L2, used at once)
 * and packed from there with its column sums; a 1x1 convolution without stride or padding packs
 * straight from x. The padding holds the zero point, so that it adds nothing (as in the
 * reference). Before, the whole [K, P] column matrix was written, then read again to pack: two
 * passes over a matrix of several MB (resnet18's first layers) through memory, done serially. */
typedef struct {
    const uint8_t *x; /* the group's first channel of this image */
    const ais__dense_geom *g;
    const ais__cpu_kernels *t;
    int64_t cg, kg, P, ldw;
    int32_t xz;
    uint8_t pad;
    bool xs, direct, shift;
    bool need_sums; /* the int16 pair path: column sums wanted (a nonzero w_zero_point) */
    /* the paired u8 path: the group's order of k (kp entries) and the flip of s8 inputs to u8 */
    const int32_t *krows;
    int64_t kp;
    uint8_t flip;
} ais__qi_cols;

/* n bytes from s to d, and n bytes of v at d: fixed-size moves that overlap at the end instead
 * of a library call per run (the runs are at most 64 bytes, often a few). */
static inline void ais__qi_copy(uint8_t *d, const uint8_t *s, int64_t n) {
    if (n >= 16) {
        for (int64_t i = 0; i + 16 < n; i += 16)
            memcpy(d + i, s + i, 16);
        memcpy(d + n - 16, s + n - 16, 16);
    } else if (n >= 8) {
        memcpy(d, s, 8);
        memcpy(d + n - 8, s + n - 8, 8);
    } else if (n >= 4) {
        memcpy(d, s, 4);
        memcpy(d + n - 4, s + n - 4, 4);
    } else {
        for (int64_t i = 0; i < n; i++)
            d[i] = s[i];
    }
}
static inline void ais__qi_fill(uint8_t *d, const uint8_t *v16, int64_t n) {
    if (n >= 16) {
        for (int64_t i = 0; i + 16 < n; i += 16)
            memcpy(d + i, v16, 16);
        memcpy(d + n - 16, v16, 16);
    } else {
        for (int64_t i = 0; i < n; i++)
            d[i] = v16[0];
    }
}

/* Columns [j0, j0 + n) of the group's [K, P] into w (rows of ldw bytes). */
static void ais__qi_cols_block(const ais__qi_cols *C, int64_t j0, int64_t n, uint8_t *w) {
    const ais__dense_geom *g = C->g;
    const int64_t in0 = g->in[0], in1 = g->in[1], in2 = g->in[2], isz = in0 * in1 * in2;
    const int64_t s0 = g->stride[0], s1 = g->stride[1], s2 = g->stride[2];
    const int64_t d0 = g->dil[0], d1 = g->dil[1], d2 = g->dil[2];
    const int64_t k0 = g->k[0], k1 = g->k[1], k2 = g->k[2];
    const int64_t ow_n = g->out[2], ohw = g->out[1] * g->out[2], ldw = C->ldw;
    uint8_t pad16[16];
    memset(pad16, C->pad, sizeof pad16);
    /* the block's runs along output rows: input depth and row of tap (0, 0), first input
     * column, length, offset in the block */
    int64_t seg[64][5], ns = 0;
    for (int64_t p = j0; p < j0 + n && ns < 64; ns++) {
        int64_t ow = p % ow_n, len = ow_n - ow < j0 + n - p ? ow_n - ow : j0 + n - p;
        seg[ns][0] = p / ohw * s0 - g->pb[0];
        seg[ns][1] = p / ow_n % g->out[1] * s1 - g->pb[1];
        seg[ns][2] = ow * s2 - g->pb[2];
        seg[ns][3] = len;
        seg[ns][4] = p - j0;
        p += len;
    }
    for (int64_t c = 0; c < C->cg; c++) {
        const uint8_t *xc = C->x + c * isz;
        for (int64_t kd = 0; kd < k0; kd++)
            for (int64_t kh = 0; kh < k1; kh++)
                for (int64_t kw = 0; kw < k2; kw++, w += ldw)
                    for (int64_t q = 0; q < ns; q++) {
                        int64_t id = seg[q][0] + kd * d0, ih = seg[q][1] + kh * d1;
                        int64_t iw0 = seg[q][2] + kw * d2, len = seg[q][3];
                        uint8_t *col = w + seg[q][4];
                        if (id < 0 || id >= in0 || ih < 0 || ih >= in1) {
                            ais__qi_fill(col, pad16, len);
                            continue;
                        }
                        const uint8_t *row = xc + (id * in1 + ih) * in2;
                        /* output o of the run reads column iw0 + o s2: inside [0, in2) for
                         * o in [lo, hi) */
                        int64_t lo = iw0 >= 0 ? 0 : (-iw0 + s2 - 1) / s2;
                        int64_t hi = iw0 >= in2 ? 0 : (in2 - 1 - iw0) / s2 + 1;
                        lo = lo > len ? len : lo;
                        hi = hi < lo ? lo : hi > len ? len : hi;
                        ais__qi_fill(col, pad16, lo);
                        if (s2 == 1) {
                            ais__qi_copy(col + lo, row + iw0 + lo, hi - lo);
                        } else if (s2 == 2) {
                            ais__q8_stride2(row + iw0 + 2 * lo, col + lo, hi - lo);
                        } else {
                            for (int64_t o = lo; o < hi; o++)
                                col[o] = row[iw0 + o * s2];
                        }
                        ais__qi_fill(col + hi, pad16, len - hi);
                    }
    }
}

/* The same block of a 2-D convolution with unit strides whose input rows are as long as its
 * output rows ("same" padding along the width, ResNet's 3x3 layers): tap (kh, kw) of position p
 * reads x[p + sh], sh = (kh d1 - pb1) in2 + kw d2 - pb2, wherever it reads inside the image, so
 * each row is one contiguous copy and the few positions that fall in the padding (a mask per
 * tap, the same for every channel) are overwritten with the zero point. */
static bool ais__qi_cols_shift_ok(const ais__dense_geom *g) {
    /* depth: one plane read by its one tap (a depth pad would put that tap in the padding) */
    return g->in[0] == 1 && g->out[0] == 1 && g->k[0] == 1 && g->pb[0] == 0 && g->stride[1] == 1 &&
           g->stride[2] == 1 && g->in[2] == g->out[2] && g->k[1] * g->k[2] <= 64;
}

static void ais__qi_cols_shift(const ais__qi_cols *C, int64_t j0, int64_t n, uint8_t *w) {
    const ais__dense_geom *g = C->g;
    const int64_t in1 = g->in[1], in2 = g->in[2], isz = in1 * in2, ow_n = g->out[2];
    const int64_t taps = g->k[1] * g->k[2], ldw = C->ldw;
    int64_t sh[64];
    uint64_t inv[64];
    for (int64_t kh = 0; kh < g->k[1]; kh++)
        for (int64_t kw = 0; kw < g->k[2]; kw++) {
            int64_t tp = kh * g->k[2] + kw, dh = kh * g->dil[1] - g->pb[1];
            int64_t dw = kw * g->dil[2] - g->pb[2];
            uint64_t m = 0;
            int64_t ih = j0 / ow_n + dh, iw = j0 % ow_n + dw;
            for (int64_t o = 0; o < n; o++) {
                if (ih < 0 || ih >= in1 || iw < 0 || iw >= in2) m |= (uint64_t)1 << o;
                if (++iw == ow_n + dw) iw = dw, ih++;
            }
            sh[tp] = dh * in2 + dw;
            inv[tp] = m;
        }
    for (int64_t c = 0; c < C->cg; c++) {
        const uint8_t *xc = C->x + c * isz;
        for (int64_t tp = 0; tp < taps; tp++, w += ldw) {
            int64_t a = j0 + sh[tp], lo = a < 0 ? -a : 0, hi = isz - a < n ? isz - a : n;
            if (hi > lo) ais__qi_copy(w + lo, xc + a + lo, hi - lo);
            for (uint64_t m = inv[tp]; m; m &= m - 1)
                w[__builtin_ctzll(m)] = C->pad;
        }
    }
}

static void ais__qi_cols_pack(void *vc, int64_t j0, int64_t n, int8_t *dst, int32_t *sums,
                              uint8_t *work) {
    const ais__qi_cols *C = vc;
    if (C->direct) {
        ais__qgemm_pack_b(C->x + j0, C->xs, C->P, 1, C->kg, n, dst, sums, NULL);
        return;
    }
    if (C->shift)
        ais__qi_cols_shift(C, j0, n, work);
    else
        ais__qi_cols_block(C, j0, n, work);
    ais__qgemm_pack_b(work, C->xs, C->ldw, 1, C->kg, n, dst, sums, NULL);
}

/* The int16 pair path's block (cpu.h): the columns gathered as above (a 1x1 convolution
 * without stride or padding: read in place, but for a short last block, copied so that every
 * row has its 16 readable bytes), widened minus x_zero_point by the table's q16_pack_b. */
static const uint8_t *ais__qi_cols_rows(const ais__qi_cols *C, int64_t j0, int64_t n, uint8_t *work,
                                        int64_t *ld) {
    *ld = C->ldw;
    if (C->direct && n % AIS__QGEMM_NR == 0) {
        *ld = C->P;
        return C->x + j0;
    }
    if (C->direct) {
        for (int64_t r = 0; r < C->kg; r++)
            memcpy(work + r * C->ldw, C->x + r * C->P + j0, (size_t)n);
    } else if (C->shift) {
        ais__qi_cols_shift(C, j0, n, work);
    } else {
        ais__qi_cols_block(C, j0, n, work);
    }
    return work;
}

static void ais__qi_cols_pack16(void *vc, int64_t j0, int64_t n, int8_t *dst, int32_t *sums,
                                uint8_t *work) {
    const ais__qi_cols *C = vc;
    int64_t ld;
    const uint8_t *src = ais__qi_cols_rows(C, j0, n, work, &ld);
    /* panels of 16 columns, each k2 pairs of 16 int16 pairs (the kernel's stride) */
    int64_t panel = (C->kg + 1) / 2 * 2 * AIS__QGEMM_NR;
    for (int64_t q = 0; q * AIS__QGEMM_NR < n; q++)
        C->t->q16_pack_b(src + q * AIS__QGEMM_NR, ld, C->kg, C->xs, C->xz,
                         (int16_t *)(void *)dst + q * panel,
                         C->need_sums ? sums + q * AIS__QGEMM_NR : NULL);
}

/* The paired u8 path's block (cpu.h): the same rows, taken in the weights' order of k. */
static void ais__qi_cols_pack8p(void *vc, int64_t j0, int64_t n, int8_t *dst, int32_t *sums,
                                uint8_t *work) {
    const ais__qi_cols *C = vc;
    (void)sums;
    int64_t ld = C->ldw;
    const uint8_t *src = work;
    if (C->direct) {
        /* in place the rows would be read out of order, 16 bytes from each of kg planes: copied
         * in order first (streams the prefetcher follows), then taken from L1 */
        for (int64_t r = 0; r < C->kg; r++)
            memcpy(work + r * ld, C->x + r * C->P + j0, (size_t)n);
    } else {
        src = ais__qi_cols_rows(C, j0, n, work, &ld);
    }
    for (int64_t q = 0; q * AIS__QGEMM_NR < n; q++)
        C->t->q8p_pack_b(src + q * AIS__QGEMM_NR, ld, C->krows, C->kp / 4, C->flip,
                         (uint8_t *)dst + q * C->kp * AIS__QGEMM_NR);
}

/* QLinearConv's multiplier per output channel m < n, x_scale * w_scale / y_scale in float32 as
 * ONNX Runtime computes it; the stores multiply float(sum) by it in float32 too (MLAS's
 * requantization, the peer the int8 models are checked against; the ONNX reference's NumPy
 * arithmetic takes the product in double, which differs from it by one step on rare ties). */
static void ais__qi_conv_mul(const ais__qi_vec *sc, int64_t n, float *mul) {
    float xsv = (float)ais__qi_scale(&sc[0], 0), ysv = (float)ais__qi_scale(&sc[2], 0);
    for (int64_t m = 0; m < n; m++)
        mul[m] = xsv * (float)ais__qi_scale(&sc[1], (size_t)m) / ysv;
}

/* A convolution on the int8 GEMM: per image and group, C[Mg, P] = W_g [Mg, K] x cols [K, P],
 * with W packed at load (or here) and the columns packed block by block in the tile loop. The
 * zero-point terms per output channel (row) i: za' = w_zero_point + 128 for s8 weights, zb' =
 * x_zero_point - 128 for u8 inputs; C = raw - za'_i colsum_j - zb' (rowsum_i - K za'_i) + bias_i.
 * ep carries the output form and scale (per channel: scale_rs 1); y, ldy and the terms are set
 * here. */
static ais_status ais__qi_conv_gemm(ais__op_ctx *ctx, const ais__qi_conv *q, const ais_tensor *x,
                                    const ais_tensor *w, const int32_t *bias, ais__qgemm_ep *ep0,
                                    const ais__qi_vec *sc, size_t y_elem, void *y) {
    const ais__dense_geom *g = &q->g;
    const ais__qpack *pack = ais__qi_pack(ctx, w);
    /* the paired u8 pack holds the raw s8 weights' row sums: a zero w_zero_point only */
    bool pairs = pack && pack->a[0].krows;
    for (int64_t ch = 0; ch < q->m && pairs; ch++)
        if (ais__qi_zp(&q->wz, (size_t)ch) != 0) pack = NULL, pairs = false;
    const ais__cpu_kernels *t = pack ? pack->t : ais__cpu();
    int64_t cg = q->c / q->group, mg = q->m / q->group, ksz = ais__dense_prod3(g->k);
    int64_t kg = cg * ksz, P = ais__dense_prod3(g->out), isz = ais__dense_prod3(g->in);
    if (P == 0 || q->m == 0 || q->n == 0) return AIS_OK;
    bool direct = ksz == 1 && P == isz && g->pb[0] == 0 && g->pb[1] == 0 && g->pb[2] == 0 &&
                  g->stride[0] == 1 && g->stride[1] == 1 && g->stride[2] == 1;
    int32_t slots = ctx->pool ? ais__pool_threads(ctx->pool) : 1;
    slots = slots < 1 ? 1 : slots;
    /* the int16 pair path where the table has it (AVX2) and the weights were packed for it */
    bool wide = pack ? pack->a[0].wide : t->q16_ukernel != NULL;
    int64_t kmax = kg;
    for (int64_t gi = 0; gi < q->group && pairs; gi++)
        kmax = pack->a[gi].kp > kmax ? pack->a[gi].kp : kmax;
    /* the gathered rows hold one block of columns */
    int64_t ldw = ais__qgemm_cols_width(t, kmax);
    ais__qgemm_cols src = {.pack = pairs  ? ais__qi_cols_pack8p
                                   : wide ? ais__qi_cols_pack16
                                          : ais__qi_cols_pack,
                           .work_bytes = direct && !wide && !pairs ? 0 : (size_t)(kg * ldw),
                           .width = ldw};
    size_t slots_b = (size_t)slots * ais__qgemm_cols_slot_bytes(t, kmax, ldw, src.work_bytes);
    size_t ap_b = pack ? 0
                       : ais__qi_al(wide ? ais__q16_a_bytes(t->qgemm_mr, mg, kg)
                                         : ais__qgemm_a_bytes(t->qgemm_mr, mg, kg));
    size_t sa_b = pack ? 0 : ais__qi_al((size_t)mg * 4), rows_b = ais__qi_al((size_t)q->m * 4);
    size_t mul_b = sc ? ais__qi_al((size_t)q->m * sizeof(float)) : 0;
    size_t bytes = slots_b + ap_b + sa_b + 2 * rows_b + mul_b;
    char *s = ais__op_scratch(ctx, bytes);
    if (!s) return ais__oom(bytes, "the int8 columns of a convolution");
    if (sc) {
        float *mul = (float *)(void *)(s + bytes - mul_b);
        ais__qi_conv_mul(sc, q->m, mul);
        ep0->fscale = mul;
        ep0->scale_rs = 1;
    }
    uint8_t *ap = (uint8_t *)(s + slots_b);
    int32_t *sa = (int32_t *)(void *)(s + slots_b + ap_b);
    int32_t *radd = (int32_t *)(void *)(s + slots_b + ap_b + sa_b);
    int32_t *rmul = radd + rows_b / 4;
    bool xs = x->dtype == AIS_DTYPE_I8, ws = w->dtype == AIS_DTYPE_I8;
    int32_t xz = ais__qi_zp(&q->xz, 0);
    uint32_t zb = (uint32_t)(xz - (xs ? 0 : 128));
    ais__qi_cols C = {.g = g,
                      .t = t,
                      .xz = xz,
                      .cg = cg,
                      .kg = kg,
                      .P = P,
                      .ldw = ldw,
                      .pad = (uint8_t)xz,
                      .xs = xs,
                      .direct = direct,
                      .shift = ais__qi_cols_shift_ok(g),
                      .flip = xs ? 0x80 : 0};
    src.ctx = &C;
    for (int64_t gi = 0; gi < q->group; gi++) {
        ais__qgemm_a A;
        if (pack) {
            A = pack->a[gi];
        } else if (wide) {
            const uint8_t *wg = (const uint8_t *)w->data + gi * mg * kg;
            ais__q16_pack_a(t->qgemm_mr, wg, ws, mg, kg, (int16_t *)(void *)ap);
            A = (ais__qgemm_a){.data = ap, .m = mg, .k = kg, .mr = t->qgemm_mr, .wide = true};
        } else {
            const uint8_t *wg = (const uint8_t *)w->data + gi * mg * kg;
            ais__qgemm_pack_a(t->qgemm_mr, wg, ws, kg, 1, mg, kg, ap, sa);
            A = (ais__qgemm_a){.data = ap, .sums = sa, .m = mg, .k = kg, .mr = t->qgemm_mr};
        }
        bool uniform = true;
        for (int64_t i = 0; i < mg && pairs; i++) {
            /* sum w (x' - xz') with x' = x ^ flip (u8) and w_zero_point 0: - xz' rowsum(w) */
            int64_t ch = gi * mg + i;
            uint32_t xzp = (uint32_t)xz + (xs ? 128u : 0u);
            radd[ch] = (int32_t)((bias ? (uint32_t)bias[ch] : 0u) - xzp * (uint32_t)A.sums[i]);
            rmul[ch] = 0;
        }
        C.krows = A.krows;
        C.kp = A.kp;
        for (int64_t i = 0; i < mg && wide && !pairs; i++) {
            /* sum w (x - xz) - wz colsum(x - xz): the weights' zero point is the only term */
            int64_t ch = gi * mg + i;
            radd[ch] = bias ? bias[ch] : 0;
            rmul[ch] = (int32_t)(0u - (uint32_t)ais__qi_zp(&q->wz, (size_t)ch));
            uniform = uniform && rmul[ch] == rmul[gi * mg];
        }
        for (int64_t i = 0; i < mg && !wide && !pairs; i++) {
            int64_t ch = gi * mg + i;
            uint32_t za = (uint32_t)ais__qi_zp(&q->wz, (size_t)ch) + (ws ? 128u : 0u);
            uint32_t bv = bias ? (uint32_t)bias[ch] : 0u;
            radd[ch] = (int32_t)(bv - zb * ((uint32_t)A.sums[i] - (uint32_t)kg * za));
            rmul[ch] = (int32_t)(0u - za);
            uniform = uniform && rmul[ch] == rmul[gi * mg];
        }
        src.sums_mul = uniform ? rmul[gi * mg] : 0;
        C.need_sums = !uniform || rmul[gi * mg] != 0;
        for (int64_t b = 0; b < q->n; b++) {
            C.x = (const uint8_t *)x->data + (b * q->c + gi * cg) * isz;
            ais__qgemm_ep ep = *ep0;
            ep.row_add = radd + gi * mg;
            ep.row_mul = uniform ? NULL : rmul + gi * mg;
            ep.col_add = NULL;
            if (ep.fscale && ep.scale_rs) ep.fscale += gi * mg;
            ep.y = (char *)y + (size_t)((b * q->m + gi * mg) * P) * y_elem;
            ep.ldy = P;
            ais__qgemm_run_cols(ctx->pool, t, &A, P, &src, &ep, slots, s);
        }
    }
    return AIS_OK;
}

/* ---- depthwise convolutions: a direct kernel instead of one GEMM per group ---- */

/* A depthwise convolution (one input channel per group: MobileNet's 3x3 and 5x5 layers) as
 * GEMMs would run one [M/group, k] x [k, P] product per channel, a fraction of a tile each. The
 * table's float depthwise kernel (conv_dw, SIMD per level) runs on the zero-point-shifted plane
 * x - x_zero_point with weights w - w_zero_point instead: with at most AIS__QDW_TAPS taps every
 * partial sum is an integer below 2^24 in magnitude (255 * 255 * 256 < 2^24), which float holds
 * exactly whatever order the kernel adds in, so it gives the int32 sums exactly; the padding
 * reads 0, the zero point's place, as in the reference. The sums then go through the GEMM's
 * store (bias, requantization) one output row at a time. 1-D and 2-D. */
static bool ais__qi_dw_ok(const ais__qi_conv *q) {
    const ais__dense_geom *g = &q->g;
    /* a 3-D one with one plane of depth and no padding along it is a 2-D one */
    return q->group > 1 && q->c == q->group && g->k[0] == 1 && g->in[0] == 1 && g->out[0] == 1 &&
           g->pb[0] == 0 && ais__dense_prod3(g->k) <= AIS__QDW_TAPS &&
           ais__dense_prod3(g->out) > 0 && q->n > 0;
}

typedef struct {
    const ais__qi_conv *q;
    const ais__cpu_kernels *t;
    const ais_tensor *x, *w;
    const ais__qgemm_ep *ep; /* y at the output's start; row_add, fscale per channel or NULL */
    size_t y_elem;
    ais__conv_dw_geom dg;
    char *scratch;
    size_t planes, n_slots, per_slot;
} ais__qdw_job;

static size_t ais__qdw_slot_bytes(const ais__qi_conv *q, const ais__conv_dw_geom *dg) {
    int64_t isz = ais__dense_prod3(q->g.in), osz = ais__dense_prod3(q->g.out);
    return ais__qi_al((size_t)isz * 4) + ais__qi_al((size_t)ais__dense_prod3(q->g.k) * 4) +
           ais__qi_al((size_t)osz * 4) + ais__qi_al(ais__conv_dw_scratch_floats(dg) * 4) +
           ais__qi_al(AIS__QGEMM_LDC * 4);
}

/* The int32 sums of output channel m's plane (osz values at acc) through the store into y: the
 * plane taken as rows of AIS__QGEMM_LDC values (the tile's own row stride), each row with the
 * channel's bias and scale, so that one call stores up to AIS__QDW_STORE_ROWS rows; a call per
 * 64 values spent a large part of the store's time setting itself up (112x112 planes). */
#define AIS__QDW_STORE_ROWS 64
static void ais__qdw_store(const ais__qdw_job *j, int64_t m, void *y, const int32_t *acc,
                           int64_t osz) {
    int32_t radd[AIS__QDW_STORE_ROWS];
    ais__qgemm_ep ep = *j->ep;
    if (ep.row_add) {
        for (int r = 0; r < AIS__QDW_STORE_ROWS; r++)
            radd[r] = j->ep->row_add[m];
        ep.row_add = radd;
    }
    if (ep.fscale) ep.fscale += m;
    ep.scale_rs = 0; /* every row is this channel's */
    ep.ldy = AIS__QGEMM_LDC;
    int64_t full = osz / AIS__QGEMM_LDC;
    for (int64_t r0 = 0; r0 < full; r0 += AIS__QDW_STORE_ROWS) {
        int rows = (int)(full - r0 < AIS__QDW_STORE_ROWS ? full - r0 : AIS__QDW_STORE_ROWS);
        ep.y = (char *)y + (size_t)(r0 * AIS__QGEMM_LDC) * j->y_elem;
        j->t->qgemm_store(&ep, acc + r0 * AIS__QGEMM_LDC, 0, 0, rows, AIS__QGEMM_LDC);
    }
    if (osz > full * AIS__QGEMM_LDC) {
        ep.y = (char *)y + (size_t)(full * AIS__QGEMM_LDC) * j->y_elem;
        j->t->qgemm_store(&ep, acc + full * AIS__QGEMM_LDC, 0, 0, 1,
                          (int)(osz - full * AIS__QGEMM_LDC));
    }
}

/* Slot s: planes (image, output channel) [s * planes / n_slots, ...) with its own scratch. */
static void ais__qdw_slots(void *vj, size_t begin, size_t end) {
    const ais__qdw_job *j = vj;
    const ais__qi_conv *q = j->q;
    int64_t isz = ais__dense_prod3(q->g.in), osz = ais__dense_prod3(q->g.out);
    int64_t kv = ais__dense_prod3(q->g.k), mg = q->m / q->group;
    bool xs = j->x->dtype == AIS_DTYPE_I8;
    int32_t xz = ais__qi_zp(&q->xz, 0);
    for (size_t s = begin; s < end; s++) {
        char *p = j->scratch + s * j->per_slot;
        float *xf = (float *)(void *)p;
        float *wf = (float *)(void *)(p += ais__qi_al((size_t)isz * 4));
        float *yf = (float *)(void *)(p += ais__qi_al((size_t)kv * 4));
        float *dws = (float *)(void *)(p += ais__qi_al((size_t)osz * 4));
        int32_t *ci = (int32_t *)(void *)(p + ais__qi_al(ais__conv_dw_scratch_floats(&j->dg) * 4));
        int64_t prev_c = -1;
        for (size_t t = s * j->planes / j->n_slots; t < (s + 1) * j->planes / j->n_slots; t++) {
            int64_t b = (int64_t)t / q->m, m = (int64_t)t % q->m, cin = b * q->c + m / mg;
            if (j->t->qdw_plane) {
                /* the integer kernel: no float copies of the plane, sums straight to int32 */
                int16_t *wq = (int16_t *)(void *)wf;
                int32_t *acc = (int32_t *)(void *)yf, wz = ais__qi_zp(&q->wz, (size_t)m);
                for (int64_t i = 0; i < kv; i++)
                    wq[i] =
                        (int16_t)(ais__qi_at(j->w->data, j->w->dtype, (size_t)(m * kv + i)) - wz);
                j->t->qdw_plane((const uint8_t *)j->x->data + cin * isz, xs, xz, wq, &j->dg, acc);
                ais__qdw_store(j, m, (char *)j->ep->y + (size_t)((b * q->m + m) * osz) * j->y_elem,
                               acc, osz);
                continue;
            }
            if (cin != prev_c) {
                /* channel multipliers > 1: consecutive planes share their input plane */
                j->t->q8_to_f32((const uint8_t *)j->x->data + cin * isz, xs, xz, xf, isz);
                prev_c = cin;
            }
            int32_t wz = ais__qi_zp(&q->wz, (size_t)m);
            for (int64_t i = 0; i < kv; i++)
                wf[i] = (float)(ais__qi_at(j->w->data, j->w->dtype, (size_t)(m * kv + i)) - wz);
            const ais__conv_act none = {.kind = AIS__CONV_ACT_NONE};
            j->t->conv_dw(xf, wf, 0.0f, yf, &j->dg, &none, dws);
            ais__qgemm_ep ep = *j->ep;
            ep.y = (char *)ep.y + (size_t)((b * q->m + m) * osz) * j->y_elem;
            ep.ldy = osz;
            if (ep.row_add) ep.row_add += m;
            if (ep.fscale) ep.fscale += m;
            for (int64_t j0 = 0; j0 < osz; j0 += AIS__QGEMM_LDC) {
                int cols = (int)(osz - j0 < AIS__QGEMM_LDC ? osz - j0 : AIS__QGEMM_LDC);
                j->t->f32_to_i32(yf + j0, ci, cols);
                j->t->qgemm_store(&ep, ci, 0, j0, 1, cols);
            }
        }
    }
}

/* The depthwise path: ep0 as for ais__qi_conv_gemm (out, zp, clamps), bias NULL or per channel,
 * sc the three scale vectors (QLinearConv) or NULL (ConvInteger). */
static ais_status ais__qi_conv_dw(ais__op_ctx *ctx, const ais__qi_conv *q, const ais_tensor *x,
                                  const ais_tensor *w, const int32_t *bias, ais__qgemm_ep *ep0,
                                  const ais__qi_vec *sc, size_t y_elem, void *y) {
    const ais__dense_geom *g = &q->g;
    ais__qdw_job j = {.q = q, .t = ais__cpu(), .x = x, .w = w, .ep = ep0, .y_elem = y_elem};
    j.dg =
        (ais__conv_dw_geom){g->in[1],     g->in[2],     g->out[1], g->out[2], g->k[1],  g->k[2],
                            g->stride[1], g->stride[2], g->dil[1], g->dil[2], g->pb[1], g->pb[2]};
    /* pads and dilations come from the file: the padded plane must stay a sane size */
    if (!ais__conv_dw_plane_ok(&j.dg))
        return ais__error(AIS_E_LIMIT,
                          "the padded plane of a depthwise int8 convolution (%lld x %lld) is too "
                          "large",
                          (long long)ais__conv_dw_padded_rows(&j.dg),
                          (long long)ais__conv_dw_padded_width(&j.dg));
    j.planes = (size_t)(q->n * q->m);
    int32_t threads = ctx->pool ? ais__pool_threads(ctx->pool) : 1;
    /* one slot per thread once there is enough work to share (as the float depthwise path) */
    double work = (double)ais__dense_prod3(g->out) * (double)ais__dense_prod3(g->k) * j.planes;
    j.n_slots = work < 65536.0 ? 1 : (size_t)(threads > 0 ? threads : 1);
    j.n_slots = AIS__MIN(j.n_slots, j.planes);
    j.per_slot = ais__qdw_slot_bytes(q, &j.dg);
    size_t mul_b = sc ? ais__qi_al((size_t)q->m * sizeof(float)) : 0, bytes;
    if (!ais__mul_size(j.per_slot, j.n_slots, &bytes) || bytes > SIZE_MAX - mul_b)
        return ais__error(AIS_E_LIMIT, "depthwise int8 scratch size overflows");
    bytes += mul_b;
    char *s = ais__op_scratch(ctx, bytes);
    if (!s) return ais__oom(bytes, "the planes of a depthwise int8 convolution");
    j.scratch = s;
    if (sc) {
        float *mul = (float *)(void *)(s + bytes - mul_b);
        ais__qi_conv_mul(sc, q->m, mul);
        ep0->fscale = mul;
        ep0->scale_rs = 1;
        ep0->scale_cs = 0;
    }
    ep0->row_add = bias;
    ep0->col_add = ep0->row_mul = ep0->col_mul = NULL;
    ep0->y = y;
    if (j.n_slots > 1)
        ais__parallel_for(ctx->pool, j.n_slots, 1, ais__qdw_slots, &j);
    else
        ais__qdw_slots(&j, 0, 1);
    return AIS_OK;
}

static ais_status ais__ci_infer(ais__op_ctx *ctx, const ais_tensor *const *in, size_t n_in,
                                ais__tensor_desc *out, size_t n_out) {
    ais__qi_conv q;
    AIS__CHECK(ais__qi_conv_check(ctx, in[0], in[1], n_in > 2 ? in[2] : NULL,
                                  n_in > 3 ? in[3] : NULL, &q));
    int64_t d[AIS_MAX_DIMS];
    ais__qi_conv_out_dims(&q, d);
    ais__desc_set(&out[0], AIS_DTYPE_I32, d, in[0]->ndim);
    return AIS_OK;
}

static ais_status ais__ci_compute(ais__op_ctx *ctx, const ais_tensor *const *in, size_t n_in,
                                  ais_tensor *const *out, size_t n_out) {
    ais__qi_conv q;
    AIS__CHECK(ais__qi_conv_check(ctx, in[0], in[1], n_in > 2 ? in[2] : NULL,
                                  n_in > 3 ? in[3] : NULL, &q));
    size_t plane = (size_t)ais__dense_prod3(q.g.out);
    int32_t *y = out[0]->data;
    if (ais__qi_dw_ok(&q)) {
        ais__qgemm_ep ep = {.out = AIS__QGEMM_OUT_I32};
        return ais__qi_conv_dw(ctx, &q, in[0], in[1], NULL, &ep, NULL, sizeof(int32_t), y);
    }
    if (ais__qi_conv_gemm_ok(&q)) {
        ais__qgemm_ep ep = {.out = AIS__QGEMM_OUT_I32};
        return ais__qi_conv_gemm(ctx, &q, in[0], in[1], NULL, &ep, NULL, sizeof(int32_t), y);
    }
    for (int64_t b = 0; b < q.n; b++)
        for (int64_t m = 0; m < q.m; m++)
            ais__qi_conv_plane(&q, in[0], in[1], b, m, y + (size_t)(b * q.m + m) * plane);
    return AIS_OK;
}

/* QLinearConv: x, x_scale, x_zero_point, w, w_scale, w_zero_point, y_scale, y_zero_point, B. */
static ais_status ais__qlc_check(const ais__op_ctx *ctx, const ais_tensor *const *in, size_t n_in,
                                 ais__qi_conv *q, ais__qi_vec *xs, ais__qi_vec *ws, ais__qi_vec *ys,
                                 ais__qi_vec *yz) {
    char s[AIS__SHAPE_STR_MAX];
    AIS__CHECK(ais__qi_conv_check(ctx, in[0], in[3], in[2], in[5], q));
    AIS__CHECK(ais__qi_expect8(in[7], "y_zero_point"));
    AIS__CHECK(ais__qi_expect_scale(ctx, in[1], "x_scale"));
    AIS__CHECK(ais__qi_expect_scale(ctx, in[4], "w_scale"));
    AIS__CHECK(ais__qi_expect_scale(ctx, in[6], "y_scale"));
    AIS__CHECK(ais__qi_vec_of(in[1], "x_scale", 1, false, "", xs));
    AIS__CHECK(ais__qi_vec_of(in[4], "w_scale", (size_t)q->m, true, "output channel", ws));
    AIS__CHECK(ais__qi_vec_of(in[6], "y_scale", 1, false, "", ys));
    AIS__CHECK(ais__qi_vec_of(in[7], "y_zero_point", 1, false, "", yz));
    const ais_tensor *bias = n_in > 8 ? in[8] : NULL;
    if (bias) {
        AIS__CHECK(ais__expect_dtype(bias, "B", AIS_DTYPE_I32, AIS_DTYPE_UNDEFINED));
        if (bias->ndim != 1 || bias->dims[0] != q->m)
            return ais__error(AIS_E_SHAPE,
                              "B must have shape [%lld] (one per output channel), got %s",
                              (long long)q->m, ais__shape_str(bias->dims, bias->ndim, s, sizeof s));
    }
    return AIS_OK;
}

static ais_status ais__qlc_infer(ais__op_ctx *ctx, const ais_tensor *const *in, size_t n_in,
                                 ais__tensor_desc *out, size_t n_out) {
    ais__qi_conv q;
    ais__qi_vec xs, ws, ys, yz;
    AIS__CHECK(ais__qlc_check(ctx, in, n_in, &q, &xs, &ws, &ys, &yz));
    int64_t d[AIS_MAX_DIMS];
    ais__qi_conv_out_dims(&q, d);
    ais__desc_set(&out[0], in[7]->dtype, d, in[0]->ndim);
    return AIS_OK;
}

static ais_status ais__qlc_compute(ais__op_ctx *ctx, const ais_tensor *const *in, size_t n_in,
                                   ais_tensor *const *out, size_t n_out) {
    ais__qi_conv q;
    ais__qi_vec xs, ws, ys, yz;
    AIS__CHECK(ais__qlc_check(ctx, in, n_in, &q, &xs, &ws, &ys, &yz));
    size_t plane = (size_t)ais__dense_prod3(q.g.out);
    if (ais__qi_conv_gemm_ok(&q) || ais__qi_dw_ok(&q)) {
        bool u8 = out[0]->dtype == AIS_DTYPE_U8;
        ais__qgemm_ep ep = {.out = u8 ? AIS__QGEMM_OUT_U8 : AIS__QGEMM_OUT_S8,
                            .zp = ais__qi_zp(&yz, 0),
                            .qmin = u8 ? 0 : -128,
                            .qmax = u8 ? 255 : 127};
        const ais__qi_vec sc[3] = {xs, ws, ys};
        const int32_t *bias = n_in > 8 && in[8] ? in[8]->data : NULL;
        if (ais__qi_dw_ok(&q))
            return ais__qi_conv_dw(ctx, &q, in[0], in[3], bias, &ep, sc, 1, out[0]->data);
        return ais__qi_conv_gemm(ctx, &q, in[0], in[3], bias, &ep, sc, 1, out[0]->data);
    }
    size_t acc_b = (plane ? plane : 1) * sizeof(int32_t) + (size_t)q.m * sizeof(float);
    int32_t *acc = ais__op_scratch(ctx, acc_b);
    if (!acc) return ais__oom(acc_b, "the int32 sums of one output plane");
    const int32_t *bias = n_in > 8 && in[8] ? in[8]->data : NULL;
    float *mul = (float *)(void *)(acc + (plane ? plane : 1));
    const ais__qi_vec sc[3] = {xs, ws, ys};
    ais__qi_conv_mul(sc, q.m, mul);
    int32_t yzv = ais__qi_zp(&yz, 0);
    ais_dtype yd = out[0]->dtype;
    for (int64_t b = 0; b < q.n; b++)
        for (int64_t m = 0; m < q.m; m++) {
            ais__qi_conv_plane(&q, in[0], in[3], b, m, acc);
            int32_t bv = bias ? bias[m] : 0;
            size_t base = (size_t)(b * q.m + m) * plane;
            for (size_t o = 0; o < plane; o++)
                ais__qi_store(out[0]->data, yd, base + o,
                              (double)((float)ais__qi_add(acc[o], bv) * mul[m]), yzv);
        }
    return AIS_OK;
}

const ais__op_def ais__ops_qlinear[] = {
    {.domain = "",
     .name = "MatMulInteger",
     .since_version = 10,
     .min_inputs = 2,
     .max_inputs = 4,
     .min_outputs = 1,
     .max_outputs = 1,
     .infer = ais__mmi_infer,
     .compute = ais__mmi_compute,
     .prepare = ais__mmi_prepare,
     .release = ais__qi_release},
    {.domain = "",
     .name = "ConvInteger",
     .since_version = 10,
     .min_inputs = 2,
     .max_inputs = 4,
     .min_outputs = 1,
     .max_outputs = 1,
     .infer = ais__ci_infer,
     .compute = ais__ci_compute,
     .prepare = ais__ci_prepare,
     .release = ais__qi_release},
    {.domain = "",
     .name = "QLinearMatMul",
     .since_version = 10,
     .min_inputs = 8,
     .max_inputs = 8,
     .min_outputs = 1,
     .max_outputs = 1,
     .infer = ais__qlmm_infer,
     .compute = ais__qlmm_compute,
     .prepare = ais__qlmm_prepare,
     .release = ais__qi_release},
    {.domain = "",
     .name = "QLinearConv",
     .since_version = 10,
     .min_inputs = 8,
     .max_inputs = 9,
     .min_outputs = 1,
     .max_outputs = 1,
     .infer = ais__qlc_infer,
     .compute = ais__qlc_compute,
     .prepare = ais__qlc_prepare,
     .release = ais__qi_release},
    {.name = NULL},
};
