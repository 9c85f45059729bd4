"""The keyspace: one dict, the three value kinds, and how records change it.

An entry is ``key -> (value, expire_at)``; the kind follows from the value's type: `bytes`
(string), `list` of bytes (list), `dict` of str -> bytes (hash).

`apply_record` is the only code that mutates the dict, and it runs both for live writes (after
the record is durable) and for replay during recovery: memory == snapshot + WAL replay holds by
construction, and models/ checks it independently.

Concurrency (a seqlock): the single writer makes `seq` odd while it applies a record and even
again when done. A reader notes `seq`, reads, and retries if `seq` was odd or has moved, so it
never returns a half-applied mutation (a multi-key delete, say). Readers take no lock; one that
meets an odd `seq` waits on `applying`, held only during the in-memory apply, never during the
writer's fsync. Sound under CPython's GIL, where every read of `seq` and of the dict is
sequentially consistent and each dict or list call is atomic; readers only use such calls.
"""

from __future__ import annotations

import threading
from collections.abc import Callable

from tornwrite.engine.errors import WrongTypeError
from tornwrite.engine.expiry import Deadlines, is_expired
from tornwrite.engine.format import KIND

_OPTIMISTIC_ATTEMPTS = 4


def wrong_type(key: str, found: type, wanted: type) -> WrongTypeError:
    return WrongTypeError(f"{key!r} holds a {KIND[found]}, not a {KIND[wanted]}")


class ReplayError(Exception):
    """A record that cannot apply to the state it follows: the log contradicts itself."""


def _entry(data: dict, key: str, kind: type) -> tuple:
    entry = data.get(key)
    if entry is None or type(entry[0]) is not kind:
        raise ReplayError(f"record needs an existing {KIND[kind]} at {key!r}")
    return entry


def _set(data: dict, key: str, value: bytes, expire_at: float | None) -> None:
    data[key] = (value, expire_at)


def _del(data: dict, keys: tuple) -> None:
    for key in keys:
        if data.pop(key, None) is None:
            raise ReplayError(f"del of a key that is not there: {key!r}")


def _rpush(data: dict, key: str, new: bool, values: list) -> None:
    if new:
        data[key] = (list(values), None)
    else:
        _entry(data, key, list)[0].extend(values)


def _hset(data: dict, key: str, new: bool, mapping: dict) -> None:
    if new:
        data[key] = (dict(mapping), None)
    else:
        _entry(data, key, dict)[0].update(mapping)


def _hdel(data: dict, key: str, fields: list) -> None:
    fields_now = _entry(data, key, dict)[0]
    for field in fields:
        if fields_now.pop(field, None) is None:
            raise ReplayError(f"hdel of a field that is not there: {key!r}.{field!r}")
    if not fields_now:
        del data[key]  # an empty hash is no hash, as in Redis


def _expire(data: dict, key: str, expire_at: float) -> None:
    data[key] = (_present(data, key), expire_at)


def _persist(data: dict, key: str) -> None:
    data[key] = (_present(data, key), None)


def _present(data: dict, key: str) -> object:
    entry = data.get(key)
    if entry is None:
        raise ReplayError(f"record needs an existing key {key!r}")
    return entry[0]


def _flushall(data: dict) -> None:
    data.clear()


_APPLY: dict[str, Callable[..., None]] = {
    "set": _set,
    "del": _del,
    "rpush": _rpush,
    "hset": _hset,
    "hdel": _hdel,
    "expire": _expire,
    "persist": _persist,
    "flushall": _flushall,
}


class Keyspace:
    __slots__ = ("data", "seq", "applying", "deadlines")  # slots: the read path reads them constantly

    def __init__(self, data: dict | None = None):
        self.data: dict = data if data is not None else {}
        self.seq = 0
        self.applying = threading.Lock()
        self.deadlines: Deadlines | None = None  # kept only while a reaper runs

    # --- the writer's side (caller holds the write lock) ---------------------------------

    def apply_record(self, op: str, args: tuple) -> None:
        """Apply one record; ReplayError if it contradicts the state (nothing is then rolled back)."""
        with self.applying:
            self.seq += 1
            try:
                _APPLY[op](self.data, *args)
            finally:
                self.seq += 1
        if self.deadlines is not None and op in ("set", "expire") and args[-1] is not None:
            self.deadlines.add(args[-1], args[0])

    def replay(self, op: str, args: tuple) -> None:
        """`apply_record` for recovery, before any reader can exist: the same change, no seqlock."""
        _APPLY[op](self.data, *args)

    def remove(self, keys: list[str]) -> None:
        """Drop entries without a record: only for keys already expired (see expiry.Reaper)."""
        with self.applying:
            self.seq += 1
            for key in keys:
                self.data.pop(key, None)
            self.seq += 1

    def live(self, key: str, now: float) -> tuple | None:
        """The entry if the key is live at `now`, else None."""
        entry = self.data.get(key)
        if entry is None or (entry[1] is not None and is_expired(entry[1], now)):
            return None
        return entry

    def live_of_kind(self, key: str, now: float, kind: type) -> tuple | None:
        entry = self.live(key, now)
        if entry is not None and type(entry[0]) is not kind:
            raise wrong_type(key, type(entry[0]), kind)
        return entry

    def copy(self) -> dict:
        """A private copy of every entry, for a snapshot to serialise outside the lock.

        Writers wait while this runs, so it copies the dict at C speed and then only the lists
        and hashes, the values writers change in place (strings and entries are immutable).
        """
        copied = self.data.copy()
        for key, (value, expire_at) in self.data.items():
            if type(value) is not bytes:
                copied[key] = (value.copy(), expire_at)
        return copied

    # --- the readers' side ----------------------------------------------------------------

    def read(self, read: Callable, *args: object) -> object:
        """`read(*args)` as of one instant between mutations (see the module docstring).

        `read` may only make atomic dict and list calls and must not raise. After a few
        attempts spoiled by writers, the read holds `applying` instead, so a long read (a
        dump of a large keyspace) finishes however busy the writers are.
        """
        for _ in range(_OPTIMISTIC_ATTEMPTS):
            seq = self.seq
            if seq & 1:
                with self.applying:  # wait for the in-memory apply to finish
                    pass
                continue
            result = read(*args)
            if self.seq == seq:
                return result
        with self.applying:  # writers wait, between their fsync and their apply, for this read
            return read(*args)
