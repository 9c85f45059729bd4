"""The interposer's `os` functions: each call that changes a traced file or directory is a step.

Each wrapper passes straight through when no session is armed (the common case, and the only
one outside a traced run), and for paths outside the session's directory.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Callable

from tornwrite.faultinject.program.interposer import (
    INTERPOSER,
    REAL,
    abspath,
    fd_path,
    followed,
    opening_step,
    record_truncate,
    record_write,
)


def _fileno(fd) -> int:
    return fd if isinstance(fd, int) else fd.fileno()


def _open(path, flags, mode=0o777, *, dir_fd=None):
    if INTERPOSER.session is None:
        return REAL["open"](path, flags, mode, dir_fd=dir_fd)
    if dir_fd is not None:
        INTERPOSER.untraced("os.open")
        return REAL["open"](path, flags, mode, dir_fd=dir_fd)
    found = opening_step("os.open", abspath(path), flags)
    if found is None:
        return REAL["open"](path, flags, mode)
    op, where, call = found
    return INTERPOSER.step(where, op, lambda: REAL["open"](path, flags, mode), lambda _: {"call": call})


def _write(fd, data):
    return record_write("os.write", fd, lambda: REAL["write"](fd, data), lambda n: bytes(data[:n]))


def _pwrite(fd, data, offset):
    return record_write("os.pwrite", fd, lambda: REAL["pwrite"](fd, data, offset), lambda n: bytes(data[:n]), offset)


def _writev(fd, buffers):
    buffers = list(buffers)
    return record_write("os.writev", fd, lambda: REAL["writev"](fd, buffers), lambda n: b"".join(buffers)[:n])


def _sendfile(out_fd, in_fd, offset, count, *args, **kwargs):
    start = offset if offset is not None else os.lseek(in_fd, 0, os.SEEK_CUR)
    return record_write(
        "os.sendfile",
        out_fd,
        lambda: REAL["sendfile"](out_fd, in_fd, offset, count, *args, **kwargs),
        lambda n: os.pread(in_fd, n, start),
    )


def _ftruncate(fd, length):
    where = INTERPOSER.scope(fd_path(fd)) if INTERPOSER.session is not None else None
    if where is None:
        return REAL["ftruncate"](fd, length)
    return record_truncate("os.ftruncate", where, length, lambda: REAL["ftruncate"](fd, length))


def _truncate(path, length):
    if INTERPOSER.session is None:
        return REAL["truncate"](path, length)
    where = INTERPOSER.scope(fd_path(path) if isinstance(path, int) else followed(abspath(path)))
    if where is None:
        return REAL["truncate"](path, length)
    return record_truncate("os.truncate", where, length, lambda: REAL["truncate"](path, length))


def _syncer(name: str):
    def sync(fd):
        if INTERPOSER.session is None:
            return REAL[name](fd)
        number = _fileno(fd)
        where = INTERPOSER.scope(fd_path(number))
        if where is None:
            return REAL[name](fd)
        is_dir = stat.S_ISDIR(os.fstat(number).st_mode)
        return INTERPOSER.step(
            where,
            "fsync_dir" if is_dir else "fsync",
            lambda: REAL[name](fd),
            lambda _: {"call": f"os.{name} {where[1]}"},
        )

    sync.__name__ = name
    return sync


def _mover(name: str):
    def move(src, dst, *, src_dir_fd=None, dst_dir_fd=None):
        if INTERPOSER.session is None:
            return REAL[name](src, dst, src_dir_fd=src_dir_fd, dst_dir_fd=dst_dir_fd)
        if src_dir_fd is not None or dst_dir_fd is not None:
            INTERPOSER.untraced(f"os.{name}")
            return REAL[name](src, dst, src_dir_fd=src_dir_fd, dst_dir_fd=dst_dir_fd)
        where = INTERPOSER.scope(abspath(src))
        target = INTERPOSER.scope(abspath(dst))
        if where is None or target is None:
            return REAL[name](src, dst)
        call = f"os.{name} {where[1]} -> {target[1]}"
        return INTERPOSER.step(
            where, "rename", lambda: REAL[name](src, dst), lambda _: {"call": call, "target": target[1]}
        )

    move.__name__ = name
    return move


def _path_step(name: str, op: str):
    def change(path, *args, dir_fd=None, **kwargs):
        if INTERPOSER.session is None:
            return REAL[name](path, *args, dir_fd=dir_fd, **kwargs)
        if dir_fd is not None:
            INTERPOSER.untraced(f"os.{name}")
            return REAL[name](path, *args, dir_fd=dir_fd, **kwargs)
        where = INTERPOSER.scope(abspath(path))
        if where is None:
            return REAL[name](path, *args, **kwargs)
        return INTERPOSER.step(
            where, op, lambda: REAL[name](path, *args, **kwargs), lambda _: {"call": f"os.{name} {where[1]}"}
        )

    change.__name__ = name
    return change


def _link(src, dst, *, src_dir_fd=None, dst_dir_fd=None, follow_symlinks=True):
    where, target = INTERPOSER.scope(abspath(src)), INTERPOSER.scope(abspath(dst))
    if src_dir_fd is not None or dst_dir_fd is not None or where is None or target is None:
        return REAL["link"](src, dst, src_dir_fd=src_dir_fd, dst_dir_fd=dst_dir_fd, follow_symlinks=follow_symlinks)
    call = f"os.link {where[1]} -> {target[1]}"
    return INTERPOSER.step(where, "link", lambda: REAL["link"](src, dst), lambda _: {"call": call, "target": target[1]})


def _symlink(src, dst, target_is_directory=False, *, dir_fd=None):
    """A symbolic link in the traced directory: a step holding the path as given (never resolved)."""
    if INTERPOSER.session is None:
        return REAL["symlink"](src, dst, target_is_directory, dir_fd=dir_fd)
    if dir_fd is not None:
        INTERPOSER.untraced("os.symlink")
        return REAL["symlink"](src, dst, target_is_directory, dir_fd=dir_fd)
    where = INTERPOSER.scope(abspath(dst))
    if where is None:
        return REAL["symlink"](src, dst, target_is_directory)
    held = os.fsdecode(src)
    return INTERPOSER.step(
        where,
        "symlink",
        lambda: REAL["symlink"](src, dst, target_is_directory),
        lambda _: {"call": f"os.symlink {where[1]} -> {held}", "target": held},
    )


WRAPPERS: dict[str, Callable] = {
    "open": _open,
    "write": _write,
    "pwrite": _pwrite,
    "writev": _writev,
    "sendfile": _sendfile,
    "ftruncate": _ftruncate,
    "truncate": _truncate,
    "fsync": _syncer("fsync"),
    "fdatasync": _syncer("fdatasync"),
    "rename": _mover("rename"),
    "replace": _mover("replace"),
    "unlink": _path_step("unlink", "unlink"),
    "remove": _path_step("remove", "unlink"),
    "mkdir": _path_step("mkdir", "mkdir"),
    "rmdir": _path_step("rmdir", "rmdir"),
    "link": _link,
    "symlink": _symlink,
}
