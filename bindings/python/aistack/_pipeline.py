"""Feature pipelines: raw records (dicts, JSON lines, CSV, columns) to the float matrix a model
takes (docs/pipeline-spec.md)."""
from __future__ import annotations

import ctypes
import json
import math
import numbers
import os
from typing import Any, Dict, List, Mapping, Optional, Sequence, Tuple, Union

import numpy as np

from . import _errors, _lib
from ._tensor import to_numpy, wrap_array

L = _lib.lib

Problem = Tuple[int, str, str]
SpecLike = Union[str, bytes, Mapping[str, Any], "Pipeline"]

_KIND_NAMES = {1: "numeric", 2: "categorical", 3: "image", 4: "text"}
_F64 = 11  # AIS_DTYPE_F64
_MISSING, _NUMBER, _STRING = 0, 1, 2
_BYTES, _PIXELS = 3, 4  # ais_value_kind for image inputs
EXTRA_FIELDS = {"error": 0, "ignore": 1}  # ais_extra_fields


def extra_code(extra: str) -> int:
    """The ais_extra_fields value of extra="error" | "ignore"."""
    if extra not in EXTRA_FIELDS:
        raise _errors.InvalidArgumentError(
            f"extra must be one of {sorted(EXTRA_FIELDS)}, got {extra!r}", 1)
    return EXTRA_FIELDS[extra]


class Field(ctypes.Structure):
    """ais_field: one named value of a record (its layout is part of the C ABI)."""
    _fields_ = [("name", ctypes.c_char_p), ("kind", ctypes.c_int), ("number", ctypes.c_double),
                ("string", ctypes.c_char_p)]


def _problems(report: int) -> List[Problem]:
    out = []
    for i in range(L.ais_pipeline_errors_count(report)):
        row = int(L.ais_pipeline_errors_row(report, i))
        out.append((-1 if row == ctypes.c_size_t(-1).value else row,
                    _lib.text(L.ais_pipeline_errors_field(report, i)),
                    _lib.text(L.ais_pipeline_errors_message(report, i))))
    return out


def check_run(status: int, report: Any) -> None:
    """Raises for a failed run; AIS_E_SCHEMA carries every (row, field, message) in .problems.
    Destroys the report."""
    try:
        if status == 0:
            return
        message = _lib.text(L.ais_last_error())
        err = _errors.make(status, message)
        if isinstance(err, _errors.SchemaError):
            err.problems = _problems(report.value) if report.value else []
        raise err
    finally:
        if report.value:
            L.ais_pipeline_errors_destroy(report.value)
            report.value = None


def _is_frame(x: Any) -> bool:
    """A pandas DataFrame, recognised without importing pandas (it stays optional)."""
    return type(x).__name__ == "DataFrame" and hasattr(x, "columns") and hasattr(x, "iloc")


def _frame_columns(df: Any) -> Dict[str, np.ndarray]:
    """{column name: object array} of a DataFrame; NaN, None, pd.NA and NaT stay as they are
    (_is_missing knows them)."""
    names = [str(c) for c in df.columns]
    if len(set(names)) != len(names):
        dup = sorted({n for n in names if names.count(n) > 1})
        raise _errors.InvalidArgumentError(f"the DataFrame names columns {dup} twice", 1)
    return {n: df.iloc[:, j].to_numpy(dtype=object) for j, n in enumerate(names)}


def _frame_records(df: Any) -> List[Dict[str, Any]]:
    """One dict per row of a DataFrame: missing cells (NaN, None, pd.NA, NaT) become None,
    NumPy scalars Python ones (bool stays bool: a number 0 / 1)."""
    cols = _frame_columns(df)
    names = list(cols)
    values = [[None if _is_missing(v) else (v.item() if isinstance(v, np.generic) else v)
               for v in cols[n]] for n in names]
    return [dict(zip(names, row)) for row in zip(*values)] if names else [
        {} for _ in range(len(df))]


