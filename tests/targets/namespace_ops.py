"""Namespace operations: rename, renameat2, unlink, mkdir, rmdir, link, symlink.

A directory entry created, renamed or removed is durable only once its directory is fsynced
(fsync(2): "an explicit fsync() on a file descriptor for the directory is also needed"). Each
correct target fsyncs the directory before the ack; its broken twin does not, or (symlink)
replaces the name in two steps, so that a process kill between them loses it.

- rename: the atomic-replace recipe; broken: no directory fsync (the acked save is lost).
- renameat2: the same with RENAME_EXCHANGE, swapping the new file with the live one (the
  swap is atomic, so a crash keeps both names or neither); broken: no directory fsync, so the
  acked swap may be lost, and the next save then truncates and rewrites, as its temp file, the
  file a lost swap left live (lost acked saves, and an unreadable document).
- unlink: jobs removed once done, the removal acked; broken: the removed job comes back.
- mkdir: each record in a new directory of its own; the parent is fsynced so that the new
  directory's entry is durable, and the new directory so that the record's entry in it is;
  broken: the second fsync is missing (mkdir_broken), or the first (mkdir_parent_broken: a power
  loss takes the whole new directory, record included).
- rmdir: empty directories removed, the removal acked; broken: no fsync of the parent, so a
  power loss brings an acked removal back (a process kill cannot: the kernel keeps it).
- link: a record published by link(temp, name); broken: no directory fsync.
- symlink: a `current` symlink names the newest version, replaced by rename; broken: the old
  link is unlinked before the new one is made, so a process kill or a power loss between the
  two leaves no `current` at all, after a version was acked.
"""

import os
from collections.abc import Callable

from pairkit import (
    AT_FDCWD,
    DB,
    OPS,
    RENAME_EXCHANGE,
    check_json,
    create,
    fsync_dir,
    libc_call,
    record,
    recover_json,
    saves,
    target,
    write_new,
)


def replacing(rename: Callable[[str, str], None], sync_dir: bool, setup=None):
    def workload(path, ack):
        def save(data: bytes) -> None:
            write_new(path, DB + ".tmp", data, sync=True)
            rename(os.path.join(path, DB + ".tmp"), os.path.join(path, DB))
            if sync_dir:
                fsync_dir(path)

        saves(ack, save)

    functions = {"setup": setup} if setup else {}
    return target(workload, recover=recover_json, check=check_json, **functions)


def exchange(temp: str, live: str) -> None:
    libc_call("renameat2", AT_FDCWD, temp.encode(), AT_FDCWD, live.encode(), RENAME_EXCHANGE)


def empty_document(path: str) -> None:
    create(path, DB, b"{}")  # RENAME_EXCHANGE needs both names to exist


rename_ok = replacing(os.rename, sync_dir=True)
rename_broken = replacing(os.rename, sync_dir=False)
renameat2_ok = replacing(exchange, sync_dir=True, setup=empty_document)
renameat2_broken = replacing(exchange, sync_dir=False, setup=empty_document)


def present(path: str, prefix: str) -> list[int]:
    """The numbers n of the entries named prefix + n in `path`."""
    return sorted(int(name[len(prefix) :]) for name in os.listdir(path) if name.startswith(prefix))


def check_removed(remaining: list[int], acked: list[int]) -> None:
    back = [n for n in acked if n in remaining]
    assert not back, f"lost acked removals: {back} came back"


def removing(remove: Callable[[str], None], prefix: str, make: Callable[[str], None], sync_dir: bool):
    def setup(path):
        for n in range(OPS):
            make(os.path.join(path, f"{prefix}{n}"))

    def workload(path, ack):
        for n in range(OPS):
            remove(os.path.join(path, f"{prefix}{n}"))
            if sync_dir:
                fsync_dir(path)
            ack(n)

    return target(workload, setup=setup, recover=lambda path: present(path, prefix), check=check_removed)


