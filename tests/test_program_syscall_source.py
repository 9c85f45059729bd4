"""The system-call source as a user meets it: a process tree followed whole, a program that forks
keeps every crash point, escapes and hangs are caught and cleaned up, and where ptrace is refused
the run says so in one line instead of guessing."""

import json
import os
import subprocess
import sys

import pytest

from tornwrite.faultinject.program import cli, syscall_source

pytestmark = pytest.mark.skipif(syscall_source.probe() is not None, reason=f"{syscall_source.probe()}")


def run(tmp_path, body: str, *args: str) -> tuple[int, dict]:
    """(exit status, results.json) of a --trace syscall run of a target with `body`."""
    target = tmp_path / "target.py"
    target.write_text("import json, os, subprocess, sys, time\n" + body)
    out = tmp_path / "out"
    status = cli.main([str(target), "--trace", "syscall", "--no-figures", "--out", str(out), "--quiet", *args])
    results = json.loads((out / "results.json").read_text()) if (out / "results.json").exists() else {}
    return status, results


def processes_naming(tmp_path) -> list[str]:
    """Live processes whose command line names `tmp_path`: a run's own (other tests' runs may be alive)."""
    found = []
    for pid in os.listdir("/proc"):
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as f:
                found += [pid] if str(tmp_path).encode() in f.read() else []
        except OSError:
            pass
    return found


SAVE = """
def save(path, i):
    temp = os.path.join(path, "db.tmp")
    with open(temp, "w") as f:
        json.dump({"n": i}, f); f.flush(); os.fsync(f.fileno())
    os.replace(temp, os.path.join(path, "db"))
    fd = os.open(path, os.O_RDONLY); os.fsync(fd); os.close(fd)

def recover(path):
    try:
        with open(os.path.join(path, "db")) as f:
            return json.load(f)["n"]
    except FileNotFoundError:
        return -1

def check(state, acked):
    assert not acked or state >= acked[-1], f"lost {acked[-1]}"
"""


def test_a_program_that_saves_from_forked_children_keeps_every_crash_point(tmp_path):
    body = (
        SAVE
        + """
def workload(path, ack):
    for i in range(3):
        pid = os.fork()
        if pid == 0:
            save(path, i)
            os._exit(0)
        os.waitpid(pid, 0)
        ack(i)
"""
    )
    status, results = run(tmp_path, body, "--kill", "0")
    assert status == 0, results.get("unseen")
    steps = len(results["trace"])
    assert steps == 3 * 5  # create, write, fsync, rename, fsync dir: each fork's steps are in the trace
    process = [s for s in results["states"] if s["kind"] == "process"]
    assert len(process) == 2 * steps  # every crash point, before and after each step, none dropped


def test_a_daemon_that_outlives_the_program_is_caught_killed_and_named(tmp_path):
    body = (
        SAVE
        + """
def workload(path, ack):
    save(path, 0)
    ack(0)
    if os.fork() == 0:  # a daemon: a new session, writing on after the workload returned
        os.setsid()
        time.sleep(30)
        os._exit(0)
"""
    )
    status, results = run(tmp_path, body, "--kill", "0")
    assert status == 3
    assert any("still running" in reason and "daemon" in reason for reason in results["unseen"])
    assert processes_naming(tmp_path) == []  # nothing of the run outlives it: the daemon is a fork of the program


def test_a_program_that_hangs_is_killed_after_the_timeout_with_its_children(tmp_path, capsys):
    body = (
        SAVE
        + """
def workload(path, ack):
    save(path, 0)
    subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)", path])
    time.sleep(60)
"""
    )
    status, _ = run(tmp_path, body, "--timeout", "2")
    assert status == 2
    assert "hang" in capsys.readouterr().err
    assert processes_naming(tmp_path) == []


def test_where_ptrace_is_refused_the_source_asked_for_is_a_usage_error_and_the_default_falls_back(
    tmp_path, monkeypatch, capsys
):
    monkeypatch.setattr(syscall_source, "probe", lambda: "ptrace is not permitted here (EPERM)")
    target = tmp_path / "target.py"
    target.write_text("import json, os\n" + SAVE + "\ndef workload(path, ack):\n    save(path, 0)\n    ack(0)\n")
    out = tmp_path / "out"
    assert cli.main([str(target), "--trace", "syscall", "--out", str(out), "--quiet"]) == 2
    assert "ptrace is not permitted here" in capsys.readouterr().err
    assert cli.main([str(target), "--no-figures", "--out", str(tmp_path / "out2"), "--quiet"]) == 0
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "using the Python interposer" in err  # one line, and the run goes on


def test_nothing_is_written_outside_out_and_the_harness_temporary_directories(tmp_path):
    work = tmp_path / "cwd"
    work.mkdir()
    target = tmp_path / "target.py"
    target.write_text("import json, os\n" + SAVE + "\ndef workload(path, ack):\n    save(path, 0)\n    ack(0)\n")
    out = tmp_path / "out"
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "tornwrite.faultinject",
            "program",
            str(target),
            "--trace",
            "syscall",
            "--no-figures",
            "--out",
            str(out),
            "--quiet",
        ],
        cwd=work,
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stderr
    assert os.listdir(work) == []
