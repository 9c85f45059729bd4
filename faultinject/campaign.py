"""The campaign: workloads x crash points x fault kinds, in parallel, judged and written down.

Planning is deterministic: each workload is rebuilt from (name, seed, ops) and dry-run for its
trace, and each fault kind (faultinject/kinds/) enumerates its crash points from that trace, or
a seeded sample of `budget` of them. Batches of points go to a pool of forked workers. The
parent shows progress, then writes results.json, summary.md and the figures from what the
workers returned, and returns the exit status: 0 only if every state is ok.
"""

from __future__ import annotations

import itertools
import json
import multiprocessing
import os
import queue
import random
import shutil
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from importlib.metadata import version
from typing import TextIO

from tornwrite.faultinject.core import workloads
from tornwrite.faultinject.core.execution import WorkloadTrace, trace
from tornwrite.faultinject.core.results import StateResult
from tornwrite.faultinject.kinds import REGISTRY, repro_command
from tornwrite.faultinject.kinds.base import Point, Subject
from tornwrite.faultinject.plan import Plan
from tornwrite.faultinject.report.summary import write_summary
from tornwrite.faultinject.zoo import mutants
from tornwrite.models.checker import OUTCOMES, Oracle

Task = tuple[str, str, list[Point]]  # (kind, workload, points)


@dataclass
class Tally:
    """Running totals, shown while the campaign runs and written at the end."""

    points_total: int
    points_done: int = 0
    outcomes: Counter = field(default_factory=Counter)  # (kind, outcome) -> states
    states: Counter = field(default_factory=Counter)  # kind -> states
    seconds: Counter = field(default_factory=Counter)  # kind -> worker seconds
    points: Counter = field(default_factory=Counter)  # kind -> crash points
    started: float = field(default_factory=time.monotonic)

    @property
    def failures(self) -> int:
        return sum(n for (_, outcome), n in self.outcomes.items() if outcome != "ok")


def plan_tasks(plan: Plan) -> tuple[list[Task], dict[str, WorkloadTrace]]:
    """Every (kind, workload, points) batch in a deterministic order, and each workload's trace."""
    batches: list[Task] = []
    traces: dict[str, WorkloadTrace] = {}
    for name in plan.workloads:
        workload = workloads.build(name, plan.seed, plan.ops)
        steps = trace(workload)
        traces[name] = WorkloadTrace.of(workload, steps)
        for kind_name in plan.kinds:
            kind = REGISTRY[kind_name]
            chosen = kind.points(steps)
            if plan.budget is not None and plan.budget < len(chosen):
                chosen = sorted(random.Random(f"{plan.seed}/{name}/{kind_name}").sample(chosen, plan.budget))
            for start in range(0, len(chosen), kind.batch):
                batches.append((kind_name, name, chosen[start : start + kind.batch]))
    return batches, traces


def tasks(plan: Plan) -> Iterator[Task]:
    """(kind, workload, points) batches, in a deterministic order."""
    yield from plan_tasks(plan)[0]


_worker: dict = {}  # per worker process: the plan, a scratch directory, and a Subject per workload


def _init_worker(plan: Plan, scratch: str) -> None:
    _worker.clear()
    _worker.update(plan=plan, scratch=tempfile.mkdtemp(prefix=f"w{os.getpid()}-", dir=scratch))


def _subject(name: str) -> Subject:
    if name not in _worker:
        plan: Plan = _worker["plan"]
        workload = workloads.build(name, plan.seed, plan.ops)
        _worker[name] = Subject(
            workload,
            Oracle(list(workload.ops), workload.start_time),
            {step.number: step for step in trace(workload)},
            plan.mutant,
            plan.compound,
            _worker["scratch"],
        )
    return _worker[name]


def _run_task(task: Task) -> tuple[str, int, float, list[StateResult]]:
    kind, name, points = task
    found: list[StateResult] = []
    started = time.perf_counter()
    REGISTRY[kind].check(_subject(name), points, found.append)
    return kind, len(points), time.perf_counter() - started, found


