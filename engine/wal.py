"""The write-ahead log: segments of checksummed, LSN-numbered record lines.

Writing: `Wal.append` writes one record and fsyncs it before returning; only then may the
caller apply the mutation in memory (design invariant 1). A new segment is created, its header
written and fsynced, and the directory fsynced before any record goes into it, so a segment the
log relies on can never vanish in a power loss.

Reading: `scan_segment` walks one segment's bytes and stops at the first line that is torn,
fails its checksum, does not parse or breaks the LSN sequence, and says whether what follows
the stop could be a crash's residue (docs/CRASH-MODEL.md): a prefix of the record being
appended, maybe zero-filled from some point on. The caller decides what that stop means
(docs/FORMAT.md, "Recovery").
"""

from __future__ import annotations

import os
import zlib
from dataclasses import dataclass, field
from typing import Any

from tornwrite.engine.codec import LineError, decode_record, unframe
from tornwrite.engine.format import FORMAT_VERSION, READ_VERSIONS, RECORD_OPS, WAL_MAGIC, wal_header, wal_name
from tornwrite.engine.io import IOLayer


class Wal:
    """The writing end of the log: the newest segment, open for appending."""

    def __init__(self, io: IOLayer, directory: str, handle: Any, first_lsn: int, size: int):
        self.io = io
        self.directory = directory
        self.handle = handle
        self.first_lsn = first_lsn  # the LSN of the segment's first record, as in its name
        self.size = size  # bytes durably in the segment: its header and every record acked

    @classmethod
    def create_segment(cls, io: IOLayer, directory: str, first_lsn: int) -> Wal:
        path = os.path.join(directory, wal_name(first_lsn))
        handle = io.create(path, "wal.create")
        try:
            io.write(handle, wal_header(first_lsn), "wal.header")
            io.fsync(handle, "wal.fsync")
            io.fsync_dir(directory)
        except OSError:
            # Never used, so removing it loses nothing; if even that fails, recovery discards it.
            try:
                io.close(handle, "wal.close")
                io.unlink(path, "wal.unlink")
            except OSError:
                pass
            raise
        return cls(io, directory, handle, first_lsn, len(wal_header(first_lsn)))

    @property
    def path(self) -> str:
        path: str = self.handle.path
        return path

    def append(self, line: bytes) -> None:
        """Write one encoded record and make it durable. OSError means: maybe durable, maybe not."""
        try:
            self.io.write(self.handle, line, "wal.append")
            self.io.fsync(self.handle, "wal.fsync")
        except OSError:
            self._cut_back()
            raise
        self.size += len(line)

    def _cut_back(self) -> None:
        """After a failed write or fsync, take the suspect record back out of the file.

        Its pages may never reach the disk (a failed fsync can drop them while they stay
        readable), so a reopen in this boot would replay from the page cache a record the disk
        may lack, and every record appended after it would then sit behind a hole. The fsync
        here is not a retry: it makes the cut durable; the store refuses writes either way.
        """
        try:
            self.io.truncate(self.handle, self.size, "wal.truncate")
            self.io.fsync(self.handle, "wal.fsync")
        except OSError:
            pass  # nothing more to do: recovery sees a torn tail, or the whole record

    def rotate(self, next_lsn: int) -> Wal:
        """Start a new segment at `next_lsn`; this one is closed once the new one is durable."""
        new = Wal.create_segment(self.io, self.directory, next_lsn)
        self.close()
        return new

    def close(self) -> None:
        self.io.close(self.handle, "wal.close")


@dataclass
class SegmentScan:
    """What one segment holds: its good records, and where and why reading stopped."""

    path: str
    first_lsn: int
    records: list[tuple[int, int, str, tuple[Any, ...]]] = field(default_factory=list)  # (offset, lsn, op, args)
    end: int = 0  # offset just past the last good record: the length the segment should have
    size: int = 0
    damage: str | None = None  # why reading stopped before `size`, None for a clean end
    fatal: bool = False  # damage no crash can cause (foreign file, unknown version): never truncate it
    residue: bool = False  # what follows `end` could be a crash's residue, if nothing follows this segment
    header_ok: bool = False
    version: int = FORMAT_VERSION  # the format version its header names, which decodes its records

    @property
    def next_lsn(self) -> int:
        """The LSN a record appended to this segment would need."""
        return self.first_lsn + len(self.records)


