"""The QDQ fusion of lib/runtime/fuse_qdq.c (issue 18 item 2).

Hand-built QDQ groups (onnx.helper: DequantizeLinear -> operator -> QuantizeLinear as ONNX
Runtime's quantizer writes them) run fused (the default), unfused (qdq_fusion=0) and through ONNX
Runtime with and without its graph optimizations: the fused plan must hold the integer operator
(a pass that did not fire fails); its 8-bit outputs agree with the unfused ones (and ORT running
the file as written) within one quantization step (the integer operators round the exact int32
sum once, the float path rounds the float sum; ORT's QLinearAdd kernel differs from the float
path on about 5% of the elements in the same way), and with ORT's own fused kernels nearly
everywhere (at most 2% one step apart).
Near misses (a scale that is no constant, an operator output read twice, mismatched 8-bit types)
stay unfused and give the unfused result exactly.

Then the models of issue 18, quantized with ONNX Runtime's own tool: resnet18 and mobilenet_v2
(torchvision, random weights with batch-norm statistics taken from generated images so the
logits are not all alike) static QDQ with calibration on generated images, fused against ONNX
Runtime on the same file and against the float model (top-1 agreement, printed); a BERT-style
encoder quantized dynamically (nothing to fuse: it must still match).
"""
import ctypes
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
from fusion_util import run_ort, run_ours  # noqa: E402
from ort_int8 import REDUCE_RANGE, S8_HI, S8_LO  # noqa: E402

RNG = np.random.default_rng(18)
U8, I8 = TensorProto.UINT8, TensorProto.INT8


def t(name, value, dtype=None):
    return numpy_helper.from_array(np.asarray(value, dtype=dtype), name)


def qparams(prefix, scale, zp, np_type):
    return [t(prefix + "_s", np.float32(scale)), t(prefix + "_z", zp, np_type)]


def build(nodes, inputs, outputs, inits, opset=13):
    g = helper.make_graph(nodes, "g",
                          [helper.make_tensor_value_info(n, TensorProto.FLOAT, s)
                           for n, s in inputs],
                          [helper.make_tensor_value_info(n, TensorProto.FLOAT, None)
                           for n in outputs], inits)
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", opset)])
    m.ir_version = 8
    return m.SerializeToString()


def check(data, feeds, step, want_ops, absent=("QuantizeLinear",), max_off=0.02):
    """Fused vs unfused vs ORT; step: the output's quantization step."""
    fused, ops = run_ours(data, feeds)
    unfused, ops0 = run_ours(data, feeds, qdq_fusion=0)
    ref = run_ort(data, feeds)
    ref_opt = run_ort(data, feeds, optimize=True)  # ORT's own fused kernels
    for name, r in ref.items():
        np.testing.assert_allclose(unfused[name], r, rtol=1e-5, atol=1e-6, err_msg=name)
        d = np.abs(fused[name] - r) / step
        assert d.max() <= 1 + 1e-3, (name, d.max())
        d = np.abs(fused[name] - ref_opt[name]) / step
        assert d.max() <= 1 + 1e-3, (name, d.max())
        assert np.mean(d > 0.5) <= max_off, (name, np.mean(d > 0.5))
    for op, n in want_ops.items():
        assert ops[op] == n, f"{op}: {ops[op]} nodes, expected {n} ({dict(ops)})"
    for op in absent:
        assert ops[op] < ops0[op], f"{op} not fused: {dict(ops)} vs unfused {dict(ops0)}"
    return ops, ops0


def check_unfused(data, feeds, op):
    """A near miss: the plan keeps the float operator and the result is the unfused one."""
    fused, ops = run_ours(data, feeds)
    unfused, _ = run_ours(data, feeds, qdq_fusion=0)
    # (fuse.c may still fold an activation into the float Conv)
    assert ops[op] + ops["Fused" + op] >= 1, dict(ops)
    assert ops["QLinear" + op] == 0 and ops["QGemm"] == 0, dict(ops)
    for k in unfused:
        np.testing.assert_array_equal(fused[k], unfused[k])


