"""The crash checker: each outcome, the allowed-state rules, and agreement with a brute force."""

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tornwrite.models import checker
from tornwrite.models.checker import OUTCOMES, Oracle, Verdict, check_recovery
from tornwrite.models.opmodel import is_expired, run, view
from tornwrite.models.ops import Op

T0 = 1_000.0
CHECK = T0 + 100  # the recovering store's clock: later than any op below

OPS = [
    Op.of("set", "a", b"1"),  # 1
    Op.of("set", "b", b"2"),  # 2
    Op.of("tick", 1),  # 3
    Op.of("rpush", "q", b"job-1"),  # 4
    Op.of("snapshot"),  # 5
    Op.of("set", "a", b"3"),  # 6
    Op.of("get", "a"),  # 7
    Op.of("hset", "h", {"f": b"v"}),  # 8
    Op.of("set", "t", b"short", ttl=10),  # 9: expired by CHECK
    Op.of("rpush", "q", b"job-2"),  # 10
]
ORACLE = Oracle(OPS, T0)


def after(prefix, check_time=CHECK, ops=OPS):
    """The model's view after ops[:prefix], computed independently of the Oracle."""
    final: dict = {}
    for state, _, _ in run(ops[:prefix], T0):
        final = state
    return view(final, check_time)


def check(**kwargs):
    kwargs.setdefault("in_flight", False)
    kwargs.setdefault("check_time", CHECK)
    return ORACLE.check(**kwargs)


def test_outcomes_are_the_documented_five():
    assert OUTCOMES == ("ok", "lost-acked-write", "phantom-or-divergent", "recovery-failed", "invariant-violated")


def test_state_after_the_acked_ops_is_ok():
    assert check(acked=6, recovered=after(6)) == Verdict("ok", "", 6)


def test_in_flight_op_may_have_landed():
    assert check(acked=5, in_flight=True, recovered=after(6)) == Verdict("ok", "", 6)


def test_in_flight_op_may_be_missing():
    assert check(acked=5, in_flight=True, recovered=after(5)) == Verdict("ok", "", 5)


def test_op_after_the_acked_ones_without_in_flight_is_a_phantom():
    verdict = check(acked=5, recovered=after(6))
    assert verdict.outcome == "phantom-or-divergent" and verdict.matched_prefix == 6
    assert "never-acked ops took effect (1 write: #6 set('a', b'3'))" in verdict.detail


def test_lost_acked_write_names_the_lost_ops():
    verdict = check(acked=8, recovered=after(4))
    assert verdict.outcome == "lost-acked-write" and verdict.matched_prefix == 5
    head = verdict.detail.splitlines()[0]
    assert head.startswith("state equals the model after op 5; ops 6..8 lost")
    assert "#6 set('a', b'3')" in head and "#8 hset('h', {'f': b'v'})" in head
    assert "#7" not in head  # a read loses nothing


def test_lost_acked_write_detail_names_the_op_where_the_states_part():
    detail = check(acked=6, recovered=after(5)).detail
    assert "'a': expected string b'3'; recovered string b'1'; last written by op #6 set('a', b'3')" in detail


def test_in_flight_never_excuses_an_acked_op():
    verdict = check(acked=6, in_flight=True, recovered=after(4))
    assert verdict.outcome == "lost-acked-write" and verdict.matched_prefix == 5


def test_observed_raises_the_lower_bound():
    assert check(acked=5, in_flight=True, observed=6, recovered=after(6)).outcome == "ok"
    verdict = check(acked=5, in_flight=True, observed=6, recovered=after(5))
    assert verdict.outcome == "lost-acked-write" and "ops 6..6 lost" in verdict.detail


def test_recovery_error_is_recovery_failed():
    verdict = check(acked=4, recovered=None, recovery_error="CorruptDataError: bad snapshot")
    assert verdict.outcome == "recovery-failed" and "CorruptDataError: bad snapshot" in verdict.detail
    assert check(acked=4, recovered=None).outcome == "recovery-failed"


def test_expired_key_visible_is_an_invariant_violation():
    state = after(9, check_time=T0 + 1)  # still holds 't', expiring at T0 + 11
    verdict = check(acked=9, recovered=state, check_time=T0 + 11)
    assert verdict.outcome == "invariant-violated" and "expired key visible" in verdict.detail
    assert "'t'" in verdict.detail


def test_states_are_compared_at_check_time_not_at_the_prefix_clock():
    assert "t" in after(9, check_time=T0 + 1) and "t" not in after(9)
    assert check(acked=9, recovered=after(9)).outcome == "ok"
    assert check(acked=9, recovered=after(9, T0 + 1), check_time=T0 + 1).outcome == "ok"


