/*
 * threadpool.c - a small fork-join pool. Idle workers sleep on a condition variable (no
 * spinning), the calling thread takes chunks too, and chunks are claimed through one atomic
 * counter so uneven chunks balance themselves.
 */
#include "common.h"

#include <pthread.h>
#include <stdatomic.h>
#include <unistd.h>

struct ais__pool {
    int32_t threads; /* including the caller */
    pthread_t *workers;
    int32_t n_workers;
    pthread_mutex_t lock;
    pthread_cond_t wake;
    pthread_cond_t done;
    pthread_mutex_t submit; /* one job at a time when several threads share the pool */
    uint64_t generation;    /* bumped per job, under lock */
    int32_t active;         /* workers that joined the current job and are not done, under lock */
    bool closed;            /* the caller has finished its share: late workers stay out */
    bool stop;
    /* the current job */
    ais__range_fn fn;
    void *ctx;
    size_t n, chunk, n_chunks;
    atomic_size_t next;
};

static _Thread_local bool ais__in_worker;

static void ais__pool_work(ais__pool *p) {
    for (;;) {
        size_t c = atomic_fetch_add(&p->next, 1);
        if (c >= p->n_chunks) break;
        size_t begin = c * p->chunk;
        size_t end = AIS__MIN(p->n, begin + p->chunk);
        p->fn(p->ctx, begin, end);
    }
}

static void *ais__pool_main(void *arg) {
    ais__pool *p = arg;
    ais__in_worker = true;
    uint64_t seen = 0;
    pthread_mutex_lock(&p->lock);
    for (;;) {
        while (!p->stop && p->generation == seen) pthread_cond_wait(&p->wake, &p->lock);
        if (p->stop) break;
        seen = p->generation;
        /* A worker woken after the caller ran out of chunks stays out: the caller waits only
         * for workers that joined, never for one the scheduler has not run yet (milliseconds
         * when the cores are busy). */
        if (p->closed) continue;
        p->active++;
        pthread_mutex_unlock(&p->lock);
        ais__pool_work(p);
        pthread_mutex_lock(&p->lock);
        if (--p->active == 0 && p->closed) pthread_cond_signal(&p->done);
    }
    pthread_mutex_unlock(&p->lock);
    return NULL;
}

int32_t ais__cpu_count(void) {
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    return n > 0 ? (int32_t)n : 1;
}

ais_status ais__pool_create(int32_t threads, ais__pool **out) {
    *out = NULL;
    if (threads <= 0) threads = ais__cpu_count();
    ais__pool *p = ais__calloc(1, sizeof *p);
    if (!p) return ais__oom(sizeof *p, "thread pool");
    p->threads = threads;
    if (pthread_mutex_init(&p->lock, NULL) || pthread_mutex_init(&p->submit, NULL) ||
        pthread_cond_init(&p->wake, NULL) || pthread_cond_init(&p->done, NULL)) {
        ais__free(p);
        return ais__error(AIS_E_INTERNAL, "thread pool: could not create its locks");
    }
    if (threads > 1) {
        p->workers = ais__calloc((size_t)threads - 1, sizeof *p->workers);
        if (!p->workers) {
            ais__pool_destroy(p);
            return ais__oom(sizeof(pthread_t) * (size_t)(threads - 1), "thread pool workers");
        }
        for (int32_t i = 0; i < threads - 1; i++) {
            if (pthread_create(&p->workers[i], NULL, ais__pool_main, p) != 0) {
                ais__pool_destroy(p);
                return ais__error(AIS_E_INTERNAL, "thread pool: could not start thread %d of %d",
                                  i + 2, threads);
            }
            p->n_workers++;
        }
    }
    *out = p;
    return AIS_OK;
}

