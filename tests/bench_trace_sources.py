"""Trace-source overhead (`make bench`, issue 16 item 2): what recording a program's system calls costs.

A small JSON store saves atomically (temp file, write, fsync, rename, fsync the directory) 10 and
80 times, each run a fresh interpreter, start-up included. Timed untraced, and under each
candidate source: strace with and without --seccomp-bpf on the issue's system-call set (and,
to show what following file positions costs, on item 1's calls alone), a minimal python-ptrace
tracer (below, the measured candidate, not product code), and the Python-level interposer.
Wall and CPU (user+sys of the tracer and every tracee, from wait4 and RUSAGE_SELF/CHILDREN) as
min and median of --runs runs, sources interleaved run by run so that drift in the machine's
speed hits them alike; ratios are medians over the untraced median. Never asserted (the machine
is shared); every run is checked to have saved, every traced run to have recorded the store's
fsyncs and renames, and a run that did not prints its repro and exits 1.

    python -m tests.bench_trace_sources [--runs 5] [--ops 10,80] [--sources untraced,strace-seccomp,...]
"""

from __future__ import annotations

import argparse
import os
import platform
import re
import resource
import shlex
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

# The JSON store: docs/examples/safe_json.py's save, as a script run by a fresh interpreter.
STORE = """
import json, os, sys

def save(path, data):
    name, temp = os.path.join(path, "db.json"), os.path.join(path, "db.json.tmp")
    with open(temp, "w") as f:
        json.dump(data, f)
        f.flush()
        os.fsync(f.fileno())
    os.replace(temp, name)
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)

def run(path, ops):
    data = {}
    for i in range(ops):
        data[f"k{i}"] = i
        save(path, data)

if __name__ == "__main__":
    run(sys.argv[1], int(sys.argv[2]))
"""

# The same store under the interposer, installed before the store is imported, as `program` does.
INTERPOSED = """
import os, sys
from tornwrite.faultinject.program import install, interposer

path, ops = os.path.realpath(sys.argv[1]), int(sys.argv[2])
install.install(path)
import json_store

session = interposer.Session(path)
interposer.INTERPOSER.arm(session)
json_store.run(path, ops)
interposer.INTERPOSER.disarm()
ops_made = [step.op for step in session.trace.steps]
print(ops_made.count("fsync") + ops_made.count("fsync_dir"), ops_made.count("rename"))
"""

# Issue 16 item 1's calls, plus what a parser tracking file positions and descriptors needs.
WRITES = "open,openat,openat2,creat,write,pwrite64,writev,pwritev,pwritev2,sendfile,copy_file_range"
SIZES_AND_SYNCS = "ftruncate,truncate,fallocate,fsync,fdatasync,sync_file_range,sync,syncfs,msync,mmap"
NAMES = "rename,renameat,renameat2,unlink,unlinkat,mkdir,mkdirat,rmdir,link,linkat,symlink,symlinkat"
POSITIONS = "read,readv,lseek,close,dup,dup2,dup3,fcntl,clone,clone3,fork,vfork,execve,chdir,fchdir"
ITEM_ONE = ",".join((WRITES, SIZES_AND_SYNCS, NAMES))
SYSCALLS = ",".join((ITEM_ONE, POSITIONS))
STRING_LIMIT = 16 * 1024 * 1024  # -s: writes up to 16 MiB in full (docs/TRACING.md, "How long a string")
SOURCES = (
    "untraced",
    "strace-seccomp",
    "strace-no-seccomp",
    "strace-seccomp-item-1-only",
    "python-ptrace",
    "interposer",
)


def strace_flags(syscalls: str) -> list[str]:
    """The flags of the system-call source (docs/TRACING.md): children and threads, paths of
    descriptors, whole write data in hex. Read data is never needed, only its count: raw= prints
    read's buffer as an address instead of 4 characters a byte."""
    flags = ["-f", "-qq", "-y", "-xx", "-s", str(STRING_LIMIT), "-ttt", "-e", f"trace={syscalls}"]
    return [*flags, "-e", "raw=read,readv"]


Recorded = tuple[int, int] | None  # (fsyncs, renames) a source recorded


@dataclass
class Sample:
    wall: float
    cpu: float  # user + sys of every process the run started, tracer included
    trace_bytes: int = 0  # the size of strace's output, for the strace sources


@dataclass
class Source:
    """One way to run the store: `run(data_dir, ops, scratch)` returns the sample and what the
    source recorded, (fsyncs, renames), or None for the untraced run, which records nothing."""

    name: str
    command: str  # what the doc quotes
    run: Callable[[str, int, str], tuple[Sample, Recorded]]
    samples: dict[int, list[Sample]] = field(default_factory=dict)


