/*
 * layout_index.c - operators driven by index tensors. Every index is range-checked before it is
 * used: an index out of range is AIS_E_INVALID_ARGUMENT naming the index, never a stray read.
 */
#include <math.h>
#include <string.h>

#include "layout_index.h"

static size_t ais__esz(const ais_tensor *t) { return ais_dtype_size(t->dtype); }

static ais_status ais__index_dtype(const ais_tensor *t, const char *what) {
    return ais__expect_dtype(t, what, AIS_DTYPE_I64, AIS_DTYPE_I32, AIS_DTYPE_UNDEFINED);
}

static ais_status ais__axis_of(const ais__op_ctx *ctx, int64_t dflt, size_t rank, size_t *axis) {
    int64_t a = ais__attr_int(ctx->attrs, "axis", dflt), na;
    if (!ais__norm_axis(a, (int64_t)rank, &na))
        return ais__error(AIS_E_INVALID_ARGUMENT, "axis %lld is out of range for rank %zu",
                          (long long)a, rank);
    *axis = (size_t)na;
    return AIS_OK;
}

/* Index value i at position pos, made non-negative and checked against extent d. */
static ais_status ais__index_at(const ais_tensor *idx, size_t pos, int64_t d, size_t axis,
                                int64_t *out) {
    int64_t v = ais__load_i64(idx->data, idx->dtype, pos);
    int64_t w = v < 0 ? v + d : v;
    if (w < 0 || w >= d)
        return ais__error(AIS_E_INVALID_ARGUMENT,
                          "index %lld at position %zu is out of range for axis %zu of extent %lld "
                          "(expected %lld to %lld)",
                          (long long)v, pos, axis, (long long)d, -(long long)d, (long long)d - 1);
    *out = w;
    return AIS_OK;
}

/* ---- Gather ---- */

ais_status ais__layout_gather_infer(ais__op_ctx *ctx, const ais_tensor *const *in, size_t n_in,
                                    ais__tensor_desc *out, size_t n_out) {
    (void)n_in, (void)n_out;
    const ais_tensor *x = in[0], *ix = in[1];
    AIS__CHECK(ais__index_dtype(ix, "indices"));
    if (x->ndim == 0)
        return ais__error(AIS_E_SHAPE, "data must have rank at least 1, got a scalar");
    size_t axis = 0;
    AIS__CHECK(ais__axis_of(ctx, 0, x->ndim, &axis));
    size_t r = x->ndim - 1 + ix->ndim;
    if (r > AIS_MAX_DIMS)
        return ais__error(AIS_E_LIMIT, "result rank %zu exceeds the limit of %d", r, AIS_MAX_DIMS);
    int64_t dims[AIS_MAX_DIMS];
    size_t k = 0;
    for (size_t i = 0; i < axis; i++)
        dims[k++] = x->dims[i];
    for (size_t i = 0; i < ix->ndim; i++)
        dims[k++] = ix->dims[i];
    for (size_t i = axis + 1; i < x->ndim; i++)
        dims[k++] = x->dims[i];
    ais__desc_set(out, x->dtype, dims, r);
    return AIS_OK;
}

ais_status ais__layout_gather_compute(ais__op_ctx *ctx, const ais_tensor *const *in, size_t n_in,
                                      ais_tensor *const *out, size_t n_out) {
    (void)n_in, (void)n_out;
    const ais_tensor *x = in[0], *ix = in[1];
    size_t axis = 0;
    AIS__CHECK(ais__axis_of(ctx, 0, x->ndim, &axis));
    size_t outer = 1, inner = ais__esz(x), n = ix->numel;
    int64_t d = x->dims[axis];
    for (size_t i = 0; i < axis; i++)
        outer *= (size_t)x->dims[i];
    for (size_t i = axis + 1; i < x->ndim; i++)
        inner *= (size_t)x->dims[i];
    for (size_t j = 0; j < n; j++) { /* check them all before any is used */
        int64_t w = 0;
        AIS__CHECK(ais__index_at(ix, j, d, axis, &w));
    }
    char *dst = out[0]->data;
    if (out[0]->numel == 0) return AIS_OK;
    for (size_t o = 0; o < outer; o++) {
        const char *src = (const char *)x->data + o * (size_t)d * inner;
        for (size_t j = 0; j < n; j++) {
            int64_t v = ais__load_i64(ix->data, ix->dtype, j);
            if (v < 0) v += d;
            memcpy(dst, src + (size_t)v * inner, inner);
            dst += inner;
        }
    }
    return AIS_OK;
}

