/*
 * test_pipeline_image.c - the image input kind of the pipeline spec (lib/pipeline/
 * pipeline_image.c): spec checks with JSON paths, the three value kinds (path, encoded bytes,
 * pixels), exact values on a tiny image, the problem report naming row and field, and
 * allocation failures. Numbers against torchvision: tests/python/test_image.py.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "test_util.h"

#define CORPUS AIS_SOURCE_DIR "/tests/fuzz/corpus/image/"

static const char *spec_of(const char *steps, char *buf, size_t n) {
    snprintf(buf, n,
             "{\"version\": 1, \"inputs\": [{\"name\": \"img\", \"type\": \"image\"}], "
             "\"features\": [{\"input\": \"img\", \"steps\": [%s]}]}",
             steps);
    return buf;
}

static ais_status compile(const char *steps, ais_pipeline **p) {
    char buf[2048];
    spec_of(steps, buf, sizeof buf);
    return ais_pipeline_create_from_json(buf, strlen(buf), p);
}

static void expect_spec_error(const char *steps, const char *needle) {
    ais_pipeline *p = (ais_pipeline *)1;
    ais_status st = compile(steps, &p);
    if (st == AIS_OK) fail_msg("spec with steps %s compiled", steps);
    assert_null(p);
    ais_test_assert_error_contains(needle);
}

static void test_spec_errors(void **state) {
    (void)state;
    expect_spec_error("{\"op\": \"blur\"}", "$.features[0].steps[0].op");
    expect_spec_error("{\"op\": \"resize\", \"size\": 256}", "not fixed");
    expect_spec_error("{\"op\": \"to_tensor\"}, {\"op\": \"center_crop\", \"size\": 4}",
                      "steps[1]: \"center_crop\" after a pixel-value step");
    expect_spec_error("{\"op\": \"resize\", \"size\": [1, 2, 3]}", "steps[0].size");
    expect_spec_error("{\"op\": \"resize\", \"size\": 0}", "steps[0].size");
    expect_spec_error("{\"op\": \"center_crop\", \"size\": 4}, {\"op\": \"normalize\", \"mean\": "
                      "[0, 0, 0], \"std\": [1, 0, 1]}",
                      "steps[1].std[1]");
    expect_spec_error("{\"op\": \"center_crop\", \"size\": 4}, {\"op\": \"to_tensor\"}, "
                      "{\"op\": \"to_tensor\"}",
                      "given twice");
    expect_spec_error("{\"op\": \"center_crop\", \"size\": 4, \"mode\": 1}",
                      "unknown key \"mode\"");
    expect_spec_error("{\"op\": \"pad\", \"padding\": [1, 2, 3]}, {\"op\": \"center_crop\", "
                      "\"size\": 4}",
                      "got 3");
    const char *two = "{\"version\": 1, \"inputs\": [{\"name\": \"img\", \"type\": \"image\"}, "
                      "{\"name\": \"x\", \"type\": \"numeric\"}], \"features\": []}";
    ais_pipeline *p = NULL;
    AIS_ASSERT_STATUS(ais_pipeline_create_from_json(two, strlen(two), &p), AIS_E_FORMAT);
    ais_test_assert_error_contains("only input");
}

/* A 2 x 3 RGB image through pad, crop, BGR, to_tensor and normalize, against values worked out
 * by hand; and its shape and kind. */
