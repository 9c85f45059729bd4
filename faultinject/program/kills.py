"""Forked children: the traced dry run, the setup, a later life, and real SIGKILLs at every crash point.

The parent never runs the target's setup or workload itself: each runs in a forked child, so
module-level state a workload leaves behind (caches, open files) never leaks into the next run.
A child reports each ack over a pipe as it happens (the bytes are in the kernel before any
kill) and is SIGKILLed by the interposer's hook at its crash point; what it leaves on disk is,
byte for byte, what a process crash leaves (docs/CRASH-MODEL.md, fault kind `process`).
"""

from __future__ import annotations

import inspect
import json
import os
import pickle
import signal
import threading
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field

from tornwrite.faultinject.core.child import read_lines
from tornwrite.faultinject.program import blind
from tornwrite.faultinject.program.interposer import INTERPOSER, REAL, REAL_OPEN, Session
from tornwrite.faultinject.program.target import Target, TargetError
from tornwrite.faultinject.program.trace import Trace

CHILD_TIMEOUT = 60.0  # seconds a child may run before it is declared hung
OBSERVE_TIMEOUT = 5.0  # seconds a reader's look may take (one blocked on the crashing writer gives up)


class ChildDied(TargetError):
    """A traced child ended without sending its trace: it exited, hung, or was killed."""


@dataclass
class ChildReport:
    acked: list = field(default_factory=list)
    killed: bool = False  # died by SIGKILL (at its crash point, or by the parent's timer)
    error: str = ""


def run_child(body: Callable[[Callable[[str], None]], None], *, timeout: float | None = None) -> ChildReport:
    """Fork; the child runs `body(say)`, where `say(line)` reaches the parent even across a kill."""
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child never returns from here
        os.close(read_end)

        def say(line: str) -> None:
            REAL["write"](write_end, (line.replace("\n", "\\n") + "\n").encode())

        status = 0
        try:
            body(say)
        except BaseException:
            say("E " + traceback.format_exc())
            status = 1
        os._exit(status)
    os.close(write_end)
    report = read_reports(read_end, pid, CHILD_TIMEOUT if timeout is None else timeout)
    os.close(read_end)
    _, status = os.waitpid(pid, 0)
    report.killed = os.WIFSIGNALED(status) and os.WTERMSIG(status) == signal.SIGKILL
    return report


def read_reports(fd: int, pid: int, timeout: float) -> ChildReport:
    report = ChildReport()
    lines, hung = read_lines(fd, pid, timeout)
    if hung:
        report.error = f"hang: the child was still running after {timeout:.0f} s"
    for tag, value in lines:
        if tag == "A":
            report.acked.append(json.loads(value))
        elif tag == "E":
            report.error += value
    return report


class ObserveError(Exception):
    """The target's observe() raised: a broken reader, reported as the workload's error."""


def look(target: Target, directory: str) -> list:
    """The target's reader takes one look, as a concurrent client would just before the crash: it
    runs in a thread of its own while the crashing thread waits (holding whatever it holds), and
    returns the tokens it acked. A look that does not finish in time acks nothing more."""
    observe = target.observe
    if observe is None:
        return []
    seen: list = []
    failed: list[str] = []

    def ack(token: object) -> None:
        json.dumps(token)  # sent across a kill, like the workload's tokens
        seen.append(token)

    def body() -> None:
        try:
            observe(directory, ack)
        except Exception:
            failed.append(traceback.format_exc())

    reader = threading.Thread(target=body, name="tornwrite-observe", daemon=True)
    reader.start()
    reader.join(OBSERVE_TIMEOUT)
    if failed:
        raise ObserveError(f"observe raised:\n{failed[0]}")
    return list(seen)


def setup(target: Target, directory: str) -> ChildReport:
    """Run the target's setup (untraced) in a child, leaving its files in `directory`."""
    os.makedirs(directory, exist_ok=True)
    build = target.setup
    if build is None:
        return ChildReport()
    return run_child(lambda say: build(directory))


def dry_run(target: Target, directory: str, trace_file: str) -> Trace:
    """Trace one whole run of the workload in a child; a workload that raises is traced up to there."""

    def body(session: Session) -> None:
        if target.observe is not None:  # a look at every crash point: what the power states must keep

            def on_step(step: int, when: str) -> None:
                session.trace.seen[(step, when)] = look(target, session.directory)

            session.on_step = on_step
        target.workload(session.directory, INTERPOSER.ack)

    return _traced_in_child(body, directory, trace_file, target)


def later_life(target: Target, directory: str, acked: list, trace_file: str) -> Trace:
    """Trace a restart in a child: recover() on the files in `directory`, then resume() carrying on
    after the tokens `acked` so far; one that raises is traced up to there (lives.py)."""
    resume = target.resume
    assert resume is not None

    def body(session: Session) -> None:
        target.recover(session.directory)
        resume(session.directory, INTERPOSER.ack, list(acked))

    return _traced_in_child(body, directory, trace_file, target)


def _traced_in_child(body: Callable[[Session], None], directory: str, trace_file: str, target: Target) -> Trace:
    """Run `body` in a child under an armed session on `directory`; its trace comes back pickled."""
    folder = os.path.dirname(os.path.abspath(inspect.getsourcefile(target.workload) or ""))

    def child(say: Callable[[str], None]) -> None:
        session = Session(os.path.realpath(directory))
        INTERPOSER.arm(session)
        blind.armed(folder)
        try:
            body(session)
        except BaseException:  # sys.exit() too: the trace up to it still comes back
            session.trace.error = traceback.format_exc()
        finally:
            INTERPOSER.disarm()
        with REAL_OPEN(trace_file, "wb") as f:
            pickle.dump(session.trace, f)

    report = run_child(child)
    if not os.path.exists(trace_file):
        why = report.error.strip().splitlines()[-1] if report.error.strip() else "it was killed"
        raise ChildDied(f"died before it finished: {why}")
    with REAL_OPEN(trace_file, "rb") as f:
        trace: Trace = pickle.load(f)
    os.unlink(trace_file)
    return trace


def kill_at(target: Target, directory: str, number: int, phase: str) -> ChildReport:
    """Run the workload in a child that SIGKILLs itself at step `number`, `phase`; acks as it went,
    then those of the target's reader, which takes its look just before the kill."""

    def body(say: Callable[[str], None]) -> None:
        def on_step(step: int, when: str) -> None:
            if step == number and when == phase:
                for token in look(target, session.directory):
                    say("A " + json.dumps(token))
                os.kill(os.getpid(), signal.SIGKILL)

        session = Session(os.path.realpath(directory), on_step=on_step, on_ack=lambda t: say("A " + json.dumps(t)))
        INTERPOSER.arm(session)
        target.workload(session.directory, INTERPOSER.ack)
        say(f"E the run ended after {len(session.trace.steps)} steps, before step {number} ({phase})")

    return run_child(body)
