/*
 * aistack_serve_repo.c - the model repository of `aistack serve` (DIR/NAME/VERSION/model.*) and
 * its reloads (SIGHUP, --poll-interval).
 *
 * The served versions are a sorted table of entries under one mutex. A request takes a
 * reference on the entry it uses (acquire/release: a few instructions under the lock) and
 * works on it without the lock. A rescan, on the main thread, builds the next table: files whose
 * (device, inode, size, mtime) did not change keep their entry; a new or changed file is
 * loaded, a session created on it and its metadata written out (what a request would do
 * first) before it goes in; a file that fails any of it leaves the entry it would have replaced
 * serving, is logged as one JSON line on stderr and counted for its model, and is not tried
 * again until it changes. The new table replaces the old one under the lock; an entry that
 * left the table (replaced or removed from disk) is freed by whichever thread drops its last
 * reference, so requests in flight finish on the version they started on.
 *
 * With --max-batch each entry owns its version's batcher (aistack_serve_batch.c), made with the
 * entry and stopped before it is freed. A request queued in it holds the entry, so a replaced
 * version's batcher answers its queue before the last reference goes; at shutdown the batchers
 * of entries still held are found through the list of retired entries.
 *
 * Weights are memory-mapped from the model file: replace a served file by renaming a new one
 * over it (or add a version directory), never by writing into it (docs/serve.md).
 */
#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "aistack_serve.h"
#include "aistack_tool.h"

typedef struct stamp {
    dev_t dev;
    ino_t ino;
    off_t size;
    int64_t mtime_ns;
} stamp;

typedef struct entry {
    serve_model m;   /* first: a serve_model * handed out is its entry's address */
    unsigned refs;   /* requests holding it; under repo->mu */
    bool retired;    /* out of the table: freed when refs drops to 0 */
    bool served;     /* went into the table once (its batcher's counters are worth a log line) */
    bool stop_asked; /* serve_repo_stop_batchers took it; under repo->mu */
    stamp st;
    struct entry *retired_prev, *retired_next; /* retired but still held; under repo->mu */
} entry;

/* A file that failed to load, with the stamp it had: not tried again until that changes. */
typedef struct failed {
    char name[128];
    int64_t version;
    stamp st;
    bool seen; /* still on disk in the scan under way */
} failed;

struct serve_repo {
    pthread_mutex_t mu;
    char *dir;
    unsigned threads;
    serve_batch_opts batch; /* max_rows 0: no batching */
    entry **table;          /* sorted by name, then version; under mu */
    size_t n;
    entry *retired;          /* retired entries some request still holds; under mu */
    serve_repo_stats *stats; /* one per model name ever seen; under mu */
    size_t n_stats;
    failed *failed; /* the rescanning thread's own */
    size_t n_failed;
    bool started; /* the first scan is done: failures are no longer fatal */
};

static bool same_stamp(const stamp *a, const stamp *b) {
    return a->dev == b->dev && a->ino == b->ino && a->size == b->size && a->mtime_ns == b->mtime_ns;
}

static stamp stamp_of(const struct stat *st) {
    return (stamp){st->st_dev, st->st_ino, st->st_size,
                   (int64_t)st->st_mtim.tv_sec * 1000000000 + st->st_mtim.tv_nsec};
}

static void entry_free(entry *e, unsigned threads) {
    if (!e) return;
    /* Nothing holds e, so nothing waits in its queue: the worker is idle, joined here. */
    serve_batch_stop(e->m.batcher);
    if (e->served) serve_batch_log(e->m.batcher);
    serve_batch_destroy(e->m.batcher);
    if (e->m.sessions)
        for (unsigned k = 0; k < threads; k++)
            ais_session_destroy(e->m.sessions[k]);
    free(e->m.sessions);
    ais_model_destroy(e->m.model);
    serve_metrics_model_close(&e->m); /* after every session that reported to its monitor */
    free(e);
}

