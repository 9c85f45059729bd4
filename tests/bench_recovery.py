"""Recovery time against WAL length and snapshot size (`make report-perf`).

Each point is a data directory built directly, holding the same final state two ways: a WAL
segment of N `set` records (one key each, written without per-record fsyncs), or a snapshot of
the same N keys written by engine.snapshot.write_snapshot. `Store.open` is timed a few times on
each, and the two series are plotted against count and against bytes on disk, with the rates a
straight-line fit gives. Each point keeps its fastest open: on a shared machine the slower ones
measure the neighbours. Nothing here is asserted; read the rates and the shape, not the third digit.

    python -m tests.bench_recovery [--quick] [--out reports/perf] [--dir SCRATCH] [--repeat N]
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import platform
import shutil
import sys
import tempfile
import time
from dataclasses import asdict, dataclass

from tornwrite.engine import IOLayer, Store
from tornwrite.engine.codec import encode_record
from tornwrite.engine.format import Entries, wal_header, wal_name
from tornwrite.engine.snapshot import write_snapshot

SIZES = (10_000, 25_000, 50_000, 100_000, 200_000, 400_000)
QUICK_SIZES = (5_000, 20_000, 50_000)
SERIES = {"wal": "WAL replay (records)", "snapshot": "snapshot load (keys)"}
COLOURS = {"wal": "#e15759", "snapshot": "#4e79a7"}
_BATCH = 10_000  # records encoded per write while building a WAL


@dataclass(frozen=True)
class Point:
    series: str  # "wal" or "snapshot"
    count: int  # WAL records or snapshot keys
    nbytes: int  # on disk
    seconds: float  # the fastest Store.open of the repeats
    runs: tuple[float, ...]


def _key(i: int) -> str:
    return f"user:{i:08d}"


def _value(i: int) -> bytes:
    return b"payload-%08d" % i


def build_wal(path: str, records: int, distinct_keys: int | None = None) -> int:
    """A data directory holding one WAL segment of `records` set records (over `distinct_keys`
    keys, or each to its own); its size in bytes."""
    os.makedirs(path)
    segment = os.path.join(path, wal_name(1))
    keys = distinct_keys or records
    with open(segment, "wb") as f:  # no fsync per record: a sweep needs the bytes, not durability
        f.write(wal_header(1))
        for start in range(1, records + 1, _BATCH):
            f.write(
                b"".join(
                    encode_record(lsn, "set", (_key(lsn % keys), _value(lsn), None))
                    for lsn in range(start, min(start + _BATCH, records + 1))
                )
            )
    return os.path.getsize(segment)


def build_snapshot(path: str, keys: int) -> int:
    """A data directory as a snapshot leaves it: the snapshot of `keys` keys (the WAL series'
    final state) and the empty WAL segment after it; the snapshot's size in bytes."""
    os.makedirs(path)
    entries: Entries = {_key(i): (_value(i), None) for i in range(1, keys + 1)}
    snapshot = write_snapshot(IOLayer(), path, keys, entries)
    with open(os.path.join(path, wal_name(keys + 1)), "wb") as f:  # else the first open creates it, fsyncs and all
        f.write(wal_header(keys + 1))
    return os.path.getsize(snapshot)


def time_open(path: str, count: int, series: str, repeat: int) -> list[float]:
    runs = []
    for _ in range(repeat):
        gc.collect()  # the previous store's garbage is not this open's cost
        started = time.perf_counter()
        store = Store.open(path)
        seconds = time.perf_counter() - started
        recovered = store.recovery
        store.close()
        if (recovered.records_replayed if series == "wal" else recovered.snapshot_lsn) != count:
            raise RuntimeError(f"{path}: expected {count} {series} items recovered, got {recovered}")
        runs.append(seconds)
    return runs


def sweep(sizes=SIZES, repeat: int = 3, scratch: str | None = None, progress=sys.stderr) -> list[Point]:
    base = tempfile.mkdtemp(prefix="redislite-perf-", dir=scratch)
    points = []
    try:
        for series, build in (("wal", build_wal), ("snapshot", build_snapshot)):
            for count in sizes:
                path = os.path.join(base, f"{series}-{count}")
                nbytes = build(path, count)
                runs = time_open(path, count, series, repeat)
                points.append(Point(series, count, nbytes, min(runs), tuple(runs)))
                shutil.rmtree(path)
                print(f"{series:<9} {count:>9,} {nbytes / 1e6:>8.1f} MB {points[-1].seconds:>8.3f} s", file=progress)
    finally:
        shutil.rmtree(base, ignore_errors=True)
    return points


def fit(points: list[Point]) -> float:
    """Items per second: the least-squares line through the origin, seconds = count / rate.
    Through the origin because opening an empty directory takes about a millisecond, and a free
    intercept comes out negative when the largest points run a little slower per item."""
    return sum(p.count**2 for p in points) / sum(p.count * p.seconds for p in points)


