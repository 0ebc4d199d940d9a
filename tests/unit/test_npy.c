/* test_npy.c - .npy files: round trips of every dtype, numpy-written fixtures (both byte
 * orders, versions 1-3), hostile headers, truncation and allocation failures.
 * `test_npy --write DIR` writes sample files for tests/fixtures/check_npy_interop.py. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "format/format.h"
#include "test_util.h"

static const ais_dtype all_dtypes[] = {
    AIS_DTYPE_F32, AIS_DTYPE_F64, AIS_DTYPE_F16, AIS_DTYPE_I8,  AIS_DTYPE_I16, AIS_DTYPE_I32,
    AIS_DTYPE_I64, AIS_DTYPE_U8,  AIS_DTYPE_U16, AIS_DTYPE_U32, AIS_DTYPE_U64, AIS_DTYPE_BOOL,
};

/* Element i of the fixtures' formula (make_npy_fixtures.py): i*3-5 converted, bools i%3==0. */
static void fixture_value(ais_dtype dt, size_t i, void *out) {
    int64_t v = (int64_t)i * 3 - 5;
    switch (dt) {
    case AIS_DTYPE_F32: *(float *)out = (float)v; break;
    case AIS_DTYPE_F64: *(double *)out = (double)v; break;
    case AIS_DTYPE_F16: {
        uint16_t h = ais__f32_to_f16((float)v);
        memcpy(out, &h, 2);
        break;
    }
    case AIS_DTYPE_I8: *(int8_t *)out = (int8_t)v; break;
    case AIS_DTYPE_I16: *(int16_t *)out = (int16_t)v; break;
    case AIS_DTYPE_I32: *(int32_t *)out = (int32_t)v; break;
    case AIS_DTYPE_I64: *(int64_t *)out = v; break;
    case AIS_DTYPE_U8: *(uint8_t *)out = (uint8_t)(uint64_t)v; break;
    case AIS_DTYPE_U16: *(uint16_t *)out = (uint16_t)(uint64_t)v; break;
    case AIS_DTYPE_U32: *(uint32_t *)out = (uint32_t)(uint64_t)v; break;
    case AIS_DTYPE_U64: *(uint64_t *)out = (uint64_t)v; break;
    case AIS_DTYPE_BOOL: *(uint8_t *)out = i % 3 == 0; break;
    default: fail_msg("no fixture value for dtype %d", dt);
    }
}

static ais_tensor *fixture_tensor(ais_dtype dt, const int64_t *dims, size_t ndim) {
    ais_tensor *t;
    AIS_ASSERT_OK(ais_tensor_create(dt, dims, ndim, &t));
    size_t es = ais_dtype_size(dt);
    for (size_t i = 0; i < ais_tensor_size(t); i++)
        fixture_value(dt, i, (uint8_t *)ais_tensor_data(t) + i * es);
    return t;
}

static void assert_same(const ais_tensor *a, const ais_tensor *b) {
    assert_int_equal(ais_tensor_dtype(a), ais_tensor_dtype(b));
    assert_int_equal(ais_tensor_ndim(a), ais_tensor_ndim(b));
    for (size_t i = 0; i < ais_tensor_ndim(a); i++)
        assert_int_equal(ais_tensor_shape(a)[i], ais_tensor_shape(b)[i]);
    assert_int_equal(ais_tensor_nbytes(a), ais_tensor_nbytes(b));
    if (ais_tensor_nbytes(a))
        assert_memory_equal(ais_tensor_data(a), ais_tensor_data(b), ais_tensor_nbytes(a));
}

static void test_roundtrip_all_dtypes(void **state) {
    (void)state;
    for (size_t d = 0; d < AIS__ARRAY_LEN(all_dtypes); d++) {
        for (int shape_kind = 0; shape_kind < 4; shape_kind++) {
            int64_t dims[4] = {ais_test_randint(1, 7), ais_test_randint(1, 5), 3, 2};
            size_t ndim = shape_kind == 0 ? 0 : shape_kind == 1 ? 1 : shape_kind == 2 ? 4 : 2;
            if (shape_kind == 3) dims[1] = 0; /* empty */
            ais_tensor *t, *back;
            AIS_ASSERT_OK(ais_tensor_create(all_dtypes[d], dims, ndim, &t));
            uint8_t *p = ais_tensor_data(t);
            for (size_t i = 0; i < ais_tensor_nbytes(t); i++)
                p[i] = all_dtypes[d] == AIS_DTYPE_BOOL ? (uint8_t)(ais_test_rand_u64() & 1)
                                                       : (uint8_t)ais_test_rand_u64();
            const char *path = ais_test_tmp_path("rt.npy");
            AIS_ASSERT_OK(ais_tensor_save_npy(t, path));
            FILE *f = fopen(path, "rb");
            char head[10];
            assert_int_equal(fread(head, 1, 10, f), 10);
            fclose(f);
            size_t hlen = (uint8_t)head[8] | ((size_t)(uint8_t)head[9] << 8);
            assert_int_equal((10 + hlen) % 64, 0); /* the spec's alignment */
            assert_int_equal(head[6], 1);
            AIS_ASSERT_OK(ais_tensor_load(path, &back));
            assert_same(t, back);
            ais_tensor_destroy(t);
            ais_tensor_destroy(back);
        }
    }
}

