"""summary.md: what a campaign ran, what it found, and how to reproduce each failure."""

from __future__ import annotations

import os
import platform
from collections import Counter

MAX_FAILURES_LISTED = 200


def write_summary(plan, tally, results, out: str, table: str, elapsed: float) -> None:
    failures = [r for r in results if not r.ok]
    by_label = Counter((r.point.kind, r.point.label, r.outcome) for r in results)
    lines = [
        f"# Crash campaign `{plan.run_id}`",
        "",
        f"- workloads: {', '.join(plan.workloads)} (seed {plan.seed}"
        + (f", {plan.ops} ops each" if plan.ops else ", default lengths") + ")",
        f"- fault kinds: {', '.join(plan.kinds)}; crash points: "
        + ("every one" if plan.budget is None else f"a seeded sample of {plan.budget} per workload and kind")
        + f"; crashes during recovery: {'yes' if plan.compound else 'no'}",
        f"- engine: {'mutant ' + plan.mutant if plan.mutant else 'the real engine'}",
        f"- {tally.points_done} crash points, {sum(tally.states.values())} crash states, {elapsed:.1f} s "
        f"on {os.cpu_count()} cores (Python {platform.python_version()})",
        f"- verdict: **{'every state ok' if not failures else f'{len(failures)} failing states'}**",
        "",
        "## Outcomes by fault kind",
        "",
        "```",
        table,
        "```",
        "",
        "## Outcomes by I/O step label",
        "",
        "| kind | label | outcome | states |",
        "|---|---|---|---|",
        *[f"| {kind} | `{label}` | {outcome} | {count} |" for (kind, label, outcome), count in sorted(by_label.items())],
        "",
        "## Failures",
        "",
    ]
    if not failures:
        lines.append("None.")
    for failure in failures[:MAX_FAILURES_LISTED]:
        point = failure.point
        second = (f"; then recovery crashed at its step {failure.second.step} {failure.second.phase} "
                  f"({failure.second.description})" if failure.second else "")
        lines += [
            f"### {failure.outcome}: {point.kind}, {point.workload}, step {point.step} {point.phase} `{point.label}`",
            "",
            f"Crash state: {failure.description}{second}. Acked ops: {failure.acked}"
            f"{' (+1 in flight)' if failure.in_flight else ''}; observed: {failure.observed}.",
            "",
            "```",
            failure.detail,
            "```",
            "",
            f"Reproduce: `{failure.repro()}`",
            "",
        ]
    if len(failures) > MAX_FAILURES_LISTED:
        lines.append(f"... and {len(failures) - MAX_FAILURES_LISTED} more in results.json.")
    with open(os.path.join(out, "summary.md"), "w") as f:
        f.write("\n".join(lines) + "\n")
