/*
 * reduce.c - ReduceSum/Mean/Max/Min/Prod/L1/L2/LogSum/LogSumExp/SumSquare, ArgMax and ArgMin.
 *
 * Every reduction is brought to one form, x[outer][r][inner] -> y[outer][inner]: adjacent axes
 * with the same role are merged, and when the reduced axes are not one contiguous block the input
 * is first transposed so they are (into scratch). One kernel per accumulator type (float for
 * f32/f16/bf16, double for f64 and the transcendental integer reductions, int64 for the exact
 * integer ones) then runs over blocks of [outer x inner] in parallel.
 */
#include <math.h>
#include <string.h>

#include "cpu/cpu.h"
#include "layout_util.h"

typedef enum ais__rkind {
    AIS__R_SUM,
    AIS__R_MEAN,
    AIS__R_MAX,
    AIS__R_MIN,
    AIS__R_PROD,
    AIS__R_L1,
    AIS__R_L2,
    AIS__R_LOGSUM,
    AIS__R_LOGSUMEXP,
    AIS__R_SUMSQ,
} ais__rkind;

typedef struct ais__rplan {
    bool noop;    /* empty axes with noop_with_empty_axes: the output is the input */
    bool permute; /* reduced axes must be moved last first */
    int64_t perm[AIS_MAX_DIMS];
    size_t outer, r, inner;
} ais__rplan;

/* What the node's attributes say, read once when the node is prepared (at load) so that a run
 * looks up no attribute by name. */
typedef struct ais__rparams {
    bool keepdims;
    bool noop_with_empty_axes;
    bool axes_from_attr; /* an opset before the axes input: `axes` holds the attribute's list */
    size_t n_axes;
    int64_t axes[AIS__LAYOUT_MAX_LIST];
} ais__rparams;

static ais_status ais__reduce_prepare(const ais__op_ctx *ctx, int64_t axes_since, void **state) {
    ais__rparams p = {.keepdims = ais__attr_int(ctx->attrs, "keepdims", 1) != 0,
                      .noop_with_empty_axes =
                          ais__attr_int(ctx->attrs, "noop_with_empty_axes", 0) != 0,
                      .axes_from_attr = ctx->opset < axes_since};
    if (p.axes_from_attr) { /* a list too long or of the wrong type fails the load */
        bool present;
        AIS__CHECK(ais__layout_int_arg(ctx, NULL, 0, 1, "axes", axes_since, p.axes,
                                       AIS__LAYOUT_MAX_LIST, &p.n_axes, &present, false));
    }
    return ais__op_state_dup(&p, sizeof p, "reduction attributes", state);
}

