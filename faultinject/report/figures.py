"""The campaign's figures: where along each workload a crash goes wrong, and how often, by kind and label.

Each figure is drawn from what the campaign returned (or a results.json read back): the states
it judged, and for the crash map each workload's trace as the campaign ran it (under its mutant:
a mutant that skips an fsync also removes that step). Nothing is run or traced again here. File
names are fixed so two runs' reports compare side by side.

matplotlib is imported inside the drawing functions only, with the Agg backend: figures render
headless, and importing this module (summary.py does) costs the campaign's workers nothing.
"""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

from tornwrite.faultinject.core.execution import WorkloadTrace
from tornwrite.faultinject.core.findings import Findings
from tornwrite.faultinject.kinds import REGISTRY
from tornwrite.faultinject.plan import Plan
from tornwrite.models.checker import OUTCOMES

CRASH_MAP = "crash-map.png"
BY_KIND = "outcomes-by-kind.png"
BY_LABEL = "outcomes-by-label.png"
MUTANT_MATRIX = "mutant-matrix.png"

COLOURS = {
    "ok": "#59a14f",
    "lost-acked-write": "#d62728",
    "phantom-or-divergent": "#f28e2b",
    "recovery-failed": "#8e44ad",
    "invariant-violated": "#111111",
}
NOT_RUN = "#dcdcdc"
SNAPSHOT = "#4e79a7"
OPENING = "#9a9a9a"
DPI = 120


# --- the crash map ---------------------------------------------------------------------------------


BANDS = (("snapshot", SNAPSHOT, "snapshot() steps"), ("open", OPENING, "Store.open steps"))  # (op, colour, label)


def crash_map(
    points: dict[tuple, str],
    timelines: Sequence[WorkloadTrace],
    path: str,
    *,
    kinds: Sequence[str],
    title: str = "",
    legend: Sequence[tuple[str, str]] | None = None,
) -> None:
    """One panel per workload: x = crash point (each step: before | after), a row per fault kind,
    coloured by the worst outcome among the point's states (second crashes during recovery included).
    `points`: (workload, kind, step, phase) -> that worst outcome (Findings.points). `legend`:
    (label, outcome whose colour it takes) for a caller with outcome names of its own (a program's)."""
    Figure, Patch, MaxNLocator = load_matplotlib()
    kinds = [k for k in kinds if REGISTRY[k].steps_of_a_run]
    point_worst = {key: outcome for key, outcome in points.items() if key[1] in kinds}
    figure = Figure(
        figsize=(15, 0.9 + 1.1 * len(timelines) + 0.25 * len(kinds) * len(timelines)), layout="constrained", dpi=DPI
    )
    axes = figure.subplots(len(timelines), 1, squeeze=False)[:, 0]
    bands = [band for band in BANDS if any(line.spans(band[0]) for line in timelines)]  # a program has none
    for ax, line in zip(axes, timelines):
        _map_panel(ax, line, kinds, point_worst, MaxNLocator, bands)
    axes[-1].set_xlabel(
        "durable I/O step of the workload, and the op it belongs to (each step's cell: the crash before it | after it)",
        fontsize=9,
    )
    named = legend if legend is not None else [(o, o) for o in OUTCOMES]
    handles = [Patch(color=COLOURS[o], label=label) for label, o in named] + [Patch(color=NOT_RUN, label="not run")]
    handles += [Patch(color=colour, label=label) for _, colour, label in bands]
    figure.legend(handles=handles, loc="outside lower center", ncols=len(handles), frameon=False, fontsize=9)
    figure.suptitle(title or "Crash map: the worst outcome at each crash point", fontsize=12)
    figure.savefig(path)


