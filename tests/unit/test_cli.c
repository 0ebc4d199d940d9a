/* test_cli.c - the aistack tool as a user runs it: help, exit codes, and the check command's
 * output format on case folders (a broken model, a case without data). Skips when the tool was
 * not built (AIS_BUILD_EXAMPLES=OFF). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "runtime/model.h"
#include "test_util.h"

static char tool[4096];

/* Runs the tool with args; returns its exit code and its stdout in out. */
static int run_tool(const char *args, char *out, size_t size) {
    char cmd[8192];
    int len = snprintf(cmd, sizeof cmd, "'%s' %s %s", tool, args,
                       strstr(args, "2>") ? "" : "2>/dev/null");
    assert_true(len > 0 && (size_t)len < sizeof cmd);
    FILE *p = popen(cmd, "r");
    assert_non_null(p);
    size_t n = fread(out, 1, size - 1, p);
    out[n] = 0;
    int st = pclose(p);
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static int setup(void **state) {
    (void)state;
    char self[4096];
    ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
    if (n <= 0) return -1;
    self[n] = 0;
    char *slash = strrchr(self, '/');
    if (slash) *slash = 0;
    if (snprintf(tool, sizeof tool, "%s/../examples/aistack", self) >= (int)sizeof tool) return -1;
    return 0;
}

static void skip_without_tool(void) {
    if (access(tool, X_OK) != 0) skip();
}

static void test_help(void **state) {
    (void)state;
    skip_without_tool();
    static char out[1 << 16];
    assert_int_equal(run_tool("--help", out, sizeof out), 0);
    const char *cmds[] = {"info", "run", "convert", "check", "ops"};
    for (size_t i = 0; i < 5; i++) assert_non_null(strstr(out, cmds[i]));
    assert_int_equal(run_tool("help check", out, sizeof out), 0);
    assert_non_null(strstr(out, "--rtol"));
    assert_int_equal(run_tool("run --help", out, sizeof out), 0);
    assert_non_null(strstr(out, "--output-dir"));
    assert_non_null(strstr(out, "--records"));
    assert_int_equal(run_tool("convert --help", out, sizeof out), 0);
    assert_non_null(strstr(out, "--pipeline"));
    assert_int_equal(run_tool("no-such-command", out, sizeof out), 2);
    assert_int_equal(run_tool("", out, sizeof out), 2);
    assert_int_equal(run_tool("ops", out, sizeof out), 0);
    assert_int_not_equal(run_tool("info /nonexistent/model.onnx", out, sizeof out), 0);
}

static void write_file(const char *path, const char *text) {
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
}

static void test_check_format(void **state) {
    (void)state;
    skip_without_tool();
    char root[] = "/tmp/ais_test_cli_XXXXXX";
    assert_non_null(mkdtemp(root));
    char path[8192];
    snprintf(path, sizeof path, "%s/suite", root);
    assert_int_equal(mkdir(path, 0777), 0);
    /* a case whose model is garbage: FAIL with the loader's reason */
    snprintf(path, sizeof path, "%s/suite/test_broken", root);
    assert_int_equal(mkdir(path, 0777), 0);
    snprintf(path, sizeof path, "%s/suite/test_broken/model.onnx", root);
    write_file(path, "this is not a protobuf");
    snprintf(path, sizeof path, "%s/suite/test_broken/test_data_set_0", root);
    assert_int_equal(mkdir(path, 0777), 0);
    /* a case without data sets: skipped */
    snprintf(path, sizeof path, "%s/suite/test_nodata", root);
    assert_int_equal(mkdir(path, 0777), 0);
    snprintf(path, sizeof path, "%s/suite/test_nodata/model.onnx", root);
    write_file(path, "x");

    static char out[1 << 16];
    char args[8192];
    snprintf(args, sizeof args, "check '%s' --rtol 1e-4", root);
    assert_int_equal(run_tool(args, out, sizeof out), 1);
    assert_non_null(strstr(out, "FAIL test_broken: "));
    assert_non_null(strstr(out, "skip test_nodata"));
    assert_non_null(strstr(out, "0 passed, 1 failed, 1 skipped\n"));
    snprintf(args, sizeof args, "check '%s/nothing-here'", root);
    assert_int_equal(run_tool(args, out, sizeof out), 1);
    assert_non_null(strstr(out, "0 passed, 1 failed\n"));
    assert_int_equal(run_tool("check --atol -1 /tmp", out, sizeof out), 2);

    char cmd[8300];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", root);
    assert_int_equal(system(cmd), 0);
}


/* ---- records through a model's feature pipeline ---- */

static const char *const cli_spec =
    "{\"version\":1,\"inputs\":[{\"name\":\"x\",\"type\":\"numeric\",\"missing\":\"allow\"},"
    "{\"name\":\"c\",\"type\":\"categorical\"}],\"features\":["
    "{\"input\":\"x\",\"steps\":[{\"op\":\"impute\",\"strategy\":\"constant\",\"value\":7}]},"
    "{\"input\":\"c\",\"steps\":[{\"op\":\"onehot\",\"categories\":[\"r\",\"g\",\"b\"],"
    "\"unknown\":\"ignore\"}]}]}";

/* y = x @ W, x f32 [rows, 4], W random [4, 2]. */
static void write_plain_model(const char *path) {
    ais__graph *g = NULL;
    AIS_ASSERT_OK(ais__graph_create(&g));
    AIS_ASSERT_OK(ais__graph_set_opset(g, "", 13));
    ais_test_graph_input(g, "x", AIS_DTYPE_F32, (const int64_t[]){-1, 4}, 2, NULL);
    ais_test_graph_const(g, "W", ais_test_rand_f32(AIS_SHAPE(4, 2), -1, 1));
    ais_test_graph_node(g, "mm", "MatMul", "x", "W", "y");
    ais_test_graph_output(g, "y");
    ais_model *m = NULL;
    AIS_ASSERT_OK(ais__model_from_graph(g, NULL, &m));
    AIS_ASSERT_OK(ais_model_save(m, path, NULL));
    ais_model_destroy(m);
}

static void test_records(void **state) {
    (void)state;
    skip_without_tool();
    char root[] = "/tmp/ais_test_cli_XXXXXX";
    assert_non_null(mkdtemp(root));
    char plain[512], withp[512], spec_path[512], rows_csv[512], rows_jl[512], rows_txt[512],
        bad_csv[512], args[4096];
    snprintf(plain, sizeof plain, "%s/plain.ais", root);
    snprintf(withp, sizeof withp, "%s/withp.ais", root);
    snprintf(spec_path, sizeof spec_path, "%s/spec.json", root);
    snprintf(rows_csv, sizeof rows_csv, "%s/rows.csv", root);
    snprintf(rows_jl, sizeof rows_jl, "%s/rows.jsonl", root);
    snprintf(rows_txt, sizeof rows_txt, "%s/rows.txt", root);
    snprintf(bad_csv, sizeof bad_csv, "%s/bad.csv", root);
    write_plain_model(plain);
    write_file(spec_path, cli_spec);
    const char *csv = "c,x\nr,1.5\n\"b\",\ng,-2\n";
    write_file(rows_csv, csv);
    const char *jl = "{\"c\":\"r\",\"x\":1.5}\n{\"c\":\"b\"}\n{\"c\":\"g\",\"x\":-2}\n";
    write_file(rows_jl, jl);
    write_file(rows_txt, jl);
    write_file(bad_csv, "c,x\nr,abc\nq\n");
    static char out[1 << 16], out2[1 << 16];

    snprintf(args, sizeof args, "convert '%s' '%s' --pipeline '%s'", plain, withp, spec_path);
    assert_int_equal(run_tool(args, out, sizeof out), 0);
    snprintf(args, sizeof args, "info '%s'", withp);
    assert_int_equal(run_tool(args, out, sizeof out), 0);
    assert_non_null(strstr(out, "pipeline: 2 inputs -> 4 features"));
    assert_non_null(strstr(out, "  c: categorical"));

    /* The printed predictions are the library's, one CSV line per record. */
    ais_model *m = NULL;
    AIS_ASSERT_OK(ais_model_load(withp, NULL, &m));
    ais_session *s = NULL;
    AIS_ASSERT_OK(ais_session_create(m, NULL, &s));
    ais_tensor *y = NULL;
    AIS_ASSERT_OK(ais_session_run_csv(s, csv, strlen(csv), NULL, &y, 1, NULL));
    const float *d = ais_tensor_data(y);
    snprintf(args, sizeof args, "run '%s' --records '%s'", withp, rows_csv);
    assert_int_equal(run_tool(args, out, sizeof out), 0);
    assert_int_equal(strncmp(out, "y[0],y[1]\n", 10), 0);
    const char *line = strchr(out, '\n') + 1;
    for (int r = 0; r < 3; r++) {
        double a, b;
        assert_int_equal(sscanf(line, "%lf,%lf", &a, &b), 2);
        assert_float_equal(a, d[2 * r], 1e-6 * (1 + fabs(d[2 * r])));
        assert_float_equal(b, d[2 * r + 1], 1e-6 * (1 + fabs(d[2 * r + 1])));
        line = strchr(line, '\n');
        assert_non_null(line);
        line++;
    }
    assert_int_equal(*line, 0);
    ais_tensor_destroy(y);
    ais_session_destroy(s);
    ais_model_destroy(m);
    /* JSON lines, by extension or by --records-format, and from stdin: the same lines. */
    snprintf(args, sizeof args, "run '%s' --records '%s' --output-dir '%s/o'", withp, rows_jl,
             root);
    assert_int_equal(run_tool(args, out2, sizeof out2), 0);
    assert_string_equal(out2, out);
    snprintf(args, sizeof args, "%s/o/y.npy", root);
    assert_int_equal(access(args, F_OK), 0);
    snprintf(args, sizeof args, "run '%s' --records '%s' --records-format jsonl", withp, rows_txt);
    assert_int_equal(run_tool(args, out2, sizeof out2), 0);
    assert_string_equal(out2, out);
    snprintf(args, sizeof args, "run '%s' --records - < '%s'", withp, rows_csv);
    assert_int_equal(run_tool(args, out2, sizeof out2), 0);
    assert_string_equal(out2, out);
    /* Every problem goes to stderr, with its row and field; exit 1. */
    snprintf(args, sizeof args, "run '%s' --records '%s' 2>&1 >/dev/null", withp, bad_csv);
    assert_int_equal(run_tool(args, out, sizeof out), 1);
    assert_non_null(strstr(out, "row 0, field \"x\": not a number: \"abc\""));
    assert_non_null(strstr(out, "row 1, field \"\": 1 cells, the header has 2"));
    /* A misspelled header column ("X" for "x") is a problem naming the input it was meant to
     * be; --ignore-extra-fields skips columns that name no input, and then x (which allows
     * missing values) is imputed: the same as leaving the column out. */
    write_file(bad_csv, "c,X\nr,1.5\n");
    snprintf(args, sizeof args, "run '%s' --records '%s' 2>&1 >/dev/null", withp, bad_csv);
    assert_int_equal(run_tool(args, out, sizeof out), 1);
    assert_non_null(strstr(out, "header, field \"X\": unknown field"));
    assert_non_null(strstr(out, "did you mean \"x\"?"));
    snprintf(args, sizeof args, "run '%s' --records '%s' --ignore-extra-fields", withp, bad_csv);
    assert_int_equal(run_tool(args, out, sizeof out), 0);
    write_file(bad_csv, "c\nr\n");
    snprintf(args, sizeof args, "run '%s' --records '%s'", withp, bad_csv);
    assert_int_equal(run_tool(args, out2, sizeof out2), 0);
    assert_string_equal(out, out2);
    /* Usage errors and a model without a pipeline. */
    snprintf(args, sizeof args, "run '%s' --records '%s' --records-format xml", withp, rows_csv);
    assert_int_equal(run_tool(args, out, sizeof out), 2);
    snprintf(args, sizeof args, "run '%s' --records '%s'", withp, rows_txt);
    assert_int_equal(run_tool(args, out, sizeof out), 2);
    snprintf(args, sizeof args, "run '%s' --records '%s' 2>&1", plain, rows_csv);
    assert_int_equal(run_tool(args, out, sizeof out), 1);
    assert_non_null(strstr(out, "no feature pipeline"));
    /* A pipeline whose width does not fit is refused at convert. */
    write_file(spec_path, "{\"version\":1,\"inputs\":[{\"name\":\"x\",\"type\":\"numeric\"}],"
                          "\"features\":[{\"input\":\"x\",\"steps\":[]}]}");
    snprintf(args, sizeof args, "convert '%s' '%s/w.ais' --pipeline '%s' 2>&1", plain, root,
             spec_path);
    assert_int_equal(run_tool(args, out, sizeof out), 1);
    assert_non_null(strstr(out, "features per row"));
    snprintf(args, sizeof args, "rm -rf '%s'", root);
    assert_int_equal(system(args), 0);
}

/* ---- what the tool says about misuse (issue 13 items 4, 5 and 9) ---- */

/* y = x @ W with x [batch, 4] (the dimension named in the file). */
static void write_named_model(const char *path) {
    ais__graph *g = NULL;
    AIS_ASSERT_OK(ais__graph_create(&g));
    AIS_ASSERT_OK(ais__graph_set_opset(g, "", 13));
    const char *dn[] = {"batch", NULL};
    ais_test_graph_input(g, "x", AIS_DTYPE_F32, (const int64_t[]){-1, 4}, 2, dn);
    ais_test_graph_const(g, "W", ais_test_rand_f32(AIS_SHAPE(4, 2), -1, 1));
    ais_test_graph_node(g, "mm", "MatMul", "x", "W", "y");
    ais_test_graph_output(g, "y");
    ais_model *m = NULL;
    AIS_ASSERT_OK(ais__model_from_graph(g, NULL, &m));
    AIS_ASSERT_OK(ais_model_save(m, path, NULL));
    ais_model_destroy(m);
}

typedef struct {
    int calls;
    uint64_t last_total;
} progress_log;

static void record_progress(void *ud, uint64_t done, uint64_t total, const char *item) {
    progress_log *log = ud;
    assert_int_equal(done, (uint64_t)log->calls + 1);
    assert_non_null(item);
    log->calls++;
    log->last_total = total;
}

static void test_misuse_messages(void **state) {
    (void)state;
    skip_without_tool();
    char root[] = "/tmp/ais_test_cli_XXXXXX";
    assert_non_null(mkdtemp(root));
    char model[512], x[512], args[4096];
    snprintf(model, sizeof model, "%s/m.ais", root);
    snprintf(x, sizeof x, "%s/x.npy", root);
    write_named_model(model);
    ais_tensor *xt = ais_test_rand_f32(AIS_SHAPE(3, 4), -1, 1);
    AIS_ASSERT_OK(ais_tensor_save_npy(xt, x));
    ais_tensor_destroy(xt);
    static char out[1 << 16];

    /* no inputs: an error, not a prediction from random data */
    snprintf(args, sizeof args, "run '%s' 2>&1", model);
    assert_int_equal(run_tool(args, out, sizeof out), 2);
    assert_non_null(strstr(out, "no value for input 'x' (f32 [batch, 4])"));
    assert_non_null(strstr(out, "--random-inputs"));
    assert_null(strstr(out, "y: f32"));
    /* ... unless asked for, and then said on stderr */
    snprintf(args, sizeof args, "run '%s' --random-inputs 2>&1 >/dev/null", model);
    assert_int_equal(run_tool(args, out, sizeof out), 0);
    assert_non_null(strstr(out, "input 'x': random values, f32 [1, 4] (--random-inputs)"));
    snprintf(args, sizeof args, "run '%s' --input x='%s'", model, x);
    assert_int_equal(run_tool(args, out, sizeof out), 0);
    assert_non_null(strstr(out, "y: f32 [3, 2] = ["));
    /* an unknown option is named; a missing value too */
    snprintf(args, sizeof args, "run '%s' --bogus 2>&1", model);
    assert_int_equal(run_tool(args, out, sizeof out), 2);
    assert_non_null(strstr(out, "unknown option '--bogus'"));
    snprintf(args, sizeof args, "run '%s' --threads 2>&1", model);
    assert_int_equal(run_tool(args, out, sizeof out), 2);
    assert_non_null(strstr(out, "option '--threads' needs a value"));
    snprintf(args, sizeof args, "convert '%s' '%s/c.ais' --frobnicate 2>&1", model, root);
    assert_int_equal(run_tool(args, out, sizeof out), 2);
    assert_non_null(strstr(out, "unknown option '--frobnicate'"));
    /* an input given twice, by name or by name and position */
    snprintf(args, sizeof args, "run '%s' --input x='%s' --input x='%s' 2>&1", model, x, x);
    assert_int_equal(run_tool(args, out, sizeof out), 2);
    assert_non_null(strstr(out, "input 'x' is given twice"));
    snprintf(args, sizeof args, "run '%s' '%s' --input x='%s' 2>&1", model, x, x);
    assert_int_equal(run_tool(args, out, sizeof out), 2);
    assert_non_null(strstr(out, "input 'x' is given twice"));
    /* a wrong input name lists the right ones, in the tool and in the library */
    snprintf(args, sizeof args, "run '%s' --input X='%s' 2>&1", model, x);
    assert_int_equal(run_tool(args, out, sizeof out), 2);
    assert_non_null(strstr(out, "no input 'X' (its inputs: 'x')"));
    ais_model *m = NULL;
    ais_session *s = NULL;
    AIS_ASSERT_OK(ais_model_load(model, NULL, &m));
    AIS_ASSERT_OK(ais_session_create(m, NULL, &s));
    ais_tensor *in = ais_test_rand_f32(AIS_SHAPE(1, 4), 0, 1), *y = NULL;
    const char *wrong = "X", *wrong_out = "Y";
    AIS_ASSERT_STATUS(ais_session_run(s, &wrong, (const ais_tensor *const *)&in, 1, NULL, &y, 1),
                      AIS_E_NOT_FOUND);
    ais_test_assert_error_contains("the model has no input 'X' (its inputs: 'x')");
    AIS_ASSERT_STATUS(
        ais_session_run(s, NULL, (const ais_tensor *const *)&in, 1, &wrong_out, &y, 1),
        AIS_E_NOT_FOUND);
    ais_test_assert_error_contains("the model has no output 'Y' (its outputs: 'y')");
    ais_tensor_destroy(in);
    ais_session_destroy(s);
    ais_model_destroy(m);
    /* convert writes .ais only, and shows progress per tensor on request */
    snprintf(args, sizeof args, "convert '%s' '%s/o.onnx' 2>&1", model, root);
    assert_int_equal(run_tool(args, out, sizeof out), 2);
    assert_non_null(strstr(out, "OUT must end in .ais"));
    snprintf(args, sizeof args, "%s/o.onnx", root);
    assert_int_not_equal(access(args, F_OK), 0);
    snprintf(args, sizeof args, "convert '%s' '%s/o.ais' --compress 3 --progress 2>&1 >/dev/null",
             model, root);
    assert_int_equal(run_tool(args, out, sizeof out), 0);
    assert_non_null(strstr(out, "convert: tensor 1/1 W\n"));
    snprintf(args, sizeof args, "convert '%s' '%s/o.ais' 2>&1 >/dev/null", model, root);
    assert_int_equal(run_tool(args, out, sizeof out), 0);
    assert_string_equal(out, ""); /* stderr is no terminal here */
    /* the callback itself: once per tensor, in order, through ais_model_save */
    ais_model *pm = NULL;
    AIS_ASSERT_OK(ais_model_load(model, NULL, &pm));
    ais_options *po = NULL;
    AIS_ASSERT_OK(ais_options_create(&po));
    progress_log log = {0, 0};
    AIS_ASSERT_OK(ais_options_set_progress(po, record_progress, &log));
    snprintf(args, sizeof args, "%s/p.ais", root);
    AIS_ASSERT_OK(ais_model_save(pm, args, po));
    assert_int_equal(log.calls, 1);
    assert_int_equal(log.last_total, 1);
    AIS_ASSERT_STATUS(ais_options_set_progress(NULL, record_progress, &log),
                      AIS_E_INVALID_ARGUMENT);
    ais_options_destroy(po);
    ais_model_destroy(pm);
    /* info: the declared dim names of inputs and outputs, the file's operators and then the
     * optimized ones */
    snprintf(args, sizeof args, "info '%s'", model);
    assert_int_equal(run_tool(args, out, sizeof out), 0);
    assert_non_null(strstr(out, "  x: f32 [batch, 4]\n"));
    assert_non_null(strstr(out, "nodes in the file: 1\n  MatMul: 1\n"));
    assert_non_null(strstr(out, "nodes after optimization (what a session runs): 1\n"));
    assert_non_null(strstr(out, "weight bytes: 32\n"));
    /* the digits model declares "batch" for its outputs too; its Gemm+Relu pairs are fused */
    snprintf(args, sizeof args, "info '%s/models/digits_mlp.onnx'", AIS_SOURCE_DIR);
    assert_int_equal(run_tool(args, out, sizeof out), 0);
    assert_non_null(strstr(out, "  probabilities: f32 [batch, 10]\n"));
    assert_non_null(strstr(out, "com.microsoft.FusedGemm: 2 (made by aistack's fusion"));
    assert_null(strstr(out, "opset.com.microsoft")); /* the file's metadata */
    /* a tree model says where its trees are */
    snprintf(args, sizeof args, "info '%s/tests/fuzz/corpus/xgboost/bin.json'", AIS_SOURCE_DIR);
    assert_int_equal(run_tool(args, out, sizeof out), 0);
    assert_non_null(strstr(out, "ai.onnx.ml.TreeEnsemble"));
    assert_non_null(strstr(out, "the tree ensembles hold their trees in node attributes"));
    assert_int_equal(run_tool("--help", out, sizeof out), 0);
    assert_non_null(strstr(out, "XGBoost JSON or LightGBM text"));
    /* check: a folder without a case is an error */
    snprintf(args, sizeof args, "%s/empty", root);
    assert_int_equal(mkdir(args, 0777), 0);
    snprintf(args, sizeof args, "check '%s/empty'", root);
    assert_int_equal(run_tool(args, out, sizeof out), 1);
    assert_non_null(strstr(out, "no test case in it"));
    assert_non_null(strstr(out, "0 passed, 1 failed\n"));
    snprintf(args, sizeof args, "rm -rf '%s'", root);
    assert_int_equal(system(args), 0);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_help),
        cmocka_unit_test(test_check_format),
        cmocka_unit_test(test_records),
        cmocka_unit_test(test_misuse_messages),
    };
    return cmocka_run_group_tests(tests, setup, NULL);
}
