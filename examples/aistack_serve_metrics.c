/*
 * aistack_serve_metrics.c - GET /metrics of `aistack serve`: the server's request counters and
 * latency histograms, the counters other parts of the server feed (dynamic batching, reloads),
 * and each served model's ais_monitor exposition relabelled with its served name and version.
 *
 * Why one mutex and not per-thread shards like lib/monitor: a request here already costs tens of
 * microseconds of HTTP parsing and a syscall or two, so one uncontended lock at its end is noise,
 * and it keeps the series table (which grows with models x endpoints x codes) simple.
 */
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "aistack_serve.h"

/* Upper bounds in seconds, the library's default latency buckets. */
static const double req_bounds[] = {0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025,
                                    0.05,   0.1,     0.25,   0.5,   1,      2.5,   5,    10};
#define N_REQ_BOUNDS (sizeof req_bounds / sizeof req_bounds[0])
/* Rows per batch: powers of two up to 4096. */
#define N_BATCH_BOUNDS 13

typedef struct code_count {
    int code;
    uint64_t n;
} code_count;

typedef struct req_series {
    char model[128];
    int64_t version;
    const char *endpoint; /* static string */
    code_count codes[16]; /* more distinct codes than that share the last slot's count */
    size_t n_codes;
    uint64_t buckets[N_REQ_BOUNDS + 1]; /* per bucket, not cumulative */
    uint64_t count;
    double sum;
    struct req_series *next;
} req_series;

typedef struct model_series {
    char model[128];
    int64_t version;
    uint64_t batch_buckets[N_BATCH_BOUNDS + 1];
    uint64_t batches, batch_rows, batch_requests;
    size_t queue_depth;
    bool has_batch, has_queue;
    uint64_t reload_ok, reload_failed;
    bool has_reload; /* serve_metrics_reload_seen: both results shown, at 0 too */
    struct model_series *next;
} model_series;

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static req_series *reqs;
static model_series *models_s;
static const atomic_long *in_flight_src;
/* --drift-window / --drift-mode: -1 leaves the library's default. Set once before the
 * first model opens (the options are copied into each version's session options). */
static int64_t drift_rows = -1, drift_mode = -1;

static void copy_name(char dst[128], const char *src) { snprintf(dst, 128, "%s", src ? src : ""); }

static const char *endpoint_of(const char *path) {
    if (!path) return "other";
    if (!strcmp(path, "/metrics")) return "metrics";
    if (!strncmp(path, "/v2/health/", 11)) return "health";
    if (!strcmp(path, "/v2") || !strcmp(path, "/v2/")) return "server";
    if (!strncmp(path, "/v2/repository/", 15)) return "repository";
    if (strncmp(path, "/v2/models/", 11)) return "other";
    const char *rest = strchr(path + 11, '/');
    if (rest && !strncmp(rest, "/versions/", 10)) rest = strchr(rest + 10, '/');
    if (!rest) return "metadata";
    static const char *const actions[] = {"infer", "records", "ready", "config"};
    for (size_t i = 0; i < sizeof actions / sizeof *actions; i++)
        if (!strcmp(rest + 1, actions[i])) return actions[i];
    return "other";
}

/* Caller holds mu. NULL when out of memory (the sample is then dropped). */
static model_series *model_get(const char *model, int64_t version) {
    model_series **at = &models_s;
    for (; *at; at = &(*at)->next)
        if ((*at)->version == version && !strcmp((*at)->model, model ? model : "")) return *at;
    model_series *s = calloc(1, sizeof *s);
    if (!s) return NULL;
    copy_name(s->model, model);
    s->version = version;
    *at = s; /* appended: series keep the order they first appeared in */
    return s;
}

