/*
 * ais_monitor.h - monitoring inside the library: run metrics per model and session, the
 * Prometheus text exposition of them, and drift statistics.
 *
 *   Metrics. Every session counts its calls (AIS_OPT_METRICS, on by default): runs, rows, errors
 *   by status, a latency histogram, in-flight calls, bytes in and out. A session writes only its
 *   own counters (one writer, no lock, no atomic read-modify-write on the hot path); readers sum
 *   them. An ais_monitor gathers the counters of every session created with it
 *   (ais_options_set_monitor) per model name and version, and writes them in the Prometheus
 *   text format.
 *
 * Threads: an ais_monitor may be shared by any number of sessions on any threads, and read
 * (ais_monitor_metric, ais_monitor_prometheus) from any thread while they run.
 */
#ifndef AISTACK_AIS_MONITOR_H
#define AISTACK_AIS_MONITOR_H

#include "ais_model.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct ais_monitor ais_monitor;

/* A monitor with the default latency buckets (upper bounds in seconds: 0.0001, 0.00025, 0.0005,
 * 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, and +Inf). Reference
 * counted: every session created with it holds a reference. */
AIS_API ais_status ais_monitor_create(ais_monitor **out);
/* Adds a reference. */
AIS_API ais_monitor *ais_monitor_retain(ais_monitor *monitor);
/* Drops a reference; the last one frees it. NULL is a no-op. */
AIS_API void ais_monitor_destroy(ais_monitor *monitor);

/* Most latency buckets a histogram may have (the +Inf bucket not counted). */
#define AIS_MONITOR_MAX_BUCKETS 64

/*
 * Replaces the latency buckets: n upper bounds in seconds, finite, > 0 and strictly increasing,
 * 1 <= n <= AIS_MONITOR_MAX_BUCKETS (the +Inf bucket is always added). Only before the first
 * session is created with the monitor: afterwards AIS_E_BUSY, since a histogram cannot change
 * its buckets under the counts. AIS_E_INVALID_ARGUMENT for bounds that break the rules above.
 */
AIS_API ais_status ais_monitor_set_latency_buckets(ais_monitor *monitor,
                                                   const double *upper_bounds, size_t n);

/*
 * Sessions created with these options report to `monitor` (NULL: to none, the default), which
 * they retain. The options hold a borrowed pointer: the monitor must live until the sessions
 * are created. AIS_OPT_METRICS 0 in the same options wins: such a session counts nothing.
 */
AIS_API ais_status ais_options_set_monitor(ais_options *options, ais_monitor *monitor);

/* What ais_monitor_metric and ais_session_metric read. Values are written out and never
 * renumbered. */
typedef enum ais_metric {
    AIS_METRIC_RUNS = 0,        /* calls that ran (succeeded or failed after starting) */
    AIS_METRIC_ROWS = 1,        /* rows of the calls that succeeded (the extent of the first
                                   input's first axis, 1 for a scalar; a record run's rows) */
    AIS_METRIC_ERRORS = 2,      /* failed calls, any status, AIS_E_BUSY refusals included */
    AIS_METRIC_IN_FLIGHT = 3,   /* calls running now */
    AIS_METRIC_BYTES_IN = 4,    /* bytes of the tensors fed to the model (a record run: the
                                   features the pipeline made) */
    AIS_METRIC_BYTES_OUT = 5,   /* bytes of the output tensors of the calls that succeeded */
    AIS_METRIC_LATENCY_NS = 6,  /* total time inside the calls, in nanoseconds */
    AIS_METRIC_LOG_DROPPED = 7, /* request-log records dropped because its buffer was full */
    AIS_METRIC_WINDOW_ROWS = 8  /* rows in the live drift windows of the sessions alive now
                                   (AIS_OPT_DRIFT_WINDOW) */
} ais_metric;

/*
 * The value of a metric summed over the sessions of the monitor (those destroyed included) whose
 * model's "name" metadata equals model_name, or over all when model_name is NULL.
 * AIS_E_INVALID_ARGUMENT for an unknown metric.
 */
