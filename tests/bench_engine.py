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

    def __init__(self, lock: threading.Lock):
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
        timed = store._write_lock = TimedLock(store._write_lock)
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


def run(print=print, quick: bool = False, directory: str | None = None) -> None:
    base = tempfile.mkdtemp(prefix="redislite-bench-", dir=directory)
    try:
        print(f"machine: {machine()}; directory {base} on {filesystem(base)}")
        engine, bare = durable_sets(base, 500 if quick else 3000)
        print(
            f"durable set: {engine:,.0f} ops/s vs bare write+fsync loop {bare:,.0f} ops/s "
            f"-> ratio {engine / bare:.3f} (aim >= 0.95)"
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
