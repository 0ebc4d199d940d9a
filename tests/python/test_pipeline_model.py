"""aistack.Pipeline and models that carry their feature pipeline: a scikit-learn pipeline
(ColumnTransformer of scaler + one-hot, then LogisticRegression) becomes one .ais file that turns
raw CSV rows, JSON lines and dicts into scikit-learn's predictions."""
import csv
import io
import json
import os
import sys

import numpy as np
import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(ROOT, "bindings", "python"))
import aistack  # noqa: E402

skl2onnx = pytest.importorskip("skl2onnx")
from skl2onnx.common.data_types import FloatTensorType  # noqa: E402
from sklearn.compose import ColumnTransformer  # noqa: E402
from sklearn.impute import SimpleImputer  # noqa: E402
from sklearn.linear_model import LogisticRegression  # noqa: E402
from sklearn.pipeline import Pipeline as SkPipeline  # noqa: E402
from sklearn.preprocessing import FunctionTransformer, OneHotEncoder, StandardScaler  # noqa: E402

CITIES = ["oslo", "rome", "paris, fr", 'say "hi"']


COLS = ["age", "income", "city"]


class Frame:
    """The few DataFrame features the tests need, without pandas: an object array of rows."""

    def __init__(self, rows):
        self.x = np.array(rows, dtype=object).reshape(-1, 3)

    def records(self):
        return [{c: (None if isinstance(v, float) and np.isnan(v) else v)
                 for c, v in zip(COLS, r)} for r in self.x]

    def to_csv(self):
        buf = io.StringIO()
        w = csv.writer(buf, lineterminator="\r\n")
        w.writerow(COLS)
        for r in self.records():
            w.writerow(["" if v is None else repr(v) if isinstance(v, float) else v for v in r.values()])
        return buf.getvalue()


def make_data(n, seed):
    rng = np.random.default_rng(seed)
    age = rng.normal(40, 12, n).round(1)
    income = rng.lognormal(10, 0.5, n).round(2)
    city = rng.choice(CITIES, n)
    y = ((age > 40) ^ (city == "rome") ^ (income > 25000)).astype(int)
    return Frame([[float(a), float(i), str(c)] for a, i, c in zip(age, income, city)]), y


def _to_float(x):
    return np.asarray(x, dtype=np.float64)


def fit(seed=0):
    df, y = make_data(400, seed)
    pre = ColumnTransformer([
        ("num", SkPipeline([("f", FunctionTransformer(_to_float)),
                            ("imp", SimpleImputer(strategy="median")),
                            ("sc", StandardScaler())]), [0, 1]),
        ("cat", OneHotEncoder(handle_unknown="ignore", categories=[CITIES]), [2]),
    ])
    model = SkPipeline([("pre", pre), ("clf", LogisticRegression(max_iter=500))]).fit(df.x, y)
    return model


def spec_of(model):
    """The pipeline spec for the fitted ColumnTransformer (what the exporter will generate)."""
    num = model.named_steps["pre"].named_transformers_["num"]
    imp, sc = num.named_steps["imp"], num.named_steps["sc"]
    feats = []
    for i, name in enumerate(["age", "income"]):
        feats.append({"input": name, "steps": [
            {"op": "impute", "strategy": "median", "value": float(imp.statistics_[i])},
            {"op": "scale", "kind": "standard", "mean": float(sc.mean_[i]),
             "scale": float(sc.scale_[i])}]})
    feats.append({"input": "city", "steps": [
        {"op": "onehot", "categories": CITIES, "unknown": "ignore"}]})
    return {"version": 1,
            "inputs": [{"name": "age", "type": "numeric", "missing": "allow"},
                       {"name": "income", "type": "numeric", "missing": "allow"},
                       {"name": "city", "type": "categorical", "missing": "allow"}],
            "features": feats}


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    model = fit()
    clf = model.named_steps["clf"]
    width = clf.coef_.shape[1]
    onx = skl2onnx.convert_sklearn(clf, initial_types=[("X", FloatTensorType([None, width]))],
                                   options={id(clf): {"zipmap": False}}, target_opset=17)
    d = tmp_path_factory.mktemp("pm")
    onnx_path = d / "clf.onnx"
    onnx_path.write_bytes(onx.SerializeToString())
    ais_path = d / "clf.ais"
    with aistack.Model(onnx_path) as m:
        assert m.pipeline is None
        m.save(ais_path, pipeline=spec_of(model))
    return model, ais_path


