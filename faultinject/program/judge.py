"""Judging one crash state with the program's own recover() and check().

Outcomes, worst first:
- integrity: `recover(path)` raised: the program cannot read its own data (or, in a later life,
  the restart failed: it cannot carry on from them; lives.py);
- durability: `check` raised `LostAck` (or an AssertionError whose message starts with
  "lost"): an acknowledged operation is missing. Kept apart because many programs never
  promise durability: their integrity failures still matter, their lost acks may not;
- invariant: `check` raised any other AssertionError (or anything else): the data reads back,
  but wrong;
- ok.
"""

from __future__ import annotations

import inspect
import os
import re
from collections.abc import Callable
from dataclasses import dataclass

from tornwrite.faultinject.program.target import Target

OUTCOMES = ("ok", "durability", "invariant", "integrity")
WORST_FIRST = ("integrity", "invariant", "durability", "ok")
LOST_PREFIX = "lost"


class LostAck(AssertionError):
    """Raise from `check` when an acknowledged operation is missing after the crash."""


@dataclass(frozen=True)
class Verdict:
    outcome: str
    detail: str = ""

    @property
    def ok(self) -> bool:
        return self.outcome == "ok"


def judge(target: Target, path: str, acked: list, in_flight: object = None) -> Verdict:
    """Recover `path` with the target's recover() and check the state against `acked`; a check
    that takes a third parameter is also told the token of the op in flight at the crash (None
    when none was, or the harness cannot know it). Two-parameter checks are called as before."""
    try:
        state = target.recover(path)
    except Exception as exc:
        return Verdict("integrity", f"recover raised {_exception(exc)}")
    if target.check is None:
        return Verdict("ok")
    try:
        if takes_in_flight(target.check):
            target.check(state, list(acked), in_flight)
        else:
            target.check(state, list(acked))
    except AssertionError as exc:
        lost = isinstance(exc, LostAck) or str(exc).lower().startswith(LOST_PREFIX)
        return Verdict("durability" if lost else "invariant", f"check: {_exception(exc)}")
    except Exception as exc:
        return Verdict("invariant", f"check raised {_exception(exc)}")
    return Verdict("ok")


def takes_in_flight(check: Callable) -> bool:
    """Whether `check` accepts a third positional argument (check(state, acked, in_flight))."""
    try:
        parameters = list(inspect.signature(check).parameters.values())
    except (TypeError, ValueError):  # a builtin without a signature: called the old way
        return False
    if any(p.kind is p.VAR_POSITIONAL for p in parameters):
        return True
    positional = [p for p in parameters if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    return len(positional) >= 3


def signature(detail: str) -> str:
    """What makes two failures the same: the exception's type and where it was raised. Messages
    differ state by state ("line 1 column 7", the keys lost) for what is one failure."""
    kind = re.match(r"(?:recover raised |check: |check raised )?(\w+)", detail)
    where = re.search(r"\(at ([^)]*)\)$", detail)
    if kind is None or where is None:
        return re.sub(r"\d+", "N", detail)
    return f"{kind.group(1)} at {where.group(1)}"


def worst(outcomes) -> str:
    return min(outcomes, key=WORST_FIRST.index, default="ok")


def _exception(exc: BaseException) -> str:
    """`Type: message` and the innermost frame of the program's code, in one line."""
    innermost = exc.__traceback__
    while innermost is not None and innermost.tb_next is not None:
        innermost = innermost.tb_next
    where = (
        f" (at {os.path.basename(innermost.tb_frame.f_code.co_filename)}:{innermost.tb_lineno})" if innermost else ""
    )
    message = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    return f"{type(exc).__name__}: {message}{where}" if message else f"{type(exc).__name__}{where}"
