"""The system-call trace source: a program's whole process tree, traced by strace.

The target runs in a fresh interpreter (traced_child.py) under

    strace -f --seccomp-bpf -qq -e signal=none -y -xx -s LIMIT -ttt -e raw=read,readv -e trace=CALLS

`-f` follows every thread and child process (subprocess, fork, os.system, and whatever they
exec: sqlite3's shell, a compiled program, `cp`); `--seccomp-bpf` stops the program only on
the calls listed, so the rest of it runs at full speed (docs/TRACING.md has the measurements
that chose strace). syscalls.Model turns the calls into steps; what it cannot model, it names
in `Trace.unseen`. The run is also checked against reality: the files the program left must be
the replay of its trace, or the trace missed something.

No root, FUSE or kernel module is needed, only ptrace: `probe()` says in one line why it is not
available (strace missing, ptrace refused), and the caller falls back to the interposer.
Every process of a run carries TORNWRITE_RUN=<id> in its environment, so a process that
escapes (a daemon that calls setsid) is still found, reported, and killed at the end.
"""

from __future__ import annotations

import dataclasses
import functools
import json
import os
import shutil
import signal
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass, field

from tornwrite.faultinject.program import replay, strace_log
from tornwrite.faultinject.program.syscalls import Model
from tornwrite.faultinject.program.target import Target, TargetError
from tornwrite.faultinject.program.trace import Trace

NAME = "syscall"
CAPTURE_LIMIT = 16 << 20  # -s: bytes of each write captured; a longer write makes the trace incomplete
DEFAULT_TIMEOUT = 60.0
ESCAPE_GRACE = 2.0  # seconds the tree may take to exit after the traced body returned
CALLS = (
    "open,openat,openat2,creat,close,close_range,dup,dup2,dup3,fcntl,read,readv,lseek,"
    "write,pwrite64,writev,pwritev,pwritev2,sendfile,copy_file_range,splice,tee,"
    "ftruncate,truncate,fallocate,fsync,fdatasync,sync_file_range,sync,syncfs,msync,mmap,"
    "rename,renameat,renameat2,unlink,unlinkat,mkdir,mkdirat,rmdir,link,linkat,symlink,symlinkat,"
    "mknod,mknodat,chdir,fchdir,clone,clone3,fork,vfork,execve,execveat,io_uring_setup"
)
MARK = "TORNWRITE_RUN"


class Untraceable(TargetError):
    """The system-call source cannot run here (exit 2 when it was asked for by name)."""


