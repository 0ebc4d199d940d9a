#!/usr/bin/env python3
"""libaistack against ONNX Runtime and OpenVINO (CPU, fp32) on one model set.

    python bench/harness.py [--models a,b] [--threads 1,2] [--quick] [--rounds 5] [--json FILE]

For each model of bench/models.py (random seeded weights; made once and kept in --model-dir) and
each thread count T of --threads:
  * every system runs in a process of its own (a worker: this file with --worker), so one
    system's threads, which may spin after a run, never share a process with the next system's
    round; the workers are started one after the other and report their load time;
  * outputs are checked first: each system's outputs on the same inputs against ONNX Runtime's
    (rtol 1e-3, atol 1e-4 scaled down for outputs far below 1); a system that disagrees gets
    "mismatch" instead of a ratio and the harness exits 1;
  * after warm-up, the systems take turns round by round (A B C, B C A, C A B, ...; --rounds
    rounds of about --round-seconds each, a pause of --gap-ms between rounds), and a figure is
    the median latency of single runs over all rounds (--stat min: the minimum, steadier when
    other work shares the machine). For a single alternation of runs, use --round-seconds 0
    --min-iters 1 --rounds N.
Systems: libaistack through its Python binding (session threads=T, ais_set_num_threads(T));
ONNX Runtime (intra_op_num_threads=T, inter_op_num_threads=1, sequential, all graph
optimizations); OpenVINO (INFERENCE_NUM_THREADS=T, INFERENCE_PRECISION_HINT=f32,
PERFORMANCE_HINT=LATENCY, NUM_STREAMS=1). A peer that is not installed is left out (the versions
the tables are made with are pinned in bench/requirements.txt).

It prints markdown tables (ratios are libaistack / peer: below 1 means libaistack is faster),
with geometric means, the 1-to-2-thread scaling of each system, and the round-to-round spread,
and writes every number as JSON (default bench/results/harness-DATE.json).
"""
import argparse
import datetime
import json
import math
import os
import platform
import statistics
import subprocess
import sys
import time

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(ROOT, "bindings", "python"))

ALL_SYSTEMS = ("aistack", "ort", "openvino")
# "base": libaistack again, from --base-library (another build, e.g. main before a change), as
# one more peer in the same alternation.
PEER_MODULE = {"aistack": "aistack", "base": "aistack", "ort": "onnxruntime",
               "openvino": "openvino"}
LABEL = {"aistack": "aistack", "base": "base", "ort": "ORT", "openvino": "OpenVINO"}
STAT = "median_ms"  # what the ratio tables compare (--stat)
RTOL, ATOL = 1e-3, 1e-4


# ---- the worker: one system, one model, one thread count, in its own process ----

def make_runner(system, onnx_path, threads, in_names):
    """-> run(inputs) -> [np.ndarray], in the model's output order."""
    if system in ("aistack", "base"):
        import aistack
        aistack.set_num_threads(threads)  # also the eager API's and BLAS's width
        model = aistack.Model(onnx_path)
        sess = model.session(threads=threads)
        out_names = [o.name for o in model.outputs]

        def run(inputs):
            res = sess.run(dict(zip(in_names, inputs)))
            return [res[n] for n in out_names]
        run.keep = (model, sess)
        return run
    if system == "ort":
        import onnxruntime as ort
        o = ort.SessionOptions()
        o.intra_op_num_threads = threads
        o.inter_op_num_threads = 1
        o.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
        o.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        sess = ort.InferenceSession(onnx_path, o, providers=["CPUExecutionProvider"])
        out_names = [o.name for o in sess.get_outputs()]

        def run(inputs):
            return sess.run(out_names, dict(zip(in_names, inputs)))
        run.keep = sess
        return run
    if system == "openvino":
        import openvino as ov
        core = ov.Core()
        compiled = core.compile_model(core.read_model(onnx_path), "CPU", {
            "INFERENCE_NUM_THREADS": threads, "INFERENCE_PRECISION_HINT": "f32",
            "PERFORMANCE_HINT": "LATENCY", "NUM_STREAMS": 1})
        req = compiled.create_infer_request()
        n_out = len(compiled.outputs)

        def run(inputs):
            res = req.infer(dict(zip(in_names, inputs)))
            return [np.array(res[compiled.outputs[i]]) for i in range(n_out)]
        run.keep = (compiled, req)
        return run
    raise ValueError(f"unknown system {system!r}")


