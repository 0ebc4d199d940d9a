/* bench_monitor.c - what run metrics cost (issue 15 item 1): the digits MLP at batch 1, one
 * thread, in two sessions alternating pass by pass: AIS_OPT_METRICS 0 and metrics on, reporting
 * to a monitor. Per pass, the median time per run; the table shows the median of the passes
 * and the ratio on/off (1.02 would be 2 % overhead). CPU time of the process is the figure on a
 * shared machine (bench_clock.h says why); wall time is printed beside it.
 *
 *   bench_monitor [MODEL.onnx] [--passes N] [--runs N] [--json OUT.json]
 */
#include <aistack/aistack.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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

int main(int argc, char **argv) {
    const char *path = "models/digits_mlp.onnx", *json = NULL;
    int passes = 10, runs = 2000;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--passes") && i + 1 < argc)
            passes = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--runs") && i + 1 < argc)
            runs = atoi(argv[++i]);
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
    ais_session *s[2];
    check(ais_session_create(m, off, &s[0]), "session");
    check(ais_session_create(m, on, &s[1]), "session");
    const int64_t shape[2] = {1, 64};
    ais_tensor *x;
    check(ais_tensor_create(AIS_DTYPE_F32, shape, 2, &x), "input");
    float *px = ais_tensor_data(x);
    for (int i = 0; i < 64; i++)
        px[i] = (float)(i % 17) / 16.0f;
    ais_tensor *out[2] = {NULL, NULL};
    const char *in_name = "pixels";
    for (int k = 0; k < 2; k++) /* outputs are allocated once, then written in place */
        for (int i = 0; i < 200; i++)
            check(ais_session_run(s[k], &in_name, (const ais_tensor *const *)&x, 1, NULL, out, 2),
                  "warm-up");
    double *c[2], *w[2];
    for (int k = 0; k < 2; k++) {
        c[k] = malloc(sizeof(double) * (size_t)passes);
        w[k] = malloc(sizeof(double) * (size_t)passes);
    }
    for (int p = 0; p < passes; p++)
        for (int k = 0; k < 2; k++) {   /* off, on, off, on, ... */
            int kk = p % 2 ? 1 - k : k; /* and which goes first alternates too */
            pass(s[kk], x, out, runs, &c[kk][p], &w[kk][p]);
        }
    double cm[2], wm[2];
    for (int k = 0; k < 2; k++) {
        cm[k] = median(c[k], (size_t)passes);
        wm[k] = median(w[k], (size_t)passes);
    }
    printf("digits MLP, batch 1, 1 thread, %d passes x %d runs, median per run\n", passes, runs);
    printf("%-12s %12s %12s\n", "metrics", "cpu us", "wall us");
    printf("%-12s %12.3f %12.3f\n", "off", cm[0] * 1e6, wm[0] * 1e6);
    printf("%-12s %12.3f %12.3f\n", "on", cm[1] * 1e6, wm[1] * 1e6);
    printf("%-12s %12.4f %12.4f\n", "ratio on/off", cm[1] / cm[0], wm[1] / wm[0]);
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
                "\"cpu_ratio\": %.6f, \"wall_ratio\": %.6f}\n",
                path, passes, runs, cm[0], cm[1], wm[0], wm[1], cm[1] / cm[0], wm[1] / wm[0]);
        fclose(f);
    }
    for (int k = 0; k < 2; k++) {
        free(c[k]);
        free(w[k]);
        ais_session_destroy(s[k]);
    }
    ais_tensor_destroy(out[0]);
    ais_tensor_destroy(out[1]);
    ais_tensor_destroy(x);
    ais_options_destroy(off);
    ais_options_destroy(on);
    ais_monitor_destroy(mon);
    ais_model_destroy(m);
    return 0;
}
