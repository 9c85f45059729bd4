"""The op model against docs/COMMANDS.md, rule by rule."""

import copy
import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tornwrite.models.opmodel import (
    ANY,
    Refusal,
    apply,
    describe_result,
    is_expired,
    run,
    same_result,
    state_after,
    view,
)
from tornwrite.models.ops import Op

NOW = 1_700_000_000.0


def do(state, name, *args, now=NOW, **kwargs):
    return apply(state, Op.of(name, *args, **kwargs), now)


def result(state, name, *args, now=NOW, **kwargs):
    return do(state, name, *args, now=now, **kwargs)[1]


def build(*ops, now=NOW):
    state = {}
    for op in ops:
        state, outcome = apply(state, op, now)
        assert not isinstance(outcome, Refusal), (op, outcome)
    return state


S, L, H = "s", "l", "h"
MIXED = build(Op.of("set", S, b"v"), Op.of("rpush", L, b"a", b"b", b"c"), Op.of("hset", H, {"f": b"1"}))


# ---- refusals, table-driven ----

BAD_KEYS = [1, None, bytearray(b"k"), "\ud800", b"\xff", 1.5, ("k",)]

KEYED_OPS = [  # (name, args after the key) for every command that takes a key
    ("set", (b"v",)),
    ("get", ()),
    ("exists", ()),
    ("rpush", (b"v",)),
    ("lrange", (0, -1)),
    ("llen", ()),
    ("lindex", (0,)),
    ("hset", ({"f": b"v"},)),
    ("hget", ("f",)),
    ("hdel", ("f",)),
    ("hgetall", ()),
    ("hlen", ()),
    ("hexists", ("f",)),
    ("expire", (10,)),
    ("expire_at", (NOW + 10,)),
    ("persist", ()),
    ("ttl", ()),
    ("type", ()),
]


@pytest.mark.parametrize("name,rest", KEYED_OPS)
@pytest.mark.parametrize("bad_key", BAD_KEYS, ids=repr)
def test_every_keyed_command_refuses_an_invalid_key(name, rest, bad_key):
    assert do(MIXED, name, bad_key, *rest) == (MIXED, Refusal("InvalidKeyError"))


@pytest.mark.parametrize("bad_key", BAD_KEYS, ids=repr)
def test_delete_refuses_an_invalid_key_anywhere_in_its_arguments(bad_key):
    assert do(MIXED, "delete", S, bad_key) == (MIXED, Refusal("InvalidKeyError"))


@pytest.mark.parametrize(
    "name,args",
    [
        ("hset", (H, {b"\xff": b"v"})),
        ("hget", (H, 3)),
        ("hdel", (H, "f", None)),
        ("hexists", (H, "\udfff")),
    ],
)
def test_hash_fields_obey_the_key_rules(name, args):
    assert result(MIXED, name, *args) == Refusal("InvalidKeyError")


INVALID_VALUE_CASES = [
    ("set", ("k", "text"), {}),
    ("set", ("k", 5), {}),
    ("set", ("k", None), {}),
    ("rpush", ("k", b"ok", "text"), {}),
    ("hset", ("k", {"f": "text"}), {}),
    ("set", ("k", b"v"), {"ttl": True}),
    ("set", ("k", b"v"), {"ttl": math.nan}),
    ("set", ("k", b"v"), {"ttl": math.inf}),
    ("set", ("k", b"v"), {"ttl": 0}),
    ("set", ("k", b"v"), {"ttl": -1.5}),
    ("set", ("k", b"v"), {"ttl": "10"}),
    ("set", ("k", b"v"), {"expire_at": math.nan}),
    ("set", ("k", b"v"), {"expire_at": -math.inf}),
    ("set", ("k", b"v"), {"expire_at": False}),
    ("set", ("k", b"v"), {"ttl": 1, "expire_at": NOW + 5}),
    ("rpush", ("k",), {}),
    ("hdel", ("k",), {}),
    ("hset", ("k", {}), {}),
    ("hset", ("k", [("f", b"v")]), {}),
    ("hset", ("k", None), {}),
    ("lrange", (L, 0.0, 1), {}),
    ("lrange", (L, 0, True), {}),
    ("lindex", (L, False), {}),
    ("lindex", (L, "0"), {}),
    ("expire", (S, math.nan), {}),
    ("expire", (S, True), {}),
    ("expire", (S, math.inf), {}),
    ("expire_at", (S, math.inf), {}),
    ("expire_at", (S, None), {}),
    ("set", ("k", b"v"), {"ttl": 10**400}),
]


