"""The recipe with the rename before the fsync. Caught by power, not by process kills.

Between the rename and the fsync, the new name may be durable while the data is not.
"""

import json
import os

OPS = 10


def save(path, data):
    name, temp = os.path.join(path, "db.json"), os.path.join(path, "db.json.tmp")
    with open(temp, "w") as f:
        json.dump(data, f)
        f.flush()  # out of Python's buffer, into the kernel
        os.replace(temp, name)  # BROKEN: the name points at data not yet on disk
        os.fsync(f.fileno())
    fsync_dir(path)  # the rename itself is on disk before we ack


def fsync_dir(path):
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


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