/* The reduced shape and the [outer][r][inner] form of input x. */
static ais_status ais__reduce_plan(const ais__op_ctx *ctx, const ais_tensor *const *in, size_t n_in,
                                   int64_t axes_since, ais__rplan *p, ais__tensor_desc *out) {
    const ais_tensor *x = in[0];
    const void *state;
    AIS__CHECK(ais__op_state(ctx, &state));
    const ais__rparams *prm = state;
    int64_t input_axes[AIS__LAYOUT_MAX_LIST];
    const int64_t *axes = prm->axes;
    size_t n = prm->n_axes;
    memset(p, 0, sizeof *p);
    if (!prm->axes_from_attr) {
        bool present;
        AIS__CHECK(ais__layout_int_arg(ctx, in, n_in, 1, "axes", axes_since, input_axes,
                                       AIS__LAYOUT_MAX_LIST, &n, &present, false));
        axes = input_axes;
    }
    bool mask[AIS_MAX_DIMS];
    AIS__CHECK(ais__layout_axes(axes, n, x->ndim, "axes", mask, NULL));
    if (n == 0) {
        if (prm->noop_with_empty_axes) {
            p->noop = true;
            if (out) ais__desc_from(out, x);
            return AIS_OK;
        }
        for (size_t i = 0; i < x->ndim; i++)
            mask[i] = true;
    }
    bool keep = prm->keepdims;
    int64_t dims[AIS_MAX_DIMS];
    size_t nd = 0;
    for (size_t i = 0; i < x->ndim; i++) {
        if (!mask[i])
            dims[nd++] = x->dims[i];
        else if (keep)
            dims[nd++] = 1;
    }
    if (out) ais__desc_set(out, x->dtype, dims, nd);

    /* Roles of the axes that matter (extent 1 moves nothing): count reduced runs. */
    size_t runs = 0, first_red = x->ndim, last_red = 0;
    bool prev = false;
    for (size_t i = 0; i < x->ndim; i++) {
        if (x->dims[i] == 1) continue;
        if (mask[i] && !prev) runs++;
        if (mask[i]) {
            if (first_red == x->ndim) first_red = i;
            last_red = i;
        }
        prev = mask[i];
    }
    p->outer = p->r = p->inner = 1;
    if (runs <= 1) {
        /* [before the run][the run, possibly with kept extent-1 axes][after the run] */
        if (first_red == x->ndim) { /* only extent-1 axes are reduced: a copy */
            for (size_t i = 0; i < x->ndim; i++)
                p->outer *= (size_t)x->dims[i];
            return AIS_OK;
        }
        for (size_t i = 0; i < x->ndim; i++) {
            size_t d = (size_t)x->dims[i];
            if (i < first_red)
                p->outer *= d;
            else if (i > last_red)
                p->inner *= d;
            else if (mask[i])
                p->r *= d;
        }
        return AIS_OK;
    }
    p->permute = true;
    size_t k = 0;
    for (size_t i = 0; i < x->ndim; i++)
        if (!mask[i]) {
            p->perm[k++] = (int64_t)i;
            p->outer *= (size_t)x->dims[i];
        }
    for (size_t i = 0; i < x->ndim; i++)
        if (mask[i]) {
            p->perm[k++] = (int64_t)i;
            p->r *= (size_t)x->dims[i];
        }
    return AIS_OK;
}

/* Inner axis block of one work unit: long enough to vectorize, short enough to split. */
#define AIS__RBLOCK 512

typedef struct ais__rtask {
    ais__rkind kind;
    const void *x;
    void *y, *tmp;
    size_t outer, r, inner, nb;
} ais__rtask;

/* Contiguous f32 rows of sum, mean, sum of squares, L2 and max go through the CPU kernel table
 * (lib/cpu); false for the other kinds, which take the generic row below. */
static inline bool ais__rf32_table(ais__rkind k, const float *x, size_t r, float *v) {
    const ais__cpu_kernels *c = ais__cpu();
    switch (k) {
    case AIS__R_SUM:
    case AIS__R_MEAN: *v = c->row_sum(x, r); return true;
    case AIS__R_SUMSQ:
    case AIS__R_L2: *v = c->row_sumsq(x, r); return true;
    case AIS__R_MAX: *v = c->row_max(x, r); return true;
    default: return false;
    }
}
static inline bool ais__rf64_table(ais__rkind k, const double *x, size_t r, double *v) {
    (void)k, (void)x, (void)r, (void)v;
    return false;
}

/* One kernel per accumulator type T. The inner==1 case keeps 8 independent partial results so
 * the compiler can vectorize without reassociating. NaN propagates through max and min. */
