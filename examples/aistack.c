/*
 * aistack.c - the command-line tool: inspect, run, convert and conformance-check models.
 *
 *   aistack info MODEL
 *   aistack run MODEL [--input NAME=FILE | FILE]... [--output-dir DIR] [--threads N]
 *                     [--backend cpu|cuda]
 *   aistack run MODEL --records FILE [--records-format csv|jsonl] [--ignore-extra-fields] ...
 *   aistack convert IN OUT.ais [--compress LEVEL|none] [--pipeline SPEC.json]
 *   aistack check PATH... [--rtol R] [--atol A]
 *   aistack ops
 *
 * `aistack help COMMAND` (or COMMAND --help) explains one command. The tool uses the public
 * API only (include/aistack), as any application would: element types other than f64 are read
 * through the Cast operator (ais_op_run), the registry through ais_op_count/ais_op_info.
 */
#include <aistack/aistack.h>
#include <dirent.h>
#include <errno.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define MAX_IO 256

static const char *const usage_main =
    "usage: aistack COMMAND [ARGS]\n"
    "\n"
    "commands:\n"
    "  info MODEL        metadata, inputs and outputs, operator histogram, weight bytes\n"
    "  run MODEL ...     run a model on .npy/.pb inputs (or random ones on request), or on raw\n"
    "                    records (CSV, JSON lines) through its feature pipeline; print and\n"
    "                    save outputs\n"
    "  convert IN OUT    write a model in the native .ais format\n"
    "  check PATH...     run ONNX backend-test cases and compare with their expected outputs\n"
    "  ops               list the operators this build implements\n"
    "  help [COMMAND]    this text, or the help of one command\n"
    "\n"
    "MODEL is an ONNX (.onnx), native (.ais), XGBoost JSON or LightGBM text model file\n"
    "(told apart by content, not by name).\n";

static const char *const usage_info =
    "usage: aistack info MODEL\n"
    "\n"
    "Prints the model's metadata, each input and output with dtype and shape (dynamic\n"
    "dimensions by their symbolic name, or ? when the file names none), the number of nodes\n"
    "per operator as the file has them, then as a session runs them after optimization\n"
    "(constant folding, dead nodes removed, fusions such as com.microsoft.FusedGemm, which\n"
    "the file need not import), and the bytes of constant tensors (weights). A model with a\n"
    "feature pipeline also lists the pipeline's inputs (name and numeric or categorical) and\n"
    "its output width.\n";

static const char *const usage_run =
    "usage: aistack run MODEL [--input NAME=FILE | FILE]... [--random-inputs]\n"
    "                         [--output-dir DIR] [--threads N] [--backend cpu|cuda]\n"
    "\n"
    "  --input NAME=FILE  the input NAME from FILE (.npy or ONNX TensorProto .pb)\n"
    "  FILE               a bare file is the next input in declaration order\n"
    "  --random-inputs    fill the inputs not given with random values (floats uniform in\n"
    "                     [0, 1), integers in [0, 10), dynamic dimensions 1) and say so on\n"
    "                     stderr; without it every input must be given\n"
    "  --output-dir DIR   writes each output to DIR/NAME.npy (the name made file-safe)\n"
    "  --threads N        intra-op threads (0: one per core; default 1)\n"
    "  --backend B        cpu (default) or cuda\n"
    "\n"
    "An input given twice is an error. Prints each output's name, dtype, shape and first\n"
    "values.\n"
    "\n"
    "usage: aistack run MODEL --records FILE [--records-format csv|jsonl] [--output-dir DIR]\n"
    "                         [--ignore-extra-fields] [--threads N] [--backend cpu|cuda]\n"
    "\n"
    "For a model that carries a feature pipeline (see convert --pipeline): FILE holds raw\n"
    "records, CSV with a header row naming the fields or JSON lines (one object per line),\n"
    "told apart by the extension (.csv; .jsonl, .ndjson or .json) or --records-format; '-' reads\n"
    "standard input (CSV unless --records-format says otherwise). Prints one CSV line per\n"
    "record: a header of the output names (an output with several values per row gives\n"
    "NAME[0], NAME[1], ...: class probabilities), then the values (numbers, or text for string\n"
    "labels). Records that break the pipeline's schema print every problem to stderr as\n"
    "'row R, field \"F\": reason' (R from 0, the first record; 'header' for a column name)\n"
    "and exit 1. A field that names no pipeline input is such a problem (with the nearest\n"
    "input's name), unless --ignore-extra-fields skips those fields.\n";

static const char *const usage_convert =
    "usage: aistack convert IN OUT.ais [--compress LEVEL|none] [--pipeline SPEC.json]\n"
    "                               [--progress | --no-progress]\n"
    "\n"
    "Loads IN (any supported format), optimizes it, and writes the native format (OUT must\n"
    "end in .ais). Progress goes to stderr, one line per tensor, when stderr is a terminal or\n"
    "with --progress (--no-progress: never). Tensor data\n"
    "is raw and memory-mappable by default (none), or zstd-compressed per tensor at LEVEL\n"
    "(1..22). --pipeline puts the feature pipeline of SPEC.json (docs/pipeline-spec.md) into\n"
    "the file, in place of any IN has; the model must have one f32 input [rows, width] whose\n"
    "width is the pipeline's. Without it, a pipeline IN carries is kept.\n";