/* ---- GatherElements, ScatterElements (the same walk over the index tensor) ---- */

static ais_status ais__elements_check(const ais__op_ctx *ctx, const ais_tensor *x,
                                      const ais_tensor *ix, size_t *axis) {
    AIS__CHECK(ais__index_dtype(ix, "indices"));
    char a[AIS__SHAPE_STR_MAX], b[AIS__SHAPE_STR_MAX];
    if (x->ndim == 0)
        return ais__error(AIS_E_SHAPE, "data must have rank at least 1, got a scalar");
    AIS__CHECK(ais__axis_of(ctx, 0, x->ndim, axis));
    bool ok = ix->ndim == x->ndim;
    for (size_t i = 0; ok && i < x->ndim; i++)
        ok = i == *axis || ix->dims[i] <= x->dims[i];
    if (!ok)
        return ais__error(AIS_E_SHAPE,
                          "indices of shape %s do not fit data of shape %s (same rank, no larger "
                          "off axis %zu)",
                          ais__shape_str(ix->dims, ix->ndim, a, sizeof a),
                          ais__shape_str(x->dims, x->ndim, b, sizeof b), *axis);
    return AIS_OK;
}

/* Element offset into data for every index position, or an error for a bad index. fn gets
 * (position in indices, offset in data). */
typedef void (*ais__elem_fn)(void *ud, size_t pos, size_t off);

static ais_status ais__elements_walk(const ais_tensor *x, const ais_tensor *ix, size_t axis,
                                     ais__elem_fn fn, void *ud) {
    int64_t xs[AIS_MAX_DIMS], idx[AIS_MAX_DIMS] = {0};
    ais__layout_strides(x->dims, x->ndim, xs);
    for (size_t p = 0; p < ix->numel; p++) {
        int64_t w = 0;
        AIS__CHECK(ais__index_at(ix, p, x->dims[axis], axis, &w));
        int64_t off = 0;
        for (size_t i = 0; i < x->ndim; i++)
            off += (i == axis ? w : idx[i]) * xs[i];
        fn(ud, p, (size_t)off);
        for (size_t i = ix->ndim; i-- > 0;) {
            if (++idx[i] < ix->dims[i]) break;
            idx[i] = 0;
        }
    }
    return AIS_OK;
}

typedef struct ais__elem_ud {
    char *dst;
    const char *src;
    size_t e;
    int red;
    ais_dtype dt;
} ais__elem_ud;

static void ais__gather_el_fn(void *v, size_t pos, size_t off) {
    ais__elem_ud *u = v;
    memcpy(u->dst + pos * u->e, u->src + off * u->e, u->e);
}

ais_status ais__layout_gather_el_infer(ais__op_ctx *ctx, const ais_tensor *const *in, size_t n_in,
                                       ais__tensor_desc *out, size_t n_out) {
    (void)n_in, (void)n_out;
    size_t axis = 0;
    AIS__CHECK(ais__elements_check(ctx, in[0], in[1], &axis));
    ais__desc_set(out, in[0]->dtype, in[1]->dims, in[1]->ndim);
    return AIS_OK;
}

ais_status ais__layout_gather_el_compute(ais__op_ctx *ctx, const ais_tensor *const *in, size_t n_in,
                                         ais_tensor *const *out, size_t n_out) {
    (void)n_in, (void)n_out;
    size_t axis = 0;
    AIS__CHECK(ais__elements_check(ctx, in[0], in[1], &axis));
    ais__elem_ud u = {.dst = out[0]->data, .src = in[0]->data, .e = ais__esz(in[0])};
    return ais__elements_walk(in[0], in[1], axis, ais__gather_el_fn, &u);
}

/* Scatter reductions: none, add, mul, max, min. */
enum { AIS__RED_NONE, AIS__RED_ADD, AIS__RED_MUL, AIS__RED_MAX, AIS__RED_MIN };

