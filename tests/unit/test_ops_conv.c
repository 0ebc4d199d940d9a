/* test_ops_conv.c - Conv and ConvTranspose against direct loops: 1-D to 3-D, groups,
 * depthwise, strides, dilations, asymmetric pads, auto_pad, output_padding, output_shape, empty
 * batches, errors and allocation failures. */
#include "dense_test_ref.h"
#include "ops/op.h"

typedef struct {
    size_t nsp;
    int64_t n, c, m, group;
    int64_t in[3], k[3], s[3], d[3], pb[3], pe[3];
    const char *auto_pad; /* NULL: explicit pads */
    bool bias;
    /* ConvTranspose only */
    int64_t opad[3];
    const int64_t *out_shape; /* nsp values or NULL */
} conv_case;

/* 3-D view of a case: leading axes of extent 1. */
typedef struct {
    int64_t in[3], k[3], s[3], d[3], pb[3], out[3];
} geo3;

static geo3 to3(const conv_case *cc, const int64_t *out) {
    geo3 g;
    size_t off = 3 - cc->nsp;
    for (size_t i = 0; i < 3; i++) {
        g.in[i] = g.k[i] = g.s[i] = g.d[i] = g.out[i] = 1;
        g.pb[i] = 0;
    }
    for (size_t i = 0; i < cc->nsp; i++) {
        g.in[off + i] = cc->in[i];
        g.k[off + i] = cc->k[i];
        g.s[off + i] = cc->s[i];
        g.d[off + i] = cc->d[i];
        g.pb[off + i] = cc->pb[i];
        g.out[off + i] = out[i];
    }
    return g;
}

static void set_attrs(ais_attrs *a, const conv_case *cc, bool transpose) {
    dt_ints(a, "strides", cc->s, cc->nsp);
    dt_ints(a, "dilations", cc->d, cc->nsp);
    int64_t pads[6];
    for (size_t i = 0; i < cc->nsp; i++) {
        pads[i] = cc->pb[i];
        pads[cc->nsp + i] = cc->pe[i];
    }
    if (cc->auto_pad)
        AIS_ASSERT_OK(ais_attrs_set_string(a, "auto_pad", cc->auto_pad));
    else
        dt_ints(a, "pads", pads, 2 * cc->nsp);
    AIS_ASSERT_OK(ais_attrs_set_int(a, "group", cc->group));
    if (transpose) {
        dt_ints(a, "output_padding", cc->opad, cc->nsp);
        if (cc->out_shape) dt_ints(a, "output_shape", cc->out_shape, cc->nsp);
    }
}

static void run_conv(conv_case cc) {
    int64_t out[3];
    for (size_t i = 0; i < cc.nsp; i++) {
        int64_t dk = (cc.k[i] - 1) * cc.d[i] + 1;
        if (cc.auto_pad && strcmp(cc.auto_pad, "VALID") == 0) {
            cc.pb[i] = cc.pe[i] = 0;
        } else if (cc.auto_pad) {
            out[i] = (cc.in[i] + cc.s[i] - 1) / cc.s[i];
            int64_t total = (out[i] - 1) * cc.s[i] + dk - cc.in[i];
            if (total < 0) total = 0;
            cc.pb[i] = strcmp(cc.auto_pad, "SAME_UPPER") == 0 ? total / 2 : (total + 1) / 2;
            cc.pe[i] = total - cc.pb[i];
        }
        out[i] = (cc.in[i] + cc.pb[i] + cc.pe[i] - dk) / cc.s[i] + 1;
    }
    geo3 g = to3(&cc, out);
    int64_t cg = cc.c / cc.group, mg = cc.m / cc.group;
    int64_t xs[5] = {cc.n, cc.c}, ws[5] = {cc.m, cg}, ys[5] = {cc.n, cc.m};
    for (size_t i = 0; i < cc.nsp; i++) {
        xs[2 + i] = cc.in[i];
        ws[2 + i] = cc.k[i];
        ys[2 + i] = out[i];
    }
    size_t nd = 2 + cc.nsp;
    double *x = dt_rand(AIS_DTYPE_F32, dt_numel(xs, nd), -1, 1);
    double *w = dt_rand(AIS_DTYPE_F32, dt_numel(ws, nd), -1, 1);
    double *b = dt_rand(AIS_DTYPE_F32, (size_t)cc.m, -1, 1);
    size_t ny = dt_numel(ys, nd);
    double *want = calloc(ny + 1, sizeof(double));
    int64_t isz = g.in[0] * g.in[1] * g.in[2], osz = g.out[0] * g.out[1] * g.out[2];
    int64_t kv = g.k[0] * g.k[1] * g.k[2];
    for (int64_t n = 0; n < cc.n; n++)
        for (int64_t m = 0; m < cc.m; m++)
            for (int64_t o = 0; o < osz; o++) {
                int64_t od = o / (g.out[1] * g.out[2]), oh = (o / g.out[2]) % g.out[1],
                        ow = o % g.out[2];
                double s = cc.bias ? b[m] : 0;
                for (int64_t ci = 0; ci < cg; ci++) {
                    int64_t c = (m / mg) * cg + ci;
                    for (int64_t kk = 0; kk < kv; kk++) {
                        int64_t kd = kk / (g.k[1] * g.k[2]), kh = (kk / g.k[2]) % g.k[1],
                                kw = kk % g.k[2];
                        int64_t id = od * g.s[0] - g.pb[0] + kd * g.d[0];
                        int64_t ih = oh * g.s[1] - g.pb[1] + kh * g.d[1];
                        int64_t iw = ow * g.s[2] - g.pb[2] + kw * g.d[2];
                        if (id < 0 || ih < 0 || iw < 0 || id >= g.in[0] || ih >= g.in[1] ||
                            iw >= g.in[2])
                            continue;
                        s += x[(n * cc.c + c) * isz + (id * g.in[1] + ih) * g.in[2] + iw] *
                             w[(m * cg + ci) * kv + kk];
                    }
                }
                want[(n * cc.m + m) * osz + o] = s;
            }
    ais_tensor *tx = dt_tensor(AIS_DTYPE_F32, xs, nd, x), *tw = dt_tensor(AIS_DTYPE_F32, ws, nd, w);
    ais_tensor *tb = cc.bias ? dt_tensor(AIS_DTYPE_F32, AIS_SHAPE(cc.m), b) : NULL;
    ais_attrs *a = dt_attrs();
    set_attrs(a, &cc, false);
    const ais_tensor *in[] = {tx, tw, tb};
    ais_tensor *y = dt_run("Conv", a, in, cc.bias ? 3 : 2);
    assert_int_equal(ais_tensor_ndim(y), nd);
    for (size_t i = 0; i < nd; i++)
        assert_int_equal(ais_tensor_shape(y)[i], ys[i]);
    ais_test_assert_close_values(y, want, ny, 1e-5, 1e-5 * (double)(kv * cg + 1));
    ais_tensor_destroy(y);
    ais_tensor_destroy(tx);
    ais_tensor_destroy(tw);
    ais_tensor_destroy(tb);
    ais_attrs_destroy(a);
    free(x);
    free(w);
    free(b);
    free(want);
}

