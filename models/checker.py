"""The crash checker: is what survived a crash a state the workload allows?

A single client ran `ops` (from an initial state, empty unless given); the first `acked` of
them returned before the crash, and op ``acked + 1`` may have been in flight. With
``lower = max(acked, observed)`` (a write a concurrent read saw must survive too), the only
allowed recovered states are the op model's view at the check time after ``ops[:lower]`` and,
if op ``acked + 1`` was in flight, after ``ops[:acked + 1]``. States are compared as views at
the check time: expired keys are absent.

Outcomes, checked in this order:
  recovery-failed       opening the store raised (or gave no state);
  invariant-violated    an expired key is visible, or the engine's state differs from the
                        format reader's snapshot + WAL replay;
  ok                    the recovered state is an allowed one;
  lost-acked-write      it equals the model after a shorter prefix: acked writes vanished;
  phantom-or-divergent  it equals no allowed state and no earlier one.

Never imports from engine/.
"""

from __future__ import annotations

from bisect import bisect_right
from dataclasses import dataclass
from typing import Any

from tornwrite.models.opmodel import State, is_expired, run
from tornwrite.models.ops import Op

OUTCOMES = ("ok", "lost-acked-write", "phantom-or-divergent", "recovery-failed", "invariant-violated")
MAX_KEYS_SHOWN = 5
MAX_OPS_SHOWN = 5
SHORT = 60


@dataclass(frozen=True)
class Verdict:
    outcome: str
    detail: str = ""  # a short readable diff; "" when ok
    matched_prefix: int | None = None  # k such that recovered == the model after ops[:k]


def _short(thing: Any, limit: int = SHORT) -> str:
    text = thing if isinstance(thing, str) else repr(thing)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _show(entry: tuple[str, Any, float | None] | None) -> str:
    if entry is None:
        return "absent"
    kind, value, expire_at = entry
    return f"{kind} {_short(value)}" + ("" if expire_at is None else f" expire_at={expire_at!r}")


def _live_entry(state: State, key: str, now: float) -> tuple[str, Any, float | None] | None:
    entry = state.get(key)
    return None if entry is None or is_expired(entry[2], now) else entry


def _live(state: State, now: float) -> State:
    return {key: entry for key, entry in state.items() if not is_expired(entry[2], now)}


def _as_entries(dumped: dict[str, Any]) -> State:
    # A dump may hold lists or named tuples; compare plain (kind, value, expire_at) tuples.
    return {key: tuple(entry) for key, entry in dumped.items()}


def _plural(count: int, word: str) -> str:
    return f"{count} {word}" + ("" if count == 1 else "s")