def spawn(argv: list[str], stdout: str) -> Sample:
    """Run `argv` to the end; its CPU is what wait4 reports (it and every descendant it reaped)."""
    started = time.perf_counter()
    actions = [(os.POSIX_SPAWN_OPEN, 1, stdout, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)]
    actions.append((os.POSIX_SPAWN_OPEN, 2, stdout + ".err", os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644))
    pid = os.posix_spawn(argv[0], argv, os.environ, file_actions=actions)
    _, status, usage = os.wait4(pid, 0)
    wall = time.perf_counter() - started
    if os.waitstatus_to_exitcode(status) != 0:
        raise RunFailed(f"exit status {os.waitstatus_to_exitcode(status)}: {Path(stdout + '.err').read_text()[-500:]}")
    return Sample(wall, usage.ru_utime + usage.ru_stime)


class RunFailed(Exception):
    """A run exited non-zero, saved nothing, or recorded fewer fsyncs/renames than the store made."""


def counted(trace: str) -> tuple[int, int]:
    """(fsyncs, renames) in an strace output file."""
    text = Path(trace).read_text(errors="replace")
    return len(re.findall(r" fsync\(", text)), len(re.findall(r" rename(?:at2?)?\(", text))


def untraced(python: str, script: str) -> Callable[[str, int, str], tuple[Sample, Recorded]]:
    def run(data: str, ops: int, scratch: str) -> tuple[Sample, Recorded]:
        sample = spawn([python, script, data, str(ops)], os.path.join(scratch, "out"))
        return sample, None

    return run


def straced(strace: str, flags: list[str], python: str, script: str):
    def run(data: str, ops: int, scratch: str) -> tuple[Sample, Recorded]:
        trace = os.path.join(scratch, "trace")
        argv = [strace, *flags, "-o", trace, python, script, data]
        sample = spawn([*argv, str(ops)], os.path.join(scratch, "out"))
        sample.trace_bytes = os.path.getsize(trace)
        return sample, counted(trace)

    return run


def interposed(python: str, driver: str):
    def run(data: str, ops: int, scratch: str) -> tuple[Sample, Recorded]:
        out = os.path.join(scratch, "out")
        sample = spawn([python, driver, data, str(ops)], out)
        fsyncs, renames = Path(out).read_text().split()
        return sample, (int(fsyncs), int(renames))

    return run


def ptraced(python: str, script: str):
    def run(data: str, ops: int, scratch: str) -> tuple[Sample, Recorded]:
        # The tracer is this process, as it would be the harness: its own CPU counts too.
        before_self, before_children = (
            resource.getrusage(resource.RUSAGE_SELF),
            resource.getrusage(resource.RUSAGE_CHILDREN),
        )
        started = time.perf_counter()
        calls = ptrace_trace([python, script, data, str(ops)])
        wall = time.perf_counter() - started
        after_self, after_children = (
            resource.getrusage(resource.RUSAGE_SELF),
            resource.getrusage(resource.RUSAGE_CHILDREN),
        )
        cpu = sum(
            getattr(after, f) - getattr(before, f)
            for before, after in ((before_self, after_self), (before_children, after_children))
            for f in ("ru_utime", "ru_stime")
        )
        names = [call[1] for call in calls]
        renames = sum(names.count(name) for name in ("rename", "renameat", "renameat2"))
        return Sample(wall, cpu), (names.count("fsync"), renames)

    return run


# --- the measured python-ptrace candidate: a minimal tracer, not product code -----------------------

PATH_ARGS = {"open": (0,), "openat": (1,), "openat2": (1,), "creat": (0,), "truncate": (0,), "rename": (0, 1)}
PATH_ARGS |= {"renameat": (1, 3), "renameat2": (1, 3), "unlink": (0,), "unlinkat": (1,), "mkdir": (0,)}
PATH_ARGS |= {"mkdirat": (1,), "rmdir": (0,), "link": (0, 1), "linkat": (1, 3), "symlink": (0, 1)}
PATH_ARGS |= {"symlinkat": (0, 2), "chdir": (0,), "execve": (0,)}
VECTORED = {"writev", "pwritev", "pwritev2"}


