"""The bug zoo: known crash-consistency bugs, applied to the engine from outside it.

Each mutant patches one engine method for as long as it is active (the engine carries no bug
switches). A harness that passes the real engine but cannot fail a mutant proves nothing;
`make mutants` runs the campaign against each one and expects every one caught.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from typing import Callable, Iterator

from engine import io as engine_io
from engine import store as engine_store
from engine import wal as engine_wal


@dataclass(frozen=True)
class Mutant:
    name: str
    bug: str  # what the broken engine does
    breaks: str  # the invariant it violates
    caught_by: str  # the fault kind expected to catch it, and why
    patches: Callable[[], list[tuple[object, str, object]]]  # (owner, attribute, replacement)


def _wal_append_without_fsync() -> list:
    def append(self, line: bytes) -> None:
        self.io.write(self.handle, line, "wal.append")  # ... and no fsync: acked from the page cache

    return [(engine_wal.Wal, "append", append)]


def _memory_before_wal() -> list:
    real_commit = engine_store.Store._commit

    def commit(self, op: str, args: tuple) -> None:
        self._ks.apply_record(op, args)  # visible to readers before the record is durable
        lsn = self._next_lsn
        self._wal.append(engine_store.encode_record(lsn, op, args))
        self._next_lsn = lsn + 1

    assert real_commit is not commit
    return [(engine_store.Store, "_commit", commit)]


def _snapshot_rename_without_dir_fsync() -> list:
    real_rename, real_fsync_dir = engine_io.IOLayer.rename, engine_io.IOLayer.fsync_dir

    def rename(self, src: str, dst: str, label: str) -> None:
        real_rename(self, src, dst, label)
        self._skip_next_dir_fsync = label == "snapshot.rename"

    def fsync_dir(self, path: str, label: str = "dir.fsync") -> None:
        if getattr(self, "_skip_next_dir_fsync", False):
            self._skip_next_dir_fsync = False  # the rename may still be only in the page cache
            return
        real_fsync_dir(self, path, label)

    return [(engine_io.IOLayer, "rename", rename), (engine_io.IOLayer, "fsync_dir", fsync_dir)]


MUTANTS = {m.name: m for m in (
    Mutant("wal-append-no-fsync", "WAL append writes the record but skips its fsync",
           "a write is durable before it is acknowledged",
           "power: the acked record is only in the page cache, which a power loss drops; a process "
           "crash keeps the page cache, so the process kind cannot see it", _wal_append_without_fsync),
    Mutant("memory-before-wal", "the mutation is applied in memory before its record is written",
           "WAL precedes memory mutation",
           "process: the observer reads the new value, then the crash lands before the record is written",
           _memory_before_wal),
    Mutant("snapshot-rename-no-dir-fsync", "the snapshot is renamed into place but the directory is "
           "not fsynced before the WAL segments it covers are deleted",
           "memory state == snapshot + WAL replay after a power loss",
           "power: the rename may be lost while the segment deletions persist, losing acked writes",
           _snapshot_rename_without_dir_fsync),
)}


@contextlib.contextmanager
def active(name: str | None) -> Iterator[Mutant | None]:
    """Apply mutant `name` (None: the real engine) for the duration of the block."""
    if name is None:
        yield None
        return
    if name not in MUTANTS:
        raise ValueError(f"unknown mutant {name!r}; choose from {', '.join(MUTANTS)}")
    mutant = MUTANTS[name]
    saved = []
    for owner, attribute, replacement in mutant.patches():
        saved.append((owner, attribute, owner.__dict__[attribute]))
        setattr(owner, attribute, replacement)
    try:
        yield mutant
    finally:
        for owner, attribute, original in reversed(saved):
            setattr(owner, attribute, original)
