"""The Store: RedisLite's public face, and the write path that keeps its promises.

Every write command runs the same steps, in this order, holding the write lock throughout:
validate against the current logical state (types, expiry); encode ONE record for the whole
mutation, with the next LSN and relative TTLs already turned into absolute times; append it to
the WAL and fsync; only then apply it in memory; release. A validation error writes nothing;
an I/O error applies nothing and fails the store for writes (StoreFailedError).

Reads take no lock and treat expired keys as absent: engine/reads.py.
Command semantics: docs/COMMANDS.md. On-disk format and recovery: docs/FORMAT.md.
"""

from __future__ import annotations

import errno
import math
import os
import threading
import time
from collections.abc import Callable, Mapping
from typing import Any, cast

from tornwrite.engine import arguments, options
from tornwrite.engine.codec import encode_record
from tornwrite.engine.errors import (
    ClockError,
    InvalidValueError,
    SnapshotError,
    StoreClosedError,
    StoreFailedError,
    StoreLockedError,
)
from tornwrite.engine.expiry import Deadlines, Reaper
from tornwrite.engine.format import LOCK_NAME
from tornwrite.engine.io import IOLayer
from tornwrite.engine.keyspace import Keyspace
from tornwrite.engine.locks import OwnedLock
from tornwrite.engine.reads import ReadCommands
from tornwrite.engine.recovery import RecoveryReport, recover
from tornwrite.engine.snapshot import remove_covered, write_snapshot
from tornwrite.engine.wal import Wal


