/*
 * ml_svm.c - ai.onnx.ml SVMClassifier and SVMRegressor, computed as ONNX Runtime computes them
 * (docs/onnx_ml.md lists where that differs from onnx.reference).
 *
 * prepare checks every attribute size against the others once per node and copies what the
 * kernels read. The kernels convert X to float (as ONNX Runtime does), evaluate the kernel of
 * a block of rows against every support vector at once (sgemm for LINEAR/POLY/SIGMOID, a direct
 * distance for RBF, which the |x|^2 + |v|^2 - 2xv expansion would make inexact), then reduce
 * with the coefficients in double.
 */
#include <stdatomic.h>

#include "cpu/cpu.h"
#include "ml_util.h"

/* Rows whose kernels are evaluated together. Blocks start at fixed multiples of it whatever the
 * thread count, so each row meets the same BLAS calls and results are the same bits. */
#define AIS__SVM_BLOCK 128
/* OpenBLAS threads a product above 2^18 multiply-adds (SMP_THRESHOLD_MIN *
 * GEMM_MULTITHREAD_THRESHOLD). Kernel products are cut into column chunks below it, so that a
 * block on a pool worker never starts BLAS threads on top of ours (see ais__svm_gemm_cols). */
#define AIS__SVM_GEMM_MNK ((size_t)1 << 18)
/* Multiply-adds of a call below which the pool is not woken. */
#define AIS__SVM_PAR_WORK ((size_t)1 << 18)
/* ONNX Runtime's class limit, and a lower one for probabilities, whose pairwise matrix is C^2. */
#define AIS__SVM_MAX_CLASSES 65535
#define AIS__SVM_MAX_PROBA_CLASSES 1024

typedef enum { AIS__K_LINEAR, AIS__K_POLY, AIS__K_RBF, AIS__K_SIGMOID } ais__svm_kernel;

typedef struct ais__svm {
    ais__svm_kernel kernel;
    float gamma, coef0, degree;
    bool svc;              /* support vectors (libsvm) rather than one weight row per class */
    size_t n_vec, n_feat;  /* support vectors, features per row of X */
    size_t n_cls, n_pairs; /* classifier: classes, one-vs-one classifiers */
    float *sv;             /* [n_vec, n_feat] */
    double *sv_d, *sv_n;   /* RBF: the vectors in double and their squared norms */
    float *coef;           /* see the prepare functions */
    float *rho, *proba, *probb;
    size_t *start, *count;   /* classifier svc: support vectors of each class */
    bool all_pos, one_class; /* all coefficients >= 0; regressor: output the sign */
    bool has_proba;          /* prob_a given (the liblinear form ignores the values) */
    ais__post_transform post;
} ais__svm;

static void ais__svm_free(void *state) {
    ais__svm *s = state;
    if (!s) return;
    ais__free(s->sv);
    ais__free(s->sv_d);
    ais__free(s->sv_n);
    ais__free(s->coef);
    ais__free(s->rho);
    ais__free(s->proba);
    ais__free(s->probb);
    ais__free(s->start);
    ais__free(s->count);
    ais__free(s);
}

/* The RBF kernel's double copy of the support vectors and their squared norms. */
static ais_status ais__svm_transpose(ais__svm *s) {
    if (s->kernel != AIS__K_RBF || !s->sv) return AIS_OK;
    size_t n = s->n_vec * s->n_feat;
    s->sv_d = ais__malloc(n * sizeof *s->sv_d);
    s->sv_n = ais__malloc(s->n_vec * sizeof *s->sv_n);
    if (!s->sv_d || !s->sv_n) return ais__oom((n + s->n_vec) * sizeof(double), "SVM vectors");
    for (size_t j = 0; j < s->n_vec; j++) {
        double n2 = 0;
        for (size_t c = 0; c < s->n_feat; c++) {
            double t = s->sv[j * s->n_feat + c];
            s->sv_d[j * s->n_feat + c] = t;
            n2 += t * t;
        }
        s->sv_n[j] = n2;
    }
    return AIS_OK;
}

static ais_status ais__svm_copy(float **dst, const float *src, size_t n, const char *what) {
    *dst = NULL;
    if (n == 0) return AIS_OK;
    *dst = ais__malloc(n * sizeof **dst);
    if (!*dst) return ais__oom(n * sizeof **dst, what);
    memcpy(*dst, src, n * sizeof **dst);
    return AIS_OK;
}

