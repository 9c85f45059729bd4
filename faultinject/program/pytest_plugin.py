"""The pytest front door: a `crash_program` fixture that crash-tests a target inside a test.

Registered through the `pytest11` entry point, so pytest loads it in every run of the
environment: at load it imports nothing but pytest, and it never fails an unrelated run. The
interposer goes in at `pytest_configure`, before the code under test is imported, so whatever
that code binds at import (`_fsync = os.fsync`, `open`) is traced; the harness itself is
imported only when the fixture is first used.

    def test_my_store_survives_crashes(crash_program):
        crash_program("myapp.persistence:CrashTarget")      # or the target object itself

The fixture runs the same check as `tornwrite program`, writes the same report (under pytest's
temporary directory, or `--tornwrite-report DIR`) and fails the test with the report's failures
and path when any crash state fails. Disable with `-p no:tornwrite_program`.
"""

from __future__ import annotations

import os
import re
import shutil
import tempfile

import pytest

_BASE: list[str] = []  # the interposer's base directory for this pytest process
_PROBLEM: list[str] = []  # why the interposer is not in place, told only when the fixture is used


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--tornwrite-report",
        metavar="DIR",
        help="where crash_program writes its reports (DIR/<target>/); default: pytest's temporary directory",
    )


def pytest_configure(config: pytest.Config) -> None:
    try:
        from tornwrite.faultinject.program import install

        parent = "/dev/shm" if os.path.isdir("/dev/shm") else None
        _BASE.append(tempfile.mkdtemp(prefix="tornwrite-pytest-", dir=parent))
        install.install(_BASE[0])
    except Exception as exc:  # a suite that never uses the fixture must not pay for a broken harness
        _PROBLEM.append(f"{type(exc).__name__}: {exc}")


def pytest_unconfigure(config: pytest.Config) -> None:
    if _BASE:
        from tornwrite.faultinject.program import install

        install.uninstall()
        shutil.rmtree(_BASE.pop(), ignore_errors=True)


@pytest.fixture
def crash_program(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory):
    """crash_program(target, kinds=("process", "power"), kill=0, seed=0, trace=None) -> ProgramRun;
    writes the report and fails the test with it unless the run's status is 0: a failure (1) or no
    verdict (3, the trace is known to be incomplete). `target`: a spec string or an object with
    setup/workload/recover/check. `trace`: "syscall" or "python"; by default the system-call
    source for a spec string where ptrace is permitted, else the interposer (an object built in
    this process cannot be loaded by the fresh interpreter the system-call source traces)."""
    if _PROBLEM or not _BASE:
        why = _PROBLEM[0] if _PROBLEM else "was it disabled with -p no:tornwrite_program?"
        pytest.fail(f"the tornwrite crash_program fixture is not available: {why}", pytrace=False)
    try:
        from tornwrite.faultinject.program import report, sources, target
        from tornwrite.faultinject.program.run import KINDS, Options, crash_test
    except ImportError as exc:
        pytest.fail(f"the tornwrite crash_program fixture cannot load the harness: {exc}", pytrace=False)
    reports = request.config.getoption("--tornwrite-report")

    def run(spec_or_object, *, kinds: tuple[str, ...] = KINDS, kill: int = 0, seed: int = 0, trace=None):
        if isinstance(spec_or_object, str):
            loaded = target.load(spec_or_object)
            source = trace or sources.choose(None)[0]
        else:
            name = getattr(spec_or_object, "__name__", type(spec_or_object).__name__)
            loaded = target.of(spec_or_object, name, name)
            source = trace or "python"
        scratch = tempfile.mkdtemp(dir=_BASE[0])
        try:
            options = Options(tuple(kinds), kill, seed, trace=source)
            result = crash_test(loaded, options, scratch, lambda *a, **k: None)
        finally:
            shutil.rmtree(scratch, ignore_errors=True)
        safe = re.sub(r"[^\w.-]", "_", loaded.name)
        out = (
            os.path.join(reports, safe) if reports else str(tmp_path_factory.mktemp(f"tornwrite-{safe}", numbered=True))
        )
        report.write(result, out)
        if result.status != 0:
            pytest.fail(
                f"{report.verdict_line(result)}\n\n{report.summary(result, ' ')}\nreport: {out}/summary.md",
                pytrace=False,
            )
        return result

    return run
