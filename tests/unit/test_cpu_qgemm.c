/*
 * test_cpu_qgemm.c - the int8 GEMM (lib/cpu/cpu_qgemm.c and each level's micro-kernel and store)
 * at every instruction-set level this machine has, against a direct evaluation of
 * sum_k (a - za)(b - zb) in wrapping int32 and the epilogue formulas of cpu.h: u8 and s8 on both
 * sides, strided (transposed) operands, zero points per tensor and per column, per-row A zero
 * points, every output form (int32, float, u8, s8 with double or float scales per tensor, row or
 * column, clamps), shapes with edge tiles and k not a multiple of 4, weights that saturate
 * vpmaddubsw (the exact path) and weights that cannot, and the threaded split; and the int8
 * depthwise path's conversions and QLinearAdd/QLinearMul's kernel.
 * Integer results and the requantized bytes must be identical; float outputs too (the same float
 * operations in the same order).
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "common/common.h"
#include "cpu/cpu.h"
#include "test_util.h"

typedef struct qcase {
    int64_t m, n, k;
    bool a_signed, b_signed, ta, tb;
    int zb_kind; /* 0 none, 1 scalar, 2 per column */
    bool za_row; /* per-row A zero point */
    int bmag;    /* 0 full range of B, 1 7-bit B (no saturation possible) */
    ais__qgemm_out out;
    bool dscale;    /* double scales (else float) */
    int scale_kind; /* 0 one, 1 per row, 2 per column */
    bool clamp;
    bool fbias;
} qcase;

static int32_t q_at(const uint8_t *p, bool s, size_t i) {
    return s ? (int32_t)(int8_t)p[i] : (int32_t)p[i];
}

