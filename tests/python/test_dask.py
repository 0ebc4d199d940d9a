"""aistack.dask on a LocalCluster of 2 worker processes: dask.dataframe (raw records through an
exported scikit-learn pipeline; feature columns of an XGBoost model) and dask.array results
equal, bit for bit, to one single-process Session.run_records / Session.run; meta right and the
graph lazy; each worker loads the model once, memory-mapped; rows that break the schema fail the
job with the first bad row's id, or go to the errors output; a worker killed mid-job leaves
every row exactly once."""
import os
import pickle
import signal
import time

import numpy as np
import pytest

pytest.importorskip("sklearn")
pytest.importorskip("xgboost")
dask = pytest.importorskip("dask")
dd = pytest.importorskip("dask.dataframe")
da = pytest.importorskip("dask.array")
distributed = pytest.importorskip("distributed")
pd = pytest.importorskip("pandas")

import scoring_models as sm  # noqa: E402
from scoring_models import aistack  # noqa: E402
from aistack import _cache  # noqa: E402
from aistack import dask as ais_dask  # noqa: E402

N = 3000


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    d = tmp_path_factory.mktemp("models")
    skl = str(d / "pipe.ais")
    sm.train_sklearn(skl)
    xg = str(d / "xgb.json")
    sm.train_xgboost(xg)
    # The same XGBoost model as raw .ais: its weights are memory-mapped by the workers.
    xg_ais = str(d / "xgb.ais")
    with aistack.Model(xg) as m:
        m.save(xg_ais)
    return {"sklearn": skl, "xgb": xg, "xgb_ais": xg_ais}


@pytest.fixture(scope="module")
def client():
    sm.worker_env()
    with distributed.LocalCluster(n_workers=2, threads_per_worker=2, processes=True,
                                  dashboard_address=None, worker_dashboard_address=None) as c, \
            distributed.Client(c) as cl:
        yield cl


def by_id(df):
    return df.sort_values("id").reset_index(drop=True)


def test_records_through_pipeline_equal_run_records(models, client):
    df = sm.records_frame(N)
    ref = sm.reference_records(models["sklearn"], df)
    ddf = dd.from_pandas(df, npartitions=7)
    scored = ais_dask.predict(ddf, models["sklearn"], batch_rows=256)
    got = by_id(scored.compute())
    assert list(got["id"]) == list(df["id"])
    sm.compare_outputs(got, ref, "dask records")
    # the input columns come through untouched
    pd.testing.assert_frame_equal(got[df.columns], df.reset_index(drop=True), check_dtype=False)


def test_meta_matches_result_and_graph_is_lazy(models, client):
    df = sm.records_frame(500)
    ddf = dd.from_pandas(df, npartitions=3)
    before = client.run(lambda: _cache.info()["loads"])
    scored = ais_dask.predict(ddf, models["sklearn"])
    # nothing ran on the workers to build the graph
    assert client.run(lambda: _cache.info()["loads"]) == before
    got = scored.compute()
    assert list(scored.columns) == list(got.columns)
    for c in got.columns:
        assert scored._meta[c].dtype == got[c].dtype, c
    new = [c for c in got.columns if c not in df.columns]
    assert new, "no output columns were appended"
    # the task carries the model's path, not the model: small when pickled
    sc = ais_dask.scorer(ddf, models["sklearn"])
    assert len(pickle.dumps(sc)) < 4096
    assert dask.base.tokenize(sc) == dask.base.tokenize(ais_dask.scorer(ddf, models["sklearn"]))


def test_features_of_plain_xgboost_equal_run(models, client):
    df = sm.feature_frame(N)
    ref = sm.reference_features(models["xgb"], df)
    ddf = dd.from_pandas(df, npartitions=5)
    got = by_id(ais_dask.predict(ddf, models["xgb"], row_id="id", batch_rows=300).compute())
    sm.compare_outputs(got, ref, "dask features")
    # and the .ais copy of the model gives the same bits
    got2 = by_id(ais_dask.predict(ddf, models["xgb_ais"], row_id="id").compute())
    sm.compare_outputs(got2, ref, "dask features (.ais)")


def test_array_equal_run(models, client):
    df = sm.feature_frame(N)
    ref = sm.reference_features(models["xgb_ais"], df)
    x = df.drop(columns="id").to_numpy(np.float32)
    arr = da.from_array(x, chunks=(700, 3))  # chunked across columns too: made whole
    out = ais_dask.predict(arr, models["xgb_ais"], batch_rows=128)
    name = next(iter(ref))
    assert out.dtype == ref[name].dtype
    assert out.shape == ref[name].shape
    sm.assert_same_bits(out.compute(), ref[name], "dask array")


