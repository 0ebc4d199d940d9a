/*
 * test_ops_qlinear_gemm.c - the integer operators on the int8 GEMM (lib/ops/qlinear_gemm.c):
 * QLinearConv, ConvInteger, QLinearMatMul, MatMulInteger, QGemm, DynamicQuantizeMatMul,
 * MatMulIntegerToFloat and QAttention on random shapes (groups, depthwise (the direct kernel, 1-D
 * and 2-D, channel multipliers 1-2), strides, pads, dilations, 1x1 read in place, 1-D and 3-D,
 * batches), u8 and s8 on both sides, zero points and scales per tensor and per channel/column, with
 * and without bias, each run twice: eagerly (weights packed per call) and with the weights packed
 * at load by prepare (consts), against the formulas written out here. Exact equality.
 * tests/CMakeLists.txt reruns it at the lower instruction-set levels.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "ops/op.h"
#include "tensor/tensor.h"
#include "test_util.h"

static double at(const ais_tensor *t, size_t i) { return ais__load_f64(t->data, t->dtype, i); }

static ais_tensor *mk(ais_dtype dt, const int64_t *shape, size_t ndim, const double *v) {
    ais_tensor *t = NULL;
    AIS_ASSERT_OK(ais__tensor_new(dt, shape, ndim, &t));
    for (size_t i = 0; i < t->numel; i++)
        ais__store_f64(t->data, dt, i, v ? v[i] : 0);
    return t;
}

static ais_tensor *rand8(ais_dtype dt, const int64_t *shape, size_t ndim) {
    ais_tensor *t = mk(dt, shape, ndim, NULL);
    for (size_t i = 0; i < t->numel; i++)
        ais__store_f64(
            t->data, dt, i,
            (double)(dt == AIS_DTYPE_U8 ? ais_test_randint(0, 255) : ais_test_randint(-128, 127)));
    return t;
}

static ais_dtype dt8(bool s) { return s ? AIS_DTYPE_I8 : AIS_DTYPE_U8; }

/* Set by the paired-path tests: s8 weights made of small values with one extreme value in
 * every seventh row of k (pairs that could saturate vpmaddubsw in k's natural order, but that an
 * order of k keeps safe: AVX2 packs them in the paired u8 layout, cpu.h), zero points 0. */
static bool g_pairable;

/* w [rows, k] (row-major with row stride ld and column stride cs): as g_pairable says */
static void make_pairable(ais_tensor *w, int64_t rows, int64_t k, int64_t rs, int64_t cs) {
    for (int64_t r = 0; r < rows; r++)
        for (int64_t kk = 0; kk < k; kk++) {
            int32_t v = (int32_t)ais_test_randint(-30, 30);
            if (kk % 7 == 3 && r == kk % rows) v = kk % 2 ? 127 : -128;
            ((int8_t *)w->data)[r * rs + kk * cs] = (int8_t)v;
        }
}

/* Runs op eagerly, and again with input `wi` handed to prepare as a constant (the session's
 * way), and checks both outputs are the same bytes; returns the eager output. */
static ais_tensor *run_both(const char *op, const char *domain, const ais_attrs *attrs,
                            const ais_tensor *const *in, size_t n_in, size_t wi) {
    ais_tensor *y = NULL, *y2 = NULL;
    const ais__op_def *def = ais__op_find(domain, op, 21);
    assert_non_null(def);
    ais__op_ctx ctx = {.op_type = op, .node_name = "", .opset = 21, .attrs = attrs};
    AIS_ASSERT_OK(ais__op_invoke(def, &ctx, in, n_in, &y, 1));
    ais__op_ctx_release(&ctx);
    const ais_tensor *consts[12] = {0};
    consts[wi] = in[wi];
    ais__op_ctx pc = {.op_type = op,
                      .node_name = "",
                      .opset = 21,
                      .attrs = attrs,
                      .consts = consts,
                      .n_consts = n_in};
    void *st = NULL;
    AIS_ASSERT_OK(def->prepare(&pc, &st));
    ais__op_ctx rc = {.op_type = op, .node_name = "", .opset = 21, .attrs = attrs, .state = st};
    ais__pool *pool = NULL;
    AIS_ASSERT_OK(ais__pool_create(2, &pool));
    rc.pool = pool;
    AIS_ASSERT_OK(ais__op_invoke(def, &rc, in, n_in, &y2, 1));
    ais__op_ctx_release(&rc);
    def->release(st);
    ais__pool_destroy(pool);
    assert_int_equal(y->numel, y2->numel);
    assert_memory_equal(y->data, y2->data, y->nbytes);
    ais_tensor_destroy(y2);
    return y;
}

/* wide: 0 small shapes; 1 planes up to 40 x 40 (several column blocks of the GEMM, rows that
 * cross blocks, "same" 3x3 convolutions read by shifting, stride-2 rows long enough for the SIMD
 * gather, enough work for the threaded split); 2 a 7x7 plane (one column block) with many
 * channels, split over threads by rows of the weights; 3 planes of 66-80 square at stride 1
 * (depthwise: more than one call of the store's 64 rows of 64 outputs, and a partial row). */