static void test_values(void **state) {
    (void)state;
    ais_pipeline *p = NULL;
    AIS_ASSERT_OK(compile("{\"op\": \"pad\", \"padding\": [1, 0], \"fill\": [9, 8, 7]}, "
                          "{\"op\": \"center_crop\", \"size\": [2, 4]}, "
                          "{\"op\": \"channels\", \"order\": \"bgr\"}, {\"op\": \"to_tensor\"}, "
                          "{\"op\": \"normalize\", \"mean\": [0.5, 0, 0], \"std\": [0.5, 1, 2]}",
                          &p));
    assert_int_equal(ais_pipeline_output_width(p), 3 * 2 * 4);
    const char *name;
    ais_feature_kind kind;
    AIS_ASSERT_OK(ais_pipeline_input_info(p, 0, &name, &kind));
    assert_string_equal(name, "img");
    assert_int_equal(kind, AIS_FEATURE_IMAGE);
    uint8_t px[2][3][3];
    for (int y = 0; y < 2; y++)
        for (int x = 0; x < 3; x++)
            for (int c = 0; c < 3; c++)
                px[y][x][c] = (uint8_t)(10 * y + 3 * x + 100 * c);
    ais_tensor *t = NULL;
    AIS_ASSERT_OK(ais_tensor_wrap(AIS_DTYPE_U8, AIS_SHAPE(2, 3, 3), px, sizeof px, NULL, NULL, &t));
    ais_field f = {"img", AIS_VALUE_PIXELS, 0, (const char *)(const void *)t};
    const ais_field *rows[] = {&f, &f};
    size_t n[] = {1, 1};
    ais_tensor *out = NULL;
    AIS_ASSERT_OK(ais_pipeline_run_records(p, rows, n, 2, &out, NULL));
    assert_int_equal(ais_tensor_ndim(out), 4);
    const int64_t *s = ais_tensor_shape(out);
    assert_true(s[0] == 2 && s[1] == 3 && s[2] == 2 && s[3] == 4);
    /* padded width 5 (1 left, 1 right), cropped to 4 at round((5 - 4) / 2) = 0 (half to even):
     * columns fill, x0, x1, x2 */
    const float *o = ais_tensor_data(out);
    static const float mean[3] = {0.5f, 0, 0}, sd[3] = {0.5f, 1, 2};
    for (int c = 0; c < 3; c++) {
        int src = 2 - c;
        for (int y = 0; y < 2; y++)
            for (int x = 0; x < 4; x++) {
                uint8_t v = x == 0 ? (uint8_t)(9 - src) : px[y][x - 1][src];
                float want = ((float)v / 255.0f - mean[c]) / sd[c];
                float got = o[(size_t)c * 8 + y * 4 + x];
                if (got != want) fail_msg("c %d y %d x %d: %g, expected %g", c, y, x, got, want);
                assert_true(o[24 + (size_t)c * 8 + y * 4 + x] == want);
            }
    }
    ais_tensor_destroy(out);
    ais_tensor_destroy(t);
    ais_pipeline_destroy(p);
}

static uint8_t *slurp(const char *path, size_t *n) {
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    fseek(f, 0, SEEK_END);
    long len = ftell(f);
    fseek(f, 0, SEEK_SET);
    uint8_t *b = malloc((size_t)len + 1);
    assert_int_equal(fread(b, 1, (size_t)len, f), (size_t)len);
    fclose(f);
    *n = (size_t)len;
    return b;
}

/* A path, the same file's bytes, and a JSON line give the same tensor. */
static void test_sources(void **state) {
    (void)state;
    ais_pipeline *p = NULL;
    AIS_ASSERT_OK(compile("{\"op\": \"resize\", \"size\": 8}, {\"op\": \"center_crop\", "
                          "\"size\": 8}, {\"op\": \"to_tensor\"}",
                          &p));
    size_t n;
    uint8_t *bytes = slurp(CORPUS "rgb.jpg", &n);
    ais_field a = {"img", AIS_VALUE_STRING, 0, CORPUS "rgb.jpg"};
    ais_field b = {"img", AIS_VALUE_BYTES, (double)n, (const char *)bytes};
    const ais_field *rows[] = {&a, &b};
    size_t nf[] = {1, 1};
    ais_tensor *out = NULL, *js = NULL;
    AIS_ASSERT_OK(ais_pipeline_run_records(p, rows, nf, 2, &out, NULL));
    const char *line = "{\"img\": \"" CORPUS "rgb.jpg\"}\n";
    AIS_ASSERT_OK(ais_pipeline_run_json_rows(p, line, strlen(line), &js, NULL));
    const float *o = ais_tensor_data(out), *j = ais_tensor_data(js);
    assert_memory_equal(o, o + 3 * 64, 3 * 64 * sizeof(float));
    assert_memory_equal(o, j, 3 * 64 * sizeof(float));
    float o5 = o[5];
    ais_tensor_destroy(out);
    ais_tensor_destroy(js);
    /* f64 twin: the same values as doubles */
    ais_pipeline *p64 = NULL;
    AIS_ASSERT_OK(ais_pipeline_with_output_dtype(p, AIS_DTYPE_F64, &p64));
    AIS_ASSERT_OK(ais_pipeline_run_records(p64, rows, nf, 1, &out, NULL));
    assert_int_equal(ais_tensor_dtype(out), AIS_DTYPE_F64);
    assert_true(((const double *)ais_tensor_data(out))[5] == (double)o5);
    ais_tensor_destroy(out);
    ais_pipeline_destroy(p64);
    free(bytes);
    ais_pipeline_destroy(p);
}

