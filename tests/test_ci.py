"""What a CI maintainer relies on: shards that add up to the whole campaign, a merge that gives
the unsharded report and exit status, JUnit XML, a compact results.json, progress in a log,
repro lines that each rerun exactly their state, and an output directory nothing leaks out of."""

import io
import json
import os
import shlex
import xml.etree.ElementTree as ElementTree
from dataclasses import replace

import pytest

from tornwrite.faultinject import campaign, invocation
from tornwrite.faultinject.__main__ import main
from tornwrite.faultinject.kinds import repro_command
from tornwrite.faultinject.plan import Plan

PREFIX = shlex.join(invocation.prefix())  # how repro lines start here

PLAN = Plan(("basic", "snapshot-heavy"), seed=2, kinds=("process", "power", "ioerror", "damage"), ops=10, budget=9)
FAILING = Plan(("snapshot-heavy",), seed=0, kinds=("power",), ops=12, mutant="wal-append-no-fsync")


def points(plan):
    return [(kind, name, point) for kind, name, batch in campaign.tasks(plan) for point in batch]


def test_shards_cover_every_crash_point_exactly_once():
    whole = points(PLAN)
    shards = [points(replace(PLAN, shard=(i, 3))) for i in (1, 2, 3)]
    assert sorted(p for shard in shards for p in shard) == sorted(whole)
    assert sum(len(s) for s in shards) == len(whole) and all(shards)


def run(plan, directory, **options):
    report = io.StringIO()
    status, _, _ = campaign.run(plan, jobs=2, out=str(directory), progress=io.StringIO(), report=report, **options)
    return status, report.getvalue()


def findings_of(directory):
    with open(directory / "results.json") as f:
        document = json.load(f)
    return document["totals"], sorted(json.dumps(row, sort_keys=True) for row in document["findings"]["failures"])


@pytest.mark.parametrize("plan", [PLAN, FAILING], ids=["passing", "failing"])
def test_merged_shards_give_the_unsharded_report_and_exit_status(plan, tmp_path):
    status, _ = run(plan, tmp_path / "whole")
    shards = [tmp_path / f"shard{i}" for i in (1, 2)]
    for i, directory in enumerate(shards, 1):
        run(replace(plan, shard=(i, 2)), directory)
    merged = campaign.merge([str(d) for d in shards], out=str(tmp_path / "merged"), report=io.StringIO())
    assert merged == status
    assert findings_of(tmp_path / "merged") == findings_of(tmp_path / "whole")
    whole_map = json.load(open(tmp_path / "whole" / "results.json"))["findings"]["crash_map"]
    assert json.load(open(tmp_path / "merged" / "results.json"))["findings"]["crash_map"] == whole_map
    assert (tmp_path / "merged" / "crash-map.png").exists() and (tmp_path / "merged" / "summary.md").exists()


def test_merge_refuses_an_incomplete_set_of_shards(tmp_path, capsys):
    run(replace(PLAN, shard=(1, 2)), tmp_path / "one")
    assert main(["merge", str(tmp_path / "one"), "--out", str(tmp_path / "merged")]) == 2
    assert "1/2" in capsys.readouterr().err


def test_junit_has_a_testcase_per_workload_and_kind_and_each_failure_with_its_repro(tmp_path):
    status, _ = run(FAILING, tmp_path / "run", junit=str(tmp_path / "junit.xml"))
    root = ElementTree.parse(tmp_path / "junit.xml").getroot()
    cases = root.findall(".//testcase")
    assert status == 1 and [(c.get("classname"), c.get("name")) for c in cases] == [
        ("tornwrite.power", "snapshot-heavy")
    ]
    failure = cases[0].find("failure")
    assert failure is not None and f"repro: {PREFIX} repro --kind power" in failure.text


def test_results_json_keeps_counts_and_failing_states_only_unless_asked(tmp_path):
    run(PLAN, tmp_path / "compact")
    run(PLAN, tmp_path / "full", all_states=True)
    compact = json.load(open(tmp_path / "compact" / "results.json"))
    full = json.load(open(tmp_path / "full" / "results.json"))
    assert "states" not in compact and len(full["states"]) == sum(sum(c.values()) for c in full["totals"].values())
    assert os.path.getsize(tmp_path / "compact" / "results.json") < os.path.getsize(tmp_path / "full" / "results.json")


