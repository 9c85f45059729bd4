"""Forced interleavings: one thread parked between two steps of its work while another runs.

The scheduler rarely stops a writer between two parts of one record (the keys of a multi-key
delete, the fields of a multi-field hset or hdel) at the very moment a reader reads, so the
concurrent kind makes it happen instead of hoping. The paused thread is traced line by line
inside the code that does the work (engine/keyspace.py's apply functions, or a snapshot's copy,
write and cut), and it waits at its n-th line; the other thread runs its ops meanwhile; then
the paused thread goes on. Every n from the first line to the last is tried, each on a fresh
store on the simulated disk.

The judge, for readers beside a write: every read returns what it returns either before the
write or after it, never a mixture (a correct seqlock makes the reader retry, or queue on
`applying` until the write lands). For a writer beside a snapshot: the directory the snapshot
left, recovered after a process crash, holds exactly the model's state after both.

Deterministic: the other thread runs only while the paused one is parked, and the harness waits
for it to finish or to block on a lock the parked thread holds, by events alone. A thread still
running after SAFETY_TIMEOUT seconds is a hang: reported as a failure, never waited out.
"""

from __future__ import annotations

import sys
import threading
from collections.abc import Callable
from dataclasses import dataclass
from types import CodeType, FrameType
from typing import Any

from tornwrite.engine import IOLayer, RedisLiteError, Store
from tornwrite.engine import keyspace as engine_keyspace
from tornwrite.engine import store as engine_store
from tornwrite.faultinject.core.execution import DATA_DIR, FakeClock
from tornwrite.faultinject.core.simdisk import SimDisk
from tornwrite.models import opmodel
from tornwrite.models.ops import Op

START = 1_700_000_000.0
SAFETY_TIMEOUT = 30.0  # seconds before a parked or blocked thread counts as hung (a failure, not a wait)


def _apply_code() -> set[CodeType]:
    """What a record's apply runs: `apply_record` as it is now (a mutant's included) and every
    function it dispatches to."""
    codes = {engine_keyspace.Keyspace.apply_record.__code__}
    return codes | {function.__code__ for function in engine_keyspace._APPLY.values()}


def _snapshot_code() -> set[CodeType]:
    """What a snapshot runs between its lock and its cut: the copy, the write, the removal."""
    functions: list[Any] = [
        engine_store.Store.snapshot,
        engine_keyspace.Keyspace.copy,
        vars(engine_store)["write_snapshot"],  # as the store calls them: a mutant's, if one is active
        vars(engine_store)["remove_covered"],
    ]
    return {function.__code__ for function in functions if hasattr(function, "__code__")}


@dataclass(frozen=True)
class Scenario:
    """One multi-part piece of work, and what runs beside it while it is parked."""

    name: str
    setup: tuple[Op, ...]
    paused: Op  # run by the traced thread
    beside: tuple[Op, ...]  # run by the other thread while it is parked
    traced: Callable[[], set[CodeType]]  # the code whose lines are the pause points
    judge_reads: bool  # True: every op beside is a read, judged against before and after


def _reads_of(*keys: str) -> tuple[Op, ...]:
    per_key = [
        read for key in keys for read in (Op.of("get", key), Op.of("lrange", key, -100, 100), Op.of("hgetall", key))
    ]
    return (*[Op.of("exists", key) for key in keys], *per_key, Op.of("dbsize"), Op.of("keys"), Op.of("dump"))


_SETUP = (
    Op.of("set", "s", "строка".encode()),
    Op.of("rpush", "l", b"x1", "ü".encode()),
    Op.of("hset", "h", {"f": b"1", "g": b"1", "h": "ζ".encode()}),
)

SCENARIOS = (  # those that tear under a seqlock bug first: a budget takes the first few
    Scenario("multi-key del", _SETUP, Op.of("delete", "s", "l", "h"), _reads_of("s", "l", "h"), _apply_code, True),
    Scenario(
        "multi-field hdel",
        _SETUP,
        Op.of("hdel", "h", "f", "g"),
        (*_reads_of("h"), Op.of("hlen", "h")),
        _apply_code,
        True,
    ),
    Scenario("hdel of the last fields", _SETUP, Op.of("hdel", "h", "f", "g", "h"), _reads_of("h"), _apply_code, True),
    Scenario(
        "snapshot copy beside writers",
        _SETUP,
        Op.of("snapshot"),
        (Op.of("rpush", "l", b"z1", b"z2"), Op.of("hset", "h", {"f": b"3", "k": b"3"}), Op.of("set", "s", b"s3")),
        _snapshot_code,
        False,
    ),
    Scenario(
        "rpush of several values",
        _SETUP,
        Op.of("rpush", "l", b"y1", b"y2", b"y3"),
        (*_reads_of("l"), Op.of("llen", "l"), Op.of("lindex", "l", -1)),
        _apply_code,
        True,
    ),
    Scenario(
        "multi-field hset",
        _SETUP,
        Op.of("hset", "h", {"f": b"2", "g": b"2", "new": b"2"}),
        (*_reads_of("h"), Op.of("hlen", "h"), Op.of("hget", "h", "new")),
        _apply_code,
        True,
    ),
)


