/*
 * aistack_run.c - `aistack run`: a model on tensor files (or random inputs on request), or raw
 * records (CSV, JSON lines) through its feature pipeline; prints and saves the outputs.
 */
#include <aistack/aistack.h>
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "aistack_tool.h"

const char tool_usage_run[] =
    "usage: aistack run MODEL [--input NAME=FILE | FILE]... [--random-inputs]\n"
    "                         [--output-dir DIR] [--threads N] [--backend cpu|cuda]\n"
    "\n"
    "  --input NAME=FILE  the input NAME from FILE (.npy or ONNX TensorProto .pb)\n"
    "  FILE               a bare file is the next input in declaration order\n"
    "  --random-inputs    fill the inputs not given with random values (floats uniform in\n"
    "                     [0, 1), integers in [0, 10), dynamic dimensions 1) and say so on\n"
    "                     stderr; without it every input must be given\n"
    "  --output-dir DIR   writes each output to DIR/NAME.npy (the name made file-safe)\n"
    "  --threads N        intra-op threads (default 0: the physical cores)\n"
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

static void print_tensor(const char *name, const ais_tensor *t) {
    printf("%s: %s ", name, ais_dtype_name(ais_tensor_dtype(t)));
    tool_print_dims(stdout, ais_tensor_ndim(t), ais_tensor_shape(t), NULL, 0, false);
    size_t n = ais_tensor_size(t), show = n < 8 ? n : 8;
    bool str = ais_tensor_dtype(t) == AIS_DTYPE_STRING;
    ais_tensor *tmp = NULL;
    const double *v = str ? NULL : tool_as_f64(t, &tmp);
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
        if (ais_tensor_dtype(out[i]) != AIS_DTYPE_STRING) vals[i] = tool_as_f64(out[i], &tmp[i]);
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
                else if (tool_is_float_dtype(dt))
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

int tool_cmd_run(int argc, char **argv) {
    const char *model_path = NULL, *out_dir = NULL, *records = NULL, *records_format = NULL;
    const char *named[MAX_IO], *files[MAX_IO];
    size_t n_files = 0;
    int64_t threads = 0, backend = AIS_BACKEND_CPU, extra = AIS_EXTRA_FIELDS_ERROR;
    bool random_inputs = false;
    static const char *const with_value[] = {"--input",          "--output-dir", "--records",
                                             "--records-format", "--threads",    "--backend"};
    for (int i = 0; i < argc; i++) {
        const char *a = argv[i];
        for (size_t k = 0; k < sizeof with_value / sizeof *with_value; k++)
            if (!strcmp(a, with_value[k]) && i + 1 == argc)
                return tool_bad_option("run", a, true, tool_usage_run);
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
            if (!strcmp(b, "cpu"))
                backend = AIS_BACKEND_CPU;
            else if (!strcmp(b, "cuda"))
                backend = AIS_BACKEND_CUDA;
            else
                return fprintf(stderr, "aistack: --backend must be cpu or cuda\n"), 2;
        } else if (a[0] == '-' && a[1]) {
            return tool_bad_option("run", a, false, tool_usage_run);
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
        fputs(tool_usage_run, stderr);
        return 2;
    }
    bool jsonl = false;
    if (records) {
        if (records_format)
            jsonl = strcmp(records_format, "jsonl") == 0;
        else if (tool_ends_with(records, ".jsonl") || tool_ends_with(records, ".ndjson") ||
                 tool_ends_with(records, ".json"))
            jsonl = true;
        else if (!tool_ends_with(records, ".csv") && strcmp(records, "-") != 0) {
            fprintf(stderr,
                    "aistack: %s: give --records-format csv|jsonl (the extension is "
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
        tool_fail_status("options", st);
        goto done;
    }
    if (tool_load_model(model_path, o, &m)) goto done;
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
        if (!(text = tool_read_all(records, &text_len))) goto done;
        if ((st = ais_session_create(m, o, &s))) {
            tool_fail_status("session", st);
            goto done;
        }
        st = jsonl ? ais_session_run_json_rows(s, text, text_len, NULL, out, n_out, &problems)
                   : ais_session_run_csv(s, text, text_len, NULL, out, n_out, &problems);
        if (st) {
            print_problems(problems);
            tool_fail_status(records, st);
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
            while (idx < n_in && in[idx])
                idx++;
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
            tool_fail_status(files[f], st);
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
            tool_print_dims(stderr, nd, dims, m, i, false);
            fprintf(stderr,
                    "): give --input %s=FILE (.npy or .pb), or --random-inputs to feed "
                    "random values\n",
                    nm);
            rc = 2;
            goto done;
        }
        if ((st = tool_random_input(m, i, &in[i]))) {
            tool_fail_status("random input", st);
            goto done;
        }
        fprintf(stderr, "aistack: input '%s': random values, %s ", nm,
                ais_dtype_name(ais_tensor_dtype(in[i])));
        tool_print_dims(stderr, ais_tensor_ndim(in[i]), ais_tensor_shape(in[i]), NULL, 0, false);
        fputs(" (--random-inputs)\n", stderr);
    }
    if ((st = ais_session_create(m, o, &s))) {
        tool_fail_status("session", st);
        goto done;
    }
    if ((st = ais_session_run(s, NULL, (const ais_tensor *const *)in, n_in, NULL, out, n_out))) {
        tool_fail_status("run", st);
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
        if ((st = ais_tensor_save_npy(out[i], path))) rc = tool_fail_status(path, st);
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
