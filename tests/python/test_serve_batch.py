"""`aistack serve --max-batch ROWS --batch-delay-us US` (issue 16, dynamic batching): concurrent
clients with mixed batch sizes each get exactly their own rows back; requests that differ in
model version, requested outputs or shape are never joined; a request over ROWS runs alone;
SIGTERM finishes what is queued; a request queued past --timeout gets 503. The access log says
which requests ran in a batch ("batch": rows of the run), and the server's last lines carry the
batcher's counters."""
import http.client
import json
import os
import signal
import threading
import time

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper

from test_serve import DIGITS, DTYPES, ROOT, log, reference, sample, start, stop  # noqa: F401
import aistack  # noqa: E402  (test_serve put the binding on the path)


def rowwise_model(path, scale=1.0):
    """Row-independent arithmetic only (no matrix product): Softmax(Relu(x * a + b)) and
    x * a, over [batch, 16]. Its results cannot depend on how many rows a run has, so a
    batched answer must equal the unbatched one bit for bit. scale: another a (another
    version of the model, told apart by its outputs)."""
    a = helper.make_tensor("a", TensorProto.FLOAT, [16],
                           [scale * (0.5 + 0.125 * i) for i in range(16)])
    b = helper.make_tensor("b", TensorProto.FLOAT, [16], [0.25 * i - 1.0 for i in range(16)])
    nodes = [helper.make_node("Mul", ["x", "a"], ["xa"]), helper.make_node("Add", ["xa", "b"], ["z"]),
             helper.make_node("Relu", ["z"], ["r"]), helper.make_node("Softmax", ["r"], ["p"], axis=1),
             helper.make_node("Identity", ["xa"], ["scaled"])]
    g = helper.make_graph(nodes, "rw", [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["n", 16])],
                          [helper.make_tensor_value_info("p", TensorProto.FLOAT, ["n", 16]),
                           helper.make_tensor_value_info("scaled", TensorProto.FLOAT, ["n", 16])], [a, b])
    onnx.save(helper.make_model(g, opset_imports=[helper.make_opsetid("", 13)]), path)


def ids_model(path):
    """x_T -> y_T for every V2 datatype, [batch, 3] (BYTES included)."""
    nodes, ins, outs = [], [], []
    for name, (_, et) in DTYPES.items():
        t = name.lower()
        nodes.append(helper.make_node("Identity", [f"x_{t}"], [f"y_{t}"]))
        ins.append(helper.make_tensor_value_info(f"x_{t}", et, ["batch", 3]))
        outs.append(helper.make_tensor_value_info(f"y_{t}", et, ["batch", 3]))
    onnx.save(helper.make_model(helper.make_graph(nodes, "ids", ins, outs),
                                opset_imports=[helper.make_opsetid("", 13)]), path)


@pytest.fixture(scope="module")
def repo(tmp_path_factory):
    d = tmp_path_factory.mktemp("brepo")
    for v in ("1", "2"):
        os.makedirs(d / "digits" / v)
        with open(DIGITS, "rb") as f, open(d / "digits" / v / "model.onnx", "wb") as g:
            g.write(f.read())
    os.makedirs(d / "rw" / "1")
    rowwise_model(str(d / "rw" / "1" / "model.onnx"))
    os.makedirs(d / "ids" / "1")
    ids_model(str(d / "ids" / "1" / "model.onnx"))
    return str(d)


@pytest.fixture(scope="module")
def server(tool, repo):
    # 100 ms: long enough that requests sent together on a loaded machine (or a sanitizer
    # build) meet in one batch
    p, addr = start(tool, repo, "--max-batch", "32", "--batch-delay-us", "100000")
    yield p, addr
    stop(p)
    text = log(p)
    stats = [json.loads(x) for x in text.splitlines() if x.startswith('{"batcher"')]
    for st in stats:
        # every run counted once in the histogram; nothing timed out
        assert sum(st["batch_rows_le"].values()) == st["batches"] and st["timeouts"] == 0, st
    rw = next(s for s in stats if s["batcher"] == "rw")
    if rw["requests"] > 12:  # the concurrent test ran: more requests than runs means batching
        assert 0 < rw["batches"] < rw["requests"] and rw["queue_depth_max"] >= 2, rw


