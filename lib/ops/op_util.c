/* op_util.c - checks and small helpers shared by the kernels. */
#include <stdio.h>
#include <string.h>

#include "op.h"

ais_status ais__expect_dtype(const ais_tensor *t, const char *what, ...) {
    va_list ap;
    va_start(ap, what);
    char names[256];
    size_t pos = 0;
    names[0] = 0;
    for (;;) {
        ais_dtype d = (ais_dtype)va_arg(ap, int);
        if (d == AIS_DTYPE_UNDEFINED) break;
        if (d == t->dtype) {
            va_end(ap);
            return AIS_OK;
        }
        if (pos < sizeof names)
            pos += (size_t)snprintf(names + pos, sizeof names - pos, "%s%s", pos ? ", " : "",
                                    ais_dtype_name(d));
    }
    va_end(ap);
    return ais__error(AIS_E_DTYPE, "%s has dtype %s, expected one of: %s", what,
                      ais_dtype_name(t->dtype), names);
}

ais_status ais__expect_same_dtype(const ais_tensor *a, const char *what_a, const ais_tensor *b,
                                  const char *what_b) {
    if (a->dtype == b->dtype) return AIS_OK;
    return ais__error(AIS_E_DTYPE, "%s is %s but %s is %s; they must match", what_a,
                      ais_dtype_name(a->dtype), what_b, ais_dtype_name(b->dtype));
}

ais_status ais__expect_rank(const ais_tensor *t, const char *what, size_t lo, size_t hi) {
    if (t->ndim >= lo && t->ndim <= hi) return AIS_OK;
    char s[AIS__SHAPE_STR_MAX];
    ais__shape_str(t->dims, t->ndim, s, sizeof s);
    if (lo == hi)
        return ais__error(AIS_E_SHAPE, "%s must have rank %zu, got shape %s", what, lo, s);
    return ais__error(AIS_E_SHAPE, "%s must have rank %zu to %zu, got shape %s", what, lo, hi, s);
}

void ais__desc_set(ais__tensor_desc *d, ais_dtype dtype, const int64_t *dims, size_t ndim) {
    d->dtype = dtype;
    d->ndim = (uint32_t)ndim;
    for (size_t i = 0; i < ndim; i++) d->dims[i] = dims[i];
}

void ais__desc_from(ais__tensor_desc *d, const ais_tensor *t) {
    ais__desc_set(d, t->dtype, t->dims, t->ndim);
}

static ais_status ais__read_ints(const ais_tensor *t, const char *what, int64_t *v, size_t max,
                                 size_t *n, bool tind) {
    /* ONNX's type constraints: shape-like inputs are int64, Tind ones int32 or int64. Other
     * integer types (u8, u64) would be read with a conversion that ONNX Runtime refuses. */
    if (t->dtype != AIS_DTYPE_I64 && !(tind && t->dtype == AIS_DTYPE_I32))
        return ais__error(AIS_E_DTYPE, "%s must be %s, got %s", what,
                          tind ? "an int32 or int64 tensor" : "an int64 tensor",
                          ais_dtype_name(t->dtype));
    if (t->ndim > 1) return ais__expect_rank(t, what, 0, 1);
    if (t->numel > max)
        return ais__error(AIS_E_LIMIT, "%s has %zu values, at most %zu are supported", what,
                          t->numel, max);
    for (size_t i = 0; i < t->numel; i++) v[i] = ais__load_i64(t->data, t->dtype, i);
    *n = t->numel;
    return AIS_OK;
}

ais_status ais__read_int_list(const ais_tensor *t, const char *what, int64_t *v, size_t max,
                              size_t *n) {
    return ais__read_ints(t, what, v, max, n, false);
}

ais_status ais__read_index_list(const ais_tensor *t, const char *what, int64_t *v, size_t max,
                                size_t *n) {
    return ais__read_ints(t, what, v, max, n, true);
}

ais_status ais__op_state_dup(const void *params, size_t size, const char *what, void **state) {
    void *p = ais__malloc(size);
    if (!p) return ais__oom(size, what);
    memcpy(p, params, size);
    *state = p;
    return AIS_OK;
}

void ais__op_state_free(void *state) { ais__free(state); }
