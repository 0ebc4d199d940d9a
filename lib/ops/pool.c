/*
 * pool.c - MaxPool (with optional Indices), AveragePool, LpPool and their global forms, 1-D to
 * 3-D, parallel over the N*C planes. f16 and bf16 are computed in f32. The f32 2-D MaxPool of
 * CNNs goes through lib/cpu's vector plane kernel at the AVX2 and AVX-512 levels, and so does
 * the f32 2-D AveragePool (the depthwise kernel with weights of 1). 8-bit MaxPool (opset 12, the
 * QDQ models' pooling) takes the max of the bytes directly.
 */
#include <float.h>
#include <math.h>
#include <string.h>

#include "cpu/cpu.h"
#include "dense_util.h"

enum { AIS__POOL_MAX = 0, AIS__POOL_AVG = 1, AIS__POOL_LP = 2 };

typedef struct {
    ais__dense_geom g;
    int kind;
    bool include_pad, col_major;
    float p;
    const float *x;
    float *y;
    int64_t *idx; /* MaxPool's Indices or NULL */
    int64_t isz, osz;
} ais__pool_job;

static void ais__pool_range(void *vj, size_t begin, size_t end) {
    const ais__pool_job *j = vj;
    const ais__dense_geom *g = &j->g;
    const float kvol = (float)ais__dense_prod3(g->k);
    for (size_t t = begin; t < end; t++) {
        const float *x = j->x + (int64_t)t * j->isz;
        float *y = j->y + (int64_t)t * j->osz;
        int64_t *ix = j->idx ? j->idx + (int64_t)t * j->osz : NULL;
        int64_t plane_base = (int64_t)t * j->isz;
        for (int64_t od = 0; od < g->out[0]; od++)
            for (int64_t oh = 0; oh < g->out[1]; oh++)
                for (int64_t ow = 0; ow < g->out[2]; ow++) {
                    float acc = j->kind == AIS__POOL_MAX ? -INFINITY : 0.0f;
                    int64_t arg = -1, count = 0;
                    for (int64_t kd = 0; kd < g->k[0]; kd++) {
                        int64_t id = od * g->stride[0] - g->pb[0] + kd * g->dil[0];
                        if (id < 0 || id >= g->in[0]) continue;
                        for (int64_t kh = 0; kh < g->k[1]; kh++) {
                            int64_t ih = oh * g->stride[1] - g->pb[1] + kh * g->dil[1];
                            if (ih < 0 || ih >= g->in[1]) continue;
                            const float *xr = x + (id * g->in[1] + ih) * g->in[2];
                            for (int64_t kw = 0; kw < g->k[2]; kw++) {
                                int64_t iw = ow * g->stride[2] - g->pb[2] + kw * g->dil[2];
                                if (iw < 0 || iw >= g->in[2]) continue;
                                float v = xr[iw];
                                count++;
                                if (j->kind == AIS__POOL_MAX) {
                                    if (v > acc || arg < 0) {
                                        acc = v;
                                        arg = j->col_major
                                                  ? id + ih * g->in[0] + iw * g->in[0] * g->in[1]
                                                  : (id * g->in[1] + ih) * g->in[2] + iw;
                                    }
                                } else if (j->kind == AIS__POOL_AVG) {
                                    acc += v;
                                } else if (j->p == 2.0f) {
                                    acc += v * v;
                                } else {
                                    acc += powf(fabsf(v), j->p);
                                }
                            }
                        }
                    }
                    int64_t o = (od * g->out[1] + oh) * g->out[2] + ow;
                    if (j->kind == AIS__POOL_AVG)
                        acc = j->include_pad ? acc / kvol : (count ? acc / (float)count : 0.0f);
                    else if (j->kind == AIS__POOL_LP)
                        acc = j->p == 2.0f ? sqrtf(acc) : powf(acc, 1.0f / j->p);
                    y[o] = acc;
                    if (ix) ix[o] = arg < 0 ? -1 : plane_base + arg;
                }
    }
}

static ais_status ais__pool_lp_p(const ais__op_ctx *ctx, float *p) {
    const ais__attr *a = ais__attr_find(ctx->attrs, "p");
    /* An int from opset 2 on, a float in opset 1. */
    *p = !a ? 2.0f : a->type == AIS__ATTR_FLOAT ? a->f : (float)a->i;
    if (!(*p > 0.0f) || isinf(*p))
        return ais__error(AIS_E_INVALID_ARGUMENT, "p must be a positive number, got %g",
                          (double)*p);
    return AIS_OK;
}