def ptrace_trace(argv: list[str]) -> list[tuple]:
    """Run `argv` under python-ptrace, following forks, threads and execs; return each call of
    SYSCALLS as (pid, name, args, result, paths, written bytes). Paths are read at entry (execve's
    are gone by its exit), written bytes at exit (only what the kernel took)."""
    from ptrace.debugger import NewProcessEvent, ProcessExecution, ProcessExit, ProcessSignal, PtraceDebugger
    from ptrace.debugger.child import createChild
    from ptrace.func_call import FunctionCallOptions

    wanted = set(SYSCALLS.split(","))
    options = FunctionCallOptions(write_types=False, write_argname=False)
    debugger = PtraceDebugger()
    debugger.traceFork()
    debugger.traceClone()
    debugger.traceExec()
    calls: list[tuple] = []
    entered: dict[int, tuple] = {}

    def prepare(process) -> None:
        process.syscall_state.ignore_callback = lambda syscall: syscall.name not in wanted
        process.syscall()

    try:
        prepare(debugger.addProcess(createChild(argv, no_stdout=True), is_attached=True))
        while debugger:
            try:
                process = debugger.waitSyscall().process
            except ProcessExit:
                continue
            except ProcessSignal as event:
                event.process.syscall(event.signum)
                continue
            except NewProcessEvent as event:
                prepare(event.process)
                event.process.parent.syscall()
                continue
            except ProcessExecution as event:
                event.process.syscall()
                continue
            syscall = process.syscall_state.event(options)
            if syscall is not None and syscall.result is None:  # entry
                args = [argument.value for argument in syscall.arguments]
                paths = [process.readCString(args[i], 4096)[0] for i in PATH_ARGS.get(syscall.name, ())]
                entered[process.pid] = (syscall.name, args, paths)
            elif syscall is not None:  # exit
                name, args, paths = entered.pop(process.pid)
                calls.append(
                    (process.pid, name, args, syscall.result, paths, written(process, name, args, syscall.result))
                )
            process.syscall()
    finally:
        debugger.quit()
    return calls


def written(process, name: str, args: list[int], result: int) -> bytes:
    """The bytes a write-family call wrote: its first `result` bytes of buffer or iovecs."""
    if result <= 0:
        return b""
    if name in ("write", "pwrite64"):
        return process.readBytes(args[1], result)
    if name not in VECTORED:
        return b""
    data, left = [], result
    for index in range(args[2]):
        base = int.from_bytes(process.readBytes(args[1] + 16 * index, 8), "little")
        size = int.from_bytes(process.readBytes(args[1] + 16 * index + 8, 8), "little")
        data.append(process.readBytes(base, min(size, left)))
        left -= min(size, left)
        if not left:
            break
    return b"".join(data)


# --- the table -----------------------------------------------------------------------------------


def sources(python: str, scratch: str) -> tuple[list[Source], list[str]]:
    """Every candidate available here, and a one-line reason for each one skipped."""
    script = os.path.join(scratch, "json_store.py")
    driver = os.path.join(scratch, "json_store_interposed.py")
    Path(script).write_text(STORE)
    Path(driver).write_text(INTERPOSED)
    run_store = f"{python} json_store.py DIR OPS"
    found = [Source("untraced", run_store, untraced(python, script))]
    skipped = []
    strace = shutil.which("strace")
    if strace is None:
        skipped.append("strace-*: no strace on PATH")
    else:
        for name, flags in (
            ("strace-seccomp", ["--seccomp-bpf", *strace_flags(SYSCALLS)]),
            ("strace-no-seccomp", strace_flags(SYSCALLS)),
            # What following file positions costs: the item 1 calls only, no read/lseek/close/...
            ("strace-seccomp-item-1-only", ["--seccomp-bpf", *strace_flags(ITEM_ONE)]),
        ):
            command = f"strace {shlex.join(flags)} -o TRACE {run_store}"
            found.append(Source(name, command, straced(strace, flags, python, script)))
    try:
        import ptrace  # noqa: F401
    except ImportError:
        skipped.append("python-ptrace: the package is not installed (pip install python-ptrace)")
    else:
        found.append(Source("python-ptrace", f"ptrace_trace([{run_store}]) in this process", ptraced(python, script)))
    found.append(Source("interposer", f"{python} json_store_interposed.py DIR OPS", interposed(python, driver)))
    return found, skipped


def measure(chosen: list[Source], ops_list: list[int], runs: int, scratch: str, repro: str) -> None:
    """One warm-up, then `runs` rounds; each round runs every source once, in turn."""
    for ops in ops_list:
        for round_number in range(runs + 1):
            for source in chosen:
                data = tempfile.mkdtemp(prefix=f"{source.name}-{ops}-", dir=scratch)
                try:
                    sample, recorded = source.run(data, ops, scratch)
                    saved = Path(data, "db.json").read_text()
                except (RunFailed, OSError, ValueError) as error:
                    raise RunFailed(f"{source.name}, {ops} ops: {error}\n  repro: {repro}") from error
                finally:
                    shutil.rmtree(data, ignore_errors=True)
                if f'"k{ops - 1}": {ops - 1}' not in saved:
                    raise RunFailed(f"{source.name}, {ops} ops: db.json lacks the last save\n  repro: {repro}")
                if recorded is not None and recorded != (2 * ops, ops):
                    raise RunFailed(
                        f"{source.name}, {ops} ops: recorded {recorded[0]} fsyncs and {recorded[1]} renames, "
                        f"the store made {2 * ops} and {ops}\n  repro: {repro}"
                    )
                if round_number:  # round 0 warms the page cache and the interpreter's .pyc files
                    source.samples.setdefault(ops, []).append(sample)


