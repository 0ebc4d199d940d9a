"""Monitoring: run metrics (Prometheus text) and drift statistics (ais_monitor.h)."""
from __future__ import annotations

import ctypes
from typing import Dict, Optional, Sequence

from . import _errors, _lib

L = _lib.lib

# ais_metric values (never renumbered)
METRICS: Dict[str, int] = {
    "runs": 0, "rows": 1, "errors": 2, "in_flight": 3, "bytes_in": 4, "bytes_out": 5,
    "latency_ns": 6, "log_dropped": 7,
}


class Monitor:
    """Gathers the metrics of every session created with it, per model name and version.

    >>> mon = aistack.Monitor(latency_buckets=[0.001, 0.01, 0.1])
    >>> model = aistack.Model("m.onnx", monitor=mon)   # or model.monitor, made for each Model
    >>> text = mon.prometheus()                          # Prometheus text format 0.0.4
    """

    def __init__(self, latency_buckets: Optional[Sequence[float]] = None):
        h = ctypes.c_void_p()
        _errors.check(L.ais_monitor_create(ctypes.byref(h)))
        self._handle: Optional[int] = h.value
        if latency_buckets is not None:
            b = [float(x) for x in latency_buckets]
            arr = (ctypes.c_double * max(len(b), 1))(*b)
            try:
                _errors.check(L.ais_monitor_set_latency_buckets(self._handle, arr, len(b)))
            except BaseException:
                self.close()
                raise

    @property
    def handle(self) -> int:
        if not self._handle:
            raise _errors.InvalidArgumentError("the monitor is closed", 1)
        return self._handle

    def prometheus(self) -> str:
        """The metrics in the Prometheus text exposition format (0.0.4)."""
        need = ctypes.c_size_t()
        _errors.check(L.ais_monitor_prometheus(self.handle, None, 0, ctypes.byref(need)))
        while True:
            size = need.value + 4096  # counters may grow between the two calls
            buf = ctypes.create_string_buffer(size)
            st = L.ais_monitor_prometheus(self.handle, buf, size, ctypes.byref(need))
            if st == 9:  # AIS_E_LIMIT: grew past the margin; ask again
                continue
            _errors.check(st)
            return buf.raw[:need.value].decode()

    def metric(self, name: str, model: Optional[str] = None) -> int:
        """One metric ("runs", "rows", "errors", "in_flight", "bytes_in", "bytes_out",
        "latency_ns", "log_dropped") summed over the sessions of `model` (its "name" metadata),
        or of all models."""
        if name not in METRICS:
            raise _errors.InvalidArgumentError(
                f"unknown metric {name!r}; expected one of {sorted(METRICS)}", 1)
        v = ctypes.c_uint64()
        _errors.check(L.ais_monitor_metric(self.handle, None if model is None else model.encode(),
                                           METRICS[name], ctypes.byref(v)))
        return int(v.value)

    def metrics(self, model: Optional[str] = None) -> Dict[str, int]:
        """Every metric, as a dict."""
        return {k: self.metric(k, model) for k in METRICS}

    def close(self) -> None:
        """Drops this object's reference; sessions that use the monitor keep theirs."""
        h, self._handle = self._handle, None
        if h:
            L.ais_monitor_destroy(h)

    def __del__(self) -> None:
        try:
            self.close()
        except Exception:
            pass

    def __enter__(self) -> "Monitor":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


# ---- drift statistics (ais_drift_numeric / ais_drift_categorical) ----

DRIFT_METHODS: Dict[str, int] = {
    "auto": 0, "ks": 1, "chisquare": 2, "z": 3, "wasserstein": 4, "jensenshannon": 5, "psi": 6,
}
_METHOD_NAMES = {v: k for k, v in DRIFT_METHODS.items()}


def _method_code(method) -> int:
    if isinstance(method, str):
        if method not in DRIFT_METHODS:
            raise _errors.InvalidArgumentError(
                f"unknown drift method {method!r}; expected one of {sorted(DRIFT_METHODS)}", 1)
        return DRIFT_METHODS[method]
    return int(method)


def _drift_call(fn, args, method, threshold) -> Dict[str, object]:
    used, value, thr, drift = ctypes.c_int(), ctypes.c_double(), ctypes.c_double(), ctypes.c_int32()
    _errors.check(fn(*args, _method_code(method), float(threshold), ctypes.byref(used),
                     ctypes.byref(value), ctypes.byref(thr), ctypes.byref(drift)))
    return {"method": _METHOD_NAMES.get(used.value, str(used.value)), "value": value.value,
            "threshold": thr.value, "drift": bool(drift.value)}


def drift_numeric(reference, current, method="auto", threshold: float = 0.0) -> Dict[str, object]:
    """Drift of a numeric feature between two samples, as Evidently computes it: a dict with
    "method", "value", "threshold" and "drift". NaN and infinities are left out."""
    import numpy as np
    r = np.ascontiguousarray(reference, dtype=np.float64).ravel()
    c = np.ascontiguousarray(current, dtype=np.float64).ravel()
    dp = ctypes.POINTER(ctypes.c_double)
    return _drift_call(L.ais_drift_numeric, (r.ctypes.data_as(dp), r.size, c.ctypes.data_as(dp),
                                             c.size), method, threshold)


def drift_categorical(reference_counts, current_counts, method="auto",
                      threshold: float = 0.0) -> Dict[str, object]:
    """Drift of a categorical feature from its category counts (the same category at the same
    index on both sides)."""
    import numpy as np
    r = np.ascontiguousarray(reference_counts, dtype=np.uint64).ravel()
    c = np.ascontiguousarray(current_counts, dtype=np.uint64).ravel()
    if r.size != c.size:
        raise _errors.InvalidArgumentError(
            f"{r.size} reference counts, {c.size} current counts: one per category each", 1)
    up = ctypes.POINTER(ctypes.c_uint64)
    return _drift_call(L.ais_drift_categorical, (r.ctypes.data_as(up), c.ctypes.data_as(up),
                                                 r.size), method, threshold)
