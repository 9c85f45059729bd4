"""System calls to durable steps: what each call did to the files under one directory.

`Model` reads a process tree's calls (strace_log.Call, in the order they returned) and keeps
what the kernel keeps for it: each process's descriptor table (shared by threads and
CLONE_FILES children, copied by fork), each open file description's offset and flags (shared
by dup and fork), each process's working directory, and what every file under the directory
holds (from the starting image, then the steps; a hard link is one file under two names).
A rename carries the names of the open descriptions with it. What is done through a
descriptor whose name was unlinked changes no file a crash can show (if the file has another
name, the trace is incomplete). An O_APPEND write lands at the end of the file even through
pwrite (pwrite(2), BUGS). From that it emits a `Step` for every call that changes a file or
directory there, the ack markers the workload wrote, and a reason for every call it cannot
turn into steps: the trace is then incomplete (`Trace.unseen`), and the run gives no verdict
on it (docs/PROGRAMS.md, exit status 3).

Durability points beyond fsync (docs/CRASH-MODEL.md, "Durability points"):
- a write through a descriptor opened O_SYNC or O_DSYNC, or pwritev2 with RWF_SYNC/RWF_DSYNC,
  is a write followed by an fsync of that file (open(2): "the write ... will not complete
  until the data has been transferred to the underlying hardware");
- sync(), and syncfs() of a descriptor on the directory's file system, make every file and
  directory durable;
- sync_file_range() is no durability point: it writes no metadata and flushes no disk cache
  (sync_file_range(2): "This system call is extremely dangerous ...").

Names: a symbolic link is an entry holding a path (its target is not resolved: opens through
it are named by the kernel's resolved path, -y); renameat2(RENAME_EXCHANGE) is one `exchange`
step of two names in one directory; rmdir is a step of its parent, durable with its fsync.
RENAME_NOREPLACE succeeded, so it was a plain rename (a failed call changes nothing);
RENAME_WHITEOUT (overlayfs only) is not modelled.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from dataclasses import dataclass, field

from tornwrite.faultinject.core.simdisk import Symlink
from tornwrite.faultinject.program.strace_log import DELETED, Call, fd_and_path, string
from tornwrite.faultinject.program.trace import Step, Trace, describe_write

_FLAG_BITS = {
    "O_CREAT": os.O_CREAT,
    "O_TRUNC": os.O_TRUNC,
    "O_APPEND": os.O_APPEND,
    "O_WRONLY": os.O_WRONLY,
    "O_RDWR": os.O_RDWR,
    "O_SYNC": os.O_SYNC,
    "O_DSYNC": os.O_DSYNC,
    "O_EXCL": os.O_EXCL,
    "O_CLOEXEC": os.O_CLOEXEC,
    "O_DIRECTORY": os.O_DIRECTORY,
    "O_TMPFILE": getattr(os, "O_TMPFILE", 0o20200000),
}
# Calls that change files in ways the simulated disk does not model: seen, but not replayable.
NOT_MODELLED = {
    "splice": "splice into a file",
    "tee": "tee into a file",
    "io_uring_setup": "io_uring (its I/O needs no system call per write)",
    "mknod": "a device node",
    "mknodat": "a device node",
}
# Where each call that names files takes its paths: (index of the directory descriptor or None
# for the cwd, index of the path). Descriptor arguments (`3</data/x>`) carry their own path.
_PATH_ARGS: dict[str, tuple[tuple[int | None, int], ...]] = {
    **dict.fromkeys(("open", "creat", "truncate", "unlink", "rmdir", "mkdir", "chdir", "mknod"), ((None, 0),)),
    **dict.fromkeys(("rename", "link"), ((None, 0), (None, 1))),
    "symlink": ((None, 1),),
    **dict.fromkeys(("openat", "openat2", "unlinkat", "mkdirat", "mknodat"), ((0, 1),)),
    **dict.fromkeys(("renameat", "renameat2", "linkat"), ((0, 1), (2, 3))),
    "symlinkat": ((1, 2),),
}


@dataclass
class OpenFile:
    """An open file description: shared by dup'ed and inherited descriptors, as in the kernel."""

    path: str  # absolute, as the kernel named it at open
    flags: int
    position: int = 0

    @property
    def writes_synchronously(self) -> bool:
        return bool(self.flags & (os.O_SYNC | os.O_DSYNC))


