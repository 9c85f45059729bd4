"""What a campaign found, compactly: every count the reports draw, and the failing states in full.

A campaign of 160,000 states writes a results.json of a few hundred KB rather than one row per
state (`--all-states` adds those rows back). Findings of a campaign's shards add up to the
findings of the whole campaign: `merge` is how `python -m tornwrite.faultinject merge` joins
the shards CI machines ran.

The crash map's cells, one string per workload and kind: character 2 * (step - 1) is the crash
before the step, the next one after it; each is the worst outcome among that point's states
(OUTCOME_CODES), "." where the point was not run.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field

from tornwrite.faultinject.core.results import StateResult, worst
from tornwrite.models.checker import OUTCOMES

OUTCOME_CODES = dict(zip(OUTCOMES, "olpri", strict=True))  # ok, lost, phantom, recovery-failed, invariant
NOT_RUN = "."


@dataclass
class Findings:
    by_kind: Counter = field(default_factory=Counter)  # (kind, outcome) -> states
    by_workload: Counter = field(default_factory=Counter)  # (workload, kind, outcome) -> states
    by_label: Counter = field(default_factory=Counter)  # (kind, label, outcome) -> states
    points: dict = field(default_factory=dict)  # (workload, kind, step, phase) -> worst outcome
    failures: list[StateResult] = field(default_factory=list)

    def add(self, results: Iterable[StateResult]) -> None:
        for r in results:
            p = r.point
            self.by_kind[(p.kind, r.outcome)] += 1
            self.by_workload[(p.workload, p.kind, r.outcome)] += 1
            self.by_label[(p.kind, p.label, r.outcome)] += 1
            key = (p.workload, p.kind, p.step, p.phase)
            self.points[key] = worst((self.points[key], r.outcome)) if key in self.points else r.outcome
            if not r.ok:
                self.failures.append(r)

    def merge(self, other: Findings) -> None:
        self.by_kind.update(other.by_kind)
        self.by_workload.update(other.by_workload)
        self.by_label.update(other.by_label)
        for key, outcome in other.points.items():
            self.points[key] = worst((self.points[key], outcome)) if key in self.points else outcome
        self.failures.extend(other.failures)

    @property
    def states(self) -> int:
        return sum(self.by_kind.values())

    def to_json(self, repro: dict[int, str]) -> dict:
        """The document's findings; `repro[id(failure)]` is each failing state's command."""
        maps: dict[str, dict[str, list[str]]] = {}
        for (workload, kind, step, phase), outcome in self.points.items():
            if phase not in ("before", "after"):
                continue  # not a step of a run (damage cases): counted, never mapped
            cells = maps.setdefault(workload, {}).setdefault(kind, [])
            index = 2 * (step - 1) + (phase == "after")
            cells.extend(NOT_RUN * (index + 1 - len(cells)))
            cells[index] = OUTCOME_CODES[outcome]
        return {
            "by_kind": [[kind, outcome, n] for (kind, outcome), n in sorted(self.by_kind.items())],
            "by_workload": [[w, kind, outcome, n] for (w, kind, outcome), n in sorted(self.by_workload.items())],
            "by_label": [[kind, label, outcome, n] for (kind, label, outcome), n in sorted(self.by_label.items())],
            "crash_map": {w: {kind: "".join(cells) for kind, cells in kinds.items()} for w, kinds in maps.items()},
            "failures": [r.to_json(repro[id(r)]) for r in self.failures],
        }

    @classmethod
    def from_json(cls, document: dict) -> Findings:
        found = cls()
        found.by_kind = Counter({(kind, o): n for kind, o, n in document["by_kind"]})
        found.by_workload = Counter({(w, kind, o): n for w, kind, o, n in document["by_workload"]})
        found.by_label = Counter({(kind, label, o): n for kind, label, o, n in document["by_label"]})
        outcome_of = {code: outcome for outcome, code in OUTCOME_CODES.items()}
        for workload, kinds in document["crash_map"].items():
            for kind, cells in kinds.items():
                for index, code in enumerate(cells):
                    if code != NOT_RUN:
                        phase = "after" if index % 2 else "before"
                        found.points[(workload, kind, index // 2 + 1, phase)] = outcome_of[code]
        found.failures = [StateResult.from_json(row) for row in document["failures"]]
        return found


def distinct(failures: Iterable[StateResult]) -> list[list[StateResult]]:
    """Failing states grouped into distinct failures: one outcome and one shape of the detail's
    first line (shape()), so states that differ only in which op, key, offset or state index they
    name are one failure. In order of first state."""
    groups: dict[tuple[str, str], list[StateResult]] = {}
    for failure in failures:
        groups.setdefault((failure.outcome, shape(failure.detail)), []).append(failure)
    return list(groups.values())


def shape(detail: str) -> str:
    """The first line of `detail` up to its first quoted or bracketed value, numbers as N: the
    message without its data (which the checker's details cut short, so brackets may not close)."""
    line = detail.splitlines()[0] if detail else ""
    return re.sub(r"\d+", "N", re.split(r"[(\[{'\"]", line, maxsplit=1)[0]).strip()
