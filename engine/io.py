"""The I/O layer: every effect the engine has on its data directory goes through here.

Each call names its step with a label a person can read in a walkthrough (``wal.append``,
``snapshot.rename``, ``dir.fsync`` ...) and fires an `IOEvent` to every hook before and after
the step. Hooks are observers that may also raise or kill the process: that is how the harness
injects faults. With no hook registered a call costs one truth test more than the bare call.

`IOLayer` delegates the work to a `FileSystem`: `OsFileSystem` here, and a simulated disk in
faultinject/ that models which bytes and directory entries are durable. Nothing else in
engine/ touches files.
"""

from __future__ import annotations

import errno
import fcntl
import os
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

# Ops that change what is (or may become) durable; the rest only read or manage handles.
# Crash points are the steps with these ops.
DURABLE_OPS = frozenset({"create", "write", "fsync", "fsync_dir", "rename", "truncate", "unlink", "mkdir"})


@dataclass(frozen=True, slots=True)
class IOEvent:
    phase: str  # "before" or "after"
    op: str  # "create", "write", "fsync", "fsync_dir", "rename", "truncate", "unlink", "read", ...
    label: str  # what the engine is doing: "wal.append", "snapshot.rename", ...
    path: str
    nbytes: int = 0
    data: bytes | None = None  # the bytes, for writes
    target: str | None = None  # the destination, for renames


Hook = Callable[[IOEvent], None]


class FileSystem(Protocol):
    """The primitive operations a disk provides. Handles are opaque to the engine."""

    def create(self, path: str) -> Any: ...  # a new, empty file open for appending; fails if it exists
    def open_append(self, path: str) -> Any: ...
    def write(self, handle: Any, data: bytes) -> None: ...  # all of data, at the end of the file
    def fsync(self, handle: Any) -> None: ...
    def truncate(self, handle: Any, size: int) -> None: ...
    def close(self, handle: Any) -> None: ...
    def fsync_dir(self, path: str) -> None: ...
    def rename(self, src: str, dst: str) -> None: ...  # atomic replace of dst
    def unlink(self, path: str) -> None: ...
    def mkdir(self, path: str) -> None: ...  # with parents; no error if it exists
    def read(self, path: str) -> bytes: ...
    def listdir(self, path: str) -> list[str]: ...
    def is_dir(self, path: str) -> bool: ...
    def lock(self, path: str) -> Any: ...  # exclusive, non-blocking; BlockingIOError if held
    def unlock(self, handle: Any) -> None: ...


