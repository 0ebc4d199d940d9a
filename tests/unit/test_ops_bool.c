/* test_ops_bool.c - one rule for bool bytes: 0 is false, any other byte is true, in every
 * operator that reads bools (ais_tensor.h), whatever byte the caller's memory holds. */
#include <stdint.h>
#include <string.h>

#include "test_util.h"

/* Bytes as they come from raw data, .npy or wrapped memory: 0, 1 and other non-zero values. */
static const uint8_t odd_bytes[8] = {0, 1, 2, 255, 0, 128, 1, 7};
static const uint8_t truth[8] = {0, 1, 1, 1, 0, 1, 1, 1};

static ais_tensor *bool_tensor(const uint8_t *bytes, const int64_t *shape, size_t ndim) {
    ais_tensor *t = NULL;
    AIS_ASSERT_OK(ais_tensor_create(AIS_DTYPE_BOOL, shape, ndim, &t));
    memcpy(ais_tensor_data(t), bytes, ais_tensor_nbytes(t));
    return t;
}

/* Runs op on inputs and returns output 0 (the caller destroys it). */
static ais_tensor *run1(const char *op, const ais_attrs *a, const ais_tensor *const *in,
                        size_t n_in) {
    ais_tensor *out = NULL;
    ais_status st = ais_test_run_op(op, a, in, n_in, &out, 1);
    if (st != AIS_OK) fail_msg("%s: %s", op, ais_last_error());
    return out;
}

/* Asserts that op gives the same bytes on the odd input as on its normalized twin, and that a
 * bool result holds only 0 and 1. `other` is a second input (or NULL). */
static void same_as_normalized(const char *op, const ais_attrs *a, const ais_tensor *other,
                               const int64_t *shape, size_t ndim) {
    ais_tensor *odd = bool_tensor(odd_bytes, shape, ndim), *norm = bool_tensor(truth, shape, ndim);
    const ais_tensor *in_odd[3] = {odd, other, other}, *in_norm[3] = {norm, other, other};
    size_t n_in = other ? (strcmp(op, "Where") == 0 ? 3 : 2) : 1;
    ais_tensor *got = run1(op, a, in_odd, n_in), *want = run1(op, a, in_norm, n_in);
    assert_int_equal(ais_tensor_dtype(got), ais_tensor_dtype(want));
    assert_int_equal(ais_tensor_nbytes(got), ais_tensor_nbytes(want));
    if (memcmp(ais_tensor_data(got), ais_tensor_data(want), ais_tensor_nbytes(got)) != 0)
        fail_msg("%s: a bool byte other than 0 and 1 changed the result", op);
    if (ais_tensor_dtype(got) == AIS_DTYPE_BOOL) {
        const uint8_t *g = ais_tensor_data(got);
        for (size_t i = 0; i < ais_tensor_nbytes(got); i++)
            if (g[i] > 1) fail_msg("%s wrote bool byte %u at %zu", op, g[i], i);
    }
    ais_tensor_destroy(odd);
    ais_tensor_destroy(norm);
    ais_tensor_destroy(got);
    ais_tensor_destroy(want);
}

