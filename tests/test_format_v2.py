"""Format version 2 (docs/FORMAT.md, "Versions"): values as UTF-8 text or base64, no value
costing more than its base64 form; files of version 1 still read, alone or mixed with version 2
files in one directory, by the engine and the independent format reader alike, whole or damaged.

Version 1 files here are written by this module from FORMAT.md's version 1 rules (a value is
the JSON string of its Latin-1 decoding), never by the engine, which writes only version 2.
"""

from __future__ import annotations

import json
import os
import random
import zlib
from functools import cache

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tornwrite.engine import CorruptDataError, IOLayer, Store
from tornwrite.engine.codec import decode_entry, decode_record, encode_entry, encode_record
from tornwrite.engine.format import FORMAT_VERSION, wal_header
from tornwrite.engine.keyspace import Keyspace
from tornwrite.faultinject.core.execution import DATA_DIR, FakeClock
from tornwrite.faultinject.core.simdisk import SimDisk
from tornwrite.models.format_reader import read_directory, read_files

NOW = 1_700_000_000.0
LATER = NOW + 10_000.0  # a TTL that never runs out while the tests look


def _seeded(name: str) -> random.Random:
    return random.Random(f"test_format_v2/{name}")


# Values of every class a disk cost or a decoder cares about, 300 bytes each.
VALUE_CLASSES = {
    "empty": b"",
    "ascii": b"plain ASCII text, readable as it is" * 8,
    "utf8 latin": "café crème brûlée ".encode() * 16,
    "utf8 japanese": "日本語のテキスト".encode() * 12,
    "utf8 emoji": "\U0001f600 ok ".encode() * 40,
    "random bytes": _seeded("random").randbytes(300),
    "control bytes": bytes(_seeded("control").randrange(32) for _ in range(300)),
    "quotes and backslashes": b'"\\' * 150,
    "latin-1 high bytes": bytes(range(0x80, 0x100)) * 2,
    "utf8 cut mid-character": "日本語".encode()[:-1],
    "nul only": b"\0" * 300,
}
values = st.binary(max_size=300) | st.sampled_from(list(VALUE_CLASSES.values()))


# --- version 1, written by hand from FORMAT.md ----------------------------------------------------


def _v1_json(thing: object) -> object:
    """A record's or entry's parts in version 1's JSON: bytes become their Latin-1 string."""
    if isinstance(thing, bytes):
        return thing.decode("latin-1")
    if isinstance(thing, (list, tuple)):
        return [_v1_json(item) for item in thing]
    if isinstance(thing, dict):
        return {name: _v1_json(item) for name, item in thing.items()}
    return thing


def _framed(body: bytes) -> bytes:
    return b"%08x %s\n" % (zlib.crc32(body), body)


