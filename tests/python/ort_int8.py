"""What ONNX Runtime's int8 kernels compute on this processor, for the int8 parity tests.

On x86 without VNNI (AVX2, AVX-512BW) ONNX Runtime multiplies u8 activations by s8 weights with
vpmaddubsw, which adds the two u8 x s8 products of a pair into int16 with saturation: where
255 * |w| * 2 passes 32767 its sums are not the exact ones ONNX specifies (ONNX Runtime's
quantization guide says so and recommends reduce_range, 7-bit weights, on such machines). With
VNNI (vpdpbusd, AVX-512 or AVX) it is exact. libaistack is exact on every ISA
(lib/cpu/cpu_qgemm.c splits the pairs that could saturate), so the parity tests use full-range s8
weights where ONNX Runtime is exact and 7-bit weights elsewhere: the comparison with ONNX Runtime
stays exact on every processor, and full-range weights are checked on every ISA against the scalar
reference in tests/unit/test_cpu_qgemm.c.
"""


def _ort_u8s8_exact():
    try:
        with open("/proc/cpuinfo") as f:
            flags = next((line.split(":", 1)[1].split() for line in f
                          if line.startswith("flags")), [])
    except OSError:
        return False
    return "avx512_vnni" in flags or "avx_vnni" in flags


ORT_U8S8_EXACT = _ort_u8s8_exact()
# quantize_static / quantize_dynamic's reduce_range: 7-bit weights where ONNX Runtime saturates
REDUCE_RANGE = not ORT_U8S8_EXACT
# the s8 weights a hand-built parity graph may hold: [S8_LO, S8_HI)
S8_LO, S8_HI = (-128, 128) if ORT_U8S8_EXACT else (-64, 64)
