/*
 * bench_ops.c - operator micro-benchmarks: the baseline that performance work improves on.
 *
 *   MatMul GFLOP/s against OpenBLAS's sgemm called directly on the same buffers,
 *   Conv GFLOP/s on typical CNN layers,
 *   elementwise and Softmax GB/s against a plain memcpy of the same bytes,
 * at 1 and 2 threads; then the operators that run on the CPU kernel table (lib/cpu: vector math,
 * softmax rows, row reductions) at every instruction-set level this CPU has, side by side
 * (ais_set_cpu_isa), at 1 thread. Prints tables with the machine's name and writes JSON.
 *
 * and our packed GEMM (lib/cpu/cpu_gemm.c, each ISA, per-call and pre-packed B) against
 * OpenBLAS as GFLOP/s and fractions of the per-core FMA peak measured with an FMA loop, systems
 * alternating round by round (the FMA loop is one of them: the core's clock moves with the other
 * cores' load); first the micro-kernel alone on L2-resident panels, the ceiling of the product.
 *
 *   bench_ops [--json FILE] [--quick] [--isa-only] [--gemm-only]
 *
 * Each figure is the median of repeated timed batches after a warm-up; ratios compare systems
 * measured in the same run, since absolute numbers on shared machines drift.
 */
#include <aistack/aistack.h>
#include <cblas.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "common/common.h"
#include "cpu/cpu.h"
#include "gemm_loop.h"

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

typedef void (*bench_fn)(void *ctx);

/* Median seconds per call: warm-up, then batches sized to ~20 ms, `reps` batches. */
static double time_median(bench_fn fn, void *ctx, int reps) {
    fn(ctx);
    double t0 = now_s();
    int n = 0;
    while (now_s() - t0 < 0.02 || n < 1) {
        fn(ctx);
        n++;
    }
    double per = (now_s() - t0) / n;
    int batch = per > 0.02 ? 1 : (int)(0.02 / per) + 1;
    double samples[64];
    if (reps > 64) reps = 64;
    for (int r = 0; r < reps; r++) {
        double s = now_s();
        for (int i = 0; i < batch; i++)
            fn(ctx);
        samples[r] = (now_s() - s) / batch;
    }
    qsort(samples, (size_t)reps, sizeof samples[0], cmp_double);
    return samples[reps / 2];
}

static void die(const char *what) {
    fprintf(stderr, "bench_ops: %s: %s\n", what, ais_last_error());
    exit(1);
}

static ais_tensor *rand_tensor(const int64_t *shape, size_t ndim) {
    ais_tensor *t;
    if (ais_tensor_create(AIS_DTYPE_F32, shape, ndim, &t) != AIS_OK) die("tensor");
    float *p = ais_tensor_data(t);
    for (size_t i = 0; i < ais_tensor_size(t); i++)
        p[i] = (float)rand() / (float)RAND_MAX - 0.5f;
    return t;
}

/* ---- one operator call on preallocated outputs ---- */
typedef struct {
    const char *op;
    ais_attrs *attrs;
    const ais_tensor *in[3];
    size_t n_in;
    ais_tensor *out;
} op_call;

static void run_op(void *p) {
    op_call *c = p;
    if (ais_op_run(c->op, c->attrs, c->in, c->n_in, &c->out, 1) != AIS_OK) die(c->op);
}

typedef struct {
    const char *op;
    int64_t opset;
    const ais_attrs *attrs;
    const ais_tensor *x;
    ais_tensor *out;
} opset_call;

static void run_op_opset(void *p) {
    opset_call *c = p;
    const ais_tensor *in[1] = {c->x};
    if (ais_op_run_opset("", c->op, c->opset, c->attrs, in, 1, &c->out, 1) != AIS_OK) die(c->op);
}

typedef struct {
    int m, n, k;
    const float *a, *b;
    float *c;
} gemm_call;

static void run_blas(void *p) {
    gemm_call *g = p;
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, g->m, g->n, g->k, 1.0f, g->a, g->k, g->b,
                g->n, 0.0f, g->c, g->n);
}

typedef struct {
    void *dst;
    const void *src;
    size_t n;
} copy_call;

static void run_memcpy(void *p) {
    copy_call *c = p;
    memcpy(c->dst, c->src, c->n);
}

static FILE *json;
static int json_first = 1;

static void record(const char *kind, const char *name, int threads, const char *unit, double ours,
                   double peer, const char *peer_name) {
    double ratio = peer > 0 ? ours / peer : 0;
    printf("| %-9s | %-28s | %7d | %10.2f %-6s | %10.2f %-6s | %-8s | %5.2f |\n", kind, name,
           threads, ours, unit, peer, unit, peer_name, ratio);
    if (json) {
        fprintf(json,
                "%s\n  {\"kind\": \"%s\", \"name\": \"%s\", \"threads\": %d, \"unit\": \"%s\", "
                "\"libaistack\": %.4f, \"peer\": \"%s\", \"peer_value\": %.4f}",
                json_first ? "" : ",", kind, name, threads, unit, ours, peer_name, peer);
        json_first = 0;
    }
}

