"""Linearizability of concurrent histories: Wing & Gong's search with Lowe's memo, per key.

A history is a list of `Call`s: which client ran which `Op`, when it was invoked, when it
returned (None if it never did) and what it returned. `check_history` decides whether some
total order of the calls (1) respects real time: a call that returned before another was
invoked comes first; (2) gives every completed call the result the sequential spec computes
at its place; (3) holds every completed call, while a pending call is placed anywhere after
its invoke, or left out (it may or may not have taken effect).

Results are compared by type and value (`same_result`): ``True`` is not ``1``, ``b"k"`` is
not ``"k"``, recursively inside lists, tuples and dicts. The recorder and the spec speak one
representation:
- a normal return value exactly as the engine returns it (None, bytes, int, bool, str,
  ``list[bytes]`` for lrange and keys, ``dict[str, bytes]`` for hgetall);
- a raised engine error as ``("error", "<ClassName>")``, built by `error_result`;
  `WRONGTYPE` is ``("error", "WrongTypeError")``. A call that met an I/O error may or may not
  have taken effect: record it as pending (``ret=None``), not as an error.

Time. A call may carry ``clock=(lo, hi)``, the store's clock read just before the invoke and
just after the return, and ``readings``, the values the store itself read from its clock
during the call. Such a call is judged at one instant ``t`` with ``lo <= t <= hi``, and the
instants never decrease along the order; the spec (a `TimedSpec`) says which instants are
worth trying (`instants`) and what the op does at one (`step_at`).

The spec for the store is `OpModelSpec`, the op model of models/opmodel.py behind a hashable
state. Any spec's states must be hashable immutable values that compare equal when
equivalent: `step` returns a new state and never mutates its argument. A spec may also offer
``restrict(state, keys)`` to cut its initial state down to one partition's keys, and
``read_only(op)``: an op that never changes any state. A pending read-only call is dropped
(it cannot matter), and a read-only call that fits where the search stands is placed there
without trying alternatives: moving it earlier in any valid order keeps the order valid.

The search, per partition. The calls become a doubly linked list of call and return entries
in time order; at equal times calls come first, so intervals that touch count as overlapping.
Walking from the head, a call whose op yields the recorded result is lifted (it and its
return are unlinked) and the walk restarts at the head. Reaching a return entry means that
call had to be placed already, so the search backtracks: pop the last lifted call, relink it,
try the entry after it. A (linearized set, state) pair seen before is never explored again
(Lowe); the memo holds each pair as one int. Pending calls return at +infinity and accept any
result; the search succeeds once every completed call is placed.

Partitioning is sound by Herlihy & Wing's locality: a history is linearizable iff each
object's sub-history is. For these commands a key is an object (an op's result and effect
depend only on the keys it names; UTF-8 bytes name the same key as their str). An op naming
several keys (delete) is one indivisible event on all of them, so their keys merge into one
object (union-find); a whole-keyspace op (keys, dbsize, flushall, dump) makes the whole store
one object. Keyless harness ops (tick, snapshot, ``delete()``) touch no key and are not checked.
With time, each partition chooses its own instants; merging the partitions' orders by instant
assumes the clock is monotonic, so that clock intervals agree with real time (they are read at
the invoke and the return).

Partitions are searched interleaved, round-robin with step budgets that double each round, so
a partition whose search is long does not hide a violation another partition shows quickly.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Hashable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

from tornwrite.models import opmodel
from tornwrite.models.opmodel import Refusal
from tornwrite.models.ops import READ_COMMANDS, Op

WRONGTYPE = ("error", "WrongTypeError")
# Search steps between two looks at the clock when a timeout is set (a step is ~10 us).
_CLOCK_EVERY = 256
# Steps the first round gives each partition; each later round doubles it.
_FIRST_BUDGET = 2_000
_PREFIX_SHOWN = 8
_CANDIDATES_SHOWN = 12
_KEYS_SHOWN = 10

Keys = tuple[Hashable, ...] | None  # a partition's keys; None: the whole keyspace


def error_result(error: BaseException | str) -> tuple[str, str]:
    """The recorded result of a call that raised `error` (an exception or its class name)."""
    return ("error", error if isinstance(error, str) else type(error).__name__)


def same_result(expected: object, actual: object) -> bool:
    """Equal in type and value, recursively: a bool never equals an int, bytes never str."""
    kind = type(expected)
    if kind is not type(actual):
        return False
    if kind is list or kind is tuple:
        assert isinstance(expected, (list, tuple)) and isinstance(actual, (list, tuple))
        return len(expected) == len(actual) and all(map(same_result, expected, actual))
    if kind is dict:
        assert isinstance(expected, dict) and isinstance(actual, dict)
        return {(type(key), key) for key in expected} == {(type(key), key) for key in actual} and all(
            same_result(value, actual[key]) for key, value in expected.items()
        )
    return expected == actual


@dataclass(frozen=True)
class Call:
    """One operation of a concurrent history; ``ret is None`` means it never returned.

    `clock` is the store clock's (reading before invoke, reading after return), or None for
    an untimed call; `readings` are the values the store read from that clock during the call.
    """

    client: int
    op: Op
    invoke: float
    ret: float | None
    result: object = None
    clock: tuple[float, float] | None = None
    readings: tuple[float, ...] = ()

    @property
    def pending(self) -> bool:
        return self.ret is None

    def describe(self) -> str:
        at = "" if self.clock is None else f" clock [{self.clock[0]!r}, {self.clock[1]!r}] read {list(self.readings)}"
        if self.ret is None:
            return f"client {self.client}: {self.op!r} -> pending  [{self.invoke:.6f}, never returned]{at}"
        return f"client {self.client}: {self.op!r} -> {self.result!r}  [{self.invoke:.6f}, {self.ret:.6f}]{at}"


@dataclass(frozen=True)
class LinearizabilityResult:
    """``ok`` is False both for a violation and for a timeout (then ``timed_out`` is True).

    `steps` counts calls tried by the search and `memo_entries` the (placed set, state) pairs
    it remembered, over all partitions: a measure of work that does not depend on the machine.
    """

    ok: bool
    partitions: int
    checked_calls: int  # calls in the partitions fully searched (all keyed calls when ok)
    counterexample: str = ""
    timed_out: bool = False
    steps: int = 0
    memo_entries: int = 0


class SequentialSpec(Protocol):
    def init(self) -> Hashable: ...

    def step(self, state: Any, op: Op) -> tuple[Hashable, object]: ...


@runtime_checkable
class TimedSpec(Protocol):
    """A spec that can judge an op at an instant, for calls that carry a clock."""

    def instants(self, state: Any, call: Call, lowest: float, landmarks: tuple[float, ...]) -> list[float]:
        """The instants in [lowest, call.clock[1]] worth trying for `call` at `state`, earliest
        first. `landmarks` are the instants the partition's calls pin down (clock bounds,
        readings, deadlines a ttl answer shows), against which a call's effect may be judged."""
        ...

    def step_at(self, state: Any, op: Op, now: float, readings: tuple[float, ...]) -> tuple[Hashable, object]: ...