static const char *const usage_check =
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

static const char *const usage_ops =
    "usage: aistack ops\n"
    "\n"
    "Lists the registered operators: domain, name and the opset versions each entry\n"
    "implements from.\n";

static int fail_status(const char *what, ais_status st) {
    fprintf(stderr, "aistack: %s: %s: %s\n", what, ais_status_name(st), ais_last_error());
    return 1;
}

/* [2, batch, ?]: a dynamic dimension by the name the file declares (m not NULL: of input or,
 * when output is true, output `index`), else ?. */
static void print_dims(FILE *f, size_t ndim, const int64_t *dims, const ais_model *m, size_t index,
                       bool output) {
    fputc('[', f);
    for (size_t i = 0; i < ndim; i++) {
        if (i) fputs(", ", f);
        if (dims[i] >= 0) {
            fprintf(f, "%lld", (long long)dims[i]);
        } else {
            const char *dn = !m       ? NULL
                             : output ? ais_model_output_dim_name(m, index, i)
                                      : ais_model_input_dim_name(m, index, i);
            fputs(dn ? dn : "?", f);
        }
    }
    fputc(']', f);
}

static int load_model(const char *path, const ais_options *o, ais_model **m) {
    ais_status st = ais_model_load(path, o, m);
    if (st != AIS_OK) return fail_status("cannot load model", st);
    return 0;
}

/* ---- info ---- */

typedef struct op_count {
    const char *op, *domain;
    size_t n;
} op_count;

/* Whether `op` is one of the tree-ensemble operators, whose trees live in attributes. */
static bool is_tree_op(const char *op) { return strncmp(op, "TreeEnsemble", 12) == 0; }

/* Prints the node count per operator of m; with `file` (the same model as the file has it),
 * marks operators the file does not use. Sets *trees when a tree ensemble is among them. */
static int print_histogram(const ais_model *m, const ais_model *file, bool *trees) {
    size_t nn = ais_model_node_count(m);
    op_count *hist = calloc(nn ? nn : 1, sizeof *hist);
    size_t nh = 0;
    if (!hist) {
        fprintf(stderr, "aistack: out of memory\n");
        return 1;
    }
    for (size_t i = 0; i < nn; i++) {
        const char *op, *dom;
        if (ais_model_node_info(m, i, NULL, &op, &dom) != AIS_OK) continue;
        size_t k = 0;
        while (k < nh && !(strcmp(hist[k].op, op) == 0 && strcmp(hist[k].domain, dom) == 0))
            k++;
        if (k == nh) hist[nh++] = (op_count){op, dom, 0};
        hist[k].n++;
        if (is_tree_op(op)) *trees = true;
    }
    for (size_t k = 0; k < nh; k++) {
        bool in_file = !file;
        for (size_t i = 0; file && !in_file && i < ais_model_node_count(file); i++) {
            const char *op, *dom;
            in_file = ais_model_node_info(file, i, NULL, &op, &dom) == AIS_OK &&
                      !strcmp(op, hist[k].op) && !strcmp(dom, hist[k].domain);
        }
        printf("  %s%s%s: %zu%s\n", hist[k].domain, hist[k].domain[0] ? "." : "", hist[k].op,
               hist[k].n, in_file ? "" : " (made by aistack's fusion; not in the file)");
    }
    free(hist);
    return 0;
}