# ---- Conv ----

def conv_graph(act="u8", per_channel=True, bias="int32", relu=None, y_zp=None,
               scale_is_input=False, second_reader=False, w_type=None, group=1):
    cin, cout = 4, 6 if group == 1 else 4  # group: 1, 2 or 4 (depthwise)
    at = U8 if act == "u8" else I8
    a_np = np.uint8 if act == "u8" else np.int8
    w_np = {None: np.int8, "u8": np.uint8}[w_type]
    xs, xz = 0.05, (128 if act == "u8" else 0)
    ys = 0.1
    yz = y_zp if y_zp is not None else (0 if act == "u8" else -128) if relu else xz
    w = RNG.integers(max(-100, S8_LO), min(100, S8_HI), (cout, cin // group, 3, 3)).astype(w_np) if w_np == np.int8 else \
        RNG.integers(0, 255, (cout, cin // group, 3, 3)).astype(np.uint8)
    ws = (RNG.uniform(0.002, 0.01, cout) if per_channel else np.array(0.005)).astype(np.float32)
    wz = np.zeros(ws.shape, w_np) if w_np == np.int8 else np.full(ws.shape, 128, np.uint8)
    inits = [t("w_q", w), t("w_s", ws), t("w_z", wz),
             t("x_z", xz, a_np), t("y_s", np.float32(ys)), t("y_z", yz, a_np)]
    if not scale_is_input:
        inits.append(t("x_s", np.float32(xs)))
    nodes = [helper.make_node("QuantizeLinear", ["x", "x_s", "x_z"], ["x_q"]),
             helper.make_node("DequantizeLinear", ["x_q", "x_s", "x_z"], ["x_d"]),
             helper.make_node("DequantizeLinear", ["w_q", "w_s", "w_z"], ["w_d"], axis=0)]
    conv_in = ["x_d", "w_d"]
    if bias == "int32":
        bs = (np.float32(xs) * ws).astype(np.float32)
        inits += [t("b_q", RNG.integers(-2000, 2000, cout).astype(np.int32)), t("b_s", bs),
                  t("b_z", np.zeros(bs.shape, np.int32))]
        nodes.append(helper.make_node("DequantizeLinear", ["b_q", "b_s", "b_z"], ["b_d"], axis=0))
        conv_in.append("b_d")
    elif bias == "float":
        inits.append(t("b_f", RNG.uniform(-1, 1, cout).astype(np.float32)))
        conv_in.append("b_f")
    nodes.append(helper.make_node("Conv", conv_in, ["c"], pads=[1, 1, 1, 1], group=group))
    q_in = "c"
    if relu == "relu":
        nodes.append(helper.make_node("Relu", ["c"], ["r"]))
        q_in = "r"
    elif relu in ("clip", "clipwide"):
        lo, hi = (0.0, 6.0) if relu == "clip" else (-1.0, 30.0)
        inits += [t("lo", np.float32(lo)), t("hi", np.float32(hi))]
        nodes.append(helper.make_node("Clip", ["c", "lo", "hi"], ["r"]))
        q_in = "r"
    nodes += [helper.make_node("QuantizeLinear", [q_in, "y_s", "y_z"], ["y_q"]),
              helper.make_node("DequantizeLinear", ["y_q", "y_s", "y_z"], ["y"])]
    outs = ["y"]
    if second_reader:
        nodes.append(helper.make_node("Sigmoid", ["c"], ["other"]))
        outs.append("other")
    inputs = [("x", [2, cin, 7, 7])] + ([("x_s", [])] if scale_is_input else [])
    feeds = {"x": RNG.standard_normal((2, cin, 7, 7)).astype(np.float32) * 2}
    if scale_is_input:
        feeds["x_s"] = np.array(xs, np.float32)
    return build(nodes, inputs, outs, inits), feeds, ys


@pytest.mark.parametrize("act,per_channel,bias", [
    ("u8", True, "int32"), ("u8", False, "none"), ("s8", True, "float"), ("s8", False, "int32")])
def test_conv_fuses(act, per_channel, bias):
    data, feeds, step = conv_graph(act, per_channel, bias)
    check(data, feeds, step, {"QLinearConv": 1, "Conv": 0})


@pytest.mark.parametrize("act", ["u8", "s8"])
@pytest.mark.parametrize("kind", ["relu", "clip", "clipwide"])
def test_conv_redundant_activation_folds(act, kind):
    # zero point at the type's minimum: the Q saturates at 0 as Relu cuts there
    data, feeds, step = conv_graph(act, True, "int32", relu=kind)
    if kind == "relu":
        check(data, feeds, step, {"QLinearConv": 1, "Relu": 0})
    elif kind == "clipwide":
        # Clip(-1, 30) holds the Q's whole range [0, 25.5]: redundant
        check(data, feeds, step, {"QLinearConv": 1, "Clip": 0})
    else:
        # Clip(0, 6) cuts at 6, inside the Q's range [0, 25.5]: not redundant, stays unfused
        check_unfused(data, feeds, "Conv")


def int8_depthwise():
    """Whether the level in effect has the integer depthwise kernel (AVX2 and up): there
    the QDQ fusion takes depthwise convolutions too (fuse_qdq.c)."""
    from aistack import _lib
    _lib.lib.ais_get_cpu_isa.restype = ctypes.c_int
    return _lib.lib.ais_get_cpu_isa() >= 1


def test_conv_grouped_fuses_depthwise_stays():
    # 2 groups of 2 input channels: fused; 4 groups of 1 (depthwise): fused where the integer
    # depthwise kernel exists, else left float (fuse_qdq.c says why) with the result of the
    # unfused graph
    data, feeds, step = conv_graph("u8", True, "int32", group=2)
    check(data, feeds, step, {"QLinearConv": 1, "Conv": 0})
    data, feeds, step = conv_graph("u8", True, "int32", group=4)
    if int8_depthwise():
        check(data, feeds, step, {"QLinearConv": 1, "Conv": 0})
    else:
        check_unfused(data, feeds, "Conv")


def test_conv_relu_not_redundant_stays():
    # zero point 10 > 0: the Q keeps values between -1.0 and 0 that Relu cuts
    data, feeds, _ = conv_graph("u8", True, "int32", relu="relu", y_zp=10)
    check_unfused(data, feeds, "Conv")


def test_conv_scale_not_constant_stays():
    data, feeds, _ = conv_graph(scale_is_input=True)
    check_unfused(data, feeds, "Conv")


def test_conv_output_read_twice_stays():
    data, feeds, _ = conv_graph(second_reader=True)
    check_unfused(data, feeds, "Conv")


def test_conv_mismatched_types_stay():
    # s8 activation with u8 weights: ORT's selector refuses it (its kernels have no s8 x u8)
    data, feeds, _ = conv_graph(act="s8", w_type="u8")
    check_unfused(data, feeds, "Conv")


def test_option_off_keeps_float_path():
    data, feeds, _ = conv_graph()
    _, ops = run_ours(data, feeds, qdq_fusion=0)
    assert ops["QLinearConv"] == 0 and ops["Conv"] == 1, dict(ops)


# ---- MatMul, Gemm, binary, pooling, data movement ----

def dq_input(name, shape, scale, zp, at=U8):
    a_np = np.uint8 if at == U8 else np.int8
    return ([helper.make_node("QuantizeLinear", [name, name + "_s", name + "_z"], [name + "_q"]),
             helper.make_node("DequantizeLinear", [name + "_q", name + "_s", name + "_z"],
                              [name + "_d"])],
            qparams(name, scale, zp, a_np))


def q_output(src, name, scale, zp, a_np=np.uint8):
    return ([helper.make_node("QuantizeLinear", [src, name + "_s", name + "_z"], [name + "_q"]),
             helper.make_node("DequantizeLinear", [name + "_q", name + "_s", name + "_z"], [name])],
            qparams(name, scale, zp, a_np))


def test_matmul_fuses_per_column():
    k, n = 16, 12
    xn, xi = dq_input("x", [3, 5, k], 0.04, 120)
    w = RNG.integers(max(-127, S8_LO), min(127, S8_HI), (k, n)).astype(np.int8)
    ws = RNG.uniform(0.005, 0.02, n).astype(np.float32)
    yn, yi = q_output("mm", "y", 0.2, 130)
    nodes = xn + [helper.make_node("DequantizeLinear", ["w_q", "w_s", "w_z"], ["w_d"], axis=1),
                  helper.make_node("MatMul", ["x_d", "w_d"], ["mm"])] + yn
    inits = xi + yi + [t("w_q", w), t("w_s", ws), t("w_z", np.zeros(n, np.int8))]
    data = build(nodes, [("x", [3, 5, k])], ["y"], inits)
    feeds = {"x": RNG.standard_normal((3, 5, k)).astype(np.float32) * 2}
    check(data, feeds, 0.2, {"QLinearMatMul": 1, "MatMul": 0})


@pytest.mark.parametrize("quant_out", [True, False])
def test_gemm_fuses(quant_out):
    k, n = 20, 7
    xn, xi = dq_input("x", [4, k], 0.03, 128)
    w = RNG.integers(max(-127, S8_LO), min(127, S8_HI), (n, k)).astype(np.int8)
    ws = RNG.uniform(0.005, 0.02, n).astype(np.float32)
    bs = (np.float32(0.03) * ws).astype(np.float32)
    nodes = xn + [
        helper.make_node("DequantizeLinear", ["w_q", "w_s", "w_z"], ["w_d"], axis=0),
        helper.make_node("DequantizeLinear", ["b_q", "b_s", "b_z"], ["b_d"], axis=0),
        helper.make_node("Gemm", ["x_d", "w_d", "b_d"], ["g" if quant_out else "y"], transB=1)]
    inits = xi + [t("w_q", w), t("w_s", ws), t("w_z", np.zeros(n, np.int8)),
                  t("b_q", RNG.integers(-3000, 3000, n).astype(np.int32)), t("b_s", bs),
                  t("b_z", np.zeros(n, np.int32))]
    if quant_out:
        yn, yi = q_output("g", "y", 0.1, 128)
        nodes += yn
        inits += yi
    data = build(nodes, [("x", [4, k])], ["y"], inits)
    feeds = {"x": RNG.standard_normal((4, k)).astype(np.float32)}
    if quant_out:
        check(data, feeds, 0.1, {"QGemm": 1, "Gemm": 0})
    else:
        fused, ops = run_ours(data, feeds)
        ref = run_ort(data, feeds)
        assert ops["QGemm"] == 1 and ops["Gemm"] == 0, dict(ops)
        # float out: the int32 sum times the scales, against float products summed
        np.testing.assert_allclose(fused["y"], ref["y"], rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("op", ["Add", "Mul"])
def test_binary_fuses(op):
    an, ai = dq_input("a", [2, 3, 4, 5], 0.05, 100)
    bn, bi = dq_input("b", [2, 3, 4, 5], 0.03, 140)
    yn, yi = q_output("s", "y", 0.08, 120)
    nodes = an + bn + [helper.make_node(op, ["a_d", "b_d"], ["s"])] + yn
    data = build(nodes, [("a", [2, 3, 4, 5]), ("b", [2, 3, 4, 5])], ["y"], ai + bi + yi)
    feeds = {"a": RNG.standard_normal((2, 3, 4, 5)).astype(np.float32) * 2,
             "b": RNG.standard_normal((2, 3, 4, 5)).astype(np.float32) * 2}
    check(data, feeds, 0.08, {"QLinear" + op: 1, op: 0})


def test_sigmoid_pool_concat_fuse():
    xn, xi = dq_input("x", [2, 4, 5, 5], 0.05, 128)
    zn, zi = dq_input("z", [2, 3, 5, 5], 0.04, 128)
    sn, si = q_output("sg", "sq", 1 / 256, 0)
    cn, ci = q_output("cat", "cq", 0.05, 128)
    pn, pi = q_output("gap", "y", 0.01, 128)
    # sigmoid's Q feeds the concat through its own DQ
    nodes = xn + zn + [helper.make_node("Sigmoid", ["x_d"], ["sg"])] + sn[:1] + [
        helper.make_node("DequantizeLinear", ["sq_q", "sq_s", "sq_z"], ["sq_d"]),
        helper.make_node("Concat", ["sq_d", "z_d"], ["cat"], axis=1)] + cn[:1] + [
        helper.make_node("DequantizeLinear", ["cq_q", "cq_s", "cq_z"], ["cq_d"]),
        helper.make_node("GlobalAveragePool", ["cq_d"], ["gap"])] + pn
    data = build(nodes, [("x", [2, 4, 5, 5]), ("z", [2, 3, 5, 5])], ["y"],
                 xi + zi + si + ci + pi)
    feeds = {"x": RNG.standard_normal((2, 4, 5, 5)).astype(np.float32) * 2,
             "z": RNG.standard_normal((2, 3, 5, 5)).astype(np.float32) * 2}
    check(data, feeds, 0.01, {"QLinearSigmoid": 1, "QLinearConcat": 1,
                              "QLinearGlobalAveragePool": 1})


@pytest.mark.parametrize("op", ["MaxPool", "Flatten", "Transpose", "Reshape"])
def test_data_movement_drops_pair(op):
    xn, xi = dq_input("x", [2, 3, 6, 6], 0.05, 128)
    yn, yi = q_output("m", "y", 0.05, 128)
    extra = []
    attrs = {"MaxPool": {"kernel_shape": [2, 2], "strides": [2, 2]}, "Flatten": {"axis": 1},
             "Transpose": {"perm": [0, 2, 3, 1]}, "Reshape": {}}[op]
    ins = ["x_d"]
    if op == "Reshape":
        extra = [t("shape", np.array([2, -1], np.int64))]
        ins.append("shape")
    nodes = xn + [helper.make_node(op, ins, ["m"], **attrs)] + yn
    data = build(nodes, [("x", [2, 3, 6, 6])], ["y"], xi + yi + extra)
    feeds = {"x": RNG.standard_normal((2, 3, 6, 6)).astype(np.float32) * 2}
    fused, ops = run_ours(data, feeds)
    unfused, _ = run_ours(data, feeds, qdq_fusion=0)
    # the same integers either way: the operator only moves them
    np.testing.assert_array_equal(fused["y"], unfused["y"])
    assert ops["QuantizeLinear"] == 1 and ops["DequantizeLinear"] == 1, dict(ops)


def test_data_movement_other_scale_stays():
    xn, xi = dq_input("x", [2, 3, 6, 6], 0.05, 128)
    yn, yi = q_output("m", "y", 0.06, 128)
    nodes = xn + [helper.make_node("MaxPool", ["x_d"], ["m"], kernel_shape=[2, 2])] + yn
    data = build(nodes, [("x", [2, 3, 6, 6])], ["y"], xi + yi)
    feeds = {"x": RNG.standard_normal((2, 3, 6, 6)).astype(np.float32)}
    fused, ops = run_ours(data, feeds)
    unfused, _ = run_ours(data, feeds, qdq_fusion=0)
    np.testing.assert_array_equal(fused["y"], unfused["y"])
    assert ops["QuantizeLinear"] == 2, dict(ops)


def test_shared_dq_feeds_both_fused_readers(tmp_path):
    """One DQ read by a Conv group and by an Add group (ORT's quantizer writes one DQ per
    tensor): both fuse, and a save + load of the fused model gives the same outputs."""
    cin = 4
    xn, xi = dq_input("x", [1, cin, 5, 5], 0.05, 128)
    w = RNG.integers(max(-100, S8_LO), min(100, S8_HI), (cin, cin, 1, 1)).astype(np.int8)
    cn, ci = q_output("c", "cq", 0.05, 128)
    yn, yi = q_output("s", "y", 0.1, 128)
    nodes = xn + [helper.make_node("DequantizeLinear", ["w_q", "w_s", "w_z"], ["w_d"]),
                  helper.make_node("Conv", ["x_d", "w_d"], ["c"])] + cn[:1] + [
        helper.make_node("DequantizeLinear", ["cq_q", "cq_s", "cq_z"], ["cq_d"]),
        helper.make_node("Add", ["x_d", "cq_d"], ["s"])] + yn
    inits = xi + ci + yi + [t("w_q", w), t("w_s", np.float32(0.01)), t("w_z", np.int8(0))]
    data = build(nodes, [("x", [1, cin, 5, 5])], ["y"], inits)
    feeds = {"x": RNG.standard_normal((1, cin, 5, 5)).astype(np.float32)}
    ops, _ = check(data, feeds, 0.1, {"QLinearConv": 1, "QLinearAdd": 1, "Conv": 0, "Add": 0})
    assert ops["DequantizeLinear"] == 1, dict(ops)  # only the output's
    m = aistack.Model.from_bytes(data)
    p = str(tmp_path / "fused.ais")
    m.save(p)
    fused, _ = run_ours(data, feeds)
    m2 = aistack.Model(p)
    s2 = m2.session(threads=1)
    again = {k: np.asarray(v) for k, v in s2.run(feeds).items()}
    np.testing.assert_array_equal(again["y"], fused["y"])
    s2.close()
    m2.close()
    m.close()


# ---- the models of issue 18 ----

def quantize_cnn(name, tmp_path, size=96):
    """The torchvision model, its batch norms' statistics taken from generated images (random
    weights otherwise give mobilenet_v2 logits of 1e-6, all alike), exported, pre-processed and
    quantized static QDQ per channel, u8 activations, s8 weights, as issue 18 asks. Returns
    (fp32 path, QDQ path, calibration-like inputs)."""
    torch = pytest.importorskip("torch")
    pytest.importorskip("torchvision")
    from onnxruntime import quantization as oq
    from onnxruntime.quantization.shape_inference import quant_pre_process
    import torch_models
    m, inp, i_n, o_n, dyn = torch_models.torchvision_cnn(name, batch=1, size=size)
    m.train()
    with torch.no_grad():
        for mod in m.modules():
            if isinstance(mod, torch.nn.BatchNorm2d):
                mod.momentum = None  # a plain average over the batches below
        g = torch.Generator().manual_seed(0)
        for _ in range(3):
            m(torch.randn(8, 3, size, size, generator=g))
    m.eval()
    raw = tmp_path / f"{name}_raw.onnx"
    torch_models.export((m, inp, i_n, o_n, dyn), str(raw), opset=13)
    fp32 = tmp_path / f"{name}.onnx"
    quant_pre_process(str(raw), str(fp32))
    rng = np.random.default_rng(1)
    calib = [rng.standard_normal((1, 3, size, size)).astype(np.float32) for _ in range(4)]

    class Reader(oq.CalibrationDataReader):
        def __init__(self):
            self.it = iter([{"image": b} for b in calib])

        def get_next(self):
            return next(self.it, None)

    q = tmp_path / f"{name}_qdq.onnx"
    oq.quantize_static(str(fp32), str(q), Reader(),
                       quant_format=oq.QuantFormat.QDQ, per_channel=True,
                       activation_type=oq.QuantType.QUInt8, weight_type=oq.QuantType.QInt8,
                       reduce_range=REDUCE_RANGE)
    feeds = {"image": rng.standard_normal((8, 3, size, size)).astype(np.float32)}
    return fp32, q, feeds


@pytest.mark.parametrize("name,n_conv,n_dw", [("resnet18", 20, 0), ("mobilenet_v2", 35, 17)])
def test_cnn_qdq_models(name, n_conv, n_dw, tmp_path):
    fp32, q, feeds = quantize_cnn(name, tmp_path)
    data = q.read_bytes()
    fused, ops = run_ours(data, feeds)
    unfused, ops0 = run_ours(data, feeds, qdq_fusion=0)
    # the depthwise convolutions stay float (fuse_qdq.c), perhaps with their Clip fused, unless
    # the level in effect has the integer depthwise kernel
    if int8_depthwise():
        n_conv, n_dw = n_conv + n_dw, 0
    assert ops["QLinearConv"] == n_conv and ops["Conv"] + ops["FusedConv"] == n_dw, dict(ops)
    # only the model input's Q, the pooled features' chain before the float head and the
    # depthwise layers' own Qs may stay
    assert ops["QuantizeLinear"] <= 2 + n_dw, dict(ops)
    want = run_ort(data, feeds)["logits"]
    want_opt = run_ort(data, feeds, optimize=True)["logits"]
    (got,), (got0,) = fused.values(), unfused.values()
    want_fp = run_ort(fp32.read_bytes(), feeds)["logits"]
    scale = np.abs(want).max()
    top1 = {k: float(np.mean(v.argmax(1) == want_fp.argmax(1)))
            for k, v in (("fused", got), ("ORT int8", want_opt))}
    d_ort = np.abs(got - want_opt)
    d_own = np.abs(want_opt - want)  # ORT's fused kernels against ORT's float path
    print(f"{name} QDQ: fused vs ORT (optimized) max {d_ort.max():.3g} mean {d_ort.mean():.3g}; "
          f"vs ORT (as written) max {np.abs(got - want).max():.3g}; unfused vs ORT (as "
          f"written) max {np.abs(got0 - want).max():.3g} mean {np.abs(got0 - want).mean():.3g}; "
          f"ORT optimized vs as written max {d_own.max():.3g} mean {d_own.mean():.3g} (logits up "
          f"to {scale:.3g}); top-1 agreement with fp32: {top1}, with ORT int8: "
          f"{np.mean(got.argmax(1) == want_opt.argmax(1)):.2f}; ops {dict(ops)}")
    # An activation on a rounding boundary lands one step apart (the integer kernels round the
    # exact sum, the float path the float sum) and the difference travels through the layers:
    # ORT's own two paths spread as much. Ours must stay within that spread.
    assert d_ort.mean() <= max(0.02 * scale, 1.5 * d_own.mean()), (d_ort.mean(), d_own.mean())
    assert np.mean(got.argmax(1) == want_opt.argmax(1)) >= 0.75
    assert np.corrcoef(got.ravel(), want_opt.ravel())[0, 1] > 0.95


def test_bert_dynamic_unchanged():
    """The dynamic-quantized encoder has no QDQ groups: fusion on and off give the same."""
    pytest.importorskip("torch")
    from onnxruntime import quantization as oq
    import tempfile
    import torch_models
    built = torch_models.bert(batch=2, seq=16, layers=1, d=64)
    with tempfile.TemporaryDirectory() as d:
        fp32, q = os.path.join(d, "bert.onnx"), os.path.join(d, "bert_dyn.onnx")
        torch_models.export(built, fp32, opset=13)
        oq.quantize_dynamic(fp32, q, weight_type=oq.QuantType.QInt8, reduce_range=REDUCE_RANGE)
        data = open(q, "rb").read()
    _, inputs, in_names, _, _ = built
    feeds = {n: x.numpy() for n, x in zip(in_names, inputs)}
    a, _ = run_ours(data, feeds)
    b, _ = run_ours(data, feeds, qdq_fusion=0)
    ref = run_ort(data, feeds)
    for k in ref:
        np.testing.assert_array_equal(a[k], b[k])
        np.testing.assert_allclose(a[k], ref[k], rtol=1e-4, atol=1e-4)
