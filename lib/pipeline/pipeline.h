/*
 * pipeline.h - the compiled form of a feature pipeline (pipeline_spec.c builds it from JSON,
 * pipeline_run.c runs it). Immutable after ais__pipeline_compile returns.
 */
#ifndef AIS_PIPELINE_H
#define AIS_PIPELINE_H

#include <aistack/ais_pipeline.h>
#include <aistack/ais_text.h>

#include "common/common.h"

/* Limits on what a spec may declare; docs/pipeline-spec.md lists them. */
#define AIS__PL_MAX_SPEC_BYTES ((size_t)64 << 20)
#define AIS__PL_MAX_INPUTS 4096
#define AIS__PL_MAX_FEATURES 4096
#define AIS__PL_MAX_STEPS 16
#define AIS__PL_MAX_NAME 256
#define AIS__PL_MAX_CATEGORIES 65536
#define AIS__PL_MAX_CATEGORY_BYTES 4096
#define AIS__PL_MAX_EDGES 65536
#define AIS__PL_MAX_HASH_FEATURES (1u << 20)
#define AIS__PL_MAX_WIDTH ((size_t)1 << 24)

typedef enum ais__pl_op {
    AIS__PL_IMPUTE_NUM,
    AIS__PL_IMPUTE_CAT,
    AIS__PL_SCALE_STANDARD, /* (x - a) / b */
    AIS__PL_SCALE_ROBUST,   /* (x - a) / b */
    AIS__PL_SCALE_MINMAX,   /* x * b + a, as scikit-learn's MinMaxScaler (min_, scale_) */
    AIS__PL_CLIP,           /* to [a, b] */
    AIS__PL_LOG1P,
    AIS__PL_BUCKETIZE,
    AIS__PL_ONEHOT,
    AIS__PL_ORDINAL,
    AIS__PL_HASH,
    AIS__PL_PASSTHROUGH,
    AIS__PL_INDICATOR /* 1 when the value is missing, else 0; the result is never missing */
} ais__pl_op;

typedef enum {
    AIS__PL_UNKNOWN_ERROR,
    AIS__PL_UNKNOWN_IGNORE,
    AIS__PL_UNKNOWN_VALUE,
    AIS__PL_UNKNOWN_INFREQUENT /* as the infrequent categories */
} ais__pl_unk;

typedef struct ais__pl_step {
    ais__pl_op op;
    double a, b;   /* parameters, see ais__pl_op; ordinal: a = unknown_value, b = missing_value */
    char *str;     /* categorical imputation value */
    double *edges; /* bucketize, strictly increasing */
    size_t n_edges;
    /* onehot/ordinal: the categories in spec order, then the infrequent ones; strings (cats) or,
     * over numeric values, numbers (num_cats) */
    char **cats;
    double *num_cats;
    uint32_t *sorted; /* indices into cats/num_cats in ascending order, for binary search */
    size_t n_cats;
    size_t n_frequent;   /* categories [n_frequent, n_cats) share one column / ordinal value */
    size_t drop;         /* onehot: the output column dropped, SIZE_MAX when none */
    size_t n_out;        /* onehot: output columns */
    bool has_missing;    /* ordinal: a missing value gives b instead of NaN */
    ais__pl_unk unknown;
    uint32_t n_hash; /* hash: output width */
    uint32_t seed;
    bool alternate_sign;
} ais__pl_step;

typedef struct ais__pl_block {
    size_t input;
    ais__pl_step *steps;
    size_t n_steps;
    size_t offset, width; /* columns of the output row */
} ais__pl_block;

typedef struct ais__pl_input {
    char *name;
    ais_feature_kind kind;
    bool allow_missing;
} ais__pl_input;

struct ais_pipeline {
    ais__pl_input *inputs;
    size_t n_inputs;
    uint32_t *input_sorted;   /* input indices sorted by name */
    char **ignored;           /* ignored_fields: known fields that no input uses */
    uint32_t *ignored_sorted; /* indices into ignored sorted by name */
    size_t n_ignored;
    ais__pl_block *blocks;
    size_t n_blocks;
    size_t width;
    char *spec; /* the JSON text it was compiled from (NUL-terminated copy), for .ais files */
    size_t spec_len;
    ais_dtype out_dtype; /* what the public run functions give: f32, or f64 for a twin made by
                            ais_pipeline_with_output_dtype */
    ais_extra_fields extra; /* what the public run functions do with fields that are no input */
    /* a text pipeline's tokenize step (pipeline_text.c), or NULL */
    struct ais__pl_text *text;
    struct ais__pl_image *image; /* an image pipeline (pipeline_image.c), else NULL */
};

