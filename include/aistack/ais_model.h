/*
 * ais_model.h - load a model, open sessions on it, run them.
 *
 *   ais_model    immutable once loaded: graph, weights (memory-mapped where the format allows),
 *                metadata. Shared freely between threads; reference-counted (ais_model_retain /
 *                ais_model_destroy), and every session holds a reference.
 *   ais_session  the mutable state to run one model: backend, memory plan, scratch. One thread
 *                at a time; open one session per thread. Sessions share the model's weights.
 *   ais_options  typed key/value settings for loading and for sessions; a builder, not shared.
 *
 * Formats are recognized by content: ONNX (.onnx), native (.ais), XGBoost JSON, LightGBM text.
 */
#ifndef AISTACK_AIS_MODEL_H
#define AISTACK_AIS_MODEL_H

#include "ais_pipeline.h"
#include "ais_tensor.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- options ---- */

typedef enum ais_backend {
    AIS_BACKEND_CPU = 0,
    AIS_BACKEND_CUDA = 1
} ais_backend;

/* Option keys. Values are written out and never renumbered. */
typedef enum ais_option {
    AIS_OPT_THREADS = 1,         /* intra-op threads of a session, the caller included; 0 (the
                                    default) = the process-wide count of ais_set_num_threads(),
                                    whose default is the physical cores */
    AIS_OPT_OPT_LEVEL = 2,       /* graph optimization: 0 none, 1 folding and dead code,
                                    2 also fusion. Default 2 */
    AIS_OPT_BACKEND = 3,         /* an ais_backend. Default AIS_BACKEND_CPU */
    AIS_OPT_DEVICE_ID = 4,       /* GPU ordinal for AIS_BACKEND_CUDA. Default 0 */
    AIS_OPT_MAX_FILE_BYTES = 5,  /* loading refuses larger files. Default 2^40 */
    AIS_OPT_MAP_WEIGHTS = 6,     /* 1: memory-map the file and use weights in place (default);
                                    0: read into memory owned by the model */
    AIS_OPT_SAVE_COMPRESSION = 7, /* ais_model_save: 0 raw and mmappable, 1..22 zstd level per
                                    tensor. Default 0 */
    /* Loading .ais files: 1 verifies every checksum, tensor data included (default). 0 still
     * verifies the header, section table, metadata, graph and tensor table, so the structure
     * the loader trusts is always checked, but not the weights' bytes: loading a raw file then
     * reads none of them (faster, and pages come in as inference first touches them), and a
     * flipped bit in a weight gives wrong outputs instead of AIS_E_CHECKSUM. Compressed weights
     * stay memory-safe to decode either way. For files whose integrity is checked elsewhere
     * (a signed package, a file system with checksums). ONNX has no checksums to verify. */
    AIS_OPT_VERIFY_CHECKSUMS = 8,
    /* Sessions: the largest single tensor a plan may hold, in bytes (an intermediate or output
     * whose shape is known when planning, or one a node computes at run time). A larger one
     * fails the run with AIS_E_LIMIT naming the node, the shape and the size, before anything
     * of that size is allocated. Default 2^30 (1 GiB); raise it for models that need more. */
    AIS_OPT_MAX_TENSOR_BYTES = 9,
    /* Loading and planning: constant folding computes a node ahead of time only when each of
     * its outputs is at most this many bytes; a larger constant (ConstantOfShape of a huge
     * shape, a big Expand or Tile of constants) is left to run time, where it costs memory
     * only while the run needs it, and AIS_OPT_MAX_TENSOR_BYTES bounds it. Default 2^26
     * (64 MiB). */
    AIS_OPT_MAX_FOLD_BYTES = 10,
    /* Sessions: an ais_extra_fields value, what ais_session_run_records/json_rows/csv/columns do
     * with fields that name no pipeline input. Default AIS_EXTRA_FIELDS_ERROR */
    AIS_OPT_EXTRA_FIELDS = 11,
    /* Sessions: 1 times every node of every run, for ais_session_profile and
     * ais_session_profile_node (the `aistack bench --profile` tool reads them); 0 (the default)
     * does not, and then costs one predictable branch per node. The clock is read twice per node
     * (about 20-50 ns each): models of thousands of microsecond-sized nodes run measurably
     * slower with it. */
    AIS_OPT_PROFILE = 12,
    /* 13-15 are left to other options. */
    /* Sessions: 1 (the default) counts runs, rows, errors, latency and bytes per session
     * (ais_session_metric, and an ais_monitor's totals: ais_monitor.h); 0 counts nothing. The
     * counting costs two reads of the time-stamp counter (CLOCK_MONOTONIC on CPUs without an
     * invariant one) and a few stores per call. */
    AIS_OPT_METRICS = 16,
    /* 17-23 are left to other options. ais_text_convert (ais_text.h): */
    AIS_OPT_TEXT_MAX_LENGTH = 24, /* tokens per row, special tokens included, 1..2^20; 0 (the
                                     default): the tokenizer file's truncation max_length */
    AIS_OPT_TEXT_POOLING = 25,    /* an ais_text_pooling. Default AIS_TEXT_POOLING_MEAN */
    AIS_OPT_TEXT_NORMALIZE = 26,  /* 1: L2-normalize each sentence embedding. Default 0 */
    /* 27 and 31 are left to other options.
     * Sessions of a model that carries a reference profile (a .ais DRIFT section,
     * ais_model_profile) keep a live window of what they see, per profile feature: pipeline
     * inputs (raw values), model input columns ("NAME", or "NAME[j]" for
     * column j of a [rows, K] input) and one-value-per-row outputs (predictions); drift reports
     * compare it with the reference (ais_monitor_drift, ais_session_drift). Filled by
     * ais_session_run and every record run (ais_session_run_records, _json_rows, _csv,
     * _columns; text and image pipelines give their predictions) of the calls that succeed.
     * The window lives with the session's metrics: AIS_OPT_METRICS 0 turns it off too. */
    AIS_OPT_DRIFT_WINDOW = 28,      /* rows per session, 0..2^20; 0 turns the window off.
                                       Default 1000 (see docs/monitoring.md for its cost) */
    AIS_OPT_DRIFT_WINDOW_MODE = 29, /* an ais_window_mode. Default AIS_WINDOW_RESERVOIR */
    AIS_OPT_DRIFT_WINDOW_SEED = 30, /* the reservoir's seed (same rows, same seed: same window).
                                       Default 0 */
    /* Models: 1 (the default) runs the DequantizeLinear -> Conv/MatMul/Gemm/Add/... ->
     * QuantizeLinear groups of QDQ models (ONNX Runtime's quantize_static, QuantFormat.QDQ) as
     * integer operators (QLinearConv, QLinearMatMul, ...) at AIS_OPT_OPT_LEVEL 2, so activations
     * stay 8-bit between layers; outputs may differ from the float path by one quantization
     * step where a value lies on a rounding boundary. 0 runs the groups as written (dequantize,
     * float operator, quantize). Not for models loaded for the CUDA backend. */
    AIS_OPT_QDQ_FUSION = 32
} ais_option;

