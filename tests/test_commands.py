"""Every command of docs/COMMANDS.md, its results and its refusals."""

import math

import pytest

from tornwrite.engine import InvalidKeyError, InvalidValueError, StoreClosedError, WrongTypeError


def test_set_then_get_returns_the_bytes(store):
    store.set("k", b"v")
    assert store.get("k") == b"v"


def test_get_of_absent_key_is_none(store):
    assert store.get("nope") is None


def test_set_accepts_bytearray_and_memoryview_and_stores_a_copy(store):
    buffer = bytearray(b"abc")
    store.set("a", buffer)
    store.set("m", memoryview(b"xyz"))
    buffer[0] = ord("z")
    assert store.get("a") == b"abc" and store.get("m") == b"xyz"


@pytest.mark.parametrize("value", ["text", 1, None, 1.5, ["b"], {"a": b"b"}])
def test_non_bytes_values_raise_invalid_value_naming_the_type(store, value):
    with pytest.raises(InvalidValueError, match=type(value).__name__):
        store.set("k", value)
    assert store.dbsize() == 0


@pytest.mark.parametrize("key", [1, None, b"\xff\xfe", "\ud800", bytearray(b"k"), ("k",)])
def test_invalid_keys_raise_invalid_key(store, key):
    with pytest.raises(InvalidKeyError):
        store.set(key, b"v")
    with pytest.raises(InvalidKeyError):
        store.get(key)


def test_utf8_bytes_keys_are_the_same_key_as_their_str(store):
    store.set("ключ".encode(), b"v")
    assert store.get("ключ") == b"v"
    assert store.keys() == ["ключ"]


def test_empty_key_and_empty_value_are_valid(store):
    store.set("", b"")
    assert store.get("") == b""


def test_delete_counts_live_keys_once(store):
    store.set("a", b"1")
    store.rpush("b", b"x")
    assert store.delete("a", "b", "a", "missing") == 2
    assert store.dbsize() == 0
    assert store.delete() == 0


def test_exists_and_type(store):
    store.set("s", b"1")
    store.rpush("l", b"1")
    store.hset("h", {"f": b"1"})
    assert [store.type(k) for k in ("s", "l", "h", "x")] == ["string", "list", "hash", None]
    assert store.exists("s") and not store.exists("x")


def test_set_overwrites_any_kind(store):
    store.rpush("k", b"1")
    store.set("k", b"s")
    assert store.type("k") == "string"


def test_rpush_returns_new_length_and_appends_in_order(store):
    assert store.rpush("l", b"a", b"b") == 2
    assert store.rpush("l", b"c") == 3
    assert store.lrange("l", 0, -1) == [b"a", b"b", b"c"]
    assert store.llen("l") == 3 and store.llen("missing") == 0


def test_rpush_without_values_is_refused(store):
    with pytest.raises(InvalidValueError):
        store.rpush("l")


@pytest.mark.parametrize("start", range(-7, 7))
@pytest.mark.parametrize("stop", range(-7, 7))
def test_lrange_follows_redis_index_rules(store, start, stop):
    items = [bytes([c]) for c in b"abcde"]
    store.rpush("l", *items)
    # Reference: Redis's LRANGE (t_list.c) in a few lines.
    n = len(items)
    s = start + n if start < 0 else start
    e = stop + n if stop < 0 else stop
    s = max(s, 0)
    expected = [] if s > e or s >= n else items[s : min(e, n - 1) + 1]
    assert store.lrange("l", start, stop) == expected


def test_lindex_counts_negative_from_the_end(store):
    store.rpush("l", b"a", b"b", b"c")
    assert [store.lindex("l", i) for i in (0, 2, 3, -1, -3, -4)] == [b"a", b"c", None, b"c", b"a", None]
    assert store.lindex("missing", 0) is None


@pytest.mark.parametrize("index", [1.0, "1", None, True])
def test_list_indexes_must_be_int(store, index):
    with pytest.raises(InvalidValueError):
        store.lrange("l", index, 1)
    with pytest.raises(InvalidValueError):
        store.lindex("l", index)


def test_hset_counts_new_fields_and_hgetall_returns_a_copy(store):
    assert store.hset("h", {"a": b"1", "b": b"2"}) == 2
    assert store.hset("h", {"b": b"3", "c": b"4"}) == 1
    everything = store.hgetall("h")
    assert everything == {"a": b"1", "b": b"3", "c": b"4"}
    everything["a"] = b"changed"
    assert store.hget("h", "a") == b"1"
    assert store.hlen("h") == 3 and store.hexists("h", "c") and not store.hexists("h", "z")
    assert store.hgetall("missing") == {} and store.hget("missing", "f") is None


