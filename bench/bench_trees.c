/*
 * bench_trees.c - times tree-ensemble prediction (whole ais_session_run) on a model file: an
 * XGBoost JSON, LightGBM text, ONNX or .ais model whose first input is a float matrix [N, C].
 *
 *   bench_trees MODEL [--threads N] [--batch B[,B...]] [--input X.npy] [--cols C]
 *               [--nan-frac F] [--seconds S] [--json FILE] [--save-output FILE.npy]
 *
 * Rows come from X.npy (float32 [rows, C], cycled to fill a batch) or are random (uniform in
 * [-2, 2), a fraction F of them NaN; C from the model's input shape, else --cols). Per batch size
 * (default 1,100,10000): 3 warm-up runs, then runs until S seconds (default 1) or 100000 runs;
 * the outputs are preallocated so that a run allocates nothing. Prints per batch the median
 * wall time per run, rows/s and us/row, and the median process CPU time per run (with one
 * thread, the figure to trust on a loaded machine); --json writes the same. --save-output writes
 * output 0 of the first batch size (for parity checks against the boosters' own predict).
 *
 * Exit status: 0 fine, 1 failure (message on stderr), 2 usage.
 */
#include <aistack/aistack.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "bench_clock.h"

#define MAX_BATCHES 32
#define MAX_OUT 8

static const char usage[] =
    "usage: bench_trees MODEL [--threads N] [--batch B[,B...]] [--input X.npy] [--cols C]\n"
    "                   [--nan-frac F] [--seconds S] [--json FILE] [--save-output FILE.npy]\n";

static uint64_t rng_state = 0x9e3779b97f4a7c15ull;
static double rng_unit(void) {
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return (double)(rng_state >> 11) * (1.0 / 9007199254740992.0);
}

typedef struct result {
    long batch, runs;
    double median_s, min_s, cpu_median_s;
} result;

static int fail(const char *what) {
    fprintf(stderr, "bench_trees: %s: %s\n", what, ais_last_error());
    return 1;
}

