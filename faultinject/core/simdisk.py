"""A simulated disk: the engine's FileSystem, in memory, knowing what is durable.

What it models (docs/CRASH-MODEL.md says why):
- A file has the bytes the process sees (its page cache) and the bytes that are durable, as of
  its last fsync. Writes and truncates since that fsync are pending, in order.
- A directory has the entries the process sees and the entries that are durable, as of its last
  fsync. Creates (a symbolic link is one), renames, exchanges, unlinks, and makings and removals
  of subdirectories since then are pending, in order. A RENAME_EXCHANGE is one pending change:
  a crash keeps both names swapped or neither. A removed directory whose removal is lost comes
  back holding the entries its own last fsync made durable; a directory whose making is lost
  goes with everything under it.
- A process crash keeps everything the process saw: `process_crash_image`.
- A power loss keeps what is durable plus any subset of each directory's pending entry changes
  (POSIX promises no order without an fsync of the directory) and, for the file written last,
  a prefix of its pending writes, the last of those possibly torn at any byte or zero-filled
  from a sector boundary; other files' pending data is lost, or (one extra state) all kept:
  `power_loss_states`. Torn and partial data is combined with keeping none or all of the entry
  changes; the other subsets of entry changes go with the file's data wholly lost or kept.

Handles live as they do on a real file system: `create`, `open_append` and `lock` open one,
`close` (or `unlock`) ends it, and any write, fsync, truncate or close through a closed handle,
or through one this disk never opened (a handle from before a crash included), raises EBADF.

An image, `{directory: {name: bytes}}`, is what a crash leaves (a symbolic link's content is a
`Symlink`: the path it holds); `SimDisk.from_image` boots a fresh disk from one, everything durable.
"""

from __future__ import annotations

import copy
import errno
import hashlib
import itertools
import os
import random
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field

Image = dict  # directory path -> {file name: bytes}

DATA_DIR = "/sim/data"  # where runs on the simulated disk keep their data directory
SECTOR = 512
_ALL_OFFSETS_UP_TO = 128  # tear writes this short at every byte; longer ones at samples
_TORN_SAMPLES = 12
_PREFIX_SAMPLES = 8
_ALL_SUBSETS_UP_TO = 4  # pending entry changes: every subset up to this many, samples beyond
_SUBSET_SAMPLES = 16


class Symlink(bytes):
    """A symbolic link's content in an image: the path it holds (symlink(2)), never file data."""

    def __repr__(self) -> str:
        return f"Symlink({bytes(self)!r})"


class Inode:
    __slots__ = ("data", "durable", "pending")

    def __init__(self, durable: bytes = b""):
        self.data = bytearray(durable)
        self.durable = durable  # a Symlink for a symbolic link, which no write or fsync changes
        self.pending: list[tuple] = []  # ("write", offset, bytes, seq) | ("truncate", size, seq)

    def seen(self) -> bytes:
        """What the process sees: its page cache (a symbolic link: the path it holds). The durable
        bytes object itself when they are equal, so that images keep sharing it (fingerprints
        know contents by identity)."""
        if isinstance(self.durable, Symlink) or self.durable == self.data:
            return self.durable
        return bytes(self.data)


class Directory:
    __slots__ = ("entries", "durable", "pending")

    def __init__(self) -> None:
        self.entries: dict[str, Inode] = {}
        self.durable: dict[str, Inode] = {}
        # (kind, name, inode, new name): create, rename or unlink; ("exchange", name, (inode at
        # name, inode at new name) before it, new name); ("mkdir" | "rmdir", name, the Directory, name)
        self.pending: list[tuple] = []


class SimHandle:
    __slots__ = ("path", "inode", "disk", "closed")

    def __init__(self, path: str, inode: Inode, disk: object):
        self.path = path
        self.inode = inode
        self.disk = disk  # the token of the disk that opened it: a restarted disk has another
        self.closed = False


def _bad_handle(handle: object, why: str) -> OSError:
    return OSError(errno.EBADF, f"{os.strerror(errno.EBADF)}: {why}", getattr(handle, "path", None))


def _missing(path: str) -> FileNotFoundError:
    return FileNotFoundError(errno.ENOENT, os.strerror(errno.ENOENT), path)


