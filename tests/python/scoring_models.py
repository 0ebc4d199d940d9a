"""Models and data shared by the batch-scoring tests (test_dask.py, test_spark.py, test_score.py):
a scikit-learn pipeline exported by aistack.sklearn (raw records through its feature pipeline)
and an XGBoost model (a plain model over feature columns), with the single-process reference
(Session.run_records / Session.run) every engine's result must equal bit for bit."""
import os
import sys

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BINDINGS = os.path.join(ROOT, "bindings", "python")
sys.path.insert(0, BINDINGS)
import aistack  # noqa: E402

NUM = ["age", "income", "tenure"]
CAT = ["city", "plan"]
CITIES = ["paris", "lyon", "oslo", "rome", "lima"]
PLANS = ["free", "pro", "team"]


def worker_env():
    """Worker processes (Dask nannies, Spark's Python workers) find this checkout's package."""
    paths = [BINDINGS] + [p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p]
    os.environ["PYTHONPATH"] = os.pathsep.join(dict.fromkeys(paths))


def records_frame(n, seed=0):
    """Raw records as a DataFrame: an id column, numeric fields with missing values, string
    categories (some unseen at training)."""
    import pandas as pd
    rng = np.random.default_rng(seed)
    df = pd.DataFrame({
        "id": np.arange(n, dtype=np.int64) * 7 + 3,
        "age": rng.normal(40, 12, n).round(1),
        "income": rng.lognormal(10, 1, n),
        "tenure": rng.integers(0, 120, n).astype(np.float64),
        "city": rng.choice(CITIES + ["quito"], n),
        "plan": rng.choice(PLANS, n),
    })
    df.loc[rng.random(n) < 0.05, "age"] = np.nan
    return df


def train_sklearn(path, n_estimators=20):
    """A ColumnTransformer (impute + scale, one-hot) + gradient boosting pipeline on a frame,
    exported to `path`; returns the fitted pipeline."""
    from sklearn.compose import ColumnTransformer
    from sklearn.ensemble import GradientBoostingClassifier
    from sklearn.impute import SimpleImputer
    from sklearn.pipeline import Pipeline, make_pipeline
    from sklearn.preprocessing import OneHotEncoder, StandardScaler
    from aistack import sklearn as ais_sklearn
    df = records_frame(600, seed=1)
    df = df[df.city != "quito"]
    y = ((df.age.fillna(40) > 38) ^ (df.plan == "pro")).astype(int)
    pre = ColumnTransformer([
        ("num", make_pipeline(SimpleImputer(), StandardScaler()), NUM),
        ("cat", OneHotEncoder(handle_unknown="ignore"), CAT)])
    pipe = Pipeline([("pre", pre), ("gb", GradientBoostingClassifier(
        n_estimators=n_estimators, max_depth=3, random_state=0))])
    pipe.fit(df[NUM + CAT], y)
    ais_sklearn.export(pipe, path)
    return pipe


def feature_frame(n, seed=0, width=6):
    import pandas as pd
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, width)).astype(np.float32)
    x[rng.random(x.shape) < 0.05] = np.nan
    df = pd.DataFrame(x, columns=[f"f{j}" for j in range(width)])
    df.insert(0, "id", np.arange(n, dtype=np.int64))
    return df


def train_xgboost(path, width=6, n_estimators=30):
    """An XGBoost regressor saved as XGBoost JSON at `path` (a plain model: one input [N, F])."""
    import xgboost as xgb
    df = feature_frame(800, seed=2, width=width)
    x = df.drop(columns="id").to_numpy()
    y = np.nan_to_num(x[:, 0]) * 2 - np.nan_to_num(x[:, 1]) ** 2
    reg = xgb.XGBRegressor(n_estimators=n_estimators, max_depth=4, tree_method="hist")
    reg.fit(x, y)
    reg.get_booster().save_model(path)
    return reg


def reference_records(path, df):
    """Single process, one call: Session.run_records over every row."""
    with aistack.Model(path) as m, m.session(threads=1) as s:
        return s.run_records(df[NUM + CAT])


def reference_features(path, df):
    with aistack.Model(path) as m, m.session(threads=1) as s:
        x = np.ascontiguousarray(df.drop(columns="id").to_numpy(np.float32))
        return s.run({m.inputs[0].name: x})


def assert_same_bits(got, want, what):
    """Equal element for element, NaN payloads and signed zeros included."""
    got, want = np.asarray(got), np.asarray(want)
    assert got.shape == want.shape, f"{what}: shape {got.shape} vs {want.shape}"
    if want.dtype.kind == "f":
        assert got.dtype == want.dtype, f"{what}: dtype {got.dtype} vs {want.dtype}"
        iview = np.dtype(f"u{want.dtype.itemsize}")
        bad = got.view(iview) != want.view(iview)
    else:
        bad = got != want
    assert not bad.any(), (f"{what}: {int(bad.sum())} of {bad.size} differ, first at "
                           f"{np.flatnonzero(bad)[0]}")


def compare_outputs(frame, ref, what):
    """The output columns of a scored frame (sorted back into reference order by the caller)
    against the reference outputs."""
    for name, want in ref.items():
        want = np.asarray(want).reshape(len(frame), -1)
        if want.shape[1] == 1:
            got = frame[name].to_numpy()
            assert_same_bits(got, want[:, 0], f"{what} {name}")
        else:
            for j in range(want.shape[1]):
                assert_same_bits(frame[f"{name}_{j}"].to_numpy(), want[:, j],
                                 f"{what} {name}_{j}")
