"""One crash test of a program: setup, a traced dry run, then every crash point under each kind.

The trace comes from one of two sources (sources.py): the system-call source (strace, the whole
process tree) or the Python interposer. A trace known to be incomplete (`Trace.unseen`) gives no
verdict: its failures are reported as unconfirmed, and the run exits 3 unless a real kill
confirms one (`ProgramRun.status`).

- process: under a complete system-call trace, the files a SIGKILL leaves at a step are exactly
  what the trace wrote so far: the replay's page-cache image at that point is judged. Under the
  interposer, a forked child runs the workload again and is SIGKILLed at the point; its files
  are judged as they are, and compared with the trace's replay there, which checks the trace
  (and so the power states built from it) against reality.
- power: the trace is replayed into the simulated disk; every power-loss state at every point
  is written to a scratch directory and judged. Identical images with the same acks are judged once.
  At each point also a process crash, a restart whose recover() repairs on the same disk, and a
  power loss after each of that recovery's steps (restart.py). And, when the target defines
  resume(), one ok power state lives on: a restart carries on writing and loses power again, up
  to three lives (lives.py).
- a reader: when the target defines observe(), it looks at each crash point just before the
  crash (kills.look); what it acks counts as acknowledged in every state of that point.
- kill (`--kill N`): N real kills at seeded random moments. Under the system-call source each
  killed run is traced too, and the files it left must be its own trace's replay: a seeded
  sample (CONFIRM_KILLS) confirms the model by default, and BLIND_KILLS when the trace is
  incomplete, so that a failure a mapping or a C library hides can still be confirmed. Under the
  interposer the kills are uninstrumented (sanity.py).

Everything random is seeded by `Options.seed`; the same target and seed give the same states.
"""

from __future__ import annotations

import json
import os
import random
import shutil
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from tornwrite.faultinject.program import kills, lives, replay, restart, sanity, syscall_source
from tornwrite.faultinject.program.interposer import INTERPOSER, NOT_SEEN
from tornwrite.faultinject.program.judge import Verdict, judge, signature, takes_in_flight
from tornwrite.faultinject.program.sources import Source
from tornwrite.faultinject.program.target import Target, TargetError
from tornwrite.faultinject.program.trace import Trace

KINDS = ("process", "power")
PROGRESS_EVERY = 1.0  # seconds between progress lines
CONFIRM_KILLS = 4  # system-call source, complete trace: real kills that check the model
BLIND_KILLS = 100  # incomplete trace: real kills that may still confirm a failure the trace cannot show
STATUS_OK, STATUS_FAIL, STATUS_USAGE, STATUS_NO_VERDICT = 0, 1, 2, 3


class EmptyTraceError(TargetError):
    """The workload did no file I/O the trace source could see: nothing to crash-test (exit 2)."""


@dataclass(frozen=True)
class Options:
    kinds: tuple[str, ...] = KINDS
    kill: int | None = None  # real kills at random moments (None: the source's default, see above)
    seed: int = 0
    only: tuple[int, str] | None = None  # (step, phase): this crash point alone
    shard: tuple[int, int] | None = None  # (i, n): every n-th crash point from the i-th (shards.py)
    trace: str = "python"  # the trace source: "syscall" or "python" (the CLI picks syscall where it can)
    timeout: float = syscall_source.DEFAULT_TIMEOUT  # seconds a traced run may take before it is killed


@dataclass(frozen=True)
class Result:
    """One judged crash state."""

    kind: str  # "process", "power" or "kill"
    step: int  # the crash point's step (kill: the number of steps a traced run had done by then is unknown: 0)
    phase: str  # "before" | "after" ("-" for kill)
    state: int  # index among the point's power states (process and kill: 0; kill: the kill's number)
    description: str
    acked: int
    outcome: str
    detail: str
    sizes: dict
    restart: bool = False  # power: a process crash, a restart whose recovery ran, then this power loss
    life: int = 0  # power: power state `state` lived on (lives.py); this is life `life`'s crash

    @property
    def ok(self) -> bool:
        return self.outcome == "ok"

    @property
    def label(self) -> str:
        """The state's name within its crash point, as --explain takes it: 3, r3 (after a restart), 3-life2."""
        return f"r{self.state}" if self.restart else f"{self.state}-life{self.life}" if self.life else str(self.state)


