/*
 * graph.h - the one intermediate representation that every loader produces and the executor
 * runs: values (name, dtype, shape with symbolic dims, optional constant data) and nodes
 * (operator, attributes, input and output values).
 *
 * Loaders build a graph with the ais__graph_* functions below, in any order; the executor
 * (session) sorts, checks and plans it. Names are unique per value. Constant data (initializers)
 * is usually borrowed from a memory-mapped file that the graph keeps alive (ais__graph_hold).
 */
#ifndef AIS_GRAPH_H
#define AIS_GRAPH_H

#include "ops/op.h"

/* An extent that is not known until run time. */
#define AIS__DIM_DYNAMIC (-1)

enum {
    AIS__VALUE_INPUT = 1u << 0,  /* a graph input the caller provides */
    AIS__VALUE_OUTPUT = 1u << 1, /* a graph output */
    AIS__VALUE_CONST = 1u << 2,  /* has constant data (an initializer or a folded result) */
};

typedef struct ais__value {
    char *name;
    ais_dtype dtype; /* AIS_DTYPE_UNDEFINED when not declared */
    int32_t ndim;    /* -1: rank unknown */
    int64_t dims[AIS_MAX_DIMS];     /* AIS__DIM_DYNAMIC for unknown extents */
    char *dim_names[AIS_MAX_DIMS];  /* symbolic names of dynamic extents, or NULL */
    ais_tensor *constant;           /* the data when AIS__VALUE_CONST */
    int32_t producer;               /* index of the node that outputs it, or -1 */
    uint32_t flags;
} ais__value;

typedef struct ais__node {
    char *name;
    char *op_type;
    char *domain; /* "" for ai.onnx */
    ais_attrs *attrs;
    int32_t *inputs; /* value indices; -1 marks an omitted optional input */
    size_t n_inputs;
    int32_t *outputs; /* value indices; -1 marks an omitted optional output */
    size_t n_outputs;
    int32_t index; /* position among the nodes as loaded (before sorting and folding) */
} ais__node;

typedef struct ais__opset {
    char *domain;
    int64_t version;
} ais__opset;

typedef struct ais__meta {
    char *key;
    char *value;
} ais__meta;

/* Something the graph keeps alive because constants borrow from it (a mapped file). */
typedef struct ais__hold {
    void (*release)(void *ctx);
    void *ctx;
} ais__hold;

typedef struct ais__graph {
    ais__value *values;
    size_t n_values, cap_values;
    ais__node *nodes;
    size_t n_nodes, cap_nodes;
    int32_t *inputs; /* graph inputs in declaration order (not initializers) */
    size_t n_inputs, cap_inputs;
    int32_t *outputs;
    size_t n_outputs, cap_outputs;
    ais__opset *opsets;
    size_t n_opsets;
    ais__meta *meta;
    size_t n_meta;
    ais__hold *holds;
    size_t n_holds;
    /* A .ais PIPELINE section as the reader found it (pipeline_input NULL: none): the name of
     * the input it feeds and its spec's JSON bytes, one block owned through a hold. The reader
     * only parses the section; compiling and checking it is the runtime's (model.c), so that
     * lib/format does not call up into lib/pipeline. */
    const char *pipeline_input;
    const char *pipeline_spec;
    size_t pipeline_spec_len;
    /* The feature pipeline compiled from that spec, which feeds the graph's single input, or
     * NULL. Set by the runtime, owned through a hold (the graph module does not know pipelines). */
    struct ais_pipeline *pipeline;
    /* A .ais DRIFT section's bytes (the reference profile, lib/monitor's layout), owned through
     * a hold, or NULL; and the profile the runtime made of them (owned through a hold). */
    const uint8_t *drift_profile;
    size_t drift_profile_len;
    struct ais_profile *profile;
    /* name -> value index, open addressing */
    int32_t *index;
    size_t index_cap;
} ais__graph;

ais_status ais__graph_create(ais__graph **out);
void ais__graph_destroy(ais__graph *g);
/* Frees what a node owns (names, attributes, index arrays); the node itself is not freed. */
void ais__graph_node_clear(ais__node *n);

/* How messages name a node: "node 'conv1'", or "graph.node[17]" (its position in the file)
 * when it has no name, as most exported ONNX nodes have none. Writes into buf and returns it. */
#define AIS__NODE_LABEL_MAX 256
const char *ais__node_label(const ais__node *n, char *buf, size_t size);

/* The tensor of input k of node n when it is baked into the model (a constant the caller cannot
 * feed: not also a graph input), or NULL: what load-time rewrites may read and transform. */
const ais_tensor *ais__graph_baked_input(const ais__graph *g, const ais__node *n, size_t k);

/* Index of the value called `name`, or -1. */
int32_t ais__graph_find(const ais__graph *g, const char *name);
/* The value called `name`, created (undeclared dtype, unknown rank) if it does not exist yet. */
ais_status ais__graph_value(ais__graph *g, const char *name, int32_t *index);
/* Declares dtype and shape of a value (dims may hold AIS__DIM_DYNAMIC; dim_names may be NULL or
 * hold NULLs). ndim -1 leaves the rank unknown. */
ais_status ais__graph_declare(ais__graph *g, int32_t value, ais_dtype dtype, int32_t ndim,
                              const int64_t *dims, const char *const *dim_names);
/* Makes a value constant; the graph takes ownership of `t`. */
ais_status ais__graph_set_constant(ais__graph *g, int32_t value, ais_tensor *t);
ais_status ais__graph_add_input(ais__graph *g, int32_t value);
ais_status ais__graph_add_output(ais__graph *g, int32_t value);

/*
 * Adds a node. Input and output names are looked up or created; an empty or NULL name is an
 * omitted optional slot (-1). The graph takes ownership of `attrs` (also on failure); attrs may
 * be NULL. *index receives the node's index when not NULL.
 */
ais_status ais__graph_add_node(ais__graph *g, const char *name, const char *op_type,
                               const char *domain, ais_attrs *attrs, const char *const *inputs,
                               size_t n_inputs, const char *const *outputs, size_t n_outputs,
                               int32_t *index);

/* Sets the opset version imported for `domain` ("" or "ai.onnx" are the default domain). */
ais_status ais__graph_set_opset(ais__graph *g, const char *domain, int64_t version);
/* The imported version for domain, or 0 when not imported. */
int64_t ais__graph_opset(const ais__graph *g, const char *domain);
/* Adds or replaces a metadata entry. */
ais_status ais__graph_set_meta(ais__graph *g, const char *key, const char *value);
const char *ais__graph_meta(const ais__graph *g, const char *key);
/* Keeps `ctx` alive until the graph is destroyed, then calls release(ctx). On failure release
 * is called at once. */
ais_status ais__graph_hold(ais__graph *g, void (*release)(void *ctx), void *ctx);

#endif /* AIS_GRAPH_H */
