"""A program run's report: the outcome x kind table, results.json, summary.md and the crash map.

Failures are grouped by what went wrong (kind, outcome, message): each distinct failure shows
its first crash point in full (the call as written, the file and offset, what was pending, the
file sizes, the exception) with a one-line repro, then the other points where it recurs.
"""

from __future__ import annotations

import json
import os
import shlex
from collections import Counter

from tornwrite.faultinject.program.judge import OUTCOMES, signature, worst
from tornwrite.faultinject.program.run import ProgramRun, Result

KIND_ORDER = ("process", "power", "kill")
MAX_POINTS_LISTED = 12
MAX_GROUPS_PRINTED = 8  # on the terminal; summary.md lists them all
CRASH_MAP = "crash-map.png"
# The crash map (faultinject/report/figures.py) colours the engine's outcomes: the nearest of each.
ENGINE_OUTCOME = {
    "ok": "ok",
    "durability": "lost-acked-write",
    "invariant": "invariant-violated",
    "integrity": "recovery-failed",
}


def command(run: ProgramRun, *extra: str) -> str:
    """The command line that reruns `run` (with `extra` arguments)."""
    argv = ["python", "-m", "tornwrite.faultinject", "program", run.target.spec, "--seed", str(run.options.seed)]
    return shlex.join([*argv, *extra])


def repro(run: ProgramRun, result: Result) -> str:
    """One line that reruns `result`'s crash state and narrates it (kill: reruns the kills, timing-dependent)."""
    if result.kind == "kill":
        return command(run, "--kinds", "", "--kill", str(run.options.kill))
    return command(run, "--kinds", result.kind, "--explain", f"{result.step}:{result.phase}:{result.label}")


def table(run: ProgramRun) -> str:
    """Crash states per outcome (rows) and kind (columns)."""
    counts = Counter((r.kind, r.outcome) for r in run.results)
    kinds = [k for k in KIND_ORDER if any(kind == k for kind, _ in counts)]
    width = max(len(o) for o in OUTCOMES) + 2
    lines = ["outcome".ljust(width) + "".join(k.rjust(10) for k in kinds)]
    for outcome in OUTCOMES:
        lines.append(outcome.ljust(width) + "".join(str(counts[(k, outcome)]).rjust(10) for k in kinds))
    lines.append("total".ljust(width) + "".join(str(sum(counts[(k, o)] for o in OUTCOMES)).rjust(10) for k in kinds))
    return "\n".join(lines)


def groups(run: ProgramRun) -> list[list[Result]]:
    """Failing states grouped into distinct failures (kind, outcome, message), worst and earliest first."""
    found: dict[tuple, list[Result]] = {}
    for result in run.failures:
        found.setdefault((result.kind, result.outcome, signature(result.detail)), []).append(result)
    return sorted(found.values(), key=lambda g: (KIND_ORDER.index(g[0].kind), OUTCOMES[::-1].index(g[0].outcome)))


def crash_point(run: ProgramRun, result: Result) -> str:
    if result.kind == "kill":
        return result.description
    step = run.trace.steps[result.step - 1]
    where = (
        step.path + (f" @{step.offset}" if step.op == "write" else "") + (f" -> {step.target}" if step.target else "")
    )
    op = run.trace.op_of(result.step)
    return f"{result.phase} step {result.step}/{len(run.trace.steps)} `{step.call}` ({where}, op {op})"


def failure_lines(run: ProgramRun, group: list[Result]) -> list[str]:
    first = group[0]
    sizes = ", ".join(f"{name} {size} B" for name, size in first.sizes.items()) or "no files"
    lines = [
        f"### {first.outcome} ({first.kind}): {len(group)} state{'s' if len(group) > 1 else ''}",
        "",
        f"- crash point: {crash_point(run, first)}",
        f"- pending / state: {first.description}",
        f"- files: {sizes}",
        f"- acked before the crash: {first.acked}" + (" (over every life)" if first.life else ""),
        "",
        "```",
        first.detail,
        "```",
        "",
        f"Reproduce: `{repro(run, first)}`",
        "",
    ]
    if len(group) > 1:
        points = sorted({(r.step, r.phase) for r in group})
        shown = ", ".join(f"{step} {phase}" for step, phase in points[:MAX_POINTS_LISTED])
        more = f" and {len(points) - MAX_POINTS_LISTED} more" if len(points) > MAX_POINTS_LISTED else ""
        lines += [f"Also at crash points: {shown}{more}.", ""]
    return lines


