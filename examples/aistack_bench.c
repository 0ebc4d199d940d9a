/*
 * aistack_bench.c - `aistack bench`: how fast a model loads and runs here, and with --profile
 * where the time goes (per operator type and per node, from the session's AIS_OPT_PROFILE
 * counts), the equivalent of ONNX Runtime's profiling. Public API only.
 */
#include <aistack/aistack.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "aistack_tool.h"

const char tool_usage_bench[] =
    "usage: aistack bench MODEL [--threads N] [--runs N] [--warmup N] [--profile] [--top N]\n"
    "                     [--input NAME=FILE]...\n"
    "\n"
    "Loads MODEL (timed: loading plus creating a session), runs it --warmup times (default 10),\n"
    "then --runs times (default 100) on the same inputs, and prints the load time, the latency\n"
    "of single runs (mean, p50, p90, p99, min, max) and the throughput.\n"
    "  --threads N        the session's threads (default 0: the process-wide default, the\n"
    "                     physical cores)\n"
    "  --input NAME=FILE  the input NAME from FILE (.npy or ONNX TensorProto .pb); inputs not\n"
    "                     given get random values (floats uniform in [0, 1), integers in\n"
    "                     [0, 10); a dynamic extent becomes 1)\n"
    "  --profile          time every node (AIS_OPT_PROFILE) over the timed runs and print the\n"
    "                     time per operator type and per node, the --top (default 20) first;\n"
    "                     the latencies then include the profiler's clock reads\n";

static double now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* Nearest-rank percentile of sorted v. */
static double pct(const double *v, size_t n, double q) {
    size_t k = (size_t)ceil(q / 100.0 * (double)n);
    return v[k ? k - 1 : 0];
}

typedef struct prof_row {
    const char *name, *op; /* name NULL: a row per operator type */
    ais_backend backend;
    uint64_t calls, ns, nodes;
} prof_row;

static int cmp_row(const void *a, const void *b) {
    const prof_row *x = a, *y = b;
    return (x->ns < y->ns) - (x->ns > y->ns);
}

static int print_profile(const ais_session *s, size_t top) {
    uint64_t runs = 0, total = 0;
    ais_status st = ais_session_profile(s, &runs, &total);
    if (st) return tool_fail_status("profile", st);
    size_t n = ais_session_node_count(s);
    prof_row *nodes = calloc(n ? n : 1, sizeof *nodes), *ops = calloc(n ? n : 1, sizeof *ops);
    if (!nodes || !ops) {
        free(nodes);
        free(ops);
        return fprintf(stderr, "aistack: out of memory\n"), 1;
    }
    size_t n_ops = 0;
    uint64_t sum = 0;
    for (size_t i = 0; i < n; i++) {
        prof_row *r = &nodes[i];
        if ((st = ais_session_profile_node(s, i, &r->name, &r->op, &r->backend, &r->calls,
                                           &r->ns))) {
            free(nodes);
            free(ops);
            return tool_fail_status("profile", st);
        }
        if (!r->name || !*r->name) r->name = "(unnamed)";
        sum += r->ns;
        size_t k = 0;
        while (k < n_ops && strcmp(ops[k].op, r->op))
            k++;
        if (k == n_ops) ops[n_ops++] = (prof_row){NULL, r->op, r->backend, 0, 0, 0};
        ops[k].calls += r->calls;
        ops[k].ns += r->ns;
        ops[k].nodes++;
    }
    qsort(nodes, n, sizeof *nodes, cmp_row);
    qsort(ops, n_ops, sizeof *ops, cmp_row);
    double per = runs ? 1e-6 / (double)runs : 0; /* ns in all -> ms per run */
    printf("\nprofile: %llu runs, %.3f ms per run; the nodes account for %.3f ms per run (%.1f%%),"
           " the rest is the run's own work (binding inputs and outputs)\n",
           (unsigned long long)runs, (double)total * per, (double)sum * per,
           total ? 100.0 * (double)sum / (double)total : 0.0);
    printf("\nby operator type (the %zu first of %zu):\n", n_ops < top ? n_ops : top, n_ops);
    printf("  %-24s %6s %10s %12s %7s\n", "operator", "nodes", "calls/run", "ms/run", "%");
    for (size_t k = 0; k < n_ops && k < top; k++)
        printf("  %-24s %6llu %10.1f %12.4f %6.1f%%\n", ops[k].op, (unsigned long long)ops[k].nodes,
               runs ? (double)ops[k].calls / (double)runs : 0, (double)ops[k].ns * per,
               total ? 100.0 * (double)ops[k].ns / (double)total : 0);
    printf("\nby node (the %zu first of %zu):\n", n < top ? n : top, n);
    printf("  %-40s %-20s %-7s %10s %12s %7s\n", "node", "operator", "backend", "calls/run",
           "ms/run", "%");
    for (size_t i = 0; i < n && i < top; i++)
        printf("  %-40.40s %-20.20s %-7s %10.1f %12.4f %6.1f%%\n", nodes[i].name, nodes[i].op,
               nodes[i].backend == AIS_BACKEND_CPU ? "cpu" : "cuda",
               runs ? (double)nodes[i].calls / (double)runs : 0, (double)nodes[i].ns * per,
               total ? 100.0 * (double)nodes[i].ns / (double)total : 0);
    free(nodes);
    free(ops);
    return 0;
}

