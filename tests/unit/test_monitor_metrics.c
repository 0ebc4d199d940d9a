/* test_monitor_metrics.c - run metrics per session and per monitor (issue 15 items 1-2): counts
 * of runs, rows, errors by status, bytes and the latency histogram; sessions on several threads
 * summed by one monitor; totals that survive a session's destroy; the Prometheus text and its
 * buffer contract; failure paths and an allocation-failure sweep. The text's parse by the
 * official prometheus_client is in tests/python/test_monitor.py. */
#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "test_util.h"

static const char *const in_name[1] = {"pixels"};

static ais_model *load_digits(void) {
    ais_model *m = NULL;
    AIS_ASSERT_OK(ais_model_load(AIS_SOURCE_DIR "/models/digits_mlp.onnx", NULL, &m));
    return m;
}

static uint64_t smetric(const ais_session *s, ais_metric k) {
    uint64_t v = 12345;
    AIS_ASSERT_OK(ais_session_metric(s, k, &v));
    return v;
}

static uint64_t mmetric(const ais_monitor *m, const char *model, ais_metric k) {
    uint64_t v = 12345;
    AIS_ASSERT_OK(ais_monitor_metric(m, model, k, &v));
    return v;
}

static ais_status run_batch(ais_session *s, int64_t rows, int64_t width) {
    ais_tensor *x = ais_test_rand_f32(AIS_SHAPE(rows, width), 0, 1);
    ais_tensor *out[2] = {NULL, NULL};
    ais_status st = ais_session_run(s, in_name, (const ais_tensor *const *)&x, 1, NULL, out, 2);
    ais_tensor_destroy(out[0]);
    ais_tensor_destroy(out[1]);
    ais_tensor_destroy(x);
    return st;
}

static void test_session_counts(void **state) {
    (void)state;
    ais_model *m = load_digits();
    ais_session *s = NULL;
    AIS_ASSERT_OK(ais_session_create(m, NULL, &s));
    assert_int_equal(smetric(s, AIS_METRIC_RUNS), 0);
    AIS_ASSERT_OK(run_batch(s, 3, 64));
    AIS_ASSERT_OK(run_batch(s, 5, 64));
    /* a wrong width fails with AIS_E_SHAPE: counted as a run and an error, not as rows */
    AIS_ASSERT_STATUS(run_batch(s, 2, 63), AIS_E_SHAPE);
    assert_int_equal(smetric(s, AIS_METRIC_RUNS), 3);
    assert_int_equal(smetric(s, AIS_METRIC_ROWS), 8);
    assert_int_equal(smetric(s, AIS_METRIC_ERRORS), 1);
    assert_int_equal(smetric(s, AIS_METRIC_IN_FLIGHT), 0);
    /* inputs: 3*64 + 5*64 + 2*63 floats; outputs of the good runs: probabilities (f32 x10) and
     * the digit (one integer per row) */
    assert_int_equal(smetric(s, AIS_METRIC_BYTES_IN), (3 * 64 + 5 * 64 + 2 * 63) * 4);
    const char *name;
    ais_dtype dt;
    AIS_ASSERT_OK(ais_model_output_info(m, 1, &name, &dt, NULL, NULL));
    assert_int_equal(smetric(s, AIS_METRIC_BYTES_OUT), 8 * 10 * 4 + 8 * ais_dtype_size(dt));
    assert_true(smetric(s, AIS_METRIC_LATENCY_NS) > 0);
    uint64_t v;
    AIS_ASSERT_STATUS(ais_session_metric(s, (ais_metric)99, &v), AIS_E_INVALID_ARGUMENT);
    AIS_ASSERT_STATUS(ais_session_metric(NULL, AIS_METRIC_RUNS, &v), AIS_E_INVALID_ARGUMENT);
    AIS_ASSERT_STATUS(ais_session_metric(s, AIS_METRIC_RUNS, NULL), AIS_E_INVALID_ARGUMENT);
    ais_session_destroy(s);

    /* AIS_OPT_METRICS 0: nothing is counted, and the getter says so */
    ais_options *o = NULL;
    AIS_ASSERT_OK(ais_options_create(&o));
    AIS_ASSERT_OK(ais_options_set_int(o, AIS_OPT_METRICS, 0));
    AIS_ASSERT_STATUS(ais_options_set_int(o, AIS_OPT_METRICS, 2), AIS_E_INVALID_ARGUMENT);
    AIS_ASSERT_OK(ais_session_create(m, o, &s));
    AIS_ASSERT_OK(run_batch(s, 1, 64));
    AIS_ASSERT_STATUS(ais_session_metric(s, AIS_METRIC_RUNS, &v), AIS_E_NOT_FOUND);
    ais_test_assert_error_contains("AIS_OPT_METRICS");
    ais_session_destroy(s);
    ais_options_destroy(o);
    ais_model_destroy(m);
}