class _Records:
    """ais_field arrays for a list of dicts (or a pandas DataFrame, one record per row); keeps
    the encoded strings alive."""

    def __init__(self, records: Any, kinds: Optional[Mapping[str, str]] = None):
        image = {k for k, v in (kinds or {}).items() if v == "image"}
        if _is_frame(records):
            records = _frame_records(records)
        if isinstance(records, Mapping):
            raise _errors.InvalidArgumentError(
                "records must be a list of dicts (one per row), got a single dict", 1)
        self.keep: List[Any] = []
        rows = []
        counts = []
        for r, rec in enumerate(records):
            if not isinstance(rec, Mapping):
                raise _errors.InvalidArgumentError(
                    f"record {r} is {type(rec).__name__}, expected a dict", 1)
            arr = (Field * max(1, len(rec)))()
            for j, (k, v) in enumerate(rec.items()):
                name = str(k).encode()
                self.keep.append(name)
                f = arr[j]
                f.name = name
                if v is None:
                    f.kind = _MISSING
                elif k in image or isinstance(v, (np.ndarray, bytearray, memoryview,
                                                  os.PathLike)):
                    self._image(f, v, r, k)
                elif isinstance(v, (bool, np.bool_)) or not isinstance(v, (str, bytes)) and \
                        isinstance(v, (numbers.Real, np.number)):
                    f.kind, f.number = _NUMBER, float(v)
                elif isinstance(v, (str, bytes)):
                    s = v.encode() if isinstance(v, str) else bytes(v)
                    if b"\0" in s:
                        raise _errors.InvalidArgumentError(
                            f"record {r}, field {k!r}: the string holds a NUL character", 1)
                    self.keep.append(s)
                    f.kind, f.string = _STRING, s
                else:
                    raise _errors.InvalidArgumentError(
                        f"record {r}, field {k!r}: {type(v).__name__} is not a number, a string "
                        "or None", 1)
            self.keep.append(arr)
            rows.append(ctypes.cast(arr, ctypes.c_void_p).value)
            counts.append(len(rec))
        self.n = len(rows)
        self.rows = (ctypes.c_void_p * max(1, self.n))(*rows)
        self.counts = (ctypes.c_size_t * max(1, self.n))(*counts)

    def _image(self, f: Field, v: Any, r: int, k: Any) -> None:
        """An image input's value: a path (str or os.PathLike), the encoded file (bytes,
        bytearray, memoryview) or decoded pixels (a NumPy uint8 array, HWC or HW)."""
        from ._tensor import Tensor
        if isinstance(v, np.ndarray):
            t = Tensor.from_numpy(np.ascontiguousarray(v))
            self.keep.append(t)
            f.kind, f.string = _PIXELS, ctypes.cast(ctypes.c_void_p(t.handle), ctypes.c_char_p)
        elif isinstance(v, (bytes, bytearray, memoryview)):
            b = bytes(v)
            self.keep.append(b)
            f.kind, f.number, f.string = _BYTES, float(len(b)), b
        elif isinstance(v, (str, os.PathLike)):
            s = os.fsencode(v)
            self.keep.append(s)
            f.kind, f.string = _STRING, s
        else:
            raise _errors.InvalidArgumentError(
                f"record {r}, field {k!r}: {type(v).__name__} is not an image (a path, bytes or "
                "a NumPy uint8 array)", 1)


def _text(data: Union[str, bytes]) -> bytes:
    if isinstance(data, str):
        return data.encode()
    if isinstance(data, (bytes, bytearray, memoryview)):
        return bytes(data)
    raise _errors.InvalidArgumentError(f"expected str or bytes, got {type(data).__name__}", 1)


def _spec_bytes(spec: SpecLike) -> bytes:
    if isinstance(spec, Pipeline):
        return spec.spec.encode()
    if isinstance(spec, Mapping):
        return json.dumps(spec).encode()
    return _text(spec)


def _is_missing(v: Any) -> bool:
    # pandas' NA and NaT by type name, so that pandas stays optional
    return v is None or (isinstance(v, (float, np.floating)) and math.isnan(v)) or \
        type(v).__name__ in ("NAType", "NaTType")


def _frame_native_columns(df: Any) -> Dict[str, np.ndarray]:
    """{column name: array} of a DataFrame for _Columns: numeric and bool columns keep their NumPy
    dtype (NaN is their only missing value), the others are object arrays as _frame_columns
    gives them, so that no column is converted value by value in Python."""
    names = [str(c) for c in df.columns]
    if len(set(names)) != len(names):
        dup = sorted({n for n in names if names.count(n) > 1})
        raise _errors.InvalidArgumentError(f"the DataFrame names columns {dup} twice", 1)
    out = {}
    for j, n in enumerate(names):
        a = df.iloc[:, j].to_numpy()
        out[n] = a if a.dtype.kind in "fiub" else df.iloc[:, j].to_numpy(dtype=object)
    return out


