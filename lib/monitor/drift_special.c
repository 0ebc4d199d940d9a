/*
 * drift_special.c - the few special functions the drift tests need, written to agree with
 * scipy (tests/python/test_drift_stats.py compares them to 1e-6 and better): the chi-square
 * survival function (regularized upper incomplete gamma, the Cephes algorithm: series below,
 * continued fraction above), the exact two-sample Kolmogorov-Smirnov path counts scipy uses
 * (Hodges' inside method with Viehmann's recursion for 1 - p, and the square case), and the
 * finite-n Kolmogorov distribution kstwo.sf of scipy's _ksstats (Simard & L'Ecuyer's choice of
 * Durbin's matrix, Pelz-Good and the Smirnov sum). Debian ships no permissively licensed
 * library with these (GSL is GPL, Cephes is not packaged), so they live here, small and tested.
 */
#include <float.h>
#include <math.h>
#include <string.h>

#include "drift.h"

#define AIS__MACHEP 1.11022302462515654042e-16
#define AIS__MAXLOG 7.09782712893383996843e2
#define AIS__BIG 4.503599627370496e15
#define AIS__BIGINV 2.22044604925031308085e-16

double ais__norm_cdf(double x) { return 0.5 * erfc(-x / sqrt(2.0)); }

/* Lower regularized incomplete gamma P(a, x) by its power series (x < a or x < 1). */
static double ais__igam_series(double a, double x) {
    double ax = a * log(x) - x - lgamma(a);
    if (ax < -AIS__MAXLOG) return 0.0;
    ax = exp(ax);
    double r = a, c = 1.0, ans = 1.0;
    do {
        r += 1.0;
        c *= x / r;
        ans += c;
    } while (c / ans > AIS__MACHEP);
    return ans * ax / a;
}

/* Upper regularized incomplete gamma Q(a, x). */
static double ais__igamc(double a, double x) {
    if (x <= 0 || a <= 0) return 1.0;
    if (isinf(x)) return 0.0;
    if (x < 1.0 || x < a) return 1.0 - ais__igam_series(a, x);
    double ax = a * log(x) - x - lgamma(a);
    if (ax < -AIS__MAXLOG) return 0.0;
    ax = exp(ax);
    double y = 1.0 - a, z = x + y + 1.0, c = 0.0;
    double pkm2 = 1.0, qkm2 = x, pkm1 = x + 1.0, qkm1 = z * x;
    double ans = pkm1 / qkm1, t;
    do {
        c += 1.0;
        y += 1.0;
        z += 2.0;
        double yc = y * c;
        double pk = pkm1 * z - pkm2 * yc;
        double qk = qkm1 * z - qkm2 * yc;
        if (qk != 0) {
            double r = pk / qk;
            t = fabs((ans - r) / r);
            ans = r;
        } else {
            t = 1.0;
        }
        pkm2 = pkm1;
        pkm1 = pk;
        qkm2 = qkm1;
        qkm1 = qk;
        if (fabs(pk) > AIS__BIG) {
            pkm2 *= AIS__BIGINV;
            pkm1 *= AIS__BIGINV;
            qkm2 *= AIS__BIGINV;
            qkm1 *= AIS__BIGINV;
        }
    } while (t > AIS__MACHEP);
    return ans * ax;
}

double ais__chi2_sf(double x, double df) {
    if (isnan(x) || !(df > 0)) return NAN;
    if (x <= 0) return 1.0;
    return ais__igamc(df / 2.0, x / 2.0);
}

/* ---- exact two-sample KS (scipy.stats._stats_py) ---- */

/* Pr(D_{n,n} >= h/n): 2 * (A0 (1 - A1 (1 - A2 (...)))) evaluated from the inside out. */
double ais__ks_exact_square(int64_t n, int64_t h) {
    double p = 0.0;
    for (int64_t k = n / h; k >= 0; k--) {
        double p1 = 1.0;
        for (int64_t j = 0; j < h; j++)
            p1 = (double)(n - k * h - j) * p1 / (double)(n + k * h + j + 1);
        p = p1 * (1.0 - p);
    }
    return 2 * p;
}

