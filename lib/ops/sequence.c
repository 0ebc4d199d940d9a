/*
 * sequence.c - ONNX sequence operators (opset 11): SequenceEmpty, SequenceConstruct,
 * SequenceInsert, SequenceErase, SequenceAt, SequenceLength, SplitToSequence,
 * ConcatFromSequence.
 *
 * A sequence value is a scalar tensor of dtype AIS__DTYPE_SEQUENCE whose element is an owned
 * ais__sequence (tensor.h). Its items are never written after insertion, so sequences derived
 * from another one share the items' storage instead of copying them.
 */
#include <stdio.h>

#include "op.h"

static ais_status ais__expect_seq(const ais_tensor *t, const char *what) {
    if (t->dtype != AIS__DTYPE_SEQUENCE || !ais__seq(t))
        return ais__error(AIS_E_DTYPE, "%s must be a sequence, got a %s tensor", what,
                          ais_dtype_name(t->dtype));
    return AIS_OK;
}

static ais_status ais__expect_tensor(const ais_tensor *t, const char *what) {
    if (t->dtype == AIS__DTYPE_SEQUENCE)
        return ais__error(AIS_E_DTYPE, "%s must be a tensor, got a sequence", what);
    return AIS_OK;
}

static void ais__seq_desc(ais__tensor_desc *d) { ais__desc_set(d, AIS__DTYPE_SEQUENCE, NULL, 0); }

/* A position input: an int32/int64 scalar (or one-element tensor) in [lo, hi] after adding n to
 * a negative value. */
static ais_status ais__read_position(const ais_tensor *t, size_t n, bool allow_end, size_t *pos) {
    AIS__CHECK(ais__expect_dtype(t, "position", AIS_DTYPE_I32, AIS_DTYPE_I64, AIS_DTYPE_UNDEFINED));
    if (t->numel != 1 || t->ndim > 1)
        return ais__error(AIS_E_SHAPE, "position must be a scalar, got %u dims and %zu values",
                          t->ndim, t->numel);
    int64_t p = ais__load_i64(t->data, t->dtype, 0), sn = (int64_t)n;
    int64_t hi = allow_end ? sn : sn - 1;
    if (p < -sn || p > hi)
        return ais__error(AIS_E_INVALID_ARGUMENT,
                          "position %lld is out of range [%lld, %lld] for a sequence of %zu",
                          (long long)p, (long long)-sn, (long long)hi, n);
    *pos = (size_t)(p < 0 ? p + sn : p);
    return AIS_OK;
}

/* ---- SequenceEmpty ---- */

static ais_status ais__seq_empty_dtype(const ais__op_ctx *ctx, ais_dtype *dt) {
    int64_t d = ais__attr_int(ctx->attrs, "dtype", AIS_DTYPE_F32);
    if (d <= 0 || d > 64 || !ais__dtype_valid((ais_dtype)d))
        return ais__error(AIS_E_DTYPE, "attribute dtype %lld is not a supported element type",
                          (long long)d);
    *dt = (ais_dtype)d;
    return AIS_OK;
}

static ais_status ais__seq_empty_infer(ais__op_ctx *ctx, const ais_tensor *const *in, size_t n_in,
                                       ais__tensor_desc *out, size_t n_out) {
    (void)in, (void)n_in, (void)n_out;
    ais_dtype dt;
    AIS__CHECK(ais__seq_empty_dtype(ctx, &dt));
    ais__seq_desc(&out[0]);
    return AIS_OK;
}

static ais_status ais__seq_empty_compute(ais__op_ctx *ctx, const ais_tensor *const *in,
                                         size_t n_in, ais_tensor *const *out, size_t n_out) {
    (void)in, (void)n_in, (void)n_out;
    ais_dtype dt;
    AIS__CHECK(ais__seq_empty_dtype(ctx, &dt));
    return ais__seq_attach(out[0], dt, 0);
}

/* ---- SequenceConstruct ---- */

static ais_status ais__seq_construct_infer(ais__op_ctx *ctx, const ais_tensor *const *in,
                                           size_t n_in, ais__tensor_desc *out, size_t n_out) {
    (void)ctx, (void)n_out;
    for (size_t i = 0; i < n_in; i++) {
        char what[32];
        snprintf(what, sizeof what, "input %zu", i);
        AIS__CHECK(ais__expect_tensor(in[i], what));
        if (in[i]->dtype != in[0]->dtype)
            return ais__error(AIS_E_DTYPE, "all inputs must have one dtype: input 0 is %s, "
                              "input %zu is %s", ais_dtype_name(in[0]->dtype), i,
                              ais_dtype_name(in[i]->dtype));
    }
    ais__seq_desc(&out[0]);
    return AIS_OK;
}

