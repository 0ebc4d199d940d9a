/* test_ops_pool.c - MaxPool (with Indices), AveragePool, LpPool and the global pools against
 * direct loops: 1-D to 3-D, ceil_mode, count_include_pad, dilations, auto_pad, errors, OOM. */
#include "dense_test_ref.h"

enum { P_MAX, P_AVG, P_LP };

typedef struct {
    int kind;
    size_t nsp;
    int64_t n, c;
    int64_t in[3], k[3], s[3], d[3], pb[3], pe[3];
    int ceil, include_pad, col_major;
    int64_t p;
} pool_case;

static void run_pool(pool_case pc) {
    int64_t out[3] = {1, 1, 1}, I[3] = {1, 1, 1}, K[3] = {1, 1, 1}, S[3] = {1, 1, 1},
            D[3] = {1, 1, 1}, PB[3] = {0, 0, 0}, O[3] = {1, 1, 1};
    size_t off = 3 - pc.nsp;
    for (size_t i = 0; i < pc.nsp; i++) {
        int64_t dk = (pc.k[i] - 1) * pc.d[i] + 1, span = pc.in[i] + pc.pb[i] + pc.pe[i] - dk;
        out[i] = pc.ceil ? (int64_t)ceil((double)span / (double)pc.s[i]) + 1 : span / pc.s[i] + 1;
        if (pc.ceil && (out[i] - 1) * pc.s[i] >= pc.in[i] + pc.pb[i]) out[i]--;
        I[off + i] = pc.in[i];
        K[off + i] = pc.k[i];
        S[off + i] = pc.s[i];
        D[off + i] = pc.d[i];
        PB[off + i] = pc.pb[i];
        O[off + i] = out[i];
    }
    int64_t xs[5] = {pc.n, pc.c}, ys[5] = {pc.n, pc.c};
    for (size_t i = 0; i < pc.nsp; i++) {
        xs[2 + i] = pc.in[i];
        ys[2 + i] = out[i];
    }
    size_t nd = 2 + pc.nsp, nx = dt_numel(xs, nd), ny = dt_numel(ys, nd);
    double *x = dt_rand(AIS_DTYPE_F32, nx, -2, 2);
    double *want = calloc(ny + 1, sizeof(double)), *widx = calloc(ny + 1, sizeof(double));
    int64_t isz = I[0] * I[1] * I[2], osz = O[0] * O[1] * O[2];
    for (int64_t pl = 0; pl < pc.n * pc.c; pl++)
        for (int64_t o = 0; o < osz; o++) {
            int64_t oc[3] = {o / (O[1] * O[2]), (o / O[2]) % O[1], o % O[2]};
            double acc = pc.kind == P_MAX ? -INFINITY : 0;
            int64_t cnt = 0, arg = -1;
            for (int64_t kd = 0; kd < K[0]; kd++)
                for (int64_t kh = 0; kh < K[1]; kh++)
                    for (int64_t kw = 0; kw < K[2]; kw++) {
                        int64_t kc[3] = {kd, kh, kw}, ic[3];
                        bool ok = true;
                        for (int a = 0; a < 3; a++) {
                            ic[a] = oc[a] * S[a] - PB[a] + kc[a] * D[a];
                            ok = ok && ic[a] >= 0 && ic[a] < I[a];
                        }
                        if (!ok) continue;
                        int64_t flat = (ic[0] * I[1] + ic[1]) * I[2] + ic[2];
                        double v = x[pl * isz + flat];
                        cnt++;
                        if (pc.kind == P_MAX && v > acc) {
                            acc = v;
                            /* column-major over the spatial axes for storage_order 1 */
                            arg = pc.col_major ? ic[0] + ic[1] * I[0] + ic[2] * I[0] * I[1] : flat;
                        } else if (pc.kind == P_AVG) {
                            acc += v;
                        } else if (pc.kind == P_LP) {
                            acc += pow(fabs(v), (double)pc.p);
                        }
                    }
            if (pc.kind == P_AVG) acc /= pc.include_pad ? (double)(K[0] * K[1] * K[2]) : cnt;
            if (pc.kind == P_LP) acc = pow(acc, 1.0 / (double)pc.p);
            want[pl * osz + o] = acc;
            widx[pl * osz + o] = (double)(pl * isz + arg);
        }
    ais_tensor *tx = dt_tensor(AIS_DTYPE_F32, xs, nd, x);
    ais_attrs *a = dt_attrs();
    dt_ints(a, "kernel_shape", pc.k, pc.nsp);
    dt_ints(a, "strides", pc.s, pc.nsp);
    dt_ints(a, "dilations", pc.d, pc.nsp);
    int64_t pads[6];
    for (size_t i = 0; i < pc.nsp; i++) {
        pads[i] = pc.pb[i];
        pads[pc.nsp + i] = pc.pe[i];
    }
    dt_ints(a, "pads", pads, 2 * pc.nsp);
    AIS_ASSERT_OK(ais_attrs_set_int(a, "ceil_mode", pc.ceil));
    AIS_ASSERT_OK(ais_attrs_set_int(a, "count_include_pad", pc.include_pad));
    AIS_ASSERT_OK(ais_attrs_set_int(a, "storage_order", pc.col_major));
    if (pc.kind == P_LP) AIS_ASSERT_OK(ais_attrs_set_int(a, "p", pc.p));
    const char *op = pc.kind == P_MAX ? "MaxPool" : pc.kind == P_AVG ? "AveragePool" : "LpPool";
    ais_tensor *outs[2] = {NULL, NULL};
    const ais_tensor *in[] = {tx};
    AIS_ASSERT_OK(ais_op_run(op, a, in, 1, outs, pc.kind == P_MAX ? 2 : 1));
    assert_int_equal(ais_tensor_ndim(outs[0]), nd);
    for (size_t i = 0; i < nd; i++)
        assert_int_equal(ais_tensor_shape(outs[0])[i], ys[i]);
    ais_test_assert_close_values(outs[0], want, ny, 1e-5, 1e-5);
    if (outs[1]) {
        assert_int_equal(ais_tensor_dtype(outs[1]), AIS_DTYPE_I64);
        ais_test_assert_close_values(outs[1], widx, ny, 0, 0);
    }
    ais_tensor_destroy(outs[0]);
    ais_tensor_destroy(outs[1]);
    ais_tensor_destroy(tx);
    ais_attrs_destroy(a);
    free(x);
    free(want);
    free(widx);
}

