"""Generations: after a crash is recovered, the program writes on, and power fails again.

Some recovery bugs hurt only the store's next life: a torn tail left in place, or a repair
that never became durable, costs nothing at the first recovery, but new records then land
behind the garbage, and the recovery after the next crash stops there and throws acknowledged
records away. So from a recovered crash state the workload carries on where it was (the op in
flight is not retried: the program cannot know whether it happened), on the very disk the
crash left, and loses power again at a seeded step, in a seeded power-loss state; GENERATIONS
times, each life judged against the model of every op the lives acknowledged.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from functools import partial

from tornwrite.engine import IOEvent, IOLayer
from tornwrite.faultinject.core.execution import DATA_DIR, Progress, run
from tornwrite.faultinject.core.simdisk import CrashState, Image, SimDisk
from tornwrite.faultinject.core.verdicts import Recovered, Recoveries, judge, recover_image
from tornwrite.faultinject.core.workloads import Workload
from tornwrite.models.checker import Oracle, Verdict
from tornwrite.models.ops import Op

GENERATIONS = 3
PHASE = "generation-"  # a life's SecondCrash phase: "generation-1", "generation-2", ...


@dataclass(frozen=True)
class Life:
    """One more life of the store after a recovered crash, ended by a power loss."""

    generation: int  # 1, 2, ...
    step: int  # the durable step of this life the power failed after (0: after its last op)
    state: int  # which power-loss state, among that step's
    description: str
    acked: int  # ops of this life that returned
    verdict: Verdict
    recovered: Recovered


class _PowerFails(BaseException):
    """Ends a life at its crash point."""


def _fail_after(target: int, crash: dict, event: IOEvent, number: int, progress: Progress) -> None:
    if number == target and event.phase == "after":
        crash.update(progress=progress, step=number)
        raise _PowerFails


def live_on(
    workload: Workload,
    image: Image,
    survived: int,
    rest: list[Op],
    check_time: float,
    rng_for: Callable[[int], random.Random],
    recoveries: Recoveries | None = None,
) -> Iterator[Life]:
    """Lives after a recovered crash. `image`: the disk the crash left; `survived`: how many of
    the workload's ops its recovery kept; `rest`: the ops the program runs next; `rng_for(g)`:
    the seeded sampler of generation g; `recoveries`, what this batch recovered already. Stops
    after a life that is not ok."""
    recover = recoveries.image if recoveries is not None else lambda image, time, _: recover_image(image, time)
    done = list(workload.ops[:survived])
    for generation in range(1, GENERATIONS + 1):
        rng = rng_for(generation)
        life = Workload(workload.name, workload.seed, tuple(rest), check_time)
        disk = SimDisk.from_image(image)
        target = rng.randint(1, 2 * len(rest) + 8)  # about two durable steps an op, more for snapshots
        crash: dict = {}
        try:
            crash["progress"] = run(life, IOLayer(disk), DATA_DIR, partial(_fail_after, target, crash))
            crash["step"] = 0  # the life ran to its end before its crash point: the power fails then
        except _PowerFails:
            pass
        progress: Progress = crash["progress"]
        states: list[CrashState] = list(disk.power_loss_states(rng))
        index = rng.randrange(len(states))
        in_flight = progress.in_flight and progress.current > 0
        everything = done + rest
        recovered = recover(states[index].image, progress.clock.now, states[index].fingerprint())
        verdict = judge(
            Oracle(everything, workload.start_time, workload.initial),
            recovered,
            acked=len(done) + progress.acked,
            in_flight=in_flight,
            check_time=progress.clock.now,
        )
        yield Life(generation, crash["step"], index, states[index].description, progress.acked, verdict, recovered)
        if verdict.outcome != "ok" or verdict.matched_prefix is None:
            return
        done = everything[: verdict.matched_prefix]
        rest = rest[progress.acked + (1 if in_flight else 0) :]
        image, check_time = states[index].image, progress.clock.now