static bool parse_count(const char *s, long long lo, long long *out) {
    char *end;
    long long v = strtoll(s, &end, 10);
    if (!*s || *end || v < lo) return false;
    *out = v;
    return true;
}

int tool_cmd_bench(int argc, char **argv) {
    const char *model_path = NULL;
    const char *named[MAX_IO], *files[MAX_IO];
    size_t n_files = 0;
    long long threads = 0, runs = 100, warmup = 10, top = 20;
    bool profile = false;
    static const char *const with_value[] = {"--threads", "--runs", "--warmup", "--input", "--top"};
    for (int i = 0; i < argc; i++) {
        const char *a = argv[i];
        for (size_t k = 0; k < sizeof with_value / sizeof *with_value; k++)
            if (!strcmp(a, with_value[k]) && i + 1 == argc)
                return tool_bad_option("bench", a, true, tool_usage_bench);
        if (!strcmp(a, "--profile")) {
            profile = true;
        } else if (!strcmp(a, "--threads")) {
            if (!parse_count(argv[++i], 0, &threads) || threads > 1024)
                return fprintf(stderr, "aistack: --threads takes a count in [0, 1024]\n"), 2;
        } else if (!strcmp(a, "--runs")) {
            if (!parse_count(argv[++i], 1, &runs) || runs > 100000000)
                return fprintf(stderr, "aistack: --runs takes a count of at least 1\n"), 2;
        } else if (!strcmp(a, "--warmup")) {
            if (!parse_count(argv[++i], 0, &warmup))
                return fprintf(stderr, "aistack: --warmup takes a count\n"), 2;
        } else if (!strcmp(a, "--top")) {
            if (!parse_count(argv[++i], 1, &top))
                return fprintf(stderr, "aistack: --top takes a count of at least 1\n"), 2;
        } else if (!strcmp(a, "--input")) {
            if (n_files == MAX_IO) return fprintf(stderr, "aistack: too many inputs\n"), 2;
            const char *spec = argv[++i];
            const char *eq = strchr(spec, '=');
            if (!eq || eq == spec)
                return fprintf(stderr, "aistack: --input takes NAME=FILE, got '%s'\n", spec), 2;
            named[n_files] = spec;
            files[n_files++] = eq + 1;
        } else if (a[0] == '-' && a[1]) {
            return tool_bad_option("bench", a, false, tool_usage_bench);
        } else if (!model_path) {
            model_path = a;
        } else {
            fprintf(stderr, "aistack: bench takes one model (inputs go with --input NAME=FILE)\n");
            return 2;
        }
    }
    if (!model_path) {
        fputs(tool_usage_bench, stderr);
        return 2;
    }

    int rc = 1;
    ais_options *o = NULL;
    ais_model *m = NULL;
    ais_session *s = NULL;
    ais_tensor *in[MAX_IO] = {0}, *out[MAX_IO] = {0};
    double *lat = NULL;
    ais_status st;
    if ((st = ais_options_create(&o)) || (st = ais_options_set_int(o, AIS_OPT_THREADS, threads)) ||
        (profile && (st = ais_options_set_int(o, AIS_OPT_PROFILE, 1)))) {
        rc = tool_fail_status("options", st);
        goto done;
    }
    double t0 = now_ms();
    if (tool_load_model(model_path, o, &m)) goto done;
    double t1 = now_ms();
    if ((st = ais_session_create(m, o, &s))) {
        rc = tool_fail_status("cannot create a session", st);
        goto done;
    }
    double t2 = now_ms();
    size_t n_in = ais_model_input_count(m), n_out = ais_model_output_count(m);
    if (n_in > MAX_IO || n_out > MAX_IO) {
        fprintf(stderr, "aistack: the model has more than %d inputs or outputs\n", MAX_IO);
        goto done;
    }
    for (size_t f = 0; f < n_files; f++) {
        size_t len = (size_t)(files[f] - 1 - named[f]), idx = 0;
        for (; idx < n_in; idx++) {
            const char *nm = NULL;
            ais_model_input_info(m, idx, &nm, NULL, NULL, NULL);
            if (nm && strlen(nm) == len && !strncmp(nm, named[f], len)) break;
        }
        if (idx == n_in) {
            fprintf(stderr, "aistack: the model has no input '%.*s'\n", (int)len, named[f]);
            rc = 2;
            goto done;
        }
        ais_tensor_destroy(in[idx]);
        in[idx] = NULL;
        if ((st = ais_tensor_load(files[f], &in[idx]))) {
            rc = tool_fail_status(files[f], st);
            goto done;
        }
    }
    for (size_t i = 0; i < n_in; i++)
        if (!in[i] && (st = tool_random_input(m, i, &in[i]))) {
            rc = tool_fail_status("random input", st);
            goto done;
        }
    lat = malloc((size_t)runs * sizeof *lat);
    if (!lat) {
        fprintf(stderr, "aistack: out of memory for %lld latencies\n", runs);
        goto done;
    }
    const ais_tensor *const *ins = (const ais_tensor *const *)in;
    double first = 0;
    for (long long r = 0; r < warmup + runs; r++) {
        if (r == warmup && profile && (st = ais_session_profile_reset(s))) {
            rc = tool_fail_status("profile", st);
            goto done;
        }
        double a = now_ms();
        st = ais_session_run(s, NULL, ins, n_in, NULL, out, n_out);
        double b = now_ms();
        if (st) {
            rc = tool_fail_status("run", st);
            goto done;
        }
        if (r == 0) first = b - a;
        if (r >= warmup) lat[r - warmup] = b - a;
    }
    double busy = 0;
    for (long long r = 0; r < runs; r++)
        busy += lat[r];
    qsort(lat, (size_t)runs, sizeof *lat, cmp_double);
    int64_t batch = n_in && ais_tensor_ndim(in[0]) > 0 ? ais_tensor_shape(in[0])[0] : 1;
    printf("model: %s (%s, %zu nodes, %.1f MiB of weights)\n", model_path,
           ais_model_metadata(m, "format") ? ais_model_metadata(m, "format") : "?",
           ais_model_node_count(m), (double)ais_model_weight_bytes(m) / (1024.0 * 1024.0));
    printf("threads: %lld%s\n", threads ? threads : (long long)ais_get_num_threads(),
           threads ? "" : " (the process-wide default)");
    printf("load: %.3f ms (model %.3f ms, session %.3f ms); first run %.3f ms\n", t2 - t0, t1 - t0,
           t2 - t1, first);
    printf("runs: %lld after %lld warm-up%s%s\n", runs, warmup, warmup == 1 ? "" : "s",
           profile ? " (profiling on)" : "");
    printf("latency ms: mean %.4f  p50 %.4f  p90 %.4f  p99 %.4f  min %.4f  max %.4f\n",
           busy / (double)runs, pct(lat, (size_t)runs, 50), pct(lat, (size_t)runs, 90),
           pct(lat, (size_t)runs, 99), lat[0], lat[runs - 1]);
    printf("throughput: %.1f runs/s, %.1f items/s (batch %lld: the first input's first extent)\n",
           1e3 * (double)runs / busy, 1e3 * (double)runs * (double)batch / busy, (long long)batch);
    rc = profile ? print_profile(s, (size_t)top) : 0;
done:
    free(lat);
    for (size_t i = 0; i < MAX_IO; i++) {
        ais_tensor_destroy(in[i]);
        ais_tensor_destroy(out[i]);
    }
    ais_session_destroy(s);
    ais_model_destroy(m);
    ais_options_destroy(o);
    return rc;
}
