/*
 * dwconv_kernel.h - the depthwise 3x3 / 5x5 convolution plane straight from NCHW (cpu.h,
 * dwconv_planes), written once for AVX2 and AVX-512: included by x86/avx2/avx2_dwconv.c and
 * x86/avx512/avx512_dwconv.c after they define the vector type V of AIS__W floats, the lane mask
 * type M, vset/vload/vstore/vfma/vadd/vmul/vmax/vmin, vmask(lo, hi) (lanes lo <= l < hi),
 * vload_m/vstore_m (masked: lanes outside the mask read 0 and are not written, and never fault),
 * veven/vodd (the even / odd elements of the 2 * AIS__W floats of two vectors; or, with
 * AIS__DW_S2_PERMUTED, veven_p/vodd_p/vunperm) and AIS__DX(name).
 *
 * conv_kernel.h's conv_dw copies each plane into a zero-padded buffer and writes through a
 * second one; at MobileNet's sizes those copies cost about as much as the taps. Here the taps
 * read the input rows in place: each output vector is AIS__W neighbouring outputs of one row,
 * its taps unaligned loads of the kernel's rows (stride 2: two loads, then the even or odd
 * elements), with masked loads only on the vectors whose window leaves the row (the padding
 * reads 0) and a masked store on the row's last vector. R output rows are computed together,
 * so each input row loaded at a tap column feeds every output row it lies under (3x3 stride 1,
 * R = 4: 6 rows of loads for 4 rows of outputs instead of 12); an input row outside the plane
 * (vertical padding) is skipped. K, S and R are compile-time constants, so the loops unroll and
 * the weights stay in registers.
 */

/* Stride 2 in a lane order of the level's choosing (AVX2): veven_p / vodd_p may return the
 * even / odd elements in any fixed permutation of the lanes, the same for every tap, and
 * vunperm puts an accumulator back in column order once before its store. On AVX2 that saves
 * the lane-crossing permute of every tap (veven / vodd are a shuffle within 128-bit halves plus
 * one across them): 3 shuffles a row of taps instead of 6 (3x3). Off: veven / vodd. */
#ifndef AIS__DW_S2_PERMUTED
#define AIS__DW_S2_PERMUTED 0
#endif
/* Stride-2 blocks of 4 output rows on narrow planes (below); off: 2 rows. */
#ifndef AIS__DW_S2_ROWS4
#define AIS__DW_S2_ROWS4 0
#endif
/* Rows of one vector or less (ow <= AIS__W: the 7x7 and 14x14 outputs of a stride-2 layer):
 * the lanes past the row land on the next rows of the same plane, which this call writes
 * later, so a full store is as right as a masked one; only a store that would leave the plane
 * stays masked. On (AVX2): a masked store costs about ten times a plain one on AMD's cores. */
#ifndef AIS__DW_ROW_OVERRUN
#define AIS__DW_ROW_OVERRUN 0
#endif

/* The tap loops run a handful of times with compile-time bounds; unrolled, every accumulator
 * and weight is a register and the row checks of the kh loop disappear (GCC otherwise keeps
 * the row loop rolled, with a compare per FMA). */
#ifndef AIS__DW_UNROLL
#if defined(__clang__)
#define AIS__DW_UNROLL _Pragma("unroll")
#else
#define AIS__DW_UNROLL _Pragma("GCC unroll 32")
#endif
#endif

static inline V AIS__DX(act_v)(V v, const ais__conv_act *a) {
    if (a->kind == AIS__CONV_ACT_CLAMP) {
        /* max/min return their second operand when either is NaN: NaN stays NaN */
        v = vmax(vset(a->lo), v);
        v = vmin(vset(a->hi), v);
    } else if (a->kind == AIS__CONV_ACT_LEAKY) {
        v = vadd(vmax(vset(0.0f), v), vmul(vset(a->alpha), vmin(vset(0.0f), v)));
    }
    return v;
}

/* Lanes l of a load at input column c + l that lie in [0, iw). */
static inline M AIS__DX(cols_mask)(int64_t c, int64_t iw) {
    int64_t lo = c >= 0 ? 0 : -c, hi = iw - c;
    lo = lo > AIS__W ? AIS__W : lo;
    hi = hi < 0 ? 0 : hi > AIS__W ? AIS__W : hi;
    return vmask((int)lo, (int)(hi > lo ? hi : lo));
}

/* The tap at column offset kw of input row xr for the output vector whose first window starts
 * at input column c0 (stride S). EDGE: masked loads (m[0..1] the masks of the one or two loads). */
