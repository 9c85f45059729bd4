"""Recovery: rebuild the keyspace from the newest snapshot plus the WAL records after it.

Two phases, so that a failure part-way changes nothing it should not:
1. `scan` reads every file and decides, without writing anything: which snapshot, which records
   replay, where the log stops and why, and the repairs that follow.
2. `repair` carries those repairs out through the I/O layer: copy every discarded stretch
   into the quarantine (engine/quarantine.py), durably, before anything else, so that recovery
   never destroys a byte it removes; then truncate the torn tail durably, remove what is dead (segments past the
   stop, segments the snapshot covers, older snapshots, leftover temp files), fsync the directory.
Both are idempotent: a crash during `repair` leaves files that scan to the same decision.

What is discarded is either a crash's residue or damage (docs/FORMAT.md, "Recovery" rule 5):
residue is only ever the very end of the log, a torn header or a prefix of the last record
(maybe zero-filled), as docs/CRASH-MODEL.md says a crash leaves; anything else is damage.

Recovery policies (named as RocksDB names its WAL recovery modes, docs/FORMAT.md):
- "point-in-time" (default): stop at the first bad record and discard everything after it,
  kept in the quarantine; damage also logs a warning.
- "tolerate-corrupted-tail" (`strict=True`): as above for a crash's residue; damage means
  something other than a crash broke the log, and opening is refused with CorruptDataError.
"""

from __future__ import annotations

import logging
import os
import time
from dataclasses import dataclass, field, replace

from tornwrite.engine.errors import CorruptDataError
from tornwrite.engine.format import FORMAT_VERSION, LOCK_NAME, parse_name
from tornwrite.engine.io import IOLayer
from tornwrite.engine.keyspace import Keyspace, ReplayError
from tornwrite.engine.quarantine import QUARANTINE_DIR, keep, leftovers
from tornwrite.engine.snapshot import read_snapshot
from tornwrite.engine.wal import SegmentScan, Wal, count_checksummed_lines, scan_segment

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Discarded:
    """A stretch of log that recovery threw away, and why; and where its bytes were kept."""

    path: str
    offset: int
    nbytes: int
    records: int  # whole checksummed lines in the stretch (0 for a torn tail)
    reason: str
    quarantine: str | None = None  # the copy of its bytes; None before repair
    damage: bool = True  # False only for a crash's residue at the very end of the log


@dataclass(frozen=True)
class RecoveryReport:
    snapshot: str | None  # path of the snapshot loaded
    snapshot_lsn: int  # the LSN it covers (0: none)
    records_replayed: int
    last_lsn: int  # the LSN of the last record in the recovered state
    discarded: tuple[Discarded, ...]  # each with the quarantine copy of its bytes, if it held records
    removed: tuple[str, ...]  # files deleted: dead segments, old snapshots, temp files (quarantine's too)
    seconds: float


@dataclass
class Scan:
    """Everything recovery decided, before it has changed anything."""

    keyspace: Keyspace
    snapshot: str | None = None
    snapshot_lsn: int = 0
    snapshot_entries: int = 0
    last_lsn: int = 0
    replayed: int = 0
    discarded: list[Discarded] = field(default_factory=list)
    truncate: tuple[str, int] | None = None  # (segment, length) to cut the torn tail back to
    unlink: list[tuple[str, str]] = field(default_factory=list)  # (path, label)
    replayed_from: list[str] = field(default_factory=list)  # segments whose records the state holds
    append_to: SegmentScan | None = None  # the last good segment, which new records extend
    quarantine_leftovers: list[str] = field(default_factory=list)  # temp copies a crash interrupted


