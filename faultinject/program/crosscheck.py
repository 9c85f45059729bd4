"""The cross-check: each bug-zoo mutant, run as an ordinary program through each trace source, is
caught by the same fault kinds that catch it through the engine's own I/O hooks.

The engine target (engine_target.py) drives a campaign workload through `Store`'s public API (no
I/O hook of the engine is used) and judges each crash state with the campaign's own op model, so
the only difference from the campaign is how the crash states are found: a trace source's trace
(the Python interposer's, or the system-call source's: strace on a fresh interpreter that loads
the target by its spec string) instead of the engine's labelled I/O layer. The campaign's verdict
is each mutant's `caught_by`, which `make mutants` verifies. A mutant caught by one path and
missed by another is a bug in one of them: the run says DISAGREE and exits 1. So does a
system-call trace known to be incomplete (its failures would be unconfirmed).

    python -m tornwrite.faultinject.program.crosscheck [--mutant NAME ...] [--ops N]
        [--trace syscall|python|both] [--kill N] [--lives]
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time
from dataclasses import dataclass

from tornwrite.faultinject.core.verdicts import silence_recovery_warnings
from tornwrite.faultinject.program import engine_target, install, syscall_source
from tornwrite.faultinject.program.run import KINDS, Options, crash_test
from tornwrite.faultinject.program.target import of
from tornwrite.faultinject.zoo import mutants

WORKLOAD = "snapshot-heavy"  # the real engine's (a mutant runs under its own `workload`, as in `make mutants`)
OPS = 16
SEED = 0
LONGER = {"replay-covered-records": 40}  # needs a snapshot to cover records already replayed
# Later lives cost a fork each through the interposer but a traced interpreter each through the
# system-call source (hundreds a run, minutes at 16 ops): there they run by default only for the
# mutant only a later life shows (--lives: for every run).
LIVES_NEEDED = frozenset({"torn-tail-left-in-place"})
SOURCES = ("python", "syscall")


@dataclass(frozen=True)
class Caught:
    """What one source's run of the engine target found."""

    kinds: frozenset[str]  # the kinds (process, power) with a failing state
    complete: bool  # the trace saw all the I/O (else its failures are unconfirmed)
    seconds: float


def caught(
    mutant: str | None, base: str, *, ops: int = OPS, trace: str = "python", kill: int | None = 0, lives: bool = True
) -> Caught:
    """The kinds that find a failure in the engine (under `mutant`) run as an ordinary program
    through trace source `trace`; `kill` real kills besides (None: the source's default); `lives`:
    the target defines resume(), so power states live on (lives.py)."""
    started = time.monotonic()
    workload = mutants.MUTANTS[mutant].workload if mutant else WORKLOAD  # the campaign's, for `make mutants`
    target = of(engine_target.program(workload, SEED, ops, lives), engine_target.SPEC, "engine")
    # The parent's mutant serves its forked children (interposer) and its own recover()/check();
    # the environment names it to the system-call source's fresh interpreter, which activates it.
    with mutants.active(mutant), engine_target.environment(workload, SEED, ops, lives, mutant):
        run = crash_test(target, Options(KINDS, kill=kill, trace=trace), base, lambda *a, **k: None)
    kinds = frozenset(r.kind for r in run.failures) & set(KINDS)
    return Caught(kinds, run.trace.complete, time.monotonic() - started)


def expected(mutant: str) -> set[str]:
    return set(mutants.MUTANTS[mutant].caught_by) & set(KINDS)


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m tornwrite.faultinject.program.crosscheck")
    parser.add_argument("--mutant", action="append", choices=sorted(mutants.MUTANTS))
    parser.add_argument("--ops", type=int, default=OPS, help=f"workload length (default {OPS}; longer where needed)")
    parser.add_argument("--trace", choices=(*SOURCES, "both"), default="both", help="trace source(s) (default both)")
    parser.add_argument("--lives", action="store_true", help="later lives in every system-call run too")
    parser.add_argument("--kill", type=int, default=0, help="real kills per run besides the crash points (default 0)")
    args = parser.parse_args(argv)
    if args.ops < 1 or args.kill < 0:
        parser.error("--ops must be at least 1 and --kill at least 0")
    sources = SOURCES if args.trace == "both" else (args.trace,)
    if "syscall" in sources and syscall_source.probe() is not None:
        print(f"crosscheck: --trace {args.trace}: {syscall_source.probe()}", file=sys.stderr)
        return 2
    names = args.mutant or [n for n in mutants.MUTANTS if expected(n)]
    silence_recovery_warnings()  # the op model judges what recovery kept
    disagreements = 0
    base = tempfile.mkdtemp(prefix="tornwrite-cross-", dir="/dev/shm" if os.path.isdir("/dev/shm") else None)
    previous = install.install(base)
    print(f"{'mutant':30} ops  {'engine hooks':20} " + " ".join(f"{s:20}" for s in sources), flush=True)
    try:
        for name in [None, *names]:
            ops = args.ops if args.ops != OPS else LONGER.get(name or "", OPS)
            want = expected(name) if name else set()
            columns, agree = [], True
            for source in sources:
                lives = source == "python" or args.lives or name in LIVES_NEEDED
                where = os.path.join(base, f"{name or 'real'}.{source}")
                found = caught(name, where, ops=ops, trace=source, kill=args.kill, lives=lives)
                agree = agree and found.kinds == want and found.complete
                notes = ("" if found.complete else " incomplete") + (" +lives" if lives and source == "syscall" else "")
                columns.append(f"{sorted(found.kinds)!s} {found.seconds:.0f}s{notes}")
            disagreements += not agree
            print(
                f"{name or '(real engine)':30} {ops:3}  {sorted(want)!s:20} "
                + " ".join(f"{c:20}" for c in columns)
                + f" {'AGREE' if agree else 'DISAGREE'}",
                flush=True,
            )
    finally:
        install.uninstall(previous)
        shutil.rmtree(base, ignore_errors=True)
    return 1 if disagreements else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
