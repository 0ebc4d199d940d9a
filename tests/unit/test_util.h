/*
 * test_util.h - what the cmocka tests share: seeded random data, tensors from literals, a
 * counting allocator that fails on demand, and comparison helpers.
 */
#ifndef AIS_TEST_UTIL_H
#define AIS_TEST_UTIL_H

#include <aistack/aistack.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
/* cmocka.h needs the three headers above first. */
#include <cmocka.h>

/* ---- random data: seeded from AIS_TEST_SEED or the clock, printed once so a failure can be
 * replayed ---- */
uint64_t ais_test_seed(void);
uint64_t ais_test_rand_u64(void);
/* Uniform in [lo, hi). */
double ais_test_uniform(double lo, double hi);
int64_t ais_test_randint(int64_t lo, int64_t hi); /* [lo, hi] */
void ais_test_fill_uniform(float *p, size_t n, float lo, float hi);

/* ---- tensors ---- */
/* A new f32 tensor of `shape` filled uniformly in [lo, hi); fails the test on error. */
ais_tensor *ais_test_rand_f32(const int64_t *shape, size_t ndim, float lo, float hi);
/* A new tensor of `dtype` with the given values (as doubles, converted), fails on error. */
ais_tensor *ais_test_tensor(ais_dtype dtype, const int64_t *shape, size_t ndim,
                            const double *values);
#define AIS_SHAPE(...) ((const int64_t[]){__VA_ARGS__}), (sizeof((int64_t[]){__VA_ARGS__}) / sizeof(int64_t))

/* Asserts that got and want have the same dtype and shape and that every element satisfies
 * |got - want| <= atol + rtol * |want| (NaN equals NaN); on failure prints the worst index. */
void ais_test_assert_close(const ais_tensor *got, const ais_tensor *want, double rtol,
                           double atol);
/* Same against a plain double array in row-major order. */
void ais_test_assert_close_values(const ais_tensor *got, const double *want, size_t n,
                                  double rtol, double atol);
/* Asserts status == want, and prints the library's message when it is not. */
#define AIS_ASSERT_STATUS(expr, want)                                                              \
    do {                                                                                           \
        ais_status st_ = (expr);                                                                   \
        if (st_ != (want))                                                                         \
            fail_msg("%s returned %s, expected %s: %s", #expr, ais_status_name(st_),               \
                     ais_status_name(want), ais_last_error());                                     \
    } while (0)
#define AIS_ASSERT_OK(expr) AIS_ASSERT_STATUS(expr, AIS_OK)
/* Asserts that the last error message contains `needle`. */
void ais_test_assert_error_contains(const char *needle);

/* Runs one operator with optional attrs; the outputs land in out[]. */
ais_status ais_test_run_op(const char *op, const ais_attrs *attrs, const ais_tensor *const *in,
                           size_t n_in, ais_tensor **out, size_t n_out);

/* ---- the failing allocator ---- */
/* Installs a counting allocator through ais_set_allocator: the allocation numbered `fail_at`
 * (0-based) and, if `persistent`, every later one returns NULL; fail_at < 0 never fails. */
void ais_test_alloc_install(long fail_at, bool persistent);
/* Restores the default allocator. Asserts nothing. */
void ais_test_alloc_remove(void);
/* Blocks allocated through the counting allocator and not yet freed. */
long ais_test_alloc_live(void);
/* Allocations made since install. */
long ais_test_alloc_count(void);

/*
 * The allocation-failure sweep: for N = 0, 1, 2, ... fails the Nth allocation of `fn(ctx)`
 * until it returns AIS_OK. Each failure must return AIS_E_OUT_OF_MEMORY with a message and leave
 * no block allocated beyond what `fn` left on success paths (`cleanup(ctx)` is called after
 * every attempt, failed or not, and must free what fn made). Fails the test otherwise, and when
 * more than `max_n` attempts are needed. Returns the number of allocations of a clean run.
 */
typedef ais_status (*ais_test_sweep_fn)(void *ctx);
typedef void (*ais_test_cleanup_fn)(void *ctx);
long ais_test_oom_sweep(const char *what, ais_test_sweep_fn fn, ais_test_cleanup_fn cleanup,
                        void *ctx, long max_n);