void serve_metrics_request(const char *model, int64_t version, const char *path, int status,
                           double seconds) {
    const char *ep = endpoint_of(path);
    if (!model) model = "";
    pthread_mutex_lock(&mu);
    req_series **at = &reqs, *s;
    for (; (s = *at); at = &s->next)
        if (s->endpoint == ep && s->version == version && !strcmp(s->model, model)) break;
    if (!s && (s = calloc(1, sizeof *s))) {
        copy_name(s->model, model);
        s->version = version;
        s->endpoint = ep;
        *at = s;
    }
    if (s) {
        size_t i = 0;
        while (i < s->n_codes && s->codes[i].code != status)
            i++;
        if (i == s->n_codes) {
            if (s->n_codes < sizeof s->codes / sizeof *s->codes)
                s->codes[s->n_codes++].code = status;
            else
                i = s->n_codes - 1;
        }
        s->codes[i].n++;
        size_t b = 0;
        while (b < N_REQ_BOUNDS && seconds > req_bounds[b])
            b++;
        s->buckets[b]++;
        s->count++;
        s->sum += seconds;
    }
    pthread_mutex_unlock(&mu);
}

void serve_metrics_add_batch(const char *model, int64_t version, size_t requests, size_t rows) {
    pthread_mutex_lock(&mu);
    model_series *s = model_get(model, version);
    if (s) {
        size_t b = 0;
        while (b < N_BATCH_BOUNDS && rows > ((size_t)1 << b))
            b++;
        s->batch_buckets[b]++;
        s->batches++;
        s->batch_rows += rows;
        s->batch_requests += requests;
        s->has_batch = true;
    }
    pthread_mutex_unlock(&mu);
}

void serve_metrics_set_queue_depth(const char *model, int64_t version, size_t depth) {
    pthread_mutex_lock(&mu);
    model_series *s = model_get(model, version);
    if (s) {
        s->queue_depth = depth;
        s->has_queue = true;
    }
    pthread_mutex_unlock(&mu);
}

static void reload(const char *model, bool ok) {
    pthread_mutex_lock(&mu);
    model_series *s = model_get(model, -1);
    if (s) *(ok ? &s->reload_ok : &s->reload_failed) += 1;
    pthread_mutex_unlock(&mu);
}
void serve_metrics_reload_ok(const char *model) { reload(model, true); }
void serve_metrics_reload_seen(const char *model) {
    pthread_mutex_lock(&mu);
    model_series *s = model_get(model, -1);
    if (s) s->has_reload = true;
    pthread_mutex_unlock(&mu);
}
void serve_metrics_reload_failed(const char *model) { reload(model, false); }

void serve_metrics_set_in_flight_source(const atomic_long *in_flight) {
    pthread_mutex_lock(&mu);
    in_flight_src = in_flight;
    pthread_mutex_unlock(&mu);
}

void serve_metrics_free(void) {
    pthread_mutex_lock(&mu);
    for (req_series *s = reqs, *n; s; s = n)
        n = s->next, free(s);
    for (model_series *s = models_s, *n; s; s = n)
        n = s->next, free(s);
    reqs = NULL;
    models_s = NULL;
    in_flight_src = NULL;
    pthread_mutex_unlock(&mu);
}

int serve_metrics_set_drift_window(size_t rows, const char *mode) {
    int64_t lo = 0, hi = 0;
    if (rows != (size_t)-1) {
        if (ais_option_bounds(AIS_OPT_DRIFT_WINDOW, &lo, &hi) != AIS_OK || rows > (uint64_t)hi) {
            fprintf(stderr, "aistack serve: --drift-window is 0 to %" PRId64 " rows\n", hi);
            return 1;
        }
        drift_rows = (int64_t)rows;
    }
    if (mode) {
        if (strcmp(mode, "reservoir") && strcmp(mode, "last")) {
            fprintf(stderr, "aistack serve: --drift-mode is reservoir or last, not '%s'\n", mode);
            return 1;
        }
        drift_mode = strcmp(mode, "last") ? AIS_WINDOW_RESERVOIR : AIS_WINDOW_LAST;
    }
    return 0;
}

