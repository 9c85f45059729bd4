"""`tornwrite` / `python -m tornwrite.faultinject`: the harness's command line.

    campaign      workloads x crash points x fault kinds, in parallel (make crash-test)
    merge DIR...  join the results of a campaign's shards (--shard i/n) into one report
    program T     crash-test any Python program's files (docs/PROGRAMS.md)
    repro         rerun one crash state verbosely
    mutants       the bug zoo: every detector against every known bug (make mutants)
    walkthrough   narrated fault scenarios (make walkthroughs)
    inspect DIR   print a data directory's records; check DIR: what recovery would do

Exit status: 0 when every state is ok, 1 when one is not, 2 for a usage error (a bad output
place or a missing extra included, said before any work), 3 when `program` gives no verdict.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable, Iterable

from tornwrite.faultinject import campaign, extras, outdir, repro
from tornwrite.faultinject.core import workloads
from tornwrite.faultinject.kinds import NAMES
from tornwrite.faultinject.kinds.base import ReproRequest
from tornwrite.faultinject.plan import Plan
from tornwrite.faultinject.zoo import mutants

# Subcommands with a parser of their own, imported only when used.
_DELEGATED = {
    "program": (
        "tornwrite.faultinject.program.cli",
        "crash-test any Python program's files: program TARGET (see --help there)",
    ),
    "mutants": (
        "tornwrite.faultinject.zoo.hunt",
        "the bug zoo: every detector against every mutant (see --help there)",
    ),
    "walkthrough": (
        "tornwrite.faultinject.walkthrough.scenarios",
        "narrate a fault scenario: walkthrough NAME | --all",
    ),
    "inspect": (
        "tornwrite.engine.cli",
        "print every record and entry of a data directory, then what recovery would do",
    ),
    "check": ("tornwrite.engine.cli", "what opening a data directory would do, as an exit status"),
}


def _names(allowed: Iterable[str], what: str) -> Callable[[str], tuple[str, ...]]:
    """An argparse type: a comma-separated list, each item one of `allowed`."""
    allowed = tuple(allowed)

    def parse(text: str) -> tuple[str, ...]:
        names = tuple(n for n in text.split(",") if n)
        for name in names:
            if name not in allowed:
                raise argparse.ArgumentTypeError(f"unknown {what} {name!r}; choose from {', '.join(allowed)}")
        return names

    return parse


def _recovery_phase(text: str) -> str:
    named = ("before", "after", "after-recovery", "after-carrying-on")
    if text in named or (text.startswith("generation-") and text.removeprefix("generation-").isdigit()):
        return text
    raise argparse.ArgumentTypeError(f"choose from {', '.join(named)} or generation-N, not {text!r}")


def _shard(text: str) -> tuple[int, int]:
    index, _, count = text.partition("/")
    try:
        shard = int(index), int(count)
    except ValueError:
        raise argparse.ArgumentTypeError(f"a shard is i/n, such as 2/4, not {text!r}") from None
    if not 1 <= shard[0] <= shard[1]:
        raise argparse.ArgumentTypeError(f"a shard i/n needs 1 <= i <= n, not {text!r}")
    return shard


def _positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, not {value}")
    return value


def main(argv: list[str] | None = None) -> int:
    """Run one command; a missing extra is a message and status 2, a closed stdout (`| head`) is quiet."""
    try:
        return _command(sys.argv[1:] if argv is None else argv)
    except ModuleNotFoundError as exc:
        hint = extras.hint(exc.name or "")
        if hint is None:
            raise
        print(f"tornwrite: {argv_name(argv)} needs {hint}", file=sys.stderr)
        return 2
    except extras.MissingExtraError as exc:
        print(f"tornwrite: {exc}", file=sys.stderr)
        return 2
    except BrokenPipeError:
        # the reader went away (`tornwrite inspect DIR | head`): no traceback, and none at exit either
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 141  # 128 + SIGPIPE, as a shell reports a command a closed pipe stopped


def argv_name(argv: list[str] | None) -> str:
    words = sys.argv[1:] if argv is None else argv
    return words[0] if words else "tornwrite"


def _command(argv: list[str]) -> int:
    if argv[:1] and argv[0] in _DELEGATED:
        import importlib

        module = importlib.import_module(_DELEGATED[argv[0]][0])
        return int(module.main(argv if argv[0] in ("inspect", "check") else argv[1:]))
    parser = argparse.ArgumentParser(
        prog="tornwrite",
        description=__doc__.splitlines()[0],
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="Exit status: 0 when every state is ok, 1 when one is not, 2 for a usage error, 3 no verdict.",
    )
    sub = parser.add_subparsers(dest="command", required=True)
    for name, (_, help_text) in _DELEGATED.items():
        sub.add_parser(name, help=help_text)

    run = sub.add_parser("campaign", help="workloads x crash points x fault kinds, in parallel")
    run.add_argument(
        "--workload",
        type=_names(workloads.MIXES, "workload"),
        default=workloads.DEFAULT_WORKLOADS,
        help=f"comma-separated (default: all of {', '.join(workloads.MIXES)})",
    )
    run.add_argument("--seed", type=int, default=0)
    run.add_argument(
        "--kinds",
        type=_names(NAMES, "fault kind"),
        default=NAMES,
        help=f"comma-separated (default: all of {','.join(NAMES)})",
    )
    run.add_argument("--budget", type=_positive, help="crash points per workload and kind (default: every one)")
    run.add_argument("--ops", type=_positive, help="ops per workload (default: each workload's own length)")
    run.add_argument("--jobs", type=_positive, help="worker processes (default: all cores)")
    run.add_argument("--out", help="output directory (default: reports/<run-id>)")
    run.add_argument("--mutant", choices=sorted(mutants.MUTANTS), help="run against a known-broken engine")
    run.add_argument("--no-compound", action="store_true", help="do not also crash during recovery")
    run.add_argument("--shard", type=_shard, help="run only shard i of n (i/n): n machines, then `merge`")
    run.add_argument("--junit", metavar="FILE", help="also write JUnit XML: a testcase per workload x kind")
    run.add_argument("--force", action="store_true", help="let --junit replace an existing file")
    run.add_argument(
        "--all-states", action="store_true", help="record every state in results.json, not only the failing ones"
    )

    join = sub.add_parser("merge", help="join the results of a campaign's (or a program's) shards into one report")
    join.add_argument("runs", nargs="+", metavar="DIR", help="the shards' output directories")
    join.add_argument("--out", required=True, help="where the merged report goes")
    join.add_argument("--junit", metavar="FILE", help="also write JUnit XML")
    join.add_argument("--force", action="store_true", help="let --junit replace an existing file")

    again = sub.add_parser("repro", help="rerun one crash state verbosely (campaigns print the command)")
    again.add_argument("--kind", choices=NAMES, required=True)
    again.add_argument("--workload", choices=sorted(workloads.MIXES), required=True)
    again.add_argument("--seed", type=int, default=0)
    again.add_argument("--ops", type=_positive)
    again.add_argument("--step", type=_positive, required=True, help="the durable step (damage: the case number)")
    again.add_argument("--phase", choices=("before", "after"), help="before or after the step (not for damage)")
    again.add_argument("--state", type=int, default=0, help="which crash state at the point (-1: the restart)")
    again.add_argument("--recovery-step", type=int, help="crash the recovery too, at this step of it")
    again.add_argument(
        "--recovery-phase",
        type=_recovery_phase,
        help="before | after its step, after-recovery, after-carrying-on, generation-N",
    )
    again.add_argument("--recovery-state", type=int, default=0)
    again.add_argument("--mutant", choices=sorted(mutants.MUTANTS))

    args = parser.parse_args(argv)
    if args.command == "campaign":
        plan = Plan(
            args.workload, args.seed, args.kinds, args.budget, args.ops, args.mutant, not args.no_compound, args.shard
        )
        try:
            status, _, _ = campaign.run(
                plan, jobs=args.jobs, out=args.out, junit=args.junit, all_states=args.all_states, force=args.force
            )
        except outdir.OutputError as error:
            print(f"tornwrite campaign: {error}", file=sys.stderr)
            return 2
        return status
    if args.command == "merge":
        try:
            from tornwrite.faultinject.program import cli as program_cli
            from tornwrite.faultinject.program import shards

            if shards.is_program_results(args.runs[0]):  # a program's shards (program --shard i/n)
                return program_cli.merge(args.runs, args.out, args.junit, args.force)
            return campaign.merge(args.runs, out=args.out, junit=args.junit, force=args.force)
        except (OSError, ValueError, KeyError) as error:
            print(f"tornwrite merge: {error}", file=sys.stderr)
            return 2
    if (args.recovery_step is None) != (args.recovery_phase is None):
        parser.error("--recovery-step and --recovery-phase go together")
    request = ReproRequest(
        args.step, args.phase, args.state, args.recovery_step, args.recovery_phase, args.recovery_state
    )
    return repro.repro(args.kind, args.workload, args.seed, args.ops, request, args.mutant)


if __name__ == "__main__":
    sys.exit(main())