static void conv_case_w(int nsp, bool xs_, bool ws_, bool per_ch, bool with_bias, bool dw, bool one,
                        int wide) {
    int64_t n = ais_test_randint(1, 2), g = dw ? ais_test_randint(2, 5) : ais_test_randint(1, 2);
    /* depthwise: channel multipliers 1-2, and planes and kernels large enough for the SIMD
     * depthwise kernels' whole vectors and the threaded split (1-D and 2-D) */
    int64_t cg = dw ? 1 : ais_test_randint(1, 5),
            mg = dw ? ais_test_randint(1, 2) : ais_test_randint(1, 9);
    if (wide == 1) cg = ais_test_randint(3, 8), mg = ais_test_randint(8, 24);
    if (wide == 2) cg = ais_test_randint(24, 32), mg = ais_test_randint(40, 64), n = 1, g = 1;
    bool big = dw && nsp < 3 && ais_test_randint(0, 1);
    int64_t c = cg * g, m = mg * g;
    int64_t in[3] = {1, 1, 1}, k[3] = {1, 1, 1}, st[3] = {1, 1, 1}, dl[3] = {1, 1, 1};
    int64_t pb[3] = {0, 0, 0}, pe[3] = {0, 0, 0}, out[3];
    for (int d = 3 - nsp; d < 3; d++) {
        in[d] = ais_test_randint(1, nsp == 3 ? 5 : big ? 40 : 9);
        if (wide) /* rows of 34+: stride 2 still gives runs of 17+ outputs */
            in[d] = wide == 2 ? 7 : d == 2 ? ais_test_randint(34, 72) : ais_test_randint(17, 40);
        if (wide == 3) in[d] = ais_test_randint(66, 80);
        if (!one) {
            k[d] = ais_test_randint(1, big ? 5 : 3);
            st[d] = ais_test_randint(1, 2);
            dl[d] = ais_test_randint(1, 2);
            pb[d] = ais_test_randint(0, 1);
            pe[d] = ais_test_randint(0, 2);
            if (wide && ais_test_randint(0, 1)) /* "same": k 3, pads 1, stride 1 */
                k[d] = 3, st[d] = 1, dl[d] = 1, pb[d] = 1, pe[d] = 1;
            else if (wide == 1 && d == 2)
                st[d] = 2;
            if (wide == 3) st[d] = 1, dl[d] = 1;
        }
        if ((k[d] - 1) * dl[d] + 1 > in[d] + pb[d] + pe[d]) k[d] = 1, dl[d] = 1;
    }
    for (int d = 0; d < 3; d++)
        out[d] = (in[d] + pb[d] + pe[d] - (k[d] - 1) * dl[d] - 1) / st[d] + 1;
    int64_t xshape[5] = {n, c}, wshape[5] = {m, cg};
    for (int d = 0; d < nsp; d++) {
        xshape[2 + d] = in[3 - nsp + d];
        wshape[2 + d] = k[3 - nsp + d];
    }
    ais_tensor *x = rand8(dt8(xs_), xshape, (size_t)(2 + nsp));
    ais_tensor *w = rand8(dt8(ws_), wshape, (size_t)(2 + nsp));
    if (g_pairable && ws_) make_pairable(w, m, (int64_t)w->numel / m, (int64_t)w->numel / m, 1);
    double xzv = (double)(xs_ ? ais_test_randint(-128, 127) : ais_test_randint(0, 255));
    ais_tensor *xz = mk(dt8(xs_), NULL, 0, &xzv);
    double wzv[64], wsv[64], bv[64];
    for (int64_t i = 0; i < m; i++) {
        wzv[i] = (double)(ws_ ? ais_test_randint(-128, 127) : ais_test_randint(0, 255));
        if (g_pairable) wzv[i] = ws_ ? 0 : 128;
        wsv[i] = (float)ais_test_uniform(1e-4, 4e-3);
        bv[i] = (double)ais_test_randint(-30000, 30000);
        if (!per_ch) wzv[i] = wzv[0], wsv[i] = wsv[0];
    }
    ais_tensor *wz = per_ch ? mk(dt8(ws_), (int64_t[]){m}, 1, wzv) : mk(dt8(ws_), NULL, 0, wzv);
    ais_tensor *wsc =
        per_ch ? mk(AIS_DTYPE_F32, (int64_t[]){m}, 1, wsv) : mk(AIS_DTYPE_F32, NULL, 0, wsv);
    ais_tensor *bias = mk(AIS_DTYPE_I32, (int64_t[]){m}, 1, bv);
    double xsv = (float)0.02, ysv = (float)ais_test_uniform(0.05, 0.5);
    double yzv = (double)(xs_ ? ais_test_randint(-20, 20) : ais_test_randint(100, 150));
    ais_tensor *xsc = mk(AIS_DTYPE_F32, NULL, 0, &xsv), *ysc = mk(AIS_DTYPE_F32, NULL, 0, &ysv);
    ais_tensor *yz = mk(dt8(xs_), NULL, 0, &yzv);
    ais_attrs *a = NULL;
    AIS_ASSERT_OK(ais_attrs_create(&a));
    int64_t pads[6], strides[3], dils[3], ks[3];
    for (int d = 0; d < nsp; d++) {
        pads[d] = pb[3 - nsp + d];
        pads[nsp + d] = pe[3 - nsp + d];
        strides[d] = st[3 - nsp + d];
        dils[d] = dl[3 - nsp + d];
        ks[d] = k[3 - nsp + d];
    }
    AIS_ASSERT_OK(ais_attrs_set_int(a, "group", g));
    AIS_ASSERT_OK(ais_attrs_set_ints(a, "pads", pads, (size_t)(2 * nsp)));
    AIS_ASSERT_OK(ais_attrs_set_ints(a, "strides", strides, (size_t)nsp));
    AIS_ASSERT_OK(ais_attrs_set_ints(a, "dilations", dils, (size_t)nsp));
    AIS_ASSERT_OK(ais_attrs_set_ints(a, "kernel_shape", ks, (size_t)nsp));
    const ais_tensor *qin[9] = {x, xsc, xz, w, wsc, wz, ysc, yz, with_bias ? bias : NULL};
    ais_tensor *y = run_both("QLinearConv", "", a, qin, with_bias ? 9 : 8, 3);
    const ais_tensor *cin[4] = {x, w, xz, wz};
    ais_tensor *acc = run_both("ConvInteger", "", a, cin, 4, 1);
    size_t plane = (size_t)(out[0] * out[1] * out[2]);
    assert_int_equal(acc->numel, (size_t)(n * m) * plane);
    for (int64_t b = 0; b < n; b++)
        for (int64_t o = 0; o < m; o++) {
            int64_t gi = o / mg;
            for (size_t p = 0; p < plane; p++) {
                int64_t od = (int64_t)p / (out[1] * out[2]), oh = (int64_t)p / out[2] % out[1];
                int64_t ow = (int64_t)p % out[2];
                double s = 0;
                for (int64_t cc = 0; cc < cg; cc++)
                    for (int64_t a0 = 0; a0 < k[0]; a0++)
                        for (int64_t a1 = 0; a1 < k[1]; a1++)
                            for (int64_t a2 = 0; a2 < k[2]; a2++) {
                                int64_t i0 = od * st[0] - pb[0] + a0 * dl[0];
                                int64_t i1 = oh * st[1] - pb[1] + a1 * dl[1];
                                int64_t i2 = ow * st[2] - pb[2] + a2 * dl[2];
                                if (i0 < 0 || i0 >= in[0] || i1 < 0 || i1 >= in[1] || i2 < 0 ||
                                    i2 >= in[2])
                                    continue;
                                size_t xi =
                                    (size_t)((((b * c + gi * cg + cc) * in[0] + i0) * in[1] + i1) *
                                                 in[2] +
                                             i2);
                                size_t wi =
                                    (size_t)((((o * cg + cc) * k[0] + a0) * k[1] + a1) * k[2] + a2);
                                s += (at(x, xi) - xzv) * (at(w, wi) - wzv[o]);
                            }
                size_t yi = (size_t)(b * m + o) * plane + p;
                if (at(acc, yi) != s)
                    fail_msg("ConvInteger element %zu: got %g want %g", yi, at(acc, yi), s);
                /* ONNX Runtime's arithmetic: the multiplier and the product in float32 */
                float mul = (float)xsv * (float)wsv[o] / (float)ysv;
                float f = (float)(int32_t)(s + (with_bias ? bv[o] : 0)) * mul;
                double q = rint((double)f) + yzv;
                double lo = xs_ ? -128 : 0, hi = xs_ ? 127 : 255;
                q = q < lo ? lo : q > hi ? hi : q;
                if (at(y, yi) != q)
                    fail_msg("QLinearConv element %zu: got %g want %g", yi, at(y, yi), q);
            }
        }
    ais_attrs_destroy(a);
    ais_tensor *const all[] = {x, w, xz, wz, wsc, bias, xsc, ysc, yz, y, acc};
    for (size_t i = 0; i < AIS__ARRAY_LEN(all); i++)
        ais_tensor_destroy(all[i]);
}

