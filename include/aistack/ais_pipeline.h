/*
 * ais_pipeline.h - feature pipelines: named, typed input columns to the float tensor a model
 * expects.
 *
 *   ais_pipeline         compiled from a JSON spec (docs/pipeline-spec.md) that holds the fitted
 *                        parameters (imputation values, scaler statistics, categories, bucket
 *                        edges, hashing sizes). Immutable once built: one pipeline may run on any
 *                        number of threads at once.
 *   ais_pipeline_errors  the report of one run that met bad records: every bad (row, field,
 *                        reason), not only the first.
 *
 * A pipeline has inputs (numeric or categorical, each allowing or refusing missing values) and an
 * ordered list of feature blocks; each block is a chain of transforms over one input, and the
 * output row is the concatenation of the blocks in spec order, as float32 [rows, width]. Every
 * feature is computed in double and rounded once to float32; a pipeline made by
 * ais_pipeline_with_output_dtype(.., AIS_DTYPE_F64, ..) gives the doubles themselves, as float64
 * [rows, width] (for models that compute in double, such as linear models).
 *
 * Data comes as rows (records of named fields, as a server receives them: ais_field arrays or
 * JSON lines) or as columns (tensors, as a batch job has them). Both give identical output.
 */
#ifndef AISTACK_AIS_PIPELINE_H
#define AISTACK_AIS_PIPELINE_H

#include "ais_tensor.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct ais_pipeline ais_pipeline;
typedef struct ais_pipeline_errors ais_pipeline_errors;

/* The type of an input column. Values are written out and never renumbered. */
typedef enum ais_feature_kind {
    AIS_FEATURE_NUMERIC = 1,     /* a number; NaN or an absent field is a missing value */
    AIS_FEATURE_CATEGORICAL = 2, /* a string; an absent field is a missing value */
    AIS_FEATURE_IMAGE = 3, /* an image: a file path (string), encoded JPEG/PNG bytes
                              (AIS_VALUE_BYTES) or 8-bit pixels (AIS_VALUE_PIXELS); see
                              docs/pipeline-spec.md, "Image inputs" */
    AIS_FEATURE_TEXT = 4 /* UTF-8 text that a "tokenize" step turns into token ids for a
                            transformer (docs/pipeline-spec.md, "Text"); a pipeline with a text
                            input is run through a session, not by the run functions below */
} ais_feature_kind;

/*
 * Compiles the JSON spec of `len` bytes at `json` (need not be NUL-terminated). The spec is
 * checked strictly: malformed JSON, an unknown or duplicate key, a wrong type, a non-finite
 * number, a bad length, a duplicate input name or category, or a size over a limit fails with
 * AIS_E_FORMAT (AIS_E_LIMIT for limits, AIS_E_UNSUPPORTED for an unknown version) and a message
 * naming the JSON path ("$.features[2].steps[0].edges[3]"). On success *out is a new pipeline the
 * caller destroys with ais_pipeline_destroy; on failure *out is NULL.
 */
AIS_API ais_status ais_pipeline_create_from_json(const char *json, size_t len, ais_pipeline **out);
/* Frees a pipeline; NULL is a no-op. No run may be in progress on it. */
AIS_API void ais_pipeline_destroy(ais_pipeline *pipeline);

/* Number of declared inputs (0 for NULL). */
AIS_API size_t ais_pipeline_input_count(const ais_pipeline *pipeline);
/* Name (valid while the pipeline lives) and kind of input `index` in spec order. Either out
 * pointer may be NULL. AIS_E_INVALID_ARGUMENT when index >= ais_pipeline_input_count. */
AIS_API ais_status ais_pipeline_input_info(const ais_pipeline *pipeline, size_t index,
                                           const char **name, ais_feature_kind *kind);
/* Number of features (output elements) per row (0 for NULL). */
AIS_API size_t ais_pipeline_output_width(const ais_pipeline *pipeline);
/*
 * Sets *out to a new pipeline, compiled from the same spec, whose run functions give `dtype`
 * tensors: AIS_DTYPE_F32 (what ais_pipeline_create_from_json gives) or AIS_DTYPE_F64 (the
 * features as the doubles they are computed in; the f32 output is these rounded to float). The
 * source pipeline is not changed (it may be running on other threads; it may be a model's, from
 * ais_model_pipeline); the caller destroys *out with ais_pipeline_destroy. Another dtype is
 * AIS_E_DTYPE; on failure *out is NULL.
 */
