"""XGBoost JSON and LightGBM text models loaded by libaistack: raw scores (margins) compared with
the booster's own predict(output_margin=True) / predict(raw_score=True), probabilities and class
argmax too, on scikit-learn's bundled data sets with NaN entries (skipped without the boosters).

XGBoost margins must be EQUAL, bit for bit, to XGBoost's own float32 margins (Booster.predict with
output_margin=True and inplace_predict): the reader makes the tree node sum in float from the base
margin, tree by tree, as XGBoost's CPU predictor does (aistack_accumulate "float32",
docs/boosters.md). LightGBM sums in double and so do we: its raw scores (float64) are compared
within 1e-5 relative to max(1, |score|), our margin output being float32.
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


def exact(got, want):
    """got (our float32 margin) equal to XGBoost's float32 margin, element for element."""
    want = np.asarray(want)
    assert want.dtype == np.float32 and got.dtype == np.float32
    want = want.reshape(got.shape)
    bad = got != want
    if bad.any():
        i = np.flatnonzero(bad)[0]
        raise AssertionError(f"{bad.sum()} of {got.size} margins differ, e.g. [{i}] "
                             f"{got.ravel()[i]!r} vs XGBoost {want.ravel()[i]!r} "
                             f"(max |diff| {np.abs(got - want).max()})")


def xgb_margins(bst, X, dmatrix):
    """XGBoost's margins both ways: a DMatrix through predict, and inplace_predict."""
    by_dm = bst.predict(dmatrix(X), output_margin=True)
    inplace = bst.inplace_predict(X, predict_type="margin")
    return by_dm, inplace


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
    want, inplace = xgb_margins(bst, X, xgb.DMatrix)
    exact(out["margin"], want)
    exact(out["margin"], inplace)
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


# ---- categorical splits, objectives and options --------------------------------------------

def cat_data(seed, n=700):
    """Column 0: 3 categories (one-hot style splits), 1: numeric, 2: 30 categories (partition
    splits), 3: numeric with exact zeros; NaN everywhere."""
    rng = np.random.default_rng(seed)
    c0 = rng.integers(0, 3, n).astype(np.float32)
    c2 = rng.integers(0, 30, n).astype(np.float32)
    x1 = rng.normal(size=n).astype(np.float32)
    x3 = np.where(rng.random(n) < 0.3, 0, rng.normal(size=n)).astype(np.float32)
    eff = rng.normal(size=30)
    score = eff[c2.astype(int)] + (c0 == 1) * 1.5 + 0.3 * x1 + 0.5 * (x3 == 0)
    X = np.stack([c0, x1, c2, x3], 1)
    X[rng.random(X.shape) < 0.1] = np.nan
    return X, score


def cat_test_rows(X, seed):
    """Unseen, negative, non-integer and huge categories besides the training rows."""
    rng = np.random.default_rng(seed)
    T = X.copy()
    T[:40, 2] = rng.integers(30, 45, 40)
    T[40:70, 2] = rng.uniform(-3, 40, 30).astype(np.float32)
    T[70:82, 0] = np.array([-0.5, -1, -1.5, 0.5, 1.7, 2.99, 3, 1e9, -1e9, -0.0, 0.999, 1.0],
                           np.float32)
    T[82:90, 3] = np.array([1e-36, -1e-36, 1e-34, -1e-34, 0, -0.0, 1e-45, np.nan], np.float32)
    return T


FT = ["c", "q", "c", "q"]


def xgb_dm(X, y=None):
    return xgb.DMatrix(X, label=y, feature_types=FT, enable_categorical=True)


def labels(score, kind):
    if kind == "binary":
        return (score > np.median(score)).astype(np.float64)
    if kind == "multi":
        return np.digitize(score, np.quantile(score, [1 / 3, 2 / 3])).astype(np.float64)
    if kind in ("poisson", "gamma", "tweedie"):
        return np.exp(0.5 * score) + (0.01 if kind == "gamma" else 0.0)
    return score


XGB_OBJ = {"binary": "binary:logistic", "multi": "multi:softprob",
           "regression": "reg:squarederror", "logistic": "reg:logistic",
           "poisson": "count:poisson", "gamma": "reg:gamma", "tweedie": "reg:tweedie",
           "softmax": "multi:softmax", "logitraw": "binary:logitraw"}


