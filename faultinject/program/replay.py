"""A program's trace replayed into the simulated disk: the power-loss states at each crash point.

The directory's content after `setup` is the disk's durable starting image (setup is not
traced; its data is taken as safely on disk). Each step then does to the simulated disk what it
did to the real one, and before and after each step the disk lists what a power loss may
leave (core/simdisk.py, `power_loss_states`; docs/CRASH-MODEL.md). Directories created are
durable at once, as the engine's model has it; creates, symbolic links, renames, exchanges,
links and unlinks of files, and removals of directories, wait for an fsync of their directory.

Images here are rooted at ROOT, `{ROOT + "/sub": {name: bytes}}`; `materialise` writes one to a
real directory for the program's recover() (a `Symlink` as a symbolic link, so that opens and
readlink go through it as they did in the run), and `image_of` reads a real directory back.
"""

from __future__ import annotations

import os
import random
import shutil
from collections.abc import Iterator
from dataclasses import dataclass

from tornwrite.faultinject.core.simdisk import CrashState, Image, SimDisk, Symlink, image_fingerprint
from tornwrite.faultinject.program.interposer import REAL_OPEN
from tornwrite.faultinject.program.trace import Step, Trace

ROOT = "/data"


class ReplayError(Exception):
    """A step the simulated disk cannot replay (e.g. a rename across directories)."""


@dataclass(frozen=True)
class Point:
    """One crash point of the replay: what a power loss or a process kill leaves there."""

    step: int
    phase: str
    power_states: tuple[CrashState, ...]
    process_fingerprint: str  # the files exactly as the process left them
    process_image: Image  # those files
    disk: SimDisk | None = None  # the live disk at this point (power only): valid until the next point is drawn
    unsynced: str = ""  # what a power loss here may undo, in words ("" when everything is durable)


def state_rng(seed: int, step: int, phase: str) -> random.Random:
    """The sampler of one crash point: the same states whatever order points are visited in."""
    return random.Random(f"{seed}/{step}/{phase}")


def points(start: Image, trace: Trace, seed: int, *, power: bool = True) -> Iterator[Point]:
    """Every crash point of `trace` in order; raises ReplayError at a step that cannot be replayed."""
    disk = SimDisk.from_image(start)
    disk.mkdir(ROOT)
    for step in trace.steps:
        yield _point(disk, step.number, "before", seed, power)
        try:
            apply(disk, step)
        except OSError as exc:
            raise ReplayError(f"step {step.number} ({step.call}): the simulated disk cannot replay it: {exc}") from exc
        yield _point(disk, step.number, "after", seed, power)


def final_image(start: Image, trace: Trace) -> Image:
    """The replay's files after the last step: equal to the real ones when the trace missed nothing."""
    disk = SimDisk.from_image(start)
    disk.mkdir(ROOT)
    for step in trace.steps:
        apply(disk, step)
    return disk.process_crash_image()


def unseen(start: Image, trace: Trace, directory: str) -> str:
    """Why replaying `trace` from `start` does not end with the files a real run left in `directory`
    (I/O the trace missed), or "" when it does."""
    try:
        replayed = final_image(start, trace)
    except (ReplayError, OSError) as exc:
        return f"the trace cannot be replayed on the simulated disk: {exc}"
    real = image_of(directory)
    if fingerprint(replayed) == fingerprint(real):
        return ""
    ours, theirs = _files(replayed), _files(real)
    differ = sorted(name for name in ours.keys() | theirs.keys() if ours.get(name) != theirs.get(name))
    shown = ", ".join(differ[:5]) + (f" and {len(differ) - 5} more" if len(differ) > 5 else "")
    return f"the files the run left differ from the replay of its trace ({shown}): some I/O went unseen"


def _files(image: Image) -> dict[str, tuple[str, bytes]]:
    """{relative path: (kind, content)} of every directory, file and symbolic link under ROOT."""
    found = {}
    for path, files in image.items():
        if path == ROOT or path.startswith(ROOT + "/"):
            prefix = path[len(ROOT) + 1 :]
            if prefix:
                found[prefix + "/"] = ("directory", b"")
            for name, data in files.items():
                found[f"{prefix}/{name}".lstrip("/")] = ("symlink" if isinstance(data, Symlink) else "file", data)
    return found