def table(chosen: list[Source], ops_list: list[int]) -> str:
    rows = [
        "| source | ops | wall min | wall median | CPU min | CPU median | wall / untraced | CPU / untraced | trace |"
    ]
    rows.append("|---|---:|---:|---:|---:|---:|---:|---:|---:|")
    base = chosen[0]
    for ops in ops_list:
        base_wall = statistics.median(s.wall for s in base.samples[ops])
        base_cpu = statistics.median(s.cpu for s in base.samples[ops])
        for source in chosen:
            walls = [s.wall for s in source.samples[ops]]
            cpus = [s.cpu for s in source.samples[ops]]
            rows.append(
                f"| {source.name} | {ops} | {min(walls) * 1000:.0f} ms | {statistics.median(walls) * 1000:.0f} ms "
                f"| {min(cpus) * 1000:.0f} ms | {statistics.median(cpus) * 1000:.0f} ms "
                f"| {statistics.median(walls) / base_wall:.2f}x | {statistics.median(cpus) / base_cpu:.2f}x "
                f"| {kib(statistics.median(s.trace_bytes for s in source.samples[ops]))} |"
            )
    if len(ops_list) > 1:
        low, high = min(ops_list), max(ops_list)
        rows.append(f"CPU per save beyond start-up, (min CPU at {high} ops - min at {low}) / {high - low}:")
        for source in chosen:
            grown = min(s.cpu for s in source.samples[high]) - min(s.cpu for s in source.samples[low])
            rows.append(f"  {source.name}: {grown / (high - low) * 1000:.2f} ms")
    return "\n".join(rows)


def kib(size: float) -> str:
    return f"{size / 1024:.0f} KiB" if size else "-"


def machine() -> str:
    model = next(
        (
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if "model name" in line
        ),
        platform.processor(),
    )
    strace = shutil.which("strace")
    version = subprocess.run([strace, "-V"], capture_output=True, text=True).stdout.split("\n")[0] if strace else "none"
    try:
        from importlib.metadata import version as package_version

        ptrace_version = package_version("python-ptrace")
    except Exception:
        ptrace_version = "absent"
    return (
        f"{model}, {os.cpu_count()} cores, Linux {platform.release()}, Python {platform.python_version()}, "
        f"{version}, python-ptrace {ptrace_version}, load average {os.getloadavg()[0]:.1f}"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=5, help="counted runs of each source (at least 5)")
    parser.add_argument("--ops", default="10,80", help="comma-separated workload sizes (saves)")
    parser.add_argument("--sources", default="", help="comma-separated subset (untraced always runs)")
    args = parser.parse_args(argv)
    if args.runs < 5:
        parser.error("--runs must be at least 5: a median of fewer says little on a shared machine")
    try:
        ops_list = [int(ops) for ops in args.ops.split(",")]
    except ValueError:
        parser.error(f"--ops must be comma-separated integers, got {args.ops!r}")
    if any(ops < 1 for ops in ops_list):
        parser.error("--ops must be positive")
    wanted = {"untraced", *filter(None, args.sources.split(","))} if args.sources else set(SOURCES)
    if not wanted <= set(SOURCES):
        parser.error(f"--sources: unknown {sorted(wanted - set(SOURCES))}; known: {', '.join(SOURCES)}")
    python = sys.executable
    # tmpfs when there is one: fsync is then nearly free, and what is left to compare is the tracing.
    with tempfile.TemporaryDirectory(
        prefix="tornwrite-trace-bench-", dir="/dev/shm" if os.path.isdir("/dev/shm") else None
    ) as scratch:
        available, skipped = sources(python, scratch)
        chosen = [source for source in available if source.name in wanted]
        repro = shlex.join([python, "-m", "tests.bench_trace_sources", *(argv if argv is not None else sys.argv[1:])])
        print(machine())
        print(f"data on {scratch}; {args.runs} counted runs after one warm-up, sources interleaved")
        for line in skipped:
            print(f"skipped {line}")
        try:
            measure(chosen, ops_list, args.runs, scratch, repro)
        except RunFailed as error:
            print(f"FAIL {error}")
            return 1
        print(table(chosen, ops_list))
        print("commands (DIR a fresh directory, OPS the saves):")
        for source in chosen:
            print(f"  {source.name}: {source.command}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
