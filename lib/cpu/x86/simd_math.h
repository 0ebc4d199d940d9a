/*
 * simd_math.h - vector exp, erf, tanh and sigmoid, softmax rows and row reductions, written once
 * over a small set of vector helpers that each ISA file (x86/avx2/avx2_math.c,
 * x86/avx512/avx512_math.c) defines before including this file:
 *
 *   V, M (a comparison result), AIS__W (floats per vector), AIS__SX(name) (the ISA's prefix),
 *   vset vload vstore vadd vsub vmul vdiv vfma(a, b, c) = a * b + c, vmin vmax vabs vround,
 *   vlt vge visnan (-> M), vsel(m, t, f), vpow2_split(n, &s1, &s2) (2^n = s1 * s2 for
 *   integral n in [-150, 128]), vhsum vhmax.
 *
 * Accuracy (float32, against glibc; tests/unit/test_cpu_kernels.c checks the bounds on a dense
 * sweep and random inputs): exp <= 2 ulp, erf <= 4 ulp, tanh <= 4 ulp, sigmoid <= 4 ulp. NaN
 * gives NaN; infinities and huge inputs give the limits (exp: +inf and 0, with subnormal results
 * in between; erf, tanh: +-1; sigmoid: 1 and 0).
 */

/* e^x: Cody-Waite reduction x = n ln2 + r (|r| <= ln2/2), Cephes' degree-7 polynomial for e^r,
 * and 2^n applied in two halves so that results in the subnormal range and near the overflow
 * threshold round once. */
static inline V AIS__SX(exp_v)(V x) {
    V xc = vmin(vmax(x, vset(-104.0f)), vset(89.0f));
    V n = vround(vmul(xc, vset(1.44269504088896341f)));
    V r = vfma(n, vset(-0.693359375f), xc);
    r = vfma(n, vset(2.12194440e-4f), r);
    V p = vset(1.9875691500e-4f);
    p = vfma(p, r, vset(1.3981999507e-3f));
    p = vfma(p, r, vset(8.3334519073e-3f));
    p = vfma(p, r, vset(4.1665795894e-2f));
    p = vfma(p, r, vset(1.6666665459e-1f));
    p = vfma(p, r, vset(5.0000001201e-1f));
    p = vfma(p, vmul(r, r), vadd(r, vset(1.0f)));
    V s1, s2;
    vpow2_split(n, &s1, &s2);
    V y = vmul(vmul(p, s1), s2);
    return vsel(visnan(x), x, y);
}

/* erf: x * P(x^2) below 0.875, 1 - e^(-x^2) Q(x) up to 3.9375 (Q fitted to erfc(x) e^(x^2) in
 * a variable centred on that interval; x^2 is split into two floats so e^(-x^2) keeps its
 * precision), 1 above. Coefficients: least squares on relative error (numpy, 20k points). */
static inline V AIS__SX(erf_v)(V x) {
    V a = vabs(x);
    V z = vmul(a, a);
    V p = vset(7.971048427e-05f);
    p = vfma(p, z, vset(-8.043374015e-04f));
    p = vfma(p, z, vset(5.191833298e-03f));
    p = vfma(p, z, vset(-2.685550926e-02f));
    p = vfma(p, z, vset(1.128362205e-01f));
    p = vfma(p, z, vset(-3.761262874e-01f));
    p = vfma(p, z, vset(1.128379166e+00f));
    V small = vmul(a, p);
    V t = vmul(vsub(vmin(a, vset(3.9375f)), vset(2.40625f)), vset(0.6530612244897959f));
    V q = vset(-5.529124989e-05f);
    q = vfma(q, t, vset(1.546753135e-04f));
    q = vfma(q, t, vset(-2.367387685e-04f));
    q = vfma(q, t, vset(5.420929308e-04f));
    q = vfma(q, t, vset(-1.428118559e-03f));
    q = vfma(q, t, vset(3.303550941e-03f));
    q = vfma(q, t, vset(-7.274602240e-03f));
    q = vfma(q, t, vset(1.560975562e-02f));
    q = vfma(q, t, vset(-3.229421194e-02f));
    q = vfma(q, t, vset(6.406977975e-02f));
    q = vfma(q, t, vset(-1.213402958e-01f));
    q = vfma(q, t, vset(2.180023923e-01f));
    V ac = vmin(a, vset(3.9375f));
    V hi = vmul(ac, ac), lo = vfma(ac, ac, vsub(vset(0.0f), hi)); /* ac^2 = hi + lo exactly */
    V e = AIS__SX(exp_v)(vsub(vset(0.0f), hi));
    e = vsub(e, vmul(e, lo)); /* e^(-hi - lo) = e^(-hi) (1 - lo), |lo| <= 2^-20 */
    V big = vsub(vset(1.0f), vmul(e, q));
    V y = vsel(vlt(a, vset(0.875f)), small, vsel(vlt(a, vset(3.9375f)), big, vset(1.0f)));
    y = vsel(vlt(x, vset(0.0f)), vsub(vset(0.0f), y), y);
    return vsel(visnan(x), x, y);
}