int main(int argc, char **argv) {
    const char *model_path = NULL, *json_path = NULL, *input_path = NULL, *save_path = NULL;
    long threads = 1, cols_opt = 0, batches[MAX_BATCHES] = {1, 100, 10000};
    size_t n_batches = 3;
    double nan_frac = 0.05, seconds = 1.0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "--threads") && i + 1 < argc) {
            threads = strtol(argv[++i], NULL, 10);
        } else if (!strcmp(a, "--batch") && i + 1 < argc) {
            n_batches = 0;
            for (char *p = argv[++i]; *p && n_batches < MAX_BATCHES;) {
                char *end;
                long b = strtol(p, &end, 10);
                if (end == p || b < 1) {
                    fprintf(stderr, "bench_trees: bad --batch list\n%s", usage);
                    return 2;
                }
                batches[n_batches++] = b;
                p = *end == ',' ? end + 1 : end;
            }
        } else if (!strcmp(a, "--input") && i + 1 < argc) {
            input_path = argv[++i];
        } else if (!strcmp(a, "--cols") && i + 1 < argc) {
            cols_opt = strtol(argv[++i], NULL, 10);
        } else if (!strcmp(a, "--nan-frac") && i + 1 < argc) {
            nan_frac = strtod(argv[++i], NULL);
        } else if (!strcmp(a, "--seconds") && i + 1 < argc) {
            seconds = strtod(argv[++i], NULL);
        } else if (!strcmp(a, "--json") && i + 1 < argc) {
            json_path = argv[++i];
        } else if (!strcmp(a, "--save-output") && i + 1 < argc) {
            save_path = argv[++i];
        } else if (a[0] != '-' && !model_path) {
            model_path = a;
        } else {
            fprintf(stderr, "%s", usage);
            return 2;
        }
    }
    if (!model_path || n_batches == 0 || threads < 0) {
        fprintf(stderr, "%s", usage);
        return 2;
    }

    int rc = 1;
    ais_options *opt = NULL;
    ais_model *m = NULL;
    ais_session *s = NULL;
    ais_tensor *src = NULL, *x = NULL, *out[MAX_OUT] = {NULL};
    double *times = NULL;
    result res[MAX_BATCHES];
    if (ais_options_create(&opt) || ais_options_set_int(opt, AIS_OPT_THREADS, threads)) {
        rc = fail("options");
        goto done;
    }
    double t0 = now_s();
    if (ais_model_load(model_path, opt, &m)) {
        rc = fail(model_path);
        goto done;
    }
    double load_s = now_s() - t0;
    if (ais_session_create(m, opt, &s)) {
        rc = fail("session");
        goto done;
    }
    size_t n_out = ais_model_output_count(m);
    if (n_out > MAX_OUT) n_out = MAX_OUT;
    size_t in_nd = 0;
    const int64_t *in_dims = NULL;
    ais_dtype in_dt;
    if (ais_model_input_info(m, 0, NULL, &in_dt, &in_nd, &in_dims)) {
        rc = fail("input 0");
        goto done;
    }
    long cols = cols_opt;
    size_t src_rows = 0;
    if (input_path) {
        if (ais_tensor_load(input_path, &src)) {
            rc = fail(input_path);
            goto done;
        }
        if (ais_tensor_dtype(src) != AIS_DTYPE_F32 || ais_tensor_ndim(src) != 2 ||
            ais_tensor_shape(src)[0] < 1) {
            fprintf(stderr, "bench_trees: %s must be float32 [rows >= 1, cols]\n", input_path);
            goto done;
        }
        src_rows = (size_t)ais_tensor_shape(src)[0];
        cols = (long)ais_tensor_shape(src)[1];
    } else if (cols < 1) {
        cols = in_nd == 2 && in_dims[1] > 0 ? (long)in_dims[1] : 0;
        if (cols < 1) {
            fprintf(stderr, "bench_trees: the model does not say how many columns: use --cols\n");
            goto done;
        }
    }
    long max_batch = 0;
    for (size_t b = 0; b < n_batches; b++)
        if (batches[b] > max_batch) max_batch = batches[b];
    /* One buffer of max_batch rows; smaller batches wrap its first rows. */
    if (ais_tensor_create(AIS_DTYPE_F32, (const int64_t[]){max_batch, cols}, 2, &x)) {
        rc = fail("input tensor");
        goto done;
    }
    float *xd = ais_tensor_data(x);
    for (long r = 0; r < max_batch; r++)
        for (long c = 0; c < cols; c++) {
            float v;
            if (src)
                v = ((const float *)ais_tensor_data(
                    src))[((size_t)r % src_rows) * (size_t)cols + (size_t)c];
            else
                v = rng_unit() < nan_frac ? NAN : (float)(rng_unit() * 4 - 2);
            xd[(size_t)r * (size_t)cols + (size_t)c] = v;
        }
    times = malloc(2 * 100000 * sizeof *times);
    if (!times) goto done;
    printf("model %s: load %.1f ms, threads %ld, %ld columns\n", model_path, load_s * 1e3, threads,
           cols);
    printf("%10s %10s %14s %14s %12s %14s\n", "batch", "runs", "median_us", "rows/s", "us/row",
           "cpu_median_us");
    for (size_t b = 0; b < n_batches; b++) {
        long bs = batches[b];
        ais_tensor *xb = NULL;
        if (ais_tensor_wrap(AIS_DTYPE_F32, (const int64_t[]){bs, cols}, 2, xd,
                            (size_t)bs * (size_t)cols * sizeof(float), NULL, NULL, &xb)) {
            rc = fail("input view");
            goto done;
        }
        for (size_t k = 0; k < n_out; k++) {
            ais_tensor_destroy(out[k]);
            out[k] = NULL;
        }
        const ais_tensor *ins[1] = {xb};
        ais_status st = ais_session_run(s, NULL, ins, 1, NULL, out, n_out);
        for (int w = 0; w < 3 && st == AIS_OK; w++)
            st = ais_session_run(s, NULL, ins, 1, NULL, out, n_out);
        if (st) {
            ais_tensor_destroy(xb);
            rc = fail("run");
            goto done;
        }
        if (b == 0 && save_path && ais_tensor_save_npy(out[0], save_path)) {
            ais_tensor_destroy(xb);
            rc = fail(save_path);
            goto done;
        }
        long runs = 0;
        double start = now_s();
        while (runs < 100000 && (runs < 3 || now_s() - start < seconds)) {
            double a = now_s(), ca = cpu_s();
            st = ais_session_run(s, NULL, ins, 1, NULL, out, n_out);
            times[100000 + runs] = cpu_s() - ca;
            times[runs++] = now_s() - a;
            if (st) break;
        }
        ais_tensor_destroy(xb);
        if (st) {
            rc = fail("run");
            goto done;
        }
        qsort(times, (size_t)runs, sizeof *times, cmp_double);
        qsort(times + 100000, (size_t)runs, sizeof *times, cmp_double);
        res[b] = (result){bs, runs, times[runs / 2], times[0], times[100000 + runs / 2]};
        printf("%10ld %10ld %14.2f %14.0f %12.4f %14.2f\n", bs, runs, res[b].median_s * 1e6,
               (double)bs / res[b].median_s, res[b].median_s * 1e6 / (double)bs,
               res[b].cpu_median_s * 1e6);
    }
    if (json_path) {
        FILE *f = fopen(json_path, "w");
        if (!f) {
            fprintf(stderr, "bench_trees: cannot write %s\n", json_path);
            goto done;
        }
        fprintf(f, "{\"model\": \"");
        for (const char *c = model_path; *c; c++)
            fprintf(f, *c == '"' || *c == '\\' ? "\\%c" : "%c", *c);
        fprintf(f, "\", \"threads\": %ld, \"cols\": %ld, \"load_ms\": %.4f, \"results\": [",
                threads, cols, load_s * 1e3);
        for (size_t b = 0; b < n_batches; b++)
            fprintf(f,
                    "%s{\"batch\": %ld, \"runs\": %ld, \"median_us\": %.4f, \"min_us\": %.4f, "
                    "\"rows_per_s\": %.1f, \"us_per_row\": %.6f, \"cpu_median_us\": %.4f}",
                    b ? ", " : "", res[b].batch, res[b].runs, res[b].median_s * 1e6,
                    res[b].min_s * 1e6, (double)res[b].batch / res[b].median_s,
                    res[b].median_s * 1e6 / (double)res[b].batch, res[b].cpu_median_s * 1e6);
        fprintf(f, "]}\n");
        if (fclose(f) != 0) {
            fprintf(stderr, "bench_trees: cannot write %s\n", json_path);
            goto done;
        }
    }
    rc = 0;
done:
    free(times);
    for (size_t k = 0; k < MAX_OUT; k++)
        ais_tensor_destroy(out[k]);
    ais_tensor_destroy(x);
    ais_tensor_destroy(src);
    ais_session_destroy(s);
    ais_model_destroy(m);
    ais_options_destroy(opt);
    return rc;
}
