#!/usr/bin/env python3
"""libaistack against ONNX Runtime (CPU) and PyTorch on one model set, in one run.

    .venv/bin/python bench/harness.py [--quick] [--threads 1,2] [--passes 6] [--json FILE]

For every model of bench/models.py (generated with random weights, exported to ONNX) it measures
  * load time: aistack Model + Session, ORT InferenceSession, torch.load of the saved module
    (medians of --load-runs, alternated);
  * latency (median, p90, p99 of single runs) and throughput (items/s over all timed runs) at each
    thread count of --threads (aistack session threads, ORT intra_op_num_threads with
    inter_op_num_threads=1 and all graph optimizations, torch.set_num_threads + inference_mode);
  * peak memory: in a fresh process per system, how much loading and 10 runs raised the peak
    resident set (VmHWM) above the resident set before loading.
Systems alternate pass by pass (A B C A B C ...), since identical passes on a shared machine
differ by up to 15%; every system gets the same inputs, after warm-up; every system's outputs are
checked against PyTorch (rtol 1e-3, atol 1e-4) and a mismatching system gets no ratio.
All systems are driven from Python (ctypes for aistack, the official bindings for the others), so
each pays a similar per-call overhead. It prints ratio tables (aistack / peer: below 1 means
aistack is faster or smaller) and writes all numbers as JSON (default bench/results/).
"""
import argparse
import datetime
import gc
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(ROOT, "bindings", "python"))

SYSTEMS = ("aistack", "ort", "torch")
RTOL, ATOL = 1e-3, 1e-4


# ---- the three systems: load(path) -> runner(threads) -> run(inputs) -> [np.ndarray] ----

def load_system(system, onnx_path, pt_path):
    if system == "aistack":
        import aistack
        return aistack.Model(onnx_path)
    if system == "ort":
        return onnx_path  # a session is made per thread count; its creation is the load
    import torch
    return torch.load(pt_path)


def make_runner(system, loaded, threads, in_names, out_names):
    if system == "aistack":
        import aistack
        aistack.set_num_threads(threads)  # also BLAS's thread count
        sess = loaded.session(threads=threads)

        def run(inputs):
            res = sess.run(dict(zip(in_names, inputs)))
            return [res[n] for n in out_names]
        return run, sess
    if system == "ort":
        import onnxruntime as ort
        o = ort.SessionOptions()
        o.intra_op_num_threads = threads
        o.inter_op_num_threads = 1
        o.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
        o.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        sess = ort.InferenceSession(loaded, o, providers=["CPUExecutionProvider"])

        def run(inputs):
            return sess.run(out_names, dict(zip(in_names, inputs)))
        return run, sess
    import torch

    torch.set_num_threads(threads)

    def run(inputs):
        with torch.inference_mode():
            out = loaded(*[torch.from_numpy(x) for x in inputs])
        out = out if isinstance(out, (tuple, list)) else (out,)
        return [o.numpy() for o in out]
    return run, loaded


def set_threads(system, threads):
    """Before each pass: aistack's eager/BLAS threads and PyTorch's may share one BLAS library
    in this process, so each system's count is set again before its pass."""
    if system == "aistack":
        import aistack
        aistack.set_num_threads(threads)
    elif system == "torch":
        import torch
        torch.set_num_threads(threads)


def timed_load(system, onnx_path, pt_path, in_names, out_names):
    t = time.perf_counter()
    loaded = load_system(system, onnx_path, pt_path)
    run, keep = make_runner(system, loaded, 1, in_names, out_names)
    return (time.perf_counter() - t) * 1e3, loaded, run, keep


def rss_kb(field):
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    return 0


def memprobe(system, onnx_path, pt_path, npz_path, in_names, out_names):
    """Runs in a fresh process: MiB that loading + 10 runs add to the peak resident set."""
    import models
    if system == "torch":
        import torch  # noqa: F401 - imported before the baseline, like the others
    elif system == "ort":
        import onnxruntime  # noqa: F401
    else:
        import aistack  # noqa: F401
    inputs = models.load_inputs(npz_path)
    gc.collect()
    before = rss_kb("VmRSS")
    loaded = load_system(system, onnx_path, pt_path)
    run, keep = make_runner(system, loaded, 1, in_names, out_names)
    for _ in range(10):
        run(inputs)
    return max(0, rss_kb("VmHWM") - before) / 1024.0


# ---- measurement ----

def percentile(xs, q):
    return float(np.percentile(np.asarray(xs), q))


def check_outputs(got, want):
    """(ok, max abs error) of outputs against PyTorch's: rtol 1e-3 and atol 1e-4, the atol scaled
    down for outputs much smaller than 1 (a randomly initialized CNN can emit logits near 1e-13,
    where a plain atol of 1e-4 would accept anything)."""
    ok, worst = True, 0.0
    if len(got) != len(want):
        return False, float("inf")
    for g, w in zip(got, want):
        g, w = np.asarray(g), np.asarray(w)
        if g.shape != w.shape or g.dtype != w.dtype:
            return False, float("inf")
        if not g.size:
            continue
        worst = max(worst, float(np.max(np.abs(g.astype(np.float64) - w))))
        scale = float(np.max(np.abs(w))) if np.issubdtype(w.dtype, np.floating) else 1.0
        ok = ok and bool(np.allclose(g, w, rtol=RTOL, atol=ATOL * min(1.0, scale)))
    return ok, worst


