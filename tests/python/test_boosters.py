"""XGBoost JSON and LightGBM text models loaded by libaistack: raw scores (margins) compared with
the booster's own predict(output_margin=True) / predict(raw_score=True), probabilities and class
argmax too, on scikit-learn's bundled data sets with NaN entries (skipped without the boosters).
"""
import os
import subprocess
import sys

import numpy as np
import pytest

pytest.importorskip("sklearn")
xgb = pytest.importorskip("xgboost")
lgb = pytest.importorskip("lightgbm")

from sklearn.datasets import load_breast_cancer, load_diabetes, load_iris  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(ROOT, "bindings", "python"))
import aistack  # noqa: E402

TOL = 1e-5


def data(loader, seed):
    X, y = loader(return_X_y=True)
    rng = np.random.default_rng(seed)
    X = X.astype(np.float32)
    X[rng.random(X.shape) < 0.1] = np.nan  # missing values reach every default direction
    return X, y


def close(got, want):
    want = np.asarray(want, dtype=np.float64).reshape(got.shape)
    scale = np.maximum(1.0, np.abs(want))
    assert np.max(np.abs(got - want) / scale) < TOL


def run(path, X):
    with open(path, "rb") as f:
        blob = f.read()
    with aistack.Model.from_bytes(blob) as m:
        return {k: np.asarray(v) for k, v in m.run({"input": X}).items()}


CASES = [
    ("binary", load_breast_cancer, 2),
    ("multi", load_iris, 3),
    ("regression", load_diabetes, 1),
]


@pytest.mark.parametrize("kind,loader,k", CASES)
def test_xgboost(tmp_path, kind, loader, k):
    X, y = data(loader, 1)
    params = {"max_depth": 5, "eta": 0.3, "seed": 0}
    params["objective"] = {"binary": "binary:logistic", "multi": "multi:softprob",
                           "regression": "reg:squarederror"}[kind]
    if kind == "multi":
        params["num_class"] = 3
    bst = xgb.train(params, xgb.DMatrix(X, label=y), num_boost_round=30)
    path = str(tmp_path / "m.json")
    bst.save_model(path)
    out = run(path, X)
    want = bst.predict(xgb.DMatrix(X), output_margin=True)
    close(out["margin"], want)
    if kind != "regression":
        prob = bst.predict(xgb.DMatrix(X))
        close(out["probability"], prob)
        if kind == "multi":
            assert (out["margin"].argmax(1) == want.argmax(1)).all()
        else:
            assert ((out["margin"][:, 0] > 0) == (want > 0)).all()


@pytest.mark.parametrize("kind,loader,k", CASES)
def test_lightgbm(tmp_path, kind, loader, k):
    X, y = data(loader, 2)
    params = {"objective": {"binary": "binary", "multi": "multiclass",
                            "regression": "regression"}[kind],
              "max_depth": 5, "num_leaves": 24, "verbose": -1, "seed": 0,
              "min_data_in_leaf": 5}
    if kind == "multi":
        params["num_class"] = 3
    bst = lgb.train(params, lgb.Dataset(X.astype(np.float64), label=y), num_boost_round=30)
    path = str(tmp_path / "m.txt")
    bst.save_model(path)
    out = run(path, X)
    X64 = X.astype(np.float64)
    want = bst.predict(X64, raw_score=True)
    close(out["margin"], want)
    if kind != "regression":
        close(out["probability"], bst.predict(X64))
        if kind == "multi":
            assert (out["margin"].argmax(1) == want.argmax(1)).all()


def test_info(tmp_path):
    aistack_tool = os.environ.get("AIS_AISTACK")
    if not aistack_tool:
        pytest.skip("AIS_AISTACK (the aistack tool) not given")
    X, y = data(load_breast_cancer, 3)
    bst = xgb.train({"objective": "binary:logistic", "max_depth": 4},
                    xgb.DMatrix(X, label=y), num_boost_round=20)
    bst.save_model(str(tmp_path / "m.json"))
    lb = lgb.train({"objective": "binary", "verbose": -1}, lgb.Dataset(X, label=y), 20)
    lb.save_model(str(tmp_path / "m.txt"))
    for name in ("m.json", "m.txt"):
        r = subprocess.run([aistack_tool, "info", str(tmp_path / name)], capture_output=True,
                           text=True)
        assert r.returncode == 0, r.stderr
        assert "TreeEnsembleRegressor" in r.stdout or "margin" in r.stdout