/* The latencies come from the time-stamp counter calibrated against CLOCK_MONOTONIC: their sum
 * over many runs must agree with the wall time around them (at most that, and most of it: the
 * runs are nearly all of the loop). */
static void test_latency_clock(void **state) {
    (void)state;
    ais_model *m = load_digits();
    ais_session *s = NULL;
    AIS_ASSERT_OK(ais_session_create(m, NULL, &s));
    ais_tensor *x = ais_test_rand_f32(AIS_SHAPE(64, 64), 0, 1);
    ais_tensor *out[2] = {NULL, NULL};
    AIS_ASSERT_OK(ais_session_run(s, in_name, (const ais_tensor *const *)&x, 1, NULL, out, 2));
    uint64_t before = smetric(s, AIS_METRIC_LATENCY_NS);
    struct timespec a, b;
    clock_gettime(CLOCK_MONOTONIC, &a);
    for (int i = 0; i < 300; i++)
        AIS_ASSERT_OK(ais_session_run(s, in_name, (const ais_tensor *const *)&x, 1, NULL, out, 2));
    clock_gettime(CLOCK_MONOTONIC, &b);
    double wall = (double)(b.tv_sec - a.tv_sec) * 1e9 + (double)(b.tv_nsec - a.tv_nsec);
    double got = (double)(smetric(s, AIS_METRIC_LATENCY_NS) - before);
    assert_true(got <= wall * 1.01);
    assert_true(got >= wall * 0.5);
    ais_tensor_destroy(out[0]);
    ais_tensor_destroy(out[1]);
    ais_tensor_destroy(x);
    ais_session_destroy(s);
    ais_model_destroy(m);
}

typedef struct worker {
    ais_session *s;
    int runs;
} worker;

/* A batch of constant rows: the tests' random generator is one global state, not for threads
 * (TSan). */
static ais_status run_const_batch(ais_session *s, int64_t rows) {
    ais_tensor *x = NULL, *out[2] = {NULL, NULL};
    ais_status st = ais_tensor_create(AIS_DTYPE_F32, AIS_SHAPE(rows, 64), &x);
    if (st != AIS_OK) return st;
    float *v = ais_tensor_data(x);
    for (int64_t i = 0; i < rows * 64; i++)
        v[i] = (float)(i % 17) / 16.0f;
    st = ais_session_run(s, in_name, (const ais_tensor *const *)&x, 1, NULL, out, 2);
    ais_tensor_destroy(out[0]);
    ais_tensor_destroy(out[1]);
    ais_tensor_destroy(x);
    return st;
}

static void *worker_main(void *arg) {
    worker *w = arg;
    for (int i = 0; i < w->runs; i++)
        if (run_const_batch(w->s, 1 + i % 4) != AIS_OK) return (void *)1;
    return NULL;
}

/* Calls in flight are counted as `started` less the calls finished (the buckets' sum), read by
 * another thread while two sessions run: never above the number of running threads (a reader
 * that took `started` before the buckets could see a finished call as not begun and wrap to
 * 2^64 - 1), seen at 1 or more while calls run, 0 after; runs never go down and end equal to the
 * calls made. */
