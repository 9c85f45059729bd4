"""The cross-check: a mutant the campaign catches through the engine's hooks is caught through the
interposer too, by the same kinds; the real engine passes both (the full matrix, every mutant:
python -m tornwrite.faultinject.program.crosscheck)."""

import pytest

from tornwrite.faultinject.program import crosscheck, install

OPS = 8  # a set, a snapshot, then writes: enough for these mutants, quick enough for a test


@pytest.fixture
def installed(tmp_path):
    previous = install.install(str(tmp_path))
    yield str(tmp_path)
    install.uninstall(previous)


def test_the_real_engine_run_through_the_interposer_passes_the_campaigns_judge(installed):
    assert crosscheck.caught(None, installed + "/real", ops=OPS) == set()


@pytest.mark.parametrize(
    "mutant",
    [
        "wal-append-no-fsync",
        "snapshot-in-place",
        "memory-before-wal",  # seen by the target's reader (observe) only
        "memory-before-fsync",  # seen by the target's reader (observe) only
        "recovery-trusts-page-cache",  # seen only through a restart after a process crash, then a power loss
        "torn-tail-left-in-place",  # seen only in a later life: the target's resume() writes on, then power fails
    ],
)
def test_a_mutant_is_caught_through_the_interposer_by_the_kinds_the_campaign_catches_it_with(installed, mutant):
    assert crosscheck.expected(mutant)  # the campaign catches it: the comparison means something
    assert crosscheck.caught(mutant, installed + "/" + mutant, ops=OPS) == crosscheck.expected(mutant)