/* AIS_OPT_DRIFT_WINDOW_MODE: which rows a full window keeps. */
typedef enum ais_window_mode {
    AIS_WINDOW_RESERVOIR = 0, /* a uniform sample of every row seen (Vitter's algorithm R) */
    AIS_WINDOW_LAST = 1       /* the last N rows */
} ais_window_mode;

typedef struct ais_options ais_options;

AIS_API ais_status ais_options_create(ais_options **out);
AIS_API void ais_options_destroy(ais_options *options);
/* Sets one option; AIS_E_INVALID_ARGUMENT for an unknown key or a value out of its bounds. */
AIS_API ais_status ais_options_set_int(ais_options *options, ais_option key, int64_t value);
/* The value (the default when unset). */
AIS_API ais_status ais_options_get_int(const ais_options *options, ais_option key,
                                       int64_t *value);
/* The valid range of an option's values, inclusive. */
AIS_API ais_status ais_option_bounds(ais_option key, int64_t *min_value, int64_t *max_value);

/*
 * Progress of a long call, for tools that show it: `done` of `total` steps finished, `item`
 * naming the last one (valid during the call only). ais_model_save and
 * ais_model_save_with_pipeline call it once per tensor written, after it was encoded
 * (compression at a high level takes minutes on large models), from the calling thread. It must
 * not call back into the library on the same model.
 */
