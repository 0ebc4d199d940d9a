"""The per-process model cache of the batch-scoring integrations (aistack.dask, aistack.spark,
aistack.score).

An engine (a Dask worker, a Spark executor's Python worker) runs many tasks in one process, on
several threads. What travels with a task is only the model's path and settings; the process
loads the model once, the first time a task needs it, and keeps it: a .ais file's weights are
memory-mapped (map_weights, the default), so the processes of one host share them through the
page cache, and the threads of one process share the one ais_model. Each thread runs its own
ais_session (a session is one thread at a time), also kept for the next task.

The key is the path and the file's identity (device, inode, size, modification time): a model
file replaced in place (a new version written over the old one, or renamed onto it) is loaded
again by the next task, never served from a stale mapping.
"""
from __future__ import annotations

import os
import threading
from typing import Any, Dict, Hashable, Mapping, Optional, Tuple

from ._model import Model, Session

Key = Tuple[Hashable, ...]

_lock = threading.Lock()
_models: Dict[str, Tuple[Key, Model]] = {}  # path -> (key, model): one version per path
_local = threading.local()  # .sessions: {(key, threads, extra): Session}
_loads = 0  # models loaded by this process (tests read it through info())
_loads_by_path: Dict[str, int] = {}


def file_key(path: str, settings: Mapping[str, Any]) -> Key:
    """(real path, dev, inode, size, mtime_ns, settings): what makes a loaded model reusable."""
    real = os.path.realpath(path)
    st = os.stat(real)
    return (real, st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns,
            tuple(sorted((str(k), v) for k, v in settings.items())))


def model(path: str, settings: Optional[Mapping[str, Any]] = None) -> Tuple[Key, Model]:
    """The process's model for `path` (loaded on first use, or again when the file changed)."""
    global _loads
    settings = dict(settings or {})
    key = file_key(path, settings)
    with _lock:
        hit = _models.get(key[0])
        if hit is not None and hit[0] == key:
            return hit
        # Loading under the lock: the threads of a worker that start together wait for one load
        # instead of mapping the file several times.
        m = Model(key[0], **settings)
        _loads += 1
        _loads_by_path[key[0]] = _loads_by_path.get(key[0], 0) + 1
        old = _models.get(key[0])
        _models[key[0]] = (key, m)
    if old is not None:
        # Sessions made from the old version keep it alive (Session.model) until they go.
        old[1].close()
    return key, m


def session(path: str, *, threads: int = 1, extra: str = "ignore",
            settings: Optional[Mapping[str, Any]] = None) -> Session:
    """This thread's session of the process's model for `path`."""
    key, m = model(path, settings)
    sessions: Dict[Any, Session] = getattr(_local, "sessions", None)
    if sessions is None:
        sessions = _local.sessions = {}
    skey = (key, int(threads), extra)
    s = sessions.get(skey)
    if s is None:
        # A thread's sessions of an older version of this file are dropped with it.
        for k in [k for k in sessions if k[0][0] == key[0] and k[0] != key]:
            sessions.pop(k).close()
        s = sessions[skey] = m.session(threads=int(threads), extra_fields=extra)
    return s


def info() -> Dict[str, Any]:
    """What this process holds: {"loads": models loaded so far, "loads_by_path": {path: n},
    "models": {path: key}, "pid": os.getpid()} (for tests and diagnostics)."""
    with _lock:
        return {"loads": _loads, "loads_by_path": dict(_loads_by_path),
                "models": {p: k for p, (k, _) in _models.items()}, "pid": os.getpid()}


def clear() -> None:
    """Drops this process's models (this thread's sessions too); other threads' sessions keep
    their model alive until they are used with a newer file or the thread ends."""
    global _loads
    with _lock:
        models = list(_models.values())
        _models.clear()
        _loads = 0
        _loads_by_path.clear()
    sessions = getattr(_local, "sessions", None)
    if sessions:
        for s in sessions.values():
            s.close()
        sessions.clear()
    for _, m in models:
        m.close()
