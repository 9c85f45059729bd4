"""Linearizability of concurrent histories: Wing & Gong's search with Lowe's memo, per key.

A history is a list of `Call`s: which client ran which `Op`, when it was invoked, when it
returned (None if it never did) and what it returned. `check_history` decides whether some
total order of the calls (1) respects real time: a call that returned before another was
invoked comes first; (2) gives every completed call the result the sequential spec computes
at its place; (3) holds every completed call, while a pending call is placed anywhere after
its invoke, or left out (it may or may not have taken effect).

Results are compared with ``==``, so the recorder and the spec speak one representation:
- a normal return value exactly as the engine returns it (None, bytes, int, bool, str,
  ``list[bytes]`` for lrange and keys, ``dict[str, bytes]`` for hgetall);
- a raised engine error as ``("error", "<ClassName>")``, built by `error_result`;
  `WRONGTYPE` is ``("error", "WrongTypeError")``. A call that met an I/O error may or may not
  have taken effect: record it as pending (``ret=None``), not as an error.

The spec for the store is `OpModelSpec`, the op model of models/opmodel.py behind a hashable
state. Any spec's states must be hashable immutable values that compare equal when
equivalent: `step` returns a new state and never mutates its argument, and the memo is a set
of (linearized calls, state) pairs. A spec may also offer ``restrict(state, keys)`` to cut its
initial state down to one partition's keys (fewer bytes to hash per step).

The search, per partition. The calls become a doubly linked list of call and return entries
in time order; at equal times calls come first, so intervals that touch count as overlapping.
Walking from the head, a call whose op yields the recorded result is lifted (it and its
return are unlinked) and the walk restarts at the head. Reaching a return entry means that
call had to be placed already, so the search backtracks: pop the last lifted call, relink it,
try the entry after it. A (linearized set, state) pair seen before is never explored again
(Lowe), which bounds the search by the number of distinct pairs instead of orders; placed
pending calls belong to the set too, since a pending call still unplaced can yet be. Pending
calls return at +infinity and accept any result; the search succeeds once every completed
call is placed (a pending call left over is "never took effect", equivalently "took effect
after everything"). The stack is explicit, so there is no recursion limit.

Partitioning is sound by Herlihy & Wing's locality: a history is linearizable iff each
object's sub-history is. For these commands a key is an object (an op's result and effect
depend only on the keys it names; UTF-8 bytes name the same key as their str). An op naming
several keys (delete) is one indivisible event on all of them, so their keys merge into one
object (union-find); a whole-keyspace op (keys, dbsize, flushall, dump) makes the whole store
one object. Keyless harness ops (tick, snapshot, ``delete()``) touch no key and are not checked.
"""

from __future__ import annotations

import math
import time
from collections.abc import Hashable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from tornwrite.models import opmodel
from tornwrite.models.opmodel import Refusal
from tornwrite.models.ops import Op

WRONGTYPE = ("error", "WrongTypeError")
# How many loop turns between two looks at the clock when a timeout is set.
_CLOCK_EVERY = 1024
_PREFIX_SHOWN = 8
_CANDIDATES_SHOWN = 12
_KEYS_SHOWN = 10


def error_result(error: BaseException | str) -> tuple[str, str]:
    """The recorded result of a call that raised `error` (an exception or its class name)."""
    return ("error", error if isinstance(error, str) else type(error).__name__)


@dataclass(frozen=True)
class Call:
    """One operation of a concurrent history; ``ret is None`` means it never returned."""

    client: int
    op: Op
    invoke: float
    ret: float | None
    result: object = None

    @property
    def pending(self) -> bool:
        return self.ret is None

    def describe(self) -> str:
        if self.ret is None:
            return f"client {self.client}: {self.op!r} -> pending  [{self.invoke:.6f}, never returned]"
        return f"client {self.client}: {self.op!r} -> {self.result!r}  [{self.invoke:.6f}, {self.ret:.6f}]"


