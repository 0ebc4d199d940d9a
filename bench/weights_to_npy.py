#!/usr/bin/env python3
"""Weights for bench_ais_format: one .npy per tensor in OUT_DIR.

    weights_to_npy.py model.onnx OUT_DIR      # the initializers of an ONNX model
    weights_to_npy.py --sklearn-mlp OUT_DIR   # an MLP trained by scikit-learn on its digits set
"""
import os
import sys

import numpy as np


def main():
    src, out = sys.argv[1], sys.argv[2]
    os.makedirs(out, exist_ok=True)
    if src == "--sklearn-mlp":
        from sklearn.datasets import load_digits
        from sklearn.neural_network import MLPClassifier

        x, y = load_digits(return_X_y=True)
        clf = MLPClassifier(hidden_layer_sizes=(512, 512), max_iter=200, random_state=0)
        clf.fit(x / 16.0, y)
        tensors = {}
        for i, (w, b) in enumerate(zip(clf.coefs_, clf.intercepts_)):
            tensors["fc%d.weight" % i] = w.astype(np.float32)
            tensors["fc%d.bias" % i] = b.astype(np.float32)
        print("trained MLP accuracy on its training set: %.3f" % clf.score(x / 16.0, y))
    else:
        import onnx
        from onnx import numpy_helper

        m = onnx.load(src)
        tensors = {t.name: numpy_helper.to_array(t) for t in m.graph.initializer}
    for i, (name, a) in enumerate(tensors.items()):
        if a.dtype.kind in "fiub":
            np.save(os.path.join(out, "%04d.npy" % i), np.ascontiguousarray(a))
    print("%d tensors, %.1f MB" % (len(tensors), sum(a.nbytes for a in tensors.values()) / 1e6))


if __name__ == "__main__":
    main()
