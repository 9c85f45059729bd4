"""What a campaign records: crash points, the judged state of each, and how to reproduce it."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import asdict, dataclass

from tornwrite.faultinject.core.execution import relative
from tornwrite.faultinject.core.workloads import Workload

RESTART = -1  # the state index of results that restart on the crashed disk (faultinject/restart.py)


@dataclass(frozen=True)
class CrashPoint:
    kind: str  # a fault kind's name (faultinject/kinds/)
    workload: str
    seed: int
    ops: int  # the workload's length (it is rebuilt from name, seed and length)
    step: int  # 1-based durable I/O step of the run (damage: the case number)
    phase: str  # "before" or "after" the step ("-" where a kind has no phases)
    label: str
    path: str
    op_index: int  # the op the step belonged to (0: Store.open)
    mutant: str | None = None

    @classmethod
    def of(
        cls,
        kind: str,
        workload: Workload,
        step: int,
        phase: str,
        label: str,
        path: str,
        op_index: int,
        mutant: str | None = None,
    ) -> CrashPoint:
        """A crash point of `workload`, which repro rebuilds from its name, seed and length."""
        return cls(kind, workload.name, workload.seed, len(workload.ops), step, phase, label, path, op_index, mutant)


@dataclass(frozen=True)
class SecondCrash:
    """A crash during the recovery from the first one."""

    step: int  # 1-based durable step of the recovery (0: after it)
    phase: str  # "before" | "after" the step; a restart's "after-recovery" | "after-carrying-on"
    state: int
    description: str


@dataclass(frozen=True)
class StateResult:
    point: CrashPoint
    state: int  # index of the crash state at this point (power: in enumeration order; process: 0)
    description: str
    acked: int
    in_flight: bool
    observed: int
    outcome: str
    detail: str
    second: SecondCrash | None = None

    @classmethod
    def of(
        cls,
        point: CrashPoint,
        state: int,
        description: str,
        progress,
        verdict,
        *,
        observed: int = 0,
        second: SecondCrash | None = None,
    ) -> StateResult:
        return cls(
            point,
            state,
            description,
            progress.acked,
            progress.in_flight and progress.current > 0,
            observed,
            verdict.outcome,
            verdict.detail,
            second,
        )

    @property
    def ok(self) -> bool:
        return self.outcome == "ok"

    def to_json(self, repro: str | None = None) -> dict:
        """A flat row for results.json; `repro` (its command) is kept for failing states."""
        row = asdict(self)
        point = row.pop("point")
        point["path"] = relative(point["path"])
        row = {**point, **row}
        if self.ok:
            row.pop("detail")
        elif repro is not None:
            row["repro"] = repro
        return row

    @classmethod
    def from_json(cls, row: dict) -> StateResult:
        point = CrashPoint(**{name: row[name] for name in CrashPoint.__dataclass_fields__})
        second = SecondCrash(**row["second"]) if row.get("second") else None
        return cls(
            point,
            row["state"],
            row["description"],
            row["acked"],
            row["in_flight"],
            row["observed"],
            row["outcome"],
            row.get("detail", ""),
            second,
        )


# When a point's states disagree, reports show the worst: a silently wrong state is worse than a
# silent loss, and both are worse than a recovery that refuses loudly.
WORST_FIRST = ("invariant-violated", "phantom-or-divergent", "lost-acked-write", "recovery-failed", "ok")


def worst(outcomes: Iterable[str]) -> str:
    return min(outcomes, key=WORST_FIRST.index)
