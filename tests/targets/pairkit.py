"""What the I/O-class target pairs next to this file share: their files, their recovery and their promise.

Every pair is a correct and a broken program doing the same job with the same system calls;
the broken one leaves out or misorders one durability step. Each target is a namespace with
the functions of the target contract (faultinject/program/target.py), loaded as
`tests/targets/MODULE.py:NAME`. Two shapes of data:

- a table of fixed-size records, record n at offset n * SLOT (`record`, `recover_table`);
- a JSON document replaced whole on each save (`saves`, `recover_json`, `check_json`).
"""

import ctypes
import functools
import json
import os
from collections.abc import Callable
from types import SimpleNamespace

OPS = 3  # operations per workload: enough for an acked op to be lost, few enough to stay cheap
TABLE = "table"
DB = "db.json"


def record(n: int) -> bytes:
    """Record n's exact bytes: a torn, zero-filled or missing slot never equals them."""
    return b"record %03d ----\n" % n


SLOT = len(record(0))


def target(workload: Callable, **functions: Callable) -> SimpleNamespace:
    """A target for the table (the default) or, given recover= and check=, for other data."""
    functions.setdefault("recover", recover_table)
    functions.setdefault("check", check_records)
    return SimpleNamespace(workload=workload, **functions)


def create(path: str, name: str, data: bytes = b"") -> None:
    """A file as setup leaves it: durable before the run (setup is not traced)."""
    with open(os.path.join(path, name), "wb") as f:
        f.write(data)


def preallocated_table(path: str) -> None:
    create(path, TABLE, bytes(OPS * SLOT))


def empty_table(path: str) -> None:
    create(path, TABLE)


def recover_table(path: str) -> list[int]:
    """The numbers of the records whole in their slots; a torn, zeroed or missing slot holds none."""
    try:
        with open(os.path.join(path, TABLE), "rb") as f:
            data = f.read()
    except FileNotFoundError:
        return []
    return [n for n in range(len(data) // SLOT) if data[n * SLOT : (n + 1) * SLOT] == record(n)]


def check_records(records: list[int], acked: list[int]) -> None:
    missing = [n for n in acked if n not in records]
    assert not missing, f"lost acked records {missing}"


def each_record(path: str, ack: Callable, write: Callable[[int, int], None], flags: int = os.O_WRONLY) -> None:
    """OPS calls write(fd, n) on the table opened with `flags`, each acked once it returned."""
    fd = os.open(os.path.join(path, TABLE), flags)
    try:
        for n in range(OPS):
            write(fd, n)
            ack(n)
    finally:
        os.close(fd)


def fsync_dir(path: str) -> None:
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def saves(ack: Callable, save: Callable[[bytes], None]) -> None:
    """OPS saves of a growing JSON document, each acked once save returned."""
    data: dict[str, int] = {}
    for i in range(OPS):
        data[f"k{i}"] = i
        save(json.dumps(data).encode())
        ack(f"k{i}")


def recover_json(path: str) -> dict:
    """The saved document; none saved yet is {}. A torn or empty file raises (integrity)."""
    try:
        with open(os.path.join(path, DB), "rb") as f:
            return json.loads(f.read())
    except FileNotFoundError:
        return {}


def check_json(state: dict, acked: list[str]) -> None:
    missing = [key for key in acked if key not in state]
    assert not missing, f"lost acked keys {missing}"
    assert state == {f"k{i}": i for i in range(len(state))}, f"not one of the saves: {state}"


def write_new(path: str, name: str, data: bytes, *, sync: bool, dir_fd: int | None = None) -> None:
    """Create or truncate `name`, write `data`, fsync it when `sync`."""
    fd = os.open(
        name if dir_fd is not None else os.path.join(path, name),
        os.O_WRONLY | os.O_CREAT | os.O_TRUNC,
        0o644,
        dir_fd=dir_fd,
    )
    try:
        os.write(fd, data)
        if sync:
            os.fsync(fd)
    finally:
        os.close(fd)


SYNC_FILE_RANGE_WAIT_BEFORE, SYNC_FILE_RANGE_WRITE, SYNC_FILE_RANGE_WAIT_AFTER = 1, 2, 4  # <fcntl.h>
RENAME_EXCHANGE = 2  # <linux/fs.h>
AT_FDCWD = -100


@functools.cache
def libc() -> ctypes.CDLL:
    """libc, for the calls Python's os module does not offer. Loaded by the first target that needs
    it, so that the interposer is blind (ctypes) for those targets only and judges the others."""
    loaded = ctypes.CDLL(None, use_errno=True)
    loaded.sync_file_range.argtypes = [ctypes.c_int, ctypes.c_int64, ctypes.c_int64, ctypes.c_uint]
    loaded.syncfs.argtypes = [ctypes.c_int]
    loaded.renameat2.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p, ctypes.c_uint]
    return loaded


def libc_call(name: str, *args: int | bytes) -> None:
    """libc's `name`(*args); OSError with errno when it returns -1."""
    if getattr(libc(), name)(*args) == -1:
        errno = ctypes.get_errno()
        raise OSError(errno, f"{name}: {os.strerror(errno)}")
