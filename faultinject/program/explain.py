"""`--explain`: one crash state narrated step by step, like the walkthroughs.

The run's steps up to the crash (with the acks between them), the crash itself, what the crash
left (what was pending, each file's size), and what the program's recover() and check() made of it.
Each ack is drawn on the side of the crash line where this state has it: a process killed just
after a step never made the ack that follows it, a power loss after the same step did (the
trace's acks), so the drawing and the count of acks always agree, and the op in flight is named.
"""

from __future__ import annotations

import json

from tornwrite.faultinject.program.report import crash_point, repro
from tornwrite.faultinject.program.run import ProgramRun, Result

CONTEXT = 30  # steps shown before the crash point (earlier ones are summarised)
AFTER = 3  # steps shown after it, never run
ERROR_LINES = 6  # lines of a failed restart's traceback shown


def narrate(run: ProgramRun, result: Result) -> str:
    trace = run.trace
    lines = [f"Crash test of {run.target.spec} (seed {run.options.seed}): one {result.kind} crash state", ""]
    if result.kind == "kill":
        lines += [f"A real SIGKILL of an uninstrumented run: {result.description}.", ""]
    else:
        crash_after = result.step if result.phase == "after" else result.step - 1
        first = max(1, crash_after - CONTEXT + 1)
        lines.append("The run, step by step (each call as the program made it; acks where the workload acked):")
        if first > 1:
            lines.append(f"       ... {first - 1} earlier steps")
        drawn = _acks_drawn(run, result)
        acks = list(enumerate(zip(trace.tokens, trace.ack_after)))
        marker = f"   ---- the {result.kind} crash, {result.phase} step {result.step} " + "-" * 30
        marked = False
        for step in trace.steps[first - 1 : crash_after + AFTER]:
            done = step.number <= crash_after
            if step.number == crash_after + 1 and not marked:
                lines.append(marker)
                marked = True
            lines.append(
                f"{'   ' if done else ' x '}{step.number:4}  {step.call}" + ("" if done else "   (never happened)")
            )
            if done:
                for index, (token, after) in acks:
                    if after == step.number:
                        if index >= drawn and not marked:  # acked in the trace, but not before this crash
                            lines.append(marker)
                            marked = True
                        lines.append(
                            f"{'   ' if index < drawn else ' x '}        ack {json.dumps(token)}"
                            + ("" if index < drawn else "   (never happened)")
                        )
        if not marked:
            lines.append(marker)
        lines.append("")
        lines.append(f"Crash point: {crash_point(run, result)}.")
        if result.restart:
            lines.append(
                "A process kill here (the page cache survives, so what was not yet durable is still pending), then "
                "a restart: the program's recover() ran on those files and did (traced):"
            )
            lines += [f"      {n:4}  {call}" for n, call in enumerate(run.recoveries[(result.step, result.phase)], 1)]
            lines.append(f"Then a power loss: {result.description}.")
        elif result.life:
            lines += _lives(run, result)
        elif result.kind == "power":
            lines.append(f"A power loss here: {result.description}.")
        else:
            lines.append(
                "A process kill here: the files are exactly as the process left them (the page cache survives)."
            )
    sizes = ", ".join(f"{name} {size} B" for name, size in result.sizes.items()) or "no files at all"
    lines += [
        f"The files it left: {sizes}.",
        f"Acked before the crash: {result.acked} operation{'s' if result.acked != 1 else ''}"
        + (", over every life." if result.life else _reader_note(run, result)),
    ]
    if result.kind != "kill" and not result.life:
        in_flight = run.trace.in_flight_at(result.step, result.phase, _acks_drawn(run, result))
        lines.append(
            "In flight (started, never acked): "
            + (
                f"{json.dumps(in_flight)}; check(state, acked, in_flight) is told it."
                if in_flight is not None
                else "none."
            )
        )
    lines += [
        "",
        f"Outcome: {result.outcome.upper()}" + (f": {result.detail}" if result.detail else ""),
        "",
        f"Reproduce: {repro(run, result)}",
    ]
    return "\n".join(lines) + "\n"


def _lives(run: ProgramRun, result: Result) -> list[str]:
    """The first power loss, then each later life up to this one: what its restart did, and how it ended."""
    lived = run.lived[(result.step, result.phase)][: result.life]
    lines = [f"A power loss here: {result.description.split('; then ')[0]}. The program's recover() read that (ok)."]
    for life in lived:
        acks = list(zip(life.tokens, life.ack_after))
        lines.append(
            f"Later life {life.generation}: the program restarts on those files; its recover() and then resume() "
            "did (traced):"
        )
        marker = f"   ---- the power fails, after its step {life.step} " + "-" * 30
        lines += [f"           ack {json.dumps(t)}" for t, after in acks if after == 0]
        for number, call in enumerate(life.calls[: life.step + (0 if life.error else AFTER)], 1):
            done = number <= life.step
            if number == life.step + 1:
                lines.append(marker)
            lines.append(f"{'   ' if done else ' x '}{number:4}  {call}" + ("" if done else "   (never happened)"))
            if done:
                lines += [f"           ack {json.dumps(t)}" for t, after in acks if after == number]
        if life.error:
            tail = life.error.strip().splitlines()[-ERROR_LINES:]
            lines += ["Then the restart failed, so the program cannot carry on from what its recovery kept:"]
            lines += [f"      {line}" for line in tail]
        else:
            if life.step == len(life.calls):
                lines.append(marker)
            lines.append(f"Then a power loss: {life.state.description}.")
    return lines


def _acks_drawn(run: ProgramRun, result: Result) -> int:
    """How many of the trace's acks this state had made before its crash: a process kill's own
    count (the child stopped before the ack after its step), else the trace's."""
    in_trace = len(run.trace.acked_before(result.step, result.phase))
    return min(result.acked, in_trace) if result.kind == "process" else in_trace


def _reader_note(run: ProgramRun, result: Result) -> str:
    """The acks the count has beyond the drawing: what observe() acked in its look before the crash."""
    extra = result.acked - _acks_drawn(run, result) if result.kind != "kill" else 0
    return f", {extra} of them by observe() just before the crash." if extra > 0 else "."