def _map_panel(
    ax, line: WorkloadTrace, kinds: Sequence[str], point_worst: dict, MaxNLocator, bands: list[tuple[str, str, str]]
) -> None:
    edge = line.steps + 0.5
    counts = []
    for row, kind in enumerate(kinds):
        colours = []
        for number in range(1, line.steps + 1):
            for phase in ("before", "after"):
                outcome = point_worst.get((line.workload, kind, number, phase))
                colours.append(COLOURS[outcome] if outcome else NOT_RUN)
        stretches: dict[str, list[tuple[float, float]]] = {}  # one collection per colour: drawn at once
        for start, length, colour in _runs(colours):
            stretches.setdefault(colour, []).append((0.5 + start / 2, length / 2))
        for colour, xranges in stretches.items():
            failing = colour not in (COLOURS["ok"], NOT_RUN)
            # an edge as wide as a line keeps a lone failing point visible however many steps there are
            ax.broken_barh(
                xranges,
                (row - 0.4, 0.8),
                facecolors=colour,
                edgecolors=colour if failing else "none",
                linewidth=1.2 if failing else 0,
            )
        run = [o for (w, k, _, _), o in point_worst.items() if w == line.workload and k == kind]
        counts.append(f"{kind}: {sum(o != 'ok' for o in run)} of {len(run)} points fail")
    for op_name, colour, _ in bands:
        spans = line.spans(op_name)
        if spans:
            ax.broken_barh(
                [(first - 0.5, last - first + 1) for first, last in spans],
                (-0.95, 0.38),
                facecolors=colour,
                linewidth=0,
            )
        if op_name == "snapshot" and spans:  # the spans' edges, carried down through the rows
            edges = [x for first, last in spans for x in (first - 0.5, last + 0.5)]
            ax.vlines(edges, -0.55, len(kinds) - 0.5, colors=SNAPSHOT, linewidth=0.6, alpha=0.7)
    ax.set_xlim(0.5, edge)
    ax.set_ylim(max(len(kinds), 1) - 0.5, -1.0 if bands else -0.5)
    ax.set_yticks(
        [-0.76, *range(len(kinds))] if bands else range(len(kinds)), ["op", *kinds] if bands else kinds, fontsize=9
    )
    ax.tick_params(axis="y", length=0)
    inner = [int(t) for t in MaxNLocator(nbins=16, integer=True).tick_values(1, line.steps) if 1 < t < line.steps]
    gap = (inner[1] - inner[0]) * 0.6 if len(inner) > 1 else 0  # keep the edge ticks' labels apart
    ticks = sorted({1, *[t for t in inner if min(t - 1, line.steps - t) >= gap], line.steps})
    ax.set_xticks(ticks, [f"{t}\n{line.op_names[t - 1]}" for t in ticks], fontsize=8)
    for spine in ("top", "right", "left"):
        ax.spines[spine].set_visible(False)
    ax.set_title(f"{line.workload}: {line.ops} ops, {line.steps} durable steps", loc="left", fontsize=10)
    ax.set_title("   ".join(counts), loc="right", fontsize=9)


def _runs(colours: list[str]) -> list[tuple[int, int, str]]:
    """(start, length, colour) of each stretch of equal colours."""
    runs: list[tuple[int, int, str]] = []
    for index, colour in enumerate(colours):
        if runs and runs[-1][2] == colour:
            runs[-1] = (runs[-1][0], runs[-1][1] + 1, colour)
        else:
            runs.append((index, 1, colour))
    return runs


# --- outcome counts --------------------------------------------------------------------------------


def outcomes_by_kind(counts: Counter, path: str, *, title: str = "") -> None:
    """Grouped bars: crash states per fault kind and outcome, on a log scale (ok dwarfs the rest).
    `counts`: (kind, outcome) -> states (Findings.by_kind)."""
    Figure, Patch, _ = load_matplotlib()
    kinds = _ordered_kinds({kind for kind, _ in counts})
    figure = Figure(figsize=(max(6.0, 2.6 * len(kinds) + 2), 4.6), layout="constrained", dpi=DPI)
    ax = figure.subplots()
    width = 0.8 / len(OUTCOMES)
    top = max(counts.values(), default=1)
    for j, outcome in enumerate(OUTCOMES):
        for i, kind in enumerate(kinds):
            x = i + (j - (len(OUTCOMES) - 1) / 2) * width
            n = counts[(kind, outcome)]
            if n:
                ax.bar(x, n, width * 0.92, color=COLOURS[outcome])
            ax.text(
                x,
                n * 1.15 if n else 0.8,
                f"{n:,}",
                ha="center",
                va="bottom",
                rotation=90 if n else 0,
                fontsize=8,
                color="black" if n else "#999999",
            )
    ax.set_yscale("log")
    ax.set_ylim(0.7, top * 40)
    ax.set_xlim(-0.5, len(kinds) - 0.5)
    ax.set_xticks(range(len(kinds)), [f"{k}\n{sum(counts[(k, o)] for o in OUTCOMES):,} states" for k in kinds])
    ax.set_ylabel("crash states (log scale)")
    failing = sum(n for (_, o), n in counts.items() if o != "ok")
    ax.set_title(
        title or f"Crash states by fault kind and outcome: {failing:,} of {sum(counts.values()):,} fail", fontsize=11
    )
    ax.legend(
        handles=[Patch(color=COLOURS[o], label=o) for o in OUTCOMES],
        loc="upper right",
        fontsize=8,
        ncols=2,
        frameon=False,
    )
    for spine in ("top", "right"):
        ax.spines[spine].set_visible(False)
    figure.savefig(path)