def test_each_worker_loads_once_and_maps_the_weights(models, client):
    path = os.path.realpath(models["xgb_ais"])
    client.run(_cache.clear)
    df = sm.feature_frame(4000)
    ddf = dd.from_pandas(df, npartitions=24)
    ais_dask.predict(ddf, path, row_id="id", batch_rows=100).compute()
    infos = client.run(_cache.info)
    loads = [i["loads"] for i in infos.values()]
    assert sum(loads) >= 1 and max(loads) == 1, infos  # 24 partitions, 2 threads, one load

    def mapped(p):
        with open("/proc/self/maps") as f:
            return any(line.rstrip().endswith(p) for line in f)
    maps = client.run(mapped, path)
    assert any(maps.values()), "no worker maps the model file"
    # a replaced file (new identity) is loaded again, not served from the old mapping
    with aistack.Model(models["xgb"]) as m:
        tmp = path + ".new"
        m.save(tmp)
    os.replace(tmp, path)
    ais_dask.predict(ddf, path, row_id="id").compute()
    loads2 = [i["loads"] for i in client.run(_cache.info).values()]
    assert max(loads2) == 2


def bad_records(n):
    df = sm.records_frame(n)
    df["age"] = df["age"].astype(object)
    bad = [5, 17, n - 2]
    for r in bad:
        df.loc[r, "age"] = "forty"
    return df, bad


def test_bad_rows_fail_with_the_first_bad_row(models, client):
    df, bad = bad_records(400)
    ddf = dd.from_pandas(df, npartitions=4)
    with pytest.raises(aistack.SchemaError) as e:
        ais_dask.predict(ddf, models["sklearn"], row_id="id").compute()
    # the first bad row of whichever partition failed first (5 comes before 17 in the first)
    firsts = [int(df.loc[r, "id"]) for r in (bad[0], bad[2])]
    assert any(f"row {i}:" in str(e.value) for i in firsts), str(e.value)
    assert "'age'" in str(e.value)


def test_bad_rows_to_the_errors_output(models, client):
    df, bad = bad_records(400)
    ddf = dd.from_pandas(df, npartitions=4)
    pred, err = ais_dask.predict_with_errors(ddf, models["sklearn"], row_id="id", batch_rows=64)
    pred, err = dask.compute(pred, err)
    bad_ids = sorted(int(df.loc[r, "id"]) for r in bad)
    assert sorted(err["row_id"].astype(int)) == bad_ids
    assert set(err["field"]) == {"age"}
    assert all(m for m in err["message"])
    assert len(pred) + len(bad) == len(df)
    assert not set(pred["id"]) & set(bad_ids)
    good = df.drop(index=bad)
    good = good.assign(age=good["age"].astype(np.float64))
    ref = sm.reference_records(models["sklearn"], good)
    sm.compare_outputs(by_id(pred), ref, "good rows")


def test_killed_worker_every_row_once(models):
    """One of the 2 worker processes is killed mid-job; the scheduler reruns its tasks and the
    result has each row exactly once, with the single-process predictions."""
    sm.worker_env()
    df = sm.records_frame(6000, seed=5)
    ref = sm.reference_records(models["sklearn"], df)

    def slow(part):  # long enough partitions that the kill lands mid-job
        time.sleep(0.25)
        return part
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                  dashboard_address=None, worker_dashboard_address=None) as c, \
            distributed.Client(c) as client:
        ddf = dd.from_pandas(df, npartitions=30).map_partitions(slow, meta=df.iloc[:0])
        fut = client.compute(ais_dask.predict(ddf, models["sklearn"], batch_rows=500))
        pids = client.run(os.getpid)
        deadline = time.time() + 60
        while not client.run(lambda: _cache.info()["loads"]) or \
                min(client.run(lambda: _cache.info()["loads"]).values()) == 0:
            assert time.time() < deadline, "the workers never started scoring"
            time.sleep(0.05)
        assert not fut.done(), "the job ended before a worker could be killed"
        victim = sorted(pids.values())[0]
        os.kill(victim, signal.SIGKILL)
        got = fut.result(timeout=300)
        assert victim not in client.run(os.getpid).values()
    ids = got["id"].to_numpy()
    assert len(ids) == len(df) and len(np.unique(ids)) == len(df)
    want = df["id"].to_numpy()
    assert int(ids.sum()) == int(want.sum())
    assert int(np.bitwise_xor.reduce(ids * 2654435761 % 2**32)) == \
        int(np.bitwise_xor.reduce(want * 2654435761 % 2**32))
    sm.compare_outputs(by_id(got), ref, "after the kill")
