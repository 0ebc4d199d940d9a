"""Dynamic-quantized products (issue 18): what ONNX Runtime's quantize_dynamic writes for a MatMul,

    DynamicQuantizeLinear -> MatMulInteger -> Cast -> Mul(Mul(a_scale, b_scale)) [-> Add(bias)],

becomes com.microsoft MatMulIntegerToFloat (lib/runtime/fuse_qdq.c, ais__qf_dynq) with the scale
and bias in the int8 GEMM's store. The float arithmetic is the graph's, so fused and unfused
(qdq_fusion=0) outputs must be identical, and both match ONNX Runtime running the file as written.
Also: near misses stay unfused, a DynamicQuantizeLinear read by three products (a MiniLM's Q, K
and V) stays one node, and hand-built MatMulIntegerToFloat nodes (u8/s8 on both sides, scales
and zero points per column, bias, batched A) against ONNX Runtime's own kernel.
"""
import collections
import os
import sys

import numpy as np
import pytest

onnx = pytest.importorskip("onnx")
pytest.importorskip("onnxruntime")
from onnx import TensorProto, helper, numpy_helper  # noqa: E402
from onnxruntime import quantization as oq  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(ROOT, "bindings", "python"))
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from fusion_util import run_ort, run_ours  # noqa: E402
from ort_int8 import REDUCE_RANGE, S8_HI, S8_LO  # noqa: E402

RNG = np.random.default_rng(1818)


def _quantized(tmp_path, nodes, inits, k, outs, weight_type, per_channel):
    g = helper.make_graph(
        nodes, "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [None, 7, k])],
        [helper.make_tensor_value_info(o, TensorProto.FLOAT, None) for o in outs],
        [numpy_helper.from_array(v, n) for n, v in inits.items()])
    fp32 = tmp_path / "fp32.onnx"
    onnx.save(helper.make_model(g, opset_imports=[helper.make_opsetid("", 13)]), str(fp32))
    q = tmp_path / "dyn.onnx"
    oq.quantize_dynamic(str(fp32), str(q), weight_type=weight_type, per_channel=per_channel,
                        reduce_range=REDUCE_RANGE)
    return q


def _check(q, feeds, want_ops):
    fused, ops = run_ours(q, feeds)
    unfused, ops0 = run_ours(q, feeds, qdq_fusion=0)
    ref = run_ort(q, feeds)
    for name, r in ref.items():
        np.testing.assert_array_equal(fused[name], unfused[name], err_msg=name)
        np.testing.assert_allclose(fused[name], r, rtol=1e-5, atol=1e-5, err_msg=name)
    for op, n in want_ops.items():
        assert ops[op] == n, f"{op}: {ops[op]} nodes, expected {n} ({dict(ops)})"
    assert ops0["MatMulIntegerToFloat"] == 0, dict(ops0)
    return ops


@pytest.mark.parametrize("weight_type,per_channel,bias", [
    (oq.QuantType.QInt8, False, True), (oq.QuantType.QInt8, True, True),
    (oq.QuantType.QUInt8, False, False), (oq.QuantType.QUInt8, True, True)])
def test_matmul_fuses(tmp_path, weight_type, per_channel, bias):
    k, n = 40, 24
    inits = {"w": RNG.standard_normal((k, n)).astype(np.float32),
             "b": RNG.standard_normal(n).astype(np.float32)}
    nodes = [helper.make_node("MatMul", ["x", "w"], ["mm" if bias else "y"])]
    if bias:
        nodes.append(helper.make_node("Add", ["b", "mm"], ["y"]))  # bias first, as torch writes
    else:
        del inits["b"]
    q = _quantized(tmp_path, nodes, inits, k, ["y"], weight_type, per_channel)
    feeds = {"x": (RNG.standard_normal((3, 7, k)) * 2).astype(np.float32)}
    _check(q, feeds, {"MatMulIntegerToFloat": 1, "MatMulInteger": 0, "Cast": 0, "Add": 0,
                      "Mul": 0, "DynamicQuantizeLinear": 1})


