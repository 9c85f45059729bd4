"""The campaign's figures and summary: every figure is a real PNG, every link in summary.md leads
to a file, the crash map shows the worst outcome at each point, and matplotlib stays out of the
campaign's workers (it is imported only while a figure is drawn)."""

import json
import re
import shlex
import subprocess
import sys
from dataclasses import replace

import pytest

from tests import bench_recovery
from tornwrite.faultinject import campaign, invocation
from tornwrite.faultinject.core.execution import relative
from tornwrite.faultinject.core.results import WORST_FIRST, StateResult, worst
from tornwrite.faultinject.plan import Plan
from tornwrite.faultinject.report import figures
from tornwrite.faultinject.report import summary as report
from tornwrite.faultinject.zoo import hunt, mutants

PREFIX = shlex.join(invocation.prefix())  # how repro lines start here

PNG = b"\x89PNG\r\n\x1a\n"


def write(plan, outcome, directory, jobs):
    """Write a campaign's report with every state in results.json."""
    campaign.write(plan, outcome.tally, outcome.findings, outcome.traces, str(directory), jobs, states=outcome.results)


def is_png(path) -> bool:
    with open(path, "rb") as f:
        return f.read(8) == PNG and path.stat().st_size > 1000


@pytest.fixture(scope="module")
def tiny():
    plan = Plan(("basic",), ops=8)
    return plan, campaign.execute(plan, jobs=2)


@pytest.fixture(scope="module")
def failing():
    plan = Plan(("basic", "snapshot-heavy"), kinds=("process", "power"), ops=10, mutant="wal-append-no-fsync")
    outcome = campaign.execute(plan, jobs=2)
    assert outcome.tally.failures, "the mutant should fail some power-loss states"
    return plan, outcome


def test_every_campaign_figure_is_written_as_a_png(tiny, tmp_path):
    plan, outcome = tiny
    drawn = figures.campaign_figures(plan, outcome.findings, str(tmp_path), list(outcome.traces.values()))
    assert [d.file for d in drawn] == [figures.CRASH_MAP, figures.BY_KIND, figures.BY_LABEL]
    assert all(is_png(tmp_path / d.file) for d in drawn)


def test_the_crash_maps_caption_says_why_the_ioerror_row_is_half_grey(tiny, failing, tmp_path):
    plan, outcome = tiny  # every kind, ioerror included
    drawn = figures.campaign_figures(plan, outcome.findings, str(tmp_path), list(outcome.traces.values()))
    assert "ioerror row is grey after each step" in drawn[0].caption
    plan, outcome = failing  # no ioerror: no word about it
    drawn = figures.campaign_figures(plan, outcome.findings, str(tmp_path), list(outcome.traces.values()))
    assert "ioerror" not in drawn[0].caption


def test_figures_of_a_failing_campaign_are_drawn_under_its_mutant(failing, tmp_path):
    plan, outcome = failing
    drawn = figures.campaign_figures(plan, outcome.findings, str(tmp_path), list(outcome.traces.values()))
    assert all(is_png(tmp_path / d.file) for d in drawn)


def test_summary_links_lead_to_figures_that_exist(failing, tmp_path):
    plan, outcome = failing
    tally = outcome.tally
    write(plan, outcome, tmp_path, 2)
    summary = (tmp_path / "summary.md").read_text()
    links = re.findall(r"!\[[^\]]*\]\(([^)]+)\)", summary)
    assert set(links) == {figures.CRASH_MAP, figures.BY_KIND, figures.BY_LABEL}
    assert all(is_png(tmp_path / link) for link in links)
    assert "## Failing states, grouped" in summary
    listed = summary.split("## Failures\n", 1)[1]
    assert listed.count(f"`{PREFIX} repro") == min(tally.failures, report.MAX_FAILURES_LISTED)
    assert f"rerun: `{plan.command()}`" in summary


def test_a_campaign_without_crash_points_draws_no_crash_map(tmp_path):
    plan = Plan(("basic",), kinds=("damage",), ops=6, budget=40)
    write(plan, campaign.execute(plan, jobs=1), tmp_path, 1)
    links = re.findall(r"!\[[^\]]*\]\(([^)]+)\)", (tmp_path / "summary.md").read_text())
    assert figures.CRASH_MAP not in links and links and all((tmp_path / link).exists() for link in links)


def test_a_figure_that_cannot_be_drawn_does_not_lose_the_summary(tiny, tmp_path, monkeypatch):
    plan, outcome = tiny

    def broken(*args, **kwargs):
        raise RuntimeError("no figures today")

    monkeypatch.setattr(figures, "campaign_figures", broken)
    write(plan, outcome, tmp_path, 2)
    summary = (tmp_path / "summary.md").read_text()
    assert "Not drawn: `RuntimeError: no figures today`" in summary and "## Failures" in summary


def test_the_crash_map_shows_the_worst_outcome_among_a_points_states():
    assert worst(["ok", "recovery-failed", "lost-acked-write", "ok"]) == "lost-acked-write"
    assert worst(["ok", "ok"]) == "ok"
    assert set(WORST_FIRST) == set(figures.COLOURS) == set(campaign.OUTCOMES)


def test_the_traces_the_campaign_returns_name_the_steps_it_crashed_at(failing):
    plan, outcome = failing
    lines = outcome.traces
    for result in outcome.results:
        line = lines[result.point.workload]
        assert line.labels[result.point.step - 1] == result.point.label
        assert line.op_indexes[result.point.step - 1] == result.point.op_index
    assert lines["snapshot-heavy"].spans("snapshot"), "snapshot-heavy takes snapshots"


def test_results_json_read_back_gives_the_same_states(tiny, tmp_path):
    plan, outcome = tiny
    results = outcome.results
    write(plan, outcome, tmp_path, 2)
    with open(tmp_path / "results.json") as f:
        document = json.load(f)
    states = [StateResult.from_json(row) for row in document["states"]]
    assert document["parameters"]["workloads"] == ["basic"]
    as_written = [(replace(r.point, path=relative(r.point.path)), r.state, r.outcome, r.second) for r in results]
    assert [(s.point, s.state, s.outcome, s.second) for s in states] == as_written


def test_mutant_matrix_is_written_as_a_png(tmp_path):
    matrix = {name: {d: (d in m.caught_by) or None for d in hunt.DETECTORS} for name, m in mutants.MUTANTS.items()}
    matrix["wal-append-no-fsync"]["power"] = False
    figures.mutant_matrix(matrix, str(tmp_path / figures.MUTANT_MATRIX), detectors=hunt.DETECTORS)
    assert is_png(tmp_path / figures.MUTANT_MATRIX)


def test_recovery_sweep_plots_both_series(tmp_path):
    assert (
        bench_recovery.main(["--sizes", "300,900", "--repeat", "1", "--out", str(tmp_path), "--dir", str(tmp_path)])
        == 0
    )
    assert is_png(tmp_path / "recovery.png")
    summary = (tmp_path / "summary.md").read_text()
    assert "](recovery.png)" in summary and "| wal | 900 |" in summary and "| snapshot | 900 |" in summary


def test_importing_the_campaign_and_its_report_does_not_import_matplotlib():
    code = (
        "import sys, tornwrite.faultinject.campaign, tornwrite.faultinject.report.summary, "
        "tornwrite.faultinject.report.figures, tests.bench_recovery; "
        "sys.exit('matplotlib' in sys.modules)"
    )
    assert subprocess.run([sys.executable, "-c", code]).returncode == 0
