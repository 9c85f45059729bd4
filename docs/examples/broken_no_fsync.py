"""The recipe without the fsync of the data. Caught by power, not by process kills.

The rename can reach the disk before the data does: after a power loss db.json is empty.
"""

import json
import os

from safe_json import check, fsync_dir, recover, save_each  # noqa: F401 (the recipe's; only save differs)


def save(path, data):
    name, temp = os.path.join(path, "db.json"), os.path.join(path, "db.json.tmp")
    with open(temp, "w") as f:
        json.dump(data, f)
        f.flush()  # BROKEN: no fsync, the data may still be only in the page cache
    os.replace(temp, name)
    fsync_dir(path)  # the rename itself is on disk before we ack


def workload(path, ack):
    save_each(path, ack, save)