AIS_API ais_status ais_monitor_metric(const ais_monitor *monitor, const char *model_name,
                                      ais_metric metric, uint64_t *value);
/* Errors with one status (AIS_E_SHAPE, ...), summed like ais_monitor_metric. */
AIS_API ais_status ais_monitor_errors(const ais_monitor *monitor, const char *model_name,
                                      ais_status status, uint64_t *value);
/* The value of a metric for one session since it was created. AIS_E_NOT_FOUND when the
 * session was created with AIS_OPT_METRICS 0. Safe while the session runs on another thread. */
AIS_API ais_status ais_session_metric(const ais_session *session, ais_metric metric,
                                      uint64_t *value);

/*
 * Writes the monitor's metrics in the Prometheus text exposition format 0.0.4 into buf: a
 * "# HELP" and a "# TYPE" line per metric family, one sample per model (labels model="name
 * metadata", version="model_version metadata"; "" when the model has none), the latency as a
 * histogram with cumulative _bucket{le="..."} samples, _sum (seconds) and _count. Families:
 * aistack_runs_total, aistack_rows_total, aistack_errors_total (label status="AIS_E_..."; one
 * sample per status seen), aistack_in_flight (gauge), aistack_input_bytes_total,
 * aistack_output_bytes_total, aistack_run_duration_seconds, aistack_log_dropped_total; and for
 * each model with a reference profile and live windows (ais_monitor_drift) the gauges
 * aistack_drift_window_rows, aistack_drift_value, aistack_drift_threshold and
 * aistack_drift_detected (0/1) per feature (labels feature, and method for the first two;
 * skipped features left out), aistack_drift_share and aistack_dataset_drift (0/1). The drift
 * statistics are computed for the call: the windows are copied under the monitor's lock
 * (sessions of the monitor wait to be created or destroyed only for the copies; runs never wait
 * but for the copy of their window), the statistics and the text after it.
 *
 * *written (not NULL) receives the bytes written, or the bytes needed. buf NULL (with size 0)
 * only asks for the size. A buf too small for the text gets nothing useful and
 * AIS_E_LIMIT; *written then says how many bytes (the terminating NUL included) to allocate.
 * On success the text is NUL-terminated and *written excludes the NUL. Counters can grow
 * between a size query and the call: leave some room (a few hundred bytes) over the answer.
 */
AIS_API ais_status ais_monitor_prometheus(const ais_monitor *monitor, char *buf, size_t size,
                                          size_t *written);

/*
 * Request log: one JSON line per sampled call ({"time", "model", "status", "latency_ms",
 * "rows", "inputs": [{"dtype", "shape", "values"}...], "outputs": [...]}; at most 256 values per
 * tensor, then "truncated": true; NaN and infinities as null) appended to `path`, for the
 * sessions created with the monitor. A call is logged with probability sample_rate (0, 1]. The
 * line is formatted on the calling thread into a ring of ring_records entries (0: 4,096) that one
 * background thread writes out, so a run never waits for the disk; when the ring is full the
 * record is dropped and counted (AIS_METRIC_LOG_DROPPED, aistack_log_dropped_total), never lost
 * silently. When the file would grow past max_file_bytes (0: no limit) it is renamed PATH.1
 * (replacing an older PATH.1) and a new one started. Destroying the monitor (its last
 * reference) writes everything queued before it returns. Only before the first session is
 * created with the monitor (AIS_E_BUSY after, or when it has a log already); AIS_E_IO when the
 * file cannot be opened.
 */
AIS_API ais_status ais_monitor_set_request_log(ais_monitor *monitor, const char *path,
                                               double sample_rate, size_t ring_records,
                                               uint64_t max_file_bytes);
/* Waits until every record queued so far is written and flushed to the file. */
AIS_API ais_status ais_monitor_flush(ais_monitor *monitor);

