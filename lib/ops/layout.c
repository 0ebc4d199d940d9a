/*
 * layout.c - operators that move elements without arithmetic: Transpose, Concat, Split, Slice,
 * Tile, Pad, DepthToSpace, SpaceToDepth, Trilu. They work on any dtype by moving bytes; most
 * reduce to the strided copy of layout_util.c. The indexing operators (Gather, TopK ...) are in
 * layout_index.c and listed in this file's table.
 */
#include <string.h>

#include "layout_index.h"

static size_t ais__esz(const ais_tensor *t) { return ais_dtype_size(t->dtype); }

static const char *ais__sh(const ais_tensor *t, char *buf) {
    return ais__shape_str(t->dims, t->ndim, buf, AIS__SHAPE_STR_MAX);
}

/* ---- Transpose ---- */

static ais_status ais__perm(const ais__op_ctx *ctx, const ais_tensor *x, int64_t *perm) {
    const int64_t *p;
    size_t n;
    size_t r = x->ndim;
    if (!ais__attr_ints(ctx->attrs, "perm", &p, &n)) {
        for (size_t i = 0; i < r; i++)
            perm[i] = (int64_t)(r - 1 - i);
        return AIS_OK;
    }
    bool seen[AIS_MAX_DIMS] = {false};
    bool ok = n == r;
    for (size_t i = 0; ok && i < n; i++) {
        ok = p[i] >= 0 && p[i] < (int64_t)r && !seen[p[i]];
        if (ok) seen[p[i]] = true, perm[i] = p[i];
    }
    if (!ok) {
        char a[AIS__SHAPE_STR_MAX];
        return ais__error(AIS_E_INVALID_ARGUMENT,
                          "perm %s is not a permutation of the %zu axes of the input",
                          ais__shape_str(p, n, a, sizeof a), r);
    }
    return AIS_OK;
}

static ais_status ais__transpose_infer(ais__op_ctx *ctx, const ais_tensor *const *in, size_t n_in,
                                       ais__tensor_desc *out, size_t n_out) {
    (void)n_in, (void)n_out;
    int64_t perm[AIS_MAX_DIMS], dims[AIS_MAX_DIMS];
    AIS__CHECK(ais__perm(ctx, in[0], perm));
    for (size_t i = 0; i < in[0]->ndim; i++)
        dims[i] = in[0]->dims[perm[i]];
    ais__desc_set(out, in[0]->dtype, dims, in[0]->ndim);
    return AIS_OK;
}

/* A large Transpose on the pool's threads: the output split along its first axis longer than 1
 * (ShuffleNet's channel shuffle, [1, c/g, g, H, W] from [1, g, c/g, H, W]: 16 copies of up to
 * 1.5 MiB), each range one strided copy. */
typedef struct ais__transpose_job {
    char *dst;
    const char *src;
    size_t elem, ndim, axis;
    int64_t od[AIS_MAX_DIMS], os[AIS_MAX_DIMS]; /* output extents, their source strides */
    int64_t dst_step;                           /* output elements per index of axis */
} ais__transpose_job;

#define AIS__TRANSPOSE_SPLIT_BYTES ((size_t)262144)

static void ais__transpose_range(void *vj, size_t begin, size_t end) {
    const ais__transpose_job *j = vj;
    int64_t od[AIS_MAX_DIMS];
    memcpy(od, j->od, j->ndim * sizeof *od);
    od[j->axis] = (int64_t)(end - begin);
    ais__layout_copy_strided(j->dst + (size_t)((int64_t)begin * j->dst_step) * j->elem,
                             j->src + (size_t)((int64_t)begin * j->os[j->axis]) * j->elem, j->elem,
                             j->ndim, od, j->os);
}

static ais_status ais__transpose_compute(ais__op_ctx *ctx, const ais_tensor *const *in, size_t n_in,
                                         ais_tensor *const *out, size_t n_out) {
    (void)n_in, (void)n_out;
    int64_t perm[AIS_MAX_DIMS];
    AIS__CHECK(ais__perm(ctx, in[0], perm));
    const ais_tensor *x = in[0];
    if (x->numel == 0) return AIS_OK;
    size_t nd = x->ndim, axis = 0;
    while (axis < nd && x->dims[perm[axis]] == 1)
        axis++;
    if (x->nbytes < AIS__TRANSPOSE_SPLIT_BYTES || axis >= nd || !ctx->pool ||
        ais__pool_threads(ctx->pool) < 2) {
        ais__layout_transpose(out[0]->data, x->data, ais__esz(x), nd, x->dims, perm);
        return AIS_OK;
    }
    ais__transpose_job j = {
        .dst = out[0]->data, .src = x->data, .elem = ais__esz(x), .ndim = nd, .axis = axis};
    int64_t in_st[AIS_MAX_DIMS];
    ais__layout_strides(x->dims, nd, in_st);
    j.dst_step = 1;
    for (size_t i = 0; i < nd; i++) {
        j.od[i] = x->dims[perm[i]];
        j.os[i] = in_st[perm[i]];
        if (i > axis) j.dst_step *= j.od[i];
    }
    /* ranges of at least 64 KiB */
    size_t per_index = x->nbytes / (size_t)j.od[axis];
    ais__parallel_for(ctx->pool, (size_t)j.od[axis], 65536 / (per_index + 1) + 1,
                      ais__transpose_range, &j);
    return AIS_OK;
}

