/*
 * cpu_blas.h - the CPU backend's matrix products, through OpenBLAS. Kernels call these rather
 * than cblas directly so that the BLAS library can be swapped in one place.
 */
#ifndef AIS_CPU_BLAS_H
#define AIS_CPU_BLAS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* C[m,n] = alpha * op(A) op(B) + beta * C, row-major; op(X) = X^T when trans_x.
 * lda, ldb, ldc are the row strides of A, B, C as stored. */
void ais__sgemm(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, float alpha,
                const float *a, int64_t lda, const float *b, int64_t ldb, float beta, float *c,
                int64_t ldc);
void ais__dgemm(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, double alpha,
                const double *a, int64_t lda, const double *b, int64_t ldb, double beta,
                double *c, int64_t ldc);

#endif /* AIS_CPU_BLAS_H */
