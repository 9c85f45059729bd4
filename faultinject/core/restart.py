"""After a process crash, a restart on the same disk, and then a power loss.

A process crash keeps the page cache, so the restarted process recovers from bytes and names
that may not be durable yet: a record written but not fsynced, a segment or a rename whose
directory was not fsynced. Recovery must make durable everything it relies on before it serves
or builds on it. At a crash point this restarts on the very same simulated disk (durability
intact) and checks three moments: a power loss at each durable step of that recovery, a power
loss right after it (every state must recover to what the restarted store served), and a power
loss after the workload carried on to its end (every op acked after the restart must be there).
"""

from __future__ import annotations

import random
from collections.abc import Callable

from tornwrite.engine import IOEvent, IOLayer, Store
from tornwrite.faultinject.core.execution import DATA_DIR, FakeClock, StepCounter, apply
from tornwrite.faultinject.core.results import RESTART, CrashPoint, SecondCrash, StateResult
from tornwrite.faultinject.core.simdisk import Image, SimDisk
from tornwrite.faultinject.core.verdicts import Recovered, judge, recover_image
from tornwrite.faultinject.core.workloads import Workload
from tornwrite.models.checker import Oracle, Verdict


def check_restart(
    disk: SimDisk,
    workload: Workload,
    oracle: Oracle,
    progress,
    point: CrashPoint,
    observed: int,
    rng: random.Random,
    emit: Callable[[StateResult], None],
    recover: Callable[[Image, float, str | None], Recovered] = lambda image, time, _: recover_image(image, time),
) -> None:
    """`recover(image, check_time, its fingerprint or None)` turns a crash image into what
    recovery gives (the caller may cache it, as Recoveries.image does)."""
    restarted = disk.after_process_crash()
    check_time = progress.clock.now
    acked, in_flight = progress.acked, progress.in_flight and progress.current > 0

    def report(verdict: Verdict, second: SecondCrash | None = None) -> None:
        emit(
            StateResult(
                point,
                RESTART,
                "process crash, restart on the same disk",
                acked,
                in_flight,
                observed,
                verdict.outcome,
                verdict.detail,
                second,
            )
        )

    def verdict(recovered: Recovered) -> Verdict:
        return judge(oracle, recovered, acked=acked, in_flight=in_flight, check_time=check_time, observed=observed)

    during: list[tuple[SecondCrash, Recovered]] = []

    def lose_power(event: IOEvent, number: int, _progress) -> None:
        for index, state in enumerate(restarted.power_loss_states(rng)):
            during.append(
                (
                    SecondCrash(
                        number, event.phase, index, f"power loss in the restart's recovery: {state.description}"
                    ),
                    recover(state.image, check_time, state.fingerprint()),
                )
            )

    io = IOLayer(restarted)
    io.hooks.append(StepCounter(None, lose_power))
    clock = FakeClock(check_time)
    try:
        store = Store.open(DATA_DIR, io=io, clock=clock)
    except Exception as exc:  # the engine's failure, judged
        report(verdict(Recovered(None, f"{type(exc).__name__}: {exc}", None, None)))
        return
    io.hooks.clear()
    served = store.dump()
    first = verdict(Recovered(served, None, None, None, store.recovery))
    report(first)
    for second, again in during:
        report(verdict(again), second)
    for index, state in enumerate(restarted.power_loss_states(rng)):
        again = recover(state.image, check_time, state.fingerprint())
        outcome = verdict(again)
        if outcome.outcome == "ok" and again.state != served:
            outcome = Verdict(
                "lost-acked-write",
                "a power loss right after the restart's recovery lost state the restarted store had already served",
            )
        report(outcome, SecondCrash(0, "after-recovery", index, f"power loss: {state.description}"))
    if first.matched_prefix is None:
        return
    # The program carries on where it was (an op in flight is not retried: it cannot know).
    rest = workload.ops[acked + (1 if in_flight else 0) :]
    for op in rest:
        apply(store, op, clock)
    carried_on = list(workload.ops[: first.matched_prefix]) + list(rest)
    final = recover(restarted.durable_image(), clock.now, None)
    outcome = Oracle(carried_on, workload.start_time, workload.initial).check(
        acked=len(carried_on),
        in_flight=False,
        recovered=final.state,
        check_time=clock.now,
        reader_state=final.reader_state,
        recovery_error=final.error,
    )
    report(outcome, SecondCrash(0, "after-carrying-on", 0, f"power loss after the other {len(rest)} ops ran"))
