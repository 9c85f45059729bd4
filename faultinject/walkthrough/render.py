"""Turning a told Story into text: the terminal (ANSI colour optional) and Markdown share it.

`chunks(story, style)` yields ("heading" | "prose" | "code", content); the terminal prints code
chunks as they are and wraps prose, Markdown fences the code. Every number shown comes from
the story's blocks; the only words added here are the fixed vocabulary of the listing.
"""

from __future__ import annotations

import os
import re
import textwrap
from collections.abc import Iterator
from typing import Any

from tornwrite.faultinject.core.execution import DATA_DIR
from tornwrite.faultinject.walkthrough.record import (
    Claim,
    Disk,
    FileState,
    Judged,
    RecoveryView,
    Say,
    Section,
    StepView,
    Tally,
    TallyRow,
    Track,
    short_name,
)
from tornwrite.faultinject.walkthrough.story import START_TIME, Story
from tornwrite.models.ops import Op

WIDTH = 100
TAIL_LINES = 3  # the last lines of each file shown in a disk listing
LEGEND = (
    "After each step: durable = bytes an fsync made durable; cached = bytes written but only in the "
    "page cache, which a power loss may drop; a new or renamed name is not durable until its directory "
    "is fsynced. File names are shortened: wal-…001.log is wal-00000000000000000001.log."
)


class Style:
    """ANSI colours, or none at all."""

    CODES = {
        "bold": "1",
        "dim": "2",
        "italic": "3",
        "red": "31",
        "green": "32",
        "yellow": "33",
        "blue": "34",
        "magenta": "35",
        "cyan": "36",
    }

    def __init__(self, color: bool):
        self.color = color

    def __call__(self, text: str, *names: str) -> str:
        if not self.color or not names or not text:
            return text
        return "\x1b[" + ";".join(self.CODES[n] for n in names) + "m" + text + "\x1b[0m"


def outcome_style(outcome: str) -> tuple[str, ...]:
    return ("green", "bold") if outcome == "ok" else ("red", "bold")


def chunks(story: Story, style: Style) -> Iterator[tuple[str, Any]]:
    """("heading" | "prose", str), ("code", list[str]) and, last, ("claims", list[Claim])."""
    for block in story.blocks:
        if isinstance(block, Section):
            yield "heading", block.title
        elif isinstance(block, Say):
            yield "prose", block.text
        elif isinstance(block, Track):
            yield "code", track_lines(block, style)
        elif isinstance(block, RecoveryView):
            yield "code", recovery_lines(block, style)
        elif isinstance(block, Disk):
            yield "code", disk_lines(block, style)
        elif isinstance(block, Judged):
            yield "code", verdict_lines(block, style)
        elif isinstance(block, Tally):
            yield "code", tally_lines(block, style)
    yield "heading", "What this run showed"
    yield "claims", story.claims


# --- steps --------------------------------------------------------------------------------------------


def _where(path: str) -> str:
    return "data/" if path == "." else f"{path} (parent)" if path.startswith("/") else short_name(path)


def step_note(step: StepView, before: tuple[FileState, ...]) -> tuple[str, str]:
    """What the step left behind, in words, and its tone: "volatile" (a power loss may undo some of
    it), "durable" (it is safe), or "" (neither). Read off the directory before and after the step."""
    after = {f.name: f for f in step.files}
    was = {f.name: f for f in before}
    here = after.get(step.path)
    if step.op in ("write", "fsync") and here is not None:
        if here.cached > here.synced:
            return f"{here.cached} B = {here.synced} durable + {here.cached - here.synced} cached", "volatile"
        if here.entry != "durable":
            return f"{here.cached} B, all durable; name not durable yet", "volatile"
        return f"{here.cached} B, all durable", "durable"
    if step.op == "truncate" and here is not None:
        return f"cut to {here.cached} B; {here.synced} B still durable", "volatile"
    if step.op == "create":
        return "new, 0 B; name not durable yet", "volatile"
    if step.op == "rename":
        return f"now {short_name(step.target or '?')}; new name not durable yet", "volatile"
    if step.op == "unlink":
        gone = after.get(step.path)
        if gone is not None and gone.entry == "ghost":
            return "gone from view; still on disk until dir fsync", "volatile"
        return "gone", "durable"
    if step.op == "mkdir":
        return "new directory; its name not durable until its parent's fsync", "volatile"
    if step.op == "fsync_dir":
        if step.path != ".":
            return "the data directory's own name is durable", "durable"
        made = [short_name(n) for n, f in after.items() if f.entry == "durable" and was.get(n, f).entry != "durable"]
        dropped = [short_name(n) for n, f in was.items() if f.entry == "ghost" and n not in after]
        said = [
            f"{what}: {', '.join(names)}"
            for what, names in (("names durable", made), ("gone for good", dropped))
            if names
        ]
        return "; ".join(said) or "no file name was pending", "durable"
    return "", ""


