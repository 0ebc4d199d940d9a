"""Skip LayerNorm (issue 11): Add -> LayerNormalization fused into com.microsoft
SkipLayerNormalization by lib/runtime/fuse_epilogue.c, and that operator (lib/ops/norm.c) run
as ONNX Runtime's contract, as ORT-optimized models carry it.

Hand-built graphs run fused (level 2), unfused (level 1) and through ONNX Runtime; the fused
node is counted in the session's plan, so a pass that did not fire fails. Near misses stay.
"""
import os
import sys

import numpy as np
import pytest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from test_transformer_fusion import (aistack, check, const, helper, layernorm_graph,  # noqa: E402
                                     model, onnx, run_all)

RNG = np.random.default_rng(31)
H = 48


def rand(*shape):
    return RNG.standard_normal(shape).astype(np.float32)


def add_ln(p_shape=(2, 7, H), q_shape=(2, 7, H), q_const=False, axis=-1, scale_shape=(H,),
           bias=True, sum_out=False, sum_reader=None, eps=None, scale_const=True):
    """Add(p, q) -> LayerNormalization (opset 17); sum_reader: 'after' or 'before' adds a Relu
    of the sum placed after or before the LayerNorm in the node list."""
    attrs = {"axis": axis}
    if eps is not None:
        attrs["epsilon"] = eps
    ln_in = ["s", "g"] + (["b"] if bias else [])
    nodes = [helper.make_node("Add", ["p", "q"], ["s"])]
    ln = helper.make_node("LayerNormalization", ln_in, ["y"], **attrs)
    relu = helper.make_node("Relu", ["s"], ["r"])
    nodes += [relu, ln] if sum_reader == "before" else [ln] + ([relu] if sum_reader else [])
    inputs, feeds, inits = [("p", list(p_shape))], {"p": rand(*p_shape)}, []
    if q_const:
        inits.append(const("q", rand(*q_shape)))
    else:
        inputs.append(("q", list(q_shape)))
        feeds["q"] = rand(*q_shape)
    g = RNG.uniform(0.5, 1.5, scale_shape).astype(np.float32)
    if scale_const:
        inits.append(const("g", g))
    else:
        inputs.append(("g", list(scale_shape)))
        feeds["g"] = g
    if bias:
        inits.append(const("b", RNG.uniform(-1, 1, scale_shape)))
    outs = ["y"] + (["s"] if sum_out else []) + (["r"] if sum_reader else [])
    return model(nodes, inputs, outs, inits, opset=17), feeds


@pytest.mark.parametrize("kw", [
    {}, {"bias": False}, {"eps": 1e-12},
    # skip broadcasting either way (the output then has the larger shape), a constant skip
    {"q_shape": (7, H)}, {"p_shape": (7, H)}, {"q_shape": (1, 7, H), "q_const": True},
    # the sum also read: a graph output, a reader after the LayerNorm (pre-LN residual)
    {"sum_out": True}, {"sum_reader": "after"}, {"sum_reader": "after", "q_shape": (1, H)}])
def test_add_layernorm_fuses(kw):
    data, feeds = add_ln(**kw)
    check(data, feeds, {"SkipLayerNormalization": 1},
          absent=("Add", "LayerNormalization"))


@pytest.mark.parametrize("kw", [
    {"scale_const": False},  # the fused contract wants Scale known to be [H]
    {"sum_reader": "before"}])  # a reader of the sum before the LayerNorm's place
def test_near_misses_stay(kw):
    data, feeds = add_ln(**kw)
    check(data, feeds, {"SkipLayerNormalization": 0, "Add": 1})


def test_decomposed_layernorm_fuses():
    # the opset-13 LayerNorm chain (made one node by fuse_transformer.c) after an Add
    ln, d = layernorm_graph(opset=13)
    m = onnx.load_from_string(ln)
    m.graph.node.insert(0, helper.make_node("Add", ["pa", "qa"], ["x"]))
    x = m.graph.input[0]
    del m.graph.input[:]
    for n in ("pa", "qa"):
        vi = onnx.ValueInfoProto()
        vi.CopyFrom(x)
        vi.name = n
        m.graph.input.append(vi)
    feeds = {"pa": rand(2, 7, d), "qa": rand(2, 7, d)}
    check(m.SerializeToString(), feeds, {"SkipLayerNormalization": 1},
          absent=("Add", "ReduceMean", "LayerNormalization"))


