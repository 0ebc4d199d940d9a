"""Tensors: NumPy <-> ais_tensor without copying where the memory allows.

String tensors (AIS_DTYPE_STRING) are always copied: NumPy arrays of dtype str_ (<U..), bytes_
(S.., taken as UTF-8 bytes) or object (each element a str or bytes) become string tensors, encoded
once to UTF-8; string tensors come back as NumPy object arrays of Python str (what onnxruntime
returns). Strings are NUL-terminated in the library, so an element holding a NUL character is
refused, and a string tensor has no missing value, so None is refused too. Bytes that are not
valid UTF-8 decode with errors="surrogateescape": nothing is lost, and such a str encodes back to
the same bytes (str inputs are encoded with surrogateescape too).
"""
from __future__ import annotations

import ctypes
import itertools
import os
from typing import Any, Dict, Optional, Sequence, Tuple, Union

import numpy as np

from . import _errors, _lib

L = _lib.lib

# ais_dtype values (ONNX TensorProto numbering) <-> NumPy. bfloat16 has no NumPy type: its
# outputs come back as raw uint16 bit patterns, and it cannot be fed from NumPy.
_TO_NUMPY: Dict[int, np.dtype] = {
    1: np.dtype(np.float32), 2: np.dtype(np.uint8), 3: np.dtype(np.int8),
    4: np.dtype(np.uint16), 5: np.dtype(np.int16), 6: np.dtype(np.int32),
    7: np.dtype(np.int64), 9: np.dtype(np.bool_), 10: np.dtype(np.float16),
    11: np.dtype(np.float64), 12: np.dtype(np.uint32), 13: np.dtype(np.uint64),
}
_FROM_NUMPY: Dict[np.dtype, int] = {v: k for k, v in _TO_NUMPY.items()}
BF16 = 16
STRING = 8
OBJECT = np.dtype(object)

ArrayLike = Any


def dtype_to_numpy(code: int) -> Optional[np.dtype]:
    """The NumPy dtype of an ais_dtype value, or None when NumPy has none."""
    if code == BF16:
        return np.dtype(np.uint16)
    if code == STRING:
        return OBJECT
    return _TO_NUMPY.get(code)


def is_string_dtype(dtype: Any) -> bool:
    """Whether arrays of this NumPy dtype become string tensors (str_, bytes_ or object)."""
    return np.dtype(dtype).kind in "USO"


def dtype_from_numpy(dtype: Any) -> int:
    """The ais_dtype value of a NumPy dtype (either byte order); DtypeError when there is none.
    str_, bytes_ and object give AIS_DTYPE_STRING."""
    dt = np.dtype(dtype)
    if is_string_dtype(dt):
        return STRING
    code = _FROM_NUMPY.get(dt)
    if code is None and dt.byteorder in "<>":
        code = _FROM_NUMPY.get(dt.newbyteorder())
    if code is None:
        raise _errors.DtypeError(f"NumPy dtype {dt} has no libaistack element type (supported: "
                                 + ", ".join(str(d) for d in _TO_NUMPY.values())
                                 + ", and str_/bytes_/object for strings)", 4)
    return code


def dtype_name(code: int) -> str:
    return _lib.text(L.ais_dtype_name(code))


# Arrays lent to the library: kept alive until the library calls the release callback, so a
# tensor (or a view of it, e.g. an output aliasing an input) never outlives the memory.
_lent: Dict[int, Any] = {}
_tokens = itertools.count(1)


@_lib.RELEASE_FN
def _release(user_data, data):  # noqa: ARG001 - the signature is the C one
    _lent.pop(user_data or 0, None)


def _shape_arg(shape: Sequence[int]):
    return (ctypes.c_int64 * max(1, len(shape)))(*shape)


def _element(a: np.ndarray, i: int) -> str:
    return str(i) if a.ndim <= 1 else str(tuple(int(k) for k in np.unravel_index(i, a.shape)))


