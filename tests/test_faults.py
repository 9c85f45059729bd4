"""Faults beyond crashes: I/O errors at every step, and damaged files (docs/CRASH-MODEL.md)."""

import errno

import pytest

from tornwrite.engine import IOLayer, SnapshotError, Store, StoreFailedError
from tornwrite.faultinject import campaign
from tornwrite.faultinject.core import workloads
from tornwrite.faultinject.core.execution import DATA_DIR, trace
from tornwrite.faultinject.core.verdicts import Recoveries
from tornwrite.faultinject.kinds import NAMES, damage, ioerror, repro_command
from tornwrite.faultinject.plan import Plan
from tornwrite.faultinject.zoo import mutants
from tornwrite.models.checker import Oracle


def execute(kinds, mutant=None, workload="snapshot-heavy", ops=25, budget=None):
    plan = Plan((workload,), seed=5, kinds=kinds, ops=ops, mutant=mutant, budget=budget)
    outcome = campaign.execute(plan, jobs=2)
    return outcome.tally, outcome.results


def test_io_errors_at_every_step_give_only_allowed_outcomes():
    tally, results = execute(("ioerror",), workload="mixed", ops=40)
    assert tally.failures == 0, [repro_command(r) for r in results if not r.ok][:3]
    labels = {r.point.label for r in results}
    assert {"wal.append", "wal.fsync", "snapshot.write", "snapshot.rename", "dir.fsync"} <= labels


def test_retrying_a_failed_wal_fsync_is_caught_by_the_ioerror_kind():
    tally, results = execute(("ioerror",), mutant="wal-fsync-retried")
    assert tally.failures > 0


def test_failed_fsync_refuses_later_writes_and_keeps_reads():
    workload = workloads.build("basic", 2, 12)
    fsync_steps = [s for s in trace(workload) if s.label == "wal.fsync" and s.op_index > 3]
    progress, _, verdict = ioerror.run_with_error(
        workload, Oracle(list(workload.ops), workload.start_time), fsync_steps[0], errno.EIO, False
    )
    failed = fsync_steps[0].op_index
    assert isinstance(progress.results[failed - 1], StoreFailedError)
    later_writes = [r for op, r in zip(workload.ops[failed:], progress.results[failed:]) if op.is_write]
    assert later_writes and all(isinstance(r, StoreFailedError) for r in later_writes)
    assert verdict.outcome == "ok"


def test_enospc_halfway_through_an_append_is_cut_back_and_never_replayed():
    disk = ioerror.FailingDisk()
    io = IOLayer(disk)
    store = Store.open(DATA_DIR, io=io)
    store.set("kept", b"1")
    disk.armed = (errno.ENOSPC, True)
    with pytest.raises(StoreFailedError):
        store.set("half", b"x" * 100)
    reopened = Store.open(DATA_DIR, io=IOLayer(type(disk).from_image(disk.process_crash_image())))
    assert reopened.dump() == {"kept": ("string", b"1", None)}
    assert reopened.recovery.discarded == ()  # the engine took the half record back out itself


def test_a_failed_snapshot_cleans_up_and_the_next_one_succeeds():
    disk = ioerror.FailingDisk()
    store = Store.open(DATA_DIR, io=IOLayer(disk))
    store.set("a", b"1")
    io = store._io

    def arm(event):
        if event.label == "snapshot.fsync" and event.phase == "before" and not armed:
            armed.append(1)
            disk.armed = (errno.EIO, False)

    armed = []
    io.hooks.append(arm)
    with pytest.raises(SnapshotError):
        store.snapshot()
    assert not any(n.endswith(".tmp") for n in disk.listdir(DATA_DIR))
    store.set("b", b"2")
    assert store.snapshot() == 2


def test_damaged_files_give_corrupt_data_error_or_an_allowed_prefix():
    tally, results = execute(("damage",), workload="mixed", ops=60, budget=400)
    assert tally.failures == 0 and tally.states["damage"] == 400


@pytest.mark.parametrize("mutant", ["checksum-not-verified", "replay-past-bad-record"])
def test_damage_catches_replay_that_trusts_bad_records(mutant):
    tally, _ = execute(("damage",), mutant=mutant, workload="mixed", ops=60, budget=400)
    assert tally.failures > 0


def test_damage_cases_are_deterministic_and_varied():
    workload = workloads.build("snapshot-heavy", 1, 30)
    image, _ = damage.final_image(workload)
    first = [damage.damage(image, case, 1)[:2] for case in range(1, 60)]
    assert first == [damage.damage(image, case, 1)[:2] for case in range(1, 60)]
    assert {d.split(":")[0] for d, _ in first} == set(damage.DAMAGES)
    assert {n.split("-")[0] for _, n in first} == {"wal", "snapshot"}


@pytest.mark.parametrize("kind", NAMES)
def test_an_engine_that_refuses_to_open_is_judged_never_crashes_the_harness(kind):
    # torn-tail-fatal makes Store.open raise wherever a recovery finds a torn record.
    tally, _ = execute((kind,), mutant="torn-tail-fatal", ops=12, budget=60)
    assert tally.points_done == tally.points_total  # every point judged, none lost to an exception


@pytest.mark.parametrize("mutant", [None, "wal-fsync-retried"])
def test_an_ioerror_batch_sharing_its_recoveries_judges_every_state_as_fresh_ones_do(mutant):
    workload = workloads.build("snapshot-heavy", 5, 16)
    oracle = Oracle(list(workload.ops), workload.start_time)
    shared = Recoveries()
    with mutants.active(mutant):
        for step in trace(workload):
            for code, halfway in ioerror.variants(step.op):
                alone = ioerror.run_with_error(workload, oracle, step, code, halfway)[2]
                batched = ioerror.run_with_error(workload, oracle, step, code, halfway, shared)[2]
                assert (batched.outcome, batched.detail) == (alone.outcome, alone.detail), step