def outcomes_by_label(counts: Counter, path: str, *, label_order: Sequence[str] = (), title: str = "") -> None:
    """A panel per fault kind: for each I/O label (damage: kind of damage), one bar per outcome
    met there, log scale; a label's failing share is in its name. `counts`: (kind, label,
    outcome) -> states (Findings.by_label)."""
    Figure, Patch, _ = load_matplotlib()
    kinds = _ordered_kinds({kind for kind, _, _ in counts})
    rank = {label: i for i, label in enumerate(label_order)}
    labels = {
        kind: sorted(
            {label for k, label, _ in counts if k == kind}, key=lambda label: (rank.get(label, len(rank)), label)
        )
        for kind in kinds
    }
    rows = [max(1, len(labels[k])) for k in kinds]
    figure = Figure(figsize=(10, 1.2 + 0.34 * sum(rows) + 0.5 * len(kinds)), layout="constrained", dpi=DPI)
    axes = figure.subplots(len(kinds), 1, squeeze=False, height_ratios=rows, sharex=True)[:, 0]
    top = max(counts.values(), default=1)
    for ax, kind in zip(axes, kinds):
        names = []
        for y, label in enumerate(labels[kind]):
            met = [o for o in OUTCOMES if counts[(kind, label, o)]]
            total = sum(counts[(kind, label, o)] for o in OUTCOMES)
            failing = total - counts[(kind, label, "ok")]
            share = "<1%" if failing / total < 0.005 else f"{failing / total:.0%}"  # never "0%" for a failure
            names.append(f"{label}  ({share} fail)" if failing else label)
            height = 0.8 / len(met)
            for j, outcome in enumerate(met):
                n = counts[(kind, label, outcome)]
                bar_y = y - 0.4 + height * (j + 0.5)
                ax.barh(bar_y, n, height * 0.9, color=COLOURS[outcome])
                ax.text(n * 1.08, bar_y, f"{n:,}", va="center", fontsize=7)
        ax.set_yticks(range(len(names)), names, fontsize=8)
        ax.set_ylim(len(names) - 0.5, -0.5)
        ax.set_xscale("log")
        ax.set_xlim(0.8, top * 4)
        failing = sum(n for (k, _, o), n in counts.items() if k == kind and o != "ok")
        what = REGISTRY[kind].label_meaning if kind in REGISTRY else "label"
        ax.set_title(f"{kind}: crash states per {what}; {failing:,} failing", loc="left", fontsize=10)
        for spine in ("top", "right"):
            ax.spines[spine].set_visible(False)
    axes[-1].set_xlabel("crash states (log scale)")
    figure.legend(
        handles=[Patch(color=COLOURS[o], label=o) for o in OUTCOMES],
        loc="outside lower center",
        ncols=len(OUTCOMES),
        frameon=False,
        fontsize=8,
    )
    figure.suptitle(title or "Which steps are dangerous: outcomes by I/O label", fontsize=12)
    figure.savefig(path)


def _ordered_kinds(kinds: set[str]) -> list[str]:
    order = list(REGISTRY)
    return sorted(kinds, key=lambda k: (order.index(k) if k in order else len(order), k))


# --- the bug zoo -----------------------------------------------------------------------------------