typedef void (*ais_progress_fn)(void *user_data, uint64_t done, uint64_t total, const char *item);
/* Sets the progress callback the calls given these options report to (fn NULL: none, the
 * default). user_data is passed through untouched. */
AIS_API ais_status ais_options_set_progress(ais_options *options, ais_progress_fn fn,
                                            void *user_data);

/* ---- models ---- */

typedef struct ais_model ais_model;

/*
 * Loads a model from a file. options may be NULL. The format (ONNX, .ais, XGBoost JSON, LightGBM
 * text) is recognized by content, never by the file's name. The path must name a regular file
 * (a FIFO, directory or device is refused with AIS_E_IO, without blocking). ONNX external data
 * is read from the model's folder only: its location must be relative, without "..", and no
 * symbolic link in it is followed (docs/design-decisions.md). On failure *out is NULL and
 * ais_last_error() says what was wrong and where (file, offset, node, operator).
 */
AIS_API ais_status ais_model_load(const char *path, const ais_options *options, ais_model **out);
/*
 * Loads a model from memory. The bytes are not copied: they must stay valid and unchanged until
 * the model (and every session on it) is destroyed. The format is recognized as by
 * ais_model_load and recorded in the "format" metadata the same way. ONNX external data is
 * resolved relative to the current directory, under the same rules.
 */
AIS_API ais_status ais_model_load_memory(const void *data, size_t size, const ais_options *options,
                                         ais_model **out);
/* Adds a reference. */
AIS_API ais_model *ais_model_retain(ais_model *model);
/* Drops a reference; the last one frees the model. NULL is a no-op. Every session holds its own
 * reference, so destroying the model while sessions exist (or run on other threads) only drops
 * the caller's reference: the model goes with the last session. Using the caller's model
 * pointer after its last reference is gone is undefined. */
AIS_API void ais_model_destroy(ais_model *model);

AIS_API size_t ais_model_input_count(const ais_model *model);
AIS_API size_t ais_model_output_count(const ais_model *model);
/*
 * Name, dtype and shape of input (or output) `index`. Any out-pointer may be NULL. dims has
 * *ndim entries; an extent of -1 is dynamic (see ais_model_input_dim_name). Pointers stay valid
 * as long as the model. A sequence(tensor) input or output has dtype AIS_DTYPE_SEQUENCE and
 * ndim 0; an ONNX optional(T) one is described (and fed) as T: an empty optional cannot be fed.
 */
AIS_API ais_status ais_model_input_info(const ais_model *model, size_t index, const char **name,
                                        ais_dtype *dtype, size_t *ndim, const int64_t **dims);
AIS_API ais_status ais_model_output_info(const ais_model *model, size_t index, const char **name,
                                         ais_dtype *dtype, size_t *ndim, const int64_t **dims);
/* The symbolic name of a dynamic dimension ("batch") of input (or output) `index`, or NULL
 * (a fixed extent, an unnamed dynamic one, or an index or axis out of range). The string stays
 * valid as long as the model. */
AIS_API const char *ais_model_input_dim_name(const ais_model *model, size_t index, size_t axis);
AIS_API const char *ais_model_output_dim_name(const ais_model *model, size_t index, size_t axis);

/* Metadata as key/value strings: "name", "producer", "producer_version", "description",
 * "model_version", "format" (of the file loaded: "onnx", "ais", "xgboost", "lightgbm"),
 * "source_format" (a .ais file: the format it was converted from), "opset", and whatever the
 * file stores. */
AIS_API size_t ais_model_metadata_count(const ais_model *model);
AIS_API ais_status ais_model_metadata_at(const ais_model *model, size_t index, const char **key,
                                         const char **value);
/* The value for `key`, or NULL. */
AIS_API const char *ais_model_metadata(const ais_model *model, const char *key);

/*
 * Writes the model in the native .ais format (docs/ais-format.md). options may be NULL; it reads
 * AIS_OPT_SAVE_COMPRESSION. Loading the file back gives bit-identical outputs.
 */
AIS_API ais_status ais_model_save(const ais_model *model, const char *path,
                                  const ais_options *options);

/*
 * The model's own feature pipeline (a .ais file's PIPELINE section), or NULL when it has none.
 * Borrowed: it lives as long as the model. ais_model_save writes it back.
 */
