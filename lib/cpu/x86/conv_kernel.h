/*
 * conv_kernel.h - the depthwise convolution plane and the bias + activation pass, written once
 * for AVX2 and AVX-512 (included by x86/avx2/avx2_conv.c and x86/avx512/avx512_conv.c after they
 * define the vector type V of AIS__W floats, vset/vload/vstore/vfma/vadd/vmul/vmax/vmin, vload_s2
 * (the even elements of 2 * AIS__W floats) and AIS__CX(name)).
 *
 * A depthwise convolution has one input plane per output plane and few taps (MobileNets: 3x3),
 * so there is no product to hand to a GEMM: each output vector is AIS__W neighbouring outputs,
 * summed tap by tap from unaligned loads of the input (stride 2: every other element). The
 * common shapes (3x3 and 5x5, strides 1 and 2) get the tap counts as constants so the compiler
 * keeps the weights in registers. A 2-D max pool is the same walk with max for the sum.
 */

static inline V AIS__CX(act_v)(V v, const ais__conv_act *a) {
    if (a->kind == AIS__CONV_ACT_CLAMP) {
        /* max/min return their second operand when either is NaN: NaN stays NaN */
        v = vmax(vset(a->lo), v);
        v = vmin(vset(a->hi), v);
    } else if (a->kind == AIS__CONV_ACT_LEAKY) {
        v = vadd(vmax(vset(0.0f), v), vmul(vset(a->alpha), vmin(vset(0.0f), v)));
    }
    return v;
}

/* KH, KW: the tap counts when known at compile time (0: read g); S: the column stride, 1 or 2.
 * The plane is copied into scratch with its zero padding around it (ais__conv_dw_padded_*), so
 * every tap of every output vector reads inside the buffer and no column needs a bounds check.
 * With both strides 1 the padded plane is one long row: output v of the flattened grid (rows
 * pw_ apart) is the sum over taps of pad[v + kh * dh * pw_ + kw * dw], and the columns past ow
 * of each row are computed and dropped, which keeps vectors full on the 7- and 14-wide planes
 * of a MobileNet. Otherwise each output row is computed in whole vectors. */
/* MAX: the max pool instead (w, bias and act unused): padding is -inf, the sum a maximum that
 * starts from the first tap, so a NaN there stays (max returns its second operand, the
 * accumulator, when either is NaN) and a NaN later is skipped, as pool.c's loop does. */
#define AIS__DW_TAP(acc, first, xv, wt)                                                            \
    ((MAX) ? ((first) ? (xv) : vmax((xv), (acc))) : vfma(vset(wt), (xv), (acc)))
static inline __attribute__((always_inline)) void
AIS__CX(dw_plane)(const float *x, const float *w, float bias, float *y, const ais__conv_dw_geom *g,
                  const ais__conv_act *act, float *scratch, const int64_t KH, const int64_t KW,
                  const int S, const bool MAX) {
    const int64_t kh_n = KH ? KH : g->kh, kw_n = KW ? KW : g->kw;
    const int64_t pw_ = ais__conv_dw_padded_width(g), ph_ = ais__conv_dw_padded_rows(g);
    const int64_t dh = g->dh * pw_, dw = g->dw;
    float *pad = scratch, *out = scratch + (ph_ * pw_ + 128 + 15) / 16 * 16;
    if (MAX)
        for (int64_t i = 0; i < ph_ * pw_ + 128; i++)
            pad[i] = -INFINITY;
    else
        memset(pad, 0, (size_t)(ph_ * pw_ + 128) * sizeof(float));
    for (int64_t ih = 0; ih < g->ih; ih++)
        memcpy(pad + (ih + g->ph) * pw_ + g->pw, x + ih * g->iw, (size_t)g->iw * sizeof(float));
    const V vb = vset(bias);
    int64_t rs; /* row stride of out */
    if (S == 1 && g->sh == 1) {
        rs = pw_;
        const int64_t total = g->oh * pw_;
        for (int64_t v = 0; v < total; v += AIS__W) {
            V acc = vb;
            const float *xp = pad + v;
            for (int64_t kh = 0; kh < kh_n; kh++)
                for (int64_t kw = 0; kw < kw_n; kw++)
                    acc = AIS__DW_TAP(acc, kh == 0 && kw == 0, vload(xp + kh * dh + kw * dw),
                                      w[kh * kw_n + kw]);
            vstore(out + v, MAX ? acc : AIS__CX(act_v)(acc, act));
        }
    } else {
        rs = g->ow + 32;
        for (int64_t oh = 0; oh < g->oh; oh++) {
            const float *xr = pad + oh * g->sh * pw_;
            for (int64_t ow = 0; ow < g->ow; ow += AIS__W) {
                V acc = vb;
                const float *xp = xr + ow * S;
                for (int64_t kh = 0; kh < kh_n; kh++)
                    for (int64_t kw = 0; kw < kw_n; kw++) {
                        const float *q = xp + kh * dh + kw * dw;
                        acc = AIS__DW_TAP(acc, kh == 0 && kw == 0, S == 1 ? vload(q) : vload_s2(q),
                                          w[kh * kw_n + kw]);
                    }
                vstore(out + oh * rs + ow, MAX ? acc : AIS__CX(act_v)(acc, act));
            }
        }
    }
    for (int64_t oh = 0; oh < g->oh; oh++)
        memcpy(y + oh * g->ow, out + oh * rs, (size_t)g->ow * sizeof(float));
}

