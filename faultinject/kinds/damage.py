"""Fault kind "damage": files damaged by something other than a crash, and what recovery makes of them.

A workload runs to its end on the simulated disk; then, case by case, one WAL segment or the
snapshot is damaged (a byte flipped, the file truncated, a stretch duplicated, spliced in from
elsewhere, or zeroed) and the engine recovers the result. One case in RECORD_EVERY instead moves
whole records with their checksums intact (duplicated, dropped, swapped, spliced in from another
segment or an older run: damage_records.py), which only the LSN sequence reveals. Allowed: a
CorruptDataError naming file and offset, exactly where the format reader refuses too and for the
same file; or a state equal to both the format reader's and the op model's after some prefix of
the workload (damage may cost the records after it, never invent one), with every checksummed
record recovery discarded in quarantine/ byte for byte, durably, and a warning naming it.
Anything else, another exception or a state no prefix ever had, fails. Cases are seeded: case
N of a workload is always the same damage. One case in damage_lives.LIFE_EVERY lives on: the
recovered store writes more, the directory is damaged again where recovery cut it, and the same
oracle judges the second recovery, with every earlier quarantine copy still in place.
"""

from __future__ import annotations

import os
import random
from collections.abc import Callable, Iterable

from tornwrite.engine import CorruptDataError, IOLayer, Store
from tornwrite.faultinject.core import workloads
from tornwrite.faultinject.core.describe import file_lines, recovery_lines
from tornwrite.faultinject.core.execution import DATA_DIR, FakeClock, Progress, Step, run
from tornwrite.faultinject.core.results import CrashPoint, StateResult
from tornwrite.faultinject.core.simdisk import Image, SimDisk
from tornwrite.faultinject.core.strata import round_robin
from tornwrite.faultinject.core.verdicts import recover_image
from tornwrite.faultinject.core.workloads import Workload
from tornwrite.faultinject.kinds import damage_lives
from tornwrite.faultinject.kinds.base import Emit, FaultKind, Out, Point, ReproRequest, Subject
from tornwrite.faultinject.kinds.damage_records import (
    RECORD_DAMAGES,
    RecordSource,
    damage_records,
    quarantine_problem,
    record_source,
    recovery_warnings,
    warning_problem,
)
from tornwrite.models.checker import Oracle, Verdict
from tornwrite.models.format_reader import read_files

NAME = "damage"
CASES = 2000  # damaged directories per workload
DAMAGES = ("flip", "truncate", "duplicate", "splice", "zero")
RECORD_EVERY = 4  # case numbers divisible by this move whole records instead of bytes


def final_image(workload: Workload) -> tuple[Image, Progress]:
    """The files a complete run of `workload` leaves (as a process exit would)."""
    disk = SimDisk()
    progress = run(workload, IOLayer(disk), DATA_DIR, lambda *_: None)
    return disk.process_crash_image(), progress


def damage(image: Image, case: int, seed: int) -> tuple[str, str, Image]:
    """(damage description, file damaged, damaged image) for case number `case`."""
    rng = random.Random(f"damage/{seed}/{case}")
    files = image[DATA_DIR]
    names = sorted(n for n in files if n != "LOCK" and files[n])
    logs = [n for n in names if n.startswith("wal-") and files[n].count(b"\n") > 1]
    if damage_lives.lives_on(case) and logs:
        # A case that lives on damages the newest segment's records: what its recovery cuts there is
        # where the store writes on and the next damage lands (the quarantine's bookkeeping twice).
        name = logs[-1]
        start = files[name].index(b"\n") + 1
    else:
        # WAL segments three times as often as snapshots: they are most of what recovery reads.
        name = rng.choice([n for n in names for _ in range(3 if n.startswith("wal-") else 1)])
        start = 0
    data = bytearray(files[name])
    kind = rng.choice(DAMAGES)
    at = rng.randrange(start, len(data))
    length = rng.randint(1, min(64, len(data) - at))
    if kind == "flip":
        data[at] ^= rng.randint(1, 255)
        what = f"byte {at} flipped"
    elif kind == "truncate":
        del data[at:]
        what = f"truncated to {at} bytes"
    elif kind == "duplicate":
        data[at:at] = data[at : at + length]
        what = f"{length} bytes at {at} duplicated"
    elif kind == "splice":
        donor = files[rng.choice(names)]
        start = rng.randrange(len(donor))
        piece = donor[start : start + length]
        data[at : at + len(piece)] = piece
        what = f"{len(piece)} bytes at {at} replaced by bytes from elsewhere"
    else:
        data[at : at + length] = bytes(length)
        what = f"{length} bytes at {at} zeroed"
    damaged = {path: dict(entries) for path, entries in image.items()}
    damaged[DATA_DIR][name] = bytes(data)
    return f"{kind}: {what}", name, damaged