/* kernel_type, kernel_params and post_transform, shared by both operators. */
static ais_status ais__svm_common(const ais_attrs *a, ais__svm *s) {
    const char *k = ais__attr_string(a, "kernel_type", "LINEAR");
    static const char *const names[] = {"LINEAR", "POLY", "RBF", "SIGMOID"};
    size_t i = 0;
    while (i < AIS__ARRAY_LEN(names) && strcmp(k, names[i]) != 0)
        i++;
    if (i == AIS__ARRAY_LEN(names))
        return ais__error(AIS_E_INVALID_ARGUMENT,
                          "kernel_type must be LINEAR, POLY, RBF or SIGMOID, got '%s'", k);
    s->kernel = (ais__svm_kernel)i;
    const float *kp;
    size_t nk;
    if (ais__attr_floats(a, "kernel_params", &kp, &nk) && nk > 0) {
        if (nk != 3)
            return ais__error(AIS_E_INVALID_ARGUMENT,
                              "kernel_params must hold 3 values (gamma, coef0, degree), got %zu",
                              nk);
        s->gamma = kp[0];
        s->coef0 = kp[1];
        s->degree = kp[2];
    }
    return ais__ml_post_parse(a, &s->post);
}

/* Rows [r0, r0 + b) of X as floats: X's own data when it is float, else converted into buf. */
static const float *ais__svm_rows(const ais_tensor *x, size_t r0, size_t b, size_t f, float *buf) {
    if (x->dtype == AIS_DTYPE_F32) return (const float *)x->data + r0 * f;
    for (size_t i = 0; i < b * f; i++)
        buf[i] = (float)ais__load_f64(x->data, x->dtype, r0 * f + i);
    return buf;
}

/* Support vectors per kernel product: a full block of them stays under OpenBLAS's threading
 * threshold when features allow (at most a few hundred); at least 16, the microkernels' width. */
static size_t ais__svm_gemm_cols(const ais__svm *s) {
    size_t f = s->n_feat ? s->n_feat : 1;
    size_t n = AIS__SVM_GEMM_MNK / (AIS__SVM_BLOCK * f);
    return n < 16 ? 16 : n & ~(size_t)15;
}

/* k[b, n_vec] = kernel(x row, support vector) for b rows of x [b, n_feat]; d: RBF work, see
 * ais__svm_scratch. */
static void ais__svm_kernels(const ais__svm *s, const float *x, size_t b, float *k, double *d) {
    size_t v = s->n_vec, f = s->n_feat, nc = ais__svm_gemm_cols(s);
    if (s->kernel == AIS__K_RBF) {
        /* |x - v|^2 = |x|^2 + |v|^2 - 2 x.v with the products by dgemm: in double the
         * cancellation costs about 1e-16 |x|^2, less than ONNX Runtime's float sum of squares. */
        double *xd = d, *dot = d + b * f, *xn = dot + b * v;
        for (size_t r = 0; r < b; r++) {
            double n2 = 0;
            for (size_t c = 0; c < f; c++) {
                xd[r * f + c] = x[r * f + c];
                n2 += xd[r * f + c] * xd[r * f + c];
            }
            xn[r] = n2;
        }
        for (size_t j0 = 0; j0 < v; j0 += nc)
            ais__cpu()->dgemm(false, true, (int64_t)b, (int64_t)AIS__MIN(nc, v - j0), (int64_t)f,
                              -2.0, xd, (int64_t)f, s->sv_d + j0 * f, (int64_t)f, 0.0, dot + j0,
                              (int64_t)v);
        for (size_t r = 0; r < b; r++)
            for (size_t j = 0; j < v; j++) {
                double d2 = dot[r * v + j] + xn[r] + s->sv_n[j];
                k[r * v + j] = expf(-s->gamma * (float)(d2 > 0 ? d2 : 0));
            }
        return;
    }
    bool lin = s->kernel == AIS__K_LINEAR;
    for (size_t j0 = 0; j0 < v; j0 += nc)
        ais__cpu()->sgemm(false, true, (int64_t)b, (int64_t)AIS__MIN(nc, v - j0), (int64_t)f,
                          lin ? 1.0f : s->gamma, x, (int64_t)f, s->sv + j0 * f, (int64_t)f, 0.0f,
                          k + j0, (int64_t)v);
    if (lin) return;
    for (size_t i = 0; i < b * v; i++) {
        float t = k[i] + s->coef0;
        if (s->kernel == AIS__K_SIGMOID)
            k[i] = tanhf(t);
        else if (s->degree == 2)
            k[i] = t * t;
        else if (s->degree == 3)
            k[i] = t * t * t;
        else
            k[i] = powf(t, s->degree);
    }
}

/* X's matrix view, checked against the features the model was built for. */
static ais_status ais__svm_matrix(const ais__svm *s, const ais_tensor *x, size_t *rows) {
    size_t cols;
    AIS__CHECK(ais__ml_matrix(x, rows, &cols));
    if (cols != s->n_feat)
        return ais__error(AIS_E_SHAPE, "X has %zu features, the model expects %zu", cols,
                          s->n_feat);
    return AIS_OK;
}

