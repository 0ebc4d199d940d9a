"""The transformer fusions of lib/runtime/fuse_transformer.c (issue 11 item 3).

Hand-built ONNX graphs (onnx.helper) of the subgraphs exporters emit: LayerNorm decomposed
(opsets 13 and 18), Gelu in its erf and tanh forms and their orders, bias + Gelu, and attention
(scale by Div or Mul, mask Add on either side, K^T as one or two Transposes). Each graph runs at
optimization level 2 (fused) and 1 (unfused) and through ONNX Runtime: the three agree within
1e-5, and the fused nodes are counted in the session's plan, so a pass that did not fire fails.
Near misses (a wrong constant, axis or perm, an intermediate that is also a graph output) must
stay unfused and still agree. Last, the PyTorch-exported BERT-style encoder of torch_models.py.
"""
import collections
import os
import sys

import numpy as np
import pytest

onnx = pytest.importorskip("onnx")
from onnx import TensorProto, helper, numpy_helper  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
if "AISTACK_LIBRARY" not in os.environ and os.environ.get("AIS_AISTACK"):
    cand = os.path.join(os.path.dirname(os.path.dirname(os.environ["AIS_AISTACK"])),
                        "libaistack.so")
    if os.path.exists(cand):
        os.environ["AISTACK_LIBRARY"] = cand
sys.path.insert(0, os.path.join(ROOT, "bindings", "python"))
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import aistack  # noqa: E402

F = TensorProto.FLOAT
RNG = np.random.default_rng(11)


def const(name, value):
    return numpy_helper.from_array(np.asarray(value, dtype=np.float32), name)


def model(nodes, inputs, outputs, inits, opset=13):
    g = helper.make_graph(nodes, "g", [helper.make_tensor_value_info(n, F, s) for n, s in inputs],
                          [helper.make_tensor_value_info(n, F, None) for n in outputs], inits)
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", opset)])
    m.ir_version = 8
    return m.SerializeToString()


def run_all(data, feeds):
    """(fused outputs, op counts at level 2, unfused outputs, ONNX Runtime outputs)."""
    res = {}
    for lvl in (2, 1):
        m = aistack.Model.from_bytes(data, opt_level=lvl)
        s = m.session(threads=2)
        out = s.run(feeds)
        res[lvl] = ({k: np.asarray(v) for k, v in out.items()},
                    collections.Counter(op for _, op, _ in s.nodes))
        s.close()
        m.close()
    ort = pytest.importorskip("onnxruntime")
    so = ort.SessionOptions()
    so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
    sess = ort.InferenceSession(data, so, providers=["CPUExecutionProvider"])
    ref = dict(zip([o.name for o in sess.get_outputs()], sess.run(None, feeds)))
    return res[2][0], res[2][1], res[1][0], ref


def check(data, feeds, want_ops, absent=(), atol=1e-5):
    fused, ops, unfused, ref = run_all(data, feeds)
    for name, r in ref.items():
        np.testing.assert_allclose(fused[name], r, rtol=1e-5, atol=atol, err_msg=name)
        np.testing.assert_allclose(fused[name], unfused[name], rtol=1e-5, atol=atol, err_msg=name)
    for op, n in want_ops.items():
        assert ops[op] == n, f"{op}: {ops[op]} fused nodes, expected {n} ({dict(ops)})"
    for op in absent:
        assert ops[op] == 0, f"{op} left after fusion: {dict(ops)}"
    return ops


# ---- LayerNorm ----

