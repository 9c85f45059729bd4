"""Forced interleavings: a thread parked at every line of a multi-part apply while another runs.

Deterministic, unlike the concurrent kind's threaded runs: a seqlock bug on either side, or a
snapshot that shares values with writers, is caught on every run.
"""

import pytest

from tornwrite.faultinject.core import interleave, workloads
from tornwrite.faultinject.kinds import concurrent
from tornwrite.faultinject.kinds.base import ReproRequest, Subject
from tornwrite.faultinject.zoo import mutants

SCENARIOS = {scenario.name: scenario for scenario in interleave.SCENARIOS}


def failures(name):
    return [outcome for outcome in interleave.check_scenario(SCENARIOS[name]) if outcome.problem]


@pytest.mark.parametrize("name", sorted(SCENARIOS))
def test_the_real_engine_passes_every_pause_point(name):
    assert failures(name) == []


@pytest.mark.parametrize("name", sorted(SCENARIOS))
def test_every_scenario_parks_its_thread_between_two_parts_of_its_work(name):
    outcomes = interleave.check_scenario(SCENARIOS[name])
    assert len(outcomes) >= 5  # every line of the apply (or of the snapshot) is a pause point
    assert all(outcome.where for outcome in outcomes), "a pause point was never reached"


@pytest.mark.parametrize("mutant", ["seqlock-read-never-retries", "seqlock-write-never-odd"])
@pytest.mark.parametrize("name", ["multi-key del", "multi-field hdel", "hdel of the last fields"])
def test_a_seqlock_bug_on_either_side_shows_a_torn_read_at_a_forced_pause(mutant, name):
    with mutants.active(mutant):
        found = failures(name)
    assert found, f"{mutant} passed every pause point of {name}"
    assert "neither before" in found[0].problem


def test_a_snapshot_sharing_values_with_writers_is_caught_beside_a_parked_snapshot():
    with mutants.active("snapshot-shares-values"):
        found = failures("snapshot copy beside writers")
    assert found and "after a process crash" in found[0].problem


@pytest.mark.parametrize("mutant", ["seqlock-read-never-retries", "seqlock-write-never-odd"])
def test_the_concurrent_kind_checks_the_forced_points_first_and_fails_them(mutant):
    kind = concurrent.KIND
    first = kind.points([])[: len(concurrent.FORCED)]
    assert [number for number, _ in first] == list(concurrent.FORCED)
    subject = Subject(workloads.build("basic", 0), None, {}, mutant)
    results = []
    with mutants.active(mutant):
        kind.check(subject, first, results.append)
    assert any(result.outcome == "invariant-violated" for result in results)


def test_a_forced_point_repro_prints_every_pause_point():
    lines = []
    subject = Subject(workloads.build("basic", 0), None, {}, "seqlock-write-never-odd")
    with mutants.active("seqlock-write-never-odd"):
        status = concurrent.KIND.repro(subject, ReproRequest(concurrent.FORCED.start, "-"), lines.append)
    assert status == 1
    assert lines[0].startswith("FORCED INTERLEAVING") and any("neither before" in line for line in lines)


@pytest.mark.parametrize("mutant", ["seqlock-read-never-retries", "seqlock-write-never-odd", "snapshot-shares-values"])
def test_a_budget_5_sample_of_the_concurrent_kind_checks_forced_points_and_catches(mutant):
    from tornwrite.faultinject.campaign import execute
    from tornwrite.faultinject.plan import Plan

    outcome = execute(Plan(("basic",), kinds=("concurrent",), budget=5, mutant=mutant), jobs=1)
    assert [r.point.step for r in outcome.results] == list(concurrent.FORCED)[:5]
    assert any(not r.ok for r in outcome.results)