@pytest.mark.parametrize("name,args,kwargs", INVALID_VALUE_CASES, ids=lambda case: repr(case))
def test_invalid_values_numbers_and_arity_are_invalid_value_errors(name, args, kwargs):
    assert do(MIXED, name, *args, **kwargs) == (MIXED, Refusal("InvalidValueError"))


@pytest.mark.parametrize(
    "name,args,kwargs",
    [
        ("get", (), {}),
        ("get", (S, S), {}),
        ("set", ("k", b"v"), {"px": 5}),
        ("keys", ("x",), {}),
        ("snapshot", (1,), {}),
        ("hset", ("k",), {"mapping": {"f": b"v"}, "extra": 1}),
    ],
    ids=repr,
)
def test_calls_that_fit_no_signature_raise_type_error_like_any_python_call(name, args, kwargs):
    with pytest.raises(TypeError):
        do(MIXED, name, *args, **kwargs)


WRONG_TYPE_CASES = [
    ("get", (L,)),
    ("get", (H,)),
    *[
        (name, (key, *rest))
        for key in (S, H)
        for name, rest in [("rpush", (b"x",)), ("lrange", (0, -1)), ("llen", ()), ("lindex", (0,))]
    ],
    *[
        (name, (key, *rest))
        for key in (S, L)
        for name, rest in [
            ("hset", ({"f": b"x"},)),
            ("hget", ("f",)),
            ("hdel", ("f",)),
            ("hgetall", ()),
            ("hlen", ()),
            ("hexists", ("f",)),
        ]
    ],
]


@pytest.mark.parametrize("name,args", WRONG_TYPE_CASES, ids=repr)
def test_commands_on_another_kind_are_wrong_type_errors_and_change_nothing(name, args):
    assert do(MIXED, name, *args) == (MIXED, Refusal("WrongTypeError"))


def test_keys_are_checked_before_values():
    assert result({}, "set", 1, "text") == Refusal("InvalidKeyError")
    assert result({}, "rpush", b"\xff") == Refusal("InvalidKeyError")  # before arity
    assert result({}, "hset", "k", {"ok": "text", 7: b"v"}) == Refusal("InvalidKeyError")


def test_argument_rules_come_before_the_type_check():
    assert result(MIXED, "lrange", S, 0.5, 1) == Refusal("InvalidValueError")
    assert result(MIXED, "rpush", S) == Refusal("InvalidValueError")
    assert result(MIXED, "hget", L, None) == Refusal("InvalidKeyError")


def test_refusal_equality_ignores_the_message():
    assert Refusal("WrongTypeError", "one text") == Refusal("WrongTypeError", "another")
    assert Refusal("WrongTypeError") != Refusal("InvalidKeyError")


def test_unknown_op_and_tick_are_programming_errors():
    with pytest.raises(ValueError):
        apply({}, Op.of("incr", "k"), NOW)
    with pytest.raises(ValueError):
        apply({}, Op.of("tick", 1), NOW)


# ---- commands ----


def test_set_and_get_round_trip_and_get_of_absent_is_none():
    state = build(Op.of("set", "k", b"v"))
    assert result(state, "get", "k") == b"v"
    assert result(state, "get", "nope") is None


def test_set_replaces_any_kind_and_clears_the_ttl():
    state = build(Op.of("rpush", "k", b"a"), Op.of("expire", "k", 50))
    state, outcome = do(state, "set", "k", b"v")
    assert outcome is None and state["k"] == ("string", b"v", None)
    assert result(state, "ttl", "k") == -1


def test_set_ttl_and_expire_at_give_absolute_expiry():
    assert do({}, "set", "k", b"v", ttl=2.5)[0]["k"] == ("string", b"v", NOW + 2.5)
    assert do({}, "set", "k", b"v", expire_at=NOW + 9)[0]["k"] == ("string", b"v", NOW + 9)
    assert do({}, "set", "k", b"v", ttl=None, expire_at=None)[0]["k"] == ("string", b"v", None)