def plot(points: list[Point], path: str) -> None:
    from tornwrite.faultinject.report.figures import load_matplotlib

    Figure, _, _ = load_matplotlib()
    figure = Figure(figsize=(12, 4.8), layout="constrained", dpi=120)
    by_count, by_bytes = figure.subplots(1, 2)
    rates = {}
    for series, label in SERIES.items():
        mine = [p for p in points if p.series == series]
        if not mine:
            continue
        rate = rates[series] = fit(mine)
        counts = [p.count for p in mine]
        by_count.plot(counts, [p.seconds for p in mine], "o", color=COLOURS[series], label=label)
        by_count.plot(
            [0, max(counts)],
            [0, max(counts) / rate],
            "-",
            color=COLOURS[series],
            alpha=0.5,
            linewidth=1,
            label=f"fit: {_rate(rate)}/s",
        )
        by_bytes.plot(
            [p.nbytes / 1e6 for p in mine],
            [p.seconds for p in mine],
            "o-",
            color=COLOURS[series],
            label=f"{label}: {sum(p.nbytes for p in mine) / 1e6 / sum(p.seconds for p in mine):.0f} MB/s",
        )
    from matplotlib.ticker import FuncFormatter

    by_count.xaxis.set_major_formatter(FuncFormatter(lambda x, _: f"{x / 1000:.0f}k" if x else "0"))
    by_count.set_xlabel("WAL records, or snapshot keys (either way: that many keys recovered)")
    by_bytes.set_xlabel("bytes on disk (MB)")
    for ax in (by_count, by_bytes):
        ax.set_ylabel("Store.open (s)")
        ax.set_xlim(left=0)
        ax.set_ylim(bottom=0)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8, frameon=False)
        for spine in ("top", "right"):
            ax.spines[spine].set_visible(False)
    title = "Recovery time: " + ", ".join(
        f"{'WAL replay' if s == 'wal' else 'snapshot load'} {_rate(r)} {'records' if s == 'wal' else 'keys'}/s"
        for s, r in rates.items()
    )
    figure.suptitle(title, fontsize=12)
    by_count.set_title("against records / keys", fontsize=10, loc="left")
    by_bytes.set_title("against size on disk", fontsize=10, loc="left")
    figure.savefig(path)


def _rate(per_second: float) -> str:
    return f"{per_second / 1e6:.2f}M" if per_second >= 1e6 else f"{per_second / 1e3:.0f}k"


def write_summary(points: list[Point], out: str, scratch: str, seconds: float) -> None:
    lines = [
        "# Recovery time",
        "",
        f"- {machine()}; scratch directory on {filesystem(scratch)}; sweep took {seconds:.1f} s",
        "- each point: a data directory built directly, then the fastest of "
        f"{len(points[0].runs) if points else 0} timed `Store.open` calls",
        "",
        "![Recovery time against WAL and snapshot size](recovery.png)",
        "",
        "| series | count | MB on disk | seconds | per second |",
        "|---|---|---|---|---|",
    ]
    for p in points:
        lines.append(
            f"| {p.series} | {p.count:,} | {p.nbytes / 1e6:.1f} | {p.seconds:.3f} | {p.count / p.seconds:,.0f} |"
        )
    for series in SERIES:
        mine = [p for p in points if p.series == series]
        if mine:
            lines.append(f"\n{SERIES[series]}: {fit(mine):,.0f}/s (least squares through the origin).")
    with open(os.path.join(out, "summary.md"), "w") as f:
        f.write("\n".join(lines) + "\n")


def machine() -> str:
    cpu = platform.processor() or "unknown cpu"
    try:
        with open("/proc/cpuinfo") as f:
            cpu = next(line.split(":", 1)[1].strip() for line in f if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    return f"{cpu}, {os.cpu_count()} cores, Python {platform.python_version()}"


def filesystem(path: str) -> str:
    """The file system type of the mount holding `path` (Linux; "unknown" elsewhere)."""
    path, best = os.path.realpath(path), ("", "unknown")
    try:
        with open("/proc/mounts") as f:
            for line in f:
                fields = line.split()
                if len(fields) > 2 and (path == fields[1] or path.startswith(fields[1].rstrip("/") + "/")):
                    best = max(best, (fields[1], fields[2]), key=lambda mount: len(mount[0]))
    except OSError:
        pass
    return best[1]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.bench_recovery", description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help=f"sizes {QUICK_SIZES}, two opens each")
    parser.add_argument("--sizes", help=f"comma-separated record/key counts (default: {','.join(map(str, SIZES))})")
    parser.add_argument("--repeat", type=int, help="timed opens per point (default 3; --quick: 1)")
    parser.add_argument("--out", default=os.path.join("reports", "perf"), help="where recovery.png goes")
    parser.add_argument("--dir", default=None, help="scratch directory for the data directories")
    args = parser.parse_args(argv)
    sizes = tuple(int(s) for s in args.sizes.split(",")) if args.sizes else QUICK_SIZES if args.quick else SIZES
    repeat = args.repeat or (2 if args.quick else 3)
    scratch = args.dir or tempfile.gettempdir()
    started = time.perf_counter()
    points = sweep(sizes, repeat, scratch)
    seconds = time.perf_counter() - started
    os.makedirs(args.out, exist_ok=True)
    plot(points, os.path.join(args.out, "recovery.png"))
    write_summary(points, args.out, scratch, seconds)
    with open(os.path.join(args.out, "recovery.json"), "w") as f:
        json.dump(
            {"machine": machine(), "filesystem": filesystem(scratch), "points": [asdict(p) for p in points]},
            f,
            indent=1,
        )
    print(f"wrote {args.out}/recovery.png and {args.out}/summary.md ({seconds:.1f} s)", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
