"""The fault walkthroughs: each story runs, writes its page and figure, and still tells the truth.

A story's numbers come from running the engine, and its claims check the facts its prose relies
on; these tests hold the key facts directly, and show that a story notices when the engine
under it changes (a mutant makes it fail).
"""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from tornwrite.faultinject.walkthrough import figure as timeline
from tornwrite.faultinject.walkthrough import scenarios as walkthrough
from tornwrite.faultinject.walkthrough.render import acked_text, track_lines
from tornwrite.faultinject.walkthrough.scenarios import SCENARIOS, main, tell
from tornwrite.faultinject.walkthrough.story import START_TIME
from tornwrite.faultinject.walkthrough.wal import DOWN_LONG, DOWN_SHORT
from tornwrite.faultinject.zoo import mutants
from tornwrite.models.ops import Op

NAMES = list(SCENARIOS)
ROOT = Path(__file__).resolve().parents[1]
COMMITTED = ROOT / "docs" / "walkthroughs"


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
        assert figure.startswith(b"\x89PNG\r\n\x1a\n") and 10_000 < len(figure) < 200_000
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


# --- the committed pages and figures (docs/walkthroughs/) -------------------------------------------


@pytest.mark.parametrize("name", NAMES)
def test_the_committed_page_is_what_a_run_writes_now(stories, name):
    committed = COMMITTED / f"{name}.md"
    assert committed.is_file(), f"{committed} is missing: run `make walkthroughs` and commit it"
    now = walkthrough.markdown(stories[name], f"{name}.png")
    assert committed.read_text(encoding="utf-8") == now, f"{committed} is stale: run `make walkthroughs`"


@pytest.mark.parametrize("name", NAMES)
def test_the_committed_figure_was_drawn_from_that_page_by_this_figure_code_and_is_small(stories, name):
    committed = COMMITTED / f"{name}.png"
    assert committed.is_file(), f"{committed} is missing: run `make walkthroughs` and commit it"
    now = walkthrough.markdown(stories[name], f"{name}.png")
    assert timeline.digest_of(str(committed)) == timeline.source_digest(now), f"{committed} is stale"
    assert committed.stat().st_size < 200_000


def _links(markdown: str) -> list[str]:
    return [target for target in re.findall(r"\]\(([^)\s]+)\)", markdown) if "://" not in target]


def _ignored_by_git(path: Path) -> bool:
    checked = subprocess.run(["git", "check-ignore", "-q", str(path)], cwd=ROOT, capture_output=True)
    if checked.returncode not in (0, 1):
        pytest.skip("not a git checkout: cannot tell what a fresh clone would hold")
    return checked.returncode == 0


def test_every_link_of_the_walkthroughs_index_resolves_to_a_tracked_path():
    index = ROOT / "docs" / "WALKTHROUGHS.md"
    links = _links(index.read_text(encoding="utf-8"))
    assert {f"walkthroughs/{name}.md" for name in NAMES} <= set(links)  # every story is linked
    for target in links:
        path = (index.parent / target).resolve()
        assert path.is_file(), f"docs/WALKTHROUGHS.md links to {target}, which does not exist"
        assert not _ignored_by_git(path), f"docs/WALKTHROUGHS.md links to {target}, which git ignores"


@pytest.mark.parametrize("name", NAMES)
def test_every_link_of_a_committed_page_resolves(name):
    page = COMMITTED / f"{name}.md"
    links = _links(page.read_text(encoding="utf-8"))
    assert f"{name}.png" in links
    for target in links:
        assert (page.parent / target).is_file() and not _ignored_by_git(page.parent / target), target


# --- narration ---------------------------------------------------------------------------------------


def test_a_tick_is_narrated_as_a_clock_move_not_an_acked_command(stories):
    run = stories["ttl-across-crash"].panels[0][1][0]
    lines = track_lines(run, walkthrough.Style(False))
    tick = next(line for line in lines if "tick(5)" in line)
    assert "not a store command" in tick and f"the clock moves to {START_TIME + 5!r}" in tick
    assert "acked" not in tick and "returned" not in tick
    acked = next(line for line in lines if line.strip().startswith("acked:"))
    assert acked.strip().startswith("acked: op 1 (op 2 moved the clock")


