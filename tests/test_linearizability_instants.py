"""The timed checker tries every instant that matters, checked against a brute force.

Two false alarms it once raised (issue 18), each a test:
- an ``expire`` or ``set(ttl=)`` whose call carries a clock interval but no readings was tried
  only at its earliest instant, though the store may have read its clock anywhere in it;
- a ``ttl`` was tried only at its readings, even when its answer (-2 or -1) holds for a whole
  stretch of time and so does not depend on the instant.

The brute force below knows nothing of the search: it tries every order that respects real time
and, for each call, every instant of a fine grid in its clock interval (never decreasing along
the order), and applies the op model. The rules it judges by: a relative TTL counts from the
call's first reading, or from its instant when it has none; a ttl that answered a number was
computed at one of its readings (any instant when it has none).
"""

from __future__ import annotations

import dataclasses
import random

import pytest

from tornwrite.models import opmodel
from tornwrite.models.linearizability import Call, OpModelSpec, check_history, error_result, same_result
from tornwrite.models.ops import Op

GRID = 8  # instants tried per second: landmarks are whole seconds and at most 4 calls move freely


def _repro(seed: int) -> str:
    return (
        f"repro: .venv/bin/python -m pytest tests/test_linearizability_instants.py -k brute -x  (history seed {seed})"
    )


def _call(client: int, op: Op, lo: float, hi: float, result: object, readings: tuple[float, ...] = ()) -> Call:
    return Call(client, op, lo, hi, result, clock=(lo, hi), readings=readings)


def _at(state: dict, call: Call, now: float) -> tuple[dict, object]:
    """The op model's (state, result) for `call` judged at `now`, by the rules above."""
    op, start = call.op, call.readings[0] if call.readings else now
    options = dict(op.kwargs)
    if op.name == "expire":
        op = Op.of("expire_at", op.args[0], start + op.args[1])
    elif op.name == "set" and options.get("ttl") is not None:
        op = Op.of("set", *op.args, expire_at=start + options["ttl"])
    after, result = opmodel.apply(state, op, now)
    if isinstance(result, opmodel.Refusal):
        result = error_result(result.error)
    number = type(result) in (int, float) and result not in (-2, -1)
    if call.op.name == "ttl" and call.readings and now not in call.readings and number:
        result = ("unjudged", "a number the store did not compute at this instant")
    return after, result


def brute_force(history: list[Call]) -> bool:
    """Whether some order and instants explain every (completed) call."""

    def search(placed: frozenset[int], state: dict, last: float) -> bool:
        if len(placed) == len(history):
            return True
        for i, call in enumerate(history):
            if i in placed:
                continue
            if any(j not in placed and other.ret < call.invoke for j, other in enumerate(history)):  # type: ignore[operator]
                continue  # another unplaced call returned before this one began: it comes first
            lo, hi = call.clock  # type: ignore[misc]
            for step in range(int((hi - lo) * GRID) + 1):
                now = lo + step / GRID
                if now < last:
                    continue
                after, result = _at(state, call, now)
                if same_result(call.result, result) and search(placed | {i}, after, now):
                    return True
        return False

    return search(frozenset(), {}, float("-inf"))


def _random_op(rng: random.Random) -> Op:
    seconds = rng.choice([1, 2])
    return rng.choice(
        [
            Op.of("set", "k", b"a"),
            Op.of("set", "k", b"b", ttl=seconds),
            Op.of("expire", "k", seconds),
            Op.of("get", "k"),
            Op.of("ttl", "k"),
            Op.of("ttl", "k"),
            Op.of("persist", "k"),
            Op.of("delete", "k"),
        ]
    )


