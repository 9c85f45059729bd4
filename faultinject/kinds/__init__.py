"""The registry of fault kinds: one line per kind, in the order tables and figures show them.

Adding a kind is one module in this package (a `FaultKind`, see base.py) and one line here.
"""

from __future__ import annotations

import shlex

from tornwrite.faultinject import invocation
from tornwrite.faultinject.core.results import StateResult
from tornwrite.faultinject.kinds import concurrent, damage, ioerror, power, process
from tornwrite.faultinject.kinds.base import FaultKind

REGISTRY: dict[str, FaultKind] = {
    kind.name: kind
    for kind in (
        process.KIND,
        power.KIND,
        ioerror.KIND,
        damage.KIND,
        concurrent.KIND,
    )
}
NAMES = tuple(REGISTRY)


def repro_command(result: StateResult) -> str:
    """The one command that reruns exactly `result`'s crash state, verbosely."""
    point = result.point
    argv = [
        *invocation.prefix(),
        "repro",
        "--kind",
        point.kind,
        "--workload",
        point.workload,
        "--seed",
        str(point.seed),
        "--ops",
        str(point.ops),
    ]
    argv += REGISTRY[point.kind].repro_argv(result)
    if point.mutant:
        argv += ["--mutant", point.mutant]
    return shlex.join(argv)