/* ---- Concat ---- */

static ais_status ais__concat_axis(const ais__op_ctx *ctx, const ais_tensor *x, size_t *axis) {
    /* Required from opset 4; asking for the attribute itself tells a missing one from any value
     * a model may write (INT64_MIN included). */
    const ais__attr *aa = ais__attr_get(ctx->attrs, "axis", AIS__ATTR_INT);
    if (!aa && ctx->opset >= 4)
        return ais__error(AIS_E_INVALID_ARGUMENT, "attribute 'axis' is missing");
    int64_t a = aa ? aa->i : 1, na;
    if (x->ndim == 0)
        return ais__error(AIS_E_SHAPE, "inputs must have rank at least 1, got a scalar");
    if (!ais__norm_axis(a, (int64_t)x->ndim, &na))
        return ais__error(AIS_E_INVALID_ARGUMENT, "axis %lld is out of range for rank %u",
                          (long long)a, x->ndim);
    *axis = (size_t)na;
    return AIS_OK;
}

static ais_status ais__concat_infer(ais__op_ctx *ctx, const ais_tensor *const *in, size_t n_in,
                                    ais__tensor_desc *out, size_t n_out) {
    (void)n_out;
    size_t axis;
    AIS__CHECK(ais__concat_axis(ctx, in[0], &axis));
    int64_t dims[AIS_MAX_DIMS];
    memcpy(dims, in[0]->dims, in[0]->ndim * sizeof *dims);
    for (size_t k = 1; k < n_in; k++) {
        const ais_tensor *t = in[k];
        char a[AIS__SHAPE_STR_MAX], b[AIS__SHAPE_STR_MAX];
        if (!t) return ais__error(AIS_E_INVALID_ARGUMENT, "input %zu is missing", k);
        if (t->dtype != in[0]->dtype)
            return ais__error(AIS_E_DTYPE, "input %zu is %s but input 0 is %s", k,
                              ais_dtype_name(t->dtype), ais_dtype_name(in[0]->dtype));
        bool ok = t->ndim == in[0]->ndim;
        for (size_t i = 0; ok && i < t->ndim; i++)
            ok = i == axis || t->dims[i] == dims[i];
        if (!ok)
            return ais__error(AIS_E_SHAPE,
                              "input %zu has shape %s, which does not match input 0's %s except "
                              "on axis %zu (ranks must be equal too)",
                              k, ais__sh(t, a), ais__sh(in[0], b), axis);
        if (__builtin_add_overflow(dims[axis], t->dims[axis], &dims[axis]))
            return ais__error(AIS_E_LIMIT, "the concatenated axis overflows");
    }
    ais__desc_set(out, in[0]->dtype, dims, in[0]->ndim);
    return AIS_OK;
}

/* Concat copies its inputs' blocks in turn: per outer index, input k's n_k = dims[axis] *
 * inner bytes; Split the other way round. On several threads the joined tensor is cut into
 * ranges of whole 64 KiB units, each copying the parts of the blocks that fall in it
 * (SqueezeNet's Fire modules join two 1.5 MiB maps: 9% of the model's time at two threads when
 * one thread copied them; BERT's Split of the QKV product, 2% of its). */
typedef struct ais__concat_job {
    const ais_tensor *const *in;          /* the pieces: Concat's inputs, Split's outputs */
    size_t n_in, axis, inner, row, bytes; /* row: the joined bytes of one outer index */
    char *y;                              /* the joined tensor */
    bool split;                           /* copy from y into the pieces */
} ais__concat_job;

#define AIS__CONCAT_UNIT ((size_t)65536)

/* Output bytes [b, e) of the concatenation. */
static void ais__concat_bytes(const ais__concat_job *j, size_t b, size_t e) {
    while (b < e) {
        size_t o = b / j->row, r = b % j->row, base = 0;
        for (size_t k = 0; k < j->n_in && b < e; k++) {
            size_t n = (size_t)j->in[k]->dims[j->axis] * j->inner;
            if (r < base + n) {
                size_t from = r - base, len = AIS__MIN(base + n - r, e - b);
                char *piece = (char *)j->in[k]->data + o * n + from;
                /* (pieces the memory plan placed inside y never come here: their Concat step
                 * does not run, memory_plan.c) */
                if (j->split)
                    memcpy(piece, j->y + b, len);
                else
                    memcpy(j->y + b, piece, len);
                b += len;
                r += len;
            }
            base += n;
        }
    }
}

static void ais__concat_range(void *vj, size_t begin, size_t end) {
    const ais__concat_job *j = vj;
    ais__concat_bytes(j, begin * AIS__CONCAT_UNIT, AIS__MIN(end * AIS__CONCAT_UNIT, j->bytes));
}