def _category_codes(col: Any) -> Optional[Tuple[np.ndarray, List[bytes]]]:
    """(codes, each distinct value's str() encoded) of a categorical column, without per-value
    Python: NumPy string, integer and bool arrays by numpy.unique, object arrays of str only by
    pandas.factorize. None for anything else (lists, other objects, missing cells): those take
    the per-value path, which decides as before."""
    if type(col).__name__ == "Series":
        col = col.to_numpy()
    if not isinstance(col, np.ndarray) or col.size == 0:
        return None
    arr = col.reshape(-1)
    if arr.dtype.kind in "Uiub":
        uniq, codes = np.unique(arr, return_inverse=True)
    elif arr.dtype == object:
        try:
            import pandas as pd
        except ImportError:
            return None
        if pd.api.types.infer_dtype(arr, skipna=False) != "string":
            return None
        codes, uniq = pd.factorize(arr)
        if codes.min() < 0:
            return None
    else:
        return None
    return np.asarray(codes, dtype=np.intp).reshape(-1), [str(u).encode() for u in uniq]


def _strings_from_codes(codes: np.ndarray, enc: Sequence[bytes]) -> int:
    """A 1-D string tensor of len(codes) rows: row i is enc[codes[i]] (the row pointers
    gathered with NumPy; the library copies the strings)."""
    bufs = [ctypes.create_string_buffer(e) for e in enc]
    addrs = np.array([ctypes.addressof(b) for b in bufs] or [0], dtype=np.uintp)
    ptrs = np.ascontiguousarray(addrs[codes])
    shape = (ctypes.c_int64 * 1)(len(codes))
    h = ctypes.c_void_p()
    _errors.check(L.ais_tensor_create_strings(
        shape, 1, ptrs.ctypes.data_as(ctypes.POINTER(ctypes.c_char_p)), ctypes.byref(h)))
    del bufs
    return h.value


class _Columns:
    """Columns ({name: array} or a pandas DataFrame) as the arguments of the run_columns
    functions, for a pipeline whose inputs have `kinds` ({name: "numeric" | "categorical"}).
    Other names are dropped when keep_unknown is false, else passed on with a placeholder
    tensor (or a None field) for the library to report by name. A string tensor cannot say "missing", so when a categorical column
    holds None / NaN the columns become .records (for run_records) and there are no tensors.
    close() destroys the tensors."""

    def __init__(self, columns: Any, kinds: Mapping[str, str], keep_unknown: bool = False):
        if _is_frame(columns):
            columns = _frame_native_columns(columns)
        self.records: Optional[List[Dict[str, Any]]] = None
        self._handles: List[int] = []
        self.n = 0
        cats: Dict[str, Any] = {}
        nums: Dict[str, np.ndarray] = {}
        unknown: List[str] = []
        for name, col in columns.items():
            kind = kinds.get(name)
            if kind is None:
                if keep_unknown:
                    unknown.append(str(name))
                continue
            if kind == "image":  # paths, bytes or arrays: as records, which take them all
                self.records = _columns_to_records(columns, kinds, keep_unknown)
                return
            if kind in ("categorical", "text"):
                fast = _category_codes(col)
                if fast is not None:  # strings without missing cells, by NumPy/pandas
                    cats[name] = fast
                    continue
                values = list(np.asarray(col, dtype=object).reshape(-1))
                if any(_is_missing(v) for v in values):
                    self.records = _columns_to_records(columns, kinds, keep_unknown)
                    return
                cats[name] = values
            else:
                arr = col if isinstance(col, np.ndarray) and col.dtype != object else np.array(
                    [np.nan if _is_missing(v) else v for v in col], dtype=np.float64)
                if arr.dtype not in (np.float32, np.float64, np.int32, np.int64):
                    arr = arr.astype(np.float64)
                nums[name] = arr
        names: List[str] = []
        try:
            for name, arr in nums.items():
                self._handles.append(wrap_array(arr)[0])
                names.append(name)
            for name, values in cats.items():
                if isinstance(values, tuple):
                    self._handles.append(_strings_from_codes(*values))
                    names.append(name)
                    continue
                enc = [str(v).encode() for v in values]
                vals = (ctypes.c_char_p * max(1, len(enc)))(*enc)
                shape = (ctypes.c_int64 * 1)(len(enc))
                h = ctypes.c_void_p()
                _errors.check(L.ais_tensor_create_strings(shape, 1, vals, ctypes.byref(h)))
                self._handles.append(h.value)
                names.append(name)
            for name in unknown:  # the library reports the name before it looks at the data
                self._handles.append(wrap_array(np.zeros(1))[0])
                names.append(name)
        except BaseException:
            self.close()
            raise
        self.n = len(self._handles)
        self.names = (ctypes.c_char_p * max(1, self.n))(*[n.encode() for n in names])
        self.tensors = (ctypes.c_void_p * max(1, self.n))(*self._handles)

    def close(self) -> None:
        hs, self._handles = self._handles, []
        for h in hs:
            L.ais_tensor_destroy(h)


