"""`aistack serve` (issue 16) against the real clients: tritonclient.http (Triton's own Python
client, binary tensors by default) and curl (JSON tensors), on a server started on 127.0.0.1
with --port 0 by each test module. Outputs are compared bit for bit with an in-process run
through the Python binding; hostile requests must get a 4xx and leave the server serving."""
import hashlib
import json
import os
import signal
import socket
import subprocess
import sys
import time

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(ROOT, "bindings", "python"))
if "AISTACK_LIBRARY" not in os.environ and os.environ.get("AIS_AISTACK"):
    cand = os.path.join(os.path.dirname(os.path.dirname(os.environ["AIS_AISTACK"])), "libaistack.so")
    if os.path.exists(cand):
        os.environ["AISTACK_LIBRARY"] = cand
import aistack  # noqa: E402
from serve_util import log, start, stop  # noqa: E402,F401  (test_serve_* import them from here too)

DIGITS = os.path.join(ROOT, "models", "digits_mlp.onnx")
KEY = "s3cret-key-\u00e9"  # non-ASCII on purpose: the file is UTF-8, the header bytes are too
KEY2 = "second-key"
KEY3 = "k" * 61  # over 55 bytes: SHA-256's padding spills into a second block

# V2 datatype -> (numpy dtype, ONNX element type)
DTYPES = {
    "FP32": (np.float32, TensorProto.FLOAT), "FP64": (np.float64, TensorProto.DOUBLE),
    "INT8": (np.int8, TensorProto.INT8), "INT16": (np.int16, TensorProto.INT16),
    "INT32": (np.int32, TensorProto.INT32), "INT64": (np.int64, TensorProto.INT64),
    "UINT8": (np.uint8, TensorProto.UINT8), "UINT16": (np.uint16, TensorProto.UINT16),
    "UINT32": (np.uint32, TensorProto.UINT32), "UINT64": (np.uint64, TensorProto.UINT64),
    "BOOL": (np.bool_, TensorProto.BOOL), "BYTES": (np.object_, TensorProto.STRING),
}


def identity_model(path):
    """One Identity per V2 datatype: x_T -> y_T, shape [batch, 3]."""
    nodes, ins, outs = [], [], []
    for name, (_, et) in DTYPES.items():
        t = name.lower()
        nodes.append(helper.make_node("Identity", [f"x_{t}"], [f"y_{t}"]))
        ins.append(helper.make_tensor_value_info(f"x_{t}", et, ["batch", 3]))
        outs.append(helper.make_tensor_value_info(f"y_{t}", et, ["batch", 3]))
    g = helper.make_graph(nodes, "ids", ins, outs)
    onnx.save(helper.make_model(g, opset_imports=[helper.make_opsetid("", 13)]), path)


SPEC = {"version": 1,
        "inputs": [{"name": "age", "type": "numeric", "missing": "error"},
                   {"name": "city", "type": "categorical", "missing": "allow"}],
        "features": [{"input": "age", "steps": [{"op": "scale", "kind": "standard",
                                                  "mean": 40.0, "scale": 12.5}]},
                     {"input": "city", "steps": [{"op": "onehot", "categories": ["a", "b"],
                                                   "unknown": "ignore"}]}]}
ROWS = '{"age": 31, "city": "a"}\n{"age": 57.5, "city": "zz"}\n{"age": 40, "city": "b"}\n'


def pipeline_model(d, path):
    """A model with a feature pipeline: raw records (age, city) -> 3 features -> MatMul."""
    w = helper.make_tensor("W", TensorProto.FLOAT, [3, 2], [0.5, -1.0, 2.0, 0.25, -0.75, 1.5])
    g = helper.make_graph([helper.make_node("MatMul", ["X", "W"], ["Y"])], "p",
                          [helper.make_tensor_value_info("X", TensorProto.FLOAT, ["batch", 3])],
                          [helper.make_tensor_value_info("Y", TensorProto.FLOAT, ["batch", 2])], [w])
    onnx.save(helper.make_model(g, opset_imports=[helper.make_opsetid("", 13)]), str(d / "p.onnx"))
    with aistack.Model(str(d / "p.onnx")) as m:
        m.save(path, pipeline=SPEC)


