"""The native .ais format round trip: a model converted with `aistack convert` (raw and
zstd-compressed) gives bit-identical outputs to the .onnx it came from, on the same inputs."""
import os

import numpy as np
import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def _run(aistack, model, inputs, out_dir):
    args = []
    for name, path in inputs.items():
        args += ["--input", f"{name}={path}"]
    aistack("run", model, *args, "--output-dir", out_dir)
    return {f[:-4]: np.load(os.path.join(out_dir, f)) for f in sorted(os.listdir(out_dir))}


def _roundtrip(aistack, tmp_path, onnx_path, inputs):
    want = _run(aistack, onnx_path, inputs, tmp_path / "onnx_out")
    assert want, "the model produced no outputs"
    for level in ("none", "1", "9"):
        ais = tmp_path / f"model_{level}.ais"
        aistack("convert", onnx_path, ais, "--compress", level)
        got = _run(aistack, ais, inputs, tmp_path / f"ais_out_{level}")
        assert got.keys() == want.keys()
        for name in want:
            assert got[name].dtype == want[name].dtype and got[name].shape == want[name].shape
            # bit-identical, NaN payloads included
            assert got[name].tobytes() == want[name].tobytes(), f"{name} differs after .ais ({level})"


def test_digits_model_roundtrip(aistack, tmp_path):
    x = os.path.join(ROOT, "models", "digits", "test_batch.npy")
    _roundtrip(aistack, tmp_path, os.path.join(ROOT, "models", "digits_mlp.onnx"), {"pixels": x})


@pytest.mark.parametrize("which", ["mlp", "bert", "resnet18"])
def test_torch_model_roundtrip(aistack, tmp_path, which):
    torch = pytest.importorskip("torch", reason="PyTorch (python3-torch) is needed to export models")
    import torch_models
    if which == "mlp":
        built = torch_models.mlp(batch=4)
    elif which == "bert":
        built = torch_models.bert(batch=2, seq=16)
    else:
        pytest.importorskip("torchvision", reason="torchvision (python3-torchvision) is needed")
        built = torch_models.torchvision_cnn("resnet18", batch=1, size=64)
    onnx_path = tmp_path / "model.onnx"
    torch_models.export(built, str(onnx_path))
    _, inputs, names, _, _ = built
    files = {}
    for name, t in zip(names, inputs):
        files[name] = tmp_path / f"{name}.npy"
        np.save(files[name], t.numpy())
    _roundtrip(aistack, tmp_path, onnx_path, files)