static void bench_matmul(int threads, int reps, int size) {
    int64_t sa[2] = {size, size};
    ais_tensor *a = rand_tensor(sa, 2), *b = rand_tensor(sa, 2), *c = NULL;
    op_call call = {.op = "MatMul", .in = {a, b}, .n_in = 2};
    double t = time_median(run_op, &call, reps);
    c = call.out;
    gemm_call g = {size, size, size, ais_tensor_data(a), ais_tensor_data(b), ais_tensor_data(c)};
    double tb = time_median(run_blas, &g, reps);
    double flop = 2.0 * size * size * size;
    char name[64];
    snprintf(name, sizeof name, "MatMul %dx%dx%d", size, size, size);
    record("matmul", name, threads, "GFLOP/s", flop / t * 1e-9, flop / tb * 1e-9, "OpenBLAS");
    ais_tensor_destroy(a);
    ais_tensor_destroy(b);
    ais_tensor_destroy(c);
}

static void bench_conv(int threads, int reps, const char *label, int64_t n, int64_t cin, int64_t h,
                       int64_t cout, int64_t k, int64_t stride, int64_t group) {
    int64_t sx[4] = {n, cin, h, h}, sw[4] = {cout, cin / group, k, k};
    ais_tensor *x = rand_tensor(sx, 4), *w = rand_tensor(sw, 4);
    ais_attrs *attrs;
    if (ais_attrs_create(&attrs) != AIS_OK) die("attrs");
    int64_t pads[4] = {k / 2, k / 2, k / 2, k / 2}, strides[2] = {stride, stride};
    ais_attrs_set_ints(attrs, "pads", pads, 4);
    ais_attrs_set_ints(attrs, "strides", strides, 2);
    ais_attrs_set_int(attrs, "group", group);
    op_call call = {.op = "Conv", .attrs = attrs, .in = {x, w}, .n_in = 2};
    double t = time_median(run_op, &call, reps);
    const int64_t *os = ais_tensor_shape(call.out);
    double flop = 2.0 * (double)(os[0] * os[1] * os[2] * os[3]) * (double)(cin / group * k * k);
    /* The peer: OpenBLAS running the GEMM the convolution reduces to (per group: M = output
     * channels, N = output pixels, K = input channels x kernel), without the im2col. */
    int gm = (int)(cout / group), gn = (int)(os[2] * os[3]), gk = (int)(cin / group * k * k);
    float *ga = calloc((size_t)gm * gk, 4), *gb = calloc((size_t)gk * gn, 4),
          *gc = calloc((size_t)gm * gn, 4);
    gemm_call g = {gm, gn, gk, ga, gb, gc};
    double tg = time_median(run_blas, &g, reps) * (double)(group * n);
    record("conv", label, threads, "GFLOP/s", flop / t * 1e-9, flop / tg * 1e-9, "sgemm");
    free(ga);
    free(gb);
    free(gc);
    ais_tensor_destroy(call.out);
    ais_tensor_destroy(x);
    ais_tensor_destroy(w);
    ais_attrs_destroy(attrs);
}

static void bench_bandwidth(int threads, int reps, const char *op, int64_t rows, int64_t cols,
                            int binary) {
    int64_t s[2] = {rows, cols};
    ais_tensor *a = rand_tensor(s, 2), *b = binary ? rand_tensor(s, 2) : NULL;
    op_call call = {.op = op, .in = {a, b}, .n_in = binary ? 2 : 1};
    double t = time_median(run_op, &call, reps);
    size_t moved = ais_tensor_nbytes(a) * (binary ? 3 : 2); /* read inputs, write output */
    copy_call cc = {ais_tensor_data(call.out), ais_tensor_data(a), ais_tensor_nbytes(a)};
    double tm = time_median(run_memcpy, &cc, reps);
    char name[64];
    snprintf(name, sizeof name, "%s %lldx%lld", op, (long long)rows, (long long)cols);
    /* memcpy moves 2 x bytes (read + write) of one tensor */
    record("bandwidth", name, threads, "GB/s", (double)moved / t * 1e-9,
           2.0 * (double)ais_tensor_nbytes(a) / tm * 1e-9, "memcpy");
    ais_tensor_destroy(a);
    ais_tensor_destroy(b);
    ais_tensor_destroy(call.out);
}

/* One operator at every instruction-set level the CPU has, 1 thread: million elements per second
 * of input, and the speed-up over the scalar level. Inputs in [-4, 4] so that exp, erf and tanh
 * take all their branches. */