static ais_status ais__concat_compute(ais__op_ctx *ctx, const ais_tensor *const *in, size_t n_in,
                                      ais_tensor *const *out, size_t n_out) {
    (void)n_out;
    size_t axis;
    AIS__CHECK(ais__concat_axis(ctx, in[0], &axis));
    ais_tensor *y = out[0];
    if (y->numel == 0) return AIS_OK;
    size_t outer = 1, inner = ais__esz(y);
    for (size_t i = 0; i < axis; i++)
        outer *= (size_t)y->dims[i];
    for (size_t i = axis + 1; i < y->ndim; i++)
        inner *= (size_t)y->dims[i];
    size_t bytes = y->numel * ais__esz(y);
    ais__concat_job j = {in, n_in, axis, inner, bytes / outer, bytes, y->data, false};
    /* 256 KiB and up (tens of microseconds) on the threads, in ranges of 2+ units */
    ais__parallel_for(ctx->pool, (bytes + AIS__CONCAT_UNIT - 1) / AIS__CONCAT_UNIT, 4,
                      ais__concat_range, &j);
    return AIS_OK;
}

/* ---- Split ---- */

static ais_status ais__split_sizes(const ais__op_ctx *ctx, const ais_tensor *const *in, size_t n_in,
                                   size_t n_out, size_t *axis, int64_t *sizes) {
    const ais_tensor *x = in[0];
    int64_t a = ais__attr_int(ctx->attrs, "axis", 0), na;
    if (!ais__norm_axis(a, (int64_t)x->ndim, &na))
        return ais__error(AIS_E_INVALID_ARGUMENT, "axis %lld is out of range for rank %u",
                          (long long)a, x->ndim);
    *axis = (size_t)na;
    int64_t d = x->dims[na];
    int64_t split[AIS__LAYOUT_MAX_LIST];
    size_t n;
    bool present;
    AIS__CHECK(ais__layout_int_arg(ctx, in, n_in, 1, "split", 13, split, AIS__LAYOUT_MAX_LIST, &n,
                                   &present, false));
    if (present && n > 0) {
        if (n != n_out)
            return ais__error(AIS_E_INVALID_ARGUMENT,
                              "split has %zu sizes but there are %zu outputs", n, n_out);
        int64_t sum = 0;
        for (size_t i = 0; i < n; i++) {
            if (split[i] < 0 || split[i] > d)
                return ais__error(AIS_E_INVALID_ARGUMENT, "split size %lld is out of range",
                                  (long long)split[i]);
            sum += split[i];
            sizes[i] = split[i];
        }
        if (sum != d)
            return ais__error(AIS_E_SHAPE, "split sizes add up to %lld, the axis has %lld",
                              (long long)sum, (long long)d);
        return AIS_OK;
    }
    const ais__attr *no =
        ctx->opset >= 18 ? ais__attr_get(ctx->attrs, "num_outputs", AIS__ATTR_INT) : NULL;
    if (no && no->i != (int64_t)n_out)
        return ais__error(AIS_E_INVALID_ARGUMENT, "num_outputs is %lld but there are %zu outputs",
                          (long long)no->i, n_out);
    int64_t chunk = (d + (int64_t)n_out - 1) / (int64_t)n_out;
    if (!no && d % (int64_t)n_out != 0)
        return ais__error(AIS_E_SHAPE, "axis of extent %lld cannot be split evenly into %zu parts",
                          (long long)d, n_out);
    int64_t left = d;
    for (size_t i = 0; i < n_out; i++) {
        sizes[i] = AIS__MIN(chunk, left);
        left -= sizes[i];
    }
    return AIS_OK;
}

static ais_status ais__split_infer(ais__op_ctx *ctx, const ais_tensor *const *in, size_t n_in,
                                   ais__tensor_desc *out, size_t n_out) {
    size_t axis;
    int64_t sizes[64];
    AIS__CHECK(ais__split_sizes(ctx, in, n_in, n_out, &axis, sizes));
    for (size_t i = 0; i < n_out; i++) {
        ais__desc_from(&out[i], in[0]);
        out[i].dims[axis] = sizes[i];
    }
    return AIS_OK;
}

static ais_status ais__split_compute(ais__op_ctx *ctx, const ais_tensor *const *in, size_t n_in,
                                     ais_tensor *const *out, size_t n_out) {
    const ais_tensor *x = in[0];
    size_t axis;
    int64_t sizes[64];
    AIS__CHECK(ais__split_sizes(ctx, in, n_in, n_out, &axis, sizes));
    size_t outer = 1, inner = ais__esz(x);
    for (size_t i = 0; i < axis; i++)
        outer *= (size_t)x->dims[i];
    for (size_t i = axis + 1; i < x->ndim; i++)
        inner *= (size_t)x->dims[i];
    size_t bytes = x->numel * ais__esz(x);
    if (bytes == 0) return AIS_OK;
    (void)sizes; /* the outputs' shapes carry them */
    ais__concat_job j = {
        (const ais_tensor *const *)out, n_out, axis, inner, bytes / outer, bytes, x->data, true};
    ais__parallel_for(ctx->pool, (bytes + AIS__CONCAT_UNIT - 1) / AIS__CONCAT_UNIT, 4,
                      ais__concat_range, &j);
    return AIS_OK;
}

