"""An op: one command of a workload, as a small immutable value.

The op model, workload generators, the checkers and the reports all speak in ops, and an op's
`repr` is the line a person reads in a failure message, so it looks like the call it stands
for: ``rpush('queue:7', b'job-1', b'job-2')`` (long byte strings are cut, their length kept).

Besides the store's commands (docs/COMMANDS.md), three harness ops exist:
``tick(seconds)`` advances the workload's fake clock, ``snapshot()`` asks the store for a
snapshot, and ``reap_expired()`` removes expired keys from memory as the reaper thread does;
none changes the logical state.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

WRITE_COMMANDS = frozenset(
    {"set", "append", "delete", "rpush", "hset", "hdel", "expire", "expire_at", "persist", "flushall"}
)
READ_COMMANDS = frozenset(
    {
        "get",
        "exists",
        "lrange",
        "llen",
        "lindex",
        "hget",
        "hgetall",
        "hlen",
        "hexists",
        "ttl",
        "type",
        "keys",
        "dbsize",
        "dump",
    }
)
HARNESS_OPS = frozenset({"tick", "snapshot", "reap_expired"})
# Commands that read or write every key rather than the ones named in their arguments.
WHOLE_KEYSPACE = frozenset({"flushall", "keys", "dbsize", "dump"})


@dataclass(frozen=True)
class Op:
    name: str
    args: tuple[Any, ...] = ()
    kwargs: tuple[tuple[str, Any], ...] = ()

    @classmethod
    def of(cls, name: str, *args: Any, **kwargs: Any) -> Op:
        return cls(name, tuple(args), tuple(sorted(kwargs.items())))

    @property
    def is_write(self) -> bool:
        return self.name in WRITE_COMMANDS

    def keys(self) -> tuple[Any, ...] | None:
        """The keys this op touches; None when it touches the whole keyspace."""
        if self.name in WHOLE_KEYSPACE:
            return None
        if self.name in HARNESS_OPS:
            return ()
        if self.name == "delete":
            return tuple(self.args)
        return self.args[:1]  # () for a call missing its key: it fails before touching any

    def apply_to(self, target: Any) -> Any:
        """Call the method this op names on `target` (a Store, or anything shaped like one)."""
        return getattr(target, self.name)(*self.args, **dict(self.kwargs))

    def __repr__(self) -> str:
        parts = [_brief(a) for a in self.args] + [f"{k}={_brief(v)}" for k, v in self.kwargs]
        return f"{self.name}({', '.join(parts)})"


_BRIEF_BYTES = 24


def _brief(value: Any) -> str:
    """repr, with long byte strings cut: failure messages must stay readable."""
    if isinstance(value, bytes) and len(value) > _BRIEF_BYTES:
        return f"{value[:_BRIEF_BYTES]!r}+{len(value) - _BRIEF_BYTES}B"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k!r}: {_brief(v)}" for k, v in value.items()) + "}"
    return repr(value)