def test_each_printed_repro_is_distinct_and_reruns_exactly_its_state(tmp_path):
    status, printed = run(FAILING, tmp_path / "run")
    commands = [line.split("repro: ", 1)[1] for line in printed.splitlines() if "repro: " in line]
    assert status == 1 and commands and len(commands) == len(set(commands))
    with open(tmp_path / "run" / "results.json") as f:
        failures = json.load(f)["findings"]["failures"]
    by_command = {row["repro"]: row for row in failures}
    assert any(row["second"] for row in failures), "some failures should be crashes during recovery or restarts"
    chosen = [row for row in failures if row["second"]][:2] + [row for row in failures if not row["second"]][:1]
    for row in chosen:
        argv = shlex.split(row["repro"])[len(invocation.prefix()) :]  # after the interpreter or script
        lines = []
        from tornwrite.faultinject import repro as repro_module
        from tornwrite.faultinject.kinds.base import ReproRequest

        args = dict(zip(argv[1::2], argv[2::2]))
        request = ReproRequest(
            int(args["--step"]),
            args.get("--phase"),
            int(args.get("--state", 0)),
            int(args["--recovery-step"]) if "--recovery-step" in args else None,
            args.get("--recovery-phase"),
            int(args.get("--recovery-state", 0)),
        )
        code = repro_module.repro(
            args["--kind"],
            args["--workload"],
            int(args["--seed"]),
            int(args["--ops"]),
            request,
            args.get("--mutant"),
            out=lines.append,
        )
        assert code == 1, "\n".join(map(str, lines))
        assert by_command[row["repro"]]["outcome"] in "\n".join(map(str, lines))


def test_a_repro_of_a_step_that_does_not_exist_is_a_clean_usage_error(capsys):
    code = main(
        ["repro", "--kind", "process", "--workload", "basic", "--ops", "5", "--step", "9999", "--phase", "after"]
    )
    assert code == 2 and "9999" in capsys.readouterr().out


def test_a_run_with_out_touches_nothing_outside_its_directory(tmp_path):
    (tmp_path / "latest").write_text("mine")
    run(PLAN, tmp_path / "run")
    assert (tmp_path / "latest").read_text() == "mine"
    assert sorted(os.listdir(tmp_path)) == ["latest", "run"]


def test_progress_in_a_log_names_each_kind_and_prints_its_final_line_once():
    tally = campaign.Tally(points_total=10)
    tally.planned.update({"process": 4, "power": 6})
    tally.points.update({"process": 4, "power": 2})
    tally.points_done = 6
    stream = io.StringIO()
    meter = campaign.Progress(tally, stream)
    meter.last_line -= campaign.HEARTBEAT  # as if the last line were a heartbeat ago
    meter.show()
    meter.show(final=True)
    lines = stream.getvalue().splitlines()
    assert len(lines) == 2 and "process 4/4 done" in lines[0] and "power 2/6" in lines[0] and "left" in lines[0]
    assert "crash points 6/10" in lines[1] and "left" not in lines[1]


def test_repro_command_names_the_mutant_and_the_recovery_crash():
    from tornwrite.faultinject.core.results import CrashPoint, SecondCrash, StateResult

    point = CrashPoint("power", "basic", 0, 10, 7, "after", "wal.fsync", "/sim/data/x", 3, "snapshot-in-place")
    result = StateResult(point, 2, "d", 3, False, 0, "lost-acked-write", "", SecondCrash(0, "after-recovery", 1, "d"))
    command = repro_command(result)
    assert "--recovery-step 0 --recovery-phase after-recovery --recovery-state 1" in command
    assert command.endswith("--mutant snapshot-in-place")


def test_time_left_comes_from_the_recent_rate_and_is_unknown_while_nothing_finishes():
    tally = campaign.Tally(points_total=100, started=0.0)
    meter = campaign.Progress(tally, io.StringIO())
    tally.points_done = 10
    meter._sample(10.0)  # the first 10 points in 10 s (cheap kinds)
    tally.points_done = 12
    meter._sample(100.0)  # then 2 points in 90 s (an expensive kind)
    # the last 60 s hold the sample at 10 s as their anchor, so 2 points in 90 s: 88 left take 66 min
    assert meter.left(100.0) == "  left ~66m00s"
    meter._sample(200.0)
    assert meter.left(200.0) == "  left ?"  # nothing finished in the last RECENT seconds


def test_the_terminal_line_is_cleared_when_redrawn_and_shows_each_kinds_points():
    class Terminal(io.StringIO):
        def isatty(self):
            return True

    tally = campaign.Tally(points_total=10)
    tally.planned.update({"process": 4, "power": 6})
    tally.points.update({"process": 1})
    tally.points_done = 1
    stream = Terminal()
    campaign.Progress(tally, stream).show()
    assert stream.getvalue().startswith("\r\x1b[K") and "process 1/4" in stream.getvalue()