#define ONE3                                                                                       \
    { 1, 1, 1 }
#define ZERO3                                                                                      \
    { 0, 0, 0 }

static void test_conv_2d(void **state) {
    (void)state;
    /* stride 2, dilation 2, asymmetric pads, groups 1 and 2, depthwise with multiplier 2 */
    run_conv((conv_case){
        2, 2, 3, 4, 1, {7, 5}, {3, 3}, {2, 2}, {2, 1}, {1, 0}, {2, 1}, NULL, true, ZERO3, NULL});
    run_conv((conv_case){
        2, 2, 4, 6, 2, {7, 5}, {3, 2}, {2, 1}, {1, 2}, {0, 1}, {1, 2}, NULL, true, ZERO3, NULL});
    run_conv((conv_case){
        2, 2, 3, 3, 3, {7, 5}, {3, 3}, {1, 1}, ONE3, {1, 1}, {1, 1}, NULL, true, ZERO3, NULL});
    run_conv((conv_case){
        2, 1, 3, 6, 3, {7, 5}, {3, 2}, {2, 2}, {2, 1}, {2, 0}, {0, 1}, NULL, false, ZERO3, NULL});
    /* 1x1 stride 1 unpadded: the product skips im2col */
    run_conv((conv_case){
        2, 3, 5, 4, 1, {6, 7}, {1, 1}, {1, 1}, ONE3, ZERO3, ZERO3, NULL, true, ZERO3, NULL});
    run_conv((conv_case){
        2, 2, 4, 2, 2, {3, 3}, {1, 1}, {1, 1}, ONE3, ZERO3, ZERO3, NULL, false, ZERO3, NULL});
    /* 1x1 with stride 2: the GEMM path's strided packing (conv_gemm.c) */
    run_conv((conv_case){
        2, 1, 3, 2, 1, {6, 7}, {1, 1}, {2, 2}, ONE3, ZERO3, ZERO3, NULL, true, ZERO3, NULL});
    /* auto_pad */
    run_conv((conv_case){2,
                         1,
                         3,
                         2,
                         1,
                         {7, 6},
                         {3, 4},
                         {2, 2},
                         ONE3,
                         ZERO3,
                         ZERO3,
                         "SAME_UPPER",
                         true,
                         ZERO3,
                         NULL});
    run_conv((conv_case){2,
                         1,
                         3,
                         2,
                         1,
                         {7, 6},
                         {3, 4},
                         {2, 3},
                         ONE3,
                         ZERO3,
                         ZERO3,
                         "SAME_LOWER",
                         true,
                         ZERO3,
                         NULL});
    run_conv((conv_case){
        2, 1, 3, 2, 1, {7, 6}, {3, 4}, {2, 3}, {2, 1}, ZERO3, ZERO3, "VALID", true, ZERO3, NULL});
    run_conv((conv_case){2,
                         1,
                         2,
                         2,
                         2,
                         {7, 6},
                         {3, 3},
                         {2, 2},
                         ONE3,
                         ZERO3,
                         ZERO3,
                         "SAME_LOWER",
                         true,
                         ZERO3,
                         NULL});
    /* empty batch */
    run_conv((conv_case){
        2, 0, 3, 4, 1, {7, 5}, {3, 3}, {2, 2}, ONE3, {1, 1}, {1, 1}, NULL, true, ZERO3, NULL});
}