static void run_case(const qcase *c, ais__pool *pool) {
    int64_t m = c->m, n = c->n, k = c->k;
    uint8_t *a = malloc((size_t)(m * k) + 1), *b = malloc((size_t)(k * n) + 1);
    for (int64_t i = 0; i < m * k; i++)
        a[i] = (uint8_t)ais_test_randint(0, 255);
    for (int64_t i = 0; i < k * n; i++)
        b[i] = c->bmag
                   ? (uint8_t)(c->b_signed ? ais_test_randint(-64, 63) : ais_test_randint(64, 191))
                   : (uint8_t)ais_test_randint(0, 255);
    /* the worst case of vpmaddubsw: a run of 255 against +-127 pairs */
    if (!c->bmag && m > 0 && k > 1) {
        for (int64_t kk = 0; kk < k; kk++)
            a[kk * (c->ta ? m : 1)] = c->a_signed ? 127 : 255;
        for (int64_t kk = 0; kk < k; kk++)
            b[c->tb ? kk : kk * n] = c->b_signed ? 127 : 255;
    }
    int32_t *za = malloc(sizeof(int32_t) * (size_t)(m + 1));
    int32_t *zb = malloc(sizeof(int32_t) * (size_t)(n + 1));
    int32_t zas =
        c->a_signed ? (int32_t)ais_test_randint(-128, 127) : (int32_t)ais_test_randint(0, 255);
    for (int64_t i = 0; i < m; i++)
        za[i] = c->za_row ? (c->a_signed ? (int32_t)ais_test_randint(-128, 127)
                                         : (int32_t)ais_test_randint(0, 255))
                          : zas;
    int32_t zbs =
        c->b_signed ? (int32_t)ais_test_randint(-128, 127) : (int32_t)ais_test_randint(0, 255);
    for (int64_t j = 0; j < n; j++)
        zb[j] = c->zb_kind == 0   ? 0
                : c->zb_kind == 1 ? zbs
                                  : (c->b_signed ? (int32_t)ais_test_randint(-128, 127)
                                                 : (int32_t)ais_test_randint(0, 255));
    size_t ns = (size_t)(m > n ? m : n) + 1;
    double *ds = malloc(ns * sizeof(double));
    float *fs = malloc(ns * sizeof(float)), *fb = malloc(ns * sizeof(float));
    for (size_t i = 0; i < ns; i++) {
        fs[i] = (float)ais_test_uniform(1e-5, 3e-3);
        ds[i] = (double)fs[i];
        fb[i] = (float)ais_test_uniform(-2, 2);
    }
    int32_t zp = c->out == AIS__QGEMM_OUT_U8 ? (int32_t)ais_test_randint(0, 255)
                                             : (int32_t)ais_test_randint(-128, 127);
    int32_t qmin = c->out == AIS__QGEMM_OUT_U8 ? 0 : -128,
            qmax = c->out == AIS__QGEMM_OUT_U8 ? 255 : 127;
    if (c->clamp) {
        qmin = zp; /* Relu */
        qmax = qmax - 3 > qmin ? qmax - 3 : qmax;
    }
    int64_t srs = c->scale_kind == 1, scs = c->scale_kind == 2;

    /* the reference */
    size_t ysz = (size_t)(m * n) * 4 + 4;
    uint8_t *want = malloc(ysz), *got = malloc(ysz);
    int64_t ars = c->ta ? 1 : k, acs = c->ta ? m : 1, brs = c->tb ? 1 : n, bcs = c->tb ? k : 1;
    for (int64_t i = 0; i < m; i++)
        for (int64_t j = 0; j < n; j++) {
            uint32_t s = 0;
            for (int64_t kk = 0; kk < k; kk++)
                s += (uint32_t)((q_at(a, c->a_signed, (size_t)(i * ars + kk * acs)) - za[i]) *
                                (q_at(b, c->b_signed, (size_t)(kk * brs + j * bcs)) - zb[j]));
            int32_t v = (int32_t)s;
            int64_t si = i * srs + j * scs;
            size_t o = (size_t)(i * n + j);
            if (c->out == AIS__QGEMM_OUT_I32) {
                memcpy(want + o * 4, &v, 4);
            } else if (c->out == AIS__QGEMM_OUT_F32) {
                float f = (float)v * fs[si];
                if (c->fbias) f += fb[j];
                memcpy(want + o * 4, &f, 4);
            } else {
                double d = c->dscale ? rint((double)v * ds[si]) + zp
                                     : (double)(nearbyintf((float)v * fs[si]) + (float)zp);
                d = d < qmin ? qmin : d > qmax ? qmax : d;
                want[o] = (uint8_t)(int32_t)d;
            }
        }

    for (int isa = 0; isa <= AIS_CPU_ISA_AVX512_VNNI; isa++) {
        const ais__cpu_kernels *t = ais__cpu_for((ais_cpu_isa)isa);
        if (!t) continue;
        uint8_t *ap = malloc(ais__qgemm_a_bytes(t->qgemm_mr, m, k) + 1);
        int8_t *bp = malloc(ais__qgemm_b_bytes(k, n) + 1);
        int32_t *sa = malloc(sizeof(int32_t) * (size_t)(m + 1));
        int32_t *sb = malloc(sizeof(int32_t) * (size_t)(n + 1));
        bool exact = true;
        ais__qgemm_pack_a(t->qgemm_mr, a, c->a_signed, ars, acs, m, k, ap, sa);
        /* half the cases pack B as at load (pairs checked), half as per call */
        bool at_load = (m + n + k) % 2 == 0;
        ais__qgemm_pack_b(b, c->b_signed, brs, bcs, k, n, bp, sb, at_load ? &exact : NULL);
        if (at_load && c->bmag) assert_false(exact); /* 7-bit weights take the fast path */
        /* the epilogue terms, as the operators build them */
        int32_t *rowm = malloc(sizeof(int32_t) * (size_t)(m + 1));
        int32_t *rowa = malloc(sizeof(int32_t) * (size_t)(m + 1));
        int32_t *colm = malloc(sizeof(int32_t) * (size_t)(n + 1));
        int32_t *cola = malloc(sizeof(int32_t) * (size_t)(n + 1));
        for (int64_t i = 0; i < m; i++) {
            uint32_t zai = (uint32_t)(za[i] + (c->a_signed ? 128 : 0));
            rowm[i] = (int32_t)(0u - zai);
            rowa[i] = 0;
        }
        for (int64_t j = 0; j < n; j++) {
            colm[j] = sb[j];
            cola[j] = 0;
        }
        /* sum a'b' - za' sb - zb' (sa - k za') : per-row za goes through the rank-one term,
         * the zb' term into row_add (zb per column would need a second rank-one term: the
         * per-column case below uses za scalar instead) */
        ais__qgemm_ep ep = {.out = c->out,
                            .dscale = c->dscale ? ds : NULL,
                            .fscale = fs,
                            .fbias = c->fbias ? fb : NULL,
                            .scale_rs = srs,
                            .scale_cs = scs,
                            .zp = zp,
                            .qmin = qmin,
                            .qmax = qmax,
                            .y = got,
                            .ldy = n};
        if (c->zb_kind == 2) {
            /* za scalar: col_add = -za' sb, row_mul x col_mul = -(sa - k za') x zb' */
            uint32_t zai = (uint32_t)(za[0] + (c->a_signed ? 128 : 0));
            for (int64_t j = 0; j < n; j++) {
                cola[j] = (int32_t)(0u - zai * (uint32_t)sb[j]);
                colm[j] = zb[j] - (c->b_signed ? 0 : 128);
            }
            for (int64_t i = 0; i < m; i++)
                rowm[i] = (int32_t)(0u - ((uint32_t)sa[i] - (uint32_t)k * zai));
            ep.col_add = cola;
        } else {
            uint32_t zbi = (uint32_t)(zb[0] - (c->b_signed ? 0 : 128));
            if (c->zb_kind == 0) zbi = c->b_signed ? 0 : (uint32_t)-128;
            for (int64_t i = 0; i < m; i++) {
                uint32_t zai = (uint32_t)(za[i] + (c->a_signed ? 128 : 0));
                rowa[i] = (int32_t)(0u - zbi * ((uint32_t)sa[i] - (uint32_t)k * zai));
            }
            ep.row_add = rowa;
        }
        ep.row_mul = rowm;
        ep.col_mul = colm;
        ais__qgemm_a A = {.data = ap, .sums = sa, .m = m, .k = k, .mr = t->qgemm_mr};
        ais__qgemm_b B = {.data = bp, .sums = sb, .n = n, .k = k, .exact = exact};
        memset(got, 0xcd, ysz);
        ais__qgemm_run(pool, t, &A, &B, &ep);
        size_t esz = c->out == AIS__QGEMM_OUT_I32 || c->out == AIS__QGEMM_OUT_F32 ? 4 : 1;
        if (memcmp(got, want, (size_t)(m * n) * esz) != 0) {
            for (int64_t o = 0; o < m * n; o++)
                if (memcmp(got + o * esz, want + o * esz, esz)) {
                    fail_msg("isa %s m %lld n %lld k %lld as %d bs %d ta %d tb %d zb %d zarow %d "
                             "bmag %d out %d dscale %d scale %d: element %lld (%lld, %lld) differs",
                             ais_cpu_isa_name((ais_cpu_isa)isa), (long long)m, (long long)n,
                             (long long)k, c->a_signed, c->b_signed, c->ta, c->tb, c->zb_kind,
                             c->za_row, c->bmag, (int)c->out, c->dscale, c->scale_kind,
                             (long long)o, (long long)(o / n), (long long)(o % n));
                }
        }
        assert_int_equal(got[(size_t)(m * n) * esz], 0xcd); /* nothing past C */
        free(ap), free(bp), free(sa), free(sb), free(rowm), free(rowa), free(colm), free(cola);
    }
    free(a), free(b), free(za), free(zb), free(ds), free(fs), free(fb), free(want), free(got);
}

