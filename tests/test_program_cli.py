"""`python -m tornwrite.faultinject program`: exit codes, reports, --explain, and determinism from --seed."""

import json
import random
import re
import shlex
from pathlib import Path

import pytest

from tornwrite.faultinject import invocation
from tornwrite.faultinject.core.simdisk import SimDisk
from tornwrite.faultinject.program import cli

PREFIX = shlex.join(invocation.prefix())  # how repro lines start here

EXAMPLES = Path(__file__).resolve().parent.parent / "docs" / "examples"


def write_target(tmp_path, body: str) -> str:
    path = tmp_path / "target.py"
    path.write_text("import os, json\n" + body)
    return str(path)


def power_states(tmp_path, body: str) -> tuple[int, list[dict]]:
    """(exit status, every state of results.json) of a power-only run of a target with `body`."""
    out = tmp_path / "out"
    status = cli.main([write_target(tmp_path, body), "--kinds", "power", "--out", str(out), "--quiet"])
    return status, json.loads((out / "results.json").read_text())["states"]


def test_a_workload_with_no_visible_io_is_an_error_not_a_pass(tmp_path, capsys):
    target = write_target(tmp_path, "def workload(path, ack):\n    ack(1)\n\ndef recover(path):\n    return None\n")
    assert cli.main([target, "--out", str(tmp_path / "out"), "--quiet"]) == 2
    assert "no file I/O" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()


def test_a_target_without_recover_is_a_usage_error(tmp_path, capsys):
    target = write_target(tmp_path, "def workload(path, ack):\n    pass\n")
    assert cli.main([target, "--quiet"]) == 2
    assert "defines no recover" in capsys.readouterr().err


def test_a_workload_that_raises_without_a_crash_is_a_usage_error(tmp_path, capsys):
    body = (
        "def workload(path, ack):\n    open(os.path.join(path, 'a'), 'w').close()\n    raise ValueError('own bug')\n\n"
        "def recover(path):\n    return None\n"
    )
    assert cli.main([write_target(tmp_path, body), "--quiet"]) == 2
    assert "ValueError: own bug" in capsys.readouterr().err


def test_unknown_kinds_and_malformed_explain_are_usage_errors(tmp_path):
    target = str(EXAMPLES / "safe_json.py")
    assert cli.main([target, "--kinds", "power,meteor"]) == 2
    assert cli.main([target, "--explain", "seven"]) == 2
    assert cli.main([target, "--explain", "3:after:0"]) == 2  # needs a single kind
    assert cli.main([target, "--kinds", "power", "--explain", "3:after:0-life"]) == 2


def test_a_check_raising_lost_is_durability_and_any_other_assertion_is_invariant(tmp_path):
    body = (
        "def workload(path, ack):\n"
        "    with open(os.path.join(path, 'n'), 'w') as f:\n        f.write('1')\n    ack(1)\n\n"
        "def recover(path):\n    return os.path.exists(os.path.join(path, 'n'))\n\n"
        "def check(state, acked):\n"
        "    assert state or not acked, 'lost the acked write'\n"
        "    assert not state or acked, 'written before its ack'\n"
    )
    status, states = power_states(tmp_path, body)
    assert status == 1
    assert {s["outcome"] for s in states} == {"ok", "durability", "invariant"}


def test_explain_narrates_the_crash_point_the_state_and_the_verdict(tmp_path, capsys):
    target = str(EXAMPLES / "naive_json.py")
    assert cli.main([target, "--kinds", "process", "--explain", "1:after", "--trace", "python"]) == 1
    story = capsys.readouterr().out
    assert "open('w') db.json (created)" in story
    assert "---- the process crash, after step 1" in story
    assert "The files it left: db.json 0 B." in story
    assert "Outcome: INTEGRITY: recover raised JSONDecodeError" in story
    assert "--kinds process --explain 1:after:0" in story


def test_the_summary_lists_each_distinct_failure_with_its_call_and_repro(tmp_path):
    out = tmp_path / "out"
    assert cli.main([str(EXAMPLES / "broken_no_dir_fsync.py"), "--kinds", "power", "--out", str(out), "--quiet"]) == 1
    summary = (out / "summary.md").read_text()
    assert "### durability (power)" in summary
    assert "`rename db.json.tmp -> db.json`" in summary  # the system call, as the kernel saw it
    assert f"Reproduce: `{PREFIX} program" in summary
    assert summary.count("### ") == 1  # one distinct failure, however many states show it


def test_the_same_seed_gives_the_same_crash_states(tmp_path):
    runs = []
    for name in ("a", "b"):
        out = tmp_path / name
        cli.main([str(EXAMPLES / "naive_json.py"), "--kinds", "power", "--seed", "7", "--out", str(out), "--quiet"])
        # real kills land where timing puts them (docs/PROGRAMS.md); the crash states are the seed's alone
        states = [s for s in json.loads((out / "results.json").read_text())["states"] if s["kind"] != "kill"]
        runs.append([(s["step"], s["phase"], s["state"], s["description"], s["outcome"]) for s in states])
    assert runs[0] == runs[1]


def test_a_torn_overwrite_in_place_keeps_the_bytes_after_it():
    disk = SimDisk.from_image({"/d": {"f": b"0123456789"}})
    disk.write_at(disk.open_append("/d/f"), 0, b"ab")
    images = {state.image["/d"]["f"] for state in disk.power_loss_states(random.Random(0))}
    assert images == {b"0123456789", b"ab23456789", b"a123456789"}  # never cut short, never zeros


def test_explain_narrates_each_later_life_up_to_the_crash_it_names(tmp_path, capsys):
    target = str(EXAMPLES / "broken_torn_tail_kept.py")
    out = tmp_path / "out"
    assert cli.main([target, "--kinds", "power", "--out", str(out), "--quiet"]) == 1
    states = json.loads((out / "results.json").read_text())["states"]
    first = next(s for s in states if s["outcome"] != "ok" and s["life"] == 1 and "torn" in s["description"])
    label = f"{first['step']}:{first['phase']}:{first['state']}-life1"
    capsys.readouterr()
    assert cli.main([target, "--kinds", "power", "--explain", label]) == 1
    story = capsys.readouterr().out
    assert re.search(r"A power loss here: last write torn at \d+/20 bytes. The program's recover\(\) read that", story)
    assert "Later life 1: the program restarts on those files; its recover() and then resume() did" in story
    assert "ack [2, 0]" in story  # the later life's acks, where it made them
    assert "---- the power fails, after its step" in story
    assert "Outcome: DURABILITY: check: AssertionError: lost acked records [[2, 0]" in story
    assert f"--kinds power --explain {label}" in story


def test_a_target_named_like_the_library_it_imports_gets_the_library(tmp_path):
    # tinydb.py doing `from tinydb import TinyDB`: the target's folder goes after installed packages
    pytest.importorskip("tinydb")
    target = tmp_path / "tinydb.py"
    target.write_text(
        "import os\nfrom tinydb import TinyDB\n\n"
        "def workload(path, ack):\n"
        "    TinyDB(os.path.join(path, 'db.json')).insert({'i': 0})\n"
        "    ack(0)\n\n"
        "def recover(path):\n"
        "    return os.listdir(path)\n"
    )
    out = tmp_path / "out"
    status = cli.main([str(target), "--kinds", "process", "--kill", "0", "--no-figures", "--out", str(out), "--quiet"])
    assert status == 0
