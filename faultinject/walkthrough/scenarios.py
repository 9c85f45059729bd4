"""`python -m tornwrite.faultinject walkthrough NAME | --all [--out DIR]`: crash stories a learner can follow.

Each scenario (told in wal.py and snapshots.py) runs a few hand-written ops on the simulated disk
with a fixed fake clock, loses power at one chosen step, recovers, and asks the checker; the
story is narrated on the terminal (coloured when stdout is a terminal and NO_COLOR is unset) and
written to DIR/NAME.md with a timeline figure DIR/NAME.png. Every number in them comes from that
run. DIR is docs/walkthroughs by default: the pages are committed, so docs/WALKTHROUGHS.md links
to them in a fresh clone, and tests/test_walkthroughs.py fails when they no longer match a run.
Exit status: 0 when every story's claims still hold, 1 when one does not (the engine changed;
the story must be updated), 2 for a usage error.
"""

from __future__ import annotations

import os
import sys
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from typing import TextIO

from tornwrite.faultinject import outdir
from tornwrite.faultinject.walkthrough.record import StoryBroken
from tornwrite.faultinject.walkthrough.render import BROKEN, LEGEND, WIDTH, Style, chunks, claim_lines, prose_lines
from tornwrite.faultinject.walkthrough.snapshots import (
    mutant_no_dir_fsync,
    snapshot_rename_after,
    snapshot_rename_before,
)
from tornwrite.faultinject.walkthrough.story import Story
from tornwrite.faultinject.walkthrough.wal import power_loss_unsynced, ttl_across_crash, wal_torn_write, wal_truncation


@dataclass(frozen=True)
class Scenario:
    name: str
    title: str
    teaches: str  # one paragraph: what the reader should come away knowing
    tell: Callable[[Story], None]


# In teaching order: --all tells them in this order.
SCENARIOS = {
    scenario.name: scenario
    for scenario in (
        Scenario(
            "wal-torn-write",
            "A power loss tears the last WAL record",
            "How a write becomes durable (append, then fsync, then acknowledge), what a torn record looks "
            "like on disk, and why recovery may discard it: a torn record was never acknowledged.",
            wal_torn_write,
        ),
        Scenario(
            "snapshot-rename-before",
            "Power loss just before a snapshot's rename",
            "The atomic-replace recipe (temp file, fsync, rename, directory fsync) and why a finished but "
            "unrenamed temp file is thrown away: the WAL still holds everything.",
            snapshot_rename_before,
        ),
        Scenario(
            "snapshot-rename-after",
            "Power loss just after a snapshot's rename",
            "Why the WAL is cut only after the snapshot is durable, and why recovery skips records the "
            "snapshot covers: replaying them would append list items twice.",
            snapshot_rename_after,
        ),
        Scenario(
            "wal-truncation",
            "WAL truncation, and a crash during recovery",
            "The WAL cut a snapshot makes, how recovery truncates a torn tail durably, and why recovery must "
            "be idempotent: a second power loss in the middle of it changes nothing.",
            wal_truncation,
        ),
        Scenario(
            "ttl-across-crash",
            "A TTL runs out while the store is down",
            "Why the WAL stores an absolute expire_at, not a relative TTL, and how an expired key can be "
            "physically replayed yet logically invisible.",
            ttl_across_crash,
        ),
        Scenario(
            "power-loss-unsynced",
            "Page cache versus durable bytes",
            "What fsync promises: the durable bytes survive any power loss, the rest may survive whole, "
            "in part or not at all. Why acknowledged writes survive, and what happens when they don't wait.",
            power_loss_unsynced,
        ),
        Scenario(
            "mutant-no-dir-fsync",
            "The bug: a snapshot renamed without a directory fsync",
            "Why a rename needs a directory fsync before anything depends on it: on a mutant that skips it, "
            "the WAL cut persists while the rename vanishes, and recovery must refuse.",
            mutant_no_dir_fsync,
        ),
    )
}

# The committed pages (docs/WALKTHROUGHS.md links them), found next to the package's folder when it
# runs from a checkout; an installed package has none, and then writes nothing unless given --out.
CHECKOUT_OUT = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))), "docs")
DEFAULT_OUT = os.path.join(CHECKOUT_OUT, "walkthroughs") if os.path.isdir(CHECKOUT_OUT) else None
USAGE = "usage: tornwrite walkthrough NAME [NAME ...] | --all  [--out DIR]\n" + (
    f"  (default --out {DEFAULT_OUT}: this checkout's pages)"
    if DEFAULT_OUT
    else "  (without --out the stories are told on the terminal and nothing is written)"
)


def tell(name: str) -> Story:
    """Run scenario `name` and return its story, told."""
    scenario = SCENARIOS[name]
    story = Story(scenario.name, scenario.title, scenario.teaches)
    scenario.tell(story)
    return story


def command(name: str) -> str:
    return f".venv/bin/python -m tornwrite.faultinject walkthrough {name}"


