/*
 * bench_tree_peers.c - libaistack against the boosters' own C predictors and TL2cgen-compiled
 * code, all called from C on the same rows, so that no system pays a Python call.
 *
 *   bench_tree_peers MODEL --input X.npy [--xgboost LIBXGBOOST.so] [--lightgbm LIB_LIGHTGBM.so]
 *                    [--tl2cgen COMPILED.so] [--threads T[,T...]] [--batch B[,B...]]
 *                    [--rounds R] [--chunk-s S] [--deadline-s D] [--label NAME] [--json FILE]
 *                    [--check-only]
 *
 * MODEL is an XGBoost JSON (.json) or LightGBM text (.txt) file; X.npy float32 [rows, cols]
 * (NaN = missing; cycled when a batch is larger; batch b uses rows 0..b-1, so batch 1 repeats
 * one row, as every batch-1 figure in bench/ does). Systems, each at T threads:
 *   aistack        ais_model_load + ais_session_run (AIS_OPT_THREADS T, output "margin" only)
 *   xgboost        XGBoosterPredictFromDense (the C call behind Python's inplace_predict):
 *                  raw margin, missing NaN, Booster param nthread T
 *   lightgbm       LGBM_BoosterPredictForMat, float32 row-major, raw score, "num_threads=T"
 *   lightgbm_1row  batch 1 only: LGBM_BoosterPredictForMatSingleRowFast (the C API's
 *                  low-latency path; FastInit once per thread count, outside the timing)
 *   tl2cgen        the generated library's predict() per row, batched the way TL2cgen 1.0's
 *                  Predictor::PredictBatch does it (see tl2_run)
 * The peers' libraries are dlopen()ed, so nothing here links them. Before timing, every system's
 * margins on all rows of X.npy, at every thread count, are compared with libaistack's at one
 * thread: max |diff| / max(1, |ref|) must be <= 1e-5, else "MISMATCH" is printed and the exit
 * status is 1 (timing still runs). lightgbm_1row is checked row by row on the first 1000 rows.
 *
 * Timing, per (threads, batch) cell: every system warms up (3 calls), then R rounds (default 7)
 * in which each system in turn (A B C A B C ...) runs calls for S seconds (default 0.2, at
 * least 3 calls). Per round the median wall and process-CPU time per call; a figure is the
 * median over rounds. Outputs are preallocated where the API allows (XGBoost returns its own
 * buffer; LightGBM and TL2cgen write into ours; aistack reuses its output tensor), so a timed
 * call allocates only what the library itself allocates. --deadline-s skips the cells that
 * would start after D seconds (they are listed as skipped). Prints a markdown table; "vs peer"
 * is the peer's time / aistack's (above 1: libaistack faster). --json writes every figure.
 *
 * Exit status: 0 fine, 1 failure or mismatch, 2 usage.
 */
#include <aistack/aistack.h>
#include <dlfcn.h>
#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "bench_clock.h"

#define MAX_LIST 16
#define MAX_ROUNDS 101
#define MAX_CALLS 1000000
#define TOL 1e-5

static const char usage[] =
    "usage: bench_tree_peers MODEL --input X.npy [--xgboost LIBXGBOOST.so]\n"
    "                        [--lightgbm LIB_LIGHTGBM.so] [--tl2cgen COMPILED.so]\n"
    "                        [--threads T[,T...]] [--batch B[,B...]] [--rounds R] [--chunk-s S]\n"
    "                        [--deadline-s D] [--label NAME] [--json FILE] [--check-only]\n";

/* dlsym into a function pointer without an object-to-function pointer cast. */
static bool sym(void *lib, const char *name, void *fn, size_t size) {
    void *p = dlsym(lib, name);
    if (!p || size != sizeof p) {
        fprintf(stderr, "bench_tree_peers: no %s: %s\n", name, p ? "size" : dlerror());
        return false;
    }
    memcpy(fn, &p, sizeof p);
    return true;
}
#define SYM(lib, name, fn) sym(lib, name, &(fn), sizeof(fn))

/* ---- XGBoost C API (xgboost/c_api.h of 2.1; bst_ulong is uint64_t) ---- */
typedef struct xgb_api {
    void *lib, *booster;
    int (*create)(void *const *dmats, uint64_t len, void **out);
    int (*load)(void *booster, const char *fname);
    int (*set_param)(void *booster, const char *name, const char *value);
    int (*predict_dense)(void *booster, const char *array_interface, const char *config,
                         void *proxy, const uint64_t **out_shape, uint64_t *out_dim,
                         const float **out_result);
    int (*free_booster)(void *booster);
    const char *(*error)(void);
    void (*version)(int *major, int *minor, int *patch);
    char array[256];
    const float *result;
    const uint64_t *shape;
    uint64_t dim;
} xgb_api;

