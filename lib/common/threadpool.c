/*
 * threadpool.c - one fork-join pool for the whole process. Sessions and the eager API hold
 * handles (ais__pool) that carry only a width: how many threads, the caller included, a job of
 * theirs may use. The workers behind them are shared, so N sessions never start N sets of
 * threads: the process has max(width) - 1 workers at most. The calling thread takes chunks too,
 * and chunks are claimed through one atomic counter so uneven chunks balance themselves. A job
 * that finds the workers busy with another caller's job runs on its own thread: the cores are
 * busy anyway, and waiting would let one session's kernels queue behind another's.
 *
 * Waiting: a model runs kernel after kernel, each a job of microseconds to milliseconds, with
 * serial work between them. A worker that slept on a condition variable after each job would
 * make the next job pay a futex wake-up and a trip through the scheduler (5-50 us, far more on a
 * loaded machine) before its second thread starts: for small kernels the second thread then
 * arrives after the caller has done all the chunks. So a worker that finished (or just woke)
 * first spins for a bounded time (AIS_POOL_SPIN_US, default 100 us; 0 disables it) watching the
 * job counter with pause instructions, and sleeps only after that, which is what ONNX Runtime's
 * pool and OpenMP runtimes do. The caller likewise spins a little for the last running chunks
 * before it sleeps. Spinning is bounded, so an idle process goes quiet within the spin time.
 */
#define _GNU_SOURCE /* sched_getaffinity, CPU_COUNT */
#include "common.h"

#include <dirent.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define AIS__CPU_RELAX() _mm_pause()
#elif defined(__aarch64__)
#define AIS__CPU_RELAX() __asm__ __volatile__("yield")
#else
#define AIS__CPU_RELAX() ((void)0)
#endif

struct ais__pool {
    atomic_int threads; /* width of a job, including the caller */
    bool is_default;    /* the process-wide handle: never freed */
};

/* The shared workers. */
typedef struct ais__workers {
    /* Static, not from the allocator: the workers outlive every object, and the application may
     * swap allocators between objects. 1023 is the most any width (<= 1024) needs. */
    pthread_t workers[1023];
    int32_t n_workers;
    atomic_int n_started; /* n_workers, readable without the lock */
    pthread_mutex_t lock;
    pthread_cond_t wake;
    pthread_cond_t done;
    pthread_mutex_t submit; /* one job at a time; a second caller runs serially */
    /* Bumped per job under lock; read without it by spinning workers. */
    _Atomic uint64_t generation;
    int32_t width;  /* workers the current job may take (its width - 1), under lock */
    int32_t joined; /* workers that joined the current job, under lock */
    /* Workers that joined the current job and are not done: written under lock, read without
     * it by a caller spinning for the last chunks. */
    atomic_int active;
    bool closed; /* the caller has finished its share: late workers stay out */
    bool stop;
    /* the current job */
    ais__range_fn fn;
    void *ctx;
    size_t n, chunk, n_chunks;
    atomic_size_t next;
} ais__workers;

static ais__workers ais__w = {
    .lock = PTHREAD_MUTEX_INITIALIZER,
    .wake = PTHREAD_COND_INITIALIZER,
    .done = PTHREAD_COND_INITIALIZER,
    .submit = PTHREAD_MUTEX_INITIALIZER,
};

static _Thread_local bool ais__in_worker;

/* ---- bounded spinning ---- */

enum { AIS__SPIN_US_DEFAULT = 100, AIS__SPIN_US_MAX = 100000 };
static atomic_int ais__spin_us = -1; /* -1: not read from the environment yet */

int32_t ais__pool_spin_us(void) {
    int v = atomic_load_explicit(&ais__spin_us, memory_order_relaxed);
    if (v >= 0) return v;
    v = AIS__SPIN_US_DEFAULT;
    const char *env = getenv("AIS_POOL_SPIN_US");
    if (env && *env) {
        char *end;
        long x = strtol(env, &end, 10);
        if (*end == '\0' && x >= 0)
            v = (int)AIS__MIN(x, (long)AIS__SPIN_US_MAX);
        else
            ais__log(AIS_LOG_WARN,
                     "AIS_POOL_SPIN_US='%s' is not a count of microseconds in "
                     "[0, %d]; using %d",
                     env, AIS__SPIN_US_MAX, v);
    }
    int expected = -1;
    atomic_compare_exchange_strong(&ais__spin_us, &expected, v);
    return atomic_load(&ais__spin_us);
}

void ais__pool_set_spin_us(int32_t us) {
    atomic_store(&ais__spin_us, us < 0 ? -1 : (int)AIS__MIN(us, (int32_t)AIS__SPIN_US_MAX));
}