@dataclass
class ProgramRun:
    target: Target
    options: Options
    trace: Trace
    results: list[Result] = field(default_factory=list)
    elapsed: float = 0.0
    judged: int = 0  # states actually judged (the rest were identical to one judged before)
    failing: int = 0
    recoveries: dict[tuple[int, str], tuple[str, ...]] = field(default_factory=dict)  # a restart's recovery steps
    lived: dict[tuple[int, str], list[lives.Life]] = field(default_factory=dict)  # the later lives after a crash point
    lives_stopped: bool = False  # a restart's child hung or was killed: no more later lives this run

    def add(self, result: Result) -> None:
        self.results.append(result)
        self.failing += not result.ok

    kills_run: int = 0  # real kills done (and how many of them the model explained)

    @property
    def failures(self) -> list[Result]:
        return [r for r in self.results if not r.ok]

    def confirmed(self, result: Result) -> bool:
        """A failure the harness stands behind: from a complete trace, or found by a real kill."""
        return not result.ok and (result.kind == "kill" or self.trace.complete)

    @property
    def unconfirmed(self) -> list[Result]:
        return [r for r in self.failures if not self.confirmed(r)]

    @property
    def status(self) -> int:
        """0 every state ok on a complete trace; 1 a confirmed failure; 3 no verdict (trace incomplete)."""
        if any(self.confirmed(r) for r in self.failures):
            return STATUS_FAIL
        return STATUS_NO_VERDICT if not self.trace.complete else STATUS_OK


class Progress:
    """Progress lines on stderr, at most one a second."""

    def __init__(self, stream=sys.stderr, quiet: bool = False):
        self.stream, self.quiet = stream, quiet
        self.last = 0.0

    def __call__(self, message: str, *, force: bool = False) -> None:
        now = time.monotonic()
        if not self.quiet and (force or now - self.last >= PROGRESS_EVERY):
            self.last = now
            print(message, file=self.stream, flush=True)


def crash_test(target: Target, options: Options, base: str, progress: Callable[..., None]) -> ProgramRun:
    """Crash-test `target` in scratch directory `base` (created; left for the caller to remove)."""
    started = time.monotonic()
    template = os.path.join(base, "start")
    report = kills.setup(target, template)
    if report.error or report.killed:
        raise TargetError(f"setup failed:\n{report.error or 'killed'}")
    start = replay.image_of(template)
    traced = os.path.join(base, "traced")
    shutil.copytree(template, traced, symlinks=True)
    source = Source(options.trace, options.timeout)
    trace = source.dry_run(target, traced)
    if trace.error:
        raise TargetError(f"the workload raised on its own, with no crash (fix it first):\n{trace.error}")
    if options.trace == "python":
        problem = replay.unseen(start, trace, traced)
        if problem:
            trace.miss(problem)
    if not trace.steps and trace.complete:
        seen = "the system calls of its process tree" if options.trace == "syscall" else "the interposer"
        raise EmptyTraceError(f"the workload did no file I/O in its directory that {seen} could see.")
    run = ProgramRun(target, options, trace)
    progress(f"traced {len(trace.steps)} steps, {len(trace.tokens)} acks; crashing at every point", force=True)
    judged = _judge_cache(run, os.path.join(base, "judge"))
    if "power" in options.kinds:
        _power(run, start, source, judged, os.path.join(base, "power"), progress)
    if "process" in options.kinds:
        if options.trace == "syscall":
            _process_from_replay(run, start, judged, progress)
        else:
            _process(run, start, template, os.path.join(base, "killed"), progress)
    kill_count = options.kill
    if kill_count is None:
        kill_count = BLIND_KILLS if not trace.complete else CONFIRM_KILLS if options.trace == "syscall" else 0
    if kill_count and options.only is None:
        if options.trace == "syscall":
            _traced_kills(run, start, template, kill_count, os.path.join(base, "kill"), progress)
        else:
            for kill in sanity.random_kills(target, template, kill_count, options.seed):
                run.judged += 1
                run.kills_run += 1
                run.add(
                    Result("kill", 0, "-", kill.number, kill.description, len(kill.acked), *_verdict(kill), kill.sizes)
                )
                progress(f"kill: {kill.number + 1}/{kill_count} real kills")
        _cross_check_kills(run)
    shutil.rmtree(os.path.join(base, "judge"), ignore_errors=True)
    run.elapsed = time.monotonic() - started
    return run