int serve_metrics_model_open(serve_model *m, int64_t threads) {
    if (ais_monitor_create(&m->monitor) || ais_options_create(&m->session_opts) ||
        ais_options_set_int(m->session_opts, AIS_OPT_THREADS, threads) ||
        (drift_rows >= 0 &&
         ais_options_set_int(m->session_opts, AIS_OPT_DRIFT_WINDOW, drift_rows)) ||
        (drift_mode >= 0 &&
         ais_options_set_int(m->session_opts, AIS_OPT_DRIFT_WINDOW_MODE, drift_mode)) ||
        ais_options_set_monitor(m->session_opts, m->monitor)) {
        fprintf(stderr, "aistack serve: monitor for model '%s': %s\n", m->name, ais_last_error());
        serve_metrics_model_close(m);
        return 1;
    }
    return 0;
}

void serve_metrics_model_close(serve_model *m) {
    ais_options_destroy(m->session_opts);
    ais_monitor_destroy(m->monitor);
    m->session_opts = NULL;
    m->monitor = NULL;
}

/* ---- rendering ---- */

/* A label value with the format's three escapes. */
static void put_label(serve_buf *b, const char *s) {
    for (; *s; s++) {
        if (*s == '\\')
            serve_buf_puts(b, "\\\\");
        else if (*s == '"')
            serve_buf_puts(b, "\\\"");
        else if (*s == '\n')
            serve_buf_puts(b, "\\n");
        else
            serve_buf_put(b, s, 1);
    }
}

static void put_model(serve_buf *b, const char *model, int64_t version) {
    serve_buf_puts(b, "model=\"");
    put_label(b, model);
    serve_buf_puts(b, "\",version=\"");
    if (version >= 0) serve_buf_printf(b, "%" PRId64, version);
    serve_buf_puts(b, "\"");
}

static void put_bound(serve_buf *b, double v) {
    char t[32];
    for (int prec = 1; prec <= 17; prec++) {
        snprintf(t, sizeof t, "%.*g", prec, v);
        if (strtod(t, NULL) == v) break;
    }
    serve_buf_puts(b, t);
}