static int cmd_info(int argc, char **argv) {
    if (argc != 1) {
        fputs(usage_info, stderr);
        return 2;
    }
    ais_model *m = NULL;
    if (load_model(argv[0], NULL, &m)) return 1;
    /* The file's operators (loaded again without optimization), then what a session runs:
     * folding, dead-node removal and fusion change the list (com.microsoft.FusedGemm appears
     * though the file imports no such domain). The metadata too is the file's. */
    ais_model *raw = NULL;
    ais_options *o0 = NULL;
    if (ais_options_create(&o0) != AIS_OK || ais_options_set_int(o0, AIS_OPT_OPT_LEVEL, 0) ||
        ais_model_load(argv[0], o0, &raw) != AIS_OK)
        raw = NULL; /* the optimized model alone is still worth printing */
    ais_options_destroy(o0);
    const ais_model *file = raw ? raw : m;
    printf("model: %s\n", argv[0]);
    printf("metadata:\n");
    for (size_t i = 0; i < ais_model_metadata_count(file); i++) {
        const char *k, *v;
        if (ais_model_metadata_at(file, i, &k, &v) == AIS_OK) printf("  %s: %s\n", k, v);
    }
    for (int io = 0; io < 2; io++) {
        size_t n = io ? ais_model_output_count(m) : ais_model_input_count(m);
        printf("%s (%zu):\n", io ? "outputs" : "inputs", n);
        for (size_t i = 0; i < n; i++) {
            const char *name;
            ais_dtype dt;
            size_t nd;
            const int64_t *dims;
            ais_status st = io ? ais_model_output_info(m, i, &name, &dt, &nd, &dims)
                               : ais_model_input_info(m, i, &name, &dt, &nd, &dims);
            if (st != AIS_OK) continue;
            printf("  %s: %s ", name, ais_dtype_name(dt));
            print_dims(stdout, nd, dims, m, i, io == 1);
            putchar('\n');
        }
    }
    bool trees = false;
    int rc = 0;
    if (raw) {
        printf("nodes in the file: %zu\n", ais_model_node_count(raw));
        rc = print_histogram(raw, NULL, &trees);
    }
    if (!rc) {
        printf("nodes after optimization (what a session runs): %zu\n", ais_model_node_count(m));
        rc = print_histogram(m, raw, &trees);
    }
    ais_model_destroy(raw);
    if (rc) {
        ais_model_destroy(m);
        return rc;
    }
    size_t wb = ais_model_weight_bytes(m);
    if (trees)
        printf("weight bytes: %zu (constant tensors; the tree ensembles hold their trees in node "
               "attributes, not counted here)\n",
               wb);
    else
        printf("weight bytes: %zu\n", wb);
    const ais_pipeline *pl = ais_model_pipeline(m);
    if (pl) {
        size_t n = ais_pipeline_input_count(pl);
        printf("pipeline: %zu inputs -> %zu features\n", n, ais_pipeline_output_width(pl));
        for (size_t i = 0; i < n; i++) {
            const char *name;
            ais_feature_kind kind;
            if (ais_pipeline_input_info(pl, i, &name, &kind) != AIS_OK) continue;
            printf("  %s: %s\n", name, kind == AIS_FEATURE_NUMERIC ? "numeric" : "categorical");
        }
    }
    ais_model_destroy(m);
    return 0;
}

/* ---- run ---- */

static void sanitize(const char *name, size_t index, char *out, size_t size) {
    size_t j = 0;
    for (size_t i = 0; name[i] && j + 1 < size; i++) {
        char c = name[i];
        bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                  c == '-' || c == '_' || (c == '.' && j > 0);
        out[j++] = ok ? c : '_';
    }
    out[j] = 0;
    if (j == 0) snprintf(out, size, "output_%zu", index);
}

static bool is_float_dtype(ais_dtype dt) {
    switch (dt) {
    case AIS_DTYPE_F16:
    case AIS_DTYPE_BF16:
    case AIS_DTYPE_F32:
    case AIS_DTYPE_F64:
    case AIS_DTYPE_F8E4M3FN:
    case AIS_DTYPE_F8E4M3FNUZ:
    case AIS_DTYPE_F8E5M2:
    case AIS_DTYPE_F8E5M2FNUZ: return true;
    default: return false;
    }
}

/* A tensor through the Cast operator (ONNX semantics: exact for every type into f64). */
static ais_status cast_to(const ais_tensor *t, ais_dtype to, ais_tensor **out) {
    *out = NULL;
    ais_attrs *a = NULL;
    ais_status st = ais_attrs_create(&a);
    if (!st) st = ais_attrs_set_int(a, "to", to);
    if (!st) st = ais_op_run("Cast", a, &t, 1, out, 1);
    ais_attrs_destroy(a);
    return st;
}

/* The elements of a numeric or bool tensor as doubles: its own data when it is f64, else those
 * of *tmp (a cast the caller destroys); NULL when the dtype does not cast. */
static const double *as_f64(const ais_tensor *t, ais_tensor **tmp) {
    *tmp = NULL;
    if (ais_tensor_dtype(t) == AIS_DTYPE_F64) return ais_tensor_data(t);
    if (ais_tensor_dtype(t) == AIS_DTYPE_STRING || cast_to(t, AIS_DTYPE_F64, tmp) != AIS_OK)
        return NULL;
    return ais_tensor_data(*tmp);
}

/* "[2, 3]" into buf. */
static const char *shape_str(const int64_t *dims, size_t nd, char *buf, size_t size) {
    size_t at = 0;
    at += (size_t)snprintf(buf, size, "[");
    for (size_t i = 0; i < nd && at < size; i++)
        at += (size_t)snprintf(buf + at, size - at, "%s%lld", i ? ", " : "", (long long)dims[i]);
    if (at < size) snprintf(buf + at, size - at, "]");
    return buf;
}

