"""The epilogue fusions of lib/runtime/fuse_epilogue.c (issue 11): bias and residual Adds (and
an activation after them) moved into the store of MatMul (FusedMatMulBias) and Conv (FusedConv
with ONNX Runtime's input Z).

Hand-built graphs run fused (optimization level 2), unfused (level 1) and through ONNX Runtime;
all agree, and the fused nodes are counted in the session's plan, so a pass that did not fire
fails. Near misses stay unfused. Then the exporters' real patterns: the PyTorch BERT-style
encoder (every projection and FFN MatMul fused) and torchvision's ResNet-18 (every skip Add).
"""
import collections
import os
import sys

import numpy as np
import pytest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from test_transformer_fusion import (F, aistack, check, const, helper, model,  # noqa: E402
                                     model_ops, run_all)

RNG = np.random.default_rng(23)


def rand(*shape):
    return RNG.standard_normal(shape).astype(np.float32)


def matmul_chain(tail, bias_first=False, bias_shape=(16,), z_shape=(2, 5, 16), a_shape=(2, 5, 8),
                 opset=13, mm_out=False):
    """MatMul(x, W) -> Add(bias) -> tail ('', 'resid', 'relu', 'gelu', 'erfgelu'), or with
    bias_shape None: MatMul -> Add(z) directly."""
    nodes = [helper.make_node("MatMul", ["x", "w"], ["mm"])]
    inits = [const("w", rand(8, 16))]
    inputs = [("x", list(a_shape))]
    feeds = {"x": rand(*a_shape)}
    last = "mm"
    if bias_shape is not None:
        inits.append(const("b", rand(*bias_shape)))
        nodes.append(helper.make_node("Add", ["b", "mm"] if bias_first else ["mm", "b"], ["mb"]))
        last = "mb"
    if tail == "resid" or bias_shape is None:
        nodes.append(helper.make_node("Add", ["z", last], ["y"]))
        inputs.append(("z", list(z_shape)))
        feeds["z"] = rand(*z_shape)
    elif tail == "relu":
        nodes.append(helper.make_node("Relu", [last], ["y"]))
    elif tail == "gelu":
        nodes.append(helper.make_node("Gelu", [last], ["y"]))
    elif tail == "erfgelu":
        inits += [const("sq2", np.sqrt(2.0)), const("one", 1.0), const("half", 0.5)]
        nodes += [helper.make_node("Div", [last, "sq2"], ["d"]),
                  helper.make_node("Erf", ["d"], ["e"]),
                  helper.make_node("Add", ["e", "one"], ["e1"]),
                  helper.make_node("Mul", [last, "e1"], ["m"]),
                  helper.make_node("Mul", ["m", "half"], ["y"])]
    else:
        nodes[-1].output[0] = "y"
    outputs = ["y"] + (["mm"] if mm_out else [])
    return model(nodes, inputs, outputs, inits, opset=opset), feeds


@pytest.mark.parametrize("tail,bias_first", [("", False), ("", True), ("resid", False),
                                             ("relu", False), ("erfgelu", False)])
def test_matmul_bias_chains(tail, bias_first):
    data, feeds = matmul_chain(tail, bias_first)
    ops = check(data, feeds, {"FusedMatMulBias": 1},
                absent=("MatMul", "Add", "Relu", "BiasGelu", "Erf"))
    assert len(list(ops.elements())) == 1, dict(ops)


def test_matmul_onnx_gelu():
    data, feeds = matmul_chain("gelu", opset=20)
    check(data, feeds, {"FusedMatMulBias": 1}, absent=("Gelu", "Add"))


@pytest.mark.parametrize("z_shape,a_shape", [((2, 5, 16), (2, 5, 8)), ((16,), (2, 5, 8)),
                                             ((5, 1), (2, 5, 8)), ((3, 5, 16), (5, 8))])
def test_matmul_residual_shapes(z_shape, a_shape):
    # Z of the output's shape goes into the tiles; a broadcasting Z (also one that makes the
    # output larger than the product) takes the Add kernel, with the same result as unfused.
    data, feeds = matmul_chain("resid", z_shape=z_shape, a_shape=a_shape)
    check(data, feeds, {"FusedMatMulBias": 1}, absent=("Add",))
    data, feeds = matmul_chain("resid", bias_shape=None, z_shape=z_shape, a_shape=a_shape)
    check(data, feeds, {"FusedMatMulBias": 1}, absent=("Add", "MatMul"))


def test_matmul_large_residual_threads():
    # Big enough for the GEMM to split over both threads, rows of A not a multiple of the tile.
    data, feeds = matmul_chain("resid", z_shape=(3, 67, 16), a_shape=(3, 67, 8))
    check(data, feeds, {"FusedMatMulBias": 1})
    nodes = [helper.make_node("MatMul", ["x", "w"], ["mm"]),
             helper.make_node("Add", ["mm", "b"], ["mb"]),
             helper.make_node("Add", ["mb", "z"], ["y"])]
    data = model(nodes, [("x", [1, 133, 384]), ("z", [1, 133, 1536])], ["y"],
                 [const("w", rand(384, 1536)), const("b", rand(1536))])
    check(data, {"x": rand(1, 133, 384), "z": rand(1, 133, 1536)}, {"FusedMatMulBias": 1},
          atol=1e-4)


