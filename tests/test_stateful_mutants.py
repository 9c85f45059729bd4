"""The state machine has teeth: given a broken engine (applied from outside it), it fails and
shrinks the failure to a handful of steps a person can read and paste back as a test."""

from tornwrite.faultinject.zoo import hunt as zoo


def test_machine_finds_expired_keys_returned_by_hgetall_and_shrinks_to_a_few_steps():
    failed, steps, program = zoo._stateful_fails("hgetall-ignores-expiry", examples=1000)
    assert failed
    assert steps <= 6, program
    assert "expire" in program  # a hash whose TTL passed: the invariant asks every read path


def test_machine_finds_a_non_atomic_wal_cut_through_a_crash_inside_snapshot():
    failed, steps, program = zoo._stateful_fails("wal-cut-before-snapshot-rename", examples=1000)
    assert failed and steps <= 6, program
    assert "crash_during" in program and "snapshot" in program
