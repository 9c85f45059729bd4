"""The fault walkthroughs: each story runs, writes its page and figure, and still tells the truth.

A story's numbers come from running the engine, and its claims check the facts its prose relies
on; these tests hold the key facts directly, and show that a story notices when the engine
under it changes (a mutant makes it fail).
"""

from __future__ import annotations

import pytest

from tornwrite.faultinject.walkthrough import scenarios as walkthrough
from tornwrite.faultinject.walkthrough.scenarios import SCENARIOS, main, tell
from tornwrite.faultinject.walkthrough.story import START_TIME
from tornwrite.faultinject.zoo import mutants

NAMES = list(SCENARIOS)


@pytest.fixture(scope="module")
def stories():
    return {name: tell(name) for name in NAMES}


def test_the_brief_s_scenarios_are_all_there():
    assert set(NAMES) >= {
        "wal-torn-write",
        "snapshot-rename-before",
        "snapshot-rename-after",
        "wal-truncation",
        "ttl-across-crash",
        "power-loss-unsynced",
        "mutant-no-dir-fsync",
    }


def test_every_walkthrough_writes_its_page_and_figure(tmp_path, capsys):
    assert main(["--all", "--out", str(tmp_path)]) == 0
    printed = capsys.readouterr().out
    for name in NAMES:
        page = (tmp_path / f"{name}.md").read_text(encoding="utf-8")
        figure = (tmp_path / f"{name}.png").read_bytes()
        assert figure.startswith(b"\x89PNG\r\n\x1a\n") and len(figure) > 20_000
        assert f"![timeline of {name}]({name}.png)" in page
        assert f"python -m tornwrite.faultinject walkthrough {name}" in page
        assert "POWER LOSS" in page and "verdict:" in page and "- ✓ " in page
        assert f"━━ {name}:" in printed
    assert "\x1b[" not in printed  # captured output is not a terminal: no colour


@pytest.mark.parametrize("name", NAMES)
def test_every_claim_of_every_story_still_holds(stories, name):
    broken = [claim.text for claim in stories[name].claims if not claim.held]
    assert stories[name].claims and not broken


def test_a_torn_wal_record_is_discarded_and_the_acked_ops_survive(stories):
    facts = stories["wal-torn-write"].facts
    assert facts["torn_bytes_discarded"] > 0
    assert facts["verdict"] == "ok"
    assert facts["states"] > 40  # every byte of a 48-byte record is a place to tear it


def test_a_crash_around_the_snapshot_rename_applies_no_record_twice(stories):
    for name in ("snapshot-rename-before", "snapshot-rename-after"):
        assert stories[name].facts["queue"] == [b"job-1", b"job-2"]
        assert stories[name].facts["verdict"] == "ok"
    assert stories["snapshot-rename-after"].facts["mutant_verdict"] != "ok"


def test_recovery_survives_a_crash_during_its_own_truncation(stories):
    facts = stories["wal-truncation"].facts
    assert facts["torn_bytes_discarded"] > 0
    assert facts["compound_states"] > 0
    assert facts["verdict"] == "ok"


def test_the_wal_keeps_an_absolute_expire_at_and_the_key_expires_while_down(stories):
    facts = stories["ttl-across-crash"].facts
    assert facts["expire_at"] == START_TIME + 30
    assert facts["verdict"] == "ok"


def test_unsynced_bytes_may_vanish_but_acked_ones_never_do(stories):
    facts = stories["power-loss-unsynced"].facts
    assert facts["verdict"] == "ok"
    assert facts["mutant_verdict"] == "lost-acked-write"


def test_the_missing_directory_fsync_bites_the_mutant_and_not_the_engine(stories):
    facts = stories["mutant-no-dir-fsync"].facts
    assert facts["mutant_verdict"] != "ok" and facts["failing_states"] > 0
    assert facts["verdict"] == "ok"


@pytest.mark.parametrize(
    "name, mutant",
    [
        ("wal-torn-write", "torn-tail-fatal"),
        ("snapshot-rename-after", "replay-covered-records"),
        ("power-loss-unsynced", "wal-append-no-fsync"),
    ],
)
def test_a_story_fails_when_the_engine_under_it_changes(tmp_path, capsys, name, mutant):
    with mutants.active(mutant):
        assert main([name, "--out", str(tmp_path)]) == 1
    printed = capsys.readouterr()
    assert "NO LONGER TRUE" in printed.out + printed.err
    assert f"these stories no longer match the engine: {name}" in printed.err


def test_an_unknown_walkthrough_is_a_usage_error_that_lists_the_names(capsys):
    assert main(["no-such-story"]) == 2
    error = capsys.readouterr().err
    assert "no-such-story" in error and all(name in error for name in NAMES)
    assert main([]) == 2
    assert main(["--all", "wal-torn-write"]) == 2


def test_colour_only_on_a_terminal_and_never_with_no_color(monkeypatch):
    class Terminal:
        def isatty(self):
            return True

    monkeypatch.delenv("NO_COLOR", raising=False)
    assert walkthrough.use_color(Terminal())
    monkeypatch.setenv("NO_COLOR", "1")
    assert not walkthrough.use_color(Terminal())
    monkeypatch.delenv("NO_COLOR")
    assert not walkthrough.use_color(type("Pipe", (), {"isatty": lambda self: False})())


def test_the_terminal_text_is_coloured_when_asked_and_plain_otherwise(stories):
    story = stories["wal-torn-write"]
    coloured = "\n".join(walkthrough.terminal_lines(story, walkthrough.Style(True)))
    plain = "\n".join(walkthrough.terminal_lines(story, walkthrough.Style(False)))
    assert "\x1b[" in coloured and "\x1b[" not in plain
    assert "discarded: wal-…001.log from offset" in plain
