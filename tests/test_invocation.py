"""Repro lines never start with a bare `python`: the console script when the one on PATH is this
environment's, else the interpreter that ran the command."""

import os
import sys

import pytest

from tornwrite.faultinject import invocation


def test_the_console_script_of_this_environment_when_it_is_the_one_on_path(monkeypatch):
    here = os.path.dirname(sys.executable)
    if not os.path.exists(os.path.join(here, "tornwrite")):
        pytest.skip("this environment has no tornwrite console script")
    monkeypatch.setenv("PATH", here + os.pathsep + os.environ.get("PATH", ""))
    assert invocation.prefix() == ["tornwrite"]


def test_the_interpreter_that_ran_when_tornwrite_is_not_on_path(monkeypatch, tmp_path):
    monkeypatch.setenv("PATH", str(tmp_path))
    assert invocation.prefix() == [sys.executable, "-m", "tornwrite.faultinject"]


def test_another_environments_tornwrite_on_path_is_not_used(monkeypatch, tmp_path):
    other = tmp_path / "tornwrite"
    other.write_text("#!/bin/sh\n")
    other.chmod(0o755)
    monkeypatch.setenv("PATH", str(tmp_path))
    assert invocation.prefix()[0] == sys.executable
