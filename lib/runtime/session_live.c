/*
 * session_live.c - a session's live drift window (AIS_OPT_DRIFT_WINDOW): which value of a call
 * feeds which feature of the model's reference profile, and the hooks the run paths call.
 *
 * A profile feature is, by name: a pipeline input (the raw value, seen through the pipeline's
 * tap as the pipeline checked it), an output with one value per row (a prediction), a model
 * input with one value per row ("NAME"), or column j of a [rows, K] model input ("NAME[j]").
 * Values are staged during the call and committed only when it succeeds; a failure of the
 * window itself (out of memory) never fails the run, it only loses those rows.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "monitor/monitor.h"
#include "monitor/window.h"
#include "pipeline/pipeline.h"
#include "session_internal.h"
#include "tensor/tensor.h"

typedef struct ais__live_col {
    uint32_t input; /* graph input index */
    int64_t col;    /* -1: the whole input, one value per row */
    uint32_t f;
    bool categorical; /* the feature's kind, read once at creation */
} ais__live_col;

typedef struct ais__live_out {
    uint32_t output; /* graph output index */
    uint32_t f;
    bool categorical;
} ais__live_out;

struct ais__live {
    ais__window *w; /* owned by the session's metric shard */
    int32_t *pl;    /* per pipeline input: its feature, or -1 */
    size_t n_pl;
    ais__live_col *cols;
    size_t n_cols;
    ais__live_out *outs;
    size_t n_outs;
    size_t staged; /* rows the pipeline's tap opened in this call, or SIZE_MAX */
    ais__pl_tap tap;
};

/* "NAME[j]": the input NAME's index and j. */
static bool ais__column_name(const ais__graph *g, const char *name, uint32_t *input, int64_t *col) {
    size_t len = strlen(name);
    if (len < 4 || name[len - 1] != ']') return false;
    const char *open = strrchr(name, '[');
    if (!open || open == name) return false;
    char *end;
    long long j = strtoll(open + 1, &end, 10);
    if (end != name + len - 1 || end == open + 1 || j < 0) return false;
    for (size_t i = 0; i < g->n_inputs; i++) {
        const char *in = g->values[g->inputs[i]].name;
        if (strlen(in) == (size_t)(open - name) && !memcmp(in, name, (size_t)(open - name))) {
            *input = (uint32_t)i;
            *col = j;
            return true;
        }
    }
    return false;
}

static void ais__tap_begin(void *ctx, size_t n_rows) {
    ais__live *l = ctx;
    l->staged = ais__window_stage(l->w, n_rows) == AIS_OK ? n_rows : SIZE_MAX;
}

static void ais__tap_row(void *ctx, size_t row, const ais__pl_value *vals, size_t n) {
    ais__live *l = ctx;
    if (l->staged == SIZE_MAX) return;
    for (size_t k = 0; k < n && k < l->n_pl; k++) {
        int32_t f = l->pl[k];
        if (f < 0) continue;
        if (vals[k].kind == AIS_VALUE_NUMBER)
            ais__window_set_number(l->w, row, (size_t)f, vals[k].num);
        else if (vals[k].kind == AIS_VALUE_STRING &&
                 ais__window_set_string(l->w, row, (size_t)f, vals[k].str) != AIS_OK)
            l->staged = SIZE_MAX; /* out of memory: this call's rows are lost */
    }
}

void ais__session_live_destroy(ais_session *s) {
    ais__live *l = s->live;
    if (!l) return;
    ais__free(l->pl);
    ais__free(l->cols);
    ais__free(l->outs);
    ais__free(l);
    s->live = NULL;
}

static bool ais__feature_categorical(const ais_profile *ref, size_t f) {
    ais_feature_kind kind = AIS_FEATURE_NUMERIC;
    ais_profile_feature_info(ref, f, NULL, &kind, NULL, NULL, NULL, NULL, NULL, NULL);
    return kind == AIS_FEATURE_CATEGORICAL;
}

