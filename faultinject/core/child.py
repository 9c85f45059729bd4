"""What a forked child said over a pipe before it ended: read until the pipe closes or a deadline.

A child reports in tagged lines ("A <ack>", "E <error>", ...), each written with one os.write,
so the bytes are in the kernel before any SIGKILL; the parent reads them all once the child is
gone. Used by the campaign's process kind and by a program's forked runs.
"""

from __future__ import annotations

import os
import select
import signal
import time


def read_lines(fd: int, pid: int, timeout: float) -> tuple[list[tuple[str, str]], bool]:
    """The (tag, value) lines child `pid` wrote to `fd`, and whether it hung: still running after
    `timeout` seconds, when it is SIGKILLed. An error's newlines come back unescaped."""
    buffer = b""
    deadline = time.monotonic() + timeout
    hung = False
    while True:
        ready, _, _ = select.select([fd], [], [], max(0.0, deadline - time.monotonic()))
        if not ready:
            os.kill(pid, signal.SIGKILL)
            hung = True
            break
        chunk = os.read(fd, 65536)
        if not chunk:
            break
        buffer += chunk
    lines = []
    for line in buffer.decode("utf-8", "replace").splitlines():
        tag, _, value = line.partition(" ")
        lines.append((tag, value.replace("\\n", "\n") if tag == "E" else value))
    return lines, hung