static void print_tensor(const char *name, const ais_tensor *t) {
    printf("%s: %s ", name, ais_dtype_name(ais_tensor_dtype(t)));
    print_dims(stdout, ais_tensor_ndim(t), ais_tensor_shape(t), NULL, 0, false);
    size_t n = ais_tensor_size(t), show = n < 8 ? n : 8;
    bool str = ais_tensor_dtype(t) == AIS_DTYPE_STRING;
    ais_tensor *tmp = NULL;
    const double *v = str ? NULL : as_f64(t, &tmp);
    if (!str && !v) {
        printf(" (values not shown: %s does not convert to numbers)\n",
               ais_dtype_name(ais_tensor_dtype(t)));
        return;
    }
    printf(" = [");
    for (size_t i = 0; i < show; i++) {
        if (str)
            printf("%s\"%s\"", i ? ", " : "", ais_tensor_string_at(t, i));
        else
            printf("%s%.6g", i ? ", " : "", v[i]);
    }
    printf("%s]\n", n > show ? ", ..." : "");
    ais_tensor_destroy(tmp);
}

static ais_status random_input(const ais_model *m, size_t i, ais_tensor **out) {
    *out = NULL;
    ais_dtype dt;
    size_t nd;
    const int64_t *dims;
    ais_status st = ais_model_input_info(m, i, NULL, &dt, &nd, &dims);
    if (st) return st;
    if (dt == AIS_DTYPE_UNDEFINED) dt = AIS_DTYPE_F32;
    int64_t shape[AIS_MAX_DIMS];
    for (size_t k = 0; k < nd && k < AIS_MAX_DIMS; k++) shape[k] = dims[k] < 0 ? 1 : dims[k];
    /* drawn as doubles, then cast to the input's type */
    ais_tensor *d = NULL;
    if ((st = ais_tensor_create(AIS_DTYPE_F64, shape, nd, &d))) return st;
    double *v = ais_tensor_data(d);
    for (size_t k = 0; k < ais_tensor_size(d); k++)
        v[k] = is_float_dtype(dt)     ? (double)rand() / ((double)RAND_MAX + 1.0)
               : dt == AIS_DTYPE_BOOL ? (double)(rand() % 2)
                                      : (double)(rand() % 10);
    if (dt == AIS_DTYPE_F64) {
        *out = d;
        return AIS_OK;
    }
    st = cast_to(d, dt, out);
    ais_tensor_destroy(d);
    return st;
}

/* The whole of a file ("-": standard input) in a new malloc block; NULL with a message. */
static char *read_all(const char *path, size_t *len) {
    FILE *f = strcmp(path, "-") == 0 ? stdin : fopen(path, "rb");
    if (!f) {
        fprintf(stderr, "aistack: cannot open %s: %s\n", path, strerror(errno));
        return NULL;
    }
    size_t cap = 1 << 16, n = 0;
    char *buf = malloc(cap);
    while (buf) {
        n += fread(buf + n, 1, cap - n, f);
        if (n < cap) break;
        char *bigger = realloc(buf, cap * 2);
        if (!bigger) free(buf);
        buf = bigger;
        cap *= 2;
    }
    bool bad = !buf || ferror(f);
    if (f != stdin) fclose(f);
    if (bad) {
        fprintf(stderr, "aistack: cannot read %s\n", path);
        free(buf);
        return NULL;
    }
    *len = n;
    return buf;
}

static bool ends_with(const char *s, const char *suffix) {
    size_t n = strlen(s), k = strlen(suffix);
    return n >= k && strcmp(s + n - k, suffix) == 0;
}

/* A CSV cell: quoted when it holds a separator, a quote or a line break. */
static void print_cell(const char *s) {
    if (!strpbrk(s, ",\"\r\n")) {
        fputs(s, stdout);
        return;
    }
    putchar('"');
    for (; *s; s++) {
        if (*s == '"') putchar('"');
        putchar(*s);
    }
    putchar('"');
}

/* Prints the outputs of a record run as CSV, one line per row. */
static void print_rows(const ais_model *m, ais_tensor *const *out, size_t n_out) {
    int64_t rows = -1;
    bool first = true;
    for (size_t i = 0; i < n_out; i++) {
        const char *name;
        ais_model_output_info(m, i, &name, NULL, NULL, NULL);
        size_t nd = ais_tensor_ndim(out[i]);
        const int64_t *sh = ais_tensor_shape(out[i]);
        if (nd == 0 || (rows >= 0 && sh[0] != rows)) {
            fprintf(stderr, "aistack: output %s is not one value per row: left out\n", name);
            continue;
        }
        rows = sh[0];
        size_t per = sh[0] ? ais_tensor_size(out[i]) / (size_t)sh[0] : 0;
        for (size_t k = 0; k < per; k++) {
            if (!first) putchar(',');
            first = false;
            char col[300];
            if (per == 1 && nd == 1)
                snprintf(col, sizeof col, "%s", name);
            else
                snprintf(col, sizeof col, "%s[%zu]", name, k);
            print_cell(col);
        }
    }
    putchar('\n');
    const double *vals[MAX_IO] = {NULL};
    ais_tensor *tmp[MAX_IO] = {NULL};
    for (size_t i = 0; i < n_out && i < MAX_IO; i++)
        if (ais_tensor_dtype(out[i]) != AIS_DTYPE_STRING) vals[i] = as_f64(out[i], &tmp[i]);
    for (int64_t r = 0; r < rows; r++) {
        first = true;
        for (size_t i = 0; i < n_out; i++) {
            size_t nd = ais_tensor_ndim(out[i]);
            const int64_t *sh = ais_tensor_shape(out[i]);
            if (nd == 0 || sh[0] != rows) continue;
            size_t per = ais_tensor_size(out[i]) / (size_t)rows;
            ais_dtype dt = ais_tensor_dtype(out[i]);
            const double *v = vals[i];
            for (size_t k = 0; k < per; k++) {
                size_t at = (size_t)r * per + k;
                if (!first) putchar(',');
                first = false;
                if (dt == AIS_DTYPE_STRING)
                    print_cell(ais_tensor_string_at(out[i], at));
                else if (!v)
                    fputs("?", stdout);
                else if (is_float_dtype(dt))
                    printf("%.9g", v[at]);
                else
                    printf("%.17g", v[at]);
            }
        }
        putchar('\n');
    }
    for (size_t i = 0; i < n_out && i < MAX_IO; i++)
        ais_tensor_destroy(tmp[i]);
}