#define AIS__RKERNEL(NAME, T, SQRT, LOG, EXP, ABS, INF)                                            \
    static T NAME##_init(ais__rkind k) {                                                           \
        return k == AIS__R_PROD  ? (T)1                                                            \
               : k == AIS__R_MAX ? -(INF)                                                          \
               : k == AIS__R_MIN ? (INF)                                                           \
                                 : (T)0;                                                           \
    }                                                                                              \
    static inline T NAME##_step(ais__rkind k, T a, T v) {                                          \
        switch (k) {                                                                               \
        case AIS__R_MAX: return (v > a || v != v) ? v : a;                                         \
        case AIS__R_MIN: return (v < a || v != v) ? v : a;                                         \
        case AIS__R_PROD: return a * v;                                                            \
        case AIS__R_L1: return a + ABS(v);                                                         \
        case AIS__R_L2:                                                                            \
        case AIS__R_SUMSQ: return a + v * v;                                                       \
        default: return a + v;                                                                     \
        }                                                                                          \
    }                                                                                              \
    static inline T NAME##_merge(ais__rkind k, T a, T b) {                                         \
        return k == AIS__R_L1 || k == AIS__R_L2 || k == AIS__R_SUMSQ ? a + b                       \
                                                                     : NAME##_step(k, a, b);       \
    }                                                                                              \
    static inline T NAME##_final(ais__rkind k, T a, size_t r) {                                    \
        switch (k) {                                                                               \
        case AIS__R_MEAN: return a / (T)r;                                                         \
        case AIS__R_L2: return SQRT(a);                                                            \
        case AIS__R_LOGSUM: return LOG(a);                                                         \
        default: return a;                                                                         \
        }                                                                                          \
    }                                                                                              \
    static T NAME##_row(ais__rkind k, const T *x, size_t r) {                                      \
        T acc[8];                                                                                  \
        for (int j = 0; j < 8; j++)                                                                \
            acc[j] = NAME##_init(k);                                                               \
        size_t i = 0;                                                                              \
        for (; i + 8 <= r; i += 8)                                                                 \
            for (int j = 0; j < 8; j++)                                                            \
                acc[j] = NAME##_step(k, acc[j], x[i + j]);                                         \
        for (; i < r; i++)                                                                         \
            acc[0] = NAME##_step(k, acc[0], x[i]);                                                 \
        T a = acc[0];                                                                              \
        for (int j = 1; j < 8; j++)                                                                \
            a = NAME##_merge(k, a, acc[j]);                                                        \
        return a;                                                                                  \
    }                                                                                              \
    static void NAME##_unit(void *vt, size_t begin, size_t end) {                                  \
        const ais__rtask *t = vt;                                                                  \
        const ais__rkind k = t->kind;                                                              \
        const size_t r = t->r, inner = t->inner;                                                   \
        for (size_t u = begin; u < end; u++) {                                                     \
            size_t o = u / t->nb, i0 = (u % t->nb) * AIS__RBLOCK;                                  \
            size_t i1 = AIS__MIN(inner, i0 + AIS__RBLOCK);                                         \
            const T *xb = (const T *)t->x + o * r * inner;                                         \
            T *y = (T *)t->y + o * inner, *s = (T *)t->tmp + o * inner;                            \
            if (k == AIS__R_LOGSUMEXP) { /* max first, then the sum of shifted exponentials */     \
                for (size_t i = i0; i < i1; i++)                                                   \
                    y[i] = -(INF), s[i] = 0;                                                       \
                for (size_t j = 0; j < r; j++)                                                     \
                    for (size_t i = i0; i < i1; i++)                                               \
                        y[i] = NAME##_step(AIS__R_MAX, y[i], xb[j * inner + i]);                   \
                for (size_t j = 0; j < r; j++)                                                     \
                    for (size_t i = i0; i < i1; i++)                                               \
                        if (!isinf(y[i])) s[i] += EXP(xb[j * inner + i] - y[i]);                   \
                for (size_t i = i0; i < i1; i++)                                                   \
                    if (!isinf(y[i])) y[i] += LOG(s[i]);                                           \
                continue;                                                                          \
            }                                                                                      \
            if (inner == 1) {                                                                      \
                T v;                                                                               \
                if (!NAME##_table(k, xb, r, &v)) v = NAME##_row(k, xb, r);                         \
                y[0] = NAME##_final(k, v, r);                                                      \
                continue;                                                                          \
            }                                                                                      \
            for (size_t i = i0; i < i1; i++)                                                       \
                y[i] = NAME##_init(k);                                                             \
            for (size_t j = 0; j < r; j++) {                                                       \
                const T *row = xb + j * inner;                                                     \
                for (size_t i = i0; i < i1; i++)                                                   \
                    y[i] = NAME##_step(k, y[i], row[i]);                                           \
            }                                                                                      \
            for (size_t i = i0; i < i1; i++)                                                       \
                y[i] = NAME##_final(k, y[i], r);                                                   \
        }                                                                                          \
    }

AIS__RKERNEL(ais__rf32, float, sqrtf, logf, expf, fabsf, INFINITY)
AIS__RKERNEL(ais__rf64, double, sqrt, log, exp, fabs, (double)INFINITY)

