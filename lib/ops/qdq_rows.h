/*
 * qdq_rows.h - the flat 8-bit element loops of a fused QDQ model (QuantizeLinear f32 -> 8-bit
 * and DequantizeLinear back with one scale; QLinearAdd/QLinearMul have the table's qbin), in their
 * own file so that they alone are compiled for the vectorizer (CMakeLists.txt: GCC if-converts
 * the float clamps only with -fno-trapping-math; nothing here reads floating-point flags).
 */
#ifndef AIS_OPS_QDQ_ROWS_H
#define AIS_OPS_QDQ_ROWS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* y[i] = saturate(round_half_even(x[i] / s) + zp) as u8 (or s8 when is_signed); NaN -> zp. */
void ais__qdq_quantize_row(const float *x, float s, int32_t zp, void *y, size_t n, bool is_signed);
/* y[i] = (float)(x[i] - zp) * s for u8 (or s8) x. */
void ais__qdq_dequantize_row(const void *x, float s, int32_t zp, float *y, size_t n,
                             bool is_signed);
/* DynamicQuantizeLinear's two passes: *mn and *mx (in: where to start, 0 for the operator)
 * lowered and raised to the minimum and maximum of n floats, NaN skipped; and y[i] =
 * saturate(round_half_even(x[i] / s) + zp) as u8, NaN -> 0 (zp a whole number in [0, 255]). */
void ais__qdq_minmax_row(const float *x, size_t n, float *mn, float *mx);
void ais__qdq_dynamic_row(const float *x, float s, float zp, uint8_t *y, size_t n);
/* DynamicQuantizeLinear of n floats (quantize.c): y, *scale and *zp, through the kernel table's
 * dynq_minmax / dynq_row where the level has them, else the two above. */
void ais__qdq_dynamic(const float *x, size_t n, uint8_t *y, float *scale, uint8_t *zp);

#endif
