"""Monitoring: run metrics (Prometheus text) and drift statistics (ais_monitor.h)."""
from __future__ import annotations

import ctypes
from typing import Dict, Optional, Sequence

from . import _errors, _lib

L = _lib.lib

# ais_metric values (never renumbered)
METRICS: Dict[str, int] = {
    "runs": 0, "rows": 1, "errors": 2, "in_flight": 3, "bytes_in": 4, "bytes_out": 5,
    "latency_ns": 6, "log_dropped": 7, "window_rows": 8,
}


class Monitor:
    """Gathers the metrics of every session created with it, per model name and version.

    >>> mon = aistack.Monitor(latency_buckets=[0.001, 0.01, 0.1])
    >>> model = aistack.Model("m.onnx", monitor=mon)   # or model.monitor, made for each Model
    >>> text = mon.prometheus()                          # Prometheus text format 0.0.4
    """

    def __init__(self, latency_buckets: Optional[Sequence[float]] = None, *,
                 request_log: Optional[str] = None, sample_rate: float = 1.0,
                 log_ring: int = 0, log_max_bytes: int = 0):
        """request_log: a JSON-lines file of sampled calls, written by a background thread
        (ais_monitor_set_request_log: sample_rate, ring size, rotation size)."""
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
        if request_log is not None:
            import os
            try:
                _errors.check(L.ais_monitor_set_request_log(
                    self._handle, os.fsencode(request_log), float(sample_rate), int(log_ring),
                    int(log_max_bytes)))
            except BaseException:
                self.close()
                raise

    def flush(self) -> None:
        """Waits until the request log has written every record queued so far."""
        _errors.check(L.ais_monitor_flush(self.handle))

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
        "latency_ns", "log_dropped", "window_rows") summed over the sessions of `model` (its "name" metadata),
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

    def drift(self, model: Optional[str] = None) -> Dict[str, object]:
        """Drift of live traffic: the live windows (the drift_window setting) of the sessions
        alive now that report to this monitor for `model` (its "name" metadata; None: the only
        model with a reference profile), merged, against that model's reference profile. The
        dict of the `aistack drift --json` contract. NotFoundError when no such session
        keeps a window."""
        r = ctypes.c_void_p()
        _errors.check(L.ais_monitor_drift(self.handle, None if model is None else model.encode(),
                                          ctypes.byref(r)))
        return report_dict(r.value)

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


# ---- profiles and drift reports (ais_profile, ais_drift_report) ----

KINDS = {"numeric": 1, "categorical": 2}
_KIND_NAMES = {1: "numeric", 2: "categorical"}


