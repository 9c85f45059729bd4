"""What a fault kind is: one way the world can go wrong under a workload.

A kind is one module in faultinject/kinds/ defining one `FaultKind`, plus one line in the
registry (faultinject/kinds/__init__.py). It says how it enumerates its crash points, how it
checks a batch of them, what a repro of one of its states names, and how the figures draw it.
The campaign, repro, the bug zoo, the figures and the CLI ask the registry and never branch on
a kind's name (docs/ARCHITECTURE.md, "Adding a fault kind").
"""

from __future__ import annotations

import random
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from tornwrite.faultinject.core.execution import Step
from tornwrite.faultinject.core.results import StateResult
from tornwrite.faultinject.core.strata import stratified
from tornwrite.faultinject.core.workloads import Workload
from tornwrite.models.checker import Oracle

Point = tuple[int, str]  # (durable step, or case number; "before" | "after" | "-")
Emit = Callable[[StateResult], None]
Out = Callable[[str], object]


@dataclass(frozen=True)
class Subject:
    """One workload, as every kind's checks need it; built once per worker process."""

    workload: Workload
    oracle: Oracle
    steps: dict[int, Step]  # the dry run's durable steps, by number
    mutant: str | None = None  # the bug applied to the engine, named in every CrashPoint
    compound: bool = True  # also crash recovery itself, and restart on the crashed disk
    scratch: str = ""  # a private directory, for kinds that need real files


@dataclass(frozen=True)
class ReproRequest:
    """One state of one crash point, as a repro command names it."""

    step: int
    phase: str | None
    state: int = 0
    recovery_step: int | None = None
    recovery_phase: str | None = None
    recovery_state: int = 0


class FaultKind:
    """A fault kind; each subclass sets the attributes and implements `check` and `repro`."""

    name: str = ""
    summary: str = ""  # one line: what happens at a crash point
    batch: int = 8  # crash points per task handed to a worker
    steps_of_a_run: bool = True  # points are durable steps of a run: on the crash map, repro prints the trace
    label_meaning: str = "I/O step label of the crash point"  # what a point's label names, on the figures
    zoo_budget: int | None = None  # points the bug zoo samples per run (None: every one)
    shrinks_by_ops: bool = True  # a failure shrinks by cutting the workload's ops (make mutants)
    starts_from_files: bool = True  # runs workloads with starting files (Workload.start); else the campaign skips them

    def points(self, steps: list[Step]) -> list[Point]:
        """Every crash point of a workload whose dry run took `steps`, in a fixed order."""
        return [(step.number, phase) for step in steps for phase in ("before", "after")]

    def sample(self, points: list[Point], budget: int, rng: random.Random, steps: list[Step]) -> list[Point]:
        """A `budget` of `points` for a budgeted campaign, seeded, in order: where points are steps of
        the run, stratified by what a crash there puts at risk (core/strata.py); else uniform."""
        if self.steps_of_a_run:
            return stratified(points, budget, rng, steps)
        return sorted(rng.sample(points, budget))

    def check(self, subject: Subject, points: Iterable[Point], emit: Emit) -> None:
        """Crash the workload at each of `points` and `emit` one StateResult per state."""
        raise NotImplementedError

    def repro_argv(self, result: StateResult) -> list[str]:
        """The arguments, after `--kind NAME` and the workload's, that name exactly `result`'s state."""
        point = result.point
        argv = ["--step", str(point.step), "--phase", point.phase, "--state", str(result.state)]
        if result.second is not None:
            second = result.second
            argv += ["--recovery-step", str(second.step), "--recovery-phase", second.phase]
            argv += ["--recovery-state", str(second.state)]
        return argv

    def request_problem(self, request: ReproRequest) -> str | None:
        """What is wrong with a repro request for this kind, or None."""
        if request.phase not in ("before", "after"):
            return f"--phase before|after is required for --kind {self.name}"
        return None

    def repro(self, subject: Subject, request: ReproRequest, out: Out) -> int:
        """Rerun one state verbosely through `out`: 0 if it is ok, 1 if not, 2 if no such state exists."""
        raise NotImplementedError