static qcase random_case(int64_t maxdim) {
    qcase c = {0};
    c.m = ais_test_randint(1, maxdim);
    c.n = ais_test_randint(1, maxdim);
    c.k = ais_test_randint(1, maxdim);
    c.a_signed = ais_test_randint(0, 1);
    c.b_signed = ais_test_randint(0, 1);
    c.ta = ais_test_randint(0, 3) == 0;
    c.tb = ais_test_randint(0, 3) == 0;
    c.zb_kind = (int)ais_test_randint(0, 2);
    c.za_row = c.zb_kind != 2 && ais_test_randint(0, 1);
    c.bmag = (int)ais_test_randint(0, 1);
    c.out = (ais__qgemm_out)ais_test_randint(0, 3);
    c.dscale = ais_test_randint(0, 1);
    c.scale_kind = (int)ais_test_randint(0, 2);
    c.clamp = c.out >= AIS__QGEMM_OUT_U8 && ais_test_randint(0, 2) == 0;
    c.fbias = c.out == AIS__QGEMM_OUT_F32 && ais_test_randint(0, 1);
    return c;
}

static void test_small_shapes(void **state) {
    (void)state;
    for (int it = 0; it < 600; it++) {
        qcase c = random_case(40);
        run_case(&c, NULL);
    }
}

static void test_edges(void **state) {
    (void)state;
    /* k = 1..9 around the groups of 4, single rows and columns, every output form */
    for (int64_t k = 1; k <= 9; k++)
        for (int out = 0; out < 4; out++)
            for (int bs = 0; bs < 2; bs++) {
                qcase c = {.m = 1 + k % 3,
                           .n = 1 + (k * 7) % 37,
                           .k = k,
                           .a_signed = k % 2,
                           .b_signed = bs,
                           .zb_kind = (int)(k % 3),
                           .out = (ais__qgemm_out)out,
                           .dscale = out % 2,
                           .scale_kind = (int)(k % 3)};
                run_case(&c, NULL);
                c.m = 13, c.n = 1;
                run_case(&c, NULL);
            }
}

static void test_large_threaded(void **state) {
    (void)state;
    ais__pool *pool = NULL;
    assert_int_equal(ais__pool_create(2, &pool), AIS_OK);
    for (int it = 0; it < 12; it++) {
        qcase c = random_case(40);
        c.m = ais_test_randint(60, 200);
        c.n = ais_test_randint(60, 200);
        c.k = ais_test_randint(100, 700);
        run_case(&c, pool);
    }
    ais__pool_destroy(pool);
}

/* The depthwise path's conversions (q8_to_f32, f32_to_i32) at every level against the direct
 * formulas: lengths around the vector widths, u8 and s8, the extreme zero points. */
