"""Directories as older format versions wrote them: where the engine must still start from.

For every version the engine reads (engine/format.py, READ_VERSIONS), `as_version` rewrites a
directory line by line as that version's writer wrote it (docs/FORMAT.md, "Versions"): the same
records and entries, each in that version's encoding, checksums and the snapshot's END line made
anew; `start_image` does it to what seeded ops (START_OPS: non-ASCII and non-UTF-8 values, a
snapshot and records after it) leave. The state machine restarts on its own files rewritten so
(stateful.py, `restart_on_the_files_as_a_format_version_wrote_them`), and every rule, crash and
the format reader's cross-check then run on data an older engine left; so do the campaign's
`from-v<N>` workloads (workloads.py), whose every crash point falls after the engine opened
`start_files(N)`. Values must be non-ASCII: only they are encoded differently across versions.

Adding a version is one entry in WRITERS: how a file of the current version is written in it.
"""

from __future__ import annotations

import functools
import json
import zlib
from collections.abc import Callable

from tornwrite.engine import IOLayer, Store
from tornwrite.engine.codec import decode_entry, decode_record, encode_entry, encode_record
from tornwrite.engine.format import (
    FORMAT_VERSION,
    KIND,
    READ_VERSIONS,
    SNAPSHOT_END,
    parse_name,
    snapshot_header,
    wal_header,
)
from tornwrite.faultinject.core.simdisk import DATA_DIR, Image, SimDisk
from tornwrite.models.ops import Op

START = 1_700_000_000.0
START_OPS = (
    Op.of("set", "ключ", "значение ü".encode()),
    Op.of("rpush", "user:1", "日本語".encode(), b"\xff\xfe raw"),
    Op.of("snapshot"),
    Op.of("hset", "", {"поле": "ζωή".encode(), "name": b"\xe9t\xe9"}),
    Op.of("set", 'a\n"b"', "café 🙂".encode(), ttl=1e6),
    Op.of("append", 'a\n"b"', " ✓".encode()),  # version 2 logs it as a set of the new value, TTL kept
    Op.of("rpush", "user:1", "🙂".encode()),
    Op.of("delete", "ключ"),
)


def _framed(body: bytes) -> bytes:
    return b"%08x %s\n" % (zlib.crc32(body), body)