static ais_status ais__pool_check_x(const ais_tensor *x, bool int8_ok) {
    /* MaxPool takes int8 and uint8 since opset 12 (a max of bytes needs no arithmetic). */
    if (int8_ok)
        return ais__expect_dtype(x, "input X", AIS_DTYPE_F32, AIS_DTYPE_F16, AIS_DTYPE_BF16,
                                 AIS_DTYPE_I8, AIS_DTYPE_U8, AIS_DTYPE_UNDEFINED);
    return ais__expect_dtype(x, "input X", AIS_DTYPE_F32, AIS_DTYPE_F16, AIS_DTYPE_BF16,
                             AIS_DTYPE_UNDEFINED);
}

static bool ais__pool_is_byte(ais_dtype d) { return d == AIS_DTYPE_I8 || d == AIS_DTYPE_U8; }

static ais_status ais__pool_geom(const ais__op_ctx *ctx, const ais_tensor *x, ais__dense_geom *g) {
    AIS__CHECK(ais__pool_check_x(x, ais__pool_is_byte(x->dtype) && ctx->op_type &&
                                        strcmp(ctx->op_type, "MaxPool") == 0 && ctx->opset >= 12));
    bool ceil_mode = ais__attr_int(ctx->attrs, "ceil_mode", 0) != 0;
    AIS__CHECK(ais__dense_geom_init(ctx, x, NULL, ceil_mode, g));
    int64_t d[5] = {x->dims[0], x->dims[1], g->out[0], g->out[1], g->out[2]};
    size_t numel;
    if (!ais__shape_numel(d, 5, sizeof(int64_t), &numel))
        return ais__error(AIS_E_LIMIT, "the output would be too large");
    return AIS_OK;
}

static ais_status ais__pool_infer(ais__op_ctx *ctx, const ais_tensor *const *in, size_t n_in,
                                  ais__tensor_desc *out, size_t n_out) {
    ais__dense_geom g;
    AIS__CHECK(ais__pool_geom(ctx, in[0], &g));
    if (ais__attr_int(ctx->attrs, "storage_order", 0) & ~(int64_t)1)
        return ais__error(AIS_E_INVALID_ARGUMENT, "storage_order must be 0 or 1");
    int64_t d[5] = {in[0]->dims[0], in[0]->dims[1]};
    for (size_t i = 0; i < g.nsp; i++)
        d[2 + i] = g.out[3 - g.nsp + i];
    ais__desc_set(&out[0], in[0]->dtype, d, 2 + g.nsp);
    if (n_out > 1) ais__desc_set(&out[1], AIS_DTYPE_I64, d, 2 + g.nsp);
    if (ais__attr_find(ctx->attrs, "p")) {
        float p;
        AIS__CHECK(ais__pool_lp_p(ctx, &p));
    }
    return AIS_OK;
}

/* Runs `job` over the planes, through f32 copies when x is f16, bf16 or (MaxPool) 8-bit
 * integers, which f32 holds exactly, so the max comes back exact. */
static ais_status ais__pool_run(ais__op_ctx *ctx, ais__pool_job *j, const ais_tensor *x,
                                ais_tensor *y, size_t planes) {
    float *w = NULL;
    bool bytes8 = ais__pool_is_byte(x->dtype);
    if (ais__dense_is_half(x->dtype) || bytes8) {
        size_t bytes;
        if (!ais__add_size(x->numel, y->numel, &bytes) ||
            !ais__mul_size(bytes, sizeof(float), &bytes))
            return ais__error(AIS_E_LIMIT, "work buffer size overflows");
        w = ais__op_scratch(ctx, bytes);
        if (!w) return ais__oom(bytes, "f32 work buffer");
        if (bytes8)
            for (size_t i = 0; i < x->numel; i++)
                w[i] = (float)ais__load_f64(x->data, x->dtype, i);
        else
            ais__dense_to_f32(x->data, x->dtype, w, x->numel);
        j->x = w;
        j->y = w + x->numel;
    }
    size_t work = (size_t)(j->osz * ais__dense_prod3(j->g.k)) + 1;
    ais__parallel_for(ctx->pool, planes, work >= 16384 ? 1 : 16384 / work + 1, ais__pool_range, j);
    if (w && bytes8)
        for (size_t i = 0; i < y->numel; i++)
            ais__store_f64(y->data, y->dtype, i, j->y[i]);
    else if (w)
        ais__dense_from_f32(j->y, y->dtype, y->data, y->numel);
    return AIS_OK;
}

