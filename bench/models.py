"""The benchmark's model set, generated with PyTorch and random (seeded) weights.

The architectures are the builders of tests/python/torch_models.py (shared with the PyTorch parity
tests, imported rather than copied). Each entry exports an ONNX file, saves the PyTorch module and
the inputs, so every system runs the same weights on the same inputs.

    python bench/models.py OUT_DIR [--quick]      # writes OUT_DIR/<key>.onnx, .pt, .npz
"""
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "tests", "python"))

import torch_models  # noqa: E402

# key -> (description, builder with no arguments)
MODELS = {
    "mlp_b1": ("MLP 256-512-512-256-10, batch 1", lambda: torch_models.mlp(batch=1)),
    "mlp_b256": ("MLP 256-512-512-256-10, batch 256", lambda: torch_models.mlp(batch=256)),
    "resnet18_b1": ("torchvision resnet18, 1x3x224x224",
                    lambda: torch_models.torchvision_cnn("resnet18", 1, 224)),
    "mobilenet_v2_b1": ("torchvision mobilenet_v2, 1x3x224x224",
                        lambda: torch_models.torchvision_cnn("mobilenet_v2", 1, 224)),
    "squeezenet1_0_b1": ("torchvision squeezenet1_0, 1x3x224x224",
                         lambda: torch_models.torchvision_cnn("squeezenet1_0", 1, 224)),
    "bert_s128": ("BERT-style encoder, 2 layers d=128, batch 1, seq 128",
                  lambda: torch_models.bert(batch=1, seq=128)),
}

# --quick: the same kinds of model, small enough for a smoke test in ctest.
QUICK = {
    "mlp_b1": MODELS["mlp_b1"],
    "mlp_b256": MODELS["mlp_b256"],
    "squeezenet1_0_b1": ("torchvision squeezenet1_0, 1x3x64x64",
                         lambda: torch_models.torchvision_cnn("squeezenet1_0", 1, 64)),
    "bert_s32": ("BERT-style encoder, 1 layer d=64, batch 1, seq 32",
                 lambda: torch_models.bert(batch=1, seq=32, layers=1, d=64)),
}


def generate(out_dir, key, spec, opset=13):
    """Writes <key>.onnx, <key>.pt (the whole module) and <key>.npz (inputs in order); returns
    (onnx path, pt path, npz path, input names, output names)."""
    import numpy as np
    import torch
    os.makedirs(out_dir, exist_ok=True)
    built = spec[1]()
    module, inputs, in_names, out_names, _ = built
    base = os.path.join(out_dir, key)
    torch_models.export(built, base + ".onnx", opset=opset)
    torch.save(module, base + ".pt")
    np.savez(base + ".npz", **{f"{i:02d}_{n}": t.numpy() for i, (n, t) in
                                enumerate(zip(in_names, inputs))})
    return base + ".onnx", base + ".pt", base + ".npz", in_names, out_names


def load_inputs(npz_path):
    import numpy as np
    with np.load(npz_path) as z:
        return [z[k] for k in sorted(z.files)]


if __name__ == "__main__":
    out = sys.argv[1]
    for k, s in (QUICK if "--quick" in sys.argv else MODELS).items():
        print(generate(out, k, s)[0])
