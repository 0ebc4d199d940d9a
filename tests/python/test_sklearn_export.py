"""aistack.sklearn: fitted scikit-learn pipelines exported to one .ais file, run on held-out rows
of data sets that scikit-learn ships, compared with the pipeline's own predict / predict_proba:
identical labels, probabilities and regression values within 1e-5.

Categorical and missing values are derived from the real data: quantile bins of a feature become
strings ("q0".."q3") and integer codes, and random cells are blanked (NaN / None)."""
import csv
import io
import json
import os
import subprocess
import sys
import warnings

import numpy as np
import pytest

pytest.importorskip("sklearn")

from sklearn.compose import ColumnTransformer  # noqa: E402
from sklearn.datasets import load_breast_cancer, load_diabetes, load_iris, load_wine  # noqa: E402
from sklearn.ensemble import (GradientBoostingClassifier, GradientBoostingRegressor,  # noqa: E402
                              RandomForestClassifier, RandomForestRegressor)
from sklearn.impute import SimpleImputer  # noqa: E402
from sklearn.linear_model import LinearRegression, LogisticRegression, Ridge  # noqa: E402
from sklearn.pipeline import Pipeline, make_pipeline  # noqa: E402
from sklearn.preprocessing import (FunctionTransformer, KBinsDiscretizer,  # noqa: E402
                                   MinMaxScaler, Normalizer, OneHotEncoder, OrdinalEncoder,
                                   RobustScaler, StandardScaler)
from sklearn.tree import DecisionTreeClassifier, DecisionTreeRegressor  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(ROOT, "bindings", "python"))
import aistack  # noqa: E402
from aistack import sklearn as ais_sklearn  # noqa: E402
import sklearn  # noqa: E402

# This file runs under the pinned scikit-learn of tests/requirements.txt and under the oldest and
# newest of the supported range (tests/requirements-sklearn-{oldest,newest}.txt, ctest
# python_sklearn_export_{oldest,newest}); where scikit-learn's behaviour differs by release the
# tests below check each release's own behaviour.
SKLEARN = tuple(int(x) for x in sklearn.__version__.split(".")[:2])

warnings.filterwarnings("ignore")
TOL = 1e-5
MEASURED = {}  # case -> max |difference|, printed at the end (pytest -s)


# ---- data: real data sets with derived categorical columns and blanked cells ----

def make_data(loader, seed=0):
    X, y = loader(return_X_y=True)
    rng = np.random.default_rng(seed)
    n, d = X.shape
    # string categories from quartiles of feature 1, integer codes from feature 2
    q = np.quantile(X[:, 1], [0.25, 0.5, 0.75])
    city = np.array([f"q{k}" for k in np.digitize(X[:, 1], q)], dtype=object)
    rare = np.array([f"rare{k}" if r < 0.05 else ("hi" if v > np.median(X[:, 3]) else "lo")
                     for r, k, v in zip(rng.random(n), rng.integers(0, 3, n), X[:, 3])],
                    dtype=object)
    code = np.digitize(X[:, 2], np.quantile(X[:, 2], [0.33, 0.66])).astype(np.float64)
    cols = [X[:, j].astype(object) for j in range(d)] + [city, rare, code.astype(object)]
    Xo = np.stack(cols, axis=1)
    # blank cells: numeric 0 and 1, the string column
    for j in (0, 1, d):
        Xo[rng.random(n) < 0.08, j] = np.nan
    idx = rng.permutation(n)
    test = idx[::4]
    train = np.setdiff1d(idx, test)
    names = [f"f{j}" for j in range(d)] + ["city", "rare", "code"]
    return Xo[train], y[train], Xo[test], y[test], names, d


def pre_scale(d):
    """Imputers with indicators, StandardScaler, one-hot of strings and of numeric codes."""
    num = Pipeline([("imp", SimpleImputer(strategy="median", add_indicator=True)),
                    ("sc", StandardScaler())])
    cat = Pipeline([("imp", SimpleImputer(strategy="most_frequent")),
                    ("oh", OneHotEncoder(handle_unknown="ignore"))])
    return ColumnTransformer([("num", num, [0, 1, 2, 3]), ("cat", cat, [d]),
                              ("code", OneHotEncoder(drop="first"), [d + 2]),
                              ("rest", StandardScaler(with_mean=False), list(range(4, d)))],
                             remainder="drop")


def pre_mixed(d):
    """MinMax(clip), Robust, log1p, KBins (one-hot and ordinal), OrdinalEncoder over missing,
    infrequent one-hot, passthrough remainder."""
    return ColumnTransformer([
        ("mm", make_pipeline(SimpleImputer(strategy="mean"), MinMaxScaler(clip=True)), [0]),
        ("rb", make_pipeline(SimpleImputer(strategy="constant", fill_value=0.0),
                             RobustScaler(with_centering=False)), [1]),
        ("log", make_pipeline(MinMaxScaler(), FunctionTransformer(np.log1p)), [2]),
        ("kb1", KBinsDiscretizer(n_bins=4, encode="onehot-dense", strategy="quantile"), [3]),
        ("kb2", KBinsDiscretizer(n_bins=5, encode="ordinal", strategy="uniform"), [4]),
        ("ord", OrdinalEncoder(handle_unknown="use_encoded_value", unknown_value=-1,
                               encoded_missing_value=-2), [d]),
        ("inf", OneHotEncoder(min_frequency=0.04, handle_unknown="infrequent_if_exist",
                              sparse_output=False), [d + 1]),
        ("rs", RobustScaler(), [5]),
    ], remainder="passthrough")


CLASSIFIERS = {
    "logreg": lambda: LogisticRegression(max_iter=5000),
    "tree": lambda: DecisionTreeClassifier(max_depth=6, random_state=0),
    "forest": lambda: RandomForestClassifier(n_estimators=30, max_depth=6, random_state=0),
    "gboost": lambda: GradientBoostingClassifier(n_estimators=30, max_depth=3, random_state=0),
}
REGRESSORS = {
    "linear": LinearRegression,
    "ridge": lambda: Ridge(alpha=0.5),
    "tree": lambda: DecisionTreeRegressor(max_depth=6, random_state=0),
    "forest": lambda: RandomForestRegressor(n_estimators=30, max_depth=6, random_state=0),
    "gboost": lambda: GradientBoostingRegressor(n_estimators=50, max_depth=3, random_state=0),
}
PRE = {"scale": pre_scale, "mixed": pre_mixed}


