"""Exceptions: one class per ais_status, each carrying the status and the library's message."""
from __future__ import annotations

import errno
import os
from typing import Dict, List, Tuple, Type

from . import _lib


class AistackError(Exception):
    """A libaistack call failed. `status` is the ais_status value, `status_name` its C name
    ("AIS_E_SHAPE"), and `message` what ais_last_error() said (naming the file, node or input)."""

    status: int = -1

    def __init__(self, message: str, status: int | None = None):
        if status is not None:
            self.status = status
        self.message = message
        super().__init__(message)

    @property
    def status_name(self) -> str:
        return _lib.text(_lib.lib.ais_status_name(self.status))

    def __str__(self) -> str:
        return f"{self.status_name}: {self.message}" if self.message else self.status_name


class InvalidArgumentError(AistackError, ValueError):
    status = 1


class OutOfMemoryError(AistackError, MemoryError):
    status = 2


class ShapeError(AistackError, ValueError):
    status = 3


class DtypeError(AistackError, TypeError):
    status = 4


class UnsupportedError(AistackError):
    status = 5


class AistackIOError(AistackError, OSError):
    """A file could not be opened, read, written or mapped (AIS_E_IO); an OSError."""
    status = 6


class AistackFileNotFoundError(AistackIOError, FileNotFoundError):
    """AIS_E_IO for a file that does not exist: `except FileNotFoundError` (and OSError) catch
    it, errno is ENOENT, and it is still an AistackIOError with the library's message."""

    def __init__(self, message: str, status: int | None = None):
        super().__init__(message, status)
        self.errno = errno.ENOENT
        self.strerror = os.strerror(errno.ENOENT)


class FormatError(AistackError):
    status = 7


class NotFoundError(AistackError, LookupError):
    status = 8


class LimitError(AistackError):
    status = 9


class ChecksumError(AistackError):
    status = 10


class NoDeviceError(AistackError):
    status = 11


class DeviceError(AistackError):
    status = 12


class InternalError(AistackError):
    status = 13


class SchemaError(AistackError, ValueError):
    """Records broke a feature pipeline's schema. `problems` lists every (row, field, message)
    (row 0 is the first record; field "" when the whole row is bad)."""
    status = 14

    def __init__(self, message: str, status: int | None = None):
        super().__init__(message, status)
        self.problems: List[Tuple[int, str, str]] = []


class BusyError(AistackError, RuntimeError):
    """The object is in use by another thread (AIS_E_BUSY): a session already running a call.
    The binding serializes calls on one Session, so this comes only from sessions shared with
    other code through their handle."""
    status = 15


_BY_STATUS: Dict[int, Type[AistackError]] = {
    c.status: c for c in (InvalidArgumentError, OutOfMemoryError, ShapeError, DtypeError,
                          UnsupportedError, AistackIOError, FormatError, NotFoundError,
                          LimitError, ChecksumError, NoDeviceError, DeviceError, InternalError,
                          SchemaError, BusyError)}


def error_class(status: int) -> Type[AistackError]:
    return _BY_STATUS.get(status, AistackError)


def make(status: int, message: str) -> AistackError:
    """An exception for `status` with `message` (statuses newer than this package give the base
    class, still carrying the number). The library says a file is missing with AIS_E_IO and the
    C library's text for ENOENT ("PATH: cannot open: No such file or directory"), which is
    the text os.strerror gives in this process."""
    if status == AistackIOError.status and os.strerror(errno.ENOENT) in message:
        return AistackFileNotFoundError(message, status)
    return error_class(status)(message, status)


def check(status: int) -> None:
    """Raises the exception for a failed call; reads the message on the calling thread, which is
    the thread ctypes ran the call on."""
    if status != 0:
        raise make(status, _lib.text(_lib.lib.ais_last_error()))
