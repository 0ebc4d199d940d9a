"""PyTorch-exported models run by libaistack match PyTorch on fresh random inputs.

The models are generated here with PyTorch (Debian's python3-torch) and torchvision's model
definitions with random weights; nothing large is committed. Tolerances: float32 end to end, so
outputs agree to about 1e-4 relative; we allow rtol 1e-3 and atol 1e-4 (deep CNNs accumulate
rounding over many layers).
"""
import os

import numpy as np
import pytest

torch = pytest.importorskip("torch", reason="PyTorch (python3-torch) is needed to export models")
import torch_models  # noqa: E402


def run_and_compare(aistack, tmp_path, built, opset=13, rtol=1e-3, atol=1e-4, fresh_inputs=None):
    model_path = tmp_path / "model.onnx"
    module = torch_models.export(built, str(model_path), opset=opset)
    _, inputs, in_names, out_names, _ = built
    if fresh_inputs is not None:
        inputs = fresh_inputs
    with torch.no_grad():
        expected = module(*inputs)
    if isinstance(expected, torch.Tensor):
        expected = (expected,)
    args = []
    for name, t in zip(in_names, inputs):
        f = tmp_path / f"{name}.npy"
        np.save(f, t.numpy())
        args += ["--input", f"{name}={f}"]
    out_dir = tmp_path / "out"
    aistack("run", model_path, *args, "--output-dir", out_dir)
    for name, want in zip(out_names, expected):
        got = np.load(out_dir / f"{name}.npy")
        want = want.numpy()
        assert got.shape == want.shape, f"{name}: shape {got.shape} vs PyTorch {want.shape}"
        assert got.dtype == want.dtype, f"{name}: dtype {got.dtype} vs PyTorch {want.dtype}"
        np.testing.assert_allclose(got, want, rtol=rtol, atol=atol, err_msg=name)


@pytest.mark.parametrize("batch", [1, 7])
def test_mlp(aistack, tmp_path, batch):
    built = torch_models.mlp(batch=3)
    fresh = (torch.randn(batch, 256),)  # a batch size the export never saw: dynamic dim
    run_and_compare(aistack, tmp_path, built, fresh_inputs=fresh, atol=1e-5)


@pytest.mark.parametrize("opset", [13, 17])
def test_bert_encoder(aistack, tmp_path, opset):
    # opset 13: LayerNorm decomposed into ReduceMean/Sub/Pow/Sqrt/Div; 17: LayerNormalization.
    built = torch_models.bert(batch=2, seq=24)
    run_and_compare(aistack, tmp_path, built, opset=opset)


@pytest.mark.parametrize("name", ["resnet18", "mobilenet_v2", "squeezenet1_0", "densenet121"])
def test_torchvision_cnn(aistack, tmp_path, name):
    pytest.importorskip("torchvision", reason="torchvision (python3-torchvision) is needed")
    built = torch_models.torchvision_cnn(name, batch=1, size=96 if name == "densenet121" else 128)
    run_and_compare(aistack, tmp_path, built)