#define ONE3                                                                                       \
    { 1, 1, 1 }
#define ZERO3                                                                                      \
    { 0, 0, 0 }

static void test_maxpool(void **state) {
    (void)state;
    run_pool((pool_case){P_MAX, 2, 2, 3, {7, 5}, {3, 2}, {2, 2}, ONE3, {1, 0}, {0, 1}, 0, 0, 0, 0});
    run_pool(
        (pool_case){P_MAX, 2, 2, 3, {7, 5}, {3, 2}, {2, 2}, {2, 1}, {1, 0}, {1, 1}, 1, 0, 0, 0});
    run_pool((pool_case){P_MAX, 2, 1, 2, {7, 5}, {2, 2}, {2, 2}, ONE3, ZERO3, ZERO3, 1, 0, 1, 0});
    run_pool((pool_case){P_MAX, 1, 2, 2, {9}, {3}, {2}, {2}, {1}, {2}, 1, 0, 0, 0});
    run_pool((pool_case){
        P_MAX, 3, 1, 2, {4, 5, 3}, {2, 3, 2}, {2, 1, 2}, ONE3, {0, 1, 1}, {1, 1, 0}, 0, 0, 1, 0});
    run_pool((pool_case){P_MAX, 2, 0, 3, {7, 5}, {3, 2}, {2, 2}, ONE3, ZERO3, ZERO3, 0, 0, 0, 0});
    AIS_ASSERT_OK(ais_set_num_threads(3));
    run_pool((pool_case){P_MAX, 2, 4, 5, {9, 8}, {3, 3}, {2, 2}, ONE3, {1, 1}, {1, 1}, 1, 0, 0, 0});
    AIS_ASSERT_OK(ais_set_num_threads(1));
}

