"""The recipe without the fsync of the directory. Caught by power, not by process kills.

The rename is acked before it is durable: after a power loss db.json is the old file and
the last acked save is lost.
"""

import json
import os

from safe_json import check, recover, save_each  # noqa: F401 (the recipe's; only save differs)


def save(path, data):
    name, temp = os.path.join(path, "db.json"), os.path.join(path, "db.json.tmp")
    with open(temp, "w") as f:
        json.dump(data, f)
        f.flush()  # out of Python's buffer, into the kernel
        os.fsync(f.fileno())  # the data is on disk before the name points at it
    os.replace(temp, name)
    # BROKEN: no fsync of the directory, the rename may not be durable when we ack


def workload(path, ack):
    save_each(path, ack, save)
