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
    "usage: aistack drift MODEL.ais --records CURRENT.csv|.jsonl [--json] [--html REPORT.html]\n"
    "Compares the records (and the model's predictions on them) with the model's reference\n"
    "profile, feature by feature, as Evidently does by default; prints a table (feature, kind,\n"
    "method, value, threshold, drift) or, with --json, {\"dataset_drift\": ..., \"drift_share\": "
    "...,\n"
    "\"features\": {...}}. --html also writes a self-contained page with a histogram of\n"
    "reference vs current per feature (inline SVG). Exits 0 whether or not the data drifted.\n";

/* Bin of a position in [0, bins], the top edge in the last bin. */
#define AIS_MIN_BIN(x) ((size_t)fmin(fmax((x), 0.0), 19.0))

static int write_html(const char *path, const ais_profile *ref, const ais_profile *cur,
                      const ais_drift_report *r);

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
                      const char **records, const char **output, bool *json, uint64_t *nums,
                      const char **html) {
    for (int i = 0; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "--records") && i + 1 < argc)
            *records = argv[++i];
        else if (output && !strcmp(a, "--output") && i + 1 < argc)
            *output = argv[++i];
        else if (json && !strcmp(a, "--json"))
            *json = true;
        else if (html && !strcmp(a, "--html") && i + 1 < argc)
            *html = argv[++i];
        else if (nums && !strcmp(a, "--sample-size") && i + 1 < argc)
            nums[0] = strtoull(argv[++i], NULL, 10);
        else if (nums && !strcmp(a, "--top-k") && i + 1 < argc)
            nums[1] = strtoull(argv[++i], NULL, 10);
        else if (nums && !strcmp(a, "--seed") && i + 1 < argc)
            nums[2] = strtoull(argv[++i], NULL, 10);
        else if (a[0] == '-' && a[1])
            return tool_bad_option(
                cmd, a, !strcmp(a, "--records") || !strcmp(a, "--output") || !strcmp(a, "--html"),
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
                        nums, NULL);
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
    const char *model = NULL, *records = NULL, *html = NULL;
    bool json = false;
    int rc = parse_args(argc, argv, "drift", tool_usage_drift, &model, &records, NULL, &json, NULL,
                        &html);
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
    if (!rc && html) rc = write_html(html, ref, cur, r);
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

/* ---- the HTML report: a table and, per feature, reference vs current as inline SVG ---- */

#define REF_COLOR "#1f77b4"
#define CUR_COLOR "#ff7f0e"

static void html_text(FILE *f, const char *s) {
    for (; *s; s++) {
        if (*s == '<')
            fputs("&lt;", f);
        else if (*s == '>')
            fputs("&gt;", f);
        else if (*s == '&')
            fputs("&amp;", f);
        else if (*s == '"')
            fputs("&quot;", f);
        else
            fputc(*s, f);
    }
}

/* Bars of two share series (reference, current) over n bins with labels. */
static void svg_bars(FILE *f, const double *a, const double *b, const char *const *labels,
                     size_t n) {
    const double W = 760, H = 220, left = 40, bottom = 40;
    double mx = 1e-12;
    for (size_t i = 0; i < n; i++)
        mx = fmax(mx, fmax(a[i], b[i]));
    double bw = (W - left - 10) / (double)(n ? n : 1);
    fprintf(f, "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%.0f\" height=\"%.0f\">\n", W,
            H + bottom);
    fprintf(f, "<line x1=\"%.0f\" y1=\"%.0f\" x2=\"%.0f\" y2=\"%.0f\" stroke=\"#333\"/>\n", left, H,
            W - 10, H);
    for (size_t i = 0; i < n; i++) {
        double x = left + (double)i * bw, ha = a[i] / mx * (H - 20), hb = b[i] / mx * (H - 20);
        fprintf(f,
                "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" fill=\"" REF_COLOR
                "\"><title>reference %.4f</title></rect>\n",
                x + 1, H - ha, bw / 2 - 1, ha, a[i]);
        fprintf(f,
                "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" fill=\"" CUR_COLOR
                "\"><title>current %.4f</title></rect>\n",
                x + bw / 2, H - hb, bw / 2 - 1, hb, b[i]);
        if (labels && (n <= 12 || i % (n / 10 + 1) == 0)) {
            fprintf(f, "<text x=\"%.1f\" y=\"%.0f\" font-size=\"10\" text-anchor=\"middle\">",
                    x + bw / 2, H + 14);
            html_text(f, labels[i]);
            fputs("</text>\n", f);
        }
    }
    fputs("</svg>\n", f);
}

