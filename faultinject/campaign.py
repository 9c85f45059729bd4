"""The campaign: workloads x crash points x fault kinds, in parallel, judged and written down.

Planning is deterministic: each workload is rebuilt from (name, seed, ops), dry-run for its
trace, and every crash point (step, before|after) enumerated, or a seeded sample of `budget`
of them. Batches of points go to a pool of forked workers; a power batch is one run on the
simulated disk, a process batch forks one child per point. The parent shows progress, then
writes results.json and summary.md and returns the exit status: 0 only if every state is ok.
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
from collections.abc import Iterator
from dataclasses import dataclass, field
from importlib.metadata import version

from tornwrite.faultinject.core import workloads
from tornwrite.faultinject.core.execution import trace
from tornwrite.faultinject.core.results import StateResult
from tornwrite.faultinject.kinds import damage, ioerror, power, process
from tornwrite.faultinject.report.summary import write_summary
from tornwrite.faultinject.zoo import mutants
from tornwrite.models.checker import OUTCOMES, Oracle

KINDS = ("process", "power", "ioerror", "damage")
DAMAGE_CASES = 2000  # damaged directories per workload
_BATCH = {"power": 24, "process": 8, "ioerror": 12, "damage": 250}  # crash points (damage: cases) per task


@dataclass(frozen=True)
class Plan:
    workloads: tuple[str, ...]
    seed: int = 0
    kinds: tuple[str, ...] = KINDS
    budget: int | None = None  # crash points per workload and kind; None: every one
    ops: int | None = None  # workload length override
    mutant: str | None = None
    compound: bool = True

    @property
    def run_id(self) -> str:
        parts = ["+".join(self.workloads), f"seed{self.seed}", "+".join(self.kinds)]
        if self.ops:
            parts.append(f"ops{self.ops}")
        if self.budget:
            parts.append(f"budget{self.budget}")
        if self.mutant:
            parts.append(f"mutant-{self.mutant}")
        return "-".join(parts)


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


def tasks(plan: Plan) -> Iterator[tuple]:
    """(kind, workload, points) batches, in a deterministic order."""
    for name in plan.workloads:
        workload = workloads.build(name, plan.seed, plan.ops)
        points = [(step.number, phase) for step in trace(workload) for phase in ("before", "after")]
        for kind in plan.kinds:
            chosen = {
                "damage": [(case, "-") for case in range(1, DAMAGE_CASES + 1)],
                "ioerror": [point for point in points if point[1] == "before"],
            }.get(kind, points)
            if plan.budget is not None and plan.budget < len(chosen):
                chosen = sorted(random.Random(f"{plan.seed}/{name}/{kind}").sample(chosen, plan.budget))
            for start in range(0, len(chosen), _BATCH[kind]):
                yield kind, name, chosen[start : start + _BATCH[kind]]


_worker: dict = {}  # per worker process: the plan, and workloads, oracles, traces built once


def _init_worker(plan: Plan, scratch: str) -> None:
    _worker.clear()
    _worker.update(plan=plan, scratch=tempfile.mkdtemp(prefix=f"w{os.getpid()}-", dir=scratch))


def _run_task(task: tuple) -> tuple[str, int, float, list[StateResult]]:
    kind, name, points = task
    plan: Plan = _worker["plan"]
    if name not in _worker:
        workload = workloads.build(name, plan.seed, plan.ops)
        _worker[name] = (
            workload,
            Oracle(list(workload.ops), workload.start_time),
            {step.number: step for step in trace(workload)},
        )
    workload, oracle, steps = _worker[name]
    found: list[StateResult] = []
    started = time.perf_counter()
    if kind == "power":
        power.check_points(workload, oracle, points, found.append, mutant=plan.mutant, compound=plan.compound)
    elif kind == "damage":
        damage.check_cases(workload, oracle, [case for case, _ in points], found.append, mutant=plan.mutant)
    elif kind == "ioerror":
        ioerror.check_points(workload, oracle, points, steps, found.append, mutant=plan.mutant)
    else:
        process.check_points(
            workload,
            oracle,
            points,
            steps,
            found.append,
            base_dir=_worker["scratch"],
            mutant=plan.mutant,
            compound=plan.compound,
        )
    return kind, len(points), time.perf_counter() - started, found


def execute(
    plan: Plan, *, jobs: int | None = None, progress=None, stop_on_failure: bool = False
) -> tuple[Tally, list[StateResult]]:
    """Check every state of the plan (or until the first failure); results sorted by point."""
    jobs = jobs or os.cpu_count() or 1
    scratch = tempfile.mkdtemp(prefix="redislite-crash-", dir="/dev/shm" if os.access("/dev/shm", os.W_OK) else None)
    results: list[StateResult] = []
    with mutants.active(plan.mutant):
        batches = list(tasks(plan))
        tally = Tally(points_total=sum(len(points) for _, _, points in batches))
        context = multiprocessing.get_context("fork")  # workers inherit the mutant and the imports
        try:
            with context.Pool(jobs, initializer=_init_worker, initargs=(plan, scratch)) as pool:
                for kind, points, seconds, found in _results(
                    pool, batches, 2 * jobs, lambda: stop_on_failure and tally.failures > 0
                ):
                    _count(tally, kind, points, seconds, found)
                    results.extend(found)
                    if progress is not None:
                        _show_progress(tally, progress)
        finally:
            shutil.rmtree(scratch, ignore_errors=True)
    if progress is not None:
        _show_progress(tally, progress, final=True)
    results.sort(
        key=lambda r: (
            r.point.workload,
            r.point.kind,
            r.point.step,
            r.point.phase,
            r.state,
            r.second is not None,
            r.second and (r.second.step, r.second.phase, r.second.state),
        )
    )
    return tally, results


def _results(pool, batches: list, window: int, stop) -> Iterator[tuple]:
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
    plan: Plan, *, jobs: int | None = None, out: str | None = None, progress=sys.stderr, show_failures: int = 20
) -> tuple[int, str, Tally]:
    """Run the campaign and write it down; returns (exit status, output directory, tally)."""
    jobs = jobs or os.cpu_count() or 1
    out = out or os.path.join("reports", plan.run_id)
    tally, results = execute(plan, jobs=jobs, progress=progress)
    write(plan, tally, results, out, jobs)
    failures = [r for r in results if not r.ok]
    print(table(tally), file=progress)
    for failure in failures[:show_failures]:
        print(
            f"FAIL {failure.outcome} {failure.point.kind} {failure.point.workload} step {failure.point.step} "
            f"{failure.point.phase} {failure.point.label}: {failure.detail.splitlines()[0] if failure.detail else ''}\n"
            f"     repro: {failure.repro()}",
            file=progress,
        )
    if len(failures) > show_failures:
        print(f"... and {len(failures) - show_failures} more failures in {out}/results.json", file=progress)
    print(f"wrote {out}/results.json and {out}/summary.md", file=progress)
    return (0 if not failures else 1), out, tally


def _count(tally: Tally, kind: str, points: int, seconds: float, found: list[StateResult]) -> None:
    tally.points_done += points
    tally.points[kind] += points
    tally.seconds[kind] += seconds
    tally.states[kind] += len(found)
    for result in found:
        tally.outcomes[(kind, result.outcome)] += 1


def _show_progress(tally: Tally, stream, final: bool = False) -> None:
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
    elif final or done % max(1, tally.points_total // 10) < _BATCH["power"]:
        print(line, file=stream, flush=True)


def table(tally: Tally) -> str:
    """Fault kind x outcome counts, then each kind's rate (per worker-second)."""
    kinds = [kind for kind in KINDS if kind in tally.states]
    width = max(len(o) for o in OUTCOMES)
    lines = [f"{'outcome':<{width}} " + " ".join(f"{k:>10}" for k in kinds)]
    for outcome in OUTCOMES:
        lines.append(f"{outcome:<{width}} " + " ".join(f"{tally.outcomes[(k, outcome)]:>10}" for k in kinds))
    lines.append(
        f"{'crash states/s':<{width}} "
        + " ".join(f"{tally.states[k] / tally.seconds[k] if tally.seconds[k] else 0:>10,.0f}" for k in kinds)
        + "   (per worker)"
    )
    lines.append(
        f"{'crash points/s':<{width}} "
        + " ".join(f"{tally.points[k] / tally.seconds[k] if tally.seconds[k] else 0:>10,.1f}" for k in kinds)
    )
    return "\n".join(lines)


def write(plan: Plan, tally: Tally, results: list[StateResult], out: str, jobs: int) -> None:
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
        "states": [r.to_json() for r in results],
    }
    with open(os.path.join(out, "results.json"), "w") as f:
        json.dump(document, f, indent=None, separators=(",", ":"))
    write_summary(plan, tally, results, out, table(tally), elapsed)
    _point_latest(out)


def _point_latest(out: str) -> None:
    latest = os.path.join(os.path.dirname(os.path.abspath(out)), "latest")
    try:
        if os.path.islink(latest) or os.path.exists(latest):
            os.unlink(latest)
        os.symlink(os.path.basename(os.path.abspath(out)), latest)
    except OSError:
        pass  # a convenience only
