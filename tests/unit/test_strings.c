/* test_strings.c - string tensors (create, copy, views, ownership, refusals), string-moving
 * operators and StringNormalizer against a naive reference. */
#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "float_str_fixture.h"
#include "ops/op.h"
#include "test_util.h"

/* A random printable ASCII word of 0..max_len letters (mixed case). */
static void rand_word(char *buf, size_t max_len) {
    size_t n = (size_t)ais_test_randint(0, (int64_t)max_len);
    for (size_t i = 0; i < n; i++) {
        int c = (int)ais_test_randint(0, 51);
        buf[i] = (char)(c < 26 ? 'a' + c : 'A' + c - 26);
    }
    buf[n] = 0;
}

static void test_create_copy_reshape(void **state) {
    (void)state;
    char words[24][16];
    const char *vals[24];
    for (int i = 0; i < 24; i++) {
        rand_word(words[i], 15);
        vals[i] = words[i];
    }
    vals[5] = NULL; /* reads as "" */
    ais_tensor *t = NULL, *c = NULL, *v = NULL;
    AIS_ASSERT_OK(ais_tensor_create_strings(AIS_SHAPE(2, 3, 4), vals, &t));
    assert_int_equal(ais_tensor_dtype(t), AIS_DTYPE_STRING);
    assert_int_equal(ais_tensor_size(t), 24);
    assert_int_equal(ais_tensor_nbytes(t), 24 * sizeof(char *));
    for (size_t i = 0; i < 24; i++) {
        const char *s = ais_tensor_string_at(t, i);
        assert_string_equal(s, i == 5 ? "" : words[i]);
        if (i != 5) assert_ptr_not_equal(s, words[i]); /* a copy */
    }
    assert_null(ais_tensor_string_at(t, 24));
    assert_null(ais_tensor_string_at(NULL, 0));

    /* a deep copy survives the original; a view shares and outlives it too */
    AIS_ASSERT_OK(ais_tensor_copy(t, &c));
    AIS_ASSERT_OK(ais_tensor_reshape(t, AIS_SHAPE(6, -1), &v));
    assert_int_equal(ais_tensor_shape(v)[1], 4);
    assert_ptr_not_equal(ais_tensor_string_at(c, 0), ais_tensor_string_at(t, 0));
    assert_ptr_equal(ais_tensor_string_at(v, 7), ais_tensor_string_at(t, 7));
    AIS_ASSERT_OK(ais_tensor_set_string(t, 7, "changed"));
    assert_string_equal(ais_tensor_string_at(v, 7), "changed");
    assert_string_equal(ais_tensor_string_at(c, 7), words[7]);
    ais_tensor_destroy(t);
    for (size_t i = 0; i < 24; i++) {
        assert_string_equal(ais_tensor_string_at(c, i), i == 5 ? "" : words[i]);
        assert_string_equal(ais_tensor_string_at(v, i), i == 7 ? "changed" : i == 5 ? "" : words[i]);
    }
    /* copy_into replaces the destination's strings */
    AIS_ASSERT_OK(ais_tensor_copy_into(v, c));
    assert_string_equal(ais_tensor_string_at(c, 7), "changed");
    ais_tensor_destroy(v);
    ais_tensor_destroy(c);

    /* ais_tensor_create makes empty strings; an empty string tensor */
    AIS_ASSERT_OK(ais_tensor_create(AIS_DTYPE_STRING, AIS_SHAPE(3), &t));
    assert_string_equal(ais_tensor_string_at(t, 2), "");
    ais_tensor_destroy(t);
    AIS_ASSERT_OK(ais_tensor_create_strings(AIS_SHAPE(0, 2), NULL, &t));
    assert_int_equal(ais_tensor_size(t), 0);
    assert_null(ais_tensor_string_at(t, 0));
    ais_tensor_destroy(t);
}

