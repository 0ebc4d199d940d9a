/* test_monitor_live.c - the live drift window that sessions fill themselves (issue 15 item 4,
 * AIS_OPT_DRIFT_WINDOW): a model input's columns ("pixels[j]") and its predicted class
 * ("digit") seen by ais_session_run give the same drift report as a profile built offline from
 * the same rows; last-N keeps exactly the last rows; the reservoir is seeded (same rows, same
 * seed: same report) and bounded; failed calls add nothing; a monitor merges its sessions'
 * windows and prints the drift gauges; a reader on another thread while a session runs, and a
 * scraper while sessions come and go (ASan, TSan); and an allocation-failure sweep of a session
 * with a window. */
#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "test_util.h"

#define NPIX 64
static const int cols[] = {5, 20, 42}; /* the pixel columns the reference profiles */
#define NCOLS 3

/* Deterministic pixels in [shift, 16 + shift) for row r. */
static void fill_pixels(float *x, size_t rows, size_t first, double shift) {
    for (size_t r = 0; r < rows; r++)
        for (size_t j = 0; j < NPIX; j++) {
            double v = sin((double)((first + r) * NPIX + j) * 12.9898) * 43758.5453;
            x[r * NPIX + j] = (float)((v - floor(v)) * 16 + shift);
        }
}

/* Runs `rows` rows from `first` through s (batch rows each) and, when cur is not NULL, observes
 * the window's features into it offline: the pixel columns and the predicted digit. */
static void run_rows(ais_session *s, size_t first, size_t rows, size_t batch, double shift,
                     ais_profile *cur) {
    for (size_t at = 0; at < rows; at += batch) {
        size_t n = rows - at < batch ? rows - at : batch;
        ais_tensor *x = ais_test_rand_f32(AIS_SHAPE((int64_t)n, NPIX), 0, 1);
        fill_pixels(ais_tensor_data(x), n, first + at, shift);
        ais_tensor *out[2] = {NULL, NULL};
        AIS_ASSERT_OK(ais_session_run(s, NULL, (const ais_tensor *const *)&x, 1, NULL, out, 2));
        assert_int_equal(ais_tensor_dtype(out[1]), AIS_DTYPE_I64);
        if (cur) {
            const float *px = ais_tensor_data(x);
            const int64_t *digit = ais_tensor_data(out[1]);
            for (size_t r = 0; r < n; r++) {
                for (size_t c = 0; c < NCOLS; c++) {
                    double v = px[r * NPIX + (size_t)cols[c]];
                    AIS_ASSERT_OK(ais_profile_observe_numbers(cur, c, &v, 1));
                }
                char label[32];
                snprintf(label, sizeof label, "%lld", (long long)digit[r]);
                const char *l = label;
                AIS_ASSERT_OK(ais_profile_observe_strings(cur, NCOLS, &l, 1));
            }
        }
        ais_tensor_destroy(out[0]);
        ais_tensor_destroy(out[1]);
        ais_tensor_destroy(x);
    }
}

static ais_profile *empty_profile(uint32_t sample_size) {
    ais_profile *p = NULL;
    AIS_ASSERT_OK(ais_profile_create(sample_size, 0, 3, &p));
    char name[32];
    for (size_t c = 0; c < NCOLS; c++) {
        snprintf(name, sizeof name, "pixels[%d]", cols[c]);
        AIS_ASSERT_OK(ais_profile_add_feature(p, name, AIS_FEATURE_NUMERIC, NULL));
    }
    AIS_ASSERT_OK(ais_profile_add_feature(p, "digit", AIS_FEATURE_CATEGORICAL, NULL));
    return p;
}

static char model_path[64];

/* digits_mlp with a reference profile of 300 unshifted rows, saved once. */
static int setup(void **state) {
    (void)state;
    snprintf(model_path, sizeof model_path, "/tmp/test_monitor_live_%d.ais", (int)getpid());
    ais_model *m = NULL;
    if (ais_model_load(AIS_SOURCE_DIR "/models/digits_mlp.onnx", NULL, &m) != AIS_OK) return -1;
    ais_session *s = NULL;
    if (ais_session_create(m, NULL, &s) != AIS_OK) return -1;
    ais_profile *ref = empty_profile(0);
    run_rows(s, 100000, 300, 50, 0, ref);
    ais_status st = ais_model_save_with_profile(m, ref, model_path, NULL);
    ais_profile_destroy(ref);
    ais_session_destroy(s);
    ais_model_destroy(m);
    return st == AIS_OK ? 0 : -1;
}