def _step_line(step: StepView, before: tuple[FileState, ...], style: Style) -> str:
    amount = f"{step.nbytes} B" if step.op == "write" else f"to {step.nbytes} B" if step.op == "truncate" else ""
    number, label, rest = f"    {step.number:>3}  ", f"{step.label:<16} ", f"{_where(step.path):<23}{amount:>9}   "
    if not step.ran:
        return style(number + label + rest + "(never ran)", "dim")
    note, tone = step_note(step, before)
    colour = {"volatile": ("yellow",), "durable": ("green",)}.get(tone, ())
    barrier = step.op in ("fsync", "fsync_dir")
    return style(number, "bold" if barrier else "dim") + style(label, "cyan") + rest + style(note, *colour)


def since_start(clock: float) -> str:
    """A fake-clock reading as the reader counts it: seconds since the walkthrough's start."""
    return f"start +{clock - START_TIME:g} s"


def _op_header(track: Track, index: int, style: Style) -> str:
    op = track.ops[index - 1]
    if op.name == "tick" and index <= len(track.clock_at):
        # A tick is the harness moving the fake clock: no store command, nothing to acknowledge.
        clock = track.clock_at[index - 1]
        done = f"harness op, not a store command: the clock moves to {clock!r} ({since_start(clock)})"
        return f"  {style(f'op {index}', 'bold')}  {op!r}   {style(done, 'dim')}"
    if index <= len(track.results):
        result = track.results[index - 1]
        done = (
            f"returned {result!r} (the LSN it covers), acked"
            if op.name == "snapshot"
            else f"returned {result!r}, acked"
        )
        return f"  {style(f'op {index}', 'bold')}  {op!r}   {style(done, 'dim')}"
    return f"  {style(f'op {index}', 'bold')}  {op!r}   " + style("in flight: never returned", "yellow")


def track_lines(track: Track, style: Style) -> list[str]:
    lines = [style(track.title, "bold")]
    previous = track.initial
    shown = -1  # op headers printed so far (0 is Store.open)

    def headers_to(index: int) -> None:
        nonlocal shown
        for op_index in range(shown + 1, index + 1):
            lines.append(_op_header(track, op_index, style) if op_index else f"  {style('Store.open', 'bold')}")
        shown = max(shown, index)

    for step in track.steps:
        if track.ops:
            headers_to(step.op_index)
        lines.append(_step_line(step, previous, style))
        previous = step.files
    if track.crash is not None:
        if track.ops:
            headers_to(track.crash.step.op_index)
        lines += crash_lines(track, style)
        lines += [_step_line(step, (), style) for step in track.never_ran]
        last = track.crash.step.op_index
    else:
        headers_to(len(track.results))
        last = len(track.results)
    rest = [f"op {i} {track.ops[i - 1]!r}" for i in range(last + 1, len(track.ops) + 1)]
    if rest:
        lines.append(style("  never ran: " + "; ".join(rest), "dim"))
    return lines


def crash_lines(track: Track, style: Style) -> list[str]:
    crash = track.power_loss
    lines = [
        style(
            f"  ✗ POWER LOSS {crash.phase} step {crash.step.number} ({crash.step.label}, {_where(crash.step.path)})",
            "red",
            "bold",
        )
    ]
    if track.ops:
        lines.append(f"    {acked_text(track.ops, crash.acked, crash.in_flight)}")
    if not crash.pending_data and not crash.pending_names:
        lines.append("    not yet durable: nothing")
    lines += [f"    not yet durable: {short_name(what)}" for what in crash.pending_data]
    if crash.pending_names:
        lines.append("    name changes since the last dir fsync (a power loss may keep any subset):")
        lines += [f"      {short_name(change)}" for change in crash.pending_names]
    many = f"{len(crash.states)} different disks" if len(crash.states) > 1 else "only 1 disk"
    lines.append(f"    a power loss here may leave {many}; the story follows state #{crash.chosen}:")
    lines.append(f"      {state_text(crash.state.description, _listing(crash.image))}")
    return lines


