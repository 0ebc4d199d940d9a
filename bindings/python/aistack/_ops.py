"""One ONNX operator, run eagerly on NumPy arrays."""
from __future__ import annotations

import ctypes
from typing import Any, List, Mapping, Optional, Sequence

import numpy as np

from . import _errors, _lib
from ._tensor import ArrayLike, to_numpy, wrap_array

L = _lib.lib


def _set_attr(attrs: int, name: str, value: Any, keep: List[int]) -> None:
    key = name.encode()
    if isinstance(value, (bool, int, np.integer)):
        st = L.ais_attrs_set_int(attrs, key, int(value))
    elif isinstance(value, (float, np.floating)):
        st = L.ais_attrs_set_float(attrs, key, float(value))
    elif isinstance(value, (str, bytes)):
        st = L.ais_attrs_set_string(attrs, key, value.encode() if isinstance(value, str) else value)
    elif isinstance(value, np.ndarray):
        h, _ = wrap_array(value, what=f"attribute {name!r}")
        keep.append(h)  # the attrs hold their own reference; ours goes after the run
        st = L.ais_attrs_set_tensor(attrs, key, h)
    elif isinstance(value, (list, tuple)):
        vals = list(value)
        if all(isinstance(v, (str, bytes)) for v in vals) and vals:
            arr = (ctypes.c_char_p * len(vals))(*[v.encode() if isinstance(v, str) else v
                                                  for v in vals])
            st = L.ais_attrs_set_strings(attrs, key, arr, len(vals))
        elif all(isinstance(v, (bool, int, np.integer)) for v in vals):
            st = L.ais_attrs_set_ints(attrs, key, (ctypes.c_int64 * max(1, len(vals)))(*vals),
                                      len(vals))
        elif all(isinstance(v, (int, float, np.integer, np.floating)) for v in vals):
            st = L.ais_attrs_set_floats(attrs, key, (ctypes.c_float * len(vals))(*vals),
                                        len(vals))
        else:
            raise _errors.InvalidArgumentError(
                f"attribute {name!r}: a list must hold only ints, only floats or only strings", 1)
    else:
        raise _errors.InvalidArgumentError(
            f"attribute {name!r}: unsupported Python type {type(value).__name__}", 1)
    _errors.check(st)


def run_op(op_type: str, inputs: Sequence[Optional[ArrayLike]],
           attrs: Optional[Mapping[str, Any]] = None, opset: Optional[int] = None, *,
           domain: str = "", num_outputs: int = 1) -> List[np.ndarray]:
    """Runs ONNX operator `op_type` (semantics of `opset`, default the newest) and returns its
    `num_outputs` outputs. None in `inputs` is an omitted optional input. Attribute values:
    int, float, str, lists of those, or a NumPy array (a tensor attribute). Arrays of str_,
    bytes_ or object (and lists of str) are string tensors; string outputs come back as object
    arrays of str.

    >>> aistack.run_op("Add", [np.ones(3, np.float32), np.float32(2)])[0]
    array([3., 3., 3.], dtype=float32)
    """
    handles: List[Optional[int]] = []
    keep: List[int] = []
    ah = _lib.AttrsP()
    _errors.check(L.ais_attrs_create(ctypes.byref(ah)))
    slots = (_lib.TensorP * max(1, num_outputs))()
    try:
        for name, value in (attrs or {}).items():
            _set_attr(ah.value, name, value, keep)
        for i, x in enumerate(inputs):
            handles.append(None if x is None else
                           wrap_array(x, what=f"{op_type} input {i}")[0])
        arr = (_lib.TensorP * max(1, len(handles)))(*handles)
        version = int(L.ais_op_max_opset()) if opset is None else int(opset)
        _errors.check(L.ais_op_run_opset(domain.encode(), op_type.encode(), version, ah.value, arr,
                                         len(handles), slots, num_outputs))
        outs = []
        for i in range(num_outputs):
            t, slots[i] = slots[i], None
            outs.append(to_numpy(t))
        return outs
    finally:
        for h in handles + keep:
            if h:
                L.ais_tensor_destroy(h)
        for i in range(num_outputs):
            if slots[i]:
                L.ais_tensor_destroy(slots[i])
        L.ais_attrs_destroy(ah.value)


def op_exists(op_type: str, domain: str = "") -> bool:
    return bool(L.ais_op_exists(domain.encode(), op_type.encode()))


def max_opset() -> int:
    return int(L.ais_op_max_opset())