/* ---- Slice ---- */

typedef struct ais__slice {
    int64_t start[AIS_MAX_DIMS], step[AIS_MAX_DIMS], len[AIS_MAX_DIMS];
} ais__slice;

static ais_status ais__slice_plan(const ais__op_ctx *ctx, const ais_tensor *const *in, size_t n_in,
                                  ais__slice *s) {
    const ais_tensor *x = in[0];
    int64_t st[AIS__LAYOUT_MAX_LIST], en[AIS__LAYOUT_MAX_LIST], ax[AIS__LAYOUT_MAX_LIST],
        sp[AIS__LAYOUT_MAX_LIST];
    size_t ns, ne, na = 0, np = 0;
    bool p1, p2, p3 = false, p4 = false;
    AIS__CHECK(ais__layout_int_arg(ctx, in, n_in, 1, "starts", 10, st, AIS__LAYOUT_MAX_LIST, &ns,
                                   &p1, true));
    AIS__CHECK(ais__layout_int_arg(ctx, in, n_in, 2, "ends", 10, en, AIS__LAYOUT_MAX_LIST, &ne, &p2,
                                   true));
    AIS__CHECK(ais__layout_int_arg(ctx, in, n_in, 3, "axes", 10, ax, AIS__LAYOUT_MAX_LIST, &na, &p3,
                                   true));
    if (ctx->opset >= 10 && n_in > 4 && in[4]) {
        AIS__CHECK(ais__read_index_list(in[4], "input 'steps'", sp, AIS__LAYOUT_MAX_LIST, &np));
        p4 = true;
    }
    if (!p1 || !p2) return ais__error(AIS_E_INVALID_ARGUMENT, "starts and ends are required");
    if (ne != ns || (p3 && na != ns) || (p4 && np != ns))
        return ais__error(AIS_E_INVALID_ARGUMENT,
                          "starts, ends, axes and steps must have the same length, got %zu, %zu, "
                          "%zu and %zu",
                          ns, ne, p3 ? na : ns, p4 ? np : ns);
    if (ns > x->ndim)
        return ais__error(AIS_E_INVALID_ARGUMENT, "%zu starts for an input of rank %u", ns,
                          x->ndim);
    int64_t axes[AIS_MAX_DIMS];
    if (!p3)
        for (size_t i = 0; i < ns; i++)
            ax[i] = (int64_t)i;
    AIS__CHECK(ais__layout_axes(ax, ns, x->ndim, "axes", NULL, axes));
    for (size_t i = 0; i < x->ndim; i++)
        s->start[i] = 0, s->step[i] = 1, s->len[i] = x->dims[i];
    for (size_t i = 0; i < ns; i++) {
        int64_t a = axes[i], d = x->dims[a];
        int64_t step = p4 ? sp[i] : 1;
        if (step == 0)
            return ais__error(AIS_E_INVALID_ARGUMENT, "step for axis %lld is 0", (long long)a);
        if (step < -INT64_MAX) step = -INT64_MAX;
        int64_t b = st[i], e = en[i];
        if (b < 0) b += d;
        if (e < 0) e = e < -INT64_MAX ? -1 : e + d;
        int64_t len;
        if (step > 0) {
            b = AIS__MIN(AIS__MAX(b, 0), d);
            e = AIS__MIN(AIS__MAX(e, 0), d);
            len = e > b ? (e - b - 1) / step + 1 : 0;
        } else {
            b = AIS__MIN(AIS__MAX(b, 0), d - 1);
            e = AIS__MIN(AIS__MAX(e, -1), d - 1);
            len = b > e ? (b - e - 1) / -step + 1 : 0;
        }
        s->start[a] = len ? b : 0;
        s->step[a] = step;
        s->len[a] = len;
    }
    return AIS_OK;
}

static ais_status ais__slice_infer(ais__op_ctx *ctx, const ais_tensor *const *in, size_t n_in,
                                   ais__tensor_desc *out, size_t n_out) {
    (void)n_out;
    ais__slice s;
    AIS__CHECK(ais__slice_plan(ctx, in, n_in, &s));
    ais__desc_set(out, in[0]->dtype, s.len, in[0]->ndim);
    return AIS_OK;
}

static ais_status ais__slice_compute(ais__op_ctx *ctx, const ais_tensor *const *in, size_t n_in,
                                     ais_tensor *const *out, size_t n_out) {
    (void)n_out;
    const ais_tensor *x = in[0];
    ais__slice s;
    AIS__CHECK(ais__slice_plan(ctx, in, n_in, &s));
    if (out[0]->numel == 0) return AIS_OK;
    int64_t xs[AIS_MAX_DIMS], st[AIS_MAX_DIMS], off = 0;
    ais__layout_strides(x->dims, x->ndim, xs);
    for (size_t i = 0; i < x->ndim; i++) {
        off += s.start[i] * xs[i];
        st[i] = s.step[i] * xs[i];
    }
    ais__layout_copy_strided(out[0]->data, (const char *)x->data + off * (int64_t)ais__esz(x),
                             ais__esz(x), x->ndim, s.len, st);
    return AIS_OK;
}