AIS_API const ais_pipeline *ais_model_pipeline(const ais_model *model);
/*
 * Writes the model as .ais with `pipeline` as its feature pipeline (replacing any the model has;
 * the pipeline is not retained: its spec text is copied into the file). The model must have
 * exactly one input, of dtype f32 or f64 and shape [rows, width] (rank and extents may be
 * dynamic) where a static width equals ais_pipeline_output_width: a model with other inputs fails
 * with AIS_E_INVALID_ARGUMENT naming them, another dtype with AIS_E_DTYPE, a width mismatch with
 * AIS_E_SHAPE. The pipeline then gives the input's dtype in ais_session_run_records/json_rows/
 * csv/columns (f64: the features as computed, in double; f32: each rounded once), whatever the dtype of the
 * pipeline object passed here.
 */
AIS_API ais_status ais_model_save_with_pipeline(const ais_model *model,
                                                const ais_pipeline *pipeline, const char *path,
                                                const ais_options *options);

/* Number of nodes (after the optimization the load options ask for: AIS_OPT_OPT_LEVEL 0 keeps
 * the file's nodes) and bytes of constant tensors (weights), for tools. Tree ensembles (XGBoost,
 * LightGBM, ai.onnx.ml) keep their trees in node attributes, which the byte count leaves out. */
AIS_API size_t ais_model_node_count(const ais_model *model);
AIS_API size_t ais_model_weight_bytes(const ais_model *model);
/* Operator type (and domain) of node `index` in execution order. */
AIS_API ais_status ais_model_node_info(const ais_model *model, size_t index, const char **name,
                                       const char **op_type, const char **domain);

/* ---- sessions ---- */

typedef struct ais_session ais_session;

/* A session on `model` (which it retains). options may be NULL. Fails with AIS_E_NO_DEVICE when
 * the backend asked for has no device. For AIS_BACKEND_CUDA the first such call loads the CUDA
 * plugin, libaistack_cuda.so.MAJOR: from $AISTACK_CUDA_PLUGIN when set, else beside libaistack,
 * else the install's libdir, else the dynamic loader's search path; the message then says
 * whether the plugin was missing or of another version (with dlerror's text), or there was no
 * NVIDIA driver or GPU. */
AIS_API ais_status ais_session_create(ais_model *model, const ais_options *options,
                                      ais_session **out);
/*
 * Frees the session and drops its reference to the model. NULL is a no-op. When another thread
 * is inside a run on this session, waits for that run to return first (so a misused session is
 * never freed under a running call); a run that another thread starts while destroy waits or
 * frees gets AIS_E_BUSY, and calling any function on the session after destroy returned is
 * undefined, as with free().
 */
AIS_API void ais_session_destroy(ais_session *session);

/*
 * Runs the model.
 * inputs: n_inputs tensors. input_names: their names, or NULL for the model's inputs in order.
 * outputs: n_outputs slots; output_names: which outputs, or NULL for the first n_outputs in
 * order. A NULL slot receives a new tensor the caller destroys; a slot holding a tensor of the
 * right dtype and shape receives the result in place (no copy).
 * A run with input shapes seen before allocates nothing beyond new output tensors.
 * On failure, slots that were NULL are NULL again, and the message names the input or node.
 * A session runs one call at a time (this and the ais_session_run_* calls): a call made while
 * another thread is inside one on the same session fails at once with AIS_E_BUSY, changing
 * nothing. Use one session per thread (or serialize), since a refused call is not queued.
 */
AIS_API ais_status ais_session_run(ais_session *session, const char *const *input_names,
                                   const ais_tensor *const *inputs, size_t n_inputs,
                                   const char *const *output_names, ais_tensor **outputs,
                                   size_t n_outputs);

