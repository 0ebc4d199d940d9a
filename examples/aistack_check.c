/*
 * aistack_check.c - `aistack check PATH...`: runs ONNX backend-test cases and compares with their
 * expected outputs.
 */
#include <aistack/aistack.h>
#include <dirent.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "aistack_tool.h"

const char tool_usage_check[] =
    "usage: aistack check PATH... [--rtol R] [--atol A]\n"
    "\n"
    "Each PATH is a test case in the ONNX backend-test layout (model.onnx and\n"
    "test_data_set_*/input_*.pb, output_*.pb) or a folder of such cases (searched two levels\n"
    "deep); a PATH holding no case is an error. Prints 'ok NAME' or 'FAIL NAME: reason' per\n"
    "case and a closing 'N passed, N failed' line (plus ', N skipped' for cases without data\n"
    "or out of scope); exits 1 if any failed. An output matches when dtype and shape agree and "
    "every element satisfies\n"
    "|got - expected| <= atol + rtol * |expected| (NaN matches NaN). Defaults: rtol 1e-3,\n"
    "atol 1e-7.\n";

typedef struct check_stats {
    size_t passed, failed, skipped;
    double rtol, atol;
} check_stats;

static bool is_dir(const char *path) {
    struct stat sb;
    return stat(path, &sb) == 0 && S_ISDIR(sb.st_mode);
}

static bool is_file(const char *path) {
    struct stat sb;
    return stat(path, &sb) == 0 && S_ISREG(sb.st_mode);
}

