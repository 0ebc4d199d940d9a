/* bench_monitor.c - what run metrics cost (issue 15 item 1): the digits MLP at batch 1, one
 * thread, in two sessions alternating pass by pass: AIS_OPT_METRICS 0 and metrics on, reporting
 * to a monitor. Per pass, the median time per run; the table shows the median of the passes
 * and the ratio on/off (1.02 would be 2 % overhead). CPU time of the process is the figure on a
 * shared machine (bench_clock.h says why); wall time is printed beside it.
 *
 * With --window, a third session also keeps a live drift window (AIS_OPT_DRIFT_WINDOW, default
 * 1000 rows, reservoir) of a copy of the model saved with a reference profile of every one of
 * its 64 input columns and its predicted digit (65 features, built here from 500 runs): what
 * a session of a profiled model pays per call to fill its window, against metrics alone.
 *
 *   bench_monitor [MODEL.onnx] [--passes N] [--runs N] [--window] [--json OUT.json]
 */
#include <aistack/aistack.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bench_clock.h"

static int check(ais_status st, const char *what) {
    if (st == AIS_OK) return 0;
    fprintf(stderr, "bench_monitor: %s: %s: %s\n", what, ais_status_name(st), ais_last_error());
    exit(1);
}

/* Median CPU and wall time per run over `runs` runs (timed in blocks of 50). */
static void pass(ais_session *s, const ais_tensor *x, ais_tensor **out, int runs, double *cpu,
                 double *wall) {
    const char *in_name = "pixels";
    enum { BLOCK = 50 };
    int nb = runs / BLOCK;
    double *c = malloc(sizeof(double) * (size_t)nb), *w = malloc(sizeof(double) * (size_t)nb);
    for (int b = 0; b < nb; b++) {
        double c0 = cpu_s(), w0 = now_s();
        for (int i = 0; i < BLOCK; i++)
            check(ais_session_run(s, &in_name, &x, 1, NULL, out, 2), "run");
        c[b] = (cpu_s() - c0) / BLOCK;
        w[b] = (now_s() - w0) / BLOCK;
    }
    *cpu = median(c, (size_t)nb);
    *wall = median(w, (size_t)nb);
    free(c);
    free(w);
}

/* A copy of `m` with a reference profile of pixels[0..63] and digit from 500 runs, saved and
 * loaded again (the file is removed). */
static ais_model *profiled_copy(ais_model *m, ais_session *s, const char *in_name) {
    ais_profile *p;
    check(ais_profile_create(0, 0, 1, &p), "profile");
    char name[32];
    for (int j = 0; j < 64; j++) {
        snprintf(name, sizeof name, "pixels[%d]", j);
        check(ais_profile_add_feature(p, name, AIS_FEATURE_NUMERIC, NULL), "profile");
    }
    check(ais_profile_add_feature(p, "digit", AIS_FEATURE_CATEGORICAL, NULL), "profile");
    const int64_t shape[2] = {1, 64};
    ais_tensor *x;
    check(ais_tensor_create(AIS_DTYPE_F32, shape, 2, &x), "input");
    float *px = ais_tensor_data(x);
    ais_tensor *out[2] = {NULL, NULL};
    for (int r = 0; r < 500; r++) {
        for (int j = 0; j < 64; j++) {
            px[j] = (float)((r * 31 + j * 7) % 17);
            double v = px[j];
            check(ais_profile_observe_numbers(p, (size_t)j, &v, 1), "profile");
        }
        check(ais_session_run(s, &in_name, (const ais_tensor *const *)&x, 1, NULL, out, 2), "run");
        snprintf(name, sizeof name, "%lld", (long long)*(const int64_t *)ais_tensor_data(out[1]));
        const char *label = name;
        check(ais_profile_observe_strings(p, 64, &label, 1), "profile");
    }
    char path[64];
    snprintf(path, sizeof path, "/tmp/bench_monitor_%d.ais", (int)getpid());
    check(ais_model_save_with_profile(m, p, path, NULL), path);
    ais_model *c;
    check(ais_model_load(path, NULL, &c), path);
    unlink(path);
    ais_tensor_destroy(out[0]);
    ais_tensor_destroy(out[1]);
    ais_tensor_destroy(x);
    ais_profile_destroy(p);
    return c;
}