def test_shared_activation_quantized_once(tmp_path):
    """Three products of one activation (attention's Q, K and V): ORT's quantizer writes one
    DynamicQuantizeLinear; it stays one node and each product fuses."""
    k = 32
    inits, nodes = {}, []
    for p in "qkv":
        inits[p + "_w"] = RNG.standard_normal((k, k)).astype(np.float32)
        inits[p + "_b"] = RNG.standard_normal(k).astype(np.float32)
        nodes += [helper.make_node("MatMul", ["x", p + "_w"], [p + "_mm"]),
                  helper.make_node("Add", [p + "_mm", p + "_b"], [p])]
    q = _quantized(tmp_path, nodes, inits, k, list("qkv"), oq.QuantType.QInt8, False)
    ops_q = collections.Counter(nd.op_type for nd in onnx.load(str(q)).graph.node)
    assert ops_q["DynamicQuantizeLinear"] == 1 and ops_q["MatMulInteger"] == 3, ops_q
    feeds = {"x": RNG.standard_normal((2, 7, k)).astype(np.float32)}
    _check(q, feeds, {"MatMulIntegerToFloat": 3, "DynamicQuantizeLinear": 1, "MatMulInteger": 0})


def _edit(q, fn):
    m = onnx.load(str(q))
    fn(m.graph)
    return m.SerializeToString()


def test_near_misses_stay_unfused(tmp_path):
    k, n = 16, 8
    inits = {"w": RNG.standard_normal((k, n)).astype(np.float32),
             "b": RNG.standard_normal(n).astype(np.float32)}
    nodes = [helper.make_node("MatMul", ["x", "w"], ["mm"]),
             helper.make_node("Add", ["mm", "b"], ["y"])]
    q = _quantized(tmp_path, nodes, inits, k, ["y"], oq.QuantType.QInt8, False)
    feeds = {"x": RNG.standard_normal((1, 7, k)).astype(np.float32)}

    def cast_also_output(g):  # the float product is read by someone else too: a graph output
        cast = next(nd for nd in g.node if nd.op_type == "Cast")
        g.output.append(helper.make_tensor_value_info(cast.output[0], TensorProto.FLOAT, None))

    def cast_to_double(g):  # not the float Cast of the pattern
        cast = next(nd for nd in g.node if nd.op_type == "Cast")
        cast.attribute[0].i = TensorProto.DOUBLE
        mul = next(nd for nd in g.node if nd.op_type == "Mul" and cast.output[0] in nd.input)
        c2 = helper.make_node("Cast", [cast.output[0]], ["c2"], to=TensorProto.FLOAT)
        mul.input[list(mul.input).index(cast.output[0])] = "c2"
        g.node.insert(list(g.node).index(mul), c2)

    def weights_as_input(g):  # B not a constant: nothing to pack at load
        w = next(i for i in g.initializer if i.data_type == TensorProto.INT8 and i.dims)
        g.input.append(helper.make_tensor_value_info(w.name, TensorProto.INT8, list(w.dims)))
        feeds_w[w.name] = numpy_helper.to_array(w)
        g.initializer.remove(w)

    for fn in (cast_also_output, cast_to_double, weights_as_input):
        feeds_w = {}
        data = _edit(q, fn)
        f = dict(feeds, **feeds_w)
        fused, ops = run_ours(data, f)
        unfused, _ = run_ours(data, f, qdq_fusion=0)
        assert ops["MatMulIntegerToFloat"] == 0 and ops["MatMulInteger"] == 1, (fn.__name__, ops)
        for name, r in run_ort(data, f).items():
            np.testing.assert_array_equal(fused[name], unfused[name], err_msg=name)
            np.testing.assert_allclose(fused[name], r, rtol=1e-5, atol=1e-5, err_msg=name)