def post(addr, path, body, headers=None):
    host, port = addr.rsplit(":", 1)
    c = http.client.HTTPConnection(host, int(port), timeout=60)
    c.request("POST", path, body=body, headers=headers or {"Content-Type": "application/json"})
    r = c.getresponse()
    data = r.read()
    hl = r.getheader("Inference-Header-Content-Length")
    c.close()
    return r.status, data, hl


def infer_json(addr, model, feeds, outputs=None, version=None):
    req = {"inputs": [{"name": k, "datatype": dt, "shape": list(v.shape),
                       "data": [s for s in v.ravel()] if dt == "BYTES" else v.tolist()}
                      for k, (v, dt) in feeds.items()]}
    if outputs:
        req["outputs"] = [{"name": o} for o in outputs]
    path = f"/v2/models/{model}" + (f"/versions/{version}" if version else "") + "/infer"
    code, body, _ = post(addr, path, json.dumps(req))
    assert code == 200, body
    return json.loads(body)


def binary_request(feeds):
    """Triton's binary tensor form: (body, JSON header length)."""
    ins, blobs = [], []
    for k, (v, dt) in feeds.items():
        if dt == "BYTES":
            raw = b"".join(len(s.encode()).to_bytes(4, "little") + s.encode() for s in v.ravel())
        else:
            raw = np.ascontiguousarray(v).tobytes()
        ins.append({"name": k, "datatype": dt, "shape": list(v.shape),
                    "parameters": {"binary_data_size": len(raw)}})
        blobs.append(raw)
    head = json.dumps({"inputs": ins, "parameters": {"binary_data_output": True}}).encode()
    return head + b"".join(blobs), len(head)


def infer_binary(addr, model, feeds, prepared=None):
    """Triton's binary tensor form both ways; outputs as numpy arrays by name."""
    req, hlen = prepared or binary_request(feeds)
    code, body, hl = post(addr, f"/v2/models/{model}/infer", req,
                          {"Inference-Header-Content-Length": str(hlen),
                           "Content-Type": "application/octet-stream"})
    assert code == 200, body
    meta = json.loads(body[:int(hl)])
    off, res = int(hl), {}
    for o in meta["outputs"]:
        n = o["parameters"]["binary_data_size"]
        raw = body[off:off + n]
        off += n
        if o["datatype"] == "BYTES":
            vals, i = [], 0
            while i < len(raw):
                ln = int.from_bytes(raw[i:i + 4], "little")
                vals.append(raw[i + 4:i + 4 + ln].decode())
                i += 4 + ln
            res[o["name"]] = np.array(vals, dtype=np.object_).reshape(o["shape"])
        else:
            dt = {v: k for k, v in {np.float32: "FP32", np.float64: "FP64", np.int8: "INT8",
                                     np.int16: "INT16", np.int32: "INT32", np.int64: "INT64",
                                     np.uint8: "UINT8", np.uint16: "UINT16", np.uint32: "UINT32",
                                     np.uint64: "UINT64", np.bool_: "BOOL"}.items()}[o["datatype"]]
            res[o["name"]] = np.frombuffer(raw, dtype=dt).reshape(o["shape"])
    return res


def run_together(fns):
    """Runs the callables at once (a barrier first, so that they reach the queue together);
    re-raises the first failure."""
    errors, bar = [], threading.Barrier(len(fns))

    def wrap(f):
        try:
            bar.wait(timeout=30)
            f()
        except BaseException as e:  # noqa: BLE001
            errors.append(e)
    ts = [threading.Thread(target=wrap, args=(f,)) for f in fns]
    for t in ts:
        t.start()
    for t in ts:
        t.join(timeout=120)
    if errors:
        raise errors[0]


