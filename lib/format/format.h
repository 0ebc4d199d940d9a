/*
 * format.h - readers and writers of model and tensor files. Every reader treats its input as
 * hostile: bounds-checked, size-limited, and it says what was wrong and where (offset, field).
 *
 * Model readers produce an ais__graph (graph/graph.h). Their input bytes are borrowed: constants
 * may point into them, so the caller keeps the bytes alive for the graph's lifetime (the file
 * loader does this by mapping the file and handing the mapping to ais__graph_hold).
 */
#ifndef AIS_FORMAT_H
#define AIS_FORMAT_H

#include <aistack/ais_model.h>

#include "../graph/graph.h"

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

/* Sniffs the format (ONNX, .ais, XGBoost JSON, LightGBM text) and reads it; for files, also
 * keeps the mapping alive in the graph. base_dir resolves ONNX external data ("." if NULL). */
ais_status ais__model_read_file(const char *path, const ais__load_opts *o, ais__graph **out);
ais_status ais__model_read_memory(const void *data, size_t size, const char *base_dir,
                                  const ais__load_opts *o, ais__graph **out);

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
/* compress_level: 0 raw (mmappable), 1..22 zstd per tensor. Writes g->pipeline, if any. */
ais_status ais__ais_write(const ais__graph *g, const char *path, int compress_level);
/* The same with `pipeline` (NULL: none) in place of g->pipeline. */
ais_status ais__ais_write_pipeline(const ais__graph *g, const struct ais_pipeline *pipeline,
                                   const char *path, int compress_level);
/* The same, calling progress (when not NULL) after each tensor is encoded. */
ais_status ais__ais_write_progress(const ais__graph *g, const struct ais_pipeline *pipeline,
                                   const char *path, int compress_level,
                                   ais_progress_fn progress, void *progress_data);
/* Checks that `pipeline` can feed g: g has exactly one input, of dtype f32, of rank 2 (or
 * unknown rank), whose last extent, when static, is the pipeline's output width. Sets *input to
 * that input's value index. Messages say which input and what was expected; `who` prefixes
 * them. */
ais_status ais__ais_pipeline_target(const ais__graph *g, const struct ais_pipeline *pipeline,
                                    const char *who, int32_t *input);
/* True when the bytes start like a .ais file. */
bool ais__ais_sniff(const void *data, size_t size);

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
