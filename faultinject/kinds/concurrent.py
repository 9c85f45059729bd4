"""Fault kind "concurrent": threads on one store, a real SIGKILL, and a durable-linearizability verdict.

Each crash point is one seeded run in a forked child: 3 or 4 writer threads on a few shared keys
(set, rpush, hset, multi-field hdel, multi-key delete, TTL'd sets soon overwritten, now and then a
flushall) and 2 reader threads (get, lrange, hgetall, exists, dbsize), on a real tmpfs directory
opened with background snapshots (`snapshot_every`) and the reaper running. The child dies by
SIGKILL at the point's seeded moment: when the global op count reaches k (the op just invoked is
then in flight), at the k-th WAL append (before or after it), or at the k-th `snapshot.write` /
`snapshot.rename` of a background snapshot; a run that ends first is killed after its last op.

Every thread writes each invocation ("I") and each return ("R") to a pipe before and after the
call, and every clock reading the store takes in that thread ("C"): pipe writes are in the kernel
before the kill, so the history survives it whole. The store's clock is `time.monotonic`, the
same clock that stamps the calls, so each call carries its clock interval and readings and the
checker judges TTLs at an instant inside it (models/linearizability.py, "Time").

The judge is durable linearizability: the parent recovers the directory, reads every key the run
named (by its recovered type) and dbsize, and appends those reads as calls after everything. The
whole must linearize, calls that never returned counted either way. If it does not, and the
history alone already does not, the live store broke linearizability: "invariant-violated". If
only the recovered reads break it: "phantom-or-divergent" (the recovered state is no state the
history allows, lost acked writes included). A recovery that raises is "recovery-failed"; an
engine thread (the snapshot's, the reaper's) that dies of an exception is "invariant-violated". A check
that exceeds CHECK_STEPS is no verdict at all: it raises, failing the harness, not the engine.

Seeded, not deterministic: the schedule (threads, ops, values, kill moment, snapshot pacing) is
a function of (seed, workload, point) alone, but the interleaving is the OS's. To widen the
races that only threads expose, the child switches threads every few microseconds, a background
snapshot pauses for a seeded moment between its copy of the keyspace and its write, a reader's
clock call takes a seeded while (a reader preempted inside its read), and a writer that sets a
TTL waits half of it before its next op, often an overwrite of that key before the deadline.
A repro reruns the same schedule up to REPRO_ATTEMPTS times and shows the first failing run.

Forced interleavings (faultinject/core/interleave.py) are the kind's other points, checked
first: one per multi-part piece of work (a multi-key delete, a multi-field hset or hdel, an
rpush of several values, a snapshot's copy), each parked at every line of its apply in turn
while a reader (or, beside a snapshot, a writer) runs. They are deterministic, so a seqlock bug
on either side is caught on every run, not at the scheduler's mercy.

`persist` and `expire` on keys whose TTL runs out in milliseconds are what found the engine's
revival bug (a deadline passing during such a write's fsync let a reader see the key gone and
then back; engine/keyspace.py, "Reviving writes").
"""

from __future__ import annotations

import json
import math
import os
import random
import select
import shutil
import signal
import sys
import tempfile
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass, field

from tornwrite.engine import IOEvent, IOLayer, Store
from tornwrite.faultinject.core import interleave
from tornwrite.faultinject.core.execution import FakeClock, Step
from tornwrite.faultinject.core.results import CrashPoint, StateResult
from tornwrite.faultinject.core.workloads import Workload
from tornwrite.faultinject.kinds.base import Emit, FaultKind, Out, Point, ReproRequest, Subject
from tornwrite.models.checker import Verdict
from tornwrite.models.linearizability import Call, LinearizabilityResult, OpModelSpec, check_history, error_result
from tornwrite.models.ops import Op

