"""The independent format reader: state = newest snapshot + replay of the WAL after it.

Written again from docs/FORMAT.md alone (the design's invariant "memory state == snapshot +
WAL replay" as code), so it can judge the engine's own recovery. It follows FORMAT.md
"Recovery" for what to read, skip, stop at and refuse, but it never changes anything: it
reports where replay stopped instead of truncating, and ignores files recovery would delete.

Guarantees: `read_files` never raises on any content; a damaged directory gives a reading
with `stop` (crash damage: replay ended early) or `refused` (recovery must not open it).
Parsing is strict: a line that does not match the page exactly is a bad line.

This module must never import from engine/: it is the independent second opinion.
"""

from __future__ import annotations

import base64
import json
import math
import os
import re
import zlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tornwrite.models.opmodel import is_expired

Entry = tuple[str, Any, float | int | None]  # (kind, value, expire_at)
State = dict[str, Entry]  # key -> entry: the shape of the op model's states

# Constants of docs/FORMAT.md, version 3; files of versions 1 and 2 are read too ("Versions").
LOCK_NAME = "LOCK"
QUARANTINE_DIR = "quarantine"  # what recovery cut out of the log; never read ("Quarantine")
WAL_MAGIC = b"REDISLITE-WAL"
SNAPSHOT_MAGIC = b"REDISLITE-SNAPSHOT"
VERSIONS = (b"1", b"2", b"3")  # each file is read by the version its header names
OPS = ("set", "del", "rpush", "hset", "hdel", "expire", "persist", "flushall", "append")
NEW_OPS = {"append": b"3"}  # an op that exists only from this version on (versions are one digit)

_FILE_NAME = re.compile(r"wal-([0-9]{20})\.log|snapshot-([0-9]{20})\.snap(\.tmp)?")
_FRAMED_LINE = re.compile(rb"([0-9a-f]{8}) ([^\n]*)")  # <crc> <body>, newline excluded
_END_LINE = re.compile(rb"END (0|[1-9][0-9]*) ([0-9a-f]{8})")
_DIGITS = re.compile(rb"[0-9]+")


@dataclass(frozen=True)
class Stop:
    """Where replay stopped before the end of the log, and why (crash damage, not refusal)."""

    file: str  # basename
    offset: int
    reason: str


@dataclass(frozen=True)
class FormatReading:
    """What a recovery following FORMAT.md would find. When `refused` is set, the rest is
    whatever was read before the refusal and must not be trusted."""

    entries: State  # key -> (kind, value, expire_at), expired keys included
    snapshot_lsn: int  # 0 without a snapshot
    last_lsn: int  # LSN of the last record applied, else snapshot_lsn
    records_applied: int
    stop: Stop | None  # None when the log ended cleanly
    refused: str | None

    def view(self, now: float) -> State:
        """The logical state at `now`, shaped like ``Store.dump()``: live keys, fresh copies."""
        return {
            key: (kind, _copy(value), expire_at)
            for key, (kind, value, expire_at) in self.entries.items()
            if not is_expired(expire_at, now)
        }


def _copy(value: Any) -> Any:
    return list(value) if isinstance(value, list) else dict(value) if isinstance(value, dict) else value


def _short(thing: Any, limit: int = 60) -> str:
    text = repr(thing)
    return text if len(text) <= limit else text[: limit - 3] + "..."


class _BadLine(Exception):
    """A line (or header) that is not exactly as specified; the message is the reason."""


class _Refusal(Exception):
    """Recovery must refuse to open the directory; the message says where and why."""


# --- lines and JSON ---------------------------------------------------------------------------


def _framed_body(data: bytes, start: int) -> tuple[bytes, int]:
    """The body of the `<crc> <body>\\n` line at `start`, and the offset after its newline."""
    newline = data.find(b"\n", start)
    if newline < 0:  # a crash cut the last append short: a torn tail, not corruption
        raise _BadLine("torn line (no final newline)")
    match = _FRAMED_LINE.fullmatch(data, start, newline)
    if match is None:
        raise _BadLine("line is not '<8 lowercase hex> <body>'")
    body = match.group(2)
    if int(match.group(1), 16) != zlib.crc32(body):
        raise _BadLine("checksum mismatch")
    return body, newline + 1


