"""Fault kind "ioerror": a step fails with EIO, ENOSPC or EDQUOT instead of happening.

The workload sees the error and carries on, as a user's program would; afterwards the directory
is reopened and judged. What must hold (docs/CRASH-MODEL.md, "I/O errors"):
- an error on a WAL write or fsync fails that op with StoreFailedError, applies nothing, and
  every later write is refused the same way while reads keep answering from memory; after
  reopening, the op is wholly present or wholly absent (the checker treats it as in flight);
  an ENOSPC that leaves half a record behind never gets that half replayed;
- an error inside a snapshot fails the snapshot (SnapshotError) and nothing else: writes go on,
  no temp file is left, and a later snapshot succeeds; no op fails but the one whose step failed
  (the simulated disk refuses a closed handle, as a real one does, so a store left holding one
  shows here);
- an error during recovery's own repairs makes the open fail with the OSError, and an error at
  its first repair changes nothing on disk; a clean reopen afterwards still recovers;
- a reopen in the same boot (pages a failed fsync dropped still unwritten) that goes on writing
  loses nothing it acks to the next power loss.
"""

from __future__ import annotations

import errno
import os
from collections.abc import Callable, Iterable

from tornwrite.engine import (
    InvalidKeyError,
    InvalidValueError,
    IOEvent,
    IOLayer,
    SnapshotError,
    Store,
    StoreFailedError,
)
from tornwrite.faultinject.core.describe import file_lines
from tornwrite.faultinject.core.execution import DATA_DIR, FakeClock, Progress, Step, StepCounter, run
from tornwrite.faultinject.core.results import CrashPoint, StateResult
from tornwrite.faultinject.core.simdisk import Image, Inode, SimDisk
from tornwrite.faultinject.core.verdicts import Recoveries, judge
from tornwrite.faultinject.core.workloads import Workload
from tornwrite.faultinject.kinds.base import Emit, FaultKind, Out, Point, ReproRequest, Subject
from tornwrite.models import opmodel
from tornwrite.models.checker import Oracle, Verdict
from tornwrite.models.ops import Op

NAME = "ioerror"
# Per kind of step: (errno, whether a write gets half done before failing).
VARIANTS = {
    "write": ((errno.EIO, False), (errno.ENOSPC, True), (errno.EDQUOT, False)),
    "fsync": ((errno.EIO, False),),
    "fsync_dir": ((errno.EIO, False),),
}
OTHER_VARIANTS = ((errno.EIO, False), (errno.ENOSPC, False))


def variants(io_op: str) -> tuple[tuple[int, bool], ...]:
    return VARIANTS.get(io_op, OTHER_VARIANTS)


