"""The interposer: Python-level file I/O of a target program, recorded where it reaches the kernel.

`install.install(base)` replaces, process-wide, the `os` functions that change files or directories
(open with O_CREAT/O_TRUNC, write, pwrite, writev, sendfile, ftruncate, truncate, fsync,
fdatasync, rename, replace, unlink, remove, mkdir, rmdir, link, symlink:
faultinject/program/oscalls.py)
and `builtins.open`, `io.open` and `io.FileIO` (faultinject/program/fileio.py). Install it
before the target is imported, so that modules binding `_fsync = os.fsync` or `open` at import
bind the recording versions.

While a `Session` is armed, each such call on a path under the session's directory becomes a
`Step` of its trace, with a hook before and after it (where a child is killed). Writes are
recorded at `write(2)`: bytes still in a Python buffer are not in the trace, and are lost at
a kill, as in reality. A file descriptor is named by /proc/self/fd (Linux), so files opened
before tracing began, and files renamed since they were opened, are named correctly; an open
or truncate by a path that is a symbolic link is recorded on the file the link names, as the
kernel follows it.

Not seen: I/O done in C (sqlite3, mmap, C extensions), by child processes, and calls given
`dir_fd=`. Where the interposer knows it was blind (a child process started, a shared writable
mapping, sqlite3.connect, an O_SYNC/O_DSYNC open, a `dir_fd=` call) it marks the trace
incomplete (`blind`), and the run gives no verdict rather than a wrong one (blind.py wraps the
calls that are not file calls).
"""

from __future__ import annotations

import io
import json
import os
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from tornwrite.faultinject.program.trace import Step, Trace, describe_write

NOT_SEEN = (
    "The interposer sees Python-level file I/O only: I/O done in C (sqlite3, mmap, C extensions) "
    "and by child processes is not traced."
)
_WRAPPED: tuple[str, ...] = ("open", "write", "pwrite", "writev", "sendfile", "ftruncate", "truncate", "fsync")
_WRAPPED += ("fdatasync", "rename", "replace", "unlink", "remove", "mkdir", "rmdir", "link", "symlink")
REAL: dict[str, Callable] = {name: getattr(os, name) for name in _WRAPPED}
REAL_OPEN = io.open
REAL_FILEIO = io.FileIO
OnStep = Callable[[int, str], None]  # (step number, "before" | "after")


@dataclass
class Session:
    """One traced run: the directory whose I/O is recorded, the trace, and the kill hook."""

    directory: str  # absolute, real path
    trace: Trace = field(default_factory=Trace)
    on_step: OnStep | None = None
    on_ack: Callable[[object], None] | None = None
    known: set[str] = field(default_factory=set)  # files the trace knows the content of

    def relative(self, path: str) -> str | None:
        """`path` relative to the directory, or None when it lies outside it."""
        if path == self.directory:
            return "."
        if path.startswith(self.directory + os.sep):
            return path[len(self.directory) + 1 :]
        return None


