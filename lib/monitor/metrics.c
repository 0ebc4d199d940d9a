/*
 * metrics.c - the monitor object, per-session metric shards, the getters, and the Prometheus
 * text exposition (format 0.0.4).
 */
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "monitor.h"
#include "monitor_internal.h"
#include "profile.h"
#include "tensor/tensor.h"
#include "window.h"

static const double ais__default_bounds[] = {0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005,
                                             0.01,   0.025,   0.05,   0.1,   0.25,   0.5,
                                             1,      2.5,     5,      10};

/* ---- the monitor ---- */

AIS_API ais_status ais_monitor_create(ais_monitor **out) {
    if (!out) return ais__error(AIS_E_INVALID_ARGUMENT, "ais_monitor_create: out is NULL");
    *out = NULL;
    ais_monitor *m = ais__calloc(1, sizeof *m);
    if (!m) return ais__oom(sizeof *m, "monitor");
    atomic_init(&m->refs, 1);
    atomic_init(&m->log_dropped, 0);
    pthread_mutex_init(&m->lock, NULL);
    m->n_bounds = AIS__ARRAY_LEN(ais__default_bounds);
    memcpy(m->bounds, ais__default_bounds, sizeof ais__default_bounds);
    *out = m;
    return AIS_OK;
}

AIS_API ais_monitor *ais_monitor_retain(ais_monitor *m) {
    if (m) atomic_fetch_add_explicit(&m->refs, 1, memory_order_relaxed);
    return m;
}

AIS_API void ais_monitor_destroy(ais_monitor *m) {
    if (!m || atomic_fetch_sub_explicit(&m->refs, 1, memory_order_acq_rel) != 1) return;
    /* Every session holds a reference, so no shard is left in any group. */
    for (ais__metrics_group *g = m->groups, *next; g; g = next) {
        next = g->next;
        ais__free(g->name);
        ais__free(g->version);
        ais_profile_destroy(g->reference);
        ais__free(g);
    }
    ais__monitor_release_extras(m);
    pthread_mutex_destroy(&m->lock);
    ais__free(m);
}

AIS_API ais_status ais_monitor_set_latency_buckets(ais_monitor *m, const double *bounds, size_t n) {
    if (!m)
        return ais__error(AIS_E_INVALID_ARGUMENT, "ais_monitor_set_latency_buckets: monitor is "
                                                  "NULL");
    if (!bounds || n == 0 || n > AIS_MONITOR_MAX_BUCKETS)
        return ais__error(AIS_E_INVALID_ARGUMENT,
                          "ais_monitor_set_latency_buckets: %zu bounds "
                          "(expected 1 to %d, and a non-NULL array)",
                          n, AIS_MONITOR_MAX_BUCKETS);
    for (size_t i = 0; i < n; i++) {
        /* 1e7 s keeps the bound representable in nanoseconds */
        if (!(bounds[i] > 0 && bounds[i] <= 1e7))
            return ais__error(AIS_E_INVALID_ARGUMENT,
                              "ais_monitor_set_latency_buckets: bound "
                              "%zu is %g (expected a finite number of seconds in (0, 1e7])",
                              i, bounds[i]);
        if (i && !(bounds[i] > bounds[i - 1]))
            return ais__error(AIS_E_INVALID_ARGUMENT,
                              "ais_monitor_set_latency_buckets: bound "
                              "%zu (%g) is not above bound %zu (%g)",
                              i, bounds[i], i - 1, bounds[i - 1]);
    }
    pthread_mutex_lock(&m->lock);
    ais_status st = AIS_OK;
    if (m->groups) {
        st = ais__error(AIS_E_BUSY, "ais_monitor_set_latency_buckets: sessions were created with "
                                    "this monitor already; set the buckets before the first");
    } else {
        memcpy(m->bounds, bounds, n * sizeof *bounds);
        m->n_bounds = n;
    }
    pthread_mutex_unlock(&m->lock);
    return st;
}

/* ---- shards ---- */

static bool ais__streq(const char *a, const char *b) { return strcmp(a, b) == 0; }

