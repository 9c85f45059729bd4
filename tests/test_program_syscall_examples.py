"""Every example and I/O-class pair: its verdict from the system-call source, never the wrong one from the interposer.

The examples (docs/examples/) run what only a system-call trace sees: SQLite's C code, a
compiled C program, a forked child, a shell script's cp and mv, os.sync(), O_DSYNC and mmap.
The pairs (tests/targets/) are, for each I/O class of issue 16's item 1, a correct program and
its broken twin; each module's docstring says why the correct one survives every crash and
how the broken one fails. Each program's own check() states its promise.

Exit statuses (docs/PROGRAMS.md): 0 every state ok from a complete trace; 1 a failure the
harness stands behind; 3 no verdict (the run knows it missed I/O). Through the system-call
source each program must get exactly its verdict; through the interposer, which sees only
Python-level calls, its verdict or 3, never the opposite one (exactly its verdict for a pair
made only of calls it wraps).

Two checks keep the harness out of the loop: strace shows each pair making the calls of its
class, and a SIGKILL that strace injects at one call shows the broken twins a process kill
should catch losing an acked operation there, and their correct twins keeping it.
"""

from __future__ import annotations

import functools
import json
import os
import re
import shutil
import signal
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

from tornwrite.faultinject.program import cli

ROOT = Path(__file__).resolve().parent.parent
NO_VERDICT = 3
LOST = frozenset({"durability"})  # an acked operation is missing
LOST_OR_UNREADABLE = frozenset({"durability", "integrity"})


@dataclass(frozen=True)
class Case:
    spec: str  # relative to the repository: docs/examples/FILE.py or tests/targets/MODULE.py:NAME
    statuses: frozenset[int]  # the right verdicts from a complete system-call trace
    outcomes: frozenset[str] = frozenset()  # what its failing states may be, when it fails
    needs: str = ""  # an executable it cannot run without

    @property
    def id(self) -> str:
        return self.spec.rsplit("/", 1)[-1].replace(".py", "")


def ok(spec: str, needs: str = "") -> Case:
    return Case(spec, frozenset({0}), needs=needs)


def broken(spec: str, outcomes: frozenset[str], needs: str = "") -> Case:
    return Case(spec, frozenset({1}), outcomes, needs)


def pairs(module: str, names: list[str], outcomes: frozenset[str]) -> list[Case]:
    """NAME_ok (every state ok) and NAME_broken (fails with `outcomes`) of tests/targets/MODULE.py."""
    spec = f"tests/targets/{module}.py"
    return [case for name in names for case in (ok(f"{spec}:{name}_ok"), broken(f"{spec}:{name}_broken", outcomes))]


EXAMPLES = [
    ok("docs/examples/sqlite_wal_full.py"),
    broken("docs/examples/sqlite_wal_off.py", LOST_OR_UNREADABLE),
    ok("docs/examples/c_append.py", needs="cc"),
    broken("docs/examples/broken_c_append_no_fsync.py", LOST, needs="cc"),
    ok("docs/examples/os_sync_save.py"),
    ok("docs/examples/dsync_log.py"),
    # stores to a mapping are no system calls: found by a real kill (1), or no verdict (3); never 0
    Case("docs/examples/mmap_table.py", frozenset({1, NO_VERDICT}), frozenset({"invariant"})),
    broken("docs/examples/child_save.py", LOST_OR_UNREADABLE),
    ok("docs/examples/shell_cp_mv.py", needs="sh"),
    broken("docs/examples/broken_shell_cp_mv.py", LOST_OR_UNREADABLE, needs="sh"),
]
PAIRS = [
    ok("tests/targets/open_flags.py:o_sync_append_ok"),
    broken("tests/targets/open_flags.py:o_append_broken", LOST),
    ok("tests/targets/open_flags.py:o_trunc_temp_ok"),
    broken("tests/targets/open_flags.py:o_trunc_in_place_broken", LOST_OR_UNREADABLE),
    *pairs("write_family", ["write", "pwrite", "writev", "pwritev", "sendfile", "copy_file_range"], LOST),
    *pairs("truncate_family", ["ftruncate", "truncate", "fallocate"], LOST),
    *pairs("sync_family", ["fsync", "fdatasync", "sync_file_range", "sync", "syncfs"], LOST),
    # stores to a mapping are no system calls: no verdict for either twin (a kill keeps the page cache)
    Case("tests/targets/sync_family.py:msync_ok", frozenset({NO_VERDICT})),
    Case("tests/targets/sync_family.py:msync_broken", frozenset({NO_VERDICT})),
    *pairs("namespace_ops", ["rename", "renameat2"], LOST_OR_UNREADABLE),
    *pairs("namespace_ops", ["unlink", "mkdir", "rmdir", "link", "symlink"], LOST),
    broken("tests/targets/namespace_ops.py:mkdir_parent_broken", LOST),  # the new directory's entry
    *pairs("at_forms", ["renameat"], LOST_OR_UNREADABLE),
    *pairs("at_forms", ["unlinkat"], LOST),
]
CASES = [pytest.param(case, id=case.id) for case in EXAMPLES + PAIRS]


