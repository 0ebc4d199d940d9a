/*
 * cpu.h - the CPU kernel layer: which instruction sets this processor (and its OS) offers, and
 * one table of kernels for the best instruction set the process allows.
 *
 * Operators (lib/ops) keep shape rules and the loop/thread drivers; the arithmetic inside a row
 * or a block goes through the table, so a kernel is written once per ISA here and chosen once per
 * process. Levels are ordered: each one's table starts from the level below and replaces the
 * entries it has its own code for, so a level never lacks an entry.
 *
 *   ref/           portable C (the reference every ISA is tested against)
 *   x86/avx2/      AVX2 + FMA, compiled with per-file target flags
 *   x86/avx512/    AVX-512 F/BW/VL/DQ, the same
 *   cpu_blas.c     the BLAS library as the GEMM provider
 *
 * The level in effect is min(what the CPU and OS support, AIS_CPU_ISA in the environment,
 * ais_set_cpu_isa()); see docs/design-decisions.md, "The CPU kernel layer". Depends only on
 * lib/common.
 */
#ifndef AIS_CPU_H
#define AIS_CPU_H

#include <aistack/ais_base.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* The fast layout of a tree ensemble that the tree walk reads (built by lib/ops/tree_engine.c):
 * per tree, 2^depth - 1 thresholds and feature words in heap order and 2^depth leaf values.
 * thr and fd stay readable 8 elements past the last tree's nodes: the SIMD walks load the top
 * levels of a tree (up to 8 nodes from the level's first) as one vector, whatever its depth. */
typedef struct ais__cpu_forest {
    size_t width;             /* outputs per row */
    const float *thr;         /* thresholds */
    const uint32_t *fd;       /* feature | default-right (NaN goes right) << 31 */
    const double *leaf;       /* leaf values, double sums (NULL in float32 mode) */
    const float *leaf32;      /* leaf values, float sums (float32 mode only) */
    const uint32_t *node_off; /* [n_trees] first threshold of each tree */
    const uint32_t *leaf_off; /* [n_trees] first leaf of each tree */
    const uint8_t *depth;     /* [n_trees] */
    const uint16_t *target;   /* [n_trees] the output each tree adds to */
} ais__cpu_forest;

/* Row sums of a tree walk: [rows * width], doubles or (float32 mode) floats. */
typedef union ais__cpu_tree_acc {
    double *d;
    float *f;
} ais__cpu_tree_acc;

/* What the GEMM does to each element of C after alpha op(A) op(B) + beta C, in the micro-kernel's
 * store (so a Gemm/Conv writes its output once): add bias[i * bias_rs + j * bias_cs] (bias_cs is
 * 0 or 1: a scalar, a row [n], a column [m, 1] or a full [m, n]), then the activation.
 * The activations are those of the unary operators, with the same formulas, so a fused node
 * agrees with the unfused pair: Relu keeps NaN; LeakyRelu x < 0 ? act_alpha x : x; Clip
 * min(max(x, act_alpha), act_beta) (every value act_beta when act_alpha > act_beta); Sigmoid,
 * Tanh, Gelu (erf) and GeluTanh through the table's vsigmoid/vtanh/verf, applied by the driver
 * to each tile right after its store, while the tile is in L1 (ais__gemm_act_rows). */
typedef enum ais__gemm_act {
    AIS__GEMM_ACT_NONE,
    AIS__GEMM_ACT_RELU,
    AIS__GEMM_ACT_LEAKY_RELU,
    AIS__GEMM_ACT_CLIP,
    AIS__GEMM_ACT_SIGMOID,
    AIS__GEMM_ACT_TANH,
    AIS__GEMM_ACT_GELU,
    AIS__GEMM_ACT_GELU_TANH,
} ais__gemm_act;
typedef struct ais__gemm_epilogue {
    const float *bias; /* NULL: none */
    int64_t bias_rs, bias_cs;
    ais__gemm_act act;
    float act_alpha, act_beta; /* LeakyRelu's alpha; Clip's min and max */
    /* A residual of C's shape added before the bias and the activation (a fused Add of a skip
     * connection): resid[i * resid_ld + j] (NULL: none). The micro-kernels never read it: the
     * driver copies each tile's residual into C before the tile's first k slice and accumulates
     * onto it, so act((resid + A B) + bias) is still stored once. */
    const float *resid;
    int64_t resid_ld;
} ais__gemm_epilogue;
/* Activations the micro-kernels apply in their store; the others go through ais__gemm_act_rows. */
static inline bool ais__gemm_act_inline(ais__gemm_act a) { return a <= AIS__GEMM_ACT_CLIP; }

/* What a convolution kernel does to each output after the sum and the bias (FusedConv's
 * activations that cost one instruction): CLAMP v = min(max(v, lo), hi) (Relu: lo 0, hi inf;
 * Clip), LEAKY v < 0 ? alpha v : v. NaN stays NaN. */
typedef enum ais__conv_act_kind {
    AIS__CONV_ACT_NONE,
    AIS__CONV_ACT_CLAMP,
    AIS__CONV_ACT_LEAKY
} ais__conv_act_kind;
typedef struct ais__conv_act {
    ais__conv_act_kind kind;
    float lo, hi, alpha;
} ais__conv_act;

/* A run of output pixels of a direct convolution on the blocked channel layout (NCHWc: channels
 * in blocks of `block`, the channels of a pixel contiguous inside a block), for one or two output
 * channel blocks. Output pixels are numbered q = oh * ow + ow_ in the output plane, and the run
 * [q0, q1) may span rows (so a 7-wide plane still fills a tile). x is zero-padded around (the
 * driver copies the input so): every tap of every output reads inside it, no bounds checks:
 *   y[b][q - q0][o] = act(bias[b * block + o] + sum over ib < n_icb, kh, kw, c < cb of
 *       x[ib * x_icb + (oh * sh + kh * dh) * x_row + (ow_ * sw + kw * dw) * cb + c] *
 *       w[b * w_ocb + ((ib * kh_n + kh) * kw_n + kw) * cb * block + c * block + o])
 * for q0 <= q < q1, o < block, b < nblk (1 to the table's conv_nchwc_nblk), y[b] = y + b * y_blk,
 * `block` floats a pixel.
 * cb is the input block: `block`, or fewer for a stem whose few input channels (3) make one
 * short block. bias NULL: none. */
typedef struct ais__nchwc_row {
    const float *x, *w, *bias;
    float *y;
    int64_t q0, q1, ow, n_icb, cb, kh, kw, sh, sw, dh, dw;
    int64_t x_icb, x_row, w_ocb, y_blk;
    int nblk, block;
    ais__conv_act act;
} ais__nchwc_row;

/* One plane of a depthwise 2-D convolution: input ih x iw, output oh x ow, kernel kh x kw,
 * strides, dilations and leading pads (the output extents already account for trailing pads). */
typedef struct ais__conv_dw_geom {
    int64_t ih, iw, oh, ow, kh, kw, sh, sw, dh, dw, ph, pw;
} ais__conv_dw_geom;

/* The depthwise kernels work on a zero-padded copy of the input plane, pw_ floats a row, with
 * rows and a tail to spare so that whole vectors never leave it, and write whole vectors of
 * outputs into a buffer of rows of at least ow + 32 floats. */
static inline int64_t ais__conv_dw_padded_width(const ais__conv_dw_geom *g) {
    int64_t need = (g->ow - 1) * g->sw + (g->kw - 1) * g->dw + 1;
    int64_t w = g->iw + g->pw > need ? g->iw + g->pw : need;
    return w + 1; /* a column to spare past the last window */
}
static inline int64_t ais__conv_dw_padded_rows(const ais__conv_dw_geom *g) {
    int64_t need = (g->oh - 1) * g->sh + (g->kh - 1) * g->dh + 1;
    return (g->ih + g->ph > need ? g->ih + g->ph : need) + 2;
}
/* Whether the padded plane is a sane size: pads and dilations come from the file, and a plane
 * over int32 a side or 2^40 floats would overflow ais__conv_dw_scratch_floats's int64 product
 * (and size a buffer smaller than the kernels write). Callers refuse it with AIS_E_LIMIT. */
static inline bool ais__conv_dw_plane_ok(const ais__conv_dw_geom *g) {
    int64_t r = ais__conv_dw_padded_rows(g), c = ais__conv_dw_padded_width(g);
    return r <= INT32_MAX && c <= INT32_MAX && r * c <= ((int64_t)1 << 40);
}
static inline size_t ais__conv_dw_scratch_floats(const ais__conv_dw_geom *g) {
    int64_t pw = ais__conv_dw_padded_width(g), ph = ais__conv_dw_padded_rows(g);
    int64_t out = g->oh * (pw > g->ow + 32 ? pw : g->ow + 32);
    return (size_t)((ph * pw + 128 + 15) / 16 * 16 + out + 128);
}

/* ---- int8 GEMM (cpu_qgemm.c) ----
 * C[i, j] = sum_k (A[i, k] - za_i) (B[k, j] - zb_j) for 8-bit A and B, computed as u8 A' times
 * s8 B' (s8 A is moved to u8 by +128, u8 B to s8 by -128: the zero points move with them), with
 * the zero-point terms from row sums of A' and column sums of B' (ais__qgemm_ep). Packed layouts:
 * A in panels of mr rows, ap[(p * k4 + kk) * mr * 4 + r * 4 + t] = A'[p * mr + r, 4 kk + t];
 * B in panels of 16 columns, bp[(q * k4 + kk) * 64 + j * 4 + t] = B'[4 kk + t, 16 q + j]; both
 * zero beyond m, n and k (k4 = ceil(k / 4)), so padding adds nothing. */
typedef struct ais__cpu_kernels ais__cpu_kernels;
#define AIS__QGEMM_NR 16
#define AIS__QGEMM_NP_MAX 4
#define AIS__QGEMM_MR_MAX 8
#define AIS__QGEMM_LDC (AIS__QGEMM_NR * AIS__QGEMM_NP_MAX)

typedef enum ais__qgemm_out {
    AIS__QGEMM_OUT_I32, /* the int32 sum (MatMulInteger, ConvInteger) */
    AIS__QGEMM_OUT_F32, /* (float)sum * fscale (+ fbias[j]) (DynamicQuantizeMatMul, QGemm) */
    AIS__QGEMM_OUT_U8,  /* requantized: round half to even, + zp, clamped to [qmin, qmax] */
    AIS__QGEMM_OUT_S8,
} ais__qgemm_out;

/* What the store does with each int32 sum raw(i, j) of the tile, for C's element (i, j):
 *   v = raw + row_add[i] + col_add[j] + row_mul[i] * col_mul[j]   (int32, wrapping; NULL: 0)
 * then by `out`: I32 stores v; F32 stores (float)v * fscale[s] (+ fbias[j]); U8/S8 store
 * clamp(rint(x) + zp, qmin, qmax) with x = (double)v * dscale[s] when dscale is set (the ONNX
 * reference's NumPy arithmetic), else (float)v * fscale[s] (ONNX Runtime's); s = i * scale_rs +
 * j * scale_cs (per tensor, row or column). NaN clamps to qmin. y + i * ldy + j (elements) is
 * where the value goes. */
typedef struct ais__qgemm_ep {
    ais__qgemm_out out;
    const int32_t *row_add, *col_add, *row_mul, *col_mul;
    const double *dscale;
    const float *fscale, *fbias;
    int64_t scale_rs, scale_cs;
    int32_t zp, qmin, qmax;
    void *y;
    int64_t ldy;
} ais__qgemm_ep;

/* A packed operand: data, its k, rows (A) or columns (B), and the sums (row sums of A', column
 * sums of B'; NULL when not computed). mr: A's panel height (the table's qgemm_mr). exact: see
 * qgemm_ukernel. */
typedef struct ais__qgemm_a {
    const uint8_t *data;
    const int32_t *sums;
    int64_t m, k;
    int mr;
    bool wide; /* the int16 pair layout of ais__q16_pack_a (ais__qgemm_run_cols only) */
    /* the paired u8 layout of ais__q8p_pack_a (ais__qgemm_run_cols only): kp columns (a
     * multiple of 4) taken from k by krows (cpu.h, "paired u8 path"); sums: raw row sums */
    const int32_t *krows;
    int64_t kp;
} ais__qgemm_a;
typedef struct ais__qgemm_b {
    const int8_t *data;
    const int32_t *sums;
    int64_t n, k;
    bool exact;
    /* NULL, or the order of k the panels were packed in (k entries, ais__q8p_pair_rows's: -1 a
     * zero row), which A must be packed in too (ais__qgemm_pack_a_rows) */
    const int32_t *krows;
} ais__qgemm_b;

/* Bytes of a packed A (m x k, panels of mr) and B (k x n). */
size_t ais__qgemm_a_bytes(int mr, int64_t m, int64_t k);
size_t ais__qgemm_b_bytes(int64_t k, int64_t n);
/* Packs A[i, k] = a[i * rs + k * cs] (u8, or s8 when is_signed) into dst; sums (m int32, NULL:
 * skipped) gets the row sums of A'. */
void ais__qgemm_pack_a(int mr, const void *a, bool is_signed, int64_t rs, int64_t cs, int64_t m,
                       int64_t k, uint8_t *dst, int32_t *sums);
/* Packs B[k, j] = b[k * rs + j * cs] into dst; sums (n int32, NULL: skipped) gets the column sums
 * of B'; *exact (NULL: skipped) whether a pair of B' along k may saturate vpmaddubsw's int16
 * (255 |b0 + b1| over 32767 for same-signed parts; true when in doubt). */
/* ais__qgemm_pack_a and ais__qgemm_pack_b with the rows of k taken in the order krows (k
 * entries now, -1 a zero; the sums are those of the natural order). ais__qgemm_pack_a is
 * ais__qgemm_pack_a_rows with krows NULL: the natural order. */
void ais__qgemm_pack_a_rows(int mr, const void *a, bool is_signed, int64_t rs, int64_t cs,
                            int64_t m, const int32_t *krows, int64_t k, uint8_t *dst,
                            int32_t *sums);
void ais__qgemm_pack_b_rows(const void *b, bool is_signed, int64_t rs, int64_t cs,
                            const int32_t *krows, int64_t k, int64_t n, int8_t *dst, int32_t *sums);
void ais__qgemm_pack_b(const void *b, bool is_signed, int64_t rs, int64_t cs, int64_t k, int64_t n,
                       int8_t *dst, int32_t *sums, bool *exact);
/* C = A B through table t's micro-kernel and store, tiles split over the pool's threads (NULL or
 * small products: serial). a->mr must be t->qgemm_mr and a->k == b->k. */
struct ais__pool;
void ais__qgemm_run(struct ais__pool *pool, const ais__cpu_kernels *t, const ais__qgemm_a *a,
                    const ais__qgemm_b *b, const ais__qgemm_ep *ep);
/* dst[o] = src[2 o] for o < n, reading no byte past src[2 (n - 1)] (stride-2 convolution
 * columns). */
void ais__q8_stride2(const uint8_t *src, uint8_t *dst, int64_t n);
/* A B that is not stored but made block by block inside the tile loop (a convolution's
 * columns): pack(ctx, j0, n, dst, sums, work) packs columns [j0, j0 + n) of B (n <= width)
 * into dst as ais__qgemm_pack_b does for that many columns (panels of 16 from dst, each the
 * size of one panel of A's layout over A's packed k: zero beyond n) and their column sums of B'
 * into sums[0, n); work: work_bytes of the caller's, its own per slot. */
typedef struct ais__qgemm_cols {
    void (*pack)(void *ctx, int64_t j0, int64_t n, int8_t *dst, int32_t *sums, uint8_t *work);
    void *ctx;
    size_t work_bytes;
    int64_t width; /* columns of a block: ais__qgemm_cols_width's */
    /* sums_mul != 0: every row's row_mul would be this one value, so the store gets the block's
     * column sums times it as col_add (ep->row_mul and ep->col_add NULL): one add per value
     * instead of a 32-bit multiply (s8 weights: the moved zero point 128 of every channel). */
    int32_t sums_mul;
} ais__qgemm_cols;
/* The columns of one block of B for products of at most k (packed) rows: a multiple of 16, at
 * most AIS__QGEMM_LDC. Tables of one panel per kernel call (AVX2) take up to four panels a
 * block while the block stays small, so that each row panel's tile is stored as 64 bytes of
 * consecutive output per row in one call of the store (16 bytes per row and call, at a stride
 * of the whole plane, made the store a large part of a 1x1 convolution's time). */
int64_t ais__qgemm_cols_width(const ais__cpu_kernels *t, int64_t k);
/* Scratch bytes of one slot of ais__qgemm_run_cols for blocks of `width` columns over at most
 * k packed rows (64-byte multiple). */
size_t ais__qgemm_cols_slot_bytes(const ais__cpu_kernels *t, int64_t k, int64_t width,
                                  size_t work_bytes);
/* C = A B with B from src (n columns of a->k), through ep as ais__qgemm_run (ep->col_mul is
 * replaced by the packed block's column sums when ep->row_mul is set). Each of up to `slots`
 * threads packs a block of B and runs every row panel on it while it is in cache; scratch holds
 * `slots` times ais__qgemm_cols_slot_bytes, 64-byte aligned. */
void ais__qgemm_run_cols(struct ais__pool *pool, const ais__cpu_kernels *t, const ais__qgemm_a *a,
                         int64_t n, const ais__qgemm_cols *src, const ais__qgemm_ep *ep,
                         int32_t slots, void *scratch);
/* ---- the int16 pair path of the int8 convolutions (AVX2 without VNNI) ----
 * vpmaddubsw adds its two u8 x s8 products into int16 with saturation, so exact sums on AVX2
 * need the split of ais__qgemm_ukernel's exact path: four multiplies per 32 products. Nearly
 * every row of per-channel s8 weights has a pair that may saturate (a channel's largest weight
 * is 127), so the convolutions always paid that. Widened to int16 instead (as ONNX Runtime's
 * MLAS does for its exact u8 x u8 AVX2 kernel), one vpmaddwd does 16 products exactly: 32
 * products in two multiplies. The activations are widened with x_zero_point subtracted
 * (|x - xz| <= 255), the weights raw (s8 or u8), so every pair sum fits int32 and the only
 * zero-point term left is -w_zero_point times the column sums of x - xz.
 * Layouts (k2 = ceil(k / 2)), zero beyond m and k:
 *   A in panels of mr rows: ap[(p * k2 + kk) * mr * 2 + r * 2 + t] = A[p * mr + r, 2 kk + t];
 *   B, one panel of 16 columns: bp[(kk * 16 + j) * 2 + t] = B[2 kk + t, j]. */
size_t ais__q16_a_bytes(int mr, int64_t m, int64_t k);
/* ---- the paired u8 path of the int8 convolutions (AVX2 without VNNI) ----
 * vpmaddubsw(u8 x, s8 w) adds x0 w0 + x1 w1 into int16 with saturation. For u8 activations x in
 * [0, 255] that sum cannot saturate when the weights' positive parts add to at most 128 and
 * their negative parts to at least -128 (255 * 128 = 32640): a property of the weight pair
 * alone, checked at load. Full-range per-channel weights fail it for some pair of nearly every
 * row in k's natural order (a channel's largest weight is 127), but the pairs are ours to
 * choose: ais__q8p_pair_rows orders k so that every pair is safe for every row of the matrix,
 * pairing a k that no other k suits with a zero column. The kernel then multiplies the u8
 * activations (the vector operand) by the s8 weights (broadcast) with one vpmaddubsw per 32
 * products, exactly, on half the bytes of the int16 pair path.
 * Layouts (k4 = kp / 4; krows[kk] in [0, k) or -1 for a zero column), zero beyond m:
 *   A in panels of mr rows: ap[(p * k4 + kk) * mr * 4 + r * 4 + t] = W[p * mr + r, krows[4kk+t]];
 *   B, one panel of 16 columns: bp[(kk * 16 + j) * 4 + t] = X[krows[4 kk + t], j] ^ flip. */
/* Whether the s8 pair (w0, w1) times any two u8 values sums inside int16. */
static inline bool ais__q8p_pair_safe(int32_t w0, int32_t w1) {
    int32_t pos = (w0 > 0 ? w0 : 0) + (w1 > 0 ? w1 : 0),
            neg = (w0 < 0 ? w0 : 0) + (w1 < 0 ? w1 : 0);
    return pos <= 128 && neg >= -128;
}
/* The order of k for the s8 matrix w [m, k] (row-major) whose pairs are all safe: krows gets kp
 * entries (kp a multiple of 4, returned), at most max_kp; -1 when more would be needed or memory
 * is short (the caller takes another path). */
int64_t ais__q8p_pair_rows(const int8_t *w, int64_t m, int64_t k, int64_t max_kp, int32_t *krows);
size_t ais__q8p_a_bytes(int mr, int64_t m, int64_t kp);
/* Packs w [m, k] (s8, row-major) in the order krows (kp entries) into dst. */
void ais__q8p_pack_a(int mr, const int8_t *w, int64_t m, int64_t k, const int32_t *krows,
                     int64_t kp, int8_t *dst);
/* The portable table entries of the paired path (the references): see q8p_ukernel and
 * q8p_pack_b. */
void ais__cpu_ref_q8p_ukernel(int mr, int64_t k4, const int8_t *ap, const uint8_t *bp, int32_t *c);
void ais__cpu_ref_q8p_pack_b(const uint8_t *src, int64_t ld, const int32_t *krows, int64_t k4,
                             uint8_t flip, uint8_t *dst);
/* Packs A[i, k] = a[i * k + k] (row-major, u8 or s8 when is_signed) widened into dst. */
void ais__q16_pack_a(int mr, const uint8_t *a, bool is_signed, int64_t m, int64_t k, int16_t *dst);
/* The portable table entries of this path (the references of the SIMD ones): the micro-kernel
 * (mr rows) and the B panel's packing; see the table's q16_ukernel and q16_pack_b. */
void ais__cpu_ref_q16_ukernel(int mr, int64_t k2, const int16_t *ap, const int16_t *bp, int32_t *c);
void ais__cpu_ref_q16_pack_b(const uint8_t *src, int64_t ld, int64_t k, bool is_signed, int32_t zp,
                             int16_t *dst, int32_t *sums);
/* The portable store (the reference every level's store is tested against; the SIMD stores use
 * it for their edges). */
void ais__cpu_ref_qgemm_store(const ais__qgemm_ep *ep, const int32_t *c, int64_t i0, int64_t j0,
                              int rows, int cols);
/* QLinearAdd / QLinearMul as ONNX Runtime's MLAS computes them, in float32 without contraction:
 * va = a - za, vb = b - zb; v = va * ra + vb * rb (add) or va * vb * rm (mul); y = clamp(
 * nearbyint(v) + zc) to u8, or s8 when is_signed. */
typedef struct ais__qbin_args {
    bool is_signed, mul;
    int32_t za, zb, zc;
    float ra, rb, rm;
} ais__qbin_args;
void ais__cpu_ref_qbin(const uint8_t *a, const uint8_t *b, int64_t b_step, int64_t n,
                       const ais__qbin_args *p, uint8_t *y);
/* The portable int8 depthwise plane (the table's qdw_plane; the SIMD ones use it for the
 * strides they do not vectorize). */
void ais__cpu_ref_qdw_plane(const uint8_t *x, bool is_signed, int32_t xz, const int16_t *w,
                            const ais__conv_dw_geom *g, int32_t *acc);
/* The pair-row kernels' weights (x86 avx2/avx512 qdw_plane, one vpmaddwd for two taps): row
 * kh's taps 2 pk and 2 pk + 1 as the 16-bit halves of wp[kh * npk + pk] (the odd kernel's last
 * pair with 0 above); npk = (kw + 1) / 2, wp holds kh * npk. */
static inline void ais__qdw_tap_pairs(const int16_t *w, const ais__conv_dw_geom *g, int npk,
                                      int32_t *wp) {
    for (int64_t kh = 0; kh < g->kh; kh++)
        for (int pk = 0; pk < npk; pk++) {
            int64_t kw = 2 * pk;
            uint32_t w0 = (uint16_t)w[kh * g->kw + kw];
            uint32_t w1 = kw + 1 < g->kw ? (uint16_t)w[kh * g->kw + kw + 1] : 0;
            wp[kh * npk + pk] = (int32_t)(w0 | w1 << 16);
        }
}
/* The portable conversions of the int8 depthwise path (the SIMD ones use them for tails). */
void ais__cpu_ref_q8_to_f32(const uint8_t *x, bool is_signed, int32_t zp, float *y, int64_t n);
void ais__cpu_ref_f32_to_i32(const float *y, int32_t *c, int64_t n);
/* Fills the int8 entries of the table of `level` (called by cpu_features.c after the other fills).
 */
void ais__cpu_fill_qgemm(ais__cpu_kernels *k, int level);
void ais__cpu_fill_ref_qgemm(ais__cpu_kernels *k);
void ais__avx2_fill_qgemm(ais__cpu_kernels *k);
void ais__avx512_fill_qgemm(ais__cpu_kernels *k);
void ais__avx512_vnni_fill_qgemm(ais__cpu_kernels *k);

/* Rows one block walk takes at most (and the row count the SIMD walks are built for). */
#define AIS__CPU_TREE_ROWS 16

typedef struct ais__cpu_kernels {
    ais_cpu_isa isa; /* the level that filled this table */

    /* ---- GEMM ----
     * C[m,n] = alpha * op(A) op(B) + beta * C, row-major, op(X) = X^T when trans_x; lda, ldb, ldc
     * are the row strides as stored. The provider is BLAS (cpu_blas.c) or, at the AVX2 and AVX-512
     * levels, our packed GEMM (sgemm_ex below) for the shapes where it measured faster
     * (ais__gemm_ours_wins). */
    void (*sgemm)(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, float alpha,
                  const float *a, int64_t lda, const float *b, int64_t ldb, float beta, float *c,
                  int64_t ldc);
    void (*dgemm)(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, double alpha,
                  const double *a, int64_t lda, const double *b, int64_t ldb, double beta,
                  double *c, int64_t ldc);
    /* The micro-kernel slot (BLIS style), for the packed GEMM that issue 11 builds: panels of
     * gemm_mr rows of A and gemm_nr columns of B, each k deep.
     *  gemm_pack_a: A[m0 + i, p] (op(A), strides as in sgemm) -> ap[p * mr + i], zero beyond m.
     *  gemm_pack_b: op(B)[p, n0 + j] -> bp[p * nr + j], zero beyond n.
     *  gemm_ukernel: c[i * ldc + j] = ap . bp (+ c when accumulate) for i < mr_used, j < nr_used.
     */
    int gemm_mr, gemm_nr;
    void (*gemm_pack_a)(bool trans_a, const float *a, int64_t lda, int64_t m0, int64_t m, int64_t k,
                        float *ap);
    void (*gemm_pack_b)(bool trans_b, const float *b, int64_t ldb, int64_t n0, int64_t n, int64_t k,
                        float *bp);
    void (*gemm_ukernel)(int64_t k, const float *ap, const float *bp, float *c, int64_t ldc,
                         int mr_used, int nr_used, bool accumulate);
    /* The same with the epilogue applied in the store (ep NULL: none; ep->bias already points at
     * the tile's first element). */
    void (*gemm_ukernel_ep)(int64_t k, const float *ap, const float *bp, float *c, int64_t ldc,
                            int mr_used, int nr_used, bool accumulate,
                            const ais__gemm_epilogue *ep);
    /* Cache blocking of the packed GEMM (cpu_gemm.c): a kc x nr panel of B stays in L1, an mc x kc
     * block of A in L2, a kc x nc block of B in L2/L3. */
    int64_t gemm_mc, gemm_kc, gemm_nc;
    /* nc for a product of one row block (m <= mc) where B's panel stays in L1: no other row
     * block reuses B's block there, so it should come back from L2 rather than L3 after packing;
     * 0: gemm_nc */
    int64_t gemm_nc_one_block;
    /* Our packed GEMM (cpu_gemm.c driving this level's micro-kernel), always, whatever the shape:
     * sgemm's arguments plus b_packed (NULL: B is packed per call from b, ldb, trans_b; else the
     * output of gemm_prepack_b of this same table for this k and n, and b, ldb, trans_b are
     * ignored), the epilogue (NULL: none) and scratch: gemm_scratch_size(m, n, k, packed) floats,
     * 64-byte aligned (an operator's ais__op_scratch), or NULL to allocate it for the call (a
     * fresh allocation of that size can cost more page faults than a small product takes).
     * sgemm chooses between this and BLAS per shape. */
    void (*sgemm_ex)(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, float alpha,
                     const float *a, int64_t lda, const float *b, int64_t ldb,
                     const float *b_packed, float beta, float *c, int64_t ldc,
                     const ais__gemm_epilogue *ep, float *scratch);
    size_t (*gemm_scratch_size)(int64_t m, int64_t n, int64_t k, bool b_packed);
    /* Pre-packed B (a constant weight, packed once by an operator's prepare): the floats
     * gemm_prepack_b writes for op(B) of k x n, and the packing itself. */
    size_t (*gemm_packed_b_size)(int64_t k, int64_t n);
    void (*gemm_prepack_b)(bool trans_b, const float *b, int64_t ldb, int64_t k, int64_t n,
                           float *dst);

    /* ---- vector math: y[i] = f(x[i]) for i < n; y == x is allowed, other overlap is not ----
     * NaN gives NaN, infinities and huge inputs give the function's limits. The SIMD versions
     * stay within a few ulp of ref/ (the bound is in tests/unit/test_cpu_kernels.c). */
    void (*vexp)(const float *x, float *y, size_t n);
    void (*verf)(const float *x, float *y, size_t n);
    void (*vtanh)(const float *x, float *y, size_t n);
    void (*vsigmoid)(const float *x, float *y, size_t n);

    /* ---- rows ----
     * softmax_row: y = exp(x - max) / sum, log_softmax_row: y = (x - max) - log(sum), for one
     * contiguous row of n >= 1 (y == x allowed). A row with NaN or an infinite maximum gives NaN
     * throughout, as the exact formula does. */
    void (*softmax_row)(const float *x, float *y, size_t n);
    void (*log_softmax_row)(const float *x, float *y, size_t n);
    /* Sum, maximum (NaN if any element is NaN; -inf for n == 0) and sum of squares of n floats.
     * Sums are accumulated in several partial sums, so they may differ from a left-to-right loop
     * in the last bits. */
    float (*row_sum)(const float *x, size_t n);
    float (*row_max)(const float *x, size_t n);
    float (*row_sumsq)(const float *x, size_t n);

    /* ---- tree ensembles ----
     * Trees [t0, t1) of f for nr <= AIS__CPU_TREE_ROWS rows of x (row stride cols floats) into
     * acc ([nr * width], float sums when f32). Offsets into x must fit in int32 for the SIMD
     * walks: the caller passes cols <= INT32_MAX / 32. */
    void (*tree_block)(const ais__cpu_forest *f, size_t t0, size_t t1, const float *x, size_t cols,
                       size_t nr, ais__cpu_tree_acc acc, bool f32);

    /* ---- transformer rows (issue 11 item 3) ----
     * layernorm_row: y = (x - mean) / sqrt(var + eps) * scale + bias over one contiguous row of
     * n floats (y == x allowed; scale, bias NULL: 1 and 0). Mean and variance come from one pass
     * over x (sums of x - x[0], so a large common offset does not cancel the variance away);
     * the biased variance, as LayerNormalization defines it. NaN or infinities give NaN. */
    void (*layernorm_row)(const float *x, float *y, size_t n, float eps, const float *scale,
                          const float *bias);
    /* ---- image resampling (lib/image/image_ops.c) ----
     * One output row of Pillow's 8-bit resampling: dst[i] = clip8((2^21 + sum over t < taps of
     * src[t * stride + i] * k[t]) >> 22) for i < n, clip8 clamping to [0, 255]. Exact integer
     * arithmetic: every level gives the same bytes. */
    void (*resample_u8_row)(const uint8_t *src, size_t stride, const int32_t *k, int taps,
                            uint8_t *dst, size_t n);
    /* One output row of the horizontal pass over 3-byte (RGB) pixels, for x < n and channel c:
     * dst[3x + c] = clip8(2^21 + sum over t < taps of src[off[t * n + x] + c] * k[t * n + x]),
     * the same rounding. The tables are tap-major (a tap beyond a pixel's own has weight 0).
     * Reads up to 1 byte past src[off + 2] and writes up to 16 bytes past dst[3n - 1]. */
    void (*resample_rgb_row)(const uint8_t *src, const int32_t *off, const int32_t *k, int taps,
                             uint8_t *dst, size_t n);
    /* ---- convolution (lib/ops/conv.c drives them) ----
     * conv_dw: y[o] = act(bias + sum over taps of w[tap] x[under tap]) for one output plane of
     * a depthwise convolution (x one input plane, w its kh * kw weights; padding reads 0);
     * scratch: ais__conv_dw_scratch_floats(g) floats, 64-byte aligned.
     * conv_act: y[i] = act(y[i] + bias) for i < n, in place. */
    void (*conv_dw)(const float *x, const float *w, float bias, float *y,
                    const ais__conv_dw_geom *g, const ais__conv_act *act, float *scratch);
    void (*conv_act)(float *y, size_t n, float bias, const ais__conv_act *act);
    /* pool_max2d: MaxPool of one plane (g as for conv_dw: kernel, strides, dilations, pads; the
     * padding never wins), scratch as for conv_dw. A NaN is kept when it is a window's first
     * element and skipped after, as lib/ops/pool.c's loop does. */
    void (*pool_max2d)(const float *x, float *y, const ais__conv_dw_geom *g, float *scratch);

    /* ---- int8 GEMM (issue 18; cpu_qgemm.c drives it, layouts and rules there) ----
     * qgemm_ukernel: the int32 tile c[r * AIS__QGEMM_LDC + q * 16 + j] = sum over kk < k4, t < 4
     * of ap[(kk * mr + r) * 4 + t] * bp[q * bstride + (kk * 16 + j) * 4 + t] for every r < mr
     * (qgemm_mr) and j < 16 of the np <= qgemm_np B panels (u8 A panel, s8 B panels, wrapping
     * int32 sums). exact: the B panels hold pairs whose u8 x s8 sums may leave int16, so a kernel
     * built on vpmaddubsw must take its exact path (VNNI and ref/ ignore it).
     * qgemm_store: the epilogue of such a tile (rows x cols used, at (i0, j0) of C). */
    int qgemm_mr, qgemm_np;
    void (*qgemm_ukernel)(int64_t k4, const uint8_t *ap, const int8_t *bp, int64_t bstride, int np,
                          bool exact, int32_t *c);
    void (*qgemm_store)(const struct ais__qgemm_ep *ep, const int32_t *c, int64_t i0, int64_t j0,
                        int rows, int cols);
    /* The int16 pair path (cpu.h, above ais__q16_a_bytes; NULL: the level's convolutions take
     * the u8 x s8 kernel, which is exact and fast there: VNNI, or the reference).
     * q16_ukernel: c[r * AIS__QGEMM_LDC + j] = sum over kk < k2, t < 2 of ap[(kk * mr + r) * 2 +
     * t] * bp[(kk * 16 + j) * 2 + t], r < qgemm_mr, j < 16 (int32; exact for |values| <= 255).
     * q16_pack_b: 16 columns of k rows, column j of row kk read at src[kk * ld + j] (16 bytes
     * readable per row), minus zp, into the B panel at dst; sums (NULL: skipped) gets the 16
     * column sums of the values minus zp. */
    void (*q16_ukernel)(int64_t k2, const int16_t *ap, const int16_t *bp, int32_t *c);
    void (*q16_pack_b)(const uint8_t *src, int64_t ld, int64_t k, bool is_signed, int32_t zp,
                       int16_t *dst, int32_t *sums);
    /* The paired u8 path (cpu.h, above ais__q8p_pair_rows; NULL: the level has none).
     * q8p_ukernel: c[r * AIS__QGEMM_LDC + j] = sum over kk < k4, t < 4 of ap[(kk * mr + r) * 4 +
     * t] * bp[(kk * 16 + j) * 4 + t], r < qgemm_mr, j < 16 (s8 A, u8 B); exact when every pair
     * (t = 0, 1 and 2, 3) of A is safe (ais__q8p_pair_safe), which the packing guarantees.
     * q8p_pack_b: 16 columns, row krows[4 kk + t] of src (16 bytes readable at src[r * ld]),
     * each byte xor flip, into the B panel at dst; a -1 row gives zeros. */
    void (*q8p_ukernel)(int64_t k4, const int8_t *ap, const uint8_t *bp, int32_t *c);
    void (*q8p_pack_b)(const uint8_t *src, int64_t ld, const int32_t *krows, int64_t k4,
                       uint8_t flip, uint8_t *dst);
    /* ---- the blocked (NCHWc) direct convolution (lib/ops/conv_nchwc.c drives it) ----
     * conv_nchwc_block: the channel block of this level's conv_nchwc_row (16 AVX-512, 8 AVX2;
     * 0: the level has none and convolutions take the other paths). The portable row (for any
     * block) is ais__cpu_ref_conv_nchwc_row, the reference the SIMD rows are tested against. */
    void (*conv_nchwc_row)(const ais__nchwc_row *a);
    int conv_nchwc_block;
    int conv_nchwc_nblk; /* output blocks one call of conv_nchwc_row takes at most (its tile) */
    /* conv_nchwc_unblock: n pixels of one block of `block` channels, [n][block] floats at src,
     * into the NCHW rows of its first ch (<= block) channels, dst[c * ld_dst + i] = src[i * block
     * + c]; ais__cpu_ref_conv_nchwc_unblock is the portable one. */
    void (*conv_nchwc_unblock)(const float *src, int64_t n, int64_t block, int64_t ch, float *dst,
                               int64_t ld_dst);
    /* The int8 depthwise convolution's conversions around the float depthwise kernel (qlinear.c):
     * q8_to_f32: y[i] = x[i] - zp for n 8-bit x (s8 when is_signed), in float (exact);
     * f32_to_i32: c[i] = (int32_t)y[i] for n floats that hold integers in int32's range. */
    void (*q8_to_f32)(const uint8_t *x, bool is_signed, int32_t zp, float *y, int64_t n);
    void (*f32_to_i32)(const float *y, int32_t *c, int64_t n);
    /* qbin: QLinearAdd / QLinearMul over n elements (qlinear_ms.c), b read at b[i * b_step]
     * (b_step 1, or 0 for a scalar B); see ais__qbin_args. */
    void (*qbin)(const uint8_t *a, const uint8_t *b, int64_t b_step, int64_t n,
                 const struct ais__qbin_args *p, uint8_t *y);
    /* ---- depthwise 3x3 / 5x5 convolution straight from NCHW (lib/ops/conv_depthwise.c) ----
     * dwconv_planes: conv_dw's result for n consecutive channels, plane c reading x + c * ih * iw
     * with weights w + c * kh * kw and bias[c] (bias NULL: 0), writing y + c * oh * ow, bias and
     * act in the store. For the shapes ais__dwconv_suits accepts the SIMD levels read x in place
     * and write y once (no padded copy, no scratch); other shapes go to the portable plane. */
    void (*dwconv_planes)(const float *x, const float *w, const float *bias, float *y, int64_t n,
                          const ais__conv_dw_geom *g, const ais__conv_act *act);
    /* conv_pw_small: a pointwise (1x1, stride 1) convolution of few input channels on NCHW,
     * y[co * ld + q] = act(bias[co] + sum_c w[co * k + c] * x[c * ld + q]) for co < m and
     * q in [q0, q1) (bias NULL: 0), reading x in place with the weights broadcast (no packing,
     * so a depth of 16 does not pay the GEMM's per-tile overhead 16 k steps at a time). NULL
     * where the level has none (conv.c then takes the GEMM path); the portable result is
     * ais__cpu_ref_conv_pw. */
    void (*conv_pw_small)(const float *x, const float *w, const float *bias, float *y, int64_t k,
                          int64_t m, int64_t ld, int64_t q0, int64_t q1, const ais__conv_act *act);
    /* ---- Winograd F(4x4, 3x3) transforms (lib/ops/conv_winograd.c drives them) ----
     * Channels-last tiles, for each channel ch < n (vectors across channels):
     * wino_in: the 6x6 input tile d[i][j] = x[i * ld_row + j * ld_pix + ch] to V = B^T d B,
     *   v[(i * 6 + j) * ld_v + ch] = V[i][j];
     * wino_out: the 6x6 product tile M[i][j] = m[(i * 6 + j) * ld_m + ch] to the 4x4 outputs
     *   Y = A^T M A + bias[ch] (bias NULL: 0), channel-major: y[ch * ld_y + i * 4 + j] = Y[i][j]
     *   (ld_y >= 16), so that each output channel's 16 values are contiguous for the NCHW store;
     * wino_chlast: one row of an NCHW plane set to channels-last, d[col * ld_d + ch] =
     *   x[ch * ld_ch + col] for ch < n, col < w (the input's copy before wino_in).
     * B^T and A^T are Lavin and Gray's (interpolation points 0, +-1, +-2, infinity); the
     * portable ones (ais__cpu_ref_wino_*) are the reference the SIMD ones are tested against. */
    void (*wino_in)(const float *x, int64_t ld_row, int64_t ld_pix, int64_t n, float *v,
                    int64_t ld_v);
    void (*wino_out)(const float *m, int64_t ld_m, int64_t n, const float *bias, float *y,
                     int64_t ld_y);
    void (*wino_chlast)(const float *x, int64_t ld_ch, int64_t n, int64_t w, float *d,
                        int64_t ld_d);
    /* qdw_plane: one plane of the int8 depthwise convolution (qlinear.c): acc[oh * ow + ow] =
     * sum over taps (kh, kw) of (x[ih, iw] - xz) * w[kh * kw_n + kw] with the geometry of
     * conv_dw, x an ih x iw plane of u8 (s8 when is_signed), positions in the padding adding
     * nothing; w the taps minus the weight's zero point (|w| <= 255), the sums exact in int32.
     * NULL: the level has none, and the float kernel above serves (q8_to_f32, conv_dw). The
     * portable one, ais__cpu_ref_qdw_plane, is the reference. */
    void (*qdw_plane)(const uint8_t *x, bool is_signed, int32_t xz, const int16_t *w,
                      const ais__conv_dw_geom *g, int32_t *acc);
    /* DynamicQuantizeLinear's passes (lib/ops/quantize.c, ais__qdq_dynamic): dynq_minmax
     * lowers *mn and raises *mx to the minimum and maximum of n floats, NaN skipped; dynq_row
     * writes y[i] = saturate(round_half_even(x[i] / s) + zp) as u8, NaN -> 0 (zp a whole number
     * in [0, 255]). NULL: the level has none, and the portable ones of lib/ops/qdq_rows.c (the
     * reference) serve. */
    void (*dynq_minmax)(const float *x, size_t n, float *mn, float *mx);
    void (*dynq_row)(const float *x, float s, float zp, uint8_t *y, size_t n);
    /* vgelu: y[i] = (0.5 x[i]) (1 + verf(x[i] * 0.70710678f)), the float operations of
     * lib/ops/unary.c's Gelu in one pass (y may be x). NULL: the level has none (unary.c's loop
     * around verf serves). */
    void (*vgelu)(const float *x, float *y, size_t n);
    /* lrn_row: LRN (lib/ops/norm.c) over one row of n positions of one channel,
     * y[i] = xc[i] * (bias + alpha_n * sum over k < nk of xw[k * plane + i]^2)^-beta, xw the
     * window's first channel at the same positions, plane the distance between channels. The
     * portable one (the reference) sums left to right and divides by powf; the SIMD ones sum with
     * FMA and, for beta 0.75 (every LRN of the ONNX model zoo's CNNs), take the power from two
     * square roots, else from vector log and exp; within a few ulp (tests/unit/test_cpu_kernels.c).
     * A position whose base is not a positive normal float (zero, NaN, infinite, a negative
     * bias) is done the reference's way. */
    void (*lrn_row)(const float *xw, int64_t plane, int64_t nk, const float *xc, float *y, size_t n,
                    float alpha_n, float beta, float bias);
} ais__cpu_kernels;

/* The table of the level in effect (filled on first use; never NULL; safe from any thread). */
const ais__cpu_kernels *ais__cpu(void);
/* The table of one level, NULL when this CPU (or build) lacks it: for tests and benchmarks,
 * which compare every level the machine has. Ignores the overrides. */
const ais__cpu_kernels *ais__cpu_for(ais_cpu_isa isa);
/* The best level the CPU and OS support, before any override. */
ais_cpu_isa ais__cpu_isa_detected(void);

/* BLAS (cpu_blas.c). */
void ais__sgemm(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, float alpha,
                const float *a, int64_t lda, const float *b, int64_t ldb, float beta, float *c,
                int64_t ldc);
void ais__dgemm(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, double alpha,
                const double *a, int64_t lda, const double *b, int64_t ldb, double beta, double *c,
                int64_t ldc);

/* The packed GEMM driver (cpu_gemm.c) over table t's micro-kernel, packing and blocking; the
 * levels' sgemm_ex, gemm_packed_b_size and gemm_prepack_b entries are these with t bound to their
 * own table (AIS__GEMM_ENTRIES). Falls back to BLAS when scratch cannot be allocated. */
void ais__gemm_drive(const ais__cpu_kernels *t, bool trans_a, bool trans_b, int64_t m, int64_t n,
                     int64_t k, float alpha, const float *a, int64_t lda, const float *b,
                     int64_t ldb, const float *b_packed, float beta, float *c, int64_t ldc,
                     const ais__gemm_epilogue *ep, float *scratch);
/* The same split over the pool's threads in blocks of whole tiles of C (rows while there are
 * enough row tiles, else columns), each block packing its A (a row split) or its B (a column
 * split) into its own scratch, and a row split's B, when not pre-packed, packed once by all the
 * threads first; serial when the pool is NULL or has one thread, or the product is small. */
struct ais__pool;
void ais__gemm_parallel(struct ais__pool *pool, const ais__cpu_kernels *t, bool trans_a,
                        bool trans_b, int64_t m, int64_t n, int64_t k, float alpha, const float *a,
                        int64_t lda, const float *b, int64_t ldb, const float *b_packed, float beta,
                        float *c, int64_t ldc, const ais__gemm_epilogue *ep);
size_t ais__gemm_scratch_floats(const ais__cpu_kernels *t, int64_t m, int64_t n, int64_t k,
                                bool b_packed);
size_t ais__gemm_packed_size(const ais__cpu_kernels *t, int64_t k, int64_t n);
void ais__gemm_prepack(const ais__cpu_kernels *t, bool trans_b, const float *b, int64_t ldb,
                       int64_t k, int64_t n, float *dst);
/* Whether our packed GEMM (one thread, scratch allocated per call) beats BLAS for this shape
 * (measured with bench_ops; see bench/README.md). */
bool ais__gemm_ours_wins(int64_t m, int64_t n, int64_t k);
/* The scalar epilogue of one element at (i, j) of a tile (for edge tiles and ref/): the bias and
 * the inline activations (ais__gemm_act_inline); the others are ais__gemm_act_rows's. */
static inline float ais__gemm_ep1(const ais__gemm_epilogue *ep, float v, int64_t i, int64_t j) {
    if (!ep) return v;
    if (ep->bias) v += ep->bias[i * ep->bias_rs + j * ep->bias_cs];
    switch (ep->act) {
    case AIS__GEMM_ACT_RELU: v = v < 0 ? 0.0f : v; break;
    case AIS__GEMM_ACT_LEAKY_RELU: v = v < 0 ? ep->act_alpha * v : v; break;
    case AIS__GEMM_ACT_CLIP:
        v = v < ep->act_alpha ? ep->act_alpha : v;
        v = v > ep->act_beta ? ep->act_beta : v;
        break;
    default: break;
    }
    return v;
}

/* Defines a level's GEMM entries: PREFIX_sgemm_ex, PREFIX_packed_b_size, PREFIX_prepack_b and
 * PREFIX_sgemm (ours where ais__gemm_ours_wins, else BLAS), bound to the table of LEVEL. */
#define AIS__GEMM_ENTRIES(PREFIX, LEVEL)                                                           \
    static void PREFIX##_sgemm_ex(bool ta, bool tb, int64_t m, int64_t n, int64_t k, float alpha,  \
                                  const float *a, int64_t lda, const float *b, int64_t ldb,        \
                                  const float *bp, float beta, float *c, int64_t ldc,              \
                                  const ais__gemm_epilogue *ep, float *scr) {                      \
        ais__gemm_drive(ais__cpu_for(LEVEL), ta, tb, m, n, k, alpha, a, lda, b, ldb, bp, beta, c,  \
                        ldc, ep, scr);                                                             \
    }                                                                                              \
    static size_t PREFIX##_scratch_size(int64_t m, int64_t n, int64_t k, bool packed) {            \
        return ais__gemm_scratch_floats(ais__cpu_for(LEVEL), m, n, k, packed);                     \
    }                                                                                              \
    static size_t PREFIX##_packed_b_size(int64_t k, int64_t n) {                                   \
        return ais__gemm_packed_size(ais__cpu_for(LEVEL), k, n);                                   \
    }                                                                                              \
    static void PREFIX##_prepack_b(bool tb, const float *b, int64_t ldb, int64_t k, int64_t n,     \
                                   float *dst) {                                                   \
        ais__gemm_prepack(ais__cpu_for(LEVEL), tb, b, ldb, k, n, dst);                             \
    }                                                                                              \
    static void PREFIX##_sgemm(bool ta, bool tb, int64_t m, int64_t n, int64_t k, float alpha,     \
                               const float *a, int64_t lda, const float *b, int64_t ldb,           \
                               float beta, float *c, int64_t ldc) {                                \
        if (ais__gemm_table_takes_ours(LEVEL, m, n, k))                                            \
            ais__gemm_drive(ais__cpu_for(LEVEL), ta, tb, m, n, k, alpha, a, lda, b, ldb, NULL,     \
                            beta, c, ldc, NULL, NULL);                                             \
        else                                                                                       \
            ais__sgemm(ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);                      \
    }
