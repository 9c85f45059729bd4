"""Damage that knows the format: whole records moved with their checksums intact must be refused
by name or recovered to a prefix of the workload, with every discarded record in quarantine."""

from __future__ import annotations

import logging
import os
import random
from dataclasses import dataclass, replace

import pytest

from tornwrite.engine import CorruptDataError, IOLayer, Store
from tornwrite.engine import recovery as engine_recovery
from tornwrite.engine.codec import LineError, decode_record, unframe
from tornwrite.engine.wal import SegmentScan, scan_segment
from tornwrite.faultinject.core import workloads
from tornwrite.faultinject.core.execution import DATA_DIR, FakeClock
from tornwrite.faultinject.core.simdisk import SimDisk
from tornwrite.faultinject.kinds.damage_records import (
    RECORD_DAMAGES,
    RecordSource,
    damage_records,
    quarantine_problem,
    record_lines,
    record_source,
    recovery_warnings,
    warning_problem,
)
from tornwrite.models.checker import Oracle

CASES = 6


@dataclass(frozen=True)
class Run:
    oracle: Oracle
    source: RecordSource
    older: RecordSource
    ops: int


@pytest.fixture(scope="module")
def run() -> Run:
    # Snapshots start new segments: the donors of record-splice.
    workload = workloads.build("snapshot-heavy", 3, 50)
    older = record_source(workloads.build("snapshot-heavy", 4, 50))
    return Run(Oracle(list(workload.ops), workload.start_time), record_source(workload), older, len(workload.ops))


def cases(run: Run, kind: str, count: int = CASES):
    for case in range(count):
        damaged = damage_records(run.source, kind, random.Random(f"{kind}/{case}"), run.older)
        if damaged is not None:
            yield damaged


def recover(run: Run, image) -> tuple[dict | None, object, SimDisk]:
    """(state, report, disk) after opening `image`; state None when recovery refused by name."""
    disk = SimDisk.from_image(image)
    try:
        store = Store.open(DATA_DIR, io=IOLayer(disk), clock=FakeClock(run.source.progress.clock.now))
    except CorruptDataError as refused:
        assert refused.path is not None
        return None, None, disk
    state = store.dump()
    store.close()
    return state, store.recovery, disk


def is_prefix(run: Run, state: dict) -> bool:
    now = run.source.progress.clock.now
    return any(run.oracle.view(prefix, now) == state for prefix in range(run.ops + 1))


@pytest.mark.parametrize("kind", RECORD_DAMAGES)
def test_record_damage_moves_whole_lines_and_keeps_every_checksum(run, kind):
    seen = 0
    for _, name, image in cases(run, kind):
        _, lines = record_lines(image[DATA_DIR][name])
        assert all(unframe(line) for line in lines)  # LineError would fail the test
        assert image[DATA_DIR][name] != run.source.image[DATA_DIR][name]
        seen += 1
    assert seen == CASES


@pytest.mark.parametrize("kind", RECORD_DAMAGES)
def test_record_damage_recovers_a_prefix_and_quarantines_every_discarded_record_loudly(run, kind):
    for description, _, image in cases(run, kind):
        with recovery_warnings() as caught:
            state, report, disk = recover(run, image)
        if state is None:
            continue
        assert is_prefix(run, state), description
        assert quarantine_problem(image, disk.durable_image(), report) is None, description
        assert warning_problem(report, caught) is None, description


def test_quarantine_check_sees_a_missing_or_altered_copy(run, caplog):
    caplog.set_level(logging.ERROR, logger="tornwrite.engine.recovery")
    _, _, image = next(cases(run, "record-duplicate"))
    _, report, disk = recover(run, image)
    recovered = disk.durable_image()
    quarantine = f"{DATA_DIR}/quarantine"
    name = os.path.basename(report.discarded[0].quarantine)  # later stretches have copies of their own
    assert quarantine_problem(image, recovered, report) is None
    altered = {**recovered, quarantine: {**recovered[quarantine], name: recovered[quarantine][name][:-1]}}
    assert "not in quarantine byte for byte" in quarantine_problem(image, altered, report)
    unreported = replace(report, discarded=tuple(replace(d, quarantine=None) for d in report.discarded))
    assert quarantine_problem(image, recovered, unreported) is not None
    emptied = {**recovered, quarantine: {}}
    silent = replace(report, discarded=())  # an engine that cut the log and said nothing
    assert "are not in quarantine" in quarantine_problem(image, emptied, silent)
    assert "without a warning" in warning_problem(report, [])


def _scan_ignoring_lsns(path: str, data: bytes, first_lsn: int) -> SegmentScan:
    """The bug record damage exists to catch: every decodable record replays, in file order."""
    scan = scan_segment(path, data, first_lsn)
    if not scan.header_ok:
        return scan
    header, lines = record_lines(data)
    scan.records, pos = [], len(header)
    for line in lines:
        try:
            _, op, args = decode_record(line)
        except LineError:
            break
        scan.records.append((pos, first_lsn + len(scan.records), op, args))
        pos += len(line)
    scan.end, scan.damage = pos, None if pos == len(data) else "bad record"
    return scan


def diverged(run: Run, image) -> bool:
    """Recovered to a state no prefix of the workload had (a refusal by name is allowed)."""
    state = recover(run, image)[0]
    return state is not None and not is_prefix(run, state)


def test_a_replay_that_ignores_the_lsn_sequence_is_caught_by_record_damage(run, monkeypatch, caplog):
    caplog.set_level(logging.ERROR, logger="tornwrite.engine.recovery")
    moved = [image for kind in ("record-duplicate", "record-swap") for _, _, image in cases(run, kind, 30)]
    assert not any(diverged(run, image) for image in moved)
    monkeypatch.setattr(engine_recovery, "scan_segment", _scan_ignoring_lsns)
    assert any(diverged(run, image) for image in moved)