def test_reader_state_that_differs_is_an_invariant_violation():
    reader = after(6)
    reader["a"] = ("string", b"from-wal", None)
    verdict = check(acked=6, recovered=after(6), reader_state=reader)
    assert verdict.outcome == "invariant-violated" and "snapshot + WAL replay" in verdict.detail
    assert "reader string b'from-wal'" in verdict.detail


def test_reader_state_keys_expired_at_check_time_are_ignored():
    reader = after(9, check_time=T0 + 1)  # the reader kept 't' on disk
    assert check(acked=9, recovered=after(9), reader_state=reader).outcome == "ok"


def test_divergent_value_is_phantom_or_divergent_with_a_readable_diff():
    recovered = after(6)
    recovered["a"] = ("string", b"x" * 200, None)
    recovered["never"] = ("list", [b"y"], None)
    verdict = check(acked=6, recovered=recovered)
    assert verdict.outcome == "phantom-or-divergent" and verdict.matched_prefix is None
    assert "'never': expected absent; recovered list [b'y']; no op in 1..6 wrote it" in verdict.detail
    assert max(len(line) for line in verdict.detail.splitlines()) < 250


def test_detail_caps_the_keys_listed():
    recovered = after(6) | {f"extra{i}": ("string", b"v", None) for i in range(8)}
    lines = check(acked=6, recovered=recovered).detail.splitlines()
    assert lines[-1] == "  ... and 3 more keys" and len(lines) == 2 + 5 + 1


def test_recovered_entries_may_be_lists_or_tuples():
    recovered = {key: list(entry) for key, entry in after(6).items()}
    assert check(acked=6, recovered=recovered).outcome == "ok"


def test_expire_at_compares_with_equality():
    assert check(acked=10, recovered=after(10)).outcome == "ok"
    ops = [Op.of("set", "k", b"v", expire_at=T0 + 500)]
    assert (
        check_recovery(
            ops,
            acked=1,
            in_flight=False,
            recovered={"k": ("string", b"v", int(T0 + 500))},
            start_time=T0,
            check_time=CHECK,
        ).outcome
        == "ok"
    )


def test_check_recovery_is_the_oracle_check():
    kwargs = dict(acked=8, in_flight=True, recovered=after(4), check_time=CHECK, observed=2)
    assert check_recovery(OPS, start_time=T0, **kwargs) == ORACLE.check(**kwargs)


@pytest.mark.parametrize(
    "kwargs", [dict(acked=11), dict(acked=10, in_flight=True), dict(acked=-1), dict(acked=3, observed=11)]
)
def test_bounds_outside_the_workload_are_programming_errors(kwargs):
    kwargs.setdefault("in_flight", False)
    with pytest.raises(ValueError):
        ORACLE.check(recovered={}, check_time=CHECK, **kwargs)


def test_empty_workload_allows_only_the_empty_state():
    oracle = Oracle([], T0)
    assert oracle.check(acked=0, in_flight=False, recovered={}, check_time=T0).outcome == "ok"
    verdict = oracle.check(acked=0, in_flight=False, recovered={"k": ("string", b"v", None)}, check_time=T0)
    assert verdict.outcome == "phantom-or-divergent"


# ---- agreement with a brute force, and speed ----

KEYS = st.sampled_from(["a", "b", "c"])
WORKLOAD_OPS = st.one_of(
    st.builds(lambda k, v: Op.of("set", k, v), KEYS, st.sampled_from([b"1", b"2"])),
    st.builds(lambda k, t: Op.of("set", k, b"t", ttl=t), KEYS, st.integers(1, 3)),
    st.builds(lambda k: Op.of("rpush", k, b"x"), KEYS),
    st.builds(lambda k: Op.of("hset", k, {"f": b"v"}), KEYS),
    st.builds(lambda k: Op.of("hdel", k, "f"), KEYS),
    st.builds(lambda k: Op.of("delete", k), KEYS),
    st.builds(lambda k: Op.of("expire", k, 2), KEYS),
    st.builds(lambda k: Op.of("persist", k), KEYS),
    st.builds(lambda k: Op.of("get", k), KEYS),
    st.just(Op.of("tick", 1)),
    st.just(Op.of("flushall")),
)


def brute_force(ops, acked, in_flight, observed, recovered, check_time):
    views = [after(prefix, check_time, ops) for prefix in range(len(ops) + 1)]
    lower = max(acked, observed)
    allowed = [lower] + ([acked + 1] if in_flight and acked + 1 > lower else [])
    for prefix in allowed:
        if views[prefix] == recovered:
            return "ok", prefix
    for prefix in range(lower - 1, -1, -1):
        if views[prefix] == recovered:
            return "lost-acked-write", prefix
    for prefix in range(max(allowed) + 1, len(ops) + 1):
        if views[prefix] == recovered:
            return "phantom-or-divergent", prefix
    return "phantom-or-divergent", None