static ais_status ais__seq_construct_compute(ais__op_ctx *ctx, const ais_tensor *const *in,
                                             size_t n_in, ais_tensor *const *out, size_t n_out) {
    (void)ctx, (void)n_out;
    AIS__CHECK(ais__seq_attach(out[0], in[0]->dtype, n_in));
    ais__sequence *s = ais__seq(out[0]);
    for (size_t i = 0; i < n_in; i++) AIS__CHECK(ais__seq_insert(s, s->n, in[i]));
    return AIS_OK;
}

/* ---- SequenceInsert / SequenceErase ---- */

static ais_status ais__seq_insert_infer(ais__op_ctx *ctx, const ais_tensor *const *in,
                                        size_t n_in, ais__tensor_desc *out, size_t n_out) {
    (void)ctx, (void)n_out;
    AIS__CHECK(ais__expect_seq(in[0], "input_sequence"));
    AIS__CHECK(ais__expect_tensor(in[1], "tensor"));
    const ais__sequence *s = ais__seq(in[0]);
    if (in[1]->dtype != s->elem_dtype)
        return ais__error(AIS_E_DTYPE, "the sequence holds %s tensors, the tensor is %s",
                          ais_dtype_name(s->elem_dtype), ais_dtype_name(in[1]->dtype));
    size_t pos;
    if (n_in > 2 && in[2]) AIS__CHECK(ais__read_position(in[2], s->n, true, &pos));
    ais__seq_desc(&out[0]);
    return AIS_OK;
}

static ais_status ais__seq_insert_compute(ais__op_ctx *ctx, const ais_tensor *const *in,
                                          size_t n_in, ais_tensor *const *out, size_t n_out) {
    (void)ctx, (void)n_out;
    const ais__sequence *src = ais__seq(in[0]);
    size_t pos = src->n;
    if (n_in > 2 && in[2]) AIS__CHECK(ais__read_position(in[2], src->n, true, &pos));
    AIS__CHECK(ais__seq_attach(out[0], src->elem_dtype, src->n + 1));
    ais__sequence *s = ais__seq(out[0]);
    AIS__CHECK(ais__seq_copy_into(s, src));
    return ais__seq_insert(s, pos, in[1]);
}

static ais_status ais__seq_erase_infer(ais__op_ctx *ctx, const ais_tensor *const *in, size_t n_in,
                                       ais__tensor_desc *out, size_t n_out) {
    (void)ctx, (void)n_out;
    AIS__CHECK(ais__expect_seq(in[0], "input_sequence"));
    const ais__sequence *s = ais__seq(in[0]);
    size_t pos;
    if (n_in > 1 && in[1]) {
        AIS__CHECK(ais__read_position(in[1], s->n, false, &pos));
    } else if (s->n == 0) {
        return ais__error(AIS_E_INVALID_ARGUMENT, "cannot erase from an empty sequence");
    }
    ais__seq_desc(&out[0]);
    return AIS_OK;
}

static ais_status ais__seq_erase_compute(ais__op_ctx *ctx, const ais_tensor *const *in,
                                         size_t n_in, ais_tensor *const *out, size_t n_out) {
    (void)ctx, (void)n_out;
    const ais__sequence *src = ais__seq(in[0]);
    size_t pos = src->n - 1;
    if (n_in > 1 && in[1]) AIS__CHECK(ais__read_position(in[1], src->n, false, &pos));
    AIS__CHECK(ais__seq_attach(out[0], src->elem_dtype, src->n));
    ais__sequence *s = ais__seq(out[0]);
    AIS__CHECK(ais__seq_copy_into(s, src));
    ais__seq_erase(s, pos);
    return AIS_OK;
}

/* ---- SequenceAt / SequenceLength ---- */

static ais_status ais__seq_at_infer(ais__op_ctx *ctx, const ais_tensor *const *in, size_t n_in,
                                    ais__tensor_desc *out, size_t n_out) {
    (void)ctx, (void)n_in, (void)n_out;
    AIS__CHECK(ais__expect_seq(in[0], "input_sequence"));
    const ais__sequence *s = ais__seq(in[0]);
    size_t pos;
    AIS__CHECK(ais__read_position(in[1], s->n, false, &pos));
    ais__desc_from(&out[0], s->items[pos]);
    return AIS_OK;
}