class Profile:
    """What each named feature looked like: numeric (count, missing, min, max, mean, variance,
    a seeded reservoir sample) or categorical (category counts). A model's reference profile
    is model.profile; a profile of new data compares with it through drift()."""

    def __init__(self, sample_size: int = 0, top_k: int = 0, seed: int = 0, *,
                 _handle: Optional[int] = None, _owner=None):
        self._owner = _owner  # a borrowed profile (model.profile) keeps its model alive
        if _handle is not None:
            self._handle: Optional[int] = _handle
            return
        h = ctypes.c_void_p()
        _errors.check(L.ais_profile_create(int(sample_size), int(top_k), int(seed),
                                           ctypes.byref(h)))
        self._handle = h.value

    @property
    def handle(self) -> int:
        if not self._handle:
            raise _errors.InvalidArgumentError("the profile is closed", 1)
        return self._handle

    def add_feature(self, name: str, kind: str) -> int:
        if kind not in KINDS:
            raise _errors.InvalidArgumentError(f"kind must be one of {sorted(KINDS)}", 1)
        idx = ctypes.c_size_t()
        _errors.check(L.ais_profile_add_feature(self.handle, name.encode(), KINDS[kind],
                                                ctypes.byref(idx)))
        return int(idx.value)

    def _index(self, name: str) -> int:
        idx = ctypes.c_size_t()
        _errors.check(L.ais_profile_find(self.handle, name.encode(), ctypes.byref(idx)))
        return int(idx.value)

    def observe(self, name: str, values) -> None:
        """Adds values of feature `name`: numbers (NaN and infinities are missing) for a
        numeric feature, strings (None is missing) for a categorical one."""
        import numpy as np
        i = self._index(name)
        if self.features()[name]["kind"] == "numeric":
            v = np.ascontiguousarray(np.asarray(values, dtype=np.float64).ravel())
            _errors.check(L.ais_profile_observe_numbers(
                self.handle, i, v.ctypes.data_as(ctypes.POINTER(ctypes.c_double)), v.size))
        else:
            vals = [None if (x is None or (isinstance(x, float) and x != x)) else str(x).encode()
                    for x in values]
            arr = (ctypes.c_char_p * max(len(vals), 1))(*vals)
            _errors.check(L.ais_profile_observe_strings(self.handle, i, arr, len(vals)))

    def features(self) -> Dict[str, Dict[str, object]]:
        """{name: {"kind", "count", "missing", "min", "max", "mean", "variance"}}."""
        out = {}
        for i in range(L.ais_profile_feature_count(self.handle)):
            name, kind = ctypes.c_char_p(), ctypes.c_int()
            count, missing = ctypes.c_uint64(), ctypes.c_uint64()
            d = [ctypes.c_double() for _ in range(4)]
            _errors.check(L.ais_profile_feature_info(self.handle, i, ctypes.byref(name),
                                                     ctypes.byref(kind), ctypes.byref(count),
                                                     ctypes.byref(missing),
                                                     *[ctypes.byref(x) for x in d]))
            out[name.value.decode()] = {
                "kind": _KIND_NAMES.get(kind.value, str(kind.value)), "count": count.value,
                "missing": missing.value, "min": d[0].value, "max": d[1].value,
                "mean": d[2].value, "variance": d[3].value}
        return out

    def to_bytes(self) -> bytes:
        n = ctypes.c_size_t()
        _errors.check(L.ais_profile_serialize(self.handle, None, 0, ctypes.byref(n)))
        buf = ctypes.create_string_buffer(max(n.value, 1))
        _errors.check(L.ais_profile_serialize(self.handle, buf, n.value, ctypes.byref(n)))
        return buf.raw[:n.value]

    @classmethod
    def from_bytes(cls, data: bytes) -> "Profile":
        h = ctypes.c_void_p()
        _errors.check(L.ais_profile_deserialize(data, len(data), ctypes.byref(h)))
        return cls(_handle=h.value)

    def drift(self, current: "Profile") -> Dict[str, object]:
        """This (reference) profile against `current`: the dict of the `aistack drift --json`
        contract, {"dataset_drift", "drift_share", "features": {name: {"kind", "method",
        "value", "threshold", "drift"}}} (features with too few values left out)."""
        r = ctypes.c_void_p()
        _errors.check(L.ais_profile_drift(self.handle, current.handle, ctypes.byref(r)))
        return report_dict(r.value)

    def close(self) -> None:
        h, self._handle = self._handle, None
        if h and self._owner is None:
            L.ais_profile_destroy(h)

    def __del__(self) -> None:
        try:
            self.close()
        except Exception:
            pass


def report_dict(report: int) -> Dict[str, object]:
    """The `aistack drift --json` dict of an ais_drift_report handle, which it destroys."""
    import json
    try:
        n = ctypes.c_size_t()
        _errors.check(L.ais_drift_report_json(report, None, 0, ctypes.byref(n)))
        buf = ctypes.create_string_buffer(n.value)
        _errors.check(L.ais_drift_report_json(report, buf, n.value, ctypes.byref(n)))
        return json.loads(buf.value.decode())
    finally:
        L.ais_drift_report_destroy(report)


def report_frame(report: Dict[str, object]):
    """A drift report dict as a pandas DataFrame, one row per feature."""
    import pandas as pd
    return pd.DataFrame.from_dict(report["features"], orient="index")
