/* misc.c - Cast, CastLike, Identity, Dropout (inference) and Constant. */
#include <math.h>
#include <stdio.h>

#include "elementwise_core.h"

/* ---- Cast ----
 *
 * Every conversion goes through one of three wide forms: double for floating sources, int64 for
 * signed and uint64 for unsigned (and bool) sources, so n dtypes need 2n loops instead of n^2.
 * Integer to integer wraps like C and NumPy; floating to integer saturates (NaN gives 0), since
 * C leaves out-of-range conversions undefined and a model can feed anything. Targets bf16,
 * float8 and 4-bit integers follow ONNX's reference Cast bit for bit: through float32, then
 * bf16 truncates, float8 rounds to nearest even (saturating unless saturate=0), and 4-bit
 * integers clip, then round half to even, whatever the source type.
 */

#define AIS__CAST_BLOCK 256

typedef struct ais__cast_params {
    ais_dtype from, to;
    bool saturate; /* float8 targets: out of range gives the largest finite value, not NaN/inf */
} ais__cast_params;

typedef enum ais__cast_kind { AIS__CAST_F, AIS__CAST_I, AIS__CAST_U } ais__cast_kind;

static ais__cast_kind ais__cast_kind_of(ais_dtype d) {
    if (ais__dtype_is_float(d) || ais__dtype_is_f8(d)) return AIS__CAST_F;
    if (d == AIS_DTYPE_I4) return AIS__CAST_I;
    return ais__dtype_is_signed(d) ? AIS__CAST_I : AIS__CAST_U;
}

typedef union ais__cast_wide {
    double f[AIS__CAST_BLOCK];
    int64_t i[AIS__CAST_BLOCK];
    uint64_t u[AIS__CAST_BLOCK];
} ais__cast_wide;

static void ais__cast_load(const void *src, ais_dtype d, ais__cast_wide *w, size_t n) {
#define AIS__LOAD(field, T)                                                                        \
    do {                                                                                           \
        const T *restrict s = src;                                                                 \
        for (size_t i = 0; i < n; i++)                                                             \
            w->field[i] = s[i];                                                                    \
    } while (0)
    switch (d) {
    case AIS_DTYPE_F32: AIS__LOAD(f, float); break;
    case AIS_DTYPE_F64: AIS__LOAD(f, double); break;
    case AIS_DTYPE_F16:
        for (size_t i = 0; i < n; i++)
            w->f[i] = ais__f16_to_f32(((const uint16_t *)src)[i]);
        break;
    case AIS_DTYPE_BF16:
        for (size_t i = 0; i < n; i++)
            w->f[i] = ais__bf16_to_f32(((const uint16_t *)src)[i]);
        break;
    case AIS_DTYPE_I8: AIS__LOAD(i, int8_t); break;
    case AIS_DTYPE_I16: AIS__LOAD(i, int16_t); break;
    case AIS_DTYPE_I32: AIS__LOAD(i, int32_t); break;
    case AIS_DTYPE_I64: AIS__LOAD(i, int64_t); break;
    case AIS_DTYPE_U8: AIS__LOAD(u, uint8_t); break;
    case AIS_DTYPE_U16: AIS__LOAD(u, uint16_t); break;
    case AIS_DTYPE_U32: AIS__LOAD(u, uint32_t); break;
    case AIS_DTYPE_U64: AIS__LOAD(u, uint64_t); break;
    case AIS_DTYPE_BOOL:
        for (size_t i = 0; i < n; i++)
            w->u[i] = ((const uint8_t *)src)[i] != 0;
        break;
    case AIS_DTYPE_F8E4M3FN:
    case AIS_DTYPE_F8E4M3FNUZ:
    case AIS_DTYPE_F8E5M2:
    case AIS_DTYPE_F8E5M2FNUZ:
        for (size_t i = 0; i < n; i++)
            w->f[i] = ais__f8_to_f32(((const uint8_t *)src)[i], d);
        break;
    case AIS_DTYPE_U4: AIS__LOAD(u, uint8_t); break; /* unpacked: one element per byte */
    case AIS_DTYPE_I4: AIS__LOAD(i, int8_t); break;
    default: break;
    }
#undef AIS__LOAD
}

/* Saturating double -> integer: the bounds are exact powers of two (or small) as doubles. */
#define AIS__SAT(v, T, LO, HI)                                                                     \
    ((v) != (v) ? (T)0 : (v) <= (double)(LO) ? (T)(LO) : (v) >= (double)(HI) ? (T)(HI) : (T)(v))