/* ---- f32 2-D MaxPool without Indices: the table's plane kernel (lib/cpu, vectors over a padded
 * copy of the plane), one pool slot per thread with its own scratch ---- */

typedef struct {
    const float *x;
    float *y, *scratch;
    ais__conv_dw_geom dg;
    int64_t isz, osz;
    size_t planes, n_slots, per_slot;
} ais__maxpool2d_job;

static void ais__maxpool2d_slots(void *vj, size_t begin, size_t end) {
    const ais__maxpool2d_job *j = vj;
    const ais__cpu_kernels *t = ais__cpu();
    for (size_t s = begin; s < end; s++)
        for (size_t p = s * j->planes / j->n_slots; p < (s + 1) * j->planes / j->n_slots; p++)
            t->pool_max2d(j->x + (int64_t)p * j->isz, j->y + (int64_t)p * j->osz, &j->dg,
                          j->scratch + s * j->per_slot);
}

static ais_status ais__maxpool2d(ais__op_ctx *ctx, const ais__pool_job *pj, size_t planes) {
    const ais__dense_geom *g = &pj->g;
    ais__maxpool2d_job j = {.x = pj->x,
                            .y = pj->y,
                            .isz = pj->isz,
                            .osz = pj->osz,
                            .planes = planes,
                            .dg = {g->in[1], g->in[2], g->out[1], g->out[2], g->k[1], g->k[2],
                                   g->stride[1], g->stride[2], g->dil[1], g->dil[2], g->pb[1],
                                   g->pb[2]}};
    int32_t threads = ctx->pool ? ais__pool_threads(ctx->pool) : 1;
    double work = (double)pj->osz * (double)ais__dense_prod3(g->k) * (double)planes;
    j.n_slots = AIS__MIN(planes, work < 65536.0 ? 1 : (size_t)threads);
    if (!ais__conv_dw_plane_ok(&j.dg))
        return ais__error(AIS_E_LIMIT, "the padded plane of a pooling (%lld x %lld) is too large",
                          (long long)ais__conv_dw_padded_rows(&j.dg),
                          (long long)ais__conv_dw_padded_width(&j.dg));
    j.per_slot = (ais__conv_dw_scratch_floats(&j.dg) + 15) / 16 * 16;
    size_t bytes;
    if (!ais__mul_size(j.per_slot * j.n_slots, sizeof(float), &bytes))
        return ais__error(AIS_E_LIMIT, "max pool scratch size overflows");
    j.scratch = ais__op_scratch(ctx, bytes);
    if (!j.scratch) return ais__oom(bytes, "max pool padded planes");
    if (j.n_slots > 1)
        ais__parallel_for(ctx->pool, j.n_slots, 1, ais__maxpool2d_slots, &j);
    else
        ais__maxpool2d_slots(&j, 0, 1);
    return AIS_OK;
}

/* ---- f32 2-D AveragePool: the depthwise kernel with weights of 1 sums each window (padding
 * adds 0), then each sum is divided by the window's size or its count of input elements (the
 * product of the counts along the two axes), from a plane of divisors made once per call so
 * that the division is one loop the compiler vectorizes. 3x3 and 5x5 windows at strides 1 and 2
 * (ShuffleNet's and Inception's) take the table's dwconv_planes, which reads each plane in place
 * (2x faster than the padded copy at ShuffleNet's 240 x 28 x 28); others the plane kernel over a
 * padded copy, one pool slot per thread with its own scratch. ---- */

typedef struct {
    const float *x, *ones, *div;
    float *y, *scratch;
    ais__conv_dw_geom dg;
    int64_t isz, osz;
    bool in_place; /* dwconv_planes: no padded copy, no scratch */
    size_t planes, n_slots, per_slot;
} ais__avgpool2d_job;

