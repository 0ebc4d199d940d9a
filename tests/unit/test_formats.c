/* test_formats.c - the reader table (lib/format/model_file.c): the "format" metadata per format
 * and load path, what the messages say about files that are not what they claim, and how the
 * library opens files (safe_open.c): FIFOs, directories, devices, symlinks out of the model's
 * folder. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "format/format.h"
#include "ir/graph.h"
#include "test_util.h"

#define FIX AIS_SOURCE_DIR "/tests/fixtures/onnx"

/* A load that blocks (a FIFO opened without O_NONBLOCK) fails the test instead of hanging it. */
static void on_alarm(int sig) {
    (void)sig;
    static const char msg[] = "blocked: a file open did not return within 10 s\n";
    (void)!write(2, msg, sizeof msg - 1);
    _exit(1);
}

static const char *xgb_model =
    "{\"learner\":{\"learner_model_param\":{\"base_score\":\"5E-1\",\"num_class\":\"0\","
    "\"num_feature\":\"2\"},\"objective\":{\"name\":\"reg:squarederror\"},"
    "\"gradient_booster\":{\"name\":\"gbtree\",\"model\":{\"tree_info\":[0],\"trees\":[{"
    "\"tree_param\":{\"num_nodes\":\"3\"},\"left_children\":[1,-1,-1],"
    "\"right_children\":[2,-1,-1],\"split_indices\":[1,0,0],\"split_conditions\":[0.5,1,2],"
    "\"default_left\":[0,0,0]}]}}}}";

static const char *lgb_model =
    "tree\nversion=v4\nnum_class=1\nnum_tree_per_iteration=1\nmax_feature_idx=1\n"
    "objective=regression\n\nTree=0\nnum_leaves=2\nsplit_feature=1\nthreshold=-0.5\n"
    "decision_type=0\nleft_child=-1\nright_child=-2\nleaf_value=10 20\n\nend of trees\n";

/* ---- the "format" metadata, per format and load path ---- */

static void check_format(const void *bytes, size_t n, const char *want) {
    /* From memory. */
    ais_model *m = NULL;
    AIS_ASSERT_OK(ais_model_load_memory(bytes, n, NULL, &m));
    assert_string_equal(ais_model_metadata(m, "format"), want);
    if (strcmp(want, "ais") != 0) assert_null(ais_model_metadata(m, "source_format"));
    ais_model_destroy(m);
    /* From a file whose name says nothing (the table sniffs content, never the extension). */
    const char *path = ais_test_tmp_path("model.bin");
    ais_test_spit(path, bytes, n);
    AIS_ASSERT_OK(ais_model_load(path, NULL, &m));
    assert_string_equal(ais_model_metadata(m, "format"), want);
    ais_model_destroy(m);
    /* And through the internal reader, which is what the CLI and bindings reach. */
    ais__graph *g = NULL;
    AIS_ASSERT_OK(ais__model_read_file(path, NULL, &g));
    assert_string_equal(ais__graph_meta(g, "format"), want);
    ais__graph_destroy(g);
    const ais__format_reader *r = ais__format_sniff(bytes, n, true);
    assert_non_null(r);
    assert_string_equal(r->name, want);
    assert_ptr_equal(ais__format_find(want), r);
}

