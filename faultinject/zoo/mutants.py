"""The bug zoo: known crash-consistency bugs, applied to the engine from outside it.

Each mutant replaces one engine function or method, for as long as it is active, with a copy
that has the bug (the engine itself carries no bug switches). Each names the invariant it
breaks and the detectors expected to catch it: the campaign's fault kinds "process", "power",
"ioerror", "damage" (the damaged-file fuzz) and "concurrent" (threads on one store, killed), and
"stateful" (the Hypothesis state machine).
A harness that passes the real engine but cannot fail a mutant proves nothing; `make mutants`
runs each detector against each mutant and expects every mutant caught.
"""

from __future__ import annotations

import contextlib
import os
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from tornwrite.engine import arguments, codec, recovery
from tornwrite.engine import io as engine_io
from tornwrite.engine import keyspace as engine_keyspace
from tornwrite.engine import quarantine as engine_quarantine
from tornwrite.engine import snapshot as engine_snapshot
from tornwrite.engine import store as engine_store
from tornwrite.engine import wal as engine_wal
from tornwrite.engine.codec import LineError, decode_record, encode_record
from tornwrite.engine.errors import CorruptDataError
from tornwrite.engine.expiry import Deadlines
from tornwrite.engine.format import parse_name, wal_header, wal_name
from tornwrite.engine.keyspace import Keyspace, wrong_type
from tornwrite.engine.snapshot import write_snapshot as real_write_snapshot


@dataclass(frozen=True)
class Mutant:
    name: str
    bug: str  # what the broken engine does
    breaks: str  # the invariant it violates
    caught_by: tuple[str, ...]  # detectors expected to catch it, most direct first
    why: str  # why those detectors see it
    patches: Callable[[], list[tuple[object, str, object]]]  # (owner, attribute, replacement)
    workload: str = "snapshot-heavy"  # the campaign workload `make mutants` runs it under


# --- the WAL ----------------------------------------------------------------------------------


def _wal_append_without_fsync() -> list:
    def append(self, line: bytes) -> None:
        self.io.write(self.handle, line, "wal.append")  # no fsync: acked from the page cache

    return [(engine_wal.Wal, "append", append)]


def _memory_before_wal() -> list:
    def commit(self, op: str, args: tuple, at_apply=None):
        answer = self._ks.apply_record(op, args, at_apply)  # visible to readers before the record even exists
        self._wal.append(encode_record(self._next_lsn, op, args))
        self._next_lsn += 1
        return answer

    return [(engine_store.Store, "_commit", commit)]


def _memory_before_fsync() -> list:
    def commit(self, op: str, args: tuple, at_apply=None):
        wal = self._wal
        wal.io.write(wal.handle, encode_record(self._next_lsn, op, args), "wal.append")
        answer = self._ks.apply_record(op, args, at_apply)  # visible while the record is only in the page cache
        wal.io.fsync(wal.handle, "wal.fsync")
        self._next_lsn += 1
        return answer

    return [(engine_store.Store, "_commit", commit)]


def _wal_failure_left_in_file() -> list:
    def append(self, line: bytes) -> None:
        self.io.write(self.handle, line, "wal.append")  # on failure the suspect record stays in the file
        self.io.fsync(self.handle, "wal.fsync")
        self.size += len(line)

    return [(engine_wal.Wal, "append", append)]


def _wal_fsync_retried() -> list:
    def commit(self, op: str, args: tuple, at_apply=None):
        wal = self._wal
        wal.io.write(wal.handle, encode_record(self._next_lsn, op, args), "wal.append")
        try:
            wal.io.fsync(wal.handle, "wal.fsync")
        except OSError:
            wal.io.fsync(wal.handle, "wal.fsync")  # retry and carry on: the failed pages may be gone
        answer = self._ks.apply_record(op, args, at_apply)
        self._next_lsn += 1
        return answer

    return [(engine_store.Store, "_commit", commit)]


def _segment_without_dir_fsync() -> list:
    def create_segment(cls, io, directory: str, first_lsn: int):
        handle = io.create(os.path.join(directory, wal_name(first_lsn)), "wal.create")
        io.write(handle, wal_header(first_lsn), "wal.header")
        io.fsync(handle, "wal.fsync")
        return cls(
            io, directory, handle, first_lsn, len(wal_header(first_lsn))
        )  # no directory fsync: the entry may vanish

    return [(engine_wal.Wal, "create_segment", classmethod(create_segment))]