/* ---- LightGBM C API (LightGBM/c_api.h of 4.5) ---- */
enum { LGB_F32 = 0, LGB_RAW_SCORE = 1 };
typedef struct lgb_api {
    void *lib, *booster, *fast;
    int (*create)(const char *filename, int *out_iterations, void **out);
    int (*num_classes)(void *booster, int *out);
    int (*predict_mat)(void *booster, const void *data, int data_type, int32_t nrow, int32_t ncol,
                       int is_row_major, int predict_type, int start_iteration, int num_iteration,
                       const char *parameter, int64_t *out_len, double *out_result);
    int (*fast_init)(void *booster, const int predict_type, const int start_iteration,
                     const int num_iteration, const int data_type, const int32_t ncol,
                     const char *parameter, void **out_fast);
    int (*fast_run)(void *fast, const void *data, int64_t *out_len, double *out_result);
    int (*fast_free)(void *fast);
    int (*free_booster)(void *booster);
    const char *(*error)(void);
    char param[64];
    double *out;
    long fast_threads;
} lgb_api;

/* ---- TL2cgen 1.0 generated library: predict(union Entry *, int pred_margin, result *) adds
 * each tree's leaf to result[] (threshold and leaf types as the model's: float32 for XGBoost,
 * float64 for LightGBM). */
union entry32 {
    int missing;
    float fvalue;
    int qvalue;
};
union entry64 {
    int missing;
    double fvalue;
    int qvalue;
};
typedef struct tl2_api {
    void *lib;
    void (*predict)(void *data, int pred_margin, void *result);
    long n_feature;
    bool f64; /* float64 thresholds and leaves; else float32 both */
    void *out;
} tl2_api;

enum kind { K_AIS, K_XGB, K_LGB, K_LGB1, K_TL2, K_COUNT };
static const char *const kind_name[K_COUNT] = {"aistack", "xgboost", "lightgbm", "lightgbm_1row",
                                               "tl2cgen"};

typedef struct bench {
    float *x; /* x_rows x cols */
    long x_rows, cols, width, src_rows;
    long rows, threads, thread_index; /* the current cell */
    /* libaistack */
    ais_model *model;
    ais_session *sess[MAX_LIST], *ref_sess, *cur;
    ais_tensor *in, *out;
    const char *out_name;
    xgb_api xgb;
    lgb_api lgb;
    tl2_api tl2;
    bool have[K_COUNT];
    int tl2_failed;
} bench;

static int ais_fail(const char *what) {
    fprintf(stderr, "bench_tree_peers: %s: %s\n", what, ais_last_error());
    return 1;
}

/* ---------------------------------------------------------------------------------------------
 * Loading
 * -------------------------------------------------------------------------------------------*/

static int load_xgb(bench *b, const char *libpath, const char *model) {
    xgb_api *x = &b->xgb;
    /* RTLD_LOCAL: XGBoost brings its own libgomp (a renamed copy), found through its RPATH. */
    if (!(x->lib = dlopen(libpath, RTLD_NOW | RTLD_LOCAL))) {
        fprintf(stderr, "bench_tree_peers: %s\n", dlerror());
        return 1;
    }
    if (!SYM(x->lib, "XGBoosterCreate", x->create) || !SYM(x->lib, "XGBoosterLoadModel", x->load) ||
        !SYM(x->lib, "XGBoosterSetParam", x->set_param) ||
        !SYM(x->lib, "XGBoosterPredictFromDense", x->predict_dense) ||
        !SYM(x->lib, "XGBoosterFree", x->free_booster) ||
        !SYM(x->lib, "XGBGetLastError", x->error) || !SYM(x->lib, "XGBoostVersion", x->version))
        return 1;
    if (x->create(NULL, 0, &x->booster) || x->load(x->booster, model)) {
        fprintf(stderr, "bench_tree_peers: XGBoost cannot load %s: %s\n", model, x->error());
        return 1;
    }
    int ma = 0, mi = 0, pa = 0;
    x->version(&ma, &mi, &pa);
    printf("XGBoost %d.%d.%d from %s\n", ma, mi, pa, libpath);
    return 0;
}

