"""python -m aistack.score: CSV and Parquet files scored on a Dask cluster (its own LocalCluster
and one given with --scheduler), predictions equal to a single-process run_records bit for bit,
the summary's counts; a bad row fails the job with its line, or goes to --errors."""
import json
import os
import subprocess
import sys

import numpy as np
import pytest

pytest.importorskip("sklearn")
pytest.importorskip("dask")
distributed = pytest.importorskip("distributed")
pd = pytest.importorskip("pandas")

import scoring_models as sm  # noqa: E402


@pytest.fixture(scope="module")
def model(tmp_path_factory):
    path = str(tmp_path_factory.mktemp("m") / "pipe.ais")
    sm.train_sklearn(path)
    return path


def run_score(*args, timeout=300):
    sm.worker_env()
    p = subprocess.run([sys.executable, "-m", "aistack.score", *map(str, args)],
                       capture_output=True, text=True, timeout=timeout, env=os.environ.copy())
    return p


def write_csvs(d, frames):
    d.mkdir(exist_ok=True)
    for i, df in enumerate(frames):
        df.to_csv(d / f"part{i}.csv", index=False)


def read_back(out, n, fmt="csv"):
    parts = [pd.read_csv(out / f"part{i}.csv") if fmt == "csv"
             else pd.read_parquet(out / f"part{i}.parquet") for i in range(n)]
    return pd.concat(parts).sort_values("id").reset_index(drop=True)


def test_csv_files_on_own_cluster(model, tmp_path):
    frames = [sm.records_frame(700, seed=s).assign(id=lambda d, s=s: d["id"] + s * 10**6)
              for s in range(3)]
    write_csvs(tmp_path / "data", frames)
    out = tmp_path / "out"
    p = run_score(model, str(tmp_path / "data" / "*.csv"), "--output", out, "--workers", "2",
                  "--batch-rows", "100", "--chunk-rows", "250")
    assert p.returncode == 0, p.stderr
    assert "[3/3 files]" in p.stderr and "rows/s" in p.stderr
    summary = json.loads((out / "_summary.json").read_text())
    assert summary["rows"] == summary["ok"] == 2100 and summary["failed"] == 0
    assert summary["files"] == 3 and summary["complete"]
    got = read_back(out, 3)
    # the reference reads the same CSV text, so both see the same doubles
    src = pd.concat([pd.read_csv(tmp_path / "data" / f"part{i}.csv") for i in range(3)])
    src = src.sort_values("id").reset_index(drop=True)
    ref = sm.reference_records(model, src)
    assert list(got["id"]) == list(src["id"])
    for name, want in ref.items():
        want = np.asarray(want).reshape(len(got), -1)
        cols = [name] if want.shape[1] == 1 else [f"{name}_{j}" for j in range(want.shape[1])]
        for j, c in enumerate(cols):
            # CSV holds the shortest repr of each value: it reads back to the same bits
            sm.assert_same_bits(got[c].to_numpy().astype(want.dtype), want[:, j], c)


def bad_frames():
    frames = [sm.records_frame(300, seed=s).assign(id=lambda d, s=s: d["id"] + s * 10**6)
              for s in range(2)]
    frames[1]["age"] = frames[1]["age"].astype(object)
    frames[1].loc[10, "age"] = "old"
    frames[1].loc[200, "age"] = "older"
    return frames


def test_bad_row_fails_the_job_by_default(model, tmp_path):
    write_csvs(tmp_path / "data", bad_frames())
    p = run_score(model, str(tmp_path / "data" / "*.csv"), "--output", tmp_path / "out",
                  "--workers", "1")
    assert p.returncode == 1
    # row 10 of the frame is line 12 of part1.csv (line 1 is the header)
    assert "part1.csv" in p.stderr and "row 12" in p.stderr and "'age'" in p.stderr, p.stderr
    assert not json.loads((tmp_path / "out" / "_summary.json").read_text())["complete"]


def test_bad_rows_to_errors_with_scheduler(model, tmp_path):
    frames = bad_frames()
    write_csvs(tmp_path / "data", frames)
    sm.worker_env()
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                  dashboard_address=None) as c:
        p = run_score(model, str(tmp_path / "data" / "part*.csv"), "--output", tmp_path / "out",
                      "--errors", tmp_path / "err", "--row-id", "id",
                      "--scheduler", c.scheduler_address)
    assert p.returncode == 0, p.stderr
    summary = json.loads((tmp_path / "out" / "_summary.json").read_text())
    assert summary["rows"] == 600 and summary["failed"] == 2 and summary["ok"] == 598
    err = pd.read_csv(tmp_path / "err" / "part1.errors.csv")
    assert sorted(err["row_id"]) == sorted(frames[1]["id"].iloc[[10, 200]])
    assert set(err["field"]) == {"age"}
    assert len(pd.read_csv(tmp_path / "err" / "part0.errors.csv")) == 0
    got = read_back(tmp_path / "out", 2)
    assert len(got) == 598 and not set(got["id"]) & set(err["row_id"])


def test_parquet(model, tmp_path):
    pytest.importorskip("pyarrow")
    d = tmp_path / "data"
    d.mkdir()
    frames = [sm.records_frame(500, seed=s).assign(id=lambda d, s=s: d["id"] + s * 10**6)
              for s in range(2)]
    for i, df in enumerate(frames):
        df.to_parquet(d / f"part{i}.parquet", index=False)
    out = tmp_path / "out"
    p = run_score(model, str(d / "*.parquet"), "--output", out, "--workers", "2",
                  "--chunk-rows", "128")
    assert p.returncode == 0, p.stderr
    got = read_back(out, 2, "parquet")
    src = pd.concat(frames).sort_values("id").reset_index(drop=True)
    ref = sm.reference_records(model, src)
    sm.compare_outputs(got, ref, "parquet")