def _judge_cache(run: ProgramRun, scratch: str) -> Callable[..., Verdict]:
    """judge() of an image, once per distinct (files, acks, op in flight): many crash states leave the same files."""
    cache: dict[tuple[str, str], Verdict] = {}

    def judged(image: replay.Image, acked: list, in_flight: object = None) -> Verdict:
        key = (replay.fingerprint(image), json.dumps([acked, in_flight], sort_keys=True, default=repr))
        if key not in cache:
            replay.materialise(image, scratch)
            cache[key] = judge(run.target, scratch, acked, in_flight)
            run.judged += 1
        return cache[key]

    return judged


def _in_flight(run: ProgramRun, step: int, phase: str) -> object:
    """The token of the op in flight at a crash point, for a check() that takes it (else None: no new cache keys)."""
    check = run.target.check
    return run.trace.in_flight_at(step, phase) if check is not None and takes_in_flight(check) else None


def _process_from_replay(
    run: ProgramRun, start: replay.Image, judged: Callable[..., Verdict], progress: Callable[..., None]
) -> None:
    """Process kills read from a system-call trace: a SIGKILL at a step leaves exactly what the
    trace wrote so far (the page cache survives), so the replay's image there is the crash state."""
    total = len(run.trace.steps)
    try:
        for point in replay.points(start, run.trace, 0, power=False):
            if not _wanted(run.options, point.step, point.phase):
                continue
            acked = run.trace.acked_at(point.step, point.phase)
            verdict = judged(point.process_image, acked, _in_flight(run, point.step, point.phase))
            description = "killed (SIGKILL): the files as the trace left them" + (
                f"; not yet durable: {point.unsynced}" if point.unsynced else ""
            )
            run.add(
                Result(
                    "process",
                    point.step,
                    point.phase,
                    0,
                    description,
                    len(acked),
                    verdict.outcome,
                    verdict.detail,
                    replay.sizes(point.process_image),
                )
            )
            if point.phase == "after":
                progress(f"process: step {point.step}/{total}, {len(run.results)} states, {run.failing} failing")
    except replay.ReplayError as exc:
        run.trace.miss(f"process states stop early: {exc}")


def _traced_kills(
    run: ProgramRun, start: replay.Image, template: str, count: int, scratch: str, progress: Callable[..., None]
) -> None:
    """`count` real SIGKILLs of the whole process tree at seeded moments of traced runs. Each one's
    files must be its own trace's replay (else the model missed something: the trace is incomplete),
    and each is judged as a real crash: its failures need no trace to stand."""
    rng = random.Random(f"{run.options.seed}/kill")
    duration = max(run.trace.duration, 0.001)
    unexplained: list[str] = []  # one line a kill whose files its own trace does not explain
    for number in range(count):
        delay = rng.uniform(0, duration)
        for attempt in range(2):  # a kill landing as a process is born can race the tracer: once more, then report
            shutil.rmtree(scratch, ignore_errors=True)
            shutil.copytree(template, scratch, symlinks=True)
            recorded = syscall_source.record(run.target, scratch, timeout=run.options.timeout, kill_after=delay)
            if not (recorded.killed and recorded.trace.unseen) or attempt:
                break
        unexplained += [f"{delay * 1000:.1f} ms in: {reason}" for reason in recorded.trace.unseen[:1]]
        description = (
            f"real SIGKILL {delay * 1000:.2f} ms into a {duration * 1000:.2f} ms run"
            if recorded.killed
            else f"the run ended before its kill at {delay * 1000:.2f} ms"
        )
        verdict = judge(run.target, scratch, recorded.acked)
        run.judged += 1
        run.kills_run += 1
        image = replay.image_of(scratch)
        run.add(
            Result(
                "kill",
                0,
                "-",
                number,
                description,
                len(recorded.acked),
                verdict.outcome,
                verdict.detail,
                replay.sizes(image),
            )
        )
        progress(f"kill: {number + 1}/{count} real kills")
    if unexplained:  # one reason, not one a kill: the same blind spot shows at every kill
        run.trace.miss(
            f"{len(unexplained)} of {count} real kills left files their trace does not explain (the first, "
            f"{unexplained[0]})"
        )
    shutil.rmtree(scratch, ignore_errors=True)


