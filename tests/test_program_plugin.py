"""The pytest plugin: its interposer is in place before test modules import the code under test,
and its fixture fails a test with the crash report."""

import importlib.metadata
import os
import subprocess
import sys
import textwrap

PLUGIN = "tornwrite.faultinject.program.pytest_plugin"

# Code under test that binds os.fsync, os.replace and open at import: seen only if the
# interposer was installed before this module was imported.
STORE = """
import json, os
_fsync, _replace, _open = os.fsync, os.replace, open

def save(path, data, *, careful):
    name = os.path.join(path, "db.json")
    if not careful:
        with _open(name, "w") as f:
            json.dump(data, f)
        return
    with _open(name + ".tmp", "w") as f:
        json.dump(data, f)
        f.flush()
        _fsync(f.fileno())
    _replace(name + ".tmp", name)
    fd = os.open(path, os.O_RDONLY)
    _fsync(fd)
    os.close(fd)
"""

TESTS = """
import json, os
import bound_store

class Careful:
    careful = True

    @classmethod
    def workload(cls, path, ack):
        for i in range(3):
            bound_store.save(path, {"n": i}, careful=cls.careful)
            ack(i)

    @staticmethod
    def recover(path):
        try:
            with open(os.path.join(path, "db.json")) as f:
                return json.load(f)["n"]
        except FileNotFoundError:
            return -1

    @staticmethod
    def check(state, acked):
        assert not acked or state >= acked[-1], f"lost acked save {acked[-1]}"

class Careless(Careful):
    careful = False

def test_careful(crash_program):
    run = crash_program(Careful)
    assert len(run.trace.steps) == 15  # the fsyncs bound at import are in the trace

def test_careless(crash_program):
    crash_program(Careless, kinds=("process",))
"""


def registered_by_entry_point() -> bool:
    return any(ep.value == PLUGIN for ep in importlib.metadata.entry_points(group="pytest11"))


def test_the_fixture_passes_a_careful_store_and_fails_a_careless_one_with_the_report(tmp_path):
    (tmp_path / "bound_store.py").write_text(STORE)
    (tmp_path / "test_store.py").write_text(textwrap.dedent(TESTS))
    plugin = [] if registered_by_entry_point() else ["-p", PLUGIN]
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-p", "no:xdist", *plugin, "test_store.py"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert "1 failed, 1 passed" in result.stdout, result.stdout + result.stderr
    assert "integrity (process)" in result.stdout
    assert "JSONDecodeError" in result.stdout


# Makes faker, matplotlib and hypothesis unimportable, as in a plain `pip install tornwrite`.
WITHOUT_EXTRAS = """
import importlib.abc, sys

class Missing(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path, target=None):
        if name.split(".")[0] in ("faker", "matplotlib", "hypothesis"):
            raise ModuleNotFoundError(f"No module named {name!r}", name=name)

sys.meta_path.insert(0, Missing())
"""


def pytest_in(tmp_path, *argv, blocked: bool):
    env = dict(os.environ)
    if blocked:
        (tmp_path / "blocker").mkdir(exist_ok=True)
        (tmp_path / "blocker" / "sitecustomize.py").write_text(WITHOUT_EXTRAS)
        env["PYTHONPATH"] = str(tmp_path / "blocker")
        argv = ("-p", "no:hypothesispytest", *argv)  # hypothesis's own plugin, here only because dev installs it
    plugin = [] if registered_by_entry_point() else ["-p", PLUGIN]
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-p", "no:xdist", *plugin, *argv],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=300,
        env=env,
    )


def test_loading_the_plugin_imports_nothing_of_the_harness():
    probe = (
        f"import sys, {PLUGIN}; "
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('faker', 'matplotlib', 'hypothesis') "
        "or m.startswith('tornwrite.faultinject.program.run') or m.startswith('tornwrite.engine')))"
    )
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0 and done.stdout.strip() == "[]", done.stdout + done.stderr


def test_an_unrelated_suite_passes_and_the_fixture_works_without_the_extras(tmp_path):
    (tmp_path / "test_unrelated.py").write_text("def test_one():\n    assert 1 + 1 == 2\n")
    done = pytest_in(tmp_path, "test_unrelated.py", blocked=True)
    assert done.returncode == 0 and "1 passed" in done.stdout, done.stdout + done.stderr
    (tmp_path / "bound_store.py").write_text(STORE)
    (tmp_path / "test_store.py").write_text(textwrap.dedent(TESTS))
    done = pytest_in(tmp_path, "test_store.py", "--tornwrite-report", str(tmp_path / "reports"), blocked=True)
    assert "1 failed, 1 passed" in done.stdout, done.stdout + done.stderr
    summary = (tmp_path / "reports" / "Careless" / "summary.md").read_text()  # the fixture writes its report
    assert "crash map not drawn: it needs matplotlib (pip install 'tornwrite[figures]')" in summary
    assert f"report: {tmp_path / 'reports' / 'Careless' / 'summary.md'}" in done.stdout