def worker(system, onnx_path, npz_path, threads, out_npz):
    """Loads, writes its outputs to out_npz, then answers commands on stdin, one JSON line each:
    'warm SECONDS' -> seconds per run; 'run N' -> N latencies in ms; 'quit'."""
    import models
    in_names, inputs = models.load_inputs(npz_path)
    if system == "base" and os.environ.get("AISTACK_BASE_BINDINGS"):
        # an older build needs its own binding (a newer one calls functions it lacks)
        sys.path.insert(0, os.environ["AISTACK_BASE_BINDINGS"])
    __import__(PEER_MODULE[system])  # the import is not part of the load time
    t0 = time.perf_counter()
    run = make_runner(system, onnx_path, threads, in_names)
    load_ms = (time.perf_counter() - t0) * 1e3
    outs = run(inputs)
    np.savez(out_npz, *[np.asarray(o) for o in outs])
    print(json.dumps({"load_ms": load_ms}), flush=True)
    for line in sys.stdin:
        cmd = line.split()
        if not cmd or cmd[0] == "quit":
            break
        if cmd[0] == "warm":
            t0, n = time.perf_counter(), 0
            while n < 3 or time.perf_counter() - t0 < float(cmd[1]):
                run(inputs)
                n += 1
            print(json.dumps({"per_run_s": (time.perf_counter() - t0) / n}), flush=True)
        elif cmd[0] == "run":
            lat = []
            for _ in range(int(cmd[1])):
                t = time.perf_counter()
                run(inputs)
                lat.append((time.perf_counter() - t) * 1e3)
            print(json.dumps({"lat_ms": lat}), flush=True)
    return 0


class Worker:
    def __init__(self, system, onnx_path, npz_path, threads, out_npz, env=None):
        self.system = system
        self.p = subprocess.Popen(
            [sys.executable, os.path.abspath(__file__), "--worker", system, onnx_path, npz_path,
             str(threads), out_npz], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
            stderr=subprocess.PIPE, text=True, env=env)
        self.out_npz = out_npz
        self.load_ms = self._read()["load_ms"]

    def _read(self):
        line = self.p.stdout.readline()
        if not line:
            err = self.p.stderr.read()
            self.p.wait()
            raise RuntimeError(f"{self.system} worker failed (exit {self.p.returncode}):\n"
                               f"{err[-4000:]}")
        return json.loads(line)

    def ask(self, cmd):
        self.p.stdin.write(cmd + "\n")
        self.p.stdin.flush()
        return self._read()

    def outputs(self):
        with np.load(self.out_npz) as z:
            return [z[f"arr_{i}"] for i in range(len(z.files))]

    def close(self):
        if self.p.poll() is None:
            try:
                self.p.stdin.write("quit\n")
                self.p.stdin.flush()
            except BrokenPipeError:
                pass
            try:
                self.p.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.p.kill()
                self.p.wait()
        self.p.stdout.close()
        self.p.stderr.close()
        self.p.stdin.close()


# ---- measurement ----

def check_outputs(got, want):
    """(ok, max relative difference) of one system's outputs against the reference's: rtol 1e-3
    and atol 1e-4, the atol scaled down for outputs much smaller than 1 (random weights can make
    logits near 1e-13, where a plain atol of 1e-4 would accept anything). The relative
    difference is max |got - want| / max |want| per output."""
    if len(got) != len(want):
        return False, float("inf")
    ok, worst = True, 0.0
    for g, w in zip(got, want):
        if g.shape != w.shape:
            return False, float("inf")
        if not w.size:
            continue
        g64, w64 = g.astype(np.float64), w.astype(np.float64)
        scale = float(np.max(np.abs(w64)))
        worst = max(worst, float(np.max(np.abs(g64 - w64))) / (scale or 1.0))
        ok = ok and bool(np.allclose(g64, w64, rtol=RTOL, atol=ATOL * min(1.0, scale)))
    return ok, worst