static ais_status ais__seq_at_compute(ais__op_ctx *ctx, const ais_tensor *const *in, size_t n_in,
                                      ais_tensor *const *out, size_t n_out) {
    (void)ctx, (void)n_in, (void)n_out;
    const ais__sequence *s = ais__seq(in[0]);
    size_t pos;
    AIS__CHECK(ais__read_position(in[1], s->n, false, &pos));
    return ais__elems_copy(out[0], 0, s->items[pos], 0, s->items[pos]->numel);
}

static ais_status ais__seq_length_infer(ais__op_ctx *ctx, const ais_tensor *const *in,
                                        size_t n_in, ais__tensor_desc *out, size_t n_out) {
    (void)ctx, (void)n_in, (void)n_out;
    AIS__CHECK(ais__expect_seq(in[0], "input_sequence"));
    ais__desc_set(&out[0], AIS_DTYPE_I64, NULL, 0);
    return AIS_OK;
}

static ais_status ais__seq_length_compute(ais__op_ctx *ctx, const ais_tensor *const *in,
                                          size_t n_in, ais_tensor *const *out, size_t n_out) {
    (void)ctx, (void)n_in, (void)n_out;
    *(int64_t *)out[0]->data = (int64_t)ais__seq(in[0])->n;
    return AIS_OK;
}

/* ---- SplitToSequence ---- */

/* The chunk lengths along the axis (into *lens, allocated) and whether the axis is dropped. */
typedef struct ais__split_plan {
    int64_t axis;
    bool squeeze;
    size_t n;
    int64_t *lens;
} ais__split_plan;

static ais_status ais__split_plan_make(const ais__op_ctx *ctx, const ais_tensor *const *in,
                                       size_t n_in, ais__split_plan *sp) {
    const ais_tensor *x = in[0];
    sp->lens = NULL;
    AIS__CHECK(ais__expect_tensor(x, "input"));
    if (x->ndim == 0)
        return ais__error(AIS_E_SHAPE, "input must have at least 1 dimension, got a scalar");
    int64_t axis = ais__attr_int(ctx->attrs, "axis", 0);
    if (!ais__norm_axis(axis, x->ndim, &sp->axis))
        return ais__error(AIS_E_INVALID_ARGUMENT, "axis %lld is out of range for rank %u",
                          (long long)axis, x->ndim);
    int64_t dim = x->dims[sp->axis];
    const ais_tensor *split = n_in > 1 ? in[1] : NULL;
    sp->squeeze = false;
    if (!split) {
        sp->squeeze = ais__attr_int(ctx->attrs, "keepdims", 1) == 0;
        sp->n = (size_t)dim;
    } else {
        if (!ais__dtype_is_int(split->dtype))
            return ais__error(AIS_E_DTYPE, "split must be an integer tensor, got %s",
                              ais_dtype_name(split->dtype));
        AIS__CHECK(ais__expect_rank(split, "split", 0, 1));
        if (split->ndim == 0) {
            int64_t c = ais__load_i64(split->data, split->dtype, 0);
            if (c <= 0)
                return ais__error(AIS_E_INVALID_ARGUMENT, "split must be positive, got %lld",
                                  (long long)c);
            sp->n = (size_t)(dim / c + (dim % c != 0));
        } else {
            sp->n = split->numel;
        }
    }
    sp->lens = ais__malloc((sp->n ? sp->n : 1) * sizeof *sp->lens);
    if (!sp->lens) return ais__oom(sp->n * sizeof *sp->lens, "split lengths");
    if (!split) {
        for (size_t i = 0; i < sp->n; i++) sp->lens[i] = 1;
    } else if (split->ndim == 0) {
        int64_t c = ais__load_i64(split->data, split->dtype, 0);
        for (size_t i = 0; i < sp->n; i++)
            sp->lens[i] = (int64_t)i + 1 < (int64_t)sp->n ? c : dim - c * (int64_t)(sp->n - 1);
    } else {
        int64_t sum = 0;
        for (size_t i = 0; i < sp->n; i++) {
            int64_t c = ais__load_i64(split->data, split->dtype, i);
            if (c < 0 || c > dim - sum) {
                ais__free(sp->lens);
                sp->lens = NULL;
                return ais__error(AIS_E_INVALID_ARGUMENT,
                                  "split lengths must be >= 0 and sum to %lld (axis %lld); entry "
                                  "%zu is %lld",
                                  (long long)dim, (long long)sp->axis, i, (long long)c);
            }
            sp->lens[i] = c;
            sum += c;
        }
        if (sum != dim) {
            ais__free(sp->lens);
            sp->lens = NULL;
            return ais__error(AIS_E_INVALID_ARGUMENT,
                              "split lengths sum to %lld, the axis has %lld", (long long)sum,
                              (long long)dim);
        }
    }
    return AIS_OK;
}

