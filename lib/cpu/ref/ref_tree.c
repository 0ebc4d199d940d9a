/*
 * ref_tree.c - the portable block walk of a tree ensemble's fast layout (lib/ops/tree_engine.c
 * builds it): nr rows go down each tree level by level, then add the leaves they reached.
 */
#include "cpu/cpu.h"

void ais__cpu_ref_tree_block(const ais__cpu_forest *f, size_t t0, size_t t1, const float *x,
                             size_t cols, size_t nr, ais__cpu_tree_acc acc, bool f32) {
    uint32_t idx[AIS__CPU_TREE_ROWS];
    size_t w = f->width;
    for (size_t t = t0; t < t1; t++) {
        unsigned d = f->depth[t];
        const float *th = f->thr + f->node_off[t];
        const uint32_t *fd = f->fd + f->node_off[t];
        uint32_t first = ((uint32_t)1 << d) - 1; /* heap index of the leftmost leaf */
        size_t k = f->target[t];
        for (size_t r = 0; r < nr; r++)
            idx[r] = 0;
        for (unsigned l = 0; l < d; l++)
            for (size_t r = 0; r < nr; r++) {
                uint32_t i = idx[r], fw = fd[i];
                float v = x[r * cols + (fw & 0x7fffffffu)];
                uint32_t right = (v > th[i]) | ((fw >> 31) & (v != v));
                idx[r] = 2 * i + 1 + right;
            }
        if (f32) {
            const float *lf = f->leaf32 + f->leaf_off[t];
            for (size_t r = 0; r < nr; r++)
                acc.f[r * w + k] += lf[idx[r] - first];
        } else {
            const double *ld = f->leaf + f->leaf_off[t];
            for (size_t r = 0; r < nr; r++)
                acc.d[r * w + k] += ld[idx[r] - first];
        }
    }
}