@functools.cache
def ptrace_refused() -> str:
    """Why the system-call source cannot run here ("" when it can): no strace, or ptrace refused."""
    if shutil.which("strace") is None:
        return "no strace on PATH"
    probe = subprocess.run(["strace", "-f", "-o", "/dev/null", "true"], capture_output=True, text=True)
    return f"ptrace refused: {probe.stderr.strip()}" if probe.returncode else ""


# Real kills: the system-call source's default for a complete trace, and none for the interposer
# (its default for a complete trace). An incomplete trace's default of 100 would cost about 20 s
# a program; a failure they might confirm turns a 3 into a 1, and both are allowed there.
KILLS = {"syscall": ["--kill", "4"], "python": ["--kill", "0"]}


def crash_test(tmp_path: Path, case: Case, source: str) -> tuple[int, set[str], str]:
    """(exit status, the outcomes of its failing states, the repro command) of the CLI on `case`."""
    if case.needs and shutil.which(case.needs) is None:
        pytest.skip(f"{case.id} needs `{case.needs}`, which is not on PATH")
    where, _, attribute = case.spec.partition(":")
    spec = str(ROOT / where) + (f":{attribute}" if attribute else "")
    out = tmp_path / "out"
    kills = KILLS[source]
    status = cli.main([spec, "--trace", source, *kills, "--seed", "0", "--out", str(out), "--quiet", "--no-figures"])
    results = out / "results.json"
    states = json.loads(results.read_text())["states"] if results.exists() else []
    failing = {state["outcome"] for state in states if state["outcome"] != "ok"}
    return (
        status,
        failing,
        f"python -m tornwrite.faultinject program {case.spec} --trace {source} {' '.join(kills)} --seed 0",
    )


@pytest.mark.parametrize("case", CASES)
def test_the_syscall_source_gives_each_program_its_verdict(tmp_path, case):
    if ptrace_refused():
        pytest.skip(ptrace_refused())
    status, failing, repro = crash_test(tmp_path, case, "syscall")
    assert status in case.statuses, f"exit {status}, expected {sorted(case.statuses)}; repro: {repro}"
    if status == 1:
        assert failing and failing <= case.outcomes, (
            f"failing as {failing}, expected {set(case.outcomes)}; repro: {repro}"
        )


# The pairs whose every call is a Python-level call the interposer wraps (os.write, os.rmdir,
# os.symlink, ...): it sees them whole, so it owes them their verdict, not 3. The others go
# through libc by ctypes (renameat2, syncfs, sync_file_range), O_SYNC, pwritev,
# copy_file_range, fallocate or dir_fd=, which it cannot see into.
SEEN_BY_THE_INTERPOSER = frozenset(
    "write pwrite writev sendfile ftruncate truncate fsync fdatasync sync".split()
    + "rename unlink mkdir mkdir_parent rmdir link symlink".split()
)