static int cmp_str(const void *a, const void *b) {
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Sorted names in dir starting with prefix; the caller frees each and the array. */
static size_t list_dir(const char *dir, const char *prefix, char ***out) {
    *out = NULL;
    DIR *d = opendir(dir);
    if (!d) return 0;
    size_t n = 0, cap = 0;
    char **names = NULL;
    struct dirent *e;
    while ((e = readdir(d))) {
        if (e->d_name[0] == '.' || strncmp(e->d_name, prefix, strlen(prefix)) != 0) continue;
        if (n == cap) {
            cap = cap ? cap * 2 : 16;
            char **p = realloc(names, cap * sizeof *p);
            if (!p) break;
            names = p;
        }
        names[n] = strdup(e->d_name);
        if (names[n]) n++;
    }
    closedir(d);
    if (n) qsort(names, n, sizeof *names, cmp_str);
    *out = names;
    return n;
}

static void free_list(char **names, size_t n) {
    for (size_t i = 0; i < n; i++)
        free(names[i]);
    free(names);
}

/* Numeric order of input_N.pb / output_N.pb (input_10 after input_9). */
static int cmp_numbered(const void *a, const void *b) {
    const char *x = *(char *const *)a, *y = *(char *const *)b;
    const char *ux = strrchr(x, '_'), *uy = strrchr(y, '_');
    long nx = ux ? atol(ux + 1) : 0, ny = uy ? atol(uy + 1) : 0;
    return nx < ny ? -1 : nx > ny;
}

/* Compares; on mismatch writes the reason. */
static bool compare(const ais_tensor *got, const ais_tensor *want, double rtol, double atol,
                    char *why, size_t size) {
    if (ais_tensor_dtype(got) != ais_tensor_dtype(want)) {
        snprintf(why, size, "dtype %s, expected %s", ais_dtype_name(ais_tensor_dtype(got)),
                 ais_dtype_name(ais_tensor_dtype(want)));
        return false;
    }
    if (ais_tensor_dtype(got) == AIS_DTYPE_SEQUENCE) { /* item by item */
        size_t n = ais_sequence_length(got);
        if (n != ais_sequence_length(want)) {
            snprintf(why, size, "a sequence of %zu tensors, expected %zu", n,
                     ais_sequence_length(want));
            return false;
        }
        for (size_t i = 0; i < n; i++) {
            char item[400];
            if (!compare(ais_sequence_at(got, i), ais_sequence_at(want, i), rtol, atol, item,
                         sizeof item)) {
                snprintf(why, size, "sequence item %zu: %s", i, item);
                return false;
            }
        }
        return true;
    }
    size_t nd = ais_tensor_ndim(got);
    bool same = nd == ais_tensor_ndim(want);
    for (size_t i = 0; same && i < nd; i++)
        same = ais_tensor_shape(got)[i] == ais_tensor_shape(want)[i];
    if (!same) {
        char a[200], b[200];
        snprintf(why, size, "shape %s, expected %s",
                 tool_shape_str(ais_tensor_shape(got), nd, a, sizeof a),
                 tool_shape_str(ais_tensor_shape(want), ais_tensor_ndim(want), b, sizeof b));
        return false;
    }
    if (ais_tensor_dtype(got) == AIS_DTYPE_STRING) { /* exact */
        for (size_t i = 0; i < ais_tensor_size(got); i++) {
            const char *g = ais_tensor_string_at(got, i), *w = ais_tensor_string_at(want, i);
            if (strcmp(g, w) != 0) {
                snprintf(why, size,
                         "mismatch at flat index %zu: got \"%.100s\", expected "
                         "\"%.100s\"",
                         i, g, w);
                return false;
            }
        }
        return true;
    }
    ais_tensor *tg = NULL, *tw = NULL;
    const double *gv = tool_as_f64(got, &tg), *wv = tool_as_f64(want, &tw);
    if (!gv || !wv) { /* a type with no numeric reading: the bytes must agree */
        bool same_bytes =
            ais_tensor_nbytes(got) == ais_tensor_nbytes(want) &&
            memcmp(ais_tensor_data(got), ais_tensor_data(want), ais_tensor_nbytes(got)) == 0;
        if (!same_bytes)
            snprintf(why, size, "the %s bytes differ", ais_dtype_name(ais_tensor_dtype(got)));
        ais_tensor_destroy(tg);
        ais_tensor_destroy(tw);
        return same_bytes;
    }
    size_t worst = SIZE_MAX;
    double worst_excess = 0;
    for (size_t i = 0; i < ais_tensor_size(got); i++) {
        double g = gv[i], w = wv[i];
        if (isnan(g) && isnan(w)) continue;
        double err = fabs(g - w), tol = atol + rtol * fabs(w);
        bool bad = isnan(g) || isnan(w) || !(err <= tol);
        if (g == w) bad = false; /* equal infinities */
        if (!bad) continue;
        double excess = isnan(err) || isinf(err) ? INFINITY : err - tol;
        if (worst == SIZE_MAX || excess > worst_excess) {
            worst = i;
            worst_excess = excess;
        }
    }
    if (worst != SIZE_MAX)
        snprintf(why, size, "worst mismatch at flat index %zu: got %.9g, expected %.9g", worst,
                 gv[worst], wv[worst]);
    ais_tensor_destroy(tg);
    ais_tensor_destroy(tw);
    return worst == SIZE_MAX;
}

/* NumPy has no bfloat16, so ONNX's test data stores bf16 tensors as their uint16 bit patterns
 * (data_type UINT16). When the model declares bf16 where the file says u16, take the bits as
 * bf16; any other mismatch is left for the run or the comparison to report. */
static ais_status retype_bf16(ais_tensor **t, ais_dtype declared) {
    if (declared != AIS_DTYPE_BF16 || ais_tensor_dtype(*t) != AIS_DTYPE_U16) return AIS_OK;
    ais_tensor *r = NULL;
    ais_status st =
        ais_tensor_create(AIS_DTYPE_BF16, ais_tensor_shape(*t), ais_tensor_ndim(*t), &r);
    if (st) return st;
    memcpy(ais_tensor_data(r), ais_tensor_data(*t), ais_tensor_nbytes(*t));
    ais_tensor_destroy(*t);
    *t = r;
    return AIS_OK;
}

/* A test data file of the declared type: a SequenceProto (or an OptionalProto holding a
 * sequence) for sequence values, else a TensorProto or .npy file. */
static ais_status load_value(const char *path, ais_dtype declared, ais_tensor **out) {
    *out = NULL;
    return declared == AIS_DTYPE_SEQUENCE ? ais_sequence_load(path, out)
                                          : ais_tensor_load(path, out);
}

/* 1 passed, 0 failed, -1 skipped (no data), -2 skipped (out of scope, `why` says why);
 * `why` says why it failed. */
static int run_case(const char *dir, double rtol, double atol, char *why, size_t size) {
    char path[4096];
    snprintf(path, sizeof path, "%s/model.onnx", dir);
    char **sets = NULL;
    size_t n_sets = list_dir(dir, "test_data_set_", &sets);
    if (n_sets == 0) {
        free_list(sets, n_sets);
        return -1;
    }
    ais_model *m = NULL;
    ais_session *s = NULL;
    int result = 1;
    ais_status st = ais_model_load(path, NULL, &m);
    if (!st) st = ais_session_create(m, NULL, &s);
    if (st == AIS_E_UNSUPPORTED && strstr(ais_last_error(), "(domain 'ai.onnx.preview.training'")) {
        /* Training operators (Gradient, ...) are out of scope for an inference runtime: the
         * case is skipped with the reason, never counted as passed. */
        snprintf(why, size, "training-only operator (ai.onnx.preview.training): out of scope");
        result = -2;
    } else if (st) {
        snprintf(why, size, "%s: %s", ais_status_name(st), ais_last_error());
        result = 0;
    }
    for (size_t k = 0; k < n_sets && result == 1; k++) {
        char set_dir[4096];
        snprintf(set_dir, sizeof set_dir, "%s/%s", dir, sets[k]);
        char **ins = NULL, **outs = NULL;
        size_t n_in = list_dir(set_dir, "input_", &ins);
        size_t n_out = list_dir(set_dir, "output_", &outs);
        if (n_in) qsort(ins, n_in, sizeof *ins, cmp_numbered);
        if (n_out) qsort(outs, n_out, sizeof *outs, cmp_numbered);
        ais_tensor *tin[MAX_IO] = {NULL}, *texp[MAX_IO] = {NULL}, *tgot[MAX_IO] = {NULL};
        ais_dtype dt = AIS_DTYPE_UNDEFINED;
        if (n_in > MAX_IO || n_out > MAX_IO || n_out > ais_model_output_count(m)) {
            snprintf(why, size, "%s: %zu inputs and %zu outputs do not fit the model", sets[k],
                     n_in, n_out);
            result = 0;
        }
        for (size_t i = 0; i < n_in && result == 1; i++) {
            dt = AIS_DTYPE_UNDEFINED;
            if (i < ais_model_input_count(m)) ais_model_input_info(m, i, NULL, &dt, NULL, NULL);
            if (snprintf(path, sizeof path, "%s/%s", set_dir, ins[i]) >= (int)sizeof path ||
                (st = load_value(path, dt, &tin[i])) || (st = retype_bf16(&tin[i], dt))) {
                snprintf(why, size, "%s/%s: %s", sets[k], ins[i], ais_last_error());
                result = 0;
            }
        }
        for (size_t i = 0; i < n_out && result == 1; i++) {
            if (snprintf(path, sizeof path, "%s/%s", set_dir, outs[i]) >= (int)sizeof path ||
                (st = ais_model_output_info(m, i, NULL, &dt, NULL, NULL)) ||
                (st = load_value(path, dt, &texp[i])) || (st = retype_bf16(&texp[i], dt))) {
                snprintf(why, size, "%s/%s: %s", sets[k], outs[i], ais_last_error());
                result = 0;
            }
        }
        if (result == 1 && (st = ais_session_run(s, NULL, (const ais_tensor *const *)tin, n_in,
                                                 NULL, tgot, n_out))) {
            snprintf(why, size, "%s: %s: %s", sets[k], ais_status_name(st), ais_last_error());
            result = 0;
        }
        for (size_t i = 0; i < n_out && result == 1; i++) {
            char reason[512];
            if (!compare(tgot[i], texp[i], rtol, atol, reason, sizeof reason)) {
                const char *name = "";
                ais_model_output_info(m, i, &name, NULL, NULL, NULL);
                snprintf(why, size, "%s: output %zu '%s': %s", sets[k], i, name, reason);
                result = 0;
            }
        }
        for (size_t i = 0; i < MAX_IO; i++) {
            ais_tensor_destroy(tin[i]);
            ais_tensor_destroy(texp[i]);
            ais_tensor_destroy(tgot[i]);
        }
        free_list(ins, n_in);
        free_list(outs, n_out);
    }
    free_list(sets, n_sets);
    ais_session_destroy(s);
    ais_model_destroy(m);
    return result;
}

static const char *base_name(const char *path) {
    size_t len = strlen(path);
    while (len > 1 && path[len - 1] == '/')
        len--;
    const char *end = path + len;
    const char *b = end;
    while (b > path && b[-1] != '/')
        b--;
    static char buf[1024];
    snprintf(buf, sizeof buf, "%.*s", (int)(end - b), b);
    return buf;
}

static void check_path(const char *path, int depth, check_stats *cs) {
    char model[4096];
    snprintf(model, sizeof model, "%s/model.onnx", path);
    if (is_file(model)) {
        char why[2048] = "";
        char name[1024];
        snprintf(name, sizeof name, "%s", base_name(path));
        int r = run_case(path, cs->rtol, cs->atol, why, sizeof why);
        if (r > 0) {
            printf("ok %s\n", name);
            cs->passed++;
        } else if (r < 0) {
            printf("skip %s: %s\n", name, r == -1 ? "no test_data_set_* folder" : why);
            cs->skipped++;
        } else {
            printf("FAIL %s: %s\n", name, why);
            cs->failed++;
        }
        fflush(stdout);
        return;
    }
    if (depth >= 2) return;
    char **subs = NULL;
    size_t n = list_dir(path, "", &subs);
    for (size_t i = 0; i < n; i++) {
        char sub[4096];
        snprintf(sub, sizeof sub, "%s/%s", path, subs[i]);
        if (is_dir(sub)) check_path(sub, depth + 1, cs);
    }
    free_list(subs, n);
}

int tool_cmd_check(int argc, char **argv) {
    check_stats cs = {.rtol = 1e-3, .atol = 1e-7};
    size_t n_paths = 0;
    for (int i = 0; i < argc; i++) {
        if ((!strcmp(argv[i], "--rtol") || !strcmp(argv[i], "--atol")) && i + 1 < argc) {
            char *end;
            double v = strtod(argv[i + 1], &end);
            if (*end || v < 0) {
                fprintf(stderr, "aistack: %s takes a non-negative number\n", argv[i]);
                return 2;
            }
            if (argv[i][2] == 'r')
                cs.rtol = v;
            else
                cs.atol = v;
            i++;
        } else if (!strcmp(argv[i], "--rtol") || !strcmp(argv[i], "--atol")) {
            return tool_bad_option("check", argv[i], true, tool_usage_check);
        } else if (argv[i][0] == '-') {
            return tool_bad_option("check", argv[i], false, tool_usage_check);
        }
    }
    for (int i = 0; i < argc; i++) {
        if (!strcmp(argv[i], "--rtol") || !strcmp(argv[i], "--atol")) {
            i++;
            continue;
        }
        n_paths++;
        if (!is_dir(argv[i])) {
            printf("FAIL %s: not a folder\n", argv[i]);
            cs.failed++;
            continue;
        }
        size_t before = cs.passed + cs.failed + cs.skipped;
        check_path(argv[i], 0, &cs);
        if (cs.passed + cs.failed + cs.skipped == before) {
            /* "0 passed, 0 failed" and exit 0 would read as success */
            printf("FAIL %s: no test case in it (a folder with model.onnx and "
                   "test_data_set_*/, or folders of them, two levels deep)\n",
                   argv[i]);
            cs.failed++;
        }
    }
    if (n_paths == 0) {
        fputs(tool_usage_check, stderr);
        return 2;
    }
    if (cs.skipped)
        printf("%zu passed, %zu failed, %zu skipped\n", cs.passed, cs.failed, cs.skipped);
    else
        printf("%zu passed, %zu failed\n", cs.passed, cs.failed);
    return cs.failed ? 1 : 0;
}