@dataclass
class Process:
    """What a call needs of its process: its descriptors (shared among threads) and working directory."""

    fds: dict[int, OpenFile] = field(default_factory=dict)
    cloexec: set[int] = field(default_factory=set)
    cwd: list[str] = field(default_factory=lambda: ["/"])  # a cell: shared under CLONE_FS


class Model:
    """Turns one process tree's calls into a Trace of the steps under `directory`."""

    def __init__(self, directory: str, files: dict[str, bytes], dirs: set[str], ack_path: str, cwd: str):
        self.directory = directory
        # relative path -> what it holds; a symbolic link is in `links` instead, with the path it holds
        self.files = {name: bytearray(data) for name, data in files.items() if not isinstance(data, Symlink)}
        self.links = {name: os.fsdecode(data) for name, data in files.items() if isinstance(data, Symlink)}
        self.dirs = set(dirs)  # relative paths of the directories under it ("." included)
        self.ack_path = ack_path
        self.trace = Trace()
        self.processes: dict[int, Process] = {}
        self.root_cwd = cwd
        self.mapped: set[str] = set()
        self.cut_off: list[str] = []  # calls on the directory whose process died inside them
        self.labels: dict[int, str] = {}
        self.marks: list[tuple[str, int]] = []  # ("R 3", steps so far): traced_child's markers, in order
        self.linked_away: set[str] = set()  # removed names whose file lives on under another name

    # --- entry point ---------------------------------------------------------------------------

    def feed(self, call: Call) -> None:
        """Account for one call (in the order calls returned)."""
        process = self._process(call.pid)
        if call.unfinished:
            self._unfinished(call, process)
            return
        handler = getattr(self, "_" + call.name, None)
        if call.name in NOT_MODELLED:
            self._not_modelled(call, process)
        elif handler is not None and (call.result is not None or call.name in ("exit_group",)):
            handler(call, process)

    def _process(self, pid: int) -> Process:
        if pid not in self.processes:  # the first process of the tree: its cwd is where it was started
            self.processes[pid] = Process(cwd=[self.root_cwd])
        return self.processes[pid]

    # --- naming --------------------------------------------------------------------------------

    def relative(self, path: str) -> str | None:
        """`path` (absolute, normalised) relative to the directory, None outside it."""
        if path == self.directory:
            return "."
        if path.startswith(self.directory + "/"):
            return path[len(self.directory) + 1 :]
        return None

    def _resolve(self, process: Process, base_arg: str | None, path_arg: str) -> str:
        """The absolute path a call names: `path_arg` against a directory descriptor (`*at`) or the cwd."""
        raw, _ = string(path_arg)
        path = raw.decode("utf-8", "surrogateescape")
        if path.startswith("/"):
            return os.path.normpath(path)
        if base_arg is not None:
            _, base = fd_and_path(base_arg)
        else:
            base = process.cwd[0]
        return os.path.normpath(os.path.join(base or process.cwd[0], path))

    def _fd(self, process: Process, arg: str) -> tuple[OpenFile | None, str | None]:
        """(description, relative path) of a descriptor argument; path None outside the directory."""
        number, annotated = fd_and_path(arg)
        if number is None:
            return None, None
        entry = process.fds.get(number)
        path = annotated if annotated.startswith("/") else (entry.path if entry else "")
        if entry is None:  # made by a call the trace does not follow (a socket, a passed descriptor)
            entry = process.fds[number] = OpenFile(path, 0)
        elif entry.path != path:  # renamed in a way the model did not see: the kernel's name is the truth
            entry.path = path
        if path.endswith(DELETED):  # its name was removed: nothing done through it can be seen after a crash,
            relative = self.relative(path.removesuffix(DELETED))
            if relative in self.linked_away:  # unless the file has another name, which the kernel does not say
                self.miss(f"a descriptor of {relative}, removed while its file has another name: not modelled")
            return entry, None
        return entry, self.relative(path)

    # --- steps ---------------------------------------------------------------------------------

    def step(self, call: Call, op: str, relative: str, description: str, **fields) -> None:
        trace = self.trace
        trace.steps.append(
            Step(
                len(trace.steps) + 1,
                op,
                description,
                path=relative,
                acked=len(trace.tokens),
                thread=self._label(call.pid),
                **fields,
            )
        )

    def miss(self, reason: str) -> None:
        self.trace.miss(reason)

    def _label(self, pid: int) -> str:
        """ "task N": the Nth process or thread to make a step. Pids differ from run to run; this does not."""
        return self.labels.setdefault(pid, f"task {len(self.labels) + 1}")

    def _unfinished(self, call: Call, process: Process) -> None:
        """A call its process died inside: whether it took effect is unknown, unless it changes nothing here."""
        if call.name in ("read", "readv", "lseek", "close", "exit_group", "execve", "wait4", "clone", "clone3"):
            return
        if self._touches(call, process):
            self.cut_off.append(f"{call.name} in {self.directory} was cut off by the end of its process")

    def _touches(self, call: Call, process: Process) -> bool:
        """Whether `call` names a file or directory under the directory, by descriptor or by path."""
        for arg in call.args:
            number, path = fd_and_path(arg)
            if number is not None and self.relative(path.removesuffix(DELETED)) is not None:
                return True
        return any(
            self.relative(self._resolve(process, None if base is None else call.arg(base), call.arg(index))) is not None
            for base, index in _PATH_ARGS.get(call.name, ())
            if call.arg(index).startswith('"')
        )

    def _not_modelled(self, call: Call, process: Process) -> None:
        if call.result is None:
            return
        if self._touches(call, process) or call.name.startswith("io_uring"):
            self.miss(f"{call.name}: {NOT_MODELLED[call.name]} is not modelled by the simulated disk")

    # --- processes -----------------------------------------------------------------------------

    def _clone(self, call: Call, process: Process) -> None:
        self._child(call, process, call.arg(1) if call.arg(1).startswith("flags=") else call.arg(0))

    def _clone3(self, call: Call, process: Process) -> None:
        self._child(call, process, call.arg(0))

    def _fork(self, call: Call, process: Process) -> None:
        self._child(call, process, "")

    _vfork = _fork

    def _child(self, call: Call, process: Process, flags: str) -> None:
        assert call.result is not None
        if "CLONE_FILES" in flags:
            fds, cloexec = process.fds, process.cloexec
        else:
            fds, cloexec = dict(process.fds), set(process.cloexec)
        cwd = process.cwd if "CLONE_FS" in flags else [process.cwd[0]]
        self.processes[call.result] = Process(fds, cloexec, cwd)

    def _execve(self, call: Call, process: Process) -> None:
        for number in list(process.cloexec):
            process.fds.pop(number, None)
        process.cloexec.clear()

    _execveat = _execve

    def _chdir(self, call: Call, process: Process) -> None:
        process.cwd[0] = self._resolve(process, None, call.arg(0))

    def _fchdir(self, call: Call, process: Process) -> None:
        _, path = fd_and_path(call.arg(0))
        if path:
            process.cwd[0] = path

    # --- descriptors ---------------------------------------------------------------------------

    def _open(self, call: Call, process: Process) -> None:
        self._opened(call, process, None, call.arg(0), call.arg(1))

    def _openat(self, call: Call, process: Process) -> None:
        self._opened(call, process, call.arg(0), call.arg(1), call.arg(2))

    def _openat2(self, call: Call, process: Process) -> None:
        how = call.arg(2)
        flags = how.split("flags=", 1)[1].split(",", 1)[0] if "flags=" in how else "0"
        self._opened(call, process, call.arg(0), call.arg(1), flags)

    def _creat(self, call: Call, process: Process) -> None:
        self._opened(call, process, None, call.arg(0), "O_WRONLY|O_CREAT|O_TRUNC")

    def _opened(self, call: Call, process: Process, base: str | None, path_arg: str, flags_text: str) -> None:
        assert call.result is not None
        flags = parse_flags(flags_text)
        tmpfile = flags & _FLAG_BITS["O_TMPFILE"] == _FLAG_BITS["O_TMPFILE"]
        named = call.result_path.startswith("/") and not call.result_path.endswith(DELETED)
        # the kernel's name for what was opened; else (unlinked by another thread before strace
        # looked, or an O_TMPFILE's directory) the name the call gave
        path = call.result_path if named else self._resolve(process, base, path_arg)
        process.fds[call.result] = OpenFile(call.result_path if tmpfile else path, flags)
        if flags & os.O_CLOEXEC:
            process.cloexec.add(call.result)
        else:
            process.cloexec.discard(call.result)
        relative = self.relative(path)
        if relative is None:
            return
        if tmpfile:
            self.miss(f"open {relative} with O_TMPFILE: an unnamed file is not modelled")
            return
        if relative in self.dirs:
            return
        existed = relative in self.files
        if flags & os.O_CREAT and not existed:
            self.files[relative] = bytearray()
            self.step(call, "create", relative, f"{call.name} {relative} (created)")
        elif flags & os.O_TRUNC and existed:  # even O_RDONLY: Linux truncates whatever the access mode
            self.files[relative].clear()  # in place: every hard link to the file sees it
            self.step(call, "truncate", relative, f"{call.name} {relative} O_TRUNC (truncated to 0 B)", size=0)

    def _close(self, call: Call, process: Process) -> None:
        number, _ = fd_and_path(call.arg(0))
        if number is not None:
            process.fds.pop(number, None)
            process.cloexec.discard(number)

    def _close_range(self, call: Call, process: Process) -> None:
        low, high = int(call.arg(0), 0), int(call.arg(1), 0)
        for number in [n for n in process.fds if low <= n <= high]:
            process.fds.pop(number, None)
            process.cloexec.discard(number)

    def _dup(self, call: Call, process: Process) -> None:
        assert call.result is not None
        entry, _ = self._fd(process, call.arg(0))
        if entry is not None:
            process.fds[call.result] = entry
            process.cloexec.discard(call.result)

    def _dup2(self, call: Call, process: Process) -> None:
        if fd_and_path(call.arg(0))[0] != call.result:  # dup2(fd, fd) does nothing, FD_CLOEXEC included
            self._dup(call, process)

    def _dup3(self, call: Call, process: Process) -> None:
        self._dup(call, process)
        if "O_CLOEXEC" in call.arg(2):
            assert call.result is not None
            process.cloexec.add(call.result)

    def _fcntl(self, call: Call, process: Process) -> None:
        command = call.arg(1)
        if command.startswith("F_DUPFD"):
            self._dup(call, process)
            if command == "F_DUPFD_CLOEXEC":
                assert call.result is not None
                process.cloexec.add(call.result)
        elif command == "F_SETFL":
            entry, _ = self._fd(process, call.arg(0))
            if entry is not None:  # only O_APPEND of ours can change this way
                flags = parse_flags(call.arg(2))
                entry.flags = (entry.flags & ~os.O_APPEND) | (flags & os.O_APPEND)
        elif command == "F_SETFD":
            number, _ = fd_and_path(call.arg(0))
            if number is not None:
                (process.cloexec.add if "FD_CLOEXEC" in call.arg(2) else process.cloexec.discard)(number)

    def _read(self, call: Call, process: Process) -> None:
        entry = process.fds.get(int(call.arg(0), 0))
        if entry is not None and call.result:
            entry.position += call.result

    _readv = _read

    def _lseek(self, call: Call, process: Process) -> None:
        entry, _ = self._fd(process, call.arg(0))
        if entry is not None and call.result is not None:
            entry.position = call.result

    def _mmap(self, call: Call, process: Process) -> None:
        if "MAP_SHARED" not in call.arg(3) or "PROT_WRITE" not in call.arg(2):
            return
        _, relative = self._fd(process, call.arg(4))
        if relative is not None and relative not in self.mapped:
            self.mapped.add(relative)
            self.miss(
                f"{relative} is mapped shared and writable (mmap): stores to it are not system calls, so what "
                "it holds between two calls is unseen"
            )

    # --- writes --------------------------------------------------------------------------------

    def _write(self, call: Call, process: Process) -> None:
        entry, relative = self._fd(process, call.arg(0))
        if entry is not None and entry.path == self.ack_path:
            self._ack(call)
            return
        self._written(call, process, string)

    def _pwrite64(self, call: Call, process: Process) -> None:
        self._written(call, process, string, offset_at=3)

    def _writev(self, call: Call, process: Process) -> None:
        self._written(call, process, _iovec)

    def _pwritev(self, call: Call, process: Process) -> None:
        self._written(call, process, _iovec, offset_at=3)

    def _written(
        self, call: Call, process: Process, data_of: Callable[[str], tuple[bytes, bool]], offset_at: int | None = None
    ) -> None:
        """write / pwrite64 / writev / pwritev: the data in argument 1 (a string or an iovec array), at
        the offset in argument `offset_at` (None: at the description's position)."""
        entry, relative = self._fd(process, call.arg(0))
        if entry is None or relative is None:
            return
        data, cut = data_of(call.arg(1))
        self._wrote(call, entry, relative, None if offset_at is None else int(call.arg(offset_at), 0), data, cut)

    def _pwritev2(self, call: Call, process: Process) -> None:
        entry, relative = self._fd(process, call.arg(0))
        if entry is None or relative is None:
            return
        data, cut = _iovec(call.arg(1))
        flags = call.arg(4)
        offset = int(call.arg(3), 0)
        sync = "RWF_SYNC" in flags or "RWF_DSYNC" in flags
        self._wrote(call, entry, relative, None if offset == -1 else offset, data, cut, sync, "RWF_APPEND" in flags)

    def _wrote(
        self,
        call: Call,
        entry: OpenFile,
        relative: str,
        offset: int | None,
        data: bytes,
        cut: bool,
        sync: bool = False,
        append: bool = False,
    ) -> None:
        """A write of `call.result` bytes at `offset` (None: at the description's position, which it
        moves). With O_APPEND (or RWF_APPEND) it lands at the end of the file whatever the offset, as
        Linux does even for pwrite (pwrite(2), BUGS)."""
        written = call.result or 0
        if not written:
            return
        if cut or len(data) < written:
            self.miss(f"{call.name} of {written} B to {relative}: longer than the trace's capture limit")
            data = data + bytes(written - len(data))
        data = data[:written]
        moves = offset is None
        content = self.files.setdefault(relative, bytearray())
        if append or entry.flags & os.O_APPEND:
            offset = len(content)
        elif offset is None:
            offset = entry.position
        if moves:
            entry.position = offset + written
        if len(content) < offset:
            content.extend(bytes(offset - len(content)))
        content[offset : offset + written] = data
        self.step(
            call,
            "write",
            relative,
            describe_write(call.name, relative, offset, data),
            offset=offset,
            size=written,
            data=data,
        )
        if sync or entry.writes_synchronously:
            why = "O_SYNC/O_DSYNC descriptor" if entry.writes_synchronously else "RWF_SYNC/RWF_DSYNC"
            self.step(call, "fsync", relative, f"{call.name} returns durable ({why}): {relative}")

    def _sendfile(self, call: Call, process: Process) -> None:
        self._copied(call, process, call.arg(1), call.arg(2), call.arg(0), None)

    def _copy_file_range(self, call: Call, process: Process) -> None:
        self._copied(call, process, call.arg(0), call.arg(1), call.arg(2), call.arg(3))

    def _copied(self, call: Call, process: Process, src: str, src_off: str, dst: str, dst_off: str | None) -> None:
        """sendfile / copy_file_range: bytes from one descriptor to another, read from the model's files."""
        source, source_relative = self._fd(process, src)
        entry, relative = self._fd(process, dst)
        written = call.result or 0
        start: int | None
        if source is not None and (src_off in ("NULL", "")):
            start = source.position
            source.position += written
        else:
            start = _pointed(src_off)
        if entry is None or relative is None or not written:
            return
        held = self.files.get(source_relative) if source_relative is not None else None
        content = bytes(held) if held is not None else None
        if content is None or start is None:
            self.miss(
                f"{call.name} into {relative} from {source.path if source else src}: the bytes copied are unknown"
            )
            content, start = bytes(written), 0
        offset = _pointed(dst_off) if dst_off not in (None, "NULL", "") else None
        self._wrote(call, entry, relative, offset, content[start : start + written], False)

    def _ftruncate(self, call: Call, process: Process) -> None:
        _, relative = self._fd(process, call.arg(0))
        if relative is not None:
            self._truncated(call, relative, int(call.arg(1), 0))

    def _truncate(self, call: Call, process: Process) -> None:
        relative = self._followed(self.relative(self._resolve(process, None, call.arg(0))))
        if relative is not None:
            self._truncated(call, relative, int(call.arg(1), 0))

    def _truncated(self, call: Call, relative: str, size: int) -> None:
        content = self.files.setdefault(relative, bytearray())
        del content[size:]
        content.extend(bytes(size - len(content)))
        self.step(call, "truncate", relative, f"{call.name} {relative} to {size} B", size=size)

    def _fallocate(self, call: Call, process: Process) -> None:
        _, relative = self._fd(process, call.arg(0))
        if relative is None:
            return
        mode, offset, length = call.arg(1), int(call.arg(2), 0), int(call.arg(3), 0)
        if mode in ("0", "FALLOC_FL_KEEP_SIZE"):
            end = offset + length
            if mode == "0" and end > len(self.files.get(relative, b"")):
                self._truncated(call, relative, end)  # the new bytes read as zeros, as after ftruncate up
            return
        self.miss(f"fallocate {relative} mode {mode}: not modelled by the simulated disk")

    # --- durability ----------------------------------------------------------------------------

    def _fsync(self, call: Call, process: Process) -> None:
        _, relative = self._fd(process, call.arg(0))
        if relative is None:
            return
        if relative in self.dirs:
            self.step(call, "fsync_dir", relative, f"{call.name} directory {relative}")
        else:
            self.step(call, "fsync", relative, f"{call.name} {relative}")

    _fdatasync = _fsync

    def _sync(self, call: Call, process: Process) -> None:
        self.step(call, "sync", ".", "sync() (every file and directory durable)")

    def _syncfs(self, call: Call, process: Process) -> None:
        _, path = fd_and_path(call.arg(0))
        path = path.removesuffix(DELETED)
        if self.relative(path) is None:  # a durability point only if it is the directory's file system
            if not path.startswith("/"):  # a pipe, a socket: no file system of files
                return
            try:
                if os.stat(path).st_dev != os.stat(self.directory).st_dev:
                    return
            except OSError as exc:
                self.miss(f"syncfs({path}): whether it syncs the directory's file system is unknown ({exc})")
                return
        self.step(call, "sync", ".", f"syncfs({path}) (every file and directory durable)")

    # --- names ---------------------------------------------------------------------------------

    def _rename(self, call: Call, process: Process) -> None:
        self._renamed(call, self._resolve(process, None, call.arg(0)), self._resolve(process, None, call.arg(1)))

    def _renameat(self, call: Call, process: Process) -> None:
        old = self._resolve(process, call.arg(0), call.arg(1))
        self._renamed(call, old, self._resolve(process, call.arg(2), call.arg(3)))

    def _renameat2(self, call: Call, process: Process) -> None:
        flags = call.arg(4)
        old = self._resolve(process, call.arg(0), call.arg(1))
        new = self._resolve(process, call.arg(2), call.arg(3))
        if "RENAME_WHITEOUT" in flags:  # leaves an overlayfs whiteout device behind: overlay-only
            if self.relative(old) is not None or self.relative(new) is not None:
                self.miss(f"renameat2 {flags} of {old}: a whiteout is not modelled by the simulated disk")
        elif "RENAME_EXCHANGE" in flags:
            self._exchanged(call, old, new)
        else:
            self._renamed(call, old, new)  # RENAME_NOREPLACE: it succeeded, so it was a plain rename

    def _exchanged(self, call: Call, first: str, second: str) -> None:
        """RENAME_EXCHANGE: both names exist and swap what they name, atomically (rename(2))."""
        for process in self.processes.values():  # each open description follows its file to the other name
            for entry in process.fds.values():
                entry.path = {first: second, second: first}.get(entry.path, entry.path)
        one, other = self.relative(first), self.relative(second)
        if one is None and other is None:
            return
        if one is None or other is None:
            self.miss(f"{call.name} exchanges {first} with {second}, outside the directory: content never traced")
        elif one in self.dirs or other in self.dirs:
            self.miss(f"{call.name} exchanges the directory {one if one in self.dirs else other}: not modelled")
        elif os.path.dirname(one) != os.path.dirname(other):
            self.miss(f"{call.name} exchanges {one} and {other} across two directories: not modelled")
        else:
            _swap(self.files, one, other)
            _swap(self.links, one, other)
            self.step(call, "exchange", one, f"{call.name} {one} <-> {other} (RENAME_EXCHANGE)", target=other)

    def _renamed(self, call: Call, old: str, new: str) -> None:
        for process in self.processes.values():  # the open file descriptions follow the file to its new name
            for entry in process.fds.values():
                if entry.path == old:
                    entry.path = new
        source, target = self.relative(old), self.relative(new)
        if source is None and target is None:
            return
        if source is None:
            self.miss(f"{call.name} moves {old} into the directory as {target}: its content was never traced")
            return
        if target is None:
            self._forget(source)
            self.step(call, "unlink", source, f"{call.name} {source} out of the directory (to {new})")
            return
        if source in self.dirs:
            self.miss(f"{call.name} of the directory {source}: renaming directories is not modelled")
            return
        _move(self.files, source, target)  # a file or a symbolic link: what the target named goes
        _move(self.links, source, target)
        self.step(call, "rename", source, f"{call.name} {source} -> {target}", target=target)

    def _unlink(self, call: Call, process: Process) -> None:
        self._removed(call, self._resolve(process, None, call.arg(0)), False)

    def _unlinkat(self, call: Call, process: Process) -> None:
        self._removed(call, self._resolve(process, call.arg(0), call.arg(1)), "AT_REMOVEDIR" in call.arg(2))

    def _rmdir(self, call: Call, process: Process) -> None:
        self._removed(call, self._resolve(process, None, call.arg(0)), True)

    def _removed(self, call: Call, path: str, directory: bool) -> None:
        relative = self.relative(path)
        if relative is None:
            return
        if directory:  # an entry change of its parent, durable once the parent is fsynced
            self.dirs.discard(relative)
            self.step(call, "rmdir", relative, f"{call.name} {relative}")
        else:
            self._forget(relative)
            self.step(call, "unlink", relative, f"{call.name} {relative}")

    def _followed(self, relative: str | None) -> str | None:
        """The name a path-following call reaches from `relative` through symbolic links; None
        outside the directory (path_resolution(7): past 40 links, ELOOP, and the call failed)."""
        for _ in range(40):
            if relative not in self.links:
                return relative
            held = self.links[relative]
            relative = self.relative(os.path.normpath(os.path.join(self.directory, os.path.dirname(relative), held)))
        return None

    def _forget(self, relative: str) -> None:
        self.links.pop(relative, None)
        content = self.files.pop(relative, None)
        if content is not None and any(held is content for held in self.files.values()):
            self.linked_away.add(relative)

    def _mkdir(self, call: Call, process: Process) -> None:
        self._made(call, self._resolve(process, None, call.arg(0)))

    def _mkdirat(self, call: Call, process: Process) -> None:
        self._made(call, self._resolve(process, call.arg(0), call.arg(1)))

    def _made(self, call: Call, path: str) -> None:
        relative = self.relative(path)
        if relative is not None:
            self.dirs.add(relative)
            self.step(call, "mkdir", relative, f"{call.name} {relative}")

    def _symlink(self, call: Call, process: Process) -> None:
        self._symlinked(call, call.arg(0), self._resolve(process, None, call.arg(1)))

    def _symlinkat(self, call: Call, process: Process) -> None:
        self._symlinked(call, call.arg(0), self._resolve(process, call.arg(1), call.arg(2)))

    def _symlinked(self, call: Call, content_arg: str, path: str) -> None:
        """A symbolic link: a new entry holding a path, kept as written (it may name nothing yet)."""
        relative = self.relative(path)
        if relative is None:
            return
        content = string(content_arg)[0].decode("utf-8", "surrogateescape")
        self.links[relative] = content
        self.step(call, "symlink", relative, f"{call.name} {relative} -> {content}", target=content)

    def _link(self, call: Call, process: Process) -> None:
        self._linked(call, self._resolve(process, None, call.arg(0)), self._resolve(process, None, call.arg(1)))

    def _linkat(self, call: Call, process: Process) -> None:
        old = self._resolve(process, call.arg(0), call.arg(1))
        follow = "AT_SYMLINK_FOLLOW" in call.arg(4)
        self._linked(call, old, self._resolve(process, call.arg(2), call.arg(3)), follow)

    def _linked(self, call: Call, old: str, new: str, follow: bool = False) -> None:
        """A hard link; of a symbolic link itself (link(2)) unless linkat follows it (AT_SYMLINK_FOLLOW)."""
        source, target = self.relative(old), self.relative(new)
        if follow and source is not None:
            source = self._followed(source)
        if target is None:
            return
        if source is None:
            self.miss(f"{call.name} {old} into the directory as {target}: its content was never traced")
            return
        if source in self.links:  # a second name of the symbolic link
            self.links[target] = self.links[source]
        else:  # one inode under two names, as on the simulated disk: a write through either shows in both
            self.files[target] = self.files.setdefault(source, bytearray())
        self.step(call, "link", source, f"{call.name} {source} -> {target}", target=target)

    # --- acks ----------------------------------------------------------------------------------

    def _ack(self, call: Call) -> None:
        """The workload's ack: a line `A <json>` appended to the ack file, in order with its I/O."""
        data, _ = string(call.arg(1))
        done = len(self.trace.steps)
        for line in data.decode("utf-8", "replace").splitlines():
            if line.startswith("A "):
                self.trace.tokens.append(json.loads(line[2:]))
                self.trace.ack_after.append(done)
            elif line[:2] in ("R ", "X "):
                self.marks.append((line, done))
            elif line.startswith("O "):  # a reader's look at the files as they are after step `done`
                for point in ((done, "after"), (done + 1, "before")):
                    seen = self.trace.seen.setdefault(point, [])
                    seen += [token for token in json.loads(line[2:]) if token not in seen]