/* One JSON line on stderr, in one write, so that it does not interleave with the access log. */
static void log_event(const char *event, const char *name, int64_t version, const char *file,
                      const char *error, uint64_t failures) {
    serve_buf b = {0};
    serve_buf_printf(&b, "{\"event\": \"%s\", \"model\": ", event);
    serve_buf_json_str(&b, name);
    serve_buf_printf(&b, ", \"version\": \"%" PRId64 "\"", version);
    if (file) {
        serve_buf_puts(&b, ", \"file\": ");
        serve_buf_json_str(&b, file);
    }
    if (error) {
        serve_buf_puts(&b, ", \"error\": ");
        serve_buf_json_str(&b, error);
        serve_buf_printf(&b, ", \"reload_failures\": %" PRIu64, failures);
    }
    serve_buf_puts(&b, "}\n");
    if (!b.oom) fputs(b.p, stderr);
    serve_buf_free(&b);
}

/* The model's counters (created on first use); under mu. NULL when out of memory. */
static serve_repo_stats *stats_of(serve_repo *r, const char *name) {
    for (size_t i = 0; i < r->n_stats; i++)
        if (!strcmp(r->stats[i].name, name)) return &r->stats[i];
    serve_repo_stats *g = realloc(r->stats, (r->n_stats + 1) * sizeof *g);
    if (!g) return NULL;
    r->stats = g;
    serve_repo_stats *s = &g[r->n_stats++];
    memset(s, 0, sizeof *s);
    snprintf(s->name, sizeof s->name, "%s", name);
    return s;
}

/* The model's counters exist from its first load on, at 0: a series /metrics can show. */
static void stats_touch(serve_repo *r, const char *name) {
    pthread_mutex_lock(&r->mu);
    stats_of(r, name);
    pthread_mutex_unlock(&r->mu);
    serve_metrics_reload_seen(name);
}

/* Counts a reload of model name that went in (ok) or failed; the model's failures so far. */
static uint64_t count(serve_repo *r, const char *name, bool ok) {
    pthread_mutex_lock(&r->mu);
    serve_repo_stats *s = stats_of(r, name);
    if (s) ok ? s->reloads++ : s->reload_failures++;
    uint64_t failures = s ? s->reload_failures : 0;
    pthread_mutex_unlock(&r->mu);
    /* /metrics's aistack_serve_reloads_total follows these counts */
    serve_metrics_reload_seen(name);
    ok ? serve_metrics_reload_ok(name) : serve_metrics_reload_failed(name);
    return failures;
}

/* Loads file and checks it as a request would use it; the entry, or NULL with why in err. */
static entry *load_checked(serve_repo *r, const char *name, int64_t version, const char *file,
                           const stamp *st, char *err, size_t err_size) {
    entry *e = calloc(1, sizeof *e);
    if (!e || !(e->m.sessions = calloc(r->threads, sizeof *e->m.sessions))) {
        snprintf(err, err_size, "out of memory");
        return free(e), NULL;
    }
    snprintf(e->m.name, sizeof e->m.name, "%.127s", name);
    e->m.version = version;
    e->st = *st;
    ais_session *s = NULL;
    ais_status rc = ais_model_load(file, NULL, &e->m.model);
    if (rc) {
        snprintf(err, err_size, "load: %s: %s", ais_status_name(rc), ais_last_error());
    } else if (serve_metrics_model_open(&e->m, 1)) { /* this version's monitor */
        snprintf(err, err_size, "monitor: %s", ais_last_error());
        rc = AIS_E_OUT_OF_MEMORY;
    } else if ((rc = ais_session_create(e->m.model, e->m.session_opts, &s))) {
        snprintf(err, err_size, "session: %s: %s", ais_status_name(rc), ais_last_error());
    } else {
        serve_buf b = {0};
        serve_model_metadata(&e->m, &version, 1, &b);
        if (!b.oom) serve_model_config(&e->m, &b);
        if (b.oom) snprintf(err, err_size, "metadata: out of memory"), rc = AIS_E_OUT_OF_MEMORY;
        serve_buf_free(&b);
        if (!rc && r->batch.max_rows &&
            !(e->m.batcher = serve_batch_create(&e->m, e->m.session_opts, r->batch.max_rows,
                                                r->batch.delay_us, r->batch.timeout_s))) {
            snprintf(err, err_size, "batcher: could not be started (out of memory or threads)");
            rc = AIS_E_OUT_OF_MEMORY;
        }
    }
    ais_session_destroy(s);
    if (rc) return entry_free(e, r->threads), NULL;
    return e;
}

