"""The linearizability checker: hand-written histories, pending calls, partitions, and
properties against histories generated from the spec and against a brute-force checker."""

from __future__ import annotations

import dataclasses
import random
from itertools import combinations, permutations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tornwrite.engine.errors import InvalidKeyError, InvalidValueError, WrongTypeError
from tornwrite.models import opmodel
from tornwrite.models.linearizability import (
    WRONGTYPE,
    Call,
    OpModelSpec,
    check_history,
    error_result,
    same_result,
)
from tornwrite.models.ops import Op

SPEC = OpModelSpec()


def call(name, *args, at, returns=None, client=0):
    """A call of `name(*args)` over the interval `at` = (invoke, ret); ret None = pending."""
    invoke, ret = at
    return Call(client, Op.of(name, *args), invoke, ret, returns)


def linearizable(*calls, spec=SPEC):
    return check_history(list(calls), spec).ok


# --- histories that are linearizable --------------------------------------------------------


def test_sequential_history_is_linearizable():
    assert linearizable(
        call("set", "k", b"1", at=(0, 1)),
        call("get", "k", at=(2, 3), returns=b"1"),
        call("rpush", "q", b"a", b"b", at=(4, 5), returns=2),
        call("lrange", "q", 0, -1, at=(6, 7), returns=[b"a", b"b"]),
        call("get", "q", at=(8, 9), returns=WRONGTYPE),
        call("delete", "k", "q", at=(10, 11), returns=2),
        call("exists", "k", at=(12, 13), returns=False),
    )


@pytest.mark.parametrize("seen", [b"a", b"b"])
def test_read_after_overlapping_writes_may_see_either(seen):
    assert linearizable(
        call("set", "k", b"a", at=(0, 2), client=1),
        call("set", "k", b"b", at=(1, 3), client=2),
        call("get", "k", at=(4, 5), returns=seen, client=3),
        call("get", "k", at=(6, 7), returns=seen, client=1),
    )


@pytest.mark.parametrize("seen", [b"old", b"new"])
def test_read_overlapping_a_write_may_see_old_or_new(seen):
    assert linearizable(
        call("set", "k", b"old", at=(0, 1), client=1),
        call("set", "k", b"new", at=(2, 6), client=1),
        call("get", "k", at=(3, 4), returns=seen, client=2),
    )


def test_touching_intervals_count_as_concurrent():
    # The read was invoked at the instant the write returned: either order is allowed.
    assert linearizable(
        call("set", "k", b"1", at=(0, 1)),
        call("get", "k", at=(1, 2), returns=None),
    )


def test_failed_wrongtype_write_changes_nothing():
    assert linearizable(
        call("set", "k", b"s", at=(0, 1)),
        call("rpush", "k", b"x", at=(2, 3), returns=WRONGTYPE),
        call("hset", "k", {"f": b"v"}, at=(4, 5), returns=error_result("WrongTypeError")),
        call("get", "k", at=(6, 7), returns=b"s"),
    )


# --- histories that are not -----------------------------------------------------------------


def test_stale_read_after_completed_write_is_rejected():
    assert not linearizable(
        call("set", "k", b"old", at=(0, 1)),
        call("set", "k", b"new", at=(2, 3)),
        call("get", "k", at=(4, 5), returns=b"old"),
    )


def test_lost_rpush_is_rejected():
    assert not linearizable(
        call("rpush", "q", b"a", at=(0, 2), returns=1, client=1),
        call("rpush", "q", b"b", at=(1, 3), returns=2, client=2),
        call("lrange", "q", 0, -1, at=(4, 5), returns=[b"b"], client=3),
    )


def test_lost_hset_is_rejected():
    assert not linearizable(
        call("hset", "h", {"f": b"1"}, at=(0, 2), returns=1, client=1),
        call("hset", "h", {"g": b"2"}, at=(1, 3), returns=1, client=2),
        call("hgetall", "h", at=(4, 5), returns={"g": b"2"}, client=3),
    )


def test_two_concurrent_rpush_cannot_both_see_length_one():
    assert not linearizable(
        call("rpush", "q", b"a", at=(0, 2), returns=1, client=1),
        call("rpush", "q", b"b", at=(1, 3), returns=1, client=2),
    )


def test_read_of_a_value_never_written_is_rejected():
    assert not linearizable(
        call("set", "k", b"1", at=(0, 2), client=1),
        call("get", "k", at=(1, 3), returns=b"ghost", client=2),
    )