static void test_format_metadata(void **state) {
    (void)state;
    size_t n;
    uint8_t *onnx = ais_test_slurp(AIS_SOURCE_DIR "/models/digits_mlp.onnx", &n);
    check_format(onnx, n, "onnx");
    free(onnx);
    check_format(xgb_model, strlen(xgb_model), "xgboost");
    check_format(lgb_model, strlen(lgb_model), "lightgbm");
    /* A converted XGBoost model: format ais, source_format xgboost. */
    ais__graph *g = NULL;
    AIS_ASSERT_OK(ais__model_read_memory(xgb_model, strlen(xgb_model), NULL, NULL, &g));
    const char *ais_path = ais_test_tmp_path("xgb.ais");
    AIS_ASSERT_OK(ais__ais_write(g, ais_path, 0));
    ais__graph_destroy(g);
    uint8_t *ais = ais_test_slurp(ais_path, &n);
    check_format(ais, n, "ais");
    ais_model *m = NULL;
    AIS_ASSERT_OK(ais_model_load_memory(ais, n, NULL, &m));
    assert_string_equal(ais_model_metadata(m, "source_format"), "xgboost");
    ais_model_destroy(m);
    free(ais);
    /* Tensor rows are never models, model rows never tensors. */
    assert_null(ais__format_sniff("\x93NUMPY\x01\x00", 8, true));
    assert_string_equal(ais__format_sniff("\x93NUMPY\x01\x00", 8, false)->name, "npy");
    assert_string_equal(ais__format_sniff("\x08\x01\x10\x02", 4, false)->name, "tensorproto");
    assert_string_equal(ais__format_sniff("\x08\x07\x12\x04", 4, true)->name, "onnx");
}

/* ---- what a file that is not a model looks like ---- */

static void expect_model_error(const void *bytes, size_t n, const char *needle,
                               const char *absent) {
    ais_model *m = NULL;
    AIS_ASSERT_STATUS(ais_model_load_memory(bytes, n, NULL, &m), AIS_E_FORMAT);
    ais_test_assert_error_contains(needle);
    if (absent && strstr(ais_last_error(), absent))
        fail_msg("'%s' should not appear in: %s", absent, ais_last_error());
    assert_null(m);
}

static void test_sniff_messages(void **state) {
    (void)state;
    /* A text file renamed .onnx (it used to say "field 13 at offset 2: group end"). */
    const char *text = "hello, this is a README\nnot a model\n";
    const char *path = ais_test_tmp_path("readme.onnx");
    ais_test_spit(path, text, strlen(text));
    ais_model *m = NULL;
    AIS_ASSERT_STATUS(ais_model_load(path, NULL, &m), AIS_E_FORMAT);
    ais_test_assert_error_contains("not an ONNX model: the file looks like text");
    ais_test_assert_error_contains("hello, this is a README");
    ais_test_assert_error_contains("readme.onnx");
    expect_model_error(text, strlen(text), "looks like text", "group");
    /* A .npy given as the model. */
    static const char npy[] = "\x93NUMPY\x01\x00\x76\x00{'descr': '<f4', 'fortran_order': False, "
                              "'shape': (1,), }";
    expect_model_error(npy, sizeof npy - 1,
                       "not an ONNX model: the file starts with the NumPy "
                       "magic",
                       "group");
    /* Other things people pass by mistake. */
    expect_model_error("PK\x03\x04\x14\x00\x00\x00", 8, "zip archive", NULL);
    expect_model_error("\x80\x04\x95\x10\x00\x00", 6, "pickle", NULL);
    expect_model_error("\x00\x00\x00\x00\xff", 5, "first bytes: 00 00 00 00 ff", NULL);
    /* A .npy with a damaged magic, as a tensor file, is not a protobuf error. */
    static const char bad_npy[] = "\x93NUMPZ\x01\x00\x10\x00{'descr': '<f4'}";
    const char *tpath = ais_test_tmp_path("bad.npy");
    ais_test_spit(tpath, bad_npy, sizeof bad_npy - 1);
    ais_tensor *t = NULL;
    AIS_ASSERT_STATUS(ais_tensor_load(tpath, &t), AIS_E_FORMAT);
    ais_test_assert_error_contains("NumPy .npy file with a damaged magic");
    if (strstr(ais_last_error(), "group")) fail_msg("protobuf message: %s", ais_last_error());
    assert_null(t);
    /* A model given as a tensor names what it is. */
    AIS_ASSERT_STATUS(ais_tensor_load(AIS_SOURCE_DIR "/models/digits_mlp.onnx", &t), AIS_E_FORMAT);
    ais_test_spit(tpath, xgb_model, strlen(xgb_model));
    AIS_ASSERT_STATUS(ais_tensor_load(tpath, &t), AIS_E_FORMAT);
    ais_test_assert_error_contains("not a tensor file: the file is an XGBoost JSON model");
}

