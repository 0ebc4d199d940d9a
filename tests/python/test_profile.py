"""Profiling (issue 11 item 6): Session.profile() over AIS_OPT_PROFILE, and `aistack bench`
(load time, latency percentiles, throughput; with --profile the time per operator type and per
node)."""
import os
import re

import numpy as np
import pytest

import aistack

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
DIGITS = os.path.join(ROOT, "models", "digits_mlp.onnx")


def test_session_profile_counts_runs_and_nodes():
    rng = np.random.default_rng(0)
    with aistack.Model(DIGITS) as m, m.session(threads=1, profile=True) as s:
        p = s.profile()
        assert p["runs"] == 0 and p["total_ns"] == 0
        assert all(n["calls"] == 0 and n["total_ns"] == 0 for n in p["nodes"])
        for _ in range(5):
            s.run({"pixels": rng.random((3, 64), dtype=np.float32)})
        p = s.profile()
        assert p["runs"] == 5
        assert [(n["name"], n["op_type"], n["backend"]) for n in p["nodes"]] == s.nodes
        assert all(n["calls"] == 5 and n["total_ns"] > 0 for n in p["nodes"])
        assert 0 < sum(n["total_ns"] for n in p["nodes"]) <= p["total_ns"]
        s.profile_reset()
        p = s.profile()
        assert p["runs"] == 0 and all(n["calls"] == 0 for n in p["nodes"])
        s.run({"pixels": rng.random((1, 64), dtype=np.float32)})
        assert s.profile()["runs"] == 1


def test_profile_needs_the_option():
    with aistack.Model(DIGITS) as m, m.session() as s:
        with pytest.raises(aistack.InvalidArgumentError, match="AIS_OPT_PROFILE"):
            s.profile()
        with pytest.raises(aistack.InvalidArgumentError):
            s.profile_reset()


def _bench_fields(out):
    lat = re.search(r"latency ms: mean (\S+)\s+p50 (\S+)\s+p90 (\S+)\s+p99 (\S+)\s+min (\S+)"
                    r"\s+max (\S+)", out)
    assert lat, out
    return [float(x) for x in lat.groups()]


def test_aistack_bench(aistack, tmp_path):
    p = aistack("bench", DIGITS, "--runs", 30, "--warmup", 2, "--threads", 1)
    out = p.stdout
    assert re.search(r"^load: \d+\.\d+ ms \(model \d+\.\d+ ms, session \d+\.\d+ ms\)", out, re.M), out
    assert "runs: 30 after 2 warm-ups" in out
    mean, p50, p90, p99, lo, hi = _bench_fields(out)
    assert 0 < lo <= p50 <= p90 <= p99 <= hi and lo <= mean <= hi
    thr = re.search(r"throughput: (\S+) runs/s, (\S+) items/s \(batch 1", out)
    assert thr and float(thr.group(1)) > 0, out
    assert "profile:" not in out and "threads: 1" in out


def test_aistack_bench_profile(aistack, tmp_path):
    x = tmp_path / "pixels.npy"
    np.save(x, np.random.default_rng(1).random((4, 64), dtype=np.float32))
    out = aistack("bench", DIGITS, "--runs", 25, "--warmup", 3, "--profile", "--top", 3,
                  "--input", f"pixels={x}").stdout
    assert "(batch 4:" in out
    m = re.search(r"profile: 25 runs, (\S+) ms per run; the nodes account for (\S+) ms per run "
                  r"\((\S+)%\)", out)
    assert m, out
    assert float(m.group(2)) <= float(m.group(1)) and float(m.group(3)) <= 100.0
    n_nodes, n_ops = _digits_nodes()
    assert re.search(rf"by operator type \(the {min(3, n_ops)} first of {n_ops}\)", out), out
    assert re.search(rf"by node \(the {min(3, n_nodes)} first of {n_nodes}\)", out), out
    node_part = out.split("by node")[1].splitlines()[2:]
    rows = [ln.split() for ln in node_part if ln.strip()]
    assert len(rows) == 3
    ms = [float(r[-2]) for r in rows]
    assert ms == sorted(ms, reverse=True)  # the most expensive first
    assert all(r[-3] == "1.0" and r[-4] == "cpu" for r in rows)  # one call per run each


def _digits_nodes():
    """(node count, operator-type count) of the digits model after optimization."""
    with aistack.Model(DIGITS) as m, m.session() as s:
        nodes = s.nodes
    return len(nodes), len({op for _, op, _ in nodes})


def test_aistack_bench_errors(aistack, tmp_path):
    p = aistack("bench", DIGITS, "--input", "nope=x.npy", check=False)
    assert p.returncode == 2 and "no input 'nope'" in p.stderr
    p = aistack("bench", DIGITS, "--runs", 0, check=False)
    assert p.returncode == 2 and "--runs" in p.stderr
    p = aistack("bench", DIGITS, "--frobnicate", check=False)
    assert p.returncode == 2
    p = aistack("bench", str(tmp_path / "missing.onnx"), check=False)
    assert p.returncode == 1 and "missing.onnx" in p.stderr
    assert "--profile" in aistack("help", "bench").stdout
