"""Trace sources: what records a program's durable steps, behind one interface.

- `syscall` (syscall_source.py): strace follows the whole process tree, any language, and sees
  every byte where the kernel sees it. The default where ptrace is permitted.
- `python` (interposer.py): wrappers around Python's own file functions, in a forked child. The
  portable fallback; it cannot see I/O done in C or by child processes, and says so by marking
  its trace incomplete wherever it knows it was blind.

Replay, crash states, judging and reports never ask which source recorded a trace: they read
`Trace.steps`, `Trace.tokens` and `Trace.unseen` alike.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

from tornwrite.faultinject.program import kills, replay, restart, syscall_source
from tornwrite.faultinject.program.target import Target
from tornwrite.faultinject.program.trace import Trace

NAMES = ("syscall", "python")


@dataclass(frozen=True)
class Source:
    """One way of recording a trace. Every method leaves the run's files in `directory`."""

    name: str
    timeout: float = syscall_source.DEFAULT_TIMEOUT

    def dry_run(self, target: Target, directory: str) -> Trace:
        """The workload's whole run, traced."""
        if self.name == "syscall":
            return syscall_source.record(target, directory, timeout=self.timeout).trace
        return kills.dry_run(target, directory, os.path.realpath(directory) + ".trace.pickle")

    def recoveries(self, target: Target, images: list[replay.Image], directory: str) -> list[Trace]:
        """recover() traced on the files each image holds (restarts after a process crash)."""
        if self.name == "syscall":
            return syscall_source.record_each(target, images, directory, self.timeout)
        return [restart.recovery_trace(target, image, directory) for image in images]

    def later_life(self, target: Target, directory: str, acked: list) -> Trace:
        """A restart traced: recover(), then resume() after the tokens `acked` (lives.py)."""
        if self.name == "syscall":
            return syscall_source.record(target, directory, "resume", acked=acked, timeout=self.timeout).trace
        return kills.later_life(target, directory, acked, os.path.realpath(directory) + ".trace")


def choose(asked: str | None) -> tuple[str, str]:
    """(source name, a one-line note or "") for `--trace` = `asked` (None: the best this machine allows)."""
    reason = syscall_source.probe()
    if asked is None:
        if reason is None:
            return "syscall", ""
        return "python", f"system-call tracing is not available ({reason}): using the Python interposer"
    if asked == "syscall" and reason is not None:
        raise syscall_source.Untraceable(f"--trace syscall: {reason}")
    return asked, ""