static ais_status ais__scatter_red(const ais__op_ctx *ctx, int *red) {
    const char *r = ais__attr_string(ctx->attrs, "reduction", "none");
    static const char *const names[] = {"none", "add", "mul", "max", "min"};
    int lim = ctx->opset >= 18 ? 5 : ctx->opset >= 16 ? 3 : 1;
    for (int i = 0; i < lim; i++)
        if (strcmp(r, names[i]) == 0) {
            *red = i;
            return AIS_OK;
        }
    return ais__error(AIS_E_UNSUPPORTED, "reduction '%s' is not supported at opset %lld", r,
                      (long long)ctx->opset);
}

/* dst[off] (op)= src[pos], elements of dtype dt. Arithmetic goes through double, so int64
 * values beyond 2^53 are rounded in add/mul. */
static void ais__scatter_one(const ais__elem_ud *u, size_t off, size_t pos) {
    if (u->red == AIS__RED_NONE) {
        memcpy(u->dst + off * u->e, u->src + pos * u->e, u->e);
        return;
    }
    double a = ais__load_f64(u->dst, u->dt, off), b = ais__load_f64(u->src, u->dt, pos);
    double r = u->red == AIS__RED_ADD   ? a + b
               : u->red == AIS__RED_MUL ? a * b
               : u->red == AIS__RED_MAX ? (b > a ? b : a)
                                        : (b < a ? b : a);
    ais__store_f64(u->dst, u->dt, off, r);
}

static void ais__scatter_el_fn(void *v, size_t pos, size_t off) { ais__scatter_one(v, off, pos); }

ais_status ais__layout_scatter_el_infer(ais__op_ctx *ctx, const ais_tensor *const *in, size_t n_in,
                                        ais__tensor_desc *out, size_t n_out) {
    (void)n_in, (void)n_out;
    size_t axis = 0;
    int red = AIS__RED_NONE;
    AIS__CHECK(ais__elements_check(ctx, in[0], in[1], &axis));
    AIS__CHECK(ais__scatter_red(ctx, &red));
    AIS__CHECK(ais__expect_same_dtype(in[2], "updates", in[0], "data"));
    if (!ais__tensor_same_shape(in[1], in[2])) {
        char a[AIS__SHAPE_STR_MAX], b[AIS__SHAPE_STR_MAX];
        return ais__error(AIS_E_SHAPE, "updates of shape %s must have the indices' shape %s",
                          ais__shape_str(in[2]->dims, in[2]->ndim, a, sizeof a),
                          ais__shape_str(in[1]->dims, in[1]->ndim, b, sizeof b));
    }
    ais__desc_from(out, in[0]);
    return AIS_OK;
}

ais_status ais__layout_scatter_el_compute(ais__op_ctx *ctx, const ais_tensor *const *in,
                                          size_t n_in, ais_tensor *const *out, size_t n_out) {
    (void)n_in, (void)n_out;
    size_t axis = 0;
    int red = AIS__RED_NONE;
    AIS__CHECK(ais__elements_check(ctx, in[0], in[1], &axis));
    AIS__CHECK(ais__scatter_red(ctx, &red));
    if (out[0]->data != in[0]->data && in[0]->nbytes)
        memcpy(out[0]->data, in[0]->data, in[0]->nbytes);
    ais__elem_ud u = {.dst = out[0]->data,
                      .src = in[2]->data,
                      .e = ais__esz(in[0]),
                      .red = red,
                      .dt = in[0]->dtype};
    return ais__elements_walk(in[0], in[1], axis, ais__scatter_el_fn, &u);
}

/* ---- GatherND, ScatterND ---- */

typedef struct ais__nd {
    size_t batch, tuples, last, slice; /* slice in elements */
    size_t block;                      /* data elements per batch */
    int64_t st[AIS_MAX_DIMS];          /* data strides of the indexed axes */
} ais__nd;

