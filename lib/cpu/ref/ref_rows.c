/*
 * ref_rows.c - the portable row kernels: softmax and log-softmax of a contiguous row, and row
 * sums, maxima and sums of squares, written as plain loops with eight partial sums so that the
 * compiler vectorizes them on the baseline instruction set.
 */
#include <math.h>
#include <string.h>

#include "cpu/cpu.h"

/* exp for x in [-87.3, 0] (x - max) written so the compiler vectorizes it (libm's expf is a
 * call per element): Cody-Waite range reduction x = n ln2 + r, a degree-6 polynomial for e^r
 * (|r| <= ln2 / 2, relative error below 2e-7), and 2^n built from the exponent bits. Inputs below
 * -87.3 give about 1e-38 instead of a subnormal or 0, which no softmax output can tell apart. */
static inline float ais__ref_sm_expf(float x) {
    x = x > -87.3f ? x : -87.3f;
    x = x < 88.0f ? x : 88.0f;
    float n = (x * 1.44269504f + 12582912.0f) - 12582912.0f; /* round to nearest */
    float r = x - n * 0.693359375f + n * 2.12194440e-4f;
    float p = 1.0f / 720.0f;
    p = p * r + 1.0f / 120.0f;
    p = p * r + 1.0f / 24.0f;
    p = p * r + 1.0f / 6.0f;
    p = p * r + 0.5f;
    p = p * r + 1.0f;
    p = p * r + 1.0f;
    int32_t bits = ((int32_t)n + 127) << 23;
    float scale;
    memcpy(&scale, &bits, sizeof scale);
    return p * scale;
}

/* The maximum, or NaN when the row holds NaN. */
static float ais__ref_row_max(const float *x, size_t n) {
    float mx = -INFINITY;
    bool nan = false;
    for (size_t i = 0; i < n; i++) {
        mx = x[i] > mx ? x[i] : mx;
        nan |= x[i] != x[i];
    }
    return nan ? NAN : mx;
}

static float ais__ref_row_sum(const float *x, size_t n) {
    float part[8] = {0};
    size_t i = 0;
    for (; i + 8 <= n; i += 8)
        for (int k = 0; k < 8; k++)
            part[k] += x[i + k];
    for (; i < n; i++)
        part[0] += x[i];
    return ((part[0] + part[1]) + (part[2] + part[3])) +
           ((part[4] + part[5]) + (part[6] + part[7]));
}

static float ais__ref_row_sumsq(const float *x, size_t n) {
    float part[8] = {0};
    size_t i = 0;
    for (; i + 8 <= n; i += 8)
        for (int k = 0; k < 8; k++)
            part[k] += x[i + k] * x[i + k];
    for (; i < n; i++)
        part[0] += x[i] * x[i];
    return ((part[0] + part[1]) + (part[2] + part[3])) +
           ((part[4] + part[5]) + (part[6] + part[7]));
}

/* NaN throughout: what (x - max) gives for a NaN or infinite maximum, without computing it. */
static bool ais__ref_row_nan(float mx, float *y, size_t n) {
    if (isfinite(mx)) return false;
    for (size_t i = 0; i < n; i++)
        y[i] = NAN;
    return true;
}

static void ais__ref_softmax_row(const float *x, float *y, size_t n) {
    float mx = ais__ref_row_max(x, n);
    if (ais__ref_row_nan(mx, y, n)) return;
    for (size_t i = 0; i < n; i++)
        y[i] = ais__ref_sm_expf(x[i] - mx);
    float inv = 1.0f / ais__ref_row_sum(y, n);
    for (size_t i = 0; i < n; i++)
        y[i] *= inv;
}

static void ais__ref_log_softmax_row(const float *x, float *y, size_t n) {
    float mx = ais__ref_row_max(x, n);
    if (ais__ref_row_nan(mx, y, n)) return;
    float part[8] = {0};
    size_t i = 0;
    for (; i + 8 <= n; i += 8)
        for (int k = 0; k < 8; k++)
            part[k] += ais__ref_sm_expf(x[i + k] - mx);
    for (; i < n; i++)
        part[0] += ais__ref_sm_expf(x[i] - mx);
    float sum =
        ((part[0] + part[1]) + (part[2] + part[3])) + ((part[4] + part[5]) + (part[6] + part[7]));
    /* (x - max) - log(sum), not x - (max + log(sum)): the latter rounds log(sum) away when
     * |max| is large. */
    float lsum = logf(sum);
    for (i = 0; i < n; i++)
        y[i] = (x[i] - mx) - lsum;
}

/* The reference: two passes in double (mean, then the squared deviations). */
static void ais__ref_layernorm_row(const float *x, float *y, size_t n, float eps, const float *g,
                                   const float *b) {
    if (n == 0) return;
    double s = 0, q = 0;
    for (size_t i = 0; i < n; i++)
        s += x[i];
    double mean = s / (double)n;
    for (size_t i = 0; i < n; i++)
        q += (x[i] - mean) * (x[i] - mean);
    double inv = 1.0 / sqrt(q / (double)n + eps);
    for (size_t i = 0; i < n; i++) {
        double z = (x[i] - mean) * inv;
        if (g) z *= g[i];
        if (b) z += b[i];
        y[i] = (float)z;
    }
}

/* The reference LRN row: the window's squares summed channel by channel, then one powf per
 * position (what lib/ops/norm.c always did). */
void ais__cpu_ref_lrn_row(const float *xw, int64_t plane, int64_t nk, const float *xc, float *y,
                          size_t n, float alpha_n, float beta, float bias) {
    for (size_t i = 0; i < n; i++) {
        float s = 0;
        for (int64_t k = 0; k < nk; k++) {
            float v = xw[k * plane + (int64_t)i];
            s += v * v;
        }
        y[i] = xc[i] / powf(bias + alpha_n * s, beta);
    }
}

void ais__cpu_fill_ref_rows(ais__cpu_kernels *k) {
    k->lrn_row = ais__cpu_ref_lrn_row;
    k->layernorm_row = ais__ref_layernorm_row;
    k->softmax_row = ais__ref_softmax_row;
    k->log_softmax_row = ais__ref_log_softmax_row;
    k->row_sum = ais__ref_row_sum;
    k->row_max = ais__ref_row_max;
    k->row_sumsq = ais__ref_row_sumsq;
}
