"""Fault kind "process": a real child process, killed with SIGKILL at the crash point.

The child runs the workload on a real directory (tmpfs: a process crash keeps the page cache,
so fsync's cost would test nothing here) and reports over a pipe each op it acked and the
newest op any read observed; pipe writes are in the kernel before the kill, so none is lost.
An observer thread reads the workload's keys while the workload runs and, at the crash point,
takes one last look before the kill, the way a concurrent client might have just then. A write
someone saw must survive the crash, so the observed op raises the lower bound of the check.

The parent forks one runner per batch of crash points, which runs the workload once. At each
crash point of the batch the runner forks a child there, a copy of itself in the middle of that
I/O step, and the child is SIGKILLed at once: the real kill of a process with the workload's
prefix behind it, one child per point, without rerunning the prefix (which cost two thirds of
the kind's CPU). The runner waits until the parent has copied what the kill left (on tmpfs
the files stay as they are: nothing the runner holds is lost or written by a kill), then goes
on. The parent recovers each copy in-process, judges it, and, where recovery has to repair
something, kills a recovery child at each of the recovery's durable steps and judges the
second recovery.
"""

from __future__ import annotations

import functools
import os
import shutil
import signal
import tempfile
import threading
import time
import traceback
from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace
from typing import NoReturn

from tornwrite.engine import IOEvent, IOLayer, Store
from tornwrite.faultinject.core.child import read_lines, stream_lines
from tornwrite.faultinject.core.describe import file_lines, recovery_lines, verdict_lines
from tornwrite.faultinject.core.execution import FakeClock, StepCounter, clock_after, run
from tornwrite.faultinject.core.observe import newest_visible
from tornwrite.faultinject.core.results import CrashPoint, SecondCrash, StateResult
from tornwrite.faultinject.core.verdicts import Recovered, Recoveries, judge, recover_directory
from tornwrite.faultinject.core.workloads import Workload
from tornwrite.faultinject.kinds.base import Emit, FaultKind, Out, Point, ReproRequest, Subject
from tornwrite.models.checker import Oracle, Verdict

NAME = "process"
CHILD_TIMEOUT = 60.0  # seconds a child may take to reach its crash point
_OBSERVER_PAUSE = 0.0002  # between sweeps: lets the workload thread have the GIL


@dataclass
class ChildReport:
    acked: int = 0
    observed: int = 0
    killed: bool = False  # died by SIGKILL at its crash point (else it finished or failed)
    error: str = ""

    def take(self, tag: str, value: str) -> None:
        """One line a child said: A (acked through op N), O (observed op N), E (an error)."""
        if tag == "A":
            self.acked = max(self.acked, int(value))
        elif tag == "O":
            self.observed = max(self.observed, int(value))
        elif tag == "E":
            self.error += value


def check_points(
    workload: Workload,
    oracle: Oracle,
    points: Iterable[tuple[int, str]],
    steps: dict,
    emit: Callable[[StateResult], None],
    *,
    base_dir: str,
    mutant: str | None = None,
    compound: bool = True,
) -> None:
    """Kill a child at each of `points` (`steps`: the dry run's Step by number) and judge.

    One runner child runs the workload once for the whole batch; at each point it forks the
    child that is killed there (kill_each), so no point reruns the workload's prefix."""
    recoveries = Recoveries()  # this batch's read probes, asked once per distinct recovered state
    directory = os.path.join(base_dir, "run")
    shutil.rmtree(directory, ignore_errors=True)

    def crashed(number: int, phase: str, report: ChildReport) -> None:
        """The runner waits while this copies what the kill left; judged once it goes on."""
        pristine = os.path.join(base_dir, f"p{number}{phase[0]}.crashed")
        shutil.rmtree(pristine, ignore_errors=True)
        if report.killed and os.path.isdir(directory):  # a crash before mkdir leaves no directory at all
            shutil.copytree(directory, pristine)
        found.append((number, phase, report, pristine))

    found: list[tuple[int, str, ChildReport, str]] = []
    kill_each(functools.partial(_run_workload, workload, directory), list(points), crashed)
    shutil.rmtree(directory, ignore_errors=True)
    for number, phase, report, pristine in found:
        _judge_point(workload, oracle, steps[number], phase, report, pristine, emit, recoveries, mutant, compound)