static void test_conv_1d_3d(void **state) {
    (void)state;
    run_conv((conv_case){1, 2, 2, 3, 1, {9}, {4}, {3}, {1}, {2}, {1}, NULL, true, ZERO3, NULL});
    run_conv((conv_case){1, 1, 4, 4, 4, {9}, {3}, {1}, {3}, {3}, {0}, NULL, false, ZERO3, NULL});
    run_conv((conv_case){3,
                         1,
                         2,
                         3,
                         1,
                         {4, 5, 3},
                         {2, 3, 2},
                         {1, 2, 1},
                         {2, 1, 1},
                         {1, 0, 1},
                         {0, 2, 1},
                         NULL,
                         true,
                         ZERO3,
                         NULL});
    run_conv((conv_case){3,
                         2,
                         2,
                         2,
                         2,
                         {4, 5, 3},
                         {2, 2, 2},
                         {2, 1, 1},
                         ONE3,
                         ZERO3,
                         {1, 1, 1},
                         NULL,
                         true,
                         ZERO3,
                         NULL});
    /* depthwise 3-D of depth 1 padded along depth (output depth 2, then 3): the plane kernel
     * path is 2-D and must not take it */
    run_conv((conv_case){3,
                         1,
                         4,
                         4,
                         4,
                         {1, 6, 6},
                         {1, 3, 3},
                         ONE3,
                         ONE3,
                         {0, 1, 1},
                         {1, 1, 1},
                         NULL,
                         true,
                         ZERO3,
                         NULL});
    run_conv((conv_case){3,
                         2,
                         3,
                         6,
                         3,
                         {1, 5, 4},
                         {1, 2, 3},
                         ONE3,
                         ONE3,
                         {1, 0, 1},
                         {1, 1, 0},
                         NULL,
                         false,
                         ZERO3,
                         NULL});
}

static void test_conv_large_and_parallel(void **state) {
    (void)state;
    /* K = 64 * 25 rows: the columns are tiled over output positions */
    run_conv((conv_case){
        2, 1, 64, 3, 1, {40, 40}, {5, 5}, {1, 1}, ONE3, {2, 2}, {2, 2}, NULL, true, ZERO3, NULL});
    AIS_ASSERT_OK(ais_set_num_threads(3));
    run_conv((conv_case){
        2, 5, 4, 6, 2, {9, 8}, {3, 3}, {1, 2}, ONE3, {1, 1}, {1, 0}, NULL, true, ZERO3, NULL});
    run_conv((conv_case){
        2, 3, 4, 4, 4, {9, 8}, {3, 3}, {1, 1}, ONE3, {1, 1}, {1, 1}, NULL, true, ZERO3, NULL});
    run_conv((conv_case){
        2, 4, 6, 6, 1, {5, 5}, {1, 1}, {1, 1}, ONE3, ZERO3, ZERO3, NULL, true, ZERO3, NULL});
    /* depthwise layers big enough to split over the threads (conv_depthwise.c): runs of
     * channels that cross an image's end, a channel multiplier (one plane a call), 5x5 stride 2
     * with uneven pads, and a 7x7 plane (the flat walk) */
    run_conv((conv_case){
        2, 2, 24, 24, 24, {30, 29}, {3, 3}, {1, 1}, ONE3, {1, 1}, {1, 1}, NULL, true, ZERO3, NULL});
    run_conv((conv_case){
        2, 2, 12, 24, 12, {30, 29}, {5, 5}, {2, 2}, ONE3, {2, 1}, {2, 2}, NULL, true, ZERO3, NULL});
    run_conv((conv_case){
        2, 3, 96, 96, 96, {7, 7}, {3, 3}, {1, 1}, ONE3, {1, 1}, {1, 1}, NULL, false, ZERO3, NULL});
    AIS_ASSERT_OK(ais_set_num_threads(1));
}

static void test_conv_errors(void **state) {
    (void)state;
    ais_tensor *x = ais_test_rand_f32(AIS_SHAPE(1, 3, 5, 5), -1, 1);
    ais_tensor *w = ais_test_rand_f32(AIS_SHAPE(4, 2, 3, 3), -1, 1);
    const ais_tensor *in[] = {x, w};
    dt_fails("Conv", NULL, in, 2, AIS_E_SHAPE, "channel mismatch");
    ais_test_assert_error_contains("[1, 3, 5, 5]");
    ais_tensor *w0 = ais_test_rand_f32(AIS_SHAPE(4, 3, 0, 3), -1, 1);
    const ais_tensor *in2[] = {x, w0};
    dt_fails("Conv", NULL, in2, 2, AIS_E_SHAPE, "kernel");
    ais_tensor *wbig = ais_test_rand_f32(AIS_SHAPE(4, 3, 6, 3), -1, 1);
    const ais_tensor *in3[] = {x, wbig};
    dt_fails("Conv", NULL, in3, 2, AIS_E_SHAPE, "larger than the padded input");
    ais_tensor *w1 = ais_test_rand_f32(AIS_SHAPE(4, 3, 3), -1, 1);
    const ais_tensor *in4[] = {x, w1};
    dt_fails("Conv", NULL, in4, 2, AIS_E_SHAPE, "same rank");
    ais_tensor *wok = ais_test_rand_f32(AIS_SHAPE(4, 3, 3, 3), -1, 1);
    ais_tensor *bbad = ais_test_rand_f32(AIS_SHAPE(3), -1, 1);
    const ais_tensor *in5[] = {x, wok, bbad};
    dt_fails("Conv", NULL, in5, 3, AIS_E_SHAPE, "bias");
    ais_attrs *a = dt_attrs();
    AIS_ASSERT_OK(ais_attrs_set_int(a, "group", 2));
    const ais_tensor *in6[] = {x, wok};
    dt_fails("Conv", a, in6, 2, AIS_E_INVALID_ARGUMENT, "group");
    ais_attrs_destroy(a);
    a = dt_attrs();
    dt_ints(a, "strides", (int64_t[]){1, 0}, 2);
    dt_fails("Conv", a, in6, 2, AIS_E_INVALID_ARGUMENT, "strides");
    ais_attrs_destroy(a);
    a = dt_attrs();
    AIS_ASSERT_OK(ais_attrs_set_string(a, "auto_pad", "SAME"));
    dt_fails("Conv", a, in6, 2, AIS_E_UNSUPPORTED, "SAME");
    ais_attrs_destroy(a);
    double v[75 * 2] = {0};
    ais_tensor *xd = dt_tensor(AIS_DTYPE_F64, AIS_SHAPE(1, 3, 5, 5), v);
    const ais_tensor *in7[] = {xd, wok};
    dt_fails("Conv", NULL, in7, 2, AIS_E_DTYPE, "f64");
    ais_tensor *objs[] = {x, w, w0, wbig, w1, wok, bbad, xd};
    for (size_t i = 0; i < 8; i++)
        ais_tensor_destroy(objs[i]);
}