static ais_status ais__nd_plan(const ais_tensor *x, const ais_tensor *ix, int64_t b, ais__nd *p,
                               int64_t *dims, size_t *nd) {
    AIS__CHECK(ais__index_dtype(ix, "indices"));
    char s1[AIS__SHAPE_STR_MAX], s2[AIS__SHAPE_STR_MAX];
    size_t r = x->ndim, q = ix->ndim;
    if (q < 1 || r < 1) return ais__error(AIS_E_SHAPE, "data and indices must have rank >= 1");
    if (b < 0 || (size_t)b >= AIS__MIN(r, q))
        return ais__error(AIS_E_INVALID_ARGUMENT, "batch_dims %lld must be below both ranks",
                          (long long)b);
    int64_t last = ix->dims[q - 1];
    bool ok = last >= 1 && (size_t)last <= r - (size_t)b;
    for (int64_t i = 0; ok && i < b; i++)
        ok = x->dims[i] == ix->dims[i];
    if (!ok)
        return ais__error(AIS_E_SHAPE,
                          "indices of shape %s do not index data of shape %s "
                          "(batch_dims %lld)",
                          ais__shape_str(ix->dims, q, s1, sizeof s1),
                          ais__shape_str(x->dims, r, s2, sizeof s2), (long long)b);
    *nd = 0;
    for (size_t i = 0; i + 1 < q; i++)
        dims[(*nd)++] = ix->dims[i];
    for (size_t i = (size_t)(b + last); i < r; i++)
        dims[(*nd)++] = x->dims[i];
    if (*nd > AIS_MAX_DIMS)
        return ais__error(AIS_E_LIMIT, "result rank %zu exceeds the limit of %d", *nd,
                          AIS_MAX_DIMS);
    p->batch = p->tuples = p->slice = p->block = 1;
    p->last = (size_t)last;
    for (int64_t i = 0; i < b; i++)
        p->batch *= (size_t)x->dims[i];
    for (size_t i = (size_t)b; i + 1 < q; i++)
        p->tuples *= (size_t)ix->dims[i];
    for (size_t i = (size_t)(b + last); i < r; i++)
        p->slice *= (size_t)x->dims[i];
    for (size_t i = (size_t)b; i < r; i++)
        p->block *= (size_t)x->dims[i];
    int64_t s = (int64_t)p->slice;
    for (size_t k = (size_t)last; k-- > 0;) {
        p->st[k] = s;
        s *= x->dims[(size_t)b + k];
    }
    return AIS_OK;
}

/* Data element offset of tuple t (global over batches). */
static ais_status ais__nd_offset(const ais_tensor *x, const ais_tensor *ix, int64_t b,
                                 const ais__nd *p, size_t t, size_t *off) {
    size_t batch = t / p->tuples;
    int64_t o = (int64_t)(batch * p->block);
    for (size_t k = 0; k < p->last; k++) {
        int64_t w = 0;
        AIS__CHECK(ais__index_at(ix, t * p->last + k, x->dims[(size_t)b + k], (size_t)b + k, &w));
        o += w * p->st[k];
    }
    *off = (size_t)o;
    return AIS_OK;
}

ais_status ais__layout_gather_nd_infer(ais__op_ctx *ctx, const ais_tensor *const *in, size_t n_in,
                                       ais__tensor_desc *out, size_t n_out) {
    (void)n_in, (void)n_out;
    ais__nd p = {0};
    int64_t dims[2 * AIS_MAX_DIMS];
    size_t nd = 0;
    int64_t b = ctx->opset >= 12 ? ais__attr_int(ctx->attrs, "batch_dims", 0) : 0;
    AIS__CHECK(ais__nd_plan(in[0], in[1], b, &p, dims, &nd));
    ais__desc_set(out, in[0]->dtype, dims, nd);
    return AIS_OK;
}

ais_status ais__layout_gather_nd_compute(ais__op_ctx *ctx, const ais_tensor *const *in, size_t n_in,
                                         ais_tensor *const *out, size_t n_out) {
    (void)n_in, (void)n_out;
    ais__nd p = {0};
    int64_t dims[2 * AIS_MAX_DIMS];
    size_t nd = 0;
    int64_t b = ctx->opset >= 12 ? ais__attr_int(ctx->attrs, "batch_dims", 0) : 0;
    AIS__CHECK(ais__nd_plan(in[0], in[1], b, &p, dims, &nd));
    size_t e = ais__esz(in[0]), n = p.batch * p.tuples;
    if (in[1]->numel == 0) n = 0;
    for (size_t t = 0; t < n; t++) {
        size_t off;
        AIS__CHECK(ais__nd_offset(in[0], in[1], b, &p, t, &off));
        if (p.slice)
            memcpy((char *)out[0]->data + t * p.slice * e, (const char *)in[0]->data + off * e,
                   p.slice * e);
    }
    return AIS_OK;
}

