"""`make mutants`: run the harness against every mutant of the bug zoo, and the real engine.

Every registered fault kind (faultinject/kinds/) runs against every mutant, and the Hypothesis
state machine against those that name it; the first expected detector that fails the mutant is
reported with its time to first failure, its catch rate (the share of that kind's states or
runs that fail it: a narrow catch hangs by a thread) and its shrunk reproduction (the
campaign's: the shortest workload that still fails, with its repro command; the state
machine's: Hypothesis's shrunk program), printed and saved to summary.md beside the matrix,
with the five narrowest catches, and what also catches each narrow one on every run (the
derandomised state machine, or a budget-5 sample of its kind). The real engine must pass
every detector. Exit status 0 only if every mutant is caught and the real engine passes.
"""

from __future__ import annotations

import concurrent.futures
import multiprocessing
import os
import sys
import time
from dataclasses import dataclass

from tornwrite.faultinject import campaign
from tornwrite.faultinject.kinds import NAMES, REGISTRY, repro_command
from tornwrite.faultinject.plan import Plan
from tornwrite.faultinject.zoo import mutants

WORKLOAD = "snapshot-heavy"  # the real engine's; each mutant names its own (mutants.Mutant.workload)
OPS = 40
STATEFUL = "stateful"  # the Hypothesis state machine (faultinject/zoo/stateful.py)
STATEFUL_STEPS = 50  # steps per program: long enough to reach a crash inside a snapshot, short to shrink
DETECTORS = (*NAMES, STATEFUL)


@dataclass(frozen=True)
class Finding:
    mutant: str
    caught: dict  # detector -> seconds to its first failure (only detectors that failed the mutant)
    first: str | None  # the expected detector reported: the first of the mutant's list that caught it
    size: str  # its shrunk reproduction
    repro: str = ""
    rate: tuple[int, int] | None = None  # (failing, checked) states or runs of `first`; None: the state machine
    wide: str = ""  # for a narrow catch, what catches it every time: the state machine, or a budget-5 sample

    @property
    def share(self) -> float:
        """The catch rate as a fraction: 1.0 for the state machine, derandomised, caught on every run."""
        return self.rate[0] / self.rate[1] if self.rate and self.rate[1] else 1.0

    @property
    def rate_text(self) -> str:
        if self.missed:
            return "-"
        if self.rate is None:
            return "every derandomised run"
        failing, checked = self.rate
        return f"{failing} of {checked} ({100 * failing / checked:.1f}%)" if checked else "-"

    @property
    def missed(self) -> bool:
        return self.first is None


def _campaign_fails(kind: str, mutant: str | None, ops: int) -> tuple[bool, str]:
    workload = mutants.MUTANTS[mutant].workload if mutant else WORKLOAD
    plan = Plan((workload,), seed=0, kinds=(kind,), ops=ops, mutant=mutant, budget=REGISTRY[kind].zoo_budget)
    failures = [r for r in campaign.execute(plan, stop_on_failure=True).results if not r.ok]
    return bool(failures), repro_command(failures[0]) if failures else ""


def _budget_fails(kind: str, mutant: str, budget: int = 5) -> bool:
    """Whether a seeded sample of `budget` crash points per workload (stratified: core/strata.py)
    of `kind` fails `mutant`: what makes a narrow catch one a cheap run still makes."""
    plan = Plan((mutants.MUTANTS[mutant].workload,), seed=0, kinds=(kind,), ops=OPS, mutant=mutant, budget=budget)
    return any(not r.ok for r in campaign.execute(plan, jobs=1, stop_on_failure=True).results)  # a few points


def _wide(caught: dict, mutant: str) -> str:
    """What catches a narrow catch on every run: the derandomised state machine, or a budget-5
    sample of a kind that caught it; "" when neither does."""
    if STATEFUL in caught:
        return "the derandomised state machine (every run)"
    return next((f"a seeded budget-5 {kind} sample" for kind in caught if _budget_fails(kind, mutant)), "")


def catch_rate(kind: str, mutant: str, ops: int = OPS) -> tuple[int, int]:
    """(failing, checked): how many of the kind's states (or runs) at the zoo's budget fail `mutant`."""
    workload = mutants.MUTANTS[mutant].workload
    plan = Plan((workload,), seed=0, kinds=(kind,), ops=ops, mutant=mutant, budget=REGISTRY[kind].zoo_budget)
    results = campaign.execute(plan).results
    return sum(not r.ok for r in results), len(results)


def _shrink_ops(kind: str, mutant: str, ops: int, repro: str) -> tuple[int, str]:
    """The shortest workload (a prefix of the full one) the detector still fails."""
    low, high = 1, ops  # invariant: `high` ops fail
    while low < high:
        middle = (low + high) // 2
        fails, found = _campaign_fails(kind, mutant, middle)
        if fails:
            high, repro = middle, found
        else:
            low = middle + 1
    return high, repro