def batched_lines(p, path):
    return [x for x in (json.loads(y) for y in log(p).splitlines() if y.startswith('{"method"'))
            if x["path"] == path and "batch" in x]


def test_concurrent_mixed_sizes_get_their_own_rows_bitwise(server, repo):
    p, addr = server
    rng = np.random.default_rng(7)
    ref_model = aistack.Model(os.path.join(repo, "rw", "1", "model.onnx"))
    xs = [rng.standard_normal((1 + (k * 5) % 11, 16)).astype(np.float32) * 4 for k in range(12)]
    refs = [ref_model.run({"x": x}) for x in xs]

    def client(k):
        def go():
            for rep in range(4):
                if (k + rep) % 2:
                    got = infer_binary(addr, "rw", {"x": (xs[k], "FP32")})
                    for n in ("p", "scaled"):
                        assert got[n].tobytes() == refs[k][n].tobytes(), (k, rep, n)
                else:
                    r = infer_json(addr, "rw", {"x": (xs[k], "FP32")})
                    for o in r["outputs"]:
                        assert o["shape"] == list(xs[k].shape)
                        a = np.array(o["data"], dtype=np.float32).reshape(o["shape"])
                        assert a.tobytes() == refs[k][o["name"]].tobytes(), (k, rep, o["name"])
        return go
    run_together([client(k) for k in range(12)])
    lines = batched_lines(p, "/v2/models/rw/infer")
    # joined runs happened: some answers came from a run with more rows than any one request
    assert max(x["batch"] for x in lines) > 11, lines[:5]


def test_every_dtype_and_bytes_batched_bitwise(server):
    """The identity model, every V2 dtype at once (BYTES too), binary: rows come back in order."""
    p, addr = server
    feeds = [{f"x_{n.lower()}": (sample(n, rows=1 + k % 4, seed=k), n) for n in DTYPES}
             for k in range(8)]
    reqs = [binary_request(f) for f in feeds]  # encoded before the clients start together

    def client(k):
        def go():
            for _ in range(3):
                got = infer_binary(addr, "ids", feeds[k], reqs[k])
                for n in DTYPES:
                    want = feeds[k][f"x_{n.lower()}"][0]
                    g = got[f"y_{n.lower()}"]
                    if n == "BYTES":
                        assert g.tolist() == want.tolist(), k
                    else:
                        assert g.dtype == want.dtype and g.tobytes() == want.tobytes(), (k, n)
        return go
    run_together([client(k) for k in range(8)])
    assert batched_lines(p, "/v2/models/ids/infer")


def test_digits_batched_versions_and_outputs_never_mixed(server):
    """The digits MLP: versions 1 and 2 and two different output requests at once, mixed
    sizes. Each answer has its own version, outputs and rows. The digit must be the unbatched
    one; the probabilities agree to 1 ulp-scale tolerance only: the library's GEMM takes other
    kernels for other row counts (BLAS's GEMV below 4 rows), so a Gemm model's batched run is
    not bit-identical to a run of the request alone (row-independent models are: above)."""
    _, addr = server
    x = np.load(os.path.join(ROOT, "models", "digits", "test_batch.npy")).astype(np.float32)
    parts = [x[i:i + n] for i, n in zip(range(0, 200, 20), (1, 3, 7, 2, 12, 5, 1, 9, 4, 16))]
    refs = [reference(DIGITS, {"pixels": q}) for q in parts]

    def client(k):
        def go():
            outs = ["digit"] if k % 3 == 0 else None
            ver = "1" if k % 2 else None
            r = infer_json(addr, "digits", {"pixels": (parts[k], "FP32")}, outputs=outs,
                           version=ver)
            assert r["model_version"] == (ver or "2")
            names = [o["name"] for o in r["outputs"]]
            assert names == (["digit"] if outs else ["probabilities", "digit"])
            for o in r["outputs"]:
                assert o["shape"][0] == len(parts[k])
                got = np.array(o["data"]).reshape(o["shape"])
                if o["name"] == "digit":
                    assert np.array_equal(got, refs[k]["digit"]), k
                else:
                    np.testing.assert_allclose(got.astype(np.float32), refs[k]["probabilities"],
                                               rtol=1e-5, atol=1e-7)
        return go
    run_together([client(k) for k in range(len(parts))])


