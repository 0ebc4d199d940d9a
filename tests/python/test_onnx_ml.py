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


# ---- support vector machines (SVMClassifier, SVMRegressor) ----

from sklearn.svm import SVC, SVR, NuSVC, NuSVR, OneClassSVM  # noqa: E402


def scaled(name):
    X, y = data(name)
    Xf, yf, Xt, _ = split(X, y)
    sc = StandardScaler().fit(Xf)
    return sc.transform(Xf).astype(np.float32), yf, sc.transform(Xt).astype(np.float32)


def svm_ops(onx):
    return [n.op_type for n in onnx.load_from_string(onx).graph.node]


def assert_close_scaled(got, want, tol=TOL):
    scale = max(1.0, float(np.abs(want).max()))
    np.testing.assert_allclose(got, want, rtol=tol, atol=tol * scale)


@pytest.mark.parametrize("probability", [False, True])
@pytest.mark.parametrize("kernel", ["linear", "rbf", "poly", "sigmoid"])
@pytest.mark.parametrize("name", ["iris", "cancer", "wine"])
def test_svc(name, kernel, probability):
    """Labels equal scikit-learn's and ONNX Runtime's. Scores: the converter writes float32
    support vectors, so decision values match scikit-learn (float64) to about 1e-5 relative, and
    ONNX Runtime (float kernels) to the same; probabilities come from libsvm's pairwise coupling,
    which the ONNX operator runs with a different stopping rule than libsvm: compared with ONNX
    Runtime only (and loosely with scikit-learn)."""
    Xf, yf, Xt = scaled(name)
    est = SVC(kernel=kernel, probability=probability, random_state=0).fit(Xf, yf)
    onx = convert(est, Xt, False)
    assert "SVMClassifier" in svm_ops(onx)
    labels, scores = run_aistack(onx, Xt)
    assert labels.tolist() == est.predict(Xt).tolist()
    o_labels, o_scores = run_ort(onx, Xt, list(est.classes_))
    assert labels.tolist() == o_labels.tolist()
    assert_close_scaled(scores, o_scores, 2e-5)
    if probability:
        np.testing.assert_allclose(scores.sum(axis=1), 1.0, atol=1e-5)
        np.testing.assert_allclose(scores, est.predict_proba(Xt), atol=0.05)
    elif len(est.classes_) == 2:
        # skl2onnx negates libsvm's binary coefficients: the operator's (-s, s) is
        # (decision, -decision)
        assert_close_scaled(scores[:, 0], est.decision_function(Xt), 2e-5)


@pytest.mark.parametrize("name", ["iris", "cancer"])
def test_nusvc(name):
    Xf, yf, Xt = scaled(name)
    for p in (False, True):
        est = NuSVC(probability=p, random_state=0).fit(Xf, yf)
        onx = convert(est, Xt, False)
        labels, scores = run_aistack(onx, Xt)
        assert labels.tolist() == est.predict(Xt).tolist()
        o_labels, o_scores = run_ort(onx, Xt, list(est.classes_))
        assert labels.tolist() == o_labels.tolist()
        assert_close_scaled(scores, o_scores, 2e-5)


def test_svc_string_labels():
    Xf, yf, Xt = scaled("iris")
    names = np.array(load_iris().target_names)
    est = SVC(probability=True, random_state=0).fit(Xf, names[yf])
    onx = convert(est, Xt, False)
    labels, proba = run_aistack(onx, Xt)
    assert labels.tolist() == est.predict(Xt).tolist()
    o_labels, o_proba = run_ort(onx, Xt, list(est.classes_))
    assert labels.tolist() == o_labels.tolist()
    assert_close_scaled(proba, o_proba)


@pytest.mark.parametrize("make", [lambda: SVR(), lambda: SVR(kernel="linear"),
                                  lambda: SVR(kernel="poly", degree=3),
                                  lambda: SVR(kernel="sigmoid", gamma=0.01),
                                  lambda: NuSVR(), lambda: NuSVR(kernel="poly")])
@pytest.mark.parametrize("name", ["diabetes", "wine"])
def test_svr(name, make):
    Xf, yf, Xt = scaled(name)
    est = make().fit(Xf, yf.astype(np.float64))
    onx = convert(est, Xt, False)
    assert "SVMRegressor" in svm_ops(onx)
    (got,) = run_aistack(onx, Xt)
    assert_close_scaled(got.ravel(), est.predict(Xt), 5e-5)
    (o,) = run_ort(onx, Xt, None)
    assert_close_scaled(got, o, 5e-5)