static void bench_isa_case(int reps, const char *op, int64_t opset, int64_t rows, int64_t cols,
                           int reduce) {
    int64_t s[2] = {rows, cols};
    ais_tensor *x = rand_tensor(s, 2);
    float *p = ais_tensor_data(x);
    for (size_t i = 0; i < ais_tensor_size(x); i++)
        p[i] *= 8.0f;
    ais_attrs *attrs = NULL;
    if (reduce) {
        int64_t axes[1] = {-1};
        if (ais_attrs_create(&attrs) != AIS_OK || ais_attrs_set_ints(attrs, "axes", axes, 1))
            die("attrs");
    }
    char name[64];
    snprintf(name, sizeof name, "%s %lldx%lld", op, (long long)rows, (long long)cols);
    printf("| %-24s |", name);
    double scalar = 0;
    if (json)
        fprintf(json,
                "%s\n  {\"kind\": \"isa\", \"name\": \"%s\", \"threads\": 1, \"unit\": \"Melem/s\"",
                json_first ? "" : ",", name);
    json_first = 0;
    for (int isa = AIS_CPU_ISA_SCALAR; isa <= AIS_CPU_ISA_AVX512_VNNI; isa++) {
        if (ais_set_cpu_isa((ais_cpu_isa)isa) != AIS_OK) die("isa");
        if ((int)ais_get_cpu_isa() != isa) {
            printf(" %17s |", "-");
            continue;
        }
        ais_tensor *out = NULL;
        const ais_tensor *in[1] = {x};
        /* warm-up call allocates the output; timed calls reuse it */
        if (ais_op_run_opset("", op, opset, attrs, in, 1, &out, 1) != AIS_OK) die(op);
        opset_call oc = {op, opset, attrs, x, out};
        double t = time_median(run_op_opset, &oc, reps);
        double me = (double)ais_tensor_size(x) / t * 1e-6;
        if (isa == AIS_CPU_ISA_SCALAR) scalar = me;
        printf(" %8.0f (%5.2fx) |", me, scalar > 0 ? me / scalar : 0);
        if (json) fprintf(json, ", \"%s\": %.1f", ais_cpu_isa_name((ais_cpu_isa)isa), me);
        ais_tensor_destroy(out);
    }
    if (json) fprintf(json, "}");
    printf("\n");
    if (ais_set_cpu_isa(AIS_CPU_ISA_BEST) != AIS_OK) die("isa");
    ais_attrs_destroy(attrs);
    ais_tensor_destroy(x);
}

/* ---- our packed GEMM (lib/cpu/cpu_gemm.c) against OpenBLAS, as fractions of the FMA peak ---- */

/* CPU seconds of this thread: the GEMM figures are one-thread, and on a shared machine the
 * wall clock counts the time other processes hold the core. */
static double cpu_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* the AVX2 FMA loop's accumulator chains (fma_loop256) */
#define FMA_CHAINS_256 12

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#include <immintrin.h>
/* FMA throughput of one core: independent accumulator chains (enough to cover latency x ports
 * on any current x86) that all stay in registers, n iterations; returns the flops done. AVX-512
 * has 32 registers for its 20 chains; AVX2 has 16, so 12 chains (4-cycle latency x 2 ports needs
 * 8): with 20 GCC spilled 6 of them to the stack and the loop ran at 63 GFLOP/s on Zen 3, whose
 * peak (and our 6 x 16 micro-kernel on L1 data) is 90-94, so fractions of it read 1.45x high. */
__attribute__((target("avx512f"))) static double fma_loop512(long n) {
    __m512 acc[20], x = _mm512_set1_ps(0.999999f), y = _mm512_set1_ps(1e-7f);
    for (int i = 0; i < 20; i++)
        acc[i] = _mm512_set1_ps((float)i);
    for (long it = 0; it < n; it++)
#pragma GCC unroll 20
        for (int i = 0; i < 20; i++)
            acc[i] = _mm512_fmadd_ps(acc[i], x, y);
    float s = 0;
    for (int i = 0; i < 20; i++)
        s += _mm512_reduce_add_ps(acc[i]);
    if (s == 12345.0f) printf("%g", s); /* keeps the loop */
    return (double)n * 20 * 16 * 2;
}
__attribute__((target("avx2,fma"))) static double fma_loop256(long n) {
    __m256 acc[FMA_CHAINS_256], x = _mm256_set1_ps(0.999999f), y = _mm256_set1_ps(1e-7f);
    for (int i = 0; i < FMA_CHAINS_256; i++)
        acc[i] = _mm256_set1_ps((float)i);
    for (long it = 0; it < n; it++)
#pragma GCC unroll 12
        for (int i = 0; i < FMA_CHAINS_256; i++)
            acc[i] = _mm256_fmadd_ps(acc[i], x, y);
    float t[8], s = 0;
    for (int i = 0; i < FMA_CHAINS_256; i++) {
        _mm256_storeu_ps(t, acc[i]);
        for (int j = 0; j < 8; j++)
            s += t[j];
    }
    if (s == 12345.0f) printf("%g", s);
    return (double)n * FMA_CHAINS_256 * 8 * 2;
}
/* Peak GFLOP/s of one core at an ISA level: the best of several 20 ms runs (the peak is what
 * the core can do, so the fastest run is the estimate). */
static double fma_peak(ais_cpu_isa isa) {
    if (!ais__cpu_for(isa)) return 0;
    double best = 0;
    for (int r = 0; r < 15; r++) {
        double t0 = cpu_s();
        double fl = isa >= AIS_CPU_ISA_AVX512 ? fma_loop512(200000) : fma_loop256(200000);
        double g = fl / (cpu_s() - t0) * 1e-9;
        if (g > best) best = g;
    }
    return best;
}
#else
static double fma_peak(ais_cpu_isa isa) {
    (void)isa;
    return 0;
}
#endif

/* One short FMA loop (about 0.1 ms): the peak as one more system of the alternating rounds. */
#define FMA_CALL_ITERS 20000
static double fma_call(ais_cpu_isa isa) {
#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
    return isa >= AIS_CPU_ISA_AVX512 ? fma_loop512(FMA_CALL_ITERS) : fma_loop256(FMA_CALL_ITERS);
#else
    (void)isa;
    return 0;
#endif
}

typedef struct {
    int sys; /* 0 OpenBLAS, 1 ours AVX-512, 2 ours AVX-512 pre-packed B, 3 ours AVX2, 4 the
              * AVX-512 FMA loop, 5 the AVX2 FMA loop (the peak, timed in the same rounds) */
    int64_t m, n, k;
    const float *a, *b, *bp512;
    float *c, *scratch; /* scratch: held by the caller, as an operator's ais__op_scratch is */
} gemm_sys_call;

