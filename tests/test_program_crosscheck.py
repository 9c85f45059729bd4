"""The cross-check: a mutant the campaign catches through the engine's hooks is caught through the
interposer too, by the same kinds (the full matrix: python -m tornwrite.faultinject.program.crosscheck)."""

import pytest

from tornwrite.faultinject.program import crosscheck, interposer

OPS = 8  # a set, a snapshot, then writes: enough for these mutants, quick enough for a test


@pytest.fixture
def installed(tmp_path):
    previous = interposer.install(str(tmp_path))
    yield str(tmp_path)
    interposer.uninstall(previous)


def test_the_real_engine_run_through_the_interposer_passes_the_campaigns_judge(installed):
    assert crosscheck.caught(None, installed + "/real", ops=OPS) == set()


@pytest.mark.parametrize("mutant", ["wal-append-no-fsync", "snapshot-in-place"])
def test_a_mutant_is_caught_through_the_interposer_by_the_kinds_the_campaign_catches_it_with(installed, mutant):
    assert crosscheck.caught(mutant, installed + "/" + mutant, ops=OPS) == crosscheck.expected(mutant)
