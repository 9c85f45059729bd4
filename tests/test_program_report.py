"""A program's report speaks its own outcome names, lists each distinct failure's other points
without repeating the first, and the crash_program fixture writes a report."""

import json

from tests.support import REWRITE_IN_PLACE_TARGET
from tornwrite.faultinject.program import cli, report
from tornwrite.faultinject.program.judge import OUTCOMES
from tornwrite.faultinject.report import figures

TARGET = REWRITE_IN_PLACE_TARGET


def run_target(tmp_path, *extra):
    path = tmp_path / "t.py"
    path.write_text(TARGET)
    out = tmp_path / "out"
    status = cli.main([str(path), "--kill", "0", "--out", str(out), "--quiet", *extra])
    return status, out


def test_the_crash_map_legend_names_only_a_programs_outcomes(tmp_path, monkeypatch):
    drawn = {}
    monkeypatch.setattr(figures, "crash_map", lambda *args, **kwargs: drawn.update(kwargs))
    run_target(tmp_path, "--kinds", "power")
    assert [label for label, _ in drawn["legend"]] == list(OUTCOMES)
    assert {colour for _, colour in drawn["legend"]} == set(report.ENGINE_OUTCOME.values())


def test_also_at_crash_points_does_not_repeat_the_first(tmp_path):
    status, out = run_target(tmp_path, "--kinds", "power")
    summary = (out / "summary.md").read_text()
    first = summary.split("- crash point: ", 1)[1].split(" step ", 1)
    phase, step = first[0], first[1].split("/", 1)[0]
    also = [line for line in summary.splitlines() if line.startswith("Also at crash points:")]
    assert status == 1 and also and f"{step} {phase}," not in also[0] and f"{step} {phase}." not in also[0]


def test_the_results_keep_every_state_and_the_summary_the_verdict(tmp_path):
    status, out = run_target(tmp_path, "--kinds", "power")
    states = json.loads((out / "results.json").read_text())["states"]
    assert status == 1 and "FAIL: 1 distinct failure" in (out / "summary.md").read_text()
    assert any(s["outcome"] == "ok" for s in states) and any(s["outcome"] == "durability" for s in states)
