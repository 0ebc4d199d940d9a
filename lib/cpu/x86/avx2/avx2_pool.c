/*
 * avx2_pool.c - the AVX2 max pool of one plane for 3x3 windows at stride 2 (the CNNs' downsampling
 * pool: SqueezeNet, ShuffleNet, Inception, AlexNet), replacing the conv_kernel.h walk for that
 * shape only; every other shape keeps it. Compiled with -mavx2 -mfma (CMake sets them for this
 * file only); called only when cpu_features.c found AVX2 and FMA.
 *
 * The walk of conv_kernel.h copies the plane into a padded buffer and takes 9 strided loads per
 * output vector; here each output row is separable: the maximum of its (up to) 3 input rows,
 * column by column, into a row buffer with -inf margins for the padding, then the maximum of 3
 * neighbouring columns at stride 2 from that buffer. The plane is read in place, once.
 * NaN: the walk keeps a NaN that is a window's first tap (its top-left, the padding included)
 * and skips it elsewhere; so does this kernel: the column maxima skip NaN (each starts from
 * -inf and max returns its second operand when either is NaN), and the result is replaced by
 * the top-left tap where that tap is NaN. Rows whose top taps hold no NaN (checked while the
 * column maxima are taken) skip that step, and their output vectors take the maxima of the
 * even, odd and next-even columns before one permute instead of after three.
 */
#include <immintrin.h>
#include <math.h>
#include <stdbool.h>

#include "cpu/cpu.h"

/* The kernel that serves the other shapes (the level's table entry before this file's). */
static void (*ais__avx2p_other)(const float *x, float *y, const ais__conv_dw_geom *g,
                                float *scratch);

/* The even elements of the 16 floats at p: p[0], p[2], ..., p[14]. */
static inline __m256 ais__avx2p_even(const float *p) {
    __m256 e = _mm256_shuffle_ps(_mm256_loadu_ps(p), _mm256_loadu_ps(p + 8), 0x88);
    return _mm256_castpd_ps(_mm256_permute4x64_pd(_mm256_castps_pd(e), 0xd8));
}

/* Row buffer width: column j of a buffer is input column j - pw; window o reads 2o .. 2o + 2,
 * and a vector of 8 windows reads 16 + 2 floats from its first. */
static int64_t ais__avx2p_width(const ais__conv_dw_geom *g) {
    int64_t ow8 = (g->ow + 7) / 8 * 8;
    int64_t w = 2 * ow8 + 24;
    return w > g->pw + g->iw ? w : g->pw + g->iw + 24;
}