/* ---- the run driver, shared with pipeline_csv.c ---- */

/* The value a source gives for one input of one row. kind is an ais_value_kind or one of the
 * internal kinds below. */
#define AIS__PL_VALUE_JSON_OTHER 100 /* a JSON value that is neither number, string nor null */
#define AIS__PL_VALUE_NOT_NUMBER 101 /* numeric input's text that does not parse, in str */

typedef struct ais__pl_value {
    int kind;
    double num;
    const char *str;
} ais__pl_value;

/* An observer of a run's checked raw values (the session's live drift window,
 * lib/runtime/session_live.c): begin(n_rows) once the run knows its rows, then row() for every
 * row whose values passed the checks (vals[i] per input: AIS_VALUE_NUMBER, _STRING or
 * _MISSING; strings valid during the call only). Set per thread around one call, so the
 * immutable, shared pipeline carries no state for it. */
typedef struct ais__pl_tap {
    void (*begin)(void *ctx, size_t n_rows);
    void (*row)(void *ctx, size_t row, const struct ais__pl_value *vals, size_t n_inputs);
    void *ctx;
} ais__pl_tap;
/* The tap of this thread's next pipeline runs (NULL: none). Numeric and categorical
 * pipelines call it; text and image pipelines do not. */
void ais__pipeline_set_tap(const ais__pl_tap *tap);

/* Fills vals[0, n_inputs) and present[] for `row` (rows are visited in order, from 0), adding
 * row-level violations to the report (ais__pipeline_add_error) and setting *bad. */
typedef ais_status (*ais__pl_fill_fn)(void *ctx, const ais_pipeline *p, size_t row,
                                      ais__pl_value *vals, bool *present, ais_pipeline_errors *e,
                                      bool *bad);
/* Runs n_rows rows from `fill` with the checks and report of the public run functions, into a
 * tensor of `dtype` (f32 or f64; the features are computed in double either way, and f32 rounds
 * each once). When *out holds a `dtype` tensor of shape [n_rows, width] on entry it receives the
 * rows in place (a session reuses its buffer); otherwise *out is set to a new tensor. On failure
 * a tensor given on entry stays with the caller and *out is set to NULL. */
ais_status ais__pipeline_run(const ais_pipeline *p, size_t n_rows, ais__pl_fill_fn fill, void *ctx,
                             ais_dtype dtype, ais_tensor **out, ais_pipeline_errors **errors);
ais_status ais__pipeline_add_error(ais_pipeline_errors *e, size_t row, const char *field,
                                   const char *fmt, ...) AIS__PRINTF(4, 5);

/* The public run functions without their argument checks, with the output dtype (f32 or f64)
 * given and *out in/out as in ais__pipeline_run (p is not NULL). */
ais_status ais__pipeline_records_into(const ais_pipeline *p, const ais_field *const *rows,
                                      const size_t *n_fields, size_t n_rows, ais_dtype dtype,
                                      ais_extra_fields extra, ais_tensor **out,
                                      ais_pipeline_errors **errors);
ais_status ais__pipeline_jsonl_into(const ais_pipeline *p, const char *jsonl, size_t len,
                                    ais_dtype dtype, ais_extra_fields extra, ais_tensor **out,
                                    ais_pipeline_errors **errors);
ais_status ais__pipeline_csv_into(const ais_pipeline *p, const char *csv, size_t len,
                                  ais_dtype dtype, ais_extra_fields extra, ais_tensor **out,
                                  ais_pipeline_errors **errors);
/* `who` names the public function in argument errors. */
ais_status ais__pipeline_columns_into(const ais_pipeline *p, const char *who,
                                      const char *const *names, const ais_tensor *const *columns,
                                      size_t n_columns, ais_dtype dtype, ais_extra_fields extra,
                                      ais_tensor **out, ais_pipeline_errors **errors);

/* A new, empty error report; NULL when out of memory (with the message set). */
ais_pipeline_errors *ais__pipeline_errors_new(void);
/* Ends a run that found the problems in `e` (at least one): returns AIS_E_SCHEMA with a message
 * naming the first, and hands e to *errors (or destroys it when errors is NULL). */
