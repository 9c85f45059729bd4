"""What a reader can see: the newest op whose value is visible in the store right now.

Workload values name the op that wrote them (workloads.op_index_of), so a read proves that op's
write was visible. A write someone saw must survive a crash: the checker's lower bound.
"""

from __future__ import annotations

from engine import Store
from faultinject.workloads import op_index_of


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