/* tanh: Cephes' odd polynomial below 0.625, 1 - 2 / (e^(2|x|) + 1) above (1 for huge |x|, where
 * e^(2|x|) is +inf), with x's sign. */
static inline V AIS__SX(tanh_v)(V x) {
    V a = vabs(x);
    V z = vmul(x, x);
    V p = vset(-5.70498872745e-3f);
    p = vfma(p, z, vset(2.06390887954e-2f));
    p = vfma(p, z, vset(-5.37397155531e-2f));
    p = vfma(p, z, vset(1.33314422036e-1f));
    p = vfma(p, z, vset(-3.33332819422e-1f));
    V small = vfma(vmul(x, z), p, x);
    V e = AIS__SX(exp_v)(vadd(a, a));
    V big = vsub(vset(1.0f), vdiv(vset(2.0f), vadd(e, vset(1.0f))));
    big = vsel(vlt(x, vset(0.0f)), vsub(vset(0.0f), big), big);
    V y = vsel(vlt(a, vset(0.625f)), small, big);
    return vsel(visnan(x), x, y);
}

/* sigmoid: e = e^(-|x|) never overflows; 1 / (1 + e) for x >= 0, e / (1 + e) below, so that
 * results down to the subnormals keep their relative precision. */
static inline V AIS__SX(sigmoid_v)(V x) {
    V e = AIS__SX(exp_v)(vsub(vset(0.0f), vabs(x)));
    V num = vsel(vge(x, vset(0.0f)), vset(1.0f), e);
    V y = vdiv(num, vadd(vset(1.0f), e));
    return vsel(visnan(x), x, y);
}

/* y[i] = F(x[i]): whole vectors, then the tail through a buffer of one vector. */
#define AIS__SX_MAP(NAME, F)                                                                       \
    static void AIS__SX(NAME)(const float *x, float *y, size_t n) {                                \
        size_t i = 0;                                                                              \
        for (; i + AIS__W <= n; i += AIS__W)                                                       \
            vstore(y + i, F(vload(x + i)));                                                        \
        if (i < n) {                                                                               \
            float b[AIS__W] = {0};                                                                 \
            for (size_t k = 0; k < n - i; k++)                                                     \
                b[k] = x[i + k];                                                                   \
            vstore(b, F(vload(b)));                                                                \
            for (size_t k = 0; k < n - i; k++)                                                     \
                y[i + k] = b[k];                                                                   \
        }                                                                                          \
    }
/* Gelu's erf form 0.5 x (1 + erf(x / sqrt(2))) in one pass, with lib/ops/unary.c's float
 * operations in its order (x * 0.70710678f, erf, then (0.5 x)(1 + erf)), so both give the same
 * bits; unary.c's loop took two scalar passes around verf. */
static inline V AIS__SX(gelu_v)(V x) {
    V e = AIS__SX(erf_v)(vmul(x, vset(0.7071067811865476f)));
    return vmul(vmul(vset(0.5f), x), vadd(vset(1.0f), e));
}
AIS__SX_MAP(vexp, AIS__SX(exp_v))
AIS__SX_MAP(vgelu, AIS__SX(gelu_v))
AIS__SX_MAP(verf, AIS__SX(erf_v))
AIS__SX_MAP(vtanh, AIS__SX(tanh_v))
AIS__SX_MAP(vsigmoid, AIS__SX(sigmoid_v))

/* The tail of x as one vector, the missing lanes set to `pad`. */
static inline V AIS__SX(tail)(const float *x, size_t n, float pad) {
    float b[AIS__W];
    for (size_t k = 0; k < AIS__W; k++)
        b[k] = k < n ? x[k] : pad;
    return vload(b);
}

