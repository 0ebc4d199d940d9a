"""`aistack serve` under load (issue 16): wrk (Debian's package) on loopback, a couple of seconds
per run, POSTing infer requests for the digits model (JSON tensors and Triton's binary tensor
form) and raw records for a pipeline model, at 1, 8 and 64 connections, with and without
--max-batch; and wrk through a series of SIGHUP reloads (new versions, a changed file, broken
new and changed files, a removed version) losing no request. Every answer must be a 2xx, no socket may fail, and the server's resident memory
after the load must stay within 48 MiB of what it was before (a run makes some 100,000 to 300,000
requests here, so a leak of a few hundred bytes a request would exceed it; a clean one grows by
a few MiB; under AddressSanitizer, LeakSanitizer checks at exit instead). The figures (requests/s, p50, p99) are printed, never asserted: a
test does not assert a time."""
import json
import os
import shutil
import signal
import subprocess
import time

import numpy as np
import pytest

from test_serve import DIGITS, ROOT, ROWS, log, pipeline_model, rss_kib, start, stop  # noqa: F401

LUA = os.path.join(os.path.dirname(os.path.abspath(__file__)), "serve_wrk.lua")
SECONDS = 2
RSS_GROWTH_KIB = 48 * 1024


def sanitized(tool):
    """Whether the tool is an AddressSanitizer build: its allocator keeps freed memory in a
    quarantine (256 MiB), so resident memory says nothing there; LeakSanitizer checks for leaks
    instead when the server exits, and makes its exit status non-zero (stop() asserts 0)."""
    with open(tool, "rb") as f:
        return b"AddressSanitizer" in f.read()


def wrk_bin():
    w = shutil.which("wrk")
    if not w:
        pytest.fail("wrk was not found: install the Debian package wrk (scripts/setup.sh test)")
    return w


def wrk_start(url, body_path, conns, headers=(), seconds=SECONDS, count=True):
    """A wrk run started in the background (wrk_result waits for it)."""
    cmd = [wrk_bin(), "-t", str(min(2, conns)), "-c", str(conns), "-d", f"{seconds}s",
           "--timeout", "10s", "-s", LUA]
    for h in headers:
        cmd += ["-H", h]
    env = dict(os.environ, WRK_BODY=body_path)
    if not count:
        env["WRK_NO_COUNT"] = "1"
    return subprocess.Popen(cmd + [url], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, env=env)


def wrk_result(w, seconds=SECONDS):
    """The WRK_JSON summary of a wrk_start run as a dict."""
    out, err = w.communicate(timeout=seconds + 60)
    assert w.returncode == 0, err
    line = next((x for x in out.splitlines() if x.startswith("WRK_JSON ")), None)
    assert line, out + err
    return json.loads(line[len("WRK_JSON "):])


def run_wrk(url, body_path, conns, headers=(), seconds=SECONDS, count=True):
    """One wrk run; its WRK_JSON summary as a dict."""
    return wrk_result(wrk_start(url, body_path, conns, headers, seconds, count), seconds)


def bodies(d):
    """(name, path, body file, headers) of the three request kinds."""
    x = np.load(os.path.join(ROOT, "models", "digits", "test_batch.npy")).astype(np.float32)[:4]
    js = d / "digits.json"
    js.write_text(json.dumps({"inputs": [{"name": "pixels", "datatype": "FP32",
                                          "shape": list(x.shape), "data": x.tolist()}]}))
    head = json.dumps({"inputs": [{"name": "pixels", "datatype": "FP32", "shape": list(x.shape),
                                   "parameters": {"binary_data_size": x.nbytes}}],
                       "parameters": {"binary_data_output": True}}).encode()
    bn = d / "digits.bin"
    bn.write_bytes(head + x.tobytes())
    rec = d / "records.jsonl"
    rec.write_text(ROWS)
    return [("json", "/v2/models/digits/infer", str(js), ["Content-Type: application/json"]),
            ("binary", "/v2/models/digits/infer", str(bn),
             [f"Inference-Header-Content-Length: {len(head)}",
              "Content-Type: application/octet-stream"]),
            ("records", "/v2/models/recs/records", str(rec), ["Content-Type: application/json"])]


@pytest.fixture(scope="module")
def repo(tmp_path_factory):
    d = tmp_path_factory.mktemp("lrepo")
    os.makedirs(d / "digits" / "1")
    shutil.copy(DIGITS, d / "digits" / "1" / "model.onnx")
    os.makedirs(d / "recs" / "1")
    pipeline_model(d, str(d / "recs" / "1" / "model.ais"))
    return d


