"""The crash campaign: it passes the real engine, and each planted bug is caught by the fault
kind that can see it (and, where a kind cannot, missed by it: CRASH-MODEL.md says why)."""

import io
import json
import shlex

import pytest

from tornwrite.faultinject import campaign, invocation
from tornwrite.faultinject.kinds import NAMES
from tornwrite.faultinject.plan import Plan

PREFIX = shlex.join(invocation.prefix())  # how repro lines start here


def run(tmp_path, workloads=("snapshot-heavy",), kinds=("process", "power"), mutant=None, ops=20):
    plan = Plan(tuple(workloads), seed=3, kinds=tuple(kinds), ops=ops, mutant=mutant)
    status, out, tally = campaign.run(
        plan, jobs=2, out=str(tmp_path / "run"), progress=io.StringIO(), report=io.StringIO(), all_states=True
    )
    with open(f"{out}/results.json") as f:
        results = json.load(f)
    return status, tally, results


def failures(tally, kind):
    return sum(n for (k, outcome), n in tally.outcomes.items() if k == kind and outcome != "ok")


def test_stop_on_failure_ends_early_and_cleanly():
    plan = Plan(("snapshot-heavy",), kinds=("power",), ops=30, mutant="wal-append-no-fsync")
    tally = campaign.execute(plan, jobs=2, stop_on_failure=True).tally
    assert tally.failures > 0 and tally.points_done < tally.points_total


def test_campaign_finds_nothing_on_the_real_engine(tmp_path):
    status, tally, results = run(tmp_path, workloads=("basic", "ttl", "mixed"), ops=25)
    assert status == 0 and tally.failures == 0
    assert tally.states["power"] > tally.points["power"]  # several crash states per point
    assert tally.points["process"] == tally.points["power"] == tally.points_total // 2
    assert all(row["outcome"] == "ok" for row in results["states"])


def test_results_and_summary_are_written_with_every_state(tmp_path):
    status, tally, results = run(tmp_path, workloads=("basic",), ops=8)
    assert len(results["states"]) == sum(tally.states.values())
    row = results["states"][0]
    assert {"workload", "seed", "kind", "step", "label", "acked", "outcome"} <= set(row)
    assert (tmp_path / "run" / "summary.md").read_text().startswith("# Crash campaign")


def test_fsync_removed_from_wal_append_is_caught_by_power_loss_but_not_by_process_crash(tmp_path):
    status, tally, results = run(tmp_path, mutant="wal-append-no-fsync", workloads=("basic",))
    assert status == 1
    assert failures(tally, "power") > 0
    assert failures(tally, "process") == 0  # the page cache survives a process crash
    lost = [r for r in results["states"] if r["outcome"] == "lost-acked-write"]
    assert lost and all(r["repro"].startswith(f"{PREFIX} repro --kind power") for r in lost)


def test_memory_applied_before_the_wal_is_caught_by_process_crash_through_the_observer(tmp_path):
    status, tally, results = run(tmp_path, mutant="memory-before-wal", workloads=("basic",), kinds=("process",))
    seen = [r for r in results["states"] if r["outcome"] == "lost-acked-write"]
    assert status == 1 and seen
    assert all(r["observed"] > r["acked"] for r in seen)  # a reader saw a write that then vanished


def test_snapshot_renamed_without_directory_fsync_is_caught_by_power_loss(tmp_path):
    status, tally, _ = run(tmp_path, mutant="snapshot-rename-no-dir-fsync")
    assert status == 1 and failures(tally, "power") > 0
    assert failures(tally, "process") == 0


def test_budget_samples_crash_points_deterministically(tmp_path):
    plan = Plan(("mixed",), seed=1, budget=7, ops=30)
    first = [points for _, _, points in campaign.tasks(plan)]
    assert first == [points for _, _, points in campaign.tasks(plan)]
    assert sum(len(p) for p in first) == 7 * len(NAMES)  # 7 per fault kind


@pytest.mark.parametrize(
    "argv", [["campaign", "--workload", "nope"], ["campaign", "--kinds", "meteor"], ["campaign", "--budget", "0"]]
)
def test_bad_campaign_arguments_exit_2_with_a_message(argv, capsys):
    from tornwrite.faultinject.__main__ import main

    with pytest.raises(SystemExit) as exited:
        main(argv)
    assert exited.value.code == 2 and "error" in capsys.readouterr().err


def test_an_expired_key_shown_by_one_read_path_is_caught(monkeypatch):
    from tornwrite.engine import Store

    real_llen = Store.llen

    def llen_ignoring_expiry(self, key):
        entry = self._ks.data.get(key)
        return len(entry[0]) if entry is not None and type(entry[0]) is list else real_llen(self, key)

    monkeypatch.setattr(Store, "llen", llen_ignoring_expiry)
    plan = Plan(("ttl",), seed=1, kinds=("power",), budget=80)  # seed 1: a list expires before the end
    results = campaign.execute(plan, jobs=1).results
    shown = [r for r in results if r.outcome == "invariant-violated" and "llen" in r.detail]
    assert shown, "no crash state had an expired list for llen to show"


def test_a_reaper_that_removes_keys_early_is_caught_on_the_workloads_that_reap():
    plan = Plan(("ttl",), seed=0, kinds=("power",), budget=40, mutant="reaper-removes-early")
    assert campaign.execute(plan, jobs=2).tally.failures > 0


def test_a_torn_tail_left_in_place_is_caught_only_in_a_later_life_and_its_repro_reruns_it():
    from tornwrite.faultinject import repro
    from tornwrite.faultinject.kinds.base import ReproRequest

    plan = Plan(("snapshot-heavy",), seed=0, kinds=("power",), ops=30, mutant="torn-tail-left-in-place")
    failures = campaign.execute(plan, jobs=2).findings.failures
    assert failures and all(f.second is not None and f.second.phase.startswith("generation-") for f in failures)
    first = failures[0]
    request = ReproRequest(
        first.point.step, first.point.phase, first.state, first.second.step, first.second.phase, first.second.state
    )
    lines: list[str] = []
    assert repro.repro("power", "snapshot-heavy", 0, 30, request, "torn-tail-left-in-place", lines.append) == 1
    assert any(line.startswith(f"verdict: {first.outcome}") for line in lines), lines