class FailingDisk(SimDisk):
    """A simulated disk whose next durable operation can be made to fail.

    A failed write may have written half its bytes. A failed fsync leaves the file's dirty pages
    readable but drops them from writeback (Linux marks them clean, and they reach the disk only
    if written again): a later fsync that "succeeds" does not make them durable. That is why a
    store must never retry an fsync and carry on.
    """

    def __init__(self) -> None:
        super().__init__()
        self.armed: tuple[int, bool] | None = None  # (errno, halfway) for the next durable operation
        self.dropped: dict[Inode, list[tuple[int, int]]] = {}  # byte ranges that will never reach the disk

    def _fire(self, path: str) -> None:
        assert self.armed is not None  # called only while armed
        code, _ = self.armed
        self.armed = None
        raise OSError(code, f"{os.strerror(code)} (injected)", path)

    def write(self, handle, data: bytes) -> None:
        if self.armed is not None and self.armed[1]:
            self.armed = (self.armed[0], False)
            self._rewritten(handle.inode, len(handle.inode.data), len(handle.inode.data) + len(data) // 2)
            super().write(handle, data[: len(data) // 2])
        if self.armed is not None:
            self._fire(handle.path)
        self._rewritten(handle.inode, len(handle.inode.data), len(handle.inode.data) + len(data))
        super().write(handle, data)

    def truncate(self, handle, size: int) -> None:
        if self.armed is not None:
            self._fire(handle.path)
        self._rewritten(handle.inode, size, 1 << 62)  # pages past the cut are gone, dropped or not
        super().truncate(handle, size)

    def _rewritten(self, inode: Inode, start: int, end: int) -> None:
        """Bytes written (or cut) again are new pages: a past failure no longer holds them back."""
        if inode in self.dropped:
            self.dropped[inode] = [
                piece
                for low, high in self.dropped[inode]
                for piece in ((low, min(high, start)), (max(low, end), high))
                if piece[0] < piece[1]
            ]

    def fsync(self, handle) -> None:
        inode = handle.inode
        if self.armed is not None:
            # Dropped from writeback: the bytes stay readable but will never reach the disk.
            self.dropped.setdefault(inode, []).extend(
                (op[1], op[1] + len(op[2])) for op in inode.pending if op[0] == "write"
            )
            inode.pending.clear()
            self._fire(handle.path)
        super().fsync(handle)
        for start, end in self.dropped.get(inode, ()):
            # A later fsync "succeeds", but the disk holds zeros where the dropped pages were.
            durable = bytearray(inode.durable)
            durable[start:end] = bytes(len(durable[start:end]))
            inode.durable = bytes(durable)


def _armed_method(name: str):
    def method(self, *args, **options):
        if self.armed is not None:
            self._fire(str(args[0].path if hasattr(args[0], "path") else args[0]))
        return getattr(SimDisk, name)(self, *args, **options)

    return method


for _name in ("create", "fsync_dir", "rename", "unlink", "mkdir"):
    setattr(FailingDisk, _name, _armed_method(_name))


def failing_at(disk: FailingDisk, step: int, code: int, halfway: bool):
    """An on_step hook arming the disk to fail durable step `step` with `code`."""

    def hook(event: IOEvent, number: int, _progress) -> None:
        if number == step and event.phase == "before":
            disk.armed = (code, halfway)

    return hook


def check_points(
    workload: Workload,
    oracle: Oracle,
    points: Iterable[tuple[int, str]],
    steps: dict,
    emit: Callable[[StateResult], None],
    *,
    mutant: str | None = None,
) -> None:
    recoveries = Recoveries()  # this batch's: an image recovered, and its read probe asked, once
    for number, _phase in points:
        step = steps[number]
        for index, (code, halfway) in enumerate(variants(step.op)):
            point = CrashPoint.of(
                NAME,
                workload,
                number,
                "before",
                step.label,
                step.path,
                step.op_index,
                mutant,
            )
            description = f"{errno.errorcode[code]} {'halfway through' if halfway else 'instead of'} {step.op}"
            progress, image, verdict = run_with_error(workload, oracle, step, code, halfway, recoveries)
            emit(StateResult(point, index, description, progress.acked, False, 0, verdict.outcome, verdict.detail))


def run_with_error(
    workload: Workload, oracle: Oracle, step, code: int, halfway: bool, recoveries: Recoveries | None = None
):
    """Run the workload with durable step `step` (an execution.Step) failing; check the run,
    the reopen, and a reopen in the same boot that carries on until a power loss. `recoveries`:
    what this batch recovered already (the same image recovers the same way)."""
    recoveries = recoveries or Recoveries()
    disk = FailingDisk()
    try:
        progress = run(workload, IOLayer(disk), DATA_DIR, failing_at(disk, step.number, code, halfway))
        opened = True
    except Exception as exc:
        progress, opened = Progress(workload, FakeClock(workload.start_time)), False
        if not (isinstance(exc, OSError) and step.op_index == 0):  # only Store.open may raise OSError
            return (
                progress,
                disk.process_crash_image(),
                Verdict("invariant-violated", f"the program saw {type(exc).__name__} instead of a typed error: {exc}"),
            )
    image = disk.process_crash_image()
    problem = _run_problem(workload, progress, step.op_index) if opened else None
    if problem is None and progress.failed == [] and any(name.endswith(".tmp") for name in image.get(DATA_DIR, {})):
        problem = "a failed snapshot left its temp file behind"
    if problem:
        return progress, image, Verdict("invariant-violated", problem)
    failed = progress.failed[0] if progress.failed else None
    acked = failed - 1 if failed else progress.acked
    check_time = progress.clock.now
    problem = _reopen_problem(image, check_time, recoveries)
    if problem:
        return progress, image, Verdict("recovery-failed", problem)
    # Reopened as the program left it, and after a power loss right then: both must hold what was acked.
    for reopened in (image, disk.durable_image()):
        verdict = judge(
            oracle,
            recoveries.image(reopened, check_time),
            acked=acked,
            in_flight=failed is not None,
            check_time=check_time,
        )
        if verdict.outcome != "ok":
            return progress, image, verdict
    assert verdict.matched_prefix is not None  # an ok verdict names the prefix it matched
    return progress, image, _carry_on_after_reopen(workload, disk, verdict.matched_prefix, check_time, recoveries)


AFTER_REOPEN = tuple(Op.of("set", f"after-reopen-{n}", b"#acked after the reopen") for n in range(3))


def _carry_on_after_reopen(
    workload: Workload, disk: FailingDisk, prefix: int, check_time: float, recoveries: Recoveries
) -> Verdict:
    """Reopen in the same boot (the page cache, and any pages a failed fsync dropped, as they
    are), ack a few more writes, lose power: those writes, and the reopened state, must survive."""
    restarted = disk.after_process_crash()
    clock = FakeClock(check_time)
    try:
        store = Store.open(DATA_DIR, io=IOLayer(restarted), clock=clock)
        for op in AFTER_REOPEN:
            op.apply_to(store)
    except Exception as exc:  # the engine's failure, judged
        return Verdict("recovery-failed", f"reopening and writing after the error failed: {type(exc).__name__}: {exc}")
    carried_on = list(workload.ops[:prefix]) + list(AFTER_REOPEN)
    final = recoveries.image(restarted.durable_image(), check_time)
    return Oracle(carried_on, workload.start_time, workload.initial).check(
        acked=len(carried_on),
        in_flight=False,
        recovered=final.state,
        check_time=check_time,
        reader_state=final.reader_state,
        recovery_error=final.error,
    )


def _run_problem(workload: Workload, progress: Progress, injected: int) -> str | None:
    """What the program saw that it should not have, if anything; `injected` is the op whose
    step was made to fail."""
    failed = progress.failed[0] if progress.failed else None
    if failed is not None and failed != injected:
        return (
            f"op {failed} {workload.ops[failed - 1]!r} failed ({progress.results[failed - 1]}), "
            f"yet the injected error hit op {injected}: an error must fail its own op and nothing else"
        )
    state: opmodel.State = workload.initial
    now = workload.start_time
    for index, (op, result) in enumerate(zip(workload.ops, progress.results), start=1):
        if op.name == "tick":
            now += op.args[0]
            continue
        if failed is not None and index > failed:
            if op.is_write and isinstance(result, (InvalidKeyError, InvalidValueError)):
                # Arguments are checked before the store is: a bad one is refused as ever.
                if not opmodel.same_result(opmodel.apply(state, op, now)[1], _as_result(result)):
                    return f"op {index} {op!r} was refused with {result!r}, which the model does not predict"
                continue
            if op.is_write and not isinstance(result, StoreFailedError):
                return f"op {index} {op!r} was accepted after the WAL failed at op {failed}: {result!r}"
            if not op.is_write and op.name != "snapshot":
                expected = opmodel.apply(state, op, now)[1]  # reads answer from memory, unchanged
                if isinstance(result, StoreFailedError) or not opmodel.same_result(expected, _as_result(result)):
                    return f"read {index} {op!r} after the WAL failed gave {result!r}, expected {expected!r}"
            continue
        if isinstance(result, SnapshotError) and any(
            isinstance(later, SnapshotError) for later in progress.results[index:]
        ):
            return f"after snapshot {index} failed, a later snapshot failed too: one error must not break the next"
        if index != failed:
            state = opmodel.apply(state, op, now)[0]
    return None


def _as_result(result: object) -> object:
    return opmodel.Refusal(type(result).__name__) if isinstance(result, Exception) else result


def _reopen_problem(image: Image, check_time: float, recoveries: Recoveries) -> str | None:
    """Fail each durable step of the reopen in turn: the open must fail with that OSError, a
    failure at the first repair must leave the disk as it was, and a clean open afterwards must
    recover what an untroubled one does."""
    steps: list[int] = []
    dry = IOLayer(SimDisk.from_image(image))
    dry.hooks.append(StepCounter(None, lambda event, n, _: steps.append(n) if event.phase == "before" else None))
    try:
        Store.open(DATA_DIR, io=dry, clock=FakeClock(check_time)).close()
    except Exception as exc:  # a failure of the engine under test, reported, never the harness's
        return f"reopening after the error failed: {type(exc).__name__}: {exc}"
    expected = recoveries.image(image, check_time).state if steps else None
    for number in steps:
        disk = SimDisk.from_image(image)
        io = IOLayer(disk)
        io.hooks.append(StepCounter(None, _raise_at(number)))
        try:
            Store.open(DATA_DIR, io=io, clock=FakeClock(check_time)).close()
            return f"recovery went on after its durable step {number} failed"
        except OSError:
            pass
        if number == steps[0] and _data(disk.process_crash_image()) != _data(image):
            return f"a failed first repair (step {number}) changed the directory"
        if recoveries.image(disk.process_crash_image(), check_time).state != expected:
            return f"after recovery failed at its step {number}, a clean open recovers something else"
    return None


def _data(image: Image) -> dict:
    """The files that hold data: LOCK is created by every open and holds none."""
    return {name: content for name, content in image.get(DATA_DIR, {}).items() if name != "LOCK"}


def _raise_at(number: int):
    def hook(event: IOEvent, step: int, _progress) -> None:
        if step == number and event.phase == "before":
            raise OSError(errno.EIO, "Input/output error (injected during recovery)", event.path)

    return hook


def _repro(subject: Subject, request: ReproRequest, out: Out) -> int:
    if request.step not in subject.steps:
        out(f"the run has no durable step {request.step} (it has {len(subject.steps)})")
        return 2
    workload, oracle, step = subject.workload, subject.oracle, subject.steps[request.step]
    options = variants(step.op)
    if not 0 <= request.state < len(options):
        out(f"step {step.number} ({step.op}) has {len(options)} error variants, numbered from 0; not {request.state}")
        return 2
    out(f"I/O ERROR at step {step.number}")
    code, halfway = options[request.state]
    out(
        f"the step fails with {errno.errorcode[code]}"
        + (" after writing half its bytes" if halfway else " instead of happening")
    )
    progress, image, verdict = run_with_error(workload, oracle, step, code, halfway)
    for index, (op, result) in enumerate(zip(workload.ops, progress.results), start=1):
        if index >= step.op_index and (isinstance(result, Exception) or index == step.op_index):
            shown = f"{type(result).__name__}: {result}" if isinstance(result, Exception) else repr(result)
            out(f"  op {index:>3} {op!r:.70} -> {shown}"[:160])
    out("on disk afterwards (the program's view):")
    out("\n".join(file_lines(image.get(DATA_DIR, {}))))
    out(f"verdict: {verdict.outcome}")
    if verdict.detail:
        out(verdict.detail)
    return 0 if verdict.outcome == "ok" else 1


class IOErrors(FaultKind):
    name = NAME
    summary = "each durable step fails with EIO, ENOSPC (halfway through writes) or EDQUOT; the program carries on"
    batch = 12

    def points(self, steps: list[Step]) -> list[Point]:
        return [(step.number, "before") for step in steps]

    def check(self, subject: Subject, points: Iterable[Point], emit: Emit) -> None:
        check_points(subject.workload, subject.oracle, points, subject.steps, emit, mutant=subject.mutant)

    def repro_argv(self, result: StateResult) -> list[str]:
        return ["--step", str(result.point.step), "--phase", "before", "--state", str(result.state)]

    def repro(self, subject: Subject, request: ReproRequest, out: Out) -> int:
        return _repro(subject, request, out)


KIND = IOErrors()
