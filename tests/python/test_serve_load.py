"""`aistack serve` under load (issue 16): wrk (Debian's package) on loopback, a couple of seconds
per run, POSTing infer requests for the digits model (JSON tensors and Triton's binary tensor
form) and raw records for a pipeline model, at 1, 8 and 64 connections, with and without
--max-batch. Every answer must be a 2xx, no socket may fail, and the server's resident memory
after the load must stay within 48 MiB of what it was before (a run makes some 100,000 to 300,000
requests here, so a leak of a few hundred bytes a request would exceed it; a clean one grows by
a few MiB; under AddressSanitizer, LeakSanitizer checks at exit instead). The figures (requests/s, p50, p99) are printed, never asserted: a
test does not assert a time."""
import json
import os
import shutil
import subprocess
import tempfile

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


def run_wrk(url, body_path, conns, headers=(), seconds=SECONDS, count=True):
    """One wrk run; its WRK_JSON summary as a dict."""
    cmd = [wrk_bin(), "-t", str(min(2, conns)), "-c", str(conns), "-d", f"{seconds}s",
           "--timeout", "10s", "-s", LUA]
    for h in headers:
        cmd += ["-H", h]
    env = dict(os.environ, WRK_BODY=body_path)
    if not count:
        env["WRK_NO_COUNT"] = "1"
    p = subprocess.run(cmd + [url], capture_output=True, text=True, timeout=seconds + 60, env=env)
    assert p.returncode == 0, p.stderr
    line = next((x for x in p.stdout.splitlines() if x.startswith("WRK_JSON ")), None)
    assert line, p.stdout + p.stderr
    return json.loads(line[len("WRK_JSON "):])


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


@pytest.fixture(scope="module")
def tool():
    t = os.environ.get("AIS_AISTACK") or os.path.join(ROOT, "build", "examples", "aistack")
    if not os.path.exists(t):
        pytest.fail("the aistack tool was not found: build it, or set AIS_AISTACK")
    return t


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
