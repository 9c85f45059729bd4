"""Damage lives: recover, write on, damage again where recovery cut, recover; the same oracle,
and every earlier quarantine copy kept, at every life."""

import pytest

from tornwrite.faultinject.core import workloads
from tornwrite.faultinject.kinds import damage, damage_lives
from tornwrite.faultinject.zoo import mutants
from tornwrite.models.checker import Oracle

WORKLOAD = workloads.build("basic", 0)
LIVING = [case for case in range(1, damage.CASES + 1) if damage_lives.lives_on(case)][:80]


def results(mutant=None):
    found = []
    with mutants.active(mutant):
        damage.check_cases(WORKLOAD, Oracle(list(WORKLOAD.ops), WORKLOAD.start_time), LIVING, found.append)
    return found


@pytest.fixture(scope="module")
def real():
    return results()


def test_the_real_engine_passes_every_second_life(real):
    bad = [r for r in real if not r.ok]
    assert not bad, f"case {bad[0].point.step}: {bad[0].description}: {bad[0].detail}"


def test_second_lives_damage_the_very_place_the_first_recovery_cut(real):
    assert sum("life 2" in r.description for r in real) > len(LIVING) // 2
    assert any("where the first recovery cut" in r.description for r in real)


def test_a_later_life_that_replaces_an_earlier_quarantine_copy_is_caught():
    caught = [r for r in results("quarantine-reuses-first-name") if not r.ok]
    assert caught and "an earlier recovery made is gone" in caught[0].detail
