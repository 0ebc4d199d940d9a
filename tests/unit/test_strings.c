/* test_strings.c - string tensors (create, copy, views, ownership, refusals), string-moving
 * operators and StringNormalizer against a naive reference. */
#include <ctype.h>
#include <stdio.h>
#include <string.h>

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

static void sweep_cleanup(void *p) {
    sweep_ctx *s = p;
    ais_tensor_destroy(s->t);
    ais_tensor_destroy(s->c);
    ais_tensor_destroy(s->v);
    ais_tensor_destroy(s->y);
    ais_attrs_destroy(s->at);
    memset(s, 0, sizeof *s);
}

static void test_oom_sweep(void **state) {
    (void)state;
    sweep_ctx s = {0};
    long n = ais_test_oom_sweep("string tensors and StringNormalizer", sweep_fn, sweep_cleanup,
                                &s, 200);
    assert_true(n >= 10);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_create_copy_reshape),
        cmocka_unit_test(test_errors),
        cmocka_unit_test(test_moving_ops),
        cmocka_unit_test(test_string_normalizer),
        cmocka_unit_test(test_string_normalizer_errors),
        cmocka_unit_test(test_oom_sweep),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