static void run_gemm_sys(void *p) {
    gemm_sys_call *g = p;
    switch (g->sys) {
    case 0:
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)g->m, (int)g->n, (int)g->k,
                    1.0f, g->a, (int)g->k, g->b, (int)g->n, 0.0f, g->c, (int)g->n);
        break;
    case 1:
    case 2:
        ais__cpu_for(AIS_CPU_ISA_AVX512)
            ->sgemm_ex(false, false, g->m, g->n, g->k, 1.0f, g->a, g->k, g->b, g->n,
                       g->sys == 2 ? g->bp512 : NULL, 0.0f, g->c, g->n, NULL, g->scratch);
        break;
    case 3:
        ais__cpu_for(AIS_CPU_ISA_AVX2)
            ->sgemm_ex(false, false, g->m, g->n, g->k, 1.0f, g->a, g->k, g->b, g->n, NULL, 0.0f,
                       g->c, g->n, NULL, g->scratch);
        break;
    default: fma_call(g->sys == 4 ? AIS_CPU_ISA_AVX512 : AIS_CPU_ISA_AVX2); break;
    }
}

/* Thread CPU seconds per call of one batch of about 20 ms (after one warm-up call). */
static double time_batch(bench_fn fn, void *ctx) {
    fn(ctx);
    double t0 = cpu_s();
    int n = 0;
    do {
        fn(ctx);
        n++;
    } while (cpu_s() - t0 < 0.02);
    return (cpu_s() - t0) / n;
}

static void bench_gemm_shape(int reps, const char *label, int64_t m, int64_t n, int64_t k,
                             double peak512, double peak256) {
    int64_t sa[2] = {m, k}, sb[2] = {k, n}, sc[2] = {m, n};
    ais_tensor *ta = rand_tensor(sa, 2), *tb = rand_tensor(sb, 2), *tc = rand_tensor(sc, 2);
    const ais__cpu_kernels *t512 = ais__cpu_for(AIS_CPU_ISA_AVX512);
    float *bp = NULL;
    if (t512) {
        bp = malloc(t512->gemm_packed_b_size(k, n) * sizeof *bp + 64);
        if (!bp) die("malloc");
        t512->gemm_prepack_b(false, ais_tensor_data(tb), n, k, n, bp);
    }
    /* scratch for any level's per-call packing (the AVX2 tile needs less than AVX-512's) */
    size_t ss = 0;
    for (int l = AIS_CPU_ISA_AVX2; l <= AIS_CPU_ISA_AVX512; l++)
        if (ais__cpu_for((ais_cpu_isa)l)) {
            size_t x = ais__cpu_for((ais_cpu_isa)l)->gemm_scratch_size(m, n, k, false);
            if (x > ss) ss = x;
        }
    float *scratch = aligned_alloc(64, (ss * sizeof(float) + 64) / 64 * 64);
    if (!scratch) die("malloc");
    int nsys = 6;
    double samples[6][64];
    if (reps > 64) reps = 64;
    /* systems alternate round by round, so drift on a shared machine hits all of them alike */
    for (int r = 0; r < reps; r++)
        for (int s = 0; s < nsys; s++) {
            if ((s == 1 || s == 2 || s == 4) && !t512) continue;
            if ((s == 3 || s == 5) && !ais__cpu_for(AIS_CPU_ISA_AVX2)) continue;
            gemm_sys_call g = {
                s,      m, n, k, ais_tensor_data(ta), ais_tensor_data(tb), bp, ais_tensor_data(tc),
                scratch};
            samples[s][r] = time_batch(run_gemm_sys, &g);
        }
    double flop = 2.0 * (double)m * (double)n * (double)k, gf[6] = {0};
    for (int s = 0; s < nsys; s++) {
        if ((s == 1 || s == 2 || s == 4) && !t512) continue;
        if ((s == 3 || s == 5) && !ais__cpu_for(AIS_CPU_ISA_AVX2)) continue;
        qsort(samples[s], (size_t)reps, sizeof samples[s][0], cmp_double);
        double f = s == 4   ? 2.0 * 16 * 20 * FMA_CALL_ITERS
                   : s == 5 ? 2.0 * 8 * FMA_CHAINS_256 * FMA_CALL_ITERS
                            : flop;
        gf[s] = f / samples[s][reps / 2] * 1e-9;
    }
    /* % of the FMA loop's median in the same rounds: the core's clock moves with the other
     * core's load on this VM (the best-of-15 peak above swung 197-217 between runs), and a
     * median product against a best-case peak understates the fraction */
    double pk = gf[4] > 0 ? gf[4] : 1, pk2 = gf[5] > 0 ? gf[5] : 1;
    (void)peak512;
    (void)peak256;
    printf("| %-26s | %6.1f %4.0f%% | %6.1f %4.0f%% | %6.1f %4.0f%% | %6.1f %4.0f%% | %5.2f | "
           "%5.2f | %5.1f |\n",
           label, gf[1], 100 * gf[1] / pk, gf[2], 100 * gf[2] / pk, gf[3], 100 * gf[3] / pk2, gf[0],
           100 * gf[0] / pk, gf[0] > 0 ? gf[1] / gf[0] : 0, gf[0] > 0 ? gf[2] / gf[0] : 0, gf[4]);
    if (json)
        fprintf(
            json,
            "%s\n  {\"kind\": \"gemm\", \"name\": \"%s\", \"threads\": 1, \"unit\": \"GFLOP/s\", "
            "\"ours_avx512\": %.2f, \"ours_avx512_packed_b\": %.2f, \"ours_avx2\": %.2f, "
            "\"openblas\": %.2f, \"peak_avx512\": %.2f, \"peak_avx2\": %.2f, "
            "\"peak_avx512_rounds\": %.2f, \"peak_avx2_rounds\": %.2f}",
            json_first ? "" : ",", label, gf[1], gf[2], gf[3], gf[0], peak512, peak256, gf[4],
            gf[5]);
    json_first = 0;
    free(bp);
    free(scratch);
    ais_tensor_destroy(ta);
    ais_tensor_destroy(tb);
    ais_tensor_destroy(tc);
}

