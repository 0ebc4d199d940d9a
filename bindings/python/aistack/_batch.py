"""Scoring one partition (a pandas DataFrame or a NumPy block) in batches: the engine-neutral
part of aistack.dask, aistack.spark and aistack.score.

A Scorer is what travels with each task: the model's path and a few settings, never the model
(a worker gets its model from aistack._cache). Made on the client, it probes the model once to
learn the output columns and dtypes, so that the engines get their meta / schema without
running a partition.
"""
from __future__ import annotations

import ctypes
import os
from typing import Any, Dict, List, Mapping, Optional, Sequence, Tuple

import numpy as np

from . import _cache, _errors, _lib
from ._tensor import wrap_array

ERROR_COLUMNS = ("row_id", "field", "message")
DEFAULT_BATCH_ROWS = 65536


def _numeric_kind(dtype: Any) -> bool:
    return dtype.kind in "biuf"


class Scorer:
    """Scores DataFrames / arrays with the model at `path`.

    mode "records": the model has a feature pipeline; its inputs (or `columns`) are taken from
    the frame's columns by name. mode "features": a plain model with one input [N, F]; the
    frame's `columns` (default all but row_id) are its F features, in that order. mode "array":
    NumPy blocks [N, ...] fed to the model's one input.
    errors: "raise" fails on the first row that breaks the schema, with its row id; "keep" drops
    such rows from the predictions and returns them as (row_id, field, message) rows.
    """

    def __init__(self, path: str, *, outputs: Optional[Sequence[str]] = None,
                 columns: Optional[Sequence[str]] = None, threads: int = 1,
                 batch_rows: int = DEFAULT_BATCH_ROWS, errors: str = "raise",
                 row_id: Optional[str] = None, settings: Optional[Mapping[str, Any]] = None,
                 array: bool = False, frame_columns: Optional[Sequence[str]] = None):
        if errors not in ("raise", "keep"):
            raise _errors.InvalidArgumentError(f"errors must be 'raise' or 'keep', got {errors!r}",
                                               1)
        if int(batch_rows) < 1:
            raise _errors.InvalidArgumentError(f"batch_rows must be >= 1, got {batch_rows}", 1)
        self.path = os.path.abspath(os.fspath(path))
        self.threads = int(threads)
        self.batch_rows = int(batch_rows)
        self.errors = errors
        self.row_id = row_id
        self.settings = dict(settings or {})
        _, m = _cache.model(self.path, self.settings)  # the client's copy: mapped, cheap
        pl = m.pipeline
        names = [o.name for o in m.outputs]
        self.outputs = list(outputs) if outputs is not None else names
        unknown = [o for o in self.outputs if o not in names]
        if unknown:
            raise _errors.NotFoundError(f"{self.path}: no output named {unknown}; the model's "
                                        f"outputs are {names}", 8)
        if array:
            self.mode = "array"
        elif pl is not None:
            self.mode = "records"
        else:
            self.mode = "features"
        if self.mode == "records":
            self.kinds = dict(zip(pl.input_names, pl.input_kinds))
            self.columns = list(columns) if columns is not None else list(pl.input_names)
            pl.close()
        else:
            if len(m.inputs) != 1:
                raise _errors.InvalidArgumentError(
                    f"{self.path}: a model without a feature pipeline must have one input to "
                    f"score {'arrays' if array else 'feature columns'}; it has "
                    f"{[i.name for i in m.inputs]}", 1)
            self.kinds = {}
            if columns is not None:
                self.columns = list(columns)
            elif frame_columns is not None:
                self.columns = [c for c in frame_columns if c != row_id]
            else:
                self.columns = []
        if frame_columns is not None and not array:
            missing = [c for c in self.columns if c not in frame_columns]
            if missing:
                raise _errors.NotFoundError(
                    f"{self.path}: the data has no column {missing} (it has "
                    f"{list(frame_columns)}); pass columns= to choose the inputs", 8)
            if row_id is not None and row_id not in frame_columns:
                raise _errors.NotFoundError(f"row_id column {row_id!r} is not in the data", 8)
        inp = m.inputs[0]
        self.input_name = inp.name
        self.input_dtype = np.dtype(inp.dtype) if inp.dtype is not None else np.dtype(np.float32)
        self.input_tail = tuple(1 if d is None else d for d in inp.shape[1:])
        if self.mode == "features" and self.input_tail and self.input_tail != (len(self.columns),):
            raise _errors.ShapeError(
                f"{self.path}: input {inp.name!r} takes {inp.shape[1:]} features per row, "
                f"{len(self.columns)} columns were given ({self.columns})", 3)
        self.out_info = self._probe(m)

    def __dask_tokenize__(self) -> Tuple[Any, ...]:
        # The file's identity is part of the token: a replaced model is a new computation.
        return ("aistack.Scorer", _cache.file_key(self.path, self.settings), self.mode,
                tuple(self.outputs), tuple(self.columns), self.threads, self.batch_rows,
                self.errors, self.row_id)

    def _probe(self, m: Any) -> List[Tuple[str, np.dtype, Tuple[int, ...]]]:
        """(output, dtype, per-row shape) of each output asked for, from one all-zero row of
        the model's input (the pipeline is not involved: its width is the input's)."""
        x = np.zeros((1,) + self.input_tail, dtype=self.input_dtype)
        with m.session(threads=1) as s:
            res = s.run({self.input_name: x}, outputs=self.outputs)
        return [(n, res[n].dtype, tuple(res[n].shape[1:])) for n in self.outputs]

    # ---- the columns an output becomes ----

    def output_columns(self) -> List[Tuple[str, np.dtype]]:
        """An output [N] or [N, 1] is one column named after it; [N, K] is K columns
        name_0 .. name_{K-1}; more dimensions are flattened per row the same way."""
        cols = []
        for name, dt, tail in self.out_info:
            width = int(np.prod(tail)) if tail else 1
            dt = np.dtype(object) if dt.kind in "OSU" else dt
            if width == 1:
                cols.append((name, dt))
            else:
                cols.extend((f"{name}_{j}", dt) for j in range(width))
        return cols

    def meta(self, frame_meta: Any) -> Any:
        """The predictions' empty frame: the input's columns, then the output columns."""
        import pandas as pd
        clash = [c for c, _ in self.output_columns() if c in frame_meta.columns]
        if clash:
            raise _errors.InvalidArgumentError(
                f"the data already has columns named like the outputs {clash}; rename them or "
                "choose outputs=", 1)
        out = frame_meta.copy()
        for c, dt in self.output_columns():
            out[c] = pd.Series([], dtype=dt, index=frame_meta.index[:0])
        return out

    @staticmethod
    def errors_meta() -> Any:
        import pandas as pd
        return pd.DataFrame({c: pd.Series([], dtype=object) for c in ERROR_COLUMNS})

    # ---- scoring ----

    def _session(self) -> Any:
        return _cache.session(self.path, threads=self.threads, settings=self.settings)

    def _feed(self, s: Any, part: Any) -> Dict[str, np.ndarray]:
        """Runs one batch (a DataFrame); raises SchemaError with .problems rows relative to
        the batch."""
        if self.mode == "records":
            cols = part[self.columns]
            numeric = [c for c in self.columns if self.kinds.get(c) == "numeric"]
            if all(_numeric_kind(cols[c].dtype) for c in numeric):
                # Columns straight to the library (no per-row Python); results equal run_records.
                return _run_columns(s, cols, self.kinds, self.outputs)
            converted, clean = _to_numeric(cols, numeric)
            if clean:
                return _run_columns(s, converted, self.kinds, self.outputs)
            # Some cell of a numeric input is not a number: the records path lets the library
            # name every bad (row, field); the cells that are numbers in text (a string column
            # of mixed data) go as numbers, as the library's own CSV reader takes them.
            return s.run_records(converted, self.outputs)
        x, problems = _features(part, self.columns, self.input_dtype)
        if problems:
            err = _errors.SchemaError(f"row {problems[0][0]}, field {problems[0][1]!r}: "
                                      f"{problems[0][2]}", 14)
            err.problems = problems
            raise err
        return s.run({self.input_name: x}, self.outputs)

    def _row_ids(self, part: Any) -> np.ndarray:
        return (part[self.row_id] if self.row_id is not None else part.index).to_numpy()

    def score_frame(self, part: Any) -> Tuple[Any, Any]:
        """(predictions, errors) of one partition: predictions are the partition's good rows
        with the output columns appended; errors has a row per problem."""
        import pandas as pd
        s = self._session()
        pieces: List[Any] = []
        errs: List[Tuple[Any, str, str]] = []
        n = len(part)
        for start in range(0, n, self.batch_rows):
            batch = part.iloc[start:start + self.batch_rows]
            try:
                res = self._feed(s, batch)
            except _errors.SchemaError as e:
                ids = self._row_ids(batch)
                rows = [p for p in e.problems if 0 <= p[0] < len(batch)]
                if self.errors == "raise" or not rows or len(rows) < len(e.problems):
                    # default, or a problem of the whole batch (no row): the job fails with
                    # the first bad row's message, named by its row id
                    if rows:
                        r, field, msg = min(rows)
                        raise _errors.SchemaError(
                            f"row {ids[r]!r}: field {field!r}: {msg} ({len(e.problems)} "
                            f"problem(s) in this batch; errors='keep' sends such rows to the "
                            f"errors output)", 14) from e
                    raise
                bad = sorted({p[0] for p in rows})
                errs.extend((ids[r], f, m) for r, f, m in sorted(rows))
                keep = np.ones(len(batch), bool)
                keep[bad] = False
                batch = batch.iloc[np.flatnonzero(keep)]
                if len(batch) == 0:
                    continue
                res = self._feed(s, batch)
            pieces.append(self._append(batch, res))
        if not pieces:
            out = self.meta(part.iloc[:0])
        else:
            out = pd.concat(pieces) if len(pieces) > 1 else pieces[0]
        errors = pd.DataFrame(errs, columns=list(ERROR_COLUMNS), dtype=object) if errs \
            else self.errors_meta()
        return out, errors

    def _append(self, batch: Any, res: Mapping[str, np.ndarray]) -> Any:
        out = batch.copy(deep=False)
        n = len(batch)
        for name, dt, tail in self.out_info:
            a = res[name].reshape(n, -1)
            if a.shape[1] == 1:
                out[name] = a[:, 0]
            else:
                for j in range(a.shape[1]):
                    out[f"{name}_{j}"] = a[:, j]
        return out

    def score_array(self, block: np.ndarray, output: str) -> np.ndarray:
        """One NumPy block [N, ...] through the model in batches: the output's rows."""
        s = self._session()
        x = np.ascontiguousarray(block, dtype=self.input_dtype)
        dt, tail = {n: (d, t) for n, d, t in self.out_info}[output]
        out = np.empty((x.shape[0],) + tail, dtype=dt)
        for start in range(0, x.shape[0], self.batch_rows):
            stop = start + self.batch_rows
            s.run({self.input_name: x[start:stop]}, [output], out=[out[start:stop]])
        return out