typedef struct spinner {
    ais_session *s;
    atomic_int *stop;
    ais_tensor *x; /* made by the main thread (the random generator is not for threads) */
    int runs;
} spinner;

static void *spinner_main(void *arg) {
    spinner *w = arg;
    ais_tensor *x = w->x;
    ais_tensor *out[2] = {NULL, NULL};
    void *rc = NULL;
    while (!atomic_load(w->stop)) {
        if (ais_session_run(w->s, in_name, (const ais_tensor *const *)&x, 1, NULL, out, 2) !=
            AIS_OK) {
            rc = (void *)1;
            break;
        }
        w->runs++;
    }
    ais_tensor_destroy(out[0]);
    ais_tensor_destroy(out[1]);
    return rc;
}

static void test_in_flight_reader(void **state) {
    (void)state;
    ais_model *m = load_digits();
    ais_monitor *mon = NULL;
    AIS_ASSERT_OK(ais_monitor_create(&mon));
    ais_options *o = NULL;
    AIS_ASSERT_OK(ais_options_create(&o));
    AIS_ASSERT_OK(ais_options_set_monitor(o, mon));
    AIS_ASSERT_OK(ais_options_set_int(o, AIS_OPT_THREADS, 1));
    enum { T = 2 };
    atomic_int stop;
    atomic_init(&stop, 0);
    spinner w[T];
    pthread_t th[T];
    for (int t = 0; t < T; t++) {
        w[t] = (spinner){.stop = &stop, .x = ais_test_rand_f32(AIS_SHAPE(256, 64), 0, 1)};
        AIS_ASSERT_OK(ais_session_create(m, o, &w[t].s));
        assert_int_equal(pthread_create(&th[t], NULL, spinner_main, &w[t]), 0);
    }
    ais_options_destroy(o);
    uint64_t busy_seen = 0, last_runs = 0;
    for (long i = 0; i < 200000 && busy_seen < 20; i++) {
        uint64_t f = mmetric(mon, NULL, AIS_METRIC_IN_FLIGHT);
        uint64_t r = mmetric(mon, NULL, AIS_METRIC_RUNS);
        assert_true(f <= T);
        assert_true(r >= last_runs);
        last_runs = r;
        busy_seen += f > 0;
        if (i % 64 == 63) usleep(100);
    }
    atomic_store(&stop, 1);
    int runs = 0;
    for (int t = 0; t < T; t++) {
        void *r;
        pthread_join(th[t], &r);
        assert_null(r);
        runs += w[t].runs;
        assert_int_equal(smetric(w[t].s, AIS_METRIC_IN_FLIGHT), 0);
        assert_int_equal(smetric(w[t].s, AIS_METRIC_RUNS), w[t].runs);
        ais_tensor_destroy(w[t].x);
    }
    assert_true(busy_seen > 0);
    assert_int_equal(mmetric(mon, NULL, AIS_METRIC_IN_FLIGHT), 0);
    assert_int_equal(mmetric(mon, NULL, AIS_METRIC_RUNS), (uint64_t)runs);
    for (int t = 0; t < T; t++)
        ais_session_destroy(w[t].s);
    assert_int_equal(mmetric(mon, NULL, AIS_METRIC_RUNS), (uint64_t)runs);
    ais_monitor_destroy(mon);
    ais_model_destroy(m);
}

/* Sessions on three threads, one monitor: the sums are exact, and a destroyed session's counts
 * stay in the totals. */