static int cmp_entry(const void *a, const void *b) {
    const entry *x = *(entry *const *)a, *y = *(entry *const *)b;
    int c = strcmp(x->m.name, y->m.name);
    return c ? c : (x->m.version > y->m.version) - (x->m.version < y->m.version);
}

/* The current entry NAME/version; the rescanning thread only (it alone changes the table). */
static entry *current(serve_repo *r, const char *name, int64_t version) {
    for (size_t i = 0; i < r->n; i++)
        if (r->table[i]->m.version == version && !strcmp(r->table[i]->m.name, name))
            return r->table[i];
    return NULL;
}

static failed *failed_of(serve_repo *r, const char *name, int64_t version) {
    for (size_t i = 0; i < r->n_failed; i++)
        if (r->failed[i].version == version && !strcmp(r->failed[i].name, name))
            return &r->failed[i];
    return NULL;
}

bool serve_valid_name(const char *s) {
    size_t n = strlen(s);
    if (!n || n >= sizeof((serve_model *)0)->name || s[0] == '.') return false;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (!(c >= 'a' && c <= 'z') && !(c >= 'A' && c <= 'Z') && !(c >= '0' && c <= '9') &&
            c != '_' && c != '-' && c != '.')
            return false;
    }
    return true;
}

/* Appends e to *next (growing it); false when out of memory. */
static bool push(entry ***next, size_t *n, size_t *cap, entry *e) {
    if (*n == *cap) {
        size_t c = *cap ? 2 * *cap : 16;
        entry **g = realloc(*next, c * sizeof *g);
        if (!g) return false;
        *next = g, *cap = c;
    }
    (*next)[(*n)++] = e;
    return true;
}

/* Keeps only the failed records whose version is still on disk. */
static void prune_failed(serve_repo *r) {
    size_t k = 0;
    for (size_t i = 0; i < r->n_failed; i++)
        if (r->failed[i].seen) r->failed[k++] = r->failed[i];
    r->n_failed = k;
}

/* One version directory: the entry to serve for it (kept, new, or the old one when the new
 * file is broken), or NULL for none. Returns -1 on a failure that is fatal (the first scan,
 * out of memory), else 0. */
static int scan_version(serve_repo *r, const char *name, int64_t version, const char *file,
                        const struct stat *st0, entry **out) {
    stamp st = stamp_of(st0);
    entry *old = current(r, name, version);
    *out = old;
    if (old && same_stamp(&old->st, &st)) return 0;
    failed *f = failed_of(r, name, version);
    if (f) {
        f->seen = true;
        if (same_stamp(&f->st, &st)) return 0; /* reported already; unchanged since */
    }
    char err[1024];
    entry *e = load_checked(r, name, version, file, &st, err, sizeof err);
    /* A file still being written: its stamp moved while it loaded. Left for the next scan,
     * without a failure to count (it may be fine once complete). */
    struct stat st1;
    stamp now;
    bool moved = stat(file, &st1) != 0 || (now = stamp_of(&st1), !same_stamp(&st, &now));
    if (r->started && moved) {
        entry_free(e, r->threads);
        return 0;
    }
    if (e) {
        if (f) *f = r->failed[--r->n_failed]; /* fixed: forget the failure */
        if (r->started) {                     /* at start, the listening line says it all went in */
            log_event(old ? "model_reloaded" : "model_loaded", name, version, file, NULL, 0);
            count(r, name, true);
        } else {
            stats_touch(r, name);
        }
        *out = e;
        return 0;
    }
    if (!r->started) {
        fprintf(stderr, "aistack serve: cannot load %s: %s\n", file, err);
        return -1;
    }
    log_event("model_load_failed", name, version, file, err, count(r, name, false));
    if (!f) {
        failed *g = realloc(r->failed, (r->n_failed + 1) * sizeof *g);
        if (!g) return 0; /* only the record of it is lost: it will be tried again */
        r->failed = g;
        f = &r->failed[r->n_failed++];
        snprintf(f->name, sizeof f->name, "%.127s", name);
        f->version = version;
        f->seen = true;
    }
    f->st = st;
    return 0;
}