def make_job(name: str) -> None:
    with open(name, "wb") as f:
        f.write(b"job\n")


unlink_ok = removing(os.unlink, "job", make_job, sync_dir=True)
unlink_broken = removing(os.unlink, "job", make_job, sync_dir=False)
rmdir_ok = removing(os.rmdir, "d", os.mkdir, sync_dir=True)
rmdir_broken = removing(os.rmdir, "d", os.mkdir, sync_dir=False)


def recover_published(path: str, where: Callable[[str, int], str]) -> list[int]:
    """The numbers n whose record is whole at where(path, n)."""
    found = []
    for n in range(OPS):
        try:
            with open(where(path, n), "rb") as f:
                if f.read() == record(n):
                    found.append(n)
        except FileNotFoundError:
            pass
    return found


def check_published(found: list[int], acked: list[int]) -> None:
    missing = [n for n in acked if n not in found]
    assert not missing, f"lost acked records {missing}"


def in_directories(sync_new_dir: bool, sync_parent: bool = True):
    def workload(path, ack):
        for n in range(OPS):
            os.mkdir(os.path.join(path, f"d{n}"))
            if sync_parent:
                fsync_dir(path)  # the new directory's own entry
            write_new(os.path.join(path, f"d{n}"), "data", record(n), sync=True)
            if sync_new_dir:
                fsync_dir(os.path.join(path, f"d{n}"))  # the entry of `data` in the new directory
            ack(n)

    where = lambda path, n: os.path.join(path, f"d{n}", "data")  # noqa: E731
    return target(workload, recover=lambda path: recover_published(path, where), check=check_published)


mkdir_ok = in_directories(sync_new_dir=True)
mkdir_broken = in_directories(sync_new_dir=False)
mkdir_parent_broken = in_directories(sync_new_dir=True, sync_parent=False)


def linking(sync_dir: bool):
    def workload(path, ack):
        for n in range(OPS):
            write_new(path, "tmp", record(n), sync=True)
            os.link(os.path.join(path, "tmp"), os.path.join(path, f"r{n}"))
            if sync_dir:
                fsync_dir(path)
            os.unlink(os.path.join(path, "tmp"))
            ack(n)

    where = lambda path, n: os.path.join(path, f"r{n}")  # noqa: E731
    return target(workload, recover=lambda path: recover_published(path, where), check=check_published)


link_ok = linking(sync_dir=True)
link_broken = linking(sync_dir=False)


def recover_current(path: str) -> int:
    """The version `current` names (-1: none yet); a link to a missing or torn version raises (integrity)."""
    try:
        version = os.readlink(os.path.join(path, "current"))
    except FileNotFoundError:
        return -1
    n = int(version[1:])
    with open(os.path.join(path, version), "rb") as f:
        if f.read() != record(n):
            raise ValueError(f"current names {version}, which does not hold record {n}")
    return n


def check_current(newest: int, acked: list[int]) -> None:
    assert newest >= max(acked, default=-1), f"lost acked versions: current is {newest}, acked up to {max(acked)}"


def versions(replace_link: Callable[[str, str], None]):
    def workload(path, ack):
        for n in range(OPS):
            write_new(path, f"v{n}", record(n), sync=True)
            fsync_dir(path)  # v{n}'s entry is durable before any link names it
            replace_link(path, f"v{n}")
            fsync_dir(path)
            ack(n)

    return target(workload, recover=recover_current, check=check_current)


def link_by_rename(path: str, version: str) -> None:
    os.symlink(version, os.path.join(path, "current.tmp"))
    os.rename(os.path.join(path, "current.tmp"), os.path.join(path, "current"))


def link_in_place(path: str, version: str) -> None:
    if os.path.lexists(os.path.join(path, "current")):
        os.unlink(os.path.join(path, "current"))  # BROKEN: no current version until the symlink below
    os.symlink(version, os.path.join(path, "current"))


symlink_ok = versions(link_by_rename)
symlink_broken = versions(link_in_place)
