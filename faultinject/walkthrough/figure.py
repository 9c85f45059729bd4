"""The timeline figure of a walkthrough: its I/O steps on a line, each file's bytes under them,
and what each life of the store ends with.

One row of panels per `Story.panels` entry (the mutant scenario has two: the mutant and the
real engine). In a panel the tracks (the workload run, then each recovery) follow one another
left to right. The top strip shows every durable step with its number and label, fsyncs and
directory fsyncs as barriers, renames, and the power loss (its tag sits above the strip, clear
of every label); below it, one strip per file shows, after each step, the bytes that are durable
and the bytes only in the page cache, and whether the file's name itself is durable yet. Under
those, each track has a box: for a recovery, the keys and values it recovered and the checker's
verdict (and the clock, when the story moves it), plus any line the story adds (`Story.note`).

Drawn with matplotlib's object API on the Agg canvas (no pyplot, no display); matplotlib is
imported nowhere else. The PNG is palette-quantized to stay small enough to commit, and carries
`source_digest` of what it was drawn from, so a stale committed figure can be told apart.
"""

from __future__ import annotations

import hashlib
import math
import textwrap
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from matplotlib.axes import Axes
from matplotlib.backend_bases import RendererBase
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Patch
from matplotlib.text import Text
from PIL import Image, PngImagePlugin

from tornwrite.faultinject.walkthrough.record import FileState, Track, short_name
from tornwrite.faultinject.walkthrough.render import since_start, value_text
from tornwrite.faultinject.walkthrough.story import START_TIME, Story

DURABLE, CACHED, CUT, GHOST = "#2e7d32", "#f9a825", "#c62828", "#757575"
FSYNC, DIR_FSYNC, RENAME, CRASH = "#1e88e5", "#0d47a1", "#8e24aa", "#d50000"
MARKERS = {
    "write": ("o", CACHED),
    "fsync": ("s", FSYNC),
    "fsync_dir": ("s", DIR_FSYNC),
    "rename": ("D", RENAME),
    "create": ("^", GHOST),
    "unlink": ("X", CUT),
    "truncate": ("v", CUT),
    "mkdir": ("^", GHOST),
}
TRACK_SHADES = ("#f5f5f5", "#e8eef7")
MARKER_Y, LABEL_Y = 0.2, 0.27  # in the top strip: the step markers, and where the step labels start
BOX_CHARS = 38  # a box line longer than this wraps
CHAR_IN = 0.06  # inches one character of a box's 7-pt monospace takes (DejaVu Sans Mono: 0.6 em)
COLUMN_IN = 0.3  # inches per step column, at least
LINE_RATIO = 0.2  # height of one box line, in grid-row units (0.62 in each)
DPI = 110
PNG_COLOURS = 256  # the palette of the saved PNG: no pixel strays far from the drawn colour
PNG_KEY = "walkthrough-source"  # the PNG text chunk holding source_digest


@dataclass
class Column:
    x: int
    kind: str  # "step", "never" (a step the crash prevented), "boot" (the disk a recovery starts from), "refused"
    op: str
    label: str
    files: dict[str, FileState]


@dataclass
class Span:
    title: str
    start: int
    end: int
    crash_x: float | None
    box: list[tuple[str, str]] = field(default_factory=list)  # (line, tone): tone "", "bad" or "dim"