/* Scans the repository into the next table and swaps it in; the first scan fails on any model
 * that does not load. 0, or 1 after a message (the table is then unchanged). */
static int scan(serve_repo *r) {
    static const char *const files[] = {"model.ais", "model.onnx", "model.json", "model.txt"};
    DIR *d = opendir(r->dir);
    if (!d) {
        if (!r->started)
            return fprintf(stderr, "aistack serve: %s: %s\n", r->dir, strerror(errno)), 1;
        /* The whole repository gone (or unreadable) for a moment: keep serving what we have. */
        log_event("repository_unreadable", "", -1, r->dir, strerror(errno), 0);
        return 1;
    }
    for (size_t i = 0; i < r->n_failed; i++)
        r->failed[i].seen = false;
    entry **next = NULL;
    size_t n = 0, cap = 0;
    int rc = 0;
    struct dirent *de;
    while (!rc && (de = readdir(d))) {
        if (de->d_name[0] == '.') continue;
        char path[4096];
        snprintf(path, sizeof path, "%s/%s", r->dir, de->d_name);
        struct stat st;
        if (stat(path, &st) || !S_ISDIR(st.st_mode)) continue;
        if (!serve_valid_name(de->d_name)) {
            if (!r->started)
                fprintf(stderr, "aistack serve: skipping %s: not a valid model name\n", path);
            continue;
        }
        DIR *vd = opendir(path);
        if (!vd) continue;
        struct dirent *v;
        while (!rc && (v = readdir(vd))) {
            size_t l = strlen(v->d_name);
            /* Digits without a leading zero: one directory per version ("01" beside "1" would
             * be two entries for one version). */
            if (!l || l > 18 || strspn(v->d_name, "0123456789") != l) continue;
            if (l > 1 && v->d_name[0] == '0') {
                if (!r->started)
                    fprintf(stderr, "aistack serve: skipping %s/%s: a version has no leading 0\n",
                            path, v->d_name);
                continue;
            }
            char file[4096 + 300];
            bool found = false;
            for (size_t f = 0; f < 4 && !found; f++) {
                snprintf(file, sizeof file, "%s/%s/%s", path, v->d_name, files[f]);
                found = stat(file, &st) == 0 && S_ISREG(st.st_mode);
            }
            if (!found) {
                if (!r->started)
                    fprintf(stderr,
                            "aistack serve: skipping %s/%s: no model.ais, .onnx, .json or .txt\n",
                            path, v->d_name);
                continue;
            }
            entry *e = NULL;
            if (scan_version(r, de->d_name, strtoll(v->d_name, NULL, 10), file, &st, &e)) {
                rc = 1;
            } else if (e && !push(&next, &n, &cap, e)) {
                fputs("aistack serve: out of memory scanning the repository\n", stderr);
                if (e != current(r, e->m.name, e->m.version)) entry_free(e, r->threads);
                rc = 1;
            }
        }
        closedir(vd);
    }
    closedir(d);
    if (!rc && !r->started && !n) {
        fprintf(stderr, "aistack serve: no model found in %s (DIR/NAME/VERSION/model.*)\n", r->dir);
        rc = 1;
    }
    if (rc) { /* drop what this scan loaded; the current table stays */
        for (size_t i = 0; i < n; i++)
            if (next[i] != current(r, next[i]->m.name, next[i]->m.version))
                entry_free(next[i], r->threads);
        free(next);
        return 1;
    }
    prune_failed(r);
    qsort(next, n, sizeof *next, cmp_entry);
    /* Entries of the old table that the new one does not hold (replaced or removed) retire. */
    entry **gone = r->n ? malloc(r->n * sizeof *gone) : NULL;
    size_t n_gone = 0;
    if (r->n && !gone) {
        fputs("aistack serve: out of memory scanning the repository\n", stderr);
        for (size_t i = 0; i < n; i++)
            if (next[i] != current(r, next[i]->m.name, next[i]->m.version))
                entry_free(next[i], r->threads);
        free(next);
        return 1;
    }
    for (size_t i = 0; i < r->n; i++) {
        entry **hit = bsearch(&r->table[i], next, n, sizeof *next, cmp_entry);
        if (hit && *hit == r->table[i]) continue;
        if (!hit)
            log_event("model_removed", r->table[i]->m.name, r->table[i]->m.version, NULL, NULL, 0);
        gone[n_gone++] = r->table[i];
    }
    pthread_mutex_lock(&r->mu);
    entry **old = r->table;
    r->table = next, r->n = n;
    size_t n_free = 0;
    for (size_t i = 0; i < n_gone; i++) {
        entry *g = gone[i];
        g->retired = true;
        if (!g->refs) {
            gone[n_free++] = g; /* idle: ours to free */
        } else {                /* the last request to release it frees it */
            g->retired_next = r->retired, g->retired_prev = NULL;
            if (r->retired) r->retired->retired_prev = g;
            r->retired = g;
        }
    }
    for (size_t i = 0; i < n; i++)
        next[i]->served = true;
    pthread_mutex_unlock(&r->mu);
    for (size_t i = 0; i < n_free; i++)
        entry_free(gone[i], r->threads);
    free(gone);
    free(old);
    r->started = true;
    return 0;
}