static void print_problems(const ais_pipeline_errors *e) {
    for (size_t i = 0; i < ais_pipeline_errors_count(e); i++) {
        size_t row = ais_pipeline_errors_row(e, i);
        if (row == SIZE_MAX)
            fprintf(stderr, "header, field \"%s\": %s\n", ais_pipeline_errors_field(e, i),
                    ais_pipeline_errors_message(e, i));
        else
            fprintf(stderr, "row %zu, field \"%s\": %s\n", row, ais_pipeline_errors_field(e, i),
                    ais_pipeline_errors_message(e, i));
    }
}

/* Says what is wrong with an option the command does not take, or that lacks its value;
 * returns 2 (the usage-error exit status). */
static int bad_option(const char *cmd, const char *opt, bool takes_value, const char *usage) {
    if (takes_value)
        fprintf(stderr, "aistack %s: option '%s' needs a value\n\n", cmd, opt);
    else
        fprintf(stderr, "aistack %s: unknown option '%s'\n\n", cmd, opt);
    fputs(usage, stderr);
    return 2;
}

/* "'a', 'b'": the model's input names, into buf. */
static const char *input_names(const ais_model *m, char *buf, size_t size) {
    size_t at = 0;
    buf[0] = 0;
    for (size_t i = 0; i < ais_model_input_count(m) && at < size; i++) {
        const char *nm = "";
        ais_model_input_info(m, i, &nm, NULL, NULL, NULL);
        int w = snprintf(buf + at, size - at, "%s'%s'", i ? ", " : "", nm);
        if (w < 0) break;
        at += (size_t)w;
    }
    return buf;
}