def terminal_lines(story: Story, style: Style, figure: str | None = None) -> list[str]:
    rule = "━" * max(4, WIDTH - len(story.name) - len(story.title) - 7)
    lines = [style(f"━━ {story.name}: {story.title} ", "bold", "magenta") + style(rule, "magenta")]
    lines += prose_lines(f"What it teaches: {story.teaches}", style)
    lines += [style(line, "dim") for line in prose_lines(LEGEND, Style(False))]
    for kind, content in chunks(story, style):
        lines.append("")
        if kind == "heading":
            lines.append(style(f"── {content}", "bold", "magenta"))
        elif kind == "prose":
            lines += prose_lines(content, style)
        elif kind == "claims":
            lines += claim_lines(content, style)
        else:
            lines += content
    if figure:
        lines += ["", style(f"figure: {figure}", "dim")]
    return lines


def markdown(story: Story, figure_name: str) -> str:
    plain = Style(False)
    lines = [
        f"# Walkthrough `{story.name}`: {story.title}",
        "",
        f"> **What it teaches.** {story.teaches}",
        "",
        f"Generated by `make walkthroughs` (this page alone: `{command(story.name)}`): the narration is "
        f"written by hand, every number, listing and verdict comes from running the engine on the "
        f"simulated disk (faultinject/core/simdisk.py) with a fixed fake clock.",
        "",
        f"![timeline of {story.name}]({figure_name})",
        "",
        f"*{LEGEND}*",
    ]
    for kind, content in chunks(story, plain):
        lines.append("")
        if kind == "heading":
            lines.append(f"## {content}")
        elif kind == "prose":
            lines.append(content)
        elif kind == "claims":
            lines += [f"- ✓ {claim.text}" if claim.held else f"- ✗ **{claim.text}** ({BROKEN})" for claim in content]
        else:
            lines += ["```text", *content, "```"]
    return "\n".join(lines) + "\n"


def write(story: Story, out: str) -> tuple[str, str]:
    """Write OUT/NAME.md and OUT/NAME.png; returns their paths."""
    # matplotlib is imported in figure.py, and only when a figure is drawn
    from tornwrite.faultinject.walkthrough import figure as timeline

    outdir.claim(out)
    figure = os.path.join(out, f"{story.name}.png")
    page = os.path.join(out, f"{story.name}.md")
    text = markdown(story, os.path.basename(figure))
    timeline.draw(story, figure, text)
    with open(page, "w", encoding="utf-8") as f:
        f.write(text)
    outdir.seal(out)
    return page, figure


def use_color(stream: TextIO) -> bool:
    # NO_COLOR (https://no-color.org): any non-empty value turns colour off.
    return stream.isatty() and not os.environ.get("NO_COLOR")


def parse(argv: list[str]) -> tuple[list[str], str | None] | str:
    """(names, out) or an error message; out None: write nothing."""
    names, out, everything = [], DEFAULT_OUT, False
    args = list(argv)
    while args:
        arg = args.pop(0)
        if arg == "--all":
            everything = True
        elif arg == "--out":
            if not args:
                return "--out needs a directory"
            out = args.pop(0)
        elif arg.startswith("--out="):
            out = arg.split("=", 1)[1]
        elif arg.startswith("-"):
            return f"unknown option {arg!r}"
        else:
            names.append(arg)
    unknown = [name for name in names if name not in SCENARIOS]
    if unknown:
        return f"unknown walkthrough {unknown[0]!r}"
    if everything == bool(names):
        return "name one or more walkthroughs, or --all"
    return (list(SCENARIOS) if everything else names), out


def main(argv: list[str]) -> int:
    if argv[:1] in (["-h"], ["--help"]):
        print(USAGE + "\nwalkthroughs:\n" + "\n".join(f"  {n:<24} {s.title}" for n, s in SCENARIOS.items()))
        return 0
    parsed = parse(argv)
    if isinstance(parsed, str):
        print(f"{parsed}\n{USAGE}\nwalkthroughs: {', '.join(SCENARIOS)}", file=sys.stderr)
        return 2
    names, out = parsed
    if out:
        try:
            outdir.check_dir(out)
        except outdir.OutputError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 2
    style, warn = Style(use_color(sys.stdout)), Style(use_color(sys.stderr))
    broken = []
    for number, name in enumerate(names):
        try:
            story = tell(name)
        except (StoryBroken, Exception) as exc:  # the engine no longer runs the way the story needs
            traceback.print_exc(file=sys.stderr)
            print(warn(f"{name}: {BROKEN}: {exc}", "red", "bold"), file=sys.stderr)
            broken.append(name)
            continue
        page, figure = write(story, out) if out else (None, None)
        if number:
            print()
        print("\n".join(terminal_lines(story, style, figure)))
        print(style(f"written: {page}" if page else "not written: give --out DIR to write the page and figure", "dim"))
        if not all(claim.held for claim in story.claims):
            broken.append(name)
    if broken:
        print(warn(f"these stories no longer match the engine: {', '.join(broken)}", "red", "bold"), file=sys.stderr)
        return 1
    return 0