/* The wide values as float32: ONNX's reference converts to float32 before it rounds to bf16,
 * float8 or 4-bit integers, so a double is rounded twice here too. */
static void ais__cast_to_f32(const ais__cast_wide *w, ais__cast_kind k, float *o, size_t n) {
    for (size_t i = 0; i < n; i++)
        o[i] = k == AIS__CAST_F ? (float)w->f[i] : k == AIS__CAST_I ? (float)w->i[i] : (float)w->u[i];
}

/* float32 to bfloat16 by truncation, as ONNX's reference Cast does (float32_to_bfloat16 with
 * truncate=True) and its test data expects; NaN stays a (quiet) NaN. */
static uint16_t ais__f32_to_bf16_trunc(float f) {
    uint32_t x;
    memcpy(&x, &f, sizeof x);
    if ((x & 0x7fffffffu) > 0x7f800000u) return (uint16_t)((x >> 16) | 0x7fc0);
    return (uint16_t)(x >> 16);
}

static void ais__cast_store(const ais__cast_wide *w, ais__cast_kind k, void *dst, ais_dtype d,
                            size_t n, bool saturate) {
#define AIS__STORE_INT(T, LO, HI)                                                                  \
    do {                                                                                           \
        T *restrict o = dst;                                                                       \
        if (k == AIS__CAST_F)                                                                      \
            for (size_t i = 0; i < n; i++)                                                         \
                o[i] = AIS__SAT(w->f[i], T, LO, HI);                                               \
        else if (k == AIS__CAST_I)                                                                 \
            for (size_t i = 0; i < n; i++)                                                         \
                o[i] = (T)w->i[i];                                                                 \
        else                                                                                       \
            for (size_t i = 0; i < n; i++)                                                         \
                o[i] = (T)w->u[i];                                                                 \
    } while (0)
#define AIS__STORE_FLOAT(T)                                                                        \
    do {                                                                                           \
        T *restrict o = dst;                                                                       \
        if (k == AIS__CAST_F)                                                                      \
            for (size_t i = 0; i < n; i++)                                                         \
                o[i] = (T)w->f[i];                                                                 \
        else if (k == AIS__CAST_I)                                                                 \
            for (size_t i = 0; i < n; i++)                                                         \
                o[i] = (T)w->i[i];                                                                 \
        else                                                                                       \
            for (size_t i = 0; i < n; i++)                                                         \
                o[i] = (T)w->u[i];                                                                 \
    } while (0)
    switch (d) {
    case AIS_DTYPE_F32: AIS__STORE_FLOAT(float); break;
    case AIS_DTYPE_F64: AIS__STORE_FLOAT(double); break;
    case AIS_DTYPE_F16:
    case AIS_DTYPE_BF16: {
        float tmp[AIS__CAST_BLOCK];
        void *saved = dst;
        dst = tmp;
        AIS__STORE_FLOAT(float);
        uint16_t *o = saved;
        if (d == AIS_DTYPE_F16)
            for (size_t i = 0; i < n; i++)
                o[i] = ais__f32_to_f16(tmp[i]);
        else
            for (size_t i = 0; i < n; i++)
                o[i] = ais__f32_to_bf16_trunc(tmp[i]);
        break;
    }
    case AIS_DTYPE_F8E4M3FN:
    case AIS_DTYPE_F8E4M3FNUZ:
    case AIS_DTYPE_F8E5M2:
    case AIS_DTYPE_F8E5M2FNUZ:
    case AIS_DTYPE_U4:
    case AIS_DTYPE_I4: {
        float tmp[AIS__CAST_BLOCK];
        ais__cast_to_f32(w, k, tmp, n);
        uint8_t *o = dst;
        if (ais__dtype_is_int4(d))
            for (size_t i = 0; i < n; i++)
                o[i] = ais__f32_to_int4(tmp[i], d);
        else
            for (size_t i = 0; i < n; i++)
                o[i] = ais__f32_to_f8(tmp[i], d, saturate);
        break;
    }
    case AIS_DTYPE_I8: AIS__STORE_INT(int8_t, INT8_MIN, INT8_MAX); break;
    case AIS_DTYPE_I16: AIS__STORE_INT(int16_t, INT16_MIN, INT16_MAX); break;
    case AIS_DTYPE_I32: AIS__STORE_INT(int32_t, INT32_MIN, INT32_MAX); break;
    case AIS_DTYPE_I64: AIS__STORE_INT(int64_t, INT64_MIN, INT64_MAX); break;
    case AIS_DTYPE_U8: AIS__STORE_INT(uint8_t, 0, UINT8_MAX); break;
    case AIS_DTYPE_U16: AIS__STORE_INT(uint16_t, 0, UINT16_MAX); break;
    case AIS_DTYPE_U32: AIS__STORE_INT(uint32_t, 0, UINT32_MAX); break;
    case AIS_DTYPE_U64: AIS__STORE_INT(uint64_t, 0, UINT64_MAX); break;
    case AIS_DTYPE_BOOL: {
        uint8_t *restrict o = dst;
        if (k == AIS__CAST_F)
            for (size_t i = 0; i < n; i++)
                o[i] = w->f[i] != 0;
        else
            for (size_t i = 0; i < n; i++)
                o[i] = w->u[i] != 0; /* i and u share the bits */
        break;
    }
    default: break;
    }
#undef AIS__STORE_INT
#undef AIS__STORE_FLOAT
}

