/*
 * drift_stats.c - drift of one feature between a reference sample and a current one: the
 * statistics of scipy.stats, the binning, zero filling, thresholds and default method choice of
 * Evidently 0.4.40 (docs/monitoring.md lists each formula and where it comes from).
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "drift.h"

/* ---- statistics on clean inputs ---- */

static double ais__gcd(int64_t a, int64_t b) {
    while (b) {
        int64_t t = a % b;
        a = b;
        b = t;
    }
    return (double)a;
}

double ais__ks_2samp_p(const double *a, size_t na, const double *b, size_t nb, double *stat) {
    /* D as scipy computes it: the ECDF difference at every data point, as i/n1 - j/n2 */
    double maxs = 0, mins = 0;
    size_t i = 0, j = 0;
    while (i < na || j < nb) {
        double v = i < na && (j >= nb || a[i] <= b[j]) ? a[i] : b[j];
        while (i < na && a[i] <= v)
            i++;
        while (j < nb && b[j] <= v)
            j++;
        double diff = (double)i / (double)na - (double)j / (double)nb;
        if (diff > maxs) maxs = diff;
        if (-diff > mins) mins = -diff;
    }
    double d = mins > maxs ? mins : maxs;
    if (mins > 1) d = 1;
    *stat = d;
    int64_t n1 = (int64_t)na, n2 = (int64_t)nb;
    double prob = NAN;
    if ((n1 > n2 ? n1 : n2) <= 10000) { /* scipy's MAX_AUTO_N: 'auto' is exact up to it */
        int64_t g = (int64_t)ais__gcd(n1, n2);
        int64_t lcm = (n1 / g) * n2;
        int64_t h = (int64_t)llround(d * (double)lcm);
        *stat = (double)h / (double)lcm;
        if (h == 0) return 1.0;
        prob = n1 == n2 ? ais__ks_exact_square(n1, h) : ais__ks_exact_inside(n1, n2, g, h);
        if (!(prob >= 0 && prob <= 1))
            prob = NAN; /* scipy falls back to the asymptotic */
        else
            d = *stat;
    }
    if (isnan(prob)) {
        double m = (double)(n1 > n2 ? n1 : n2), n = (double)(n1 > n2 ? n2 : n1);
        double en = m * n / (m + n);
        prob = ais__kstwo_sf(d, nearbyint(en)); /* np.round: half to even, like nearbyint */
    }
    return fmin(fmax(prob, 0.0), 1.0);
}

double ais__chisquare_p(const double *obs, const double *exp, size_t k) {
    if (k < 2) return 1.0; /* one category: no difference to test (scipy gives NaN) */
    double stat = 0;
    for (size_t i = 0; i < k; i++) {
        double d = obs[i] - exp[i];
        if (exp[i] == 0) {
            if (d != 0) return 0.0; /* a category the reference never had: infinite stat */
            continue;
        }
        stat += d * d / exp[i];
    }
    return ais__chi2_sf(stat, (double)(k - 1));
}

double ais__wasserstein(const double *a, size_t na, const double *b, size_t nb) {
    /* the integral of |U - V| between consecutive values of the merged samples */
    double sum = 0, prev = 0;
    size_t i = 0, j = 0;
    bool first = true;
    while (i < na || j < nb) {
        double v = i < na && (j >= nb || a[i] <= b[j]) ? a[i] : b[j];
        if (!first) {
            double u = (double)i / (double)na, w = (double)j / (double)nb;
            sum += fabs(u - w) * (v - prev);
        }
        first = false;
        prev = v;
        if (i < na && a[i] == v)
            i++;
        else
            j++;
    }
    return sum;
}

double ais__jensenshannon(const double *p, const double *q, size_t k) {
    double sp = 0, sq = 0;
    for (size_t i = 0; i < k; i++) {
        sp += p[i];
        sq += q[i];
    }
    double js = 0;
    for (size_t i = 0; i < k; i++) {
        double a = p[i] / sp, b = q[i] / sq, m = (a + b) / 2;
        if (a > 0) js += a * log(a / m);
        if (b > 0) js += b * log(b / m);
    }
    return sqrt(fmax(js / 2.0, 0.0));
}

/* ---- preparing samples ---- */

static int ais__cmp_double(const void *x, const void *y) {
    double a = *(const double *)x, b = *(const double *)y;
    return (a > b) - (a < b);
}

