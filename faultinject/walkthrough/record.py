"""What a walkthrough records, and the I/O hook that records it.

The data model of a story's facts (the directory after each durable step, a crash, the disks a
power loss may leave, what recovery did, the checker's verdict) and `Recorder`, the hook on the
simulated disk's I/O layer that fills it in and stops the run at the crash point. Everything
here is read off the running engine and the simulated disk; nothing is computed from what the
engine is supposed to do. story.py drives it.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field, replace

from tornwrite.engine import IOEvent
from tornwrite.engine.codec import decode_record
from tornwrite.engine.format import LOCK_NAME
from tornwrite.engine.recovery import RecoveryReport
from tornwrite.faultinject.core.execution import DATA_DIR, Progress, Step, relative
from tornwrite.faultinject.core.simdisk import CrashState, Image, SimDisk
from tornwrite.faultinject.core.verdicts import Recovered
from tornwrite.faultinject.kinds import power
from tornwrite.models.checker import Verdict
from tornwrite.models.ops import Op

SEED = 0  # seeds the choice among power-loss states when there are too many to list


@dataclass(frozen=True)
class FileState:
    """One name in the data directory at one instant."""

    name: str
    cached: int  # bytes the process sees under this name (0 for a ghost: the name is gone)
    synced: int  # bytes of that file an fsync made durable (0 for a ghost)
    entry: str  # "durable"; "pending": the name exists but no dir fsync has made it durable;
    #             "ghost": the name is gone, but its old entry is still the durable one
    ghost: int = 0  # a ghost's durable bytes: what a power loss would bring back


@dataclass(frozen=True)
class StepView:
    number: int  # 1-based among the run's durable steps, as crash points count them
    op: str  # create, write, fsync, fsync_dir, rename, truncate, unlink, mkdir
    label: str  # the engine's name for it: wal.append, snapshot.rename, ...
    path: str  # relative to the data directory ("." is the directory itself)
    nbytes: int  # bytes written (writes) or the new size (truncates)
    target: str | None  # a rename's new name
    op_index: int  # the workload op it belongs to (0: Store.open, or a recovery)
    files: tuple[FileState, ...]  # the directory right after the step (empty if it never ran)
    ran: bool = True


@dataclass(frozen=True)
class CrashAt:
    """Where to crash: the `nth` step labelled `label` (in workload op `op`, if given), before
    or after it. Named by label, not number, so a story survives steps added elsewhere."""

    label: str
    phase: str
    op: int | None = None
    nth: int = 1


@dataclass
class CrashView:
    step: StepView  # the step the crash is before or after
    phase: str
    acked: int  # ops that returned before the power went
    in_flight: bool  # op acked + 1 had started
    clock: float
    files: tuple[FileState, ...]  # the directory as the process saw it at the crash
    pending_data: tuple[str, ...]  # file data written and not yet fsynced, in words
    pending_names: tuple[str, ...]  # creates, renames, unlinks since the last directory fsync
    states: tuple[CrashState, ...]  # every disk this power loss may leave
    chosen: int  # the state the story follows
    process_image: Image  # what a process crash (SIGKILL) at the same instant would leave

    @property
    def state(self) -> CrashState:
        return self.states[self.chosen]

    @property
    def image(self) -> Image:
        return self.state.image


@dataclass
class Track:
    """One life of the store: a workload run, or one recovery. Drawn as one stretch of the timeline."""

    title: str
    initial: tuple[FileState, ...]  # the directory before the first step
    steps: list[StepView] = field(default_factory=list)
    never_ran: list[StepView] = field(default_factory=list)  # the crashed op's steps that never happened
    crash: CrashView | None = None
    ops: tuple[Op, ...] = ()
    results: list = field(default_factory=list)  # what each acked op returned
    clock_at: list[float] = field(default_factory=list)  # the clock after each acked op
    refused: str | None = None  # a recovery that refused to open: the error
    clock: float | None = None  # a recovery's clock (its check time)
    down: float | None = None  # a recovery: seconds between the workload's power loss and this start
    state: dict | None = None  # what a recovery that opened holds: key -> (kind, value, expire_at)
    verdict: Verdict | None = None  # the checker's verdict on this recovery, once judged
    notes: list[str] = field(default_factory=list)  # what the story adds to this track's box in the figure

    @property
    def power_loss(self) -> CrashView:
        """The crash that ended this track; StoryBroken if it never crashed."""
        if self.crash is None:
            raise StoryBroken(f"{self.title}: the story needs a power loss here and there was none")
        return self.crash


@dataclass
class RecoveryView:
    track: Track
    check_time: float
    recovered: Recovered | None  # None when this recovery was itself crashed
    reads: dict = field(default_factory=dict)  # op repr -> result, read from the recovered store

    @property
    def result(self) -> Recovered:
        """What the recovery gave; StoryBroken if it was itself cut short by a power loss."""
        if self.recovered is None:
            raise StoryBroken(f"{self.track.title}: the story needs this recovery to finish, and it was crashed")
        return self.recovered

    @property
    def report(self) -> RecoveryReport:
        """The engine's recovery report; StoryBroken if the store refused to open."""
        report = self.result.report
        if not isinstance(report, RecoveryReport):
            raise StoryBroken(f"{self.track.title}: the story needs the store to open; it said {self.result.error}")
        return report


