"""`redislite inspect` and `redislite check` read a directory, report damage, change nothing."""

import contextlib
import io

from tests.support import abandon, flip_byte, newest_segment, record_offsets, truncate_to
from tornwrite.engine import Store
from tornwrite.engine.cli import main


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
    assert code == 0 and out.strip().endswith("ok")


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
    assert code == 1 and f"{segment} at offset {record_offsets(segment)[0]}" in out
    assert segment.read_bytes() == before


def test_inspect_marks_a_bad_checksum(tmp_path, clock):
    store = make_store(tmp_path / "d", clock)
    store.close()
    segment = newest_segment(tmp_path / "d")
    flip_byte(segment, record_offsets(segment)[0] + 15)
    code, out = run("inspect", str(tmp_path / "d"))
    assert code == 1 and "BAD" in out and "matching checksum" in out


def test_check_reports_refusal(tmp_path, clock):
    make_store(tmp_path / "d", clock).close()
    (tmp_path / "d" / "stray").write_text("x")
    code, out = run("check", str(tmp_path / "d"))
    assert code == 1 and "refuse" in out


def test_not_a_directory_exits_2(tmp_path):
    code, _ = run("check", str(tmp_path / "nope"))
    assert code == 2