typedef struct {
    ais__pool *pool; /* NULL: OpenBLAS */
    int64_t m, n, k;
    const float *a, *b, *bp; /* bp: B pre-packed (NULL: packed per call) */
    float *c, *scratch;      /* scratch: held by the caller, as an operator's ais__op_scratch */
} gemm_mt_call;

static void run_gemm_mt(void *p) {
    gemm_mt_call *g = p;
    if (!g->pool)
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)g->m, (int)g->n, (int)g->k,
                    1.0f, g->a, (int)g->k, g->b, (int)g->n, 0.0f, g->c, (int)g->n);
    else
        ais__gemm_parallel_ex(g->pool, ais__cpu(), false, false, g->m, g->n, g->k, 1.0f, g->a, g->k,
                              g->bp ? NULL : g->b, g->n, g->bp, 0.0f, g->c, g->n, NULL, g->scratch);
}

/* 2 threads: wall-clock medians (CPU time would add the threads up), alternating rounds:
 * OpenBLAS, ours packing B per call, ours with B pre-packed; fractions of twice the peak. */
static void bench_gemm_2t(int reps, const char *label, int64_t m, int64_t n, int64_t k,
                          ais__pool *pool, double peak) {
    int64_t sa[2] = {m, k}, sb[2] = {k, n}, sc[2] = {m, n};
    ais_tensor *ta = rand_tensor(sa, 2), *tb = rand_tensor(sb, 2), *tc = rand_tensor(sc, 2);
    const ais__cpu_kernels *t = ais__cpu();
    float *bp = malloc(t->gemm_packed_b_size(k, n) * sizeof *bp + 64);
    size_t ss = ais__gemm_parallel_scratch(pool, t, m, n, k, false);
    float *scratch = aligned_alloc(64, (ss * sizeof(float) + 64) / 64 * 64);
    if (!bp || !scratch) die("malloc");
    t->gemm_prepack_b(false, ais_tensor_data(tb), n, k, n, bp);
    double s[3][64];
    if (reps > 64) reps = 64;
    for (int r = 0; r < reps; r++)
        for (int sys = 0; sys < 3; sys++) {
            gemm_mt_call g = {sys ? pool : NULL,
                              m,
                              n,
                              k,
                              ais_tensor_data(ta),
                              ais_tensor_data(tb),
                              sys == 2 ? bp : NULL,
                              ais_tensor_data(tc),
                              scratch};
            /* warm-up: 10 ms of calls, so that the pause below (and the pool's sleep during
             * it) is not in ours' figure: after it the core's clock and the workers' spinning
             * take a few ms to come back (256^3 read 44% of twice the peak with one warm-up
             * call, 69-74% in a driver that ran an FMA loop first) */
            for (double w0 = now_s(); now_s() - w0 < 0.01;)
                run_gemm_mt(&g);
            double t0 = now_s();
            int cnt = 0;
            do {
                run_gemm_mt(&g);
                cnt++;
            } while (now_s() - t0 < 0.02);
            s[sys][r] = (now_s() - t0) / cnt;
            /* OpenBLAS's idle threads spin (sched_yield) for about 2^28 cycles after its call
             * before they sleep: through the next system's 20 ms they held the second core, and
             * ours on 2 threads read 30-37% of twice the peak instead of 55-62% (512^3, Zen 3) */
            if (sys == 0) nanosleep(&(struct timespec){0, 150 * 1000 * 1000}, NULL);
        }
    double flop = 2.0 * (double)m * (double)n * (double)k, gf[3];
    for (int sys = 0; sys < 3; sys++) {
        qsort(s[sys], (size_t)reps, sizeof s[sys][0], cmp_double);
        gf[sys] = flop / s[sys][reps / 2] * 1e-9;
    }
    double pk = peak > 0 ? 2 * peak : 1;
    printf("| %-26s | %6.1f %4.0f%% | %6.1f %4.0f%% | %6.1f %4.0f%% | %5.2f | %5.2f |\n", label,
           gf[1], 100 * gf[1] / pk, gf[2], 100 * gf[2] / pk, gf[0], 100 * gf[0] / pk, gf[1] / gf[0],
           gf[2] / gf[0]);
    if (json)
        fprintf(
            json,
            "%s\n  {\"kind\": \"gemm\", \"name\": \"%s\", \"threads\": 2, \"unit\": \"GFLOP/s\", "
            "\"ours\": %.2f, \"ours_packed_b\": %.2f, \"openblas\": %.2f, \"peak_1core\": %.2f}",
            json_first ? "" : ",", label, gf[1], gf[2], gf[0], peak);
    json_first = 0;
    free(bp);
    free(scratch);
    ais_tensor_destroy(ta);
    ais_tensor_destroy(tb);
    ais_tensor_destroy(tc);
}

