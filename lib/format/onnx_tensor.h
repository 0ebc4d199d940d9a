/*
 * onnx_tensor.h - ONNX TensorProto decoding shared by the model reader (initializers, tensor
 * attributes) and the .pb tensor files of the backend tests, and external-data files.
 */
#ifndef AIS_ONNX_TENSOR_H
#define AIS_ONNX_TENSOR_H

#include "format.h"
#include "protobuf.h"

/* Names (tensors, values, nodes, attributes, keys) longer than this are refused. */
#define AIS__ONNX_MAX_NAME (64u * 1024u)
/* A location of external data longer than this is refused. */
#define AIS__ONNX_MAX_PATH 4096u
/* Distinct external data files of one model. */
#define AIS__ONNX_MAX_EXT_FILES 16384
/* Bounds on counts whose bookkeeping is linear per item (attributes of a node, metadata
 * entries, opset imports), so that a hostile file cannot make loading quadratic. */
#define AIS__ONNX_MAX_ATTRS 256
#define AIS__ONNX_MAX_ENTRIES 4096
/* String attributes and metadata values longer than this are refused. */
#define AIS__ONNX_MAX_STRING (16u * 1024u * 1024u)

typedef struct ais__onnx_extfile {
    char *location;
    const uint8_t *data; /* the mapping (held by the graph), NULL when empty */
    size_t size;
} ais__onnx_extfile;

/* Where external data comes from and what the tensors may borrow. */
typedef struct ais__onnx_ext {
    const char *base_dir;     /* NULL: external data is refused */
    bool map;                 /* map files and borrow from them; else read into owned tensors */
    bool source_mapped;       /* the model's own bytes are a file mapping (ais__drop_pages) */
    ais__graph *g;            /* keeps the mappings alive */
    ais__onnx_extfile *files; /* each file is mapped once */
    size_t n_files;
    uint64_t borrowed, copied; /* bytes of tensor data, for the DEBUG log */
} ais__onnx_ext;

/* Frees the cache of mapped files (the graph keeps the mappings themselves). */
void ais__onnx_ext_finish(ais__onnx_ext *e);

/*
 * Decodes the TensorProto in `msg` into *out. With `borrow`, raw data suitably aligned is used
 * in place (the tensor has no storage; the input must outlive it); otherwise it is copied into
 * an owned tensor. ext may be NULL (external data is then refused). *name (if name is not NULL)
 * receives the tensor's name or NULL when it has none. Messages name the tensor; the caller
 * prefixes the field path.
 */
ais_status ais__onnx_tensor_read(const ais__pb *msg, ais__onnx_ext *ext, bool borrow,
                                 ais_tensor **out, char **name);

/* The bytes [offset, offset + length) of external file `location` (relative to ext->base_dir)
 * as a tensor of dtype and dims (onnx_external.c). */
ais_status ais__onnx_external(ais__onnx_ext *ext, const char *location, uint64_t offset,
                              bool has_length, uint64_t length, ais_dtype dtype,
                              const int64_t *dims, size_t ndim, size_t nbytes, ais_tensor **out);

/* A tensor of dtype/dims that borrows `data` when it is aligned to the element size and
 * `borrow` is set, else an owned copy; updates ext's counters when ext is not NULL. */
ais_status ais__onnx_tensor_from_bytes(ais__onnx_ext *ext, bool borrow, ais_dtype dtype,
                                       const int64_t *dims, size_t ndim, const uint8_t *data,
                                       size_t nbytes, ais_tensor **out);

/* ---- the model reader's shared state (onnx_reader.c, onnx_node.c) ---- */

typedef struct ais__onnx_ctx {
    ais__graph *g;
    ais__onnx_ext ext;
    bool prefixed; /* the error message already names the innermost field path */
} ais__onnx_ctx;

/* Prefixes the message with `path` unless a deeper level already did; returns st. */
ais_status ais__onnx_fail(ais__onnx_ctx *ctx, ais_status st, const char *path);

/* Reads the NodeProto in msg into the graph; path is like "graph.node[3]". */
ais_status ais__onnx_read_node(ais__onnx_ctx *ctx, const ais__pb *msg, const char *path);

#endif /* AIS_ONNX_TENSOR_H */