/* ---- ConvTranspose ---- */

static void run_convt(conv_case cc) {
    int64_t out[3];
    for (size_t i = 0; i < cc.nsp; i++) {
        int64_t dk = (cc.k[i] - 1) * cc.d[i] + 1;
        int64_t full = cc.s[i] * (cc.in[i] - 1) + cc.opad[i] + dk;
        if (cc.out_shape || cc.auto_pad) {
            out[i] = cc.out_shape ? cc.out_shape[i] : cc.in[i] * cc.s[i];
            int64_t total = full - out[i];
            bool upper = cc.auto_pad && strcmp(cc.auto_pad, "SAME_UPPER") == 0;
            int64_t half = (int64_t)floor(total / 2.0);
            cc.pb[i] = upper ? half : total - half;
        } else {
            out[i] = full - cc.pb[i] - cc.pe[i];
        }
    }
    geo3 g = to3(&cc, out);
    int64_t cg = cc.c / cc.group, mg = cc.m / cc.group;
    int64_t xs[5] = {cc.n, cc.c}, ws[5] = {cc.c, mg}, ys[5] = {cc.n, cc.m};
    for (size_t i = 0; i < cc.nsp; i++) {
        xs[2 + i] = cc.in[i];
        ws[2 + i] = cc.k[i];
        ys[2 + i] = out[i];
    }
    size_t nd = 2 + cc.nsp;
    double *x = dt_rand(AIS_DTYPE_F32, dt_numel(xs, nd), -1, 1);
    double *w = dt_rand(AIS_DTYPE_F32, dt_numel(ws, nd), -1, 1);
    double *b = dt_rand(AIS_DTYPE_F32, (size_t)cc.m, -1, 1);
    size_t ny = dt_numel(ys, nd);
    double *want = calloc(ny + 1, sizeof(double));
    int64_t isz = g.in[0] * g.in[1] * g.in[2], osz = g.out[0] * g.out[1] * g.out[2];
    int64_t kv = g.k[0] * g.k[1] * g.k[2];
    for (int64_t n = 0; n < cc.n; n++)
        for (int64_t m = 0; m < cc.m; m++)
            for (int64_t o = 0; o < osz; o++)
                want[(n * cc.m + m) * osz + o] = cc.bias ? b[m] : 0;
    for (int64_t n = 0; n < cc.n; n++)
        for (int64_t c = 0; c < cc.c; c++)
            for (int64_t i = 0; i < isz; i++) {
                int64_t id = i / (g.in[1] * g.in[2]), ih = (i / g.in[2]) % g.in[1],
                        iw = i % g.in[2];
                for (int64_t mm = 0; mm < mg; mm++)
                    for (int64_t kk = 0; kk < kv; kk++) {
                        int64_t kd = kk / (g.k[1] * g.k[2]), kh = (kk / g.k[2]) % g.k[1],
                                kw = kk % g.k[2];
                        int64_t od = id * g.s[0] - g.pb[0] + kd * g.d[0];
                        int64_t oh = ih * g.s[1] - g.pb[1] + kh * g.d[1];
                        int64_t ow = iw * g.s[2] - g.pb[2] + kw * g.d[2];
                        if (od < 0 || oh < 0 || ow < 0 || od >= g.out[0] || oh >= g.out[1] ||
                            ow >= g.out[2])
                            continue;
                        int64_t m = (c / cg) * mg + mm;
                        want[(n * cc.m + m) * osz + (od * g.out[1] + oh) * g.out[2] + ow] +=
                            x[(n * cc.c + c) * isz + i] * w[(c * mg + mm) * kv + kk];
                    }
            }
    ais_tensor *tx = dt_tensor(AIS_DTYPE_F32, xs, nd, x), *tw = dt_tensor(AIS_DTYPE_F32, ws, nd, w);
    ais_tensor *tb = cc.bias ? dt_tensor(AIS_DTYPE_F32, AIS_SHAPE(cc.m), b) : NULL;
    ais_attrs *a = dt_attrs();
    set_attrs(a, &cc, true);
    const ais_tensor *in[] = {tx, tw, tb};
    ais_tensor *y = dt_run("ConvTranspose", a, in, cc.bias ? 3 : 2);
    assert_int_equal(ais_tensor_ndim(y), nd);
    for (size_t i = 0; i < nd; i++)
        assert_int_equal(ais_tensor_shape(y)[i], ys[i]);
    ais_test_assert_close_values(y, want, ny, 1e-5, 1e-5 * (double)(kv * cg + 1));
    ais_tensor_destroy(y);
    ais_tensor_destroy(tx);
    ais_tensor_destroy(tw);
    ais_tensor_destroy(tb);
    ais_attrs_destroy(a);
    free(x);
    free(w);
    free(b);
    free(want);
}