/* One worker's scratch: converted rows, kernels (or scores), per-row `extra`, RBF doubles. */
typedef struct ais__svm_buf {
    float *x, *k, *e;
    double *d;
} ais__svm_buf;

/*
 * One call's rows in fixed blocks of AIS__SVM_BLOCK, claimed one at a time by `slots` workers
 * through `next`; each worker owns one slot of the scratch (slot_floats floats), so nothing is
 * allocated per block and no two threads share a buffer.
 */
typedef struct ais__svm_job {
    const ais__svm *s;
    const ais_tensor *x;
    size_t rows, n_blocks, slots, width, extra, slot_floats;
    float *scratch;
    atomic_size_t next;
    void (*block)(const struct ais__svm_job *j, const ais__svm_buf *w, size_t r0, size_t b);
    float *y; /* regressor */
    /* classifier */
    const ais__ml_labels *lb;
    ais_tensor *const *out;
    size_t n_out, zw;
    uint32_t *best; /* string labels: each row's class, labelled on the caller afterwards */
} ais__svm_job;

static bool ais__svm_add16(size_t *total, size_t n) {
    return ais__add_size(n, 15, &n) && ais__add_size(*total, n & ~(size_t)15, total);
}

/* Parts of a slot start on a cache line: rows [BLOCK, f], kernels [BLOCK, width], extra, and
 * for RBF BLOCK * (f + width + 1) doubles (rows in double, products, row norms). */
static ais__svm_buf ais__svm_carve(const ais__svm_job *j, size_t slot) {
    size_t a = AIS__SVM_BLOCK * j->s->n_feat, b = AIS__SVM_BLOCK * j->width;
    ais__svm_buf w;
    w.x = j->scratch + slot * j->slot_floats;
    w.k = w.x + ((a + 15) & ~(size_t)15);
    w.e = w.k + ((b + 15) & ~(size_t)15);
    w.d = (double *)(void *)(w.e + ((j->extra + 15) & ~(size_t)15));
    return w;
}

/* Workers worth waking: several blocks of enough work, and kernel products small enough that
 * OpenBLAS runs them on the calling thread (else BLAS's threads serve the one caller). */
static size_t ais__svm_slot_count(const ais__op_ctx *ctx, const ais__svm *s, size_t rows,
                                  size_t n_blocks) {
    size_t threads = ctx->pool ? (size_t)ais__pool_threads(ctx->pool) : 1;
    if (threads < 2 || n_blocks < 2) return 1;
    double per_row = s->svc ? (double)s->n_vec * ((double)s->n_feat + (double)s->n_cls + 1)
                            : (double)s->n_feat * ((double)s->n_cls + 1);
    if (per_row * (double)rows < (double)AIS__SVM_PAR_WORK) return 1;
    size_t nc = AIS__MIN(ais__svm_gemm_cols(s), s->n_vec);
    if (s->svc &&
        (double)AIS__SVM_BLOCK * (double)nc * (double)s->n_feat > (double)AIS__SVM_GEMM_MNK)
        return 1;
    return AIS__MIN(threads, n_blocks);
}

/* Sizes the job for `rows` and takes its scratch: one slot per worker, and a class per row when
 * labels are strings. */
static ais_status ais__svm_job_init(ais__op_ctx *ctx, ais__svm_job *j, const ais__svm *s,
                                    const ais_tensor *x, size_t rows, size_t width, size_t extra,
                                    bool per_row_class) {
    j->s = s;
    j->x = x;
    j->rows = rows;
    j->n_blocks = (rows + AIS__SVM_BLOCK - 1) / AIS__SVM_BLOCK;
    j->width = width;
    j->extra = extra;
    atomic_init(&j->next, 0);
    j->slots = ais__svm_slot_count(ctx, s, rows, j->n_blocks);
    size_t f = s->n_feat, a, b, d = 0, slot = 0, total;
    bool ok = ais__mul_size(AIS__SVM_BLOCK, f, &a) && ais__mul_size(AIS__SVM_BLOCK, width, &b);
    if (ok && s->kernel == AIS__K_RBF && s->svc)
        ok = ais__add_size(a, b, &d) && ais__add_size(d, AIS__SVM_BLOCK, &d) &&
             ais__mul_size(d, 2, &d);
    ok = ok && ais__svm_add16(&slot, a) && ais__svm_add16(&slot, b) &&
         ais__svm_add16(&slot, extra) && ais__svm_add16(&slot, d) &&
         ais__mul_size(slot, j->slots, &total) &&
         (!per_row_class || ais__add_size(total, rows, &total)) &&
         ais__mul_size(total, sizeof(float), &total);
    if (!ok)
        return ais__error(AIS_E_LIMIT, "SVM scratch for %zu features and %zu columns is too large",
                          f, width);
    j->slot_floats = slot;
    j->scratch = ais__op_scratch(ctx, total);
    if (!j->scratch) return ais__oom(total, "SVM kernel values");
    j->best = per_row_class ? (uint32_t *)(void *)(j->scratch + slot * j->slots) : NULL;
    return AIS_OK;
}