def test_reads_seeing_new_then_old_in_real_time_order_are_rejected():
    # Each read alone overlaps the write; together they put its effect before and after.
    assert not linearizable(
        call("set", "k", b"old", at=(0, 1), client=1),
        call("set", "k", b"new", at=(2, 10), client=1),
        call("get", "k", at=(3, 4), returns=b"new", client=2),
        call("get", "k", at=(5, 6), returns=b"old", client=2),
    )


def test_multi_key_delete_seen_partially_is_rejected():
    assert not linearizable(
        call("set", "a", b"1", at=(0, 1)),
        call("set", "b", b"1", at=(0, 1)),
        call("delete", "a", "b", at=(2, 3), returns=2),
        call("get", "a", at=(4, 5), returns=None),
        call("get", "b", at=(4, 5), returns=b"1"),
    )


def test_multi_key_delete_is_atomic_across_keys():
    # Per key each read is fine; only the merged partition sees that `a` was seen deleted
    # before `b` was seen still present.
    assert not linearizable(
        call("set", "a", b"1", at=(0, 1), client=1),
        call("set", "b", b"1", at=(0, 1), client=2),
        call("delete", "a", "b", at=(2, 10), returns=2, client=1),
        call("get", "a", at=(3, 4), returns=None, client=2),
        call("get", "b", at=(5, 6), returns=b"1", client=2),
    )


# --- pending calls --------------------------------------------------------------------------


def test_pending_write_whose_effect_is_seen_is_linearizable():
    assert linearizable(
        call("set", "k", b"1", at=(0, None), client=1),
        call("get", "k", at=(1, 2), returns=b"1", client=2),
    )


def test_pending_write_never_seen_is_linearizable():
    assert linearizable(
        call("set", "k", b"1", at=(0, None), client=1),
        call("get", "k", at=(1, 2), returns=None, client=2),
        call("get", "k", at=(3, 4), returns=None, client=2),
    )


def test_pending_write_may_take_effect_after_later_completed_writes():
    # Only order: set 1, set 2, the pending set 1, get. The search first tries the pending
    # write early and reaches the same (completed calls, state) pair with it placed, so the
    # memo must tell the two apart.
    assert linearizable(
        call("set", "k", b"1", at=(0, None), client=1),
        call("set", "k", b"1", at=(0, 1), client=2),
        call("set", "k", b"2", at=(2, 3), client=2),
        call("get", "k", at=(4, 5), returns=b"1", client=3),
    )


def test_pending_write_cannot_take_effect_before_its_invoke():
    assert not linearizable(
        call("get", "k", at=(0, 1), returns=b"1", client=2),
        call("set", "k", b"1", at=(2, None), client=1),
    )


def test_pending_write_seen_then_unseen_is_rejected():
    assert not linearizable(
        call("set", "k", b"1", at=(0, None), client=1),
        call("get", "k", at=(1, 2), returns=b"1", client=2),
        call("get", "k", at=(3, 4), returns=None, client=2),
    )


def test_only_pending_calls_is_linearizable():
    result = check_history([call("rpush", "q", b"x", at=(0, None))], SPEC)
    assert result.ok and result.checked_calls == 1


# --- partitions, results and errors ---------------------------------------------------------


def test_single_key_ops_partition_per_key():
    history = [call("set", key, b"v", at=(0, 1)) for key in "abcd"]
    result = check_history(history, SPEC)
    assert result.ok and result.partitions == 4 and result.checked_calls == 4


def test_multi_key_op_merges_its_keys_partitions():
    history = [call("set", key, b"v", at=(0, 1)) for key in "abcd"]
    history.append(call("delete", "a", "b", at=(2, 3), returns=2))
    history.append(call("delete", "b", "c", at=(4, 5), returns=1))
    assert check_history(history, SPEC).partitions == 2


def test_whole_keyspace_op_forces_single_partition():
    history = [call("set", key, b"v", at=(0, 1)) for key in "abcd"]
    history.append(call("dbsize", at=(0.5, 3), returns=2))
    result = check_history(history, SPEC)
    assert result.ok and result.partitions == 1


def test_keyless_harness_ops_are_not_checked():
    history = [call("set", "k", b"v", at=(0, 1)), call("tick", 5, at=(1, 2)), call("snapshot", at=(2, 3), returns=7)]
    result = check_history(history, SPEC)
    assert result.ok and result.partitions == 1 and result.checked_calls == 1


