/*
 * ml_util.h - what the ai.onnx.ml kernels share: post transforms of scores, the input matrix
 * view [N, C] of X, and class label attributes.
 */
#ifndef AIS_ML_UTIL_H
#define AIS_ML_UTIL_H

#include <math.h>
#include <string.h>

#include "op.h"

#define AIS__ML_DOMAIN "ai.onnx.ml"

typedef enum {
    AIS__POST_NONE,
    AIS__POST_SOFTMAX,
    AIS__POST_LOGISTIC,
    AIS__POST_SOFTMAX_ZERO,
    AIS__POST_PROBIT,
} ais__post_transform;

static inline ais_status ais__ml_post_parse(const ais_attrs *attrs, ais__post_transform *pt) {
    const char *s = ais__attr_string(attrs, "post_transform", "NONE");
    static const char *const names[] = {"NONE", "SOFTMAX", "LOGISTIC", "SOFTMAX_ZERO", "PROBIT"};
    for (size_t i = 0; i < AIS__ARRAY_LEN(names); i++)
        if (strcmp(s, names[i]) == 0) {
            *pt = (ais__post_transform)i;
            return AIS_OK;
        }
    return ais__error(AIS_E_INVALID_ARGUMENT,
                      "post_transform must be NONE, SOFTMAX, LOGISTIC, SOFTMAX_ZERO or PROBIT, "
                      "got '%s'",
                      s);
}

/* The inverse error function approximation that onnx.reference and ONNX Runtime use. */
static inline float ais__ml_probit(float v) {
    float x = v * 2.0f - 1.0f;
    float sgn = x < 0 ? -1.0f : 1.0f;
    x = (1.0f - x) * (1.0f + x);
    if (x == 0) return 0;
    float lg = logf(x);
    float a = 2.0f / (3.14159265358979f * 0.147f) + 0.5f * lg;
    float b = 1.0f / 0.147f * lg;
    return 1.41421356f * sgn * sqrtf(-a + sqrtf(a * a - b));
}

static inline float ais__ml_logistic(float v) {
    float e = 1.0f / (1.0f + expf(-fabsf(v)));
    return v < 0 ? 1.0f - e : e;
}

/* Applies the transform to one row of n scores in place. */
static inline void ais__ml_post_apply(ais__post_transform pt, float *s, size_t n) {
    if (n == 0) return;
    switch (pt) {
    case AIS__POST_NONE: break;
    case AIS__POST_LOGISTIC:
        for (size_t i = 0; i < n; i++)
            s[i] = ais__ml_logistic(s[i]);
        break;
    case AIS__POST_PROBIT:
        for (size_t i = 0; i < n; i++)
            s[i] = ais__ml_probit(s[i]);
        break;
    case AIS__POST_SOFTMAX: {
        float m = s[0], sum = 0;
        for (size_t i = 1; i < n; i++)
            m = s[i] > m ? s[i] : m;
        for (size_t i = 0; i < n; i++)
            sum += (s[i] = expf(s[i] - m));
        for (size_t i = 0; i < n; i++)
            s[i] /= sum;
        break;
    }
    case AIS__POST_SOFTMAX_ZERO: {
        /* Zero scores stay (nearly) zero: they stand for "no vote", not for exp(0). */
        float m = s[0], sum = 0;
        for (size_t i = 1; i < n; i++)
            m = s[i] > m ? s[i] : m;
        float em = expf(-m);
        for (size_t i = 0; i < n; i++) {
            s[i] = (s[i] > 1e-7f || s[i] < -1e-7f) ? expf(s[i] - m) : s[i] * em;
            sum += s[i];
        }
        for (size_t i = 0; i < n; i++)
            s[i] = sum == 0 ? 0.5f : s[i] / sum;
        break;
    }
    }
}

/* X as a matrix: [N, C] from rank 2, [1, C] from rank 1 (rank 0: [1, 1]). */
static inline ais_status ais__ml_matrix(const ais_tensor *x, size_t *rows, size_t *cols) {
    AIS__CHECK(ais__expect_dtype(x, "X", AIS_DTYPE_F32, AIS_DTYPE_F64, AIS_DTYPE_I64, AIS_DTYPE_I32,
                                 AIS_DTYPE_UNDEFINED));
    AIS__CHECK(ais__expect_rank(x, "X", 0, 2));
    if (x->ndim == 2) {
        *rows = (size_t)x->dims[0];
        *cols = (size_t)x->dims[1];
    } else {
        *rows = 1;
        *cols = x->ndim == 1 ? (size_t)x->dims[0] : 1;
    }
    return AIS_OK;
}

/* The class labels: int64s (attribute `ints_name`) or strings, exactly one of them. */
typedef struct ais__ml_labels {
    const int64_t *ints;
    const ais__attr *strings;
    size_t n;
} ais__ml_labels;

static inline ais_status ais__ml_labels_parse(const ais_attrs *attrs, const char *ints_name,
                                              ais__ml_labels *l) {
    memset(l, 0, sizeof *l);
    size_t ni = 0;
    bool has_i = ais__attr_ints(attrs, ints_name, &l->ints, &ni);
    const ais__attr *s = ais__attr_find(attrs, "classlabels_strings");
    if (s && s->type != AIS__ATTR_STRINGS)
        return ais__error(AIS_E_INVALID_ARGUMENT, "classlabels_strings must be strings");
    if (has_i && s)
        return ais__error(AIS_E_INVALID_ARGUMENT,
                          "only one of %s and classlabels_strings may be given", ints_name);
    if (!has_i && !s)
        return ais__error(AIS_E_INVALID_ARGUMENT, "%s or classlabels_strings is required",
                          ints_name);
    l->strings = s;
    l->n = s ? s->count : ni;
    if (l->n == 0) return ais__error(AIS_E_INVALID_ARGUMENT, "the class label list is empty");
    return AIS_OK;
}

/* Writes label k (or the "no class" label: 0 or "" when k is SIZE_MAX) into Y[i]. */
static inline ais_status ais__ml_label_write(const ais__ml_labels *l, ais_tensor *y, size_t i,
                                             size_t k) {
    if (l->strings) {
        const char *s = k == SIZE_MAX ? "" : l->strings->strings[k];
        return ais__str_set(y, i, s, strlen(s));
    }
    ((int64_t *)y->data)[i] = k == SIZE_MAX ? 0 : l->ints[k];
    return AIS_OK;
}

#endif /* AIS_ML_UTIL_H */
