"""The atomic-replace recipe made durable by os.sync() instead of fsync(fd): every state ok.

    python -m tornwrite.faultinject program docs/examples/os_sync_save.py

sync(2) writes out every file system's dirty data and metadata and, on Linux, returns only
once it is done: after the first sync the temp file's bytes are durable before the name
points at them, after the second the rename is. Costly on a busy machine, but correct.
"""

import json
import os

from safe_json import check, recover  # noqa: F401 (the recipe's file and promise)

OPS = 3


def save(path, data):
    name, temp = os.path.join(path, "db.json"), os.path.join(path, "db.json.tmp")
    with open(temp, "w") as f:
        json.dump(data, f)
    os.sync()  # the temp file's data is on disk before the name points at it
    os.replace(temp, name)
    os.sync()  # the rename is on disk before we ack


def workload(path, ack):
    data = {}
    for i in range(OPS):
        data[f"k{i}"] = i
        save(path, data)
        ack(f"k{i}")