static void test_conv_transpose(void **state) {
    (void)state;
    run_convt((conv_case){
        2, 2, 3, 4, 1, {4, 5}, {3, 3}, {2, 2}, {1, 2}, {1, 0}, {0, 2}, NULL, true, {1, 0}, NULL});
    run_convt((conv_case){
        2, 2, 4, 6, 2, {3, 4}, {2, 3}, {2, 1}, ONE3, {0, 1}, {1, 0}, NULL, false, ZERO3, NULL});
    run_convt((conv_case){
        2, 1, 3, 3, 3, {5, 4}, {3, 3}, {1, 1}, ONE3, {1, 1}, {1, 1}, NULL, true, ZERO3, NULL});
    run_convt((conv_case){1, 2, 2, 3, 1, {6}, {4}, {3}, {2}, {2}, {1}, NULL, true, {2}, NULL});
    run_convt((conv_case){3,
                          1,
                          2,
                          2,
                          1,
                          {3, 2, 3},
                          {2, 3, 2},
                          {2, 1, 2},
                          {1, 1, 2},
                          {1, 0, 0},
                          {0, 1, 1},
                          NULL,
                          true,
                          {1, 0, 1},
                          NULL});
    static const int64_t os[2] = {10, 9};
    run_convt((conv_case){
        2, 1, 2, 3, 1, {4, 4}, {3, 3}, {2, 2}, ONE3, ZERO3, ZERO3, NULL, true, {1, 1}, os});
    run_convt((conv_case){2,
                          1,
                          2,
                          3,
                          1,
                          {4, 3},
                          {3, 2},
                          {2, 3},
                          ONE3,
                          ZERO3,
                          ZERO3,
                          "SAME_UPPER",
                          true,
                          ZERO3,
                          NULL});
    run_convt((conv_case){2,
                          1,
                          2,
                          3,
                          1,
                          {4, 3},
                          {3, 2},
                          {2, 3},
                          ONE3,
                          ZERO3,
                          ZERO3,
                          "SAME_LOWER",
                          false,
                          ZERO3,
                          NULL});
    run_convt((conv_case){
        2, 0, 2, 3, 1, {4, 3}, {3, 2}, {2, 3}, ONE3, ZERO3, ZERO3, NULL, true, ZERO3, NULL});
    AIS_ASSERT_OK(ais_set_num_threads(3));
    run_convt((conv_case){
        2, 3, 4, 4, 2, {5, 4}, {3, 3}, {2, 2}, ONE3, {1, 1}, {1, 1}, NULL, true, ZERO3, NULL});
    AIS_ASSERT_OK(ais_set_num_threads(1));
}

static void test_conv_transpose_errors(void **state) {
    (void)state;
    ais_tensor *x = ais_test_rand_f32(AIS_SHAPE(1, 3, 4, 4), -1, 1);
    ais_tensor *w = ais_test_rand_f32(AIS_SHAPE(2, 2, 3, 3), -1, 1);
    const ais_tensor *in[] = {x, w};
    dt_fails("ConvTranspose", NULL, in, 2, AIS_E_SHAPE, "channel mismatch");
    ais_tensor *w2 = ais_test_rand_f32(AIS_SHAPE(3, 2, 3, 3), -1, 1);
    ais_attrs *a = dt_attrs();
    dt_ints(a, "pads", (int64_t[]){5, 5, 5, 5}, 4);
    const ais_tensor *in2[] = {x, w2};
    dt_fails("ConvTranspose", a, in2, 2, AIS_E_SHAPE, "pads");
    ais_attrs_destroy(a);
    ais_tensor_destroy(x);
    ais_tensor_destroy(w);
    ais_tensor_destroy(w2);
}

/* ---- allocation failures ---- */

typedef struct {
    const char *op;
    ais_attrs *attrs;
    ais_tensor *in[3];
    ais_tensor *out;
} sweep_ctx;

static ais_status sweep_run(void *p) {
    sweep_ctx *s = p;
    return ais_op_run(s->op, s->attrs, (const ais_tensor *const *)s->in, 3, &s->out, 1);
}
static void test_oom(void **state) {
    (void)state;
    sweep_ctx s = {.op = "Conv", .attrs = dt_attrs()};
    dt_ints(s.attrs, "pads", (int64_t[]){1, 1, 1, 1}, 4);
    s.in[0] = ais_test_rand_f32(AIS_SHAPE(2, 3, 6, 5), -1, 1);
    s.in[1] = ais_test_rand_f32(AIS_SHAPE(4, 3, 3, 3), -1, 1);
    s.in[2] = ais_test_rand_f32(AIS_SHAPE(4), -1, 1);
    assert_true(AIS_TEST_OOM_SWEEP("Conv", sweep_run, &s, 20, AIS_OWN_TENSOR(&s.out)) >= 2);
    ais_tensor_destroy(s.in[1]);
    s.op = "ConvTranspose";
    s.in[1] = ais_test_rand_f32(AIS_SHAPE(3, 4, 3, 3), -1, 1);
    assert_true(AIS_TEST_OOM_SWEEP("ConvTranspose", sweep_run, &s, 20, AIS_OWN_TENSOR(&s.out)) >=
                2);
    for (int i = 0; i < 3; i++)
        ais_tensor_destroy(s.in[i]);
    ais_attrs_destroy(s.attrs);
}

/* The GEMM path's blocking: depths past one kc slice (256), output channels not a multiple of
 * the micro-kernel's rows, 1x1 convolutions read in place, groups, dilations, uneven pads, and
 * two and three threads splitting columns and rows or packing one B together. */
