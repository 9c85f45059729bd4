"""The atomic-replace recipe: temp file, fsync it, os.replace, fsync the directory. Passes every state.

    python -m tornwrite.faultinject program docs/examples/safe_json.py

The three broken variants next to this file each skip or reorder one step of `save`, and each
is caught by the fault kind that should catch it (power, never process: a killed process loses
nothing the kernel has).
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
    fsync_dir(path)  # the rename itself is on disk before we ack


def fsync_dir(path):
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def workload(path, ack):
    save_each(path, ack, save)


def save_each(path, ack, save):
    """OPS saves of a growing dict, each acked once `save` returned (the broken variants reuse it)."""
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