static void ais__avgpool2d_planes(const ais__avgpool2d_job *j, size_t begin, size_t end,
                                  float *scratch) {
    const ais__cpu_kernels *t = ais__cpu();
    static const ais__conv_act none = {AIS__CONV_ACT_NONE, 0, 0, 0};
    const float *div = j->div;
    for (size_t p = begin; p < end; p++) {
        float *y = j->y + (int64_t)p * j->osz;
        const float *x = j->x + (int64_t)p * j->isz;
        if (j->in_place)
            t->dwconv_planes(x, j->ones, NULL, y, 1, &j->dg, &none);
        else
            t->conv_dw(x, j->ones, 0.0f, y, &j->dg, &none, scratch);
        for (int64_t i = 0; i < j->osz; i++)
            y[i] = y[i] / div[i];
    }
}

static void ais__avgpool2d_range(void *vj, size_t begin, size_t end) {
    ais__avgpool2d_planes(vj, begin, end, NULL);
}

/* Slot s: planes [s * planes / n_slots, (s + 1) * planes / n_slots) with its own scratch. */
static void ais__avgpool2d_slots(void *vj, size_t begin, size_t end) {
    const ais__avgpool2d_job *j = vj;
    for (size_t s = begin; s < end; s++)
        ais__avgpool2d_planes(j, s * j->planes / j->n_slots, (s + 1) * j->planes / j->n_slots,
                              j->scratch + s * j->per_slot);
}

/* Taps of a window at each output position along one axis that fall inside the input. */
static void ais__pool_counts(int64_t out, int64_t k, int64_t s, int64_t d, int64_t pb, int64_t in,
                             int64_t *cnt) {
    for (int64_t o = 0; o < out; o++) {
        cnt[o] = 0;
        for (int64_t i = 0; i < k; i++) {
            int64_t x = o * s - pb + i * d;
            cnt[o] += x >= 0 && x < in;
        }
    }
}

static ais_status ais__avgpool2d(ais__op_ctx *ctx, const ais__pool_job *pj, size_t planes) {
    const ais__dense_geom *g = &pj->g;
    const ais__cpu_kernels *t = ais__cpu();
    ais__avgpool2d_job j = {.x = pj->x,
                            .y = pj->y,
                            .isz = pj->isz,
                            .osz = pj->osz,
                            .planes = planes,
                            .dg = {g->in[1], g->in[2], g->out[1], g->out[2], g->k[1], g->k[2],
                                   g->stride[1], g->stride[2], g->dil[1], g->dil[2], g->pb[1],
                                   g->pb[2]}};
    int32_t threads = ctx->pool ? ais__pool_threads(ctx->pool) : 1;
    double work = (double)pj->osz * (double)ais__dense_prod3(g->k) * (double)planes;
    j.in_place = t->dwconv_planes && t->isa >= AIS_CPU_ISA_AVX2 && ais__dwconv_suits(&j.dg);
    j.n_slots = j.in_place ? 0 : AIS__MIN(planes, work < 65536.0 ? 1 : (size_t)threads);
    if (!j.in_place && !ais__conv_dw_plane_ok(&j.dg))
        return ais__error(AIS_E_LIMIT, "the padded plane of a pooling (%lld x %lld) is too large",
                          (long long)ais__conv_dw_padded_rows(&j.dg),
                          (long long)ais__conv_dw_padded_width(&j.dg));
    j.per_slot = j.in_place ? 0 : (ais__conv_dw_scratch_floats(&j.dg) + 15) / 16 * 16;
    /* scratch: the weights of 1, the counts along each axis (int64), the divisors' plane, then
     * the slots' padded planes */
    size_t kvol = (size_t)(g->k[1] * g->k[2]), n_cnt = (size_t)(g->out[1] + g->out[2]);
    size_t head = ((kvol + 1) / 2 * 2 + 2 * n_cnt + (size_t)pj->osz + 15) / 16 * 16, bytes;
    if (!ais__mul_size(j.per_slot, j.n_slots, &bytes) || !ais__add_size(bytes, head, &bytes) ||
        !ais__mul_size(bytes, sizeof(float), &bytes))
        return ais__error(AIS_E_LIMIT, "average pool scratch size overflows");
    float *scr = ais__op_scratch(ctx, bytes);
    if (!scr) return ais__oom(bytes, "average pool padded planes");
    float *ones = scr;
    for (size_t i = 0; i < kvol; i++)
        ones[i] = 1.0f;
    /* the counts as int64 after the weights, 8-byte aligned (an even float offset) */
    int64_t *cnt_h = (int64_t *)(void *)(scr + (kvol + 1) / 2 * 2), *cnt_w = cnt_h + g->out[1];
    ais__pool_counts(g->out[1], g->k[1], g->stride[1], g->dil[1], g->pb[1], g->in[1], cnt_h);
    ais__pool_counts(g->out[2], g->k[2], g->stride[2], g->dil[2], g->pb[2], g->in[2], cnt_w);
    /* A window wholly in the padding has count 0 and gives 0 (its sum is 0; the divisor 1). */
    float *div = scr + (kvol + 1) / 2 * 2 + 2 * n_cnt;
    for (int64_t oh = 0; oh < g->out[1]; oh++)
        for (int64_t ow = 0; ow < g->out[2]; ow++) {
            int64_t c = cnt_h[oh] * cnt_w[ow];
            div[oh * g->out[2] + ow] = pj->include_pad ? (float)kvol : c ? (float)c : 1.0f;
        }
    j.ones = ones;
    j.div = div;
    j.scratch = scr + head;
    if (j.in_place) {
        size_t per = (size_t)pj->osz * kvol + 1;
        ais__parallel_for(ctx->pool, planes, per >= 16384 ? 1 : 16384 / per + 1,
                          ais__avgpool2d_range, &j);
    } else if (j.n_slots > 1) {
        ais__parallel_for(ctx->pool, j.n_slots, 1, ais__avgpool2d_slots, &j);
    } else {
        ais__avgpool2d_slots(&j, 0, 1);
    }
    return AIS_OK;
}