static void render_server(serve_buf *b) {
    serve_buf_puts(b, "# HELP aistack_serve_requests_total HTTP requests answered, by model, "
                      "version, endpoint and status code.\n"
                      "# TYPE aistack_serve_requests_total counter\n");
    for (const req_series *s = reqs; s; s = s->next)
        for (size_t i = 0; i < s->n_codes; i++) {
            serve_buf_puts(b, "aistack_serve_requests_total{");
            put_model(b, s->model, s->version);
            serve_buf_printf(b, ",endpoint=\"%s\",code=\"%d\"} %" PRIu64 "\n", s->endpoint,
                             s->codes[i].code, s->codes[i].n);
        }
    serve_buf_puts(b, "# HELP aistack_serve_request_duration_seconds Time from a request's "
                      "arrival to its answer.\n"
                      "# TYPE aistack_serve_request_duration_seconds histogram\n");
    for (const req_series *s = reqs; s; s = s->next) {
        uint64_t cum = 0;
        for (size_t k = 0; k <= N_REQ_BOUNDS; k++) {
            cum += s->buckets[k];
            serve_buf_puts(b, "aistack_serve_request_duration_seconds_bucket{");
            put_model(b, s->model, s->version);
            serve_buf_printf(b, ",endpoint=\"%s\",le=\"", s->endpoint);
            if (k < N_REQ_BOUNDS)
                put_bound(b, req_bounds[k]);
            else
                serve_buf_puts(b, "+Inf");
            serve_buf_printf(b, "\"} %" PRIu64 "\n", cum);
        }
        serve_buf_puts(b, "aistack_serve_request_duration_seconds_sum{");
        put_model(b, s->model, s->version);
        serve_buf_printf(b, ",endpoint=\"%s\"} %.9f\n", s->endpoint, s->sum);
        serve_buf_puts(b, "aistack_serve_request_duration_seconds_count{");
        put_model(b, s->model, s->version);
        serve_buf_printf(b, ",endpoint=\"%s\"} %" PRIu64 "\n", s->endpoint, cum);
    }
    serve_buf_printf(b,
                     "# HELP aistack_serve_in_flight HTTP requests being answered now.\n"
                     "# TYPE aistack_serve_in_flight gauge\naistack_serve_in_flight %ld\n",
                     in_flight_src ? atomic_load(in_flight_src) : 0L);
    serve_buf_puts(b, "# HELP aistack_serve_batch_rows Rows per batch the dynamic batcher ran.\n"
                      "# TYPE aistack_serve_batch_rows histogram\n");
    for (const model_series *s = models_s; s; s = s->next) {
        if (!s->has_batch) continue;
        uint64_t cum = 0;
        for (size_t k = 0; k <= N_BATCH_BOUNDS; k++) {
            cum += s->batch_buckets[k];
            serve_buf_puts(b, "aistack_serve_batch_rows_bucket{");
            put_model(b, s->model, s->version);
            if (k < N_BATCH_BOUNDS)
                serve_buf_printf(b, ",le=\"%zu\"} %" PRIu64 "\n", (size_t)1 << k, cum);
            else
                serve_buf_printf(b, ",le=\"+Inf\"} %" PRIu64 "\n", cum);
        }
        serve_buf_puts(b, "aistack_serve_batch_rows_sum{");
        put_model(b, s->model, s->version);
        serve_buf_printf(b, "} %" PRIu64 "\naistack_serve_batch_rows_count{", s->batch_rows);
        put_model(b, s->model, s->version);
        serve_buf_printf(b, "} %" PRIu64 "\n", cum);
    }
    serve_buf_puts(b, "# HELP aistack_serve_batch_requests_total Requests the dynamic batcher "
                      "ran in batches.\n# TYPE aistack_serve_batch_requests_total counter\n");
    for (const model_series *s = models_s; s; s = s->next) {
        if (!s->has_batch) continue;
        serve_buf_puts(b, "aistack_serve_batch_requests_total{");
        put_model(b, s->model, s->version);
        serve_buf_printf(b, "} %" PRIu64 "\n", s->batch_requests);
    }
    serve_buf_puts(b, "# HELP aistack_serve_queue_depth Requests waiting for a batch.\n"
                      "# TYPE aistack_serve_queue_depth gauge\n");
    for (const model_series *s = models_s; s; s = s->next) {
        if (!s->has_queue) continue;
        serve_buf_puts(b, "aistack_serve_queue_depth{");
        put_model(b, s->model, s->version);
        serve_buf_printf(b, "} %zu\n", s->queue_depth);
    }
    serve_buf_puts(b, "# HELP aistack_serve_reloads_total Model reloads, by result (a failed "
                      "one leaves the old version serving).\n"
                      "# TYPE aistack_serve_reloads_total counter\n");
    for (const model_series *s = models_s; s; s = s->next)
        for (int ok = 1; ok >= 0; ok--) {
            uint64_t n = ok ? s->reload_ok : s->reload_failed;
            if (!n && !s->has_reload) continue;
            serve_buf_puts(b, "aistack_serve_reloads_total{model=\"");
            put_label(b, s->model);
            serve_buf_printf(b, "\",result=\"%s\"} %" PRIu64 "\n", ok ? "ok" : "failed", n);
        }
}

/* One metric family of the models' monitors: its HELP/TYPE lines once, every model's samples. */
typedef struct family {
    char name[128];
    serve_buf head, samples;
    bool typed;
} family;

/* A sample line of a monitor's text with its model and version labels replaced by the served
 * name and version (a monitor labels by the model's metadata, which need not be unique). */
static void relabel(serve_buf *out, const char *line, size_t len, const serve_model *m) {
    const char *brace = memchr(line, '{', len), *sp = memchr(line, ' ', len);
    if (!brace || (sp && sp < brace)) { /* no labels: add ours */
        size_t nl = sp ? (size_t)(sp - line) : len;
        serve_buf_put(out, line, nl);
        serve_buf_puts(out, "{");
        put_model(out, m->name, m->version);
        serve_buf_puts(out, "}");
        serve_buf_put(out, line + nl, len - nl);
        serve_buf_puts(out, "\n");
        return;
    }
    serve_buf_put(out, line, (size_t)(brace - line) + 1);
    put_model(out, m->name, m->version);
    const char *p = brace + 1, *end = line + len;
    while (p < end && *p != '}') {
        const char *key = p, *eq = memchr(p, '=', (size_t)(end - p));
        if (!eq || eq + 1 >= end || eq[1] != '"') break;
        const char *v = eq + 2;
        while (v < end && *v != '"')
            v += *v == '\\' ? 2 : 1;
        if (v >= end) break;
        const char *next = v + 1;
        size_t klen = (size_t)(eq - key);
        bool ours =
            (klen == 5 && !memcmp(key, "model", 5)) || (klen == 7 && !memcmp(key, "version", 7));
        if (!ours) {
            serve_buf_puts(out, ",");
            serve_buf_put(out, key, (size_t)(next - key));
        }
        p = next < end && *next == ',' ? next + 1 : next;
    }
    serve_buf_put(out, p, (size_t)(end - p));
    serve_buf_puts(out, "\n");
}