/* parallel_for over slots: each claims blocks until none is left. */
static void ais__svm_slots(void *ctx, size_t s0, size_t s1) {
    ais__svm_job *j = ctx;
    for (size_t slot = s0; slot < s1; slot++) {
        ais__svm_buf w = ais__svm_carve(j, slot);
        for (;;) {
            size_t blk = atomic_fetch_add_explicit(&j->next, 1, memory_order_relaxed);
            if (blk >= j->n_blocks) break;
            size_t r0 = blk * AIS__SVM_BLOCK;
            j->block(j, &w, r0, AIS__MIN(AIS__SVM_BLOCK, j->rows - r0));
        }
    }
}

static void ais__svm_job_run(ais__op_ctx *ctx, ais__svm_job *j) {
    if (j->slots > 1)
        ais__parallel_for(ctx->pool, j->slots, 1, ais__svm_slots, j);
    else
        ais__svm_slots(j, 0, 1);
}

/* ---- SVMRegressor ---- */

static ais_status ais__svr_build(const ais__op_ctx *ctx, ais__svm *s) {
    const ais_attrs *a = ctx->attrs;
    AIS__CHECK(ais__svm_common(a, s));
    int64_t nt = ais__attr_int(a, "n_targets", 1);
    if (nt != 1)
        return ais__error(AIS_E_INVALID_ARGUMENT, "n_targets must be 1, got %lld", (long long)nt);
    int64_t oc = ais__attr_int(a, "one_class", 0);
    if (oc != 0 && oc != 1)
        return ais__error(AIS_E_INVALID_ARGUMENT, "one_class must be 0 or 1, got %lld",
                          (long long)oc);
    s->one_class = oc == 1;
    const float *coef, *rho, *sv;
    size_t nc = 0, nr = 0, nsv = 0;
    if (!ais__attr_floats(a, "coefficients", &coef, &nc) || nc == 0)
        return ais__error(AIS_E_INVALID_ARGUMENT, "attribute coefficients (floats) is required");
    if (!ais__attr_floats(a, "rho", &rho, &nr) || nr != 1)
        return ais__error(AIS_E_INVALID_ARGUMENT, "rho must hold 1 value, got %zu", nr);
    ais__attr_floats(a, "support_vectors", &sv, &nsv);
    int64_t ns = ais__attr_int(a, "n_supports", 0);
    if (ns < 0 || (uint64_t)ns > SIZE_MAX / 2)
        return ais__error(AIS_E_INVALID_ARGUMENT, "n_supports must be >= 0, got %lld",
                          (long long)ns);
    s->n_vec = (size_t)ns;
    s->svc = ns > 0;
    if (s->svc) {
        if (nsv == 0 || nsv % s->n_vec != 0)
            return ais__error(AIS_E_SHAPE,
                              "support_vectors has %zu values, not a positive multiple of "
                              "n_supports %zu",
                              nsv, s->n_vec);
        if (nc != s->n_vec)
            return ais__error(AIS_E_SHAPE, "%zu coefficients for %zu support vectors", nc,
                              s->n_vec);
        s->n_feat = nsv / s->n_vec;
        AIS__CHECK(ais__svm_copy(&s->sv, sv, nsv, "SVM support vectors"));
        AIS__CHECK(ais__svm_transpose(s));
    } else {
        s->kernel = AIS__K_LINEAR;
        s->n_feat = nc;
    }
    AIS__CHECK(ais__svm_copy(&s->coef, coef, nc, "SVM coefficients"));
    return ais__svm_copy(&s->rho, rho, 1, "SVM rho");
}

/* A new state built by `build`; nothing is left behind when it fails. */
static ais_status ais__svm_prepare_with(const ais__op_ctx *ctx, void **state,
                                        ais_status (*build)(const ais__op_ctx *, ais__svm *),
                                        const char *what) {
    *state = NULL;
    ais__svm *s = ais__calloc(1, sizeof *s);
    if (!s) return ais__oom(sizeof *s, what);
    ais_status st = build(ctx, s);
    if (st != AIS_OK) {
        ais__svm_free(s);
        return st;
    }
    *state = s;
    return AIS_OK;
}

static ais_status ais__svr_prepare(const ais__op_ctx *ctx, void **state) {
    return ais__svm_prepare_with(ctx, state, ais__svr_build, "SVMRegressor");
}

