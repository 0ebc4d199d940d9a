/* test_tensor.c - tensors, dtypes, views, copies, DLPack, errors and allocation failures. */
#include <dlpack/dlpack.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "tensor/tensor.h"
#include "test_util.h"

static void test_version(void **state) {
    (void)state;
    assert_int_equal(ais_version_number(), AIS_VERSION_NUMBER);
    assert_string_equal(ais_version_string(), AIS_VERSION_STRING);
    assert_string_equal(ais_status_name(AIS_E_SHAPE), "AIS_E_SHAPE");
    assert_string_equal(ais_status_name((ais_status)999), "AIS_E_UNKNOWN");
    assert_non_null(ais_status_string((ais_status)-1));
    assert_non_null(ais_last_error());
}

static void test_dtypes(void **state) {
    (void)state;
    assert_int_equal(ais_dtype_size(AIS_DTYPE_F32), 4);
    assert_int_equal(ais_dtype_size(AIS_DTYPE_F64), 8);
    assert_int_equal(ais_dtype_size(AIS_DTYPE_F16), 2);
    assert_int_equal(ais_dtype_size(AIS_DTYPE_BF16), 2);
    assert_int_equal(ais_dtype_size(AIS_DTYPE_I8), 1);
    assert_int_equal(ais_dtype_size(AIS_DTYPE_U8), 1);
    assert_int_equal(ais_dtype_size(AIS_DTYPE_I16), 2);
    assert_int_equal(ais_dtype_size(AIS_DTYPE_I32), 4);
    assert_int_equal(ais_dtype_size(AIS_DTYPE_I64), 8);
    assert_int_equal(ais_dtype_size(AIS_DTYPE_BOOL), 1);
    assert_int_equal(ais_dtype_size(AIS_DTYPE_STRING), sizeof(char *));
    assert_int_equal(ais_dtype_size((ais_dtype)77), 0);
    assert_string_equal(ais_dtype_name(AIS_DTYPE_BF16), "bf16");
    assert_string_equal(ais_dtype_name((ais_dtype)77), "undefined");
}

static void test_create_and_access(void **state) {
    (void)state;
    ais_tensor *t = NULL;
    AIS_ASSERT_OK(ais_tensor_create(AIS_DTYPE_F32, AIS_SHAPE(2, 3, 5), &t));
    assert_int_equal(ais_tensor_ndim(t), 3);
    assert_int_equal(ais_tensor_shape(t)[2], 5);
    assert_int_equal(ais_tensor_size(t), 30);
    assert_int_equal(ais_tensor_nbytes(t), 120);
    assert_int_equal((uintptr_t)ais_tensor_data(t) % 64, 0);
    const float *p = ais_tensor_data(t);
    assert_ptr_equal(ais_tensor_data_const(t), p);
    for (int i = 0; i < 30; i++) assert_true(p[i] == 0.0f);
    ais_tensor_destroy(t);

    /* scalar and empty */
    AIS_ASSERT_OK(ais_tensor_create(AIS_DTYPE_I64, NULL, 0, &t));
    assert_int_equal(ais_tensor_size(t), 1);
    assert_int_equal(ais_tensor_ndim(t), 0);
    ais_tensor_destroy(t);
    AIS_ASSERT_OK(ais_tensor_create(AIS_DTYPE_F16, AIS_SHAPE(4, 0, 3), &t));
    assert_int_equal(ais_tensor_size(t), 0);
    assert_int_equal(ais_tensor_nbytes(t), 0);
    ais_tensor_destroy(t);
    ais_tensor_destroy(NULL);
}