ais_status ais__metrics_shard_create(ais_monitor *mon, const char *name, const char *version,
                                     ais__metrics_shard **out) {
    *out = NULL;
    ais__metrics_shard *m = ais__malloc_aligned(sizeof *m, 64);
    if (!m) return ais__oom(sizeof *m, "session metrics");
    memset(m, 0, sizeof *m);
    ais__ticks_init();
    const double *bounds = mon ? mon->bounds : ais__default_bounds;
    m->n_bounds = mon ? mon->n_bounds : AIS__ARRAY_LEN(ais__default_bounds);
    for (size_t i = 0; i < m->n_bounds; i++)
        m->bounds_ticks[i] = (uint64_t)llround(bounds[i] * 1e9 / ais__ticks_ns_per_tick);
    m->first_bound = m->bounds_ticks[0];
    if (!mon) {
        *out = m;
        return AIS_OK;
    }
    if (!name) name = "";
    if (!version) version = "";
    pthread_mutex_lock(&mon->lock);
    ais__metrics_group *g = mon->groups;
    while (g && !(ais__streq(g->name, name) && ais__streq(g->version, version)))
        g = g->next;
    if (!g) {
        g = ais__calloc(1, sizeof *g);
        char *n = ais__strdup(name), *v = ais__strdup(version);
        if (!g || !n || !v) {
            pthread_mutex_unlock(&mon->lock);
            ais__free(g);
            ais__free(n);
            ais__free(v);
            ais__free(m);
            return ais__oom(sizeof *g, "monitor series");
        }
        g->name = n;
        g->version = v;
        /* appended, so the exposition lists models in the order they first appeared */
        ais__metrics_group **at = &mon->groups;
        while (*at)
            at = &(*at)->next;
        *at = g;
    }
    m->group = g;
    /* set before the monitor's first session or never (ais_monitor_set_request_log refuses
     * once a series exists), so the shard can keep it */
    m->reqlog = atomic_load_explicit(&mon->reqlog, memory_order_acquire);
    m->next = g->shards;
    if (g->shards) g->shards->prev = m;
    g->shards = m;
    m->monitor = ais_monitor_retain(mon);
    pthread_mutex_unlock(&mon->lock);
    *out = m;
    return AIS_OK;
}

static uint64_t ais__ticks_to_ns(uint64_t ticks) {
    return (uint64_t)llround((double)ticks * ais__ticks_ns_per_tick);
}

#define AIS__LD(x) ((uint64_t)atomic_load_explicit(&(x), memory_order_relaxed))

void ais__metrics_shard_destroy(ais__metrics_shard *m) {
    if (!m) return;
    ais_monitor *mon = m->monitor;
    if (mon) {
        pthread_mutex_lock(&mon->lock);
        ais__metrics_group *g = m->group;
        for (size_t i = 0; i <= m->n_bounds; i++)
            g->runs += ais__shard_bucket(m, i, memory_order_relaxed);
        g->rows += AIS__LD(m->rows);
        g->bytes_in += AIS__LD(m->bytes_in);
        g->bytes_out += AIS__LD(m->bytes_out);
        g->latency_ns += ais__ticks_to_ns(AIS__LD(m->latency_ticks));
        for (size_t i = 0; i < AIS__N_STATUS; i++)
            g->errors[i] += AIS__LD(m->errors[i]);
        g->errors[AIS_E_BUSY] += AIS__LD(m->refused);
        for (size_t i = 0; i <= m->n_bounds; i++)
            g->buckets[i] += ais__shard_bucket(m, i, memory_order_relaxed);
        if (m->prev)
            m->prev->next = m->next;
        else
            g->shards = m->next;
        if (m->next) m->next->prev = m->prev;
        pthread_mutex_unlock(&mon->lock);
        ais_monitor_destroy(mon);
    }
    ais__window_destroy(m->window); /* unlinked: no reader can reach it now */
    ais__free(m);
}