def _encode_one(a: np.ndarray, i: int, v: Any, what: str) -> bytes:
    """Element i as UTF-8 bytes, or the error that names it."""
    if isinstance(v, str):
        try:
            return v.encode("utf-8", "surrogateescape")
        except UnicodeEncodeError as e:
            raise _errors.InvalidArgumentError(
                f"{what}: element {_element(a, i)} cannot be encoded as UTF-8 ({e.reason})",
                1) from None
    if isinstance(v, (bytes, bytearray)):
        return bytes(v)
    if v is None:
        raise _errors.DtypeError(
            f"{what}: element {_element(a, i)} is None; a string tensor has no missing value "
            "(use a string such as \"\" for it)", 4)
    raise _errors.DtypeError(
        f"{what}: element {_element(a, i)} is {type(v).__name__}, expected str or bytes (an "
        "object array is taken as strings; give numbers as a numeric array)", 4)


def _encode(a: np.ndarray, what: str) -> list:
    """The elements of a str_/bytes_/object array as UTF-8 bytes, row-major."""
    vals = a.reshape(-1).tolist() if a.ndim else [a[()]]
    if a.dtype.kind == "S":  # already bytes
        return vals
    try:  # the common case in one pass; the slow one below finds what failed
        enc = [v.encode("utf-8", "surrogateescape") if isinstance(v, str) else v for v in vals]
        if a.dtype.kind == "U" or all(type(e) is bytes for e in enc):
            return enc
    except UnicodeEncodeError:
        pass
    return [_encode_one(a, i, v, what) for i, v in enumerate(vals)]


def strings_tensor(a: np.ndarray, what: str = "the array") -> int:
    """A new string tensor (ais_tensor*) holding copies of the elements of `a` (str_, bytes_ or
    object); the caller destroys it. `what` names the array in error messages."""
    enc = _encode(a, what)
    n = len(enc)
    # One NUL-separated buffer and a pointer array computed by NumPy: building a ctypes array
    # of n bytes objects costs several times the rest.
    buf = b"\0".join(enc) + b"\0"
    if buf.count(b"\0") != n + (n == 0):
        i = next(i for i, e in enumerate(enc) if b"\0" in e)
        raise _errors.InvalidArgumentError(
            f"{what}: element {_element(a, i)} holds a NUL character, which the library's "
            "NUL-terminated strings cannot hold", 1)
    ends = np.cumsum(np.fromiter(map(len, enc), dtype=np.int64, count=n) + 1)
    base = ctypes.cast(ctypes.c_char_p(buf), ctypes.c_void_p).value or 0
    ptrs = (np.concatenate(([0], ends[:-1])) + base).astype(np.uintp) if n else \
        np.zeros(1, np.uintp)
    vals = ptrs.ctypes.data_as(ctypes.POINTER(ctypes.c_char_p))
    out = _lib.TensorP()
    _errors.check(L.ais_tensor_create_strings(_shape_arg(a.shape), a.ndim, vals,
                                              ctypes.byref(out)))
    return out.value


def as_array(arr: ArrayLike, dtype: Any = None) -> np.ndarray:
    """`arr` as a NumPy array (of `dtype` when it is not one already). Lists that NumPy would
    make str_ are made object arrays instead, so that a number mixed among strings is refused
    rather than silently turned into its text."""
    if isinstance(arr, np.ndarray):
        return arr
    a = np.asarray(arr, dtype=dtype)
    if dtype is None and a.dtype.kind in "US" and not isinstance(arr, (str, bytes, np.generic)):
        a = np.asarray(arr, dtype=object)
    return a


def wrap_array(arr: ArrayLike, dtype: Any = None,
               what: str = "the array") -> Tuple[int, Optional[np.ndarray]]:
    """(ais_tensor*, array) for `arr`: the array's own memory when it is C-contiguous, aligned
    to its element size and of a supported dtype, else a contiguous aligned copy; a new string tensor (array None) for str_, bytes_
    and object arrays. `what` names the array in error messages. The caller destroys the
    tensor."""
    a = as_array(arr, dtype)
    if is_string_dtype(a.dtype):
        return strings_tensor(a, what), None
    code = dtype_from_numpy(a.dtype)
    # ais_tensor_wrap refuses memory not aligned to the element size (a view at an odd byte
    # offset, a field of a packed record): kernels load whole elements, so copy those.
    if (not a.flags.c_contiguous or not a.dtype.isnative
            or (a.itemsize > 1 and a.ctypes.data % a.itemsize != 0)):
        a = np.array(a, dtype=a.dtype.newbyteorder("="), order="C", copy=True)
    token = next(_tokens)
    _lent[token] = a
    out = _lib.TensorP()
    st = L.ais_tensor_wrap(code, _shape_arg(a.shape), a.ndim, ctypes.c_void_p(a.ctypes.data),
                           a.nbytes, _release, ctypes.c_void_p(token), ctypes.byref(out))
    if st != 0:
        _lent.pop(token, None)  # on failure release is not called
        _errors.check(st)
    return out.value, a