@dataclass(frozen=True)
class LinearizabilityResult:
    """``ok`` is False both for a violation and for a timeout (then ``timed_out`` is True)."""

    ok: bool
    partitions: int
    checked_calls: int  # calls in the partitions fully searched (all keyed calls when ok)
    counterexample: str = ""
    timed_out: bool = False


class SequentialSpec(Protocol):
    def init(self) -> Hashable: ...

    def step(self, state: Any, op: Op) -> tuple[Hashable, object]: ...


def check_history(
    history: Sequence[Call], spec: SequentialSpec, *, timeout: float | None = None
) -> LinearizabilityResult:
    """Whether `history` is linearizable with respect to `spec`.

    Stops at the first partition that is not, and explains it in ``counterexample``. With a
    `timeout` (seconds) it gives up with ``timed_out=True`` instead of searching on.
    Raises ValueError for a call that returned before it was invoked.
    """
    for call in history:
        if call.ret is not None and call.ret < call.invoke:
            raise ValueError(f"call returned before it was invoked: {call.describe()}")
    deadline = None if timeout is None else time.monotonic() + timeout
    partitions = _partition(history)
    checked = 0
    for keys, calls in partitions:
        state = spec.init()
        if keys is not None and hasattr(spec, "restrict"):
            state = spec.restrict(state, frozenset(keys))
        if deadline is not None and time.monotonic() >= deadline:
            status, prefix = _TIMED_OUT, []
        else:
            # Numbering calls by invoke time keeps the linearized set a dense prefix plus a few bits.
            calls.sort(key=lambda call: call.invoke)
            status, prefix = _search(calls, spec, state, deadline)
        if status == _TIMED_OUT:
            note = f"timed out after {timeout} s checking {_describe_keys(keys)} ({len(calls)} calls)"
            return LinearizabilityResult(False, len(partitions), checked, note, timed_out=True)
        checked += len(calls)
        if status == _VIOLATION:
            explanation = _explain(keys, calls, prefix, spec, state)
            return LinearizabilityResult(False, len(partitions), checked, explanation)
    return LinearizabilityResult(True, len(partitions), checked)


def _partition(history: Sequence[Call]) -> list[tuple[tuple | None, list[Call]]]:
    """Groups of calls that share keys, in order of first appearance; keys None = everything."""
    parent: dict = {}

    def find(key):
        root = key
        while parent[root] != root:
            root = parent[root]
        while parent[key] != root:
            parent[key], key = root, parent[key]
        return root

    keyed: list[tuple[Call, Any]] = []
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
    groups: dict = {}
    for call, key in keyed:
        groups.setdefault(find(key), []).append(call)
    members: dict = {}
    for key in parent:
        members.setdefault(find(key), []).append(key)
    return [(tuple(sorted(members[root], key=repr)), calls) for root, calls in groups.items()]


_OK, _VIOLATION, _TIMED_OUT = range(3)


