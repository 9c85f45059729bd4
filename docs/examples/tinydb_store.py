"""TinyDB 4.9.0 (a test-only dependency): its JSONStorage rewrites the file in place, fsyncs, then
truncates. A kill between the fsync and the truncate leaves the old file's tail after the new
JSON, and TinyDB's own reader refuses the file: "Extra data".

The workload removes documents, so each save is shorter than the file it overwrites.

    python -m tornwrite.faultinject program docs/examples/tinydb_store.py
    python -m tornwrite.faultinject program docs/examples/tinydb_store.py --kinds "" --kill 100
"""

import os

from tinydb import TinyDB, where

DOCS = 10


def setup(path):
    with TinyDB(os.path.join(path, "db.json")) as db:
        db.insert_multiple({"n": i, "text": "x" * 40} for i in range(DOCS))


def workload(path, ack):
    with TinyDB(os.path.join(path, "db.json")) as db:
        for i in range(DOCS):
            db.remove(where("n") == i)
            ack(i)


def recover(path):
    with TinyDB(os.path.join(path, "db.json")) as db:
        return sorted(doc["n"] for doc in db.all())


def check(state, acked):
    resurrected = [n for n in acked if n in state]
    assert not resurrected, f"lost acked removals of {resurrected}"
    assert state == list(range(state[0], DOCS)) if state else True, f"not a suffix of the documents: {state}"
