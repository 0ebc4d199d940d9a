#!/usr/bin/env python3
"""Writes an ONNX model that is a chain of N Identity nodes (x -> t1 -> ... -> y), unnamed as
exporters leave them, to check that loading stays linear in the node count (issue 12, item 7):

    scripts/gen_chain_model.py 1000000 models/generated/chain_1m.onnx
    time build/examples/aistack info models/generated/chain_1m.onnx

--reverse writes the nodes last-first (a valid graph that the loader must sort). The output
goes to models/generated/ (git-ignored) by default. Needs the onnx package.
"""
import argparse
import os

import onnx
from onnx import TensorProto, helper


def chain_model(n: int, reverse: bool = False) -> onnx.ModelProto:
    names = ["x"] + [f"t{i}" for i in range(1, n)] + ["y"]
    nodes = [helper.make_node("Identity", [names[i]], [names[i + 1]]) for i in range(n)]
    if reverse:
        nodes.reverse()
    graph = helper.make_graph(
        nodes, "chain",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["batch", 4])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["batch", 4])])
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)],
                             producer_name="gen_chain_model")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("nodes", type=int)
    ap.add_argument("out", nargs="?")
    ap.add_argument("--reverse", action="store_true", help="write the nodes last-first")
    a = ap.parse_args()
    out = a.out or os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
                                "models", "generated", f"chain_{a.nodes}.onnx")
    os.makedirs(os.path.dirname(os.path.abspath(out)), exist_ok=True)
    m = chain_model(a.nodes, a.reverse)
    # helper.make_model checks nothing; the full checker is itself slow at a million nodes
    with open(out, "wb") as f:
        f.write(m.SerializeToString())
    print(f"wrote {out}: {a.nodes} Identity nodes, {os.path.getsize(out)} bytes")


if __name__ == "__main__":
    main()
