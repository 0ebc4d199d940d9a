/*
 * format.h - readers and writers of model and tensor files. Every reader treats its input as
 * hostile: bounds-checked, size-limited, and it says what was wrong and where (offset, field).
 *
 * Model readers produce an ais__graph (ir/graph.h). Their input bytes are borrowed: constants
 * may point into them, so the caller keeps the bytes alive for the graph's lifetime (the file
 * loader does this by mapping the file and handing the mapping to ais__graph_hold).
 */
#ifndef AIS_FORMAT_H
#define AIS_FORMAT_H

#include <aistack/ais_model.h>

#include "ir/graph.h"

typedef struct ais__load_opts {
    uint64_t max_file_bytes; /* refuse larger inputs (AIS_E_LIMIT) */
    bool map_weights;        /* mmap the file (true) or read it into owned memory */
    bool verify_data;        /* .ais: check tensor data checksums too (headers always) */
    /* Set by ais__model_read_file, never by callers: the bytes are a private read-only file
     * mapping, so readers may give pages they copied out back to the kernel (ais__drop_pages). */
    bool source_mapped;
} ais__load_opts;

/* Defaults: 2^40 bytes, mapped, data verified. */
void ais__load_opts_default(ais__load_opts *o);

/* ---- opening files (safe_open.c): every file the library reads is opened here ---- */

/* Opens a path the caller gave for reading: O_NONBLOCK while opening (a FIFO must not block),
 * then refuses anything that is not a regular file ("... is a FIFO (named pipe), not a regular
 * file"). `what` starts the messages ("model file", ".npy file"). *size is the file's size. */
ais_status ais__open_regular(const char *path, const char *what, int *fd, uint64_t *size);
/* Creates (or empties) a regular file for writing under the same rule: a FIFO, directory or
 * device at `path` is refused without blocking and without being written to. */
ais_status ais__create_regular(const char *path, const char *what, int *fd);
/* The same for a path that a model file names (ONNX external data): `rel` is opened beneath
 * base_dir and must not leave it, and no symbolic link in `rel` is followed (openat2 with
 * RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS, else one O_NOFOLLOW openat per component). */
ais_status ais__open_beneath(const char *base_dir, const char *rel, const char *what, int *fd,
                             uint64_t *size);
/* The per-component walk alone (what ais__open_beneath does where openat2 is missing), from an
 * open directory; *fd is not yet checked to be a regular file. For tests. */
ais_status ais__open_beneath_walk(int dirfd, const char *rel, const char *what, int *fd);

/* ---- files (mapped_file.c) ---- */

typedef struct ais__file {
    const uint8_t *data;
    size_t size;
    bool mapped; /* munmap, else ais__free */
} ais__file;

/* Maps (or reads, when !map) a whole file; messages name the path. */
ais_status ais__file_open(const char *path, uint64_t max_bytes, bool map, ais__file **out);
void ais__file_close(ais__file *f);
/* A release function for ais__graph_hold(g, ais__file_release, file). */
void ais__file_release(void *file);
/* Gives back the resident pages wholly inside [p, p + n) of a private read-only file mapping
 * once their bytes have been copied or decompressed, so that loading does not hold the file and
 * its decoded copy at once; touching them again re-reads the file. Only for such mappings:
 * on anonymous or writable memory it would lose data. Best effort (errors are ignored). */
void ais__drop_pages(const void *p, size_t n);

/* ---- models ---- */

/* ---- the reader table (model_file.c): the one place that sniffs content ---- */

typedef struct ais__format_reader {
    const char *name; /* the "format" metadata of a model loaded through this row */
    const char *what; /* "an ONNX model", for messages */
    bool (*sniff)(const uint8_t *data, size_t size);
    /* Exactly one of these: a model reader or a tensor reader. */
    ais_status (*read_model)(const void *data, size_t size, const char *base_dir,
                             const ais__load_opts *o, ais__graph **out);
    ais_status (*read_tensor)(const void *data, size_t size, ais_tensor **out);
} ais__format_reader;

/* The first row (of model readers when `model`, else of tensor readers) whose sniff claims the
 * bytes, or NULL. */
const ais__format_reader *ais__format_sniff(const void *data, size_t size, bool model);
/* The row called `name` ("onnx", "ais", "xgboost", "lightgbm", "npy", "tensorproto"), or NULL. */
const ais__format_reader *ais__format_find(const char *name);
/* AIS_E_FORMAT for bytes that no reader of the kind claims, saying what they look like: "not an
 * ONNX model: the file starts with the NumPy magic ...", "... looks like text (...)". */
ais_status ais__format_unknown(const void *data, size_t size, bool model);

