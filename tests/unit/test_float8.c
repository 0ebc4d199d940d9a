/* test_float8.c - the float8 dtypes (E4M3FN, E4M3FNUZ, E5M2, E5M2FNUZ) and 4-bit integers:
 * conversions against tables computed by ONNX's own Python helpers (float8_table.h, from
 * tests/fixtures/make_float8_table.py), Cast and CastLike through them, the TensorProto reader's
 * unpacking of 4-bit data, and the exchange formats that must refuse them. */
#include <math.h>
#include <string.h>

#include "float8_table.h"
#include "format/format.h"
#include "test_util.h"

struct DLManagedTensor;

static const ais_dtype f8_types[4] = {AIS_DTYPE_F8E4M3FN, AIS_DTYPE_F8E4M3FNUZ, AIS_DTYPE_F8E5M2,
                                      AIS_DTYPE_F8E5M2FNUZ};

static uint32_t f32_bits(float f) {
    uint32_t b;
    memcpy(&b, &f, sizeof b);
    return b;
}

static float bits_f32(uint32_t b) {
    float f;
    memcpy(&f, &b, sizeof f);
    return f;
}

static void test_dtype_basics(void **state) {
    (void)state;
    static const struct {
        ais_dtype d;
        int value;
        const char *name;
    } t[] = {{AIS_DTYPE_F8E4M3FN, 17, "f8e4m3fn"}, {AIS_DTYPE_F8E4M3FNUZ, 18, "f8e4m3fnuz"},
             {AIS_DTYPE_F8E5M2, 19, "f8e5m2"},     {AIS_DTYPE_F8E5M2FNUZ, 20, "f8e5m2fnuz"},
             {AIS_DTYPE_U4, 21, "u4"},             {AIS_DTYPE_I4, 22, "i4"}};
    for (size_t i = 0; i < AIS__ARRAY_LEN(t); i++) {
        assert_int_equal((int)t[i].d, t[i].value); /* ONNX's TensorProto numbers */
        assert_int_equal(ais_dtype_size(t[i].d), 1);
        assert_string_equal(ais_dtype_name(t[i].d), t[i].name);
    }
    assert_int_equal(ais_dtype_size((ais_dtype)23), 0);
    /* 4-bit tensors hold one element per byte */
    ais_tensor *x = NULL;
    AIS_ASSERT_OK(ais_tensor_create(AIS_DTYPE_I4, AIS_SHAPE(3, 5), &x));
    assert_int_equal(ais_tensor_nbytes(x), 15);
    ais_tensor_destroy(x);
}

static void test_decode_table(void **state) {
    (void)state;
    for (int f = 0; f < 4; f++) {
        for (int c = 0; c < 256; c++) {
            float got = ais__f8_to_f32((uint8_t)c, f8_types[f]);
            float want = bits_f32(f8_decode_table[f][c]);
            if (isnan(want)) {
                if (!isnan(got)) fail_msg("%s code 0x%02x: got %g, want NaN",
                                          ais_dtype_name(f8_types[f]), c, got);
            } else if (f32_bits(got) != f8_decode_table[f][c]) {
                fail_msg("%s code 0x%02x: got %g (0x%08x), want %g", ais_dtype_name(f8_types[f]),
                         c, got, f32_bits(got), want);
            }
        }
    }
}

static void test_encode_table(void **state) {
    (void)state;
    for (size_t i = 0; i < F8_ENCODE_N; i++) {
        float x = bits_f32(f8_encode_table[i].x);
        for (int f = 0; f < 4; f++) {
            uint8_t s = ais__f32_to_f8(x, f8_types[f], true);
            uint8_t n = ais__f32_to_f8(x, f8_types[f], false);
            if (s != f8_encode_table[i].sat[f] || n != f8_encode_table[i].nosat[f])
                fail_msg("%s of %.9g (0x%08x): got 0x%02x/0x%02x (saturate 1/0), want "
                         "0x%02x/0x%02x",
                         ais_dtype_name(f8_types[f]), x, f8_encode_table[i].x, s, n,
                         f8_encode_table[i].sat[f], f8_encode_table[i].nosat[f]);
        }
    }
    /* round trip: every non-NaN code comes back as itself (FNUZ has no -0 to come back to) */
    for (int f = 0; f < 4; f++)
        for (int c = 0; c < 256; c++) {
            float v = ais__f8_to_f32((uint8_t)c, f8_types[f]);
            if (isnan(v)) continue;
            assert_int_equal(ais__f32_to_f8(v, f8_types[f], false), c);
        }
}