def scan(io: IOLayer, directory: str) -> Scan:
    """Read the directory and decide; CorruptDataError where no safe decision exists."""
    snapshots: dict[int, str] = {}
    segments: dict[int, str] = {}
    temps: list[str] = []
    for name in sorted(io.listdir(directory, "recovery.listdir")):
        parsed = parse_name(name)
        path = os.path.join(directory, name)
        if name == LOCK_NAME or (name == QUARANTINE_DIR and io.is_dir(path)):
            continue
        if parsed is None:
            raise CorruptDataError(
                "a file RedisLite did not write is in its directory; move it away and open again", path=path
            )
        kind, lsn, is_temp = parsed
        if is_temp:
            temps.append(path)  # a snapshot that never reached its rename
        elif kind == "snapshot":
            snapshots[lsn] = path
        else:
            segments[lsn] = path

    result = Scan(Keyspace())
    result.unlink += [(path, "snapshot.cleanup") for path in temps]
    result.quarantine_leftovers = leftovers(io, directory)
    if snapshots:
        lsn = max(snapshots)
        result.snapshot, result.snapshot_lsn = snapshots[lsn], lsn
        result.keyspace = Keyspace(read_snapshot(snapshots[lsn], io.read(snapshots[lsn], "snapshot.read"), lsn))
        result.snapshot_entries = len(result.keyspace.data)
        result.unlink += [(snapshots[old], "snapshot.unlink") for old in sorted(snapshots) if old != lsn]
    result.last_lsn = result.snapshot_lsn
    _replay(io, result, segments)
    return result


def _replay(io: IOLayer, result: Scan, segments: dict[int, str]) -> None:
    firsts = sorted(segments)
    # A segment whose successor starts at or before snapshot_lsn + 1 holds only covered records.
    live = [lsn for i, lsn in enumerate(firsts) if i + 1 == len(firsts) or firsts[i + 1] > result.snapshot_lsn + 1]
    result.unlink += [(segments[lsn], "wal.unlink") for lsn in firsts if lsn not in live]
    if live and live[0] > result.snapshot_lsn + 1:
        raise CorruptDataError(
            f"the log starts at LSN {live[0]} but nothing holds LSNs {result.snapshot_lsn + 1}..{live[0] - 1}",
            path=segments[live[0]],
            offset=0,
        )
    due: int | None = None  # the LSN the next segment must start at
    tail: SegmentScan | None = None  # the last segment with a good header
    for first in live:
        path = segments[first]
        data = io.read(path, "wal.read")
        if result.discarded:
            # Everything after the first stop goes, whatever it holds.
            _discard(result, path, data, 0, "follows an earlier stop in the log")
            continue
        segment = scan_segment(path, data, first)
        if segment.fatal:
            raise CorruptDataError(segment.damage or "unreadable segment header", path=path, offset=0)
        if not segment.header_ok or (due is not None and first != due):
            gap = due is not None and first != due
            reason = segment.damage if not gap else f"segment starts at LSN {first} but LSN {due} was due"
            # A torn header is residue only in the newest segment: nothing is written after it.
            _discard(result, path, data, 0, reason or "", residue=segment.residue and not gap and first == live[-1])
            continue
        for offset, lsn, op, args in segment.records:
            if lsn > result.snapshot_lsn:
                try:
                    result.keyspace.replay(op, args)
                except ReplayError as exc:
                    raise CorruptDataError(
                        f"record LSN {lsn} contradicts the state before it: {exc}", path=path, offset=offset
                    ) from None
                result.replayed += 1
                result.last_lsn = lsn
        due = segment.next_lsn
        tail = segment
        result.replayed_from.append(path)
        if segment.damage is not None:
            # A torn record is residue only at the very end of the log: each record is fsynced
            # before the next is written, so a crash tears at most the last one.
            residue = segment.residue and first == live[-1]
            _discard(result, path, data, segment.end, segment.damage, unlink=False, residue=residue)
            result.truncate = (path, segment.end)
    old_and_empty = tail is not None and tail.version != FORMAT_VERSION and not tail.records
    if tail is not None and (tail.next_lsn != result.last_lsn + 1 or old_and_empty):
        # Every record in it is covered by the snapshot, or it holds none in an older version
        # (never appended to: FORMAT.md "Recovery" rule 8): new records start a segment of their own.
        result.unlink.append((tail.path, "wal.unlink"))
        result.replayed_from.remove(tail.path)
        result.truncate = None
        tail = None
    result.append_to = tail


def _discard(
    result: Scan, path: str, data: bytes, offset: int, reason: str, *, unlink: bool = True, residue: bool = False
) -> None:
    records = count_checksummed_lines(data, offset)
    result.discarded.append(Discarded(path, offset, len(data) - offset, records, reason, damage=not residue))
    if unlink:
        result.unlink.append((path, "wal.unlink"))