def test_counterexample_names_partition_and_offending_call():
    stale = call("get", "k", at=(4, 5), returns=b"old", client=3)
    result = check_history([call("set", "k", b"old", at=(0, 1)), call("set", "k", b"new", at=(2, 3)), stale], SPEC)
    assert not result.ok and not result.timed_out
    text = result.counterexample
    assert "'k'" in text and repr(stale.op) in text and "b'old'" in text
    assert "2 of 3 calls" in text and "the spec returns b'new' here" in text


def hard_history(writers=18):
    """`writers` overlapping writes then an impossible read: the memo alone still has about
    2 ** writers (placed set, last value) pairs to rule out."""
    history = [call("set", "k", b"%d" % i, at=(0, 10), client=i) for i in range(writers)]
    history.append(call("get", "k", at=(11, 12), returns=b"never"))
    return history


class FakeClock:
    """A clock that moves one second each time it is read."""

    def __init__(self):
        self.now, self.reads = 0.0, 0

    def __call__(self):
        self.reads += 1
        self.now += 1.0
        return self.now


def test_timeout_gives_up_at_the_first_clock_reading_past_the_deadline():
    clock = FakeClock()
    result = check_history(hard_history(), SPEC, timeout=5.5, clock=clock)
    assert result.timed_out and not result.ok and "timed out" in result.counterexample
    # Reading 1 sets the deadline at 6.5; reading 7 is the first past it and nothing follows.
    assert clock.reads == 7
    assert 0 < result.steps <= 6 * 256 + 2_000


def test_step_budget_gives_up_after_that_many_steps():
    result = check_history(hard_history(), SPEC, max_steps=5_000)
    assert result.timed_out and not result.ok and result.steps == 5_000


def test_a_hard_partition_does_not_delay_refuting_an_easy_one():
    # The hard key comes first; searched in order it would take ~2 ** 18 steps before `easy`.
    history = hard_history()[:-1] + [call("get", "k", at=(11, 12), returns=b"3")]
    history += [
        call("set", "easy", b"old", at=(0, 1)),
        call("set", "easy", b"new", at=(2, 3)),
        call("get", "easy", at=(4, 5), returns=b"old"),
    ]
    history += [call("set", "k", b"x%d" % i, at=(0, 10), client=i) for i in range(18)]
    result = check_history(history, SPEC)
    assert not result.ok and "'easy'" in result.counterexample
    assert result.steps < 10_000


def test_a_read_that_fits_is_placed_without_trying_alternatives():
    # Sixteen reads of one value, all overlapping: trying their orders would take 16! steps.
    history = [call("set", "k", b"v", at=(0, 1))]
    history += [call("get", "k", at=(2, 10), returns=b"v", client=i) for i in range(16)]
    history.append(call("get", "k", at=(11, 12), returns=b"v"))
    result = check_history(history, SPEC)
    assert result.ok and result.steps == len(history)


def test_pending_reads_are_not_searched():
    history = [call("set", "k", b"v", at=(0, 1))]
    history += [call("get", "k", at=(0, None), client=i) for i in range(30)]
    result = check_history(history, SPEC)
    assert result.ok and result.steps == 1


def test_call_returning_before_its_invoke_is_refused():
    with pytest.raises(ValueError):
        check_history([call("get", "k", at=(2, 1))], SPEC)


# --- the spec: the op model behind a hashable state -----------------------------------------


@pytest.mark.parametrize(
    "op",
    [
        Op.of("set", "k", b"v", ttl=5),
        Op.of("set", "k", b"v", expire_at=2e9),
        Op.of("expire", "k", 5),
        Op.of("expire_at", "k", 2e9),
        Op.of("persist", "k"),
        Op.of("ttl", "k"),
        Op.of("frobnicate", "k"),
    ],
)
def test_spec_refuses_ops_a_fixed_clock_cannot_model(op):
    with pytest.raises(ValueError):
        SPEC.step(SPEC.init(), op)


def test_spec_with_ttls_in_its_initial_state_refuses_untimed_steps():
    spec = OpModelSpec({"k": ("string", b"v", 2e9)})
    with pytest.raises(ValueError):
        spec.step(spec.init(), Op.of("get", "k"))


def test_untimed_calls_need_no_clock_but_timed_calls_need_a_timed_spec():
    class Register:
        def init(self):
            return None

        def step(self, state, op):
            return state, None

    with pytest.raises(ValueError):
        check_history([Call(0, Op.of("get", "k"), 0, 1, None, clock=(0, 1))], Register())