def _rotate_closes_old_segment_first() -> list:
    def rotate(self, next_lsn: int):
        self.close()  # closed before its successor exists: if creating that fails, the store keeps it
        return engine_wal.Wal.create_segment(self.io, self.directory, next_lsn)

    return [(engine_wal.Wal, "rotate", rotate)]


def _hset_as_several_records() -> list:
    real_hset = engine_store.Store.hset

    def hset(self, key, mapping) -> int:
        if not isinstance(mapping, dict) or len(mapping) < 2:
            return real_hset(self, key, mapping)
        return sum(real_hset(self, key, {field: value}) for field, value in mapping.items())  # one record each

    return [(engine_store.Store, "hset", hset)]


# --- snapshots ----------------------------------------------------------------------------------


def _skip_fsync(label: str) -> list:
    """The I/O layer silently drops the fsync with this label."""
    real_fsync = engine_io.IOLayer.fsync

    def fsync(self, handle, step_label: str) -> None:
        if step_label != label:
            real_fsync(self, handle, step_label)

    return [(engine_io.IOLayer, "fsync", fsync)]


def _snapshot_rename_without_dir_fsync() -> list:
    real_rename, real_fsync_dir = engine_io.IOLayer.rename, engine_io.IOLayer.fsync_dir

    def rename(self, src: str, dst: str, label: str) -> None:
        real_rename(self, src, dst, label)
        self._skip_next_dir_fsync = label == "snapshot.rename"

    def fsync_dir(self, path: str, label: str = "dir.fsync") -> None:
        if getattr(self, "_skip_next_dir_fsync", False):
            self._skip_next_dir_fsync = False  # the rename may still be only in memory
            return
        real_fsync_dir(self, path, label)

    return [(engine_io.IOLayer, "rename", rename), (engine_io.IOLayer, "fsync_dir", fsync_dir)]


def _wal_cut_before_snapshot_rename() -> list:
    real_write = real_write_snapshot

    def write_snapshot(io, directory: str, lsn: int, entries: dict) -> str:
        # The cut the engine makes after the rename, made before the snapshot exists.
        for name in sorted(io.listdir(directory, "snapshot.listdir")):
            parsed = parse_name(name)
            if parsed and not parsed[2] and parsed[1] <= lsn:
                io.unlink(os.path.join(directory, name), f"{parsed[0]}.unlink")
        return real_write(io, directory, lsn, entries)

    return [(engine_store, "write_snapshot", write_snapshot)]


def _snapshot_written_in_place() -> list:
    # With an empty temp suffix the snapshot is written straight to its final name (the rename
    # becomes a no-op): a crash mid-write leaves a half snapshot where recovery looks first.
    return [(engine_snapshot, "TMP_SUFFIX", "")]


class _CrcPerChunk:
    """zlib, as the snapshot writer sees it, with a checksum that restarts at every chunk."""

    @staticmethod
    def crc32(data: bytes, value: int = 0) -> int:
        return zlib.crc32(data)  # the running value is dropped: the end line covers the last chunk only


def _snapshot_crc_restarts_each_chunk() -> list:
    return [(engine_snapshot, "zlib", _CrcPerChunk)]


# --- recovery -----------------------------------------------------------------------------------


def _replay_covered_records() -> list:
    real_replay = recovery._replay

    def replay(io, result, segments: dict) -> None:
        covered = result.snapshot_lsn
        if segments:  # replay from the oldest segment still on disk, as if nothing covered it
            result.snapshot_lsn = min(covered, min(segments) - 1)
        try:
            real_replay(io, result, segments)
        finally:
            result.snapshot_lsn = covered

    return [(recovery, "_replay", replay)]


def _recovery_trusts_page_cache() -> list:
    def repair(io, directory: str, result):
        # What repair did before: cut the tail and delete the dead, but never make durable the
        # files and names it just recovered from, which after a process crash may be cache only.
        handle = None
        if result.append_to is not None:
            handle = io.open_append(result.append_to.path, "wal.open")
            if result.truncate is not None:
                io.truncate(handle, result.truncate[1], "wal.truncate")
                io.fsync(handle, "wal.fsync")
        for path, label in result.unlink:
            io.unlink(path, label)
        if result.unlink:
            io.fsync_dir(directory)
        if handle is not None:
            return engine_wal.Wal(io, directory, handle, result.append_to.first_lsn, result.append_to.end)
        return engine_wal.Wal.create_segment(io, directory, result.last_lsn + 1)

    return [(recovery, "repair", repair)]