# The dtypes that wrap_fast() passes straight through: native byte order only (a dtype of the
# other order compares unequal, so it misses and goes the general way).
_FAST_CODES: Dict[np.dtype, int] = dict(_FROM_NUMPY)
_SHAPES = [ctypes.c_int64 * max(1, n) for n in range(33)]
_dims: Dict[Tuple[int, ...], Any] = {}  # wrap_fast's extents arrays by shape (read-only)
_wrap = _lib.tensor_wrap
_destroy = L.ais_tensor_destroy
_c_char = ctypes.c_char


def wrap_fast(a: np.ndarray) -> Optional[int]:
    """wrap_array() for the common case, an ndarray that needs no copy (C-contiguous, aligned,
    native order, non-empty, of a supported dtype, at most 32 dimensions): its ais_tensor*, or
    None for any other array, which the caller passes to wrap_array(). A run of a small model
    costs a few microseconds, so the checks here use the cheapest NumPy attributes."""
    code = _FAST_CODES.get(a.dtype)
    f = a.flags
    if code is None or not f.c_contiguous or not f.aligned or a.ndim > 32 or not a.size:
        return None
    # c_char.from_buffer gives the address in a fraction of a.ctypes.data's time, but only for
    # writable memory.
    data = ctypes.addressof(_c_char.from_buffer(a)) if f.writeable else a.ctypes.data
    token = next(_tokens)
    _lent[token] = a
    out = _lib.TensorP()
    shape = a.shape
    dims = _dims.get(shape)  # the library copies the extents: one array serves every call
    if dims is None:
        if len(_dims) >= 256:
            _dims.clear()
        dims = _dims[shape] = _SHAPES[a.ndim](*shape)
    st = _wrap(code, dims, a.ndim, data, a.nbytes, _release, token, ctypes.byref(out))
    if st != 0:
        _lent.pop(token, None)  # on failure release is not called
        _errors.check(st)
    return out.value


class _Owner:
    """Owns one ais_tensor and exposes its memory through __array_interface__; NumPy keeps it as
    the array's base, so the tensor is destroyed when the last array over it goes away."""

    __slots__ = ("_handle", "_keep", "__array_interface__", "__weakref__")

    def __init__(self, handle: int, keep: Any = None):
        self._handle = handle
        self._keep = keep  # e.g. the session/model whose memory the tensor may share
        code = L.ais_tensor_dtype(handle)
        dt = dtype_to_numpy(code)
        if dt is None or code == STRING:  # strings are copied out (strings_to_numpy), not viewed
            L.ais_tensor_destroy(handle)
            self._handle = None
            raise _errors.DtypeError(f"the output has element type {dtype_name(code)}, which "
                                     "NumPy cannot represent", 4)
        nd = L.ais_tensor_ndim(handle)
        sp = L.ais_tensor_shape(handle)
        shape = tuple(int(sp[i]) for i in range(nd))
        self.__array_interface__ = {"shape": shape, "typestr": dt.str,
                                    "data": (int(L.ais_tensor_data(handle) or 0), False),
                                    "version": 3}

    def __del__(self):
        h, self._handle = self._handle, None
        if h and L is not None:
            L.ais_tensor_destroy(h)


def strings_to_numpy(handle: int) -> np.ndarray:
    """An object array of str with copies of a string tensor's elements (not taking ownership)."""
    n = int(L.ais_tensor_size(handle))
    nd = L.ais_tensor_ndim(handle)
    sp = L.ais_tensor_shape(handle)
    shape = tuple(int(sp[i]) for i in range(nd))
    flat = np.empty(n, dtype=object)
    if n:
        ptrs = ctypes.cast(L.ais_tensor_data(handle), ctypes.POINTER(ctypes.c_char_p))
        # a NULL element reads as "" (ais_tensor.h)
        flat[:] = [b.decode("utf-8", "surrogateescape") if b else "" for b in ptrs[:n]]
    return flat.reshape(shape)