class Store(ReadCommands):
    """A durable, in-memory key-value store over one data directory. Use `Store.open`."""

    @classmethod
    def open(
        cls,
        path: str | os.PathLike[str],
        *,
        clock: Callable[[], float] = time.time,
        strict: bool = False,
        io: IOLayer | None = None,
        snapshot_every: int | None = None,
        reaper_interval: float | None = None,
    ) -> Store:
        """Open or create the data directory at `path`, recovering what is on disk.

        strict: refuse (CorruptDataError) when valid records follow damage in the WAL, instead
            of discarding them ("tolerate-corrupted-tail" rather than "point-in-time").
        io: the I/O layer, the real OS by default; faultinject passes a simulated disk.
        snapshot_every: take a snapshot in the background after this many records (off: None).
        reaper_interval: remove expired keys every this many seconds in a thread (off: None).
        clock: a callable returning the time in seconds; a reading that is not a finite int or
            float fails the command that took it with ClockError, before anything is logged.
        Raises InvalidArgumentError for an option of the wrong type or range (clock not
        callable, strict not a bool, snapshot_every not a positive int, reaper_interval not a
        positive finite number) before the directory is touched; StoreLockedError if the
        directory is open elsewhere, CorruptDataError if it cannot be recovered safely (unknown
        files or format version included), and OSError if it cannot be created, locked or
        repaired (NotADirectoryError if a file is in the way, PermissionError if it is not
        writable, EINVAL if the path holds a NUL byte); each before anything in it has changed.
        """
        directory = options.directory(path)
        options.check(
            clock=clock,
            strict=strict,
            snapshot_every=snapshot_every,
            reaper_interval=reaper_interval,
            io=io,
            io_type=IOLayer,
        )
        io = io if io is not None else IOLayer()
        if not io.is_dir(directory):
            try:
                io.mkdir(directory, "dir.create")
            except FileExistsError:
                raise NotADirectoryError(
                    errno.ENOTDIR, "a file is where the data directory should be", directory
                ) from None
            io.fsync_dir(os.path.dirname(os.path.abspath(directory)))
        try:
            lock = io.lock(os.path.join(directory, LOCK_NAME), "lock.acquire")
        except BlockingIOError:
            raise StoreLockedError(f"{directory} is already open in another Store") from None
        try:
            keyspace, next_lsn, wal, report = recover(io, directory, strict=strict)
        except BaseException:
            io.unlock(lock, "lock.release")
            raise
        return cls(io, directory, lock, keyspace, next_lsn, wal, report, clock, snapshot_every, reaper_interval)

    def __init__(
        self,
        io: IOLayer,
        directory: str,
        lock: Any,
        keyspace: Keyspace,
        next_lsn: int,
        wal: Wal,
        report: RecoveryReport,
        clock: Callable[[], float],
        snapshot_every: int | None,
        reaper_interval: float | None,
    ):
        self._io = io
        self._dir = directory
        self._lock_handle = lock
        self._ks = keyspace
        self._next_lsn = next_lsn
        self._wal = wal
        self._recovery = report
        self._clock = options.checked_clock(clock)
        # Owned: a clock or I/O hook that calls back into the store raises instead of hanging.
        self._write_lock = OwnedLock("write")  # one writer at a time, validate through apply
        self._snapshot_lock = OwnedLock("snapshot")  # one snapshot at a time
        self._snapshot_lsn = report.snapshot_lsn
        self._snapshot_every = snapshot_every
        self._background_snapshot: threading.Thread | None = None
        self.last_snapshot_error: SnapshotError | None = None  # from a background snapshot
        self._closed = False
        self._closing = False
        self._failed: OSError | None = None
        self._reaper: Reaper | None = None
        if reaper_interval is not None:
            self._ks.deadlines = Deadlines(self._ks.data)
            self._reaper = Reaper(self._reap, reaper_interval)
            self._reaper.start()

    # --- lifecycle ----------------------------------------------------------------------------

    @property
    def recovery(self) -> RecoveryReport:
        """What the open that made this Store found and did."""
        return self._recovery

    @property
    def path(self) -> str:
        return self._dir

    def close(self) -> None:
        """Stop background work, wait for any snapshot in progress, close the WAL and release
        the directory. Idempotent. No file in the directory is touched after it returns."""
        self._closing = True  # no new background snapshot starts from here on
        if self._reaper is not None:
            self._reaper.stop()
        background = self._background_snapshot
        if background is not None and background is not threading.current_thread():
            background.join()
        with self._snapshot_lock, self._write_lock:  # a snapshot another thread takes finishes first
            if self._closed:
                return
            self._closed = True
            self._wal.close()
            self._io.unlock(self._lock_handle, "lock.release")

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def __repr__(self) -> str:
        state = "closed" if self._closed else "failed" if self._failed else "open"
        return f"<Store {self._dir!r} {state} next_lsn={self._next_lsn}>"

    # --- the write path -----------------------------------------------------------------------

    def _writable(self) -> float:
        """Check the store takes writes (caller holds the write lock); the command's `now`."""
        if self._closed:
            raise StoreClosedError("the store is closed")
        if self._failed is not None:
            raise StoreFailedError(
                f"writes are refused since a WAL write failed ({self._failed}); reopen the directory to recover"
            )
        return self._clock()

    def _commit(self, op: str, args: tuple[Any, ...], at_apply: Callable[[], int] | None = None) -> int | None:
        """Log one record durably, then apply it; `at_apply()`'s answer, taken in the apply window.
        Caller holds the write lock."""
        lsn = self._next_lsn
        line = encode_record(lsn, op, args)
        try:
            self._wal.append(line)
        except OSError as exc:
            self._failed = exc
            raise StoreFailedError(
                f"WAL append of LSN {lsn} failed: {exc}; the write may or may "
                "not be durable, and writes are refused until reopened"
            ) from exc
        answer = self._ks.apply_record(op, args, at_apply)
        self._next_lsn = lsn + 1
        if self._snapshot_every is not None and lsn - self._snapshot_lsn >= self._snapshot_every:
            try:
                self._start_background_snapshot()
            except RuntimeError as exc:  # no thread to be had: the write is durable and must return
                self.last_snapshot_error = SnapshotError(f"a background snapshot could not start: {exc}")
        return answer

    def set(self, key: object, value: object, *, ttl: object = None, expire_at: object = None) -> None:
        key = arguments.key(key)
        value = arguments.value(value)
        if ttl is not None and expire_at is not None:
            raise InvalidValueError("give ttl or expire_at, not both")
        if ttl is not None:
            ttl = arguments.number(ttl, "ttl")
            if ttl <= 0:
                raise InvalidValueError(f"ttl must be > 0, not {ttl!r}")
        if expire_at is not None:
            expire_at = arguments.number(expire_at, "expire_at")
        with self._write_lock:
            now = self._writable()
            self._commit("set", (key, value, now + ttl if ttl is not None else expire_at))

    def append(self, key: object, value: object) -> int:
        """Append `value` to the string at `key`, an absent key counting as b""; the new length.

        A live string keeps its TTL. Logged as an `append` record of the suffix alone, so the
        log grows by what is appended (docs/FORMAT.md, "Records"). WrongTypeError on a list or hash.
        """
        # The common cases checked inline: one call less each (see engine/codec.py, _encode_append).
        key = key if type(key) is str and key.isascii() else arguments.key(key)
        suffix = value if type(value) is bytes else arguments.value(value)
        with self._write_lock:
            found = self._ks.live_string(key, self._writable())
            # new: absent or expired, so the record replaces whatever replay finds, as a set would.
            self._commit("append", (key, found is None, suffix))
            return len(suffix) if found is None else len(found[0]) + len(suffix)

    def delete(self, *keys: object) -> int:
        names = tuple(dict.fromkeys(arguments.key(k) for k in keys))
        with self._write_lock:
            now = self._writable()
            live = tuple(k for k in names if self._ks.live(k, now) is not None)
            if not live:
                return 0

            def still_live() -> int:
                # A key live at `now` may expire during the fsync. The answer is the count at the
                # instant the delete becomes visible, when a reader may already have seen the other
                # keys still there at a later clock reading (deleting an expired key changes nothing).
                later = self._reading_after(now)
                return sum(self._ks.live(key, later) is not None for key in live)

            answered = self._commit("del", (live,), still_live)
            return len(live) if answered is None else answered

    def _reading_after(self, now: float) -> float:
        """The clock again, for a write's apply window; `now` if it fails or went back: nothing
        may raise once a record is durable."""
        try:
            reading = self._clock()
        except Exception:
            return now
        return reading if isinstance(reading, (int, float)) and math.isfinite(reading) and reading >= now else now

    def rpush(self, key: object, *values: object) -> int:
        key = arguments.key(key)
        arguments.at_least_one(values, "rpush values")
        items = [arguments.value(v) for v in values]
        with self._write_lock:
            entry = self._ks.live_of_kind(key, self._writable(), list)
            self._commit("rpush", (key, entry is None, items))
            return len(items) if entry is None else len(entry[0])

    def hset(self, key: object, mapping: object) -> int:
        key = arguments.key(key)
        if not isinstance(mapping, Mapping):
            raise InvalidValueError(f"hset needs a mapping of fields to values, not {type(mapping).__name__}")
        given: dict[str, object] = {arguments.key(f, "field"): v for f, v in mapping.items()}
        arguments.at_least_one(given, "hset fields")
        fields = {f: arguments.value(v) for f, v in given.items()}
        with self._write_lock:
            entry = self._ks.live_of_kind(key, self._writable(), dict)
            added = len(fields) if entry is None else sum(f not in cast(dict[str, bytes], entry[0]) for f in fields)
            self._commit("hset", (key, entry is None, fields))
            return added

    def hdel(self, key: object, *fields: object) -> int:
        key = arguments.key(key)
        arguments.at_least_one(fields, "hdel fields")
        names = list(dict.fromkeys(arguments.key(f, "field") for f in fields))
        with self._write_lock:
            entry = self._ks.live_of_kind(key, self._writable(), dict)
            present = [f for f in names if entry is not None and f in cast(dict[str, bytes], entry[0])]
            if present:
                self._commit("hdel", (key, present))
            return len(present)

    def expire(self, key: object, seconds: object) -> bool:
        key = arguments.key(key)
        seconds = arguments.number(seconds, "seconds")
        with self._write_lock, self._ks.may_revive(key):  # named before the clock is read
            now = self._writable()
            return self._set_deadline(key, now, now + seconds)

    def expire_at(self, key: object, unix_seconds: object) -> bool:
        key = arguments.key(key)
        unix_seconds = arguments.number(unix_seconds, "unix_seconds")
        with self._write_lock, self._ks.may_revive(key):  # named before the clock is read
            return self._set_deadline(key, self._writable(), unix_seconds)

    def _set_deadline(self, key: str, now: float, expire_at: float | int) -> bool:
        if self._ks.live(key, now) is None:
            return False
        self._commit("expire", (key, expire_at))
        return True

    def persist(self, key: object) -> bool:
        key = arguments.key(key)
        with self._write_lock, self._ks.may_revive(key):  # named before the clock is read
            entry = self._ks.live(key, self._writable())
            if entry is None or entry[1] is None:
                return False
            self._commit("persist", (key,))
            return True

    def flushall(self) -> None:
        with self._write_lock:
            self._writable()
            self._commit("flushall", ())

    # --- snapshots and the reaper --------------------------------------------------------------

    def snapshot(self) -> int:
        """Make the current state a durable snapshot; returns the LSN it covers.

        Writers stall only for the WAL rotation and the in-memory copy; the file is written,
        fsynced, renamed and the directory fsynced outside the write lock, and only then are
        the WAL segments it covers deleted. Raises SnapshotError on I/O failure (the store
        keeps serving; the previous snapshot and the WAL remain the truth).
        """
        with self._snapshot_lock:
            with self._write_lock:
                self._writable()
                lsn = self._next_lsn - 1
                if lsn == self._snapshot_lsn:
                    return lsn
                if self._wal.first_lsn != self._next_lsn:
                    try:
                        self._wal = self._wal.rotate(self._next_lsn)
                    except OSError as exc:
                        raise SnapshotError(f"starting WAL segment {self._next_lsn} failed: {exc}") from exc
                entries = self._ks.copy()
            write_snapshot(self._io, self._dir, lsn, entries)
            self._snapshot_lsn = lsn
            remove_covered(self._io, self._dir, lsn, self._wal.first_lsn)
            return lsn

    def _start_background_snapshot(self) -> None:
        running = self._background_snapshot
        if self._closing or (running is not None and running.is_alive()):
            return
        self._background_snapshot = threading.Thread(
            target=self._snapshot_in_background, name="redislite-snapshot", daemon=True
        )
        self._background_snapshot.start()

    def _snapshot_in_background(self) -> None:
        try:
            self.snapshot()
            self.last_snapshot_error = None
        except SnapshotError as exc:
            self.last_snapshot_error = exc
        except (StoreClosedError, StoreFailedError):
            pass  # nothing to snapshot into any more

    def reap_expired(self) -> int:
        """Remove from memory every key expired now, as the reaper thread does each interval;
        how many went. Changes nothing any read can see, and writes no record (expiry.Reaper
        says why). Tests and single-threaded programs call it instead of running the thread."""
        with self._write_lock:
            if self._closed:
                raise StoreClosedError("the store is closed")
            if self._ks.deadlines is None:  # kept from the first reap on (or the reaper's start)
                self._ks.deadlines = Deadlines(self._ks.data)
            expired = self._ks.deadlines.due(self._ks.data, self._clock())
            if expired:
                self._ks.remove(expired)
            return len(expired)

    def _reap(self) -> None:
        try:
            self.reap_expired()
        except StoreClosedError:
            pass  # the reaper stops with the store
        except ClockError:
            pass  # a bad reading: reap at the next tick; every command taking one reports it