def sample(name, rows=2, seed=0):
    rng = np.random.default_rng(seed)
    dt = DTYPES[name][0]
    if name == "BYTES":
        return np.array([[f"r{r}c{c}\u00fc" * (c + 1) for c in range(3)] for r in range(rows)],
                        dtype=np.object_)
    if name == "BOOL":
        return rng.integers(0, 2, (rows, 3)).astype(np.bool_)
    if name.startswith("FP"):
        return rng.standard_normal((rows, 3)).astype(dt) * dt(1e3)
    info = np.iinfo(dt)
    # the extremes too (INT64 and UINT64 only in binary form: JSON numbers are doubles)
    a = rng.integers(max(info.min, -1000), min(info.max, 1000), (rows, 3)).astype(dt)
    a.flat[0], a.flat[1] = info.min, info.max if name not in ("INT64", "UINT64") else info.max // 4096
    return a


@pytest.fixture(scope="module")
def repo(tmp_path_factory):
    d = tmp_path_factory.mktemp("repo")
    for v in ("1", "2"):
        os.makedirs(d / "digits" / v)
        with open(DIGITS, "rb") as f, open(d / "digits" / v / "model.onnx", "wb") as g:
            g.write(f.read())
    os.makedirs(d / "ids" / "7")
    identity_model(str(d / "ids" / "7" / "model.onnx"))
    os.makedirs(d / "recs" / "1")
    pipeline_model(d, str(d / "recs" / "1" / "model.ais"))
    os.makedirs(d / ".hidden" / "1")  # skipped: not a valid name
    keys = d.parent / "keys.txt"
    keys.write_text(f"# comment\n{KEY}\n\nsha256:{hashlib.sha256(KEY2.encode()).hexdigest()}\n"
                    f"  sha256:{hashlib.sha256(KEY3.encode()).hexdigest().upper()}  \n",
                    encoding="utf-8")
    return str(d), str(keys)


PROCS = {}


@pytest.fixture(scope="module")
def server(tool, repo):
    p, addr = start(tool, repo[0], "--max-body-bytes", str(4 << 20), "--timeout", "2")
    PROCS[addr] = p
    yield addr
    stop(p)
    text = log(p)
    # the access log: one JSON line per request, the path but never the payload
    lines = [json.loads(x) for x in text.splitlines() if x.startswith("{")]
    assert any(x["path"] == "/v2/models/digits/infer" and x["status"] == 200 for x in lines)
    assert "0.5, 0.5" not in text and "\"data\"" not in text and "pixels" not in text


def rss_kib(pid):
    with open(f"/proc/{pid}/status") as f:
        return next(int(x.split()[1]) for x in f if x.startswith("VmRSS:"))


def curl(addr, path, *args, data=None, headers=()):
    cmd = ["curl", "-sS", "--path-as-is", "-o", "-", "-w", "\n%{http_code}", f"http://{addr}{path}"]
    for h in headers:
        cmd += ["-H", h]
    if data is not None:
        cmd += ["--data-binary", "@-", "-H", "Content-Type: application/json"]
    p = subprocess.run(cmd + list(args), input=data.encode() if isinstance(data, str) else data,
                       capture_output=True, timeout=60)
    assert p.returncode == 0, p.stderr
    body, _, code = p.stdout.rpartition(b"\n")
    return int(code), body


def reference(model_path, feeds):
    m = aistack.Model(model_path)
    return m.run(feeds)


def test_health_metadata_curl(server):
    assert curl(server, "/v2/health/live")[0] == 200
    code, body = curl(server, "/v2/health/ready")
    assert code == 200 and json.loads(body)["ready"] is True
    code, body = curl(server, "/v2")
    assert code == 200 and "binary_tensor_data" in json.loads(body)["extensions"]
    code, body = curl(server, "/v2/models/digits")
    md = json.loads(body)
    assert code == 200 and md["versions"] == ["1", "2"]
    assert md["inputs"] == [{"name": "pixels", "datatype": "FP32", "shape": [-1, 64]}]
    assert [o["name"] for o in md["outputs"]] == ["probabilities", "digit"]
    assert curl(server, "/v2/models/digits/versions/1")[0] == 200
    code, body = curl(server, "/v2/models/digits/versions/2/ready")
    assert code == 200 and json.loads(body) == {"name": "digits", "version": "2", "ready": True}
    assert curl(server, "/v2/models/digits/versions/3/ready")[0] == 404
    assert curl(server, "/v2/models/.hidden")[0] == 400
    assert curl(server, "/v2/models/nope/ready")[0] == 404