static int cmd_run(int argc, char **argv) {
    const char *model_path = NULL, *out_dir = NULL, *records = NULL, *records_format = NULL;
    const char *named[MAX_IO], *files[MAX_IO];
    size_t n_files = 0;
    int64_t threads = 1, backend = AIS_BACKEND_CPU, extra = AIS_EXTRA_FIELDS_ERROR;
    bool random_inputs = false;
    static const char *const with_value[] = {"--input",          "--output-dir", "--records",
                                             "--records-format", "--threads",    "--backend"};
    for (int i = 0; i < argc; i++) {
        const char *a = argv[i];
        for (size_t k = 0; k < sizeof with_value / sizeof *with_value; k++)
            if (!strcmp(a, with_value[k]) && i + 1 == argc)
                return bad_option("run", a, true, usage_run);
        if (!strcmp(a, "--ignore-extra-fields")) {
            extra = AIS_EXTRA_FIELDS_IGNORE;
        } else if (!strcmp(a, "--random-inputs")) {
            random_inputs = true;
        } else if (!strcmp(a, "--input") && i + 1 < argc) {
            if (n_files == MAX_IO) return fprintf(stderr, "aistack: too many inputs\n"), 2;
            const char *spec = argv[++i];
            const char *eq = strchr(spec, '=');
            named[n_files] = eq ? spec : NULL;
            files[n_files++] = eq ? eq + 1 : spec;
        } else if (!strcmp(a, "--output-dir") && i + 1 < argc) {
            out_dir = argv[++i];
        } else if (!strcmp(a, "--records") && i + 1 < argc) {
            records = argv[++i];
        } else if (!strcmp(a, "--records-format") && i + 1 < argc) {
            records_format = argv[++i];
            if (strcmp(records_format, "csv") && strcmp(records_format, "jsonl"))
                return fprintf(stderr, "aistack: --records-format must be csv or jsonl\n"), 2;
        } else if (!strcmp(a, "--threads") && i + 1 < argc) {
            char *end;
            threads = strtoll(argv[++i], &end, 10);
            if (*end || threads < 0) return fprintf(stderr, "aistack: bad --threads\n"), 2;
        } else if (!strcmp(a, "--backend") && i + 1 < argc) {
            const char *b = argv[++i];
            if (!strcmp(b, "cpu")) backend = AIS_BACKEND_CPU;
            else if (!strcmp(b, "cuda")) backend = AIS_BACKEND_CUDA;
            else return fprintf(stderr, "aistack: --backend must be cpu or cuda\n"), 2;
        } else if (a[0] == '-' && a[1]) {
            return bad_option("run", a, false, usage_run);
        } else if (!model_path) {
            model_path = a;
        } else {
            if (n_files == MAX_IO) return fprintf(stderr, "aistack: too many inputs\n"), 2;
            named[n_files] = NULL;
            files[n_files++] = a;
        }
    }
    if (!model_path || (records && (n_files || random_inputs))) {
        if (records && (n_files || random_inputs))
            fprintf(stderr, "aistack: --records and input files (or --random-inputs) exclude "
                            "each other\n");
        fputs(usage_run, stderr);
        return 2;
    }
    bool jsonl = false;
    if (records) {
        if (records_format)
            jsonl = strcmp(records_format, "jsonl") == 0;
        else if (ends_with(records, ".jsonl") || ends_with(records, ".ndjson") ||
                 ends_with(records, ".json"))
            jsonl = true;
        else if (!ends_with(records, ".csv") && strcmp(records, "-") != 0) {
            fprintf(stderr, "aistack: %s: give --records-format csv|jsonl (the extension is "
                            "neither .csv nor .jsonl)\n",
                    records);
            return 2;
        }
    }
    char *text = NULL;
    size_t text_len = 0;
    ais_pipeline_errors *problems = NULL;
    ais_options *o = NULL;
    ais_model *m = NULL;
    ais_session *s = NULL;
    ais_tensor *in[MAX_IO] = {NULL}, *out[MAX_IO] = {NULL};
    int rc = 1;
    ais_status st = ais_options_create(&o);
    if (!st) st = ais_options_set_int(o, AIS_OPT_THREADS, threads);
    if (!st) st = ais_options_set_int(o, AIS_OPT_BACKEND, backend);
    if (!st) st = ais_options_set_int(o, AIS_OPT_EXTRA_FIELDS, extra);
    if (st) {
        fail_status("options", st);
        goto done;
    }
    if (load_model(model_path, o, &m)) goto done;
    size_t n_in = ais_model_input_count(m), n_out = ais_model_output_count(m);
    if (n_in > MAX_IO || n_out > MAX_IO) {
        fprintf(stderr, "aistack: the model has more than %d inputs or outputs\n", MAX_IO);
        goto done;
    }
    if (records) {
        if (!ais_model_pipeline(m)) {
            fprintf(stderr,
                    "aistack: %s has no feature pipeline, so it cannot take records "
                    "(attach one: aistack convert --pipeline)\n",
                    model_path);
            goto done;
        }
        if (!(text = read_all(records, &text_len))) goto done;
        if ((st = ais_session_create(m, o, &s))) {
            fail_status("session", st);
            goto done;
        }
        st = jsonl ? ais_session_run_json_rows(s, text, text_len, NULL, out, n_out, &problems)
                   : ais_session_run_csv(s, text, text_len, NULL, out, n_out, &problems);
        if (st) {
            print_problems(problems);
            fail_status(records, st);
            goto done;
        }
        print_rows(m, out, n_out);
        rc = 0;
        goto save;
    }
    size_t next_positional = 0;
    for (size_t f = 0; f < n_files; f++) {
        size_t idx = next_positional;
        if (named[f]) {
            size_t len = (size_t)(files[f] - 1 - named[f]);
            for (idx = 0; idx < n_in; idx++) {
                const char *nm;
                ais_model_input_info(m, idx, &nm, NULL, NULL, NULL);
                if (strlen(nm) == len && !strncmp(nm, named[f], len)) break;
            }
            if (idx == n_in) {
                char names[1024];
                fprintf(stderr, "aistack: the model has no input '%.*s' (its inputs: %s)\n",
                        (int)len, named[f], input_names(m, names, sizeof names));
                rc = 2;
                goto done;
            }
        } else {
            while (idx < n_in && in[idx]) idx++;
            next_positional = idx + 1;
            if (idx >= n_in) {
                fprintf(stderr, "aistack: more input files than the model's %zu inputs\n", n_in);
                goto done;
            }
        }
        if (in[idx]) {
            const char *nm = "";
            ais_model_input_info(m, idx, &nm, NULL, NULL, NULL);
            fprintf(stderr, "aistack: input '%s' is given twice (the second time from %s)\n", nm,
                    files[f]);
            rc = 2;
            goto done;
        }
        if ((st = ais_tensor_load(files[f], &in[idx]))) {
            fail_status(files[f], st);
            goto done;
        }
    }
    for (size_t i = 0; i < n_in; i++) {
        if (in[i]) continue;
        const char *nm = "";
        ais_dtype dt = AIS_DTYPE_UNDEFINED;
        size_t nd = 0;
        const int64_t *dims = NULL;
        ais_model_input_info(m, i, &nm, &dt, &nd, &dims);
        if (!random_inputs) {
            /* Random values look like a real prediction: only on request. */
            fprintf(stderr, "aistack: no value for input '%s' (%s ", nm, ais_dtype_name(dt));
            print_dims(stderr, nd, dims, m, i, false);
            fprintf(stderr,
                    "): give --input %s=FILE (.npy or .pb), or --random-inputs to feed "
                    "random values\n",
                    nm);
            rc = 2;
            goto done;
        }
        if ((st = random_input(m, i, &in[i]))) {
            fail_status("random input", st);
            goto done;
        }
        fprintf(stderr, "aistack: input '%s': random values, %s ", nm,
                ais_dtype_name(ais_tensor_dtype(in[i])));
        print_dims(stderr, ais_tensor_ndim(in[i]), ais_tensor_shape(in[i]), NULL, 0, false);
        fputs(" (--random-inputs)\n", stderr);
    }
    if ((st = ais_session_create(m, o, &s))) {
        fail_status("session", st);
        goto done;
    }
    if ((st = ais_session_run(s, NULL, (const ais_tensor *const *)in, n_in, NULL, out, n_out))) {
        fail_status("run", st);
        goto done;
    }
    rc = 0;
    for (size_t i = 0; i < n_out; i++) {
        const char *name;
        ais_model_output_info(m, i, &name, NULL, NULL, NULL);
        print_tensor(name, out[i]);
    }
save:
    if (out_dir && mkdir(out_dir, 0777) != 0 && errno != EEXIST) {
        fprintf(stderr, "aistack: cannot create %s: %s\n", out_dir, strerror(errno));
        rc = 1;
        goto done;
    }
    for (size_t i = 0; i < n_out && out_dir; i++) {
        const char *name;
        ais_model_output_info(m, i, &name, NULL, NULL, NULL);
        char safe[200], path[4096];
        sanitize(name, i, safe, sizeof safe);
        snprintf(path, sizeof path, "%s/%s.npy", out_dir, safe);
        if ((st = ais_tensor_save_npy(out[i], path))) rc = fail_status(path, st);
    }
done:
    for (size_t i = 0; i < MAX_IO; i++) {
        ais_tensor_destroy(in[i]);
        ais_tensor_destroy(out[i]);
    }
    ais_session_destroy(s);
    ais_model_destroy(m);
    ais_options_destroy(o);
    ais_pipeline_errors_destroy(problems);
    free(text);
    return rc;
}