@pytest.mark.parametrize("kernel", ["rbf", "poly", "sigmoid"])
def test_one_class_svm(kernel):
    """OneClassSVM converts to SVMRegressor (decision values) followed by Sign. (A linear
    one-class SVM on these data has decision values of about 1e-4 made of sums of large float32
    terms: nothing to compare to 1e-5.)"""
    Xf, _, Xt = scaled("cancer")
    est = OneClassSVM(kernel=kernel, nu=0.2, gamma="scale" if kernel != "sigmoid" else 0.01).fit(Xf)
    onx = convert(est, Xt, False)
    assert "SVMRegressor" in svm_ops(onx)
    labels, scores = run_aistack(onx, Xt)
    o_labels, o_scores = run_ort(onx, Xt, None)
    atol = 0
    np.testing.assert_allclose(scores.ravel(), est.decision_function(Xt), rtol=5e-5,
                               atol=atol or 5e-5 * max(1.0, float(np.abs(scores).max())))
    np.testing.assert_allclose(scores, o_scores, rtol=5e-5,
                               atol=atol or 5e-5 * max(1.0, float(np.abs(scores).max())))
    # Rows whose decision value is within rounding of 0 may flip: compare the others.
    sure = np.abs(est.decision_function(Xt)) > max(atol, 1e-4 * max(1.0, np.abs(scores).max()))
    assert sure.mean() > 0.7
    assert labels.ravel()[sure].tolist() == est.predict(Xt)[sure].tolist()
    assert labels.ravel()[sure].tolist() == o_labels.ravel()[sure].tolist()


def test_feature_vectorizer_from_several_inputs():
    """Several graph inputs into one scaler: skl2onnx concatenates them with FeatureVectorizer
    (int64 and float inputs become float)."""
    from skl2onnx.common.data_types import FloatTensorType, Int64TensorType

    X, y = data("wine")
    Xf, yf, Xt, _ = split(X, y)
    est = make_pipeline(StandardScaler(), SVC(random_state=0)).fit(Xf, yf)
    a, b = Xt[:, :5], np.round(Xt[:, 5:9]).astype(np.int64)
    c = Xt[:, 9:]
    onx = to_onnx(est, initial_types=[("a", FloatTensorType([None, 5])),
                                      ("b", Int64TensorType([None, 4])),
                                      ("c", FloatTensorType([None, c.shape[1]]))],
                  options={id(est): {"zipmap": False}}).SerializeToString()
    assert "FeatureVectorizer" in svm_ops(onx)
    feeds = {"a": a, "b": b, "c": c}
    with aistack.Model.from_bytes(onx) as m:
        got = list(m.run(feeds).values())
    sess = ort.InferenceSession(onx, providers=["CPUExecutionProvider"])
    want = sess.run(None, feeds)
    Xr = np.concatenate([a, b.astype(np.float32), c], axis=1)
    assert got[0].tolist() == want[0].tolist() == est.predict(Xr).tolist()
    assert_close_scaled(got[1], want[1], 2e-5)


def _ml_model(node, inputs, outputs, ml_opset=1):
    graph = onnx.helper.make_graph([node], "g", inputs, outputs)
    return onnx.helper.make_model(graph, opset_imports=[
        onnx.helper.make_opsetid("", 19), onnx.helper.make_opsetid("ai.onnx.ml", ml_opset)])


@pytest.mark.parametrize("direction", ["to_int", "to_string"])
def test_category_mapper(direction):
    from onnx import TensorProto

    cats_s = ["red", "green", "blue", "green", "navy"]  # "green" twice: the last one wins
    cats_i = [7, 3, 11, 4, -2]
    if direction == "to_int":
        node = onnx.helper.make_node("CategoryMapper", ["X"], ["Y"], domain="ai.onnx.ml",
                                     cats_strings=cats_s, cats_int64s=cats_i, default_int64=-9)
        m = _ml_model(node, [onnx.helper.make_tensor_value_info("X", TensorProto.STRING, [None, 3])],
                      [onnx.helper.make_tensor_value_info("Y", TensorProto.INT64, [None, 3])])
        X = np.array([["red", "green", "pink"], ["", "navy", "blue"]], dtype=object)
    else:
        node = onnx.helper.make_node("CategoryMapper", ["X"], ["Y"], domain="ai.onnx.ml",
                                     cats_strings=cats_s, cats_int64s=cats_i, default_string="?")
        m = _ml_model(node, [onnx.helper.make_tensor_value_info("X", TensorProto.INT64, [None, 3])],
                      [onnx.helper.make_tensor_value_info("Y", TensorProto.STRING, [None, 3])])
        X = np.array([[7, 3, 4], [11, 0, -2]], dtype=np.int64)
    onx = m.SerializeToString()
    (got,) = run_aistack_feeds(onx, {"X": X})
    (o,) = ort.InferenceSession(onx, providers=["CPUExecutionProvider"]).run(None, {"X": X})
    # onnx.reference 1.16 has no CategoryMapper: a dictionary filled in list order is the third
    if direction == "to_int":
        d = dict(zip(cats_s, cats_i))
        r = [[d.get(v, -9) for v in row] for row in X.tolist()]
    else:
        d = dict(zip(cats_i, cats_s))
        r = [[d.get(v, "?") for v in row] for row in X.tolist()]
    assert got.tolist() == o.tolist() == r


