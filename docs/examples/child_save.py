"""A program that saves from a forked child process, renaming before the data is durable: broken.

    python -m tornwrite.faultinject program docs/examples/child_save.py

Each save forks; the child writes the temp file, renames it over db.json and fsyncs the
directory, but never fsyncs the temp file's data; the parent acks once the child exited 0.
A power loss can keep the rename and lose the data: an empty db.json (integrity). Only a
trace that follows the child sees any of it.
"""

import json
import os

from safe_json import check, fsync_dir, recover  # noqa: F401 (the recipe's file and promise)

OPS = 3


def save_in_child(path, data):
    pid = os.fork()
    if pid == 0:  # the child: save, then leave without running the parent's cleanup
        status = 1
        try:
            temp = os.path.join(path, "db.json.tmp")
            with open(temp, "w") as f:
                json.dump(data, f)  # BROKEN: no fsync before the rename
            os.replace(temp, os.path.join(path, "db.json"))
            fsync_dir(path)
            status = 0
        finally:
            os._exit(status)
    _, wait_status = os.waitpid(pid, 0)
    if os.waitstatus_to_exitcode(wait_status) != 0:
        raise RuntimeError(f"the saving child failed: wait status {wait_status}")


def workload(path, ack):
    data = {}
    for i in range(OPS):
        data[f"k{i}"] = i
        save_in_child(path, data)
        ack(f"k{i}")
