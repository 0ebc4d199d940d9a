/*
 * bench_model.c - times ais_session_run on a model file with random inputs.
 *
 *   bench_model MODEL [--backend cpu|cuda] [--threads N] [--iters N] [--warmup N]
 *               [--dim NAME=VALUE]... [--json FILE] [--compare-cpu] [--tol X] [--placement]
 *               [--verify 0|1]
 *
 * Inputs get the declared shapes (dynamic extents: the --dim value of their symbolic name, else
 * 1) and random values (floats in [-1, 1), integers in [0, 10), booleans). Reports the load time,
 * the first run (planning included), median/p90/p99 of `iters` runs after `warmup` runs, and the
 * peak RSS. --compare-cpu also runs a CPU session on the same inputs and reports, over all
 * outputs, the largest absolute difference and the largest one normalized by the output's
 * largest magnitude; a normalized difference above --tol (default 1e-3; 1e-2 for f16/bf16
 * outputs) makes the exit status 3, so a fast wrong answer fails. --placement prints how many
 * nodes of each operator ran on each backend.
 *
 * Exit status: 0 fine, 1 failure (message on stderr), 2 usage, 3 outputs differ, 4 no device
 * (AIS_E_NO_DEVICE: the backend asked for is not there).
 */
#include <aistack/aistack.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#include "aistack_tool.h" /* the tool's helpers: element types, Cast to f64 */

#define MAX_DIMS_OPT 32

static const char usage[] =
    "usage: bench_model MODEL [--backend cpu|cuda] [--threads N] [--iters N] [--warmup N]\n"
    "                   [--dim NAME=VALUE]... [--json FILE] [--compare-cpu] [--tol X]\n"
    "                   [--placement] [--verify 0|1]\n";

static double now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec * 1e-6;
}

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

/* Nearest-rank percentile of sorted v. */
static double percentile(const double *v, size_t n, double q) {
    if (n == 0) return 0;
    size_t r = (size_t)ceil(q * (double)n);
    return v[r == 0 ? 0 : r - 1];
}

typedef struct dim_opt {
    char name[64];
    int64_t value;
} dim_opt;

static uint64_t rng_state = 0x9e3779b97f4a7c15ull;
static uint64_t rng_next(void) {
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return rng_state;
}

static ais_status make_input(const ais_model *m, size_t i, const dim_opt *dims_opt, size_t n_dims,
                             ais_tensor **out) {
    ais_dtype dt;
    size_t nd;
    const int64_t *dims;
    ais_status st = ais_model_input_info(m, i, NULL, &dt, &nd, &dims);
    if (st) return st;
    int64_t shape[AIS_MAX_DIMS];
    if (nd > AIS_MAX_DIMS) nd = AIS_MAX_DIMS;
    for (size_t k = 0; k < nd; k++) {
        shape[k] = dims[k];
        if (dims[k] >= 0) continue;
        shape[k] = 1;
        const char *nm = ais_model_input_dim_name(m, i, k);
        for (size_t d = 0; nm && d < n_dims; d++)
            if (!strcmp(nm, dims_opt[d].name)) shape[k] = dims_opt[d].value;
    }
    if (dt == AIS_DTYPE_UNDEFINED) dt = AIS_DTYPE_F32;
    /* drawn as doubles, then cast to the input's type (public API only) */
    ais_tensor *d = NULL;
    if ((st = ais_tensor_create(AIS_DTYPE_F64, shape, nd, &d))) return st;
    double *dv = ais_tensor_data(d);
    for (size_t k = 0; k < ais_tensor_size(d); k++) {
        double u = (double)(rng_next() >> 11) * 0x1.0p-53;
        dv[k] = tool_is_float_dtype(dt) ? 2 * u - 1
                : dt == AIS_DTYPE_BOOL ? (double)(u < 0.5)
                                       : floor(u * 10);
    }
    if (dt == AIS_DTYPE_F64) {
        *out = d;
        return AIS_OK;
    }
    st = tool_cast_to(d, dt, out);
    ais_tensor_destroy(d);
    return st;
}

