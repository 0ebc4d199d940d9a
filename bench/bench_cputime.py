#!/usr/bin/env python3
"""Per-run CPU time of libaistack builds, ONNX Runtime and OpenVINO on the same models, alternating.

    python bench/bench_cputime.py MODEL.onnx... [--lib NAME=PATH]... [--ort] [--openvino]
                                  [--threads 1] [--rounds 3] [--iters 10]

On a machine shared with other work, wall-clock latency swings with whatever else runs; the CPU
time of the calling thread (time.thread_time around each run) does not count the waits, so at
one thread it compares kernels fairly even under load (at two threads it counts only the
caller's share; use wall time on a quiet machine for scaling). Every round runs each system in
a fresh process (a libaistack build chosen by its path through AISTACK_LIBRARY; ONNX Runtime
with intra_op_num_threads = T; OpenVINO set up as bench/harness.py sets it up: its make_runner,
INFERENCE_NUM_THREADS = T, f32 precision hint, latency hint, one stream, which at one thread
runs on the calling thread as ONNX Runtime does), systems alternating round by round, on the
inputs MODEL.npz holds when it exists (bench/models.py writes them) or seeded random ones.
In the first round each peer's outputs are checked against the first --lib build's with
harness.py's tolerances (check_outputs); a peer that disagrees gets "mismatch" instead of its
ratios and the script exits 1. Prints the median over rounds of each round's median per model
and system, and the ratio to each peer: of CPU time at one thread, of wall time at more.
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from harness import check_outputs  # noqa: E402

CHILD = r'''
import json, sys, time, statistics
import numpy as np
system, path, threads, iters = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
sys.path.insert(0, sys.argv[5])
sys.path.insert(0, sys.argv[6])  # bench/: harness.py
save = sys.argv[7]  # where the first run's outputs go ("": nowhere)
try:
    z = np.load(path[:-5] + ".npz"); keys = sorted(z.files)  # "00_name" (bench/models.py)
    names, feeds = [k[3:] for k in keys], [z[k] for k in keys]
except OSError:
    import onnx
    m = onnx.load(path, load_external_data=False)
    inits = {i.name for i in m.graph.initializer}
    rng = np.random.default_rng(0)
    ins = [i for i in m.graph.input if i.name not in inits]
    names = [i.name for i in ins]
    feeds = [rng.standard_normal([d.dim_value or 1 for d in i.type.tensor_type.shape.dim])
             .astype(np.float32) for i in ins]
if system == "openvino":
    from harness import make_runner
    ov_run = make_runner("openvino", path, threads, names)
    run = lambda: ov_run(feeds)
elif system == "ort":
    import onnxruntime as ort
    o = ort.SessionOptions(); o.intra_op_num_threads = threads; o.inter_op_num_threads = 1
    s = ort.InferenceSession(path, o, providers=["CPUExecutionProvider"])
    names = [i.name for i in s.get_inputs()]
    run = lambda: s.run(None, dict(zip(names, feeds)))
else:
    import aistack
    aistack.set_num_threads(threads)
    s = aistack.Model(path).session(threads=threads)
    run = lambda: s.run(feeds)
outs = run()
if save:  # each system's outputs in the model's order
    np.savez(save, *(outs.values() if isinstance(outs, dict) else outs))
for _ in range(2):
    run()
cpu, wall = [], []
for _ in range(iters):
    c0, w0 = time.thread_time(), time.perf_counter()
    run()
    cpu.append(time.thread_time() - c0); wall.append(time.perf_counter() - w0)
print(json.dumps({"cpu_ms": statistics.median(cpu) * 1e3, "wall_ms": statistics.median(wall) * 1e3}))
'''


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("models", nargs="+")
    ap.add_argument("--lib", action="append", default=[], help="NAME=PATH of a libaistack.so")
    ap.add_argument("--ort", action="store_true", help="also ONNX Runtime")
    ap.add_argument("--openvino", action="store_true", help="also OpenVINO (as harness.py sets it up)")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--iters", type=int, default=10)
    ap.add_argument("--json", help="write the numbers here")
    a = ap.parse_args()
    # (name, lib): lib None for a peer, whose name is the system the child runs
    peers = [p for p, on in (("ort", a.ort), ("openvino", a.openvino)) if on]
    systems = [tuple(x.split("=", 1)) for x in a.lib] + [(p, None) for p in peers]
    if not systems:
        ap.error("nothing to run: give --lib NAME=PATH, --ort and/or --openvino")
    binding = os.path.join(os.path.dirname(HERE), "bindings", "python")
    res = {m: {n: [] for n, _ in systems} for m in a.models}
    agree = {m: {} for m in a.models}  # model -> peer -> (ok, max relative difference)
    with tempfile.TemporaryDirectory(prefix="bench_cputime-") as tmp:
        for r in range(a.rounds):
            for m in a.models:
                saved = {}
                for name, lib in systems:
                    env = dict(os.environ)
                    if lib:
                        env["AISTACK_LIBRARY"] = lib
                    saved[name] = os.path.join(tmp, f"{len(saved)}.npz") if r == 0 and a.lib else ""
                    out = subprocess.run([sys.executable, "-c", CHILD, name if lib is None else
                                          "aistack", m, str(a.threads), str(a.iters), binding,
                                          HERE, saved[name]],
                                         env=env, capture_output=True, text=True, check=True)
                    res[m][name].append(json.loads(out.stdout.strip().splitlines()[-1]))
                if r == 0 and a.lib:
                    agree[m] = check_peers(saved, systems[0][0], peers)
    basis = "CPU" if a.threads == 1 else "wall"
    print(f"threads={a.threads} rounds={a.rounds} iters={a.iters} (median of round medians; "
          f"ratios of {basis} time)")
    label = {"ort": "ORT", "openvino": "OpenVINO"}
    print("| model | system | CPU ms/run | wall ms/run |" +
          "".join(f" {basis} vs {label[p]} |" for p in peers))
    print("|---|---|---|---|" + "---|" * len(peers))
    table = {}
    for m in a.models:
        med = {n: (statistics.median(r["cpu_ms"] for r in v), statistics.median(r["wall_ms"] for r in v))
               for n, v in res[m].items()}
        table[m] = med
        k = 0 if basis == "CPU" else 1
        for n, cw in med.items():
            cells = ["" if n == p else "mismatch" if not agree[m].get(p, (True,))[0]
                     else f"{cw[k] / med[p][k]:.2f}" for p in peers]
            print(f"| {os.path.basename(m)} | {n} | {cw[0]:.2f} | {cw[1]:.2f} |" +
                  "".join(f" {c} |" for c in cells))
    for m in a.models:
        for p, (ok, err) in agree[m].items():
            print(f"{os.path.basename(m)}: {label[p]}'s outputs against {systems[0][0]}'s: "
                  f"{'agree' if ok else 'MISMATCH'} (max relative difference {err:.2e})")
    if a.json:
        with open(a.json, "w") as f:
            json.dump({"threads": a.threads, "rounds": a.rounds, "iters": a.iters, "results": table,
                       "outputs_agree": {m: {p: {"ok": ok, "max_rel_diff": err}
                                             for p, (ok, err) in v.items()}
                                         for m, v in agree.items()}}, f, indent=1)
    return 0 if all(ok for v in agree.values() for ok, _ in v.values()) else 1


def check_peers(saved, ours, peers):
    """{peer: (ok, max relative difference)} of each peer's outputs against build `ours`'s."""
    def load(path):
        with np.load(path) as z:
            return [z[f"arr_{i}"] for i in range(len(z.files))]
    want = load(saved[ours])
    return {p: check_outputs(load(saved[p]), want) for p in peers}


if __name__ == "__main__":
    sys.exit(main())