def layernorm_graph(opset=13, exponent=2.0, axis=-1, keepdims=1, bias=True, mean_is_output=False):
    d = 48
    rm = ({"axes": [axis]} if opset < 18 else {})
    rm_in = [] if opset < 18 else ["ax"]
    nodes = [
        helper.make_node("ReduceMean", ["x"] + rm_in, ["m"], keepdims=keepdims, **rm),
        helper.make_node("Sub", ["x", "m"], ["c"]),
        helper.make_node("Pow", ["c", "two"], ["p"]),
        helper.make_node("ReduceMean", ["p"] + rm_in, ["v"], keepdims=keepdims, **rm),
        helper.make_node("Add", ["v", "eps"], ["ve"]),
        helper.make_node("Sqrt", ["ve"], ["sd"]),
        helper.make_node("Div", ["c", "sd"], ["n"]),
        helper.make_node("Mul", ["n", "g"], ["ng"] if bias else ["y"]),
    ]
    if bias:
        nodes.append(helper.make_node("Add", ["ng", "b"], ["y"]))
    inits = [const("two", exponent), const("eps", 1e-12), const("g", RNG.uniform(0.5, 1.5, d)),
             const("b", RNG.uniform(-1, 1, d))]
    if opset >= 18:
        inits.append(numpy_helper.from_array(np.array([axis], np.int64), "ax"))
    outs = ["y"] + (["m"] if mean_is_output else [])
    return model(nodes, [("x", [d if keepdims == 0 else 2, d if keepdims == 0 else 7, d])], outs,
                 inits, opset), d


@pytest.mark.parametrize("opset", [13, 18])
@pytest.mark.parametrize("bias", [True, False])
def test_layernorm_fuses(opset, bias):
    data, d = layernorm_graph(opset, bias=bias)
    x = (RNG.standard_normal((2, 7, d)) * 3 + 20).astype(np.float32)
    check(data, {"x": x}, {"LayerNormalization": 1},
          absent=("ReduceMean", "Pow", "Sqrt", "Sub", "Div"))


@pytest.mark.parametrize("kw", [{"exponent": 3.0}, {"axis": 1}, {"keepdims": 0},
                                {"mean_is_output": True}])
def test_layernorm_near_misses_stay(kw):
    data, d = layernorm_graph(13, **kw)
    # keepdims 0: the mean [48, 48] broadcasts against [48, 48, 48] along other axes
    x = RNG.standard_normal((d, d, d) if "keepdims" in kw else (2, 7, d)).astype(np.float32)
    check(data, {"x": x}, {"LayerNormalization": 0})


# ---- Gelu ----

def gelu_erf_graph(order, scale_op="Div", half=0.5):
    """0.5 * x * (1 + erf(x / sqrt 2)) in the orders exporters write."""
    s = [helper.make_node(scale_op, ["x", "r2"], ["t"]), helper.make_node("Erf", ["t"], ["e"]),
         helper.make_node("Add", ["e", "one"], ["a"])]
    if order == "torch":  # (x * a) * 0.5
        s += [helper.make_node("Mul", ["x", "a"], ["xa"]), helper.make_node("Mul", ["xa", "h"], ["y"])]
    elif order == "half_x":  # (x * 0.5) * a
        s += [helper.make_node("Mul", ["x", "h"], ["xh"]), helper.make_node("Mul", ["xh", "a"], ["y"])]
    else:  # x * (a * 0.5)
        s += [helper.make_node("Mul", ["a", "h"], ["ah"]), helper.make_node("Mul", ["x", "ah"], ["y"])]
    r2 = np.sqrt(2.0) if scale_op == "Div" else 1 / np.sqrt(2.0)
    return model(s, [("x", [3, 40])], ["y"], [const("r2", r2), const("one", 1.0), const("h", half)])


@pytest.mark.parametrize("order", ["torch", "half_x", "x_half"])
@pytest.mark.parametrize("scale_op", ["Div", "Mul"])
def test_gelu_erf_fuses(order, scale_op):
    x = RNG.uniform(-6, 6, (3, 40)).astype(np.float32)
    check(gelu_erf_graph(order, scale_op), {"x": x}, {"Gelu": 1}, absent=("Erf", "Mul", "Div"))


def test_gelu_wrong_half_stays():
    x = RNG.uniform(-6, 6, (3, 40)).astype(np.float32)
    check(gelu_erf_graph("torch", half=0.6), {"x": x}, {"Gelu": 0, "Erf": 1})