def _search(calls: list[Call], spec: SequentialSpec, state: Hashable, deadline: float | None):
    """(status, longest linearized prefix as indexes into `calls`) for one partition."""
    count = len(calls)
    pending = [call.ret is None for call in calls]
    remaining = pending.count(False)
    if remaining == 0:
        return _OK, []
    # Completed calls are numbered 0.. and pending ones 0.. apart, both in invoke order, so a
    # pending call never placed cannot hold the dense prefix below (low, rest) back.
    slot, ranks = [], [0, 0]
    for is_pending in pending:
        slot.append(ranks[is_pending])
        ranks[is_pending] += 1
    events = [(call.invoke, 0, i) for i, call in enumerate(calls)]
    events += [(math.inf if call.ret is None else call.ret, 1, i) for i, call in enumerate(calls)]
    events.sort()
    # Entries 0..2n-1 in time order and the head sentinel 2n, in a circular list; entry_call
    # holds a call entry's call index, or ~index for a return entry. The walk never reaches the
    # head again: an unplaced completed call's return (finite time) always comes first.
    head = 2 * count
    entry_call = [i if kind == 0 else ~i for _, kind, i in events] + [None]
    return_entry = [0] * count
    for position, (_, kind, i) in enumerate(events):
        if kind == 1:
            return_entry[i] = position
    nxt = list(range(1, head + 1)) + [0]
    prv = [head] + list(range(head))
    ops = [call.op for call in calls]
    expected = [call.result for call in calls]
    step = spec.step
    # Completed calls placed: {0 .. low-1} plus {low + j : bit j of rest} (bit 0 always clear);
    # pending calls placed: the bits of pending_placed.
    low, rest, pending_placed = 0, 0, 0
    seen: set = set()
    stack: list = []  # (call entry, state, low, rest, pending_placed) from before that lift
    longest: list[int] = []
    agree = 0  # stack[:agree] has not changed since `longest` was last copied from it
    turns_to_clock = _CLOCK_EVERY
    entry = nxt[head]
    while True:
        if deadline is not None:
            turns_to_clock -= 1
            if turns_to_clock == 0:
                turns_to_clock = _CLOCK_EVERY
                if time.monotonic() >= deadline:
                    return _TIMED_OUT, []
        i = entry_call[entry]
        if i >= 0:
            new_state, result = step(state, ops[i])
            new_low, new_rest, new_pending = low, rest, pending_placed
            if pending[i]:
                new_pending |= 1 << slot[i]
            elif result == expected[i]:
                new_rest |= 1 << (slot[i] - low)
                if new_rest & 1:  # the dense prefix grows: shift out the run of set low bits
                    run = (~new_rest & (new_rest + 1)).bit_length() - 1
                    new_low, new_rest = low + run, new_rest >> run
            else:
                entry = nxt[entry]
                continue
            memo_key = (new_low, new_rest, new_pending, new_state)
            if memo_key in seen:
                entry = nxt[entry]
                continue
            seen.add(memo_key)
            stack.append((entry, state, low, rest, pending_placed))
            state, low, rest, pending_placed = new_state, new_low, new_rest, new_pending
            ret = return_entry[i]
            before, after = prv[entry], nxt[entry]
            nxt[before], prv[after] = after, before
            before, after = prv[ret], nxt[ret]
            nxt[before], prv[after] = after, before
            if not pending[i]:
                remaining -= 1
                if remaining == 0:
                    return _OK, []
            entry = nxt[head]
        else:
            # A return whose call is not placed yet: every order from here fails.
            if not stack:
                return _VIOLATION, longest
            if len(stack) > len(longest):
                longest[agree:] = [entry_call[lifted[0]] for lifted in stack[agree:]]
                agree = len(stack)
            entry, state, low, rest, pending_placed = stack.pop()
            agree = min(agree, len(stack))
            i = entry_call[entry]
            ret = return_entry[i]
            # Relink in the reverse order of unlinking (dancing links).
            nxt[prv[ret]] = ret
            prv[nxt[ret]] = ret
            nxt[prv[entry]] = entry
            prv[nxt[entry]] = entry
            if not pending[i]:
                remaining += 1
            entry = nxt[entry]


def _explain(keys, calls: list[Call], prefix: list[int], spec: SequentialSpec, state) -> str:
    lines = [f"not linearizable: {_describe_keys(keys)} ({len(calls)} calls)"]
    for i in prefix:
        state, _ = spec.step(state, calls[i].op)
    lines.append(f"longest linearizable prefix: {len(prefix)} of {len(calls)} calls")
    shown = prefix[-_PREFIX_SHOWN:]
    if len(prefix) > len(shown):
        lines.append(f"  ... {len(prefix) - len(shown)} earlier calls")
    lines += [f"  {calls[i].describe()}" for i in shown]
    placed = set(prefix)
    unplaced = [i for i in range(len(calls)) if i not in placed]
    first_return = min(calls[i].ret for i in unplaced if calls[i].ret is not None)
    # Real time lets only calls invoked by the earliest unplaced return come next.
    candidates = [i for i in unplaced if calls[i].invoke <= first_return]
    lines.append("after it none of these could be placed:")
    for i in candidates[:_CANDIDATES_SHOWN]:
        _, model_result = spec.step(state, calls[i].op)
        if calls[i].ret is None:
            why = "pending; placing it here leads nowhere either"
        elif model_result == calls[i].result:
            why = "fits here, but then no order of the rest works"
        else:
            why = f"the spec returns {model_result!r} here"
        lines.append(f"  {calls[i].describe()}: {why}")
    if len(candidates) > _CANDIDATES_SHOWN:
        lines.append(f"  ... {len(candidates) - _CANDIDATES_SHOWN} more")
    return "\n".join(lines)