/* The finite values of v, sorted, in a new array. */
static ais_status ais__clean(const double *v, size_t n, const char *which, double **out,
                             size_t *n_out) {
    double *c = ais__malloc((n ? n : 1) * sizeof *c);
    if (!c) return ais__oom(n * sizeof *c, which);
    size_t k = 0;
    for (size_t i = 0; i < n; i++)
        if (isfinite(v[i])) c[k++] = v[i];
    qsort(c, k, sizeof *c, ais__cmp_double);
    *out = c;
    *n_out = k;
    return AIS_OK;
}

static size_t ais__n_unique(const double *v, size_t n) {
    size_t u = 0;
    for (size_t i = 0; i < n; i++)
        if (i == 0 || v[i] != v[i - 1]) u++;
    return u;
}

/* Unique values over both sorted samples and the count of each per side: what Evidently's
 * value_counts over the union of keys gives. */
static ais_status ais__value_counts(const double *a, size_t na, const double *b, size_t nb,
                                    double **ca, double **cb, size_t *k) {
    size_t cap = ais__n_unique(a, na) + ais__n_unique(b, nb);
    *ca = ais__calloc(cap ? cap : 1, sizeof **ca);
    *cb = ais__calloc(cap ? cap : 1, sizeof **cb);
    if (!*ca || !*cb) {
        ais__free(*ca);
        ais__free(*cb);
        *ca = *cb = NULL;
        return ais__oom(cap * 16, "drift value counts");
    }
    size_t i = 0, j = 0, u = 0;
    while (i < na || j < nb) {
        double v = i < na && (j >= nb || a[i] <= b[j]) ? a[i] : b[j];
        while (i < na && a[i] == v) {
            (*ca)[u]++;
            i++;
        }
        while (j < nb && b[j] == v) {
            (*cb)[u]++;
            j++;
        }
        u++;
    }
    *k = u;
    return AIS_OK;
}

/* ---- methods on counts (categorical, or numeric treated by value) ---- */

static double ais__sum(const double *v, size_t n) {
    double s = 0;
    for (size_t i = 0; i < n; i++)
        s += v[i];
    return s;
}

/* Evidently's feel_zeroes: empty bins get min(nonzero)/1e6, or 1e-4 when that minimum is above
 * 1e-4. */
static void ais__fill_zeroes(double *p, size_t k) {
    double mn = INFINITY;
    for (size_t i = 0; i < k; i++)
        if (p[i] != 0 && p[i] < mn) mn = p[i];
    if (isinf(mn)) return;
    double fill = mn <= 0.0001 ? mn / 1e6 : 0.0001;
    for (size_t i = 0; i < k; i++)
        if (p[i] == 0) p[i] = fill;
}

static double ais__z_p(const double *ca, const double *cb, size_t k) {
    double n1 = ais__sum(ca, k), n2 = ais__sum(cb, k);
    size_t u1 = 0, u2 = 0, only1 = 0, only2 = 0;
    for (size_t i = 0; i < k; i++) {
        if (ca[i] > 0) {
            u1++;
            only1 = i;
        }
        if (cb[i] > 0) {
            u2++;
            only2 = i;
        }
    }
    if (u1 == 1 && u2 == 1 && only1 == only2) return 1.0;
    /* the first key in sorted order is the "0" category, everything else "1" */
    size_t key = 0;
    while (key < k && ca[key] == 0 && cb[key] == 0)
        key++;
    double p1 = (n1 - ca[key]) / n1, p2 = (n2 - cb[key]) / n2;
    double P = (p1 * n1 + p2 * n2) / (n1 + n2);
    double z = (p1 - p2) / sqrt(P * (1 - P) * (1.0 / n1 + 1.0 / n2));
    return 2 * (1 - ais__norm_cdf(fabs(z)));
}

static double ais__chi_counts(const double *ca, const double *cb, size_t k, double *scratch) {
    double n1 = ais__sum(ca, k), n2 = ais__sum(cb, k);
    double knorm = n2 / n1;
    /* keys: categories seen on either side */
    size_t u = 0;
    double *obs = scratch, *exp = scratch + k;
    for (size_t i = 0; i < k; i++) {
        if (ca[i] == 0 && cb[i] == 0) continue;
        exp[u] = ca[i] * knorm;
        obs[u] = cb[i];
        u++;
    }
    return ais__chisquare_p(obs, exp, u);
}

