"""I/O errors on a real directory: the second check of the simulated disk's error model.

The ioerror kind runs on the simulated disk, which must refuse and fail what the OS refuses and
fails, or a bug the OS would expose passes there (a store writing through a closed handle
did). So the same run is made on a real temporary directory (tmpfs where /dev/shm exists): the
same workload, the same durable step failing with the same errno instead of happening (a hook
raises before the call reaches the OS). What the program saw, op by op, and the state a reopen
of what it left recovers must be the same on both; where they differ, the simulated disk
models the OS wrongly. (Half-done writes and fsyncs that drop pages the OS cannot be made to
do on demand: only the simulated disk checks those.)
"""

from __future__ import annotations

import os
import shutil
import tempfile
from dataclasses import dataclass

from tornwrite.engine import IOEvent, IOLayer, Store
from tornwrite.faultinject.core.execution import DATA_DIR, FakeClock, Progress, clock_after, run
from tornwrite.faultinject.core.simdisk import SimDisk
from tornwrite.faultinject.core.workloads import Workload

TMPFS = "/dev/shm"


@dataclass(frozen=True)
class Seen:
    """What one run with an injected error came to: comparable between the two disks."""

    results: tuple[str, ...]  # per op: "ok" or the error type it raised ("open" first)
    recovered: object  # the reopened store's dump, or the error its open raised


def _failing(step: int, code: int):
    def hook(event: IOEvent, number: int, _progress: Progress) -> None:
        if number == step and event.phase == "before":
            raise OSError(code, f"{os.strerror(code)} (injected)", event.path)

    return hook


def _seen(workload: Workload, io: IOLayer, directory: str, step: int, code: int) -> tuple[str, ...]:
    try:
        progress = run(workload, io, directory, _failing(step, code))
    except OSError as exc:  # only the open may fail with the OSError itself
        return (f"open: {type(exc).__name__}",)
    return ("open: ok", *(type(r).__name__ if isinstance(r, Exception) else "ok" for r in progress.results))


def _recovered(io: IOLayer, directory: str, now: float) -> object:
    try:
        with Store.open(directory, io=io, clock=FakeClock(now)) as store:
            return store.dump()
    except Exception as exc:  # what a reopen raised is part of what is compared
        return f"open raised {type(exc).__name__}"


def on_simulated_disk(workload: Workload, step: int, code: int) -> Seen:
    disk = SimDisk()
    results = _seen(workload, IOLayer(disk), DATA_DIR, step, code)
    if not disk.is_dir(DATA_DIR):  # its creation was the step that failed
        return Seen(results, "no directory")
    reopened = IOLayer(SimDisk.from_image(disk.process_crash_image()))
    return Seen(results, _recovered(reopened, DATA_DIR, clock_after(workload, len(workload.ops))))


def on_real_directory(workload: Workload, step: int, code: int) -> Seen:
    base = tempfile.mkdtemp(prefix="tornwrite-ioerror-", dir=TMPFS if os.path.isdir(TMPFS) else None)
    try:
        directory, copy = os.path.join(base, "data"), os.path.join(base, "reopened")
        results = _seen(workload, IOLayer(), directory, step, code)
        if not os.path.isdir(directory):  # its creation was the step that failed
            return Seen(results, "no directory")
        # The run's store still holds its lock, as a crashed process's would not: reopen a copy.
        shutil.copytree(directory, copy)
        return Seen(results, _recovered(IOLayer(), copy, clock_after(workload, len(workload.ops))))
    finally:
        shutil.rmtree(base, ignore_errors=True)