/* Sniffs the format through the table and reads it; sets the "format" metadata to the row's
 * name. For files, also keeps the mapping alive in the graph. base_dir resolves ONNX external
 * data ("." if NULL). */
ais_status ais__model_read_file(const char *path, const ais__load_opts *o, ais__graph **out);
ais_status ais__model_read_memory(const void *data, size_t size, const char *base_dir,
                                  const ais__load_opts *o, ais__graph **out);

/* The structural rules every model reader's graph meets (graph_check.c), called by each reader
 * before it returns a graph: inputs and outputs listed once, an input is neither a constant nor
 * a node's output, a node's output has that node as its one producer, every value a node reads
 * or the graph outputs is defined. Messages name the value and the node (its index when it has
 * no name). */
ais_status ais__graph_validate(const ais__graph *g);

/* ONNX ModelProto (onnx_reader.c). */
ais_status ais__onnx_read(const void *data, size_t size, const char *base_dir,
                          const ais__load_opts *o, ais__graph **out);
/* Native .ais (ais_reader.c / ais_writer.c; docs/ais-format.md). */
/* XGBoost JSON and LightGBM text models: one TreeEnsembleRegressor (lib/format/tree_model.h). */
ais_status ais__xgboost_read(const void *data, size_t size, const ais__load_opts *o,
                             ais__graph **out);
ais_status ais__lightgbm_read(const void *data, size_t size, const ais__load_opts *o,
                              ais__graph **out);
ais_status ais__ais_read(const void *data, size_t size, const ais__load_opts *o,
                         ais__graph **out);
/* A PIPELINE section to write: the name of the graph input the pipeline feeds and its spec's
 * JSON bytes. The format layer does not compile specs: the runtime checks that the spec fits the
 * input before it asks for a write (runtime/model.c), and compiles the one a reader hands back. */
typedef struct ais__pipeline_section {
    const char *input;
    const char *spec;
    size_t len;
} ais__pipeline_section;
/* compress_level: 0 raw (mmappable), 1..22 zstd per tensor. Writes the PIPELINE section that g
 * was read with (g->pipeline_input, g->pipeline_spec), if any. */
ais_status ais__ais_write(const ais__graph *g, const char *path, int compress_level);
/* The same with `pipeline` (NULL: none) in place of g's section. */
ais_status ais__ais_write_pipeline(const ais__graph *g, const ais__pipeline_section *pipeline,
                                   const char *path, int compress_level);
/* The same, calling progress (when not NULL) after each tensor is encoded. */
ais_status ais__ais_write_progress(const ais__graph *g, const ais__pipeline_section *pipeline,
                                   const char *path, int compress_level,
                                   ais_progress_fn progress, void *progress_data);
/* The same, with `drift` (drift_len bytes; NULL: none) as the DRIFT section in place of g's. */
ais_status ais__ais_write_drift(const ais__graph *g, const ais__pipeline_section *pipeline,
                                const void *drift, size_t drift_len, const char *path,
                                int compress_level, ais_progress_fn progress,
                                void *progress_data);
/* True when the bytes start like a .ais file. */
bool ais__ais_sniff(const void *data, size_t size);

/* ---- JSON (json_error.c) ---- */

/* AIS_E_FORMAT for a JSON text that cJSON_ParseWithLengthOpts refused, with `stop` the parse end
 * it returned (cJSON sets it on failure too; cJSON_GetErrorPtr is one racy global): "who: not
 * valid JSON at byte N (line L, column C)", saying when the text nests deeper than max_depth
 * (pass CJSON_NESTING_LIMIT) or ends early. */
ais_status ais__json_error(const char *who, const char *json, size_t len, const char *stop,
                           int max_depth);

/* ---- tensors ---- */

/* ONNX TensorProto (a .pb file of the backend tests); *name may be NULL-ed if absent. The tensor
 * owns its data (copied: .pb files are small and may be freed). */
ais_status ais__tensorproto_read(const void *data, size_t size, ais_tensor **out, char **name);
/* A SequenceProto of dense tensors (or an OptionalProto holding one, which has the same bytes)
 * as a sequence tensor (AIS_DTYPE_SEQUENCE) owning copies; an empty one gets f32 elements. */
ais_status ais__sequenceproto_read(const void *data, size_t size, ais_tensor **out);
/* NumPy .npy, versions 1-3, little- or big-endian, C order (Fortran order refused). */
ais_status ais__npy_read(const void *data, size_t size, ais_tensor **out);
ais_status ais__npy_write(const ais_tensor *t, const char *path);

#endif /* AIS_FORMAT_H */