/* JS (no zero filling) or PSI (with) on per-side shares. */
static double ais__binned(double *ra, double *rb, size_t k, bool psi) {
    if (psi) {
        ais__fill_zeroes(ra, k);
        ais__fill_zeroes(rb, k);
        double s = 0;
        for (size_t i = 0; i < k; i++)
            s += (ra[i] - rb[i]) * log(ra[i] / rb[i]);
        return s;
    }
    return ais__jensenshannon(ra, rb, k);
}

/* Shares of the categories seen on either side (Evidently's keys). */
static size_t ais__shares(const double *ca, const double *cb, size_t k, double *ra, double *rb) {
    double n1 = ais__sum(ca, k), n2 = ais__sum(cb, k);
    size_t u = 0;
    for (size_t i = 0; i < k; i++) {
        if (ca[i] == 0 && cb[i] == 0) continue;
        ra[u] = ca[i] / n1;
        rb[u] = cb[i] / n2;
        u++;
    }
    return u;
}

/* ---- the public calls ---- */

AIS_API const char *ais_drift_method_name(ais_drift_method m) {
    switch (m) {
    case AIS_DRIFT_AUTO: return "auto";
    case AIS_DRIFT_KS: return "ks";
    case AIS_DRIFT_CHISQUARE: return "chisquare";
    case AIS_DRIFT_Z: return "z";
    case AIS_DRIFT_WASSERSTEIN: return "wasserstein";
    case AIS_DRIFT_JENSENSHANNON: return "jensenshannon";
    case AIS_DRIFT_PSI: return "psi";
    }
    return "unknown";
}

static bool ais__is_pvalue(ais_drift_method m) {
    return m == AIS_DRIFT_KS || m == AIS_DRIFT_CHISQUARE || m == AIS_DRIFT_Z;
}

static ais_status ais__check_method(ais_drift_method m, double threshold, const char *who) {
    if ((int)m < AIS_DRIFT_AUTO || (int)m > AIS_DRIFT_PSI)
        return ais__error(AIS_E_INVALID_ARGUMENT, "%s: unknown method %d", who, (int)m);
    if (!(threshold >= 0 && isfinite(threshold)))
        return ais__error(AIS_E_INVALID_ARGUMENT,
                          "%s: threshold %g (expected a finite number "
                          ">= 0; 0 for the method's default)",
                          who, threshold);
    return AIS_OK;
}

/* The verdict, with Evidently's comparison per method (KS: p <= t; chi-square and z: p < t;
 * distances: d >= t). */
static void ais__verdict(ais_drift_method m, double value, double threshold,
                         ais_drift_method *method_used, double *value_out, double *thr_out,
                         int32_t *drift) {
    if (threshold == 0) threshold = ais__is_pvalue(m) ? 0.05 : 0.1;
    bool d = m == AIS_DRIFT_KS   ? value <= threshold
             : ais__is_pvalue(m) ? value < threshold
                                 : value >= threshold;
    if (method_used) *method_used = m;
    if (value_out) *value_out = value;
    if (thr_out) *thr_out = threshold;
    if (drift) *drift = d;
}

/* Numeric sample histograms over Sturges bins of both samples together (numpy's
 * histogram_bin_edges(bins="sturges") and histogram(x, edges)), as shares of each side. */