def _checksum_not_verified() -> list:
    def unframe(line: bytes) -> bytes:
        if not line.endswith(b"\n") or line[8:9] != b" ":
            raise LineError("not a line")
        return line[9:-1]  # the checksum is not compared

    return [(codec, "unframe", unframe)]


def _torn_tail_fatal() -> list:
    real_recover = recovery.recover

    def recover(io, directory: str, *, strict: bool):
        scanned = recovery.scan(io, directory)
        if scanned.discarded:
            first = scanned.discarded[0]
            raise CorruptDataError(f"damaged log: {first.reason}", path=first.path, offset=first.offset)
        return real_recover(io, directory, strict=strict)

    return [(engine_store, "recover", recover)]


def _replay_past_bad_record() -> list:
    def scan_segment(path: str, data: bytes, first_lsn: int):
        scan = engine_wal.scan_segment(path, data, first_lsn)
        pos, expected = scan.end, scan.next_lsn
        while scan.damage and scan.header_ok and pos < len(data):
            newline = data.find(b"\n", pos)
            if newline < 0:
                break
            try:  # the bug: skip the bad line and carry on with the ones after it
                lsn, op, args = decode_record(data[pos : newline + 1])
                if lsn == expected:
                    scan.records.append((pos, lsn, op, args))
                    expected += 1
            except LineError:
                pass
            pos = newline + 1
        if scan.damage and scan.header_ok:
            scan.end, scan.damage = len(data), None
        return scan

    return [(recovery, "scan_segment", scan_segment)]


def _quarantine_reuses_first_name() -> list:
    real_keep = engine_quarantine.keep

    def keep(io, directory: str, stretches: list, stale: list) -> list:
        # The bookkeeping bug: a stretch quarantined before under the same name prefix is forgotten,
        # so a new copy of the same segment and offset is numbered 1 again and replaces the old one.
        folder = engine_quarantine.quarantine_dir(directory)
        if io.is_dir(folder):
            for source, offset in stretches:
                prefix = f"{os.path.basename(source)}@{offset}."
                data = io.read(source, "quarantine.read")[offset:]
                for name in io.listdir(folder, "quarantine.listdir"):
                    path = os.path.join(folder, name)
                    if name.startswith(prefix) and io.read(path, "quarantine.read") != data:
                        io.unlink(path, "quarantine.cleanup")
        return real_keep(io, directory, stretches, stale)

    return [(recovery, "keep", keep)]


def _wal_reader_ignores_version() -> list:
    def decode(line: bytes, version: int = 0):
        return decode_record(line)  # every segment read as the current version, whatever its header says

    return [(engine_wal, "decode_record", decode)]


# --- reads -----------------------------------------------------------------------------------------


def _hgetall_ignores_expiry() -> list:
    def hgetall(self, key) -> dict:
        entry = self._ks.data.get(arguments.key(key))  # no expiry check on this path
        if entry is None:
            return {}
        if type(entry[0]) is not dict:
            raise wrong_type(key, type(entry[0]), dict)
        return dict(entry[0])

    return [(engine_store.Store, "hgetall", hgetall)]


# --- boundaries -------------------------------------------------------------------------------------


def _ttl_zero_accepted() -> list:
    real_set = engine_store.Store.set

    def set(self, key, value, *, ttl=None, expire_at=None) -> None:
        if ttl == 0 and not isinstance(ttl, bool):  # the bound checked as `ttl < 0`: 0 slips through
            return real_set(self, key, value, expire_at=self._clock())
        return real_set(self, key, value, ttl=ttl, expire_at=expire_at)

    return [(engine_store.Store, "set", set)]


# --- threads (caught only by the "concurrent" kind: a single-threaded run never races) -------------


def _snapshot_shares_values() -> list:
    def copy(self) -> dict:
        return self.data.copy()  # the lists and hashes stay shared with writers while the snapshot encodes them

    return [(Keyspace, "copy", copy)]