ais_status ais__pipeline_errors_fail(ais_pipeline_errors *e, ais_pipeline_errors **errors);
/* Adds the problem "unknown field" for `name` (a field that is no input of p), with the nearest
 * input's name or the list of inputs. */
ais_status ais__pipeline_add_unknown(ais_pipeline_errors *e, const ais_pipeline *p, size_t row,
                                     const char *name);
/* Index of the name in names[0, n) nearest to `name` (the same ignoring case and surrounding
 * blanks, or within a small edit distance), or SIZE_MAX when none is near. */
size_t ais__pipeline_nearest(const char *name, const char *const *names, size_t n);
/* Index of the input nearest to `name` as ais__pipeline_nearest, or SIZE_MAX. */
size_t ais__pipeline_nearest_input(const ais_pipeline *p, const char *name);

/* Index of the input called `name`, or SIZE_MAX. */
size_t ais__pipeline_find_input(const ais_pipeline *p, const char *name);
/* Whether `name` is one of the spec's ignored_fields (accepted and skipped, never unknown). */
bool ais__pipeline_is_ignored(const ais_pipeline *p, const char *name);
/* Index into step->cats of `s`, or SIZE_MAX. */
size_t ais__pipeline_find_category(const ais__pl_step *step, const char *s);
/* Index into step->num_cats of `x` (compared with ==), or SIZE_MAX. */
size_t ais__pipeline_find_number(const ais__pl_step *step, double x);
/* MurmurHash3_x86_32 of `len` bytes, as scikit-learn's murmurhash3_32 (unsigned result). */
uint32_t ais__murmur3_32(const void *key, size_t len, uint32_t seed);

/* ---- text pipelines (pipeline_text.c) ----
 * A spec whose input is of type "text" is a text pipeline: one input, one feature block with one
 * "tokenize" step, and no float output; its run gives the three int64 [rows, L] tensors of
 * ais_tokenizer_encode_batch, padded to the longest row of the batch. */

struct cJSON;

/* Tensors a text pipeline gives, in this order; the model input names are the spec's. */
enum { AIS__PL_TEXT_IDS, AIS__PL_TEXT_MASK, AIS__PL_TEXT_TYPES, AIS__PL_TEXT_N };
/* Keys check of pipeline_spec.c, for the text step's parser. */
ais_status ais__pipeline_check_keys(const struct cJSON *obj, const char *path,
                                    const char *const *allowed, const char *const *required);
/* Compiles the features of a spec whose inputs include a text input (called by compile() of
 * pipeline_spec.c once the inputs are parsed). */
ais_status ais__pipeline_text_compile(ais_pipeline *p, const struct cJSON *features);
void ais__pipeline_text_free(struct ais__pl_text *text);
/* Runs a text pipeline: `out` points to AIS__PL_TEXT_N tensors, all set on success (the
 * dtype and a tensor given on entry are ignored); the report as ais__pipeline_run's. */
ais_status ais__pipeline_text_run(const ais_pipeline *p, size_t n_rows, ais__pl_fill_fn fill,
                                  void *ctx, ais_tensor **out, ais_pipeline_errors **errors);
/* The model input that tensor k of a text pipeline feeds, or NULL when it feeds none. */
const char *ais__pipeline_text_target(const ais_pipeline *p, int k);
/* The tokenizer of a text pipeline (NULL for another pipeline). */
const ais_tokenizer *ais__pipeline_tokenizer(const ais_pipeline *p);
/* ---- image inputs (pipeline_image.c) ---- */

struct cJSON;
/* Whether the spec declares an input of type "image": then it compiles as an image pipeline. */
bool ais__pipeline_image_spec(const struct cJSON *root);
ais_status ais__pipeline_image_compile(ais_pipeline *p, const struct cJSON *root);
void ais__pipeline_image_free(struct ais__pl_image *im);
/* An image pipeline's output per record: [3, H, W] or [H, W, 3]. */
void ais__pipeline_image_shape(const ais_pipeline *p, int64_t dims[3]);
/* ais__pipeline_run for an image pipeline: out is [rows, dims...]. */
ais_status ais__pipeline_image_run(const ais_pipeline *p, size_t n_rows, ais__pl_fill_fn fill,
                                   void *ctx, ais_dtype dtype, ais_tensor **out,
                                   ais_pipeline_errors **errors);

#endif
