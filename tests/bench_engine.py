"""Engine benchmarks (`make bench`): ratios against bare baselines measured in the same run.

Never asserted anywhere: these machines are shared and noisy, so only the ratios mean much.

    python -m tests.bench_engine [--quick] [--dir DIR]
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import tempfile
import threading
import time

from tests.bench_recovery import build_wal, filesystem, machine
from tornwrite.engine import Store
from tornwrite.engine.codec import encode_record
from tornwrite.engine.format import wal_header, wal_name
from tornwrite.engine.locks import OwnedLock


def durable_sets(directory: str, count: int) -> tuple[float, float]:
    """(engine set ops/s, bare write+fsync loop ops/s) on the same directory and the same bytes."""
    values = [b"value-%06d" % i for i in range(count)]
    lines = [encode_record(i + 1, "set", (f"key-{i % 1000}", values[i], None)) for i in range(count)]

    def engine_round() -> float:
        path = os.path.join(directory, "engine")
        shutil.rmtree(path, ignore_errors=True)
        with Store.open(path) as store:
            started = time.perf_counter()
            for i in range(count):
                store.set(f"key-{i % 1000}", values[i])
            return count / (time.perf_counter() - started)

    def bare_round() -> float:
        path = os.path.join(directory, "bare.log")
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_APPEND, 0o644)
        try:
            started = time.perf_counter()
            for line in lines:
                os.write(fd, line)
                os.fsync(fd)
            return count / (time.perf_counter() - started)
        finally:
            os.close(fd)
            os.unlink(path)

    engine, bare = [], []
    for _ in range(3):  # interleaved, so drift in the disk's speed hits both alike
        engine.append(engine_round())
        bare.append(bare_round())
    return statistics.median(engine), statistics.median(bare)


def hot_appends(directory: str, count: int, size: int = 150) -> tuple[float, float, int, int]:
    """(engine append ops/s, bare write+fsync loop ops/s of the same suffixes, log bytes the
    appends added, bytes appended): every append to one key, which grows to about count * size.

    The two loops are interleaved op by op (which goes first alternates), each op timed on its
    own, and the rates are from the median op: on a shared disk, other users' bursts then slow
    both alike and the few ops they hit do not decide the figure.
    """
    # Text with non-ASCII, cut on a character boundary: valid UTF-8, logged as itself.
    suffixes = [(f"{i:06d}-" + "é" * size).encode()[:size].decode("utf-8", "ignore").encode() for i in range(count)]
    path = os.path.join(directory, "appends")
    shutil.rmtree(path, ignore_errors=True)
    bare_path = os.path.join(directory, "bare-appends.log")
    fd = os.open(bare_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_APPEND, 0o644)
    engine_seconds: list[float] = []
    bare_seconds: list[float] = []
    try:
        with Store.open(path) as store:
            segment = os.path.join(path, wal_name(1))
            before = os.path.getsize(segment)
            for i, suffix in enumerate(suffixes):
                for turn in (i % 2, 1 - i % 2):
                    started = time.perf_counter()
                    if turn == 0:
                        store.append("hot", suffix)
                        engine_seconds.append(time.perf_counter() - started)
                    else:
                        os.write(fd, suffix)
                        os.fsync(fd)
                        bare_seconds.append(time.perf_counter() - started)
            logged = os.path.getsize(segment) - before
    finally:
        os.close(fd)
        os.unlink(bare_path)
    engine_rate, bare_rate = 1 / statistics.median(engine_seconds), 1 / statistics.median(bare_seconds)
    return engine_rate, bare_rate, logged, sum(map(len, suffixes))


def gets(directory: str, count: int) -> tuple[float, float, float]:
    """(Store.get ops/s alone, bare dict.get ops/s, Store.get ops/s while a thread writes)."""
    keys = [f"key-{i}" for i in range(1000)]
    plain = {key: b"v" for key in keys}
    stream = keys * (count // len(keys))
    path = os.path.join(directory, "gets")
    shutil.rmtree(path, ignore_errors=True)
    with Store.open(path) as store:
        for key in keys[:50]:
            store.set(key, b"v")
        store._ks.data.update({key: (b"v", None) for key in keys})  # bench fill only: skip 1k fsyncs

        def rate(loop) -> float:
            started = time.perf_counter()
            loop()
            return len(stream) / (time.perf_counter() - started)

        def store_loop():
            get = store.get
            for key in stream:
                get(key)

        def dict_loop():
            get = plain.get
            for key in stream:
                get(key)

        alone = max(rate(store_loop) for _ in range(3))
        bare = max(rate(dict_loop) for _ in range(3))
        stop = threading.Event()

        def writer():
            i = 0
            while not stop.is_set():
                store.set(keys[i % 1000], b"w%d" % i)
                i += 1

        thread = threading.Thread(target=writer)
        thread.start()
        try:
            busy = max(rate(store_loop) for _ in range(3))
        finally:
            stop.set()
            thread.join()
    return alone, bare, busy


def recovery(directory: str, records: int) -> tuple[float, float, int]:
    """(records/s, seconds, WAL bytes) for opening a directory with a `records`-record WAL."""
    path = os.path.join(directory, "recovery")
    shutil.rmtree(path, ignore_errors=True)
    size = build_wal(path, records, distinct_keys=100_000)
    started = time.perf_counter()
    with Store.open(path) as store:
        seconds = time.perf_counter() - started
        assert store.recovery.records_replayed == records
    return records / seconds, seconds, size


class TimedLock:
    """Wraps the store's write lock to measure the longest time anyone held it."""

    def __init__(self, lock: OwnedLock):
        self.lock, self.longest, self.taken = lock, 0.0, 0.0

    def __enter__(self) -> None:
        self.lock.acquire()
        self.taken = time.perf_counter()

    def __exit__(self, *exc_info: object) -> None:
        self.longest = max(self.longest, time.perf_counter() - self.taken)
        self.lock.release()


