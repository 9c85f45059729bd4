"""A shell script that saves with cp and mv, syncing each step with coreutils' sync: every state ok.

    python -m tornwrite.faultinject program docs/examples/shell_cp_mv.py

The workload runs `sh -c SCRIPT`: the new contents go to a staging file, `cp` copies it to a
temp file, `sync FILE` fsyncs it, `mv` renames it over db.json and `sync DIR` fsyncs the
directory (coreutils' sync fsyncs the files it is given). broken_shell_cp_mv.py leaves the
syncs out. Only a trace that follows the shell and its children sees any of it.
"""

import json
import subprocess

from safe_json import check, recover  # noqa: F401 (the recipe's file and promise)

OPS = 3
SCRIPT = """set -e
cd "$1"
printf '%s' "$2" > staging.json
cp staging.json db.json.tmp
sync db.json.tmp
mv db.json.tmp db.json
sync .
"""


def save_each(path, ack, script):
    """OPS saves by `script` (sh -c, given the directory and the JSON), each acked once it exited 0."""
    data = {}
    for i in range(OPS):
        data[f"k{i}"] = i
        subprocess.run(["sh", "-c", script, "sh", path, json.dumps(data)], check=True)
        ack(f"k{i}")


def workload(path, ack):
    save_each(path, ack, SCRIPT)
