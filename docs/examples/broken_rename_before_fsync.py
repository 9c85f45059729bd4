"""The recipe with the rename before the fsync. Caught by power, not by process kills.

Between the rename and the fsync, the new name may be durable while the data is not.
"""

import json
import os

from safe_json import check, fsync_dir, recover, save_each  # noqa: F401 (the recipe's; only save differs)


def save(path, data):
    name, temp = os.path.join(path, "db.json"), os.path.join(path, "db.json.tmp")
    with open(temp, "w") as f:
        json.dump(data, f)
        f.flush()  # out of Python's buffer, into the kernel
        os.replace(temp, name)  # BROKEN: the name points at data not yet on disk
        os.fsync(f.fileno())
    fsync_dir(path)  # the rename itself is on disk before we ack


def workload(path, ack):
    save_each(path, ack, save)
