"""Damage at the end of the log is told from a crash's residue (docs/FORMAT.md, "Recovery" rule 5).

A crash leaves a prefix of the record being appended, maybe zero-filled from some point on
(docs/CRASH-MODEL.md): that is cut, its bytes kept in the quarantine, with no warning, and
strict mode opens. Anything else at the tail (a whole newline-terminated line with a bad
checksum, two records merged by a flipped newline, a record followed by stray bytes) is damage:
quarantined with a warning, refused in strict mode by file and offset, and `check` exits 4.
"""

from __future__ import annotations

import contextlib
import io
import json
import logging
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.support import FakeClock, record_offsets
from tornwrite.engine import CorruptDataError, Store
from tornwrite.engine.cli import main
from tornwrite.engine.format import wal_header, wal_name
from tornwrite.models.format_reader import read_directory

RECORDS = 5
SEGMENT = wal_name(1)


def _written(directory: Path) -> list[bytes]:
    """Five records, each value non-ASCII; the values in order."""
    values = [f"value {n} – ünïcode".encode() for n in range(RECORDS)]
    with Store.open(directory, clock=FakeClock()) as store:
        for n, value in enumerate(values):
            store.set(f"k{n}", value)
    return values


def _flip(data: bytes, offset: int) -> bytes:
    return data[:offset] + bytes([data[offset] ^ 0x01]) + data[offset + 1 :]


def _last_record_flipped(data: bytes, last: int) -> bytes:
    return _flip(data, last + 20)  # inside the body: the line keeps its newline


def _newline_between_the_last_two_flipped(data: bytes, last: int) -> bytes:
    return _flip(data, last - 1)  # the last two records merge into one long line


def _last_newline_flipped(data: bytes, last: int) -> bytes:
    return _flip(data, len(data) - 1)  # a whole record followed by a stray byte, no newline


def _garbage_tail(data: bytes, last: int) -> bytes:
    return data + b"not a record"  # no newline, but nothing a record begins with


# name -> (the damage, how many records stay, which record's offset the cut is at: RECORDS = the end)
DAMAGE: dict[str, tuple[Callable[[bytes, int], bytes], int, int]] = {
    "last-record-flipped": (_last_record_flipped, RECORDS - 1, RECORDS - 1),
    "newline-between-last-two-flipped": (_newline_between_the_last_two_flipped, RECORDS - 2, RECORDS - 2),
    "last-newline-flipped": (_last_newline_flipped, RECORDS - 1, RECORDS - 1),
    "garbage-after-the-last-record": (_garbage_tail, RECORDS, RECORDS),
}


def _zero_filled_from(data: bytes, last: int) -> bytes:
    return data[: last + 30] + b"\0" * (len(data) - last - 30)  # its size reached the disk, not its data


def _torn(data: bytes, last: int) -> bytes:
    return data[:-7]


def _torn_before_its_newline(data: bytes, last: int) -> bytes:
    return data[:-1]


def _all_zero(data: bytes, last: int) -> bytes:
    return data[:last] + b"\0" * (len(data) - last)


RESIDUE: dict[str, Callable[[bytes, int], bytes]] = {
    "last-record-zero-filled-from-a-point": _zero_filled_from,
    "last-record-torn": _torn,
    "last-record-torn-just-before-its-newline": _torn_before_its_newline,
    "last-record-all-zero": _all_zero,
}


def _damaged(tmp_path: Path, change: Callable[[bytes, int], bytes]) -> tuple[Path, list[bytes], bytes, list[int]]:
    """(directory, values, the segment's damaged bytes, each record's offset and the end before)."""
    directory = tmp_path / "data"
    values = _written(directory)
    segment = directory / SEGMENT
    data = segment.read_bytes()
    offsets = [*record_offsets(segment), len(data)]
    segment.write_bytes(change(data, offsets[-2]))
    return directory, values, segment.read_bytes(), offsets


def _check(*argv: str) -> tuple[int, dict]:
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        code = main(["check", "--json", *argv])
    return code, json.loads(out.getvalue())


def _repro(name: str) -> str:
    return f"repro: .venv/bin/python -m pytest tests/test_tail_damage.py -k {name}"