static void test_errors(void **state) {
    (void)state;
    ais_tensor *t = NULL, *f = NULL;
    const char *vals[2] = {"a", "b"};
    AIS_ASSERT_STATUS(ais_tensor_create_strings(AIS_SHAPE(2), vals, NULL), AIS_E_INVALID_ARGUMENT);
    AIS_ASSERT_STATUS(ais_tensor_create_strings(AIS_SHAPE(-2), vals, &t), AIS_E_SHAPE);
    assert_null(t);
    ais_test_assert_error_contains("negative");
    char *data[2] = {NULL, NULL};
    AIS_ASSERT_STATUS(ais_tensor_wrap(AIS_DTYPE_STRING, AIS_SHAPE(2), data, sizeof data, NULL,
                                      NULL, &t),
                      AIS_E_DTYPE);
    ais_test_assert_error_contains("string");
    AIS_ASSERT_OK(ais_tensor_create_strings(AIS_SHAPE(2), vals, &t));
    AIS_ASSERT_STATUS(ais_tensor_set_string(t, 2, "x"), AIS_E_INVALID_ARGUMENT);
    ais_test_assert_error_contains("index 2");
    AIS_ASSERT_STATUS(ais_tensor_set_string(t, 0, NULL), AIS_E_INVALID_ARGUMENT);
    struct DLManagedTensor *dl = NULL;
    AIS_ASSERT_STATUS(ais_tensor_to_dlpack(t, &dl), AIS_E_DTYPE);
    AIS_ASSERT_STATUS(ais_tensor_save_npy(t, "/tmp/ais_test_strings.npy"), AIS_E_DTYPE);
    AIS_ASSERT_OK(ais_tensor_create(AIS_DTYPE_F32, AIS_SHAPE(2), &f));
    AIS_ASSERT_STATUS(ais_tensor_set_string(f, 0, "x"), AIS_E_DTYPE);
    assert_null(ais_tensor_string_at(f, 0));
    AIS_ASSERT_STATUS(ais_tensor_copy_into(t, f), AIS_E_DTYPE);
    /* numeric operators refuse strings (no shallow pointer copies) */
    ais_tensor *in[2] = {t, t}, *out = NULL;
    AIS_ASSERT_STATUS(ais_test_run_op("Add", NULL, (const ais_tensor *const *)in, 2, &out, 1),
                      AIS_E_DTYPE);
    ais_test_assert_error_contains("string");
    assert_null(out);
    ais_tensor_destroy(t);
    ais_tensor_destroy(f);
}

/* Operators that move elements (Identity, Concat, Gather, Transpose, Reshape) own their result. */
static void test_moving_ops(void **state) {
    (void)state;
    char words[6][8];
    const char *vals[6];
    for (int i = 0; i < 6; i++) {
        rand_word(words[i], 7);
        vals[i] = words[i];
    }
    ais_tensor *a = NULL, *b = NULL, *y = NULL;
    AIS_ASSERT_OK(ais_tensor_create_strings(AIS_SHAPE(2, 3), vals, &a));
    AIS_ASSERT_OK(ais_tensor_create_strings(AIS_SHAPE(1, 3), vals + 3, &b));
    ais_attrs *at = NULL;
    AIS_ASSERT_OK(ais_attrs_create(&at));
    AIS_ASSERT_OK(ais_attrs_set_int(at, "axis", 0));
    const ais_tensor *in[2] = {a, b};
    AIS_ASSERT_OK(ais_test_run_op("Concat", at, in, 2, &y, 1));
    ais_attrs_destroy(at);
    ais_tensor_destroy(a);
    ais_tensor_destroy(b);
    assert_int_equal(ais_tensor_shape(y)[0], 3);
    for (size_t i = 0; i < 9; i++) assert_string_equal(ais_tensor_string_at(y, i), vals[i < 6 ? i : i - 3]);
    ais_tensor *tr = NULL;
    const ais_tensor *in1[1] = {y};
    AIS_ASSERT_OK(ais_test_run_op("Transpose", NULL, in1, 1, &tr, 1));
    ais_tensor_destroy(y);
    for (size_t r = 0; r < 3; r++)
        for (size_t c = 0; c < 3; c++)
            assert_string_equal(ais_tensor_string_at(tr, r * 3 + c), vals[c < 2 ? c * 3 + r : 3 + r]);
    ais_tensor *id = NULL;
    const ais_tensor *in2[1] = {tr};
    AIS_ASSERT_OK(ais_test_run_op("Identity", NULL, in2, 1, &id, 1));
    assert_ptr_not_equal(ais_tensor_string_at(id, 0), ais_tensor_string_at(tr, 0));
    ais_tensor_destroy(tr);
    assert_string_equal(ais_tensor_string_at(id, 0), vals[0]);
    ais_tensor_destroy(id);
}

/* ---- StringNormalizer ---- */

