"""The strace facts docs/TRACING.md relies on, measured on this machine (issue 16 item 2).

(a) the probe: one strace run that says whether ptrace is permitted, and what strace prints when
    it is not (ptrace refused by a seccomp filter, as a container profile does; seccomp itself
    unavailable);
(b) `-e inject=SET:signal=SIGKILL:when=N`: whether its counter is per thread, per process or per
    system call, and whether the call it kills at is carried out, with and without --seccomp-bpf;
(c) `-s`: the largest value strace accepts, and what full capture of one large write costs.

Prints observations, asserts nothing (they describe strace and the kernel, not this project).

    python -m tests.bench_trace_semantics
"""

from __future__ import annotations

import ctypes
import os
import shutil
import struct
import subprocess
import sys
import tempfile
import time
from pathlib import Path

# Each mode writes "1 " .. "6 " with one write(2) each, to one O_APPEND file; the file says which ran.
WRITER = """
import os, sys, threading
mode, path = sys.argv[1], sys.argv[2]
fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_APPEND, 0o644)
def w(n): os.write(fd, b"%d " % n)
def fs(): os.fsync(fd)
if mode == "one-thread":
    for n in range(1, 7): w(n)
elif mode == "two-threads":  # main writes 1 2, a second thread 3 4, main 5 6
    w(1); w(2)
    t = threading.Thread(target=lambda: (w(3), w(4))); t.start(); t.join()
    w(5); w(6)
elif mode == "fork":  # parent writes 1 2, its child 3 4, the parent 5 6
    w(1); w(2)
    pid = os.fork()
    if pid == 0:
        w(3); w(4); os._exit(0)
    os.waitpid(pid, 0)
    w(5); w(6)
elif mode == "write-fsync":  # write 1, fsync, write 2, fsync, ...
    for n in range(1, 7): w(n); fs()
elif mode == "stderr-first":  # one write to stderr, then 1 .. 6 to the file
    os.write(2, b"stderr ")
    for n in range(1, 7): w(n)
elif mode == "big":  # one write of int(argv[3]) bytes
    os.write(fd, b"x" * int(sys.argv[3]))
"""

AUDIT_ARCH_X86_64 = 0xC000003E
NR = {"ptrace": 101, "prctl": 157, "seccomp": 317}  # x86_64


def refuse(*names: str):
    """A preexec_fn: in the child, before exec, make the named system calls fail with EPERM (a
    seccomp filter, as a container's profile installs). x86_64 only."""

    def install() -> None:
        def insn(code: int, k: int, jt: int = 0, jf: int = 0) -> bytes:
            return struct.pack("HBBI", code, jt, jf, k)

        numbers = [NR[name] for name in names]
        allow, eperm = insn(0x06, 0x7FFF0000), insn(0x06, 0x00050000 | 1)
        program = [insn(0x20, 4), insn(0x15, AUDIT_ARCH_X86_64, 1, 0), allow, insn(0x20, 0)]
        program += [insn(0x15, nr, len(numbers) - i, 0) for i, nr in enumerate(numbers)] + [allow, eperm]
        code = ctypes.create_string_buffer(b"".join(program))

        class Program(ctypes.Structure):
            _fields_ = [("len", ctypes.c_ushort), ("filter", ctypes.c_void_p)]

        libc = ctypes.CDLL(None, use_errno=True)
        if libc.prctl(38, 1, 0, 0, 0) or libc.prctl(
            22, 2, ctypes.byref(Program(len(program), ctypes.addressof(code))), 0, 0
        ):
            raise OSError(ctypes.get_errno(), "cannot install the seccomp filter")

    return install


def probe(strace: str, *, refused: tuple[str, ...] = ()) -> tuple[int, str, float]:
    """The probe: strace with the flags the trace source uses, on /bin/true. (status, stderr, seconds)."""
    started = time.perf_counter()
    done = subprocess.run(
        [strace, "-f", "--seccomp-bpf", "-qq", "-e", "trace=execve", "-o", "/dev/null", "/bin/true"],
        capture_output=True,
        text=True,
        preexec_fn=refuse(*refused) if refused else None,
    )
    return done.returncode, done.stderr.strip(), time.perf_counter() - started


def part_a(strace: str) -> None:
    print("(a) the probe: strace -f --seccomp-bpf -qq -e trace=execve -o /dev/null /bin/true")
    for label, refused in (
        ("ptrace permitted", ()),
        ("ptrace refused (seccomp filter, EPERM)", ("ptrace",)),
        ("seccomp unavailable (seccomp and prctl refused)", ("seccomp", "prctl")),
    ):
        status, stderr, seconds = probe(strace, refused=refused)
        print(f"  {label}: exit {status} in {seconds * 1000:.0f} ms; stderr:")
        for line in stderr.splitlines() or ["(nothing)"]:
            print(f"    {line}")


