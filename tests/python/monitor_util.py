"""What the monitoring tests (test_monitor.py, test_monitor_cli.py) share: a 4-feature linear
scorer behind a feature pipeline over two raw inputs, age and city, and records for it."""
import numpy as np

SPEC = {
    "version": 1,
    "inputs": [{"name": "age", "type": "numeric", "missing": "allow"},
               {"name": "city", "type": "categorical"}],
    "features": [
        {"input": "age", "steps": [{"op": "impute", "strategy": "median", "value": 40},
                                   {"op": "scale", "kind": "standard", "mean": 40, "scale": 10}]},
        {"input": "city", "steps": [{"op": "onehot", "categories": ["oslo", "rome", "pisa"],
                                     "unknown": "ignore"}]},
    ],
}


def scorer_model():
    """The scorer as an ONNX model (opset 17): score = x . w [N, 1], label = score > 0 [N]."""
    from onnx import TensorProto, helper, numpy_helper
    w = numpy_helper.from_array(np.array([[1.0], [0.5], [-0.5], [0.2]], np.float32), "w")
    g = helper.make_graph(
        [helper.make_node("MatMul", ["x", "w"], ["score"]),
         helper.make_node("Greater", ["score", "zero"], ["pos"]),
         helper.make_node("Cast", ["pos"], ["label2"], to=TensorProto.INT64),
         helper.make_node("Squeeze", ["label2", "axes"], ["label"])],
        "m", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [None, 4])],
        [helper.make_tensor_value_info("score", TensorProto.FLOAT, [None, 1]),
         helper.make_tensor_value_info("label", TensorProto.INT64, [None])],
        [w, numpy_helper.from_array(np.array(0.0, np.float32), "zero"),
         numpy_helper.from_array(np.array([1], np.int64), "axes")])
    return helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)])


def frame(rng, n, shift):
    """n records of age (5 % missing) and city; shift moves both distributions."""
    import pandas as pd
    age = rng.normal(40 + 15 * shift, 10, n).round(1)
    age[rng.random(n) < 0.05] = np.nan
    p = [0.6, 0.3, 0.1] if not shift else [0.2, 0.3, 0.5]
    city = rng.choice(["oslo", "rome", "pisa"], n, p=p)
    return pd.DataFrame({"age": age, "city": city})