static void feature_chart(FILE *f, const ais_profile *ref, const ais_profile *cur, size_t ri,
                          size_t ci, ais_feature_kind kind) {
    enum { BINS = 20 };
    if (kind == AIS_FEATURE_NUMERIC) {
        const double *a, *b;
        size_t na, nb;
        if (ais_profile_sample(ref, ri, &a, &na) || ais_profile_sample(cur, ci, &b, &nb) || !na ||
            !nb) {
            fputs("<p>(no values to draw)</p>\n", f);
            return;
        }
        double lo = a[0], hi = a[0];
        for (size_t i = 0; i < na; i++)
            lo = fmin(lo, a[i]), hi = fmax(hi, a[i]);
        for (size_t i = 0; i < nb; i++)
            lo = fmin(lo, b[i]), hi = fmax(hi, b[i]);
        if (hi == lo) hi = lo + 1;
        double ha[BINS] = {0}, hb[BINS] = {0};
        char lab[BINS][32];
        const char *labels[BINS];
        for (size_t i = 0; i < na; i++)
            ha[AIS_MIN_BIN((a[i] - lo) / (hi - lo) * BINS)] += 1.0 / (double)na;
        for (size_t i = 0; i < nb; i++)
            hb[AIS_MIN_BIN((b[i] - lo) / (hi - lo) * BINS)] += 1.0 / (double)nb;
        for (int i = 0; i < BINS; i++) {
            snprintf(lab[i], sizeof lab[i], "%.3g", lo + (hi - lo) * i / BINS);
            labels[i] = lab[i];
        }
        svg_bars(f, ha, hb, labels, BINS);
        return;
    }
    /* categorical: the reference's categories, then the current's new ones */
    size_t nr = ais_profile_category_count(ref, ri), nc = ais_profile_category_count(cur, ci);
    size_t cap = nr + nc + 1, n = 0;
    double *a = calloc(cap, sizeof *a), *b = calloc(cap, sizeof *b);
    const char **labels = calloc(cap, sizeof *labels);
    uint64_t tr = 0, tc = 0, cnt;
    const char *name;
    for (size_t i = 0; i < nr; i++) {
        ais_profile_category_at(ref, ri, i, &name, &cnt);
        labels[n] = name;
        a[n++] = (double)cnt;
        tr += cnt;
    }
    for (size_t i = 0; i < nc; i++) {
        ais_profile_category_at(cur, ci, i, &name, &cnt);
        tc += cnt;
        size_t k = 0;
        while (k < n && strcmp(labels[k], name))
            k++;
        if (k == n) labels[n++] = name;
        b[k] += (double)cnt;
    }
    for (size_t i = 0; i < n; i++) {
        a[i] /= tr ? (double)tr : 1;
        b[i] /= tc ? (double)tc : 1;
    }
    svg_bars(f, a, b, labels, n);
    free(a);
    free(b);
    free(labels);
}

static int write_html(const char *path, const ais_profile *ref, const ais_profile *cur,
                      const ais_drift_report *r) {
    FILE *f = fopen(path, "w");
    if (!f) return fprintf(stderr, "aistack: %s: cannot write\n", path), 1;
    int32_t dd;
    double share;
    size_t nd;
    ais_drift_report_dataset(r, &dd, &share, &nd);
    fputs("<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>aistack drift</title>\n"
          "<style>body{font-family:sans-serif;margin:20px}table{border-collapse:collapse}"
          "td,th{border:1px solid #ccc;padding:4px 8px}.yes{color:#c00;font-weight:bold}"
          "</style></head><body>\n",
          f);
    fprintf(f,
            "<h1>Data drift: %s</h1>\n<p>%zu drifting features, share %.3f (dataset drift at "
            "0.5). <span style=\"color:" REF_COLOR "\">&#9632; reference</span> "
            "<span style=\"color:" CUR_COLOR "\">&#9632; current</span></p>\n",
            dd ? "yes" : "no", nd, share);
    fputs("<table><tr><th>feature</th><th>kind</th><th>method</th><th>value</th>"
          "<th>threshold</th><th>drift</th></tr>\n",
          f);
    for (size_t i = 0; i < ais_drift_report_feature_count(r); i++) {
        const char *name, *skipped;
        ais_feature_kind kind;
        ais_drift_method m;
        double v, t;
        int32_t d;
        ais_drift_report_feature(r, i, &name, &kind, &m, &v, &t, &d, &skipped);
        fputs("<tr><td>", f);
        html_text(f, name);
        fprintf(f, "</td><td>%s</td>", kind == AIS_FEATURE_NUMERIC ? "numeric" : "categorical");
        if (skipped) {
            fputs("<td colspan=\"4\">skipped: ", f);
            html_text(f, skipped);
            fputs("</td></tr>\n", f);
        } else {
            fprintf(f, "<td>%s</td><td>%.6g</td><td>%g</td><td class=\"%s\">%s</td></tr>\n",
                    ais_drift_method_name(m), v, t, d ? "yes" : "no", d ? "yes" : "no");
        }
    }
    fputs("</table>\n", f);
    for (size_t i = 0; i < ais_drift_report_feature_count(r); i++) {
        const char *name;
        ais_feature_kind kind;
        ais_drift_report_feature(r, i, &name, &kind, NULL, NULL, NULL, NULL, NULL);
        size_t ri, ci;
        if (ais_profile_find(ref, name, &ri) || ais_profile_find(cur, name, &ci)) continue;
        fputs("<h2>", f);
        html_text(f, name);
        fputs("</h2>\n", f);
        feature_chart(f, ref, cur, ri, ci, kind);
    }
    fputs("</body></html>\n", f);
    return fclose(f) ? (fprintf(stderr, "aistack: %s: cannot write\n", path), 1) : 0;
}