def _string_tensor(col: Any) -> Optional[int]:
    """A string tensor of a categorical column without per-row Python: the column is
    dictionary-encoded (pandas.factorize), each distinct value encoded once (str() of it, as
    Session.run_columns does per value) and the row pointers gathered with NumPy. None when a
    value is missing or holds a NUL: those go by Session.run_columns' own path."""
    import pandas as pd
    codes, uniques = pd.factorize(col, use_na_sentinel=True)
    if len(codes) and codes.min() < 0:
        return None
    enc = [str(u).encode() for u in uniques]
    if any(b"\0" in e for e in enc):
        return None
    bufs = [ctypes.create_string_buffer(e) for e in enc]  # alive until the copy below
    addrs = np.array([ctypes.addressof(b) for b in bufs] or [0], dtype=np.uintp)
    ptrs = np.ascontiguousarray(addrs[codes])
    shape = (ctypes.c_int64 * 1)(len(codes))
    h = _lib.TensorP()
    _errors.check(_lib.lib.ais_tensor_create_strings(
        shape, 1, ptrs.ctypes.data_as(ctypes.POINTER(ctypes.c_char_p)), ctypes.byref(h)))
    del bufs
    return h.value


def _run_columns(s: Any, cols: Any, kinds: Mapping[str, str],
                 outputs: Sequence[str]) -> Dict[str, np.ndarray]:
    """Session.run_columns for a frame of the pipeline's inputs, with the categorical columns
    made into string tensors by _string_tensor (Session.run_columns converts them value by
    value in Python: most of the time of a batch). The library sees the same numbers and
    strings, so the results are the same bits."""
    handles: List[int] = []
    names: List[bytes] = []
    keep: List[Any] = []
    try:
        for c in cols.columns:
            kind = kinds.get(c)
            if kind is None:
                continue
            if kind == "categorical":
                h = _string_tensor(cols[c])
                if h is None:
                    return s.run_columns(cols, outputs)
            else:
                arr = cols[c].to_numpy()
                if arr.dtype not in (np.float32, np.float64, np.int32, np.int64):
                    arr = cols[c].to_numpy(dtype=np.float64, na_value=np.nan)
                arr = np.ascontiguousarray(arr)
                keep.append(arr)
                h = wrap_array(arr)[0]
            handles.append(h)
            names.append(str(c).encode())
        n = len(handles)
        name_arr = (ctypes.c_char_p * max(1, n))(*names)
        tensors = (ctypes.c_void_p * max(1, n))(*handles)
        return s._run_source(_lib.lib.ais_session_run_columns, (name_arr, tensors, n), outputs)
    finally:
        for h in handles:
            _lib.lib.ais_tensor_destroy(h)


