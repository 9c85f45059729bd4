"""What values cost on disk: bytes in the WAL and in a snapshot per byte of value, format
version 1 against version 2 (docs/FORMAT.md, "Versions").

Version 2 is measured on the files a real Store writes; version 1 on the same records and
entries written by FORMAT.md's version 1 rules (a value is the JSON string of its Latin-1
decoding), which is what an engine of version 1 wrote for them. File sizes include headers,
checksums, LSNs, ops and keys, so the ratios are what a disk holds. Seeded: every run measures
the same values.

    python -m tests.bench_format [--count N] [--value-bytes N]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import tempfile
import zlib

from tornwrite.engine import Store
from tornwrite.engine.codec import decode_entry, decode_record, frame
from tornwrite.engine.format import snapshot_header, wal_header

_dumps_v1 = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode


def _text(rng: random.Random, alphabet: str, size: int) -> bytes:
    """Random text from `alphabet`, cut at a character boundary to at most `size` bytes."""
    encoded = "".join(rng.choice(alphabet) for _ in range(size)).encode("utf-8")[:size]
    return encoded.decode("utf-8", "ignore").encode("utf-8")


_ASCII = "abcdefghijklmnopqrstuvwxyz      ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.,;:-!?()"
_JAPANESE = "".join(map(chr, range(0x3041, 0x3097))) + "".join(map(chr, range(0x4E00, 0x4F00)))

# value class -> how to make one value of `size` bytes
VALUE_CLASSES = {
    "random bytes": lambda rng, size: rng.randbytes(size),
    "ASCII text": lambda rng, size: _text(rng, _ASCII, size),
    "UTF-8 text (Japanese)": lambda rng, size: _text(rng, _JAPANESE, size),
    "control bytes 0x00-0x1f": lambda rng, size: bytes(rng.randrange(32) for _ in range(size)),
}


def _v1_value(value: bytes) -> str:
    return value.decode("latin-1")


def _v1_wal(v2_wal: bytes, first_lsn: int) -> bytes:
    """The segment a version 1 engine wrote for the same `set` records."""
    lines = [wal_header(first_lsn, 1)]
    for line in v2_wal.splitlines(keepends=True)[1:]:
        lsn, op, (key, value, expire_at) = decode_record(line, 2)
        assert op == "set"
        v1_line = frame(b"%d set %s" % (lsn, _dumps_v1([key, _v1_value(value), expire_at]).encode()))
        assert decode_record(v1_line, 1) == (lsn, op, (key, value, expire_at))  # the engine reads it back
        lines.append(v1_line)
    return b"".join(lines)


def _v1_snapshot(v2_snapshot: bytes, lsn: int) -> bytes:
    """The snapshot a version 1 engine wrote for the same string entries."""
    lines = [snapshot_header(lsn, 1)]
    for line in v2_snapshot.splitlines(keepends=True)[1:-1]:
        key, value, expire_at = decode_entry(line, 2)
        assert isinstance(value, bytes)
        lines.append(frame(_dumps_v1([key, "string", _v1_value(value), expire_at]).encode()))
    body = b"".join(lines)
    return body + b"END %d %08x\n" % (len(lines) - 1, zlib.crc32(body))


def measure(values: list[bytes], directory: str) -> dict[str, float]:
    """Bytes on disk per value byte: WAL and snapshot, versions 1 and 2, for these values."""
    with Store.open(directory) as store:
        for i, value in enumerate(values):
            store.set(f"key-{i:04d}", value)
        wal_name = f"wal-{1:020d}.log"
        wal = open(os.path.join(directory, wal_name), "rb").read()
        lsn = store.snapshot()
        snapshot = open(os.path.join(directory, f"snapshot-{lsn:020d}.snap"), "rb").read()
    value_bytes = sum(map(len, values))
    return {
        "WAL v1": len(_v1_wal(wal, 1)) / value_bytes,
        "WAL v2": len(wal) / value_bytes,
        "snapshot v1": len(_v1_snapshot(snapshot, lsn)) / value_bytes,
        "snapshot v2": len(snapshot) / value_bytes,
    }


def run(count: int, value_bytes: int) -> dict[str, dict[str, float]]:
    results = {}
    with tempfile.TemporaryDirectory(prefix="bench-format-") as root:
        for n, (name, make) in enumerate(VALUE_CLASSES.items()):
            rng = random.Random(f"bench_format/{name}")
            values = [make(rng, value_bytes) for _ in range(count)]
            results[name] = measure(values, os.path.join(root, str(n)))
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=64, help="values per class (default 64)")
    parser.add_argument("--value-bytes", type=int, default=4096, help="bytes per value (default 4096)")
    args = parser.parse_args()
    results = run(args.count, args.value_bytes)
    columns = list(next(iter(results.values())))
    print(f"bytes on disk per value byte; {args.count} values of {args.value_bytes} bytes per class, one key each")
    print(f"{'values':<26}" + "".join(f"{c:>13}" for c in columns))
    for name, ratios in results.items():
        print(f"{name:<26}" + "".join(f"{ratios[c]:>13.3f}" for c in columns))
    print(f"{'worst':<26}" + "".join(f"{max(r[c] for r in results.values()):>13.3f}" for c in columns))


if __name__ == "__main__":
    main()
