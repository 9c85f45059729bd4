"""A write answers as of the instant it becomes visible: a key that expires while its delete is
being made durable is not counted as deleted (a reader may already have seen the other keys
still there, at a later clock reading, which no single instant of the delete explains).

Found by the concurrent kind on the real engine: delete('a', 't0') -> 2 after a reader had seen
'a' still there when t0's deadline had already passed.
"""

from tornwrite.engine import Store


class SteppingClock:
    def __init__(self, now: float):
        self.now = now

    def __call__(self) -> float:
        return self.now


def test_a_key_that_expires_during_the_deletes_fsync_is_not_counted(tmp_path):
    clock = SteppingClock(100.0)
    with Store.open(str(tmp_path / "db"), clock=clock) as store:
        store.set("a", b"1")
        store.set("t0", b"2", ttl=0.5)  # live until 100.5
        append = store._wal.append

        def slow_append(line: bytes) -> None:
            append(line)
            clock.now = 101.0  # the fsync took long enough for t0's deadline to pass

        store._wal.append = slow_append
        assert store.delete("a", "t0") == 1
        assert store.get("a") is None and store.get("t0") is None


def test_keys_live_through_the_whole_delete_are_all_counted(tmp_path):
    clock = SteppingClock(100.0)
    with Store.open(str(tmp_path / "db"), clock=clock) as store:
        store.set("a", b"1")
        store.set("t0", b"2", ttl=5)
        assert store.delete("a", "t0", "missing") == 2
