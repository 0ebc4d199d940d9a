"""`aistack serve` against its peer, the usual Python way to serve a model: FastAPI on uvicorn
(uvicorn[standard]: uvloop, httptools) with onnxruntime (bench/serve_fastapi_peer.py), the same
model (the digits MLP), the same KServe V2 JSON infer request, under the same wrk load
(tests/python/serve_wrk.lua, WRK_NO_COUNT mode) on the same cores: requests/s and p50/p99 at 1,
8 and 64 connections. The systems alternate within each round (the order flips every round),
a few seconds each; the table gives the median over rounds. Same parallelism on both sides:
aistack serve --threads N (one session with one intra-op thread per HTTP thread) against
uvicorn --workers N (one ORT session with one intra-op thread per worker process). A third
row is aistack serve with --max-batch.

Answers are checked once per system before timing (200 and the same digits); wrk's own count
of answers >= 400 and of socket errors is in the results and must be 0.

    bench/bench_serve.py --peer-python .venv-serve/bin/python [--seconds 3] [--rounds 3]

The peer's packages are pinned in bench/requirements.txt. Writes bench/results/serve.json.
"""
import argparse
import json
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
LUA = os.path.join(ROOT, "tests", "python", "serve_wrk.lua")


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    p = s.getsockname()[1]
    s.close()
    return p


def wait_ready(url, proc, timeout=60):
    t0 = time.time()
    while time.time() - t0 < timeout:
        if proc.poll() is not None:
            raise SystemExit(f"server exited: {proc.args}")
        try:
            with urllib.request.urlopen(url, timeout=2) as r:
                if r.status == 200:
                    return
        except OSError:
            time.sleep(0.2)
    raise SystemExit(f"not ready: {url}")


def start_aistack(tool, repo, threads, extra, cpus):
    cmd = [tool, "serve", "--model-repository", repo, "--port", "0", "--threads", str(threads),
           *extra]
    if cpus:
        cmd = ["taskset", "-c", cpus] + cmd
    p = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    line = p.stdout.readline()
    if not line.startswith("listening on http://"):
        raise SystemExit(f"aistack serve did not start: {line!r}")
    addr = line.split("http://")[1].strip()
    wait_ready(f"http://{addr}/v2/health/ready", p)
    return p, addr


def start_peer(python, model, workers, cpus):
    port = free_port()
    cmd = [python, "-m", "uvicorn", "serve_fastapi_peer:app", "--app-dir", HERE, "--host",
           "127.0.0.1", "--port", str(port), "--workers", str(workers), "--no-access-log",
           "--log-level", "warning"]
    if cpus:
        cmd = ["taskset", "-c", cpus] + cmd
    p = subprocess.Popen(cmd, env=dict(os.environ, PEER_MODEL=model), stdout=subprocess.DEVNULL,
                         stderr=subprocess.DEVNULL, start_new_session=True)
    addr = f"127.0.0.1:{port}"
    wait_ready(f"http://{addr}/v2/health/ready", p)
    return p, addr


def check(addr, body):
    req = urllib.request.Request(f"http://{addr}/v2/models/digits/infer", data=body,
                                 headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=10) as r:
        assert r.status == 200
        out = json.loads(r.read())
    return {o["name"]: o["data"] for o in out["outputs"]}["digit"]