def xgb_check(tmp_path, bst, X, kind):
    path = str(tmp_path / "m.json")
    bst.save_model(path)
    out = run(path, X)
    for want in xgb_margins(bst, X, xgb_dm):
        exact(out["margin"], want)
    if kind in ("binary", "multi", "logistic"):
        close(out["probability"], bst.predict(xgb_dm(X)))


@pytest.mark.parametrize("kind", ["regression", "binary", "multi"])
@pytest.mark.parametrize("onehot", [1, 64])
def test_xgboost_categorical(tmp_path, kind, onehot):
    X, score = cat_data(10)
    y = labels(score, "binary" if kind == "binary" else kind)
    params = {"objective": XGB_OBJ[kind], "tree_method": "hist", "max_depth": 5, "eta": 0.3,
              "max_cat_to_onehot": onehot, "seed": 0}
    if kind == "multi":
        params["num_class"] = 3
    bst = xgb.train(params, xgb_dm(X, y), num_boost_round=25)
    assert '"split_type"' in bst.save_raw("json").decode()
    xgb_check(tmp_path, bst, cat_test_rows(X, 11), kind)


@pytest.mark.parametrize("kind", ["logistic", "poisson", "gamma", "tweedie", "softmax",
                                  "logitraw"])
def test_xgboost_objectives(tmp_path, kind):
    X, score = cat_data(12)
    y = labels(score, "binary" if kind in ("logistic", "logitraw") else
               "multi" if kind == "softmax" else kind)
    params = {"objective": XGB_OBJ[kind], "tree_method": "hist", "max_depth": 4, "seed": 0}
    if kind == "softmax":
        params["num_class"] = 3
    bst = xgb.train(params, xgb_dm(X, y), num_boost_round=15)
    xgb_check(tmp_path, bst, cat_test_rows(X, 13), kind)


def test_xgboost_forest(tmp_path):
    """num_parallel_tree > 1 (a boosted random forest, multi-class: several trees per class
    and round), and a model trained with early stopping: Booster.predict uses every tree."""
    X, score = cat_data(14)
    y = labels(score, "multi")
    params = {"objective": "multi:softprob", "num_class": 3, "tree_method": "hist",
              "num_parallel_tree": 4, "subsample": 0.7, "colsample_bynode": 0.7,
              "max_depth": 4, "seed": 0}
    dtrain, dval = xgb_dm(X[:500], y[:500]), xgb_dm(X[500:], y[500:])
    bst = xgb.train(params, dtrain, num_boost_round=40, evals=[(dval, "v")],
                    early_stopping_rounds=3, verbose_eval=False)
    xgb_check(tmp_path, bst, cat_test_rows(X, 15), "multi")


# ---- XGBoost, exact: long ensembles with large margins, where float and double sums part ----

def big_data(seed, n=600, f=12):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, f)).astype(np.float32)
    score = X[:, :4].sum(1) + np.sin(3 * X[:, 4]) + X[:, 5] * X[:, 6]
    X[rng.random(X.shape) < 0.1] = np.nan
    return X, score


@pytest.mark.parametrize("case", ["diabetes", "scaled", "binary", "multi", "forest",
                                  "forest_binary", "logistic_base", "poisson"])
def test_xgboost_exact(tmp_path, case):
    """Margins equal to XGBoost's on 150 to 600 trees: diabetes targets (~25 to 350) and targets
    scaled to ~1e3 (a double sum then differs from XGBoost's float sum by dozens of float steps),
    binary and multi-class, num_parallel_tree > 1 (trees interleaved by class, several per class
    and round), a logistic base_score whose logit rounds differently in float, poisson's log base
    margin. Rows with NaN in each case, and inputs the training never saw."""
    params = {"max_depth": 6, "eta": 0.1, "seed": 0, "tree_method": "hist", "nthread": 1}
    rounds = 150
    if case == "diabetes":
        X, y = data(load_diabetes, 31)
        params["objective"] = "reg:squarederror"
        rounds = 300
    else:
        X, score = big_data(32)
        if case == "scaled":
            y = 250.0 * score + 1000.0
            params["objective"] = "reg:squarederror"
            rounds = 500
        elif case in ("binary", "logistic_base", "forest_binary"):
            y = (score > 0.3).astype(np.float64)
            params["objective"] = "binary:logistic"
            if case == "logistic_base":
                params["base_score"] = 0.3
        elif case == "poisson":
            y = np.exp(0.5 * score)
            params["objective"] = "count:poisson"
        else:
            y = np.digitize(score, np.quantile(score, [0.25, 0.5, 0.75])).astype(np.float64)
            params.update(objective="multi:softprob", num_class=4)
            rounds = 80
        if case.startswith("forest"):
            params.update(num_parallel_tree=5, subsample=0.7, colsample_bynode=0.7, eta=0.5)
            rounds = 30
    bst = xgb.train(params, xgb.DMatrix(X, label=y), num_boost_round=rounds)
    T = np.concatenate([X, big_data(33, 300, X.shape[1])[0] * 2])  # unseen rows, wider range
    path = str(tmp_path / "m.json")
    bst.save_model(path)
    out = run(path, T)
    for want in xgb_margins(bst, T, xgb.DMatrix):
        exact(out["margin"], want)
    if case == "scaled":
        assert np.abs(out["margin"]).max() > 500


