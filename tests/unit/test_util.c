/* test_util.c - shared helpers of the cmocka tests. */
#define _GNU_SOURCE /* program_invocation_short_name, nftw's FTW_PHYS */
#include "test_util.h"

#include "common/common.h"
#include "ir/graph.h"
#include "ops/tree_engine.h"
#include "runtime/model.h"
#include <dlpack/dlpack.h>

#include <errno.h>
#include <ftw.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* ---- random ---- */

static uint64_t ais_test_state;
static bool ais_test_seeded;
static uint64_t ais_test_seed_value;

uint64_t ais_test_seed(void) {
    if (!ais_test_seeded) {
        const char *env = getenv("AIS_TEST_SEED");
        ais_test_seed_value = env ? strtoull(env, NULL, 0) : (uint64_t)time(NULL) ^ (uint64_t)clock();
        ais_test_state = ais_test_seed_value * 0x9E3779B97F4A7C15ull + 1;
        ais_test_seeded = true;
        fprintf(stderr, "random seed: AIS_TEST_SEED=%llu\n", (unsigned long long)ais_test_seed_value);
    }
    return ais_test_seed_value;
}

uint64_t ais_test_rand_u64(void) {
    ais_test_seed();
    /* splitmix64 */
    uint64_t z = (ais_test_state += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

double ais_test_uniform(double lo, double hi) {
    return lo + (hi - lo) * ((double)(ais_test_rand_u64() >> 11) / 9007199254740992.0);
}

int64_t ais_test_randint(int64_t lo, int64_t hi) {
    return lo + (int64_t)(ais_test_rand_u64() % (uint64_t)(hi - lo + 1));
}

void ais_test_fill_uniform(float *p, size_t n, float lo, float hi) {
    for (size_t i = 0; i < n; i++) p[i] = (float)ais_test_uniform(lo, hi);
}

/* ---- tensors ---- */

ais_tensor *ais_test_rand_f32(const int64_t *shape, size_t ndim, float lo, float hi) {
    ais_tensor *t = NULL;
    AIS_ASSERT_OK(ais_tensor_create(AIS_DTYPE_F32, shape, ndim, &t));
    ais_test_fill_uniform(ais_tensor_data(t), ais_tensor_size(t), lo, hi);
    return t;
}

static void ais_test_store(void *data, ais_dtype dt, size_t i, double v) {
    switch (dt) {
    case AIS_DTYPE_F32: ((float *)data)[i] = (float)v; break;
    case AIS_DTYPE_F64: ((double *)data)[i] = v; break;
    case AIS_DTYPE_I8: ((int8_t *)data)[i] = (int8_t)v; break;
    case AIS_DTYPE_U8: ((uint8_t *)data)[i] = (uint8_t)v; break;
    case AIS_DTYPE_BOOL: ((uint8_t *)data)[i] = v != 0; break;
    case AIS_DTYPE_I16: ((int16_t *)data)[i] = (int16_t)v; break;
    case AIS_DTYPE_U16: ((uint16_t *)data)[i] = (uint16_t)v; break;
    case AIS_DTYPE_I32: ((int32_t *)data)[i] = (int32_t)v; break;
    case AIS_DTYPE_U32: ((uint32_t *)data)[i] = (uint32_t)v; break;
    case AIS_DTYPE_I64: ((int64_t *)data)[i] = (int64_t)v; break;
    case AIS_DTYPE_U64: ((uint64_t *)data)[i] = (uint64_t)v; break;
    default: fail_msg("ais_test_tensor: dtype %s not supported by the helper", ais_dtype_name(dt));
    }
}

static double ais_test_load(const void *data, ais_dtype dt, size_t i) {
    switch (dt) {
    case AIS_DTYPE_F32: return ((const float *)data)[i];
    case AIS_DTYPE_F64: return ((const double *)data)[i];
    case AIS_DTYPE_I8: return ((const int8_t *)data)[i];
    case AIS_DTYPE_U8:
    case AIS_DTYPE_BOOL: return ((const uint8_t *)data)[i];
    case AIS_DTYPE_I16: return ((const int16_t *)data)[i];
    case AIS_DTYPE_U16: return ((const uint16_t *)data)[i];
    case AIS_DTYPE_I32: return ((const int32_t *)data)[i];
    case AIS_DTYPE_U32: return ((const uint32_t *)data)[i];
    case AIS_DTYPE_I64: return (double)((const int64_t *)data)[i];
    case AIS_DTYPE_U64: return (double)((const uint64_t *)data)[i];
    case AIS_DTYPE_F16:
    case AIS_DTYPE_BF16: {
        /* widen through the library's own Cast would be circular; decode here */
        uint16_t h = ((const uint16_t *)data)[i];
        if (dt == AIS_DTYPE_BF16) {
            uint32_t bits = (uint32_t)h << 16;
            float f;
            memcpy(&f, &bits, 4);
            return f;
        }
        int e = (h >> 10) & 0x1f, m = h & 0x3ff;
        double s = (h & 0x8000) ? -1 : 1;
        if (e == 0) return s * ldexp(m, -24);
        if (e == 31) return m ? NAN : s * INFINITY;
        return s * ldexp(m + 1024, e - 25);
    }
    default: fail_msg("dtype %s not supported by the test helper", ais_dtype_name(dt));
    }
    return 0;
}

ais_tensor *ais_test_tensor(ais_dtype dtype, const int64_t *shape, size_t ndim,
                            const double *values) {
    ais_tensor *t = NULL;
    AIS_ASSERT_OK(ais_tensor_create(dtype, shape, ndim, &t));
    for (size_t i = 0; i < ais_tensor_size(t); i++)
        ais_test_store(ais_tensor_data(t), dtype, i, values[i]);
    return t;
}

static void ais_test_close_impl(const ais_tensor *got, const void *want_data, ais_dtype want_dt,
                                size_t n, double rtol, double atol) {
    size_t worst = 0;
    double worst_excess = 0;
    bool bad = false;
    for (size_t i = 0; i < n; i++) {
        double g = ais_test_load(ais_tensor_data(got), ais_tensor_dtype(got), i);
        double w = want_dt == AIS_DTYPE_UNDEFINED ? ((const double *)want_data)[i]
                                                  : ais_test_load(want_data, want_dt, i);
        if (isnan(g) && isnan(w)) continue;
        if (isinf(w) && g == w) continue;
        double excess = fabs(g - w) - (atol + rtol * fabs(w));
        if (isnan(g) || isnan(w) || excess > 0) {
            if (!bad || excess > worst_excess || isnan(excess)) {
                worst = i;
                worst_excess = isnan(excess) ? INFINITY : excess;
            }
            bad = true;
        }
    }
    if (bad) {
        double g = ais_test_load(ais_tensor_data(got), ais_tensor_dtype(got), worst);
        double w = want_dt == AIS_DTYPE_UNDEFINED ? ((const double *)want_data)[worst]
                                                  : ais_test_load(want_data, want_dt, worst);
        fail_msg("mismatch: worst at flat index %zu: got %.9g, want %.9g (rtol %g, atol %g)",
                 worst, g, w, rtol, atol);
    }
}

void ais_test_assert_close(const ais_tensor *got, const ais_tensor *want, double rtol,
                           double atol) {
    assert_non_null(got);
    assert_non_null(want);
    assert_int_equal(ais_tensor_dtype(got), ais_tensor_dtype(want));
    assert_int_equal(ais_tensor_ndim(got), ais_tensor_ndim(want));
    for (size_t i = 0; i < ais_tensor_ndim(got); i++)
        assert_int_equal(ais_tensor_shape(got)[i], ais_tensor_shape(want)[i]);
    ais_test_close_impl(got, ais_tensor_data(want), ais_tensor_dtype(want), ais_tensor_size(got),
                        rtol, atol);
}

void ais_test_assert_close_values(const ais_tensor *got, const double *want, size_t n,
                                  double rtol, double atol) {
    assert_non_null(got);
    assert_int_equal(ais_tensor_size(got), n);
    ais_test_close_impl(got, want, AIS_DTYPE_UNDEFINED, n, rtol, atol);
}

void ais_test_assert_error_contains(const char *needle) {
    const char *msg = ais_last_error();
    if (!strstr(msg, needle)) fail_msg("error message '%s' does not contain '%s'", msg, needle);
}

ais_status ais_test_run_op(const char *op, const ais_attrs *attrs, const ais_tensor *const *in,
                           size_t n_in, ais_tensor **out, size_t n_out) {
    return ais_op_run(op, attrs, in, n_in, out, n_out);
}

/* ---- the failing allocator ---- */

static long ais_test_fail_at = -1;
static bool ais_test_persistent;
static long ais_test_count;
static long ais_test_live;

static void *ais_test_alloc(void *ud, size_t size, size_t alignment) {
    (void)ud;
    long n = ais_test_count++;
    if (ais_test_fail_at >= 0 && (n == ais_test_fail_at || (ais_test_persistent && n > ais_test_fail_at)))
        return NULL;
    void *p = NULL;
    if (alignment < sizeof(void *)) alignment = sizeof(void *);
    if (posix_memalign(&p, alignment, size ? size : 1) != 0) return NULL;
    ais_test_live++;
    return p;
}

static void ais_test_free(void *ud, void *p) {
    (void)ud;
    if (!p) return;
    ais_test_live--;
    free(p);
}

void ais_test_alloc_install(long fail_at, bool persistent) {
    ais_test_fail_at = fail_at;
    ais_test_persistent = persistent;
    ais_test_count = 0;
    ais_test_live = 0;
    AIS_ASSERT_OK(ais_set_allocator(ais_test_alloc, ais_test_free, NULL));
}

void ais_test_alloc_remove(void) { ais_set_allocator(NULL, NULL, NULL); }
long ais_test_alloc_live(void) { return ais_test_live; }
long ais_test_alloc_count(void) { return ais_test_count; }

/* Frees what an attempt left in the owned slots, in order, and clears the slots. */
static void ais_test_free_owned(const ais_test_owned *owned, size_t n_owned) {
    for (size_t k = 0; k < n_owned; k++) {
        /* The slots are T * of several types: read and clear them with memcpy (all object
         * pointers share one representation on the platforms we build for). */
        unsigned char *slot = owned[k].slots;
        for (size_t i = 0; i < owned[k].n; i++, slot += sizeof(void *)) {
            void *p = NULL;
            memcpy(&p, slot, sizeof p);
            if (!p) continue;
            switch (owned[k].kind) {
            case AIS_TEST_KIND_TENSOR: ais_tensor_destroy(p); break;
            case AIS_TEST_KIND_SESSION: ais_session_destroy(p); break;
            case AIS_TEST_KIND_MODEL: ais_model_destroy(p); break;
            case AIS_TEST_KIND_PIPELINE: ais_pipeline_destroy(p); break;
            case AIS_TEST_KIND_PIPELINE_ERRORS: ais_pipeline_errors_destroy(p); break;
            case AIS_TEST_KIND_ATTRS: ais_attrs_destroy(p); break;
            case AIS_TEST_KIND_GRAPH: ais__graph_destroy(p); break;
            case AIS_TEST_KIND_TENGINE: ais__tengine_free(p); break;
            case AIS_TEST_KIND_DLPACK: {
                struct DLManagedTensor *m = p;
                m->deleter(m);
                break;
            }
            case AIS_TEST_KIND_MEM: ais__free(p); break;
            default: fail_msg("ais_test_owned: unknown kind %d", (int)owned[k].kind);
            }
            p = NULL;
            memcpy(slot, &p, sizeof p);
        }
    }
}

static long ais_test_sweep_loop(const char *what, ais_test_sweep_fn fn, ais_test_cleanup_fn cleanup,
                                void *ctx, long max_n, const ais_test_owned *owned,
                                size_t n_owned) {
    for (long n = 0; n <= max_n; n++) {
        ais_test_alloc_install(n, false);
        ais_status st = fn(ctx);
        long made = ais_test_count;
        char msg[1024];
        snprintf(msg, sizeof msg, "%s", ais_last_error());
        if (cleanup) cleanup(ctx);
        ais_test_free_owned(owned, n_owned);
        long live = ais_test_live;
        ais_test_alloc_remove();
        if (live != 0)
            fail_msg("%s: failing allocation %ld leaked %ld block(s) (status %s)", what, n, live,
                     ais_status_name(st));
        if (st == AIS_OK) {
            if (made <= n) return n; /* the call needed fewer allocations: done */
            /* A call that succeeds although allocation n failed handled it itself (a fallback)
             * and is fine. Keep sweeping. */
            continue;
        }
        if (st != AIS_E_OUT_OF_MEMORY)
            fail_msg("%s: failing allocation %ld gave %s instead of AIS_E_OUT_OF_MEMORY: %s",
                     what, n, ais_status_name(st), msg);
        if (msg[0] == 0) fail_msg("%s: failing allocation %ld gave no message", what, n);
    }
    fail_msg("%s: still failing after %ld allocations", what, max_n);
    return -1;
}

long ais_test_oom_sweep(const char *what, ais_test_sweep_fn fn, ais_test_cleanup_fn cleanup,
                        void *ctx, long max_n) {
    return ais_test_sweep_loop(what, fn, cleanup, ctx, max_n, NULL, 0);
}

long ais_test_oom_sweep_owned(const char *what, ais_test_sweep_fn fn, void *ctx, long max_n,
                              const ais_test_owned *owned, size_t n_owned) {
    return ais_test_sweep_loop(what, fn, NULL, ctx, max_n, owned, n_owned);
}

/* ---- temporary files ---- */

static char ais_test_dir[256];

const char *ais_test_tmpdir(void) {
    if (!ais_test_dir[0]) {
#ifdef __GLIBC__
        const char *prog = program_invocation_short_name;
#else
        const char *prog = "test";
#endif
        /* "test_npy" gives /tmp/ais_test_npy_XXXXXX, as the tests named their own before. */
        int len = snprintf(ais_test_dir, sizeof ais_test_dir, "/tmp/ais_%s_XXXXXX", prog);
        assert_true(len > 0 && (size_t)len < sizeof ais_test_dir);
        if (!mkdtemp(ais_test_dir)) {
            int err = errno;
            ais_test_dir[0] = 0;
            fail_msg("mkdtemp: %s", strerror(err));
        }
    }
    return ais_test_dir;
}

const char *ais_test_tmp_path(const char *name) {
    static char buf[AIS_TEST_TMP_PATHS][512];
    static int k;
    const char *dir = ais_test_tmpdir();
    k = (k + 1) % AIS_TEST_TMP_PATHS;
    int len = snprintf(buf[k], sizeof buf[k], "%s/%s", dir, name);
    assert_true(len > 0 && (size_t)len < sizeof buf[k]);
    return buf[k];
}

uint8_t *ais_test_slurp(const char *path, size_t *size) {
    FILE *f = fopen(path, "rb");
    if (!f) fail_msg("cannot open %s: %s", path, strerror(errno));
    assert_int_equal(fseek(f, 0, SEEK_END), 0);
    long n = ftell(f);
    assert_true(n >= 0);
    assert_int_equal(fseek(f, 0, SEEK_SET), 0);
    uint8_t *p = malloc((size_t)n + 1);
    assert_non_null(p);
    assert_int_equal(fread(p, 1, (size_t)n, f), (size_t)n);
    fclose(f);
    *size = (size_t)n;
    return p;
}

void ais_test_spit(const char *path, const void *p, size_t n) {
    FILE *f = fopen(path, "wb");
    if (!f) fail_msg("cannot create %s: %s", path, strerror(errno));
    assert_int_equal(fwrite(p, 1, n, f), n);
    assert_int_equal(fclose(f), 0);
}

static int ais_test_remove_one(const char *path, const struct stat *sb, int type, struct FTW *ftw) {
    (void)sb;
    (void)type;
    (void)ftw;
    if (remove(path) != 0) {
        fprintf(stderr, "cannot remove %s: %s\n", path, strerror(errno));
        return -1;
    }
    return 0;
}

int ais_test_tmpdir_remove(void) {
    if (!ais_test_dir[0]) return 0;
    /* Depth first (contents before their directory); FTW_PHYS: a symlink the tests made to /etc
     * is removed, never followed. */
    int rc = nftw(ais_test_dir, ais_test_remove_one, 16, FTW_DEPTH | FTW_PHYS);
    if (rc == 0) ais_test_dir[0] = 0;
    return rc == 0 ? 0 : 1;
}

/* ---- graph builders ---- */

void ais_test_graph_input(ais__graph *g, const char *name, ais_dtype dtype, const int64_t *dims,
                          size_t ndim, const char *const *dim_names) {
    int32_t v;
    AIS_ASSERT_OK(ais__graph_value(g, name, &v));
    AIS_ASSERT_OK(ais__graph_declare(g, v, dtype, (int32_t)ndim, dims, dim_names));
    AIS_ASSERT_OK(ais__graph_add_input(g, v));
}

ais__graph *ais_test_graph_new(int64_t opset) {
    ais__graph *g = NULL;
    AIS_ASSERT_OK(ais__graph_create(&g));
    AIS_ASSERT_OK(ais__graph_set_opset(g, "", opset));
    return g;
}

ais_status ais_test_model_try_level(ais__graph *g, int64_t opt_level, ais_model **m) {
    ais_options *o = NULL;
    ais_status st;
    *m = NULL;
    if ((st = ais_options_create(&o)) ||
        (st = ais_options_set_int(o, AIS_OPT_OPT_LEVEL, opt_level))) {
        ais_options_destroy(o);
        ais__graph_destroy(g);
        return st;
    }
    st = ais__model_from_graph(g, o, m); /* takes g, also when it fails */
    ais_options_destroy(o);
    return st;
}

ais_model *ais_test_model_at_level(ais__graph *g, int64_t opt_level) {
    ais_model *m = NULL;
    AIS_ASSERT_OK(ais_test_model_try_level(g, opt_level, &m));
    return m;
}

ais_tensor *ais_test_run_xy(ais_model *m, const ais_tensor *x) {
    ais_session *ses = NULL;
    AIS_ASSERT_OK(ais_session_create(m, NULL, &ses));
    const char *in_names[1] = {"x"}, *out_names[1] = {"y"};
    ais_tensor *y = NULL;
    AIS_ASSERT_OK(ais_session_run(ses, in_names, &x, 1, out_names, &y, 1));
    ais_session_destroy(ses);
    return y;
}

ais_status ais_test_op_model(const char *op, int64_t opset, ais_attrs *attrs, ais_dtype dtype,
                             const int64_t *dims, size_t ndim, ais_model **m) {
    ais__graph *g = NULL;
    int32_t v;
    *m = NULL;
    ais_status st = ais__graph_create(&g);
    if (st != AIS_OK) {
        ais_attrs_destroy(attrs);
        return st;
    }
    const char *ins[1] = {"x"}, *outs[1] = {"y"};
    if ((st = ais__graph_set_opset(g, "", opset)) || (st = ais__graph_value(g, "x", &v)) ||
        (st = ais__graph_declare(g, v, dtype, (int32_t)ndim, dims, NULL)) ||
        (st = ais__graph_add_input(g, v))) {
        ais_attrs_destroy(attrs);
        ais__graph_destroy(g);
        return st;
    }
    /* the node takes attrs, also when it fails */
    if ((st = ais__graph_add_node(g, "node", op, "", attrs, ins, 1, outs, 1, NULL)) ||
        (st = ais__graph_value(g, "y", &v)) || (st = ais__graph_add_output(g, v))) {
        ais__graph_destroy(g);
        return st;
    }
    return ais_test_model_try_level(g, 1, m);
}

ais_tensor *ais_test_run_xy_twice(ais_model *m, const ais_tensor *x) {
    ais_session *ses = NULL;
    AIS_ASSERT_OK(ais_session_create(m, NULL, &ses));
    const char *in_names[1] = {"x"}, *out_names[1] = {"y"};
    ais_tensor *y[2] = {NULL, NULL};
    for (int k = 0; k < 2; k++)
        AIS_ASSERT_OK(ais_session_run(ses, in_names, &x, 1, out_names, &y[k], 1));
    ais_session_destroy(ses);
    assert_int_equal(ais_tensor_dtype(y[0]), ais_tensor_dtype(y[1]));
    assert_int_equal(ais_tensor_nbytes(y[0]), ais_tensor_nbytes(y[1]));
    assert_memory_equal(ais_tensor_data(y[0]), ais_tensor_data(y[1]), ais_tensor_nbytes(y[0]));
    ais_tensor_destroy(y[1]);
    return y[0];
}

void ais_test_graph_const(ais__graph *g, const char *name, ais_tensor *t) {
    int32_t v;
    AIS_ASSERT_OK(ais__graph_value(g, name, &v));
    AIS_ASSERT_OK(ais__graph_set_constant(g, v, t));
}

/* The graph takes t as the constant `name`; t is freed when that fails. */
static ais_status ais_test_graph_take_const(ais__graph *g, const char *name, ais_tensor *t) {
    int32_t v;
    ais_status st = ais__graph_value(g, name, &v);
    if (st != AIS_OK) {
        ais_tensor_destroy(t);
        return st;
    }
    return ais__graph_set_constant(g, v, t);
}

ais_status ais_test_graph_copy_const(ais__graph *g, const char *name, const ais_tensor *src) {
    ais_tensor *t = NULL;
    AIS__CHECK(ais_tensor_create(src->dtype, src->dims, src->ndim, &t));
    memcpy(t->data, src->data, src->nbytes);
    return ais_test_graph_take_const(g, name, t);
}

ais_status ais_test_graph_scalar_const(ais__graph *g, const char *name, float f) {
    ais_tensor *t = NULL;
    AIS__CHECK(ais_tensor_create(AIS_DTYPE_F32, NULL, 0, &t));
    *(float *)t->data = f;
    return ais_test_graph_take_const(g, name, t);
}

void ais_test_graph_output(ais__graph *g, const char *name) {
    int32_t v;
    AIS_ASSERT_OK(ais__graph_value(g, name, &v));
    AIS_ASSERT_OK(ais__graph_add_output(g, v));
}

ais_status ais_test_graph_conv(ais__graph *g, const char *name, const char *x, const char *w,
                               const char *b, const int64_t *pads, int64_t group, const char *y) {
    ais_attrs *a = NULL;
    ais_status st = ais_attrs_create(&a);
    if (st == AIS_OK && pads) st = ais_attrs_set_ints(a, "pads", pads, 4);
    if (st == AIS_OK && group != 1) st = ais_attrs_set_int(a, "group", group);
    if (st != AIS_OK) {
        ais_attrs_destroy(a);
        return st;
    }
    const char *ins[3] = {x, w, b}, *outs[1] = {y};
    return ais__graph_add_node(g, name, "Conv", "", a, ins, b ? 3 : 2, outs, 1, NULL); /* takes a */
}

void ais_test_graph_node(ais__graph *g, const char *name, const char *op, const char *in0,
                         const char *in1, const char *out) {
    const char *ins[2] = {in0, in1};
    const char *outs[1] = {out};
    AIS_ASSERT_OK(ais__graph_add_node(g, name, op, "", NULL, ins, in1 ? 2 : (in0 ? 1 : 0), outs,
                                      1, NULL));
}
