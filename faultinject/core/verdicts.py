"""Recover what a crash left and judge it: engine recovery, format reader, op model.

The three views must agree: the engine's recovered state must be one the op model allows
(models.checker), and must equal what the independent format reader computes from the same
files (the design's "memory state == snapshot + WAL replay"). A directory the format says must
be refused may only be refused.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass

from tornwrite.engine import IOLayer, RecoveryReport, RedisLiteError, Store
from tornwrite.faultinject.core.execution import DATA_DIR, FakeClock
from tornwrite.faultinject.core.observe import reads_disagree
from tornwrite.faultinject.core.simdisk import Image, SimDisk
from tornwrite.models import opmodel
from tornwrite.models.checker import Oracle, Verdict
from tornwrite.models.format_reader import read_directory, read_files


@dataclass(frozen=True)
class Recovered:
    """What opening a crashed directory gave: the logical state, or the error."""

    state: dict | None
    error: str | None
    reader_state: dict | None
    reader_refused: str | None
    report: RecoveryReport | None = None  # the engine's, when it opened
    reads_differ: str | None = None  # a read command that answers otherwise than the model (expiry included)


def silence_recovery_warnings() -> None:
    """Recovery's warnings about quarantined records are the engine's voice to its user; a harness
    that judges thousands of recoveries checks the quarantine itself, and they would bury its output."""
    engine_log = logging.getLogger("tornwrite.engine")
    engine_log.addHandler(logging.NullHandler())
    engine_log.propagate = False


def recover_image(image: Image, check_time: float, io_hooks: tuple = ()) -> Recovered:
    """Recover a simulated-disk image with the real engine, and read it with the format reader."""
    reading = read_files(image.get(DATA_DIR, {}))
    io = IOLayer(SimDisk.from_image(image))
    io.hooks.extend(io_hooks)
    return _recover(reading, lambda: Store.open(DATA_DIR, io=io, clock=FakeClock(check_time)), check_time)


def recover_directory(path: str, check_time: float, io: IOLayer | None = None) -> Recovered:
    """Recover a real directory (the format reader reads it first: recovery repairs it)."""
    # A crash before the directory was made leaves nothing, which reads as an empty store.
    reading = read_directory(path) if os.path.isdir(path) else read_files({})
    return _recover(reading, lambda: Store.open(path, io=io, clock=FakeClock(check_time)), check_time)


def _recover(reading, open_store, check_time: float) -> Recovered:
    refused = reading.refused
    reader_state = None if refused else reading.view(check_time)
    try:
        store = open_store()
    except Exception as exc:  # judged below: any exception is a recovery that failed
        return Recovered(None, f"{type(exc).__name__}: {exc}", reader_state, refused)
    try:
        differ = None if refused else reads_disagree(store, reading.entries, check_time)
        return Recovered(store.dump(), None, reader_state, refused, store.recovery, differ)
    finally:
        store.close()


def judge(
    oracle: Oracle, recovered: Recovered, *, acked: int, in_flight: bool, check_time: float, observed: int = 0
) -> Verdict:
    """The outcome for one crash state."""
    if recovered.reader_refused and recovered.error is None:
        return Verdict(
            "invariant-violated",
            f"the engine recovered a directory its format says to refuse: {recovered.reader_refused}",
        )
    if recovered.reads_differ:
        return Verdict("invariant-violated", f"a read disagrees with the model: {recovered.reads_differ}")
    return oracle.check(
        acked=acked,
        in_flight=in_flight,
        recovered=recovered.state,
        check_time=check_time,
        reader_state=recovered.reader_state,
        observed=observed,
        recovery_error=recovered.error,
    )


def wrong_answer(oracle: Oracle, results: list[object]) -> str | None:
    """The first op of a run whose result differs from the op model's, in words, or None: a
    run must answer every read and write as the model does, not only recover to its states."""
    for index, (op, expected, result) in enumerate(zip(oracle.ops, oracle.results, results), start=1):
        actual = opmodel.Refusal(type(result).__name__) if isinstance(result, RedisLiteError) else result
        if not opmodel.same_result(expected, actual):
            return (
                f"op {index} {op!r} returned {opmodel.describe_result(actual)}, the model says "
                f"{opmodel.describe_result(expected)}"
            )
    return None
