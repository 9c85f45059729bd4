"""A campaign's running totals: what the campaign counts while it runs, and the reports write.

Its own module so that the campaign and the reports (report/summary.py, report/junit.py) both
import it, and neither imports the other.
"""

from __future__ import annotations

import time
from collections import Counter, defaultdict
from dataclasses import dataclass, field


@dataclass
class Tally:
    """Running totals, shown while the campaign runs and written at the end."""

    points_total: int
    points_done: int = 0
    outcomes: Counter[tuple[str, str]] = field(default_factory=Counter)  # (kind, outcome) -> states
    states: Counter[str] = field(default_factory=Counter)  # kind -> states
    seconds: dict[str, float] = field(default_factory=lambda: defaultdict(float))  # kind -> worker seconds
    points: Counter[str] = field(default_factory=Counter)  # kind -> crash points
    planned: Counter[str] = field(default_factory=Counter)  # kind -> crash points to run
    started: float = field(default_factory=time.monotonic)

    @property
    def failures(self) -> int:
        return sum(n for (_, outcome), n in self.outcomes.items() if outcome != "ok")
