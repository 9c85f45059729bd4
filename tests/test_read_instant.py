"""Reads observe one instant: the entry a read returns and the time it is judged at belong together.

The race these tests pin down (issue 11): a reader looks up an entry that has a TTL, is then
preempted, a writer overwrites or persists the key, and the clock passes the old entry's
`expire_at` before the reader reads it. Judging the old entry at that later time answers
"absent" for a key that was live at every instant of the call.

Each test makes that interleaving happen on purpose, with no sleeps: the clock, when called in
the reader's thread, first lets a writer thread make its write, waits for it, and only then
returns a time past the old deadline. A correct read either judges the old entry at a time
before the write (live) or sees the write; it never reports the key absent.
"""

import threading

import pytest

from tornwrite.engine import Store

BEFORE, OLD_DEADLINE, AFTER = 1_000.0, 1_010.0, 1_020.0
DEADLOCK_GUARD = 60  # seconds: only so that a broken handshake fails instead of hanging


class InterleavingClock:
    """Returns BEFORE, except in the armed reader thread: there the first call lets the writer
    run to completion, and from then on every call (in any thread) returns AFTER."""

    def __init__(self):
        self.now = BEFORE
        self.reader: int | None = None
        self.writer_may_go = threading.Event()
        self.writer_done = threading.Event()

    def __call__(self) -> float:
        if threading.get_ident() == self.reader and not self.writer_may_go.is_set():
            self.writer_may_go.set()
            if not self.writer_done.wait(DEADLOCK_GUARD):
                raise RuntimeError("the writer never finished its write")
            self.now = AFTER
        return self.now


def read_while_written(store: Store, clock: InterleavingClock, read, write):
    """`read(store)` in this thread, with `write(store)` slipped in at its first clock call."""
    failure: list[BaseException] = []

    def writer():
        try:
            if clock.writer_may_go.wait(DEADLOCK_GUARD):
                write(store)
        except BaseException as exc:  # reported below, in the test's thread
            failure.append(exc)
        finally:
            clock.writer_done.set()

    thread = threading.Thread(target=writer)
    thread.start()
    clock.reader = threading.get_ident()
    try:
        result = read(store)
    finally:
        clock.writer_may_go.set()  # a read that never called the clock still lets the writer finish
        thread.join(DEADLOCK_GUARD)
    assert not failure, failure
    assert clock.writer_done.is_set() and clock.now == AFTER, "the read never consulted the clock"
    return result


def overwrite(store):
    store.set("k", b"new")  # no TTL: live at every later time


def persist(store):
    assert store.persist("k")


def string_with_ttl(store):
    store.set("k", b"old", expire_at=OLD_DEADLINE)


def list_with_ttl(store):
    store.rpush("k", b"a", b"b")
    store.expire_at("k", OLD_DEADLINE)


def hash_with_ttl(store):
    store.hset("k", {"f": b"v"})
    store.expire_at("k", OLD_DEADLINE)


# (read command, how the key starts, the write that lands mid-read, the allowed results)
CASES = {
    "get": (lambda s: s.get("k"), string_with_ttl, overwrite, [b"old", b"new"]),
    "exists": (lambda s: s.exists("k"), string_with_ttl, overwrite, [True]),
    "type": (lambda s: s.type("k"), string_with_ttl, overwrite, ["string"]),
    "ttl": (lambda s: s.ttl("k"), string_with_ttl, overwrite, [OLD_DEADLINE - BEFORE, -1]),
    "llen": (lambda s: s.llen("k"), list_with_ttl, persist, [2]),
    "lrange": (lambda s: s.lrange("k", 0, -1), list_with_ttl, persist, [[b"a", b"b"]]),
    "lindex": (lambda s: s.lindex("k", 1), list_with_ttl, persist, [b"b"]),
    "hget": (lambda s: s.hget("k", "f"), hash_with_ttl, persist, [b"v"]),
    "hexists": (lambda s: s.hexists("k", "f"), hash_with_ttl, persist, [True]),
    "hlen": (lambda s: s.hlen("k"), hash_with_ttl, persist, [1]),
    "hgetall": (lambda s: s.hgetall("k"), hash_with_ttl, persist, [{"f": b"v"}]),
    "keys": (lambda s: s.keys(), string_with_ttl, overwrite, [["k"]]),
    "dbsize": (lambda s: s.dbsize(), string_with_ttl, persist, [1]),
    "dump": (
        lambda s: s.dump(),
        string_with_ttl,
        overwrite,
        [{"k": ("string", b"old", OLD_DEADLINE)}, {"k": ("string", b"new", None)}],
    ),
}


@pytest.mark.parametrize("command", sorted(CASES))
def test_a_read_never_reports_absent_a_key_that_was_live_throughout_it(tmp_path, command):
    read, prepare, write, allowed = CASES[command]
    clock = InterleavingClock()
    with Store.open(tmp_path / "data", clock=clock) as store:
        prepare(store)
        result = read_while_written(store, clock, read, write)
    assert result in allowed, f"{command} gave {result!r}; the key was live at every instant of the call"


# --- writes that revive a key: persist and expire ------------------------------------------------


@pytest.mark.parametrize("revive", [lambda s: s.persist("k"), lambda s: s.expire("k", 100)], ids=["persist", "expire"])
def test_a_read_never_sees_a_key_gone_that_a_pending_persist_or_expire_brings_back(tmp_path, revive):
    """The write side of the same race: persist (or expire) judges the key live at its clock
    reading, then waits on its fsync; the deadline passes meanwhile. A reader that judged the key
    expired then would see it gone and then back. It must wait for the write and see it live."""
    from tornwrite.engine import IOLayer

    now = [BEFORE]
    in_fsync, release = threading.Event(), threading.Event()
    reader_judged = threading.Event()
    reader = []

    def clock() -> float:
        if threading.get_ident() in reader:
            reader_judged.set()
        return now[0]

    def hold_fsync(event) -> None:
        if event.label == "wal.fsync" and event.phase == "before" and threading.current_thread().name == "reviver":
            in_fsync.set()
            assert release.wait(DEADLOCK_GUARD), "never released"

    io = IOLayer()
    with Store.open(tmp_path / "data", clock=clock, io=io) as store:
        store.set("k", b"v", expire_at=OLD_DEADLINE)
        io.hooks.append(hold_fsync)
        writer = threading.Thread(target=revive, args=(store,), name="reviver")
        writer.start()
        assert in_fsync.wait(DEADLOCK_GUARD)
        now[0] = AFTER  # the old deadline passes while the write waits on its fsync
        results: list[object] = []
        read = threading.Thread(target=lambda: (reader.append(threading.get_ident()), results.append(store.get("k"))))
        read.start()
        assert reader_judged.wait(DEADLOCK_GUARD)
        release.set()
        writer.join(DEADLOCK_GUARD)
        read.join(DEADLOCK_GUARD)
        assert results == [b"v"], "the reader saw the key gone, then the write brought it back"
        assert store.get("k") == b"v"