def recover(io: IOLayer, directory: str, *, strict: bool) -> tuple[Keyspace, int, Wal, RecoveryReport]:
    """Open-time recovery: (keyspace, next LSN, WAL writer, report). CorruptDataError refuses."""
    started = time.perf_counter()
    result = scan(io, directory)
    if strict:
        refusal = strict_refusal(result)
        if refusal is not None:
            raise refusal
    wal = repair(io, directory, result)
    report = RecoveryReport(
        result.snapshot,
        result.snapshot_lsn,
        result.replayed,
        result.last_lsn,
        tuple(result.discarded),
        tuple(path for path, _ in result.unlink) + tuple(result.quarantine_leftovers),
        time.perf_counter() - started,
    )
    return result.keyspace, result.last_lsn + 1, wal, report


def strict_refusal(result: Scan) -> CorruptDataError | None:
    """Why "tolerate-corrupted-tail" refuses this scan: its first damage, by file and offset."""
    for stretch in result.discarded:
        if stretch.damage:
            return CorruptDataError(
                f"damage no crash leaves ({stretch.reason}), {stretch.records} checksummed record(s) "
                "from it on; refusing to discard it in strict mode",
                path=stretch.path,
                offset=stretch.offset,
            )
    return None


def repair(io: IOLayer, directory: str, result: Scan) -> Wal:
    """Carry out the scan's decisions durably; returns the WAL writer positioned after them.

    First every discarded stretch is copied durably into the quarantine (`result.discarded`
    then says where): residue too, so that recovery never destroys a byte it removes. Then
    everything the recovered state rests on is made durable: after a process crash the files
    were read from the page cache, whose bytes and names a power loss could still drop
    (PostgreSQL fsyncs its data directory at startup for the same reason). Only then is the
    torn tail cut and the dead deleted.
    """
    _quarantine(io, directory, result)
    relied_on = ([(result.snapshot, "snapshot.fsync")] if result.snapshot else []) + [
        (path, "wal.fsync") for path in result.replayed_from if path != _path(result.append_to)
    ]
    for path, label in relied_on:
        handle = io.open_append(path, "recovery.open")
        io.fsync(handle, label)
        io.close(handle, "recovery.close")
    tail, handle = result.append_to, None
    if tail is not None:
        handle = io.open_append(tail.path, "wal.open")
        if result.truncate is not None:
            io.truncate(handle, result.truncate[1], "wal.truncate")
        io.fsync(handle, "wal.fsync")
    if relied_on or handle is not None:
        io.fsync_dir(directory)  # their names: a rename or create the crash left unsynced
    for path, label in result.unlink:
        io.unlink(path, label)
    if result.unlink:
        io.fsync_dir(directory)
    if tail is not None:
        wal = Wal(io, directory, handle, tail.first_lsn, tail.end)
        # An older version's segment is never appended to: one file, one encoding (rule 8).
        return wal if tail.version == FORMAT_VERSION else wal.rotate(result.last_lsn + 1)
    return Wal.create_segment(io, directory, result.last_lsn + 1)


def _quarantine(io: IOLayer, directory: str, result: Scan) -> None:
    if not result.discarded and not result.quarantine_leftovers:
        return
    stretches = [(stretch.path, stretch.offset) for stretch in result.discarded]
    for i, copy in enumerate(keep(io, directory, stretches, result.quarantine_leftovers)):
        stretch = result.discarded[i] = replace(result.discarded[i], quarantine=copy)
        if not stretch.damage:
            log.info(
                "%s: cutting a crash's torn tail at offset %d; its bytes are kept in %s",
                stretch.path,
                stretch.offset,
                copy,
            )
            continue
        log.warning(
            "%s: discarding damage and %d checksummed record(s) from offset %d (%d bytes): %s; "
            "their bytes are kept in %s",
            stretch.path,
            stretch.records,
            stretch.offset,
            stretch.nbytes,
            stretch.reason,
            copy,
        )


def _path(segment: SegmentScan | None) -> str | None:
    return segment.path if segment is not None else None