def test_larger_than_max_batch_runs_alone(server, repo):
    """100 rows over --max-batch 32: answered at once on the HTTP thread's own session (its
    access log line has no "batch"), the same bits as an in-process run."""
    p, addr = server
    x = np.random.default_rng(1).standard_normal((100, 16)).astype(np.float32)
    ref = aistack.Model(os.path.join(repo, "rw", "1", "model.onnx")).run({"x": x})
    n = len(batched_lines(p, "/v2/models/rw/infer"))
    got = infer_binary(addr, "rw", {"x": (x, "FP32")})
    assert got["p"].tobytes() == ref["p"].tobytes()
    assert len(batched_lines(p, "/v2/models/rw/infer")) == n


def test_sigterm_finishes_queued_requests(tool, repo):
    """Requests waiting for a batch (a 3 s delay) when SIGTERM comes (1 s after they were sent)
    are all answered, then the server exits 0; one batch ran for all of them."""
    p, addr = start(tool, repo, "--max-batch", "64", "--batch-delay-us", "3000000")
    x = np.random.default_rng(2).standard_normal((2, 16)).astype(np.float32)
    ref = aistack.Model(os.path.join(repo, "rw", "1", "model.onnx")).run({"x": x})
    results = []

    def client():
        results.append(infer_binary(addr, "rw", {"x": (x, "FP32")}))
    ts = [threading.Thread(target=client) for _ in range(4)]
    for t in ts:
        t.start()
    time.sleep(1.0)
    p.send_signal(signal.SIGTERM)
    for t in ts:
        t.join(timeout=60)
    assert p.wait(timeout=30) == 0, log(p)
    assert len(results) == 4 and all(r["p"].tobytes() == ref["p"].tobytes() for r in results)
    st = next(json.loads(y) for y in log(p).splitlines() if y.startswith('{"batcher": "rw"'))
    assert st["requests"] == 4 and st["batches"] == 1 and st["rows"] == 8, st


def test_queued_past_timeout_gets_503(tool, repo):
    """A batch delay longer than --timeout: the request is answered 503, not held forever."""
    p, addr = start(tool, repo, "--max-batch", "8", "--batch-delay-us", "2500000", "--timeout", "1")
    try:
        x = np.zeros((1, 16), np.float32)
        req = {"inputs": [{"name": "x", "datatype": "FP32", "shape": [1, 16], "data": x.tolist()}]}
        code, body, _ = post(addr, "/v2/models/rw/infer", json.dumps(req))
        assert code == 503 and b"timed out" in body, body
    finally:
        stop(p)
    st = next(json.loads(y) for y in log(p).splitlines() if y.startswith('{"batcher": "rw"'))
    assert st["timeouts"] == 1


