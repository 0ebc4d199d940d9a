"""Models and sessions."""
from __future__ import annotations

import ctypes
import os
import threading
from dataclasses import dataclass
from typing import Any, Dict, List, Mapping, Optional, Sequence, Tuple, Union

import numpy as np

from . import _errors, _lib
from ._monitor import METRICS, Monitor, Profile, report_dict
from ._fastrun import FastRun, run_into
from ._pipeline import Pipeline, SpecLike, _Columns, _Records, _text, check_run, extra_code
from ._tensor import (OBJECT, ArrayLike, Described, dtype_to_numpy, is_string_dtype,
                      outputs_to_numpy, to_numpy, wrap_array, wrap_fast)

L = _lib.lib

# ais_option keys (values never change). Unknown names are refused here; any integer key is
# passed through, so options newer than this package can still be set.
OPTIONS: Dict[str, int] = {
    "threads": 1, "opt_level": 2, "backend": 3, "device_id": 4, "max_file_bytes": 5,
    "map_weights": 6, "save_compression": 7, "verify_checksums": 8, "max_tensor_bytes": 9,
    "max_fold_bytes": 10, "extra_fields": 11, "profile": 12, "metrics": 16,
    "text_max_length": 24, "text_pooling": 25, "text_normalize": 26,
    "drift_window": 28, "drift_window_mode": 29, "drift_window_seed": 30,
    "qdq_fusion": 32,
}
BACKENDS: Dict[str, int] = {"cpu": 0, "cuda": 1}

# Looked up once: Session.run is called in tight loops.
_session_run = L.ais_session_run
_tensor_destroy = L.ais_tensor_destroy
_input_destroy = _lib.tensor_destroy_host


def _encode_key(name: Any) -> bytes:  # a feeds key (str() of it, as always)
    return str(name).encode()


def _encode_name(name: str) -> bytes:  # an output name
    return name.encode()


class _Options:
    """An ais_options built from keyword settings (None values are left at the default)."""

    def __init__(self, settings: Mapping[Union[str, int], Any]):
        h = _lib.OptionsP()
        _errors.check(L.ais_options_create(ctypes.byref(h)))
        self.handle = h.value
        try:
            for key, value in settings.items():
                if value is None:
                    continue
                if isinstance(key, str):
                    if key not in OPTIONS:
                        raise _errors.InvalidArgumentError(
                            f"unknown option {key!r}; expected one of {sorted(OPTIONS)}", 1)
                    code = OPTIONS[key]
                else:
                    code = int(key)
                if code == OPTIONS["extra_fields"] and isinstance(value, str):
                    value = extra_code(value)
                if code == OPTIONS["backend"] and isinstance(value, str):
                    if value.lower() not in BACKENDS:
                        raise _errors.InvalidArgumentError(
                            f"backend must be one of {sorted(BACKENDS)}, got {value!r}", 1)
                    value = BACKENDS[value.lower()]
                _errors.check(L.ais_options_set_int(self.handle, code, int(value)))
        except BaseException:
            self.close()
            raise

    def close(self) -> None:
        h, self.handle = self.handle, None
        if h:
            L.ais_options_destroy(h)

    def __enter__(self) -> "_Options":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


@dataclass(frozen=True)
class TensorInfo:
    """An input or output of a model. dtype is None when NumPy has no such type, and object for
    a string tensor; shape has None for a dynamic extent, whose symbolic name (if any) is in
    dim_names."""
    name: str
    dtype: Optional[np.dtype]
    shape: Tuple[Optional[int], ...]
    dim_names: Tuple[Optional[str], ...] = ()


