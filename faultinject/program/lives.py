"""Later lives: after a crash its recovery survived, the program restarts, carries on, and loses power again.

Some recovery bugs cost nothing at the first recovery: a torn tail left in place, or a repair
that never became durable. The data reads back fine; but the program then writes on, its new
records land behind the garbage, and the recovery after the next crash stops there and drops
acknowledged work. Only a later life shows it (the campaign's core/generations.py, for the engine).

When the target defines `resume(path, ack, acked)`, at each crash point one seeded power state
among the ok ones lives on. (The campaign picks states its engine's recovery reports repaired; a
program's recovery is a black box, and one that leaves a torn tail in place changes no file, so
any ok state may be the one: a torn one, or the one where nothing was lost.) Its files are
written to a real directory, and a forked child runs, under the interposer, recover() (the
restart) and then resume() with every token acked so far. That trace is replayed on the
simulated disk holding the crash state; the power fails after a seeded step of it, in a seeded
power-loss state, and that state is judged like any other, with the tokens of every life so
far. A restart that raises, exits or hangs on files its own recovery accepted is an integrity
failure: the program cannot carry on. Up to GENERATIONS lives, stopping after one not ok.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from tornwrite.faultinject.core.generations import GENERATIONS
from tornwrite.faultinject.core.simdisk import CrashState, Image, SimDisk
from tornwrite.faultinject.program import replay
from tornwrite.faultinject.program.judge import Verdict
from tornwrite.faultinject.program.target import Target, TargetError
from tornwrite.faultinject.program.trace import Trace

Judge = Callable[[Image, list], Verdict]


@dataclass(frozen=True)
class Life:
    """One later life: a restart's traced calls (recover()'s, then resume()'s), ended by a power loss
    after its step `step` (0: before any), or where the restart raised (`error`)."""

    generation: int  # 1, 2, ...
    step: int
    calls: tuple[str, ...]
    ack_after: tuple[int, ...]  # for each token this life acked before its end: the steps done by then
    tokens: tuple
    state: CrashState
    verdict: Verdict
    error: str = ""  # the restart's traceback, when recover() or resume() raised or the child died
    died: bool = False  # the child running the restart never reported back (it hung or was killed)

    @property
    def description(self) -> str:
        acks = f"{len(self.tokens)} more ack{'' if len(self.tokens) == 1 else 's'}"
        if self.error:
            return f"later life {self.generation}: a restart that failed after {self.step} steps ({acks})"
        where = (
            f"after step {self.step} of the {len(self.calls)} it made (`{self.calls[self.step - 1]}`)"
            if self.step
            else "before it made any step"
        )
        return (
            f"later life {self.generation}: a restart (recover, then resume; {acks}), then power lost {where}: "
            f"{self.state.description}"
        )


def live_on(
    target: Target,
    image: Image,
    acked: list,
    directory: str,
    rng_for: Callable[[int], random.Random],
    judged: Judge,
    miss: Callable[[str], None],
    restart: Callable[[Target, str, list], Trace],
) -> Iterator[Life]:
    """The later lives from crash state `image`, whose tokens `acked` its recovery kept; `rng_for(g)`
    samples life g; `judged(image, acked)` judges a state; `miss` hears what a life's trace could
    not see (the run's trace is then incomplete); `restart` traces one restart (sources.Source).
    Stops after a life that is not ok."""
    for generation in range(1, GENERATIONS + 1):
        rng = rng_for(generation)
        replay.materialise(image, directory)
        try:
            trace = restart(target, directory, acked)
        except TargetError as exc:
            verdict = Verdict("integrity", f"the restart {exc}")
            yield Life(generation, 0, (), (), (), CrashState("", image), verdict, str(exc), died=True)
            return
        for problem in [*trace.unseen, replay.unseen(image, trace, directory)]:
            if problem:
                miss(f"in a later life: {problem}")
        # A restart that raised ends where it raised, its files as it left them; else power fails at a seeded step.
        crash_after = len(trace.steps) if trace.error else rng.randint(1, len(trace.steps)) if trace.steps else 0
        disk = SimDisk.from_image(image)
        for step in trace.steps[:crash_after]:
            replay.apply(disk, step)
        tokens = trace.acked_before(crash_after, "after")
        calls = tuple(step.call for step in trace.steps)
        ack_after = tuple(trace.ack_after[: len(tokens)])
        if trace.error:
            state = CrashState("its files as it left them", disk.process_crash_image())
            verdict = Verdict("integrity", f"the restart raised {_last_line(trace.error)}")
            yield Life(generation, crash_after, calls, ack_after, tuple(tokens), state, verdict, trace.error)
            return
        states = list(disk.power_loss_states(rng))
        state = states[rng.randrange(len(states))]
        verdict = judged(state.image, acked + tokens)
        yield Life(generation, crash_after, calls, ack_after, tuple(tokens), state, verdict)
        if not verdict.ok:
            return
        image, acked = state.image, acked + tokens


def lived_on(ok: list[bool], rng: random.Random) -> int | None:
    """Which of a crash point's power states lives on: a seeded one among the ok ones; None when none is."""
    candidates = [index for index, fine in enumerate(ok) if fine]
    return rng.choice(candidates) if candidates else None


def _last_line(traceback_text: str) -> str:
    lines = [line for line in traceback_text.strip().splitlines() if line.strip()]
    return lines[-1].strip() if lines else "an exception"
