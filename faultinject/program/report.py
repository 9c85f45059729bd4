"""A program run's report: the outcome x kind table, results.json, summary.md and the crash map.

Failures are grouped by what went wrong (kind, outcome, message): each distinct failure shows
its first crash point in full (the call as written, the file and offset, what was pending, the
file sizes, the exception) with a one-line repro, then the other points where it recurs.
"""

from __future__ import annotations

import json
import os
import shlex
import xml.etree.ElementTree as ElementTree
from collections import Counter

from tornwrite.faultinject import extras, invocation, outdir, verdict
from tornwrite.faultinject.program.judge import OUTCOMES, signature, worst
from tornwrite.faultinject.program.run import ProgramRun, Result

KIND_ORDER = ("process", "power", "kill")
MAX_POINTS_LISTED = 12
MAX_GROUPS_PRINTED = 8  # on the terminal; summary.md lists them all
CRASH_MAP = "crash-map.png"
# The crash map (faultinject/report/figures.py) takes the colour of the engine's nearest outcome
# for each of a program's, and its legend shows the program's names.
ENGINE_OUTCOME = {
    "ok": "ok",
    "durability": "lost-acked-write",
    "invariant": "invariant-violated",
    "integrity": "recovery-failed",
}


def why_no_verdict(run: ProgramRun) -> str:
    """Why the run gives no verdict (status 3): the first thing its trace missed, and how many more."""
    unseen = run.trace.unseen
    more = f" (and {len(unseen) - 1} more reasons in summary.md)" if len(unseen) > 1 else ""
    return (unseen[0] if unseen else "the trace is incomplete") + more


def command(run: ProgramRun, *extra: str) -> str:
    """The command line that reruns `run` (with `extra` arguments)."""
    argv = [*invocation.prefix(), "program", run.target.spec, "--seed", str(run.options.seed)]
    return shlex.join([*argv, *extra])


def repro(run: ProgramRun, result: Result) -> str:
    """One line that reruns `result`'s crash state and narrates it (kill: reruns the kills, timing-dependent)."""
    if result.kind == "kill":
        return command(run, "--kinds", "", "--kill", str(run.kills_run))
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
    arrow = " <-> " if step.op == "exchange" else " -> "  # an exchange swaps both names
    where = step.path + (f" @{step.offset}" if step.op == "write" else "")
    where += arrow + step.target if step.target else ""
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
    points = sorted({(r.step, r.phase) for r in group} - {(first.step, first.phase)})
    if points:
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
        + (f"; {run.kills_run} real kills" if run.kills_run else ""),
        f"- {len(run.results)} crash states ({run.judged} judged, the rest identical to one judged), "
        f"{run.elapsed:.1f} s",
        f"- rerun: `{command(run, '--kinds', ','.join(run.options.kinds))}`",
        f"- trace source: {run.options.trace}" + ("" if trace.complete else " (incomplete: see below)"),
        f"- verdict: **{verdict_line(run)}** (exit status {run.status}: {STATUS_MEANING[run.status]})",
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


FORMAT = "tornwrite-program/1"


def results_json(run: ProgramRun) -> dict:
    return {
        "format": FORMAT,
        "parameters": {
            "target": run.target.spec,
            "name": run.target.name,
            "kinds": list(run.options.kinds),
            "kill": run.options.kill,
            "seed": run.options.seed,
            "trace": run.options.trace,
            "shard": list(run.options.shard) if run.options.shard else None,
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
    """OUT/results.json, OUT/summary.md and OUT/crash-map.png (a figure that fails is named, not
    fatal), into a directory outdir.claim() accepts (it raises OutputError otherwise)."""
    outdir.claim(out)
    with open(os.path.join(out, "results.json"), "w") as f:
        json.dump(results_json(run), f)
    note = "(crash map not drawn: --no-figures)"
    if figures:
        try:
            crash_map(run, os.path.join(out, CRASH_MAP))
            note = ""
        except ModuleNotFoundError as exc:  # a plain install: say which extra draws it
            note = f"(crash map not drawn: it needs {extras.hint(exc.name or '') or exc})"
        except Exception as exc:  # the summary must survive a figure that cannot be drawn
            note = f"(crash map not drawn: {type(exc).__name__}: {exc})"
    with open(os.path.join(out, "summary.md"), "w") as f:
        f.write(summary(run, note))
    outdir.seal(out)


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
    legend = [(outcome, ENGINE_OUTCOME[outcome]) for outcome in OUTCOMES]
    figures.crash_map(points, [line], path, kinds=kinds, title=f"Crash map of {run.target.spec}", legend=legend)


STATUS_MEANING = {
    0: "every state ok, and the trace is complete",
    1: "a failure the harness stands behind (a complete trace, or a real kill)",
    2: "a usage error",
    3: "no verdict: the trace is known to be incomplete, and no failure was confirmed",
}


def verdict_line(run: ProgramRun) -> str:
    """The run in one line, from `run.status`: "every state ok: ...", "FAIL: ..." or "NO VERDICT: ..."."""
    kinds = len({r.kind for r in run.results})
    why = why_no_verdict(run) if run.status == verdict.NO_VERDICT else ""
    return verdict.line(
        run.status, len(run.results), kinds, run.elapsed, distinct=len(groups(run)), failing=len(run.failures), why=why
    )


def write_junit(run: ProgramRun, path: str) -> None:
    """JUnit XML: a testcase per kind, failing with each distinct failure and its repro; a run
    with no verdict (status 3) is an error of every testcase instead."""
    kinds = sorted({r.kind for r in run.results} | set(run.options.kinds), key=KIND_ORDER.index)
    distinct = groups(run)
    root = ElementTree.Element("testsuites", name=f"tornwrite program {run.target.spec}")
    suite = ElementTree.SubElement(root, "testsuite", name="tornwrite-program", tests=str(len(kinds)))
    failing = errors = 0
    for kind in kinds:
        states = [r for r in run.results if r.kind == kind]
        case = ElementTree.SubElement(suite, "testcase", classname=f"tornwrite.program.{kind}", name=run.target.name)
        ElementTree.SubElement(case, "system-out").text = f"{len(states)} crash states judged"
        mine = [g for g in distinct if g[0].kind == kind]
        if run.status == verdict.NO_VERDICT:
            errors += 1
            ElementTree.SubElement(case, "error", type="no-verdict", message=verdict_line(run))
        elif mine:
            failing += 1
            element = ElementTree.SubElement(
                case,
                "failure",
                type=",".join(sorted({g[0].outcome for g in mine})),
                message=f"{len(mine)} distinct failures in {len(states)} crash states",
            )
            element.text = "\n".join(
                f"{g[0].outcome} ({len(g)} states): {crash_point(run, g[0])}\n  {g[0].detail}\n"
                f"  repro: {repro(run, g[0])}"
                for g in mine
            )
    suite.set("failures", str(failing))
    suite.set("errors", str(errors))
    ElementTree.indent(root)
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    ElementTree.ElementTree(root).write(path, encoding="utf-8", xml_declaration=True)