def records_of(X, names):
    out = []
    for row in X.tolist():
        rec = {}
        for n, v in zip(names, row):
            rec[n] = None if (isinstance(v, float) and np.isnan(v)) else v
        out.append(rec)
    return out


def csv_of(X, names):
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(names)
    for row in X.tolist():
        w.writerow(["" if isinstance(v, float) and np.isnan(v) else
                    (repr(float(v)) if isinstance(v, (float, int)) else v) for v in row])
    return buf.getvalue()


# ---- running an export: the .ais path when the binding has it, else spec + model separately ----

def full_path_available():
    import inspect
    return (hasattr(aistack.Session, "run_records") and hasattr(aistack.Session, "run_csv")
            and "pipeline" in inspect.signature(aistack.Model.save).parameters)


def _pipeline_features_ctypes(spec, records):
    """The feature matrix through ais_pipeline_create_from_json + ais_pipeline_run_json_rows
    (used until the Python binding exposes pipelines)."""
    import ctypes
    from aistack import _errors, _lib
    from aistack._tensor import to_numpy
    L = _lib.lib
    L.ais_pipeline_create_from_json.argtypes = [ctypes.c_char_p, ctypes.c_size_t,
                                                ctypes.POINTER(ctypes.c_void_p)]
    L.ais_pipeline_run_json_rows.argtypes = [ctypes.c_void_p, ctypes.c_char_p, ctypes.c_size_t,
                                             ctypes.POINTER(ctypes.c_void_p), ctypes.c_void_p]
    L.ais_pipeline_destroy.argtypes = [ctypes.c_void_p]
    js = json.dumps(spec).encode()
    p = ctypes.c_void_p()
    _errors.check(L.ais_pipeline_create_from_json(js, len(js), ctypes.byref(p)))
    try:
        rows = "\n".join(json.dumps(r) for r in records).encode()
        out = ctypes.c_void_p()
        _errors.check(L.ais_pipeline_run_json_rows(p, rows, len(rows), ctypes.byref(out), None))
        return np.array(to_numpy(out.value))
    finally:
        L.ais_pipeline_destroy(p)


def predict_all(est, Xt, names, tmp_path):
    """[(source, outputs dict)] for the held-out rows through every available path."""
    records = records_of(Xt, names)
    results = []
    if full_path_available():
        path = str(tmp_path / "model.ais")
        ais_sklearn.export(est, path, input_names=names)
        with aistack.Model(path) as m, m.session() as s:
            # the records hold every column of the data, also those the estimator drops
            results.append(("records", s.run_records(records, extra="ignore")))
            results.append(("csv", s.run_csv(csv_of(Xt, names), extra="ignore")))
    else:
        spec, blob = ais_sklearn.export_bytes(est, input_names=names)
        feats = _pipeline_features_ctypes(spec, records)
        with aistack.Model.from_bytes(blob) as m:
            x = m.inputs[0].name if hasattr(m, "inputs") else "X"
            results.append(("json rows (separate spec + model)", m.run({x: feats})))
    return results


def check(est, Xt, names, tmp_path, case):
    compare(est, Xt, predict_all(est, Xt, names, tmp_path), case)


def compare(est, Xt, results, case):
    """Every (source, outputs) of results against est's predict / predict_proba on Xt, every
    row. (HistGradientBoosting included: its model takes the float64 features it compares.)"""
    worst = 0.0
    for source, out in results:
        out = {k: np.asarray(v) for k, v in out.items()}
        if hasattr(est, "predict_proba"):
            want_p = est.predict_proba(Xt)
            want_l = est.predict(Xt)
            if "probabilities" in out:
                got_p, got_l = out["probabilities"], out["label"]
            else:  # XGBoost's outputs: margin, probability (of class 1 when binary)
                p = out["probability"]
                got_p = np.hstack([1 - p, p]) if p.shape[1] == 1 else p
                got_l = est.classes_[got_p.argmax(1)]
            d = float(np.max(np.abs(got_p - want_p)))
            assert got_l.tolist() == want_l.tolist(), f"{case} via {source}: labels differ"
            # string labels come back as Python str (an object array), integers as integers
            assert [type(v) for v in got_l.tolist()] == [type(v) for v in want_l.tolist()], \
                f"{case} via {source}: label types differ"
        else:
            want = est.predict(Xt).reshape(-1)
            got = (out["value"] if "value" in out else out["margin"]).reshape(-1)
            d = float(np.max(np.abs(got.astype(np.float64) - want)))
            # XGBoost (float32 predictions): the loader sums in float32 from the base margin,
            # tree by tree, as XGBoost does (docs/boosters.md), so the absolute 1e-5 holds even
            # for targets ~300, where one float32 step is 3e-5.
        assert d <= TOL, f"{case} via {source}: max |difference| {d:.3g}"
        worst = max(worst, d)
    MEASURED[case] = worst
    print(f"\n{case}: max |difference| {worst:.3g}")


@pytest.mark.parametrize("pre", sorted(PRE))
@pytest.mark.parametrize("model", sorted(CLASSIFIERS))
@pytest.mark.parametrize("data", ["cancer", "wine"])
def test_classifier(tmp_path, pre, model, data):
    loader = {"cancer": load_breast_cancer, "wine": load_wine}[data]
    Xf, yf, Xt, _, names, d = make_data(loader)
    est = make_pipeline(PRE[pre](d), CLASSIFIERS[model]()).fit(Xf, yf)
    check(est, Xt, names, tmp_path, f"{data}/{pre}/{model}")