def box_lines(track: Track, show_clock: bool) -> list[tuple[str, str]]:
    """What a track ends with, in short lines: for a recovery its clock, keys and values, the
    story's notes and the checker's verdict; for a workload the clock at the power loss."""
    lines: list[tuple[str, str]] = []
    if track.ops:  # the workload
        if show_clock and track.crash is not None:
            lines.append((f"power loss at {since_start(track.crash.clock)}", ""))
        return _wrapped(lines + [(note, "") for note in track.notes])
    if track.crash is not None:
        return _wrapped([("cut short by a power loss: no state", "dim")])
    if show_clock and track.clock is not None:
        down = f" ({track.down:g} s down)" if track.down else ""
        lines.append((f"clock {since_start(track.clock)}{down}", ""))
    if track.refused:
        lines.append((f"refused to open: {track.refused}", "bad"))
    elif track.state is not None:
        for key in sorted(track.state):
            _, value, expire_at = track.state[key]
            lines.append((f"{key} = {value_text(value)}", ""))
            if expire_at is not None:
                lines.append((f"  expire_at {since_start(expire_at)}", ""))
        if not track.state:
            lines.append(("(no keys)", ""))
    lines += [(note, "") for note in track.notes]
    if track.verdict is not None:
        verdict = track.verdict
        ok = verdict.outcome == "ok" and verdict.matched_prefix is not None
        after = f" (state after op {verdict.matched_prefix})" if ok else ""
        lines.append((f"checker: {verdict.outcome}{after}", "" if verdict.outcome == "ok" else "bad"))
    return _wrapped(lines)


def _wrapped(lines: list[tuple[str, str]]) -> list[tuple[str, str]]:
    return [
        (part, tone)
        for line, tone in lines
        for part in textwrap.wrap(line, BOX_CHARS, subsequent_indent="  ", break_on_hyphens=False)
    ]


def _box_columns(box: list[tuple[str, str]]) -> int:
    """Step columns a box needs, at the narrowest column width."""
    widest = max((len(line) for line, _ in box), default=0)
    return math.ceil((widest * CHAR_IN + 0.2) / COLUMN_IN) if box else 0


def clock_moves(story: Story) -> bool:
    """Whether the story's clock ever reads other than its start: only then do the boxes show it."""
    tracks = [track for _, tracks, _ in story.panels for track in tracks]
    crashes = [t.crash.clock for t in tracks if t.ops and t.crash is not None]
    return any(clock != START_TIME for clock in crashes + [t.clock for t in tracks if t.clock is not None])


def _layout(tracks: list[Track], show_clock: bool, x: int = 0) -> tuple[list[Column], list[Span]]:
    columns, spans = [], []
    for track in tracks:
        start = x
        if track.initial:
            columns.append(Column(x, "boot", "", "disk at start", {f.name: f for f in track.initial}))
            x += 1
        for step in track.steps:
            columns.append(Column(x, "step", step.op, f"{step.number} {step.label}", {f.name: f for f in step.files}))
            x += 1
        if track.refused:
            columns.append(Column(x, "refused", "", "open refused", {}))
            x += 1
        crash_x = x - 0.5 if track.crash is not None else None
        for step in track.never_ran:
            columns.append(Column(x, "never", step.op, f"{step.number} {step.label}", {}))
            x += 1
        box = box_lines(track, show_clock)
        spans.append(Span(track.title, start, x - 1, crash_x, box))
        x = max(x, start + _box_columns(box)) + 1  # room for the box, then a gap between tracks
    return columns, spans


def _file_names(columns: list[Column]) -> list[str]:
    names: list[str] = []
    for column in columns:
        names += [name for name in column.files if name not in names]
    return names