static int teardown(void **state) {
    (void)state;
    unlink(model_path);
    return 0;
}

static ais_session *live_session(ais_model *m, ais_monitor *mon, int64_t rows, int64_t mode,
                                 int64_t seed) {
    ais_options *o = NULL;
    AIS_ASSERT_OK(ais_options_create(&o));
    AIS_ASSERT_OK(ais_options_set_int(o, AIS_OPT_DRIFT_WINDOW, rows));
    AIS_ASSERT_OK(ais_options_set_int(o, AIS_OPT_DRIFT_WINDOW_MODE, mode));
    AIS_ASSERT_OK(ais_options_set_int(o, AIS_OPT_DRIFT_WINDOW_SEED, seed));
    if (mon) AIS_ASSERT_OK(ais_options_set_monitor(o, mon));
    ais_session *s = NULL;
    AIS_ASSERT_OK(ais_session_create(m, o, &s));
    ais_options_destroy(o);
    return s;
}

/* Both reports name the same features with the same method, value (1e-9) and verdict. */
static void assert_same_report(const ais_drift_report *a, const ais_drift_report *b) {
    size_t n = ais_drift_report_feature_count(a);
    assert_int_equal(n, ais_drift_report_feature_count(b));
    assert_int_equal(n, NCOLS + 1);
    for (size_t i = 0; i < n; i++) {
        const char *na, *nb, *sa, *sb;
        ais_drift_method ma, mb;
        double va, vb, ta, tb;
        int32_t da, db;
        AIS_ASSERT_OK(ais_drift_report_feature(a, i, &na, NULL, &ma, &va, &ta, &da, &sa));
        AIS_ASSERT_OK(ais_drift_report_feature(b, i, &nb, NULL, &mb, &vb, &tb, &db, &sb));
        assert_string_equal(na, nb);
        assert_null(sa);
        assert_null(sb);
        assert_int_equal(ma, mb);
        assert_true(isfinite(va));
        if (fabs(va - vb) > 1e-9 * (1 + fabs(vb)))
            fail_msg("feature %s: live %.17g, offline %.17g", na, va, vb);
        assert_true(ta == tb);
        assert_int_equal(da, db);
    }
    int32_t dda, ddb;
    double sha, shb;
    AIS_ASSERT_OK(ais_drift_report_dataset(a, &dda, &sha, NULL));
    AIS_ASSERT_OK(ais_drift_report_dataset(b, &ddb, &shb, NULL));
    assert_int_equal(dda, ddb);
    assert_true(sha == shb);
}

static uint64_t window_rows(const ais_session *s) {
    uint64_t v = 0;
    AIS_ASSERT_OK(ais_session_metric(s, AIS_METRIC_WINDOW_ROWS, &v));
    return v;
}