def _judge_point(
    workload: Workload,
    oracle: Oracle,
    step,
    phase: str,
    report: ChildReport,
    pristine: str,
    emit: Callable[[StateResult], None],
    recoveries: Recoveries,
    mutant: str | None,
    compound: bool,
) -> None:
    """Recover (a copy of) the directory a kill at `step`, `phase` left, judge it, and kill
    each recovery that repairs something at each of its steps."""
    number = step.number
    point = CrashPoint.of(NAME, workload, number, phase, step.label, step.path, step.op_index, mutant)
    in_flight = step.op_index > 0
    progress = _Acked(report.acked, in_flight)
    check_time = clock_after(workload, report.acked)
    if not report.killed:
        emit(
            StateResult.of(
                point,
                0,
                "child did not die at its crash point",
                progress,
                Verdict("invariant-violated", report.error or "the run ended before the crash point"),
                observed=report.observed,
            )
        )
        return
    directory = pristine.removesuffix(".crashed")
    if os.path.isdir(pristine):
        shutil.copytree(pristine, directory)
    recovery_steps: list[tuple[int, str]] = []
    recovered = _recover_recording(directory, check_time, recovery_steps, recoveries)
    verdict = judge(
        oracle, recovered, acked=report.acked, in_flight=in_flight, check_time=check_time, observed=report.observed
    )
    emit(StateResult.of(point, 0, "killed", progress, verdict, observed=report.observed))
    if compound:
        for second_step, second_phase in recovery_steps:
            again_dir = directory + f".r{second_step}{second_phase[0]}"
            if os.path.isdir(pristine):
                shutil.copytree(pristine, again_dir)
            second = kill_at(functools.partial(_open_only, again_dir, check_time), second_step, second_phase)
            again = (
                recoveries.directory(again_dir, check_time)
                if second.killed
                else Recovered(None, second.error or "recovery child did not die", None, None)
            )
            emit(
                StateResult.of(
                    point,
                    0,
                    "killed",
                    progress,
                    judge(
                        oracle,
                        again,
                        acked=report.acked,
                        in_flight=in_flight,
                        check_time=check_time,
                        observed=report.observed,
                    ),
                    observed=report.observed,
                    second=SecondCrash(second_step, second_phase, 0, "recovery killed"),
                )
            )
            shutil.rmtree(again_dir, ignore_errors=True)
    shutil.rmtree(pristine, ignore_errors=True)
    shutil.rmtree(directory, ignore_errors=True)


@dataclass
class _Acked:
    """The slice of execution.Progress that StateResult.of reads."""

    acked: int
    in_flight: bool
    current: int = 1


def _recover_recording(directory: str, check_time: float, steps: list, recoveries: Recoveries) -> Recovered:
    """Recover, noting each step of recovery that changes what a process sees (a truncate, an
    unlink, a create, a write): where a second kill can leave something new. Kills around its
    fsyncs would find exactly the files a kill before them finds: fsync changes only the disk."""
    io = IOLayer()
    io.hooks.append(
        StepCounter(
            None,
            lambda event, number, _: (
                steps.append((number, event.phase)) if event.op not in ("fsync", "fsync_dir") else None
            ),
        )
    )
    return recoveries.directory(directory, check_time, io)


class Child:
    """The forked side of a crash: reports to the parent over a pipe, dies at its crash point."""

    def __init__(self, fd: int, number: int, phase: str):
        self.fd, self.number, self.phase = fd, number, phase
        self.observer: _Observer | None = None

    def say(self, line: str) -> None:
        os.write(self.fd, (line + "\n").encode())

    def on_step(self, event: IOEvent, step: int, _progress: object) -> None:
        if step == self.number and event.phase == self.phase:
            if self.observer is not None:
                self.observer.look()
            os.kill(os.getpid(), signal.SIGKILL)

    def observe(self, store: Store, keys: tuple[str, ...]) -> None:
        self.observer = _Observer(store, keys, self.say)
        self.observer.start()