def test_hset_refuses_an_empty_mapping_and_non_mappings(store):
    with pytest.raises(InvalidValueError):
        store.hset("h", {})
    with pytest.raises(InvalidValueError):
        store.hset("h", [("f", b"v")])


def test_hset_field_rules_are_key_rules(store):
    with pytest.raises(InvalidKeyError):
        store.hset("h", {1: b"v"})
    with pytest.raises(InvalidValueError):
        store.hset("h", {"f": "not bytes"})
    assert store.exists("h") is False


def test_hdel_counts_removed_fields_and_removes_an_emptied_hash(store, clock):
    store.hset("h", {"a": b"1", "b": b"2"})
    store.expire("h", 100)
    assert store.hdel("h", "a", "a", "zz") == 1
    assert store.hdel("h", "b") == 1
    assert not store.exists("h")
    store.hset("h", {"a": b"1"})
    assert store.ttl("h") == -1  # the re-created hash did not inherit the old TTL


def test_hdel_without_fields_is_refused(store):
    with pytest.raises(InvalidValueError):
        store.hdel("h")


@pytest.mark.parametrize(
    "write",
    [
        lambda s: s.rpush("k", b"x"),
        lambda s: s.hset("k", {"f": b"x"}),
        lambda s: s.hdel("k", "f"),
    ],
)
def test_wrong_type_writes_raise_and_write_nothing(store, write):
    store.set("k", b"string")
    lsn_before = store.snapshot()
    with pytest.raises(WrongTypeError):
        write(store)
    assert store.get("k") == b"string"
    assert store.snapshot() == lsn_before  # no record was written


def test_wrong_type_reads(store):
    store.rpush("l", b"x")
    store.hset("h", {"f": b"v"})
    store.set("s", b"v")
    for read in (
        lambda: store.get("l"),
        lambda: store.get("h"),
        lambda: store.lrange("s", 0, 1),
        lambda: store.llen("h"),
        lambda: store.lindex("s", 0),
        lambda: store.hget("l", "f"),
        lambda: store.hgetall("s"),
        lambda: store.hlen("l"),
        lambda: store.hexists("s", "f"),
    ):
        with pytest.raises(WrongTypeError):
            read()


def test_keys_are_sorted_and_dbsize_counts_them(store):
    for key in ("b", "a", "c"):
        store.set(key, b"v")
    assert store.keys() == ["a", "b", "c"] and store.dbsize() == 3


def test_flushall_removes_everything(store):
    store.set("a", b"1")
    store.hset("h", {"f": b"v"})
    store.flushall()
    assert store.dbsize() == 0 and store.keys() == []


def test_dump_is_the_logical_state(store, clock):
    store.set("s", b"v", ttl=10)
    store.rpush("l", b"a")
    store.hset("h", {"f": b"v"})
    assert store.dump() == {
        "s": ("string", b"v", clock.now + 10),
        "l": ("list", [b"a"], None),
        "h": ("hash", {"f": b"v"}, None),
    }


@pytest.mark.parametrize("bad", [math.nan, math.inf, -math.inf, True, "5", 0, -1])
def test_set_ttl_must_be_a_positive_finite_number(store, bad):
    with pytest.raises(InvalidValueError):
        store.set("k", b"v", ttl=bad)
    assert not store.exists("k")


def test_set_with_ttl_and_expire_at_is_refused(store, clock):
    with pytest.raises(InvalidValueError):
        store.set("k", b"v", ttl=1, expire_at=clock.now + 5)


@pytest.mark.parametrize("bad", [math.nan, math.inf, -math.inf, 10**400, True, "5", None])
def test_expire_needs_a_finite_number(store, bad):
    store.set("k", b"v")
    with pytest.raises(InvalidValueError):
        store.expire("k", bad)
    with pytest.raises(InvalidValueError):
        store.expire_at("k", bad)
    assert store.ttl("k") == -1


def test_every_command_after_close_raises_store_closed(store):
    store.set("k", b"v")
    store.close()
    for call in (
        lambda: store.get("k"),
        lambda: store.set("k", b"v"),
        lambda: store.keys(),
        lambda: store.hgetall("k"),
        lambda: store.snapshot(),
        lambda: store.flushall(),
    ):
        with pytest.raises(StoreClosedError):
            call()
    store.close()  # idempotent
