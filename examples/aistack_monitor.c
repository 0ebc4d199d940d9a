/*
 * aistack_monitor.c - `aistack profile` (a model's reference profile from training records) and
 * `aistack drift` (live records against it), through the public API only: records are read
 * here (CSV with a header row, or JSON lines of flat objects), each pipeline input's column is
 * observed into an ais_profile, and so are the model's predictions from ais_session_run_csv /
 * ais_session_run_json_rows on the same records.
 */
#include <ctype.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "aistack_tool.h"

const char tool_usage_profile[] =
    "usage: aistack profile MODEL.ais --records TRAIN.csv|.jsonl --output OUT.ais\n"
    "           [--sample-size N] [--top-k K] [--seed S]\n"
    "Writes MODEL with the reference profile of the records: per pipeline input (and per\n"
    "single-column model output, the predictions) count, missing share, min, max, mean,\n"
    "variance and a seeded reservoir sample (numeric), or category counts (categorical).\n";
const char tool_usage_drift[] =
    "usage: aistack drift MODEL.ais --records CURRENT.csv|.jsonl [--json]\n"
    "Compares the records (and the model's predictions on them) with the model's reference\n"
    "profile, feature by feature, as Evidently does by default; prints a table (feature, kind,\n"
    "method, value, threshold, drift) or, with --json, {\"dataset_drift\": ..., \"drift_share\": "
    "...,\n"
    "\"features\": {...}}. Exits 0 whether or not the data drifted.\n";

/* ---- records: rows of (name, text or NULL for missing) ---- */

typedef struct table {
    char **names; /* columns */
    size_t n_cols;
    char ***cells; /* rows x n_cols, NULL: missing */
    size_t n_rows, cap_rows;
} table;

static void table_free(table *t) {
    for (size_t r = 0; r < t->n_rows; r++) {
        for (size_t c = 0; c < t->n_cols; c++)
            free(t->cells[r][c]);
        free(t->cells[r]);
    }
    for (size_t c = 0; c < t->n_cols; c++)
        free(t->names[c]);
    free(t->cells);
    free(t->names);
}

static size_t table_col(table *t, const char *name, bool add) {
    for (size_t c = 0; c < t->n_cols; c++)
        if (!strcmp(t->names[c], name)) return c;
    if (!add) return (size_t)-1;
    t->names = realloc(t->names, (t->n_cols + 1) * sizeof *t->names);
    t->names[t->n_cols] = strdup(name);
    for (size_t r = 0; r < t->n_rows; r++) {
        t->cells[r] = realloc(t->cells[r], (t->n_cols + 1) * sizeof **t->cells);
        t->cells[r][t->n_cols] = NULL;
    }
    return t->n_cols++;
}

static char **table_row(table *t) {
    if (t->n_rows == t->cap_rows) {
        t->cap_rows = t->cap_rows ? 2 * t->cap_rows : 64;
        t->cells = realloc(t->cells, t->cap_rows * sizeof *t->cells);
    }
    char **row = calloc(t->n_cols ? t->n_cols : 1, sizeof *row);
    t->cells[t->n_rows++] = row;
    return row;
}

/* One CSV field (RFC 4180 quoting) from *p; *end_row set at a line end or the end. */
static char *csv_field(const char **p, const char *end, bool *end_row) {
    size_t cap = 16, n = 0;
    char *s = malloc(cap);
    const char *q = *p;
    bool quoted = q < end && *q == '"';
    if (quoted) q++;
    for (; q < end; q++) {
        char ch = *q;
        if (quoted) {
            if (ch == '"') {
                if (q + 1 < end && q[1] == '"')
                    q++;
                else {
                    quoted = false;
                    continue;
                }
            }
        } else if (ch == ',' || ch == '\n' || ch == '\r') {
            break;
        }
        if (n + 2 > cap) s = realloc(s, cap *= 2);
        s[n++] = ch;
    }
    s[n] = 0;
    *end_row = q >= end || *q != ',';
    if (q < end && *q == '\r') q++;
    if (q < end) q++;
    *p = q;
    return s;
}