def run_aistack_feeds(model_bytes, feeds):
    with aistack.Model.from_bytes(model_bytes) as m:
        return list(m.run(feeds).values())


# ---- TreeEnsemble (ai.onnx.ml opset 5) against onnx.reference ----

def random_tree_ensemble(rng, n_trees, depth, n_features, n_targets, member=False,
                         split_type=np.float32):
    """Random complete trees in the opset-5 encoding. Member sets never hold 0.0 and are laid
    out so that onnx.reference's build order equals node order (see docs/onnx_ml.md)."""
    modes, feats, splits, tids, fids, tleaf, fleaf, miss = [], [], [], [], [], [], [], []
    members, lt, lw, roots = [], [], [], []

    def build(d):
        i = len(modes)
        modes.append(0)
        feats.append(int(rng.integers(n_features)))
        splits.append(float(rng.normal()))
        for lst in (tids, fids, tleaf, fleaf):
            lst.append(0)
        miss.append(int(rng.integers(2)))
        if member and rng.random() < 0.3:
            modes[i] = 6
            splits[i] = 0.0
            members.extend(float(v) for v in rng.choice([1.0, 2.0, 3.0, 4.0], 2, replace=False))
            members.append(np.nan)
        else:
            modes[i] = int(rng.integers(6 if member else 4))
            if modes[i] in (4, 5):
                splits[i] = float(rng.integers(1, 5))
        for side, ids, leafs in ((0, tids, tleaf), (1, fids, fleaf)):
            if d + 1 == depth or rng.random() < 0.15:
                leafs[i] = 1
                ids[i] = len(lw)
                lt.append(int(rng.integers(n_targets)))
                lw.append(float(rng.normal()))
            else:
                ids[i] = build(d + 1)
        return i

    for _ in range(n_trees):
        roots.append(build(0))
    attrs = dict(
        nodes_modes=onnx.helper.make_tensor("m", onnx.TensorProto.UINT8, [len(modes)], modes),
        nodes_featureids=feats, nodes_truenodeids=tids, nodes_falsenodeids=fids,
        nodes_trueleafs=tleaf, nodes_falseleafs=fleaf, nodes_missing_value_tracks_true=miss,
        nodes_splits=onnx.numpy_helper.from_array(np.array(splits, dtype=split_type)),
        leaf_targetids=lt, leaf_weights=onnx.numpy_helper.from_array(np.array(lw, dtype=split_type)),
        tree_roots=roots, n_targets=n_targets)
    if members:
        attrs["membership_values"] = onnx.numpy_helper.from_array(np.array(members, np.float32))
    return attrs