typedef struct sn_case {
    const char *action;
    int sensitive;
    const char *const *stop;
    size_t n_stop;
} sn_case;

static bool ieq(const char *a, const char *b) {
    for (; *a && *b; a++, b++)
        if (tolower((unsigned char)*a) != tolower((unsigned char)*b)) return false;
    return *a == *b;
}

/* Naive reference: keep the non-stopwords in order, then map case. */
static size_t sn_ref(const sn_case *k, const char *const *x, size_t n, char out[][32]) {
    size_t m = 0;
    for (size_t i = 0; i < n; i++) {
        bool stop = false;
        for (size_t j = 0; j < k->n_stop; j++)
            stop = stop || (k->sensitive ? strcmp(x[i], k->stop[j]) == 0 : ieq(x[i], k->stop[j]));
        if (stop) continue;
        size_t len = strlen(x[i]);
        for (size_t c = 0; c <= len; c++) {
            unsigned char ch = (unsigned char)x[i][c];
            out[m][c] = (char)(strcmp(k->action, "LOWER") == 0   ? tolower(ch)
                               : strcmp(k->action, "UPPER") == 0 ? toupper(ch)
                                                                 : ch);
        }
        m++;
    }
    return m;
}

static void run_sn(const sn_case *k, const char *const *x, size_t n, bool two_d) {
    ais_attrs *at = NULL;
    AIS_ASSERT_OK(ais_attrs_create(&at));
    AIS_ASSERT_OK(ais_attrs_set_string(at, "case_change_action", k->action));
    AIS_ASSERT_OK(ais_attrs_set_int(at, "is_case_sensitive", k->sensitive));
    if (k->n_stop) AIS_ASSERT_OK(ais_attrs_set_strings(at, "stopwords", k->stop, k->n_stop));
    ais_tensor *t = NULL, *y = NULL;
    int64_t dims[2] = {1, (int64_t)n};
    AIS_ASSERT_OK(ais_tensor_create_strings(two_d ? dims : dims + 1, two_d ? 2 : 1, x, &t));
    const ais_tensor *in[1] = {t};
    AIS_ASSERT_OK(ais_test_run_op("StringNormalizer", at, in, 1, &y, 1));
    char want[64][32];
    size_t m = sn_ref(k, x, n, want);
    assert_int_equal(ais_tensor_ndim(y), two_d ? 2 : 1);
    if (two_d) assert_int_equal(ais_tensor_shape(y)[0], 1);
    if (m == 0) { /* spec: a single empty string */
        assert_int_equal(ais_tensor_size(y), 1);
        assert_string_equal(ais_tensor_string_at(y, 0), "");
    } else {
        assert_int_equal(ais_tensor_size(y), m);
        for (size_t i = 0; i < m; i++) assert_string_equal(ais_tensor_string_at(y, i), want[i]);
    }
    ais_tensor_destroy(t);
    ais_tensor_destroy(y);
    ais_attrs_destroy(at);
}

static void test_string_normalizer(void **state) {
    (void)state;
    const char *stop[] = {"monday", "Tuesday", "x"};
    const char *actions[] = {"NONE", "LOWER", "UPPER"};
    for (int iter = 0; iter < 60; iter++) {
        size_t n = (size_t)ais_test_randint(1, 12);
        char words[12][32];
        const char *x[12];
        for (size_t i = 0; i < n; i++) {
            int r = (int)ais_test_randint(0, 3);
            if (r < 3) /* a stopword, maybe in another case */
                snprintf(words[i], sizeof words[i], "%s",
                         r == 0 ? "MONDAY" : r == 1 ? "monday" : "tuesday");
            else
                rand_word(words[i], 10);
            x[i] = words[i];
        }
        sn_case k = {actions[iter % 3], (iter / 3) % 2, stop, (size_t)(iter % 4 == 3 ? 0 : 3)};
        run_sn(&k, x, n, iter % 2 == 0);
    }
    /* everything removed: [1] and [1, 1] of "" */
    const char *all[] = {"monday", "MONDAY"};
    sn_case k = {"UPPER", 0, stop, 3};
    run_sn(&k, all, 2, false);
    run_sn(&k, all, 2, true);
    /* non-ASCII bytes pass through unchanged */
    const char *u[] = {"Caf\xc3\xa9"};
    sn_case l = {"LOWER", 0, NULL, 0};
    run_sn(&l, u, 1, false);
}