int serve_repo_open(const char *dir, unsigned threads, const serve_batch_opts *batch,
                    serve_repo **out) {
    *out = NULL;
    serve_repo *r = calloc(1, sizeof *r);
    if (!r || !(r->dir = strdup(dir)))
        return free(r), fputs("aistack serve: out of memory\n", stderr), 1;
    pthread_mutex_init(&r->mu, NULL);
    r->threads = threads;
    if (batch) r->batch = *batch;
    if (scan(r)) return serve_repo_close(r), 1;
    *out = r;
    return 0;
}

void serve_repo_rescan(serve_repo *r) { scan(r); }

void serve_repo_stop_batchers(serve_repo *r) {
    if (!r->batch.max_rows) return;
    /* In rounds of a few entries, without allocating: each retained while its batcher stops,
     * because the requests it answers release theirs (from HTTP threads, taking mu) and the
     * entry must outlive the stop either way; stop_asked keeps it out of later rounds. */
    for (;;) {
        entry *some[32];
        size_t k = 0;
        pthread_mutex_lock(&r->mu);
        for (size_t i = 0; i < r->n && k < 32; i++)
            if (!r->table[i]->stop_asked) some[k++] = r->table[i];
        for (entry *e = r->retired; e && k < 32; e = e->retired_next)
            if (!e->stop_asked) some[k++] = e;
        for (size_t i = 0; i < k; i++)
            some[i]->refs++, some[i]->stop_asked = true;
        pthread_mutex_unlock(&r->mu);
        if (!k) return;
        for (size_t i = 0; i < k; i++)
            serve_batch_stop(some[i]->m.batcher);
        for (size_t i = 0; i < k; i++)
            serve_repo_release(r, &some[i]->m);
    }
}