def test_infer_json_curl_bitwise(server):
    x = np.load(os.path.join(ROOT, "models", "digits", "test_batch.npy")).astype(np.float32)[:5]
    req = {"id": "r1", "inputs": [{"name": "pixels", "datatype": "FP32", "shape": list(x.shape),
                                   "data": x.tolist()}]}
    code, body = curl(server, "/v2/models/digits/infer", data=json.dumps(req))
    assert code == 200, body
    r = json.loads(body)
    assert r["model_name"] == "digits" and r["model_version"] == "2" and r["id"] == "r1"
    ref = reference(DIGITS, {"pixels": x})
    outs = {o["name"]: o for o in r["outputs"]}
    p = np.array(outs["probabilities"]["data"], dtype=np.float32).reshape(outs["probabilities"]["shape"])
    assert p.tobytes() == ref["probabilities"].tobytes()
    assert outs["digit"]["datatype"] == "INT64"
    assert np.array_equal(np.array(outs["digit"]["data"]), ref["digit"])
    # a requested output only, at an explicit version
    req["outputs"] = [{"name": "digit"}]
    code, body = curl(server, "/v2/models/digits/versions/1/infer", data=json.dumps(req))
    r = json.loads(body)
    assert code == 200 and r["model_version"] == "1" and [o["name"] for o in r["outputs"]] == ["digit"]


def test_infer_json_every_dtype(server, repo):
    feeds = {f"x_{n.lower()}": sample(n) for n in DTYPES}
    def enc(n, a):
        return a.tolist() if n != "BYTES" else [s for s in a.ravel()]
    req = {"inputs": [{"name": f"x_{n.lower()}", "datatype": n, "shape": [2, 3],
                       "data": enc(n, feeds[f"x_{n.lower()}"])} for n in DTYPES]}
    code, body = curl(server, "/v2/models/ids/infer", data=json.dumps(req))
    assert code == 200, body
    r = {o["name"]: o for o in json.loads(body)["outputs"]}
    for n, (dt, _) in DTYPES.items():
        o = r[f"y_{n.lower()}"]
        assert o["datatype"] == n and o["shape"] == [2, 3]
        got = np.array(o["data"], dtype=dt).reshape(2, 3)
        want = feeds[f"x_{n.lower()}"]
        if n == "BYTES":
            assert got.tolist() == want.tolist()
        else:
            assert got.tobytes() == want.tobytes(), n


def test_tritonclient_every_dtype_binary_and_json(server, repo):
    httpclient = pytest.importorskip("tritonclient.http")
    c = httpclient.InferenceServerClient(server)
    assert c.is_server_live() and c.is_server_ready()
    assert c.is_model_ready("ids") and c.is_model_ready("digits", "1")
    assert not c.is_model_ready("digits", "9")
    assert c.get_model_metadata("ids")["versions"] == ["7"]
    assert c.get_server_metadata()["name"] == "aistack"
    cfg = c.get_model_config("digits")
    assert cfg["input"] == [{"name": "pixels", "data_type": "TYPE_FP32", "dims": [-1, 64]}]
    assert [o["data_type"] for o in cfg["output"]] == ["TYPE_FP32", "TYPE_INT64"]
    assert c.get_model_config("ids")["input"][-1]["data_type"] == "TYPE_STRING"
    index = c.get_model_repository_index()
    assert {(x["name"], x["version"]) for x in index} == {("digits", "1"), ("digits", "2"),
                                                           ("ids", "7"), ("recs", "1")}
    for binary in (True, False):
        inputs, outputs, feeds = [], [], {}
        for n in DTYPES:
            a = sample(n, rows=3, seed=1)
            feeds[f"x_{n.lower()}"] = a
            i = httpclient.InferInput(f"x_{n.lower()}", list(a.shape), n)
            i.set_data_from_numpy(a, binary_data=binary or n in ("INT64", "UINT64"))
            inputs.append(i)
            outputs.append(httpclient.InferRequestedOutput(f"y_{n.lower()}", binary_data=binary))
        res = c.infer("ids", inputs, outputs=outputs)
        for n in DTYPES:
            got, want = res.as_numpy(f"y_{n.lower()}"), feeds[f"x_{n.lower()}"]
            if n == "BYTES":
                assert [s.decode() if isinstance(s, bytes) else s for s in got.ravel()] == list(want.ravel())
            else:
                assert got.dtype == want.dtype and got.tobytes() == want.tobytes(), (n, binary)
    # the digits model, outputs not named (the client then asks for all of them in binary)
    x = np.load(os.path.join(ROOT, "models", "digits", "test_batch.npy")).astype(np.float32)
    i = httpclient.InferInput("pixels", list(x.shape), "FP32")
    i.set_data_from_numpy(x)
    res = c.infer("digits", [i], model_version="1")
    ref = reference(DIGITS, {"pixels": x})
    assert res.as_numpy("probabilities").tobytes() == ref["probabilities"].tobytes()
    assert np.array_equal(res.as_numpy("digit"), ref["digit"])
    # errors come back as the client's exception with the server's message
    bad = httpclient.InferInput("pixels", [1, 63], "FP32")
    bad.set_data_from_numpy(np.zeros((1, 63), np.float32))
    with pytest.raises(Exception, match="pixels|shape|63"):
        c.infer("digits", [bad])
    c.close()


