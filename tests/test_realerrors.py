"""The simulated disk's I/O errors agree with the OS's: the same injected error on a real
directory and on the simulated disk leaves the program the same results and the same state."""

import errno

import pytest

from tornwrite.faultinject.core import realerrors, simdisk, workloads
from tornwrite.faultinject.core.execution import trace
from tornwrite.faultinject.zoo import mutants

WORKLOAD = workloads.build("snapshot-heavy", 0, 20)  # four snapshots: rotations, renames, cuts
STEPS = [step.number for step in trace(WORKLOAD)]
ROTATION = next(step.number for step in trace(WORKLOAD) if step.label == "wal.create" and step.op_index > 0)


def disagreements(code=errno.EIO):
    return [
        step
        for step in STEPS
        if realerrors.on_simulated_disk(WORKLOAD, step, code) != realerrors.on_real_directory(WORKLOAD, step, code)
    ]


@pytest.mark.parametrize("code", [errno.EIO, errno.ENOSPC])
def test_an_error_at_any_step_leaves_the_same_results_and_state_on_a_real_directory(code):
    assert disagreements(code) == []


def test_a_store_writing_through_a_closed_handle_fails_alike_on_both_disks():
    with mutants.active("wal-rotate-closes-old-first"):
        assert disagreements() == []
        failing = realerrors.on_real_directory(WORKLOAD, ROTATION, errno.EIO)
    assert "StoreFailedError" in failing.results  # EBADF, or worse: the OS reused the descriptor


def test_the_real_directory_catches_a_simulated_disk_that_lets_closed_handles_write(monkeypatch):
    monkeypatch.setattr(simdisk.SimDisk, "_open", lambda disk, handle: handle.inode)  # the old, lenient disk
    with mutants.active("wal-rotate-closes-old-first"):
        assert disagreements()