class IOLayer:
    """Labelled, hookable access to one `FileSystem`."""

    def __init__(self, fs: FileSystem | None = None):
        self.fs = fs if fs is not None else OsFileSystem()
        self.hooks: list[Hook] = []

    def _step(
        self,
        op: str,
        label: str,
        path: str,
        action: Callable[[], Any],
        *,
        data: bytes | None = None,
        target: str | None = None,
    ) -> Any:
        nbytes = len(data) if data is not None else 0
        for hook in self.hooks:
            hook(IOEvent("before", op, label, path, nbytes, data, target))
        result = action()
        for hook in self.hooks:
            hook(IOEvent("after", op, label, path, nbytes, data, target))
        return result

    # Each method below is the bare call when no hook is registered (the write path's case).

    def create(self, path: str, label: str) -> Any:
        if not self.hooks:
            return self.fs.create(path)
        return self._step("create", label, path, lambda: self.fs.create(path))

    def open_append(self, path: str, label: str) -> Any:
        if not self.hooks:
            return self.fs.open_append(path)
        return self._step("open", label, path, lambda: self.fs.open_append(path))

    def write(self, handle: Any, data: bytes, label: str) -> None:
        if not self.hooks:
            return self.fs.write(handle, data)
        self._step("write", label, handle.path, lambda: self.fs.write(handle, data), data=data)

    def fsync(self, handle: Any, label: str) -> None:
        if not self.hooks:
            return self.fs.fsync(handle)
        self._step("fsync", label, handle.path, lambda: self.fs.fsync(handle))

    def truncate(self, handle: Any, size: int, label: str) -> None:
        if not self.hooks:
            return self.fs.truncate(handle, size)
        self._step("truncate", label, handle.path, lambda: self.fs.truncate(handle, size), target=str(size))

    def close(self, handle: Any, label: str) -> None:
        if not self.hooks:
            return self.fs.close(handle)
        self._step("close", label, handle.path, lambda: self.fs.close(handle))

    def fsync_dir(self, path: str, label: str = "dir.fsync") -> None:
        self._step("fsync_dir", label, path, lambda: self.fs.fsync_dir(path))

    def rename(self, src: str, dst: str, label: str) -> None:
        self._step("rename", label, src, lambda: self.fs.rename(src, dst), target=dst)

    def unlink(self, path: str, label: str) -> None:
        self._step("unlink", label, path, lambda: self.fs.unlink(path))

    def mkdir(self, path: str, label: str) -> None:
        self._step("mkdir", label, path, lambda: self.fs.mkdir(path))

    def read(self, path: str, label: str) -> bytes:
        data: bytes = self._step("read", label, path, lambda: self.fs.read(path))
        return data

    def listdir(self, path: str, label: str) -> list[str]:
        names: list[str] = self._step("listdir", label, path, lambda: self.fs.listdir(path))
        return names

    def is_dir(self, path: str) -> bool:
        return self.fs.is_dir(path)

    def lock(self, path: str, label: str) -> Any:
        return self._step("lock", label, path, lambda: self.fs.lock(path))

    def unlock(self, handle: Any, label: str) -> None:
        self._step("unlock", label, handle.path, lambda: self.fs.unlock(handle))


class OsFile:
    __slots__ = ("fd", "path")

    def __init__(self, fd: int, path: str):
        self.fd = fd
        self.path = path


class OsFileSystem:
    """The real operating system. Writes go straight to the kernel (no user-space buffer)."""

    def create(self, path: str) -> OsFile:
        return OsFile(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_APPEND, 0o644), path)

    def open_append(self, path: str) -> OsFile:
        return OsFile(os.open(path, os.O_WRONLY | os.O_APPEND), path)

    def write(self, handle: OsFile, data: bytes) -> None:
        written = os.write(handle.fd, data)
        if written < len(data):  # a short write (a signal, a full disk): go on from where it stopped
            view = memoryview(data)[written:]
            while view:
                view = view[os.write(handle.fd, view) :]

    def fsync(self, handle: OsFile) -> None:
        os.fsync(handle.fd)

    def truncate(self, handle: OsFile, size: int) -> None:
        os.ftruncate(handle.fd, size)

    def close(self, handle: OsFile) -> None:
        os.close(handle.fd)

    def fsync_dir(self, path: str) -> None:
        fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)

    def rename(self, src: str, dst: str) -> None:
        os.rename(src, dst)

    def unlink(self, path: str) -> None:
        os.unlink(path)

    def mkdir(self, path: str) -> None:
        os.makedirs(path, exist_ok=True)

    def read(self, path: str) -> bytes:
        with open(path, "rb") as f:
            return f.read()

    def listdir(self, path: str) -> list[str]:
        return os.listdir(path)

    def is_dir(self, path: str) -> bool:
        return os.path.isdir(path)

    def lock(self, path: str) -> OsFile:
        # flock locks belong to the open file description, so a second Store in this same
        # process is refused too (POSIX fcntl locks would let it through).
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as exc:
            os.close(fd)
            if exc.errno in (errno.EWOULDBLOCK, errno.EACCES):
                raise BlockingIOError(exc.errno, f"{path} is locked") from exc
            raise
        return OsFile(fd, path)

    def unlock(self, handle: OsFile) -> None:
        fcntl.flock(handle.fd, fcntl.LOCK_UN)
        os.close(handle.fd)
