"""A lock that knows its holder, so a command re-entered on that thread raises instead of hanging.

The store calls out while it holds its write lock: to the clock a caller passed in, and to the
I/O layer's hooks. If that code calls a store command on the same thread, waiting for the lock
would wait for itself forever; `OwnedLock` raises ReentrantCallError instead, before the inner
command has done anything. Other threads wait as usual.
"""

from __future__ import annotations

import threading

from tornwrite.engine.errors import ReentrantCallError


class OwnedLock:
    """A non-reentrant lock for `with`; entering it on the thread holding it raises."""

    def __init__(self, name: str):
        self._lock = threading.Lock()
        self._holder: int | None = None
        self._name = name

    def acquire(self, blocking: bool = True, timeout: float = -1) -> bool:
        """As threading.Lock.acquire; raises ReentrantCallError on the thread that holds it."""
        thread = threading.get_ident()
        if self._holder == thread:
            raise ReentrantCallError(
                f"a store command was called while this thread holds the store's {self._name} lock "
                "(from its clock or an I/O hook): it would wait for itself forever"
            )
        if not self._lock.acquire(blocking, timeout):
            return False
        self._holder = thread
        return True

    def release(self, *exc_info: object) -> None:
        self._holder = None
        self._lock.release()

    def locked(self) -> bool:
        return self._lock.locked()

    # `with` calls these directly: one call less on every write, each costly on a processor an
    # fsync left cold (`with lock as x` would bind True: no caller names the lock so).
    __enter__ = acquire
    __exit__ = release
