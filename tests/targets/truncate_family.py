"""The truncate family: ftruncate, truncate and fallocate, growing or cutting a table.

- ftruncate_ok / truncate_ok: grow the table by one slot (zeros), write the record into it,
  fsync, ack. A power loss before the fsync may keep the growth, the record, both or neither;
  a zeroed or torn slot holds no record, and that record was not acked yet.
- ftruncate_broken / truncate_broken: rewrite the whole table on each op: cut it to 0, write
  every record so far, fsync. Between the cut and the writes the acked records are gone:
  a process kill there loses them (durability, process and power).
- fallocate_ok: reserve the slot with posix_fallocate, write the record, fsync, ack.
- fallocate_broken: the same without the fsync: the acked record and the growth are lost on
  power loss (durability, power only).
"""

import os
from collections.abc import Callable

from pairkit import SLOT, TABLE, each_record, empty_table, record, target


def growing(grow: Callable[[str, int, int], None]):
    """A target that makes room for record n with grow(path, fd, n), writes it and fsyncs (when `sync`)."""

    def make(sync: bool):
        def workload(path, ack):
            def write(fd: int, n: int) -> None:
                grow(path, fd, n)
                os.pwrite(fd, record(n), n * SLOT)
                if sync:
                    os.fsync(fd)

            each_record(path, ack, write)

        return target(workload, setup=empty_table)

    return make


def rewriting(cut: Callable[[str, int], None]):
    """A target that cuts the table to 0 with cut(path, fd), then writes every record so far and fsyncs."""

    def workload(path, ack):
        def write(fd: int, n: int) -> None:
            cut(path, fd)  # BROKEN: the acked records are gone until the writes below
            os.lseek(fd, 0, os.SEEK_SET)
            os.write(fd, b"".join(record(m) for m in range(n + 1)))
            os.fsync(fd)

        each_record(path, ack, write)

    return target(workload, setup=empty_table)


def by_ftruncate(path: str, fd: int, n: int) -> None:
    os.ftruncate(fd, (n + 1) * SLOT)


def by_truncate(path: str, fd: int, n: int) -> None:
    os.truncate(os.path.join(path, TABLE), (n + 1) * SLOT)


def by_fallocate(path: str, fd: int, n: int) -> None:
    os.posix_fallocate(fd, n * SLOT, SLOT)


ftruncate_ok = growing(by_ftruncate)(sync=True)
ftruncate_broken = rewriting(lambda path, fd: os.ftruncate(fd, 0))
truncate_ok = growing(by_truncate)(sync=True)
truncate_broken = rewriting(lambda path, fd: os.truncate(os.path.join(path, TABLE), 0))
fallocate_ok = growing(by_fallocate)(sync=True)
fallocate_broken = growing(by_fallocate)(sync=False)  # BROKEN: acked before it is durable
