"""The Story a walkthrough scenario tells, and the calls it tells it with.

A scenario (wal.py, snapshots.py in this package) builds its story one block
at a time: prose it writes itself (`say`, `section`), and blocks of facts that only come from
running things here (`run`, `recover`, `judge`, `tally`, `disk`): every durable I/O step with the
bytes each file holds afterwards, the crash, the disk a power loss leaves, what recovery did and
the checker's verdict. render.py renders the blocks and figure.py draws the tracks.

Claims (`Story.claim`) are the story's own checks: the prose says "recovery discarded the torn
bytes", the claim tests it on this run. A claim that no longer holds means the engine changed
and the story with it; the walkthrough says so and exits 1.
"""

from __future__ import annotations

from collections.abc import Callable

from tornwrite.engine import IOEvent, IOLayer, Store
from tornwrite.engine.format import LOCK_NAME
from tornwrite.faultinject.core.execution import DATA_DIR, FakeClock, Progress, StepCounter, run, trace
from tornwrite.faultinject.core.simdisk import CrashState, Image, SimDisk
from tornwrite.faultinject.core.verdicts import Recovered, judge, recover_image
from tornwrite.faultinject.core.workloads import Workload
from tornwrite.faultinject.kinds import power
from tornwrite.faultinject.walkthrough.record import (
    SEED,
    Claim,
    CrashAt,
    CrashView,
    Disk,
    Judged,
    Recorder,
    RecoveryView,
    Say,
    Section,
    StopAtCrash,
    StoryBroken,
    Tally,
    TallyRow,
    Track,
    file_table,
    names_in,
    unrun,
)
from tornwrite.models.checker import Oracle
from tornwrite.models.format_reader import read_files
from tornwrite.models.ops import Op

START_TIME = 1_700_000_000.0  # the fake clock's first reading in every walkthrough