class Runner(Child):
    """The forked side of a batch: runs the workload once; at each wanted point the observer
    takes its last look, a fork of this process there is SIGKILLed ("K <step> <phase> <1 if it
    died so>"), and the runner waits for the parent's go before it carries on; it exits after
    the last point."""

    def __init__(self, fd: int, go_fd: int, points: Iterable[Point]):
        super().__init__(fd, 0, "")
        self.go_fd, self.wanted = go_fd, set(points)

    def on_step(self, event: IOEvent, step: int, _progress: object) -> None:
        if (step, event.phase) not in self.wanted:
            return
        self.wanted.discard((step, event.phase))
        if self.observer is not None:
            self.observer.look()
            self.observer.going.clear()
        pid = os.fork()
        if pid == 0:  # the child killed at this point: it does nothing else
            os.kill(os.getpid(), signal.SIGKILL)
        _, status = os.waitpid(pid, 0)
        killed = os.WIFSIGNALED(status) and os.WTERMSIG(status) == signal.SIGKILL
        self.say(f"K {step} {event.phase} {int(killed)}")
        if not os.read(self.go_fd, 1) or not self.wanted:
            os._exit(0)  # every point is taken (or the parent is gone): the rest of the run is not needed
        if self.observer is not None:
            self.observer.going.set()


def kill_each(
    body: Callable[[Runner], None], points: list[Point], crashed: Callable[[int, str, ChildReport], None]
) -> None:
    """Fork a runner doing `body(runner)`; `crashed(step, phase, report)` for each of `points`:
    in the order the run reaches them, each while the runner waits (the files are as the kill
    left them), then those it never reached (report.killed False, with why)."""
    read_end, write_end = os.pipe()
    go_read, go_write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the runner never returns from here
        os.close(read_end)
        os.close(go_write)
        _run_then_exit(body, Runner(write_end, go_read, points))
    os.close(write_end)
    os.close(go_read)
    report, pending = ChildReport(), set(points)
    try:
        for tag, value in stream_lines(read_end, pid, CHILD_TIMEOUT, "K"):
            if tag == "H":
                report.error = f"hang: the child did not reach its crash point within {CHILD_TIMEOUT:.0f} s"
            elif tag != "K":
                report.take(tag, value)
            else:
                step, phase, killed = value.split()
                pending.discard((int(step), phase))
                crashed(int(step), phase, replace(report, killed=killed == "1" and not report.error))
                try:
                    os.write(go_write, b"g")
                except BrokenPipeError:
                    pass  # the runner died: the points it did not reach say so below
    finally:
        os.close(go_write)
        os.close(read_end)
        os.waitpid(pid, 0)
    for missed, missed_phase in sorted(pending):
        crashed(missed, missed_phase, replace(report, killed=False, error=report.error or "the runner died before it"))


def kill_at(body: Callable[[Child], None], number: int, phase: str) -> ChildReport:
    """Fork; the child runs `body(child)` and is SIGKILLed at durable step `number`, `phase`."""
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child never returns from here
        os.close(read_end)
        _run_then_exit(body, Child(write_end, number, phase))
    os.close(write_end)
    report = _read_reports(read_end, pid)
    os.close(read_end)
    _, status = os.waitpid(pid, 0)
    report.killed = os.WIFSIGNALED(status) and os.WTERMSIG(status) == signal.SIGKILL and not report.error
    return report


def _run_then_exit(body: Callable, child: Child) -> NoReturn:
    """In a forked child: run `body(child)`, which a SIGKILL should end; say why if it did not."""
    try:
        body(child)
        child.say("E the run ended before its crash point")
    except BaseException:
        child.say("E " + traceback.format_exc().replace("\n", "\\n"))
    os._exit(1)


def _read_reports(fd: int, pid: int) -> ChildReport:
    report = ChildReport()
    lines, hung = read_lines(fd, pid, CHILD_TIMEOUT)
    if hung:
        report.error = f"hang: the child did not reach its crash point within {CHILD_TIMEOUT:.0f} s"
        return report
    for tag, value in lines:
        report.take(tag, value)
    return report


