/* test_cli.c - the aistack tool as a user runs it: help, exit codes, and the check command's
 * output format on case folders (a broken model, a case without data). Skips when the tool was
 * not built (AIS_BUILD_EXAMPLES=OFF). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "test_util.h"

static char tool[4096];

/* Runs the tool with args; returns its exit code and its stdout in out. */
static int run_tool(const char *args, char *out, size_t size) {
    char cmd[8192];
    int len = snprintf(cmd, sizeof cmd, "'%s' %s 2>/dev/null", tool, args);
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

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_help),
        cmocka_unit_test(test_check_format),
    };
    return cmocka_run_group_tests(tests, setup, NULL);
}
