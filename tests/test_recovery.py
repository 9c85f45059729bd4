"""Crash recovery: the design's mandatory crash tests and the rules of docs/FORMAT.md "Recovery".

Crashes here are process crashes: what the engine wrote stays, nothing more is written. A hook
on the I/O layer stops the engine at an exact step (raising `Crash`, which no engine code
catches), and `abandon` lets the Store go the way SIGKILL would.
"""

import os

import pytest

from tests.support import abandon, copy_dir, files, flip_byte, listing, newest_segment, record_offsets, truncate_to
from tornwrite.engine import CorruptDataError, IOLayer, Store


class Crash(BaseException):
    """Stops the engine at a chosen I/O step; BaseException so no `except OSError` swallows it."""


def crash_at(io: IOLayer, label: str, phase: str):
    def hook(event):
        if event.label == label and event.phase == phase:
            raise Crash(f"{phase} {label}")

    io.hooks.append(hook)


def fill(store, n=5):
    for i in range(n):
        store.rpush("list", b"item-%d" % i)
        store.set(f"key-{i}", b"value-%d" % i)


# --- crash during WAL write ------------------------------------------------------------------


def test_crash_during_wal_write_keeps_exactly_the_previous_records_at_every_cut(open_store, tmp_path, clock):
    store = open_store()
    fill(store, 3)
    before_last = store.dump()
    store.hset("h", {"field": b"a value with\nnewline and \xff bytes"})
    complete = store.dump()
    abandon(store)
    segment = newest_segment(tmp_path / "data")
    start = record_offsets(segment)[-1]
    size = segment.stat().st_size
    for cut in range(start, size + 1):
        crashed = copy_dir(tmp_path / "data", tmp_path / f"cut-{cut}")
        truncate_to(crashed / segment.name, cut)
        with Store.open(crashed, clock=clock) as recovered:
            assert recovered.dump() == (complete if cut == size else before_last), cut
            torn = recovered.recovery.discarded
            assert [(d.offset, d.nbytes) for d in torn] == ([] if cut in (start, size) else [(start, cut - start)])
        # The torn bytes were cut away durably: a second recovery finds nothing to discard.
        assert (crashed / segment.name).stat().st_size == (size if cut == size else start)
        with Store.open(crashed, clock=clock) as again:
            assert again.recovery.discarded == ()


def test_zero_filled_tail_is_a_torn_record(open_store, tmp_path):
    store = open_store()
    fill(store, 2)
    state = store.dump()
    abandon(store)
    segment = newest_segment(tmp_path / "data")
    with open(segment, "ab") as f:
        f.write(b"\0" * 4096)  # file size grew but the data block never arrived
    recovered = open_store()
    assert recovered.dump() == state
    assert recovered.recovery.discarded[0].nbytes == 4096


def test_writes_after_recovering_a_torn_tail_land_in_sequence(open_store, tmp_path):
    store = open_store()
    fill(store, 2)
    abandon(store)
    segment = newest_segment(tmp_path / "data")
    truncate_to(segment, segment.stat().st_size - 3)
    store = open_store()
    store.set("after", b"crash")
    state = store.dump()
    store.close()
    reopened = open_store()
    assert reopened.dump() == state and reopened.recovery.discarded == ()


# --- crash during snapshot rename --------------------------------------------------------------


@pytest.mark.parametrize("phase", ["before", "after"])
def test_crash_during_snapshot_rename_recovers_the_full_state(open_store, tmp_path, phase):
    io = IOLayer()
    store = open_store(io=io)
    fill(store)
    state = store.dump()
    crash_at(io, "snapshot.rename", phase)
    with pytest.raises(Crash):
        store.snapshot()
    abandon(store)
    names = listing(tmp_path / "data")
    assert any(n.endswith(".snap.tmp") for n in names) == (phase == "before")
    assert any(n.endswith(".snap") for n in names) == (phase == "after")
    recovered = open_store()
    assert recovered.dump() == state
    assert not any(n.endswith(".tmp") for n in listing(tmp_path / "data"))