@functools.cache
def probe() -> str | None:
    """Why the system-call source cannot run on this machine, in one line; None when it can."""
    strace = shutil.which("strace")
    if strace is None:
        return "strace is not installed (Debian/Ubuntu: apt-get install strace)"
    try:
        done = subprocess.run(
            [strace, "-f", "--seccomp-bpf", "-qq", "-o", os.devnull, "-e", "trace=write", "true"],
            capture_output=True,
            timeout=30,
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        return f"strace could not run: {exc}"
    if done.returncode != 0:
        why = done.stderr.decode(errors="replace").strip().splitlines()
        return f"ptrace is not permitted here ({why[0] if why else f'strace exited {done.returncode}'})"
    return None


@dataclass
class Recorded:
    """One traced run: its trace, and what happened to it."""

    trace: Trace
    acked: list = field(default_factory=list)  # from the ack file (all of them, even after a kill)
    marks: list[tuple[str, int]] = field(default_factory=list)  # traced_child's markers and the steps before each
    killed: bool = False
    finished: bool = False  # the traced body returned (or raised) rather than being killed
    elapsed: float = 0.0  # from the body's start to its end or kill


def record(
    target: Target,
    directory: str,
    mode: str = "workload",
    *,
    acked: list | None = None,
    timeout: float = DEFAULT_TIMEOUT,
    kill_after: float | None = None,
) -> Recorded:
    """Trace one run of `mode` (traced_child.py) on `directory`; `kill_after` seconds after the body
    starts, SIGKILL the whole tree (a real process crash). Raises TargetError on a hang."""
    reason = probe()
    if reason is not None:
        raise Untraceable(f"the system-call source cannot run: {reason}")
    directory = os.path.realpath(directory)
    scratch = directory + ".strace"
    os.makedirs(scratch, exist_ok=True)
    ack_file, log_file = os.path.join(scratch, "acks"), os.path.join(scratch, "calls")
    for stale in (ack_file, log_file):
        if os.path.exists(stale):
            os.unlink(stale)
    start = replay.image_of(directory)
    argv = [sys.executable, "-m", "tornwrite.faultinject.program.traced_child", mode, target.spec, directory, ack_file]
    if mode == "resume":
        with open(os.path.join(scratch, "acked.json"), "w") as f:
            json.dump(acked or [], f)
        argv.append(os.path.join(scratch, "acked.json"))
    run_id = uuid.uuid4().hex
    command = ["strace", "-f", "--seccomp-bpf", "-qq", "-e", "signal=none", "-y", "-xx", "-ttt"]
    command += ["-s", str(CAPTURE_LIMIT), "-e", "raw=read,readv", "-e", f"trace={CALLS}", "-o", log_file, "--"]
    tracer = subprocess.Popen(
        command + argv,
        env={**os.environ, MARK: run_id},
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        start_new_session=True,
    )
    recorded = Recorded(Trace())
    escaped = _wait(tracer, ack_file, run_id, timeout, kill_after, recorded)
    lines = _ack_lines(ack_file)
    recorded.acked = [json.loads(line[2:]) for line in lines if line.startswith("A ")]
    recorded.finished = "D" in lines
    errors = [line[2:].replace("\\n", "\n") for line in lines if line.startswith("E ")]
    model = _model_of(log_file, directory, start, ack_file)
    trace = model.trace
    recorded.marks = model.marks
    if model.cut_off and not recorded.killed:  # a process of the program died inside a call: its effect is unknown
        for reason in model.cut_off:
            trace.miss(f"{reason}: its effect is unknown")
    trace.error = errors[0] if errors else ""
    trace.duration = recorded.elapsed
    for pid in escaped:
        trace.miss(
            f"process {pid} was still running {ESCAPE_GRACE:.0f} s after the traced program returned "
            "(a daemon?): it was killed, and what it did after that is not in the trace"
        )
    if not model.cut_off:  # else the files may or may not hold the cut-off call's effect
        problem = replay.unseen(start, trace, directory)
        if problem:
            trace.miss(problem)
    recorded.trace = trace
    shutil.rmtree(scratch, ignore_errors=True)
    return recorded


def record_each(target: Target, images: list[replay.Image], directory: str, timeout: float) -> list[Trace]:
    """recover() traced on each image, all in one traced process (a fresh interpreter per restart
    would cost more than the rest of the run): image i is recovered in `directory`/i, and the
    trace is cut at traced_child's markers into one trace per image, paths relative to its own."""
    shutil.rmtree(directory, ignore_errors=True)
    os.makedirs(directory)
    for number, image in enumerate(images):
        replay.materialise(image, os.path.join(directory, str(number)))
    recorded = record(target, directory, "recover-each", timeout=timeout)
    whole = recorded.trace
    starts = {int(line[2:]): done for line, done in recorded.marks if line.startswith("R ")}
    raised = {int(line[2:]) for line, _ in recorded.marks if line.startswith("X ")}
    traces = []
    for number in range(len(images)):
        trace = Trace(unseen=list(whole.unseen))
        if number not in starts:
            trace.miss(f"recover() of restart {number} never ran: {whole.error.strip().splitlines()[-1:]}")
        first, last = starts.get(number, 0), starts.get(number + 1, len(whole.steps))
        prefix = f"{number}/"
        for step in whole.steps[first:last]:
            if step.path.startswith(prefix):
                path = step.path[len(prefix) :]
                target_path = step.target if step.op == "symlink" else step.target.removeprefix(prefix)
                call = step.call.replace(prefix, "")
                trace.steps.append(
                    dataclasses.replace(step, number=len(trace.steps) + 1, path=path, target=target_path, call=call)
                )
        trace.error = "recover raised" if number in raised else ""
        traces.append(trace)
    return traces


def _wait(
    tracer: subprocess.Popen, ack_file: str, run_id: str, timeout: float, kill_after: float | None, recorded: Recorded
) -> list[int]:
    """Wait for the traced tree; kill it on `kill_after`, on a hang, or when something outlives the body.
    Returns the pids that escaped (still alive after the body returned)."""
    started = time.monotonic()
    body_started: float | None = None
    done_at: float | None = None
    escaped: list[int] = []
    while tracer.poll() is None:
        now = time.monotonic()
        lines = _ack_lines(ack_file) if (body_started is None or done_at is None) else []
        if body_started is None and any(line.startswith("S ") for line in lines):
            body_started = now
        if done_at is None and "D" in lines:
            done_at = now
            recorded.elapsed = now - (body_started or started)
        if kill_after is not None and body_started is not None and done_at is None and now - body_started >= kill_after:
            _kill_tree(tracer, run_id)
            recorded.killed = True
            recorded.elapsed = now - body_started
            break
        if done_at is not None and now - done_at > ESCAPE_GRACE:
            escaped = [pid for pid in _marked(run_id) if pid != tracer.pid]
            _kill_tree(tracer, run_id)
            break
        if now - started > timeout:
            _kill_tree(tracer, run_id)
            raise TargetError(
                f"hang: the traced program was still running after {timeout:g} s (--timeout): it was killed, "
                "with every process it started"
            )
        time.sleep(0.0005 if kill_after is not None else 0.005)
    tracer.wait()
    for pid in _marked(run_id):  # nothing of the run outlives it
        _kill(pid)
    started_body = any(line.startswith("S ") for line in _ack_lines(ack_file))
    if not started_body and not recorded.killed:
        err = tracer.stderr.read().decode(errors="replace") if tracer.stderr else ""
        raise Untraceable(f"the traced program never started (strace exit {tracer.returncode}): {err.strip()[-500:]}")
    if tracer.stderr is not None:
        tracer.stderr.close()
    return escaped


def _kill_tree(tracer: subprocess.Popen, run_id: str) -> None:
    """SIGKILL every traced process of the run at once, then let strace finish writing what it saw
    (it exits when its last tracee is gone); strace itself is killed only if it does not."""
    for pid in _marked(run_id):
        if pid != tracer.pid:
            _kill(pid)
    try:
        tracer.wait(timeout=10)
    except subprocess.TimeoutExpired:
        _kill(tracer.pid)


def _kill(pid: int) -> None:
    try:
        os.kill(pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass


def _marked(run_id: str) -> list[int]:
    """Every live process whose environment carries this run's mark."""
    needle = f"{MARK}={run_id}".encode()
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/environ", "rb") as f:
                if needle in f.read().split(b"\0"):
                    found.append(int(entry))
        except OSError:
            continue
    return found


def _ack_lines(ack_file: str) -> list[str]:
    try:
        with open(ack_file, encoding="utf-8", errors="replace") as f:
            return f.read().splitlines()
    except FileNotFoundError:
        return []


def _model_of(log_file: str, directory: str, start: replay.Image, ack_file: str) -> Model:
    files, dirs = _relative_image(start)
    model = Model(directory, files, dirs, ack_file, os.getcwd())
    try:
        with open(log_file, encoding="ascii", errors="replace") as f:
            for call in strace_log.calls(f):
                model.feed(call)
    except FileNotFoundError:
        model.miss("strace wrote no trace")
    return model


def _relative_image(image: replay.Image) -> tuple[dict[str, bytes], set[str]]:
    files: dict[str, bytes] = {}
    dirs: set[str] = set()
    for path, contents in image.items():
        relative = "." if path == replay.ROOT else path[len(replay.ROOT) + 1 :]
        dirs.add(relative)
        for name, data in contents.items():
            files[name if relative == "." else f"{relative}/{name}"] = data
    return files, dirs
