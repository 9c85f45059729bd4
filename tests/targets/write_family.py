"""The write family: write, pwrite, writev, pwritev, sendfile, copy_file_range, each into a table.

Every pair writes record n into slot n of a preallocated table (setup: durable zeros) with
one call of its family. The correct target fsyncs before the ack; the broken twin does not,
so a power loss drops an acked record (durability, power only: a killed process loses nothing
the kernel holds). A record torn in flight is never whole, so recover_table counts it as absent,
and it was not acked yet. sendfile and copy_file_range copy the record from a source file that
setup wrote with every record at its slot.
"""

import os
from collections.abc import Callable

from pairkit import OPS, SLOT, create, each_record, preallocated_table, record, target

SOURCE = "source"


def setup_with_source(path: str) -> None:
    preallocated_table(path)
    create(path, SOURCE, b"".join(record(n) for n in range(OPS)))


def pair(write: Callable[[str, int, int], None], setup=preallocated_table):
    """(correct, broken): `write(path, fd, n)` then fsync before the ack, or no fsync at all."""

    def synced(path, ack):
        def write_and_sync(fd: int, n: int) -> None:
            write(path, fd, n)
            os.fsync(fd)

        each_record(path, ack, write_and_sync)

    def unsynced(path, ack):
        each_record(path, ack, lambda fd, n: write(path, fd, n))  # BROKEN: acked before it is durable

    return target(synced, setup=setup), target(unsynced, setup=setup)


def complete(call: str, written: int) -> None:
    if written != SLOT:  # regular files do not return short counts; a short one here is a bug in the target
        raise OSError(f"{call} wrote {written} of {SLOT} bytes")


def by_write(path: str, fd: int, n: int) -> None:
    os.lseek(fd, n * SLOT, os.SEEK_SET)
    complete("write", os.write(fd, record(n)))


def by_pwrite(path: str, fd: int, n: int) -> None:
    complete("pwrite", os.pwrite(fd, record(n), n * SLOT))


def by_writev(path: str, fd: int, n: int) -> None:
    os.lseek(fd, n * SLOT, os.SEEK_SET)
    complete("writev", os.writev(fd, [record(n)[:7], record(n)[7:]]))


def by_pwritev(path: str, fd: int, n: int) -> None:
    complete("pwritev", os.pwritev(fd, [record(n)[:7], record(n)[7:]], n * SLOT))


def by_sendfile(path: str, fd: int, n: int) -> None:
    source = os.open(os.path.join(path, SOURCE), os.O_RDONLY)
    try:
        os.lseek(fd, n * SLOT, os.SEEK_SET)
        complete("sendfile", os.sendfile(fd, source, n * SLOT, SLOT))
    finally:
        os.close(source)


def by_copy_file_range(path: str, fd: int, n: int) -> None:
    source = os.open(os.path.join(path, SOURCE), os.O_RDONLY)
    try:
        complete("copy_file_range", os.copy_file_range(source, fd, SLOT, n * SLOT, n * SLOT))
    finally:
        os.close(source)


write_ok, write_broken = pair(by_write)
pwrite_ok, pwrite_broken = pair(by_pwrite)
writev_ok, writev_broken = pair(by_writev)
pwritev_ok, pwritev_broken = pair(by_pwritev)
sendfile_ok, sendfile_broken = pair(by_sendfile, setup_with_source)
copy_file_range_ok, copy_file_range_broken = pair(by_copy_file_range, setup_with_source)
