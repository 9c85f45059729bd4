"""A compiled C program appends records, each fsynced before it reports it: every state ok.

    python -m tornwrite.faultinject program docs/examples/c_append.py

setup() compiles c_append.c (next to this file) with `cc` into the scratch directory; the
workload drives the binary through a pipe, one record per line it sends, and acks a record
once the program reported it. The program exits when its input closes, so nothing writes
after the workload is gone. Only a system-call trace sees the C program's writes.
broken_c_append_no_fsync.py runs it with --no-fsync: acked records are lost on power loss.
"""

import os
import shutil
import subprocess

OPS = 3
LOG = "log"
BINARY = "c_append"
SOURCE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "c_append.c")


def setup(path):
    if shutil.which("cc") is None:
        raise RuntimeError("c_append.py needs a C compiler: no `cc` on PATH")
    subprocess.run(["cc", "-O2", "-o", os.path.join(path, BINARY), SOURCE], check=True)
    open(os.path.join(path, LOG), "wb").close()  # the empty log, durable before the run


def append_each(path, ack, *flags):
    """OPS records appended by the C program, each acked once it reported it (the broken variant reuses it)."""
    child = subprocess.Popen(
        [os.path.join(path, BINARY), os.path.join(path, LOG), *flags],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert child.stdin is not None and child.stdout is not None
    with child:
        for n in range(OPS):
            child.stdin.write("next\n")
            child.stdin.flush()
            reply = child.stdout.readline()
            if reply != f"ok {n:03d}\n":
                raise RuntimeError(f"c_append replied {reply!r} to record {n}")
            ack(n)
        child.stdin.close()
    if child.returncode != 0:
        raise RuntimeError(f"c_append exited with status {child.returncode}")


def workload(path, ack):
    append_each(path, ack)


def recover(path):
    """The whole records from the start; a torn or zero-filled tail (the record in flight) ends them."""
    with open(os.path.join(path, LOG), "rb") as f:
        data = f.read()
    records = []
    while data[len(records) * 11 :].startswith(f"record {len(records):03d}\n".encode()):
        records.append(len(records))
    return records


def check(records, acked):
    missing = [n for n in acked if n not in records]
    assert not missing, f"lost acked records {missing}"