/*
 * ---- drift statistics ----
 *
 * The statistics Evidently (0.4.40) computes for data drift, with its thresholds and its default
 * choice, computed as scipy.stats does (docs/monitoring.md gives every formula). A p-value test
 * drifts when the p-value is below the threshold (at or below for KS), a distance when it is at
 * or above.
 */
typedef enum ais_drift_method {
    AIS_DRIFT_AUTO = 0,          /* Evidently's default choice, below */
    AIS_DRIFT_KS = 1,            /* two-sample Kolmogorov-Smirnov p-value (scipy ks_2samp,
                                    method 'auto': exact up to 10,000 values a side) */
    AIS_DRIFT_CHISQUARE = 2,     /* chi-square p-value of the current counts against the
                                    reference's scaled to the current total */
    AIS_DRIFT_Z = 3,             /* two-proportion Z-test p-value (binary features) */
    AIS_DRIFT_WASSERSTEIN = 4,   /* Wasserstein-1 distance / max(reference std, 0.001) */
    AIS_DRIFT_JENSENSHANNON = 5, /* Jensen-Shannon distance (natural log) of the binned shares */
    AIS_DRIFT_PSI = 6            /* population stability index of the binned shares */
} ais_drift_method;

/* "auto", "ks", "chisquare", "z", "wasserstein", "jensenshannon", "psi"; "unknown" else. */
AIS_API const char *ais_drift_method_name(ais_drift_method method);

/*
 * Drift of a numeric feature: `reference` and `current` are samples (any order); NaN and
 * infinities are left out first, as Evidently does. AIS_DRIFT_AUTO picks: reference of at most
 * 1,000 values -> KS when both samples together have more than 5 distinct values, else
 * chi-square (3 to 5) or Z (1 or 2); larger references -> Wasserstein (more than 5 distinct),
 * else Jensen-Shannon. Jensen-Shannon and PSI bin by value when the reference has at most 20
 * distinct values, else into Sturges bins over both samples. threshold 0 takes the method's
 * default: 0.05 for the p-values (KS, chi-square, Z), 0.1 for the distances.
 *
 * Out-pointers may be NULL: the method used, the statistic, the threshold used, and whether it
 * drifted (0 or 1). Fails with AIS_E_INVALID_ARGUMENT (nothing written) when a side has fewer
 * than 2 finite values, for an unknown method, or a negative or non-finite threshold.
 */
AIS_API ais_status ais_drift_numeric(const double *reference, size_t n_reference,
                                     const double *current, size_t n_current,
                                     ais_drift_method method, double threshold,
                                     ais_drift_method *method_used, double *value,
                                     double *threshold_used, int32_t *drift);
/*
 * Drift of a categorical feature from its category counts (index i is the same category on
 * both sides; a category one side never saw has count 0 there). AIS_DRIFT_AUTO: reference
 * total at most 1,000 -> chi-square (more than 2 categories seen) or Z; larger ->
 * Jensen-Shannon. KS and Wasserstein need values and give AIS_E_INVALID_ARGUMENT. A category
 * the reference never saw makes chi-square's p-value 0 (scipy's infinite statistic); a single
 * category on both sides gives chi-square and Z a p-value of 1 (no drift can be seen). Fails
 * like ais_drift_numeric when a side's counts sum to less than 2.
 */
AIS_API ais_status ais_drift_categorical(const uint64_t *reference_counts,
                                         const uint64_t *current_counts, size_t n_categories,
                                         ais_drift_method method, double threshold,
                                         ais_drift_method *method_used, double *value,
                                         double *threshold_used, int32_t *drift);

/*
 * ---- profiles: what a feature looked like ----
 *
 * A profile describes named features: numeric ones by count, missing count (NaN and
 * infinities), min, max, mean, variance and a reservoir sample of at most sample_size values
 * (Vitter's algorithm R with a seeded generator: the same data in the same order give the same
 * sample); categorical ones by their exact category counts (kept whole while building; the top
 * top_k plus an "other" count once serialized). A reference profile built from training data
 * travels in the model's .ais file (ais_model_profile); a profile of live data is the "current
 * window" a drift report compares it with. Not thread-safe: one thread at a time per profile.
 */
