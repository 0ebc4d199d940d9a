"""aistack: Python bindings for libaistack, an embeddable ML inference library.

    import aistack, numpy as np
    with aistack.Model("model.onnx") as model, model.session(threads=2) as s:
        outputs = s.run({"x": np.zeros((1, 64), np.float32)})

The library is found through $AISTACK_LIBRARY, then the package folder (where the wheel puts
it), then build/ and build-release/ of a source checkout, then the system (README.md). Every failure raises an AistackError subclass.
"""
from __future__ import annotations

from . import _errors, _lib
from ._errors import (AistackError, AistackFileNotFoundError, AistackIOError, BusyError,
                      ChecksumError, DeviceError, DtypeError, FormatError, InternalError,
                      InvalidArgumentError, LimitError, NoDeviceError, NotFoundError,
                      OutOfMemoryError, SchemaError, ShapeError, UnsupportedError)
from ._model import Model, Session, TensorInfo
from ._monitor import Monitor, Profile, drift_categorical, drift_numeric, report_frame
from ._ops import max_opset, op_exists, run_op
from ._pipeline import Pipeline
from ._tensor import Tensor

library_path: str = _lib.path

__all__ = [
    "AistackError", "AistackFileNotFoundError", "AistackIOError", "BusyError", "ChecksumError",
    "DeviceError", "DtypeError", "FormatError", "InternalError", "InvalidArgumentError", "LimitError",
    "NoDeviceError", "NotFoundError",
    "OutOfMemoryError", "SchemaError", "ShapeError", "UnsupportedError", "Model", "Session",
    "Pipeline", "Monitor", "Profile", "drift_numeric", "drift_categorical", "report_frame",
    "TensorInfo", "Tensor", "run_op", "op_exists", "max_opset", "version", "set_num_threads",
    "get_num_threads", "library_path",
]


def version() -> str:
    """The version of the loaded libaistack ("MAJOR.MINOR.PATCH")."""
    return _lib.text(_lib.lib.ais_version_string())


# From the loaded library, not a literal here: the wheel takes its version from the header's
# AIS_VERSION_* macros, which also build the library, so the two cannot drift apart.
__version__: str = version()


def set_num_threads(threads: int) -> None:
    """Threads of run_op() and of sessions that set none (default and 0: the physical cores).

    BLAS calls take the calling session's count per call; the process's BLAS setting is not changed.
    """
    _errors.check(_lib.lib.ais_set_num_threads(int(threads)))


def get_num_threads() -> int:
    return int(_lib.lib.ais_get_num_threads())