_typestr = {code: dt.str for code, dt in _TO_NUMPY.items()}
_npdtype = {code: np.dtype(dt.str) for code, dt in _TO_NUMPY.items()}
_t_dtype = _lib.tensor_dtype
_t_ndim = _lib.tensor_ndim
_t_shape = _lib.tensor_shape
_t_data = _lib.tensor_data

# Outputs up to this size are copied into an array NumPy owns and the tensor is destroyed at
# once: a copy of a few KiB costs less than a view's owner object, its __array_interface__ and
# the finalizer that destroys the tensor when the array goes (about 2 us an output, which a
# batch-1 run of a small model pays on every call). Larger outputs are viewed without copying.
COPY_MAX = 16384
_chars: Dict[int, Any] = {}  # ctypes char array types by length


def to_numpy(handle: int, keep: Any = None) -> np.ndarray:
    """A NumPy array over the tensor's memory, or a copy of it when it is at most COPY_MAX
    bytes (the tensor is then destroyed); takes ownership of `handle`. A string tensor is
    copied into an object array of str and destroyed."""
    code = _t_dtype(handle)
    typestr = _typestr.get(code)
    if typestr is not None:
        # The common case in four library calls (a run of a small model costs a few
        # microseconds, so each call here counts); _Owner.__init__ does the same in general.
        nd = _t_ndim(handle)
        shape = tuple(_t_shape(handle)[:nd])
        if 0 in shape:  # NumPy refuses a NULL data pointer
            _destroy(handle)
            return np.empty(shape, dtype=np.dtype(typestr))
        dt = _npdtype[code]
        n = dt.itemsize
        for d in shape:
            n *= d
        if n <= COPY_MAX:
            t = _chars.get(n)
            if t is None:
                t = _chars[n] = ctypes.c_char * n
            try:
                return np.frombuffer(t.from_address(_t_data(handle)), dt).reshape(shape).copy()
            finally:
                _destroy(handle)
        owner = _Owner.__new__(_Owner)
        owner._handle = handle
        owner._keep = keep
        owner.__array_interface__ = {"shape": shape, "typestr": typestr,
                                     "data": (_t_data(handle), False), "version": 3}
        return np.asarray(owner)
    if L.ais_tensor_dtype(handle) == STRING:
        try:
            return strings_to_numpy(handle)
        finally:
            L.ais_tensor_destroy(handle)
    owner = _Owner(handle, keep)
    if L.ais_tensor_nbytes(handle) == 0:  # NumPy refuses a NULL data pointer
        info = owner.__array_interface__
        return np.empty(info["shape"], dtype=np.dtype(info["typestr"]))
    return np.asarray(owner)


class Described:
    """The arrays ais_tensor_describe fills for up to n tensors, made once per session (its
    runs are serialized, so one set serves all of them)."""

    __slots__ = ("n", "dtypes", "ndims", "dims", "data", "nbytes")

    def __init__(self, n: int):
        self.n = n
        self.dtypes = (ctypes.c_int32 * n)()
        self.ndims = (ctypes.c_uint64 * n)()
        self.dims = (ctypes.c_int64 * (n * MAX_DIMS))()
        self.data = (ctypes.c_void_p * n)()
        self.nbytes = (ctypes.c_uint64 * n)()


MAX_DIMS = 8  # AIS_MAX_DIMS
_describe = _lib.tensor_describe


