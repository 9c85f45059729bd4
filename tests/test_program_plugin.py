"""The pytest plugin: its interposer is in place before test modules import the code under test,
and its fixture fails a test with the crash report."""

import importlib.metadata
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
