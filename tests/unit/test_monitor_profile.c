/* test_monitor_profile.c - reference profiles (issue 15 items 3-4): summaries and the seeded
 * reservoir, top-K folding, the byte layout's round trip and its hostile-input checks (every
 * flipped byte and every truncation refused with a status), drift reports and their JSON,
 * skipped and mismatched features, the profile in a .ais file (written, loaded, surviving a
 * plain save), and an allocation-failure sweep. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "test_util.h"

static uint8_t *bytes_of(const ais_profile *p, size_t *n) {
    AIS_ASSERT_OK(ais_profile_serialize(p, NULL, 0, n));
    uint8_t *b = malloc(*n);
    size_t w = 0;
    AIS_ASSERT_OK(ais_profile_serialize(p, b, *n, &w));
    assert_int_equal(w, *n);
    return b;
}

/* A profile of `n` numeric values (normal-ish, shifted) and categories of a skewed die. */
static ais_profile *make(uint64_t seed, size_t n, double shift, uint32_t top_k) {
    ais_profile *p = NULL;
    AIS_ASSERT_OK(ais_profile_create(0, top_k, seed, &p));
    size_t x, c;
    AIS_ASSERT_OK(ais_profile_add_feature(p, "x", AIS_FEATURE_NUMERIC, &x));
    AIS_ASSERT_OK(ais_profile_add_feature(p, "color", AIS_FEATURE_CATEGORICAL, &c));
    static const char *const cats[] = {"red", "green", "blue", "cyan", "pink", "grey"};
    for (size_t i = 0; i < n; i++) {
        double v = sin((double)i * 12.9898) * 43758.5453;
        v = (v - floor(v)) * 2 - 1 + shift;
        AIS_ASSERT_OK(ais_profile_observe_numbers(p, x, &v, 1));
        const char *s = cats[(i * 7 + (size_t)(shift * 3)) % (i % 3 ? 3 : 6)];
        AIS_ASSERT_OK(ais_profile_observe_strings(p, c, &s, 1));
    }
    return p;
}

