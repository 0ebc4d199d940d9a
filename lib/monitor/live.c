/*
 * live.c - drift of live traffic: the windows of a model's sessions (window.c) merged into one
 * current profile and compared with the model's reference, per monitor or per session.
 */
#include <string.h>

#include "monitor.h"
#include "monitor_internal.h"
#include "window.h"

/* The current profile of windows[0, n): their rows merged, sized for every slot, so that no row
 * of a window is sampled away while it grows. *rows (if asked): the rows it holds. */
static ais_status ais__windows_current(const ais_profile *ref, ais__window *const *windows,
                                       size_t n, ais_profile **out, uint64_t *rows) {
    *out = NULL;
    uint64_t cap = 0;
    for (size_t i = 0; i < n; i++)
        cap += ais__window_capacity(windows[i]);
    ais_profile *cur = NULL;
    AIS__CHECK(ais__window_current_profile(ref, cap, &cur));
    ais_status st = AIS_OK;
    for (size_t i = 0; i < n && st == AIS_OK; i++)
        st = ais__window_observe(windows[i], cur);
    if (st != AIS_OK) {
        ais_profile_destroy(cur);
        return st;
    }
    if (rows) {
        uint64_t c = 0;
        if (ais_profile_feature_count(cur))
            ais_profile_feature_info(cur, 0, NULL, NULL, &c, NULL, NULL, NULL, NULL, NULL);
        *rows = c;
    }
    *out = cur;
    return AIS_OK;
}

ais_status ais__group_current(const ais__metrics_group *g, ais_profile **out, uint64_t *rows) {
    *out = NULL;
    size_t n = 0;
    for (const ais__metrics_shard *m = g->shards; m; m = m->next)
        n += m->window != NULL;
    if (!g->reference || !n)
        return ais__error(AIS_E_NOT_FOUND,
                          "model '%s': no session with a reference profile and a drift window "
                          "reports to this monitor",
                          g->name);
    ais__window **ws = ais__malloc(n * sizeof *ws);
    if (!ws) return ais__oom(n * sizeof *ws, "drift windows");
    size_t k = 0;
    for (const ais__metrics_shard *m = g->shards; m; m = m->next)
        if (m->window) ws[k++] = m->window;
    ais_status st = ais__windows_current(g->reference, ws, n, out, rows);
    ais__free(ws);
    return st;
}

static bool ais__group_live(const ais__metrics_group *g) {
    if (!g->reference) return false;
    for (const ais__metrics_shard *m = g->shards; m; m = m->next)
        if (m->window) return true;
    return false;
}

AIS_API ais_status ais_monitor_drift(const ais_monitor *mon, const char *model_name,
                                     ais_drift_report **out) {
    if (!out) return ais__error(AIS_E_INVALID_ARGUMENT, "ais_monitor_drift: out is NULL");
    *out = NULL;
    if (!mon) return ais__error(AIS_E_INVALID_ARGUMENT, "ais_monitor_drift: monitor is NULL");
    ais_monitor *m = (ais_monitor *)mon; /* the lock is the only thing written */
    pthread_mutex_lock(&m->lock);
    const ais__metrics_group *pick = NULL;
    size_t n = 0;
    for (const ais__metrics_group *g = m->groups; g; g = g->next) {
        if (model_name && strcmp(g->name, model_name) != 0) continue;
        if (!ais__group_live(g)) continue;
        if (!pick) pick = g;
        n++;
    }
    ais_status st = AIS_OK;
    if (!pick)
        st = ais__error(AIS_E_NOT_FOUND,
                        "ais_monitor_drift: no session %s%s%swith a reference profile and a "
                        "drift window (AIS_OPT_DRIFT_WINDOW) reports to this monitor",
                        model_name ? "of model '" : "", model_name ? model_name : "",
                        model_name ? "' " : "");
    else if (!model_name && n > 1)
        st = ais__error(AIS_E_INVALID_ARGUMENT,
                        "ais_monitor_drift: %zu models report live windows to this monitor: "
                        "name one ('%s', ...)",
                        n, pick->name);
    ais_profile *cur = NULL;
    if (st == AIS_OK) st = ais__group_current(pick, &cur, NULL);
    pthread_mutex_unlock(&m->lock);
    /* The statistics outside the lock: they may take milliseconds, and the lock is what
     * session create and destroy wait for. The group's reference, once set, stays until the
     * monitor goes, which the caller holds. */
    if (st == AIS_OK) st = ais_profile_drift(pick->reference, cur, out);
    ais_profile_destroy(cur);
    return st;
}

ais_status ais__metrics_shard_drift(const ais__metrics_shard *m, ais_drift_report **out) {
    *out = NULL;
    if (!m || !m->window)
        return ais__error(AIS_E_NOT_FOUND,
                          "ais_session_drift: the session keeps no drift window (its model has "
                          "no reference profile, or AIS_OPT_DRIFT_WINDOW or AIS_OPT_METRICS is "
                          "0)");
    ais__window *w = m->window;
    ais_profile *cur = NULL;
    AIS__CHECK(ais__windows_current(m->reference, &w, 1, &cur, NULL));
    ais_status st = ais_profile_drift(m->reference, cur, out);
    ais_profile_destroy(cur);
    return st;
}