class Oracle:
    """The op model run once over one workload, ready to judge any number of crashes of it.

    Keeps the model's state after every prefix (``states[k]`` is after ``ops[:k]``; they share
    unchanged entries and nothing mutates them) and, for each op, the keys whose entry it
    replaced or removed, so one check costs O(len(ops) + keys) rather than a full compare per
    prefix.
    """

    def __init__(self, ops: list[Op], start_time: float, initial: State | None = None) -> None:
        self.ops = list(ops)
        self.start_time = start_time
        self.states: list[State] = [{} if initial is None else initial]  # `initial`: the state before op 1
        self.results: list[Any] = []
        # changed[i]: the keys whose entry op i (1-based) replaced or removed; changed[0] unused.
        self.changed: list[frozenset[str]] = [frozenset()]
        self._writes: dict[str, list[int]] = {}  # key -> ascending indexes of ops that changed it
        for index, (state, _now, result) in enumerate(run(self.ops, start_time, self.states[0]), 1):
            before = self.states[-1]
            changed = self._changed_keys(before, state)
            for key in changed:
                self._writes.setdefault(key, []).append(index)
            self.states.append(state)
            self.results.append(result)
            self.changed.append(changed)

    @staticmethod
    def _changed_keys(before: State, after: State) -> frozenset[str]:
        if after is before:  # reads, ticks, snapshots, refusals and no-op writes keep the dict
            return frozenset()
        # The model shares unchanged entries, so identity finds the changed keys exactly.
        return frozenset(key for key in before.keys() | after.keys() if before.get(key) is not after.get(key))

    def view(self, prefix: int, check_time: float) -> State:
        """The model's live entries at `check_time` after ``ops[:prefix]`` (shared, read-only)."""
        return _live(self.states[prefix], check_time)

    def check(
        self,
        *,
        acked: int,
        in_flight: bool,
        recovered: dict[str, Any] | None,
        check_time: float,
        reader_state: dict[str, Any] | None = None,
        observed: int = 0,
        recovery_error: str | None = None,
    ) -> Verdict:
        """Judge one crash of this workload; see the module docstring for the rules.

        Raises ValueError when `acked`, `in_flight` or `observed` do not fit the workload.
        """
        total = len(self.ops)
        if not (0 <= acked <= total and 0 <= observed <= total) or (in_flight and acked >= total):
            raise ValueError(
                f"acked={acked} in_flight={in_flight} observed={observed} do not fit a workload of {total} ops"
            )
        lower = max(acked, observed)
        allowed = [lower] + ([acked + 1] if in_flight and acked + 1 > lower else [])

        if recovery_error is not None or recovered is None:
            reason = "open returned no state" if recovery_error is None else f"open raised: {recovery_error}"
            return Verdict("recovery-failed", _short(reason, 200))
        got = _as_entries(recovered)

        expired = sorted((key for key, entry in got.items() if is_expired(entry[2], check_time)), key=str)
        if expired:
            shown = ", ".join(f"{_short(repr(key))} (expire_at={got[key][2]!r})" for key in expired[:MAX_KEYS_SHOWN])
            more = f" and {len(expired) - MAX_KEYS_SHOWN} more" if len(expired) > MAX_KEYS_SHOWN else ""
            return Verdict("invariant-violated", f"expired key visible at check_time={check_time!r}: {shown}{more}")

        if reader_state is not None:
            # The format reader may keep expired keys on disk; compare what is live at check time.
            reader = _live(_as_entries(reader_state), check_time)
            if reader != got:
                lines = ["recovered state differs from snapshot + WAL replay (format reader):"]
                lines += self._diff(reader, got, None, ("reader", "recovered"))
                return Verdict("invariant-violated", "\n".join(lines))

        for prefix in allowed:
            if self.view(prefix, check_time) == got:
                return Verdict("ok", matched_prefix=prefix)

        # Compare against the allowed state that is closest, to keep the diff short.
        closest = min(allowed, key=lambda prefix: len(self._differing(self.view(prefix, check_time), got)))
        diff = [f"vs the model after op {closest} (allowed):"]
        diff += self._diff(self.view(closest, check_time), got, closest)

        earlier = self._walk(got, check_time, lower, 0)
        if earlier is not None:
            head = (
                f"state equals the model after op {earlier}; ops {earlier + 1}..{lower} lost "
                f"({self._writes_between(earlier, lower)})"
            )
            return Verdict("lost-acked-write", "\n".join([head] + diff), matched_prefix=earlier)

        later = self._walk(got, check_time, max(allowed), total)
        names = " or ".join(f"op {prefix}" for prefix in allowed)
        head = f"matches no allowed state (the model after {names})"
        if later is not None:
            head += (
                f"; equals the model after op {later}, so these never-acked ops took effect "
                f"({self._writes_between(max(allowed), later)})"
            )
        return Verdict("phantom-or-divergent", "\n".join([head] + diff), matched_prefix=later)

    def _writes_between(self, first: int, last: int) -> str:
        """The ops first+1..last that changed the model's state, as a short list of reprs."""
        writes = [index for index in range(first + 1, last + 1) if self.changed[index]]
        shown = ", ".join(f"#{index} {_short(repr(self.ops[index - 1]), 80)}" for index in writes[:MAX_OPS_SHOWN])
        more = f", and {len(writes) - MAX_OPS_SHOWN} more" if len(writes) > MAX_OPS_SHOWN else ""
        return f"{_plural(len(writes), 'write')}: {shown}{more}"

    def _walk(self, got: State, check_time: float, start: int, end: int) -> int | None:
        """The prefix nearest `start` (excluded) up to `end` (included) whose view equals `got`.

        Keeps the set of keys where the view and `got` differ; stepping one op only re-checks
        the keys that op changed.
        """
        if start == end:
            return None
        step = 1 if end > start else -1
        state = self.states[start]
        differing = self._differing(_live(state, check_time), got)
        prefix = start
        while prefix != end:
            # Between prefix k-1 and k, only the keys op k changed can differ.
            touched = self.changed[prefix + 1] if step > 0 else self.changed[prefix]
            prefix += step
            state = self.states[prefix]
            for key in touched:
                if _live_entry(state, key, check_time) == got.get(key):
                    differing.discard(key)
                else:
                    differing.add(key)
            if not differing:
                return prefix
        return None

    @staticmethod
    def _differing(expected: State, got: State) -> set[str]:
        return {key for key in expected.keys() | got.keys() if expected.get(key) != got.get(key)}

    def _diff(
        self, expected: State, got: State, prefix: int | None, labels: tuple[str, str] = ("expected", "recovered")
    ) -> list[str]:
        keys = sorted(self._differing(expected, got), key=str)
        lines = []
        for key in keys[:MAX_KEYS_SHOWN]:
            line = f"  {_short(repr(key))}: {labels[0]} {_show(expected.get(key))}; {labels[1]} {_show(got.get(key))}"
            if prefix is not None:
                line += f"; {self._last_write(key, prefix)}"
            lines.append(line)
        if len(keys) > MAX_KEYS_SHOWN:
            lines.append(f"  ... and {len(keys) - MAX_KEYS_SHOWN} more keys")
        return lines

    def _last_write(self, key: str, prefix: int) -> str:
        """The op where the states part: the last op in ``ops[:prefix]`` that changed `key`."""
        writes = self._writes.get(key, [])
        position = bisect_right(writes, prefix)
        if position == 0:
            return f"no op in 1..{prefix} wrote it"
        index = writes[position - 1]
        return f"last written by op #{index} {_short(repr(self.ops[index - 1]), 80)}"


def check_recovery(
    ops: list[Op],
    *,
    acked: int,
    in_flight: bool,
    recovered: dict[str, Any] | None,
    start_time: float,
    check_time: float,
    reader_state: dict[str, Any] | None = None,
    observed: int = 0,
    recovery_error: str | None = None,
) -> Verdict:
    """Judge one crash; builds an Oracle, so reuse an Oracle to judge many crashes of one workload."""
    return Oracle(ops, start_time).check(
        acked=acked,
        in_flight=in_flight,
        recovered=recovered,
        check_time=check_time,
        reader_state=reader_state,
        observed=observed,
        recovery_error=recovery_error,
    )
