/*
 * nchwc_kernel.h - the row of the blocked (NCHWc) direct convolution, written once for AVX2 and
 * AVX-512 (included by x86/avx2/avx2_nchwc.c and x86/avx512/avx512_nchwc.c after they define the
 * vector type V of AIS__B floats, vzero/vset/vload/vstore/vfma/vadd/vmul/vmax/vmin, AIS__PMAX,
 * AIS__NBMAX, AIS__PMAX_1 .. AIS__PMAX_<NBMAX> and AIS__NX(name)). The contract is cpu.h's
 * ais__nchwc_row.
 *
 * A vector holds one pixel's AIS__B output channels, so the tile is P output pixels x NB output
 * channel blocks in registers (AVX-512: 12 x 1, 12 x 2 or 8 x 3 = 24 of 32 registers; AVX2: 6 x 1
 * or 6 x 2 = 12 of 16). For each input channel of each tap, the tile loads one weight vector per
 * output block and broadcasts each pixel's input value once, for NB * P multiply-adds: three
 * blocks of 8 pixels load 11 vectors per 24 multiply-adds against 14 for two blocks of 12, which
 * measured 8% faster on ResNet's 3x3 layers (AVX-512, one core; four blocks of 6 was between the
 * two, register pressure). The weights stream in order
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

/* P pixels x NB output blocks; P * NB + NB + 1 vector registers. */
static inline __attribute__((always_inline)) void AIS__NX(tile)(const ais__nchwc_row *a, int64_t q,
                                                                const int P, const int NB) {
    int64_t off[AIS__PMAX]; /* each pixel's first input, from its row and column */
    /* one division a tile, then the column steps on (a division per pixel cost about a tenth of
     * a tile of the 3-channel 7x7 stem, whose tiles are short: 147 steps) */
    int64_t orow = q / a->ow, ocol = q - orow * a->ow;
#pragma GCC unroll 16
    for (int p = 0; p < P; p++) {
        off[p] = orow * a->sh * a->x_row + ocol * a->sw * a->cb;
        if (++ocol == a->ow) {
            ocol = 0;
            orow++;
        }
    }
    V acc[AIS__NBMAX][AIS__PMAX];
#pragma GCC unroll 4
    for (int b = 0; b < NB; b++) {
        const V bv = a->bias ? vload(a->bias + b * AIS__B) : vzero();
#pragma GCC unroll 16
        for (int p = 0; p < P; p++)
            acc[b][p] = bv;
    }
    const int64_t cb = a->cb, wo = a->w_ocb;
    const float *wp = a->w;
    const float *xt = a->x;
    /* One input channel of one tap: NB weight vectors, P broadcasts, NB * P multiply-adds. */
#define AIS__NX_STEP(xp, c)                                                                        \
    do {                                                                                           \
        V wv[AIS__NBMAX];                                                                          \
        _Pragma("GCC unroll 4") for (int b = 0; b < NB; b++) wv[b] = vload(wp + b * wo);           \
        _Pragma("GCC unroll 16") for (int p = 0; p < P; p++) {                                     \
            const V xv = vset((xp)[off[p] + (c)]);                                                 \
            _Pragma("GCC unroll 4") for (int b = 0; b < NB; b++) acc[b][p] =                       \
                vfma(xv, wv[b], acc[b][p]);                                                        \
        }                                                                                          \
    } while (0)
#ifdef AIS__NX_FLAT_TAPS
    /* Undilated rows: a tap row's kw taps of cb channels are kw * cb consecutive floats of the
     * padded input and of the packed weights, so they run as one loop. A 3-channel 7x7 stem
     * otherwise spent more on its 3-step channel loop's setup (7 per kernel row) than in it. */
    if (a->dw == 1) {
        const int64_t run = a->kw * cb;
        for (int64_t ib = 0; ib < a->n_icb; ib++)
            for (int64_t kh = 0; kh < a->kh; kh++) {
                const float *xp = xt + ib * a->x_icb + kh * a->dh * a->x_row;
                for (int64_t e = 0; e < run; e++, wp += AIS__B)
                    AIS__NX_STEP(xp, e);
            }
    } else
#endif
        for (int64_t ib = 0; ib < a->n_icb; ib++)
            for (int64_t kh = 0; kh < a->kh; kh++)
                for (int64_t kw = 0; kw < a->kw; kw++) {
                    const float *xp = xt + ib * a->x_icb + kh * a->dh * a->x_row + kw * a->dw * cb;
                    for (int64_t c = 0; c < cb; c++, wp += AIS__B)
                        AIS__NX_STEP(xp, c);
                }
#undef AIS__NX_STEP
    float *y = a->y + (q - a->q0) * AIS__B;
#pragma GCC unroll 4
    for (int b = 0; b < NB; b++)
#pragma GCC unroll 16
        for (int p = 0; p < P; p++)
            vstore(y + b * a->y_blk + p * AIS__B, AIS__NX(act)(acc[b][p], &a->act));
}

/* Pixels [q, q1) in near-equal tiles of at most PM for NB blocks. */
#define AIS__NX_RUN(NB, PM)                                                                        \
    do {                                                                                           \
        const int64_t len = q1 - q, tiles = (len + (PM)-1) / (PM);                                 \
        for (int64_t t = 0; t < tiles; t++) {                                                      \
            const int64_t n = len / tiles + (t < len % tiles ? 1 : 0);                             \
            switch (n) {                                                                           \
            case 1: AIS__NX(tile)(a, q, 1 < (PM) ? 1 : (PM), NB); break;                           \
            case 2: AIS__NX(tile)(a, q, 2 < (PM) ? 2 : (PM), NB); break;                           \
            case 3: AIS__NX(tile)(a, q, 3 < (PM) ? 3 : (PM), NB); break;                           \
            case 4: AIS__NX(tile)(a, q, 4 < (PM) ? 4 : (PM), NB); break;                           \
            case 5: AIS__NX(tile)(a, q, 5 < (PM) ? 5 : (PM), NB); break;                           \
            case 6: AIS__NX(tile)(a, q, 6 < (PM) ? 6 : (PM), NB); break;                           \
            case 7: AIS__NX(tile)(a, q, 7 < (PM) ? 7 : (PM), NB); break;                           \
            case 8: AIS__NX(tile)(a, q, 8 < (PM) ? 8 : (PM), NB); break;                           \
            case 9: AIS__NX(tile)(a, q, 9 < (PM) ? 9 : (PM), NB); break;                           \
            case 10: AIS__NX(tile)(a, q, 10 < (PM) ? 10 : (PM), NB); break;                        \
            case 11: AIS__NX(tile)(a, q, 11 < (PM) ? 11 : (PM), NB); break;                        \
            default: AIS__NX(tile)(a, q, 12 < (PM) ? 12 : (PM), NB); break;                        \
            }                                                                                      \
            q += n;                                                                                \
        }                                                                                          \
    } while (0)

static void AIS__NX(row)(const ais__nchwc_row *a) {
    if (a->block != AIS__B || a->nblk < 1 || a->nblk > AIS__NBMAX) {
        ais__cpu_ref_conv_nchwc_row(a);
        return;
    }
    int64_t q = a->q0;
    const int64_t q1 = a->q1;
    switch (a->nblk) {
    case 1: AIS__NX_RUN(1, AIS__PMAX_1); break;
    case 2: AIS__NX_RUN(2, AIS__PMAX_2); break;
#if AIS__NBMAX > 2
    case 3: AIS__NX_RUN(3, AIS__PMAX_3); break;
#endif
    default: break;
    }
}