@pytest.mark.parametrize("name", sorted(DAMAGE))
def test_damage_at_the_tail_is_quarantined_with_a_warning_not_cut_as_residue(tmp_path, name, caplog):
    change, kept, at = DAMAGE[name]
    directory, values, damaged, offsets = _damaged(tmp_path, change)
    cut = offsets[at]
    with caplog.at_level(logging.WARNING, logger="tornwrite.engine.recovery"):
        store = Store.open(directory, clock=FakeClock())
    assert store.dump() == {f"k{n}": ("string", values[n], None) for n in range(kept)}, _repro(name)
    [stretch] = store.recovery.discarded
    store.close()
    assert stretch.damage and stretch.offset == cut, _repro(name)
    assert (directory / "quarantine" / f"{SEGMENT}@{cut}.1").read_bytes() == damaged[cut:]
    assert any(SEGMENT in r.getMessage() and f"offset {cut}" in r.getMessage() for r in caplog.records)


@pytest.mark.parametrize("name", sorted(DAMAGE))
def test_strict_mode_refuses_damage_at_the_tail_naming_file_and_offset(tmp_path, name):
    change, _, at = DAMAGE[name]
    directory, _, damaged, offsets = _damaged(tmp_path, change)
    with pytest.raises(CorruptDataError) as refused:
        Store.open(directory, clock=FakeClock(), strict=True)
    assert (refused.value.path, refused.value.offset) == (str(directory / SEGMENT), offsets[at]), _repro(name)
    assert (directory / SEGMENT).read_bytes() == damaged and not (directory / "quarantine").exists()


@pytest.mark.parametrize("name", sorted(DAMAGE))
def test_check_says_damage_at_the_tail_would_be_discarded_exit_4(tmp_path, name):
    directory, _, _, _ = _damaged(tmp_path, DAMAGE[name][0])
    code, report = _check(str(directory))
    assert (code, report["verdict"]) == (4, "discard"), _repro(name)
    assert [d["damage"] for d in report["discarded"]] == [True]
    code, report = _check("--strict", str(directory))
    assert (code, report["verdict"], report["refusal"]["file"]) == (5, "refuse", SEGMENT)


@pytest.mark.parametrize("name", sorted(RESIDUE))
def test_a_crash_residue_at_the_tail_is_cut_and_kept_in_quarantine_without_a_warning(tmp_path, name, caplog):
    directory, values, damaged, offsets = _damaged(tmp_path, RESIDUE[name])
    last = offsets[-2]
    code, report = _check(str(directory))
    assert (code, report["verdict"], report["discarded"][0]["damage"]) == (3, "residue", False), _repro(name)
    assert _check("--strict", str(directory))[0] == 3
    with caplog.at_level(logging.WARNING, logger="tornwrite.engine.recovery"):
        store = Store.open(directory, clock=FakeClock(), strict=True)
    assert store.dump() == {f"k{n}": ("string", values[n], None) for n in range(RECORDS - 1)}
    [stretch] = store.recovery.discarded
    store.close()
    assert not stretch.damage and stretch.offset == last and not caplog.records, _repro(name)
    assert (directory / "quarantine" / f"{SEGMENT}@{last}.1").read_bytes() == damaged[last:]
    assert (directory / SEGMENT).stat().st_size == last


def test_a_torn_record_that_is_not_at_the_end_of_the_log_is_damage(tmp_path):
    directory = tmp_path / "data"
    _written(directory)
    segment = directory / SEGMENT
    data = segment.read_bytes()
    last = record_offsets(segment)[-1]
    segment.write_bytes(data[:-7])  # torn, as a crash leaves it; but a later segment follows
    (directory / wal_name(RECORDS)).write_bytes(wal_header(RECORDS))
    code, report = _check(str(directory))
    assert (code, report["discarded"][0]["offset"], report["discarded"][0]["damage"]) == (4, last, True)
    with pytest.raises(CorruptDataError):
        Store.open(directory, clock=FakeClock(), strict=True)


def test_the_format_reader_stops_where_recovery_cuts_for_damage_and_residue(tmp_path):
    changes = {**{name: change for name, (change, _, _) in DAMAGE.items()}, **RESIDUE}
    for name, change in changes.items():
        directory, _, _, _ = _damaged(tmp_path / name, change)
        reading = read_directory(directory)
        with Store.open(directory, clock=FakeClock()) as store:
            assert reading.refused is None and reading.view(FakeClock()()) == store.dump(), _repro(name)