ais_status ais__session_live_create(ais_session *s, const ais_options *options) {
    const ais_profile *ref = ais_model_profile(s->model);
    int64_t rows = ais__option(options, AIS_OPT_DRIFT_WINDOW);
    if (!ref || !rows || !s->metrics || !ais_profile_feature_count(ref)) return AIS_OK;
    const ais__graph *g = s->model->graph;
    ais__live *l = ais__calloc(1, sizeof *l);
    size_t nf = ais_profile_feature_count(ref);
    if (!l) return ais__oom(sizeof *l, "drift window");
    s->live = l;
    l->staged = SIZE_MAX;
    l->n_pl = g->pipeline ? ais_pipeline_input_count(g->pipeline) : 0;
    l->pl = ais__malloc((l->n_pl ? l->n_pl : 1) * sizeof *l->pl);
    l->cols = ais__malloc(nf * sizeof *l->cols);
    l->outs = ais__malloc(nf * sizeof *l->outs);
    if (!l->pl || !l->cols || !l->outs) {
        ais__session_live_destroy(s);
        return ais__oom(nf * sizeof *l->cols, "drift window");
    }
    for (size_t k = 0; k < l->n_pl; k++)
        l->pl[k] = -1;
    for (size_t f = 0; f < nf; f++) {
        const char *name;
        ais_profile_feature_info(ref, f, &name, NULL, NULL, NULL, NULL, NULL, NULL, NULL);
        bool found = false;
        for (size_t k = 0; k < l->n_pl && !found; k++) {
            const char *in;
            ais_pipeline_input_info(g->pipeline, k, &in, NULL);
            if (strcmp(in, name) == 0) l->pl[k] = (int32_t)f, found = true;
        }
        for (size_t o = 0; o < g->n_outputs && !found; o++)
            if (strcmp(g->values[g->outputs[o]].name, name) == 0) {
                l->outs[l->n_outs++] =
                    (ais__live_out){(uint32_t)o, (uint32_t)f, ais__feature_categorical(ref, f)};
                found = true;
            }
        for (size_t i = 0; i < g->n_inputs && !found; i++)
            if (strcmp(g->values[g->inputs[i]].name, name) == 0) {
                l->cols[l->n_cols++] =
                    (ais__live_col){(uint32_t)i, -1, (uint32_t)f, ais__feature_categorical(ref, f)};
                found = true;
            }
        uint32_t in;
        int64_t col;
        if (!found && ais__column_name(g, name, &in, &col))
            l->cols[l->n_cols++] =
                (ais__live_col){in, col, (uint32_t)f, ais__feature_categorical(ref, f)};
        /* a feature none of these names stays missing: its report says "skipped" */
    }
    ais__window *w = NULL;
    ais_status st = ais__window_create(
        ref, (uint32_t)rows, ais__option(options, AIS_OPT_DRIFT_WINDOW_MODE) == AIS_WINDOW_LAST,
        (uint64_t)ais__option(options, AIS_OPT_DRIFT_WINDOW_SEED), &w);
    if (st == AIS_OK) st = ais__metrics_shard_set_window(s->metrics, w, ref); /* owns w now */
    if (st != AIS_OK) {
        ais__session_live_destroy(s);
        return st;
    }
    l->w = w;
    l->tap = (ais__pl_tap){ais__tap_begin, ais__tap_row, l};
    return AIS_OK;
}

/* Element i of t as a double (false for strings and other non-numbers). */
static bool ais__elem(const ais_tensor *t, size_t i, double *v) {
    const void *p = t->data;
    switch (t->dtype) {
    case AIS_DTYPE_F32: *v = ((const float *)p)[i]; return true;
    case AIS_DTYPE_F64: *v = ((const double *)p)[i]; return true;
    case AIS_DTYPE_I8: *v = ((const int8_t *)p)[i]; return true;
    case AIS_DTYPE_I16: *v = ((const int16_t *)p)[i]; return true;
    case AIS_DTYPE_I32: *v = ((const int32_t *)p)[i]; return true;
    case AIS_DTYPE_I64: *v = (double)((const int64_t *)p)[i]; return true;
    case AIS_DTYPE_U8: *v = ((const uint8_t *)p)[i]; return true;
    case AIS_DTYPE_U16: *v = ((const uint16_t *)p)[i]; return true;
    case AIS_DTYPE_U32: *v = ((const uint32_t *)p)[i]; return true;
    case AIS_DTYPE_U64: *v = (double)((const uint64_t *)p)[i]; return true;
    case AIS_DTYPE_BOOL: *v = ((const uint8_t *)p)[i] != 0; return true;
    default: return false;
    }
}

/* Feature f of rows [0, n) from t: element r * stride + col of each row. */
static void ais__stage_from(ais__window *w, size_t f, const ais_tensor *t, size_t n, size_t stride,
                            size_t col, bool categorical) {
    if (t->dtype == AIS_DTYPE_F32 && !categorical) { /* the common case, in one loop */
        size_t nf;
        double *cells = ais__window_stage_numbers(w, &nf);
        const float *src = (const float *)t->data + col;
        for (size_t r = 0; r < n; r++)
            cells[r * nf + f] = src[r * stride];
        return;
    }
    for (size_t r = 0; r < n; r++) {
        size_t i = r * stride + col;
        double v;
        if (t->dtype == AIS_DTYPE_STRING) {
            if (ais__window_set_string(w, r, f, ais_tensor_string_at(t, i)) != AIS_OK) return;
        } else if (ais__elem(t, i, &v)) {
            if (!categorical)
                ais__window_set_number(w, r, f, v);
            else if (ais__window_set_label(w, r, f, v) != AIS_OK)
                return;
        }
    }
}