def check_history(
    history: Sequence[Call],
    spec: SequentialSpec,
    *,
    timeout: float | None = None,
    max_steps: int | None = None,
    clock: Callable[[], float] = time.monotonic,
) -> LinearizabilityResult:
    """Whether `history` is linearizable with respect to `spec`.

    Stops at the first partition found not to be, and explains it in ``counterexample``. With
    a `timeout` (seconds of `clock`) or `max_steps` (search steps over all partitions) it gives
    up with ``timed_out=True`` instead of searching on; the clock is read every few hundred
    steps, so it returns within milliseconds of the deadline. Raises ValueError for a call that
    returned before it was invoked, or that carries a clock the spec cannot use.
    """
    for call in history:
        if call.ret is not None and call.ret < call.invoke:
            raise ValueError(f"call returned before it was invoked: {call.describe()}")
        if call.clock is not None and not isinstance(spec, TimedSpec):
            raise ValueError(f"{type(spec).__name__} cannot judge calls at an instant: {call.describe()}")
    deadline = None if timeout is None else clock() + timeout
    read_only: Callable[[Op], bool] = getattr(spec, "read_only", lambda op: False)
    partitions = _partition(history)
    searches = []
    for keys, calls in partitions:
        state = spec.init()
        restrict = getattr(spec, "restrict", None)
        if keys is not None and restrict is not None:
            state = restrict(state, frozenset(keys))
        searches.append(_Search(keys, calls, spec, state, read_only))
    budget = _FIRST_BUDGET
    open_searches = [search for search in searches if search.status is None]
    while open_searches:
        for search in open_searches:
            steps_left = None if max_steps is None else max_steps - sum(s.steps for s in searches)
            if (deadline is not None and clock() >= deadline) or (steps_left is not None and steps_left <= 0):
                return _gave_up(searches, search, partitions, timeout, max_steps)
            if not search.run(budget if steps_left is None else min(budget, steps_left), deadline, clock):
                return _gave_up(searches, search, partitions, timeout, max_steps)
            if search.status == _VIOLATION:
                return LinearizabilityResult(
                    False,
                    len(partitions),
                    sum(len(s.calls) for s in searches if s.status is not None),
                    search.explain(),
                    steps=sum(s.steps for s in searches),
                    memo_entries=sum(len(s.seen) or s.memo_entries for s in searches),
                )
        open_searches = [search for search in open_searches if search.status is None]
        budget *= 2
    return LinearizabilityResult(
        True,
        len(partitions),
        sum(len(s.calls) for s in searches),
        steps=sum(s.steps for s in searches),
        memo_entries=sum(len(s.seen) or s.memo_entries for s in searches),
    )