class Story:
    """A walkthrough being told: blocks for the reader, tracks for the figure, claims for tests."""

    def __init__(self, name: str, title: str, teaches: str):
        self.name, self.title, self.teaches = name, title, teaches
        self.blocks: list = []
        self.panels: list[tuple[str, list[Track], str | None]] = []  # figure rows: (title, tracks, under)
        self.claims: list[Claim] = []
        self.facts: dict[str, object] = {}
        self.oracle: Oracle | None = None  # the model of the workload run last
        self.crash_clock: float | None = None  # the clock at the last workload's power loss

    # --- prose and checks ---------------------------------------------------------------------

    def section(self, title: str) -> None:
        self.blocks.append(Section(title))

    def say(self, text: str) -> None:
        self.blocks.append(Say(text))

    def claim(self, held: bool, text: str) -> bool:
        self.claims.append(Claim(text, bool(held)))
        return bool(held)

    def fact(self, name: str, value: object) -> object:
        self.facts[name] = value
        return value

    def panel(self, title: str, under: str | None = None) -> None:
        """Start a new row of the figure (the mutant scenario draws the mutant and the real engine).
        `under`: the title of a track in the row above that this row is an alternative to; the figure
        lines the two up."""
        self.panels.append((title, [], under))

    def note(self, view: RecoveryView | Track, text: str) -> None:
        """A line for the track's box in the figure (under its file strips), next to what it recovered."""
        (view.track if isinstance(view, RecoveryView) else view).notes.append(text)

    def _track(self, track: Track, block: object = None) -> Track:
        if not self.panels:
            self.panel("")
        self.panels[-1][1].append(track)
        self.blocks.append(block if block is not None else track)
        return track

    # --- running ------------------------------------------------------------------------------

    def run(
        self,
        ops: list[Op],
        crash: CrashAt,
        pick: Callable[[list[CrashState]], int | None],
        title: str = "the workload",
    ) -> Track:
        """Run `ops` on a fresh simulated disk and lose power at `crash`; `pick` chooses the state to follow."""
        workload = Workload(f"walkthrough:{self.name}", SEED, tuple(ops), START_TIME)
        self.oracle = Oracle(list(ops), START_TIME)
        dry = trace(workload)  # the steps the run would take with no crash
        disk = SimDisk()
        track = Track(title, (), ops=tuple(ops))
        recorder = Recorder(disk, track, crash, pick, lambda progress: progress.current)
        clock = FakeClock(START_TIME)

        def on_step(event: IOEvent, number: int, progress: Progress) -> None:
            nonlocal clock
            clock = progress.clock
            recorder.on_step(event, number, progress)

        def on_ack(index: int, result: object) -> None:
            track.results.append(result)
            track.clock_at.append(clock.now)

        try:
            run(workload, IOLayer(disk), DATA_DIR, on_step, on_ack=on_ack)
        except StopAtCrash:
            pass
        if track.crash is None:
            raise StoryBroken(f"the run never reached the crash point {crash}")
        cut = track.crash.step.number + (0 if crash.phase == "before" else 1)
        track.never_ran = [unrun(step) for step in dry[cut - 1 :] if step.op_index == track.crash.step.op_index]
        self.crash_clock = track.crash.clock
        return self._track(track)

    def recover(
        self,
        image: Image,
        check_time: float,
        *,
        title: str = "recovery",
        reads: tuple[Op, ...] = (),
        crash: CrashAt | None = None,
        pick: Callable[[list[CrashState]], int | None] | None = None,
    ) -> RecoveryView:
        """Open the store on a disk booted from `image`, recording recovery's steps; optionally crash it."""
        disk = SimDisk.from_image(image)
        io = IOLayer(disk)
        track = Track(title, file_table(disk), clock=check_time)
        if self.crash_clock is not None:
            track.down = check_time - self.crash_clock
        recorder = Recorder(disk, track, crash, pick, lambda progress: 0)
        io.hooks.append(StepCounter(None, recorder.on_step))
        view = RecoveryView(track, check_time, None)
        reading = read_files(image.get(DATA_DIR, {}))
        reader_state = None if reading.refused else reading.view(check_time)
        try:
            store = Store.open(DATA_DIR, io=io, clock=FakeClock(check_time))
        except StopAtCrash:
            self._track(track, view)
            return view
        except Exception as exc:  # a refusal is a result the story narrates
            view.recovered = Recovered(None, f"{type(exc).__name__}: {exc}", reader_state, reading.refused)
            track.refused = type(exc).__name__
            self._track(track, view)
            return view
        try:
            view.recovered = Recovered(store.dump(), None, reader_state, reading.refused, store.recovery)
            track.state = view.recovered.state
            view.reads = {repr(op): op.apply_to(store) for op in reads}
        finally:
            store.close()
        self._track(track, view)
        return view

    def judge(self, crash: CrashView, recovery: RecoveryView) -> Judged:
        """The checker's verdict on what `recovery` gave (at its clock), for the workload crashed at `crash`."""
        check_time = recovery.check_time
        verdict = judge(
            self.model, recovery.result, acked=crash.acked, in_flight=crash.in_flight, check_time=check_time
        )
        recovery.track.verdict = verdict
        judged = Judged(verdict, crash.acked, crash.in_flight, check_time)
        self.blocks.append(judged)
        return judged

    def tally(self, crash: CrashView) -> Tally:
        """Recover and judge every state `crash` may leave, as the campaign does, at the crash's clock."""
        check_time = crash.clock
        rows = []
        for state in crash.states:
            verdict = judge(
                self.model,
                recover_image(state.image, check_time),
                acked=crash.acked,
                in_flight=crash.in_flight,
                check_time=check_time,
            )
            rows.append(
                TallyRow(
                    state.description, names_in(state.image), verdict.outcome, verdict.matched_prefix, verdict.detail
                )
            )
        tally = Tally(f"every disk a power loss {crash.phase} step {crash.step.number} may leave", rows)
        self.blocks.append(tally)
        return tally

    def tally_recovery_crashes(self, crash: CrashView, title: str) -> Tally:
        """StopAtCrash the recovery of `image` at each of its steps, in every state, and judge each second recovery."""
        rng = power.state_rng(SEED, self.name, "recovery")
        rows = []
        for second, recovered in power.crash_recovery(crash.image, crash.clock, rng):  # (crash, what recovery gave)
            verdict = judge(self.model, recovered, acked=crash.acked, in_flight=crash.in_flight, check_time=crash.clock)
            rows.append(
                TallyRow(
                    f"{second.phase} recovery step {second.step}: {second.description}",
                    (),
                    verdict.outcome,
                    verdict.matched_prefix,
                    verdict.detail,
                )
            )
        tally = Tally(title, rows)
        self.blocks.append(tally)
        return tally

    @property
    def model(self) -> Oracle:
        """The model of the workload run last; StoryBroken before any run."""
        if self.oracle is None:
            raise StoryBroken("the story judges a recovery before running a workload")
        return self.oracle

    def disk(self, image: Image, title: str) -> dict[str, bytes]:
        files = {name: data for name, data in image.get(DATA_DIR, {}).items() if name != LOCK_NAME}
        self.blocks.append(Disk(title, files))
        return files
