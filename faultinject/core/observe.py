"""What a reader can see: the newest op whose value is visible in the store right now.

Workload values name the op that wrote them (workloads.op_index_of), so a read proves that op's
write was visible. A write someone saw must survive a crash: the checker's lower bound.
"""

from __future__ import annotations

from collections.abc import Mapping

from tornwrite.engine import Store
from tornwrite.faultinject.core.workloads import op_index_of


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


def expired_but_visible(
    store: Store, entries: Mapping[str, tuple[str, object, float | None]], now: float
) -> str | None:
    """Ask every read path about each key whose TTL has passed; what any of them still shows.

    `entries` is a physical state (key -> (kind, value, expire_at), expired keys included), such
    as the format reader's: the keys that exist on disk but must be invisible at `now`.
    """
    for key, (kind, _, expire_at) in entries.items():
        if expire_at is None or now < expire_at:
            continue
        seen: dict[str, object] = {
            "exists": store.exists(key),
            "type": store.type(key),
            "ttl": store.ttl(key),
            "dump": key in store.dump(),
            "keys": key in store.keys(),
        }
        absent: dict[str, object] = {"exists": False, "type": None, "ttl": -2, "dump": False, "keys": False}
        if kind == "string":
            seen["get"], absent["get"] = store.get(key), None
        elif kind == "list":
            seen["lrange"], absent["lrange"] = store.lrange(key, 0, -1), []
            seen["llen"], absent["llen"] = store.llen(key), 0
        else:
            seen["hgetall"], absent["hgetall"] = store.hgetall(key), {}
            seen["hlen"], absent["hlen"] = store.hlen(key), 0
        shown = [path for path in seen if seen[path] != absent[path]]
        if shown:
            return f"{key!r} expired at {expire_at} (now {now}) but {', '.join(shown)} still show it"
    return None