/* MaxPool on int8 and uint8 (opset 12): exact maxima over windows with padding, on random bytes
 * that include the extremes; other pools refuse them. */
static void test_maxpool_int8(void **state) {
    (void)state;
    const ais_dtype dts[2] = {AIS_DTYPE_I8, AIS_DTYPE_U8};
    for (int t = 0; t < 2; t++) {
        int64_t H = 7, W = 6, C = 3, KH = 3, KW = 2, SH = 2, SW = 1, PT = 1, PL = 0, PB = 1, PR = 1;
        int64_t OH = (H + PT + PB - KH) / SH + 1, OW = (W + PL + PR - KW) / SW + 1;
        double x[3 * 7 * 6], want[3 * 4 * 6];
        double lo = t == 0 ? -128 : 0, hi = t == 0 ? 127 : 255;
        for (int i = 0; i < C * H * W; i++)
            x[i] = (double)ais_test_randint((int64_t)lo, (int64_t)hi);
        x[0] = lo;
        x[5] = hi;
        for (int64_t c = 0; c < C; c++)
            for (int64_t oh = 0; oh < OH; oh++)
                for (int64_t ow = 0; ow < OW; ow++) {
                    double m = -INFINITY;
                    for (int64_t kh = 0; kh < KH; kh++)
                        for (int64_t kw = 0; kw < KW; kw++) {
                            int64_t ih = oh * SH - PT + kh, iw = ow * SW - PL + kw;
                            if (ih < 0 || ih >= H || iw < 0 || iw >= W) continue;
                            m = fmax(m, x[(c * H + ih) * W + iw]);
                        }
                    want[(c * OH + oh) * OW + ow] = m;
                }
        ais_tensor *tx = dt_tensor(dts[t], AIS_SHAPE(1, C, H, W), x);
        ais_attrs *a = dt_attrs();
        dt_ints(a, "kernel_shape", (int64_t[]){KH, KW}, 2);
        dt_ints(a, "strides", (int64_t[]){SH, SW}, 2);
        dt_ints(a, "pads", (int64_t[]){PT, PL, PB, PR}, 4);
        const ais_tensor *in[] = {tx};
        ais_tensor *y = NULL;
        AIS_ASSERT_OK(ais_op_run("MaxPool", a, in, 1, &y, 1));
        assert_int_equal(ais_tensor_dtype(y), dts[t]);
        assert_int_equal(ais_tensor_shape(y)[2], OH);
        assert_int_equal(ais_tensor_shape(y)[3], OW);
        ais_test_assert_close_values(y, want, (size_t)(C * OH * OW), 0, 0);
        ais_tensor_destroy(y);
        dt_fails("AveragePool", a, in, 1, AIS_E_DTYPE, ais_dtype_name(dts[t]));
        ais_attrs_destroy(a);
        ais_tensor_destroy(tx);
    }
}

static void test_avgpool_lppool(void **state) {
    (void)state;
    for (int inc = 0; inc < 2; inc++)
        for (int cm = 0; cm < 2; cm++) {
            run_pool((pool_case){
                P_AVG, 2, 2, 3, {7, 5}, {3, 2}, {2, 2}, ONE3, {1, 0}, {1, 1}, cm, inc, 0, 0});
            run_pool((pool_case){P_AVG, 1, 1, 2, {8}, {3}, {3}, {2}, {2}, {1}, cm, inc, 0, 0});
            run_pool((pool_case){P_AVG,
                                 3,
                                 1,
                                 2,
                                 {4, 5, 3},
                                 {2, 3, 2},
                                 {2, 2, 1},
                                 ONE3,
                                 {1, 1, 0},
                                 {0, 1, 1},
                                 cm,
                                 inc,
                                 0,
                                 0});
        }
    run_pool((pool_case){P_LP, 2, 2, 3, {7, 5}, {3, 2}, {2, 2}, ONE3, {1, 0}, {0, 1}, 0, 0, 0, 2});
    run_pool((pool_case){P_LP, 1, 1, 2, {8}, {3}, {2}, ONE3, ZERO3, ZERO3, 1, 0, 0, 3});
}