def test_spec_accepts_ttl_options_given_as_none():
    state, result = SPEC.step(SPEC.init(), Op.of("set", "k", b"v", ttl=None, expire_at=None))
    assert result is None and state == (("k", "string", b"v", None),)


def test_spec_follows_the_op_model():
    spec = OpModelSpec(
        {"q": ("list", [b"a", b"b", b"c"], None), "h": ("hash", {"f": b"1"}, None), "s": ("string", b"x", None)}
    )
    state = spec.init()
    expectations = [
        (Op.of("lrange", "q", -2, 100), [b"b", b"c"]),
        (Op.of("lrange", "q", 2, 1), []),
        (Op.of("lrange", "q", 5, 9), []),
        (Op.of("lindex", "q", -1), b"c"),
        (Op.of("hset", "h", {"f": b"2", "g": b"3"}), 1),
        (Op.of("hgetall", "h"), {"f": b"2", "g": b"3"}),
        (Op.of("hdel", "h", "f", "f", "g"), 2),
        (Op.of("type", "h"), None),  # a hash left empty is removed
        (Op.of("delete", "s", "s", "nope"), 1),
        (Op.of("llen", "q"), 3),
        (Op.of("hget", "q", "f"), WRONGTYPE),
        (Op.of("keys"), ["q"]),
        (Op.of("dump"), {"q": ("list", [b"a", b"b", b"c"], None)}),
        (Op.of("flushall"), None),
        (Op.of("dbsize"), 0),
    ]
    for op, expected in expectations:
        state, result = spec.step(state, op)
        assert result == expected and type(result) is type(expected), op


def test_spec_restricts_a_state_to_a_partitions_keys():
    spec = OpModelSpec({"a": ("string", b"1", None), "b": ("string", b"2", None)})
    assert spec.restrict(spec.init(), frozenset({"b"})) == (("b", "string", b"2", None),)


@pytest.mark.parametrize(
    "op, error",
    [
        (Op.of("get", 5), InvalidKeyError("5")),
        (Op.of("get", b"\xff"), InvalidKeyError("not UTF-8")),
        (Op.of("set", "k", "text"), InvalidValueError("str")),
        (Op.of("rpush", "k"), InvalidValueError("none")),
        (Op.of("lrange", "k", 0, 1.5), InvalidValueError("float")),
        (Op.of("hset", "s", {"f": b"v"}), WrongTypeError("string")),
    ],
)
def test_spec_refusal_equals_the_recorded_engine_error(op, error):
    state, _ = SPEC.step(SPEC.init(), Op.of("set", "s", b"v"))
    after, result = SPEC.step(state, op)
    assert result == error_result(error) and after is state


def test_bytes_key_and_its_str_are_one_object():
    set_k = call("set", "k", b"1", at=(0, 1))
    assert not linearizable(set_k, call("get", b"k", at=(2, 3), returns=None))
    result = check_history([set_k, call("get", b"k", at=(2, 3), returns=b"1")], SPEC)
    assert result.ok and result.partitions == 1


def thaw(state):
    """An OpModelSpec state back as an op model state dict."""
    return {
        key: (kind, {"string": bytes, "list": list, "hash": dict}[kind](value), expire_at)
        for key, kind, value, expire_at in state
    }


# --- properties -----------------------------------------------------------------------------

KEYS = ("a", "b", "c")
WHOLE_KEYSPACE_OPS = (Op.of("keys"), Op.of("dbsize"), Op.of("dump"), Op.of("flushall"))


@st.composite
def ops(draw):
    key = draw(st.sampled_from(KEYS))
    value = draw(st.sampled_from((b"x", b"y", b"z")))
    field = draw(st.sampled_from(("f", "g")))
    return draw(
        st.sampled_from(
            (
                Op.of("set", key, value),
                Op.of("get", key),
                Op.of("delete", key),
                Op.of("delete", key, draw(st.sampled_from(KEYS))),
                Op.of("exists", key),
                Op.of("type", key),
                Op.of("rpush", key, value),
                Op.of("lrange", key, 0, -1),
                Op.of("llen", key),
                Op.of("hset", key, {field: value}),
                Op.of("hget", key, field),
                Op.of("hdel", key, field),
                Op.of("hgetall", key),
                Op.of("hlen", key),
                Op.of("get", key.encode()),  # the same key as `key`
                Op.of("lindex", key, -1),
                Op.of("hexists", key, field),
                Op.of("set", key, "not bytes"),  # refused: InvalidValueError
            )
        )
    )


