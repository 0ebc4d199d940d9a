/*
 * cpu_gemm.c - our packed single-precision GEMM (BLIS style), the same driver for every level:
 * the level's table gives the micro-kernel (an mr x nr register tile), its packing and the cache
 * blocking. Loops, outer to inner: nc columns of C (B block kc x nc packed into L2/L3 scratch,
 * or taken from a pre-packed weight), kc deep slices, mc rows (A block mc x kc packed into L2
 * scratch, alpha folded in), then nr-wide panels of B (one stays in L1) and mr-high tiles of A.
 * beta is applied to C once up front (or by overwriting on the first slice when 0), the epilogue
 * by the micro-kernel's store of the last slice.
 */
#include <string.h>

#include "../common/common.h"
#include "cpu.h"

/* Layout of a packed op(B) [k, n] (pre-packed or one nc block of it): kc-deep slices one after
 * the other (slice at row pc starts at pc * np * nr), each slice a row of np panels of kcb x nr
 * (panel q at q * kcb * nr), zero-padded past n. */
static int64_t ais__gemm_panels(const ais__cpu_kernels *t, int64_t n) {
    return (n + t->gemm_nr - 1) / t->gemm_nr;
}

size_t ais__gemm_packed_size(const ais__cpu_kernels *t, int64_t k, int64_t n) {
    if (k <= 0 || n <= 0) return 0;
    return (size_t)k * (size_t)ais__gemm_panels(t, n) * (size_t)t->gemm_nr;
}

/* op(B) rows [pc, ...) of b: where the packing starts. */
static const float *ais__gemm_brow(bool trans_b, const float *b, int64_t ldb, int64_t pc) {
    return trans_b ? b + pc : b + pc * ldb;
}

void ais__gemm_prepack(const ais__cpu_kernels *t, bool trans_b, const float *b, int64_t ldb,
                       int64_t k, int64_t n, float *dst) {
    int64_t nr = t->gemm_nr, np = ais__gemm_panels(t, n);
    for (int64_t pc = 0; pc < k; pc += t->gemm_kc) {
        int64_t kcb = AIS__MIN(t->gemm_kc, k - pc);
        const float *bs = ais__gemm_brow(trans_b, b, ldb, pc);
        for (int64_t q = 0; q < np; q++)
            t->gemm_pack_b(trans_b, bs, ldb, q * nr, n, kcb, dst + pc * np * nr + q * kcb * nr);
    }
}

/* C = beta C then the epilogue, element by element: the k == 0 (or alpha == 0) product. */
static void ais__gemm_scale_only(int64_t m, int64_t n, float beta, float *c, int64_t ldc,
                                 const ais__gemm_epilogue *ep) {
    for (int64_t i = 0; i < m; i++)
        for (int64_t j = 0; j < n; j++) {
            float v = beta == 0 ? 0.0f : beta * c[i * ldc + j];
            c[i * ldc + j] = ais__gemm_ep1(ep, v, i, j);
        }
}

/* Scratch of one call: the packed A block, then (at a 64-byte boundary) the packed B block. */
static void ais__gemm_scratch_parts(const ais__cpu_kernels *t, int64_t m, int64_t n, int64_t k,
                                    bool b_packed, size_t *a_floats, size_t *b_floats) {
    const int64_t mr = t->gemm_mr, nr = t->gemm_nr;
    const int64_t mc = t->gemm_mc / mr * mr, nc = t->gemm_nc / nr * nr;
    int64_t kc = AIS__MIN(t->gemm_kc, k), mrows = AIS__MIN(mc, (m + mr - 1) / mr * mr);
    *a_floats = ((size_t)(mrows * kc) + 15) / 16 * 16;
    *b_floats = b_packed ? 0 : (size_t)(AIS__MIN(nc, ais__gemm_panels(t, n) * nr) * kc);
}

