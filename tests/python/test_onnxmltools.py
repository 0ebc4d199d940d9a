"""XGBoost and LightGBM scikit-learn estimators converted to ONNX-ML by onnxmltools (the real
converters from PyPI), fitted on the data sets that ship with scikit-learn, run through the
Python binding and compared with the library itself (predict / predict_proba) and with ONNX
Runtime on the same ONNX file, with NaN entries in the inputs (missing values take every
default direction).

Both converters end a classifier with ZipMap unless told otherwise; aistack returns ZipMap's
sequence of maps as the dense [N, classes] probability tensor (docs/onnx_ml.md), and ONNX
Runtime's maps are read in class order to compare.
"""
import os
import sys
import warnings

import numpy as np
import pytest

pytest.importorskip("sklearn")
xgb = pytest.importorskip("xgboost")
lgb = pytest.importorskip("lightgbm")
ort = pytest.importorskip("onnxruntime")

import onnx.helper  # noqa: E402

# onnxmltools' XGBoost converter passes Python bools in an integer list attribute
# (nodes_missing_value_tracks_true), which protobuf 5 and newer refuse ("Expected an int, got a
# boolean"): convert them as older protobuf did, as test_onnx_ml.py does for skl2onnx.
_make_attribute = onnx.helper.make_attribute


def _make_attribute_ints(key, value, *args, **kwargs):
    if isinstance(value, (list, tuple)) and value and all(isinstance(v, bool) for v in value):
        value = [int(v) for v in value]
    return _make_attribute(key, value, *args, **kwargs)


onnx.helper.make_attribute = _make_attribute_ints
onnxmltools = pytest.importorskip("onnxmltools")

from onnxmltools.convert.common.data_types import FloatTensorType  # noqa: E402
from sklearn.datasets import load_breast_cancer, load_diabetes, load_iris, load_wine  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
if "AISTACK_LIBRARY" not in os.environ and os.environ.get("AIS_AISTACK"):
    cand = os.path.join(os.path.dirname(os.path.dirname(os.environ["AIS_AISTACK"])),
                        "libaistack.so")
    if os.path.exists(cand):
        os.environ["AISTACK_LIBRARY"] = cand
sys.path.insert(0, os.path.join(ROOT, "bindings", "python"))
import aistack  # noqa: E402

warnings.filterwarnings("ignore")

# aistack against ONNX Runtime on the same file: both evaluate the same float32 thresholds and
# leaf values, so only the order of the float32 sums may differ.
TOL_ORT = 1e-5
# aistack against the library: the converters store thresholds, leaf values and base scores as
# float32 attributes while LightGBM sums in float64, so differences are float32 rounding; the
# comparison is relative to max(1, |value|) (diabetes targets are in the hundreds).
TOL_LIB = 1e-5


def data(name, seed):
    loader = {"iris": load_iris, "wine": load_wine, "cancer": load_breast_cancer,
              "diabetes": load_diabetes}[name]
    X, y = loader(return_X_y=True)
    X = X.astype(np.float32)
    rng = np.random.default_rng(seed)
    X[rng.random(X.shape) < 0.1] = np.nan
    return X, y


def close(got, want, tol):
    got = np.asarray(got, dtype=np.float64)
    want = np.asarray(want, dtype=np.float64).reshape(got.shape)
    scale = np.maximum(1.0, np.abs(want))
    err = np.max(np.abs(got - want) / scale)
    assert err < tol, f"max relative difference {err:.3g} >= {tol}"


def run_aistack(onx, X):
    with aistack.Model.from_bytes(onx.SerializeToString()) as m:
        names = [i.name for i in m.outputs]
        out = m.run({m.inputs[0].name: X})
    return [np.asarray(out[n]) for n in names]


def run_ort(onx, X, classes=None):
    sess = ort.InferenceSession(onx.SerializeToString(), providers=["CPUExecutionProvider"])
    out = sess.run(None, {sess.get_inputs()[0].name: X})
    if len(out) > 1 and isinstance(out[1], list):  # ZipMap's maps, in class order
        out[1] = np.array([[d[c] for c in classes] for d in out[1]], dtype=np.float32)
    return out


def convert(est, n_features, zipmap=True):
    types = [("input", FloatTensorType([None, n_features]))]
    if isinstance(est, xgb.XGBModel):  # no ZipMap: labels and a probability tensor
        return onnxmltools.convert_xgboost(est, initial_types=types, target_opset=15)
    return onnxmltools.convert_lightgbm(est, initial_types=types, target_opset=15, zipmap=zipmap)


def check_classifier(est, X, y, zipmap=True):
    est.fit(X, y)
    onx = convert(est, X.shape[1], zipmap)
    got = run_aistack(onx, X)
    assert len(got) == 2, f"{len(got)} outputs"
    labels, proba = got
    assert proba.shape == (len(X), len(est.classes_))
    want_labels = est.predict(X)
    assert labels.tolist() == want_labels.tolist()
    close(proba, est.predict_proba(X), TOL_LIB)
    o_labels, o_proba = run_ort(onx, X, list(est.classes_))
    assert labels.tolist() == np.asarray(o_labels).tolist()
    close(proba, o_proba, TOL_ORT)
    # The rows must not all land in one class: a constant model would pass the above trivially.
    assert len(set(labels.tolist())) == len(est.classes_)


def check_regressor(est, X, y):
    est.fit(X, y)
    onx = convert(est, X.shape[1])
    (got,) = run_aistack(onx, X)
    assert got.shape[0] == len(X)
    close(got, est.predict(X), TOL_LIB)
    (o_got,) = run_ort(onx, X)
    close(got, o_got, TOL_ORT)
    assert np.std(got) > 1.0  # diabetes targets spread over hundreds; not a constant model


XGB_COMMON = dict(n_estimators=40, max_depth=4, learning_rate=0.3, random_state=0, n_jobs=1)
LGB_COMMON = dict(n_estimators=40, num_leaves=15, max_depth=5, learning_rate=0.2,
                  random_state=0, n_jobs=1, verbose=-1, min_child_samples=5)


@pytest.mark.parametrize("name", ["cancer", "iris", "wine"])
def test_xgb_classifier(name):
    X, y = data(name, 1)
    check_classifier(xgb.XGBClassifier(**XGB_COMMON), X, y)


def test_xgb_regressor():
    X, y = data("diabetes", 2)
    check_regressor(xgb.XGBRegressor(**XGB_COMMON), X, y)


@pytest.mark.parametrize("zipmap", [True, False])
@pytest.mark.parametrize("name", ["cancer", "iris", "wine"])
def test_lgbm_classifier(name, zipmap):
    X, y = data(name, 3)
    check_classifier(lgb.LGBMClassifier(**LGB_COMMON), X, y, zipmap)


def test_lgbm_regressor():
    X, y = data("diabetes", 4)
    check_regressor(lgb.LGBMRegressor(**LGB_COMMON), X, y)