def lgb_check(tmp_path, bst, X, proba):
    path = str(tmp_path / "m.txt")
    bst.save_model(path)
    out = run(path, X)
    X64 = X.astype(np.float64)
    close(out["margin"], bst.predict(X64, raw_score=True))
    if "average_output" in bst.model_to_string():
        want = bst.predict(X64)
        close(out["probability"] if proba else out["average"], want)
    elif proba:
        close(out["probability"], bst.predict(X64))
    else:
        assert "probability" not in out
    return out


LGB_OBJ = {"binary": "binary", "multi": "multiclass", "regression": "regression"}


@pytest.mark.parametrize("kind", ["regression", "binary", "multi"])
def test_lightgbm_categorical(tmp_path, kind):
    X, score = cat_data(20)
    y = labels(score, kind)
    params = {"objective": LGB_OBJ[kind], "verbose": -1, "seed": 0, "min_data_in_leaf": 5,
              "min_data_per_group": 5, "cat_smooth": 1, "max_cat_to_onehot": 4}
    if kind == "multi":
        params["num_class"] = 3
    ds = lgb.Dataset(X.astype(np.float64), label=y, categorical_feature=[0, 2])
    bst = lgb.train(params, ds, num_boost_round=25)
    assert "cat_threshold=" in bst.model_to_string()
    lgb_check(tmp_path, bst, cat_test_rows(X, 21), kind != "regression")


@pytest.mark.parametrize("params,proba", [
    ({"objective": "multiclassova", "num_class": 3}, True),
    ({"objective": "binary", "sigmoid": 2.0}, False),
    ({"objective": "poisson"}, False),
    ({"objective": "huber"}, False),
    ({"objective": "regression", "zero_as_missing": True}, False),
    ({"objective": "binary", "zero_as_missing": True}, True),
    ({"objective": "regression", "use_missing": False}, False),
    ({"objective": "regression", "boosting": "rf", "bagging_freq": 1,
      "bagging_fraction": 0.7}, False),
    ({"objective": "multiclass", "num_class": 3, "boosting": "rf", "bagging_freq": 1,
      "bagging_fraction": 0.7}, True),
])
def test_lightgbm_options(tmp_path, params, proba):
    X, score = cat_data(22)
    obj = params["objective"]
    kind = ("multi" if obj.startswith("multi") else "binary" if obj == "binary" else
            "poisson" if obj == "poisson" else "regression")
    y = labels(score, kind)
    p = {"verbose": -1, "seed": 0, "min_data_in_leaf": 5, "min_data_per_group": 5, **params}
    ds = lgb.Dataset(X.astype(np.float64), label=y, categorical_feature=[0, 2])
    bst = lgb.train(p, ds, num_boost_round=20)
    text = bst.model_to_string()
    if params.get("zero_as_missing"):
        # missing type Zero (decision_type bits 2-3 == 1) on some numeric split
        assert any(int(d) & 12 == 4 for line in text.splitlines()
                   if line.startswith("decision_type=") for d in line[14:].split())
    if params.get("boosting") == "rf":
        assert "average_output" in text
    lgb_check(tmp_path, bst, cat_test_rows(X, 23), proba)


def test_lightgbm_linear_refused(tmp_path):
    X, score = cat_data(24)
    X = np.nan_to_num(X)
    bst = lgb.train({"objective": "regression", "linear_tree": True, "verbose": -1},
                    lgb.Dataset(X.astype(np.float64), label=score), num_boost_round=3)
    with pytest.raises(aistack.AistackError if hasattr(aistack, "AistackError") else Exception,
                       match="linear trees"):
        run_bytes(bst.model_to_string().encode())


def run_bytes(blob):
    with aistack.Model.from_bytes(blob) as m:
        return m