/* Largest |a - b| and the largest normalized by max |b| per output. */
static void compare(const ais_tensor *a, const ais_tensor *b, double *max_abs, double *max_norm,
                    bool *shape_ok) {
    *max_abs = 0;
    *max_norm = 0;
    *shape_ok = ais_tensor_dtype(a) == ais_tensor_dtype(b) &&
                ais_tensor_ndim(a) == ais_tensor_ndim(b) &&
                !memcmp(ais_tensor_shape(a), ais_tensor_shape(b),
                        ais_tensor_ndim(a) * sizeof(int64_t));
    if (!*shape_ok) {
        *max_abs = *max_norm = INFINITY;
        return;
    }
    size_t n = ais_tensor_size(a);
    ais_tensor *ta = NULL, *tb = NULL;
    const double *av = tool_as_f64(a, &ta), *bv = tool_as_f64(b, &tb);
    if (!av || !bv) { /* no numeric reading (strings): equal bytes or not */
        bool same = ais_tensor_dtype(a) != AIS_DTYPE_STRING &&
                    !memcmp(ais_tensor_data(a), ais_tensor_data(b), ais_tensor_nbytes(a));
        *max_abs = *max_norm = same ? 0 : INFINITY;
        ais_tensor_destroy(ta);
        ais_tensor_destroy(tb);
        return;
    }
    double ref_max = 0, d_max = 0;
    for (size_t i = 0; i < n; i++) {
        double x = av[i];
        double y = bv[i];
        if (isnan(x) && isnan(y)) continue;
        double d = isnan(x) || isnan(y) ? INFINITY : fabs(x - y);
        if (isinf(x) && isinf(y) && x == y) d = 0;
        if (d > d_max || isnan(d)) d_max = d;
        if (isfinite(y) && fabs(y) > ref_max) ref_max = fabs(y);
    }
    *max_abs = d_max;
    *max_norm = d_max == 0 ? 0 : d_max / (ref_max > 1e-30 ? ref_max : 1e-30);
    ais_tensor_destroy(ta);
    ais_tensor_destroy(tb);
}

/* The whole file in memory (malloc'd), or NULL. */
static void *read_file(const char *path, size_t *size) {
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    char *buf = NULL;
    long n = -1;
    if (fseek(f, 0, SEEK_END) == 0 && (n = ftell(f)) >= 0 && fseek(f, 0, SEEK_SET) == 0) {
        buf = malloc(n ? (size_t)n : 1);
        if (buf && fread(buf, 1, (size_t)n, f) != (size_t)n) {
            free(buf);
            buf = NULL;
        }
    }
    fclose(f);
    *size = (size_t)n;
    return buf;
}

static void fail_status(const char *what, ais_status st) {
    fprintf(stderr, "bench_model: %s: %s: %s\n", what, ais_status_name(st), ais_last_error());
}

typedef struct op_count {
    const char *op;
    size_t cpu, cuda;
} op_count;

/* Node counts per operator and backend of the session's last plan. */
static void print_placement(const ais_session *s, size_t *n_cpu, size_t *n_cuda, bool print) {
    size_t n = ais_session_node_count(s);
    op_count counts[256];
    size_t n_ops = 0;
    *n_cpu = *n_cuda = 0;
    for (size_t i = 0; i < n; i++) {
        const char *name, *op;
        ais_backend b;
        if (ais_session_node_info(s, i, &name, &op, &b)) continue;
        size_t k = 0;
        while (k < n_ops && strcmp(counts[k].op, op)) k++;
        if (k == n_ops && n_ops < 256) counts[n_ops++] = (op_count){op, 0, 0};
        bool cuda = b == AIS_BACKEND_CUDA;
        if (cuda) ++*n_cuda;
        else ++*n_cpu;
        if (k < n_ops) {
            if (cuda) counts[k].cuda++;
            else counts[k].cpu++;
        }
    }
    if (!print) return;
    printf("placement: %zu nodes, cuda %zu, cpu %zu\n", n, *n_cuda, *n_cpu);
    for (size_t k = 0; k < n_ops; k++)
        printf("  %-24s cuda %4zu  cpu %4zu%s\n", counts[k].op, counts[k].cuda, counts[k].cpu,
               counts[k].cpu && *n_cuda ? "  <- CPU fallback" : "");
}