ais_status ais__layout_scatter_nd_infer(ais__op_ctx *ctx, const ais_tensor *const *in, size_t n_in,
                                        ais__tensor_desc *out, size_t n_out) {
    (void)n_in, (void)n_out;
    ais__nd p = {0};
    int64_t dims[2 * AIS_MAX_DIMS];
    size_t nd = 0;
    int red = AIS__RED_NONE;
    AIS__CHECK(ais__scatter_red(ctx, &red));
    AIS__CHECK(ais__nd_plan(in[0], in[1], 0, &p, dims, &nd));
    AIS__CHECK(ais__expect_same_dtype(in[2], "updates", in[0], "data"));
    if (in[2]->ndim != nd || memcmp(in[2]->dims, dims, nd * sizeof *dims) != 0) {
        char a[AIS__SHAPE_STR_MAX], c[AIS__SHAPE_STR_MAX];
        return ais__error(AIS_E_SHAPE, "updates have shape %s, expected %s",
                          ais__shape_str(in[2]->dims, in[2]->ndim, a, sizeof a),
                          ais__shape_str(dims, nd, c, sizeof c));
    }
    ais__desc_from(out, in[0]);
    return AIS_OK;
}

ais_status ais__layout_scatter_nd_compute(ais__op_ctx *ctx, const ais_tensor *const *in,
                                          size_t n_in, ais_tensor *const *out, size_t n_out) {
    (void)n_in, (void)n_out;
    ais__nd p = {0};
    int64_t dims[2 * AIS_MAX_DIMS];
    size_t nd = 0;
    int red = AIS__RED_NONE;
    AIS__CHECK(ais__scatter_red(ctx, &red));
    AIS__CHECK(ais__nd_plan(in[0], in[1], 0, &p, dims, &nd));
    if (out[0]->data != in[0]->data && in[0]->nbytes)
        memcpy(out[0]->data, in[0]->data, in[0]->nbytes);
    ais__elem_ud u = {.dst = out[0]->data,
                      .src = in[2]->data,
                      .e = ais__esz(in[0]),
                      .red = red,
                      .dt = in[0]->dtype};
    size_t n = in[1]->numel ? p.tuples : 0;
    for (size_t t = 0; t < n; t++) {
        size_t off;
        AIS__CHECK(ais__nd_offset(in[0], in[1], 0, &p, t, &off));
        for (size_t k = 0; k < p.slice; k++)
            ais__scatter_one(&u, off + k, t * p.slice + k);
    }
    return AIS_OK;
}

/* ---- OneHot ---- */

static ais_status ais__onehot_plan(const ais__op_ctx *ctx, const ais_tensor *const *in,
                                   int64_t *depth, size_t *axis) {
    const ais_tensor *ix = in[0], *dp = in[1], *vals = in[2];
    if (!(ais__dtype_is_int(ix->dtype) || ais__dtype_is_float(ix->dtype)))
        return ais__error(AIS_E_DTYPE, "indices must be numeric, got %s",
                          ais_dtype_name(ix->dtype));
    if (dp->numel != 1 || !(ais__dtype_is_int(dp->dtype) || ais__dtype_is_float(dp->dtype)))
        return ais__error(AIS_E_INVALID_ARGUMENT, "depth must be one number, got %zu %s values",
                          dp->numel, ais_dtype_name(dp->dtype));
    if (vals->numel != 2)
        return ais__error(AIS_E_SHAPE, "values must hold [off_value, on_value], got %zu elements",
                          vals->numel);
    *depth = ais__load_i64(dp->data, dp->dtype, 0);
    if (*depth < 1 || *depth > (INT64_C(1) << 40))
        return ais__error(AIS_E_INVALID_ARGUMENT, "depth %lld must be positive", (long long)*depth);
    if (ix->ndim + 1 > AIS_MAX_DIMS)
        return ais__error(AIS_E_LIMIT, "result rank %u exceeds the limit of %d", ix->ndim + 1,
                          AIS_MAX_DIMS);
    return ais__axis_of(ctx, -1, ix->ndim + 1, axis);
}

ais_status ais__layout_onehot_infer(ais__op_ctx *ctx, const ais_tensor *const *in, size_t n_in,
                                    ais__tensor_desc *out, size_t n_out) {
    (void)n_in, (void)n_out;
    int64_t depth = 0, dims[AIS_MAX_DIMS];
    size_t axis = 0, k = 0;
    AIS__CHECK(ais__onehot_plan(ctx, in, &depth, &axis));
    for (size_t i = 0; i <= in[0]->ndim; i++)
        dims[i] = i == axis ? depth : in[0]->dims[k++];
    ais__desc_set(out, in[2]->dtype, dims, in[0]->ndim + 1);
    return AIS_OK;
}

