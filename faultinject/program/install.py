"""Installing the interposer: its wrappers put in place of Python's file functions, and taken out.

Kept apart from interposer.py, which the wrappers (oscalls.py, fileio.py, blind.py) import: this
module imports them all, and nothing imports it back, so the modules are tied in one direction.
"""

from __future__ import annotations

import builtins
import io
import os

from tornwrite.faultinject.program import blind, fileio, oscalls
from tornwrite.faultinject.program.interposer import INTERPOSER, REAL, REAL_FILEIO, REAL_OPEN


def install(base: str) -> str | None:
    """Interpose on file I/O under `base` from now on; call before importing the target. Returns the
    base of an interposer installed before (the pytest plugin's), for `uninstall` to put back."""
    previous = INTERPOSER.base
    INTERPOSER.base = os.path.realpath(base)
    for name, wrapper in oscalls.WRAPPERS.items():
        setattr(os, name, wrapper)
    builtins.open = io.open = fileio.traced_open
    io.FileIO = fileio.TracedFileIO  # type: ignore[misc]
    blind.install()
    return previous


def uninstall(previous: str | None = None) -> None:
    """Put the real functions back (modules that bound the wrappers at import keep them), or,
    given the `previous` base `install` returned, leave the interposer installed on that base."""
    INTERPOSER.session = None
    if previous is not None:
        INTERPOSER.base = previous
        return
    for name, real in REAL.items():
        setattr(os, name, real)
    builtins.open = io.open = REAL_OPEN
    io.FileIO = REAL_FILEIO  # type: ignore[misc]
    blind.uninstall()
    INTERPOSER.base = None
