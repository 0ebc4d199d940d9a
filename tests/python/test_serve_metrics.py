"""GET /metrics of `aistack serve` (issue 16 item 5): the text parses with prometheus_client's
own parser, request counts by model, version, endpoint and code move after requests, latency
histograms are consistent, each served model's run metrics appear under its served name and
version, the drift gauges of a model with a reference profile are computed from the rows the
server answered and move with a shift, and with --api-keys the endpoint needs a key like the
rest."""
import json
import os
import sys

import numpy as np
import pytest
from prometheus_client.parser import text_string_to_metric_families

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from test_serve import KEY, ROWS, curl, log, repo, start, stop  # noqa: E402,F401


def scrape(addr, headers=()):
    code, body = curl(addr, "/metrics", headers=headers)
    assert code == 200, body
    samples = {}
    types = {}
    for fam in text_string_to_metric_families(body.decode()):
        types[fam.name] = fam.type
        for s in fam.samples:
            samples[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return samples, types


def value(samples, name, **labels):
    return samples.get((name, tuple(sorted(labels.items()))), 0.0)


def infer_body(rows=1):
    x = np.full((rows, 64), 0.25, np.float32)
    return json.dumps({"inputs": [{"name": "pixels", "shape": list(x.shape), "datatype": "FP32",
                                   "data": x.ravel().tolist()}]})


@pytest.fixture(scope="module")
def server(tool, repo):  # noqa: F811
    p, addr = start(tool, repo[0])
    yield addr
    stop(p)


def test_metrics_parse_and_move(server):
    before, types = scrape(server)
    assert types["aistack_serve_requests"] == "counter"  # the parser drops _total
    assert types["aistack_serve_request_duration_seconds"] == "histogram"
    assert types["aistack_serve_in_flight"] == "gauge"
    ok = dict(model="digits", version="2", endpoint="infer", code="200")
    n0 = value(before, "aistack_serve_requests_total", **ok)
    for _ in range(3):
        code, body = curl(server, "/v2/models/digits/infer", data=infer_body(2))
        assert code == 200, body
    code, _ = curl(server, "/v2/models/digits/versions/1/infer", data=infer_body())
    assert code == 200
    code, _ = curl(server, "/v2/models/digits/infer", data="{not json")
    assert code == 400
    code, _ = curl(server, "/v2/models/nope/infer", data=infer_body())
    assert code == 404
    after, types = scrape(server)
    assert value(after, "aistack_serve_requests_total", **ok) == n0 + 3
    assert value(after, "aistack_serve_requests_total", model="digits", version="1",
                 endpoint="infer", code="200") >= 1
    assert value(after, "aistack_serve_requests_total", model="digits", version="2",
                 endpoint="infer", code="400") >= 1
    assert value(after, "aistack_serve_requests_total", model="", version="",
                 endpoint="infer", code="404") >= 1
    # the scrape before this one counted itself once it was answered
    assert value(after, "aistack_serve_requests_total", model="", version="",
                 endpoint="metrics", code="200") >= 1
    lab = dict(model="digits", version="2", endpoint="infer")
    cnt = value(after, "aistack_serve_request_duration_seconds_count", **lab)
    inf = value(after, "aistack_serve_request_duration_seconds_bucket", le="+Inf", **lab)
    assert cnt == inf >= 4 and value(after, "aistack_serve_request_duration_seconds_sum", **lab) > 0
    # the /metrics request itself is in flight while it renders
    assert value(after, "aistack_serve_in_flight") >= 1
    # the model's own run metrics, labelled with the served name and version: 3 runs of 2 rows
    # on version 2, one failed parse never reached the model
    assert types["aistack_runs"] == "counter"  # prometheus_client drops the _total suffix
    runs = value(after, "aistack_runs_total", model="digits", version="2")
    rows = value(after, "aistack_rows_total", model="digits", version="2")
    assert runs - value(before, "aistack_runs_total", model="digits", version="2") == 3
    assert rows - value(before, "aistack_rows_total", model="digits", version="2") == 6
    assert value(after, "aistack_runs_total", model="digits", version="1") >= 1
    assert value(after, "aistack_run_duration_seconds_count", model="digits", version="2") == runs


def test_records_counted(server):
    code, body = curl(server, "/v2/models/recs/records", data=ROWS)
    assert code == 200, body
    s, _ = scrape(server)
    assert value(s, "aistack_serve_requests_total", model="recs", version="1", endpoint="records",
                 code="200") >= 1
    assert value(s, "aistack_rows_total", model="recs", version="1") >= 3


def test_metrics_behind_keys(tool, repo):  # noqa: F811
    p, addr = start(tool, repo[0], "--api-keys", repo[1])
    try:
        assert curl(addr, "/metrics")[0] == 401
        s, _ = scrape(addr, headers=[f"X-API-Key: {KEY}"])
        assert value(s, "aistack_serve_requests_total", model="", version="", endpoint="metrics",
                     code="401") == 1
        assert curl(addr, "/metrics", "-X", "POST", headers=[f"X-API-Key: {KEY}"])[0] == 405
    finally:
        stop(p)
    assert '"path": "/metrics"' in log(p)


def test_batch_queue_and_reload_counters(tool, tmp_path):  # noqa: F811
    """The batcher's counters and the repository's reload counts reach /metrics: the queue
    depth gauge while requests wait for a batch and after, rows per batch and requests batched
    for the version that ran them, and reloads by result, shown at 0 from the start."""
    import os
    import shutil
    import threading
    import time
    from test_serve_batch import infer_binary, rowwise_model
    repo = tmp_path / "repo"
    os.makedirs(repo / "rw" / "1")
    rowwise_model(str(repo / "rw" / "1" / "model.onnx"))
    p, addr = start(tool, str(repo), "--max-batch", "16", "--batch-delay-us", "2000000",
                    "--poll-interval", "0.2")
    rw1 = dict(model="rw", version="1")
    try:
        s, types = scrape(addr)
        assert types["aistack_serve_batch_rows"] == "histogram"
        assert types["aistack_serve_queue_depth"] == "gauge"
        assert ("aistack_serve_queue_depth", tuple(sorted(rw1.items()))) in s
        assert value(s, "aistack_serve_queue_depth", **rw1) == 0
        for result in ("ok", "failed"):  # the series exist before the first reload
            key = ("aistack_serve_reloads_total", (("model", "rw"), ("result", result)))
            assert key in s and s[key] == 0, result
        x = np.random.default_rng(3).standard_normal((2, 16)).astype(np.float32)
        ts = [threading.Thread(target=infer_binary, args=(addr, "rw", {"x": (x, "FP32")}))
              for _ in range(3)]
        for t in ts:
            t.start()
        # the three wait in the queue for the 2 s batch delay
        deadline, depth = time.time() + 1.8, 0
        while time.time() < deadline and depth < 3:
            depth = value(scrape(addr)[0], "aistack_serve_queue_depth", **rw1)
            time.sleep(0.05)
        for t in ts:
            t.join(timeout=60)
        assert depth == 3
        s, _ = scrape(addr)
        assert value(s, "aistack_serve_queue_depth", **rw1) == 0
        assert value(s, "aistack_serve_batch_requests_total", **rw1) == 3
        assert value(s, "aistack_serve_batch_rows_count", **rw1) == 1  # one run of 6 rows
        assert value(s, "aistack_serve_batch_rows_sum", **rw1) == 6
        assert value(s, "aistack_serve_batch_rows_bucket", le="4", **rw1) == 0
        assert value(s, "aistack_serve_batch_rows_bucket", le="8", **rw1) == 1
        # a changed file reloaded, then a broken new version: one of each
        dst = str(repo / "rw" / "1" / "model.onnx")
        rowwise_model(dst + ".new", scale=3.0)
        os.rename(dst + ".new", dst)
        os.makedirs(tmp_path / "v2")
        (tmp_path / "v2" / "model.onnx").write_bytes(b"not a model")

        def reloads(result):
            return scrape(addr)[0].get(
                ("aistack_serve_reloads_total", (("model", "rw"), ("result", result))), 0)
        deadline = time.time() + 30
        while time.time() < deadline and reloads("ok") < 1:
            time.sleep(0.05)
        shutil.move(str(tmp_path / "v2"), str(repo / "rw" / "2"))
        while time.time() < deadline and reloads("failed") < 1:
            time.sleep(0.05)
        assert reloads("ok") == 1 and reloads("failed") == 1, log(p)[-2000:]
        # the reloaded version 1 got its own batcher; its gauge is back at 0
        assert value(scrape(addr)[0], "aistack_serve_queue_depth", **rw1) == 0
    finally:
        stop(p)


# ---- drift gauges: a served model with a reference profile (.ais DRIFT section) ----

DRIFT_SPEC = {"version": 1,
              "inputs": [{"name": "age", "type": "numeric", "missing": "allow"},
                         {"name": "city", "type": "categorical"}],
              "features": [{"input": "age", "steps": [{"op": "scale", "kind": "standard",
                                                        "mean": 40, "scale": 10}]},
                           {"input": "city", "steps": [{"op": "onehot", "unknown": "ignore",
                                                         "categories": ["oslo", "rome", "pisa"]}]}]}


def drift_models(d):
    """Two versions' files with reference profiles, metadata name "meta" (not the served one):
    lin.ais, x [rows, 2] -> score (features x[0], x[1], score); recs.ais, raw records (age,
    city) -> 3 features -> score (features age, city, score)."""
    import aistack
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    def scorer(path, k, w):
        g = helper.make_graph(
            [helper.make_node("MatMul", ["x", "w"], ["score"])], "m",
            [helper.make_tensor_value_info("x", TensorProto.FLOAT, [None, k])],
            [helper.make_tensor_value_info("score", TensorProto.FLOAT, [None, 1])],
            [numpy_helper.from_array(np.array(w, np.float32).reshape(k, 1), "w")])
        mp = helper.make_model(g, opset_imports=[helper.make_opsetid("", 13)])
        helper.set_model_props(mp, {"name": "meta", "model_version": "9"})
        onnx.save(mp, path)

    scorer(str(d / "lin.onnx"), 2, [1.0, -0.5])
    with aistack.Model(str(d / "lin.onnx")) as m:
        ref = lin_profile(m, lin_rows(np.random.default_rng(1), 500, 0.0))
        m.save_with_profile(str(d / "lin.ais"), ref)
        ref.close()
    scorer(str(d / "p.onnx"), 4, [1.0, 0.5, -0.5, 0.2])
    with aistack.Model(str(d / "p.onnx")) as m:
        m.save(str(d / "p.ais"), pipeline=DRIFT_SPEC)
    with aistack.Model(str(d / "p.ais")) as m:
        ref = m.profile_of(rec_rows(np.random.default_rng(2), 500, False), seed=1)
        m.save_with_profile(str(d / "recs.ais"), ref)
        ref.close()


def lin_rows(rng, n, shift):
    return (rng.standard_normal((n, 2)) + shift).astype(np.float32)


def lin_profile(m, x):
    """The profile of rows x and the model's scores on them: what the live window holds."""
    import aistack
    p = aistack.Profile()
    for name in ("x[0]", "x[1]", "score"):
        p.add_feature(name, "numeric")
    p.observe("x[0]", x[:, 0])
    p.observe("x[1]", x[:, 1])
    p.observe("score", m.run({"x": x})["score"])
    return p


def rec_rows(rng, n, shift):
    import pandas as pd
    age = rng.normal(40 + 15 * shift, 10, n).round(1)
    p = [0.6, 0.3, 0.1] if not shift else [0.2, 0.3, 0.5]
    return pd.DataFrame({"age": age, "city": rng.choice(["oslo", "rome", "pisa"], n, p=p)})


def drift_gauges(addr, model, version):
    """The drift families of one served version: {family: {feature or "": value}}, plus
    "_models": the (model, version) pairs any drift gauge is labelled with."""
    s, types = scrape(addr)
    for fam in ("aistack_drift_window_rows", "aistack_drift_value", "aistack_drift_threshold",
                "aistack_drift_detected", "aistack_drift_share", "aistack_dataset_drift"):
        assert types.get(fam) == "gauge", (fam, types.get(fam))
    out = {"_models": set()}
    for (name, labels), v in s.items():
        if not name.startswith(("aistack_drift_", "aistack_dataset_drift")):
            continue
        lab = dict(labels)
        out["_models"].add((lab.get("model"), lab.get("version")))
        if lab.get("model") == model and lab.get("version") == version:
            out.setdefault(name, {})[lab.get("feature", "")] = v
    return out


def assert_gauges_equal(g, report, rows):
    """The served gauges are the report computed offline from the rows the server answered."""
    assert g["aistack_drift_window_rows"] == {"": rows}
    feats = report["features"]
    assert sorted(g["aistack_drift_value"]) == sorted(feats)
    for name, f in feats.items():
        assert g["aistack_drift_value"][name] == pytest.approx(f["value"], rel=1e-9, abs=1e-12)
        assert g["aistack_drift_threshold"][name] == pytest.approx(f["threshold"]), name
        assert g["aistack_drift_detected"][name] == float(f["drift"]), name
    assert g["aistack_drift_share"][""] == pytest.approx(report["drift_share"], abs=1e-12)
    assert g["aistack_dataset_drift"][""] == float(report["dataset_drift"])


@pytest.fixture(scope="module")
def drift_repo(tmp_path_factory):
    d = tmp_path_factory.mktemp("drift")
    drift_models(d)
    for name, f in (("lin", "lin.ais"), ("recs", "recs.ais")):
        os.makedirs(d / "repo" / name / "1")
        os.rename(d / f, d / "repo" / name / "1" / "model.ais")
    return d / "repo"


def lin_json(x):
    return json.dumps({"inputs": [{"name": "x", "shape": list(x.shape), "datatype": "FP32",
                                   "data": x.ravel().tolist()}]})


def test_drift_gauges_infer_and_records(tool, drift_repo):  # noqa: F811
    """Unshifted requests (JSON and binary infer, records) give gauges with no dataset drift;
    shifted ones added after them make the same gauges detect it. Each time the gauges equal
    the drift report of exactly the rows the server answered, under the served name and
    version (the model's metadata says "meta", 9)."""
    import aistack
    from test_serve_batch import infer_binary
    p, addr = start(tool, str(drift_repo))
    try:
        rng = np.random.default_rng(7)
        with aistack.Model(str(drift_repo / "lin" / "1" / "model.ais")) as m:
            ref = m.profile
            sent = []
            for shift, ok in ((0.0, False), (1.5, True)):
                for i in range(6):  # 6 x 50 rows, JSON and binary in turn
                    x = lin_rows(rng, 50, shift)
                    if i % 2:
                        infer_binary(addr, "lin", {"x": (x, "FP32")})
                    else:
                        code, body = curl(addr, "/v2/models/lin/infer", data=lin_json(x))
                        assert code == 200, body
                    sent.append(x)
                code, _ = curl(addr, "/v2/models/lin/infer", data="{bad")  # adds nothing
                assert code == 400
                g = drift_gauges(addr, "lin", "1")
                rows = np.concatenate(sent)
                cur = lin_profile(m, rows)
                report = ref.drift(cur)
                cur.close()
                assert report["dataset_drift"] == ok and len(report["features"]) == 3
                assert_gauges_equal(g, report, len(rows))
        with aistack.Model(str(drift_repo / "recs" / "1" / "model.ais")) as m:
            import pandas as pd
            sent = []
            for shift in (False, True):
                for _ in range(3):
                    df = rec_rows(rng, 100, shift)
                    code, body = curl(addr, "/v2/models/recs/records",
                                      data=df.to_json(orient="records", lines=True))
                    assert code == 200, body
                    sent.append(df)
                g = drift_gauges(addr, "recs", "1")
                report = m.drift_report(pd.concat(sent, ignore_index=True))
                assert report["dataset_drift"] == shift
                assert sorted(report["features"]) == ["age", "city", "score"]
                assert_gauges_equal(g, report, 100 * len(sent))
        assert g["_models"] == {("lin", "1"), ("recs", "1")}
    finally:
        stop(p)


def test_drift_gauges_batched(tool, drift_repo):  # noqa: F811
    """With --max-batch the batcher's session fills the window: concurrent requests run in
    batches, and the gauges count every row answered and move with a shift."""
    import aistack
    from test_serve_batch import infer_binary, run_together
    p, addr = start(tool, str(drift_repo), "--max-batch", "64", "--batch-delay-us", "20000")
    try:
        rng = np.random.default_rng(8)
        with aistack.Model(str(drift_repo / "lin" / "1" / "model.ais")) as m:
            ref = m.profile
            sent = []
            for shift, ok in ((0.0, False), (1.5, True)):
                xs = [lin_rows(rng, 25, shift) for _ in range(8)]
                run_together([lambda x=x: infer_binary(addr, "lin", {"x": (x, "FP32")})
                              for x in xs])
                sent += xs
                s, _ = scrape(addr)
                assert value(s, "aistack_serve_batch_requests_total", model="lin",
                             version="1") == len(sent)
                g = drift_gauges(addr, "lin", "1")
                rows = np.concatenate(sent)
                cur = lin_profile(m, rows)
                report = ref.drift(cur)
                cur.close()
                assert report["dataset_drift"] == ok
                assert_gauges_equal(g, report, len(rows))
    finally:
        stop(p)


def test_drift_window_last_rows(tool, drift_repo):  # noqa: F811
    """--drift-window 200 --drift-mode last: the gauges describe the last 200 rows answered, so
    they turn to drift as soon as shifted rows fill the window and back when unshifted ones
    follow (one HTTP thread: one session, one window). Bad values stop the server at start."""
    import subprocess
    import aistack
    for bad in (["--drift-window", str((1 << 20) + 1)], ["--drift-mode", "newest"]):
        r = subprocess.run([tool, "serve", "--model-repository", str(drift_repo), "--port", "0",
                            *bad], capture_output=True, text=True, timeout=60)
        assert r.returncode == 2 and bad[0] in r.stderr, r.stderr
    p, addr = start(tool, str(drift_repo), "--threads", "1", "--drift-window", "200",
                    "--drift-mode", "last")
    try:
        rng = np.random.default_rng(9)
        with aistack.Model(str(drift_repo / "lin" / "1" / "model.ais")) as m:
            ref = m.profile
            for shift, ok in ((0.0, False), (1.5, True), (0.0, False)):
                xs = [lin_rows(rng, 50, shift) for _ in range(4)]
                for x in xs:
                    code, body = curl(addr, "/v2/models/lin/infer", data=lin_json(x))
                    assert code == 200, body
                g = drift_gauges(addr, "lin", "1")
                # the window is exactly this round's 200 rows, the earlier ones pushed out
                cur = lin_profile(m, np.concatenate(xs))
                report = ref.drift(cur)
                cur.close()
                assert report["dataset_drift"] == ok
                assert_gauges_equal(g, report, 200)
    finally:
        stop(p)
