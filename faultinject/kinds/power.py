"""Fault kind "power": power loss on the simulated disk, at every crash point, in every state.

One run of the workload serves a whole batch of crash points: at each chosen step the hook
enumerates the states a power loss would leave (simdisk.power_loss_states), recovers each on a
fresh simulated disk, judges it, and lets the run go on. Nothing here touches real files.

Compound failures: for the first few states of a point whose recovery has to repair something,
recovery itself is crashed at each of its durable steps, in each power-loss state, and the
second recovery is judged against the same allowed states (recovery must be idempotent). And
at every point, a process crash followed by a restart on the same disk and a power loss
(faultinject/restart.py): what a restarted recovery relies on must become durable.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Iterable
from functools import partial

from tornwrite.engine import IOEvent, IOLayer, Store
from tornwrite.faultinject.core.describe import file_lines, recovery_lines, verdict_lines
from tornwrite.faultinject.core.execution import DATA_DIR, FakeClock, Progress, StepCounter, run
from tornwrite.faultinject.core.generations import PHASE as GENERATION
from tornwrite.faultinject.core.generations import live_on
from tornwrite.faultinject.core.observe import newest_visible
from tornwrite.faultinject.core.restart import check_restart
from tornwrite.faultinject.core.results import RESTART, CrashPoint, SecondCrash, StateResult
from tornwrite.faultinject.core.simdisk import Image, SimDisk
from tornwrite.faultinject.core.verdicts import Recovered, Recoveries, judge, recover_image, wrong_answer
from tornwrite.faultinject.core.workloads import Workload
from tornwrite.faultinject.kinds.base import Emit, FaultKind, Out, Point, ReproRequest, Subject
from tornwrite.models.checker import Oracle, Verdict

NAME = "power"
COMPOUND_PER_POINT = 2  # first-crash states per point whose recovery is crashed in turn
LIVES_PER_POINT = 1  # first-crash states per point that repair something, then live on (core/generations.py)


def state_rng(seed: int, *where: object) -> random.Random:
    """The sampler for one crash point: the same states whatever order points are visited in."""
    return random.Random("/".join(map(str, (seed, *where))))


def check_points(
    workload: Workload,
    oracle: Oracle,
    points: Iterable[tuple[int, str]],
    emit: Callable[[StateResult], None],
    *,
    mutant: str | None = None,
    compound: bool = True,
) -> None:
    """Run `workload` once on a simulated disk, losing power (in imagination) at each of `points`."""
    wanted = set(points)
    disk = SimDisk()
    recoveries = Recoveries()  # this batch's: images and read probes recovered once
    opened: list[Store] = []

    def on_step(event: IOEvent, number: int, progress: Progress) -> None:
        if (number, event.phase) not in wanted:
            return
        point = CrashPoint.of(
            NAME,
            workload,
            number,
            event.phase,
            event.label,
            event.path,
            progress.current,
            mutant,
        )
        check_time = progress.clock.now
        in_flight = progress.in_flight and progress.current > 0
        # A reader's last look before the power goes: what it saw was acked to it, so it must survive.
        observed = newest_visible(opened[0], workload.keys) if opened else 0

        answered = wrong_answer(oracle, progress.results)  # what the run itself returned so far

        def verdict(recovered: Recovered) -> Verdict:
            if answered:
                return Verdict("invariant-violated", f"before the crash, {answered}")
            return judge(
                oracle, recovered, acked=progress.acked, in_flight=in_flight, check_time=check_time, observed=observed
            )

        rng = state_rng(workload.seed, number, event.phase)
        crashed_recoveries = lived_on = 0
        for index, state in enumerate(disk.power_loss_states(rng)):
            recovered = recoveries.image(state.image, check_time, state.fingerprint())
            first = verdict(recovered)
            emit(StateResult.of(point, index, state.description, progress, first, observed=observed))
            if compound and lived_on < LIVES_PER_POINT and _repairs(recovered) and first.matched_prefix is not None:
                lived_on += 1
                rest = list(workload.ops[progress.acked + (1 if in_flight else 0) :])
                rng_for = partial(state_rng, workload.seed, number, event.phase, index, "life")
                lives = live_on(workload, state.image, first.matched_prefix, rest, check_time, rng_for, recoveries)
                for life in lives:
                    second = SecondCrash(life.step, f"{GENERATION}{life.generation}", life.state, life.description)
                    emit(
                        StateResult.of(
                            point, index, state.description, progress, life.verdict, observed=observed, second=second
                        )
                    )
            if compound and crashed_recoveries < COMPOUND_PER_POINT and _repairs(recovered):
                crashed_recoveries += 1
                second_rng = state_rng(workload.seed, number, event.phase, index, "recovery")
                for second, again in crash_recovery(state.image, check_time, second_rng, recoveries):
                    emit(
                        StateResult.of(
                            point, index, state.description, progress, verdict(again), observed=observed, second=second
                        )
                    )
        if compound:
            check_restart(
                disk,
                workload,
                oracle,
                progress,
                point,
                observed,
                state_rng(workload.seed, number, event.phase, "restart"),
                emit,
                recover=recoveries.image,
            )

    run(workload, IOLayer(disk), DATA_DIR, on_step, on_open=opened.append)


def _repairs(recovered: Recovered) -> bool:
    report = recovered.report
    return report is not None and bool(report.discarded or report.removed)


def crash_recovery(
    image: Image, check_time: float, rng: random.Random, recoveries: Recoveries | None = None
) -> list[tuple[SecondCrash, Recovered]]:
    """Recover `image`, losing power at each durable step of that recovery: what each loss leaves."""
    recover = recoveries.image if recoveries is not None else lambda image, time, _: recover_image(image, time)
    disk = SimDisk.from_image(image)
    io = IOLayer(disk)
    found: list[tuple[SecondCrash, Recovered]] = []

    def on_step(event: IOEvent, number: int, progress: None) -> None:
        for index, state in enumerate(disk.power_loss_states(rng)):
            recovered = recover(state.image, check_time, state.fingerprint())
            found.append((SecondCrash(number, event.phase, index, state.description), recovered))

    io.hooks.append(StepCounter(None, on_step))
    try:
        Store.open(DATA_DIR, io=io, clock=FakeClock(check_time)).close()
    except Exception as exc:  # the engine's failure, to be judged, never the harness's
        found.append(
            (
                SecondCrash(0, "-", 0, "no crash: this recovery itself raised"),
                Recovered(None, f"{type(exc).__name__}: {exc}", None, None),
            )
        )
    return found


class _Stop(BaseException):
    """Ends a repro's run at the crash point (what a power loss does to a process)."""


