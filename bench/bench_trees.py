"""Tree-ensemble benchmark: libaistack against XGBoost's and LightGBM's own predictors and
against TL2cgen-compiled C code (Treelite models), at equal thread counts.

    python bench/bench_trees.py [--build build-release] [--threads 1,2] [--batches 1,100,10000]
                                [--cases xgb_reg_500,...] [--rounds 7] [--quick]

For each case a model is trained with fixed seeds on uniform [-1, 1) features with 5% NaNs
(XGBoost JSON / LightGBM text files in --work, reused while the parameters are unchanged) and
compiled with TL2cgen (gcc, its default -O3). Before any timing every predictor's raw scores on
the benchmark rows, and on the same rows with 10% NaNs, are checked against the booster's own
(within 1e-5 relative to max(1, |value|)); a mismatch stops the run with exit status 1.

libaistack is timed from C, by a timing program run as a subprocess (Python's ctypes overhead
would dominate batch 1): build/bench/bench_trees once it exists, else build/bench/bench_model
(see OURS_PROGRAMS). The peers are timed from Python, as their users call them:
XGBoost Booster.inplace_predict (margin), LightGBM Booster.predict(raw_score=True),
TL2cgen Predictor.predict(DMatrix, pred_margin=True) with the DMatrix built once, outside the
timing. At batch 1 the peers' times therefore include a Python call (a few microseconds); the
TL2cgen generated code is also timed per row from C (bench/tl2cgen_row.c) to show that part.

Every cell is timed in rounds: in each round every system runs for about --chunk-s seconds,
one after the other (A B C D A B C D ...), so that noise from a shared machine falls on all;
a system's figure is the median over rounds of its per-call medians. The table and the targets
of issue #5 are printed; everything goes to bench/results/trees-DATE.json.
"""
from __future__ import annotations

import argparse
import datetime
import hashlib
import json
import os
import platform
import re
import subprocess
import sys
import tempfile
import time

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
N_FEATURES = 100
DATA_SEED = 1234
TOL = 1e-5

# name: (library, objective, trees (boosting rounds), max_depth, num_leaves (LightGBM), classes)
CASES = {
    "xgb_reg_500": ("xgboost", "reg:squarederror", 500, 6, None, 1),
    "xgb_reg_100": ("xgboost", "reg:squarederror", 100, 6, None, 1),
    "lgb_reg_500": ("lightgbm", "regression", 500, 6, 64, 1),
    "xgb_bin_500": ("xgboost", "binary:logistic", 500, 6, None, 1),
    "xgb_multi3_100": ("xgboost", "multi:softprob", 100, 6, None, 3),
}
DEFAULT_CASES = "xgb_reg_500,xgb_reg_100,lgb_reg_500,xgb_bin_500,xgb_multi3_100"


# ---------------------------------------------------------------------------------------------
# libaistack's C timing program. One adapter per program: argv for (model, batch, threads, iters)
# and the seconds per call from what it printed. The harness feeds the peers the very rows the
# program times (inputs(): the program's own generator, reproduced here).
# ---------------------------------------------------------------------------------------------

class BenchTrees:
    """build/bench/bench_trees (the tree-engine work): times one batch size for about `seconds`
    on rows of an .npy file (cycled to fill a batch, so batch b gets rows 0..b-1)."""
    name = "bench_trees"
    by_seconds = True

    def __init__(self, path):
        self.path = path
        self.npy = None

    def inputs(self, rows, n_features, work):
        rng = np.random.default_rng(DATA_SEED + 1)
        X = rng.uniform(-1, 1, size=(rows, n_features)).astype(np.float32)
        X[rng.random(X.shape) < 0.05] = np.nan  # as in training: default directions are taken
        self.npy = os.path.join(work, f"bench-rows-{rows}x{n_features}.npy")
        np.save(self.npy, X)
        return X

    def argv(self, model, batch, threads, seconds, json_path):
        return [self.path, model, "--threads", str(threads), "--batch", str(batch),
                "--input", self.npy, "--seconds", f"{seconds:g}", "--json", json_path]

    def seconds_per_call(self, stdout, json_path):
        with open(json_path) as f:
            return json.load(f)["results"][0]["median_us"] * 1e-6