def _cross_check_kills(run: ProgramRun) -> None:
    """A failure real kills find that no traced crash point found: the interposer changed something."""
    if "process" not in run.options.kinds or run.options.only is not None:
        return
    traced = {signature(r.detail) for r in run.failures if r.kind != "kill"}
    for result in run.failures:
        if result.kind == "kill" and signature(result.detail) not in traced:
            run.trace.warn(
                f"a real kill found a failure no traced crash point found ({result.detail}): "
                "the interposer may have changed the program's behaviour, or the failure needs a kill inside a call"
            )


def _verdict(kill: sanity.Kill) -> tuple[str, str]:
    return kill.verdict.outcome, kill.verdict.detail


def _wanted(options: Options, step: int, phase: str) -> bool:
    if options.shard is not None and (2 * (step - 1) + (phase == "after")) % options.shard[1] != options.shard[0] - 1:
        return False
    return options.only is None or options.only == (step, phase)


def _power(
    run: ProgramRun,
    start: replay.Image,
    source: Source,
    judged: Callable[..., Verdict],
    scratch: str,
    progress: Callable[..., None],
) -> None:
    recoveries: dict[str, Trace] = {}  # by the process-crash image: recover() is deterministic on the same files
    total = len(run.trace.steps)
    restarts = source.name == "syscall" or INTERPOSER.base is not None
    if not restarts:
        run.trace.warn(restart.NOT_INSTALLED)
    else:
        recoveries.update(_recoveries(run, start, source, scratch + ".restart"))
    try:
        for point in replay.points(start, run.trace, run.options.seed):
            if not _wanted(run.options, point.step, point.phase):
                continue
            acked = run.trace.acked_at(point.step, point.phase)
            in_flight = _in_flight(run, point.step, point.phase)
            verdicts = [judged(state.image, acked, in_flight) for state in point.power_states]
            for index, (state, verdict) in enumerate(zip(point.power_states, verdicts)):
                run.add(_power_result(point, index, state.description, len(acked), verdict, state.image))
            if run.target.resume is not None:
                _live_on(run, point, acked, [v.ok for v in verdicts], source, scratch + ".life", judged)
            if restarts and point.disk is not None:
                _restart(run, point, acked, recoveries, source, scratch + ".restart", judged)
            progress(f"power: step {point.step}/{total}, {len(run.results)} states, {run.failing} failing")
    except replay.ReplayError as exc:
        run.trace.warn(f"power states stop early: {exc}")
    shutil.rmtree(scratch, ignore_errors=True)
    for directory in (scratch + ".restart", scratch + ".life"):
        shutil.rmtree(directory, ignore_errors=True)


def _recoveries(run: ProgramRun, start: replay.Image, source: Source, directory: str) -> dict[str, Trace]:
    """The restart's recover() traced once per distinct process-crash image of the wanted points."""
    images: dict[str, replay.Image] = {}
    try:
        for point in replay.points(start, run.trace, 0, power=False):
            if _wanted(run.options, point.step, point.phase):
                images.setdefault(point.process_fingerprint, point.process_image)
    except replay.ReplayError:
        pass  # the power loop says where the replay stops
    traces = source.recoveries(run.target, list(images.values()), directory)
    return dict(zip(images, traces))


def _power_result(
    point: replay.Point, index: int, description: str, acked: int, verdict: Verdict, image: replay.Image, **second
) -> Result:
    """A judged power state of `point`; `second`: restart=True or life=G for the compound ones."""
    return Result(
        "power",
        point.step,
        point.phase,
        index,
        description,
        acked,
        verdict.outcome,
        verdict.detail,
        replay.sizes(image),
        **second,
    )


