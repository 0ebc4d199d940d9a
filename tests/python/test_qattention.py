"""com.microsoft QAttention (issue 18): hand-built nodes and a BERT-style encoder that ONNX Runtime's
transformer optimizer fuses into Attention and quantize_dynamic turns into QAttention, run in
libaistack and in ONNX Runtime on the same file.

The int8 projection gives the same integers in both; the float scale, bias, softmax and the two
attention products differ in summation order only, so outputs agree to about 1e-6 relative; we
allow 1e-4 relative plus 1e-4 absolute.
"""
import numpy as np
import pytest

ort = pytest.importorskip("onnxruntime", reason="ONNX Runtime is needed")
onnx = pytest.importorskip("onnx", reason="onnx is needed to build the models")
from onnx import helper, numpy_helper  # noqa: E402
from ort_int8 import S8_HI, S8_LO  # noqa: E402


def _ort(path, feeds):
    so = ort.SessionOptions()
    so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
    so.intra_op_num_threads = 1
    s = ort.InferenceSession(str(path), so, providers=["CPUExecutionProvider"])
    return s.run(None, feeds), [o.name for o in s.get_outputs()]


def _ours(aistack, tmp_path, path, feeds, names, threads=1):
    args = []
    for k, v in feeds.items():
        f = tmp_path / f"in_{k}.npy"
        np.save(f, v)
        args += ["--input", f"{k}={f}"]
    out = tmp_path / f"out{threads}"
    aistack("run", path, *args, "--threads", threads, "--output-dir", out)
    return [np.load(out / f"{n}.npy") for n in names]


def _qattention_model(path, rng, b, s, hin, h, heads, w_signed, per_column, mask, attrs):
    w = (rng.integers(S8_LO, S8_HI, (hin, 3 * h)) if w_signed
         else rng.integers(0, 256, (hin, 3 * h))).astype(np.int8 if w_signed else np.uint8)
    ncol = 3 * h if per_column else 1
    ws = (rng.random(ncol) * 0.004 + 0.002).astype(np.float32)
    wz = (rng.integers(-4, 5, ncol) if w_signed else rng.integers(120, 136, ncol)).astype(w.dtype)
    inits = [numpy_helper.from_array(w, "w"),
             numpy_helper.from_array(rng.standard_normal(3 * h).astype(np.float32), "bias"),
             numpy_helper.from_array(np.array(0.03, np.float32), "xs"),
             numpy_helper.from_array(ws if per_column else ws.reshape(()), "ws"),
             numpy_helper.from_array(np.array(131, np.uint8), "xz"),
             numpy_helper.from_array(wz if per_column else wz.reshape(()), "wz")]
    inputs = [helper.make_tensor_value_info("x", onnx.TensorProto.UINT8, [b, s, hin])]
    if mask is not None:
        inputs.append(helper.make_tensor_value_info("mask", onnx.TensorProto.INT32,
                                                    list(mask.shape)))
    node = helper.make_node("QAttention",
                            ["x", "w", "bias", "xs", "ws", "mask" if mask is not None else "",
                             "xz", "wz"], ["y"], domain="com.microsoft", num_heads=heads, **attrs)
    g = helper.make_graph([node], "qattention", inputs,
                          [helper.make_tensor_value_info("y", onnx.TensorProto.FLOAT, [b, s, h])],
                          inits)
    onnx.save(helper.make_model(g, opset_imports=[helper.make_opsetid("", 13),
                                                   helper.make_opsetid("com.microsoft", 1)]),
              str(path))


def _mask(kind, rng, b, s):
    if kind == "none":
        return None
    if kind == "key_len":
        return rng.integers(1, s + 1, b).astype(np.int32)
    if kind == "end_start":
        return np.concatenate([rng.integers(s // 2 + 1, s + 1, b),
                               rng.integers(0, s // 2, b)]).astype(np.int32)
    if kind == "raw2d":
        m = (rng.random((b, s)) > 0.3).astype(np.int32)
        m[:, 0] = 1
        return m
    if kind == "raw3d":
        m = (rng.random((b, s, s)) > 0.3).astype(np.int32)
        m[:, :, 0] = 1
        return m
    raise ValueError(kind)


@pytest.mark.parametrize("mask_kind,w_signed,per_column,unidirectional", [
    ("none", True, False, False), ("key_len", True, True, False), ("end_start", False, False, False),
    ("raw2d", False, True, False), ("raw3d", True, True, False), ("none", True, True, True),
    ("raw2d", True, False, True)])
def test_qattention_node(aistack, tmp_path, mask_kind, w_signed, per_column, unidirectional):
    rng = np.random.default_rng(7)
    b, s, hin, h, heads = 2, 9, 48, 32, 4
    mask = _mask(mask_kind, rng, b, s)
    path = tmp_path / "qattention.onnx"
    _qattention_model(path, rng, b, s, hin, h, heads, w_signed, per_column, mask,
                      {"unidirectional": 1} if unidirectional else {})
    feeds = {"x": rng.integers(0, 256, (b, s, hin)).astype(np.uint8)}
    if mask is not None:
        feeds["mask"] = mask
    (want,), names = _ort(path, feeds)
    for threads in (1, 2):
        (got,) = _ours(aistack, tmp_path, path, feeds, names, threads)
        np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-4)
    # the mask mattered: masked keys change the output
    if mask is not None:
        feeds.pop("mask")
        path2 = tmp_path / "qattention_nomask.onnx"
        _qattention_model(path2, np.random.default_rng(7), b, s, hin, h, heads, w_signed,
                          per_column, None, {"unidirectional": 1} if unidirectional else {})
        (free,) = _ours(aistack, tmp_path, path2, feeds, names)
        assert np.abs(free - want).max() > 1e-3


def test_qattention_refuses_past(aistack, tmp_path):
    rng = np.random.default_rng(3)
    path = tmp_path / "qattention.onnx"
    _qattention_model(path, rng, 1, 4, 16, 16, 2, True, False, None, {})
    m = onnx.load(str(path))
    m.graph.node[0].input.append("past")
    m.graph.input.append(helper.make_tensor_value_info("past", onnx.TensorProto.FLOAT,
                                                       [2, 1, 2, 3, 8]))
    onnx.save(m, str(path))
    np.save(tmp_path / "x.npy", rng.integers(0, 256, (1, 4, 16)).astype(np.uint8))
    np.save(tmp_path / "p.npy", np.zeros((2, 1, 2, 3, 8), np.float32))
    p = aistack("run", path, "--input", f"x={tmp_path / 'x.npy'}", "--input",
                f"past={tmp_path / 'p.npy'}", "--output-dir", tmp_path / "o", check=False)
    assert p.returncode != 0
    assert "past" in p.stdout + p.stderr