def _no_constants(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def _unique_names(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    obj = {}
    for name, value in pairs:
        if name in obj:
            raise ValueError(f"duplicate name {_short(name)}")
        obj[name] = value
    return obj


def _json_array(raw: bytes) -> list[Any]:
    # The array is the whole rest of the body: nothing (not even whitespace) around it.
    if not (raw.startswith(b"[") and raw.endswith(b"]")):
        raise _BadLine("not a JSON array")
    try:
        parsed = json.loads(raw.decode("utf-8"), parse_constant=_no_constants, object_pairs_hook=_unique_names)
    except (UnicodeDecodeError, ValueError, RecursionError) as error:
        raise _BadLine(f"bad JSON: {error}") from None
    if type(parsed) is not list:
        raise _BadLine("not a JSON array")
    return parsed


def _key(thing: Any) -> str:
    """A key or hash field: a JSON string without lone surrogates."""
    if type(thing) is not str:
        raise _BadLine(f"key or field {_short(thing)} is not a string")
    try:
        thing.encode("utf-8")
    except UnicodeEncodeError:
        raise _BadLine(f"key or field {_short(thing)} has a lone surrogate") from None
    return thing


def _value_v1(thing: Any) -> bytes:
    """A version 1 value: a JSON string of characters U+0000..U+00FF, one per byte."""
    if type(thing) is not str:
        raise _BadLine(f"value {_short(thing)} is not a string")
    try:
        return thing.encode("latin-1")
    except UnicodeEncodeError:
        raise _BadLine(f"value {_short(thing)} has a character above U+00FF") from None


def _value_v2(thing: Any) -> bytes:
    """A version 2 value: UTF-8 text as a JSON string, or {"b64": canonical base64}."""
    if type(thing) is str:
        try:
            return thing.encode("utf-8")
        except UnicodeEncodeError:
            raise _BadLine(f"value {_short(thing)} has a lone surrogate") from None
    if type(thing) is not dict or list(thing) != ["b64"] or type(thing["b64"]) is not str:
        raise _BadLine(f'value {_short(thing)} is neither a string nor {{"b64": string}}')
    text = thing["b64"]
    try:
        # validate: a character outside the alphabet or misplaced padding is an error, not skipped
        data = base64.b64decode(text, validate=True)
    except ValueError:  # binascii.Error, or a character that is not ASCII
        raise _BadLine(f"value {_short(text)} is not padded base64") from None
    # Only the canonical text encodes `data`: padded, and the unused bits of the last character zero.
    if base64.b64encode(data).decode("ascii") != text:
        raise _BadLine(f"value {_short(text)} is not canonical base64")
    return data


_VALUE_READERS = {
    b"1": _value_v1,
    b"2": _value_v2,
    b"3": _value_v2,
}  # 3 only adds a record  # version -> how a value is written in it


def _time(thing: Any, nullable: bool) -> float | int | None:
    if thing is None and nullable:
        return None
    if type(thing) not in (int, float):  # bool is excluded: type(True) is bool
        raise _BadLine(f"time {_short(thing)} is not a number")
    try:
        finite = math.isfinite(float(thing))  # a huge literal parses as inf or a huge int
    except OverflowError:
        finite = False
    if not finite:
        raise _BadLine(f"time {_short(thing)} is not finite")
    return float(thing) if type(thing) is float else int(thing)


def _flag(thing: Any) -> bool:
    if type(thing) is not bool:
        raise _BadLine(f"flag {_short(thing)} is not true or false")
    return thing


def _non_empty(thing: Any, container: type) -> Any:
    if type(thing) is not container or not thing:
        raise _BadLine(f"{_short(thing)} is not a non-empty {container.__name__}")
    return thing


def _values(thing: Any, value: Callable[[Any], bytes]) -> list[bytes]:
    return [value(item) for item in _non_empty(thing, list)]


def _fields(thing: Any, value: Callable[[Any], bytes]) -> dict[str, bytes]:
    return {_key(name): value(item) for name, item in _non_empty(thing, dict).items()}


# --- WAL records ------------------------------------------------------------------------------

# op -> (argument count, or None for "one or more"; decoder of the arguments, given the
# version's value reader, into operands)
_LAYOUTS: dict[str, tuple[int | None, Callable[[list[Any], Callable[[Any], bytes]], tuple[Any, ...]]]] = {
    "set": (3, lambda a, v: (_key(a[0]), v(a[1]), _time(a[2], nullable=True))),
    "del": (None, lambda a, v: tuple(_key(k) for k in a)),
    "rpush": (3, lambda a, v: (_key(a[0]), _flag(a[1]), _values(a[2], v))),
    "hset": (3, lambda a, v: (_key(a[0]), _flag(a[1]), _fields(a[2], v))),
    "hdel": (2, lambda a, v: (_key(a[0]), [_key(f) for f in _non_empty(a[1], list)])),
    "expire": (2, lambda a, v: (_key(a[0]), _time(a[1], nullable=False))),
    "persist": (1, lambda a, v: (_key(a[0]),)),
    "flushall": (0, lambda a, v: ()),
    "append": (3, lambda a, v: (_key(a[0]), _flag(a[1]), v(a[2]))),
}


def _record(body: bytes, version: bytes) -> tuple[int, str, tuple[Any, ...]]:
    """(lsn, op, operands) of a record body `<lsn> <op> <args>` in a segment of `version`;
    _BadLine if not exactly so."""
    parts = body.split(b" ", 2)
    if len(parts) != 3 or not _DIGITS.fullmatch(parts[0]):
        raise _BadLine("record body is not '<lsn> <op> <args>'")
    lsn, op = int(parts[0]), parts[1].decode("latin-1")
    if op not in OPS or version < NEW_OPS.get(op, b"0"):
        raise _BadLine(f"unknown op {_short(op)} in version {version.decode()}")
    args = _json_array(parts[2])
    count, decode = _LAYOUTS[op]
    if (len(args) != count) if count is not None else not args:
        raise _BadLine(f"{op} arguments {_short(args)} are not of its layout")
    return lsn, op, decode(args, _VALUE_READERS[version])


def _apply(entries: State, op: str, operands: tuple[Any, ...]) -> None:
    """Apply one record exactly as FORMAT.md's table says; _Refusal if it contradicts the state.
    "Existing" ignores TTLs: the writer already resolved expiry when it logged the record."""

    def existing(key: str, kind: str | None = None) -> Entry:
        entry = entries.get(key)
        if entry is None or (kind is not None and entry[0] != kind):
            raise _Refusal(f"{op} needs an existing {kind or 'key'} at {_short(key)}")
        return entry

    if op == "set":
        key, value, expire_at = operands
        entries[key] = ("string", value, expire_at)
    elif op == "append":
        key, new, suffix = operands
        if new:  # the key was absent or expired when written: the record replaces it
            entries[key] = ("string", suffix, None)
        else:
            _, value, expire_at = existing(key, "string")
            entries[key] = ("string", value + suffix, expire_at)
    elif op == "del":
        for key in operands:  # one after the other: a key named twice is missing the second time
            existing(key)
            del entries[key]
    elif op in ("rpush", "hset"):
        key, new, items = operands
        kind = "list" if op == "rpush" else "hash"
        if new:
            entries[key] = (kind, items, None)
        elif kind == "list":
            existing(key, kind)[1].extend(items)
        else:
            existing(key, kind)[1].update(items)
    elif op == "hdel":
        key, fields = operands
        mapping = existing(key, "hash")[1]
        for name in fields:
            if name not in mapping:
                raise _Refusal(f"hdel needs an existing field {_short(name)} in {_short(key)}")
            del mapping[name]
        if not mapping:
            del entries[key]
    elif op in ("expire", "persist"):
        key = operands[0]
        kind, value, _ = existing(key)
        entries[key] = (kind, value, operands[1] if op == "expire" else None)
    else:
        assert op == "flushall"
        entries.clear()


class _Remembered:
    """A line decoder whose results are remembered by (body, version): a reader judging crash
    states reads the same lines again and again (every state of a run holds the log's earlier
    lines), and decoding them was most of its time. A hit gives fresh copies of the lists and
    dicts in the result, which replay changes in place; a bad line is never remembered. Keeps
    bodies up to a budget, forgetting the least recently used first."""

    KEPT_BYTES = 32 << 20

    def __init__(self, decode: Callable[[bytes, bytes], tuple[Any, Any]]):
        self.decode = decode
        self.known: dict[tuple[bytes, bytes], tuple[Any, Any]] = {}
        self.kept = 0

    def __call__(self, body: bytes, version: bytes) -> tuple[Any, Any]:
        key = (body, version)
        found = self.known.pop(key, None)
        if found is None:
            found = self.decode(body, version)
            self.kept += len(body)
            while self.known and self.kept > self.KEPT_BYTES:
                oldest = next(iter(self.known))
                del self.known[oldest]
                self.kept -= len(oldest[0])
        self.known[key] = found
        fresh: tuple[Any, Any] = _fresh(found)
        return fresh


def _fresh(thing: Any) -> Any:
    """`thing` with every list and dict in it copied (their items are immutable: str, bytes, numbers)."""
    if type(thing) is tuple:
        return tuple(_fresh(item) for item in thing)
    if type(thing) is list:
        return list(thing)
    if type(thing) is dict:
        return dict(thing)
    return thing


# --- snapshots --------------------------------------------------------------------------------


def _snapshot_entry(body: bytes, version: bytes) -> tuple[str, tuple[Any, ...]]:
    entry = _json_array(body)
    if len(entry) != 4:
        raise _BadLine("entry is not [key, kind, value, expire_at]")
    key, kind, value, expire_at = entry
    read_value = _VALUE_READERS[version]
    decoders: dict[str, Callable[[Any], Any]] = {
        "string": read_value,
        "list": lambda thing: _values(thing, read_value),
        "hash": lambda thing: _fields(thing, read_value),
    }
    decode = decoders.get(kind) if type(kind) is str else None
    if decode is None:
        raise _BadLine(f"unknown kind {_short(kind)}")
    return _key(key), (kind, decode(value), _time(expire_at, nullable=True))


_snapshot_entries = _Remembered(_snapshot_entry)
_records = _Remembered(lambda body, version: _split(_record(body, version)))


def _split(record: tuple[int, str, tuple[Any, ...]]) -> tuple[int, tuple[str, tuple[Any, ...]]]:
    return record[0], (record[1], record[2])


def _read_snapshot(name: str, data: bytes, lsn: int) -> State:
    """The entries of a snapshot file; _Refusal naming file and offset unless wholly valid."""
    headers = {SNAPSHOT_MAGIC + b" " + version + b" " + str(lsn).encode() + b"\n": version for version in VERSIONS}
    header = next((h for h in headers if data.startswith(h)), None)
    if header is None:
        raise _Refusal(f"{name} at offset 0: bad snapshot header")
    version = headers[header]
    entries, position = {}, len(header)
    while not data.startswith(b"END ", position):
        try:
            body, after = _framed_body(data, position)
            key, entry = _snapshot_entries(body, version)
        except _BadLine as error:
            raise _Refusal(f"{name} at offset {position}: bad snapshot entry: {error}") from None
        if key in entries:
            raise _Refusal(f"{name} at offset {position}: key {_short(key)} appears twice")
        entries[key], position = entry, after
    match = _END_LINE.fullmatch(data, position, len(data) - 1)
    if not data.endswith(b"\n") or match is None:
        raise _Refusal(f"{name} at offset {position}: END line is not 'END <count> <filecrc>' ending the file")
    if int(match.group(1)) != len(entries):
        raise _Refusal(
            f"{name} at offset {position}: END counts {match.group(1).decode()} entries, file has {len(entries)}"
        )
    if int(match.group(2), 16) != zlib.crc32(data[:position]):
        raise _Refusal(f"{name} at offset {position}: file checksum mismatch")
    return entries


# --- recovery ---------------------------------------------------------------------------------


class _Reader:
    """The reading in progress; `result()` freezes it into a FormatReading."""

    def __init__(self) -> None:
        self.entries: State = {}
        self.snapshot_lsn = self.last_lsn = self.records_applied = 0
        self.stop: Stop | None = None

    def result(self, refused: str | None = None) -> FormatReading:
        return FormatReading(self.entries, self.snapshot_lsn, self.last_lsn, self.records_applied, self.stop, refused)

    def replay_segment(self, name: str, data: bytes, first_lsn: int, expected: int) -> int | None:
        """Apply the records of one segment; the LSN expected next, or None after a stop."""
        headers = {WAL_MAGIC + b" " + version + b" " + str(first_lsn).encode() + b"\n": version for version in VERSIONS}
        header = next((h for h in headers if data.startswith(h)), None)
        if header is None:
            # A crash interrupted the segment's creation (by an engine of either version): a
            # torn tail. The zeros appear when the file's new size reached the disk before its data.
            if any(h.startswith(data.rstrip(b"\0")) for h in headers):
                self.stop = Stop(name, 0, "torn header")
                return None
            raise _Refusal(f"{name} at offset 0: bad header (magic, version or LSN)")
        # Checked after the header, so a foreign file refuses even where the log has a gap.
        if first_lsn != expected:  # a gap (or overlap) between segments ends the log
            self.stop = Stop(name, 0, f"segment starts at LSN {first_lsn}, {expected} was expected")
            return None
        expected, position = first_lsn, len(header)
        while position < len(data):
            try:
                body, after = _framed_body(data, position)
                lsn, (op, operands) = _records(body, headers[header])
                if lsn != expected:
                    raise _BadLine(f"LSN {lsn} where {expected} was expected")
            except _BadLine as error:
                self.stop = Stop(name, position, str(error))
                return None
            if lsn > self.snapshot_lsn:  # records <= S are in the snapshot already
                try:
                    _apply(self.entries, op, operands)
                except _Refusal as error:
                    raise _Refusal(f"{name} at offset {position}: LSN {lsn}: {error}") from None
                self.last_lsn, self.records_applied = lsn, self.records_applied + 1
            expected, position = lsn + 1, after
        return expected


def read_files(files: Mapping[str, bytes]) -> FormatReading:
    """Read a data directory given as file name -> content (LOCK, if present, is ignored)."""
    reader = _Reader()
    segments, snapshots = {}, {}
    for name in sorted(files):
        match = _FILE_NAME.fullmatch(name)
        if name == LOCK_NAME or (match and match.group(3)):  # a .snap.tmp is never read
            continue
        if match is None or int(match.group(1) or match.group(2)) == 0:  # LSNs start at 1
            return reader.result(f"unknown file {name!r}")
        if match.group(1):
            segments[int(match.group(1))] = name
        else:
            snapshots[int(match.group(2))] = name
    try:
        if snapshots:  # only the newest counts: the segments it covered may be gone
            reader.snapshot_lsn = reader.last_lsn = max(snapshots)
            name = snapshots[reader.snapshot_lsn]
            reader.entries = _read_snapshot(name, bytes(files[name]), reader.snapshot_lsn)
        first_lsns = sorted(segments)
        # A segment whose successor starts at or before S + 1 holds only covered records.
        while len(first_lsns) > 1 and first_lsns[1] <= reader.snapshot_lsn + 1:
            first_lsns.pop(0)
        if first_lsns and first_lsns[0] > reader.snapshot_lsn + 1:
            return reader.result(
                f"records {reader.snapshot_lsn + 1}..{first_lsns[0] - 1} are missing: "
                f"the first segment is {segments[first_lsns[0]]}"
            )
        expected: int | None = first_lsns[0] if first_lsns else None
        for first_lsn in first_lsns:
            name = segments[first_lsn]
            assert expected is not None  # set from the first segment, and the loop stops when it is None
            expected = reader.replay_segment(name, bytes(files[name]), first_lsn, expected)
            if expected is None:
                break
    except _Refusal as error:
        return reader.result(str(error))
    return reader.result()


def read_directory(path: str | os.PathLike[str]) -> FormatReading:
    """Read the data directory at `path` (skipping LOCK and quarantine/) without changing anything in it."""
    files = {}
    for entry in Path(path).iterdir():
        if entry.name == LOCK_NAME or (entry.name == QUARANTINE_DIR and entry.is_dir()):
            continue
        if not entry.is_file():
            return FormatReading({}, 0, 0, 0, None, f"unknown file {entry.name!r} (not a regular file)")
        files[entry.name] = entry.read_bytes()
    return read_files(files)
