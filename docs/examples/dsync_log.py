"""A log opened with O_APPEND | O_DSYNC and never fsynced: every state ok.

    python -m tornwrite.faultinject program docs/examples/dsync_log.py

With O_DSYNC each write(2) returns only once its data, and the size needed to read it back,
are durable (open(2); POSIX synchronized I/O data integrity), so a record is on disk when
it is acked. The log exists before the run (setup), so no directory entry is pending. A power
loss can tear only the record in flight, which recover() stops at.
"""

import json
import os

OPS = 3
LOG = "log.jsonl"


def setup(path):
    open(os.path.join(path, LOG), "wb").close()


def workload(path, ack):
    fd = os.open(os.path.join(path, LOG), os.O_WRONLY | os.O_APPEND | os.O_DSYNC)
    try:
        for i in range(OPS):
            os.write(fd, (json.dumps({"i": i}) + "\n").encode())  # durable on return: no fsync needed
            ack(i)
    finally:
        os.close(fd)


def recover(path):
    """The whole records; the part after the last newline, or a zero-filled line, is the torn one in flight."""
    with open(os.path.join(path, LOG), "rb") as f:
        lines = f.read().split(b"\n")[:-1]
    records = []
    for line in lines:
        try:
            records.append(json.loads(line)["i"])
        except ValueError:
            break
    return records


def check(records, acked):
    missing = [i for i in acked if i not in records]
    assert not missing, f"lost acked records {missing}"
    assert records == list(range(len(records))), f"not a prefix of the appends: {records}"