@pytest.mark.parametrize("pre", sorted(PRE))
@pytest.mark.parametrize("model", sorted(REGRESSORS))
def test_regressor(tmp_path, pre, model):
    Xf, yf, Xt, _, names, d = make_data(load_diabetes)
    est = make_pipeline(PRE[pre](d), REGRESSORS[model]()).fit(Xf, yf)
    check(est, Xt, names, tmp_path, f"diabetes/{pre}/{model}")


# Class names as labels: iris and wine (three classes), breast cancer (two), and names with
# non-ASCII characters and an empty one.
STRING_LABELS = {
    "iris": (load_iris, None),
    "wine": (load_wine, ["Rosé", "vin 🍷", ""]),
    "cancer": (load_breast_cancer, None),
}


@pytest.mark.parametrize("model", sorted(CLASSIFIERS))
@pytest.mark.parametrize("data", sorted(STRING_LABELS))
def test_classifier_string_labels(tmp_path, model, data):
    """String class labels (y = ["setosa", ...]): the label output is a string tensor, returned
    as str, identical to predict; probabilities within 1e-5; run_records and run_csv."""
    loader, names_override = STRING_LABELS[data]
    Xf, yf, Xt, _, names, d = make_data(loader)
    target_names = np.array(names_override or loader().target_names)
    pre = pre_mixed if data == "wine" else pre_scale
    est = make_pipeline(pre(d), CLASSIFIERS[model]()).fit(Xf, target_names[yf])
    assert est.classes_.dtype.kind == "U"
    check(est, Xt, names, tmp_path, f"{data}/strings/{model}")


@pytest.mark.parametrize("classes", [2, 3])
def test_string_labels_logreg_matches_onnxruntime(classes):
    """The exported LogisticRegression model alone (class index -> name by a LabelEncoder) on
    ONNX Runtime and on aistack, fed the same float64 features. (ONNX Runtime 1.19 refuses the
    tree models' double thresholds, so trees are compared with scikit-learn only.)"""
    ort = pytest.importorskip("onnxruntime")
    X, y = load_iris(return_X_y=True)
    keep = y < classes
    X, y = X[keep], y[keep]
    labels = np.array(["setosa ✿", "versicolor", "virginica"])[y]
    est = LogisticRegression(max_iter=5000).fit(X[::2], labels[::2])
    blob = ais_sklearn.estimator_to_onnx(est, X.shape[1])
    x = X[1::2]
    o_label, o_proba = ort.InferenceSession(blob, providers=["CPUExecutionProvider"]).run(
        ["label", "probabilities"], {"X": x})
    with aistack.Model.from_bytes(blob) as m:
        assert m.outputs[0].dtype == object
        got = m.run({"X": x})
    assert got["label"].dtype == object
    assert got["label"].tolist() == o_label.tolist() == est.predict(x).tolist()
    np.testing.assert_allclose(got["probabilities"], o_proba, rtol=TOL, atol=TOL)
    np.testing.assert_allclose(got["probabilities"], est.predict_proba(x), rtol=TOL, atol=TOL)


def test_iris_multiclass_logreg_bare(tmp_path):
    """A bare estimator (no preprocessing) on plain numeric columns."""
    X, y = load_iris(return_X_y=True)
    est = LogisticRegression(max_iter=5000).fit(X[::2], y[::2])
    check(est, X[1::2].astype(object), ["a", "b", "c", "d"], tmp_path, "iris/bare/logreg")


FEATURE_DTYPES = [
    (LinearRegression, np.float64),
    (lambda: Ridge(alpha=0.5), np.float64),
    (lambda: __import__("sklearn.ensemble", fromlist=["x"]).HistGradientBoostingRegressor(
        max_iter=5), np.float64),
    (lambda: DecisionTreeRegressor(max_depth=3), np.float32),
    (lambda: RandomForestRegressor(n_estimators=3, max_depth=3), np.float32),
    (lambda: GradientBoostingRegressor(n_estimators=3), np.float32),
]


@pytest.mark.parametrize("i", range(len(FEATURE_DTYPES)))
def test_feature_dtype_per_estimator(tmp_path, i):
    """The exported .ais model takes the features in the dtype scikit-learn computes them in:
    float64 for the linear models and HistGradientBoosting, float32 for the tree family."""
    make, want = FEATURE_DTYPES[i]
    Xf, yf, Xt, _, names, d = make_data(load_diabetes)
    est = make_pipeline(pre_scale(d), make()).fit(Xf, yf)
    assert ais_sklearn.feature_dtype(est[-1]) == want
    path = str(tmp_path / "m.ais")
    ais_sklearn.export(est, path, input_names=names)
    with aistack.Model(path) as m:
        assert m.inputs[0].dtype == want
        with m.session() as s:
            got = s.run_records(records_of(Xt, names), extra="ignore")["value"].reshape(-1)
    d = float(np.max(np.abs(got - est.predict(Xt))))
    if i < 2:
        # the linear models: the same double arithmetic as scikit-learn, up to summation order
        assert d <= 1e-9 * (1 + np.abs(est.predict(Xt)).max()), d
    assert d <= TOL


def test_feature_dtype_logreg_and_classifier_trees():
    from sklearn.ensemble import HistGradientBoostingClassifier
    X, y = load_iris(return_X_y=True)
    for est, want in ((LogisticRegression(max_iter=500), np.float64),
                      (HistGradientBoostingClassifier(max_iter=3), np.float64),
                      (DecisionTreeClassifier(max_depth=2), np.float32),
                      (RandomForestClassifier(n_estimators=2, max_depth=2), np.float32)):
        est.fit(X, y)
        assert ais_sklearn.feature_dtype(est) == want
        with aistack.Model.from_bytes(ais_sklearn.estimator_to_onnx(est, 4)) as m:
            assert m.inputs[0].dtype == want


