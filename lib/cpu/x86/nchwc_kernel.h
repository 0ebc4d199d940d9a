/*
 * nchwc_kernel.h - the row of the blocked (NCHWc) direct convolution, written once for AVX2 and
 * AVX-512 (included by x86/avx2/avx2_nchwc.c and x86/avx512/avx512_nchwc.c after they define the
 * vector type V of AIS__B floats, vzero/vset/vload/vstore/vfma/vadd/vmul/vmax/vmin, AIS__PMAX and
 * AIS__NX(name)). The contract is cpu.h's ais__nchwc_row.
 *
 * A vector holds one pixel's AIS__B output channels, so the tile is P output pixels x one or two
 * output channel blocks in registers (AVX-512: 12 x 2 = 24 of 32 registers; AVX2: 6 x 2 = 12 of
 * 16). For each input channel of each tap, the tile loads one weight vector per output block and
 * broadcasts each pixel's input value once, for 2P multiply-adds: the weights stream in order
 * (they were packed so at load), the inputs come from a few rows in L1, and the sum never leaves
 * the registers until bias and activation are applied in the store. A tile's pixels may span
 * output rows (each has its own input offset), and the tiles of a run are near equal, so a 7x7
 * plane is tiles of 12 or so like a 56-wide one and the weights, streamed once a tile, are
 * reused as often.
 */

static inline V AIS__NX(act)(V v, const ais__conv_act *a) {
    if (a->kind == AIS__CONV_ACT_CLAMP) {
        /* max/min return their second operand when either is NaN: NaN stays NaN */
        v = vmax(vset(a->lo), v);
        v = vmin(vset(a->hi), v);
    } else if (a->kind == AIS__CONV_ACT_LEAKY) {
        v = vadd(vmax(vzero(), v), vmul(vset(a->alpha), vmin(vzero(), v)));
    }
    return v;
}

static inline __attribute__((always_inline)) void AIS__NX(tile)(const ais__nchwc_row *a, int64_t q,
                                                                const int P, const int NB) {
    int64_t off[AIS__PMAX]; /* each pixel's first input, from its row and column */
#pragma GCC unroll 16
    for (int p = 0; p < P; p++)
        off[p] = (q + p) / a->ow * a->sh * a->x_row + (q + p) % a->ow * a->sw * a->cb;
    V acc0[AIS__PMAX], acc1[AIS__PMAX];
    const V b0 = a->bias ? vload(a->bias) : vzero();
    const V b1 = NB > 1 && a->bias ? vload(a->bias + AIS__B) : vzero();
#pragma GCC unroll 16
    for (int p = 0; p < P; p++) {
        acc0[p] = b0;
        if (NB > 1) acc1[p] = b1;
    }
    const int64_t cb = a->cb, wo = a->w_ocb;
    const float *wp = a->w;
    const float *xt = a->x;
    for (int64_t ib = 0; ib < a->n_icb; ib++)
        for (int64_t kh = 0; kh < a->kh; kh++)
            for (int64_t kw = 0; kw < a->kw; kw++) {
                const float *xp = xt + ib * a->x_icb + kh * a->dh * a->x_row + kw * a->dw * cb;
                for (int64_t c = 0; c < cb; c++, wp += AIS__B) {
                    const V w0 = vload(wp);
                    const V w1 = NB > 1 ? vload(wp + wo) : vzero();
#pragma GCC unroll 16
                    for (int p = 0; p < P; p++) {
                        const V xv = vset(xp[off[p] + c]);
                        acc0[p] = vfma(xv, w0, acc0[p]);
                        if (NB > 1) acc1[p] = vfma(xv, w1, acc1[p]);
                    }
                }
            }
    float *y = a->y + (q - a->q0) * AIS__B;
#pragma GCC unroll 16
    for (int p = 0; p < P; p++) {
        vstore(y + p * AIS__B, AIS__NX(act)(acc0[p], &a->act));
        if (NB > 1) vstore(y + a->y_blk + p * AIS__B, AIS__NX(act)(acc1[p], &a->act));
    }
}

#define AIS__NX_CASE(P)                                                                            \
    case P:                                                                                        \
        if (a->nblk > 1)                                                                           \
            AIS__NX(tile)(a, q, P, 2);                                                             \
        else                                                                                       \
            AIS__NX(tile)(a, q, P, 1);                                                             \
        break;

static void AIS__NX(row)(const ais__nchwc_row *a) {
    if (a->block != AIS__B || a->nblk < 1 || a->nblk > 2) {
        ais__cpu_ref_conv_nchwc_row(a);
        return;
    }
    const int64_t len = a->q1 - a->q0, tiles = (len + AIS__PMAX - 1) / AIS__PMAX;
    for (int64_t t = 0, q = a->q0; t < tiles; t++) {
        const int64_t n = len / tiles + (t < len % tiles ? 1 : 0);
        switch (n) {
            AIS__NX_CASE(1)
            AIS__NX_CASE(2)
            AIS__NX_CASE(3)
            AIS__NX_CASE(4)
            AIS__NX_CASE(5)
            AIS__NX_CASE(6)
#if AIS__PMAX > 6
            AIS__NX_CASE(7)
            AIS__NX_CASE(8)
            AIS__NX_CASE(9)
            AIS__NX_CASE(10)
            AIS__NX_CASE(11)
            AIS__NX_CASE(12)
#endif
        default: break;
        }
        q += n;
    }
}