def _columns_to_records(columns: Mapping[str, Any], kinds: Mapping[str, str],
                        keep_unknown: bool = False) -> List[Dict[str, Any]]:
    cols = {n: list(np.asarray(c, dtype=object).reshape(-1)) for n, c in columns.items()
            if n in kinds}
    # names that are no input go as None fields: the library reports them by name
    extra = [str(n) for n in columns if n not in kinds] if keep_unknown else []
    lengths = {len(c) for c in cols.values()}
    if len(lengths) > 1:
        raise _errors.ShapeError(f"columns have different lengths {sorted(lengths)}", 3)
    n = lengths.pop() if lengths else 0
    records = []
    for r in range(n):
        rec = {}
        for name, c in cols.items():
            v = c[r]
            rec[name] = None if _is_missing(v) else (v.item() if isinstance(v, np.generic) else v)
        for name in extra:
            rec[name] = None
        records.append(rec)
    return records


class Pipeline:
    """A compiled feature pipeline: immutable, shareable between threads.

    >>> p = aistack.Pipeline({"version": 1, "inputs": [...], "features": [...]})
    >>> X = p.run_records([{"age": 31, "city": "Paris"}])   # float32 [rows, p.output_width]
    >>> X = p.run_records(records, dtype=np.float64)        # the features as computed, in double

    spec: the JSON spec as str, bytes or a dict. Records that break the schema raise
    aistack.SchemaError whose .problems lists every (row, field, message). Every run_* takes
    dtype=np.float32 (each feature rounded once from double, the default) or np.float64, and
    extra="error" (the default: a field or column that names no input is a problem, reported
    with the nearest input name, so a misspelled "Age" cannot silently count as missing) or
    "ignore" (such fields are skipped). Problems of the field names (a CSV header, column names)
    have row -1.
    """

    def __init__(self, spec: SpecLike, *, _borrowed: Optional[int] = None, _owner: Any = None):
        self._handle: Optional[int] = None
        self._twins: Dict[Tuple[Any, int], int] = {}  # (dtype, extra) -> twin, made on first use
        self._model_ref: Optional[int] = None  # a reference to the model a view belongs to
        self._borrowed = _borrowed is not None
        if _borrowed is not None:
            # The view holds its own reference, so it outlives Model.close().
            self._model_ref = L.ais_model_retain(_owner.handle)
            self._handle = _borrowed
        else:
            data = _spec_bytes(spec)
            h = ctypes.c_void_p()
            _errors.check(L.ais_pipeline_create_from_json(data, len(data), ctypes.byref(h)))
            self._handle = h.value
        self.input_names: List[str] = []
        self.input_kinds: List[str] = []
        for i in range(L.ais_pipeline_input_count(self._handle)):
            name, kind = ctypes.c_char_p(), ctypes.c_int()
            _errors.check(L.ais_pipeline_input_info(self._handle, i, ctypes.byref(name),
                                                    ctypes.byref(kind)))
            self.input_names.append(_lib.text(name.value))
            self.input_kinds.append(_KIND_NAMES.get(kind.value, str(kind.value)))

    @property
    def handle(self) -> int:
        if not self._handle:
            raise _errors.InvalidArgumentError("the pipeline is closed", 1)
        return self._handle

    @property
    def spec(self) -> str:
        """The JSON text the pipeline was compiled from (a str: spec_dict parses it)."""
        s, n = ctypes.c_char_p(), ctypes.c_size_t()
        _errors.check(L.ais_pipeline_spec_json(self.handle, ctypes.byref(s), ctypes.byref(n)))
        return ctypes.string_at(s, n.value).decode("utf-8", "replace")

    @property
    def spec_dict(self) -> Dict[str, Any]:
        """The spec as a dict (json.loads of spec; a new dict on each call, so changing it
        changes nothing here: Pipeline(d) compiles a changed one)."""
        return json.loads(self.spec)

    @property
    def output_width(self) -> int:
        return int(L.ais_pipeline_output_width(self.handle))

    def _run_handle(self, dtype: Any, extra: str = "error") -> int:
        """The handle whose run functions give `dtype` and treat fields that are no input by
        `extra` (float32 and this pipeline's own policy: this pipeline; else a twin from
        ais_pipeline_with_output_dtype / ais_pipeline_with_extra_fields, made once and kept)."""
        dt = np.dtype(dtype)
        if dt != np.float32 and dt != np.float64:
            raise ValueError(f"dtype must be float32 or float64, got {dt}")
        code = extra_code(extra)
        base = self.handle
        if dt == np.float32 and code == L.ais_pipeline_extra_fields(base):
            return base
        key = (dt.str, code)
        if key not in self._twins:
            h, t = ctypes.c_void_p(), ctypes.c_void_p()
            _errors.check(L.ais_pipeline_with_output_dtype(
                base, _F64 if dt == np.float64 else 1, ctypes.byref(h)))
            try:
                _errors.check(L.ais_pipeline_with_extra_fields(h.value, code, ctypes.byref(t)))
            finally:
                L.ais_pipeline_destroy(h.value)
            if key in self._twins:  # another thread made one meanwhile
                L.ais_pipeline_destroy(t.value)
            else:
                self._twins[key] = t.value
        return self._twins[key]

    def _finish(self, status: int, out: Any, report: Any) -> np.ndarray:
        check_run(status, report)
        t, out.value = out.value, None
        return to_numpy(t)

    def run_records(self, records: Sequence[Mapping[str, Any]], *,
                    dtype: Any = np.float32, extra: str = "error") -> np.ndarray:
        """Rows as dicts of field -> number, str or None (missing), or a pandas DataFrame (one
        record per row; NaN, None, pd.NA and NaT cells are missing, bool columns 0 / 1)."""
        h = self._run_handle(dtype, extra)
        recs = _Records(records, dict(zip(self.input_names, self.input_kinds)))
        out, report = ctypes.c_void_p(), ctypes.c_void_p()
        st = L.ais_pipeline_run_records(h, recs.rows, recs.counts, recs.n,
                                        ctypes.byref(out), ctypes.byref(report))
        return self._finish(st, out, report)

    def run_json_rows(self, text: Union[str, bytes], *, dtype: Any = np.float32,
                      extra: str = "error") -> np.ndarray:
        """One JSON object per line."""
        h = self._run_handle(dtype, extra)
        data = _text(text)
        out, report = ctypes.c_void_p(), ctypes.c_void_p()
        st = L.ais_pipeline_run_json_rows(h, data, len(data), ctypes.byref(out),
                                          ctypes.byref(report))
        return self._finish(st, out, report)

    def run_csv(self, text: Union[str, bytes], *, dtype: Any = np.float32,
                extra: str = "error") -> np.ndarray:
        """CSV with a header row (empty cell = missing)."""
        h = self._run_handle(dtype, extra)
        data = _text(text)
        out, report = ctypes.c_void_p(), ctypes.c_void_p()
        st = L.ais_pipeline_run_csv(h, data, len(data), ctypes.byref(out),
                                    ctypes.byref(report))
        return self._finish(st, out, report)

    def run_columns(self, columns: Mapping[str, Any], *, dtype: Any = np.float32,
                    extra: str = "error") -> np.ndarray:
        """Columns as {name: array}: numbers for numeric inputs (NaN or None missing), strings
        for categorical ones (None or NaN missing), or a pandas DataFrame. Names that are not
        inputs are problems (extra="error") or skipped (extra="ignore")."""
        ph = self._run_handle(dtype, extra)
        cols = _Columns(columns, dict(zip(self.input_names, self.input_kinds)),
                        keep_unknown=extra_code(extra) == 0)
        if cols.records is not None:
            return self.run_records(cols.records, dtype=dtype, extra=extra)
        try:
            out, report = ctypes.c_void_p(), ctypes.c_void_p()
            st = L.ais_pipeline_run_columns(ph, cols.names, cols.tensors, cols.n,
                                            ctypes.byref(out), ctypes.byref(report))
            return self._finish(st, out, report)
        finally:
            cols.close()

    def close(self) -> None:
        h, self._handle = getattr(self, "_handle", None), None
        m, self._model_ref = getattr(self, "_model_ref", None), None
        twins, self._twins = getattr(self, "_twins", {}), {}
        if L is None:
            return
        for t in twins.values():
            L.ais_pipeline_destroy(t)
        if m:
            L.ais_model_destroy(m)
        elif h and not getattr(self, "_borrowed", True):
            L.ais_pipeline_destroy(h)

    __del__ = close

    def __enter__(self) -> "Pipeline":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def __repr__(self) -> str:
        ins = ", ".join(f"{n}: {k}" for n, k in zip(self.input_names, self.input_kinds))
        return f"<aistack.Pipeline ({ins}) -> {self.output_width} features>"
