#!/usr/bin/env python3
"""Trains the small model that ships with the repository and exports it to ONNX.

A multilayer perceptron on scikit-learn's bundled 8x8 handwritten digits (no download), trained
with PyTorch, exported as models/digits_mlp.onnx with a dynamic batch dimension. The graph ends in
Softmax (probabilities) and ArgMax (the predicted digit), so `aistack run` prints a prediction.
Also writes a few held-out test digits as .npy files with their true labels in the file names.

Run:  python models/make_digits_model.py   (needs torch, scikit-learn, numpy)
"""
import os

import numpy as np
import torch
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split

HERE = os.path.dirname(os.path.abspath(__file__))


class DigitsMLP(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.net = torch.nn.Sequential(
            torch.nn.Linear(64, 64), torch.nn.ReLU(),
            torch.nn.Linear(64, 32), torch.nn.ReLU(),
            torch.nn.Linear(32, 10))

    def forward(self, x):
        probs = torch.softmax(self.net(x / 16.0), dim=-1)
        return probs, torch.argmax(probs, dim=-1)


def main():
    torch.manual_seed(0)
    digits = load_digits()
    x = digits.data.astype(np.float32)
    y = digits.target.astype(np.int64)
    x_train, x_test, y_train, y_test = train_test_split(x, y, test_size=0.2, random_state=0)
    model = DigitsMLP()
    opt = torch.optim.Adam(model.parameters(), lr=1e-2)
    xt, yt = torch.from_numpy(x_train), torch.from_numpy(y_train)
    for _ in range(300):
        opt.zero_grad()
        loss = torch.nn.functional.cross_entropy(model.net(xt / 16.0), yt)
        loss.backward()
        opt.step()
    model.eval()
    with torch.no_grad():
        _, pred = model(torch.from_numpy(x_test))
    acc = float((pred.numpy() == y_test).mean())
    print(f"held-out accuracy: {acc:.3f} on {len(y_test)} digits")
    torch.onnx.export(model, torch.from_numpy(x_test[:1]), os.path.join(HERE, "digits_mlp.onnx"),
                      input_names=["pixels"], output_names=["probabilities", "digit"],
                      dynamic_axes={"pixels": {0: "batch"}, "probabilities": {0: "batch"},
                                    "digit": {0: "batch"}},
                      opset_version=13)
    os.makedirs(os.path.join(HERE, "digits"), exist_ok=True)
    for i in range(3):
        np.save(os.path.join(HERE, "digits", f"test{i}_label{y_test[i]}.npy"), x_test[i:i + 1])
    np.save(os.path.join(HERE, "digits", "test_batch.npy"), x_test)
    np.save(os.path.join(HERE, "digits", "test_batch_labels.npy"), y_test)


if __name__ == "__main__":
    main()