typedef struct {
    const ais__cpu_kernels *t;
    int64_t k, np, ldc;
    const float *ap, *bp;
    float *c;
} ukernel_call;

/* The driver's tile loop without the driver: one packed A panel against np packed B panels
 * (np * k * nr floats: the L2 block of B that the tile loop streams), C in a buffer of its own. */
static void run_ukernel(void *p) {
    ukernel_call *u = p;
    const int64_t nr = u->t->gemm_nr;
    for (int64_t j = 0; j < u->np; j++)
        u->t->gemm_ukernel(u->k, u->ap, u->bp + j * u->k * nr, u->c + j * nr, u->ldc, u->t->gemm_mr,
                           (int)nr, false);
}

static void run_fma(void *p) { fma_call(*(ais_cpu_isa *)p); }

#if GL_HAVE
typedef struct {
    int variant;
    int64_t k, np;
    const float *ap, *bp;
} gl_call;

static void run_gl(void *p) {
    gl_call *g = p;
    for (int64_t j = 0; j < g->np; j++)
        gl_run(g->variant, (long)g->k, g->ap, g->bp + j * g->k * 32);
}

/* The AVX-512 tile's k loop in assembly (gemm_loop.h) over the same panels as the micro-kernel
 * (ap: 14 x k, bp: np panels of k x 32), alternating with the FMA loop: no loads, 14 broadcast
 * loads per step that nothing reads, the kernel's loads. */
static void bench_gemm_loop(int reps, int64_t k, int64_t np, const float *ap, const float *bp) {
    double s[4][64];
    ais_cpu_isa isa = AIS_CPU_ISA_AVX512;
    for (int r = 0; r < reps; r++) {
        for (int v = 0; v < 3; v++) {
            gl_call g = {v, k, np, ap, bp};
            s[v][r] = time_batch(run_gl, &g);
        }
        s[3][r] = time_batch(run_fma, &isa);
    }
    double gf[4];
    for (int i = 0; i < 4; i++) {
        qsort(s[i], (size_t)reps, sizeof s[i][0], cmp_double);
        double f = i == 3 ? 2.0 * 16 * 20 * FMA_CALL_ITERS : 2.0 * 14 * 32 * (double)(k * np);
        gf[i] = f / s[i][reps / 2] * 1e-9;
    }
    printf("The same tile's k loop in assembly (bench/gemm_loop.h), %% of the FMA loop's %.1f: 28 "
           "FMAs a step, no loads %.0f%%; plus 14 broadcast loads nothing reads %.0f%%; the "
           "kernel's 2 B loads and 14 broadcasts feeding the FMAs %.0f%%\n",
           gf[3], 100 * gf[0] / gf[3], 100 * gf[1] / gf[3], 100 * gf[2] / gf[3]);
    if (json)
        fprintf(json,
                "%s\n  {\"kind\": \"gemm_loop\", \"threads\": 1, \"unit\": \"GFLOP/s\", "
                "\"fma_only\": %.2f, \"dead_loads\": %.2f, \"kernel_loop\": %.2f, "
                "\"peak_rounds\": %.2f}",
                json_first ? "" : ",", gf[0], gf[1], gf[2], gf[3]);
    json_first = 0;
}
#endif

/* The micro-kernel's own rate, alternating with the FMA loop: the ceiling of the whole product
 * (what packing, edge tiles and C traffic take comes on top). */
static void bench_gemm_ukernel(int reps, const char *name, ais_cpu_isa isa) {
    const ais__cpu_kernels *t = ais__cpu_for(isa);
    if (!t || ais__cpu_isa_detected() < isa) return;
    const int64_t k = 256, mr = t->gemm_mr, nr = t->gemm_nr;
    const int64_t np = (1 << 20) / (k * nr * (int64_t)sizeof(float)), ldc = np * nr + 16;
    float *ap = aligned_alloc(64, (size_t)(mr * k) * sizeof(float));
    float *bp = aligned_alloc(64, (size_t)(np * k * nr) * sizeof(float));
    float *c = aligned_alloc(64, (size_t)(mr * ldc) * sizeof(float) / 64 * 64 + 64);
    if (!ap || !bp || !c) die("malloc");
    for (int64_t i = 0; i < mr * k; i++)
        ap[i] = (float)(i % 13) * 0.01f;
    for (int64_t i = 0; i < np * k * nr; i++)
        bp[i] = (float)(i % 7) * 0.01f;
    ukernel_call u = {t, k, np, ldc, ap, bp, c};
    double s[2][64];
    if (reps > 64) reps = 64;
    for (int r = 0; r < reps; r++) {
        s[0][r] = time_batch(run_ukernel, &u);
        s[1][r] = time_batch(run_fma, &isa);
    }
    for (int i = 0; i < 2; i++)
        qsort(s[i], (size_t)reps, sizeof s[i][0], cmp_double);
    double gk = 2.0 * (double)(mr * nr * k * np) / s[0][reps / 2] * 1e-9;
    double gp = (isa >= AIS_CPU_ISA_AVX512 ? 2.0 * 16 * 20 : 2.0 * 8 * FMA_CHAINS_256) *
                FMA_CALL_ITERS / s[1][reps / 2] * 1e-9;
    printf("\nSGEMM micro-kernel alone, %s %lldx%lld tile, k = %lld, one A panel against %lld B "
           "panels (1 MiB, as the tile loop streams them from L2), 1 thread: %.1f GFLOP/s = "
           "%.0f%% of the FMA loop's %.1f in the same rounds\n",
           name, (long long)mr, (long long)nr, (long long)k, (long long)np, gk, 100 * gk / gp, gp);
    if (json)
        fprintf(json,
                "%s\n  {\"kind\": \"gemm_ukernel\", \"name\": \"%s\", \"threads\": 1, "
                "\"unit\": \"GFLOP/s\", \"ukernel\": %.2f, \"peak_rounds\": %.2f}",
                json_first ? "" : ",", name, gk, gp);
    json_first = 0;
#if GL_HAVE
    if (isa == AIS_CPU_ISA_AVX512 && mr == 14 && nr == 32) bench_gemm_loop(reps, k, np, ap, bp);
#endif
    free(ap);
    free(bp);
    free(c);
}