int main(int argc, char **argv) {
    const char *path = "models/digits_mlp.onnx", *json = NULL;
    int passes = 10, runs = 2000;
    bool window = false;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--passes") && i + 1 < argc)
            passes = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--runs") && i + 1 < argc)
            runs = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--window"))
            window = true;
        else if (!strcmp(argv[i], "--json") && i + 1 < argc)
            json = argv[++i];
        else
            path = argv[i];
    }
    if (passes < 1 || runs < 50) {
        fprintf(stderr, "bench_monitor: --passes >= 1, --runs >= 50\n");
        return 2;
    }
    ais_model *m;
    check(ais_model_load(path, NULL, &m), path);
    ais_monitor *mon;
    check(ais_monitor_create(&mon), "monitor");
    ais_options *off, *on;
    check(ais_options_create(&off), "options");
    check(ais_options_create(&on), "options");
    check(ais_options_set_int(off, AIS_OPT_THREADS, 1), "threads");
    check(ais_options_set_int(on, AIS_OPT_THREADS, 1), "threads");
    check(ais_options_set_int(off, AIS_OPT_METRICS, 0), "metrics");
    check(ais_options_set_monitor(on, mon), "monitor");
    ais_session *s[3] = {NULL, NULL, NULL};
    check(ais_session_create(m, off, &s[0]), "session");
    check(ais_session_create(m, on, &s[1]), "session");
    int n_cfg = 2;
    ais_model *mp = NULL;
    if (window) { /* the profiled copy; a window of the default size */
        mp = profiled_copy(m, s[0], "pixels");
        check(ais_session_create(mp, on, &s[2]), "session");
        n_cfg = 3;
    }
    const int64_t shape[2] = {1, 64};
    ais_tensor *x;
    check(ais_tensor_create(AIS_DTYPE_F32, shape, 2, &x), "input");
    float *px = ais_tensor_data(x);
    for (int i = 0; i < 64; i++)
        px[i] = (float)(i % 17) / 16.0f;
    ais_tensor *out[2] = {NULL, NULL};
    const char *in_name = "pixels";
    for (int k = 0; k < n_cfg; k++) /* outputs are allocated once, then written in place */
        for (int i = 0; i < 200; i++)
            check(ais_session_run(s[k], &in_name, (const ais_tensor *const *)&x, 1, NULL, out, 2),
                  "warm-up");
    double *c[3], *w[3];
    for (int k = 0; k < n_cfg; k++) {
        c[k] = malloc(sizeof(double) * (size_t)passes);
        w[k] = malloc(sizeof(double) * (size_t)passes);
    }
    for (int p = 0; p < passes; p++)
        for (int k = 0; k < n_cfg; k++) {       /* off, on, (window,) off, on, ... */
            int kk = p % 2 ? n_cfg - 1 - k : k; /* and the order reverses every other pass */
            pass(s[kk], x, out, runs, &c[kk][p], &w[kk][p]);
        }
    double cm[3], wm[3];
    for (int k = 0; k < n_cfg; k++) {
        cm[k] = median(c[k], (size_t)passes);
        wm[k] = median(w[k], (size_t)passes);
    }
    printf("digits MLP, batch 1, 1 thread, %d passes x %d runs, median per run\n", passes, runs);
    printf("%-12s %12s %12s\n", "metrics", "cpu us", "wall us");
    printf("%-12s %12.3f %12.3f\n", "off", cm[0] * 1e6, wm[0] * 1e6);
    printf("%-12s %12.3f %12.3f\n", "on", cm[1] * 1e6, wm[1] * 1e6);
    if (window) printf("%-12s %12.3f %12.3f\n", "on + window", cm[2] * 1e6, wm[2] * 1e6);
    printf("%-12s %12.4f %12.4f\n", "ratio on/off", cm[1] / cm[0], wm[1] / wm[0]);
    if (window) printf("%-12s %12.4f %12.4f\n", "window/on", cm[2] / cm[1], wm[2] / wm[1]);
    uint64_t n = 0;
    check(ais_monitor_metric(mon, NULL, AIS_METRIC_RUNS, &n), "metric");
    printf("(the monitor counted %llu runs)\n", (unsigned long long)n);
    if (json) {
        FILE *f = fopen(json, "w");
        if (!f) {
            perror(json);
            return 1;
        }
        fprintf(f,
                "{\"model\": \"%s\", \"passes\": %d, \"runs\": %d, \"cpu_off_s\": %.9g, "
                "\"cpu_on_s\": %.9g, \"wall_off_s\": %.9g, \"wall_on_s\": %.9g, "
                "\"cpu_ratio\": %.6f, \"wall_ratio\": %.6f",
                path, passes, runs, cm[0], cm[1], wm[0], wm[1], cm[1] / cm[0], wm[1] / wm[0]);
        if (window)
            fprintf(f, ", \"cpu_window_s\": %.9g, \"window_ratio\": %.6f", cm[2], cm[2] / cm[1]);
        fprintf(f, "}\n");
        fclose(f);
    }
    for (int k = 0; k < n_cfg; k++) {
        free(c[k]);
        free(w[k]);
        ais_session_destroy(s[k]);
    }
    ais_model_destroy(mp);
    ais_tensor_destroy(out[0]);
    ais_tensor_destroy(out[1]);
    ais_tensor_destroy(x);
    ais_options_destroy(off);
    ais_options_destroy(on);
    ais_monitor_destroy(mon);
    ais_model_destroy(m);
    return 0;
}
