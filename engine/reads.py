"""The read commands: no lock, no write, and never an expired key (docs/COMMANDS.md).

Every read observes one instant: it looks at the keyspace between two mutations (a seqlock,
keyspace.Keyspace.read) and reads the clock inside that same window, so the entries it judges
and the time it judges them at belong together (the argument is in engine/keyspace.py). A key
whose TTL has passed at that time is absent, so no read returns a key after its TTL, and none
reports absent a key that was live throughout the call. The clock is read only when an entry
has a TTL. Mixed into engine.store.Store, which provides `_ks` (the Keyspace), `_clock` and
`_closed`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from tornwrite.engine import arguments
from tornwrite.engine.appended import Appended
from tornwrite.engine.errors import StoreClosedError
from tornwrite.engine.expiry import is_expired
from tornwrite.engine.format import KIND, Entries, Entry, ExpireAt, Value
from tornwrite.engine.keyspace import Keyspace, wrong_type

_NO_TTL, _NO_KEY = -1, -2  # ttl() results, as in Redis

Extracted = TypeVar("Extracted")


class ReadCommands:
    # Provided by engine.store.Store, which this class is mixed into.
    _ks: Keyspace
    _clock: Callable[[], float]
    _closed: bool

    def _readable(self) -> Keyspace:
        if self._closed:
            raise StoreClosedError("the store is closed")
        return self._ks

    def _read(self, key: str, kind: type | None, extract: Callable[..., Extracted], *args: object) -> Extracted | None:
        """`extract(value, *args)` on the live value at `key`, all as of one instant; None if absent.

        `key` is already checked. WrongTypeError if the value is not of `kind` (None: any kind).
        """
        ks = self._readable()
        found = ks.read(_look, ks, key, self._clock, kind, extract, args)
        if found is None:
            return None
        value_type, result = found
        if kind is not None and value_type is not kind:
            raise wrong_type(key, value_type, kind)
        return result

    def get(self, key: object) -> bytes | None:
        """The string at `key`, or None. The hot path, so the seqlock read is inlined."""
        if type(key) is not str:
            key = arguments.key(key)
        if self._closed:
            raise StoreClosedError("the store is closed")
        ks = self._ks
        seq = ks.seq
        entry = ks.data.get(key)  # entries are immutable tuples and strings immutable bytes
        if entry is None:
            if seq & 1 or ks.seq != seq:
                return self._read(arguments.key(key), bytes, _string)
            arguments.key(key)  # only valid keys are ever stored: an invalid str can only miss
            return None
        value, expire_at = entry
        # The clock is read before `seq` is checked again: inside the window, the same instant.
        if expire_at is not None and is_expired(expire_at, self._clock()):
            if seq & 1 or ks.seq != seq or ks.reviving == key:  # a reviving write: wait for it
                return self._read(key, bytes, _string)
            return None
        if seq & 1 or ks.seq != seq:
            return self._read(key, bytes, _string)
        if type(value) is bytes:
            return value
        if type(value) is Appended:
            return value.read()
        raise wrong_type(key, type(value), bytes)

    def exists(self, key: object) -> bool:
        return self._read(arguments.key(key), None, _present) is not None

    def type(self, key: object) -> str | None:
        return self._read(arguments.key(key), None, _kind)

    def ttl(self, key: object) -> float | int:
        key = arguments.key(key)
        ks = self._readable()
        return ks.read(_ttl, ks, key, self._clock)

    def llen(self, key: object) -> int:
        return self._read(arguments.key(key), list, len) or 0

    def lrange(self, key: object, start: object, stop: object) -> list[bytes]:
        key = arguments.key(key)
        first, last = arguments.index(start, "start"), arguments.index(stop, "stop")
        return self._read(key, list, _lrange, first, last) or []

    def lindex(self, key: object, index: object) -> bytes | None:
        key = arguments.key(key)
        return self._read(key, list, _lindex, arguments.index(index, "index"))

    def hget(self, key: object, field: object) -> bytes | None:
        key = arguments.key(key)
        return self._read(key, dict, dict.get, arguments.key(field, "field"))

    def hexists(self, key: object, field: object) -> bool:
        key = arguments.key(key)
        return bool(self._read(key, dict, dict.__contains__, arguments.key(field, "field")))

    def hlen(self, key: object) -> int:
        return self._read(arguments.key(key), dict, len) or 0

    def hgetall(self, key: object) -> dict[str, bytes]:
        return self._read(arguments.key(key), dict, dict.copy) or {}

    def keys(self) -> list[str]:
        return sorted(self._live_items(copy=False))

    def dbsize(self) -> int:
        return len(self._live_items(copy=False))

    def dump(self) -> dict[str, tuple[str, Value, ExpireAt]]:
        """The logical state: key -> (kind, value, expire_at) for every live key (copies)."""
        return {
            key: (KIND[type(value)], value.read() if isinstance(value, Appended) else value, expire_at)
            for key, (value, expire_at) in self._live_items(copy=True).items()
        }

    def _live_items(self, *, copy: bool) -> Entries:
        ks = self._readable()
        return dict(ks.read(_live, ks, self._clock, copy))


# The functions below run inside Keyspace.read's window, clock calls included.


def _look(
    ks: Keyspace,
    key: str,
    clock: Callable[[], float],
    kind: type | None,
    extract: Callable[..., Extracted],
    args: tuple[object, ...],
) -> tuple[type, Extracted | None] | None:
    """(value type, extracted result) of the live entry at `key`; None if absent or expired."""
    entry = ks.data.get(key)
    if entry is None:
        return None
    value, expire_at = entry
    if expire_at is not None and ks.gone(key, expire_at, clock()):
        return None
    if type(value) is Appended:
        value = value.read()  # a string APPEND grew: every read sees bytes
    return type(value), extract(value, *args) if kind is None or type(value) is kind else None


def _ttl(ks: Keyspace, key: str, clock: Callable[[], float]) -> float | int:
    entry = ks.data.get(key)
    if entry is None:
        return _NO_KEY
    expire_at = entry[1]
    if expire_at is None:
        return _NO_TTL
    now = clock()
    return _NO_KEY if ks.gone(key, expire_at, now) else expire_at - now


def _string(value: bytes) -> bytes:
    return value


def _present(value: Value) -> bool:
    return True


def _kind(value: Value) -> str:
    return KIND[type(value)]


def _lrange(items: list[bytes], start: int, stop: int) -> list[bytes]:
    length = len(items)
    if start < 0:
        start = max(length + start, 0)
    if stop < 0:
        stop += length
    if start > stop or start >= length:
        return []
    return items[start : stop + 1]


def _lindex(items: list[bytes], index: int) -> bytes | None:
    return items[index] if -len(items) <= index < len(items) else None


def _live(ks: Keyspace, clock: Callable[[], float], copy: bool) -> list[tuple[str, Entry]]:
    """Every live entry (copies of lists and hashes if `copy`), judged at one clock reading."""
    items = list(ks.data.items())
    now = clock() if any(expire_at is not None for _, (_, expire_at) in items) else 0.0
    return [
        (key, (value.copy() if copy and isinstance(value, (list, dict)) else value, expire_at))
        for key, (value, expire_at) in items
        if expire_at is None or not ks.gone(key, expire_at, now)
    ]