@dataclass
class Outcome:
    """What a campaign returns: the totals, every judged state, and the traces it crashed."""

    tally: Tally
    results: list[StateResult]
    traces: dict[str, WorkloadTrace]


def execute(
    plan: Plan, *, jobs: int | None = None, progress: TextIO | None = None, stop_on_failure: bool = False
) -> Outcome:
    """Check every state of the plan (or until the first failure); results sorted by point."""
    jobs = jobs or os.cpu_count() or 1
    shm = "/dev/shm" if os.access("/dev/shm", os.W_OK) else None
    scratch = tempfile.mkdtemp(prefix="tornwrite-crash-", dir=shm)
    results: list[StateResult] = []
    with mutants.active(plan.mutant):
        batches, traces = plan_tasks(plan)
        tally = Tally(points_total=sum(len(points) for _, _, points in batches))
        context = multiprocessing.get_context("fork")  # workers inherit the mutant and the imports
        try:
            with context.Pool(jobs, initializer=_init_worker, initargs=(plan, scratch)) as pool:
                stop = lambda: stop_on_failure and tally.failures > 0  # noqa: E731
                for kind, points, seconds, found in _results(pool, batches, 2 * jobs, stop):
                    _count(tally, kind, points, seconds, found)
                    results.extend(found)
                    if progress is not None:
                        _show_progress(tally, progress)
        finally:
            shutil.rmtree(scratch, ignore_errors=True)
    if progress is not None:
        _show_progress(tally, progress, final=True)
    results.sort(key=_order)
    return Outcome(tally, results, traces)


def _order(r: StateResult) -> tuple:
    second = r.second
    return (
        r.point.workload,
        r.point.kind,
        r.point.step,
        r.point.phase,
        r.state,
        second is not None,
        second and (second.step, second.phase, second.state),
    )


def _results(pool, batches: list[Task], window: int, stop: Callable[[], bool]) -> Iterator[tuple]:
    """Batch results as they finish, keeping `window` batches queued; once `stop()` is true no
    more are queued, and those already running finish (a clean stop, no killed workers)."""
    finished: queue.Queue = queue.Queue()
    remaining = iter(batches)
    running = 0
    for batch in itertools.islice(remaining, window):
        pool.apply_async(_run_task, (batch,), callback=finished.put, error_callback=finished.put)
        running += 1
    while running:
        item = finished.get()
        running -= 1
        if isinstance(item, BaseException):
            raise item
        yield item
        batch = None if stop() else next(remaining, None)
        if batch is not None:
            pool.apply_async(_run_task, (batch,), callback=finished.put, error_callback=finished.put)
            running += 1


def run(
    plan: Plan,
    *,
    jobs: int | None = None,
    out: str | None = None,
    progress: TextIO = sys.stderr,
    show_failures: int = 20,
) -> tuple[int, str, Tally]:
    """Run the campaign and write it down; returns (exit status, output directory, tally)."""
    jobs = jobs or os.cpu_count() or 1
    out = out or os.path.join("reports", plan.run_id)
    outcome = execute(plan, jobs=jobs, progress=progress)
    write(plan, outcome, out, jobs)
    failures = [r for r in outcome.results if not r.ok]
    print(table(outcome.tally), file=progress)
    for failure in failures[:show_failures]:
        p = failure.point
        first_line = failure.detail.splitlines()[0] if failure.detail else ""
        print(
            f"FAIL {failure.outcome} {p.kind} {p.workload} step {p.step} {p.phase} {p.label}: {first_line}\n"
            f"     repro: {repro_command(failure)}",
            file=progress,
        )
    if len(failures) > show_failures:
        print(f"... and {len(failures) - show_failures} more failures in {out}/results.json", file=progress)
    print(f"wrote {out}/results.json and {out}/summary.md", file=progress)
    return (0 if not failures else 1), out, outcome.tally


