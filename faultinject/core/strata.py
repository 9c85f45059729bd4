"""Crash points by what a crash there puts at risk: the strata a budgeted sample is drawn from.

A power loss can cost only what is not yet durable: data written to a file since its last
fsync (perhaps torn), and directory entries created, renamed, unlinked or made (mkdir) since the directory's
last fsync. A point's stratum is exactly that, read off the dry run's trace: the roles of the
files holding un-synced data (wal, snapshot, quarantine: a label's first part) and the kinds of
entry change not yet synced. A uniform sample spends its points where the trace is densest (the
WAL's appends and fsyncs, and the clean points between ops) and leaves a snapshot's few steps,
or a cut's, to chance; `stratified` gives each stratum a point before any gets a second, the
most at risk first: more un-synced data roles first, then more kinds of entry change. Seeded:
strata equally at risk are ordered by the sampler's rng, and so is the point taken from each.
"""

from __future__ import annotations

import random
from collections.abc import Iterable

from tornwrite.faultinject.core.execution import Step

Point = tuple[int, str]  # (durable step, "before" | "after")
Stratum = tuple[tuple[str, ...], tuple[str, ...]]  # (roles with un-synced data, kinds of un-synced entry change)

_DATA = {"write", "truncate"}  # change a file's bytes until its fsync
_ENTRIES = {"create", "rename", "unlink", "mkdir"}  # change a directory's entries until its fsync


def strata(steps: Iterable[Step]) -> dict[Point, Stratum]:
    """Each crash point's stratum: what is not yet durable just before or just after its step."""
    data: set[str] = set()
    entries: set[str] = set()
    found: dict[Point, Stratum] = {}
    for step in steps:
        found[(step.number, "before")] = (tuple(sorted(data)), tuple(sorted(entries)))
        role = step.label.split(".")[0]
        if step.op in _DATA:
            data.add(role)
        elif step.op == "fsync":
            data.discard(role)
        elif step.op in _ENTRIES:
            entries.add(step.op)
        elif step.op == "fsync_dir":
            entries.clear()
        found[(step.number, "after")] = (tuple(sorted(data)), tuple(sorted(entries)))
    return found


def stratified(points: list[Point], budget: int, rng: random.Random, steps: Iterable[Step]) -> list[Point]:
    """`budget` of `points`, in order: one from each stratum, most at risk first, then round again."""
    of = strata(steps)
    groups: dict[Stratum, list[Point]] = {}
    for point in points:
        groups.setdefault(of[point], []).append(point)
    ties = {stratum: rng.random() for stratum in sorted(groups)}  # drawn in a fixed order: reproducible
    order = sorted(groups, key=lambda s: (-len(s[0]), -len(s[1]), ties[s]))
    return round_robin([groups[stratum] for stratum in order], budget, rng)


def round_robin(groups: list[list[Point]], budget: int, rng: random.Random) -> list[Point]:
    """`budget` points, in order: a seeded one of each group in turn, then round again."""
    left = [list(group) for group in groups]
    chosen: list[Point] = []
    while len(chosen) < budget and any(left):
        for group in left:
            if group and len(chosen) < budget:
                chosen.append(group.pop(rng.randrange(len(group))))
    return sorted(chosen)
