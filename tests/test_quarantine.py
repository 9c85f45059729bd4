"""The quarantine: recovery keeps, durably and once, the checksummed records it cuts out of the log.

Each test runs on the real file system and on the simulated disk. The damage is one flipped byte
in WAL record 4 of 7, which a crash cannot cause: the point-in-time policy cuts the log there, so
records 5-7 are lost to the state but must be kept byte for byte in quarantine/.
"""

from __future__ import annotations

import logging
import os
import random
from pathlib import Path

import pytest

from tests.support import FakeClock
from tornwrite.engine import CorruptDataError, IOEvent, IOLayer, Store
from tornwrite.engine.codec import encode_record
from tornwrite.engine.format import wal_header, wal_name
from tornwrite.engine.io import DURABLE_OPS
from tornwrite.faultinject.core.simdisk import SimDisk
from tornwrite.models.format_reader import read_directory

RECORDS = 7
DAMAGED = 4  # 1-based: the record whose byte is flipped


class Crash(BaseException):
    """Stops recovery at a chosen step; BaseException so no `except OSError` swallows it."""


class Directory:
    """A data directory on one disk, with raw access to its files for damaging them."""

    def __init__(self, kind: str, tmp_path: Path):
        self.kind = kind
        self.path = str(tmp_path / "data") if kind == "os" else "/sim/data"
        self.disk = SimDisk()

    def io(self) -> IOLayer:
        return IOLayer() if self.kind == "os" else IOLayer(self.disk)

    def open(self, io: IOLayer | None = None, **options) -> Store:
        return Store.open(self.path, io=io or self.io(), clock=FakeClock(), **options)

    def files(self, sub: str = "") -> dict[str, bytes]:
        folder = os.path.join(self.path, sub) if sub else self.path
        if self.kind == "sim":
            return dict(self.disk.process_crash_image().get(folder, {}))
        if not os.path.isdir(folder):
            return {}
        return {name: Path(folder, name).read_bytes() for name in os.listdir(folder) if Path(folder, name).is_file()}

    def quarantine(self) -> dict[str, bytes]:
        return self.files("quarantine")

    def write(self, name: str, data: bytes) -> None:
        if self.kind == "os":
            Path(self.path, name).write_bytes(data)
            return
        image = self.disk.process_crash_image()
        image[self.path][name] = data
        self.disk = SimDisk.from_image(image)


@pytest.fixture(params=["os", "sim"])
def directory(request, tmp_path) -> Directory:
    return Directory(request.param, tmp_path)


def seven_records(directory: Directory) -> list[dict]:
    """Write RECORDS sets, one record each; the state after each number of records (index = count)."""
    store = directory.open()
    states = [store.dump()]
    for i in range(1, RECORDS + 1):
        store.set(f"key-{i}", b"value-%d" % i)
        states.append(store.dump())
    store.close()
    return states


def record_offsets(data: bytes) -> list[int]:
    offsets, pos = [], data.index(b"\n") + 1
    while pos < len(data):
        offsets.append(pos)
        pos = data.index(b"\n", pos) + 1
    return offsets


def flip_record(directory: Directory, number: int) -> tuple[bytes, int]:
    """Flip a byte inside record `number` (1-based); (the damaged segment, that record's offset)."""
    name = wal_name(1)
    data = bytearray(directory.files()[name])
    offset = record_offsets(bytes(data))[number - 1]
    data[offset + 12] ^= 0x01  # inside the body: the line stays whole but fails its checksum
    directory.write(name, bytes(data))
    return bytes(data), offset


