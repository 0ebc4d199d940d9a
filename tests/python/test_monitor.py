"""Monitoring through the Python binding (issue 15 items 1-2): the Prometheus text of a monitor
parses with the official prometheus_client parser (pinned in tests/requirements.txt) into the
families, types, labels and values the runs made; label values with quotes, backslashes and
newlines round-trip; model.monitor counts per session and per model."""
import os
import sys
import threading

import numpy as np
import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(ROOT, "bindings", "python"))
import aistack  # noqa: E402

from monitor_util import SPEC, frame, scorer_model  # noqa: E402
from prometheus_client.parser import text_string_to_metric_families  # noqa: E402

DIGITS = os.path.join(ROOT, "models", "digits_mlp.onnx")


def families(text):
    return {f.name: f for f in text_string_to_metric_families(text)}


def samples(fam, name):
    return [s for s in fam.samples if s.name == name]


def test_prometheus_parses_with_prometheus_client():
    buckets = [1e-9, 0.001, 0.1, 10]
    mon = aistack.Monitor(latency_buckets=buckets)
    rng = np.random.default_rng(1)
    with aistack.Model(DIGITS, monitor=mon) as m:
        sessions = [m.session() for _ in range(3)]
        rows = 0

        def work(s, k):
            for i in range(20):
                s.run({"pixels": rng.random((1 + (i + k) % 3, 64), dtype=np.float32)})

        for i in range(20):
            for k in range(3):
                rows += 1 + (i + k) % 3
        threads = [threading.Thread(target=work, args=(s, k)) for k, s in enumerate(sessions)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        with pytest.raises(aistack.ShapeError):
            sessions[0].run({"pixels": np.zeros((2, 7), np.float32)})
        text = mon.prometheus()
        fams = families(text)
        # prometheus_client strips the _total suffix from counter family names
        assert fams["aistack_runs"].type == "counter"
        assert fams["aistack_run_duration_seconds"].type == "histogram"
        assert fams["aistack_in_flight"].type == "gauge"
        run = samples(fams["aistack_runs"], "aistack_runs_total")
        assert len(run) == 1 and run[0].value == 61
        assert run[0].labels == {"model": m.metadata.get("name", ""),
                                 "version": m.metadata.get("model_version", "")}
        assert samples(fams["aistack_rows"], "aistack_rows_total")[0].value == rows
        err = samples(fams["aistack_errors"], "aistack_errors_total")
        assert [(s.labels["status"], s.value) for s in err] == [("AIS_E_SHAPE", 1)]
        assert samples(fams["aistack_input_bytes"], "aistack_input_bytes_total")[0].value == \
            (rows * 64 + 2 * 7) * 4
        hist = fams["aistack_run_duration_seconds"]
        b = samples(hist, "aistack_run_duration_seconds_bucket")
        les = [s.labels["le"] for s in b]
        assert [float(x) for x in les[:-1]] == buckets and les[-1] == "+Inf"
        counts = [s.value for s in b]
        assert counts == sorted(counts)  # cumulative
        assert counts[0] == 0  # nothing runs in a nanosecond
        count = samples(hist, "aistack_run_duration_seconds_count")[0].value
        total = samples(hist, "aistack_run_duration_seconds_sum")[0].value
        assert count == counts[-1] == 61
        assert 0 < total == pytest.approx(mon.metric("latency_ns") * 1e-9, rel=1e-6)
        # per session: the shard of one session, while the others keep counting theirs
        assert sum(s.metric("runs") for s in sessions) == 61
        for s in sessions:
            s.close()
    # the counts outlive the sessions and the model
    assert mon.metric("runs") == 61
    assert mon.metrics()["errors"] == 1
    mon.close()


def test_labels_escaped(tmp_path):
    import onnx
    from onnx import TensorProto, helper
    g = helper.make_graph([helper.make_node("Relu", ["x"], ["y"])], "g",
                          [helper.make_tensor_value_info("x", TensorProto.FLOAT, [None, 2])],
                          [helper.make_tensor_value_info("y", TensorProto.FLOAT, [None, 2])])
    mp = helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)])
    weird = 'a "quoted" \\ name\nwith a newline'
    helper.set_model_props(mp, {"name": weird, "model_version": "7"})
    path = str(tmp_path / "weird.onnx")
    onnx.save(mp, path)
    with aistack.Model(path) as m:
        if m.metadata.get("name") != weird:
            pytest.fail(f"the ONNX metadata name did not arrive: {m.metadata}")
        m.run({"x": np.ones((3, 2), np.float32)})
        fams = families(m.monitor.prometheus())
        s = samples(fams["aistack_runs"], "aistack_runs_total")[0]
        assert s.labels == {"model": weird, "version": "7"}
        assert m.monitor.metric("rows", model=weird) == 3
        assert m.monitor.metric("rows", model="other") == 0


def test_metrics_off_and_bad_buckets():
    with pytest.raises(aistack.InvalidArgumentError):
        aistack.Monitor(latency_buckets=[0.1, 0.01])
    with pytest.raises(aistack.InvalidArgumentError):
        aistack.Monitor(latency_buckets=[float("nan")])
    with aistack.Model(DIGITS, monitor=False) as m:
        assert m.monitor is None
        m.run({"pixels": np.zeros((1, 64), np.float32)})
    with aistack.Model(DIGITS) as m:
        with m.session(metrics=0) as s:
            s.run({"pixels": np.zeros((1, 64), np.float32)})
            with pytest.raises(aistack.NotFoundError):
                s.metric("runs")
        assert m.monitor.metric("runs") == 0
        with pytest.raises(aistack.InvalidArgumentError):
            m.monitor.metric("nonsense")


