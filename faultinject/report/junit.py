"""A campaign as JUnit XML, for CI systems that show test reports.

One testcase per workload x fault kind; it fails when any of its states did, and the failure
text lists every failing state with the one command that reruns it.
"""

from __future__ import annotations

import os
import xml.etree.ElementTree as ElementTree

from tornwrite.faultinject.core.findings import Findings
from tornwrite.faultinject.core.results import StateResult
from tornwrite.faultinject.core.tally import Tally
from tornwrite.faultinject.kinds import REGISTRY, repro_command
from tornwrite.faultinject.plan import Plan


def write_junit(plan: Plan, findings: Findings, tally: Tally, path: str) -> None:
    cases = sorted(
        {(workload, kind) for workload, kind, _ in findings.by_workload},
        key=lambda case: (
            plan.workloads.index(case[0]) if case[0] in plan.workloads else 0,
            list(REGISTRY).index(case[1]) if case[1] in REGISTRY else 0,
        ),
    )
    failing: dict[tuple[str, str], list[StateResult]] = {}
    for failure in findings.failures:
        failing.setdefault((failure.point.workload, failure.point.kind), []).append(failure)
    root = ElementTree.Element(
        "testsuites", name=f"tornwrite crash campaign {plan.run_id}", tests=str(len(cases)), failures=str(len(failing))
    )
    suite = ElementTree.SubElement(
        root, "testsuite", name="crash-campaign", tests=str(len(cases)), failures=str(len(failing))
    )
    for workload, kind in cases:
        states = sum(n for (w, k, _), n in findings.by_workload.items() if (w, k) == (workload, kind))
        case = ElementTree.SubElement(suite, "testcase", classname=f"tornwrite.{kind}", name=workload)
        ElementTree.SubElement(case, "system-out").text = f"{states} crash states judged"
        members = failing.get((workload, kind))
        if members:
            outcomes = sorted({m.outcome for m in members})
            element = ElementTree.SubElement(
                case, "failure", type=",".join(outcomes), message=f"{len(members)} of {states} crash states fail"
            )
            element.text = "\n".join(
                f"{m.outcome} step {m.point.step} {m.point.phase} {m.point.label}: "
                f"{m.detail.splitlines()[0] if m.detail else ''}\n  repro: {repro_command(m)}"
                for m in members
            )
    ElementTree.indent(root)
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    ElementTree.ElementTree(root).write(path, encoding="utf-8", xml_declaration=True)