static void test_conversions(void **state) {
    (void)state;
    uint8_t x[131];
    float y[131], f[131];
    int32_t c[131];
    for (int i = 0; i < 131; i++) {
        x[i] = (uint8_t)ais_test_randint(0, 255);
        f[i] = (float)ais_test_randint(-16777215, 16777215);
    }
    f[0] = 2147483520.0f; /* the largest float below 2^31 */
    f[1] = -2147483648.0f;
    for (int isa = 0; isa <= AIS_CPU_ISA_AVX512_VNNI; isa++) {
        const ais__cpu_kernels *t = ais__cpu_for((ais_cpu_isa)isa);
        if (!t) continue; /* a level this machine lacks */
        for (int64_t n = 0; n <= 131; n += n < 40 ? 1 : 13)
            for (int sg = 0; sg < 2; sg++) {
                int32_t zp = sg ? (n % 2 ? -128 : 127) : (n % 2 ? 0 : 255);
                memset(y, 0xff, sizeof y);
                t->q8_to_f32(x, sg, zp, y, n);
                for (int64_t i = 0; i < n; i++) {
                    int32_t want = (sg ? (int32_t)(int8_t)x[i] : (int32_t)x[i]) - zp;
                    if (y[i] != (float)want)
                        fail_msg("isa %s q8_to_f32 n %lld signed %d: y[%lld] %g want %d",
                                 ais_cpu_isa_name((ais_cpu_isa)isa), (long long)n, sg, (long long)i,
                                 (double)y[i], want);
                }
                memset(c, 0x55, sizeof c);
                t->f32_to_i32(f, c, n);
                for (int64_t i = 0; i < n; i++)
                    if (c[i] != (int32_t)f[i])
                        fail_msg("isa %s f32_to_i32 n %lld: c[%lld] %d want %d",
                                 ais_cpu_isa_name((ais_cpu_isa)isa), (long long)n, (long long)i,
                                 c[i], (int32_t)f[i]);
                /* nothing past n */
                if (n < 131 && c[n] != 0x55555555)
                    fail_msg("isa %s f32_to_i32 wrote past n %lld",
                             ais_cpu_isa_name((ais_cpu_isa)isa), (long long)n);
            }
    }
}

/* qdw_plane (the int8 depthwise plane) at every level that has one, and the portable one,
 * against the sum written out: random planes (widths across the 16- and 64-output chunks),
 * kernels 1-5 high and 1-9 wide (up to 5: the pair rows, odd and even widths), strides 1-3 (3: the
 * portable fallback), dilations, pads up to 3, u8 and s8 with
 * extreme zero points and weights of +-255; exact. The plane is allocated at its exact size, so
 * that ASan sees a read past it. */
static void test_qdw_plane(void **state) {
    (void)state;
    for (int it = 0; it < 300; it++) {
        ais__conv_dw_geom g = {.ih = ais_test_randint(1, 20),
                               .iw = ais_test_randint(1, it % 3 ? 80 : 20),
                               .kh = ais_test_randint(1, 5),
                               .kw = ais_test_randint(1, it % 4 == 0 ? 9 : 5),
                               .sh = ais_test_randint(1, 3),
                               .sw = it % 5 == 4 ? 3 : ais_test_randint(1, 2),
                               .dh = ais_test_randint(1, 2),
                               .dw = ais_test_randint(1, 2),
                               .ph = ais_test_randint(0, 3),
                               .pw = ais_test_randint(0, 3)};
        int64_t pe_h = ais_test_randint(0, 3), pe_w = ais_test_randint(0, 3);
        int64_t eh = (g.kh - 1) * g.dh + 1, ew = (g.kw - 1) * g.dw + 1;
        if (eh > g.ih + g.ph + pe_h || ew > g.iw + g.pw + pe_w) continue;
        g.oh = (g.ih + g.ph + pe_h - eh) / g.sh + 1;
        g.ow = (g.iw + g.pw + pe_w - ew) / g.sw + 1;
        bool sg = ais_test_randint(0, 1);
        int32_t xz = sg ? (int32_t)ais_test_randint(-128, 127) : (int32_t)ais_test_randint(0, 255);
        if (it % 7 == 0) xz = sg ? -128 : 255;
        uint8_t *x = malloc((size_t)(g.ih * g.iw));
        int16_t w[45];
        int32_t *want = malloc((size_t)(g.oh * g.ow) * 4), *got = malloc((size_t)(g.oh * g.ow) * 4);
        assert_non_null(x);
        assert_non_null(want);
        assert_non_null(got);
        for (int64_t i = 0; i < g.ih * g.iw; i++)
            x[i] = (uint8_t)ais_test_randint(0, 255);
        for (int i = 0; i < 45; i++)
            w[i] = (int16_t)(it % 7 == 0 ? (i % 2 ? 255 : -255) : ais_test_randint(-255, 255));
        for (int64_t oh = 0; oh < g.oh; oh++)
            for (int64_t ow = 0; ow < g.ow; ow++) {
                int64_t sum = 0;
                for (int64_t a = 0; a < g.kh; a++)
                    for (int64_t b = 0; b < g.kw; b++) {
                        int64_t ih = oh * g.sh - g.ph + a * g.dh, iw = ow * g.sw - g.pw + b * g.dw;
                        if (ih < 0 || ih >= g.ih || iw < 0 || iw >= g.iw) continue;
                        sum +=
                            (int64_t)(q_at(x, sg, (size_t)(ih * g.iw + iw)) - xz) * w[a * g.kw + b];
                    }
                want[oh * g.ow + ow] = (int32_t)sum;
            }
        for (int isa = -1; isa <= AIS_CPU_ISA_AVX512_VNNI; isa++) {
            const ais__cpu_kernels *t = isa < 0 ? NULL : ais__cpu_for((ais_cpu_isa)isa);
            if (isa >= 0 && (!t || !t->qdw_plane)) continue;
            memset(got, 0x55, (size_t)(g.oh * g.ow) * 4);
            if (t)
                t->qdw_plane(x, sg, xz, w, &g, got);
            else
                ais__cpu_ref_qdw_plane(x, sg, xz, w, &g, got);
            for (int64_t i = 0; i < g.oh * g.ow; i++)
                if (got[i] != want[i])
                    fail_msg("isa %s qdw_plane %lldx%lld k %lldx%lld s %lld,%lld d %lld,%lld p "
                             "%lld,%lld signed %d xz %d: acc[%lld] %d want %d",
                             isa < 0 ? "ref" : ais_cpu_isa_name((ais_cpu_isa)isa), (long long)g.ih,
                             (long long)g.iw, (long long)g.kh, (long long)g.kw, (long long)g.sh,
                             (long long)g.sw, (long long)g.dh, (long long)g.dw, (long long)g.ph,
                             (long long)g.pw, sg, xz, (long long)i, got[i], want[i]);
        }
        free(x);
        free(want);
        free(got);
    }
}