def test_reload_while_requests_wait_in_the_batch_queue(tool, tmp_path):
    """The batcher lives with a model version: requests queued on version 1 when a SIGHUP
    replaces its file (and a broken version 2 appears) are answered by the old version's
    batcher, with the old weights, after the swap; requests sent after it go to the new
    version's own batcher. The old batcher's counters are logged when its version is freed,
    that is once its queue is answered, before the server stops."""
    import shutil
    repo = tmp_path / "repo"
    os.makedirs(repo / "rw" / "1")
    rowwise_model(str(repo / "rw" / "1" / "model.onnx"))
    new_file = str(tmp_path / "rw2.onnx")
    rowwise_model(new_file, scale=2.0)
    x = np.random.default_rng(5).standard_normal((2, 16)).astype(np.float32)
    ref_old = aistack.Model(str(repo / "rw" / "1" / "model.onnx")).run({"x": x})
    ref_new = aistack.Model(new_file).run({"x": x})
    assert ref_old["p"].tobytes() != ref_new["p"].tobytes()
    prepared = binary_request({"x": (x, "FP32")})
    p, addr = start(tool, str(repo), "--max-batch", "64", "--batch-delay-us", "2000000")
    old_results, new_results = [], []

    def client(out):
        req, hlen = prepared
        code, body, hl = post(addr, "/v2/models/rw/infer", req,
                              {"Inference-Header-Content-Length": str(hlen),
                               "Content-Type": "application/octet-stream"})
        meta = json.loads(body[:int(hl)]) if code == 200 else {}
        got = {}
        off = int(hl) if code == 200 else 0
        for o in meta.get("outputs", []):
            n = o["parameters"]["binary_data_size"]
            got[o["name"]] = body[off:off + n]
            off += n
        out.append((code, meta.get("model_version"), got, body if code != 200 else b""))

    def events(event):
        return [e for e in (json.loads(y) for y in log(p).splitlines() if y.startswith('{"event"'))
                if e["event"] == event]
    try:
        olds = [threading.Thread(target=client, args=(old_results,)) for _ in range(4)]
        for t in olds:
            t.start()
        time.sleep(0.4)  # queued on version 1 (the batch waits 2 s)
        dst = repo / "rw" / "1" / "model.onnx"
        shutil.copyfile(new_file, str(dst) + ".new")
        os.rename(str(dst) + ".new", dst)
        os.makedirs(tmp_path / "v2")
        (tmp_path / "v2" / "model.onnx").write_bytes(b"not a model")
        os.rename(tmp_path / "v2", repo / "rw" / "2")
        p.send_signal(signal.SIGHUP)
        t_end = time.time() + 30
        while time.time() < t_end and not (events("model_reloaded") and events("model_load_failed")):
            time.sleep(0.02)
        assert events("model_reloaded") and events("model_load_failed"), log(p)
        # the swap happened while the old requests were still waiting in the queue
        assert not old_results, old_results
        news = [threading.Thread(target=client, args=(new_results,)) for _ in range(2)]
        for t in news:
            t.start()
        for t in olds + news:
            t.join(timeout=60)
        text_before_stop = log(p)
    finally:
        stop(p)
    assert len(old_results) == 4 and len(new_results) == 2, (old_results, new_results)
    for code, version, got, err in old_results:
        assert code == 200 and version == "1", err
        assert got["p"] == ref_old["p"].tobytes() and got["scaled"] == ref_old["scaled"].tobytes()
    for code, version, got, err in new_results:
        assert code == 200 and version == "1", err
        assert got["p"] == ref_new["p"].tobytes() and got["scaled"] == ref_new["scaled"].tobytes()
    # the old version's batcher was stopped and freed once its queue was answered, while the
    # server still ran; the new one's at exit
    old_st = [json.loads(y) for y in text_before_stop.splitlines() if y.startswith('{"batcher": "rw"')]
    assert len(old_st) == 1 and old_st[0]["requests"] == 4 and old_st[0]["rows"] == 8, old_st
    all_st = [json.loads(y) for y in log(p).splitlines() if y.startswith('{"batcher": "rw"')]
    assert len(all_st) == 2 and all_st[1]["requests"] == 2 and all_st[1]["rows"] == 4, all_st
    assert len(batched_lines(p, "/v2/models/rw/infer")) == 6


def test_batch_options_checked(tool, repo):
    import subprocess
    r = subprocess.run([tool, "serve", "--model-repository", repo, "--batch-delay-us", "5"],
                       capture_output=True, text=True, timeout=30)
    assert r.returncode == 2 and "--max-batch" in r.stderr