def test_snapshot_renamed_but_wal_not_yet_cut_applies_nothing_twice(open_store, tmp_path):
    """rpush is not idempotent: replaying records the snapshot already holds would double items."""
    io = IOLayer()
    store = open_store(io=io)
    store.rpush("list", b"a", b"b")
    store.rpush("list", b"c")
    crash_at(io, "wal.unlink", "before")  # the rename is durable; the WAL cut has not begun
    with pytest.raises(Crash):
        store.snapshot()
    abandon(store)
    names = listing(tmp_path / "data")
    assert [n.split("-")[0] for n in names].count("wal") == 2  # old segment still there
    recovered = open_store()
    assert recovered.lrange("list", 0, -1) == [b"a", b"b", b"c"]
    assert recovered.recovery.records_replayed == 0
    assert listing(tmp_path / "data") == [n for n in names if not n.startswith("wal-00000000000000000001")]


def test_crash_after_snapshot_then_more_writes_replays_only_newer_records(open_store, tmp_path):
    store = open_store()
    fill(store, 3)
    store.snapshot()
    store.rpush("list", b"after-snapshot")
    state = store.dump()
    abandon(store)
    recovered = open_store()
    assert recovered.dump() == state
    assert recovered.recovery.records_replayed == 1 and recovered.recovery.snapshot_lsn == 6


# --- WAL truncation recovery -----------------------------------------------------------------------


def test_snapshot_cuts_the_wal_and_recovery_uses_snapshot_plus_new_segment(open_store, tmp_path):
    store = open_store()
    fill(store, 4)
    lsn = store.snapshot()
    assert [p.name for p in files(tmp_path / "data", "wal-")] == [f"wal-{lsn + 1:020d}.log"]
    assert [p.name for p in files(tmp_path / "data", "snapshot-")] == [f"snapshot-{lsn:020d}.snap"]
    store.set("later", b"x")
    state = store.dump()
    store.close()
    recovered = open_store()
    assert recovered.dump() == state
    assert (recovered.recovery.snapshot_lsn, recovered.recovery.records_replayed) == (lsn, 1)


def test_second_snapshot_replaces_the_first_and_its_segments(open_store, tmp_path):
    store = open_store()
    fill(store, 2)
    store.snapshot()
    fill(store, 2)
    second = store.snapshot()
    assert listing(tmp_path / "data") == [f"snapshot-{second:020d}.snap", f"wal-{second + 1:020d}.log"]


def test_snapshot_with_no_new_records_writes_nothing(open_store, tmp_path):
    store = open_store()
    fill(store, 1)
    first = store.snapshot()
    names = listing(tmp_path / "data")
    assert store.snapshot() == first and listing(tmp_path / "data") == names


def test_torn_header_of_a_new_segment_is_discarded(open_store, tmp_path):
    io = IOLayer()
    store = open_store(io=io)
    fill(store, 2)
    state = store.dump()
    crash_at(io, "wal.header", "before")  # segment created, header never written
    with pytest.raises(Crash):
        store.snapshot()
    abandon(store)
    recovered = open_store()
    assert recovered.dump() == state
    recovered.set("next", b"1")
    state = recovered.dump()
    recovered.close()
    assert open_store().dump() == state


def test_leftover_temp_snapshot_is_removed(open_store, tmp_path):
    store = open_store()
    fill(store, 1)
    store.close()
    stray = tmp_path / "data" / f"snapshot-{99:020d}.snap.tmp"
    stray.write_bytes(b"half a snapsh")
    recovered = open_store()
    assert not stray.exists() and str(stray) in recovered.recovery.removed


# --- damage that is not a crash ----------------------------------------------------------------------