static ais_status ais__svr_infer(ais__op_ctx *ctx, const ais_tensor *const *in, size_t n_in,
                                 ais__tensor_desc *out, size_t n_out) {
    (void)n_in, (void)n_out;
    const ais__svm *s;
    AIS__CHECK(ais__op_state(ctx, (const void **)&s));
    size_t rows = 0;
    ais_status st = ais__svm_matrix(s, in[0], &rows);
    AIS__CHECK(st);
    int64_t dims[2] = {(int64_t)rows, 1};
    ais__desc_set(&out[0], AIS_DTYPE_F32, dims, 2);
    return AIS_OK;
}

static void ais__svr_block(const ais__svm_job *j, const ais__svm_buf *w, size_t r0, size_t b) {
    const ais__svm *s = j->s;
    const float *xr = ais__svm_rows(j->x, r0, b, s->n_feat, w->x);
    if (s->svc) ais__svm_kernels(s, xr, b, w->k, w->d);
    for (size_t r = 0; r < b; r++) {
        const float *k = s->svc ? w->k + r * s->n_vec : xr + r * s->n_feat;
        size_t n = s->svc ? s->n_vec : s->n_feat;
        double acc = s->rho[0];
        for (size_t i = 0; i < n; i++)
            acc += (double)s->coef[i] * k[i];
        float v = (float)acc;
        if (s->one_class)
            v = v > 0 ? 1.0f : -1.0f;
        else if (s->post == AIS__POST_PROBIT || s->post == AIS__POST_LOGISTIC)
            ais__ml_post_apply(s->post, &v, 1);
        j->y[r0 + r] = v;
    }
}

static ais_status ais__svr_rows(ais__op_ctx *ctx, const ais__svm *s, const ais_tensor *x,
                                size_t rows, float *y) {
    ais__svm_job j = {.block = ais__svr_block, .y = y};
    AIS__CHECK(ais__svm_job_init(ctx, &j, s, x, rows, s->svc ? s->n_vec : 0, 0, false));
    ais__svm_job_run(ctx, &j);
    return AIS_OK;
}

static ais_status ais__svr_compute(ais__op_ctx *ctx, const ais_tensor *const *in, size_t n_in,
                                   ais_tensor *const *out, size_t n_out) {
    (void)n_in, (void)n_out;
    const ais__svm *s;
    AIS__CHECK(ais__op_state(ctx, (const void **)&s));
    size_t rows = 0;
    ais_status st = ais__svm_matrix(s, in[0], &rows);
    if (st == AIS_OK) st = ais__svr_rows(ctx, s, in[0], rows, out[0]->data);
    return st;
}

/* ---- SVMClassifier ---- */