def random_history(seed: int) -> list[Call]:
    """A small timed history on one key: results from one random linearization, then, half the
    time, one result changed (which may or may not leave it linearizable)."""
    rng = random.Random(f"linearizability-instants/{seed}")
    shape = []
    for client in range(rng.randint(2, 4)):
        lo = float(rng.randint(0, 3))
        hi = lo + rng.choice([0, 1, 1])
        op = _random_op(rng)
        readings = () if rng.random() < 0.5 else (rng.choice([lo, hi]),)
        now = readings[0] if op.name == "ttl" and readings else lo + rng.randint(0, int((hi - lo) * GRID)) / GRID
        shape.append((now, rng.random(), client, op, lo, hi, readings))
    state: dict = {}
    history = []
    for now, _, client, op, lo, hi, readings in sorted(shape):
        call = _call(client, op, lo, hi, None, readings)
        state, result = _at(state, call, now)
        history.append(_call(client, op, lo, hi, result, readings))
    if rng.random() < 0.5:
        victim = rng.randrange(len(history))
        wrong = rng.choice([None, b"a", b"b", -2, -1, 1.0, 2.0, True, False, 0, 1])
        history[victim] = dataclasses.replace(history[victim], result=wrong)
    rng.shuffle(history)
    return history


def test_the_checker_agrees_with_the_brute_force_on_small_random_timed_histories():
    decided = {True: 0, False: 0}
    for seed in range(400):
        history = random_history(seed)
        expected = brute_force(history)
        got = check_history(history, OpModelSpec())
        assert got.ok == expected, _repro(seed) + "\n" + "\n".join(call.describe() for call in history)
        decided[expected] += 1
    assert min(decided.values()) >= 40, decided  # both verdicts well represented


# --- the "Why" cases, each checked by the brute force too ----------------------------------------


def test_an_expire_without_readings_may_have_read_the_clock_late_in_its_interval():
    history = [
        _call(0, Op.of("set", "k", b"v"), 0.0, 0.0, None, (0.0,)),
        _call(1, Op.of("expire", "k", 2), 0.0, 3.0, True),  # no readings: its clock read anywhere in [0, 3]
        _call(2, Op.of("get", "k"), 4.0, 4.0, b"v", (4.0,)),  # so the deadline may be past 4
    ]
    assert brute_force(history)
    assert check_history(history, OpModelSpec()).ok


def test_a_set_with_ttl_without_readings_may_have_read_the_clock_late_in_its_interval():
    history = [
        _call(0, Op.of("set", "k", b"v", ttl=2), 0.0, 3.0, None),
        _call(1, Op.of("get", "k"), 4.0, 4.0, b"v", (4.0,)),
    ]
    assert brute_force(history)
    assert check_history(history, OpModelSpec()).ok


def test_an_expire_without_readings_is_still_refused_when_no_instant_explains_it():
    history = [
        _call(0, Op.of("set", "k", b"v"), 0.0, 0.0, None, (0.0,)),
        _call(1, Op.of("expire", "k", 2), 0.0, 1.0, True),
        _call(2, Op.of("get", "k"), 4.0, 4.0, b"v", (4.0,)),  # the deadline is at most 3
    ]
    assert not brute_force(history)
    assert not check_history(history, OpModelSpec()).ok


@pytest.mark.parametrize("answer", [-2, -1])
def test_a_ttl_answer_that_holds_for_a_stretch_of_time_may_be_placed_off_its_readings(answer):
    first = Op.of("set", "k", b"v", ttl=1) if answer == -2 else Op.of("set", "k", b"v", ttl=1)
    history = [_call(0, first, 0.0, 0.0, None, (0.0,))]
    if answer == -1:
        history.append(_call(2, Op.of("persist", "k"), 0.0, 2.0, True))  # only at 0 <= t < 1
    history.append(_call(1, Op.of("ttl", "k"), 0.0, 2.0, answer, (0.5,)))
    assert brute_force(history)
    assert check_history(history, OpModelSpec()).ok


def test_a_ttl_that_answered_a_number_is_still_judged_at_its_readings_only():
    history = [
        _call(0, Op.of("set", "k", b"v", ttl=2), 0.0, 0.0, None, (0.0,)),
        _call(1, Op.of("ttl", "k"), 0.0, 2.0, 1.0, (0.5,)),  # at 0.5 the answer is 1.5, never 1.0
    ]
    assert not brute_force(history)
    assert not check_history(history, OpModelSpec()).ok
