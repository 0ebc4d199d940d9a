/*
 * avx512_tree.c - the AVX-512 block walk of a tree ensemble: exactly 16 rows, one zmm, with the
 * top five levels (31 nodes) of a tree held in two registers and read with a two-source permute,
 * gathers below (a level read from registers costs one gather, the row's feature, instead of
 * three: bench_dask's depth-6 XGBoost trees walk 8 gathers a tree instead of 10). Two trees walk at
 * once, so that two independent gather chains hide each other's latency (a tree's levels depend on
 * each other; 16 rows of one tree are a single chain). Other row counts take the portable walk.
 * Compiled with the AVX-512 flags for this file only.
 */
#include <immintrin.h>

#include "cpu/cpu.h"

/* One tree's walk in flight: its nodes, the top levels' registers and the rows' node indices. */
typedef struct ais__avx512_walk {
    const float *th;
    const int *fd;
    __m512 top_t, top_t2;
    __m512i top_f, top_f2, i;
    unsigned d;
} ais__avx512_walk;

static inline __attribute__((always_inline)) void
ais__avx512_walk_init(ais__avx512_walk *w, const ais__cpu_forest *f, size_t t) {
    w->d = f->depth[t];
    w->th = f->thr + f->node_off[t];
    w->fd = (const int *)(f->fd + f->node_off[t]);
    /* Masked loads read only the tree's own nodes (at most 31 of them: nodes 0-15 in the first
     * registers, 16-30 in the second), so the layout's 8-element padding (cpu.h) is enough;
     * masked-off lanes do not fault. */
    unsigned top = w->d >= 5 ? 31u : (1u << w->d) - 1u;
    __mmask16 m = (__mmask16)(top >= 16 ? 0xffffu : (1u << top) - 1u);
    __mmask16 m2 = (__mmask16)(top > 16 ? (1u << (top - 16)) - 1u : 0u);
    w->top_t = _mm512_maskz_loadu_ps(m, w->th);
    w->top_f = _mm512_maskz_loadu_epi32(m, w->fd);
    w->top_t2 = _mm512_maskz_loadu_ps(m2, w->th + 16);
    w->top_f2 = _mm512_maskz_loadu_epi32(m2, w->fd + 16);
    w->i = _mm512_setzero_si512();
}

/* Level l of one tree for the 16 rows: the same rule as ref_tree.c, right when x > threshold or
 * when x is NaN and the node's default direction (bit 31) is right. */
static inline __attribute__((always_inline)) void
ais__avx512_walk_level(ais__avx512_walk *w, unsigned l, const float *x, __m512i ro) {
    __m512 tv;
    __m512i fv;
    if (l < 5) {
        /* node indices are < 31 here: node i is lane i of the first registers (i < 16) or lane
         * i - 16 of the second (index bit 4 picks the register) */
        tv = _mm512_permutex2var_ps(w->top_t, w->i, w->top_t2);
        fv = _mm512_permutex2var_epi32(w->top_f, w->i, w->top_f2);
    } else {
        fv = _mm512_i32gather_epi32(w->i, w->fd, 4);
        tv = _mm512_i32gather_ps(w->i, w->th, 4);
    }
    __m512i off = _mm512_add_epi32(ro, _mm512_and_si512(fv, _mm512_set1_epi32(0x7fffffff)));
    __m512 xv = _mm512_i32gather_ps(off, x, 4);
    __mmask16 right = _mm512_cmp_ps_mask(xv, tv, _CMP_GT_OQ) |
                      (_mm512_cmp_ps_mask(xv, xv, _CMP_UNORD_Q) & _mm512_movepi32_mask(fv));
    __m512i base = _mm512_add_epi32(_mm512_add_epi32(w->i, w->i), _mm512_set1_epi32(1));
    w->i = _mm512_mask_add_epi32(base, right, base, _mm512_set1_epi32(1));
}

static inline __attribute__((always_inline)) void
ais__avx512_walk_add(const ais__avx512_walk *w, const ais__cpu_forest *f, size_t t,
                     ais__cpu_tree_acc acc, bool f32) {
    _Alignas(64) uint32_t idx[16];
    _mm512_store_si512((__m512i *)idx, w->i);
    uint32_t first = ((uint32_t)1 << w->d) - 1;
    size_t k = f->target[t], wd = f->width;
    if (f32) {
        const float *lf = f->leaf32 + f->leaf_off[t];
        for (size_t r = 0; r < 16; r++)
            acc.f[r * wd + k] += lf[idx[r] - first];
    } else {
        const double *ld = f->leaf + f->leaf_off[t];
        for (size_t r = 0; r < 16; r++)
            acc.d[r * wd + k] += ld[idx[r] - first];
    }
}

static inline __attribute__((always_inline)) void
ais__avx512_tree_impl(const ais__cpu_forest *f, size_t t0, size_t t1, const float *x, size_t cols,
                      ais__cpu_tree_acc acc, bool f32) {
    const __m512i ro =
        _mm512_mullo_epi32(_mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15),
                           _mm512_set1_epi32((int)cols));
    size_t t = t0;
    for (; t + 2 <= t1; t += 2) {
        ais__avx512_walk a, b;
        ais__avx512_walk_init(&a, f, t);
        ais__avx512_walk_init(&b, f, t + 1);
        unsigned dm = a.d > b.d ? a.d : b.d;
        for (unsigned l = 0; l < dm; l++) {
            if (l < a.d) ais__avx512_walk_level(&a, l, x, ro);
            if (l < b.d) ais__avx512_walk_level(&b, l, x, ro);
        }
        /* tree t's leaves before tree t + 1's: the sums are added in tree order, as ref does */
        ais__avx512_walk_add(&a, f, t, acc, f32);
        ais__avx512_walk_add(&b, f, t + 1, acc, f32);
    }
    if (t < t1) {
        ais__avx512_walk a;
        ais__avx512_walk_init(&a, f, t);
        for (unsigned l = 0; l < a.d; l++)
            ais__avx512_walk_level(&a, l, x, ro);
        ais__avx512_walk_add(&a, f, t, acc, f32);
    }
}

static void ais__avx512_tree_block(const ais__cpu_forest *f, size_t t0, size_t t1, const float *x,
                                   size_t cols, size_t nr, ais__cpu_tree_acc acc, bool f32) {
    if (nr != 16 || cols > (size_t)INT32_MAX / 32) {
        ais__cpu_ref_tree_block(f, t0, t1, x, cols, nr, acc, f32);
        return;
    }
    /* two instances, so that the leaf type is a constant inside each */
    if (f32)
        ais__avx512_tree_impl(f, t0, t1, x, cols, acc, true);
    else
        ais__avx512_tree_impl(f, t0, t1, x, cols, acc, false);
}

void ais__avx512_fill_tree(ais__cpu_kernels *k) { k->tree_block = ais__avx512_tree_block; }