/* Exact integer reductions; unsigned arithmetic so that overflow wraps instead of being UB. */
static int64_t ais__ri64_step(ais__rkind k, int64_t a, int64_t v) {
    switch (k) {
    case AIS__R_MAX: return v > a ? v : a;
    case AIS__R_MIN: return v < a ? v : a;
    case AIS__R_PROD: return (int64_t)((uint64_t)a * (uint64_t)v);
    case AIS__R_L1: return (int64_t)((uint64_t)a + (v < 0 ? 0 - (uint64_t)v : (uint64_t)v));
    case AIS__R_SUMSQ: return (int64_t)((uint64_t)a + (uint64_t)v * (uint64_t)v);
    default: return (int64_t)((uint64_t)a + (uint64_t)v);
    }
}

static void ais__ri64_unit(void *vt, size_t begin, size_t end) {
    const ais__rtask *t = vt;
    const size_t r = t->r, inner = t->inner;
    for (size_t u = begin; u < end; u++) {
        size_t o = u / t->nb, i0 = (u % t->nb) * AIS__RBLOCK;
        size_t i1 = AIS__MIN(inner, i0 + AIS__RBLOCK);
        const int64_t *xb = (const int64_t *)t->x + o * r * inner;
        int64_t *y = (int64_t *)t->y + o * inner;
        int64_t init = t->kind == AIS__R_PROD  ? 1
                       : t->kind == AIS__R_MAX ? INT64_MIN
                       : t->kind == AIS__R_MIN ? INT64_MAX
                                               : 0;
        for (size_t i = i0; i < i1; i++)
            y[i] = init;
        for (size_t j = 0; j < r; j++)
            for (size_t i = i0; i < i1; i++)
                y[i] = ais__ri64_step(t->kind, y[i], xb[j * inner + i]);
        if (t->kind == AIS__R_MEAN && r)
            for (size_t i = i0; i < i1; i++)
                y[i] /= (int64_t)r;
    }
}

static void ais__store_i64(void *data, ais_dtype dt, size_t i, int64_t v) {
    switch (dt) {
    case AIS_DTYPE_I64:
    case AIS_DTYPE_U64: ((int64_t *)data)[i] = v; break;
    case AIS_DTYPE_I32: ((int32_t *)data)[i] = (int32_t)v; break;
    case AIS_DTYPE_U32: ((uint32_t *)data)[i] = (uint32_t)v; break;
    case AIS_DTYPE_I16: ((int16_t *)data)[i] = (int16_t)v; break;
    case AIS_DTYPE_U16: ((uint16_t *)data)[i] = (uint16_t)v; break;
    case AIS_DTYPE_I8: ((int8_t *)data)[i] = (int8_t)v; break;
    case AIS_DTYPE_BOOL: ((uint8_t *)data)[i] = v != 0; break;
    default: ((uint8_t *)data)[i] = (uint8_t)v; break;
    }
}

/* Smallest and largest value of an integer dtype (the empty max and min). */
static void ais__int_range(ais_dtype dt, int64_t *lo, int64_t *hi) {
    switch (dt) {
    case AIS_DTYPE_I8: *lo = INT8_MIN, *hi = INT8_MAX; break;
    case AIS_DTYPE_I16: *lo = INT16_MIN, *hi = INT16_MAX; break;
    case AIS_DTYPE_I32: *lo = INT32_MIN, *hi = INT32_MAX; break;
    case AIS_DTYPE_I64: *lo = INT64_MIN, *hi = INT64_MAX; break;
    case AIS_DTYPE_U8: *lo = 0, *hi = UINT8_MAX; break;
    case AIS_DTYPE_BOOL: *lo = 0, *hi = 1; break;
    case AIS_DTYPE_U16: *lo = 0, *hi = UINT16_MAX; break;
    case AIS_DTYPE_U32: *lo = 0, *hi = UINT32_MAX; break;
    default: *lo = 0, *hi = -1; break; /* u64: all ones */
    }
}

typedef enum { AIS__ACC_F32, AIS__ACC_F64, AIS__ACC_I64 } ais__acc;