class _Observer(threading.Thread):
    """Reads every key of the workload over and over, reporting the newest op it saw."""

    def __init__(self, store: Store, keys: tuple[str, ...], say: Callable[[str], None]):
        super().__init__(daemon=True)
        self.store, self.keys, self.say = store, keys, say
        self.newest = 0
        self._look = threading.Event()
        self._looked = threading.Event()
        self.going = threading.Event()  # cleared while the workload waits at a crash point: nothing changes then
        self.going.set()

    def run(self) -> None:
        while True:
            self.going.wait()
            asked = self._look.is_set()  # a sweep begun after the ask: it sees the store as of the crash point
            self.sweep()
            if asked:
                self._look.clear()
                self._looked.set()
            time.sleep(_OBSERVER_PAUSE)

    def sweep(self) -> None:
        newest = newest_visible(self.store, self.keys)
        if newest > self.newest:
            self.newest = newest
            self.say(f"O {newest}")

    def look(self) -> None:
        """Called by the workload thread at a crash point: one more full sweep before the kill."""
        self._looked.clear()
        self._look.set()
        self._looked.wait(5)


def _run_workload(workload: Workload, directory: str, child: Child) -> None:
    run(
        workload,
        IOLayer(),
        directory,
        child.on_step,
        on_ack=lambda index, _result: child.say(f"A {index}"),
        on_open=lambda store: child.observe(store, workload.keys),
    )


def _open_only(directory: str, check_time: float, child: Child) -> None:
    io = IOLayer()
    io.hooks.append(StepCounter(None, child.on_step))
    Store.open(directory, io=io, clock=FakeClock(check_time))


def _repro(subject: Subject, request: ReproRequest, out: Out) -> int:
    workload, oracle, steps, step, phase = (
        subject.workload,
        subject.oracle,
        subject.steps,
        request.step,
        request.phase,
    )
    recovery_step, recovery_phase = request.recovery_step, request.recovery_phase
    assert phase is not None  # request_problem has refused a request without one
    out(f"CRASH (process) {phase} step {step}")
    base = tempfile.mkdtemp(prefix="tornwrite-repro-")
    try:
        directory = os.path.join(base, "data")
        report = kill_at(lambda child: _run_workload(workload, directory, child), step, phase)
        in_flight = steps[step].op_index > 0
        check_time = clock_after(workload, report.acked)
        out(
            f"child {'killed' if report.killed else 'NOT killed: ' + report.error}; acked {report.acked}, "
            f"newest op observed by a reader {report.observed}"
        )
        out("on disk after the kill:")
        out(
            "\n".join(
                file_lines(
                    {n: open(os.path.join(directory, n), "rb").read() for n in os.listdir(directory) if n != "LOCK"}
                )
            )
        )
        if recovery_step is not None:
            assert recovery_phase is not None  # the CLI takes --recovery-step and --recovery-phase together
            again = kill_at(lambda child: _open_only(directory, check_time, child), recovery_step, recovery_phase)
            out(
                f"CRASH during recovery, {recovery_phase} its step {recovery_step}: "
                f"{'killed' if again.killed else again.error}"
            )
        recovered = recover_directory(directory, check_time)
        out("recovery:")
        out("\n".join(recovery_lines(recovered)))
        return verdict_lines(oracle, recovered, report.acked, in_flight, check_time, report.observed, out)
    finally:
        shutil.rmtree(base, ignore_errors=True)


class Process(FaultKind):
    name = NAME
    summary = "a real child process is killed with SIGKILL before or after each durable I/O step"
    batch = 8

    def check(self, subject: Subject, points: Iterable[Point], emit: Emit) -> None:
        check_points(
            subject.workload,
            subject.oracle,
            points,
            subject.steps,
            emit,
            base_dir=subject.scratch,
            mutant=subject.mutant,
            compound=subject.compound,
        )

    def repro(self, subject: Subject, request: ReproRequest, out: Out) -> int:
        return _repro(subject, request, out)


KIND = Process()