static void test_monitor_threads(void **state) {
    (void)state;
    ais_model *m = load_digits();
    ais_monitor *mon = NULL;
    AIS_ASSERT_OK(ais_monitor_create(&mon));
    ais_options *o = NULL;
    AIS_ASSERT_OK(ais_options_create(&o));
    AIS_ASSERT_OK(ais_options_set_monitor(o, mon));
    enum { T = 3, RUNS = 200 };
    worker w[T];
    pthread_t th[T];
    for (int t = 0; t < T; t++) {
        w[t].runs = RUNS;
        AIS_ASSERT_OK(ais_session_create(m, o, &w[t].s));
    }
    ais_options_destroy(o); /* the sessions keep the monitor, not the options */
    for (int t = 0; t < T; t++)
        assert_int_equal(pthread_create(&th[t], NULL, worker_main, &w[t]), 0);
    for (int t = 0; t < T; t++) {
        void *r;
        pthread_join(th[t], &r);
        assert_null(r);
    }
    /* rows per worker: sum over i of 1 + i % 4 = 200/4 * (1+2+3+4) */
    uint64_t rows = (uint64_t)T * (RUNS / 4) * 10;
    assert_int_equal(mmetric(mon, NULL, AIS_METRIC_RUNS), T * RUNS);
    assert_int_equal(mmetric(mon, NULL, AIS_METRIC_ROWS), rows);
    assert_int_equal(mmetric(mon, NULL, AIS_METRIC_BYTES_IN), rows * 64 * 4);
    assert_int_equal(mmetric(mon, NULL, AIS_METRIC_ERRORS), 0);
    uint64_t lat = mmetric(mon, NULL, AIS_METRIC_LATENCY_NS);
    ais_session_destroy(w[0].s);
    assert_int_equal(mmetric(mon, NULL, AIS_METRIC_RUNS), T * RUNS);
    assert_int_equal(mmetric(mon, NULL, AIS_METRIC_LATENCY_NS), lat);
    /* the model of the digits MLP has no "name" metadata: the series' name is "" */
    const char *nm = ais_model_metadata(m, "name");
    assert_int_equal(mmetric(mon, nm ? nm : "", AIS_METRIC_RUNS), T * RUNS);
    assert_int_equal(mmetric(mon, "no such model", AIS_METRIC_RUNS), 0);
    AIS_ASSERT_STATUS(run_batch(w[1].s, 1, 7), AIS_E_SHAPE);
    uint64_t e;
    AIS_ASSERT_OK(ais_monitor_errors(mon, NULL, AIS_E_SHAPE, &e));
    assert_int_equal(e, 1);
    AIS_ASSERT_OK(ais_monitor_errors(mon, NULL, AIS_E_DTYPE, &e));
    assert_int_equal(e, 0);
    AIS_ASSERT_STATUS(ais_monitor_errors(mon, NULL, AIS_OK, &e), AIS_E_INVALID_ARGUMENT);
    AIS_ASSERT_STATUS(ais_monitor_metric(NULL, NULL, AIS_METRIC_RUNS, &e), AIS_E_INVALID_ARGUMENT);
    /* buckets are fixed once a session reports */
    const double b[] = {0.001, 0.01};
    AIS_ASSERT_STATUS(ais_monitor_set_latency_buckets(mon, b, 2), AIS_E_BUSY);
    for (int t = 1; t < T; t++)
        ais_session_destroy(w[t].s);
    assert_int_equal(mmetric(mon, NULL, AIS_METRIC_RUNS), T * RUNS + 1);
    ais_monitor_destroy(mon);
    ais_model_destroy(m);
}