static void test_conv_gemm_blocks(void **state) {
    (void)state;
    for (int threads = 1; threads <= 3; threads++) {
        AIS_ASSERT_OK(ais_set_num_threads(threads));
        /* grouped 1x1 of 3 input channels a group (the pointwise kernel of few channels per
         * group, 5 rows a group: one block of 4 and a tail), batch 2 */
        run_conv((conv_case){2,
                             2,
                             12,
                             20,
                             4,
                             {9, 11},
                             {1, 1},
                             {1, 1},
                             ONE3,
                             ZERO3,
                             ZERO3,
                             NULL,
                             true,
                             ZERO3,
                             NULL});
        run_conv((conv_case){2,
                             1,
                             300,
                             37,
                             1,
                             {9, 11},
                             {1, 1},
                             {1, 1},
                             ONE3,
                             ZERO3,
                             ZERO3,
                             NULL,
                             true,
                             ZERO3,
                             NULL});
        run_conv((conv_case){2,
                             1,
                             40,
                             29,
                             1,
                             {13, 10},
                             {3, 3},
                             {1, 1},
                             ONE3,
                             {1, 1},
                             {1, 1},
                             NULL,
                             true,
                             ZERO3,
                             NULL});
        run_conv((conv_case){2,
                             2,
                             6,
                             10,
                             2,
                             {12, 9},
                             {3, 3},
                             {2, 2},
                             {2, 2},
                             {2, 0},
                             {1, 2},
                             NULL,
                             true,
                             ZERO3,
                             NULL});
        run_conv((conv_case){2,
                             1,
                             3,
                             64,
                             1,
                             {30, 30},
                             {7, 7},
                             {2, 2},
                             ONE3,
                             {3, 3},
                             {3, 3},
                             NULL,
                             true,
                             ZERO3,
                             NULL});
        run_conv((conv_case){2,
                             1,
                             512,
                             20,
                             1,
                             {3, 3},
                             {3, 3},
                             {1, 1},
                             ONE3,
                             {1, 1},
                             {1, 1},
                             NULL,
                             false,
                             ZERO3,
                             NULL});
        /* one image with few columns and many rows: equal runs of tiles, each packing the
         * column panels it covers (3x3 through im2col over three kc slices, and 1x1 read in
         * place) */
        run_conv((conv_case){2,
                             1,
                             64,
                             100,
                             1,
                             {7, 7},
                             {3, 3},
                             {1, 1},
                             ONE3,
                             {1, 1},
                             {1, 1},
                             NULL,
                             true,
                             ZERO3,
                             NULL});
        run_conv((conv_case){2,
                             1,
                             300,
                             128,
                             1,
                             {5, 5},
                             {1, 1},
                             {1, 1},
                             ONE3,
                             ZERO3,
                             ZERO3,
                             NULL,
                             false,
                             ZERO3,
                             NULL});
        /* 200 rows: at one thread 96-row blocks of A at AVX2 (ais__cg_task), at more runs of
         * column-major tiles; 49 columns, an edge tile of one column */
        run_conv((conv_case){
            2, 1, 64, 200, 1, {7, 7}, {1, 1}, {1, 1}, ONE3, ZERO3, ZERO3, NULL, true, ZERO3, NULL});
        /* one image, equal runs of column-major tiles (conv_gemm.c): MobileNetV2's
         * 1x1 projection at 14x14 (64 rows: 5 row panels of 14 on AVX-512, 11 of 6 on AVX2,
         * an edge column panel), and two row panels of 3x3 over 7x7 */
        run_conv((conv_case){2,
                             1,
                             384,
                             64,
                             1,
                             {14, 14},
                             {1, 1},
                             {1, 1},
                             ONE3,
                             ZERO3,
                             ZERO3,
                             NULL,
                             true,
                             ZERO3,
                             NULL});
        run_conv((conv_case){2,
                             1,
                             64,
                             20,
                             1,
                             {7, 7},
                             {3, 3},
                             {1, 1},
                             ONE3,
                             {1, 1},
                             {1, 1},
                             NULL,
                             true,
                             ZERO3,
                             NULL});
        /* pointwise of few input channels (conv_pw_small at the AVX2 level): 16 -> 21 on
         * 23x23, two images, split over the threads */
        run_conv((conv_case){2,
                             2,
                             16,
                             21,
                             1,
                             {23, 23},
                             {1, 1},
                             {1, 1},
                             ONE3,
                             ZERO3,
                             ZERO3,
                             NULL,
                             true,
                             ZERO3,
                             NULL});
        /* depthwise: multiplier 2, 5x5 stride 2; 3x3 on 14x14 with 17 channels */
        run_conv((conv_case){2,
                             2,
                             4,
                             8,
                             4,
                             {11, 13},
                             {5, 5},
                             {2, 2},
                             ONE3,
                             {2, 1},
                             {1, 2},
                             NULL,
                             true,
                             ZERO3,
                             NULL});
        run_conv((conv_case){2,
                             1,
                             17,
                             17,
                             17,
                             {14, 14},
                             {3, 3},
                             {1, 1},
                             ONE3,
                             {1, 1},
                             {1, 1},
                             NULL,
                             true,
                             ZERO3,
                             NULL});
        run_conv((conv_case){2,
                             1,
                             5,
                             5,
                             5,
                             {9, 20},
                             {3, 3},
                             {2, 2},
                             {2, 2},
                             {2, 2},
                             {0, 1},
                             NULL,
                             false,
                             ZERO3,
                             NULL});
        run_conv(
            (conv_case){1, 1, 300, 9, 1, {50}, {3}, {1}, ONE3, {1}, {1}, NULL, true, ZERO3, NULL});
        /* 1x1 with strides, unpadded (ResNet's downsampling shortcuts; conv_gemm.c's strided
         * packing): two kc slices and output rows that cross the column panels; one image with
         * many rows (runs of tiles at more threads), uneven strides and a dilation that a 1x1
         * ignores; 3-D and 1-D; and an end pad, which keeps the general im2col packing */
        run_conv((conv_case){2,
                             2,
                             300,
                             37,
                             1,
                             {13, 11},
                             {1, 1},
                             {2, 2},
                             ONE3,
                             ZERO3,
                             ZERO3,
                             NULL,
                             true,
                             ZERO3,
                             NULL});
        run_conv((conv_case){2,
                             1,
                             64,
                             200,
                             1,
                             {14, 20},
                             {1, 1},
                             {2, 3},
                             {2, 2},
                             ZERO3,
                             ZERO3,
                             NULL,
                             true,
                             ZERO3,
                             NULL});
        run_conv((conv_case){3,
                             2,
                             20,
                             9,
                             1,
                             {5, 6, 7},
                             {1, 1, 1},
                             {2, 1, 3},
                             ONE3,
                             ZERO3,
                             ZERO3,
                             NULL,
                             false,
                             ZERO3,
                             NULL});
        run_conv(
            (conv_case){1, 1, 17, 5, 1, {40}, {1}, {3}, ONE3, {0}, {0}, NULL, true, ZERO3, NULL});
        run_conv((conv_case){
            2, 1, 24, 13, 1, {9, 9}, {1, 1}, {2, 2}, ONE3, ZERO3, {1, 0}, NULL, true, ZERO3, NULL});
    }
    AIS_ASSERT_OK(ais_set_num_threads(1));
}