static void conv_case(int nsp, bool xs_, bool ws_, bool per_ch, bool with_bias, bool dw, bool one) {
    conv_case_w(nsp, xs_, ws_, per_ch, with_bias, dw, one, 0);
}

static void test_conv_wide(void **state) {
    (void)state;
    for (int it = 0; it < 24; it++)
        conv_case_w(it % 6 == 5 ? 1 : 2, ais_test_randint(0, 1), ais_test_randint(0, 1),
                    ais_test_randint(0, 1), ais_test_randint(0, 1), false, it % 4 == 0,
                    it % 3 == 2 ? 2 : 1);
}

/* Depthwise planes of more than 64 x 64 outputs: the store takes the plane 64 rows of 64 at a
 * time, then the partial last row. */
static void test_dw_large_planes(void **state) {
    (void)state;
    for (int it = 0; it < 6; it++)
        conv_case_w(2, ais_test_randint(0, 1), ais_test_randint(0, 1), ais_test_randint(0, 1),
                    it % 2 == 0, true, false, 3);
}

static void test_conv_random(void **state) {
    (void)state;
    for (int it = 0; it < 150; it++) {
        int nsp = it % 7 == 0 ? 1 : it % 11 == 0 ? 3 : 2;
        conv_case(nsp, ais_test_randint(0, 1), ais_test_randint(0, 1), ais_test_randint(0, 1),
                  ais_test_randint(0, 1), it % 5 == 0 || it % 5 == 3, it % 4 == 0);
    }
}

