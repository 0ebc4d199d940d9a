/*
 * bench_ais_format.c - size and load speed of .ais files by compression level, and how much the
 * byte-shuffle filter helps zstd on weights.
 *
 *   bench_ais_format [--quick | --all] [DIR ...]   (--all adds zstd level 19: minutes)
 *
 * Without DIR: a synthetic MLP with random-normal f32 weights (Kaiming scale, as trained dense
 * layers roughly are) and the same weights in f16. Each DIR holds .npy files (one tensor each,
 * e.g. from bench/weights_to_npy.py) that become the constants of one model. Prints a table and
 * writes bench/results/ais_format.json.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <zstd.h>

#include "format/ais_layout.h"
#include "format/format.h"

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static uint64_t rng = 0x9E3779B97F4A7C15ull;
static double uniform(void) {
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return ((double)(rng >> 11) + 0.5) / 9007199254740992.0;
}
static double normal(void) {
    return sqrt(-2 * log(uniform())) * cos(6.283185307179586 * uniform());
}

static void die(const char *what) {
    fprintf(stderr, "%s: %s\n", what, ais_last_error());
    exit(1);
}

static void add_const(ais__graph *g, const char *name, ais_tensor *t) {
    int32_t v;
    if (ais__graph_value(g, name, &v) || ais__graph_set_constant(g, v, t)) die(name);
}

static ais__graph *synthetic_mlp(bool f16, bool quick) {
    const int64_t sizes[] = {1024, 2048, 2048, 2048, 1000};
    int layers = quick ? 2 : 4;
    ais__graph *g;
    if (ais__graph_create(&g)) die("graph");
    for (int l = 0; l < layers; l++) {
        int64_t in = sizes[l], out = sizes[l + 1];
        ais_tensor *w, *b;
        if (ais_tensor_create(f16 ? AIS_DTYPE_F16 : AIS_DTYPE_F32, (int64_t[]){in, out}, 2, &w) ||
            ais_tensor_create(f16 ? AIS_DTYPE_F16 : AIS_DTYPE_F32, (int64_t[]){out}, 1, &b))
            die("tensor");
        double scale = sqrt(2.0 / (double)in);
        for (int64_t i = 0; i < in * out; i++) {
            float v = (float)(normal() * scale);
            if (f16)
                ((uint16_t *)ais_tensor_data(w))[i] = ais__f32_to_f16(v);
            else
                ((float *)ais_tensor_data(w))[i] = v;
        }
        for (int64_t i = 0; i < out; i++) {
            float v = (float)(normal() * 0.01);
            if (f16)
                ((uint16_t *)ais_tensor_data(b))[i] = ais__f32_to_f16(v);
            else
                ((float *)ais_tensor_data(b))[i] = v;
        }
        char name[32];
        snprintf(name, sizeof name, "fc%d.weight", l);
        add_const(g, name, w);
        snprintf(name, sizeof name, "fc%d.bias", l);
        add_const(g, name, b);
    }
    return g;
}

static ais__graph *from_npy_dir(const char *dir) {
    ais__graph *g;
    if (ais__graph_create(&g)) die("graph");
    DIR *d = opendir(dir);
    if (!d) {
        perror(dir);
        exit(1);
    }
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        size_t n = strlen(e->d_name);
        if (n < 5 || strcmp(e->d_name + n - 4, ".npy") != 0) continue;
        char path[4096];
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        ais_tensor *t;
        if (ais_tensor_load(path, &t)) die(path);
        add_const(g, e->d_name, t);
    }
    closedir(d);
    return g;
}

static size_t raw_bytes(const ais__graph *g) {
    size_t n = 0;
    for (size_t i = 0; i < g->n_values; i++)
        if (g->values[i].constant) n += g->values[i].constant->nbytes;
    return n;
}

/* zstd at `level` on all weights, with and without the byte shuffle (what the writer chooses
 * between per tensor). */