def bench_model(key, desc, paths, in_names, out_names, args):
    import models
    onnx_path, pt_path, npz_path = paths
    inputs = models.load_inputs(npz_path)
    batch = int(inputs[0].shape[0])
    res = {"model": key, "description": desc, "batch": batch, "systems": {}}

    # Load time, alternated; the last load is kept for running.
    loads = {s: [] for s in SYSTEMS}
    kept = {}
    for _ in range(args.load_runs):
        for s in SYSTEMS:
            kept.pop(s, None)
            gc.collect()
            ms, loaded, run1, keep = timed_load(s, onnx_path, pt_path, in_names, out_names)
            loads[s].append(ms)
            kept[s] = (loaded, run1, keep)

    # Cross-check against PyTorch on the shared inputs.
    want = kept["torch"][1](inputs)
    for s in SYSTEMS:
        ok, err = check_outputs(kept[s][1](inputs), want)
        res["systems"][s] = {"load_ms": statistics.median(loads[s]), "load_ms_all": loads[s],
                             "outputs_match_torch": ok, "max_abs_err": err, "threads": {}}

    for threads in args.threads:
        runners = {s: make_runner(s, kept[s][0], threads, in_names, out_names)[0]
                   for s in SYSTEMS}
        # Warm-up, and an estimate of one run's time to size the passes.
        iters = {}
        for s in SYSTEMS:
            t0 = time.perf_counter()
            n = 0
            while n < args.warmup or time.perf_counter() - t0 < 0.2:
                runners[s](inputs)
                n += 1
            per = (time.perf_counter() - t0) / n
            iters[s] = int(min(args.max_iters, max(args.min_iters, args.pass_seconds / per)))
        lat = {s: [] for s in SYSTEMS}
        busy = {s: 0.0 for s in SYSTEMS}
        for _ in range(args.passes):
            for s in SYSTEMS:  # A B C, A B C, ...
                run = runners[s]
                set_threads(s, threads)
                t_pass = time.perf_counter()
                for _ in range(iters[s]):
                    t = time.perf_counter()
                    run(inputs)
                    lat[s].append((time.perf_counter() - t) * 1e3)
                busy[s] += time.perf_counter() - t_pass
        for s in SYSTEMS:
            xs = lat[s]
            res["systems"][s]["threads"][str(threads)] = {
                "runs": len(xs), "median_ms": statistics.median(xs),
                "p90_ms": percentile(xs, 90), "p99_ms": percentile(xs, 99),
                "mean_ms": statistics.fmean(xs),
                "throughput_items_s": batch * len(xs) / busy[s]}
        del runners
    kept.clear()
    gc.collect()

    if not args.no_memory:
        for s in SYSTEMS:
            cmd = [sys.executable, os.path.abspath(__file__), "--memprobe", s, onnx_path, pt_path,
                   npz_path, ",".join(in_names), ",".join(out_names)]
            p = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
            if p.returncode != 0:
                raise RuntimeError(f"memory probe {s} {key} failed:\n{p.stderr}")
            res["systems"][s]["peak_mem_mb"] = float(p.stdout.strip().splitlines()[-1])
    return res


def ratio(a, b):
    return a / b if b else float("nan")


def table(results, threads):
    lines = []
    head = (f"| model | thr | aistack median ms | ORT ms | torch ms | ais/ORT median | "
            f"ais/torch median | ais/ORT p99 | ais/torch p99 | ais/ORT throughput time | "
            f"ais/torch throughput time |")
    lines += [head, "|" + "---|" * (head.count("|") - 1)]
    for r in results:
        sy = r["systems"]
        for t in threads:
            a, o, p = (sy[s]["threads"][str(t)] for s in SYSTEMS)

            def rr(peer, field, system, inverse=False):
                if not (sy["aistack"]["outputs_match_torch"] and sy[system]["outputs_match_torch"]):
                    return "mismatch"
                x = ratio(peer[field], a[field]) if inverse else ratio(a[field], peer[field])
                return f"{x:.2f}"
            lines.append(
                f"| {r['model']} | {t} | {a['median_ms']:.3f} | {o['median_ms']:.3f} | "
                f"{p['median_ms']:.3f} | {rr(o, 'median_ms', 'ort')} | "
                f"{rr(p, 'median_ms', 'torch')} | {rr(o, 'p99_ms', 'ort')} | "
                f"{rr(p, 'p99_ms', 'torch')} | {rr(o, 'throughput_items_s', 'ort', True)} | "
                f"{rr(p, 'throughput_items_s', 'torch', True)} |")
    lines.append("")
    head2 = ("| model | aistack load ms | ais/ORT load | ais/torch load | aistack peak MiB | "
             "ais/ORT memory | ais/torch memory | outputs match (ais, ORT) |")
    lines += [head2, "|" + "---|" * (head2.count("|") - 1)]
    for r in results:
        sy = r["systems"]
        a = sy["aistack"]
        mem = ("-", "-", "-")
        if "peak_mem_mb" in a:
            mem = (f"{a['peak_mem_mb']:.1f}",
                   f"{ratio(a['peak_mem_mb'], sy['ort']['peak_mem_mb']):.2f}",
                   f"{ratio(a['peak_mem_mb'], sy['torch']['peak_mem_mb']):.2f}")
        lines.append(
            f"| {r['model']} | {a['load_ms']:.1f} | {ratio(a['load_ms'], sy['ort']['load_ms']):.2f}"
            f" | {ratio(a['load_ms'], sy['torch']['load_ms']):.2f} | {mem[0]} | {mem[1]} | "
            f"{mem[2]} | {a['outputs_match_torch']} ({a['max_abs_err']:.1e}), "
            f"{sy['ort']['outputs_match_torch']} ({sy['ort']['max_abs_err']:.1e}) |")
    return "\n".join(lines)


