"""The read commands: no lock, no write, and never an expired key (docs/COMMANDS.md).

Every read looks at the keyspace as of one instant between mutations (keyspace.Keyspace.read,
a seqlock), then reads the clock: a key whose TTL has passed by then is absent, so no read
returns a key after its TTL. Mixed into engine.store.Store, which provides `_ks` (the
Keyspace), `_clock` and `_closed`.
"""

from __future__ import annotations

from collections.abc import Callable

from tornwrite.engine import arguments
from tornwrite.engine.errors import StoreClosedError
from tornwrite.engine.expiry import is_expired
from tornwrite.engine.format import KIND
from tornwrite.engine.keyspace import Keyspace, wrong_type

_NO_TTL, _NO_KEY = -1, -2  # ttl() results, as in Redis


class ReadCommands:
    def _readable(self) -> Keyspace:
        if self._closed:
            raise StoreClosedError("the store is closed")
        return self._ks

    def _read(self, key, kind: type | None, extract: Callable, *args: object) -> object:
        """`extract(value, *args)` on the live value at `key`, all as of one instant; None if absent.

        WrongTypeError if the value is not of `kind` (None: any kind).
        """
        key = arguments.key(key)
        ks = self._readable()
        found = ks.read(_look, ks.data, key, kind, extract, args)
        if found is None:
            return None
        expire_at, value_type, result = found
        # The clock is read after the lookup, so a key is never returned once its TTL has passed.
        if expire_at is not None and is_expired(expire_at, self._clock()):
            return None
        if kind is not None and value_type is not kind:
            raise wrong_type(key, value_type, kind)
        return result

    def get(self, key) -> bytes | None:
        """The string at `key`, or None. The hot path, so the seqlock read is inlined."""
        if type(key) is not str:
            key = arguments.key(key)
        if self._closed:
            raise StoreClosedError("the store is closed")
        ks = self._ks
        seq = ks.seq
        entry = ks.data.get(key)  # entries are immutable tuples and strings immutable bytes
        if seq & 1 or ks.seq != seq:
            entry = ks.read(ks.data.get, key)
        if entry is None:
            arguments.key(key)  # only valid keys are ever stored: an invalid str can only miss
            return None
        value, expire_at = entry
        if expire_at is not None and is_expired(expire_at, self._clock()):
            return None
        if type(value) is not bytes:
            raise wrong_type(key, type(value), bytes)
        return value

    def exists(self, key) -> bool:
        return self._read(key, None, _present) is not None

    def type(self, key) -> str | None:
        return self._read(key, None, _kind)

    def ttl(self, key) -> float | int:
        key = arguments.key(key)
        ks = self._readable()
        entry = ks.read(ks.data.get, key)
        if entry is None:
            return _NO_KEY
        now = self._clock()
        if entry[1] is None:
            return _NO_TTL
        return _NO_KEY if is_expired(entry[1], now) else entry[1] - now

    def llen(self, key) -> int:
        return self._read(key, list, len) or 0

    def lrange(self, key, start, stop) -> list[bytes]:
        key = arguments.key(key)
        start, stop = arguments.index(start, "start"), arguments.index(stop, "stop")
        return self._read(key, list, _lrange, start, stop) or []

    def lindex(self, key, index) -> bytes | None:
        key = arguments.key(key)
        return self._read(key, list, _lindex, arguments.index(index, "index"))

    def hget(self, key, field) -> bytes | None:
        key = arguments.key(key)
        return self._read(key, dict, dict.get, arguments.key(field, "field"))

    def hexists(self, key, field) -> bool:
        key = arguments.key(key)
        return bool(self._read(key, dict, dict.__contains__, arguments.key(field, "field")))

    def hlen(self, key) -> int:
        return self._read(key, dict, len) or 0

    def hgetall(self, key) -> dict[str, bytes]:
        return self._read(key, dict, dict.copy) or {}

    def keys(self) -> list[str]:
        return sorted(self._live_items(copy=False))

    def dbsize(self) -> int:
        return len(self._live_items(copy=False))

    def dump(self) -> dict[str, tuple]:
        """The logical state: key -> (kind, value, expire_at) for every live key (copies)."""
        return {
            key: (KIND[type(value)], value, expire_at)
            for key, (value, expire_at) in self._live_items(copy=True).items()
        }

    def _live_items(self, *, copy: bool) -> dict[str, tuple]:
        ks = self._readable()
        items = ks.read(_copy_items if copy else _items, ks.data)
        now = self._clock()
        return {key: entry for key, entry in items if entry[1] is None or not is_expired(entry[1], now)}


def _look(data: dict, key: str, kind: type | None, extract: Callable, args: tuple) -> tuple | None:
    entry = data.get(key)
    if entry is None:
        return None
    value, expire_at = entry
    result = extract(value, *args) if kind is None or type(value) is kind else None
    return expire_at, type(value), result


def _present(value: object) -> object:
    return True


def _kind(value: object) -> str:
    return KIND[type(value)]


def _lrange(items: list, start: int, stop: int) -> list[bytes]:
    length = len(items)
    if start < 0:
        start = max(length + start, 0)
    if stop < 0:
        stop += length
    if start > stop or start >= length:
        return []
    return items[start : stop + 1]


def _lindex(items: list, index: int) -> bytes | None:
    return items[index] if -len(items) <= index < len(items) else None


def _items(data: dict) -> list:
    return list(data.items())


def _copy_items(data: dict) -> list:
    return [
        (key, (value if type(value) is bytes else value.copy(), expire_at))
        for key, (value, expire_at) in list(data.items())
    ]
