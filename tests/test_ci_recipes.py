"""The GitHub Actions workflows in docs/ci/: they may publish checks, run once per pull request,
and every command they run exists, with every option it is given."""

import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

DOCS = Path(__file__).resolve().parent.parent / "docs" / "ci"
WORKFLOWS = sorted(DOCS.glob("*.yml"))
JUNIT_ACTION = "mikepenz/action-junit-report"


def load(path: Path) -> dict:
    document = yaml.safe_load(path.read_text())
    document["on"] = document.pop(True, document.get("on"))  # YAML 1.1 reads the key `on` as true
    return document


def steps(document: dict) -> list[dict]:
    return [step for job in document["jobs"].values() for step in job["steps"]]


def commands(document: dict) -> list[list[str]]:
    """Each command line the workflow runs, split into words, with ${{ ... }} as a placeholder."""
    found = []
    for step in steps(document):
        for line in step.get("run", "").splitlines():
            line = re.sub(r"\$\{\{[^}]*\}\}", "1", line.split(" #", 1)[0]).strip()
            for part in re.split(r"\|\||&&", line):
                if part.strip():
                    found.append(shlex.split(part))
    return found


def test_there_is_a_recipe_for_a_users_own_program_and_for_this_repositorys_campaign():
    assert {p.name for p in WORKFLOWS} >= {"own-program.yml", "crash-test.yml"}


@pytest.mark.parametrize("path", WORKFLOWS, ids=lambda p: p.name)
def test_a_workflow_publishing_junit_may_write_checks_and_reads_nothing_more(path):
    document = load(path)
    publishes = [s for s in steps(document) if s.get("uses", "").startswith(JUNIT_ACTION)]
    assert publishes and document["permissions"] == {"contents": "read", "checks": "write"}
    for step in publishes:  # a fork's pull request has a read-only token: the step is skipped there, not failed
        assert "always()" in step["if"] and "head.repo.full_name == github.repository" in step["if"]


@pytest.mark.parametrize("path", WORKFLOWS, ids=lambda p: p.name)
def test_a_workflow_runs_once_per_pull_request(path):
    triggers = load(path)["on"]
    assert "pull_request" in triggers
    # push on every branch would run a pull request's branch twice
    assert set(triggers) <= {"pull_request", "push", "workflow_dispatch"}
    if "push" in triggers:
        branches = triggers["push"]["branches"]
        assert branches and not any("*" in b for b in branches)


def test_the_own_program_recipe_installs_tornwrite_from_the_index_and_never_calls_make():
    runs = commands(load(DOCS / "own-program.yml"))
    installs = [c for c in runs if c[:4] == ["python", "-m", "pip", "install"]]
    assert any("tornwrite" in c[4:] for c in installs)
    assert not any(c[0] == "make" for c in runs)
    assert any(c[:2] == ["tornwrite", "program"] and "--junit" in c for c in runs)


def options_of(subcommand: str) -> set[str]:
    done = subprocess.run(
        [sys.executable, "-m", "tornwrite.faultinject", subcommand, "--help"], capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr
    return set(re.findall(r"--[a-z][a-z-]*", done.stdout))


@pytest.mark.parametrize("path", WORKFLOWS, ids=lambda p: p.name)
def test_every_command_a_workflow_runs_exists_with_its_options(path):
    for words in commands(load(path)):
        if words[0] == "tornwrite":
            given = {w.split("=", 1)[0] for w in words[2:] if w.startswith("--")}
            assert given <= options_of(words[1]), (words, given - options_of(words[1]))
        elif words[:3] == ["python", "-m", "pip"]:
            assert words[3] == "install"
        elif words[:3] == ["python", "-m", "pytest"]:
            assert_pytest_knows(words)
        elif words != ["true"]:  # `|| true`: a shard's status is the merge's to judge
            pytest.fail(f"{path.name} runs {words[0]!r}, which this test does not know how to check")


def test_the_commented_pytest_alternative_is_checked_too():
    text = (DOCS / "own-program.yml").read_text()
    line = next(line for line in text.splitlines() if "run: python -m pytest" in line)
    assert_pytest_knows(shlex.split(line.split("run:", 1)[1]))


def assert_pytest_knows(words: list[str]) -> None:
    """Every --option of `python -m pytest ...` is in pytest's help here (the plugin's included)."""
    known = subprocess.run([sys.executable, "-m", "pytest", "--help"], capture_output=True, text=True).stdout
    assert words[:3] == ["python", "-m", "pytest"]
    assert all(w.split("=", 1)[0] in known for w in words[3:] if w.startswith("--")), words