static inline __attribute__((always_inline)) void
AIS__CX(dw_any)(const float *x, const float *w, float bias, float *y, const ais__conv_dw_geom *g,
                const ais__conv_act *act, float *scratch, const bool MAX) {
    if (g->sw == 1) {
        if (g->kh == 3 && g->kw == 3)
            AIS__CX(dw_plane)(x, w, bias, y, g, act, scratch, 3, 3, 1, MAX);
        else if (g->kh == 5 && g->kw == 5)
            AIS__CX(dw_plane)(x, w, bias, y, g, act, scratch, 5, 5, 1, MAX);
        else
            AIS__CX(dw_plane)(x, w, bias, y, g, act, scratch, 0, 0, 1, MAX);
    } else {
        if (g->kh == 3 && g->kw == 3)
            AIS__CX(dw_plane)(x, w, bias, y, g, act, scratch, 3, 3, 2, MAX);
        else if (g->kh == 5 && g->kw == 5)
            AIS__CX(dw_plane)(x, w, bias, y, g, act, scratch, 5, 5, 2, MAX);
        else
            AIS__CX(dw_plane)(x, w, bias, y, g, act, scratch, 0, 0, 2, MAX);
    }
}

static void AIS__CX(conv_dw)(const float *x, const float *w, float bias, float *y,
                             const ais__conv_dw_geom *g, const ais__conv_act *act, float *scratch) {
    if (g->sw == 1 || g->sw == 2)
        AIS__CX(dw_any)(x, w, bias, y, g, act, scratch, false);
    else
        ais__cpu_ref_conv_dw(x, w, bias, y, g, act, scratch);
}

static void AIS__CX(pool_max2d)(const float *x, float *y, const ais__conv_dw_geom *g,
                                float *scratch) {
    static const ais__conv_act none = {AIS__CONV_ACT_NONE, 0, 0, 0};
    if (g->sw == 1 || g->sw == 2)
        AIS__CX(dw_any)(x, NULL, 0.0f, y, g, &none, scratch, true);
    else
        ais__cpu_ref_pool_max2d(x, y, g, scratch);
}

static void AIS__CX(conv_act)(float *y, size_t n, float bias, const ais__conv_act *act) {
    size_t i = 0;
    V b = vset(bias);
    for (; i + AIS__W <= n; i += AIS__W)
        vstore(y + i, AIS__CX(act_v)(vadd(vload(y + i), b), act));
    for (; i < n; i++)
        y[i] = ais__conv_act1(act, y[i] + bias);
}

static void AIS__CX(fill_conv_slots)(ais__cpu_kernels *k) {
    k->conv_dw = AIS__CX(conv_dw);
    k->conv_act = AIS__CX(conv_act);
    k->pool_max2d = AIS__CX(pool_max2d);
}