def mutant_matrix(
    matrix: dict[str, dict[str, bool | None]], path: str, *, detectors: Sequence[str], title: str = ""
) -> None:
    """Mutants (rows) x detectors (columns): caught (True), missed (False), not expected (None or absent)."""
    Figure, Patch, _ = load_matplotlib()
    from matplotlib.patches import Rectangle

    detectors = list(detectors) + sorted({d for row in matrix.values() for d in row} - set(detectors))
    names = list(matrix)
    figure = Figure(
        figsize=(3.2 + 1.25 * len(detectors), 1.3 + 0.36 * max(1, len(names))), layout="constrained", dpi=DPI
    )
    ax = figure.subplots()
    looks = {
        True: (COLOURS["ok"], "caught", "white"),
        False: (COLOURS["lost-acked-write"], "MISSED", "white"),
        None: ("#eeeeee", "-", "#888888"),
    }
    for y, name in enumerate(names):
        for x, detector in enumerate(detectors):
            colour, text, ink = looks[matrix[name].get(detector)]
            ax.add_patch(Rectangle((x - 0.48, y - 0.45), 0.96, 0.9, facecolor=colour, linewidth=0))
            ax.text(
                x,
                y,
                text,
                ha="center",
                va="center",
                fontsize=8,
                color=ink,
                fontweight="bold" if text == "MISSED" else "normal",
            )
    escaped = [n for n in names if not any(v is True for v in matrix[n].values())]
    ax.set_xlim(-0.5, len(detectors) - 0.5)
    ax.set_ylim(len(names) - 0.5, -0.5)
    ax.set_xticks(range(len(detectors)), detectors)
    ax.xaxis.tick_top()
    ax.set_yticks(range(len(names)), names, fontsize=8)
    for tick, name in zip(ax.get_yticklabels(), names):
        if name in escaped:
            tick.set_color(COLOURS["lost-acked-write"])
            tick.set_fontweight("bold")
    ax.tick_params(length=0)
    for spine in ax.spines.values():
        spine.set_visible(False)
    missed = sum(v is False for row in matrix.values() for v in row.values())
    ax.set_title(
        title
        or f"Bug zoo: {len(names) - len(escaped)} of {len(names)} mutants caught; "
        f"{missed} expected detection{'' if missed == 1 else 's'} missed",
        fontsize=11,
        pad=14,
    )
    ax.set_xlabel(
        "caught: the detector failed the mutant.   MISSED: it passed a mutant it was expected to fail.\n"
        "-: not expected to see this bug (CRASH-MODEL.md and mutants.py say why).",
        fontsize=8,
    )
    figure.savefig(path)


# --- a campaign's figures --------------------------------------------------------------------------


@dataclass(frozen=True)
class Drawn:
    file: str  # relative to the run's directory
    title: str
    caption: str


def campaign_figures(plan: Plan, findings: Findings, out: str, timelines: Sequence[WorkloadTrace]) -> list[Drawn]:
    """Draw every figure of a campaign into `out`, from its findings and the traces it ran;
    what was drawn, for summary.md to link."""
    mapped = [k for k in plan.kinds if REGISTRY[k].steps_of_a_run]
    engine = f" (mutant {plan.mutant})" if plan.mutant else ""
    drawn = []
    if mapped:
        crash_map(
            findings.points,
            timelines,
            os.path.join(out, CRASH_MAP),
            kinds=mapped,
            title=f"Crash map{engine}: the worst outcome at each crash point, seed {plan.seed}",
        )
        drawn.append(
            Drawn(
                CRASH_MAP,
                "Crash map",
                "Each durable I/O step of each workload, crashed before and "
                "after it; the colour is the worst outcome among that point's crash states, crashes "
                "during recovery included. Blue: the steps of a `snapshot()`."
                + (
                    " The ioerror row is grey after each step: an I/O error replaces a step, so its crash "
                    "point is before the step only."
                    if "ioerror" in mapped
                    else ""
                ),
            )
        )
    outcomes_by_kind(findings.by_kind, os.path.join(out, BY_KIND))
    drawn.append(Drawn(BY_KIND, "Outcomes by fault kind", "Crash states per fault kind and outcome (log scale)."))
    order = [label for line in timelines for label in line.labels]
    outcomes_by_label(
        findings.by_label,
        os.path.join(out, BY_LABEL),
        label_order=list(dict.fromkeys(order)),
        title=f"Which steps are dangerous{engine}: outcomes by I/O label",
    )
    drawn.append(
        Drawn(
            BY_LABEL,
            "Outcomes by I/O label",
            "Crash states per label of the step crashed at "
            "(damage: per kind of damage), one bar per outcome met (log scale).",
        )
    )
    return drawn


def load_matplotlib():
    """(Figure, Patch, MaxNLocator), on the Agg backend: imported here, when a figure is drawn."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib.figure import Figure
    from matplotlib.patches import Patch
    from matplotlib.ticker import MaxNLocator

    return Figure, Patch, MaxNLocator