static ais_status ais__reduce_compute(ais__op_ctx *ctx, const ais_tensor *const *in, size_t n_in,
                                      ais_tensor *const *out, ais__rkind kind, int64_t axes_since) {
    const ais_tensor *x = in[0];
    ais_tensor *y = out[0];
    ais__rplan p;
    AIS__CHECK(ais__reduce_plan(ctx, in, n_in, axes_since, &p, NULL));
    if (p.noop) {
        if (x->nbytes) memcpy(y->data, x->data, x->nbytes);
        return AIS_OK;
    }
    if (y->numel == 0) return AIS_OK;
    ais_dtype dt = x->dtype;
    if (p.r == 0) { /* the reduction of an empty set: its identity */
        for (size_t i = 0; i < y->numel; i++) {
            if (!ais__dtype_is_float(dt) && (kind == AIS__R_MAX || kind == AIS__R_MIN)) {
                int64_t lo, hi;
                ais__int_range(dt, &lo, &hi);
                ais__store_i64(y->data, dt, i, kind == AIS__R_MAX ? lo : hi);
                continue;
            }
            double v = kind == AIS__R_PROD ? 1.0
                       : kind == AIS__R_MAX || kind == AIS__R_LOGSUM || kind == AIS__R_LOGSUMEXP
                           ? -INFINITY
                       : kind == AIS__R_MIN                             ? INFINITY
                       : kind == AIS__R_MEAN && ais__dtype_is_float(dt) ? NAN
                                                                        : 0.0;
            ais__store_f64(y->data, dt, i, v);
        }
        return AIS_OK;
    }
    ais__acc acc;
    if (dt == AIS_DTYPE_F32 || dt == AIS_DTYPE_F16 || dt == AIS_DTYPE_BF16)
        acc = AIS__ACC_F32;
    else if (dt == AIS_DTYPE_F64 || kind == AIS__R_L2 || kind == AIS__R_LOGSUM ||
             kind == AIS__R_LOGSUMEXP)
        acc = AIS__ACC_F64;
    else
        acc = AIS__ACC_I64;
    size_t asz = acc == AIS__ACC_F32 ? 4 : 8, esz = ais_dtype_size(dt);
    bool native = (acc == AIS__ACC_F32 && dt == AIS_DTYPE_F32) ||
                  (acc == AIS__ACC_F64 && dt == AIS_DTYPE_F64) ||
                  (acc == AIS__ACC_I64 && (dt == AIS_DTYPE_I64 || dt == AIS_DTYPE_U64));
    /* scratch: [transposed input][converted input][converted output][LogSumExp sums] */
    size_t sz_perm = p.permute ? x->nbytes : 0, sz_in = native ? 0 : x->numel * asz;
    size_t sz_out = native ? 0 : y->numel * asz, sz_tmp = y->numel * asz;
    size_t a1 = (sz_perm + 63) & ~(size_t)63, a2 = (sz_in + 63) & ~(size_t)63;
    size_t a3 = (sz_out + 63) & ~(size_t)63;
    size_t total = a1 + a2 + a3 + sz_tmp;
    char *scr = ais__op_scratch(ctx, total);
    if (!scr) return ais__oom(total, "reduction scratch");
    const void *src = x->data;
    if (p.permute) {
        ais__layout_transpose(scr, x->data, esz, x->ndim, x->dims, p.perm);
        src = scr;
    }
    void *xin = (void *)src, *yout = y->data;
    if (!native) {
        xin = scr + a1;
        yout = scr + a1 + a2;
        for (size_t i = 0; i < x->numel; i++) {
            if (acc == AIS__ACC_F32)
                ((float *)xin)[i] = (float)ais__load_f64(src, dt, i);
            else if (acc == AIS__ACC_F64)
                ((double *)xin)[i] = ais__load_f64(src, dt, i);
            else
                ((int64_t *)xin)[i] = ais__load_i64(src, dt, i);
        }
    }
    ais__rtask t = {.kind = kind,
                    .x = xin,
                    .y = yout,
                    .tmp = scr + a1 + a2 + a3,
                    .outer = p.outer,
                    .r = p.r,
                    .inner = p.inner,
                    .nb = (p.inner + AIS__RBLOCK - 1) / AIS__RBLOCK};
    size_t units = p.outer * t.nb, per_unit = p.r * AIS__MIN(p.inner, (size_t)AIS__RBLOCK);
    size_t grain = AIS__MAX((size_t)1, (size_t)(1 << 15) / AIS__MAX(per_unit, (size_t)1));
    ais__range_fn fn = acc == AIS__ACC_F32   ? ais__rf32_unit
                       : acc == AIS__ACC_F64 ? ais__rf64_unit
                                             : ais__ri64_unit;
    ais__parallel_for(x->numel >= (1u << 16) ? ctx->pool : NULL, units, grain, fn, &t);
    if (!native) {
        for (size_t i = 0; i < y->numel; i++) {
            if (acc == AIS__ACC_F32)
                ais__store_f64(y->data, dt, i, ((float *)yout)[i]);
            else if (acc == AIS__ACC_F64)
                ais__store_f64(y->data, dt, i, ((double *)yout)[i]);
            else
                ais__store_i64(y->data, dt, i, ((int64_t *)yout)[i]);
        }
    }
    return AIS_OK;
}