def test_request_log_lines_parse(tmp_path):
    import json
    path = tmp_path / "requests.jsonl"
    mon = aistack.Monitor(request_log=str(path))
    with aistack.Model(DIGITS, monitor=mon) as m:
        x = np.random.default_rng(0).random((2, 64), dtype=np.float32)
        for _ in range(5):
            out = m.run({"pixels": x})
        mon.flush()
        lines = path.read_text().splitlines()
        assert len(lines) == 5
        rec = json.loads(lines[-1])
        assert rec["status"] == "AIS_OK" and rec["rows"] == 2 and rec["latency_ms"] > 0
        assert rec["inputs"][0]["shape"] == [2, 64]
        assert np.allclose(rec["inputs"][0]["values"][:64], x[0], rtol=1e-6)
        got = {o["dtype"]: o for o in rec["outputs"]}
        assert np.allclose(got["f32"]["values"], out["probabilities"].ravel(), rtol=1e-6)
    assert mon.metric("log_dropped") == 0
    with pytest.raises(aistack.InvalidArgumentError):
        aistack.Monitor(request_log=str(path), sample_rate=0)


# ---- live drift windows (AIS_OPT_DRIFT_WINDOW): sessions fill them from their own calls ----

@pytest.fixture(scope="module")
def live_model(tmp_path_factory):
    """A 4-feature linear scorer behind SPEC, with a reference profile of 800 records:
    features age, city (raw pipeline inputs), score (numeric) and label (class) predictions."""
    import onnx
    from onnx import helper
    d = tmp_path_factory.mktemp("live")
    mp = scorer_model()
    helper.set_model_props(mp, {"name": "scorer", "model_version": "3"})
    onnx.save(mp, str(d / "m.onnx"))
    with aistack.Model(str(d / "m.onnx")) as m:
        m.save(str(d / "plain.ais"), pipeline=SPEC)
    with aistack.Model(str(d / "plain.ais")) as m:
        ref = m.profile_of(frame(np.random.default_rng(5), 800, False), seed=1)
        m.save_with_profile(str(d / "m.ais"), ref)
        ref.close()
    return str(d / "m.ais")


def assert_same_report(live, offline):
    assert live["dataset_drift"] == offline["dataset_drift"]
    assert live["drift_share"] == pytest.approx(offline["drift_share"], abs=1e-12)
    assert sorted(live["features"]) == sorted(offline["features"]) == \
        ["age", "city", "label", "score"]
    for name, f in offline["features"].items():
        g = live["features"][name]
        assert (g["kind"], g["method"], g["threshold"], g["drift"]) == \
            (f["kind"], f["method"], f["threshold"], f["drift"]), name
        assert g["value"] == pytest.approx(f["value"], rel=1e-9, abs=1e-12), name


@pytest.mark.parametrize("shift", [False, True])
def test_live_window_equals_drift_report(live_model, shift):
    """Records run through sessions land in their windows: the live report equals the offline
    drift_report of the same records (whose values match Evidently, test_monitor_cli.py)."""
    rng = np.random.default_rng(11)
    df = frame(rng, 300, shift)
    with aistack.Model(live_model, drift_window=1000) as m:
        with pytest.raises(aistack.NotFoundError):
            m.monitor.drift()  # no session yet: no window to compare
        with m.session() as s:
            fresh = s.drift()  # an empty window: every feature skipped, none reported
            assert fresh["features"] == {} and not fresh["dataset_drift"]
            for lo in range(0, 300, 37):  # records, JSON lines and columns feed it alike
                part = df.iloc[lo:lo + 37]
                if lo % 3 == 0:
                    s.run_records(part)
                elif lo % 3 == 1:
                    s.run_json_rows(part.to_json(orient="records", lines=True))
                else:
                    s.run_columns({c: part[c].to_numpy() for c in part.columns})
            assert s.metric("window_rows") == 300
            live = s.drift()
            offline = m.drift_report(df)
            assert_same_report(live, offline)
            assert live["dataset_drift"] == shift
            assert_same_report(m.monitor.drift("scorer"), offline)
            fams = families(m.monitor.prometheus())
            rows = samples(fams["aistack_drift_window_rows"], "aistack_drift_window_rows")
            assert [(r.labels, r.value) for r in rows] == \
                [({"model": "scorer", "version": "3"}, 300)]
            vals = {(x.labels["feature"], x.labels["method"]): x.value
                    for x in samples(fams["aistack_drift_value"], "aistack_drift_value")}
            assert vals == {(k, f["method"]): pytest.approx(f["value"], rel=1e-9, abs=1e-12)
                            for k, f in offline["features"].items()}
            det = samples(fams["aistack_dataset_drift"], "aistack_dataset_drift")
            assert det[0].value == float(shift)


def test_live_window_last_rows_and_off(live_model):
    rng = np.random.default_rng(12)
    before, after = frame(rng, 400, False), frame(rng, 150, True)
    with aistack.Model(live_model, drift_window=150, drift_window_mode=1) as m:
        with m.session() as s:
            s.run_records(before)
            s.run_records(after)
            assert s.metric("window_rows") == 150
            assert_same_report(s.drift(), m.drift_report(after))
        with m.session(drift_window=0) as s:
            s.run_records(after)
            with pytest.raises(aistack.NotFoundError):
                s.drift()
    with aistack.Model(DIGITS) as m:  # no reference profile
        with m.session() as s:
            with pytest.raises(aistack.NotFoundError):
                s.drift()