static void ais__cast_row(void *out, const void *const *in, const size_t *st, size_t n,
                          const void *p_) {
    const ais__cast_params *p = p_;
    size_t si = ais_dtype_size(p->from), so = ais_dtype_size(p->to);
    if (p->from == p->to && p->to != AIS_DTYPE_BOOL) { /* bool to bool writes 0 and 1 */
        memcpy(out, in[0], n * si);
        return;
    }
    ais__cast_kind k = ais__cast_kind_of(p->from);
    ais__cast_wide w;
    for (size_t s = 0; s < n; s += AIS__CAST_BLOCK) {
        size_t m = AIS__MIN((size_t)AIS__CAST_BLOCK, n - s);
        ais__cast_load((const char *)in[0] + s * si, p->from, &w, m);
        ais__cast_store(&w, k, (char *)out + s * so, p->to, m, p->saturate);
    }
}

static ais_status ais__cast_check(ais_dtype d, const char *what) {
    if (ais__dtype_valid(d)) return AIS_OK;
    return ais__error(AIS_E_UNSUPPORTED, "%s: dtype %s (%d) is not supported", what,
                      ais_dtype_name(d), (int)d);
}

static ais_status ais__cast_target(const ais__op_ctx *ctx, const ais_tensor *const *in, size_t n_in,
                                   ais_dtype *to) {
    if (n_in > 1) { /* CastLike */
        *to = in[1]->dtype;
        return ais__cast_check(*to, "target_type");
    }
    const ais__attr *a = ais__attr_get(ctx->attrs, "to", AIS__ATTR_INT);
    if (!a) return ais__error(AIS_E_INVALID_ARGUMENT, "attribute 'to' (an int dtype) is required");
    if (a->i <= 0 || a->i > 64) return ais__cast_check(AIS_DTYPE_UNDEFINED, "attribute to");
    *to = (ais_dtype)a->i;
    return ais__cast_check(*to, "attribute to");
}

static ais_status ais__cast_infer(ais__op_ctx *ctx, const ais_tensor *const *in, size_t n_in,
                                  ais__tensor_desc *out, size_t n_out) {
    ais_dtype to = AIS_DTYPE_UNDEFINED;
    AIS__CHECK(ais__cast_check(in[0]->dtype, "input"));
    AIS__CHECK(ais__cast_target(ctx, in, n_in, &to));
    ais__desc_set(out, to, in[0]->dims, in[0]->ndim);
    return AIS_OK;
}

/* Numbers to text as onnx.reference writes them (NumPy's str() of each element). */
static ais_status ais__cast_to_strings(const ais_tensor *x, ais_tensor *y) {
    ais_dtype d = x->dtype;
    ais__cast_kind k = ais__cast_kind_of(d);
    ais_dtype fmt = d == AIS_DTYPE_F64 || d == AIS_DTYPE_F16 || d == AIS_DTYPE_BF16
                        ? d : AIS_DTYPE_F32;
    size_t es = ais_dtype_size(d);
    ais__cast_wide w;
    for (size_t s = 0; s < x->numel; s += AIS__CAST_BLOCK) {
        size_t m = AIS__MIN((size_t)AIS__CAST_BLOCK, x->numel - s);
        ais__cast_load((const char *)x->data + s * es, d, &w, m);
        for (size_t i = 0; i < m; i++) {
            char buf[AIS__NUM_STR_MAX];
            if (d == AIS_DTYPE_BOOL)
                snprintf(buf, sizeof buf, "%s", w.u[i] ? "True" : "False");
            else if (k == AIS__CAST_F)
                ais__num_format(w.f[i], fmt, buf, sizeof buf);
            else if (k == AIS__CAST_I)
                snprintf(buf, sizeof buf, "%lld", (long long)w.i[i]);
            else
                snprintf(buf, sizeof buf, "%llu", (unsigned long long)w.u[i]);
            AIS__CHECK(ais__str_set(y, s + i, buf, strlen(buf)));
        }
    }
    return AIS_OK;
}

