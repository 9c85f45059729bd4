"""`tornwrite inspect` and `tornwrite check` read a directory, report damage, change nothing.

check's verdicts each have an exit code: 0 clean, 3 crash residue only, 4 would discard
checksummed records, 5 would refuse; 2 is a usage error."""

import contextlib
import io
import json

import pytest

from tests.support import FakeClock, abandon, files, flip_byte, newest_segment, record_offsets, truncate_to
from tornwrite.engine import Store
from tornwrite.engine.cli import main
from tornwrite.engine.format import wal_header, wal_name


def run(*argv):
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        code = main(list(argv))
    return code, out.getvalue()


def make_store(path, clock):
    store = Store.open(path, clock=clock)
    store.set("greeting", b"hello")
    store.rpush("queue", b"job-1")
    store.snapshot()
    store.hset("user:1", {"name": b"Ada"})
    return store


def test_check_passes_a_clean_directory(tmp_path, clock):
    make_store(tmp_path / "d", clock).close()
    code, out = run("check", str(tmp_path / "d"))
    assert code == 0 and out.strip().endswith("opening would change nothing")


def test_inspect_prints_records_with_lsn_offset_and_checksum_status(tmp_path, clock):
    make_store(tmp_path / "d", clock).close()
    code, out = run("inspect", str(tmp_path / "d"))
    assert code == 0
    assert "'greeting'" in out and "b'hello'" in out
    assert "LSN 3" in out and "hset" in out and " ok " in out


def test_check_names_file_and_offset_of_a_torn_tail_and_changes_nothing(tmp_path, clock):
    store = make_store(tmp_path / "d", clock)
    abandon(store)
    segment = newest_segment(tmp_path / "d")
    truncate_to(segment, segment.stat().st_size - 2)
    before = segment.read_bytes()
    code, out = run("check", str(tmp_path / "d"))
    assert code == 3 and f"{segment} at offset {record_offsets(segment)[0]}" in out
    assert segment.read_bytes() == before


def test_inspect_marks_a_bad_checksum_in_the_last_record_as_damage(tmp_path, clock):
    store = make_store(tmp_path / "d", clock)
    store.close()
    segment = newest_segment(tmp_path / "d")
    flip_byte(segment, record_offsets(segment)[0] + 15)
    code, out = run("inspect", str(tmp_path / "d"))
    assert code == 4 and "BAD" in out and "matching checksum" in out


def test_check_reports_refusal(tmp_path, clock):
    make_store(tmp_path / "d", clock).close()
    (tmp_path / "d" / "stray").write_text("x")
    code, out = run("check", str(tmp_path / "d"))
    assert code == 5 and "refuse" in out


def test_not_a_directory_exits_2(tmp_path):
    code, _ = run("check", str(tmp_path / "nope"))
    assert code == 2


# --- verdicts: clean, residue, discard, refuse, each with its exit code -----------------------------


def check_json(*argv):
    code, out = run("check", "--json", *argv)
    report = json.loads(out)
    assert report["exit_code"] == code
    return code, report


def flip_middle_record(directory):
    """One flipped byte in the first of the three records after the snapshot: two whole ones follow."""
    store = make_store(directory, FakeClock())
    store.rpush("queue", b"job-2")
    store.set("greeting", b"hi")
    store.close()
    segment = newest_segment(directory)
    offset = record_offsets(segment)[0]
    flip_byte(segment, offset + 12)
    return segment, offset


def test_check_json_says_clean_with_exit_0(tmp_path, clock):
    make_store(tmp_path / "d", clock).close()
    code, report = check_json(str(tmp_path / "d"))
    assert (code, report["verdict"], report["discarded"], report["refusal"]) == (0, "clean", [], None)
    assert {f["kind"] for f in report["files"]} == {"lock", "snapshot", "wal"}


def test_torn_tail_is_residue_with_exit_3(tmp_path, clock):
    store = make_store(tmp_path / "d", clock)
    abandon(store)
    segment = newest_segment(tmp_path / "d")
    truncate_to(segment, segment.stat().st_size - 2)
    code, report = check_json(str(tmp_path / "d"))
    assert (code, report["verdict"]) == (3, "residue")
    assert [(d["file"], d["records"]) for d in report["discarded"]] == [(segment.name, 0)]