def _repro(subject: Subject, request: ReproRequest, out: Out) -> int:
    workload, oracle, step, phase, state = subject.workload, subject.oracle, request.step, request.phase, request.state
    assert phase is not None  # request_problem has refused a request without one
    disk = SimDisk()
    found: dict = {}
    opened: list[Store] = []

    def on_step(event: IOEvent, number: int, progress: Progress) -> None:
        if (number, event.phase) != (step, phase):
            return
        observed = newest_visible(opened[0], workload.keys) if opened else 0
        if state == RESTART:
            point = CrashPoint.of(
                NAME,
                workload,
                step,
                phase,
                event.label,
                event.path,
                progress.current,
            )
            check_restart(
                disk,
                workload,
                oracle,
                progress,
                point,
                observed,
                state_rng(workload.seed, step, phase, "restart"),
                found.setdefault("restart", []).append,
            )
        else:
            in_flight = progress.in_flight and progress.current > 0
            found.update(
                progress=(progress.acked, in_flight, progress.clock.now, observed),
                states=list(disk.power_loss_states(state_rng(workload.seed, step, phase))),
            )
        raise _Stop

    out(f"CRASH (power) {phase} step {step}")
    try:
        run(workload, IOLayer(disk), DATA_DIR, on_step, on_open=opened.append)
    except _Stop:
        pass
    if not found:
        out(f"the run has no crash point {phase} step {step} (it has {len(subject.steps)} durable steps)")
        return 2
    if state == RESTART:
        return _repro_restart(found["restart"], request, out)
    acked, in_flight, check_time, observed = found["progress"]
    if not 0 <= state < len(found["states"]):
        out(f"this crash point has {len(found['states'])} power-loss states, numbered from 0; not {state}")
        return 2
    crash = found["states"][state]
    out(f"crash state #{state}: {crash.description}")
    out(
        f"acked ops: {acked}"
        + (f" (op {acked + 1} in flight: {workload.ops[acked]!r:.80})" if in_flight else "")
        + f"; newest op a reader saw before the crash: {observed}"
    )
    out("on disk after the power loss:")
    out("\n".join(file_lines(crash.image.get(DATA_DIR, {}))))
    recovered = recover_image(crash.image, check_time)
    if request.recovery_phase is not None and request.recovery_phase.startswith(GENERATION):
        out("recovery:")
        out("\n".join(recovery_lines(recovered)))
        return _repro_lives(subject, request, crash.image, recovered, found["progress"], out)
    if request.recovery_step is not None:
        out("recovery (the first, which is itself crashed):")
        out("\n".join(recovery_lines(recovered)))
        wanted = (request.recovery_step, request.recovery_phase, request.recovery_state)
        rng = state_rng(workload.seed, step, phase, state, "recovery")
        for second, again in crash_recovery(crash.image, check_time, rng):
            if (second.step, second.phase, second.state) == wanted:
                out(f"CRASH during recovery, {second.phase} its step {second.step}: {second.description}")
                recovered = again
                break
        else:
            out("recovery has no such step and state")
            return 2
    out("recovery:")
    out("\n".join(recovery_lines(recovered)))
    return verdict_lines(oracle, recovered, acked, in_flight, check_time, observed, out)