/* ---- convert ---- */

/* One line per tensor on stderr; on a terminal each overwrites the last. */
static void convert_progress(void *ud, uint64_t done, uint64_t total, const char *item) {
    bool tty = *(const bool *)ud;
    fprintf(stderr, "%sconvert: tensor %llu/%llu %.60s%s", tty ? "\r\033[K" : "",
            (unsigned long long)done, (unsigned long long)total, item, tty ? "" : "\n");
    if (tty && done == total) fputc('\n', stderr);
    fflush(stderr);
}

static int cmd_convert(int argc, char **argv) {
    const char *src = NULL, *dst = NULL, *spec_path = NULL;
    int64_t level = 0;
    int progress = -1; /* -1: when stderr is a terminal */
    for (int i = 0; i < argc; i++) {
        if ((!strcmp(argv[i], "--pipeline") || !strcmp(argv[i], "--compress")) && i + 1 == argc)
            return bad_option("convert", argv[i], true, usage_convert);
        if (!strcmp(argv[i], "--progress")) {
            progress = 1;
        } else if (!strcmp(argv[i], "--no-progress")) {
            progress = 0;
        } else if (!strcmp(argv[i], "--pipeline") && i + 1 < argc) {
            spec_path = argv[++i];
        } else if (!strcmp(argv[i], "--compress") && i + 1 < argc) {
            const char *v = argv[++i];
            char *end;
            level = strcmp(v, "none") == 0 ? 0 : strtoll(v, &end, 10);
            if (strcmp(v, "none") != 0 && (*end || level < 1 || level > 22)) {
                fprintf(stderr, "aistack: --compress takes 1..22 or none\n");
                return 2;
            }
        } else if (argv[i][0] == '-' && argv[i][1]) {
            return bad_option("convert", argv[i], false, usage_convert);
        } else if (!src) {
            src = argv[i];
        } else if (!dst) {
            dst = argv[i];
        } else {
            fputs(usage_convert, stderr);
            return 2;
        }
    }
    if (!src || !dst) {
        fputs(usage_convert, stderr);
        return 2;
    }
    if (!ends_with(dst, ".ais")) {
        /* .ais bytes under a .onnx name would fool every other tool */
        fprintf(stderr,
                "aistack convert: OUT must end in .ais (convert writes the native format), got "
                "'%s'\n",
                dst);
        return 2;
    }
    bool tty = isatty(STDERR_FILENO) != 0;
    if (progress < 0) progress = tty;
    ais_pipeline *pl = NULL;
    if (spec_path) {
        size_t len;
        char *spec = read_all(spec_path, &len);
        if (!spec) return 1;
        ais_status st = ais_pipeline_create_from_json(spec, len, &pl);
        free(spec);
        if (st) return fail_status(spec_path, st);
    }
    ais_model *m = NULL;
    ais_options *o = NULL;
    if (load_model(src, NULL, &m)) {
        ais_pipeline_destroy(pl);
        return 1;
    }
    ais_status st = ais_options_create(&o);
    if (!st) st = ais_options_set_int(o, AIS_OPT_SAVE_COMPRESSION, level);
    if (!st && progress) st = ais_options_set_progress(o, convert_progress, &tty);
    if (!st) st = pl ? ais_model_save_with_pipeline(m, pl, dst, o) : ais_model_save(m, dst, o);
    ais_options_destroy(o);
    ais_model_destroy(m);
    ais_pipeline_destroy(pl);
    if (st) return fail_status(dst, st);
    printf("wrote %s\n", dst);
    return 0;
}

