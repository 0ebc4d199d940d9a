"""aistack.spark on PySpark local[2] (mapInPandas over Arrow batches): results equal, bit for bit,
to one single-process Session.run_records (exported scikit-learn pipeline) and Session.run
(XGBoost); each Python worker loads the model once however many batches it scores; rows that
break the schema fail the job with the first bad row's id, or go to the errors output.
Needs a Java runtime (Debian's default-jre-headless, scripts/setup.sh) and pyspark."""
import os
import shutil
import sys

import numpy as np
import pytest

pytest.importorskip("sklearn")
pytest.importorskip("xgboost")
pd = pytest.importorskip("pandas")
pyspark = pytest.importorskip("pyspark")

import scoring_models as sm  # noqa: E402
from aistack import spark as ais_spark  # noqa: E402

if shutil.which("java") is None and not os.environ.get("JAVA_HOME"):
    pytest.fail("no Java runtime: install default-jre-headless (scripts/setup.sh test)")


@pytest.fixture(scope="module")
def spark():
    from pyspark.sql import SparkSession
    sm.worker_env()
    os.environ["PYSPARK_PYTHON"] = sys.executable
    os.environ["PYSPARK_DRIVER_PYTHON"] = sys.executable
    s = (SparkSession.builder.master("local[2]").appName("aistack-test")
         .config("spark.ui.enabled", "false")
         .config("spark.sql.shuffle.partitions", "4")
         .config("spark.sql.execution.arrow.pyspark.enabled", "true")
         .config("spark.sql.execution.arrow.maxRecordsPerBatch", "250")
         .config("spark.driver.memory", "1g")
         .getOrCreate())
    s.sparkContext.setLogLevel("ERROR")
    yield s
    s.stop()


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    d = tmp_path_factory.mktemp("models")
    skl, xg = str(d / "pipe.ais"), str(d / "xgb.json")
    sm.train_sklearn(skl)
    sm.train_xgboost(xg)
    return {"sklearn": skl, "xgb": xg}


def by_id(df):
    return df.sort_values("id").reset_index(drop=True)


def test_records_through_pipeline_equal_run_records(spark, models):
    df = sm.records_frame(2000)
    ref = sm.reference_records(models["sklearn"], df)
    sdf = spark.createDataFrame(df).repartition(3)
    scored = ais_spark.predict(sdf, models["sklearn"], batch_rows=100)
    got = by_id(scored.toPandas())
    assert list(got["id"]) == list(df["id"])
    sm.compare_outputs(got, ref, "spark records")


def test_features_of_plain_xgboost_equal_run(spark, models):
    df = sm.feature_frame(2000)
    ref = sm.reference_features(models["xgb"], df)
    sdf = spark.createDataFrame(df).repartition(2)
    got = by_id(ais_spark.predict(sdf, models["xgb"], row_id="id").toPandas())
    sm.compare_outputs(got, ref, "spark features")


def test_each_python_worker_loads_once(spark, models):
    df = sm.feature_frame(3000)
    sdf = spark.createDataFrame(df).repartition(6)
    sc = ais_spark.scorer(sdf, models["xgb"], row_id="id", batch_rows=50)
    path = sc.path

    def score(batches):  # predict()'s function, reporting the process's cache after each batch
        from aistack import _cache
        for b in batches:
            n = len(sc.score_frame(b)[0])
            i = _cache.info()
            yield pd.DataFrame({"pid": [i["pid"]], "loads": [i["loads_by_path"].get(path, 0)],
                                "rows": [n]})
    info = sdf.mapInPandas(score, "pid long, loads long, rows long").toPandas()
    assert info["rows"].sum() == len(df)
    assert len(info) >= 12  # 3000 rows in Arrow batches of at most 250
    assert (info["loads"] == 1).all(), info  # reused worker processes never load twice
    assert info["pid"].nunique() < len(info)  # processes did score several batches


def bad_frame(n):
    df = sm.records_frame(n)
    df["age"] = [None if np.isnan(v) else repr(float(v)) for v in df["age"]]
    bad = [5, 17, n - 2]
    for r in bad:
        df.loc[r, "age"] = "forty"
    return df, bad


def test_bad_rows_fail_the_job(spark, models):
    df, bad = bad_frame(600)
    sdf = spark.createDataFrame(df).coalesce(1)
    with pytest.raises(Exception) as e:
        ais_spark.predict(sdf, models["sklearn"], row_id="id").collect()
    first = int(df.loc[bad[0], "id"])
    assert f"row {first}:" in str(e.value) and "'age'" in str(e.value), str(e.value)[-2000:]


def test_bad_rows_to_the_errors_output(spark, models):
    df, bad = bad_frame(600)
    sdf = spark.createDataFrame(df).repartition(2)
    pred, err = ais_spark.predict_with_errors(sdf, models["sklearn"], row_id="id")
    err = err.toPandas()
    pred = by_id(pred.toPandas())
    bad_ids = sorted(int(df.loc[r, "id"]) for r in bad)
    assert sorted(err["row_id"].astype(int)) == bad_ids
    assert set(err["field"]) == {"age"}
    assert len(pred) == len(df) - len(bad)
    good = df.drop(index=bad)
    good = good.assign(age=good["age"].astype(np.float64))
    ref = sm.reference_records(models["sklearn"], good)
    sm.compare_outputs(pred, ref, "good rows")
