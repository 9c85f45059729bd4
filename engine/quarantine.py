"""The quarantine: where recovery keeps every stretch it cuts out of the log.

Damage (docs/FORMAT.md, "Recovery" rule 5) is kept for a person to judge, and a crash's residue
too, so that recovery never destroys a byte it removes: before it truncates or deletes them,
`quarantine/<segment>@<offset>.<n>` in the data directory holds, byte for byte, the segment's
bytes from `<offset>` to its end (docs/FORMAT.md, "Quarantine").

Each copy is made durable the only safe way, and before the source is touched: write
`<name>.tmp`, fsync it, rename it to `<name>`, fsync the quarantine directory. So a crash at any
step leaves the source intact, and the next recovery scans it to the same stretch; it then
finds the copy already there (same name prefix, same bytes) and keeps it instead of copying
twice, or removes the unfinished `.tmp` and copies again. `<n>` starts at 1 and only grows when
the same segment is damaged at the same offset again with other bytes.
"""

from __future__ import annotations

import os

from tornwrite.engine.format import TMP_SUFFIX
from tornwrite.engine.io import IOLayer

QUARANTINE_DIR = "quarantine"  # a subdirectory of the data directory


def quarantine_dir(directory: str) -> str:
    return os.path.join(directory, QUARANTINE_DIR)


def leftovers(io: IOLayer, directory: str) -> list[str]:
    """Paths of copies a crash interrupted before their rename: residue the next `keep` removes."""
    folder = quarantine_dir(directory)
    if not io.is_dir(folder):
        return []
    names = io.listdir(folder, "quarantine.listdir")
    return [os.path.join(folder, name) for name in sorted(names) if name.endswith(TMP_SUFFIX)]


def keep(io: IOLayer, directory: str, stretches: list[tuple[str, int]], stale: list[str]) -> list[str]:
    """Copy each (segment path, offset) stretch durably into the quarantine; the copies' paths.

    `stale` are leftover temp copies (see `leftovers`), removed first. When this returns, every
    copy and its name are durable, so the caller may truncate or delete the sources. OSError on
    an I/O failure, with every source untouched.
    """
    folder = quarantine_dir(directory)
    if not io.is_dir(folder):
        io.mkdir(folder, "quarantine.mkdir")
        io.fsync_dir(directory)  # the folder's own name, before anything relies on what is in it
    for path in stale:
        io.unlink(path, "quarantine.cleanup")
    kept: list[str] = []
    for source, offset in stretches:
        data = io.read(source, "quarantine.read")[offset:]
        prefix = f"{os.path.basename(source)}@{offset}."
        copies = {
            int(name[len(prefix) :]): os.path.join(folder, name)
            for name in io.listdir(folder, "quarantine.listdir")
            if name.startswith(prefix) and name[len(prefix) :].isdigit()
        }
        same = [path for _, path in sorted(copies.items()) if io.read(path, "quarantine.read") == data]
        if same:
            kept.append(same[0])  # an earlier recovery copied it, then crashed before the cut
            continue
        final = os.path.join(folder, f"{prefix}{max(copies, default=0) + 1}")
        _copy(io, final, data)
        kept.append(final)
    # Also when every copy existed: a crash may have left their renames in the page cache only.
    io.fsync_dir(folder)
    return kept


def _copy(io: IOLayer, final: str, data: bytes) -> None:
    temp = final + TMP_SUFFIX
    handle = io.create(temp, "quarantine.create")
    try:
        io.write(handle, data, "quarantine.write")
        io.fsync(handle, "quarantine.fsync")
    finally:
        io.close(handle, "quarantine.close")
    io.rename(temp, final, "quarantine.rename")