static void test_buckets_rules(void **state) {
    (void)state;
    ais_monitor *mon = NULL;
    AIS_ASSERT_OK(ais_monitor_create(&mon));
    const double ok[] = {1e-6, 0.5, 2};
    const double down[] = {0.5, 0.5};
    const double neg[] = {-1};
    const double nan[] = {0.1, 0.0 / 0.0};
    const double inf[] = {1.0 / 0.0};
    AIS_ASSERT_STATUS(ais_monitor_set_latency_buckets(mon, down, 2), AIS_E_INVALID_ARGUMENT);
    ais_test_assert_error_contains("bound 1");
    AIS_ASSERT_STATUS(ais_monitor_set_latency_buckets(mon, neg, 1), AIS_E_INVALID_ARGUMENT);
    AIS_ASSERT_STATUS(ais_monitor_set_latency_buckets(mon, nan, 2), AIS_E_INVALID_ARGUMENT);
    AIS_ASSERT_STATUS(ais_monitor_set_latency_buckets(mon, inf, 1), AIS_E_INVALID_ARGUMENT);
    AIS_ASSERT_STATUS(ais_monitor_set_latency_buckets(mon, ok, 0), AIS_E_INVALID_ARGUMENT);
    AIS_ASSERT_STATUS(ais_monitor_set_latency_buckets(mon, NULL, 1), AIS_E_INVALID_ARGUMENT);
    AIS_ASSERT_STATUS(ais_monitor_set_latency_buckets(mon, ok, AIS_MONITOR_MAX_BUCKETS + 1),
                      AIS_E_INVALID_ARGUMENT);
    AIS_ASSERT_OK(ais_monitor_set_latency_buckets(mon, ok, 3));
    /* No session yet: the text has the families and no samples but the dropped count. */
    size_t need = 0;
    AIS_ASSERT_OK(ais_monitor_prometheus(mon, NULL, 0, &need));
    char *buf = malloc(need);
    size_t got = 0;
    AIS_ASSERT_OK(ais_monitor_prometheus(mon, buf, need, &got));
    assert_int_equal(got + 1, need);
    assert_non_null(strstr(buf, "# TYPE aistack_run_duration_seconds histogram\n"));
    assert_null(strstr(buf, "aistack_runs_total{"));
    free(buf);
    ais_monitor_destroy(mon);
    ais_monitor_destroy(NULL);
    AIS_ASSERT_STATUS(ais_monitor_create(NULL), AIS_E_INVALID_ARGUMENT);
    AIS_ASSERT_STATUS(ais_options_set_monitor(NULL, NULL), AIS_E_INVALID_ARGUMENT);
}

/* The value of the sample line that starts with `prefix` ("name{labels}"). */
static double sample(const char *text, const char *prefix) {
    char key[512];
    snprintf(key, sizeof key, "\n%s ", prefix);
    const char *p = strstr(text, key);
    if (!p) fail_msg("no sample %s in:\n%s", prefix, text);
    return strtod(p + strlen(key), NULL);
}