static void test_summary_and_reservoir(void **state) {
    (void)state;
    ais_profile *p = NULL;
    AIS_ASSERT_OK(ais_profile_create(100, 0, 7, &p));
    size_t f;
    AIS_ASSERT_OK(ais_profile_add_feature(p, "v", AIS_FEATURE_NUMERIC, &f));
    double vals[1000];
    double sum = 0;
    for (int i = 0; i < 1000; i++) {
        vals[i] = i;
        sum += i;
    }
    vals[10] = NAN;
    vals[20] = INFINITY;
    sum -= 10 + 20;
    AIS_ASSERT_OK(ais_profile_observe_numbers(p, f, vals, 1000));
    const char *name;
    ais_feature_kind kind;
    uint64_t count, missing;
    double mn, mx, mean, var;
    AIS_ASSERT_OK(
        ais_profile_feature_info(p, f, &name, &kind, &count, &missing, &mn, &mx, &mean, &var));
    assert_string_equal(name, "v");
    assert_int_equal(kind, AIS_FEATURE_NUMERIC);
    assert_int_equal(count, 1000);
    assert_int_equal(missing, 2);
    assert_true(mn == 0 && mx == 999);
    assert_true(fabs(mean - sum / 998) < 1e-9);
    double ss = 0;
    for (int i = 0; i < 1000; i++)
        if (isfinite(vals[i])) ss += (vals[i] - sum / 998) * (vals[i] - sum / 998);
    assert_true(fabs(var - ss / 998) < 1e-6 * var);
    /* same seed, same data: the same bytes; another seed: another sample */
    ais_profile *q = NULL, *r = NULL;
    AIS_ASSERT_OK(ais_profile_create(100, 0, 7, &q));
    AIS_ASSERT_OK(ais_profile_create(100, 0, 8, &r));
    AIS_ASSERT_OK(ais_profile_add_feature(q, "v", AIS_FEATURE_NUMERIC, NULL));
    AIS_ASSERT_OK(ais_profile_add_feature(r, "v", AIS_FEATURE_NUMERIC, NULL));
    AIS_ASSERT_OK(ais_profile_observe_numbers(q, 0, vals, 1000));
    AIS_ASSERT_OK(ais_profile_observe_numbers(r, 0, vals, 1000));
    size_t np, nq, nr;
    uint8_t *bp = bytes_of(p, &np), *bq = bytes_of(q, &nq), *br = bytes_of(r, &nr);
    assert_int_equal(np, nq);
    assert_memory_equal(bp, bq, np);
    assert_int_equal(np, nr); /* 100 values either way */
    assert_true(memcmp(bp + 8 + 16 + 8, br + 8 + 16 + 8, np - 40) != 0);
    free(bp);
    free(bq);
    free(br);
    /* failure paths */
    AIS_ASSERT_STATUS(ais_profile_add_feature(p, "v", AIS_FEATURE_NUMERIC, NULL),
                      AIS_E_INVALID_ARGUMENT);
    AIS_ASSERT_STATUS(ais_profile_add_feature(p, "w", (ais_feature_kind)9, NULL),
                      AIS_E_INVALID_ARGUMENT);
    const char *s = "a";
    AIS_ASSERT_STATUS(ais_profile_observe_strings(p, f, &s, 1), AIS_E_DTYPE);
    AIS_ASSERT_STATUS(ais_profile_observe_numbers(p, 5, vals, 1), AIS_E_NOT_FOUND);
    AIS_ASSERT_STATUS(ais_profile_observe_numbers(p, f, NULL, 3), AIS_E_INVALID_ARGUMENT);
    ais_profile *none = NULL; /* not q: a failed create sets its out-parameter to NULL */
    AIS_ASSERT_STATUS(ais_profile_create(1u << 25, 0, 0, &none), AIS_E_INVALID_ARGUMENT);
    assert_null(none);
    AIS_ASSERT_STATUS(ais_profile_set_method(p, f, (ais_drift_method)99, 0),
                      AIS_E_INVALID_ARGUMENT);
    size_t idx;
    AIS_ASSERT_STATUS(ais_profile_find(p, "nope", &idx), AIS_E_NOT_FOUND);
    ais_profile_destroy(p);
    ais_profile_destroy(q);
    ais_profile_destroy(r);
    ais_profile_destroy(NULL);
}

static void test_roundtrip_and_topk(void **state) {
    (void)state;
    ais_profile *p = make(3, 3000, 0, 3);
    size_t n;
    uint8_t *b = bytes_of(p, &n);
    ais_profile *q = NULL;
    AIS_ASSERT_OK(ais_profile_deserialize(b, n, &q));
    size_t n2;
    uint8_t *b2 = bytes_of(q, &n2);
    assert_int_equal(n, n2);
    assert_memory_equal(b, b2, n);
    /* four categories seen, top 3 kept: the rarest is "other" in the copy */
    uint64_t count, missing;
    AIS_ASSERT_OK(
        ais_profile_feature_info(q, 1, NULL, NULL, &count, &missing, NULL, NULL, NULL, NULL));
    assert_int_equal(count, 3000);
    assert_int_equal(missing, 0);
    assert_int_equal(ais_profile_category_count(q, 1), 3);
    assert_int_equal(ais_profile_category_count(q, 0), 0); /* numeric */
    uint64_t listed = 0, c, other;
    const char *cname;
    for (size_t k = 0; k < 3; k++) {
        AIS_ASSERT_OK(ais_profile_category_at(q, 1, k, &cname, &c));
        assert_non_null(cname);
        listed += c;
    }
    AIS_ASSERT_OK(ais_profile_category_at(q, 1, 3, &cname, &other));
    assert_null(cname);
    assert_true(other > 0 && listed + other == 3000);
    AIS_ASSERT_STATUS(ais_profile_category_at(q, 1, 4, &cname, &c), AIS_E_NOT_FOUND);
    const double *sv;
    size_t sn;
    AIS_ASSERT_OK(ais_profile_sample(q, 0, &sv, &sn));
    assert_int_equal(sn, 3000); /* all of them: fewer than the 5,000 slots */
    AIS_ASSERT_STATUS(ais_profile_sample(q, 1, &sv, &sn), AIS_E_DTYPE);
    /* every flipped byte and every truncation: a status, never a crash or a quiet success */
    for (size_t i = 0; i < n; i++) {
        b[i] ^= 0x5a;
        ais_profile *bad = NULL;
        ais_status st = ais_profile_deserialize(b, n, &bad);
        assert_true(st == AIS_E_CHECKSUM || st == AIS_E_FORMAT);
        assert_null(bad);
        b[i] ^= 0x5a;
    }
    for (size_t k = 0; k < n; k += 7) {
        ais_profile *bad = NULL;
        assert_int_not_equal(ais_profile_deserialize(b, k, &bad), AIS_OK);
        assert_null(bad);
    }
    char small[8];
    size_t need;
    AIS_ASSERT_STATUS(ais_profile_serialize(p, small, sizeof small, &need), AIS_E_LIMIT);
    assert_int_equal(need, n);
    free(b);
    free(b2);
    ais_profile_destroy(p);
    ais_profile_destroy(q);
}