typedef struct ais_profile ais_profile;

/* sample_size 0: 5,000 (at most 2^24); top_k 0: 100. */
AIS_API ais_status ais_profile_create(uint32_t sample_size, uint32_t top_k, uint64_t seed,
                                      ais_profile **out);
AIS_API void ais_profile_destroy(ais_profile *profile);
/* Adds a feature; *index (may be NULL) receives its position. AIS_E_INVALID_ARGUMENT for a name
 * already there or a kind that is not AIS_FEATURE_NUMERIC / AIS_FEATURE_CATEGORICAL. */
AIS_API ais_status ais_profile_add_feature(ais_profile *profile, const char *name,
                                           ais_feature_kind kind, size_t *index);
/* Observes values of a numeric feature (NaN and infinities count as missing) or of a
 * categorical one (NULL counts as missing). AIS_E_DTYPE for the other kind of feature. */
AIS_API ais_status ais_profile_observe_numbers(ais_profile *profile, size_t feature,
                                               const double *values, size_t n);
AIS_API ais_status ais_profile_observe_strings(ais_profile *profile, size_t feature,
                                               const char *const *values, size_t n);
AIS_API size_t ais_profile_feature_count(const ais_profile *profile);
/* A feature's summary; any out-pointer may be NULL. min, max, mean and variance (ddof 0) are
 * NaN for a categorical feature or one without a finite value. The name lives as long as the
 * profile. */
AIS_API ais_status ais_profile_feature_info(const ais_profile *profile, size_t index,
                                            const char **name, ais_feature_kind *kind,
                                            uint64_t *count, uint64_t *missing, double *min,
                                            double *max, double *mean, double *variance);
/* A numeric feature's reservoir sample (slot order): *values stays valid until the next observe
 * on the profile or its destruction. AIS_E_DTYPE for a categorical feature. */
AIS_API ais_status ais_profile_sample(const ais_profile *profile, size_t feature,
                                      const double **values, size_t *n);
/* A categorical feature's listed categories (0 for a numeric feature or a bad index), and one of
 * them: index < count gives its name and count; index == count gives name NULL and the "other"
 * count (categories beyond the top K of a stored profile). Names live until the profile is
 * serialized (which sorts them) or destroyed. */
AIS_API size_t ais_profile_category_count(const ais_profile *profile, size_t feature);
AIS_API ais_status ais_profile_category_at(const ais_profile *profile, size_t feature,
                                           size_t index, const char **name, uint64_t *count);
/* The index of the feature called `name`; AIS_E_NOT_FOUND when there is none. */
AIS_API ais_status ais_profile_find(const ais_profile *profile, const char *name, size_t *index);
/* The method (and threshold, 0: the method's default) drift reports use for this feature of a
 * reference profile. Default AIS_DRIFT_AUTO. Not stored in the bytes. */
AIS_API ais_status ais_profile_set_method(ais_profile *profile, size_t feature,
                                          ais_drift_method method, double threshold);
/* The profile as bytes (the .ais DRIFT section's layout, docs/ais-format.md, with an XXH64
 * trailer). buf NULL asks for the size in *written; too small a buffer gives AIS_E_LIMIT and
 * the size needed. */
AIS_API ais_status ais_profile_serialize(const ais_profile *profile, void *buf, size_t size,
                                         size_t *written);
/* A profile from bytes. Malformed bytes give AIS_E_FORMAT (AIS_E_CHECKSUM when the trailer does
 * not match, AIS_E_UNSUPPORTED for a newer layout) with a message saying what and where. */
AIS_API ais_status ais_profile_deserialize(const void *data, size_t size, ais_profile **out);

/* The reference profile the model carries (a .ais file's DRIFT section), or NULL. Borrowed: it
 * lives as long as the model. ais_model_save and ais_model_save_with_pipeline write it back,
 * so a profile survives `aistack convert` of a .ais file. */