AIS_API ais_status ais_pipeline_with_output_dtype(const ais_pipeline *pipeline, ais_dtype dtype,
                                                  ais_pipeline **out);
/* The element type of the pipeline's run outputs: AIS_DTYPE_F32 unless it was made by
 * ais_pipeline_with_output_dtype (AIS_DTYPE_F32 for NULL). */
AIS_API ais_dtype ais_pipeline_output_dtype(const ais_pipeline *pipeline);
/* The spec text the pipeline was compiled from, byte for byte (NUL-terminated; *len, when len is
 * not NULL, excludes the NUL). Valid while the pipeline lives. */
AIS_API ais_status ais_pipeline_spec_json(const ais_pipeline *pipeline, const char **json,
                                          size_t *len);

/* ---- running ---- */

/* What a run does with a field (a record's key, a CSV header column, a column name) that names
 * no input. Values are written out and never renumbered. */
typedef enum ais_extra_fields {
    AIS_EXTRA_FIELDS_ERROR = 0, /* a schema problem naming the field and the nearest input (the
                                   default: a misspelled "Age" for "age" must not silently count
                                   as missing) */
    AIS_EXTRA_FIELDS_IGNORE = 1 /* skipped, for records that carry more than the model needs */
} ais_extra_fields;

/*
 * Sets *out to a new pipeline, compiled from the same spec with the same output dtype, whose run
 * functions treat fields that are not inputs by `policy`. The source pipeline is not changed;
 * the caller destroys *out with ais_pipeline_destroy. A policy that is not an ais_extra_fields
 * value is AIS_E_INVALID_ARGUMENT; on failure *out is NULL.
 */
AIS_API ais_status ais_pipeline_with_extra_fields(const ais_pipeline *pipeline,
                                                  ais_extra_fields policy, ais_pipeline **out);
/* The pipeline's policy for fields that are not inputs (AIS_EXTRA_FIELDS_ERROR unless made by
 * ais_pipeline_with_extra_fields; AIS_EXTRA_FIELDS_ERROR for NULL). */
AIS_API ais_extra_fields ais_pipeline_extra_fields(const ais_pipeline *pipeline);

/* The kind of one value in a record. Values are written out and never renumbered. */
typedef enum ais_value_kind {
    AIS_VALUE_MISSING = 0, /* an explicit missing value (like JSON null) */
    AIS_VALUE_NUMBER = 1,  /* `number` holds it; NaN counts as missing */
    AIS_VALUE_STRING = 2,  /* `string` holds it, NUL-terminated UTF-8 */
    /* image inputs only: `string` points to the encoded bytes of a JPEG or PNG file and `number`
     * is their count (a whole number; the bytes need no NUL and may hold any byte) */
    AIS_VALUE_BYTES = 3,
    /* image inputs only: `string` is a `const ais_tensor *` (cast) of dtype u8 and shape
     * [height, width] or [height, width, channels] with 1, 3 (RGB) or 4 (RGBA) channels: an
     * already decoded image, as a NumPy HWC uint8 array */
    AIS_VALUE_PIXELS = 4
} ais_value_kind;

/* One named field of a record. This layout is part of the ABI and never changes. */
typedef struct ais_field {
    const char *name;
    ais_value_kind kind;
    double number;
    const char *string;
} ais_field;

/*
 * Every run function below:
 *  - on success returns AIS_OK, sets *out to a new tensor [rows, output_width] of
 *    ais_pipeline_output_dtype (float32 unless made by ais_pipeline_with_output_dtype) the
 *    caller destroys, and sets *errors (when errors is not NULL) to NULL (an image pipeline
 *    gives [rows, 3, H, W], or [rows, H, W, 3] with its layout step; output_width is 3 * H * W);
 *  - when some records violate the schema (a required field absent, a value of the wrong type,
 *    a missing value, NaN or an infinity where the input refuses missing values, a field that
 *    names no input, an unknown category under the `error` policy) returns AIS_E_SCHEMA with a
 *    message naming the first bad row and field and the number of problems, sets *out to NULL
 *    and, when errors is not NULL, *errors to a report of every problem (the caller destroys it
 *    with ais_pipeline_errors_destroy);
 *  - on any other failure returns its status with *out and *errors NULL.
 * A field or column whose name is not an input is a problem by default ("unknown field", with the
 * nearest input name when one is close: same name ignoring case and surrounding blanks, or a
 * small edit distance; else the list of inputs); a pipeline made by
 * ais_pipeline_with_extra_fields(.., AIS_EXTRA_FIELDS_IGNORE, ..) skips such fields. Either way
 * a required field that is absent names a near-miss field given instead (" income" for
 * "income"). A name given twice is an error. An infinite number (inf, 1e309) is not a missing
 * value: it is a problem for an input that refuses missing values, and a value (transformed as
 * IEEE arithmetic says) for one that allows them.
 */