ais_status ais__layout_onehot_compute(ais__op_ctx *ctx, const ais_tensor *const *in, size_t n_in,
                                      ais_tensor *const *out, size_t n_out) {
    (void)n_in, (void)n_out;
    int64_t depth = 0;
    size_t axis = 0;
    AIS__CHECK(ais__onehot_plan(ctx, in, &depth, &axis));
    const ais_tensor *ix = in[0];
    size_t e = ais__esz(in[2]), outer = 1, inner = 1;
    for (size_t i = 0; i < axis; i++)
        outer *= (size_t)ix->dims[i];
    for (size_t i = axis; i < ix->ndim; i++)
        inner *= (size_t)ix->dims[i];
    char *y = out[0]->data;
    const char *off = in[2]->data, *on = off + e;
    for (size_t i = 0; i < out[0]->numel; i++)
        memcpy(y + i * e, off, e);
    for (size_t o = 0; o < outer; o++)
        for (size_t i = 0; i < inner; i++) {
            int64_t v = ais__load_i64(ix->data, ix->dtype, o * inner + i);
            if (v < 0 && v >= -depth) v += depth;
            if (v >= 0 && v < depth)
                memcpy(y + ((o * (size_t)depth + (size_t)v) * inner + i) * e, on, e);
        }
    return AIS_OK;
}

/* ---- TopK ---- */

static ais_status ais__topk_plan(const ais__op_ctx *ctx, const ais_tensor *const *in, size_t n_in,
                                 size_t *axis, int64_t *k) {
    const ais_tensor *x = in[0];
    if (x->ndim == 0)
        return ais__error(AIS_E_SHAPE, "input must have rank at least 1, got a scalar");
    AIS__CHECK(ais__axis_of(ctx, -1, x->ndim, axis));
    if (ctx->opset < 10) {
        *k = ais__attr_int(ctx->attrs, "k", -1);
    } else {
        int64_t v[1];
        size_t n;
        AIS__CHECK(ais__read_int_list(in[1], "input 'K'", v, 1, &n));
        if (n != 1) return ais__error(AIS_E_SHAPE, "K must hold one value, got %zu", n);
        *k = v[0];
    }
    (void)n_in;
    if (*k < 0 || *k > x->dims[*axis])
        return ais__error(AIS_E_INVALID_ARGUMENT, "k = %lld is outside [0, %lld] (axis %zu)",
                          (long long)*k, (long long)x->dims[*axis], *axis);
    if (!(ais__dtype_is_int(x->dtype) || ais__dtype_is_float(x->dtype)))
        return ais__error(AIS_E_DTYPE, "input must be numeric, got %s", ais_dtype_name(x->dtype));
    return AIS_OK;
}

ais_status ais__layout_topk_infer(ais__op_ctx *ctx, const ais_tensor *const *in, size_t n_in,
                                  ais__tensor_desc *out, size_t n_out) {
    (void)n_out;
    size_t axis = 0;
    int64_t k = 0;
    AIS__CHECK(ais__topk_plan(ctx, in, n_in, &axis, &k));
    ais__desc_from(&out[0], in[0]);
    out[0].dims[axis] = k;
    ais__desc_from(&out[1], in[0]);
    out[1].dims[axis] = k;
    out[1].dtype = AIS_DTYPE_I64;
    return AIS_OK;
}

typedef struct ais__kv {
    double v;
    int64_t i;
} ais__kv;

/* Order of TopK: the larger (or smaller) value first, the lower index on ties; NaN first
 * among the largest like NumPy's sort puts it last. */
static bool ais__kv_before(const ais__kv *a, const ais__kv *b, bool largest) {
    bool an = isnan(a->v), bn = isnan(b->v);
    if (an || bn) {
        if (an && bn) return a->i < b->i;
        return largest ? an : bn;
    }
    if (a->v != b->v) return largest ? a->v > b->v : a->v < b->v;
    return a->i < b->i;
}

