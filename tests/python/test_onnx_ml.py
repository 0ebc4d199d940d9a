"""ai.onnx.ml operators on real models: scikit-learn estimators fitted on the data sets that
ship with scikit-learn, converted by skl2onnx, run through the Python binding, and compared with
the estimator itself (predict / predict_proba) and with ONNX Runtime on held-out rows.

ZipMap's sequence of maps comes back from aistack as its documented equivalent, the dense
[N, classes] probability tensor (docs/onnx_ml.md); ONNX Runtime's maps are read in class order
to compare.
"""
import os
import sys
import warnings

import numpy as np
import pytest

pytest.importorskip("sklearn")
pytest.importorskip("skl2onnx")
ort = pytest.importorskip("onnxruntime")

import onnx.helper  # noqa: E402

# skl2onnx 1.17.0 passes Python bools in integer list attributes, which protobuf 5 and newer
# refuse ("Expected an int, got a boolean"): convert them as older protobuf did.
_make_attribute = onnx.helper.make_attribute


def _make_attribute_ints(key, value, *args, **kwargs):
    if isinstance(value, (list, tuple)) and value and all(isinstance(v, bool) for v in value):
        value = [int(v) for v in value]
    return _make_attribute(key, value, *args, **kwargs)


onnx.helper.make_attribute = _make_attribute_ints

from sklearn.compose import ColumnTransformer  # noqa: E402
from sklearn.datasets import load_breast_cancer, load_diabetes, load_iris, load_wine  # noqa: E402
from sklearn.ensemble import (GradientBoostingClassifier, GradientBoostingRegressor,  # noqa: E402
                              RandomForestClassifier, RandomForestRegressor)
from sklearn.impute import SimpleImputer  # noqa: E402
from sklearn.linear_model import LinearRegression, LogisticRegression, Ridge  # noqa: E402
from sklearn.pipeline import make_pipeline  # noqa: E402
from sklearn.preprocessing import (Binarizer, MinMaxScaler, Normalizer, OneHotEncoder,  # noqa: E402
                                   OrdinalEncoder, StandardScaler)
from sklearn.tree import DecisionTreeClassifier, DecisionTreeRegressor  # noqa: E402
import onnx  # noqa: E402
from skl2onnx import to_onnx  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
if "AISTACK_LIBRARY" not in os.environ and os.environ.get("AIS_AISTACK"):
    cand = os.path.join(os.path.dirname(os.path.dirname(os.environ["AIS_AISTACK"])),
                        "libaistack.so")
    if os.path.exists(cand):
        os.environ["AISTACK_LIBRARY"] = cand
sys.path.insert(0, os.path.join(ROOT, "bindings", "python"))
import aistack  # noqa: E402

warnings.filterwarnings("ignore")
TOL = 1e-5


def split(X, y, seed=0):
    """Fit rows and held-out rows (every fourth row, shuffled)."""
    rng = np.random.default_rng(seed)
    idx = rng.permutation(len(X))
    test = idx[::4]
    train = np.setdiff1d(idx, test)
    return X[train], y[train], X[test], y[test]


def with_nans(X, seed=1, frac=0.1):
    rng = np.random.default_rng(seed)
    X = X.copy()
    X[rng.random(X.shape) < frac] = np.nan
    return X


def data(name):
    loader = {"iris": load_iris, "cancer": load_breast_cancer, "diabetes": load_diabetes,
              "wine": load_wine}[name]
    X, y = loader(return_X_y=True)
    return X.astype(np.float32), y


def convert(est, X, zipmap):
    options = None
    if hasattr(est, "predict_proba") and not zipmap:
        options = {id(est): {"zipmap": False}}
    return to_onnx(est, X[:1], options=options).SerializeToString()


def run_aistack(model_bytes, X):
    with aistack.Model.from_bytes(model_bytes) as m:
        out = m.run({"X": X})
    return list(out.values())


def run_ort(model_bytes, X, classes):
    sess = ort.InferenceSession(model_bytes, providers=["CPUExecutionProvider"])
    out = sess.run(None, {"X": X})
    if len(out) > 1 and isinstance(out[1], list):  # ZipMap's maps, in class order
        out[1] = np.array([[d[c] for c in classes] for d in out[1]], dtype=np.float32)
    return out