static inline __attribute__((always_inline)) V
AIS__DX(tap)(const float *xr, int64_t c0, int64_t kw, const M *m, const int S, const bool EDGE) {
    const float *p = xr + c0 + (S == 1 ? kw : kw / 2 * 2);
    if (S == 1) return EDGE ? vload_m(p, m[0]) : vload(p);
    V a = EDGE ? vload_m(p, m[0]) : vload(p),
      b = EDGE ? vload_m(p + AIS__W, m[1]) : vload(p + AIS__W);
#if AIS__DW_S2_PERMUTED
    return kw % 2 ? vodd_p(a, b) : veven_p(a, b);
#else
    return kw % 2 ? vodd(a, b) : veven(a, b);
#endif
}

/* Output rows oh0 .. oh0 + RN - 1 (RN <= R, at most R accumulators live), output columns
 * ow0 .. ow0 + n - 1 (n <= AIS__W). */
static inline __attribute__((always_inline)) void
AIS__DX(dw_block)(const float *x, const V *wv, V vb, float *y, const ais__conv_dw_geom *g,
                  const ais__conv_act *act, int64_t oh0, int64_t ow0, int64_t n, const int K,
                  const int S, const int R, const bool EDGE) {
    const int64_t c0 = ow0 * S - g->pw;
    M m[2 * 5]; /* per tap column: the masks of its one (S 1) or two (S 2) loads */
    if (EDGE) AIS__DW_UNROLL
    for (int kw = 0; kw < K; kw++) {
        int64_t c = c0 + (S == 1 ? kw : kw / 2 * 2);
        m[2 * kw] = AIS__DX(cols_mask)(c, g->iw);
        if (S == 2) m[2 * kw + 1] = AIS__DX(cols_mask)(c + AIS__W, g->iw);
    }
    V acc[4];
    AIS__DW_UNROLL
    for (int r = 0; r < R; r++)
        acc[r] = vb;
    /* input row j of the block is row ih0 + j; output row r reads rows r * S + kh */
    const int64_t ih0 = oh0 * S - g->ph;
    AIS__DW_UNROLL
    for (int j = 0; j < (R - 1) * S + K; j++) {
        int64_t ih = ih0 + j;
        if (ih < 0 || ih >= g->ih) continue;
        const float *xr = x + ih * g->iw;
        AIS__DW_UNROLL
        for (int kw = 0; kw < K; kw++) {
            V v = AIS__DX(tap)(xr, c0, kw, m + 2 * kw, S, EDGE);
            AIS__DW_UNROLL
            for (int r = 0; r < R; r++) {
                int kh = j - r * S;
                if (kh >= 0 && kh < K) acc[r] = vfma(wv[kh * K + kw], v, acc[r]);
            }
        }
    }
    const M ms = vmask(0, (int)n);
    AIS__DW_UNROLL
    for (int r = 0; r < R; r++) {
#if AIS__DW_S2_PERMUTED
        if (S == 2) acc[r] = vunperm(acc[r]);
#endif
        V o = AIS__DX(act_v)(acc[r], act);
        float *yp = y + (oh0 + r) * g->ow + ow0;
        if (n == AIS__W ||
            (AIS__DW_ROW_OVERRUN && g->ow <= AIS__W && (oh0 + r) * g->ow + AIS__W <= g->oh * g->ow))
            vstore(yp, o);
        else
            vstore_m(yp, ms, o);
    }
}

/* Output rows [oh0, oh0 + R): every column vector, interior ones without masks. */
static inline __attribute__((always_inline)) void
AIS__DX(dw_rows)(const float *x, const V *wv, V vb, float *y, const ais__conv_dw_geom *g,
                 const ais__conv_act *act, int64_t oh0, const int K, const int S, const int R) {
    /* a vector's loads span columns c0 .. c0 + last; it is interior when all are in the row */
    const int64_t last = S == 1 ? AIS__W - 1 + K - 1 : 2 * AIS__W - 1 + (K - 1) / 2 * 2;
    for (int64_t ow0 = 0; ow0 < g->ow; ow0 += AIS__W) {
        int64_t n = g->ow - ow0 < AIS__W ? g->ow - ow0 : AIS__W, c0 = ow0 * S - g->pw;
        if (c0 >= 0 && c0 + last < g->iw)
            AIS__DX(dw_block)(x, wv, vb, y, g, act, oh0, ow0, n, K, S, R, false);
        else
            AIS__DX(dw_block)(x, wv, vb, y, g, act, oh0, ow0, n, K, S, R, true);
    }
}