def run_wrk(addr, body_path, conns, seconds, wrk_threads, cpus):
    cmd = ["wrk", "-t", str(min(wrk_threads, conns)), "-c", str(conns), "-d", f"{seconds}s",
           "--timeout", "10s", "-s", LUA, "-H", "Content-Type: application/json",
           f"http://{addr}/v2/models/digits/infer"]
    if cpus:
        cmd = ["taskset", "-c", cpus] + cmd
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=seconds + 60,
                       env=dict(os.environ, WRK_BODY=body_path, WRK_NO_COUNT="1"))
    line = next((x for x in p.stdout.splitlines() if x.startswith("WRK_JSON ")), None)
    if not line:
        raise SystemExit(f"wrk failed: {p.stdout} {p.stderr}")
    r = json.loads(line[len("WRK_JSON "):])
    r["rps"] = r["requests"] / (r["duration_us"] / 1e6)
    return r


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--tool", help="the aistack binary (default: build-release, else build)")
    ap.add_argument("--peer-python", default=sys.executable,
                    help="a Python with bench/requirements.txt's fastapi, uvicorn, onnxruntime")
    ap.add_argument("--threads", type=int, default=2, help="--threads / --workers (default 2)")
    ap.add_argument("--rows", type=int, default=1, help="rows per request (default 1)")
    ap.add_argument("--seconds", type=int, default=3)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--conns", default="1,8,64")
    ap.add_argument("--wrk-threads", type=int, default=1)
    ap.add_argument("--cpus", default="", help="taskset CPU list for the servers and wrk")
    ap.add_argument("--max-batch", type=int, default=64)
    ap.add_argument("--batch-delay-us", type=int, default=200)
    ap.add_argument("--out", default=os.path.join(HERE, "results", "serve.json"))
    a = ap.parse_args()
    if not shutil.which("wrk"):
        raise SystemExit("wrk is missing (apt-get install wrk)")
    tool = a.tool or next((p for p in (os.path.join(ROOT, b, "examples", "aistack")
                                       for b in ("build-release", "build")) if os.path.exists(p)),
                          None)
    if not tool:
        raise SystemExit("no aistack binary: build it or pass --tool")
    model = os.path.join(ROOT, "models", "digits_mlp.onnx")
    import numpy as np
    x = np.load(os.path.join(ROOT, "models", "digits", "test_batch.npy")).astype(np.float32)
    x = x[:a.rows]
    tmp = tempfile.mkdtemp(prefix="bench_serve_")
    os.makedirs(os.path.join(tmp, "repo", "digits", "1"))
    shutil.copy(model, os.path.join(tmp, "repo", "digits", "1", "model.onnx"))
    body = json.dumps({"inputs": [{"name": "pixels", "datatype": "FP32", "shape": list(x.shape),
                                   "data": x.tolist()}]}).encode()
    body_path = os.path.join(tmp, "body.json")
    with open(body_path, "wb") as f:
        f.write(body)
    conns = [int(c) for c in a.conns.split(",")]
    load0 = os.getloadavg()
    procs = {}
    try:
        procs["aistack"] = start_aistack(tool, os.path.join(tmp, "repo"), a.threads, [], a.cpus)
        procs[f"aistack --max-batch {a.max_batch}"] = start_aistack(
            tool, os.path.join(tmp, "repo"), a.threads,
            ["--max-batch", str(a.max_batch), "--batch-delay-us", str(a.batch_delay_us)], a.cpus)
        procs["fastapi+uvicorn+ort"] = start_peer(a.peer_python, model, a.threads, a.cpus)
        answers = {name: check(addr, body) for name, (_, addr) in procs.items()}
        assert len({json.dumps(v) for v in answers.values()}) == 1, answers
        for name, (_, addr) in procs.items():  # warm-up: sessions, workers, connections
            run_wrk(addr, body_path, 8, 1, a.wrk_threads, a.cpus)
        res = {name: {c: [] for c in conns} for name in procs}
        names = list(procs)
        for rnd in range(a.rounds):
            order = names if rnd % 2 == 0 else names[::-1]
            for c in conns:
                for name in order:
                    r = run_wrk(procs[name][1], body_path, c, a.seconds, a.wrk_threads, a.cpus)
                    res[name][c].append(r)
                    print(f"round {rnd} c={c:<3d} {name:28s} {r['rps']:8.0f} req/s "
                          f"p50 {r['p50_us'] / 1e3:6.2f} ms p99 {r['p99_us'] / 1e3:7.2f} ms "
                          f"errors {r['status'] + r['connect'] + r['read'] + r['write'] + r['timeout']}",
                          flush=True)
    finally:
        for p, _ in procs.values():
            if p.poll() is None:
                # the peer runs in its own session (uvicorn's master and workers): the group
                if "uvicorn" in " ".join(p.args):
                    os.killpg(p.pid, signal.SIGTERM)
                else:
                    p.send_signal(signal.SIGTERM)
                try:
                    p.wait(timeout=30)
                except subprocess.TimeoutExpired:
                    p.kill()
        shutil.rmtree(tmp, ignore_errors=True)
    load1 = os.getloadavg()
    peer = "fastapi+uvicorn+ort"
    table, out = [], {"load_avg_before": load0, "load_avg_after": load1, "rows": a.rows,
                      "threads": a.threads, "seconds": a.seconds, "rounds": a.rounds,
                      "cpus": a.cpus or "all", "nproc": os.cpu_count(), "results": {}}
    hdr = (f"| system | conns | req/s | p50 ms | p99 ms | req/s vs peer | errors |\n"
           f"| --- | ---: | ---: | ---: | ---: | ---: | ---: |")
    for c in conns:
        med = {n: (statistics.median(r["rps"] for r in res[n][c]),
                   statistics.median(r["p50_us"] for r in res[n][c]) / 1e3,
                   statistics.median(r["p99_us"] for r in res[n][c]) / 1e3,
                   sum(r["status"] + r["connect"] + r["read"] + r["write"] + r["timeout"]
                       for r in res[n][c])) for n in names}
        for n in names:
            rps, p50, p99, err = med[n]
            table.append(f"| {n} | {c} | {rps:.0f} | {p50:.2f} | {p99:.2f} | "
                         f"{rps / med[peer][0]:.1f}x | {err} |")
            out["results"].setdefault(n, {})[c] = {"rps": rps, "p50_ms": p50, "p99_ms": p99,
                                                   "errors": err, "runs": res[n][c]}
    print(f"\nload average before {load0[0]:.2f} {load0[1]:.2f} {load0[2]:.2f}, "
          f"after {load1[0]:.2f} {load1[1]:.2f} {load1[2]:.2f}; {a.rows} row(s) a request, "
          f"--threads/--workers {a.threads}, {a.seconds:g} s x {a.rounds} rounds\n")
    print(hdr)
    print("\n".join(table))
    os.makedirs(os.path.dirname(a.out), exist_ok=True)
    with open(a.out, "w") as f:
        json.dump(out, f, indent=1)


if __name__ == "__main__":
    main()
