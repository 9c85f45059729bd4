"""The state machine has teeth: given a broken engine (applied from outside it), it fails under
the profile `make test` runs, and it shrinks a failure to a handful of steps a person can read
and paste back as a test.

The "ci" profile is derandomised (tests/conftest.py): every run tries the same programs, so a
mutant caught once is caught on every run, on any machine, at any load.
"""

import pytest
from hypothesis import Phase, settings
from hypothesis.errors import HypothesisException
from hypothesis.internal.conjecture import engine as conjecture_engine
from hypothesis.stateful import run_state_machine_as_test

from tornwrite.faultinject.zoo import hunt as zoo
from tornwrite.faultinject.zoo import mutants
from tornwrite.faultinject.zoo.stateful import StoreVersusModel

# Every mutant the zoo expects the state machine to catch, and one it also catches through a
# crash inside a snapshot.
CAUGHT = sorted(
    {name for name, mutant in mutants.MUTANTS.items() if "stateful" in mutant.caught_by}
    | {"wal-cut-before-snapshot-rename"}
)


# The profile's programs, more of them: a run stops at the first failure, so a planted bug costs
# only the programs before the one that catches it. The real engine runs the profile's 100.
MUTANT_EXAMPLES = 400


@pytest.mark.parametrize("mutant", CAUGHT)
def test_the_ci_profile_catches_the_mutant(mutant):
    assert mutant in mutants.MUTANTS  # else active() raises, which would pass below
    generate_only = [Phase.explicit, Phase.reuse, Phase.generate]  # the profile's programs, unshrunk
    with mutants.active(mutant), pytest.raises(Exception) as caught:
        run_state_machine_as_test(
            StoreVersusModel,
            settings=settings(max_examples=MUTANT_EXAMPLES, report_multiple_bugs=False, phases=generate_only),
        )
    assert not isinstance(caught.value, HypothesisException), caught.value  # a rule failed, not a health check


# The zoo's own settings (`make mutants`, also derandomised) from here on: shorter programs shrink
# faster. Run here in this process so that shrinking can be bounded by its count of steps alone:
# Hypothesis otherwise stops it after five minutes, and a loaded machine would shrink less.


@pytest.fixture
def shrink_without_a_clock(monkeypatch):
    monkeypatch.setattr(conjecture_engine, "MAX_SHRINKING_SECONDS", 24 * 3600)


def test_machine_finds_expired_keys_returned_by_hgetall_and_shrinks_to_a_few_steps(shrink_without_a_clock):
    failed, steps, program = zoo._stateful_hunt("hgetall-ignores-expiry", examples=1000)
    assert failed
    assert steps <= 6, program
    assert "expire" in program  # a hash whose TTL passed: the invariant asks every read path


@pytest.mark.parametrize("mutant", [None, "torn-tail-left-in-place"])
def test_a_write_after_a_power_loss_that_tears_a_record_is_read_back_only_if_recovery_cut_the_tear(mutant, monkeypatch):
    from tornwrite.faultinject.zoo import stateful

    monkeypatch.setattr(stateful, "note", lambda text: None)
    machine = StoreVersusModel()
    try:
        with mutants.active(mutant):
            machine.power_loss_tearing_a_record_then_write_on("ключ", "значение ü".encode(), 0)
            if mutant is None:
                machine.memory_equals_snapshot_plus_wal_replay()
            else:
                with pytest.raises(AssertionError, match="format reader disagrees"):
                    machine.memory_equals_snapshot_plus_wal_replay()
    finally:
        machine.teardown()