def test_matmul_near_misses():
    # a 2-D constant "bias" (not over the last axis alone): nothing
    data, feeds = matmul_chain("", bias_shape=(5, 16))
    check(data, feeds, {"FusedMatMulBias": 0, "MatMul": 1, "Add": 1})
    # a bias of the wrong length would not broadcast at all; a bias of one element does, but is
    # not a [N] vector: stays
    data, feeds = matmul_chain("", bias_shape=(1,))
    check(data, feeds, {"FusedMatMulBias": 0, "Add": 1})
    # the product is also a graph output: stays
    data, feeds = matmul_chain("", mm_out=True)
    check(data, feeds, {"FusedMatMulBias": 0, "MatMul": 1})
    # B computed, not a constant: stays
    nodes = [helper.make_node("MatMul", ["x", "w"], ["mm"]),
             helper.make_node("Add", ["mm", "b"], ["y"])]
    data = model(nodes, [("x", [2, 8]), ("w", [8, 16])], ["y"], [const("b", rand(16))])
    check(data, {"x": rand(2, 8), "w": rand(8, 16)}, {"FusedMatMulBias": 0, "MatMul": 1})
    # the biased value has a second reader: bias fused, the residual Add stays
    nodes = [helper.make_node("MatMul", ["x", "w"], ["mm"]),
             helper.make_node("Add", ["mm", "b"], ["mb"]),
             helper.make_node("Add", ["mb", "z"], ["y"]),
             helper.make_node("Relu", ["mb"], ["y2"])]
    data = model(nodes, [("x", [4, 8]), ("z", [4, 16])], ["y", "y2"],
                 [const("w", rand(8, 16)), const("b", rand(16))])
    check(data, {"x": rand(4, 8), "z": rand(4, 16)},
          {"FusedMatMulBias": 1, "Add": 1, "Relu": 1})