/* ---- 8-bit MaxPool without Indices: the MaxPool of a QDQ model that fuse_qdq.c leaves on the
 * quantized tensor. A max of bytes needs no conversion to f32 (the generic path's two
 * element-by-element copies cost more than the pooling); per axis, the taps of each output
 * position that fall inside the input are worked out once, so the loops test no bounds ---- */

typedef struct {
    const void *x;
    void *y;
    const int64_t *lo[3], *hi[3]; /* per axis and output position: taps [lo, hi) inside */
    ais__dense_geom g;
    int64_t isz, osz;
    int64_t wa, wb; /* output columns whose whole window lies inside the row */
    bool is_signed;
} ais__maxpool8_job;

/*
 * Row by row: each output row starts at the type's minimum (every window has a tap inside:
 * checked) and takes the max with each input row its windows cover. Along the width, the
 * positions whose whole window lies inside ([wa, wb)) run tap by tap over all of them, a loop
 * the compiler vectorizes for the strides 1 and 2 that it sees as constants (ROW inlined); the
 * few edge positions take their own tap ranges.
 */
#define AIS__MAXPOOL8_PLANE(NAME, ROW, T, MIN)                                                     \
    static inline void ROW(T *restrict yr, const T *restrict r, int64_t n, int64_t s, int64_t k,   \
                           int64_t d) {                                                            \
        for (int64_t kw = 0; kw < k; kw++)                                                         \
            for (int64_t i = 0; i < n; i++) {                                                      \
                T v = r[i * s + kw * d];                                                           \
                yr[i] = v > yr[i] ? v : yr[i];                                                     \
            }                                                                                      \
    }                                                                                              \
    static void NAME(const ais__maxpool8_job *j, const T *x, T *y) {                               \
        const ais__dense_geom *g = &j->g;                                                          \
        const int64_t s2 = g->stride[2], pb2 = g->pb[2], d2 = g->dil[2];                           \
        for (int64_t od = 0; od < g->out[0]; od++)                                                 \
            for (int64_t oh = 0; oh < g->out[1]; oh++, y += g->out[2]) {                           \
                for (int64_t ow = 0; ow < g->out[2]; ow++)                                         \
                    y[ow] = MIN;                                                                   \
                for (int64_t kd = j->lo[0][od]; kd < j->hi[0][od]; kd++)                           \
                    for (int64_t kh = j->lo[1][oh]; kh < j->hi[1][oh]; kh++) {                     \
                        const T *r =                                                               \
                            x + ((od * g->stride[0] - g->pb[0] + kd * g->dil[0]) * g->in[1] +      \
                                 oh * g->stride[1] - g->pb[1] + kh * g->dil[1]) *                  \
                                    g->in[2];                                                      \
                        for (int64_t ow = 0; ow < g->out[2]; ow++) {                               \
                            if (ow == j->wa) ow = j->wb;                                           \
                            if (ow >= g->out[2]) break;                                            \
                            for (int64_t kw = j->lo[2][ow]; kw < j->hi[2][ow]; kw++) {             \
                                T v = r[ow * s2 - pb2 + kw * d2];                                  \
                                y[ow] = v > y[ow] ? v : y[ow];                                     \
                            }                                                                      \
                        }                                                                          \
                        if (j->wb <= j->wa) continue;                                              \
                        const T *ri = r + j->wa * s2 - pb2;                                        \
                        int64_t n = j->wb - j->wa;                                                 \
                        if (s2 == 1)                                                               \
                            ROW(y + j->wa, ri, n, 1, g->k[2], d2);                                 \
                        else if (s2 == 2)                                                          \
                            ROW(y + j->wa, ri, n, 2, g->k[2], d2);                                 \
                        else                                                                       \
                            ROW(y + j->wa, ri, n, s2, g->k[2], d2);                                \
                    }                                                                              \
            }                                                                                      \
    }
