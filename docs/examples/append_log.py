"""An append-only log of JSON lines, with later lives: it passes every state.

Each operation appends one line and fsyncs it before its ack. A power loss can tear the last
line; recover() reads up to the first line that is not a whole record and cuts the file there,
fsynced, so that what the program writes next follows whole records. resume() lets the harness
run later lives: after a crash the program restarts, appends more, and loses power again.

    python -m tornwrite.faultinject program docs/examples/append_log.py

broken_torn_tail_kept.py next to this file skips the torn line but leaves it in place: harmless
at the first recovery, and caught, by power only, in a later life.
"""

import json
import os

OPS = 6
LOG = "log.jsonl"


def setup(path):
    open(os.path.join(path, LOG), "wb").close()  # the empty log, durable before the run


def append(path, record):
    fd = os.open(os.path.join(path, LOG), os.O_WRONLY | os.O_APPEND)
    try:
        os.write(fd, (json.dumps(record) + "\n").encode())
        os.fsync(fd)  # on disk before the ack
    finally:
        os.close(fd)


def read(path):
    """The whole records, and the offset where they end (a torn or zeroed tail may follow)."""
    with open(os.path.join(path, LOG), "rb") as f:
        data = f.read()
    records, end = [], 0
    for line in data.split(b"\n")[:-1]:  # the part after the last newline is never whole
        try:
            records.append(json.loads(line))
        except ValueError:
            break
        end += len(line) + 1
    return records, end


def recover(path):
    records, end = read(path)
    if end < os.path.getsize(os.path.join(path, LOG)):
        fd = os.open(os.path.join(path, LOG), os.O_WRONLY)
        try:
            os.ftruncate(fd, end)  # the torn tail goes before anything is written behind it
            os.fsync(fd)
        finally:
            os.close(fd)
    return records


def workload(path, ack):
    run(path, ack, life=1)


def resume(path, ack, acked):
    """After a restart: a new life, numbered after every life the log or the acks know of."""
    records, _ = read(path)
    run(path, ack, life=1 + max([r["life"] for r in records] + [token[0] for token in acked], default=1))


def run(path, ack, life):
    for i in range(OPS):
        append(path, {"life": life, "i": i})
        ack([life, i])


def check(records, acked):
    missing = [token for token in acked if {"life": token[0], "i": token[1]} not in records]
    assert not missing, f"lost acked records {missing}"
    for life in {r["life"] for r in records}:
        numbers = [r["i"] for r in records if r["life"] == life]
        assert numbers == list(range(len(numbers))), f"life {life}'s records are not a prefix: {numbers}"
