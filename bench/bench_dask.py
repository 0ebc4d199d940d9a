"""Batch scoring at scale on Dask (issue 17): rows/s of libaistack (aistack.dask.predict) against
the same models through their own predict (scikit-learn Pipeline.predict_proba in
map_partitions) on the same LocalCluster, same workers and threads.

Two models share one preprocessing (ColumnTransformer: impute + scale 4 numeric fields, one-hot 2
categorical ones) and a 300-tree gradient-boosted classifier: scikit-learn's
HistGradientBoostingClassifier (max_iter=300) and XGBoost's XGBClassifier (n_estimators=300),
both exported with aistack.sklearn. The rows are generated in the workers and persisted there
before timing, so that only scoring is timed; each timed pass sums one probability column (the
result never travels). Passes alternate between the systems (bench/README.md's rule), every
system's probabilities are checked against its peer's on a sample first, and each worker's
resident set (VmRSS, VmHWM) is read after the passes.

--max-seconds bounds a pass on a loaded machine: a system scores the partitions in waves of
2 x workers and stops after the wave that passes the bound; its rows/s is the rows it scored
over the time it took (every system starts from the first partition, so all see the same rows).

    .venv/bin/python bench/bench_dask.py --rows 10000000 --passes 2 --max-seconds 200

--cpu-rows N measures the same work as CPU time in one process instead (no cluster): steadier
than wall-clock rows/s when other jobs load the machine.

    AISTACK_LIBRARY=build/libaistack.so .venv/bin/python bench/bench_dask.py --rows 2000000
    .venv/bin/python bench/bench_dask.py --quick      # smoke run: tiny, checks, no figures
"""
import argparse
import atexit
import json
import os
import shutil
import statistics
import sys
import tempfile
import time

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "bindings", "python"))

NUM = ["age", "income", "tenure", "score"]
CAT = ["city", "plan"]
CITIES = [f"city{i}" for i in range(40)]
PLANS = ["free", "pro", "team", "edu", "gov"]


def make_rows(n, seed):
    import pandas as pd
    rng = np.random.default_rng(seed)
    df = pd.DataFrame({
        "age": rng.normal(40, 12, n).round(1),
        "income": rng.lognormal(10, 1, n),
        "tenure": rng.integers(0, 120, n).astype(np.float64),
        "score": rng.normal(0, 1, n),
        "city": pd.Categorical.from_codes(rng.integers(0, len(CITIES), n), CITIES).astype(object),
        "plan": pd.Categorical.from_codes(rng.integers(0, len(PLANS), n), PLANS).astype(object),
    })
    df.loc[rng.random(n) < 0.03, "age"] = np.nan
    return df


def train(kind, trees, path):
    from sklearn.compose import ColumnTransformer
    from sklearn.impute import SimpleImputer
    from sklearn.pipeline import Pipeline, make_pipeline
    from sklearn.preprocessing import OneHotEncoder, StandardScaler
    from aistack import sklearn as ais_sklearn
    df = make_rows(20000, 1)
    y = ((df.age.fillna(40) > 38) ^ (df.plan == "pro") ^ (df.score > 0.5)).astype(int)
    pre = ColumnTransformer([
        ("num", make_pipeline(SimpleImputer(), StandardScaler()), NUM),
        ("cat", OneHotEncoder(handle_unknown="ignore", sparse_output=False), CAT)])
    if kind == "xgboost":
        import xgboost as xgb
        est = xgb.XGBClassifier(n_estimators=trees, max_depth=6, tree_method="hist", n_jobs=1)
    else:
        from sklearn.ensemble import HistGradientBoostingClassifier
        est = HistGradientBoostingClassifier(max_iter=trees, max_leaf_nodes=31,
                                             early_stopping=False, random_state=0)
    pipe = Pipeline([("pre", pre), ("gbm", est)])
    pipe.fit(df[NUM + CAT], y)
    ais_sklearn.export(pipe, path)
    return pipe


def worker_mem():
    out = {}
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(("VmRSS", "VmHWM")):
                k, v = line.split(":")
                out[k] = int(v.split()[0]) * 1024
    return out


def peer_predict(part, pipe):
    import pandas as pd
    return pd.Series(pipe.predict_proba(part[NUM + CAT])[:, 1], index=part.index)


