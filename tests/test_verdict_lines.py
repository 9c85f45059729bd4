"""What a run tells at a glance: one line per distinct failure, then one verdict line derived from
the exit status before the report's path, for campaign and program; every failing state is kept
in results.json; a closed pipe ends a command quietly."""

import io
import json
import subprocess
import sys
import xml.etree.ElementTree as ElementTree

from tornwrite.engine import Store
from tornwrite.faultinject import campaign, verdict
from tornwrite.faultinject.core.findings import distinct
from tornwrite.faultinject.plan import Plan
from tornwrite.faultinject.program import cli, report
from tornwrite.faultinject.program.run import ProgramRun

FAILING = Plan(("snapshot-heavy",), seed=0, kinds=("power",), ops=12, mutant="wal-append-no-fsync")
PASSING = Plan(("basic",), seed=0, kinds=("power",), ops=6, budget=4)


def run(plan, out):
    printed = io.StringIO()
    status, _, tally = campaign.run(plan, jobs=2, out=str(out), progress=io.StringIO(), report=printed)
    return status, printed.getvalue().splitlines(), tally


def test_the_campaign_prints_one_line_per_distinct_failure_and_keeps_every_state_in_results(tmp_path):
    status, lines, tally = run(FAILING, tmp_path / "run")
    failures = json.loads((tmp_path / "run" / "results.json").read_text())["findings"]["failures"]
    fail_lines = [line for line in lines if line.startswith("FAIL ")]
    counted = [int(line.split()[0].replace(",", "")) for line in lines if line.startswith("     ") and " at " in line]
    assert status == 1 and len(failures) == tally.failures
    assert len(fail_lines) < tally.failures  # states differing only in their index share a line
    assert sum(counted) == tally.failures and len(fail_lines) == len(counted)
    assert len({line.split(": ", 1)[1] for line in fail_lines}) == len(fail_lines)  # each line is a distinct failure
    assert lines[-2].startswith(f"FAIL: {len(fail_lines)} distinct failure") and lines[-1].startswith("report: ")


def test_a_passing_campaign_ends_with_every_state_ok_and_the_report_path(tmp_path):
    status, lines, tally = run(PASSING, tmp_path / "run")
    states = sum(tally.states.values())
    assert status == 0 and lines[-2].startswith(f"every state ok: {states:,} states, 1 kind, ")
    assert lines[-1].startswith("report: ")


def test_distinct_failures_set_numbers_aside_but_not_the_outcome():
    from tornwrite.faultinject.core.results import CrashPoint, StateResult

    point = CrashPoint("power", "basic", 0, 10, 7, "after", "wal.fsync", "/sim/data/x", 3)
    made = [
        StateResult(point, n, "d", 3, False, 0, outcome, f"lost key at offset {n}")
        for n, outcome in enumerate(["lost-acked-write", "lost-acked-write", "invariant-violated"])
    ]
    assert [len(group) for group in distinct(made)] == [2, 1]


TARGET = """
import os

def workload(path, ack):
    with open(os.path.join(path, "f"), "w") as f:
        f.write("x")
    ack(1)

def recover(path):
    return os.listdir(path)

def check(state, acked):
    assert not acked or "f" in state, "lost f"
"""


def test_program_ends_with_the_verdict_line_then_the_report(tmp_path, capsys):
    path = tmp_path / "t.py"
    path.write_text(TARGET)
    assert cli.main([str(path), "--out", str(tmp_path / "out"), "--quiet"]) == 1
    lines = capsys.readouterr().out.splitlines()
    assert lines[-2].startswith("FAIL: 1 distinct failure in ") and lines[-1].startswith("report: ")


class NoVerdict(ProgramRun):
    """A run whose status says no verdict (issue 16's incomplete trace)."""

    @property
    def status(self) -> int:
        return verdict.NO_VERDICT


def test_status_3_reads_no_verdict_in_the_line_and_junit(tmp_path, capsys):
    path = tmp_path / "t.py"
    path.write_text(TARGET.replace('assert not acked or "f" in state, "lost f"', "pass"))
    cli.main([str(path), "--out", str(tmp_path / "out"), "--quiet"])
    from tornwrite.faultinject.program.target import load

    run = NoVerdict(load(str(path)), cli.Options(), cli.crash_test.__globals__["Trace"]())
    run.trace.miss("the trace stops at an unseen call")
    assert report.verdict_line(run).startswith("NO VERDICT: the trace stops at an unseen call")
    report.write_junit(run, str(tmp_path / "junit.xml"))
    errors = ElementTree.parse(tmp_path / "junit.xml").getroot().findall(".//error")
    assert errors and all(e.get("type") == "no-verdict" for e in errors)


def test_a_closed_pipe_ends_inspect_quietly(tmp_path):
    with Store.open(tmp_path / "d") as store:
        for n in range(200):
            store.set(f"k{n}", b"v")
    command = f"{sys.executable} -m tornwrite.faultinject inspect {tmp_path / 'd'} | head -1"
    done = subprocess.run(["sh", "-c", command], capture_output=True, text=True, timeout=120)
    assert done.stdout.count("\n") == 1 and "Traceback" not in done.stderr and "BrokenPipe" not in done.stderr