/* The requantizing store with float scales at every level against the portable one on the
 * extremes: sums at INT32_MIN / INT32_MAX and around 0, scales that overflow int32 after the
 * product (both signs), NaN and infinite scales (NaN takes qmin), per tensor and per column,
 * zero points at the ends of u8 and s8, Relu-like clamps, rows of 1-64 columns. */
static void test_store_extremes(void **state) {
    (void)state;
    static const float scales[] = {1e-3f, 0.37f, 1e3f, 3e9f, NAN, INFINITY, -INFINITY, 0.0f};
    _Alignas(64) int32_t c[2 * AIS__QGEMM_LDC];
    float fs[64];
    int32_t cola[64];
    for (int it = 0; it < 400; it++) {
        bool u8 = it % 2;
        int cols = (int)ais_test_randint(1, 64), rows = (int)ais_test_randint(1, 2);
        for (int i = 0; i < 2 * AIS__QGEMM_LDC; i++) {
            int kind = (int)ais_test_randint(0, 4);
            c[i] = kind == 0   ? INT32_MIN
                   : kind == 1 ? INT32_MAX
                   : kind == 2 ? (int32_t)ais_test_randint(-3, 3)
                               : (int32_t)ais_test_randint(-2000000, 2000000);
        }
        for (int j = 0; j < 64; j++) {
            fs[j] = scales[ais_test_randint(0, 7)] * (ais_test_randint(0, 1) ? 1.0f : -1.0f);
            cola[j] = (int32_t)ais_test_randint(-1000, 1000);
        }
        int32_t zp =
            u8 ? (int32_t)ais_test_randint(0, 1) * 255 : (int32_t)ais_test_randint(-128, 127);
        int32_t rowa[2] = {(int32_t)ais_test_randint(-50, 50), 0};
        ais__qgemm_ep ep = {.out = u8 ? AIS__QGEMM_OUT_U8 : AIS__QGEMM_OUT_S8,
                            .row_add = it % 3 ? rowa : NULL,
                            .col_add = it % 5 ? NULL : cola,
                            .fscale = fs,
                            .scale_cs = it % 4 == 0,
                            .zp = zp,
                            .qmin = u8 ? 0 : -128,
                            .qmax = u8 ? 255 : 127,
                            .ldy = 64};
        if (it % 7 == 0) ep.qmin = zp; /* Relu */
        if (ep.qmin > ep.qmax) ep.qmin = ep.qmax;
        uint8_t want[128], got[128];
        memset(want, 0xa5, sizeof want);
        ep.y = want;
        ais__cpu_ref_qgemm_store(&ep, c, 0, 0, rows, cols);
        for (int isa = 0; isa <= AIS_CPU_ISA_AVX512_VNNI; isa++) {
            const ais__cpu_kernels *t = ais__cpu_for((ais_cpu_isa)isa);
            if (!t) continue;
            memset(got, 0xa5, sizeof got);
            ep.y = got;
            t->qgemm_store(&ep, c, 0, 0, rows, cols);
            for (int i = 0; i < 128; i++)
                if (got[i] != want[i])
                    fail_msg("isa %d it %d: byte %d got %d want %d (c %d scale %g zp %d)", isa, it,
                             i, got[i], want[i], c[i / 64 * AIS__QGEMM_LDC + i % 64],
                             (double)fs[ep.scale_cs ? i % 64 : 0], zp);
        }
    }
}

/* The int16 pair path (AVX2's exact convolution kernel): each level's q16_pack_b against the
 * portable one (odd and even k, u8 and s8, zero points at the ends of the range, with and
 * without sums), and its q16_ukernel on those panels against the direct sum of
 * A (B - zp) in int32, with the weights packed by ais__q16_pack_a. */
