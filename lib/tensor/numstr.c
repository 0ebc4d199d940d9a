/*
 * numstr.c - numbers to and from text, as ONNX's Cast between numbers and strings needs.
 *
 * Formatting follows NumPy's str() of a scalar (what onnx.reference's Cast produces): the
 * shortest decimal that reads back as the same value of its own dtype, positional for zero and
 * 1e-4 <= |v| < 1e16 ("0.5", "100.0"), scientific otherwise ("1e-05", "3.4028235e+38"), and
 * "nan", "inf", "-inf". The C library's printf and strtod follow the process's LC_NUMERIC, so
 * the decimal point is swapped both ways: results never depend on the caller's locale.
 */
#include <ctype.h>
#include <errno.h>
#include <locale.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "tensor.h"

static char ais__locale_point(void) {
    const struct lconv *lc = localeconv();
    return lc && lc->decimal_point && lc->decimal_point[0] && !lc->decimal_point[1]
               ? lc->decimal_point[0]
               : '.';
}

/* Whether the decimal m * 10^e10 reads back as v in `dtype`. */
static bool ais__reads_back(uint64_t m, int e10, double v, ais_dtype dtype) {
    char buf[48];
    snprintf(buf, sizeof buf, "%llue%d", (unsigned long long)m, e10);
    switch (dtype) {
    case AIS_DTYPE_F64: return strtod(buf, NULL) == v;
    case AIS_DTYPE_F16: return ais__f32_to_f16(strtof(buf, NULL)) == ais__f32_to_f16((float)v);
    case AIS_DTYPE_BF16: return ais__f32_to_bf16(strtof(buf, NULL)) == ais__f32_to_bf16((float)v);
    default: return strtof(buf, NULL) == (float)v;
    }
}

/* The shortest digits m (no trailing zeros) and exponent e10 with m * 10^e10 reading back as v
 * (finite, not zero). The correctly rounded p-digit decimal is tried first; just above a power
 * of two the interval that reads back is wider upwards, so the next decimal up may read back
 * when the nearest one does not. */
static void ais__shortest(double v, ais_dtype dtype, uint64_t *m_out, int *e_out) {
    int maxp = dtype == AIS_DTYPE_F64 ? 17 : 9;
    uint64_t m = 0;
    int e10 = 0;
    for (int p = 1; p <= maxp; p++) {
        char buf[64];
        snprintf(buf, sizeof buf, "%.*e", p - 1, v);
        m = 0;
        const char *c = buf;
        for (; *c && *c != 'e'; c++)
            if (*c >= '0' && *c <= '9') m = m * 10 + (uint64_t)(*c - '0');
        e10 = (*c == 'e' ? atoi(c + 1) : 0) - (p - 1);
        if (ais__reads_back(m, e10, v, dtype)) break;
        uint64_t up = m + 1;
        int eu = e10;
        uint64_t lim = 1;
        for (int k = 0; k < p; k++) lim *= 10;
        if (up == lim) {
            up /= 10;
            eu++;
        }
        double dv = fabs(v);
        char cb[48];
        snprintf(cb, sizeof cb, "%llue%d", (unsigned long long)m, e10);
        if (strtod(cb, NULL) < dv && ais__reads_back(up, eu, v, dtype)) {
            m = up;
            e10 = eu;
            break;
        }
    }
    while (m && m % 10 == 0) {
        m /= 10;
        e10++;
    }
    *m_out = m;
    *e_out = e10;
}

size_t ais__num_format(double v, ais_dtype dtype, char *buf, size_t size) {
    if (isnan(v)) return (size_t)snprintf(buf, size, "nan");
    if (isinf(v)) return (size_t)snprintf(buf, size, v < 0 ? "-inf" : "inf");
    if (dtype == AIS_DTYPE_F16) v = ais__f16_to_f32(ais__f32_to_f16((float)v));
    if (dtype == AIS_DTYPE_BF16) v = ais__bf16_to_f32(ais__f32_to_bf16((float)v));
    if (dtype == AIS_DTYPE_F32) v = (float)v;
    const char *sign = signbit(v) ? "-" : "";
    if (v == 0) return (size_t)snprintf(buf, size, "%s0.0", sign);
    uint64_t m;
    int e10;
    ais__shortest(fabs(v), dtype, &m, &e10);
    char d[24];
    int nd = snprintf(d, sizeof d, "%llu", (unsigned long long)m);
    int exp = e10 + nd - 1; /* v = d[0].d[1..] * 10^exp */
    double a = fabs(v);
    if (a >= 1e-4 && a < 1e16) {
        char tmp[64];
        size_t k = 0;
        if (exp >= 0) {
            for (int i = 0; i <= exp; i++) tmp[k++] = i < nd ? d[i] : '0';
            tmp[k++] = '.';
            if (exp + 1 >= nd) tmp[k++] = '0';
            for (int i = exp + 1; i < nd; i++) tmp[k++] = d[i];
        } else {
            tmp[k++] = '0';
            tmp[k++] = '.';
            for (int i = 0; i < -exp - 1; i++) tmp[k++] = '0';
            for (int i = 0; i < nd; i++) tmp[k++] = d[i];
        }
        tmp[k] = 0;
        return (size_t)snprintf(buf, size, "%s%s", sign, tmp);
    }
    if (nd == 1)
        return (size_t)snprintf(buf, size, "%s%ce%c%02d", sign, d[0], exp < 0 ? '-' : '+',
                                exp < 0 ? -exp : exp);
    return (size_t)snprintf(buf, size, "%s%c.%se%c%02d", sign, d[0], d + 1, exp < 0 ? '-' : '+',
                            exp < 0 ? -exp : exp);
}

