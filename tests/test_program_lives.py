"""Later lives (faultinject/program/lives.py): a target with resume() restarts after a recovered
crash, writes on, and loses power again; what only shows there is caught, and a restart that
fails, hangs or writes unseen is reported, never silently dropped."""

import json
from pathlib import Path

import pytest

from tornwrite.faultinject.program import cli, kills

EXAMPLES = Path(__file__).resolve().parent.parent / "docs" / "examples"
# Targets below reuse the append-only log of docs/examples/append_log.py and change one function.
PRELUDE = f"import json, os, subprocess, sys, time\nsys.path.insert(0, {str(EXAMPLES)!r})\n"
PRELUDE += "from append_log import LOG, OPS, append, check, read, recover, resume, run, setup, workload  # noqa\n"


def crash_test(tmp_path, body: str, *options: str) -> tuple[int, list[dict], list[str]]:
    """(exit status, every state, the warnings and reasons the trace is incomplete) of a power-only
    run of an append_log variant."""
    target, out = tmp_path / "target.py", tmp_path / "out"
    target.write_text(PRELUDE + body)
    status = cli.main([str(target), "--kinds", "power", "--kill", "0", "--out", str(out), "--quiet", *options])
    results = json.loads((out / "results.json").read_text())
    return status, results["states"], results["warnings"] + results["unseen"]


def failures(states: list[dict]) -> list[dict]:
    return [s for s in states if s["outcome"] != "ok"]


def test_a_bug_that_shows_only_after_a_fully_durable_state_is_caught(tmp_path):
    # The workload ends with an END line; recovery cuts any torn tail but stops reading at END, and
    # resume appends behind it. Only a state where nothing was lost (END whole) leads to the loss.
    body = (
        "def workload(path, ack):\n"
        "    run(path, ack, 1)\n"
        "    fd = os.open(os.path.join(path, LOG), os.O_WRONLY | os.O_APPEND)\n"
        "    os.write(fd, b'END\\n'); os.fsync(fd); os.close(fd)\n\n"
        "def recover(path):\n"
        "    with open(os.path.join(path, LOG), 'rb') as f:\n"
        "        data = f.read()\n"
        "    whole = data.rfind(b'\\n') + 1\n"
        "    if whole < len(data):\n"
        "        fd = os.open(os.path.join(path, LOG), os.O_WRONLY)\n"
        "        os.ftruncate(fd, whole); os.fsync(fd); os.close(fd)\n"
        "    lines = data[:whole].split(b'\\n')[:-1]\n"
        "    return [json.loads(line) for line in lines[: lines.index(b'END') if b'END' in lines else None]]\n"
    )
    status, states, _ = crash_test(tmp_path, body)
    assert status == 1
    broken = failures(states)
    assert broken and all(s["outcome"] == "durability" and s["life"] for s in broken)
    assert any(s["description"].startswith("nothing pending; then") for s in broken)


def test_a_resume_that_raises_is_an_integrity_failure_wherever_a_state_lived_on(tmp_path):
    body = "def resume(path, ack, acked):\n    append(path, {'life': 2, 'i': 0})\n    raise KeyError('oops')\n"
    status, states, _ = crash_test(tmp_path, body)
    assert status == 1
    lived = {(s["step"], s["phase"]) for s in states if s["life"]}
    broken = failures(states)
    assert {(s["step"], s["phase"]) for s in broken} == lived  # every life raised, and every one was reported
    assert {s["detail"] for s in broken} == {"the restart raised KeyError: 'oops'"}


def test_a_resume_that_exits_is_an_integrity_failure_not_a_crash_of_the_harness(tmp_path):
    status, states, _ = crash_test(tmp_path, "def resume(path, ack, acked):\n    sys.exit(0)\n")
    assert status == 1
    assert {s["detail"] for s in failures(states)} == {"the restart raised SystemExit: 0"}


@pytest.mark.parametrize("source", ["syscall", "python"])
def test_a_resume_that_hangs_fails_once_and_stops_the_later_lives(tmp_path, monkeypatch, source):
    monkeypatch.setattr(kills, "CHILD_TIMEOUT", 1.0)
    hang = "def resume(path, ack, acked):\n    time.sleep(60)\n"
    status, states, warnings = crash_test(tmp_path, hang, "--trace", source, "--timeout", "1")
    assert status == 1
    [hung] = failures(states)
    assert hung["outcome"] == "integrity" and "hang" in hung["detail"]
    assert any(w.startswith("later lives stop after step") for w in warnings)


# A later life whose write is made by a child process (sh's printf), not by Python.
CHILD_WRITES = (
    "def resume(path, ack, acked):\n"
    "    line = json.dumps({'life': 2, 'i': 0})\n"
    "    subprocess.run(['sh', '-c', f\"printf '%s\\\\n' '{line}' >> {LOG}\"], cwd=path, check=True)\n"
    "    ack([2, 0])\n"
)


def test_a_later_life_whose_io_the_interposer_cannot_see_is_warned_about(tmp_path):
    status, _, unseen = crash_test(tmp_path, CHILD_WRITES, "--trace", "python")
    assert status == 3  # no verdict: the interposer knows it did not see the child's write
    assert any(w.startswith("in a later life: a child process") for w in unseen)


def test_a_later_lifes_child_process_is_traced_by_the_system_call_source(tmp_path):
    status, _, unseen = crash_test(tmp_path, CHILD_WRITES, "--trace", "syscall")
    assert unseen == [] and status in (0, 1)


@pytest.mark.parametrize("example", ["safe_json.py", "engine_store.py"])
def test_a_target_without_resume_has_no_later_lives(tmp_path, example):
    out = tmp_path / "out"
    cli.main([str(EXAMPLES / example), "--kinds", "power", "--out", str(out), "--quiet"])
    assert not any(s["life"] for s in json.loads((out / "results.json").read_text())["states"])