/* A field of /proc/self/status in MiB (VmRSS, VmHWM): unlike getrusage's ru_maxrss, VmHWM
 * starts afresh at exec, so a parent's size (a Python harness that forked us) does not leak
 * into the figure. -1 where /proc is missing. */
static double proc_status_mb(const char *field) {
    FILE *f = fopen("/proc/self/status", "r");
    if (!f) return -1;
    char line[256];
    double v = -1;
    size_t n = strlen(field);
    while (fgets(line, sizeof line, f))
        if (strncmp(line, field, n) == 0 && line[n] == ':') {
            v = strtod(line + n + 1, NULL) / 1024.0;
            break;
        }
    fclose(f);
    return v;
}

int main(int argc, char **argv) {
    const char *model_path = NULL, *json_path = NULL;
    int64_t threads = 1, backend = AIS_BACKEND_CPU, verify = 1;
    long iters = 50, warmup = 5;
    bool compare_cpu = false, show_placement = false;
    double tol = -1;
    dim_opt dims_opt[MAX_DIMS_OPT];
    size_t n_dims = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        char *end = NULL;
        if (!strcmp(a, "--backend") && i + 1 < argc) {
            const char *b = argv[++i];
            if (!strcmp(b, "cpu")) backend = AIS_BACKEND_CPU;
            else if (!strcmp(b, "cuda")) backend = AIS_BACKEND_CUDA;
            else return fprintf(stderr, "bench_model: --backend must be cpu or cuda\n"), 2;
        } else if (!strcmp(a, "--threads") && i + 1 < argc) {
            threads = strtoll(argv[++i], &end, 10);
            if (*end || threads < 0) return fprintf(stderr, "bench_model: bad --threads\n"), 2;
        } else if (!strcmp(a, "--iters") && i + 1 < argc) {
            iters = strtol(argv[++i], &end, 10);
            if (*end || iters < 1 || iters > 10000000)
                return fprintf(stderr, "bench_model: bad --iters\n"), 2;
        } else if (!strcmp(a, "--warmup") && i + 1 < argc) {
            warmup = strtol(argv[++i], &end, 10);
            if (*end || warmup < 0) return fprintf(stderr, "bench_model: bad --warmup\n"), 2;
        } else if (!strcmp(a, "--verify") && i + 1 < argc) {
            /* AIS_OPT_VERIFY_CHECKSUMS: 0 skips the .ais tensor checksums */
            verify = strtoll(argv[++i], &end, 10);
            if (*end || (verify != 0 && verify != 1))
                return fprintf(stderr, "bench_model: --verify must be 0 or 1\n"), 2;
        } else if (!strcmp(a, "--tol") && i + 1 < argc) {
            tol = strtod(argv[++i], &end);
            if (*end || !(tol >= 0)) return fprintf(stderr, "bench_model: bad --tol\n"), 2;
        } else if (!strcmp(a, "--dim") && i + 1 < argc) {
            const char *spec = argv[++i], *eq = strchr(spec, '=');
            size_t len = eq ? (size_t)(eq - spec) : 0;
            if (!eq || len == 0 || len >= sizeof dims_opt[0].name || n_dims == MAX_DIMS_OPT)
                return fprintf(stderr, "bench_model: --dim wants NAME=VALUE\n"), 2;
            memcpy(dims_opt[n_dims].name, spec, len);
            dims_opt[n_dims].name[len] = 0;
            dims_opt[n_dims].value = strtoll(eq + 1, &end, 10);
            if (*end || dims_opt[n_dims].value < 0)
                return fprintf(stderr, "bench_model: bad --dim value in %s\n", spec), 2;
            n_dims++;
        } else if (!strcmp(a, "--json") && i + 1 < argc) {
            json_path = argv[++i];
        } else if (!strcmp(a, "--compare-cpu")) {
            compare_cpu = true;
        } else if (!strcmp(a, "--placement")) {
            show_placement = true;
        } else if (a[0] == '-' || model_path) {
            fputs(usage, stderr);
            return 2;
        } else {
            model_path = a;
        }
    }
    if (!model_path) {
        fputs(usage, stderr);
        return 2;
    }

    int rc = 1;
    ais_options *o = NULL, *oc = NULL;
    ais_model *m = NULL;
    ais_session *s = NULL, *cs = NULL;
    ais_tensor *in[MAX_IO] = {NULL}, *out[MAX_IO] = {NULL}, *cout[MAX_IO] = {NULL};
    double *times = NULL;
    void *file_data = NULL;
    size_t n_in = 0, n_out = 0;
    ais_status st = ais_options_create(&o);
    if (!st) st = ais_options_set_int(o, AIS_OPT_THREADS, threads);
    if (!st) st = ais_options_set_int(o, AIS_OPT_BACKEND, backend);
    if (!st) st = ais_options_set_int(o, AIS_OPT_VERIFY_CHECKSUMS, verify);
    if (st) {
        fail_status("options", st);
        goto done;
    }
    double t0 = now_ms();
    double rss_before_load = proc_status_mb("VmRSS");
    st = ais_model_load(model_path, o, &m);
    if (st == AIS_E_UNSUPPORTED) {
        /* A build whose file layer cannot open it yet: the in-memory loader may (ONNX). */
        fprintf(stderr, "bench_model: note: %s; loading it from memory instead\n", ais_last_error());
        size_t size = 0;
        if ((file_data = read_file(model_path, &size)))
            st = ais_model_load_memory(file_data, size, o, &m);
    }
    if (st) {
        fail_status(model_path, st);
        goto done;
    }
    double load_ms = now_ms() - t0;
    /* What loading itself took: the high-water mark right after it, less what was resident. */
    double load_peak_mb = proc_status_mb("VmHWM") - rss_before_load;
    n_in = ais_model_input_count(m);
    n_out = ais_model_output_count(m);
    if (n_in > MAX_IO || n_out > MAX_IO) {
        fprintf(stderr, "bench_model: more than %d inputs or outputs\n", MAX_IO);
        goto done;
    }
    for (size_t i = 0; i < n_in; i++) {
        if ((st = make_input(m, i, dims_opt, n_dims, &in[i]))) {
            fail_status("input", st);
            goto done;
        }
    }
    t0 = now_ms();
    if ((st = ais_session_create(m, o, &s))) {
        fail_status("session", st);
        if (st == AIS_E_NO_DEVICE) rc = 4;
        goto done;
    }
    double create_ms = now_ms() - t0;
    const ais_tensor *const *cin = (const ais_tensor *const *)in;
    t0 = now_ms();
    if ((st = ais_session_run(s, NULL, cin, n_in, NULL, out, n_out))) {
        fail_status("run", st);
        goto done;
    }
    double first_ms = now_ms() - t0;
    for (long w = 0; w < warmup; w++) {
        if ((st = ais_session_run(s, NULL, cin, n_in, NULL, out, n_out))) {
            fail_status("run", st);
            goto done;
        }
    }
    times = malloc((size_t)iters * sizeof *times);
    if (!times) {
        fprintf(stderr, "bench_model: out of memory\n");
        goto done;
    }
    for (long k = 0; k < iters; k++) {
        t0 = now_ms();
        st = ais_session_run(s, NULL, cin, n_in, NULL, out, n_out);
        times[k] = now_ms() - t0;
        if (st) {
            fail_status("run", st);
            goto done;
        }
    }
    qsort(times, (size_t)iters, sizeof *times, cmp_double);
    double med = percentile(times, (size_t)iters, 0.5), p90 = percentile(times, (size_t)iters, 0.9),
           p99 = percentile(times, (size_t)iters, 0.99);
    size_t n_cpu = 0, n_cuda = 0;
    print_placement(s, &n_cpu, &n_cuda, show_placement);

    double max_abs = 0, max_norm = 0;
    bool ok = true;
    if (compare_cpu) {
        if ((st = ais_options_create(&oc)) || (st = ais_options_set_int(oc, AIS_OPT_THREADS, threads)) ||
            (st = ais_session_create(m, oc, &cs)) ||
            (st = ais_session_run(cs, NULL, cin, n_in, NULL, cout, n_out))) {
            fail_status("CPU session", st);
            goto done;
        }
        for (size_t j = 0; j < n_out; j++) {
            double a, nrm;
            bool shape_ok;
            compare(out[j], cout[j], &a, &nrm, &shape_ok);
            ais_dtype dt = ais_tensor_dtype(cout[j]);
            double bound = tol >= 0 ? tol
                           : dt == AIS_DTYPE_F16 || dt == AIS_DTYPE_BF16 ? 1e-2 : 1e-3;
            const char *name = "?";
            ais_model_output_info(m, j, &name, NULL, NULL, NULL);
            if (!shape_ok || !(nrm <= bound)) {
                ok = false;
                fprintf(stderr, "bench_model: output '%s' differs from the CPU: %s, max abs %.3g, "
                        "normalized %.3g > %.3g\n", name, shape_ok ? "same shape" : "shape or dtype differs",
                        a, nrm, bound);
            }
            if (!(a <= max_abs)) max_abs = a;
            if (!(nrm <= max_norm)) max_norm = nrm;
        }
    }
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    double rss_mb = proc_status_mb("VmHWM");
    if (rss_mb < 0) rss_mb = (double)ru.ru_maxrss / 1024.0; /* Linux: KiB */
    const char *bname = backend == AIS_BACKEND_CUDA ? "cuda" : "cpu";
    printf("%s backend=%s threads=%lld load_ms=%.2f create_ms=%.2f first_ms=%.3f median_ms=%.4f "
           "p90_ms=%.4f p99_ms=%.4f iters=%ld peak_rss_mb=%.1f load_peak_mb=%.1f nodes_cuda=%zu nodes_cpu=%zu",
           model_path, bname, (long long)threads, load_ms, create_ms, first_ms, med, p90, p99,
           iters, rss_mb, load_peak_mb, n_cuda, n_cpu);
    if (compare_cpu)
        printf(" max_abs_diff=%.3g max_norm_diff=%.3g %s", max_abs, max_norm, ok ? "OK" : "MISMATCH");
    printf("\n");
    if (json_path) {
        FILE *f = fopen(json_path, "w");
        if (!f) {
            fprintf(stderr, "bench_model: cannot write %s\n", json_path);
            goto done;
        }
        fprintf(f, "{\"model\": \"");
        for (const char *c = model_path; *c; c++)
            fprintf(f, *c == '"' || *c == '\\' ? "\\%c" : "%c", *c);
        fprintf(f, "\", \"backend\": \"%s\", \"threads\": %lld, \"iters\": %ld, \"warmup\": %ld, "
                "\"load_ms\": %.4f, \"create_ms\": %.4f, \"first_ms\": %.4f, \"median_ms\": %.5f, "
                "\"p90_ms\": %.5f, \"p99_ms\": %.5f, \"min_ms\": %.5f, \"peak_rss_mb\": %.2f, "
                "\"nodes_cuda\": %zu, \"nodes_cpu\": %zu",
                bname, (long long)threads, iters, warmup, load_ms, create_ms, first_ms, med, p90,
                p99, times[0], rss_mb, n_cuda, n_cpu);
        if (compare_cpu)
            fprintf(f, ", \"max_abs_diff\": %.6g, \"max_norm_diff\": %.6g, \"match\": %s",
                    isfinite(max_abs) ? max_abs : 1e308, isfinite(max_norm) ? max_norm : 1e308,
                    ok ? "true" : "false");
        fprintf(f, "}\n");
        if (fclose(f) != 0) {
            fprintf(stderr, "bench_model: cannot write %s\n", json_path);
            goto done;
        }
    }
    rc = ok ? 0 : 3;
done:
    free(times);
    for (size_t i = 0; i < MAX_IO; i++) {
        ais_tensor_destroy(in[i]);
        ais_tensor_destroy(out[i]);
        ais_tensor_destroy(cout[i]);
    }
    ais_session_destroy(s);
    ais_session_destroy(cs);
    ais_model_destroy(m);
    ais_options_destroy(o);
    ais_options_destroy(oc);
    free(file_data);
    return rc;
}