@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.float16])
@pytest.mark.parametrize("agg", [0, 1, 2, 3])
@pytest.mark.parametrize("member", [False, True])
def test_tree_ensemble_v5(dtype, agg, member):
    import onnx.numpy_helper  # noqa: F401
    from onnx.reference import ReferenceEvaluator

    rng = np.random.default_rng(agg * 7 + member)
    nf, nt = 5, 3
    attrs = random_tree_ensemble(rng, 12, 6, nf, nt, member, np.float32 if dtype == np.float16
                                 else dtype)
    if dtype == np.float16:
        attrs["nodes_splits"] = onnx.numpy_helper.from_array(
            onnx.numpy_helper.to_array(attrs["nodes_splits"]).astype(np.float16))
        attrs["leaf_weights"] = onnx.numpy_helper.from_array(
            onnx.numpy_helper.to_array(attrs["leaf_weights"]).astype(np.float16))
    node = onnx.helper.make_node("TreeEnsemble", ["X"], ["Y"], domain="ai.onnx.ml",
                                 aggregate_function=agg, **attrs)
    et = onnx.helper.np_dtype_to_tensor_dtype(np.dtype(dtype))
    m = _ml_model(node, [onnx.helper.make_tensor_value_info("X", et, [None, nf])],
                  [onnx.helper.make_tensor_value_info("Y", et, [None, nt])], ml_opset=5)
    X = rng.normal(size=(200, nf)).astype(dtype)
    X[:, :2] = rng.integers(0, 5, size=(200, 2))  # values that member/EQ sets hold
    X[rng.random(X.shape) < 0.1] = np.nan
    (got,) = run_aistack_feeds(m.SerializeToString(), {"X": X})
    (want,) = ReferenceEvaluator(m).run(None, {"X": X})
    assert got.dtype == X.dtype and got.shape == (200, nt)
    if agg in (2, 3):  # a target no leaf reached: the reference keeps +-max of the dtype
        untouched = np.abs(want.astype(np.float64)) >= np.finfo(dtype).max
        want = np.where(untouched, 0, want)
        got = np.where(untouched, 0, got)
    # float16: the reference rounds every partial sum to half precision, we round once
    tol = 2e-2 if dtype == np.float16 else 1e-5
    np.testing.assert_allclose(got.astype(np.float64), want.astype(np.float64), rtol=tol,
                               atol=tol)


@pytest.mark.parametrize("post", [1, 2, 4])
def test_tree_ensemble_v5_post_transform(post):
    """onnx.reference 1.16 ignores post_transform: the reference is its raw output with the
    transform applied here."""
    import onnx.numpy_helper  # noqa: F401
    from onnx.reference import ReferenceEvaluator
    from scipy.special import erfinv

    rng = np.random.default_rng(post)
    attrs = random_tree_ensemble(rng, 5, 4, 4, 3)
    outs = []
    for pt in (0, post):
        node = onnx.helper.make_node("TreeEnsemble", ["X"], ["Y"], domain="ai.onnx.ml",
                                     post_transform=pt, **attrs)
        m = _ml_model(node, [onnx.helper.make_tensor_value_info("X", 1, [None, 4])],
                      [onnx.helper.make_tensor_value_info("Y", 1, [None, 3])], ml_opset=5)
        X = rng.normal(size=(50, 4)).astype(np.float32)
        (raw,) = ReferenceEvaluator(m).run(None, {"X": X})
        (got,) = run_aistack_feeds(m.SerializeToString(), {"X": X})
        outs.append((raw, got))
    raw, got = outs[1]
    if post == 1:
        e = np.exp(raw - raw.max(axis=1, keepdims=True))
        want = e / e.sum(axis=1, keepdims=True)
    elif post == 2:
        want = 1 / (1 + np.exp(-raw))
    else:
        want = np.sqrt(2) * erfinv(2 * raw.astype(np.float64) - 1)
        ok = (raw > 0) & (raw < 1)
        want, got = np.where(ok, want, 0), np.where(ok, got, 0)
    np.testing.assert_allclose(got, want, rtol=1e-3, atol=1e-3)


def test_tree_neq_nan_goes_true():
    """BRANCH_NEQ with a NaN feature: NaN != v holds, so ONNX Runtime takes the true branch even
    when nodes_missing_value_tracks_true is 0 (TreeEnsembleRegressor, opset 3)."""
    h = onnx.helper
    node = h.make_node("TreeEnsembleRegressor", ["X"], ["Y"], domain="ai.onnx.ml",
                       nodes_treeids=[0, 0, 0], nodes_nodeids=[0, 1, 2],
                       nodes_featureids=[0, 0, 0], nodes_modes=["BRANCH_NEQ", "LEAF", "LEAF"],
                       nodes_values=[2.0, 0, 0], nodes_truenodeids=[1, 0, 0],
                       nodes_falsenodeids=[2, 0, 0], nodes_missing_value_tracks_true=[0, 0, 0],
                       target_treeids=[0, 0], target_nodeids=[1, 2], target_ids=[0, 0],
                       target_weights=[1.0, -1.0], n_targets=1)
    m = _ml_model(node, [h.make_tensor_value_info("X", 1, [None, 1])],
                  [h.make_tensor_value_info("Y", 1, [None, 1])], ml_opset=3)
    X = np.array([[2.0], [np.nan], [3.0]], np.float32)
    (got,) = run_aistack_feeds(m.SerializeToString(), {"X": X})
    (o,) = ort.InferenceSession(m.SerializeToString(),
                                providers=["CPUExecutionProvider"]).run(None, {"X": X})
    assert got.ravel().tolist() == o.ravel().tolist() == [-1.0, 1.0, 1.0]