def snapshot_stall(directory: str, keys: int) -> tuple[float, float, float, float, int]:
    """(snapshot seconds, longest write-lock hold, longest write during it, median write
    outside it, writes during it)."""
    path = os.path.join(directory, "snapshot")
    shutil.rmtree(path, ignore_errors=True)
    build_wal(path, keys)
    with Store.open(path) as store:
        timed = TimedLock(store._write_lock)
        store._write_lock = timed  # type: ignore[assignment]  # a lock by duck typing, for this bench only
        latencies: list[tuple[float, float]] = []  # (start, duration)
        stop = threading.Event()

        def writer():
            i = 0
            while not stop.is_set():
                started = time.perf_counter()
                store.set(f"hot-{i % 100}", b"x")
                latencies.append((started, time.perf_counter() - started))
                i += 1

        thread = threading.Thread(target=writer)
        thread.start()
        time.sleep(0.5)
        began = time.perf_counter()
        store.snapshot()
        ended = time.perf_counter()
        time.sleep(0.3)
        stop.set()
        thread.join()
    during = [d for s, d in latencies if began - d <= s <= ended]
    outside = [d for s, d in latencies if s < began - 0.05 or s > ended]
    return ended - began, timed.longest, max(during, default=0.0), statistics.median(outside), len(during)


def footprint(directory: str, keys: int) -> dict[str, float]:
    """Bytes per key in memory (tracemalloc) and on disk (WAL record, snapshot entry) for
    string keys like 'user:123456' holding 32-byte values."""
    import tracemalloc

    path = os.path.join(directory, "footprint")
    shutil.rmtree(path, ignore_errors=True)
    os.makedirs(path)
    with open(os.path.join(path, wal_name(1)), "wb") as f:
        f.write(wal_header(1))
        f.write(b"".join(encode_record(n, "set", (f"user:{n:06d}", b"v" * 32, None)) for n in range(1, keys + 1)))
    wal_bytes = os.path.getsize(os.path.join(path, wal_name(1)))
    tracemalloc.start()
    store = Store.open(path)
    memory = tracemalloc.get_traced_memory()[0]
    tracemalloc.stop()
    lsn = store.snapshot()
    snapshot_bytes = os.path.getsize(os.path.join(path, f"snapshot-{lsn:020d}.snap"))
    store.close()
    return {"memory": memory / keys, "wal": (wal_bytes - len(wal_header(1))) / keys, "snapshot": snapshot_bytes / keys}