def _seqlock_read_never_retries() -> list:
    def read(self, read, *args):
        return read(*args)  # trusts whatever it saw, a half-applied record included

    return [(Keyspace, "read", read)]


def _seqlock_write_never_odd() -> list:
    def apply_record(self, op: str, args: tuple, at_apply=None):
        with self.applying:
            answer = at_apply() if at_apply is not None else None
            engine_keyspace._APPLY[op](self.data, *args)
            self.seq += 2  # moved once the apply is done, never odd during it: a reader cannot tell
        if self.deadlines is not None and op in ("set", "expire") and args[-1] is not None:
            self.deadlines.add(args[-1], args[0])
        return answer

    return [(Keyspace, "apply_record", apply_record)]


def _rpush_validates_outside_lock() -> list:
    def rpush(self, key: object, *values: object) -> int:
        key = arguments.key(key)
        arguments.at_least_one(values, "rpush values")
        items = [arguments.value(v) for v in values]
        entry = self._ks.live_of_kind(key, self._clock(), list)  # decided before the lock: may be stale
        with self._write_lock:
            self._writable()
            self._commit("rpush", (key, entry is None, items))
            return len(items) if entry is None else len(entry[0])

    return [(engine_store.Store, "rpush", rpush)]


# --- blind spots: bugs the harness once let through ------------------------------------------------


def _torn_tail_left_in_place() -> list:
    real_repair = recovery.repair

    def repair(io: engine_io.IOLayer, directory: str, result: recovery.Scan) -> engine_wal.Wal:
        result.truncate = None  # the torn tail stays: the next record lands behind the garbage
        return real_repair(io, directory, result)

    return [(recovery, "repair", repair)]


def _reaper_removes_early() -> list:
    real_due = Deadlines.due

    def due(self: Deadlines, data: dict, now: float) -> list[str]:
        return real_due(self, data, now + 1.0)  # takes keys with up to a second left

    return [(Deadlines, "due", due)]


