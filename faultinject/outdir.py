"""Where a run may write: `--out` directories and `--junit` files, checked before any work.

A run writes only into a directory it created or one an earlier tornwrite run wrote (a `MARK`
file lists what that run wrote); a directory holding anything else is refused, so a user's own
`summary.md` is never overwritten. A file given as `--out`, or a place that cannot be written,
is refused too. `--junit FILE` refuses an existing file unless forced. Every refusal is an
OutputError, which the command lines turn into exit status 2 before the run starts.
"""

from __future__ import annotations

import os

MARK = ".tornwrite-output"  # in each directory a run wrote: the names it wrote, one a line


class OutputError(ValueError):
    """The output place cannot be used (a usage error: exit 2)."""


def _writable_parent(path: str, what: str) -> None:
    parent = os.path.dirname(os.path.abspath(path))
    while not os.path.exists(parent):
        parent = os.path.dirname(parent)
    if not os.path.isdir(parent) or not os.access(parent, os.W_OK | os.X_OK):
        raise OutputError(f"{what} {path}: cannot create it, {parent} is not a writable directory")


def claim(path: str, what: str = "--out") -> str:
    """Make `path` a directory this run may write into, or raise OutputError; returns `path`."""
    check_dir(path, what)
    os.makedirs(path, exist_ok=True)
    return path


def check_dir(path: str, what: str = "--out") -> None:
    """Raise OutputError unless `path` may become this run's directory; creates nothing."""
    if os.path.lexists(path) and not os.path.isdir(path):
        raise OutputError(f"{what} {path} is a file, not a directory")
    if os.path.isdir(path):
        if not os.access(path, os.W_OK | os.X_OK):
            raise OutputError(f"{what} {path} is not writable")
        foreign = sorted(set(os.listdir(path)) - _ours(path) - {MARK})
        if foreign:
            raise OutputError(
                f"{what} {path} holds files tornwrite did not write ({', '.join(foreign[:5])}"
                f"{', ...' if len(foreign) > 5 else ''}); choose a new or empty directory"
            )
    else:
        _writable_parent(path, what)


def seal(path: str) -> None:
    """Record everything in `path` as this run's: claim() checked it held nothing else before."""
    names = sorted(set(os.listdir(path)) - {MARK})
    with open(os.path.join(path, MARK), "w") as f:
        f.write("".join(f"{name}\n" for name in names))


def _ours(path: str) -> set[str]:
    try:
        with open(os.path.join(path, MARK)) as f:
            return {line.rstrip("\n") for line in f if line.strip()}
    except FileNotFoundError:
        return set()


def new_file(path: str, force: bool = False, what: str = "--junit") -> str:
    """Check that `path` may be written as a new file (or, with `force`, replaced); returns it."""
    if os.path.isdir(path):
        raise OutputError(f"{what} {path} is a directory, not a file")
    if os.path.lexists(path) and not force:
        raise OutputError(f"{what} {path} exists; give --force to replace it")
    _writable_parent(path, what)
    return path