static inline __attribute__((always_inline)) void
AIS__DX(dw_plane_k)(const float *x, const float *w, float bias, float *y,
                    const ais__conv_dw_geom *g, const ais__conv_act *act, const int K,
                    const int S) {
    V wv[25];
    AIS__DW_UNROLL
    for (int i = 0; i < K * K; i++)
        wv[i] = vset(w[i]);
    const V vb = vset(bias);
    /* rows a block: 4 at stride 1; 2 at stride 2, where neighbouring rows share fewer inputs,
     * 4 on rows up to 64 wide (AVX2, MobileNetV2's 56x56 and 14x14 stride-2 layers: 0.37 ->
     * 0.32 and 0.16 -> 0.12 ms; on its 112-wide one 4 rows were 1.4x slower than 2) */
    int64_t oh = 0;
    if (S == 1)
        for (; oh + 4 <= g->oh; oh += 4)
            AIS__DX(dw_rows)(x, wv, vb, y, g, act, oh, K, S, 4);
    else {
        if (AIS__DW_S2_ROWS4 && g->iw <= 64)
            for (; oh + 4 <= g->oh; oh += 4)
                AIS__DX(dw_rows)(x, wv, vb, y, g, act, oh, K, S, 4);
        for (; oh + 2 <= g->oh; oh += 2)
            AIS__DX(dw_rows)(x, wv, vb, y, g, act, oh, K, S, 2);
    }
    for (; oh < g->oh; oh++)
        AIS__DX(dw_rows)(x, wv, vb, y, g, act, oh, K, S, 1);
}

/* Small stride-1 planes as wide in as out (MobileNets' 14x14 and 7x7 layers), whose rows would
 * fill a vector or less each and pay a block's overhead per row: the plane is walked flat,
 * output q = oh * ow + ow_ reading input q + (kh - ph) * iw + (kw - pw) in every lane, with the
 * lanes whose tap falls in the padding (a column wrapped into the neighbouring row, a row
 * outside the plane) masked off. The masks depend only on the geometry, so they are computed
 * once for all the planes of a call. */
#define AIS__DW_FLAT_MAX 256 /* outputs a plane at most */
#define AIS__DW_FLAT_VECS (AIS__DW_FLAT_MAX / AIS__W)

static inline bool AIS__DX(flat_suits)(const ais__conv_dw_geom *g) {
    return g->sh == 1 && g->ow == g->iw && g->oh * g->ow <= AIS__DW_FLAT_MAX;
}

/* Bits [lo, hi) of a 256-bit map (one bit an output of the flat plane) set; lo, hi >= 0. */
static inline void AIS__DX(bm_set)(uint64_t *bm, int64_t lo, int64_t hi) {
    for (int64_t w = 0; w < AIS__DW_FLAT_MAX / 64; w++) {
        int64_t a = lo - 64 * w, b = hi - 64 * w;
        a = a < 0 ? 0 : a;
        b = b > 64 ? 64 : b;
        if (a < b)
            bm[w] |= (b == 64 ? ~(uint64_t)0 : ((uint64_t)1 << b) - 1) & ~(((uint64_t)1 << a) - 1);
    }
}

/* bits[v * K * K + t]: lane l of output vector v reads inside the plane at tap t = kh * K + kw,
 * i.e. its output row is one whose input row at kh is in the plane and its output column one
 * whose input column at kw is: the AND of a row map and a column map, each a few bit ranges
 * (a per-lane loop cost about a microsecond a call, as much as 10 planes of 14x14). */
static void AIS__DX(flat_masks)(const ais__conv_dw_geom *g, int K, uint32_t *bits) {
    uint64_t rows[5][AIS__DW_FLAT_MAX / 64] = {{0}}, cols[5][AIS__DW_FLAT_MAX / 64] = {{0}};
    for (int k = 0; k < K; k++) {
        int64_t lo = g->ph - k > 0 ? g->ph - k : 0, hi = g->ih + g->ph - k;
        hi = hi < g->oh ? hi : g->oh;
        if (lo < hi) AIS__DX(bm_set)(rows[k], lo * g->ow, hi * g->ow);
        lo = g->pw - k > 0 ? g->pw - k : 0;
        hi = g->iw + g->pw - k < g->ow ? g->iw + g->pw - k : g->ow;
        if (lo < hi)
            for (int64_t r = 0; r < g->oh; r++)
                AIS__DX(bm_set)(cols[k], r * g->ow + lo, r * g->ow + hi);
    }
    const int64_t nv = (g->oh * g->ow + AIS__W - 1) / AIS__W;
    for (int64_t v = 0; v < nv; v++)
        for (int t = 0; t < K * K; t++) {
            int64_t word = v * AIS__W / 64, shift = v * AIS__W % 64; /* AIS__W divides 64 */
            uint64_t m = rows[t / K][word] & cols[t % K][word];
            bits[v * K * K + t] = (uint32_t)((m >> shift) & (((uint64_t)1 << AIS__W) - 1));
        }
}