@pytest.mark.parametrize("kind", ["binary", "multi", "regression"])
def test_xgboost(tmp_path, kind):
    xgb = pytest.importorskip("xgboost")
    loader = {"binary": load_breast_cancer, "multi": load_wine, "regression": load_diabetes}[kind]
    Xf, yf, Xt, _, names, d = make_data(loader)
    final = (xgb.XGBRegressor if kind == "regression" else xgb.XGBClassifier)(
        n_estimators=40, max_depth=4, random_state=0)
    est = make_pipeline(pre_scale(d), final).fit(Xf, yf)
    check(est, Xt, names, tmp_path, f"xgboost/{kind}")


def test_spec_shapes():
    """The spec of pre_mixed: input kinds, missing policies, and encoder options as exported."""
    Xf, yf, _, _, names, d = make_data(load_breast_cancer)
    ct = pre_mixed(d).fit(Xf, yf)
    spec = ais_sklearn.to_spec(ct, names)
    kinds = {i["name"]: (i["type"], i["missing"]) for i in spec["inputs"]}
    assert kinds["city"] == ("categorical", "allow")  # OrdinalEncoder maps missing to -2
    assert kinds["rare"] == ("categorical", "error")
    assert kinds["f0"] == ("numeric", "allow") and kinds["f3"] == ("numeric", "error")
    ops = {f["input"]: f["steps"] for f in spec["features"]}
    assert ops["city"][0]["missing_value"] == -2 and ops["city"][0]["unknown_value"] == -1
    assert "infrequent" in ops["rare"][0] and ops["rare"][0]["unknown"] == "infrequent"
    assert [s["op"] for s in ops["f3"]] == ["bucketize", "onehot"]
    assert ais_sklearn.spec_width(spec) == ct.transform(Xf[:1]).shape[1]


@pytest.mark.parametrize("step,message", [
    (FunctionTransformer(np.exp), "only FunctionTransformer(np.log1p)"),
    (Normalizer(), "transformer Normalizer is not supported"),
    (make_pipeline(OneHotEncoder(), StandardScaler(with_mean=False)),
     "follows an encoder's output columns"),
])
def test_unsupported_transformers(step, message):
    X, y = load_iris(return_X_y=True)
    X = np.round(X)
    est = make_pipeline(ColumnTransformer([("t", step, [0, 1])]), LogisticRegression()).fit(X, y)
    with pytest.raises((NotImplementedError, ValueError), match=message.replace("(", r"\(")
                       .replace(")", r"\)")):
        ais_sklearn.export_bytes(est)


def test_unsupported_estimator_and_onehot_missing():
    from sklearn.svm import SVC
    X, y = load_iris(return_X_y=True)
    with pytest.raises(NotImplementedError, match="final estimator SVC"):
        ais_sklearn.export_bytes(make_pipeline(StandardScaler(), SVC()).fit(X, y))
    Xo = np.array([["a"], ["b"], [np.nan], ["a"]], dtype=object)
    est = make_pipeline(OneHotEncoder(), LogisticRegression()).fit(Xo, [0, 1, 0, 1])
    with pytest.raises(NotImplementedError, match="put a SimpleImputer before it"):
        ais_sklearn.export_bytes(est)


def test_cli_run_records(tmp_path):
    """`aistack run model.ais --records rows.csv` prints sklearn's predictions."""
    tool = os.environ.get("AIS_AISTACK")
    if not tool or not full_path_available():
        pytest.skip("needs the aistack tool ($AIS_AISTACK) and pipelines inside .ais files")
    usage = subprocess.run([tool, "run"], capture_output=True, text=True, timeout=60)
    if "--records" not in usage.stdout + usage.stderr:
        pytest.skip("this aistack tool has no `run --records` yet")
    Xf, yf, Xt, _, names, d = make_data(load_diabetes)
    est = make_pipeline(pre_scale(d), Ridge()).fit(Xf, yf)
    path = str(tmp_path / "m.ais")
    ais_sklearn.export(est, path, input_names=names)
    rows = tmp_path / "rows.csv"
    rows.write_text(csv_of(Xt, names))
    res = subprocess.run([tool, "run", path, "--records", str(rows), "--ignore-extra-fields"],
                         capture_output=True, text=True, timeout=120)
    assert res.returncode == 0, res.stderr
    nums = [float(t) for t in res.stdout.replace(",", " ").replace("[", " ").replace("]", " ")
            .split() if _is_float(t)]
    want = est.predict(Xt)
    assert len(nums) >= len(want)
    got = np.array(nums[-len(want):])
    assert np.max(np.abs(got - want)) <= 1e-4 * (1 + np.abs(want)).max()


def _is_float(t):
    try:
        float(t)
        return True
    except ValueError:
        return False


# ---- pandas DataFrames: columns by name, dtypes from the frame, DataFrame records ----

def make_frame(loader, seed=1):
    """The data set as a DataFrame (its own column names) with derived columns: `city`, strings
    from quartiles of column 1 with NaN cells; `size`, a pandas category from column 2; `flag`,
    bool from column 3; NaN in numeric columns 0 and 1. Returns train / test frames and ys."""
    pd = pytest.importorskip("pandas")
    X, y = loader(return_X_y=True, as_frame=True)
    X = X.copy()
    rng = np.random.default_rng(seed)
    c = X.columns
    q = np.quantile(X[c[1]], [0.25, 0.5, 0.75])
    X["city"] = np.array([f"q{k}é" for k in np.digitize(X[c[1]], q)], dtype=object)
    X.loc[rng.random(len(X)) < 0.1, "city"] = np.nan
    X["size"] = pd.Categorical(np.where(X[c[2]] > X[c[2]].median(), "big", "small"))
    X["flag"] = X[c[3]] > X[c[3]].median()
    for j in (0, 1):
        X.loc[rng.random(len(X)) < 0.08, c[j]] = np.nan
    idx = rng.permutation(len(X))
    test = np.sort(idx[::4])
    train = np.setdiff1d(idx, test)
    y = np.asarray(y)
    return X.iloc[train], y[train], X.iloc[test], y[test]


