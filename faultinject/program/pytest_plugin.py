"""The pytest front door: a `crash_program` fixture that crash-tests a target inside a test.

Registered through the `pytest11` entry point, so pytest loads it before it imports any test
module; `pytest_configure` installs the interposer then, before the code under test is
imported, and whatever that code binds at import (`_fsync = os.fsync`, `open`) is traced.

    def test_my_store_survives_crashes(crash_program):
        crash_program("myapp.persistence:CrashTarget")      # or the target object itself

The fixture runs the same check as `python -m tornwrite.faultinject program` and fails the test
with the report when any crash state fails. Disable with `-p no:tornwrite_program`.
"""

from __future__ import annotations

import os
import shutil
import tempfile

import pytest

from tornwrite.faultinject.program import install, report, target
from tornwrite.faultinject.program.run import KINDS, Options, ProgramRun, crash_test

_BASE: list[str] = []  # the interposer's base directory for this pytest process


def pytest_configure(config: pytest.Config) -> None:
    parent = "/dev/shm" if os.path.isdir("/dev/shm") else None
    _BASE.append(tempfile.mkdtemp(prefix="tornwrite-pytest-", dir=parent))
    install.install(_BASE[0])


def pytest_unconfigure(config: pytest.Config) -> None:
    if _BASE:
        install.uninstall()
        shutil.rmtree(_BASE.pop(), ignore_errors=True)


@pytest.fixture
def crash_program():
    """crash_program(target, kinds=("process", "power"), kill=0, seed=0) -> ProgramRun; fails the
    test with the report when any crash state fails. `target`: a spec string or an object with
    setup/workload/recover/check."""

    def run(spec_or_object, *, kinds: tuple[str, ...] = KINDS, kill: int = 0, seed: int = 0) -> ProgramRun:
        if not _BASE:
            pytest.fail("the tornwrite program plugin is not configured (was it disabled with -p no:...?)")
        if isinstance(spec_or_object, str):
            loaded = target.load(spec_or_object)
        else:
            name = getattr(spec_or_object, "__name__", type(spec_or_object).__name__)
            loaded = target.of(spec_or_object, name, name)
        scratch = tempfile.mkdtemp(dir=_BASE[0])
        try:
            result = crash_test(loaded, Options(tuple(kinds), kill, seed), scratch, lambda *a, **k: None)
        finally:
            shutil.rmtree(scratch, ignore_errors=True)
        if result.failures:
            pytest.fail(f"{report.outcome_line(result)}\n\n{report.summary(result, ' ')}", pytrace=False)
        return result

    return run