def _compact(thing: object) -> bytes:
    return json.dumps(thing, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def v1_record(lsn: int, op: str, args: tuple) -> bytes:
    """A version 1 record line for the engine's (op, args); `del` names its keys flat."""
    layout = list(args[0]) if op == "del" else args
    return _framed(b"%d %s %s" % (lsn, op.encode(), _compact(_v1_json(layout))))


def v1_segment(first_lsn: int, records: list[tuple[int, str, tuple]]) -> bytes:
    return b"REDISLITE-WAL 1 %d\n" % first_lsn + b"".join(v1_record(*record) for record in records)


def v1_snapshot(lsn: int, entries: list[tuple[str, object, object]]) -> bytes:
    """A version 1 snapshot of (key, value, expire_at), keys in order."""
    kinds: dict[type, str] = {bytes: "string", list: "list", dict: "hash"}
    body = b"REDISLITE-SNAPSHOT 1 %d\n" % lsn + b"".join(
        _framed(_compact([key, kinds[type(value)], _v1_json(value), expire_at])) for key, value, expire_at in entries
    )
    return body + b"END %d %08x\n" % (len(entries), zlib.crc32(body))


def to_v1(files: dict[str, bytes]) -> dict[str, bytes]:
    """The same directory as a version 1 engine would have written it: each line transcoded, and
    each `append` record (version 3 on) the `set` of the whole value that engine logged instead."""
    out = {}
    state = Keyspace()  # what the records apply to, so an append's whole value is known
    snapshot_lsn = 0
    for name, data in sorted(files.items(), key=lambda item: not item[0].startswith("snapshot-")):
        lines = data.splitlines(keepends=True)
        lsn = int(lines[0].split()[2]) if lines else 0
        if name.startswith("wal-"):
            assert lsn > snapshot_lsn, "a segment the snapshot covers would be replayed twice here"
            records = []
            for line in lines[1:]:
                record_lsn, op, args = decode_record(line, FORMAT_VERSION)
                state.replay(op, args)
                if op == "append":
                    op, args = "set", (args[0], *state.data[args[0]])
                records.append((record_lsn, op, args))
            out[name] = v1_segment(lsn, records)
        elif name.startswith("snapshot-"):
            entries: list[tuple[str, object, object]] = [decode_entry(line, FORMAT_VERSION) for line in lines[1:-1]]
            state.data.update({key: (value, expire_at) for key, value, expire_at in entries})  # type: ignore[misc]
            snapshot_lsn = lsn
            out[name] = v1_snapshot(lsn, entries)
        else:
            out[name] = data
    return out


# --- round trips ----------------------------------------------------------------------------------


@pytest.mark.parametrize("name", VALUE_CLASSES)
def test_every_value_class_round_trips_through_records_and_entries_in_version_2(name):
    value = VALUE_CLASSES[name]
    for op, args in [
        ("set", ("k", value, None)),
        ("rpush", ("k", True, [value, b"x", value])),
        ("hset", ("k", False, {"f": value, "g": b"y"})),
    ]:
        assert decode_record(encode_record(9, op, args)) == (9, op, args)
    for stored in (value, [value, b"x"], {"f": value}):
        assert decode_entry(encode_entry("k", stored, LATER)) == ("k", stored, LATER)


@pytest.mark.parametrize("name", VALUE_CLASSES)
def test_every_value_class_round_trips_from_version_1_lines(name):
    value = VALUE_CLASSES[name]
    for op, args in [
        ("set", ("k", value, None)),
        ("rpush", ("k", True, [value, b"x"])),
        ("hset", ("k", False, {"f": value})),
    ]:
        assert decode_record(v1_record(9, op, args), 1) == (9, op, args)
    snapshot = v1_snapshot(1, [("k", value, None)])
    assert decode_entry(snapshot.splitlines(keepends=True)[1], 1) == ("k", value, None)


@given(value=values)
def test_any_value_round_trips_in_both_versions_and_the_format_reader_agrees(value):
    state = {"k": ("string", value, None)}
    for version, line in (
        (2, encode_record(1, "set", ("k", value, None))),
        (1, v1_record(1, "set", ("k", value, None))),
    ):
        assert decode_record(line, version) == (1, "set", ("k", value, None))
        reading = read_files({"wal-00000000000000000001.log": b"REDISLITE-WAL %d 1\n" % version + line})
        assert reading.stop is None and reading.refused is None and reading.view(NOW) == state


def test_utf8_values_are_written_as_readable_text_and_others_as_base64():
    assert b'["k","caf\xc3\xa9 \xe6\x97\xa5\xe6\x9c\xac",null]' in encode_record(
        1, "set", ("k", "café 日本".encode(), None)
    )
    assert b'["k",{"b64":"/wA="},null]' in encode_record(1, "set", ("k", b"\xff\x00", None))
    # Valid UTF-8 whose escapes would cost more than base64 goes base64 too.
    assert b'{"b64":"AQEBAQEB"}' in encode_record(1, "set", ("k", b"\x01" * 6, None))


def test_the_same_line_means_different_bytes_in_each_version():
    line = _framed('1 set ["k","é",null]'.encode())
    assert decode_record(line, 1)[2][1] == b"\xe9"
    assert decode_record(line, 2)[2][1] == b"\xc3\xa9"


# --- the cost -------------------------------------------------------------------------------------


@given(value=values)
def test_no_value_costs_more_on_disk_than_its_base64_form(value):
    base64_form = 4 * ((len(value) + 2) // 3) + len('{"b64":""}')
    empty = len(encode_record(1, "set", ("k", b"", None))) - len('""')
    assert len(encode_record(1, "set", ("k", value, None))) - empty <= base64_form
    empty = len(encode_entry("k", b"", None)) - len('""')
    assert len(encode_entry("k", value, None)) - empty <= base64_form


@pytest.mark.parametrize(
    "name", ["random bytes", "control bytes", "quotes and backslashes", "nul only", "utf8 japanese"]
)
def test_worst_case_files_hold_under_one_and_a_half_bytes_per_value_byte(tmp_path, name):
    rng = _seeded(name)
    make = {
        "random bytes": lambda: rng.randbytes(4096),
        "control bytes": lambda: bytes(rng.randrange(32) for _ in range(4096)),
        "quotes and backslashes": lambda: bytes(rng.choice(b'"\\') for _ in range(4096)),
        "nul only": lambda: b"\0" * 4096,
        "utf8 japanese": lambda: "".join(chr(rng.randrange(0x4E00, 0x4F00)) for _ in range(1365)).encode(),
    }[name]
    stored = [make() for _ in range(16)]
    with Store.open(tmp_path / "d", clock=FakeClock(NOW)) as store:
        for i, value in enumerate(stored):
            store.set(f"key-{i}", value)
        wal_bytes = (tmp_path / "d" / f"wal-{1:020d}.log").stat().st_size
        lsn = store.snapshot()
    snapshot_bytes = (tmp_path / "d" / f"snapshot-{lsn:020d}.snap").stat().st_size
    value_bytes = sum(map(len, stored))
    assert wal_bytes < 1.5 * value_bytes and snapshot_bytes < 1.5 * value_bytes


# --- version 1 directories ------------------------------------------------------------------------

# A version 1 directory written byte for byte from FORMAT.md: a snapshot at LSN 2, then a segment.
V1_LITERAL = {
    "snapshot-00000000000000000002.snap": v1_snapshot(2, [("a", b"caf\xc3\xa9", None), ("b", [b"\x00\xff"], LATER)]),
    "wal-00000000000000000003.log": b"REDISLITE-WAL 1 3\n"
    + _framed(b'3 set ["c","\\u0001\xc3\xbf\\"",null]')
    + _framed(b'4 hset ["h",true,{"f":"caf\xc3\x83\xc2\xa9"}]')
    + _framed(b'5 rpush ["b",false,["\xc3\xa9"]]'),
}
V1_LITERAL_STATE = {
    "a": ("string", b"caf\xc3\xa9", None),
    "b": ("list", [b"\x00\xff", b"\xe9"], LATER),
    "c": ("string", b'\x01\xff"', None),
    "h": ("hash", {"f": b"caf\xc3\xa9"}, None),
}


def _write(directory, files: dict[str, bytes]) -> None:
    directory.mkdir()
    for name, data in files.items():
        (directory / name).write_bytes(data)


def _files(directory) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in directory.iterdir() if p.is_file() and p.name != "LOCK"}


def test_a_version_1_directory_recovers_in_the_engine_and_the_format_reader_alike(tmp_path):
    _write(tmp_path / "d", V1_LITERAL)
    reading = read_directory(tmp_path / "d")
    assert reading.refused is None and reading.stop is None and reading.view(NOW) == V1_LITERAL_STATE
    with Store.open(tmp_path / "d", clock=FakeClock(NOW)) as store:
        assert store.dump() == V1_LITERAL_STATE
        assert store.recovery.discarded == ()


def test_new_records_after_a_version_1_segment_go_to_a_new_version_2_segment(tmp_path):
    _write(tmp_path / "d", V1_LITERAL)
    with Store.open(tmp_path / "d", clock=FakeClock(NOW)) as store:
        store.set("z", b"\xff\xfe")
    files = _files(tmp_path / "d")
    assert files["wal-00000000000000000003.log"] == V1_LITERAL["wal-00000000000000000003.log"]  # never appended to
    assert files["wal-00000000000000000006.log"].startswith(wal_header(6))
    assert b'{"b64":"//4="}' in files["wal-00000000000000000006.log"]
    expected = {**V1_LITERAL_STATE, "z": ("string", b"\xff\xfe", None)}
    assert read_directory(tmp_path / "d").view(NOW) == expected
    with Store.open(tmp_path / "d", clock=FakeClock(NOW)) as store:
        assert store.dump() == expected


def test_a_torn_version_1_tail_is_cut_before_the_new_segment_starts(tmp_path):
    torn = dict(V1_LITERAL)
    torn["wal-00000000000000000003.log"] += _framed(b'6 set ["t","v",null]')[:-5]
    _write(tmp_path / "d", torn)
    with Store.open(tmp_path / "d", clock=FakeClock(NOW)) as store:
        store.set("z", b"1")
    files = _files(tmp_path / "d")
    assert files["wal-00000000000000000003.log"] == V1_LITERAL["wal-00000000000000000003.log"]
    assert files["wal-00000000000000000006.log"].startswith(wal_header(6))
    with Store.open(tmp_path / "d", clock=FakeClock(NOW)) as store:
        assert store.dump() == {**V1_LITERAL_STATE, "z": ("string", b"1", None)}


def test_an_empty_version_1_segment_is_replaced_by_a_version_2_one(tmp_path):
    files = {**V1_LITERAL, "wal-00000000000000000006.log": b"REDISLITE-WAL 1 6\n"}
    _write(tmp_path / "d", files)
    with Store.open(tmp_path / "d", clock=FakeClock(NOW)) as store:
        store.set("z", b"1")
    after = _files(tmp_path / "d")
    assert after["wal-00000000000000000006.log"].startswith(wal_header(6))
    assert read_directory(tmp_path / "d").view(NOW) == {**V1_LITERAL_STATE, "z": ("string", b"1", None)}


def test_a_torn_version_1_header_is_crash_damage_not_a_refusal(tmp_path):
    files = {**V1_LITERAL, "wal-00000000000000000006.log": b"REDISLITE-WAL 1"}
    _write(tmp_path / "d", files)
    reading = read_directory(tmp_path / "d")
    assert reading.refused is None and reading.stop is not None and reading.view(NOW) == V1_LITERAL_STATE
    with Store.open(tmp_path / "d", clock=FakeClock(NOW)) as store:
        assert store.dump() == V1_LITERAL_STATE


def test_a_version_2_value_in_a_version_1_file_is_a_bad_line(tmp_path):
    files = dict(V1_LITERAL)
    files["wal-00000000000000000003.log"] += _framed(b'6 set ["t",{"b64":"AA=="},null]')
    _write(tmp_path / "d", files)
    reading = read_directory(tmp_path / "d")
    assert reading.stop is not None and reading.view(NOW) == V1_LITERAL_STATE
    with Store.open(tmp_path / "d", clock=FakeClock(NOW)) as store:
        assert store.dump() == V1_LITERAL_STATE
        assert [stretch.records for stretch in store.recovery.discarded] == [1]


# --- whole runs, on the simulated disk: version 2, version 1, and both mixed ----------------------


def _write_one(store: Store, rng: random.Random) -> None:
    """One write, of any op and value class the key's kind allows."""
    value = VALUE_CLASSES[rng.choice(list(VALUE_CLASSES))]
    key = f"k{rng.randrange(6)}"
    kind = store.dump().get(key, ("none",))[0]
    choice = rng.randrange(9)
    if choice == 0 or (kind == "none" and choice % 3 == 0):  # a set replaces a value of any kind
        store.set(key, value, expire_at=rng.choice([None, LATER]))
    elif kind == "none":
        if choice % 3 == 1:
            store.rpush(key, value)
        else:
            store.hset(key, {"f0": value, "g": b"\xff"})
    elif kind == "string":
        if choice % 3 == 0:
            store.append(key, value)
        elif choice % 3 == 1:
            store.delete(key)
        else:
            store.expire_at(key, LATER)
    elif kind == "list":
        if choice % 3 == 0:
            store.rpush(key, value, b"x")
        elif choice % 3 == 1:
            store.persist(key)
        else:
            store.delete(key)
    else:
        field = f"f{rng.randrange(3)}"
        if choice % 2 and field in store.dump()[key][1]:
            store.hdel(key, field)
        else:
            store.hset(key, {field: value})


def _run(image: dict | None, seed: str, count: int, snapshot_after: int | None) -> tuple[dict, list[dict]]:
    """(image after the run, the state after each write, the opening state first)."""
    disk = SimDisk.from_image(image) if image else SimDisk()
    store = Store.open(DATA_DIR, io=IOLayer(disk), clock=FakeClock(NOW))
    states = [store.dump()]
    rng = _seeded(seed)
    for step in range(count):
        _write_one(store, rng)
        states.append(store.dump())
        if step + 1 == snapshot_after:
            store.snapshot()
    store.close()
    return disk.process_crash_image(), states


@cache
def directories() -> dict[str, tuple[dict[str, bytes], list[dict]]]:
    """name -> (files, every state a prefix of its writes had)."""
    image, states = _run(None, "first", 30, snapshot_after=12)
    v3 = {n: c for n, c in image[DATA_DIR].items() if n != "LOCK"}
    v1 = to_v1(v3)
    mixed_image, more = _run({DATA_DIR: dict(v1)}, "second", 20, snapshot_after=None)
    assert more[0] == states[-1]  # the engine read the version 1 files to the same state
    mixed = {n: c for n, c in mixed_image[DATA_DIR].items() if n != "LOCK"}
    return {"v3": (v3, states), "v1": (v1, states), "mixed": (mixed, states + more[1:])}


def test_the_generated_directories_hold_the_versions_they_are_named_for():
    versions = {
        name: sorted({data.split(b" ", 2)[1] for data in files.values()}) for name, (files, _) in directories().items()
    }
    assert versions == {"v3": [b"3"], "v1": [b"1"], "mixed": [b"1", b"3"]}
    mixed = directories()["mixed"][0]
    assert {n for n, data in mixed.items() if data.startswith(b"REDISLITE-WAL 1 ")}  # a version 1 segment still read


@pytest.mark.parametrize("name", ["v3", "v1", "mixed"])
def test_whole_directories_of_each_version_recover_to_their_last_state(name):
    files, states = directories()[name]
    verdict = _judge(files, states)
    assert verdict == states[-1]


def _judge(files: dict[str, bytes], states: list[dict]) -> dict | None:
    """The engine's recovered state (None if it refused), after checking it against the format
    reader and the states the writes went through."""
    reading = read_files(files)
    disk = SimDisk.from_image({DATA_DIR: dict(files)})
    try:
        store = Store.open(DATA_DIR, io=IOLayer(disk), clock=FakeClock(NOW))
    except CorruptDataError as refused:
        assert refused.path is not None, f"refused without naming a file: {refused}"
        assert reading.refused is not None, f"refused what the format reader recovers: {refused}"
        assert os.path.basename(refused.path) in reading.refused, (str(refused), reading.refused)
        return None
    try:
        state = store.dump()
    finally:
        store.close()
    assert reading.refused is None, f"recovered what the format reader refuses: {reading.refused}"
    assert reading.view(NOW) == state, "the engine and the format reader disagree"
    assert state in states, "a state no prefix of the writes had"
    return state


@st.composite
def damaged(draw, name: str):
    files, states = directories()[name]
    target = draw(st.sampled_from(sorted(files)))
    data = bytearray(files[target])
    at = draw(st.integers(0, len(data) - 1))
    how = draw(st.sampled_from(["flip", "truncate", "duplicate", "zero", "insert", "splice"]))
    span = draw(st.integers(1, 48))
    if how == "flip":
        data[at] ^= draw(st.integers(1, 255))
    elif how == "truncate":
        del data[at:]
    elif how == "duplicate":
        data[at:at] = data[at : at + span]
    elif how == "zero":
        data[at : at + span] = bytes(len(data[at : at + span]))
    elif how == "insert":
        data[at:at] = draw(st.binary(min_size=1, max_size=span))
    else:  # a whole line from another file of the directory, checksum and all
        donor = files[draw(st.sampled_from(sorted(files)))].splitlines(keepends=True)
        data[at:at] = donor[draw(st.integers(0, len(donor) - 1))]
    return {**files, target: bytes(data)}, states, f"{how} at {at} of {target}"


@pytest.mark.parametrize("name", ["v3", "v1", "mixed"])
@settings(max_examples=150, deadline=None)
@given(data=st.data())
def test_damaged_files_of_either_version_are_refused_by_name_or_recover_to_a_prefix(name, data):
    files, states, what = data.draw(damaged(name), label="damage")
    try:
        _judge(files, states)
    except AssertionError as error:
        raise AssertionError(f"{what}: {error}") from None
