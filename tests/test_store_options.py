"""Every option and clock reading is checked, and a write either raises before it is logged or returns."""

from __future__ import annotations

import errno
import math
import threading
from pathlib import Path

import pytest

from tests.support import FakeClock
from tornwrite.engine import (
    ClockError,
    InvalidArgumentError,
    IOEvent,
    IOLayer,
    ReentrantCallError,
    Store,
)

BAD_OPTIONS = [
    ("snapshot_every", "3"),
    ("snapshot_every", 0),
    ("snapshot_every", -2),
    ("snapshot_every", 2.0),
    ("snapshot_every", True),
    ("reaper_interval", "x"),
    ("reaper_interval", math.nan),
    ("reaper_interval", math.inf),
    ("reaper_interval", 0),
    ("reaper_interval", -1.0),
    ("reaper_interval", True),
    ("reaper_interval", 10**400),
    ("clock", 1_700_000_000.0),
    ("clock", None),
    ("strict", "yes"),
    ("strict", 1),
    ("io", object()),
]


@pytest.mark.parametrize(("option", "value"), BAD_OPTIONS, ids=[f"{o}={v!r:.12}" for o, v in BAD_OPTIONS])
def test_a_bad_option_is_refused_before_the_directory_is_touched(tmp_path, option, value):
    with pytest.raises(InvalidArgumentError, match=option):
        Store.open(tmp_path / "data", **{option: value})
    assert not (tmp_path / "data").exists()


def test_a_path_holding_a_nul_byte_raises_the_documented_oserror(tmp_path):
    with pytest.raises(OSError) as raised:
        Store.open(str(tmp_path / "a\x00b"))
    assert raised.value.errno == errno.EINVAL and not isinstance(raised.value, ValueError)
    with pytest.raises(InvalidArgumentError, match="path"):
        Store.open(42)


def _populated(directory: Path, clock: FakeClock) -> Store:
    store = Store.open(directory, clock=clock)
    store.set("s", b"abc", ttl=100)
    store.rpush("l", b"x")
    store.hset("h", {"f": b"v"})
    return store


# Each write command, with arguments that make it log a record on the populated store.
WRITES = {
    "set": lambda s: s.set("s", b"new"),
    "set-ttl": lambda s: s.set("n", b"new", ttl=5),
    "append": lambda s: s.append("s", b"more"),
    "append-absent": lambda s: s.append("absent", b"more"),
    "delete": lambda s: s.delete("s"),
    "rpush": lambda s: s.rpush("l", b"y"),
    "hset": lambda s: s.hset("h", {"g": b"w"}),
    "hdel": lambda s: s.hdel("h", "f"),
    "expire": lambda s: s.expire("s", 50),
    "expire_at": lambda s: s.expire_at("s", 1_800_000_000),
    "persist": lambda s: s.persist("s"),
    "flushall": lambda s: s.flushall(),
}


def _raising_clock() -> float:
    raise RuntimeError("the clock's own failure")


BAD_CLOCKS = {
    "nan": (lambda: math.nan, ClockError),
    "infinity": (lambda: math.inf, ClockError),
    "a-string": (lambda: "1700000000", ClockError),
    "none": (lambda: None, ClockError),
    "a-bool": (lambda: True, ClockError),
    "raises": (_raising_clock, RuntimeError),
}


def _wal_bytes(directory: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(directory.glob("wal-*.log"))}


@pytest.mark.parametrize("clock_name", sorted(BAD_CLOCKS))
@pytest.mark.parametrize("command", sorted(WRITES))
def test_a_write_whose_clock_fails_raises_before_anything_is_logged(tmp_path, command, clock_name):
    good = FakeClock()
    bad, error = BAD_CLOCKS[clock_name]
    readings = [good]  # the clock the store sees is whichever is last here
    store = _populated(tmp_path / "data", lambda: readings[-1]())
    try:
        before_files, before_state = _wal_bytes(tmp_path / "data"), store.dump()
        readings.append(bad)
        with pytest.raises(error):
            WRITES[command](store)
        assert _wal_bytes(tmp_path / "data") == before_files, "a write that raised had logged a record"
        readings.append(good)
        assert store.dump() == before_state
        WRITES[command](store)  # the store is not failed: the same write succeeds on a good clock
    finally:
        store.close()


@pytest.mark.parametrize("command", sorted(WRITES))
def test_a_clock_that_calls_a_store_write_raises_instead_of_deadlocking(tmp_path, command):
    clock = FakeClock()
    holder: list[Store] = []
    reentering = [False]

    def calling_clock() -> float:
        if reentering[0]:
            holder[0].set("from-the-clock", b"x")
        return clock()

    store = _populated(tmp_path / "data", calling_clock)
    holder.append(store)
    outcome: list[BaseException | None] = []

    def run() -> None:
        reentering[0] = True
        try:
            WRITES[command](store)
            outcome.append(None)
        except BaseException as exc:  # noqa: BLE001  # what the command raised, judged below
            outcome.append(exc)
        reentering[0] = False

    before = _wal_bytes(tmp_path / "data")
    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    thread.join(timeout=30)  # a hang detector, not a performance limit: a deadlock never ends
    assert not thread.is_alive(), (
        f"deadlock: repro: pytest tests/test_store_options.py -k 'calls_a_store_write and {command}'"
    )
    assert isinstance(outcome[0], ReentrantCallError)
    assert _wal_bytes(tmp_path / "data") == before
    store.close()


def test_an_io_hook_that_calls_back_into_the_store_raises_instead_of_deadlocking(tmp_path):
    io = IOLayer()
    store = Store.open(tmp_path / "data", io=io, clock=FakeClock())
    calls: list[str] = []

    def hook(event: IOEvent) -> None:
        if event.label == "wal.append" and event.phase == "before" and not calls:
            calls.append(event.label)
            store.snapshot()

    io.hooks.append(hook)
    outcome: list[BaseException | None] = []

    def run() -> None:
        try:
            store.set("k", b"v")
            outcome.append(None)
        except BaseException as exc:  # noqa: BLE001
            outcome.append(exc)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    thread.join(timeout=30)  # a hang detector: a deadlock never ends
    assert not thread.is_alive(), "deadlock: repro: pytest tests/test_store_options.py -k io_hook"
    assert isinstance(outcome[0], ReentrantCallError) and store.get("k") is None
    io.hooks.clear()
    store.set("k", b"v")
    store.close()


@pytest.mark.parametrize("read", ["get", "ttl"])
def test_a_clock_that_reads_the_store_raises_instead_of_recursing(tmp_path, read):
    holder: list[Store] = []
    reading = [False]

    def reading_clock() -> float:
        if reading[0]:
            getattr(holder[0], read)("timed")  # a key with a TTL: the read asks this clock again
        return 1_700_000_000.0

    store = Store.open(tmp_path / "data", clock=reading_clock)
    holder.append(store)
    store.set("timed", b"v", ttl=100)
    reading[0] = True
    with pytest.raises(ReentrantCallError):
        getattr(store, read)("timed")
    reading[0] = False
    assert store.get("timed") == b"v"
    store.close()
