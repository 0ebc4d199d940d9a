/*
 * reqlog.c - the request log: JSON lines of sampled calls (time, model, status, latency, rows,
 * inputs and outputs), formatted on the calling thread into a bounded ring and written to disk
 * by one background thread, so a run never waits for the disk. A full ring drops the record and
 * counts it (aistack_log_dropped_total); destroying the monitor writes everything queued
 * first. The file rotates by size: PATH becomes PATH.1 (replacing an older one).
 */
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "monitor_internal.h"
#include "tensor/tensor.h"

#define AIS__LOG_MAX_VALUES 256 /* values per tensor written; more are cut with "..." */

struct ais__reqlog {
    pthread_mutex_t lock;
    pthread_cond_t wake, drained;
    char **ring;
    size_t cap, head, count;
    bool stop, writing;
    pthread_t thread;
    char *path;
    FILE *f;
    uint64_t bytes, max_bytes;
    double rate;
    atomic_uint_fast64_t rng;
    ais_monitor *mon;
};

/* ---- formatting (the calling thread) ---- */

typedef struct ais__sb {
    char *p;
    size_t len, cap;
    bool oom;
} ais__sb;

static void ais__sb_put(ais__sb *b, const char *fmt, ...) AIS__PRINTF(2, 3);
static void ais__sb_put(ais__sb *b, const char *fmt, ...) {
    if (b->oom) return;
    for (;;) {
        va_list ap;
        va_start(ap, fmt);
        int n = vsnprintf(b->p ? b->p + b->len : NULL, b->p ? b->cap - b->len : 0, fmt, ap);
        va_end(ap);
        if (n < 0) return;
        if (b->p && b->len + (size_t)n < b->cap) {
            b->len += (size_t)n;
            return;
        }
        size_t cap = (b->cap ? b->cap * 2 : 256) + (size_t)n;
        char *q = ais__realloc(b->p, b->cap, cap);
        if (!q) {
            b->oom = true;
            return;
        }
        b->p = q;
        b->cap = cap;
    }
}

static void ais__sb_str(ais__sb *b, const char *s) {
    ais__sb_put(b, "\"");
    for (const unsigned char *c = (const unsigned char *)s; *c; c++) {
        if (*c == '"' || *c == '\\')
            ais__sb_put(b, "\\%c", *c);
        else if (*c < 0x20)
            ais__sb_put(b, "\\u%04x", *c);
        else
            ais__sb_put(b, "%c", *c);
    }
    ais__sb_put(b, "\"");
}

static void ais__sb_num(ais__sb *b, double v) {
    if (isfinite(v))
        ais__sb_put(b, "%.9g", v);
    else
        ais__sb_put(b, "null"); /* JSON has no NaN or infinity */
}

static void ais__sb_tensor(ais__sb *b, const ais_tensor *t) {
    ais__sb_put(b, "{\"dtype\": \"%s\", \"shape\": [", ais_dtype_name(t->dtype));
    for (uint32_t i = 0; i < t->ndim; i++)
        ais__sb_put(b, "%s%lld", i ? ", " : "", (long long)t->dims[i]);
    ais__sb_put(b, "], \"values\": [");
    size_t n = t->numel < AIS__LOG_MAX_VALUES ? t->numel : AIS__LOG_MAX_VALUES;
    for (size_t i = 0; i < n; i++) {
        if (i) ais__sb_put(b, ", ");
        switch (t->dtype) {
        case AIS_DTYPE_F32: ais__sb_num(b, ((const float *)t->data)[i]); break;
        case AIS_DTYPE_F64: ais__sb_num(b, ((const double *)t->data)[i]); break;
        case AIS_DTYPE_I64: ais__sb_put(b, "%lld", (long long)((const int64_t *)t->data)[i]); break;
        case AIS_DTYPE_I32: ais__sb_put(b, "%d", ((const int32_t *)t->data)[i]); break;
        case AIS_DTYPE_STRING: {
            const char *s = ais_tensor_string_at(t, i);
            ais__sb_str(b, s ? s : "");
            break;
        }
        default: ais__sb_put(b, "null"); break;
        }
    }
    ais__sb_put(b, "]%s}", t->numel > n ? ", \"truncated\": true" : "");
}

