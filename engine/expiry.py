"""Expiry: the one rule that decides whether a key is expired, and the optional reaper.

Expiry is lazy: every read path asks `is_expired` and treats an expired key as absent, and
every write treats it as absent too. The reaper only frees memory; correctness never depends
on it running.
"""

from __future__ import annotations

import heapq
import threading
from collections.abc import Callable

from tornwrite.engine.format import Entries


def is_expired(expire_at: float | int, now: float) -> bool:
    """A key with a TTL is expired from the instant `now` reaches its absolute `expire_at`."""
    return now >= expire_at


class Deadlines:
    """A heap of (expire_at, key): the reaper's index of what expires next.

    Entries go stale when a key's TTL changes or the key goes; `due` re-checks each popped key
    against the keyspace instead of searching the heap on every write.
    """

    def __init__(self, data: Entries):
        self._heap: list[tuple[float | int, str]] = [
            (entry[1], key) for key, entry in data.items() if entry[1] is not None
        ]
        heapq.heapify(self._heap)

    def add(self, expire_at: float | int, key: str) -> None:
        heapq.heappush(self._heap, (expire_at, key))

    def due(self, data: Entries, now: float) -> list[str]:
        """Pop every deadline that has passed; the keys that really are expired now."""
        expired = []
        while self._heap and is_expired(self._heap[0][0], now):
            expire_at, key = heapq.heappop(self._heap)
            entry = data.get(key)
            if entry is not None and entry[1] == expire_at:
                expired.append(key)
        return expired


class Reaper(threading.Thread):
    """Removes expired keys in the background, under the write lock, without a WAL record.

    Why no record is needed: an expired key is already absent from the logical state, and
    expiry times are absolute, so replaying snapshot + WAL yields the same key with the same
    passed `expire_at`, which every read also treats as absent. Any later write to that key was
    validated against "absent" and logged as creating it anew, so replay replaces the stale
    entry exactly as memory did. Memory and snapshot + WAL therefore differ only in keys that
    are invisible in both: the logical state, the thing invariant 2 is about, is identical.
    """

    def __init__(self, remove_expired: Callable[[], None], interval: float):
        super().__init__(name="redislite-reaper", daemon=True)
        self._remove_expired = remove_expired
        self._interval = interval
        self._stop_requested = threading.Event()

    def run(self) -> None:
        while not self._stop_requested.wait(self._interval):
            self._remove_expired()

    def stop(self) -> None:
        self._stop_requested.set()
        if self.is_alive() and threading.current_thread() is not self:
            self.join()