def writes_done(strace: str, flags: list[str], mode: str, scratch: str) -> tuple[int, str]:
    """Run the writer in `mode` under strace `flags`; (its exit status, what it wrote)."""
    out = os.path.join(scratch, "out")
    Path(out).unlink(missing_ok=True)
    done = subprocess.run(
        [strace, *flags, "-qq", "-o", "/dev/null", sys.executable, os.path.join(scratch, "writer.py"), mode, out],
        capture_output=True,
    )
    return done.returncode, Path(out).read_text().strip() if os.path.exists(out) else "(no file)"


def part_b(strace: str, scratch: str) -> None:
    print("(b) -e inject=write:...:when=3 (SIGKILL at the 3rd write): exit status, and the writes carried out")
    for seccomp in ([], ["--seccomp-bpf"]):
        for inject in ("signal=SIGKILL", "error=EIO:signal=SIGKILL", "retval=1:signal=SIGKILL"):
            for mode in ("one-thread", "two-threads", "fork"):
                flags = ["-f", *seccomp, "-e", "trace=write", "-e", f"inject=write:{inject}:when=3"]
                status, wrote = writes_done(strace, flags, mode, scratch)
                print(f"  {' '.join(seccomp) or 'no seccomp':14} {inject:26} {mode:12} exit {status:4}  wrote {wrote}")
    print("(b) one counter per system call: -e inject=write,fsync:error=EIO:when=3 on write, fsync, write, ...")
    for seccomp in ([], ["--seccomp-bpf"]):
        flags = ["-f", *seccomp, "-e", "trace=write,fsync", "-e", "inject=write,fsync:error=EIO:when=3"]
        status, wrote = writes_done(strace, flags, "write-fsync", scratch)
        print(f"  {' '.join(seccomp) or 'no seccomp':14} exit {status}  wrote {wrote}")
    print("(b) every descriptor counts, unless -P names the path: one write to stderr, then 1 .. 6 to the file")
    for path_filter in ([], ["-P", os.path.join(scratch, "out")]):
        flags = ["-f", *path_filter, "-e", "trace=write", "-e", "inject=write:signal=SIGKILL:when=3"]
        status, wrote = writes_done(strace, flags, "stderr-first", scratch)
        print(f"  {'-P OUT' if path_filter else 'no -P':14} exit {status}  wrote {wrote}")


def largest_s(strace: str) -> int:
    """The largest -s strace accepts, by bisection."""
    low, high = 1, 1 << 40
    while high - low > 1:
        middle = (low + high) // 2
        argv = [strace, "-qq", "-s", str(middle), "-e", "trace=none", "-o", "/dev/null", "/bin/true"]
        accepted = subprocess.run(argv, stderr=subprocess.DEVNULL)
        low, high = (middle, high) if accepted.returncode == 0 else (low, middle)
    return low


def part_c(strace: str, scratch: str) -> None:
    limit = largest_s(strace)
    print(f"(c) -s: the largest value strace accepts is {limit}")
    print("    one write of SIZE bytes, strace --seccomp-bpf -f -qq -xx -s S -e trace=write; peak RSS is the")
    print("    largest of strace and the writer; the writer alone holds SIZE bytes")
    for size in (10, 1 << 20, 16 << 20, 64 << 20):
        for string_limit in (16 << 20, limit):
            trace = os.path.join(scratch, "trace")
            argv = [strace, "--seccomp-bpf", "-f", "-qq", "-xx", "-s", str(string_limit), "-e", "trace=write"]
            argv += ["-o", trace, sys.executable, os.path.join(scratch, "writer.py"), "big"]
            started = time.perf_counter()
            child = subprocess.Popen([*argv, os.path.join(scratch, "out"), str(size)])
            _, _, usage = os.wait4(child.pid, 0)
            seconds = time.perf_counter() - started
            line = next(line for line in Path(trace).read_text().splitlines() if f", {size}) = " in line)
            whole = '"...,' not in line  # strace marks a cut string with ... after its quote
            print(
                f"    SIZE {size:>8}  -s {string_limit:>10}: {seconds:5.2f} s, peak RSS "
                f"{usage.ru_maxrss / 1024:5.1f} MiB, trace {os.path.getsize(trace) / (1 << 20):5.1f} MiB, "
                f"{'whole' if whole else 'cut at -s'}"
            )
            os.unlink(trace)


def main() -> int:
    strace = shutil.which("strace")
    if strace is None:
        print("no strace on PATH: nothing to measure")
        return 1
    print(
        subprocess.run([strace, "-V"], capture_output=True, text=True).stdout.splitlines()[0],
        "on Linux",
        os.uname().release,
    )
    with tempfile.TemporaryDirectory(
        prefix="tornwrite-strace-", dir="/dev/shm" if os.path.isdir("/dev/shm") else None
    ) as scratch:
        Path(scratch, "writer.py").write_text(WRITER)
        part_a(strace)
        part_b(strace, scratch)
        part_c(strace, scratch)
    return 0


if __name__ == "__main__":
    sys.exit(main())