static void test_string_normalizer_errors(void **state) {
    (void)state;
    ais_tensor *t = NULL, *y = NULL, *f = NULL;
    AIS_ASSERT_OK(ais_tensor_create_strings(AIS_SHAPE(2, 2), NULL, &t));
    const ais_tensor *in[1] = {t};
    AIS_ASSERT_STATUS(ais_test_run_op("StringNormalizer", NULL, in, 1, &y, 1), AIS_E_SHAPE);
    ais_test_assert_error_contains("[1, C], got [2, 2]");
    ais_tensor_destroy(t);
    AIS_ASSERT_OK(ais_tensor_create_strings(AIS_SHAPE(2), NULL, &t));
    ais_attrs *at = NULL;
    AIS_ASSERT_OK(ais_attrs_create(&at));
    AIS_ASSERT_OK(ais_attrs_set_string(at, "case_change_action", "TITLE"));
    in[0] = t;
    AIS_ASSERT_STATUS(ais_test_run_op("StringNormalizer", at, in, 1, &y, 1),
                      AIS_E_INVALID_ARGUMENT);
    ais_test_assert_error_contains("TITLE");
    ais_attrs_destroy(at);
    AIS_ASSERT_OK(ais_tensor_create(AIS_DTYPE_F32, AIS_SHAPE(2), &f));
    in[0] = f;
    AIS_ASSERT_STATUS(ais_test_run_op("StringNormalizer", NULL, in, 1, &y, 1), AIS_E_DTYPE);
    ais_test_assert_error_contains("f32");
    assert_null(y);
    ais_tensor_destroy(t);
    ais_tensor_destroy(f);
}

/* ---- allocation failures ---- */

typedef struct sweep_ctx {
    ais_tensor *t, *c, *v, *y;
    ais_attrs *at;
} sweep_ctx;

static ais_status sweep_fn(void *p) {
    sweep_ctx *s = p;
    const char *vals[4] = {"Monday", "tuesday", "x", "Wed"};
    AIS__CHECK(ais_tensor_create_strings(AIS_SHAPE(1, 4), vals, &s->t));
    AIS__CHECK(ais_tensor_copy(s->t, &s->c));
    AIS__CHECK(ais_tensor_reshape(s->c, AIS_SHAPE(4), &s->v));
    AIS__CHECK(ais_tensor_set_string(s->v, 1, "changed"));
    AIS__CHECK(ais_attrs_create(&s->at));
    AIS__CHECK(ais_attrs_set_string(s->at, "case_change_action", "UPPER"));
    const char *stop[1] = {"x"};
    AIS__CHECK(ais_attrs_set_strings(s->at, "stopwords", stop, 1));
    const ais_tensor *in[1] = {s->t};
    return ais_test_run_op("StringNormalizer", s->at, in, 1, &s->y, 1);
}

static void test_oom_sweep(void **state) {
    (void)state;
    sweep_ctx s = {0};
    long n = AIS_TEST_OOM_SWEEP("string tensors and StringNormalizer", sweep_fn, &s, 200,
                                AIS_OWN_TENSOR(&s.t), AIS_OWN_TENSOR(&s.c), AIS_OWN_TENSOR(&s.v),
                                AIS_OWN_TENSOR(&s.y), AIS_OWN_ATTRS(&s.at));
    assert_true(n >= 10);
}

/* Equal on strings vs strcmp over broadcast indices (words from a tiny alphabet so that equal
 * pairs are common), odd shapes, empty tensors, and mixed dtypes refused. */
