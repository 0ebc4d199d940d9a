/*
 * report.c - a drift report: every feature of a reference profile against the same feature of a
 * current one (a live window, or a profile of new data), with the dataset verdict and the JSON
 * of the `aistack drift --json` contract.
 */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "drift.h"
#include "profile.h"

typedef struct ais__row {
    char *name;
    ais_feature_kind kind;
    ais_drift_method method;
    double value, threshold;
    int32_t drift;
    char *skipped; /* why no statistic: fewer than 2 values on a side; NULL when computed */
} ais__row;

struct ais_drift_report {
    ais__row *rows;
    size_t n, n_computed, n_drifted;
};

AIS_API void ais_drift_report_destroy(ais_drift_report *r) {
    if (!r) return;
    for (size_t i = 0; i < r->n; i++) {
        ais__free(r->rows[i].name);
        ais__free(r->rows[i].skipped);
    }
    ais__free(r->rows);
    ais__free(r);
}

static ais_status ais__compare(const ais_profile *ref, size_t ri, const ais_profile *cur, size_t ci,
                               ais__row *row) {
    ais_drift_method m;
    double thr;
    ais__profile_method(ref, ri, &m, &thr);
    ais_status st;
    if (row->kind == AIS_FEATURE_NUMERIC) {
        size_t na, nb;
        const double *a = ais__profile_sample(ref, ri, &na), *b = ais__profile_sample(cur, ci, &nb);
        st = ais_drift_numeric(a, na, b, nb, m, thr, &row->method, &row->value, &row->threshold,
                               &row->drift);
    } else {
        uint64_t *rc, *cc;
        size_t k;
        AIS__CHECK(ais__profile_counts(ref, ri, cur, ci, &rc, &cc, &k));
        st = ais_drift_categorical(rc, cc, k, m, thr, &row->method, &row->value, &row->threshold,
                                   &row->drift);
        ais__free(rc);
        ais__free(cc);
    }
    if (st == AIS_E_INVALID_ARGUMENT) { /* too few values: a defined "skipped", not a failure */
        row->skipped = ais__strdup(ais_last_error());
        if (!row->skipped) return ais__oom(256, "drift report");
        return AIS_OK;
    }
    return st;
}

AIS_API ais_status ais_profile_drift(const ais_profile *reference, const ais_profile *current,
                                     ais_drift_report **out) {
    if (!out) return ais__error(AIS_E_INVALID_ARGUMENT, "ais_profile_drift: out is NULL");
    *out = NULL;
    if (!reference || !current)
        return ais__error(AIS_E_INVALID_ARGUMENT, "ais_profile_drift: %s is NULL",
                          !reference ? "reference" : "current");
    size_t n = ais_profile_feature_count(reference);
    ais_drift_report *r = ais__calloc(1, sizeof *r);
    if (r) r->rows = ais__calloc(n ? n : 1, sizeof *r->rows);
    if (!r || !r->rows) {
        ais__free(r);
        return ais__oom(n * sizeof(ais__row), "drift report");
    }
    ais_status st = AIS_OK;
    for (size_t i = 0; i < n && st == AIS_OK; i++) {
        const char *name;
        ais_feature_kind kind, ckind;
        ais_profile_feature_info(reference, i, &name, &kind, NULL, NULL, NULL, NULL, NULL, NULL);
        size_t ci;
        if (ais_profile_find(current, name, &ci) != AIS_OK) {
            st = ais__error(AIS_E_NOT_FOUND,
                            "drift: the current data has no feature '%s' of the "
                            "reference profile",
                            name);
            break;
        }
        ais_profile_feature_info(current, ci, NULL, &ckind, NULL, NULL, NULL, NULL, NULL, NULL);
        if (ckind != kind) {
            st = ais__error(AIS_E_DTYPE,
                            "drift: feature '%s' is %s in the reference, %s in the "
                            "current data",
                            name, kind == AIS_FEATURE_CATEGORICAL ? "categorical" : "numeric",
                            ckind == AIS_FEATURE_CATEGORICAL ? "categorical" : "numeric");
            break;
        }
        ais__row *row = &r->rows[r->n++];
        row->name = ais__strdup(name);
        row->kind = kind;
        if (!row->name) {
            st = ais__oom(strlen(name) + 1, "drift report");
            break;
        }
        if ((st = ais__compare(reference, i, current, ci, row)) != AIS_OK) break;
        if (!row->skipped) {
            r->n_computed++;
            r->n_drifted += row->drift != 0;
        }
    }
    if (st != AIS_OK) {
        ais_drift_report_destroy(r);
        return st;
    }
    *out = r;
    return AIS_OK;
}

AIS_API size_t ais_drift_report_feature_count(const ais_drift_report *r) { return r ? r->n : 0; }

