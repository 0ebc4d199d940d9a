"""Session.run in one foreign call (ais_session_run_into) for the common case: NumPy inputs that
the library can read in place, numeric outputs of a few KiB.

A run of a small model costs the library about a microsecond, and a ctypes call several times
that, so the tensor path's six calls a run (wrap, run, describe, destroy outputs and input, and
the input's release callback) were most of a Python call. Here a session keeps one array of
ais_buffer_view per input and per output set; a call writes the inputs' data pointers (the
rest of a view only when an input's dtype or shape changes), makes the one call, and copies the
results into arrays NumPy owns. The results stay where the run left them, in memory the session
keeps until its next run; while a call's output descriptions (address, size, dtype, shape)
are byte for byte the last call's, the NumPy views over that memory made then serve again, so
a steady loop pays one copy per output. The caller never holds session memory.

Anything else returns None and Session.run takes the tensor path: string or other non-NumPy
inputs, arrays that are not C-contiguous and aligned (they need a copy), empty ones, outputs=
names the model lacks, and outputs larger than COPY_MAX, which the tensor path hands over
without copying. Output sizes follow from the input shapes for most models, so the first call
with new input shapes (per set of outputs) takes the tensor path and learn() records from its
results whether the fast path may take the next ones; an output whose size depends on the
values and outgrows COPY_MAX on the fast path is copied that once, and its input shapes go back
to the tensor path.
"""
from __future__ import annotations

import ctypes
from typing import Any, Dict, List, Optional, Sequence, Tuple

import numpy as np

from . import _errors, _lib
from ._tensor import _FAST_CODES, COPY_MAX, dtype_name, dtype_to_numpy

View = _lib.BufferView
run_into = _lib.session_run_into
# The same function without argtypes: the arguments are ctypes objects made once (the handle,
# the counts) or ctypes arrays, which ctypes passes as they are, where argtypes would convert
# each one on every call (a third of the call's cost).
_run_raw = getattr(_lib.lib_raw, "ais_session_run_into", None)
_c_char = ctypes.c_char
_addressof = ctypes.addressof
_ndarray = np.ndarray
MAX_DIMS = 8  # AIS_MAX_DIMS


class _Outputs:
    """The views of one set of outputs asked for, and the NumPy views over the last results."""

    __slots__ = ("names", "n", "c_n", "idx", "views", "desc", "pairs", "small", "big", "ok")

    def __init__(self, names: List[str], idx: Optional[List[int]]):
        self.names = names
        self.n = len(names)
        self.c_n = ctypes.c_size_t(self.n)
        self.idx = None if idx is None else (ctypes.c_size_t * max(1, len(idx)))(*idx)
        self.views = (View * max(1, self.n))()
        self.desc: Optional[bytes] = None  # bytes(views) when `pairs` were made
        self.pairs: List[Tuple[str, np.ndarray]] = []  # (name, view over the result)
        self.small: set = set()  # input signatures whose outputs are all at most COPY_MAX
        self.big: set = set()  # and those with a larger one
        self.ok: Any = None  # the signature last found in `small`


def _results(o: _Outputs) -> List[Tuple[str, np.ndarray]]:
    """(name, NumPy view over the result) for each output the views describe (not copies:
    the caller copies)."""
    res = []
    for j in range(o.n):
        v = o.views[j]
        dt = dtype_to_numpy(v.dtype)
        if dt is None or dt.kind == "O":
            raise _errors.DtypeError(f"output {o.names[j]!r} has element type "
                                     f"{dtype_name(v.dtype)}, which NumPy cannot represent", 4)
        shape = tuple(v.dims[:v.ndim])
        if v.nbytes:
            buf = (_c_char * v.nbytes).from_address(v.data)
            res.append((o.names[j], np.frombuffer(buf, dt).reshape(shape)))
        else:  # NumPy refuses a NULL data pointer
            res.append((o.names[j], np.empty(shape, dt)))
    return res