static inline __attribute__((always_inline)) void
AIS__DX(dw_flat)(const float *x, const float *w, float bias, float *y, const ais__conv_dw_geom *g,
                 const ais__conv_act *act, const uint32_t *bits, const int64_t *off, const int K) {
    V wv[25];
    AIS__DW_UNROLL
    for (int i = 0; i < K * K; i++)
        wv[i] = vset(w[i]);
    const int64_t total = g->oh * g->ow;
    for (int64_t q0 = 0; q0 < total; q0 += AIS__W) {
        const uint32_t *b = bits + q0 / AIS__W * K * K;
        /* two chains of FMAs, so a small plane's few vectors do not wait on one long chain */
        V acc0 = vset(bias), acc1 = vset(0.0f);
        AIS__DW_UNROLL
        for (int t = 0; t < K * K; t++) {
            V v = vload_m(x + q0 + off[t], vmask_bits(b[t]));
            if (t % 2)
                acc1 = vfma(wv[t], v, acc1);
            else
                acc0 = vfma(wv[t], v, acc0);
        }
        V o = AIS__DX(act_v)(vadd(acc0, acc1), act);
        if (total - q0 >= AIS__W)
            vstore(y + q0, o);
        else
            vstore_m(y + q0, vmask(0, (int)(total - q0)), o);
    }
}

static inline __attribute__((always_inline)) void
AIS__DX(dw_planes_k)(const float *x, const float *w, const float *bias, float *y, int64_t n,
                     const ais__conv_dw_geom *g, const ais__conv_act *act, const int K,
                     const int S) {
    const int64_t isz = g->ih * g->iw, osz = g->oh * g->ow;
    if (S == 1 && AIS__DX(flat_suits)(g)) {
        uint32_t bits[AIS__DW_FLAT_VECS * 25];
        int64_t off[25];
        AIS__DX(flat_masks)(g, K, bits);
        for (int t = 0; t < K * K; t++)
            off[t] = (t / K - g->ph) * g->iw + (t % K - g->pw);
        for (int64_t c = 0; c < n; c++)
            AIS__DX(dw_flat)
        (x + c * isz, w + c * K * K, bias ? bias[c] : 0.0f, y + c * osz, g, act, bits, off, K);
        return;
    }
    for (int64_t c = 0; c < n; c++)
        AIS__DX(dw_plane_k)
    (x + c * isz, w + c * K * K, bias ? bias[c] : 0.0f, y + c * osz, g, act, K, S);
}

static void AIS__DX(dwconv_planes)(const float *x, const float *w, const float *bias, float *y,
                                   int64_t n, const ais__conv_dw_geom *gp,
                                   const ais__conv_act *actp) {
    if (!ais__dwconv_suits(gp)) {
        for (int64_t c = 0; c < n; c++)
            ais__cpu_ref_conv_dw(x + c * gp->ih * gp->iw, w + c * gp->kh * gp->kw,
                                 bias ? bias[c] : 0.0f, y + c * gp->oh * gp->ow, gp, actp, NULL);
        return;
    }
    /* local copies: the stores to y could alias *gp and *actp, which would make the compiler
     * reload the geometry and the activation after every store */
    const ais__conv_dw_geom gl = *gp, *g = &gl;
    const ais__conv_act al = *actp, *act = &al;
    if (g->kh == 3)
        if (g->sw == 1)
            AIS__DX(dw_planes_k)(x, w, bias, y, n, g, act, 3, 1);
        else
            AIS__DX(dw_planes_k)(x, w, bias, y, n, g, act, 3, 2);
    else if (g->sw == 1)
        AIS__DX(dw_planes_k)(x, w, bias, y, n, g, act, 5, 1);
    else
        AIS__DX(dw_planes_k)(x, w, bias, y, n, g, act, 5, 2);
}