@pytest.mark.parametrize("batching", [False, True], ids=["plain", "max_batch"])
def test_wrk_load_no_errors_memory_bounded(tool, repo, batching):
    wrk_bin()
    extra = ["--max-batch", "64", "--batch-delay-us", "500"] if batching else []
    p, addr = start(tool, str(repo), *extra)
    try:
        kinds = bodies(repo)
        # warm up every path (sessions, arenas, MHD's connection pool) before the baseline
        for _, path, body, headers in kinds:
            r = run_wrk(f"http://{addr}{path}", body, 8, headers, seconds=1)
            assert r["requests"] > 0 and r["non2xx"] == 0, r
        rss0 = rss_kib(p.pid)
        table = []
        for conns in (1, 8, 64):
            for name, path, body, headers in kinds:
                r = run_wrk(f"http://{addr}{path}", body, conns, headers)
                rps = r["requests"] / (r["duration_us"] / 1e6)
                table.append(f"{name:8s} c={conns:<3d} {rps:8.0f} req/s  p50 {r['p50_us'] / 1e3:7.2f} ms"
                             f"  p99 {r['p99_us'] / 1e3:7.2f} ms  requests {r['requests']}")
                assert r["requests"] > 0, (name, conns, r)
                assert r["non2xx"] == 0 and r["status"] == 0, (name, conns, r)
                assert (r["connect"], r["read"], r["write"], r["timeout"]) == (0, 0, 0, 0), \
                    (name, conns, r)
        rss1 = rss_kib(p.pid)
        print(f"\n--max-batch {'on' if batching else 'off'}; RSS {rss0} -> {rss1} KiB\n" +
              "\n".join(table))
        if not sanitized(tool):
            assert rss1 - rss0 < RSS_GROWTH_KIB, (rss0, rss1)
        assert p.poll() is None, log(p)
    finally:
        stop(p)
    if batching:
        st = next(json.loads(y) for y in log(p).splitlines() if y.startswith('{"batcher": "digits"'))
        assert st["requests"] > 0 and st["timeouts"] == 0, st
        print("batcher:", st)


@pytest.mark.parametrize("batching", [False, True], ids=["plain", "max_batch"])
def test_wrk_through_reloads_loses_no_request(tool, tmp_path, batching):
    """Two wrk runs (the default version, and version 1 by number) while SIGHUP reloads the
    repository six times: a new version 2, a broken new version 3, version 1's file changed, version
    2's file changed into a broken one, version 3 fixed, version 2 removed. Every answer is a 2xx and
    no socket fails; the two failures are logged and counted (/metrics), the rest go in."""
    from test_serve_reload import events, put_version, replace_file
    from test_serve_metrics import scrape
    wrk_bin()
    repo = tmp_path / "repo"
    os.makedirs(repo)
    put_version(str(repo), "digits", 1, DIGITS)
    kinds = {k[0]: k for k in bodies(tmp_path)}
    _, path, body, headers = kinds["binary"]
    extra = ["--max-batch", "64", "--batch-delay-us", "500"] if batching else []
    p, addr = start(tool, str(repo), *extra)
    # wrk is stopped with SIGINT (it prints its summary then) 1 s after the last reload; its
    # duration only bounds a run whose reloads never end (they took 2 s alone, more than 5 s
    # beside CI's other tests)
    seconds = 120
    broken = str(tmp_path / "broken.onnx")
    with open(broken, "wb") as f:
        f.write(b"not an onnx model")

    def reload(what):
        """Sends SIGHUP and waits for the log line it causes (the scan is done then)."""
        event, version = what
        n = sum(e["version"] == version for e in events(p, event))
        p.send_signal(signal.SIGHUP)
        deadline = time.time() + 30
        while sum(e["version"] == version for e in events(p, event)) == n:
            assert time.time() < deadline, (what, log(p)[-2000:])
            time.sleep(0.02)
    try:
        w_latest = wrk_start(f"http://{addr}{path}", body, 8, headers, seconds=seconds)
        w_v1 = wrk_start(f"http://{addr}/v2/models/digits/versions/1/infer", body, 4, headers,
                         seconds=seconds)
        time.sleep(1.0)
        put_version(str(repo), "digits", 2, DIGITS)
        reload(("model_loaded", "2"))
        put_version(str(repo), "digits", 3, broken)
        reload(("model_load_failed", "3"))
        replace_file(str(repo), "digits", 1, DIGITS)
        reload(("model_reloaded", "1"))
        replace_file(str(repo), "digits", 2, broken)
        reload(("model_load_failed", "2"))
        replace_file(str(repo), "digits", 3, DIGITS)
        reload(("model_loaded", "3"))
        shutil.rmtree(repo / "digits" / "2")
        reload(("model_removed", "2"))
        # the reloads all happened under the load
        assert w_latest.poll() is None and w_v1.poll() is None, "wrk ended before the reloads did"
        time.sleep(1.0)
        w_latest.send_signal(signal.SIGINT)
        w_v1.send_signal(signal.SIGINT)
        results = {"latest": wrk_result(w_latest, seconds), "v1": wrk_result(w_v1, seconds)}
        s, _ = scrape(addr)
        assert p.poll() is None, log(p)
    finally:
        stop(p)
    print(f"\n--max-batch {'on' if batching else 'off'}, through 6 reloads:", results)
    for name, r in results.items():
        assert r["requests"] > 0, (name, r)
        assert r["non2xx"] == 0 and r["status"] == 0, (name, r)
        assert (r["connect"], r["read"], r["write"], r["timeout"]) == (0, 0, 0, 0), (name, r)
    fails = events(p, "model_load_failed")
    assert [f["version"] for f in fails] == ["3", "2"], fails
    assert s[("aistack_serve_reloads_total", (("model", "digits"), ("result", "failed")))] == 2
    assert s[("aistack_serve_reloads_total", (("model", "digits"), ("result", "ok")))] == 3
    if batching:  # every replaced version's batcher answered its queue: none timed out
        st = [json.loads(y) for y in log(p).splitlines() if y.startswith('{"batcher": "digits"')]
        assert len(st) >= 4 and all(x["timeouts"] == 0 for x in st), st
        assert sum(x["requests"] for x in st) > 0, st
