/*
 * tl2cgen_row.c - times a TL2cgen-generated library's own per-row C function, without Python:
 * the batch-1 cost of compiled trees, to set beside libaistack's batch-1 figure from C.
 *
 *   tl2cgen_row LIB.so ROWS.f32 N_ROWS N_FEATURES ITERS [OUT.f32]
 *
 * ROWS.f32 holds N_ROWS x N_FEATURES float32 values (NaN = missing). Each timed call converts the
 * first row to TL2cgen's `union Entry` array (as its Predictor does), zeroes the result and calls
 * the generated `predict(data, pred_margin = 1, result)`. The same row every call, as the other
 * systems' batch-1 timings do (bench_model runs one input again and again): branch predictors
 * and caches learn its paths, which makes it several times faster than a new row each call. Prints
 * "median_us=X min_us=Y". OUT.f32, if given, receives the margins of every row (the harness
 * checks them against the booster). Not built by CMake (it is not a libaistack program): the
 * harness compiles it with the system C compiler. Exit status 0, 1 on failure, 2 on usage.
 */
#define _POSIX_C_SOURCE 200809L
#include <dlfcn.h>
#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* The generated `union Entry` and result type follow the model's threshold and leaf types:
 * float32 for XGBoost, float64 for LightGBM (get_threshold_type / get_leaf_output_type). */
union Entry32 {
    int missing;
    float fvalue;
    int qvalue;
};
union Entry64 {
    int missing;
    double fvalue;
    int qvalue;
};

typedef void (*predict_fn)(void *, int, void *);
typedef int32_t (*num_fn)(void);
typedef void (*num_class_fn)(int32_t *);
typedef const char *(*type_fn)(void);

static double now_us(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e6 + (double)ts.tv_nsec * 1e-3;
}

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static void fill_row(void *e, bool f64, const float *row, long nf) {
    if (f64) {
        union Entry64 *d = e;
        for (long j = 0; j < nf; j++) {
            if (isnan(row[j])) d[j].missing = -1;
            else d[j].fvalue = row[j];
        }
    } else {
        union Entry32 *d = e;
        for (long j = 0; j < nf; j++) {
            if (isnan(row[j])) d[j].missing = -1;
            else d[j].fvalue = row[j];
        }
    }
}

int main(int argc, char **argv) {
    if (argc < 6 || argc > 7) {
        fputs("usage: tl2cgen_row LIB.so ROWS.f32 N_ROWS N_FEATURES ITERS [OUT.f32]\n", stderr);
        return 2;
    }
    long n_rows = atol(argv[3]), nf = atol(argv[4]), iters = atol(argv[5]);
    if (n_rows < 1 || nf < 1 || iters < 1) return fputs("tl2cgen_row: bad sizes\n", stderr), 2;
    void *lib = dlopen(argv[1], RTLD_NOW | RTLD_LOCAL);
    if (!lib) return fprintf(stderr, "tl2cgen_row: %s\n", dlerror()), 1;
    predict_fn predict = (predict_fn)dlsym(lib, "predict");
    num_fn num_target = (num_fn)dlsym(lib, "get_num_target");
    num_fn num_feature = (num_fn)dlsym(lib, "get_num_feature");
    num_class_fn num_class = (num_class_fn)dlsym(lib, "get_num_class");
    type_fn thr_type = (type_fn)dlsym(lib, "get_threshold_type");
    type_fn leaf_type = (type_fn)dlsym(lib, "get_leaf_output_type");
    if (!predict || !num_target || !num_feature || !num_class || !thr_type || !leaf_type)
        return fputs("tl2cgen_row: not a TL2cgen library\n", stderr), 1;
    if (num_feature() > nf) return fputs("tl2cgen_row: the model wants more features\n", stderr), 1;
    int32_t nt = num_target(), classes[64] = {0};
    if (nt < 1 || nt > 64) return fputs("tl2cgen_row: unexpected target count\n", stderr), 1;
    num_class(classes);
    long width = 0;
    for (int32_t t = 0; t < nt; t++) width += classes[t];
    bool e64 = !strcmp(thr_type(), "float64"), r64 = !strcmp(leaf_type(), "float64");
    float *rows = malloc((size_t)(n_rows * nf) * sizeof *rows);
    float *out = calloc((size_t)(n_rows * width), sizeof *out);
    void *e = malloc((size_t)nf * sizeof(union Entry64));
    double *times = malloc((size_t)iters * sizeof *times);
    FILE *f = fopen(argv[2], "rb");
    int rc = 1;
    if (!rows || !out || !e || !times || !f) {
        fputs("tl2cgen_row: cannot allocate or open the rows\n", stderr);
        goto done;
    }
    if (fread(rows, sizeof *rows, (size_t)(n_rows * nf), f) != (size_t)(n_rows * nf)) {
        fputs("tl2cgen_row: short rows file\n", stderr);
        goto done;
    }
    double res[4096]; /* float or double results, per the leaf type */
    float *res32 = (float *)res;
    if (width > 4096) goto done;
    for (long r = 0; r < n_rows; r++) {
        fill_row(e, e64, rows + r * nf, nf);
        memset(res, 0, sizeof res);
        predict(e, 1, res);
        for (long j = 0; j < width; j++) out[r * width + j] = r64 ? (float)res[j] : res32[j];
    }
    for (long k = 0; k < iters; k++) {
        const float *row = rows;
        double t0 = now_us();
        fill_row(e, e64, row, nf);
        if (r64) for (long j = 0; j < width; j++) res[j] = 0;
        else for (long j = 0; j < width; j++) res32[j] = 0;
        predict(e, 1, res);
        times[k] = now_us() - t0;
    }
    qsort(times, (size_t)iters, sizeof *times, cmp_double);
    printf("median_us=%.4f min_us=%.4f\n", times[iters / 2], times[0]);
    if (argc == 7) {
        FILE *o = fopen(argv[6], "wb");
        if (!o || fwrite(out, sizeof *out, (size_t)(n_rows * width), o) != (size_t)(n_rows * width)) {
            fputs("tl2cgen_row: cannot write the outputs\n", stderr);
            if (o) fclose(o);
            goto done;
        }
        fclose(o);
    }
    rc = 0;
done:
    if (f) fclose(f);
    free(rows);
    free(out);
    free(e);
    free(times);
    return rc;
}
