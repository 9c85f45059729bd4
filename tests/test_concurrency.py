"""One writer at a time; readers concurrent, never blocked by an fsync, never seeing half a mutation."""

import threading
import time

import pytest

from tornwrite.engine import IOLayer, Store


def run_threads(targets, seconds_limit=60):
    threads = [threading.Thread(target=t) for t in targets]
    for t in threads:
        t.start()
    for t in threads:
        t.join(seconds_limit)
        assert not t.is_alive(), "a thread hung"


def pause_at(io, label):
    """Hold the next `label` step until released: (reached, release) events."""
    reached, release = threading.Event(), threading.Event()

    def hook(event):
        if event.label == label and event.phase == "before" and not reached.is_set():
            reached.set()
            release.wait(10)

    io.hooks.append(hook)
    return reached, release


def test_readers_are_not_held_back_while_the_writer_waits_on_fsync(tmp_path, clock):
    io = IOLayer()
    store = Store.open(tmp_path / "d", io=io, clock=clock)
    store.set("k", b"old")
    in_fsync, release = pause_at(io, "wal.fsync")
    writer = threading.Thread(target=store.set, args=("k", b"new"))
    writer.start()
    assert in_fsync.wait(10)
    started = time.monotonic()
    reads = [store.get("k") for _ in range(1000)] + [store.dump()["k"][1], store.keys()]
    elapsed = time.monotonic() - started
    assert set(reads[:1000]) == {b"old"}  # the write is not visible before its record is durable
    release.set()
    writer.join(10)
    assert store.get("k") == b"new"
    assert elapsed < 5  # generous: the reads finished while the writer was still inside fsync
    store.close()


def test_concurrent_writers_lose_nothing_and_keep_each_threads_order(tmp_path, clock):
    threads, per_thread = 4, 150
    with Store.open(tmp_path / "d", clock=clock) as store:

        def writer(n):
            return lambda: [store.rpush("list", b"%d:%d" % (n, i)) for i in range(per_thread)]

        run_threads([writer(n) for n in range(threads)])
        items = store.lrange("list", 0, -1)
        assert len(items) == threads * per_thread
        for n in range(threads):
            mine = [int(x.split(b":")[1]) for x in items if x.startswith(b"%d:" % n)]
            assert mine == list(range(per_thread))


def test_readers_never_see_a_half_applied_mutation(tmp_path, clock):
    """Each write changes two things at once; readers check the pair always agrees."""
    rounds = 120
    with Store.open(tmp_path / "d", clock=clock) as store:
        store.hset("pair", {"a": b"0", "b": b"0"})
        store.set("x", b"0")
        store.set("y", b"0")
        done = threading.Event()
        torn = []

        def writer():
            for i in range(1, rounds):
                store.hset("pair", {"a": b"%d" % i, "b": b"%d" % i})
                store.rpush("evens", b"l", b"r")  # lengths are always even
                store.delete("x", "y")  # both go in one record: readers see both or neither
                store.set("x", b"%d" % i)
                store.set("y", b"%d" % i)
            done.set()

        def reader():
            while not done.is_set():
                pair = store.hgetall("pair")
                if pair["a"] != pair["b"]:
                    torn.append(("hash", pair))
                if store.llen("evens") % 2:
                    torn.append(("list", store.llen("evens")))
                state = store.dump()
                if ("x" in state) != ("y" in state) and "y" in state:
                    torn.append(("delete", sorted(state)))  # y without x: the delete was seen half-done

        run_threads([writer, reader, reader])
        assert torn == []


def test_read_counts_are_exact_while_writers_run(tmp_path, clock):
    with Store.open(tmp_path / "d", clock=clock) as store:
        keys = [f"k{i}" for i in range(200)]
        done = threading.Event()
        seen = []

        def writer():
            for key in keys:
                store.set(key, b"v")
            done.set()

        def reader():
            last = 0
            while not done.is_set():
                size = store.dbsize()
                assert size >= last  # only adds happen: the count never goes back
                assert size == len(store.keys()) or store.dbsize() != size
                last = size
            seen.append(last)

        run_threads([writer, reader, reader])
        assert store.dbsize() == len(keys)


@pytest.mark.parametrize("readers", [4])
def test_seqlock_readers_wait_out_an_apply_and_retry(tmp_path, clock, readers):
    """Readers that meet an odd sequence number wait on the apply lock instead of spinning."""
    with Store.open(tmp_path / "d", clock=clock) as store:
        store.set("k", b"v")
        ks = store._ks
        ks.applying.acquire()
        ks.seq += 1  # as if a writer were mid-apply
        results = []
        waiting = [threading.Thread(target=lambda: results.append(store.get("k"))) for _ in range(readers)]
        for t in waiting:
            t.start()
        time.sleep(0.05)
        assert results == []  # held back during the apply
        ks.seq += 1
        ks.applying.release()
        for t in waiting:
            t.join(10)
        assert results == [b"v"] * readers


def test_close_waits_for_a_snapshot_another_thread_is_taking(tmp_path, clock):
    io = IOLayer()
    store = Store.open(tmp_path / "d", io=io, clock=clock)
    store.set("k", b"v")
    in_write, release = pause_at(io, "snapshot.write")
    snapshot = threading.Thread(target=store.snapshot)
    snapshot.start()
    assert in_write.wait(10)
    closer = threading.Thread(target=store.close)
    closer.start()
    time.sleep(0.2)
    assert closer.is_alive()  # close() waits: the directory is still this store's
    release.set()
    snapshot.join(10)
    closer.join(10)
    assert not closer.is_alive()
    with Store.open(tmp_path / "d", clock=clock) as again:
        assert again.recovery.snapshot_lsn == 1 and again.get("k") == b"v"


def test_a_long_read_finishes_however_busy_the_writers_are(clock):
    from tornwrite.faultinject.core.simdisk import SimDisk

    store = Store.open("/sim/data", io=IOLayer(SimDisk()), clock=clock)  # writes cost microseconds here
    for n in range(30_000):  # a copy long enough that some write always lands inside it
        store.rpush(f"list-{n}", b"a", b"b", b"c")
    stop = threading.Event()

    def writer():
        n = 0
        while not stop.is_set():
            store.set("hot", b"%d" % n)
            n += 1

    threads = [threading.Thread(target=writer)]
    threads[0].start()
    done = []
    reader = threading.Thread(target=lambda: done.append(len(store.dump())))
    reader.start()
    reader.join(60)
    stop.set()
    threads[0].join(10)
    assert done and done[0] >= 30_000, "dump() starved by a writer that never pauses"
