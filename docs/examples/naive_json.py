"""A naive JSON save: open(path, "w") then write. Fails under process kills.

open(..., "w") truncates the file first: a kill between the truncate and the write leaves an
empty (or half-written) db.json, which the program's own reader refuses.

    python -m tornwrite.faultinject program docs/examples/naive_json.py
"""

import json
import os

OPS = 10


def save(path, data):
    with open(os.path.join(path, "db.json"), "w") as f:
        json.dump(data, f)


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