static void test_report(void **state) {
    (void)state;
    ais_pipeline *p = NULL;
    AIS_ASSERT_OK(compile("{\"op\": \"center_crop\", \"size\": 8}", &p));
    ais_field ok = {"img", AIS_VALUE_STRING, 0, CORPUS "rgb.png"};
    ais_field trunc = {"img", AIS_VALUE_STRING, 0, CORPUS "truncated.jpg"};
    ais_field number = {"img", AIS_VALUE_NUMBER, 3, NULL};
    ais_field nofile = {"img", AIS_VALUE_STRING, 0, "/nonexistent/x.png"};
    ais_field bomb = {"img", AIS_VALUE_STRING, 0, CORPUS "bomb.png"};
    ais_field other = {"image", AIS_VALUE_STRING, 0, CORPUS "rgb.png"};
    const ais_field *rows[] = {&ok, &trunc, &number, &nofile, &bomb, &other};
    size_t nf[] = {1, 1, 1, 1, 1, 1};
    ais_tensor *out = (ais_tensor *)1;
    ais_pipeline_errors *e = NULL;
    AIS_ASSERT_STATUS(ais_pipeline_run_records(p, rows, nf, 6, &out, &e), AIS_E_SCHEMA);
    assert_null(out);
    ais_test_assert_error_contains("row 1, field \"img\"");
    ais_test_assert_error_contains("truncated.jpg");
    assert_true(ais_pipeline_errors_count(e) >= 5);
    static const char *const needles[] = {"truncated", "a number", "x.png", "60000 x 60000"};
    for (size_t i = 0; i < 4; i++) {
        assert_int_equal(ais_pipeline_errors_row(e, i), i + 1);
        assert_string_equal(ais_pipeline_errors_field(e, i), "img");
        if (!strstr(ais_pipeline_errors_message(e, i), needles[i]))
            fail_msg("problem %zu: \"%s\" lacks \"%s\"", i, ais_pipeline_errors_message(e, i),
                     needles[i]);
    }
    /* the misspelled field: unknown, and the image missing */
    assert_int_equal(ais_pipeline_errors_row(e, 4), 5);
    ais_pipeline_errors_destroy(e);
    ais_pipeline_destroy(p);
}

typedef struct {
    ais_pipeline *p;
    ais_tensor *out;
} oom_ctx;
static ais_status oom_run(void *v) {
    oom_ctx *c = v;
    ais_field a = {"img", AIS_VALUE_STRING, 0, CORPUS "palette.png"};
    ais_field b = {"img", AIS_VALUE_STRING, 0, CORPUS "exif6.jpg"};
    const ais_field *rows[] = {&a, &b};
    size_t nf[] = {1, 1};
    return ais_pipeline_run_records(c->p, rows, nf, 2, &c->out, NULL);
}
static void oom_cleanup(void *v) {
    oom_ctx *c = v;
    ais_tensor_destroy(c->out);
    c->out = NULL;
}

static void test_oom(void **state) {
    (void)state;
    oom_ctx c = {0};
    AIS_ASSERT_OK(compile("{\"op\": \"resize\", \"size\": 9}, {\"op\": \"center_crop\", \"size\": "
                          "[9, 7]}, {\"op\": \"to_tensor\"}",
                          &c.p));
    ais_set_num_threads(1); /* the sweep counts allocations in order */
    ais_test_oom_sweep("image run", oom_run, oom_cleanup, &c, 400);
    ais_set_num_threads(0);
    ais_pipeline_destroy(c.p);
}

/* A batch on 4 threads gives the bytes of 1 thread (each image is one task; under
 * ThreadSanitizer in scripts/test.sh). */
static void test_threads(void **state) {
    (void)state;
    ais_pipeline *p = NULL;
    AIS_ASSERT_OK(compile("{\"op\": \"resize\", \"size\": 24}, {\"op\": \"center_crop\", "
                          "\"size\": 20}, {\"op\": \"to_tensor\"}",
                          &p));
    static const char *const files[] = {CORPUS "rgb.jpg",     CORPUS "rgba.png",
                                        CORPUS "gray.png",    CORPUS "exif6.jpg",
                                        CORPUS "palette.png", CORPUS "progressive.jpg"};
    ais_field f[12];
    const ais_field *rows[12];
    size_t nf[12];
    for (size_t i = 0; i < 12; i++) {
        f[i] = (ais_field){"img", AIS_VALUE_STRING, 0, files[i % 6]};
        rows[i] = &f[i];
        nf[i] = 1;
    }
    ais_tensor *one = NULL, *four = NULL;
    AIS_ASSERT_OK(ais_set_num_threads(1));
    AIS_ASSERT_OK(ais_pipeline_run_records(p, rows, nf, 12, &one, NULL));
    AIS_ASSERT_OK(ais_set_num_threads(4));
    AIS_ASSERT_OK(ais_pipeline_run_records(p, rows, nf, 12, &four, NULL));
    AIS_ASSERT_OK(ais_set_num_threads(0));
    assert_int_equal(ais_tensor_nbytes(one), ais_tensor_nbytes(four));
    assert_memory_equal(ais_tensor_data(one), ais_tensor_data(four), ais_tensor_nbytes(one));
    ais_tensor_destroy(one);
    ais_tensor_destroy(four);
    ais_pipeline_destroy(p);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_spec_errors), cmocka_unit_test(test_values),
        cmocka_unit_test(test_sources),     cmocka_unit_test(test_report),
        cmocka_unit_test(test_oom),         cmocka_unit_test(test_threads),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
