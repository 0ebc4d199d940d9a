"""`aistack serve` reloading its model repository (issue 16): on SIGHUP and with --poll-interval.
A version added while serving becomes the default; a changed file is reloaded; a broken new
version leaves the old one serving, logged once as a JSON line; a removed version stops being
served; and SIGHUP reloads under a client thread sending requests without pause lose none (all
200, outputs bit for bit those of an in-process run). Files are put in place by rename, as
docs/serve.md asks."""
import http.client
import json
import os
import shutil
import signal
import sys
import tempfile
import threading
import time

import numpy as np
import onnx
from onnx import TensorProto, helper

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(ROOT, "bindings", "python"))
if "AISTACK_LIBRARY" not in os.environ and os.environ.get("AIS_AISTACK"):
    cand = os.path.join(os.path.dirname(os.path.dirname(os.environ["AIS_AISTACK"])), "libaistack.so")
    if os.path.exists(cand):
        os.environ["AISTACK_LIBRARY"] = cand
import aistack  # noqa: E402

from test_serve_security import log, request, start, stop  # noqa: E402

DIGITS = os.path.join(ROOT, "models", "digits_mlp.onnx")
X = np.load(os.path.join(ROOT, "models", "digits", "test_batch.npy")).astype(np.float32)[:4]


def linear_model(path, seed):
    """Same interface as the digits model (pixels [batch, 64] -> probabilities, digit), other
    weights: tells the versions apart by their outputs."""
    w = np.random.default_rng(seed).standard_normal((64, 10)).astype(np.float32)
    g = helper.make_graph(
        [helper.make_node("MatMul", ["pixels", "W"], ["logits"]),
         helper.make_node("Softmax", ["logits"], ["probabilities"], axis=1),
         helper.make_node("ArgMax", ["probabilities"], ["digit"], axis=1, keepdims=0)],
        "lin", [helper.make_tensor_value_info("pixels", TensorProto.FLOAT, ["batch", 64])],
        [helper.make_tensor_value_info("probabilities", TensorProto.FLOAT, ["batch", 10]),
         helper.make_tensor_value_info("digit", TensorProto.INT64, ["batch"])],
        [helper.make_tensor("W", TensorProto.FLOAT, [64, 10], w.ravel())])
    onnx.save(helper.make_model(g, opset_imports=[helper.make_opsetid("", 13)]), path)


def put_version(repo, name, version, src=None, data=None):
    """DIR/NAME/VERSION/model.onnx made aside and renamed into place: never seen half-written."""
    tmp = tempfile.mkdtemp(dir=repo, prefix=".tmp")
    if src:
        shutil.copyfile(src, os.path.join(tmp, "model.onnx"))
    else:
        with open(os.path.join(tmp, "model.onnx"), "wb") as f:
            f.write(data)
    os.makedirs(os.path.join(repo, name), exist_ok=True)
    os.rename(tmp, os.path.join(repo, name, str(version)))


def replace_file(repo, name, version, src):
    dst = os.path.join(repo, name, str(version), "model.onnx")
    shutil.copyfile(src, dst + ".new")
    os.rename(dst + ".new", dst)


def reference(path):
    with aistack.Model(path) as m:
        return m.run({"pixels": X})


def infer(addr, version=None, conn=None):
    body = json.dumps({"inputs": [{"name": "pixels", "datatype": "FP32", "shape": list(X.shape),
                                   "data": X.ravel().tolist()}]})
    path = "/v2/models/digits" + (f"/versions/{version}" if version else "") + "/infer"
    if conn:  # a kept-alive connection
        conn.request("POST", path, body=body, headers={"Content-Type": "application/json"})
        resp = conn.getresponse()
        status, data = resp.status, resp.read()
    else:
        status, _, data = request(addr, "POST", path, {"Content-Type": "application/json"}, body)
    if status != 200:
        return status, None, data
    r = json.loads(data)
    out = {o["name"]: np.array(o["data"], dtype=np.float32 if o["datatype"] == "FP32" else np.int64)
           for o in r["outputs"]}
    return status, r["model_version"], out


def same(out, ref):
    return (out["probabilities"].tobytes() == ref["probabilities"].ravel().tobytes()
            and np.array_equal(out["digit"], ref["digit"]))


def versions(addr):
    status, _, data = request(addr, "GET", "/v2/models/digits")
    return json.loads(data)["versions"] if status == 200 else []


def wait_for(cond, what, timeout=30):
    t = time.time() + timeout
    while time.time() < t:
        if cond():
            return
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


def events(p, event):
    return [x for x in (json.loads(line) for line in log(p).splitlines() if line.startswith("{"))
            if x.get("event") == event]