static ais_status ais__sturges_shares(const double *a, size_t na, const double *b, size_t nb,
                                      double **ra, double **rb, size_t *k) {
    double lo = fmin(a[0], b[0]), hi = fmax(a[na - 1], b[nb - 1]);
    double ptp = hi - lo;
    double first = lo, last = hi;
    if (first == last) {
        first -= 0.5;
        last += 0.5;
    }
    size_t nbins = 1;
    double width = ptp / (log2((double)(na + nb)) + 1.0);
    if (width != 0) nbins = (size_t)ceil((last - first) / width);
    double *edges = ais__malloc((nbins + 1) * sizeof *edges);
    *ra = ais__calloc(nbins, sizeof **ra);
    *rb = ais__calloc(nbins, sizeof **rb);
    if (!edges || !*ra || !*rb) {
        ais__free(edges);
        ais__free(*ra);
        ais__free(*rb);
        *ra = *rb = NULL;
        return ais__oom(nbins * 24, "drift histogram");
    }
    double step = (last - first) / (double)nbins;
    for (size_t i = 0; i < nbins; i++)
        edges[i] = (double)i * step + first;
    edges[nbins] = last;
    /* bin i holds [e_i, e_i+1), the last one also its right edge: counts from the sorted
     * samples by the positions of the edges, as numpy's searchsorted path does */
    const double *s[2] = {a, b};
    size_t n[2] = {na, nb};
    double *r[2] = {*ra, *rb};
    for (int side = 0; side < 2; side++) {
        size_t pos = 0, prev = 0;
        for (size_t i = 1; i <= nbins; i++) {
            if (i < nbins)
                while (pos < n[side] && s[side][pos] < edges[i])
                    pos++;
            else
                while (pos < n[side] && s[side][pos] <= edges[i])
                    pos++;
            size_t lo_pos = 0;
            if (i == 1) { /* values below the first edge are not counted (none here) */
                while (lo_pos < n[side] && s[side][lo_pos] < edges[0])
                    lo_pos++;
                prev = lo_pos;
            }
            r[side][i - 1] = (double)(pos - prev) / (double)n[side];
            prev = pos;
        }
    }
    ais__free(edges);
    *k = nbins;
    return AIS_OK;
}

AIS_API ais_status ais_drift_numeric(const double *reference, size_t n_reference,
                                     const double *current, size_t n_current,
                                     ais_drift_method method, double threshold,
                                     ais_drift_method *method_used, double *value,
                                     double *threshold_used, int32_t *drift) {
    const char *who = "ais_drift_numeric";
    if ((n_reference && !reference) || (n_current && !current))
        return ais__error(AIS_E_INVALID_ARGUMENT, "%s: %s is NULL", who,
                          n_reference && !reference ? "reference" : "current");
    AIS__CHECK(ais__check_method(method, threshold, who));
    double *a = NULL, *b = NULL, *ca = NULL, *cb = NULL;
    size_t na = 0, nb = 0, k = 0;
    ais_status st = ais__clean(reference, n_reference, "drift reference", &a, &na);
    if (st == AIS_OK) st = ais__clean(current, n_current, "drift current", &b, &nb);
    if (st == AIS_OK && (na < 2 || nb < 2))
        st = ais__error(AIS_E_INVALID_ARGUMENT,
                        "%s: the %s sample has %zu finite values (NaN "
                        "and infinities are left out); at least 2 are needed",
                        who, na < 2 ? "reference" : "current", na < 2 ? na : nb);
    if (st != AIS_OK) goto done;
    ais_drift_method m = method;
    if (m == AIS_DRIFT_AUTO) {
        /* nunique of both together: the number of value-count keys */
        size_t i = 0, j = 0, u = 0;
        while (i < na || j < nb) {
            double v = i < na && (j >= nb || a[i] <= b[j]) ? a[i] : b[j];
            while (i < na && a[i] == v)
                i++;
            while (j < nb && b[j] == v)
                j++;
            u++;
        }
        if (na <= 1000)
            m = u <= 5 ? (u > 2 ? AIS_DRIFT_CHISQUARE : AIS_DRIFT_Z) : AIS_DRIFT_KS;
        else
            m = u <= 5 ? AIS_DRIFT_JENSENSHANNON : AIS_DRIFT_WASSERSTEIN;
    }
    double v = NAN;
    bool binned = m == AIS_DRIFT_JENSENSHANNON || m == AIS_DRIFT_PSI;
    if (m == AIS_DRIFT_KS) {
        double d;
        v = ais__ks_2samp_p(a, na, b, nb, &d);
    } else if (m == AIS_DRIFT_WASSERSTEIN) {
        double mean = 0, var = 0;
        for (size_t i = 0; i < na; i++)
            mean += a[i];
        mean /= (double)na;
        for (size_t i = 0; i < na; i++)
            var += (a[i] - mean) * (a[i] - mean);
        double sd = sqrt(var / (double)na); /* np.std: ddof 0 */
        v = ais__wasserstein(a, na, b, nb) / fmax(sd, 0.001);
    } else if (binned && ais__n_unique(a, na) > 20) {
        if ((st = ais__sturges_shares(a, na, b, nb, &ca, &cb, &k)) != AIS_OK) goto done;
        v = ais__binned(ca, cb, k, m == AIS_DRIFT_PSI);
    } else {
        /* chi-square, Z, and the binned methods on few values: by value, like categories */
        if ((st = ais__value_counts(a, na, b, nb, &ca, &cb, &k)) != AIS_OK) goto done;
        double *scratch = ais__malloc(2 * k * sizeof *scratch);
        if (!scratch) {
            st = ais__oom(2 * k * sizeof *scratch, "drift");
            goto done;
        }
        if (m == AIS_DRIFT_Z)
            v = ais__z_p(ca, cb, k);
        else if (m == AIS_DRIFT_CHISQUARE)
            v = ais__chi_counts(ca, cb, k, scratch);
        else {
            size_t u = ais__shares(ca, cb, k, scratch, scratch + k);
            memmove(scratch + u, scratch + k, u * sizeof *scratch);
            v = ais__binned(scratch, scratch + u, u, m == AIS_DRIFT_PSI);
        }
        ais__free(scratch);
    }
    if (isnan(v)) {
        st = ais__error(AIS_E_INTERNAL, "%s: %s gave NaN on %zu and %zu values", who,
                        ais_drift_method_name(m), na, nb);
        goto done;
    }
    ais__verdict(m, v, threshold, method_used, value, threshold_used, drift);
done:
    ais__free(a);
    ais__free(b);
    ais__free(ca);
    ais__free(cb);
    return st;
}