static void test_int4_table(void **state) {
    (void)state;
    for (size_t i = 0; i < INT4_N; i++) {
        assert_int_equal(ais__f32_to_int4(int4_table[i].x, AIS_DTYPE_U4), int4_table[i].u4);
        assert_int_equal((int8_t)ais__f32_to_int4(int4_table[i].x, AIS_DTYPE_I4), int4_table[i].i4);
    }
    assert_int_equal(ais__f32_to_int4(NAN, AIS_DTYPE_I4), 0);
}

static ais_status cast(const ais_tensor *x, ais_dtype to, int saturate, ais_tensor **y) {
    ais_attrs *a = NULL;
    AIS__CHECK(ais_attrs_create(&a));
    ais_status st = ais_attrs_set_int(a, "to", (int64_t)to);
    if (st == AIS_OK && saturate >= 0) st = ais_attrs_set_int(a, "saturate", saturate);
    const ais_tensor *in[1] = {x};
    if (st == AIS_OK) st = ais_test_run_op("Cast", a, in, 1, y, 1);
    ais_attrs_destroy(a);
    return st;
}

/* Cast f32 -> float8 (both saturate modes, and the default) and float8 -> f32, f64, f16. */
static void test_cast_float8(void **state) {
    (void)state;
    int64_t n = F8_ENCODE_N;
    ais_tensor *x = NULL;
    AIS_ASSERT_OK(ais_tensor_create(AIS_DTYPE_F32, &n, 1, &x));
    float *xp = ais_tensor_data(x);
    for (int64_t i = 0; i < n; i++) xp[i] = bits_f32(f8_encode_table[i].x);
    for (int f = 0; f < 4; f++) {
        for (int sat = -1; sat <= 1; sat++) {
            ais_tensor *y = NULL;
            AIS_ASSERT_OK(cast(x, f8_types[f], sat, &y));
            assert_int_equal(ais_tensor_dtype(y), f8_types[f]);
            const uint8_t *yp = ais_tensor_data(y);
            for (int64_t i = 0; i < n; i++) {
                uint8_t want = sat == 0 ? f8_encode_table[i].nosat[f] : f8_encode_table[i].sat[f];
                if (yp[i] != want)
                    fail_msg("Cast to %s (saturate %d) of %.9g: got 0x%02x, want 0x%02x",
                             ais_dtype_name(f8_types[f]), sat, xp[i], yp[i], want);
            }
            ais_tensor_destroy(y);
        }
        /* all 256 codes back to wider floats */
        int64_t k = 256;
        ais_tensor *c = NULL;
        AIS_ASSERT_OK(ais_tensor_create(f8_types[f], &k, 1, &c));
        for (int i = 0; i < 256; i++) ((uint8_t *)ais_tensor_data(c))[i] = (uint8_t)i;
        const ais_dtype tos[3] = {AIS_DTYPE_F32, AIS_DTYPE_F64, AIS_DTYPE_F16};
        for (int t = 0; t < 3; t++) {
            ais_tensor *y = NULL;
            AIS_ASSERT_OK(cast(c, tos[t], -1, &y));
            double want[256];
            for (int i = 0; i < 256; i++) want[i] = bits_f32(f8_decode_table[f][i]);
            ais_test_assert_close_values(y, want, 256, 0, 0);
            ais_tensor_destroy(y);
        }
        ais_tensor_destroy(c);
    }
    ais_tensor_destroy(x);
}

/* 4-bit integers: from floats and wider integers (clip then round half to even, as ONNX's
 * reference does for every source), to floats and wider integers, and through CastLike. */
