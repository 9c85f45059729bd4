"""`tornwrite inspect DIR` and `tornwrite check DIR`: read a data directory, change nothing.

inspect prints every snapshot entry and WAL record with its offset, LSN and checksum status,
then what recovery would do. check sorts the directory into one verdict, each with its own
exit code (docs/FORMAT.md, "Reading the files by hand"):

  0  clean    opening would change nothing
  3  residue  only what a crash leaves: a prefix of the last record (maybe zero-filled), a
              torn header, temp files, files a snapshot covers; opening removes them (cut
              bytes copied to quarantine/ first) and loses no record
  4  discard  opening would discard damage no crash leaves, and every record after it
              (it keeps them in quarantine/)
  5  refuse   opening would refuse (CorruptDataError)
  1  the check itself failed (an I/O error); 2 a usage error
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, TextIO

from tornwrite.engine.codec import LineError, decode_entry, decode_record
from tornwrite.engine.errors import CorruptDataError
from tornwrite.engine.format import LOCK_NAME, TMP_SUFFIX, parse_name
from tornwrite.engine.io import IOLayer
from tornwrite.engine.quarantine import QUARANTINE_DIR, quarantine_dir
from tornwrite.engine.recovery import Scan, scan, strict_refusal

EXIT_CODES = {"clean": 0, "residue": 3, "discard": 4, "refuse": 5}
EXIT_FAILED, EXIT_USAGE = 1, 2

_PREVIEW = 70


def _preview(item: object) -> str:
    text = repr(item)
    return text if len(text) <= _PREVIEW else text[: _PREVIEW - 3] + "..."


def _lines(data: bytes) -> Iterator[tuple[int, bytes]]:
    """(offset, line) for each line, the last one possibly without its newline."""
    offset = 0
    for line in data.splitlines(keepends=True):
        yield offset, line
        offset += len(line)


def _inspect_file(io: IOLayer, path: str, kind: str, out: TextIO) -> None:
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


@dataclass
class Judgement:
    """What opening the directory would do, as one verdict (a key of EXIT_CODES)."""

    verdict: str
    result: Scan | None  # None when the scan itself refused
    refusal: CorruptDataError | None = None
    strict: bool = False

    @property
    def exit_code(self) -> int:
        return EXIT_CODES[self.verdict]


def judge(directory: str, *, strict: bool = False) -> Judgement:
    """Scan `directory` as Store.open(strict=strict) would, changing nothing. OSError if unreadable."""
    try:
        result = scan(IOLayer(), directory)
    except CorruptDataError as exc:
        return Judgement("refuse", None, exc, strict)
    refusal = strict_refusal(result)
    if refusal is not None and strict:
        return Judgement("refuse", result, refusal, strict)
    if refusal is not None:
        return Judgement("discard", result, None, strict)
    if result.discarded or result.unlink or result.quarantine_leftovers:
        return Judgement("residue", result, None, strict)
    return Judgement("clean", result, None, strict)


def _files(directory: str) -> list[dict[str, Any]]:
    """Every file in the directory and its quarantine, with its size and what the format calls it."""
    found = []
    for folder, prefix in ((directory, ""), (quarantine_dir(directory), QUARANTINE_DIR + "/")):
        if not os.path.isdir(folder):
            continue
        for name in sorted(os.listdir(folder)):
            path = os.path.join(folder, name)
            if prefix:
                kind = "quarantine-temp" if name.endswith(TMP_SUFFIX) else "quarantine"
            elif name == QUARANTINE_DIR and os.path.isdir(path):
                continue
            elif name == LOCK_NAME:
                kind = "lock"
            else:
                parsed = parse_name(name)
                kind = "unknown" if parsed is None else parsed[0] + ("-temp" if parsed[2] else "")
            found.append({"name": prefix + name, "kind": kind, "bytes": os.path.getsize(path)})
    return found


def _as_json(directory: str, judged: Judgement) -> dict[str, Any]:
    result, refusal = judged.result, judged.refusal
    return {
        "directory": directory,
        "verdict": judged.verdict,
        "exit_code": judged.exit_code,
        "policy": "tolerate-corrupted-tail" if judged.strict else "point-in-time",
        "files": _files(directory),
        "snapshot": None if result is None or result.snapshot is None else os.path.basename(result.snapshot),
        "snapshot_lsn": None if result is None else result.snapshot_lsn,
        "records_replayed": None if result is None else result.replayed,
        "last_lsn": None if result is None else result.last_lsn,
        "discarded": [
            {
                "file": os.path.basename(stretch.path),
                "offset": stretch.offset,
                "bytes": stretch.nbytes,
                "records": stretch.records,
                "damage": stretch.damage,
                "reason": stretch.reason,
            }
            for stretch in (result.discarded if result is not None else [])
        ],
        "removed": [
            {"file": os.path.relpath(path, directory), "why": label}
            for path, label in (
                (result.unlink + [(p, "quarantine.cleanup") for p in result.quarantine_leftovers]) if result else []
            )
        ],
        "refusal": None
        if refusal is None
        else {
            "reason": str(refusal),
            "file": None if refusal.path is None else os.path.basename(refusal.path),
            "offset": refusal.offset,
        },
    }


def _describe(result: Scan, out: TextIO) -> None:
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
            f"({stretch.nbytes} bytes, {stretch.records} checksummed line(s), "
            f"{'damage' if stretch.damage else 'crash residue'}, copied to quarantine first): {stretch.reason}",
            file=out,
        )
    for path, label in result.unlink:
        print(f"recovery: remove {os.path.basename(path)} ({label})", file=out)
    for path in result.quarantine_leftovers:
        print(f"recovery: remove {QUARANTINE_DIR}/{os.path.basename(path)} (an interrupted copy)", file=out)


def _summary(judged: Judgement) -> str:
    if judged.refusal is not None:
        return f"REFUSE: recovery would refuse: {judged.refusal}"
    assert judged.result is not None  # only a refusal comes without a scan
    discarded = judged.result.discarded
    if judged.verdict == "discard":
        lost = [stretch for stretch in discarded if stretch.damage]
        return (
            f"DISCARD: opening would discard {sum(s.records for s in discarded)} checksummed record(s) "
            f"and damage no crash leaves, keeping them in {QUARANTINE_DIR}/: "
            f"{lost[0].path} at offset {lost[0].offset}: {lost[0].reason}"
        )
    if judged.verdict == "residue":
        where = f": {discarded[0].path} at offset {discarded[0].offset}: {discarded[0].reason}" if discarded else ""
        kept = f"(copying cut bytes to {QUARANTINE_DIR}/ first)"
        return f"RESIDUE: crash leftovers only, opening removes them {kept} and loses no record{where}"
    return "CLEAN: ok, opening would change nothing"


def check(directory: str, out: TextIO | None = None, *, as_json: bool = False, strict: bool = False) -> int:
    """Print what opening `directory` would do and return the verdict's exit code."""
    out = out or sys.stdout
    try:
        judged = judge(directory, strict=strict)
        report = _as_json(directory, judged) if as_json else None
    except OSError as exc:
        print(f"tornwrite: cannot read {directory}: {exc}", file=sys.stderr)
        return EXIT_FAILED
    if report is not None:
        print(json.dumps(report, indent=2), file=out)
        return judged.exit_code
    if judged.result is not None:
        _describe(judged.result, out)
    print(_summary(judged), file=out)
    return judged.exit_code