static void test_save_errors(void **state) {
    (void)state;
    ais_tensor *t;
    AIS_ASSERT_OK(ais_tensor_create(AIS_DTYPE_BF16, AIS_SHAPE(2), &t));
    AIS_ASSERT_STATUS(ais_tensor_save_npy(t, ais_test_tmp_path("bf.npy")), AIS_E_DTYPE);
    ais_test_assert_error_contains("f32");
    ais_tensor_destroy(t);
    AIS_ASSERT_OK(ais_tensor_create(AIS_DTYPE_F32, AIS_SHAPE(2), &t));
    AIS_ASSERT_STATUS(ais_tensor_save_npy(t, "/nonexistent/dir/t.npy"), AIS_E_IO);
    ais_test_assert_error_contains("/nonexistent/dir/t.npy");
    AIS_ASSERT_STATUS(ais_tensor_save_npy(NULL, "x.npy"), AIS_E_INVALID_ARGUMENT);
    AIS_ASSERT_STATUS(ais_tensor_save_npy(t, NULL), AIS_E_INVALID_ARGUMENT);
    ais_tensor_destroy(t);
    ais_tensor *out = (ais_tensor *)1;
    AIS_ASSERT_STATUS(ais_tensor_load(NULL, &out), AIS_E_INVALID_ARGUMENT);
    assert_null(out);
    AIS_ASSERT_STATUS(ais_tensor_load("/nonexistent.npy", &out), AIS_E_IO);
    ais_test_assert_error_contains("/nonexistent.npy");
    /* not .npy: handed to the TensorProto reader, whose error names the file */
    const char *path = ais_test_tmp_path("garbage.pb");
    FILE *f = fopen(path, "wb");
    fputs("\xff\xff not a tensor", f);
    fclose(f);
    assert_int_not_equal(ais_tensor_load(path, &out), AIS_OK);
    ais_test_assert_error_contains("garbage.pb");
    assert_null(out);
}

static void test_numpy_fixtures(void **state) {
    (void)state;
    static const struct {
        const char *file;
        ais_dtype dt;
        size_t ndim;
        int64_t dims[2];
    } cases[] = {
        {"f2_le", AIS_DTYPE_F16, 2, {2, 3}},     {"f2_be", AIS_DTYPE_F16, 2, {2, 3}},
        {"f4_le", AIS_DTYPE_F32, 2, {2, 3}},     {"f4_be", AIS_DTYPE_F32, 2, {2, 3}},
        {"f8_le", AIS_DTYPE_F64, 2, {2, 3}},     {"f8_be", AIS_DTYPE_F64, 2, {2, 3}},
        {"i1_le", AIS_DTYPE_I8, 2, {2, 3}},      {"u1_le", AIS_DTYPE_U8, 2, {2, 3}},
        {"i2_le", AIS_DTYPE_I16, 2, {2, 3}},     {"i2_be", AIS_DTYPE_I16, 2, {2, 3}},
        {"i4_le", AIS_DTYPE_I32, 2, {2, 3}},     {"i4_be", AIS_DTYPE_I32, 2, {2, 3}},
        {"i8_le", AIS_DTYPE_I64, 2, {2, 3}},     {"i8_be", AIS_DTYPE_I64, 2, {2, 3}},
        {"u2_le", AIS_DTYPE_U16, 2, {2, 3}},     {"u2_be", AIS_DTYPE_U16, 2, {2, 3}},
        {"u4_le", AIS_DTYPE_U32, 2, {2, 3}},     {"u4_be", AIS_DTYPE_U32, 2, {2, 3}},
        {"u8_le", AIS_DTYPE_U64, 2, {2, 3}},     {"u8_be", AIS_DTYPE_U64, 2, {2, 3}},
        {"b1_le", AIS_DTYPE_BOOL, 2, {2, 3}},    {"scalar_f8", AIS_DTYPE_F64, 0, {0, 0}},
        {"vector_i4", AIS_DTYPE_I32, 1, {5, 0}}, {"empty_f4", AIS_DTYPE_F32, 2, {0, 4}},
        {"v2_f4", AIS_DTYPE_F32, 2, {2, 3}},     {"v3_f4", AIS_DTYPE_F32, 2, {2, 3}},
    };
    for (size_t c = 0; c < AIS__ARRAY_LEN(cases); c++) {
        char path[512];
        snprintf(path, sizeof path, "%s/tests/fixtures/npy/%s.npy", AIS_SOURCE_DIR, cases[c].file);
        ais_tensor *got, *want = fixture_tensor(cases[c].dt, cases[c].dims, cases[c].ndim);
        ais_status st = ais_tensor_load(path, &got);
        if (st != AIS_OK) fail_msg("%s: %s", path, ais_last_error());
        assert_same(got, want);
        ais_tensor_destroy(got);
        ais_tensor_destroy(want);
    }
    char path[512];
    snprintf(path, sizeof path, "%s/tests/fixtures/npy/fortran_f4.npy", AIS_SOURCE_DIR);
    ais_tensor *t = (ais_tensor *)1;
    AIS_ASSERT_STATUS(ais_tensor_load(path, &t), AIS_E_UNSUPPORTED);
    ais_test_assert_error_contains("Fortran");
    ais_test_assert_error_contains("fortran_f4.npy");
    assert_null(t);
}