NAME = "concurrent"
POINTS = 60  # seeded runs (kill moments) per workload
# Search steps the checker may take on one history before the harness gives up (about 10 s on a
# quiet core; the default workloads' histories need under 10,000). Steps, not seconds: a loaded
# machine reaches the same verdict, where a wall-clock limit once stopped a mutant's run at load 7.
CHECK_STEPS = 1_000_000
CHILD_TIMEOUT = 60.0  # seconds a child may take to die
REPRO_ATTEMPTS = 5
KEYS = ("a", "b", "c", "d", "e")  # shared by every writer and reader
TTL_KEYS = ("t0", "t1")  # strings with TTLs short enough to expire, and be reaped, during the run
# The kind each key mostly holds: a list or hash must live a while for in-place changes to race.
KEYS_OF: dict[str, tuple[str, ...]] = {"rpush": ("a", "b"), "lrange": ("a", "b"), "hset": ("c", "d")}
KEYS_OF |= {"hdel": ("c", "d"), "hgetall": ("c", "d"), "set": ("e",) + TTL_KEYS, "get": ("e",) + TTL_KEYS}
FIELDS = ("f", "g", "h", "i")
WRITER_OPS, READER_OPS = 16, 20
SWITCH_INTERVAL = 1e-6  # seconds between forced thread switches in the child (CPython's default: 5 ms)
FINAL_CLIENT = 1000  # client numbers of the reads of the recovered state start here
END_WAIT = 0.2  # seconds a run whose moment is a snapshot step waits for it after its last op
THINK = 0.5  # of a TTL just set: how long its writer waits before the next op (often an overwrite)
_TAIL = 24  # calls shown before the kill by a repro


@dataclass(frozen=True)
class Schedule:
    """One run: what each thread does, and the moment the child dies."""

    clients: tuple[tuple[Op, ...], ...]  # writers first, then readers
    writers: int
    moment: str  # "op" | "wal.append" | "snapshot.write" | "snapshot.rename"
    nth: int  # the moment's k: op count, or occurrence of the labelled step
    phase: str  # "before" | "after" the labelled step ("-" for "op")
    snapshot_every: int
    snapshot_pause: float  # seconds a background snapshot waits between its copy and its write
    reader_pause: float  # seconds a reader's clock call takes: a preempted reader, writers running meanwhile

    @property
    def label(self) -> str:
        return f"op {self.nth}" if self.moment == "op" else f"{self.moment} #{self.nth} {self.phase}"

    @property
    def kind_of_moment(self) -> str:
        """The label reports group by: which kind of moment, not which one (the description says)."""
        return "after an op returned" if self.moment == "op" else f"{self.phase} {self.moment}"

    @property
    def keys(self) -> tuple[str, ...]:
        return KEYS + TTL_KEYS


