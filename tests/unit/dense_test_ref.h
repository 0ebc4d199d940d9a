/*
 * dense_test_ref.h - helpers shared by the dense-operator tests (test_ops_matmul.c,
 * test_ops_conv.c, test_ops_pool.c, test_ops_norm.c, test_ops_softmax.c): tensors in any float
 * dtype from random values, and running an operator with attributes.
 */
#ifndef AIS_DENSE_TEST_REF_H
#define AIS_DENSE_TEST_REF_H

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "tensor/tensor.h"
#include "test_util.h"

/* A tensor of `dtype` holding the values v (rounded to the dtype). */
static inline ais_tensor *dt_tensor(ais_dtype dtype, const int64_t *shape, size_t nd,
                                    const double *v) {
    ais_tensor *t = NULL;
    AIS_ASSERT_OK(ais_tensor_create(dtype, shape, nd, &t));
    for (size_t i = 0; i < t->numel; i++) {
        if (dtype == AIS_DTYPE_F16)
            ((uint16_t *)t->data)[i] = ais__f32_to_f16((float)v[i]);
        else if (dtype == AIS_DTYPE_BF16)
            ((uint16_t *)t->data)[i] = ais__f32_to_bf16((float)v[i]);
        else
            ais__store_f64(t->data, dtype, i, v[i]);
    }
    return t;
}

/* Random values in [lo, hi) as a new array of doubles (free()), rounded through `dtype` so that
 * a reference computed from them sees what the kernel sees. */
static inline double *dt_rand(ais_dtype dtype, size_t n, double lo, double hi) {
    double *v = malloc((n ? n : 1) * sizeof(double));
    assert_non_null(v);
    for (size_t i = 0; i < n; i++) {
        double x = ais_test_uniform(lo, hi);
        if (dtype == AIS_DTYPE_F32) x = (float)x;
        if (dtype == AIS_DTYPE_F16) x = ais__f16_to_f32(ais__f32_to_f16((float)x));
        if (dtype == AIS_DTYPE_BF16) x = ais__bf16_to_f32(ais__f32_to_bf16((float)x));
        if (ais__dtype_is_int(dtype)) x = floor(x);
        v[i] = x;
    }
    return v;
}

static inline size_t dt_numel(const int64_t *s, size_t nd) {
    size_t n = 1;
    for (size_t i = 0; i < nd; i++)
        n *= (size_t)s[i];
    return n;
}

static inline ais_attrs *dt_attrs(void) {
    ais_attrs *a = NULL;
    AIS_ASSERT_OK(ais_attrs_create(&a));
    return a;
}

static inline void dt_ints(ais_attrs *a, const char *name, const int64_t *v, size_t n) {
    AIS_ASSERT_OK(ais_attrs_set_ints(a, name, v, n));
}

/* Runs op with one output; asserts success and returns it. */
static inline ais_tensor *dt_run(const char *op, const ais_attrs *attrs,
                                 const ais_tensor *const *in, size_t n_in) {
    ais_tensor *out = NULL;
    AIS_ASSERT_OK(ais_op_run(op, attrs, in, n_in, &out, 1));
    return out;
}

/* Asserts an operator fails with `want` and a message containing `needle`, leaving no output. */
static inline void dt_fails(const char *op, const ais_attrs *attrs, const ais_tensor *const *in,
                            size_t n_in, ais_status want, const char *needle) {
    ais_tensor *out = NULL;
    AIS_ASSERT_STATUS(ais_op_run(op, attrs, in, n_in, &out, 1), want);
    assert_null(out);
    if (needle) ais_test_assert_error_contains(needle);
}

/* Tolerances per dtype for results computed from values of that dtype. */
static inline double dt_rtol(ais_dtype d) {
    return d == AIS_DTYPE_F64    ? 1e-12
           : d == AIS_DTYPE_F16  ? 4e-3
           : d == AIS_DTYPE_BF16 ? 2e-2
                                 : 2e-5;
}

#endif
