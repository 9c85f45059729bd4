"""The engine as a target: a campaign workload through `Store`'s public API, judged by the op model.

The cross-check (crosscheck.py) runs it through both trace sources. The system-call source loads
a target in a fresh interpreter by its spec string, `SPEC`, so the program's parameters travel
in the environment: TORNWRITE_CROSSCHECK holds {"workload", "seed", "ops", "lives", "mutant"} as JSON
(`environment`). Loading `SPEC` builds the program from them and, when they name a zoo mutant,
activates it for the rest of that process: the traced child is the mutated engine, and a run
that named no mutant never has one. The parent builds the same program with `program()` and
keeps its mutant scoped (`mutants.active`), for the recover() and check() it judges with.

The workload uses no I/O hook of the engine; each crash state is judged with the campaign's op
model. Like the campaign, the target has a reader: `observe` reads the store the crashing
workload keeps at each crash point (core/observe.py), and `resume` carries the workload on in
later lives (program/lives.py; the campaign's core/generations.py).
"""

from __future__ import annotations

import contextlib
import functools
import itertools
import json
import os
import shutil
import tempfile
from dataclasses import dataclass

from tornwrite.engine import OsFileSystem, Store
from tornwrite.faultinject.core.execution import FakeClock, apply, clock_after, lay_down
from tornwrite.faultinject.core.observe import newest_visible
from tornwrite.faultinject.core.verdicts import judge, recover_directory
from tornwrite.faultinject.core.workloads import START_TIME, Workload, build
from tornwrite.faultinject.program import interposer, replay
from tornwrite.faultinject.program.judge import LostAck
from tornwrite.faultinject.program.target import TargetError
from tornwrite.faultinject.zoo import mutants
from tornwrite.models.checker import Oracle, Verdict

SPEC = "tornwrite.faultinject.program.engine_target:engine"  # how a traced child loads it
ENVIRONMENT = "TORNWRITE_CROSSCHECK"  # the program's parameters, as JSON, for a child that loads SPEC
SEEN = "seen"  # the reader's token: [SEEN, the newest op it saw]
LIFE = "life"  # a later life's first token: [LIFE, the first op it runs]
_MUTATED = contextlib.ExitStack()  # a loaded SPEC's mutant: active until the (child) process ends


@dataclass
class EngineProgram:
    """The engine as a target: a campaign workload through the public API, judged by the op model."""

    workload_name: str
    seed: int
    ops: int
    store: Store | None = None  # the workload's store, for the reader (set in the crashing child only)

    @functools.cached_property
    def workload_spec(self) -> Workload:
        """The campaign workload, generated on first use: a restart's traced recover() needs none."""
        return build(self.workload_name, self.seed, self.ops)

    def setup(self, path: str) -> None:
        """The workload's starting files (a from-v<N> workload's older-format directory), untraced."""
        if self.workload_spec.start:
            lay_down(OsFileSystem(), os.path.join(path, "db"), dict(self.workload_spec.start))

    def workload(self, path: str, ack) -> None:
        clock = FakeClock(self.workload_spec.start_time)
        self.store = Store.open(os.path.join(path, "db"), clock=clock)  # left open: the run ends in a crash
        for index, op in enumerate(self.workload_spec.ops, start=1):
            apply(self.store, op, clock)
            ack(index)

    def observe(self, path: str, ack) -> None:
        """The campaign's reader (core/observe.py): the newest op whose value it sees must survive."""
        newest = newest_visible(self.store, self.workload_spec.keys) if self.store is not None else 0
        if newest:
            ack([SEEN, newest])

    def recover(self, path: str) -> dict:
        """The engine's own recovery runs here, on `path`, so that its repairs are traced (a restart's
        steps); the files as they were before it are judged in check, which knows the acks (so the clock)."""
        image = replay.image_of(path)
        directory = os.path.join(path, "db")
        if os.path.isdir(directory):
            Store.open(directory, clock=FakeClock(START_TIME)).close()  # every campaign workload starts there
        return image

    def check(self, image: dict, acked: list) -> None:
        """Judge with the campaign's op model. Ops acked are done; the op each earlier life had in flight
        (skipped by the next) may or may not have happened, so every way they may have gone is tried."""
        reached = _reached(acked)
        done = {token for token in acked if isinstance(token, int)}
        unknown = sorted(set(range(1, reached + 1)) - done)
        observed = max((token[1] for token in acked if isinstance(token, list) and token[0] == SEEN), default=0)
        now = clock_after(self.workload_spec, reached)
        scratch = tempfile.mkdtemp(dir=interposer.INTERPOSER.base)
        try:
            replay.materialise(image, scratch)
            recovered = recover_directory(os.path.join(scratch, "db"), now)
            verdicts = []
            for happened in itertools.product((True, False), repeat=len(unknown)):
                skipped = {op for op, yes in zip(unknown, happened) if not yes}
                verdicts.append(self._judge(recovered, reached, observed, now, skipped))
        finally:
            shutil.rmtree(scratch, ignore_errors=True)
        if any(verdict.outcome == "ok" for verdict in verdicts):
            return
        verdict = verdicts[0]  # the history in which every op in flight happened
        if verdict.outcome == "lost-acked-write":
            raise LostAck(verdict.detail)
        raise AssertionError(f"{verdict.outcome}: {verdict.detail}")

    def _judge(self, recovered, reached: int, observed: int, now: float, skipped: set[int]):
        """The campaign's verdict on `recovered`, for the history without the ops in `skipped`."""
        ops = self.workload_spec.ops
        kept = [index for index in range(1, len(ops) + 1) if index not in skipped]
        if observed in skipped:  # the reader saw what this history says never happened
            return Verdict("lost-acked-write", f"the reader saw op {observed}, which this history skips")
        oracle = Oracle([ops[index - 1] for index in kept], self.workload_spec.start_time, self.workload_spec.initial)
        acked = sum(1 for index in kept if index <= reached)
        seen = sum(1 for index in kept if index <= observed)
        in_flight = reached < len(ops)
        return judge(oracle, recovered, acked=acked, in_flight=in_flight, check_time=now, observed=seen)


