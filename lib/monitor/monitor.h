/*
 * monitor.h - what the runtime shares with lib/monitor: a session's metric shard (metrics.c) and
 * the two hooks a run calls around itself.
 *
 * One shard per session, written only by the thread running that session (the session's busy
 * flag makes sure of it), so the hot path is plain relaxed loads and stores of atomics: no lock,
 * no read-modify-write, no cache line shared with another session. Readers (Prometheus, the
 * getters) sum the shards of a monitor under its lock; the lock is never taken by a run.
 * A refused call (AIS_E_BUSY) comes from a second thread: it counts with an atomic add into
 * `refused`, the one field two threads may write.
 */
#ifndef AIS_MONITOR_MONITOR_H
#define AIS_MONITOR_MONITOR_H

#include <aistack/ais_monitor.h>
#include <stdatomic.h>
#include <time.h>

#include "common/common.h"
#include "tensor/tensor.h"

#define AIS__N_STATUS 32 /* error counters per status; larger codes count in the last */

typedef struct ais__metrics_group ais__metrics_group;
typedef struct ais__reqlog ais__reqlog;

/* Laid out for the run path: a successful call of a fast model (within the first latency
 * bound) reads and writes the first cache line and nothing else; `refused`, written by other
 * threads, sits apart. A call stores five counters and one bucket: the number of calls
 * finished is the sum of the buckets, and the number in flight is `started` less that sum
 * (readers do the sums; ais__shard_bucket reads bucket i). */
typedef struct ais__metrics_shard {
    _Alignas(64) atomic_uint_fast64_t started;                     /* calls begun */
    atomic_uint_fast64_t rows, bytes_in, bytes_out, latency_ticks; /* ais__ticks */
    atomic_uint_fast64_t first; /* bucket 0's count (buckets[0] is unused) */
    uint64_t first_bound;       /* bounds_ticks[0] */
    ais__reqlog *reqlog; /* the monitor's request log (fixed before its first shard), or NULL */
    size_t n_bounds;
    ais_monitor *monitor;                           /* NULL: the session's own counters only */
    uint64_t bounds_ticks[AIS_MONITOR_MAX_BUCKETS]; /* the buckets' bounds in ais__ticks */
    /* per bucket, not cumulative; each call's last store (release) */
    atomic_uint_fast64_t buckets[AIS_MONITOR_MAX_BUCKETS + 1];
    atomic_uint_fast64_t errors[AIS__N_STATUS];
    _Alignas(64) atomic_uint_fast64_t refused; /* AIS_E_BUSY, from other threads */
    ais__metrics_group *group;                 /* its model's series in the monitor */
    struct ais__window *window;   /* the live drift window (window.h), or NULL; owned */
    const ais_profile *reference; /* the session's model's reference profile, with window */
    struct ais__metrics_shard *next, *prev;
} ais__metrics_shard;

/* Bucket i's count (i <= n_bounds). */
static inline uint64_t ais__shard_bucket(const ais__metrics_shard *m, size_t i,
                                         memory_order order) {
    return (uint64_t)atomic_load_explicit(i ? &m->buckets[i] : &m->first, order);
}

/* A shard for a session on a model called name / version (NULL: ""), registered with monitor
 * (may be NULL). NULL and an error set on failure. */
ais_status ais__metrics_shard_create(ais_monitor *monitor, const char *name, const char *version,
                                     ais__metrics_shard **out);
/* Hands the shard its live window `w` (owned from here, also on failure) for the model's
 * reference profile (borrowed: the session's model holds it); the monitor's series for this
 * model keeps a copy of the first reference it sees, so its drift reports outlive sessions. */
ais_status ais__metrics_shard_set_window(ais__metrics_shard *m, struct ais__window *w,
                                         const ais_profile *reference);
/* Folds the shard's counts into its monitor (so totals never go down) and frees it. */
void ais__metrics_shard_destroy(ais__metrics_shard *m);

static inline void ais__metric_add(atomic_uint_fast64_t *c, uint64_t v) {
    atomic_store_explicit(c, atomic_load_explicit(c, memory_order_relaxed) + v,
                          memory_order_relaxed);
}