class Sources:
    """What one workload's damage cases are cut from: its final files, the instant its log held
    the most records, and (built only when a case needs it) an older run of the same workload."""

    def __init__(self, workload: Workload):
        self.workload = workload
        self.records = record_source(workload)
        self.image, self.progress = self.records.final, self.records.progress
        self._older: RecordSource | None = None

    @property
    def older(self) -> RecordSource:
        if self._older is None:
            older = workloads.build(self.workload.name, self.workload.seed + 1, len(self.workload.ops))
            self._older = record_source(older)
        return self._older


def damage_case(sources: Sources, case: int, seed: int) -> tuple[str, str, Image]:
    """(damage description, file damaged, damaged image) for case number `case`, bytes or records."""
    if case % RECORD_EVERY == 0:
        rng = random.Random(f"damage-records/{seed}/{case}")
        kind = rng.choice(RECORD_DAMAGES)
        moved = damage_records(sources.records, kind, rng, sources.older if kind == "record-older-run" else None)
        if moved is not None:
            return moved
    # Odd cases damage the instant the log was longest: a final image may hold no WAL record at all.
    return damage(sources.records.image if case % 2 else sources.image, case, seed)


def judge_damaged(
    oracle: Oracle, image: Image, check_time: float, prefixes: int, earlier: dict[str, bytes] | None = None
) -> Verdict:
    """The verdict on recovering `image`; `earlier`: quarantine copies a past life made, which must survive."""
    reading = read_files(image.get(DATA_DIR, {}))
    disk = SimDisk.from_image(image)
    try:
        with recovery_warnings() as warnings:
            store = Store.open(DATA_DIR, io=IOLayer(disk), clock=FakeClock(check_time))
    except CorruptDataError as refused:
        if refused.path is None:
            return Verdict("recovery-failed", f"CorruptDataError without a file: {refused}")
        if reading.refused is None:
            return Verdict("recovery-failed", f"refused a directory the format says recovers: {refused}")
        if os.path.basename(refused.path) not in reading.refused:
            return Verdict(
                "invariant-violated", f"refused for another file than the format reader ({refused} / {reading.refused})"
            )
        return Verdict("ok")
    except Exception as exc:  # anything but a typed refusal is a bug
        return Verdict("recovery-failed", f"{type(exc).__name__} instead of CorruptDataError: {exc}")
    try:
        state = store.dump()
    finally:
        store.close()
    if reading.refused:
        return Verdict("invariant-violated", f"recovered a directory the format says to refuse: {reading.refused}")
    if reading.view(check_time) != state:
        return Verdict("invariant-violated", "engine recovery differs from the format reader's replay")
    lost = quarantine_problem(image, disk.durable_image(), store.recovery)
    lost = lost or damage_lives.copies_lost(earlier or {}, disk.durable_image())
    if lost is not None:
        return Verdict("lost-acked-write", f"recovery discarded records for good: {lost}")
    silent = warning_problem(store.recovery, warnings)
    if silent is not None:
        return Verdict("invariant-violated", silent)
    for prefix in range(prefixes, -1, -1):
        if oracle.view(prefix, check_time) == state:
            return Verdict("ok", matched_prefix=prefix)
    return Verdict("phantom-or-divergent", "the recovered state is the model's after no prefix of the workload")


def check_cases(
    workload: Workload,
    oracle: Oracle,
    cases: Iterable[int],
    emit: Callable[[StateResult], None],
    *,
    mutant: str | None = None,
    sources: Sources | None = None,
) -> None:
    """Damage the workload's files as each of `cases` says, recover and judge; `sources`, the
    workload's undamaged runs, if built already (by the same engine, under the same mutant)."""
    try:
        sources = sources or Sources(workload)
    except Exception as exc:  # the undamaged run failed: the engine's failure, reported per case
        for case in cases:
            point = CrashPoint.of(NAME, workload, case, "-", "run", DATA_DIR, 0, mutant)
            emit(
                StateResult(
                    point,
                    0,
                    "the undamaged run",
                    0,
                    False,
                    0,
                    "invariant-violated",
                    f"the workload's own run raised {type(exc).__name__}: {exc}",
                )
            )
        return
    progress = sources.progress
    check_time = progress.clock.now
    for case in cases:
        description, name, damaged = damage_case(sources, case, workload.seed)
        point = CrashPoint.of(
            NAME,
            workload,
            case,
            "-",
            description.split(":")[0],
            f"{DATA_DIR}/{name}",
            len(workload.ops),
            mutant,
        )
        verdict = judge_damaged(oracle, damaged, check_time, len(workload.ops))
        if verdict.outcome == "ok" and verdict.matched_prefix is not None and damage_lives.lives_on(case):
            again, verdict = second_life(workload, damaged, verdict.matched_prefix, check_time, case)
            description = f"{description}; {again}"
        emit(StateResult(point, 0, description, progress.acked, False, 0, verdict.outcome, verdict.detail))