def ort_skipln(inputs, outputs=("y", "", "", "sum"), eps=1e-6, x_shape=(2, 7, H),
               skip_shape=(2, 7, H)):
    names = ["x", "skip", "gamma", "beta", "bias"][:len(inputs)]
    node = helper.make_node("SkipLayerNormalization", names, list(outputs),
                            domain="com.microsoft", epsilon=eps)
    F = onnx.TensorProto.FLOAT
    vin = [helper.make_tensor_value_info(n, F, list(s)) for n, s in
           zip(names, [x_shape, skip_shape, (H,), (H,), (H,)])]
    vout = [helper.make_tensor_value_info(n, F, None) for n in outputs if n]
    g = helper.make_graph([node], "g", vin, vout)
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 17),
                                            helper.make_opsetid("com.microsoft", 1)])
    m.ir_version = 8
    return m.SerializeToString(), dict(zip(names, inputs))


def numpy_skipln(x, skip, gamma, beta=None, bias=None, eps=1e-6):
    s = x.astype(np.float64) + skip + (0 if bias is None else bias)
    mean = s.mean(-1, keepdims=True)
    var = ((s - mean) ** 2).mean(-1, keepdims=True)
    y = (s - mean) / np.sqrt(var + eps) * gamma + (0 if beta is None else beta)
    return y, mean, 1 / np.sqrt(var + eps), s


@pytest.mark.parametrize("n_in", [3, 4, 5])
def test_ort_contract(n_in):
    # the operator as ONNX Runtime's transformer optimizer writes it: Y and the sum against ORT
    ins = [rand(2, 7, H), rand(2, 7, H), RNG.uniform(0.5, 1.5, H).astype(np.float32),
           rand(H), rand(H)][:n_in]
    data, feeds = ort_skipln(ins)
    fused, _, _, ref = run_all(data, feeds)
    for name in ("y", "sum"):
        np.testing.assert_allclose(fused[name], ref[name], rtol=1e-5, atol=1e-5, err_msg=name)
    want = numpy_skipln(*ins)
    np.testing.assert_allclose(fused["y"], want[0], rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(fused["sum"], want[3], rtol=1e-6, atol=1e-6)


def test_mean_and_inv_std_outputs():
    ins = [rand(3, 5, H) + 100, rand(3, 5, H), RNG.uniform(0.5, 1.5, H).astype(np.float32),
           rand(H), rand(H)]
    data, feeds = ort_skipln(ins, outputs=("y", "mean", "inv", "sum"), x_shape=(3, 5, H),
                             skip_shape=(3, 5, H))
    got = aistack.Model.from_bytes(data).run(feeds)
    want = numpy_skipln(*ins)
    for name, w, tol in (("y", want[0], 1e-4), ("mean", want[1], 1e-5), ("inv", want[2], 1e-4),
                         ("sum", want[3], 1e-5)):
        g = np.asarray(got[name])
        assert g.shape == w.shape, (name, g.shape, w.shape)
        np.testing.assert_allclose(g, w, rtol=tol, atol=tol, err_msg=name)


def test_bad_shapes_are_errors():
    ins = [rand(2, 7, H), rand(2, 7, H), RNG.uniform(0.5, 1.5, H - 1).astype(np.float32)]
    data, feeds = ort_skipln(ins)
    with pytest.raises(aistack.AistackError, match="gamma"):
        aistack.Model.from_bytes(data).run(feeds)
    ins = [rand(2, 7, H), rand(3, 7, H), RNG.uniform(0.5, 1.5, H).astype(np.float32)]
    data, feeds = ort_skipln(ins, skip_shape=(3, 7, H))
    with pytest.raises(aistack.AistackError, match="skip"):
        aistack.Model.from_bytes(data).run(feeds)


def test_cuda_load_keeps_add():
    from test_transformer_fusion import model_ops
    data, _ = add_ln()
    cpu, cuda = model_ops(data, 0), model_ops(data, 1)
    assert cpu["SkipLayerNormalization"] == 1 and cpu["Add"] == 0, dict(cpu)
    assert cuda["SkipLayerNormalization"] == 0 and cuda["Add"] == 1, dict(cuda)


def test_fused_model_saves_and_loads(tmp_path):
    import collections
    data, feeds = add_ln(sum_reader="after")
    m = aistack.Model.from_bytes(data)
    want = m.run(feeds)
    path = tmp_path / "skipln.ais"
    m.save(str(path))
    m.close()
    for lvl in (0, 2):
        m2 = aistack.Model(str(path), opt_level=lvl)
        s = m2.session()
        got = s.run(feeds)
        assert collections.Counter(o for _, o, _ in s.nodes)["SkipLayerNormalization"] == 1
        for k in ("y", "r"):
            np.testing.assert_array_equal(np.asarray(got[k]), np.asarray(want[k]))
        s.close()
        m2.close()