size_t ais__gemm_scratch_floats(const ais__cpu_kernels *t, int64_t m, int64_t n, int64_t k,
                                bool b_packed) {
    if (m <= 0 || n <= 0 || k <= 0) return 0;
    size_t af, bf;
    ais__gemm_scratch_parts(t, m, n, k, b_packed, &af, &bf);
    return af + bf;
}

void ais__gemm_drive(const ais__cpu_kernels *t, bool trans_a, bool trans_b, int64_t m, int64_t n,
                     int64_t k, float alpha, const float *a, int64_t lda, const float *b,
                     int64_t ldb, const float *b_packed, float beta, float *c, int64_t ldc,
                     const ais__gemm_epilogue *ep, float *scratch) {
    if (m <= 0 || n <= 0) return;
    if (k <= 0 || alpha == 0) {
        ais__gemm_scale_only(m, n, beta, c, ldc, ep);
        return;
    }
    const int64_t mr = t->gemm_mr, nr = t->gemm_nr, kc = t->gemm_kc;
    const int64_t mc = t->gemm_mc / mr * mr, nc = t->gemm_nc / nr * nr;
    const int64_t np = ais__gemm_panels(t, n);
    size_t a_floats, b_floats;
    ais__gemm_scratch_parts(t, m, n, k, b_packed != NULL, &a_floats, &b_floats);
    float *own = NULL;
    if (!scratch) scratch = own = ais__malloc_aligned((a_floats + b_floats) * sizeof(float), 64);
    if (!scratch) {
        /* No scratch: BLAS needs none of ours. A pre-packed B comes with b NULL when its owner
         * dropped the weight: then there is nothing to fall back on, and C is left alone. */
        if (b_packed && !b) return;
        ais__sgemm(trans_a, trans_b, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
        if (ep)
            for (int64_t i = 0; i < m; i++)
                for (int64_t j = 0; j < n; j++)
                    c[i * ldc + j] = ais__gemm_ep1(ep, c[i * ldc + j], i, j);
        return;
    }
    float *abuf = scratch, *bbuf = scratch + a_floats;
    if (beta != 0 && beta != 1)
        for (int64_t i = 0; i < m; i++)
            for (int64_t j = 0; j < n; j++)
                c[i * ldc + j] *= beta;
    for (int64_t jc = 0; jc < n; jc += nc) {
        int64_t ncb = AIS__MIN(nc, n - jc);
        for (int64_t pc = 0; pc < k; pc += kc) {
            int64_t kcb = AIS__MIN(kc, k - pc);
            bool accumulate = beta != 0 || pc > 0, last = pc + kcb >= k;
            const float *bblk;
            if (b_packed) {
                bblk = b_packed + pc * np * nr + jc / nr * kcb * nr;
            } else {
                const float *bs = ais__gemm_brow(trans_b, b, ldb, pc);
                for (int64_t q = 0; q * nr < ncb; q++)
                    t->gemm_pack_b(trans_b, bs, ldb, jc + q * nr, n, kcb, bbuf + q * kcb * nr);
                bblk = bbuf;
            }
            const float *as = trans_a ? a + pc * lda : a + pc;
            for (int64_t ic = 0; ic < m; ic += mc) {
                int64_t mcb = AIS__MIN(mc, m - ic);
                for (int64_t ir = 0; ir < mcb; ir += mr)
                    t->gemm_pack_a(trans_a, as, lda, ic + ir, m, kcb, abuf + ir * kcb);
                if (alpha != 1) {
                    size_t cnt = (size_t)((mcb + mr - 1) / mr * mr * kcb);
                    for (size_t i = 0; i < cnt; i++)
                        abuf[i] *= alpha;
                }
                for (int64_t jr = 0; jr < ncb; jr += nr)
                    for (int64_t ir = 0; ir < mcb; ir += mr) {
                        int64_t i0 = ic + ir, j0 = jc + jr;
                        ais__gemm_epilogue tile, *tp = NULL;
                        if (last && ep) {
                            tile = *ep;
                            if (tile.bias) tile.bias += i0 * ep->bias_rs + j0 * ep->bias_cs;
                            tp = &tile;
                        }
                        t->gemm_ukernel_ep(kcb, abuf + ir * kcb, bblk + jr / nr * kcb * nr,
                                           c + i0 * ldc + j0, ldc, (int)AIS__MIN(mr, m - i0),
                                           (int)AIS__MIN(nr, n - j0), accumulate, tp);
                    }
            }
        }
    }
    ais__free(own);
}

bool ais__gemm_ours_wins(int64_t m, int64_t n, int64_t k) {
    /* Not chosen yet: BLAS everywhere until bench_ops has measured where ours is faster. */
    (void)m, (void)n, (void)k;
    return false;
}

/* ---- threads: the product split into independent blocks of C ---- */

typedef struct ais__gemm_job {
    const ais__cpu_kernels *t;
    bool trans_a, trans_b, by_rows;
    int64_t m, n, k, lda, ldb, ldc, step;
    float alpha, beta;
    const float *a, *b, *b_packed;
    float *c;
    const ais__gemm_epilogue *ep;
} ais__gemm_job;

static void ais__gemm_chunk(void *vj, size_t begin, size_t end) {
    const ais__gemm_job *j = vj;
    int64_t s0 = (int64_t)begin * j->step,
            s1 = AIS__MIN((int64_t)end * j->step, j->by_rows ? j->m : j->n);
    ais__gemm_epilogue ep;
    const ais__gemm_epilogue *epp = NULL;
    if (j->ep) {
        ep = *j->ep;
        if (ep.bias) ep.bias += s0 * (j->by_rows ? ep.bias_rs : ep.bias_cs);
        epp = &ep;
    }
    if (j->by_rows) {
        const float *a = j->trans_a ? j->a + s0 : j->a + s0 * j->lda;
        ais__gemm_drive(j->t, j->trans_a, j->trans_b, s1 - s0, j->n, j->k, j->alpha, a, j->lda,
                        j->b, j->ldb, j->b_packed, j->beta, j->c + s0 * j->ldc, j->ldc, epp, NULL);
    } else {
        const float *b = j->trans_b ? j->b + s0 * j->ldb : j->b + s0;
        ais__gemm_drive(j->t, j->trans_a, j->trans_b, j->m, s1 - s0, j->k, j->alpha, j->a, j->lda,
                        b, j->ldb, NULL, j->beta, j->c + s0, j->ldc, epp, NULL);
    }
}

void ais__gemm_parallel(ais__pool *pool, const ais__cpu_kernels *t, bool trans_a, bool trans_b,
                        int64_t m, int64_t n, int64_t k, float alpha, const float *a, int64_t lda,
                        const float *b, int64_t ldb, const float *b_packed, float beta, float *c,
                        int64_t ldc, const ais__gemm_epilogue *ep) {
    int32_t threads = pool ? ais__pool_threads(pool) : 1;
    if (m <= 0 || n <= 0) return;
    /* A pre-packed B's panels span all of n: only rows split then. Otherwise split the longer
     * side, in whole tiles, into about 4 blocks per thread (the pool balances them). */
    bool by_rows = b_packed || m >= n;
    int64_t len = by_rows ? m : n, unit = by_rows ? t->gemm_mr : t->gemm_nr;
    int64_t tiles = (len + unit - 1) / unit;
    if (threads <= 1 || tiles < 2 || (double)m * (double)n * (double)k < 1e6) {
        ais__gemm_drive(t, trans_a, trans_b, m, n, k, alpha, a, lda, b, ldb, b_packed, beta, c, ldc,
                        ep, NULL);
        return;
    }
    int64_t blocks = AIS__MIN(tiles, (int64_t)threads * 4);
    int64_t per = (tiles + blocks - 1) / blocks * unit;
    ais__gemm_job j = {t,   trans_a, trans_b, by_rows, m, n, k,        lda, ldb,
                       ldc, per,     alpha,   beta,    a, b, b_packed, c,   ep};
    ais__parallel_for(pool, (size_t)((len + per - 1) / per), 1, ais__gemm_chunk, &j);
}