@pytest.mark.parametrize("cube", ["pow", "mul"])
def test_gelu_tanh_fuses(cube):
    if cube == "pow":
        c = [helper.make_node("Pow", ["x", "three"], ["x3"])]
    else:
        c = [helper.make_node("Mul", ["x", "x"], ["x2"]), helper.make_node("Mul", ["x2", "x"], ["x3"])]
    nodes = c + [
        helper.make_node("Mul", ["k", "x3"], ["w"]),
        helper.make_node("Add", ["x", "w"], ["u"]),
        helper.make_node("Mul", ["u", "s"], ["t"]),
        helper.make_node("Tanh", ["t"], ["th"]),
        helper.make_node("Add", ["one", "th"], ["a"]),
        helper.make_node("Mul", ["x", "h"], ["xh"]),
        helper.make_node("Mul", ["xh", "a"], ["y"]),
    ]
    data = model(nodes, [("x", [3, 40])], ["y"],
                 [const("three", 3.0), const("k", 0.044715), const("s", np.sqrt(2 / np.pi)),
                  const("one", 1.0), const("h", 0.5)])
    x = RNG.uniform(-6, 6, (3, 40)).astype(np.float32)
    check(data, {"x": x}, {"Gelu": 1}, absent=("Tanh", "Pow", "Mul"))


@pytest.mark.parametrize("w_const", [False, True])
def test_bias_gelu_fuses(w_const):
    # With a constant weight, fuse_epilogue.c then moves the BiasGelu into the MatMul's store.
    nodes = [helper.make_node("MatMul", ["x", "w"], ["xw"]),
             helper.make_node("Add", ["bias", "xw"], ["xb"]),
             helper.make_node("Div", ["xb", "r2"], ["t"]), helper.make_node("Erf", ["t"], ["e"]),
             helper.make_node("Add", ["e", "one"], ["a"]),
             helper.make_node("Mul", ["xb", "a"], ["xa"]), helper.make_node("Mul", ["xa", "h"], ["y"])]
    w = RNG.standard_normal((16, 24)).astype(np.float32)
    data = model(nodes, [("x", [5, 16])] + ([] if w_const else [("w", [16, 24])]), ["y"],
                 ([const("w", w)] if w_const else []) +
                 [const("bias", RNG.standard_normal(24)),
                  const("r2", np.sqrt(2.0)), const("one", 1.0), const("h", 0.5)])
    x = RNG.standard_normal((5, 16)).astype(np.float32)
    feeds = {"x": x} if w_const else {"x": x, "w": w}
    want = {"FusedMatMulBias": 1, "BiasGelu": 0} if w_const else {"BiasGelu": 1}
    check(data, feeds, dict(want, Gelu=0), absent=("Erf",))


# ---- attention ----

