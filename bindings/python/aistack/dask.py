"""Batch scoring on Dask: libaistack inside dask.dataframe / dask.array graphs.

    import dask.dataframe as dd
    from aistack import dask as ais_dask
    ddf = dd.read_parquet("s3://lake/events/2026-12-06/")
    scored = ais_dask.predict(ddf, "/models/churn.ais")     # lazy; outputs appended as columns
    scored.to_parquet("s3://lake/scores/2026-12-06/")

Dask does the scheduling, retries and data movement; what travels with each task is the model's
path, never the model. Each worker process loads the model once (aistack._cache: keyed by path
and file identity, weights memory-mapped and shared by the worker's threads), each thread runs
its own session, and each partition goes through it in batches of `batch_rows` rows, as columns
(no per-row Python) where the data is clean. The model file must be readable at the same path
on every worker (shared storage, or copied to each host: docs/distributed-scoring.md).
"""
from __future__ import annotations

from typing import Any, Mapping, Optional, Sequence, Tuple, Union

import numpy as np

from ._batch import DEFAULT_BATCH_ROWS, Scorer

__all__ = ["predict", "predict_with_errors", "scorer"]


def _is_array(data: Any) -> bool:
    import dask.array as da
    return isinstance(data, da.Array)


def scorer(data: Any, model_path: Any, *, outputs: Optional[Sequence[str]] = None,
           columns: Optional[Sequence[str]] = None, threads: int = 1,
           batch_rows: int = DEFAULT_BATCH_ROWS, errors: str = "raise",
           row_id: Optional[str] = None, settings: Optional[Mapping[str, Any]] = None) -> Scorer:
    """The Scorer that predict() puts into the graph for `data` (made on the client; it probes
    the model once for the output columns)."""
    if _is_array(data):
        return Scorer(model_path, outputs=outputs, threads=threads, batch_rows=batch_rows,
                      settings=settings, array=True)
    return Scorer(model_path, outputs=outputs, columns=columns, threads=threads,
                  batch_rows=batch_rows, errors=errors, row_id=row_id, settings=settings,
                  frame_columns=[str(c) for c in data.columns])


def _predict_part(part: Any, sc: Scorer) -> Any:
    return sc.score_frame(part)[0]


def _score_part(part: Any, sc: Scorer) -> Tuple[Any, Any]:
    return sc.score_frame(part)


def _block(block: np.ndarray, sc: Scorer, output: str) -> np.ndarray:
    return sc.score_array(block, output)


def predict(data: Any, model_path: Any, *, outputs: Union[str, Sequence[str], None] = None,
            columns: Optional[Sequence[str]] = None, threads: int = 1,
            batch_rows: int = DEFAULT_BATCH_ROWS, row_id: Optional[str] = None,
            settings: Optional[Mapping[str, Any]] = None) -> Any:
    """Scores a dask.dataframe or dask.array lazily with the model at `model_path`.

    DataFrame: a model with a feature pipeline takes its raw inputs from the columns named like
    them (or `columns`); a plain model with one input [N, F] takes `columns` (default every
    column but `row_id`) as its F features. Returns the frame with the outputs appended ([N]
    -> one column named after the output, [N, K] -> name_0 .. name_{K-1}), meta included.
    A row that breaks the schema fails the job, its message naming the row (its index, or its
    `row_id` column) and field; predict_with_errors() keeps such rows apart instead.
    Array [N, ...] (chunked along rows only; other axes are made whole): a plain model's one
    input; returns the one output asked for (`outputs`: its name, default the first output) as
    a dask.array with the same row chunks.
    threads: the threads of each task's session (1 suits a worker that runs a task per core).
    settings: Model keyword settings (e.g. {"opt_level": 1}) for the workers' loads.
    """
    if _is_array(data):
        import dask.array as da
        out_names = [outputs] if isinstance(outputs, str) else outputs
        sc = scorer(data, model_path, outputs=out_names, threads=threads,
                    batch_rows=batch_rows, settings=settings)
        if len(sc.outputs) != 1 and out_names is not None:
            raise ValueError("a dask.array prediction returns one output: pass outputs='NAME'")
        name, dt, tail = sc.out_info[0]
        x = data.rechunk({i: -1 for i in range(1, data.ndim)}) if data.ndim > 1 else data
        chunks = (x.chunks[0],) + tuple((d,) for d in tail)
        kw: dict = {}
        if x.ndim != 1 + len(tail):
            kw = {"drop_axis": list(range(1, x.ndim)), "new_axis": list(range(1, 1 + len(tail)))}
        return da.map_blocks(_block, x, sc, name, dtype=dt, chunks=chunks,
                             meta=np.empty((0,) * (1 + len(tail)), dt), **kw)
    if isinstance(outputs, str):
        outputs = [outputs]
    sc = scorer(data, model_path, outputs=outputs, columns=columns, threads=threads,
                batch_rows=batch_rows, row_id=row_id, settings=settings)
    return data.map_partitions(_predict_part, sc, meta=sc.meta(data._meta))


def predict_with_errors(data: Any, model_path: Any, *,
                        outputs: Union[str, Sequence[str], None] = None,
                        columns: Optional[Sequence[str]] = None, threads: int = 1,
                        batch_rows: int = DEFAULT_BATCH_ROWS, row_id: Optional[str] = None,
                        settings: Optional[Mapping[str, Any]] = None) -> Tuple[Any, Any]:
    """predict() for a dask.dataframe whose rows that break the schema are set apart instead
    of failing the job: returns (predictions, errors), two lazy frames from one pass (compute
    them together: dask.compute(pred, err)). predictions has the good rows; errors has one row
    per problem: row_id (the row's index value or its `row_id` column), field, message."""
    import dask
    import dask.dataframe as dd
    if isinstance(outputs, str):
        outputs = [outputs]
    sc = scorer(data, model_path, outputs=outputs, columns=columns, threads=threads,
                batch_rows=batch_rows, errors="keep", row_id=row_id, settings=settings)
    meta = sc.meta(data._meta)
    both = [dask.delayed(_score_part, pure=True)(p, sc) for p in data.to_delayed()]
    pred = dd.from_delayed([b[0] for b in both], meta=meta, verify_meta=False)
    err = dd.from_delayed([b[1] for b in both], meta=sc.errors_meta(), verify_meta=False)
    return pred, err
