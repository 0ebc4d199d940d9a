/*
 * gemm_loop.h - bench_ops' experiment on the AVX-512 micro-kernel's k loop (x86-64, GCC/clang):
 * the loop of lib/cpu/x86/gemm_kernel.h's 14 x 32 tile written out in assembly, and the same
 * loop without its loads, or with loads whose results nothing uses. It tells what the tile's
 * loads cost apart from everything around the loop (packing, C, edge tiles), which is what the
 * GEMM's ceiling is made of (bench/README.md, "gemm2").
 *
 * Each variant runs k steps (k even) of 28 FMAs into zmm0..zmm27 from zmm28/29 (B) and zmm30
 * (A's broadcast); per step "fma" has no loads, "dead" adds 14 broadcast loads into zmm31 that
 * no FMA reads, "kernel" loads B's two vectors and broadcasts A's 14 elements into zmm30 as the
 * micro-kernel does. a: 14 floats a step, b: 32 floats a step, both 64-byte aligned.
 */
#ifndef AIS_BENCH_GEMM_LOOP_H
#define AIS_BENCH_GEMM_LOOP_H

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#define GL_HAVE 1

/* row i of step u: the accumulators x (B's first vector) and y (second) */
#define GL_ROWS(M, u)                                                                              \
    M(0, 0, 1, u)                                                                                  \
    M(1, 2, 3, u) M(2, 4, 5, u) M(3, 6, 7, u) M(4, 8, 9, u) M(5, 10, 11, u) M(6, 12, 13, u)        \
        M(7, 14, 15, u) M(8, 16, 17, u) M(9, 18, 19, u) M(10, 20, 21, u) M(11, 22, 23, u)          \
            M(12, 24, 25, u) M(13, 26, 27, u)
#define GL_FMA(i, x, y, u)                                                                         \
    "vfmadd231ps %%zmm28, %%zmm30, %%zmm" #x "\n\t"                                                \
    "vfmadd231ps %%zmm29, %%zmm30, %%zmm" #y "\n\t"
#define GL_DEAD(i, x, y, u) "vbroadcastss 4*" #i "+56*" #u "(%[a]), %%zmm31\n\t" GL_FMA(i, x, y, u)
#define GL_LIVE(i, x, y, u) "vbroadcastss 4*" #i "+56*" #u "(%[a]), %%zmm30\n\t" GL_FMA(i, x, y, u)
#define GL_BLOAD(u) "vmovaps 128*" #u "(%[b]), %%zmm28\n\tvmovaps 128*" #u "+64(%[b]), %%zmm29\n\t"
#define GL_LOOP(body)                                                                              \
    __asm__ volatile("vxorps %%xmm30, %%xmm30, %%xmm30\n\t"                                        \
                     "vmovaps (%[b]), %%zmm28\n\t"                                                 \
                     "vmovaps 64(%[b]), %%zmm29\n\t"                                               \
                     "1:\n\t" body "add $112, %[a]\n\t"                                            \
                     "add $256, %[b]\n\t"                                                          \
                     "sub $2, %[k]\n\t"                                                            \
                     "jnz 1b\n\t"                                                                  \
                     : [a] "+r"(a), [b] "+r"(b), [k] "+r"(k)                                       \
                     :                                                                             \
                     : "memory", "cc", "xmm0", "xmm1", "xmm2", "xmm3", "xmm4", "xmm5", "xmm6",     \
                       "xmm7", "xmm8", "xmm9", "xmm10", "xmm11", "xmm12", "xmm13", "xmm14",        \
                       "xmm15", "xmm16", "xmm17", "xmm18", "xmm19", "xmm20", "xmm21", "xmm22",     \
                       "xmm23", "xmm24", "xmm25", "xmm26", "xmm27", "xmm28", "xmm29", "xmm30",     \
                       "xmm31")

/* variant 0 fma, 1 dead, 2 kernel; k > 0 and even */
__attribute__((target("avx512f"), noinline)) static void gl_run(int variant, long k, const float *a,
                                                                const float *b) {
    switch (variant) {
    case 0: GL_LOOP(GL_ROWS(GL_FMA, 0) GL_ROWS(GL_FMA, 1)); break;
    case 1: GL_LOOP(GL_ROWS(GL_DEAD, 0) GL_ROWS(GL_DEAD, 1)); break;
    default: GL_LOOP(GL_BLOAD(0) GL_ROWS(GL_LIVE, 0) GL_BLOAD(1) GL_ROWS(GL_LIVE, 1)); break;
    }
}
#else
#define GL_HAVE 0
#endif

#endif /* AIS_BENCH_GEMM_LOOP_H */