def test_pipeline_properties_and_runs_agree():
    model = fit()
    p = aistack.Pipeline(spec_of(model))
    assert p.input_names == ["age", "income", "city"]
    assert p.input_kinds == ["numeric", "numeric", "categorical"]
    assert p.output_width == 2 + len(CITIES)
    assert json.loads(p.spec) == spec_of(model)
    assert aistack.Pipeline(p.spec.encode()).output_width == p.output_width
    df, _ = make_data(37, 5)
    df.x[3, 0] = np.nan
    want = model.named_steps["pre"].transform(df.x).astype(np.float32)
    recs = df.records()
    np.testing.assert_allclose(p.run_records(recs), want, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(p.run_csv(df.to_csv()), want, rtol=1e-5, atol=1e-6)
    jl = "\n".join(json.dumps(r) for r in recs)
    np.testing.assert_allclose(p.run_json_rows(jl), want, rtol=1e-5, atol=1e-6)
    cols = {"age": df.x[:, 0].astype(float), "income": df.x[:, 1].astype(float),
            "city": df.x[:, 2]}
    np.testing.assert_allclose(p.run_columns(cols), want, rtol=1e-5, atol=1e-6)
    cols["city"] = list(cols["city"])
    cols["city"][0] = None  # a missing category goes through the records path
    got = p.run_columns(cols)
    assert got[0, 2:].sum() == 0
    np.testing.assert_allclose(got[1:], want[1:], rtol=1e-5, atol=1e-6)


def test_schema_errors_list_every_problem():
    p = aistack.Pipeline(spec_of(fit()))
    with pytest.raises(aistack.SchemaError) as e:
        p.run_csv('age,income,city\n1,abc,oslo\n2,3\n4,"5"x,oslo\n')
    probs = e.value.problems
    assert (0, "income", 'not a number: "abc"') in probs
    assert any(r == 1 and f == "" and "cells" in m for r, f, m in probs)
    assert any(r == 2 and f == "" and "closing quote" in m for r, f, m in probs)
    with pytest.raises(aistack.SchemaError) as e:
        p.run_records([{"age": 1, "income": 2, "city": 3}])
    assert e.value.problems[0][:2] == (0, "city")
    with pytest.raises(aistack.FormatError):
        p.run_csv("")
    with pytest.raises(aistack.FormatError):
        aistack.Pipeline("{not json")
    with pytest.raises(aistack.InvalidArgumentError):
        p.run_records([{"age": object()}])


def test_model_with_pipeline_matches_sklearn(trained, tmp_path):
    model, ais_path = trained
    df, _ = make_data(61, 9)
    df.x[7, 1] = np.nan
    want = model.predict_proba(df.x)
    with aistack.Model(ais_path) as m:
        p = m.pipeline
        assert p is not None and p.output_width == 2 + len(CITIES)
        assert json.loads(p.spec) == spec_of(model)
        with m.session() as s:
            out = s.run_csv(df.to_csv())
            probs = out["probabilities"]
            np.testing.assert_allclose(probs, want, rtol=1e-4, atol=1e-5)
            np.testing.assert_array_equal(out["label"].reshape(-1), model.predict(df.x))
            recs = df.records()
            got = s.run_records(recs, outputs=["probabilities"])
            np.testing.assert_allclose(got["probabilities"], want, rtol=1e-4, atol=1e-5)
            jl = "\n".join(json.dumps(r) for r in recs) + "\n"
            np.testing.assert_allclose(s.run_json_rows(jl)["probabilities"], want, rtol=1e-4,
                                       atol=1e-5)
            # The same batch again reuses the session's buffers and gives the same result.
            np.testing.assert_array_equal(s.run_csv(df.to_csv())["probabilities"], probs)
            with pytest.raises(aistack.SchemaError) as e:
                s.run_csv("age,income,city\nx,1,oslo\n")
            assert e.value.problems == [(0, "age", 'not a number: "x"')]
        # Saving again keeps the pipeline; a compressed copy too.
        again = tmp_path / "again.ais"
        m.save(again, compression=3)
    with aistack.Model(again) as m2:
        assert m2.pipeline is not None and m2.pipeline.spec == p.spec


def test_pipeline_view_outlives_its_model(trained):
    """Model.pipeline is a view into the model's own pipeline: it holds a reference to the
    model, so it keeps working after Model.close() and after the Model is garbage collected
    (before, the view pointed into freed memory); after the view's own close() it raises."""
    import gc
    model, ais_path = trained
    df, _ = make_data(13, 5)
    recs = df.records()
    with aistack.Pipeline(spec_of(model)) as fresh:
        want = fresh.run_records(recs)
        want64 = fresh.run_csv(df.to_csv(), dtype=np.float64)
    m = aistack.Model(ais_path)
    p = m.pipeline
    m.close()
    np.testing.assert_array_equal(p.run_records(recs), want)
    q = aistack.Model(ais_path).pipeline  # the Model object is dropped at once
    gc.collect()
    np.testing.assert_array_equal(q.run_records(recs), want)
    np.testing.assert_array_equal(q.run_csv(df.to_csv(), dtype=np.float64), want64)
    assert q.spec == p.spec
    p.close()
    q.close()
    del q
    gc.collect()
    with pytest.raises(aistack.InvalidArgumentError, match="closed"):
        p.run_records(recs)


def test_session_run_columns(trained, tmp_path):
    """Session.run_columns: a dict of arrays (f64, f32, i64 numbers; NaN missing) and a pandas
    DataFrame give what run_records gives on the same rows, bit for bit; a categorical column
    with None goes through records; schema problems raise SchemaError with the report."""
    model, ais_path = trained
    df, _ = make_data(29, 11)
    df.x[5, 0] = np.nan
    recs = df.records()
    cols = {"age": df.x[:, 0].astype(np.float64), "income": df.x[:, 1].astype(np.float64),
            "city": df.x[:, 2].astype(str), "unused": np.arange(29)}
    with aistack.Model(ais_path) as m, m.session() as s:
        want = s.run_records(recs)
        np.testing.assert_allclose(want["probabilities"], model.predict_proba(df.x), rtol=1e-4,
                                   atol=1e-5)
        # "unused" names no input: a problem of the column names unless extra="ignore"
        with pytest.raises(aistack.SchemaError) as e:
            s.run_columns(cols)
        assert [p[:2] for p in e.value.problems] == [(-1, "unused")]
        for _ in range(2):  # the second call reuses the session's feature tensor
            got = s.run_columns(cols, extra="ignore")
            assert list(got) == list(want)
            for k in want:
                np.testing.assert_array_equal(got[k], want[k])
        # float32 / int64 columns: equal to records holding the same numbers
        cols2 = dict(cols, age=cols["age"].astype(np.float32),
                     income=np.round(cols["income"]).astype(np.int64))
        recs2 = [dict(r, age=None if np.isnan(a) else float(a), income=int(i))
                 for r, a, i in zip(recs, cols2["age"], cols2["income"])]
        got = s.run_columns(cols2, outputs=["probabilities"], extra="ignore")
        assert list(got) == ["probabilities"]
        np.testing.assert_array_equal(got["probabilities"],
                                      s.run_records(recs2)["probabilities"])
        # a missing category (None) goes as records: equal to the records run
        with_none = dict(cols, city=list(cols["city"]))
        with_none["city"][3] = None
        recs_none = [dict(r) for r in recs]
        recs_none[3]["city"] = None
        want_none = s.run_records(recs_none)["probabilities"]
        assert not np.array_equal(want_none[3], want["probabilities"][3])
        np.testing.assert_array_equal(
            s.run_columns(with_none, extra="ignore")["probabilities"], want_none)
        # ... and there a number where a category belongs is a schema problem
        with_none["city"][4] = 3
        with pytest.raises(aistack.SchemaError) as e:
            s.run_columns(with_none, extra="ignore")
        assert [p[:2] for p in e.value.problems] == [(4, "city")]
        # through records too, "unused" is reported unless ignored, in every row
        with pytest.raises(aistack.SchemaError) as e:
            s.run_columns(with_none)
        assert (0, "unused") in [p[:2] for p in e.value.problems]
        # a pandas DataFrame, with a categorical column holding NaN
        pd = pytest.importorskip("pandas")
        frame = pd.DataFrame({"age": cols["age"], "income": cols["income"],
                              "city": cols["city"]})
        got = s.run_columns(frame)
        for k in want:
            np.testing.assert_array_equal(got[k], want[k])
        frame["city"] = pd.Categorical(with_none["city"][:4] + [None] + list(cols["city"][5:]))
        frame.loc[3, "city"] = np.nan
        recs_none[4]["city"] = None
        np.testing.assert_array_equal(s.run_columns(frame)["probabilities"],
                                      s.run_records(recs_none)["probabilities"])
    # A pipeline that allows no missing age: NaN in the column is reported by the library.
    strict = spec_of(model)
    del strict["inputs"][0]["missing"]
    with aistack.Model(ais_path) as m:
        m.save(tmp_path / "strict.ais", pipeline=strict)
    with aistack.Model(tmp_path / "strict.ais") as m, m.session() as s:
        with pytest.raises(aistack.SchemaError) as e:
            s.run_columns(cols, extra="ignore")
        assert e.value.problems == [(5, "age", "NaN where the input allows no missing value")]
        with pytest.raises(aistack.ShapeError, match='"income" has 28 rows, others have 29'):
            s.run_columns(dict(cols, income=cols["income"][:28]))


def test_run_columns_vectorised(trained, monkeypatch):
    """Categorical columns as NumPy string arrays, object arrays of str, pandas Series (object and
    Categorical) and DataFrames go to the library without per-value Python (numpy.unique /
    pandas.factorize, then one pointer gather) and give run_records' bits; lists, object columns
    with missing cells or other objects keep the per-value path, whose answers stand."""
    from aistack import _pipeline
    model, ais_path = trained
    df, _ = make_data(301, 12)
    recs = df.records()
    city = df.x[:, 2].astype(str)
    fast = []
    real = _pipeline._category_codes
    monkeypatch.setattr(_pipeline, "_category_codes",
                        lambda col: fast.append(real(col) is not None) or real(col))
    base = {"age": df.x[:, 0].astype(np.float64), "income": df.x[:, 1].astype(np.float64)}
    with aistack.Model(ais_path) as m, m.session() as s:
        want = s.run_records(recs)["probabilities"]
        forms = [city, city.astype(object)]
        pd = pytest.importorskip("pandas")
        forms += [pd.Series(city), pd.Series(city, dtype="category")]
        for f in forms:
            fast.clear()
            got = s.run_columns(dict(base, city=f))["probabilities"]
            assert fast == [True], type(f)
            np.testing.assert_array_equal(got, want)
        fast.clear()
        frame = pd.DataFrame(dict(base, city=city))
        np.testing.assert_array_equal(s.run_columns(frame)["probabilities"], want)
        assert fast == [True]
        # an integer column of a DataFrame goes as int64, equal to the records' numbers
        frame["income"] = np.round(frame["income"]).astype(np.int64)
        recs_i = [dict(r, income=int(i)) for r, i in zip(recs, frame["income"])]
        np.testing.assert_array_equal(s.run_columns(frame)["probabilities"],
                                      s.run_records(recs_i)["probabilities"])
        # per-value: a list, an object column with a missing cell or a number in it
        for col in (list(city), np.array(list(city[:-1]) + [None], dtype=object)):
            fast.clear()
            got = s.run_columns(dict(base, city=col))["probabilities"]
            assert fast == [False]
            np.testing.assert_array_equal(got[:-1], want[:-1])
        mixed = city.astype(object)
        mixed[7] = 3
        assert real(mixed) is None  # per value, as before: the 3 is taken as "3"
        as_text = city.copy()
        as_text[7] = "3"
        np.testing.assert_array_equal(s.run_columns(dict(base, city=mixed))["probabilities"],
                                      s.run_columns(dict(base, city=as_text))["probabilities"])
    # the codes themselves: each row's str(), distinct values once
    codes, enc = real(np.array([3, 1, 3, 2]))
    assert [enc[c] for c in codes] == [b"3", b"1", b"3", b"2"] and len(enc) == 3
    codes, enc = real(np.array([True, False, True]))
    assert [enc[c] for c in codes] == [b"True", b"False", b"True"]
    assert real(np.array([0.5, 1.5])) is None and real(np.array([], dtype=str)) is None


def test_pipeline_float64_output():
    """dtype=np.float64: every run_* gives the features as computed, in double (equal to
    scikit-learn's float64 transform to rounding), and dtype=np.float32 (the default) those
    rounded once; other dtypes are refused."""
    model = fit()
    p = aistack.Pipeline(spec_of(model))
    df, _ = make_data(53, 7)
    df.x[4, 1] = np.nan
    want = model.named_steps["pre"].transform(df.x)
    recs = df.records()
    jl = "\n".join(json.dumps(r) for r in recs)
    cols = {"age": df.x[:, 0].astype(float), "income": df.x[:, 1].astype(float),
            "city": df.x[:, 2]}
    runs = {"records": lambda **k: p.run_records(recs, **k),
            "csv": lambda **k: p.run_csv(df.to_csv(), **k),
            "json": lambda **k: p.run_json_rows(jl, **k),
            "columns": lambda **k: p.run_columns(cols, **k)}
    for name, run in runs.items():
        f64, f32 = run(dtype=np.float64), run()
        assert f64.dtype == np.float64 and f32.dtype == np.float32, name
        assert f64.shape == f32.shape == want.shape
        # scikit-learn computes (x - mean) / scale the same way: equal to the last bit or two
        np.testing.assert_allclose(f64, want, rtol=1e-15, atol=1e-15, err_msg=name)
        assert np.array_equal(f64.astype(np.float32), f32), name
        assert not np.array_equal(f64, f32.astype(np.float64)), name
        assert run(dtype="float32").dtype == np.float32
    with pytest.raises(ValueError, match="float32 or float64"):
        p.run_csv(df.to_csv(), dtype=np.int64)
    p.close()


def test_model_without_pipeline_and_bad_width(trained, tmp_path):
    model, ais_path = trained
    spec = spec_of(model)
    spec["features"] = spec["features"][:2]  # width 2, the model takes 6
    with aistack.Model(ais_path) as m:
        with pytest.raises(aistack.ShapeError, match="features per row"):
            m.save(tmp_path / "bad.ais", pipeline=spec)
    df, _ = make_data(3, 1)
    # A model without a pipeline refuses records.
    clf = model.named_steps["clf"]
    onx = skl2onnx.convert_sklearn(clf, initial_types=[("X", FloatTensorType([None, 6]))],
                                   options={id(clf): {"zipmap": False}}, target_opset=17)
    with aistack.Model.from_bytes(onx.SerializeToString()) as m, m.session() as s:
        with pytest.raises(aistack.InvalidArgumentError, match="no feature pipeline"):
            s.run_csv(df.to_csv())
        with pytest.raises(aistack.InvalidArgumentError, match="no feature pipeline"):
            s.run_columns({"age": np.zeros(3)})


def test_cli_runs_csv_rows_to_sklearn_predictions(trained, tmp_path, aistack):
    """The issue's acceptance: `aistack run MODEL.ais --records rows.csv` prints what
    scikit-learn's pipeline predicts for the same raw rows."""
    model, ais_path = trained
    df, _ = make_data(25, 11)
    df.x[4, 0] = np.nan
    rows = tmp_path / "rows.csv"
    rows.write_text(df.to_csv())
    out = aistack("run", ais_path, "--records", rows).stdout.splitlines()
    assert out[0] == "label,probabilities[0],probabilities[1]"
    got = np.array([[float(v) for v in line.split(",")] for line in out[1:]])
    np.testing.assert_array_equal(got[:, 0], model.predict(df.x))
    np.testing.assert_allclose(got[:, 1:], model.predict_proba(df.x), rtol=1e-4, atol=1e-5)
    info = aistack("info", ais_path).stdout
    assert "pipeline: 3 inputs -> 6 features" in info
    bad = tmp_path / "bad.csv"
    bad.write_text("age,income,city\n1,x,oslo\n")
    p = aistack("run", ais_path, "--records", bad, check=False)
    assert p.returncode == 1
    assert 'row 0, field "income": not a number: "x"' in p.stderr


def test_extra_fields(trained, tmp_path):
    """A field that names no input (a misspelled "Age", a header " income") is a SchemaError
    naming the nearest input, from every run_* of Pipeline and Session, unless extra="ignore"
    (per call, or the session's extra_fields setting); a required field left absent names the
    near miss given instead."""
    model, ais_path = trained
    p = aistack.Pipeline(spec_of(model))
    good = {"age": 31.0, "income": 2.5, "city": "rome"}
    typo = {"Age": 31.0, "income": 2.5, "city": good["city"]}
    with pytest.raises(aistack.SchemaError, match='did you mean "age"') as e:
        p.run_records([typo])
    assert (0, "Age") in [q[:2] for q in e.value.problems]
    want = p.run_records([good])
    extra = dict(good, note="x")
    np.testing.assert_array_equal(p.run_records([extra], extra="ignore"), want)
    np.testing.assert_array_equal(
        p.run_records([extra], extra="ignore", dtype=np.float64),
        p.run_records([good], dtype=np.float64))
    with pytest.raises(aistack.InvalidArgumentError, match="extra must be one of"):
        p.run_records([good], extra="drop")
    csv = "age, income,city\n31,2.5,%s\n" % good["city"]
    with pytest.raises(aistack.SchemaError, match='did you mean "income"') as e:
        p.run_csv(csv)
    assert e.value.problems[0][:2] == (-1, " income")
    with pytest.raises(aistack.SchemaError, match="unknown field"):
        p.run_json_rows('{"age": 31, "income": 2.5, "city": "x", "zz": 1}')
    np.testing.assert_array_equal(
        p.run_json_rows('{"age": 31, "income": 2.5, "city": "%s", "zz": 1}' % good["city"],
                        extra="ignore"), want)
    with pytest.raises(aistack.SchemaError, match="unknown field"):
        p.run_columns({"age": np.array([31.0]), "income": np.array([2.5]),
                       "city": np.array([good["city"]]), "zz": np.array([1.0])})
    with aistack.Model(ais_path) as m, m.session() as s:
        w = s.run_records([good])
        with pytest.raises(aistack.SchemaError, match='did you mean "age"'):
            s.run_records([typo])
        for k, v in s.run_records([extra], extra="ignore").items():
            np.testing.assert_array_equal(v, w[k])
        with pytest.raises(aistack.SchemaError, match="unknown field"):
            s.run_csv("age,income,city,zz\n31,2.5,%s,1\n" % good["city"])
        got = s.run_csv("age,income,city,zz\n31,2.5,%s,1\n" % good["city"], extra="ignore")
        np.testing.assert_allclose(got["probabilities"], w["probabilities"], rtol=1e-6)
        # the session's default stays "error" after an ignoring call
        with pytest.raises(aistack.SchemaError):
            s.run_records([extra])
    with aistack.Model(ais_path) as m, m.session(extra_fields="ignore") as s:
        np.testing.assert_array_equal(s.run_records([extra])["probabilities"],
                                      w["probabilities"])
        with pytest.raises(aistack.SchemaError):
            s.run_records([extra], extra="error")
