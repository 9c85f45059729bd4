"""I/O errors: a failed WAL write fails the store for writes; a failed snapshot fails only itself."""

import errno

import pytest

from tests.support import listing
from tornwrite.engine import IOLayer, SnapshotError, Store, StoreFailedError


def fail_at(io, label, err=errno.EIO, times=1):
    remaining = [times]

    def hook(event):
        if event.label == label and event.phase == "before" and remaining[0] > 0:
            remaining[0] -= 1
            raise OSError(err, f"injected {errno.errorcode[err]} at {label}")

    io.hooks.append(hook)


@pytest.mark.parametrize("label", ["wal.append", "wal.fsync"])
def test_wal_error_fails_the_op_and_every_later_write_but_not_reads(tmp_path, clock, label):
    io = IOLayer()
    store = Store.open(tmp_path / "d", io=io, clock=clock)
    store.set("kept", b"1")
    fail_at(io, label)
    with pytest.raises(StoreFailedError):
        store.set("lost?", b"2")
    assert store.get("lost?") is None  # nothing applied
    with pytest.raises(StoreFailedError):
        store.set("later", b"3")  # never retry after a failed fsync
    with pytest.raises(StoreFailedError):
        store.snapshot()
    assert store.get("kept") == b"1" and store.keys() == ["kept"]
    store.close()
    reopened = Store.open(tmp_path / "d", clock=clock)
    # The store cut the failed record back out of the file: the disk may never hold it, and a
    # reopen must not replay it from the page cache and append behind a hole.
    assert "lost?" not in reopened.dump() and "later" not in reopened.dump()
    assert reopened.recovery.discarded == ()
    reopened.set("works", b"again")
    reopened.close()


@pytest.mark.parametrize("label", ["snapshot.create", "snapshot.write", "snapshot.fsync", "snapshot.rename"])
def test_snapshot_error_keeps_the_store_serving_and_cleans_its_temp_file(tmp_path, clock, label):
    io = IOLayer()
    store = Store.open(tmp_path / "d", io=io, clock=clock)
    store.set("a", b"1")
    fail_at(io, label, errno.ENOSPC)
    with pytest.raises(SnapshotError):
        store.snapshot()
    assert not any(n.endswith(".tmp") for n in listing(tmp_path / "d"))
    store.set("b", b"2")  # writes carry on
    lsn = store.snapshot()  # and the next snapshot succeeds
    state = store.dump()
    store.close()
    reopened = Store.open(tmp_path / "d", clock=clock)
    assert reopened.dump() == state and reopened.recovery.snapshot_lsn == lsn
    reopened.close()


def test_failed_rotation_leaves_the_old_segment_in_use(tmp_path, clock):
    io = IOLayer()
    store = Store.open(tmp_path / "d", io=io, clock=clock)
    store.set("a", b"1")
    fail_at(io, "wal.fsync")  # the new segment's header fsync
    with pytest.raises(SnapshotError):
        store.snapshot()
    assert store.snapshot() == 1  # the abandoned segment was removed, so its name is free again
    store.set("b", b"2")
    state = store.dump()
    store.close()
    reopened = Store.open(tmp_path / "d", clock=clock)
    assert reopened.dump() == state
    reopened.close()