def _describe_keys(keys) -> str:
    if keys is None:
        return "partition of the whole keyspace"
    shown = ", ".join(repr(key) for key in keys[:_KEYS_SHOWN])
    more = f" and {len(keys) - _KEYS_SHOWN} more" if len(keys) > _KEYS_SHOWN else ""
    return f"partition keys {shown}{more}"


# --- OpModelSpec: models/opmodel.py behind a hashable state ---------------------------------

_NOW = 0.0  # histories are TTL-free, so the model's clock never has to move
_TTL_COMMANDS = frozenset({"expire", "expire_at", "persist", "ttl"})
_THAW = {"string": bytes, "list": list, "hash": dict}
_FREEZE = {"string": bytes, "list": tuple, "hash": lambda fields: tuple(sorted(fields.items()))}


def key_object(key: Any) -> Any:
    """The key an argument names: UTF-8 bytes name the same key as their str (COMMANDS.md)."""
    try:
        return key.decode("utf-8") if isinstance(key, bytes) else key
    except UnicodeDecodeError:
        return key  # refused by every command, so it shares no state with any key


class OpModelSpec:
    """The op model as a `SequentialSpec`, so command semantics have one source of truth.

    A state is the model's state dict as a tuple of ``(key, kind, value, expire_at)`` sorted
    by key, lists as tuples and hashes as sorted tuples of items. Results are the model's,
    shaped as the engine's; a `Refusal` becomes ``("error", name)`` as `error_result` records
    it. The clock is fixed, so TTL options and TTL commands raise ValueError, as unknown ops do.
    `initial` is an op model state (the shape of ``Store.dump()``) without TTLs.
    """

    def __init__(self, initial: Mapping[str, tuple] | None = None):
        if any(expire_at is not None for _, _, expire_at in (initial or {}).values()):
            raise ValueError("OpModelSpec checks TTL-free histories; initial keys have TTLs")
        self._initial = _freeze(initial or {})

    def init(self) -> tuple:
        return self._initial

    def restrict(self, state: tuple, keys: frozenset) -> tuple:
        return tuple(item for item in state if item[0] in keys)

    def step(self, state: tuple, op: Op) -> tuple[tuple, object]:
        if op.name in _TTL_COMMANDS or op.kwargs and any(value is not None for _, value in op.kwargs):
            raise ValueError(f"OpModelSpec keeps its clock fixed, so it does not model {op!r}")
        touched = op.keys()
        # The model looks only at the keys an op names, so only those are thawed and refrozen.
        names = None if touched is None else {key_object(key) for key in touched}
        before = {
            key: (kind, _THAW[kind](value), expire_at)
            for key, kind, value, expire_at in state
            if names is None or key in names
        }
        after, result = opmodel.apply(before, op, _NOW)
        if isinstance(result, Refusal):
            result = error_result(result.error)
        if after is before:  # a read, a refusal or a no-op write
            return state, result
        kept = () if names is None else tuple(item for item in state if item[0] not in names)
        return tuple(sorted(kept + _freeze(after))), result


def _freeze(state: Mapping[str, tuple]) -> tuple:
    return tuple(
        sorted((key, kind, _FREEZE[kind](value), expire_at) for key, (kind, value, expire_at) in state.items())
    )