@dataclass
class LivingEngineProgram(EngineProgram):
    """The engine target with later lives: a restart carries the workload on (each one is a traced
    interpreter under the system-call source, which makes it the costly part of a run)."""

    def resume(self, path: str, ack, acked: list) -> None:
        """A later life (program/lives.py): carry on after the last op the lives so far reached, like the
        campaign's core/generations.py. The op in flight at the crash is not retried: whether it happened
        is unknown. The first token names where this life starts."""
        first = min(_reached(acked) + 2, len(self.workload_spec.ops) + 1)  # past the end: nothing left to run
        ack([LIFE, first])
        clock = FakeClock(clock_after(self.workload_spec, first - 1))
        self.store = Store.open(os.path.join(path, "db"), clock=clock)  # left open: the life ends in a crash
        for index in range(first, len(self.workload_spec.ops) + 1):
            apply(self.store, self.workload_spec.ops[index - 1], clock)
            ack(index)


def _reached(acked: list) -> int:
    """The last op the lives so far reached: the newest op acked, or the one before the newest life's start."""
    reached = 0
    for token in acked:
        if isinstance(token, int):
            reached = token
        elif isinstance(token, list) and token[0] == LIFE:
            reached = token[1] - 1
    return reached


def program(workload: str, seed: int, ops: int, lives: bool = True) -> EngineProgram:
    """The engine target for campaign workload `workload` (seeded, `ops` long); `lives`: with resume()."""
    return (LivingEngineProgram if lives else EngineProgram)(workload, seed, ops)


@contextlib.contextmanager
def environment(workload: str, seed: int, ops: int, lives: bool, mutant: str | None):
    """TORNWRITE_CROSSCHECK set to these parameters for the block (children started in it load SPEC
    with them), then put back as it was."""
    previous = os.environ.get(ENVIRONMENT)
    os.environ[ENVIRONMENT] = json.dumps(
        {"workload": workload, "seed": seed, "ops": ops, "lives": lives, "mutant": mutant}
    )
    try:
        yield
    finally:
        if previous is None:
            del os.environ[ENVIRONMENT]
        else:
            os.environ[ENVIRONMENT] = previous


@functools.cache
def _from_environment() -> EngineProgram:
    raw = os.environ.get(ENVIRONMENT)
    if raw is None:
        raise TargetError(f"{SPEC} needs its parameters in {ENVIRONMENT} (crosscheck.py sets them)")
    try:
        parameters = json.loads(raw)
        workload, seed, ops, lives, mutant = (parameters[k] for k in ("workload", "seed", "ops", "lives", "mutant"))
        if mutant is not None:  # before any store opens: the whole process is the mutated engine
            _MUTATED.enter_context(mutants.active(mutant))
    except (ValueError, KeyError, TypeError) as exc:  # bad JSON, a missing parameter, an unknown mutant
        raise TargetError(f"{ENVIRONMENT}={raw!r:.200}: {type(exc).__name__}: {exc}") from exc
    return program(workload, seed, ops, lives)


def __getattr__(name: str) -> object:
    """`engine`, the program TORNWRITE_CROSSCHECK names (built, and its mutant activated, once)."""
    if name == "engine":
        return _from_environment()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
