"""Batch scoring job: files in, predictions out, on a Dask cluster.

    python -m aistack.score MODEL.ais 'data/*.csv' --output out/ [--scheduler ADDRESS]
        [--errors DIR] [--format csv|parquet] [--row-id COLUMN] [--outputs NAME,...]
        [--batch-rows N] [--chunk-rows N] [--threads N] [--workers N] [--quiet]

Each input file is one task: a worker reads it in chunks of --chunk-rows rows, scores each chunk
(aistack._batch.Scorer: batches of --batch-rows through the process's cached model) and writes
OUTPUT/<file stem>.<format>: the input's columns with the model's outputs appended. The file
appears whole or not at all (written beside, then renamed), so a task that Dask reruns after a
worker died leaves each row exactly once. Parquet input (and --format parquet) needs pyarrow.

Rows that break the model's schema fail the job with the first bad row's message (its --row-id
value, else its line in the CSV file / its row in the Parquet file), unless --errors DIR is
given: then they are left out of the predictions and listed in DIR/<file stem>.errors.csv
(row_id, field, message), and counted in the summary.

Without --scheduler a LocalCluster of --workers processes (default: the CPU count, one thread
each) runs the job. The summary (rows, failed rows, seconds, rows/s) goes to stderr and, as
JSON, to OUTPUT/_summary.json.
"""
from __future__ import annotations

import argparse
import glob
import json
import os
import sys
import time
from typing import Any, Dict, List, Optional, Sequence

from ._batch import DEFAULT_BATCH_ROWS, Scorer


def _expand(patterns: Sequence[str]) -> List[str]:
    files: List[str] = []
    for p in patterns:
        hits = sorted(glob.glob(p)) if glob.has_magic(p) else [p]
        files.extend(h for h in hits if os.path.isfile(h))
    return list(dict.fromkeys(os.path.abspath(f) for f in files))


def _is_parquet(path: str) -> bool:
    return path.lower().endswith((".parquet", ".pq"))


def _chunks(path: str, sc: Scorer, chunk_rows: int):
    """The file's rows as DataFrames of at most chunk_rows, indexed by their row id when no
    --row-id column names one: the CSV line (the header is line 1), the Parquet row (0-based)."""
    import pandas as pd
    if _is_parquet(path):
        import pyarrow.parquet as pq
        start = 0
        for b in pq.ParquetFile(path).iter_batches(batch_size=chunk_rows):
            df = b.to_pandas()
            df.index = pd.RangeIndex(start, start + len(df))
            start += len(df)
            yield df
        return
    # A categorical input stays text (a code read as a number would become "12.0"); numeric
    # inputs are inferred, and a cell that is no number is reported by the library.
    dtype = {c: str for c, k in sc.kinds.items() if k == "categorical"}
    for df in pd.read_csv(path, chunksize=chunk_rows, dtype=dtype or None):
        df.index = df.index + 2
        yield df


def _write(df: Any, path: str, fmt: str, first: bool, handle: Any) -> Any:
    if fmt == "parquet":
        import pyarrow as pa
        import pyarrow.parquet as pq
        t = pa.Table.from_pandas(df, preserve_index=False)
        if handle is None:
            handle = pq.ParquetWriter(path, t.schema)
        handle.write_table(t)
        return handle
    df.to_csv(path, mode="w" if first else "a", header=first, index=False)
    return handle


def score_file(path: str, sc: Scorer, out_dir: str, err_dir: Optional[str], fmt: str,
               chunk_rows: int) -> Dict[str, Any]:
    """One task: scores `path` into out_dir (and err_dir); returns its counts."""
    t0 = time.perf_counter()
    stem = os.path.splitext(os.path.basename(path))[0]
    out = os.path.join(out_dir, f"{stem}.{fmt}")
    tmp = f"{out}.tmp-{os.getpid()}"
    err_rows: List[Any] = []
    rows = ok = 0
    handle = None
    try:
        for i, chunk in enumerate(_chunks(path, sc, chunk_rows)):
            rows += len(chunk)
            try:
                pred, errs = sc.score_frame(chunk)
            except Exception as e:
                raise type(e)(f"{path}: {e}") from e
            ok += len(pred)
            if len(errs):
                err_rows.append(errs)
            handle = _write(pred, tmp, fmt, i == 0, handle)
        if handle is not None:
            handle.close()
        if os.path.exists(tmp):  # an input without rows has no output (an empty CSV aside)
            os.replace(tmp, out)
        elif fmt == "csv":
            open(out, "w").close()
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    failed = 0
    if err_dir is not None:
        import pandas as pd
        errs = pd.concat(err_rows) if err_rows else Scorer.errors_meta()
        failed = int(errs["row_id"].nunique()) if len(errs) else 0
        e_out = os.path.join(err_dir, f"{stem}.errors.csv")
        errs.to_csv(f"{e_out}.tmp-{os.getpid()}", index=False)
        os.replace(f"{e_out}.tmp-{os.getpid()}", e_out)
    return {"file": path, "rows": rows, "ok": ok, "failed": failed,
            "seconds": time.perf_counter() - t0}