static void test_q16(void **state) {
    (void)state;
    enum { LD = 19, KMAX = 75 };
    uint8_t a[AIS__QGEMM_MR_MAX * KMAX], b[KMAX * LD + 16];
    int16_t want_b[(KMAX + 1) * AIS__QGEMM_NR], got_b[(KMAX + 1) * AIS__QGEMM_NR];
    int16_t ap[AIS__QGEMM_MR_MAX * (KMAX + 1)];
    int32_t want_s[AIS__QGEMM_NR], got_s[AIS__QGEMM_NR];
    _Alignas(64) int32_t c[AIS__QGEMM_MR_MAX * AIS__QGEMM_LDC];
    int levels = 0;
    for (int it = 0; it < 120; it++) {
        bool as = it % 2, bs = it % 3 == 0;
        int64_t k = ais_test_randint(1, KMAX);
        int32_t zp = it % 5 == 0   ? (bs ? -128 : 255)
                     : it % 5 == 1 ? (bs ? 127 : 0)
                                   : (bs ? (int32_t)ais_test_randint(-128, 127)
                                         : (int32_t)ais_test_randint(0, 255));
        for (size_t i = 0; i < sizeof a; i++)
            a[i] = (uint8_t)(it % 4 == 0 ? (as ? 0x80 : 0xff) : ais_test_randint(0, 255));
        for (size_t i = 0; i < sizeof b; i++)
            b[i] = (uint8_t)(it % 4 == 0 ? (bs ? 0x7f : 0) : ais_test_randint(0, 255));
        bool with_sums = it % 7 != 3;
        ais__cpu_ref_q16_pack_b(b, LD, k, bs, zp, want_b, with_sums ? want_s : NULL);
        for (int isa = 0; isa <= AIS_CPU_ISA_AVX512_VNNI; isa++) {
            const ais__cpu_kernels *t = ais__cpu_for((ais_cpu_isa)isa);
            if (!t || !t->q16_ukernel) continue;
            levels++;
            int mr = t->qgemm_mr;
            int64_t k2 = (k + 1) / 2;
            memset(got_b, 0x5a, sizeof got_b);
            memset(got_s, 0x5a, sizeof got_s);
            t->q16_pack_b(b, LD, k, bs, zp, got_b, with_sums ? got_s : NULL);
            if (memcmp(got_b, want_b, (size_t)k2 * AIS__QGEMM_NR * 2 * sizeof(int16_t)))
                fail_msg("isa %d it %d: q16_pack_b differs (k %lld)", isa, it, (long long)k);
            if (with_sums && memcmp(got_s, want_s, sizeof want_s))
                fail_msg("isa %d it %d: q16_pack_b's sums differ", isa, it);
            int64_t m = ais_test_randint(1, mr);
            ais__q16_pack_a(mr, a, as, m, k, ap);
            t->q16_ukernel(k2, ap, got_b, c);
            for (int64_t r = 0; r < m; r++)
                for (int j = 0; j < AIS__QGEMM_NR; j++) {
                    int32_t s = 0;
                    for (int64_t kk = 0; kk < k; kk++)
                        s += q_at(a, as, (size_t)(r * k + kk)) *
                             (q_at(b, bs, (size_t)(kk * LD + j)) - zp);
                    if (c[r * AIS__QGEMM_LDC + j] != s)
                        fail_msg("isa %d it %d: q16 (%lld, %d) got %d want %d (k %lld)", isa, it,
                                 (long long)r, j, c[r * AIS__QGEMM_LDC + j], s, (long long)k);
                }
        }
    }
    /* the portable kernel, on the same terms, when no level here has the path */
    if (!levels) {
        int16_t bp[4 * AIS__QGEMM_NR] = {0}, apr[4 * 2 * 2] = {0};
        bp[0] = 255;
        apr[0] = -128;
        ais__cpu_ref_q16_ukernel(4, 2, apr, bp, c);
        assert_int_equal(c[0], -128 * 255);
    }
}

/* The paired u8 path: ais__q8p_pair_rows on s8 weights (full range, 7-bit, and rows of one
 * extreme value) gives an order that takes every k once, pads only with -1 and has every pair
 * safe in every row; each level's q8p_pack_b equals the portable one (u8 and s8 inputs through
 * the flip) and its q8p_ukernel on those panels equals the direct int32 sum W (x ^ flip), as
 * does the portable kernel. */