AIS_API ais_status ais_drift_report_feature(const ais_drift_report *r, size_t i, const char **name,
                                            ais_feature_kind *kind, ais_drift_method *method,
                                            double *value, double *threshold, int32_t *drift,
                                            const char **skipped) {
    if (!r) return ais__error(AIS_E_INVALID_ARGUMENT, "ais_drift_report_feature: report is NULL");
    if (i >= r->n)
        return ais__error(AIS_E_NOT_FOUND,
                          "ais_drift_report_feature: feature %zu, the report "
                          "has %zu",
                          i, r->n);
    const ais__row *row = &r->rows[i];
    if (name) *name = row->name;
    if (kind) *kind = row->kind;
    if (method) *method = row->skipped ? AIS_DRIFT_AUTO : row->method;
    if (value) *value = row->skipped ? 0 : row->value;
    if (threshold) *threshold = row->skipped ? 0 : row->threshold;
    if (drift) *drift = row->skipped ? 0 : row->drift;
    if (skipped) *skipped = row->skipped;
    return AIS_OK;
}

AIS_API ais_status ais_drift_report_dataset(const ais_drift_report *r, int32_t *dataset_drift,
                                            double *drift_share, size_t *n_drifted) {
    if (!r) return ais__error(AIS_E_INVALID_ARGUMENT, "ais_drift_report_dataset: report is NULL");
    double share = r->n_computed ? (double)r->n_drifted / (double)r->n_computed : 0.0;
    if (drift_share) *drift_share = share;
    if (dataset_drift) *dataset_drift = r->n_computed && share >= 0.5; /* Evidently's 0.5 */
    if (n_drifted) *n_drifted = r->n_drifted;
    return AIS_OK;
}

typedef struct ais__jout {
    char *buf;
    size_t size, len;
} ais__jout;

static void ais__jput(ais__jout *o, const char *fmt, ...) AIS__PRINTF(2, 3);
static void ais__jput(ais__jout *o, const char *fmt, ...) {
    char tmp[512]; /* every call's text is short: names go through ais__jstr */
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(tmp, sizeof tmp, fmt, ap);
    va_end(ap);
    if (n < 0) return;
    size_t k = (size_t)n < sizeof tmp ? (size_t)n : sizeof tmp - 1;
    if (o->buf && o->len + k < o->size) memcpy(o->buf + o->len, tmp, k);
    o->len += k;
}

/* The shortest text that reads back as v (JSON has no NaN or infinity: none gets here). */
static void ais__jnum(ais__jout *o, double v) {
    char b[40];
    for (int prec = 1; prec <= 17; prec++) {
        snprintf(b, sizeof b, "%.*g", prec, v);
        if (strtod(b, NULL) == v) break;
    }
    ais__jput(o, "%s", b);
}

static void ais__jstr(ais__jout *o, const char *s) {
    ais__jput(o, "\"");
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if (*p == '"' || *p == '\\')
            ais__jput(o, "\\%c", *p);
        else if (*p < 0x20)
            ais__jput(o, "\\u%04x", *p);
        else
            ais__jput(o, "%c", *p);
    }
    ais__jput(o, "\"");
}

AIS_API ais_status ais_drift_report_json(const ais_drift_report *r, char *buf, size_t size,
                                         size_t *written) {
    if (!r || !written)
        return ais__error(AIS_E_INVALID_ARGUMENT, "ais_drift_report_json: %s is NULL",
                          !r ? "report" : "written");
    if (!buf && size)
        return ais__error(AIS_E_INVALID_ARGUMENT,
                          "ais_drift_report_json: buf is NULL with size "
                          "%zu",
                          size);
    int32_t dd;
    double share;
    ais_drift_report_dataset(r, &dd, &share, NULL);
    ais__jout o = {buf, size, 0};
    ais__jput(&o, "{\"dataset_drift\": %s, \"drift_share\": ", dd ? "true" : "false");
    ais__jnum(&o, share);
    ais__jput(&o, ", \"features\": {");
    bool first = true;
    for (size_t i = 0; i < r->n; i++) {
        const ais__row *row = &r->rows[i];
        if (row->skipped) continue; /* the contract has no place for them: see the getter */
        if (!first) ais__jput(&o, ", ");
        first = false;
        ais__jstr(&o, row->name);
        ais__jput(&o, ": {\"kind\": \"%s\", \"method\": \"%s\", \"value\": ",
                  row->kind == AIS_FEATURE_NUMERIC ? "numeric" : "categorical",
                  ais_drift_method_name(row->method));
        ais__jnum(&o, row->value);
        ais__jput(&o, ", \"threshold\": ");
        ais__jnum(&o, row->threshold);
        ais__jput(&o, ", \"drift\": %s}", row->drift ? "true" : "false");
    }
    ais__jput(&o, "}}");
    *written = o.len + 1;
    if (!buf) return AIS_OK;
    if (o.len + 1 > size) {
        if (size) buf[0] = 0;
        return ais__error(AIS_E_LIMIT,
                          "ais_drift_report_json: %zu bytes needed, the buffer has "
                          "%zu",
                          o.len + 1, size);
    }
    buf[o.len] = 0;
    *written = o.len;
    return AIS_OK;
}