def pre_frame(kind):
    """ColumnTransformers selecting columns by name: a selector by dtype, a list of names, a
    one-name list, a bool column passed through; `mask` selects by boolean mask and slice."""
    from sklearn.compose import make_column_selector
    num = make_pipeline(SimpleImputer(strategy="median"), StandardScaler())
    cat = make_pipeline(SimpleImputer(strategy="most_frequent"),
                        OneHotEncoder(handle_unknown="ignore", sparse_output=False))
    if kind == "names":
        return ColumnTransformer([
            ("num", num, make_column_selector(dtype_include="number")),
            ("cat", cat, ["city"]),
            ("size", OrdinalEncoder(), ["size"]),
            ("flag", "passthrough", ["flag"])])
    if kind == "pandas-out":  # set_output(transform="pandas") all the way
        return ColumnTransformer([
            ("num", num, make_column_selector(dtype_include="number")),
            ("cat", cat, make_column_selector(dtype_include=["object", "category"])),
        ], remainder="passthrough").set_output(transform="pandas")
    # mask / slice: the first four columns by a slice of names, the categories by a mask
    return ColumnTransformer([
        ("num", num, slice(0, 4)),
        ("cat", cat, lambda df: np.array([c in ("city", "size") for c in df.columns])),
    ], remainder="drop")


FRAME_CLASSIFIERS = dict(CLASSIFIERS, **{
    "extra": lambda: __import__("sklearn.ensemble", fromlist=["x"]).ExtraTreesClassifier(
        n_estimators=30, max_depth=6, random_state=0),
    "hgb": lambda: __import__("sklearn.ensemble", fromlist=["x"]).HistGradientBoostingClassifier(
        max_iter=40, random_state=0),
})
FRAME_REGRESSORS = dict(REGRESSORS, **{
    "extra": lambda: __import__("sklearn.ensemble", fromlist=["x"]).ExtraTreesRegressor(
        n_estimators=30, max_depth=6, random_state=0),
    "hgb": lambda: __import__("sklearn.ensemble", fromlist=["x"]).HistGradientBoostingRegressor(
        max_iter=60, random_state=0),
})


def frame_csv(df):
    """df.to_csv with bool columns as 0 / 1 (bool columns are numeric inputs)."""
    bools = {c: int for c in df.columns if df[c].dtype == bool}
    return df.astype(bools).to_csv(index=False)


def predict_frame(est, Xt, tmp_path, input_names=None):
    path = str(tmp_path / "model.ais")
    spec = ais_sklearn.export(est, path, input_names=input_names)
    with aistack.Model(path) as m, m.session() as s:
        # the frame holds every training column, also those the estimator drops: the spec's
        # ignored_fields lets them pass under the strict default, without extra="ignore"
        return spec, [("run_records(DataFrame)", s.run_records(Xt)),
                      ("run_csv(df.to_csv)", s.run_csv(frame_csv(Xt)))]


@pytest.mark.parametrize("pre", ["names", "pandas-out", "mask"])
@pytest.mark.parametrize("model", sorted(FRAME_CLASSIFIERS) + ["xgb"])
@pytest.mark.parametrize("data", ["cancer", "wine"])
def test_frame_classifier(tmp_path, pre, model, data):
    loader = {"cancer": load_breast_cancer, "wine": load_wine}[data]
    Xf, yf, Xt, _ = make_frame(loader)
    if model == "xgb":
        xgb = pytest.importorskip("xgboost")
        final = xgb.XGBClassifier(n_estimators=30, max_depth=4, random_state=0)
    else:
        final = FRAME_CLASSIFIERS[model]()
    est = make_pipeline(pre_frame(pre), final).fit(Xf, yf)
    spec, results = predict_frame(est, Xt, tmp_path)
    # inputs named and typed from the frame
    kinds = {i["name"]: i["type"] for i in spec["inputs"]}
    assert kinds["city"] == "categorical" and kinds[Xf.columns[0]] == "numeric"
    if pre == "names":
        assert kinds["size"] == "categorical" and kinds["flag"] == "numeric"
    compare(est, Xt, results, f"frame/{data}/{pre}/{model}")


@pytest.mark.parametrize("pre", ["names", "pandas-out"])
@pytest.mark.parametrize("model", sorted(FRAME_REGRESSORS) + ["xgb"])
def test_frame_regressor(tmp_path, pre, model):
    Xf, yf, Xt, _ = make_frame(load_diabetes)
    if model == "xgb":
        xgb = pytest.importorskip("xgboost")
        final = xgb.XGBRegressor(n_estimators=30, max_depth=4, random_state=0)
    else:
        final = FRAME_REGRESSORS[model]()
    est = make_pipeline(pre_frame(pre), final).fit(Xf, yf)
    _, results = predict_frame(est, Xt, tmp_path)
    compare(est, Xt, results, f"frame/diabetes/{pre}/{model}")


@pytest.mark.parametrize("how", ["remainder-drop", "unselected"])
def test_frame_dropped_columns_are_ignored_fields(tmp_path, how):
    """A ColumnTransformer that drops training columns exports them as ignored_fields: the
    whole DataFrame runs by every source under the strict default for unknown fields (no
    extra="ignore") with scikit-learn's predictions, the list survives the .ais file, and a
    column the training data did not have is still an error."""
    Xf, yf, Xt, _ = make_frame(load_breast_cancer)
    num = make_pipeline(SimpleImputer(strategy="median"), StandardScaler())
    cat = make_pipeline(SimpleImputer(strategy="most_frequent"),
                        OneHotEncoder(handle_unknown="ignore"))
    keep = [Xf.columns[0], Xf.columns[1], Xf.columns[5]]
    if how == "remainder-drop":
        ct = ColumnTransformer([("num", num, keep), ("cat", cat, ["city"])], remainder="drop")
    else:  # every column is selected, but one transformer is "drop"
        rest = [c for c in Xf.columns if c not in keep + ["city"]]
        ct = ColumnTransformer([("num", num, keep), ("cat", cat, ["city"]),
                                ("gone", "drop", rest)])
    est = make_pipeline(ct, LogisticRegression(max_iter=500)).fit(Xf, yf)
    path = str(tmp_path / "m.ais")
    spec = ais_sklearn.export(est, path)
    used = {i["name"] for i in spec["inputs"]}
    assert used == set(keep) | {"city"}
    assert spec["ignored_fields"] == [c for c in Xf.columns if c not in used]
    with aistack.Model(path) as m:
        p = m.pipeline
        assert p.spec_dict == spec  # stored as exported
        p.close()
        with m.session() as s:
            compare(est, Xt, [("run_records(DataFrame)", s.run_records(Xt)),
                              ("run_columns(DataFrame)", s.run_columns(Xt)),
                              ("run_csv(df.to_csv)", s.run_csv(frame_csv(Xt))),
                              ("run_json_rows", s.run_json_rows(Xt.to_json(
                                  orient="records", lines=True)))],
                    f"frame/ignored_fields/{how}")
            bad = Xt.assign(bogus=1.0)
            with pytest.raises(aistack.SchemaError, match="unknown field"):
                s.run_records(bad)
            with pytest.raises(aistack.SchemaError, match="unknown field"):
                s.run_csv(frame_csv(bad))
            # still accepted when asked for
            compare(est, Xt, [("run_records(extra=ignore)", s.run_records(bad, extra="ignore"))],
                    f"frame/ignored_fields/{how}/extra")


