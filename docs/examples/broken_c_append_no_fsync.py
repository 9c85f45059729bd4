"""The C program of c_append.py without its fsync: acked records are lost on power loss.

A killed process loses nothing (the kernel has the writes); a power loss drops the appends
that were never synced, after the program reported them.
"""

from c_append import append_each, check, recover, setup  # noqa: F401 (the same program and log)


def workload(path, ack):
    append_each(path, ack, "--no-fsync")  # BROKEN: reported before it is durable
