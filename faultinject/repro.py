"""`python -m tornwrite.faultinject repro ...`: rerun one crash state, saying everything.

Prints the trace up to the crash, what the disk holds at that moment, what recovery did, and
the checker's verdict; the fault kind (faultinject/kinds/) does the telling. Exit status 0 if
the state is ok, 1 if not, 2 if the command names no such state.
"""

from __future__ import annotations

from tornwrite.faultinject.core import workloads
from tornwrite.faultinject.core.execution import relative, trace
from tornwrite.faultinject.kinds import REGISTRY
from tornwrite.faultinject.kinds.base import Out, ReproRequest, Subject
from tornwrite.faultinject.zoo import mutants
from tornwrite.models.checker import Oracle


def repro(
    kind_name: str,
    workload_name: str,
    seed: int,
    ops: int | None,
    request: ReproRequest,
    mutant: str | None = None,
    out: Out = print,
) -> int:
    kind = REGISTRY[kind_name]
    problem = kind.request_problem(request)
    if problem:
        out(problem)
        return 2
    with mutants.active(mutant) as active:
        workload = workloads.build(workload_name, seed, ops)
        if workload.start and not kind.starts_from_files:
            out(f"--kind {kind.name} does not run workload {workload.name}: it starts from files (a campaign skips it)")
            return 2
        steps = trace(workload)
        subject = Subject(
            workload,
            Oracle(list(workload.ops), workload.start_time, workload.initial),
            {s.number: s for s in steps},
            mutant,
        )
        engine = f" on mutant {active.name}: {active.bug}" if active else " on the real engine"
        out(f"workload {workload.name} (seed {seed}, {len(workload.ops)} ops){engine}")
        if kind.steps_of_a_run:
            if not 1 <= request.step <= len(steps):
                out(f"no such crash point: the run has durable steps 1..{len(steps)}, not {request.step}")
                return 2
            out("trace up to the fault:")
            for s in steps[: request.step]:
                op = workload.ops[s.op_index - 1] if s.op_index else "Store.open"
                out(f"  step {s.number:>4} {s.label:<16} {relative(s.path):<36} {s.nbytes:>7} B   in {op!r:.60}")
        return kind.repro(subject, request, out)