/* auto_pad SAME_UPPER / SAME_LOWER / VALID give the same results as the explicit pads. */
/* The f32 2-D pools of CNNs, which run through lib/cpu's plane kernels at the AVX2 and AVX-512
 * levels: SqueezeNet's ceil-mode 3x3 stride-2 max pool, Inception's padded 3x3 stride-1 average,
 * DenseNet's 2x2 stride-2 average, and strides 3 and dilations, on planes wider than a vector,
 * on one and two threads. */
static void test_cnn_pools(void **state) {
    (void)state;
    for (int threads = 1; threads <= 2; threads++) {
        AIS_ASSERT_OK(ais_set_num_threads(threads));
        for (int inc = 0; inc < 2; inc++) {
            run_pool((pool_case){
                P_MAX, 2, 1, 5, {56, 57}, {3, 3}, {2, 2}, ONE3, ZERO3, ZERO3, 1, inc, 0, 0});
            run_pool((pool_case){
                P_AVG, 2, 1, 4, {28, 29}, {3, 3}, {1, 1}, ONE3, {1, 1}, {1, 1}, 0, inc, 0, 0});
            run_pool((pool_case){
                P_AVG, 2, 2, 3, {30, 17}, {2, 2}, {2, 2}, ONE3, ZERO3, ZERO3, 0, inc, 0, 0});
            /* the windows dwconv_planes takes in place: 3x3 stride 2 (ShuffleNet's shortcut),
             * with ceil_mode's partial last window, and 5x5 stride 2 with uneven pads */
            run_pool((pool_case){
                P_AVG, 2, 1, 7, {28, 28}, {3, 3}, {2, 2}, ONE3, {1, 1}, {1, 1}, 0, inc, 0, 0});
            run_pool((pool_case){
                P_AVG, 2, 2, 3, {13, 16}, {3, 3}, {2, 2}, ONE3, {0, 1}, {1, 0}, 1, inc, 0, 0});
            run_pool((pool_case){
                P_AVG, 2, 1, 3, {17, 12}, {5, 5}, {2, 2}, ONE3, {2, 1}, {0, 2}, 1, inc, 0, 0});
            run_pool((pool_case){
                P_AVG, 2, 1, 3, {31, 40}, {3, 5}, {3, 2}, {2, 1}, {2, 1}, {0, 2}, 1, inc, 0, 0});
            run_pool((pool_case){
                P_MAX, 2, 1, 3, {31, 40}, {3, 5}, {3, 2}, {2, 1}, {2, 1}, {0, 2}, 1, inc, 0, 0});
        }
    }
    AIS_ASSERT_OK(ais_set_num_threads(1));
}