def test_set_with_expire_at_in_the_past_is_accepted_and_immediately_expired():
    state, outcome = do({}, "set", "k", b"v", expire_at=NOW - 100)
    assert outcome is None
    assert result(state, "exists", "k") is False and view(state, NOW) == {}


def test_bytearray_and_memoryview_values_are_stored_as_bytes_copies():
    buffer = bytearray(b"abc")
    state = build(
        Op.of("set", "k", buffer), Op.of("rpush", "l", memoryview(b"xy")), Op.of("hset", "h", {"f": bytearray(b"z")})
    )
    buffer[0] = ord("Z")
    assert type(state["k"][1]) is bytes and state["k"][1] == b"abc"
    assert result(state, "lrange", "l", 0, -1) == [b"xy"]
    assert type(result(state, "hget", "h", "f")) is bytes


def test_bytes_keys_are_decoded_and_name_the_same_key():
    state = build(Op.of("set", b"caf\xc3\xa9", b"v"))
    assert result(state, "get", "café") == b"v"
    assert result(state, "delete", "café", b"caf\xc3\xa9") == 1
    assert result({}, "hset", "h", {b"f": b"1", "f": b"2"}) == 1
    assert build(Op.of("hset", "h", {b"f": b"1", "f": b"2"}))["h"][1] == {"f": b"2"}


def test_the_empty_string_is_a_valid_key_and_field():
    state = build(Op.of("set", "", b"v"), Op.of("hset", "h", {"": b"x"}))
    assert result(state, "get", "") == b"v" and result(state, "hget", "h", b"") == b"x"


def test_delete_counts_live_keys_once_and_skips_expired_ones():
    state = build(Op.of("set", "a", b"1"), Op.of("set", "b", b"2", ttl=1), Op.of("rpush", "c", b"x"))
    later = NOW + 1
    state, removed = do(state, "delete", "a", "a", "b", "c", "missing", now=later)
    assert removed == 2 and view(state, later) == {}


def test_delete_with_no_keys_returns_zero():
    assert do(MIXED, "delete") == (MIXED, 0)


def test_exists_sees_any_live_kind():
    assert [result(MIXED, "exists", key) for key in (S, L, H, "x")] == [True, True, True, False]


def test_rpush_appends_in_order_and_returns_the_new_length():
    state, length = do(build(Op.of("rpush", "l", b"a")), "rpush", "l", b"b", b"c")
    assert length == 3 and state["l"] == ("list", [b"a", b"b", b"c"], None)


def test_rpush_on_a_live_list_keeps_its_ttl():
    state = build(Op.of("rpush", "l", b"a"), Op.of("expire", "l", 30), Op.of("rpush", "l", b"b"))
    assert state["l"] == ("list", [b"a", b"b"], NOW + 30)


def test_rpush_on_expired_string_makes_new_list_without_ttl():
    state = build(Op.of("set", "k", b"v", ttl=1))
    state, length = do(state, "rpush", "k", b"x", now=NOW + 1)
    assert length == 1 and state["k"] == ("list", [b"x"], None)


def test_hset_on_expired_list_makes_new_hash_without_ttl():
    state = build(Op.of("rpush", "k", b"x"), Op.of("expire", "k", 1))
    state, added = do(state, "hset", "k", {"f": b"v"}, now=NOW + 2)
    assert added == 1 and state["k"] == ("hash", {"f": b"v"}, None)


def test_hset_counts_new_fields_and_keeps_the_ttl_of_a_live_hash():
    state = build(Op.of("hset", "h", {"a": b"1"}), Op.of("expire", "h", 10))
    state, added = do(state, "hset", "h", {"a": b"2", "b": b"3"})
    assert added == 1 and state["h"] == ("hash", {"a": b"2", "b": b"3"}, NOW + 10)


def test_hset_accepts_any_mapping():
    from types import MappingProxyType

    assert result({}, "hset", "h", MappingProxyType({"f": b"v"})) == 1