#define AIS__GEMM_SET(K, PREFIX)                                                                   \
    ((K)->sgemm = PREFIX##_sgemm, (K)->sgemm_ex = PREFIX##_sgemm_ex,                               \
     (K)->gemm_packed_b_size = PREFIX##_packed_b_size, (K)->gemm_prepack_b = PREFIX##_prepack_b,   \
     (K)->gemm_scratch_size = PREFIX##_scratch_size)

/* ---- additions of issue 11.1 (operators on our GEMM) ---- */

/* The activations that are not inline (Sigmoid, Tanh, Gelu, GeluTanh) on rows x cols of C (row
 * stride ldc) in place, through table t's vector functions, as the unary operators compute them;
 * a no-op for the others. The driver calls it on each tile after its final store. */
void ais__gemm_act_rows(const ais__cpu_kernels *t, const ais__gemm_epilogue *ep, float *c,
                        int64_t ldc, int64_t rows, int64_t cols);
/* ais__gemm_parallel with the caller's scratch: ais__gemm_parallel_scratch(...) floats, 64-byte
 * aligned (an operator's ais__op_scratch), so that a session's steady state allocates nothing;
 * NULL allocates per call. Splits C into blocks of whole tiles over rows or columns (a
 * pre-packed B too: its panels are addressed by column), each thread packing into its own part
 * of the scratch (after which comes the row split's shared packed B); threads claim blocks
 * until none is left. */
size_t ais__gemm_parallel_scratch(struct ais__pool *pool, const ais__cpu_kernels *t, int64_t m,
                                  int64_t n, int64_t k, bool b_packed);
void ais__gemm_parallel_ex(struct ais__pool *pool, const ais__cpu_kernels *t, bool trans_a,
                           bool trans_b, int64_t m, int64_t n, int64_t k, float alpha,
                           const float *a, int64_t lda, const float *b, int64_t ldb,
                           const float *b_packed, float beta, float *c, int64_t ldc,
                           const ais__gemm_epilogue *ep, float *scratch);

/* What a level's table sgemm (AIS__GEMM_ENTRIES) takes: ours where ais__gemm_ours_wins, BLAS
 * would run on one thread (ais__blas_width() 1, or a product below its split threshold) and, below
 * AVX-512, the CPU has no higher level that OpenBLAS would use. */
bool ais__gemm_table_takes_ours(ais_cpu_isa level, int64_t m, int64_t n, int64_t k);
/* The epilogue (bias and activation) on m x n of C in place, as the driver applies it: for a
 * product another provider computed (BLAS's GEMV for a single row). */
void ais__gemm_epilogue_apply(const ais__cpu_kernels *t, const ais__gemm_epilogue *ep, float *c,
                              int64_t ldc, int64_t m, int64_t n);
/* nc for a kc-deep B block in half of this core's L2 (sysconf; dflt where the system does not
 * say), a multiple of nr: the micro-kernel loop runs the tiles of one mr-high A panel (in L1)
 * across the whole block, so B's panels stream from L2. */
int64_t ais__gemm_nc_for_l2(int64_t kc, int64_t nr, int64_t dflt);

/* Each level's fill function replaces the entries it has its own code for (cpu_table.c calls
 * them in order, lowest first). */
void ais__cpu_fill_ref(ais__cpu_kernels *k);
void ais__cpu_fill_ref_rows(ais__cpu_kernels *k); /* ref_rows.c, called by the above */
/* The portable LRN row (ref_rows.c): the table's lrn_row below AVX2, and the reference. */
void ais__cpu_ref_lrn_row(const float *xw, int64_t plane, int64_t nk, const float *xc, float *y,
                          size_t n, float alpha_n, float beta, float bias);
void ais__cpu_fill_avx2(ais__cpu_kernels *k);
void ais__cpu_fill_avx512(ais__cpu_kernels *k);
void ais__avx2_fill_tree(ais__cpu_kernels *k);     /* avx2_tree.c, called by ais__cpu_fill_avx2 */
void ais__cpu_fill_ref_image(ais__cpu_kernels *k); /* ref_image.c, by ais__cpu_fill_ref */
void ais__avx2_fill_image(ais__cpu_kernels *k);    /* avx2_image.c, by ais__cpu_fill_avx2 */
void ais__avx2_fill_gemm(ais__cpu_kernels *k);     /* avx2_gemm.c, the same */
void ais__avx512_fill_gemm(ais__cpu_kernels *k);   /* avx512_gemm.c, by ais__cpu_fill_avx512 */
void ais__avx512_fill_tree(ais__cpu_kernels *k);   /* avx512_tree.c, the same */

void ais__cpu_fill_ref_conv(ais__cpu_kernels *k); /* ref_conv.c, by ais__cpu_fill_ref */
void ais__avx2_fill_conv(ais__cpu_kernels *k);    /* avx2_conv.c, by ais__cpu_fill_avx2 */
void ais__avx512_fill_conv(ais__cpu_kernels *k);  /* avx512_conv.c, by ais__cpu_fill_avx512 */
/* The portable depthwise plane, which the SIMD ones call for strides they are not built for. */
void ais__cpu_ref_conv_dw(const float *x, const float *w, float bias, float *y,
                          const ais__conv_dw_geom *g, const ais__conv_act *act, float *scratch);
void ais__cpu_ref_pool_max2d(const float *x, float *y, const ais__conv_dw_geom *g, float *scratch);
/* The portable conv_pw_small (ref_conv.c; no table holds it: the tests' reference). */
void ais__cpu_ref_conv_pw(const float *x, const float *w, const float *bias, float *y, int64_t k,
                          int64_t m, int64_t ld, int64_t q0, int64_t q1, const ais__conv_act *act);
void ais__cpu_ref_conv_nchwc_row(const ais__nchwc_row *a); /* ref_nchwc.c, any block */
void ais__cpu_ref_conv_nchwc_unblock(const float *src, int64_t n, int64_t block, int64_t ch,
                                     float *dst, int64_t ld_dst); /* ref_nchwc.c */
void ais__avx2_fill_nchwc(ais__cpu_kernels *k);                   /* avx2_nchwc.c */
void ais__avx512_fill_nchwc(ais__cpu_kernels *k);                 /* avx512_nchwc.c */
/* The shapes the dwconv_planes kernels are built for: a square 3x3 or 5x5 kernel, equal strides
 * 1 or 2, dilation 1, any pads (MobileNets' and EfficientNets' depthwise layers). */
static inline bool ais__dwconv_suits(const ais__conv_dw_geom *g) {
    return (g->kh == 3 || g->kh == 5) && g->kw == g->kh && (g->sh == 1 || g->sh == 2) &&
           g->sw == g->sh && g->dh == 1 && g->dw == 1 && g->ph >= 0 && g->pw >= 0 && g->oh > 0 &&
           g->ow > 0;
}
void ais__avx2_fill_dwconv(ais__cpu_kernels *k);   /* avx2_dwconv.c, by ais__avx2_fill_conv */
void ais__avx2_fill_pool(ais__cpu_kernels *k);     /* avx2_pool.c, after ais__avx2_fill_conv */
void ais__avx512_fill_dwconv(ais__cpu_kernels *k); /* avx512_dwconv.c, by ais__avx512_fill_conv */
void ais__cpu_ref_wino_in(const float *x, int64_t ld_row, int64_t ld_pix, int64_t n, float *v,
                          int64_t ld_v); /* ref_winograd.c */
void ais__cpu_ref_wino_out(const float *m, int64_t ld_m, int64_t n, const float *bias, float *y,
                           int64_t ld_y);
void ais__cpu_ref_wino_chlast(const float *x, int64_t ld_ch, int64_t n, int64_t w, float *d,
                              int64_t ld_d);
void ais__cpu_fill_ref_winograd(ais__cpu_kernels *k); /* by ais__cpu_fill_ref */
void ais__avx2_fill_winograd(ais__cpu_kernels *k);    /* avx2_winograd.c */
void ais__avx512_fill_winograd(ais__cpu_kernels *k);  /* avx512_winograd.c */
void ais__avx2_fill_qdq(ais__cpu_kernels *k);         /* avx2_qdq.c, by ais__cpu_fill_avx2 */
void ais__avx512_fill_qdq(ais__cpu_kernels *k);       /* avx512_qdq.c, by ais__cpu_fill_avx512 */
/* One element through the activation (ref/ and the SIMD kernels' edges). */
static inline float ais__conv_act1(const ais__conv_act *a, float v) {
    if (a->kind == AIS__CONV_ACT_CLAMP) {
        v = v < a->lo ? a->lo : v;
        v = v > a->hi ? a->hi : v;
    } else if (a->kind == AIS__CONV_ACT_LEAKY) {
        v = v < 0 ? a->alpha * v : v;
    }
    return v;
}

/* The portable tree walk, which the SIMD walks call for row counts they are not built for. */
void ais__cpu_ref_tree_block(const ais__cpu_forest *f, size_t t0, size_t t1, const float *x,
                             size_t cols, size_t nr, ais__cpu_tree_acc acc, bool f32);

#endif /* AIS_CPU_H */