/*
 * The same sweep without a hand-written clean-up for the common case "fn stores what it makes
 * in the caller's variables": each ais_test_owned names such variables (slots) and how to free
 * them; after every attempt the sweep frees the non-NULL ones, in the order given, and sets them
 * to NULL. The AIS_OWN_* macros check the slot's type at compile time, e.g.
 *     AIS_TEST_OOM_SWEEP("Add", run, &c, 20, AIS_OWN_TENSORS(c.out), AIS_OWN_SESSION(&c.s));
 * A sweep that frees nothing passes no AIS_OWN_* (then use ais_test_oom_sweep with NULL).
 */
typedef enum ais_test_kind {
    AIS_TEST_KIND_TENSOR,          /* ais_tensor_destroy */
    AIS_TEST_KIND_SESSION,         /* ais_session_destroy */
    AIS_TEST_KIND_MODEL,           /* ais_model_destroy */
    AIS_TEST_KIND_PIPELINE,        /* ais_pipeline_destroy */
    AIS_TEST_KIND_PIPELINE_ERRORS, /* ais_pipeline_errors_destroy */
    AIS_TEST_KIND_ATTRS,           /* ais_attrs_destroy */
    AIS_TEST_KIND_GRAPH,           /* ais__graph_destroy */
    AIS_TEST_KIND_TENGINE,         /* ais__tengine_free */
    AIS_TEST_KIND_DLPACK,          /* the DLManagedTensor's own deleter */
    AIS_TEST_KIND_MEM              /* ais__free */
} ais_test_kind;
typedef struct ais_test_owned {
    ais_test_kind kind;
    void *slots; /* n pointers of the kind's type */
    size_t n;
} ais_test_owned;
long ais_test_oom_sweep_owned(const char *what, ais_test_sweep_fn fn, void *ctx, long max_n,
                              const ais_test_owned *owned, size_t n_owned);
#define AIS_TEST_OOM_SWEEP(what, fn, ctx, max_n, ...)                                              \
    ais_test_oom_sweep_owned((what), (fn), (ctx), (max_n), (const ais_test_owned[]){__VA_ARGS__},  \
                             sizeof((const ais_test_owned[]){__VA_ARGS__}) /                       \
                                 sizeof(ais_test_owned))
/* `1 ? slot : (T **)0` does not compile quietly unless slot is a T ** (or a T *[n]). */
#define AIS_TEST_OWN_(kind, T, slot, n)                                                            \
    ((ais_test_owned){(kind), (void *)(1 ? (slot) : (T **)0), (n)})
#define AIS_TEST_NELEM_(arr) (sizeof(arr) / sizeof((arr)[0]))
struct ais__graph;
struct ais__tengine;
struct DLManagedTensor;
#define AIS_OWN_TENSOR(p) AIS_TEST_OWN_(AIS_TEST_KIND_TENSOR, ais_tensor, p, 1)
#define AIS_OWN_TENSORS(arr)                                                                       \
    AIS_TEST_OWN_(AIS_TEST_KIND_TENSOR, ais_tensor, arr, AIS_TEST_NELEM_(arr))
#define AIS_OWN_SESSION(p) AIS_TEST_OWN_(AIS_TEST_KIND_SESSION, ais_session, p, 1)
#define AIS_OWN_MODEL(p) AIS_TEST_OWN_(AIS_TEST_KIND_MODEL, ais_model, p, 1)
#define AIS_OWN_PIPELINE(p) AIS_TEST_OWN_(AIS_TEST_KIND_PIPELINE, ais_pipeline, p, 1)
#define AIS_OWN_PIPELINE_ERRORS(p)                                                                 \
    AIS_TEST_OWN_(AIS_TEST_KIND_PIPELINE_ERRORS, ais_pipeline_errors, p, 1)
#define AIS_OWN_ATTRS(p) AIS_TEST_OWN_(AIS_TEST_KIND_ATTRS, ais_attrs, p, 1)
#define AIS_OWN_GRAPH(p) AIS_TEST_OWN_(AIS_TEST_KIND_GRAPH, struct ais__graph, p, 1)
#define AIS_OWN_TENGINE(p) AIS_TEST_OWN_(AIS_TEST_KIND_TENGINE, struct ais__tengine, p, 1)
#define AIS_OWN_DLPACK(p) AIS_TEST_OWN_(AIS_TEST_KIND_DLPACK, struct DLManagedTensor, p, 1)
#define AIS_OWN_MEM(p) AIS_TEST_OWN_(AIS_TEST_KIND_MEM, char, p, 1)

