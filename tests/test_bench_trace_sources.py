"""The trace-source benchmark measures only runs whose trace holds every fsync and rename made."""

from __future__ import annotations

import shutil

from tests import bench_trace_sources


def test_each_trace_source_records_every_fsync_and_rename_the_store_makes(capsys):
    assert bench_trace_sources.main(["--runs", "5", "--ops", "2"]) == 0
    out = capsys.readouterr().out
    expected = ["untraced", "interposer"] + (["strace-seccomp", "strace-no-seccomp"] if shutil.which("strace") else [])
    for source in expected:
        assert f"| {source} | 2 |" in out, out


def test_a_store_that_saves_nothing_fails_the_benchmark_with_its_repro(capsys, monkeypatch):
    monkeypatch.setattr(bench_trace_sources, "STORE", bench_trace_sources.STORE.replace("save(path, data)\n", "pass\n"))
    assert bench_trace_sources.main(["--runs", "5", "--ops", "2", "--sources", "untraced"]) == 1
    out = capsys.readouterr().out
    assert "FAIL untraced, 2 ops" in out and "repro: " in out