static ais_status ais__split_seq_infer(ais__op_ctx *ctx, const ais_tensor *const *in, size_t n_in,
                                       ais__tensor_desc *out, size_t n_out) {
    (void)n_out;
    ais__split_plan sp;
    AIS__CHECK(ais__split_plan_make(ctx, in, n_in, &sp));
    ais__free(sp.lens);
    ais__seq_desc(&out[0]);
    return AIS_OK;
}

static ais_status ais__split_seq_compute(ais__op_ctx *ctx, const ais_tensor *const *in,
                                         size_t n_in, ais_tensor *const *out, size_t n_out) {
    (void)n_out;
    const ais_tensor *x = in[0];
    ais__split_plan sp;
    AIS__CHECK(ais__split_plan_make(ctx, in, n_in, &sp));
    ais_status st = ais__seq_attach(out[0], x->dtype, sp.n);
    ais__sequence *s = st == AIS_OK ? ais__seq(out[0]) : NULL;
    size_t outer = 1, inner = 1;
    for (int64_t d = 0; d < sp.axis; d++) outer *= (size_t)x->dims[d];
    for (uint32_t d = (uint32_t)sp.axis + 1; d < x->ndim; d++) inner *= (size_t)x->dims[d];
    size_t dim = (size_t)x->dims[sp.axis], start = 0;
    for (size_t i = 0; i < sp.n && st == AIS_OK; i++) {
        int64_t dims[AIS_MAX_DIMS];
        size_t nd = 0;
        for (uint32_t d = 0; d < x->ndim; d++) {
            if ((int64_t)d == sp.axis && sp.squeeze) continue;
            dims[nd++] = (int64_t)d == sp.axis ? sp.lens[i] : x->dims[d];
        }
        ais_tensor *c;
        if ((st = ais__tensor_new(x->dtype, dims, nd, &c)) != AIS_OK) break;
        size_t len = (size_t)sp.lens[i];
        for (size_t o = 0; o < outer && st == AIS_OK; o++)
            st = ais__elems_copy(c, o * len * inner, x, (o * dim + start) * inner, len * inner);
        if (st == AIS_OK) {
            s->items[s->n++] = c; /* reserved by ais__seq_attach */
        } else {
            ais_tensor_destroy(c);
        }
        start += len;
    }
    ais__free(sp.lens);
    return st;
}

/* ---- ConcatFromSequence ---- */

