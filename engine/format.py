"""Constants of the on-disk format, shared by the engine's writer and reader.

The format is specified in docs/FORMAT.md; this module only names its constants. Change the
two together, and bump FORMAT_VERSION when old files would be read differently (keeping the old
version in READ_VERSIONS, FORMAT.md "Versions").
"""

from __future__ import annotations

import re

from tornwrite.engine.appended import Appended

FORMAT_VERSION = 3  # what the engine writes
READ_VERSIONS = (1, 2, 3)  # what it reads: each file by the version in its header

LOCK_NAME = "LOCK"
WAL_MAGIC = "REDISLITE-WAL"
SNAPSHOT_MAGIC = "REDISLITE-SNAPSHOT"
SNAPSHOT_END = "END"
TMP_SUFFIX = ".tmp"

# Twenty digits hold any unsigned 64-bit LSN and make names sort in LSN order.
_LSN_DIGITS = 20
_NAME = re.compile(r"(?:(wal)-(\d{20})\.log|(snapshot)-(\d{20})\.snap(\.tmp)?)")

# A value by kind: string, list or hash, as reads, dumps and snapshot files give it; as the
# keyspace holds it (a string APPEND grew is an Appended); its absolute expiry time (None: no TTL).
Value = bytes | list[bytes] | dict[str, bytes]
Stored = Value | Appended
ExpireAt = float | int | None
Entry = tuple[Stored, ExpireAt]
Entries = dict[str, Entry]  # key -> entry: the keyspace's dict, and a snapshot's contents

# The value kinds, by the Python type that holds them in memory, as snapshots name them.
KIND: dict[type, str] = {bytes: "string", Appended: "string", list: "list", dict: "hash"}

# Record ops as written in the WAL (docs/FORMAT.md, "Records").
RECORD_OPS = ("set", "del", "rpush", "hset", "hdel", "expire", "persist", "flushall", "append")
# Ops that exist only from some version on: in an older segment such a line is a bad line.
OP_SINCE = {"append": 3}


def wal_name(first_lsn: int) -> str:
    return f"wal-{first_lsn:0{_LSN_DIGITS}d}.log"


def snapshot_name(lsn: int) -> str:
    return f"snapshot-{lsn:0{_LSN_DIGITS}d}.snap"


def wal_header(first_lsn: int, version: int = FORMAT_VERSION) -> bytes:
    return f"{WAL_MAGIC} {version} {first_lsn}\n".encode()


def snapshot_header(lsn: int, version: int = FORMAT_VERSION) -> bytes:
    return f"{SNAPSHOT_MAGIC} {version} {lsn}\n".encode()


def parse_name(name: str) -> tuple[str, int, bool] | None:
    """(kind, lsn, is_temp) for a name the engine writes, else None. kind: "wal" or "snapshot"."""
    match = _NAME.fullmatch(name)
    if match is None:
        return None
    kind, lsn = ("wal", int(match.group(2))) if match.group(1) else ("snapshot", int(match.group(4)))
    if lsn == 0:
        return None  # LSNs start at 1: no file is ever named for LSN 0
    return kind, lsn, match.group(5) is not None
