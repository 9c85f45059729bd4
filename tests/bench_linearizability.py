"""How many calls per second the linearizability checker gets through, and how fast it
decides the classic hard shape: a get/set/append history of 50 clients and 2,000 calls on a
few keys (tests/histories.py), linearizable and with one stale read injected.

Histories are linearizable by construction: 8 simulated clients issue ops with random
durations and think times; each op takes effect at a random instant inside its interval,
against a plain mutable dict store written here (not the op model, so the bench also
cross-checks it). A few calls never return (pending), half of them having taken effect. Some
keys are hot, so calls on one key overlap often.

Run: ``python -m tests.bench_linearizability`` or ``python tests/bench_linearizability.py``.
"""

from __future__ import annotations

import random
import sys
import time
from pathlib import Path

if __package__ in (None, ""):  # run as a script: make the repository importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.histories import inject_stale_read, kv_history, op_model_has_append  # noqa: E402
from tornwrite.models.linearizability import WRONGTYPE, Call, OpModelSpec, check_history  # noqa: E402
from tornwrite.models.ops import Op  # noqa: E402

SIZES = ((1_000, 100), (10_000, 100), (100_000, 1_000))
CLIENTS = 8
KINDS = ("string", "list", "hash")
FIELDS = ("f0", "f1", "f2", "f3")


def _random_op(rng: random.Random, keys: list[str], hot_keys: list[str], serial: int) -> Op:
    key = rng.choice(hot_keys) if rng.random() < 0.2 else rng.choice(keys)
    kind = KINDS[int(key.split(":")[1]) % 3]
    if rng.random() < 0.02:  # an op of the wrong kind, answered with WRONGTYPE
        kind = rng.choice([k for k in KINDS if k != kind])
    roll = rng.random()
    if roll < 0.003:
        return Op.of("delete", key, rng.choice(keys))
    if roll < 0.04:
        return Op.of("delete", key)
    if roll < 0.08:
        return Op.of(rng.choice(("exists", "type")), key)
    value = b"v%d" % serial
    if kind == "string":
        return Op.of("set", key, value) if roll < 0.5 else Op.of("get", key)
    if kind == "list":
        if roll < 0.45:
            return Op.of("rpush", key, *([value] * rng.randint(1, 2)))
        if roll < 0.8:
            return Op.of("lrange", key, rng.choice((0, 1, -3)), rng.choice((-1, 2, 10)))
        return Op.of("llen", key)
    if roll < 0.4:
        fields = rng.sample(FIELDS, rng.randint(1, 2))
        return Op.of("hset", key, {field: value for field in fields})
    if roll < 0.5:
        return Op.of("hdel", key, rng.choice(FIELDS))
    if roll < 0.75:
        return Op.of("hget", key, rng.choice(FIELDS))
    return Op.of(rng.choice(("hgetall", "hlen")), key)


def _apply(store: dict, op: Op) -> object:
    """The op against a plain mutable dict of key -> (kind, bytes | list | dict)."""
    name, args = op.name, op.args
    if name == "delete":
        return sum(store.pop(key, None) is not None for key in set(args))
    key = args[0]
    if name == "exists":
        return key in store
    if name == "type":
        return store[key][0] if key in store else None
    wanted = {"set": None, "get": "string", "rpush": "list", "lrange": "list", "llen": "list"}
    kind = wanted.get(name, "hash")
    if kind is not None and key in store and store[key][0] != kind:
        return WRONGTYPE
    current = store[key][1] if key in store else None
    if name == "set":
        store[key] = ("string", args[1])
    elif name == "get":
        return current
    elif name == "rpush":
        store.setdefault(key, ("list", []))[1].extend(args[1:])
        return len(store[key][1])
    elif name == "lrange":
        items = current or []
        start, stop = args[1], args[2]
        start = max(start + len(items) if start < 0 else start, 0)
        stop = stop + len(items) if stop < 0 else stop
        return items[start : stop + 1]
    elif name == "llen":
        return len(current or [])
    elif name == "hset":
        fields = store.setdefault(key, ("hash", {}))[1]
        added = sum(field not in fields for field in args[1])
        fields.update(args[1])
        return added
    elif name == "hdel":
        fields = current or {}
        removed = fields.pop(args[1], None) is not None
        if current is not None and not fields:
            del store[key]
        return int(removed)
    elif name == "hget":
        return (current or {}).get(args[1])
    elif name == "hgetall":
        return dict(current or {})
    elif name == "hlen":
        return len(current or {})
    return None