@dataclass(frozen=True)
class CrashState:
    """One possible content of the disk after a crash at some instant."""

    description: str
    image: Image
    known: str | None = field(default=None, compare=False, repr=False)  # its fingerprint, if computed already

    def fingerprint(self) -> str:
        return self.known if self.known is not None else image_fingerprint(self.image)


def image_fingerprint(image: Image, known: Mapping[int, bytes] | None = None) -> str:
    """A digest of every directory's path and every file's path and content: equal images, equal
    fingerprints (an empty directory counts: a removal a crash lost leaves one). `known`: content
    digests (as content_digest gives them) already computed, by id of the content."""
    digest = hashlib.blake2b(digest_size=16)
    for directory in sorted(image):
        digest.update(b"%s\0dir;" % directory.encode())
        for name in sorted(image[directory]):
            content = image[directory][name]
            kind = b"symlink" if isinstance(content, Symlink) else b"file"  # a link to "x" is no file holding "x"
            digest.update(b"%s/%s\0%s:" % (directory.encode(), name.encode(), kind))
            digest.update(known[id(content)] if known and id(content) in known else _content_digest(content))
    return digest.hexdigest()


class _ContentDigests:
    """blake2b of file contents, remembered by content: the states of a crash point, and of the
    points around it, hold the same files again and again (often as new bytes objects), and
    hashing them each time cost more than recovering them. A dict keyed by the bytes finds a
    known content by identity, or else by Python's cheaper hash and a compare. Keeps what it
    knows up to a budget, forgetting the least recently used first."""

    KEPT_BYTES = 64 << 20

    def __init__(self) -> None:
        self.known: dict[bytes, bytes] = {}  # content -> digest, oldest use first
        self.kept = 0

    def __call__(self, content: bytes) -> bytes:
        if type(content) is not bytes:  # a mutable content cannot be a key: hashed as it is now
            return self._digest(content)
        digest = self.known.pop(content, None)
        if digest is None:
            digest = self._digest(content)
            self.kept += len(content)
            while self.known and self.kept > self.KEPT_BYTES:
                oldest = next(iter(self.known))
                del self.known[oldest]
                self.kept -= len(oldest)
        self.known[content] = digest  # now the most recently used
        return digest

    @staticmethod
    def _digest(content: bytes) -> bytes:
        return content_digest(hashlib.blake2b(content, digest_size=16), len(content))


def content_digest(hashed: hashlib.blake2b, size: int) -> bytes:
    """A file content's digest, from a blake2b (digest_size 16) fed exactly that content, which
    is `size` bytes: fed in pieces, a running hash gives every prefix's digest in one pass."""
    return hashed.digest() + b"%d" % size


_content_digest = _ContentDigests()