def _gave_up(
    searches: list[_Search],
    current: _Search,
    partitions: list[tuple[Keys, list[Call]]],
    timeout: float | None,
    max_steps: int | None,
) -> LinearizabilityResult:
    limit = f"{timeout} s" if timeout is not None and (max_steps is None or current.steps == 0) else "the step budget"
    unsure = [s for s in searches if s.status is None]
    note = f"timed out after {limit}: {len(unsure)} partitions undecided, e.g. {_describe_keys(current.keys)}"
    return LinearizabilityResult(
        False,
        len(partitions),
        sum(len(s.calls) for s in searches if s.status is not None),
        note,
        timed_out=True,
        steps=sum(s.steps for s in searches),
        memo_entries=sum(len(s.seen) or s.memo_entries for s in searches),
    )


def _partition(history: Sequence[Call]) -> list[tuple[Keys, list[Call]]]:
    """Groups of calls that share keys, in order of first appearance; keys None = everything."""
    parent: dict[Hashable, Hashable] = {}

    def find(key: Hashable) -> Hashable:
        root = key
        while parent[root] != root:
            root = parent[root]
        while parent[key] != root:
            parent[key], key = root, parent[key]
        return root

    keyed: list[tuple[Call, Hashable]] = []
    whole_keyspace = False
    for call in history:
        named = call.op.keys()
        if named is None:
            whole_keyspace = True
            keyed.append((call, None))
            continue
        if not named:
            continue
        keys = [key_object(key) for key in named]  # b"k" and "k" are one object
        for key in keys:
            parent.setdefault(key, key)
        first = find(keys[0])
        for key in keys[1:]:
            root = find(key)
            if root != first:
                parent[root] = first
        keyed.append((call, keys[0]))
    if whole_keyspace:
        return [(None, [call for call, _ in keyed])] if keyed else []
    groups: dict[Hashable, list[Call]] = {}
    for call, key in keyed:
        groups.setdefault(find(key), []).append(call)
    members: dict[Hashable, list[Hashable]] = {}
    for key in parent:
        members.setdefault(find(key), []).append(key)
    return [(tuple(sorted(members[root], key=repr)), calls) for root, calls in groups.items()]


_VIOLATION, _OK = False, True
_Frame = tuple[int, list[float], bool, int, int, int, int, float]
_NEVER = -math.inf  # the instant before any call: no call has been judged yet
_STATE_BITS = 32  # distinct (state, instant) pairs per partition, numbered for the memo