static void test_truncated_onnx(void **state) {
    (void)state;
    size_t n;
    uint8_t *onnx = ais_test_slurp(AIS_SOURCE_DIR "/models/digits_mlp.onnx", &n);
    /* Cut anywhere inside the graph: a length then runs past the end of the file. */
    size_t cuts[] = {n - 1, n / 2, n / 3, 40};
    for (size_t i = 0; i < AIS__ARRAY_LEN(cuts); i++) {
        ais_model *m = NULL;
        AIS_ASSERT_STATUS(ais_model_load_memory(onnx, cuts[i], NULL, &m), AIS_E_FORMAT);
        if (!strstr(ais_last_error(), "truncated"))
            fail_msg("cut at %zu of %zu: %s", cuts[i], n, ais_last_error());
    }
    /* A length that overruns only its own message is corruption, not truncation. */
    static const uint8_t inner[] = {0x08, 0x07, 0x3a, 0x04, 0x0a, 0x09, 0x00, 0x00, 0x08, 0x01};
    ais__graph *g = NULL;
    AIS_ASSERT_STATUS(ais__onnx_read(inner, sizeof inner, ".", NULL, &g), AIS_E_FORMAT);
    ais_test_assert_error_contains("runs past the end of its message");
    free(onnx);
}

/* Deeply nested and broken JSON say where (XGBoost reader and pipeline spec). */
static void test_json_offsets(void **state) {
    (void)state;
    enum { DEPTH = 5000 };
    char *deep = malloc(2 * DEPTH + 16);
    assert_non_null(deep);
    size_t k = 0;
    deep[k++] = '{';
    memcpy(deep + k, "\"a\":", 4), k += 4;
    for (int i = 0; i < DEPTH; i++)
        deep[k++] = '[';
    for (int i = 0; i < DEPTH; i++)
        deep[k++] = ']';
    deep[k++] = '}';
    ais__graph *g = NULL;
    AIS_ASSERT_STATUS(ais__model_read_memory(deep, k, NULL, NULL, &g), AIS_E_FORMAT);
    ais_test_assert_error_contains("XGBoost JSON model: not valid JSON at byte");
    ais_test_assert_error_contains("nested deeper than");
    ais_pipeline *p = NULL;
    AIS_ASSERT_STATUS(ais_pipeline_create_from_json(deep, k, &p), AIS_E_FORMAT);
    ais_test_assert_error_contains("pipeline spec: not valid JSON at byte");
    ais_test_assert_error_contains("nested deeper than");
    free(deep);
    /* A plain syntax error: the byte, line and column of the bad character. */
    const char *bad = "{\n  \"version\": 1,\n  \"inputs\": [ 1 2 ]\n}";
    AIS_ASSERT_STATUS(ais_pipeline_create_from_json(bad, strlen(bad), &p), AIS_E_FORMAT);
    char want[64];
    snprintf(want, sizeof want, "at byte %zu (line 3, column", (size_t)(strchr(bad, '2') - bad));
    ais_test_assert_error_contains(want);
    /* A cut-off text says so; a bad last character does not pretend to be a cut. */
    AIS_ASSERT_STATUS(ais_pipeline_create_from_json("{\"version\": [1", 14, &p), AIS_E_FORMAT);
    ais_test_assert_error_contains("the text ends early (14 bytes, a bracket still open)");
    AIS_ASSERT_STATUS(ais_pipeline_create_from_json("[1,]", 4, &p), AIS_E_FORMAT);
    ais_test_assert_error_contains("not valid JSON at byte 3 (line 1, column 4)");
    if (strstr(ais_last_error(), "ends early")) fail_msg("%s", ais_last_error());
    const char *xbad = "{\"learner\": {\"x\": tru}}";
    AIS_ASSERT_STATUS(ais__model_read_memory(xbad, strlen(xbad), NULL, NULL, &g), AIS_E_FORMAT);
    ais_test_assert_error_contains("not valid JSON at byte 18 (line 1, column 19)");
}

