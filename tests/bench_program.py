"""Program crash-test speed (`make bench`): crash states per second, end-to-end times, scaling.

Goals (issue 16), never asserted: these machines are shared and noisy; the load average is
printed with the numbers.
- a 10-op JSON store fully explored, report included, in 5 s or less end to end (`tornwrite
  program` as a user runs it, interpreter start-up included), under each trace source;
- safe_json.py at 80 ops costs at most 4x its 20-op run (the scaling table, ops 5 to 80);
- drawing the figures takes under 1 s (`--no-figures` skips them).
The cost of each trace source against an untraced run is tests/bench_trace_sources.py's table.

    python -m tests.bench_program
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from tornwrite.faultinject.program import install, report
from tornwrite.faultinject.program.run import KINDS, Options, crash_test
from tornwrite.faultinject.program.target import load

EXAMPLES = Path(__file__).resolve().parent.parent / "docs" / "examples"

# A small JSON store with a journal: each op appends to the journal and fsyncs it, then saves
# the whole document by the atomic-replace recipe in two writes: 9 steps an op, 90 in all.
JOURNALLED = """
import json, os

def fsync_dir(path):
    fd = os.open(path, os.O_RDONLY)
    os.fsync(fd)
    os.close(fd)

def workload(path, ack):
    data = {}
    for i in range(10):
        with open(os.path.join(path, "journal"), "a") as j:
            j.write(f"set k{i}\\n")
            j.flush()
            os.fsync(j.fileno())
        data[f"k{i}"] = i
        body = json.dumps(data)
        with open(os.path.join(path, "db.json.tmp"), "w") as f:
            f.write(body[: len(body) // 2])
            f.flush()
            f.write(body[len(body) // 2 :])
            f.flush()
            os.fsync(f.fileno())
        os.replace(os.path.join(path, "db.json.tmp"), os.path.join(path, "db.json"))
        fsync_dir(path)
        ack(f"k{i}")

def recover(path):
    try:
        with open(os.path.join(path, "db.json")) as f:
            return json.load(f)
    except FileNotFoundError:
        return {}

def check(state, acked):
    missing = [k for k in acked if k not in state]
    assert not missing, f"lost acked keys {missing}"
"""


def bench(spec: str, trace: str = "syscall") -> str:
    base = tempfile.mkdtemp(prefix="tornwrite-bench-", dir="/dev/shm" if os.path.isdir("/dev/shm") else None)
    previous = install.install(base)
    try:
        target = load(spec)
        lines = []
        for kinds in (("process",), ("power",), KINDS):
            started = time.perf_counter()
            options = Options(kinds, kill=0, trace=trace)
            run = crash_test(target, options, os.path.join(base, "-".join(kinds)), lambda *a, **k: None)
            elapsed = time.perf_counter() - started
            lived = sum(1 for result in run.results if result.life)
            lines.append(
                f"  {'+'.join(kinds):14} {len(run.trace.steps):4} steps {len(run.results):6} states "
                f"({run.judged} judged) {elapsed:6.2f} s  {len(run.results) / elapsed:8.0f} states/s"
                + (f"  ({lived} of them in later lives)" if lived else "")
            )
        return "\n".join(lines)
    finally:
        install.uninstall(previous)
        shutil.rmtree(base, ignore_errors=True)


def end_to_end(spec: str, scratch: str, *options: str) -> tuple[float, str]:
    """(wall seconds, the verdict line) of `tornwrite program SPEC` as a user runs it."""
    out = os.path.join(scratch, f"out-{time.monotonic_ns()}")
    started = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-m", "tornwrite.faultinject", "program", spec, "--out", out, "--quiet", *options],
        capture_output=True,
        text=True,
    )
    elapsed = time.perf_counter() - started
    lines = [line for line in done.stdout.splitlines() if line.startswith(("every state ok", "FAIL", "NO VERDICT"))]
    return elapsed, (lines[-1] if lines else f"exit {done.returncode}: {done.stderr.strip()[-200:]}")


def scaled(scratch: str, ops: int) -> str:
    """safe_json.py with OPS = `ops`, as a target file of its own."""
    path = os.path.join(scratch, f"safe_json_{ops}.py")
    Path(path).write_text(
        f"import sys\nsys.path.append({str(EXAMPLES)!r})\nimport safe_json\nsafe_json.OPS = {ops}\n"
        "from safe_json import check, recover, workload  # noqa: F401\n"
    )
    return path


def figures_time(spec: str) -> float:
    """Seconds to draw one run's crash map (what --no-figures saves)."""
    base = tempfile.mkdtemp(prefix="tornwrite-bench-", dir="/dev/shm" if os.path.isdir("/dev/shm") else None)
    try:
        run = crash_test(load(spec), Options(kill=0, trace="syscall"), base, lambda *a, **k: None)
        started = time.perf_counter()
        report.crash_map(run, os.path.join(base, "map.png"))
        return time.perf_counter() - started
    finally:
        shutil.rmtree(base, ignore_errors=True)


def main() -> None:
    print(f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
    with tempfile.TemporaryDirectory() as scratch:
        journalled = os.path.join(scratch, "journalled_json.py")
        Path(journalled).write_text(JOURNALLED)
        print("end to end, `tornwrite program` as a user runs it (interpreter start-up and report included):")
        for trace in ("syscall", "python"):
            for figures in ((), ("--no-figures",)):
                elapsed, verdict = end_to_end(journalled, scratch, "--trace", trace, *figures)
                label = f"journalled JSON store, 10 ops, --trace {trace} {' '.join(figures)}"
                print(f"  {label:64} {elapsed:6.2f} s  {verdict}")
        print(f"  drawing the crash map alone: {figures_time(journalled):.2f} s")
        print("scaling, safe_json.py under --trace syscall, process + power, --kill 0 (wall, in-process):")
        timings = {}
        for ops in (5, 10, 20, 40, 80):
            base = tempfile.mkdtemp(prefix="tornwrite-bench-", dir="/dev/shm" if os.path.isdir("/dev/shm") else None)
            try:
                started = time.perf_counter()
                run = crash_test(
                    load(scaled(scratch, ops)), Options(kill=0, trace="syscall"), base, lambda *a, **k: None
                )
                timings[ops] = time.perf_counter() - started
            finally:
                shutil.rmtree(base, ignore_errors=True)
            print(f"  {ops:3} ops {len(run.trace.steps):5} steps {len(run.results):7} states {timings[ops]:7.2f} s")
        print(f"  80 ops cost {timings[80] / timings[20]:.2f}x the 20-op run (goal: at most 4x)")
        for name, spec in (
            ("journalled JSON store, 10 ops", journalled),
            ("safe_json.py, 10 ops", str(EXAMPLES / "safe_json.py")),
            ("engine_store.py, 10 ops", str(EXAMPLES / "engine_store.py")),
            ("append_log.py, 6 ops, with resume (later lives)", str(EXAMPLES / "append_log.py")),
        ):
            for trace in ("syscall", "python"):
                print(f"{name}, --trace {trace}")
                print(bench(spec, trace))


if __name__ == "__main__":
    main()
