"""What a reader can see: the newest op whose value is visible in the store right now, and
whether every read command answers as the op model does.

Workload values name the op that wrote them (workloads.op_index_of), so a read proves that op's
write was visible. A write someone saw must survive a crash: the checker's lower bound.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from tornwrite.engine import RedisLiteError, Store
from tornwrite.faultinject.core.workloads import op_index_of
from tornwrite.models import opmodel
from tornwrite.models.ops import Op


def newest_visible(store: Store, keys: tuple[str, ...]) -> int:
    """Read every key once; the highest op index among the values seen (0 if none names one)."""
    newest = 0
    for key in keys:
        for value in _values(store, key):
            index = op_index_of(value)
            if index is not None and index > newest:
                newest = index
    return newest


def _values(store: Store, key: str) -> list[bytes]:
    kind = store.type(key)
    if kind == "string":
        value = store.get(key)
        return [] if value is None else [value]
    if kind == "list":
        return store.lrange(key, 0, -1)
    if kind == "hash":
        return list(store.hgetall(key).values())
    return []


def reads_disagree(
    store: Store, state: Mapping[str, tuple[str, Any, float | None]], now: float, also: Iterable[str] = ()
) -> str | None:
    """Ask every read command about every key of `state` and compare with the op model; the first
    disagreement, in words, or None.

    `state` is a physical state (key -> (kind, value, expire_at), expired keys included), such as
    the format reader's or the state machine's model: expired keys must look absent on every
    path, live ones must read as the model says, refusals (WrongTypeError) included. Keys in
    `also` are asked about too, present or not.
    """
    model = dict(state)
    for op in _read_ops(model, also):
        expected = opmodel.apply(model, op, now)[1]
        try:
            actual = op.apply_to(store)
        except RedisLiteError as error:
            actual = opmodel.Refusal(type(error).__name__)
        if not opmodel.same_result(expected, actual):
            return (
                f"{op!r} gave {opmodel.describe_result(actual)}, the model says "
                f"{opmodel.describe_result(expected)} (now {now})"
            )
    return None


def _read_ops(state: Mapping[str, tuple[str, Any, float | None]], also: Iterable[str]) -> list[Op]:
    """Every read command, with arguments that reach each key's value (and miss it)."""
    ops = [Op.of("keys"), Op.of("dbsize"), Op.of("dump")]
    absent: tuple[str, Any, None] = ("string", b"", None)
    for key, (kind, value, _) in [*state.items(), *((key, absent) for key in also if key not in state)]:
        ops += [Op.of(name, key) for name in ("get", "exists", "type", "ttl", "llen", "hlen", "hgetall")]
        ops += [Op.of("lrange", key, 0, -1), Op.of("lindex", key, 0), Op.of("lindex", key, -1)]
        if kind == "list":  # a range past both ends: clamped to the whole list
            ops.append(Op.of("lrange", key, -len(value) - 2, len(value) + 1))
        fields = list(value)[:1] if kind == "hash" else []
        for field in [*fields, "\x00no such field"]:
            ops += [Op.of("hget", key, field), Op.of("hexists", key, field)]
    return ops