AIS__MAXPOOL8_PLANE(ais__maxpool8_u8, ais__maxpool8_row_u8, uint8_t, 0)
AIS__MAXPOOL8_PLANE(ais__maxpool8_s8, ais__maxpool8_row_s8, int8_t, -128)
#undef AIS__MAXPOOL8_PLANE

static void ais__maxpool8_range(void *vj, size_t begin, size_t end) {
    const ais__maxpool8_job *j = vj;
    for (size_t t = begin; t < end; t++)
        if (j->is_signed)
            ais__maxpool8_s8(j, (const int8_t *)j->x + (int64_t)t * j->isz,
                             (int8_t *)j->y + (int64_t)t * j->osz);
        else
            ais__maxpool8_u8(j, (const uint8_t *)j->x + (int64_t)t * j->isz,
                             (uint8_t *)j->y + (int64_t)t * j->osz);
}

/* *done false (nothing written) when some window lies wholly in the padding: the generic path
 * keeps its answer for those. */
static ais_status ais__maxpool8(ais__op_ctx *ctx, const ais__pool_job *pj, const ais_tensor *x,
                                ais_tensor *y, size_t planes, bool *done) {
    const ais__dense_geom *g = &pj->g;
    ais__maxpool8_job j = {.x = x->data,
                           .y = y->data,
                           .g = *g,
                           .isz = pj->isz,
                           .osz = pj->osz,
                           .is_signed = x->dtype == AIS_DTYPE_I8};
    *done = false;
    size_t n = (size_t)(g->out[0] + g->out[1] + g->out[2]), bytes;
    if (!ais__mul_size(n, 2 * sizeof(int64_t), &bytes))
        return ais__error(AIS_E_LIMIT, "max pool tap table size overflows");
    int64_t *tab = ais__op_scratch(ctx, bytes);
    if (!tab) return ais__oom(bytes, "max pool tap table");
    for (int a = 0; a < 3; a++) {
        int64_t *lo = tab, *hi = tab + g->out[a];
        for (int64_t o = 0; o < g->out[a]; o++) {
            lo[o] = g->k[a];
            hi[o] = 0;
            for (int64_t i = 0; i < g->k[a]; i++) {
                int64_t p = o * g->stride[a] - g->pb[a] + i * g->dil[a];
                if (p < 0 || p >= g->in[a]) continue;
                lo[o] = AIS__MIN(lo[o], i);
                hi[o] = i + 1;
            }
            if (lo[o] >= hi[o]) return AIS_OK;
        }
        j.lo[a] = lo;
        j.hi[a] = hi;
        tab += 2 * g->out[a];
    }
    j.wa = g->out[2];
    j.wb = 0;
    for (int64_t o = 0; o < g->out[2]; o++)
        if (o * g->stride[2] - g->pb[2] >= 0 &&
            o * g->stride[2] - g->pb[2] + (g->k[2] - 1) * g->dil[2] < g->in[2]) {
            j.wa = AIS__MIN(j.wa, o);
            j.wb = o + 1;
        }
    if (j.wb <= j.wa) j.wa = j.wb = g->out[2]; /* no inner column: the edge loop does all */
    size_t work = (size_t)(pj->osz * ais__dense_prod3(g->k)) + 1;
    ais__parallel_for(ctx->pool, planes, work >= 65536 ? 1 : 65536 / work + 1, ais__maxpool8_range,
                      &j);
    *done = true;
    return AIS_OK;
}