AIS_API ais_status ais_drift_categorical(const uint64_t *reference_counts,
                                         const uint64_t *current_counts, size_t n_categories,
                                         ais_drift_method method, double threshold,
                                         ais_drift_method *method_used, double *value,
                                         double *threshold_used, int32_t *drift) {
    const char *who = "ais_drift_categorical";
    if (n_categories && (!reference_counts || !current_counts))
        return ais__error(AIS_E_INVALID_ARGUMENT, "%s: %s is NULL", who,
                          !reference_counts ? "reference_counts" : "current_counts");
    AIS__CHECK(ais__check_method(method, threshold, who));
    if (method == AIS_DRIFT_KS || method == AIS_DRIFT_WASSERSTEIN)
        return ais__error(AIS_E_INVALID_ARGUMENT,
                          "%s: %s needs numeric values, not category "
                          "counts",
                          who, ais_drift_method_name(method));
    size_t k = n_categories;
    double *buf = ais__malloc((4 * k + 1) * sizeof *buf);
    if (!buf) return ais__oom(4 * k * sizeof *buf, "drift");
    double *ca = buf, *cb = buf + k, *s = buf + 2 * k;
    double n1 = 0, n2 = 0;
    size_t u = 0;
    for (size_t i = 0; i < k; i++) {
        ca[i] = (double)reference_counts[i];
        cb[i] = (double)current_counts[i];
        n1 += ca[i];
        n2 += cb[i];
        if (ca[i] > 0 || cb[i] > 0) u++;
    }
    if (n1 < 2 || n2 < 2) {
        ais__free(buf);
        return ais__error(AIS_E_INVALID_ARGUMENT,
                          "%s: the %s counts sum to %.0f; at least 2 "
                          "values are needed",
                          who, n1 < 2 ? "reference" : "current", n1 < 2 ? n1 : n2);
    }
    ais_drift_method m = method;
    if (m == AIS_DRIFT_AUTO)
        m = n1 <= 1000 ? (u > 2 ? AIS_DRIFT_CHISQUARE : AIS_DRIFT_Z) : AIS_DRIFT_JENSENSHANNON;
    double v;
    if (m == AIS_DRIFT_Z)
        v = ais__z_p(ca, cb, k);
    else if (m == AIS_DRIFT_CHISQUARE)
        v = ais__chi_counts(ca, cb, k, s);
    else {
        size_t w = ais__shares(ca, cb, k, s, s + k);
        memmove(s + w, s + k, w * sizeof *s);
        v = ais__binned(s, s + w, w, m == AIS_DRIFT_PSI);
    }
    ais__free(buf);
    if (isnan(v))
        return ais__error(AIS_E_INTERNAL, "%s: %s gave NaN", who, ais_drift_method_name(m));
    ais__verdict(m, v, threshold, method_used, value, threshold_used, drift);
    return AIS_OK;
}
