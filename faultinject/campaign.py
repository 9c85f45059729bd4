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
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field, replace
from importlib.metadata import version
from typing import TextIO

from tornwrite.faultinject import outdir, verdict
from tornwrite.faultinject.core import workloads
from tornwrite.faultinject.core.execution import WorkloadTrace, trace
from tornwrite.faultinject.core.findings import Findings, distinct
from tornwrite.faultinject.core.results import StateResult
from tornwrite.faultinject.core.tally import Tally
from tornwrite.faultinject.core.verdicts import silence_recovery_warnings
from tornwrite.faultinject.kinds import REGISTRY, repro_command
from tornwrite.faultinject.kinds.base import Point, Subject
from tornwrite.faultinject.plan import Plan
from tornwrite.faultinject.report.junit import write_junit
from tornwrite.faultinject.report.summary import write_summary
from tornwrite.faultinject.zoo import mutants
from tornwrite.models.checker import OUTCOMES, Oracle

Task = tuple[str, str, list[Point]]  # (kind, workload, points)


def plan_tasks(plan: Plan) -> tuple[list[Task], dict[str, WorkloadTrace]]:
    """Every (kind, workload, points) batch in a deterministic order, and each workload's trace.

    With `plan.shard` = (i, n), only every n-th crash point from the i-th on, counted across the
    whole campaign in this order: the n shards cover every point exactly once, each with a
    similar mix of kinds and workloads.
    """
    batches: list[Task] = []
    traces: dict[str, WorkloadTrace] = {}
    counted = 0
    for name in plan.workloads:
        workload = workloads.build(name, plan.seed, plan.ops)
        steps = trace(workload)
        traces[name] = WorkloadTrace.of(workload, steps)
        for kind_name in plan.kinds:
            kind = REGISTRY[kind_name]
            if workload.start and not kind.starts_from_files:
                continue
            chosen = kind.points(steps)
            if plan.budget is not None and plan.budget < len(chosen):
                chosen = kind.sample(chosen, plan.budget, random.Random(f"{plan.seed}/{name}/{kind_name}"), steps)
            whole = len(chosen)
            if plan.shard is not None:
                index, count = plan.shard
                chosen = [point for j, point in enumerate(chosen, counted) if j % count == index - 1]
            counted += whole
            for start in range(0, len(chosen), kind.batch):
                batches.append((kind_name, name, chosen[start : start + kind.batch]))
    return batches, traces


def tasks(plan: Plan) -> Iterator[Task]:
    """(kind, workload, points) batches, in a deterministic order."""
    yield from plan_tasks(plan)[0]


_worker: dict = {}  # per worker process: the plan, a scratch directory, and a Subject per workload


def _init_worker(plan: Plan, scratch: str) -> None:
    silence_recovery_warnings()  # the damage kind checks the quarantine itself
    _worker.clear()
    _worker.update(plan=plan, scratch=tempfile.mkdtemp(prefix=f"w{os.getpid()}-", dir=scratch))


