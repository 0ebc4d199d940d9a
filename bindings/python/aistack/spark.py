"""Batch scoring on Spark: libaistack inside PySpark jobs through mapInPandas.

    from aistack import spark as ais_spark
    df = spark.read.parquet("s3://lake/events/2026-12-06/")
    scored = ais_spark.predict(df, "/models/churn.ais")   # lazy; outputs appended as columns
    scored.write.parquet("s3://lake/scores/2026-12-06/")

Spark moves each partition to the Python worker as Arrow record batches, which arrive as pandas
DataFrames (spark.sql.execution.arrow.maxRecordsPerBatch rows each): no per-row Python on the
way in or out. What travels with the task is the model's path; each Python worker process loads
the model once (aistack._cache: keyed by path and file identity, weights memory-mapped, so the
workers of one executor host share them through the page cache) and keeps it across tasks while
Spark reuses the worker (spark.python.worker.reuse, the default). The model file must be readable
at the same path on every executor (shared storage, or SparkContext.addFile and
SparkFiles.get: docs/distributed-scoring.md).
"""
from __future__ import annotations

from typing import Any, Iterator, Mapping, Optional, Sequence, Tuple, Union

import numpy as np

from ._batch import DEFAULT_BATCH_ROWS, ERROR_COLUMNS, Scorer

__all__ = ["predict", "predict_with_errors", "scorer", "spark_type"]

ERROR_FIELD = "_aistack_error_field"
ERROR_MESSAGE = "_aistack_error_message"
ERROR_ROW = "_aistack_error_row"


def spark_type(dtype: np.dtype) -> Any:
    """The Spark SQL type of an output column of NumPy `dtype`."""
    from pyspark.sql import types as T
    dt = np.dtype(dtype)
    table = {"f4": T.FloatType(), "f8": T.DoubleType(), "i1": T.ByteType(),
             "i2": T.ShortType(), "i4": T.IntegerType(), "i8": T.LongType(),
             "u1": T.ShortType(), "u2": T.IntegerType(), "u4": T.LongType(),
             "b1": T.BooleanType()}
    if dt.kind in "OSU":
        return T.StringType()
    key = f"{dt.kind}{dt.itemsize}"
    if key not in table:
        raise TypeError(f"an output of dtype {dt} has no Spark type here")
    return table[key]


def scorer(df: Any, model_path: Any, *, outputs: Optional[Sequence[str]] = None,
           columns: Optional[Sequence[str]] = None, threads: int = 1,
           batch_rows: int = DEFAULT_BATCH_ROWS, errors: str = "raise",
           row_id: Optional[str] = None, settings: Optional[Mapping[str, Any]] = None) -> Scorer:
    """The Scorer that predict() ships to the executors (made on the driver)."""
    return Scorer(model_path, outputs=outputs, columns=columns, threads=threads,
                  batch_rows=batch_rows, errors=errors, row_id=row_id, settings=settings,
                  frame_columns=list(df.columns))


def _schema(df: Any, sc: Scorer, extra: Sequence[Tuple[str, Any]] = ()) -> Any:
    from pyspark.sql import types as T
    clash = [c for c, _ in sc.output_columns() if c in df.columns]
    if clash:
        raise ValueError(f"the data already has columns named like the outputs {clash}; "
                         "rename them or choose outputs=")
    fields = list(df.schema.fields)
    if extra:  # error rows leave the input's columns null
        fields = [T.StructField(f.name, f.dataType, True, f.metadata) for f in fields]
    fields += [T.StructField(c, spark_type(dt), True) for c, dt in sc.output_columns()]
    fields += [T.StructField(n, t, True) for n, t in extra]
    return T.StructType(fields)


def predict(df: Any, model_path: Any, *, outputs: Union[str, Sequence[str], None] = None,
            columns: Optional[Sequence[str]] = None, threads: int = 1,
            batch_rows: int = DEFAULT_BATCH_ROWS, row_id: Optional[str] = None,
            settings: Optional[Mapping[str, Any]] = None) -> Any:
    """Scores a Spark DataFrame lazily with the model at `model_path`: the frame with the output
    columns appended (as aistack.dask.predict names them). A model with a feature pipeline
    takes its raw inputs from the columns named like them (or `columns`); a plain model with
    one input [N, F] takes `columns` (default every column but `row_id`) as its F features.
    A row that breaks the schema fails the job with its message, naming the row by its
    `row_id` column (or its place in the Arrow batch); predict_with_errors() sets such rows
    apart instead."""
    if isinstance(outputs, str):
        outputs = [outputs]
    sc = scorer(df, model_path, outputs=outputs, columns=columns, threads=threads,
                batch_rows=batch_rows, row_id=row_id, settings=settings)

    def score(batches: Iterator[Any]) -> Iterator[Any]:
        for pdf in batches:
            yield sc.score_frame(pdf)[0]
    return df.mapInPandas(score, _schema(df, sc))


def predict_with_errors(df: Any, model_path: Any, *,
                        outputs: Union[str, Sequence[str], None] = None,
                        columns: Optional[Sequence[str]] = None, threads: int = 1,
                        batch_rows: int = DEFAULT_BATCH_ROWS, row_id: Optional[str] = None,
                        settings: Optional[Mapping[str, Any]] = None,
                        persist: bool = True) -> Tuple[Any, Any]:
    """(predictions, errors): predict() whose rows that break the schema go to `errors`
    (row_id, field, message; one row per problem) instead of failing the job. Both are filters
    of one scored frame, persisted (persist=True) so that the actions on the two score the
    data once (spark.catalog.clearCache() drops it, or persist=False to score per action)."""
    from pyspark.sql import functions as F
    from pyspark.sql import types as T
    if isinstance(outputs, str):
        outputs = [outputs]
    sc = scorer(df, model_path, outputs=outputs, columns=columns, threads=threads,
                batch_rows=batch_rows, errors="keep", row_id=row_id, settings=settings)
    extra = [(ERROR_ROW, T.StringType()), (ERROR_FIELD, T.StringType()),
             (ERROR_MESSAGE, T.StringType())]
    schema = _schema(df, sc, extra)
    in_cols = list(df.columns)
    out_cols = [c for c, _ in sc.output_columns()]

    def score(batches: Iterator[Any]) -> Iterator[Any]:
        import pandas as pd
        for pdf in batches:
            pred, err = sc.score_frame(pdf)
            pred = pred.assign(**{n: pd.Series([None] * len(pred), dtype=object,
                                               index=pred.index) for n, _ in extra})
            yield pred
            if len(err):
                # One row per problem: the error columns set, the rest null.
                rows = pd.DataFrame({c: pd.Series([None] * len(err), dtype=object)
                                     for c in in_cols + out_cols})
                rows[ERROR_ROW] = [str(v) for v in err["row_id"]]
                rows[ERROR_FIELD] = list(err["field"])
                rows[ERROR_MESSAGE] = list(err["message"])
                yield rows
    both = df.mapInPandas(score, schema)
    if persist:
        both = both.persist()
    pred = both.filter(F.col(ERROR_MESSAGE).isNull()).drop(*[n for n, _ in extra])
    err = both.filter(F.col(ERROR_MESSAGE).isNotNull()).select(
        *[F.col(n).alias(a) for n, a in zip((ERROR_ROW, ERROR_FIELD, ERROR_MESSAGE),
                                            ERROR_COLUMNS)])
    return pred, err