static void test_window_equals_offline(void **state) {
    (void)state;
    ais_model *m = NULL;
    AIS_ASSERT_OK(ais_model_load(model_path, NULL, &m));
    const ais_profile *ref = ais_model_profile(m);
    assert_non_null(ref);
    ais_session *s = live_session(m, NULL, 1000, AIS_WINDOW_RESERVOIR, 0);
    /* a fresh window: every feature skipped, no NaN passed off as a statistic */
    ais_drift_report *r = NULL;
    AIS_ASSERT_OK(ais_session_drift(s, &r));
    for (size_t i = 0; i < ais_drift_report_feature_count(r); i++) {
        const char *skipped = NULL;
        AIS_ASSERT_OK(ais_drift_report_feature(r, i, NULL, NULL, NULL, NULL, NULL, NULL, &skipped));
        assert_non_null(skipped);
    }
    ais_drift_report_destroy(r);
    /* shifted rows, in uneven batches: all of them fit the window */
    ais_profile *cur = empty_profile(1000);
    run_rows(s, 0, 250, 7, 3.0, cur);
    assert_int_equal(window_rows(s), 250);
    /* a failed call adds nothing */
    ais_tensor *bad = ais_test_rand_f32(AIS_SHAPE(2, 7), 0, 1);
    ais_tensor *out[1] = {NULL};
    assert_int_not_equal(ais_session_run(s, NULL, (const ais_tensor *const *)&bad, 1, NULL, out, 1),
                         AIS_OK);
    ais_tensor_destroy(bad);
    assert_int_equal(window_rows(s), 250);
    ais_drift_report *want = NULL;
    AIS_ASSERT_OK(ais_session_drift(s, &r));
    AIS_ASSERT_OK(ais_profile_drift(ref, cur, &want));
    assert_same_report(r, want);
    /* the shift is seen: the pixels drift */
    int32_t drift = 0;
    AIS_ASSERT_OK(ais_drift_report_feature(r, 0, NULL, NULL, NULL, NULL, NULL, &drift, NULL));
    assert_true(drift);
    ais_drift_report_destroy(r);
    ais_drift_report_destroy(want);
    ais_profile_destroy(cur);
    ais_session_destroy(s);

    /* unshifted rows like the reference's do not drift */
    s = live_session(m, NULL, 1000, AIS_WINDOW_RESERVOIR, 0);
    run_rows(s, 5000, 300, 16, 0, NULL);
    AIS_ASSERT_OK(ais_session_drift(s, &r));
    int32_t dd = 1;
    AIS_ASSERT_OK(ais_drift_report_dataset(r, &dd, NULL, NULL));
    assert_false(dd);
    ais_drift_report_destroy(r);
    ais_session_destroy(s);
    ais_model_destroy(m);
}

static void test_last_rows(void **state) {
    (void)state;
    ais_model *m = NULL;
    AIS_ASSERT_OK(ais_model_load(model_path, NULL, &m));
    ais_session *s = live_session(m, NULL, 60, AIS_WINDOW_LAST, 0);
    /* 200 unshifted rows, then 60 shifted ones: the window holds only the shifted */
    run_rows(s, 0, 200, 9, 0, NULL);
    assert_int_equal(window_rows(s), 60);
    ais_profile *cur = empty_profile(100);
    run_rows(s, 1000, 60, 11, 4.0, cur);
    assert_int_equal(window_rows(s), 60);
    ais_drift_report *r = NULL, *want = NULL;
    AIS_ASSERT_OK(ais_session_drift(s, &r));
    AIS_ASSERT_OK(ais_profile_drift(ais_model_profile(m), cur, &want));
    assert_same_report(r, want);
    ais_drift_report_destroy(r);
    ais_drift_report_destroy(want);
    ais_profile_destroy(cur);
    ais_session_destroy(s);
    ais_model_destroy(m);
}

static void test_reservoir_seeded(void **state) {
    (void)state;
    ais_model *m = NULL;
    AIS_ASSERT_OK(ais_model_load(model_path, NULL, &m));
    ais_session *a = live_session(m, NULL, 40, AIS_WINDOW_RESERVOIR, 9);
    ais_session *b = live_session(m, NULL, 40, AIS_WINDOW_RESERVOIR, 9);
    ais_session *c = live_session(m, NULL, 40, AIS_WINDOW_RESERVOIR, 10);
    run_rows(a, 0, 300, 13, 1.0, NULL);
    run_rows(b, 0, 300, 13, 1.0, NULL);
    run_rows(c, 0, 300, 13, 1.0, NULL);
    assert_int_equal(window_rows(a), 40);
    ais_drift_report *ra = NULL, *rb = NULL, *rc = NULL;
    AIS_ASSERT_OK(ais_session_drift(a, &ra));
    AIS_ASSERT_OK(ais_session_drift(b, &rb));
    AIS_ASSERT_OK(ais_session_drift(c, &rc));
    assert_same_report(ra, rb);
    /* another seed samples other rows: some statistic differs */
    bool differs = false;
    for (size_t i = 0; i < NCOLS; i++) {
        double va, vc;
        AIS_ASSERT_OK(ais_drift_report_feature(ra, i, NULL, NULL, NULL, &va, NULL, NULL, NULL));
        AIS_ASSERT_OK(ais_drift_report_feature(rc, i, NULL, NULL, NULL, &vc, NULL, NULL, NULL));
        differs |= va != vc;
    }
    assert_true(differs);
    ais_drift_report_destroy(ra);
    ais_drift_report_destroy(rb);
    ais_drift_report_destroy(rc);
    ais_session_destroy(a);
    ais_session_destroy(b);
    ais_session_destroy(c);
    ais_model_destroy(m);
}

