"""The I/O layer: labelled hook events for every step, and no file touched any other way."""

import os
import sys

import pytest

from tornwrite.engine import IOLayer, Store, StoreFailedError
from tornwrite.engine.io import DURABLE_OPS


def record_events(io):
    events = []
    io.hooks.append(events.append)
    return events


def workload(store):
    store.set("a", b"1")
    store.rpush("l", b"x", b"y")
    store.snapshot()
    store.hset("h", {"f": b"v"})


def test_a_set_is_one_append_and_one_fsync_with_before_and_after_events(tmp_path, clock):
    io = IOLayer()
    with Store.open(tmp_path / "d", io=io, clock=clock) as store:
        events = record_events(io)
        store.set("k", b"v")
    write_path = [(e.phase, e.op, e.label) for e in events[:4]]
    assert write_path == [
        ("before", "write", "wal.append"),
        ("after", "write", "wal.append"),
        ("before", "fsync", "wal.fsync"),
        ("after", "fsync", "wal.fsync"),
    ]
    assert events[0].data.endswith(b'set ["k","v",null]\n') and events[0].nbytes == len(events[0].data)


def test_snapshot_steps_come_in_the_safe_order(tmp_path, clock):
    io = IOLayer()
    with Store.open(tmp_path / "d", io=io, clock=clock) as store:
        store.set("k", b"v")
        events = record_events(io)
        store.snapshot()
    labels = [e.label for e in events if e.phase == "before" and e.op in DURABLE_OPS]
    assert labels == [
        "wal.create",
        "wal.header",
        "wal.fsync",
        "dir.fsync",  # rotate
        "snapshot.create",
        "snapshot.write",
        "snapshot.fsync",
        "snapshot.rename",
        "dir.fsync",
        "wal.unlink",
        "dir.fsync",
    ]


def test_every_file_in_the_directory_is_touched_only_through_the_layer(tmp_path, clock):
    """A Python audit hook sees every open, rename, remove and truncate in the process; each one
    on the data directory must happen inside an I/O layer step."""
    directory = str(tmp_path / "d")
    io = IOLayer()
    inside = []
    stray = []
    io.hooks.append(lambda e: inside.append(e) if e.phase == "before" else inside.pop())

    def audit(name, args):
        if not watching or name not in (
            "open",
            "os.rename",
            "os.remove",
            "os.truncate",
            "os.mkdir",
            "os.listdir",
            "os.scandir",
        ):
            return
        path = args[0]
        if isinstance(path, (str, bytes, os.PathLike)) and os.fsdecode(path).startswith(directory) and not inside:
            stray.append((name, args))

    watching = True
    sys.addaudithook(audit)
    try:
        store = Store.open(directory, io=io, clock=clock)
        workload(store)
        store.close()
        Store.open(directory, io=io, clock=clock).close()
    finally:
        watching = False
    assert stray == []


def test_hooks_see_paths_for_every_file_the_workload_leaves(tmp_path, clock):
    io = IOLayer()
    events = record_events(io)
    with Store.open(tmp_path / "d", io=io, clock=clock) as store:
        workload(store)
    touched = {os.path.basename(e.path) for e in events} | {os.path.basename(e.target or "") for e in events}
    assert set(os.listdir(tmp_path / "d")) <= touched


def test_a_hook_that_raises_stops_the_step_before_it_happens(tmp_path, clock):
    io = IOLayer()
    with Store.open(tmp_path / "d", io=io, clock=clock) as store:

        def refuse(event):
            if event.label == "wal.append":
                raise OSError(28, "No space left on device")

        io.hooks.append(refuse)
        with pytest.raises(StoreFailedError):
            store.set("k", b"v")
        assert store.get("k") is None


def test_a_short_real_write_goes_on_until_every_byte_is_written(tmp_path, monkeypatch):
    from tornwrite.engine import io as engine_io

    real_write = os.write
    monkeypatch.setattr(engine_io.os, "write", lambda fd, data: real_write(fd, bytes(data[:3])))  # 3 B a call
    fs = engine_io.OsFileSystem()
    handle = fs.create(str(tmp_path / "f"))
    fs.write(handle, b"0123456789")
    fs.close(handle)
    assert (tmp_path / "f").read_bytes() == b"0123456789"