class _Search:
    """The search of one partition, resumable: `run` goes on for a budget of steps.

    `status` is None until decided, then _OK or _VIOLATION; `longest` is then the longest
    linearizable prefix met, as (call index, instant) pairs.
    """

    def __init__(
        self, keys: Keys, calls: list[Call], spec: SequentialSpec, state: Hashable, read_only: Callable[[Op], bool]
    ) -> None:
        # A pending call that changes nothing cannot matter: it is as if it never took effect.
        calls = [call for call in calls if not (call.ret is None and read_only(call.op))]
        # Numbering calls by invoke time keeps the linearized set a dense prefix plus a few bits.
        calls.sort(key=lambda call: call.invoke)
        self.keys, self.calls, self.spec, self.initial = keys, calls, spec, state
        self.landmarks = _landmarks(calls)
        self.steps = 0
        self.seen: set[int] = set()
        self.longest: list[tuple[int, float]] = []
        count = len(calls)
        self.pending = [call.ret is None for call in calls]
        self.remaining = self.pending.count(False)
        self.status: bool | None = _OK if self.remaining == 0 else None
        self.forced = [read_only(call.op) for call in calls]
        self.timed = [call.clock is not None for call in calls]
        # Completed calls are numbered 0.. and pending ones 0.. apart, both in invoke order, so a
        # pending call never placed cannot hold the dense prefix below (low, rest) back.
        self.slot: list[int] = []
        ranks = [0, 0]
        for is_pending in self.pending:
            self.slot.append(ranks[is_pending])
            ranks[is_pending] += 1
        # The memo packs (rest, pending placed, state number, low) into one int, low lowest.
        self.low_bits = max(count, 1).bit_length()
        self.pending_bits = ranks[1]
        # Positions number the (state, instant of the last timed call) pairs met; the memo and the
        # cache of transitions ((position, call[, instant]) -> (position, result)) speak in them.
        self.positions: list[tuple[Hashable, float]] = [(state, _NEVER)]
        self.position_numbers: dict[tuple[Hashable, float], int] = {(state, _NEVER): 0}
        self.transitions: dict[tuple[int, int] | tuple[int, int, float], tuple[int, object]] = {}
        self.memo_entries = 0
        events = [(call.invoke, 0, i) for i, call in enumerate(calls)]
        events += [(math.inf if call.ret is None else call.ret, 1, i) for i, call in enumerate(calls)]
        events.sort()
        # Entries 0..2n-1 in time order and the head sentinel 2n, in a circular list; entry_call
        # holds a call entry's call index, or ~index for a return entry. The walk never reaches
        # the head again: an unplaced completed call's return (finite time) always comes first.
        self.head = 2 * count
        self.entry_call = [i if kind == 0 else ~i for _, kind, i in events] + [0]
        self.return_entry = [0] * count
        for position, (_, kind, i) in enumerate(events):
            if kind == 1:
                self.return_entry[i] = position
        # Two lists over the entries, both holding every return: the scan's holds the read-only
        # calls, the walk's the others and the timed read-only ones (tried there at later instants).
        self.in_scan = [i < 0 or self.forced[i] for i in self.entry_call[: self.head]] + [True]
        self.in_walk = [i < 0 or not self.forced[i] or self.timed[i] for i in self.entry_call[: self.head]] + [True]
        self.nxt_scan, self.prv_scan = self._linked(self.in_scan)
        self.nxt_walk, self.prv_walk = self._linked(self.in_walk)
        # The walk's position: completed calls placed are {0 .. low-1} plus {low + j : bit j of
        # rest} (bit 0 always clear); pending calls placed are the bits of pending_placed.
        self.position, self.low, self.rest, self.pending_placed = 0, 0, 0, 0
        # (call entry, instants left to try, forced, position, low, rest, pending_placed, the
        # instant the call was placed at): the walk's place before that call was lifted.
        self.stack: list[_Frame] = []
        self.entry = self.nxt_scan[self.head]
        self.instants_left: list[float] = []  # instants still to try for the call at `entry`
        self.scanning = True  # looking for a read-only call that fits (see `run`)

    def _linked(self, member: list[bool]) -> tuple[list[int], list[int]]:
        """A circular doubly linked list, through the head, of the entries marked in `member`."""
        nxt, prv = [self.head] * (self.head + 1), [self.head] * (self.head + 1)
        previous = self.head
        for entry in [entry for entry in range(self.head) if member[entry]] + [self.head]:
            nxt[previous], prv[entry], previous = entry, previous, entry
        return nxt, prv

    def run(self, budget: int, deadline: float | None, clock: Callable[[], float]) -> bool:
        """Search on for at most `budget` steps; may set `status`. False if `deadline` passed.

        At each new position a scan first looks for a read-only call that fits without moving
        the clock and places it with no alternative; only when none fits does the walk try the
        other calls, one branch each (read-only calls only at later instants: the scan tried now).
        """
        calls, pending, forced, timed, slot = self.calls, self.pending, self.forced, self.timed, self.slot
        entry_call, return_entry, head = self.entry_call, self.return_entry, self.head
        nxt_scan, prv_scan, nxt_walk, prv_walk = self.nxt_scan, self.prv_scan, self.nxt_walk, self.prv_walk
        in_scan, in_walk = self.in_scan, self.in_walk
        seen, stack, spec, transitions = self.seen, self.stack, self.spec, self.transitions
        positions, position_numbers = self.positions, self.position_numbers
        step = spec.step
        low_bits, pending_bits = self.low_bits, self.pending_bits
        position, low, rest, pending_placed = self.position, self.low, self.rest, self.pending_placed
        entry, instants_left, remaining, scanning = self.entry, self.instants_left, self.remaining, self.scanning
        steps, steps_end = self.steps, self.steps + budget
        to_clock = _CLOCK_EVERY
        status: bool | None = None
        in_time = True
        while steps < steps_end:
            if deadline is not None:
                to_clock -= 1
                if to_clock == 0:
                    to_clock = _CLOCK_EVERY
                    if clock() >= deadline:
                        in_time = False
                        break
            i = entry_call[entry]
            dead_end = i < 0  # a return whose call is not placed yet: every order from here fails
            if dead_end and scanning:
                scanning, dead_end, entry = False, False, nxt_walk[head]  # no read fits: try the rest
                continue
            if not dead_end:
                call = calls[i]
                state, now = positions[position]
                at = now
                if scanning:
                    if timed[i] and not call.clock[0] <= now <= call.clock[1]:  # type: ignore[index]
                        entry = nxt_scan[entry]
                        continue
                elif timed[i]:
                    if not instants_left:
                        lowest = max(now, call.clock[0])  # type: ignore[index]
                        if lowest <= call.clock[1]:  # type: ignore[index]
                            instants_left = _instants(spec, state, call, lowest, self.landmarks)
                            if forced[i]:
                                instants_left = [instant for instant in instants_left if instant > now]
                        if not instants_left:
                            entry = nxt_walk[entry]
                            continue
                    at = instants_left.pop(0)
                steps += 1
                transition = (position, i) if at == now else (position, i, at)
                known = transitions.get(transition)
                if known is None:
                    new_state, result = _timed_step(spec, state, call, at) if timed[i] else step(state, call.op)
                    numbered = (new_state, at)
                    new_position = position_numbers.get(numbered)
                    if new_position is None:
                        new_position = position_numbers[numbered] = len(positions)
                        positions.append(numbered)
                    transitions[transition] = new_position, result
                else:
                    new_position, result = known
                new_low, new_rest, new_pending = low, rest, pending_placed
                fits = True
                if pending[i]:
                    new_pending |= 1 << slot[i]
                elif same_result(call.result, result):
                    new_rest |= 1 << (slot[i] - low)
                    if new_rest & 1:  # the dense prefix grows: shift out the run of set low bits
                        run = (~new_rest & (new_rest + 1)).bit_length() - 1
                        new_low, new_rest = low + run, new_rest >> run
                else:
                    fits = False
                if fits:
                    memo_key = (
                        (((new_rest << pending_bits) | new_pending) << _STATE_BITS | new_position) << low_bits
                    ) | new_low
                    if memo_key in seen:
                        # A forced placement met again means this position failed before.
                        fits, dead_end = False, scanning
                    else:
                        seen.add(memo_key)
                if not fits and not dead_end:
                    if scanning:
                        entry = nxt_scan[entry]
                    elif not instants_left:
                        entry = nxt_walk[entry]
                    continue
                if fits:
                    stack.append(
                        (entry, [] if scanning else instants_left, scanning, position, low, rest, pending_placed, at)
                    )
                    instants_left = []
                    position, low, rest, pending_placed = new_position, new_low, new_rest, new_pending
                    ret = return_entry[i]
                    if in_scan[entry]:
                        before, after = prv_scan[entry], nxt_scan[entry]
                        nxt_scan[before], prv_scan[after] = after, before
                    if in_walk[entry]:
                        before, after = prv_walk[entry], nxt_walk[entry]
                        nxt_walk[before], prv_walk[after] = after, before
                    before, after = prv_scan[ret], nxt_scan[ret]
                    nxt_scan[before], prv_scan[after] = after, before
                    before, after = prv_walk[ret], nxt_walk[ret]
                    nxt_walk[before], prv_walk[after] = after, before
                    if not pending[i]:
                        remaining -= 1
                        if remaining == 0:
                            status = _OK
                            break
                    scanning, entry = True, nxt_scan[head]
                    continue
            # Backtrack: undo lifts up to and including the last one that had alternatives.
            if len(stack) > len(self.longest):
                self.longest = [(entry_call[frame[0]], frame[7]) for frame in stack]
            while True:
                if not stack:
                    status = _VIOLATION
                    break
                entry, instants_left, was_forced, position, low, rest, pending_placed, _ = stack.pop()
                i = entry_call[entry]
                ret = return_entry[i]
                # Relink in the reverse order of unlinking (dancing links).
                nxt_walk[prv_walk[ret]] = ret
                prv_walk[nxt_walk[ret]] = ret
                nxt_scan[prv_scan[ret]] = ret
                prv_scan[nxt_scan[ret]] = ret
                if in_walk[entry]:
                    nxt_walk[prv_walk[entry]] = entry
                    prv_walk[nxt_walk[entry]] = entry
                if in_scan[entry]:
                    nxt_scan[prv_scan[entry]] = entry
                    prv_scan[nxt_scan[entry]] = entry
                if not pending[i]:
                    remaining += 1
                if not was_forced:
                    break
            if status is not None:
                break
            scanning = False
            if not instants_left:
                entry = nxt_walk[entry]
        self.position, self.low, self.rest, self.pending_placed = position, low, rest, pending_placed
        self.entry, self.instants_left, self.remaining, self.scanning = entry, instants_left, remaining, scanning
        self.steps = steps
        if status is not None:
            self.status = status
            self.memo_entries = len(seen)
            # Decided: what it remembered is no longer needed.
            self.seen, self.transitions = set(), {}
        return in_time

    def explain(self) -> str:
        keys, calls, spec = self.keys, self.calls, self.spec
        lines = [f"not linearizable: {_describe_keys(keys)} ({len(calls)} calls)"]
        state, now = self.initial, _NEVER
        for i, at in self.longest:
            state, _ = (
                _timed_step(spec, state, calls[i], at) if calls[i].clock is not None else spec.step(state, calls[i].op)
            )
            now = at if calls[i].clock is not None else now
        prefix = [i for i, _ in self.longest]
        lines.append(f"longest linearizable prefix: {len(prefix)} of {len(calls)} calls")
        shown = self.longest[-_PREFIX_SHOWN:]
        if len(prefix) > len(shown):
            lines.append(f"  ... {len(prefix) - len(shown)} earlier calls")
        lines += [f"  {calls[i].describe()}" + ("" if calls[i].clock is None else f" at {at!r}") for i, at in shown]
        placed = set(prefix)
        unplaced = [i for i in range(len(calls)) if i not in placed]
        returns = [ret for ret in (calls[i].ret for i in unplaced) if ret is not None]
        first_return = min(returns) if returns else math.inf
        # Real time lets only calls invoked by the earliest unplaced return come next.
        candidates = [i for i in unplaced if calls[i].invoke <= first_return]
        lines.append("after it none of these could be placed:")
        for i in candidates[:_CANDIDATES_SHOWN]:
            lines.append(f"  {calls[i].describe()}: {self._why(state, now, calls[i])}")
        if len(candidates) > _CANDIDATES_SHOWN:
            lines.append(f"  ... {len(candidates) - _CANDIDATES_SHOWN} more")
        return "\n".join(lines)

    def _why(self, state: Hashable, now: float, call: Call) -> str:
        if call.ret is None:
            return "pending; placing it here leads nowhere either"
        if call.clock is None:
            _, model_result = self.spec.step(state, call.op)
            if same_result(call.result, model_result):
                return "fits here, but then no order of the rest works"
            return f"the spec returns {model_result!r} here"
        lowest = max(now, call.clock[0])
        instants = [] if lowest > call.clock[1] else _instants(self.spec, state, call, lowest, self.landmarks)
        if not instants:
            return f"no instant left in its clock interval after {now!r}"
        answers = [(at, _timed_step(self.spec, state, call, at)[1]) for at in instants]
        if any(same_result(call.result, answer) for _, answer in answers):
            return "fits here, but then no order of the rest works"
        return "the spec returns " + ", ".join(f"{answer!r} at {at!r}" for at, answer in answers)