static void shuffle_gain(const ais__graph *g, int level, size_t *plain, size_t *shuffled,
                         size_t *best) {
    *plain = *shuffled = *best = 0;
    ZSTD_CCtx *cctx = ZSTD_createCCtx();
    ZSTD_CCtx_setParameter(cctx, ZSTD_c_compressionLevel, level);
    for (size_t i = 0; i < g->n_values; i++) {
        const ais_tensor *t = g->values[i].constant;
        if (!t || !t->nbytes) continue;
        size_t es = ais_dtype_size(t->dtype), bound = ZSTD_compressBound(t->nbytes);
        uint8_t *dst = malloc(bound), *shuf = malloc(t->nbytes);
        size_t a = ZSTD_compress2(cctx, dst, bound, t->data, t->nbytes);
        ais__shuffle(shuf, t->data, t->numel, es);
        size_t b = es > 1 ? ZSTD_compress2(cctx, dst, bound, shuf, t->nbytes) : a;
        *plain += a;
        *shuffled += b;
        *best += AIS__MIN(AIS__MIN(a, b), t->nbytes);
        free(dst);
        free(shuf);
    }
    ZSTD_freeCCtx(cctx);
}

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static bool all;

static void bench_model(const char *label, ais__graph *g, FILE *json, bool *first, bool quick) {
    size_t raw = raw_bytes(g);
    printf("\n%s: %zu tensors, %.1f MB of weights\n", label, g->n_values, raw / 1e6);
    size_t plain, shuffled, best;
    shuffle_gain(g, 3, &plain, &shuffled, &best);
    printf("  zstd-3 alone: ratio %.3f; after byte shuffle: ratio %.3f; per-tensor best: %.3f\n",
           (double)raw / plain, (double)raw / shuffled, (double)raw / best);
    printf("  %-6s %12s %8s %10s %10s %10s\n", "level", "file bytes", "ratio", "write s", "load ms",
           "load GB/s");
    const int levels[] = {0, 1, 3, 9, 19}; /* 19 takes minutes: only with --all */
    int n_levels = quick ? 3 : all ? 5 : 4;
    for (int li = 0; li < n_levels; li++) {
        char path[256];
        snprintf(path, sizeof path, "/tmp/bench_ais_%d.ais", (int)getpid());
        double t0 = now();
        if (ais__ais_write(g, path, levels[li])) die("write");
        double wt = now() - t0;
        struct stat sb;
        stat(path, &sb);
        double times[7];
        int reps = 7;
        for (int r = 0; r < reps; r++) { /* the file is in the page cache after the first */
            ais__graph *h;
            t0 = now();
            if (ais__model_read_file(path, NULL, &h)) die("read");
            times[r] = now() - t0;
            ais__graph_destroy(h);
        }
        qsort(times, (size_t)reps, sizeof times[0], cmp_double);
        double lt = times[reps / 2];
        printf("  %-6d %12lld %8.3f %10.2f %10.2f %10.2f\n", levels[li], (long long)sb.st_size,
               (double)raw / (double)sb.st_size, wt, lt * 1e3, raw / lt / 1e9);
        fprintf(json,
                "%s  {\"model\": \"%s\", \"level\": %d, \"raw_bytes\": %zu, \"file_bytes\": %lld, "
                "\"ratio\": %.4f, \"write_s\": %.4f, \"load_s\": %.6f, \"zstd3_plain_ratio\": "
                "%.4f, \"zstd3_shuffle_ratio\": %.4f}",
                *first ? "" : ",\n", label, levels[li], raw, (long long)sb.st_size,
                (double)raw / (double)sb.st_size, wt, lt, (double)raw / plain,
                (double)raw / shuffled);
        *first = false;
        remove(path);
    }
}

int main(int argc, char **argv) {
    bool quick = argc > 1 && strcmp(argv[1], "--quick") == 0;
    all = argc > 1 && strcmp(argv[1], "--all") == 0;
    int first_dir = quick || all ? 2 : 1;
    mkdir("bench", 0777);
    mkdir("bench/results", 0777);
    FILE *json = fopen("bench/results/ais_format.json", "w");
    if (!json) json = fopen("/dev/null", "w");
    fprintf(json, "[\n");
    bool first = true;
    if (argc <= first_dir) {
        for (int f16 = 0; f16 < 2; f16++) {
            ais__graph *g = synthetic_mlp(f16, quick);
            bench_model(f16 ? "synthetic MLP, f16 normal weights"
                            : "synthetic MLP, f32 normal weights",
                        g, json, &first, quick);
            ais__graph_destroy(g);
        }
    }
    for (int i = first_dir; i < argc; i++) {
        ais__graph *g = from_npy_dir(argv[i]);
        bench_model(argv[i], g, json, &first, quick);
        ais__graph_destroy(g);
    }
    fprintf(json, "\n]\n");
    fclose(json);
    return 0;
}