def _stateful_fails(mutant: str | None, examples: int) -> tuple[bool, int, str]:
    """(failed, steps in the shrunk program, its first lines) for the state machine.

    Runs in a freshly spawned interpreter: a hunt allocates heavily, and in a process that
    already holds a large heap the garbage collector made it several times slower.
    """
    context = multiprocessing.get_context("spawn")
    with concurrent.futures.ProcessPoolExecutor(1, mp_context=context) as pool:
        return pool.submit(_stateful_hunt, mutant, examples).result()


def _stateful_hunt(mutant: str | None, examples: int) -> tuple[bool, int, str]:
    # The machine lives with the tests (it is a test); imported here only for `make mutants`.
    from hypothesis import HealthCheck, Phase, settings
    from hypothesis.stateful import run_state_machine_as_test

    from tornwrite.faultinject.zoo.stateful import StoreVersusModel

    with mutants.active(mutant):
        try:
            run_state_machine_as_test(
                StoreVersusModel,
                settings=settings(
                    max_examples=examples,
                    stateful_step_count=STATEFUL_STEPS,
                    deadline=None,
                    database=None,
                    report_multiple_bugs=False,
                    derandomize=True,
                    suppress_health_check=list(HealthCheck),
                    # The explain phase (which parts of the shrunk program may vary) added ~40 s to one
                    # hunt, and a hunt reads only the program itself.
                    phases=[phase for phase in Phase if phase is not Phase.explain],
                ),
            )
        except Exception as failure:  # Hypothesis re-raises the shrunk failure (a group, if several)
            invariants = {
                name
                for name in dir(StoreVersusModel)
                if getattr(getattr(StoreVersusModel, name), "hypothesis_stateful_invariant", None)
            }
            programs = [
                [
                    line.strip()
                    for line in getattr(error, "__notes__", [])
                    if line.strip().startswith("state.")
                    and "teardown" not in line
                    and line.strip()[6:].split("(")[0] not in invariants
                ]
                for error in _leaves(failure)
            ]
            steps = min(programs, key=len)
            return True, len(steps), "; ".join(steps[:6])
    return False, 0, ""


def _leaves(error: BaseException) -> list[BaseException]:
    if isinstance(error, BaseExceptionGroup):
        return [leaf for inner in error.exceptions for leaf in _leaves(inner)]
    return [error]


def _detect(detector: str, mutant: str | None, examples: int) -> tuple[bool, str, str]:
    """(failed, shrinkable size or steps, repro) for one detector against one engine."""
    if detector == STATEFUL:
        failed, steps, program = _stateful_fails(mutant, examples)
        return failed, f"{steps} step{'' if steps == 1 else 's'}", program
    failed, repro = _campaign_fails(detector, mutant, OPS)
    return failed, "", repro


def hunt(name: str, *, examples: int = 1000, shrink: bool = True) -> Finding:
    """Every campaign detector (and the state machine, where the mutant expects it) against
    mutant `name`; the first expected one that caught it is shrunk."""
    caught: dict = {}
    reports: dict = {}
    expected = mutants.MUTANTS[name].caught_by
    for detector in DETECTORS:
        if detector == STATEFUL and detector not in expected:
            continue  # the slowest detector runs only where it applies
        started = time.monotonic()
        failed, size, repro = _detect(detector, name, examples)
        if failed:
            caught[detector] = time.monotonic() - started
            reports[detector] = (size, repro)
    first = next((d for d in mutants.MUTANTS[name].caught_by if d in caught), None)
    if first is None:
        return Finding(name, caught, None, "-")
    size, repro = reports[first]
    rate = None if first == STATEFUL else catch_rate(first, name)
    wide = _wide(caught, name) if rate and rate[1] and rate[0] / rate[1] < NARROW else ""
    if first != STATEFUL and not REGISTRY[first].shrinks_by_ops:
        size = "a seeded run (not shrunk)"
    elif first != STATEFUL and shrink:
        ops, repro = _shrink_ops(first, name, OPS, repro)
        size = f"{ops} op{'' if ops == 1 else 's'}"
    return Finding(name, caught, first, size, repro, rate, wide)


def real_engine_passes(examples: int = 300) -> list[str]:
    """Every detector on the unmutated engine; the names of those that (wrongly) failed it."""
    return [detector for detector in DETECTORS if _detect(detector, None, examples)[0]]


def matrix(rows: list[Finding]) -> dict[str, dict[str, bool | None]]:
    """mutant -> detector -> True: caught; False: expected to catch it and did not; None: neither
    (or not run: the state machine runs only where a mutant expects it)."""
    return {
        f.mutant: {
            d: True if d in f.caught else False if d in mutants.MUTANTS[f.mutant].caught_by else None for d in DETECTORS
        }
        for f in rows
    }


