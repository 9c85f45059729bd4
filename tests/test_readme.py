"""The README's examples run as printed: the embedded use of the engine, and the target and
pytest test of "Crash-testing your own program" against a small store written for it."""

import re
import subprocess
import sys
from pathlib import Path

README = (Path(__file__).parent.parent / "README.md").read_text()


def python_blocks(section: str) -> list[str]:
    body = README.split(f"## {section}\n", 1)[1].split("\n## ", 1)[0]
    return re.findall(r"```python\n(.*?)```", body, re.S)


def test_readme_embedded_example_runs(tmp_path, monkeypatch):
    (example,) = python_blocks("Embedded use")
    monkeypatch.chdir(tmp_path)
    exec(compile(example, "README.md", "exec"), {})
    assert (tmp_path / "data").is_dir()


MYSTORE = '''
import json, os

class Store:
    """Saves the whole dict with the atomic-replace recipe on every put."""

    def __init__(self, path):
        self.path = path
        self.data = json.load(open(path)) if os.path.exists(path) else {}

    def put(self, key, value):
        self.data[key] = value
        temp = self.path + ".tmp"
        with open(temp, "w") as f:
            json.dump(self.data, f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(temp, self.path)
        directory = os.open(os.path.dirname(self.path), os.O_RDONLY)
        os.fsync(directory)
        os.close(directory)

    def items(self):
        return dict(self.data)
'''


def test_readme_program_target_and_pytest_test_run(tmp_path):
    target, test = python_blocks("Crash-testing your own program")
    (tmp_path / "mystore.py").write_text(MYSTORE)
    (tmp_path / "mystore_crash.py").write_text(target)
    (tmp_path / "test_mystore.py").write_text(test)
    cli = subprocess.run(
        [
            sys.executable,
            "-m",
            "tornwrite.faultinject",
            "program",
            "mystore_crash.py",
            "--out",
            str(tmp_path / "report"),
        ],
        cwd=tmp_path,
        capture_output=True,
        text=True,
    )
    assert cli.returncode == 0, cli.stdout + cli.stderr
    suite = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "test_mystore.py"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
    )
    assert suite.returncode == 0, suite.stdout + suite.stderr