/* ---- check ---- */

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
    for (size_t i = 0; i < n; i++) free(names[i]);
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
                 shape_str(ais_tensor_shape(got), nd, a, sizeof a),
                 shape_str(ais_tensor_shape(want), ais_tensor_ndim(want), b, sizeof b));
        return false;
    }
    if (ais_tensor_dtype(got) == AIS_DTYPE_STRING) { /* exact */
        for (size_t i = 0; i < ais_tensor_size(got); i++) {
            const char *g = ais_tensor_string_at(got, i), *w = ais_tensor_string_at(want, i);
            if (strcmp(g, w) != 0) {
                snprintf(why, size, "mismatch at flat index %zu: got \"%.100s\", expected "
                         "\"%.100s\"", i, g, w);
                return false;
            }
        }
        return true;
    }
    ais_tensor *tg = NULL, *tw = NULL;
    const double *gv = as_f64(got, &tg), *wv = as_f64(want, &tw);
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
        if (result == 1 &&
            (st = ais_session_run(s, NULL, (const ais_tensor *const *)tin, n_in, NULL, tgot,
                                  n_out))) {
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
    while (len > 1 && path[len - 1] == '/') len--;
    const char *end = path + len;
    const char *b = end;
    while (b > path && b[-1] != '/') b--;
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

static int cmd_check(int argc, char **argv) {
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
            if (argv[i][2] == 'r') cs.rtol = v;
            else cs.atol = v;
            i++;
        } else if (!strcmp(argv[i], "--rtol") || !strcmp(argv[i], "--atol")) {
            return bad_option("check", argv[i], true, usage_check);
        } else if (argv[i][0] == '-') {
            return bad_option("check", argv[i], false, usage_check);
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
        fputs(usage_check, stderr);
        return 2;
    }
    if (cs.skipped)
        printf("%zu passed, %zu failed, %zu skipped\n", cs.passed, cs.failed, cs.skipped);
    else
        printf("%zu passed, %zu failed\n", cs.passed, cs.failed);
    return cs.failed ? 1 : 0;
}

/* ---- ops ---- */

static int cmd_ops(int argc, char **argv) {
    (void)argv;
    if (argc) {
        fputs(usage_ops, stderr);
        return 2;
    }
    for (size_t i = 0; i < ais_op_count(); i++) {
        const char *domain, *name;
        int64_t since;
        if (ais_op_info(i, &domain, &name, &since) != AIS_OK) continue;
        printf("%-12s %-28s since opset %lld\n", domain[0] ? domain : "ai.onnx", name,
               (long long)since);
    }
    return 0;
}

/* ---- main ---- */

typedef struct command {
    const char *name;
    int (*fn)(int argc, char **argv);
    const char *usage;
} command;

static const command commands[] = {
    {"info", cmd_info, usage_info},          {"run", cmd_run, usage_run},
    {"convert", cmd_convert, usage_convert}, {"check", cmd_check, usage_check},
    {"ops", cmd_ops, usage_ops},
};

int main(int argc, char **argv) {
    if (argc < 2 || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
        fputs(usage_main, argc < 2 ? stderr : stdout);
        return argc < 2 ? 2 : 0;
    }
    if (!strcmp(argv[1], "--version")) {
        printf("aistack %s\n", ais_version_string());
        return 0;
    }
    if (!strcmp(argv[1], "help")) {
        for (size_t i = 0; argc > 2 && i < sizeof commands / sizeof *commands; i++)
            if (!strcmp(argv[2], commands[i].name)) return fputs(commands[i].usage, stdout), 0;
        fputs(usage_main, stdout);
        return argc > 2 ? 2 : 0;
    }
    for (size_t i = 0; i < sizeof commands / sizeof *commands; i++) {
        if (strcmp(argv[1], commands[i].name) != 0) continue;
        for (int k = 2; k < argc; k++) {
            if (!strcmp(argv[k], "--help") || !strcmp(argv[k], "-h")) {
                fputs(commands[i].usage, stdout);
                return 0;
            }
        }
        return commands[i].fn(argc - 2, argv + 2);
    }
    fprintf(stderr, "aistack: unknown command '%s'\n\n%s", argv[1], usage_main);
    return 2;
}