class Model:
    """A loaded model: immutable, shared freely between threads.

    >>> with aistack.Model("model.onnx", threads=2) as m:
    ...     probs = m.run({"x": x})["probs"]

    Keyword settings (threads, backend='cpu'|'cuda', device_id, opt_level, map_weights,
    max_file_bytes, verify_checksums, max_tensor_bytes, max_fold_bytes, profile (sessions time
    each node: Session.profile()), qdq_fusion (0 runs a QDQ model's DequantizeLinear -> op ->
    QuantizeLinear groups as written instead of as integer operators), or an integer ais_option
    key in `options`) apply to loading
    and are the defaults of the sessions made with session().
    """

    def __init__(self, path: Union[str, os.PathLike, None] = None, *,
                 threads: Optional[int] = None, backend: Union[str, int, None] = None,
                 options: Optional[Mapping[Union[str, int], int]] = None, _data: Any = None,
                 monitor: Union["Monitor", bool, None] = None, **settings: Any):
        self._handle: Optional[int] = None
        # Every session of the model reports to this monitor (model.monitor): one of its own
        # unless one is passed (shared between models), none with monitor=False.
        self.monitor: Optional[Monitor] = (Monitor() if monitor is None or monitor is True
                                           else monitor or None)
        self._data = _data  # bytes a from_bytes() model reads in place
        self._settings: Dict[Union[str, int], Any] = dict(options or {})
        self._settings.update(settings)
        self._settings.update({"threads": threads, "backend": backend})
        self._default: Optional[Session] = None
        # Held by run(), session(), save(), close() and the other calls that pass the handle:
        # close() from another thread waits for them instead of freeing the model under them.
        self._lock = threading.RLock()
        h = _lib.ModelP()
        with _Options(self._settings) as opts:
            if _data is not None:
                buf = (ctypes.c_char * len(_data)).from_buffer_copy(_data) \
                    if isinstance(_data, bytes) else (ctypes.c_char * len(_data)).from_buffer(_data)
                self._data = buf
                _errors.check(L.ais_model_load_memory(buf, len(_data), opts.handle,
                                                      ctypes.byref(h)))
            else:
                if path is None:
                    raise _errors.InvalidArgumentError("Model() needs a path", 1)
                _errors.check(L.ais_model_load(os.fsencode(path), opts.handle, ctypes.byref(h)))
        self._handle = h.value
        self.path = None if path is None else os.fspath(path)
        self.inputs: List[TensorInfo] = self._infos(True)
        self.outputs: List[TensorInfo] = self._infos(False)
        self.metadata: Dict[str, str] = self._metadata()
        self._check_backend()

    def _check_backend(self) -> None:
        """Fails at construction, not at the first session(), when the backend asked for (other
        than the CPU) has no device here: a session is the library's only probe, so the first
        one is made now and kept as run()'s default session."""
        backend = self._settings.get("backend")
        if backend is None:
            backend = self._settings.get(OPTIONS["backend"])
        if backend is None or BACKENDS.get(str(backend).lower(), backend) == BACKENDS["cpu"]:
            return
        try:
            self._default = self.session()
        except _errors.AistackError as e:
            self.close()
            raise type(e)(f"{self.path or 'model from memory'}: backend {backend!r} is not "
                          f"usable here: {e.message}", e.status) from None

    @classmethod
    def from_bytes(cls, data: Union[bytes, bytearray], **settings: Any) -> "Model":
        """Loads a model from memory (the bytes are kept for the model's lifetime)."""
        return cls(None, _data=data, **settings)

    @property
    def handle(self) -> int:
        if not self._handle:
            raise _errors.InvalidArgumentError("the model is closed", 1)
        return self._handle

    def _infos(self, inputs: bool) -> List[TensorInfo]:
        count = (L.ais_model_input_count if inputs else L.ais_model_output_count)(self.handle)
        info = L.ais_model_input_info if inputs else L.ais_model_output_info
        out = []
        for i in range(count):
            name, dt = ctypes.c_char_p(), ctypes.c_int()
            nd, dims = ctypes.c_size_t(), ctypes.POINTER(ctypes.c_int64)()
            _errors.check(info(self.handle, i, ctypes.byref(name), ctypes.byref(dt),
                               ctypes.byref(nd), ctypes.byref(dims)))
            shape = tuple(None if dims[k] < 0 else int(dims[k]) for k in range(nd.value))
            # A library older than ais_model_output_dim_name gives no output names.
            dim_name = L.ais_model_input_dim_name if inputs else \
                getattr(L, "ais_model_output_dim_name", lambda *a: None)
            dim_names = tuple((lambda s: None if s is None else s.decode())(
                dim_name(self.handle, i, k)) for k in range(nd.value))
            out.append(TensorInfo(_lib.text(name.value), dtype_to_numpy(dt.value), shape,
                                  dim_names))
        return out

    def _metadata(self) -> Dict[str, str]:
        md = {}
        for i in range(L.ais_model_metadata_count(self.handle)):
            k, v = ctypes.c_char_p(), ctypes.c_char_p()
            _errors.check(L.ais_model_metadata_at(self.handle, i, ctypes.byref(k),
                                                  ctypes.byref(v)))
            md[_lib.text(k.value)] = _lib.text(v.value)
        return md

    @property
    def node_count(self) -> int:
        with self._lock:
            return int(L.ais_model_node_count(self.handle))

    @property
    def weight_bytes(self) -> int:
        with self._lock:
            return int(L.ais_model_weight_bytes(self.handle))

    def session(self, *, threads: Optional[int] = None, backend: Union[str, int, None] = None,
                **settings: Any) -> "Session":
        """A new session (one per thread); unset settings default to the model's."""
        merged = dict(self._settings)
        merged.update({k: v for k, v in settings.items() if v is not None})
        if threads is not None:
            merged["threads"] = threads
        if backend is not None:
            merged["backend"] = backend
        with self._lock:
            return Session(self, merged)

    def run(self, feeds: Union[Mapping[str, ArrayLike], Sequence[ArrayLike]],
            outputs: Optional[Sequence[str]] = None, **kw: Any) -> Dict[str, np.ndarray]:
        """Runs on a default session made on first use (calls are serialized; for concurrency,
        give each thread its own session())."""
        with self._lock:
            if self._default is None:
                self._default = self.session()
            return self._default.run(feeds, outputs, **kw)

    @property
    def pipeline(self) -> Optional[Pipeline]:
        """The model's own feature pipeline (from its .ais file), or None. The view keeps the
        model alive."""
        h = L.ais_model_pipeline(self.handle)
        return Pipeline(None, _borrowed=h, _owner=self) if h else None

    @property
    def profile(self) -> Optional[Profile]:
        """The reference profile the model carries (a .ais DRIFT section), or None. Borrowed:
        valid while the model is open."""
        with self._lock:
            h = L.ais_model_profile(self.handle)
        return Profile(_handle=h, _owner=self) if h else None

    def save_with_profile(self, path: Union[str, os.PathLike], profile: Profile,
                          compression: int = 0) -> None:
        """Writes the model as .ais with `profile` as its reference profile."""
        with self._lock, _Options({"save_compression": compression}) as opts:
            _errors.check(L.ais_model_save_with_profile(self.handle, profile.handle,
                                                        os.fsencode(path), opts.handle))

    def profile_of(self, records, *, reference: Optional[Profile] = None, sample_size: int = 0,
                   top_k: int = 0, seed: int = 0) -> Profile:
        """A profile of raw records (a pandas DataFrame or a dict of columns): each pipeline
        input's column, and each one-value-per-row output of the model run on them (the
        predictions). With `reference`, the reference's features (as `aistack drift` does)."""
        import pandas as pd
        df = records if isinstance(records, pd.DataFrame) else pd.DataFrame(records)
        prof = Profile(sample_size, top_k, seed)
        if reference is not None:
            feats = [(n, f["kind"]) for n, f in reference.features().items()]
        else:
            pl = self.pipeline
            if pl is None:
                raise _errors.InvalidArgumentError(
                    "the model has no feature pipeline: profile_of() profiles its inputs", 1)
            feats = [(i["name"], i["type"]) for i in pl.spec_dict["inputs"]]
            for o in self.outputs:
                if len(o.shape) <= 1 or (len(o.shape) == 2 and o.shape[1] == 1):
                    num = o.dtype is not None and np.issubdtype(o.dtype, np.floating)
                    feats.append((o.name, "numeric" if num else "categorical"))
        for name, kind in feats:
            prof.add_feature(name, kind)
        preds: Dict[str, Any] = {}
        if any(n not in df.columns for n, _ in feats):
            with self.session() as s:
                preds = s.run_records(df[[c for c in df.columns]])
        for name, kind in feats:
            col = df[name].to_numpy() if name in df.columns else np.asarray(preds[name]).ravel()
            if kind == "categorical" and col.dtype.kind in "iuf":
                col = [None if (isinstance(x, float) and x != x) else "%.17g" % x
                       if col.dtype.kind == "f" else str(x) for x in col]
            prof.observe(name, col)
        return prof

    def drift_report(self, records) -> Dict[str, Any]:
        """Drift of raw records (and the model's predictions on them) against the model's
        reference profile: the `aistack drift --json` dict (aistack.report_frame makes it a
        DataFrame)."""
        ref = self.profile
        if ref is None:
            raise _errors.NotFoundError("the model has no reference profile", 8)
        return ref.drift(self.profile_of(records, reference=ref))

    def save(self, path: Union[str, os.PathLike], compression: int = 0,
             pipeline: Optional[SpecLike] = None) -> None:
        """Writes the model in the native .ais format (zstd level `compression`, 0 = raw).
        pipeline (a Pipeline, or a spec as str or dict) becomes the file's feature pipeline in
        place of the model's own; without it the model's own pipeline, if any, is kept."""
        with self._lock, _Options({"save_compression": compression}) as opts:
            if pipeline is None:
                _errors.check(L.ais_model_save(self.handle, os.fsencode(path), opts.handle))
                return
            p = pipeline if isinstance(pipeline, Pipeline) else Pipeline(pipeline)
            _errors.check(L.ais_model_save_with_pipeline(self.handle, p.handle,
                                                         os.fsencode(path), opts.handle))

    def close(self) -> None:
        """Drops this object's reference; open sessions keep the model alive. A call on this
        object running in another thread (run(), save(), ...) finishes first; later calls raise
        InvalidArgumentError ("the model is closed")."""
        lock = getattr(self, "_lock", None)
        if lock is None:  # __init__ failed before anything was made
            return
        with lock:
            if getattr(self, "_default", None) is not None:
                self._default.close()
                self._default = None
            h, self._handle = getattr(self, "_handle", None), None
            if h and L is not None:
                L.ais_model_destroy(h)

    __del__ = close

    def __enter__(self) -> "Model":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def __repr__(self) -> str:
        ins = ", ".join(f"{i.name}: {i.dtype} {i.shape}" for i in self.inputs)
        return f"<aistack.Model {self.path or '<memory>'} ({ins})>"