static ais_status ais__reduce_infer(ais__op_ctx *ctx, const ais_tensor *const *in, size_t n_in,
                                    ais__tensor_desc *out, ais__rkind kind, int64_t axes_since) {
    const ais_tensor *x = in[0];
    bool cmp = kind == AIS__R_MAX || kind == AIS__R_MIN;
    if (!(ais__dtype_is_float(x->dtype) || ais__dtype_is_int(x->dtype) ||
          (cmp && x->dtype == AIS_DTYPE_BOOL)))
        return ais__error(AIS_E_DTYPE, "input has dtype %s, expected a numeric type%s",
                          ais_dtype_name(x->dtype), cmp ? " or bool" : "");
    ais__rplan p;
    return ais__reduce_plan(ctx, in, n_in, axes_since, &p, out);
}

#define AIS__REDUCE_FNS(fn, kind, since)                                                           \
    static ais_status fn##_prepare(const ais__op_ctx *ctx, void **state) {                         \
        return ais__reduce_prepare(ctx, since, state);                                             \
    }                                                                                              \
    static ais_status fn##_infer(ais__op_ctx *ctx, const ais_tensor *const *in, size_t n_in,       \
                                 ais__tensor_desc *out, size_t n_out) {                            \
        (void)n_out;                                                                               \
        return ais__reduce_infer(ctx, in, n_in, out, kind, since);                                 \
    }                                                                                              \
    static ais_status fn##_compute(ais__op_ctx *ctx, const ais_tensor *const *in, size_t n_in,     \
                                   ais_tensor *const *out, size_t n_out) {                         \
        (void)n_out;                                                                               \
        return ais__reduce_compute(ctx, in, n_in, out, kind, since);                               \
    }

AIS__REDUCE_FNS(ais__rsum, AIS__R_SUM, 13)
AIS__REDUCE_FNS(ais__rmean, AIS__R_MEAN, 18)
AIS__REDUCE_FNS(ais__rmax, AIS__R_MAX, 18)
AIS__REDUCE_FNS(ais__rmin, AIS__R_MIN, 18)
AIS__REDUCE_FNS(ais__rprod, AIS__R_PROD, 18)
AIS__REDUCE_FNS(ais__rl1, AIS__R_L1, 18)
AIS__REDUCE_FNS(ais__rl2, AIS__R_L2, 18)
AIS__REDUCE_FNS(ais__rlogsum, AIS__R_LOGSUM, 18)
AIS__REDUCE_FNS(ais__rlse, AIS__R_LOGSUMEXP, 18)
AIS__REDUCE_FNS(ais__rsumsq, AIS__R_SUMSQ, 18)

/* ---- ArgMax / ArgMin ---- */

/* What the node's attributes say, read once when the node is prepared (at load) so that a run
 * looks up no attribute by name. */