static void test_report(void **state) {
    (void)state;
    ais_profile *ref = make(1, 2000, 0, 0), *same = make(2, 800, 0, 0),
                *moved = make(3, 800, 1.5, 0);
    ais_drift_report *r = NULL;
    AIS_ASSERT_OK(ais_profile_drift(ref, same, &r));
    assert_int_equal(ais_drift_report_feature_count(r), 2);
    const char *name, *skipped;
    ais_feature_kind kind;
    ais_drift_method m;
    double v, t, share;
    int32_t d, dd;
    AIS_ASSERT_OK(ais_drift_report_feature(r, 0, &name, &kind, &m, &v, &t, &d, &skipped));
    assert_string_equal(name, "x");
    assert_int_equal(m, AIS_DRIFT_WASSERSTEIN); /* reference sample of 2,000 > 1,000 */
    assert_int_equal(d, 0);
    assert_null(skipped);
    AIS_ASSERT_OK(ais_drift_report_dataset(r, &dd, &share, NULL));
    assert_int_equal(dd, 0);
    ais_drift_report_destroy(r);

    AIS_ASSERT_OK(ais_profile_drift(ref, moved, &r));
    AIS_ASSERT_OK(ais_drift_report_feature(r, 0, NULL, NULL, NULL, &v, NULL, &d, NULL));
    assert_int_equal(d, 1);
    assert_true(v > 1.0);
    AIS_ASSERT_OK(ais_drift_report_dataset(r, &dd, &share, NULL));
    assert_int_equal(dd, 1);
    size_t need = 0, got = 0;
    AIS_ASSERT_OK(ais_drift_report_json(r, NULL, 0, &need));
    char *json = malloc(need);
    AIS_ASSERT_OK(ais_drift_report_json(r, json, need, &got));
    assert_int_equal(strlen(json), got);
    assert_non_null(strstr(json, "{\"dataset_drift\": true, \"drift_share\": "));
    assert_non_null(strstr(json, "\"x\": {\"kind\": \"numeric\", \"method\": \"wasserstein\""));
    assert_non_null(strstr(json, "\"color\": {\"kind\": \"categorical\", \"method\": "
                                 "\"jensenshannon\""));
    free(json);
    char tiny[4];
    AIS_ASSERT_STATUS(ais_drift_report_json(r, tiny, sizeof tiny, &got), AIS_E_LIMIT);
    ais_drift_report_destroy(r);

    /* a chosen method per feature */
    AIS_ASSERT_OK(ais_profile_set_method(ref, 0, AIS_DRIFT_PSI, 0.2));
    AIS_ASSERT_STATUS(ais_profile_set_method(ref, 1, AIS_DRIFT_KS, 0), AIS_E_INVALID_ARGUMENT);
    AIS_ASSERT_OK(ais_profile_drift(ref, same, &r));
    AIS_ASSERT_OK(ais_drift_report_feature(r, 0, NULL, NULL, &m, NULL, &t, NULL, NULL));
    assert_int_equal(m, AIS_DRIFT_PSI);
    assert_true(t == 0.2);
    ais_drift_report_destroy(r);

    /* a current window with one value: skipped, with the reason, and out of the share */
    ais_profile *one = NULL;
    AIS_ASSERT_OK(ais_profile_create(0, 0, 0, &one));
    AIS_ASSERT_OK(ais_profile_add_feature(one, "x", AIS_FEATURE_NUMERIC, NULL));
    AIS_ASSERT_OK(ais_profile_add_feature(one, "color", AIS_FEATURE_CATEGORICAL, NULL));
    double v1 = 3;
    const char *c1[] = {"red", "mauve", "mauve"}; /* a category the reference never saw */
    AIS_ASSERT_OK(ais_profile_observe_numbers(one, 0, &v1, 1));
    AIS_ASSERT_OK(ais_profile_observe_strings(one, 1, c1, 3));
    AIS_ASSERT_OK(ais_profile_drift(ref, one, &r));
    AIS_ASSERT_OK(ais_drift_report_feature(r, 0, NULL, NULL, NULL, NULL, NULL, &d, &skipped));
    assert_non_null(skipped);
    assert_non_null(strstr(skipped, "at least 2"));
    AIS_ASSERT_OK(ais_drift_report_feature(r, 1, NULL, NULL, &m, &v, NULL, &d, &skipped));
    assert_null(skipped);
    assert_int_equal(d, 1);
    AIS_ASSERT_OK(ais_drift_report_dataset(r, &dd, &share, NULL));
    assert_true(share == 1.0);
    ais_drift_report_destroy(r);
    /* mismatched features */
    ais_profile *other = NULL;
    AIS_ASSERT_OK(ais_profile_create(0, 0, 0, &other));
    AIS_ASSERT_OK(ais_profile_add_feature(other, "x", AIS_FEATURE_CATEGORICAL, NULL));
    AIS_ASSERT_STATUS(ais_profile_drift(ref, other, &r), AIS_E_DTYPE);
    assert_null(r);
    AIS_ASSERT_OK(ais_profile_add_feature(one, "extra", AIS_FEATURE_NUMERIC, NULL));
    AIS_ASSERT_STATUS(ais_profile_drift(one, ref, &r), AIS_E_NOT_FOUND);
    ais_test_assert_error_contains("'extra'");
    ais_profile_destroy(other);
    ais_profile_destroy(one);
    ais_profile_destroy(ref);
    ais_profile_destroy(same);
    ais_profile_destroy(moved);
}