static float AIS__SX(row_sum)(const float *x, size_t n) {
    V s0 = vset(0.0f), s1 = vset(0.0f), s2 = vset(0.0f), s3 = vset(0.0f);
    size_t i = 0;
    for (; i + 4 * AIS__W <= n; i += 4 * AIS__W) {
        s0 = vadd(s0, vload(x + i));
        s1 = vadd(s1, vload(x + i + AIS__W));
        s2 = vadd(s2, vload(x + i + 2 * AIS__W));
        s3 = vadd(s3, vload(x + i + 3 * AIS__W));
    }
    for (; i + AIS__W <= n; i += AIS__W)
        s0 = vadd(s0, vload(x + i));
    if (i < n) s1 = vadd(s1, AIS__SX(tail)(x + i, n - i, 0.0f));
    return vhsum(vadd(vadd(s0, s1), vadd(s2, s3)));
}

static float AIS__SX(row_sumsq)(const float *x, size_t n) {
    V s0 = vset(0.0f), s1 = vset(0.0f), s2 = vset(0.0f), s3 = vset(0.0f);
    size_t i = 0;
    for (; i + 4 * AIS__W <= n; i += 4 * AIS__W) {
        V a = vload(x + i), b = vload(x + i + AIS__W);
        V c = vload(x + i + 2 * AIS__W), d = vload(x + i + 3 * AIS__W);
        s0 = vfma(a, a, s0);
        s1 = vfma(b, b, s1);
        s2 = vfma(c, c, s2);
        s3 = vfma(d, d, s3);
    }
    for (; i + AIS__W <= n; i += AIS__W) {
        V a = vload(x + i);
        s0 = vfma(a, a, s0);
    }
    if (i < n) {
        V a = AIS__SX(tail)(x + i, n - i, 0.0f);
        s1 = vfma(a, a, s1);
    }
    return vhsum(vadd(vadd(s0, s1), vadd(s2, s3)));
}

/* The maximum, NaN when any element is NaN (vmax alone would drop it), -inf for n == 0. */
static float AIS__SX(row_max)(const float *x, size_t n) {
    V m0 = vset(-INFINITY), m1 = vset(-INFINITY), nan = vset(0.0f);
    size_t i = 0;
    for (; i + 2 * AIS__W <= n; i += 2 * AIS__W) {
        V a = vload(x + i), b = vload(x + i + AIS__W);
        m0 = vmax(m0, a);
        m1 = vmax(m1, b);
        nan = vsel(visnan(a), vset(1.0f), vsel(visnan(b), vset(1.0f), nan));
    }
    for (; i < n; i += AIS__W) {
        V a = i + AIS__W <= n ? vload(x + i) : AIS__SX(tail)(x + i, n - i, -INFINITY);
        m0 = vmax(m0, a);
        nan = vsel(visnan(a), vset(1.0f), nan);
    }
    return vhmax(nan) > 0 ? NAN : vhmax(vmax(m0, m1));
}

static void AIS__SX(nan_row)(float *y, size_t n) {
    for (size_t i = 0; i < n; i++)
        y[i] = NAN;
}

/* e^d for a softmax row's d = x - max <= 0, and 0 below -86. e^-86 (4.4e-38) is still a normal
 * float; below it e^d is subnormal, and a multiplication with a subnormal result takes a microcode
 * assist on Intel cores (tens of cycles per vector): a BERT export's masked keys (-10000 added to
 * their scores) made the rows 2-3x slower. What is dropped is below 4.4e-38 in the output, and
 * below the resolution of the row's sum, which is at least 1. */
static inline V AIS__SX(exp_row_v)(V d) {
    V e = AIS__SX(exp_v)(vmax(d, vset(-86.0f)));
    return vsel(vlt(d, vset(-86.0f)), vset(0.0f), e);
}