/* A call's start time in ais__ticks (0 without a shard), read BEFORE the session's busy flag
 * is taken. Why: the flag's exchange is a locked instruction, and a TSC read issued after it
 * waits for it: on this project's VM that cost 12-14 ns a call on top of the read itself
 * (bench_monitor, 40 -> 26 ns of metrics a digits-MLP call; the same in a micro-benchmark),
 * while a read issued before it overlaps with it. The shard's pointer is fixed for the
 * session's life, so reading it before the flag is safe. */
static inline uint64_t ais__metrics_clock(const ais__metrics_shard *m) {
    return m ? ais__ticks() : 0;
}

/* Once the session is claimed (the shard has one writer from here): counts the call begun. */
static inline void ais__metrics_begin(ais__metrics_shard *m) {
    if (m) ais__metric_add(&m->started, 1);
}

/* A sampled call into the request log (reqlog.c). */
void ais__reqlog_record(ais__reqlog *l, const char *model, ais_status st, uint64_t latency_ns,
                        uint64_t rows, const ais_tensor *const *in, size_t n_in,
                        ais_tensor *const *out, size_t n_out);
/* The failed call's count and the request log's record (metrics.c), off the fast path. */
void ais__metrics_error(ais__metrics_shard *m, ais_status st);
/* The bucket of a call longer than the first bound (the count's release store, as above). */
void ais__metrics_slow_bucket(ais__metrics_shard *m, uint64_t dt);
void ais__metrics_log(ais__metrics_shard *m, uint64_t dt, ais_status st, uint64_t rows,
                      const ais_tensor *const *inputs, size_t n_inputs, ais_tensor *const *outputs,
                      size_t n_outputs);

/* After ais_session_run (t0 from ais__metrics_clock): its status, and rows and bytes from its
 * tensors (outputs NULL on failure are skipped). Inline: a run of a small model takes about a
 * microsecond, and the call, its spills and a load of the monitor's line were a third of what
 * the metrics cost it. */
static inline void ais__metrics_end_run(ais__metrics_shard *m, uint64_t t0, ais_status st,
                                        const ais_tensor *const *inputs, size_t n_inputs,
                                        ais_tensor *const *outputs, size_t n_outputs) {
    uint64_t dt = ais__ticks() - t0, rows = 0, in = 0, out = 0;
    /* the rows are the first input's: picked in the loop without a branch, read after it */
    const ais_tensor *first = NULL;
    if (inputs)
        for (size_t i = 0; i < n_inputs; i++) {
            const ais_tensor *t = inputs[i];
            if (!t) continue;
            in += t->nbytes;
            if (!first) first = t;
        }
    if (first) rows = first->ndim ? (uint64_t)first->dims[0] : 1;
    ais__metric_add(&m->latency_ticks, dt);
    ais__metric_add(&m->bytes_in, in);
    if (AIS__LIKELY(st == AIS_OK)) {
        if (outputs)
            for (size_t j = 0; j < n_outputs; j++)
                if (outputs[j]) out += outputs[j]->nbytes;
        ais__metric_add(&m->rows, rows);
        ais__metric_add(&m->bytes_out, out);
    } else {
        ais__metrics_error(m, st);
    }
    /* last, so a reader that sees the call finished also sees its counts; le: a bound is
     * inclusive */
    if (AIS__LIKELY(dt <= m->first_bound))
        atomic_store_explicit(&m->first, atomic_load_explicit(&m->first, memory_order_relaxed) + 1,
                              memory_order_release);
    else
        ais__metrics_slow_bucket(m, dt);
    if (AIS__UNLIKELY(m->reqlog != NULL))
        ais__metrics_log(m, dt, st, rows, inputs, n_inputs, outputs, n_outputs);
}

/* ais_session_metric's reading of one shard. */
ais_status ais__metrics_shard_metric(const ais__metrics_shard *m, ais_metric metric,
                                     uint64_t *value);
/* ais_session_drift of the session whose shard this is (live.c). */
ais_status ais__metrics_shard_drift(const ais__metrics_shard *m, ais_drift_report **out);
/* A call refused with AIS_E_BUSY (another thread). */
void ais__metrics_refused(ais__metrics_shard *m);

#endif