def test_hash_reads():
    state = build(Op.of("hset", "h", {"a": b"1", "b": b"2"}))
    assert result(state, "hget", "h", "a") == b"1" and result(state, "hget", "h", "z") is None
    assert result(state, "hgetall", "h") == {"a": b"1", "b": b"2"} and result(state, "hlen", "h") == 2
    assert result(state, "hexists", "h", b"b") is True and result(state, "hexists", "h", "z") is False
    assert [
        result({}, name, "h", *rest)
        for name, rest in [("hget", ("f",)), ("hgetall", ()), ("hlen", ()), ("hexists", ("f",))]
    ] == [None, {}, 0, False]


def test_hgetall_returns_a_copy():
    state = build(Op.of("hset", "h", {"a": b"1"}))
    result(state, "hgetall", "h")["a"] = b"changed"
    assert state["h"][1] == {"a": b"1"}


def test_hdel_counts_present_fields_once():
    state = build(Op.of("hset", "h", {"a": b"1", "b": b"2", "c": b"3"}))
    state, removed = do(state, "hdel", "h", "a", b"a", "zz")
    assert removed == 1 and state["h"][1] == {"b": b"2", "c": b"3"}


def test_hdel_removing_the_last_field_removes_the_key_and_its_ttl():
    state = build(Op.of("hset", "h", {"a": b"1"}), Op.of("expire", "h", 60))
    state, removed = do(state, "hdel", "h", "a")
    assert removed == 1 and "h" not in state
    state = build(Op.of("hset", "h", {"a": b"1"}))
    assert state["h"][2] is None and result(state, "ttl", "h") == -1


def test_hdel_of_absent_key_or_fields_changes_nothing():
    assert do(MIXED, "hdel", "nope", "f") == (MIXED, 0)
    assert do(MIXED, "hdel", H, "nope") == (MIXED, 0)


def test_llen_and_lindex():
    assert result(MIXED, "llen", L) == 3 and result({}, "llen", L) == 0
    assert [result(MIXED, "lindex", L, i) for i in (0, 2, 3, -1, -3, -4)] == [b"a", b"c", None, b"c", b"a", None]
    assert result({}, "lindex", L, 0) is None


def reference_lrange(items, start, stop):
    """COMMANDS.md's rule, stated differently: the positions between the normalised bounds."""
    first = start + len(items) if start < 0 else start
    last = stop + len(items) if stop < 0 else stop
    return [item for position, item in enumerate(items) if first <= position <= last]


@settings(max_examples=300)
@given(st.lists(st.binary(max_size=2), min_size=1, max_size=8), st.integers(-12, 12), st.integers(-12, 12))
def test_lrange_follows_the_redis_index_rules(items, start, stop):
    state = build(Op.of("rpush", "l", *items))
    assert result(state, "lrange", "l", start, stop) == reference_lrange(items, start, stop)
    index = start
    expected = items[index] if -len(items) <= index < len(items) else None
    assert result(state, "lindex", "l", index) == expected


def test_lrange_examples_and_absent_key():
    assert result(MIXED, "lrange", L, 0, -1) == [b"a", b"b", b"c"]
    assert result(MIXED, "lrange", L, -100, 100) == [b"a", b"b", b"c"]
    assert result(MIXED, "lrange", L, 2, 1) == [] and result(MIXED, "lrange", L, 3, 10) == []
    assert result(MIXED, "lrange", L, 0, -100) == [] and result({}, "lrange", L, 0, -1) == []


def test_a_key_is_expired_at_exactly_expire_at():
    assert is_expired(NOW, NOW) and not is_expired(NOW, NOW - 0.001) and not is_expired(None, NOW)
    state = build(Op.of("set", "k", b"v", expire_at=NOW + 5))
    assert result(state, "get", "k", now=NOW + 5) is None
    assert result(state, "get", "k", now=math.nextafter(NOW + 5, 0)) == b"v"
    assert view(state, NOW + 5) == {} and "k" in view(state, NOW + 4.999)