@pytest.mark.parametrize("case", CASES)
def test_the_interposer_gives_each_program_its_verdict_or_none_never_the_wrong_one(tmp_path, case):
    status, failing, repro = crash_test(tmp_path, case, "python")
    seen = case.spec.startswith("tests/targets/") and case.id.rsplit("_", 1)[0].split(":")[-1] in SEEN_BY_THE_INTERPOSER
    allowed = case.statuses if seen else case.statuses | {NO_VERDICT}
    assert status in allowed, f"exit {status}, expected {sorted(allowed)}; repro: {repro}"
    if status == 1:
        assert failing <= case.outcomes, f"failing as {failing}, expected {set(case.outcomes)}; repro: {repro}"


# What each pair is about, as strace prints it: one of its lines must match, in the ok and the
# broken target alike, or the pair would not test its class at all.
CALLS = {
    "o_sync_append": r"openat\(.*O_APPEND\|O_SYNC",
    "o_append": r"openat\(.*O_APPEND",
    "o_trunc_temp": r"openat\(.*O_TRUNC",
    "o_trunc_in_place": r"openat\(.*db\.json\", .*O_TRUNC",
    "write": r"write\(\d+, \"record",
    "pwrite": r"pwrite64\(",
    "writev": r"writev\(",
    "pwritev": r"pwritev2?\(",
    "sendfile": r"sendfile\(",
    "copy_file_range": r"copy_file_range\(",
    "ftruncate": r"ftruncate\(",
    "truncate": r"truncate\(",
    "fallocate": r"fallocate\(",
    "fsync": r"fsync\(",
    "fdatasync": r"fdatasync\(",
    "sync_file_range": r"sync_file_range\(",
    "sync": r"sync\(\)",
    "syncfs": r"syncfs\(",
    "msync": r"mmap\(.*PROT_WRITE.*MAP_SHARED",  # the broken twin never calls msync: the mapping is the class
    "rename": r"rename\(",
    "renameat2": r"renameat2\(.*RENAME_EXCHANGE",
    "unlink": r"unlink\(",
    "mkdir": r"mkdir\(",
    "mkdir_parent": r"mkdir\(",
    "rmdir": r"rmdir\(",
    "link": r"link(at)?\(",
    "symlink": r"symlink(at)?\(",
    "renameat": r"renameat2?\(\d+",  # a directory descriptor, not AT_FDCWD
    "unlinkat": r"unlinkat\(\d+",
}
RUN_EACH = """import importlib.util, os, sys, tempfile
sys.path.insert(0, os.path.dirname(sys.argv[1]))
spec = importlib.util.spec_from_file_location("pairs", sys.argv[1])
module = importlib.util.module_from_spec(spec)
spec.loader.exec_module(module)
marks = os.open(os.devnull, os.O_WRONLY)
for name, target in vars(module).items():
    if name.endswith(("_ok", "_broken")):
        path = tempfile.mkdtemp(dir=sys.argv[2])
        if getattr(target, "setup", None):
            target.setup(path)
        os.write(marks, f"BEGIN {name}".encode())
        target.workload(path, lambda token: None)
        os.write(marks, b"END")
"""
PAIR_MODULES = ["open_flags", "write_family", "truncate_family", "sync_family", "namespace_ops", "at_forms"]


@pytest.mark.parametrize("module", PAIR_MODULES)
def test_each_pair_makes_the_system_calls_of_its_class(tmp_path, module):
    if ptrace_refused():
        pytest.skip(ptrace_refused())
    script = ROOT / "tests" / "targets" / f"{module}.py"
    trace = tmp_path / "strace.out"
    command = ["strace", "-f", "-o", str(trace), sys.executable, "-c", RUN_EACH, str(script), str(tmp_path)]
    subprocess.run(command, check=True)
    calls: dict[str, list[str]] = {}
    current = None
    for line in trace.read_text().splitlines():
        call = line.split(None, 1)[-1]  # without the pid
        mark = re.match(r'write\(\d+, "BEGIN (\w+)"', call)
        if mark or re.match(r'write\(\d+, "END"', call):
            current = mark.group(1) if mark else None
        elif current:
            calls.setdefault(current, []).append(call)
    listed = {case.spec.rsplit(":", 1)[-1] for case in PAIRS if case.spec.startswith(f"tests/targets/{module}.py:")}
    repro = f"pytest tests/test_program_syscall_examples.py -k 'system_calls_of_its_class and {module}'"
    assert set(calls) == listed, f"ran {sorted(calls)}, the verdict tests list {sorted(listed)}; repro: {repro}"
    for name, made in calls.items():
        pattern = CALLS[name.rsplit("_", 1)[0]]
        assert any(re.match(pattern, call) for call in made), f"{module}:{name} never made {pattern}; repro: {repro}"