def attention_graph(b=2, s=10, heads=3, dh=8, scale="div", mask="right", kt="one", softmax_axis=-1,
                    perm_q=(0, 2, 1, 3), scores_out=False):
    d = heads * dh
    shp = numpy_helper.from_array(np.array([b, s, heads, dh], np.int64), "shp")
    back = numpy_helper.from_array(np.array([b, s, d], np.int64), "back")
    nodes = []
    for n in "qkv":
        nodes.append(helper.make_node("MatMul", ["x", "w" + n], [n + "3"]))
        nodes.append(helper.make_node("Reshape", [n + "3", "shp"], [n + "4"]))
    nodes.append(helper.make_node("Transpose", ["q4"], ["qt"], perm=list(perm_q)))
    nodes.append(helper.make_node("Transpose", ["v4"], ["vt"], perm=[0, 2, 1, 3]))
    if kt == "one":
        nodes.append(helper.make_node("Transpose", ["k4"], ["kt"], perm=[0, 2, 3, 1]))
    else:
        nodes.append(helper.make_node("Transpose", ["k4"], ["kh"], perm=[0, 2, 1, 3]))
        nodes.append(helper.make_node("Transpose", ["kh"], ["kt"], perm=[0, 1, 3, 2]))
    nodes.append(helper.make_node("MatMul", ["qt", "kt"], ["sc"]))
    last = "sc"
    inits = [shp, back, const("c", np.sqrt(dh) if scale == "div" else 1 / np.sqrt(dh))]
    if scale == "div":
        nodes.append(helper.make_node("Div", ["sc", "c"], ["ss"]))
        last = "ss"
    elif scale == "mul":
        nodes.append(helper.make_node("Mul", ["c", "sc"], ["ss"]))
        last = "ss"
    inputs = [("x", [b, s, d])]
    if mask:
        inputs.append(("mask", [b, 1, 1, s]))
        nodes.append(helper.make_node("Add", [last, "mask"] if mask == "right" else ["mask", last],
                                      ["sm"]))
        last = "sm"
    nodes += [helper.make_node("Softmax", [last], ["p"], axis=softmax_axis),
              helper.make_node("MatMul", ["p", "vt"], ["o"]),
              helper.make_node("Transpose", ["o"], ["ot"], perm=[0, 2, 1, 3]),
              helper.make_node("Reshape", ["ot", "back"], ["y"])]
    for n in "qkv":
        inits.append(const("w" + n, RNG.standard_normal((d, d)) / np.sqrt(d)))
    outs = ["y"] + (["sc"] if scores_out else [])
    feeds = {"x": RNG.standard_normal((b, s, d)).astype(np.float32)}
    if mask:
        m = np.zeros((b, 1, 1, s), np.float32)
        m[..., s - 3:] = -10000.0
        feeds["mask"] = m
    return model(nodes, inputs, outs, inits), feeds


@pytest.mark.parametrize("scale,mask,kt", [("div", "right", "one"), ("mul", "left", "two"),
                                           ("none", None, "one"), ("div", None, "two")])
def test_attention_fuses(scale, mask, kt):
    data, feeds = attention_graph(scale=scale, mask=mask, kt=kt)
    check(data, feeds, {"FusedAttention": 1}, absent=("Softmax", "Transpose"))


def test_attention_long_sequence():
    data, feeds = attention_graph(b=1, s=300, heads=2, dh=16)
    check(data, feeds, {"FusedAttention": 1})


@pytest.mark.parametrize("kw", [{"softmax_axis": 2}, {"perm_q": (0, 2, 3, 1)},
                                {"scores_out": True}])
def test_attention_near_misses_stay(kw):
    if "perm_q" in kw:  # Q transposed to [b, h, dh, s]: make the product well-formed (s == dh)
        data, feeds = attention_graph(s=8, dh=8, **kw)
    else:
        data, feeds = attention_graph(**kw)
    check(data, feeds, {"FusedAttention": 0, "Softmax": 1})


# ---- a PyTorch-exported encoder ----

