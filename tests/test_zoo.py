"""A quick `make mutants`: every mutant of the bug zoo is caught by the first detector it names.

The full run (`make mutants`) also tries every other detector, shrinks each failure and draws
the matrix; this keeps CI honest about the harness's teeth at a fraction of the cost.
"""

import shlex

import pytest

from tornwrite.faultinject import invocation
from tornwrite.faultinject.zoo import hunt as zoo
from tornwrite.faultinject.zoo import mutants

PREFIX = shlex.join(invocation.prefix())  # how repro lines start here


@pytest.mark.parametrize("name", sorted(mutants.MUTANTS))
def test_mutant_is_caught_by_its_first_expected_detector(name):
    detector = mutants.MUTANTS[name].caught_by[0]
    failed, _, repro = zoo._detect(detector, name, examples=1000)
    assert failed, f"{detector} did not catch mutant {name}: {mutants.MUTANTS[name].bug}"
    if detector != "stateful":
        assert repro.startswith(f"{PREFIX} repro") and f"--mutant {name}" in repro


def test_mutants_leave_the_engine_as_it_was():
    from tornwrite.engine import store, wal

    before = (store.Store._commit, store.Store.hset, wal.Wal.append, store.write_snapshot)
    for name in mutants.MUTANTS:
        with mutants.active(name):
            pass
    assert (store.Store._commit, store.Store.hset, wal.Wal.append, store.write_snapshot) == before


def test_unknown_mutant_is_refused():
    with pytest.raises(ValueError, match="unknown mutant"):
        with mutants.active("no-such-bug"):
            pass
