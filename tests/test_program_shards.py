"""`program --shard i/n` and `merge`: the shards judge every crash point exactly once, and their
merge gives the unsharded run's states, report, JUnit and exit status."""

import json

from tests.support import REWRITE_IN_PLACE_TARGET
from tornwrite.faultinject.__main__ import main
from tornwrite.faultinject.program import cli

TARGET = REWRITE_IN_PLACE_TARGET


def states(directory):
    rows = json.loads((directory / "results.json").read_text())["states"]
    return [json.dumps(row, sort_keys=True) for row in rows]


def run_shards(tmp_path, count):
    target = tmp_path / "t.py"
    target.write_text(TARGET)
    whole = cli.main([str(target), "--kill", "0", "--out", str(tmp_path / "whole"), "--quiet"])
    shards = [tmp_path / f"shard{i}" for i in range(1, count + 1)]
    for i, directory in enumerate(shards, 1):
        cli.main([str(target), "--shard", f"{i}/{count}", "--out", str(directory), "--quiet"])
    return whole, shards


def test_shards_judge_every_crash_point_exactly_once(tmp_path):
    _, shards = run_shards(tmp_path, 3)
    points = [
        (row["kind"], row["step"], row["phase"])
        for shard in shards
        for row in json.loads((shard / "results.json").read_text())["states"]
        if row["state"] == 0 and not row["restart"] and not row["life"]
    ]
    assert len(points) == len(set(points)) and all(states(shard) for shard in shards)
    whole = {(r["kind"], r["step"], r["phase"]) for r in map(json.loads, states(tmp_path / "whole"))}
    assert set(points) == whole


def test_merged_shards_give_the_unsharded_states_report_and_exit_status(tmp_path, capsys):
    whole, shards = run_shards(tmp_path, 2)
    capsys.readouterr()
    junit = tmp_path / "junit.xml"
    merged = main(["merge", *map(str, shards), "--out", str(tmp_path / "merged"), "--junit", str(junit)])
    assert whole == merged == 1
    assert states(tmp_path / "merged") == states(tmp_path / "whole")
    failures = (tmp_path / "whole" / "summary.md").read_text().split("## Failures", 1)[1]
    assert (tmp_path / "merged" / "summary.md").read_text().split("## Failures", 1)[1] == failures
    verdict = capsys.readouterr().out.splitlines()[-2]
    whole_verdict = (tmp_path / "whole" / "summary.md").read_text().split("- verdict: **", 1)[1].split("**")[0]
    assert verdict.startswith("FAIL: ") and verdict.split("), ")[0] == whole_verdict.split("), ")[0]
    assert junit.exists()


def test_merge_refuses_an_incomplete_set_of_program_shards(tmp_path, capsys):
    _, shards = run_shards(tmp_path, 2)
    assert main(["merge", str(shards[0]), "--out", str(tmp_path / "merged")]) == 2
    assert "1/2" in capsys.readouterr().err


def test_shard_with_kill_or_explain_is_a_usage_error(tmp_path):
    target = tmp_path / "t.py"
    target.write_text(TARGET)
    assert cli.main([str(target), "--shard", "1/2", "--kill", "2"]) == 2
    assert cli.main([str(target), "--shard", "3/2"]) == 2
