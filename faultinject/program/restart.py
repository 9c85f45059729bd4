"""Power kind, compound: a process crash, a restart on the same disk, then a power loss.

A process crash keeps the page cache, so the restarted program's recover() reads bytes and
names that are not durable yet, and may build on them: cut a torn tail, delete what it takes
for covered, append. Recovery must make durable what it relies on before it changes anything
(docs/CRASH-MODEL.md; the campaign's faultinject/core/restart.py checks the engine for it).

At a crash point, the files the killed process left are written to a real directory and the
target's recover() runs there under the interposer, which records its steps (the recovery
trace). That trace is replayed on the simulated disk exactly as the crash left it, unsynced
data still pending, and after each of its steps every state a power loss may leave is judged
like any other: recover() again, then check() with the crash point's acks. A recovery that
changes nothing on disk adds no state (its power states are the crash point's own).
"""

from __future__ import annotations

import os
import random
from collections.abc import Iterator
from dataclasses import dataclass

from tornwrite.faultinject.core.simdisk import CrashState, Image, SimDisk
from tornwrite.faultinject.program import replay
from tornwrite.faultinject.program.interposer import INTERPOSER, Session
from tornwrite.faultinject.program.target import Target
from tornwrite.faultinject.program.trace import Trace

NOT_INSTALLED = (
    "the interposer is not installed in this process, so a restarted recover() cannot be traced: "
    "power losses after a process crash and a restart are not checked"
)


@dataclass(frozen=True)
class SecondCrash:
    """A power loss after the restart's recovery step `step` (1-based) of `steps`."""

    step: int
    steps: int
    call: str
    state: CrashState

    @property
    def description(self) -> str:
        return (
            f"process crash, restart: power loss after its recovery's step {self.step}/{self.steps} "
            f"`{self.call}`: {self.state.description}"
        )


def recovery_trace(target: Target, image: Image, directory: str) -> Trace:
    """The steps recover() takes on the files `image` holds (written to `directory`), as traced.

    A recover() that raises is traced up to there: the process kind reports its failure on this
    very image, and what it repaired before raising may still need a power loss to show."""
    replay.materialise(image, directory)
    session = Session(os.path.realpath(directory))
    INTERPOSER.arm(session)
    try:
        target.recover(session.directory)
    except Exception:  # judged as integrity wherever this image is judged; its steps still count here
        session.trace.error = "recover raised"
    finally:
        INTERPOSER.disarm()
    return session.trace


def second_crashes(disk: SimDisk, recovery: Trace, rng: random.Random) -> Iterator[SecondCrash]:
    """Every power-loss state after each step of `recovery`, replayed on a restart of `disk`."""
    restarted = disk.after_process_crash()
    total = len(recovery.steps)
    for step in recovery.steps:
        replay.apply(restarted, step)
        for state in restarted.power_loss_states(rng):
            yield SecondCrash(step.number, total, step.call, state)