AIS_API const ais_profile *ais_model_profile(const ais_model *model);
/*
 * Writes the model as .ais (with its pipeline, if any) and `profile` as its reference profile
 * (replacing the one it has). Every feature of the profile must name a pipeline input of the
 * same kind, or an input or output of the model: otherwise AIS_E_INVALID_ARGUMENT naming it.
 */
AIS_API ais_status ais_model_save_with_profile(const ais_model *model, const ais_profile *profile,
                                               const char *path, const ais_options *options);

/* ---- drift reports ---- */
typedef struct ais_drift_report ais_drift_report;

/*
 * Compares every feature of `reference` with the feature of the same name in `current`
 * (numeric: the two samples; categorical: the counts, a current category the reference folded
 * into "other" counting as "other", one it never saw as a category with reference count 0),
 * each with its ais_profile_set_method choice. AIS_E_NOT_FOUND when current lacks a feature,
 * AIS_E_DTYPE when a kind differs. A feature with fewer than 2 values on a side is "skipped"
 * (ais_drift_report_feature says why) and left out of the dataset share.
 */
AIS_API ais_status ais_profile_drift(const ais_profile *reference, const ais_profile *current,
                                     ais_drift_report **out);
AIS_API void ais_drift_report_destroy(ais_drift_report *report);
AIS_API size_t ais_drift_report_feature_count(const ais_drift_report *report);
/* Feature `index` in the reference's order. *skipped is NULL when a statistic was computed,
 * else the reason (the other values are then 0). Strings live as long as the report. */
AIS_API ais_status ais_drift_report_feature(const ais_drift_report *report, size_t index,
                                            const char **name, ais_feature_kind *kind,
                                            ais_drift_method *method, double *value,
                                            double *threshold, int32_t *drift,
                                            const char **skipped);
/* Share of the computed features that drift, and Evidently's dataset verdict: share >= 0.5. */
AIS_API ais_status ais_drift_report_dataset(const ais_drift_report *report, int32_t *dataset_drift,
                                            double *drift_share, size_t *n_drifted);
/*
 * Drift of live traffic: the live windows (AIS_OPT_DRIFT_WINDOW) of the sessions alive now that
 * report to `monitor` for model `model_name` (its "name" metadata; NULL: the monitor's only
 * model with a reference), merged, against that model's reference profile: the same statistics
 * as ais_profile_drift (equal to `aistack drift` on the same rows). The windows are copied one
 * at a time (a session's run waits at most for the copy of its own window), the statistics
 * computed after, outside the monitor's lock. AIS_E_NOT_FOUND when no session of that model
 * with a reference profile and a window reports to the monitor; AIS_E_INVALID_ARGUMENT when
 * model_name is NULL and several models qualify. Features with fewer than 2 values in the
 * window are "skipped" (a fresh window, all missing). Any thread.
 */
AIS_API ais_status ais_monitor_drift(const ais_monitor *monitor, const char *model_name,
                                     ais_drift_report **out);
/* The same for one session's own window (also without a monitor). AIS_E_NOT_FOUND when the
 * session keeps no window (no reference profile, AIS_OPT_DRIFT_WINDOW 0 or AIS_OPT_METRICS 0).
 * Safe while the session runs on another thread. */
AIS_API ais_status ais_session_drift(const ais_session *session, ais_drift_report **out);

/* {"dataset_drift": bool, "drift_share": float, "features": {NAME: {"kind": "numeric" |
 * "categorical", "method": "ks" | ..., "value": float, "threshold": float, "drift": bool}}}
 * (skipped features left out), with the buffer contract of ais_monitor_prometheus. */
AIS_API ais_status ais_drift_report_json(const ais_drift_report *report, char *buf, size_t size,
                                         size_t *written);

#ifdef __cplusplus
}
#endif
#endif /* AISTACK_AIS_MONITOR_H */
