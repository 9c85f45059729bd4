"""Later lives: after a crash its recovery survived, the program restarts, carries on, and loses power again.

Some recovery bugs cost nothing at the first recovery: a torn tail left in place, or a repair
that never became durable. The data reads back fine; but the program then writes on, its new
records land behind the garbage, and the recovery after the next crash stops there and drops
acknowledged work. Only a later life shows it (the campaign's core/generations.py, for the engine).

The harness cannot see what a program's recovery found, so it picks by what the crash did: at
each crash point, one seeded power state among the ok ones that differ from what the killed
process left (something was lost, cut or torn) lives on, when the target defines
`resume(path, ack, acked)`. Its files are written to a real directory, and a forked child runs,
under the interposer, recover() (the restart) and then resume() with every token acked so far.
That trace is replayed on the simulated disk holding the crash state; the power fails after a
seeded step of it, in a seeded power-loss state, and that state is judged like any other, with
the tokens of every life so far. Up to GENERATIONS lives, stopping after one that is not ok.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from tornwrite.faultinject.core.generations import GENERATIONS
from tornwrite.faultinject.core.simdisk import CrashState, Image, SimDisk
from tornwrite.faultinject.program import kills, replay
from tornwrite.faultinject.program.judge import Verdict
from tornwrite.faultinject.program.target import Target

Judge = Callable[[Image, list], Verdict]


@dataclass(frozen=True)
class Life:
    """One later life, ended by a power loss after its step `step` of `calls` (recover()'s, then resume()'s)."""

    generation: int  # 1, 2, ...
    step: int
    calls: tuple[str, ...]
    ack_after: tuple[int, ...]  # for each token this life acked before its crash: the steps done by then
    tokens: tuple
    state: CrashState
    verdict: Verdict

    @property
    def description(self) -> str:
        where = (
            f"after its step {self.step}/{len(self.calls)} `{self.calls[self.step - 1]}`" if self.step else "at once"
        )
        return (
            f"later life {self.generation}: restart (recover, then resume: {len(self.tokens)} more acks), power lost "
            f"{where}: {self.state.description}"
        )


def live_on(
    target: Target, image: Image, acked: list, directory: str, rng_for: Callable[[int], random.Random], judged: Judge
) -> Iterator[Life]:
    """The later lives from crash state `image`, whose tokens `acked` its recovery kept; `rng_for(g)`
    samples life g; `judged(image, acked)` judges a state. Stops after a life that is not ok."""
    for generation in range(1, GENERATIONS + 1):
        rng = rng_for(generation)
        replay.materialise(image, directory)
        trace = kills.later_life(target, directory, acked, directory + ".trace")
        crash_after = rng.randint(1, len(trace.steps)) if trace.steps else 0
        disk = SimDisk.from_image(image)
        for step in trace.steps[:crash_after]:
            replay.apply(disk, step)
        states = list(disk.power_loss_states(rng))
        state = states[rng.randrange(len(states))]
        tokens = trace.acked_before(crash_after, "after")
        if trace.error and crash_after == len(trace.steps):  # the restart raised before the power failed
            verdict = Verdict("integrity", f"the restart raised {_last_line(trace.error)}")
        else:
            verdict = judged(state.image, acked + tokens)
        calls = tuple(step.call for step in trace.steps)
        yield Life(generation, crash_after, calls, tuple(trace.ack_after[: len(tokens)]), tuple(tokens), state, verdict)
        if not verdict.ok:
            return
        image, acked = state.image, acked + tokens


def lived_on(
    power_states: list[CrashState], ok: list[bool], process_fingerprint: str, rng: random.Random
) -> int | None:
    """Which of a crash point's power states lives on: a seeded one among the ok states a power loss
    made different from what the killed process left; None when there is none."""
    candidates = [
        index
        for index, state in enumerate(power_states)
        if ok[index] and replay.fingerprint(state.image) != process_fingerprint
    ]
    return rng.choice(candidates) if candidates else None


def _last_line(traceback_text: str) -> str:
    lines = [line for line in traceback_text.strip().splitlines() if line.strip()]
    return lines[-1].strip() if lines else "an exception"