/* ---- Tile ---- */

static ais_status ais__tile_reps(const ais_tensor *const *in, int64_t *reps) {
    size_t n;
    AIS__CHECK(ais__read_int_list(in[1], "input 'repeats'", reps, AIS__LAYOUT_MAX_LIST, &n));
    if (n != in[0]->ndim)
        return ais__error(AIS_E_SHAPE, "repeats has %zu values, the input has rank %u", n,
                          in[0]->ndim);
    for (size_t i = 0; i < n; i++)
        if (reps[i] < 0)
            return ais__error(AIS_E_INVALID_ARGUMENT, "repeats[%zu] is negative (%lld)", i,
                              (long long)reps[i]);
    return AIS_OK;
}

static ais_status ais__tile_infer(ais__op_ctx *ctx, const ais_tensor *const *in, size_t n_in,
                                  ais__tensor_desc *out, size_t n_out) {
    (void)ctx, (void)n_in, (void)n_out;
    int64_t reps[AIS__LAYOUT_MAX_LIST], dims[AIS_MAX_DIMS];
    AIS__CHECK(ais__tile_reps(in, reps));
    for (size_t i = 0; i < in[0]->ndim; i++)
        if (__builtin_mul_overflow(in[0]->dims[i], reps[i], &dims[i]))
            return ais__error(AIS_E_LIMIT, "tiled extent of axis %zu overflows", i);
    ais__desc_set(out, in[0]->dtype, dims, in[0]->ndim);
    return AIS_OK;
}

static ais_status ais__tile_compute(ais__op_ctx *ctx, const ais_tensor *const *in, size_t n_in,
                                    ais_tensor *const *out, size_t n_out) {
    (void)ctx, (void)n_in, (void)n_out;
    const ais_tensor *x = in[0];
    if (out[0]->numel == 0) return AIS_OK;
    int64_t reps[AIS__LAYOUT_MAX_LIST], xs[AIS_MAX_DIMS];
    AIS__CHECK(ais__tile_reps(in, reps));
    /* output axis i is (repeat, position): a broadcast read of the input */
    int64_t dims[AIS__LAYOUT_MAX_RANK], st[AIS__LAYOUT_MAX_RANK];
    ais__layout_strides(x->dims, x->ndim, xs);
    for (size_t i = 0; i < x->ndim; i++) {
        dims[2 * i] = reps[i], st[2 * i] = 0;
        dims[2 * i + 1] = x->dims[i], st[2 * i + 1] = xs[i];
    }
    ais__layout_copy_strided(out[0]->data, x->data, ais__esz(x), 2 * x->ndim, dims, st);
    return AIS_OK;
}

/* ---- Pad ---- */

enum { AIS__PAD_CONSTANT, AIS__PAD_REFLECT, AIS__PAD_EDGE, AIS__PAD_WRAP };

typedef struct ais__pad {
    int mode;
    int64_t begin[AIS_MAX_DIMS], end[AIS_MAX_DIMS];
    unsigned char value[8]; /* the constant, as one element of the data's dtype */
} ais__pad;