# the scikit-learn release from which each estimator predicts on NaN itself
NAN_SINCE = {"hgb": (1, 0), "tree": (1, 3), "forest": (1, 4)}


@pytest.mark.parametrize("model", ["hgb", "tree", "forest"])
@pytest.mark.parametrize("data", ["cancer", "diabetes"])
@pytest.mark.parametrize("fit_nan", [True, False])
def test_frame_nan_into_trees(tmp_path, model, data, fit_nan):
    """Estimators that take NaN themselves (HistGradientBoosting; trees from scikit-learn 1.3,
    forests from 1.4), bare on the numeric columns: missing inputs are allowed and routed by
    missing_go_to_left, whether NaN was seen in fit or only at prediction. Before those
    releases scikit-learn refuses NaN, and so does the export: missing is a schema error."""
    loader = {"cancer": load_breast_cancer, "diabetes": load_diabetes}[data]
    Xf, yf, Xt, _ = make_frame(loader)
    num = [c for c in Xf.columns if c not in ("city", "size", "flag")]
    Xf, Xt = Xf[num], Xt[num].copy()
    takes_nan = SKLEARN >= NAN_SINCE[model]
    if not fit_nan or not takes_nan:
        Xf = Xf.fillna(0.0)
    Xt.iloc[::3, 2] = np.nan  # a column never missing in fit
    fam = FRAME_CLASSIFIERS if data == "cancer" else FRAME_REGRESSORS
    est = fam[model]().fit(Xf, yf)
    if not takes_nan:
        spec = ais_sklearn.export(est, str(tmp_path / "m.ais"))
        assert all(i["missing"] == "error" for i in spec["inputs"])
        with pytest.raises(ValueError, match="NaN"):
            est.predict(Xt)
        with aistack.Model(str(tmp_path / "m.ais")) as m, m.session() as s:
            with pytest.raises(aistack.SchemaError, match="missing value"):
                s.run_records(Xt)
            # the rows without a missing cell still give scikit-learn's predictions
            full = Xt.dropna()
            compare(est, full, [("run_records", s.run_records(full))],
                    f"frame/nan/{data}/{model}/refused")
        return
    spec, results = predict_frame(est, Xt, tmp_path)
    assert all(i["missing"] == "allow" for i in spec["inputs"])
    compare(est, Xt, results, f"frame/nan/{data}/{model}/fit_nan={fit_nan}")


def test_frame_string_labels_hgb_multiclass(tmp_path):
    Xf, yf, Xt, _ = make_frame(load_wine)
    names = np.array(["Rosé", "vin 🍷", ""])
    est = make_pipeline(pre_frame("names"), FRAME_CLASSIFIERS["hgb"]()).fit(Xf, names[yf])
    _, results = predict_frame(est, Xt, tmp_path)
    compare(est, Xt, results, "frame/wine/strings/hgb")


def test_frame_records_missing_markers():
    """Pipeline.run_records / run_columns on a DataFrame: NaN, None and pd.NA cells are missing,
    the same as dicts with None; bool cells are 0 / 1."""
    pd = pytest.importorskip("pandas")
    spec = {"version": 1,
            "inputs": [{"name": "a", "type": "numeric", "missing": "allow"},
                       {"name": "c", "type": "categorical", "missing": "allow"},
                       {"name": "b", "type": "numeric"}],
            "features": [{"input": "a", "steps": [{"op": "impute", "strategy": "constant",
                                                   "value": -7}]},
                         {"input": "c", "steps": [{"op": "onehot", "categories": ["x", "y"],
                                                   "unknown": "ignore"}]},
                         {"input": "b", "steps": []}]}
    df = pd.DataFrame({"a": pd.array([1.5, None, 3.0, None], dtype="Float64"),
                       "c": pd.array(["x", pd.NA, "y", None], dtype="string"),
                       "b": [True, False, True, True], "ignored": ["u", "v", "w", "z"]})
    dicts = [{"a": 1.5, "c": "x", "b": 1}, {"a": None, "c": None, "b": 0},
             {"a": 3.0, "c": "y", "b": 1}, {"c": None, "b": 1}]
    p = aistack.Pipeline(spec)
    want = p.run_records(dicts)
    assert want.tolist() == [[1.5, 1, 0, 1], [-7, 0, 0, 0], [3, 0, 1, 1], [-7, 0, 0, 1]]
    # the column "ignored" names no input: skipped on request, else a problem
    np.testing.assert_array_equal(p.run_records(df, extra="ignore"), want)
    np.testing.assert_array_equal(p.run_columns(df, extra="ignore"), want)
    with pytest.raises(aistack.SchemaError, match="unknown field"):
        p.run_columns(df)
    df2 = df.copy()
    df2["a"] = df2["a"].astype(object)
    df2.loc[1, "a"] = np.nan
    np.testing.assert_array_equal(p.run_records(df2, extra="ignore"), want)
    with pytest.raises(aistack.SchemaError) as e:
        p.run_records(df.assign(b=[1.0, np.nan, 2.0, 3.0]), extra="ignore")
    assert e.value.problems[0][:2] == (1, "b")
    with pytest.raises(aistack.InvalidArgumentError, match="twice"):
        p.run_records(pd.DataFrame([[1, 2]], columns=["a", "a"]))