static ais_status ais__concat_seq_infer(ais__op_ctx *ctx, const ais_tensor *const *in, size_t n_in,
                                        ais__tensor_desc *out, size_t n_out) {
    (void)n_in, (void)n_out;
    AIS__CHECK(ais__expect_seq(in[0], "input_sequence"));
    const ais__sequence *s = ais__seq(in[0]);
    const ais__attr *a = ais__attr_find(ctx->attrs, "axis");
    if (!a || a->type != AIS__ATTR_INT)
        return ais__error(AIS_E_INVALID_ARGUMENT, "attribute axis (an int) is required");
    bool new_axis = ais__attr_int(ctx->attrs, "new_axis", 0) != 0;
    if (s->n == 0)
        return ais__error(AIS_E_INVALID_ARGUMENT, "the sequence is empty; nothing to concatenate");
    const ais_tensor *t0 = s->items[0];
    int64_t rank = (int64_t)t0->ndim + (new_axis ? 1 : 0), axis;
    if (rank > AIS_MAX_DIMS)
        return ais__error(AIS_E_LIMIT, "the result would have %lld dims, at most %d",
                          (long long)rank, AIS_MAX_DIMS);
    if (!ais__norm_axis(a->i, rank, &axis))
        return ais__error(AIS_E_INVALID_ARGUMENT, "axis %lld is out of range for rank %lld%s",
                          (long long)a->i, (long long)rank, new_axis ? " (with new_axis)" : "");
    int64_t dims[AIS_MAX_DIMS], total = 0;
    for (size_t i = 0; i < s->n; i++) {
        const ais_tensor *t = s->items[i];
        bool ok = t->ndim == t0->ndim;
        for (uint32_t d = 0; ok && d < t->ndim; d++)
            if (t->dims[d] != t0->dims[d] && (new_axis || (int64_t)d != axis)) ok = false;
        if (!ok) {
            char b0[AIS__SHAPE_STR_MAX], b1[AIS__SHAPE_STR_MAX];
            return ais__error(AIS_E_SHAPE,
                              "tensor %zu has shape %s, tensor 0 %s: they must agree except "
                              "on axis %lld",
                              i, ais__shape_str(t->dims, t->ndim, b1, sizeof b1),
                              ais__shape_str(t0->dims, t0->ndim, b0, sizeof b0), (long long)axis);
        }
        total += new_axis ? 1 : t->dims[axis];
    }
    for (int64_t d = 0, k = 0; d < rank; d++) {
        if (d == axis) {
            dims[d] = total;
            if (!new_axis) k++;
        } else {
            dims[d] = t0->dims[k++];
        }
    }
    ais__desc_set(&out[0], t0->dtype, dims, (size_t)rank);
    return AIS_OK;
}

static ais_status ais__concat_seq_compute(ais__op_ctx *ctx, const ais_tensor *const *in,
                                          size_t n_in, ais_tensor *const *out, size_t n_out) {
    (void)ctx, (void)n_in, (void)n_out;
    const ais__sequence *s = ais__seq(in[0]);
    ais_tensor *y = out[0];
    /* the result's axis: everything before it is `outer`, after it `inner` */
    int64_t axis = 0;
    bool new_axis = ais__attr_int(ctx->attrs, "new_axis", 0) != 0;
    ais__norm_axis(ais__attr_find(ctx->attrs, "axis")->i, y->ndim, &axis);
    size_t outer = 1, inner = 1;
    for (int64_t d = 0; d < axis; d++) outer *= (size_t)y->dims[d];
    for (int64_t d = axis + 1; d < (int64_t)y->ndim; d++) inner *= (size_t)y->dims[d];
    size_t ydim = (size_t)y->dims[axis], start = 0;
    for (size_t i = 0; i < s->n; i++) {
        const ais_tensor *t = s->items[i];
        size_t len = new_axis ? 1 : (size_t)t->dims[axis];
        for (size_t o = 0; o < outer; o++)
            AIS__CHECK(ais__elems_copy(y, (o * ydim + start) * inner, t, o * len * inner,
                                       len * inner));
        start += len;
    }
    return AIS_OK;
}

#define AIS__ALL_VALUES 0xffffffffu

#define AIS__SEQ_OP(nm, lo, hi, inf, comp)                                                         \
    {                                                                                              \
        .domain = "", .name = nm, .since_version = 11, .min_inputs = lo, .max_inputs = hi,         \
        .min_outputs = 1, .max_outputs = 1, .infer = inf, .compute = comp,                         \
        .flags = AIS__OP_SEQUENCES | AIS__OP_STRINGS, .value_inputs = AIS__ALL_VALUES              \
    }

const ais__op_def ais__ops_sequence[] = {
    AIS__SEQ_OP("SequenceEmpty", 0, 0, ais__seq_empty_infer, ais__seq_empty_compute),
    AIS__SEQ_OP("SequenceConstruct", 1, -1, ais__seq_construct_infer, ais__seq_construct_compute),
    AIS__SEQ_OP("SequenceInsert", 2, 3, ais__seq_insert_infer, ais__seq_insert_compute),
    AIS__SEQ_OP("SequenceErase", 1, 2, ais__seq_erase_infer, ais__seq_erase_compute),
    AIS__SEQ_OP("SequenceAt", 2, 2, ais__seq_at_infer, ais__seq_at_compute),
    AIS__SEQ_OP("SequenceLength", 1, 1, ais__seq_length_infer, ais__seq_length_compute),
    AIS__SEQ_OP("SplitToSequence", 1, 2, ais__split_seq_infer, ais__split_seq_compute),
    AIS__SEQ_OP("ConcatFromSequence", 1, 1, ais__concat_seq_infer, ais__concat_seq_compute),
    {.name = NULL},
};
