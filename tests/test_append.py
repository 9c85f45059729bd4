"""APPEND: string append that creates the key, keeps its TTL, refuses other kinds, and survives replay."""

import threading
import tracemalloc

import pytest

from tests.support import newest_segment
from tornwrite.engine import CorruptDataError, IOLayer, Store, WrongTypeError
from tornwrite.engine.appended import Appended
from tornwrite.engine.codec import LineError, decode_record, encode_record
from tornwrite.engine.format import wal_name
from tornwrite.models.format_reader import read_directory
from tornwrite.models.opmodel import Refusal, apply, same_result, view
from tornwrite.models.ops import Op


def outcome(store, op):
    try:
        return op.apply_to(store)
    except Exception as exc:  # the model names the refusal it predicts the same way
        return Refusal(type(exc).__name__)


def wal_records(directory):
    data = newest_segment(directory).read_bytes()
    return [decode_record(line) for line in data.splitlines(keepends=True)[1:]]


def test_append_agrees_with_the_op_model_step_by_step(open_store, clock):
    ops = [
        Op.of("append", "log", b"one"),  # absent: created, no TTL
        Op.of("append", b"log", memoryview(b",two")),  # bytes key, memoryview value
        Op.of("set", "timed", b"t", ttl=10),
        Op.of("append", "timed", b"+"),  # a live string keeps its TTL
        Op.of("rpush", "queue", b"job"),
        Op.of("append", "queue", b"x"),  # WrongTypeError
        Op.of("hset", "hash", {"f": b"v"}),
        Op.of("append", "hash", b"x"),  # WrongTypeError
        Op.of("append", "log", b""),  # an empty suffix: same value, length returned
        Op.of("append", "nothing", b""),  # an empty suffix on an absent key makes b""
        Op.of("append", 7, b"x"),  # InvalidKeyError
        Op.of("append", "log", "text"),  # InvalidValueError
    ]
    store = open_store()
    state: dict = {}
    for op in ops:
        state, expected = apply(state, op, clock())
        actual = outcome(store, op)
        assert same_result(expected, actual), f"{op!r}: model {expected!r}, engine {actual!r}"
        assert store.dump() == view(state, clock()), f"after {op!r}"
    assert store.get("log") == b"one,two"


def test_append_returns_the_new_length_and_creates_an_absent_key_without_ttl(open_store):
    store = open_store()
    assert store.append("k", b"abc") == 3
    assert store.append("k", b"de") == 5
    assert store.get("k") == b"abcde"
    assert store.ttl("k") == -1


def test_append_keeps_the_ttl_of_a_live_string(open_store, clock):
    store = open_store()
    store.set("k", b"abc", ttl=100)
    deadline = store.dump()["k"][2]
    clock.advance(40)
    assert store.append("k", b"d") == 4
    assert store.dump()["k"] == ("string", b"abcd", deadline)
    assert store.ttl("k") == pytest.approx(60)


def test_append_to_an_expired_string_starts_a_new_one_without_ttl(open_store, clock):
    store = open_store()
    store.set("k", b"old", ttl=5)
    clock.advance(5)
    assert store.append("k", b"new") == 3
    assert store.dump()["k"] == ("string", b"new", None)


@pytest.mark.parametrize("kind", ["list", "hash"])
def test_append_to_a_list_or_hash_raises_wrong_type_and_writes_nothing(open_store, tmp_path, kind):
    store = open_store()
    if kind == "list":
        store.rpush("k", b"a")
    else:
        store.hset("k", {"f": b"v"})
    before, records = store.dump(), len(wal_records(tmp_path / "data"))
    with pytest.raises(WrongTypeError):
        store.append("k", b"x")
    assert store.dump() == before
    assert len(wal_records(tmp_path / "data")) == records


def test_append_is_logged_as_one_append_record_of_the_suffix_alone(open_store, tmp_path, clock):
    store = open_store()
    store.set("k", b"ab", expire_at=2e9)
    store.append("k", b"cd")
    store.append("fresh", b"x")
    store.set("old", b"gone", ttl=1)
    clock.advance(2)
    store.append("old", b"new")  # expired: the record says new, so replay replaces what it finds
    assert [(op, args) for _, op, args in wal_records(tmp_path / "data")] == [
        ("set", ("k", b"ab", 2e9)),
        ("append", ("k", False, b"cd")),
        ("append", ("fresh", True, b"x")),
        ("set", ("old", b"gone", clock() - 1)),
        ("append", ("old", True, b"new")),
    ]
    assert store.get("old") == b"new" and store.ttl("old") == -1


def test_the_log_grows_by_what_is_appended_not_by_the_whole_value(open_store, tmp_path):
    store = open_store()
    segment = tmp_path / "data" / wal_name(1)
    before = segment.stat().st_size
    suffix = bytes(range(32, 127))  # 95 bytes of text
    for _ in range(200):
        store.append("hot", suffix)
    logged = segment.stat().st_size - before
    assert logged <= 2 * 200 * len(suffix), f"{logged} log bytes for {200 * len(suffix)} appended"