static void AIS__SX(softmax_row)(const float *x, float *y, size_t n) {
    float mx = AIS__SX(row_max)(x, n);
    if (!isfinite(mx)) {
        AIS__SX(nan_row)(y, n);
        return;
    }
    V m = vset(mx), s = vset(0.0f);
    size_t i = 0;
    for (; i + AIS__W <= n; i += AIS__W) {
        V e = AIS__SX(exp_row_v)(vsub(vload(x + i), m));
        vstore(y + i, e);
        s = vadd(s, e);
    }
    float sum = vhsum(s);
    if (i < n) {
        float b[AIS__W];
        vstore(b, AIS__SX(exp_row_v)(vsub(AIS__SX(tail)(x + i, n - i, mx), m)));
        for (size_t k = 0; k < n - i; k++) {
            y[i + k] = b[k];
            sum += b[k];
        }
    }
    V inv = vset(1.0f / sum);
    for (i = 0; i + AIS__W <= n; i += AIS__W)
        vstore(y + i, vmul(vload(y + i), inv));
    for (; i < n; i++)
        y[i] *= 1.0f / sum;
}

static void AIS__SX(log_softmax_row)(const float *x, float *y, size_t n) {
    float mx = AIS__SX(row_max)(x, n);
    if (!isfinite(mx)) {
        AIS__SX(nan_row)(y, n);
        return;
    }
    V m = vset(mx), s = vset(0.0f);
    size_t i = 0;
    for (; i + AIS__W <= n; i += AIS__W)
        s = vadd(s, AIS__SX(exp_row_v)(vsub(vload(x + i), m)));
    if (i < n) /* padding with -inf adds e^-inf = 0 */
        s = vadd(s, AIS__SX(exp_row_v)(vsub(AIS__SX(tail)(x + i, n - i, -INFINITY), m)));
    V l = vset(logf(vhsum(s)));
    for (i = 0; i + AIS__W <= n; i += AIS__W)
        vstore(y + i, vsub(vsub(vload(x + i), m), l));
    float lsum = logf(vhsum(s));
    for (; i < n; i++)
        y[i] = (x[i] - mx) - lsum;
}

/* One pass for the sums of d = x - x[0] and d^2 (the tail padded with x[0] adds nothing), a
 * second that writes (x - mean) * (inv * scale) + bias. */
static void AIS__SX(layernorm_row)(const float *x, float *y, size_t n, float eps, const float *g,
                                   const float *b) {
    if (n == 0) return;
    float x0 = x[0];
    V sh = vset(x0), s0 = vset(0.0f), s1 = vset(0.0f), q0 = vset(0.0f), q1 = vset(0.0f);
    size_t i = 0;
    for (; i + 2 * AIS__W <= n; i += 2 * AIS__W) {
        V d0 = vsub(vload(x + i), sh), d1 = vsub(vload(x + i + AIS__W), sh);
        s0 = vadd(s0, d0);
        s1 = vadd(s1, d1);
        q0 = vfma(d0, d0, q0);
        q1 = vfma(d1, d1, q1);
    }
    for (; i < n; i += AIS__W) {
        V d = vsub(i + AIS__W <= n ? vload(x + i) : AIS__SX(tail)(x + i, n - i, x0), sh);
        s0 = vadd(s0, d);
        q0 = vfma(d, d, q0);
    }
    float md = vhsum(vadd(s0, s1)) / (float)n;
    float var = vhsum(vadd(q0, q1)) / (float)n - md * md;
    if (var < 0) var = 0; /* rounding; NaN (from infinities) stays */
    float mean = x0 + md, inv = 1.0f / sqrtf(var + eps);
    V m = vset(mean), iv = vset(inv);
    for (i = 0; i + AIS__W <= n; i += AIS__W) {
        V z = vmul(vsub(vload(x + i), m), iv);
        if (g) z = vmul(z, vload(g + i));
        if (b) z = vadd(z, vload(b + i));
        vstore(y + i, z);
    }
    for (; i < n; i++) {
        float z = (x[i] - mean) * inv;
        if (g) z *= g[i];
        if (b) z += b[i];
        y[i] = z;
    }
}

/* Fills the entries this file defines. */
static void AIS__SX(fill_math)(ais__cpu_kernels *k) {
    k->vexp = AIS__SX(vexp);
    k->verf = AIS__SX(verf);
    k->vtanh = AIS__SX(vtanh);
    k->vsigmoid = AIS__SX(vsigmoid);
    k->softmax_row = AIS__SX(softmax_row);
    k->log_softmax_row = AIS__SX(log_softmax_row);
    k->row_sum = AIS__SX(row_sum);
    k->row_max = AIS__SX(row_max);
    k->row_sumsq = AIS__SX(row_sumsq);
    k->layernorm_row = AIS__SX(layernorm_row);
    k->vgelu = AIS__SX(vgelu);
}