def outputs_to_numpy(slots: Any, n: int, d: "Described", keep: Any = None) -> list:
    """to_numpy() of slots[0..n) (run outputs, all non-NULL), taking ownership of each (the
    slot is cleared): one library call describes them all, small numeric ones are copied and
    destroyed, the rest go through to_numpy(). A run of a small model costs about as much as a
    ctypes call, so the four calls a tensor that to_numpy() makes were most of a call's
    output handling."""
    if _describe is None or n > d.n or _describe(slots, n, d.dtypes, d.ndims, d.dims, d.data,
                                                  d.nbytes) != 0:
        res = []
        for i in range(n):
            t, slots[i] = slots[i], None
            res.append(to_numpy(t, keep))
        return res
    res = []
    dtypes, ndims, dims, data, nbytes = d.dtypes, d.ndims, d.dims, d.data, d.nbytes
    for i in range(n):
        t, slots[i] = slots[i], None
        dt = _npdtype.get(dtypes[i])
        nb = nbytes[i]
        if dt is None or not nb or nb > COPY_MAX:
            res.append(to_numpy(t, keep))
            continue
        at = i * MAX_DIMS
        shape = tuple(dims[at:at + ndims[i]])
        c = _chars.get(nb)
        if c is None:
            c = _chars[nb] = ctypes.c_char * nb
        try:
            res.append(np.frombuffer(c.from_address(data[i]), dt).reshape(shape).copy())
        finally:
            _destroy(t)
    return res


class Tensor:
    """A libaistack tensor. Usually NumPy arrays are enough; this is for `.npy`/`.pb` files read by
    the library and for explicit zero-copy exchange."""

    def __init__(self, handle: int, keep: Any = None):
        self._handle: Optional[int] = handle
        self._keep = keep

    @classmethod
    def from_numpy(cls, arr: ArrayLike) -> "Tensor":
        """A tensor over the array's memory (copied first if not C-contiguous or not aligned
        to its element size). str_, bytes_
        and object arrays (and lists of str) give a string tensor holding copies."""
        h, a = wrap_array(arr)
        return cls(h, a)

    @classmethod
    def zeros(cls, shape: Sequence[int], dtype: Any = np.float32) -> "Tensor":
        """Zeros; for a string dtype (str, bytes, object) empty strings."""
        out = _lib.TensorP()
        _errors.check(L.ais_tensor_create(dtype_from_numpy(dtype), _shape_arg(shape), len(shape),
                                          ctypes.byref(out)))
        return cls(out.value)

    @classmethod
    def load(cls, path: Union[str, os.PathLike]) -> "Tensor":
        """Reads a NumPy .npy file or an ONNX TensorProto .pb file."""
        out = _lib.TensorP()
        _errors.check(L.ais_tensor_load(os.fsencode(path), ctypes.byref(out)))
        return cls(out.value)

    @property
    def handle(self) -> int:
        if not self._handle:
            raise _errors.InvalidArgumentError("the tensor is closed", 1)
        return self._handle

    @property
    def dtype(self) -> Optional[np.dtype]:
        """The NumPy dtype (object for a string tensor; None when NumPy has none)."""
        return dtype_to_numpy(L.ais_tensor_dtype(self.handle))

    @property
    def shape(self) -> Tuple[int, ...]:
        h = self.handle
        sp = L.ais_tensor_shape(h)
        return tuple(int(sp[i]) for i in range(L.ais_tensor_ndim(h)))

    def save_npy(self, path: Union[str, os.PathLike]) -> None:
        _errors.check(L.ais_tensor_save_npy(self.handle, os.fsencode(path)))

    def numpy(self) -> np.ndarray:
        """A copy of the data as a NumPy array (an object array of str for strings)."""
        h = self.handle
        if L.ais_tensor_dtype(h) == STRING:
            return strings_to_numpy(h)
        dt = dtype_to_numpy(L.ais_tensor_dtype(h))
        if dt is None:
            raise _errors.DtypeError("NumPy cannot represent element type "
                                     + dtype_name(L.ais_tensor_dtype(h)), 4)
        n = L.ais_tensor_nbytes(h)
        buf = ctypes.string_at(L.ais_tensor_data(h), n) if n else b""
        return np.frombuffer(buf, dtype=dt).reshape(self.shape).copy()

    def close(self) -> None:
        h, self._handle = self._handle, None
        if h and L is not None:
            L.ais_tensor_destroy(h)
        self._keep = None

    __del__ = close

    def __enter__(self) -> "Tensor":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def __repr__(self) -> str:
        if not self._handle:
            return "<aistack.Tensor closed>"
        return f"<aistack.Tensor {dtype_name(L.ais_tensor_dtype(self._handle))} {self.shape}>"