def schedule(workload: Workload, point: int) -> Schedule:
    """The run of crash point `point` of `workload`: a function of its seed, name and `point` alone."""
    rng = random.Random(f"concurrent/{workload.seed}/{workload.name}/{point}")
    writers = rng.choice((3, 4))
    clients = [_writer_ops(rng, c) for c in range(writers)]
    clients += [tuple(_reader_op(rng) for _ in range(READER_OPS)) for _ in range(2)]
    moment = rng.choices(("op", "wal.append", "snapshot.write", "snapshot.rename"), (4, 3, 1.5, 1.5))[0]
    total = writers * WRITER_OPS + 2 * READER_OPS
    nth = (
        rng.randint(1, total)
        if moment == "op"
        else rng.randint(1, writers * WRITER_OPS // 2 if moment == "wal.append" else 2)
    )
    phase = "-" if moment == "op" else rng.choice(("before", "after"))
    return Schedule(
        tuple(clients),
        writers,
        moment,
        nth,
        phase,
        rng.choice((4, 8)),
        rng.choice((0.0, 0.0005, 0.002)),
        rng.choice((0.001, 0.002, 0.003)),
    )


def _writer_ops(rng: random.Random, client: int) -> tuple[Op, ...]:
    ops: list[Op] = []
    while len(ops) < WRITER_OPS:
        op = _writer_op(rng, client, len(ops))
        ops.append(op)
        if op.name == "set" and op.kwargs and rng.random() < 0.7:
            # A deadline cancelled soon after it is set, before it passes: a read judging the old
            # entry after the deadline would then see the key absent at no instant it really was.
            ops.append(Op.of("set", op.args[0], f"w{client}.{len(ops)}".encode()))
    return tuple(ops[:WRITER_OPS])


def _writer_op(rng: random.Random, client: int, index: int) -> Op:
    value = f"w{client}.{index}".encode()  # unique: the checker tells every write apart
    kinds = ("set", "append", "rpush", "hset", "hdel", "delete", "set_ttl", "persist", "expire", "flushall")
    kind = rng.choices(kinds, (2, 0.5, 4, 3, 2, 2, 2.5, 0.7, 0.7, 0.1))[0]
    key = _key(rng, kind)
    if kind == "set":
        return Op.of("set", key, value)
    if kind == "rpush":
        return Op.of("rpush", key, *[value + b"/%d" % n for n in range(rng.randint(1, 2))])
    if kind == "hset":
        return Op.of("hset", key, {f: value for f in rng.sample(FIELDS, rng.randint(1, 3))})
    if kind == "hdel":
        return Op.of("hdel", key, *rng.sample(FIELDS, rng.randint(2, 3)))
    if kind == "delete":
        return Op.of("delete", *rng.sample(KEYS + TTL_KEYS, rng.randint(2, 3)))
    if kind == "flushall":
        return Op.of("flushall")
    if kind == "append":
        return Op.of("append", rng.choice(KEYS_OF["set"] + TTL_KEYS), value)
    if kind == "persist":
        return Op.of("persist", rng.choice(TTL_KEYS))
    if kind == "expire":
        return Op.of("expire", rng.choice(TTL_KEYS), rng.choice((0.0006, 0.001, 0.002)))
    return Op.of("set", rng.choice(TTL_KEYS), value, ttl=rng.choice((0.0006, 0.001, 0.002)))


def _key(rng: random.Random, kind: str) -> str:
    """A key of the kind the command writes, and one in ten any key: commands meet the wrong kind too."""
    if rng.random() < 0.1:
        return rng.choice(KEYS)
    return rng.choice(KEYS_OF.get(kind, KEYS))


def _reader_op(rng: random.Random) -> Op:
    kind = rng.choices(("get", "lrange", "hgetall", "exists", "dbsize"), (2, 2, 2, 2, 3))[0]
    if kind == "dbsize":
        return Op.of("dbsize")
    key = _key(rng, kind) if kind != "exists" else rng.choice(KEYS + TTL_KEYS + TTL_KEYS)
    return Op.of("lrange", key, 0, -1) if kind == "lrange" else Op.of(kind, key)


# --- results and ops as JSON, across the pipe ----------------------------------------------------


def encode(value: object) -> object:
    """A JSON value that `decode` turns back into `value`, types kept (bytes, tuples, dicts)."""
    if isinstance(value, bytes):
        return {"b": value.decode("latin-1")}
    if isinstance(value, tuple):
        return {"t": [encode(item) for item in value]}
    if isinstance(value, list):
        return [encode(item) for item in value]
    if isinstance(value, dict):
        return {"d": [[encode(k), encode(v)] for k, v in value.items()]}
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    raise TypeError(f"cannot record a {type(value).__name__}: {value!r}")


def decode(value: object) -> object:
    if isinstance(value, list):
        return [decode(item) for item in value]
    if isinstance(value, dict):
        ((tag, inner),) = value.items()
        if tag == "b":
            return inner.encode("latin-1")
        if tag == "t":
            return tuple(decode(item) for item in inner)
        return {decode(k): decode(v) for k, v in inner}
    return value


def _encode_op(op: Op) -> object:
    return [op.name, encode(op.args), encode(dict(op.kwargs))]


def _decode_op(data: list) -> Op:
    name, args, kwargs = data
    decoded_kwargs = decode(kwargs)
    assert isinstance(decoded_kwargs, dict)
    return Op.of(name, *decode(args), **decoded_kwargs)  # type: ignore[misc]


# --- the child -----------------------------------------------------------------------------------


class _Recorder:
    """The child's side: writes the history to the pipe, and kills the child at its moment."""

    def __init__(self, fd: int, plan: Schedule):
        self.fd, self.plan = fd, plan
        self.local = threading.local()  # .client: the client this thread is, for clock readings
        self.lock = threading.Lock()
        self.pipe_lock = threading.Lock()  # a line longer than PIPE_BUF could interleave with another
        self.invoked = 0
        self.seen = 0  # steps with the moment's label and phase met so far

    def say(self, line: str) -> None:
        with self.pipe_lock:
            os.write(self.fd, (line + "\n").encode())

    def clock(self) -> float:
        client = getattr(self.local, "client", None)
        if client is not None and client >= self.plan.writers and self.plan.reader_pause:
            time.sleep(self.plan.reader_pause)  # the reader is preempted inside its read; writers go on
        now = time.monotonic()
        if client is not None:
            self.say(f"C {client} {now!r}")
        return now

    def invoke(self, client: int, op: Op) -> None:
        with self.lock:
            self.invoked += 1
            kill = self.plan.moment == "op" and self.invoked == self.plan.nth
            self.say(f"I {client} {time.monotonic()!r} {json.dumps(_encode_op(op))}")
        if kill:
            os.kill(os.getpid(), signal.SIGKILL)

    def returned(self, client: int, result: object) -> None:
        self.say(f"R {client} {time.monotonic()!r} {json.dumps(encode(result))}")

    def on_step(self, event: IOEvent) -> None:
        plan = self.plan
        if event.label == "snapshot.create" and event.phase == "after" and plan.snapshot_pause:
            time.sleep(plan.snapshot_pause)  # lets writers run between the snapshot's copy and its write
        if event.label != plan.moment or event.phase != plan.phase:
            return
        with self.lock:
            self.seen += 1
            kill = self.seen == plan.nth
        if kill:
            os.kill(os.getpid(), signal.SIGKILL)


def _child(directory: str, plan: Schedule, recorder: _Recorder) -> None:
    sys.setswitchinterval(SWITCH_INTERVAL)
    threading.excepthook = lambda hook: recorder.say(
        f"T {hook.thread.name if hook.thread else '?'}: {hook.exc_type.__name__}: {hook.exc_value}".replace("\n", " ")
    )
    io = IOLayer()
    io.hooks.append(recorder.on_step)
    store = Store.open(
        directory, io=io, clock=recorder.clock, snapshot_every=plan.snapshot_every, reaper_interval=0.003
    )
    start = threading.Barrier(len(plan.clients))

    def client(number: int, ops: tuple[Op, ...]) -> None:
        recorder.local.client = number
        start.wait()
        for op in ops:
            recorder.invoke(number, op)
            try:
                result = op.apply_to(store)
            except Exception as exc:  # a typed refusal is a result; any other error fails the check
                result = error_result(exc)
            recorder.returned(number, result)
            ttl = dict(op.kwargs).get("ttl")
            if ttl:  # the client thinks a while before its next op, the key live with its deadline
                time.sleep(ttl * THINK)

    threads = [threading.Thread(target=client, args=(n, ops), daemon=True) for n, ops in enumerate(plan.clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if plan.moment.startswith("snapshot."):
        time.sleep(END_WAIT)  # a background snapshot still running may yet reach the moment
    recorder.say("X the run ended before its moment: killed after its last op")
    os.kill(os.getpid(), signal.SIGKILL)


@dataclass
class Run:
    """What the parent learned from one child: its history, and how it died."""

    calls: list[Call] = field(default_factory=list)
    killed: bool = False
    ended: bool = False  # the moment never came: killed after the last op
    error: str = ""
    thread_errors: list[str] = field(default_factory=list)  # exceptions that ended a thread of the child


def run_child(directory: str, plan: Schedule) -> Run:
    """Fork a child that runs `plan` on `directory` and dies by SIGKILL; its recorded history."""
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child never returns from here
        os.close(read_end)
        recorder = _Recorder(write_end, plan)
        try:
            _child(directory, plan, recorder)
        except BaseException as exc:
            recorder.say(f"E {type(exc).__name__}: {exc}".replace("\n", " "))
        os._exit(1)
    os.close(write_end)
    data, error = _read_all(read_end, pid)
    os.close(read_end)
    _, status = os.waitpid(pid, 0)
    run = _parse(data.decode())
    run.error += error
    run.killed = os.WIFSIGNALED(status) and os.WTERMSIG(status) == signal.SIGKILL and not run.error
    return run


def _read_all(fd: int, pid: int) -> tuple[bytes, str]:
    chunks: list[bytes] = []
    deadline = time.monotonic() + CHILD_TIMEOUT
    while True:
        ready, _, _ = select.select([fd], [], [], max(0.0, deadline - time.monotonic()))
        if not ready:
            os.kill(pid, signal.SIGKILL)
            return b"".join(chunks), f"hang: the child did not die within {CHILD_TIMEOUT:.0f} s"
        chunk = os.read(fd, 65536)
        if not chunk:
            return b"".join(chunks), ""
        chunks.append(chunk)


def _parse(text: str) -> Run:
    run = Run()
    open_calls: dict[int, tuple[Op, float, list[float]]] = {}
    readings: dict[int, list[float]] = {}
    for line in text.splitlines():
        tag, _, rest = line.partition(" ")
        if tag == "T":
            run.thread_errors.append(rest)
            continue
        if tag in ("X", "E"):
            run.ended = tag == "X"
            run.error += rest if tag == "E" else ""
            continue
        client_text, _, rest = rest.partition(" ")
        client = int(client_text)
        if tag == "C":
            readings.setdefault(client, []).append(float(rest))
            continue
        at_text, _, payload = rest.partition(" ")
        at = float(at_text)
        if tag == "I":
            readings[client] = []
            open_calls[client] = (_decode_op(json.loads(payload)), at, readings[client])
        else:  # "R"
            op, invoked, read = open_calls.pop(client)
            run.calls.append(Call(client, op, invoked, at, decode(json.loads(payload)), (invoked, at), tuple(read)))
    for client, (op, invoked, read) in open_calls.items():  # in flight at the kill
        run.calls.append(Call(client, op, invoked, None, None, (invoked, math.inf), tuple(read)))
    run.calls.sort(key=lambda call: call.invoke)
    return run


# --- the judge -----------------------------------------------------------------------------------


def final_reads(directory: str, keys: tuple[str, ...]) -> list[Call]:
    """Recover `directory` and read it whole, as calls after everything the child did."""
    now = time.monotonic()  # later than every reading of the dead child: one system-wide clock
    calls: list[Call] = []
    with Store.open(directory, clock=FakeClock(now)) as store:
        for key in keys:
            kind = store.type(key)
            op = {"string": Op.of("get", key), "list": Op.of("lrange", key, 0, -1), "hash": Op.of("hgetall", key)}.get(
                kind or "", Op.of("exists", key)
            )
            calls.append(Call(FINAL_CLIENT + len(calls), op, now, now, op.apply_to(store), (now, now)))
        calls.append(Call(FINAL_CLIENT + len(calls), Op.of("dbsize"), now, now, store.dbsize(), (now, now)))
    return calls


def judge(run: Run, directory: str, keys: tuple[str, ...]) -> Verdict:
    """Durable linearizability of `run`'s history followed by reads of `directory` recovered."""
    if not run.killed:
        return Verdict("invariant-violated", run.error or "the child did not die by SIGKILL")
    if run.thread_errors:
        return Verdict("invariant-violated", "a thread died of an exception: " + "; ".join(run.thread_errors))
    try:
        finals = final_reads(directory, keys)
    except Exception as exc:  # the recovery of a killed store must succeed
        return Verdict("recovery-failed", f"{type(exc).__name__}: {exc}")
    whole = _linearizable(run.calls + finals)
    if whole.ok:
        return Verdict("ok")
    live = _linearizable(run.calls)
    if not live.ok:
        return Verdict("invariant-violated", "the live history is not linearizable:\n" + live.counterexample)
    return Verdict(
        "phantom-or-divergent",
        "the recovered state follows no linearization of the history:\n" + whole.counterexample,
    )


def _linearizable(calls: list[Call]) -> LinearizabilityResult:
    result = check_history(calls, OpModelSpec(), max_steps=CHECK_STEPS)
    if result.timed_out:  # no verdict: the harness failed, not the engine
        raise RuntimeError(f"the linearizability check of {len(calls)} calls took over {CHECK_STEPS:,} search steps")
    return result


@dataclass
class _Progress:
    """The slice of execution.Progress that StateResult.of reads."""

    acked: int
    in_flight: bool
    current: int = 1


def check_point(subject: Subject, number: int, base_dir: str) -> tuple[StateResult, Run, Schedule]:
    workload = subject.workload
    plan = schedule(workload, number)
    directory = os.path.join(base_dir, f"c{number}")
    shutil.rmtree(directory, ignore_errors=True)
    try:
        run = run_child(directory, plan)
        verdict = judge(run, directory, plan.keys)
    finally:
        shutil.rmtree(directory, ignore_errors=True)
    invoked = len(run.calls)
    point = CrashPoint.of(
        NAME,
        workload,
        number,
        "-",
        plan.kind_of_moment,
        "data",
        invoked,
        subject.mutant,
    )
    pending = sum(call.pending for call in run.calls)
    description = "killed after the run" if run.ended else f"killed at {plan.label}"
    result = StateResult.of(point, 0, description, _Progress(invoked - pending, pending > 0), verdict)
    return result, run, plan


FORCED = range(POINTS + 1, POINTS + 1 + len(interleave.SCENARIOS))  # the forced interleavings' point numbers


def check_forced(subject: Subject, number: int) -> tuple[StateResult, list[interleave.Outcome]]:
    """Forced-interleaving point `number`: its scenario parked at every pause point in turn."""
    scenario = interleave.SCENARIOS[number - FORCED.start]
    outcomes = interleave.check_scenario(scenario)
    failed = next((outcome for outcome in outcomes if outcome.problem), None)
    verdict = (
        Verdict("ok")
        if failed is None
        else Verdict(
            "invariant-violated",
            f"{scenario.paused!r} parked at {failed.where} (pause {failed.pause} of {len(outcomes)}): {failed.problem}",
        )
    )
    point = CrashPoint.of(NAME, subject.workload, number, "-", "forced interleaving", "data", 0, subject.mutant)
    description = f"{scenario.name}: parked at each of {len(outcomes)} pause points"
    return StateResult.of(point, 0, description, _Progress(0, False), verdict), outcomes


def _repro_forced(subject: Subject, number: int, out: Out) -> int:
    result, outcomes = check_forced(subject, number)
    out(f"FORCED INTERLEAVING (concurrent) point {number}: {result.description}")
    for outcome in outcomes:
        out(f"  pause {outcome.pause:>3} at {outcome.where}: {outcome.problem or 'ok'}")
    out(f"verdict: {result.outcome}")
    if result.detail:
        out(result.detail)
    return 0 if result.ok else 1


def _repro(subject: Subject, request: ReproRequest, out: Out) -> int:
    if request.step in FORCED:
        return _repro_forced(subject, request.step, out)
    base = tempfile.mkdtemp(prefix="tornwrite-repro-")
    try:
        for attempt in range(1, REPRO_ATTEMPTS + 1):
            result, run, plan = check_point(subject, request.step, base)
            if not result.ok or attempt == REPRO_ATTEMPTS:
                break
        out(
            f"CRASH (concurrent) point {request.step}: {plan.writers} writers, 2 readers, "
            f"snapshot_every={plan.snapshot_every}; SIGKILL at {plan.label}; attempt {attempt} of {REPRO_ATTEMPTS}"
        )
        out(f"{result.description}; {len(run.calls)} calls recorded, {sum(c.pending for c in run.calls)} in flight")
        out(f"the last {_TAIL} calls before the kill, and every call in flight:")
        tail = run.calls[-_TAIL:]
        for call in [c for c in run.calls[:-_TAIL] if c.pending] + tail:
            out("  " + call.describe())
        out(f"verdict: {result.outcome}")
        if result.detail:
            out(result.detail)
        return 0 if result.ok else 1
    finally:
        shutil.rmtree(base, ignore_errors=True)


class Concurrent(FaultKind):
    name = NAME
    summary = (
        f"{POINTS} seeded threaded runs per workload (writers, readers, background snapshots, the reaper), "
        "each SIGKILLed at a seeded moment and judged for durable linearizability"
    )
    batch = 4
    steps_of_a_run = False
    label_meaning = "kill moment"
    shrinks_by_ops = False  # its threads draw their own ops; the workload's length changes nothing
    starts_from_files = False  # its threads start on an empty directory: a start would only repeat a run

    def points(self, steps: list[Step]) -> list[Point]:
        # The forced interleavings first: deterministic, cheap, and where seqlock bugs show.
        return [(number, "-") for number in (*FORCED, *range(1, POINTS + 1))]

    def sample(self, points: list[Point], budget: int, rng: random.Random, steps: list[Step]) -> list[Point]:
        # The forced interleavings first: deterministic, so even a small budget catches what they catch.
        forced = [point for point in points if point[0] in FORCED][:budget]
        rest = [point for point in points if point[0] not in FORCED]
        return forced + sorted(rng.sample(rest, budget - len(forced)))

    def check(self, subject: Subject, points: Iterable[Point], emit: Emit) -> None:
        for number, _ in points:
            if number in FORCED:
                emit(check_forced(subject, number)[0])
            else:
                emit(check_point(subject, number, subject.scratch)[0])

    def repro_argv(self, result: StateResult) -> list[str]:
        return ["--step", str(result.point.step)]  # a point is named by its number alone

    def request_problem(self, request: ReproRequest) -> str | None:
        return None

    def repro(self, subject: Subject, request: ReproRequest, out: Out) -> int:
        return _repro(subject, request, out)


KIND = Concurrent()