/* A sampled call as one JSON line, queued. */
void ais__reqlog_record(ais__reqlog *l, const char *model, ais_status st, uint64_t latency_ns,
                        uint64_t rows, const ais_tensor *const *in, size_t n_in,
                        ais_tensor *const *out, size_t n_out) {
    /* sampling: a lock-free draw from a shared splitmix64 counter */
    uint64_t z =
        (uint64_t)atomic_fetch_add_explicit(&l->rng, 0x9e3779b97f4a7c15ull, memory_order_relaxed);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    z ^= z >> 31;
    if ((double)(z >> 11) * 0x1.0p-53 >= l->rate) return;
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    ais__sb b = {0};
    ais__sb_put(&b, "{\"time\": %lld.%06ld, \"model\": ", (long long)ts.tv_sec, ts.tv_nsec / 1000);
    ais__sb_str(&b, model ? model : "");
    ais__sb_put(&b, ", \"status\": \"%s\", \"latency_ms\": %.6f, \"rows\": %llu, \"inputs\": [",
                ais_status_name(st), (double)latency_ns * 1e-6, (unsigned long long)rows);
    for (size_t i = 0; in && i < n_in; i++) {
        if (i) ais__sb_put(&b, ", ");
        if (in[i])
            ais__sb_tensor(&b, in[i]);
        else
            ais__sb_put(&b, "null");
    }
    ais__sb_put(&b, "], \"outputs\": [");
    for (size_t i = 0; st == AIS_OK && out && i < n_out; i++) {
        if (i) ais__sb_put(&b, ", ");
        if (out[i])
            ais__sb_tensor(&b, out[i]);
        else
            ais__sb_put(&b, "null");
    }
    ais__sb_put(&b, "]}\n");
    bool queued = false;
    if (!b.oom) {
        pthread_mutex_lock(&l->lock);
        if (l->count < l->cap && !l->stop) {
            l->ring[(l->head + l->count) % l->cap] = b.p;
            l->count++;
            queued = true;
            pthread_cond_signal(&l->wake);
        }
        pthread_mutex_unlock(&l->lock);
    }
    if (!queued) {
        ais__free(b.p);
        atomic_fetch_add_explicit(&l->mon->log_dropped, 1, memory_order_relaxed);
    }
}

/* ---- the writer thread ---- */

static void ais__reqlog_rotate(ais__reqlog *l) {
    if (l->f) fclose(l->f);
    size_t n = strlen(l->path);
    char old[4096];
    if (n + 3 < sizeof old) {
        snprintf(old, sizeof old, "%s.1", l->path);
        rename(l->path, old);
    }
    l->f = fopen(l->path, "w");
    l->bytes = 0;
    if (!l->f)
        ais__log(AIS_LOG_ERROR, "request log %s: cannot reopen: %s", l->path, strerror(errno));
}

static void *ais__reqlog_main(void *arg) {
    ais__reqlog *l = arg;
    pthread_mutex_lock(&l->lock);
    for (;;) {
        while (!l->count && !l->stop)
            pthread_cond_wait(&l->wake, &l->lock);
        if (!l->count && l->stop) break;
        char *line = l->ring[l->head];
        l->head = (l->head + 1) % l->cap;
        l->count--;
        l->writing = true;
        pthread_mutex_unlock(&l->lock);
        size_t len = strlen(line);
        if (l->f && l->max_bytes && l->bytes && l->bytes + len > l->max_bytes)
            ais__reqlog_rotate(l);
        if (l->f && fwrite(line, 1, len, l->f) == len)
            l->bytes += len;
        else
            atomic_fetch_add_explicit(&l->mon->log_dropped, 1, memory_order_relaxed);
        ais__free(line);
        pthread_mutex_lock(&l->lock);
        l->writing = false;
        if (!l->count) {
            if (l->f) fflush(l->f);
            pthread_cond_broadcast(&l->drained);
        }
    }
    pthread_mutex_unlock(&l->lock);
    return NULL;
}

