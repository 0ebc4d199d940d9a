/*
 * window.h - a session's live window of what it saw (window.c): the raw values of the features
 * of its model's reference profile (pipeline inputs, model input columns, predictions) for the
 * last N rows or a seeded reservoir of N, which drift reports compare with the reference.
 *
 * Threads. Only the session's thread writes its window, and without a lock: a write section is
 * one seq_cst store and one load of two flags (Dekker's handshake with the reader). A reader
 * (a drift report, the Prometheus text) raises its flag, waits for a write section in progress
 * to end, copies the cells and lowers it; a writer that finds the flag up waits for that copy,
 * never longer. Readers of a monitor hold its lock, so the shard (and window) cannot be freed
 * under them.
 *
 * Writing a call's rows: ais__window_stage(n) opens n staged rows, every cell missing; the run
 * fills what it knows (ais__window_set_*), and on success ais__window_commit(n) puts the rows
 * in (slot choice, unseen categories interned, the write section); a failed call just does not
 * commit. Categorical values are codes: a reference category's index, or an interned string.
 */
#ifndef AIS_MONITOR_WINDOW_H
#define AIS_MONITOR_WINDOW_H

#include <aistack/ais_monitor.h>
#include <stdatomic.h>

#include "common/common.h"

typedef struct ais__window ais__window;

/* Most distinct categories a window keeps that its reference does not list (per window); later
 * new ones share one name, AIS__WINDOW_OVERFLOW. */
#define AIS__WINDOW_MAX_UNSEEN 4096
#define AIS__WINDOW_OVERFLOW "(more categories than the window keeps)"

/* A window for the features of `reference` (borrowed: it must outlive the window; a session's
 * model holds it), `rows` slots (>= 1), reservoir (last false, seeded) or the last rows. */
ais_status ais__window_create(const ais_profile *reference, uint32_t rows, bool last, uint64_t seed,
                              ais__window **out);
void ais__window_destroy(ais__window *w);

/* Opens n staged rows with every cell missing (reuses the staging memory). */
ais_status ais__window_stage(ais__window *w, size_t n);
/* Cell (row, feature) of the staged rows; feature is the reference's index. A number for a
 * categorical feature, or a string for a numeric one, is ignored (the cell stays missing);
 * NaN and infinities are kept (the profile counts them missing, as the offline path does).
 * ais__window_set_string copies what it must keep. */
void ais__window_set_number(ais__window *w, size_t row, size_t feature, double v);
ais_status ais__window_set_string(ais__window *w, size_t row, size_t feature, const char *s);
/* The staged rows' cells as numbers, for the writer's fast fills of numeric features: cell
 * (row, feature) is [row * *stride + feature], *stride the feature count; valid for the rows
 * staged, until the commit. Only numeric features' cells may be written through it. */
double *ais__window_stage_numbers(ais__window *w, size_t *stride);
/* A categorical cell from a number: its "%.17g" text, as `aistack drift` writes class labels. */
ais_status ais__window_set_label(ais__window *w, size_t row, size_t feature, double v);
/* Puts the n staged rows into the window. */
ais_status ais__window_commit(ais__window *w, size_t n);

size_t ais__window_feature_count(const ais__window *w);
/* Rows in the window now (written under the same protocol; any thread), and at most. */
uint64_t ais__window_rows(ais__window *w);
uint32_t ais__window_capacity(const ais__window *w);

/* Reader: observes the window's rows into `current` (features added by the caller, in the
 * reference's order). Any thread, while the window lives (the monitor's lock keeps a shard's;
 * a session's caller keeps its own). */
ais_status ais__window_observe(ais__window *w, ais_profile *current);

/* An empty profile with the reference's features (names and kinds, in order), sized for
 * `rows` values per feature: a current side for ais__window_observe. */
ais_status ais__window_current_profile(const ais_profile *reference, uint64_t rows,
                                       ais_profile **out);

#endif
