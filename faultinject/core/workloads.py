"""Seeded workloads: the op sequences crashes are injected into.

Every write gets a value no other write has, starting ``#<op index>:``, so any value a read
returns names the op that wrote it (how the process kind's observer proves a write was seen).
Keys and values come from faker, seeded, in several scripts, so multi-byte UTF-8 is the norm.
The same (name, seed, ops) always gives the same workload.

The `edges` workload asks what the others never do: boundary arguments (a ttl or seconds of 0,
negative or huge; list ranges past both ends; empty values; the last field of a hash removed)
and APPEND in every case. Few ops, so it stays cheap. (State past several MiB is the state
machine's `grow_past_every_buffer` rule: every crash state of a campaign holding that much would
cost far more than the campaign can spend.)

The `from-v<N>` workloads start from a directory format version N wrote (oldformats.py, with
non-ASCII and non-UTF-8 values): the engine opens it, recovers, and the ops write on to its
keys, so every crash point falls after an older version's files were read, and on the way to
a snapshot that rewrites them. The op model starts from what the format reader reads there.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from functools import cached_property
from typing import TYPE_CHECKING

from tornwrite.engine.format import FORMAT_VERSION, READ_VERSIONS
from tornwrite.faultinject.core import oldformats
from tornwrite.faultinject.extras import require
from tornwrite.models.format_reader import read_files
from tornwrite.models.opmodel import State
from tornwrite.models.ops import Op

if TYPE_CHECKING:
    from faker import Faker

START_TIME = 1_700_000_000.0
_LOCALES = ["en_US", "ja_JP", "ru_RU", "el_GR"]


@dataclass(frozen=True)
class Workload:
    name: str
    seed: int
    ops: tuple[Op, ...]
    start_time: float = START_TIME
    start: tuple[tuple[str, bytes], ...] = ()  # the data directory's files before op 1, all durable

    @cached_property
    def initial(self) -> State:
        """The state before op 1: what the format reader reads in `start` (empty for none)."""
        return read_files(dict(self.start)).entries if self.start else {}

    @property
    def keys(self) -> tuple[str, ...]:
        """Every key the workload touches: what an observer reads."""
        return tuple(sorted({k for op in self.ops for k in (op.keys() or ())}))


def op_index_of(value: bytes) -> int | None:
    """The 1-based index of the op that wrote `value`, if the value carries one."""
    if not value.startswith(b"#"):
        return None
    head = value[1:].split(b":", 1)[0]
    return int(head) if head.isdigit() else None


@dataclass(frozen=True)
class _Mix:
    """How one named workload draws its ops."""

    ops: int
    weights: dict  # op kind -> weight
    value_sizes: tuple[int, int] = (0, 120)
    large_every: int = 0  # every n-th value is drawn from 1 KiB..64 KiB
    ttl: bool = False
    at: tuple[tuple[int, str], ...] = ()  # (op index, kind): ops drawn at fixed places, not by weight
    start: int | None = None  # the format version whose directory it starts from (None: an empty one)


MIXES = {
    "basic": _Mix(
        60,
        {"set": 6, "get": 3, "delete": 1, "rpush": 3, "lrange": 1, "hset": 3, "hdel": 1, "hgetall": 1, "snapshot": 0.4},
    ),
    "snapshot-heavy": _Mix(70, {"set": 5, "rpush": 4, "hset": 3, "hdel": 1, "delete": 1, "get": 1, "snapshot": 2.5}),
    "ttl": _Mix(
        70,
        {
            "set": 4,
            "set_ttl": 5,
            "expire": 3,
            "persist": 1,
            "rpush": 2,
            "hset": 2,
            "get": 2,
            "ttl": 1,
            "tick": 4,
            "tick_onto_deadline": 1.5,
            "reap": 1.5,
            "snapshot": 0.8,
        },
        ttl=True,
    ),
    "large-values": _Mix(
        30,
        {"set": 5, "rpush": 3, "hset": 2, "delete": 1, "get": 1, "snapshot": 1},
        value_sizes=(0, 2048),
        large_every=2,
    ),
    "mixed": _Mix(
        100,
        {
            "set": 5,
            "set_ttl": 2,
            "get": 3,
            "delete": 1.5,
            "rpush": 3,
            "lrange": 1,
            "hset": 3,
            "hdel": 1.5,
            "hgetall": 1,
            "expire": 1,
            "persist": 0.5,
            "ttl": 0.5,
            "flushall": 0.15,
            "tick": 1.5,
            "tick_onto_deadline": 0.5,
            "reap": 0.5,
            "snapshot": 1,
        },
        ttl=True,
    ),
}
# Every op's kind is fixed, so each boundary is asked in the default length: the n-th edge op of a
# kind takes the n-th of its boundary values, on the key the last write of its type went to.
_EDGE_SCRIPT = (
    "hset append set_ttl_edge rpush lrange_edge expire_edge append set_ttl_edge hdel_all lrange_edge "
    "expire_edge set_empty snapshot set_ttl_edge append expire_edge hset lrange_edge set_ttl_edge "
    "expire_edge append lrange_edge hdel_all ttl tick snapshot"
).split()
MIXES["edges"] = _Mix(
    len(_EDGE_SCRIPT),
    {"append": 1, "set_ttl_edge": 1, "expire_edge": 1, "lrange_edge": 1, "hset": 1, "rpush": 1},  # past the script
    ttl=True,
    at=tuple(enumerate(_EDGE_SCRIPT, start=1)),
)
EDGE_TTLS = (0, -1, -0.5, 1e9)  # 0 and below are refused; huge is a deadline that never comes
EDGE_SECONDS = (0, -1, -2.5, 1e9)  # 0 and below expire at once; huge never
EDGE_RANGES = ((-100, 100), (2, 1), (-1, 100), (100, 200), (-100, 0), (-1, -1))  # past both ends, crossed, ...
# One cheap workload per older format version the engine reads: write on to each kind of key
# the old directory holds, read them back, snapshot (the old files go), write on.
_FROM_SCRIPT = "append rpush get lrange snapshot hset set".split()
FORMAT_STARTS = tuple(version for version in READ_VERSIONS if version != FORMAT_VERSION)
for _version in FORMAT_STARTS:
    MIXES[f"from-v{_version}"] = _Mix(
        len(_FROM_SCRIPT),
        {"set": 2, "append": 2, "rpush": 2, "hset": 2, "hdel": 1, "get": 1, "lrange": 1, "delete": 0.5, "snapshot": 1},
        at=tuple(enumerate(_FROM_SCRIPT, start=1)),
        start=_version,
    )
DEFAULT_WORKLOADS = tuple(MIXES)


def build(name: str, seed: int = 0, ops: int | None = None) -> Workload:
    """The workload `name` for `seed`; `ops` overrides its length."""
    if name not in MIXES:
        raise ValueError(f"unknown workload {name!r}; choose from {', '.join(MIXES)}")
    mix = MIXES[name]
    rng = random.Random(f"{name}/{seed}")
    fake = require("faker", "the bundled engine's workloads").Faker(_LOCALES)  # lazily: `program` runs without it
    fake.seed_instance(rng.getrandbits(32))
    start = oldformats.start_files(mix.start) if mix.start is not None else ()
    pools = {kind: _key_pool(fake, kind, 4) for kind in ("string", "list", "hash")}
    fields = [fake.word() for _ in range(5)]
    if start:  # the old directory's own keys and fields, so every write meets an older version's value
        initial = read_files(dict(start)).entries
        pools = {kind: sorted(k for k, entry in initial.items() if entry[0] == kind) or pools[kind] for kind in pools}
        fields = sorted({f for entry in initial.values() if entry[0] == "hash" for f in entry[1]}) + fields[:3]
    generated: list[Op] = []
    kinds, weights = zip(*mix.weights.items())
    clock = _Deadlines(START_TIME)
    while len(generated) < (ops or mix.ops):
        index = len(generated) + 1
        kind = dict(mix.at).get(index) or rng.choices(kinds, weights)[0]
        op = clock.tick_onto_next() if kind == "tick_onto_deadline" else None
        op = op or _draw(kind, index, rng, fake, pools, fields, mix)
        if kind in _EDGE_KINDS:
            op = _edge(kind, op, generated, fields)
        clock.note(op)
        generated.append(op)
    return Workload(name, seed, tuple(generated), start=start)


class _Deadlines:
    """The workload's clock as it will run, and the deadlines its TTLs set: so a tick can land
    exactly on one (start, TTLs and ticks are multiples of 0.5, exact in binary)."""

    def __init__(self, now: float):
        self.now = now
        self.ahead: list[float] = []

    def note(self, op: Op) -> None:
        if op.name == "tick":
            self.now += op.args[0]
        elif op.name == "set" and dict(op.kwargs).get("ttl") is not None:
            self.ahead.append(self.now + dict(op.kwargs)["ttl"])
        elif op.name == "expire":
            self.ahead.append(self.now + op.args[1])
        self.ahead = [deadline for deadline in self.ahead if deadline > self.now]

    def tick_onto_next(self) -> Op | None:
        return Op.of("tick", min(self.ahead) - self.now) if self.ahead else None


_EDGE_KINDS = {
    "set_ttl_edge": ("set", "append"),
    "expire_edge": ("set", "append", "rpush", "hset"),
    "lrange_edge": ("rpush",),
    "hdel_all": ("hset",),
}


def _edge(kind: str, drawn: Op, generated: list[Op], fields: list[str]) -> Op:
    """An edge op on the key the last write of its type went to (so the boundary meets a live
    value), with the next of its kind's boundary values."""
    writers = _EDGE_KINDS[kind]
    key = next((op.args[0] for op in reversed(generated) if op.name in writers), drawn.args[0])
    if kind == "set_ttl_edge":
        nth = sum("ttl" in dict(op.kwargs) for op in generated)
        return Op.of("set", key, drawn.args[1], ttl=EDGE_TTLS[nth % len(EDGE_TTLS)])
    if kind == "expire_edge":
        nth = sum(op.name == "expire" for op in generated)
        return Op.of("expire", key, EDGE_SECONDS[nth % len(EDGE_SECONDS)])
    if kind == "lrange_edge":
        nth = sum(op.name == "lrange" for op in generated)
        return Op.of("lrange", key, *EDGE_RANGES[nth % len(EDGE_RANGES)])
    return Op.of("hdel", key, *fields)  # every field: the hash goes with its last one