/* Rows as records: rows[r] is an array of n_fields[r] fields. */
AIS_API ais_status ais_pipeline_run_records(const ais_pipeline *pipeline,
                                            const ais_field *const *rows, const size_t *n_fields,
                                            size_t n_rows, ais_tensor **out,
                                            ais_pipeline_errors **errors);
/* Rows as JSON lines: one JSON object per line (blank lines are skipped and not counted as
 * rows). Numbers, strings and null are the accepted field values. A line that is not a JSON
 * object is a bad row (field ""). */
AIS_API ais_status ais_pipeline_run_json_rows(const ais_pipeline *pipeline, const char *jsonl,
                                              size_t len, ais_tensor **out,
                                              ais_pipeline_errors **errors);
/* Rows as CSV (RFC 4180) of `len` bytes: a header row naming the fields, then one record per
 * row. Cells may be quoted ("a, b", with "" for a quote inside, and line breaks inside quotes);
 * records end with LF or CRLF, the last one optionally. A UTF-8 byte-order mark before the header
 * is skipped and empty lines are skipped (not counted as rows). An empty cell is a missing value.
 * A numeric input parses its cell as a decimal number, independently of the locale (surrounding
 * blanks allowed; "nan" in any case is a missing value, "inf" an infinity); any other text is a
 * problem "not a number" for that row and field. A categorical input takes the cell's text. A
 * cell holding a NUL byte is a problem for that row and field (it would otherwise cut the value
 * short). Header columns that name no input are, under the default policy, problems of row
 * SIZE_MAX (the header) and no row is run.
 * Rows are numbered from 0, the first record after the header. A row with another number of
 * cells than the header, an unterminated quote or text after a closing quote is a bad row (field
 * ""). Text with no header row (empty), a malformed header or one naming an input twice is
 * AIS_E_FORMAT. A header alone gives [0, output_width]. */
AIS_API ais_status ais_pipeline_run_csv(const ais_pipeline *pipeline, const char *csv, size_t len,
                                        ais_tensor **out, ais_pipeline_errors **errors);
/* Columns: columns[j] holds input names[j] as a tensor of `rows` elements (shape [rows] or
 * [rows, 1]); all columns have the same row count. A numeric input takes f32, f64, i32 or i64
 * (NaN is missing); a categorical input takes a string tensor. An input absent from names[] is
 * missing in every row. A wrong element type is AIS_E_DTYPE, unequal lengths AIS_E_SHAPE. Names
 * that are no input are, under the default policy, problems of row SIZE_MAX and no row is run. */
AIS_API ais_status ais_pipeline_run_columns(const ais_pipeline *pipeline, const char *const *names,
                                            const ais_tensor *const *columns, size_t n_columns,
                                            ais_tensor **out, ais_pipeline_errors **errors);

/* ---- the error report ---- */

/* Number of problems (0 for NULL). Problems are ordered by row, then by input in spec order. */
AIS_API size_t ais_pipeline_errors_count(const ais_pipeline_errors *errors);
/* Row (0-based) of problem `index`; SIZE_MAX for a problem of the field names rather than of a
 * row (a CSV header or column name that is no input), and when index is out of range. */
AIS_API size_t ais_pipeline_errors_row(const ais_pipeline_errors *errors, size_t index);
/* Field name of problem `index` ("" when the whole row is bad); NULL when out of range. Valid
 * until the report is destroyed. */
AIS_API const char *ais_pipeline_errors_field(const ais_pipeline_errors *errors, size_t index);
/* What was wrong ("missing required field", ...); NULL when out of range. */
AIS_API const char *ais_pipeline_errors_message(const ais_pipeline_errors *errors, size_t index);
/* Frees a report; NULL is a no-op. */
AIS_API void ais_pipeline_errors_destroy(ais_pipeline_errors *errors);

#ifdef __cplusplus
}
#endif
#endif /* AISTACK_AIS_PIPELINE_H */