@dataclass
class Judged:
    verdict: Verdict
    acked: int
    in_flight: bool
    check_time: float


@dataclass(frozen=True)
class TallyRow:
    description: str  # the simulated disk's description of the state
    names: tuple[str, ...]  # the files the state holds (LOCK left out)
    outcome: str
    matched_prefix: int | None
    detail: str


@dataclass
class Tally:
    title: str
    rows: list[TallyRow]

    @property
    def all_ok(self) -> bool:
        return all(row.outcome == "ok" for row in self.rows)

    def outcomes(self) -> dict[str, int]:
        counts: dict[str, int] = {}
        for row in self.rows:
            counts[row.outcome] = counts.get(row.outcome, 0) + 1
        return counts


@dataclass(frozen=True)
class Claim:
    text: str
    held: bool


# Blocks, in story order; render.py renders each kind.
@dataclass
class Section:
    title: str


@dataclass
class Say:
    text: str


@dataclass
class Disk:
    title: str
    files: dict  # name -> bytes, LOCK left out


class StopAtCrash(BaseException):
    """Stops a run at the crash point, as a power loss stops a process: no cleanup runs.
    A BaseException, so the engine's `except Exception` handlers cannot catch it."""


class StoryBroken(BaseException):
    """The engine no longer does what a story is built on (its crash point or state is gone).
    A BaseException for the same reason as StopAtCrash: it is raised inside engine calls."""


class Recorder:
    """An I/O hook: records each durable step with the directory after it, and crashes on cue."""

    def __init__(
        self,
        disk: SimDisk,
        track: Track,
        crash: CrashAt | None,
        pick: Callable[[list[CrashState]], int | None] | None,
        op_of: Callable[[Progress], int],
    ):
        self.disk, self.track, self.crash, self.pick, self.op_of = disk, track, crash, pick, op_of
        self.matches = 0
        self.progress: Progress | None = None
        self._pending_hit = False  # the step now running is the crash point

    def on_step(self, event: IOEvent, number: int, progress: Progress | None) -> None:
        self.progress = progress
        op_index = self.op_of(progress) if progress is not None else 0
        crash = self.crash
        if event.phase == "before" and crash is not None:
            hit = event.label == crash.label and (crash.op is None or crash.op == op_index)
            self.matches += hit
            self._pending_hit = hit and self.matches == crash.nth
        step = StepView(
            number,
            event.op,
            event.label,
            relative(event.path),
            int(event.target or 0) if event.op == "truncate" else event.nbytes,  # truncate's target is the size
            relative(event.target) if event.op == "rename" and event.target else None,
            op_index,
            file_table(self.disk) if event.phase == "after" else (),
        )
        if event.phase == "after":
            self.track.steps.append(step)
        if crash is not None and self._pending_hit and event.phase == crash.phase:
            if event.phase == "before":
                step = replace(step, ran=False)
            self.track.crash = self._crash_view(crash, step, progress)
            raise StopAtCrash

    def _crash_view(self, crash: CrashAt, step: StepView, progress: Progress | None) -> CrashView:
        # The same sampler the campaign uses for this point, so a story's state is a campaign state.
        states = list(self.disk.power_loss_states(power.state_rng(SEED, step.number, crash.phase)))
        chosen = self.pick(states) if self.pick is not None else None
        if chosen is None:
            raise StoryBroken(
                f"no state of a power loss {crash.phase} step {step.number} ({step.label}) "
                f"is the one the story follows; the states: {[s.description for s in states]}"
            )
        acked = progress.acked if progress is not None else 0
        in_flight = progress is not None and progress.in_flight and progress.current > 0
        clock = progress.clock.now if progress is not None else 0.0
        return CrashView(
            step,
            crash.phase,
            acked,
            in_flight,
            clock,
            file_table(self.disk),
            *pending_changes(self.disk),
            tuple(states),
            chosen,
            self.disk.process_crash_image(),
        )


