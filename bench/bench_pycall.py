"""Per-call overhead of the Python binding: session.run on the digits MLP at batch 1, against
ONNX Runtime's Python API on the same model and input (issue 11 item 5).

Each round of each system runs in a fresh process of its own (ONNX Runtime's thread pool spins
after a run and would slow whatever ran next in the same process), the systems alternating
round by round; the figure is the median over the rounds of the per-call mean of N calls.

    .venv/bin/python bench/bench_pycall.py [--rounds 7] [--calls 20000] [--binding DIR]
                                           [--before DIR]

--binding DIR imports the aistack package from DIR instead of this checkout's
bindings/python; --before DIR adds a third system, the package in DIR (e.g. a copy of an older
bindings/python), to the same alternating rounds. The library is found as usual
(AISTACK_LIBRARY, which a copied package needs).

--callgrind counts instructions instead of timing (valgrind --tool=callgrind, load-independent):
each system runs twice under callgrind, with N and 3N timed calls after the same warm-up, and
the difference over 2N is its instructions per call.
"""
from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
MODEL = os.path.join(ROOT, "models", "digits_mlp.onnx")
INPUT = os.path.join(ROOT, "models", "digits", "test0_label2.npy")


def one_round(system: str, calls: int, binding: str) -> float:
    """Microseconds per call of one round in this process (after 1000 warm-up calls)."""
    import numpy as np
    x = np.load(INPUT)
    if system.startswith("aistack"):
        sys.path.insert(0, binding)
        import aistack
        sess = aistack.Model(MODEL, threads=1).session()
        run = lambda: sess.run({"pixels": x})  # noqa: E731
    else:
        import onnxruntime as ort
        so = ort.SessionOptions()
        so.intra_op_num_threads = 1
        so.inter_op_num_threads = 1
        sess = ort.InferenceSession(MODEL, so, providers=["CPUExecutionProvider"])
        run = lambda: sess.run(None, {"pixels": x})  # noqa: E731
    for _ in range(1000):
        run()
    t = time.perf_counter()
    for _ in range(calls):
        run()
    return (time.perf_counter() - t) / calls * 1e6


def callgrind(systems: list, a: argparse.Namespace) -> int:
    import re
    import tempfile
    print(f"digits MLP, batch 1, 1 thread: instructions per call (callgrind, {a.calls} and "
          f"{3 * a.calls} calls)")
    with tempfile.TemporaryDirectory() as tmp:
        for system in systems:
            binding = a.before if system == "aistack-before" else a.binding
            total = []
            for n in (a.calls, 3 * a.calls):
                out = os.path.join(tmp, f"{system}.{n}")
                subprocess.run(["valgrind", "--tool=callgrind", f"--callgrind-out-file={out}",
                                sys.executable, os.path.abspath(__file__), "--one", system,
                                "--calls", str(n), "--binding", binding],
                               check=True, capture_output=True)
                with open(out) as f:
                    total.append(int(re.search(r"^totals: (\d+)", f.read(), re.M).group(1)))
            print(f"  {system:14s} {(total[1] - total[0]) / (2 * a.calls):9.0f} instructions/call")
    return 0


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--rounds", type=int, default=7)
    ap.add_argument("--calls", type=int, default=20000)
    ap.add_argument("--binding", default=os.path.join(ROOT, "bindings", "python"))
    ap.add_argument("--before", help="another aistack package folder, timed alongside")
    ap.add_argument("--one", choices=["aistack", "aistack-before", "onnxruntime"],
                    help=argparse.SUPPRESS)
    ap.add_argument("--callgrind", action="store_true",
                    help="instructions per call (valgrind) instead of time")
    a = ap.parse_args()
    if a.one:
        print(one_round(a.one, a.calls, os.path.abspath(a.binding)))
        return 0
    times = {"aistack": [], "onnxruntime": []}
    if a.before:
        times["aistack-before"] = []
    if a.callgrind:
        return callgrind(list(times), a)
    for _ in range(a.rounds):
        for system in times:
            binding = a.before if system == "aistack-before" else a.binding
            out = subprocess.run([sys.executable, os.path.abspath(__file__), "--one", system,
                                  "--calls", str(a.calls), "--binding", binding],
                                 check=True, capture_output=True, text=True).stdout
            times[system].append(float(out.split()[-1]))
    med = {s: statistics.median(v) for s, v in times.items()}
    print(f"digits MLP, batch 1, 1 thread: median of {a.rounds} rounds x {a.calls} calls")
    for s, v in times.items():
        print(f"  {s:14s} {med[s]:7.2f} us/call  (rounds: {' '.join(f'{t:.1f}' for t in v)})")
    for s in times:
        if s != "onnxruntime":
            print(f"  {s} / onnxruntime = {med[s] / med['onnxruntime']:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
