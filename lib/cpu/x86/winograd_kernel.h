/* winograd_kernel.h - the Winograd F(4x4, 3x3) tile transforms (cpu.h, wino_in and wino_out)
 * written once over a vector type; avx2_winograd.c and avx512_winograd.c include it after
 * defining V, AIS__W (floats a vector), AIS__WX(name), vzero/vset/vload/vstore/vadd/vsub/vfma
 * and vtranspose (an AIS__W x AIS__W transpose of AIS__W vectors in place).
 * One vector holds one element of the tile for AIS__W channels, so the transforms are the
 * scalar formulas of ../ref/ref_winograd.c in the same order; channels past the last whole
 * vector go through the portable transform. */

static inline void AIS__WX(bt6)(const V d[6], V r[6]) {
    r[0] = vfma(vset(4.0f), d[0], vfma(vset(-5.0f), d[2], d[4]));
    r[1] = vfma(vset(-4.0f), vadd(d[1], d[2]), vadd(d[3], d[4]));
    r[2] = vfma(vset(4.0f), vsub(d[1], d[2]), vsub(d[4], d[3]));
    r[3] = vfma(vset(2.0f), vsub(d[3], d[1]), vsub(d[4], d[2]));
    r[4] = vfma(vset(2.0f), vsub(d[1], d[3]), vsub(d[4], d[2]));
    r[5] = vfma(vset(4.0f), d[1], vfma(vset(-5.0f), d[3], d[5]));
}

static inline void AIS__WX(at6)(const V m[6], V r[4]) {
    V s12 = vadd(m[1], m[2]), d12 = vsub(m[1], m[2]);
    V s34 = vadd(m[3], m[4]), d34 = vsub(m[3], m[4]);
    r[0] = vadd(vadd(m[0], s12), s34);
    r[1] = vfma(vset(2.0f), d34, d12);
    r[2] = vfma(vset(4.0f), s34, s12);
    r[3] = vfma(vset(8.0f), d34, vadd(d12, m[5]));
}

static void AIS__WX(in)(const float *x, int64_t ld_row, int64_t ld_pix, int64_t n, float *v,
                        int64_t ld_v) {
    int64_t ch = 0;
    for (; ch + AIS__W <= n; ch += AIS__W) {
        V t[6][6], d[6], r[6];
        for (int j = 0; j < 6; j++) {
            for (int i = 0; i < 6; i++)
                d[i] = vload(x + i * ld_row + j * ld_pix + ch);
            AIS__WX(bt6)(d, r);
            for (int i = 0; i < 6; i++)
                t[i][j] = r[i];
        }
        for (int i = 0; i < 6; i++) {
            AIS__WX(bt6)(t[i], r);
            for (int j = 0; j < 6; j++)
                vstore(v + (i * 6 + j) * ld_v + ch, r[j]);
        }
    }
    if (ch < n) ais__cpu_ref_wino_in(x + ch, ld_row, ld_pix, n - ch, v + ch, ld_v);
}

static void AIS__WX(out)(const float *m, int64_t ld_m, int64_t n, const float *bias, float *y,
                         int64_t ld_y) {
    int64_t ch = 0;
    for (; ch + AIS__W <= n; ch += AIS__W) {
        V t[4][6], d[6], r[4];
        for (int j = 0; j < 6; j++) {
            for (int i = 0; i < 6; i++)
                d[i] = vload(m + (i * 6 + j) * ld_m + ch);
            AIS__WX(at6)(d, r);
            for (int i = 0; i < 4; i++)
                t[i][j] = r[i];
        }
        V b = bias ? vload(bias + ch) : vzero(), o[16];
        for (int i = 0; i < 4; i++) {
            AIS__WX(at6)(t[i], r);
            for (int j = 0; j < 4; j++)
                o[i * 4 + j] = vadd(r[j], b);
        }
        /* lanes are channels: transposed, each vector is one channel's outputs */
        for (int p0 = 0; p0 < 16; p0 += AIS__W) {
            vtranspose(o + p0);
            for (int k = 0; k < AIS__W; k++)
                vstore(y + (ch + k) * ld_y + p0, o[p0 + k]);
        }
    }
    if (ch < n)
        ais__cpu_ref_wino_out(m + ch, ld_m, n - ch, bias ? bias + ch : NULL, y + ch * ld_y, ld_y);
}

static void AIS__WX(chlast)(const float *x, int64_t ld_ch, int64_t n, int64_t w, float *d,
                            int64_t ld_d) {
    int64_t ch = 0;
    for (; ch + AIS__W <= n; ch += AIS__W) {
        int64_t col = 0;
        for (; col + AIS__W <= w; col += AIS__W) {
            V b[AIS__W];
            for (int k = 0; k < AIS__W; k++)
                b[k] = vload(x + (ch + k) * ld_ch + col);
            vtranspose(b);
            for (int k = 0; k < AIS__W; k++)
                vstore(d + (col + k) * ld_d + ch, b[k]);
        }
        if (col < w && w >= AIS__W) { /* the last whole block again, overlapping */
            col = w - AIS__W;
            V b[AIS__W];
            for (int k = 0; k < AIS__W; k++)
                b[k] = vload(x + (ch + k) * ld_ch + col);
            vtranspose(b);
            for (int k = 0; k < AIS__W; k++)
                vstore(d + (col + k) * ld_d + ch, b[k]);
        } else if (col < w) {
            ais__cpu_ref_wino_chlast(x + ch * ld_ch + col, ld_ch, AIS__W, w - col,
                                     d + col * ld_d + ch, ld_d);
        }
    }
    if (ch < n) ais__cpu_ref_wino_chlast(x + ch * ld_ch, ld_ch, n - ch, w, d + ch, ld_d);
}