static void test_equal_strings(void **state) {
    (void)state;
    static const int64_t shapes[][3] = {{3, 1, 4}, {1, 5, 1}, {2, 5, 4}, {1, 1, 1}, {3, 0, 4}};
    for (int round = 0; round < 30; round++) {
        const int64_t *sa = shapes[ais_test_randint(0, 4)], *sb = shapes[ais_test_randint(0, 3)];
        size_t nb = (size_t)ais_test_randint(1, 3); /* B of lower rank: right-aligned */
        int64_t db[3];
        for (size_t k = 0; k < nb; k++) db[k] = sb[3 - nb + k];
        ais_tensor *a = NULL, *b = NULL, *y = NULL;
        AIS_ASSERT_OK(ais_tensor_create_strings(sa, 3, NULL, &a));
        AIS_ASSERT_OK(ais_tensor_create_strings(db, nb, NULL, &b));
        char w[4];
        for (size_t i = 0; i < ais_tensor_size(a); i++) {
            rand_word(w, 2);
            for (char *c = w; *c; c++) *c = (char)('a' + (*c & 1));
            AIS_ASSERT_OK(ais_tensor_set_string(a, i, w));
        }
        for (size_t i = 0; i < ais_tensor_size(b); i++) {
            rand_word(w, 2);
            for (char *c = w; *c; c++) *c = (char)('a' + (*c & 1));
            AIS_ASSERT_OK(ais_tensor_set_string(b, i, w));
        }
        const ais_tensor *in[2] = {a, b};
        ais_status st = ais_test_run_op("Equal", NULL, in, 2, &y, 1);
        bool ok = true;
        for (size_t k = 0; k < 3; k++) {
            int64_t x = sa[k], z = k + nb >= 3 ? db[k + nb - 3] : 1;
            if (x != z && x != 1 && z != 1) ok = false;
        }
        if (!ok) {
            AIS_ASSERT_STATUS(st, AIS_E_SHAPE);
            ais_tensor_destroy(a);
            ais_tensor_destroy(b);
            continue;
        }
        AIS_ASSERT_OK(st);
        assert_int_equal(ais_tensor_dtype(y), AIS_DTYPE_BOOL);
        const int64_t *dy = ais_tensor_shape(y);
        const uint8_t *py = ais_tensor_data(y);
        size_t i = 0;
        for (int64_t i0 = 0; i0 < dy[0]; i0++)
            for (int64_t i1 = 0; i1 < dy[1]; i1++)
                for (int64_t i2 = 0; i2 < dy[2]; i2++, i++) {
                    int64_t ia = ((sa[0] == 1 ? 0 : i0) * sa[1] + (sa[1] == 1 ? 0 : i1)) * sa[2] +
                                 (sa[2] == 1 ? 0 : i2);
                    int64_t bi[3] = {i0, i1, i2}, ib = 0;
                    for (size_t k = 0; k < nb; k++)
                        ib = ib * db[k] + (db[k] == 1 ? 0 : bi[3 - nb + k]);
                    bool want = strcmp(ais_tensor_string_at(a, (size_t)ia),
                                       ais_tensor_string_at(b, (size_t)ib)) == 0;
                    assert_int_equal(py[i], want);
                }
        assert_int_equal(i, ais_tensor_size(y));
        ais_tensor_destroy(a);
        ais_tensor_destroy(b);
        ais_tensor_destroy(y);
    }
    ais_tensor *a = NULL, *f = ais_test_rand_f32(AIS_SHAPE(2), 0, 1), *y = NULL;
    AIS_ASSERT_OK(ais_tensor_create_strings(AIS_SHAPE(2), NULL, &a));
    const ais_tensor *in[2] = {a, f};
    AIS_ASSERT_STATUS(ais_test_run_op("Equal", NULL, in, 2, &y, 1), AIS_E_DTYPE);
    ais_test_assert_error_contains("string");
    assert_null(y);
    ais_tensor_destroy(a);
    ais_tensor_destroy(f);
}

static ais_attrs *cast_to(ais_dtype to) {
    ais_attrs *at = NULL;
    AIS_ASSERT_OK(ais_attrs_create(&at));
    AIS_ASSERT_OK(ais_attrs_set_int(at, "to", to));
    return at;
}

/* The formatter against NumPy's str() (committed fixture), and parsing each text back. */
static void test_float_text_fixture(void **state) {
    (void)state;
    char buf[AIS__NUM_STR_MAX];
    for (size_t i = 0; i < sizeof float_str_f32 / sizeof *float_str_f32; i++) {
        uint32_t bits = (uint32_t)float_str_f32[i].bits;
        float v;
        memcpy(&v, &bits, sizeof v);
        ais__num_format(v, AIS_DTYPE_F32, buf, sizeof buf);
        if (strcmp(buf, float_str_f32[i].text) != 0)
            fail_msg("f32 0x%08x: got %s, NumPy says %s", bits, buf, float_str_f32[i].text);
        double d;
        float f;
        assert_true(ais__num_parse(float_str_f32[i].text, &d, &f));
        assert_memory_equal(&f, &v, sizeof f);
    }
    for (size_t i = 0; i < sizeof float_str_f64 / sizeof *float_str_f64; i++) {
        double v;
        memcpy(&v, &float_str_f64[i].bits, sizeof v);
        ais__num_format(v, AIS_DTYPE_F64, buf, sizeof buf);
        if (strcmp(buf, float_str_f64[i].text) != 0)
            fail_msg("f64 0x%016llx: got %s, NumPy says %s",
                     (unsigned long long)float_str_f64[i].bits, buf, float_str_f64[i].text);
    }
    for (size_t i = 0; i < sizeof float_str_f16 / sizeof *float_str_f16; i++) {
        float v = ais__f16_to_f32((uint16_t)float_str_f16[i].bits);
        ais__num_format(v, AIS_DTYPE_F16, buf, sizeof buf);
        if (strcmp(buf, float_str_f16[i].text) != 0)
            fail_msg("f16 0x%04x: got %s, NumPy says %s", (unsigned)float_str_f16[i].bits, buf,
                     float_str_f16[i].text);
    }
}