static void test_pool_auto_pad(void **state) {
    (void)state;
    const char *modes[3] = {"SAME_UPPER", "SAME_LOWER", "VALID"};
    ais_tensor *x = ais_test_rand_f32(AIS_SHAPE(1, 2, 7, 6), -1, 1);
    for (int m = 0; m < 3; m++) {
        int64_t k[2] = {3, 4}, s[2] = {2, 3}, pads[4] = {0, 0, 0, 0};
        for (int i = 0; i < 2 && m < 2; i++) {
            int64_t in = ais_tensor_shape(x)[2 + i], out = (in + s[i] - 1) / s[i];
            int64_t total = (out - 1) * s[i] + k[i] - in;
            if (total < 0) total = 0;
            pads[i] = m == 0 ? total / 2 : total - total / 2;
            pads[2 + i] = total - pads[i];
        }
        ais_attrs *a = dt_attrs(), *b = dt_attrs();
        dt_ints(a, "kernel_shape", k, 2);
        dt_ints(a, "strides", s, 2);
        AIS_ASSERT_OK(ais_attrs_set_string(a, "auto_pad", modes[m]));
        AIS_ASSERT_OK(ais_attrs_set_int(a, "count_include_pad", 1));
        dt_ints(b, "kernel_shape", k, 2);
        dt_ints(b, "strides", s, 2);
        dt_ints(b, "pads", pads, 4);
        AIS_ASSERT_OK(ais_attrs_set_int(b, "count_include_pad", 1));
        const ais_tensor *in[] = {x};
        ais_tensor *ya = dt_run("AveragePool", a, in, 1), *yb = dt_run("AveragePool", b, in, 1);
        ais_test_assert_close(ya, yb, 0, 0);
        if (m == 0) assert_int_equal(ais_tensor_shape(ya)[3], 2);
        ais_tensor_destroy(ya);
        ais_tensor_destroy(yb);
        ais_attrs_destroy(a);
        ais_attrs_destroy(b);
    }
    ais_tensor_destroy(x);
}

/* GlobalAveragePool over planes longer than one block of the vector sum (1024) and not a multiple
 * of it, with a large common offset: the mean within a few float roundings of double's. */
static void test_global_avg_long_planes(void **state) {
    (void)state;
    enum { C = 3, PLANE = 4099 };
    ais_tensor *x = ais_test_rand_f32(AIS_SHAPE(1, C, PLANE, 1), 99, 101);
    const float *xv = ais_tensor_data(x);
    double av[C];
    for (int c = 0; c < C; c++) {
        double s = 0;
        for (int i = 0; i < PLANE; i++)
            s += xv[c * PLANE + i];
        av[c] = s / PLANE;
    }
    const ais_tensor *in[] = {x};
    ais_tensor *y = dt_run("GlobalAveragePool", NULL, in, 1);
    ais_test_assert_close_values(y, av, C, 1e-6, 0);
    ais_tensor_destroy(y);
    ais_tensor_destroy(x);
}

static void test_global_pools(void **state) {
    (void)state;
    ais_tensor *x = ais_test_rand_f32(AIS_SHAPE(2, 3, 4, 5, 2), -1, 1);
    const float *xv = ais_tensor_data(x);
    double mx[6], av[6], lp[6];
    for (int pl = 0; pl < 6; pl++) {
        mx[pl] = -INFINITY;
        av[pl] = lp[pl] = 0;
        for (int i = 0; i < 40; i++) {
            double v = xv[pl * 40 + i];
            mx[pl] = v > mx[pl] ? v : mx[pl];
            av[pl] += v / 40;
            lp[pl] += v * v;
        }
        lp[pl] = sqrt(lp[pl]);
    }
    const ais_tensor *in[] = {x};
    ais_tensor *y = dt_run("GlobalMaxPool", NULL, in, 1);
    assert_int_equal(ais_tensor_ndim(y), 5);
    assert_int_equal(ais_tensor_shape(y)[4], 1);
    ais_test_assert_close_values(y, mx, 6, 0, 0);
    ais_tensor_destroy(y);
    y = dt_run("GlobalAveragePool", NULL, in, 1);
    ais_test_assert_close_values(y, av, 6, 1e-6, 1e-6);
    ais_tensor_destroy(y);
    y = dt_run("GlobalLpPool", NULL, in, 1);
    ais_test_assert_close_values(y, lp, 6, 1e-6, 1e-6);
    ais_tensor_destroy(y);
    /* f16 goes through f32 */
    double hv[12];
    for (int i = 0; i < 12; i++)
        hv[i] = i * 0.25 - 1;
    ais_tensor *h = dt_tensor(AIS_DTYPE_F16, AIS_SHAPE(1, 2, 6), hv);
    const ais_tensor *hin[] = {h};
    y = dt_run("GlobalAveragePool", NULL, hin, 1);
    assert_int_equal(ais_tensor_dtype(y), AIS_DTYPE_F16);
    double hw[2] = {(hv[0] + hv[5]) / 2, (hv[6] + hv[11]) / 2};
    ais_test_assert_close_values(y, hw, 2, 1e-3, 1e-3);
    ais_tensor_destroy(y);
    ais_tensor_destroy(h);
    ais_tensor_destroy(x);
}