def _key_pool(fake: Faker, kind: str, size: int) -> list[str]:
    makers = [lambda: f"user:{fake.user_name()}", lambda: f"{fake.word()}:{fake.city()}", fake.word]
    return [f"{kind[0]}/{makers[i % 3]()}" for i in range(size)]


def _value(index: int, rng: random.Random, fake: Faker, mix: _Mix) -> bytes:
    low, high = mix.value_sizes
    size = rng.randint(1024, 64 * 1024) if mix.large_every and index % mix.large_every == 0 else rng.randint(low, high)
    if size == 0:
        return b""  # an empty value: valid, though it cannot name its writer
    text = f"#{index}:{fake.sentence()}".encode()
    while len(text) < size:
        text += fake.paragraph().encode()
    return text[: max(size, len(f"#{index}:"))]


_KINDS = ("string", "list", "hash")
_KEY_KIND = {
    "set": "string",
    "set_empty": "string",
    "set_ttl_edge": "string",
    "append": "string",
    "lrange_edge": "list",
    "hdel_all": "hash",
    "set_ttl": "string",
    "get": "string",
    "rpush": "list",
    "lrange": "list",
    "hset": "hash",
    "hdel": "hash",
    "hgetall": "hash",
}


def _draw(kind: str, index: int, rng: random.Random, fake: Faker, pools: dict, fields: list, mix: _Mix) -> Op:
    wanted = _KEY_KIND.get(kind) or rng.choice(_KINDS)  # delete, expire, persist, ttl: any kind
    if rng.random() < 0.05:
        wanted = rng.choice(_KINDS)  # now and then a command meets the wrong kind, on purpose
    key = rng.choice(pools[wanted])
    value = lambda: _value(index, rng, fake, mix)  # noqa: E731 - drawn only by ops that write one
    if kind == "set":
        return Op.of("set", key, value())
    if kind == "set_ttl":
        return Op.of("set", key, value(), ttl=rng.choice((1, 2.5, 5, 30)))
    if kind == "get":
        return Op.of("get", key)
    if kind == "delete":
        return Op.of("delete", key, *rng.sample(pools["string"], rng.randint(0, 1)))
    if kind == "rpush":
        return Op.of("rpush", key, *[value() for _ in range(rng.randint(1, 3))])
    if kind == "lrange":
        return Op.of("lrange", key, 0, -1)
    if kind == "set_empty":
        return Op.of("set", key, b"")
    if kind == "append":  # to an absent, live, expiring or wrong-typed key; now and then nothing
        return Op.of("append", key, b"" if rng.random() < 0.2 else value())
    if kind == "set_ttl_edge":  # its ttl, and for each edge kind its key, are _edge's
        return Op.of("set", key, value())
    if kind in ("expire_edge", "lrange_edge", "hdel_all"):
        return Op.of(kind, key)
    if kind == "hset":
        return Op.of("hset", key, {field: value() for field in rng.sample(fields, rng.randint(1, 3))})
    if kind == "hdel":
        return Op.of("hdel", key, *rng.sample(fields, rng.randint(1, 2)))
    if kind == "hgetall":
        return Op.of("hgetall", key)
    if kind == "expire":
        return Op.of("expire", key, rng.choice((0, 1, 3, 10)))
    if kind == "persist":
        return Op.of("persist", key)
    if kind == "ttl":
        return Op.of("ttl", key)
    if kind == "tick":
        return Op.of("tick", rng.choice((0.5, 1, 2, 4)))
    if kind == "flushall":
        return Op.of("flushall")
    if kind == "snapshot":
        return Op.of("snapshot")
    if kind == "reap":
        return Op.of("reap_expired")
    if kind == "tick_onto_deadline":  # no deadline ahead: an ordinary tick
        return Op.of("tick", rng.choice((0.5, 1, 2, 4)))
    raise ValueError(kind)