def _swap(held: dict, one: str, other: str) -> None:
    """Exchange what two names hold in `held` (either may hold nothing there)."""
    first, second = held.pop(one, None), held.pop(other, None)
    for name, value in ((one, second), (other, first)):
        if value is not None:
            held[name] = value


def _move(held: dict, source: str, target: str) -> None:
    """What `source` holds in `held`, now under `target`; what `target` held there goes."""
    moved = held.pop(source, None)
    held.pop(target, None)
    if moved is not None:
        held[target] = moved


def parse_flags(text: str) -> int:
    """O_* names joined by | (and octal or hex numbers) as an int."""
    flags = 0
    for part in text.split("|"):
        part = part.strip()
        if part in _FLAG_BITS:
            flags |= _FLAG_BITS[part]
        elif part[:1].isdigit():
            try:
                flags |= int(part, 0)
            except ValueError:
                pass
    return flags


def _iovec(arg: str) -> tuple[bytes, bool]:
    """The bytes of a printed iovec array, `[{iov_base="\\x61", iov_len=1}, ...]`, and whether any was cut."""
    data, cut = b"", False
    for piece in arg.split("iov_base=")[1:]:
        text = piece.split(", iov_len=", 1)[0]
        chunk, chunk_cut = string(text)
        data += chunk
        cut = cut or chunk_cut
    if arg.rstrip("]").endswith("..."):  # more iovecs than strace prints
        cut = True
    return data, cut


def _pointed(arg: str | None) -> int | None:
    """The offset an `loff_t *` argument points at, `[12]` or `[12] => [20]`; None for NULL."""
    if not arg or arg == "NULL" or not arg.startswith("["):
        return None
    try:
        return int(arg[1:].split("]", 1)[0], 0)
    except ValueError:
        return None
