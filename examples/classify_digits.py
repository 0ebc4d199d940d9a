#!/usr/bin/env python3
"""Load the digits model with the Python binding, classify 8x8 images stored as .npy files.

    PYTHONPATH=bindings/python .venv/bin/python examples/classify_digits.py models/digits_mlp.onnx \
        models/digits/test0_label2.npy ...
prints one line per file: "FILE: DIGIT (probability P)".
"""
import os
import sys

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "bindings",
                                "python"))  # from the source tree; an installed aistack also works
import aistack  # noqa: E402


def main(argv):
    if len(argv) < 3:
        print(f"usage: {argv[0]} MODEL IMAGE.npy...", file=sys.stderr)
        return 2
    try:
        with aistack.Model(argv[1]) as model, model.session() as session:
            for path in argv[2:]:
                out = session.run({"pixels": np.load(path)})
                digit = int(out["digit"][0])
                print(f"{path}: {digit} (probability {out['probabilities'][0, digit]:.3f})")
    except aistack.AistackError as e:
        print(f"classify_digits.py: {e}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
