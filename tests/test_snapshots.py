"""Snapshots: on demand, in the background every N records, and what they leave on disk."""

from threading import current_thread

from tests.support import files, listing
from tornwrite.engine import IOLayer, Store


def test_automatic_snapshot_runs_in_the_background_every_n_records(tmp_path, clock):
    io = IOLayer()
    snapshot_threads = set()
    io.hooks.append(lambda event: event.label.startswith("snapshot.") and snapshot_threads.add(current_thread()))
    store = Store.open(tmp_path / "d", io=io, clock=clock, snapshot_every=50)
    for i in range(120):
        store.set(f"k{i % 7}", b"%d" % i)
    state = store.dump()
    store.close()  # waits for a snapshot in progress: no polling needed
    assert files(tmp_path / "d", "snapshot-"), "no automatic snapshot was written"
    assert snapshot_threads and current_thread() not in snapshot_threads  # written by another thread
    assert store.last_snapshot_error is None
    reopened = Store.open(tmp_path / "d", clock=clock)
    assert reopened.dump() == state and reopened.recovery.snapshot_lsn >= 50
    reopened.close()


def test_snapshot_file_is_sorted_readable_text(tmp_path, clock):
    with Store.open(tmp_path / "d", clock=clock) as store:
        store.set("b", b"2")
        store.set("a", b"1", expire_at=1_800_000_000)
        lsn = store.snapshot()
    text = (tmp_path / "d" / f"snapshot-{lsn:020d}.snap").read_text()
    lines = text.splitlines()
    assert lines[0] == "REDISLITE-SNAPSHOT 3 2"
    assert lines[1].endswith(' ["a","string","1",1800000000]') and lines[2].endswith(' ["b","string","2",null]')
    assert lines[3].startswith("END 2 ")


def test_equal_states_give_byte_identical_snapshots(tmp_path, clock):
    contents = []
    for name, order in (("one", ["x", "y", "z"]), ("two", ["z", "x", "y"])):
        with Store.open(tmp_path / name, clock=clock) as store:
            for key in order:
                store.set(key, key.encode())
            lsn = store.snapshot()
        contents.append((tmp_path / name / f"snapshot-{lsn:020d}.snap").read_bytes())
    assert contents[0] == contents[1]


def test_snapshot_of_an_empty_store_after_flushall(tmp_path, clock):
    with Store.open(tmp_path / "d", clock=clock) as store:
        store.set("a", b"1")
        store.flushall()
        store.snapshot()
    with Store.open(tmp_path / "d", clock=clock) as store:
        assert store.dump() == {}
    assert len(listing(tmp_path / "d")) == 2