def bench_cell(key, onnx_path, npz_path, threads, systems, args, tmp):
    """One model at one thread count: {system: {...}}."""
    workers = {}
    res = {}
    try:
        for s in systems:  # one after the other: loading is timed too
            env = None
            if s == "base":
                env = dict(os.environ, AISTACK_LIBRARY=os.path.abspath(args.base_library))
                # the base build's source tree (LIB in TREE/BUILD/): its Python binding
                tree_py = os.path.join(os.path.dirname(os.path.dirname(
                    os.path.abspath(args.base_library))), "bindings", "python")
                if os.path.isdir(tree_py):
                    env["AISTACK_BASE_BINDINGS"] = tree_py
            workers[s] = Worker(s, onnx_path, npz_path, threads,
                                os.path.join(tmp, f"{key}-{s}-t{threads}.npz"), env)
        ref_sys = "ort" if "ort" in systems else systems[0]
        want = workers[ref_sys].outputs()
        for s in systems:
            ok, err = check_outputs(workers[s].outputs(), want)
            res[s] = {"load_ms": workers[s].load_ms, "outputs_match": ok, "max_rel_diff": err,
                      "reference": ref_sys, "lat_ms": [], "round_medians_ms": []}
        iters = {}
        for s in systems:
            per = workers[s].ask(f"warm {args.warmup_seconds}")["per_run_s"]
            iters[s] = int(min(args.max_iters, max(args.min_iters, args.round_seconds / per)))
        for r in range(args.rounds):
            order = systems[r % len(systems):] + systems[:r % len(systems)]
            for s in order:
                time.sleep(args.gap_ms / 1e3)  # lets a peer's spinning threads go to sleep
                lat = workers[s].ask(f"run {iters[s]}")["lat_ms"]
                res[s]["lat_ms"] += lat
                res[s]["round_medians_ms"].append(statistics.median(lat))
    finally:
        for w in workers.values():
            w.close()
    for s in systems:
        xs = res[s]["lat_ms"]
        rm = res[s]["round_medians_ms"]
        res[s].update({"runs": len(xs), "median_ms": statistics.median(xs), "min_ms": min(xs),
                       "p90_ms": float(np.percentile(xs, 90)),
                       "p99_ms": float(np.percentile(xs, 99)),
                       "spread": (max(rm) - min(rm)) / statistics.median(rm)})
    return res


def geomean(xs):
    xs = [x for x in xs if x and x > 0 and math.isfinite(x)]
    return math.exp(sum(math.log(x) for x in xs) / len(xs)) if xs else float("nan")


def ratio_cell(cell, peer):
    """aistack / peer median latency, or 'mismatch', or None when missing."""
    if not cell or "aistack" not in cell or peer not in cell:
        return None
    if not (cell["aistack"]["outputs_match"] and cell[peer]["outputs_match"]):
        return "mismatch"
    return cell["aistack"][STAT] / cell[peer][STAT]


def fmt(x, digits=2):
    if x is None:
        return "-"
    if isinstance(x, str):
        return x
    return f"{x:.{digits}f}"


def tables(results, threads, systems):
    peers = [s for s in systems if s != "aistack"]
    out = [f"Latency statistic: {STAT[:-3]} of single runs, ms; ratios are aistack / peer.", ""]
    # 1. ratios
    head = ["model"] + [f"aistack ms ({t} thr)" for t in threads]
    head += [f"vs {LABEL[p]} {t} thr" for p in peers for t in threads]
    out += ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    cols = {(p, t): [] for p in peers for t in threads}
    for r in results:
        row = [r["model"]]
        for t in threads:
            c = r["cells"].get(str(t), {})
            row.append(fmt(c["aistack"][STAT], 3) if "aistack" in c else "-")
        for p in peers:
            for t in threads:
                x = ratio_cell(r["cells"].get(str(t)), p)
                if isinstance(x, float):
                    cols[(p, t)].append(x)
                row.append(fmt(x))
        out.append("| " + " | ".join(row) + " |")
    if "aistack" in systems and peers:
        row = ["**geometric mean**"] + [""] * len(threads)
        row += [f"**{fmt(geomean(cols[(p, t)]))}**" for p in peers for t in threads]
        out.append("| " + " | ".join(row) + " |")
    out.append("")
    # 2. medians of every system and the thread scaling
    head = ["model"] + [f"{LABEL[s]} ms {t} thr" for s in systems for t in threads]
    scal = len(threads) > 1
    if scal:
        head += [f"{LABEL[s]} {threads[0]}->{threads[-1]} thr speed-up" for s in systems]
    out += ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    sp = {s: [] for s in systems}
    for r in results:
        row = [r["model"]]
        for s in systems:
            for t in threads:
                c = r["cells"].get(str(t), {})
                row.append(fmt(c[s][STAT], 3) if s in c else "-")
        if scal:
            for s in systems:
                a = r["cells"].get(str(threads[0]), {}).get(s)
                b = r["cells"].get(str(threads[-1]), {}).get(s)
                x = a[STAT] / b[STAT] if a and b else None
                if x:
                    sp[s].append(x)
                row.append(fmt(x))
        out.append("| " + " | ".join(row) + " |")
    if scal:
        row = ["**geometric mean**"] + [""] * (len(systems) * len(threads))
        row += [f"**{fmt(geomean(sp[s]))}**" for s in systems]
        out.append("| " + " | ".join(row) + " |")
    out.append("")
    # 3. outputs, load, spread
    head = ["model"] + [f"{LABEL[s]} rel. diff" for s in systems if s != "ort"]
    head += [f"{LABEL[s]} load ms" for s in systems]
    head += ["worst round spread"]
    out += ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for r in results:
        cells = [c for c in r["cells"].values() if c]
        row = [r["model"]]
        for s in systems:
            if s == "ort":
                continue
            errs = [c[s]["max_rel_diff"] for c in cells if s in c]
            bad = any(not c[s]["outputs_match"] for c in cells if s in c)
            row.append(("MISMATCH " if bad else "") + (f"{max(errs):.1e}" if errs else "-"))
        for s in systems:
            loads = [c[s]["load_ms"] for c in cells if s in c]
            row.append(fmt(statistics.median(loads), 1) if loads else "-")
        spreads = [c[s]["spread"] for c in cells for s in c]
        row.append(f"{100 * max(spreads):.0f}%" if spreads else "-")
        out.append("| " + " | ".join(row) + " |")
    return "\n".join(out)