uint64_t ais__now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* Spinning pays only while this thread keeps its core. When two clock reads 64 pauses apart (a
 * few microseconds) are further apart than this, the thread was descheduled mid-spin: there are
 * more runnable threads than cores, a spinning thread burns the share the scheduler would give
 * the work, and a sleeper that is woken runs sooner than a spinner that used its slice (measured
 * on a 2-core machine at load 20: MobileNetV2 at 2 threads 25% slower with spinning). Then no
 * thread spins for AIS__SPIN_BACKOFF_NS; the next spin after that tries again.
 * The bound sits between the two kinds of gap measured on a 2-vCPU VM: an interrupt or a
 * hypervisor exit (a pause loop in a guest makes the host exit it: pause-loop exiting) takes the
 * thread away for 30-95 us, the scheduler handing its core to another runnable thread for a
 * slice of milliseconds (2.7 ms with three busy loops beside a 2-thread model). At 30 us the
 * exits alone quieted the spinning a few times a second for 50 ms each, and a worker then slept
 * through most jobs of a back-to-back run (a 1x1 576->96 layer at 14x14 on 2 threads: about
 * 1000 of 2000 spins skipped; median 0.166 -> 0.131 ms at 250 us). */
enum { AIS__SPIN_PREEMPTED_NS = 250000 };
#define AIS__SPIN_BACKOFF_NS ((uint64_t)50000000u)
static _Atomic uint64_t ais__spin_quiet_until;

/* Spins until `done(p, arg)` or `us` microseconds pass; true when done. The clock is read once
 * every 64 pauses (a pause is ~40-140 cycles), so the bound is kept within a microsecond or so
 * without a system call per check (clock_gettime is a vDSO call). */
static bool ais__spin_until(bool (*done)(ais__workers *, uint64_t), ais__workers *p, uint64_t arg,
                            int32_t us) {
    if (us <= 0) return done(p, arg);
    uint64_t last = ais__now_ns();
    if (last < atomic_load_explicit(&ais__spin_quiet_until, memory_order_relaxed))
        return done(p, arg);
    uint64_t deadline = last + (uint64_t)us * 1000u;
    for (;;) {
        for (int i = 0; i < 64; i++) {
            if (done(p, arg)) return true;
            AIS__CPU_RELAX();
        }
        uint64_t t = ais__now_ns();
        if (t - last > AIS__SPIN_PREEMPTED_NS) {
            atomic_store_explicit(&ais__spin_quiet_until, t + AIS__SPIN_BACKOFF_NS,
                                  memory_order_relaxed);
            return done(p, arg);
        }
        if (t >= deadline) return done(p, arg);
        last = t;
    }
}

/* A new job, or the stop at unload (which bumps the generation too). */
static bool ais__new_job(ais__workers *p, uint64_t seen) {
    return atomic_load_explicit(&p->generation, memory_order_acquire) != seen;
}

static bool ais__all_done(ais__workers *p, uint64_t unused) {
    (void)unused;
    return atomic_load_explicit(&p->active, memory_order_acquire) == 0;
}

static void ais__pool_work(ais__workers *p) {
    for (;;) {
        size_t c = atomic_fetch_add(&p->next, 1);
        if (c >= p->n_chunks) break;
        size_t begin = c * p->chunk;
        size_t end = AIS__MIN(p->n, begin + p->chunk);
        p->fn(p->ctx, begin, end);
    }
}

static void *ais__pool_main(void *arg) {
    ais__workers *p = arg;
    ais__in_worker = true;
    pthread_mutex_lock(&p->lock);
    /* A worker started while a job runs must not take part in it: its caller counted on the
     * workers that were there. */
    uint64_t seen = atomic_load(&p->generation);
    for (;;) {
        if (!p->stop && atomic_load(&p->generation) == seen) {
            /* Between jobs: spin first (unlocked), so that a job submitted soon after the last
             * one starts on this thread at once; then sleep. */
            pthread_mutex_unlock(&p->lock);
            (void)ais__spin_until(ais__new_job, p, seen, ais__pool_spin_us());
            pthread_mutex_lock(&p->lock);
        }
        while (!p->stop && atomic_load(&p->generation) == seen)
            pthread_cond_wait(&p->wake, &p->lock);
        if (p->stop) break;
        seen = atomic_load(&p->generation);
        /* A worker woken after the caller ran out of chunks stays out: the caller waits only
         * for workers that joined, never for one the scheduler has not run yet (milliseconds
         * when the cores are busy). So does one beyond the job's width. */
        if (p->closed || p->joined >= p->width) continue;
        p->joined++;
        atomic_fetch_add(&p->active, 1);
        pthread_mutex_unlock(&p->lock);
        ais__pool_work(p);
        pthread_mutex_lock(&p->lock);
        if (atomic_fetch_sub(&p->active, 1) == 1 && p->closed) pthread_cond_signal(&p->done);
    }
    pthread_mutex_unlock(&p->lock);
    return NULL;
}