def test_leftover_temp_snapshot_is_residue_with_exit_3(tmp_path, clock):
    make_store(tmp_path / "d", clock).close()
    (tmp_path / "d" / (files(tmp_path / "d", "snapshot-")[0].name + ".tmp")).write_bytes(b"half a snapshot")
    code, report = check_json(str(tmp_path / "d"))
    assert (code, report["verdict"], report["discarded"]) == (3, "residue", [])
    assert [r["why"] for r in report["removed"]] == ["snapshot.cleanup"]


def test_segment_a_snapshot_covers_is_residue_with_exit_3(tmp_path, clock):
    store = make_store(tmp_path / "d", clock)
    store.close()
    covered = tmp_path / "d" / wal_name(1)
    covered.write_bytes(wal_header(1))  # as if the snapshot's cleanup never ran
    code, report = check_json(str(tmp_path / "d"))
    assert (code, report["verdict"]) == (3, "residue")
    assert [r["file"] for r in report["removed"]] == [covered.name]


def test_checksummed_records_after_damage_would_be_discarded_with_exit_4(tmp_path):
    segment, offset = flip_middle_record(tmp_path / "d")
    before = segment.read_bytes()
    code, out = run("check", str(tmp_path / "d"))
    assert code == 4 and "discard 2 checksummed record(s)" in out and f"{segment} at offset {offset}" in out
    code, report = check_json(str(tmp_path / "d"))
    assert (code, report["verdict"]) == (4, "discard")
    assert [(d["file"], d["offset"], d["records"]) for d in report["discarded"]] == [(segment.name, offset, 2)]
    assert segment.read_bytes() == before and not (tmp_path / "d" / "quarantine").exists()


def test_strict_check_turns_a_discard_into_a_refusal_with_exit_5(tmp_path):
    segment, offset = flip_middle_record(tmp_path / "d")
    code, report = check_json("--strict", str(tmp_path / "d"))
    assert (code, report["verdict"], report["policy"]) == (5, "refuse", "tolerate-corrupted-tail")
    assert (report["refusal"]["file"], report["refusal"]["offset"]) == (segment.name, offset)


def test_refusal_names_the_file_with_exit_5(tmp_path, clock):
    make_store(tmp_path / "d", clock).close()
    (tmp_path / "d" / "stray").write_text("x")
    code, report = check_json(str(tmp_path / "d"))
    assert (code, report["verdict"], report["refusal"]["file"]) == (5, "refuse", "stray")
    assert report["snapshot_lsn"] is None and report["discarded"] == []


def test_after_opening_a_discard_the_directory_is_clean_and_lists_its_quarantine(tmp_path, clock):
    flip_middle_record(tmp_path / "d")
    Store.open(tmp_path / "d", clock=clock).close()
    code, report = check_json(str(tmp_path / "d"))
    assert (code, report["verdict"]) == (0, "clean")
    assert [f["kind"] for f in report["files"] if f["name"].startswith("quarantine/")] == ["quarantine"]
    code, out = run("inspect", str(tmp_path / "d"))
    assert code == 0 and "quarantine/  (not read: 1 file(s)" in out


def test_usage_errors_exit_2(tmp_path):
    with pytest.raises(SystemExit) as usage:
        run("check", "--no-such-flag", str(tmp_path))
    assert usage.value.code == 2
    code, _ = run("check", str(tmp_path / "nope"))
    assert code == 2


def test_help_lists_every_exit_code(capsys):
    with pytest.raises(SystemExit):
        main(["check", "--help"])
    text = capsys.readouterr().out
    for line in ("0  clean", "3  crash residue only", "4  opening would discard", "5  opening would refuse"):
        assert line in text


def test_an_interrupted_quarantine_copy_is_residue_that_opening_removes(tmp_path, clock):
    make_store(tmp_path / "d", clock).close()
    (tmp_path / "d" / "quarantine").mkdir()
    leftover = tmp_path / "d" / "quarantine" / f"{wal_name(3)}@0.1.tmp"
    leftover.write_bytes(b"half a copy")
    code, report = check_json(str(tmp_path / "d"))
    assert (code, report["verdict"]) == (3, "residue")
    assert report["removed"] == [{"file": f"quarantine/{leftover.name}", "why": "quarantine.cleanup"}]
    with Store.open(tmp_path / "d", clock=clock) as store:
        assert str(leftover) in store.recovery.removed
    assert not leftover.exists() and run("check", str(tmp_path / "d"))[0] == 0