/*
 * A dense, row-major array described by plain fields: what ais_session_run_into reads its
 * inputs from and reports its outputs in, so that a run needs no tensor objects (a language
 * binding then makes one foreign call per run instead of one per tensor created, described and
 * destroyed). The layout is fixed for this major version: a later need gets a new type and a
 * new function, never a changed struct. 104 bytes, no padding on LP64.
 *
 *   data, nbytes   inputs (set by the caller): the elements, borrowed for the call only (the
 *                  library keeps no pointer to them after it returns), and the bytes readable
 *                  there (at least the shape's). Outputs (set by the library): where the result
 *                  is and its size in bytes.
 *   dtype          an ais_dtype value (an element type: not AIS_DTYPE_STRING or a sequence).
 *                  Inputs: set by the caller; outputs: set by the library.
 *   ndim, dims     the rank (0..AIS_MAX_DIMS) and dims[0, ndim) the extents; the entries from
 *                  ndim on are ignored in inputs and written as 0 in outputs.
 *   buffer,        outputs only (ignored in inputs): caller memory the result is written to when
 *   capacity       it fits (capacity >= the result's bytes), or NULL / 0. It must be aligned to
 *                  the element size and not overlap an input or another output's buffer.
 */
typedef struct ais_buffer_view {
    void *data;
    uint64_t nbytes;
    int32_t dtype;
    uint32_t ndim;
    int64_t dims[AIS_MAX_DIMS];
    void *buffer;
    uint64_t capacity;
} ais_buffer_view;

/*
 * Runs the model on plain buffers, in one call (ais_session_run without tensor objects).
 * inputs: n_inputs views, exactly the model's inputs, in the model's order
 * (ais_model_input_info), each of the input's dtype and of a shape its declared shape allows;
 * data must be aligned to the element size (NULL only when the shape has no elements).
 * output_indices: which outputs (indices of ais_model_output_info, each at most once), or NULL
 * for the first n_outputs in order. outputs: n_outputs views; on success each one's data,
 * nbytes, dtype, ndim and dims describe that output, and data is
 *   - the view's buffer, when one was given with capacity for the result (the run writes into
 *     it directly when the output's shape follows from the input shapes, else copies there);
 *   - otherwise memory the session owns, valid until the next call that runs this session
 *     (ais_session_run, ais_session_run_into, ais_session_run_records ...) or its destruction,
 *     whichever comes first. The caller may read and write it meanwhile. A buffer too small
 *     for a result is not an error (data-dependent shapes cannot always be known ahead): that
 *     output goes to session memory instead, and data != buffer tells so.
 * buffer and capacity are never changed, so the same views can be passed to every call.
 * Errors (the message names the input or output, expected against given):
 *   AIS_E_INVALID_ARGUMENT  session NULL; inputs or outputs NULL with a non-zero count;
 *                           n_inputs is not the model's input count; an output index out of
 *                           range or repeated; n_outputs above the model's outputs (without
 *                           indices); data NULL for a non-empty input; data or buffer not
 *                           aligned to the element size; a buffer that overlaps an input's data
 *                           or another output's buffer
 *   AIS_E_DTYPE             an input's dtype is no element type or not the model's; an output
 *                           that is a string tensor or a sequence (run those with
 *                           ais_session_run)
 *   AIS_E_SHAPE             an input's rank or extents are not what the model declares, a
 *                           negative extent, nbytes below what the shape needs
 *   AIS_E_LIMIT             ndim above AIS_MAX_DIMS, a shape whose size overflows
 * and whatever the run itself returns (as ais_session_run). On failure every output view has
 * data NULL, nbytes 0, dtype AIS_DTYPE_UNDEFINED and ndim 0, and a caller buffer may have been
 * partly written.
 * Threads: as ais_session_run (one call at a time per session; a concurrent call gets
 * AIS_E_BUSY and changes nothing, output views included). A run with input shapes seen before
 * allocates nothing, except when an output whose shape depends on values (not only on the
 * input shapes) has grown past what the session kept for it. Metrics, drift windows and
 * profiling count this call like ais_session_run.
 */
AIS_API ais_status ais_session_run_into(ais_session *session, const ais_buffer_view *inputs,
                                        size_t n_inputs, const size_t *output_indices,
                                        ais_buffer_view *outputs, size_t n_outputs);

