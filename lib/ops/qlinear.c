/*
 * qlinear.c - the integer operators of ai.onnx: MatMulInteger (10), ConvInteger (10),
 * QLinearMatMul (10, 21) and QLinearConv (10), u8 and s8, following the ONNX specification and
 * onnx/reference/ops/op_{matmul_integer,conv_integer,qlinear_matmul,qlinear_conv}.py.
 *
 * This is the reference (correctness) layer: plain loops with int32 accumulation, so that fast
 * int8 kernels (VNNI, AVX2) can later be tested against it. Requantization follows the
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
    int32_t *acc = ais__op_scratch(ctx, (plane ? plane : 1) * sizeof(int32_t));
    if (!acc) return ais__oom(plane * sizeof(int32_t), "the int32 sums of one output plane");
    const int32_t *bias = n_in > 8 && in[8] ? in[8]->data : NULL;
    double xsv = ais__qi_scale(&xs, 0), ysv = ais__qi_scale(&ys, 0);
    int32_t yzv = ais__qi_zp(&yz, 0);
    ais_dtype yd = out[0]->dtype;
    for (int64_t b = 0; b < q.n; b++)
        for (int64_t m = 0; m < q.m; m++) {
            ais__qi_conv_plane(&q, in[0], in[3], b, m, acc);
            int32_t bv = bias ? bias[m] : 0;
            /* x_scale * w_scale / y_scale in float32, the product in double (NumPy) */
            double mul =
                (double)(float)((float)(float)(xsv * ais__qi_scale(&ws, (size_t)m)) / (float)ysv);
            size_t base = (size_t)(b * q.m + m) * plane;
            for (size_t o = 0; o < plane; o++)
                ais__qi_store(out[0]->data, yd, base + o, (double)ais__qi_add(acc[o], bv) * mul,
                              yzv);
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
     .compute = ais__mmi_compute},
    {.domain = "",
     .name = "ConvInteger",
     .since_version = 10,
     .min_inputs = 2,
     .max_inputs = 4,
     .min_outputs = 1,
     .max_outputs = 1,
     .infer = ais__ci_infer,
     .compute = ais__ci_compute},
    {.domain = "",
     .name = "QLinearMatMul",
     .since_version = 10,
     .min_inputs = 8,
     .max_inputs = 8,
     .min_outputs = 1,
     .max_outputs = 1,
     .infer = ais__qlmm_infer,
     .compute = ais__qlmm_compute},
    {.domain = "",
     .name = "QLinearConv",
     .since_version = 10,
     .min_inputs = 8,
     .max_inputs = 9,
     .min_outputs = 1,
     .max_outputs = 1,
     .infer = ais__qlc_infer,
     .compute = ais__qlc_compute},
    {.name = NULL},
};