/* ---- opening files: FIFOs, directories, devices ---- */

static void test_not_regular_files(void **state) {
    (void)state;
    signal(SIGALRM, on_alarm);
    alarm(10);
    const char *fifo = ais_test_tmp_path("fifo.onnx");
    unlink(fifo);
    assert_int_equal(mkfifo(fifo, 0600), 0);
    ais_model *m = NULL;
    AIS_ASSERT_STATUS(ais_model_load(fifo, NULL, &m), AIS_E_IO);
    ais_test_assert_error_contains("FIFO");
    ais_test_assert_error_contains("not a regular file");
    ais_tensor *t = NULL;
    AIS_ASSERT_STATUS(ais_tensor_load(fifo, &t), AIS_E_IO);
    ais_test_assert_error_contains("FIFO");
    /* Writing a .npy into a FIFO (no reader) or a directory fails at once as well. */
    int64_t d = 2;
    AIS_ASSERT_OK(ais_tensor_create(AIS_DTYPE_F32, &d, 1, &t));
    AIS_ASSERT_STATUS(ais_tensor_save_npy(t, fifo), AIS_E_IO);
    ais_test_assert_error_contains("FIFO");
    AIS_ASSERT_STATUS(ais_tensor_save_npy(t, ais_test_tmpdir()), AIS_E_IO);
    struct stat sb;
    assert_int_equal(stat(fifo, &sb), 0);
    assert_true(S_ISFIFO(sb.st_mode));
    ais_tensor_destroy(t);
    t = NULL;
    /* .ais files are written to PATH.tmp and renamed: a FIFO there is refused too. */
    const char *ais_path = ais_test_tmp_path("saved.ais");
    char ais_tmp[600];
    snprintf(ais_tmp, sizeof ais_tmp, "%s.tmp", ais_path);
    assert_int_equal(mkfifo(ais_tmp, 0600), 0);
    AIS_ASSERT_OK(ais_model_load(AIS_SOURCE_DIR "/models/digits_mlp.onnx", NULL, &m));
    AIS_ASSERT_STATUS(ais_model_save(m, ais_path, NULL), AIS_E_IO);
    ais_test_assert_error_contains("FIFO");
    assert_int_equal(unlink(ais_tmp), 0);
    AIS_ASSERT_OK(ais_model_save(m, ais_path, NULL));
    ais_model_destroy(m);
    m = NULL;
    AIS_ASSERT_STATUS(ais_model_load(ais_test_tmpdir(), NULL, &m), AIS_E_IO);
    ais_test_assert_error_contains("is a directory, not a regular file");
    AIS_ASSERT_STATUS(ais_model_load("/dev/zero", NULL, &m), AIS_E_IO);
    ais_test_assert_error_contains("character device");
    AIS_ASSERT_STATUS(ais_tensor_load("/dev/null", &t), AIS_E_IO);
    ais_test_assert_error_contains("character device");
    /* A FIFO where external data should be. */
    const char *dir = ais_test_tmp_path("fifo_ext");
    assert_int_equal(mkdir(dir, 0700), 0);
    char p[600];
    snprintf(p, sizeof p, "%s/weights.bin", dir);
    assert_int_equal(mkfifo(p, 0600), 0);
    size_t n;
    uint8_t *buf = ais_test_slurp(FIX "/ext/model.onnx", &n);
    ais__graph *g = NULL;
    AIS_ASSERT_STATUS(ais__onnx_read(buf, n, dir, NULL, &g), AIS_E_IO);
    ais_test_assert_error_contains("not a regular file");
    free(buf);
    alarm(0);
}

/* ---- files a model names: beneath its folder, no symlinks ---- */