def format_reader(records: int) -> float:
    """Seconds for the independent format reader to read a `records`-record WAL that grows one
    list and rewrites 97 hashes (tests/test_format_reader.py checks it makes one pass)."""
    from tornwrite.models.format_reader import read_files

    lines = [encode_record(1, "rpush", ("l", True, [b"start"]))]
    for i in range(1, records):
        if i % 2:
            lines.append(encode_record(i + 1, "rpush", ("l", False, [b"item-%d" % i])))
        else:
            lines.append(encode_record(i + 1, "hset", (f"h{i % 97}", True, {"f": "é".encode("latin-1") * 20})))
    files = {wal_name(1): wal_header(1) + b"".join(lines)}
    started = time.perf_counter()
    reading = read_files(files)
    seconds = time.perf_counter() - started
    assert reading.records_applied == records and reading.stop is None
    return seconds


def oracle_checks(ops_count: int) -> tuple[float, int]:
    """(seconds, checks) for one Oracle to judge a crash after each of the last half of a
    `ops_count`-op workload, every one losing the acked writes after the middle
    (tests/test_checker.py checks the work per check is linear)."""
    from tornwrite.models.checker import Oracle
    from tornwrite.models.ops import Op

    ops = [
        [
            Op.of("set", f"k{i % 97}", b"v%d" % i),
            Op.of("rpush", f"l{i % 31}", b"x"),
            Op.of("hset", f"h{i % 13}", {f"f{i % 5}": b"v"}),
            Op.of("tick", 0.01),
            Op.of("expire", f"k{i % 97}", 5),
        ][i % 5]
        for i in range(ops_count)
    ]
    started = time.perf_counter()
    oracle = Oracle(ops, 1_000.0)
    middle, check_time = ops_count // 2, 1_001.0
    lost_state = oracle.view(middle, check_time)
    for acked in range(middle + 1, ops_count):
        assert oracle.check(acked=acked, in_flight=True, recovered=lost_state, check_time=check_time).matched_prefix
    return time.perf_counter() - started, ops_count - middle - 1


def reads_inside_fsync(directory: str, count: int) -> float:
    """get ops/s while the only writer is parked inside its WAL fsync (tests/test_concurrency.py
    checks the reads finish while it is there)."""
    from tornwrite.engine import IOLayer

    path = os.path.join(directory, "fsync-reads")
    shutil.rmtree(path, ignore_errors=True)
    io = IOLayer()
    with Store.open(path, io=io) as store:
        store.set("k", b"old")
        in_fsync, release = threading.Event(), threading.Event()

        def hold(event) -> None:
            if event.label == "wal.fsync" and event.phase == "before" and not in_fsync.is_set():
                in_fsync.set()
                release.wait()

        io.hooks.append(hold)
        writer = threading.Thread(target=store.set, args=("k", b"new"))
        writer.start()
        in_fsync.wait()
        started = time.perf_counter()
        for _ in range(count):
            store.get("k")
        rate = count / (time.perf_counter() - started)
        release.set()
        writer.join()
    return rate


def busy_dump(keys: int) -> tuple[float, int]:
    """(seconds, writes meanwhile) for a dump of `keys` lists on the simulated disk while a
    writer never pauses (tests/test_concurrency.py checks such a read always ends)."""
    from tornwrite.engine import IOLayer
    from tornwrite.faultinject.core.simdisk import SimDisk

    with Store.open("/sim/data", io=IOLayer(SimDisk())) as store:
        for n in range(keys):
            store.rpush(f"list-{n}", b"a", b"b", b"c")
        stop, writes = threading.Event(), [0]

        def writer() -> None:
            while not stop.is_set():
                store.set("hot", b"%d" % writes[0])
                writes[0] += 1

        thread = threading.Thread(target=writer)
        thread.start()
        started = time.perf_counter()
        dumped = store.dump()
        seconds = time.perf_counter() - started
        stop.set()
        thread.join()
    assert len(dumped) >= keys
    return seconds, writes[0]