static ais_status ais__svc_build(const ais__op_ctx *ctx, ais__svm *s) {
    const ais_attrs *a = ctx->attrs;
    AIS__CHECK(ais__svm_common(a, s));
    ais__ml_labels lb;
    AIS__CHECK(ais__ml_labels_parse(a, "classlabels_ints", &lb));
    if (lb.n > AIS__SVM_MAX_CLASSES)
        return ais__error(AIS_E_LIMIT, "%zu classes, at most %d", lb.n, AIS__SVM_MAX_CLASSES);
    s->n_cls = lb.n;
    const float *coef, *rho, *sv, *pa, *pb;
    const int64_t *vpc;
    size_t nc = 0, nr = 0, nsv = 0, npa = 0, npb = 0, nvpc = 0;
    if (!ais__attr_floats(a, "coefficients", &coef, &nc) || nc == 0)
        return ais__error(AIS_E_INVALID_ARGUMENT, "attribute coefficients (floats) is required");
    if (!ais__attr_floats(a, "rho", &rho, &nr) || nr == 0)
        return ais__error(AIS_E_INVALID_ARGUMENT, "attribute rho (floats) is required");
    ais__attr_floats(a, "support_vectors", &sv, &nsv);
    ais__attr_floats(a, "prob_a", &pa, &npa);
    ais__attr_floats(a, "prob_b", &pb, &npb);
    if (npa != npb)
        return ais__error(AIS_E_SHAPE, "prob_a has %zu values but prob_b has %zu", npa, npb);
    ais__attr_ints(a, "vectors_per_class", &vpc, &nvpc);
    size_t total = 0;
    for (size_t i = 0; i < nvpc; i++) {
        if (vpc[i] < 0 || (uint64_t)vpc[i] > UINT32_MAX)
            return ais__error(AIS_E_INVALID_ARGUMENT,
                              "vectors_per_class[%zu] is %lld, expected a count >= 0", i,
                              (long long)vpc[i]);
        total += (size_t)vpc[i]; /* < 2^32 * 65536 terms: no overflow on 64-bit size_t */
    }
    s->n_vec = total;
    s->svc = total > 0;
    s->has_proba = npa > 0;
    s->all_pos = true;
    for (size_t i = 0; i < nc; i++)
        s->all_pos = s->all_pos && coef[i] >= 0;
    if (!s->svc) {
        /* liblinear: one weight row per class, rho[0] added to every score. */
        s->kernel = AIS__K_LINEAR;
        if (nc % s->n_cls != 0)
            return ais__error(AIS_E_SHAPE, "%zu coefficients are not a multiple of %zu classes", nc,
                              s->n_cls);
        s->n_feat = nc / s->n_cls;
        AIS__CHECK(ais__svm_copy(&s->coef, coef, nc, "SVM coefficients"));
        return ais__svm_copy(&s->rho, rho, 1, "SVM rho");
    }
    if (nvpc != s->n_cls)
        return ais__error(AIS_E_SHAPE, "vectors_per_class has %zu entries for %zu class labels",
                          nvpc, s->n_cls);
    if (s->n_cls < 2)
        return ais__error(AIS_E_INVALID_ARGUMENT,
                          "a support vector classifier needs 2 or more classes, got %zu", s->n_cls);
    if (nsv == 0 || nsv % total != 0)
        return ais__error(AIS_E_SHAPE,
                          "support_vectors has %zu values, not a positive multiple of the %zu "
                          "vectors that vectors_per_class sums to",
                          nsv, total);
    s->n_feat = nsv / total;
    size_t want;
    if (!ais__mul_size(s->n_cls - 1, total, &want) || nc != want)
        return ais__error(AIS_E_SHAPE,
                          "%zu coefficients, expected (classes - 1) * support vectors = %zu * %zu",
                          nc, s->n_cls - 1, total);
    s->n_pairs = s->n_cls * (s->n_cls - 1) / 2;
    if (nr != s->n_pairs)
        return ais__error(AIS_E_SHAPE, "rho has %zu values, expected one per class pair (%zu)", nr,
                          s->n_pairs);
    if (npa != 0 && npa != s->n_pairs)
        return ais__error(AIS_E_SHAPE,
                          "prob_a and prob_b have %zu values, expected one per class pair (%zu)",
                          npa, s->n_pairs);
    if (npa != 0 && s->n_cls > AIS__SVM_MAX_PROBA_CLASSES)
        return ais__error(AIS_E_LIMIT, "probabilities of %zu classes, at most %d", s->n_cls,
                          AIS__SVM_MAX_PROBA_CLASSES);
    s->start = ais__malloc(s->n_cls * sizeof *s->start);
    s->count = ais__malloc(s->n_cls * sizeof *s->count);
    if (!s->start || !s->count) return ais__oom(2 * s->n_cls * sizeof(size_t), "SVM classes");
    for (size_t i = 0, at = 0; i < s->n_cls; at += (size_t)vpc[i], i++) {
        s->start[i] = at;
        s->count[i] = (size_t)vpc[i];
    }
    AIS__CHECK(ais__svm_copy(&s->sv, sv, nsv, "SVM support vectors"));
    AIS__CHECK(ais__svm_transpose(s));
    AIS__CHECK(ais__svm_copy(&s->coef, coef, nc, "SVM coefficients"));
    AIS__CHECK(ais__svm_copy(&s->rho, rho, nr, "SVM rho"));
    AIS__CHECK(ais__svm_copy(&s->proba, pa, npa, "SVM prob_a"));
    return ais__svm_copy(&s->probb, pb, npb, "SVM prob_b");
}

static ais_status ais__svc_prepare(const ais__op_ctx *ctx, void **state) {
    return ais__svm_prepare_with(ctx, state, ais__svc_build, "SVMClassifier");
}

/* Columns of Z: class scores (linear), probabilities, or one-vs-one scores (two for 2 classes). */
static size_t ais__svc_width(const ais__svm *s) {
    if (!s->svc || s->proba) return s->n_cls;
    return s->n_cls > 2 ? s->n_pairs : 2;
}

static ais_status ais__svc_infer(ais__op_ctx *ctx, const ais_tensor *const *in, size_t n_in,
                                 ais__tensor_desc *out, size_t n_out) {
    (void)n_in;
    const ais__svm *s;
    AIS__CHECK(ais__op_state(ctx, (const void **)&s));
    size_t rows = 0;
    ais_status st = ais__svm_matrix(s, in[0], &rows);
    int64_t dims[2] = {(int64_t)rows, (int64_t)ais__svc_width(s)};
    AIS__CHECK(st);
    bool strings = ais__attr_find(ctx->attrs, "classlabels_strings") != NULL;
    ais__desc_set(&out[0], strings ? AIS_DTYPE_STRING : AIS_DTYPE_I64, dims, 1);
    if (n_out > 1) ais__desc_set(&out[1], AIS_DTYPE_F32, dims, 2);
    return AIS_OK;
}