static void test_cast_int4(void **state) {
    (void)state;
    int64_t n = INT4_N;
    ais_tensor *x = NULL;
    AIS_ASSERT_OK(ais_tensor_create(AIS_DTYPE_F32, &n, 1, &x));
    for (int64_t i = 0; i < n; i++) ((float *)ais_tensor_data(x))[i] = int4_table[i].x;
    ais_tensor *u = NULL, *s = NULL;
    AIS_ASSERT_OK(cast(x, AIS_DTYPE_U4, -1, &u));
    AIS_ASSERT_OK(cast(x, AIS_DTYPE_I4, -1, &s));
    for (int64_t i = 0; i < n; i++) {
        assert_int_equal(((uint8_t *)ais_tensor_data(u))[i], int4_table[i].u4);
        assert_int_equal(((int8_t *)ais_tensor_data(s))[i], int4_table[i].i4);
    }
    /* back out: exact small integers */
    double wu[128], ws[128];
    for (int64_t i = 0; i < n; i++) wu[i] = int4_table[i].u4, ws[i] = int4_table[i].i4;
    const ais_dtype outs[4] = {AIS_DTYPE_F32, AIS_DTYPE_I8, AIS_DTYPE_I64, AIS_DTYPE_F16};
    for (int t = 0; t < 4; t++) {
        ais_tensor *y = NULL;
        AIS_ASSERT_OK(cast(u, outs[t], -1, &y));
        ais_test_assert_close_values(y, wu, (size_t)n, 0, 0);
        ais_tensor_destroy(y);
        y = NULL;
        AIS_ASSERT_OK(cast(s, outs[t], -1, &y));
        ais_test_assert_close_values(y, ws, (size_t)n, 0, 0);
        ais_tensor_destroy(y);
    }
    /* integer sources saturate too (no wrap): random int32 against a naive clip */
    ais_tensor *iv = NULL;
    int64_t m = 37;
    AIS_ASSERT_OK(ais_tensor_create(AIS_DTYPE_I32, &m, 1, &iv));
    int32_t *ip = ais_tensor_data(iv);
    for (int64_t i = 0; i < m; i++) ip[i] = (int32_t)ais_test_randint(-40, 40);
    ais_tensor *y = NULL;
    AIS_ASSERT_OK(cast(iv, AIS_DTYPE_I4, -1, &y));
    for (int64_t i = 0; i < m; i++) {
        int want = ip[i] < -8 ? -8 : ip[i] > 7 ? 7 : ip[i];
        assert_int_equal(((int8_t *)ais_tensor_data(y))[i], want);
    }
    /* CastLike takes the dtype of its second input */
    ais_tensor *z = NULL;
    const ais_tensor *in[2] = {iv, u};
    AIS_ASSERT_OK(ais_test_run_op("CastLike", NULL, in, 2, &z, 1));
    assert_int_equal(ais_tensor_dtype(z), AIS_DTYPE_U4);
    for (int64_t i = 0; i < m; i++) {
        int want = ip[i] < 0 ? 0 : ip[i] > 15 ? 15 : ip[i];
        assert_int_equal(((uint8_t *)ais_tensor_data(z))[i], want);
    }
    ais_tensor_destroy(z);
    ais_tensor_destroy(y);
    ais_tensor_destroy(iv);
    ais_tensor_destroy(u);
    ais_tensor_destroy(s);
    ais_tensor_destroy(x);
}

/* A TensorProto: dims, data_type, then either raw_data or packed int32_data. */
static size_t make_tensorproto(uint8_t *buf, int64_t numel, int data_type, const uint8_t *bytes,
                               size_t nbytes, bool typed) {
    size_t k = 0;
    buf[k++] = 0x08; /* dims, varint */
    buf[k++] = (uint8_t)numel;
    buf[k++] = 0x10; /* data_type */
    buf[k++] = (uint8_t)data_type;
    if (!typed) {
        buf[k++] = 0x4a; /* raw_data (9), length-delimited */
        buf[k++] = (uint8_t)nbytes;
        memcpy(buf + k, bytes, nbytes);
        return k + nbytes;
    }
    buf[k++] = 0x2a; /* int32_data (5), packed */
    size_t len_at = k++, start = k;
    for (size_t i = 0; i < nbytes; i++) {
        uint32_t v = bytes[i];
        do {
            buf[k++] = (uint8_t)((v & 0x7f) | (v > 0x7f ? 0x80 : 0));
            v >>= 7;
        } while (v);
    }
    buf[len_at] = (uint8_t)(k - start);
    return k;
}

