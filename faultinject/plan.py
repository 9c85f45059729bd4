"""What a campaign runs: workloads x fault kinds, and how each is sampled."""

from __future__ import annotations

import shlex
from dataclasses import dataclass

from tornwrite.faultinject import invocation
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
    shard: tuple[int, int] | None = None  # (i, n): only the i-th of n deterministic slices of the crash points

    @property
    def run_id(self) -> str:
        parts = ["+".join(self.workloads), f"seed{self.seed}", "+".join(self.kinds)]
        if self.ops:
            parts.append(f"ops{self.ops}")
        if self.budget:
            parts.append(f"budget{self.budget}")
        if self.mutant:
            parts.append(f"mutant-{self.mutant}")
        if self.shard:
            parts.append(f"shard{self.shard[0]}of{self.shard[1]}")
        return "-".join(parts)

    def command(self) -> str:
        """The command line that reruns the whole campaign."""
        argv = [
            *invocation.prefix(),
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
        if self.shard:
            argv += ["--shard", f"{self.shard[0]}/{self.shard[1]}"]
        return shlex.join(argv)

    def parameters(self) -> dict:
        """The plan as results.json records it (merge checks that shards agree on it)."""
        return {
            "workloads": list(self.workloads),
            "seed": self.seed,
            "kinds": list(self.kinds),
            "budget": self.budget,
            "ops": self.ops,
            "mutant": self.mutant,
            "compound": self.compound,
            "shard": list(self.shard) if self.shard else None,
        }

    @classmethod
    def from_parameters(cls, parameters: dict) -> Plan:
        shard = parameters.get("shard")
        return cls(
            tuple(parameters["workloads"]),
            parameters["seed"],
            tuple(parameters["kinds"]),
            parameters["budget"],
            parameters["ops"],
            parameters["mutant"],
            parameters["compound"],
            tuple(shard) if shard else None,
        )