static void mm_case(bool as_, bool bs_, int zb_kind, bool batched_b) {
    int64_t bt = ais_test_randint(1, 3), m = ais_test_randint(1, 30), k = ais_test_randint(1, 70);
    int64_t n = ais_test_randint(1, 50);
    ais_tensor *a = rand8(dt8(as_), (int64_t[]){bt, m, k}, 3);
    ais_tensor *b = batched_b ? rand8(dt8(bs_), (int64_t[]){bt, k, n}, 3)
                              : rand8(dt8(bs_), (int64_t[]){k, n}, 2);
    if (g_pairable && bs_ && !batched_b) make_pairable(b, n, k, 1, n);
    double azv = (double)(as_ ? ais_test_randint(-128, 127) : ais_test_randint(0, 255));
    double bzv[64], bsv[64];
    for (int64_t j = 0; j < n; j++) {
        bzv[j] = zb_kind == 0
                     ? 0
                     : (double)(bs_ ? ais_test_randint(-128, 127) : ais_test_randint(0, 255));
        if (zb_kind == 1) bzv[j] = bzv[0];
        bsv[j] = (float)ais_test_uniform(1e-4, 4e-3);
    }
    ais_tensor *az = mk(dt8(as_), NULL, 0, &azv);
    ais_tensor *bz =
        zb_kind == 2 ? mk(dt8(bs_), (int64_t[]){n}, 1, bzv) : mk(dt8(bs_), NULL, 0, bzv);
    ais_tensor *bsc = mk(AIS_DTYPE_F32, (int64_t[]){n}, 1, bsv);
    double asv = (float)0.03, ysv = (float)ais_test_uniform(0.02, 0.3);
    double yzv = (double)(as_ ? ais_test_randint(-20, 20) : ais_test_randint(100, 150));
    ais_tensor *asc = mk(AIS_DTYPE_F32, NULL, 0, &asv), *ysc = mk(AIS_DTYPE_F32, NULL, 0, &ysv);
    ais_tensor *yz = mk(dt8(as_), NULL, 0, &yzv);
    const ais_tensor *mi[4] = {a, b, az, bz};
    ais_tensor *acc = run_both("MatMulInteger", "", NULL, mi, 4, 1);
    const ais_tensor *qi[8] = {a, asc, az, b, bsc, bz, ysc, yz};
    ais_tensor *y = run_both("QLinearMatMul", "", NULL, qi, 8, 3);
    for (int64_t t = 0; t < bt; t++)
        for (int64_t i = 0; i < m; i++)
            for (int64_t j = 0; j < n; j++) {
                double s = 0;
                for (int64_t kk = 0; kk < k; kk++)
                    s += (at(a, (size_t)((t * m + i) * k + kk)) - azv) *
                         (at(b, (size_t)(((batched_b ? t : 0) * k + kk) * n + j)) - bzv[j]);
                size_t o = (size_t)((t * m + i) * n + j);
                if (at(acc, o) != s)
                    fail_msg("MatMulInteger %zu: got %g want %g", o, at(acc, o), s);
                double mul = (double)(float)((double)(float)(asv * (double)(float)bsv[j]) /
                                             (double)(float)ysv);
                double q = rint(s * mul) + yzv, lo = as_ ? -128 : 0, hi = as_ ? 127 : 255;
                q = q < lo ? lo : q > hi ? hi : q;
                if (at(y, o) != q) fail_msg("QLinearMatMul %zu: got %g want %g", o, at(y, o), q);
            }
    ais_tensor *const all[] = {a, b, az, bz, bsc, asc, ysc, yz, acc, y};
    for (size_t i = 0; i < AIS__ARRAY_LEN(all); i++)
        ais_tensor_destroy(all[i]);
}

static void test_matmul_random(void **state) {
    (void)state;
    for (int it = 0; it < 120; it++)
        mm_case(ais_test_randint(0, 1), ais_test_randint(0, 1), (int)ais_test_randint(0, 2),
                it % 6 == 0);
}

/* The paired u8 path (AVX2: weights whose natural pairs could saturate vpmaddubsw, packed in
 * an order of k whose pairs cannot) through the same exact checks: convolutions of every shape
 * above with u8 and s8 inputs, and matrix products with a constant B, any zero points of A and
 * B (the moved zero points' terms). On levels without the path the weights take the others. */
static void test_pairable(void **state) {
    (void)state;
    g_pairable = true;
    for (int it = 0; it < 60; it++) {
        int nsp = it % 7 == 0 ? 1 : 2;
        conv_case_w(nsp, ais_test_randint(0, 1), true, ais_test_randint(0, 1),
                    ais_test_randint(0, 1), false, it % 4 == 0, it % 5 == 1 ? 1 : 0);
        mm_case(ais_test_randint(0, 1), true, (int)ais_test_randint(0, 2), false);
    }
    g_pairable = false;
}

/* QGemm (transA/transB, C per column or scalar, float or requantized output) and
 * DynamicQuantizeMatMul (A quantized as DynamicQuantizeLinear does, float out with bias). */