static void test_bool_bytes_across_operators(void **state) {
    (void)state;
    const int64_t shape[1] = {8};
    static const uint8_t all_true[8] = {1, 1, 1, 1, 1, 1, 1, 1};
    static const uint8_t mixed[8] = {1, 0, 1, 0, 1, 0, 1, 0};
    ais_tensor *t = bool_tensor(all_true, shape, 1), *m = bool_tensor(mixed, shape, 1);
    const char *binary[] = {"Equal", "And",     "Or",          "Xor",
                            "Less",  "Greater", "LessOrEqual", "GreaterOrEqual"};
    for (size_t i = 0; i < sizeof binary / sizeof binary[0]; i++) {
        same_as_normalized(binary[i], NULL, t, shape, 1);
        same_as_normalized(binary[i], NULL, m, shape, 1);
    }
    same_as_normalized("Not", NULL, NULL, shape, 1);
    same_as_normalized("NonZero", NULL, NULL, shape, 1);
    ais_tensor *x = ais_test_rand_f32(shape, 1, -1, 1);
    same_as_normalized("Where", NULL, x, shape, 1);
    ais_tensor_destroy(x);

    static const ais_dtype targets[] = {AIS_DTYPE_F32,  AIS_DTYPE_I64, AIS_DTYPE_U8,
                                        AIS_DTYPE_BOOL, AIS_DTYPE_F16, AIS_DTYPE_STRING};
    for (size_t i = 0; i < sizeof targets / sizeof targets[0]; i++) {
        ais_attrs *a = NULL;
        AIS_ASSERT_OK(ais_attrs_create(&a));
        AIS_ASSERT_OK(ais_attrs_set_int(a, "to", targets[i]));
        if (targets[i] == AIS_DTYPE_STRING) {
            ais_tensor *odd = bool_tensor(odd_bytes, shape, 1);
            const ais_tensor *in[1] = {odd};
            ais_tensor *s = run1("Cast", a, in, 1);
            for (size_t k = 0; k < 8; k++)
                assert_string_equal(ais_tensor_string_at(s, k), truth[k] ? "True" : "False");
            ais_tensor_destroy(s);
            ais_tensor_destroy(odd);
        } else {
            same_as_normalized("Cast", a, NULL, shape, 1);
        }
        ais_attrs_destroy(a);
    }

    /* Reductions and ArgMax/ArgMin along rows of [2, 4]. */
    const int64_t shape2[2] = {2, 4};
    ais_tensor *axes = ais_test_tensor(AIS_DTYPE_I64, AIS_SHAPE(1), (const double[]){1});
    same_as_normalized("ReduceMax", NULL, axes, shape2, 2);
    same_as_normalized("ReduceMin", NULL, axes, shape2, 2);
    ais_tensor_destroy(axes);
    ais_attrs *a = NULL;
    AIS_ASSERT_OK(ais_attrs_create(&a));
    AIS_ASSERT_OK(ais_attrs_set_int(a, "axis", 1));
    same_as_normalized("ArgMax", a, NULL, shape2, 2);
    same_as_normalized("ArgMin", a, NULL, shape2, 2);
    AIS_ASSERT_OK(ais_attrs_set_int(a, "select_last_index", 1));
    same_as_normalized("ArgMax", a, NULL, shape2, 2);
    ais_attrs_destroy(a);
    ais_tensor_destroy(t);
    ais_tensor_destroy(m);
}

/* The case from the report: Equal(b, true) over wrapped memory holding 2 is true. */
static void test_wrapped_bool_equal_true(void **state) {
    (void)state;
    uint8_t mem[3] = {2, 0, 1};
    ais_tensor *b = NULL, *y = NULL;
    AIS_ASSERT_OK(ais_tensor_wrap(AIS_DTYPE_BOOL, AIS_SHAPE(3), mem, 3, NULL, NULL, &b));
    static const uint8_t ones[3] = {1, 1, 1};
    ais_tensor *t = bool_tensor(ones, AIS_SHAPE(3));
    const ais_tensor *in[2] = {b, t};
    AIS_ASSERT_OK(ais_test_run_op("Equal", NULL, in, 2, &y, 1));
    const uint8_t *py = ais_tensor_data(y);
    assert_int_equal(py[0], 1);
    assert_int_equal(py[1], 0);
    assert_int_equal(py[2], 1);
    assert_int_equal(mem[0], 2); /* the caller's bytes are read, never rewritten */
    ais_tensor_destroy(y);
    ais_tensor_destroy(t);
    ais_tensor_destroy(b);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_bool_bytes_across_operators),
        cmocka_unit_test(test_wrapped_bool_equal_true),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