def generate_history(calls: int, keys: int, *, clients: int = CLIENTS, seed: int = 0) -> list[Call]:
    """A linearizable history of `calls` calls by `clients` clients over `keys` keys."""
    rng = random.Random(seed)
    key_names = [f"key:{i}" for i in range(keys)]
    hot_keys = key_names[:5]
    planned: list[
        tuple[float, int, Op, float, float | None, bool]
    ] = []  # (effect, client, op, invoke, ret, took effect)
    for client in range(clients):
        now = rng.uniform(0, 1e-3)
        for _ in range(calls // clients + (client < calls % clients)):
            duration = rng.expovariate(1 / 4e-4) + (0.01 if rng.random() < 0.03 else 0.0)
            op = _random_op(rng, key_names, hot_keys, len(planned))
            effect = rng.uniform(now, now + duration)
            if rng.random() < 0.001:  # never returned; took effect or not
                planned.append((effect, client, op, now, None, rng.random() < 0.5))
            else:
                planned.append((effect, client, op, now, now + duration, True))
            now += duration + rng.expovariate(1 / 2e-4)
    planned.sort(key=lambda plan: plan[0])
    store: dict = {}
    history = []
    for _, client, op, invoke, ret, takes_effect in planned:
        result = _apply(store, op) if takes_effect else None
        history.append(Call(client, op, invoke, ret, result if ret is not None else None))
    history.sort(key=lambda call: call.invoke)
    return history


def run(print=print) -> dict[int, float]:
    """Checks one seeded history of each size; prints and returns calls checked per second."""
    rates = {}
    total_calls, total_seconds = 0, 0.0
    for calls, keys in SIZES:
        history = generate_history(calls, keys, seed=calls)
        started = time.perf_counter()
        result = check_history(history, OpModelSpec())
        seconds = time.perf_counter() - started
        if not result.ok:
            raise AssertionError(f"generated history judged not linearizable:\n{result.counterexample}")
        rates[calls] = calls / seconds
        total_calls += calls
        total_seconds += seconds
        print(
            f"linearizability {calls:>7,} calls, {keys:>5,} keys, {CLIENTS} clients: "
            f"{seconds:6.2f} s, {calls / seconds:>9,.0f} calls/s ({result.partitions} partitions)"
        )
    print(
        f"linearizability total   {total_calls:>7,} calls: {total_seconds:6.2f} s, "
        f"{total_calls / total_seconds:>9,.0f} calls/s"
    )
    return rates


KV_SEEDS = (0, 1, 2)
KV_TIMEOUT = 60.0  # seconds; a verdict later than this is reported as none


def run_kv(print=print) -> dict[tuple[int, bool], float]:
    """Checks seeded kv histories, linearizable and not; prints and returns seconds to a verdict."""
    seconds_to_verdict = {}
    appends = "get/set/append" if op_model_has_append() else "get/set (the op model has no append yet)"
    for seed in KV_SEEDS:
        good = kv_history(seed=seed)
        bad, _ = inject_stale_read(good, seed=seed)
        for history, linearizable in ((good, True), (bad, False)):
            cpu, started = time.process_time(), time.perf_counter()
            result = check_history(history, OpModelSpec(), timeout=KV_TIMEOUT)
            seconds, cpu = time.perf_counter() - started, time.process_time() - cpu
            if not result.timed_out and result.ok != linearizable:
                raise AssertionError(f"seed {seed}: judged {result.ok}, built {linearizable}\n{result.counterexample}")
            verdict = "timed out" if result.timed_out else "linearizable" if result.ok else "not linearizable"
            seconds_to_verdict[(seed, linearizable)] = seconds
            print(
                f"kv {appends}, 50 clients, {len(history):,} calls, seed {seed}: {verdict:>16} in "
                f"{seconds:6.2f} s ({cpu:5.2f} s CPU), {result.steps:>9,} steps, {result.memo_entries:>8,} memo entries"
            )
    return seconds_to_verdict


if __name__ == "__main__":
    run()
    run_kv()