def test_bad_record_followed_by_good_ones_is_refused_in_strict_mode(open_store, tmp_path, clock):
    store = open_store()
    fill(store, 3)
    abandon(store)
    segment = newest_segment(tmp_path / "data")
    damaged_at = record_offsets(segment)[2]
    flip_byte(segment, damaged_at + 12)
    with pytest.raises(CorruptDataError) as refused:
        Store.open(tmp_path / "data", clock=clock, strict=True)
    assert refused.value.path == str(segment) and refused.value.offset == damaged_at
    recovered = open_store()  # point-in-time (the default) keeps the good prefix and says so
    assert recovered.recovery.last_lsn == 2
    assert recovered.recovery.discarded[0].offset == damaged_at
    assert recovered.recovery.discarded[0].records == 3  # the three whole lines after the damage


def test_strict_mode_still_tolerates_a_torn_tail(open_store, tmp_path, clock):
    store = open_store()
    fill(store, 2)
    abandon(store)
    segment = newest_segment(tmp_path / "data")
    truncate_to(segment, segment.stat().st_size - 1)
    with Store.open(tmp_path / "data", clock=clock, strict=True) as recovered:
        assert recovered.recovery.last_lsn == 3


def test_damaged_snapshot_is_refused_naming_file_and_offset(open_store, tmp_path):
    store = open_store()
    fill(store, 2)
    store.snapshot()
    store.close()
    snapshot = files(tmp_path / "data", "snapshot-")[0]
    flip_byte(snapshot, 40)
    with pytest.raises(CorruptDataError, match="snapshot") as refused:
        open_store()
    assert refused.value.path == str(snapshot)


def test_foreign_file_is_refused_before_anything_changes(open_store, tmp_path):
    store = open_store()
    fill(store, 1)
    store.close()
    (tmp_path / "data" / "notes.txt").write_text("mine")
    before = {p.name: p.read_bytes() for p in (tmp_path / "data").iterdir()}
    with pytest.raises(CorruptDataError, match="notes.txt"):
        open_store()
    assert {p.name: p.read_bytes() for p in (tmp_path / "data").iterdir()} == before


def test_unknown_format_version_is_refused(open_store, tmp_path):
    store = open_store()
    fill(store, 1)
    store.close()
    segment = newest_segment(tmp_path / "data")
    segment.write_bytes(segment.read_bytes().replace(b"REDISLITE-WAL 3 ", b"REDISLITE-WAL 7 ", 1))
    with pytest.raises(CorruptDataError, match="unknown format version"):
        open_store()


def test_missing_start_of_the_log_is_refused(open_store, tmp_path):
    store = open_store()
    fill(store, 2)
    store.snapshot()
    store.set("x", b"y")
    store.close()
    os.unlink(files(tmp_path / "data", "snapshot-")[0])
    with pytest.raises(CorruptDataError, match="nothing holds"):
        open_store()


# --- reopen ---------------------------------------------------------------------------------------------


def test_reopen_after_close_is_identical(open_store, tmp_path, clock):
    store = open_store()
    fill(store, 5)
    store.hset("h", {"a": b"1", "b": b"2"})
    store.hdel("h", "a")
    store.set("ttl", b"v", ttl=100)
    store.expire("key-1", 50)
    store.persist("key-1")
    store.delete("key-2")
    state = store.dump()
    disk = {p.name: p.read_bytes() for p in (tmp_path / "data").iterdir()}
    store.close()
    reopened = open_store()
    assert reopened.dump() == state
    assert reopened.recovery.records_replayed == 16 and reopened.recovery.discarded == ()
    reopened.close()
    assert {p.name: p.read_bytes() for p in (tmp_path / "data").iterdir()} == disk


def test_recovery_report_counts_and_times(open_store):
    store = open_store()
    fill(store, 2)
    store.close()
    report = open_store().recovery
    assert (report.snapshot, report.snapshot_lsn, report.records_replayed, report.last_lsn) == (None, 0, 4, 4)
    assert report.seconds >= 0