def conv_graph(relu=True, bias=True, z_kind="conv_after", group=1, z_shape=None, add="Add"):
    """Conv -> Add(Z) [-> Relu]; Z from a second Conv placed after the first (the order of
    ResNet's downsampling branch), a graph input, or a broadcasting input. add: the node that
    sums them (ShuffleNet's is a Sum of two)."""
    c = 8
    inits = [const("w", rand(c, c // group, 3, 3) * 0.2)]
    conv_in = ["x", "w"] + (["b"] if bias else [])
    if bias:
        inits.append(const("b", rand(c)))
    nodes = [helper.make_node("Conv", conv_in, ["c1"], pads=[1, 1, 1, 1], group=group)]
    inputs = [("x", [2, c, 9, 7])]
    feeds = {"x": rand(2, c, 9, 7)}
    if z_kind == "conv_after":
        inits.append(const("wd", rand(c, c, 1, 1)))
        nodes.append(helper.make_node("Conv", ["x", "wd"], ["zz"]))
        z = "zz"
    else:
        z = "z"
        shape = z_shape or [2, c, 9, 7]
        inputs.append(("z", list(shape)))
        feeds["z"] = rand(*shape)
    nodes.append(helper.make_node(add, ["c1", z], ["s"] if relu else ["y"]))
    if relu:
        nodes.append(helper.make_node("Relu", ["s"], ["y"]))
    return model(nodes, inputs, ["y"], inits), feeds


@pytest.mark.parametrize("relu,bias,z_kind,group,z_shape", [
    (True, True, "conv_after", 1, None), (False, True, "conv_after", 1, None),
    (True, False, "input", 1, None), (True, True, "input", 8, None),
    (True, True, "input", 1, [1, 8, 1, 1]), (False, True, "input", 2, [9, 7])])
def test_conv_residual(relu, bias, z_kind, group, z_shape):
    data, feeds = conv_graph(relu, bias, z_kind, group, z_shape)
    ops = check(data, feeds, {"FusedConv": 1}, absent=("Add", "Relu"))
    assert ops["Conv"] == (1 if z_kind == "conv_after" else 0), dict(ops)


@pytest.mark.parametrize("relu,z_kind", [(True, "conv_after"), (False, "input")])
def test_conv_residual_sum(relu, z_kind):
    data, feeds = conv_graph(relu, True, z_kind, 1, None, add="Sum")
    check(data, feeds, {"FusedConv": 1}, absent=("Sum", "Relu"))


def test_conv_near_misses():
    # the convolution's output is read twice: stays
    nodes = [helper.make_node("Conv", ["x", "w"], ["c1"], pads=[1, 1, 1, 1]),
             helper.make_node("Add", ["c1", "z"], ["y"]),
             helper.make_node("Relu", ["c1"], ["y2"])]
    data = model(nodes, [("x", [1, 4, 6, 6]), ("z", [1, 4, 6, 6])], ["y", "y2"],
                 [const("w", rand(4, 4, 3, 3))])
    check(data, {"x": rand(1, 4, 6, 6), "z": rand(1, 4, 6, 6)}, {"Add": 1})
    # Add of a constant (a bias-like tensor, not a residual): stays
    nodes = [helper.make_node("Conv", ["x", "w"], ["c1"], pads=[1, 1, 1, 1]),
             helper.make_node("Add", ["c1", "k"], ["y"])]
    data = model(nodes, [("x", [1, 4, 6, 6])], ["y"],
                 [const("w", rand(4, 4, 3, 3)), const("k", rand(1, 4, 6, 6))])
    check(data, {"x": rand(1, 4, 6, 6)}, {"Add": 1, "Conv": 1})
    # a Sum of three: stays
    nodes = [helper.make_node("Conv", ["x", "w"], ["c1"], pads=[1, 1, 1, 1]),
             helper.make_node("Sum", ["c1", "z", "z"], ["y"])]
    data = model(nodes, [("x", [1, 4, 6, 6]), ("z", [1, 4, 6, 6])], ["y"],
                 [const("w", rand(4, 4, 3, 3))])
    check(data, {"x": rand(1, 4, 6, 6), "z": rand(1, 4, 6, 6)}, {"Sum": 1, "Conv": 1})


def test_fused_epilogues_save_and_load(tmp_path):
    for data, feeds, op in (matmul_chain("resid") + ("FusedMatMulBias",),
                            conv_graph() + ("FusedConv",)):
        m = aistack.Model.from_bytes(data)
        want = m.run(feeds)
        path = tmp_path / "fused.ais"
        m.save(str(path))
        m.close()
        for lvl in (0, 2):
            m2 = aistack.Model(str(path), opt_level=lvl)
            s = m2.session()
            got = s.run(feeds)
            assert collections.Counter(o for _, o, _ in s.nodes)[op] == 1
            np.testing.assert_array_equal(np.asarray(got["y"]), np.asarray(want["y"]))
            s.close()
            m2.close()


def test_cuda_load_keeps_adds():
    # The GPU backend has no FusedMatMulBias and its FusedConv no Z: a model loaded for it
    # keeps the Adds (no GPU is needed to load).
    for data, _ in (matmul_chain("resid"), conv_graph()):
        cpu, cuda = model_ops(data, 0), model_ops(data, 1)
        assert cuda["Add"] >= 1 and cuda["FusedMatMulBias"] == 0, dict(cuda)
        assert cpu["Add"] == 0, dict(cpu)


def test_torch_bert_projections(tmp_path):
    torch = pytest.importorskip("torch")
    import torch_models
    built = torch_models.bert(batch=2, seq=24, layers=2, d=64)
    path = tmp_path / "bert.onnx"
    module = torch_models.export(built, str(path), opset=13)
    ids = torch.randint(0, 1000, (3, 20), dtype=torch.long)
    mask = torch.ones(3, 20, dtype=torch.long)
    mask[1, 12:] = 0
    feeds = {"input_ids": ids.numpy(), "attention_mask": mask.numpy()}
    fused, ops, unfused, ref = run_all(path.read_bytes(), feeds)
    with torch.no_grad():
        want = module(ids, mask)
    for i, name in enumerate(["hidden", "pooled"]):
        np.testing.assert_allclose(fused[name], unfused[name], rtol=1e-5, atol=1e-5, err_msg=name)
        np.testing.assert_allclose(fused[name], ref[name], rtol=1e-4, atol=1e-4, err_msg=name)
        np.testing.assert_allclose(fused[name], want[i].numpy(), rtol=1e-4, atol=1e-4,
                                   err_msg=name)
    # per layer: the QKV product, the output projection (with its residual), both FFN products
    # (with Gelu; with the residual)
    assert ops["FusedMatMulBias"] == 8, dict(ops)
    assert ops["MatMul"] == 0 and ops["BiasGelu"] == 0, dict(ops)
    # the embeddings' sum: the first Add stays, the second goes into its LayerNorm; every
    # residual is in a store
    assert ops["Add"] == 1 and ops["SkipLayerNormalization"] == 1, dict(ops)


def test_torchvision_resnet18(tmp_path):
    torch = pytest.importorskip("torch")
    pytest.importorskip("torchvision")
    import torch_models
    built = torch_models.torchvision_cnn("resnet18", batch=1, size=64)
    path = tmp_path / "r18.onnx"
    module = torch_models.export(built, str(path))
    x = torch.randn(2, 3, 64, 64)
    fused, ops, unfused, ref = run_all(path.read_bytes(), {"image": x.numpy()})
    with torch.no_grad():
        want = module(x).numpy()
    np.testing.assert_allclose(fused["logits"], unfused["logits"], rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(fused["logits"], want, rtol=1e-3, atol=1e-3)
    # every basic block's skip Add (and its Relu) is in a convolution's store
    assert ops["Add"] == 0 and ops["Relu"] == 0, dict(ops)
    assert ops["FusedConv"] == 8 + 9, dict(ops)  # 8 with Z, 8 + the stem with Relu alone