@settings(max_examples=200, deadline=None)
@given(st.lists(st.one_of(ops(), st.sampled_from(WHOLE_KEYSPACE_OPS)), max_size=40))
def test_spec_steps_agree_with_the_op_model(op_list):
    state, model_state = SPEC.init(), {}
    for op in op_list:
        state, result = SPEC.step(state, op)
        model_state, expected = opmodel.apply(model_state, op, 0.0)
        if isinstance(expected, opmodel.Refusal):
            expected = error_result(expected.error)
        assert result == expected and type(result) is type(expected), op
        assert thaw(state) == opmodel.view(model_state, 0.0), op


def run_sequentially(op_list, clients):
    state, history = SPEC.init(), []
    for index, (op, client) in enumerate(zip(op_list, clients)):
        state, result = SPEC.step(state, op)
        history.append(Call(client, op, 2 * index, 2 * index + 1, result))
    return history


@settings(max_examples=150, deadline=None)
@given(st.lists(ops(), min_size=1, max_size=40), st.data())
def test_sequential_run_of_the_spec_is_linearizable(op_list, data):
    clients = data.draw(st.lists(st.integers(0, 7), min_size=len(op_list), max_size=len(op_list)))
    assert check_history(run_sequentially(op_list, clients), SPEC).ok


@settings(max_examples=150, deadline=None)
@given(st.lists(ops(), min_size=1, max_size=40), st.data())
def test_read_of_a_never_written_value_makes_sequential_run_not_linearizable(op_list, data):
    op_list = op_list + [Op.of("get", data.draw(st.sampled_from(KEYS)))]
    history = run_sequentially(op_list, [0] * len(op_list))
    reads = [i for i, c in enumerate(history) if c.op.name == "get"]
    victim = data.draw(st.sampled_from(reads))
    history[victim] = dataclasses.replace(history[victim], result=b"never-written")
    result = check_history(history, SPEC)
    assert not result.ok
    assert repr(history[victim].op) in result.counterexample


def simulate_concurrently(rng, op_list, clients=4, pending_rate=0.1):
    """Each call takes effect at a random instant inside its interval (or, if pending, maybe
    never), so the history is linearizable by construction."""
    plans, clocks = [], [0.0] * clients
    for op in op_list:
        client = rng.randrange(clients)
        invoke = clocks[client] + rng.random()
        ret = invoke + rng.random() * 3
        clocks[client] = ret
        pending = rng.random() < pending_rate
        effect = rng.uniform(invoke, ret) if not pending or rng.random() < 0.5 else None
        plans.append((effect, client, op, invoke, None if pending else ret))
    results = {}
    state = SPEC.init()
    for index, plan in sorted(enumerate(plans), key=lambda item: item[1][0] or 0.0):
        if plan[0] is not None:
            state, results[index] = SPEC.step(state, plan[2])
    return [
        Call(client, op, invoke, ret, None if ret is None else results[index])
        for index, (_, client, op, invoke, ret) in enumerate(plans)
    ]


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(ops(), min_size=1, max_size=150), st.randoms(use_true_random=False))
def test_concurrent_run_with_effects_inside_intervals_is_linearizable(op_list, rng):
    history = simulate_concurrently(rng, op_list)
    result = check_history(history, SPEC)
    assert result.ok, result.counterexample


def brute_force_linearizable(history, spec):
    """Tries every order of every subset of the pending calls plus all completed ones."""
    completed = [i for i, c in enumerate(history) if c.ret is not None]
    pending = [i for i, c in enumerate(history) if c.ret is None]
    for size in range(len(pending) + 1):
        for chosen in combinations(pending, size):
            for order in permutations(completed + list(chosen)):
                if _fits(order, history, spec):
                    return True
    return False


def _fits(order, history, spec):
    for position, later in enumerate(order):
        for earlier in order[:position]:
            if history[later].ret is not None and history[later].ret < history[earlier].invoke:
                return False
    state = spec.init()
    for index in order:
        state, result = spec.step(state, history[index].op)
        if history[index].ret is not None and not same_result(history[index].result, result):
            return False
    return True