def main(argv: Optional[Sequence[str]] = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m aistack.score",
                                 description="Scores CSV / Parquet files with a libaistack "
                                             "model on a Dask cluster.")
    ap.add_argument("model")
    ap.add_argument("inputs", nargs="+", help="files or glob patterns (quote them)")
    ap.add_argument("--output", required=True, help="folder for the predictions")
    ap.add_argument("--scheduler", help="a Dask scheduler's address (default: a LocalCluster)")
    ap.add_argument("--workers", type=int, default=0,
                    help="LocalCluster worker processes (default: the CPU count)")
    ap.add_argument("--errors", help="folder for rows that break the schema (default: fail)")
    ap.add_argument("--format", choices=("csv", "parquet"),
                    help="output format (default: the first input's)")
    ap.add_argument("--row-id", help="the column that names a row in error messages")
    ap.add_argument("--outputs", help="comma-separated model outputs (default: all)")
    ap.add_argument("--columns", help="comma-separated input columns (default: the model's)")
    ap.add_argument("--batch-rows", type=int, default=DEFAULT_BATCH_ROWS)
    ap.add_argument("--chunk-rows", type=int, default=1 << 20,
                    help="rows read from a file at a time")
    ap.add_argument("--threads", type=int, default=1, help="threads of each task's session")
    ap.add_argument("--quiet", action="store_true", help="no progress lines")
    a = ap.parse_args(argv)

    files = _expand(a.inputs)
    if not files:
        print(f"aistack.score: no input file matches {a.inputs}", file=sys.stderr)
        return 2
    fmt = a.format or ("parquet" if _is_parquet(files[0]) else "csv")
    model = os.path.abspath(a.model)
    columns = a.columns.split(",") if a.columns else None
    if columns is None:
        columns = _plain_columns(model, files[0], a.row_id)
    try:
        sc = Scorer(model, outputs=a.outputs.split(",") if a.outputs else None, columns=columns,
                    threads=a.threads, batch_rows=a.batch_rows,
                    errors="keep" if a.errors else "raise", row_id=a.row_id)
    except Exception as e:
        print(f"aistack.score: {e}", file=sys.stderr)
        return 2
    os.makedirs(a.output, exist_ok=True)
    if a.errors:
        os.makedirs(a.errors, exist_ok=True)

    import distributed
    if a.scheduler:
        client = distributed.Client(a.scheduler)
        cluster = None
    else:
        cluster = distributed.LocalCluster(n_workers=a.workers or os.cpu_count() or 1,
                                           threads_per_worker=1, processes=True,
                                           dashboard_address=None)
        client = distributed.Client(cluster)
    t0 = time.perf_counter()
    done: List[Dict[str, Any]] = []
    status = 0
    try:
        futs = [client.submit(score_file, f, sc, os.path.abspath(a.output),
                              os.path.abspath(a.errors) if a.errors else None, fmt,
                              a.chunk_rows, key=f"aistack-score-{i}-{os.path.basename(f)}",
                              pure=False)
                for i, f in enumerate(files)]
        for fut in distributed.as_completed(futs):
            try:
                r = fut.result()
            except Exception as e:
                print(f"aistack.score: failed: {e}", file=sys.stderr)
                client.cancel(futs)
                status = 1
                break
            done.append(r)
            if not a.quiet:
                rows = sum(d["rows"] for d in done)
                el = time.perf_counter() - t0
                print(f"[{len(done)}/{len(files)} files] {rows} rows, "
                      f"{rows / max(el, 1e-9):,.0f} rows/s", file=sys.stderr, flush=True)
    finally:
        client.close()
        if cluster is not None:
            cluster.close()
    seconds = time.perf_counter() - t0
    rows = sum(d["rows"] for d in done)
    summary = {"files": len(done), "rows": rows, "ok": sum(d["ok"] for d in done),
               "failed": sum(d["failed"] for d in done), "seconds": seconds,
               "rows_per_s": rows / seconds if seconds > 0 else 0.0, "complete": status == 0}
    with open(os.path.join(a.output, "_summary.json"), "w") as f:
        json.dump(summary, f, indent=1)
    print(f"aistack.score: {summary['rows']} rows ({summary['failed']} failed) from "
          f"{summary['files']} of {len(files)} files in {seconds:.2f} s, "
          f"{summary['rows_per_s']:,.0f} rows/s", file=sys.stderr)
    return status


def _plain_columns(model: str, first: str, row_id: Optional[str]) -> Optional[List[str]]:
    """A plain model (no feature pipeline) takes every column but the row id, in the first
    file's order; a pipeline model takes its own inputs (None)."""
    from . import _cache
    _, m = _cache.model(model)
    pl = m.pipeline
    if pl is not None:
        pl.close()
        return None
    import pandas as pd
    if _is_parquet(first):
        import pyarrow.parquet as pq
        names = list(pq.ParquetFile(first).schema_arrow.names)
    else:
        names = list(pd.read_csv(first, nrows=0).columns)
    return [c for c in names if c != row_id]


if __name__ == "__main__":
    sys.exit(main())