def build(story: Story) -> Figure:
    """`story`'s timeline as a matplotlib Figure (on an Agg canvas, not yet drawn)."""
    moves = clock_moves(story)
    panels: list[tuple[str, list[Column], list[Span]]] = []
    starts: dict[str, int] = {}
    for title, tracks, under in story.panels:
        columns, spans = _layout(tracks, moves, starts.get(under, 0) if under else 0)
        starts = {span.title: span.start for span in spans}  # what the next row may line up under
        panels.append((title, columns, spans))
    last = max(
        span.start + max(span.end - span.start, _box_columns(span.box) - 1) for *_, spans in panels for span in spans
    )
    width = max(11.0, COLUMN_IN * (last + 1.4) + 2.3)
    per_char = 0.075 * (last + 1.4) / (width - 2.2)  # x units one character of a track title takes
    right_edge = max(
        [last + 0.7] + [span.start - 0.45 + per_char * len(span.title) for *_, spans in panels for span in spans]
    )
    lanes = [len(_file_names(columns)) for _, columns, _ in panels]
    boxes = [max(len(span.box) for span in spans) for *_, spans in panels]
    ratios: list[float] = []
    for number, (count, lines) in enumerate(zip(lanes, boxes)):
        ratios += [1.0] if number else []  # a spacer between panels, for the tag and the title
        ratios += [2.3] + [0.95] * count
        ratios += [0.75, LINE_RATIO * lines + 0.25] if lines else []  # a spacer for the tick labels, the boxes
    height = 0.62 * sum(ratios) + 1.7
    fig = Figure(figsize=(width, height), dpi=DPI)
    FigureCanvasAgg(fig)
    grid = fig.add_gridspec(
        len(ratios),
        1,
        height_ratios=ratios,
        hspace=0.1,
        left=2.05 / width,
        right=1 - 0.15 / width,
        top=1 - (1.0 if panels[0][0] else 0.8) / height,
        bottom=1.3 / height,
    )
    row = 0
    for number, ((title, columns, spans), count, lines) in enumerate(zip(panels, lanes, boxes)):
        row += 1 if number else 0  # the spacer
        top = fig.add_subplot(grid[row])
        axes = [top] + [fig.add_subplot(grid[row + 1 + i], sharex=top) for i in range(count)]
        _steps_strip(top, title, columns, spans)
        for ax, name in zip(axes[1:], _file_names(columns)):
            _file_strip(ax, name, columns)
        for ax in axes:
            _barriers(ax, columns, spans, labelled=ax is top)
            ax.set_xlim(-0.7, right_edge)
        bottom = axes[-1]
        bottom.set_xticks([c.x for c in columns])
        bottom.set_xticklabels(
            [c.label.split(" ")[0] if c.kind in ("step", "never") else "" for c in columns], fontsize=7
        )
        bottom.tick_params(axis="x", length=2, pad=2, labelbottom=True)
        bottom.set_xlabel(
            "durable I/O step (numbered per process, as crash points count them)",
            fontsize=7.5,
            color="#616161",
            labelpad=3,
        )
        row += count + 1
        if lines:
            _boxes(fig.add_subplot(grid[row + 1], sharex=top), spans)
            row += 2
    fig.suptitle(f"{story.name}: {story.title}", fontsize=12, fontweight="bold", x=0.01, ha="left")
    fig.legend(
        handles=_legend(),
        loc="lower center",
        ncol=5 if width > 13 else 3,
        fontsize=7.5,
        frameon=False,
        bbox_to_anchor=(0.5, 0.01),
        columnspacing=1.4,
        handlelength=2.2,
    )
    return fig


def source_digest(page: str) -> str:
    """What a figure is drawn from: its story's page (every number in it) and this module's code."""
    return hashlib.sha256(page.encode() + Path(__file__).read_bytes()).hexdigest()


def draw(story: Story, path: str, page: str) -> None:
    """Draw `story`'s timeline to `path`: a palette PNG tagged with `source_digest(page)`."""
    fig = build(story)
    canvas = fig.canvas
    assert isinstance(canvas, FigureCanvasAgg)
    canvas.draw()
    pixels = np.asarray(canvas.buffer_rgba())[:, :, :3]
    image = Image.fromarray(pixels).quantize(PNG_COLOURS, method=Image.Quantize.FASTOCTREE, dither=Image.Dither.NONE)
    info = PngImagePlugin.PngInfo()
    info.add_text(PNG_KEY, source_digest(page))
    image.save(path, optimize=True, pnginfo=info)


def digest_of(path: str) -> str | None:
    """The source digest a walkthrough PNG carries (None: not one of ours)."""
    with Image.open(path) as image:
        text = getattr(image, "text", {})
        return text.get(PNG_KEY)


def collisions(fig: Figure) -> list[tuple[str, str]]:
    """Pairs of visible texts of `fig` that overlap, and texts cut off by its edge ("", text): a
    label someone cannot read. Draws the figure to measure it."""
    canvas = fig.canvas
    assert isinstance(canvas, FigureCanvasAgg)
    canvas.draw()
    renderer: RendererBase = canvas.get_renderer()
    texts = [t for t in fig.findobj(Text) if isinstance(t, Text) and t.get_visible() and t.get_text().strip()]
    boxes = [(t.get_text(), t.get_window_extent(renderer).expanded(0.98, 0.98)) for t in texts]
    frame = fig.bbox
    found = [
        ("", text) for text, box in boxes if not (frame.contains(box.x0, box.y0) and frame.contains(box.x1, box.y1))
    ]
    for i, (text, box) in enumerate(boxes):
        found += [(text, other) for other, box_2 in boxes[i + 1 :] if box.overlaps(box_2)]
    return found


