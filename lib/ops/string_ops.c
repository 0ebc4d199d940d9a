/*
 * string_ops.c - operators on string tensors: StringNormalizer (opset 10).
 *
 * Case mapping is ASCII only: bytes >= 0x80 (the rest of UTF-8) pass through unchanged, and the
 * `locale` attribute is accepted but not used, so that results never depend on the process's
 * locale. Stopwords remove whole elements equal to one of them (per the operator's spec; not the
 * word splitting of onnx.reference).
 */
#include <string.h>

#include "op.h"

static char ais__ascii_lower(char c) { return c >= 'A' && c <= 'Z' ? (char)(c - 'A' + 'a') : c; }
static char ais__ascii_upper(char c) { return c >= 'a' && c <= 'z' ? (char)(c - 'a' + 'A') : c; }

static bool ais__ascii_ieq(const char *a, const char *b) {
    for (; *a && *b; a++, b++)
        if (ais__ascii_lower(*a) != ais__ascii_lower(*b)) return false;
    return *a == *b;
}

typedef enum { AIS__CASE_NONE, AIS__CASE_LOWER, AIS__CASE_UPPER } ais__case_action;

typedef struct ais__strnorm {
    ais__case_action action;
    bool case_sensitive;
    const ais__attr *stop;
    size_t cols; /* elements of the input */
    bool two_d;
} ais__strnorm;

static ais_status ais__strnorm_parse(const ais__op_ctx *ctx, const ais_tensor *x,
                                     ais__strnorm *sn) {
    AIS__CHECK(ais__expect_dtype(x, "X", AIS_DTYPE_STRING, AIS_DTYPE_UNDEFINED));
    if (x->ndim == 1) {
        sn->two_d = false;
    } else if (x->ndim == 2 && x->dims[0] == 1) {
        sn->two_d = true;
    } else {
        char b[AIS__SHAPE_STR_MAX];
        return ais__error(AIS_E_SHAPE, "X must have shape [C] or [1, C], got %s",
                          ais__shape_str(x->dims, x->ndim, b, sizeof b));
    }
    sn->cols = x->numel;
    const char *a = ais__attr_string(ctx->attrs, "case_change_action", "NONE");
    if (strcmp(a, "NONE") == 0)
        sn->action = AIS__CASE_NONE;
    else if (strcmp(a, "LOWER") == 0)
        sn->action = AIS__CASE_LOWER;
    else if (strcmp(a, "UPPER") == 0)
        sn->action = AIS__CASE_UPPER;
    else
        return ais__error(AIS_E_INVALID_ARGUMENT,
                          "case_change_action must be NONE, LOWER or UPPER, got '%s'", a);
    sn->case_sensitive = ais__attr_int(ctx->attrs, "is_case_sensitive", 0) != 0;
    sn->stop = ais__attr_find(ctx->attrs, "stopwords");
    if (sn->stop && sn->stop->type != AIS__ATTR_STRINGS)
        return ais__error(AIS_E_INVALID_ARGUMENT, "attribute stopwords must be a list of strings");
    return AIS_OK;
}

static bool ais__is_stopword(const ais__strnorm *sn, const char *s) {
    for (size_t i = 0; sn->stop && i < sn->stop->count; i++) {
        const char *w = sn->stop->strings[i];
        if (sn->case_sensitive ? strcmp(s, w) == 0 : ais__ascii_ieq(s, w)) return true;
    }
    return false;
}

/* Elements kept; the output has max(kept, 1) (one empty string when nothing is kept). */
static size_t ais__strnorm_kept(const ais__strnorm *sn, const ais_tensor *x) {
    size_t kept = 0;
    for (size_t i = 0; i < sn->cols; i++) kept += !ais__is_stopword(sn, ais__str_at(x, i));
    return kept;
}

static ais_status ais__strnorm_infer(ais__op_ctx *ctx, const ais_tensor *const *in, size_t n_in,
                                     ais__tensor_desc *out, size_t n_out) {
    (void)n_in, (void)n_out;
    ais__strnorm sn;
    AIS__CHECK(ais__strnorm_parse(ctx, in[0], &sn));
    size_t kept = ais__strnorm_kept(&sn, in[0]);
    int64_t dims[2] = {1, (int64_t)(kept ? kept : 1)};
    if (sn.two_d)
        ais__desc_set(&out[0], AIS_DTYPE_STRING, dims, 2);
    else
        ais__desc_set(&out[0], AIS_DTYPE_STRING, dims + 1, 1);
    return AIS_OK;
}

static ais_status ais__strnorm_compute(ais__op_ctx *ctx, const ais_tensor *const *in, size_t n_in,
                                       ais_tensor *const *out, size_t n_out) {
    (void)n_in, (void)n_out;
    ais__strnorm sn;
    AIS__CHECK(ais__strnorm_parse(ctx, in[0], &sn));
    ais_tensor *y = out[0];
    ais__strs_clear(y);
    size_t j = 0;
    for (size_t i = 0; i < sn.cols && j < y->numel; i++) {
        const char *s = ais__str_at(in[0], i);
        if (ais__is_stopword(&sn, s)) continue;
        size_t len = strlen(s);
        AIS__CHECK(ais__str_set(y, j, s, len));
        char *d = ais__strs(y)[j++];
        if (sn.action == AIS__CASE_LOWER)
            for (size_t k = 0; k < len; k++) d[k] = ais__ascii_lower(d[k]);
        else if (sn.action == AIS__CASE_UPPER)
            for (size_t k = 0; k < len; k++) d[k] = ais__ascii_upper(d[k]);
    }
    if (j == 0) AIS__CHECK(ais__str_set(y, 0, "", 0)); /* nothing kept: one empty string */
    return AIS_OK;
}

const ais__op_def ais__ops_string[] = {
    {.domain = "",
     .name = "StringNormalizer",
     .since_version = 10,
     .min_inputs = 1,
     .max_inputs = 1,
     .min_outputs = 1,
     .max_outputs = 1,
     .infer = ais__strnorm_infer,
     .compute = ais__strnorm_compute,
     .flags = AIS__OP_STRINGS,
     .value_inputs = 1u},
    {.name = NULL},
};