def _timed_step(spec: object, state: Hashable, call: Call, at: float) -> tuple[Hashable, object]:
    """`call`'s op on `spec` at instant `at` (the spec is a TimedSpec: checked on entry)."""
    timed: Any = spec
    result: tuple[Hashable, object] = timed.step_at(state, call.op, at, call.readings)
    return result


def _instants(spec: object, state: Hashable, call: Call, lowest: float, landmarks: tuple[float, ...]) -> list[float]:
    assert call.clock is not None
    timed: Any = spec
    instants: list[float] = timed.instants(state, call, lowest, landmarks)
    return instants


def _landmarks(calls: Sequence[Call]) -> tuple[float, ...]:
    """Every instant the calls pin down: clock bounds, readings, and the deadline each number a
    ttl answered shows (its reading + the answer; with no reading, each clock bound + it)."""
    marks: set[float] = set()
    for call in calls:
        if call.clock is None:
            continue
        marks.update(call.clock)
        marks.update(call.readings)
        if call.op.name == "ttl" and _is_number(call.result) and not _instant_free(call.result):
            marks.update(at + call.result for at in call.readings or call.clock)  # type: ignore[operator]
    return tuple(sorted(mark for mark in marks if math.isfinite(mark)))


def _describe_keys(keys: Keys) -> str:
    if keys is None:
        return "partition of the whole keyspace"
    shown = ", ".join(repr(key) for key in keys[:_KEYS_SHOWN])
    more = f" and {len(keys) - _KEYS_SHOWN} more" if len(keys) > _KEYS_SHOWN else ""
    return f"partition keys {shown}{more}"