static void test_monitor_merges(void **state) {
    (void)state;
    ais_monitor *mon = NULL;
    AIS_ASSERT_OK(ais_monitor_create(&mon));
    ais_model *m = NULL;
    AIS_ASSERT_OK(ais_model_load(model_path, NULL, &m));
    ais_drift_report *r = NULL, *want = NULL;
    AIS_ASSERT_STATUS(ais_monitor_drift(mon, NULL, &r), AIS_E_NOT_FOUND);
    assert_null(r);
    ais_session *a = live_session(m, mon, 500, AIS_WINDOW_RESERVOIR, 0);
    ais_session *b = live_session(m, mon, 500, AIS_WINDOW_LAST, 0);
    ais_profile *cur = empty_profile(1000);
    run_rows(a, 0, 120, 10, 2.0, cur);
    run_rows(b, 500, 80, 3, 2.0, cur);
    uint64_t rows = 0;
    AIS_ASSERT_OK(ais_monitor_metric(mon, NULL, AIS_METRIC_WINDOW_ROWS, &rows));
    assert_int_equal(rows, 200);
    AIS_ASSERT_OK(ais_monitor_drift(mon, NULL, &r));
    AIS_ASSERT_OK(ais_profile_drift(ais_model_profile(m), cur, &want));
    assert_same_report(r, want);
    ais_drift_report_destroy(r);
    ais_drift_report_destroy(want);
    AIS_ASSERT_STATUS(ais_monitor_drift(mon, "no such model", &r), AIS_E_NOT_FOUND);
    ais_test_assert_error_contains("no such model");
    /* the drift gauges in the Prometheus text */
    size_t need = 0;
    AIS_ASSERT_OK(ais_monitor_prometheus(mon, NULL, 0, &need));
    char *text = malloc(need + 4096);
    AIS_ASSERT_OK(ais_monitor_prometheus(mon, text, need + 4096, &need));
    assert_non_null(strstr(text, "# TYPE aistack_drift_value gauge\n"));
    assert_non_null(strstr(text, "aistack_drift_window_rows{model=\"\",version=\"\"} 200\n"));
    assert_non_null(strstr(text, "feature=\"pixels[20]\",method=\"ks\"}"));
    assert_non_null(
        strstr(text, "aistack_drift_detected{model=\"\",version=\"\",feature=\"digit\"}"));
    free(text);
    /* windows go with their sessions; the counters stay */
    ais_session_destroy(a);
    AIS_ASSERT_OK(ais_monitor_metric(mon, NULL, AIS_METRIC_WINDOW_ROWS, &rows));
    assert_int_equal(rows, 80);
    ais_session_destroy(b);
    AIS_ASSERT_STATUS(ais_monitor_drift(mon, NULL, &r), AIS_E_NOT_FOUND);
    AIS_ASSERT_OK(ais_monitor_metric(mon, NULL, AIS_METRIC_RUNS, &rows));
    assert_int_equal(rows, 12 + 27);
    ais_profile_destroy(cur);
    ais_model_destroy(m);
    ais_monitor_destroy(mon);
}