def cpu_model():
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor()


def main():
    if len(sys.argv) > 1 and sys.argv[1] == "--memprobe":
        s, onnx_path, pt_path, npz_path, ins, outs = sys.argv[2:8]
        print(memprobe(s, onnx_path, pt_path, npz_path, ins.split(","), outs.split(",")))
        return 0
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true", help="small models, one short pass (smoke test)")
    ap.add_argument("--models", help="comma-separated keys of bench/models.py (default: all)")
    ap.add_argument("--threads", default="1,2", help="thread counts (default 1,2)")
    ap.add_argument("--passes", type=int, default=6, help="alternating passes per system")
    ap.add_argument("--pass-seconds", type=float, default=0.6, help="target length of one pass")
    ap.add_argument("--min-iters", type=int, default=5)
    ap.add_argument("--max-iters", type=int, default=1000)
    ap.add_argument("--warmup", type=int, default=5)
    ap.add_argument("--load-runs", type=int, default=3)
    ap.add_argument("--no-memory", action="store_true", help="skip the peak-memory probes")
    ap.add_argument("--model-dir", help="where generated models go (default: a temporary folder)")
    ap.add_argument("--json", help="results file (default bench/results/harness-DATE.json)")
    args = ap.parse_args()
    args.threads = [int(t) for t in args.threads.split(",")]
    if args.quick:
        args.passes, args.pass_seconds, args.min_iters, args.load_runs = 2, 0.05, 3, 1
        args.warmup = 2

    import models
    import aistack
    import onnxruntime
    import torch
    catalog = models.QUICK if args.quick else models.MODELS
    keys = args.models.split(",") if args.models else list(catalog)
    started = datetime.datetime.now(datetime.timezone.utc)
    results = []
    with tempfile.TemporaryDirectory(prefix="aistack-bench-") as tmp:
        mdir = args.model_dir or tmp
        for key in keys:
            if key not in catalog:
                ap.error(f"unknown model {key!r}; known: {', '.join(catalog)}")
            desc = catalog[key][0]
            t0 = time.perf_counter()
            onnx_path, pt_path, npz_path, ins, outs = models.generate(mdir, key, catalog[key])
            print(f"== {key}: {desc} (generated in {time.perf_counter() - t0:.1f} s)", flush=True)
            r = bench_model(key, desc, (onnx_path, pt_path, npz_path), ins, outs, args)
            for s in SYSTEMS:
                sy = r["systems"][s]
                print(f"   {s:8s} load {sy['load_ms']:8.1f} ms  match={sy['outputs_match_torch']}"
                      + "".join(f"  t{t}: {sy['threads'][str(t)]['median_ms']:.3f} ms"
                                for t in args.threads)
                      + (f"  peak {sy['peak_mem_mb']:.1f} MiB" if "peak_mem_mb" in sy else ""),
                      flush=True)
            results.append(r)
    text = table(results, args.threads)
    print()
    print(text)
    doc = {
        "command": " ".join([os.path.relpath(sys.executable, ROOT)
                             if sys.executable.startswith(ROOT) else sys.executable]
                            + [os.path.relpath(os.path.abspath(__file__), ROOT)] + sys.argv[1:]),
        "date_utc": started.isoformat(timespec="seconds"),
        "cpu": cpu_model(), "cores": os.cpu_count(), "python": platform.python_version(),
        "versions": {"aistack": aistack.version(), "onnxruntime": onnxruntime.__version__,
                     "torch": torch.__version__, "numpy": np.__version__},
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
    print(f"\nwrote {out}")
    bad = [r["model"] for r in results
           for s in ("aistack", "ort") if not r["systems"][s]["outputs_match_torch"]]
    if bad:
        print(f"outputs differ from PyTorch for: {', '.join(sorted(set(bad)))}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