def test_poll_add_change_break_remove(tool, tmp_path):
    repo = str(tmp_path / "repo")
    os.makedirs(repo)
    put_version(repo, "digits", 1, DIGITS)
    lin2, lin3 = str(tmp_path / "lin2.onnx"), str(tmp_path / "lin3.onnx")
    linear_model(lin2, 2)
    linear_model(lin3, 3)
    ref_digits, ref2, ref3 = reference(DIGITS), reference(lin2), reference(lin3)
    p, addr = start(tool, repo, "--poll-interval", "0.2")
    try:
        status, v, out = infer(addr)
        assert status == 200 and v == "1" and same(out, ref_digits)
        # a new version becomes the default
        put_version(repo, "digits", 2, lin2)
        wait_for(lambda: versions(addr) == ["1", "2"], "version 2")
        status, v, out = infer(addr)
        assert status == 200 and v == "2" and same(out, ref2)
        assert [e["version"] for e in events(p, "model_loaded")] == ["2"]  # not the first
        # a broken new version: logged once, the old default keeps serving
        put_version(repo, "digits", 3, data=b"this is not a model")
        wait_for(lambda: events(p, "model_load_failed"), "the failure line")
        time.sleep(0.8)  # several more polls: not tried (or logged) again while unchanged
        fails = events(p, "model_load_failed")
        assert len(fails) == 1, fails
        assert fails[0]["version"] == "3" and fails[0]["model"] == "digits"
        assert fails[0]["file"].endswith("digits/3/model.onnx") and fails[0]["error"]
        assert fails[0]["reload_failures"] == 1  # the per-model counter (for /metrics)
        status, v, out = infer(addr)
        assert status == 200 and v == "2" and same(out, ref2)
        assert infer(addr, 3)[0] == 404 and versions(addr) == ["1", "2"]
        # the broken version fixed (its file changed): loaded
        replace_file(repo, "digits", 3, lin3)
        wait_for(lambda: versions(addr) == ["1", "2", "3"], "version 3 fixed")
        status, v, out = infer(addr)
        assert status == 200 and v == "3" and same(out, ref3)
        # a changed file of a served version: reloaded in place
        replace_file(repo, "digits", 1, lin2)
        wait_for(lambda: events(p, "model_reloaded"), "the reload of version 1")
        status, v, out = infer(addr, 1)
        assert status == 200 and v == "1" and same(out, ref2)
        # changed into a broken file: the old one of that version keeps serving
        put_bad = os.path.join(repo, "digits", "2", "model.onnx")
        with open(put_bad + ".new", "wb") as f:
            f.write(onnx.load(lin2).SerializeToString()[:200])
        os.rename(put_bad + ".new", put_bad)
        wait_for(lambda: len(events(p, "model_load_failed")) == 2, "the second failure")
        assert events(p, "model_load_failed")[1]["reload_failures"] == 2
        status, v, out = infer(addr, 2)
        assert status == 200 and v == "2" and same(out, ref2)
        # removed versions stop being served
        shutil.rmtree(os.path.join(repo, "digits", "3"))
        wait_for(lambda: versions(addr) == ["1", "2"], "version 3 removed")
        assert infer(addr, 3)[0] == 404
        status, v, out = infer(addr)
        assert status == 200 and v == "2"
        assert [e["version"] for e in events(p, "model_removed")] == ["3"]
        # a new model name appears too
        put_version(repo, "other", 5, lin3)
        wait_for(lambda: request(addr, "GET", "/v2/models/other/versions/5/ready")[0] == 200,
                 "model other")
    finally:
        stop(p)


def test_sighup_under_load_loses_nothing(tool, tmp_path):
    repo = str(tmp_path / "repo")
    os.makedirs(repo)
    put_version(repo, "digits", 1, DIGITS)
    ref = reference(DIGITS)
    p, addr = start(tool, repo)
    results, stop_flag = [], threading.Event()

    def client(keep_alive):
        host, port = addr.split(":")
        conn = http.client.HTTPConnection(host, int(port), timeout=30) if keep_alive else None
        while not stop_flag.is_set():
            status, v, out = infer(addr, conn=conn)
            results.append((status, v, status == 200 and same(out, ref)))

    # one client opens a connection per request, the other keeps one alive across the reloads
    threads = [threading.Thread(target=client, args=(k,)) for k in (False, True)]
    try:
        for t in threads:
            t.start()
        # no --poll-interval: nothing changes until SIGHUP
        put_version(repo, "digits", 2, DIGITS)
        time.sleep(0.5)
        assert versions(addr) == ["1"]
        for v in range(2, 8):
            if v > 2:
                put_version(repo, "digits", v, DIGITS)
            if v % 2:
                replace_file(repo, "digits", v - 1, DIGITS)  # a served version changed
            if v >= 5:
                shutil.rmtree(os.path.join(repo, "digits", str(v - 3)))  # and removed
            p.send_signal(signal.SIGHUP)
            wait_for(lambda: versions(addr)[-1:] == [str(v)], f"version {v}")
            time.sleep(0.2)
        stop_flag.set()
        for t in threads:
            t.join(timeout=60)
    finally:
        stop_flag.set()
        stop(p)
    text = log(p)
    assert len(results) >= 20, (len(results), text[-2000:])
    bad = [r for r in results if r[0] != 200 or not r[2]]
    assert not bad, (bad[:5], text[-2000:])
    served = {r[1] for r in results}
    assert len(served) >= 3, served  # the requests did run across the swaps
    assert not events(p, "model_load_failed")