static void bench_gemm(int reps, int quick) {
    if (ais_set_num_threads(1) != AIS_OK) die("threads");
    openblas_set_num_threads(1);
    double p512 = fma_peak(AIS_CPU_ISA_AVX512), p256 = fma_peak(AIS_CPU_ISA_AVX2);
    bench_gemm_ukernel(reps, "AVX-512", AIS_CPU_ISA_AVX512);
    bench_gemm_ukernel(reps, "AVX2", AIS_CPU_ISA_AVX2);
    printf("\nSGEMM, 1 thread, GFLOP/s of thread CPU time and %% of the FMA loop's median in the "
           "same rounds (its GFLOP/s in the last column; best of 15 runs before the table: AVX-512 "
           "%.1f, AVX2 %.1f); ours = lib/cpu packed GEMM packing A and B per call into "
           "the caller's scratch, packed B = B pre-packed once (as for a constant weight); ratio = "
           "ours / OpenBLAS:\n\n",
           p512, p256);
    printf(
        "| m x n x k                  | ours avx512  | packed B     | ours avx2    | OpenBLAS     "
        "| ratio | ratio packed | peak  |\n");
    printf("|----------------------------|--------------|--------------|--------------|----------"
           "----|-------|-------|-------|\n");
    const int sizes[] = {64, 128, 256, 384, 512, 768, 1024};
    char label[64];
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
        if (quick && sizes[i] > 512) continue;
        snprintf(label, sizeof label, "%d^3", sizes[i]);
        bench_gemm_shape(reps, label, sizes[i], sizes[i], sizes[i], p512, p256);
    }
    bench_gemm_shape(reps, "MLP b1 1x512x784", 1, 512, 784, p512, p256);
    bench_gemm_shape(reps, "MLP b256 256x512x784", 256, 512, 784, p512, p256);
    bench_gemm_shape(reps, "conv im2col 64x3136x576", 64, 3136, 576, p512, p256);
    bench_gemm_shape(reps, "conv 1x1 64x3136x256", 64, 3136, 256, p512, p256);
    bench_gemm_shape(reps, "FFN 128x1536x384", 128, 1536, 384, p512, p256);
    bench_gemm_shape(reps, "FFN 128x384x1536", 128, 384, 1536, p512, p256);
    /* the other products of encoders at sequence 128 (d 384: QKV, output projection; d 256) */
    bench_gemm_shape(reps, "QKV 128x1152x384", 128, 1152, 384, p512, p256);
    bench_gemm_shape(reps, "proj 128x384x384", 128, 384, 384, p512, p256);
    bench_gemm_shape(reps, "d256 QKV 128x768x256", 128, 768, 256, p512, p256);
    bench_gemm_shape(reps, "d256 FFN 128x1024x256", 128, 1024, 256, p512, p256);
    bench_gemm_shape(reps, "d256 FFN 128x256x1024", 128, 256, 1024, p512, p256);

    ais__pool *pool = NULL;
    if (ais__pool_create(2, &pool) != AIS_OK) die("pool");
    openblas_set_num_threads(2);
    double pbest = ais__cpu()->isa >= AIS_CPU_ISA_AVX512 ? p512 : p256;
    printf("\nSGEMM, 2 threads, wall-clock GFLOP/s and %% of twice the one-core peak: ours "
           "(ais__gemm_parallel_ex, best level, scratch held by the caller) packing B per call "
           "and with B pre-packed, vs OpenBLAS; ratios ours / OpenBLAS:\n\n"
           "| m x n x k                  | ours         | packed B     | OpenBLAS     | ratio "
           "| ratio packed |\n|----------------------------|--------------|--------------|-------"
           "-------|-------|-------|\n");
    bench_gemm_2t(reps, "256^3", 256, 256, 256, pool, pbest);
    bench_gemm_2t(reps, "512^3", 512, 512, 512, pool, pbest);
    if (!quick) bench_gemm_2t(reps, "1024^3", 1024, 1024, 1024, pool, pbest);
    bench_gemm_2t(reps, "MLP b1 1x512x784", 1, 512, 784, pool, pbest);
    bench_gemm_2t(reps, "MLP b256 256x512x784", 256, 512, 784, pool, pbest);
    bench_gemm_2t(reps, "conv im2col 64x3136x576", 64, 3136, 576, pool, pbest);
    bench_gemm_2t(reps, "FFN 128x1536x384", 128, 1536, 384, pool, pbest);
    bench_gemm_2t(reps, "QKV 128x1152x384", 128, 1152, 384, pool, pbest);
    ais__pool_destroy(pool);
    openblas_set_num_threads(1);
}