def main(argv: list[str] | None = None) -> int:
    import argparse

    parser = argparse.ArgumentParser(
        prog="python -m tornwrite.faultinject mutants", description=__doc__.splitlines()[0]
    )
    parser.add_argument("--only", choices=sorted(mutants.MUTANTS), action="append", help="these mutants only")
    parser.add_argument("--examples", type=int, default=1000, help="state machine examples per mutant")
    parser.add_argument("--out", default=os.path.join("reports", "mutants"), help="where mutant-matrix.png goes")
    args = parser.parse_args(argv)
    print("the real engine ...", end=" ", flush=True)
    wrongly = real_engine_passes(args.examples)
    print("passes every detector" if not wrongly else f"FAILS {', '.join(wrongly)}")
    rows = []
    for name in args.only or mutants.MUTANTS:
        finding = hunt(name, examples=args.examples)
        rows.append(finding)
        if finding.missed:
            print(f"{name:<32} MISSED", flush=True)
        else:
            seconds = finding.caught[finding.first]
            print(
                f"{name:<32} caught by {finding.first} in {seconds:.1f}s ({finding.rate_text}), "
                f"shrunk to {finding.size}\n{'':<32} {finding.repro}",
                flush=True,
            )
    print()
    print(table(rows))
    print()
    print(narrowest(rows))
    from tornwrite.faultinject.report import figures  # matplotlib is imported only while the figure is drawn

    os.makedirs(args.out, exist_ok=True)
    figures.mutant_matrix(matrix(rows), os.path.join(args.out, figures.MUTANT_MATRIX), detectors=DETECTORS)
    with open(os.path.join(args.out, "summary.md"), "w") as f:
        f.write(summary(rows, wrongly))
    print(f"wrote {args.out}/{figures.MUTANT_MATRIX} and {args.out}/summary.md")
    missed = [f.mutant for f in rows if f.missed]
    if missed:
        print(f"MISSED: {', '.join(missed)}")
    return 0 if not missed and not wrongly else 1


def table(rows: list[Finding]) -> str:
    """The markdown table `make mutants` prints: caught where, how fast, how small."""
    lines = [
        "| mutant | breaks | caught | first caught by | catch rate | time to first failure | shrunk reproduction "
        "| also caught by |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for f in rows:
        others = ", ".join(d for d in f.caught if d != f.first) or "-"
        lines.append(
            f"| `{f.mutant}` | {mutants.MUTANTS[f.mutant].breaks} | {'yes' if not f.missed else '**MISSED**'} "
            f"| {f.first or '-'} | {f.rate_text} | {f'{f.caught[f.first]:.1f} s' if f.first else '-'} | {f.size} "
            f"| {others} |"
        )
    return "\n".join(lines)


NARROW = 1 / 20  # a catch by fewer of its kind's states than this hangs by a thread


def narrowest(rows: list[Finding], count: int = 5) -> str:
    """The `count` caught mutants with the lowest catch rates, those under NARROW marked."""
    caught = sorted((f for f in rows if not f.missed and f.rate is not None), key=lambda f: f.share)[:count]
    lines = [
        f"The narrowest {len(caught)} catches (under {NARROW:.0%} of a kind's states: narrow; and what "
        "also catches each narrow one, cheaply and on every run):",
        "",
    ]
    for f in caught:
        wide = f"; also caught by {f.wide}" if f.wide else "; **nothing cheap catches it on every run**"
        lines.append(f"- `{f.mutant}`: {f.first}, {f.rate_text}" + (f" **narrow**{wide}" if f.share < NARROW else ""))
    return "\n".join(lines)


def summary(rows: list[Finding], wrongly: list[str]) -> str:
    """summary.md of `make mutants`: the table, the matrix, and each mutant's shrunk reproduction."""
    lines = [
        "# The bug zoo",
        "",
        f"The real engine: {'passes every detector' if not wrongly else 'FAILS ' + ', '.join(wrongly)}.",
        "",
        table(rows),
        "",
        narrowest(rows),
        "",
        "![mutant matrix](mutant-matrix.png)",
        "",
        "## Shrunk reproductions",
        "",
    ]
    for f in rows:
        bug = mutants.MUTANTS[f.mutant].bug
        if f.missed:
            lines += [f"### `{f.mutant}`: MISSED", "", bug, ""]
            continue
        how = "Hypothesis's shrunk program" if f.first == STATEFUL else "the shortest failing workload"
        lines += [
            f"### `{f.mutant}`",
            "",
            f"{bug}. Caught by {f.first}; {how} ({f.size}):",
            "",
            "```",
            f.repro,
            "```",
            "",
        ]
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