static ais_status ais__pad_plan(const ais__op_ctx *ctx, const ais_tensor *const *in, size_t n_in,
                                ais__pad *p, int64_t *dims) {
    const ais_tensor *x = in[0];
    size_t r = x->ndim;
    const char *mode = ais__attr_string(ctx->attrs, "mode", "constant");
    if (strcmp(mode, "constant") == 0)
        p->mode = AIS__PAD_CONSTANT;
    else if (strcmp(mode, "reflect") == 0)
        p->mode = AIS__PAD_REFLECT;
    else if (strcmp(mode, "edge") == 0)
        p->mode = AIS__PAD_EDGE;
    else if (strcmp(mode, "wrap") == 0 && ctx->opset >= 19)
        p->mode = AIS__PAD_WRAP;
    else
        return ais__error(AIS_E_UNSUPPORTED, "mode '%s' is not supported at opset %lld", mode,
                          (long long)ctx->opset);
    int64_t pads[AIS__LAYOUT_MAX_LIST], ax[AIS__LAYOUT_MAX_LIST], axes[AIS_MAX_DIMS];
    size_t n, na = r;
    bool present;
    const char *pname = ctx->opset < 2 ? "paddings" : "pads";
    AIS__CHECK(ais__layout_int_arg(ctx, in, n_in, 1, pname, 11, pads, AIS__LAYOUT_MAX_LIST, &n,
                                   &present, false));
    if (!present) return ais__error(AIS_E_INVALID_ARGUMENT, "%s are missing", pname);
    if (ctx->opset >= 18 && n_in > 3 && in[3]) {
        AIS__CHECK(ais__read_index_list(in[3], "input 'axes'", ax, AIS__LAYOUT_MAX_LIST, &na));
        AIS__CHECK(ais__layout_axes(ax, na, r, "axes", NULL, axes));
    } else {
        for (size_t i = 0; i < r; i++)
            axes[i] = (int64_t)i;
    }
    if (n != 2 * na)
        return ais__error(AIS_E_INVALID_ARGUMENT,
                          "%s has %zu values, expected %zu (twice the number of axes)", pname, n,
                          2 * na);
    memset(p->begin, 0, sizeof p->begin);
    memset(p->end, 0, sizeof p->end);
    for (size_t i = 0; i < na; i++)
        p->begin[axes[i]] = pads[i], p->end[axes[i]] = pads[na + i];
    for (size_t i = 0; i < r; i++) {
        int64_t d = x->dims[i];
        if (__builtin_add_overflow(d, p->begin[i], &dims[i]) ||
            __builtin_add_overflow(dims[i], p->end[i], &dims[i]) || dims[i] < 0)
            return ais__error(AIS_E_SHAPE,
                              "pads %lld and %lld leave axis %zu of extent %lld with "
                              "no valid extent",
                              (long long)p->begin[i], (long long)p->end[i], i, (long long)d);
        if (p->mode != AIS__PAD_CONSTANT && d == 0 && dims[i] > 0)
            return ais__error(AIS_E_SHAPE, "cannot pad empty axis %zu in mode '%s'", i, mode);
    }
    memset(p->value, 0, sizeof p->value);
    if (ctx->opset >= 11) {
        const ais_tensor *cv = n_in > 2 ? in[2] : NULL;
        if (cv && cv->numel) {
            AIS__CHECK(ais__expect_same_dtype(cv, "constant_value", x, "data"));
            memcpy(p->value, cv->data, ais__esz(x));
        }
    } else {
        double v = ais__attr_float(ctx->attrs, "value", 0.0f);
        ais__store_f64(p->value, x->dtype, 0, v);
    }
    return AIS_OK;
}

static ais_status ais__pad_infer(ais__op_ctx *ctx, const ais_tensor *const *in, size_t n_in,
                                 ais__tensor_desc *out, size_t n_out) {
    (void)n_out;
    ais__pad p;
    int64_t dims[AIS_MAX_DIMS];
    AIS__CHECK(ais__pad_plan(ctx, in, n_in, &p, dims));
    ais__desc_set(out, in[0]->dtype, dims, in[0]->ndim);
    return AIS_OK;
}

/* Source coordinate of output coordinate o (already shifted by the begin pad); -1: constant. */
static int64_t ais__pad_map(int64_t i, int64_t d, int mode) {
    if (i >= 0 && i < d) return i;
    switch (mode) {
    case AIS__PAD_EDGE: return i < 0 ? 0 : d - 1;
    case AIS__PAD_WRAP: return ((i % d) + d) % d;
    case AIS__PAD_REFLECT: {
        if (d == 1) return 0;
        int64_t per = 2 * (d - 1);
        i = ((i % per) + per) % per;
        return i < d ? i : per - i;
    }
    default: return -1;
    }
}

static ais_status ais__pad_compute(ais__op_ctx *ctx, const ais_tensor *const *in, size_t n_in,
                                   ais_tensor *const *out, size_t n_out) {
    (void)n_out;
    const ais_tensor *x = in[0];
    ais_tensor *y = out[0];
    ais__pad p;
    int64_t dims[AIS_MAX_DIMS];
    AIS__CHECK(ais__pad_plan(ctx, in, n_in, &p, dims));
    if (y->numel == 0) return AIS_OK;
    size_t e = ais__esz(x), r = x->ndim;
    if (r == 0) {
        memcpy(y->data, x->data, e);
        return AIS_OK;
    }
    int64_t xs[AIS_MAX_DIMS], idx[AIS_MAX_DIMS] = {0};
    ais__layout_strides(x->dims, r, xs);
    int64_t W = y->dims[r - 1], d = x->dims[r - 1], pb = p.begin[r - 1];
    char *out_row = y->data;
    const char *src = x->data;
    for (;;) {
        int64_t off = 0;
        bool outside = false;
        for (size_t i = 0; i + 1 < r; i++) {
            int64_t s = ais__pad_map(idx[i] - p.begin[i], x->dims[i], p.mode);
            if (s < 0) {
                outside = true;
                break;
            }
            off += s * xs[i];
        }
        for (int64_t o = 0; o < W; o++) {
            char *dst = out_row + (size_t)o * e;
            int64_t s = outside ? -1 : ais__pad_map(o - pb, d, p.mode);
            if (s < 0) {
                memcpy(dst, p.value, e);
            } else if (o - pb == s) { /* the in-range middle: one copy */
                int64_t run = AIS__MIN(W - o, d - s);
                memcpy(dst, src + (size_t)(off + s) * e, (size_t)run * e);
                o += run - 1;
            } else {
                memcpy(dst, src + (size_t)(off + s) * e, e);
            }
        }
        out_row += (size_t)W * e;
        size_t i = r - 1;
        while (i > 0) {
            i--;
            if (++idx[i] < y->dims[i]) break;
            idx[i] = 0;
            if (i == 0) return AIS_OK;
        }
        if (r == 1) return AIS_OK;
    }
}

