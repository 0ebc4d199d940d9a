/*
 * session_monitor.c - where sessions meet lib/monitor: the metric shard a session creates, the
 * option that names a monitor, and the per-session getter.
 */
#include "monitor/monitor.h"
#include "session_internal.h"

AIS_API ais_status ais_options_set_monitor(ais_options *options, ais_monitor *monitor) {
    if (!options)
        return ais__error(AIS_E_INVALID_ARGUMENT, "ais_options_set_monitor: options is NULL");
    options->monitor = monitor;
    return AIS_OK;
}

ais_status ais__session_metrics_create(ais_session *s, const ais_options *options) {
    if (!ais__option(options, AIS_OPT_METRICS)) return AIS_OK;
    const ais_model *m = s->model;
    return ais__metrics_shard_create(options ? options->monitor : NULL,
                                     ais_model_metadata(m, "name"),
                                     ais_model_metadata(m, "model_version"), &s->metrics);
}

AIS_API ais_status ais_session_metric(const ais_session *s, ais_metric metric, uint64_t *value) {
    if (!s || !value)
        return ais__error(AIS_E_INVALID_ARGUMENT, "ais_session_metric: %s is NULL",
                          !s ? "session" : "value");
    if (!s->metrics)
        return ais__error(AIS_E_NOT_FOUND, "ais_session_metric: the session was created with "
                                           "AIS_OPT_METRICS 0");
    return ais__metrics_shard_metric(s->metrics, metric, value);
}
