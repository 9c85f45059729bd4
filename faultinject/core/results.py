"""What a campaign records: crash points, the judged state of each, and how to reproduce it."""

from __future__ import annotations

import shlex
from dataclasses import asdict, dataclass

from tornwrite.faultinject.core.execution import relative

RESTART = -1  # the state index of results that restart on the crashed disk (faultinject/restart.py)


@dataclass(frozen=True)
class CrashPoint:
    kind: str  # "process", "power" or "damage"
    workload: str
    seed: int
    ops: int  # the workload's length (it is rebuilt from name, seed and length)
    step: int  # 1-based durable I/O step of the run (damage: the case number)
    phase: str  # "before" or "after" the step
    label: str
    path: str
    op_index: int  # the op the step belonged to (0: Store.open)
    mutant: str | None = None


@dataclass(frozen=True)
class SecondCrash:
    """A crash during the recovery from the first one."""

    step: int  # 1-based durable step of the recovery
    phase: str
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

    def repro(self) -> str:
        """The one command that reruns exactly this crash state, verbosely."""
        p = self.point
        argv = [
            "python",
            "-m",
            "tornwrite.faultinject",
            "repro",
            "--kind",
            p.kind,
            "--workload",
            p.workload,
            "--seed",
            str(p.seed),
            "--ops",
            str(p.ops),
            "--step",
            str(p.step),
        ]
        if p.kind != "damage":  # a damage case is named by its number alone
            argv += ["--phase", p.phase, "--state", str(self.state)]
        if self.second is not None and self.state != RESTART:  # a restart's checks rerun together
            argv += [
                "--recovery-step",
                str(self.second.step),
                "--recovery-phase",
                self.second.phase,
                "--recovery-state",
                str(self.second.state),
            ]
        if p.mutant:
            argv += ["--mutant", p.mutant]
        return shlex.join(argv)

    def to_json(self) -> dict:
        row = asdict(self)
        point = row.pop("point")
        point["path"] = relative(point["path"])
        row = {**point, **row}
        if self.ok:
            row.pop("detail")
        else:
            row["repro"] = self.repro()
        return row