def _repro_restart(results: list[StateResult], request: ReproRequest, out: Out) -> int:
    """Every check of the restart at this point, the requested one marked; its status."""
    wanted = (
        None
        if request.recovery_step is None
        else (request.recovery_step, request.recovery_phase, request.recovery_state)
    )
    out("a process crash here, a restart on the same disk (unsynced data intact), then power losses:")
    chosen = None
    for result in results:
        second = result.second
        this = None if second is None else (second.step, second.phase, second.state)
        where = second.description if second else "the restarted store's recovery"
        mark = "->" if this == wanted else "  "
        chosen = result if this == wanted else chosen
        out(
            f"{mark} {result.outcome:<20} {where}"
            + (f"\n      {result.detail}" if result.detail and this == wanted else "")
        )
    if chosen is None:
        out("the restart has no such check")
        return 2
    return 0 if chosen.ok else 1


def _repro_lives(
    subject: Subject,
    request: ReproRequest,
    image: Image,
    recovered: Recovered,
    progress: tuple[int, bool, float, int],
    out: Out,
) -> int:
    """The lives after this recovered crash, up to the requested one (core/generations.py)."""
    workload, (acked, in_flight, check_time, observed) = subject.workload, progress
    assert request.recovery_phase is not None and request.phase is not None
    wanted = int(request.recovery_phase.removeprefix(GENERATION) or 0)
    first = judge(subject.oracle, recovered, acked=acked, in_flight=in_flight, check_time=check_time, observed=observed)
    if first.matched_prefix is None:
        out(f"the first recovery is not ok ({first.outcome}), so no life follows it")
        return 2
    rest = list(workload.ops[acked + (1 if in_flight else 0) :])
    rng_for = partial(state_rng, workload.seed, request.step, request.phase, request.state, "life")
    for life in live_on(workload, image, first.matched_prefix, rest, check_time, rng_for):
        where = f"after its step {life.step}" if life.step else "after its last op"
        out(f"life {life.generation}: {life.acked} more ops acked; power lost {where}: {life.description}")
        out("\n".join(recovery_lines(life.recovered)))
        if life.generation == wanted:
            out(f"verdict: {life.verdict.outcome}" + (f"\n{life.verdict.detail}" if life.verdict.detail else ""))
            return 0 if life.verdict.outcome == "ok" else 1
    out(f"no life {wanted}: the lives ended before it")
    return 2


class Power(FaultKind):
    name = NAME
    summary = (
        "a power loss on a simulated disk at each crash point: unsynced data lost, kept, torn or zero-filled; "
        "un-fsynced directory entries in every combination"
    )
    batch = 24

    def check(self, subject: Subject, points: Iterable[Point], emit: Emit) -> None:
        check_points(subject.workload, subject.oracle, points, emit, mutant=subject.mutant, compound=subject.compound)

    def repro(self, subject: Subject, request: ReproRequest, out: Out) -> int:
        return _repro(subject, request, out)


KIND = Power()