def test_acked_ops_are_store_commands_and_ticks_are_named_apart():
    ops = (Op.of("set", "a", b"1"), Op.of("tick", 5), Op.of("set", "b", b"2"), Op.of("set", "c", b"3"))
    assert acked_text(ops, 4, False) == "acked: ops 1, 3, 4 (op 2 moved the clock: a tick, not acked)"
    assert acked_text(ops, 1, True) == "acked: op 1; op 2 in flight, never acknowledged"
    assert acked_text(ops[1:2], 1, False) == "acked: none (op 1 moved the clock: a tick, not acked)"
    assert acked_text(ops[2:], 2, False) == "acked: ops 1..2"


# --- the figures ------------------------------------------------------------------------------------------


def test_the_collision_check_sees_two_texts_on_top_of_each_other():
    fig = Figure(figsize=(3, 2))
    FigureCanvasAgg(fig)
    fig.text(0.5, 0.5, "snapshot.rename", rotation=90)
    fig.text(0.5, 0.6, "power loss")
    assert ("snapshot.rename", "power loss") in timeline.collisions(fig)


@pytest.mark.parametrize("name", NAMES)
def test_no_text_of_a_figure_hides_another_or_falls_off_its_edge(stories, name):
    assert timeline.collisions(timeline.build(stories[name])) == []


def _boxes(story) -> dict[str, str]:
    moves = timeline.clock_moves(story)
    return {
        track.title: "\n".join(line for line, _ in timeline.box_lines(track, moves))
        for _, tracks, _ in story.panels
        for track in tracks
    }


def test_the_what_if_figure_shows_the_list_each_recovery_holds(stories):
    boxes = _boxes(stories["snapshot-rename-after"])
    assert "queue = [job-1, job-2]\n" in boxes["recovery"] and "checker: ok" in boxes["recovery"]
    mutant = boxes["recovery by the mutant"]
    assert "queue = [job-1, job-2, job-2]" in mutant and "job-2 is in queue 2 times" in mutant
    assert "checker: ok" not in mutant


def test_the_ttl_figure_shows_the_clock_the_expire_at_and_the_visibility_as_the_text_does(stories):
    story = stories["ttl-across-crash"]
    boxes = _boxes(story)
    early, late = f"restart, {DOWN_SHORT} s down", f"restart, {DOWN_LONG} s down"  # the text's own words
    assert set(boxes) == {"the workload", early, late}
    assert "power loss at start +5 s" in boxes["the workload"]
    assert "expire_at start +30 s" in boxes["the workload"]
    flat = {title: " ".join(box.split()) for title, box in boxes.items()}
    assert f"clock start +20 s ({DOWN_SHORT} s down)" in flat[early] and "expire_at start +30 s" in flat[early]
    assert "session:ada visible: ttl → 10 s" in flat[early]
    assert f"clock start +45 s ({DOWN_LONG} s down)" in flat[late] and "expire_at start +30 s" in flat[late]
    assert "session:ada NOT visible: get → None" in flat[late] and "expired" in flat[late]
    page = walkthrough.markdown(story, "ttl-across-crash.png")
    assert f"## Restart after {DOWN_SHORT} s down" in page and f"## Restart after {DOWN_LONG} s down" in page


def test_the_default_output_is_this_checkouts_pages():
    assert walkthrough.DEFAULT_OUT is not None and Path(walkthrough.DEFAULT_OUT) == COMMITTED


def test_an_installed_package_without_out_writes_nothing_into_the_current_directory(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(walkthrough, "DEFAULT_OUT", None)  # as when no checkout is next to the package
    assert main([NAMES[0]]) == 0
    assert list(tmp_path.iterdir()) == [] and "not written: give --out DIR" in capsys.readouterr().out


def test_out_holding_a_users_files_is_refused_before_any_story_is_told(tmp_path, capsys):
    (tmp_path / "notes.md").write_text("mine")
    assert main([NAMES[0], "--out", str(tmp_path)]) == 2
    assert "did not write" in capsys.readouterr().err and [p.name for p in tmp_path.iterdir()] == ["notes.md"]