static float ais__svm_sigmoid_prob(float score, float a, float b) {
    return 1.0f - ais__ml_logistic(score * a + b);
}

/*
 * Pairwise coupling (Wu, Lin and Weng 2004, as libsvm): class probabilities p[k] from the
 * pairwise estimates r[k, k]. In float and with ONNX Runtime's 100 iterations: its stopping
 * test is coarse (0.005 / k), so another precision would stop at another step.
 */
static void ais__svm_coupling(size_t k, const float *r, float *p, float *q, float *qp) {
    float eps = 0.005f / (float)k;
    for (size_t i = 0; i < k; i++) {
        p[i] = 1.0f / (float)k;
        q[i * k + i] = 0;
        for (size_t j = 0; j < i; j++) {
            q[i * k + i] += r[j * k + i] * r[j * k + i];
            q[i * k + j] = q[j * k + i];
        }
        for (size_t j = i + 1; j < k; j++) {
            q[i * k + i] += r[j * k + i] * r[j * k + i];
            q[i * k + j] = -r[j * k + i] * r[i * k + j];
        }
    }
    for (int it = 0; it < 100; it++) {
        float pqp = 0;
        for (size_t i = 0; i < k; i++) {
            qp[i] = 0;
            for (size_t j = 0; j < k; j++)
                qp[i] += q[i * k + j] * p[j];
            pqp += p[i] * qp[i];
        }
        float max_err = 0;
        for (size_t i = 0; i < k; i++) {
            float e = fabsf(qp[i] - pqp);
            if (e > max_err) max_err = e;
        }
        if (max_err < eps) break;
        for (size_t i = 0; i < k; i++) {
            float diff = (-qp[i] + pqp) / q[i * k + i];
            p[i] += diff;
            pqp = (pqp + diff * (diff * q[i * k + i] + 2 * qp[i])) / (1 + diff) / (1 + diff);
            for (size_t j = 0; j < k; j++) {
                qp[j] = (qp[j] + diff * q[i * k + j]) / (1 + diff);
                p[j] /= (1 + diff);
            }
        }
    }
}

/* One row of a support vector classifier: Z's columns into z, the winning class returned. */
static size_t ais__svc_row(const ais__svm *s, const float *k, float *z, float *pair,
                           uint32_t *votes, float *work) {
    size_t c = s->n_cls, v = s->n_vec, idx = 0;
    memset(votes, 0, c * sizeof *votes);
    for (size_t i = 0; i + 1 < c; i++)
        for (size_t j = i + 1; j < c; j++) {
            /* Class i's vectors weigh with coefficient row j - 1, class j's with row i. */
            double sum = s->rho[idx];
            const float *ci = s->coef + (j - 1) * v, *cj = s->coef + i * v;
            for (size_t m = s->start[i]; m < s->start[i] + s->count[i]; m++)
                sum += (double)ci[m] * k[m];
            for (size_t m = s->start[j]; m < s->start[j] + s->count[j]; m++)
                sum += (double)cj[m] * k[m];
            pair[idx++] = (float)sum;
            votes[sum > 0 ? i : j]++;
        }
    size_t best = 0;
    for (size_t i = 1; i < c; i++)
        if (votes[i] > votes[best]) best = i;
    if (s->proba) {
        float *r = work, *q = work + c * c, *qp = q + c * c;
        memset(r, 0, c * c * sizeof *r);
        idx = 0;
        for (size_t i = 0; i + 1 < c; i++)
            for (size_t j = i + 1; j < c; j++, idx++) {
                float p = ais__svm_sigmoid_prob(pair[idx], s->proba[idx], s->probb[idx]);
                p = p < 1e-7f ? 1e-7f : p > 1 - 1e-7f ? 1 - 1e-7f : p;
                r[i * c + j] = p;
                r[j * c + i] = 1 - p;
            }
        ais__svm_coupling(c, r, z, q, qp);
        ais__ml_post_apply(s->post, z, c);
    } else if (c > 2) {
        memcpy(z, pair, s->n_pairs * sizeof *z);
        ais__ml_post_apply(s->post, z, s->n_pairs);
    } else if (s->post == AIS__POST_PROBIT) {
        z[0] = ais__ml_probit(pair[0]);
        z[1] = 0;
    } else {
        /* ONNX Runtime: (-s, s) without a transform, else (1 - s, s) untransformed. */
        z[1] = pair[0];
        z[0] = s->post == AIS__POST_NONE ? -pair[0] : 1 - pair[0];
    }
    return best;
}