ais_status ais__metrics_shard_set_window(ais__metrics_shard *m, ais__window *w,
                                         const ais_profile *reference) {
    ais_monitor *mon = m->monitor;
    ais_profile *copy = NULL;
    ais_status st = AIS_OK;
    if (mon) {
        pthread_mutex_lock(&mon->lock);
        bool need = m->group->reference == NULL;
        pthread_mutex_unlock(&mon->lock);
        if (need) {
            /* copied outside the lock (it costs the samples' copy) */
            st = ais__profile_clone(reference, &copy);
        }
    }
    if (st != AIS_OK) {
        ais__window_destroy(w);
        return st;
    }
    if (mon) pthread_mutex_lock(&mon->lock);
    m->window = w;
    m->reference = reference;
    if (mon && !m->group->reference) {
        m->group->reference = copy;
        copy = NULL;
    }
    if (mon) pthread_mutex_unlock(&mon->lock);
    ais_profile_destroy(copy);
    return AIS_OK;
}

static size_t ais__status_slot(ais_status st) {
    return (unsigned)st < AIS__N_STATUS ? (size_t)st : AIS__N_STATUS - 1;
}

void ais__metrics_error(ais__metrics_shard *m, ais_status st) {
    ais__metric_add(&m->errors[ais__status_slot(st)], 1);
}

void ais__metrics_slow_bucket(ais__metrics_shard *m, uint64_t dt) {
    size_t b = 1;
    while (b < m->n_bounds && dt > m->bounds_ticks[b])
        b++;
    atomic_store_explicit(&m->buckets[b],
                          atomic_load_explicit(&m->buckets[b], memory_order_relaxed) + 1,
                          memory_order_release);
}

void ais__metrics_log(ais__metrics_shard *m, uint64_t dt, ais_status st, uint64_t rows,
                      const ais_tensor *const *inputs, size_t n_inputs, ais_tensor *const *outputs,
                      size_t n_outputs) {
    ais__reqlog_record(m->reqlog, m->group->name, st, ais__ticks_to_ns(dt), rows, inputs, n_inputs,
                       outputs, n_outputs);
}

void ais__metrics_refused(ais__metrics_shard *m) {
    if (m) atomic_fetch_add_explicit(&m->refused, 1, memory_order_relaxed);
}

/* ---- reading ---- */

typedef struct ais__totals {
    uint64_t runs, rows, bytes_in, bytes_out, latency_ns, in_flight, errors[AIS__N_STATUS];
    uint64_t buckets[AIS_MONITOR_MAX_BUCKETS + 1];
    uint64_t window_rows;
} ais__totals;

static void ais__shard_add(ais__totals *t, const ais__metrics_shard *m) {
    /* The buckets first, with acquire: a finished call's counts are then all visible, and
     * `started`, read after them, counts at least the calls they count. */
    uint64_t finished = 0;
    for (size_t i = 0; i <= m->n_bounds; i++) {
        uint64_t v = ais__shard_bucket(m, i, memory_order_acquire);
        t->buckets[i] += v;
        finished += v;
    }
    t->runs += finished;
    t->rows += AIS__LD(m->rows);
    t->bytes_in += AIS__LD(m->bytes_in);
    t->bytes_out += AIS__LD(m->bytes_out);
    t->latency_ns += ais__ticks_to_ns(AIS__LD(m->latency_ticks));
    for (size_t i = 0; i < AIS__N_STATUS; i++)
        t->errors[i] += AIS__LD(m->errors[i]);
    t->errors[AIS_E_BUSY] += AIS__LD(m->refused);
    if (m->window) t->window_rows += ais__window_rows(m->window);
    t->in_flight += AIS__LD(m->started) - finished;
}

/* Caller holds the lock. */
static void ais__group_totals(const ais__metrics_group *g, ais__totals *t) {
    memset(t, 0, sizeof *t);
    t->runs = g->runs;
    t->rows = g->rows;
    t->bytes_in = g->bytes_in;
    t->bytes_out = g->bytes_out;
    t->latency_ns = g->latency_ns;
    memcpy(t->errors, g->errors, sizeof t->errors);
    memcpy(t->buckets, g->buckets, sizeof t->buckets);
    for (const ais__metrics_shard *m = g->shards; m; m = m->next)
        ais__shard_add(t, m);
}

static uint64_t ais__error_sum(const ais__totals *t) {
    uint64_t s = 0;
    for (size_t i = 1; i < AIS__N_STATUS; i++)
        s += t->errors[i];
    return s;
}