static void ais__avx2_pool_max2d(const float *x, float *y, const ais__conv_dw_geom *g,
                                 float *scratch) {
    if (g->kh != 3 || g->kw != 3 || g->sh != 2 || g->sw != 2 || g->dh != 1 || g->dw != 1 ||
        g->ph < 0 || g->pw < 0 ||
        (size_t)(2 * ais__avx2p_width(g)) > ais__conv_dw_scratch_floats(g)) {
        ais__avx2p_other(x, y, g, scratch);
        return;
    }
    const int64_t tw = ais__avx2p_width(g), pw = g->pw, iw = g->iw;
    float *col = scratch, *top = scratch + tw; /* column maxima; the windows' top input row */
    const __m256 ninf = _mm256_set1_ps(-INFINITY);
    for (int64_t j = 0; j < tw; j++)
        col[j] = top[j] = -INFINITY;
    for (int64_t oh = 0; oh < g->oh; oh++) {
        int64_t r0 = oh * 2 - g->ph;
        int64_t lo = r0 < 0 ? 0 : r0, hi = r0 + 3 < g->ih ? r0 + 3 : g->ih; /* rows inside */
        bool top_in = r0 >= 0 && r0 < g->ih; /* the top-left taps lie in row r0 (== lo) */
        float *c = col + pw;
        __m256 nan = _mm256_setzero_ps(); /* any NaN among the top taps of this row */
        int64_t i = 0;
        for (;; i += 8) {
            /* the last vector overlaps the one before it rather than leave a scalar tail */
            if (i + 8 > iw) {
                if (i == 0 || i >= iw) break;
                i = iw - 8;
            }
            __m256 m = ninf;
            for (int64_t r = lo; r < hi; r++)
                m = _mm256_max_ps(_mm256_loadu_ps(x + r * iw + i), m);
            _mm256_storeu_ps(c + i, m);
            if (top_in) {
                __m256 tv = _mm256_loadu_ps(x + r0 * iw + i);
                nan = _mm256_or_ps(nan, _mm256_cmp_ps(tv, tv, _CMP_UNORD_Q));
            }
        }
        bool any_nan = _mm256_movemask_ps(nan) != 0;
        for (; i < iw; i++) {
            float m = -INFINITY;
            for (int64_t r = lo; r < hi; r++)
                m = x[r * iw + i] > m ? x[r * iw + i] : m; /* NaN skipped, as max_ps does */
            c[i] = m;
            any_nan = any_nan || (top_in && isnan(x[r0 * iw + i]));
        }
        float *yr = y + oh * g->ow;
        int64_t o = 0;
        if (!any_nan) {
            /* Windows o .. o+7 read col[2o .. 2o+17]: the maxima of the even, odd and
             * next-even columns, taken before the one cross-lane permute that orders them
             * (the three shuffles interleave the lanes alike). col holds no NaN. */
            for (;; o += 8) {
                if (o + 8 > g->ow) { /* overlapping last vector, as above */
                    if (o == 0 || o >= g->ow) break;
                    o = g->ow - 8;
                }
                const float *p = col + 2 * o;
                __m256 a = _mm256_loadu_ps(p), b = _mm256_loadu_ps(p + 8);
                __m256 a2 = _mm256_loadu_ps(p + 2), b2 = _mm256_loadu_ps(p + 10);
                __m256 m =
                    _mm256_max_ps(_mm256_shuffle_ps(a, b, 0x88), _mm256_shuffle_ps(a, b, 0xdd));
                m = _mm256_max_ps(m, _mm256_shuffle_ps(a2, b2, 0x88));
                _mm256_storeu_ps(
                    yr + o, _mm256_castpd_ps(_mm256_permute4x64_pd(_mm256_castps_pd(m), 0xd8)));
            }
            for (; o < g->ow; o++) {
                const float *p = col + 2 * o;
                float m = p[0];
                m = p[1] > m ? p[1] : m;
                yr[o] = p[2] > m ? p[2] : m;
            }
            continue;
        }
        /* a NaN top-left tap: the windows' top input row, with -inf margins, to pick it */
        float *t = top + pw;
        for (int64_t j = 0; j < iw; j++)
            t[j] = x[r0 * iw + j];
        for (; o + 8 <= g->ow; o += 8) {
            const float *p = col + 2 * o;
            __m256 m = _mm256_max_ps(ais__avx2p_even(p + 1), ais__avx2p_even(p));
            m = _mm256_max_ps(ais__avx2p_even(p + 2), m);
            __m256 f = ais__avx2p_even(top + 2 * o);
            _mm256_storeu_ps(yr + o, _mm256_blendv_ps(m, f, _mm256_cmp_ps(f, f, _CMP_UNORD_Q)));
        }
        for (; o < g->ow; o++) {
            const float *p = col + 2 * o;
            float m = p[0];
            m = p[1] > m ? p[1] : m;
            m = p[2] > m ? p[2] : m;
            yr[o] = isnan(top[2 * o]) ? top[2 * o] : m;
        }
    }
}

void ais__avx2_fill_pool(ais__cpu_kernels *k) {
    ais__avx2p_other = k->pool_max2d;
    k->pool_max2d = ais__avx2_pool_max2d;
}
