"""Hostile input through the API: every key, field, value and TTL either round-trips exactly
through the WAL, a snapshot and recovery, or is refused with the documented typed error and
changes nothing."""

import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.support import FakeClock
from tornwrite.engine import InvalidKeyError, InvalidValueError, IOLayer, Store
from tornwrite.faultinject.core.simdisk import SimDisk

SEPARATORS = ["\n", "\r", " ", '"', "\\", "[", "]", "{", "}", ",", ":", "\x00", "\u2028", "\ufeff", "END 1 0"]
hostile_text = st.lists(st.sampled_from(SEPARATORS) | st.characters(exclude_categories=["Cs"]), max_size=12).map(
    "".join
)
hostile_bytes = st.binary(max_size=64) | st.sampled_from(SEPARATORS).map(str.encode)


def sim_store(clock=None) -> tuple[Store, SimDisk]:
    disk = SimDisk()
    return Store.open("/sim/data", io=IOLayer(disk), clock=clock or FakeClock()), disk


def reopened(disk: SimDisk, clock=None) -> Store:
    return Store.open(
        "/sim/data", io=IOLayer(SimDisk.from_image(disk.process_crash_image())), clock=clock or FakeClock()
    )


@settings(max_examples=150)
@given(key=hostile_text, field=hostile_text, value=hostile_bytes, items=st.lists(hostile_bytes, min_size=1, max_size=3))
def test_separators_nul_and_newlines_round_trip_through_wal_snapshot_and_recovery(key, field, value, items):
    store, disk = sim_store()
    store.set(key + "s", value)
    store.rpush(key + "l", *items)
    store.hset(key + "h", {field: value})
    state = store.dump()
    assert reopened(disk).dump() == state  # through the WAL
    store.snapshot()
    assert reopened(disk).dump() == state  # through the snapshot


@settings(max_examples=100)
@given(raw=st.binary(min_size=1, max_size=16))
def test_bytes_keys_work_exactly_when_they_are_utf8(raw):
    store, _ = sim_store()
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        with pytest.raises(InvalidKeyError):
            store.set(raw, b"v")
        assert store.dump() == {}
        return
    store.set(raw, b"v")
    assert store.get(text) == b"v" and store.keys() == [text]


@pytest.mark.parametrize("bad", ["\ud800", "a\udfffb", "\udc80"])
def test_lone_surrogates_are_refused_as_keys_and_fields(bad):
    store, _ = sim_store()
    with pytest.raises(InvalidKeyError):
        store.set(bad, b"v")
    with pytest.raises(InvalidKeyError):
        store.hset("h", {bad: b"v"})
    assert store.dump() == {}


def test_zero_byte_value_round_trips(tmp_path):
    with Store.open(tmp_path / "d") as store:
        store.set("empty", b"")
        store.rpush("list", b"", b"")
        store.hset("hash", {"": b""})
        state = store.dump()
    with Store.open(tmp_path / "d") as store:
        assert store.dump() == state and store.get("empty") == b""


def test_sixteen_mib_value_round_trips_byte_for_byte(tmp_path):
    value = bytes(range(256)) * (16 * 1024 * 1024 // 256)
    with Store.open(tmp_path / "d") as store:
        store.set("big", value)
        store.snapshot()
        store.rpush("big-list", value[:1024], value)
    with Store.open(tmp_path / "d") as store:
        assert store.get("big") == value and store.lindex("big-list", 1) == value


def test_hash_with_100k_fields_round_trips(tmp_path):
    fields = {f"field-{n}": b"%d" % n for n in range(100_000)}
    with Store.open(tmp_path / "d") as store:
        assert store.hset("wide", fields) == 100_000
        store.hset("wide", {"field-7": b"changed"})
        store.snapshot()
        assert store.hdel("wide", *[f"field-{n}" for n in range(0, 100_000, 2)]) == 50_000
        state = store.dump()
    with Store.open(tmp_path / "d") as store:
        assert store.dump() == state and store.hlen("wide") == 50_000


@pytest.mark.parametrize("ttl", [0, -1, -0.5, math.nan, math.inf, -math.inf, 10**400, True, "1", b"1"])
def test_invalid_set_ttls_are_refused_and_change_nothing(ttl):
    store, _ = sim_store()
    store.set("k", b"old")
    with pytest.raises(InvalidValueError):
        store.set("k", b"new", ttl=ttl)
    assert store.get("k") == b"old" and store.ttl("k") == -1


# Non-finite seconds for expire/expire_at: tests/test_commands.py::test_expire_needs_a_finite_number.


@pytest.mark.parametrize("seconds", [0, -1, -1e9])
def test_expire_of_zero_or_negative_expires_at_once_and_survives_recovery(seconds):
    clock = FakeClock()
    store, disk = sim_store(clock)
    store.set("k", b"v")
    assert store.expire("k", seconds) is True
    assert store.get("k") is None and reopened(disk, clock).get("k") is None


def test_far_future_and_tiny_ttls_round_trip_exactly():
    clock = FakeClock(1_700_000_000.123456)
    store, disk = sim_store(clock)
    store.set("forever", b"v", expire_at=1e300)
    store.set("soon", b"v", ttl=1e-9)  # now + 1e-9 == now here: already expired, as documented
    store.expire_at("int", 5)
    again = reopened(disk, clock)
    assert again.dump() == store.dump()
    assert again.dump()["forever"][2] == 1e300 and "soon" not in again.dump()


@pytest.mark.parametrize("value", ["text", 1, 1.5, None, ["b"], {"a": b"b"}, object()])
def test_non_bytes_values_are_refused_everywhere(value):
    store, _ = sim_store()
    for call in (lambda: store.set("k", value), lambda: store.rpush("k", value), lambda: store.hset("k", {"f": value})):
        with pytest.raises(InvalidValueError, match=type(value).__name__):
            call()
    assert store.dump() == {}