void ais__reqlog_destroy(ais__reqlog *l) {
    if (!l) return;
    pthread_mutex_lock(&l->lock);
    l->stop = true; /* the thread writes what is queued, then leaves */
    pthread_cond_signal(&l->wake);
    pthread_mutex_unlock(&l->lock);
    pthread_join(l->thread, NULL);
    if (l->f) fclose(l->f);
    ais__free(l->ring);
    ais__free(l->path);
    pthread_cond_destroy(&l->wake);
    pthread_cond_destroy(&l->drained);
    pthread_mutex_destroy(&l->lock);
    ais__free(l);
}

AIS_API ais_status ais_monitor_set_request_log(ais_monitor *m, const char *path, double sample_rate,
                                               size_t ring_records, uint64_t max_file_bytes) {
    if (!m || !path)
        return ais__error(AIS_E_INVALID_ARGUMENT, "ais_monitor_set_request_log: %s is NULL",
                          !m ? "monitor" : "path");
    if (!(sample_rate > 0 && sample_rate <= 1))
        return ais__error(AIS_E_INVALID_ARGUMENT,
                          "ais_monitor_set_request_log: sample rate %g "
                          "(expected (0, 1])",
                          sample_rate);
    if (ring_records == 0) ring_records = 4096;
    if (ring_records > (1u << 24) || strlen(path) > 4000)
        return ais__error(AIS_E_LIMIT, "ais_monitor_set_request_log: at most 2^24 records "
                                       "queued and a path of 4,000 bytes");
    ais__reqlog *l = ais__calloc(1, sizeof *l);
    if (!l) return ais__oom(sizeof *l, "request log");
    l->ring = ais__calloc(ring_records, sizeof *l->ring);
    l->path = ais__strdup(path);
    if (!l->ring || !l->path) {
        ais__free(l->ring);
        ais__free(l->path);
        ais__free(l);
        return ais__oom(ring_records * sizeof(char *), "request log");
    }
    l->cap = ring_records;
    l->rate = sample_rate;
    l->max_bytes = max_file_bytes;
    l->mon = m;
    l->f = fopen(path, "a");
    if (!l->f) {
        ais_status st =
            ais__error(AIS_E_IO, "request log %s: cannot open: %s", path, strerror(errno));
        ais__free(l->ring);
        ais__free(l->path);
        ais__free(l);
        return st;
    }
    fseek(l->f, 0, SEEK_END);
    long at = ftell(l->f);
    l->bytes = at > 0 ? (uint64_t)at : 0;
    pthread_mutex_init(&l->lock, NULL);
    pthread_cond_init(&l->wake, NULL);
    pthread_cond_init(&l->drained, NULL);
    if (pthread_create(&l->thread, NULL, ais__reqlog_main, l) != 0) {
        fclose(l->f);
        pthread_cond_destroy(&l->wake);
        pthread_cond_destroy(&l->drained);
        pthread_mutex_destroy(&l->lock);
        ais__free(l->ring);
        ais__free(l->path);
        ais__free(l);
        return ais__error(AIS_E_INTERNAL, "request log: cannot start its thread");
    }
    pthread_mutex_lock(&m->lock);
    ais_status st = AIS_OK;
    if (m->reqlog || m->groups)
        st = ais__error(AIS_E_BUSY, "ais_monitor_set_request_log: %s",
                        m->reqlog ? "the monitor has a request log already"
                                  : "sessions were created with this monitor already; set the "
                                    "log before the first");
    else
        atomic_store_explicit(&m->reqlog, l, memory_order_release);
    pthread_mutex_unlock(&m->lock);
    if (st != AIS_OK) ais__reqlog_destroy(l);
    return st;
}

AIS_API ais_status ais_monitor_flush(ais_monitor *m) {
    if (!m) return ais__error(AIS_E_INVALID_ARGUMENT, "ais_monitor_flush: monitor is NULL");
    ais__reqlog *l = atomic_load_explicit(&m->reqlog, memory_order_acquire);
    if (!l) return AIS_OK;
    pthread_mutex_lock(&l->lock);
    while (l->count || l->writing)
        pthread_cond_wait(&l->drained, &l->lock);
    pthread_mutex_unlock(&l->lock);
    return AIS_OK;
}