static void test_prometheus_text(void **state) {
    (void)state;
    ais_model *m = load_digits();
    ais_monitor *mon = NULL;
    AIS_ASSERT_OK(ais_monitor_create(&mon));
    /* a first bucket no run can fall in (1 ns), one every run falls in (100 s) */
    const double b[] = {1e-9, 100};
    AIS_ASSERT_OK(ais_monitor_set_latency_buckets(mon, b, 2));
    ais_options *o = NULL;
    AIS_ASSERT_OK(ais_options_create(&o));
    AIS_ASSERT_OK(ais_options_set_monitor(o, mon));
    ais_session *s = NULL;
    AIS_ASSERT_OK(ais_session_create(m, o, &s));
    for (int i = 0; i < 4; i++)
        AIS_ASSERT_OK(run_batch(s, 2, 64));
    AIS_ASSERT_STATUS(run_batch(s, 2, 3), AIS_E_SHAPE);

    size_t need = 0, got = 0;
    AIS_ASSERT_OK(ais_monitor_prometheus(mon, NULL, 0, &need));
    char small[16];
    AIS_ASSERT_STATUS(ais_monitor_prometheus(mon, small, sizeof small, &got), AIS_E_LIMIT);
    assert_int_equal(got, need);
    assert_string_equal(small, "");
    AIS_ASSERT_STATUS(ais_monitor_prometheus(mon, NULL, 5, &got), AIS_E_INVALID_ARGUMENT);
    AIS_ASSERT_STATUS(ais_monitor_prometheus(mon, small, sizeof small, NULL),
                      AIS_E_INVALID_ARGUMENT);
    char *buf = malloc(need);
    AIS_ASSERT_OK(ais_monitor_prometheus(mon, buf, need, &got));
    assert_int_equal(strlen(buf), got);
    const char *nm = ais_model_metadata(m, "name");
    const char *ver = ais_model_metadata(m, "model_version");
    char lab[256], key[400];
    snprintf(lab, sizeof lab, "model=\"%s\",version=\"%s\"", nm ? nm : "", ver ? ver : "");
    snprintf(key, sizeof key, "aistack_runs_total{%s}", lab);
    assert_true(sample(buf, key) == 5);
    snprintf(key, sizeof key, "aistack_rows_total{%s}", lab);
    assert_true(sample(buf, key) == 8);
    snprintf(key, sizeof key, "aistack_errors_total{%s,status=\"AIS_E_SHAPE\"}", lab);
    assert_true(sample(buf, key) == 1);
    snprintf(key, sizeof key, "aistack_in_flight{%s}", lab);
    assert_true(sample(buf, key) == 0);
    snprintf(key, sizeof key, "aistack_run_duration_seconds_bucket{%s,le=\"1e-09\"}", lab);
    assert_true(sample(buf, key) == 0);
    snprintf(key, sizeof key, "aistack_run_duration_seconds_bucket{%s,le=\"100\"}", lab);
    assert_true(sample(buf, key) == 5);
    snprintf(key, sizeof key, "aistack_run_duration_seconds_bucket{%s,le=\"+Inf\"}", lab);
    assert_true(sample(buf, key) == 5);
    snprintf(key, sizeof key, "aistack_run_duration_seconds_count{%s}", lab);
    assert_true(sample(buf, key) == 5);
    snprintf(key, sizeof key, "aistack_run_duration_seconds_sum{%s}", lab);
    double sum = sample(buf, key);
    uint64_t ns = mmetric(mon, NULL, AIS_METRIC_LATENCY_NS);
    assert_true(sum > 0 && sum < 100 && fabs(sum - ns * 1e-9) < 1e-8);
    assert_non_null(strstr(buf, "\naistack_log_dropped_total 0\n"));
    /* the text ends with a newline, as the format wants */
    assert_int_equal(buf[got - 1], '\n');
    free(buf);
    ais_session_destroy(s);
    ais_options_destroy(o);
    ais_monitor_destroy(mon);
    ais_model_destroy(m);
}

static size_t count_lines(const char *path, size_t *bytes, bool check_json) {
    FILE *f = fopen(path, "r");
    if (!f) return 0;
    char line[1 << 16];
    size_t n = 0, b = 0;
    while (fgets(line, sizeof line, f)) {
        n++;
        b += strlen(line);
        if (check_json) {
            assert_true(strncmp(line, "{\"time\": ", 9) == 0);
            assert_non_null(strstr(line, "\"status\": \"AIS_OK\""));
            assert_non_null(strstr(line, "\"inputs\": [{\"dtype\": \"f32\", \"shape\": [1, 64]"));
            assert_int_equal(line[strlen(line) - 1], '\n');
        }
    }
    fclose(f);
    if (bytes) *bytes = b;
    return n;
}

/* The first bucket is counted inline (a field on the shard's first line) and the others out
 * of line: both paths, with one bound (bucket 0 or +Inf), live and after the session is gone. */
