"""`open`, `io.open` and `io.FileIO` for the interposer: the raw file records, the buffers stay C.

Python's own `open` builds a C FileIO whose writes go straight to write(2), out of reach of a
patched `os.write`. So `traced_open` builds the same stack as `io.open` (TextIOWrapper over a
Buffered* over a raw file) with `TracedFileIO` as the raw file: the C buffers call its `write`
and `truncate` only when they flush, so the trace holds what reached the kernel, not what sits
in a buffer. Files outside the interposer's base directory get the real `io.open`, untouched.
"""

from __future__ import annotations

import abc
import io
import os

from tornwrite.faultinject.program.interposer import (
    INTERPOSER,
    REAL_FILEIO,
    REAL_OPEN,
    abspath,
    fd_path,
    opening_step,
    record_truncate,
    record_write,
)

_MODE_FLAGS = {"r": 0, "w": os.O_CREAT | os.O_TRUNC, "a": os.O_CREAT | os.O_APPEND, "x": os.O_CREAT | os.O_EXCL}


class _FileIOType(abc.ABCMeta):  # ABCMeta: what typeshed declares for io's classes
    def __instancecheck__(cls, instance: object) -> bool:
        # `io.FileIO` is this class while the interposer is installed: the C FileIOs that
        # io.open builds elsewhere must still pass `isinstance(f, io.FileIO)`.
        return isinstance(instance, REAL_FILEIO)


class TracedFileIO(REAL_FILEIO, metaclass=_FileIOType):
    """io.FileIO whose creates, truncates and writes in the traced directory are trace steps."""

    def __init__(self, file, mode="r", closefd=True, opener=None, *, _func="io.FileIO"):
        if isinstance(file, int) or opener is not None:
            # Already open, or opened by `opener`, whose os.open records any create itself.
            super().__init__(file, mode, closefd, opener=opener)
            return
        flags = _MODE_FLAGS.get(mode.strip("b+t")[:1], 0) | (os.O_RDWR if "+" in mode else os.O_WRONLY)
        found = opening_step(f"{_func}({mode!r})", abspath(file), flags) if mode.strip("b+t")[:1] != "r" else None
        if found is None:
            super().__init__(file, mode, closefd)
            return
        op, where, call = found
        INTERPOSER.step(
            where, op, lambda: super(TracedFileIO, self).__init__(file, mode, closefd), lambda _: {"call": call}
        )

    def write(self, data):
        return record_write(
            "file.write", self.fileno(), lambda: super(TracedFileIO, self).write(data), lambda n: bytes(data)[:n]
        )

    def truncate(self, size=None):
        size = self.tell() if size is None else size
        where = INTERPOSER.scope(fd_path(self.fileno()))
        if where is None:
            return super().truncate(size)
        return record_truncate("file.truncate", where, size, lambda: super(TracedFileIO, self).truncate(size))


def _traced(file) -> bool:
    base = INTERPOSER.base
    if base is None:
        return False
    try:
        path = fd_path(file) if isinstance(file, int) else abspath(file)
    except TypeError:
        return False
    return path is not None and (path == base or path.startswith(base + os.sep))


def traced_open(file, mode="r", buffering=-1, encoding=None, errors=None, newline=None, closefd=True, opener=None):
    """io.open, with a TracedFileIO underneath for files under the interposer's base."""
    if not _traced(file):
        return REAL_OPEN(file, mode, buffering, encoding, errors, newline, closefd, opener)
    modes = set(mode)
    if modes - set("axrwb+t") or len(mode) > len(modes) or sum(c in modes for c in "axrw") != 1:
        raise ValueError(f"invalid mode: {mode!r}")
    binary = "b" in modes
    if binary and (encoding is not None or errors is not None or newline is not None):
        raise ValueError("binary mode doesn't take an encoding, errors or newline argument")
    raw_mode = "".join(c for c in "xrwa" if c in modes) + ("+" if "+" in modes else "")
    raw = TracedFileIO(file, raw_mode, closefd, opener=opener, _func="open")
    result: io.IOBase = raw
    try:
        line_buffering = buffering == 1 or (buffering < 0 and raw.isatty())
        if buffering == 1 or buffering < 0:
            block = os.fstat(raw.fileno()).st_blksize
            buffering = block if block > 1 else io.DEFAULT_BUFFER_SIZE
        if buffering == 0:
            if binary:
                return raw
            raise ValueError("can't have unbuffered text I/O")
        if "+" in modes:
            buffer: io.IOBase = io.BufferedRandom(raw, buffering)
        elif "r" in modes:
            buffer = io.BufferedReader(raw, buffering)
        else:
            buffer = io.BufferedWriter(raw, buffering)
        result = buffer
        if binary:
            return buffer
        text = io.TextIOWrapper(buffer, io.text_encoding(encoding), errors, newline, line_buffering)
        result = text
        text.mode = mode
        return text
    except BaseException:
        result.close()
        raise