def _steps_strip(ax: Axes, title: str, columns: list[Column], spans: list[Span]) -> None:
    ax.set_ylim(0, 1)
    ax.set_yticks([])
    ax.tick_params(axis="x", labelbottom=False, length=0)
    for side in ("left", "right", "top"):
        ax.spines[side].set_visible(False)
    for number, span in enumerate(spans):
        ax.axvspan(span.start - 0.45, span.end + 0.45, ymin=0, ymax=0.11, color=TRACK_SHADES[number % 2], zorder=0)
        narrow = (span.end - span.start + 1) < 0.25 * len(span.title)  # the title is wider than the track
        ax.text(
            span.start - 0.45 if narrow else (span.start + span.end) / 2,
            0.055,
            span.title,
            ha="left" if narrow else "center",
            va="center",
            fontsize=8,
            fontweight="bold",
        )
        ax.plot([span.start, span.end], [MARKER_Y, MARKER_Y], color="#9e9e9e", lw=1, zorder=1)
        if span.crash_x is not None:
            # The tag goes above the strip: between the rotated step labels there is no room for it.
            ax.text(
                span.crash_x,
                1.05,
                "power loss",
                color=CRASH,
                fontsize=8,
                fontweight="bold",
                ha="center",
                va="bottom",
                transform=ax.get_xaxis_transform(),
                zorder=5,
                bbox=dict(facecolor="white", edgecolor=CRASH, boxstyle="round,pad=0.2", lw=0.8),
            )
    for column in columns:
        marker, colour = {"boot": ("P", "#424242"), "refused": ("X", CRASH)}.get(
            column.kind, MARKERS.get(column.op, ("o", GHOST))
        )
        faded = column.kind == "never"
        ax.plot(
            column.x,
            MARKER_Y,
            marker=marker,
            ms=9 if column.kind == "refused" else 6,
            zorder=3,
            color="white" if faded else colour,
            markeredgecolor="#bdbdbd" if faded else colour,
        )
        text = {"boot": "disk after crash", "refused": column.label}.get(column.kind, column.label.split(" ", 1)[-1])
        ax.text(
            column.x,
            LABEL_Y,
            text,
            rotation=90,
            ha="center",
            va="bottom",
            fontsize=7,
            color="#9e9e9e" if faded else CRASH if column.kind == "refused" else "#212121",
            fontweight="bold" if column.kind == "refused" else "normal",
        )
    if title:
        ax.set_title(title, fontsize=10, loc="left", fontweight="bold", pad=4)


def _file_strip(ax: Axes, name: str, columns: list[Column]) -> None:
    peak = 1
    for column in columns:
        state: FileState | None = column.files.get(name)
        if state is None:
            continue
        if state.entry == "ghost":
            ax.bar(column.x, state.ghost, width=0.7, facecolor="none", edgecolor=GHOST, linestyle=":", lw=1.2)
            peak = max(peak, state.ghost)
            continue
        pending = state.entry == "pending"
        alpha, edge = (0.45, "#424242") if pending else (1.0, "none")
        durable = min(state.cached, state.synced)
        ax.bar(column.x, durable, color=DURABLE, width=0.7, alpha=alpha, edgecolor=edge, linestyle="--", lw=0.8)
        if state.cached > state.synced:
            ax.bar(
                column.x,
                state.cached - state.synced,
                bottom=durable,
                color=CACHED,
                hatch="////",
                width=0.7,
                alpha=alpha,
                edgecolor=edge,
                linestyle="--",
                lw=0.8,
            )
        elif state.synced > state.cached:
            ax.bar(
                column.x,
                state.synced - state.cached,
                bottom=state.cached,
                facecolor="none",
                edgecolor=CUT,
                hatch="xxx",
                width=0.7,
                lw=0.6,
            )
        if state.cached == 0 and state.synced == 0:
            ax.plot(column.x, 0, marker="_", ms=9, color="#424242" if pending else DURABLE)
        peak = max(peak, state.cached, state.synced)
    ax.set_ylim(0, peak * 1.15)
    ax.set_yticks([0, peak])
    ax.set_yticklabels(["0", f"{peak} B"], fontsize=7)
    ax.set_ylabel(short_name(name), rotation=0, ha="right", va="center", fontsize=8, labelpad=6)
    ax.tick_params(axis="x", labelbottom=False, length=0)
    for side in ("right", "top"):
        ax.spines[side].set_visible(False)