static int load_lgb(bench *b, const char *libpath, const char *model) {
    lgb_api *l = &b->lgb;
    if (!(l->lib = dlopen(libpath, RTLD_NOW | RTLD_LOCAL))) {
        fprintf(stderr, "bench_tree_peers: %s\n", dlerror());
        return 1;
    }
    if (!SYM(l->lib, "LGBM_BoosterCreateFromModelfile", l->create) ||
        !SYM(l->lib, "LGBM_BoosterGetNumClasses", l->num_classes) ||
        !SYM(l->lib, "LGBM_BoosterPredictForMat", l->predict_mat) ||
        !SYM(l->lib, "LGBM_BoosterPredictForMatSingleRowFastInit", l->fast_init) ||
        !SYM(l->lib, "LGBM_BoosterPredictForMatSingleRowFast", l->fast_run) ||
        !SYM(l->lib, "LGBM_FastConfigFree", l->fast_free) ||
        !SYM(l->lib, "LGBM_BoosterFree", l->free_booster) ||
        !SYM(l->lib, "LGBM_GetLastError", l->error))
        return 1;
    int iters = 0, classes = 0;
    if (l->create(model, &iters, &l->booster) || l->num_classes(l->booster, &classes)) {
        fprintf(stderr, "bench_tree_peers: LightGBM cannot load %s: %s\n", model, l->error());
        return 1;
    }
    if (classes != b->width) {
        fprintf(stderr, "bench_tree_peers: LightGBM has %d classes, libaistack %ld outputs\n",
                classes, b->width);
        return 1;
    }
    printf("LightGBM from %s: %d iterations\n", libpath, iters);
    return 0;
}

static int load_tl2(bench *b, const char *libpath) {
    tl2_api *t = &b->tl2;
    if (!(t->lib = dlopen(libpath, RTLD_NOW | RTLD_LOCAL))) {
        fprintf(stderr, "bench_tree_peers: %s\n", dlerror());
        return 1;
    }
    int32_t (*num_target)(void), (*num_feature)(void);
    void (*num_class)(int32_t *);
    const char *(*thr_type)(void), *(*leaf_type)(void);
    if (!SYM(t->lib, "predict", t->predict) || !SYM(t->lib, "get_num_target", num_target) ||
        !SYM(t->lib, "get_num_feature", num_feature) || !SYM(t->lib, "get_num_class", num_class) ||
        !SYM(t->lib, "get_threshold_type", thr_type) ||
        !SYM(t->lib, "get_leaf_output_type", leaf_type))
        return 1;
    int32_t nt = num_target(), classes[64] = {0};
    if (nt < 1 || nt > 64) {
        fprintf(stderr, "bench_tree_peers: %s: %d targets\n", libpath, (int)nt);
        return 1;
    }
    num_class(classes);
    long width = 0;
    for (int32_t k = 0; k < nt; k++)
        width += classes[k];
    bool thr64 = !strcmp(thr_type(), "float64"), leaf64 = !strcmp(leaf_type(), "float64");
    if (thr64 != leaf64 || (!thr64 && strcmp(thr_type(), "float32")) ||
        (!leaf64 && strcmp(leaf_type(), "float32"))) {
        fprintf(stderr, "bench_tree_peers: %s: thresholds %s, leaves %s: not handled\n", libpath,
                thr_type(), leaf_type());
        return 1;
    }
    if (width != b->width || num_feature() < 1) {
        fprintf(stderr, "bench_tree_peers: %s: %ld outputs (libaistack %ld), %d features\n",
                libpath, width, b->width, (int)num_feature());
        return 1;
    }
    t->f64 = thr64;
    t->n_feature = num_feature();
    printf("TL2cgen library %s: %s thresholds and leaves, %ld features\n", libpath,
           t->f64 ? "float64" : "float32", t->n_feature);
    return 0;
}

/* ---------------------------------------------------------------------------------------------
 * One call per system on the current cell (b->rows rows of b->x, b->threads threads)
 * -------------------------------------------------------------------------------------------*/

/* TL2cgen 1.0's Predictor::PredictBatch on a dense matrix (src/predictor/predictor.cc and
 * include/tl2cgen/detail/predictor/predictor_impl.h): nthread = min(T, rows) contiguous row
 * ranges of near-equal size, one per thread, in an OpenMP static parallel-for; each range gets
 * a fresh Entry vector of all-missing, and per row sets the non-NaN values, calls predict() on
 * its slot of the output and sets every entry missing again. Its Python predict() hands over a
 * zeroed output (np.zeros): the memset below. One range runs without a parallel region. */
#define TL2_RANGE(NAME, ENTRY, VAL)                                                                \
    static int NAME(const bench *b, long r0, long r1) {                                            \
        long n = b->cols > b->tl2.n_feature ? b->cols : b->tl2.n_feature;                          \
        ENTRY *inst = malloc((size_t)n * sizeof *inst);                                            \
        if (!inst) return 1;                                                                       \
        for (long j = 0; j < n; j++)                                                               \
            inst[j].missing = -1;                                                                  \
        VAL *out = b->tl2.out;                                                                     \
        for (long r = r0; r < r1; r++) {                                                           \
            const float *row = b->x + (size_t)r * (size_t)b->cols;                                 \
            for (long j = 0; j < b->cols; j++)                                                     \
                if (!isnan(row[j])) inst[j].fvalue = (VAL)row[j];                                  \
            b->tl2.predict(inst, 1, out + (size_t)r * (size_t)b->width);                           \
            for (long j = 0; j < b->cols; j++)                                                     \
                inst[j].missing = -1;                                                              \
        }                                                                                          \
        free(inst);                                                                                \
        return 0;                                                                                  \
    }