/* One row of the liblinear form: class scores into z, the winning class returned. */
static size_t ais__svc_linear_row(const ais__svm *s, const float *x, float *z) {
    size_t c = s->n_cls, f = s->n_feat;
    for (size_t i = 0; i < c; i++) {
        double acc = s->rho[0];
        for (size_t j = 0; j < f; j++)
            acc += (double)s->coef[i * f + j] * x[j];
        z[i] = (float)acc;
    }
    size_t best = 0;
    for (size_t i = 1; i < c; i++)
        if (z[i] > z[best]) best = i;
    float w = z[best];
    /* ONNX Runtime's rule for two classes without probabilities. */
    if (c == 2 && !s->has_proba && ((s->all_pos && w >= 0.5f) || (!s->all_pos && w > 0))) best = 1;
    if (c > 1)
        ais__ml_post_apply(s->post, z, c);
    else if (s->post == AIS__POST_PROBIT)
        z[0] = ais__ml_probit(z[0]);
    return best;
}

static void ais__svc_block(const ais__svm_job *j, const ais__svm_buf *w, size_t r0, size_t b) {
    const ais__svm *s = j->s;
    size_t zw = j->zw;
    float *zrow = w->e, *pair = zrow + zw, *work = pair + s->n_pairs + s->n_cls;
    uint32_t *votes = (uint32_t *)(pair + s->n_pairs);
    const float *xr = ais__svm_rows(j->x, r0, b, s->n_feat, w->x);
    if (s->svc) ais__svm_kernels(s, xr, b, w->k, w->d);
    for (size_t r = 0; r < b; r++) {
        float *z = j->n_out > 1 ? (float *)j->out[1]->data + (r0 + r) * zw : zrow;
        size_t best = s->svc ? ais__svc_row(s, w->k + r * s->n_vec, z, pair, votes, work)
                             : ais__svc_linear_row(s, xr + r * s->n_feat, z);
        if (j->best)
            j->best[r0 + r] = (uint32_t)best; /* classes <= AIS__SVM_MAX_CLASSES */
        else
            ((int64_t *)j->out[0]->data)[r0 + r] = j->lb->ints[best];
    }
}

static ais_status ais__svc_rows(ais__op_ctx *ctx, const ais__svm *s, const ais_tensor *x,
                                size_t rows, ais_tensor *const *out, size_t n_out) {
    ais__ml_labels lb;
    AIS__CHECK(ais__ml_labels_parse(ctx->attrs, "classlabels_ints", &lb));
    size_t c = s->n_cls, zw = ais__svc_width(s);
    /* Per row: z (zw), pair scores, votes, and for probabilities r, q ([c, c] each) and qp. */
    size_t extra = zw + s->n_pairs + c + (s->proba ? 2 * c * c + c : 0);
    ais__svm_job j = {.block = ais__svc_block, .lb = &lb, .out = out, .n_out = n_out, .zw = zw};
    AIS__CHECK(
        ais__svm_job_init(ctx, &j, s, x, rows, s->svc ? s->n_vec : 0, extra, lb.strings != NULL));
    if (lb.strings) ais__strs_clear(out[0]);
    ais__svm_job_run(ctx, &j);
    /* String labels allocate, and may fail: on the caller, after the workers. */
    for (size_t r = 0; lb.strings && r < rows; r++)
        AIS__CHECK(ais__ml_label_write(&lb, out[0], r, j.best[r]));
    return AIS_OK;
}

static ais_status ais__svc_compute(ais__op_ctx *ctx, const ais_tensor *const *in, size_t n_in,
                                   ais_tensor *const *out, size_t n_out) {
    (void)n_in;
    const ais__svm *s;
    AIS__CHECK(ais__op_state(ctx, (const void **)&s));
    size_t rows = 0;
    ais_status st = ais__svm_matrix(s, in[0], &rows);
    if (st == AIS_OK) st = ais__svc_rows(ctx, s, in[0], rows, out, n_out);
    return st;
}

const ais__op_def ais__ops_ml_svm[] = {
    {.domain = AIS__ML_DOMAIN,
     .name = "SVMClassifier",
     .since_version = 1,
     .min_inputs = 1,
     .max_inputs = 1,
     .min_outputs = 1,
     .max_outputs = 2,
     .infer = ais__svc_infer,
     .compute = ais__svc_compute,
     .flags = AIS__OP_STRINGS,
     .prepare = ais__svc_prepare,
     .release = ais__svm_free},
    {.domain = AIS__ML_DOMAIN,
     .name = "SVMRegressor",
     .since_version = 1,
     .min_inputs = 1,
     .max_inputs = 1,
     .min_outputs = 1,
     .max_outputs = 1,
     .infer = ais__svr_infer,
     .compute = ais__svr_compute,
     .prepare = ais__svr_prepare,
     .release = ais__svm_free},
    {.name = NULL},
};