static void ms_case(bool as_, bool bs_, bool per_col, bool ta, bool tb, int c_kind, bool yq) {
    int64_t m = ais_test_randint(1, 20), k = ais_test_randint(1, 60), n = ais_test_randint(1, 40);
    ais_tensor *a = rand8(dt8(as_), ta ? (int64_t[]){k, m} : (int64_t[]){m, k}, 2);
    ais_tensor *b = rand8(dt8(bs_), tb ? (int64_t[]){n, k} : (int64_t[]){k, n}, 2);
    double azv = (double)(as_ ? ais_test_randint(-128, 127) : ais_test_randint(0, 255));
    double bzv[64], bsv[64], cv[64];
    for (int64_t j = 0; j < n; j++) {
        bzv[j] = (double)(bs_ ? ais_test_randint(-128, 127) : ais_test_randint(0, 255));
        bsv[j] = (float)ais_test_uniform(1e-4, 4e-3);
        cv[j] = (double)ais_test_randint(-5000, 5000);
        if (!per_col) bzv[j] = bzv[0], bsv[j] = bsv[0];
        if (c_kind == 1) cv[j] = cv[0];
    }
    double asv = (float)0.03, ysv = (float)ais_test_uniform(0.02, 0.3), alpha = 0.75;
    double yzv = (double)ais_test_randint(100, 150);
    ais_tensor *az = mk(dt8(as_), NULL, 0, &azv);
    ais_tensor *bz = per_col ? mk(dt8(bs_), (int64_t[]){n}, 1, bzv) : mk(dt8(bs_), NULL, 0, bzv);
    ais_tensor *bsc =
        per_col ? mk(AIS_DTYPE_F32, (int64_t[]){n}, 1, bsv) : mk(AIS_DTYPE_F32, NULL, 0, bsv);
    ais_tensor *cc =
        c_kind == 1 ? mk(AIS_DTYPE_I32, NULL, 0, cv) : mk(AIS_DTYPE_I32, (int64_t[]){n}, 1, cv);
    ais_tensor *asc = mk(AIS_DTYPE_F32, NULL, 0, &asv), *ysc = mk(AIS_DTYPE_F32, NULL, 0, &ysv);
    ais_tensor *yz = mk(AIS_DTYPE_U8, NULL, 0, &yzv);
    ais_attrs *at_ = NULL;
    AIS_ASSERT_OK(ais_attrs_create(&at_));
    AIS_ASSERT_OK(ais_attrs_set_int(at_, "transA", ta));
    AIS_ASSERT_OK(ais_attrs_set_int(at_, "transB", tb));
    AIS_ASSERT_OK(ais_attrs_set_float(at_, "alpha", (float)alpha));
    const ais_tensor *qin[9] = {a, asc, az, b, bsc, bz, c_kind ? cc : NULL, ysc, yz};
    ais_tensor *y = run_both("QGemm", "com.microsoft", at_, qin, yq ? 9 : 7, 3);
    for (int64_t i = 0; i < m; i++)
        for (int64_t j = 0; j < n; j++) {
            int32_t s = c_kind ? (int32_t)cv[j] : 0;
            for (int64_t kk = 0; kk < k; kk++)
                s += (int32_t)(at(a, (size_t)(ta ? kk * m + i : i * k + kk)) - azv) *
                     (int32_t)(at(b, (size_t)(tb ? j * k + kk : kk * n + j)) - bzv[j]);
            float scale = (float)alpha * (float)asv * (float)bsv[j];
            size_t o = (size_t)(i * n + j);
            if (!yq) {
                float want = (float)s * scale;
                if ((float)at(y, o) != want)
                    fail_msg("QGemm %zu: got %g want %g", o, at(y, o), (double)want);
            } else {
                float r = nearbyintf((float)s * (scale / (float)ysv)) + (float)yzv;
                r = r < 0 ? 0 : r > 255 ? 255 : r;
                if ((float)at(y, o) != r)
                    fail_msg("QGemm %zu: got %g want %g", o, at(y, o), (double)r);
            }
        }
    ais_tensor_destroy(y);
    /* DynamicQuantizeMatMul: A float [m, k], B [k, n] */
    if (!tb) {
        ais_tensor *af = mk(AIS_DTYPE_F32, (int64_t[]){m, k}, 2, NULL);
        for (size_t i = 0; i < af->numel; i++)
            ((float *)af->data)[i] = (float)ais_test_uniform(-3, 2);
        ais_tensor *bias = mk(AIS_DTYPE_F32, (int64_t[]){n}, 1, cv);
        const ais_tensor *din[5] = {af, b, bsc, bz, bias};
        ais_tensor *yd = run_both("DynamicQuantizeMatMul", "com.microsoft", NULL, din, 5, 1);
        const float *av = af->data;
        float mx = 0, mn = 0;
        for (size_t i = 0; i < af->numel; i++)
            mx = fmaxf(mx, av[i]), mn = fminf(mn, av[i]);
        float sa = (mx == mn ? 1.0f : mx - mn) / 255.0f;
        int32_t za = (int32_t)nearbyintf(fminf(fmaxf(0.0f - mn / sa, 0.0f), 255.0f));
        for (int64_t i = 0; i < m; i++)
            for (int64_t j = 0; j < n; j++) {
                int32_t s = 0;
                for (int64_t kk = 0; kk < k; kk++) {
                    int32_t qa =
                        (int32_t)fminf(fmaxf(nearbyintf(av[i * k + kk] / sa) + (float)za, 0), 255);
                    s += (qa - za) * (int32_t)(at(b, (size_t)(kk * n + j)) - bzv[j]);
                }
                float want = (float)s * (sa * (float)bsv[j]) + (float)cv[j];
                size_t o = (size_t)(i * n + j);
                if ((float)at(yd, o) != want)
                    fail_msg("DynamicQuantizeMatMul %zu: got %g want %g", o, at(yd, o),
                             (double)want);
            }
        ais_tensor_destroy(yd);
        ais_tensor_destroy(af);
        /* MatMulIntegerToFloat: A 8-bit [2, m, k] (a batch), the same B; one float multiplier
         * a_scale * b_scale[j], then + bias[j] */
        ais_tensor *a3 = rand8(dt8(as_), (int64_t[]){2, m, k}, 3);
        const ais_tensor *min[7] = {a3, b, asc, bsc, az, bz, bias};
        ais_tensor *ym = run_both("MatMulIntegerToFloat", "com.microsoft", NULL, min, 7, 1);
        assert_int_equal(ym->ndim, 3);
        assert_int_equal(ym->dims[2], n);
        for (int64_t i = 0; i < 2 * m; i++)
            for (int64_t j = 0; j < n; j++) {
                int32_t s = 0;
                for (int64_t kk = 0; kk < k; kk++)
                    s += (int32_t)(at(a3, (size_t)(i * k + kk)) - azv) *
                         (int32_t)(at(b, (size_t)(kk * n + j)) - bzv[j]);
                float want = (float)s * ((float)asv * (float)bsv[j]) + (float)cv[j];
                size_t o = (size_t)(i * n + j);
                if ((float)at(ym, o) != want)
                    fail_msg("MatMulIntegerToFloat %zu: got %g want %g", o, at(ym, o),
                             (double)want);
            }
        ais_tensor_destroy(ym);
        ais_tensor_destroy(a3);
        ais_tensor_destroy(bias);
    }
    ais_attrs_destroy(at_);
    ais_tensor *const all[] = {a, b, az, bz, bsc, cc, asc, ysc, yz};
    for (size_t i = 0; i < AIS__ARRAY_LEN(all); i++)
        ais_tensor_destroy(all[i]);
}

