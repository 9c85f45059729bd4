"""Reading strace's output: one completed system call per `Call`, in the order the calls returned.

The system-call source (syscall_source.py) runs strace as

    strace -f --seccomp-bpf -qq -e signal=none -y -xx -s LIMIT -ttt -e raw=read,readv ...

so every line is `PID TIME NAME(ARGS) = RESULT`, with every string and path in `\\xHH` form (no
quoting ambiguity: a string holds no quote, comma or bracket), every descriptor annotated with
the path the kernel had for it (`3</data/db.json>`, `AT_FDCWD</data>`), and reads printed raw
(their buffers are never decoded: only their return value matters). A call interrupted by
another thread's output is split into `NAME(ARGS <unfinished ...>` and later
`<... NAME resumed>REST`; the two halves are joined, and the call takes its place in the order
at its resumption, when its effect was done. A call left unfinished when the trace ends (its
process was killed inside it) is returned with `unfinished=True`.

A new process or thread can run before the clone, fork or vfork that made it returns in its
parent (a vfork child's dup2 of its stdout always does), so strace may print its calls first.
Those calls are held back and returned right after the call that made the process: the kernel
made it before it ran, and a model of the process tree must know its parent first.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

_LINE = re.compile(r"^(\d+)\s+(\d+\.\d+)\s+(.*)$")
_START = re.compile(r"^([a-z_0-9]+)\((.*)$")
_RESUMED = re.compile(r"^<\.\.\. ([a-z_0-9]+) resumed>(.*)$")
# `) = RESULT`, its descriptor's path `<...>` (then `(deleted)` when the name is gone), and an errno
# (`-1 ENOENT (No such ...)`) or a decoding of the result (`0x8401 (flags O_WRONLY|...)`)
_RESULT = re.compile(r"^(.*)\)\s+=\s+(-?[\w?]+)(?:<([^>]*)>(\(deleted\))?)?(?:\s+(.*))?$")
_ERRNO = re.compile(r"^[A-Z][A-Z0-9_]+$")
DELETED = " (deleted)"  # how a path annotation ends when its file has no name any more
_FORKS = ("clone", "clone3", "fork", "vfork")
_HEX = re.compile(r"(?:\\x[0-9a-f]{2})+")
UNFINISHED = " <unfinished ...>"


@dataclass
class Call:
    """One system call as strace printed it: raw argument text split at top-level commas."""

    pid: int
    time: float
    name: str
    args: list[str]
    result: int | None  # None: the call failed (errno in `error`) or never returned
    result_path: str = ""  # the path annotation on a returned descriptor: `= 3</data/x>`
    error: str = ""
    unfinished: bool = False

    def arg(self, index: int) -> str:
        return self.args[index] if index < len(self.args) else ""


def decode(text: str) -> bytes:
    """The bytes of a `\\xHH...` run, as -xx prints strings and paths."""
    return bytes.fromhex(text.replace("\\x", ""))


def string(arg: str) -> tuple[bytes, bool]:
    """(bytes, cut) of a printed string argument `"\\x68\\x69"` or `"\\x68"...` (cut at -s LIMIT)."""
    cut = arg.endswith("...")
    body = arg[:-3] if cut else arg
    if len(body) < 2 or body[0] != '"' or body[-1] != '"':
        return b"", cut
    return decode(body[1:-1]), cut


def fd_and_path(arg: str) -> tuple[int | None, str]:
    """(descriptor, annotated path) of `3</data/x>` or `AT_FDCWD</data>`: descriptor None for AT_FDCWD.
    A descriptor whose file has no name any more, `3</data/x>(deleted)`, has the path `/data/x (deleted)`."""
    number, _, rest = arg.partition("<")
    if rest.endswith(">(deleted)"):  # the file was unlinked (or never named: O_TMPFILE)
        rest = rest[: -len("(deleted)")]
        path = decode_path(rest[:-1]) + DELETED
    else:
        path = decode_path(rest[:-1]) if rest.endswith(">") else ""
    if number == "AT_FDCWD":
        return None, path
    try:
        return int(number, 0), path
    except ValueError:
        return None, path


def decode_path(text: str) -> str:
    """A path as -y -xx prints it: hex runs decoded, anything else (`pipe:[9]`) kept."""
    return _HEX.sub(lambda m: decode(m.group(0)).decode("utf-8", "surrogateescape"), text)


def split_args(text: str) -> list[str]:
    """Top-level comma-separated arguments; brackets and braces nest, strings hold no commas (-xx)."""
    if not any(bracket in text for bracket in "[{("):  # most calls: nothing nests, so a plain split
        return [arg.strip() for arg in text.split(",")] if text.strip() else []
    args, depth, start, in_string = [], 0, 0, False
    for index, char in enumerate(text):
        if char == '"':
            in_string = not in_string
        elif in_string:
            continue
        elif char in "[{(":  # not "<": annotations hold no comma, and "=>" is no bracket
            depth += 1
        elif char in "]})":
            depth -= 1
        elif char == "," and depth == 0:
            args.append(text[start:index].strip())
            start = index + 1
    tail = text[start:].strip()
    if tail:
        args.append(tail)
    return args


def calls(lines: Iterable[str]) -> Iterator[Call]:
    """Every call in `lines`, in the order they returned; unfinished ones last."""
    pending: dict[int, tuple[float, str, str]] = {}  # pid -> (time, name, argument text so far)
    known: set[int] = set()  # pids seen, or made by a clone that returned
    held: dict[int, list[tuple[float, str]]] = {}  # pid -> its lines printed before its clone returned

    def take(pid: int, when: float, body: str) -> Iterator[Call]:
        known.add(pid)
        resumed = _RESUMED.match(body)
        if resumed is not None:
            started = pending.pop(pid, None)
            if started is None:
                return
            call = _complete(pid, when, started[1], started[2] + resumed.group(2))
        else:
            begun = _START.match(body)
            if begun is None:  # "+++ exited ...", "--- SIGCHLD ...", "<... resumed>" of an untraced start
                return
            if body.endswith(UNFINISHED):
                pending[pid] = (when, begun.group(1), begun.group(2)[: -len(UNFINISHED)])
                return
            call = _complete(pid, when, begun.group(1), begun.group(2))
        if call is None:
            return
        yield call
        if call.name in _FORKS and call.result is not None:
            known.add(call.result)
            for row in held.pop(call.result, []):
                yield from take(call.result, *row)

    for raw in lines:
        match = _LINE.match(raw.rstrip("\n"))
        if match is None:
            continue
        pid, when, body = int(match.group(1)), float(match.group(2)), match.group(3)
        if pid not in known and (pid in held or any(row[1] in _FORKS for row in pending.values())):
            held.setdefault(pid, []).append((when, body))  # a child whose clone has not returned yet
            continue
        yield from take(pid, when, body)
    while held:  # their parent was killed inside the clone (popped one by one: a held clone releases others)
        pid = next(iter(held))
        for row in held.pop(pid):
            yield from take(pid, *row)
    for pid, (when, name, text) in pending.items():
        yield Call(pid, when, name, split_args(text), None, unfinished=True)


def _complete(pid: int, when: float, name: str, text: str) -> Call | None:
    match = _RESULT.match(text)
    if match is None:
        return None
    args_text, result_text, path, deleted, tail = match.groups()
    try:
        result = int(result_text, 0)
    except ValueError:  # "?" for a call whose process died inside it
        return Call(pid, when, name, split_args(args_text), None, unfinished=True)
    if result < 0:
        word = (tail or "").split(" ", 1)[0]
        return Call(pid, when, name, split_args(args_text), None, error=word if _ERRNO.match(word) else "")
    result_path = decode_path(path) + (DELETED if deleted else "") if path else ""
    return Call(pid, when, name, split_args(args_text), result, result_path)