@pytest.mark.parametrize("opset", [13, 17])
def test_torch_encoder_fuses(tmp_path, opset):
    torch = pytest.importorskip("torch")
    import torch_models
    built = torch_models.bert(batch=2, seq=24, layers=2, d=64)
    path = tmp_path / "bert.onnx"
    module = torch_models.export(built, str(path), opset=opset)
    ids = torch.randint(0, 1000, (3, 20), dtype=torch.long)  # fresh batch and length
    mask = torch.ones(3, 20, dtype=torch.long)
    mask[1, 12:] = 0
    feeds = {"input_ids": ids.numpy(), "attention_mask": mask.numpy()}
    data = path.read_bytes()
    fused, ops, unfused, ref = run_all(data, feeds)
    with torch.no_grad():
        want = module(ids, mask)
    for i, name in enumerate(["hidden", "pooled"]):
        np.testing.assert_allclose(fused[name], unfused[name], rtol=1e-5, atol=1e-5, err_msg=name)
        np.testing.assert_allclose(fused[name], ref[name], rtol=1e-4, atol=1e-4, err_msg=name)
        np.testing.assert_allclose(fused[name], want[i].numpy(), rtol=1e-4, atol=1e-4, err_msg=name)
    # embeddings LayerNorm + 2 per layer (the embeddings' one with the Add of its sum, a
    # SkipLayerNormalization of fuse_epilogue.c); one attention and one bias + Gelu per layer
    assert ops["LayerNormalization"] == 4 and ops["SkipLayerNormalization"] == 1, dict(ops)
    assert ops["FusedAttention"] == 2, dict(ops)
    # bias + Gelu became BiasGelu, which fuse_epilogue.c then put in the FFN product's store
    assert ops["BiasGelu"] == 0 and ops["FusedMatMulBias"] == 8, dict(ops)
    for gone in ("Softmax", "Erf", "ReduceMean", "Transpose", "Sqrt", "Pow"):
        assert ops[gone] == 0, dict(ops)


def model_ops(data, backend):
    """Operator types of a model loaded with AIS_OPT_BACKEND = backend (no session: a CUDA load
    needs no GPU until a session starts), through the C API."""
    import ctypes
    from aistack import _lib
    lib = _lib.lib
    lib.ais_model_node_info.argtypes = [ctypes.c_void_p, ctypes.c_size_t,
                                        ctypes.POINTER(ctypes.c_char_p),
                                        ctypes.POINTER(ctypes.c_char_p),
                                        ctypes.POINTER(ctypes.c_char_p)]
    opts, m = _lib.OptionsP(), _lib.ModelP()
    assert lib.ais_options_create(ctypes.byref(opts)) == 0
    assert lib.ais_options_set_int(opts, aistack._model.OPTIONS["backend"], backend) == 0
    buf = ctypes.create_string_buffer(data, len(data))
    try:
        assert lib.ais_model_load_memory(buf, len(data), opts, ctypes.byref(m)) == 0
        ops = collections.Counter()
        for i in range(lib.ais_model_node_count(m)):
            n, op, dom = ctypes.c_char_p(), ctypes.c_char_p(), ctypes.c_char_p()
            assert lib.ais_model_node_info(m, i, ctypes.byref(n), ctypes.byref(op),
                                           ctypes.byref(dom)) == 0
            ops[op.value.decode()] += 1
        return ops
    finally:
        lib.ais_model_destroy(m)
        lib.ais_options_destroy(opts)


def test_cuda_load_keeps_attention():
    # The CUDA backend runs Softmax, MatMul and Transpose but not the CPU-only FusedAttention or
    # BiasGelu: a model loaded for it keeps those subgraphs (LayerNorm and Gelu, which it runs,
    # still fuse).
    data, _ = attention_graph()
    assert model_ops(data, 0)["FusedAttention"] == 1
    cuda = model_ops(data, 1)
    assert cuda["FusedAttention"] == 0 and cuda["Softmax"] == 1, dict(cuda)
    ln, _ = layernorm_graph(13)
    assert model_ops(ln, 1)["LayerNormalization"] == 1


def test_fused_model_saves_and_loads(tmp_path):
    # The optimized graph (with its com.microsoft nodes) written as .ais loads again, also
    # without optimization, and gives the same outputs.
    data, feeds = attention_graph()
    m = aistack.Model.from_bytes(data)
    want = m.run(feeds)
    path = tmp_path / "fused.ais"
    m.save(str(path))
    m.close()
    for lvl in (0, 2):
        m2 = aistack.Model(str(path), opt_level=lvl)
        s = m2.session()
        got = s.run(feeds)
        assert collections.Counter(op for _, op, _ in s.nodes)["FusedAttention"] == 1
        np.testing.assert_array_equal(np.asarray(got["y"]), np.asarray(want["y"]))
        s.close()
        m2.close()