class FastRun:
    """One session's views (runs on a session are serialized by its lock, so one set serves
    every call)."""

    def __init__(self, handle: int, in_names: List[str], out_names: List[str]):
        self.handle = ctypes.c_void_p(handle)
        self.in_names = in_names
        self.n_in = len(in_names)
        self.c_n_in = ctypes.c_size_t(self.n_in)
        self.views = (View * max(1, self.n_in))()
        self.vlist = [self.views[i] for i in range(self.n_in)]  # element objects, made once
        # what each view describes: dtype, shape, element size; `key` all of them, as one
        # object whose identity changes only when one of them does
        self.dts: List[Any] = [None] * self.n_in
        self.shapes: List[Any] = [None] * self.n_in
        self.isz: List[int] = [1] * self.n_in
        self.key: Any = None
        self.all = _Outputs(list(out_names), None)
        self.sets: Dict[Tuple[Any, ...], _Outputs] = {}
        self.index = {n: i for i, n in enumerate(out_names)}
        # (outputs, input signature) of a call sent to the tensor path to learn its sizes
        self.pending: Optional[Tuple[_Outputs, Any]] = None

    def learn(self, results: Dict[str, np.ndarray]) -> None:
        """After the tensor path ran the call that run() sent there for new input shapes:
        records whether its outputs fit the fast path."""
        o, key = self.pending
        self.pending = None
        sizes = o.big if any(r.nbytes > COPY_MAX for r in results.values()) else o.small
        if len(sizes) >= 64:  # callers cycling through many shapes
            sizes.clear()
        sizes.add(key)

    def _outputs(self, outputs: Sequence[str]) -> Optional[_Outputs]:
        key = tuple(outputs)
        o = self.sets.get(key)
        if o is None:
            # unknown names and repeats: the tensor path reports or handles them
            if any(type(n) is not str or n not in self.index for n in key) or \
                    len(set(key)) != len(key):
                return None
            if len(self.sets) >= 64:  # callers cycling through many output sets
                self.sets.clear()
            o = self.sets[key] = _Outputs(list(key), [self.index[n] for n in key])
        return o

    def _bind(self, i: int, a: Any) -> bool:
        """Points input view i at array a; False when a needs the tensor path."""
        if type(a) is not _ndarray:
            return False
        try:
            # the address in half of a.ctypes.data's time; numpy refuses the buffer when the
            # array is not C-contiguous, read-only or empty
            addr = _addressof(_c_char.from_buffer(a))
        except (TypeError, ValueError, BufferError):
            f = a.flags
            if not (f.c_contiguous and f.aligned) or not a.size:
                return False
            addr = a.ctypes.data
        dt, shape = a.dtype, a.shape
        if dt is not self.dts[i] or shape != self.shapes[i]:
            code = _FAST_CODES.get(dt)
            if code is None or a.ndim > MAX_DIMS:
                return False
            v = self.vlist[i]
            v.dtype = code
            v.ndim = a.ndim
            v.nbytes = a.nbytes
            dims = v.dims
            for k, d in enumerate(shape):
                dims[k] = d
            self.dts[i], self.shapes[i], self.isz[i] = dt, shape, dt.itemsize
            self.key = (dt, shape) if self.n_in == 1 else \
                tuple(zip(self.dts, self.shapes))
        if addr % self.isz[i]:  # misaligned: the tensor path copies it
            return False
        self.vlist[i].data = addr
        return True

    def run(self, feeds: Any, outputs: Optional[Sequence[str]]
            ) -> Optional[Dict[str, np.ndarray]]:
        """{name: array}, or None when this call needs the tensor path (nothing ran then;
        self.pending says whether learn() wants its results)."""
        self.pending = None
        tf = type(feeds)
        if tf is dict:
            if len(feeds) != self.n_in:
                return None
            if self.n_in == 1:
                a = feeds.get(self.in_names[0])
                if a is None or not self._bind(0, a):
                    return None
            else:
                for i, name in enumerate(self.in_names):
                    if not self._bind(i, feeds.get(name)):
                        return None
        elif tf is list or tf is tuple:
            if len(feeds) != self.n_in:
                return None
            for i, a in enumerate(feeds):
                if not self._bind(i, a):
                    return None
        elif tf is _ndarray and self.n_in == 1:
            if not self._bind(0, feeds):
                return None
        else:
            return None
        o = self.all if outputs is None else self._outputs(outputs)
        if o is None:
            return None
        key = self.key
        if o.ok is not key:  # new input shapes for these outputs
            if key not in o.small:
                if key not in o.big:
                    self.pending = (o, key)
                return None
            o.ok = key
        st = _run_raw(self.handle, self.views, self.c_n_in, o.idx, o.views, o.c_n)
        if st:
            _errors.check(st)
        desc = bytes(o.views)
        if desc != o.desc:
            o.desc = None
            o.pairs = _results(o)
            o.desc = desc
            if any(r.nbytes > COPY_MAX for _, r in o.pairs):
                o.small.discard(key)
                o.ok = None
                if len(o.big) >= 64:
                    o.big.clear()
                o.big.add(key)
        res = {}
        for name, r in o.pairs:
            res[name] = r.copy()
        return res