/* The proportion of lattice paths from (0,0) to (m,n) that leave |x/m - y/n| < h/lcm(m,n):
 * one column at a time, a sliding window of it, each entry already divided by the binomial
 * coefficient so nothing overflows. Returns NaN when it cannot allocate (the caller then uses
 * the asymptotic distribution, as scipy does when its exact attempt fails). */
double ais__ks_exact_inside(int64_t m, int64_t n, int64_t g, int64_t h) {
    if (m < n) {
        int64_t t = m;
        m = n;
        n = t;
    }
    int64_t mg = m / g, ng = n / g;
    int64_t minj = 0, maxj = (int64_t)ceil((double)h / (double)mg);
    if (maxj > n + 1) maxj = n + 1;
    int64_t curlen = maxj - minj;
    int64_t len_a = 2 * maxj + 2 < n + 1 ? 2 * maxj + 2 : n + 1;
    double *a = ais__malloc((size_t)len_a * sizeof *a);
    if (!a) return NAN;
    for (int64_t i = 0; i < len_a; i++)
        a[i] = 1.0;
    for (int64_t i = minj; i < maxj; i++)
        a[i] = 0.0;
    double result = NAN;
    for (int64_t i = 1; i <= m; i++) {
        int64_t lastminj = minj, lastlen = curlen;
        minj = (int64_t)floor((double)(ng * i - h) / (double)mg) + 1;
        if (minj < 0) minj = 0;
        if (minj > n) minj = n;
        maxj = (int64_t)ceil((double)(ng * i + h) / (double)mg);
        if (maxj > n + 1) maxj = n + 1;
        if (maxj <= minj) {
            ais__free(a);
            return 1.0;
        }
        double val = minj == 0 ? 0.0 : 1.0;
        for (int64_t jj = 0; jj < maxj - minj; jj++) {
            int64_t j = jj + minj;
            int64_t from = jj + minj - lastminj;
            double prev = from < len_a ? a[from] : 1.0;
            val = (prev * (double)i + val * (double)j) / (double)(i + j);
            a[jj] = val;
        }
        curlen = maxj - minj;
        if (lastlen > curlen)
            for (int64_t k = maxj - minj; k < maxj - minj + (lastlen - curlen) && k < len_a; k++)
                a[k] = 1.0;
    }
    result = a[maxj - minj - 1];
    ais__free(a);
    return result;
}

/* ---- kstwo.sf: scipy.stats._ksstats._kolmogn(n, x, cdf=False) ---- */

#define AIS__E128 128

/* Durbin's matrix (Marsaglia, Tsang, Wang): Pr(D_n <= d). */
static double ais__kolmogn_dmtw(int64_t n, double d) {
    if (d >= 1.0) return 1.0;
    double nd = (double)n * d;
    if (nd <= 0.5) return 0.0;
    int k = (int)ceil(nd);
    double h = k - nd;
    int m = 2 * k - 1;
    size_t mm = (size_t)m * (size_t)m;
    double *buf = ais__malloc(4 * mm * sizeof(double) + 2 * (size_t)m * sizeof(double));
    if (!buf) return NAN;
    double *H = buf, *P = buf + mm, *T = buf + 2 * mm, *T2 = buf + 3 * mm;
    double *v = buf + 4 * mm, *w = v + m;
    double fac = 1.0;
    for (int j = 1; j <= m; j++) {
        w[j - 1] = fac;
        fac /= j;
        v[j - 1] = (1.0 - pow(h, j)) * fac;
    }
    double tt = pow(fmax(2 * h - 1.0, 0), m) - 2 * pow(h, m);
    v[m - 1] = (1.0 + tt) * fac;
    memset(H, 0, mm * sizeof(double));
    for (int i = 1; i < m; i++)
        for (int r = i - 1; r < m; r++)
            H[(size_t)r * m + i] = w[r - (i - 1)];
    for (int r = 0; r < m; r++)
        H[(size_t)r * m] = v[r];
    for (int c = 0; c < m; c++)
        H[(size_t)(m - 1) * m + c] = v[m - 1 - c];
    memset(P, 0, mm * sizeof(double));
    for (int i = 0; i < m; i++)
        P[(size_t)i * m + i] = 1.0;
    int64_t nn = n;
    long expnt = 0, hexpnt = 0;
    const double ep128 = ldexp(1.0, AIS__E128);
    while (nn > 0) {
        if (nn % 2) {
            for (int r = 0; r < m; r++)
                for (int c = 0; c < m; c++) {
                    double s = 0;
                    for (int q = 0; q < m; q++)
                        s += P[(size_t)r * m + q] * H[(size_t)q * m + c];
                    T[(size_t)r * m + c] = s;
                }
            memcpy(P, T, mm * sizeof(double));
            expnt += hexpnt;
        }
        for (int r = 0; r < m; r++)
            for (int c = 0; c < m; c++) {
                double s = 0;
                for (int q = 0; q < m; q++)
                    s += H[(size_t)r * m + q] * H[(size_t)q * m + c];
                T2[(size_t)r * m + c] = s;
            }
        memcpy(H, T2, mm * sizeof(double));
        hexpnt *= 2;
        if (fabs(H[(size_t)(k - 1) * m + (k - 1)]) > ep128) {
            for (size_t q = 0; q < mm; q++)
                H[q] /= ep128;
            hexpnt += AIS__E128;
        }
        nn /= 2;
    }
    double p = P[(size_t)(k - 1) * m + (k - 1)];
    ais__free(buf);
    const double em128 = ldexp(1.0, -AIS__E128);
    for (int64_t i = 1; i <= n; i++) {
        p = (double)i * p / (double)n;
        if (fabs(p) < em128) {
            p *= ep128;
            expnt -= AIS__E128;
        }
    }
    if (expnt) p = ldexp(p, (int)expnt);
    return fmin(fmax(p, 0.0), 1.0);
}

