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
            results.append(("records", s.run_records(records)))
            results.append(("csv", s.run_csv(csv_of(Xt, names))))
    else:
        spec, blob = ais_sklearn.export_bytes(est, input_names=names)
        feats = _pipeline_features_ctypes(spec, records)
        with aistack.Model.from_bytes(blob) as m:
            x = m.inputs[0].name if hasattr(m, "inputs") else "X"
            results.append(("json rows (separate spec + model)", m.run({x: feats})))
    return results


def check(est, Xt, names, tmp_path, case):
    worst = 0.0
    for source, out in predict_all(est, Xt, names, tmp_path):
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
    ONNX Runtime and on aistack, fed the same float32 features. (ONNX Runtime 1.19 refuses the
    tree models' double thresholds, so trees are compared with scikit-learn only.)"""
    ort = pytest.importorskip("onnxruntime")
    X, y = load_iris(return_X_y=True)
    keep = y < classes
    X, y = X[keep], y[keep]
    labels = np.array(["setosa ✿", "versicolor", "virginica"])[y]
    est = LogisticRegression(max_iter=5000).fit(X[::2], labels[::2])
    blob = ais_sklearn.estimator_to_onnx(est, X.shape[1])
    x = X[1::2].astype(np.float32)
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
    res = subprocess.run([tool, "run", path, "--records", str(rows)], capture_output=True,
                         text=True, timeout=120)
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
