"""What a repro prints: the files a crash left, what recovery did with them, and the verdict."""

from __future__ import annotations

from collections.abc import Callable

from tornwrite.faultinject.core.execution import relative
from tornwrite.faultinject.core.verdicts import Recovered, judge
from tornwrite.models.checker import Oracle

_TAIL_LINES = 3


def file_lines(files: dict[str, bytes]) -> list[str]:
    """The files of a data directory, with sizes and the readable tail of each WAL segment."""
    lines = []
    for name in sorted(files):
        content = files[name]
        lines.append(f"  {name}  {len(content)} bytes")
        if name.startswith("wal-"):
            for tail in content.split(b"\n")[-_TAIL_LINES - 1 :]:
                if tail:
                    text = tail.decode("utf-8", "replace")
                    lines.append(f"      | {text[:100]}{'...' if len(text) > 100 else ''}")
    return lines or ["  (empty)"]


def recovery_lines(recovered: Recovered) -> list[str]:
    if recovered.error:
        return [f"  recovery REFUSED: {recovered.error}"]
    report = recovered.report
    assert report is not None  # every recovery that did not fail carries its report
    lines = [
        f"  snapshot: {relative(report.snapshot) if report.snapshot else 'none'} (LSN {report.snapshot_lsn}); "
        f"replayed {report.records_replayed} records; last LSN {report.last_lsn}"
    ]
    lines += [
        f"  discarded {relative(d.path)} from offset {d.offset}: {d.nbytes} bytes, {d.records} whole "
        f"records ({d.reason})"
        for d in report.discarded
    ]
    lines += [f"  removed {relative(path)}" for path in report.removed]
    if recovered.reader_refused:
        reader = "refuses: " + recovered.reader_refused
    else:
        reader = "agrees" if recovered.reader_state == recovered.state else "DISAGREES"
    lines.append(f"  format reader: {reader}")
    return lines


def verdict_lines(
    oracle: Oracle,
    recovered: Recovered,
    acked: int,
    in_flight: bool,
    check_time: float,
    observed: int,
    out: Callable[[str], object],
) -> int:
    """Print the checker's verdict on `recovered`; 0 if it is ok, else 1."""
    verdict = judge(oracle, recovered, acked=acked, in_flight=in_flight, check_time=check_time, observed=observed)
    out(f"verdict: {verdict.outcome}")
    if verdict.detail:
        out(verdict.detail)
    return 0 if verdict.outcome == "ok" else 1
