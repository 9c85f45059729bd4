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

from tornwrite.engine import IOEvent, IOLayer, Store
from tornwrite.faultinject.core.execution import DATA_DIR, FakeClock, Progress, StepCounter, run
from tornwrite.faultinject.core.observe import newest_visible
from tornwrite.faultinject.core.restart import check_restart
from tornwrite.faultinject.core.results import CrashPoint, SecondCrash, StateResult
from tornwrite.faultinject.core.simdisk import Image, SimDisk, image_fingerprint
from tornwrite.faultinject.core.verdicts import Recovered, judge, recover_image
from tornwrite.faultinject.core.workloads import Workload
from tornwrite.models.checker import Oracle

KIND = "power"
COMPOUND_PER_POINT = 2  # first-crash states per point whose recovery is crashed in turn


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
    cache: dict[tuple[str, float], Recovered] = {}
    opened: list[Store] = []

    def on_step(event: IOEvent, number: int, progress: Progress) -> None:
        if (number, event.phase) not in wanted:
            return
        point = CrashPoint(
            KIND,
            workload.name,
            workload.seed,
            len(workload.ops),
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

        def verdict(recovered: Recovered):
            return judge(
                oracle, recovered, acked=progress.acked, in_flight=in_flight, check_time=check_time, observed=observed
            )

        rng = state_rng(workload.seed, number, event.phase)
        crashed_recoveries = 0
        for index, state in enumerate(disk.power_loss_states(rng)):
            recovered = _recover_cached(cache, state.image, check_time)
            emit(StateResult.of(point, index, state.description, progress, verdict(recovered), observed=observed))
            if compound and crashed_recoveries < COMPOUND_PER_POINT and _repairs(recovered):
                crashed_recoveries += 1
                second_rng = state_rng(workload.seed, number, event.phase, index, "recovery")
                for second, again in crash_recovery(state.image, check_time, second_rng):
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
                recover=lambda image, now: _recover_cached(cache, image, now),
            )

    run(workload, IOLayer(disk), DATA_DIR, on_step, on_open=opened.append)


def _recover_cached(cache: dict, image: Image, check_time: float) -> Recovered:
    key = (image_fingerprint(image), check_time)
    if key not in cache:
        cache[key] = recover_image(image, check_time)
    return cache[key]


def _repairs(recovered: Recovered) -> bool:
    report = recovered.report
    return report is not None and bool(report.discarded or report.removed)


def crash_recovery(image: Image, check_time: float, rng: random.Random) -> list[tuple[SecondCrash, Recovered]]:
    """Recover `image`, losing power at each durable step of that recovery: what each loss leaves."""
    disk = SimDisk.from_image(image)
    io = IOLayer(disk)
    found: list[tuple[SecondCrash, Recovered]] = []

    def on_step(event: IOEvent, number: int, progress: Progress) -> None:
        for index, state in enumerate(disk.power_loss_states(rng)):
            found.append(
                (SecondCrash(number, event.phase, index, state.description), recover_image(state.image, check_time))
            )

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
