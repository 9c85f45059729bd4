"""The `edges` workload asks the boundary questions the others never do, and APPEND."""

from tornwrite.faultinject.campaign import execute
from tornwrite.faultinject.core import workloads
from tornwrite.faultinject.plan import Plan
from tornwrite.models import opmodel

EDGES = workloads.build("edges", 0)


def calls(name):
    return [op for op in EDGES.ops if op.name == name]


def test_edges_is_a_default_workload_and_calls_append_with_empty_and_nonempty_values():
    assert "edges" in workloads.DEFAULT_WORKLOADS
    appended = [op.args[1] for op in calls("append")]
    assert b"" in appended and any(appended)


def test_edges_draws_ttls_and_seconds_of_zero_negative_and_huge():
    ttls = {dict(op.kwargs)["ttl"] for op in calls("set") if "ttl" in dict(op.kwargs)}
    seconds = {op.args[1] for op in workloads.build("edges", 0, 120).ops if op.name == "expire"}
    for drawn in (ttls, seconds):
        assert 0 in drawn and min(drawn) < 0 and max(drawn) >= 1e9, drawn


def test_edges_reads_list_ranges_past_both_ends():
    ranges = {op.args[1:] for op in workloads.build("edges", 0, 120).ops if op.name == "lrange"}
    assert any(start < -50 and stop > 50 for start, stop in ranges), ranges


def test_edges_removes_the_last_field_of_a_hash_and_the_hash_goes_with_it():
    state, now = {}, EDGES.start_time
    emptied = []
    for op in EDGES.ops:
        if op.name == "tick":
            now += op.args[0]
            continue
        before = state
        state, _ = opmodel.apply(state, op, now)
        if op.name == "hdel" and op.args[0] in before and op.args[0] not in state:
            emptied.append(op)
    assert emptied, "no hdel removed a hash's last field"


def test_the_real_engine_passes_a_sample_of_edges_under_every_kind():
    outcome = execute(Plan(("edges",), budget=40), jobs=1)
    bad = [r for r in outcome.results if not r.ok]
    assert outcome.results and not bad, f"{bad[0].point.kind}: {bad[0].outcome}: {bad[0].detail}"


def test_a_ttl_of_zero_accepted_is_caught_by_a_budget_5_power_sample_of_edges():
    outcome = execute(Plan(("edges",), kinds=("power",), budget=5, mutant="set-ttl-zero-accepted"), jobs=1)
    assert any(not r.ok for r in outcome.results)
