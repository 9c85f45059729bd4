"""The sqlite3 module in WAL mode with synchronous=OFF: acked rows are lost on power loss.

SQLite never syncs: a commit returns once its frames are in the page cache. A killed process
loses nothing (the kernel keeps the cache), a power loss loses the acked rows: caught by
power only, and only by a trace that sees SQLite's own writes.
"""

from sqlite_wal_full import check, insert_each, recover, setup  # noqa: F401 (the same database; only the sync level differs)


def workload(path, ack):
    insert_each(path, ack, "OFF")  # BROKEN for a program that promises durability: nothing is ever synced