class BenchModel:
    """build/bench/bench_model: random inputs from a fixed xorshift64 seed, floats in [-1, 1)
    without NaNs; timed for a number of runs (calibrated by the harness)."""
    name = "bench_model"
    by_seconds = False

    def __init__(self, path):
        self.path = path

    def argv(self, model, batch, threads, iters, warmup, json_path):
        return [self.path, model, "--threads", str(threads), "--dim", f"N={batch}",
                "--iters", str(iters), "--warmup", str(warmup), "--json", json_path]

    def seconds_per_call(self, stdout, json_path):
        with open(json_path) as f:
            return json.load(f)["median_ms"] * 1e-3

    @staticmethod
    def inputs(rows, n_features, work):
        """bench_model's make_input: rng_next() xorshift64 (13, 7, 17) from 0x9e3779b97f4a7c15,
        u = (x >> 11) * 2^-53, value 2u - 1 stored as float32, row-major. Every run starts the
        generator afresh, so a batch of b rows is the first b rows of this matrix."""
        mask = (1 << 64) - 1
        s = 0x9E3779B97F4A7C15
        n = rows * n_features
        out = np.empty(n, dtype=np.float64)
        for k in range(n):
            s ^= (s << 13) & mask
            s ^= s >> 7
            s ^= (s << 17) & mask
            out[k] = (s >> 11) * 2.0 ** -53
        return (2 * out - 1).astype(np.float32).reshape(rows, n_features)


# The first one built is used (--program picks one).
OURS_PROGRAMS = [("bench_trees", BenchTrees), ("bench_model", BenchModel)]


def find_ours(build, program):
    for name, cls in OURS_PROGRAMS:
        if program and program != name:
            continue
        path = os.path.join(build, "bench", name)
        if os.path.exists(path):
            return cls(path)
    sys.exit(f"bench_trees: no timing program ({', '.join(n for n, _ in OURS_PROGRAMS)}) "
             f"in {build}/bench: build libaistack first (cmake --build {build})")


# ---------------------------------------------------------------------------------------------
# Models
# ---------------------------------------------------------------------------------------------

def train_data(n_rows, seed):
    rng = np.random.default_rng(seed)
    X = rng.uniform(-1, 1, size=(n_rows, N_FEATURES)).astype(np.float32)
    # A target that needs many features and interactions, so that trees grow to full depth.
    w = rng.standard_normal(N_FEATURES) * (rng.random(N_FEATURES) < 0.4)
    y = X @ w + np.sin(3 * X[:, 0]) * X[:, 1] + 0.5 * np.abs(X[:, 2] - X[:, 3]) \
        + 0.1 * rng.standard_normal(n_rows)
    X[rng.random(X.shape) < 0.05] = np.nan
    return X, y


