"""Running a workload against a Store, step by step, knowing at every I/O step which ops were acked.

A crash point is one durable I/O step of a run, numbered from 1, and a phase: "before" the step
happens or "after" it. A dry run records the trace: every durable step with its label, path,
bytes and the op it happened in. Runs are deterministic (a fake clock, seeded workloads), so
step N of a dry run is step N of every run of the same workload.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Generic, TypeVar

from tornwrite.engine import IOEvent, IOLayer, RedisLiteError, Store, StoreFailedError
from tornwrite.engine.io import DURABLE_OPS, FileSystem
from tornwrite.faultinject.core.simdisk import DATA_DIR, SimDisk
from tornwrite.faultinject.core.workloads import Workload

OPEN = 0  # the "op index" of steps taken by Store.open, before op 1


class FakeClock:
    def __init__(self, now: float):
        self.now = now

    def __call__(self) -> float:
        return self.now


@dataclass(frozen=True)
class Step:
    number: int  # 1-based position among the run's durable steps
    op: str  # io op: write, fsync, rename, ...
    label: str  # what the engine was doing: wal.append, snapshot.rename, ...
    path: str
    nbytes: int
    op_index: int  # the workload op (1-based) it happened in; 0 = Store.open
    data: bytes | None = field(default=None, repr=False)


@dataclass
class Progress:
    """What the workload has done so far: the checker's inputs at any instant."""

    workload: Workload
    clock: FakeClock
    acked: int = 0  # ops that returned (a result or a typed, non-I/O error)
    current: int = OPEN  # the op running now (OPEN while Store.open runs)
    in_flight: bool = False  # op `current` has started and not returned
    failed: list[int] = field(default_factory=list)  # ops that met an I/O error: maybe applied
    results: list = field(default_factory=list)


P = TypeVar("P")  # what the hook hands on: a run's Progress, or None outside a workload run


class StepCounter(Generic[P]):
    """An I/O hook numbering durable steps and handing each event on with its number."""

    def __init__(self, progress: P, on_step: Callable[[IOEvent, int, P], None]):
        self.progress = progress
        self.on_step = on_step
        self.count = 0

    def __call__(self, event: IOEvent) -> None:
        if event.op not in DURABLE_OPS:
            return
        if event.phase == "before":
            self.count += 1
        self.on_step(event, self.count, self.progress)


def run(
    workload: Workload,
    io: IOLayer,
    directory: str,
    on_step: Callable[[IOEvent, int, Progress], None],
    *,
    on_ack: Callable[[int, object], None] | None = None,
    on_open: Callable[[Store], None] | None = None,
) -> Progress:
    """Lay down the workload's starting files, open the store and run every op; `on_step` sees
    each durable step's events (and may raise to crash the run there). The Store is left open:
    a crashed process never closes it."""
    if workload.start:
        lay_down(io.fs, directory, dict(workload.start))
    progress = Progress(workload, FakeClock(workload.start_time))
    io.hooks.append(StepCounter(progress, on_step))
    progress.in_flight = True
    store = Store.open(directory, io=io, clock=progress.clock)
    progress.in_flight = False
    if on_open is not None:
        on_open(store)
    for index, op in enumerate(workload.ops, start=1):
        progress.current = index
        progress.in_flight = True
        result = apply(store, op, progress.clock)
        progress.in_flight = False
        if isinstance(result, StoreFailedError):
            progress.failed.append(index)
        progress.acked = index
        progress.results.append(result)
        if on_ack is not None:
            on_ack(index, result)
    return progress


def lay_down(fs: FileSystem, directory: str, files: Mapping[str, bytes]) -> None:
    """Write `files` into `directory` durably, past the I/O layer: no hook sees them, so they are
    on disk, as whatever wrote them left them, before the run's first crash point."""
    fs.mkdir(directory)
    for name, data in files.items():
        handle = fs.create(os.path.join(directory, name))
        fs.write(handle, data)
        fs.fsync(handle)
        fs.close(handle)
    fs.fsync_dir(directory)


def apply(store: Store, op, clock: FakeClock) -> object:
    """One op: harness ops act on the clock or the store; commands are called by name.
    A typed engine error is a result (the op returned), as the checker counts it."""
    if op.name == "tick":
        clock.now += op.args[0]
        return None
    try:
        return op.apply_to(store)
    except RedisLiteError as error:
        return error


def clock_after(workload: Workload, ops: int) -> float:
    """The fake clock's reading once the first `ops` ops have run (ticks are the only movers)."""
    return workload.start_time + sum(op.args[0] for op in workload.ops[:ops] if op.name == "tick")


@dataclass(frozen=True)
class WorkloadTrace:
    """One workload's durable steps in order, as reports show them (the crash map's x axis)."""

    workload: str
    ops: int  # the workload's length
    labels: tuple[str, ...]  # labels[n - 1] is the I/O label of step n
    op_indexes: tuple[int, ...]  # the workload op step n belongs to (0: Store.open)
    op_names: tuple[str, ...]  # that op's name ("open" for Store.open)

    @classmethod
    def of(cls, workload: Workload, steps: list[Step]) -> WorkloadTrace:
        return cls(
            workload.name,
            len(workload.ops),
            tuple(s.label for s in steps),
            tuple(s.op_index for s in steps),
            tuple("open" if s.op_index == 0 else workload.ops[s.op_index - 1].name for s in steps),
        )

    @property
    def steps(self) -> int:
        return len(self.labels)

    def spans(self, op_name: str) -> list[tuple[int, int]]:
        """(first, last) step of each op called `op_name`, in order."""
        spans: list[tuple[int, int]] = []
        for number, (index, name) in enumerate(zip(self.op_indexes, self.op_names), start=1):
            if name != op_name:
                continue
            if spans and self.op_indexes[spans[-1][1] - 1] == index and spans[-1][1] == number - 1:
                spans[-1] = (spans[-1][0], number)
            else:
                spans.append((number, number))
        return spans


def trace(workload: Workload) -> list[Step]:
    """The durable steps of a full run on the simulated disk (a dry run: nothing crashes)."""
    steps: list[Step] = []

    def record(event: IOEvent, number: int, progress: Progress) -> None:
        if event.phase == "before":
            steps.append(Step(number, event.op, event.label, event.path, event.nbytes, progress.current, event.data))

    run(workload, IOLayer(SimDisk()), DATA_DIR, record)
    return steps


def relative(path: str, directory: str = DATA_DIR) -> str:
    return os.path.relpath(path, directory) if path.startswith(directory) else path