def _to_numeric(cols: Any, numeric: Sequence[str]) -> Tuple[Any, bool]:
    """(cols with the non-numeric columns among `numeric` converted, clean): a clean result has
    float64 columns; otherwise the cells that are no number are kept as they were, in object
    columns, for the library to report."""
    import pandas as pd
    out = cols.copy(deep=False)
    clean = True
    for c in numeric:
        col = cols[c]
        if _numeric_kind(col.dtype):
            continue
        conv = pd.to_numeric(col, errors="coerce").astype(np.float64)
        bad = (conv.isna() & ~col.isna()).to_numpy()
        if bad.any():
            clean = False
            mixed = conv.astype(object)
            mixed[bad] = col.astype(object)[bad]
            out[c] = mixed
        else:
            out[c] = conv
    return out, clean


def _features(part: Any, columns: Sequence[str], dtype: np.dtype
              ) -> Tuple[np.ndarray, List[Tuple[int, str, str]]]:
    """The [N, F] feature matrix of a plain model; (row, column, message) for each cell that is
    not a number (a missing cell is NaN, which tree models take as missing)."""
    import pandas as pd
    problems: List[Tuple[int, str, str]] = []
    cols = part[list(columns)]
    if all(_numeric_kind(cols[c].dtype) for c in columns):
        return np.ascontiguousarray(cols.to_numpy(dtype=dtype)), problems
    conv = {}
    for c in columns:
        col = cols[c]
        if _numeric_kind(col.dtype):
            conv[c] = col
            continue
        num = pd.to_numeric(col, errors="coerce")
        for r in np.flatnonzero((num.isna() & ~col.isna()).to_numpy()):
            problems.append((int(r), str(c), f"{col.iloc[r]!r} is not a number"))
        conv[c] = num
    problems.sort()
    x = np.ascontiguousarray(pd.DataFrame(conv).to_numpy(dtype=dtype))
    return x, problems