static int read_csv(const char *text, size_t len, table *t) {
    const char *p = text, *end = text + len;
    bool eol = false;
    while (!eol && p < end) {
        char *h = csv_field(&p, end, &eol);
        table_col(t, h, true);
        free(h);
    }
    while (p < end) {
        if (*p == '\n' || *p == '\r') { /* blank line */
            p++;
            continue;
        }
        char **row = table_row(t);
        size_t c = 0;
        eol = false;
        while (!eol) {
            char *f = csv_field(&p, end, &eol);
            if (c < t->n_cols && f[0])
                row[c] = f; /* an empty field is a missing value */
            else
                free(f);
            c++;
        }
        if (c != t->n_cols) {
            fprintf(stderr, "aistack: CSV row %zu has %zu fields, the header %zu\n", t->n_rows, c,
                    t->n_cols);
            return 1;
        }
    }
    return 0;
}

/* JSON lines of flat objects: string, number, true/false and null values. */
static const char *json_ws(const char *p, const char *end) {
    while (p < end && isspace((unsigned char)*p))
        p++;
    return p;
}

static char *json_string(const char **pp, const char *end) {
    const char *p = *pp + 1;
    size_t cap = 16, n = 0;
    char *s = malloc(cap);
    while (p < end && *p != '"') {
        char ch = *p++;
        if (ch == '\\' && p < end) {
            char e = *p++;
            ch = e == 'n'   ? '\n'
                 : e == 't' ? '\t'
                 : e == 'r' ? '\r'
                 : e == 'b' ? '\b'
                 : e == 'f' ? '\f'
                            : e;
            if (e == 'u') { /* \uXXXX: kept as UTF-8 for the BMP */
                unsigned cp = (unsigned)strtoul((char[5]){p[0], p[1], p[2], p[3], 0}, NULL, 16);
                p += 4;
                char u[4];
                int k =
                    cp < 0x80 ? (u[0] = (char)cp, 1)
                    : cp < 0x800
                        ? (u[0] = (char)(0xC0 | cp >> 6), u[1] = (char)(0x80 | (cp & 63)), 2)
                        : (u[0] = (char)(0xE0 | cp >> 12), u[1] = (char)(0x80 | ((cp >> 6) & 63)),
                           u[2] = (char)(0x80 | (cp & 63)), 3);
                for (int i = 0; i < k; i++) {
                    if (n + 2 > cap) s = realloc(s, cap *= 2);
                    s[n++] = u[i];
                }
                continue;
            }
        }
        if (n + 2 > cap) s = realloc(s, cap *= 2);
        s[n++] = ch;
    }
    s[n] = 0;
    *pp = p < end ? p + 1 : p;
    return s;
}

static int read_jsonl(const char *text, size_t len, table *t) {
    const char *p = text, *end = text + len;
    size_t line = 0;
    while ((p = json_ws(p, end)) < end) {
        line++;
        if (*p != '{') return fprintf(stderr, "aistack: JSON line %zu: not an object\n", line), 1;
        char **row = table_row(t);
        p = json_ws(p + 1, end);
        while (p < end && *p != '}') {
            if (*p != '"') return fprintf(stderr, "aistack: JSON line %zu: a key\n", line), 1;
            char *key = json_string(&p, end);
            p = json_ws(p, end);
            if (p >= end || *p != ':') {
                free(key);
                return fprintf(stderr, "aistack: JSON line %zu: ':' expected\n", line), 1;
            }
            p = json_ws(p + 1, end);
            char *val = NULL;
            if (p < end && *p == '"') {
                val = json_string(&p, end);
            } else {
                const char *s = p;
                while (p < end && *p != ',' && *p != '}' && !isspace((unsigned char)*p))
                    p++;
                if (!(p - s == 4 && !strncmp(s, "null", 4))) val = strndup(s, (size_t)(p - s));
            }
            size_t c = table_col(t, key, true);
            row = t->cells[t->n_rows - 1];
            free(row[c]);
            row[c] = val;
            free(key);
            p = json_ws(p, end);
            if (p < end && *p == ',') p = json_ws(p + 1, end);
        }
        if (p < end) p++;
    }
    return 0;
}