/* Bottom-up merge sort of n pairs (tmp has n too): stable and O(n log n) on any input. */
static void ais__kv_sort(ais__kv *a, ais__kv *tmp, size_t n, bool largest) {
    for (size_t w = 1; w < n; w *= 2) {
        for (size_t lo = 0; lo < n; lo += 2 * w) {
            size_t mid = AIS__MIN(lo + w, n), hi = AIS__MIN(lo + 2 * w, n), i = lo, j = mid, k = lo;
            while (i < mid && j < hi)
                tmp[k++] = ais__kv_before(&a[j], &a[i], largest) ? a[j++] : a[i++];
            while (i < mid)
                tmp[k++] = a[i++];
            while (j < hi)
                tmp[k++] = a[j++];
        }
        memcpy(a, tmp, n * sizeof *a);
    }
}

ais_status ais__layout_topk_compute(ais__op_ctx *ctx, const ais_tensor *const *in, size_t n_in,
                                    ais_tensor *const *out, size_t n_out) {
    (void)n_out;
    const ais_tensor *x = in[0];
    size_t axis = 0;
    int64_t k = 0;
    AIS__CHECK(ais__topk_plan(ctx, in, n_in, &axis, &k));
    bool largest = ctx->opset < 11 || ais__attr_int(ctx->attrs, "largest", 1) != 0;
    size_t d = (size_t)x->dims[axis], outer = 1, inner = 1, e = ais__esz(x);
    for (size_t i = 0; i < axis; i++)
        outer *= (size_t)x->dims[i];
    for (size_t i = axis + 1; i < x->ndim; i++)
        inner *= (size_t)x->dims[i];
    if (k == 0 || out[0]->numel == 0) return AIS_OK;
    size_t bytes;
    if (!ais__mul_size(d, 2 * sizeof(ais__kv), &bytes)) return ais__oom(SIZE_MAX, "TopK scratch");
    ais__kv *kv = ais__op_scratch(ctx, bytes);
    if (!kv) return ais__oom(bytes, "TopK scratch");
    bool ints = ais__dtype_is_int(x->dtype);
    for (size_t o = 0; o < outer; o++)
        for (size_t i = 0; i < inner; i++) {
            size_t base = o * d * inner + i;
            for (size_t j = 0; j < d; j++) {
                kv[j].v = ints ? (double)ais__load_i64(x->data, x->dtype, base + j * inner)
                               : ais__load_f64(x->data, x->dtype, base + j * inner);
                kv[j].i = (int64_t)j;
            }
            ais__kv_sort(kv, kv + d, d, largest);
            size_t ob = o * (size_t)k * inner + i;
            for (int64_t j = 0; j < k; j++) {
                size_t at = ob + (size_t)j * inner;
                memcpy((char *)out[0]->data + at * e,
                       (const char *)x->data + (base + (size_t)kv[j].i * inner) * e, e);
                ((int64_t *)out[1]->data)[at] = kv[j].i;
            }
        }
    return AIS_OK;
}

/* ---- CumSum ---- */

static ais_status ais__cumsum_axis(const ais_tensor *const *in, size_t *axis) {
    const ais_tensor *x = in[0], *a = in[1];
    if (!(ais__dtype_is_int(x->dtype) || ais__dtype_is_float(x->dtype)))
        return ais__error(AIS_E_DTYPE, "x must be numeric, got %s", ais_dtype_name(x->dtype));
    if (a->numel != 1 || !ais__dtype_is_int(a->dtype))
        return ais__error(AIS_E_INVALID_ARGUMENT, "axis must be one integer, got %zu %s values",
                          a->numel, ais_dtype_name(a->dtype));
    int64_t v = ais__load_i64(a->data, a->dtype, 0), n;
    if (x->ndim == 0 || !ais__norm_axis(v, (int64_t)x->ndim, &n))
        return ais__error(AIS_E_INVALID_ARGUMENT, "axis %lld is out of range for rank %u",
                          (long long)v, x->ndim);
    *axis = (size_t)n;
    return AIS_OK;
}

ais_status ais__layout_cumsum_infer(ais__op_ctx *ctx, const ais_tensor *const *in, size_t n_in,
                                    ais__tensor_desc *out, size_t n_out) {
    (void)ctx, (void)n_in, (void)n_out;
    size_t axis = 0;
    AIS__CHECK(ais__cumsum_axis(in, &axis));
    ais__desc_from(out, in[0]);
    return AIS_OK;
}