/* The fixture's model names "weights.bin" (11 bytes); the copy names `loc` (also 11 bytes). */
static uint8_t *model_naming(const char *loc, size_t *n) {
    uint8_t *buf = ais_test_slurp(FIX "/ext/model.onnx", n);
    assert_int_equal(strlen(loc), 11);
    size_t hits = 0;
    for (size_t i = 0; i + 11 <= *n; i++)
        if (memcmp(buf + i, "weights.bin", 11) == 0) memcpy(buf + i, loc, 11), hits++;
    assert_true(hits > 0);
    return buf;
}

static void test_external_symlinks(void **state) {
    (void)state;
    const char *dir = ais_test_tmp_path("links");
    assert_int_equal(mkdir(dir, 0700), 0);
    char p[600], q[600];
    /* A real data file still loads. */
    snprintf(p, sizeof p, "%s/weights.bin", dir);
    size_t wn;
    uint8_t *w = ais_test_slurp(FIX "/ext/weights.bin", &wn);
    ais_test_spit(p, w, wn);
    free(w);
    size_t n;
    uint8_t *buf = ais_test_slurp(FIX "/ext/model.onnx", &n);
    ais__graph *g = NULL;
    for (int map = 0; map < 2; map++) {
        ais__load_opts o;
        ais__load_opts_default(&o);
        o.map_weights = map;
        AIS_ASSERT_OK(ais__onnx_read(buf, n, dir, &o, &g));
        ais__graph_destroy(g);
    }
    free(buf);
    /* location "link.binxxx" a symlink to /etc/passwd */
    snprintf(p, sizeof p, "%s/link.binxxx", dir);
    assert_int_equal(symlink("/etc/passwd", p), 0);
    /* location "etc//passwd" with etc a symlink to /etc */
    snprintf(q, sizeof q, "%s/etc", dir);
    assert_int_equal(symlink("/etc", q), 0);
    /* and a link that stays inside the folder: refused as well (docs/design-decisions.md) */
    snprintf(p, sizeof p, "%s/inside.binx", dir);
    assert_int_equal(symlink("weights.bin", p), 0);
    const char *locs[] = {"link.binxxx", "etc//passwd", "inside.binx"};
    const char *names[] = {"'link.binxxx' is a symbolic link", "'etc' is a symbolic link",
                           "'inside.binx' is a symbolic link"};
    for (size_t i = 0; i < 3; i++) {
        const char *loc = locs[i];
        buf = model_naming(loc, &n);
        for (int map = 0; map < 2; map++) {
            ais__load_opts o;
            ais__load_opts_default(&o);
            o.map_weights = map;
            AIS_ASSERT_STATUS(ais__onnx_read(buf, n, dir, &o, &g), AIS_E_IO);
            ais_test_assert_error_contains("is a symbolic link");
            ais_test_assert_error_contains(names[i]);
            assert_null(g);
        }
        /* Through the public API, from the file beside the links. */
        snprintf(p, sizeof p, "%s/m%zu.onnx", dir, i);
        ais_test_spit(p, buf, n);
        ais_model *m = NULL;
        AIS_ASSERT_STATUS(ais_model_load(p, NULL, &m), AIS_E_IO);
        ais_test_assert_error_contains("symbolic link");
        free(buf);
    }
    /* The per-component walk (used where openat2 is missing) refuses the same paths. */
    int dfd = open(dir, O_RDONLY | O_DIRECTORY);
    assert_true(dfd >= 0);
    int fd = -1;
    AIS_ASSERT_OK(ais__open_beneath_walk(dfd, "weights.bin", "data", &fd));
    assert_true(fd >= 0);
    close(fd);
    AIS_ASSERT_OK(ais__open_beneath_walk(dfd, "./weights.bin", "data", &fd));
    close(fd);
    const char *bad[] = {"link.binxxx", "etc/passwd", "etc//passwd", "inside.binx", "../x"};
    for (size_t i = 0; i < AIS__ARRAY_LEN(bad); i++) {
        AIS_ASSERT_STATUS(ais__open_beneath_walk(dfd, bad[i], "data", &fd), AIS_E_IO);
        assert_int_equal(fd, -1);
    }
    ais_test_assert_error_contains("'..'");
    close(dfd);
    /* The model file itself may be reached through a link: the caller chose that path. */
    snprintf(p, sizeof p, "%s/digits_link.onnx", dir);
    assert_int_equal(symlink(AIS_SOURCE_DIR "/models/digits_mlp.onnx", p), 0);
    ais_model *m = NULL;
    AIS_ASSERT_OK(ais_model_load(p, NULL, &m));
    ais_model_destroy(m);
}