/* FusedConv (eager, so the weights are packed per call) against Conv and the activation in
 * double: the activations in the kernels' stores (Relu, Clip, LeakyRelu) and one after them
 * (Sigmoid), on the GEMM path, the depthwise one, and a pointwise (1x1) convolution deeper
 * than one k slice of the GEMM (300 > kc) on a 7x7 plane (edge tiles of the micro-kernel). */
static void test_fused_conv(void **state) {
    (void)state;
    const ais__op_def *def = ais__op_find("com.microsoft", "FusedConv", 1);
    assert_non_null(def);
    static const char *const acts[] = {"Relu", "Clip", "LeakyRelu", "Sigmoid"};
    for (int shape = 0; shape < 3; shape++)
        for (size_t a = 0; a < AIS__ARRAY_LEN(acts); a++) {
            bool dw = shape == 1, pw = shape == 2;
            int64_t c = dw ? 19 : pw ? 300 : 5, m = dw ? 19 : pw ? 33 : 21, k = pw ? 1 : 3;
            ais_tensor *x = pw ? ais_test_rand_f32(AIS_SHAPE(1, c, 7, 7), -0.2f, 0.2f)
                               : ais_test_rand_f32(AIS_SHAPE(1, c, 15, 17), -1, 1);
            ais_tensor *w = ais_test_rand_f32(AIS_SHAPE(m, dw ? 1 : c, k, k), -1, 1);
            ais_tensor *b = ais_test_rand_f32(AIS_SHAPE(m), -1, 1);
            ais_attrs *at = dt_attrs();
            dt_ints(at, "pads", pw ? (int64_t[]){0, 0, 0, 0} : (int64_t[]){1, 0, 1, 1}, 4);
            dt_ints(at, "strides", (int64_t[]){dw ? 2 : 1, dw ? 2 : 1}, 2);
            AIS_ASSERT_OK(ais_attrs_set_int(at, "group", dw ? c : 1));
            const ais_tensor *in[3] = {x, w, b};
            ais_tensor *plain = dt_run("Conv", at, in, 3);
            AIS_ASSERT_OK(ais_attrs_set_string(at, "activation", acts[a]));
            float params[2] = {-0.3f, 0.4f};
            if (a == 1) AIS_ASSERT_OK(ais_attrs_set_floats(at, "activation_params", params, 2));
            if (a == 2) AIS_ASSERT_OK(ais_attrs_set_floats(at, "activation_params", params + 1, 1));
            ais_tensor *y[1] = {NULL};
            ais__op_ctx ctx = {.op_type = "FusedConv", .node_name = "", .opset = 1, .attrs = at};
            AIS_ASSERT_OK(ais__op_invoke(def, &ctx, in, 3, y, 1));
            ais__op_ctx_release(&ctx);
            assert_int_equal(y[0]->numel, plain->numel);
            const float *p = plain->data, *q = y[0]->data;
            const char *path = dw ? "depthwise" : pw ? "pointwise" : "gemm";
            for (size_t i = 0; i < plain->numel; i++) {
                double v = p[i];
                v = a == 0   ? (v < 0 ? 0 : v)
                    : a == 1 ? fmin(fmax(v, -0.3), 0.4)
                    : a == 2 ? (v < 0 ? 0.4 * v : v)
                             : 1.0 / (1.0 + exp(-v));
                if (fabs(q[i] - v) > 1e-5 * (1 + fabs(v)))
                    fail_msg("%s %s [%zu]: %g, want %g", path, acts[a], i, (double)q[i], v);
            }
            ais_tensor_destroy(y[0]);
            ais_tensor_destroy(plain);
            ais_tensor_destroy(x);
            ais_tensor_destroy(w);
            ais_tensor_destroy(b);
            ais_attrs_destroy(at);
        }
}

/* FusedConv's residual Z on the GEMM path (conv_gemm.c copies each tile's Z into Y before the
 * first k slice, prefetching the tile two row panels on) against a double sum, at one thread and
 * two (runs of tiles): 1x1 stride 1 over two k slices, 1x1 stride 2, and a layer of many row
 * panels on a 7x7 plane (the prefetch stops at the last row; a one-column edge tile). */