static void ais__pomeranz_j1j2(int64_t i, int64_t n, int64_t ll, int64_t ceilf, int64_t roundf,
                               int64_t *j1, int64_t *j2) {
    int64_t a, b;
    if (i == 0) {
        a = -ll - ceilf - 1;
        b = ll + ceilf - 1;
    } else {
        int64_t d = (i + 1) / 2, r = (i + 1) % 2;
        if (r == 0) {
            if (d == n + 1) {
                a = n - ll - ceilf - 1;
                b = n + ll + ceilf - 1;
            } else {
                a = d - 1 - ll - roundf - 1;
                b = d + ll - 1 + ceilf - 1;
            }
        } else {
            a = d - 1 - ll - 1;
            b = d + ll + roundf - 1;
        }
    }
    *j1 = a + 2 > 0 ? a + 2 : 0;
    *j2 = b < n ? b : n;
}

/* Pomeranz's recursion: Pr(D_n <= x). */
static double ais__kolmogn_pomeranz(int64_t n, double x) {
    double t = (double)n * x;
    int64_t ll = (int64_t)floor(t);
    double f = t - (double)ll, g = fmin(f, 1.0 - f);
    int64_t ceilf = f > 0 ? 1 : 0, roundf = f > 0.5 ? 1 : 0;
    int64_t np = 2 * (ll + 1);
    double *buf = ais__calloc((size_t)np * 5 + (size_t)np * 2, sizeof(double));
    if (!buf) return NAN;
    double *gp = buf, *g2p = buf + np, *g12p = buf + 2 * np, *V0 = buf + 3 * np, *V1 = buf + 4 * np;
    double *conv = buf + 5 * np;
    gp[0] = g2p[0] = g12p[0] = 1.0;
    double dn = (double)n;
    for (int64_t m = 1; m < np; m++) {
        gp[m] = gp[m - 1] * (g / dn) / (double)m;
        g2p[m] = g2p[m - 1] * (2 * g / dn) / (double)m;
        g12p[m] = g12p[m - 1] * ((1 - 2 * g) / dn) / (double)m;
    }
    V1[0] = 1;
    int64_t V0s = 0, V1s = 0, j1, j2;
    long expnt = 0;
    const double ep128 = ldexp(1.0, AIS__E128), em128 = ldexp(1.0, -AIS__E128);
    ais__pomeranz_j1j2(0, n, ll, ceilf, roundf, &j1, &j2);
    for (int64_t i = 1; i < 2 * n + 2; i++) {
        int64_t k1 = j1;
        double *tv = V0;
        V0 = V1;
        V1 = tv;
        int64_t ts = V0s;
        V0s = V1s;
        V1s = ts;
        memset(V1, 0, (size_t)np * sizeof(double));
        ais__pomeranz_j1j2(i, n, ll, ceilf, roundf, &j1, &j2);
        const double *pw = (i == 1 || i == 2 * n + 1) ? gp : (i % 2 ? g2p : g12p);
        int64_t ln2 = j2 - k1 + 1;
        if (ln2 > 0) {
            /* full convolution of V0[k1 - V0s, + ln2) with pw[0, ln2), entries [j1-k1, +len) */
            int64_t cs = j1 - k1, cl = j2 - j1 + 1;
            double vmax = 0;
            for (int64_t q = 0; q < cl; q++) {
                int64_t idx = cs + q;
                double s = 0;
                for (int64_t a = 0; a < ln2; a++) {
                    int64_t b = idx - a;
                    if (b < 0 || b >= ln2) continue;
                    int64_t vi = k1 - V0s + a;
                    if (vi >= 0 && vi < np) s += V0[vi] * pw[b];
                }
                V1[q] = s;
                if (s > vmax) vmax = s;
            }
            (void)conv;
            if (vmax > 0 && vmax < em128) {
                for (int64_t q = 0; q < np; q++)
                    V1[q] *= ep128;
                expnt -= AIS__E128;
            }
            V1s = V0s + j1 - k1;
        }
    }
    int64_t at = n - V1s;
    double ans = at >= 0 && at < np ? V1[at] : NAN;
    ais__free(buf);
    for (int64_t m = 1; m <= n; m++) {
        if (fabs(ans) > ep128) {
            ans *= em128;
            expnt += AIS__E128;
        }
        ans *= (double)m;
    }
    if (expnt) ans = ldexp(ans, (int)expnt);
    return fmin(fmax(ans, 0.0), 1.0);
}

