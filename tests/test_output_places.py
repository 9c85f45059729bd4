"""Where a run writes: only into a directory it creates or one tornwrite wrote before; a file, an
unwritable place or a user's directory given as --out, and an existing --junit file without
--force, are usage errors (exit 2) said before any work, for campaign, merge and program alike."""

import os

import pytest

from tornwrite.faultinject import campaign, outdir
from tornwrite.faultinject.__main__ import main
from tornwrite.faultinject.program import cli

TARGET = """
import os

def workload(path, ack):
    with open(os.path.join(path, "f"), "w") as f:
        f.write("x")
        f.flush()
        os.fsync(f.fileno())
    ack(1)

def recover(path):
    return os.listdir(path)
"""


@pytest.fixture
def no_work(monkeypatch):
    """Any crash test started fails the test: the refusal must come first."""

    def refuse(*args, **kwargs):
        raise AssertionError("work started before the output place was checked")

    monkeypatch.setattr(campaign, "execute", refuse)
    monkeypatch.setattr(cli, "crash_test", refuse)


def campaign_argv(*extra):
    return ["campaign", "--workload", "basic", "--kinds", "power", "--ops", "5", "--budget", "2", "--jobs", "1", *extra]


def target(tmp_path):
    path = tmp_path / "target.py"
    path.write_text(TARGET)
    return str(path)


def test_out_naming_a_file_is_a_usage_error_before_any_work(tmp_path, no_work, capsys):
    (tmp_path / "file").write_text("x")
    assert main(campaign_argv("--out", str(tmp_path / "file"))) == 2
    assert cli.main([target(tmp_path), "--out", str(tmp_path / "file")]) == 2
    assert main(["merge", str(tmp_path), "--out", str(tmp_path / "file")]) == 2
    assert capsys.readouterr().err.count("is a file, not a directory") == 3


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes anywhere")
def test_out_in_an_unwritable_place_is_a_usage_error(tmp_path, no_work, capsys):
    locked = tmp_path / "locked"
    locked.mkdir(mode=0o500)
    assert main(campaign_argv("--out", str(locked / "run"))) == 2
    assert "not a writable directory" in capsys.readouterr().err


def test_a_directory_holding_a_users_files_is_refused_and_left_alone(tmp_path, no_work, capsys):
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "summary.md").write_text("my notes")
    assert main(campaign_argv("--out", str(mine))) == 2
    assert cli.main([target(tmp_path), "--out", str(mine)]) == 2
    assert "did not write (summary.md)" in capsys.readouterr().err
    assert (mine / "summary.md").read_text() == "my notes" and os.listdir(mine) == ["summary.md"]


def test_an_existing_junit_file_is_refused_unless_forced(tmp_path, no_work, capsys):
    (tmp_path / "junit.xml").write_text("old")
    assert main(campaign_argv("--junit", str(tmp_path / "junit.xml"), "--out", str(tmp_path / "run"))) == 2
    assert cli.main([target(tmp_path), "--junit", str(tmp_path / "junit.xml"), "--out", str(tmp_path / "p")]) == 2
    assert capsys.readouterr().err.count("give --force") == 2
    assert outdir.new_file(str(tmp_path / "junit.xml"), force=True)


def test_a_run_may_write_again_into_its_own_directory_but_not_once_a_user_adds_a_file(tmp_path):
    out = tmp_path / "out"
    assert cli.main([target(tmp_path), "--out", str(out), "--quiet"]) == 0
    assert cli.main([target(tmp_path), "--out", str(out), "--quiet"]) == 0
    (out / "notes.txt").write_text("mine")
    assert cli.main([target(tmp_path), "--out", str(out), "--quiet"]) == 2


def test_program_junit_has_a_testcase_per_kind(tmp_path):
    import xml.etree.ElementTree as ElementTree

    junit = tmp_path / "reports" / "junit.xml"
    assert (
        cli.main([target(tmp_path), "--kill", "0", "--out", str(tmp_path / "out"), "--junit", str(junit), "--quiet"])
        == 0
    )
    cases = ElementTree.parse(junit).getroot().findall(".//testcase")
    assert [c.get("classname") for c in cases] == ["tornwrite.program.process", "tornwrite.program.power"]
    assert all(c.find("failure") is None for c in cases)