void ais__pool_destroy(ais__pool *p) {
    if (!p) return;
    pthread_mutex_lock(&p->lock);
    p->stop = true;
    pthread_cond_broadcast(&p->wake);
    pthread_mutex_unlock(&p->lock);
    for (int32_t i = 0; i < p->n_workers; i++) pthread_join(p->workers[i], NULL);
    ais__free(p->workers);
    pthread_mutex_destroy(&p->lock);
    pthread_mutex_destroy(&p->submit);
    pthread_cond_destroy(&p->wake);
    pthread_cond_destroy(&p->done);
    ais__free(p);
}

int32_t ais__pool_threads(const ais__pool *p) { return p ? p->threads : 1; }

void ais__parallel_for(ais__pool *p, size_t n, size_t grain, ais__range_fn fn, void *ctx) {
    if (n == 0) return;
    if (grain == 0) grain = 1;
    /* Serial when there is no pool, too little work, or we are already inside a worker (a
     * nested parallel_for would wait on workers that are busy running its parent). */
    if (!p || p->n_workers == 0 || n <= grain || ais__in_worker) {
        fn(ctx, 0, n);
        return;
    }
    size_t max_chunks = (size_t)p->threads * 4; /* a few per thread, for balance */
    size_t chunk = (n + max_chunks - 1) / max_chunks;
    if (chunk < grain) chunk = grain;
    size_t n_chunks = (n + chunk - 1) / chunk;
    if (n_chunks <= 1) {
        fn(ctx, 0, n);
        return;
    }
    pthread_mutex_lock(&p->submit);
    pthread_mutex_lock(&p->lock);
    p->fn = fn;
    p->ctx = ctx;
    p->n = n;
    p->chunk = chunk;
    p->n_chunks = n_chunks;
    atomic_store(&p->next, 0);
    p->active = 0;
    p->closed = false;
    p->generation++;
    pthread_cond_broadcast(&p->wake);
    pthread_mutex_unlock(&p->lock);

    bool was = ais__in_worker;
    ais__in_worker = true;
    ais__pool_work(p);
    ais__in_worker = was;

    pthread_mutex_lock(&p->lock);
    p->closed = true; /* every chunk is claimed; wait for those still running one */
    while (p->active > 0) pthread_cond_wait(&p->done, &p->lock);
    pthread_mutex_unlock(&p->lock);
    pthread_mutex_unlock(&p->submit);
}

/* ---- the process-wide pool of ais_set_num_threads() ---- */

static pthread_mutex_t ais__default_lock = PTHREAD_MUTEX_INITIALIZER;
static ais__pool *ais__default;
static int32_t ais__default_threads = 1;
static bool ais__default_failed;

ais__pool *ais__default_pool(void) {
    pthread_mutex_lock(&ais__default_lock);
    if (!ais__default && !ais__default_failed && ais__default_threads != 1) {
        if (ais__pool_create(ais__default_threads, &ais__default) != AIS_OK) {
            ais__default_failed = true;
            ais__log(AIS_LOG_WARN, "could not start %d threads; running serially",
                     ais__default_threads);
        }
    }
    ais__pool *p = ais__default;
    pthread_mutex_unlock(&ais__default_lock);
    return p;
}

ais_status ais__default_pool_set_threads(int32_t threads) {
    if (threads < 0 || threads > 1024)
        return ais__error(AIS_E_INVALID_ARGUMENT,
                          "ais_set_num_threads: %d is out of range [0, 1024]", threads);
    if (threads == 0) threads = ais__cpu_count();
    pthread_mutex_lock(&ais__default_lock);
    if (threads != ais__default_threads) {
        ais__pool_destroy(ais__default);
        ais__default = NULL;
        ais__default_failed = false;
        ais__default_threads = threads;
    }
    pthread_mutex_unlock(&ais__default_lock);
    return AIS_OK;
}

AIS_API int32_t ais_get_num_threads(void) {
    pthread_mutex_lock(&ais__default_lock);
    int32_t t = ais__default_threads;
    pthread_mutex_unlock(&ais__default_lock);
    return t;
}