void serve_repo_close(serve_repo *r) {
    if (!r) return;
    for (size_t i = 0; i < r->n; i++)
        entry_free(r->table[i], r->threads); /* the server is stopped: nobody holds one */
    /* Held past the end by a request MHD never completed (it is stopped): none is left. */
    while (r->retired) {
        entry *e = r->retired;
        r->retired = e->retired_next;
        entry_free(e, r->threads);
    }
    free(r->table);
    free(r->stats);
    free(r->failed);
    free(r->dir);
    pthread_mutex_destroy(&r->mu);
    free(r);
}

serve_model *serve_repo_acquire(serve_repo *r, const char *name, size_t name_len, int64_t version) {
    pthread_mutex_lock(&r->mu);
    entry *best = NULL;
    for (size_t i = 0; i < r->n; i++) {
        entry *e = r->table[i];
        if (strlen(e->m.name) != name_len || memcmp(e->m.name, name, name_len)) continue;
        if (version < 0 || e->m.version == version) best = e; /* sorted: the last is highest */
    }
    if (best) best->refs++;
    pthread_mutex_unlock(&r->mu);
    return best ? &best->m : NULL;
}

void serve_repo_retain(serve_repo *r, serve_model *m) {
    pthread_mutex_lock(&r->mu);
    ((entry *)m)->refs++;
    pthread_mutex_unlock(&r->mu);
}

void serve_repo_release(serve_repo *r, serve_model *m) {
    if (!m) return;
    entry *e = (entry *)m;
    pthread_mutex_lock(&r->mu);
    bool last = --e->refs == 0 && e->retired;
    if (last) { /* off the list of retired entries still held */
        if (e->retired_prev)
            e->retired_prev->retired_next = e->retired_next;
        else
            r->retired = e->retired_next;
        if (e->retired_next) e->retired_next->retired_prev = e->retired_prev;
    }
    pthread_mutex_unlock(&r->mu);
    if (last) entry_free(e, r->threads); /* the last request on a replaced version */
}

size_t serve_repo_versions(serve_repo *r, const char *name, int64_t *out, size_t max) {
    size_t n = 0;
    pthread_mutex_lock(&r->mu);
    for (size_t i = 0; i < r->n && n < max; i++)
        if (!strcmp(r->table[i]->m.name, name)) out[n++] = r->table[i]->m.version;
    pthread_mutex_unlock(&r->mu);
    return n;
}

void serve_repo_index(serve_repo *r, serve_buf *out) {
    pthread_mutex_lock(&r->mu);
    serve_buf_puts(out, "[");
    for (size_t i = 0; i < r->n; i++) {
        serve_buf_puts(out, i ? ", {\"name\": " : "{\"name\": ");
        serve_buf_json_str(out, r->table[i]->m.name);
        serve_buf_printf(out, ", \"version\": \"%" PRId64 "\", \"state\": \"READY\"}",
                         r->table[i]->m.version);
    }
    serve_buf_puts(out, "]");
    pthread_mutex_unlock(&r->mu);
}

void serve_repo_metrics(serve_repo *r, serve_buf *out) {
    pthread_mutex_lock(&r->mu);
    serve_model **all = malloc((r->n ? r->n : 1) * sizeof *all);
    size_t n = all ? r->n : 0;
    for (size_t i = 0; i < n; i++)
        all[i] = &r->table[i]->m, r->table[i]->refs++;
    pthread_mutex_unlock(&r->mu);
    if (!all) out->oom = true; /* answered 500 */
    serve_metrics_render((const serve_model *const *)all, n, out);
    for (size_t i = 0; i < n; i++)
        serve_repo_release(r, all[i]);
    free(all);
}

size_t serve_repo_stats_get(serve_repo *r, serve_repo_stats *out, size_t max) {
    pthread_mutex_lock(&r->mu);
    size_t n = r->n_stats;
    for (size_t i = 0; i < n && i < max; i++)
        out[i] = r->stats[i];
    pthread_mutex_unlock(&r->mu);
    return n;
}