static void test_tensorproto_int4(void **state) {
    (void)state;
    for (int typed = 0; typed < 2; typed++) {
        for (int sgn = 0; sgn < 2; sgn++) {
            int64_t numel = ais_test_randint(0, 21); /* odd counts leave a half byte */
            uint8_t packed[16] = {0}, buf[128];
            int want[32];
            for (int64_t i = 0; i < numel; i++) {
                int v = (int)ais_test_randint(0, 15);
                packed[i / 2] |= (uint8_t)(v << (4 * (i % 2)));
                want[i] = sgn && v >= 8 ? v - 16 : v;
            }
            size_t np = (size_t)(numel + 1) / 2;
            size_t len = make_tensorproto(buf, numel, sgn ? 22 : 21, packed, np, typed);
            ais_tensor *t = NULL;
            AIS_ASSERT_OK(ais__tensorproto_read(buf, len, &t, NULL));
            assert_int_equal(ais_tensor_dtype(t), sgn ? AIS_DTYPE_I4 : AIS_DTYPE_U4);
            assert_int_equal(ais_tensor_size(t), numel);
            for (int64_t i = 0; i < numel; i++) {
                const uint8_t *d = ais_tensor_data(t);
                assert_int_equal(sgn ? (int)(int8_t)d[i] : (int)d[i], want[i]);
            }
            ais_tensor_destroy(t);
            /* one packed byte too many is refused, naming the count */
            len = make_tensorproto(buf, numel, sgn ? 22 : 21, packed, np + 1, typed);
            AIS_ASSERT_STATUS(ais__tensorproto_read(buf, len, &t, NULL), AIS_E_FORMAT);
            ais_test_assert_error_contains("packed");
            assert_null(t);
        }
    }
    /* float8 raw data is one byte per element */
    uint8_t raw[5] = {0x00, 0x38, 0x80, 0x7f, 0xfe}, buf[64];
    size_t len = make_tensorproto(buf, 5, 17, raw, 5, false);
    ais_tensor *t = NULL;
    AIS_ASSERT_OK(ais__tensorproto_read(buf, len, &t, NULL));
    assert_int_equal(ais_tensor_dtype(t), AIS_DTYPE_F8E4M3FN);
    assert_memory_equal(ais_tensor_data(t), raw, 5);
    ais_tensor_destroy(t);
}

static void test_exchange_refuses(void **state) {
    (void)state;
    const ais_dtype all[6] = {AIS_DTYPE_F8E4M3FN, AIS_DTYPE_F8E4M3FNUZ, AIS_DTYPE_F8E5M2,
                              AIS_DTYPE_F8E5M2FNUZ, AIS_DTYPE_U4, AIS_DTYPE_I4};
    for (int i = 0; i < 6; i++) {
        ais_tensor *x = NULL;
        AIS_ASSERT_OK(ais_tensor_create(all[i], AIS_SHAPE(2, 3), &x));
        struct DLManagedTensor *dl = NULL;
        AIS_ASSERT_STATUS(ais_tensor_to_dlpack(x, &dl), AIS_E_DTYPE);
        ais_test_assert_error_contains(ais_dtype_name(all[i]));
        assert_null(dl);
        AIS_ASSERT_STATUS(ais_tensor_save_npy(x, "/nonexistent-dir/x.npy"), AIS_E_DTYPE);
        ais_test_assert_error_contains(ais_dtype_name(all[i]));
        ais_tensor_destroy(x);
    }
}

typedef struct {
    ais_tensor *x, *y;
} sweep_ctx;

static ais_status sweep_cast(void *arg) {
    sweep_ctx *c = arg;
    return cast(c->x, AIS_DTYPE_F8E5M2FNUZ, 0, &c->y);
}

static void test_oom(void **state) {
    (void)state;
    sweep_ctx c = {ais_test_rand_f32(AIS_SHAPE(7, 3), -1000, 1000), NULL};
    assert_true(AIS_TEST_OOM_SWEEP("Cast to float8", sweep_cast, &c, 40, AIS_OWN_TENSOR(&c.y)) >=
                1);
    ais_tensor_destroy(c.x);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_dtype_basics),     cmocka_unit_test(test_decode_table),
        cmocka_unit_test(test_encode_table),     cmocka_unit_test(test_int4_table),
        cmocka_unit_test(test_cast_float8),      cmocka_unit_test(test_cast_int4),
        cmocka_unit_test(test_tensorproto_int4), cmocka_unit_test(test_exchange_refuses),
        cmocka_unit_test(test_oom),
    };
    ais_test_seed();
    return cmocka_run_group_tests(tests, NULL, NULL);
}