class SimDisk:
    """The FileSystem protocol of engine.io, with durability tracked per byte and per entry."""

    def __init__(self) -> None:
        self.dirs: dict[str, Directory] = {}
        self.locked: set[str] = set()
        self._seq = itertools.count()  # orders pending data ops across files: which came last
        self._token = object()  # names the handles this disk opened (deepcopy makes a new one)

    @classmethod
    def from_image(cls, image: Image) -> SimDisk:
        disk = cls()
        for path, files in image.items():
            disk.mkdir(path, durable=True)
            directory = disk.dirs[path]
            for name, content in files.items():
                held = content if isinstance(content, Symlink) else bytes(content)
                directory.entries[name] = directory.durable[name] = Inode(held)
        return disk

    # --- the FileSystem protocol -------------------------------------------------------------

    def _dir_of(self, path: str) -> tuple[Directory, str]:
        parent, name = os.path.split(path)
        directory = self.dirs.get(parent)
        if directory is None:
            raise _missing(parent)
        return directory, name

    def _open(self, handle: object) -> Inode:
        """The inode behind `handle`, if this disk opened it and it is not closed; else EBADF."""
        if not isinstance(handle, SimHandle) or handle.disk is not self._token:
            raise _bad_handle(handle, "a handle this disk never opened")
        if handle.closed:
            raise _bad_handle(handle, "the handle is closed")
        return handle.inode

    def _inode(self, path: str) -> Inode:
        directory, name = self._dir_of(path)
        inode = directory.entries.get(name)
        if inode is None:
            raise _missing(path)
        return inode

    def create(self, path: str) -> SimHandle:
        directory, name = self._dir_of(path)
        if name in directory.entries:
            raise FileExistsError(errno.EEXIST, os.strerror(errno.EEXIST), path)
        inode = Inode()
        directory.entries[name] = inode
        directory.pending.append(("create", name, inode, name))
        return SimHandle(path, inode, self._token)

    def open_append(self, path: str) -> SimHandle:
        return SimHandle(path, self._inode(path), self._token)

    def write(self, handle: SimHandle, data: bytes) -> None:
        inode = self._open(handle)
        inode.pending.append(("write", len(inode.data), bytes(data), next(self._seq)))
        inode.data += data

    def fsync(self, handle: SimHandle) -> None:
        inode = self._open(handle)
        inode.durable = inode.seen()
        inode.pending.clear()

    def truncate(self, handle: SimHandle, size: int) -> None:
        inode = self._open(handle)
        inode.pending.append(("truncate", size, next(self._seq)))
        _truncate(inode.data, size)

    def close(self, handle: SimHandle) -> None:
        self._open(handle)
        handle.closed = True

    def fsync_dir(self, path: str) -> None:
        directory = self.dirs.get(path)
        if directory is None:
            raise _missing(path)
        directory.durable = dict(directory.entries)
        directory.pending.clear()

    def rename(self, src: str, dst: str) -> None:
        directory, src_name = self._dir_of(src)
        target, dst_name = self._dir_of(dst)
        if target is not directory:
            raise OSError(errno.EXDEV, "the simulated disk renames within one directory only", src)
        if src_name not in directory.entries:
            raise _missing(src)
        inode = directory.entries.pop(src_name)
        directory.entries[dst_name] = inode
        directory.pending.append(("rename", src_name, inode, dst_name))

    def unlink(self, path: str) -> None:
        directory, name = self._dir_of(path)
        inode = directory.entries.pop(name, None)
        if inode is None:
            raise _missing(path)
        directory.pending.append(("unlink", name, inode, name))

    def mkdir(self, path: str, *, durable: bool = False) -> None:
        """Make `path` and any missing parents (the engine's protocol: no error if it exists).

        A new directory is an entry of its parent, pending until the parent is fsynced (mkdir(2)
        changes the parent; fsync(2): "an explicit fsync() on a file descriptor for the directory
        is also needed"). A crash that loses it loses everything under it. `durable`: made durable
        at once (a disk booted from an image). Made again after a removal not yet durable, the name
        is there whichever way a crash goes: the removal is dropped, and the new one is durable."""
        path = os.path.normpath(path)
        while path not in self.dirs:
            self.dirs[path] = directory = Directory()
            parent, name = os.path.split(path)
            if parent in self.dirs and parent != path:
                pending = self.dirs[parent].pending
                kept = [change for change in pending if change[0] != "rmdir" or change[1] != name]
                if not durable and len(kept) == len(pending):
                    kept.append(("mkdir", name, directory, name))
                pending[:] = kept
            if parent == path:
                break
            path = parent

    def read(self, path: str) -> bytes:
        return bytes(self._inode(path).data)

    def listdir(self, path: str) -> list[str]:
        directory = self.dirs.get(path)
        if directory is None:
            raise _missing(path)
        return list(directory.entries)

    def is_dir(self, path: str) -> bool:
        return os.path.normpath(path) in self.dirs

    def lock(self, path: str) -> SimHandle:
        if path in self.locked:
            raise BlockingIOError(errno.EWOULDBLOCK, f"{path} is locked")
        directory, name = self._dir_of(path)
        if name not in directory.entries:
            # The lock file holds no data, so whether its entry survives a crash does not matter:
            # made durable at once, it does not double the crash states of everything after it.
            directory.entries[name] = directory.durable[name] = Inode()
        self.locked.add(path)
        return SimHandle(path, directory.entries[name], self._token)

    def unlock(self, handle: SimHandle) -> None:
        self._open(handle)
        handle.closed = True
        self.locked.discard(handle.path)

    # --- beyond the engine's protocol: what a traced program may do (faultinject/program) ------

    def write_at(self, handle: SimHandle, offset: int, data: bytes) -> None:
        """pwrite: overwrite or extend at `offset` (a hole before it reads as zeros)."""
        inode = self._open(handle)
        inode.pending.append(("write", offset, bytes(data), next(self._seq)))
        _truncate(inode.data, max(len(inode.data), offset))
        inode.data[offset : offset + len(data)] = data

    def link(self, src: str, dst: str) -> None:
        """A hard link: a new entry for the same inode, pending like a create."""
        inode = self._inode(src)
        directory, name = self._dir_of(dst)
        if name in directory.entries:
            raise FileExistsError(errno.EEXIST, os.strerror(errno.EEXIST), dst)
        directory.entries[name] = inode
        directory.pending.append(("create", name, inode, name))

    def rmdir(self, path: str) -> None:
        """Remove an empty directory: an entry change of its parent, pending like an unlink until
        the parent is fsynced (rmdir(2) changes the parent; fsync(2) makes a directory's entries
        durable). Lost in a crash, it comes back holding what its own last fsync made durable."""
        path = os.path.normpath(path)
        directory = self.dirs.get(path)
        if directory is None:
            raise _missing(path)
        if directory.entries or any(other.startswith(path + "/") for other in self.dirs):
            raise OSError(errno.ENOTEMPTY, os.strerror(errno.ENOTEMPTY), path)
        parent, name = os.path.split(path)
        if parent not in self.dirs or parent == path:
            raise OSError(errno.EBUSY, "the simulated disk does not remove its root", path)
        del self.dirs[path]
        self.dirs[parent].pending.append(("rmdir", name, directory, name))

    def symlink(self, content: str | bytes, path: str) -> None:
        """A symbolic link at `path` holding `content` (symlink(2)): a new entry, pending like a
        create until its directory is fsynced. The path it holds is not checked, as the kernel
        does not: it may name nothing."""
        directory, name = self._dir_of(path)
        if name in directory.entries:
            raise FileExistsError(errno.EEXIST, os.strerror(errno.EEXIST), path)
        inode = Inode(Symlink(os.fsencode(content)))
        directory.entries[name] = inode
        directory.pending.append(("create", name, inode, name))

    def exchange(self, first: str, second: str) -> None:
        """renameat2(RENAME_EXCHANGE): swap two entries of one directory atomically (rename(2):
        "Atomically exchange oldpath and newpath. Both pathnames must exist"). One pending change:
        until the directory is fsynced, a crash keeps both swapped or neither."""
        directory, first_name = self._dir_of(first)
        other, second_name = self._dir_of(second)
        if other is not directory:
            raise OSError(errno.EXDEV, "the simulated disk exchanges within one directory only", first)
        for path, name in ((first, first_name), (second, second_name)):
            if name not in directory.entries:
                raise _missing(path)
        was = (directory.entries[first_name], directory.entries[second_name])
        directory.entries[first_name], directory.entries[second_name] = was[1], was[0]
        directory.pending.append(("exchange", first_name, was, second_name))

    def unsynced(self, directory: str, skip: frozenset[str] = frozenset()) -> tuple[tuple[str, ...], tuple[str, ...]]:
        """What a power loss now may undo in `directory`, in words: (file data written or cut since
        its last fsync, name changes since the directory's last fsync); names in `skip` left out."""
        folder = self.dirs.get(directory)
        if folder is None:
            return (), ()
        data = []
        for name, inode in sorted(folder.entries.items()):
            if name not in skip and inode.pending:
                written = sum(len(op[2]) for op in inode.pending if op[0] == "write")
                change = f"{written} B written, not fsynced" if written else f"cut to {len(inode.data)} B, not fsynced"
                data.append(f"{name}: {change}")
        names = [_change(kind, name, new) for kind, name, _, new in folder.pending if not {name, new} & skip]
        return tuple(data), tuple(names)

    # --- crashes -----------------------------------------------------------------------------

    def after_process_crash(self) -> SimDisk:
        """The same disk for a restarted process: the page cache survives a process crash, and
        so does what is not yet durable, still at the mercy of a power loss. Locks go."""
        restarted = copy.deepcopy(self)
        restarted.locked.clear()
        return restarted

    def process_crash_image(self) -> Image:
        """A killed process: the kernel still has every byte and entry; only locks go."""
        return {path: {name: inode.seen() for name, inode in d.entries.items()} for path, d in self.dirs.items()}

    def durable_image(self) -> Image:
        """The strictest power loss: only what fsyncs made durable."""
        return next(self.power_loss_states(random.Random(0))).image

    def power_loss_states(self, rng: random.Random) -> Iterator[CrashState]:
        """Every distinct image a power loss at this instant may leave (sampled where large)."""
        focus = self._last_written()
        meta_choices = [
            [(path, kept) for kept in _subsets(len(d.pending), rng)]
            for path, d in sorted(self.dirs.items())
            if d.pending
        ]
        data_choices = _data_variants(focus, rng) if focus is not None else [("", None, None)]
        others_pending = any(inode.pending and inode is not focus for inode in self._inodes())
        seen = set()
        for meta in itertools.product(*meta_choices):
            kept_changes = dict(meta)
            all_or_none = all(len(kept) in (0, len(self.dirs[path].pending)) for path, kept in meta)
            for keep_others in (False, True) if others_pending else (False,):
                for what, focus_bytes, digest in data_choices[: None if all_or_none else 2]:
                    if keep_others and what != "unsynced data kept":
                        continue  # one extra state only: everything unsynced kept
                    image = self._image(kept_changes, focus, focus_bytes, keep_others)
                    fingerprint = image_fingerprint(image, {id(focus_bytes): digest} if digest else None)
                    if fingerprint not in seen:
                        seen.add(fingerprint)
                        yield CrashState(_describe(kept_changes, self.dirs, what, keep_others), image, fingerprint)

    def _inodes(self) -> Iterator[Inode]:
        for d in self.dirs.values():
            yield from d.entries.values()
            yield from (op[2] for op in d.pending if op[0] == "create")

    def _last_written(self) -> Inode | None:
        newest, focus = -1, None
        for inode in self._inodes():
            if inode.pending and inode.pending[-1][-1] > newest:
                newest, focus = inode.pending[-1][-1], inode
        return focus

    def _image(self, kept_changes: dict, focus: Inode | None, focus_bytes: bytes | None, keep_others: bool) -> Image:
        def content(inode: Inode) -> bytes | None:
            return focus_bytes if inode is focus else inode.seen() if keep_others else inode.durable

        lost = {  # directories whose making the crash lost: gone, with everything under them
            os.path.join(path, change[1])
            for path, d in self.dirs.items()
            for position, change in enumerate(d.pending)
            if change[0] == "mkdir" and position not in kept_changes.get(path, ())
        }

        def gone(path: str) -> bool:
            return any(path == top or path.startswith(top + "/") for top in lost)

        image: Image = {}
        restored: dict[str, Directory] = {}  # removed directories whose removal the crash lost
        for path, d in self.dirs.items():
            if lost and gone(path):
                continue
            entries = dict(d.durable)
            kept = kept_changes.get(path, ())
            for position, (kind, name, inode, new_name) in enumerate(d.pending):
                if position not in kept:
                    if kind == "rmdir":
                        restored[os.path.join(path, name)] = inode
                elif kind == "exchange":  # one change: both names swapped together
                    entries[name], entries[new_name] = inode[1], inode[0]
                elif kind not in ("rmdir", "mkdir"):  # directories are the image's keys, not entries
                    if kind != "create" and entries.get(name) is inode:
                        del entries[name]
                    if kind != "unlink":
                        entries[new_name] = inode
            image[path] = {name: content(inode) for name, inode in entries.items()}
        for path, removed in restored.items():
            if not (lost and gone(path)):
                image.setdefault(path, {name: content(inode) for name, inode in removed.durable.items()})
        return image


