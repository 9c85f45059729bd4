"""Helpers of the damage kind that know the format: whole-record damage, and the quarantine check.

Byte-level damage almost never moves exactly one whole record, yet that is the damage a replay
ignoring the LSN sequence would get wrong (a duplicated `rpush` applied twice, silently). So
these damages move whole record lines and leave every checksum valid; only the LSN sequence
(docs/FORMAT.md, "Recovery" rule 4) tells recovery that something is wrong:

- `record-duplicate`: a record repeated right after itself;
- `record-drop`: a record removed (a hole in the LSNs);
- `record-swap`: a record swapped with the next one;
- `record-splice`: a record of another segment inserted (its LSN belongs elsewhere);
- `record-older-run`: a record from an older run of the workload, with its own LSN, inserted.

Recovery must refuse by name or recover a state the op model allows; either way, every
checksummed record it discards must be in quarantine/ byte for byte (`quarantine_problem`).
"""

from __future__ import annotations

import logging
import os
import random
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from tornwrite.engine import IOEvent, IOLayer, RecoveryReport
from tornwrite.engine.wal import count_checksummed_lines
from tornwrite.faultinject.core.execution import DATA_DIR, Progress, run
from tornwrite.faultinject.core.simdisk import Image, SimDisk
from tornwrite.faultinject.core.workloads import Workload
from tornwrite.models.format_reader import read_files

RECOVERY_LOGGER = "tornwrite.engine.recovery"
RECORD_DAMAGES = ("record-duplicate", "record-drop", "record-swap", "record-splice", "record-older-run")
QUARANTINE = "quarantine"  # docs/FORMAT.md, "Quarantine"


def record_lines(data: bytes) -> tuple[bytes, list[bytes]]:
    """(header line, record lines with their newlines) of a WAL segment."""
    header_end = data.find(b"\n") + 1
    return data[:header_end], data[header_end:].splitlines(keepends=True)


@dataclass(frozen=True)
class RecordSource:
    """A run's files at the instant the log held the most records recovery replays, and every
    segment the run ever wrote (deleted ones included): the donors of spliced-in records."""

    image: Image
    final: Image  # the files the complete run leaves
    progress: Progress
    segments: dict[str, list[bytes]]  # segment name -> its record lines, as last seen


def record_source(workload: Workload) -> RecordSource:
    """Run `workload` to its end, watching for the instant with the most live WAL records.

    A run's final image may hold one record or none (snapshots delete the segments they cover);
    just before a snapshot's rename, the segments it will cover are still the whole log.
    """
    disk = SimDisk()
    best: list[tuple[int, Image]] = []
    segments: dict[str, list[bytes]] = {}

    def consider(image: Image) -> None:
        segments.update(_records_by_segment(image.get(DATA_DIR, {})))
        live = read_files(image.get(DATA_DIR, {})).records_applied
        if not best or live > best[0][0]:
            best[:] = [(live, image)]

    def on_step(event: IOEvent, _step: int, _progress: Progress) -> None:
        if event.phase == "before" and event.label in ("snapshot.rename", "wal.unlink"):
            consider(disk.process_crash_image())

    progress = run(workload, IOLayer(disk), DATA_DIR, on_step)
    final = disk.process_crash_image()
    consider(final)
    return RecordSource(best[0][1], final, progress, segments)


def _first_lsn(segment: str) -> int:
    return int(segment[len("wal-") : -len(".log")])


def _lsn(line: bytes) -> int:
    return int(line.split(b" ", 2)[1])


def _records_by_segment(files: dict[str, bytes]) -> dict[str, list[bytes]]:
    return {name: record_lines(data)[1] for name, data in sorted(files.items()) if name.startswith("wal-")}