def scan_segment(path: str, data: bytes, first_lsn: int) -> SegmentScan:
    """Read records in order until the data ends or one is bad; never raises on damage."""
    scan = SegmentScan(path, first_lsn, size=len(data))
    version = next((v for v in READ_VERSIONS if data.startswith(wal_header(first_lsn, v))), None)
    if version is None:
        scan.damage, scan.fatal = _describe_header(data, first_lsn)
        scan.residue = not scan.fatal
        return scan
    header = wal_header(first_lsn, version)
    scan.header_ok, scan.version = True, version
    records = scan.records
    pos = len(header)
    expected = first_lsn
    size = len(data)
    while pos < size:
        newline = data.find(b"\n", pos)
        if newline < 0:
            not_torn = _not_a_torn_record(data[pos:], expected)
            scan.damage = (
                f"not a crash's torn record: {not_torn}"
                if not_torn
                else "torn record: no newline before the end of the file"
            )
            scan.residue = not_torn is None
            break
        try:
            lsn, op, args = decode_record(data[pos : newline + 1], version)
        except LineError as exc:
            # A whole line: the newline that ends a record is its last byte, so a crash keeps
            # the newline only with the record whole (docs/CRASH-MODEL.md). So this is damage.
            scan.damage = f"bad record: {exc}"
            break
        if lsn != expected:
            scan.damage = f"out of sequence: LSN {lsn} where {expected} was due"
            break
        records.append((pos, lsn, op, args))
        expected += 1
        pos = newline + 1
    scan.end = pos
    return scan


_HEX = frozenset(b"0123456789abcdef")
_OP_STARTS = tuple(op.encode() + b" [" for op in RECORD_OPS)


def _not_a_torn_record(tail: bytes, lsn: int) -> str | None:
    """Why `tail` (no newline in it) is not what a crash leaves of appending record `lsn`, or None.

    A crash keeps a prefix of the record's line, and may zero-fill it from a sector boundary on
    (its new size reached the disk before its data). So the bytes before any trailing zeros
    must begin as a record `<crc> <lsn> <op> [` does, and must not hold a whole body whose
    checksum matches followed by more bytes: that line would be longer than one record can be.
    """
    kept = tail.rstrip(b"\0")  # no record holds a NUL byte: JSON escapes it
    if b"\0" in kept:
        return "zero bytes followed by data"
    crc, body = kept[:8], kept[9:]
    if not _HEX.issuperset(crc) or kept[8:9] not in (b"", b" "):
        return "it does not start as a record line (<crc> <body>)"
    number = b"%d " % lsn
    if not number.startswith(body[: len(number)]):
        return f"it does not start as record LSN {lsn} would"
    rest = body[len(number) :]
    if rest and not any(start.startswith(rest[: len(start)]) for start in _OP_STARTS):
        return "no record op follows its LSN"
    if len(crc) == 8:
        expected, running, done = int(crc, 16), 0, 0
        end = body.find(b"]")
        while end >= 0 and end + 1 < len(body):
            running, done = zlib.crc32(body[done : end + 1], running), end + 1
            if running == expected:
                return "a whole record followed by more bytes, longer than one record can be"
            end = body.find(b"]", done)
    return None


def _describe_header(data: bytes, first_lsn: int) -> tuple[str, bool]:
    """(why the header is unreadable, whether that is fatal rather than a crash's leftover)."""
    if any(wal_header(first_lsn, v).startswith(data.rstrip(b"\0")) for v in READ_VERSIONS):
        # A crash while the segment was being created (by this engine or an older one): its header
        # (possibly zero-filled, when the file's size reached the disk before its data) was never
        # fsynced, so no record was ever written after it.
        return "torn header: the segment was created but never written", False
    parts = data.split(b"\n", 1)[0].decode("ascii", "replace").split(" ")
    if parts[0] != WAL_MAGIC:
        return "not a RedisLite WAL segment (bad magic)", True
    if len(parts) > 1 and parts[1] not in [str(v) for v in READ_VERSIONS]:
        readable = " and ".join(str(v) for v in READ_VERSIONS)
        return f"unknown format version {parts[1]!r} (this engine reads {readable})", True
    return f"header does not match the file name (first LSN {first_lsn})", True


def count_checksummed_lines(data: bytes, start: int) -> int:
    """How many whole lines from `start` pass their checksum: the records damage would discard."""
    count = 0
    for line in data[start:].splitlines(keepends=True):
        try:
            unframe(line)
        except LineError:
            continue
        count += 1
    return count