def test_an_append_record_in_a_version_2_segment_is_a_bad_line():
    line = encode_record(1, "append", ("k", True, "é".encode()))
    assert decode_record(line, 3) == (1, "append", ("k", True, "é".encode()))
    for version in (1, 2):
        with pytest.raises(LineError, match="unknown record op"):
            decode_record(line, version)


def test_an_append_to_no_string_in_the_log_is_refused_by_file_and_offset(tmp_path):
    directory = tmp_path / "data"
    with Store.open(directory) as store:
        store.rpush("k", b"a")
    segment = directory / wal_name(1)
    offset = segment.stat().st_size
    segment.write_bytes(segment.read_bytes() + encode_record(2, "append", ("k", False, b"x")))
    with pytest.raises(CorruptDataError) as refused:
        Store.open(directory)
    assert (refused.value.path, refused.value.offset) == (str(segment), offset)
    assert read_directory(directory).refused is not None


def test_appends_replay_after_reopen_and_the_format_reader_agrees(tmp_path, clock):
    directory = tmp_path / "data"
    with Store.open(directory, clock=clock) as store:
        store.set("timed", b"t", ttl=100)
        for part in (b"a", b"b", b"c"):
            store.append("log", part)
            store.append("timed", part)
        expected = store.dump()
    with Store.open(directory, clock=clock) as again:
        assert again.dump() == expected
        assert again.get("log") == b"abc" and again.get("timed") == b"tabc"
    reading = read_directory(directory)
    assert reading.stop is None and reading.refused is None
    assert reading.view(clock()) == expected


def test_an_append_to_a_large_string_allocates_about_the_suffix_not_the_whole_value(open_store):
    store = open_store()
    store.set("big", b"x" * 2**20)
    store.append("big", b"first")  # the first append to a set string copies it once
    tracemalloc.start()
    try:
        started = tracemalloc.get_traced_memory()[0]
        tracemalloc.reset_peak()
        store.append("big", b"y" * 100)
        peak = tracemalloc.get_traced_memory()[1] - started
    finally:
        tracemalloc.stop()
    assert peak < 2**16, f"one 100-byte append to a 1 MiB string allocated {peak:,} bytes at its peak"
    assert store.get("big") == b"x" * 2**20 + b"first" + b"y" * 100


def test_a_grown_string_reads_as_bytes_everywhere_a_string_does(open_store, tmp_path, clock):
    store = open_store()
    store.set("k", b"ab", ttl=100)
    store.append("k", b"c")
    store.append("k", b"d")
    value = store.get("k")
    assert type(value) is bytes and value == b"abcd"
    assert store.dump()["k"] == ("string", b"abcd", clock() + 100) and type(store.dump()["k"][1]) is bytes
    assert store.type("k") == "string" and store.exists("k") and store.ttl("k") == 100
    with pytest.raises(WrongTypeError, match="holds a string"):
        store.rpush("k", b"x")
    with pytest.raises(WrongTypeError, match="holds a string"):
        store.llen("k")


def test_a_snapshot_holds_a_string_as_of_its_lsn_while_appends_grow_it_during_encoding(tmp_path, clock):
    io = IOLayer()
    with Store.open(tmp_path / "data", clock=clock, io=io) as store:
        store.append("k", b"ab")
        store.append("k", b"c")

        def append_meanwhile(event):  # after the keyspace copy, outside the write lock
            if event.label == "snapshot.create" and event.phase == "before":
                store.append("k", b"d")

        io.hooks.append(append_meanwhile)
        store.snapshot()
        io.hooks.remove(append_meanwhile)
    with Store.open(tmp_path / "data", clock=clock) as reopened:  # snapshot abc + the logged "d"
        assert reopened.get("k") == b"abcd"


def test_two_strings_grown_from_one_keep_their_own_bytes():
    start = Appended.of(b"ab")
    first, second = start.grown(b"cd"), start.grown(b"XY")
    assert (bytes(start), first.read(), second.read()) == (b"ab", b"abcd", b"abXY")
    assert (len(start), len(first), len(second)) == (2, 4, 4)


def test_a_reader_racing_appends_sees_each_value_whole_and_never_one_older_than_acked(tmp_path):
    parts = [b"%04d," % n for n in range(300)]
    whole, sizes = b"".join(parts), [len(b"".join(parts[:n])) for n in range(len(parts) + 1)]
    acked, states, wrong, done = [0], set(), [], threading.Event()
    with Store.open(tmp_path / "data") as store:  # a real disk: each fsync lets the reader run

        def reader() -> None:
            while not done.is_set() and not wrong:
                before = acked[0]  # appends acked before this read began
                value = store.get("hot") or b""
                states.add(before)
                if not whole.startswith(value) or len(value) < sizes[before]:
                    wrong.append((before, value))

        thread = threading.Thread(target=reader)
        thread.start()
        try:
            for n, part in enumerate(parts, 1):
                store.append("hot", part)
                acked[0] = n
        finally:
            done.set()
            thread.join()
    assert not wrong, f"a read after {wrong[0][0]} acked appends saw {wrong[0][1][-20:]!r}: torn or older"
    assert len(states) > 100, f"the reader ran between only {len(states)} of the {len(parts)} appends"
