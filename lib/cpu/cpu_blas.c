/* cpu_blas.c - OpenBLAS behind a small interface (the GEMM provider of the kernel tables), run with
 * the thread count of the session (or eager call) that asks, without changing OpenBLAS's setting
 * for the rest of the process. */
#include "cpu.h"

#include <cblas.h>
#include <pthread.h>

#include "common/common.h"

/* Declared here because Debian's generic cblas.h (an alternative that may point at another
 * BLAS) does not declare them; OpenBLAS always exports them. */
extern void openblas_set_num_threads(int num_threads);
extern int openblas_get_num_threads(void);

/*
 * OpenBLAS has one process-wide thread count, which the application may also use for its own
 * BLAS calls. A call big enough for OpenBLAS to split (its thresholds: m*n*k above 4 * 65536 for
 * GEMM, m*n above 4 * 2304 for GEMV) runs with the caller's width (ais__blas_width) set for that
 * call only, under a lock, and the previous count is put back. Smaller calls run on one thread
 * whatever the setting, so they take no lock. Why not one BLAS thread and our pool: OpenBLAS
 * 0.3.21 has no per-call or per-thread count, so that would mean setting it to 1 for the whole
 * process, which is exactly the behind-the-back change we must not make. Why the lock: two calls
 * with different widths would otherwise overwrite each other's count. The cost: two large
 * products from different sessions run one after the other; each already has the cores.
 */
static pthread_mutex_t ais__blas_lock = PTHREAD_MUTEX_INITIALIZER;

typedef struct ais__blas_call {
    bool locked;
    int prev;
} ais__blas_call;

static void ais__blas_enter(double work, double threshold, ais__blas_call *c) {
    c->locked = false;
    if (work <= threshold) return;
    pthread_mutex_lock(&ais__blas_lock);
    c->locked = true;
    c->prev = openblas_get_num_threads();
    int want = ais__blas_width();
    if (want != c->prev) openblas_set_num_threads(want);
}

static void ais__blas_leave(const ais__blas_call *c) {
    if (!c->locked) return;
    if (openblas_get_num_threads() != c->prev) openblas_set_num_threads(c->prev);
    pthread_mutex_unlock(&ais__blas_lock);
}

#define AIS__GEMM_SPLIT (4.0 * 65536.0)
#define AIS__GEMV_SPLIT (4.0 * 2304.0)

static void ais__sgemm_call(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k,
                            float alpha, const float *a, int64_t lda, const float *b, int64_t ldb,
                            float beta, float *c, int64_t ldc);

void ais__sgemm(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, float alpha,
                const float *a, int64_t lda, const float *b, int64_t ldb, float beta, float *c,
                int64_t ldc) {
    if (m <= 0 || n <= 0) return;
    ais__blas_call call;
    bool gemv = (m == 1 || n == 1) && k > 0;
    ais__blas_enter(gemv ? (double)(m == 1 ? n : m) * (double)k : (double)m * (double)n * (double)k,
                    gemv ? AIS__GEMV_SPLIT : AIS__GEMM_SPLIT, &call);
    ais__sgemm_call(trans_a, trans_b, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
    ais__blas_leave(&call);
}

static void ais__sgemm_call(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k,
                            float alpha, const float *a, int64_t lda, const float *b, int64_t ldb,
                            float beta, float *c, int64_t ldc) {
    /* A single row or column is a matrix-vector product. OpenBLAS's sgemm would still pack the
     * whole other matrix on every call (most of the time of a batch-1 Gemm); sgemv reads it
     * once, in place. */
    if (m == 1 && k > 0) {
        /* c[0, :] = alpha * op(A)[0, :] . op(B) + beta * c; op(A)'s row is A's column when
         * transposed, so its elements are lda apart. */
        blasint inc_a = trans_a ? (blasint)lda : 1;
        if (trans_b) /* B is [n, k]: y = B x */
            cblas_sgemv(CblasRowMajor, CblasNoTrans, (blasint)n, (blasint)k, alpha, b, (blasint)ldb,
                        a, inc_a, beta, c, 1);
        else /* B is [k, n]: y = B^T x */
            cblas_sgemv(CblasRowMajor, CblasTrans, (blasint)k, (blasint)n, alpha, b, (blasint)ldb,
                        a, inc_a, beta, c, 1);
        return;
    }
    if (n == 1 && k > 0) {
        /* c[:, 0] = alpha * op(A) . op(B)[:, 0] + beta * c[:, 0]; c's elements are ldc apart. */
        blasint inc_b = trans_b ? 1 : (blasint)ldb;
        if (trans_a) /* A is [k, m]: y = A^T x */
            cblas_sgemv(CblasRowMajor, CblasTrans, (blasint)k, (blasint)m, alpha, a, (blasint)lda,
                        b, inc_b, beta, c, (blasint)ldc);
        else /* A is [m, k] */
            cblas_sgemv(CblasRowMajor, CblasNoTrans, (blasint)m, (blasint)k, alpha, a, (blasint)lda,
                        b, inc_b, beta, c, (blasint)ldc);
        return;
    }
    cblas_sgemm(CblasRowMajor, trans_a ? CblasTrans : CblasNoTrans,
                trans_b ? CblasTrans : CblasNoTrans, (blasint)m, (blasint)n, (blasint)k, alpha, a,
                (blasint)lda, b, (blasint)ldb, beta, c, (blasint)ldc);
}

void ais__dgemm(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, double alpha,
                const double *a, int64_t lda, const double *b, int64_t ldb, double beta, double *c,
                int64_t ldc) {
    if (m <= 0 || n <= 0) return;
    ais__blas_call call;
    ais__blas_enter((double)m * (double)n * (double)k, AIS__GEMM_SPLIT, &call);
    cblas_dgemm(CblasRowMajor, trans_a ? CblasTrans : CblasNoTrans,
                trans_b ? CblasTrans : CblasNoTrans, (blasint)m, (blasint)n, (blasint)k, alpha, a,
                (blasint)lda, b, (blasint)ldb, beta, c, (blasint)ldc);
    ais__blas_leave(&call);
}

AIS_API ais_status ais_set_num_threads(int32_t threads) {
    /* Our width only: BLAS calls take it per call (above), so the process's BLAS setting, which
     * the application may rely on, stays as it is. */
    return ais__default_pool_set_threads(threads);
}