static ais_status ais__cast_not_number(size_t i, const char *s, const char *what) {
    return ais__error(AIS_E_INVALID_ARGUMENT, "input element %zu (\"%.40s%s\") is not %s", i, s,
                      strlen(s) > 40 ? "..." : "", what);
}

/* Text to numbers: parsed into a wide temporary (int64/uint64 for integer targets, double for
 * f64 and bool, else float32, each correctly rounded), then the numeric Cast from there. */
static ais_status ais__cast_from_strings(ais__op_ctx *ctx, const ais_tensor *x, ais_tensor *y,
                                         bool saturate) {
    ais_dtype to = y->dtype, tmp_dt;
    if (to == AIS_DTYPE_U64)
        tmp_dt = AIS_DTYPE_U64;
    else if (ais__dtype_is_int(to) && !ais__dtype_is_int4(to))
        tmp_dt = AIS_DTYPE_I64;
    else if (to == AIS_DTYPE_F64 || to == AIS_DTYPE_BOOL)
        tmp_dt = AIS_DTYPE_F64;
    else
        tmp_dt = AIS_DTYPE_F32;
    ais_tensor *t;
    AIS__CHECK(ais__tensor_new(tmp_dt, x->dims, x->ndim, &t));
    ais_status st = AIS_OK;
    for (size_t i = 0; i < x->numel && st == AIS_OK; i++) {
        const char *s = ais__str_at(x, i);
        double f64;
        float f32;
        bool ok;
        if (tmp_dt == AIS_DTYPE_I64 || tmp_dt == AIS_DTYPE_U64) {
            ok = ais__num_parse_int(s, tmp_dt == AIS_DTYPE_U64, &((int64_t *)t->data)[i],
                                    &((uint64_t *)t->data)[i]);
            if (!ok) st = ais__cast_not_number(i, s, "an integer in range");
            continue;
        }
        ok = ais__num_parse(s, &f64, &f32);
        if (!ok)
            st = ais__cast_not_number(i, s, "a number");
        else if (tmp_dt == AIS_DTYPE_F64)
            ((double *)t->data)[i] = f64;
        else
            ((float *)t->data)[i] = f32;
    }
    if (st == AIS_OK) {
        ais__cast_params p = {tmp_dt, to, saturate};
        const ais_tensor *src[1] = {t};
        ais__ew_apply(ctx, y, src, 1, ais__cast_row, &p, 0);
    }
    ais_tensor_destroy(t);
    return st;
}

static ais_status ais__cast_compute(ais__op_ctx *ctx, const ais_tensor *const *in, size_t n_in,
                                    ais_tensor *const *out, size_t n_out) {
    ais__cast_params p = {in[0]->dtype, out[0]->dtype,
                          ais__attr_int(ctx->attrs, "saturate", 1) != 0};
    if (p.from == AIS_DTYPE_STRING && p.to == AIS_DTYPE_STRING)
        return ais__elems_copy(out[0], 0, in[0], 0, in[0]->numel);
    if (p.to == AIS_DTYPE_STRING) return ais__cast_to_strings(in[0], out[0]);
    if (p.from == AIS_DTYPE_STRING) return ais__cast_from_strings(ctx, in[0], out[0], p.saturate);
    ais__ew_apply(ctx, out[0], in, 1, ais__cast_row, &p, 0);
    return AIS_OK;
}

/* ---- Identity and Dropout ---- */

static void ais__copy_data(const ais_tensor *in, ais_tensor *out) {
    /* The executor may have given the output the input's own memory (AIS__OP_VIEW). */
    if (out->data != in->data && in->nbytes) memcpy(out->data, in->data, in->nbytes);
}

