"""A budgeted sample is stratified by what a crash at each point puts at risk (core/strata.py):
every stratum gets a point before any gets a second, the most at risk first, seeded."""

import random

import pytest

from tornwrite.faultinject.core import workloads
from tornwrite.faultinject.core.execution import Step, trace
from tornwrite.faultinject.core.strata import round_robin, strata, stratified
from tornwrite.faultinject.kinds import REGISTRY
from tornwrite.faultinject.kinds.damage import RECORD_EVERY
from tornwrite.faultinject.kinds.damage_lives import lives_on

# A record's append and fsync, then a snapshot's temp file written, synced, renamed, the dir synced.
STEPS = [
    Step(1, "write", "wal.append", "/d/wal-1.log", 10, 1),
    Step(2, "fsync", "wal.fsync", "/d/wal-1.log", 0, 1),
    Step(3, "create", "snapshot.create", "/d/snapshot-1.snap.tmp", 0, 2),
    Step(4, "write", "snapshot.write", "/d/snapshot-1.snap.tmp", 50, 2),
    Step(5, "fsync", "snapshot.fsync", "/d/snapshot-1.snap.tmp", 0, 2),
    Step(6, "rename", "snapshot.rename", "/d/snapshot-1.snap.tmp", 0, 2),
    Step(7, "fsync_dir", "dir.fsync", "/d", 0, 2),
]
POINTS = [(step.number, phase) for step in STEPS for phase in ("before", "after")]


def test_a_points_stratum_is_the_unsynced_data_roles_and_entry_changes_a_crash_there_finds():
    found = strata(STEPS)
    assert found[(1, "before")] == ((), ())
    assert found[(1, "after")] == found[(2, "before")] == (("wal",), ())
    assert found[(4, "after")] == (("snapshot",), ("create",))
    assert found[(6, "after")] == ((), ("create", "rename"))
    assert found[(7, "after")] == ((), ())


def test_a_sample_gives_every_stratum_a_point_before_any_gets_a_second():
    of = strata(STEPS)
    for seed in range(20):
        chosen = stratified(POINTS, 5, random.Random(seed), STEPS)
        assert len(chosen) == len(set(chosen)) == 5 and chosen == sorted(chosen)
        assert len({of[point] for point in chosen}) == 5  # five strata, one point each


def test_a_sample_smaller_than_the_strata_takes_the_most_at_risk_first():
    of = strata(STEPS)
    for seed in range(10):  # un-synced data first (a power loss may tear it), then more entry changes
        chosen = stratified(POINTS, 3, random.Random(seed), STEPS)
        assert {of[point] for point in chosen} == {
            (("snapshot",), ("create",)),
            (("wal",), ()),
            ((), ("create", "rename")),
        }


def test_a_sample_is_seeded():
    assert stratified(POINTS, 4, random.Random(7), STEPS) == stratified(POINTS, 4, random.Random(7), STEPS)
    assert round_robin([[(1, "-")], [(2, "-"), (3, "-")]], 9, random.Random(0)) == [(1, "-"), (2, "-"), (3, "-")]


@pytest.mark.parametrize("seed", range(5))
def test_a_budget_5_power_sample_crashes_a_snapshot_write_and_a_wal_record_before_their_fsyncs(seed):
    steps = trace(workloads.build("snapshot-heavy", seed, 40))
    of = strata(steps)
    kind = REGISTRY["power"]
    chosen = kind.sample(kind.points(steps), 5, random.Random(seed), steps)
    assert any("snapshot" in of[point][0] for point in chosen)
    assert any("wal" in of[point][0] for point in chosen)


def test_a_budgeted_damage_sample_takes_a_case_that_lives_on_a_record_move_and_a_byte_damage_first():
    kind = REGISTRY["damage"]
    chosen = kind.sample(kind.points([]), 3, random.Random(0), [])
    assert sorted((lives_on(case), case % RECORD_EVERY == 0) for case, _ in chosen) == [
        (False, False),
        (False, True),
        (True, False),
    ]