# --- OpModelSpec: models/opmodel.py behind a hashable state ---------------------------------

_FIXED_NOW = 0.0  # `step` judges TTL-free histories, so its clock never has to move
_TTL_COMMANDS = frozenset({"expire", "expire_at", "persist", "ttl"})
# Results that change with the instant itself, not only when it crosses a deadline.
_EXACT_INSTANT = frozenset({"ttl"})
_NOT_AT_A_READING = ("unjudged", "a number computed at an instant the store did not read")
Frozen = tuple[tuple[str, str, Hashable, float | None], ...]


def _thaw(kind: str, value: Any) -> Any:
    return list(value) if kind == "list" else dict(value) if kind == "hash" else value


def _freeze_value(kind: str, value: Any) -> Hashable:
    if kind == "list":
        return tuple(value)
    if kind == "hash":
        return tuple(sorted(value.items()))
    frozen: Hashable = value
    return frozen


def key_object(key: object) -> Hashable:
    """The key an argument names: UTF-8 bytes name the same key as their str (COMMANDS.md)."""
    if isinstance(key, bytes):
        try:
            return key.decode("utf-8")
        except UnicodeDecodeError:
            return key  # refused by every command, so it shares no state with any key
    named: Hashable = key
    return named


class OpModelSpec:
    """The op model as a `SequentialSpec` and a `TimedSpec`: command semantics have one source.

    A state is the model's state dict as a tuple of ``(key, kind, value, expire_at)`` sorted
    by key, lists as tuples and hashes as sorted tuples of items. Results are the model's,
    shaped as the engine's; a `Refusal` becomes ``("error", name)`` as `error_result` records
    it. `step` keeps the clock fixed, so TTL options and TTL commands raise ValueError there,
    as unknown ops do; `step_at` judges any op at an instant. Relative TTLs (``set(ttl=)``,
    ``expire``) count from the store's first clock reading in the call when there is one, as
    the store computes them. `initial` is an op model state (the shape of ``Store.dump()``);
    with TTLs it can only be checked against timed calls.
    """

    def __init__(self, initial: Mapping[str, tuple[str, Any, float | None]] | None = None) -> None:
        self._initial = _freeze(initial or {})
        self._timed_only = any(expire_at is not None for _, _, _, expire_at in self._initial)

    def init(self) -> Frozen:
        return self._initial

    def restrict(self, state: Frozen, keys: frozenset[Hashable]) -> Frozen:
        return tuple(item for item in state if item[0] in keys)

    def read_only(self, op: Op) -> bool:
        return op.name in READ_COMMANDS

    def step(self, state: Frozen, op: Op) -> tuple[Frozen, object]:
        if op.name in _TTL_COMMANDS or any(value is not None for _, value in op.kwargs) or self._timed_only:
            raise ValueError(f"OpModelSpec.step keeps its clock fixed, so it does not model {op!r} (use step_at)")
        return self._apply(state, op, _FIXED_NOW)

    def instants(self, state: Frozen, call: Call, lowest: float, landmarks: tuple[float, ...]) -> list[float]:
        """`lowest`, every deadline in (lowest, highest] of a key the op names (where its answer
        can change) and the store's own readings in range. Besides:
        - a ``ttl`` that answered a number: only its readings (the store computed the number at
          one), or with none, the instants where a deadline is that number away; a ttl that
          answered -2 or -1, which hold for a whole stretch of time, is tried like any read;
        - a relative TTL (``expire``, ``set(ttl=)``) with no reading: the store read its clock
          somewhere in the interval, and the deadline it set is that + the seconds. Across the
          whole interval only the deadline's place among the landmarks matters, so it is tried
          at `highest`, wherever the deadline meets a landmark, and between each two of these
          (a deadline just past a landmark: the key still lives there).
        """
        op, readings = call.op, call.readings
        assert call.clock is not None
        highest = call.clock[1]
        read = [at for at in readings if lowest <= at <= highest]
        names = _names(op)
        deadlines = [
            expire_at for key, _, _, expire_at in state if expire_at is not None and (names is None or key in names)
        ]
        inside = [deadline for deadline in deadlines if lowest < deadline <= highest]
        if op.name in _EXACT_INSTANT and _is_number(call.result) and not _instant_free(call.result):
            if readings:
                return sorted(set(read))
            away = [deadline - call.result for deadline in deadlines]  # type: ignore[operator]
            return sorted({at for at in away if lowest <= at <= highest})
        seconds = _relative_seconds(op)
        if seconds is not None and not readings:
            met = [mark - seconds for mark in landmarks if lowest <= mark - seconds <= highest]
            points = sorted({lowest, highest, *inside, *met})
            return sorted({*points, *((a + b) / 2 for a, b in zip(points, points[1:]))})
        return sorted({lowest, *inside, *read})

    def step_at(self, state: Frozen, op: Op, now: float, readings: tuple[float, ...]) -> tuple[Frozen, object]:
        start = readings[0] if readings else now
        if op.name == "expire" and len(op.args) == 2 and _is_number(op.args[1]):
            op = Op.of("expire_at", op.args[0], start + op.args[1])
        elif op.name == "set" and _is_number(dict(op.kwargs).get("ttl")):
            options = dict(op.kwargs)
            if options["ttl"] > 0 and options.get("expire_at") is None:
                op = Op.of("set", *op.args, expire_at=start + options.pop("ttl"))
        after, result = self._apply(state, op, now)
        if op.name in _EXACT_INSTANT and readings and now not in readings and not _instant_free(result):
            result = _NOT_AT_A_READING  # the store computed this number at one of its readings
        # Time never goes back along the order, so an expired key can go: states stay equal.
        return tuple(item for item in after if item[3] is None or now < item[3]), result

    def _apply(self, state: Frozen, op: Op, now: float) -> tuple[Frozen, object]:
        names = _names(op)
        # The model looks only at the keys an op names, so only those are thawed and refrozen.
        before = {
            key: (kind, _thaw(kind, value), expire_at)
            for key, kind, value, expire_at in state
            if names is None or key in names
        }
        after, result = opmodel.apply(before, op, now)
        if isinstance(result, Refusal):
            result = error_result(result.error)
        if after is before:  # a read, a refusal or a no-op write
            return state, result
        kept = () if names is None else tuple(item for item in state if item[0] not in names)
        return tuple(sorted(kept + _freeze(after))), result