def test_frame_input_names_and_refusals():
    from sklearn.ensemble import HistGradientBoostingClassifier
    Xf, yf, _, _ = make_frame(load_wine)
    est = make_pipeline(pre_frame("names"), LogisticRegression(max_iter=3000)).fit(Xf, yf)
    spec, _ = ais_sklearn.export_bytes(est)
    assert [i["name"] for i in spec["inputs"]] == list(Xf.columns)
    spec2, _ = ais_sklearn.export_bytes(est, input_names=list(Xf.columns))
    assert spec2 == spec
    wrong = list(Xf.columns)
    wrong[3] = "other"
    with pytest.raises(ValueError, match=r"position 3 is 'other' in input_names"):
        ais_sklearn.export_bytes(est, input_names=wrong)
    # categorical splits (pandas category dtype reaching HistGradientBoosting, or before
    # scikit-learn 1.4, which has no "from_dtype", columns marked by index) are refused
    if SKLEARN >= (1, 4):
        hgb = HistGradientBoostingClassifier(max_iter=5, categorical_features="from_dtype")
        hgb.fit(Xf[["size", Xf.columns[0]]], yf)
    else:
        hgb = HistGradientBoostingClassifier(max_iter=5, categorical_features=[0])
        hgb.fit(np.column_stack([(Xf["size"] == "big").astype(int), Xf[Xf.columns[0]]]), yf)
    with pytest.raises(NotImplementedError, match=r"categorical features .* split on category "
                       r"sets"):
        ais_sklearn.export_bytes(hgb)
    from sklearn.ensemble import HistGradientBoostingRegressor
    Xd, yd, _, _ = make_frame(load_diabetes)
    num = [c for c in Xd.columns if c not in ("city", "size", "flag")]
    pois = HistGradientBoostingRegressor(loss="poisson", max_iter=5).fit(Xd[num], yd)
    with pytest.raises(NotImplementedError, match="non-identity link"):
        ais_sklearn.export_bytes(pois)


def test_frame_cli_run_records(tmp_path):
    """`aistack run model.ais --records rows.csv` on df.to_csv of a DataFrame-fitted pipeline
    (HistGradientBoosting regressor) prints its predictions."""
    tool = os.environ.get("AIS_AISTACK")
    if not tool:
        pytest.skip("needs the aistack tool ($AIS_AISTACK)")
    Xf, yf, Xt, _ = make_frame(load_diabetes)
    est = make_pipeline(pre_frame("names"), FRAME_REGRESSORS["hgb"]()).fit(Xf, yf)
    path = str(tmp_path / "m.ais")
    ais_sklearn.export(est, path)
    rows = tmp_path / "rows.csv"
    rows.write_text(frame_csv(Xt))
    res = subprocess.run([tool, "run", path, "--records", str(rows), "--ignore-extra-fields"],
                         capture_output=True, text=True, timeout=120)
    assert res.returncode == 0, res.stderr
    lines = res.stdout.strip().splitlines()
    assert lines[0].strip() in ("value", "value[0]")
    got = np.array([float(x) for x in lines[1:]])
    want = est.predict(Xt)
    assert len(got) == len(want)
    d = float(np.max(np.abs(got - want)))
    MEASURED["frame/cli/diabetes/hgb"] = d
    print(f"\nframe/cli/diabetes/hgb: max |difference| {d:.3g}")
    assert d <= TOL  # every row: the model takes the float64 features it compares


@pytest.mark.parametrize("data", ["cancer", "wine", "diabetes"])
def test_hgb_bare_numpy_with_nan(data):
    """The exported HistGradientBoosting trees alone (NumPy data, NaN cells in fit and in
    prediction), fed the float64 features, against scikit-learn on the same, every row."""
    from sklearn.ensemble import HistGradientBoostingClassifier, HistGradientBoostingRegressor
    loader = {"cancer": load_breast_cancer, "wine": load_wine, "diabetes": load_diabetes}[data]
    X, y = loader(return_X_y=True)
    X = X.copy()
    X[np.random.default_rng(0).random(X.shape) < 0.05] = np.nan
    E = HistGradientBoostingRegressor if data == "diabetes" else HistGradientBoostingClassifier
    est = E(max_iter=50, random_state=0).fit(X[::2], y[::2])
    with aistack.Model.from_bytes(ais_sklearn.estimator_to_onnx(est, X.shape[1])) as m:
        assert m.inputs[0].dtype == np.float64
        got = m.run({"X": X[1::2]})
    compare(est, X[1::2], [("float64 features", got)], f"hgb/numpy/{data}")


# ---- scikit-learn versions: the supported range and what differs between its releases ----

@pytest.mark.parametrize("version", ["1.1.3", "0.24.2", "1.10.0", "1.10.0rc1", "2.0.0", "dev"])
def test_unsupported_sklearn_version_refused(monkeypatch, version):
    """Outside SUPPORTED_SKLEARN every entry point refuses, naming the range and the version."""
    X, y = load_iris(return_X_y=True)
    est = make_pipeline(StandardScaler(), LogisticRegression(max_iter=500)).fit(X, y)
    monkeypatch.setattr(sklearn, "__version__", version)
    msg = (rf"aistack.sklearn supports scikit-learn 1\.2 through 1\.9, this is scikit-learn "
           rf"{version}: install a supported version \(pip install "
           rf"'scikit-learn>=1\.2,<1\.10'\)")
    for call in (lambda: ais_sklearn.export_bytes(est),
                 lambda: ais_sklearn.to_spec(est[0]),
                 lambda: ais_sklearn.estimator_to_onnx(est[-1], 4),
                 lambda: ais_sklearn.feature_dtype(est[-1]),
                 lambda: ais_sklearn.export(est, "/nonexistent/never-written.ais")):
        with pytest.raises(RuntimeError, match=msg):
            call()