def test_ttl_is_remaining_seconds_or_minus_one_or_minus_two():
    state = build(Op.of("set", "t", b"v", ttl=10), Op.of("set", "p", b"v"))
    assert result(state, "ttl", "t", now=NOW + 2.5) == 7.5
    assert result(state, "ttl", "p") == -1 and result(state, "ttl", "nope") == -2
    assert result(state, "ttl", "t", now=NOW + 10) == -2


def test_expire_sets_a_relative_ttl_on_live_keys_only():
    state, ok = do(MIXED, "expire", L, 3)
    assert ok is True and state[L] == ("list", [b"a", b"b", b"c"], NOW + 3)
    assert do(MIXED, "expire", "nope", 3) == (MIXED, False)
    expired = build(Op.of("set", "k", b"v", ttl=1))
    assert result(expired, "expire", "k", 100, now=NOW + 1) is False


@pytest.mark.parametrize("seconds", [0, -5, -0.5])
def test_expire_with_non_positive_seconds_expires_the_key_at_once(seconds):
    state, ok = do(MIXED, "expire", S, seconds)
    assert ok is True and result(state, "exists", S) is False


def test_expire_at_sets_an_absolute_time():
    state, ok = do(MIXED, "expire_at", H, NOW + 7)
    assert ok is True and result(state, "ttl", H) == 7
    assert result(MIXED, "expire_at", "nope", NOW + 7) is False
    assert result(do(MIXED, "expire_at", H, NOW - 7)[0], "type", H) is None


def test_persist_removes_a_ttl_only_from_a_live_key_that_has_one():
    state = build(Op.of("set", "k", b"v", ttl=5))
    state, ok = do(state, "persist", "k")
    assert ok is True and state["k"][2] is None
    assert do(state, "persist", "k") == (state, False)
    assert result({}, "persist", "k") is False


def test_type_keys_dbsize_skip_expired_keys():
    state = build(
        Op.of("set", "b", b"v"),
        Op.of("rpush", "a", b"x"),
        Op.of("hset", "c", {"f": b"v"}),
        Op.of("set", "gone", b"v", ttl=1),
    )
    later = NOW + 1
    assert [result(state, "type", key, now=later) for key in ("a", "b", "c", "gone")] == [
        "list",
        "string",
        "hash",
        None,
    ]
    assert result(state, "keys", now=later) == ["a", "b", "c"] and result(state, "dbsize", now=later) == 3
    assert result(state, "dbsize") == 4


def test_flushall_removes_every_key():
    assert do(MIXED, "flushall") == ({}, None)


def test_dump_is_the_logical_view_as_copies():
    state = build(Op.of("rpush", "l", b"x"), Op.of("set", "gone", b"v", ttl=1))
    dumped = result(state, "dump", now=NOW + 1)
    assert dumped == {"l": ("list", [b"x"], None)}
    dumped["l"][1].append(b"y")
    assert state["l"][1] == [b"x"]


def test_snapshot_leaves_the_state_and_returns_an_unpredicted_lsn():
    assert do(MIXED, "snapshot") == (MIXED, ANY)


def test_reads_refusals_and_noop_writes_return_the_same_state_object():
    for op in [
        Op.of("get", S),
        Op.of("lrange", L, 0, -1),
        Op.of("get", L),
        Op.of("delete", "nope"),
        Op.of("persist", S),
        Op.of("expire", "nope", 5),
    ]:
        assert apply(MIXED, op, NOW)[0] is MIXED


# ---- run, state_after ----


def test_run_applies_ops_at_the_clock_that_ticks_advance():
    ops = [
        Op.of("set", "k", b"v", ttl=2),
        Op.of("tick", 1),
        Op.of("ttl", "k"),
        Op.of("tick", 1),
        Op.of("get", "k"),
        Op.of("snapshot"),
    ]
    steps = list(run(ops, NOW))
    assert [now for _, now, _ in steps] == [NOW, NOW + 1, NOW + 1, NOW + 2, NOW + 2, NOW + 2]
    assert [outcome for _, _, outcome in steps] == [None, None, 1, None, None, ANY]
    state, now = state_after(ops, NOW)
    assert now == NOW + 2 and view(state, now) == {}


def test_state_after_no_ops_is_empty_at_start_time():
    assert state_after([], NOW) == ({}, NOW)


# ---- same_result ----