/* Starts workers until there are `want`; false when none could be added (the pool keeps what it
 * has, and jobs use those). */
static bool ais__workers_grow(int32_t want) {
    ais__workers *p = &ais__w;
    bool ok = true;
    want = AIS__MIN(want, (int32_t)(sizeof p->workers / sizeof p->workers[0]));
    pthread_mutex_lock(&p->lock);
    while (!p->stop && p->n_workers < want) {
        if (pthread_create(&p->workers[p->n_workers], NULL, ais__pool_main, p) != 0) {
            ok = false;
            break;
        }
        p->n_workers++;
    }
    atomic_store(&p->n_started, p->n_workers);
    pthread_mutex_unlock(&p->lock);
    if (!ok)
        ais__log(AIS_LOG_WARN, "thread pool: could start only %d of %d threads",
                 (int)atomic_load(&p->n_started), (int)want);
    return ok;
}

/* At unload (a dlclose'd libaistack, or exit): the workers run this library's code, so they
 * must be gone before it is unmapped. */
__attribute__((destructor)) static void ais__workers_stop(void) {
    ais__workers *p = &ais__w;
    pthread_mutex_lock(&p->lock);
    p->stop = true;
    atomic_fetch_add(&p->generation, 1); /* ends the spinning of idle workers too */
    pthread_cond_broadcast(&p->wake);
    int32_t n = p->n_workers;
    pthread_mutex_unlock(&p->lock);
    for (int32_t i = 0; i < n; i++)
        pthread_join(p->workers[i], NULL);
}

int32_t ais__cpu_count(void) {
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    return n > 0 ? (int32_t)n : 1;
}

/* Reads one small integer file; -1 when it cannot. */
static long ais__read_long(const char *path) {
    FILE *f = fopen(path, "r");
    if (!f) return -1;
    long v = -1;
    if (fscanf(f, "%ld", &v) != 1) v = -1;
    fclose(f);
    return v;
}

int32_t ais__cpu_physical_count(void) {
    /* Distinct (package, core) pairs among the CPUs this process may run on: SMT siblings share
     * one core's units, and a second thread per core slows dense kernels down (ONNX Runtime
     * counts the same way). Falls back to the online CPUs when sysfs says nothing. */
    cpu_set_t allowed;
    bool have_mask = sched_getaffinity(0, sizeof allowed, &allowed) == 0;
    enum { MAX_CORES = 1024 };
    long keys[MAX_CORES];
    int32_t n = 0;
    DIR *d = opendir("/sys/devices/system/cpu");
    if (d) {
        struct dirent *e;
        while ((e = readdir(d)) != NULL && n < MAX_CORES) {
            int cpu;
            char tail;
            if (sscanf(e->d_name, "cpu%d%c", &cpu, &tail) != 1 || cpu < 0) continue;
            if (have_mask && cpu < CPU_SETSIZE && !CPU_ISSET(cpu, &allowed)) continue;
            char path[128];
            snprintf(path, sizeof path, "/sys/devices/system/cpu/cpu%d/topology/core_id", cpu);
            long core = ais__read_long(path);
            snprintf(path, sizeof path,
                     "/sys/devices/system/cpu/cpu%d/topology/physical_package_id", cpu);
            long pkg = ais__read_long(path);
            if (core < 0) continue; /* offline CPUs have no topology */
            long key = (pkg < 0 ? 0 : pkg) * 1000003L + core;
            bool seen = false;
            for (int32_t i = 0; i < n && !seen; i++)
                seen = keys[i] == key;
            if (!seen) keys[n++] = key;
        }
        closedir(d);
    }
    if (n > 0) return n;
    int32_t online = ais__cpu_count();
    if (have_mask && CPU_COUNT(&allowed) > 0 && CPU_COUNT(&allowed) < online)
        return CPU_COUNT(&allowed);
    return online;
}

ais_status ais__pool_create(int32_t threads, ais__pool **out) {
    *out = NULL;
    if (threads <= 0) threads = ais_get_num_threads();
    ais__pool *p = ais__calloc(1, sizeof *p);
    if (!p) return ais__oom(sizeof *p, "thread pool");
    atomic_init(&p->threads, threads);
    /* Start the workers now, so that a failure shows at session creation and the first run
     * does not pay for it; a shortfall only narrows the jobs. */
    if (threads > 1) (void)ais__workers_grow(threads - 1);
    *out = p;
    return AIS_OK;
}

void ais__pool_destroy(ais__pool *p) {
    if (!p || p->is_default) return;
    ais__free(p);
}

int32_t ais__pool_threads(const ais__pool *p) { return p ? atomic_load(&p->threads) : 1; }