# A real SIGKILL on entry to the Nth call of one kind (strace's fault injection), the harness
# out of the loop: each broken twin that a process kill should catch loses an acked operation
# there, and its correct twin, killed at the same call, keeps every one.
KILL_AT_ONE_CALL = """import importlib.util, json, os, sys
where, _, name = sys.argv[1].partition(":")
sys.path.insert(0, os.path.dirname(where))
spec = importlib.util.spec_from_file_location("killed", where)
module = importlib.util.module_from_spec(spec)
spec.loader.exec_module(module)
target = getattr(module, name) if name else module
acks = os.open(sys.argv[3], os.O_WRONLY | os.O_APPEND)
target.workload(sys.argv[2], lambda token: os.writev(acks, [(json.dumps(token) + "\\n").encode()]))
"""  # acks go out with writev, a call none of these kills counts


@pytest.mark.parametrize(
    "spec, call, nth, survives",
    [
        ("docs/examples/mmap_table.py", "msync", 1, False),  # debited, never credited
        ("tests/targets/open_flags.py:o_trunc_in_place_broken", "write", 2, False),  # the live file emptied
        ("tests/targets/open_flags.py:o_trunc_temp_ok", "write", 2, True),
        ("tests/targets/truncate_family.py:ftruncate_broken", "write", 2, False),  # just after the cut to 0
        ("tests/targets/truncate_family.py:truncate_broken", "write", 2, False),
        ("tests/targets/truncate_family.py:ftruncate_ok", "pwrite64", 2, True),  # just after the growth
        ("tests/targets/truncate_family.py:truncate_ok", "pwrite64", 2, True),
        ("tests/targets/namespace_ops.py:symlink_broken", "symlink", 2, False),  # no `current` link
        ("tests/targets/namespace_ops.py:symlink_ok", "symlink", 2, True),
    ],
)
def test_a_real_kill_at_the_call_between_two_steps_catches_the_broken_twin_only(tmp_path, spec, call, nth, survives):
    if ptrace_refused():
        pytest.skip(ptrace_refused())
    from tornwrite.faultinject.program.target import load

    target = load(str(ROOT / spec))
    data, acks = tmp_path / "data", tmp_path / "acks"
    data.mkdir()
    acks.touch()
    if target.setup:
        target.setup(str(data))
    inject = f"inject={call}:signal=KILL:when={nth}"
    command = ["strace", "-f", "-o", os.devnull, "-e", f"trace={call}", "-e", inject, sys.executable, "-c"]
    killed = subprocess.run([*command, KILL_AT_ONE_CALL, str(ROOT / spec), str(data), str(acks)])
    repro = f"pytest tests/test_program_syscall_examples.py -k 'real_kill and {spec.rsplit('/', 1)[-1]}'"
    assert killed.returncode in (-signal.SIGKILL, 128 + signal.SIGKILL), f"not killed at {call} #{nth}; repro: {repro}"
    acked = [json.loads(line) for line in acks.read_text().splitlines()]
    assert acked or not survives, f"nothing was acked before the kill: nothing to keep; repro: {repro}"
    try:
        assert target.check is not None
        target.check(target.recover(str(data)), acked)
        kept = True
    except Exception:  # recover raised (integrity) or check did (an acked op lost, an invariant broken)
        kept = False
    assert kept == survives, f"{spec} {'lost' if survives else 'kept'} its promise after the kill; repro: {repro}"