class _Parked:
    """A line tracer for one thread: parks it at the `stop`-th line of the traced code."""

    def __init__(self, codes: set[CodeType], stop: int):
        self.codes, self.stop = codes, stop
        self.lines = 0
        self.where = ""
        self.parked = threading.Event()
        self.resume = threading.Event()

    def trace(self, frame: FrameType, event: str, arg: object) -> Any:
        return self.local if frame.f_code in self.codes else None

    def local(self, frame: FrameType, event: str, arg: object) -> Any:
        if event == "line":
            self.lines += 1
            if self.lines == self.stop:
                self.where = f"{frame.f_code.co_name} line {frame.f_lineno}"
                self.parked.set()
                if not self.resume.wait(SAFETY_TIMEOUT):
                    raise RuntimeError("the parked thread was never resumed")
        return self.local


class _WatchedLock:
    """A lock that says when a thread other than its holder starts to wait for it."""

    def __init__(self, lock: Any, settled: threading.Event):
        self.lock, self.settled = lock, settled
        self.holder: int | None = None

    def acquire(self, blocking: bool = True, timeout: float = -1) -> bool:
        if self.lock.locked() and self.holder != threading.get_ident():
            self.settled.set()  # the other thread waits for the parked one: nothing more to see now
        got: bool = self.lock.acquire(blocking, timeout)
        if got:
            self.holder = threading.get_ident()
        return got

    def release(self) -> None:
        self.holder = None
        self.lock.release()

    def locked(self) -> bool:
        return bool(self.lock.locked())

    def __enter__(self) -> bool:
        return self.acquire()

    def __exit__(self, *exc_info: object) -> None:
        self.release()


def _call(op: Op, store: Store) -> object:
    try:
        return op.apply_to(store)
    except RedisLiteError as error:
        return opmodel.Refusal(type(error).__name__, str(error))


@dataclass
class Outcome:
    """One pause point: where the thread was parked, and what went wrong there (None: nothing)."""

    pause: int
    where: str
    problem: str | None


def _open(disk: SimDisk, clock: FakeClock) -> Store:
    return Store.open(DATA_DIR, io=IOLayer(disk), clock=clock)


def run_pause(scenario: Scenario, pause: int | None) -> tuple[Outcome, int]:
    """Run `scenario` with its traced thread parked at line `pause` (None: never parked, only
    counted); the outcome and how many traced lines the work ran."""
    clock = FakeClock(START)
    disk = SimDisk()
    store = _open(disk, clock)
    model: dict = {}
    for op in scenario.setup:
        model, _ = opmodel.apply(model, op, clock.now)
        op.apply_to(store)
    before = model
    settled = threading.Event()
    store._ks.applying = _WatchedLock(store._ks.applying, settled)  # type: ignore[assignment]
    store._write_lock = _WatchedLock(store._write_lock, settled)  # type: ignore[assignment]
    parked = _Parked(scenario.traced(), pause or 0)
    errors: list[str] = []

    def paused_work() -> None:
        sys.settrace(parked.trace)
        try:
            _call(scenario.paused, store)
        except BaseException as exc:  # reported, not lost with the thread
            errors.append(f"{scenario.paused!r} raised {type(exc).__name__}: {exc}")
        finally:
            sys.settrace(None)
            parked.parked.set()  # finished without reaching the pause: release the waiter

    results: list[object] = []

    def beside_work() -> None:
        try:
            results.extend(_call(op, store) for op in scenario.beside)
        finally:
            settled.set()

    worker = threading.Thread(target=paused_work, name="interleave-paused", daemon=True)
    worker.start()
    parked.parked.wait(SAFETY_TIMEOUT)
    other = threading.Thread(target=beside_work, name="interleave-beside", daemon=True)
    reached = pause is not None and parked.lines >= pause and worker.is_alive()
    if reached:
        other.start()
        settled.wait(SAFETY_TIMEOUT)
    parked.resume.set()
    worker.join(SAFETY_TIMEOUT)
    if not reached:
        other.start()
    other.join(SAFETY_TIMEOUT)
    outcome = Outcome(pause or 0, parked.where, None)
    if worker.is_alive() or other.is_alive():
        outcome.problem = "hang: a thread did not finish once the paused one was resumed"
    elif errors:
        outcome.problem = errors[0]
    else:
        after, _ = opmodel.apply(before, scenario.paused, clock.now)
        for op in scenario.beside:
            after, _ = opmodel.apply(after, op, clock.now)
        outcome.problem = (
            _torn_read(scenario, before, results, clock.now)
            if scenario.judge_reads
            else _recovered_wrong(disk, after, clock)
        )
    store.close()
    return outcome, parked.lines


def _torn_read(scenario: Scenario, before: dict, results: list[object], now: float) -> str | None:
    after, _ = opmodel.apply(before, scenario.paused, now)
    for op, got in zip(scenario.beside, results):
        allowed = [opmodel.apply(state, op, now)[1] for state in (before, after)]
        if not any(opmodel.same_result(expected, got) for expected in allowed):
            return (
                f"{op!r} returned {opmodel.describe_result(got)}, neither before {scenario.paused!r} "
                f"({opmodel.describe_result(allowed[0])}) nor after it ({opmodel.describe_result(allowed[1])})"
            )
    return None


def _recovered_wrong(disk: SimDisk, expected: dict, clock: FakeClock) -> str | None:
    with _open(disk.after_process_crash(), clock) as recovered:
        state = recovered.dump()
    if state != opmodel.view(expected, clock.now):
        return f"recovered {state!r} after a process crash, where the model holds {opmodel.view(expected, clock.now)!r}"
    return None


def check_scenario(scenario: Scenario) -> list[Outcome]:
    """Every pause point of `scenario`, first to last; the outcomes, failures included."""
    _, lines = run_pause(scenario, None)
    return [run_pause(scenario, pause)[0] for pause in range(1, lines + 1)]