def _subsets(count: int, rng: random.Random) -> list[frozenset]:
    """Which of `count` pending entry changes survive: every subset while that is few, else
    none, all, each prefix, each single one dropped, and seeded samples."""
    if count <= _ALL_SUBSETS_UP_TO:
        return [frozenset(c) for size in range(count + 1) for c in itertools.combinations(range(count), size)]
    choices = {frozenset(range(k)) for k in range(count + 1)}
    choices |= {frozenset(range(count)) - {i} for i in range(count)}
    choices |= {frozenset(i for i in range(count) if rng.random() < 0.5) for _ in range(_SUBSET_SAMPLES)}
    return sorted(choices, key=lambda c: (len(c), sorted(c)))


def _truncate(data: bytearray, size: int) -> None:
    if size <= len(data):
        del data[size:]
    else:
        data.extend(bytes(size - len(data)))


def _replay(durable: bytes, ops: list[tuple]) -> bytearray:
    data = bytearray(durable)
    for op in ops:
        if op[0] == "write":
            _truncate(data, max(len(data), op[1]))
            data[op[1] : op[1] + len(op[2])] = op[2]
        else:
            _truncate(data, op[1])
    return data


def _data_variants(inode: Inode, rng: random.Random) -> list[tuple[str, bytes, bytes | None]]:
    """(description, content, its content digest or None) for the file written last: lost,
    kept, prefixes, torn last write. The digests of a torn append come from one running hash
    (hashing each torn copy whole cost more than recovering it, on large files)."""
    ops = inode.pending
    variants: list[tuple[str, bytes, bytes | None]] = [
        ("unsynced data lost", inode.durable, None),
        ("unsynced data kept", bytes(inode.data), None),
    ]
    middle = list(range(1, len(ops)))
    if len(middle) > _PREFIX_SAMPLES:
        middle = sorted(rng.sample(middle, _PREFIX_SAMPLES))
    variants += [
        (f"first {k} of {len(ops)} unsynced writes kept", bytes(_replay(inode.durable, ops[:k])), None) for k in middle
    ]
    last = ops[-1]
    if last[0] == "write" and len(last[2]) > 1:
        before = _replay(inode.durable, ops[:-1])
        offset, data = last[1], last[2]
        _truncate(before, max(len(before), offset))  # a write past the end leaves a hole of zeros
        after = bytes(before[offset + len(data) :])  # an overwrite in place keeps what follows it
        cuts = (
            set(range(1, len(data)))
            if len(data) <= _ALL_OFFSETS_UP_TO
            else (set(rng.sample(range(1, len(data)), _TORN_SAMPLES)))
        )
        sectors = {b - offset for b in range(offset - offset % SECTOR + SECTOR, offset + len(data), SECTOR)}
        # An append's torn copies are prefixes of one another: one running hash gives their digests.
        running = hashlib.blake2b(before[:offset], digest_size=16) if offset >= len(before) else None
        hashed = 0
        for cut in sorted(cuts | sectors):
            torn = before[:offset] + data[:cut] + before[offset + cut :]
            digest = None
            if running is not None:
                running.update(data[hashed:cut])
                hashed = cut
                digest = content_digest(running.copy(), len(torn))
            variants.append((f"last write torn at {cut}/{len(data)} bytes", bytes(torn), digest))
        kept = variants[1][1]
        # The data kept is the whole append, unless a failed fsync dropped pages from the replay
        # (kinds/ioerror.py): checked, as comparing costs a tenth of hashing.
        if running is not None and len(kept) == offset + len(data) and kept.startswith(before) and kept.endswith(data):
            running.update(data[hashed:])
            variants[1] = (variants[1][0], kept, content_digest(running, len(kept)))
        for cut in sorted({0} | sectors):
            if offset + cut < len(before):
                continue  # blocks the file already had hold old bytes or new ones, never zeros
            # The file's size reached the disk but not all of its data blocks: zeros follow.
            variants.append(
                (
                    f"last write {cut}/{len(data)} bytes then zeros",
                    bytes(before[:offset] + data[:cut] + bytes(len(data) - cut) + after),
                    None,
                )
            )
    return variants


def _change(kind: str, name: str, new: str) -> str:
    """A pending entry change in words: "create f", "rename a -> b", "exchange a <-> b", "rmdir d"."""
    return f"{kind} {name}" + {"rename": f" -> {new}", "exchange": f" <-> {new}"}.get(kind, "")


def _describe(kept_changes: dict, dirs: dict, data: str, keep_others: bool) -> str:
    parts = []
    for path, kept in sorted(kept_changes.items()):
        changes = [_change(kind, name, new) for kind, name, _, new in dirs[path].pending]
        lost = [c for i, c in enumerate(changes) if i not in kept]
        parts.append(
            f"entry changes kept: {len(kept)}/{len(changes)}" + (f" (lost: {', '.join(lost)})" if lost else "")
        )
    if data:
        parts.append(data)
    if keep_others:
        parts.append("other files' unsynced data kept")
    return "; ".join(parts) or "nothing pending"
