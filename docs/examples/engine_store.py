"""The bundled engine (tornwrite.engine.Store) through its public API, as an ordinary program.

Its own I/O hooks are not used: the interposer records the engine's os.* calls like any other
program's. A reader (`observe`) looks at the store the workload keeps at each crash point, the
way a concurrent client could: a value it saw was served, so it must survive the crash. It
passes every crash state; with the bug zoo's `memory-before-wal` mutant (a value visible before
its record is in the log) the reader's look is what shows the loss.

    python -m tornwrite.faultinject program docs/examples/engine_store.py
"""

import os

from tornwrite.engine import Store

OPS = 10
_opened = []  # the workload's store, for the reader (in the crashing process only)


def workload(path, ack):
    with Store.open(os.path.join(path, "db")) as store:
        _opened.append(store)
        for i in range(OPS):
            store.set(f"k{i}", f"v{i}".encode())
            ack(f"k{i}")


def observe(path, ack):
    """Read every key the workload writes; ack those it sees (a read is an acknowledgement)."""
    if _opened:
        for i in range(OPS):
            if _opened[0].get(f"k{i}") is not None:
                ack(f"k{i}")


def recover(path):
    directory = os.path.join(path, "db")
    if not os.path.isdir(directory):
        return {}  # the crash came before the store was created
    with Store.open(directory) as store:
        values = {key: store.get(key) for key in (f"k{i}" for i in range(OPS))}
    return {key: value.decode() for key, value in values.items() if value is not None}


def check(state, acked):
    missing = sorted(set(acked) - set(state), key=lambda k: int(k[1:]))
    assert not missing, f"lost acked keys {missing}"
    assert all(state[key] == f"v{key[1:]}" for key in state), f"wrong values: {state}"
    assert sorted(state, key=lambda k: int(k[1:])) == [f"k{i}" for i in range(len(state))], f"not a prefix: {state}"