static void test_no_window(void **state) {
    (void)state;
    ais_drift_report *r = NULL;
    /* no reference profile */
    ais_model *plain = NULL;
    AIS_ASSERT_OK(ais_model_load(AIS_SOURCE_DIR "/models/digits_mlp.onnx", NULL, &plain));
    ais_session *s = live_session(plain, NULL, 100, AIS_WINDOW_RESERVOIR, 0);
    AIS_ASSERT_STATUS(ais_session_drift(s, &r), AIS_E_NOT_FOUND);
    ais_test_assert_error_contains("no drift window");
    ais_session_destroy(s);
    ais_model_destroy(plain);
    /* window 0, or metrics off */
    ais_model *m = NULL;
    AIS_ASSERT_OK(ais_model_load(model_path, NULL, &m));
    s = live_session(m, NULL, 0, AIS_WINDOW_RESERVOIR, 0);
    run_rows(s, 0, 5, 5, 0, NULL);
    AIS_ASSERT_STATUS(ais_session_drift(s, &r), AIS_E_NOT_FOUND);
    ais_session_destroy(s);
    ais_options *o = NULL;
    AIS_ASSERT_OK(ais_options_create(&o));
    AIS_ASSERT_OK(ais_options_set_int(o, AIS_OPT_METRICS, 0));
    AIS_ASSERT_OK(ais_session_create(m, o, &s));
    AIS_ASSERT_STATUS(ais_session_drift(s, &r), AIS_E_NOT_FOUND);
    ais_session_destroy(s);
    /* out-of-range settings are refused at the setter */
    AIS_ASSERT_STATUS(ais_options_set_int(o, AIS_OPT_DRIFT_WINDOW, -1), AIS_E_INVALID_ARGUMENT);
    AIS_ASSERT_STATUS(ais_options_set_int(o, AIS_OPT_DRIFT_WINDOW, ((int64_t)1 << 20) + 1),
                      AIS_E_INVALID_ARGUMENT);
    AIS_ASSERT_STATUS(ais_options_set_int(o, AIS_OPT_DRIFT_WINDOW_MODE, 2), AIS_E_INVALID_ARGUMENT);
    ais_options_destroy(o);
    AIS_ASSERT_STATUS(ais_session_drift(NULL, &r), AIS_E_INVALID_ARGUMENT);
    AIS_ASSERT_STATUS(ais_monitor_drift(NULL, NULL, &r), AIS_E_INVALID_ARGUMENT);
    ais_model_destroy(m);
}

/* A session running on one thread while another reads its window and the monitor's. */
typedef struct runner {
    ais_session *s;
    atomic_int stop;
    size_t runs;
} runner;

static void *run_loop(void *arg) {
    runner *r = arg;
    size_t first = 0;
    while (!atomic_load(&r->stop)) {
        run_rows(r->s, first, 4, 4, (double)(first % 3), NULL);
        first += 4;
        r->runs++;
    }
    return NULL;
}

static void test_reader_while_running(void **state) {
    (void)state;
    ais_monitor *mon = NULL;
    AIS_ASSERT_OK(ais_monitor_create(&mon));
    ais_model *m = NULL;
    AIS_ASSERT_OK(ais_model_load(model_path, NULL, &m));
    runner rn = {.s = live_session(m, mon, 64, AIS_WINDOW_LAST, 0)};
    atomic_init(&rn.stop, 0);
    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, run_loop, &rn), 0);
    char *text = malloc(1 << 16);
    for (int i = 0; i < 40; i++) {
        ais_drift_report *r = NULL;
        ais_status st = ais_session_drift(rn.s, &r);
        assert_int_equal(st, AIS_OK);
        ais_drift_report_destroy(r);
        size_t n = 0;
        AIS_ASSERT_OK(ais_monitor_prometheus(mon, text, 1 << 16, &n));
        usleep(1000);
    }
    atomic_store(&rn.stop, 1);
    pthread_join(t, NULL);
    assert_true(rn.runs > 0);
    assert_int_equal(window_rows(rn.s), rn.runs * 4 < 64 ? rn.runs * 4 : 64);
    free(text);
    ais_session_destroy(rn.s);
    ais_model_destroy(m);
    ais_monitor_destroy(mon);
}

/* Sessions of a monitor created, run and destroyed on one thread while another scrapes it: a
 * scrape copies the windows under the monitor's lock and computes the statistics and the text
 * after it, so this is what checks (TSan, ASan) that nothing it reads then can go away. */
typedef struct churner {
    ais_model *m;
    ais_monitor *mon;
    atomic_int stop;
    size_t sessions;
} churner;

static void *churn_loop(void *arg) {
    churner *c = arg;
    while (!atomic_load(&c->stop)) {
        ais_session *s = live_session(c->m, c->mon, 32, AIS_WINDOW_LAST, 0);
        run_rows(s, c->sessions * 8, 8, 4, 1.0, NULL);
        ais_session_destroy(s);
        c->sessions++;
    }
    return NULL;
}

