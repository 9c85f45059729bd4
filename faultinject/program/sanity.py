"""`--kill N`: real SIGKILLs at seeded random moments of an uninstrumented run.

Each kill runs the workload in a fresh interpreter that never loads the interposer
(uninstrumented.py), waits a random time drawn from the length of an unkilled run, and kills
it. If these kills find a failure the traced crash points miss, the interposer changed the
program's behaviour: the sanity check this exists for. The moments are seeded; where they land
in the program depends on timing, so the states found vary a little from run to run.
"""

from __future__ import annotations

import json
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass

from tornwrite.faultinject.program import replay
from tornwrite.faultinject.program.judge import Verdict, judge
from tornwrite.faultinject.program.target import Target, TargetError

CHILD_TIMEOUT = 60.0


@dataclass(frozen=True)
class Kill:
    number: int
    description: str
    acked: list
    verdict: Verdict
    sizes: dict


def random_kills(target: Target, template: str, count: int, seed: int) -> Iterator[Kill]:
    """`count` kills at random moments; the first, unkilled run measures how long the workload takes.

    The runs use the temporary directory's own file system (not tmpfs): there fsync takes as
    long as it really does, and a kill is as likely to land during one as in real life."""
    rng = random.Random(f"{seed}/kill")
    scratch = os.path.join(tempfile.mkdtemp(prefix="tornwrite-kill-"), "data")
    try:
        _, _, duration = _run(target, template, scratch, None)
        for number in range(count):
            delay = rng.uniform(0, duration)
            killed, acked, _ = _run(target, template, scratch, delay)
            description = (
                f"real SIGKILL {delay * 1000:.2f} ms into a {duration * 1000:.2f} ms run"
                if killed
                else f"the run ended before its kill at {delay * 1000:.2f} ms"
            )
            verdict = judge(target, scratch, acked)
            yield Kill(number, description, acked, verdict, replay.sizes(replay.image_of(scratch)))
    finally:  # also when the caller stops early
        shutil.rmtree(os.path.dirname(scratch), ignore_errors=True)


def _run(target: Target, template: str, scratch: str, delay: float | None) -> tuple[bool, list, float]:
    """(killed, acked tokens, seconds from start to finish or kill) of one uninstrumented run."""
    shutil.rmtree(scratch, ignore_errors=True)
    shutil.copytree(template, scratch, symlinks=True)
    child = subprocess.Popen(
        [sys.executable, "-m", "tornwrite.faultinject.program.uninstrumented", target.spec, scratch],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        cwd=os.getcwd(),
    )
    assert child.stdout is not None and child.stderr is not None
    first = child.stdout.readline()
    started = time.perf_counter()
    if first != b"S\n":
        child.kill()
        child.wait()
        raise TargetError(f"the uninstrumented child failed to start: {child.stderr.read().decode()[-2000:]}")
    killed = False
    if delay is not None:
        while time.perf_counter() - started < delay:  # a busy wait: sleep() is too coarse for sub-ms moments
            pass
        killed = child.poll() is None
        child.send_signal(signal.SIGKILL)  # a no-op when the run ended first (poll reaped it)
    out, err = child.communicate(timeout=CHILD_TIMEOUT)
    elapsed = time.perf_counter() - started
    lines = out.decode().splitlines()
    if delay is None and "D" not in lines:
        raise TargetError(f"the uninstrumented workload failed: {err.decode()[-2000:]}")
    acked = [json.loads(line[2:]) for line in lines if line.startswith("A ")]
    return killed and "D" not in lines, acked, elapsed
