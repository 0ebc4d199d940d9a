/* test_ops_qdq_fast.c - the 8-bit paths that a QDQ model runs once fuse_qdq.c has fused it:
 * each against a slower path the library already had (or a formula written out here), on random
 * data, over the shapes and parameters where a fast path could go wrong. */
#include <math.h>
#include <string.h>

#include "tensor/tensor.h"
#include "test_util.h"

static double at(const ais_tensor *t, size_t i) { return ais__load_f64(t->data, t->dtype, i); }

static ais_tensor *rand8(ais_dtype dt, const int64_t *shape, size_t ndim) {
    ais_tensor *t = NULL;
    AIS_ASSERT_OK(ais__tensor_new(dt, shape, ndim, &t));
    for (size_t i = 0; i < t->numel; i++)
        ais__store_f64(
            t->data, dt, i,
            (double)(dt == AIS_DTYPE_U8 ? ais_test_randint(0, 255) : ais_test_randint(-128, 127)));
    return t;
}

static ais_tensor *to_f32(const ais_tensor *t) {
    ais_tensor *f = NULL;
    AIS_ASSERT_OK(ais__tensor_new(AIS_DTYPE_F32, t->dims, t->ndim, &f));
    for (size_t i = 0; i < t->numel; i++)
        ((float *)f->data)[i] = (float)at(t, i);
    return f;
}

/* 8-bit MaxPool (the byte path) against f32 MaxPool of the same values (the vector kernel or the
 * generic loop): random 1-, 2- and 3-D geometries with strides, dilations, asymmetric pads and
 * ceil_mode, u8 and s8 with the extremes present, 1 and 2 threads. */
static void test_maxpool8_vs_f32(void **state) {
    (void)state;
    for (int threads = 1; threads <= 2; threads++) {
        AIS_ASSERT_OK(ais_set_num_threads(threads));
        for (int iter = 0; iter < 120; iter++) {
            size_t nsp = (size_t)ais_test_randint(1, 3);
            int64_t shape[5] = {ais_test_randint(1, 2), ais_test_randint(1, 5)};
            int64_t k[3], s[3], d[3], pads[6];
            for (size_t a = 0; a < nsp; a++) {
                k[a] = ais_test_randint(1, 3);
                s[a] = ais_test_randint(1, 3);
                d[a] = ais_test_randint(1, 2);
                int64_t span = (k[a] - 1) * d[a] + 1;
                shape[2 + a] = span + ais_test_randint(0, nsp == 3 ? 5 : 20);
                /* pads below the kernel's extent: every window keeps a tap inside */
                pads[a] = ais_test_randint(0, k[a] - 1);
                pads[nsp + a] = ais_test_randint(0, k[a] - 1);
            }
            ais_dtype dt = iter % 2 ? AIS_DTYPE_I8 : AIS_DTYPE_U8;
            ais_tensor *x = rand8(dt, shape, 2 + nsp);
            ais__store_f64(x->data, dt, 0, dt == AIS_DTYPE_U8 ? 0 : -128);
            ais__store_f64(x->data, dt, x->numel - 1, dt == AIS_DTYPE_U8 ? 255 : 127);
            ais_tensor *xf = to_f32(x);
            ais_attrs *a = NULL;
            AIS_ASSERT_OK(ais_attrs_create(&a));
            AIS_ASSERT_OK(ais_attrs_set_ints(a, "kernel_shape", k, nsp));
            AIS_ASSERT_OK(ais_attrs_set_ints(a, "strides", s, nsp));
            AIS_ASSERT_OK(ais_attrs_set_ints(a, "dilations", d, nsp));
            AIS_ASSERT_OK(ais_attrs_set_ints(a, "pads", pads, 2 * nsp));
            AIS_ASSERT_OK(ais_attrs_set_int(a, "ceil_mode", iter % 3 == 0));
            ais_tensor *y = NULL, *yf = NULL;
            AIS_ASSERT_OK(ais_op_run("MaxPool", a, (const ais_tensor *[]){x}, 1, &y, 1));
            AIS_ASSERT_OK(ais_op_run("MaxPool", a, (const ais_tensor *[]){xf}, 1, &yf, 1));
            assert_int_equal(ais_tensor_dtype(y), dt);
            assert_int_equal(ais_tensor_size(y), ais_tensor_size(yf));
            for (size_t i = 0; i < ais_tensor_size(y); i++)
                if (at(y, i) != at(yf, i))
                    fail_msg("iter %d (%zu-D, %s) element %zu: %g, f32 path %g", iter, nsp,
                             ais_dtype_name(dt), i, at(y, i), at(yf, i));
            ais_attrs_destroy(a);
            ais_tensor *const all[] = {x, xf, y, yf};
            for (size_t i = 0; i < AIS__ARRAY_LEN(all); i++)
                ais_tensor_destroy(all[i]);
        }
    }
    AIS_ASSERT_OK(ais_set_num_threads(1));
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_maxpool8_vs_f32),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