static void test_q8p(void **state) {
    (void)state;
    enum { LD = 21, KMAX = 90, MMAX = 8 };
    int8_t w[MMAX * KMAX], ap[MMAX * (2 * KMAX + 8)];
    uint8_t x[KMAX * LD + 16], want_b[(2 * KMAX + 8) * AIS__QGEMM_NR],
        got_b[(2 * KMAX + 8) * AIS__QGEMM_NR];
    int32_t krows[2 * KMAX + 8];
    _Alignas(64) int32_t c[AIS__QGEMM_MR_MAX * AIS__QGEMM_LDC];
    for (int it = 0; it < 150; it++) {
        int64_t k = ais_test_randint(1, KMAX), m = ais_test_randint(1, 4);
        int kind = it % 4;
        for (int64_t i = 0; i < m * k; i++)
            w[i] = (int8_t)(kind == 0   ? ais_test_randint(-128, 127)
                            : kind == 1 ? ais_test_randint(-64, 63)
                            : kind == 2 ? (i % 2 ? 127 : -128)
                                        : ais_test_randint(-20, 20));
        if (kind == 3) w[ais_test_randint(0, m * k - 1)] = 127;
        for (size_t i = 0; i < sizeof x; i++)
            x[i] = (uint8_t)(it % 5 == 0 ? 0xff : ais_test_randint(0, 255));
        int64_t kp = ais__q8p_pair_rows(w, m, k, 2 * KMAX + 8, krows);
        assert_true(kp >= k && kp % 4 == 0 && kp <= 2 * k + 4);
        int seen[KMAX] = {0};
        for (int64_t q = 0; q < kp; q++) {
            assert_true(krows[q] >= -1 && krows[q] < k);
            if (krows[q] >= 0) seen[krows[q]]++;
        }
        for (int64_t j = 0; j < k; j++)
            assert_int_equal(seen[j], 1);
        for (int64_t r = 0; r < m; r++)
            for (int64_t q = 0; q < kp; q += 2) {
                int32_t w0 = krows[q] < 0 ? 0 : w[r * k + krows[q]];
                int32_t w1 = krows[q + 1] < 0 ? 0 : w[r * k + krows[q + 1]];
                if (!ais__q8p_pair_safe(w0, w1))
                    fail_msg("it %d: pair %lld of row %lld unsafe (%d, %d)", it, (long long)q,
                             (long long)r, w0, w1);
            }
        /* a limit below what is needed is refused */
        if (kind == 2 && k > 4) assert_int_equal(ais__q8p_pair_rows(w, m, k, k - 1, krows), -1);
        if (kind == 2 && k > 4) kp = ais__q8p_pair_rows(w, m, k, 2 * KMAX + 8, krows);
        uint8_t flip = it % 3 == 0 ? 0x80 : 0;
        int64_t k4 = kp / 4;
        ais__cpu_ref_q8p_pack_b(x, LD, krows, k4, flip, want_b);
        for (int isa = -1; isa <= AIS_CPU_ISA_AVX512_VNNI; isa++) {
            const ais__cpu_kernels *t = isa < 0 ? NULL : ais__cpu_for((ais_cpu_isa)isa);
            if (isa >= 0 && (!t || !t->q8p_ukernel)) continue;
            int mr = t ? t->qgemm_mr : 4;
            ais__q8p_pack_a(mr, w, m, k, krows, kp, ap);
            memset(c, 0x5a, sizeof c);
            if (t) {
                memset(got_b, 0x5a, sizeof got_b);
                t->q8p_pack_b(x, LD, krows, k4, flip, got_b);
                if (memcmp(got_b, want_b, (size_t)k4 * 64))
                    fail_msg("isa %d it %d: q8p_pack_b differs (k %lld)", isa, it, (long long)k);
                t->q8p_ukernel(k4, ap, got_b, c);
            } else {
                ais__cpu_ref_q8p_ukernel(mr, k4, ap, want_b, c);
            }
            for (int64_t r = 0; r < m; r++)
                for (int j = 0; j < AIS__QGEMM_NR; j++) {
                    int32_t s = 0;
                    for (int64_t kk = 0; kk < k; kk++)
                        s += (int32_t)w[r * k + kk] * (int32_t)(uint8_t)(x[kk * LD + j] ^ flip);
                    if (c[r * AIS__QGEMM_LDC + j] != s)
                        fail_msg("isa %d it %d: q8p (%lld, %d) got %d want %d (k %lld kp %lld)",
                                 isa, it, (long long)r, j, c[r * AIS__QGEMM_LDC + j], s,
                                 (long long)k, (long long)kp);
                }
        }
    }
}

/* ais__qgemm_pack_a (the natural order of k) and ais__qgemm_pack_a_rows (k in a given order, -1
 * a zero) against the layout written out: panels of mr rows, groups of 4 k, zero rows below m,
 * row sums over the natural order; contiguous and strided rows, u8 and s8. */