MUTANTS = {
    m.name: m
    for m in (
        Mutant(
            "wal-append-no-fsync",
            "WAL append writes the record but skips its fsync",
            "a write is durable before it is acknowledged",
            ("power",),
            "the acked record is only in the page cache, which a power loss drops; a process crash "
            "keeps the page cache, so the process kind cannot see it",
            _wal_append_without_fsync,
        ),
        Mutant(
            "memory-before-wal",
            "the mutation is applied in memory before its record is written",
            "WAL precedes memory mutation",
            ("process", "power"),
            "a reader sees the new value, then the crash lands before the record exists",
            _memory_before_wal,
        ),
        Mutant(
            "memory-before-fsync",
            "the mutation is applied in memory after the WAL write, before its fsync",
            "WAL precedes memory mutation (durably)",
            ("power",),
            "a reader sees the value while its record is only in the page cache; a power loss drops it",
            _memory_before_fsync,
        ),
        Mutant(
            "wal-fsync-retried",
            "after a failed WAL fsync the store fsyncs again and carries on",
            "after a failed fsync no more writes are accepted",
            ("ioerror",),
            "the kernel may drop the pages of a failed fsync; the retry's success acks a record the "
            "disk never gets (PostgreSQL's 2018 fsync bug)",
            _wal_fsync_retried,
        ),
        Mutant(
            "wal-failure-left-in-file",
            "a record whose write or fsync failed is left in the segment",
            "after a restart, no acked write sits behind bytes the disk may not hold",
            ("ioerror",),
            "a reopen in the same boot replays it from the page cache while the disk has a hole there; "
            "writes acked after the reopen follow the hole and a power loss takes them too",
            _wal_failure_left_in_file,
        ),
        Mutant(
            "wal-segment-no-dir-fsync",
            "a new WAL segment is used without fsyncing the directory",
            "a write is durable before it is acknowledged",
            ("power", "stateful"),
            "the segment's directory entry may not survive a power loss, and every record in it goes too",
            _segment_without_dir_fsync,
        ),
        Mutant(
            "snapshot-no-fsync",
            "the snapshot's data is not fsynced before the rename",
            "snapshots are atomic",
            ("power",),
            "the rename can reach the disk before the data: recovery finds a torn snapshot",
            lambda: _skip_fsync("snapshot.fsync"),
        ),
        Mutant(
            "snapshot-rename-no-dir-fsync",
            "the snapshot is renamed into place but the directory is not "
            "fsynced before the WAL segments it covers are deleted",
            "memory state == snapshot + WAL replay",
            ("power",),
            "the segment deletion may persist while the rename does not",
            _snapshot_rename_without_dir_fsync,
        ),
        Mutant(
            "snapshot-crc-restarts-each-chunk",
            "the snapshot writer's running checksum restarts at each 1 MiB chunk it writes",
            "a snapshot is valid: memory state == snapshot + WAL replay",
            ("stateful",),
            "a snapshot of one chunk is right; only state past 1 MiB (the state machine's grow_past_every_buffer; "
            "no campaign workload gets there) writes a second chunk, whose snapshot recovery then refuses",
            _snapshot_crc_restarts_each_chunk,
        ),
        Mutant(
            "wal-cut-before-snapshot-rename",
            "the WAL segments a snapshot covers are deleted before the snapshot is renamed into place",
            "WAL truncated only after snapshot success",
            ("process", "power"),
            "a crash between the deletion and the rename leaves neither the records nor the snapshot",
            _wal_cut_before_snapshot_rename,
        ),
        Mutant(
            "snapshot-in-place",
            "the snapshot is written straight to its final name, no temp file and rename",
            "snapshots are atomic",
            ("process", "power"),
            "a crash mid-write leaves a half snapshot as the newest one",
            _snapshot_written_in_place,
        ),
        Mutant(
            "replay-covered-records",
            "recovery replays records the snapshot already holds",
            "memory state == snapshot + WAL replay (each record applied once)",
            ("process", "power"),
            "after a crash between the snapshot rename and the WAL cut, rpush items appear twice (it takes "
            "an rpush appending to a list an earlier cut left only in a snapshot: workloads of 30+ ops)",
            _replay_covered_records,
        ),
        Mutant(
            "recovery-trusts-page-cache",
            "after a process crash, recovery serves and builds on files and "
            "names it read from the page cache without making them durable",
            "WAL precedes memory mutation (after a restart too)",
            ("power", "stateful"),
            "a power loss after the restart loses what the restarted store served or acked",
            _recovery_trusts_page_cache,
        ),
        Mutant(
            "checksum-not-verified",
            "replay decodes records without comparing their checksum",
            "no partial or damaged mutation is ever applied",
            ("damage",),
            "a flipped byte inside a value still parses, and the wrong value is replayed",
            _checksum_not_verified,
        ),
        Mutant(
            "torn-tail-fatal",
            "recovery refuses to open whenever the log ends in a torn record",
            "crash recovery: a partial WAL entry is ignored",
            ("power", "process"),
            "every crash that tears the last record leaves a store that will not open",
            _torn_tail_fatal,
        ),
        Mutant(
            "replay-past-bad-record",
            "replay skips a bad record and applies the ones after it",
            "replay stops at the first bad record (point-in-time)",
            ("damage",),
            "damage in the middle of the log leaves a state no prefix of the workload ever had",
            _replay_past_bad_record,
        ),
        Mutant(
            "quarantine-reuses-first-name",
            "a stretch quarantined again at the same segment and offset replaces the earlier copy",
            "recovery never destroys what it cannot use (across recoveries too)",
            ("damage",),
            "one damage and one recovery never quarantine the same place twice; a later life (write on, damage "
            "again where recovery cut, recover) does, and the first life's copy is gone",
            _quarantine_reuses_first_name,
        ),
        Mutant(
            "wal-reader-ignores-version",
            "replay decodes every WAL segment as the current format version, whatever its header says",
            "every format version the engine still reads is read as that version wrote it",
            ("power", "process", "stateful"),
            "current-format files read right; only a directory an older version wrote, with non-ASCII values, "
            "shows it: the from-v1 workload, which starts from one, and the state machine restarting on its "
            "files as an older version writes them",
            _wal_reader_ignores_version,
            workload="from-v1",
        ),
        Mutant(
            "hgetall-ignores-expiry",
            "hgetall returns a hash after its TTL has passed",
            "expired keys are logically invisible",
            ("stateful",),
            "the state machine reads every path after moving the clock",
            _hgetall_ignores_expiry,
        ),
        Mutant(
            "wal-rotate-closes-old-first",
            "a snapshot's WAL rotation closes the current segment before its successor is created",
            "an error inside a snapshot fails the snapshot and nothing else",
            ("ioerror",),
            "when creating the new segment fails, the store keeps appending through the closed handle: "
            "EBADF fails the next write (or, with the descriptor reused, sends records into another file); "
            "seen only by a disk that refuses I/O on closed handles",
            _rotate_closes_old_segment_first,
        ),
        Mutant(
            "hset-as-several-records",
            "a multi-field hset is logged as one record per field",
            "no partial mutation is ever visible",
            ("process", "power", "stateful"),
            "a crash between the records recovers half an hset",
            _hset_as_several_records,
        ),
        Mutant(
            "set-ttl-zero-accepted",
            "set checks its ttl as `ttl < 0`, so a ttl of 0 is accepted: a key written already expired",
            "bad input gets a clear typed error (a ttl must be > 0)",
            ("stateful", "power", "process"),
            "an off-by-one at the boundary: only generators that ask for a ttl of exactly 0 see it (the state "
            "machine's edge_number rule; the edges workload, where the accepted set hides a live value)",
            _ttl_zero_accepted,
            workload="edges",
        ),
        Mutant(
            "snapshot-shares-values",
            "a snapshot copies the keyspace shallowly, so it encodes lists and hashes writers change meanwhile",
            "a snapshot holds exactly the state at its LSN",
            ("concurrent",),
            "writes after the snapshot's LSN reach it and are replayed again from the WAL after a kill",
            _snapshot_shares_values,
        ),
        Mutant(
            "seqlock-read-never-retries",
            "a lock-free read never checks the seqlock, so it returns what it saw mid-apply",
            "reads are linearizable: no partial mutation is ever visible",
            ("concurrent",),
            "a reader thread sees half a multi-key delete or multi-field hdel",
            _seqlock_read_never_retries,
        ),
        Mutant(
            "seqlock-write-never-odd",
            "the writer moves the seqlock's counter by two after an apply instead of making it odd during it",
            "reads are linearizable: no partial mutation is ever visible",
            ("concurrent",),
            "the writer-side twin of seqlock-read-never-retries: a reader sees an even, unchanged counter "
            "around half a multi-key delete or multi-field hdel; only a forced interleaving (a writer parked "
            "inside its apply while a reader reads) makes it happen on every run",
            _seqlock_write_never_odd,
        ),
        Mutant(
            "rpush-validates-outside-lock",
            "rpush decides 'new list or existing one' before it takes the write lock",
            "writes are linearizable: validation and apply see one state",
            ("concurrent",),
            "a writer changes the key between the decision and the commit: a list replaced, or a record replay refuses",
            _rpush_validates_outside_lock,
        ),
        Mutant(
            "torn-tail-left-in-place",
            "recovery keeps the torn tail a crash left, and new records follow it",
            "crash recovery: a partial WAL entry is ignored (and never put behind later records)",
            ("power", "stateful"),
            "harmless at the first recovery; after the store writes on, the next recovery stops at the garbage "
            "and loses the records behind it: only a write after the crash shows it (the power kind's later "
            "lives; the state machine's power_loss_tearing_a_record_then_write_on, on every derandomised run)",
            _torn_tail_left_in_place,
        ),
        Mutant(
            "reaper-removes-early",
            "the reaper removes keys that have up to a second left",
            "expired keys are logically invisible, and live keys visible",
            ("stateful",),
            "a reap lands before a deadline the clock then reaches exactly, and the state machine's next read finds "
            "the key gone (the power kind sees it too on the ttl and mixed workloads, which reap; the zoo's does not)",
            _reaper_removes_early,
        ),
    )
}


@contextlib.contextmanager
def active(name: str | None) -> Iterator[Mutant | None]:
    """Apply mutant `name` (None: the real engine) for the duration of the block."""
    if name is None:
        yield None
        return
    if name not in MUTANTS:
        raise ValueError(f"unknown mutant {name!r}; choose from {', '.join(MUTANTS)}")
    mutant = MUTANTS[name]
    saved = []
    for owner, attribute, replacement in mutant.patches():
        saved.append((owner, attribute, getattr(owner, "__dict__", {}).get(attribute, getattr(owner, attribute))))
        setattr(owner, attribute, replacement)
    try:
        yield mutant
    finally:
        for owner, attribute, original in reversed(saved):
            setattr(owner, attribute, original)