/* Pelz-Good's approximation of Pr(D_n <= x). */
static double ais__kolmogn_pelzgood(int64_t n, double x) {
    if (x <= 0.0) return 0.0;
    if (x >= 1.0) return 1.0;
    const double pi = 3.14159265358979323846, pi2 = pi * pi, pi4 = pi2 * pi2, pi6 = pi4 * pi2;
    const double sqrt2pi = sqrt(2 * pi);
    double z = sqrt((double)n) * x;
    double z2 = z * z, z3 = z2 * z, z4 = z2 * z2, z6 = z4 * z2;
    double qlog = -pi2 / 8 / z2;
    if (qlog < -708) return 0.0;
    double q = exp(qlog);
    double k1a = -z2, k1b = pi2 / 4;
    double k2a = 6 * z6 + 2 * z4, k2b = (2 * z4 - 5 * z2) * pi2 / 4, k2c = pi4 * (1 - 2 * z2) / 16;
    double k3d = pi6 * (5 - 30 * z2) / 64, k3c = pi4 * (-60 * z2 + 212 * z4) / 16;
    double k3b = pi2 * (135 * z4 - 96 * z6) / 4, k3a = -30 * z6 - 90 * pow(z, 8);
    double K[4] = {0, 0, 0, 0};
    int maxk = (int)ceil(16 * z / pi);
    for (int k = maxk; k > 0; k--) {
        double m = 2 * k - 1, m2 = m * m, m4 = m2 * m2, m6 = m4 * m2;
        double qp = pow(q, 8 * k);
        double c[4] = {1.0, k1a + k1b * m2, k2a + k2b * m2 + k2c * m4,
                       k3a + k3b * m2 + k3c * m4 + k3d * m6};
        for (int i = 0; i < 4; i++)
            K[i] = K[i] * qp + c[i];
    }
    double den[4] = {z, 6 * z4, 72 * pow(z, 7), 6480 * pow(z, 10)};
    for (int i = 0; i < 4; i++)
        K[i] = K[i] * q * sqrt2pi / den[i];
    q = exp(-pi2 / 2 / z2);
    double k2extra = 0, k3extra = 0, sqrt3z = sqrt(3.0) * z;
    for (int k = maxk; k > 0; k--) {
        double ks2 = (double)k * k, qp = pow(q, ks2), kspi = pi * k;
        k2extra += ks2 * qp;
        k3extra += (sqrt3z + kspi) * (sqrt3z - kspi) * ks2 * qp;
    }
    K[2] += k2extra * pi2 * sqrt2pi / (-36 * z3);
    K[3] += k3extra * pi2 * sqrt2pi / (216 * z6);
    double s = 0;
    for (int i = 0; i < 4; i++)
        s += K[i] / pow((double)n, i / 2.0);
    return s;
}

