/*
 * gemm_kernel.h - the GEMM micro-kernel and packing, written once for AVX2 and AVX-512 (included by
 * x86/avx2/avx2_gemm.c and x86/avx512/avx512_gemm.c after they define the vector type and
 * AIS__GK_MR, AIS__GK_NV: the tile is MR rows of C by NV vectors of W floats).
 *
 * Per k step the kernel loads NV vectors of the packed B row and broadcasts MR elements of the
 * packed A column, MR * NV FMAs into MR * NV accumulators that stay in registers the whole k
 * loop (AVX-512 14 x 2: 28 of 32 zmm; AVX2 6 x 2: 12 of 16 ymm). C is row-major, so a row of the
 * tile is NV contiguous vectors: full tiles load/store C directly with the epilogue in the
 * store; edge tiles go through a small buffer and the scalar epilogue.
 */
#include "simd_transpose.h"

#define AIS__GK_NR (AIS__GK_NV * AIS__W)

static void AIS__SX(pack_a)(bool trans_a, const float *a, int64_t lda, int64_t m0, int64_t m,
                            int64_t k, float *ap) {
    int64_t rows = AIS__MIN((int64_t)AIS__GK_MR, m - m0);
    if (trans_a) {
        /* op(A)[m0 + i, p] = a[p * lda + m0 + i]: rows of a are contiguous runs of the panel */
        for (int64_t p = 0; p < k; p++) {
            const float *src = a + p * lda + m0;
            float *dst = ap + p * AIS__GK_MR;
            int64_t i = 0;
            for (; i < rows; i++)
                dst[i] = src[i];
            for (; i < AIS__GK_MR; i++)
                dst[i] = 0.0f;
        }
        return;
    }
    int64_t p0 = 0;
#if AIS__W == 16
    if (rows == AIS__GK_MR) {
        /* AVX-512: 16 k steps at a time, the panel's MR rows (MR <= 16) transposed as one 16 x 16
         * block and each column stored as MR floats with a mask: half the instructions of the
         * 8 x 8 path below, whose blocks of 8 rows split MR = 14 into 8 + a masked 6 (packing A
         * took 8% of a 512^3 product with them, 5% with this) */
        const __mmask16 mask = (__mmask16)((1u << AIS__GK_MR) - 1);
        for (; p0 + 16 <= k; p0 += 16) {
            __m512 r[16];
#pragma GCC unroll 16
            for (int j = 0; j < 16; j++)
                r[j] =
                    j < AIS__GK_MR ? _mm512_loadu_ps(a + (m0 + j) * lda + p0) : _mm512_setzero_ps();
            ais__x86_tr16(r);
#pragma GCC unroll 16
            for (int q = 0; q < 16; q++)
                _mm512_mask_storeu_ps(ap + (p0 + q) * AIS__GK_MR, mask, r[q]);
        }
    }
#endif
#if AIS__GK_MR < 8
    if (rows == AIS__GK_MR) {
        /* A tile of fewer than 8 rows (AVX2 6 x 16): the 8 x 8 block below holds all the panel's
         * rows, and its columns go out with plain 8-float stores in k order, each spilling
         * 8 - MR zeros into the next k step's slot, which the next store then overwrites; only
         * the block's last column is stored exactly, as 4 + 2 floats. The masked store for
         * every column took 3 cycles a float on Zen 3 (vmaskmovps stores are microcoded there):
         * a fifth of a 256^3 product's time went to packing A. */
        for (; p0 + 8 <= k; p0 += 8) {
            __m256 r[8];
#pragma GCC unroll 8
            for (int j = 0; j < 8; j++) {
                const float *row = a + (m0 + j) * lda + p0;
                /* Each row of the panel is a separate stream (a page apart when lda is 1024),
                 * which the hardware prefetchers follow late: fetching 256 bytes ahead took
                 * packing A from 3.1% to 2.3% of a 1024^3 product's perf samples */
                if (j < AIS__GK_MR) _mm_prefetch((const char *)(row + 64), _MM_HINT_T0);
                r[j] = j < AIS__GK_MR ? _mm256_loadu_ps(row) : _mm256_setzero_ps();
            }
            ais__x86_tr8(r);
            float *dst = ap + p0 * AIS__GK_MR;
#pragma GCC unroll 7
            for (int q = 0; q < 7; q++)
                _mm256_storeu_ps(dst + q * AIS__GK_MR, r[q]);
            /* the last column exactly: 4 + 2 floats (a masked store here is microcoded too) */
            _mm_storeu_ps(dst + 7 * AIS__GK_MR, _mm256_castps256_ps128(r[7]));
#if AIS__GK_MR == 6
            _mm_storel_pi((__m64 *)(dst + 7 * AIS__GK_MR + 4), _mm256_extractf128_ps(r[7], 1));
#else
#error "the exact last column above stores 6 floats"
#endif
        }
    }
#endif
    if (rows == AIS__GK_MR) {
        /* a full panel: 8 x 8 blocks (rows x k) transposed in registers, 8 k steps at a time;
         * the element-wise copy below stores with a stride of MR floats, one element a cycle,
         * which cost about a tenth of a 256^3 product */
        for (; p0 + 8 <= k; p0 += 8)
            for (int i0 = 0; i0 < AIS__GK_MR; i0 += 8) {
                int nrow = AIS__GK_MR - i0 < 8 ? AIS__GK_MR - i0 : 8;
                __m256 r[8];
                for (int j = 0; j < 8; j++)
                    r[j] = j < nrow ? _mm256_loadu_ps(a + (m0 + i0 + j) * lda + p0)
                                    : _mm256_setzero_ps();
                ais__x86_tr8(r);
                float *dst = ap + p0 * AIS__GK_MR + i0;
                if (nrow == 8) {
                    for (int q = 0; q < 8; q++)
                        _mm256_storeu_ps(dst + q * AIS__GK_MR, r[q]);
                } else {
                    const __m256i mask = _mm256_cmpgt_epi32(
                        _mm256_set1_epi32(nrow), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
                    for (int q = 0; q < 8; q++)
                        _mm256_maskstore_ps(dst + q * AIS__GK_MR, mask, r[q]);
                }
            }
    }
    for (int64_t i = 0; i < rows; i++) {
        const float *src = a + (m0 + i) * lda;
        for (int64_t p = p0; p < k; p++)
            ap[p * AIS__GK_MR + i] = src[p];
    }
    for (int64_t i = rows; i < AIS__GK_MR; i++)
        for (int64_t p = 0; p < k; p++)
            ap[p * AIS__GK_MR + i] = 0.0f;
}

static void AIS__SX(pack_b)(bool trans_b, const float *b, int64_t ldb, int64_t n0, int64_t n,
                            int64_t k, float *bp) {
    int64_t cols = AIS__MIN((int64_t)AIS__GK_NR, n - n0);
    if (!trans_b) {
        for (int64_t p = 0; p < k; p++) {
            const float *src = b + p * ldb + n0;
            float *dst = bp + p * AIS__GK_NR;
            if (cols == AIS__GK_NR) {
                for (int v = 0; v < AIS__GK_NV; v++)
                    vstore(dst + v * AIS__W, vload(src + v * AIS__W));
            } else {
                int64_t j = 0;
                for (; j < cols; j++)
                    dst[j] = src[j];
                for (; j < AIS__GK_NR; j++)
                    dst[j] = 0.0f;
            }
        }
        return;
    }
    /* op(B)[p, n0 + j] = b[(n0 + j) * ldb + p] */
#if AIS__W == 8
    if (cols == AIS__GK_NR) {
        /* a full panel (attention's K in Q K^T): 8 x 8 blocks (columns x k) transposed in
         * registers, each k step's 8 columns one store; the element-wise copy below stores with
         * a stride of NR floats */
        int64_t p0 = 0;
        for (; p0 + 8 <= k; p0 += 8)
            for (int j0 = 0; j0 < AIS__GK_NR; j0 += 8) {
                __m256 r[8];
#pragma GCC unroll 8
                for (int j = 0; j < 8; j++)
                    r[j] = _mm256_loadu_ps(b + (n0 + j0 + j) * ldb + p0);
                ais__x86_tr8(r);
#pragma GCC unroll 8
                for (int q = 0; q < 8; q++)
                    _mm256_storeu_ps(bp + (p0 + q) * AIS__GK_NR + j0, r[q]);
            }
        for (int64_t j = 0; j < cols; j++) {
            const float *src = b + (n0 + j) * ldb;
            for (int64_t p = p0; p < k; p++)
                bp[p * AIS__GK_NR + j] = src[p];
        }
        return;
    }
#endif
    for (int64_t j = 0; j < cols; j++) {
        const float *src = b + (n0 + j) * ldb;
        for (int64_t p = 0; p < k; p++)
            bp[p * AIS__GK_NR + j] = src[p];
    }
    for (int64_t j = cols; j < AIS__GK_NR; j++)
        for (int64_t p = 0; p < k; p++)
            bp[p * AIS__GK_NR + j] = 0.0f;
}

/* One row of accumulators through the epilogue into C (the inline activations; the others are
 * the driver's, ais__gemm_act_rows). */
static inline V AIS__SX(gk_ep)(V v, const ais__gemm_epilogue *ep, int64_t i, int v_idx) {
    if (ep->bias) {
        const float *bi = ep->bias + i * ep->bias_rs;
        v = vadd(v, ep->bias_cs ? vload(bi + v_idx * AIS__W) : vset(bi[0]));
    }
    /* max(0, v) returns v when v is NaN (the second operand): Relu keeps NaN, as ref/ does;
     * the same for Clip's max and min */
    switch (ep->act) {
    case AIS__GEMM_ACT_RELU: v = vmax(vset(0.0f), v); break;
    case AIS__GEMM_ACT_LEAKY_RELU: v = vleaky(v, ep->act_alpha); break;
    case AIS__GEMM_ACT_CLIP: v = vmin(vset(ep->act_beta), vmax(vset(ep->act_alpha), v)); break;
    default: break;
    }
    return v;
}

/* The tile of R rows (R = mr_used, a constant once inlined): R x NVU accumulators (NVU = NV, or
 * 1 for an edge tile of at most W columns: the 49 columns of a 7x7 plane are 3 panels and one
 * column, and the full tile spent 16 multiply-adds a row on it), and for short tiles U sets of
 * them over alternating k steps, so that at least 8 independent FMA chains hide the FMA latency
 * (a batch-1 product is one row: 2 chains would run at a quarter of the rate). U depends on R
 * only, so a column sums its k steps in the same order in either width (the same bits). */
static inline __attribute__((always_inline)) void
AIS__SX(uk_rows)(const int R, const int NVU, int64_t k, const float *ap, const float *bp, float *c,
                 int64_t ldc, int nr_used, bool accumulate, const ais__gemm_epilogue *ep) {
    enum { U_MAX = 4 };
    const int U = R == 1 ? 4 : (R <= 3 ? 2 : 1);
    V acc[U_MAX][AIS__GK_MR][AIS__GK_NV];
    /* C's rows are ldc apart (often a power of two: the same L1 set); fetch them while the k loop
     * runs rather than stall on them in the store */
    for (int i = 0; i < R; i++) {
        _mm_prefetch((const char *)(c + i * ldc), _MM_HINT_T0);
        _mm_prefetch((const char *)(c + i * ldc + AIS__GK_NR - 1), _MM_HINT_T0);
    }
#pragma GCC unroll 4
    for (int u = 0; u < U; u++)
#pragma GCC unroll 16
        for (int i = 0; i < R; i++)
#pragma GCC unroll 4
            for (int v = 0; v < NVU; v++)
                acc[u][i][v] = vset(0.0f);
    int64_t p = 0;
#pragma GCC unroll 2
    for (; p + U <= k; p += U) {
#pragma GCC unroll 4
        for (int u = 0; u < U; u++) {
            const float *a1 = ap + (p + u) * AIS__GK_MR, *b1 = bp + (p + u) * AIS__GK_NR;
            V bv[AIS__GK_NV];
#pragma GCC unroll 4
            for (int v = 0; v < NVU; v++)
                bv[v] = vload(b1 + v * AIS__W);
#pragma GCC unroll 16
            for (int i = 0; i < R; i++) {
                V av = vset(a1[i]);
#pragma GCC unroll 4
                for (int v = 0; v < NVU; v++)
                    acc[u][i][v] = vfma(av, bv[v], acc[u][i][v]);
            }
        }
    }
    for (; p < k; p++) {
        const float *a1 = ap + p * AIS__GK_MR, *b1 = bp + p * AIS__GK_NR;
        V bv[AIS__GK_NV];
#pragma GCC unroll 4
        for (int v = 0; v < NVU; v++)
            bv[v] = vload(b1 + v * AIS__W);
#pragma GCC unroll 16
        for (int i = 0; i < R; i++) {
            V av = vset(a1[i]);
#pragma GCC unroll 4
            for (int v = 0; v < NVU; v++)
                acc[0][i][v] = vfma(av, bv[v], acc[0][i][v]);
        }
    }
#pragma GCC unroll 4
    for (int u = 1; u < U; u++)
#pragma GCC unroll 16
        for (int i = 0; i < R; i++)
#pragma GCC unroll 4
            for (int v = 0; v < NVU; v++)
                acc[0][i][v] = vadd(acc[0][i][v], acc[u][i][v]);
    if (nr_used == AIS__GK_NR) {
#pragma GCC unroll 16
        for (int i = 0; i < R; i++)
#pragma GCC unroll 4
            for (int v = 0; v < NVU; v++) {
                float *cp = c + i * ldc + v * AIS__W;
                V r = accumulate ? vadd(vload(cp), acc[0][i][v]) : acc[0][i][v];
                if (ep) r = AIS__SX(gk_ep)(r, ep, i, v);
                vstore(cp, r);
            }
        return;
    }
    float tmp[AIS__GK_MR * AIS__GK_NR];
#pragma GCC unroll 16
    for (int i = 0; i < R; i++)
#pragma GCC unroll 4
        for (int v = 0; v < NVU; v++)
            vstore(tmp + i * AIS__GK_NR + v * AIS__W, acc[0][i][v]);
/* GCC at -O3 cannot see that the stores above cover rows 0..R-1, which are all that is read. */
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif
    for (int i = 0; i < R; i++)
        for (int j = 0; j < nr_used; j++) {
            float r = tmp[i * AIS__GK_NR + j];
            if (accumulate) r += c[i * ldc + j];
            c[i * ldc + j] = ais__gemm_ep1(ep, r, i, j);
        }
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic pop
#endif
}

#define AIS__GK_CASE(R, NVU)                                                                       \
    case R:                                                                                        \
        AIS__SX(uk_rows)                                                                           \
        (R < AIS__GK_MR ? R : AIS__GK_MR, NVU, k, ap, bp, c, ldc, nr_used, accumulate, ep);        \
        return;

static void AIS__SX(ukernel_ep)(int64_t k, const float *ap, const float *bp, float *c, int64_t ldc,
                                int mr_used, int nr_used, bool accumulate,
                                const ais__gemm_epilogue *ep) {
    /* one body per row count: the edge tiles (the last rows of C, a batch-1 product) compute
     * only the rows they store; at AVX2 (measured there only) an edge tile of at most one vector
     * of columns computes only that vector */
#if AIS__W == 8 && AIS__GK_NV > 1 && AIS__GK_MR == 6
    if (nr_used <= AIS__W) {
        switch (mr_used) {
            AIS__GK_CASE(1, 1)
            AIS__GK_CASE(2, 1)
            AIS__GK_CASE(3, 1)
            AIS__GK_CASE(4, 1)
            AIS__GK_CASE(5, 1)
        default:
            AIS__SX(uk_rows)(AIS__GK_MR, 1, k, ap, bp, c, ldc, nr_used, accumulate, ep);
            return;
        }
    }
#endif
    switch (mr_used) {
        AIS__GK_CASE(1, AIS__GK_NV)
        AIS__GK_CASE(2, AIS__GK_NV)
        AIS__GK_CASE(3, AIS__GK_NV)
        AIS__GK_CASE(4, AIS__GK_NV)
        AIS__GK_CASE(5, AIS__GK_NV)
        AIS__GK_CASE(6, AIS__GK_NV)
#if AIS__GK_MR > 7
        AIS__GK_CASE(7, AIS__GK_NV)
        AIS__GK_CASE(8, AIS__GK_NV)
        AIS__GK_CASE(9, AIS__GK_NV)
        AIS__GK_CASE(10, AIS__GK_NV)
        AIS__GK_CASE(11, AIS__GK_NV)
        AIS__GK_CASE(12, AIS__GK_NV)
        AIS__GK_CASE(13, AIS__GK_NV)
#endif
    default:
        AIS__SX(uk_rows)(AIS__GK_MR, AIS__GK_NV, k, ap, bp, c, ldc, nr_used, accumulate, ep);
        return;
    }
}
#undef AIS__GK_CASE

static void AIS__SX(ukernel)(int64_t k, const float *ap, const float *bp, float *c, int64_t ldc,
                             int mr_used, int nr_used, bool accumulate) {
    AIS__SX(ukernel_ep)(k, ap, bp, c, ldc, mr_used, nr_used, accumulate, NULL);
}

static void AIS__SX(fill_gemm_slots)(ais__cpu_kernels *k) {
    k->gemm_mr = AIS__GK_MR;
    k->gemm_nr = AIS__GK_NR;
    k->gemm_pack_a = AIS__SX(pack_a);
    k->gemm_pack_b = AIS__SX(pack_b);
    k->gemm_ukernel = AIS__SX(ukernel);
    k->gemm_ukernel_ep = AIS__SX(ukernel_ep);
}
