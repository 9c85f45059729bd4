"""The "concurrent" fault kind: threads, a real SIGKILL, and durable linearizability.

Its runs are seeded but the interleaving is the OS's, so the catches below are shown over many
points (each mutant fails 10-20% of points; the chance all of them pass is below 1e-9) and the
real engine must pass every one.
"""

import tempfile

import pytest

from tornwrite.engine import Store
from tornwrite.faultinject.campaign import execute
from tornwrite.faultinject.core import workloads
from tornwrite.faultinject.kinds import REGISTRY, concurrent
from tornwrite.faultinject.kinds.base import ReproRequest, Subject
from tornwrite.faultinject.plan import Plan
from tornwrite.faultinject.zoo import mutants
from tornwrite.models.linearizability import Call
from tornwrite.models.ops import Op

THREAD_MUTANTS = (
    "snapshot-shares-values",
    "seqlock-read-never-retries",
    "seqlock-write-never-odd",
    "rpush-validates-outside-lock",
)
ALL_WORKLOADS = workloads.DEFAULT_WORKLOADS


def subject(scratch, name="basic"):
    return Subject(workloads.build(name, 0), None, {}, None, True, str(scratch))


def test_the_real_engine_passes_every_concurrent_point():
    outcome = execute(Plan(("basic", "mixed"), kinds=("concurrent",)), jobs=2)
    assert len(outcome.results) == 2 * (concurrent.POINTS + len(concurrent.FORCED))
    bad = [r for r in outcome.results if not r.ok]
    assert not bad, f"{bad[0].point.label}: {bad[0].outcome}\n{bad[0].detail}"


@pytest.mark.parametrize("name", THREAD_MUTANTS)
def test_bugs_only_threads_expose_are_caught_by_the_concurrent_kind(name):
    assert mutants.MUTANTS[name].caught_by == ("concurrent",)
    outcome = execute(Plan(ALL_WORKLOADS, kinds=("concurrent",), mutant=name), jobs=2, stop_on_failure=True)
    failures = [r for r in outcome.results if not r.ok]
    assert failures, f"the concurrent kind missed {name} in {len(outcome.results)} points"
    assert failures[0].outcome in ("invariant-violated", "phantom-or-divergent", "recovery-failed")


def test_every_invocation_is_recorded_across_the_kill_and_the_one_in_flight_is_pending(tmp_path):
    workload = workloads.build("basic", 0)
    number = next(n for n in range(1, concurrent.POINTS + 1) if concurrent.schedule(workload, n).moment == "op")
    plan = concurrent.schedule(workload, number)
    run = concurrent.run_child(str(tmp_path / "data"), plan)
    assert run.killed and not run.ended
    assert len(run.calls) == plan.nth  # killed right after invocation nth was written
    assert [call.pending for call in run.calls].count(True) >= 1
    assert all(call.clock is not None and call.clock[0] <= call.clock[1] for call in run.calls)


def test_a_run_whose_moment_never_comes_is_killed_after_its_last_op(tmp_path):
    plan = concurrent.schedule(workloads.build("basic", 0), 1)
    never = concurrent.Schedule(**{**plan.__dict__, "moment": "wal.append", "nth": 10**6, "phase": "after"})
    run = concurrent.run_child(str(tmp_path / "data"), never)
    assert run.killed and run.ended
    assert len(run.calls) == sum(len(ops) for ops in plan.clients)
    assert not any(call.pending for call in run.calls)


def test_schedule_is_a_function_of_seed_workload_and_point():
    basic = workloads.build("basic", 0)
    assert concurrent.schedule(basic, 7) == concurrent.schedule(basic, 7)
    assert concurrent.schedule(basic, 7) != concurrent.schedule(basic, 8)
    assert concurrent.schedule(basic, 7) != concurrent.schedule(workloads.build("basic", 1), 7)


@pytest.mark.parametrize(
    "value",
    [None, True, 1, 1.5, "k", b"k", b"\xff\x00", [b"a", b"b"], {"f": b"v"}, ("error", "WrongTypeError"), [True, 1]],
)
def test_results_cross_the_pipe_with_their_types(value):
    back = concurrent.decode(concurrent.encode(value))
    assert back == value and type(back) is type(value)
    if isinstance(value, list):
        assert [type(item) for item in back] == [type(item) for item in value]


def _store_with(directory, **strings):
    with Store.open(directory) as store:
        for key, value in strings.items():
            store.set(key, value)


def _call(client, op, invoke, ret, result=None):
    return Call(client, op, invoke, ret, result, (invoke, float("inf") if ret is None else ret))


def test_a_recovered_state_missing_an_acked_write_is_not_durably_linearizable(tmp_path):
    directory = str(tmp_path / "data")
    _store_with(directory)  # the acked set below is not there
    run = concurrent.Run([_call(0, Op.of("set", "a", b"x"), 1.0, 2.0)], killed=True)
    verdict = concurrent.judge(run, directory, ("a",))
    assert verdict.outcome == "phantom-or-divergent"
    assert "set('a', b'x')" in verdict.detail


@pytest.mark.parametrize("durable", [True, False])
def test_a_write_in_flight_at_the_kill_may_or_may_not_survive(tmp_path, durable):
    directory = str(tmp_path / "data")
    _store_with(directory, **({"a": b"x"} if durable else {}))
    run = concurrent.Run([_call(0, Op.of("set", "a", b"x"), 1.0, None)], killed=True)
    assert concurrent.judge(run, directory, ("a",)).outcome == "ok"


def test_a_live_history_that_does_not_linearize_is_an_invariant_violation(tmp_path):
    directory = str(tmp_path / "data")
    _store_with(directory, a=b"x")
    calls = [_call(0, Op.of("set", "a", b"x"), 1.0, 2.0), _call(1, Op.of("get", "a"), 3.0, 4.0, None)]
    verdict = concurrent.judge(concurrent.Run(calls, killed=True), directory, ("a",))
    assert verdict.outcome == "invariant-violated"
    assert verdict.detail.startswith("the live history is not linearizable")


def test_an_unrecoverable_directory_is_a_recovery_failure(tmp_path):
    directory = tmp_path / "data"
    _store_with(str(directory))
    (directory / "stray-file").write_bytes(b"?")
    verdict = concurrent.judge(concurrent.Run([], killed=True), str(directory), ("a",))
    assert verdict.outcome == "recovery-failed"


def test_repro_names_a_point_by_number_and_reruns_it():
    kind = REGISTRY["concurrent"]
    outcome = execute(Plan(("basic",), kinds=("concurrent",), budget=1), jobs=1)
    assert kind.repro_argv(outcome.results[0]) == ["--step", str(outcome.results[0].point.step)]
    assert kind.request_problem(ReproRequest(3, None)) is None
    lines: list[str] = []
    with tempfile.TemporaryDirectory() as scratch:
        status = kind.repro(subject(scratch), ReproRequest(3, None), lines.append)
    assert status == 0
    text = "\n".join(lines)
    assert "CRASH (concurrent) point 3" in text and "verdict: ok" in text


def test_an_engine_thread_that_dies_of_an_exception_is_an_invariant_violation(tmp_path):
    directory = str(tmp_path / "data")
    _store_with(directory)
    run = concurrent.Run([], killed=True, thread_errors=["redislite-snapshot: RuntimeError: dictionary changed size"])
    verdict = concurrent.judge(run, directory, ("a",))
    assert verdict.outcome == "invariant-violated" and "redislite-snapshot" in verdict.detail