TL2_RANGE(tl2_range32, union entry32, float)
TL2_RANGE(tl2_range64, union entry64, double)

static int tl2_run(bench *b) {
    long rows = b->rows, nthread = b->threads < rows ? b->threads : rows;
    memset(b->tl2.out, 0, (size_t)rows * (size_t)b->width * (b->tl2.f64 ? 8 : 4));
    int (*range)(const bench *, long, long) = b->tl2.f64 ? tl2_range64 : tl2_range32;
    if (nthread <= 1) return range(b, 0, rows);
    int failed = 0;
    long portion = rows / nthread, rem = rows % nthread;
#pragma omp parallel for num_threads(nthread) schedule(static) reduction(| : failed)
    for (long t = 0; t < nthread; t++) {
        long r0 = t * portion + (t < rem ? t : rem);
        failed |= range(b, r0, r0 + portion + (t < rem));
    }
    return failed;
}

static int run_once(bench *b, enum kind k) {
    switch (k) {
    case K_AIS: {
        const ais_tensor *ins[1] = {b->in};
        const char *names[1] = {b->out_name};
        return ais_session_run(b->cur, NULL, ins, 1, b->out_name ? names : NULL, &b->out, 1) ? 1
                                                                                             : 0;
    }
    case K_XGB:
        return b->xgb.predict_dense(b->xgb.booster, b->xgb.array,
                                    "{\"type\": 1, \"training\": false, \"iteration_begin\": 0, "
                                    "\"iteration_end\": 0, \"strict_shape\": false, "
                                    "\"cache_id\": 0, \"missing\": NaN}",
                                    NULL, &b->xgb.shape, &b->xgb.dim, &b->xgb.result)
                   ? 1
                   : 0;
    case K_LGB: {
        int64_t len = 0;
        return b->lgb.predict_mat(b->lgb.booster, b->x, LGB_F32, (int32_t)b->rows, (int32_t)b->cols,
                                  1, LGB_RAW_SCORE, 0, -1, b->lgb.param, &len, b->lgb.out)
                   ? 1
                   : 0;
    }
    case K_LGB1: {
        int64_t len = 0;
        return b->lgb.fast_run(b->lgb.fast, b->x, &len, b->lgb.out) ? 1 : 0;
    }
    case K_TL2: return tl2_run(b);
    default: return 1;
    }
}

static const char *last_error(const bench *b, enum kind k) {
    switch (k) {
    case K_AIS: return ais_last_error();
    case K_XGB: return b->xgb.error();
    case K_LGB:
    case K_LGB1: return b->lgb.error();
    default: return "out of memory";
    }
}

/* Points every system at rows 0..rows-1 with threads[ti]. */
static int set_cell(bench *b, long ti, long threads, long rows) {
    b->rows = rows;
    b->threads = threads;
    b->cur = ti < 0 ? b->ref_sess : b->sess[ti];
    ais_tensor_destroy(b->in);
    ais_tensor_destroy(b->out);
    b->in = b->out = NULL;
    if (ais_tensor_wrap(AIS_DTYPE_F32, (const int64_t[]){rows, b->cols}, 2, b->x,
                        (size_t)rows * (size_t)b->cols * sizeof(float), NULL, NULL, &b->in))
        return ais_fail("input view");
    if (b->have[K_XGB]) {
        char nt[32];
        snprintf(nt, sizeof nt, "%ld", threads);
        if (b->xgb.set_param(b->xgb.booster, "nthread", nt)) {
            fprintf(stderr, "bench_tree_peers: XGBoost nthread: %s\n", b->xgb.error());
            return 1;
        }
        /* What numpy's __array_interface__ gives for a C-contiguous float32 matrix. */
        snprintf(b->xgb.array, sizeof b->xgb.array,
                 "{\"data\": [%llu, true], \"strides\": null, \"descr\": [[\"\", \"<f4\"]], "
                 "\"typestr\": \"<f4\", \"shape\": [%ld, %ld], \"version\": 3}",
                 (unsigned long long)(uintptr_t)b->x, rows, b->cols);
    }
    if (b->have[K_LGB]) {
        snprintf(b->lgb.param, sizeof b->lgb.param, "num_threads=%ld", threads);
        if (b->lgb.fast_threads != threads) {
            if (b->lgb.fast) b->lgb.fast_free(b->lgb.fast);
            b->lgb.fast = NULL;
            if (b->lgb.fast_init(b->lgb.booster, LGB_RAW_SCORE, 0, -1, LGB_F32, (int32_t)b->cols,
                                 b->lgb.param, &b->lgb.fast)) {
                fprintf(stderr, "bench_tree_peers: LightGBM FastInit: %s\n", b->lgb.error());
                return 1;
            }
            b->lgb.fast_threads = threads;
        }
    }
    return 0;
}

