"""The Hypothesis state machine: the engine and the op model side by side, through crashes.

Every rule runs one command on both and asserts they agree (results and refusals). After every
step three invariants hold: the engine's view equals the model's; the independent format
reader, reading the files the engine wrote, computes the same state (memory == snapshot + WAL
replay); no expired key is visible. Crash rules abandon the Store the way a killed process or a
power loss would, recover, and require the model's state (or, for a crash in the middle of a
write, the state before or after that write).

The engine runs on the simulated disk, so crashes need no real files and a step costs
microseconds. Failures shrink to a short program Hypothesis prints as runnable steps.
Used by tests/test_stateful.py (the real engine) and tests/test_stateful_mutants.py.
"""

from __future__ import annotations

import math
import random

from faker import Faker
from hypothesis import note
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from tornwrite.engine import IOEvent, IOLayer, RedisLiteError, Store
from tornwrite.engine.format import READ_VERSIONS
from tornwrite.engine.io import DURABLE_OPS
from tornwrite.faultinject.core import oldformats
from tornwrite.faultinject.core.execution import DATA_DIR, FakeClock
from tornwrite.faultinject.core.observe import reads_disagree
from tornwrite.faultinject.core.simdisk import SimDisk
from tornwrite.models import opmodel
from tornwrite.models.format_reader import read_files
from tornwrite.models.ops import Op

# Few keys and fields, so commands collide on the same ones; unicode, empty, a newline, a quote.
KEYS = ["user:1", "ключ", "", 'a\n"b"']
FIELDS = ["name", "поле", "f\x00🙂"]
_fake = Faker(["en_US", "ja_JP", "ru_RU"])
_fake.seed_instance(20261125)
TEXTS = [_fake.sentence().encode() for _ in range(40)] + [_fake.name().encode() for _ in range(20)]