static bool ais__ieq(const char *a, size_t n, const char *lit) {
    size_t k = strlen(lit);
    if (n != k) return false;
    for (size_t i = 0; i < n; i++)
        if (tolower((unsigned char)a[i]) != lit[i]) return false;
    return true;
}

/* Checks the syntax of a decimal number (surrounding ASCII whitespace allowed) and copies it to
 * buf with the locale's decimal point; *special is 1 for infinities and NaN (handled here, as
 * strtod's set of spellings is wider than ONNX's). Returns false when s is not a number. */
static bool ais__num_syntax(const char *s, char *buf, size_t size, double *special, bool *is_int) {
    while (*s == ' ' || (*s >= '\t' && *s <= '\r')) s++;
    size_t n = strlen(s);
    while (n && (s[n - 1] == ' ' || (s[n - 1] >= '\t' && s[n - 1] <= '\r'))) n--;
    if (n == 0 || n >= size) return false;
    size_t i = 0;
    bool neg = false;
    if (s[i] == '+' || s[i] == '-') neg = s[i++] == '-';
    if (ais__ieq(s + i, n - i, "inf") || ais__ieq(s + i, n - i, "infinity")) {
        *special = neg ? -INFINITY : INFINITY;
        return true;
    }
    if (ais__ieq(s + i, n - i, "nan")) {
        *special = NAN;
        return true;
    }
    size_t digits = 0;
    bool frac = false, expo = false;
    for (; i < n && isdigit((unsigned char)s[i]); i++) digits++;
    if (i < n && s[i] == '.') {
        frac = true;
        for (i++; i < n && isdigit((unsigned char)s[i]); i++) digits++;
    }
    if (!digits) return false;
    if (i < n && (s[i] == 'e' || s[i] == 'E')) {
        expo = true;
        i++;
        if (i < n && (s[i] == '+' || s[i] == '-')) i++;
        size_t ed = 0;
        for (; i < n && isdigit((unsigned char)s[i]); i++) ed++;
        if (!ed) return false;
    }
    if (i != n) return false;
    char pt = ais__locale_point();
    for (size_t k = 0; k < n; k++) buf[k] = s[k] == '.' ? pt : s[k];
    buf[n] = 0;
    *special = 0;
    *is_int = !frac && !expo;
    return true;
}

bool ais__num_parse(const char *s, double *out_f64, float *out_f32) {
    char buf[512];
    double special;
    bool is_int;
    if (!ais__num_syntax(s, buf, sizeof buf, &special, &is_int)) return false;
    if (special != 0 || isnan(special)) {
        *out_f64 = special;
        *out_f32 = (float)special;
        return true;
    }
    *out_f64 = strtod(buf, NULL);
    *out_f32 = strtof(buf, NULL);
    return true;
}

bool ais__num_parse_int(const char *s, bool is_unsigned, int64_t *out_i, uint64_t *out_u) {
    char buf[512];
    double special;
    bool is_int;
    if (!ais__num_syntax(s, buf, sizeof buf, &special, &is_int)) return false;
    if (special != 0 || isnan(special)) return false;
    if (!is_int) {
        /* "100.5" to an integer is 100 (the spec's example): truncate, within range. */
        double d = trunc(strtod(buf, NULL));
        if (is_unsigned) {
            if (!(d >= 0 && d < 18446744073709551616.0)) return false;
            *out_u = (uint64_t)d;
        } else {
            if (!(d >= -9223372036854775808.0 && d < 9223372036854775808.0)) return false;
            *out_i = (int64_t)d;
        }
        return true;
    }
    char *end;
    errno = 0;
    if (is_unsigned) {
        if (buf[0] == '-') {
            bool zero = true;
            for (const char *c = buf + 1; *c; c++) zero = zero && *c == '0';
            if (!zero) return false;
        }
        *out_u = strtoull(buf, &end, 10);
    } else {
        *out_i = strtoll(buf, &end, 10);
    }
    return errno == 0 && *end == 0;
}