def run(print=print, quick: bool = False, directory: str | None = None) -> None:
    base = tempfile.mkdtemp(prefix="redislite-bench-", dir=directory)
    try:
        print(f"machine: {machine()}; directory {base} on {filesystem(base)}")
        engine, bare = durable_sets(base, 500 if quick else 3000)
        print(
            f"durable set: {engine:,.0f} ops/s vs bare write+fsync loop {bare:,.0f} ops/s "
            f"-> ratio {engine / bare:.3f} (aim >= 0.95)"
        )
        engine, bare, logged, appended = hot_appends(base, 200 if quick else 1000)
        print(
            f"append to one hot key: {engine:,.0f} ops/s vs bare write+fsync loop of the same suffixes "
            f"{bare:,.0f} ops/s -> ratio {engine / bare:.3f} (aim >= 0.9); log {logged:,} B for "
            f"{appended:,} B appended -> {logged / appended:.2f}x (aim <= 2)"
        )
        alone, plain, busy = gets(base, 200_000 if quick else 2_000_000)
        print(f"get: {alone:,.0f} ops/s vs bare dict.get {plain:,.0f} ops/s -> ratio {alone / plain:.3f} (aim >= 0.3)")
        print(f"get while another thread writes: {busy:,.0f} ops/s -> {busy / alone:.2f}x of alone (aim >= 0.5)")
        records = 100_000 if quick else 1_000_000
        rate, seconds, size = recovery(base, records)
        print(
            f"recovery: {records:,} records ({size / 2**20:.0f} MiB WAL) in {seconds:.2f} s "
            f"-> {rate:,.0f} records/s (aim >= 300k)"
        )
        keys = 20_000 if quick else 200_000
        took, held, worst, typical, writes = snapshot_stall(base, keys)
        print(
            f"snapshot of {keys:,} keys: {took:.2f} s; write lock held at most {held * 1e3:.1f} ms "
            f"(WAL rotation + in-memory copy); longest write during it {worst * 1e3:.1f} ms over "
            f"{writes} writes (the GIL is shared with serialisation), median write otherwise "
            f"{typical * 1e3:.2f} ms"
        )
        wal_records = 10_000 if quick else 100_000
        seconds = format_reader(wal_records)
        print(
            f"format reader: {wal_records:,} WAL records in {seconds:.2f} s -> {wal_records / seconds:,.0f} records/s"
        )
        seconds, checks = oracle_checks(2000 if quick else 4000)
        print(
            f"crash oracle: {checks:,} lost-write crash checks in {seconds:.2f} s -> {checks / seconds:,.0f} checks/s"
        )
        rate = reads_inside_fsync(base, 20_000 if quick else 200_000)
        print(f"get while the writer is parked in fsync: {rate:,.0f} ops/s -> {rate / alone:.2f}x of alone")
        seconds, writes = busy_dump(3000 if quick else 30_000)
        print(f"dump while a writer never pauses: {seconds:.3f} s, {writes:,} writes meanwhile")
        cost = footprint(base, 20_000 if quick else 100_000)
        print(
            f"footprint of a key 'user:NNNNNN' with a 32-byte value: {cost['memory']:.0f} B of memory, "
            f"{cost['wal']:.0f} B per WAL record, {cost['snapshot']:.0f} B per snapshot entry"
        )
    finally:
        shutil.rmtree(base, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small sizes, for a smoke run")
    parser.add_argument("--dir", help="where to put the data directories (default: system temp)")
    args = parser.parse_args()
    run(quick=args.quick, directory=args.dir)


if __name__ == "__main__":
    main()