# Three values over a MiB each: one record, and a snapshot, past every write buffer (the snapshot
# writes 1 MiB chunks), and a state of several MiB. Built by repetition: cheap to make.
HUGE = tuple((text * (1_200_000 // len(text) + 1))[: 1_100_000 + 20_000 * n] for n, text in enumerate(TEXTS[:3]))
BIG_KEY = "größe"  # the huge values' own key: no other rule touches it

keys = st.sampled_from(KEYS)
fields = st.sampled_from(FIELDS)


# Drawn by index: a sampled_from over the texts would put all of them in the strategy's repr,
# which Hypothesis copies into an event string on every filtered draw (gigabytes over a run).
def _text(index: int) -> bytes:
    return TEXTS[index]


values = st.one_of(st.binary(max_size=24), st.integers(0, len(TEXTS) - 1).map(_text))
ttls = st.sampled_from([0.5, 1, 2.5, 10])
invalid_keys = st.sampled_from([1, None, 2.5, "\ud800", b"\xff\xfe", bytearray(b"k")])
invalid_values = st.sampled_from(["text", 7, None, 1.5, ["b"]])
invalid_numbers = st.sampled_from([math.nan, math.inf, -math.inf, True, "3", 10**400])
# Boundaries: a ttl of 0 or below is refused, seconds of 0 or below expire at once, huge ones never.
edge_numbers = st.sampled_from([0, -1, -0.5, 1e9])
# List ranges past both ends, past one, crossed, far beyond: clamped, or empty.
edge_ranges = st.sampled_from([(-100, 100), (-100, 0), (-1, 100), (2, 1), (100, 200), (-100, -50)])


class Crash(BaseException):
    """Raised by the I/O hook at the chosen step: the engine never catches it, as with a kill."""

    def __init__(self, disk: SimDisk):
        super().__init__("crash")
        self.disk = disk  # what the restarted process finds


class StoreVersusModel(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.clock = FakeClock(1_700_000_000.0)
        self.model: dict = {}
        self.disk = SimDisk()
        self.store = self._open(self.disk)
        self.grown = False

    def _open(self, disk: SimDisk) -> Store:
        self.disk = disk
        self.io = IOLayer(disk)
        return Store.open(DATA_DIR, io=self.io, clock=self.clock)

    def teardown(self) -> None:
        self.store.close()

    # --- running one op on both sides -------------------------------------------------------

    def run(self, op: Op) -> object:
        expected_state, expected = opmodel.apply(self.model, op, self.clock.now)
        try:
            actual = op.apply_to(self.store)
        except RedisLiteError as error:
            actual = opmodel.Refusal(type(error).__name__, str(error))
        note(f"{op!r} -> {actual!r}")
        assert opmodel.same_result(expected, actual), (
            f"{op!r}: engine gave {opmodel.describe_result(actual)}, model predicts {opmodel.describe_result(expected)}"
        )
        self.model = expected_state
        return actual

    # --- one rule per command ---------------------------------------------------------------

    @rule(key=keys, value=values)
    def set(self, key, value):
        self.run(Op.of("set", key, value))

    @rule(key=keys, value=values, ttl=ttls)
    def set_with_ttl(self, key, value, ttl):
        self.run(Op.of("set", key, value, ttl=ttl))

    @rule(key=keys, value=values, offset=st.sampled_from([-1, 0, 1.5, 30]))
    def set_with_expire_at(self, key, value, offset):
        self.run(Op.of("set", key, value, expire_at=self.clock.now + offset))

    @rule(key=keys, value=values)
    def append(self, key, value):
        self.run(Op.of("append", key, value))

    @rule(key=keys)
    def get(self, key):
        self.run(Op.of("get", key))

    @rule(chosen=st.lists(keys, max_size=3))
    def delete(self, chosen):
        self.run(Op.of("delete", *chosen))

    @rule(key=keys)
    def exists(self, key):
        self.run(Op.of("exists", key))

    @rule(key=keys, items=st.lists(values, min_size=1, max_size=3))
    def rpush(self, key, items):
        self.run(Op.of("rpush", key, *items))

    @rule(key=keys, start=st.integers(-4, 4), stop=st.integers(-4, 4))
    def lrange(self, key, start, stop):
        self.run(Op.of("lrange", key, start, stop))

    @rule(key=keys)
    def llen(self, key):
        self.run(Op.of("llen", key))

    @rule(key=keys, index=st.integers(-4, 4))
    def lindex(self, key, index):
        self.run(Op.of("lindex", key, index))

    @rule(key=keys, mapping=st.dictionaries(fields, values, min_size=1, max_size=3))
    def hset(self, key, mapping):
        self.run(Op.of("hset", key, mapping))

    @rule(key=keys, field=fields)
    def hget(self, key, field):
        self.run(Op.of("hget", key, field))

    @rule(key=keys, chosen=st.lists(fields, min_size=1, max_size=3))
    def hdel(self, key, chosen):
        self.run(Op.of("hdel", key, *chosen))

    @rule(key=keys)
    def hgetall(self, key):
        self.run(Op.of("hgetall", key))

    @rule(key=keys)
    def hlen(self, key):
        self.run(Op.of("hlen", key))

    @rule(key=keys, field=fields)
    def hexists(self, key, field):
        self.run(Op.of("hexists", key, field))

    @rule(key=keys, seconds=st.sampled_from([-1, 0, 0.5, 2, 30]))
    def expire(self, key, seconds):
        self.run(Op.of("expire", key, seconds))

    @rule(key=keys, offset=st.sampled_from([-5, 0, 1, 30]))
    def expire_at(self, key, offset):
        self.run(Op.of("expire_at", key, self.clock.now + offset))

    @rule(key=keys)
    def persist(self, key):
        self.run(Op.of("persist", key))

    @rule(key=keys)
    def ttl(self, key):
        self.run(Op.of("ttl", key))

    @rule(key=keys)
    def type(self, key):
        self.run(Op.of("type", key))

    @rule()
    def keys_and_dbsize(self):
        self.run(Op.of("keys"))
        self.run(Op.of("dbsize"))

    @rule()
    def flushall(self):
        self.run(Op.of("flushall"))

    @rule()
    def snapshot(self):
        self.run(Op.of("snapshot"))

    @rule(seconds=st.sampled_from([0.25, 0.5, 1, 3]))
    def tick(self, seconds):
        self.clock.now += seconds

    def _deadlines_ahead(self) -> list[float]:
        return sorted({entry[2] for entry in self.model.values() if entry[2] is not None and entry[2] > self.clock.now})

    @precondition(lambda self: self._deadlines_ahead())
    @rule(choice=st.integers(0, 3))
    def tick_onto_a_deadline(self, choice):
        """The clock lands exactly on a key's expire_at: the instant it becomes absent."""
        ahead = self._deadlines_ahead()
        self.clock.now = ahead[choice % len(ahead)]

    @rule()
    def reap_expired(self):
        """What the reaper thread does each interval, run at a chosen moment."""
        self.run(Op.of("reap_expired"))

    # --- boundaries: the arguments at and past the edges of what each command accepts ----------

    @rule(key=keys, value=values, number=edge_numbers, how=st.sampled_from(["ttl", "expire", "expire_at"]))
    def edge_number(self, key, value, number, how):
        if how == "ttl":
            self.run(Op.of("set", key, value, ttl=number))
        else:
            self.run(Op.of(how, key, number if how == "expire" else self.clock.now + number))

    @rule(key=keys, bounds=edge_ranges)
    def lrange_past_the_ends(self, key, bounds):
        self.run(Op.of("lrange", key, *bounds))

    @rule(key=keys)
    def hdel_every_field(self, key):
        """The last field goes, and the hash with it."""
        self.run(Op.of("hdel", key, *FIELDS))

    # --- size: past every write buffer --------------------------------------------------------

    @precondition(lambda self: not self.grown)
    @rule(choice=st.integers(0, 2**16))
    def grow_past_every_buffer(self, choice):
        """Over 3 MiB in one rpush record, a snapshot of them in several chunks, a power loss, and
        recovery and the format reader over it; then the key goes and a second snapshot drops
        it, so the steps after stay cheap. Once per program."""
        self.grown = True
        self.run(Op.of("rpush", BIG_KEY, *HUGE))
        self.run(Op.of("snapshot"))
        self._reopen(self._lose_power(choice))
        self.memory_equals_snapshot_plus_wal_replay()  # the snapshot, read back
        self.run(Op.of("delete", BIG_KEY))
        self.run(Op.of("snapshot"))

    # --- refusals: the engine must raise what the model predicts, and change nothing ----------

    @rule(command=st.sampled_from(["get", "set", "rpush", "hset", "hget", "expire", "exists"]), key=invalid_keys)
    def invalid_key(self, command, key):
        args = {
            "get": (),
            "exists": (),
            "set": (b"v",),
            "rpush": (b"v",),
            "hset": ({"f": b"v"},),
            "hget": ("f",),
            "expire": (5,),
        }[command]
        self.run(Op.of(command, key, *args))

    @rule(key=keys, command=st.sampled_from(["set", "append", "rpush", "hset"]), value=invalid_values)
    def invalid_value(self, key, command, value):
        self.run(Op.of(command, key, {"f": value}) if command == "hset" else Op.of(command, key, value))

    @rule(key=keys, number=invalid_numbers, how=st.sampled_from(["ttl", "expire", "expire_at"]))
    def invalid_number(self, key, number, how):
        self.run(Op.of("set", key, b"v", ttl=number) if how == "ttl" else Op.of(how, key, number))

    # --- crashes ------------------------------------------------------------------------------

    @rule()
    def crash_and_reopen(self):
        """A process crash between commands: the page cache survives, so nothing may change; the
        restart runs on the same disk, where what is not yet durable is still at risk."""
        self._reopen(self.disk.after_process_crash())

    @rule(choice=st.integers(0, 2**16))
    def power_loss(self, choice):
        """Power lost between commands: every acked write was fsynced, so nothing may change."""
        self._reopen(self._lose_power(choice))

    @rule(
        op=st.one_of(
            st.builds(lambda k, v: Op.of("set", k, v), keys, values),
            st.builds(lambda k, vs: Op.of("rpush", k, *vs), keys, st.lists(values, min_size=1, max_size=2)),
            # Two fields: a write that must stay one record (a crash between two would show half).
            st.builds(lambda k, m: Op.of("hset", k, m), keys, st.dictionaries(fields, values, min_size=2, max_size=2)),
            st.builds(lambda k, f: Op.of("hdel", k, f), keys, fields),
            st.builds(lambda k: Op.of("delete", k), keys),
            st.builds(lambda k: Op.of("expire", k, 2), keys),
            st.just(Op.of("flushall")),
            st.just(Op.of("snapshot")),
        ),
        # A write takes 2 durable steps (append, fsync), 4 if it were split in two; a snapshot ~10.
        step=st.sampled_from([1, 2, 3, 4, 2, 3, 4, 5, 6, 8, 10, 12, 14]),
        phase=st.sampled_from(["before", "after"]),
        kind=st.sampled_from(["process", "power"]),
        choice=st.integers(0, 2**16),
    )
    def crash_during(self, op, step, phase, kind, choice):
        """A crash at one I/O step inside a write: recovery gives the state before it or after it."""
        self._crash_during(op, step, phase, kind, choice)

    @rule(key=keys, value=values, choice=st.integers(0, 2**16))
    def crash_before_an_fsync_then_restart_then_power_loss(self, key, value, choice):
        """A process crash between a record's write and its fsync, a restart that serves it from
        the page cache, then a power loss: what the restart served must have been made durable."""
        self._crash_during(Op.of("set", key, value), 2, "before", "process-then-power", choice)

    @rule(key=keys, value=values, choice=st.integers(0, 2**16))
    def power_loss_tearing_a_record_then_write_on(self, key, value, choice):
        """Power lost with part of a record on disk, recovery, and a write: the new record must be
        read back after the crash's leftovers (the format reader checks it), so recovery may not
        leave a torn tail in front of it. Only a write after the crash shows such a tail."""
        self._crash_during(Op.of("set", key, value), 2, "before", "power-torn", choice)
        self.run(Op.of("set", key, b"#after the torn record"))

    def _crash_during(self, op: Op, step: int, phase: str, kind: str, choice: int) -> None:
        before = self.model
        after, _ = opmodel.apply(self.model, op, self.clock.now)
        counter = [0]

        def hook(event: IOEvent) -> None:
            if event.op not in DURABLE_OPS:
                return
            counter[0] += event.phase == "before"
            if counter[0] == step and event.phase == phase:
                if not kind.startswith("power"):
                    raise Crash(self.disk.after_process_crash())
                raise Crash(self._lose_power(choice, torn=kind == "power-torn"))

        self.io.hooks.append(hook)
        try:
            self.run(op)
        except Crash as crash:
            note(f"{kind} crash {phase} step {step} of {op!r}")
            self.store = self._open(crash.disk)
            recovered = self.store.dump()
            allowed = {"before": opmodel.view(before, self.clock.now), "after": opmodel.view(after, self.clock.now)}
            assert recovered in allowed.values(), (
                f"after a {kind} crash {phase} step {step} of {op!r}, recovery gave neither the state "
                f"before nor after it:\n  recovered {recovered!r}\n  allowed   {allowed!r}"
            )
            self.model = before if recovered == allowed["before"] else after
            if kind == "process-then-power":
                # The restarted store served from the page cache; what it served must survive a
                # power loss right after its recovery (what it relied on, it made durable).
                note("then a power loss right after the restart's recovery")
                self._reopen(self._lose_power(choice))
            return
        finally:
            if hook in self.io.hooks:
                self.io.hooks.remove(hook)
        # Reaching here, the op finished before the chosen step: it ran as an ordinary command.

    def _lose_power(self, choice: int, torn: bool = False) -> SimDisk:
        """The disk after a power loss now, in the state `choice` picks among every possible one
        (`torn`: among those where the format reader's replay stops early, if there are any)."""
        states = list(self.disk.power_loss_states(random.Random(choice)))
        if torn:
            states = [s for s in states if read_files(s.image.get(DATA_DIR, {})).stop is not None] or states
        note(f"power loss state: {states[choice % len(states)].description}")
        return SimDisk.from_image(states[choice % len(states)].image)

    def _reopen(self, disk: SimDisk) -> None:
        self.store = self._open(disk)
        recovered = self.store.dump()
        expected = opmodel.view(self.model, self.clock.now)
        assert recovered == expected, (
            f"recovery lost or changed acked writes:\n  got      {recovered!r}\n  expected {expected!r}"
        )

    @rule(version=st.sampled_from(READ_VERSIONS))
    def restart_on_the_files_as_a_format_version_wrote_them(self, version):
        """A restart on this directory rewritten as format `version` writes it (oldformats.py):
        the same state, read back through that version's decoder by the engine, and by the format
        reader at every step after; new records then follow in the current version."""
        self._reopen(SimDisk.from_image(oldformats.as_version(self.disk.process_crash_image(), version)))

    # --- invariants ---------------------------------------------------------------------------

    @invariant()
    def engine_agrees_with_model(self):
        assert self.store.dump() == opmodel.view(self.model, self.clock.now)

    @invariant()
    def memory_equals_snapshot_plus_wal_replay(self):
        reading = read_files(self.disk.process_crash_image().get(DATA_DIR, {}))
        assert reading.refused is None, reading.refused
        assert reading.view(self.clock.now) == self.store.dump(), "format reader disagrees with memory"

    @invariant()
    def every_read_command_agrees_with_the_model(self):
        # The model keeps expired keys: every read path must hide them, and read the rest right.
        problem = reads_disagree(self.store, self.model, self.clock.now, also=KEYS)
        assert problem is None, problem