typedef struct {
    int64_t axis;
    bool keepdims;
    bool last; /* select_last_index (opset 12 on): the last of equal extremes */
} ais__arg_params;

static ais__arg_params ais__arg_read(const ais__op_ctx *ctx) {
    return (ais__arg_params){.axis = ais__attr_int(ctx->attrs, "axis", 0),
                             .keepdims = ais__attr_int(ctx->attrs, "keepdims", 1) != 0,
                             .last = ctx->opset >= 12 &&
                                     ais__attr_int(ctx->attrs, "select_last_index", 0) != 0};
}

static ais_status ais__arg_prepare(const ais__op_ctx *ctx, void **state) {
    ais__arg_params p = ais__arg_read(ctx); /* an attribute of the wrong type fails the load */
    return ais__op_state_dup(&p, sizeof p, "ArgMax/ArgMin attributes", state);
}

static ais_status ais__arg_axis(const ais__arg_params *p, const ais_tensor *x, size_t *axis) {
    int64_t a = p->axis, r = (int64_t)x->ndim, na;
    if (r == 0) return ais__error(AIS_E_SHAPE, "input must have rank at least 1, got a scalar");
    if (!ais__norm_axis(a, r, &na))
        return ais__error(AIS_E_INVALID_ARGUMENT, "axis %lld is out of range for rank %lld",
                          (long long)a, (long long)r);
    *axis = (size_t)na;
    return AIS_OK;
}

static ais_status ais__arg_infer(ais__op_ctx *ctx, const ais_tensor *const *in, size_t n_in,
                                 ais__tensor_desc *out, size_t n_out) {
    (void)n_in, (void)n_out;
    const ais_tensor *x = in[0];
    if (!(ais__dtype_is_float(x->dtype) || ais__dtype_is_int(x->dtype) ||
          x->dtype == AIS_DTYPE_BOOL))
        return ais__error(AIS_E_DTYPE, "input has dtype %s, expected a numeric type",
                          ais_dtype_name(x->dtype));
    size_t axis = 0;
    const void *state;
    AIS__CHECK(ais__op_state(ctx, &state));
    const ais__arg_params *p = state;
    AIS__CHECK(ais__arg_axis(p, x, &axis));
    if (x->dims[axis] == 0 && x->numel == 0) {
        bool other_zero = false;
        for (size_t i = 0; i < x->ndim; i++)
            other_zero |= i != axis && x->dims[i] == 0;
        if (!other_zero)
            return ais__error(AIS_E_SHAPE,
                              "cannot take the index of an extreme over axis %zu, "
                              "which is empty",
                              axis);
    }
    bool keep = p->keepdims;
    int64_t dims[AIS_MAX_DIMS];
    size_t nd = 0;
    for (size_t i = 0; i < x->ndim; i++) {
        if (i != axis)
            dims[nd++] = x->dims[i];
        else if (keep)
            dims[nd++] = 1;
    }
    ais__desc_set(out, AIS_DTYPE_I64, dims, nd);
    return AIS_OK;
}

static ais_status ais__arg_compute(ais__op_ctx *ctx, const ais_tensor *x, ais_tensor *yt,
                                   bool is_max) {
    const void *state;
    AIS__CHECK(ais__op_state(ctx, &state));
    const ais__arg_params *p = state;
    size_t axis = 0;
    AIS__CHECK(ais__arg_axis(p, x, &axis));
    bool last = p->last;
    size_t outer = 1, inner = 1, r = (size_t)x->dims[axis];
    for (size_t i = 0; i < axis; i++)
        outer *= (size_t)x->dims[i];
    for (size_t i = axis + 1; i < x->ndim; i++)
        inner *= (size_t)x->dims[i];
    int64_t *y = yt->data;
    bool ints = !ais__dtype_is_float(x->dtype);
    for (size_t o = 0; o < outer; o++) {
        for (size_t i = 0; i < inner; i++) {
            size_t base = o * r * inner + i, best = 0;
            double bf = 0;
            int64_t bi = 0;
            for (size_t j = 0; j < r; j++) {
                size_t at = base + j * inner;
                bool better;
                if (ints) {
                    int64_t v = ais__load_i64(x->data, x->dtype, at);
                    if (x->dtype == AIS_DTYPE_BOOL) v = v != 0; /* any non-zero byte is true */
                    better = j == 0 || (is_max ? (v > bi || (last && v == bi))
                                               : (v < bi || (last && v == bi)));
                    if (better) bi = v;
                } else {
                    double v = x->dtype == AIS_DTYPE_F32 ? ((const float *)x->data)[at]
                                                         : ais__load_f64(x->data, x->dtype, at);
                    better = j == 0 || (is_max ? (v > bf || (last && v == bf))
                                               : (v < bf || (last && v == bf)));
                    if (better) bf = v;
                }
                if (better) best = j;
            }
            y[o * inner + i] = (int64_t)best;
        }
    }
    return AIS_OK;
}