def _count(tally: Tally, kind: str, points: int, seconds: float, found: list[StateResult]) -> None:
    tally.points_done += points
    tally.points[kind] += points
    tally.seconds[kind] += seconds
    tally.states[kind] += len(found)
    for result in found:
        tally.outcomes[(kind, result.outcome)] += 1


def _show_progress(tally: Tally, stream: TextIO, final: bool = False) -> None:
    elapsed = time.monotonic() - tally.started
    done = tally.points_done
    rate = sum(tally.states.values()) / elapsed if elapsed else 0.0
    left = elapsed / done * (tally.points_total - done) if done else 0.0
    line = (
        f"crash points {done}/{tally.points_total}  states {sum(tally.states.values())} "
        f"({rate:,.0f}/s)  failures {tally.failures}  elapsed {elapsed:.0f}s  left ~{left:.0f}s"
    )
    if stream.isatty():
        print("\r" + line + ("\n" if final else ""), end="", file=stream, flush=True)
    elif final or done % max(1, tally.points_total // 10) < REGISTRY["power"].batch:
        print(line, file=stream, flush=True)


def table(tally: Tally) -> str:
    """Fault kind x outcome counts, then each kind's rate (per worker-second)."""
    kinds = [kind for kind in REGISTRY if kind in tally.states]
    width = max(len(o) for o in OUTCOMES)
    lines = [f"{'outcome':<{width}} " + " ".join(f"{k:>10}" for k in kinds)]
    for outcome in OUTCOMES:
        lines.append(f"{outcome:<{width}} " + " ".join(f"{tally.outcomes[(k, outcome)]:>10}" for k in kinds))
    rates = " ".join(f"{tally.states[k] / tally.seconds[k] if tally.seconds[k] else 0:>10,.0f}" for k in kinds)
    lines.append(f"{'crash states/s':<{width}} " + rates + "   (per worker)")
    rates = " ".join(f"{tally.points[k] / tally.seconds[k] if tally.seconds[k] else 0:>10,.1f}" for k in kinds)
    lines.append(f"{'crash points/s':<{width}} " + rates)
    return "\n".join(lines)


def write(plan: Plan, outcome: Outcome, out: str, jobs: int) -> None:
    tally, results = outcome.tally, outcome.results
    os.makedirs(out, exist_ok=True)
    elapsed = time.monotonic() - tally.started
    document = {
        "parameters": {
            "workloads": list(plan.workloads),
            "seed": plan.seed,
            "kinds": list(plan.kinds),
            "budget": plan.budget,
            "ops": plan.ops,
            "mutant": plan.mutant,
            "compound": plan.compound,
            "jobs": jobs,
            "faker": version("faker"),
        },
        "totals": {kind: {o: tally.outcomes[(kind, o)] for o in OUTCOMES} for kind in sorted(tally.states)},
        "rates": {
            kind: {
                "states": tally.states[kind],
                "crash_points": tally.points[kind],
                "worker_seconds": round(tally.seconds[kind], 3),
            }
            for kind in sorted(tally.states)
        },
        "elapsed_seconds": round(elapsed, 3),
        "states": [r.to_json(None if r.ok else repro_command(r)) for r in results],
    }
    with open(os.path.join(out, "results.json"), "w") as f:
        json.dump(document, f, indent=None, separators=(",", ":"))
    write_summary(plan, outcome.tally, results, list(outcome.traces.values()), out, table(tally), elapsed)
    _point_latest(out)


def _point_latest(out: str) -> None:
    latest = os.path.join(os.path.dirname(os.path.abspath(out)), "latest")
    try:
        if os.path.islink(latest) or os.path.exists(latest):
            os.unlink(latest)
        os.symlink(os.path.basename(os.path.abspath(out)), latest)
    except OSError:
        pass  # a convenience only