def damage_records(
    source: RecordSource, kind: str, rng: random.Random, older: RecordSource | None = None
) -> tuple[str, str, Image] | None:
    """(description, file damaged, damaged image) of `source.image`, or None when it has no
    record to move. `older` is an older run of a workload: the donor of `record-older-run`."""
    image = source.image
    segments = _records_by_segment(image[DATA_DIR])
    inserting = kind in ("record-splice", "record-older-run")
    least = 0 if inserting else 2 if kind == "record-swap" else 1
    candidates = [name for name, lines in segments.items() if len(lines) >= least]
    if not candidates:
        return None
    name = rng.choice(candidates)
    header, lines = record_lines(image[DATA_DIR][name])
    at = rng.randrange(len(lines) + 1 if inserting else len(lines) - (kind == "record-swap"))
    if kind == "record-duplicate":
        lines.insert(at + 1, lines[at])
        what = f"record {at + 1} of {len(lines) - 1} duplicated"
    elif kind == "record-drop":
        del lines[at]
        what = f"record {at + 1} of {len(lines) + 1} dropped"
    elif kind == "record-swap":
        lines[at], lines[at + 1] = lines[at + 1], lines[at]
        what = f"records {at + 1} and {at + 2} of {len(lines)} swapped"
    else:
        if kind == "record-older-run":
            # Not the LSN due at that point: format 1 has no run identity, so such a record is
            # indistinguishable from the right one (design 9: disk corruption is not covered).
            due = _first_lsn(name) + at
            donors = older.segments if older is not None else {}
            pool = [(other, line) for other, others in donors.items() for line in others if _lsn(line) != due]
        else:
            pool = [(other, line) for other, others in source.segments.items() if other != name for line in others]
        if not pool:
            return None
        other, donor = rng.choice(pool)
        lines.insert(at, donor)
        origin = f"an older run's {other}" if kind == "record-older-run" else other
        what = f"a record of {origin} inserted at record {at + 1} of {len(lines)}"
    damaged = {path: dict(entries) for path, entries in image.items()}
    damaged[DATA_DIR][name] = header + b"".join(lines)
    return f"{kind}: {what}", name, damaged


def quarantine_problem(
    damaged: Image, recovered: Image, report: RecoveryReport, directory: str = DATA_DIR
) -> str | None:
    """Why the quarantine does not hold every byte recovery discarded, or None.

    `recovered` is the durable image after recovery: a copy that a power loss could still drop
    does not count. Checked both from the report (each stretch, a torn tail's too, has its
    copy, byte for byte) and from the files (a segment cut shorter lost nothing not in a copy).
    """
    before = damaged.get(directory, {})
    after = recovered.get(directory, {})
    kept = recovered.get(os.path.join(directory, QUARANTINE), {})
    for stretch in report.discarded:
        name = os.path.basename(stretch.path)
        lost = before[name][stretch.offset :]
        if stretch.records != count_checksummed_lines(lost, 0):
            return f"{name} at {stretch.offset}: reported {stretch.records} records, the bytes hold another count"
        copy = os.path.basename(stretch.quarantine or "")
        if not copy or kept.get(copy) != lost:
            what = f"the discarded bytes ({stretch.records} record(s))"
            return f"{name} at {stretch.offset}: {what} are not in quarantine byte for byte"
    for name, data in before.items():
        if not name.startswith("wal-") or name not in after or len(after[name]) >= len(data):
            continue
        cut = len(after[name])
        if data[cut:] not in kept.values():
            return f"{name} was cut at {cut} and the bytes after it are not in quarantine"
    return None


class _Collect(logging.Handler):
    def __init__(self, caught: list[logging.LogRecord]):
        super().__init__(logging.WARNING)
        self.caught = caught

    def emit(self, record: logging.LogRecord) -> None:
        self.caught.append(record)


@contextmanager
def recovery_warnings() -> Iterator[list[logging.LogRecord]]:
    """Collect what recovery logs, instead of printing it: damage cases expect its warnings."""
    logger = logging.getLogger(RECOVERY_LOGGER)
    caught: list[logging.LogRecord] = []
    handler = _Collect(caught)
    logger.addHandler(handler)
    propagate, logger.propagate = logger.propagate, False
    try:
        yield caught
    finally:
        logger.removeHandler(handler)
        logger.propagate = propagate


def warning_problem(report: RecoveryReport, caught: list[logging.LogRecord]) -> str | None:
    """Why some damage recovery discarded went without a warning naming its file, offset and count."""
    messages = [record.getMessage() for record in caught if record.levelno >= logging.WARNING]
    for stretch in report.discarded:
        if not stretch.damage:
            continue
        named = (stretch.path, f"offset {stretch.offset}", f"{stretch.records} checksummed record(s)")
        if not any(all(part in message for part in named) for message in messages):
            return f"{os.path.basename(stretch.path)} at {stretch.offset}: discarded without a warning naming it"
    return None
