"""Argument checks shared by every command (docs/COMMANDS.md, "Argument rules").

No implicit coercion: a wrong type is an error naming what was given, raised before the
command looks at the keyspace or the disk.
"""

from __future__ import annotations

import math

from tornwrite.engine.errors import InvalidKeyError, InvalidValueError


def key(value: object, what: str = "key") -> str:
    """A key or hash field: `str` that encodes as UTF-8, or `bytes` that decode as UTF-8."""
    if type(value) is str:
        if value.isascii():
            return value
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            raise InvalidKeyError(f"{what} {value!r} is not valid UTF-8 (lone surrogate)") from None
        return value
    if type(value) is bytes:
        try:
            return value.decode("utf-8")
        except UnicodeDecodeError:
            raise InvalidKeyError(f"{what} {value!r} is bytes that are not UTF-8") from None
    raise InvalidKeyError(f"{what} must be str or UTF-8 bytes, not {type(value).__name__}")


def value(given: object) -> bytes:
    """A value: bytes-like, stored as an immutable copy."""
    if type(given) is bytes:
        return given
    if isinstance(given, (bytearray, memoryview)):
        try:
            return bytes(given)
        except ValueError:  # the only way bytes() refuses one: a memoryview already released
            raise InvalidValueError("value is a released memoryview") from None
    raise InvalidValueError(
        f"values must be bytes, bytearray or memoryview, not {type(given).__name__}"
        + (" (encode str values yourself)" if isinstance(given, str) else "")
    )


def number(given: object, what: str) -> float | int:
    """A finite int or float (never bool)."""
    if type(given) is int or type(given) is float:  # exact types: bool and other subclasses are refused
        try:
            finite = math.isfinite(given)
        except OverflowError:  # an int beyond any float: no clock arithmetic could use it
            finite = False
        if not finite:
            raise InvalidValueError(f"{what} must be finite (and within float range), not {given!r:.40}")
        return given
    raise InvalidValueError(f"{what} must be an int or float, not {type(given).__name__}")


def index(given: object, what: str) -> int:
    if type(given) is not int:
        raise InvalidValueError(f"{what} must be an int, not {type(given).__name__}")
    return given


def at_least_one(items: tuple[object, ...] | list[object] | dict[str, object], what: str) -> None:
    if not items:
        raise InvalidValueError(f"{what} needs at least one")