/* A v1.0 file from a header dict and `body` bytes, in a malloc'd exact-size buffer. */
static uint8_t *make_npy(const char *dict, const void *body, size_t nbody, size_t *size) {
    size_t n = strlen(dict);
    *size = 10 + n + nbody;
    uint8_t *p = malloc(*size);
    memcpy(p, "\x93NUMPY\x01\x00", 8);
    p[8] = (uint8_t)(n & 0xff);
    p[9] = (uint8_t)(n >> 8);
    memcpy(p + 10, dict, n);
    if (nbody) memcpy(p + 10 + n, body, nbody);
    return p;
}

static ais_status read_dict(const char *dict, size_t nbody) {
    uint8_t body[64] = {0};
    size_t size;
    uint8_t *p = make_npy(dict, body, nbody, &size);
    ais_tensor *t = (ais_tensor *)1;
    ais_status st = ais__npy_read(p, size, &t);
    if (st == AIS_OK)
        ais_tensor_destroy(t);
    else
        assert_null(t);
    free(p);
    return st;
}

static void test_headers(void **state) {
    (void)state;
    /* accepted spellings */
    AIS_ASSERT_OK(read_dict("{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }\n", 24));
    AIS_ASSERT_OK(read_dict("{\"shape\":(3,),\"descr\":\"|f4\",\"fortran_order\":False}", 12));
    AIS_ASSERT_OK(
        read_dict("{'descr': '>u1', 'fortran_order': False, 'shape': (1,1,1,1,1,1,1,5)}", 5));
    AIS_ASSERT_OK(read_dict("{'descr': '<i8', 'fortran_order': False, 'shape': ()}  \n", 8));
    /* refused */
    AIS_ASSERT_STATUS(read_dict("{'descr': '<f4', 'fortran_order': True, 'shape': (2,)}", 8),
                      AIS_E_UNSUPPORTED);
    AIS_ASSERT_STATUS(read_dict("{'descr': '<f4', 'fortran_order': False, 'shape': (2,)}", 7),
                      AIS_E_FORMAT);
    ais_test_assert_error_contains("needs 8 data bytes");
    AIS_ASSERT_STATUS(read_dict("{'descr': '<f4', 'fortran_order': False, 'shape': (2,)}", 9),
                      AIS_E_FORMAT);
    AIS_ASSERT_STATUS(read_dict("{'descr': '<f4', 'fortran_order': False, "
                                "'shape': (4611686018427387904, 4611686018427387904)}",
                                0),
                      AIS_E_LIMIT);
    AIS_ASSERT_STATUS(read_dict("{'descr': '<f4', 'fortran_order': False, "
                                "'shape': (99999999999999999999999,)}",
                                0),
                      AIS_E_LIMIT);
    AIS_ASSERT_STATUS(read_dict("{'descr': '<f4', 'fortran_order': False, "
                                "'shape': (1,1,1,1,1,1,1,1,1)}",
                                4),
                      AIS_E_LIMIT);
    AIS_ASSERT_STATUS(read_dict("{'descr': '<f4', 'fortran_order': False, 'shape': (-1,)}", 0),
                      AIS_E_FORMAT);
    AIS_ASSERT_STATUS(read_dict("{'descr': '<c8', 'fortran_order': False, 'shape': (1,)}", 8),
                      AIS_E_DTYPE);
    ais_test_assert_error_contains("<c8");
    AIS_ASSERT_STATUS(read_dict("{'descr': '<U10', 'fortran_order': False, 'shape': (1,)}", 0),
                      AIS_E_DTYPE);
    AIS_ASSERT_STATUS(
        read_dict("{'descr': [('a', '<f4')], 'fortran_order': False, 'shape': (1,)}", 4),
        AIS_E_FORMAT);
    AIS_ASSERT_STATUS(read_dict("{'descr': '<f4', 'shape': (1,)}", 4), AIS_E_FORMAT);
    ais_test_assert_error_contains("fortran_order");
    AIS_ASSERT_STATUS(read_dict("{'descr': '<f4', 'descr': '<f4', 'fortran_order': False, "
                                "'shape': (1,)}",
                                4),
                      AIS_E_FORMAT);
    ais_test_assert_error_contains("twice");
    AIS_ASSERT_STATUS(
        read_dict("{'descr': '<f4', 'fortran_order': False, 'shape': (1,), 'x': 1}", 4),
        AIS_E_FORMAT);
    AIS_ASSERT_STATUS(read_dict("{'descr': '<f4, 'fortran_order': False, 'shape': (1,)}", 4),
                      AIS_E_DTYPE); /* the quote ends later: descr "<f4, " */
    AIS_ASSERT_STATUS(read_dict("{'descr': '<f4", 4), AIS_E_FORMAT);
    AIS_ASSERT_STATUS(read_dict("{'descr': '<f4', 'fortran_order': False, 'shape': (1,)} x", 4),
                      AIS_E_FORMAT);
    AIS_ASSERT_STATUS(read_dict("{'descr': '<f4', 'fortran_order': False, 'shape': (1 2)}", 4),
                      AIS_E_FORMAT);
    AIS_ASSERT_STATUS(read_dict("{'descr': '<f4', 'fortran_order': false, 'shape': (1,)}", 4),
                      AIS_E_FORMAT);
    AIS_ASSERT_STATUS(read_dict("", 0), AIS_E_FORMAT);
    AIS_ASSERT_STATUS(read_dict("{'descr': '<f4', 'fortran_order': False, 'shape': (1,", 0),
                      AIS_E_FORMAT);
    /* versions and framing */
    size_t size;
    uint8_t *p =
        make_npy("{'descr': '<f4', 'fortran_order': False, 'shape': ()}", "abcd", 4, &size);
    ais_tensor *t;
    p[6] = 4;
    AIS_ASSERT_STATUS(ais__npy_read(p, size, &t), AIS_E_UNSUPPORTED);
    p[6] = 1;
    p[7] = 1;
    AIS_ASSERT_STATUS(ais__npy_read(p, size, &t), AIS_E_UNSUPPORTED);
    p[7] = 0;
    p[8] = 0xff; /* header longer than the file */
    AIS_ASSERT_STATUS(ais__npy_read(p, size, &t), AIS_E_FORMAT);
    p[8] = (uint8_t)(size - 14);
    p[20] = 0;
    AIS_ASSERT_STATUS(ais__npy_read(p, size, &t), AIS_E_FORMAT);
    free(p);
    /* a version 2 header length over the limit */
    uint8_t v2[16] = "\x93NUMPY\x02\x00\xff\xff\xff\x7f{}";
    AIS_ASSERT_STATUS(ais__npy_read(v2, sizeof v2, &t), AIS_E_LIMIT);
}

