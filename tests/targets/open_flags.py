"""Open flags: O_SYNC and O_APPEND, O_TRUNC. Each correct target has a broken twin.

- o_sync_append_ok: a log opened O_APPEND | O_SYNC, never fsynced. Each write returns once its
  data and the file's size are durable (open(2): O_SYNC), so an acked record survives power loss.
- o_append_broken: the same log without O_SYNC: acked appends sit in the page cache; a power
  loss drops them (durability, power only).
- o_trunc_temp_ok: O_CREAT | O_TRUNC on a temp file, fsync, rename, fsync of the directory:
  the truncation only ever empties a file no one reads.
- o_trunc_in_place_broken: O_TRUNC on the live file itself, then write and fsync: between the
  open and the write the file is empty, so even a process kill there loses every acked key
  (integrity: an empty document).
"""

import os

from pairkit import DB, check_json, each_record, empty_table, fsync_dir, record, recover_json, saves, target


def append(fd: int, n: int) -> None:
    os.write(fd, record(n))


o_sync_append_ok = target(
    lambda path, ack: each_record(path, ack, append, os.O_WRONLY | os.O_APPEND | os.O_SYNC), setup=empty_table
)
o_append_broken = target(lambda path, ack: each_record(path, ack, append, os.O_WRONLY | os.O_APPEND), setup=empty_table)


def replace_workload(path, ack):
    def save(data: bytes) -> None:
        fd = os.open(os.path.join(path, DB + ".tmp"), os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
        try:
            os.write(fd, data)
            os.fsync(fd)
        finally:
            os.close(fd)
        os.rename(os.path.join(path, DB + ".tmp"), os.path.join(path, DB))
        fsync_dir(path)

    saves(ack, save)


def in_place_workload(path, ack):
    def save(data: bytes) -> None:
        # BROKEN: O_TRUNC empties the live file until the write below
        fd = os.open(os.path.join(path, DB), os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
        try:
            os.write(fd, data)
            os.fsync(fd)
        finally:
            os.close(fd)
        fsync_dir(path)

    saves(ack, save)


o_trunc_temp_ok = target(replace_workload, recover=recover_json, check=check_json)
o_trunc_in_place_broken = target(in_place_workload, recover=recover_json, check=check_json)