def names_in(image: Image) -> tuple[str, ...]:
    return tuple(sorted(name for name in image.get(DATA_DIR, {}) if name != LOCK_NAME))


def unrun(step: Step) -> StepView:
    return StepView(
        step.number, step.op, step.label, relative(step.path), step.nbytes, None, step.op_index, (), ran=False
    )


def file_table(disk: SimDisk, directory: str = DATA_DIR) -> tuple[FileState, ...]:
    """Every name in `directory` the process sees or a power loss could bring back (LOCK left out)."""
    folder = disk.dirs.get(directory)
    if folder is None:
        return ()
    table = []
    for name in sorted((folder.entries.keys() | folder.durable.keys()) - {LOCK_NAME}):
        inode, old = folder.entries.get(name), folder.durable.get(name)
        if inode is not None:
            table.append(FileState(name, len(inode.data), len(inode.durable), "durable" if old is inode else "pending"))
        elif old is not None:
            table.append(FileState(name, 0, 0, "ghost", len(old.durable)))
    return tuple(table)


def pending_changes(disk: SimDisk, directory: str = DATA_DIR) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """What a power loss at this instant may undo: (file data not fsynced, name changes not dir-fsynced)."""
    return disk.unsynced(directory, skip=frozenset({LOCK_NAME}))


# --- choosing the crash state a story follows ------------------------------------------------------

# Each returns the index of the state to follow, or None when no state fits (the story is broken).


def described(text: str) -> Callable[[list[CrashState]], int | None]:
    """The first state whose description (faultinject/core/simdisk.py's words) is `text` exactly."""

    def pick(states: list[CrashState]) -> int | None:
        return next((i for i, state in enumerate(states) if state.description == text), None)

    return pick


def torn_in_the_middle(states: list[CrashState]) -> int | None:
    """The state where the last write is torn nearest its middle."""
    torn = [
        (i, state.description) for i, state in enumerate(states) if state.description.startswith("last write torn at ")
    ]

    def distance(item: tuple[int, str]) -> int:
        cut, total = item[1].removeprefix("last write torn at ").split(" ")[0].split("/")
        return abs(2 * int(cut) - int(total))

    return min(torn, key=distance)[0] if torn else None


def where(predicate: Callable[[dict], bool]) -> Callable[[list[CrashState]], int | None]:
    """The first state whose data directory (name -> bytes) satisfies `predicate`."""

    def pick(states: list[CrashState]) -> int | None:
        return next((i for i, state in enumerate(states) if predicate(state.image.get(DATA_DIR, {}))), None)

    return pick


def short_name(name: str) -> str:
    """wal-00000000000000000001.log -> wal-…001.log: the 20-digit LSN of a file name, cut to its tail."""
    return re.sub(r"\d{20}", lambda match: "…" + match.group(0)[-3:], name)


def records_of(segment: bytes) -> list[tuple]:
    """(lsn, op, args) of each whole record line of a WAL segment (a torn last line is left out)."""
    return [decode_record(line + b"\n") for line in segment.split(b"\n")[1:-1]]