/* ---- temporary files: one directory per process, /tmp/ais_<program>_XXXXXX, made on first
 * use; fail the test on error ---- */
/* The directory itself (made if need be). */
const char *ais_test_tmpdir(void);
/* "<tmpdir>/<name>", in a ring of AIS_TEST_TMP_PATHS buffers: valid until that many later calls,
 * so a test may hold several paths at once. */
#define AIS_TEST_TMP_PATHS 8
const char *ais_test_tmp_path(const char *name);
/* The whole file at `path` in a malloc'ed buffer (one spare byte at the end; free() it). */
uint8_t *ais_test_slurp(const char *path, size_t *size);
/* Writes n bytes at p to `path`, replacing the file. */
void ais_test_spit(const char *path, const void *p, size_t n);
/* Removes the directory and everything in it (symlinks not followed), if it was made; returns 0
 * on success, so a group teardown can return it. */
int ais_test_tmpdir_remove(void);

/* ---- building graphs with the internal IR (ir/graph.h); fail the test on error ---- */
/* An empty graph importing the default domain at `opset`. */
struct ais__graph *ais_test_graph_new(int64_t opset);
/* The model of g (which it takes) at optimization level opt_level (AIS_OPT_OPT_LEVEL). */
ais_model *ais_test_model_at_level(struct ais__graph *g, int64_t opt_level);
/* The same as a status, for builders that run under the failing allocator: g is taken (freed)
 * whatever happens. */
ais_status ais_test_model_try_level(struct ais__graph *g, int64_t opt_level, ais_model **m);
/* One run of m in a session of its own: the input named "x" in, the output named "y" out. */
ais_tensor *ais_test_run_xy(ais_model *m, const ais_tensor *x);
/* The model of one node of the default domain at `opset`: graph input "x" of dtype and shape ->
 * op (attrs, which it takes; may be NULL) -> graph output "y", at optimization level 1. A status,
 * so that a test sees a load fail (a node's prepare runs at load). */
ais_status ais_test_op_model(const char *op, int64_t opset, ais_attrs *attrs, ais_dtype dtype,
                             const int64_t *dims, size_t ndim, ais_model **m);
/* Two runs of x through one session of m: asserts that they give the same y, bit for bit, and
 * returns it. */
ais_tensor *ais_test_run_xy_twice(ais_model *m, const ais_tensor *x);
/* A graph input of `dtype` and shape (dims may hold -1; dim_names may be NULL). */
void ais_test_graph_input(struct ais__graph *g, const char *name, ais_dtype dtype,
                          const int64_t *dims, size_t ndim, const char *const *dim_names);
/* A constant value; the graph takes `t`. */
void ais_test_graph_const(struct ais__graph *g, const char *name, ais_tensor *t);
/* The same with a copy of src, as a status, for builders that run under the failing allocator
 * (the copy is freed when it fails). */
ais_status ais_test_graph_copy_const(struct ais__graph *g, const char *name, const ais_tensor *src);
/* A constant f32 scalar, as a status in the same way. */
ais_status ais_test_graph_scalar_const(struct ais__graph *g, const char *name, float f);
void ais_test_graph_output(struct ais__graph *g, const char *name);
/* A Conv node (the default domain) y = Conv(x, w[, b]): b NULL for none; pads (4 values: the
 * begins, then the ends of H and W) NULL for none; group 1 sets no attribute. A status, for
 * builders that run under the failing allocator (its attributes are freed when it fails). */
ais_status ais_test_graph_conv(struct ais__graph *g, const char *name, const char *x, const char *w,
                               const char *b, const int64_t *pads, int64_t group, const char *y);
/* A node of the default domain with up to two inputs (NULL: absent) and one output. */
void ais_test_graph_node(struct ais__graph *g, const char *name, const char *op, const char *in0,
                         const char *in1, const char *out);

#endif