/*
 * Runs raw records through the model's feature pipeline and then the model, in one call: rows
 * (as in ais_pipeline_run_records), JSON lines (ais_pipeline_run_json_rows), CSV text
 * (ais_pipeline_run_csv) or columns (ais_pipeline_run_columns: one numeric or string tensor per
 * input) become the model's single input, in its dtype (f32, or f64 for a model
 * that computes in double: then the features are the pipeline's doubles, unrounded).
 * output_names, outputs and n_outputs are as in ais_session_run. Records that violate the
 * pipeline's schema give AIS_E_SCHEMA and, when errors is not NULL, *errors receives the report
 * of every problem (as the pipeline run functions do); otherwise *errors is set to NULL. Fields
 * and columns that name no input are problems unless the session was created with
 * AIS_OPT_EXTRA_FIELDS = AIS_EXTRA_FIELDS_IGNORE. Columns
 * of the wrong dtype or shape fail as in ais_pipeline_run_columns (AIS_E_DTYPE, AIS_E_SHAPE). A model without a pipeline gives
 * AIS_E_INVALID_ARGUMENT ("the model has no feature pipeline"). The session keeps the features
 * of the last call and refills them in place when the next call has as many rows, so a steady
 * stream of same-sized batches allocates only what the pipeline itself needs per call (an error
 * report, and for JSON lines the parse of each line). Same threading as ais_session_run.
 */
AIS_API ais_status ais_session_run_records(ais_session *session, const ais_field *const *rows,
                                           const size_t *n_fields, size_t n_rows,
                                           const char *const *output_names, ais_tensor **outputs,
                                           size_t n_outputs, ais_pipeline_errors **errors);
AIS_API ais_status ais_session_run_json_rows(ais_session *session, const char *jsonl, size_t len,
                                             const char *const *output_names,
                                             ais_tensor **outputs, size_t n_outputs,
                                             ais_pipeline_errors **errors);
AIS_API ais_status ais_session_run_csv(ais_session *session, const char *csv, size_t len,
                                       const char *const *output_names, ais_tensor **outputs,
                                       size_t n_outputs, ais_pipeline_errors **errors);
AIS_API ais_status ais_session_run_columns(ais_session *session, const char *const *names,
                                           const ais_tensor *const *columns, size_t n_columns,
                                           const char *const *output_names, ais_tensor **outputs,
                                           size_t n_outputs, ais_pipeline_errors **errors);

/* Where the nodes of the last planned run executed: the number of nodes after optimization,
 * and per node its name, operator and backend. ais_session_node_info fails with AIS_E_BUSY
 * (writing nothing) while a call runs on the session in another thread (and, like any call,
 * makes a run that starts meanwhile on another thread fail with AIS_E_BUSY); the count is
 * always safe. */
AIS_API size_t ais_session_node_count(const ais_session *session);
AIS_API ais_status ais_session_node_info(const ais_session *session, size_t index,
                                         const char **name, const char **op_type,
                                         ais_backend *backend);

/*
 * Profiling, on a session created with AIS_OPT_PROFILE = 1 (otherwise these fail with
 * AIS_E_INVALID_ARGUMENT, saying so). Counts accumulate from the session's creation or the last
 * ais_session_profile_reset, over every ais_session_run and ais_session_run_* call, successful
 * or not.
 * ais_session_profile: *runs, the calls that ran the model, and *total_ns, their wall time in
 * nanoseconds from entry to return (binding inputs, planning when the input shapes are new,
 * outputs included). Any out-pointer may be NULL.
 * ais_session_profile_node: for node `index` (0 <= index < ais_session_node_count, the order and
 * naming of ais_session_node_info) its name, operator, the backend it ran on in the last planned
 * run, how many times it ran and the nanoseconds it took in all. The sum of the nodes' times is
 * at most *total_ns. Nodes that a plan computed ahead of time (constants, shapes known from the
 * inputs' shapes) have no calls. On a device backend a node's time is the time to issue it (the
 * device runs asynchronously until the run synchronizes). Pointers stay valid as long as the
 * session. AIS_E_NOT_FOUND for an index out of range.
 * Like ais_session_node_info, these take the session's busy flag: AIS_E_BUSY while a call runs
 * on it in another thread.
 */
AIS_API ais_status ais_session_profile(const ais_session *session, uint64_t *runs,
                                       uint64_t *total_ns);
AIS_API ais_status ais_session_profile_node(const ais_session *session, size_t index,
                                            const char **name, const char **op_type,
                                            ais_backend *backend, uint64_t *calls,
                                            uint64_t *total_ns);
/* Sets every count back to zero. */
AIS_API ais_status ais_session_profile_reset(ais_session *session);

#ifdef __cplusplus
}
#endif
#endif /* AISTACK_AIS_MODEL_H */