def test_same_result_rules():
    assert same_result(ANY, 17) and same_result(Refusal("WrongTypeError", "x"), Refusal("WrongTypeError"))
    assert not same_result(Refusal("WrongTypeError"), Refusal("InvalidKeyError"))
    assert not same_result(None, Refusal("WrongTypeError")) and not same_result(Refusal("WrongTypeError"), None)
    assert not same_result(True, 1) and not same_result(1, True) and same_result(-1, -1)
    assert same_result(7.5, 7.5) and not same_result(7.5, 7.500000000000001)
    assert not same_result(b"v", bytearray(b"v")) and not same_result(b"v", "v")
    assert same_result([b"a"], [b"a"]) and not same_result([b"a"], (b"a",))
    assert same_result({"k": ("list", [b"x"], None)}, {"k": ("list", [b"x"], None)})
    assert not same_result({"k": ("list", [b"x"], None)}, {"k": ("list", [b"x"], 5)})
    assert not same_result(None, 0) and same_result(None, None)


def test_describe_result_is_short():
    assert describe_result(Refusal("WrongTypeError")) == "raises WrongTypeError"
    assert len(describe_result(b"x" * 500)) == 60


# ---- properties over random workloads ----

KEYS = st.sampled_from(["a", "b", b"a", "c"])
VALUES = st.binary(max_size=3)
NUMBERS = st.one_of(st.integers(-3, 5), st.floats(-3, 5, allow_nan=False), st.just(math.nan), st.just(True))
OPS = st.one_of(
    st.builds(lambda k, v: Op.of("set", k, v), KEYS, VALUES),
    st.builds(lambda k, v, t: Op.of("set", k, v, ttl=t), KEYS, VALUES, NUMBERS),
    st.builds(lambda k, v, t: Op.of("set", k, v, expire_at=NOW + t), KEYS, VALUES, st.integers(-2, 4)),
    st.builds(lambda k, vs: Op.of("rpush", k, *vs), KEYS, st.lists(VALUES, max_size=3)),
    st.builds(
        lambda k, m: Op.of("hset", k, m), KEYS, st.dictionaries(st.sampled_from(["f", "g", b"f"]), VALUES, max_size=3)
    ),
    st.builds(lambda k, fs: Op.of("hdel", k, *fs), KEYS, st.lists(st.sampled_from(["f", "g"]), max_size=3)),
    st.builds(lambda ks: Op.of("delete", *ks), st.lists(KEYS, max_size=3)),
    st.builds(lambda k, s: Op.of("expire", k, s), KEYS, NUMBERS),
    st.builds(lambda k, s: Op.of("expire_at", k, NOW + s), KEYS, st.integers(-2, 4)),
    st.builds(lambda k: Op.of("persist", k), KEYS),
    st.builds(lambda k, a, b: Op.of("lrange", k, a, b), KEYS, st.integers(-4, 4), st.integers(-4, 4)),
    st.builds(lambda k: Op.of("hgetall", k), KEYS),
    st.builds(lambda k: Op.of("ttl", k), KEYS),
    st.builds(lambda s: Op.of("tick", s), st.integers(0, 3)),
    st.sampled_from([Op.of("flushall"), Op.of("dump"), Op.of("keys"), Op.of("snapshot")]),
)


@settings(max_examples=150, deadline=None)
@given(st.lists(OPS, max_size=25))
def test_apply_never_mutates_its_input_and_keeps_the_logical_state_well_formed(ops):
    state, now = {}, NOW
    for op in ops:
        if op.name == "tick":
            now += op.args[0]
            continue
        frozen = copy.deepcopy(state)
        new_state, _ = apply(state, op, now)
        assert state == frozen
        for key, entry in new_state.items():
            if state.get(key) is not entry and key in state:
                # a changed entry never shares its list or hash with the old one
                assert not isinstance(entry[1], (list, dict)) or entry[1] is not state[key][1]
        for key, (kind, value, expire_at) in view(new_state, now).items():
            assert isinstance(key, str) and kind in ("string", "list", "hash")
            assert value or kind == "string", "lists and hashes are never empty"
            assert expire_at is None or math.isfinite(expire_at)
        state = new_state