static void test_create_errors(void **state) {
    (void)state;
    ais_tensor *t = (ais_tensor *)0x1;
    AIS_ASSERT_STATUS(ais_tensor_create(AIS_DTYPE_F32, AIS_SHAPE(2, -1), &t), AIS_E_SHAPE);
    assert_null(t);
    ais_test_assert_error_contains("negative");
    AIS_ASSERT_STATUS(ais_tensor_create((ais_dtype)99, AIS_SHAPE(2), &t), AIS_E_DTYPE);
    AIS_ASSERT_STATUS(ais_tensor_create(AIS__DTYPE_SEQUENCE, AIS_SHAPE(2), &t), AIS_E_DTYPE);
    AIS_ASSERT_STATUS(ais_tensor_create(AIS_DTYPE_F32, AIS_SHAPE(1, 1, 1, 1, 1, 1, 1, 1, 1), &t),
                      AIS_E_LIMIT);
    AIS_ASSERT_STATUS(ais_tensor_create(AIS_DTYPE_F32, AIS_SHAPE(INT64_MAX / 2, 4), &t), AIS_E_LIMIT);
    AIS_ASSERT_STATUS(ais_tensor_create(AIS_DTYPE_F32, NULL, 2, &t), AIS_E_INVALID_ARGUMENT);
    AIS_ASSERT_STATUS(ais_tensor_create(AIS_DTYPE_F32, AIS_SHAPE(2), NULL), AIS_E_INVALID_ARGUMENT);
    /* accessors on NULL do not crash */
    assert_int_equal(ais_tensor_size(NULL), 0);
    assert_null(ais_tensor_data(NULL));
    assert_null(ais_tensor_data_const(NULL));
    assert_int_equal(ais_tensor_dtype(NULL), AIS_DTYPE_UNDEFINED);
}

static int release_calls;
static void count_release(void *ud, void *data) {
    assert_ptr_equal(ud, &release_calls);
    assert_non_null(data);
    release_calls++;
}

static void test_wrap_and_views(void **state) {
    (void)state;
    float buf[12];
    for (int i = 0; i < 12; i++) buf[i] = (float)i;
    ais_tensor *t = NULL, *v = NULL;
    release_calls = 0;
    AIS_ASSERT_OK(ais_tensor_wrap(AIS_DTYPE_F32, AIS_SHAPE(3, 4), buf, sizeof buf, count_release,
                                  &release_calls, &t));
    assert_ptr_equal(ais_tensor_data(t), buf);
    AIS_ASSERT_OK(ais_tensor_reshape(t, AIS_SHAPE(2, -1, 3), &v));
    assert_int_equal(ais_tensor_shape(v)[1], 2);
    assert_ptr_equal(ais_tensor_data(v), buf);
    ais_tensor_destroy(t);
    assert_int_equal(release_calls, 0); /* the view still holds the memory */
    ((float *)ais_tensor_data(v))[5] = 42.0f;
    assert_true(buf[5] == 42.0f);
    ais_tensor_destroy(v);
    assert_int_equal(release_calls, 1);

    AIS_ASSERT_STATUS(ais_tensor_wrap(AIS_DTYPE_F32, AIS_SHAPE(3, 4), buf, 8, NULL, NULL, &t),
                      AIS_E_SHAPE);
    assert_null(t);
    AIS_ASSERT_STATUS(ais_tensor_wrap(AIS_DTYPE_F32, AIS_SHAPE(3), NULL, 12, NULL, NULL, &t),
                      AIS_E_INVALID_ARGUMENT);

    ais_tensor *x = ais_test_rand_f32(AIS_SHAPE(4, 6), -1, 1);
    AIS_ASSERT_STATUS(ais_tensor_reshape(x, AIS_SHAPE(5, 5), &v), AIS_E_SHAPE);
    ais_test_assert_error_contains("[5, 5]");
    AIS_ASSERT_STATUS(ais_tensor_reshape(x, AIS_SHAPE(5, -1), &v), AIS_E_SHAPE);
    AIS_ASSERT_STATUS(ais_tensor_reshape(x, AIS_SHAPE(-1, -1), &v), AIS_E_SHAPE);
    AIS_ASSERT_STATUS(ais_tensor_reshape(NULL, AIS_SHAPE(1), &v), AIS_E_INVALID_ARGUMENT);
    ais_tensor_destroy(x);
}