static ais_status ais__identity_infer(ais__op_ctx *ctx, const ais_tensor *const *in, size_t n_in,
                                      ais__tensor_desc *out, size_t n_out) {
    ais__desc_from(out, in[0]);
    return AIS_OK;
}

/* Strings and sequences too (a sequence, or an optional's value, passes through Identity). */
static ais_status ais__identity_compute(ais__op_ctx *ctx, const ais_tensor *const *in, size_t n_in,
                                        ais_tensor *const *out, size_t n_out) {
    if (in[0]->dtype == AIS__DTYPE_SEQUENCE) {
        const ais__sequence *src = ais__seq(in[0]);
        AIS__CHECK(ais__seq_attach(out[0], src->elem_dtype, src->n));
        return ais__seq_copy_into(ais__seq(out[0]), src);
    }
    if (in[0]->dtype == AIS_DTYPE_STRING)
        return ais__elems_copy(out[0], 0, in[0], 0, in[0]->numel);
    ais__copy_data(in[0], out[0]);
    return AIS_OK;
}

/* Y = X and a mask of ones: inference, and training with ratio 0 (nothing is dropped, the
 * scale 1 / (1 - ratio) is 1). Training with ratio > 0 drops at random, which no inference
 * runtime can reproduce bit for bit, so it is refused. The mask is bool since opset 10 and
 * X's dtype before. */
static ais_status ais__dropout_infer(ais__op_ctx *ctx, const ais_tensor *const *in, size_t n_in,
                                     ais__tensor_desc *out, size_t n_out) {
    double ratio = 0.5; /* the default when the input is absent */
    if (n_in > 1 && in[1]) {
        if (!ais__dtype_is_float(in[1]->dtype) || in[1]->numel != 1)
            return ais__error(AIS_E_INVALID_ARGUMENT,
                              "ratio must be a floating scalar, got %s of %zu elements",
                              ais_dtype_name(in[1]->dtype), in[1]->numel);
        ratio = ais__load_f64(in[1]->data, in[1]->dtype, 0);
    }
    if (n_in > 2 && in[2]) {
        const ais_tensor *t = in[2];
        if (t->dtype != AIS_DTYPE_BOOL || t->numel != 1)
            return ais__error(AIS_E_INVALID_ARGUMENT,
                              "training_mode must be a bool scalar, got %s of %zu elements",
                              ais_dtype_name(t->dtype), t->numel);
        if (((const uint8_t *)t->data)[0] && ratio != 0)
            return ais__error(AIS_E_UNSUPPORTED,
                              "training_mode is true with ratio %g: random dropout is not "
                              "supported (only inference, or training with ratio 0)",
                              ratio);
    }
    ais__desc_from(&out[0], in[0]);
    if (n_out > 1) {
        ais__desc_from(&out[1], in[0]);
        if (ctx->opset >= 10) out[1].dtype = AIS_DTYPE_BOOL;
    }
    return AIS_OK;
}

static ais_status ais__dropout_compute(ais__op_ctx *ctx, const ais_tensor *const *in, size_t n_in,
                                       ais_tensor *const *out, size_t n_out) {
    ais__copy_data(in[0], out[0]);
    if (n_out > 1 && out[1]) {
        ais_tensor *m = out[1];
        if (m->dtype == AIS_DTYPE_BOOL) {
            if (m->nbytes) memset(m->data, 1, m->nbytes);
        } else {
            for (size_t i = 0; i < m->numel; i++)
                ais__store_f64(m->data, m->dtype, i, 1.0);
        }
    }
    return AIS_OK;
}

/* ---- Constant ---- */