/* MatMulIntegerToFloat's checks: each refusal names the input and the shapes. */
static void test_mmitf_errors(void **state) {
    (void)state;
    const ais__op_def *def = ais__op_find("com.microsoft", "MatMulIntegerToFloat", 1);
    assert_non_null(def);
    double one = 1, v4[4] = {1, 1, 1, 1};
    ais_tensor *a = rand8(AIS_DTYPE_U8, (int64_t[]){3, 4}, 2);
    ais_tensor *b = rand8(AIS_DTYPE_I8, (int64_t[]){4, 5}, 2);
    ais_tensor *b3 = rand8(AIS_DTYPE_I8, (int64_t[]){1, 4, 5}, 3);
    ais_tensor *bk = rand8(AIS_DTYPE_I8, (int64_t[]){3, 5}, 2);
    ais_tensor *sc = mk(AIS_DTYPE_F32, NULL, 0, &one);
    ais_tensor *sc4 = mk(AIS_DTYPE_F32, (int64_t[]){4}, 1, v4);
    ais_tensor *zu = mk(AIS_DTYPE_U8, NULL, 0, &one),
               *zb4 = mk(AIS_DTYPE_I8, (int64_t[]){4}, 1, v4);
    ais_tensor *bias4 = mk(AIS_DTYPE_F32, (int64_t[]){4}, 1, v4);
    ais_tensor *af = mk(AIS_DTYPE_F32, (int64_t[]){3, 4}, 2, NULL);
    ais_tensor *sc0 = mk(AIS_DTYPE_F32, (int64_t[]){0}, 1, NULL); /* nothing to read */
    ais_tensor *zu0 = mk(AIS_DTYPE_U8, (int64_t[]){0}, 1, NULL);
    struct {
        const ais_tensor *in[7];
        size_t n;
        const char *needle;
    } cases[] = {
        {{af, b, sc, sc}, 4, "A"},
        {{a, b3, sc, sc}, 4, "[K, N]"},
        {{a, bk, sc, sc}, 4, "[K, N]"},
        {{a, b, sc4, sc}, 4, "a_scale"},
        {{a, b, sc0, sc}, 4, "a_scale"},
        {{a, b, sc, sc, zu0}, 5, "a_zero_point"},
        {{a, b, sc, sc4}, 4, "b_scale"},
        {{a, b, sc, sc, zb4}, 5, "a_zero_point"},
        {{a, b, sc, sc, zu, zb4}, 6, "b_zero_point"},
        {{a, b, sc, sc, zu, NULL, bias4}, 7, "bias"},
    };
    for (size_t c = 0; c < AIS__ARRAY_LEN(cases); c++) {
        ais_tensor *y = NULL;
        ais__op_ctx ctx = {.op_type = "MatMulIntegerToFloat", .node_name = "", .opset = 1};
        ais_status st = ais__op_invoke(def, &ctx, cases[c].in, cases[c].n, &y, 1);
        ais__op_ctx_release(&ctx);
        assert_int_not_equal(st, AIS_OK);
        ais_test_assert_error_contains(cases[c].needle);
        ais_tensor_destroy(y);
    }
    ais_tensor *const all[] = {a, b, b3, bk, sc, sc4, zu, zb4, bias4, af, sc0, zu0};
    for (size_t i = 0; i < AIS__ARRAY_LEN(all); i++)
        ais_tensor_destroy(all[i]);
}