/* Wrapped memory must be aligned to the element size: kernels load whole elements. */
static void test_wrap_misaligned(void **state) {
    (void)state;
    _Alignas(8) unsigned char buf[64] = {0};
    static const struct {
        ais_dtype dtype;
        size_t size;
    } cases[] = {{AIS_DTYPE_F32, 4}, {AIS_DTYPE_I64, 8}, {AIS_DTYPE_F64, 8},
                 {AIS_DTYPE_U16, 2}, {AIS_DTYPE_I32, 4}, {AIS_DTYPE_BF16, 2}};
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        for (size_t off = 0; off < 8; off++) {
            ais_tensor *t = NULL;
            ais_status st = ais_tensor_wrap(cases[c].dtype, AIS_SHAPE(2), buf + off,
                                            sizeof buf - off, NULL, NULL, &t);
            if (off % cases[c].size == 0) {
                AIS_ASSERT_OK(st);
                assert_ptr_equal(ais_tensor_data(t), buf + off);
                ais_tensor_destroy(t);
            } else {
                assert_int_equal(st, AIS_E_INVALID_ARGUMENT);
                assert_null(t);
                ais_test_assert_error_contains("is not aligned to");
                ais_test_assert_error_contains(ais_dtype_name(cases[c].dtype));
            }
        }
    }
    /* One-byte elements have no alignment to keep. */
    ais_tensor *t = NULL;
    AIS_ASSERT_OK(ais_tensor_wrap(AIS_DTYPE_U8, AIS_SHAPE(3), buf + 1, 3, NULL, NULL, &t));
    ais_tensor_destroy(t);
}

static void test_copy(void **state) {
    (void)state;
    ais_tensor *a = ais_test_rand_f32(AIS_SHAPE(7, 3), -5, 5), *b = NULL, *c = NULL;
    AIS_ASSERT_OK(ais_tensor_copy(a, &b));
    assert_ptr_not_equal(ais_tensor_data(a), ais_tensor_data(b));
    assert_memory_equal(ais_tensor_data(a), ais_tensor_data(b), ais_tensor_nbytes(a));
    AIS_ASSERT_OK(ais_tensor_create(AIS_DTYPE_F32, AIS_SHAPE(21), &c));
    AIS_ASSERT_OK(ais_tensor_copy_into(a, c));
    assert_memory_equal(ais_tensor_data(a), ais_tensor_data(c), ais_tensor_nbytes(a));
    ais_tensor_destroy(c);
    AIS_ASSERT_OK(ais_tensor_create(AIS_DTYPE_F64, AIS_SHAPE(21), &c));
    AIS_ASSERT_STATUS(ais_tensor_copy_into(a, c), AIS_E_DTYPE);
    ais_tensor_destroy(c);
    AIS_ASSERT_OK(ais_tensor_create(AIS_DTYPE_F32, AIS_SHAPE(20), &c));
    AIS_ASSERT_STATUS(ais_tensor_copy_into(a, c), AIS_E_SHAPE);
    AIS_ASSERT_STATUS(ais_tensor_copy_into(NULL, c), AIS_E_INVALID_ARGUMENT);
    ais_tensor_destroy(a);
    ais_tensor_destroy(b);
    ais_tensor_destroy(c);
}

static void test_dlpack_roundtrip(void **state) {
    (void)state;
    const ais_dtype types[] = {AIS_DTYPE_F32, AIS_DTYPE_F64, AIS_DTYPE_F16, AIS_DTYPE_BF16,
                               AIS_DTYPE_I8,  AIS_DTYPE_U8,  AIS_DTYPE_I16, AIS_DTYPE_I32,
                               AIS_DTYPE_I64, AIS_DTYPE_BOOL, AIS_DTYPE_U16, AIS_DTYPE_U32,
                               AIS_DTYPE_U64};
    for (size_t k = 0; k < sizeof types / sizeof types[0]; k++) {
        ais_tensor *a = NULL, *b = NULL;
        AIS_ASSERT_OK(ais_tensor_create(types[k], AIS_SHAPE(3, 5), &a));
        memset(ais_tensor_data(a), 1, ais_tensor_nbytes(a));
        struct DLManagedTensor *m = NULL;
        AIS_ASSERT_OK(ais_tensor_to_dlpack(a, &m));
        assert_ptr_equal(m->dl_tensor.data, ais_tensor_data(a));
        assert_int_equal(m->dl_tensor.ndim, 2);
        assert_int_equal(m->dl_tensor.shape[1], 5);
        ais_tensor_destroy(a); /* the export keeps the data alive */
        AIS_ASSERT_OK(ais_tensor_from_dlpack(m, &b));
        assert_int_equal(ais_tensor_dtype(b), types[k]);
        assert_int_equal(ais_tensor_size(b), 15);
        assert_int_equal(((uint8_t *)ais_tensor_data(b))[0], 1);
        ais_tensor_destroy(b); /* runs the export's deleter */
    }
}