/* ---- one graph validation for every reader ---- */

/* A tiny protobuf writer for hand-made ONNX models. */
typedef struct pbw {
    uint8_t b[1024];
    size_t n;
} pbw;

static void w_varint(pbw *w, uint64_t v) {
    do {
        assert_true(w->n < sizeof w->b);
        w->b[w->n++] = (uint8_t)((v & 0x7f) | (v > 0x7f ? 0x80 : 0));
        v >>= 7;
    } while (v);
}
static void w_bytes(pbw *w, uint32_t field, const void *p, size_t len) {
    w_varint(w, (uint64_t)field << 3 | 2);
    w_varint(w, len);
    assert_true(w->n + len <= sizeof w->b);
    memcpy(w->b + w->n, p, len);
    w->n += len;
}
static void w_str(pbw *w, uint32_t field, const char *s) { w_bytes(w, field, s, strlen(s)); }
static void w_msg(pbw *w, uint32_t field, const pbw *m) { w_bytes(w, field, m->b, m->n); }
static void w_int(pbw *w, uint32_t field, uint64_t v) {
    w_varint(w, (uint64_t)field << 3);
    w_varint(w, v);
}

/* ValueInfoProto: a float tensor of rank 1 named `name`. */
static void w_vinfo(pbw *graph, uint32_t field, const char *name) {
    pbw dim = {0}, shape = {0}, tt = {0}, type = {0}, vi = {0};
    w_int(&dim, 1, 3);
    w_msg(&shape, 1, &dim);
    w_int(&tt, 1, 1);
    w_msg(&tt, 2, &shape);
    w_msg(&type, 1, &tt);
    w_str(&vi, 1, name);
    w_msg(&vi, 2, &type);
    w_msg(graph, field, &vi);
}

/* An ONNX model: Relu(in) -> "y", graph inputs `inputs` (NULL-terminated), output "y". */
static void onnx_relu(pbw *model, const char *in, const char *const *inputs) {
    pbw node = {0}, graph = {0}, opset = {0};
    w_str(&node, 1, in);
    w_str(&node, 2, "y");
    w_str(&node, 4, "Relu");
    w_msg(&graph, 1, &node);
    w_str(&graph, 2, "g");
    for (size_t i = 0; inputs[i]; i++)
        w_vinfo(&graph, 11, inputs[i]);
    w_vinfo(&graph, 12, "y");
    w_int(&opset, 2, 13);
    memset(model, 0, sizeof *model);
    w_int(model, 1, 8);
    w_msg(model, 8, &opset);
    w_msg(model, 7, &graph);
}

/* Writes g as .ais and reads it back; returns the read status. */
static ais_status ais_roundtrip(ais__graph *g) {
    const char *path = ais_test_tmp_path("check.ais");
    AIS_ASSERT_OK(ais__ais_write(g, path, 0));
    ais__graph_destroy(g);
    size_t n;
    uint8_t *bytes = ais_test_slurp(path, &n);
    ais__graph *r = NULL;
    ais_status st = ais__ais_read(bytes, n, NULL, &r);
    ais__graph_destroy(r);
    free(bytes);
    return st;
}

static ais__graph *relu_graph(const char *in) {
    ais__graph *g = NULL;
    AIS_ASSERT_OK(ais__graph_create(&g));
    AIS_ASSERT_OK(ais__graph_set_opset(g, "", 13));
    ais_test_graph_input(g, "x", AIS_DTYPE_F32, AIS_SHAPE(3), NULL);
    ais_test_graph_node(g, "r", "Relu", in, NULL, "y");
    ais_test_graph_output(g, "y");
    return g;
}

