"""One writer at a time; readers concurrent, never blocked by an fsync, never seeing half a mutation.

No test here bounds how long anything takes. Threads are ordered with events, and the only
timeouts are HANG_GUARD, which a correct engine never reaches: it turns a deadlock into a
failure instead of a hung suite.
"""

import threading

from tornwrite.engine import IOLayer, Store
from tornwrite.engine.keyspace import Keyspace

HANG_GUARD = 60  # seconds; only a deadlock (a bug) ever waits this long


def run_threads(targets):
    threads = [threading.Thread(target=t) for t in targets]
    for t in threads:
        t.start()
    for t in threads:
        t.join(HANG_GUARD)
        assert not t.is_alive(), "a thread hung"


class WatchedLock:
    """Stands in for one of the engine's locks and calls `on_wait` as each thread starts to wait
    on it, so a test learns that a thread is blocked there without sleeping."""

    def __init__(self, lock, on_wait=lambda: None):
        self.lock, self.on_wait, self.waits = lock, on_wait, []
        self._tally = threading.Lock()

    def __enter__(self):
        with self._tally:
            self.waits.append(threading.current_thread().name)
            self.on_wait()
        self.lock.acquire()

    def __exit__(self, *exc_info):
        self.lock.release()

    def locked(self):
        return self.lock.locked()


def pause_at(io, label):
    """Hold the next `label` step until released: (reached, release) events."""
    reached, release = threading.Event(), threading.Event()

    def hook(event):
        if event.label == label and event.phase == "before" and not reached.is_set():
            reached.set()
            release.wait(HANG_GUARD)

    io.hooks.append(hook)
    return reached, release


def test_readers_complete_while_the_writer_is_held_inside_fsync(tmp_path, clock):
    io = IOLayer()
    store = Store.open(tmp_path / "d", io=io, clock=clock)
    store.set("k", b"old")
    reads, reads_done_inside_fsync = [], []
    in_fsync, release = threading.Event(), threading.Event()

    def hold_fsync(event):
        if event.label == "wal.fsync" and event.phase == "before" and not in_fsync.is_set():
            in_fsync.set()
            release.wait(HANG_GUARD)  # times out only if a read is stuck behind this fsync
            reads_done_inside_fsync.append(len(reads))

    io.hooks.append(hold_fsync)
    writer = threading.Thread(target=store.set, args=("k", b"new"))
    writer.start()
    assert in_fsync.wait(HANG_GUARD)
    for _ in range(1000):
        reads.append(store.get("k"))
    reads += [store.dump()["k"][1], store.keys()]
    release.set()
    writer.join(HANG_GUARD)
    assert reads_done_inside_fsync == [1002]  # every read returned while the writer sat in fsync
    assert set(reads[:1000]) == {b"old"}  # the write is not visible before its record is durable
    assert store.get("k") == b"new"
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


def test_seqlock_readers_wait_out_an_apply_on_the_apply_lock_without_spinning(tmp_path, clock):
    """Readers that meet an odd sequence number block on the apply lock, once each, instead of
    spinning, and read the finished state when it is released."""
    readers = 4
    with Store.open(tmp_path / "d", clock=clock) as store:
        store.set("k", b"v")
        ks = store._ks
        real = ks.applying
        all_waiting = threading.Event()
        watched = WatchedLock(real, lambda: len(watched.waits) >= readers and all_waiting.set())
        real.acquire()
        ks.seq += 1  # as if a writer were mid-apply
        ks.applying = watched
        results = []
        waiting = [threading.Thread(target=lambda: results.append(store.get("k"))) for _ in range(readers)]
        for t in waiting:
            t.start()
        try:
            assert all_waiting.wait(HANG_GUARD), watched.waits
            assert results == [] and len(watched.waits) == readers  # each blocked once: no spinning
        finally:
            ks.seq += 1
            real.release()
            for t in waiting:
                t.join(HANG_GUARD)
            ks.applying = real
        assert results == [b"v"] * readers and len(watched.waits) == readers


def test_close_waits_for_a_snapshot_another_thread_is_taking(tmp_path, clock):
    io = IOLayer()
    store = Store.open(tmp_path / "d", io=io, clock=clock)
    store.set("k", b"v")
    labels = []
    io.hooks.append(lambda event: event.phase == "after" and labels.append(event.label))
    in_write, release = pause_at(io, "snapshot.write")
    snapshot = threading.Thread(target=store.snapshot)
    snapshot.start()
    assert in_write.wait(HANG_GUARD)
    settled = threading.Event()  # the closer either waits on the snapshot lock or has returned
    store._snapshot_lock = watched = WatchedLock(store._snapshot_lock, settled.set)
    closer = threading.Thread(target=lambda: (store.close(), settled.set()))
    closer.start()
    assert settled.wait(HANG_GUARD)
    assert closer.is_alive() and watched.waits == [closer.name]  # close() waits: still this store's
    release.set()
    snapshot.join(HANG_GUARD)
    closer.join(HANG_GUARD)
    assert not closer.is_alive()
    assert labels.index("lock.release") > labels.index("snapshot.rename")  # the lock outlived the snapshot
    with Store.open(tmp_path / "d", clock=clock) as again:
        assert again.recovery.snapshot_lsn == 1 and again.get("k") == b"v"


def test_a_read_spoiled_by_a_writer_on_every_attempt_finishes_holding_writers_off():
    """However busy the writers are, a long read ends: after a few spoiled optimistic attempts it
    reads once with the apply lock held, when no writer can land inside it."""
    ks = Keyspace({"k": (b"0", None)})
    attempts = []  # for each attempt: were writers held off during it?

    def read_that_a_writer_lands_inside():
        held_off = ks.applying.locked()
        attempts.append(held_off)
        if not held_off and len(attempts) < 50:  # past 50, let a read without a fallback end, and fail
            ks.apply_record("set", ("k", b"%d" % len(attempts), None))  # a write lands mid-read
        return ks.data["k"]

    final = ks.read(read_that_a_writer_lands_inside)
    assert attempts[-1] and not any(attempts[:-1]) and len(attempts) <= 8, attempts  # "a few" attempts
    assert final == (b"%d" % (len(attempts) - 1), None)  # the state as the last write left it