static ais_status ais__argmax_compute(ais__op_ctx *ctx, const ais_tensor *const *in, size_t n_in,
                                      ais_tensor *const *out, size_t n_out) {
    (void)n_in, (void)n_out;
    return ais__arg_compute(ctx, in[0], out[0], true);
}

static ais_status ais__argmin_compute(ais__op_ctx *ctx, const ais_tensor *const *in, size_t n_in,
                                      ais_tensor *const *out, size_t n_out) {
    (void)n_in, (void)n_out;
    return ais__arg_compute(ctx, in[0], out[0], false);
}
#define AIS__ARG_OP(nm, fn)                                                                        \
    {                                                                                              \
        .domain = "", .name = nm, .since_version = 1, .min_inputs = 1, .max_inputs = 1,            \
        .min_outputs = 1, .max_outputs = 1, .infer = ais__arg_infer, .compute = fn,                \
        .prepare = ais__arg_prepare, .release = ais__op_state_free                                 \
    }

#define AIS__RED_OP(nm, since, hi, fn)                                                             \
    {                                                                                              \
        .domain = "", .name = nm, .since_version = since, .min_inputs = 1, .max_inputs = hi,       \
        .min_outputs = 1, .max_outputs = 1, .infer = fn##_infer, .compute = fn##_compute,          \
        .value_inputs = (hi) > 1 ? 1u << 1 : 0, .prepare = fn##_prepare,                           \
        .release = ais__op_state_free                                                              \
    }

const ais__op_def ais__ops_reduce[] = {
    AIS__RED_OP("ReduceSum", 1, 1, ais__rsum),
    AIS__RED_OP("ReduceSum", 13, 2, ais__rsum),
    AIS__RED_OP("ReduceMean", 1, 1, ais__rmean),
    AIS__RED_OP("ReduceMean", 18, 2, ais__rmean),
    AIS__RED_OP("ReduceMax", 1, 1, ais__rmax),
    AIS__RED_OP("ReduceMax", 18, 2, ais__rmax),
    AIS__RED_OP("ReduceMin", 1, 1, ais__rmin),
    AIS__RED_OP("ReduceMin", 18, 2, ais__rmin),
    AIS__RED_OP("ReduceProd", 1, 1, ais__rprod),
    AIS__RED_OP("ReduceProd", 18, 2, ais__rprod),
    AIS__RED_OP("ReduceL1", 1, 1, ais__rl1),
    AIS__RED_OP("ReduceL1", 18, 2, ais__rl1),
    AIS__RED_OP("ReduceL2", 1, 1, ais__rl2),
    AIS__RED_OP("ReduceL2", 18, 2, ais__rl2),
    AIS__RED_OP("ReduceLogSum", 1, 1, ais__rlogsum),
    AIS__RED_OP("ReduceLogSum", 18, 2, ais__rlogsum),
    AIS__RED_OP("ReduceLogSumExp", 1, 1, ais__rlse),
    AIS__RED_OP("ReduceLogSumExp", 18, 2, ais__rlse),
    AIS__RED_OP("ReduceSumSquare", 1, 1, ais__rsumsq),
    AIS__RED_OP("ReduceSumSquare", 18, 2, ais__rsumsq),
    AIS__ARG_OP("ArgMax", ais__argmax_compute),
    AIS__ARG_OP("ArgMin", ais__argmin_compute),
    {.name = NULL},
};