/* ---- profiles ---- */

typedef struct job {
    ais_model *model;
    ais_session *session;
    const ais_pipeline *pl;
    char *text;
    size_t len;
    bool jsonl;
    table t;
} job;

static int job_open(job *j, const char *model_path, const char *records) {
    memset(j, 0, sizeof *j);
    if (tool_load_model(model_path, NULL, &j->model)) return 1;
    j->pl = ais_model_pipeline(j->model);
    if (!j->pl) {
        fprintf(stderr,
                "aistack: %s has no feature pipeline: a profile describes the named "
                "columns a pipeline reads (aistack convert --pipeline SPEC.json)\n",
                model_path);
        return 1;
    }
    ais_status st = ais_session_create(j->model, NULL, &j->session);
    if (st) return tool_fail_status("session", st);
    j->text = tool_read_all(records, &j->len);
    if (!j->text) return 1;
    j->jsonl = tool_ends_with(records, ".jsonl") || tool_ends_with(records, ".ndjson") ||
               tool_ends_with(records, ".json");
    return j->jsonl ? read_jsonl(j->text, j->len, &j->t) : read_csv(j->text, j->len, &j->t);
}

static void job_close(job *j) {
    table_free(&j->t);
    free(j->text);
    ais_session_destroy(j->session);
    ais_model_destroy(j->model);
}

/* Adds the pipeline's inputs and the model's single-column outputs to p (kinds from the
 * pipeline and the output dtypes), or checks that a reference has them when `ref` is set. */
static int add_features(job *j, ais_profile *p) {
    for (size_t i = 0; i < ais_pipeline_input_count(j->pl); i++) {
        const char *name;
        ais_feature_kind kind;
        ais_pipeline_input_info(j->pl, i, &name, &kind);
        ais_status st = ais_profile_add_feature(p, name, kind, NULL);
        if (st) return tool_fail_status(name, st);
    }
    for (size_t i = 0; i < ais_model_output_count(j->model); i++) {
        const char *name;
        ais_dtype dt;
        size_t nd;
        const int64_t *dims;
        ais_model_output_info(j->model, i, &name, &dt, &nd, &dims);
        if (nd > 2 || (nd == 2 && dims[1] != 1) || dt == AIS_DTYPE_SEQUENCE) {
            fprintf(stderr,
                    "aistack: output '%s' is not one value per row: left out of the "
                    "profile\n",
                    name);
            continue;
        }
        bool num = tool_is_float_dtype(dt);
        ais_status st = ais_profile_add_feature(
            p, name, num ? AIS_FEATURE_NUMERIC : AIS_FEATURE_CATEGORICAL, NULL);
        if (st) return tool_fail_status(name, st);
    }
    return 0;
}