static ais_status ais__pick(const ais__totals *t, uint64_t log_dropped, ais_metric metric,
                            uint64_t *value) {
    switch (metric) {
    case AIS_METRIC_RUNS: *value = t->runs; break;
    case AIS_METRIC_ROWS: *value = t->rows; break;
    case AIS_METRIC_ERRORS: *value = ais__error_sum(t); break;
    case AIS_METRIC_IN_FLIGHT: *value = t->in_flight; break;
    case AIS_METRIC_BYTES_IN: *value = t->bytes_in; break;
    case AIS_METRIC_BYTES_OUT: *value = t->bytes_out; break;
    case AIS_METRIC_LATENCY_NS: *value = t->latency_ns; break;
    case AIS_METRIC_LOG_DROPPED: *value = log_dropped; break;
    case AIS_METRIC_WINDOW_ROWS: *value = t->window_rows; break;
    default: return ais__error(AIS_E_INVALID_ARGUMENT, "unknown metric %d", (int)metric);
    }
    return AIS_OK;
}

static ais_status ais__monitor_sum(const ais_monitor *mon, const char *model_name, const char *who,
                                   ais__totals *sum) {
    if (!mon) return ais__error(AIS_E_INVALID_ARGUMENT, "%s: monitor is NULL", who);
    memset(sum, 0, sizeof *sum);
    ais_monitor *m = (ais_monitor *)mon; /* the lock is the only thing written */
    pthread_mutex_lock(&m->lock);
    for (const ais__metrics_group *g = m->groups; g; g = g->next) {
        if (model_name && !ais__streq(g->name, model_name)) continue;
        ais__totals t;
        ais__group_totals(g, &t);
        sum->runs += t.runs;
        sum->rows += t.rows;
        sum->bytes_in += t.bytes_in;
        sum->bytes_out += t.bytes_out;
        sum->latency_ns += t.latency_ns;
        sum->in_flight += t.in_flight;
        sum->window_rows += t.window_rows;
        for (size_t i = 0; i < AIS__N_STATUS; i++)
            sum->errors[i] += t.errors[i];
    }
    pthread_mutex_unlock(&m->lock);
    return AIS_OK;
}

AIS_API ais_status ais_monitor_metric(const ais_monitor *mon, const char *model_name,
                                      ais_metric metric, uint64_t *value) {
    if (!value) return ais__error(AIS_E_INVALID_ARGUMENT, "ais_monitor_metric: value is NULL");
    ais__totals sum;
    AIS__CHECK(ais__monitor_sum(mon, model_name, "ais_monitor_metric", &sum));
    return ais__pick(&sum, atomic_load_explicit(&mon->log_dropped, memory_order_relaxed), metric,
                     value);
}

AIS_API ais_status ais_monitor_errors(const ais_monitor *mon, const char *model_name,
                                      ais_status status, uint64_t *value) {
    if (!value) return ais__error(AIS_E_INVALID_ARGUMENT, "ais_monitor_errors: value is NULL");
    if (status == AIS_OK || (unsigned)status >= AIS__N_STATUS - 1)
        return ais__error(AIS_E_INVALID_ARGUMENT, "ais_monitor_errors: %d is not an error status",
                          (int)status);
    ais__totals sum;
    AIS__CHECK(ais__monitor_sum(mon, model_name, "ais_monitor_errors", &sum));
    *value = sum.errors[status];
    return AIS_OK;
}

ais_status ais__metrics_shard_metric(const ais__metrics_shard *m, ais_metric metric,
                                     uint64_t *value) {
    ais__totals t;
    memset(&t, 0, sizeof t);
    ais__shard_add(&t, m);
    uint64_t dropped =
        m->monitor ? atomic_load_explicit(&m->monitor->log_dropped, memory_order_relaxed) : 0;
    return ais__pick(&t, dropped, metric, value);
}

/* ---- Prometheus text ---- */

typedef struct ais__out {
    char *buf;
    size_t size, len; /* len counts every byte, also those that did not fit */
} ais__out;