static family *family_get(family **fams, size_t *n, size_t *cap, const char *name, size_t len) {
    for (size_t i = 0; i < *n; i++)
        if (strlen((*fams)[i].name) == len && !memcmp((*fams)[i].name, name, len))
            return &(*fams)[i];
    if (len >= sizeof(*fams)->name) return NULL;
    if (*n == *cap) {
        size_t c = *cap ? 2 * *cap : 16;
        family *g = realloc(*fams, c * sizeof *g);
        if (!g) return NULL;
        *fams = g;
        *cap = c;
    }
    family *f = &(*fams)[(*n)++];
    memset(f, 0, sizeof *f);
    memcpy(f->name, name, len);
    return f;
}

static void render_models(const serve_model *const *models, size_t n_models, serve_buf *out) {
    family *fams = NULL;
    size_t n = 0, cap = 0;
    char *text = NULL;
    size_t text_cap = 0;
    for (size_t i = 0; i < n_models; i++) {
        const serve_model *m = models[i];
        if (!m->monitor) continue;
        size_t need = 0;
        ais_status st = ais_monitor_prometheus(m->monitor, text, text_cap, &need);
        if (st == AIS_E_LIMIT || (st == AIS_OK && !text)) {
            size_t c = need + 4096; /* counters can grow between the two calls */
            char *t = realloc(text, c);
            if (!t) {
                out->oom = true;
                break;
            }
            text = t;
            text_cap = c;
            st = ais_monitor_prometheus(m->monitor, text, text_cap, &need);
        }
        if (st != AIS_OK) continue;
        family *f = NULL;
        for (const char *line = text; *line;) {
            const char *nl = strchr(line, '\n');
            size_t len = nl ? (size_t)(nl - line) : strlen(line);
            if (len > 7 && !memcmp(line, "# HELP ", 7)) {
                const char *nm = line + 7, *e = memchr(nm, ' ', len - 7);
                f = family_get(&fams, &n, &cap, nm, e ? (size_t)(e - nm) : len - 7);
                if (f && f->head.len == 0) {
                    serve_buf_put(&f->head, line, len);
                    serve_buf_puts(&f->head, "\n");
                }
            } else if (len > 7 && !memcmp(line, "# TYPE ", 7)) {
                if (f && !f->typed) {
                    serve_buf_put(&f->head, line, len);
                    serve_buf_puts(&f->head, "\n");
                    f->typed = true;
                }
            } else if (len && line[0] != '#' && f) {
                relabel(&f->samples, line, len, m);
            }
            line += len + (nl ? 1 : 0);
        }
    }
    for (size_t i = 0; i < n; i++) {
        if (fams[i].head.oom || fams[i].samples.oom) out->oom = true;
        if (fams[i].head.len) serve_buf_put(out, fams[i].head.p, fams[i].head.len);
        if (fams[i].samples.len) serve_buf_put(out, fams[i].samples.p, fams[i].samples.len);
        serve_buf_free(&fams[i].head);
        serve_buf_free(&fams[i].samples);
    }
    free(fams);
    free(text);
}

void serve_metrics_render(const serve_model *const *models, size_t n_models, serve_buf *out) {
    pthread_mutex_lock(&mu);
    render_server(out);
    pthread_mutex_unlock(&mu);
    render_models(models, n_models, out);
}