/* Observes the records' columns and the model's predictions on them. */
static int observe(job *j, ais_profile *p) {
    size_t nr = j->t.n_rows;
    double *num = malloc((nr ? nr : 1) * sizeof *num);
    const char **str = malloc((nr ? nr : 1) * sizeof *str);
    for (size_t f = 0; f < ais_profile_feature_count(p); f++) {
        const char *name;
        ais_feature_kind kind;
        ais_profile_feature_info(p, f, &name, &kind, NULL, NULL, NULL, NULL, NULL, NULL);
        size_t c = table_col(&j->t, name, false);
        if (c == (size_t)-1) continue; /* an output, observed below */
        for (size_t r = 0; r < nr; r++) {
            const char *cell = j->t.cells[r][c];
            if (kind == AIS_FEATURE_NUMERIC) {
                char *e = NULL;
                num[r] = cell ? strtod(cell, &e) : NAN;
                if (cell && (e == cell || *e)) num[r] = NAN; /* not a number: missing */
            } else {
                str[r] = cell;
            }
        }
        ais_status st = kind == AIS_FEATURE_NUMERIC ? ais_profile_observe_numbers(p, f, num, nr)
                                                    : ais_profile_observe_strings(p, f, str, nr);
        if (st) return free(num), free(str), tool_fail_status(name, st);
    }
    /* predictions */
    size_t n_out = ais_model_output_count(j->model);
    ais_tensor *outs[MAX_IO] = {0};
    if (n_out > MAX_IO) n_out = MAX_IO;
    ais_pipeline_errors *errs = NULL;
    ais_status st =
        j->jsonl ? ais_session_run_json_rows(j->session, j->text, j->len, NULL, outs, n_out, &errs)
                 : ais_session_run_csv(j->session, j->text, j->len, NULL, outs, n_out, &errs);
    ais_pipeline_errors_destroy(errs);
    if (st) return free(num), free(str), tool_fail_status("running the model on the records", st);
    for (size_t o = 0; o < n_out; o++) {
        const char *name;
        ais_model_output_info(j->model, o, &name, NULL, NULL, NULL);
        size_t f;
        if (ais_profile_find(p, name, &f) != AIS_OK) continue;
        ais_feature_kind kind;
        ais_profile_feature_info(p, f, NULL, &kind, NULL, NULL, NULL, NULL, NULL, NULL);
        size_t n = ais_tensor_size(outs[o]);
        if (ais_tensor_dtype(outs[o]) == AIS_DTYPE_STRING) {
            const char **v = malloc((n ? n : 1) * sizeof *v);
            for (size_t k = 0; k < n; k++)
                v[k] = ais_tensor_string_at(outs[o], k);
            st = ais_profile_observe_strings(p, f, v, n);
            free(v);
        } else {
            ais_tensor *tmp = NULL;
            const double *d = tool_as_f64(outs[o], &tmp);
            if (!d) {
                st = AIS_E_DTYPE;
            } else if (kind == AIS_FEATURE_NUMERIC) {
                st = ais_profile_observe_numbers(p, f, d, n);
            } else { /* class labels: by their decimal text */
                char(*buf)[32] = malloc((n ? n : 1) * sizeof *buf);
                const char **v = malloc((n ? n : 1) * sizeof *v);
                for (size_t k = 0; k < n; k++) {
                    snprintf(buf[k], sizeof buf[k], "%.17g", d[k]);
                    v[k] = buf[k];
                }
                st = ais_profile_observe_strings(p, f, v, n);
                free(buf);
                free(v);
            }
            ais_tensor_destroy(tmp);
        }
        if (st) break;
    }
    for (size_t o = 0; o < n_out; o++)
        ais_tensor_destroy(outs[o]);
    free(num);
    free(str);
    return st ? tool_fail_status("predictions", st) : 0;
}

static int parse_args(int argc, char **argv, const char *cmd, const char *usage, const char **model,
                      const char **records, const char **output, bool *json, uint64_t *nums) {
    for (int i = 0; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "--records") && i + 1 < argc)
            *records = argv[++i];
        else if (output && !strcmp(a, "--output") && i + 1 < argc)
            *output = argv[++i];
        else if (json && !strcmp(a, "--json"))
            *json = true;
        else if (nums && !strcmp(a, "--sample-size") && i + 1 < argc)
            nums[0] = strtoull(argv[++i], NULL, 10);
        else if (nums && !strcmp(a, "--top-k") && i + 1 < argc)
            nums[1] = strtoull(argv[++i], NULL, 10);
        else if (nums && !strcmp(a, "--seed") && i + 1 < argc)
            nums[2] = strtoull(argv[++i], NULL, 10);
        else if (a[0] == '-' && a[1])
            return tool_bad_option(cmd, a, !strcmp(a, "--records") || !strcmp(a, "--output"),
                                   usage);
        else if (!*model)
            *model = a;
        else
            return fprintf(stderr, "aistack %s: one model only\n%s", cmd, usage), 2;
    }
    if (!*model || !*records || (output && !*output)) return fprintf(stderr, "%s", usage), 2;
    return 0;
}