static void test_scrape_while_sessions_change(void **state) {
    (void)state;
    churner c = {.sessions = 0};
    atomic_init(&c.stop, 0);
    AIS_ASSERT_OK(ais_monitor_create(&c.mon));
    AIS_ASSERT_OK(ais_model_load(model_path, NULL, &c.m));
    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, churn_loop, &c), 0);
    char *text = malloc(1 << 16);
    size_t with_gauges = 0;
    for (int i = 0; i < 60; i++) {
        size_t n = 0;
        AIS_ASSERT_OK(ais_monitor_prometheus(c.mon, text, 1 << 16, &n));
        assert_int_equal(strlen(text), n);
        /* the counters are always there; the drift gauges when a window was live (a window
         * of fewer than 2 rows skips its features, so only the dataset's gauges are sure) */
        assert_non_null(strstr(text, "# TYPE aistack_runs_total counter\n"));
        if (strstr(text, "aistack_drift_window_rows{")) {
            with_gauges++;
            assert_non_null(strstr(text, "aistack_dataset_drift{model=\"\",version=\"\"} "));
        }
        ais_drift_report *r = NULL;
        ais_status st = ais_monitor_drift(c.mon, NULL, &r);
        assert_true(st == AIS_OK || st == AIS_E_NOT_FOUND);
        if (st == AIS_OK) assert_int_equal(ais_drift_report_feature_count(r), NCOLS + 1);
        ais_drift_report_destroy(r);
        usleep(500);
    }
    atomic_store(&c.stop, 1);
    pthread_join(t, NULL);
    assert_true(c.sessions > 0);
    /* every finished session's runs stay counted: 2 calls of 4 rows each */
    uint64_t runs = 0;
    AIS_ASSERT_OK(ais_monitor_metric(c.mon, NULL, AIS_METRIC_RUNS, &runs));
    assert_int_equal(runs, c.sessions * 2);
    (void)with_gauges; /* how many scrapes met a live window depends on the scheduler */
    free(text);
    ais_model_destroy(c.m);
    ais_monitor_destroy(c.mon);
}

typedef struct sweep_ctx {
    ais_model *m;
    ais_monitor *mon;
    ais_options *o;
    ais_session *s;
    ais_tensor *x;
    ais_tensor *out[2];
    ais_drift_report *r, *rm;
} sweep_ctx;

static ais_status sweep_fn(void *arg) {
    sweep_ctx *c = arg;
    ais_status st;
    if ((st = ais_monitor_create(&c->mon))) return st;
    if ((st = ais_options_create(&c->o))) return st;
    if ((st = ais_options_set_int(c->o, AIS_OPT_DRIFT_WINDOW, 16))) return st;
    if ((st = ais_options_set_monitor(c->o, c->mon))) return st;
    if ((st = ais_session_create(c->m, c->o, &c->s))) return st;
    if ((st = ais_session_run(c->s, NULL, (const ais_tensor *const *)&c->x, 1, NULL, c->out, 2)))
        return st;
    if ((st = ais_session_drift(c->s, &c->r))) return st;
    if ((st = ais_monitor_drift(c->mon, NULL, &c->rm))) return st;
    /* the scrape's snapshot and its drift gauges (a failed report only drops its gauges) */
    char text[1 << 15];
    size_t n = 0;
    return ais_monitor_prometheus(c->mon, text, sizeof text, &n);
}

static void sweep_cleanup(void *arg) {
    sweep_ctx *c = arg;
    ais_drift_report_destroy(c->r);
    ais_drift_report_destroy(c->rm);
    ais_tensor_destroy(c->out[0]);
    ais_tensor_destroy(c->out[1]);
    ais_session_destroy(c->s);
    ais_options_destroy(c->o);
    ais_monitor_destroy(c->mon);
    c->r = c->rm = NULL;
    c->out[0] = c->out[1] = NULL;
    c->s = NULL;
    c->o = NULL;
    c->mon = NULL;
}

static void test_oom_sweep(void **state) {
    (void)state;
    sweep_ctx c = {0};
    AIS_ASSERT_OK(ais_model_load(model_path, NULL, &c.m));
    c.x = ais_test_rand_f32(AIS_SHAPE(3, NPIX), 0, 1);
    fill_pixels(ais_tensor_data(c.x), 3, 0, 0);
    ais_test_oom_sweep("live window", sweep_fn, sweep_cleanup, &c, 2000);
    ais_tensor_destroy(c.x);
    ais_model_destroy(c.m);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_window_equals_offline),
        cmocka_unit_test(test_last_rows),
        cmocka_unit_test(test_reservoir_seeded),
        cmocka_unit_test(test_monitor_merges),
        cmocka_unit_test(test_no_window),
        cmocka_unit_test(test_reader_while_running),
        cmocka_unit_test(test_scrape_while_sessions_change),
        cmocka_unit_test(test_oom_sweep),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