static void bench_isa(int reps) {
    if (ais_set_num_threads(1) != AIS_OK) die("threads");
    printf("\nCPU kernel table by instruction-set level (1 thread; Melem/s of input, speed-up over "
           "scalar; - where this CPU lacks the level):\n\n");
    printf("| case                     | scalar            | avx2              | avx512            "
           "| avx512_vnni       |\n");
    printf("|--------------------------|-------------------|-------------------|-------------------"
           "|-------------------|\n");
    bench_isa_case(reps, "Exp", 13, 256, 4096, 0);
    bench_isa_case(reps, "Erf", 13, 256, 4096, 0);
    bench_isa_case(reps, "Tanh", 13, 256, 4096, 0);
    bench_isa_case(reps, "Sigmoid", 13, 256, 4096, 0);
    bench_isa_case(reps, "Gelu", 20, 256, 4096, 0);
    bench_isa_case(reps, "Softmax", 13, 4096, 256, 0);
    bench_isa_case(reps, "Softmax", 13, 1024, 67, 0);
    bench_isa_case(reps, "LogSoftmax", 13, 4096, 256, 0);
    bench_isa_case(reps, "ReduceSum", 11, 4096, 256, 1);
    bench_isa_case(reps, "ReduceMax", 11, 4096, 256, 1);
    bench_isa_case(reps, "ReduceSumSquare", 11, 4096, 256, 1);
}

static void machine_name(char *buf, size_t n) {
    snprintf(buf, n, "unknown CPU");
    FILE *f = fopen("/proc/cpuinfo", "r");
    if (!f) return;
    char line[512];
    while (fgets(line, sizeof line, f)) {
        if (strncmp(line, "model name", 10) == 0) {
            char *p = strchr(line, ':');
            if (p) {
                p += 2;
                p[strcspn(p, "\n")] = 0;
                snprintf(buf, n, "%s", p);
            }
            break;
        }
    }
    fclose(f);
}

int main(int argc, char **argv) {
    const char *json_path = NULL;
    int quick = 0, isa_only = 0, gemm_only = 0;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--json") == 0 && i + 1 < argc)
            json_path = argv[++i];
        else if (strcmp(argv[i], "--quick") == 0)
            quick = 1;
        else if (strcmp(argv[i], "--isa-only") == 0)
            isa_only = 1;
        else if (strcmp(argv[i], "--gemm-only") == 0)
            gemm_only = 1;
        else {
            fprintf(stderr,
                    "usage: bench_ops [--json FILE] [--quick] [--isa-only] [--gemm-only]\n");
            return 2;
        }
    }
    int reps = quick ? 5 : 15;
    char cpu[256], host[256] = "?";
    machine_name(cpu, sizeof cpu);
    gethostname(host, sizeof host);
    long cores = sysconf(_SC_NPROCESSORS_ONLN);
    if (json_path && !(json = fopen(json_path, "w"))) {
        perror(json_path);
        return 1;
    }
    printf("libaistack %s operator micro-benchmarks on %s (%s, %ld cores)\n\n",
           ais_version_string(), cpu, host, cores);
    printf("| kind      | case                         | threads | libaistack        | peer        "
           "      | peer     | ratio |\n");
    printf("|-----------|------------------------------|---------|-------------------|-------------"
           "------|----------|-------|\n");
    if (json) fprintf(json, "{\"machine\": \"%s\", \"cores\": %ld, \"results\": [", cpu, cores);
    for (int threads = 1; threads <= 2 && !isa_only && !gemm_only; threads++) {
        if (ais_set_num_threads(threads) != AIS_OK) die("threads");
        openblas_set_num_threads(threads);
        const int sizes[] = {64, 256, 512, 1024};
        for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++)
            if (!quick || sizes[i] <= 256) bench_matmul(threads, reps, sizes[i]);
        bench_conv(threads, reps, "Conv 3x3 64->64 56x56", 1, 64, 56, 64, 3, 1, 1);
        bench_conv(threads, reps, "Conv 1x1 256->64 56x56", 1, 256, 56, 64, 1, 1, 1);
        bench_conv(threads, reps, "Conv 3x3 s2 3->32 224x224", 1, 3, 224, 32, 3, 2, 1);
        bench_conv(threads, reps, "Conv dw3x3 128 56x56", 1, 128, 56, 128, 3, 1, 128);
        bench_bandwidth(threads, reps, "Add", 1024, 4096, 1);
        bench_bandwidth(threads, reps, "Relu", 1024, 4096, 0);
        bench_bandwidth(threads, reps, "Softmax", 4096, 1024, 0);
    }
    if (!gemm_only) bench_isa(reps);
    bench_gemm(quick ? 5 : 11, quick);
    if (json) {
        fprintf(json, "\n]}\n");
        fclose(json);
    }
    printf("\nratio = libaistack / peer: >1 is faster for GFLOP/s and GB/s. The memcpy column is "
           "the bandwidth of copying the same tensor once.\n");
    return 0;
}
