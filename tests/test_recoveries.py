"""Judging each distinct recovered state once (core/verdicts.Recoveries) sees no less than
judging every crash state: the read probe's key is everything its answers depend on, and an
image's fingerprint is its content, whatever objects hold it."""

from __future__ import annotations

import pytest

from tornwrite.engine import IOLayer, Store
from tornwrite.faultinject.core import verdicts
from tornwrite.faultinject.core.execution import DATA_DIR, FakeClock
from tornwrite.faultinject.core.simdisk import SimDisk, image_fingerprint
from tornwrite.models.checker import Oracle

NOW = 1_000.0


def image_after(*writes: tuple) -> dict:
    """The durable image of a store that made `writes`: (key, value) or (key, value, expire_at)."""
    disk = SimDisk()
    store = Store.open(DATA_DIR, io=IOLayer(disk), clock=FakeClock(NOW - 100))
    for key, value, *expire_at in writes:
        store.set(key, value, expire_at=expire_at[0] if expire_at else None)
    store.close()
    return disk.durable_image()


def with_torn_tail(image: dict) -> dict:
    """The same image with half a record after the WAL's last one: recovery cuts it away."""
    files = dict(image[DATA_DIR])
    wal = max(name for name in files if name.startswith("wal-"))
    files[wal] = files[wal] + b'0badc0de {"torn'
    return {**image, DATA_DIR: files}


@pytest.fixture
def probes(monkeypatch) -> list:
    asked: list = []
    real = verdicts.reads_disagree

    def counting(store, entries, now, also=()):
        asked.append(now)
        return real(store, entries, now, also)

    monkeypatch.setattr(verdicts, "reads_disagree", counting)
    return asked


def test_the_read_probe_is_asked_once_for_two_images_that_recover_to_one_state(probes):
    recoveries = verdicts.Recoveries()
    clean = image_after(("k", b"v"))
    torn = with_torn_tail(clean)
    assert image_fingerprint(clean) != image_fingerprint(torn)
    first, second = recoveries.image(clean, NOW), recoveries.image(torn, NOW)
    assert first.state == second.state == {"k": ("string", b"v", None)}
    assert first.reads_differ is None and second.reads_differ is None
    assert len(probes) == 1
    assert second.state is first.state and second.reader_state is first.state  # one copy kept


def test_the_read_probe_is_asked_again_at_another_check_time(probes):
    recoveries = verdicts.Recoveries()
    image = image_after(("k", b"v"))
    recoveries.image(image, NOW)
    recoveries.image(image, NOW + 1)
    assert probes == [NOW, NOW + 1]


def test_an_expired_entry_the_engine_holds_makes_a_state_distinct_though_it_reads_as_absent(probes):
    recoveries = verdicts.Recoveries()
    without = recoveries.image(image_after(("k", b"v")), NOW)
    holding_expired = recoveries.image(image_after(("k", b"v"), ("gone", b"x", NOW - 1)), NOW)
    assert without.state == holding_expired.state  # the same live state at the check time
    assert len(probes) == 2  # but a read path that forgets expiry would answer otherwise


def test_the_probe_key_holds_what_the_engine_holds_not_only_what_the_reader_read(probes):
    recoveries = verdicts.Recoveries()
    plain = image_after(("k", b"v"))
    entries = verdicts.read_files(plain[DATA_DIR]).entries
    for image in (plain, image_after(("k", b"v"), ("gone", b"x", NOW - 1))):
        clock = FakeClock(NOW)
        store = Store.open(DATA_DIR, io=IOLayer(SimDisk.from_image(image)), clock=clock)
        assert store.dump() == {"k": ("string", b"v", None)}
        recoveries.probe(store, clock, entries, store.dump())  # the same reader entries both times
        assert clock.now == NOW
        store.close()
    assert len(probes) == 2


def test_a_state_the_format_reader_disagrees_with_is_not_probed_and_still_fails(probes, monkeypatch):
    image = image_after(("k", b"v"))
    real_dump = Store.dump
    monkeypatch.setattr(Store, "dump", lambda store: {**real_dump(store), "phantom": ("string", b"p", None)})
    recovered = verdicts.Recoveries().image(image, NOW)
    assert probes == []
    verdict = verdicts.judge(Oracle([], NOW), recovered, acked=0, in_flight=False, check_time=NOW)
    assert verdict.outcome == "invariant-violated"


def test_equal_contents_in_distinct_objects_have_one_fingerprint_and_a_changed_byte_another():
    content = bytes(range(256)) * 64
    same = bytes(bytearray(content))
    assert same is not content
    assert image_fingerprint({"/d": {"f": content}}) == image_fingerprint({"/d": {"f": same}})
    changed = content[:-1] + b"\0"
    assert image_fingerprint({"/d": {"f": content}}) != image_fingerprint({"/d": {"f": changed}})


def test_a_mutable_content_is_fingerprinted_as_it_is_now():
    content = bytearray(b"abcd")
    before = image_fingerprint({"/d": {"f": content}})
    content[0] = ord("z")
    assert image_fingerprint({"/d": {"f": content}}) != before
