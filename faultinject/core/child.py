"""What a forked child said over a pipe before it ended: read until the pipe closes or a deadline.

A child reports in tagged lines ("A <ack>", "E <error>", ...), each written with one os.write,
so the bytes are in the kernel before any SIGKILL; the parent reads them all once the child is
gone (read_lines), or as they come, from a child that waits for its answers (stream_lines).
Used by the campaign's process kind and by a program's forked runs.
"""

from __future__ import annotations

import os
import select
import signal
import time
from collections.abc import Iterator


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


def stream_lines(fd: int, pid: int, timeout: float, milestone: str) -> Iterator[tuple[str, str]]:
    """The (tag, value) lines child `pid` writes to `fd`, as they come, until the pipe closes;
    if `timeout` seconds pass without a line tagged `milestone`, the child is SIGKILLed and a
    last ("H", "") line says it hung. An error's newlines come back unescaped."""
    buffer = b""
    deadline = time.monotonic() + timeout
    while True:
        ready, _, _ = select.select([fd], [], [], max(0.0, deadline - time.monotonic()))
        if not ready:
            os.kill(pid, signal.SIGKILL)
            yield "H", ""
            return
        chunk = os.read(fd, 65536)
        buffer += chunk
        *whole, buffer = buffer.split(b"\n")
        for line in whole:
            tag, _, value = line.decode("utf-8", "replace").partition(" ")
            if tag == milestone:
                deadline = time.monotonic() + timeout
            yield tag, value.replace("\\n", "\n") if tag == "E" else value
        if not chunk:
            return