static void test_in_ais_file(void **state) {
    (void)state;
    ais_model *m = NULL;
    AIS_ASSERT_OK(ais_model_load(AIS_SOURCE_DIR "/models/digits_mlp.onnx", NULL, &m));
    assert_null(ais_model_profile(m));
    ais_profile *p = NULL;
    AIS_ASSERT_OK(ais_profile_create(50, 0, 11, &p));
    AIS_ASSERT_OK(ais_profile_add_feature(p, "digit", AIS_FEATURE_CATEGORICAL, NULL));
    const char *digits[] = {"1", "2", "2", "7", NULL};
    AIS_ASSERT_OK(ais_profile_observe_strings(p, 0, digits, 5));
    char path[64], path2[64];
    snprintf(path, sizeof path, "/tmp/test_profile_%d.ais", (int)getpid());
    snprintf(path2, sizeof path2, "/tmp/test_profile_%d_2.ais", (int)getpid());
    AIS_ASSERT_OK(ais_model_save_with_profile(m, p, path, NULL));
    ais_model *l = NULL;
    AIS_ASSERT_OK(ais_model_load(path, NULL, &l));
    const ais_profile *lp = ais_model_profile(l);
    assert_non_null(lp);
    size_t n1, n2;
    uint8_t *b1 = bytes_of(p, &n1), *b2 = bytes_of(lp, &n2);
    assert_int_equal(n1, n2);
    assert_memory_equal(b1, b2, n1);
    /* a plain save of the loaded model keeps its profile (what `aistack convert` does) */
    AIS_ASSERT_OK(ais_model_save(l, path2, NULL));
    ais_model *l2 = NULL;
    AIS_ASSERT_OK(ais_model_load(path2, NULL, &l2));
    free(b2);
    b2 = bytes_of(ais_model_profile(l2), &n2);
    assert_memory_equal(b1, b2, n1);
    /* features that are not the model's */
    ais_profile *bad = NULL;
    AIS_ASSERT_OK(ais_profile_create(0, 0, 0, &bad));
    AIS_ASSERT_OK(ais_profile_add_feature(bad, "income", AIS_FEATURE_NUMERIC, NULL));
    AIS_ASSERT_STATUS(ais_model_save_with_profile(m, bad, path2, NULL), AIS_E_INVALID_ARGUMENT);
    ais_test_assert_error_contains("'income'");
    /* a corrupt DRIFT section fails the load with a message naming it */
    FILE *f = fopen(path, "rb");
    fseek(f, 0, SEEK_END);
    long size = ftell(f);
    fseek(f, 0, SEEK_SET);
    uint8_t *file = malloc((size_t)size);
    assert_int_equal(fread(file, 1, (size_t)size, f), (size_t)size);
    fclose(f);
    uint8_t *at = NULL;
    for (long i = 0; i + 7 < size; i++)
        if (!memcmp(file + i, "AISPROF", 7)) at = file + i;
    assert_non_null(at);
    at[9] ^= 1; /* the layout version, inside the section (its checksum now fails) */
    ais_model *c = NULL;
    ais_status st = ais_model_load_memory(file, (size_t)size, NULL, &c);
    assert_int_equal(st, AIS_E_CHECKSUM);
    assert_null(c);
    free(file);
    free(b1);
    free(b2);
    unlink(path);
    unlink(path2);
    ais_profile_destroy(p);
    ais_profile_destroy(bad);
    ais_model_destroy(l2);
    ais_model_destroy(l);
    ais_model_destroy(m);
}

