"""The damage kind builds a workload's undamaged runs once per subject (one worker, one mutant),
not once per batch, and never shares them between subjects."""

from tornwrite.faultinject.core import workloads
from tornwrite.faultinject.core.execution import trace
from tornwrite.faultinject.kinds import damage
from tornwrite.faultinject.kinds.base import Subject
from tornwrite.models.checker import Oracle


def subject(mutant=None):
    workload = workloads.build("basic", 0, 8)
    steps = {step.number: step for step in trace(workload)}
    return Subject(workload, Oracle(list(workload.ops), workload.start_time), steps, mutant)


def test_undamaged_runs_are_built_once_per_subject_and_never_shared(monkeypatch):
    built = []
    real = damage.Sources
    monkeypatch.setattr(damage, "Sources", lambda workload: built.append(workload) or real(workload))
    first, second = subject(), subject("torn-tail-fatal")
    found = []
    for batch in ([(1, "-"), (2, "-")], [(3, "-"), (4, "-")]):
        damage.KIND.check(first, batch, found.append)
    assert built == [first.workload] and len(found) == 4
    damage.KIND.check(second, [(1, "-")], found.append)
    assert built == [first.workload, second.workload]