def test_bert_dynamic_fuses(tmp_path):
    """The BERT-style encoder of bench_int8.py's bert_dyn, smaller: every product fuses, and the
    transformer fusions (attention, LayerNorm, Gelu) still fire on the quantized graph."""
    torch_models = pytest.importorskip("torch_models")
    built = torch_models.bert(batch=1, seq=16, layers=2, d=64)
    fp32 = tmp_path / "bert.onnx"
    torch_models.export(built, str(fp32), opset=13)
    q = tmp_path / "bert_dyn.onnx"
    oq.quantize_dynamic(str(fp32), str(q), weight_type=oq.QuantType.QInt8,
                        reduce_range=REDUCE_RANGE)
    n_mmi = sum(nd.op_type == "MatMulInteger" for nd in onnx.load(str(q)).graph.node)
    _, inputs, names, _, _ = built
    feeds = {n: t.numpy() for n, t in zip(names, inputs)}
    ops = _check(q, feeds, {"MatMulIntegerToFloat": n_mmi, "MatMulInteger": 0})
    assert ops["FusedAttention"] == 2 and ops["Gelu"] + ops["BiasGelu"] == 2, dict(ops)
    assert ops["SkipLayerNormalization"] + ops["LayerNormalization"] >= 4, dict(ops)


# ---- hand-built com.microsoft MatMulIntegerToFloat against ONNX Runtime's kernel ----

@pytest.mark.parametrize("a_t,b_t", [(np.uint8, np.int8), (np.uint8, np.uint8),
                                     (np.int8, np.int8)])
@pytest.mark.parametrize("per_col,zps,bias", [(False, False, False), (True, True, True),
                                              (False, True, True)])
def test_matmul_integer_to_float_node(a_t, b_t, per_col, zps, bias):
    m, k, n = 13, 37, 21
    info = np.iinfo
    a = RNG.integers(info(a_t).min, info(a_t).max + 1, (2, m, k)).astype(a_t)
    # s8 weights: 7-bit where ONNX Runtime's u8 x s8 kernel saturates (tests/python/ort_int8.py)
    b_lo, b_hi = (S8_LO, S8_HI) if b_t == np.int8 else (0, 256)
    b = RNG.integers(b_lo, b_hi, (k, n)).astype(b_t)
    ns = n if per_col else 1
    inits = {"B": b, "a_scale": np.array(0.02, np.float32),
             "b_scale": RNG.uniform(0.001, 0.01, ns).astype(np.float32).reshape(
                 (n,) if per_col else ())}
    names = ["A", "B", "a_scale", "b_scale"]
    if zps:
        inits["a_zp"] = np.array(info(a_t).min + 100, a_t)
        inits["b_zp"] = RNG.integers(-5, 5, ns).astype(b_t).reshape((n,) if per_col else ()) \
            if b_t == np.int8 else RNG.integers(120, 136, ns).astype(b_t).reshape(
                (n,) if per_col else ())
        names += ["a_zp", "b_zp"]
    if bias:
        inits["bias"] = RNG.standard_normal(n).astype(np.float32)
        names += [""] * (6 - len(names)) + ["bias"]
    a_type = TensorProto.UINT8 if a_t == np.uint8 else TensorProto.INT8
    g = helper.make_graph(
        [helper.make_node("MatMulIntegerToFloat", names, ["Y"], domain="com.microsoft")], "g",
        [helper.make_tensor_value_info("A", a_type, [2, m, k])],
        [helper.make_tensor_value_info("Y", TensorProto.FLOAT, None)],
        [numpy_helper.from_array(v, nm) for nm, v in inits.items()])
    model = helper.make_model(g, opset_imports=[helper.make_opsetid("", 13),
                                                helper.make_opsetid("com.microsoft", 1)])
    model.ir_version = 8
    data = model.SerializeToString()
    feeds = {"A": a}
    got, ops = run_ours(data, feeds)
    assert ops["MatMulIntegerToFloat"] == 1, dict(ops)
    want = run_ort(data, feeds)["Y"]
    # the exact formula: int32 sum, one float multiplier a_scale * b_scale, then + bias
    za = int(inits.get("a_zp", 0))
    zb = inits["b_zp"].astype(np.int64) if zps else 0
    acc = (a.astype(np.int64) - za) @ (b.astype(np.int64) - zb)
    mult = (np.float32(0.02) * inits["b_scale"]).astype(np.float32)
    exact = acc.astype(np.float32) * mult
    if bias:
        exact = exact + inits["bias"]
    np.testing.assert_array_equal(got["Y"], exact.astype(np.float32))
    np.testing.assert_allclose(got["Y"], want, rtol=1e-5, atol=1e-4)