def train(case, work, quick):
    lib, objective, trees, depth, leaves, classes = CASES[case]
    if quick:
        trees = max(5, trees // 50)
    key = hashlib.sha1(repr((CASES[case], trees, DATA_SEED, 2)).encode()).hexdigest()[:10]
    ext = "json" if lib == "xgboost" else "txt"
    path = os.path.join(work, f"{case}-{key}.{ext}")
    if os.path.exists(path):
        return path
    X, y = train_data(4000 if quick else 30000, DATA_SEED)
    if classes > 1:
        y = np.digitize(y, np.quantile(y, np.linspace(0, 1, classes + 1)[1:-1]))
    elif objective in ("binary:logistic", "binary"):
        y = (y > np.median(y)).astype(np.float64)
    t0 = time.time()
    if lib == "xgboost":
        import xgboost as xgb
        params = {"objective": objective, "max_depth": depth, "eta": 0.1, "seed": 0,
                  "tree_method": "hist", "nthread": os.cpu_count() or 1}
        if classes > 1:
            params["num_class"] = classes
        bst = xgb.train(params, xgb.DMatrix(X, label=y), num_boost_round=trees)
    else:
        import lightgbm as lgb
        params = {"objective": objective, "max_depth": depth, "num_leaves": leaves,
                  "learning_rate": 0.1, "seed": 0, "verbose": -1, "min_data_in_leaf": 20,
                  "deterministic": True, "num_threads": os.cpu_count() or 1}
        bst = lgb.train(params, lgb.Dataset(X, label=y), num_boost_round=trees)
    tmp = f"{path}.tmp.{ext}"  # XGBoost picks the format from the extension
    bst.save_model(tmp)
    os.replace(tmp, path)
    print(f"  trained {case} in {time.time() - t0:.1f} s -> {path}", flush=True)
    return path


def compile_tl2cgen(case, model_path):
    import tl2cgen
    import treelite
    lib = model_path.rsplit(".", 1)[0] + ".so"
    if os.path.exists(lib):
        return lib
    if CASES[case][0] == "xgboost":
        tm = treelite.frontend.load_xgboost_model(model_path)
    else:
        tm = treelite.frontend.load_lightgbm_model(model_path)
    t0 = time.time()
    trees = CASES[case][2]
    tl2cgen.export_lib(tm, toolchain="gcc", libpath=lib + ".tmp.so",
                       params={"parallel_comp": max(1, min(16, trees // 32))},
                       nthread=os.cpu_count() or 1)
    os.replace(lib + ".tmp.so", lib)
    print(f"  compiled {case} with TL2cgen in {time.time() - t0:.1f} s", flush=True)
    return lib


class Booster:
    """The trained model under its own library, with margin (raw score) prediction."""

    def __init__(self, case, path):
        self.lib = CASES[case][0]
        self.classes = CASES[case][5]
        if self.lib == "xgboost":
            import xgboost as xgb
            self.xgb = xgb
            self.bst = xgb.Booster(model_file=path)
        else:
            import lightgbm as lgb
            self.bst = lgb.Booster(model_file=path)

    def margin(self, X, threads):
        if self.lib == "xgboost":
            self.bst.set_param({"nthread": threads})
            return self.bst.inplace_predict(X, predict_type="margin")
        return self.bst.predict(X, raw_score=True, num_threads=threads)


# ---------------------------------------------------------------------------------------------
# Systems: each gives setup(batch rows, threads) -> a no-argument call returning the margins
# ---------------------------------------------------------------------------------------------

def peers(case, booster, tl_lib, names):
    out = {}
    if booster.lib == "xgboost" and "xgboost" in names:
        def xgb_inplace(X, threads):
            booster.bst.set_param({"nthread": threads})
            return lambda: booster.bst.inplace_predict(X, predict_type="margin")
        out["xgboost"] = xgb_inplace
    if booster.lib == "xgboost" and "xgboost_dmatrix" in names:
        def xgb_dmatrix(X, threads):
            booster.bst.set_param({"nthread": threads})
            d = booster.xgb.DMatrix(X, nthread=threads)
            return lambda: booster.bst.predict(d, output_margin=True)
        out["xgboost_dmatrix"] = xgb_dmatrix
    if booster.lib == "lightgbm" and "lightgbm" in names:
        def lgb_predict(X, threads):
            return lambda: booster.bst.predict(X, raw_score=True, num_threads=threads)
        out["lightgbm"] = lgb_predict
    if tl_lib and "tl2cgen" in names:
        import tl2cgen
        predictors = {}

        def tl_predict(X, threads):
            if threads not in predictors:
                predictors[threads] = tl2cgen.Predictor(tl_lib, nthread=threads)
            p = predictors[threads]
            d = tl2cgen.DMatrix(X)
            return lambda: p.predict(d, pred_margin=True)
        out["tl2cgen"] = tl_predict
    return out


def as_margin(a, n, classes):
    return np.asarray(a, dtype=np.float64).reshape(n, classes)


def max_rel_diff(got, want):
    return float(np.max(np.abs(got - want) / np.maximum(1.0, np.abs(want))))


def check(case, model_path, booster, systems, X, tl_lib, row_prog, work):
    """Every system's margins against the booster's on X and on X with 10% NaNs."""
    sys.path.insert(0, os.path.join(ROOT, "bindings", "python"))
    import aistack
    rng = np.random.default_rng(7)
    Xn = X.copy()
    Xn[rng.random(X.shape) < 0.1] = np.nan
    report = {}
    with open(model_path, "rb") as f:
        blob = f.read()
    n, k = len(X), booster.classes
    for label, data in (("data", X), ("nan", Xn)):
        want = as_margin(booster.margin(data, 1), n, k)
        with aistack.Model.from_bytes(blob) as m:
            got = as_margin(m.run({"input": data})["margin"], n, k)
        report[f"aistack/{label}"] = max_rel_diff(got, want)
        for name, setup in systems.items():
            report[f"{name}/{label}"] = max_rel_diff(as_margin(setup(data, 1)(), n, k), want)
        if row_prog and tl_lib:
            rows = os.path.join(work, "check-rows.f32")
            outp = os.path.join(work, "check-out.f32")
            data.tofile(rows)
            subprocess.run([row_prog, tl_lib, rows, str(n), str(N_FEATURES), "1", outp],
                           check=True, capture_output=True)
            got = as_margin(np.fromfile(outp, dtype=np.float32), n, k)
            report[f"tl2cgen_row/{label}"] = max_rel_diff(got, want)
    bad = {key: v for key, v in report.items() if not v <= TOL}
    return report, bad


# ---------------------------------------------------------------------------------------------
# Timing
# ---------------------------------------------------------------------------------------------

def time_python(call, chunk_s):
    """Median seconds per call over about chunk_s seconds of calls (at least 5)."""
    times = []
    end = time.perf_counter() + chunk_s
    while len(times) < 5 or time.perf_counter() < end:
        t0 = time.perf_counter()
        call()
        times.append(time.perf_counter() - t0)
    return float(np.median(times))


class OursTimer:
    def __init__(self, prog, model, batch, threads, work):
        self.prog, self.model, self.batch, self.threads = prog, model, batch, threads
        self.json = os.path.join(work, "ours.json")
        self.iters = 20

    def run(self, iters, warmup):
        argv = self.prog.argv(self.model, self.batch, self.threads, iters, warmup, self.json)
        p = subprocess.run(argv, capture_output=True, text=True)
        if p.returncode != 0:
            raise RuntimeError(f"{' '.join(argv)} failed ({p.returncode}): {p.stderr.strip()}")
        return self.prog.seconds_per_call(p.stdout, self.json)

    def calibrate(self, chunk_s):
        if self.prog.by_seconds:
            return
        t = self.run(5, 2)
        self.iters = int(min(200000, max(3, chunk_s / max(t, 1e-7))))

    def __call__(self, chunk_s):
        if self.prog.by_seconds:
            argv = self.prog.argv(self.model, self.batch, self.threads, chunk_s, self.json)
            p = subprocess.run(argv, capture_output=True, text=True)
            if p.returncode != 0:
                raise RuntimeError(f"{' '.join(argv)} failed ({p.returncode}): "
                                   f"{p.stderr.strip()}")
            return self.prog.seconds_per_call(p.stdout, self.json)
        return self.run(self.iters, max(2, self.iters // 20))


def time_cell(systems, ours, rounds, chunk_s):
    """Interleaved rounds; returns {system: median over rounds of seconds per call}."""
    ours.calibrate(chunk_s)
    samples = {name: [] for name in ["aistack", *systems]}
    for name, call in systems.items():  # warm-up: first-call costs (thread pools, caches)
        time_python(call, min(0.05, chunk_s))
    for _ in range(rounds):
        samples["aistack"].append(ours(chunk_s))
        for name, call in systems.items():
            samples[name].append(time_python(call, chunk_s))
    return {name: float(np.median(v)) for name, v in samples.items()}, samples


def time_tl2cgen_row(row_prog, tl_lib, X, work, chunk_s, rounds):
    rows = os.path.join(work, "rows.f32")
    X[:1].tofile(rows)
    meds = []
    for _ in range(rounds):
        p = subprocess.run([row_prog, tl_lib, rows, "1", str(N_FEATURES),
                            str(max(100, int(chunk_s * 2e5)))],
                           check=True, capture_output=True, text=True)
        meds.append(float(re.search(r"median_us=([0-9.eE+-]+)", p.stdout).group(1)) * 1e-6)
    return float(np.median(meds))


def build_row_prog(work):
    src = os.path.join(ROOT, "bench", "tl2cgen_row.c")
    exe = os.path.join(work, "tl2cgen_row")
    cc = os.environ.get("CC", "cc")
    if not os.path.exists(exe) or os.path.getmtime(exe) < os.path.getmtime(src):
        subprocess.run([cc, "-O2", "-std=c11", "-o", exe, src, "-ldl", "-lm"], check=True)
    return exe


# ---------------------------------------------------------------------------------------------
# Report
# ---------------------------------------------------------------------------------------------

LABELS = {"aistack": "aistack", "xgboost": "XGBoost inplace_predict",
          "xgboost_dmatrix": "XGBoost predict(DMatrix)", "lightgbm": "LightGBM predict",
          "tl2cgen": "TL2cgen Predictor", "tl2cgen_row": "TL2cgen per-row C"}


def fmt_us(s, batch):
    return f"{s / batch * 1e6:.3f}" if s / batch < 1e-5 else f"{s / batch * 1e6:.2f}"


def table(results):
    lines = ["| model | threads | batch | system | us/row | rows/s | aistack speed-up |",
             "|---|---|---|---|---|---|---|"]
    for r in results:
        ours = r["seconds"]["aistack"]
        for name, s in r["seconds"].items():
            ratio = "-" if name == "aistack" else f"{s / ours:.3g}x"
            lines.append(f"| {r['case']} | {r['threads']} | {r['batch']} | {LABELS[name]} | "
                         f"{fmt_us(s, r['batch'])} | {r['batch'] / s:,.0f} | {ratio} |")
    return "\n".join(lines)


def targets(results):
    """Issue #5's targets, where the run measured them."""
    out = []
    for r in results:
        sec = r["seconds"]
        if r["case"] == "xgb_reg_500" and r["batch"] == 10000:
            for peer, need in (("xgboost", 3.0), ("tl2cgen", 1.0)):
                if peer in sec:
                    x = sec[peer] / sec["aistack"]
                    out.append((f"500 trees, batch 10000, {r['threads']} thr: aistack >= "
                                f"{need:g}x {LABELS[peer]}", f"{x:.2f}x", x >= need))
        if r["case"] == "xgb_reg_100" and r["batch"] == 1:
            us = sec["aistack"] * 1e6
            out.append((f"100 trees, batch 1, {r['threads']} thr: aistack < 5 us/row",
                        f"{us:.2f} us", us < 5))
    return out


def machine():
    cpu = platform.processor()
    try:
        with open("/proc/cpuinfo") as f:
            m = re.search(r"model name\s*:\s*(.*)", f.read())
            cpu = m.group(1) if m else cpu
    except OSError:
        pass
    return {"cpu": cpu, "cores": os.cpu_count(), "python": platform.python_version(),
            "load_average": os.getloadavg()}


def versions():
    v = {}
    for mod in ("numpy", "xgboost", "lightgbm", "treelite", "tl2cgen"):
        try:
            v[mod] = __import__(mod).__version__
        except ImportError:
            v[mod] = None
    return v


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--build", default=os.path.join(ROOT, "build-release"),
                    help="libaistack build folder (Release) with bench/ and libaistack.so")
    ap.add_argument("--program", default=None,
                    help="force one of the timing programs: " +
                    ", ".join(n for n, _ in OURS_PROGRAMS))
    ap.add_argument("--work", default=os.path.join(ROOT, "bench", "results", "trees-work"),
                    help="where models and compiled libraries are kept between runs")
    ap.add_argument("--cases", default=DEFAULT_CASES)
    ap.add_argument("--threads", default="1,2")
    ap.add_argument("--batches", default="1,100,10000")
    ap.add_argument("--peers", default="xgboost,lightgbm,tl2cgen",
                    help="also: xgboost_dmatrix")
    ap.add_argument("--rounds", type=int, default=7)
    ap.add_argument("--chunk-s", type=float, default=0.25)
    ap.add_argument("--quick", action="store_true",
                    help="small models, 2 rounds: checks the harness, times nothing useful")
    ap.add_argument("--omp-wait-policy", choices=["default", "passive", "active"],
                    default="default",
                    help="OMP_WAIT_POLICY for the OpenMP peers (XGBoost, LightGBM, TL2cgen); "
                    "'passive' keeps their idle workers from spinning, which on a machine with "
                    "fewer free cores than threads otherwise costs milliseconds per call")
    ap.add_argument("--json", default=None)
    args = ap.parse_args()
    if args.omp_wait_policy != "default":
        # Read by each OpenMP runtime when it loads: the peers are imported only below.
        os.environ["OMP_WAIT_POLICY"] = args.omp_wait_policy.upper()
    if args.quick:
        args.rounds, args.chunk_s = 2, 0.02
        args.work = os.path.join(tempfile.gettempdir(), "ais-bench-trees-quick")
    os.makedirs(args.work, exist_ok=True)
    lib = os.path.join(args.build, "libaistack.so")
    if os.path.exists(lib):
        os.environ.setdefault("AISTACK_LIBRARY", lib)
    prog = find_ours(args.build, args.program)
    cases = [c for c in args.cases.split(",") if c]
    for c in cases:
        if c not in CASES:
            sys.exit(f"bench_trees: unknown case {c}; known: {', '.join(CASES)}")
    threads = [int(t) for t in args.threads.split(",")]
    batches = [int(b) for b in args.batches.split(",")]
    peer_names = set(args.peers.split(","))
    if "tl2cgen" in peer_names:
        try:
            import tl2cgen  # noqa: F401
            import treelite  # noqa: F401
        except ImportError:
            # CI installs only tests/requirements.txt; scripts/bench.sh adds bench/requirements.txt
            print("  treelite/tl2cgen not installed (pip install -r bench/requirements.txt): "
                  "TL2cgen left out", flush=True)
            peer_names.discard("tl2cgen")
    try:
        row_prog = build_row_prog(args.work) if "tl2cgen" in peer_names else None
    except (OSError, subprocess.CalledProcessError) as e:
        print(f"  no per-row TL2cgen timing: {e}", flush=True)
        row_prog = None
    X_all = prog.inputs(max(batches), N_FEATURES, args.work)
    started = time.time()
    results, checks = [], {}
    print(f"bench_trees: aistack timed by {prog.path}; load average {os.getloadavg()[0]:.2f}",
          flush=True)
    for case in cases:
        model_path = train(case, args.work, args.quick)
        tl_lib = compile_tl2cgen(case, model_path) if "tl2cgen" in peer_names else None
        booster = Booster(case, model_path)
        systems = peers(case, booster, tl_lib, peer_names)
        report, bad = check(case, model_path, booster, systems, X_all, tl_lib, row_prog,
                            args.work)
        checks[case] = report
        print(f"  {case}: outputs agree (max relative difference "
              f"{max(report.values()):.2g})" if not bad else f"  {case}: MISMATCH {bad}",
              flush=True)
        if bad:
            sys.exit(1)
        for t in threads:
            for b in batches:
                X = np.ascontiguousarray(X_all[:b])
                calls = {name: setup(X, t) for name, setup in systems.items()}
                ours = OursTimer(prog, model_path, b, t, args.work)
                med, samples = time_cell(calls, ours, args.rounds, args.chunk_s)
                if b == 1 and t == 1 and row_prog and tl_lib:
                    med["tl2cgen_row"] = time_tl2cgen_row(row_prog, tl_lib, X_all, args.work,
                                                          args.chunk_s, args.rounds)
                results.append({"case": case, "threads": t, "batch": b, "seconds": med,
                                "rounds": samples})
                print(f"  {case} t={t} b={b}: " + ", ".join(
                    f"{n} {fmt_us(s, b)} us/row" for n, s in med.items()), flush=True)
    print()
    print(table(results))
    tg = targets(results)
    if tg:
        print()
        print("| target (issue #5) | measured | met |")
        print("|---|---|---|")
        for what, got, ok in tg:
            print(f"| {what} | {got} | {'yes' if ok else 'no'} |")
    doc = {"command": " ".join(sys.argv), "date": datetime.datetime.utcnow().isoformat() + "Z",
           "machine": machine(), "versions": versions(), "program": prog.path,
           "omp_wait_policy": os.environ.get("OMP_WAIT_POLICY", "default"),
           "cases": {c: CASES[c] for c in cases}, "rounds": args.rounds, "chunk_s": args.chunk_s,
           "checks": checks, "results": results,
           "targets": [{"what": w, "measured": g, "met": ok} for w, g, ok in tg],
           "wall_s": time.time() - started}
    out = args.json or os.path.join(
        ROOT, "bench", "results",
        f"trees-{datetime.datetime.utcnow().strftime('%Y%m%d-%H%M%S')}.json")
    os.makedirs(os.path.dirname(os.path.abspath(out)), exist_ok=True)
    with open(out, "w") as f:
        json.dump(doc, f, indent=1)
    print(f"\nwrote {out} (whole run {time.time() - started:.0f} s)")


if __name__ == "__main__":
    main()