/* Cast numbers -> strings -> numbers round trips exactly; spellings of special values and
 * integers; unparseable text is refused naming the element. */
static void test_cast_strings(void **state) {
    (void)state;
    ais_tensor *x = ais_test_rand_f32(AIS_SHAPE(3, 7), -1e6f, 1e6f), *s = NULL, *back = NULL;
    ais_attrs *to_s = cast_to(AIS_DTYPE_STRING), *to_f = cast_to(AIS_DTYPE_F32);
    const ais_tensor *in[1] = {x};
    AIS_ASSERT_OK(ais_test_run_op("Cast", to_s, in, 1, &s, 1));
    assert_int_equal(ais_tensor_dtype(s), AIS_DTYPE_STRING);
    in[0] = s;
    AIS_ASSERT_OK(ais_test_run_op("Cast", to_f, in, 1, &back, 1));
    assert_memory_equal(ais_tensor_data(back), ais_tensor_data(x), ais_tensor_nbytes(x));
    ais_tensor_destroy(back);
    ais_tensor_destroy(s);
    ais_tensor_destroy(x);

    static const char *const texts[] = {"NaN", "INF", "+INF", "-inf", "nan", " 1.5e3 ", "-0",
                                        "1E-5", ".5", "7.", "Infinity"};
    static const double want[] = {NAN, INFINITY, INFINITY, -INFINITY, NAN, 1500, -0.0, 1e-5, 0.5,
                                  7, INFINITY};
    enum { NT = sizeof texts / sizeof *texts };
    AIS_ASSERT_OK(ais_tensor_create_strings(AIS_SHAPE(NT), texts, &s));
    in[0] = s;
    ais_tensor *y = NULL;
    AIS_ASSERT_OK(ais_test_run_op("Cast", to_f, in, 1, &y, 1));
    for (size_t i = 0; i < NT; i++) {
        float g = ((float *)ais_tensor_data(y))[i];
        if (isnan(want[i]))
            assert_true(isnan(g));
        else
            assert_true(g == (float)want[i] && !signbit(g) == !signbit(want[i]));
    }
    ais_tensor_destroy(y);
    y = NULL;
    ais_tensor_destroy(s);

    /* integers: exact for int64 beyond 2^53, "100.5" truncates to 100 (the spec's example) */
    static const char *const ints[] = {"9007199254740993", "-12", "100.5", "+7"};
    static const int64_t want_i[] = {9007199254740993LL, -12, 100, 7};
    AIS_ASSERT_OK(ais_tensor_create_strings(AIS_SHAPE(4), ints, &s));
    ais_attrs *to_i = cast_to(AIS_DTYPE_I64);
    in[0] = s;
    AIS_ASSERT_OK(ais_test_run_op("Cast", to_i, in, 1, &y, 1));
    assert_memory_equal(ais_tensor_data(y), want_i, sizeof want_i);
    ais_tensor_destroy(y);
    y = NULL;
    /* and back to text */
    in[0] = y = NULL;
    ais_tensor *iv = NULL;
    AIS_ASSERT_OK(ais_tensor_create(AIS_DTYPE_I64, AIS_SHAPE(4), &iv));
    memcpy(ais_tensor_data(iv), want_i, sizeof want_i);
    in[0] = iv;
    AIS_ASSERT_OK(ais_test_run_op("Cast", to_s, in, 1, &y, 1));
    char buf[32];
    for (size_t i = 0; i < 4; i++) {
        snprintf(buf, sizeof buf, "%lld", (long long)want_i[i]);
        assert_string_equal(ais_tensor_string_at(y, i), buf);
    }
    ais_tensor_destroy(y);
    y = NULL;
    ais_tensor_destroy(iv);
    ais_tensor_destroy(s);

    /* refusals name the element */
    static const char *const bad[] = {"1.0", "abc", "0x10", ""};
    for (size_t k = 1; k < 4; k++) {
        const char *v[2] = {bad[0], bad[k]};
        AIS_ASSERT_OK(ais_tensor_create_strings(AIS_SHAPE(2), v, &s));
        in[0] = s;
        y = NULL;
        AIS_ASSERT_STATUS(ais_test_run_op("Cast", to_f, in, 1, &y, 1), AIS_E_INVALID_ARGUMENT);
        ais_test_assert_error_contains("element 1");
        assert_null(y);
        AIS_ASSERT_STATUS(ais_test_run_op("Cast", to_i, in, 1, &y, 1), AIS_E_INVALID_ARGUMENT);
        ais_test_assert_error_contains("element 1");
        ais_tensor_destroy(s);
    }
    const char *big[1] = {"99999999999999999999"};
    AIS_ASSERT_OK(ais_tensor_create_strings(AIS_SHAPE(1), big, &s));
    in[0] = s;
    AIS_ASSERT_STATUS(ais_test_run_op("Cast", to_i, in, 1, &y, 1), AIS_E_INVALID_ARGUMENT);
    ais_test_assert_error_contains("in range");
    ais_tensor_destroy(s);

    /* CastLike takes the target from a string tensor */
    x = ais_test_rand_f32(AIS_SHAPE(5), -3, 3);
    ais_tensor *like = NULL;
    AIS_ASSERT_OK(ais_tensor_create_strings(AIS_SHAPE(1), NULL, &like));
    const ais_tensor *in2[2] = {x, like};
    AIS_ASSERT_OK(ais_test_run_op("CastLike", NULL, in2, 2, &y, 1));
    for (size_t i = 0; i < 5; i++) {
        ais__num_format(((float *)ais_tensor_data(x))[i], AIS_DTYPE_F32, buf, sizeof buf);
        assert_string_equal(ais_tensor_string_at(y, i), buf);
    }
    ais_tensor_destroy(y);
    y = NULL;
    ais_tensor_destroy(like);
    ais_tensor_destroy(x);
    ais_attrs_destroy(to_s);
    ais_attrs_destroy(to_f);
    ais_attrs_destroy(to_i);
}