static ais_status ais__pool_compute(ais__op_ctx *ctx, const ais_tensor *const *in, size_t n_out,
                                    ais_tensor *const *out, int kind) {
    const ais_tensor *x = in[0];
    ais__pool_job j = {.kind = kind, .x = x->data, .y = out[0]->data};
    AIS__CHECK(ais__pool_geom(ctx, x, &j.g));
    j.include_pad = ais__attr_int(ctx->attrs, "count_include_pad", 0) != 0;
    j.col_major = ais__attr_int(ctx->attrs, "storage_order", 0) != 0;
    j.idx = n_out > 1 && out[1] ? out[1]->data : NULL;
    if (kind == AIS__POOL_LP) AIS__CHECK(ais__pool_lp_p(ctx, &j.p));
    j.isz = ais__dense_prod3(j.g.in);
    j.osz = ais__dense_prod3(j.g.out);
    if (out[0]->numel == 0) return AIS_OK;
    if (kind == AIS__POOL_MAX && !j.idx && ais__pool_is_byte(x->dtype)) {
        bool done;
        AIS__CHECK(ais__maxpool8(ctx, &j, x, out[0], (size_t)(x->dims[0] * x->dims[1]), &done));
        if (done) return AIS_OK;
    }
    if (kind == AIS__POOL_MAX && !j.idx && x->dtype == AIS_DTYPE_F32 && j.g.in[0] == 1 &&
        j.g.k[0] == 1 && ais__cpu()->isa >= AIS_CPU_ISA_AVX2)
        return ais__maxpool2d(ctx, &j, (size_t)(x->dims[0] * x->dims[1]));
    if (kind == AIS__POOL_AVG && x->dtype == AIS_DTYPE_F32 && j.g.in[0] == 1 && j.g.k[0] == 1 &&
        ais__cpu()->isa >= AIS_CPU_ISA_AVX2)
        return ais__avgpool2d(ctx, &j, (size_t)(x->dims[0] * x->dims[1]));
    return ais__pool_run(ctx, &j, x, out[0], (size_t)(x->dims[0] * x->dims[1]));
}

static ais_status ais__maxpool(ais__op_ctx *ctx, const ais_tensor *const *in, size_t n_in,
                               ais_tensor *const *out, size_t n_out) {
    return ais__pool_compute(ctx, in, n_out, out, AIS__POOL_MAX);
}
static ais_status ais__avgpool(ais__op_ctx *ctx, const ais_tensor *const *in, size_t n_in,
                               ais_tensor *const *out, size_t n_out) {
    return ais__pool_compute(ctx, in, n_out, out, AIS__POOL_AVG);
}
static ais_status ais__lppool(ais__op_ctx *ctx, const ais_tensor *const *in, size_t n_in,
                              ais_tensor *const *out, size_t n_out) {
    return ais__pool_compute(ctx, in, n_out, out, AIS__POOL_LP);
}

/* ---- global pools: one reduction per plane, any number of spatial axes ---- */

typedef struct {
    const float *x;
    float *y;
    int64_t plane;
    int kind;
    float p;
} ais__gpool_job;

static void ais__gpool_range(void *vj, size_t begin, size_t end) {
    const ais__gpool_job *j = vj;
    for (size_t t = begin; t < end; t++) {
        const float *x = j->x + (int64_t)t * j->plane;
        float acc = j->kind == AIS__POOL_MAX ? -INFINITY : 0.0f;
        if (j->kind == AIS__POOL_MAX) {
            for (int64_t i = 0; i < j->plane; i++)
                acc = x[i] > acc ? x[i] : acc;
        } else if (j->kind == AIS__POOL_AVG) {
            /* A plane can be large: the table's vector row sum over blocks of 1024 (float
             * partial sums, each block exact to a few ulp), the blocks added in double. */
            const ais__cpu_kernels *k = ais__cpu();
            double s = 0;
            for (int64_t i = 0; i < j->plane; i += 1024)
                s += k->row_sum(x + i, (size_t)AIS__MIN(1024, j->plane - i));
            acc = j->plane ? (float)(s / (double)j->plane) : NAN;
        } else {
            double s = 0;
            for (int64_t i = 0; i < j->plane; i++)
                s += pow(fabs((double)x[i]), j->p);
            acc = (float)pow(s, 1.0 / j->p);
        }
        j->y[t] = acc;
    }
}

