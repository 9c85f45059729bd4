"""Transfers between accounts in a table updated in place through mmap, with no journal: broken.

    python -m tornwrite.faultinject program docs/examples/mmap_table.py --kill 20

Each transfer debits one account, flushes the mapping (msync), then credits the other and
flushes again. A crash between the two flushes, a process kill as much as a power loss, leaves
the money debited and never credited: the total is no longer conserved. Stores to a shared
writable mapping are not system calls, so no trace sees them being made: a run can only find
this by real kills (its msync is a system call a kill can land on), or say it has no verdict.
It must never pass.
"""

import mmap
import os
import struct

ACCOUNTS = 4
START = 100  # each account's opening balance
OPS = 3
TABLE = "accounts"
SLOT = struct.Struct("<q")


def setup(path):
    with open(os.path.join(path, TABLE), "wb") as f:
        f.write(SLOT.pack(START) * ACCOUNTS)


def workload(path, ack):
    with open(os.path.join(path, TABLE), "r+b") as f, mmap.mmap(f.fileno(), 0) as table:
        for n in range(OPS):
            source, destination, amount = n % ACCOUNTS, (n + 1) % ACCOUNTS, 10 + n
            debit = SLOT.unpack_from(table, source * SLOT.size)[0] - amount
            SLOT.pack_into(table, source * SLOT.size, debit)
            table.flush()  # BROKEN: the debit is durable on its own, with no journal to undo it
            credit = SLOT.unpack_from(table, destination * SLOT.size)[0] + amount
            SLOT.pack_into(table, destination * SLOT.size, credit)
            table.flush()
            ack(n)


def recover(path):
    with open(os.path.join(path, TABLE), "rb") as f:
        data = f.read()
    return [SLOT.unpack_from(data, i * SLOT.size)[0] for i in range(ACCOUNTS)]


def check(balances, acked):
    assert sum(balances) == START * ACCOUNTS, f"money created or destroyed: balances {balances}"