def _live_on(
    run: ProgramRun,
    point: replay.Point,
    acked: list,
    ok: list[bool],
    source: Source,
    directory: str,
    judged: Callable[..., Verdict],
) -> None:
    """Later lives from one ok power state of `point` (lives.py); each life's end judged."""
    if run.lives_stopped:
        return
    states = list(point.power_states)
    index = lives.lived_on(ok, replay.state_rng(run.options.seed, point.step, f"{point.phase}/life"))
    if index is None:
        return
    first = states[index]

    def rng_for(generation: int) -> random.Random:
        return replay.state_rng(run.options.seed, point.step, f"{point.phase}/{index}/life{generation}")

    lived = run.lived.setdefault((point.step, point.phase), [])
    total = len(acked)
    try:
        lived_lives = lives.live_on(
            run.target, first.image, acked, directory, rng_for, judged, run.trace.miss, source.later_life
        )
        for life in lived_lives:
            lived.append(life)
            total += len(life.tokens)
            if life.died:  # a restart that hangs once would hang at every point: one such failure is enough
                run.lives_stopped = True
                run.trace.warn(f"later lives stop after step {point.step} ({point.phase}): the restart {life.error}")
            description = f"{first.description}; then {life.description}"
            run.add(
                _power_result(point, index, description, total, life.verdict, life.state.image, life=life.generation)
            )
    except (OSError, replay.ReplayError) as exc:
        run.trace.warn(
            f"a later life after step {point.step} ({point.phase}) cannot be replayed on the simulated disk: {exc}"
        )


def _restart(
    run: ProgramRun,
    point: replay.Point,
    acked: list,
    recoveries: dict[str, Trace],
    source: Source,
    directory: str,
    judged: Callable[..., Verdict],
) -> None:
    """A process crash at `point`, a restart whose recover() runs on the crash's files, then a
    power loss after each of its steps (restart.py); each state judged with the point's acks."""
    assert point.disk is not None
    recovery = recoveries.get(point.process_fingerprint)
    if recovery is None:
        return
    if not recovery.steps:
        return
    run.recoveries[(point.step, point.phase)] = tuple(step.call for step in recovery.steps)
    rng = replay.state_rng(run.options.seed, point.step, f"{point.phase}/restart")
    try:
        for index, second in enumerate(restart.second_crashes(point.disk, recovery, rng)):
            verdict = judged(second.state.image, acked)
            run.add(
                _power_result(point, index, second.description, len(acked), verdict, second.state.image, restart=True)
            )
    except OSError as exc:
        run.trace.warn(
            f"the restart after a crash at step {point.step} ({point.phase}) cannot be replayed on the simulated "
            f"disk: {exc}"
        )


def _process(run: ProgramRun, start: replay.Image, template: str, scratch: str, progress: Callable[..., None]) -> None:
    try:
        replayed = {(p.step, p.phase): p for p in replay.points(start, run.trace, 0, power=False)}
    except replay.ReplayError:
        replayed = {}
    total = len(run.trace.steps)
    for step in run.trace.steps:
        for phase in ("before", "after"):
            if not _wanted(run.options, step.number, phase):
                continue
            shutil.rmtree(scratch, ignore_errors=True)
            shutil.copytree(template, scratch, symlinks=True)
            report = kills.kill_at(run.target, scratch, step.number, phase)
            if not report.killed or report.error:
                run.trace.miss(  # a crash point left unchecked: no verdict can cover it
                    f"a rerun did not reach step {step.number} ({phase}): the workload is not deterministic, "
                    f"so its crash points cannot be named by step number. {report.error.strip()}"
                )
                continue
            image = replay.image_of(scratch)
            point = replayed.get((step.number, phase))
            if point is not None and point.process_fingerprint != replay.fingerprint(image):
                run.trace.miss(
                    f"the files a real kill left at step {step.number} ({phase}) differ from the trace's replay "
                    f"there: the trace misses some I/O. {NOT_SEEN}"
                )
            verdict = judge(
                run.target, scratch, report.acked, run.trace.in_flight_at(step.number, phase, len(report.acked))
            )
            run.judged += 1
            run.add(
                Result(
                    "process",
                    step.number,
                    phase,
                    0,
                    "killed (SIGKILL)" + (f"; not yet durable: {point.unsynced}" if point and point.unsynced else ""),
                    len(report.acked),
                    verdict.outcome,
                    verdict.detail,
                    replay.sizes(image),
                )
            )
        progress(f"process: step {step.number}/{total}, {len(run.results)} states, {run.failing} failing")
    shutil.rmtree(scratch, ignore_errors=True)