def _names(op: Op) -> frozenset[Hashable] | None:
    touched = op.keys()
    return None if touched is None else frozenset(key_object(key) for key in touched)


def _instant_free(result: object) -> bool:
    """A ttl answer that holds for a whole stretch of time: -2 (no key) or -1 (no TTL)."""
    return type(result) is int and result in (-2, -1)


def _relative_seconds(op: Op) -> float | None:
    """The seconds of a TTL the op counts from the store's clock reading, or None."""
    if op.name == "expire" and len(op.args) == 2 and _is_number(op.args[1]):
        return float(op.args[1])
    ttl = dict(op.kwargs).get("ttl") if op.name == "set" else None
    if _is_number(ttl) and ttl > 0 and dict(op.kwargs).get("expire_at") is None:  # type: ignore[operator]
        return float(ttl)  # type: ignore[arg-type]
    return None


def _is_number(value: object) -> bool:
    """A finite int or float, not a bool: what the model accepts as seconds."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return False
    try:
        return math.isfinite(value)
    except OverflowError:  # an int too large to be a float
        return False


def _freeze(state: Mapping[str, tuple[str, Any, float | None]]) -> Frozen:
    return tuple(
        sorted((key, kind, _freeze_value(kind, value), expire_at) for key, (kind, value, expire_at) in state.items())
    )
