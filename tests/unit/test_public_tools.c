/* test_public_tools.c - the public calls that tools (the aistack CLI, benchmarks) need instead of
 * internal headers: the operator registry (ais_op_count, ais_op_info) and sequence files
 * (ais_sequence_load). */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "test_util.h"

static void test_op_registry(void **state) {
    (void)state;
    size_t n = ais_op_count();
    assert_true(n > 100);
    bool relu = false, ml = false;
    for (size_t i = 0; i < n; i++) {
        const char *domain = NULL, *name = NULL;
        int64_t since = 0;
        AIS_ASSERT_OK(ais_op_info(i, &domain, &name, &since));
        assert_non_null(domain);
        assert_non_null(name);
        assert_true(since >= 1);
        /* every entry is one the registry runs */
        assert_true(ais_op_exists(domain, name));
        if (!strcmp(domain, "") && !strcmp(name, "Relu")) relu = true;
        if (!strcmp(domain, "ai.onnx.ml") && !strcmp(name, "TreeEnsembleClassifier")) ml = true;
    }
    assert_true(relu && ml);
    AIS_ASSERT_OK(ais_op_info(0, NULL, NULL, NULL));
    AIS_ASSERT_STATUS(ais_op_info(n, NULL, NULL, NULL), AIS_E_INVALID_ARGUMENT);
    ais_test_assert_error_contains("the registry has");
}

static void write_bytes(const char *path, const unsigned char *b, size_t n) {
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(b, 1, n, f), n);
    fclose(f);
}

static void test_sequence_load(void **state) {
    (void)state;
    /* SequenceProto {name "s", elem_type TENSOR, tensor_values [TensorProto {dims [2],
     * data_type FLOAT, raw_data 1.5f, -2.0f}]} */
    const unsigned char seq[] = {0x0a, 0x01, 's',  0x10, 0x01, 0x1a, 0x0e, 0x08, 0x02, 0x10, 0x01,
                                 0x4a, 0x08, 0x00, 0x00, 0xc0, 0x3f, 0x00, 0x00, 0x00, 0xc0};
    char path[] = "/tmp/ais_test_seq_XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    close(fd);
    write_bytes(path, seq, sizeof seq);
    ais_tensor *s = NULL;
    AIS_ASSERT_OK(ais_sequence_load(path, &s));
    assert_int_equal(ais_tensor_dtype(s), AIS_DTYPE_SEQUENCE);
    assert_int_equal(ais_sequence_length(s), 1);
    const ais_tensor *item = ais_sequence_at(s, 0);
    assert_int_equal(ais_tensor_dtype(item), AIS_DTYPE_F32);
    const float *v = ais_tensor_data(item);
    assert_true(v[0] == 1.5f && v[1] == -2.0f);
    ais_tensor_destroy(s);
    /* a file that is no SequenceProto: an error naming the file */
    write_bytes(path, (const unsigned char *)"\xff\xff\xff", 3);
    assert_int_not_equal(ais_sequence_load(path, &s), AIS_OK);
    assert_null(s);
    ais_test_assert_error_contains(path);
    unlink(path);
    AIS_ASSERT_STATUS(ais_sequence_load(NULL, &s), AIS_E_INVALID_ARGUMENT);
    AIS_ASSERT_STATUS(ais_sequence_load(path, NULL), AIS_E_INVALID_ARGUMENT);
    assert_int_not_equal(ais_sequence_load("/nonexistent/seq.pb", &s), AIS_OK);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_op_registry),
        cmocka_unit_test(test_sequence_load),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
