"""Checks of `Store.open`'s arguments and of each clock reading (docs/COMMANDS.md, "Opening").

Every option is checked before the directory is touched, so a misconfigured store never
exists: a bad option can no longer surface as an error after a write is durable. A clock
reading is checked before the command logs anything, so a bad clock fails the command whole.
"""

from __future__ import annotations

import errno
import math
import os
import threading
from collections.abc import Callable
from typing import Any

from tornwrite.engine.errors import ClockError, InvalidArgumentError, ReentrantCallError


def directory(path: object) -> str:
    """The directory as a str path; InvalidArgumentError for other types, OSError(EINVAL) for NUL."""
    if not isinstance(path, (str, os.PathLike)):
        raise InvalidArgumentError(f"path must be a str or os.PathLike, not {type(path).__name__}")
    text = os.fspath(path)
    if not isinstance(text, str):
        raise InvalidArgumentError(f"path must name a str path, not {type(text).__name__}")
    if "\0" in text:
        # What the OS would say if it were asked: no file name holds a NUL byte.
        raise OSError(errno.EINVAL, "a path cannot contain a NUL byte", text)
    return text


def check(
    *, clock: object, strict: object, snapshot_every: object, reaper_interval: object, io: object, io_type: type
) -> None:
    """InvalidArgumentError naming the first option of the wrong type or out of range."""
    if not callable(clock):
        raise InvalidArgumentError(f"clock must be callable, not {type(clock).__name__}")
    if type(strict) is not bool:
        raise InvalidArgumentError(f"strict must be True or False, not {type(strict).__name__}")
    if io is not None and not isinstance(io, io_type):
        raise InvalidArgumentError(f"io must be an {io_type.__name__}, not {type(io).__name__}")
    if snapshot_every is not None and (type(snapshot_every) is not int or snapshot_every <= 0):
        raise InvalidArgumentError(f"snapshot_every must be a positive int or None, not {snapshot_every!r:.40}")
    if reaper_interval is not None and not _positive_finite(reaper_interval):
        raise InvalidArgumentError(
            f"reaper_interval must be a positive finite number of seconds or None, not {reaper_interval!r:.40}"
        )


def _positive_finite(given: object) -> bool:
    if type(given) is not int and type(given) is not float:  # exact: bool is no interval
        return False
    try:
        return math.isfinite(given) and given > 0
    except OverflowError:  # an int beyond any float: no timer can wait that long
        return False


def checked_clock(clock: Callable[[], Any]) -> Callable[[], float]:
    """`clock`, with each reading checked: an int or float, finite, else ClockError. A clock that
    reaches this clock again on its own thread (through a store read of a key with a TTL, say)
    raises ReentrantCallError there, instead of recursing until the stack runs out."""
    inside: set[int] = set()  # the threads now running `clock`

    def now() -> float:
        thread = threading.get_ident()
        if thread in inside:
            raise ReentrantCallError(
                "the store's clock called a store command that reads the clock again: it would recurse forever"
            )
        inside.add(thread)
        try:
            reading = clock()
        finally:
            inside.discard(thread)
        if type(reading) is not float and type(reading) is not int:
            raise ClockError(f"the clock returned {type(reading).__name__}, not a number of seconds")
        try:
            finite = math.isfinite(reading)
        except OverflowError:
            finite = False
        if not finite:
            raise ClockError(f"the clock returned {reading!r:.40}, not a finite time")
        return reading

    return now
