"""BROKEN: append_log.py whose recovery leaves a torn tail in place. Caught by power, in a later life only.

recover() skips the torn line, so the first recovery is fine. But the program then writes on:
its new lines land behind the garbage, and the recovery after the next crash stops at the
garbage and drops them, acked as they were. Only a later life (resume) shows it.

    python -m tornwrite.faultinject program docs/examples/broken_torn_tail_kept.py
"""

from append_log import OPS, check, read, resume, setup, workload  # noqa: F401 (the target's contract)


def recover(path):
    records, _ = read(path)  # BROKEN: the torn tail after them stays in the file
    return records