static void test_graph_validation(void **state) {
    (void)state;
    /* The same input listed twice: .ais used to load it. */
    ais__graph *g = relu_graph("x");
    AIS_ASSERT_OK(ais__graph_add_input(g, ais__graph_find(g, "x")));
    AIS_ASSERT_STATUS(ais__graph_validate(g), AIS_E_FORMAT);
    ais_test_assert_error_contains("graph input 'x' is listed twice");
    AIS_ASSERT_STATUS(ais_roundtrip(g), AIS_E_FORMAT);
    ais_test_assert_error_contains("graph input 'x' is listed twice");
    /* ... and the ONNX reader refuses it too. */
    pbw model;
    ais__graph *r = NULL;
    onnx_relu(&model, "x", (const char *[]){"x", "x", NULL});
    AIS_ASSERT_STATUS(ais__onnx_read(model.b, model.n, ".", NULL, &r), AIS_E_FORMAT);
    ais_test_assert_error_contains("'x' appears twice");
    /* The same output twice. */
    g = relu_graph("x");
    ais_test_graph_output(g, "y");
    AIS_ASSERT_STATUS(ais_roundtrip(g), AIS_E_FORMAT);
    ais_test_assert_error_contains("graph output 'y' is listed twice");
    /* A node reading a value nothing defines: both readers, one message (the ONNX reader used
     * to leave this to the session). */
    g = relu_graph("ghost");
    AIS_ASSERT_STATUS(ais_roundtrip(g), AIS_E_FORMAT);
    ais_test_assert_error_contains("node 'r' (Relu): input 'ghost' is neither a graph input");
    onnx_relu(&model, "ghost", (const char *[]){"x", NULL});
    AIS_ASSERT_STATUS(ais__onnx_read(model.b, model.n, ".", NULL, &r), AIS_E_FORMAT);
    ais_test_assert_error_contains("graph.node[0] (Relu): input 'ghost' is neither a graph input");
    assert_null(r);
    /* A graph output nothing produces. */
    g = relu_graph("x");
    ais_test_graph_output(g, "nowhere");
    AIS_ASSERT_STATUS(ais_roundtrip(g), AIS_E_FORMAT);
    ais_test_assert_error_contains("graph output 'nowhere' is not produced by any node");
    /* An input that is also a constant. */
    g = relu_graph("x");
    int64_t d = 3;
    ais_tensor *t = NULL;
    AIS_ASSERT_OK(ais_tensor_create(AIS_DTYPE_F32, &d, 1, &t));
    AIS_ASSERT_OK(ais__graph_set_constant(g, ais__graph_find(g, "x"), t));
    AIS_ASSERT_STATUS(ais__graph_validate(g), AIS_E_FORMAT);
    ais_test_assert_error_contains("graph input 'x' is also a constant");
    ais__graph_destroy(g);
    /* The well-formed graph passes both readers. */
    g = relu_graph("x");
    AIS_ASSERT_OK(ais__graph_validate(g));
    AIS_ASSERT_OK(ais_roundtrip(g));
    onnx_relu(&model, "x", (const char *[]){"x", NULL});
    AIS_ASSERT_OK(ais__onnx_read(model.b, model.n, ".", NULL, &r));
    ais__graph_destroy(r);
}

static int teardown(void **state) {
    (void)state;
    return ais_test_tmpdir_remove();
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_format_metadata),   cmocka_unit_test(test_sniff_messages),
        cmocka_unit_test(test_truncated_onnx),    cmocka_unit_test(test_json_offsets),
        cmocka_unit_test(test_not_regular_files), cmocka_unit_test(test_external_symlinks),
        cmocka_unit_test(test_graph_validation),
    };
    return cmocka_run_group_tests(tests, NULL, teardown);
}
