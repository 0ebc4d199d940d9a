/*
 * layout_index.h - the indexing operators of layout.c's table (Gather, GatherElements, GatherND,
 * ScatterElements, ScatterND, OneHot, TopK, CumSum, NonZero), kept in their own file so that
 * layout.c stays short.
 */
#ifndef AIS_LAYOUT_INDEX_H
#define AIS_LAYOUT_INDEX_H

#include "layout_util.h"

#define AIS__LAYOUT_INDEX_DECL(fn)                                                                 \
    ais_status fn##_infer(ais__op_ctx *ctx, const ais_tensor *const *in, size_t n_in,              \
                          ais__tensor_desc *out, size_t n_out);                                    \
    ais_status fn##_compute(ais__op_ctx *ctx, const ais_tensor *const *in, size_t n_in,            \
                            ais_tensor *const *out, size_t n_out);

AIS__LAYOUT_INDEX_DECL(ais__layout_gather)
AIS__LAYOUT_INDEX_DECL(ais__layout_gather_el)
AIS__LAYOUT_INDEX_DECL(ais__layout_gather_nd)
AIS__LAYOUT_INDEX_DECL(ais__layout_scatter_el)
AIS__LAYOUT_INDEX_DECL(ais__layout_scatter_nd)
AIS__LAYOUT_INDEX_DECL(ais__layout_onehot)
AIS__LAYOUT_INDEX_DECL(ais__layout_topk)
AIS__LAYOUT_INDEX_DECL(ais__layout_cumsum)
AIS__LAYOUT_INDEX_DECL(ais__layout_nonzero)

/* Table entries for layout.c (AIS__LAYOUT_OP is defined there). */
#define AIS__LAYOUT_INDEX_OPS                                                                      \
    AIS__LAYOUT_OP("Gather", 1, 2, 2, 1, 1, ais__layout_gather, 0),                                \
        AIS__LAYOUT_OP("GatherElements", 11, 2, 2, 1, 1, ais__layout_gather_el, 0),                \
        AIS__LAYOUT_OP("GatherND", 11, 2, 2, 1, 1, ais__layout_gather_nd, 0),                      \
        AIS__LAYOUT_OP("ScatterElements", 11, 3, 3, 1, 1, ais__layout_scatter_el, 0),              \
        AIS__LAYOUT_OP("Scatter", 9, 3, 3, 1, 1, ais__layout_scatter_el, 0),                       \
        AIS__LAYOUT_OP("ScatterND", 11, 3, 3, 1, 1, ais__layout_scatter_nd, 0),                    \
        AIS__LAYOUT_OP("OneHot", 9, 3, 3, 1, 1, ais__layout_onehot, 1u << 1),                      \
        AIS__LAYOUT_OP("TopK", 1, 1, 1, 2, 2, ais__layout_topk, 0),                                \
        AIS__LAYOUT_OP("TopK", 10, 2, 2, 2, 2, ais__layout_topk, 1u << 1),                         \
        AIS__LAYOUT_OP("CumSum", 11, 2, 2, 1, 1, ais__layout_cumsum, 1u << 1),                     \
        AIS__LAYOUT_OP("NonZero", 9, 1, 1, 1, 1, ais__layout_nonzero, 1u << 0),

#endif /* AIS_LAYOUT_INDEX_H */
