"""XGBoost 3.1+ JSON models, whose multi-class base_score is a vector ("[v0,v1,v2]", one per
class): the committed fixtures of tests/fixtures/xgboost (made by make_xgboost_fixtures.py with
XGBoost 3.1+) against the margins XGBoost itself gave, bit for bit as in test_boosters.py; the
scalar forms (binary, regression) still load; malformed vectors are refused with a message. Under
an XGBoost >= 3.1 (ctest python_xgboost_base_score_newest) fresh models are checked the same way.
Needs only NumPy otherwise."""
import json
import os
import sys

import numpy as np
import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(ROOT, "bindings", "python"))
import aistack  # noqa: E402

FIX = os.path.join(ROOT, "tests", "fixtures", "xgboost")
NAMES = ["iris_softprob", "cancer_binary", "diabetes_regression"]


def margins(blob, X):
    with aistack.Model.from_bytes(blob) as m:
        return np.asarray(m.run({"input": X})["margin"])


def exact(got, want):
    want = np.asarray(want, dtype=np.float32).reshape(got.shape)
    assert got.dtype == np.float32
    bad = got != want
    assert not bad.any(), (f"{bad.sum()} of {got.size} margins differ, e.g. "
                           f"{got[bad][0]!r} vs XGBoost {want[bad][0]!r}")


def fixture(name):
    with open(os.path.join(FIX, name + ".json"), "rb") as f:
        blob = f.read()
    return (blob, np.load(os.path.join(FIX, name + ".X.npy")),
            np.load(os.path.join(FIX, name + ".margins.npy")))


def with_base_score(blob, value):
    doc = json.loads(blob)
    doc["learner"]["learner_model_param"]["base_score"] = value
    return json.dumps(doc).encode()


@pytest.mark.parametrize("name", NAMES)
def test_fixture_margins_exact(name):
    blob, X, want = fixture(name)
    base = json.loads(blob)["learner"]["learner_model_param"]["base_score"]
    if name == "iris_softprob":  # what the fixture is for: one value per class
        assert base.startswith("[") and base.count(",") == 2, base
    exact(margins(blob, X), want)


def test_vector_applied_per_class():
    """Each class starts from its own base margin: raising class k's base_score by d moves
    class k's margins by d (up to float32 rounding of the tree sums) and no other class's."""
    blob, X, want = fixture("iris_softprob")
    doc = json.loads(blob)
    base = [float(x) for x in
            doc["learner"]["learner_model_param"]["base_score"].strip("[]").split(",")]
    for k in range(3):
        b = list(base)
        b[k] += 0.25
        got = margins(with_base_score(blob, "[" + ",".join(repr(x) for x in b) + "]"), X)
        for j in range(3):
            d = got[:, j].astype(np.float64) - want[:, j]
            assert np.allclose(d, 0.25 if j == k else 0.0, atol=1e-6), (k, j, d.max())
    # a one-element vector (XGBoost 2.x "[5E-1]") applies to every class
    got = margins(with_base_score(blob, "[5E-1]"), X)
    uniform = margins(with_base_score(blob, "5E-1"), X)
    exact(got, uniform)


@pytest.mark.parametrize("value,message", [
    ("[5E-1,5E-1]", "base_score has 2 values, but the model has 3 outputs"),
    ("[5E-1,5E-1,5E-1,5E-1]", "base_score has 4 values"),
    ("[5E-1,abc,5E-1]", "element 1 is not a number"),
    ("[5E-1,,5E-1]", "element 1 is not a number"),
    ("[]", "element 0 is not a number"),
    ("[5E-1,5E-1,5E-1", "expected ',' or a final ']' after element 2"),
    ("[5E-1;5E-1;5E-1]", "expected ',' or a final ']' after element 0"),
    ("[5E-1,5E-1,5E-1]x", "expected ',' or a final ']' after element 2"),
    ("[5E-1,1e999,5E-1]", "element 1 is not finite"),
])
def test_malformed_vector_refused(value, message):
    blob, _, _ = fixture("iris_softprob")
    with pytest.raises(aistack.AistackError, match="base_score") as e:
        aistack.Model.from_bytes(with_base_score(blob, value))
    assert message in str(e.value)


def test_binary_vector_checked_per_element():
    blob, X, want = fixture("cancer_binary")
    base = json.loads(blob)["learner"]["learner_model_param"]["base_score"]
    # the scalar as a one-element vector gives the same margins
    exact(margins(with_base_score(blob, "[" + base.strip("[]") + "]"), X), want)
    with pytest.raises(aistack.AistackError, match=r"base_score has 3 values, but the model has "
                                                   r"1 output"):
        aistack.Model.from_bytes(with_base_score(blob, "[5E-1,5E-1,5E-1]"))
    with pytest.raises(aistack.AistackError, match=r"base_score 2 of a logistic objective"):
        aistack.Model.from_bytes(with_base_score(blob, "[2E0]"))


def test_fresh_models_newest_xgboost(tmp_path):
    xgb = pytest.importorskip("xgboost")
    if tuple(int(x) for x in xgb.__version__.split(".")[:2]) < (3, 1):
        pytest.skip(f"XGBoost {xgb.__version__} writes a scalar base_score")
    rng = np.random.default_rng(1)
    X = rng.normal(size=(300, 5)).astype(np.float32)
    X[rng.random(X.shape) < 0.1] = np.nan
    y = (np.nan_to_num(X[:, 0]) > 0).astype(int) + (np.nan_to_num(X[:, 1]) > 0.5).astype(int)
    for params in ({"objective": "multi:softprob", "num_class": 3},
                   {"objective": "multi:softmax", "num_class": 3},
                   {"objective": "binary:logistic"}, {"objective": "reg:squarederror"}):
        yy = (y > 0).astype(int) if params["objective"].startswith("binary") else y
        bst = xgb.train(dict(params, max_depth=4, seed=0), xgb.DMatrix(X, label=yy),
                        num_boost_round=10)
        path = str(tmp_path / "m.json")
        bst.save_model(path)
        with open(path, "rb") as f:
            blob = f.read()
        exact(margins(blob, X), bst.predict(xgb.DMatrix(X), output_margin=True))
