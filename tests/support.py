"""Shared test helpers: a controllable clock, and ways to damage files the way crashes do."""

from __future__ import annotations

import os
from pathlib import Path


class FakeClock:
    """A clock that moves only when told to, so TTL tests never sleep."""

    def __init__(self, start: float = 1_700_000_000.0):
        self.now = start

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


def files(directory: Path, prefix: str) -> list[Path]:
    return sorted(p for p in Path(directory).iterdir() if p.name.startswith(prefix) and not p.name.endswith(".tmp"))


def newest_segment(directory: Path) -> Path:
    return files(directory, "wal-")[-1]


def record_offsets(segment: Path) -> list[int]:
    """Byte offset of each record line (after the header) in a segment; a torn last line counts."""
    data = segment.read_bytes()
    offsets, pos = [], data.index(b"\n") + 1
    while pos < len(data):
        offsets.append(pos)
        pos = data.find(b"\n", pos) + 1 or len(data)
    return offsets


def truncate_to(path: Path, size: int) -> None:
    with open(path, "r+b") as f:
        f.truncate(size)


def flip_byte(path: Path, offset: int) -> None:
    data = bytearray(path.read_bytes())
    data[offset] ^= 0x01
    path.write_bytes(bytes(data))


def copy_dir(src: Path, dst: Path) -> Path:
    dst.mkdir(parents=True, exist_ok=True)
    for p in Path(src).iterdir():
        if p.name != "LOCK":
            (dst / p.name).write_bytes(p.read_bytes())
    return dst


def listing(directory: Path) -> list[str]:
    return sorted(n for n in os.listdir(directory) if n != "LOCK")


def abandon(store) -> None:
    """Leave a Store the way SIGKILL leaves a process: the kernel closes its file descriptors
    (which releases the directory's flock) and no code of the store runs again. The engine
    writes straight to the kernel, so no user-space buffer is lost; what was written stays."""
    if store._reaper is not None:
        store._reaper.stop()  # a killed process's threads die with it
    store._closed = True  # the object lingers in this process; make sure nothing uses it
    os.close(store._wal.handle.fd)
    os.close(store._lock_handle.fd)


# A program that rewrites one file in place, unsynced, acking each write: a power loss after some
# steps loses an acked write, at some crash points and not others (program report and shard tests).
REWRITE_IN_PLACE_TARGET = """
import os

def workload(path, ack):
    for n in range(4):
        with open(os.path.join(path, "f"), "w") as f:
            f.write(str(n))
        ack(n)

def recover(path):
    name = os.path.join(path, "f")
    return open(name).read() if os.path.exists(name) else ""

def check(state, acked):
    assert not acked or state == str(acked[-1]), f"lost write {acked[-1]}"
"""
