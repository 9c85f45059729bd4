"""summary.md: what a campaign ran, what it found (in figures and tables), and how to reproduce each failure.

The figures come from faultinject/report/figures.py, which imports matplotlib only while it draws: the
campaign imports this module before forking its workers, and they must not pay for matplotlib.
A figure that cannot be drawn is named in summary.md, never allowed to lose the summary itself.
"""

from __future__ import annotations

import os
import platform
import sys
from collections import Counter
from collections.abc import Sequence

from tornwrite.faultinject.core.execution import WorkloadTrace
from tornwrite.faultinject.core.findings import Findings
from tornwrite.faultinject.core.results import worst
from tornwrite.faultinject.core.tally import Tally
from tornwrite.faultinject.kinds import REGISTRY, repro_command
from tornwrite.faultinject.plan import Plan
from tornwrite.faultinject.report import figures
from tornwrite.models.checker import OUTCOMES

MAX_FAILURES_LISTED = 200
MAX_GROUPS_LISTED = 60


def write_summary(
    plan: Plan,
    tally: Tally,
    findings: Findings,
    traces: Sequence[WorkloadTrace],
    out: str,
    table: str,
    elapsed: float,
) -> None:
    """Write OUT/summary.md and the figures it links, from what the campaign returned."""
    failures = findings.failures
    timelines = {trace.workload: trace for trace in traces}
    lines = [
        f"# Crash campaign `{plan.run_id}`",
        "",
        f"- workloads: {', '.join(plan.workloads)} (seed {plan.seed}"
        + (f", {plan.ops} ops each" if plan.ops else ", default lengths")
        + "): "
        + ", ".join(f"{name} {line.ops} ops / {line.steps} durable steps" for name, line in timelines.items()),
        f"- fault kinds: {', '.join(plan.kinds)}; crash points: "
        + ("every one" if plan.budget is None else f"a seeded sample of {plan.budget} per workload and kind")
        + f"; crashes during recovery: {'yes' if plan.compound else 'no'}",
        f"- engine: {'mutant ' + plan.mutant if plan.mutant else 'the real engine'}",
        f"- {tally.points_done} crash points, {sum(tally.states.values())} crash states, {elapsed:.1f} s "
        f"on {os.cpu_count()} cores (Python {platform.python_version()})",
        f"- rerun: `{plan.command()}`",
        f"- verdict: **{'every state ok' if not failures else f'{len(failures)} failing states'}**",
        "",
        *_figure_lines(plan, findings, out, list(timelines.values())),
        "## Outcomes by fault kind",
        "",
        "```",
        table,
        "```",
        "",
        *_group_lines(failures),
        *_label_lines(findings.by_label),
        "## Failures",
        "",
    ]
    lines += _failure_lines(failures, timelines) if failures else ["None."]
    with open(os.path.join(out, "summary.md"), "w") as f:
        f.write("\n".join(lines) + "\n")


def _failure_lines(failures, timelines) -> list[str]:
    """Each failing crash point: its first failing state in full, then every other one with its repro."""
    points: dict[tuple, list] = {}
    for failure in failures:
        p = failure.point
        points.setdefault((p.kind, p.workload, p.step, p.phase), []).append(failure)
    lines, listed = [], 0
    for members in points.values():
        if listed >= MAX_FAILURES_LISTED:
            break
        first, point = members[0], members[0].point
        outcome = worst(m.outcome for m in members)
        lines += [
            f"### {outcome}: {point.kind}, {point.workload}, step {point.step} {point.phase} `{point.label}`"
            f"{_op_of(point, timelines)}: {len(members)} failing state{'s' if len(members) > 1 else ''}",
            "",
            f"Crash state {first.state}: {_state(first)}. Acked ops: {first.acked}"
            f"{' (+1 in flight)' if first.in_flight else ''}; observed: {first.observed}.",
            "",
            "```",
            first.detail,
            "```",
            "",
            f"Reproduce: `{repro_command(first)}`",
            "",
        ]
        others = members[1 : MAX_FAILURES_LISTED - listed]
        if others:
            lines += ["The other failing states at this point:", ""]
            lines += [f"- {m.outcome}, state {m.state}: {_state(m)}: `{repro_command(m)}`" for m in others]
            lines.append("")
        listed += 1 + len(others)
    if len(failures) > listed:
        lines.append(f"... and {len(failures) - listed} more failing states in results.json.")
    return lines


def _state(failure) -> str:
    if failure.second is None:
        return failure.description
    return (
        f"{failure.description}; then recovery crashed at its step {failure.second.step} "
        f"{failure.second.phase} ({failure.second.description})"
    )


def _figure_lines(plan: Plan, findings: Findings, out: str, timelines: list[WorkloadTrace]) -> list[str]:
    lines = ["## Figures", ""]
    try:
        drawn = figures.campaign_figures(plan, findings, out, timelines)
    except Exception as error:  # noqa: BLE001 - the verdict and repro commands matter more than a figure
        print(f"warning: figures not drawn: {type(error).__name__}: {error}", file=sys.stderr)
        return lines + [f"Not drawn: `{type(error).__name__}: {error}`.", ""]
    for figure in drawn:
        lines += [f"![{figure.title}]({figure.file})", "", f"*{figure.caption}*", ""]
    return lines


def _group_lines(failures) -> list[str]:
    """One row per (kind, workload, label, outcome): where the failures cluster, and one repro each."""
    if not failures:
        return []
    groups: dict[tuple, list] = {}
    for failure in failures:
        p = failure.point
        groups.setdefault((p.kind, p.workload, p.label, failure.outcome), []).append(failure)
    lines = [
        "## Failing states, grouped",
        "",
        "| kind | workload | label | outcome | points | states | steps | first repro |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for (kind, workload, label, outcome), members in list(groups.items())[:MAX_GROUPS_LISTED]:
        steps = sorted({m.point.step for m in members})
        points = len({(m.point.step, m.point.phase) for m in members})
        span = f"{steps[0]}" if len(steps) == 1 else f"{steps[0]}-{steps[-1]}"
        lines.append(
            f"| {kind} | {workload} | `{label}` | {outcome} | {points} | {len(members)} | {span} "
            f"| `{repro_command(members[0])}` |"
        )
    if len(groups) > MAX_GROUPS_LISTED:
        lines.append(f"\n... and {len(groups) - MAX_GROUPS_LISTED} more groups.")
    return lines + [""]


def _label_lines(counts: Counter) -> list[str]:
    rows = sorted({(kind, label) for kind, label, _ in counts})
    return [
        "## Outcomes by I/O step label",
        "",
        "| kind | label | " + " | ".join(OUTCOMES) + " |",
        "|---|---|" + "---|" * len(OUTCOMES),
        *[
            f"| {kind} | `{label}` | " + " | ".join(str(counts[(kind, label, o)] or "") for o in OUTCOMES) + " |"
            for kind, label in rows
        ],
        "",
    ]


def _op_of(point, timelines) -> str:
    line = timelines.get(point.workload)
    if not REGISTRY[point.kind].steps_of_a_run or line is None or not 1 <= point.step <= line.steps:
        return ""
    index = line.op_indexes[point.step - 1]
    return " (Store.open)" if index == 0 else f" (op {index}, `{line.op_names[point.step - 1]}`)"