static ais_status ais__gpool_infer(ais__op_ctx *ctx, const ais_tensor *const *in, size_t n_in,
                                   ais__tensor_desc *out, size_t n_out) {
    AIS__CHECK(ais__pool_check_x(in[0], false));
    AIS__CHECK(ais__expect_rank(in[0], "input X", 3, AIS_MAX_DIMS));
    int64_t d[AIS_MAX_DIMS];
    for (size_t i = 0; i < in[0]->ndim; i++)
        d[i] = i < 2 ? in[0]->dims[i] : 1;
    ais__desc_set(&out[0], in[0]->dtype, d, in[0]->ndim);
    if (ais__attr_find(ctx->attrs, "p")) {
        float p;
        AIS__CHECK(ais__pool_lp_p(ctx, &p));
    }
    return AIS_OK;
}

static ais_status ais__gpool_compute(ais__op_ctx *ctx, const ais_tensor *x, ais_tensor *y,
                                     int kind) {
    size_t planes = (size_t)(x->dims[0] * x->dims[1]);
    if (planes == 0) return AIS_OK;
    ais__gpool_job j = {x->data, y->data, (int64_t)(x->numel / planes), kind, 2.0f};
    if (kind == AIS__POOL_LP) AIS__CHECK(ais__pool_lp_p(ctx, &j.p));
    float *w = NULL;
    if (ais__dense_is_half(x->dtype)) {
        size_t bytes;
        if (!ais__add_size(x->numel, planes, &bytes) ||
            !ais__mul_size(bytes, sizeof(float), &bytes))
            return ais__error(AIS_E_LIMIT, "work buffer size overflows");
        w = ais__op_scratch(ctx, bytes);
        if (!w) return ais__oom(bytes, "f32 work buffer");
        ais__dense_to_f32(x->data, x->dtype, w, x->numel);
        j.x = w;
        j.y = w + x->numel;
    }
    size_t grain = j.plane >= 16384 ? 1 : (size_t)(16384 / (j.plane + 1)) + 1;
    ais__parallel_for(ctx->pool, planes, grain, ais__gpool_range, &j);
    if (w) ais__dense_from_f32(j.y, y->dtype, y->data, y->numel);
    return AIS_OK;
}

static ais_status ais__gmaxpool(ais__op_ctx *ctx, const ais_tensor *const *in, size_t n_in,
                                ais_tensor *const *out, size_t n_out) {
    return ais__gpool_compute(ctx, in[0], out[0], AIS__POOL_MAX);
}
static ais_status ais__gavgpool(ais__op_ctx *ctx, const ais_tensor *const *in, size_t n_in,
                                ais_tensor *const *out, size_t n_out) {
    return ais__gpool_compute(ctx, in[0], out[0], AIS__POOL_AVG);
}
static ais_status ais__glppool(ais__op_ctx *ctx, const ais_tensor *const *in, size_t n_in,
                               ais_tensor *const *out, size_t n_out) {
    return ais__gpool_compute(ctx, in[0], out[0], AIS__POOL_LP);
}

#define AIS__POOL_DEF(NAME, INFER, FN, MAXOUT)                                                     \
    {                                                                                              \
        .domain = "", .name = NAME, .since_version = 1, .min_inputs = 1, .max_inputs = 1,          \
        .min_outputs = 1, .max_outputs = MAXOUT, .infer = INFER, .compute = FN                     \
    }

/* Later opsets only added attributes (ceil_mode, dilations, storage_order) whose defaults keep
 * the older behaviour, so one entry per operator serves every opset. */
const ais__op_def ais__ops_pool[] = {
    AIS__POOL_DEF("MaxPool", ais__pool_infer, ais__maxpool, 2),
    AIS__POOL_DEF("AveragePool", ais__pool_infer, ais__avgpool, 1),
    AIS__POOL_DEF("LpPool", ais__pool_infer, ais__lppool, 1),
    AIS__POOL_DEF("GlobalMaxPool", ais__gpool_infer, ais__gmaxpool, 1),
    AIS__POOL_DEF("GlobalAveragePool", ais__gpool_infer, ais__gavgpool, 1),
    AIS__POOL_DEF("GlobalLpPool", ais__gpool_infer, ais__glppool, 1),
    {.name = NULL},
};