static ais_status ais__constant_value(const ais__op_ctx *ctx, ais_tensor *t, const char **which) {
    static const char *const names[] = {"value",         "value_float", "value_floats",
                                        "value_int",     "value_ints",  "value_string",
                                        "value_strings", "sparse_value"};
    const ais__attr *found = NULL;
    for (size_t k = 0; k < AIS__ARRAY_LEN(names); k++) {
        const ais__attr *a = ais__attr_find(ctx->attrs, names[k]);
        if (!a) continue;
        if (found)
            return ais__error(AIS_E_INVALID_ARGUMENT,
                              "exactly one value attribute is allowed, got %s and %s", *which,
                              names[k]);
        found = a;
        *which = names[k];
    }
    if (!found)
        return ais__error(AIS_E_INVALID_ARGUMENT,
                          "no value attribute (value, value_float(s), value_int(s))");
    const char *w = *which;
    int64_t n;
    if (strcmp(w, "value") == 0 && found->type == AIS__ATTR_TENSOR && found->t) {
        *t = *found->t;
        return AIS_OK;
    }
    if (strcmp(w, "value_float") == 0 &&
        (found->type == AIS__ATTR_FLOAT || found->type == AIS__ATTR_INT)) {
        ais__tensor_init_borrowed(t, AIS_DTYPE_F32, NULL, 0, NULL);
        return AIS_OK;
    }
    if (strcmp(w, "value_int") == 0 && found->type == AIS__ATTR_INT) {
        ais__tensor_init_borrowed(t, AIS_DTYPE_I64, NULL, 0, (void *)&found->i);
        return AIS_OK;
    }
    if (strcmp(w, "value_floats") == 0 && found->type == AIS__ATTR_FLOATS) {
        n = (int64_t)found->count;
        ais__tensor_init_borrowed(t, AIS_DTYPE_F32, &n, 1, found->floats);
        return AIS_OK;
    }
    if (strcmp(w, "value_ints") == 0 && found->type == AIS__ATTR_INTS) {
        n = (int64_t)found->count;
        ais__tensor_init_borrowed(t, AIS_DTYPE_I64, &n, 1, found->ints);
        return AIS_OK;
    }
    if (strncmp(w, "value_string", 12) == 0 || strcmp(w, "sparse_value") == 0)
        return ais__error(AIS_E_UNSUPPORTED, "attribute %s is not supported", w);
    return ais__error(AIS_E_INVALID_ARGUMENT, "attribute %s has the wrong type", w);
}

static ais_status ais__constant_infer(ais__op_ctx *ctx, const ais_tensor *const *in, size_t n_in,
                                      ais__tensor_desc *out, size_t n_out) {
    ais_tensor t;
    const char *which = NULL;
    AIS__CHECK(ais__constant_value(ctx, &t, &which));
    ais__desc_from(out, &t);
    return AIS_OK;
}

static ais_status ais__constant_compute(ais__op_ctx *ctx, const ais_tensor *const *in, size_t n_in,
                                        ais_tensor *const *out, size_t n_out) {
    ais_tensor t;
    const char *which = NULL;
    AIS__CHECK(ais__constant_value(ctx, &t, &which));
    if (strcmp(which, "value_float") == 0) {
        *(float *)out[0]->data = ais__attr_float(ctx->attrs, "value_float", 0.0f);
        return AIS_OK;
    }
    if (t.nbytes) memcpy(out[0]->data, t.data, t.nbytes);
    return AIS_OK;
}

const ais__op_def ais__ops_misc[] = {
    {.domain = "",
     .name = "Cast",
     .since_version = 1,
     .min_inputs = 1,
     .max_inputs = 1,
     .min_outputs = 1,
     .max_outputs = 1,
     .infer = ais__cast_infer,
     .compute = ais__cast_compute,
     .flags = AIS__OP_STRINGS},
    {.domain = "",
     .name = "CastLike",
     .since_version = 15,
     .min_inputs = 2,
     .max_inputs = 2,
     .min_outputs = 1,
     .max_outputs = 1,
     .infer = ais__cast_infer,
     .compute = ais__cast_compute,
     .flags = AIS__OP_STRINGS},
    {.domain = "",
     .name = "Identity",
     .since_version = 1,
     .min_inputs = 1,
     .max_inputs = 1,
     .min_outputs = 1,
     .max_outputs = 1,
     .infer = ais__identity_infer,
     .compute = ais__identity_compute,
     .flags = AIS__OP_VIEW | AIS__OP_STRINGS | AIS__OP_SEQUENCES},
    {.domain = "",
     .name = "Dropout",
     .since_version = 1,
     .min_inputs = 1,
     .max_inputs = 3,
     .min_outputs = 1,
     .max_outputs = 2,
     .infer = ais__dropout_infer,
     .compute = ais__dropout_compute,
     .flags = AIS__OP_VIEW,
     /* training_mode and ratio decide whether the model can run at all */
     .value_inputs = (1u << 1) | (1u << 2)},
    {.domain = "",
     .name = "Constant",
     .since_version = 1,
     .min_inputs = 0,
     .max_inputs = 0,
     .min_outputs = 1,
     .max_outputs = 1,
     .infer = ais__constant_infer,
     .compute = ais__constant_compute,
     .flags = AIS__OP_NO_INPUTS},
    {.name = NULL},
};
