"""Old format versions still replay: committed directories older engines wrote (tests/fixtures)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from tests.support import FakeClock
from tornwrite.engine import Store
from tornwrite.models.format_reader import read_directory

FIXTURES = Path(__file__).parent / "fixtures"
VERSIONS = ["format-v1", "format-v2"]


def _expected(name: str) -> tuple[float, dict]:
    loaded = json.loads((FIXTURES / name / "expected.json").read_text(encoding="utf-8"))
    state = {}
    value: object
    for key, (kind, shown, expire_at) in loaded["state"].items():
        if kind == "string":
            value = bytes.fromhex(shown)
        elif kind == "list":
            value = [bytes.fromhex(item) for item in shown]
        else:
            value = {field: bytes.fromhex(item) for field, item in shown.items()}
        state[key] = (kind, value, expire_at)
    return loaded["now"], state


def _copy(name: str, tmp_path: Path) -> Path:
    target = tmp_path / name
    shutil.copytree(FIXTURES / name / "data", target)
    return target


@pytest.mark.parametrize("name", VERSIONS)
def test_a_directory_an_older_engine_wrote_recovers_to_the_state_it_held(name, tmp_path):
    now, state = _expected(name)
    with Store.open(_copy(name, tmp_path), clock=FakeClock(now)) as store:
        assert store.dump() == state, f"repro: pytest tests/test_format_fixtures.py -k {name}"
        assert store.recovery.discarded == ()


@pytest.mark.parametrize("name", VERSIONS)
def test_the_format_reader_reads_an_older_engines_directory_as_the_engine_does(name, tmp_path):
    now, state = _expected(name)
    reading = read_directory(_copy(name, tmp_path))
    assert reading.refused is None and reading.stop is None
    assert reading.view(now) == state


@pytest.mark.parametrize("name", VERSIONS)
def test_an_older_engines_directory_takes_new_writes_and_reopens_with_them(name, tmp_path):
    now, state = _expected(name)
    directory = _copy(name, tmp_path)
    with Store.open(directory, clock=FakeClock(now)) as store:
        assert store.append("café", " ✓✓".encode()) == len(state["café"][1]) + len(" ✓✓".encode())
        store.append("bytes", b"\x00\xff")
    with Store.open(directory, clock=FakeClock(now)) as again:
        assert again.get("café") == state["café"][1] + " ✓✓".encode()
        assert again.get("bytes") == state["bytes"][1] + b"\x00\xff"
    assert read_directory(directory).view(now)["café"][1] == state["café"][1] + " ✓✓".encode()
