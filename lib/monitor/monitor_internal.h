/*
 * monitor_internal.h - the ais_monitor object, shared by the files of lib/monitor.
 */
#ifndef AIS_MONITOR_MONITOR_INTERNAL_H
#define AIS_MONITOR_MONITOR_INTERNAL_H

#include <pthread.h>

#include "monitor.h"

/* Counts of one model's sessions that are gone, plus the live shards to add to them. Groups
 * are only appended (never freed before the monitor), so a reader that counted them under the
 * lock may walk that many after it. */
struct ais__metrics_group {
    char *name, *version;
    uint64_t runs, rows, bytes_in, bytes_out, latency_ns, errors[AIS__N_STATUS];
    uint64_t buckets[AIS_MONITOR_MAX_BUCKETS + 1];
    ais__metrics_shard *shards;
    struct ais__metrics_group *next;
    ais_profile *reference; /* a copy of the first session's reference profile (live.c) */
};

struct ais_monitor {
    atomic_int refs;
    /* Guards the groups and their shard lists (never taken by a run, only by session create
     * and destroy and by readers). */
    pthread_mutex_t lock;
    double bounds[AIS_MONITOR_MAX_BUCKETS]; /* latency bucket upper bounds, seconds */
    size_t n_bounds;
    struct ais__metrics_group *groups; /* one per model name and version, in order of arrival */
    atomic_uint_fast64_t log_dropped;  /* request-log records dropped (reqlog.c) */
    /* Set once, before any session (so runs read it without the lock); NULL: no log. */
    _Atomic(struct ais__reqlog *) reqlog;
};

/* reqlog.c: writes what is queued, stops the thread, closes the file. */
void ais__reqlog_destroy(struct ais__reqlog *l);

/* live.c: the current profile of a group's live windows, their rows merged (caller holds the
 * lock: it keeps the shards and their windows alive); *rows (if asked) the rows it holds.
 * AIS_E_NOT_FOUND when the group has no reference or no window. The drift statistics against
 * g->reference need no lock (the reference, once set, stays until the monitor goes). */
ais_status ais__group_current(const struct ais__metrics_group *g, ais_profile **out,
                              uint64_t *rows);

/* Frees what other files of lib/monitor hung on the monitor. */
static inline void ais__monitor_release_extras(ais_monitor *m) {
    ais__reqlog_destroy(atomic_load_explicit(&m->reqlog, memory_order_acquire));
}

#endif