@pytest.mark.parametrize("version", ["1.2.0", "1.2.1", "1.5.2", "1.9.1", "1.9.0rc1"])
def test_supported_sklearn_version_boundaries(monkeypatch, version):
    """The range is by major.minor: its first and last minor releases, patch and pre-releases
    included, export (the attributes read are those of the installed scikit-learn)."""
    assert ais_sklearn.SUPPORTED_SKLEARN == ((1, 2), (1, 9))
    X, y = load_iris(return_X_y=True)
    est = make_pipeline(StandardScaler(), LogisticRegression(max_iter=500)).fit(X, y)
    want = ais_sklearn.export_bytes(est)
    monkeypatch.setattr(sklearn, "__version__", version)
    assert ais_sklearn.export_bytes(est) == want


def _onehot_cases():
    cases = [("first", "error"), ("if_binary", "infrequent_if_exist"),
             (["n"], "error"),  # a frequent category, after the infrequent ones
             (None, "infrequent_if_exist")]
    if SKLEARN >= (1, 6):
        cases.append((["p"], "warn"))  # "warn" exists from 1.6: infrequent_if_exist + a warning
    return cases


@pytest.mark.parametrize("drop,unknown", _onehot_cases())
def test_onehot_drop_with_infrequent(drop, unknown):
    """OneHotEncoder with drop and infrequent categories: drop_idx_ means the grouped output
    column in scikit-learn 1.2 and the category in categories_ from 1.3; the exported spec gives
    scikit-learn's transform either way, unknown categories included."""
    # the infrequent categories sort first, so that an index into categories_ (a b m n p)
    # differs from one into the grouped columns (m n p infrequent)
    vals = ["m"] * 30 + ["n"] * 25 + ["p"] * 20 + ["a"] * 2 + ["b"] * 3
    if drop == "if_binary":
        vals = ["m"] * 30 + ["a"] * 2 + ["b"] * 3  # binary after grouping: m, infrequent
    X = np.array(vals, dtype=object).reshape(-1, 1)
    enc = OneHotEncoder(drop=drop, min_frequency=5, handle_unknown=unknown,
                        sparse_output=False).fit(X)
    spec = ais_sklearn.to_spec(enc, ["c"])
    step = spec["features"][0]["steps"][0]
    assert step["infrequent"] == ["a", "b"]
    rows = sorted(set(vals))
    if unknown != "error":
        rows.append("never seen")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        want = enc.transform(np.array(rows, dtype=object).reshape(-1, 1))
    got = aistack.Pipeline(spec).run_records([{"c": r} for r in rows])
    np.testing.assert_array_equal(got, want)
    assert got.shape[1] == ais_sklearn.spec_width(spec)


def _logreg_cases():
    if "multi_class" in LogisticRegression().get_params():  # 1.2 to 1.7
        return [dict(multi_class="ovr"), dict(multi_class="multinomial"),
                dict(solver="liblinear"), dict()]
    return [dict(), dict(solver="newton-cholesky")]  # 1.8+: always multinomial


@pytest.mark.parametrize("kw", _logreg_cases(), ids=lambda kw: ",".join(
    f"{k}={v}" for k, v in kw.items()) or "default")
@pytest.mark.parametrize("classes", [2, 3])
def test_logreg_multiclass_modes(kw, classes):
    """One-vs-rest (normalized sigmoids) or multinomial (softmax) as the release and the fitted
    parameters decide: multi_class until 1.7 (liblinear is one-vs-rest under "auto"), always
    multinomial from 1.8, which removed multi_class."""
    X, y = load_wine(return_X_y=True)
    keep = y < classes
    X, y = StandardScaler().fit_transform(X[keep]), y[keep]
    est = LogisticRegression(max_iter=5000, **kw).fit(X[::2], y[::2])
    with aistack.Model.from_bytes(ais_sklearn.estimator_to_onnx(est, X.shape[1])) as m:
        got = m.run({"X": X[1::2]})
    assert got["label"].tolist() == est.predict(X[1::2]).tolist()
    np.testing.assert_allclose(got["probabilities"], est.predict_proba(X[1::2]), rtol=0,
                               atol=TOL)


def test_gradient_boosting_init_and_loss_refused():
    """GradientBoosting: an init estimator whose prediction depends on the row, a random
    DummyClassifier, and the exponential loss are refused, naming what; the default init and
    init="zero" export."""
    from sklearn.dummy import DummyClassifier
    X, y = load_breast_cancer(return_X_y=True)
    Xr, yr = load_diabetes(return_X_y=True)
    bad = [GradientBoostingRegressor(n_estimators=3, init=LinearRegression()).fit(Xr, yr),
           GradientBoostingClassifier(n_estimators=3,
                                      init=DummyClassifier(strategy="stratified")).fit(X, y)]
    for est in bad:
        with pytest.raises(NotImplementedError, match="init=.*varies with the row"):
            ais_sklearn.estimator_to_onnx(est, X.shape[1] if est.n_features_in_ == 30 else 10)
    exp = GradientBoostingClassifier(n_estimators=3, loss="exponential").fit(X, y)
    with pytest.raises(NotImplementedError, match="loss 'exponential'"):
        ais_sklearn.estimator_to_onnx(exp, X.shape[1])
    for est in (GradientBoostingRegressor(n_estimators=5, init="zero").fit(Xr, yr),
                GradientBoostingClassifier(n_estimators=5, init="zero").fit(X, y)):
        with aistack.Model.from_bytes(ais_sklearn.estimator_to_onnx(
                est, est.n_features_in_)) as m:
            xs = (Xr if est.n_features_in_ == 10 else X)[:50]
            compare(est, xs, [("float32 features", m.run({"X": xs.astype(np.float32)}))],
                    f"gboost/init=zero/{type(est).__name__}")