static void test_bucket_paths(void **state) {
    (void)state;
    ais_model *m = load_digits();
    const double bounds[2][1] = {{100}, {1e-9}}; /* every run fits; none does */
    for (int k = 0; k < 2; k++) {
        ais_monitor *mon = NULL;
        AIS_ASSERT_OK(ais_monitor_create(&mon));
        AIS_ASSERT_OK(ais_monitor_set_latency_buckets(mon, bounds[k], 1));
        ais_options *o = NULL;
        AIS_ASSERT_OK(ais_options_create(&o));
        AIS_ASSERT_OK(ais_options_set_monitor(o, mon));
        ais_session *s = NULL;
        AIS_ASSERT_OK(ais_session_create(m, o, &s));
        for (int i = 0; i < 3; i++)
            AIS_ASSERT_OK(run_batch(s, 1, 64));
        AIS_ASSERT_STATUS(run_batch(s, 1, 3), AIS_E_SHAPE);
        const char *le = k == 0 ? "100" : "1e-09";
        char key[200], *buf = malloc(1 << 16);
        size_t got = 0;
        for (int gone = 0; gone < 2; gone++) {
            if (gone) {
                ais_session_destroy(s);
                s = NULL;
            }
            AIS_ASSERT_OK(ais_monitor_prometheus(mon, buf, 1 << 16, &got));
            assert_int_equal(mmetric(mon, NULL, AIS_METRIC_RUNS), 4);
            assert_int_equal(mmetric(mon, NULL, AIS_METRIC_IN_FLIGHT), 0);
            snprintf(key, sizeof key, "le=\"%s\"} ", le);
            const char *p = strstr(buf, key);
            assert_non_null(p);
            assert_true(strtod(p + strlen(key), NULL) == (k == 0 ? 4 : 0));
            p = strstr(buf, "le=\"+Inf\"} ");
            assert_non_null(p);
            assert_true(strtod(p + strlen("le=\"+Inf\"} "), NULL) == 4);
        }
        free(buf);
        ais_options_destroy(o);
        ais_monitor_destroy(mon);
    }
    ais_model_destroy(m);
}

/* Runs `runs` calls of a session reporting to a monitor with a request log, then destroys both
 * (which must write everything queued); returns what the monitor counted as dropped. */
static uint64_t logged_runs(const char *path, double rate, size_t ring, uint64_t max_bytes,
                            int runs) {
    ais_model *m = load_digits();
    ais_monitor *mon = NULL;
    AIS_ASSERT_OK(ais_monitor_create(&mon));
    AIS_ASSERT_OK(ais_monitor_set_request_log(mon, path, rate, ring, max_bytes));
    AIS_ASSERT_STATUS(ais_monitor_set_request_log(mon, path, rate, ring, max_bytes), AIS_E_BUSY);
    ais_options *o = NULL;
    AIS_ASSERT_OK(ais_options_create(&o));
    AIS_ASSERT_OK(ais_options_set_monitor(o, mon));
    ais_session *s = NULL;
    AIS_ASSERT_OK(ais_session_create(m, o, &s));
    for (int i = 0; i < runs; i++)
        AIS_ASSERT_OK(run_batch(s, 1, 64));
    uint64_t dropped = 0;
    AIS_ASSERT_OK(ais_monitor_metric(mon, NULL, AIS_METRIC_LOG_DROPPED, &dropped));
    AIS_ASSERT_OK(ais_monitor_flush(mon));
    ais_session_destroy(s);
    ais_options_destroy(o);
    uint64_t d2 = 0;
    AIS_ASSERT_OK(ais_monitor_metric(mon, NULL, AIS_METRIC_LOG_DROPPED, &d2));
    assert_int_equal(d2, dropped); /* nothing dropped after the runs: the rest was written */
    ais_monitor_destroy(mon);
    ais_model_destroy(m);
    return dropped;
}