int tool_cmd_profile(int argc, char **argv) {
    const char *model = NULL, *records = NULL, *output = NULL;
    uint64_t nums[3] = {0, 0, 0};
    int rc = parse_args(argc, argv, "profile", tool_usage_profile, &model, &records, &output, NULL,
                        nums);
    if (rc) return rc;
    if (nums[0] > UINT32_MAX || nums[1] > UINT32_MAX)
        return fprintf(stderr, "aistack profile: --sample-size and --top-k fit 32 bits\n"), 2;
    job j;
    ais_profile *p = NULL;
    rc = job_open(&j, model, records);
    if (!rc) {
        ais_status st = ais_profile_create((uint32_t)nums[0], (uint32_t)nums[1], nums[2], &p);
        rc = st ? tool_fail_status("profile", st) : 0;
    }
    if (!rc) rc = add_features(&j, p);
    if (!rc) rc = observe(&j, p);
    if (!rc) {
        ais_status st = ais_model_save_with_profile(j.model, p, output, NULL);
        rc = st ? tool_fail_status(output, st) : 0;
    }
    if (!rc)
        printf("%s: profile of %zu records, %zu features\n", output, j.t.n_rows,
               ais_profile_feature_count(p));
    ais_profile_destroy(p);
    job_close(&j);
    return rc;
}

int tool_cmd_drift(int argc, char **argv) {
    const char *model = NULL, *records = NULL;
    bool json = false;
    int rc = parse_args(argc, argv, "drift", tool_usage_drift, &model, &records, NULL, &json, NULL);
    if (rc) return rc;
    job j;
    ais_profile *cur = NULL;
    ais_drift_report *r = NULL;
    rc = job_open(&j, model, records);
    const ais_profile *ref = rc ? NULL : ais_model_profile(j.model);
    if (!rc && !ref) {
        fprintf(stderr, "aistack: %s has no reference profile (aistack profile writes one)\n",
                model);
        rc = 1;
    }
    if (!rc) {
        /* the current side: the reference's features, kinds and reservoir size */
        ais_status st = ais_profile_create(0, 0, 0, &cur);
        for (size_t f = 0; !st && f < ais_profile_feature_count(ref); f++) {
            const char *name;
            ais_feature_kind kind;
            ais_profile_feature_info(ref, f, &name, &kind, NULL, NULL, NULL, NULL, NULL, NULL);
            st = ais_profile_add_feature(cur, name, kind, NULL);
        }
        rc = st ? tool_fail_status("profile", st) : 0;
    }
    if (!rc) rc = observe(&j, cur);
    if (!rc) {
        ais_status st = ais_profile_drift(ref, cur, &r);
        rc = st ? tool_fail_status("drift", st) : 0;
    }
    if (!rc && json) {
        size_t need = 0;
        ais_drift_report_json(r, NULL, 0, &need);
        char *buf = malloc(need);
        ais_status st = ais_drift_report_json(r, buf, need, &need);
        if (st)
            rc = tool_fail_status("json", st);
        else
            printf("%s\n", buf);
        free(buf);
    } else if (!rc) {
        printf("%-24s %-12s %-14s %14s %10s %s\n", "feature", "kind", "method", "value",
               "threshold", "drift");
        for (size_t i = 0; i < ais_drift_report_feature_count(r); i++) {
            const char *name, *skipped;
            ais_feature_kind kind;
            ais_drift_method m;
            double v, t;
            int32_t d;
            ais_drift_report_feature(r, i, &name, &kind, &m, &v, &t, &d, &skipped);
            const char *k = kind == AIS_FEATURE_NUMERIC ? "numeric" : "categorical";
            if (skipped)
                printf("%-24s %-12s skipped: %s\n", name, k, skipped);
            else
                printf("%-24s %-12s %-14s %14.6g %10g %s\n", name, k, ais_drift_method_name(m), v,
                       t, d ? "yes" : "no");
        }
        int32_t dd;
        double share;
        size_t nd;
        ais_drift_report_dataset(r, &dd, &share, &nd);
        printf("dataset drift: %s (%zu drifting, share %.3f; threshold 0.5)\n", dd ? "yes" : "no",
               nd, share);
    }
    ais_drift_report_destroy(r);
    ais_profile_destroy(cur);
    job_close(&j);
    return rc;
}