def cpu_model():
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor()


def available(system):
    try:
        __import__(PEER_MODULE[system])
        return True
    except Exception:  # noqa: BLE001 - a broken install counts as absent too
        return False


def version_of(system):
    try:
        if system == "aistack":
            import aistack
            return aistack.version()
        return __import__(PEER_MODULE[system]).__version__
    except Exception:  # noqa: BLE001
        return None


def main():
    if len(sys.argv) > 1 and sys.argv[1] == "--worker":
        s, onnx_path, npz_path, threads, out_npz = sys.argv[2:7]
        return worker(s, onnx_path, npz_path, int(threads), out_npz)
    import models
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true", help="small models, short rounds (smoke test)")
    ap.add_argument("--models", help="comma-separated keys of bench/models.py (default: all)")
    ap.add_argument("--threads", default="1,2", help="thread counts (default 1,2)")
    ap.add_argument("--systems", default=",".join(ALL_SYSTEMS),
                    help="systems to run, of aistack,ort,openvino (default: all installed)")
    ap.add_argument("--rounds", type=int, default=5, help="alternating rounds per system")
    ap.add_argument("--round-seconds", type=float, default=0.5, help="target length of a round")
    ap.add_argument("--warmup-seconds", type=float, default=0.3)
    ap.add_argument("--min-iters", type=int, default=3)
    ap.add_argument("--max-iters", type=int, default=2000)
    ap.add_argument("--gap-ms", type=float, default=20.0, help="pause before each round")
    ap.add_argument("--model-dir", default=os.path.join(HERE, "results", "models"),
                    help="where generated models are kept and reused (default bench/results/models)")
    ap.add_argument("--regenerate", action="store_true", help="make the models afresh")
    ap.add_argument("--json", help="results file (default bench/results/harness-DATE.json)")
    ap.add_argument("--markdown", help="also write the tables to this file")
    ap.add_argument("--base-library", help="also run libaistack from this libaistack.so as the "
                    "peer 'base' (e.g. a build of main, to measure a change)")
    ap.add_argument("--stat", choices=("median", "min"), default="median",
                    help="the latency statistic the tables compare (default median; min is "
                         "steadier on a machine shared with other work)")
    ap.add_argument("--from-json", metavar="FILE",
                    help="print the tables of an earlier run's JSON (with this --stat) and exit")
    ap.add_argument("--no-memory", action="store_true",
                    help="accepted for compatibility; memory is measured by bench_load.py")
    args = ap.parse_args()
    args.threads = [int(t) for t in args.threads.split(",")]
    global STAT
    STAT = args.stat + "_ms"
    if args.from_json:
        with open(args.from_json) as f:
            doc = json.load(f)
        threads = doc["settings"]["threads"]
        cells = [c for r in doc["results"] for c in r["cells"].values() if c]
        systems = [s for s in ("aistack", "base", "ort", "openvino") if cells and s in cells[0]]
        print(tables(doc["results"], threads, systems))
        return 0
    if args.quick:
        args.rounds, args.round_seconds, args.warmup_seconds = 2, 0.05, 0.05
        args.model_dir = os.path.join(args.model_dir, "quick")  # same keys, smaller models
    catalog = dict(models.MODELS)
    if args.quick:
        catalog = dict(models.QUICK)
    keys = args.models.split(",") if args.models else list(catalog)
    for k in keys:
        if k not in catalog and k not in models.MODELS and k not in models.QUICK:
            ap.error(f"unknown model {k!r}; known: {', '.join(list(models.MODELS) + list(models.QUICK))}")
    systems = []
    for s in args.systems.split(","):
        if s not in ALL_SYSTEMS:
            ap.error(f"unknown system {s!r}; known: {', '.join(ALL_SYSTEMS)}")
        if available(s):
            systems.append(s)
        else:
            print(f"note: {s} ({PEER_MODULE[s]}) is not installed here; left out "
                  f"(pip install -r bench/requirements.txt)", file=sys.stderr)
    if "aistack" not in systems:
        ap.error("aistack cannot be imported (build it, or set AISTACK_LIBRARY)")
    if args.base_library:
        if not os.path.exists(args.base_library):
            ap.error(f"--base-library {args.base_library}: no such file")
        systems.insert(1, "base")

    started = datetime.datetime.now(datetime.timezone.utc)
    load0 = os.getloadavg()[0]
    results = []
    os.makedirs(args.model_dir, exist_ok=True)
    tmp = os.path.join(args.model_dir, f"outputs-{os.getpid()}")
    os.makedirs(tmp, exist_ok=True)
    failed = False
    try:
        for key in keys:
            spec = catalog.get(key) or models.MODELS.get(key) or models.QUICK[key]
            onnx_path = os.path.join(args.model_dir, key + ".onnx")
            npz_path = os.path.join(args.model_dir, key + ".npz")
            t0 = time.perf_counter()
            if args.regenerate or not (os.path.exists(onnx_path) and os.path.exists(npz_path)):
                onnx_path, npz_path, _, _ = models.generate(args.model_dir, key, spec)
            print(f"== {key}: {spec[0]} (ready in {time.perf_counter() - t0:.1f} s)", flush=True)
            r = {"model": key, "description": spec[0], "cells": {}}
            for t in args.threads:
                try:
                    cell = bench_cell(key, onnx_path, npz_path, t, systems, args, tmp)
                except RuntimeError as e:
                    print(f"   t{t}: {e}", file=sys.stderr, flush=True)
                    failed = True
                    r["cells"][str(t)] = {}
                    continue
                r["cells"][str(t)] = {s: {k: v for k, v in c.items() if k != "lat_ms"}
                                      for s, c in cell.items()}
                line = "  ".join(f"{s} {c['median_ms']:.3f} ms"
                                 + ("" if c["outputs_match"] else " MISMATCH")
                                 for s, c in cell.items())
                print(f"   t{t}: {line}", flush=True)
            results.append(r)
    finally:
        for f in os.listdir(tmp):
            os.unlink(os.path.join(tmp, f))
        os.rmdir(tmp)
    text = tables(results, args.threads, systems)
    print()
    print(text)
    import aistack
    doc = {
        "command": " ".join(["python", os.path.relpath(os.path.abspath(__file__), ROOT)]
                            + sys.argv[1:]),
        "date_utc": started.isoformat(timespec="seconds"),
        "load_average_start_end": [load0, os.getloadavg()[0]],
        "cpu": cpu_model(), "cores": os.cpu_count(), "python": platform.python_version(),
        "versions": {s: version_of(s) for s in systems if s != "base"} | {"numpy": np.__version__},
        "base_library": args.base_library,
        "aistack_library": aistack.library_path,
        "settings": {k: v for k, v in vars(args).items()},
        "rtol": RTOL, "atol": ATOL, "results": results, "table_markdown": text,
    }
    out = args.json or os.path.join(HERE, "results",
                                    f"harness-{started.strftime('%Y%m%dT%H%M%SZ')}"
                                    f"{'-quick' if args.quick else ''}.json")
    os.makedirs(os.path.dirname(os.path.abspath(out)), exist_ok=True)
    with open(out, "w") as f:
        json.dump(doc, f, indent=1)
    if args.markdown:
        with open(args.markdown, "w") as f:
            f.write(text + "\n")
    print(f"\nwrote {out} (load average {load0:.1f} at the start, "
          f"{os.getloadavg()[0]:.1f} at the end)")
    bad = sorted({r["model"] for r in results for c in r["cells"].values()
                  for s in c if not c[s]["outputs_match"]})
    if bad:
        print(f"outputs differ from ONNX Runtime's for: {', '.join(bad)}", file=sys.stderr)
        return 1
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
