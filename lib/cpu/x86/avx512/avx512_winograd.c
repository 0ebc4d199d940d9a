/* avx512_winograd.c - the AVX-512 Winograd F(4x4, 3x3) tile transforms (16 channels a vector);
 * the code is ../winograd_kernel.h. */
#include <immintrin.h>

#include "../../cpu.h"

typedef __m512 V;
#define AIS__W 16
#define AIS__WX(name) ais__avx512w_##name

static inline V vzero(void) { return _mm512_setzero_ps(); }
static inline V vset(float a) { return _mm512_set1_ps(a); }
static inline V vload(const float *p) { return _mm512_loadu_ps(p); }
static inline void vstore(float *p, V a) { _mm512_storeu_ps(p, a); }
static inline V vadd(V a, V b) { return _mm512_add_ps(a, b); }
static inline V vsub(V a, V b) { return _mm512_sub_ps(a, b); }
static inline V vfma(V a, V b, V c) { return _mm512_fmadd_ps(a, b, c); }

/* 16 x 16 in place: r[k] lane c becomes r[c] lane k (pairs, then quads within 128-bit lanes,
 * then the lanes themselves). */
static inline void vtranspose(V *r) {
    V t[16], u[16], v[16];
    for (int i = 0; i < 16; i += 2) {
        t[i] = _mm512_unpacklo_ps(r[i], r[i + 1]);
        t[i + 1] = _mm512_unpackhi_ps(r[i], r[i + 1]);
    }
    for (int i = 0; i < 16; i += 4) {
        __m512d a = _mm512_castps_pd(t[i]), b = _mm512_castps_pd(t[i + 1]);
        __m512d c = _mm512_castps_pd(t[i + 2]), d = _mm512_castps_pd(t[i + 3]);
        u[i] = _mm512_castpd_ps(_mm512_unpacklo_pd(a, c));
        u[i + 1] = _mm512_castpd_ps(_mm512_unpackhi_pd(a, c));
        u[i + 2] = _mm512_castpd_ps(_mm512_unpacklo_pd(b, d));
        u[i + 3] = _mm512_castpd_ps(_mm512_unpackhi_pd(b, d));
    }
    for (int k = 0; k < 4; k++) {
        v[k] = _mm512_shuffle_f32x4(u[k], u[4 + k], 0x88);
        v[k + 4] = _mm512_shuffle_f32x4(u[k], u[4 + k], 0xDD);
        v[k + 8] = _mm512_shuffle_f32x4(u[8 + k], u[12 + k], 0x88);
        v[k + 12] = _mm512_shuffle_f32x4(u[8 + k], u[12 + k], 0xDD);
    }
    for (int k = 0; k < 4; k++) {
        r[k] = _mm512_shuffle_f32x4(v[k], v[k + 8], 0x88);
        r[k + 8] = _mm512_shuffle_f32x4(v[k], v[k + 8], 0xDD);
        r[k + 4] = _mm512_shuffle_f32x4(v[k + 4], v[k + 12], 0x88);
        r[k + 12] = _mm512_shuffle_f32x4(v[k + 4], v[k + 12], 0xDD);
    }
}

#include "../winograd_kernel.h"

void ais__avx512_fill_winograd(ais__cpu_kernels *k) {
    k->wino_in = ais__avx512w_in;
    k->wino_out = ais__avx512w_out;
    k->wino_chlast = ais__avx512w_chlast;
}
