"""The timeline figure of a walkthrough: its I/O steps on a line, and each file's bytes under them.

One row of panels per `Story.panels` entry (the mutant scenario has two: the mutant and the
real engine). In a panel the tracks (the workload run, then each recovery) follow one another
left to right. The top strip shows every durable step with its number and label, fsyncs and
directory fsyncs as barriers, renames, and the power loss; below it, one strip per file shows,
after each step, the bytes that are durable and the bytes only in the page cache, and whether
the file's name itself is durable yet. Drawn with matplotlib's object API on the Agg canvas
(no pyplot, no display), and matplotlib is imported nowhere else.
"""

from __future__ import annotations

from dataclasses import dataclass

from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Patch

from tornwrite.faultinject.walkthrough.record import FileState, Track, short_name
from tornwrite.faultinject.walkthrough.story import Story

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


@dataclass
class Column:
    x: int
    kind: str  # "step", "never" (a step the crash prevented), "boot" (the disk a recovery starts from)
    op: str
    label: str
    files: dict  # name -> FileState


@dataclass
class Span:
    title: str
    start: int
    end: int
    crash_x: float | None


def _layout(tracks: list[Track], x: int = 0) -> tuple[list[Column], list[Span]]:
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
        spans.append(Span(track.title, start, x - 1, crash_x))
        x += 1  # a gap between tracks
    return columns, spans


def _file_names(columns: list[Column]) -> list[str]:
    names: list[str] = []
    for column in columns:
        names += [name for name in column.files if name not in names]
    return names


def draw(story: Story, path: str) -> None:
    """Draw `story`'s timeline to `path` (PNG)."""
    panels, starts = [], {}
    for title, tracks, under in story.panels:
        columns, spans = _layout(tracks, starts.get(under, 0))
        starts = {span.title: span.start for span in spans}  # what the next row may line up under
        panels.append((title, columns, spans))
    widest = max(len(columns) + len(spans) for _, columns, spans in panels)
    right_edge = max(c.x for _, columns, _ in panels for c in columns) + 0.7  # one x scale for every panel
    lanes = [len(_file_names(columns)) for _, columns, _ in panels]
    ratios = []
    for number, count in enumerate(lanes):
        ratios += ([0.9] if number else []) + [2.3] + [0.95] * count  # a spacer between panels
    width = max(11.0, 0.3 * widest + 2.6)
    per_char = 0.075 * (right_edge + 0.7) / (width - 2.2)  # x units one character of a track title takes
    right_edge = max(
        [right_edge]
        + [
            span.start - 0.45 + per_char * len(span.title)  # room for narrow titles
            for _, _, spans in panels
            for span in spans
        ]
    )
    height = 0.62 * sum(ratios) + 1.7
    fig = Figure(figsize=(width, height))
    FigureCanvasAgg(fig)
    grid = fig.add_gridspec(
        len(ratios),
        1,
        height_ratios=ratios,
        hspace=0.1,
        left=2.05 / width,
        right=1 - 0.15 / width,
        top=1 - (0.85 if panels[0][0] else 0.5) / height,
        bottom=1.3 / height,
    )
    row = 0
    for number, ((title, columns, spans), count) in enumerate(zip(panels, lanes)):
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
    fig.savefig(path, dpi=110)


def _steps_strip(ax, title: str, columns: list[Column], spans: list[Span]) -> None:
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
        ax.plot([span.start, span.end], [0.2, 0.2], color="#9e9e9e", lw=1, zorder=1)
    for column in columns:
        marker, colour = {"boot": ("P", "#424242"), "refused": ("X", CRASH)}.get(
            column.kind, MARKERS.get(column.op, ("o", GHOST))
        )
        faded = column.kind == "never"
        ax.plot(
            column.x,
            0.2,
            marker=marker,
            ms=9 if column.kind == "refused" else 6,
            zorder=3,
            color="white" if faded else colour,
            markeredgecolor="#bdbdbd" if faded else colour,
        )
        text = {"boot": "disk after crash", "refused": column.label}.get(column.kind, column.label.split(" ", 1)[-1])
        ax.text(
            column.x,
            0.27,
            text,
            rotation=90,
            ha="center",
            va="bottom",
            fontsize=7,
            color="#9e9e9e" if faded else CRASH if column.kind == "refused" else "#212121",
            fontweight="bold" if column.kind == "refused" else "normal",
        )
    if title:
        ax.set_title(title, fontsize=10, loc="left", fontweight="bold")


def _file_strip(ax, name: str, columns: list[Column]) -> None:
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
        style = dict(
            width=0.7,
            alpha=0.45 if pending else 1.0,
            edgecolor="#424242" if pending else "none",
            linestyle="--",
            lw=0.8,
        )
        durable = min(state.cached, state.synced)
        ax.bar(column.x, durable, color=DURABLE, **style)
        if state.cached > state.synced:
            ax.bar(column.x, state.cached - state.synced, bottom=durable, color=CACHED, hatch="////", **style)
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


def _barriers(ax, columns: list[Column], spans: list[Span], labelled: bool) -> None:
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
            ax.axvline(column.x, color=RENAME, lw=1, ls=":", zorder=0.5, alpha=alpha)
    for span in spans:
        if span.crash_x is not None:
            ax.axvline(span.crash_x, color=CRASH, lw=2.6, zorder=4)
            if labelled:
                ax.text(
                    span.crash_x,
                    1.0,
                    "power loss",
                    color=CRASH,
                    fontsize=8,
                    fontweight="bold",
                    ha="center",
                    va="top",
                    transform=ax.get_xaxis_transform(),
                    zorder=5,
                    bbox=dict(facecolor="white", edgecolor=CRASH, boxstyle="round,pad=0.2", lw=0.8),
                )


def _legend() -> list:
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