static void ais__put(ais__out *o, const char *fmt, ...) AIS__PRINTF(2, 3);
static void ais__put(ais__out *o, const char *fmt, ...) {
    char tmp[512];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(tmp, sizeof tmp, fmt, ap);
    va_end(ap);
    if (n < 0) return;
    size_t k = (size_t)n < sizeof tmp ? (size_t)n : sizeof tmp - 1;
    if (o->buf && o->len + k < o->size) memcpy(o->buf + o->len, tmp, k);
    o->len += k;
}

/* A label value: backslash, double quote and newline escaped (the format's three). */
static void ais__put_label(ais__out *o, const char *s) {
    for (; *s; s++) {
        if (*s == '\\')
            ais__put(o, "\\\\");
        else if (*s == '"')
            ais__put(o, "\\\"");
        else if (*s == '\n')
            ais__put(o, "\\n");
        else
            ais__put(o, "%c", *s);
    }
}

static void ais__put_labels(ais__out *o, const ais__metrics_group *g) {
    ais__put(o, "model=\"");
    ais__put_label(o, g->name);
    ais__put(o, "\",version=\"");
    ais__put_label(o, g->version);
    ais__put(o, "\"");
}

/* What one scrape prints, taken under the monitor's lock (groups, totals, the live windows'
 * current profiles); the drift statistics and the text come after it, so a scrape holds the
 * lock only for the copies. Groups are never freed before the monitor, and their names,
 * versions and reference and the monitor's bounds do not change once a group exists. */
typedef struct ais__snapshot {
    size_t n;
    const ais__metrics_group **groups;
    ais__totals *tot;
    ais_profile **current;      /* NULL: no live window */
    ais_drift_report **reports; /* NULL: no report */
    uint64_t *rows;             /* rows in the current profile */
} ais__snapshot;

static void ais__snapshot_free(ais__snapshot *snap) {
    for (size_t k = 0; k < snap->n; k++) {
        if (snap->current) ais_profile_destroy(snap->current[k]);
        if (snap->reports) ais_drift_report_destroy(snap->reports[k]);
    }
    ais__free(snap->groups);
    ais__free(snap->tot);
    ais__free(snap->current);
    ais__free(snap->reports);
    ais__free(snap->rows);
}

/* Counts and copies under the lock. */
static ais_status ais__snapshot_take(ais_monitor *m, ais__snapshot *snap) {
    memset(snap, 0, sizeof *snap);
    pthread_mutex_lock(&m->lock);
    size_t n = 0;
    for (const ais__metrics_group *g = m->groups; g; g = g->next)
        n++;
    size_t c = n ? n : 1;
    snap->groups = ais__calloc(c, sizeof *snap->groups);
    snap->tot = ais__calloc(c, sizeof *snap->tot);
    snap->current = ais__calloc(c, sizeof *snap->current);
    snap->reports = ais__calloc(c, sizeof *snap->reports);
    snap->rows = ais__calloc(c, sizeof *snap->rows);
    if (!snap->groups || !snap->tot || !snap->current || !snap->reports || !snap->rows) {
        pthread_mutex_unlock(&m->lock);
        ais__snapshot_free(snap);
        return ais__oom(n * sizeof *snap->tot, "Prometheus text");
    }
    snap->n = n;
    size_t k = 0;
    for (const ais__metrics_group *g = m->groups; g; g = g->next, k++) {
        snap->groups[k] = g;
        ais__group_totals(g, &snap->tot[k]);
        /* a group without a reference or windows has no gauges; a failed copy neither (the
         * text keeps the counters) */
        if (g->reference && ais__group_current(g, &snap->current[k], &snap->rows[k]) != AIS_OK)
            snap->current[k] = NULL;
    }
    pthread_mutex_unlock(&m->lock);
    return AIS_OK;
}

typedef enum { AIS__F_RUNS, AIS__F_ROWS, AIS__F_IN, AIS__F_OUT, AIS__F_INFLIGHT } ais__family;