/* The one-sided Smirnov survival function Pr(D_n^+ >= x), by the Birnbaum-Tingey sum of
 * positive terms (in logs, so large n neither overflows nor cancels). */
static double ais__smirnov(int64_t n, double x) {
    if (x <= 0) return 1.0;
    if (x >= 1) return 0.0;
    double dn = (double)n, s = 0.0;
    int64_t jmax = (int64_t)floor(dn * (1.0 - x));
    double lgn1 = lgamma(dn + 1);
    for (int64_t j = 0; j <= jmax; j++) {
        double a = 1.0 - x - (double)j / dn, b = x + (double)j / dn;
        double lt = lgn1 - lgamma((double)j + 1) - lgamma(dn - (double)j + 1);
        lt += (a > 0 ? (dn - (double)j) * log(a) : (dn - (double)j == 0 ? 0 : -INFINITY));
        lt += ((double)j - 1) * log(b);
        s += exp(lt);
    }
    return fmin(fmax(x * s, 0.0), 1.0);
}

double ais__kstwo_sf(double x, double dn) {
    if (isnan(x) || isnan(dn) || dn <= 0 || floor(dn) != dn) return NAN;
    int64_t n = (int64_t)dn;
    if (x >= 1.0) return 0.0;
    if (x <= 0.0) return 1.0;
    double t = dn * x;
    if (t <= 1.0) {
        if (t <= 0.5) return 1.0;
        double prob;
        if (n <= 140) {
            prob = 1.0;
            for (int64_t i = 1; i <= n; i++)
                prob *= (double)i * (1.0 / dn) * (2 * t - 1);
        } else {
            /* log(n!/n^n) by Stirling's series, as scipy */
            static const double c[] = {-2.955065359477124183e-2,  6.4102564102564102564e-3,
                                       -1.9175269175269175269e-3, 8.4175084175084175084e-4,
                                       -5.952380952380952381e-4,  7.9365079365079365079e-4,
                                       -2.7777777777777777778e-3, 8.3333333333333333333e-2};
            double rn = 1.0 / dn, r2 = rn / dn, poly = 0;
            for (size_t i = 0; i < 8; i++)
                poly = poly * r2 + c[i];
            double lf = log(dn) / 2 - dn + log(2 * 3.14159265358979323846) / 2 + rn * poly;
            prob = exp(lf + dn * log(2 * t - 1));
        }
        return fmin(fmax(1.0 - prob, 0.0), 1.0);
    }
    if (t >= dn - 1) return fmin(fmax(2 * pow(1.0 - x, dn), 0.0), 1.0);
    if (x >= 0.5) return fmin(fmax(2 * ais__smirnov(n, x), 0.0), 1.0);
    double nx2 = t * x;
    double cdf;
    if (n <= 140) {
        if (nx2 <= 0.754693)
            cdf = ais__kolmogn_dmtw(n, x);
        else if (nx2 <= 4)
            cdf = ais__kolmogn_pomeranz(n, x);
        else
            return fmin(fmax(2 * ais__smirnov(n, x), 0.0), 1.0);
        if (isnan(cdf)) cdf = ais__kolmogn_pelzgood(n, x);
        return fmin(fmax(1.0 - cdf, 0.0), 1.0);
    }
    if (nx2 >= 370.0) return 0.0;
    if (nx2 >= 2.2) return fmin(fmax(2 * ais__smirnov(n, x), 0.0), 1.0);
    if (n <= 100000 && dn * pow(x, 1.5) <= 1.4)
        cdf = ais__kolmogn_dmtw(n, x);
    else
        cdf = ais__kolmogn_pelzgood(n, x);
    if (isnan(cdf)) cdf = ais__kolmogn_pelzgood(n, x);
    return fmin(fmax(1.0 - cdf, 0.0), 1.0);
}
