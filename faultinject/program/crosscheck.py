"""The cross-check: each bug-zoo mutant, run as an ordinary program through the interposer, is
caught by the same fault kinds that catch it through the engine's own I/O hooks.

The engine target here drives a campaign workload through `Store`'s public API (no I/O hook of
the engine is used) and judges each crash state with the campaign's own op model, so the only
difference from the campaign is how the crash states are found: the interposer's trace instead
of the engine's labelled I/O layer. The campaign's verdict is each mutant's `caught_by`, which
`make mutants` verifies. Like the campaign, the target has a reader: `observe` reads the store
the crashing workload keeps at each crash point (the campaign's observer, core/observe.py), and
the power kind restarts after a process crash and loses power during and after that recovery
(program/restart.py; the campaign's core/restart.py), and `resume` carries the workload on in
later lives (program/lives.py; the campaign's core/generations.py). A mutant caught by one path
and missed by the other is a bug in one of them: the run says DISAGREE and exits 1.

    python -m tornwrite.faultinject.program.crosscheck [--mutant NAME ...] [--ops N]
"""

from __future__ import annotations

import argparse
import itertools
import os
import shutil
import sys
import tempfile
from dataclasses import dataclass

from tornwrite.engine import Store
from tornwrite.faultinject.core.execution import FakeClock, apply, clock_after
from tornwrite.faultinject.core.observe import newest_visible
from tornwrite.faultinject.core.verdicts import judge, recover_directory, silence_recovery_warnings
from tornwrite.faultinject.core.workloads import Workload, build
from tornwrite.faultinject.program import install, interposer, replay
from tornwrite.faultinject.program.judge import LostAck
from tornwrite.faultinject.program.run import KINDS, Options, crash_test
from tornwrite.faultinject.program.target import Target, of
from tornwrite.faultinject.zoo import mutants
from tornwrite.models.checker import Oracle, Verdict

WORKLOAD = "snapshot-heavy"  # snapshots, WAL rotation, hashes and TTLs: where the zoo's bugs live
OPS = 16
SEEN = "seen"  # the reader's token: [SEEN, the newest op it saw]
LIFE = "life"  # a later life's first token: [LIFE, the first op it runs]
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

    def resume(self, path: str, ack, acked: list) -> None:
        """A later life (program/lives.py): carry on after the last op the lives so far reached, like the
        campaign's core/generations.py. The op in flight at the crash is not retried: whether it happened
        is unknown. The first token names where this life starts."""
        first = min(_reached(acked) + 2, len(self.workload_spec.ops) + 1)  # past the end: nothing left to run
        ack([LIFE, first])
        clock = FakeClock(clock_after(self.workload_spec, first - 1))
        self.store = Store.open(os.path.join(path, "db"), clock=clock)  # left open: the life ends in a crash
        for index in range(first, len(self.workload_spec.ops) + 1):
            apply(self.store, self.workload_spec.ops[index - 1], clock)
            ack(index)

    def recover(self, path: str) -> dict:
        """The engine's own recovery runs here, on `path`, so that its repairs are traced (a restart's
        steps); the files as they were before it are judged in check, which knows the acks (so the clock)."""
        image = replay.image_of(path)
        directory = os.path.join(path, "db")
        if os.path.isdir(directory):
            Store.open(directory, clock=FakeClock(self.workload_spec.start_time)).close()
        return image

    def check(self, image: dict, acked: list) -> None:
        """Judge with the campaign's op model. Ops acked are done; the op each earlier life had in flight
        (skipped by the next) may or may not have happened, so every way they may have gone is tried."""
        reached = _reached(acked)
        done = {token for token in acked if isinstance(token, int)}
        unknown = sorted(set(range(1, reached + 1)) - done)
        observed = max((token[1] for token in acked if isinstance(token, list) and token[0] == SEEN), default=0)
        now = clock_after(self.workload_spec, reached)
        scratch = tempfile.mkdtemp(dir=interposer.INTERPOSER.base)
        try:
            replay.materialise(image, scratch)
            recovered = recover_directory(os.path.join(scratch, "db"), now)
            verdicts = []
            for happened in itertools.product((True, False), repeat=len(unknown)):
                skipped = {op for op, yes in zip(unknown, happened) if not yes}
                verdicts.append(self._judge(recovered, reached, observed, now, skipped))
        finally:
            shutil.rmtree(scratch, ignore_errors=True)
        if any(verdict.outcome == "ok" for verdict in verdicts):
            return
        verdict = verdicts[0]  # the history in which every op in flight happened
        if verdict.outcome == "lost-acked-write":
            raise LostAck(verdict.detail)
        raise AssertionError(f"{verdict.outcome}: {verdict.detail}")

    def _judge(self, recovered, reached: int, observed: int, now: float, skipped: set[int]):
        """The campaign's verdict on `recovered`, for the history without the ops in `skipped`."""
        ops = self.workload_spec.ops
        kept = [index for index in range(1, len(ops) + 1) if index not in skipped]
        if observed in skipped:  # the reader saw what this history says never happened
            return Verdict("lost-acked-write", f"the reader saw op {observed}, which this history skips")
        oracle = Oracle([ops[index - 1] for index in kept], self.workload_spec.start_time)
        acked = sum(1 for index in kept if index <= reached)
        seen = sum(1 for index in kept if index <= observed)
        in_flight = reached < len(ops)
        return judge(oracle, recovered, acked=acked, in_flight=in_flight, check_time=now, observed=seen)


def _reached(acked: list) -> int:
    """The last op the lives so far reached: the newest op acked, or the one before the newest life's start."""
    reached = 0
    for token in acked:
        if isinstance(token, int):
            reached = token
        elif isinstance(token, list) and token[0] == LIFE:
            reached = token[1] - 1
    return reached


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
    silence_recovery_warnings()  # the op model judges what recovery kept
    disagreements = 0
    base = tempfile.mkdtemp(prefix="tornwrite-cross-", dir="/dev/shm" if os.path.isdir("/dev/shm") else None)
    previous = install.install(base)
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
        install.uninstall(previous)
        shutil.rmtree(base, ignore_errors=True)
    return 1 if disagreements else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
