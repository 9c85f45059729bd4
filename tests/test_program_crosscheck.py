"""The cross-check: a mutant the campaign catches through the engine's hooks is caught through
each trace source too (the interposer, the system-call source), by the same kinds; the real
engine passes both (the full matrix, every mutant: python -m tornwrite.faultinject.program.crosscheck)."""

import os
import subprocess
import sys

import pytest

from tornwrite.engine import wal
from tornwrite.faultinject.program import crosscheck, engine_target, install, syscall_source

OPS = 8  # a set, a snapshot, then writes: enough for these mutants, quick enough for a test
SYSCALL_OPS = 3  # a set, a snapshot, a set: a traced interpreter per restart makes each state costlier
NO_STRACE = syscall_source.probe()


@pytest.fixture
def installed(tmp_path):
    previous = install.install(str(tmp_path))
    yield str(tmp_path)
    install.uninstall(previous)


def test_the_real_engine_run_through_the_interposer_passes_the_campaigns_judge(installed):
    assert crosscheck.caught(None, installed + "/real", ops=OPS).kinds == set()


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
    lives = mutant in crosscheck.LIVES_NEEDED  # later lives triple a run; the real engine's test keeps them
    assert crosscheck.caught(mutant, installed + "/" + mutant, ops=OPS, lives=lives).kinds == crosscheck.expected(
        mutant
    )


@pytest.mark.skipif(NO_STRACE is not None, reason=f"system-call source unavailable: {NO_STRACE}")
def test_the_real_engine_run_through_the_system_call_source_passes_on_a_complete_trace(installed):
    found = crosscheck.caught(None, installed + "/real", ops=SYSCALL_OPS, trace="syscall", lives=False)
    assert found.complete
    assert found.kinds == set()


@pytest.mark.skipif(NO_STRACE is not None, reason=f"system-call source unavailable: {NO_STRACE}")
@pytest.mark.parametrize(
    "mutant",
    [
        "snapshot-in-place",  # process and power
        "memory-before-wal",  # the reader's look, taken inside the traced interpreter
    ],
)
def test_a_mutant_activated_in_the_traced_child_is_caught_through_the_system_call_source_by_the_campaigns_kinds(
    installed, mutant
):
    found = crosscheck.caught(mutant, installed + "/" + mutant, ops=SYSCALL_OPS, trace="syscall", lives=False)
    assert found.complete
    assert found.kinds == crosscheck.expected(mutant)


PROBE = (
    "from tornwrite.faultinject.program.target import load; from tornwrite.engine import wal; "
    f"load({engine_target.SPEC!r}); print(wal.Wal.append.__qualname__)"
)


@pytest.mark.parametrize("mutant", [None, "wal-append-no-fsync"])
def test_loading_the_spec_string_activates_exactly_the_mutant_its_parameters_name(mutant):
    real = wal.Wal.append.__qualname__
    with engine_target.environment(crosscheck.WORKLOAD, 0, 2, False, mutant):
        printed = subprocess.run([sys.executable, "-c", PROBE], capture_output=True, text=True, check=True).stdout
    assert (printed.strip() == real) == (mutant is None)
    assert engine_target.ENVIRONMENT not in os.environ  # the next run does not inherit it
    assert wal.Wal.append.__qualname__ == real  # nor does the parent keep it


def test_a_mutant_is_kept_out_of_the_parent_after_its_run(installed):
    real = wal.Wal.append
    crosscheck.caught("wal-append-no-fsync", installed + "/m", ops=1, lives=False)
    assert wal.Wal.append is real
    assert engine_target.ENVIRONMENT not in os.environ
