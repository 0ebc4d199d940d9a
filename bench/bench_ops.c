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
 *   bench_ops [--json FILE] [--quick] [--isa-only]
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
        for (int i = 0; i < batch; i++) fn(ctx);
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
    for (size_t i = 0; i < ais_tensor_size(t); i++) p[i] = (float)rand() / (float)RAND_MAX - 0.5f;
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
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, g->m, g->n, g->k, 1.0f, g->a, g->k,
                g->b, g->n, 0.0f, g->c, g->n);
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
    int quick = 0, isa_only = 0;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--json") == 0 && i + 1 < argc) json_path = argv[++i];
        else if (strcmp(argv[i], "--quick") == 0) quick = 1;
        else if (strcmp(argv[i], "--isa-only") == 0)
            isa_only = 1;
        else {
            fprintf(stderr, "usage: bench_ops [--json FILE] [--quick] [--isa-only]\n");
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
    printf("| kind      | case                         | threads | libaistack        | peer              | peer     | ratio |\n");
    printf("|-----------|------------------------------|---------|-------------------|-------------------|----------|-------|\n");
    if (json) fprintf(json, "{\"machine\": \"%s\", \"cores\": %ld, \"results\": [", cpu, cores);
    for (int threads = 1; threads <= 2 && !isa_only; threads++) {
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
    bench_isa(reps);
    if (json) {
        fprintf(json, "\n]}\n");
        fclose(json);
    }
    printf("\nratio = libaistack / peer: >1 is faster for GFLOP/s and GB/s. The memcpy column is "
           "the bandwidth of copying the same tensor once.\n");
    return 0;
}