/* The margins of the last call, rows x width, as doubles. */
static int margins(const bench *b, enum kind k, double *dst) {
    size_t n = (size_t)b->rows * (size_t)b->width;
    switch (k) {
    case K_AIS: {
        if (ais_tensor_size(b->out) != n) return 1;
        const float *o = ais_tensor_data(b->out);
        for (size_t i = 0; i < n; i++)
            dst[i] = o[i];
        return 0;
    }
    case K_XGB: {
        uint64_t got = 1;
        for (uint64_t d = 0; d < b->xgb.dim; d++)
            got *= b->xgb.shape[d];
        if (got != n) return 1;
        for (size_t i = 0; i < n; i++)
            dst[i] = b->xgb.result[i];
        return 0;
    }
    case K_LGB:
    case K_LGB1: memcpy(dst, b->lgb.out, n * sizeof *dst); return 0;
    case K_TL2:
        for (size_t i = 0; i < n; i++)
            dst[i] = b->tl2.f64 ? ((const double *)b->tl2.out)[i] : ((const float *)b->tl2.out)[i];
        return 0;
    default: return 1;
    }
}

static double max_rel_diff(const double *got, const double *want, size_t n) {
    double m = 0;
    for (size_t i = 0; i < n; i++) {
        double d = fabs(got[i] - want[i]) / fmax(1.0, fabs(want[i]));
        if (!(d <= m)) m = isnan(d) ? INFINITY : d;
    }
    return m;
}

/* ---------------------------------------------------------------------------------------------
 * Results
 * -------------------------------------------------------------------------------------------*/

typedef struct cell_result {
    long threads, batch;
    bool skipped;
    long rounds;
    double wall[K_COUNT], cpu[K_COUNT]; /* seconds per call; 0 = not timed */
    double round_wall[K_COUNT][MAX_ROUNDS];
    long calls[K_COUNT];
} cell_result;

static void json_str(FILE *f, const char *s) {
    fputc('"', f);
    for (; *s; s++) {
        if (*s == '"' || *s == '\\') fputc('\\', f);
        if ((unsigned char)*s >= 0x20) fputc(*s, f);
    }
    fputc('"', f);
}

static bool parse_list(const char *s, long *out, size_t *n) {
    *n = 0;
    for (const char *p = s; *p;) {
        char *end;
        long v = strtol(p, &end, 10);
        if (end == p || v < 1 || *n >= MAX_LIST) return false;
        out[(*n)++] = v;
        if (*end != ',' && *end) return false;
        p = *end == ',' ? end + 1 : end;
    }
    return *n > 0;
}