static void test_pack_a_orders(void **state) {
    (void)state;
    enum { MAXM = 13, MAXK = 23 };
    uint8_t a[MAXM * MAXK * 2];
    int32_t krows[MAXK + 8], sums[MAXM], want_sums[MAXM];
    for (int it = 0; it < 200; it++) {
        int mr = it % 2 ? 4 : 6;
        int64_t m = ais_test_randint(1, MAXM), k = ais_test_randint(1, MAXK);
        bool is_signed = ais_test_randint(0, 1), strided = ais_test_randint(0, 1);
        int64_t rs = strided ? 1 : 2 * k, cs = strided ? 2 * m : 1; /* the transpose: cs > 1 */
        for (size_t i = 0; i < sizeof a; i++)
            a[i] = (uint8_t)ais_test_randint(0, 255);
        bool ordered = it % 3 != 0;
        int64_t kp = ordered ? k + ais_test_randint(0, 5) : k; /* -1 entries pad the order */
        for (int64_t q = 0; q < kp; q++)
            krows[q] = q < k ? (int32_t)q : -1;
        for (int64_t q = kp - 1; q > 0 && ordered; q--) { /* shuffled */
            int64_t o = ais_test_randint(0, q);
            int32_t tmp = krows[q];
            krows[q] = krows[o];
            krows[o] = tmp;
        }
        int64_t k4 = (kp + 3) / 4, panels = (m + mr - 1) / mr;
        size_t bytes = (size_t)(panels * mr * k4 * 4);
        assert_int_equal(bytes, ais__qgemm_a_bytes(mr, m, kp));
        uint8_t *got = malloc(bytes), *want = malloc(bytes);
        assert_non_null(got);
        assert_non_null(want);
        uint8_t flip = is_signed ? 0x80 : 0;
        for (int64_t i = 0; i < panels * mr; i++) {
            uint32_t s = 0;
            for (int64_t q = 0; q < k4 * 4; q++) {
                int64_t c = q >= kp ? -1 : krows[q];
                uint8_t v = i < m && c >= 0 ? (uint8_t)(a[i * rs + c * cs] ^ flip) : 0;
                want[((i / mr) * k4 + q / 4) * mr * 4 + (i % mr) * 4 + q % 4] = v;
                s += v;
            }
            if (i < m) want_sums[i] = (int32_t)s;
        }
        memset(got, 0x5a, bytes);
        memset(sums, 0x5a, sizeof sums);
        if (ordered)
            ais__qgemm_pack_a_rows(mr, a, is_signed, rs, cs, m, krows, kp, got, sums);
        else
            ais__qgemm_pack_a(mr, a, is_signed, rs, cs, m, k, got, it % 6 ? sums : NULL);
        if (memcmp(got, want, bytes))
            fail_msg("it %d: packed A differs (m %lld k %lld mr %d cs %lld ordered %d)", it,
                     (long long)m, (long long)kp, mr, (long long)cs, ordered);
        if (ordered || it % 6) assert_memory_equal(sums, want_sums, sizeof(int32_t) * (size_t)m);
        free(got);
        free(want);
    }
}

/* qbin (QLinearAdd / QLinearMul) at every level against the formula written out: u8 and s8,
 * B per element and scalar, ratios of 0.5 (ties: half to even) and random ones, saturation. */
static void test_qbin(void **state) {
    (void)state;
    uint8_t a[77], b[77], y[77];
    for (int it = 0; it < 200; it++) {
        ais__qbin_args p = {.is_signed = it % 2, .mul = it % 3 == 0};
        p.za =
            p.is_signed ? (int32_t)ais_test_randint(-128, 127) : (int32_t)ais_test_randint(0, 255);
        p.zb =
            p.is_signed ? (int32_t)ais_test_randint(-128, 127) : (int32_t)ais_test_randint(0, 255);
        p.zc =
            p.is_signed ? (int32_t)ais_test_randint(-20, 20) : (int32_t)ais_test_randint(100, 150);
        p.ra = it % 4 == 1 ? 0.5f : (float)ais_test_uniform(0.1, 2);
        p.rb = it % 4 == 1 ? 0.5f : (float)ais_test_uniform(0.1, 2);
        p.rm = it % 4 == 1 ? 0.5f : (float)ais_test_uniform(1e-4, 0.05);
        int64_t n = ais_test_randint(0, 77), step = it % 5 == 0 ? 0 : 1;
        for (int i = 0; i < 77; i++) {
            a[i] = (uint8_t)ais_test_randint(0, 255);
            b[i] = (uint8_t)ais_test_randint(0, 255);
        }
        for (int isa = 0; isa <= AIS_CPU_ISA_AVX512_VNNI; isa++) {
            const ais__cpu_kernels *t = ais__cpu_for((ais_cpu_isa)isa);
            if (!t) continue; /* a level this machine lacks */
            memset(y, 0xa5, sizeof y);
            t->qbin(a, b, step, n, &p, y);
            for (int64_t i = 0; i < n; i++) {
                int32_t ai = p.is_signed ? (int8_t)a[i] : a[i];
                int32_t bi = p.is_signed ? (int8_t)b[i * step] : b[i * step];
                float va = (float)(ai - p.za), vb = (float)(bi - p.zb);
                float prod = va * vb, s0 = va * p.ra, s1 = vb * p.rb;
                float v = p.mul ? prod * p.rm : s0 + s1;
                double r = rint((double)v) + p.zc, lo = p.is_signed ? -128 : 0;
                double hi = p.is_signed ? 127 : 255;
                r = r < lo ? lo : r > hi ? hi : r;
                int32_t got = p.is_signed ? (int8_t)y[i] : y[i];
                if (got != (int32_t)r)
                    fail_msg("isa %s qbin it %d %s signed %d step %lld: y[%lld] %d want %d",
                             ais_cpu_isa_name((ais_cpu_isa)isa), it, p.mul ? "mul" : "add",
                             p.is_signed, (long long)step, (long long)i, got, (int32_t)r);
            }
            if (n < 77 && y[n] != 0xa5)
                fail_msg("isa %s qbin wrote past n", ais_cpu_isa_name((ais_cpu_isa)isa));
        }
    }
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_small_shapes),   cmocka_unit_test(test_edges),
        cmocka_unit_test(test_large_threaded), cmocka_unit_test(test_conversions),
        cmocka_unit_test(test_qbin),           cmocka_unit_test(test_qdw_plane),
        cmocka_unit_test(test_store_extremes), cmocka_unit_test(test_q16),
        cmocka_unit_test(test_q8p),
        cmocka_unit_test(test_pack_a_orders),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