static void test_com_microsoft_random(void **state) {
    (void)state;
    for (int it = 0; it < 100; it++)
        ms_case(ais_test_randint(0, 1), ais_test_randint(0, 1), ais_test_randint(0, 1),
                ais_test_randint(0, 1), ais_test_randint(0, 1), (int)ais_test_randint(0, 2),
                ais_test_randint(0, 1));
}

/* QAttention: the int8 projection, masks of every accepted form, unidirectional, per-tensor and
 * per-column weight scales and zero points, against the formula in double (the kernel's float
 * softmax and products: 1e-4 relative). */
static void qattention_case(bool xs_, bool ws_, bool per_col, int mask_kind, bool causal) {
    int64_t b = ais_test_randint(1, 3), s = ais_test_randint(1, 12), hin = ais_test_randint(1, 40);
    int64_t heads = ais_test_randint(1, 3), d = ais_test_randint(1, 9), h = heads * d, n = 3 * h;
    ais_tensor *x = rand8(dt8(xs_), (int64_t[]){b, s, hin}, 3);
    ais_tensor *w = rand8(dt8(ws_), (int64_t[]){hin, n}, 2);
    double xzv = (double)(xs_ ? ais_test_randint(-128, 127) : ais_test_randint(0, 255));
    double xsv = (float)ais_test_uniform(0.005, 0.03), wzv[96], wsv[96], bv[96];
    for (int64_t j = 0; j < n; j++) {
        wzv[j] = (double)(ws_ ? ais_test_randint(-128, 127) : ais_test_randint(0, 255));
        wsv[j] = (float)ais_test_uniform(1e-3, 4e-3);
        bv[j] = (float)ais_test_uniform(-1, 1);
        if (!per_col) wzv[j] = wzv[0], wsv[j] = wsv[0];
    }
    ais_tensor *xz = mk(dt8(xs_), NULL, 0, &xzv), *xsc = mk(AIS_DTYPE_F32, NULL, 0, &xsv);
    ais_tensor *wz = per_col ? mk(dt8(ws_), (int64_t[]){n}, 1, wzv) : mk(dt8(ws_), NULL, 0, wzv);
    ais_tensor *wsc =
        per_col ? mk(AIS_DTYPE_F32, (int64_t[]){n}, 1, wsv) : mk(AIS_DTYPE_F32, NULL, 0, wsv);
    ais_tensor *bias = mk(AIS_DTYPE_F32, (int64_t[]){n}, 1, bv);
    /* mask_kind: 0 none, 1 [B] ends, 2 [2B] ends and starts, 3 [B, S], 4 [B, S, S] */
    ais_tensor *mask = NULL;
    if (mask_kind == 1 || mask_kind == 2) {
        mask = mk(AIS_DTYPE_I32, (int64_t[]){mask_kind * b}, 1, NULL);
        for (int64_t i = 0; i < mask_kind * b; i++)
            ((int32_t *)mask->data)[i] = (int32_t)ais_test_randint(i < b ? 1 : 0, s);
    } else if (mask_kind >= 3) {
        mask = mask_kind == 3 ? mk(AIS_DTYPE_I32, (int64_t[]){b, s}, 2, NULL)
                              : mk(AIS_DTYPE_I32, (int64_t[]){b, s, s}, 3, NULL);
        for (size_t i = 0; i < mask->numel; i++)
            ((int32_t *)mask->data)[i] = (int32_t)ais_test_randint(0, 1);
    }
    ais_attrs *a = NULL;
    AIS_ASSERT_OK(ais_attrs_create(&a));
    AIS_ASSERT_OK(ais_attrs_set_int(a, "num_heads", heads));
    AIS_ASSERT_OK(ais_attrs_set_int(a, "unidirectional", causal));
    const ais_tensor *qin[8] = {x, w, bias, xsc, wsc, mask, xz, wz};
    ais_tensor *y = run_both("QAttention", "com.microsoft", a, qin, 8, 1);
    assert_int_equal(y->numel, (size_t)(b * s * h));
    double *qkv = calloc((size_t)(b * s * n), sizeof(double)),
           *p = calloc((size_t)s, sizeof(double));
    for (int64_t r = 0; r < b * s; r++)
        for (int64_t j = 0; j < n; j++) {
            double acc = 0;
            for (int64_t k = 0; k < hin; k++)
                acc += (at(x, (size_t)(r * hin + k)) - xzv) * (at(w, (size_t)(k * n + j)) - wzv[j]);
            qkv[r * n + j] = acc * (double)((float)xsv * (float)wsv[j]) + bv[j];
        }
    const int32_t *mv = mask ? mask->data : NULL;
    double scale = 1.0 / sqrt((double)d);
    for (int64_t bi = 0; bi < b; bi++)
        for (int64_t hi = 0; hi < heads; hi++)
            for (int64_t qi = 0; qi < s; qi++) {
                double mx = -INFINITY, sum = 0;
                int64_t open = 0;
                for (int64_t t = 0; t < s; t++) {
                    bool masked = false;
                    if (mask_kind == 1 || mask_kind == 2) masked = t >= mv[bi];
                    if (mask_kind == 2) masked = masked || t < mv[b + bi];
                    if (mask_kind == 3) masked = mv[bi * s + t] == 0;
                    if (mask_kind == 4) masked = mv[(bi * s + qi) * s + t] == 0;
                    if (causal && t > qi) masked = true;
                    double dot = 0;
                    for (int64_t e = 0; e < d; e++)
                        dot += qkv[(bi * s + qi) * n + hi * d + e] *
                               qkv[(bi * s + t) * n + h + hi * d + e];
                    open += !masked;
                    p[t] = dot * scale + (masked ? -10000.0 : 0.0);
                    mx = fmax(mx, p[t]);
                }
                for (int64_t t = 0; t < s; t++)
                    sum += p[t] = exp(p[t] - mx);
                for (int64_t e = 0; e < d; e++) {
                    double want = 0;
                    for (int64_t t = 0; t < s; t++)
                        want += p[t] / sum * qkv[(bi * s + t) * n + 2 * h + hi * d + e];
                    double got = at(y, (size_t)((bi * s + qi) * h + hi * d + e));
                    /* a row with every key masked is the softmax of its scores shifted by
                     * -10000, which float holds to 1e-3 only (as in ONNX Runtime) */
                    double tol = open ? 1e-4 : 3e-3;
                    if (fabs(got - want) > tol * (1 + fabs(want)))
                        fail_msg("QAttention b %lld head %lld row %lld col %lld: got %.7g want "
                                 "%.7g (mask %d, causal %d)",
                                 (long long)bi, (long long)hi, (long long)qi, (long long)e, got,
                                 want, mask_kind, causal);
                }
            }
    free(qkv);
    free(p);
    ais_attrs_destroy(a);
    ais_tensor *const all[] = {x, w, xz, xsc, wz, wsc, bias, mask, y};
    for (size_t i = 0; i < AIS__ARRAY_LEN(all); i++)
        ais_tensor_destroy(all[i]);
}

