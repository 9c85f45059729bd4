"""The process kind kills one child per crash point, the workload's prefix run once per batch:
each kill leaves exactly the files a fresh run killed at that point leaves."""

import os
import time
from functools import partial

from tornwrite.faultinject.core import workloads
from tornwrite.faultinject.core.execution import trace
from tornwrite.faultinject.kinds import process
from tornwrite.faultinject.kinds.process import _run_workload, kill_at, kill_each


def files(directory):
    return {name: open(os.path.join(directory, name), "rb").read() for name in sorted(os.listdir(directory))}


def test_each_point_of_a_batch_leaves_the_files_a_fresh_run_killed_there_leaves(tmp_path):
    workload = workloads.build("snapshot-heavy", 0, 14)
    steps = trace(workload)
    chosen = [
        (steps[i].number, phase) for i in (0, 3, len(steps) // 2, len(steps) - 1) for phase in ("before", "after")
    ]
    shared = str(tmp_path / "shared")
    taken = []

    def crashed(number, phase, report):
        taken.append(((number, phase), report, files(shared) if os.path.isdir(shared) else None))

    kill_each(partial(_run_workload, workload, shared), sorted(chosen), crashed)
    assert [point for point, _, _ in taken] == chosen  # in the order the run reaches them
    for (number, phase), report, left in taken:
        alone = str(tmp_path / f"alone{number}{phase}")
        fresh = kill_at(partial(_run_workload, workload, alone), number, phase)
        assert report.killed and fresh.killed
        assert report.acked == fresh.acked, (number, phase)
        assert left == (files(alone) if os.path.isdir(alone) else None), (number, phase)


def test_a_point_the_run_never_reaches_is_reported_not_killed(tmp_path):
    workload = workloads.build("basic", 0, 6)
    last = trace(workload)[-1].number
    taken = []
    kill_each(
        partial(_run_workload, workload, str(tmp_path / "d")),
        [(last, "after"), (last + 5, "before")],
        lambda number, phase, report: taken.append((number, phase, report.killed, report.error)),
    )
    assert taken[0] == (last, "after", True, "")
    assert taken[1][:3] == (last + 5, "before", False) and "ended before" in taken[1][3]


def test_a_runner_that_hangs_is_killed_and_its_points_say_so(monkeypatch):
    monkeypatch.setattr(process, "CHILD_TIMEOUT", 0.5)
    taken = []
    kill_each(lambda runner: time.sleep(60), [(1, "before"), (2, "after")], lambda *args: taken.append(args))
    assert [(number, phase, report.killed) for number, phase, report in taken] == [
        (1, "before", False),
        (2, "after", False),
    ]
    assert all(report.error.startswith("hang") for *_, report in taken)
