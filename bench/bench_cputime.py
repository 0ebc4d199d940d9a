#!/usr/bin/env python3
"""Per-run CPU time of libaistack builds and ONNX Runtime on the same models, alternating.

    python bench/bench_cputime.py MODEL.onnx... [--lib NAME=PATH]... [--ort] [--threads 1]
                                  [--rounds 3] [--iters 10]

On a machine shared with other work, wall-clock latency swings with whatever else runs; the CPU
time of the calling thread (time.thread_time around each run) does not count the waits, so at
one thread it compares kernels fairly even under load (at two threads it counts only the
caller's share; use wall time on a quiet machine for scaling). Every round runs each system in
a fresh process (a libaistack build chosen by its path through AISTACK_LIBRARY, or ONNX Runtime
with intra_op_num_threads = T), systems alternating round by round, on the inputs MODEL.npz
holds when it exists (bench/models.py writes them) or seeded random ones. Prints the median
over rounds of each round's median per model and system, and the ratio to ONNX Runtime.
"""
import argparse
import json
import os
import statistics
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))

CHILD = r'''
import json, sys, time, statistics
import numpy as np
system, path, threads, iters = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
sys.path.insert(0, sys.argv[5])
try:
    z = np.load(path[:-5] + ".npz"); feeds = [z[k] for k in sorted(z.files)]
except OSError:
    import onnx
    m = onnx.load(path, load_external_data=False)
    inits = {i.name for i in m.graph.initializer}
    rng = np.random.default_rng(0)
    feeds = [rng.standard_normal([d.dim_value or 1 for d in i.type.tensor_type.shape.dim])
             .astype(np.float32) for i in m.graph.input if i.name not in inits]
if system == "ort":
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
for _ in range(3):
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
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--iters", type=int, default=10)
    ap.add_argument("--json", help="write the numbers here")
    a = ap.parse_args()
    systems = [tuple(x.split("=", 1)) for x in a.lib] + ([("ort", None)] if a.ort else [])
    if not systems:
        ap.error("nothing to run: give --lib NAME=PATH and/or --ort")
    binding = os.path.join(os.path.dirname(HERE), "bindings", "python")
    res = {m: {n: [] for n, _ in systems} for m in a.models}
    for _ in range(a.rounds):
        for m in a.models:
            for name, lib in systems:
                env = dict(os.environ)
                if lib:
                    env["AISTACK_LIBRARY"] = lib
                out = subprocess.run([sys.executable, "-c", CHILD, "ort" if lib is None else
                                      "aistack", m, str(a.threads), str(a.iters), binding],
                                     env=env, capture_output=True, text=True, check=True)
                res[m][name].append(json.loads(out.stdout.strip().splitlines()[-1]))
    print(f"threads={a.threads} rounds={a.rounds} iters={a.iters} (median of round medians)")
    print("| model | system | CPU ms/run | wall ms/run | CPU vs ORT |")
    print("|---|---|---|---|---|")
    table = {}
    for m in a.models:
        med = {n: (statistics.median(r["cpu_ms"] for r in v), statistics.median(r["wall_ms"] for r in v))
               for n, v in res[m].items()}
        table[m] = med
        for n, (c, w) in med.items():
            ratio = f"{c / med['ort'][0]:.2f}" if "ort" in med and n != "ort" else ""
            print(f"| {os.path.basename(m)} | {n} | {c:.2f} | {w:.2f} | {ratio} |")
    if a.json:
        with open(a.json, "w") as f:
            json.dump({"threads": a.threads, "rounds": a.rounds, "iters": a.iters, "results": table}, f, indent=1)


if __name__ == "__main__":
    main()