def _op_list(indices: list[int]) -> str:
    if len(indices) == 1:
        return f"op {indices[0]}"
    if indices == list(range(indices[0], indices[-1] + 1)):
        return f"ops {indices[0]}..{indices[-1]}"
    return "ops " + ", ".join(map(str, indices))


def acked_text(ops: tuple[Op, ...], acked: int, in_flight: bool) -> str:
    """Which store commands returned before the crash; ticks are named apart (they move the clock only)."""
    commands = [i for i in range(1, acked + 1) if ops[i - 1].name != "tick"]
    ticks = [i for i in range(1, acked + 1) if ops[i - 1].name == "tick"]
    text = f"acked: {_op_list(commands)}" if commands else "acked: none"
    if ticks:
        text += f" ({_op_list(ticks)} moved the clock: {'a tick' if len(ticks) == 1 else 'ticks'}, not acked)"
    return text + (f"; op {acked + 1} in flight, never acknowledged" if in_flight else "")


# --- disk, recovery, verdict ----------------------------------------------------------------------------


def _tail(data: bytes) -> list[str]:
    lines = data.split(b"\n")
    whole, torn = lines[:-1], lines[-1]
    shown = [(line + b"\n", "") for line in whole[-TAIL_LINES:]]
    if torn:
        zeros = torn.count(0)
        shown.append((torn, f"<- torn: {len(torn)} B, no newline" + (f", {zeros} zero bytes" if zeros else "")))
    skipped = len(whole) - min(len(whole), TAIL_LINES)
    out = [f"      | ... {skipped} earlier line(s)"] if skipped else []
    for line, note in shown:
        text = line.rstrip(b"\n").replace(b"\0", b"\\0").decode("utf-8", "replace")
        out.append(f"      | {text[:78]}{'...' if len(text) > 78 else ''}" + (f"  {note}" if note else ""))
    return out


def disk_lines(block: Disk, style: Style) -> list[str]:
    lines = [style(block.title, "bold") + style(f"  ({DATA_DIR}, LOCK not shown)", "dim")]
    for name in sorted(block.files):
        lines.append(f"    {style(short_name(name), 'cyan'):<24}  {len(block.files[name]):>5} B")
        lines += [style(line, "red") if "<- torn" in line else line for line in _tail(block.files[name])]
    return lines if block.files else lines + ["    (no files)"]


def value_text(value: object) -> str:
    """A stored value, short: text bytes without b'' quotes, lists and hashes in brackets."""
    if isinstance(value, bytes):
        text = value.decode("ascii", "replace")
        return text if text.isprintable() and "\ufffd" not in text else repr(value)
    if isinstance(value, str):
        return value
    if isinstance(value, list):
        return "[" + ", ".join(map(value_text, value)) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{value_text(k)}: {value_text(v)}" for k, v in sorted(value.items())) + "}"
    return repr(value)


def _state(state: dict) -> str:
    def entry(key: str, kind: str, value: object, expire_at: float | None) -> str:
        shown = repr(value)
        return f"{key} = {shown}" + (f" (expire_at {expire_at!r})" if expire_at is not None else "")

    return "; ".join(entry(key, *state[key]) for key in sorted(state)) or "(empty)"


def recovery_lines(view: RecoveryView, style: Style) -> list[str]:
    track = view.track
    since = f" ({since_start(view.check_time)})" if view.check_time != START_TIME else ""
    lines = [style(f"{track.title}: Store.open at clock {view.check_time!r}{since}", "bold")]
    previous = track.initial
    for step in track.steps:
        lines.append(_step_line(step, previous, style))
        previous = step.files
    if not track.steps:
        lines.append(style("    (no durable step)", "dim"))
    if track.crash is not None:
        return lines + crash_lines(track, style)
    recovered = view.result
    if recovered.error or recovered.state is None:
        return lines + [style(f"  ✗ recovery REFUSED: {short_name(recovered.error or '?')}", "red", "bold")]
    report = view.report
    snapshot = (
        f"{short_name(os.path.basename(report.snapshot))} (LSN {report.snapshot_lsn})" if report.snapshot else "none"
    )
    lines.append(
        f"  snapshot loaded: {snapshot}; records replayed: {report.records_replayed} (last LSN {report.last_lsn})"
    )
    for cut in report.discarded:
        lines.append(
            style(
                f"  discarded: {short_name(os.path.basename(cut.path))} from offset {cut.offset}, "
                f"{cut.nbytes} B, {_plural(cut.records, 'whole record')}",
                "yellow",
            )
        )
        lines.append(style(f"    because: {cut.reason}", "yellow"))
    if report.removed:
        lines.append("  deleted: " + ", ".join(short_name(os.path.basename(p)) for p in report.removed))
    lines.append(f"  recovered state: {_state(recovered.state)}")
    lines += [f"  {op} -> {result!r}" for op, result in view.reads.items()]
    reader = (
        "refuses: " + recovered.reader_refused
        if recovered.reader_refused
        else "agrees"
        if recovered.reader_state == recovered.state
        else "DISAGREES"
    )
    lines.append(f"  format reader (models/format_reader.py): {reader}")
    return lines


