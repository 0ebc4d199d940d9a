"""Bounded load time and memory for hostile ONNX models (issue 12, items 7-8), through the ONNX
reader: a tiny model asking for a terabyte constant loads and fails its run with LimitError
naming the node and size; the limits are options; a long chain written last-first loads."""
import numpy as np
import pytest
from onnx import TensorProto, helper

import aistack


def _constant_of_shape(elements: int) -> bytes:
    shape = helper.make_tensor("shape", TensorProto.INT64, [1], [elements])
    g = helper.make_graph(
        [helper.make_node("ConstantOfShape", ["shape"], ["y"])], "big", [],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)], [shape])
    return helper.make_model(g, opset_imports=[helper.make_opsetid("", 13)]).SerializeToString()


def test_terabyte_constant_of_shape_is_refused_cleanly():
    data = _constant_of_shape(1 << 38)  # f32: 2^40 bytes from a model of a few dozen bytes
    assert len(data) < 200
    with aistack.Model.from_bytes(data) as m:
        assert m.node_count == 1  # not folded at load
        with pytest.raises(aistack.LimitError) as e:
            m.run({})
    msg = str(e.value)
    assert "graph.node[0] (ConstantOfShape)" in msg
    assert "1099511627776 bytes" in msg and "AIS_OPT_MAX_TENSOR_BYTES" in msg


def test_limits_are_settings():
    data = _constant_of_shape(1 << 20)  # 4 MiB
    with aistack.Model.from_bytes(data) as m:
        assert m.node_count == 0  # folded by default
        assert m.run({})["y"].shape == (1 << 20,)
    with aistack.Model.from_bytes(data, max_fold_bytes=1 << 16) as m:
        assert m.node_count == 1
        y = m.run({})["y"]
        assert y.shape == (1 << 20,) and not y.any()
        with pytest.raises(aistack.LimitError, match="above the limit of 65536"):
            m.session(max_tensor_bytes=1 << 16).run({})


def test_long_chain_through_the_onnx_reader():
    n = 20000
    names = ["x"] + [f"t{i}" for i in range(1, n)] + ["y"]
    nodes = [helper.make_node("Identity", [names[i]], [names[i + 1]]) for i in range(n)][::-1]
    g = helper.make_graph(nodes, "chain",
                          [helper.make_tensor_value_info("x", TensorProto.FLOAT, [2, 3])],
                          [helper.make_tensor_value_info("y", TensorProto.FLOAT, [2, 3])])
    data = helper.make_model(g, opset_imports=[helper.make_opsetid("", 13)]).SerializeToString()
    x = np.arange(6, dtype=np.float32).reshape(2, 3)
    with aistack.Model.from_bytes(data) as m:
        assert m.node_count == n
        assert np.array_equal(m.run({"x": x})["y"], x)
