"""What a campaign runs: workloads x fault kinds, and how each is sampled."""

from __future__ import annotations

import shlex
from dataclasses import dataclass

from tornwrite.faultinject.kinds import NAMES


@dataclass(frozen=True)
class Plan:
    workloads: tuple[str, ...]
    seed: int = 0
    kinds: tuple[str, ...] = NAMES  # fault kind names (faultinject/kinds/)
    budget: int | None = None  # crash points per workload and kind; None: every one
    ops: int | None = None  # workload length override
    mutant: str | None = None
    compound: bool = True

    @property
    def run_id(self) -> str:
        parts = ["+".join(self.workloads), f"seed{self.seed}", "+".join(self.kinds)]
        if self.ops:
            parts.append(f"ops{self.ops}")
        if self.budget:
            parts.append(f"budget{self.budget}")
        if self.mutant:
            parts.append(f"mutant-{self.mutant}")
        return "-".join(parts)

    def command(self) -> str:
        """The command line that reruns the whole campaign."""
        argv = [
            "python",
            "-m",
            "tornwrite.faultinject",
            "campaign",
            "--workload",
            ",".join(self.workloads),
            "--seed",
            str(self.seed),
            "--kinds",
            ",".join(self.kinds),
        ]
        if self.budget:
            argv += ["--budget", str(self.budget)]
        if self.ops:
            argv += ["--ops", str(self.ops)]
        if self.mutant:
            argv += ["--mutant", self.mutant]
        if not self.compound:
            argv.append("--no-compound")
        return shlex.join(argv)