void ais__parallel_for(ais__pool *pool, size_t n, size_t grain, ais__range_fn fn, void *ctx) {
    if (n == 0) return;
    if (grain == 0) grain = 1;
    int32_t width = ais__pool_threads(pool);
    /* Serial when the handle allows one thread, there is too little work, or we are already
     * inside a worker (a nested parallel_for would wait on workers that are busy running its
     * parent). */
    if (width <= 1 || n <= grain || ais__in_worker) {
        fn(ctx, 0, n);
        return;
    }
    ais__workers *p = &ais__w;
    if (atomic_load(&p->n_started) < width - 1) (void)ais__workers_grow(width - 1);
    int32_t helpers = AIS__MIN(width - 1, (int32_t)atomic_load(&p->n_started));
    size_t max_chunks = (size_t)(helpers + 1) * 4; /* a few per thread, for balance */
    size_t chunk = (n + max_chunks - 1) / max_chunks;
    if (chunk < grain) chunk = grain;
    size_t n_chunks = (n + chunk - 1) / chunk;
    if (helpers <= 0 || n_chunks <= 1 || pthread_mutex_trylock(&p->submit) != 0) {
        fn(ctx, 0, n);
        return;
    }
    pthread_mutex_lock(&p->lock);
    p->fn = fn;
    p->ctx = ctx;
    p->n = n;
    p->chunk = chunk;
    p->n_chunks = n_chunks;
    atomic_store(&p->next, 0);
    p->width = helpers;
    p->joined = 0;
    atomic_store(&p->active, 0);
    p->closed = false;
    atomic_fetch_add_explicit(&p->generation, 1, memory_order_release);
    /* Spinning workers see the new generation without this; sleeping ones need it. Only as
     * many as the job can take: a narrow job on a pool that a wider handle grew (2 threads of
     * 8 workers) would otherwise wake them all for nothing, each a futex wake and a trip
     * through the scheduler that ends in finding the job full. */
    if (helpers < p->n_workers)
        for (int32_t i = 0; i < helpers; i++)
            pthread_cond_signal(&p->wake);
    else
        pthread_cond_broadcast(&p->wake);
    pthread_mutex_unlock(&p->lock);

    ais__in_worker = true;
    ais__pool_work(p);
    ais__in_worker = false;

    pthread_mutex_lock(&p->lock);
    p->closed = true; /* every chunk is claimed; wait for those still running one */
    if (atomic_load(&p->active) > 0) {
        /* The workers' last chunks usually end within microseconds of ours: spin for them
         * before sleeping on `done` (whose signal a spinning caller may miss; hence the check
         * under the lock after the spin). */
        pthread_mutex_unlock(&p->lock);
        (void)ais__spin_until(ais__all_done, p, 0, ais__pool_spin_us());
        pthread_mutex_lock(&p->lock);
    }
    while (atomic_load(&p->active) > 0)
        pthread_cond_wait(&p->done, &p->lock);
    pthread_mutex_unlock(&p->lock);
    pthread_mutex_unlock(&p->submit);
}

/* ---- BLAS width: what the code running on this thread may give a BLAS call ---- */

static _Thread_local ais__pool *ais__bound;
static _Thread_local bool ais__is_bound;

void ais__pool_bind(ais__pool *pool, ais__pool_binding *saved) {
    saved->pool = ais__bound;
    saved->bound = ais__is_bound;
    ais__bound = pool;
    ais__is_bound = true;
}

void ais__pool_unbind(const ais__pool_binding *saved) {
    ais__bound = saved->pool;
    ais__is_bound = saved->bound;
}

int32_t ais__blas_width(void) {
    if (ais__in_worker) return 1; /* one chunk of a job that already fills the threads */
    if (ais__is_bound) return ais__pool_threads(ais__bound);
    return ais_get_num_threads();
}

/* ---- the process-wide setting of ais_set_num_threads() ---- */

static ais__pool ais__default = {.is_default = true};
static pthread_once_t ais__default_once = PTHREAD_ONCE_INIT;

static void ais__default_init(void) {
    atomic_store(&ais__default.threads, ais__cpu_physical_count());
}

ais__pool *ais__default_pool(void) {
    pthread_once(&ais__default_once, ais__default_init);
    return &ais__default;
}

ais_status ais__default_pool_set_threads(int32_t threads) {
    if (threads < 0 || threads > 1024)
        return ais__error(AIS_E_INVALID_ARGUMENT,
                          "ais_set_num_threads: %d is out of range [0, 1024]", threads);
    pthread_once(&ais__default_once, ais__default_init);
    atomic_store(&ais__default.threads, threads == 0 ? ais__cpu_physical_count() : threads);
    return AIS_OK;
}

AIS_API int32_t ais_get_num_threads(void) {
    pthread_once(&ais__default_once, ais__default_init);
    return atomic_load(&ais__default.threads);
}
