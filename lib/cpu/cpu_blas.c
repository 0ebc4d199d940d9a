/* cpu_blas.c - OpenBLAS behind a small interface (the GEMM provider of the kernel tables), and the
 * thread-count setting that keeps our pool and OpenBLAS's from oversubscribing the cores. */
#include "cpu.h"

#include <cblas.h>

#include "../common/common.h"

/* Declared here because Debian's generic cblas.h (an alternative that may point at another
 * BLAS) does not declare it; OpenBLAS always exports it. */
extern void openblas_set_num_threads(int num_threads);

void ais__sgemm(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, float alpha,
                const float *a, int64_t lda, const float *b, int64_t ldb, float beta, float *c,
                int64_t ldc) {
    if (m <= 0 || n <= 0) return;
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
    cblas_dgemm(CblasRowMajor, trans_a ? CblasTrans : CblasNoTrans,
                trans_b ? CblasTrans : CblasNoTrans, (blasint)m, (blasint)n, (blasint)k, alpha, a,
                (blasint)lda, b, (blasint)ldb, beta, c, (blasint)ldc);
}

AIS_API ais_status ais_set_num_threads(int32_t threads) {
    AIS__CHECK(ais__default_pool_set_threads(threads));
    openblas_set_num_threads(threads == 0 ? ais__cpu_count() : threads);
    return AIS_OK;
}
