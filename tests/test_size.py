"""State past several MiB: the state machine's grow_past_every_buffer rule writes one record and
a snapshot larger than any write buffer, loses power, and reads both back."""

import pytest

from tornwrite.engine import CorruptDataError
from tornwrite.engine import snapshot as engine_snapshot
from tornwrite.faultinject.zoo import mutants, stateful


@pytest.fixture
def machine(monkeypatch):
    monkeypatch.setattr(stateful, "note", lambda text: None)  # outside a Hypothesis run
    machine = stateful.StoreVersusModel()
    yield machine
    machine.teardown()


def test_the_rule_takes_the_state_past_three_mib_and_every_value_past_a_snapshot_chunk():
    assert sum(map(len, stateful.HUGE)) > 3 * 2**20
    assert min(map(len, stateful.HUGE)) > engine_snapshot._CHUNK


def test_the_real_engine_recovers_several_mib_after_a_power_loss(machine):
    machine.grow_past_every_buffer(7)
    machine.engine_agrees_with_model()
    machine.memory_equals_snapshot_plus_wal_replay()


def test_a_snapshot_checksum_restarting_at_each_chunk_is_caught(machine):
    with mutants.active("snapshot-crc-restarts-each-chunk"), pytest.raises(CorruptDataError, match="checksum"):
        machine.grow_past_every_buffer(7)
