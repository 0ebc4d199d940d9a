/*
 * record_run.c - runs that start from records, JSON lines, CSV or columns: the model's feature
 * pipeline makes the input tensor, then the session runs the model on it.
 */
#include "monitor/monitor.h"
#include "pipeline/pipeline.h"
#include "session_internal.h"

typedef enum { AIS__SRC_RECORDS, AIS__SRC_JSONL, AIS__SRC_CSV, AIS__SRC_COLUMNS } ais__source;

typedef struct {
    const char *const *names;
    const ais_tensor *const *columns;
} ais__columns_src;

static ais_status ais__run_text_source(ais_session *s, const char *who, ais__source src,
                                       const void *data, const size_t *n_fields, size_t n,
                                       const char *const *output_names, ais_tensor **outputs,
                                       size_t n_outputs, ais_pipeline_errors **errors);
static ais_status ais__run_source_claimed(ais_session *s, const char *who, ais__source src,
                                          const void *data, const size_t *n_fields, size_t n,
                                          const char *const *output_names, ais_tensor **outputs,
                                          size_t n_outputs, ais_pipeline_errors **errors);

static ais_status ais__run_source(ais_session *s, const char *who, ais__source src,
                                  const void *data, const size_t *n_fields, size_t n,
                                  const char *const *output_names, ais_tensor **outputs,
                                  size_t n_outputs, ais_pipeline_errors **errors) {
    if (errors) *errors = NULL;
    if (!s) return ais__error(AIS_E_INVALID_ARGUMENT, "%s: session is NULL", who);
    /* s->features is session state too: claimed before the pipeline writes into it */
    uint64_t t0 = ais__metrics_clock(s->metrics); /* before the flag: monitor.h says why */
    AIS__CHECK(ais__session_enter(s, who));
    ais__metrics_begin(s->metrics);
    const ais_tensor *before = s->features;
    if (s->live) ais__pipeline_set_tap(ais__session_live_tap(s));
    ais_status st = ais__run_source_claimed(s, who, src, data, n_fields, n, output_names, outputs,
                                            n_outputs, errors);
    if (s->live) {
        ais__pipeline_set_tap(NULL);
        /* the features tensor is the model's one input, except for text pipelines */
        const ais_tensor *feats = s->features;
        bool text = ais__pipeline_tokenizer(s->model->graph->pipeline) != NULL;
        if (st == AIS_OK)
            ais__session_live_commit(s, text || !feats ? NULL : &feats, output_names, outputs,
                                     n_outputs, true);
        else
            ais__session_live_abort(s);
    }
    if (s->metrics) {
        /* the features the pipeline made are the model's input; a failed pipeline made none */
        const ais_tensor *in = st == AIS_OK || s->features != before ? s->features : NULL;
        ais__metrics_end_run(s->metrics, t0, st, &in, in ? 1 : 0, outputs, n_outputs);
    }
    ais__session_leave(s);
    return st;
}

static ais_status ais__run_source_claimed(ais_session *s, const char *who, ais__source src,
                                          const void *data, const size_t *n_fields, size_t n,
                                          const char *const *output_names, ais_tensor **outputs,
                                          size_t n_outputs, ais_pipeline_errors **errors) {
    const ais__graph *g = s->model->graph;
    const ais_pipeline *p = g->pipeline;
    if (!p) return ais__error(AIS_E_INVALID_ARGUMENT, "%s: the model has no feature pipeline", who);
    if (ais__pipeline_tokenizer(p))
        return ais__run_text_source(s, who, src, data, n_fields, n, output_names, outputs,
                                    n_outputs, errors);
    /* The features go into the last call's tensor when the row count repeats: a steady stream
     * of same-sized batches allocates nothing here (the plan is reused too). */
    ais_tensor *t = s->features;
    /* f32 or f64, checked when the pipeline was attached (ais__pipeline_target) */
    ais_dtype dt = g->values[g->inputs[0]].dtype;
    ais_status st;
    switch (src) {
    case AIS__SRC_RECORDS:
        st = ais__pipeline_records_into(p, data, n_fields, n, dt, s->extra, &t, errors);
        break;
    case AIS__SRC_JSONL: st = ais__pipeline_jsonl_into(p, data, n, dt, s->extra, &t, errors); break;
    case AIS__SRC_COLUMNS: {
        const ais__columns_src *c = data;
        st = ais__pipeline_columns_into(p, who, c->names, c->columns, n, dt, s->extra, &t, errors);
        break;
    }
    default: st = ais__pipeline_csv_into(p, data, n, dt, s->extra, &t, errors); break;
    }
    if (st != AIS_OK) return st; /* s->features, if any, is untouched and still ours */
    if (t != s->features) {
        ais_tensor_destroy(s->features);
        s->features = t;
    }
    const char *name = g->values[g->inputs[0]].name;
    const ais_tensor *in = t;
    const ais__value *v = &g->values[g->inputs[0]];
    int64_t batch = v->ndim >= 1 ? v->dims[0] : AIS__DIM_DYNAMIC;
    if (batch > 0 && ais_tensor_ndim(t) >= 1 && ais_tensor_shape(t)[0] != batch &&
        ais_tensor_shape(t)[0] > 0)
        return ais__run_in_chunks(s, who, name, t, batch, output_names, outputs, n_outputs);
    st = ais__session_run(s, &name, &in, 1, output_names, outputs, n_outputs);
    if (st != AIS_OK) ais__error_prefix("%s", who);
    return st;
}