static void test_dlpack_errors(void **state) {
    (void)state;
    float data[6] = {0};
    int64_t shape[2] = {2, 3}, strides[2] = {1, 2};
    DLManagedTensor m = {0};
    m.dl_tensor.data = data;
    m.dl_tensor.device.device_type = kDLCPU;
    m.dl_tensor.ndim = 2;
    m.dl_tensor.shape = shape;
    m.dl_tensor.dtype = (DLDataType){kDLFloat, 32, 1};
    ais_tensor *t = NULL;
    m.dl_tensor.strides = strides; /* column-major: refused */
    AIS_ASSERT_STATUS(ais_tensor_from_dlpack(&m, &t), AIS_E_UNSUPPORTED);
    m.dl_tensor.strides = NULL;
    m.dl_tensor.dtype = (DLDataType){kDLFloat, 32, 4};
    AIS_ASSERT_STATUS(ais_tensor_from_dlpack(&m, &t), AIS_E_DTYPE);
    m.dl_tensor.dtype = (DLDataType){kDLFloat, 32, 1};
    m.dl_tensor.device.device_type = kDLCUDA;
    AIS_ASSERT_STATUS(ais_tensor_from_dlpack(&m, &t), AIS_E_UNSUPPORTED);
    m.dl_tensor.device.device_type = kDLCPU;
    m.dl_tensor.ndim = 99;
    AIS_ASSERT_STATUS(ais_tensor_from_dlpack(&m, &t), AIS_E_LIMIT);
    AIS_ASSERT_STATUS(ais_tensor_from_dlpack(NULL, &t), AIS_E_INVALID_ARGUMENT);
    AIS_ASSERT_STATUS(ais_tensor_to_dlpack(NULL, NULL), AIS_E_INVALID_ARGUMENT);
    assert_null(t);
}

static void test_half_conversions(void **state) {
    (void)state;
    const float vals[] = {0.0f, -0.0f, 1.0f, -2.5f, 65504.0f, 1e-7f, 6.1e-5f, 3.14159f, 1e6f,
                          INFINITY, -INFINITY};
    for (size_t i = 0; i < sizeof vals / sizeof vals[0]; i++) {
        float h = ais__f16_to_f32(ais__f32_to_f16(vals[i]));
        float expect = vals[i] > 65520.0f ? INFINITY : vals[i];
        if (isinf(expect)) {
            assert_true(isinf(h) && (h > 0) == (expect > 0));
        } else {
            assert_true(fabsf(h - expect) <= fabsf(expect) * 1e-3f + 6e-8f);
        }
        float b = ais__bf16_to_f32(ais__f32_to_bf16(vals[i]));
        assert_true(isinf(vals[i]) ? b == vals[i] : fabsf(b - vals[i]) <= fabsf(vals[i]) * 8e-3f);
    }
    assert_true(isnan(ais__f16_to_f32(ais__f32_to_f16(NAN))));
    assert_true(isnan(ais__bf16_to_f32(ais__f32_to_bf16(NAN))));
    /* every half value survives a round trip through f32 */
    for (uint32_t h = 0; h < 0x10000; h++) {
        float f = ais__f16_to_f32((uint16_t)h);
        if (isnan(f)) continue;
        assert_int_equal(ais__f32_to_f16(f), h);
    }
}

/* ---- allocation failures ---- */

typedef struct {
    ais_tensor *a, *b, *c;
    struct DLManagedTensor *m;
} sweep_ctx;

static ais_status sweep_tensor_ops(void *p) {
    sweep_ctx *s = p;
    AIS__CHECK(ais_tensor_create(AIS_DTYPE_F32, AIS_SHAPE(4, 4), &s->a));
    AIS__CHECK(ais_tensor_reshape(s->a, AIS_SHAPE(16), &s->b));
    AIS__CHECK(ais_tensor_copy(s->b, &s->c));
    AIS__CHECK(ais_tensor_to_dlpack(s->c, &s->m));
    return AIS_OK;
}