static void test_big_endian_values(void **state) {
    (void)state;
    /* big-endian data built here by hand, independent of the fixtures */
    uint8_t be[8] = {0x3f, 0x80, 0x00, 0x00, 0xc0, 0x00, 0x00, 0x00}; /* 1.0f, -2.0f */
    size_t size;
    uint8_t *p = make_npy("{'descr': '>f4', 'fortran_order': False, 'shape': (2,)}", be, 8, &size);
    ais_tensor *t;
    AIS_ASSERT_OK(ais__npy_read(p, size, &t));
    const float *f = ais_tensor_data(t);
    assert_true(f[0] == 1.0f && f[1] == -2.0f);
    ais_tensor_destroy(t);
    free(p);
    uint8_t be64[8] = {1, 2, 3, 4, 5, 6, 7, 8};
    p = make_npy("{'descr': '>u8', 'fortran_order': False, 'shape': ()}", be64, 8, &size);
    AIS_ASSERT_OK(ais__npy_read(p, size, &t));
    assert_true(*(const uint64_t *)ais_tensor_data(t) == 0x0102030405060708ull);
    ais_tensor_destroy(t);
    free(p);
    uint8_t bools[3] = {0, 1, 7};
    p = make_npy("{'descr': '|b1', 'fortran_order': False, 'shape': (3,)}", bools, 3, &size);
    AIS_ASSERT_OK(ais__npy_read(p, size, &t));
    const uint8_t *b = ais_tensor_data(t);
    assert_true(b[0] == 0 && b[1] == 1 && b[2] == 1);
    ais_tensor_destroy(t);
    free(p);
}