def test_concurrent_clients_get_their_own_answers(server):
    """8 keep-alive clients at once, each with its own inputs (binary tensors, batches big
    enough that runs overlap), on 2 worker threads with one session each: every answer is the
    in-process result for that client's input, bit for bit, and none is refused as busy."""
    import http.client
    import threading
    host, port = server.rsplit(":", 1)
    rng = np.random.default_rng(3)
    xs = [rng.standard_normal((3000 + k, 64)).astype(np.float32) for k in range(8)]
    refs = [reference(DIGITS, {"pixels": x})["probabilities"] for x in xs]
    bad = []
    def client(k):
        c = http.client.HTTPConnection(host, int(port), timeout=60)
        hdr = json.dumps({"inputs": [{"name": "pixels", "datatype": "FP32",
                                      "shape": list(xs[k].shape),
                                      "parameters": {"binary_data_size": xs[k].nbytes}}],
                          "outputs": [{"name": "probabilities",
                                       "parameters": {"binary_data": True}}]}).encode()
        for _ in range(15):
            c.request("POST", "/v2/models/digits/infer", body=hdr + xs[k].tobytes(),
                      headers={"Inference-Header-Content-Length": str(len(hdr))})
            r = c.getresponse()
            body = r.read()
            n = int(r.getheader("Inference-Header-Content-Length") or len(body))
            if r.status != 200 or body[n:] != refs[k].tobytes():
                bad.append((k, r.status, body[:n][:200]))
        c.close()
    ts = [threading.Thread(target=client, args=(k,)) for k in range(8)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    assert not bad, bad[:3]


def raw(addr, data, timeout=10):
    """Sends bytes on a fresh connection; the status code of the answer (0: closed, none)."""
    host, port = addr.rsplit(":", 1)
    with socket.create_connection((host, int(port)), timeout=timeout) as s:
        s.sendall(data)
        buf = b""
        try:
            while b"\r\n" not in buf:
                chunk = s.recv(4096)
                if not chunk:
                    break
                buf += chunk
        except (ConnectionResetError, socket.timeout):
            pass
    return int(buf.split(b" ")[1]) if buf.startswith(b"HTTP/1.") else 0


def test_hostile_requests(server):
    inf = "/v2/models/digits/infer"
    good_in = {"name": "pixels", "datatype": "FP32", "shape": [1, 64], "data": [0.5] * 64}
    cases = [
        ("{not json", 400),
        ("[1, 2]", 400),
        (json.dumps({"inputs": []}), 400),
        (json.dumps({"inputs": [dict(good_in, datatype="FP64")]}), 400),  # wrong dtype
        (json.dumps({"inputs": [dict(good_in, datatype="FP17")]}), 400),
        (json.dumps({"inputs": [dict(good_in, shape=[1, 63])]}), 400),   # length mismatch
        (json.dumps({"inputs": [dict(good_in, shape=[2, 32])]}), 400),   # wrong shape for model
        (json.dumps({"inputs": [dict(good_in, shape=[-1, 64])]}), 400),
        (json.dumps({"inputs": [dict(good_in, shape=[1 << 31, 1 << 31])]}), 400),
        (json.dumps({"inputs": [dict(good_in, data=["a"] * 64)]}), 400),
        (json.dumps({"inputs": [dict(good_in, name="nope")]}), 400),
        (json.dumps({"inputs": [good_in, good_in]}), 400),
        (json.dumps({"inputs": [dict(good_in, data=[[[[[[[[[[[[[[[[[[[0]]]]]]]]]]]]]]]]]]])]}), 400),
        (json.dumps({"inputs": [dict(good_in, parameters={"binary_data_size": 256})]}), 400),
        (json.dumps({"inputs": [good_in], "outputs": [{"name": "nope"}]}), 404),
    ]
    for body, want in cases:
        code, out = curl(server, inf, data=body)
        assert code == want, (body[:80], code, out)
        assert "error" in json.loads(out)
    # binary header longer than the body, and not a number
    for h in ("Inference-Header-Content-Length: 999999", "Inference-Header-Content-Length: x1"):
        assert curl(server, inf, data=json.dumps({"inputs": [good_in]}), headers=[h])[0] == 400
    # binary data of the wrong length for the declared size
    hdr = json.dumps({"inputs": [dict(good_in, data=None, parameters={"binary_data_size": 256})]})
    hdr = hdr.replace('"data": null, ', "")
    body = hdr.encode() + b"\0" * 255
    code, _ = curl(server, inf, data=body, headers=[f"Inference-Header-Content-Length: {len(hdr)}"])
    assert code == 400
    # a huge BYTES shape over a few bytes of binary data is refused before anything is allocated
    hdr = json.dumps({"inputs": [{"name": "x_bytes", "datatype": "BYTES", "shape": [1 << 20, 1 << 19],
                                  "parameters": {"binary_data_size": 8}}]})
    code, out = curl(server, "/v2/models/ids/infer", data=hdr.encode() + b"\1\0\0\0a\0\0\0",
                     headers=[f"Inference-Header-Content-Length: {len(hdr)}"])
    assert code == 400 and b"cannot hold" in out, out
    # path traversal and wrong methods
    for path in ("/v2/models/../../etc/passwd", "/v2/models/..%2F..%2Fetc/ready",
                 "/v2/models/%2e%2e/infer", "/v2/models/a%00b"):
        assert curl(server, path)[0] in (400, 404), path
    assert curl(server, "/v2/models/digits", "-X", "DELETE")[0] == 405
    assert curl(server, "/v2/models/digits/versions/x1/ready")[0] == 400
    assert curl(server, "/v2/nothing")[0] == 404
    # a 1 GB declared Content-Length is refused before any of it is read
    assert raw(server, b"POST " + inf.encode() + b" HTTP/1.1\r\nHost: x\r\n"
               b"Content-Length: 1073741824\r\n\r\n{") == 413
    # a body over the limit sent chunked (no length declared) gets 413 too
    big = b"x" * (5 << 20)
    code, _ = curl(server, inf, data=big, headers=["Transfer-Encoding: chunked"])
    assert code == 413
    # a header flood: MHD's per-connection memory limit answers, not a crash
    flood = b"GET /v2 HTTP/1.1\r\nHost: x\r\n" + b"".join(
        b"X-F%d: %s\r\n" % (i, b"y" * 100) for i in range(2000)) + b"\r\n"
    assert raw(server, flood) in (0, 413, 431)
    # still serving
    code, body = curl(server, inf, data=json.dumps({"inputs": [good_in]}))
    assert code == 200, body


def test_records_endpoint(server, repo):
    ref = aistack.Model(os.path.join(repo[0], "recs", "1", "model.ais")).session().run_json_rows(ROWS)
    code, body = curl(server, "/v2/models/recs/records", data=ROWS)
    assert code == 200, body
    (o,) = json.loads(body)["outputs"]
    assert o["name"] == "Y" and o["shape"] == [3, 2]
    assert np.array(o["data"], np.float32).reshape(3, 2).tobytes() == ref["Y"].tobytes()
    csv = "age,city\n31,a\n57.5,zz\n40,b\n"
    code, body = curl(server, "/v2/models/recs/versions/1/records", data=csv,
                      headers=["Content-Type: text/csv"])
    assert code == 200, body
    got = np.array(json.loads(body)["outputs"][0]["data"], np.float32).reshape(3, 2)
    assert got.tobytes() == ref["Y"].tobytes()
    # schema errors come back per row and field
    code, body = curl(server, "/v2/models/recs/records",
                      data='{"age": 1, "city": "a"}\n{"city": "b"}\n{"age": "old", "city": "a"}\n')
    r = json.loads(body)
    assert code == 400 and "error" in r, body
    assert {(e["row"], e["field"]) for e in r["errors"]} == {(1, "age"), (2, "age")}, r
    # a model without a pipeline refuses records; so does malformed JSON
    assert curl(server, "/v2/models/digits/records", data=ROWS)[0] == 400
    assert curl(server, "/v2/models/recs/records", data="{not json\n")[0] == 400


def test_memory_bounded_under_bad_requests(server):
    """A thousand rejected requests, some with a body near the limit, leave the server's
    resident memory where it was (what a request allocates is freed with it)."""
    import http.client
    pid = PROCS[server].pid
    inf = "/v2/models/digits/infer"
    junk = b"[" + b"1," * (1 << 20) + b"x"  # 2 MiB of malformed JSON
    host, port = server.rsplit(":", 1)
    def post(c, body):
        c.request("POST", inf, body=body, headers={"Content-Type": "application/json"})
        r = c.getresponse()
        r.read()
        return r.status
    def burst():
        c = http.client.HTTPConnection(host, int(port), timeout=30)  # keep-alive
        for _ in range(5):
            assert post(c, junk) == 400
        for _ in range(500):
            assert post(c, b'{"inputs": [{"name": "pixels"}]}') == 400
        c.close()
    burst()
    before = rss_kib(pid)
    burst()
    after = rss_kib(pid)
    assert after - before < 8 * 1024, (before, after)


def test_slow_loris_is_cut_off(server):
    """A client that sends headers a byte at a time and then stalls is disconnected after the
    --timeout (2 s here) and holds nothing; the server keeps answering meanwhile."""
    host, port = server.rsplit(":", 1)
    s = socket.create_connection((host, int(port)), timeout=10)
    s.sendall(b"POST /v2/models/digits/infer HTTP/1.1\r\nHost: x\r\nContent-Le")
    t0 = time.monotonic()
    assert curl(server, "/v2/health/live")[0] == 200
    while s.recv(1024):  # closed (b""), possibly after an error answer
        pass
    waited = time.monotonic() - t0
    s.close()
    assert 1.0 < waited < 8, waited


def test_api_keys(tool, repo):
    p, addr = start(tool, repo[0], "--api-keys", repo[1])
    try:
        assert curl(addr, "/v2/health/live")[0] == 200
        assert curl(addr, "/v2/health/ready")[0] == 200
        for path in ("/v2", "/v2/models/digits", "/v2/models/digits/ready"):
            assert curl(addr, path)[0] == 401
            assert curl(addr, path, headers=["Authorization: Bearer wrong"])[0] == 401
            assert curl(addr, path, headers=["X-API-Key: " + KEY[:-1]])[0] == 401
            assert curl(addr, path, headers=["Authorization: Basic " + KEY])[0] == 401
        req = json.dumps({"inputs": [{"name": "pixels", "datatype": "FP32", "shape": [1, 64],
                                      "data": [0.0] * 64}]})
        assert curl(addr, "/v2/models/digits/infer", data=req)[0] == 401
        assert curl(addr, "/v2/models/digits/infer", data=req,
                    headers=["Authorization: Bearer " + KEY])[0] == 200
        assert curl(addr, "/v2", headers=["X-API-Key: " + KEY2])[0] == 200
        assert curl(addr, "/v2", headers=["Authorization: bearer " + KEY2])[0] == 200
        assert curl(addr, "/v2", headers=["X-API-Key: " + KEY3])[0] == 200
        assert curl(addr, "/v2", headers=["X-API-Key: " + KEY3 + "k"])[0] == 401
        httpclient = pytest.importorskip("tritonclient.http")
        c = httpclient.InferenceServerClient(addr)
        assert c.is_server_live()
        with pytest.raises(Exception):
            c.get_server_metadata()
        c2 = httpclient.InferenceServerClient(addr)
        assert c2.get_server_metadata(headers={"X-API-Key": KEY2})["name"] == "aistack"
    finally:
        stop(p)


def test_rate_limits(tool, repo):
    """--rate-limit 2: bursts of 2 per key (per address without keys), then 429 with
    Retry-After; keys have separate buckets; health checks are not limited."""
    def codes(addr, n, headers=()):
        out = []
        for _ in range(n):
            p = subprocess.run(["curl", "-sS", "-o", "/dev/null", "-D", "-", f"http://{addr}/v2",
                                *sum((["-H", h] for h in headers), [])],
                               capture_output=True, text=True, timeout=30)
            status = int(p.stdout.split()[1])
            retry = [x for x in p.stdout.splitlines() if x.lower().startswith("retry-after:")]
            out.append((status, int(retry[0].split(":")[1]) if retry else None))
        return out
    p, addr = start(tool, repo[0], "--api-keys", repo[1], "--rate-limit", "2")
    try:
        got = codes(addr, 5, ["X-API-Key: " + KEY])
        assert [c for c, _ in got[:2]] == [200, 200] and (429, 1) in got[2:], got
        assert codes(addr, 1, ["X-API-Key: " + KEY2]) == [(200, None)]
        assert codes(addr, 1, ["X-API-Key: wrong"]) == [(401, None)]  # no bucket for unknown keys
        for _ in range(5):
            assert curl(addr, "/v2/health/live")[0] == 200
        time.sleep(1.1)  # the bucket refills at 2 a second
        assert codes(addr, 1, ["X-API-Key: " + KEY])[0][0] == 200
    finally:
        stop(p)
    p, addr = start(tool, repo[0], "--rate-limit", "2")
    try:
        got = codes(addr, 5)
        assert [c for c, _ in got[:2]] == [200, 200] and any(c == 429 for c, _ in got[2:]), got
    finally:
        stop(p)


def test_bad_command_lines(tool, repo, tmp_path):
    def run(*a):
        return subprocess.run([tool, "serve", *a], capture_output=True, text=True, timeout=60)
    assert run().returncode == 2
    assert run("--model-repository", str(tmp_path)).returncode == 1  # no models
    (tmp_path / "k").write_text("sha256:abc\n")
    p = run("--model-repository", repo[0], "--api-keys", str(tmp_path / "k"))
    assert p.returncode == 1 and "64 hex digits" in p.stderr
    assert run("--model-repository", repo[0], "--rate-limit", "0").returncode == 2
    assert run("--model-repository", repo[0], "--rate-limit", "x").returncode == 2
    assert run("--model-repository", repo[0], "--tls-cert", "c.pem").returncode == 2
    assert run("--model-repository", repo[0], "--port", "70000").returncode == 2
    # the options added for reload, JWT and batching: out of range, or missing their partner
    for args, said in ((["--poll-interval", "0"], "--poll-interval"),
                       (["--poll-interval", "x"], "--poll-interval"),
                       (["--jwt-leeway", "601"], "--jwt-leeway"),
                       (["--jwt-audience", "a"], "--jwt-audience"),
                       (["--max-batch", str((1 << 31) + 1)], "--max-batch"),
                       (["--max-batch", "8", "--batch-delay-us", "60000001"], "--batch-delay-us")):
        p = run("--model-repository", repo[0], *args)
        assert p.returncode == 2 and said in p.stderr, (args, p.returncode, p.stderr)


def test_sigterm_finishes_in_flight(tool, repo):
    """A request whose body is still arriving when SIGTERM comes is answered; then exit 0."""
    p, addr = start(tool, repo[0])
    host, port = addr.rsplit(":", 1)
    body = json.dumps({"inputs": [{"name": "pixels", "datatype": "FP32", "shape": [1, 64],
                                   "data": [0.25] * 64}]}).encode()
    s = socket.create_connection((host, int(port)), timeout=20)
    s.sendall(b"POST /v2/models/digits/infer HTTP/1.1\r\nHost: x\r\nConnection: close\r\n"
              b"Content-Length: %d\r\n\r\n" % len(body) + body[:10])
    time.sleep(0.3)
    p.send_signal(signal.SIGTERM)
    time.sleep(0.3)
    s.sendall(body[10:])
    resp = b""
    while True:
        chunk = s.recv(65536)
        if not chunk:
            break
        resp += chunk
    s.close()
    assert resp.startswith(b"HTTP/1.1 200"), resp[:200]
    assert p.wait(timeout=30) == 0
    # new connections are refused once it is gone
    with pytest.raises(OSError):
        socket.create_connection((host, int(port)), timeout=2).close()