def _point(disk: SimDisk, number: int, phase: str, seed: int, power: bool) -> Point:
    states = tuple(disk.power_loss_states(state_rng(seed, number, phase))) if power else ()
    changes = [
        change for path in sorted(disk.dirs) if path.startswith(ROOT) for part in disk.unsynced(path) for change in part
    ]
    image = disk.process_crash_image()
    return Point(number, phase, states, fingerprint(image), image, disk if power else None, "; ".join(changes))


def apply(disk: SimDisk, step: Step) -> None:
    """Do `step` to the simulated disk."""
    path = _virtual(step.path)
    if step.op == "create":
        disk.create(path)
    elif step.op == "write":
        disk.write_at(disk.open_append(path), step.offset, step.data)
    elif step.op == "truncate":
        disk.truncate(disk.open_append(path), step.size)
    elif step.op == "fsync":
        disk.fsync(disk.open_append(path))
    elif step.op == "fsync_dir":
        disk.fsync_dir(path)
    elif step.op == "sync":  # sync() / syncfs(): every file and directory durable (docs/CRASH-MODEL.md)
        for directory in [d for d in disk.dirs if d == ROOT or d.startswith(ROOT + "/")]:
            for name in disk.listdir(directory):
                disk.fsync(disk.open_append(f"{directory}/{name}"))
            disk.fsync_dir(directory)
    elif step.op == "rename":
        disk.rename(path, _virtual(step.target))
    elif step.op == "unlink":
        disk.unlink(path)
    elif step.op == "mkdir":
        disk.mkdir(path)
    elif step.op == "rmdir":
        disk.rmdir(path)
    elif step.op == "link":
        disk.link(path, _virtual(step.target))
    elif step.op == "symlink":
        disk.symlink(step.target, path)
    elif step.op == "exchange":
        disk.exchange(path, _virtual(step.target))
    else:
        raise ReplayError(f"unknown step kind {step.op!r}")


def _virtual(relative: str) -> str:
    return ROOT if relative == "." else f"{ROOT}/{relative}"


def image_of(directory: str) -> Image:
    """The files under a real directory, as an image rooted at ROOT."""
    image: Image = {}
    for root, dirs, files in os.walk(directory):  # a symbolic link to a directory is listed, not entered
        relative = os.path.relpath(root, directory)
        contents: dict[str, bytes] = {}
        for name in files + dirs:
            path = os.path.join(root, name)
            if os.path.islink(path):
                contents[name] = Symlink(os.readlink(os.fsencode(path)))
            elif name in files:
                with REAL_OPEN(path, "rb") as f:
                    contents[name] = f.read()
        image[_virtual(relative)] = contents
    return image


def materialise(image: Image, directory: str) -> None:
    """Make `directory` hold exactly `image` (its ROOT part)."""
    shutil.rmtree(directory, ignore_errors=True)
    os.makedirs(directory)
    for path in sorted(image):
        if path != ROOT and not path.startswith(ROOT + "/"):
            continue
        real = directory + path[len(ROOT) :]
        os.makedirs(real, exist_ok=True)
        for name, content in image[path].items():
            if isinstance(content, Symlink):
                os.symlink(os.fsdecode(content), os.path.join(real, name))
                continue
            with REAL_OPEN(os.path.join(real, name), "wb") as f:
                f.write(content)


def fingerprint(image: Image) -> str:
    return image_fingerprint({p: f for p, f in image.items() if p == ROOT or p.startswith(ROOT + "/")})


def sizes(image: Image) -> dict[str, int]:
    """{relative path: size} of every file in `image`: what a report shows of a crash state."""
    found = {}
    for path, files in image.items():
        if path == ROOT or path.startswith(ROOT + "/"):
            prefix = path[len(ROOT) + 1 :]
            for name, content in files.items():
                found[f"{prefix}/{name}" if prefix else name] = len(content)
    return dict(sorted(found.items()))