class Session:
    """The state to run one model. The GIL is released while the library runs, so threads with
    their own sessions run in parallel. Calls on one Session from several threads are
    serialized (each waits for the one running), and close() waits for a run in flight; after
    close() calls raise InvalidArgumentError ("the session is closed")."""

    def __init__(self, model: Model, settings: Mapping[Union[str, int], Any]):
        self._handle: Optional[int] = None
        self._lock = threading.Lock()
        self.model = model  # keeps weights (and from_bytes data) alive for outputs that share them
        h = _lib.SessionP()
        with _Options(settings) as opts:
            if model.monitor is not None:
                _errors.check(L.ais_options_set_monitor(opts.handle, model.monitor.handle))
            _errors.check(L.ais_session_create(model.handle, opts.handle, ctypes.byref(h)))
        self._handle = h.value
        self._settings = dict(settings)
        extra = self._settings.get("extra_fields", self._settings.get(11, 0))
        self._extra = extra_code(extra) if isinstance(extra, str) else int(extra or 0)
        self._other: Optional["Session"] = None  # the other extra-fields policy, on first use
        self._out_names = [o.name for o in model.outputs]
        self._in_names = [i.name for i in model.inputs]
        self._in_dtypes = {i.name: i.dtype for i in model.inputs}
        self._out_dtypes = {o.name: o.dtype for o in model.outputs}
        # The pipeline's inputs, read now: the caller may close the Model object while this
        # session (which holds the library's model) lives on, e.g. aistack._cache's replaced
        # versions.
        self._pl_kinds: Optional[Dict[str, str]] = None
        self._pipeline_kinds()
        self._out_key = tuple(self._out_names)
        self._in_cache: Dict[Tuple[Any, ...], Tuple[List[str], Any, Any]] = {}  # see _names()
        self._out_cache: Dict[Tuple[Any, ...], Tuple[List[str], Any, Any]] = {}
        self._described: Optional[Described] = None  # ais_tensor_describe's arrays (_run)
        # The one-call path (_fastrun.py) when the library has it and every output is numeric.
        self._fast: Optional[FastRun] = None
        if run_into is not None and all(o.dtype is not None and o.dtype != OBJECT
                                        for o in model.outputs):
            self._fast = FastRun(self._handle, self._in_names, self._out_names)

    @property
    def handle(self) -> int:
        if not self._handle:
            raise _errors.InvalidArgumentError("the session is closed", 1)
        return self._handle

    def run(self, feeds: Union[Mapping[str, ArrayLike], Sequence[ArrayLike]],
            outputs: Optional[Sequence[str]] = None,
            out: Union[Mapping[str, np.ndarray], Sequence[Optional[np.ndarray]], None] = None
            ) -> Dict[str, np.ndarray]:
        """Runs the model.

        feeds: {input name: array} or a list in the model's input order. NumPy arrays that are
        C-contiguous with a supported dtype are passed without copying; other array-likes are
        converted to the input's dtype. String inputs take arrays of str_, bytes_ (UTF-8) or
        object (str or bytes elements; None is refused) or nested lists of str; they are copied.
        outputs: names of the outputs wanted (default all, in model order).
        out: preallocated C-contiguous arrays ({name: array} or a list matching `outputs`) that
        receive results in place; they must have the output's dtype and shape. String outputs
        cannot be preallocated.
        Returns {output name: array}; arrays not given in `out` are copies NumPy owns when they
        are small (up to 16 KiB, aistack._tensor.COPY_MAX), else views of library-owned memory
        that is freed when the array is garbage-collected. String outputs are object arrays of
        str (copies).
        """
        with self._lock:
            fast = self._fast
            if out is None and fast is not None and self._handle:
                res = fast.run(feeds, outputs)
                if res is not None:
                    return res
                if fast.pending is not None:  # new input shapes: learn their output sizes
                    res = self._run(feeds, outputs, out)
                    fast.learn(res)
                    return res
            return self._run(feeds, outputs, out)

    def _names(self, cache: Dict[Tuple[Any, ...], Tuple[List[str], Any, Any]],
               key: Tuple[Any, ...], encode: Any) -> Tuple[List[str], Any, Any]:
        """(names, char* array, ais_tensor* array) for `key`, a tuple of input or output names,
        built once per session and name set: a run's ctypes arrays cost more than the library's
        run of a small model. Only tuples of str are cached (1 == 1.0 == True as keys, but their
        str() differ); the ais_tensor* array is rewritten on each call (runs are serialized by
        the session's lock)."""
        hit = cache.get(key)
        if hit is not None:
            return hit
        names = [encode(n) for n in key]
        n = max(1, len(names))
        entry = (list(key), (ctypes.c_char_p * n)(*names), (_lib.TensorP * n)())
        if all(type(k) is str for k in key):
            if len(cache) >= 64:  # callers cycling through many name sets
                cache.clear()
            cache[key] = entry
        return entry

    def _run(self, feeds: Union[Mapping[str, ArrayLike], Sequence[ArrayLike]],
             outputs: Optional[Sequence[str]],
             out: Union[Mapping[str, np.ndarray], Sequence[Optional[np.ndarray]], None]
             ) -> Dict[str, np.ndarray]:
        h = self._handle
        if not h:
            raise _errors.InvalidArgumentError("the session is closed", 1)
        if isinstance(feeds, dict) or isinstance(feeds, Mapping):
            names, name_arr, in_arr = self._names(self._in_cache, tuple(feeds.keys()),
                                                  _encode_key)
            values = list(feeds.values())
        else:
            if isinstance(feeds, np.ndarray):
                feeds = [feeds]
            values = list(feeds)
            if len(values) > len(self._in_names):
                raise _errors.InvalidArgumentError(
                    f"{len(values)} inputs given, but the model has {len(self._in_names)}: "
                    f"{self._in_names}", 1)
            names = self._in_names[:len(values)]
            name_arr = None
            in_arr = (_lib.TensorP * max(1, len(values)))()
        out_key = self._out_key if outputs is None else tuple(outputs)
        out_names, onames, slots = self._names(self._out_cache, out_key, _encode_name)
        if out is None:
            out_list: List[Optional[np.ndarray]] = []
        elif isinstance(out, Mapping):
            unknown = set(out) - set(out_names)
            if unknown:
                raise _errors.NotFoundError(f"out= names {sorted(unknown)} are not among the "
                                            f"outputs asked for {out_names}", 8)
            out_list = [out.get(n) for n in out_names]
        else:
            out_list = list(out)
            if len(out_list) != len(out_names):
                raise _errors.InvalidArgumentError(
                    f"out= has {len(out_list)} arrays for {len(out_names)} outputs", 1)

        n_in = 0
        n_out = len(out_names)
        results: Dict[str, np.ndarray] = {}
        try:
            for name, v in zip(names, values):
                t = wrap_fast(v) if type(v) is np.ndarray else None
                if t is None:
                    dt = None if isinstance(v, np.ndarray) else self._in_dtypes.get(name)
                    t = wrap_array(v, dt, what=f"input {name!r}")[0]
                in_arr[n_in] = t
                n_in += 1
            for i, arr in enumerate(out_list):
                if arr is None:
                    continue
                if self._out_dtypes.get(out_names[i]) == OBJECT or (
                        isinstance(arr, np.ndarray) and is_string_dtype(arr.dtype)):
                    raise _errors.InvalidArgumentError(
                        f"out= for output {out_names[i]!r}: string outputs cannot be written in "
                        "place; leave it out of out= and take the returned object array", 1)
                if not isinstance(arr, np.ndarray) or not arr.flags.c_contiguous \
                        or not arr.flags.writeable:
                    raise _errors.InvalidArgumentError(
                        f"out= for output {out_names[i]!r} must be a writable C-contiguous NumPy "
                        "array", 1)
                slots[i] = wrap_array(arr)[0]
            st = _session_run(h, name_arr, in_arr, n_in, onames, slots, n_out)
            if st:
                _errors.check(st)
            if not out_list:
                d = self._described
                if d is None or d.n < n_out:
                    d = self._described = Described(max(n_out, len(self._out_names)))
                results = dict(zip(out_names, outputs_to_numpy(slots, n_out, d, self)))
            for i in range(n_out if out_list else 0):
                if out_list[i] is not None:
                    results[out_names[i]] = out_list[i]
                    continue
                t, slots[i] = slots[i], None
                results[out_names[i]] = to_numpy(t, self)
        finally:
            for i in range(n_in):
                _input_destroy(in_arr[i])
                in_arr[i] = None
            for i in range(n_out):
                if slots[i]:
                    _tensor_destroy(slots[i])
                    slots[i] = None
        return results

    def _for_extra(self, extra: Optional[str]) -> "Session":
        """The session whose record runs treat fields that are no input by `extra` (None: this
        session's extra_fields setting): this one, or a sibling session with the other policy,
        made on first use (policies are fixed when a session is created)."""
        if extra is None or extra_code(extra) == self._extra:
            return self
        if self._other is None:
            settings = {k: v for k, v in self._settings.items() if k not in ("extra_fields", 11)}
            settings["extra_fields"] = extra_code(extra)
            self._other = Session(self.model, settings)
        return self._other

    def _run_source(self, fn: Any, args: Tuple[Any, ...],
                    outputs: Optional[Sequence[str]]) -> Dict[str, np.ndarray]:
        out_names = list(self._out_names if outputs is None else outputs)
        slots = (_lib.TensorP * max(1, len(out_names)))()
        onames = (ctypes.c_char_p * max(1, len(out_names)))(*[n.encode() for n in out_names])
        report = ctypes.c_void_p()
        results: Dict[str, np.ndarray] = {}
        try:
            with self._lock:
                st = fn(self.handle, *args, onames, slots, len(out_names), ctypes.byref(report))
            check_run(st, report)
            for i, n in enumerate(out_names):
                t, slots[i] = slots[i], None
                results[n] = to_numpy(t, self)
        finally:
            for i in range(len(out_names)):
                if slots[i]:
                    L.ais_tensor_destroy(slots[i])
        return results

    def _pipeline_kinds(self) -> Dict[str, str]:
        """{input name: kind} of the model's pipeline ({} without one), asked once (at
        creation)."""
        if self._pl_kinds is None:
            p = self.model.pipeline
            kinds: Dict[str, str] = {}
            if p is not None:
                kinds = dict(zip(p.input_names, p.input_kinds))
                p.close()
            self._pl_kinds = kinds
        return self._pl_kinds

    def run_records(self, records: Sequence[Mapping[str, Any]],
                    outputs: Optional[Sequence[str]] = None, *,
                    extra: Optional[str] = None) -> Dict[str, np.ndarray]:
        """Runs raw records (dicts of field -> number, str or None, or a pandas DataFrame: one
        record per row, NaN / None / pd.NA / NaT missing) through the model's feature
        pipeline and the model. Returns {output name: array}, like run(). Schema problems raise
        aistack.SchemaError with .problems; a model without a pipeline raises
        InvalidArgumentError. extra="error" makes a field that names no input a problem,
        "ignore" skips such fields; None (the default) follows the session's extra_fields
        setting ("error" unless set)."""
        if self._for_extra(extra) is not self:
            return self._for_extra(extra).run_records(records, outputs)
        recs = _Records(records, self._pipeline_kinds())
        return self._run_source(L.ais_session_run_records, (recs.rows, recs.counts, recs.n),
                                outputs)

    def run_json_rows(self, text: Union[str, bytes], outputs: Optional[Sequence[str]] = None, *,
                      extra: Optional[str] = None) -> Dict[str, np.ndarray]:
        """run_records() for JSON lines (one object per line)."""
        if self._for_extra(extra) is not self:
            return self._for_extra(extra).run_json_rows(text, outputs)
        data = _text(text)
        return self._run_source(L.ais_session_run_json_rows, (data, len(data)), outputs)

    def run_csv(self, text: Union[str, bytes], outputs: Optional[Sequence[str]] = None, *,
                extra: Optional[str] = None) -> Dict[str, np.ndarray]:
        """run_records() for CSV text with a header row."""
        if self._for_extra(extra) is not self:
            return self._for_extra(extra).run_csv(text, outputs)
        data = _text(text)
        return self._run_source(L.ais_session_run_csv, (data, len(data)), outputs)

    def run_columns(self, columns: Mapping[str, Any], outputs: Optional[Sequence[str]] = None, *,
                    extra: Optional[str] = None) -> Dict[str, np.ndarray]:
        """run_records() for columns: {name: array} or a pandas DataFrame, converted as
        Pipeline.run_columns does (numeric arrays pass without copying when C-contiguous
        f32/f64/i32/i64; a categorical column with None / NaN goes as records, since a string
        tensor has no missing marker)."""
        if self._for_extra(extra) is not self:
            return self._for_extra(extra).run_columns(columns, outputs)
        # Without a pipeline no column is kept: the library reports the missing pipeline.
        cols = _Columns(columns, self._pipeline_kinds(), keep_unknown=self._extra == 0)
        if cols.records is not None:
            return self.run_records(cols.records, outputs)
        try:
            return self._run_source(L.ais_session_run_columns,
                                    (cols.names, cols.tensors, cols.n), outputs)
        finally:
            cols.close()

    @property
    def nodes(self) -> List[Tuple[str, str, str]]:
        """(name, operator, backend) of each node of the last planned run."""
        res = []
        with self._lock:
            for i in range(L.ais_session_node_count(self.handle)):
                n, op, be = ctypes.c_char_p(), ctypes.c_char_p(), ctypes.c_int()
                _errors.check(L.ais_session_node_info(self.handle, i, ctypes.byref(n),
                                                      ctypes.byref(op), ctypes.byref(be)))
                res.append((_lib.text(n.value), _lib.text(op.value),
                            {0: "cpu", 1: "cuda"}.get(be.value, str(be.value))))
        return res

    def profile(self) -> Dict[str, Any]:
        """The session's profile (create it with profile=True, AIS_OPT_PROFILE): counts since it
        was created or profile_reset() was called. {"runs": calls that ran the model,
        "total_ns": their wall time, "nodes": [{"name", "op_type", "backend", "calls",
        "total_ns"} per node in execution order]}. The nodes' times add up to at most total_ns.
        Raises InvalidArgumentError when the session does not profile."""
        runs, total = ctypes.c_uint64(), ctypes.c_uint64()
        nodes = []
        with self._lock:
            _errors.check(L.ais_session_profile(self.handle, ctypes.byref(runs),
                                                ctypes.byref(total)))
            for i in range(L.ais_session_node_count(self.handle)):
                n, op, be = ctypes.c_char_p(), ctypes.c_char_p(), ctypes.c_int()
                calls, ns = ctypes.c_uint64(), ctypes.c_uint64()
                _errors.check(L.ais_session_profile_node(
                    self.handle, i, ctypes.byref(n), ctypes.byref(op), ctypes.byref(be),
                    ctypes.byref(calls), ctypes.byref(ns)))
                nodes.append({"name": _lib.text(n.value), "op_type": _lib.text(op.value),
                              "backend": {0: "cpu", 1: "cuda"}.get(be.value, str(be.value)),
                              "calls": calls.value, "total_ns": ns.value})
        return {"runs": runs.value, "total_ns": total.value, "nodes": nodes}

    def profile_reset(self) -> None:
        """Sets the profile's counts back to zero."""
        with self._lock:
            _errors.check(L.ais_session_profile_reset(self.handle))
    def metric(self, name: str) -> int:
        """One metric of this session since it was created ("runs", "rows", "errors",
        "in_flight", "bytes_in", "bytes_out", "latency_ns", "window_rows"); NotFoundError when
        the session was made with metrics=0."""
        if name not in METRICS:
            raise _errors.InvalidArgumentError(
                f"unknown metric {name!r}; expected one of {sorted(METRICS)}", 1)
        v = ctypes.c_uint64()
        _errors.check(L.ais_session_metric(self.handle, METRICS[name], ctypes.byref(v)))
        return int(v.value)

    def drift(self) -> Dict[str, Any]:
        """Drift of what this session has seen: its live window (settings drift_window, rows
        (default 1000, 0 = off), drift_window_mode, 0 reservoir or 1 last rows, and
        drift_window_seed) against the model's reference profile, as the `aistack drift --json`
        dict. NotFoundError when the session keeps no window (no reference profile, or
        drift_window / metrics 0). Safe while another thread runs the session."""
        r = ctypes.c_void_p()
        _errors.check(L.ais_session_drift(self.handle, ctypes.byref(r)))
        return report_dict(r.value)

    def close(self) -> None:
        """Frees the session; a run in flight on another thread finishes first."""
        lock = getattr(self, "_lock", None)
        if lock is None:  # __init__ failed before anything was made
            return
        with lock:
            h, self._handle = getattr(self, "_handle", None), None
            other, self._other = getattr(self, "_other", None), None
            if other is not None:
                other.close()
            if h and L is not None:
                L.ais_session_destroy(h)

    __del__ = close

    def __enter__(self) -> "Session":
        return self

    def __exit__(self, *exc) -> None:
        self.close()