@settings(max_examples=300, deadline=None)
@given(st.lists(ops(), min_size=1, max_size=6), st.randoms(use_true_random=False), st.data())
def test_checker_agrees_with_brute_force_on_small_histories(op_list, rng, data):
    op_list = op_list + data.draw(st.sampled_from(([], [Op.of("dbsize")])))
    history = simulate_concurrently(rng, op_list, clients=3, pending_rate=0.2)
    completed = [i for i, c in enumerate(history) if c.ret is not None]
    if completed and data.draw(st.booleans()):
        victim = data.draw(st.sampled_from(completed))
        wrong = data.draw(st.sampled_from((None, b"x", b"y", 0, 1, 2, True, False, [b"x"], WRONGTYPE)))
        history[victim] = dataclasses.replace(history[victim], result=wrong)
    assert check_history(history, SPEC).ok == brute_force_linearizable(history, SPEC)


def test_thousands_of_overlapping_calls_on_few_keys_need_few_steps_per_call():
    rng = random.Random(7)
    op_list = []
    for serial in range(3000):
        key = f"k{rng.randrange(3)}"
        op_list.append(
            rng.choice(
                (
                    Op.of("set", key, b"%d" % serial),
                    Op.of("get", key),
                    Op.of("rpush", f"q{key}", b"%d" % serial),
                    Op.of("llen", f"q{key}"),
                )
            )
        )
    history = simulate_concurrently(rng, op_list, clients=8, pending_rate=0.01)
    result = check_history(history, SPEC)
    assert result.ok, result.counterexample
    assert result.steps < 5 * len(history)


# --- results compare by type and value ------------------------------------------------------


@pytest.mark.parametrize(
    "expected, actual",
    [
        (True, 1),
        (1, True),
        (0, False),
        (b"k", "k"),
        (1, 1.0),
        ([b"a"], (b"a",)),
        ({"f": True}, {"f": 1}),
        ([1], [True]),
    ],
)
def test_results_of_different_types_never_match(expected, actual):
    assert not same_result(expected, actual)


def test_an_exists_recorded_as_one_is_not_linearizable():
    assert not linearizable(call("set", "k", b"v", at=(0, 1)), call("exists", "k", at=(2, 3), returns=1))
    assert linearizable(call("set", "k", b"v", at=(0, 1)), call("exists", "k", at=(2, 3), returns=True))


# --- time: calls judged at an instant inside their clock interval ---------------------------


def timed(name, *args, at, clock, returns=None, readings=(), client=0, **options):
    invoke, ret = at
    return Call(client, Op.of(name, *args, **options), invoke, ret, returns, clock=clock, readings=readings)


def test_a_read_landing_exactly_on_the_deadline_sees_the_key_gone():
    history = [
        timed("set", "k", b"v", ttl=5, at=(0, 1), clock=(10, 10), readings=(10,)),
        timed("get", "k", at=(2, 3), clock=(15, 15), readings=(15,)),
        timed("ttl", "k", at=(4, 5), clock=(15, 15), returns=-2, readings=(15,)),
    ]
    assert check_history(history, SPEC).ok
    live = dataclasses.replace(history[1], result=b"v")
    assert not check_history([history[0], live], SPEC).ok


def test_a_read_whose_clock_interval_spans_the_deadline_may_see_either():
    write = timed("set", "k", b"v", expire_at=15, at=(0, 1), clock=(10, 10))
    for seen in (b"v", None):
        assert check_history([write, timed("get", "k", at=(2, 3), clock=(14, 16), returns=seen)], SPEC).ok


def test_time_never_goes_back_along_the_order():
    # The read saw the key gone (time 15 or later); the persist, placed after it in real
    # time, cannot be judged before 15 and so cannot find the key live.
    history = [
        timed("set", "k", b"v", expire_at=15, at=(0, 1), clock=(10, 10)),
        timed("get", "k", at=(2, 3), clock=(15, 15), returns=None),
        timed("persist", "k", at=(4, 5), clock=(10, 16), returns=True),
    ]
    result = check_history(history, SPEC)
    assert not result.ok and "persist('k')" in result.counterexample


def test_ttl_is_judged_at_the_stores_own_reading():
    write = timed("expire", "k", 10, at=(1, 2), clock=(100, 100), readings=(100,), returns=True)
    history = [timed("set", "k", b"v", at=(0, 1), clock=(100, 100)), write]
    good = timed("ttl", "k", at=(3, 4), clock=(101, 104), readings=(103,), returns=7)
    assert check_history([*history, good], SPEC).ok
    assert not check_history([*history, dataclasses.replace(good, result=8)], SPEC).ok