class Interposer:
    """Process-wide: at most one session is armed at a time; a lock orders threads' steps."""

    def __init__(self) -> None:
        self.base: str | None = None  # files under here are opened through TracedFileIO
        self.session: Session | None = None
        self.lock = threading.RLock()

    # --- arming ------------------------------------------------------------------------------

    def arm(self, session: Session) -> None:
        for root, _, files in os.walk(session.directory):
            session.known.update(os.path.relpath(os.path.join(root, f), session.directory) for f in files)
        self.session = session

    def disarm(self) -> None:
        self.session = None

    def ack(self, token: object) -> None:
        """The workload's `ack`: `token` must be JSON-serialisable (it is sent across a kill)."""
        json.dumps(token)
        session = self.session
        if session is None:
            return
        with self.lock:
            session.trace.tokens.append(token)
            session.trace.ack_after.append(len(session.trace.steps))
            if session.on_ack is not None:
                session.on_ack(token)

    # --- recording ---------------------------------------------------------------------------

    def scope(self, path: str | None) -> tuple[Session, str] | None:
        """(session, relative path) when `path` is traced right now."""
        session = self.session
        if session is None or path is None:
            return None
        relative = session.relative(path)
        return None if relative is None else (session, relative)

    def step(self, where: tuple[Session, str], op: str, action: Callable, describe: Callable[[Any], dict | None]):
        """Run `action` as durable step `op` on `where`; `describe(result)` gives the Step's fields
        (None: the call changed nothing after all, and is no step)."""
        session, relative = where
        with self.lock:
            number = len(session.trace.steps) + 1
            if session.on_step is not None:
                session.on_step(number, "before")
            result = action()
            fields = describe(result)
            if fields is None:  # it changed nothing (a write of 0 bytes): not a step
                return result
            session.trace.steps.append(
                Step(
                    number,
                    op,
                    path=relative,
                    acked=len(session.trace.tokens),
                    thread=threading.current_thread().name,
                    **fields,
                )
            )
            self._vouch(session, op, relative, fields)
            if session.on_step is not None:
                session.on_step(number, "after")
        return result

    def _vouch(self, session: Session, op: str, relative: str, fields: dict) -> None:
        """Warn when a step relies on content the trace never saw written."""
        if op in ("create", "write", "truncate", "link", "symlink"):
            session.known.add(relative)
            if op == "link":
                session.known.add(fields["target"])
        elif op == "rename":
            if relative not in session.known and not os.path.isdir(os.path.join(session.directory, fields["target"])):
                session.trace.warn(f"{fields['call']}: renames a file the trace never saw written")
            session.known.add(fields["target"])
        elif op == "fsync" and relative not in session.known:
            session.trace.warn(f"{fields['call']}: fsyncs a file the trace never saw written")

    def untraced(self, call: str) -> None:
        self.blind(f"{call}: called with dir_fd=, which the interposer does not trace")

    def blind(self, reason: str) -> None:
        """The armed run did something the interposer cannot see into: its trace is incomplete."""
        if self.session is not None:
            self.session.trace.miss(f"{reason} (use --trace syscall, which sees it)")


INTERPOSER = Interposer()


def fd_path(fd: int) -> str | None:
    """The path the kernel has for `fd` now, None for pipes, sockets and deleted files."""
    try:
        path = os.readlink(f"/proc/self/fd/{fd}")
    except OSError:
        return None
    return path if path.startswith("/") and not path.endswith(" (deleted)") else None


def abspath(path) -> str:
    return os.path.abspath(os.fsdecode(os.fspath(path)))


def followed(path: str) -> str:
    """The path a call that follows symbolic links reaches from `path` (absolute)."""
    return os.path.realpath(path) if os.path.islink(path) else path


def record_write(func: str, fd: int, action: Callable[[], int], data_of: Callable[[int], bytes], at: int | None = None):
    """A write of any flavour on `fd`; `data_of(n)` gives the first n bytes written."""
    if INTERPOSER.session is None:  # the common case, outside a traced run: no readlink
        return action()
    where = INTERPOSER.scope(fd_path(fd))
    if where is None:
        return action()

    def describe(written: int) -> dict | None:
        if not written:
            return None
        data = data_of(written)
        offset = at if at is not None else os.lseek(fd, 0, os.SEEK_CUR) - written
        return {"call": describe_write(func, where[1], offset, data), "offset": offset, "size": written, "data": data}

    return INTERPOSER.step(where, "write", action, describe)


def record_truncate(func: str, where, size: int, action: Callable):
    return INTERPOSER.step(
        where, "truncate", action, lambda _: {"call": f"{func} {where[1]} to {size} B", "size": size}
    )


def opening_step(func: str, path: str, flags: int) -> tuple[str, tuple, str] | None:
    """(op, where, call) when opening `path` with `flags` creates or truncates a traced file."""
    path = followed(path)  # open(2) follows a link (a dangling one: it creates what it names)
    where = INTERPOSER.scope(path)
    if where is None:
        return None
    if flags & (os.O_SYNC | os.O_DSYNC):
        INTERPOSER.blind(f"{func} {where[1]} with O_SYNC/O_DSYNC: writes durable on return are not modelled here")
    exists = os.path.lexists(path)
    if flags & os.O_CREAT and not exists:
        return "create", where, f"{func} {where[1]} (created)"
    if flags & os.O_TRUNC and exists and flags & (os.O_WRONLY | os.O_RDWR):
        return "truncate", where, f"{func} {where[1]} (truncated to 0 B)"
    return None
