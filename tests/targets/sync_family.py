"""The sync family: fsync, fdatasync, sync_file_range, sync, syncfs, msync, after a write into a table.

Every pair overwrites slot n of a preallocated table (setup: durable zeros) with pwrite, then
makes it durable with one call of the family before the ack. The broken twins:

- fsync, fdatasync, sync, syncfs: the same call made *before* the write instead of after it,
  so each record is durable only once the next op syncs: the last acked record of any prefix
  is lost on power loss (durability, power only).
- sync_file_range: used alone. It starts and waits for writeback of the range but writes no
  metadata and flushes no disk cache; its man page says it gives no data-integrity guarantee.
  Correct use follows it with fdatasync (sync_file_range_ok).

- msync: the record stored into a shared writable mapping of the table, then flushed with
  msync(MS_SYNC) before the ack; broken: no flush, so the record is durable only when the kernel
  writes the page back. Stores to a mapping are no system calls, so no trace sees them: both
  twins get no verdict (3), never a pass or a failure the harness cannot stand behind. A real kill
  cannot catch the broken one (the page cache survives it); only a power loss can.

The table exists and keeps its size before the run, so fdatasync (data, and only the metadata
needed to read it) suffices here; sync and syncfs cover the table's file system as a whole.
"""

import mmap
import os
from collections.abc import Callable

from pairkit import (
    SLOT,
    SYNC_FILE_RANGE_WAIT_AFTER,
    SYNC_FILE_RANGE_WAIT_BEFORE,
    SYNC_FILE_RANGE_WRITE,
    each_record,
    libc_call,
    preallocated_table,
    record,
    target,
)


def pair(sync: Callable[[int, int], None]):
    """(correct, broken): pwrite then sync(fd, n) before the ack, or sync(fd, n) before the pwrite."""

    def write_then_sync(fd: int, n: int) -> None:
        os.pwrite(fd, record(n), n * SLOT)
        sync(fd, n)

    def sync_then_write(fd: int, n: int) -> None:
        sync(fd, n)  # BROKEN: syncs the previous record, not this one
        os.pwrite(fd, record(n), n * SLOT)

    return (
        target(lambda path, ack: each_record(path, ack, write_then_sync), setup=preallocated_table),
        target(lambda path, ack: each_record(path, ack, sync_then_write), setup=preallocated_table),
    )


def write_back(fd: int, n: int) -> None:
    flags = SYNC_FILE_RANGE_WAIT_BEFORE | SYNC_FILE_RANGE_WRITE | SYNC_FILE_RANGE_WAIT_AFTER
    libc_call("sync_file_range", fd, n * SLOT, SLOT, flags)


def write_back_then_fdatasync(fd: int, n: int) -> None:
    write_back(fd, n)
    os.fdatasync(fd)  # what makes it durable: sync_file_range only started the writeback early


def write_back_only(path, ack):
    def write(fd: int, n: int) -> None:
        os.pwrite(fd, record(n), n * SLOT)
        write_back(fd, n)  # BROKEN: no metadata, no disk cache flush: no durability promise

    each_record(path, ack, write)


fsync_ok, fsync_broken = pair(lambda fd, n: os.fsync(fd))
fdatasync_ok, fdatasync_broken = pair(lambda fd, n: os.fdatasync(fd))
sync_ok, sync_broken = pair(lambda fd, n: os.sync())
syncfs_ok, syncfs_broken = pair(lambda fd, n: libc_call("syncfs", fd))
sync_file_range_ok = pair(write_back_then_fdatasync)[0]
sync_file_range_broken = target(write_back_only, setup=preallocated_table)


def mapped(flush: bool):
    """Each record stored into a shared writable mapping of the table; msync'd before the ack."""

    def store(fd: int, n: int) -> None:
        with mmap.mmap(fd, 0) as table:
            table[n * SLOT : (n + 1) * SLOT] = record(n)
            if flush:
                table.flush()  # msync(MS_SYNC) of the mapping

    return target(lambda path, ack: each_record(path, ack, store, os.O_RDWR), setup=preallocated_table)


msync_ok = mapped(flush=True)
msync_broken = mapped(flush=False)  # BROKEN: nothing makes the store durable before the ack