typedef struct cast_sweep {
    ais_tensor *x, *y;
    ais_attrs *at;
} cast_sweep;

static ais_status cast_sweep_fn(void *p) {
    cast_sweep *c = p;
    const ais_tensor *in[1] = {c->x};
    return ais_test_run_op("Cast", c->at, in, 1, &c->y, 1);
}

static void test_cast_oom(void **state) {
    (void)state;
    cast_sweep c = {.x = ais_test_rand_f32(AIS_SHAPE(6), -5, 5), .at = cast_to(AIS_DTYPE_STRING)};
    AIS_TEST_OOM_SWEEP("Cast to string", cast_sweep_fn, &c, 200, AIS_OWN_TENSOR(&c.y));
    ais_tensor *s = NULL;
    AIS_ASSERT_OK(cast_sweep_fn(&c));
    s = c.y;
    c.y = NULL;
    ais_tensor_destroy(c.x);
    ais_attrs_destroy(c.at);
    c.x = s;
    c.at = cast_to(AIS_DTYPE_F64);
    AIS_TEST_OOM_SWEEP("Cast from string", cast_sweep_fn, &c, 200, AIS_OWN_TENSOR(&c.y));
    ais_tensor_destroy(c.x);
    ais_attrs_destroy(c.at);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_create_copy_reshape),
        cmocka_unit_test(test_errors),
        cmocka_unit_test(test_moving_ops),
        cmocka_unit_test(test_string_normalizer),
        cmocka_unit_test(test_string_normalizer_errors),
        cmocka_unit_test(test_oom_sweep),
        cmocka_unit_test(test_equal_strings),
        cmocka_unit_test(test_float_text_fixture),
        cmocka_unit_test(test_cast_strings),
        cmocka_unit_test(test_cast_oom),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