def inspect(directory: str, out: TextIO | None = None, *, strict: bool = False) -> int:
    out = out or sys.stdout
    io = IOLayer()
    for name in sorted(io.listdir(directory, "inspect.listdir")):
        parsed = parse_name(name)
        path = os.path.join(directory, name)
        if parsed is not None and not parsed[2]:
            _inspect_file(io, path, parsed[0], out)
        elif name == QUARANTINE_DIR and os.path.isdir(path):
            kept = sorted(io.listdir(path, "inspect.listdir"))
            print(f"{name}/  (not read: {len(kept)} file(s) recovery kept: {', '.join(kept)})", file=out)
        elif name != LOCK_NAME:
            print(f"{name}  (not read: {'temporary' if parsed else 'not a RedisLite file'})", file=out)
    return check(directory, out, strict=strict)


_EPILOG = """exit codes of check and inspect:
  0  clean: opening would change nothing
  3  crash residue only: a prefix of the last record (maybe zero-filled), a torn header,
     temp files, files a snapshot covers; opening removes them and loses no record
  4  opening would discard damage no crash leaves and the records after it (after copying
     them into quarantine/)
  5  opening would refuse (CorruptDataError)
  1  the check itself failed (I/O error);  2  usage error"""


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="tornwrite",
        description=(__doc__ or "").splitlines()[0],
        epilog=_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    commands = parser.add_subparsers(dest="command", required=True)
    for name, help_text in (
        ("inspect", "print every record and entry, then what recovery would do"),
        ("check", "say what opening would do: exit 0 clean, 3 residue, 4 discard, 5 refuse"),
    ):
        sub = commands.add_parser(
            name, help=help_text, epilog=_EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter
        )
        sub.add_argument("directory")
        sub.add_argument(
            "--strict", action="store_true", help="judge as Store.open(strict=True): discarding damage is a refusal"
        )
        if name == "check":
            sub.add_argument("--json", action="store_true", help="print one JSON object instead of text")
    args = parser.parse_args(argv)
    if not os.path.isdir(args.directory):
        print(f"tornwrite: {args.directory} is not a directory", file=sys.stderr)
        return EXIT_USAGE
    if args.command == "inspect":
        return inspect(args.directory, strict=args.strict)
    return check(args.directory, as_json=args.json, strict=args.strict)


if __name__ == "__main__":
    sys.exit(main())