@settings(max_examples=150, deadline=None)
@given(st.lists(WORKLOAD_OPS, min_size=1, max_size=20), st.data())
def test_oracle_agrees_with_a_brute_force_over_all_prefixes(ops, data):
    total = len(ops)
    acked = data.draw(st.integers(0, total))
    in_flight = acked < total and data.draw(st.booleans())
    observed = data.draw(st.integers(0, min(total, acked + 1)))
    check_time = data.draw(st.sampled_from([T0, T0 + 2, T0 + 50]))
    source = data.draw(st.integers(0, total))
    recovered = after(source, check_time, ops)
    if data.draw(st.booleans()):
        recovered["zz"] = ("string", b"?", None)
    verdict = Oracle(ops, T0).check(
        acked=acked, in_flight=in_flight, recovered=recovered, check_time=check_time, observed=observed
    )
    assert (verdict.outcome, verdict.matched_prefix) == brute_force(
        ops, acked, in_flight, observed, recovered, check_time
    )
    assert (verdict.detail == "") == (verdict.outcome == "ok")


def test_an_oracle_judges_each_crash_with_work_linear_in_keys_plus_ops_walked(monkeypatch):
    """The model runs once per workload; a check judges a few whole views, then only the keys
    each op it walks back over changed, never a full compare per prefix."""
    ops = []
    for i in range(2000):
        key = f"k{i % 97}"
        ops.append(
            [
                Op.of("set", key, b"v%d" % i),
                Op.of("rpush", f"l{i % 31}", b"x"),
                Op.of("hset", f"h{i % 13}", {f"f{i % 5}": b"v"}),
                Op.of("tick", 0.01),
                Op.of("expire", key, 5),
            ][i % 5]
        )
    model_runs, judged = [], []  # judged: entries tested for expiry, the checker's unit of work
    monkeypatch.setattr(checker, "run", lambda *args: model_runs.append(args) or run(*args))
    monkeypatch.setattr(checker, "is_expired", lambda *args: judged.append(args) or is_expired(*args))
    oracle = Oracle(ops, T0)
    check_time = T0 + 1
    lost_state = dict(oracle.view(1000, check_time))
    keys = len(oracle.states[-1])
    work = {}
    for acked in range(1001, 2000):
        judged.clear()
        verdict = oracle.check(acked=acked, in_flight=True, recovered=lost_state, check_time=check_time)
        assert verdict.outcome == "lost-acked-write" and verdict.matched_prefix == 1000
        work[acked] = len(judged)
    ok = oracle.check(acked=1500, in_flight=False, recovered=oracle.view(1500, check_time), check_time=check_time)
    assert ok.outcome == "ok"
    assert len(model_runs) == 1
    assert keys <= work[1001] <= 10 * keys, (work[1001], keys)
    # Each further op walked back over adds at most two judgements (its changed keys), not a view.
    assert all(work[acked] - work[1001] <= 2 * (acked - 1001) for acked in work), work


def test_ops_with_bytes_or_keyword_keys_are_traced_to_the_decoded_key():
    ops = [Op.of("set", b"caf\xc3\xa9", b"1"), Op.of("set", key="k", value=b"2")]
    oracle = Oracle(ops, T0)
    verdict = oracle.check(acked=2, in_flight=False, recovered={}, check_time=CHECK)
    assert verdict.outcome == "lost-acked-write" and verdict.matched_prefix == 0
    assert "last written by op #1 set(b'caf\\xc3\\xa9', b'1')" in verdict.detail
    assert "last written by op #2 set(key='k', value=b'2')" in verdict.detail


def test_an_oracle_given_an_initial_state_allows_only_states_built_on_it():
    initial = {"old": ("hash", {"поле": b"\xe9t\xe9"}, None)}
    oracle = Oracle([Op.of("hset", "old", {"new": b"1"})], T0, initial)
    both = {"old": ("hash", {"поле": b"\xe9t\xe9", "new": b"1"}, None)}
    assert oracle.check(acked=1, in_flight=False, recovered=both, check_time=CHECK).outcome == "ok"
    assert oracle.check(acked=0, in_flight=False, recovered=initial, check_time=CHECK).outcome == "ok"
    assert oracle.check(acked=0, in_flight=False, recovered={}, check_time=CHECK).outcome != "ok"
    assert initial == {"old": ("hash", {"поле": b"\xe9t\xe9"}, None)}  # the model never changes it