# The exported models' positive-class probability: (output, its column in the scored frame).
PROB = {"sklearn": ("probabilities", "probabilities_1"), "xgboost": ("probability", "probability")}


def cpu_compare(models, rows, rounds=3):
    """CPU time per row in this one process (no cluster: steady on a loaded machine): a
    partition of `rows` rows through aistack's Scorer (what each Dask task runs) against the
    fitted pipeline's predict_proba, alternated, min of `rounds`."""
    from aistack._batch import Scorer
    df = make_rows(rows, 3)
    print(f"one process, {rows:,} rows, CPU us/row, min of {rounds} alternated rounds")
    print("| model | libaistack | peer | ratio |")
    print("| --- | ---: | ---: | ---: |")
    for kind, (path, pipe) in models.items():
        sc = Scorer(path, outputs=[PROB[kind][0]], frame_columns=list(df.columns))
        sc.score_frame(df.iloc[:1000])
        pipe.predict_proba(df[NUM + CAT].iloc[:1000])
        ours, peer = [], []
        for _ in range(rounds):
            t0 = time.process_time()
            sc.score_frame(df)
            ours.append(time.process_time() - t0)
            t0 = time.process_time()
            pipe.predict_proba(df[NUM + CAT])
            peer.append(time.process_time() - t0)
        o, p = min(ours) / rows * 1e6, min(peer) / rows * 1e6
        print(f"| {kind} | {o:.2f} | {p:.2f} | {p / o:.2f}x |")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--rows", type=int, default=2_000_000)
    ap.add_argument("--partitions", type=int, default=0, help="default: rows / 100000")
    ap.add_argument("--trees", type=int, default=300)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--passes", type=int, default=3)
    ap.add_argument("--batch-rows", type=int, default=65536)
    ap.add_argument("--max-seconds", type=float, default=0,
                    help="bound each system's pass: waves of 2 x workers partitions, stop after "
                    "the wave that passes it (0: every row)")
    ap.add_argument("--cpu-rows", type=int, default=0,
                    help="instead of the cluster: CPU time per row in one process on this many "
                    "rows (libaistack's Scorer vs predict_proba)")
    ap.add_argument("--quick", action="store_true", help="tiny smoke run: checks only")
    ap.add_argument("--json")
    a = ap.parse_args()
    if a.quick:
        a.rows, a.trees, a.passes = 20000, 20, 1
    parts = a.partitions or max(a.workers * 2, a.rows // 100_000)

    # One thread per worker everywhere: our sessions (threads=1), XGBoost (n_jobs=1 set at
    # training, nthread on load) and scikit-learn's OpenMP loops (OMP_NUM_THREADS=1).
    os.environ["OMP_NUM_THREADS"] = "1"
    os.environ["PYTHONPATH"] = os.pathsep.join(
        [os.path.join(ROOT, "bindings", "python")] + [p for p in
                                                      os.environ.get("PYTHONPATH", "").split(os.pathsep) if p])
    import dask
    import dask.dataframe as dd
    import distributed
    from aistack import _cache
    from aistack import dask as ais_dask

    tmp = tempfile.mkdtemp(prefix="bench_dask_")
    atexit.register(shutil.rmtree, tmp, ignore_errors=True)  # the models are rebuilt every run
    models = {}
    for kind in ("sklearn", "xgboost"):
        path = os.path.join(tmp, f"{kind}_{a.trees}.ais")
        t0 = time.perf_counter()
        pipe = train(kind, a.trees, path)
        if kind == "xgboost":
            pipe.named_steps["gbm"].get_booster().set_param({"nthread": 1})
        models[kind] = (path, pipe)
        print(f"trained {kind} ({a.trees} trees) in {time.perf_counter() - t0:.1f} s, "
              f"{os.path.getsize(path) / 1e6:.1f} MB .ais", file=sys.stderr)

    if a.cpu_rows:
        cpu_compare(models, a.cpu_rows)
        return
    results = {}
    with distributed.LocalCluster(n_workers=a.workers, threads_per_worker=1, processes=True,
                                  dashboard_address=None, worker_dashboard_address=None) as cl, \
            distributed.Client(cl) as client:
        per = a.rows // parts
        ddf = dd.from_map(make_rows, [per] * parts, list(range(parts)),
                          meta=make_rows(0, 0)).persist()
        distributed.wait(ddf)
        n = int(len(ddf))
        print(f"{n} rows in {parts} partitions on {a.workers} workers", file=sys.stderr)
        pipes = {k: client.scatter(p, broadcast=True) for k, (_, p) in models.items()}

        def job(system, kind):
            path = models[kind][0]
            if system == "aistack":
                out, col = PROB[kind]
                return ais_dask.predict(ddf, path, outputs=out, batch_rows=a.batch_rows)[col]
            return ddf.map_partitions(peer_predict, pipes[kind], meta=("p", "f8"))

        # correctness first: each system against its peer on the first partition
        for kind in models:
            ours = job("aistack", kind).partitions[0].compute().to_numpy()
            theirs = job("peer", kind).partitions[0].compute().to_numpy()
            err = float(np.max(np.abs(ours - theirs)))
            print(f"{kind}: max |aistack - peer| probability {err:.2e}", file=sys.stderr)
            assert err < 1e-4, f"{kind}: aistack and its peer disagree by {err}"
        if a.quick:
            print("quick run: checks passed, no figures", file=sys.stderr)
            return
        systems = [("aistack", "sklearn"), ("peer", "sklearn"), ("aistack", "xgboost"),
                   ("peer", "xgboost")]
        sizes = ddf.map_partitions(len).compute().to_numpy()
        wave = parts if a.max_seconds <= 0 else 2 * a.workers
        times = {s: [] for s in systems}
        scored = {s: [] for s in systems}
        for p in range(a.passes):
            order = systems[p % len(systems):] + systems[:p % len(systems)]
            for s in order:
                col = job(*s)
                done = 0
                t0 = time.perf_counter()
                while done < parts:
                    stop = min(parts, done + wave)
                    dask.compute(col.partitions[done:stop].sum())
                    done = stop
                    if a.max_seconds > 0 and time.perf_counter() - t0 >= a.max_seconds:
                        break
                times[s].append(time.perf_counter() - t0)
                scored[s].append(int(sizes[:done].sum()))
                print(f"pass {p}: {s[0]:8s} {s[1]:8s} {scored[s][-1] / times[s][-1]:12,.0f} "
                      f"rows/s ({scored[s][-1]:,} rows in {times[s][-1]:.0f} s)", file=sys.stderr)
        mem = client.run(worker_mem)
        loads = client.run(lambda: _cache.info()["loads_by_path"])
    for s in systems:
        rates = [r / t for r, t in zip(scored[s], times[s])]
        results[f"{s[0]}/{s[1]}"] = {"rows_per_s": statistics.median(rates),
                                     "seconds": times[s], "rows_scored": scored[s]}
    print(f"\n{n} rows, {parts} partitions, {a.workers} workers x 1 thread, {a.trees} trees, "
          f"median of {a.passes} alternated passes"
          + (f", each bounded to about {a.max_seconds:g} s" if a.max_seconds > 0 else ""))
    print("| model | libaistack rows/s (rows scored) | peer rows/s (rows scored) | ratio |")
    print("| --- | ---: | ---: | ---: |")
    for kind, peer in (("sklearn", "scikit-learn Pipeline.predict_proba"),
                       ("xgboost", "Pipeline.predict_proba (XGBoost)")):
        o, t = results[f"aistack/{kind}"], results[f"peer/{kind}"]
        ours, theirs = o["rows_per_s"], t["rows_per_s"]
        print(f"| {kind} ({peer}) | {ours:,.0f} ({min(o['rows_scored']):,}) | {theirs:,.0f} "
              f"({min(t['rows_scored']):,}) | {ours / theirs:.2f}x |")
    for addr, m in mem.items():
        print(f"worker {addr}: VmRSS {m['VmRSS'] / 2**20:.0f} MiB, peak VmHWM "
              f"{m['VmHWM'] / 2**20:.0f} MiB; model loads {loads[addr]}")
    if a.json:
        with open(a.json, "w") as f:
            json.dump({"rows": n, "results": results, "memory": mem,
                       "loads": {k: v for k, v in loads.items()}}, f, indent=1)


if __name__ == "__main__":
    main()
