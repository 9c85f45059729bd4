"""The recipe without the fsync of the directory. Caught by power, not by process kills.

The rename is acked before it is durable: after a power loss db.json is the old file and
the last acked save is lost.
"""

import json
import os

OPS = 10


def save(path, data):
    name, temp = os.path.join(path, "db.json"), os.path.join(path, "db.json.tmp")
    with open(temp, "w") as f:
        json.dump(data, f)
        f.flush()  # out of Python's buffer, into the kernel
        os.fsync(f.fileno())  # the data is on disk before the name points at it
    os.replace(temp, name)
    # BROKEN: no fsync of the directory, the rename may not be durable when we ack


def workload(path, ack):
    data = {}
    for i in range(OPS):
        data[f"k{i}"] = i
        save(path, data)
        ack(f"k{i}")


def recover(path):
    try:
        with open(os.path.join(path, "db.json")) as f:
            return json.load(f)
    except FileNotFoundError:
        return {}  # nothing saved yet


def check(state, acked):
    missing = [key for key in acked if key not in state]
    assert not missing, f"lost acked keys {missing}"
    assert state == {f"k{i}": i for i in range(len(state))}, f"not a prefix of the saves: {state}"
