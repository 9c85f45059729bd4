"""python -m tornwrite.faultinject program TARGET: crash-test a program's files, in any language.

Exit status:
  0  every crash state is ok, and the trace is complete;
  1  a failure the harness stands behind (from a complete trace, or confirmed by a real kill);
  2  a usage error: bad arguments, a target that breaks the contract, a trace source that cannot
     run here when asked for by name, or a workload that changed no file in its directory;
  3  no verdict: the run knows its trace missed I/O, and no failure was confirmed.
Where the report and --junit go is checked before the run (faultinject/outdir.py).
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import sys
import tempfile

from tornwrite.faultinject import outdir
from tornwrite.faultinject.program import install, sources
from tornwrite.faultinject.program.run import (
    BLIND_KILLS,
    CONFIRM_KILLS,
    KINDS,
    Options,
    ProgramRun,
    Progress,
    crash_test,
)
from tornwrite.faultinject.program.syscall_source import DEFAULT_TIMEOUT
from tornwrite.faultinject.program.target import CONTRACT, TargetError, load

SCRATCH_PARENT = "/dev/shm"  # tmpfs: a process crash keeps the page cache, so fsync need not cost anything


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="tornwrite program",
        description="Crash a program at every durable file step (process kill and power loss) and judge "
        "each crash state with its own recover() and check().",
        epilog="A target is a Python file or module defining:\n\n" + CONTRACT + "\n\nExit status: 0 every state ok, "
        "1 a state failed, 2 usage error, 3 no verdict.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("target", help="path/to/target.py or package.module[:attribute] (setup/workload/recover/check)")
    p.add_argument("--kinds", type=_kinds, default=KINDS, help="comma-separated: process,power (default: both)")
    p.add_argument(
        "--trace",
        choices=("syscall", "python"),
        help="trace source: syscall (strace: the whole process tree, any language; the default where ptrace "
        "is permitted) or python (the interposer: Python-level file calls only)",
    )
    p.add_argument(
        "--kill",
        type=int,
        metavar="N",
        help=f"N real kills at seeded random moments (default: {CONFIRM_KILLS} under --trace syscall to "
        f"confirm the model, {BLIND_KILLS} when the trace is incomplete, else 0)",
    )
    p.add_argument(
        "--timeout", type=float, default=DEFAULT_TIMEOUT, metavar="S", help="seconds a traced run may take (60)"
    )
    p.add_argument("--seed", type=int, default=0)
    p.add_argument(
        "--out",
        help="report directory: new, empty or an earlier run's (default: reports/program/<target name>)",
    )
    p.add_argument("--junit", metavar="FILE", help="also write JUnit XML: a testcase per kind")
    p.add_argument("--force", action="store_true", help="let --junit replace an existing file")
    p.add_argument(
        "--explain",
        nargs="?",
        const="first",
        metavar="STEP:PHASE[:STATE]",
        help="narrate one crash state (default: the first failing one) step by step; STATE rN: the Nth power "
        "state after a restart's recovery; N-lifeG: later life G after power state N",
    )
    p.add_argument(
        "--shard", type=_shard, metavar="I/N", help="judge only every N-th crash point from the I-th; then `merge`"
    )
    p.add_argument("--quiet", action="store_true", help="no progress lines")
    p.add_argument("--no-figures", action="store_true", help="skip the crash map (summary.md and results.json only)")
    return p


def _shard(text: str) -> tuple[int, int]:
    index, _, count = text.partition("/")
    if not (index.isdigit() and count.isdigit() and 1 <= int(index) <= int(count)):
        raise argparse.ArgumentTypeError(f"a shard is i/n with 1 <= i <= n, such as 2/4, not {text!r}")
    return int(index), int(count)


def _kinds(text: str) -> tuple[str, ...]:
    kinds = tuple(k for k in text.split(",") if k)
    for kind in kinds:
        if kind not in KINDS:
            raise argparse.ArgumentTypeError(f"unknown kind {kind!r}; choose from {', '.join(KINDS)}")
    return kinds


STATE = re.compile(r"r?\d+|\d+-life\d+")


def _point(text: str) -> tuple[int, str, str]:
    """STEP:PHASE[:STATE]; STATE `rN`: the Nth power state after a restart's recovery (restart.py);
    `N-lifeG`: the crash of later life G after power state N (lives.py)."""
    parts = text.split(":")
    state = parts[2] if len(parts) == 3 else "0"
    if (
        len(parts) not in (2, 3)
        or not parts[0].isdigit()
        or parts[1] not in ("before", "after")
        or not STATE.fullmatch(state)
    ):
        raise ValueError(
            f"--explain takes STEP:PHASE[:STATE], e.g. 7:after:3, 7:after:r2 or 7:after:3-life1, not {text!r}"
        )
    return int(parts[0]), parts[1], state


def main(argv: list[str]) -> int:
    try:
        args = parser().parse_args(argv)
    except SystemExit as exit:  # argparse's usage errors exit 2 and --help exits 0: return them instead
        return int(exit.code or 0)
    try:
        point = _point(args.explain) if args.explain not in (None, "first") else None
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if point is not None and len(args.kinds) != 1:
        print("error: --explain STEP:PHASE:STATE needs one --kinds (process or power)", file=sys.stderr)
        return 2
    if not args.kinds and not args.kill:
        print("error: nothing to do: give --kinds or --kill", file=sys.stderr)
        return 2
    if args.kill is not None and args.kill < 0 or args.timeout <= 0:
        print("error: --kill takes a count >= 0 and --timeout a positive number of seconds", file=sys.stderr)
        return 2
    if args.shard and (args.kill or point is not None):
        print("error: --shard splits the traced crash points: run --kill and --explain unsharded", file=sys.stderr)
        return 2
    try:
        source, note = sources.choose(args.trace)
    except TargetError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if note:
        print(f"note: {note}", file=sys.stderr)
    kill = 0 if args.shard and args.kill is None else args.kill  # a shard runs no kills: the unsharded run does
    options = Options(
        args.kinds, kill, args.seed, point[:2] if point else None, shard=args.shard, trace=source, timeout=args.timeout
    )
    base = tempfile.mkdtemp(prefix="tornwrite-program-", dir=SCRATCH_PARENT if os.path.isdir(SCRATCH_PARENT) else None)
    previous = install.install(base)
    try:
        target = load(args.target)
        out = args.out or os.path.join("reports", "program", target.name)
        if args.junit:  # before the run: a bad --out or --junit must not cost one
            outdir.new_file(args.junit, args.force)
        if point is None:
            outdir.check_dir(out)
        run = crash_test(target, options, base, Progress(quiet=args.quiet))
    except (TargetError, outdir.OutputError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    finally:
        install.uninstall(previous)
        shutil.rmtree(base, ignore_errors=True)
    return _finish(run, args, point, out)


def _finish(run: ProgramRun, args: argparse.Namespace, point: tuple[int, str, str] | None, out: str) -> int:
    from tornwrite.faultinject.program import explain

    for warning in run.trace.warnings:
        print(f"warning: {warning}", file=sys.stderr)
    for reason in run.trace.unseen:
        print(f"unseen: {reason}", file=sys.stderr)
    if point is not None:
        chosen = [r for r in run.results if (r.step, r.phase, r.label) == point]
        if not chosen:
            print(f"error: no {args.kinds[0]} crash state {args.explain}", file=sys.stderr)
            return 2
        print(explain.narrate(run, chosen[0]), end="")
        return 0 if chosen[0].ok else 1
    tell(run, out, args.junit, figures=not args.no_figures)
    if args.explain == "first":
        failing = run.failures
        print()
        print(explain.narrate(run, failing[0]) if failing else "No failing state to explain.", end="\n")
    return run.status


def tell(run: ProgramRun, out: str, junit: str | None, figures: bool = True) -> None:
    """Write the report (and JUnit), then print the table, each distinct failure, the verdict line
    and where the report went."""
    from tornwrite.faultinject.program import report

    report.write(run, out, figures)
    if junit:
        report.write_junit(run, junit)
    print(report.table(run))
    distinct = report.groups(run)
    for group in distinct[: report.MAX_GROUPS_PRINTED]:
        first = group[0]
        states = f"{len(group)} state{'' if len(group) == 1 else 's'}"
        unconfirmed = "" if run.confirmed(first) else ", UNCONFIRMED: the trace is incomplete"
        print(f"- {first.outcome} ({first.kind}, {states}{unconfirmed}): {report.crash_point(run, first)}")
        print(f"    {first.detail}")
        print(f"    repro: {report.repro(run, first)}")
    if len(distinct) > report.MAX_GROUPS_PRINTED:
        print(f"- ... and {len(distinct) - report.MAX_GROUPS_PRINTED} more distinct failures in summary.md")
    print(report.verdict_line(run))
    print(f"report: {os.path.join(out, 'summary.md')}" + (f", JUnit: {junit}" if junit else ""))


def merge(directories: list[str], out: str, junit: str | None, force: bool) -> int:
    """`merge DIR... --out OUT` for a program's shards: the unsharded run's report and exit status."""
    from tornwrite.faultinject.program import shards

    outdir.check_dir(out)
    if junit:
        outdir.new_file(junit, force)
    run = shards.merge(directories)
    tell(run, out, junit)
    return run.status