static void test_alloc_failure_sweep(void **state) {
    (void)state;
    sweep_ctx s = {0};
    long n = AIS_TEST_OOM_SWEEP("tensor create/reshape/copy/to_dlpack", sweep_tensor_ops, &s, 100,
                                AIS_OWN_TENSOR(&s.a), AIS_OWN_TENSOR(&s.b), AIS_OWN_TENSOR(&s.c),
                                AIS_OWN_DLPACK(&s.m));
    assert_true(n >= 5); /* each step allocates */
}

static void plain_free(void *ud, void *p) {
    (void)ud;
    free(p);
}

static void test_allocator_errors(void **state) {
    (void)state;
    AIS_ASSERT_STATUS(ais_set_allocator(NULL, plain_free, NULL), AIS_E_INVALID_ARGUMENT);
    AIS_ASSERT_OK(ais_set_allocator(NULL, NULL, NULL));
}

/* ais_tensor_describe: the accessors of n tensors in one call, and its failure paths (nothing
 * written). */
static void test_describe(void **state) {
    (void)state;
    ais_tensor *a = NULL, *b = NULL;
    const int64_t sa[3] = {2, 3, 4}, sb[1] = {5};
    AIS_ASSERT_OK(ais_tensor_create(AIS_DTYPE_F32, sa, 3, &a));
    AIS_ASSERT_OK(ais_tensor_create(AIS_DTYPE_I64, sb, 1, &b));
    const ais_tensor *ts[2] = {a, b};
    int32_t dt[2] = {-1, -1};
    uint64_t nd[2] = {99, 99}, nb[2] = {0, 0};
    int64_t dims[2 * AIS_MAX_DIMS];
    memset(dims, 0xff, sizeof dims);
    void *data[2] = {NULL, NULL};
    AIS_ASSERT_OK(ais_tensor_describe(ts, 2, dt, nd, dims, data, nb));
    assert_int_equal(dt[0], AIS_DTYPE_F32);
    assert_int_equal(dt[1], AIS_DTYPE_I64);
    assert_int_equal(nd[0], 3);
    assert_int_equal(nd[1], 1);
    assert_memory_equal(dims, sa, sizeof sa);
    assert_int_equal(dims[AIS_MAX_DIMS], 5);
    assert_ptr_equal(data[0], ais_tensor_data(a));
    assert_ptr_equal(data[1], ais_tensor_data(b));
    assert_int_equal(nb[0], 24 * 4);
    assert_int_equal(nb[1], 5 * 8);
    AIS_ASSERT_OK(ais_tensor_describe(NULL, 0, NULL, NULL, NULL, NULL, NULL));
    AIS_ASSERT_STATUS(ais_tensor_describe(ts, 2, dt, NULL, dims, data, nb), AIS_E_INVALID_ARGUMENT);
    const ais_tensor *bad[2] = {a, NULL};
    dt[0] = -7;
    AIS_ASSERT_STATUS(ais_tensor_describe(bad, 2, dt, nd, dims, data, nb), AIS_E_INVALID_ARGUMENT);
    assert_non_null(strstr(ais_last_error(), "tensor 1 is NULL"));
    assert_int_equal(dt[0], -7); /* nothing written */
    ais_tensor_destroy(a);
    ais_tensor_destroy(b);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_version),
        cmocka_unit_test(test_dtypes),
        cmocka_unit_test(test_create_and_access),
        cmocka_unit_test(test_create_errors),
        cmocka_unit_test(test_wrap_and_views),
        cmocka_unit_test(test_wrap_misaligned),
        cmocka_unit_test(test_copy),
        cmocka_unit_test(test_dlpack_roundtrip),
        cmocka_unit_test(test_dlpack_errors),
        cmocka_unit_test(test_half_conversions),
        cmocka_unit_test(test_alloc_failure_sweep),
        cmocka_unit_test(test_allocator_errors),
        cmocka_unit_test(test_describe),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