def check_classifier(est, X, zipmap):
    onx = convert(est, X, zipmap)
    got = run_aistack(onx, X)
    assert len(got) == 2
    labels, proba = got
    assert labels.tolist() == est.predict(X).tolist()
    np.testing.assert_allclose(proba, est.predict_proba(X), rtol=TOL, atol=TOL)
    o_labels, o_proba = run_ort(onx, X, list(est.classes_))
    assert labels.tolist() == o_labels.tolist()
    np.testing.assert_allclose(proba, o_proba, rtol=TOL, atol=TOL)


def check_regressor(est, X, rtol=TOL):
    onx = convert(est, X, False)
    (got,) = run_aistack(onx, X)
    want = est.predict(X).reshape(got.shape)
    scale = max(1.0, float(np.abs(want).max()))
    np.testing.assert_allclose(got, want, rtol=rtol, atol=TOL * scale)
    (o,) = run_ort(onx, X, None)
    np.testing.assert_allclose(got, o, rtol=rtol, atol=TOL * scale)


CLASSIFIERS = [
    ("iris", lambda: LogisticRegression(max_iter=2000)),
    ("cancer", lambda: make_pipeline(StandardScaler(), LogisticRegression(max_iter=2000))),
    ("wine", lambda: make_pipeline(MinMaxScaler(), LogisticRegression(max_iter=2000))),
    ("iris", lambda: DecisionTreeClassifier(random_state=0)),
    ("cancer", lambda: DecisionTreeClassifier(max_depth=6, random_state=0)),
    ("wine", lambda: RandomForestClassifier(n_estimators=15, random_state=0)),
    ("cancer", lambda: RandomForestClassifier(n_estimators=10, max_depth=5, random_state=0)),
    ("iris", lambda: GradientBoostingClassifier(n_estimators=20, random_state=0)),
    ("cancer", lambda: GradientBoostingClassifier(n_estimators=20, random_state=0)),
    ("wine", lambda: make_pipeline(Normalizer(), LogisticRegression(max_iter=2000))),
    ("iris", lambda: make_pipeline(Binarizer(threshold=2.0), StandardScaler(),
                                   LogisticRegression(max_iter=2000))),
]


@pytest.mark.parametrize("zipmap", [False, True])
@pytest.mark.parametrize("case", range(len(CLASSIFIERS)))
def test_classifier(case, zipmap):
    name, make = CLASSIFIERS[case]
    X, y = data(name)
    Xf, yf, Xt, _ = split(X, y)
    est = make().fit(Xf, yf)
    check_classifier(est, Xt, zipmap)


def test_string_labels():
    """classlabels_strings: the string labels (object arrays of str) and the probabilities."""
    X, y = data("iris")
    names = np.array(load_iris().target_names)[y]
    Xf, yf, Xt, _ = split(X, names)
    for est in (LogisticRegression(max_iter=2000), DecisionTreeClassifier(random_state=0),
                GradientBoostingClassifier(n_estimators=10, random_state=0)):
        est.fit(Xf, yf)
        onx = convert(est, Xt, False)
        with aistack.Model.from_bytes(onx) as m:
            labels, proba = m.run({"X": Xt}, ["label", "probabilities"]).values()
        assert labels.dtype == object and labels.tolist() == est.predict(Xt).tolist()
        np.testing.assert_allclose(proba, est.predict_proba(Xt), rtol=TOL, atol=TOL)
        o_labels, o_proba = run_ort(onx, Xt, list(est.classes_))
        assert labels.tolist() == o_labels.tolist()
        np.testing.assert_allclose(proba, o_proba, rtol=TOL, atol=TOL)


REGRESSORS = [
    ("diabetes", lambda: LinearRegression()),
    ("diabetes", lambda: Ridge(alpha=0.5)),
    ("diabetes", lambda: DecisionTreeRegressor(max_depth=8, random_state=0)),
    ("diabetes", lambda: RandomForestRegressor(n_estimators=10, random_state=0)),
    ("diabetes", lambda: GradientBoostingRegressor(n_estimators=30, random_state=0)),
    ("diabetes", lambda: make_pipeline(StandardScaler(), Ridge())),
    ("wine", lambda: make_pipeline(MinMaxScaler(), LinearRegression())),
]


