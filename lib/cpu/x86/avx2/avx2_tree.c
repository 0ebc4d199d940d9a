/*
 * avx2_tree.c - the AVX2 block walk of a tree ensemble: exactly 16 rows with gathers, two
 * vectors of 8 rows in flight to hide the gathers' latency. Other row counts take the portable
 * walk. Compiled with -mavx2 -mfma for this file only.
 */
#include <immintrin.h>

#include "cpu/cpu.h"

static inline __attribute__((always_inline)) void
ais__avx2_tree_impl(const ais__cpu_forest *f, size_t t0, size_t t1, const float *x, size_t cols,
                    ais__cpu_tree_acc acc, bool f32) {
    const __m256i one = _mm256_set1_epi32(1), fmask = _mm256_set1_epi32(0x7fffffff);
    const __m256i ro0 =
        _mm256_mullo_epi32(_mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7), _mm256_set1_epi32((int)cols));
    const __m256i ro1 = _mm256_add_epi32(ro0, _mm256_set1_epi32((int)(8 * cols)));
    _Alignas(32) uint32_t idx[16];
    size_t w = f->width;
    for (size_t t = t0; t < t1; t++) {
        unsigned d = f->depth[t];
        const float *th = f->thr + f->node_off[t];
        const int *fd = (const int *)(f->fd + f->node_off[t]);
        /* the leaves are taken before the walk, off its critical path */
        uint32_t first = ((uint32_t)1 << d) - 1;
        size_t k = f->target[t];
        const float *lf = f32 ? f->leaf32 + f->leaf_off[t] : NULL;
        const double *ld = f32 ? NULL : f->leaf + f->leaf_off[t];
        __m256i i0 = _mm256_setzero_si256(), i1 = _mm256_setzero_si256();
        for (unsigned l = 0; l < d; l++) {
            __m256i f0, f1;
            __m256 t0v, t1v;
            if (l < 4) {
                /* the 2^l nodes of level l sit in one register: a permute, not a gather */
                int fst = (1 << l) - 1;
                __m256i b = _mm256_set1_epi32(fst);
                __m256 tl = _mm256_loadu_ps(th + fst);
                __m256i fl = _mm256_loadu_si256((const __m256i *)(fd + fst));
                __m256i p0 = _mm256_sub_epi32(i0, b), p1 = _mm256_sub_epi32(i1, b);
                t0v = _mm256_permutevar8x32_ps(tl, p0);
                t1v = _mm256_permutevar8x32_ps(tl, p1);
                f0 = _mm256_permutevar8x32_epi32(fl, p0);
                f1 = _mm256_permutevar8x32_epi32(fl, p1);
            } else {
                f0 = _mm256_i32gather_epi32(fd, i0, 4);
                f1 = _mm256_i32gather_epi32(fd, i1, 4);
                t0v = _mm256_i32gather_ps(th, i0, 4);
                t1v = _mm256_i32gather_ps(th, i1, 4);
            }
            __m256 x0 =
                _mm256_i32gather_ps(x, _mm256_add_epi32(ro0, _mm256_and_si256(f0, fmask)), 4);
            __m256 x1 =
                _mm256_i32gather_ps(x, _mm256_add_epi32(ro1, _mm256_and_si256(f1, fmask)), 4);
            __m256i r0 = _mm256_or_si256(
                _mm256_castps_si256(_mm256_cmp_ps(x0, t0v, _CMP_GT_OQ)),
                _mm256_and_si256(_mm256_castps_si256(_mm256_cmp_ps(x0, x0, _CMP_UNORD_Q)),
                                 _mm256_srai_epi32(f0, 31)));
            __m256i r1 = _mm256_or_si256(
                _mm256_castps_si256(_mm256_cmp_ps(x1, t1v, _CMP_GT_OQ)),
                _mm256_and_si256(_mm256_castps_si256(_mm256_cmp_ps(x1, x1, _CMP_UNORD_Q)),
                                 _mm256_srai_epi32(f1, 31)));
            /* r is -1 where the row goes right */
            i0 = _mm256_sub_epi32(_mm256_add_epi32(_mm256_add_epi32(i0, i0), one), r0);
            i1 = _mm256_sub_epi32(_mm256_add_epi32(_mm256_add_epi32(i1, i1), one), r1);
        }
        _mm256_store_si256((__m256i *)idx, i0);
        _mm256_store_si256((__m256i *)(idx + 8), i1);
        if (f32)
            for (size_t r = 0; r < 16; r++)
                acc.f[r * w + k] += lf[idx[r] - first];
        else
            for (size_t r = 0; r < 16; r++)
                acc.d[r * w + k] += ld[idx[r] - first];
    }
}

static void ais__avx2_tree_block(const ais__cpu_forest *f, size_t t0, size_t t1, const float *x,
                                 size_t cols, size_t nr, ais__cpu_tree_acc acc, bool f32) {
    if (nr != 16 || cols > (size_t)INT32_MAX / 32) {
        ais__cpu_ref_tree_block(f, t0, t1, x, cols, nr, acc, f32);
        return;
    }
    /* two instances, so that the leaf type is a constant inside each */
    if (f32)
        ais__avx2_tree_impl(f, t0, t1, x, cols, acc, true);
    else
        ais__avx2_tree_impl(f, t0, t1, x, cols, acc, false);
}

void ais__avx2_fill_tree(ais__cpu_kernels *k) { k->tree_block = ais__avx2_tree_block; }