ais_status ais__layout_cumsum_compute(ais__op_ctx *ctx, const ais_tensor *const *in, size_t n_in,
                                      ais_tensor *const *out, size_t n_out) {
    (void)n_in, (void)n_out;
    const ais_tensor *x = in[0];
    size_t axis = 0;
    AIS__CHECK(ais__cumsum_axis(in, &axis));
    bool excl = ais__attr_int(ctx->attrs, "exclusive", 0) != 0;
    bool rev = ais__attr_int(ctx->attrs, "reverse", 0) != 0;
    size_t d = (size_t)x->dims[axis], outer = 1, inner = 1;
    for (size_t i = 0; i < axis; i++)
        outer *= (size_t)x->dims[i];
    for (size_t i = axis + 1; i < x->ndim; i++)
        inner *= (size_t)x->dims[i];
    bool ints = ais__dtype_is_int(x->dtype);
    for (size_t o = 0; o < outer; o++)
        for (size_t i = 0; i < inner; i++) {
            double fs = 0;
            uint64_t is = 0; /* wraps like the integer type would */
            for (size_t jj = 0; jj < d; jj++) {
                size_t j = rev ? d - 1 - jj : jj, at = (o * d + j) * inner + i;
                double fv = ints ? 0 : ais__load_f64(x->data, x->dtype, at);
                uint64_t iv = ints ? (uint64_t)ais__load_i64(x->data, x->dtype, at) : 0;
                if (!excl) fs += fv, is += iv;
                if (ints) {
                    int64_t s = (int64_t)is;
                    switch (x->dtype) {
                    case AIS_DTYPE_I64:
                    case AIS_DTYPE_U64: ((int64_t *)out[0]->data)[at] = s; break;
                    default: ais__store_f64(out[0]->data, x->dtype, at, (double)s); break;
                    }
                } else {
                    ais__store_f64(out[0]->data, x->dtype, at, fs);
                }
                if (excl) fs += fv, is += iv;
            }
        }
    return AIS_OK;
}

/* ---- NonZero ---- */

static size_t ais__nonzero_count(const ais_tensor *x) {
    size_t n = 0;
    bool fl = ais__dtype_is_float(x->dtype);
    for (size_t i = 0; i < x->numel; i++)
        n += fl ? ais__load_f64(x->data, x->dtype, i) != 0
                : ais__load_i64(x->data, x->dtype, i) != 0;
    return n;
}

ais_status ais__layout_nonzero_infer(ais__op_ctx *ctx, const ais_tensor *const *in, size_t n_in,
                                     ais__tensor_desc *out, size_t n_out) {
    (void)ctx, (void)n_in, (void)n_out;
    const ais_tensor *x = in[0];
    if (!(ais__dtype_is_int(x->dtype) || ais__dtype_is_float(x->dtype) ||
          x->dtype == AIS_DTYPE_BOOL))
        return ais__error(AIS_E_DTYPE, "input must be numeric or bool, got %s",
                          ais_dtype_name(x->dtype));
    /* a scalar is read as a vector of one, like numpy.nonzero */
    int64_t dims[2] = {x->ndim ? (int64_t)x->ndim : 1, (int64_t)ais__nonzero_count(x)};
    ais__desc_set(out, AIS_DTYPE_I64, dims, 2);
    return AIS_OK;
}

ais_status ais__layout_nonzero_compute(ais__op_ctx *ctx, const ais_tensor *const *in, size_t n_in,
                                       ais_tensor *const *out, size_t n_out) {
    (void)ctx, (void)n_in, (void)n_out;
    const ais_tensor *x = in[0];
    size_t nnz = (size_t)out[0]->dims[1], r = x->ndim, k = 0;
    int64_t *y = out[0]->data;
    int64_t idx[AIS_MAX_DIMS] = {0};
    bool fl = ais__dtype_is_float(x->dtype);
    for (size_t i = 0; i < x->numel && k < nnz; i++) {
        bool nz = fl ? ais__load_f64(x->data, x->dtype, i) != 0
                     : ais__load_i64(x->data, x->dtype, i) != 0;
        if (nz) {
            if (r == 0) y[k] = 0;
            for (size_t a = 0; a < r; a++)
                y[a * nnz + k] = idx[a];
            k++;
        }
        for (size_t a = r; a-- > 0;) {
            if (++idx[a] < x->dims[a]) break;
            idx[a] = 0;
        }
    }
    return AIS_OK;
}