def test_flipped_byte_in_record_4_of_7_keeps_records_5_to_7_in_quarantine_byte_for_byte(directory, caplog):
    states = seven_records(directory)
    damaged, offset = flip_record(directory, DAMAGED)
    with caplog.at_level(logging.WARNING, logger="tornwrite.engine.recovery"):
        store = directory.open()
    assert store.dump() == states[DAMAGED - 1]
    [stretch] = store.recovery.discarded
    store.close()
    kept = directory.quarantine()
    segment_path = os.path.join(directory.path, wal_name(1))
    assert list(kept) == [f"{wal_name(1)}@{offset}.1"]
    assert kept[f"{wal_name(1)}@{offset}.1"] == damaged[offset:]
    for line in damaged[offset:].splitlines(keepends=True)[1:]:  # records 5-7, each whole and verbatim
        assert line in kept[f"{wal_name(1)}@{offset}.1"]
    assert (stretch.path, stretch.offset, stretch.records) == (segment_path, offset, RECORDS - DAMAGED)
    assert stretch.quarantine == os.path.join(directory.path, "quarantine", f"{wal_name(1)}@{offset}.1")
    [warning] = [r for r in caplog.records if r.name == "tornwrite.engine.recovery"]
    message = warning.getMessage()
    assert warning.levelno == logging.WARNING
    assert segment_path in message and f"offset {offset}" in message and "3 checksummed record(s)" in message


def test_torn_tail_is_cut_after_its_bytes_are_quarantined_without_a_warning(directory, caplog):
    states = seven_records(directory)
    name = wal_name(1)
    data = directory.files()[name]
    directory.write(name, data[:-5])  # the last record torn, as a crash leaves it
    with caplog.at_level(logging.WARNING, logger="tornwrite.engine.recovery"):
        store = directory.open()
    assert store.dump() == states[RECORDS - 1]
    [stretch] = store.recovery.discarded
    store.close()
    assert stretch.records == 0 and not stretch.damage
    offset = len(data) - len(data[data.rstrip(b"\n").rfind(b"\n") + 1 :])
    assert directory.quarantine() == {f"{name}@{offset}.1": data[offset:-5]} and not caplog.records


def test_reopening_twice_does_not_copy_again(directory):
    states = seven_records(directory)
    damaged, offset = flip_record(directory, DAMAGED)
    directory.open().close()
    for _ in range(2):
        with directory.open() as store:
            assert store.dump() == states[DAMAGED - 1] and store.recovery.discarded == ()
    assert directory.quarantine() == {f"{wal_name(1)}@{offset}.1": damaged[offset:]}


def test_new_damage_at_an_offset_already_quarantined_gets_its_own_copy(directory):
    seven_records(directory)
    first, offset = flip_record(directory, DAMAGED)
    with directory.open() as store:  # cuts the log at record 4; new records go where it was
        for i in range(3):
            store.set(f"later-{i}", b"x")
    second, again = flip_record(directory, DAMAGED)
    assert again == offset and second[offset:] != first[offset:]
    with directory.open() as store:
        assert store.recovery.discarded[0].records == 2
    assert directory.quarantine() == {
        f"{wal_name(1)}@{offset}.1": first[offset:],
        f"{wal_name(1)}@{offset}.2": second[offset:],
    }


def test_strict_mode_refuses_and_quarantines_nothing(directory):
    seven_records(directory)
    damaged, offset = flip_record(directory, DAMAGED)
    with pytest.raises(CorruptDataError) as refused:
        directory.open(strict=True)
    assert refused.value.offset == offset
    assert directory.quarantine() == {} and directory.files()[wal_name(1)] == damaged


def test_a_whole_segment_after_an_earlier_stop_is_quarantined_before_it_is_deleted(directory):
    states = seven_records(directory)
    damaged, offset = flip_record(directory, DAMAGED)
    later = wal_header(RECORDS + 1) + b"".join(
        encode_record(lsn, "set", (f"key-{lsn}", b"v", None)) for lsn in (RECORDS + 1, RECORDS + 2)
    )
    directory.write(wal_name(RECORDS + 1), later)
    with directory.open() as store:
        assert store.dump() == states[DAMAGED - 1]
        lost = [(os.path.basename(d.path), d.offset, d.records) for d in store.recovery.discarded]
    assert lost == [(wal_name(1), offset, RECORDS - DAMAGED), (wal_name(RECORDS + 1), 0, 2)]
    assert directory.quarantine() == {
        f"{wal_name(1)}@{offset}.1": damaged[offset:],
        f"{wal_name(RECORDS + 1)}@0.1": later,
    }
    assert wal_name(RECORDS + 1) not in directory.files()


