"""The sqlite3 module in WAL mode with synchronous=FULL: every acked row survives. Every state ok.

    python -m tornwrite.faultinject program docs/examples/sqlite_wal_full.py

SQLite writes its files in C, so only a system-call trace sees them. With synchronous=FULL a
commit in WAL mode returns after the WAL frames holding it are fsynced (and, on the WAL's
creation, its directory), so a power loss can only drop or tear frames of the commit in flight,
which SQLite's frame checksums then ignore. locking_mode=EXCLUSIVE keeps the WAL index in heap
memory instead of a shared mmap of a `-shm` file, which no system call would show.
sqlite_wal_off.py next to this file never syncs: acked rows are lost on power loss.
"""

import os
import sqlite3

OPS = 3
DB = "db.sqlite"


def connect(path, synchronous):
    db = sqlite3.connect(os.path.join(path, DB), isolation_level=None)  # autocommit: each INSERT is a commit
    db.execute("PRAGMA locking_mode=EXCLUSIVE")  # before WAL mode: no -shm mapping
    db.execute("PRAGMA journal_mode=WAL")
    db.execute(f"PRAGMA synchronous={synchronous}")
    return db


def setup(path):
    db = connect(path, "FULL")
    db.execute("CREATE TABLE rows (n INTEGER PRIMARY KEY)")
    db.close()  # the last connection checkpoints the WAL into the database and deletes it


def insert_each(path, ack, synchronous):
    """OPS inserts, each acked once its commit returned (sqlite_wal_off.py reuses it)."""
    db = connect(path, synchronous)
    try:
        for n in range(OPS):
            db.execute("INSERT INTO rows VALUES (?)", (n,))
            ack(n)
    finally:
        db.close()


def workload(path, ack):
    insert_each(path, ack, "FULL")


def recover(path):
    db = connect(path, "FULL")  # opening replays the WAL's committed frames
    try:
        return [n for (n,) in db.execute("SELECT n FROM rows ORDER BY n")]
    finally:
        db.close()


def check(rows, acked):
    missing = [n for n in acked if n not in rows]
    assert not missing, f"lost acked rows {missing}"
    assert rows == list(range(len(rows))), f"not a prefix of the inserts: {rows}"