static void test_truncated(void **state) {
    (void)state;
    char path[512];
    snprintf(path, sizeof path, "%s/tests/fixtures/npy/i8_be.npy", AIS_SOURCE_DIR);
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    uint8_t buf[4096];
    size_t size = fread(buf, 1, sizeof buf, f);
    fclose(f);
    for (size_t n = 0; n < size; n++) {
        uint8_t *copy = malloc(n ? n : 1);
        memcpy(copy, buf, n);
        ais_tensor *t;
        ais_status st = ais__npy_read(copy, n, &t);
        if (st != AIS_E_FORMAT) fail_msg("truncated to %zu: %s", n, ais_status_name(st));
        free(copy);
    }
}

typedef struct sweep_ctx {
    const uint8_t *p;
    size_t size;
    ais_tensor *t;
} sweep_ctx;

static ais_status sweep_read(void *ctx) {
    sweep_ctx *c = ctx;
    return ais__npy_read(c->p, c->size, &c->t);
}
static ais_status sweep_load(void *ctx) {
    sweep_ctx *c = ctx;
    return ais_tensor_load((const char *)c->p, &c->t);
}

static void test_oom(void **state) {
    (void)state;
    size_t size;
    uint8_t *p =
        make_npy("{'descr': '>i4', 'fortran_order': False, 'shape': (2,)}", "12345678", 8, &size);
    sweep_ctx c = {p, size, NULL};
    AIS_TEST_OOM_SWEEP("ais__npy_read", sweep_read, &c, 100, AIS_OWN_TENSOR(&c.t));
    free(p);
    char path[512];
    snprintf(path, sizeof path, "%s/tests/fixtures/npy/f4_be.npy", AIS_SOURCE_DIR);
    sweep_ctx l = {(const uint8_t *)path, 0, NULL};
    AIS_TEST_OOM_SWEEP("ais_tensor_load", sweep_load, &l, 100, AIS_OWN_TENSOR(&l.t));
}

/* The samples check_npy_interop.py verifies with numpy: the fixture formula in every dtype. */
static int write_samples(const char *dir) {
    for (size_t d = 0; d < AIS__ARRAY_LEN(all_dtypes); d++) {
        const int64_t shapes[3][2] = {{2, 3}, {5, 0}, {0, 0}};
        const size_t ndims[3] = {2, 1, 0};
        for (int s = 0; s < 3; s++) {
            ais_tensor *t;
            if (ais_tensor_create(all_dtypes[d], shapes[s], ndims[s], &t) != AIS_OK) return 1;
            size_t es = ais_dtype_size(all_dtypes[d]);
            for (size_t i = 0; i < ais_tensor_size(t); i++)
                fixture_value(all_dtypes[d], i, (uint8_t *)ais_tensor_data(t) + i * es);
            char path[1024];
            snprintf(path, sizeof path, "%s/%s_%zud.npy", dir, ais_dtype_name(all_dtypes[d]),
                     ndims[s]);
            ais_status st = ais_tensor_save_npy(t, path);
            ais_tensor_destroy(t);
            if (st != AIS_OK) {
                fprintf(stderr, "%s\n", ais_last_error());
                return 1;
            }
        }
    }
    return 0;
}

static int teardown(void **state) {
    (void)state;
    return ais_test_tmpdir_remove();
}

int main(int argc, char **argv) {
    if (argc == 3 && strcmp(argv[1], "--write") == 0) return write_samples(argv[2]);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_roundtrip_all_dtypes),
        cmocka_unit_test(test_save_errors),
        cmocka_unit_test(test_numpy_fixtures),
        cmocka_unit_test(test_headers),
        cmocka_unit_test(test_big_endian_values),
        cmocka_unit_test(test_truncated),
        cmocka_unit_test(test_oom),
    };
    return cmocka_run_group_tests(tests, NULL, teardown);
}
