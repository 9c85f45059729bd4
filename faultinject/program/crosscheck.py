"""The cross-check: each bug-zoo mutant, run as an ordinary program through the interposer, is
caught by the same fault kinds that catch it through the engine's own I/O hooks.

The engine target here drives a campaign workload through `Store`'s public API (no I/O hook of
the engine is used) and judges each crash state with the campaign's own op model, so the only
difference from the campaign is how the crash states are found: the interposer's trace instead
of the engine's labelled I/O layer. The campaign's verdict is each mutant's `caught_by`, which
`make mutants` verifies. Like the campaign, the target has a reader: `observe` reads the store
the crashing workload keeps at each crash point (the campaign's observer, core/observe.py), and
the power kind restarts after a process crash and loses power during and after that recovery
(program/restart.py; the campaign's core/restart.py). A mutant caught by one path and missed by
the other is a bug in one of them: the run says DISAGREE and exits 1.

    python -m tornwrite.faultinject.program.crosscheck [--mutant NAME ...] [--ops N]
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
from dataclasses import dataclass

from tornwrite.engine import Store
from tornwrite.faultinject.core.execution import FakeClock, apply, clock_after
from tornwrite.faultinject.core.observe import newest_visible
from tornwrite.faultinject.core.verdicts import judge, recover_directory
from tornwrite.faultinject.core.workloads import Workload, build
from tornwrite.faultinject.program import interposer, replay
from tornwrite.faultinject.program.judge import LostAck
from tornwrite.faultinject.program.run import KINDS, Options, crash_test
from tornwrite.faultinject.program.target import Target, of
from tornwrite.faultinject.zoo import mutants
from tornwrite.models.checker import Oracle

WORKLOAD = "snapshot-heavy"  # snapshots, WAL rotation, hashes and TTLs: where the zoo's bugs live
OPS = 16
SEEN = "seen"  # the reader's token: [SEEN, the newest op it saw]
LONGER = {"replay-covered-records": 40}  # needs a snapshot to cover records already replayed


@dataclass
class EngineProgram:
    """The engine as a target: a campaign workload through the public API, judged by the op model."""

    workload_spec: Workload
    store: Store | None = None  # the workload's store, for the reader (set in the crashing child only)

    def workload(self, path: str, ack) -> None:
        clock = FakeClock(self.workload_spec.start_time)
        self.store = Store.open(os.path.join(path, "db"), clock=clock)  # left open: the run ends in a crash
        for index, op in enumerate(self.workload_spec.ops, start=1):
            apply(self.store, op, clock)
            ack(index)

    def observe(self, path: str, ack) -> None:
        """The campaign's reader (core/observe.py): the newest op whose value it sees must survive."""
        newest = newest_visible(self.store, self.workload_spec.keys) if self.store is not None else 0
        if newest:
            ack([SEEN, newest])

    def recover(self, path: str) -> dict:
        """The engine's own recovery runs here, on `path`, so that its repairs are traced (a restart's
        steps); the files as they were before it are judged in check, which knows the acks (so the clock)."""
        image = replay.image_of(path)
        directory = os.path.join(path, "db")
        if os.path.isdir(directory):
            Store.open(directory, clock=FakeClock(self.workload_spec.start_time)).close()
        return image

    def check(self, image: dict, acked: list) -> None:
        done = sum(1 for token in acked if isinstance(token, int))
        observed = max((token[1] for token in acked if isinstance(token, list)), default=0)
        scratch = tempfile.mkdtemp(dir=interposer.INTERPOSER.base)
        try:
            replay.materialise(image, scratch)
            now = clock_after(self.workload_spec, done)
            recovered = recover_directory(os.path.join(scratch, "db"), now)
            oracle = Oracle(list(self.workload_spec.ops), self.workload_spec.start_time)
            in_flight = done < len(self.workload_spec.ops)
            verdict = judge(oracle, recovered, acked=done, in_flight=in_flight, check_time=now, observed=observed)
        finally:
            shutil.rmtree(scratch, ignore_errors=True)
        if verdict.outcome == "lost-acked-write":
            raise LostAck(verdict.detail)
        assert verdict.outcome == "ok", f"{verdict.outcome}: {verdict.detail}"


def engine_target(workload: str = WORKLOAD, seed: int = 0, ops: int = OPS) -> Target:
    return of(EngineProgram(build(workload, seed, ops)), f"engine:{workload}", "engine")


def caught(mutant: str | None, base: str, *, ops: int = OPS) -> set[str]:
    """The kinds that find a failure in the engine (under `mutant`) run as an ordinary program."""
    with mutants.active(mutant):  # the forked children inherit the mutated engine
        run = crash_test(engine_target(ops=ops), Options(KINDS), base, lambda *a, **k: None)
    return {r.kind for r in run.failures}


def expected(mutant: str) -> set[str]:
    return set(mutants.MUTANTS[mutant].caught_by) & set(KINDS)


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m tornwrite.faultinject.program.crosscheck")
    parser.add_argument("--mutant", action="append", choices=sorted(mutants.MUTANTS))
    parser.add_argument("--ops", type=int, default=OPS, help=f"workload length (default {OPS}; longer where needed)")
    args = parser.parse_args(argv)
    names = args.mutant or [n for n in mutants.MUTANTS if expected(n)]
    disagreements = 0
    base = tempfile.mkdtemp(prefix="tornwrite-cross-", dir="/dev/shm" if os.path.isdir("/dev/shm") else None)
    previous = interposer.install(base)
    try:
        for name in [None, *names]:
            ops = args.ops if args.ops != OPS else LONGER.get(name or "", OPS)
            found = caught(name, os.path.join(base, name or "real"), ops=ops)
            want = expected(name) if name else set()
            agree = found == want
            disagreements += not agree
            verdict = "ok" if agree else "DISAGREE"
            print(
                f"{name or '(real engine)':30} {ops:3} ops  campaign {sorted(want)!s:20} interposer "
                f"{sorted(found)!s:20} {verdict}",
                flush=True,
            )
    finally:
        interposer.uninstall(previous)
        shutil.rmtree(base, ignore_errors=True)
    return 1 if disagreements else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
