"""Program crash-test speed (`make bench`): crash states per second for small JSON stores.

The issue's goal: a 10-operation workload of a small JSON store, up to about 100 traced steps,
fully explored (process kills and power states) in 10 s or less on 2 cores. Never asserted:
these machines are shared and noisy; the load average is printed with the numbers.

    python -m tests.bench_program
"""

from __future__ import annotations

import os
import shutil
import tempfile
import time
from pathlib import Path

from tornwrite.faultinject.program import install
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


def bench(spec: str) -> str:
    base = tempfile.mkdtemp(prefix="tornwrite-bench-", dir="/dev/shm" if os.path.isdir("/dev/shm") else None)
    previous = install.install(base)
    try:
        target = load(spec)
        lines = []
        for kinds in (("process",), ("power",), KINDS):
            started = time.perf_counter()
            run = crash_test(target, Options(kinds), os.path.join(base, "-".join(kinds)), lambda *a, **k: None)
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


def main() -> None:
    print(f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
    with tempfile.TemporaryDirectory() as scratch:
        journalled = os.path.join(scratch, "journalled_json.py")
        Path(journalled).write_text(JOURNALLED)
        for name, spec in (
            ("journalled JSON store, 10 ops", journalled),
            ("safe_json.py, 10 ops", str(EXAMPLES / "safe_json.py")),
            ("engine_store.py, 10 ops", str(EXAMPLES / "engine_store.py")),
            ("append_log.py, 6 ops, with resume (later lives)", str(EXAMPLES / "append_log.py")),
        ):
            print(name)
            print(bench(spec))


if __name__ == "__main__":
    main()
