"""`redislite inspect DIR` and `redislite check DIR`: read a data directory, change nothing.

inspect prints every snapshot entry and WAL record with its offset, LSN and checksum status,
then what recovery would do. check exits 1, naming file and offset, if recovery would discard
or refuse anything, and 0 otherwise.
"""

from __future__ import annotations

import argparse
import os
import sys

from tornwrite.engine.codec import LineError, decode_entry, decode_record
from tornwrite.engine.errors import CorruptDataError
from tornwrite.engine.format import parse_name
from tornwrite.engine.io import IOLayer
from tornwrite.engine.recovery import Scan, scan

_PREVIEW = 70


def _preview(item: object) -> str:
    text = repr(item)
    return text if len(text) <= _PREVIEW else text[: _PREVIEW - 3] + "..."


def _lines(data: bytes):
    """(offset, line) for each line, the last one possibly without its newline."""
    offset = 0
    for line in data.splitlines(keepends=True):
        yield offset, line
        offset += len(line)


def _inspect_file(io: IOLayer, path: str, kind: str, out) -> None:
    data = io.read(path, "inspect.read")
    print(f"{os.path.basename(path)}  ({len(data)} bytes)", file=out)
    for offset, line in _lines(data):
        if offset == 0:
            print(f"  {offset:>10}  header  {line.rstrip().decode('ascii', 'replace')}", file=out)
            continue
        if kind == "snapshot" and line.startswith(b"END "):
            print(f"  {offset:>10}  end     {line.rstrip().decode('ascii', 'replace')}", file=out)
            continue
        try:
            if kind == "wal":
                lsn, op, args = decode_record(line)
                print(f"  {offset:>10}  ok      LSN {lsn:<8} {op:<8} {_preview(args)}", file=out)
            else:
                key, value, expire_at = decode_entry(line)
                print(
                    f"  {offset:>10}  ok      {_preview(key):<24} {_preview(value)}"
                    f"{'' if expire_at is None else f'  expire_at={expire_at!r}'}",
                    file=out,
                )
        except LineError as exc:
            print(f"  {offset:>10}  BAD     {exc}: {_preview(line)}", file=out)


def _describe(result: Scan, out) -> None:
    if result.snapshot:
        print(
            f"recovery: load {os.path.basename(result.snapshot)} (LSN {result.snapshot_lsn}, "
            f"{result.snapshot_entries} entries)",
            file=out,
        )
    print(f"recovery: replay {result.replayed} record(s); last LSN {result.last_lsn}", file=out)
    for stretch in result.discarded:
        print(
            f"recovery: DISCARD {os.path.basename(stretch.path)} from offset {stretch.offset} "
            f"({stretch.nbytes} bytes, {stretch.records} checksummed line(s)): {stretch.reason}",
            file=out,
        )
    for path, label in result.unlink:
        print(f"recovery: remove {os.path.basename(path)} ({label})", file=out)


def inspect(directory: str, out=None) -> int:
    out = out or sys.stdout
    io = IOLayer()
    for name in sorted(io.listdir(directory, "inspect.listdir")):
        parsed = parse_name(name)
        if parsed is not None and not parsed[2]:
            _inspect_file(io, os.path.join(directory, name), parsed[0], out)
        elif name != "LOCK":
            print(f"{name}  (not read: {'temporary' if parsed else 'not a RedisLite file'})", file=out)
    return check(directory, out)


def check(directory: str, out=None) -> int:
    out = out or sys.stdout
    try:
        result = scan(IOLayer(), directory)
    except CorruptDataError as exc:
        print(f"DAMAGED: recovery would refuse: {exc}", file=out)
        return 1
    _describe(result, out)
    if result.discarded:
        first = result.discarded[0]
        print(f"DAMAGED: {first.path} at offset {first.offset}: {first.reason}", file=out)
        return 1
    print("ok", file=out)
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="redislite", description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    for name, help_text in (
        ("inspect", "print every record and entry, then what recovery would do"),
        ("check", "exit 1 if recovery would discard or refuse anything"),
    ):
        sub = commands.add_parser(name, help=help_text)
        sub.add_argument("directory")
    args = parser.parse_args(argv)
    if not os.path.isdir(args.directory):
        print(f"redislite: {args.directory} is not a directory", file=sys.stderr)
        return 2
    return (inspect if args.command == "inspect" else check)(args.directory)


if __name__ == "__main__":
    sys.exit(main())
