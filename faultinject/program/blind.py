"""The calls the interposer cannot see into: each one marks an armed run's trace incomplete.

A child process (os.fork, os.system, subprocess), a shared writable mmap of a traced file,
sqlite3 (its I/O is in C) and C libraries loaded through ctypes (syncfs, for one, which the os
module does not offer), by the target's own files before the run or by anything during it.
(Opening a traced file O_SYNC/O_DSYNC is noted where opens are recorded,
interposer.opening_step.) The call itself runs unchanged; only the verdict
changes, to "no verdict" (exit 3) unless a real kill confirms a failure.

os.sync() is no blind spot: it is recorded as the durability point it is, a `sync` step
(docs/CRASH-MODEL.md).
"""

from __future__ import annotations

import ctypes
import mmap
import os
import sqlite3
import subprocess
import sys
from collections.abc import Callable
from typing import Any

from tornwrite.faultinject.program.interposer import INTERPOSER, fd_path

CHILD = "a child process: its file I/O is not traced by the interposer"
_REAL: dict[str, Any] = {
    "fork": os.fork,
    "system": os.system,
    "sync": os.sync,
    "fork_exec": subprocess._fork_exec,  # type: ignore[attr-defined]
    "posix_spawn": os.posix_spawn,
    "posix_spawnp": os.posix_spawnp,
    "mmap": mmap.mmap,
    "connect": sqlite3.connect,
    "cdll_init": ctypes.CDLL.__init__,
}
LOADED_C: list[tuple[str, str]] = []  # (library, the file that loaded it) through ctypes since install()


def _noting(reason: str, real: Callable) -> Callable:
    def call(*args, **kwargs):
        INTERPOSER.blind(reason)
        return real(*args, **kwargs)

    call.__name__ = getattr(real, "__name__", "call")
    return call


class _Mmap(mmap.mmap):
    """mmap.mmap, noting a shared writable mapping of a traced file."""

    def __new__(cls, fileno, length, *args, **kwargs):
        mapping = super().__new__(cls, fileno, length, *args, **kwargs)
        access = kwargs.get("access", args[2] if len(args) > 2 else mmap.ACCESS_DEFAULT)
        flags = kwargs.get("flags", args[0] if args else mmap.MAP_SHARED)
        writable = access in (mmap.ACCESS_WRITE, mmap.ACCESS_DEFAULT) and flags & mmap.MAP_SHARED
        if fileno != -1 and writable and INTERPOSER.scope(fd_path(fileno)) is not None:
            INTERPOSER.blind("a shared writable mmap of a traced file: stores to it are not calls")
        return mapping


def _cdll_init(self, name, *args, **kwargs):
    frame = sys._getframe(1)
    while frame.f_back is not None and os.sep + "ctypes" + os.sep in frame.f_code.co_filename:
        frame = frame.f_back  # past ctypes' own loaders (cdll.LoadLibrary) to the code that asked
    LOADED_C.append((str(name), os.path.abspath(frame.f_code.co_filename)))
    if INTERPOSER.session is not None:  # loaded by the traced run itself, whoever asked: its calls are unseen
        where = os.path.basename(frame.f_code.co_filename)
        INTERPOSER.blind(f"C code loaded through ctypes during the run ({name}, by {where}): its calls are not seen")
    return _REAL["cdll_init"](self, name, *args, **kwargs)


def armed(folder: str) -> None:
    """At the start of a traced run of a target in `folder`: a C library its code (anything loaded
    from that folder) loaded through ctypes may do file I/O the interposer cannot see."""
    for library, loader in LOADED_C:
        if loader.startswith(folder + os.sep):
            where = os.path.basename(loader)
            INTERPOSER.blind(f"C code loaded through ctypes ({library}, by {where}): its calls are not seen")
            return


def _sync() -> None:
    """os.sync(): every file and directory durable, a `sync` step when a run is armed."""
    session = INTERPOSER.session
    if session is None:
        return _REAL["sync"]()
    return INTERPOSER.step((session, "."), "sync", _REAL["sync"], lambda _: {"call": "os.sync (everything durable)"})


def install() -> None:
    """Wrap the calls above (C libraries loaded before now, the harness's own, are not counted)."""
    os.fork = _noting(CHILD, _REAL["fork"])
    os.system = _noting(CHILD, _REAL["system"])
    os.sync = _sync
    subprocess._fork_exec = _noting(CHILD, _REAL["fork_exec"])  # type: ignore[attr-defined]
    os.posix_spawn = _noting(CHILD, _REAL["posix_spawn"])
    os.posix_spawnp = _noting(CHILD, _REAL["posix_spawnp"])
    mmap.mmap = _Mmap  # type: ignore[misc]
    sqlite3.connect = _noting("sqlite3: its file I/O is done in C", _REAL["connect"])
    ctypes.CDLL.__init__ = _cdll_init  # type: ignore[method-assign]


def uninstall() -> None:
    os.fork, os.system, os.sync = _REAL["fork"], _REAL["system"], _REAL["sync"]
    subprocess._fork_exec = _REAL["fork_exec"]  # type: ignore[attr-defined]
    os.posix_spawn, os.posix_spawnp = _REAL["posix_spawn"], _REAL["posix_spawnp"]
    mmap.mmap = _REAL["mmap"]  # type: ignore[misc]
    sqlite3.connect = _REAL["connect"]
    ctypes.CDLL.__init__ = _REAL["cdll_init"]  # type: ignore[method-assign]