typedef struct sweep_ctx {
    ais_profile *p, *q;
    ais_drift_report *r;
    uint8_t *b;
} sweep_ctx;

static ais_status sweep_fn(void *arg) {
    sweep_ctx *c = arg;
    ais_status st = ais_profile_create(64, 3, 5, &c->p);
    if (st) return st;
    size_t x, k;
    if ((st = ais_profile_add_feature(c->p, "x", AIS_FEATURE_NUMERIC, &x))) return st;
    if ((st = ais_profile_add_feature(c->p, "k", AIS_FEATURE_CATEGORICAL, &k))) return st;
    double v[100];
    const char *s[100];
    static const char *const cats[] = {"a", "b", "c", "d", "e"};
    for (int i = 0; i < 100; i++) {
        v[i] = i % 13;
        s[i] = cats[i % 5];
    }
    if ((st = ais_profile_observe_numbers(c->p, x, v, 100))) return st;
    if ((st = ais_profile_observe_strings(c->p, k, s, 100))) return st;
    size_t n;
    if ((st = ais_profile_serialize(c->p, NULL, 0, &n))) return st;
    c->b = malloc(n);
    if ((st = ais_profile_serialize(c->p, c->b, n, &n))) return st;
    if ((st = ais_profile_deserialize(c->b, n, &c->q))) return st;
    return ais_profile_drift(c->p, c->q, &c->r);
}

static void sweep_cleanup(void *arg) {
    sweep_ctx *c = arg;
    ais_drift_report_destroy(c->r);
    ais_profile_destroy(c->p);
    ais_profile_destroy(c->q);
    free(c->b);
    memset(c, 0, sizeof *c);
}

static void test_oom_sweep(void **state) {
    (void)state;
    sweep_ctx c = {0};
    ais_test_oom_sweep("profile", sweep_fn, sweep_cleanup, &c, 400);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_summary_and_reservoir),
        cmocka_unit_test(test_roundtrip_and_topk),
        cmocka_unit_test(test_report),
        cmocka_unit_test(test_in_ais_file),
        cmocka_unit_test(test_oom_sweep),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
