"""GET /metrics of `aistack serve` (issue 16 item 5): the text parses with prometheus_client's
own parser, request counts by model, version, endpoint and code move after requests, latency
histograms are consistent, each served model's run metrics appear under its served name and
version, and with --api-keys the endpoint needs a key like the rest."""
import json
import os
import sys

import numpy as np
import pytest
from prometheus_client.parser import text_string_to_metric_families

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from test_serve import KEY, ROWS, curl, log, repo, start, stop, tool  # noqa: E402,F401


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