static void ais__put_family(ais__out *o, const ais__snapshot *snap, const char *name,
                            const char *type, const char *help, ais__family f) {
    ais__put(o, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
    for (size_t k = 0; k < snap->n; k++) {
        const ais__metrics_group *g = snap->groups[k];
        const ais__totals *t = &snap->tot[k];
        uint64_t v = f == AIS__F_RUNS   ? t->runs
                     : f == AIS__F_ROWS ? t->rows
                     : f == AIS__F_IN   ? t->bytes_in
                     : f == AIS__F_OUT  ? t->bytes_out
                                        : t->in_flight;
        ais__put(o, "%s{", name);
        ais__put_labels(o, g);
        ais__put(o, "} %llu\n", (unsigned long long)v);
    }
}

/* Shortest text that reads back as the same double ("0.00025", "1", "2.5"). */
static void ais__fmt_double(double v, char *buf, size_t size) {
    if (v >= 1 && v < 1e15 && v == floor(v)) {
        snprintf(buf, size, "%.0f", v); /* "100", not %g's "1e+02" */
        return;
    }
    for (int prec = 1; prec <= 17; prec++) {
        snprintf(buf, size, "%.*g", prec, v);
        if (strtod(buf, NULL) == v) return;
    }
}

/* The live drift gauges of the groups with a report (reports[k] NULL: none). */
static void ais__render_drift(ais__out *o, const ais__snapshot *snap) {
    static const char *const fam[][3] = {
        {"aistack_drift_window_rows",
         "Rows in the live drift windows compared with the "
         "reference profile.",
         ""},
        {"aistack_drift_value",
         "Drift statistic of a feature's live window against the "
         "reference profile.",
         ""},
        {"aistack_drift_threshold", "The statistic's drift threshold.", ""},
        {"aistack_drift_detected", "1 when the feature drifts.", ""},
        {"aistack_drift_share", "Share of the features that drift.", ""},
        {"aistack_dataset_drift", "1 when at least half the features drift.", ""}};
    for (size_t f = 0; f < AIS__ARRAY_LEN(fam); f++) {
        ais__put(o, "# HELP %s %s\n# TYPE %s gauge\n", fam[f][0], fam[f][1], fam[f][0]);
        for (size_t k = 0; k < snap->n; k++) {
            const ais__metrics_group *g = snap->groups[k];
            const ais_drift_report *r = snap->reports[k];
            if (!r) continue;
            if (f == 0 || f >= 4) {
                int32_t dd = 0;
                double share = 0;
                ais_drift_report_dataset(r, &dd, &share, NULL);
                ais__put(o, "%s{", fam[f][0]);
                ais__put_labels(o, g);
                if (f == 0)
                    ais__put(o, "} %llu\n", (unsigned long long)snap->rows[k]);
                else if (f == 4)
                    ais__put(o, "} %.17g\n", share);
                else
                    ais__put(o, "} %d\n", dd ? 1 : 0);
                continue;
            }
            for (size_t i = 0; i < ais_drift_report_feature_count(r); i++) {
                const char *name, *skipped;
                ais_drift_method method;
                double value, threshold;
                int32_t drift;
                if (ais_drift_report_feature(r, i, &name, NULL, &method, &value, &threshold, &drift,
                                             &skipped) != AIS_OK ||
                    skipped)
                    continue;
                ais__put(o, "%s{", fam[f][0]);
                ais__put_labels(o, g);
                ais__put(o, ",feature=\"");
                ais__put_label(o, name);
                if (f == 3) {
                    ais__put(o, "\"} %d\n", drift ? 1 : 0);
                } else {
                    ais__put(o, "\",method=\"%s\"} %.17g\n", ais_drift_method_name(method),
                             f == 1 ? value : threshold);
                }
            }
        }
    }
}

static void ais__render(ais__out *o, const ais_monitor *mon, const ais__snapshot *snap) {
    ais__put_family(o, snap, "aistack_runs_total", "counter",
                    "Calls that ran the model, succeeded or failed.", AIS__F_RUNS);
    ais__put_family(o, snap, "aistack_rows_total", "counter", "Rows of the calls that succeeded.",
                    AIS__F_ROWS);
    ais__put(o, "# HELP aistack_errors_total Failed calls by status.\n"
                "# TYPE aistack_errors_total counter\n");
    const ais__totals *tot = snap->tot;
    for (size_t k = 0; k < snap->n; k++)
        for (size_t s = 1; s < AIS__N_STATUS; s++) {
            if (!tot[k].errors[s]) continue;
            ais__put(o, "aistack_errors_total{");
            ais__put_labels(o, snap->groups[k]);
            ais__put(o, ",status=\"%s\"} %llu\n", ais_status_name((ais_status)s),
                     (unsigned long long)tot[k].errors[s]);
        }
    ais__put_family(o, snap, "aistack_in_flight", "gauge", "Calls running now.", AIS__F_INFLIGHT);
    ais__put_family(o, snap, "aistack_input_bytes_total", "counter",
                    "Bytes of the tensors fed to the model.", AIS__F_IN);
    ais__put_family(o, snap, "aistack_output_bytes_total", "counter",
                    "Bytes of the outputs of the calls that succeeded.", AIS__F_OUT);
    ais__put(o, "# HELP aistack_run_duration_seconds Time inside the calls.\n"
                "# TYPE aistack_run_duration_seconds histogram\n");
    for (size_t k = 0; k < snap->n; k++) {
        const ais__metrics_group *g = snap->groups[k];
        uint64_t cum = 0;
        for (size_t b = 0; b <= mon->n_bounds; b++) {
            cum += tot[k].buckets[b];
            char le[40];
            if (b < mon->n_bounds)
                ais__fmt_double(mon->bounds[b], le, sizeof le);
            else
                snprintf(le, sizeof le, "+Inf");
            ais__put(o, "aistack_run_duration_seconds_bucket{");
            ais__put_labels(o, g);
            ais__put(o, ",le=\"%s\"} %llu\n", le, (unsigned long long)cum);
        }
        ais__put(o, "aistack_run_duration_seconds_sum{");
        ais__put_labels(o, g);
        ais__put(o, "} %.9f\n", (double)tot[k].latency_ns * 1e-9);
        ais__put(o, "aistack_run_duration_seconds_count{");
        ais__put_labels(o, g);
        /* _count equals the +Inf bucket, as the format requires */
        ais__put(o, "} %llu\n", (unsigned long long)cum);
    }
    ais__put(o,
             "# HELP aistack_log_dropped_total Request-log records dropped because the log "
             "buffer was full.\n# TYPE aistack_log_dropped_total counter\n"
             "aistack_log_dropped_total %llu\n",
             (unsigned long long)atomic_load_explicit(&mon->log_dropped, memory_order_relaxed));
}

AIS_API ais_status ais_monitor_prometheus(const ais_monitor *mon, char *buf, size_t size,
                                          size_t *written) {
    if (!written)
        return ais__error(AIS_E_INVALID_ARGUMENT, "ais_monitor_prometheus: written is NULL");
    *written = 0;
    if (!mon) return ais__error(AIS_E_INVALID_ARGUMENT, "ais_monitor_prometheus: monitor is NULL");
    if (!buf && size)
        return ais__error(AIS_E_INVALID_ARGUMENT,
                          "ais_monitor_prometheus: buf is NULL with "
                          "size %zu",
                          size);
    ais__snapshot snap;
    AIS__CHECK(ais__snapshot_take((ais_monitor *)mon, &snap));
    bool any = false;
    for (size_t k = 0; k < snap.n; k++)
        if (snap.current[k] && ais_profile_drift(snap.groups[k]->reference, snap.current[k],
                                                 &snap.reports[k]) == AIS_OK)
            any = true;
    /* Snapshotted once, so the text is consistent and a retry after a size query sees the
     * same groups (only counts can have grown). */
    ais__out o = {buf, size, 0};
    ais__render(&o, mon, &snap);
    if (any) ais__render_drift(&o, &snap);
    ais__snapshot_free(&snap);
    if (!buf || o.len + 1 > size) {
        *written = o.len + 1;
        if (buf && size) buf[0] = 0;
        if (!buf) return AIS_OK;
        return ais__error(AIS_E_LIMIT,
                          "ais_monitor_prometheus: the text needs %zu bytes, the "
                          "buffer has %zu",
                          o.len + 1, size);
    }
    buf[o.len] = 0;
    *written = o.len;
    return AIS_OK;
}