def _subject(name: str) -> Subject:
    if name not in _worker:
        plan: Plan = _worker["plan"]
        workload = workloads.build(name, plan.seed, plan.ops)
        _worker[name] = Subject(
            workload,
            Oracle(list(workload.ops), workload.start_time, workload.initial),
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
    """What a campaign returns: the totals, every judged state, what they add up to, and the
    traces it crashed."""

    tally: Tally
    results: list[StateResult]
    traces: dict[str, WorkloadTrace]
    findings: Findings = field(default_factory=Findings)


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
        for kind, _, points in batches:
            tally.planned[kind] += len(points)
        meter = Progress(tally, progress) if progress is not None else None
        context = multiprocessing.get_context("fork")  # workers inherit the mutant and the imports
        try:
            with context.Pool(jobs, initializer=_init_worker, initargs=(plan, scratch)) as pool:
                stop = lambda: stop_on_failure and tally.failures > 0  # noqa: E731
                for item in _results(pool, batches, 2 * jobs, stop, TICK):
                    if item is not None:
                        kind, points, seconds, found = item
                        _count(tally, kind, points, seconds, found)
                        results.extend(found)
                    if meter is not None:
                        meter.show()
        finally:
            shutil.rmtree(scratch, ignore_errors=True)
    if meter is not None:
        meter.show(final=True)
    results.sort(key=_order)
    findings = Findings()
    findings.add(results)
    return Outcome(tally, results, traces, findings)


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


def _results(
    pool, batches: list[Task], window: int, stop: Callable[[], bool], heartbeat: float
) -> Iterator[tuple | None]:
    """Batch results as they finish, keeping `window` batches queued, and None whenever
    `heartbeat` seconds pass without one; once `stop()` is true no more are queued, and those
    already running finish (a clean stop, no killed workers)."""
    finished: queue.Queue = queue.Queue()
    remaining = iter(batches)
    running = 0
    for batch in itertools.islice(remaining, window):
        pool.apply_async(_run_task, (batch,), callback=finished.put, error_callback=finished.put)
        running += 1
    while running:
        try:
            item = finished.get(timeout=heartbeat)
        except queue.Empty:
            yield None
            continue
        running -= 1
        if isinstance(item, BaseException):
            raise item
        yield item
        following = None if stop() else next(remaining, None)
        if following is not None:
            pool.apply_async(_run_task, (following,), callback=finished.put, error_callback=finished.put)
            running += 1


def run(
    plan: Plan,
    *,
    jobs: int | None = None,
    out: str | None = None,
    progress: TextIO = sys.stderr,
    report: TextIO = sys.stdout,
    junit: str | None = None,
    all_states: bool = False,
    show_failures: int = 20,
    force: bool = False,
) -> tuple[int, str, Tally]:
    """Run the campaign and write it down; returns (exit status, output directory, tally).

    Progress goes to `progress` (stderr); the table, each distinct failure with its repro, the
    verdict line and where the files went to `report` (stdout). Exit status 0 when every state
    is ok, 1 otherwise. `out` and `junit` are checked before any work (outdir.OutputError);
    `force` lets `junit` replace a file.
    """
    jobs = jobs or os.cpu_count() or 1
    directory = out or os.path.join("reports", plan.run_id)
    outdir.check_dir(directory)
    if junit:
        outdir.new_file(junit, force)
    outcome = execute(plan, jobs=jobs, progress=progress)
    write(
        plan,
        outcome.tally,
        outcome.findings,
        outcome.traces,
        directory,
        jobs,
        states=outcome.results if all_states else None,
        junit=junit,
    )
    if out is None:
        _point_latest(directory)
    status = tell(outcome.tally, outcome.findings, directory, report, show_failures, junit)
    return status, directory, outcome.tally


def tell(
    tally: Tally, findings: Findings, directory: str, report: TextIO, show_failures: int, junit: str | None
) -> int:
    """Print the table, one line per distinct failure (its states, kinds and points counted, one
    repro), the verdict line and where the files went; the exit status."""
    print(table(tally), file=report)
    groups = distinct(findings.failures)
    for members in groups[:show_failures]:
        first, p = members[0], members[0].point
        kinds = sorted({m.point.kind for m in members}, key=list(REGISTRY).index)
        points = len({(m.point.workload, m.point.kind, m.point.step, m.point.phase) for m in members})
        first_line = first.detail.splitlines()[0] if first.detail else ""
        print(
            f"FAIL {first.outcome} {p.kind} {p.workload} step {p.step} {p.phase} {p.label}: {first_line}\n"
            f"     {len(members):,} state{'s' if len(members) > 1 else ''} at {points:,} "
            f"point{'s' if points > 1 else ''}, kind{'s' if len(kinds) > 1 else ''} {', '.join(kinds)}\n"
            f"     repro: {repro_command(first)}",
            file=report,
        )
    if len(groups) > show_failures:
        print(f"... and {len(groups) - show_failures} more distinct failures in {directory}/summary.md", file=report)
    status = verdict.FAIL if findings.failures else verdict.OK
    seconds = time.monotonic() - tally.started
    states = sum(tally.states.values())
    line = verdict.line(
        status, states, len(tally.states), seconds, distinct=len(groups), failing=len(findings.failures)
    )
    print(line, file=report)
    written = f"report: {directory}/summary.md and results.json" + (f", JUnit: {junit}" if junit else "")
    print(written, file=report)
    return status


def _count(tally: Tally, kind: str, points: int, seconds: float, found: list[StateResult]) -> None:
    tally.points_done += points
    tally.points[kind] += points
    tally.seconds[kind] += seconds
    tally.states[kind] += len(found)
    for result in found:
        tally.outcomes[(kind, result.outcome)] += 1


HEARTBEAT = 30.0  # seconds: the longest a run piped to a file stays silent
TICK = 1.0  # seconds between two looks at the clock while no batch finishes


class Progress:
    """Progress on a stream: one line redrawn in place on a terminal (cleared first, cut to its
    width); elsewhere (CI logs) a line per tenth of the points and at least every HEARTBEAT
    seconds. Each line has each kind's points done / total and states/s, and a time left from
    the rate of the last RECENT seconds (kinds differ in cost, so the rate since the start
    misleads): "~" because it is an estimate, "?" while nothing finished in that time. The final
    line is printed once."""

    RECENT = 60.0

    def __init__(self, tally: Tally, stream: TextIO):
        self.tally, self.stream = tally, stream
        self.last_line = time.monotonic()
        self.last_tenth = 0
        self.samples: deque[tuple[float, int]] = deque([(tally.started, 0)])  # (when, points done)

    def show(self, final: bool = False) -> None:
        tally = self.tally
        now = time.monotonic()
        self._sample(now)
        elapsed = now - tally.started
        if self.stream.isatty():
            width = shutil.get_terminal_size().columns - 1
            line = (self.overall(elapsed, final) + "  |  " + self.per_kind(elapsed))[:width]
            print("\r\x1b[K" + line + ("\n" if final else ""), end="", file=self.stream, flush=True)
            return
        if not final and tally.points_done >= tally.points_total:
            return  # the final line follows, once
        tenth = tally.points_done * 10 // max(1, tally.points_total)
        if final or tenth > self.last_tenth or now - self.last_line >= HEARTBEAT:
            self.last_tenth, self.last_line = tenth, now
            print(
                self.overall(elapsed, final) + ("" if final else "  |  " + self.per_kind(elapsed)),
                file=self.stream,
                flush=True,
            )

    def _sample(self, now: float) -> None:
        """Keep the points done over the last RECENT seconds, and the newest sample before them."""
        if self.tally.points_done != self.samples[-1][1]:
            self.samples.append((now, self.tally.points_done))
        while len(self.samples) > 1 and self.samples[1][0] <= now - self.RECENT:
            self.samples.popleft()

    def left(self, now: float) -> str:
        done, total = self.tally.points_done, self.tally.points_total
        if done >= total:
            return ""
        since, then = self.samples[0]
        if done <= then or now - since <= 0:
            return "  left ?"
        return f"  left ~{_duration((total - done) * (now - since) / (done - then))}"

    def overall(self, elapsed: float, final: bool = False) -> str:
        tally = self.tally
        done, total = tally.points_done, tally.points_total
        states = sum(tally.states.values())
        return (
            f"[{_duration(elapsed)}] crash points {done}/{total}  states {states:,} "
            f"({states / elapsed if elapsed else 0:,.0f}/s)  failures {tally.failures}"
            + ("" if final else self.left(tally.started + elapsed))
        )

    def per_kind(self, elapsed: float) -> str:
        parts = []
        for kind, total in self.tally.planned.items():
            done = self.tally.points[kind]
            rate = self.tally.states[kind] / elapsed if elapsed else 0.0
            parts.append(f"{kind} {done}/{total}" + (" done" if done >= total else f" {rate:,.0f} states/s"))
        return "; ".join(parts)


def _duration(seconds: float) -> str:
    seconds = int(seconds)
    return f"{seconds // 60}m{seconds % 60:02d}s" if seconds >= 60 else f"{seconds}s"


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


FORMAT = "tornwrite-campaign/1"


def write(
    plan: Plan,
    tally: Tally,
    findings: Findings,
    traces: dict[str, WorkloadTrace],
    out: str,
    jobs: int,
    *,
    states: list[StateResult] | None = None,
    junit: str | None = None,
) -> None:
    """OUT/results.json (counts, traces and failing states; every state only if `states` is
    given), OUT/summary.md with its figures, and a JUnit file if asked; OUT as outdir.claim() allows."""
    outdir.claim(out)
    elapsed = time.monotonic() - tally.started
    repro = {id(r): repro_command(r) for r in findings.failures}
    document = {
        "format": FORMAT,
        "parameters": {**plan.parameters(), "jobs": jobs, "faker": version("faker")},
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
        "traces": {name: asdict(line) for name, line in traces.items()},
        "findings": findings.to_json(repro),
    }
    if states is not None:
        document["states"] = [r.to_json(None if r.ok else repro_command(r)) for r in states]
    with open(os.path.join(out, "results.json"), "w") as f:
        json.dump(document, f, indent=None, separators=(",", ":"))
    write_summary(plan, tally, findings, list(traces.values()), out, table(tally), elapsed)
    outdir.seal(out)
    if junit:
        write_junit(plan, findings, tally, junit)


def read(directory: str) -> tuple[Plan, Tally, Findings, dict[str, WorkloadTrace], float]:
    """What `write` wrote to `directory`; ValueError if it is not a campaign's results.json."""
    path = os.path.join(directory, "results.json")
    with open(path) as f:
        document = json.load(f)
    if not isinstance(document, dict) or document.get("format") != FORMAT:
        raise ValueError(f"{path} is not a results.json of this version ({FORMAT})")
    plan = Plan.from_parameters(document["parameters"])
    findings = Findings.from_json(document["findings"])
    tally = Tally(points_total=sum(r["crash_points"] for r in document["rates"].values()))
    tally.points_done = tally.points_total
    for kind, rates in document["rates"].items():
        tally.states[kind], tally.points[kind] = rates["states"], rates["crash_points"]
        tally.seconds[kind] = rates["worker_seconds"]
    for kind, counts in document["totals"].items():
        for outcome, n in counts.items():
            tally.outcomes[(kind, outcome)] = n
    traces = {
        name: WorkloadTrace(
            line["workload"], line["ops"], tuple(line["labels"]), tuple(line["op_indexes"]), tuple(line["op_names"])
        )
        for name, line in document["traces"].items()
    }
    return plan, tally, findings, traces, document["elapsed_seconds"]


def merge(
    directories: list[str], *, out: str, junit: str | None = None, report: TextIO = sys.stdout, force: bool = False
) -> int:
    """Join the results of a campaign's shards (`--shard i/n` runs) into one report; the exit
    status an unsharded run would give, or 2 if the shards do not make up one whole campaign.
    `out` and `junit` are checked first, as `run` checks them (outdir.OutputError)."""
    outdir.check_dir(out)
    if junit:
        outdir.new_file(junit, force)
    read_back = [read(directory) for directory in directories]
    plans = [plan for plan, *_ in read_back]
    whole = replace(plans[0], shard=None)
    if any(replace(plan, shard=None) != whole for plan in plans):
        raise ValueError("these results are not shards of one campaign (their parameters differ)")
    shards = sorted(plan.shard or (1, 1) for plan in plans)
    count = shards[0][1]
    if shards != [(i, count) for i in range(1, count + 1)]:
        raise ValueError(
            f"shards {', '.join(f'{i}/{n}' for i, n in shards)} are not 1/{count} .. {count}/{count}, each once"
        )
    tally, findings = Tally(points_total=0), Findings()
    traces: dict[str, WorkloadTrace] = {}
    for _, part, found, part_traces, _ in read_back:
        tally.points_total += part.points_total
        tally.points_done += part.points_done
        tally.outcomes.update(part.outcomes)
        tally.states.update(part.states)
        tally.points.update(part.points)
        for kind, seconds in part.seconds.items():
            tally.seconds[kind] += seconds
        findings.merge(found)
        traces.update(part_traces)
    findings.failures.sort(key=_order)
    tally.started = time.monotonic() - max(elapsed for *_, elapsed in read_back)
    write(whole, tally, findings, traces, out, jobs=0, junit=junit)
    return tell(tally, findings, out, report, 20, junit)


def _point_latest(out: str) -> None:
    """reports/latest -> the newest default run directory; never replaces anything but a symlink."""
    latest = os.path.join(os.path.dirname(os.path.abspath(out)), "latest")
    try:
        if os.path.islink(latest):
            os.unlink(latest)
        if not os.path.lexists(latest):
            os.symlink(os.path.basename(os.path.abspath(out)), latest)
    except OSError:
        pass  # a convenience only
