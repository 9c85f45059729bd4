"""Generated key-value histories of the classic shape (get / set / append, many clients), for
the linearizability checker's tests and `make bench`.

`kv_history` simulates clients against one sequential run of the op model: every call takes
effect at a seeded random instant inside its interval, in effect order, so the history is
linearizable by construction. A few calls never return (pending); half of those took effect.
`inject_stale_read` then makes one completed `get` return the value its key held before a
write that completed before the `get` was invoked: values never recur (every write carries a
fresh token), so no order explains it and the history is not linearizable.

`append` is used once the op model knows it (Redis APPEND: returns the new length).
"""

from __future__ import annotations

import dataclasses
import random

from tornwrite.models import opmodel
from tornwrite.models.linearizability import Call
from tornwrite.models.ops import Op


def op_model_has_append() -> bool:
    """Whether models/opmodel.py defines `append` yet (another change adds it)."""
    try:
        opmodel.apply({}, Op.of("append", "k", b"x"), 0.0)
    except ValueError:
        return False
    return True


def kv_history(
    *,
    clients: int = 50,
    calls: int = 2_000,
    keys: int = 4,
    seed: int = 0,
    pending_rate: float = 0.01,
    append: bool | None = None,
) -> list[Call]:
    """A linearizable get/set(/append) history of `calls` calls by `clients` concurrent clients.

    Each client runs one call at a time (mean duration 5 time units, think time 1), so about
    `clients` calls are in flight at once, spread over `keys` keys. A client whose call never
    returns is replaced by a fresh client id, as a crashed client is. `append` None: use
    append if the op model has it.
    """
    rng = random.Random(seed)
    use_append = op_model_has_append() if append is None else append
    names = ["set", "get", "append"] if use_append else ["set", "get"]
    weights = [0.3, 0.5, 0.2] if use_append else [0.4, 0.6]
    planned: list[tuple[float | None, int, Op, float, float | None]] = []  # (effect, client, op, invoke, ret)
    clocks = [rng.uniform(0, 1) for _ in range(clients)]
    ids = list(range(clients))
    next_id = clients
    for serial in range(calls):
        slot = min(range(clients), key=clocks.__getitem__)  # the client that is free first
        invoke = clocks[slot]
        ret = invoke + rng.expovariate(1 / 5)
        key = f"k{rng.randrange(keys)}"
        name = rng.choices(names, weights)[0]
        op = Op.of(name, key) if name == "get" else Op.of(name, key, b"%d," % serial)
        if rng.random() < pending_rate:
            effect = rng.uniform(invoke, ret) if rng.random() < 0.5 else None
            planned.append((effect, ids[slot], op, invoke, None))
            ids[slot], next_id = next_id, next_id + 1
        else:
            planned.append((rng.uniform(invoke, ret), ids[slot], op, invoke, ret))
        clocks[slot] = ret + rng.expovariate(1.0)
    results: dict[int, object] = {}
    state: dict = {}
    in_effect_order = sorted((plan[0], index) for index, plan in enumerate(planned) if plan[0] is not None)
    for _, index in in_effect_order:
        state, results[index] = opmodel.apply(state, planned[index][2], 0.0)
    return [
        Call(client, op, invoke, ret, None if ret is None else results[index])
        for index, (_, client, op, invoke, ret) in enumerate(planned)
    ]


def inject_stale_read(history: list[Call], *, seed: int = 0) -> tuple[list[Call], int]:
    """A copy of `history` in which one completed `get` returns a value overwritten before it
    was invoked, and that call's index. Picks a read in the second half of the history, so
    the search has most of the key's calls to rule out first.

    Raises ValueError if no read has such a value (a history too short to hold one).
    """
    rng = random.Random(seed)
    order = sorted(range(len(history)), key=lambda index: history[index].invoke)
    seen: dict[object, list[tuple[float, object]]] = {}  # key -> (ret, result) of completed gets
    candidates = []
    for position, index in enumerate(order):
        call = history[index]
        if call.op.name != "get" or call.ret is None:
            continue
        key = call.op.args[0]
        # A value another read saw and returned before a write of this key was invoked, that
        # write completing before this read was invoked: values never recur, so it is gone.
        writes = [
            (other.invoke, other.ret)
            for other in history
            if other.op.args[:1] == (key,) and other.op.name != "get" and other.ret is not None
        ]
        stale = [
            value
            for seen_at, value in seen.get(key, [])
            if value is not None
            and value != call.result
            and any(seen_at < invoke and ret < call.invoke for invoke, ret in writes)
        ]
        if stale and position >= len(order) // 2:
            candidates.append((index, stale[-1]))
        seen.setdefault(key, []).append((call.ret, call.result))
    if not candidates:
        raise ValueError("no read in the second half can be made stale")
    victim, value = rng.choice(candidates)
    changed = list(history)
    changed[victim] = dataclasses.replace(history[victim], result=value)
    return changed, victim