def second_life(workload: Workload, damaged: Image, prefix: int, check_time: float, case: int) -> tuple[str, Verdict]:
    """Write on after the first recovery, damage again, recover: (what was done, the verdict)."""
    try:
        written, cut = damage_lives.write_on(damaged, check_time)
    except Exception as exc:  # the first recovery was judged ok: the store it gives must carry on
        return "life 2: writing on", Verdict(
            "recovery-failed", f"writing on after recovery: {type(exc).__name__}: {exc}"
        )
    description, again = damage_lives.damage_again(written, cut, case, workload.seed)
    carried_on = [*workload.ops[:prefix], *damage_lives.AFTER]
    oracle = Oracle(carried_on, workload.start_time, workload.initial)
    return description, judge_damaged(
        oracle, again, check_time, len(carried_on), earlier=damage_lives.quarantined(written)
    )


def _repro(subject: Subject, request: ReproRequest, out: Out) -> int:
    workload, oracle, case = subject.workload, subject.oracle, request.step
    sources = Sources(workload)
    progress = sources.progress
    description, name, damaged = damage_case(sources, case, workload.seed)
    out(f"the whole workload ran; then damage case {case}: {name}: {description}")
    out("on disk:")
    out("\n".join(file_lines(damaged.get(DATA_DIR, {}))))
    recovered = recover_image(damaged, progress.clock.now)
    out("recovery:")
    out("\n".join(recovery_lines(recovered)))
    verdict = judge_damaged(oracle, damaged, progress.clock.now, len(workload.ops))
    if verdict.outcome == "ok" and verdict.matched_prefix is not None and damage_lives.lives_on(case):
        again, verdict = second_life(workload, damaged, verdict.matched_prefix, progress.clock.now, case)
        out(again)
    out(
        f"verdict: {verdict.outcome}"
        + (f" (the model's state after op {verdict.matched_prefix})" if verdict.matched_prefix is not None else "")
    )
    if verdict.detail:
        out(verdict.detail)
    return 0 if verdict.outcome == "ok" else 1


class Damage(FaultKind):
    name = NAME
    summary = (
        f"{CASES:,} seeded damaged directories per workload: a byte flipped, truncated, duplicated, spliced, "
        "zeroed; whole records duplicated, dropped, swapped, spliced"
    )
    batch = 250
    steps_of_a_run = False
    label_meaning = "kind of damage"
    zoo_budget = 600
    starts_from_files = False  # its verdict is a prefix of the ops: damage to starting files costs what no op wrote

    def points(self, steps: list[Step]) -> list[Point]:
        return [(case, "-") for case in range(1, CASES + 1)]

    def sample(self, points: list[Point], budget: int, rng: random.Random, steps: list[Step]) -> list[Point]:
        # Each class of case gets a point before any gets a second: cases that live on first (only
        # they recover twice), then whole records moved, then bytes damaged.
        classes: list[list[Point]] = [[], [], []]
        for point in points:
            classes[0 if damage_lives.lives_on(point[0]) else 1 if point[0] % RECORD_EVERY == 0 else 2].append(point)
        return round_robin(classes, budget, rng)

    def check(self, subject: Subject, points: Iterable[Point], emit: Emit) -> None:
        cases = [case for case, _ in points]
        check_cases(subject.workload, subject.oracle, cases, emit, mutant=subject.mutant, sources=_sources(subject))

    def repro_argv(self, result: StateResult) -> list[str]:
        return ["--step", str(result.point.step)]  # a damage case is named by its number alone

    def request_problem(self, request: ReproRequest) -> str | None:
        return None

    def repro(self, subject: Subject, request: ReproRequest, out: Out) -> int:
        return _repro(subject, request, out)


_built: dict[int, tuple[Subject, Sources | None]] = {}  # id(subject) -> its Sources, None if they failed


def _sources(subject: Subject) -> Sources | None:
    """The subject's undamaged runs, built once per worker (a subject lives in one worker, under
    one mutant) rather than once per batch: building them cost a fifth of the kind's time."""
    known = _built.get(id(subject))
    if known is None or known[0] is not subject:
        if len(_built) > 16:
            _built.clear()  # subjects of earlier campaigns in this process (tests, benchmarks)
        try:
            built: Sources | None = Sources(subject.workload)
        except Exception:  # check_cases builds them again and reports the failure per case
            built = None
        known = _built[id(subject)] = (subject, built)
    return known[1]


KIND = Damage()