def _compact(thing: object) -> bytes:
    return json.dumps(thing, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def _latin1(thing: object) -> object:
    """Version 1's JSON of a value: bytes as the string of their Latin-1 decoding."""
    if isinstance(thing, bytes):
        return thing.decode("latin-1")
    if isinstance(thing, (list, tuple)):
        return [_latin1(item) for item in thing]
    if isinstance(thing, dict):
        return {name: _latin1(item) for name, item in thing.items()}
    return thing


def _as_v1(name: str, data: bytes) -> bytes:
    """One file, of any version the engine reads, as version 1 wrote it (`del` named its keys flat)."""
    lines = data.splitlines(keepends=True)
    version = int(lines[0].split()[1])  # each file is decoded by the version its header names
    if name.startswith("wal-"):
        first_lsn = int(lines[0].split()[2])
        records = [decode_record(line, version) for line in lines[1:]]
        body = [
            _framed(b"%d %s %s" % (lsn, op.encode(), _compact(_latin1(list(args[0]) if op == "del" else args))))
            for lsn, op, args in records
        ]
        return b"REDISLITE-WAL 1 %d\n" % first_lsn + b"".join(body)
    if name.startswith("snapshot-"):
        lsn = int(lines[0].split()[2])
        entries = [decode_entry(line, version) for line in lines[1:-1]]
        text = b"REDISLITE-SNAPSHOT 1 %d\n" % lsn + b"".join(
            _framed(_compact([key, KIND[type(value)], _latin1(value), expire_at])) for key, value, expire_at in entries
        )
        return text + b"END %d %08x\n" % (len(entries), zlib.crc32(text))
    return data


def _as_current(name: str, data: bytes) -> bytes:
    """One file, of any version the engine reads, as the current engine writes it."""
    lines = data.splitlines(keepends=True)
    version = int(lines[0].split()[1])
    if version == FORMAT_VERSION:
        return data
    if name.startswith("wal-"):
        body = [encode_record(*decode_record(line, version)) for line in lines[1:]]
        return wal_header(int(lines[0].split()[2])) + b"".join(body)
    entries = [encode_entry(*decode_entry(line, version)) for line in lines[1:-1]]
    text = snapshot_header(int(lines[0].split()[2])) + b"".join(entries)
    return text + b"%s %d %08x\n" % (SNAPSHOT_END.encode(), len(entries), zlib.crc32(text))


def _as_v2(files: dict[str, bytes]) -> dict[str, bytes]:
    """A data directory's files as version 2 wrote them: version 3's encoding, and an APPEND logged
    as the `set` of its whole new value with the key's TTL, as version 2's engine logged it
    (docs/FORMAT.md, "Versions"). That needs the string's value at each append: the newest
    snapshot, then the records after it, replayed for strings as they go. An append a snapshot
    already covers is never replayed; it is written as a `set` of its suffix."""
    current = {name: _as_current(name, data) for name, data in files.items()}
    strings: dict[str, tuple[bytes, float | None]] = {}
    named = {name: parse_name(name) for name in current}
    snapshots = sorted((p[1], n) for n, p in named.items() if p and p[0] == "snapshot" and not p[2])
    covered = snapshots[-1][0] if snapshots else 0
    converted: dict[str, bytes] = {}
    for _, name in snapshots:
        lines = current[name].splitlines(keepends=True)
        if name == snapshots[-1][1]:
            for line in lines[1:-1]:
                key, value, expire_at = decode_entry(line)
                if isinstance(value, bytes):
                    strings[key] = (value, expire_at)
        text = snapshot_header(int(lines[0].split()[2]), 2) + b"".join(lines[1:-1])
        converted[name] = text + b"%s %d %08x\n" % (SNAPSHOT_END.encode(), len(lines) - 2, zlib.crc32(text))
    segments = sorted((p[1], n) for n, p in named.items() if p and p[0] == "wal" and not p[2])
    for _, name in segments:
        lines = current[name].splitlines(keepends=True)
        body = []
        for line in lines[1:]:
            lsn, op, args = decode_record(line)
            replayed = lsn > covered
            if op == "append":
                key, new, suffix = args
                old, expire_at = (b"", None) if new or key not in strings else strings[key]
                op, args = "set", (key, old + suffix, expire_at)
            if replayed:
                _track(strings, op, args)
            body.append(encode_record(lsn, op, args))
        converted[name] = wal_header(int(lines[0].split()[2]), 2) + b"".join(body)
    return {name: converted.get(name, data) for name, data in files.items()}


def _track(strings: dict[str, tuple[bytes, float | None]], op: str, args: tuple) -> None:
    """What a record does to the string keys (the only values an append reads)."""
    if op == "set":
        strings[args[0]] = (args[1], args[2])
    elif op in ("rpush", "hset", "hdel"):
        strings.pop(args[0], None)
    elif op == "del":
        for key in args[0]:
            strings.pop(key, None)
    elif op == "flushall":
        strings.clear()
    elif op == "expire" and args[0] in strings:
        strings[args[0]] = (strings[args[0]][0], args[1])
    elif op == "persist" and args[0] in strings:
        strings[args[0]] = (strings[args[0]][0], None)


def _per_file(write: Callable[[str, bytes], bytes]) -> Callable[[dict[str, bytes]], dict[str, bytes]]:
    return lambda files: {name: write(name, data) for name, data in files.items()}


# How each version the engine reads wrote a data directory's files: one entry a version.
WRITERS: dict[int, Callable[[dict[str, bytes]], dict[str, bytes]]] = {
    1: lambda files: _per_file(_as_v1)(_as_v2(files)),  # version 1 had no append record either
    2: _as_v2,
    FORMAT_VERSION: _per_file(_as_current),
}
assert set(WRITERS) == set(READ_VERSIONS), "every version the engine reads needs a writer here"


def as_version(image: Image, version: int) -> Image:
    """`image` (written by the current engine) as format `version` wrote it: the data
    directory's segments and snapshots rewritten, anything else as it is. ValueError for a
    version the engine does not read."""
    if version not in WRITERS:
        raise ValueError(f"format version {version} is not one the engine reads ({READ_VERSIONS})")
    write = WRITERS[version]
    result = {}
    for path, files in image.items():
        if path != DATA_DIR:
            result[path] = dict(files)
            continue
        ours = {name: data for name, data in files.items() if (parse_name(name) or ("", 0, True))[2] is False}
        result[path] = {**files, **write(ours)}
    return result


def start_image(version: int, ops: tuple[Op, ...] = START_OPS, start_time: float = START) -> Image:
    """The directory `ops` (commands, no ticks) leave at clock `start_time`, in format `version`."""
    disk = SimDisk()
    store = Store.open(DATA_DIR, io=IOLayer(disk), clock=lambda: start_time)
    for op in ops:
        op.apply_to(store)
    store.close()
    return as_version(disk.process_crash_image(), version)


@functools.cache
def start_files(version: int) -> tuple[tuple[str, bytes], ...]:
    """The data directory of `start_image(version)`, as (name, content) pairs in name order: the
    files a workload that starts from format `version` finds (workloads.FORMAT_STARTS)."""
    return tuple(sorted(start_image(version)[DATA_DIR].items()))
