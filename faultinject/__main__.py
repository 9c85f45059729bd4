"""python -m tornwrite.faultinject campaign | repro | mutants | walkthrough: see `python -m tornwrite.faultinject --help`."""

from __future__ import annotations

import argparse
import sys

from tornwrite.faultinject import campaign, repro
from tornwrite.faultinject.core import workloads
from tornwrite.faultinject.zoo import mutants


def _names(allowed, what: str):
    """An argparse type: a comma-separated list, each item one of `allowed`."""

    def parse(text: str) -> tuple[str, ...]:
        names = tuple(n for n in text.split(",") if n)
        for name in names:
            if name not in allowed:
                raise argparse.ArgumentTypeError(f"unknown {what} {name!r}; choose from {', '.join(allowed)}")
        return names

    return parse


def _positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, not {value}")
    return value


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["mutants"]:
        from tornwrite.faultinject.zoo import hunt as zoo

        return zoo.main(argv[1:])
    if argv[:1] == ["walkthrough"]:
        from tornwrite.faultinject.walkthrough import scenarios as walkthrough

        return walkthrough.main(argv[1:])
    parser = argparse.ArgumentParser(
        prog="python -m tornwrite.faultinject",
        description="Crash the RedisLite engine at every I/O step and check what recovery gives.",
    )
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("mutants", help="run the harness against every mutant of the bug zoo (see --help there)")
    sub.add_parser("walkthrough", help="narrate a fault scenario step by step: walkthrough NAME | --all")

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
        type=_names(campaign.KINDS, "fault kind"),
        default=campaign.KINDS,
        help=f"comma-separated (default: all of {','.join(campaign.KINDS)})",
    )
    run.add_argument("--budget", type=_positive, help="crash points per workload and kind (default: every one)")
    run.add_argument("--ops", type=_positive, help="ops per workload (default: each workload's own length)")
    run.add_argument("--jobs", type=_positive, help="worker processes (default: all cores)")
    run.add_argument("--out", help="output directory (default: reports/<run-id>)")
    run.add_argument("--mutant", choices=sorted(mutants.MUTANTS), help="run against a known-broken engine")
    run.add_argument("--no-compound", action="store_true", help="do not also crash during recovery")

    again = sub.add_parser("repro", help="rerun one crash state verbosely")
    again.add_argument("--kind", choices=campaign.KINDS, required=True)
    again.add_argument("--workload", choices=sorted(workloads.MIXES), required=True)
    again.add_argument("--seed", type=int, default=0)
    again.add_argument("--ops", type=_positive)
    again.add_argument("--step", type=_positive, required=True)
    again.add_argument("--phase", choices=("before", "after"), help="required for process and power")
    again.add_argument("--state", type=int, default=0)
    again.add_argument("--recovery-step", type=_positive)
    again.add_argument("--recovery-phase", choices=("before", "after"))
    again.add_argument("--recovery-state", type=int, default=0)
    again.add_argument("--mutant", choices=sorted(mutants.MUTANTS))

    args = parser.parse_args(argv)
    if args.command == "campaign":
        plan = campaign.Plan(
            args.workload, args.seed, args.kinds, args.budget, args.ops, args.mutant, not args.no_compound
        )
        status, _, _ = campaign.run(plan, jobs=args.jobs, out=args.out)
        return status
    if (args.recovery_step is None) != (args.recovery_phase is None):
        parser.error("--recovery-step and --recovery-phase go together")
    if args.kind != "damage" and args.phase is None:
        parser.error(f"--phase is required for --kind {args.kind}")
    return repro.repro(
        args.kind,
        args.workload,
        args.seed,
        args.ops,
        args.step,
        args.phase,
        args.state,
        args.recovery_step,
        args.recovery_phase,
        args.recovery_state,
        args.mutant,
    )


if __name__ == "__main__":
    sys.exit(main())
