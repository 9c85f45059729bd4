"""Snapshots: the whole keyspace as of one LSN, replaced atomically.

Writing follows the only safe recipe for replacing a file: write a temp file, fsync it, rename
it over the final name, fsync the directory. Until that last fsync returns the new snapshot
may vanish in a power loss, so the caller removes the WAL segments it covers only afterwards.

Reading either returns every entry or raises CorruptDataError naming the offset: a snapshot is
used whole or not at all.
"""

from __future__ import annotations

import os
import zlib

from tornwrite.engine.codec import LineError, decode_entry, encode_entry
from tornwrite.engine.errors import CorruptDataError, SnapshotError
from tornwrite.engine.format import (
    READ_VERSIONS,
    SNAPSHOT_END,
    SNAPSHOT_MAGIC,
    TMP_SUFFIX,
    Entries,
    parse_name,
    snapshot_header,
    snapshot_name,
)
from tornwrite.engine.io import IOLayer

_CHUNK = 1 << 20  # bytes per write: bounds the memory a large snapshot needs


def write_snapshot(io: IOLayer, directory: str, lsn: int, entries: Entries) -> str:
    """Make `entries` the durable snapshot at `lsn`; returns its path. SnapshotError on I/O error."""
    final = os.path.join(directory, snapshot_name(lsn))
    temp = final + TMP_SUFFIX
    try:
        handle = io.create(temp, "snapshot.create")
    except OSError as exc:
        raise SnapshotError(f"cannot create {temp}: {exc}") from exc
    try:
        crc = 0
        buffer = [snapshot_header(lsn)]
        buffered = len(buffer[0])
        for key in sorted(entries):  # sorted: equal states give byte-identical snapshots
            value, expire_at = entries[key]
            line = encode_entry(key, value, expire_at)
            buffer.append(line)
            buffered += len(line)
            if buffered >= _CHUNK:
                chunk = b"".join(buffer)
                io.write(handle, chunk, "snapshot.write")
                crc = zlib.crc32(chunk, crc)
                buffer, buffered = [], 0
        chunk = b"".join(buffer)
        crc = zlib.crc32(chunk, crc)
        io.write(handle, chunk + b"%s %d %08x\n" % (SNAPSHOT_END.encode(), len(entries), crc), "snapshot.write")
        io.fsync(handle, "snapshot.fsync")
    except OSError as exc:
        _abandon(io, handle, temp)
        raise SnapshotError(f"writing {temp} failed: {exc}") from exc
    try:
        io.close(handle, "snapshot.close")
    except OSError as exc:
        _unlink_quietly(io, temp)
        raise SnapshotError(f"closing {temp} failed: {exc}") from exc
    try:
        io.rename(temp, final, "snapshot.rename")
    except OSError as exc:
        _unlink_quietly(io, temp)
        raise SnapshotError(f"renaming {temp} failed: {exc}") from exc
    try:
        io.fsync_dir(directory)
    except OSError as exc:
        # The rename may or may not be durable, so the WAL it covers must stay; the snapshot
        # file itself is valid and may stay too: recovery skips the records it covers.
        raise SnapshotError(f"fsync of {directory} after renaming {final} failed: {exc}") from exc
    return final


def _abandon(io: IOLayer, handle: object, temp: str) -> None:
    try:
        io.close(handle, "snapshot.close")
    except OSError:
        pass
    _unlink_quietly(io, temp)


def _unlink_quietly(io: IOLayer, path: str) -> None:
    # Best effort: a temp file left behind is removed by the next recovery anyway.
    try:
        io.unlink(path, "snapshot.cleanup")
    except OSError:
        pass


def remove_covered(io: IOLayer, directory: str, lsn: int, live_segment: int) -> None:
    """Delete what the durable snapshot at `lsn` makes redundant: older snapshots and the WAL
    segments before `live_segment` (the one new records go to), then fsync the directory.
    SnapshotError if that fails (the snapshot itself stands; the next open removes them)."""
    try:
        doomed = []
        for name in sorted(io.listdir(directory, "snapshot.listdir")):
            parsed = parse_name(name)
            if parsed is None or parsed[2]:
                continue
            kind, first, _ = parsed
            if (kind == "wal" and first < live_segment) or (kind == "snapshot" and first < lsn):
                doomed.append((os.path.join(directory, name), f"{kind}.unlink"))
        for path, label in doomed:
            io.unlink(path, label)
        if doomed:
            io.fsync_dir(directory)
    except OSError as exc:
        raise SnapshotError(
            f"the snapshot at LSN {lsn} is durable, but removing the files it "
            f"covers failed: {exc}; the next open removes them"
        ) from exc


def read_snapshot(path: str, data: bytes, lsn: int) -> Entries:
    """Every entry of a snapshot whose name says `lsn`; CorruptDataError if any part is damaged."""
    version = next((v for v in READ_VERSIONS if data.startswith(snapshot_header(lsn, v))), None)
    if version is None:
        first = data.split(b"\n", 1)[0].decode("ascii", "replace").split(" ")
        if first[0] == SNAPSHOT_MAGIC and len(first) > 1 and first[1] not in [str(v) for v in READ_VERSIONS]:
            raise CorruptDataError(f"unknown snapshot format version {first[1]!r}", path=path, offset=0)
        raise CorruptDataError("bad snapshot header", path=path, offset=0)
    header = snapshot_header(lsn, version)
    entries: Entries = {}
    pos = len(header)
    while True:
        newline = data.find(b"\n", pos)
        if newline < 0:
            raise CorruptDataError("snapshot ends without its END line (torn)", path=path, offset=pos)
        line = data[pos : newline + 1]
        if line.startswith(SNAPSHOT_END.encode() + b" "):
            _check_end(path, data, pos, line, len(entries))
            return entries
        try:
            key, value, expire_at = decode_entry(line, version)
        except LineError as exc:
            raise CorruptDataError(f"bad snapshot entry: {exc}", path=path, offset=pos) from None
        if key in entries:
            raise CorruptDataError(f"key {key!r} appears twice", path=path, offset=pos)
        entries[key] = (value, expire_at)
        pos = newline + 1


def _check_end(path: str, data: bytes, pos: int, line: bytes, count: int) -> None:
    expected = b"%s %d %08x\n" % (SNAPSHOT_END.encode(), count, zlib.crc32(data[:pos]))
    if line != expected:
        raise CorruptDataError(
            "END line does not match the entries (count or whole-file checksum)", path=path, offset=pos
        )
    if pos + len(line) != len(data):
        raise CorruptDataError("bytes after the END line", path=path, offset=pos + len(line))
