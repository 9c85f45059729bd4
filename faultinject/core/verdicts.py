"""Recover what a crash left and judge it: engine recovery, format reader, op model.

The three views must agree: the engine's recovered state must be one the op model allows
(models.checker), and must equal what the independent format reader computes from the same
files (the design's "memory state == snapshot + WAL replay"). A directory the format says must
be refused may only be refused.
"""

from __future__ import annotations

import hashlib
import logging
import os
import zlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from tornwrite.engine import IOLayer, RecoveryReport, RedisLiteError, Store
from tornwrite.faultinject.core.execution import DATA_DIR, FakeClock
from tornwrite.faultinject.core.observe import reads_disagree
from tornwrite.faultinject.core.simdisk import Image, SimDisk, image_fingerprint
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


class Recoveries:
    """Recovers crash images and remembers what it found, for one batch of one run.

    Many crash states leave the same image, and many images recover to the same state. So an
    image is recovered once per check time, and the read probe (observe.reads_disagree) is asked
    once per distinct recovered state: its answers depend only on the entries the engine holds
    (expired ones included), the format reader's entries and the check time, and the key is
    exactly these. Equal recovered states are kept as one object (large values made a batch's
    remembered recoveries cost gigabytes). Scope one to one engine under one mutant: never share
    it across them.
    """

    def __init__(self) -> None:
        self._images: dict[tuple[str, float], Recovered] = {}
        self._probes: dict[bytes, tuple[dict, str | None]] = {}  # key -> (the state, the probe's answer)

    def image(self, image: Image, check_time: float, fingerprint: str | None = None) -> Recovered:
        """recover_image(image, check_time), once per distinct image and check time;
        `fingerprint`, the image's, if known already (CrashState.fingerprint)."""
        key = (fingerprint or image_fingerprint(image), check_time)
        found = self._images.get(key)
        if found is None:
            found = self._images[key] = recover_image(image, check_time, recoveries=self)
        return found

    def directory(self, path: str, check_time: float, io: IOLayer | None = None) -> Recovered:
        """recover_directory(path, check_time, io), its read probe asked once per distinct state."""
        return recover_directory(path, check_time, io, recoveries=self)

    def probe(
        self, store: Store, clock: FakeClock, entries: Mapping[str, tuple[str, Any, float | None]], state: dict
    ) -> tuple[dict, str | None]:
        """(`state`, reads_disagree(store, entries, clock.now)), the probe asked once per distinct
        (engine entries, reader entries, time); `state`, the store's dump at that time, comes back
        as the equal dict remembered with them, if there is one."""
        now = clock.now
        clock.now = -1e300  # before every deadline (the engine refuses non-finite readings): the dump is every entry
        try:
            held = store.dump()
        finally:
            clock.now = now
        digest = hashlib.blake2b(repr(now).encode(), digest_size=16)
        _feed(digest, held)
        _feed(digest, entries)
        key = digest.digest()
        known = self._probes.get(key)
        if known is None or known[0] != state:  # never another state than this store's own
            known = self._probes[key] = (state, reads_disagree(store, entries, now))
        return known


def _feed(digest: Any, thing: object) -> None:
    """Hash `thing` (a state: dicts, lists, tuples, bytes, scalars) into `digest`, each part tagged
    with its type and length, so different states hash differently; bytes go in as their length
    and CRC-32 (hashing them whole cost a fifth of a large-values campaign; a collision can only
    join states whose dumps at the check time are equal too, as `probe` compares those whole)."""
    if type(thing) is bytes:
        digest.update(b"bytes %d %08x:" % (len(thing), zlib.crc32(thing)))
    elif isinstance(thing, (list, tuple)):
        digest.update(b"%s %d:" % (type(thing).__name__.encode(), len(thing)))
        for item in thing:
            _feed(digest, item)
    elif isinstance(thing, dict):
        digest.update(b"%s %d:" % (type(thing).__name__.encode(), len(thing)))
        for key, value in thing.items():
            _feed(digest, key)
            _feed(digest, value)
    else:
        text = f"{type(thing).__name__} {thing!r}".encode()
        digest.update(b"%d:" % len(text))
        digest.update(text)


def recover_image(
    image: Image, check_time: float, io_hooks: tuple = (), recoveries: Recoveries | None = None
) -> Recovered:
    """Recover a simulated-disk image with the real engine, and read it with the format reader;
    `recoveries` remembers read probes already asked."""
    reading = read_files(image.get(DATA_DIR, {}))
    io = IOLayer(SimDisk.from_image(image))
    io.hooks.extend(io_hooks)
    return _recover(reading, lambda clock: Store.open(DATA_DIR, io=io, clock=clock), check_time, recoveries)


def recover_directory(
    path: str, check_time: float, io: IOLayer | None = None, recoveries: Recoveries | None = None
) -> Recovered:
    """Recover a real directory (the format reader reads it first: recovery repairs it)."""
    # A crash before the directory was made leaves nothing, which reads as an empty store.
    reading = read_directory(path) if os.path.isdir(path) else read_files({})
    return _recover(reading, lambda clock: Store.open(path, io=io, clock=clock), check_time, recoveries)


def _recover(
    reading, open_store: Callable[[FakeClock], Store], check_time: float, recoveries: Recoveries | None = None
) -> Recovered:
    refused = reading.refused
    reader_state = None if refused else reading.view(check_time)
    clock = FakeClock(check_time)
    try:
        store = open_store(clock)
    except Exception as exc:  # judged below: any exception is a recovery that failed
        return Recovered(None, f"{type(exc).__name__}: {exc}", reader_state, refused)
    try:
        state = store.dump()
        differ = None
        # A state that differs from the reader's is judged invariant-violated whatever the reads
        # say (models.checker): the probe is asked only where it can still find something.
        if not refused and _as_entries(state) == _as_entries(reader_state or {}):
            if recoveries is None:
                differ = reads_disagree(store, reading.entries, check_time)
            else:
                state, differ = recoveries.probe(store, clock, reading.entries, state)
            reader_state = state  # equal: one copy serves as both
        return Recovered(state, None, reader_state, refused, store.recovery, differ)
    finally:
        store.close()


def _as_entries(state: Mapping[str, Any]) -> dict[str, tuple]:
    return {key: tuple(entry) for key, entry in state.items()}


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