static void test_request_log(void **state) {
    (void)state;
    char path[128], old[140];
    snprintf(path, sizeof path, "/tmp/test_reqlog_%d.jsonl", (int)getpid());
    snprintf(old, sizeof old, "%s.1", path);
    unlink(path);
    unlink(old);
    /* every call, a roomy ring: every line there, nothing dropped */
    assert_int_equal(logged_runs(path, 1.0, 0, 0, 60), 0);
    assert_int_equal(count_lines(path, NULL, true), 60);
    unlink(path);
    /* a ring of one slot under a burst: what is not written is counted, never lost silently */
    uint64_t dropped = logged_runs(path, 1.0, 1, 0, 300);
    assert_int_equal(count_lines(path, NULL, false) + dropped, 300);
    unlink(path);
    /* half the calls, roughly */
    size_t n = (logged_runs(path, 0.5, 0, 0, 400), count_lines(path, NULL, false));
    assert_true(n > 120 && n < 280);
    unlink(path);
    /* rotation by size: two files, each under the limit, the newest lines in PATH */
    assert_int_equal(logged_runs(path, 1.0, 0, 6000, 40), 0);
    size_t b1 = 0, b0 = 0;
    size_t n1 = count_lines(old, &b1, true), n0 = count_lines(path, &b0, true);
    assert_true(n1 > 0 && n0 > 0 && n0 + n1 <= 40);
    assert_true(b1 <= 6000 && b0 <= 6000);
    unlink(path);
    unlink(old);
    /* failure paths */
    ais_monitor *mon = NULL;
    AIS_ASSERT_OK(ais_monitor_create(&mon));
    AIS_ASSERT_STATUS(ais_monitor_set_request_log(mon, path, 0, 0, 0), AIS_E_INVALID_ARGUMENT);
    AIS_ASSERT_STATUS(ais_monitor_set_request_log(mon, path, 1.5, 0, 0), AIS_E_INVALID_ARGUMENT);
    AIS_ASSERT_STATUS(ais_monitor_set_request_log(mon, NULL, 1, 0, 0), AIS_E_INVALID_ARGUMENT);
    AIS_ASSERT_STATUS(ais_monitor_set_request_log(mon, "/nonexistent-dir/x.jsonl", 1, 0, 0),
                      AIS_E_IO);
    AIS_ASSERT_OK(ais_monitor_flush(mon)); /* no log: nothing to wait for */
    ais_model *m = load_digits();
    ais_options *o = NULL;
    AIS_ASSERT_OK(ais_options_create(&o));
    AIS_ASSERT_OK(ais_options_set_monitor(o, mon));
    ais_session *s = NULL;
    AIS_ASSERT_OK(ais_session_create(m, o, &s));
    AIS_ASSERT_STATUS(ais_monitor_set_request_log(mon, path, 1, 0, 0), AIS_E_BUSY);
    ais_session_destroy(s);
    ais_options_destroy(o);
    ais_monitor_destroy(mon);
    ais_model_destroy(m);
    unlink(path);
}

#define AIS__SWEEP_CHECK(expr)                                                                     \
    do {                                                                                           \
        ais_status st_ = (expr);                                                                   \
        if (st_ != AIS_OK) return st_;                                                             \
    } while (0)

typedef struct sweep_ctx {
    ais_model *m;
    ais_monitor *mon;
    ais_session *s;
    char *text;
} sweep_ctx;

static ais_status sweep_fn(void *arg) {
    sweep_ctx *c = arg;
    AIS__SWEEP_CHECK(ais_monitor_create(&c->mon));
    ais_options *o = NULL;
    ais_status st = ais_options_create(&o);
    if (st != AIS_OK) return st;
    ais_options_set_monitor(o, c->mon);
    st = ais_session_create(c->m, o, &c->s);
    ais_options_destroy(o);
    if (st != AIS_OK) return st;
    size_t need = 0;
    AIS__SWEEP_CHECK(ais_monitor_prometheus(c->mon, NULL, 0, &need));
    c->text = malloc(need);
    return ais_monitor_prometheus(c->mon, c->text, need, &need);
}

static void sweep_cleanup(void *arg) {
    sweep_ctx *c = arg;
    ais_session_destroy(c->s);
    ais_monitor_destroy(c->mon);
    free(c->text);
    c->s = NULL;
    c->mon = NULL;
    c->text = NULL;
}

static void test_oom_sweep(void **state) {
    (void)state;
    sweep_ctx c = {load_digits(), NULL, NULL, NULL};
    ais_test_oom_sweep("monitor", sweep_fn, sweep_cleanup, &c, 200);
    ais_model_destroy(c.m);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_session_counts),  cmocka_unit_test(test_latency_clock),
        cmocka_unit_test(test_monitor_threads), cmocka_unit_test(test_buckets_rules),
        cmocka_unit_test(test_prometheus_text), cmocka_unit_test(test_oom_sweep),
        cmocka_unit_test(test_request_log),     cmocka_unit_test(test_in_flight_reader),
        cmocka_unit_test(test_bucket_paths),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