/* ---- DepthToSpace, SpaceToDepth ---- */

static ais_status ais__d2s_check(const ais__op_ctx *ctx, const ais_tensor *x, bool to_space,
                                 int64_t *b) {
    AIS__CHECK(ais__expect_rank(x, "input", 4, 4));
    *b = ais__attr_int(ctx->attrs, "blocksize", 0);
    if (*b <= 0 || *b > (1 << 20))
        return ais__error(AIS_E_INVALID_ARGUMENT, "blocksize must be positive, got %lld",
                          (long long)*b);
    char s[AIS__SHAPE_STR_MAX];
    if (to_space && x->dims[1] % (*b * *b) != 0)
        return ais__error(AIS_E_SHAPE,
                          "channels of input %s are not a multiple of blocksize^2 = %lld",
                          ais__sh(x, s), (long long)(*b * *b));
    if (!to_space && (x->dims[2] % *b != 0 || x->dims[3] % *b != 0))
        return ais__error(AIS_E_SHAPE,
                          "height and width of input %s are not multiples of "
                          "blocksize %lld",
                          ais__sh(x, s), (long long)*b);
    if (to_space && ctx->opset >= 11) {
        const char *m = ais__attr_string(ctx->attrs, "mode", "DCR");
        if (strcmp(m, "DCR") != 0 && strcmp(m, "CRD") != 0)
            return ais__error(AIS_E_UNSUPPORTED, "mode '%s', expected DCR or CRD", m);
    }
    return AIS_OK;
}

static ais_status ais__d2s_infer(ais__op_ctx *ctx, const ais_tensor *const *in, size_t n_in,
                                 ais__tensor_desc *out, size_t n_out) {
    (void)n_in, (void)n_out;
    int64_t b;
    AIS__CHECK(ais__d2s_check(ctx, in[0], true, &b));
    const int64_t *d = in[0]->dims;
    int64_t dims[4] = {d[0], d[1] / (b * b), d[2] * b, d[3] * b};
    ais__desc_set(out, in[0]->dtype, dims, 4);
    return AIS_OK;
}

static ais_status ais__d2s_compute(ais__op_ctx *ctx, const ais_tensor *const *in, size_t n_in,
                                   ais_tensor *const *out, size_t n_out) {
    (void)n_in, (void)n_out;
    const ais_tensor *x = in[0];
    int64_t b;
    AIS__CHECK(ais__d2s_check(ctx, x, true, &b));
    if (x->numel == 0) return AIS_OK;
    const int64_t *d = x->dims;
    bool crd = ctx->opset >= 11 && strcmp(ais__attr_string(ctx->attrs, "mode", "DCR"), "CRD") == 0;
    int64_t c = d[1] / (b * b);
    if (crd) {
        int64_t v[6] = {d[0], c, b, b, d[2], d[3]}, perm[6] = {0, 1, 4, 2, 5, 3};
        ais__layout_transpose(out[0]->data, x->data, ais__esz(x), 6, v, perm);
    } else {
        int64_t v[6] = {d[0], b, b, c, d[2], d[3]}, perm[6] = {0, 3, 4, 1, 5, 2};
        ais__layout_transpose(out[0]->data, x->data, ais__esz(x), 6, v, perm);
    }
    return AIS_OK;
}

static ais_status ais__s2d_infer(ais__op_ctx *ctx, const ais_tensor *const *in, size_t n_in,
                                 ais__tensor_desc *out, size_t n_out) {
    (void)n_in, (void)n_out;
    int64_t b;
    AIS__CHECK(ais__d2s_check(ctx, in[0], false, &b));
    const int64_t *d = in[0]->dims;
    int64_t dims[4];
    dims[0] = d[0], dims[2] = d[2] / b, dims[3] = d[3] / b;
    if (__builtin_mul_overflow(d[1], b * b, &dims[1]))
        return ais__error(AIS_E_LIMIT, "output channels overflow");
    ais__desc_set(out, in[0]->dtype, dims, 4);
    return AIS_OK;
}

static ais_status ais__s2d_compute(ais__op_ctx *ctx, const ais_tensor *const *in, size_t n_in,
                                   ais_tensor *const *out, size_t n_out) {
    (void)n_in, (void)n_out;
    const ais_tensor *x = in[0];
    int64_t b;
    AIS__CHECK(ais__d2s_check(ctx, x, false, &b));
    if (x->numel == 0) return AIS_OK;
    const int64_t *d = x->dims;
    int64_t v[6] = {d[0], d[1], d[2] / b, b, d[3] / b, b}, perm[6] = {0, 3, 5, 1, 2, 4};
    ais__layout_transpose(out[0]->data, x->data, ais__esz(x), 6, v, perm);
    return AIS_OK;
}