/* A text pipeline gives the token tensors (padded to the longest row of this batch, so their
 * shape changes from call to call: they are new each call, not kept as s->features is). */
static ais_status ais__run_text_source(ais_session *s, const char *who, ais__source src,
                                       const void *data, const size_t *n_fields, size_t n,
                                       const char *const *output_names, ais_tensor **outputs,
                                       size_t n_outputs, ais_pipeline_errors **errors) {
    const ais_pipeline *p = s->model->graph->pipeline;
    ais_tensor *tok[AIS__PL_TEXT_N] = {NULL};
    ais_status st;
    switch (src) {
    case AIS__SRC_RECORDS:
        st = ais__pipeline_records_into(p, data, n_fields, n, AIS_DTYPE_I64, s->extra, tok, errors);
        break;
    case AIS__SRC_JSONL:
        st = ais__pipeline_jsonl_into(p, data, n, AIS_DTYPE_I64, s->extra, tok, errors);
        break;
    case AIS__SRC_COLUMNS: {
        const ais__columns_src *c = data;
        st = ais__pipeline_columns_into(p, who, c->names, c->columns, n, AIS_DTYPE_I64, s->extra,
                                        tok, errors);
        break;
    }
    default: st = ais__pipeline_csv_into(p, data, n, AIS_DTYPE_I64, s->extra, tok, errors); break;
    }
    const char *names[AIS__PL_TEXT_N];
    const ais_tensor *ins[AIS__PL_TEXT_N];
    size_t n_in = 0;
    for (int k = 0; k < AIS__PL_TEXT_N && st == AIS_OK; k++) {
        const char *t = ais__pipeline_text_target(p, k);
        if (!t) continue;
        names[n_in] = t;
        ins[n_in++] = tok[k];
    }
    if (st == AIS_OK) {
        st = ais__session_run(s, names, ins, n_in, output_names, outputs, n_outputs);
        if (st != AIS_OK) ais__error_prefix("%s", who);
    }
    for (int k = 0; k < AIS__PL_TEXT_N; k++)
        ais_tensor_destroy(tok[k]);
    return st;
}

AIS_API ais_status ais_session_run_records(ais_session *s, const ais_field *const *rows,
                                           const size_t *n_fields, size_t n_rows,
                                           const char *const *output_names, ais_tensor **outputs,
                                           size_t n_outputs, ais_pipeline_errors **errors) {
    if (n_rows && (!rows || !n_fields)) {
        if (errors) *errors = NULL;
        return ais__error(AIS_E_INVALID_ARGUMENT,
                          "ais_session_run_records: %zu rows but rows or n_fields is NULL", n_rows);
    }
    return ais__run_source(s, "ais_session_run_records", AIS__SRC_RECORDS, rows, n_fields, n_rows,
                           output_names, outputs, n_outputs, errors);
}

AIS_API ais_status ais_session_run_json_rows(ais_session *s, const char *jsonl, size_t len,
                                             const char *const *output_names,
                                             ais_tensor **outputs, size_t n_outputs,
                                             ais_pipeline_errors **errors) {
    return ais__run_source(s, "ais_session_run_json_rows", AIS__SRC_JSONL, jsonl, NULL, len,
                           output_names, outputs, n_outputs, errors);
}

AIS_API ais_status ais_session_run_csv(ais_session *s, const char *csv, size_t len,
                                       const char *const *output_names, ais_tensor **outputs,
                                       size_t n_outputs, ais_pipeline_errors **errors) {
    return ais__run_source(s, "ais_session_run_csv", AIS__SRC_CSV, csv, NULL, len, output_names,
                           outputs, n_outputs, errors);
}

AIS_API ais_status ais_session_run_columns(ais_session *s, const char *const *names,
                                           const ais_tensor *const *columns, size_t n_columns,
                                           const char *const *output_names, ais_tensor **outputs,
                                           size_t n_outputs, ais_pipeline_errors **errors) {
    ais__columns_src c = {names, columns};
    return ais__run_source(s, "ais_session_run_columns", AIS__SRC_COLUMNS, &c, NULL, n_columns,
                           output_names, outputs, n_outputs, errors);
}