def summary(run: ProgramRun, figure_note: str = "") -> str:
    trace = run.trace
    failing = len(run.failures)
    lines = [
        f"# Crash test of `{run.target.spec}`",
        "",
        f"- {len(trace.steps)} traced steps, {len(trace.tokens)} acked operations; kinds: "
        + ", ".join(run.options.kinds)
        + (f"; {run.options.kill} real kills" if run.options.kill else ""),
        f"- {len(run.results)} crash states ({run.judged} judged, the rest identical to one judged), "
        f"{run.elapsed:.1f} s",
        f"- rerun: `{command(run, '--kinds', ','.join(run.options.kinds))}`",
        f"- trace source: {run.options.trace}" + ("" if trace.complete else " (incomplete: see below)"),
        f"- verdict: **{verdict(run)}** (exit status {run.status}: {STATUS_MEANING[run.status]})",
        "",
    ]
    if not trace.complete:
        lines += ["## No verdict: the trace is incomplete", "", "The run knows it missed I/O:", ""]
        lines += [f"- {reason}" for reason in trace.unseen]
        lines += ["", f"{run.kills_run} real kills were run to look for a failure that needs no trace."]
        if run.unconfirmed:
            lines.append(
                f"{len(run.unconfirmed)} failing states below come from the incomplete trace: they are "
                "**unconfirmed** (the trace may lack the very step that would make them ok)."
            )
        lines.append("")
    if trace.warnings or trace.error:
        lines += ["## Warnings", ""] + [f"- {w}" for w in trace.warnings]
        if trace.error:
            lines.append(f"- the traced workload raised (crash points stop there):\n\n```\n{trace.error}```")
        lines.append("")
    lines += [figure_note or f"![crash map]({CRASH_MAP})", "", "## Outcomes by kind", "", "```", table(run), "```", ""]
    lines += ["## Failures", ""]
    for group in groups(run):
        lines += failure_lines(run, group)
    if not failing:
        lines.append("None.")
    return "\n".join(lines) + "\n"


def results_json(run: ProgramRun) -> dict:
    return {
        "parameters": {
            "target": run.target.spec,
            "kinds": list(run.options.kinds),
            "kill": run.options.kill,
            "seed": run.options.seed,
            "trace": run.options.trace,
        },
        "status": run.status,
        "status_meaning": STATUS_MEANING[run.status],
        "trace_complete": run.trace.complete,
        "unseen": run.trace.unseen,
        "real_kills": run.kills_run,
        "elapsed": round(run.elapsed, 3),
        "judged": run.judged,
        "warnings": run.trace.warnings,
        "workload_error": run.trace.error,
        "trace": [step.to_json() for step in run.trace.steps],
        "acks": [{"token": t, "after_step": a} for t, a in zip(run.trace.tokens, run.trace.ack_after)],
        "states": [
            {**vars(r), **({"repro": repro(run, r), "confirmed": run.confirmed(r)} if not r.ok else {})}
            for r in run.results
        ],
    }


def write(run: ProgramRun, out: str, figures: bool = True) -> None:
    """OUT/results.json, OUT/summary.md and OUT/crash-map.png (a figure that fails is named, not fatal)."""
    os.makedirs(out, exist_ok=True)
    with open(os.path.join(out, "results.json"), "w") as f:
        json.dump(results_json(run), f)
    note = "(crash map not drawn: --no-figures)"
    if figures:
        try:
            crash_map(run, os.path.join(out, CRASH_MAP))
            note = ""
        except Exception as exc:  # the summary must survive a figure that cannot be drawn
            note = f"(crash map not drawn: {type(exc).__name__}: {exc})"
    with open(os.path.join(out, "summary.md"), "w") as f:
        f.write(summary(run, note))


def crash_map(run: ProgramRun, path: str) -> None:
    """The campaign's crash map (faultinject/report/figures.py), one panel, a row per kind."""
    from tornwrite.faultinject.core.execution import WorkloadTrace
    from tornwrite.faultinject.report import figures

    steps = run.trace.steps
    name = run.target.name
    line = WorkloadTrace(
        name,
        len(run.trace.tokens),
        tuple(s.call for s in steps),
        tuple(run.trace.op_of(s.number) for s in steps),
        tuple(f"op {run.trace.op_of(s.number)}" for s in steps),
    )
    outcomes: dict[tuple, list[str]] = {}
    for r in run.results:
        if r.kind != "kill":
            outcomes.setdefault((name, r.kind, r.step, r.phase), []).append(r.outcome)
    points = {key: ENGINE_OUTCOME[worst(found)] for key, found in outcomes.items()}
    kinds = [k for k in run.options.kinds if k in ("process", "power")]
    figures.crash_map(points, [line], path, kinds=kinds, title=f"Crash map of {run.target.spec}")


STATUS_MEANING = {
    0: "every state ok, and the trace is complete",
    1: "a failure the harness stands behind (a complete trace, or a real kill)",
    2: "a usage error",
    3: "no verdict: the trace is known to be incomplete, and no failure was confirmed",
}


def verdict(run: ProgramRun) -> str:
    """The run's verdict in words: what its exit status means for this run."""
    failing = len(run.failures)
    if run.status == 3:
        unconfirmed = f"; {failing} unconfirmed failing states" if failing else ""
        return f"NO VERDICT: the trace missed I/O ({len(run.trace.unseen)} reasons){unconfirmed}"
    if failing:
        return f"{failing} failing ({worst(r.outcome for r in run.failures)} worst)"
    return "every state ok"


def outcome_line(run: ProgramRun) -> str:
    return f"{len(run.results)} crash states, {run.judged} judged, {run.elapsed:.1f} s: {verdict(run)}"