/* ---- Trilu ---- */

static ais_status ais__trilu_k(const ais_tensor *const *in, size_t n_in, int64_t *k) {
    *k = 0;
    if (n_in > 1 && in[1]) {
        if (in[1]->numel != 1 || in[1]->dtype != AIS_DTYPE_I64) /* int64 in ONNX */
            return ais__error(AIS_E_INVALID_ARGUMENT, "k must be one int64, got %zu %s values",
                              in[1]->numel, ais_dtype_name(in[1]->dtype));
        *k = ais__load_i64(in[1]->data, in[1]->dtype, 0);
    }
    return AIS_OK;
}

static ais_status ais__trilu_infer(ais__op_ctx *ctx, const ais_tensor *const *in, size_t n_in,
                                   ais__tensor_desc *out, size_t n_out) {
    (void)ctx, (void)n_out;
    int64_t k;
    AIS__CHECK(ais__expect_rank(in[0], "input", 2, AIS_MAX_DIMS));
    AIS__CHECK(ais__trilu_k(in, n_in, &k));
    ais__desc_from(out, in[0]);
    return AIS_OK;
}

static ais_status ais__trilu_compute(ais__op_ctx *ctx, const ais_tensor *const *in, size_t n_in,
                                     ais_tensor *const *out, size_t n_out) {
    (void)n_out;
    const ais_tensor *x = in[0];
    int64_t k;
    AIS__CHECK(ais__trilu_k(in, n_in, &k));
    bool upper = ais__attr_int(ctx->attrs, "upper", 1) != 0;
    if (x->numel == 0) return AIS_OK;
    int64_t R = x->dims[x->ndim - 2], C = x->dims[x->ndim - 1];
    size_t e = ais__esz(x), mats = x->numel / (size_t)(R * C);
    k = AIS__MAX(AIS__MIN(k, C + 1), -R - 1); /* beyond these every element is kept or zeroed */
    memcpy(out[0]->data, x->data, x->nbytes);
    for (size_t m = 0; m < mats; m++) {
        char *base = (char *)out[0]->data + m * (size_t)(R * C) * e;
        for (int64_t i = 0; i < R; i++) {
            /* upper keeps j >= i + k; lower keeps j <= i + k */
            int64_t lo = upper ? 0 : AIS__MAX(0, AIS__MIN(C, i + k + 1));
            int64_t hi = upper ? AIS__MAX(0, AIS__MIN(C, i + k)) : C;
            if (hi > lo) memset(base + (size_t)(i * C + lo) * e, 0, (size_t)(hi - lo) * e);
        }
    }
    return AIS_OK;
}

#define AIS__LAYOUT_OP(nm, since, lo, hi, olo, ohi, fn, vals)                                      \
    {                                                                                              \
        .domain = "", .name = nm, .since_version = since, .min_inputs = lo, .max_inputs = hi,      \
        .min_outputs = olo, .max_outputs = ohi, .infer = fn##_infer, .compute = fn##_compute,      \
        .value_inputs = vals                                                                       \
    }

/* Split's outputs are the parts: as many as the node has, never optional */
#define AIS__SPLIT_OP(since, hi, vals)                                                             \
    {                                                                                              \
        .domain = "", .name = "Split", .since_version = since, .min_inputs = 1, .max_inputs = hi,  \
        .min_outputs = 1, .max_outputs = 64, .infer = ais__split_infer,                            \
        .compute = ais__split_compute, .flags = AIS__OP_VARIADIC_OUTPUTS, .value_inputs = vals     \
    }

const ais__op_def ais__ops_layout[] = {
    AIS__LAYOUT_OP("Transpose", 1, 1, 1, 1, 1, ais__transpose, 0),
    AIS__LAYOUT_OP("Concat", 1, 1, -1, 1, 1, ais__concat, 0),
    AIS__SPLIT_OP(1, 1, 0),
    AIS__SPLIT_OP(13, 2, 1u << 1),
    AIS__LAYOUT_OP("Slice", 1, 1, 1, 1, 1, ais__slice, 0),
    AIS__LAYOUT_OP("Slice", 10, 3, 5, 1, 1, ais__slice, 0x1eu),
    AIS__LAYOUT_OP("Tile", 6, 2, 2, 1, 1, ais__tile, 1u << 1),
    AIS__LAYOUT_OP("Pad", 1, 1, 1, 1, 1, ais__pad, 0),
    AIS__LAYOUT_OP("Pad", 11, 2, 4, 1, 1, ais__pad, (1u << 1) | (1u << 3)),
    AIS__LAYOUT_OP("DepthToSpace", 1, 1, 1, 1, 1, ais__d2s, 0),
    AIS__LAYOUT_OP("SpaceToDepth", 1, 1, 1, 1, 1, ais__s2d, 0),
    AIS__LAYOUT_OP("Trilu", 14, 1, 2, 1, 1, ais__trilu, 1u << 1),
    AIS__LAYOUT_INDEX_OPS{.name = NULL},
};