static void test_qattention_random(void **state) {
    (void)state;
    for (int it = 0; it < 60; it++)
        qattention_case(ais_test_randint(0, 1), ais_test_randint(0, 1), ais_test_randint(0, 1),
                        it % 5, it % 3 == 0);
}

/* A depthwise QLinearConv whose pads and dilations (from the file) make a one-pixel output from
 * an enormous padded plane: an error, not an allocation of 2^68 bytes or a wrapped size. */
static void test_dw_huge_pads(void **state) {
    (void)state;
    ais_tensor *x = rand8(AIS_DTYPE_U8, (int64_t[]){1, 2, 1, 1}, 4);
    ais_tensor *w = rand8(AIS_DTYPE_I8, (int64_t[]){2, 1, 3, 3}, 4);
    double one = 1, zero = 0;
    ais_tensor *sc = mk(AIS_DTYPE_F32, NULL, 0, &one), *zu = mk(AIS_DTYPE_U8, NULL, 0, &zero);
    ais_tensor *zs = mk(AIS_DTYPE_I8, NULL, 0, &zero);
    ais_attrs *a = NULL;
    AIS_ASSERT_OK(ais_attrs_create(&a));
    int64_t big = INT32_MAX; /* the attributes' cap */
    AIS_ASSERT_OK(ais_attrs_set_int(a, "group", 2));
    AIS_ASSERT_OK(ais_attrs_set_ints(a, "pads", (int64_t[]){big, big, big, big}, 4));
    AIS_ASSERT_OK(ais_attrs_set_ints(a, "dilations", (int64_t[]){big, big}, 2));
    const ais_tensor *in[8] = {x, sc, zu, w, sc, zs, sc, zu};
    const ais__op_def *def = ais__op_find("", "QLinearConv", 21);
    ais__op_ctx ctx = {.op_type = "QLinearConv", .node_name = "", .opset = 21, .attrs = a};
    ais_tensor *y = NULL;
    ais_status st = ais__op_invoke(def, &ctx, in, 8, &y, 1);
    ais__op_ctx_release(&ctx);
    assert_int_not_equal(st, AIS_OK);
    ais_tensor_destroy(y);
    ais_attrs_destroy(a);
    ais_tensor *const all[] = {x, w, sc, zu, zs};
    for (size_t i = 0; i < AIS__ARRAY_LEN(all); i++)
        ais_tensor_destroy(all[i]);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_conv_random),       cmocka_unit_test(test_conv_wide),
        cmocka_unit_test(test_dw_large_planes),   cmocka_unit_test(test_matmul_random),
        cmocka_unit_test(test_pairable),          cmocka_unit_test(test_com_microsoft_random),
        cmocka_unit_test(test_qattention_random), cmocka_unit_test(test_dw_huge_pads),
        cmocka_unit_test(test_mmitf_errors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