@pytest.mark.parametrize("case", range(len(REGRESSORS)))
def test_regressor(case):
    name, make = REGRESSORS[case]
    X, y = data(name)
    Xf, yf, Xt, _ = split(X, y.astype(np.float64))
    est = make().fit(Xf, yf)
    check_regressor(est, Xt)


@pytest.mark.parametrize("strategy", ["mean", "median", "constant"])
def test_imputer_pipeline_with_nans(strategy):
    X, y = data("cancer")
    Xf, yf, Xt, _ = split(X, y)
    est = make_pipeline(SimpleImputer(strategy=strategy, fill_value=0.5), StandardScaler(),
                        LogisticRegression(max_iter=2000))
    est.fit(with_nans(Xf), yf)
    check_classifier(est, with_nans(Xt, seed=2), False)
    reg = make_pipeline(SimpleImputer(strategy=strategy, fill_value=0.5), Ridge())
    Xd, yd = data("diabetes")
    Xf, yf, Xt, _ = split(Xd, yd.astype(np.float64))
    reg.fit(with_nans(Xf), yf)
    check_regressor(reg, with_nans(Xt, seed=3))


def test_one_hot_column_transformer():
    """A categorical column (binned petal length) one-hot encoded next to scaled features."""
    X, y = data("iris")
    X = X.copy()
    X[:, 2] = np.floor(X[:, 2])
    Xf, yf, Xt, _ = split(X, y)
    ct = ColumnTransformer([("cat", OneHotEncoder(handle_unknown="ignore"), [2]),
                            ("num", StandardScaler(), [0, 1, 3])])
    for final in (LogisticRegression(max_iter=2000), GradientBoostingClassifier(n_estimators=10,
                                                                              random_state=0)):
        est = make_pipeline(ct, final).fit(Xf, yf)
        Xt2 = Xt.copy()
        Xt2[0, 2] = 42.0  # a category not seen in training: all zeros (handle_unknown)
        check_classifier(est, Xt2, False)


def test_tree_nan_routing():
    """Trees fitted on data with NaN (scikit-learn >= 1.3 learns where missing values go). The
    skl2onnx 1.17.0 tree converters write nodes_missing_value_tracks_true as all false, so the
    converted model routes NaN differently from scikit-learn: the reference here is ONNX Runtime
    and ONNX's reference evaluator on the same model, not the estimator."""
    from onnx.reference import ReferenceEvaluator

    X, y = data("cancer")
    Xf, yf, Xt, _ = split(X, y)
    Xt = with_nans(Xt, seed=4)
    for est in (DecisionTreeClassifier(max_depth=6, random_state=0),
                RandomForestClassifier(n_estimators=5, max_depth=5, random_state=0)):
        est.fit(with_nans(Xf), yf)
        onx = convert(est, Xt, False)
        labels, proba = run_aistack(onx, Xt)
        o_labels, o_proba = run_ort(onx, Xt, list(est.classes_))
        assert labels.tolist() == o_labels.tolist()
        np.testing.assert_allclose(proba, o_proba, rtol=TOL, atol=TOL)
        r_labels, r_proba = ReferenceEvaluator(onnx.load_from_string(onx)).run(None, {"X": Xt})
        assert labels.tolist() == r_labels.tolist()
        np.testing.assert_allclose(proba, r_proba, rtol=TOL, atol=TOL)


def test_ordinal_encoder_label_encoder():
    """OrdinalEncoder converts to LabelEncoder (category value -> code)."""
    X, y = data("wine")
    X = X.copy()
    X[:, 0] = np.round(X[:, 0])  # alcohol: a handful of integer categories
    Xf, yf, Xt, _ = split(X, y.astype(np.float64))
    ct = ColumnTransformer([("cat", OrdinalEncoder(handle_unknown="use_encoded_value",
                                                   unknown_value=-1), [0]),
                            ("num", StandardScaler(), list(range(1, X.shape[1])))])
    est = make_pipeline(ct, Ridge()).fit(Xf, yf)
    Xt = Xt.copy()
    Xt[0, 0] = 99.0  # unseen: unknown_value
    ops = {n.op_type for n in onnx.load_from_string(convert(est, Xt, False)).graph.node}
    assert "LabelEncoder" in ops
    check_regressor(est, Xt)