def verdict_lines(judged: Judged, style: Style) -> list[str]:
    verdict = judged.verdict
    match = f", the model's state after op {verdict.matched_prefix}" if verdict.matched_prefix is not None else ""
    allowed = f"after op {judged.acked}" + (f" or op {judged.acked + 1} (in flight)" if judged.in_flight else "")
    lines = [
        style(f"verdict: {verdict.outcome}", *outcome_style(verdict.outcome)) + match,
        style(f"  allowed: the model {allowed}, as seen at clock {judged.check_time!r}", "dim"),
    ]
    return lines + [f"  {line}" for line in short_name(verdict.detail).splitlines()]


_SAMPLED = re.compile(r"(torn at |write )\d+(/\d+)|(first )\d+( of)")


def _plural(count: int, word: str) -> str:
    return f"{count} {word}" + ("" if count == 1 else "s")


def state_text(description: str, names: tuple[str, ...]) -> str:
    """A crash state in words: one that differs in which names survived is shown by its listing."""
    parts = description.split("; ")
    if parts[0].startswith("entry changes kept"):
        parts[0] = "files: " + (", ".join(names) or "none")
    return short_name("; ".join(parts))


def _listing(image: dict) -> tuple[str, ...]:
    return tuple(sorted(name for name in image.get(DATA_DIR, {}) if name != "LOCK"))


def _row_text(row: TallyRow) -> str:
    return state_text(row.description, row.names)


def tally_lines(tally: Tally, style: Style) -> list[str]:
    groups: dict[tuple, int] = {}
    for row in tally.rows:
        key = (
            _SAMPLED.sub(lambda m: (m.group(1) or m.group(3)) + "k" + (m.group(2) or m.group(4)), _row_text(row)),
            row.outcome,
            row.matched_prefix,
        )
        groups[key] = groups.get(key, 0) + 1
    counts = ", ".join(f"{outcome} ×{count}" for outcome, count in sorted(tally.outcomes().items()))
    lines = [style(f"{tally.title}: {_plural(len(tally.rows), 'state')}, {counts}", "bold")]
    for (description, outcome, prefix), count in groups.items():
        result = f"after op {prefix}" if prefix is not None else "-"
        lines.append(f"    {style(f'{outcome:<16}', *outcome_style(outcome))} ×{count:<3} {result:<11} {description}")
    return lines


BROKEN = "NO LONGER TRUE: the engine changed; update the story"


def claim_lines(claims: list[Claim], style: Style) -> list[str]:
    lines = []
    for claim in claims:
        mark = style("  ✓ ", "green", "bold") if claim.held else style("  ✗ ", "red", "bold")
        text = claim.text if claim.held else f"{claim.text} ({BROKEN})"
        lines += [
            mark + line.lstrip() if n == 0 else "    " + line.lstrip()
            for n, line in enumerate(prose_lines(text, style, "    "))
        ]
    return lines


# --- prose --------------------------------------------------------------------------------------------


def prose_lines(text: str, style: Style, indent: str = "") -> list[str]:
    """Wrap prose; `code` spans turn cyan and *emphasis* italic (markers dropped either way)."""
    plain = textwrap.wrap(text, WIDTH - len(indent), break_on_hyphens=False, break_long_words=False)
    out: list[str] = []
    marks: list[str] = []
    for line in plain:
        pieces, current = [], ""
        for char in line:
            if char in "`*":
                pieces.append((current, tuple(marks)))
                current = ""
                (marks.remove if char in marks else marks.append)(char)
                continue
            current += char
        pieces.append((current, tuple(marks)))
        out.append(
            indent
            + "".join(
                style(text_, *(["cyan"] if "`" in m else []) + (["italic"] if "*" in m else [])) for text_, m in pieces
            )
        )
    return out