static void test_fused_conv_residual(void **state) {
    (void)state;
    const ais__op_def *def = ais__op_find("com.microsoft", "FusedConv", 1);
    assert_non_null(def);
    static const struct {
        int64_t c, m, h, w, s;
    } cases[] = {{300, 40, 20, 20, 1}, {64, 50, 14, 13, 2}, {30, 100, 7, 7, 1}};
    ais__pool *pool = NULL;
    AIS_ASSERT_OK(ais__pool_create(2, &pool));
    for (size_t i = 0; i < AIS__ARRAY_LEN(cases); i++)
        for (int threads = 1; threads <= 2; threads++) {
            const int64_t c = cases[i].c, m = cases[i].m, s = cases[i].s;
            const int64_t oh = (cases[i].h - 1) / s + 1, ow = (cases[i].w - 1) / s + 1;
            ais_tensor *x = ais_test_rand_f32(AIS_SHAPE(1, c, cases[i].h, cases[i].w), -1, 1);
            ais_tensor *w = ais_test_rand_f32(AIS_SHAPE(m, c, 1, 1), -1, 1);
            ais_tensor *b = ais_test_rand_f32(AIS_SHAPE(m), -1, 1);
            ais_tensor *z = ais_test_rand_f32(AIS_SHAPE(1, m, oh, ow), -4, 4);
            ais_attrs *at = dt_attrs();
            dt_ints(at, "strides", (int64_t[]){s, s}, 2);
            AIS_ASSERT_OK(ais_attrs_set_string(at, "activation", "Relu"));
            const ais_tensor *in[4] = {x, w, b, z};
            ais_tensor *y[1] = {NULL};
            ais__op_ctx ctx = {.op_type = "FusedConv",
                               .node_name = "",
                               .opset = 1,
                               .attrs = at,
                               .pool = threads > 1 ? pool : NULL};
            AIS_ASSERT_OK(ais__op_invoke(def, &ctx, in, 4, y, 1));
            ais__op_ctx_release(&ctx);
            const float *xd = x->data, *wd = w->data, *bd = b->data, *zd = z->data, *q = y[0]->data;
            assert_int_equal(y[0]->numel, (size_t)(m * oh * ow));
            for (int64_t co = 0; co < m; co++)
                for (int64_t o = 0; o < oh * ow; o++) {
                    const int64_t pos = o / ow * s * cases[i].w + o % ow * s;
                    double v = bd[co] + zd[co * oh * ow + o], mag = fabs(v);
                    for (int64_t ci = 0; ci < c; ci++) {
                        double t = (double)wd[co * c + ci] * xd[ci * cases[i].h * cases[i].w + pos];
                        v += t;
                        mag += fabs(t);
                    }
                    v = v < 0 ? 0 : v;
                    if (fabs(q[co * oh * ow + o] - v) > 1e-6 * (1 + mag))
                        fail_msg("case %zu threads %d [%lld, %lld]: %g, want %g", i, threads,
                                 (long long)co, (long long)o, (double)q[co * oh * ow + o], v);
                }
            ais_tensor_destroy(y[0]);
            ais_tensor_destroy(x);
            ais_tensor_destroy(w);
            ais_tensor_destroy(b);
            ais_tensor_destroy(z);
            ais_attrs_destroy(at);
        }
    ais__pool_destroy(pool);
}

/* Pads and dilations at the attributes' cap (INT32_MAX) with a 1x1 output: the depthwise and
 * pooling plane kernels sized their padded plane as a product overflowing int64 (UBSan: signed
 * overflow, which the sanitizer build aborts on; then a buffer smaller than the kernels write).
 * AIS_E_LIMIT instead, or the right shape from the direct loops. */
static void test_huge_pads(void **state) {
    (void)state;
    ais_tensor *x = ais_test_rand_f32((int64_t[]){1, 2, 1, 1}, 4, -1.f, 1.f);
    ais_tensor *w = ais_test_rand_f32((int64_t[]){2, 1, 3, 3}, 4, -1.f, 1.f);
    int64_t big = INT32_MAX;
    static const char *const ops[] = {"Conv", "MaxPool", "AveragePool"};
    for (size_t i = 0; i < AIS__ARRAY_LEN(ops); i++) {
        bool conv = i == 0;
        ais_attrs *a = NULL;
        AIS_ASSERT_OK(ais_attrs_create(&a));
        if (conv) AIS_ASSERT_OK(ais_attrs_set_int(a, "group", 2));
        if (!conv) AIS_ASSERT_OK(ais_attrs_set_ints(a, "kernel_shape", (int64_t[]){3, 3}, 2));
        AIS_ASSERT_OK(ais_attrs_set_ints(a, "pads", (int64_t[]){big, big, big, big}, 4));
        if (i != 2) AIS_ASSERT_OK(ais_attrs_set_ints(a, "dilations", (int64_t[]){big, big}, 2));
        const ais_tensor *in[2] = {x, w};
        const ais__op_def *def = ais__op_find("", ops[i], 22);
        assert_non_null(def);
        ais__op_ctx ctx = {.op_type = ops[i], .node_name = "", .opset = 22, .attrs = a};
        ais_tensor *y = NULL;
        ais_status st = ais__op_invoke(def, &ctx, in, conv ? 2 : 1, &y, 1);
        ais__op_ctx_release(&ctx);
        /* the plane kernels refuse it; levels without them (AIS_CPU_ISA=scalar) take the
         * direct loops, which compute the one output of padding */
        if (st != AIS_OK) {
            assert_int_equal(st, AIS_E_LIMIT);
        } else {
            assert_int_equal(y->ndim, 4);
            assert_int_equal(y->numel, 2);
        }
        ais_tensor_destroy(y);
        ais_attrs_destroy(a);
    }
    ais_tensor_destroy(x);
    ais_tensor_destroy(w);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_conv_2d),
        cmocka_unit_test(test_conv_1d_3d),
        cmocka_unit_test(test_conv_large_and_parallel),
        cmocka_unit_test(test_conv_errors),
        cmocka_unit_test(test_conv_transpose),
        cmocka_unit_test(test_conv_transpose_errors),
        cmocka_unit_test(test_oom),
        cmocka_unit_test(test_conv_gemm_blocks),
        cmocka_unit_test(test_fused_conv),
        cmocka_unit_test(test_fused_conv_residual),
        cmocka_unit_test(test_huge_pads),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