/* Rows of t along its first axis that hold one value each (stride 1), or [rows, K] columns. */
static bool ais__rows_of(const ais_tensor *t, size_t n, int64_t col, size_t *stride, size_t *at) {
    if (!t || t->dtype == AIS__DTYPE_SEQUENCE) return false;
    if (t->ndim == 0) return n == 1 && col < 0 && (*stride = 1, *at = 0, true);
    if ((size_t)t->dims[0] != n) return false;
    if (t->ndim == 1) return col < 0 && (*stride = 1, *at = 0, true);
    if (t->ndim != 2) return false;
    size_t k = (size_t)t->dims[1];
    if (col < 0) return k == 1 && (*stride = 1, *at = 0, true);
    if ((size_t)col >= k) return false;
    *stride = k;
    *at = (size_t)col;
    return true;
}

/* The graph output index of outputs[j] (output_names NULL: the graph's order). */
static bool ais__output_slot(const ais__graph *g, const char *const *output_names, size_t j,
                             uint32_t *o) {
    if (!output_names) return j < g->n_outputs && (*o = (uint32_t)j, true);
    for (size_t k = 0; k < g->n_outputs; k++)
        if (output_names[j] && strcmp(g->values[g->outputs[k]].name, output_names[j]) == 0)
            return *o = (uint32_t)k, true;
    return false;
}

void ais__session_live_commit(ais_session *s, const ais_tensor *const *graph_inputs,
                              const char *const *output_names, ais_tensor *const *outputs,
                              size_t n_outputs, bool record_run) {
    ais__live *l = s->live;
    const ais__graph *g = s->model->graph;
    /* rows: the tap's count, else the first input's (as the metrics count rows) */
    size_t n = SIZE_MAX;
    if (record_run && l->staged != SIZE_MAX) {
        n = l->staged;
    } else {
        const ais_tensor *t = NULL;
        for (size_t i = 0; i < g->n_inputs && !t; i++)
            t = graph_inputs ? graph_inputs[i] : NULL;
        for (size_t j = 0; j < n_outputs && !t && record_run; j++)
            t = outputs[j];
        if (!t) return;
        n = t->ndim ? (size_t)t->dims[0] : 1;
        if (ais__window_stage(l->w, n) != AIS_OK) return;
    }
    l->staged = SIZE_MAX;
    for (size_t c = 0; c < l->n_cols && graph_inputs;) {
        const ais__live_col *col = &l->cols[c];
        const ais_tensor *t = graph_inputs[col->input];
        size_t e = c + 1;
        if (t && t->dtype == AIS_DTYPE_F32 && t->ndim == 2 && (size_t)t->dims[0] == n) {
            /* a run of numeric columns of one float [rows, K] input (a tensor model's features
             * profiled column by column): one pass over its rows */
            size_t k = (size_t)t->dims[1];
            e = c;
            while (e < l->n_cols && l->cols[e].input == col->input && l->cols[e].col >= 0 &&
                   (size_t)l->cols[e].col < k && !l->cols[e].categorical)
                e++;
            if (e > c) {
                size_t nf;
                double *cells = ais__window_stage_numbers(l->w, &nf);
                const float *src = t->data;
                for (size_t r = 0; r < n; r++)
                    for (size_t q = c; q < e; q++)
                        cells[r * nf + l->cols[q].f] = src[r * k + (size_t)l->cols[q].col];
                c = e;
                continue;
            }
            e = c + 1;
        }
        size_t stride, at;
        if (ais__rows_of(t, n, col->col, &stride, &at))
            ais__stage_from(l->w, col->f, t, n, stride, at, col->categorical);
        c = e;
    }
    for (size_t j = 0; j < n_outputs; j++) {
        uint32_t o;
        if (!outputs[j] || !ais__output_slot(g, output_names, j, &o)) continue;
        for (size_t k = 0; k < l->n_outs; k++) {
            if (l->outs[k].output != o) continue;
            size_t stride, at;
            if (ais__rows_of(outputs[j], n, -1, &stride, &at))
                ais__stage_from(l->w, l->outs[k].f, outputs[j], n, stride, at,
                                l->outs[k].categorical);
        }
    }
    ais__window_commit(l->w, n);
}

const ais__pl_tap *ais__session_live_tap(ais_session *s) { return s->live ? &s->live->tap : NULL; }

void ais__session_live_abort(ais_session *s) {
    if (s->live) s->live->staged = SIZE_MAX;
}

AIS_API ais_status ais_session_drift(const ais_session *s, ais_drift_report **out) {
    if (!s || !out) {
        if (out) *out = NULL;
        return ais__error(AIS_E_INVALID_ARGUMENT, "ais_session_drift: %s is NULL",
                          !s ? "session" : "out");
    }
    return ais__metrics_shard_drift(s->metrics, out);
}