static void test_pool_errors(void **state) {
    (void)state;
    ais_tensor *x = ais_test_rand_f32(AIS_SHAPE(1, 2, 5, 5), -1, 1);
    const ais_tensor *in[] = {x};
    dt_fails("MaxPool", NULL, in, 1, AIS_E_INVALID_ARGUMENT, "kernel_shape");
    ais_attrs *a = dt_attrs();
    dt_ints(a, "kernel_shape", (int64_t[]){3}, 1);
    dt_fails("MaxPool", a, in, 1, AIS_E_INVALID_ARGUMENT, "kernel_shape");
    ais_attrs_destroy(a);
    a = dt_attrs();
    dt_ints(a, "kernel_shape", (int64_t[]){6, 3}, 2);
    dt_fails("AveragePool", a, in, 1, AIS_E_SHAPE, "larger than the padded input");
    ais_attrs_destroy(a);
    a = dt_attrs();
    dt_ints(a, "kernel_shape", (int64_t[]){0, 3}, 2);
    dt_fails("AveragePool", a, in, 1, AIS_E_INVALID_ARGUMENT, "kernel_shape");
    ais_attrs_destroy(a);
    double v[4] = {0};
    ais_tensor *xi = dt_tensor(AIS_DTYPE_I32, AIS_SHAPE(1, 1, 4), v);
    const ais_tensor *in2[] = {xi};
    dt_fails("GlobalMaxPool", NULL, in2, 1, AIS_E_DTYPE, "i32");
    ais_tensor *x2 = ais_test_rand_f32(AIS_SHAPE(2, 3), -1, 1);
    const ais_tensor *in3[] = {x2};
    dt_fails("GlobalAveragePool", NULL, in3, 1, AIS_E_SHAPE, "rank");
    ais_tensor_destroy(x);
    ais_tensor_destroy(xi);
    ais_tensor_destroy(x2);
}

typedef struct {
    ais_attrs *attrs;
    ais_tensor *x, *out[2];
} sweep_ctx;

static ais_status sweep_run(void *p) {
    sweep_ctx *s = p;
    const ais_tensor *in[] = {s->x};
    return ais_op_run("MaxPool", s->attrs, in, 1, s->out, 2);
}
static void test_oom(void **state) {
    (void)state;
    sweep_ctx s = {.attrs = dt_attrs(), .x = ais_test_rand_f32(AIS_SHAPE(2, 3, 6, 5), -1, 1)};
    dt_ints(s.attrs, "kernel_shape", (int64_t[]){2, 2}, 2);
    assert_true(AIS_TEST_OOM_SWEEP("MaxPool", sweep_run, &s, 20, AIS_OWN_TENSORS(s.out)) >= 2);
    ais_tensor_destroy(s.x);
    ais_attrs_destroy(s.attrs);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_maxpool),
        cmocka_unit_test(test_maxpool_int8),
        cmocka_unit_test(test_avgpool_lppool),
        cmocka_unit_test(test_cnn_pools),
        cmocka_unit_test(test_pool_auto_pad),
        cmocka_unit_test(test_global_pools),
        cmocka_unit_test(test_global_avg_long_planes),
        cmocka_unit_test(test_pool_errors),
        cmocka_unit_test(test_oom),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
