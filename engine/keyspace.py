"""The keyspace: one dict, the three value kinds, and how records change it.

An entry is ``key -> (value, expire_at)``; the kind follows from the value's type: `bytes` or,
once APPEND grew it, `Appended` (string), `list` of bytes (list), `dict` of str -> bytes (hash).

`apply_record` is the only code that mutates the dict, and it runs both for live writes (after
the record is durable) and for replay during recovery: memory == snapshot + WAL replay holds by
construction, and models/ checks it independently.

Concurrency (a seqlock): the single writer makes `seq` odd while it applies a record and even
again when done. A reader notes `seq`, reads, and retries if `seq` was odd or has moved, so it
never returns a half-applied mutation (a multi-key delete, say). Readers take no lock; one that
meets an odd `seq` waits on `applying`, held only during the in-memory apply, never during the
writer's fsync. Sound under CPython's GIL, where every read of `seq` and of the dict is
sequentially consistent and each dict or list call is atomic; readers only use such calls.

Time (a read observes one instant): whether an entry is live depends on the clock, so a read
must judge the entries it saw at a time when they were the current ones. Readers therefore
call the clock INSIDE the window, after the lookup and before `seq` is checked again, never
after `read` returns. Why that is enough: `seq` only grows, and every apply moves it, so equal
even values before and after mean the dict held one state S for the whole window, the clock
call included; the read is the read of S at the clock's reading, a real instant between two
mutations. A writer reads its clock before it applies, so with a clock that never goes back
the reader's time is not earlier than that of any write it sees. The fallback under
`applying` keeps this: the clock is read while the lock holds the writers off. Reading the
clock after the window instead lets a write land in between: the old entry is then judged at
a later time, past its old `expire_at`, and a key that was live at every instant of the call
(overwritten or persisted meanwhile) reads as absent. The cost is only that a slow clock
widens the window, so a busy writer may send the read round once more; the fallback bounds it.

Reviving writes: a write is decided at its writer's clock reading and applied after its fsync.
For most writes nothing a reader sees in between contradicts that, but `persist` and `expire`
on a key with a TTL can revive it: were its deadline to pass during the fsync, a reader would
see the key gone, and then back with no deadline, an order no real time explains. So such a
writer names the key in `reviving` BEFORE it reads its clock, and a reader that judges that
key expired (checking `reviving` inside its window, after its own clock reading) waits for the
write to land and reads again. If the reader finds no name there, any reviving writer that
comes later reads its clock later still, finds the key expired too, and writes nothing. Only
such a reader waits, only on such a write: reads stay lock-free in every other case.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, TypeVar

from tornwrite.engine.appended import Appended
from tornwrite.engine.errors import WrongTypeError
from tornwrite.engine.expiry import Deadlines, is_expired
from tornwrite.engine.format import KIND, Entries, Entry, ExpireAt

_OPTIMISTIC_ATTEMPTS = 4

Result = TypeVar("Result")


def wrong_type(key: str, found: type, wanted: type) -> WrongTypeError:
    return WrongTypeError(f"{key!r} holds a {KIND[found]}, not a {KIND[wanted]}")


class ReplayError(Exception):
    """A record that cannot apply to the state it follows: the log contradicts itself."""


class Reviving(Exception):
    """Raised inside a read that judged expired a key a pending write may revive: read again."""


def _list(data: Entries, key: str) -> list[bytes]:
    entry = data.get(key)
    value = None if entry is None else entry[0]
    if not isinstance(value, list):
        raise ReplayError(f"record needs an existing list at {key!r}")
    return value


def _hash(data: Entries, key: str) -> dict[str, bytes]:
    entry = data.get(key)
    value = None if entry is None else entry[0]
    if not isinstance(value, dict):
        raise ReplayError(f"record needs an existing hash at {key!r}")
    return value


def _set(data: Entries, key: str, value: bytes, expire_at: ExpireAt) -> None:
    data[key] = (value, expire_at)


def _append(data: Entries, key: str, new: bool, suffix: bytes) -> None:
    if new:
        data[key] = (suffix, None)
        return
    value, expire_at = data.get(key, (None, None))
    if isinstance(value, bytes):
        value = Appended.of(value)  # the first append to this string copies it, once
    elif not isinstance(value, Appended):
        raise ReplayError(f"record needs an existing string at {key!r}")
    data[key] = (value.grown(suffix), expire_at)


def _del(data: Entries, keys: tuple[str, ...]) -> None:
    for key in keys:
        if data.pop(key, None) is None:
            raise ReplayError(f"del of a key that is not there: {key!r}")


def _rpush(data: Entries, key: str, new: bool, values: list[bytes]) -> None:
    if new:
        data[key] = (list(values), None)
    else:
        _list(data, key).extend(values)


def _hset(data: Entries, key: str, new: bool, mapping: dict[str, bytes]) -> None:
    if new:
        data[key] = (dict(mapping), None)
    else:
        _hash(data, key).update(mapping)


def _hdel(data: Entries, key: str, fields: list[str]) -> None:
    fields_now = _hash(data, key)
    for field in fields:
        if fields_now.pop(field, None) is None:
            raise ReplayError(f"hdel of a field that is not there: {key!r}.{field!r}")
    if not fields_now:
        del data[key]  # an empty hash is no hash, as in Redis


def _expire(data: Entries, key: str, expire_at: float | int) -> None:
    data[key] = (_present(data, key)[0], expire_at)


def _persist(data: Entries, key: str) -> None:
    data[key] = (_present(data, key)[0], None)


def _present(data: Entries, key: str) -> Entry:
    entry = data.get(key)
    if entry is None:
        raise ReplayError(f"record needs an existing key {key!r}")
    return entry


def _flushall(data: Entries) -> None:
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
    "append": _append,
}


class Keyspace:
    __slots__ = ("data", "seq", "applying", "deadlines", "reviving", "revived")  # the read path reads them

    def __init__(self, data: Entries | None = None):
        self.data: Entries = data if data is not None else {}
        self.seq = 0
        self.applying = threading.Lock()
        self.deadlines: Deadlines | None = None  # kept only while a reaper runs
        self.reviving: str | None = None  # the key a pending persist or expire may revive
        self.revived = threading.Event()  # set while no write is reviving a key
        self.revived.set()

    # --- the writer's side (caller holds the write lock) ---------------------------------

    def apply_record(
        self, op: str, args: tuple[Any, ...], at_apply: Callable[[], Result] | None = None
    ) -> Result | None:
        """Apply one record; ReplayError if it contradicts the state (nothing is then rolled back).
        `at_apply()` runs inside the apply window, before the change, and its result is returned:
        what a write answers must hold at the instant its change becomes visible (see `delete`)."""
        answer = None
        with self.applying:
            self.seq += 1
            try:
                if at_apply is not None:
                    answer = at_apply()
                _APPLY[op](self.data, *args)
            finally:
                self.seq += 1
        if self.deadlines is not None and op in ("set", "expire") and args[-1] is not None:
            self.deadlines.add(args[-1], args[0])
        return answer

    @contextmanager
    def may_revive(self, key: str) -> Iterator[None]:
        """Around a write that may revive `key` (see the module docstring): from before the
        writer reads its clock until its record is applied, or it gives up."""
        self.revived.clear()
        self.reviving = key
        try:
            yield
        finally:
            self.reviving = None
            self.revived.set()

    def gone(self, key: str, expire_at: ExpireAt, now: float) -> bool:
        """Whether the entry at `key` with `expire_at` is expired at `now`, for a read inside its
        window; Reviving if it is, but a pending write may revive it."""
        if expire_at is None or not is_expired(expire_at, now):
            return False
        if self.reviving == key:
            raise Reviving(key)
        return True

    def replay(self, op: str, args: tuple[Any, ...]) -> None:
        """`apply_record` for recovery, before any reader can exist: the same change, no seqlock."""
        _APPLY[op](self.data, *args)

    def remove(self, keys: list[str]) -> None:
        """Drop entries without a record: only for keys already expired (see expiry.Reaper)."""
        with self.applying:
            self.seq += 1
            for key in keys:
                self.data.pop(key, None)
            self.seq += 1

    def live(self, key: str, now: float) -> Entry | None:
        """The entry if the key is live at `now`, else None."""
        entry = self.data.get(key)
        if entry is None or (entry[1] is not None and is_expired(entry[1], now)):
            return None
        return entry

    def live_of_kind(self, key: str, now: float, kind: type) -> Entry | None:
        entry = self.live(key, now)
        if entry is not None and type(entry[0]) is not kind:
            raise wrong_type(key, type(entry[0]), kind)
        return entry

    def live_string(self, key: str, now: float) -> tuple[bytes | Appended, ExpireAt] | None:
        """(value, expire_at) if the key is a live string at `now`; None if absent; else WrongTypeError."""
        entry = self.live(key, now)
        if entry is None:
            return None
        value = entry[0]
        if type(value) is bytes or type(value) is Appended:
            return value, entry[1]
        raise wrong_type(key, type(value), bytes)

    def copy(self) -> Entries:
        """A private copy of every entry, for a snapshot to serialise outside the lock.

        Writers wait while this runs, so it copies the dict at C speed and then only the lists
        and hashes, the values writers change in place (strings, Appended ones included, and
        entries are immutable).
        """
        copied = self.data.copy()
        for key, (value, expire_at) in self.data.items():
            if isinstance(value, (list, dict)):
                copied[key] = (value.copy(), expire_at)
        return copied

    # --- the readers' side ----------------------------------------------------------------

    def read(self, read: Callable[..., Result], *args: object) -> Result:
        """`read(*args)` as of one instant between mutations (see the module docstring).

        `read` may only make atomic dict and list calls, and call the store's clock (it runs
        inside the window, which is what makes a time read there belong to the same instant);
        it must not raise but for the clock, and Reviving (from `gone`: then the read waits for
        the reviving write and runs again). After a few attempts spoiled by writers, the read
        holds `applying` instead, so a long read (a dump of a large keyspace) finishes however
        busy the writers are.
        """
        while True:
            try:
                return self._read_once(read, *args)
            except Reviving:
                self.revived.wait()  # the reviving write lands (or gives up); then read again

    def _read_once(self, read: Callable[..., Result], *args: object) -> Result:
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