def _boxes(ax: Axes, spans: list[Span]) -> None:
    """Each track's box, under its own columns: what a recovery holds and the checker's word on it."""
    ax.set_ylim(0, 1)
    ax.set_yticks([])
    ax.tick_params(axis="x", labelbottom=False, length=0)
    for side in ("left", "right", "top", "bottom"):
        ax.spines[side].set_visible(False)
    ax.set_ylabel("what each\nlife ends with", rotation=0, ha="right", va="center", fontsize=8, labelpad=6)
    for span in spans:
        if not span.box:
            continue
        bad = any(tone == "bad" for _, tone in span.box)
        ax.text(
            span.start - 0.4,
            0.97,
            "\n".join(line for line, _ in span.box),
            ha="left",
            va="top",
            fontsize=7,
            family="monospace",
            linespacing=1.25,
            color=CRASH if bad else "#9e9e9e" if all(tone == "dim" for _, tone in span.box) else "#212121",
            transform=ax.get_xaxis_transform(),
            bbox=dict(facecolor="#fff5f5" if bad else "white", edgecolor=CRASH if bad else "#bdbdbd", lw=0.8),
        )


def _barriers(ax: Axes, columns: list[Column], spans: list[Span], labelled: bool) -> None:
    """fsyncs as barriers just right of their step (what is left of the line is durable), renames, the crash."""
    alpha = 1.0 if labelled else 0.55  # quieter inside the file strips
    for column in columns:
        if column.kind == "never":
            continue
        if column.op == "fsync":
            ax.axvline(column.x + 0.42, color=FSYNC, lw=0.9, ls="--", zorder=0.5, alpha=alpha)
        elif column.op == "fsync_dir":
            ax.axvline(column.x + 0.42, color=DIR_FSYNC, lw=1.6, zorder=0.5, alpha=alpha)
        elif column.op == "rename":
            # In the top strip the line stops below the rename's own label, which sits on the same x.
            top = LABEL_Y - 0.02 if labelled else 1
            ax.axvline(column.x, ymax=top, color=RENAME, lw=1, ls=":", zorder=0.5, alpha=alpha)
    for span in spans:
        if span.crash_x is not None:
            ax.axvline(span.crash_x, color=CRASH, lw=2.6, zorder=4)


def _legend() -> list[Patch | Line2D]:
    return [
        Patch(color=DURABLE, label="durable bytes (fsynced)"),
        Patch(facecolor=CACHED, hatch="////", label="page cache only (a power loss may drop them)"),
        Patch(
            facecolor=DURABLE,
            alpha=0.45,
            edgecolor="#424242",
            linestyle="--",
            label="file's name not durable yet (needs a dir fsync)",
        ),
        Patch(facecolor="none", edgecolor=GHOST, linestyle=":", label="removed, old name still durable"),
        Patch(facecolor="none", edgecolor=CUT, hatch="xxx", label="cut off, cut not fsynced yet"),
        Line2D([], [], color=FSYNC, ls="--", label="fsync (file barrier)"),
        Line2D([], [], color=DIR_FSYNC, lw=1.6, label="dir fsync (names barrier)"),
        Line2D([], [], color=RENAME, ls=":", label="rename"),
        Line2D([], [], color=CRASH, lw=2.6, label="power loss"),
    ]