# --- crashes while copying ---------------------------------------------------------------------------------


def durable_steps(directory: Directory) -> list[IOEvent]:
    """The durable steps of recovering the damaged simulated `directory`, from a dry run on a copy."""
    steps: list[IOEvent] = []
    io = IOLayer(SimDisk.from_image(directory.disk.process_crash_image()))
    io.hooks.append(lambda event: steps.append(event) if event.phase == "before" and event.op in DURABLE_OPS else None)
    directory.open(io=io).close()
    return steps


def crash_at(number: int, phase: str):
    count = [0]

    def hook(event: IOEvent) -> None:
        if event.op not in DURABLE_OPS:
            return
        if event.phase == "before":
            count[0] += 1
        if count[0] == number and event.phase == phase:
            raise Crash(f"{phase} step {number}: {event.label}")

    return hook


def assert_kept_once(directory: Directory, states: list[dict], damaged: bytes, offset: int) -> None:
    """Recovery of whatever the crash left gives the state before the damage and one copy of
    the stretch; a further open changes neither."""
    for _ in range(2):
        with directory.open() as store:
            assert store.dump() == states[DAMAGED - 1]
        assert directory.quarantine() == {f"{wal_name(1)}@{offset}.1": damaged[offset:]}


@pytest.mark.parametrize("phase", ["before", "after"])
def test_process_crash_at_each_step_of_the_copy_never_loses_the_records(tmp_path, phase):
    # Steps counted on the simulated disk; the same recovery on the real one has the same steps.
    sim = Directory("sim", tmp_path)
    seven_records(sim)
    flip_record(sim, DAMAGED)
    steps = durable_steps(sim)
    labels = [event.label for event in steps]
    assert {"quarantine.create", "quarantine.write", "quarantine.fsync", "quarantine.rename"} <= set(labels)
    assert labels.index("quarantine.rename") < labels.index("wal.truncate")
    for kind in ("sim", "os"):
        for number in range(1, len(steps) + 1):
            directory = Directory(kind, tmp_path / f"{kind}-{phase}-{number}")
            states = seven_records(directory)
            damaged, offset = flip_record(directory, DAMAGED)
            io = directory.io()
            io.hooks.append(crash_at(number, phase))
            with pytest.raises(Crash):
                directory.open(io=io)
            if kind == "sim":
                directory.disk = directory.disk.after_process_crash()
            assert_kept_once(directory, states, damaged, offset)


def test_power_loss_at_each_step_of_the_recovery_never_loses_the_records(tmp_path):
    base = Directory("sim", tmp_path)
    states = seven_records(base)
    damaged, offset = flip_record(base, DAMAGED)
    image = base.disk.process_crash_image()
    rng = random.Random(12)
    checked = 0
    for number in range(1, len(durable_steps(base)) + 1):
        for phase in ("before", "after"):
            disk = SimDisk.from_image(image)
            io = IOLayer(disk)
            io.hooks.append(crash_at(number, phase))
            with pytest.raises(Crash):
                Store.open(base.path, io=io, clock=FakeClock())
            for state in disk.power_loss_states(rng):
                directory = Directory("sim", tmp_path)
                directory.disk = SimDisk.from_image(state.image)
                assert_kept_once(directory, states, damaged, offset)
                checked += 1
    assert checked > 20  # every step, and several power-loss images at most of them


def test_format_reader_reads_a_directory_with_a_quarantine_as_recovery_left_it(tmp_path):
    directory = Directory("os", tmp_path)
    states = seven_records(directory)
    flip_record(directory, DAMAGED)
    directory.open().close()
    reading = read_directory(directory.path)
    assert reading.refused is None and reading.stop is None
    assert reading.view(FakeClock()()) == states[DAMAGED - 1]