int main(int argc, char **argv) {
    const char *model_path = NULL, *input = NULL, *xgb_lib = NULL, *lgb_lib = NULL, *tl2_lib = NULL,
               *json_path = NULL, *label = NULL;
    long threads[MAX_LIST] = {1}, batches[MAX_LIST] = {1, 100, 10000}, rounds = 7;
    size_t n_threads = 1, n_batches = 3;
    double chunk_s = 0.2, deadline_s = 0;
    bool check_only = false;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        bool more = i + 1 < argc;
        if (!strcmp(a, "--input") && more)
            input = argv[++i];
        else if (!strcmp(a, "--xgboost") && more)
            xgb_lib = argv[++i];
        else if (!strcmp(a, "--lightgbm") && more)
            lgb_lib = argv[++i];
        else if (!strcmp(a, "--tl2cgen") && more)
            tl2_lib = argv[++i];
        else if (!strcmp(a, "--json") && more)
            json_path = argv[++i];
        else if (!strcmp(a, "--label") && more)
            label = argv[++i];
        else if (!strcmp(a, "--rounds") && more)
            rounds = strtol(argv[++i], NULL, 10);
        else if (!strcmp(a, "--chunk-s") && more)
            chunk_s = strtod(argv[++i], NULL);
        else if (!strcmp(a, "--deadline-s") && more)
            deadline_s = strtod(argv[++i], NULL);
        else if (!strcmp(a, "--check-only"))
            check_only = true;
        else if (!strcmp(a, "--threads") && more) {
            if (!parse_list(argv[++i], threads, &n_threads)) {
                fprintf(stderr, "bench_tree_peers: bad --threads list\n%s", usage);
                return 2;
            }
        } else if (!strcmp(a, "--batch") && more) {
            if (!parse_list(argv[++i], batches, &n_batches)) {
                fprintf(stderr, "bench_tree_peers: bad --batch list\n%s", usage);
                return 2;
            }
        } else if (a[0] != '-' && !model_path) {
            model_path = a;
        } else {
            fprintf(stderr, "%s", usage);
            return 2;
        }
    }
    if (!model_path || !input || rounds < 1 || rounds > MAX_ROUNDS || !(chunk_s >= 0)) {
        fprintf(stderr, "%s", usage);
        return 2;
    }
    size_t mlen = strlen(model_path);
    bool is_xgb = mlen > 5 && !strcmp(model_path + mlen - 5, ".json");
    bool is_lgb = mlen > 4 && !strcmp(model_path + mlen - 4, ".txt");
    if (!label) {
        const char *slash = strrchr(model_path, '/');
        label = slash ? slash + 1 : model_path;
    }

    int rc = 1;
    bool mismatch = false;
    bench B = {0}, *b = &B;
    ais_options *opt[MAX_LIST + 1] = {NULL};
    ais_tensor *src = NULL;
    double *ref = NULL, *got = NULL, *wall = NULL, *cpu = NULL;
    cell_result *res = NULL;
    size_t n_res = 0;
    double t_start = now_s();

    /* libaistack: the model, one session per thread count and a 1-thread reference session */
    for (size_t t = 0; t <= n_threads; t++)
        if (ais_options_create(&opt[t]) ||
            ais_options_set_int(opt[t], AIS_OPT_THREADS, t < n_threads ? threads[t] : 1)) {
            rc = ais_fail("options");
            goto done;
        }
    double t0 = now_s();
    if (ais_model_load(model_path, opt[n_threads], &b->model)) {
        rc = ais_fail(model_path);
        goto done;
    }
    printf("libaistack: %s loaded in %.1f ms\n", model_path, (now_s() - t0) * 1e3);
    for (size_t t = 0; t < n_threads; t++)
        if (ais_session_create(b->model, opt[t], &b->sess[t])) {
            rc = ais_fail("session");
            goto done;
        }
    if (ais_session_create(b->model, opt[n_threads], &b->ref_sess)) {
        rc = ais_fail("session");
        goto done;
    }
    size_t out_index = 0;
    for (size_t k = 0; k < ais_model_output_count(b->model); k++) {
        const char *name = NULL;
        if (!ais_model_output_info(b->model, k, &name, NULL, NULL, NULL) && name &&
            !strcmp(name, "margin")) {
            b->out_name = "margin";
            out_index = k;
        }
    }
    size_t ond = 0;
    const int64_t *odims = NULL;
    if (ais_model_output_info(b->model, out_index, NULL, NULL, &ond, &odims)) {
        rc = ais_fail("output info");
        goto done;
    }
    b->width = ond == 2 && odims[1] > 0 ? (long)odims[1] : 1;

    /* The rows */
    if (ais_tensor_load(input, &src)) {
        rc = ais_fail(input);
        goto done;
    }
    if (ais_tensor_dtype(src) != AIS_DTYPE_F32 || ais_tensor_ndim(src) != 2 ||
        ais_tensor_shape(src)[0] < 1 || ais_tensor_shape(src)[1] < 1) {
        fprintf(stderr, "bench_tree_peers: %s must be float32 [rows >= 1, cols >= 1]\n", input);
        goto done;
    }
    b->src_rows = (long)ais_tensor_shape(src)[0];
    b->cols = (long)ais_tensor_shape(src)[1];
    b->x_rows = b->src_rows;
    for (size_t i = 0; i < n_batches; i++)
        if (batches[i] > b->x_rows) b->x_rows = batches[i];
    size_t cells = (size_t)b->x_rows * (size_t)b->cols;
    size_t outs = (size_t)b->x_rows * (size_t)b->width;
    b->x = malloc(cells * sizeof *b->x);
    b->lgb.out = malloc(outs * sizeof(double));
    b->tl2.out = malloc(outs * sizeof(double));
    ref = malloc(outs * sizeof *ref);
    got = malloc(outs * sizeof *got);
    wall = malloc(2 * (size_t)MAX_CALLS * sizeof *wall);
    res = calloc(n_threads * n_batches, sizeof *res);
    if (!b->x || !b->lgb.out || !b->tl2.out || !ref || !got || !wall || !res) {
        fprintf(stderr, "bench_tree_peers: out of memory\n");
        goto done;
    }
    cpu = wall + MAX_CALLS;
    const float *sd = ais_tensor_data(src);
    for (long r = 0; r < b->x_rows; r++)
        memcpy(b->x + (size_t)r * (size_t)b->cols, sd + (size_t)(r % b->src_rows) * (size_t)b->cols,
               (size_t)b->cols * sizeof *sd);
    printf("rows: %s, %ld x %ld (%ld outputs per row)\n", input, b->src_rows, b->cols, b->width);

    /* The peers */
    b->have[K_AIS] = true;
    if (xgb_lib && is_xgb) {
        if (load_xgb(b, xgb_lib, model_path)) goto done;
        b->have[K_XGB] = true;
    }
    if (lgb_lib && is_lgb) {
        if (load_lgb(b, lgb_lib, model_path)) goto done;
        b->have[K_LGB] = b->have[K_LGB1] = true;
        b->lgb.fast_threads = -1;
    }
    if (tl2_lib) {
        if (load_tl2(b, tl2_lib)) goto done;
        b->have[K_TL2] = true;
    }

    /* Parity: every system at every thread count against libaistack at 1 thread, all rows */
    if (set_cell(b, -1, 1, b->src_rows) || run_once(b, K_AIS) || margins(b, K_AIS, ref)) {
        rc = ais_fail("reference run");
        goto done;
    }
    size_t n_check = (size_t)b->src_rows * (size_t)b->width;
    for (size_t ti = 0; ti < n_threads; ti++) {
        if (set_cell(b, (long)ti, threads[ti], b->src_rows)) goto done;
        for (int k = 0; k < K_COUNT; k++) {
            if (!b->have[k]) continue;
            double d = 0;
            if (k == K_LGB1) {
                /* one row per call: the first 1000 rows */
                long n1 = b->src_rows < 1000 ? b->src_rows : 1000;
                for (long r = 0; r < n1 && d <= TOL; r++) {
                    int64_t len = 0;
                    if (b->lgb.fast_run(b->lgb.fast, b->x + (size_t)r * (size_t)b->cols, &len,
                                        b->lgb.out)) {
                        fprintf(stderr, "bench_tree_peers: lightgbm_1row: %s\n", b->lgb.error());
                        goto done;
                    }
                    for (long j = 0; j < b->width; j++)
                        got[j] = b->lgb.out[j];
                    double dr =
                        max_rel_diff(got, ref + (size_t)r * (size_t)b->width, (size_t)b->width);
                    if (!(dr <= d)) d = dr;
                }
            } else {
                if (run_once(b, (enum kind)k) || margins(b, (enum kind)k, got)) {
                    fprintf(stderr, "bench_tree_peers: %s failed: %s\n", kind_name[k],
                            last_error(b, (enum kind)k));
                    goto done;
                }
                d = max_rel_diff(got, ref, n_check);
            }
            bool ok = d <= TOL;
            if (!ok) mismatch = true;
            printf("check %-14s threads %2ld: max relative difference %.3g%s\n", kind_name[k],
                   threads[ti], d, ok ? "" : "  MISMATCH");
        }
    }
    if (check_only) {
        rc = mismatch ? 1 : 0;
        goto done;
    }

    /* Timing */
    printf("\n| model | threads | batch | system | us/row wall | us/row CPU | rows/s | "
           "vs peer |\n|---|---|---|---|---|---|---|---|\n");
    fflush(stdout);
    for (size_t ti = 0; ti < n_threads; ti++) {
        for (size_t bi = 0; bi < n_batches; bi++) {
            cell_result *c = &res[n_res++];
            c->threads = threads[ti];
            c->batch = batches[bi];
            c->rounds = rounds;
            if (deadline_s > 0 && now_s() - t_start > deadline_s) {
                c->skipped = true;
                printf("| %s | %ld | %ld | (skipped: deadline) | | | | |\n", label, c->threads,
                       c->batch);
                continue;
            }
            if (set_cell(b, (long)ti, threads[ti], batches[bi])) goto done;
            bool on[K_COUNT];
            for (int k = 0; k < K_COUNT; k++) {
                on[k] = b->have[k] && (k != K_LGB1 || c->batch == 1);
                for (int w = 0; w < 3 && on[k]; w++)
                    if (run_once(b, (enum kind)k)) {
                        fprintf(stderr, "bench_tree_peers: %s failed: %s\n", kind_name[k],
                                last_error(b, (enum kind)k));
                        goto done;
                    }
            }
            double rw[K_COUNT][MAX_ROUNDS], rcpu[K_COUNT][MAX_ROUNDS];
            for (long r = 0; r < rounds; r++) {
                for (int k = 0; k < K_COUNT; k++) {
                    if (!on[k]) continue;
                    long n = 0;
                    int st = 0;
                    double start = now_s();
                    while (n < MAX_CALLS && (n < 3 || now_s() - start < chunk_s)) {
                        double a = now_s(), ca = cpu_s();
                        st = run_once(b, (enum kind)k);
                        cpu[n] = cpu_s() - ca;
                        wall[n++] = now_s() - a;
                        if (st) break;
                    }
                    if (st) {
                        fprintf(stderr, "bench_tree_peers: %s failed: %s\n", kind_name[k],
                                last_error(b, (enum kind)k));
                        goto done;
                    }
                    rw[k][r] = median(wall, (size_t)n);
                    rcpu[k][r] = median(cpu, (size_t)n);
                    c->calls[k] += n;
                }
            }
            for (int k = 0; k < K_COUNT; k++) {
                if (!on[k]) continue;
                memcpy(c->round_wall[k], rw[k], (size_t)rounds * sizeof(double));
                c->wall[k] = median(rw[k], (size_t)rounds);
                c->cpu[k] = median(rcpu[k], (size_t)rounds);
            }
            for (int k = 0; k < K_COUNT; k++) {
                if (!on[k]) continue;
                double per = (double)c->batch;
                char vs[32] = "-";
                if (k != K_AIS) snprintf(vs, sizeof vs, "%.3gx", c->wall[k] / c->wall[K_AIS]);
                printf("| %s | %ld | %ld | %s | %.4g | %.4g | %.0f | %s |\n", label, c->threads,
                       c->batch, kind_name[k], c->wall[k] * 1e6 / per, c->cpu[k] * 1e6 / per,
                       per / c->wall[k], vs);
            }
            fflush(stdout);
        }
    }
    printf("\nwhole run %.1f s\n", now_s() - t_start);

    if (json_path) {
        FILE *f = fopen(json_path, "w");
        if (!f) {
            fprintf(stderr, "bench_tree_peers: cannot write %s\n", json_path);
            goto done;
        }
        fprintf(f, "{\"label\": ");
        json_str(f, label);
        fprintf(f, ", \"model\": ");
        json_str(f, model_path);
        fprintf(f, ", \"input\": ");
        json_str(f, input);
        fprintf(f,
                ", \"rows\": %ld, \"cols\": %ld, \"outputs_per_row\": %ld, \"rounds\": %ld, "
                "\"chunk_s\": %g, \"mismatch\": %s, \"results\": [",
                b->src_rows, b->cols, b->width, rounds, chunk_s, mismatch ? "true" : "false");
        bool first = true;
        for (size_t i = 0; i < n_res; i++) {
            const cell_result *c = &res[i];
            for (int k = 0; k < K_COUNT; k++) {
                if (!c->skipped && c->wall[k] <= 0) continue;
                if (c->skipped && k != K_AIS) continue;
                fprintf(f, "%s\n {\"threads\": %ld, \"batch\": %ld, \"system\": \"%s\"",
                        first ? "" : ",", c->threads, c->batch,
                        c->skipped ? "skipped" : kind_name[k]);
                first = false;
                if (c->skipped) {
                    fprintf(f, "}");
                    continue;
                }
                double per = (double)c->batch;
                fprintf(f,
                        ", \"us_per_row\": %.6g, \"cpu_us_per_row\": %.6g, \"rows_per_s\": %.1f, "
                        "\"median_call_us\": %.6g, \"calls\": %ld, \"speedup_vs_peer\": ",
                        c->wall[k] * 1e6 / per, c->cpu[k] * 1e6 / per, per / c->wall[k],
                        c->wall[k] * 1e6, c->calls[k]);
                if (k == K_AIS)
                    fprintf(f, "null");
                else
                    fprintf(f, "%.4g", c->wall[k] / c->wall[K_AIS]);
                fprintf(f, ", \"round_call_us\": [");
                for (long r = 0; r < c->rounds; r++)
                    fprintf(f, "%s%.6g", r ? ", " : "", c->round_wall[k][r] * 1e6);
                fprintf(f, "]}");
            }
        }
        fprintf(f, "\n]}\n");
        if (fclose(f) != 0) {
            fprintf(stderr, "bench_tree_peers: cannot write %s\n", json_path);
            goto done;
        }
    }
    rc = mismatch ? 1 : 0;
    if (mismatch) fprintf(stderr, "bench_tree_peers: outputs differ (MISMATCH above)\n");
done:
    free(res);
    free(wall);
    free(got);
    free(ref);
    ais_tensor_destroy(b->in);
    ais_tensor_destroy(b->out);
    ais_tensor_destroy(src);
    if (b->xgb.booster) b->xgb.free_booster(b->xgb.booster);
    if (b->lgb.fast) b->lgb.fast_free(b->lgb.fast);
    if (b->lgb.booster) b->lgb.free_booster(b->lgb.booster);
    /* The peers' libraries stay loaded: unloading one with live OpenMP threads can crash. */
    free(b->tl2.out);
    free(b->lgb.out);
    free(b->x);
    for (size_t t = 0; t < n_threads; t++)
        ais_session_destroy(b->sess[t]);
    ais_session_destroy(b->ref_sess);
    ais_model_destroy(b->model);
    for (size_t t = 0; t <= n_threads; t++)
        ais_options_destroy(opt[t]);
    return rc;
}
