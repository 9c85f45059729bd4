"""The op model: every command of docs/COMMANDS.md, written again from that page alone.

A state is a plain dict ``key -> (kind, value, expire_at)`` exactly as in COMMANDS.md
"Logical state". Keys may sit in a state after they expire; every command and `view` treat
them as absent.

Guarantees: `apply` never mutates the state it is given nor any list or dict inside it. A new
state is a new dict that shares the entries of the keys it did not change; every entry it
changes gets a fresh value, so no list or dict is shared between a changed entry and its old
one. Treat states as read-only; `view` returns a private copy.

This module must never import from engine/: it is the independent second opinion.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, TypeVar

from tornwrite.models.ops import Op


class _Any:
    def __repr__(self) -> str:
        return "ANY"


ANY = _Any()
"""A result not predicted by the model (the LSN `snapshot()` returns); matches anything."""

State = dict[str, tuple[str, Any, float | None]]
"""key -> (kind, value, expire_at), as in COMMANDS.md "Logical state"; value: bytes, list or dict."""
Outcome = tuple[State, Any]
"""What a command gives: (new_state, result)."""


@dataclass(frozen=True)
class Refusal:
    """The model predicts that the command raises the engine exception named `error`.

    `error` is "WrongTypeError", "InvalidKeyError" or "InvalidValueError"; equality ignores
    `message`, which only helps a person reading a failure.
    """

    error: str
    message: str = field(default="", compare=False)


class _Refused(Exception):
    def __init__(self, error: str, message: str) -> None:
        super().__init__(message)
        self.refusal = Refusal(error, message)


def is_expired(expire_at: float | None, now: float) -> bool:
    """The one expiry rule: a key with a TTL is gone from the instant `now` reaches it."""
    return expire_at is not None and now >= expire_at


def view(state: State, now: float) -> State:
    """The logical state at `now`, shaped like ``Store.dump()``: live keys only, fresh copies."""
    return {
        key: (kind, _copy(value), expire_at)
        for key, (kind, value, expire_at) in state.items()
        if not is_expired(expire_at, now)
    }


def _copy(value: Any) -> Any:
    # bytes are immutable; lists and hashes are copied so no caller can reach into a state.
    return list(value) if isinstance(value, list) else dict(value) if isinstance(value, dict) else value


# ---- argument rules (COMMANDS.md "Argument rules"), checked before the state is looked at ----


def _key(key: Any, what: str = "key") -> str:
    if isinstance(key, bytes):
        try:
            return key.decode("utf-8")
        except UnicodeDecodeError:
            raise _Refused("InvalidKeyError", f"{what} {key!r} is not UTF-8") from None
    if isinstance(key, str):
        try:
            key.encode("utf-8")
        except UnicodeEncodeError:
            raise _Refused("InvalidKeyError", f"{what} {key!r} does not encode as UTF-8") from None
        return key
    raise _Refused("InvalidKeyError", f"{what} must be str or bytes, not {type(key).__name__}")


def _value(value: Any) -> bytes:
    if isinstance(value, (bytes, bytearray, memoryview)):
        try:
            return bytes(value)  # an immutable copy: the caller may reuse its buffer
        except ValueError:  # a released memoryview: refused as a bad value (COMMANDS.md rule 2)
            raise _Refused("InvalidValueError", "value is a released memoryview") from None
    raise _Refused("InvalidValueError", f"value must be bytes, not {type(value).__name__}")


def _number(number: Any, what: str) -> float:
    """A TTL or timestamp: int or float, not bool, finite."""
    if isinstance(number, bool) or not isinstance(number, (int, float)):
        raise _Refused("InvalidValueError", f"{what} must be a number, not {type(number).__name__}")
    try:
        finite = math.isfinite(number)
    except OverflowError:  # an int too large to be a float
        finite = False
    if not finite:
        raise _Refused("InvalidValueError", f"{what} must be finite, within float range")
    return number


def _index(index: Any) -> int:
    if isinstance(index, bool) or not isinstance(index, int):
        raise _Refused("InvalidValueError", f"list index must be int, not {type(index).__name__}")
    return index


def _none_given(what: str) -> _Refused:
    return _Refused("InvalidValueError", f"{what} needs at least one")


# ---- state helpers ----


def _live(state: State, key: str, now: float) -> tuple[str, Any, float | None] | None:
    entry = state.get(key)
    return None if entry is None or is_expired(entry[2], now) else entry


def _typed(state: State, key: str, now: float, kind: str) -> tuple[str, Any, float | None] | None:
    """The live entry of `key` if it holds `kind`, None if absent; WrongTypeError otherwise."""
    entry = _live(state, key, now)
    if entry is not None and entry[0] != kind:
        raise _Refused("WrongTypeError", f"{key!r} holds a {entry[0]}, not a {kind}")
    return entry


def _put(state: State, key: str, entry: tuple[str, Any, float | None]) -> State:
    new_state = dict(state)
    new_state[key] = entry  # replaces an expired entry physically, as writes treat it as absent
    return new_state


def _drop(state: State, keys: list[str]) -> State:
    dropped = set(keys)
    return {key: entry for key, entry in state.items() if key not in dropped}


# ---- commands: each returns (new_state, result) or raises _Refused ----

_COMMANDS: dict[str, Callable[..., Outcome]] = {}
_Command = TypeVar("_Command", bound=Callable[..., Outcome])


def _command(name: str) -> Callable[[_Command], _Command]:
    def register(function: _Command) -> _Command:
        _COMMANDS[name] = function
        return function

    return register


@_command("set")
def _set(
    state: State, now: float, /, key: object, value: object, *, ttl: object = None, expire_at: object = None
) -> Outcome:
    key, value = _key(key), _value(value)
    if ttl is not None:
        ttl = _number(ttl, "ttl")
        if ttl <= 0:
            raise _Refused("InvalidValueError", f"ttl must be > 0, not {ttl!r}")
    if expire_at is not None:
        expire_at = _number(expire_at, "expire_at")
    if ttl is not None and expire_at is not None:
        raise _Refused("InvalidValueError", "give ttl or expire_at, not both")
    return _put(state, key, ("string", value, now + ttl if ttl is not None else expire_at)), None


@_command("get")
def _get(state: State, now: float, /, key: object) -> Outcome:
    entry = _typed(state, _key(key), now, "string")
    return state, entry[1] if entry else None


@_command("append")
def _append(state: State, now: float, /, key: object, value: object) -> Outcome:
    key, suffix = _key(key), _value(value)
    entry = _typed(state, key, now, "string")
    # An absent or expired key counts as b"" and gets no TTL; a live string keeps its TTL.
    new_value = (entry[1] if entry else b"") + suffix
    return _put(state, key, ("string", new_value, entry[2] if entry else None)), len(new_value)


@_command("delete")
def _delete(state: State, now: float, /, *keys: object) -> Outcome:
    names = list(dict.fromkeys(_key(key) for key in keys))  # duplicates count once
    live = [name for name in names if _live(state, name, now)]
    return (_drop(state, live) if live else state), len(live)


@_command("exists")
def _exists(state: State, now: float, /, key: object) -> Outcome:
    return state, _live(state, _key(key), now) is not None


@_command("rpush")
def _rpush(state: State, now: float, /, key: object, *values: object) -> Outcome:
    key, items = _key(key), [_value(value) for value in values]
    if not items:
        raise _none_given("rpush value")
    entry = _typed(state, key, now, "list")
    new_list = (entry[1] if entry else []) + items  # a fresh list; the old one is untouched
    return _put(state, key, ("list", new_list, entry[2] if entry else None)), len(new_list)


@_command("lrange")
def _lrange(state: State, now: float, /, key: object, start: object, stop: object) -> Outcome:
    key, start, stop = _key(key), _index(start), _index(stop)
    entry = _typed(state, key, now, "list")
    items = entry[1] if entry else []
    length = len(items)
    start = max(start + length if start < 0 else start, 0)
    stop = min(stop + length if stop < 0 else stop, length - 1)
    return state, [] if start > stop or start >= length else items[start : stop + 1]


@_command("llen")
def _llen(state: State, now: float, /, key: object) -> Outcome:
    entry = _typed(state, _key(key), now, "list")
    return state, len(entry[1]) if entry else 0


@_command("lindex")
def _lindex(state: State, now: float, /, key: object, index: object) -> Outcome:
    key, index = _key(key), _index(index)
    entry = _typed(state, key, now, "list")
    items = entry[1] if entry else []
    index = index + len(items) if index < 0 else index
    return state, items[index] if 0 <= index < len(items) else None


@_command("hset")
def _hset(state: State, now: float, /, key: object, mapping: object) -> Outcome:
    key = _key(key)
    if not isinstance(mapping, Mapping):
        raise _Refused("InvalidValueError", f"mapping must be a Mapping, not {type(mapping).__name__}")
    pairs = list(mapping.items())
    fields = [_key(name, "field") for name, _ in pairs]  # every field before any value
    values = [_value(value) for _, value in pairs]
    if not pairs:
        raise _none_given("hset mapping entry")
    entry = _typed(state, key, now, "hash")
    new_hash = dict(entry[1]) if entry else {}
    added = 0
    for name, value in zip(fields, values):
        added += name not in new_hash  # b"f" and "f" in one call are one new field
        new_hash[name] = value
    return _put(state, key, ("hash", new_hash, entry[2] if entry else None)), added


@_command("hget")
def _hget(state: State, now: float, /, key: object, field: object) -> Outcome:
    key, field = _key(key), _key(field, "field")
    entry = _typed(state, key, now, "hash")
    return state, entry[1].get(field) if entry else None


@_command("hdel")
def _hdel(state: State, now: float, /, key: object, *fields: object) -> Outcome:
    key = _key(key)
    names = list(dict.fromkeys(_key(name, "field") for name in fields))
    if not names:
        raise _none_given("hdel field")
    entry = _typed(state, key, now, "hash")
    present = [name for name in names if entry and name in entry[1]]
    if entry is None or not present:
        return state, 0
    remaining = {name: value for name, value in entry[1].items() if name not in present}
    # A hash is never empty: losing its last field removes the key, TTL and all.
    new_state = _put(state, key, ("hash", remaining, entry[2])) if remaining else _drop(state, [key])
    return new_state, len(present)


@_command("hgetall")
def _hgetall(state: State, now: float, /, key: object) -> Outcome:
    entry = _typed(state, _key(key), now, "hash")
    return state, dict(entry[1]) if entry else {}


@_command("hlen")
def _hlen(state: State, now: float, /, key: object) -> Outcome:
    entry = _typed(state, _key(key), now, "hash")
    return state, len(entry[1]) if entry else 0


@_command("hexists")
def _hexists(state: State, now: float, /, key: object, field: object) -> Outcome:
    key, field = _key(key), _key(field, "field")
    entry = _typed(state, key, now, "hash")
    return state, entry is not None and field in entry[1]


def _set_expiry(state: State, now: float, key: str, expire_at: float) -> Outcome:
    entry = _live(state, key, now)
    if entry is None:
        return state, False
    return _put(state, key, (entry[0], _copy(entry[1]), expire_at)), True


@_command("expire")
def _expire(state: State, now: float, /, key: object, seconds: object) -> Outcome:
    key = _key(key)
    return _set_expiry(state, now, key, now + _number(seconds, "seconds"))


@_command("expire_at")
def _expire_at(state: State, now: float, /, key: object, unix_seconds: object) -> Outcome:
    key = _key(key)
    return _set_expiry(state, now, key, _number(unix_seconds, "unix_seconds"))


@_command("persist")
def _persist(state: State, now: float, /, key: object) -> Outcome:
    key = _key(key)
    entry = _live(state, key, now)
    if entry is None or entry[2] is None:
        return state, False
    return _put(state, key, (entry[0], _copy(entry[1]), None)), True


@_command("ttl")
def _ttl(state: State, now: float, /, key: object) -> Outcome:
    entry = _live(state, _key(key), now)
    return state, -2 if entry is None else -1 if entry[2] is None else entry[2] - now


@_command("type")
def _type(state: State, now: float, /, key: object) -> Outcome:
    entry = _live(state, _key(key), now)
    return state, entry[0] if entry else None


@_command("keys")
def _keys(state: State, now: float, /) -> Outcome:
    return state, sorted(key for key in state if _live(state, key, now))


@_command("dbsize")
def _dbsize(state: State, now: float, /) -> Outcome:
    return state, sum(1 for key in state if _live(state, key, now))


@_command("flushall")
def _flushall(state: State, now: float, /) -> Outcome:
    return {}, None


@_command("dump")
def _dump(state: State, now: float, /) -> Outcome:
    return state, view(state, now)


@_command("snapshot")
def _snapshot(state: State, now: float, /) -> Outcome:
    return state, ANY  # the LSN depends on the engine's log, which the model does not keep


@_command("reap_expired")
def _reap_expired(state: State, now: float, /) -> Outcome:
    # Expired keys are absent already; how many the engine still held depends on its crashes.
    return state, ANY


# ---- running ops ----


def apply(state: State, op: Op, now: float) -> Outcome:
    """Apply one command at clock reading `now`: ``(new_state, result)``.

    A refused command returns ``(state, Refusal(...))`` with `state` itself, unchanged; so do
    reads and no-op writes. Raises ValueError for `tick` (the clock is `run`'s business) and for
    an op name COMMANDS.md does not define: both are bugs in the caller, not refusals.
    """
    if op.name == "tick":
        raise ValueError("tick advances the clock; use run(), not apply()")
    if op.name not in _COMMANDS:
        raise ValueError(f"unknown op {op.name!r}")
    function = _COMMANDS[op.name]
    kwargs = dict(op.kwargs)
    # A call that fits no signature raises TypeError from the call itself, as any Python call
    # would (COMMANDS.md); the functions check their arguments' types before using them.
    try:
        return function(state, now, *op.args, **kwargs)
    except _Refused as refused:
        return state, refused.refusal


def run(ops: list[Op], start_time: float, initial: State | None = None) -> Iterator[tuple[State, float, Any]]:
    """Yield ``(state, now, result)`` after each op, from `initial` (the empty state if None) at
    `start_time`; `initial` itself is never changed.

    ``tick(seconds)`` advances `now` (result None); every other op is applied at the current `now`.
    """
    state: State = {} if initial is None else initial
    now = start_time
    for op in ops:
        if op.name == "tick":
            (seconds,) = op.args
            now, result = now + seconds, None
        else:
            state, result = apply(state, op, now)
        yield state, now, result


def state_after(ops: list[Op], start_time: float) -> tuple[State, float]:
    """The model's ``(state, now)`` after all of `ops`."""
    last: tuple[State, float] = ({}, start_time)
    for state, now, _ in run(ops, start_time):
        last = (state, now)
    return last


def same_result(expected: Any, actual: Any) -> bool:
    """Whether an engine result matches the model's.

    The caller represents an engine exception as ``Refusal(type(exc).__name__)``. ANY matches
    everything; refusals match on the error name; numbers compare exactly with ==, but a bool
    never matches an int; bytes must be bytes, lists lists, tuples tuples, dicts dicts.
    """
    if expected is ANY or actual is ANY:
        return True
    if isinstance(expected, Refusal) or isinstance(actual, Refusal):
        return isinstance(expected, Refusal) and isinstance(actual, Refusal) and expected == actual
    if isinstance(expected, bool) or isinstance(actual, bool):
        return isinstance(expected, bool) and isinstance(actual, bool) and expected == actual
    if isinstance(expected, (int, float)):
        return isinstance(actual, (int, float)) and expected == actual
    for container in (list, tuple):
        if isinstance(expected, container):
            return (
                isinstance(actual, container)
                and len(expected) == len(actual)
                and all(map(same_result, expected, actual))
            )
    if isinstance(expected, dict):
        return (
            isinstance(actual, dict)
            and expected.keys() == actual.keys()
            and all(same_result(expected[key], actual[key]) for key in expected)
        )
    return type(expected) is type(actual) and expected == actual


def describe_result(result: Any, limit: int = 60) -> str:
    """A short readable form of a result: ``raises WrongTypeError`` or a repr cut to `limit`."""
    if isinstance(result, Refusal):
        return f"raises {result.error}" + (f" ({result.message})" if result.message else "")
    text = repr(result)
    return text if len(text) <= limit else text[: limit - 3] + "..."
