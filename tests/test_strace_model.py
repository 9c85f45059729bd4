"""The system-call source's reader (strace_log.py) and model (syscalls.py), rule by rule.

Most tests feed synthetic strace lines, printed as the source runs strace (`-f -y -xx -ttt -e
raw=read,readv`): strings and paths in `\\xHH` form, descriptors annotated with their path. A
few run real strace on tiny programs and check that the model's files are the files the program
left (skipped, with the reason, where strace or ptrace is unavailable).
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

import pytest

from tornwrite.faultinject.core.simdisk import Symlink
from tornwrite.faultinject.program import replay, strace_log, syscall_source
from tornwrite.faultinject.program.syscalls import Model
from tornwrite.faultinject.program.trace import Trace

D = "/data/d"  # the traced directory of the synthetic traces (never touched on disk)
ACK = "/data/d.strace/acks"


def hx(text: str | bytes) -> str:
    """`text` as -xx prints it: every byte as \\xHH."""
    raw = text.encode() if isinstance(text, str) else text
    return "".join(f"\\x{byte:02x}" for byte in raw)


def s(text: str | bytes) -> str:
    """A printed string or path argument."""
    return f'"{hx(text)}"'


def fd(number: int, path: str) -> str:
    """A descriptor with its -y annotation."""
    return f"{number}<{hx(path)}>"


def cwd(path: str) -> str:
    return f"AT_FDCWD<{hx(path)}>"


class Lines:
    """Builds strace output lines; each line gets the next timestamp."""

    def __init__(self) -> None:
        self.lines: list[str] = []

    def __call__(self, pid: int, body: str) -> Lines:
        self.lines.append(f"{pid}  {1000 + len(self.lines) / 1000:.6f} {body}\n")
        return self


def model_of(lines: Lines | list[str], files: dict[str, bytes] | None = None, dirs=(".",), root_cwd="/data") -> Model:
    model = Model(D, dict(files or {}), set(dirs), ACK, root_cwd)
    for call in strace_log.calls(lines.lines if isinstance(lines, Lines) else lines):
        model.feed(call)
    return model


def ops(model: Model) -> list[tuple]:
    return [(step.op, step.path, step.target) if step.target else (step.op, step.path) for step in model.trace.steps]


def writes(model: Model) -> list[tuple[int, bytes]]:
    return [(step.offset, step.data) for step in model.trace.steps if step.op == "write"]


def opened(pid: int, number: int, name: str, flags: str = "O_WRONLY|O_CREAT", base: str = D) -> str:
    """An openat of `name` under `base`, relative to the cwd annotation."""
    return f"openat({cwd(base)}, {s(name)}, {flags}, 0644) = {fd(number, base + '/' + name)}"


def wrote(number: int, path: str, data: bytes) -> str:
    return f"write({fd(number, path)}, {s(data)}, {len(data)}) = {len(data)}"


# --- the reader -------------------------------------------------------------------------------


def test_a_line_is_read_as_pid_time_name_arguments_and_result():
    (call,) = strace_log.calls([f"42  1.250000 openat({cwd(D)}, {s('a')}, O_RDONLY) = {fd(3, D + '/a')}\n"])
    assert (call.pid, call.time, call.name) == (42, 1.25, "openat")
    assert call.args == [cwd(D), s("a"), "O_RDONLY"]
    assert (call.result, call.result_path, call.error, call.unfinished) == (3, D + "/a", "", False)


def test_strings_and_annotated_paths_decode_from_hex_whatever_bytes_they_hold():
    tricky = b'a, "b") = 5 <c>\n\xff'
    assert strace_log.string(s(tricky)) == (tricky, False)
    assert strace_log.fd_and_path(fd(7, "/x/a, b>")) == (7, "/x/a, b>")
    assert strace_log.fd_and_path(cwd("/x")) == (None, "/x")
    (call,) = strace_log.calls([f"1  1.0 write({fd(3, '/x')}, {s(tricky)}, {len(tricky)}) = {len(tricky)}\n"])
    assert strace_log.string(call.arg(1)) == (tricky, False)


def test_a_string_longer_than_the_capture_limit_is_marked_cut():
    assert strace_log.string(f"{s('abc')}...") == (b"abc", True)


def test_arguments_split_only_at_top_level_commas():
    text = f"{fd(4, '/p')}, [{{iov_base={s('a')}, iov_len=1}}, {{iov_base={s('b')}, iov_len=1}}], 2, [2] => [5]"
    assert strace_log.split_args(text) == [fd(4, "/p"), text.split(", ", 1)[1].rsplit(", 2,", 1)[0], "2", "[2] => [5]"]
    assert strace_log.split_args(f"4<{hx('pipe:[9]')}>, 0x1") == [f"4<{hx('pipe:[9]')}>", "0x1"]


def test_a_failed_call_has_no_result_and_carries_its_errno():
    (call,) = strace_log.calls(
        [f"1  1.0 openat({cwd(D)}, {s('x')}, O_RDONLY) = -1 ENOENT (No such file or directory)\n"]
    )
    assert (call.result, call.error, call.unfinished) == (None, "ENOENT", False)


def test_a_result_followed_by_its_decoding_is_still_read():
    (call,) = strace_log.calls(
        [f"1  1.0 fcntl({fd(3, D + '/a')}, F_GETFL) = 0x8401 (flags O_WRONLY|O_APPEND|O_LARGEFILE)\n"]
    )
    assert (call.name, call.result) == ("fcntl", 0x8401)


def test_raw_reads_print_hex_numbers():
    (call,) = strace_log.calls(["1  1.0 read(0x3, 0x7ffe03d8aa00, 0x1000) = 0x12\n"])
    assert (call.args[0], call.result) == ("0x3", 0x12)


def test_an_interrupted_call_is_joined_and_placed_where_it_returned():
    lines = Lines()
    lines(1, f"write({fd(3, D + '/a')}, {s('one')}, 3 <unfinished ...>")
    lines(2, wrote(4, D + "/b", b"two"))
    lines(1, "<... write resumed>) = 3")
    first, second = strace_log.calls(lines.lines)
    assert (first.pid, strace_log.string(first.arg(1))[0]) == (2, b"two")
    assert (second.pid, second.args, second.result) == (1, [fd(3, D + "/a"), s("one"), "3"], 3)


def test_a_call_whose_process_died_inside_it_is_unfinished():
    lines = Lines()
    lines(1, f"write({fd(3, D + '/a')}, {s('one')}, 3 <unfinished ...>")
    lines(2, f"write({fd(4, D + '/b')}, {s('two')}, 3) = ?")
    lines(3, f"write({fd(5, D + '/c')}, {s('three')}, 5 <unfinished ...>")
    lines(3, "<... write resumed>) = ?")
    lines(3, "+++ killed by SIGKILL +++")
    calls = list(strace_log.calls(lines.lines))
    assert [(c.pid, c.unfinished, c.result) for c in calls] == [(2, True, None), (3, True, None), (1, True, None)]


def test_a_new_process_that_runs_before_its_parents_clone_returns_comes_after_the_clone():
    # strace prints a vfork child's calls (the dup2 of subprocess's stdout=) before the parent's vfork returns
    lines = Lines()
    lines(1, "vfork( <unfinished ...>")
    lines(2, f"dup2({fd(3, D + '/log')}, 1) = {fd(1, D + '/log')}")
    lines(1, "<... vfork resumed>) = 2")
    lines(2, wrote(1, D + "/log", b"hi"))
    assert [(c.pid, c.name) for c in strace_log.calls(lines.lines)] == [(1, "vfork"), (2, "dup2"), (2, "write")]


# --- processes, descriptors and offsets --------------------------------------------------------

THREAD = (
    "clone3({flags=CLONE_VM|CLONE_FS|CLONE_FILES|CLONE_SIGHAND|CLONE_THREAD|CLONE_SYSVSEM, "
    "child_tid=0x7f5b00ee2990, exit_signal=0, stack=0x7f5b006e2000, stack_size=0x7fff80} => {parent_tid=[%d]}, 88) = %d"
)
FORK = "clone(child_stack=NULL, flags=CLONE_CHILD_CLEARTID|CLONE_CHILD_SETTID|SIGCHLD, child_tidptr=0x7f) = %d"


def test_threads_share_the_descriptor_table():
    lines = Lines()
    lines(1, THREAD % (2, 2))
    lines(2, opened(2, 4, "log", "O_WRONLY|O_APPEND"))  # opened by the thread, used by the main thread
    lines(1, wrote(4, D + "/log", b"x"))
    model = model_of(lines, {"log": b"0123"})
    assert writes(model) == [(4, b"x")]


def test_a_forked_child_shares_the_open_file_offset_but_not_the_table():
    lines = Lines()
    lines(1, opened(1, 3, "a"))
    lines(1, wrote(3, D + "/a", b"pp"))
    lines(1, FORK % 2)
    lines(2, wrote(3, D + "/a", b"cc"))  # the same open file description: at offset 2
    lines(2, f"close({fd(3, D + '/a')}) = 0")
    lines(2, opened(2, 3, "b", "O_WRONLY|O_CREAT|O_APPEND"))  # the child's fd 3 is now another file
    lines(1, wrote(3, D + "/a", b"PP"))  # the parent's fd 3 is still a, at offset 4
    model = model_of(lines)
    assert writes(model) == [(0, b"pp"), (2, b"cc"), (4, b"PP")]
    assert model.files["a"] == b"ppccPP"


def test_dup_shares_the_offset_and_fcntl_setfl_turns_on_o_append():
    lines = Lines()
    lines(1, opened(1, 3, "a"))
    lines(1, f"dup({fd(3, D + '/a')}) = {fd(4, D + '/a')}")
    lines(1, f"fcntl({fd(3, D + '/a')}, F_DUPFD_CLOEXEC, 0) = {fd(5, D + '/a')}")
    lines(1, wrote(3, D + "/a", b"ab"))
    lines(1, wrote(4, D + "/a", b"cd"))
    lines(1, f"fcntl({fd(5, D + '/a')}, F_SETFL, O_WRONLY|O_APPEND) = 0")
    lines(1, f"lseek({fd(3, D + '/a')}, 0, SEEK_SET) = 0")
    lines(1, wrote(3, D + "/a", b"E"))  # O_APPEND is on the shared description: at the end
    model = model_of(lines)
    assert writes(model) == [(0, b"ab"), (2, b"cd"), (4, b"E")]


def test_lseek_and_raw_reads_move_the_offset():
    lines = Lines()
    lines(1, opened(1, 3, "a", "O_RDWR"))
    lines(1, "read(0x3, 0x7ffe, 0x1000) = 0x3")
    lines(1, wrote(3, D + "/a", b"X"))
    lines(1, f"lseek({fd(3, D + '/a')}, 1, SEEK_SET) = 1")
    lines(1, wrote(3, D + "/a", b"Y"))
    model = model_of(lines, {"a": b"01234"})
    assert writes(model) == [(3, b"X"), (1, b"Y")]
    assert model.files["a"] == b"0Y2X4"


def test_o_append_writes_land_at_the_end_whatever_offset_they_name():
    # pwrite(2), BUGS: "if a file is opened with O_APPEND, pwrite() appends data to the end of the file"
    lines = Lines()
    lines(1, opened(1, 3, "a", "O_WRONLY|O_APPEND"))
    lines(1, wrote(3, D + "/a", b"hello"))
    lines(1, f"pwrite64({fd(3, D + '/a')}, {s('zz')}, 2, 1) = 2")
    lines(1, f"pwritev({fd(3, D + '/a')}, [{{iov_base={s('q')}, iov_len=1}}], 1, 0) = 1")
    model = model_of(lines)
    assert model.files["a"] == b"hellozzq"  # what Linux left in a real run of these calls


def test_rwf_append_appends_without_moving_the_offset():
    lines = Lines()
    lines(1, opened(1, 3, "b", "O_RDWR|O_CREAT"))
    lines(1, wrote(3, D + "/b", b"0123456789"))
    lines(1, f"pwritev2({fd(3, D + '/b')}, [{{iov_base={s('A')}, iov_len=1}}], 1, 2, RWF_APPEND) = 1")
    lines(1, wrote(3, D + "/b", b"W"))
    model = model_of(lines)
    assert model.files["b"] == b"0123456789W"  # what Linux left in a real run of these calls


def test_exec_closes_cloexec_descriptors_only():
    lines = Lines()
    lines(1, opened(1, 3, "a", "O_WRONLY|O_CREAT|O_CLOEXEC"))
    lines(1, opened(1, 4, "b", "O_WRONLY|O_CREAT"))
    lines(1, f"execve({s('/bin/sh')}, [{s('sh')}], 0x7ffe /* 3 vars */) = 0")
    model = model_of(lines)
    assert sorted(model.processes[1].fds) == [4]


def test_the_cwd_is_shared_under_clone_fs_and_copied_by_fork():
    lines = Lines()
    lines(1, THREAD % (2, 2))
    lines(2, f"chdir({s(D)}) = 0")  # the thread moves the whole process
    lines(1, f"mkdir({s('m')}, 0777) = 0")
    lines(1, FORK % 3)
    lines(3, f"chdir({s('m')}) = 0")  # the child moves itself only
    lines(3, f"mkdir({s('inner')}, 0777) = 0")
    lines(1, f"mkdir({s('n')}, 0777) = 0")
    assert ops(model_of(lines)) == [("mkdir", "m"), ("mkdir", "m/inner"), ("mkdir", "n")]


def test_fchdir_moves_the_cwd_to_the_directory_of_the_descriptor():
    lines = Lines()
    lines(1, f"openat({cwd('/data')}, {s('d/sub')}, O_RDONLY|O_DIRECTORY) = {fd(5, D + '/sub')}")
    lines(1, f"fchdir({fd(5, D + '/sub')}) = 0")
    lines(1, f"unlink({s('x')}) = 0")
    assert ops(model_of(lines, {"sub/x": b""}, (".", "sub"))) == [("unlink", "sub/x")]


def test_at_forms_resolve_against_their_directory_descriptor_unless_the_path_is_absolute():
    sub = fd(4, D + "/sub")
    lines = Lines()
    lines(1, f"renameat({sub}, {s('a')}, {sub}, {s('b')}) = 0")
    lines(1, f"linkat({sub}, {s('b')}, {cwd(D)}, {s('c')}, 0) = 0")
    lines(1, f"unlinkat({sub}, {s(D + '/c')}, 0) = 0")
    lines(1, f"mkdirat({sub}, {s('e')}, 0777) = 0")
    lines(1, f"unlinkat({sub}, {s('e')}, AT_REMOVEDIR) = 0")
    model = model_of(lines, {"sub/a": b"1"}, (".", "sub"))
    assert ops(model) == [
        ("rename", "sub/a", "sub/b"),
        ("link", "sub/b", "c"),
        ("unlink", "c"),
        ("mkdir", "sub/e"),
        ("rmdir", "sub/e"),
    ]
    assert model.files == {"sub/b": b"1"} and "sub/e" not in model.dirs and model.trace.complete


def test_failed_calls_change_nothing():
    lines = Lines()
    lines(1, f"openat({cwd(D)}, {s('a')}, O_WRONLY|O_CREAT|O_EXCL, 0644) = -1 EEXIST (File exists)")
    lines(1, f"rename({s(D + '/x')}, {s(D + '/y')}) = -1 ENOENT (No such file or directory)")
    lines(1, f"unlink({s(D + '/a')}) = -1 EACCES (Permission denied)")
    model = model_of(lines, {"a": b"1"})
    assert ops(model) == [] and model.trace.complete and model.files == {"a": b"1"}


def test_open_creates_only_a_missing_file_and_o_trunc_empties_an_existing_one():
    lines = Lines()
    lines(1, opened(1, 3, "new"))
    lines(1, opened(1, 4, "old"))
    lines(1, opened(1, 5, "old", "O_WRONLY|O_TRUNC"))
    lines(1, opened(1, 6, "old", "O_RDONLY"))
    model = model_of(lines, {"old": b"xyz"})
    assert ops(model) == [("create", "new"), ("truncate", "old")] and model.files["old"] == b""


def test_calls_outside_the_directory_make_no_step():
    lines = Lines()
    lines(1, opened(1, 3, "x", base="/data/dd"))  # a sibling whose name starts like the directory's
    lines(1, wrote(3, "/data/dd/x", b"1"))
    lines(1, wrote(1, "/dev/null", b"1"))
    lines(1, f"write(4<{hx('pipe:[9]')}>, {s('1')}, 1) = 1")
    lines(1, f"rename({s('/data/dd/x')}, {s('/data/dd/y')}) = 0")
    model = model_of(lines)
    assert ops(model) == [] and model.trace.complete


# --- writes and durability points --------------------------------------------------------------


def test_o_sync_and_o_dsync_writes_are_a_write_then_an_fsync():
    lines = Lines()
    lines(1, opened(1, 3, "a", "O_WRONLY|O_CREAT|O_APPEND|O_DSYNC"))
    lines(1, opened(1, 4, "b", "O_WRONLY|O_CREAT|O_SYNC"))
    lines(1, opened(1, 5, "c", "O_WRONLY|O_CREAT"))
    lines(1, wrote(3, D + "/a", b"1"))
    lines(1, f"writev({fd(4, D + '/b')}, [{{iov_base={s('2')}, iov_len=1}}, {{iov_base={s('3')}, iov_len=1}}], 2) = 2")
    lines(1, f"pwritev2({fd(5, D + '/c')}, [{{iov_base={s('4')}, iov_len=1}}], 1, 0, RWF_DSYNC) = 1")
    lines(1, f"pwritev2({fd(5, D + '/c')}, [{{iov_base={s('5')}, iov_len=1}}], 1, -1, 0) = 1")
    model = model_of(lines)
    assert ops(model)[3:] == [("write", "a"), ("fsync", "a"), ("write", "b"), ("fsync", "b"), ("write", "c")] + [
        ("fsync", "c"),
        ("write", "c"),
    ]
    assert model.files == {"a": b"1", "b": b"23", "c": b"5"}  # pwritev2 at offset 0 left c's offset at 0


def test_fsync_of_a_directory_is_fsync_dir_and_fdatasync_is_fsync():
    lines = Lines()
    lines(1, f"openat({cwd('/data')}, {s('d')}, O_RDONLY|O_DIRECTORY) = {fd(3, D)}")
    lines(1, f"fsync({fd(3, D)}) = 0")
    lines(1, f"fdatasync({fd(4, D + '/a')}) = 0")
    assert ops(model_of(lines, {"a": b""})) == [("fsync_dir", "."), ("fsync", "a")]


def test_sync_and_syncfs_on_the_directory_are_a_sync_step_and_sync_file_range_is_none(tmp_path):
    directory = str(tmp_path)
    lines = Lines()
    lines(1, "sync()          = 0")
    lines(1, f"syncfs({fd(3, directory + '/a')}) = 0")
    lines(1, f"sync_file_range({fd(3, directory + '/a')}, 0, 0, SYNC_FILE_RANGE_WRITE) = 0")
    model = Model(directory, {"a": b""}, {"."}, ACK, directory)
    for call in strace_log.calls(lines.lines):
        model.feed(call)
    assert [step.op for step in model.trace.steps] == ["sync", "sync"] and model.trace.complete


def test_syncfs_of_another_file_system_is_no_durability_point(tmp_path):
    if os.stat("/proc").st_dev == os.stat(tmp_path).st_dev:
        pytest.skip("/proc and the temporary directory are on one file system here")
    model = Model(str(tmp_path), {}, {"."}, ACK, str(tmp_path))
    for call in strace_log.calls(Lines()(1, f"syncfs({fd(3, '/proc/self/status')}) = 0").lines):
        model.feed(call)
    assert model.trace.steps == []


def test_sendfile_and_copy_file_range_copy_the_model_bytes_with_null_or_pointed_offsets():
    src, dst = fd(3, D + "/src"), fd(4, D + "/dst")
    lines = Lines()
    lines(1, opened(1, 3, "src", "O_RDONLY"))
    lines(1, opened(1, 4, "dst", "O_WRONLY|O_CREAT"))
    lines(1, f"lseek({src}, 2, SEEK_SET) = 2")
    lines(1, f"sendfile({dst}, {src}, NULL, 3) = 3")  # from src's offset 2, which moves to 5
    lines(1, f"sendfile({dst}, {src}, [0] => [2], 2) = 2")  # from offset 0; src's own offset stays 5
    lines(1, f"copy_file_range({src}, NULL, {dst}, NULL, 2, 0) = 2")  # from 5, at dst's offset 5
    lines(1, f"copy_file_range({src}, [8], {dst}, [0], 2, 0) = 2")  # neither offset moves
    lines(1, wrote(4, D + "/dst", b"!"))  # dst's offset is 7
    model = model_of(lines, {"src": b"0123456789"})
    assert writes(model) == [(0, b"234"), (3, b"01"), (5, b"56"), (0, b"89"), (7, b"!")]
    assert model.files["dst"] == b"8940156!" and model.trace.complete


def test_a_copy_from_outside_the_directory_makes_the_trace_incomplete():
    lines = Lines()
    lines(1, opened(1, 4, "dst"))
    lines(1, f"sendfile({fd(4, D + '/dst')}, {fd(3, '/etc/hostname')}, NULL, 5) = 5")
    model = model_of(lines)
    assert model.files["dst"] == bytes(5) and any("bytes copied are unknown" in r for r in model.trace.unseen)


def test_fallocate_mode_0_extends_keep_size_does_not_and_other_modes_are_unseen():
    a = fd(3, D + "/a")
    lines = Lines()
    lines(1, f"fallocate({a}, 0, 0, 2) = 0")  # within the file: nothing
    lines(1, f"fallocate({a}, 0, 2, 4) = 0")  # to 6 bytes
    lines(1, f"fallocate({a}, FALLOC_FL_KEEP_SIZE, 0, 100) = 0")
    model = model_of(lines, {"a": b"abc"})
    assert ops(model) == [("truncate", "a")] and model.files["a"] == b"abc\0\0\0" and model.trace.complete
    punched = model_of(Lines()(1, f"fallocate({a}, FALLOC_FL_KEEP_SIZE|FALLOC_FL_PUNCH_HOLE, 0, 2) = 0"), {"a": b"ab"})
    assert not punched.trace.complete


def test_truncate_and_ftruncate_set_the_size():
    lines = Lines()
    lines(1, f"truncate({s(D + '/a')}, 2) = 0")
    lines(1, f"ftruncate({fd(3, D + '/a')}, 4) = 0")
    model = model_of(lines, {"a": b"abc"})
    assert model.files["a"] == b"ab\0\0" and [step.size for step in model.trace.steps] == [2, 4]


# --- names -------------------------------------------------------------------------------------


def test_rename_and_renameat2_noreplace_move_a_file():
    lines = Lines()
    lines(1, f"rename({s(D + '/a')}, {s(D + '/b')}) = 0")
    lines(1, f"renameat2({cwd(D)}, {s('b')}, {cwd(D)}, {s('c')}, RENAME_NOREPLACE) = 0")
    model = model_of(lines, {"a": b"1", "c": b"old"})
    assert ops(model) == [("rename", "a", "b"), ("rename", "b", "c")] and model.files == {"c": b"1"}


def test_a_renameat2_noreplace_onto_an_existing_name_fails_and_changes_nothing():
    refused = f"renameat2({cwd(D)}, {s('a')}, {cwd(D)}, {s('b')}, RENAME_NOREPLACE) = -1 EEXIST (File exists)"
    model = model_of(Lines()(1, refused), {"a": b"1", "b": b"2"})
    assert ops(model) == [] and model.files == {"a": b"1", "b": b"2"} and model.trace.complete


def test_rename_exchange_swaps_two_names_in_one_step_and_open_files_follow_their_names():
    lines = Lines()
    lines(1, opened(1, 3, "new", "O_WRONLY"))
    lines(1, f"renameat2({cwd(D)}, {s('new')}, {cwd(D)}, {s('live')}, RENAME_EXCHANGE) = 0")
    lines(1, wrote(3, D + "/live", b"+"))  # the description opened as new now names live
    model = model_of(lines, {"new": b"N", "live": b"L"})
    assert ops(model) == [("exchange", "new", "live"), ("write", "live")] and model.trace.complete
    assert model.files == {"new": b"L", "live": b"+"}
    assert model.processes[1].fds[3].path == D + "/live"


def test_rename_exchange_across_directories_out_of_the_directory_or_whiteout_is_unseen():
    def unseen(old: str, new: str, flags: str = "RENAME_EXCHANGE") -> str:
        model = model_of(
            Lines()(1, f"renameat2({cwd(D)}, {s(old)}, {cwd(D)}, {s(new)}, {flags}) = 0"), dirs=(".", "sub")
        )
        return " | ".join(model.trace.unseen)

    assert "across two directories" in unseen("a", "sub/b")
    assert "outside the directory" in unseen("a", "/data/elsewhere")
    assert "the directory sub" in unseen("a", "sub")
    assert "whiteout" in unseen("a", "b", "RENAME_WHITEOUT")


def test_a_rename_out_of_the_directory_is_an_unlink_and_into_it_is_unseen():
    out = model_of(Lines()(1, f"rename({s(D + '/a')}, {s('/data/elsewhere')}) = 0"), {"a": b"1"})
    assert ops(out) == [("unlink", "a")] and out.files == {} and out.trace.complete
    into = model_of(Lines()(1, f"rename({s('/data/elsewhere')}, {s(D + '/a')}) = 0"))
    assert not into.trace.complete


def test_writes_through_a_renamed_file_keep_its_shared_offset():
    lines = Lines()
    lines(1, opened(1, 3, "a"))
    lines(1, wrote(3, D + "/a", b"pp"))
    lines(1, FORK % 2)
    lines(1, f"rename({s(D + '/a')}, {s(D + '/b')}) = 0")
    lines(2, wrote(3, D + "/b", b"cc"))  # the kernel now names the description b; its offset is 2
    lines(1, wrote(3, D + "/b", b"PP"))  # and then 4, for the parent too
    model = model_of(lines)
    assert model.files == {"b": b"ppccPP"}


def test_writes_through_an_unlinked_file_change_no_name():
    lines = Lines()
    lines(1, opened(1, 3, "a"))
    lines(1, f"unlink({s(D + '/a')}) = 0")
    lines(1, opened(1, 4, "a"))  # a new file under the old name
    lines(1, f"write(3<{hx(D + '/a')}>(deleted), {s('gone')}, 4) = 4")
    lines(1, f"fsync(3<{hx(D + '/a')}>(deleted)) = 0")
    model = model_of(lines)
    assert model.files == {"a": b""} and ops(model) == [("create", "a"), ("unlink", "a"), ("create", "a")]


def test_an_unnamed_o_tmpfile_makes_the_trace_incomplete():
    line = f"openat({cwd(D)}, {s('.')}, O_RDWR|O_CLOEXEC|O_TMPFILE, 0600) = 5<{hx(D + '/#2359499')}>(deleted)"
    model = model_of(Lines()(1, line))
    assert any("O_TMPFILE" in reason for reason in model.trace.unseen)


def test_a_symlink_is_an_entry_holding_its_path_as_written_and_outside_the_directory_no_step():
    lines = Lines()
    lines(1, f"symlink({s('v1')}, {s(D + '/current')}) = 0")
    lines(1, f"symlinkat({s('/nowhere')}, {fd(3, D + '/sub')}, {s('dangling')}) = 0")
    lines(1, f"symlink({s('v1')}, {s('/data/dd/l')}) = 0")
    model = model_of(lines, dirs=(".", "sub"))
    assert ops(model) == [("symlink", "current", "v1"), ("symlink", "sub/dangling", "/nowhere")]
    assert model.trace.complete and model.links == {"current": "v1", "sub/dangling": "/nowhere"}


def test_opens_through_a_symlink_name_the_file_the_kernel_resolved():
    lines = Lines()
    lines(1, f"symlink({s('v1')}, {s(D + '/current')}) = 0")
    lines(1, f"openat({cwd(D)}, {s('current')}, O_WRONLY|O_TRUNC) = {fd(3, D + '/v1')}")  # -y: the resolved path
    lines(1, wrote(3, D + "/v1", b"new"))
    model = model_of(lines, {"v1": b"old"})
    assert ops(model) == [("symlink", "current", "v1"), ("truncate", "v1"), ("write", "v1")]
    assert model.files == {"v1": b"new"}


def test_truncate_by_path_follows_symlinks_and_a_rename_or_unlink_moves_the_link_itself():
    lines = Lines()
    lines(1, f"symlink({s('sub/v')}, {s(D + '/l')}) = 0")
    lines(1, f"truncate({s(D + '/l')}, 1) = 0")
    lines(1, f"rename({s(D + '/l')}, {s(D + '/m')}) = 0")
    lines(1, f"truncate({s(D + '/m')}, 0) = 0")
    lines(1, f"unlink({s(D + '/m')}) = 0")
    model = model_of(lines, {"sub/v": b"abc"}, (".", "sub"))
    assert ops(model) == [("symlink", "l", "sub/v"), ("truncate", "sub/v"), ("rename", "l", "m")] + [
        ("truncate", "sub/v"),
        ("unlink", "m"),
    ]
    assert model.files == {"sub/v": b""} and model.links == {}


def test_a_symlink_in_the_starting_files_is_a_link_and_linkat_follows_it_only_when_asked():
    lines = Lines()
    lines(1, f"linkat({cwd(D)}, {s('l')}, {cwd(D)}, {s('same_link')}, 0) = 0")
    lines(1, f"linkat({cwd(D)}, {s('l')}, {cwd(D)}, {s('same_file')}, AT_SYMLINK_FOLLOW) = 0")
    model = model_of(lines, {"f": b"x", "l": Symlink(b"f")})
    assert ops(model) == [("link", "l", "same_link"), ("link", "f", "same_file")]
    assert model.links == {"l": "f", "same_link": "f"} and model.files["same_file"] is model.files["f"]


def test_rmdir_is_a_step_of_a_complete_trace():
    lines = Lines()
    lines(1, f"rmdir({s(D + '/sub')}) = 0")
    model = model_of(lines, dirs=(".", "sub"))
    assert ops(model) == [("rmdir", "sub")] and model.trace.complete and model.dirs == {"."}


# --- what makes a trace incomplete -------------------------------------------------------------


def test_a_shared_writable_mapping_makes_the_trace_incomplete_and_others_do_not():
    a = fd(3, D + "/a")
    private = model_of(Lines()(1, f"mmap(NULL, 4, PROT_READ|PROT_WRITE, MAP_PRIVATE, {a}, 0) = 0x7f00"))
    readonly = model_of(Lines()(1, f"mmap(NULL, 4, PROT_READ, MAP_SHARED, {a}, 0) = 0x7f00"))
    shared = model_of(Lines()(1, f"mmap(NULL, 4, PROT_READ|PROT_WRITE, MAP_SHARED, {a}, 0) = 0x7f00"))
    assert private.trace.complete and readonly.trace.complete
    assert any("mapped shared and writable" in reason for reason in shared.trace.unseen)


def test_a_write_longer_than_the_capture_limit_makes_the_trace_incomplete():
    model = model_of(Lines()(1, opened(1, 3, "a"))(1, f"write({fd(3, D + '/a')}, {s('abc')}..., 10) = 10"))
    assert any("capture limit" in reason for reason in model.trace.unseen)
    assert model.files["a"] == b"abc" + bytes(7)  # the size is right even if the bytes are not


def test_a_short_write_keeps_only_the_bytes_written():
    model = model_of(Lines()(1, opened(1, 3, "a"))(1, f"write({fd(3, D + '/a')}, {s('abcdef')}, 6) = 2"))
    assert model.files["a"] == b"ab" and model.trace.complete


def test_a_call_cut_off_by_a_kill_is_named_whatever_form_its_path_takes():
    lines = Lines()
    lines(1, f"chdir({s(D)}) = 0")
    lines(1, f"rename({s('tmp')}, {s('db')}) = ?")  # a relative path, resolved against the cwd
    lines(2, f"write({fd(3, D + '/a')}, {s('x')}, 1 <unfinished ...>")
    lines(3, f"unlink({s('/data/dd/x')}) = ?")  # outside: a sibling with the same prefix
    lines(4, "read(0x3, 0x7ffe, 0x1000) = ?")
    model = model_of(lines)
    assert [reason.split(" ")[0] for reason in model.cut_off] == ["rename", "write"]


# --- acks --------------------------------------------------------------------------------------


def test_ack_lines_place_tokens_after_the_steps_written_before_them():
    lines = Lines()
    lines(1, opened(1, 3, "a"))
    lines(1, wrote(9, ACK, b"S 1\n"))
    lines(1, wrote(3, D + "/a", b"x"))
    lines(1, wrote(9, ACK, b'A {"k": 1}\n'))
    lines(1, wrote(9, ACK, b"O [[1, 2]]\n"))
    lines(1, f"fsync({fd(3, D + '/a')}) = 0")
    trace = model_of(lines).trace
    assert trace.tokens == [{"k": 1}] and trace.ack_after == [2]
    assert trace.seen == {(2, "after"): [[1, 2]], (3, "before"): [[1, 2]]}
    assert trace.acked_before(3, "before") == [{"k": 1}] and trace.acked_before(2, "before") == []


# --- real strace --------------------------------------------------------------------------------


def _traced(tmp_path, program: str, files: dict[str, bytes] | None = None) -> tuple[Model, dict[str, bytes]]:
    """Run `program` (Python) with cwd `tmp_path/d` under the source's strace command; return the model
    of its trace and the files it really left (symbolic links left out)."""
    reason = syscall_source.probe()
    if reason is not None:
        pytest.skip(reason)
    directory = os.path.realpath(tmp_path / "d")
    os.makedirs(directory)
    for name, data in (files or {}).items():
        with open(os.path.join(directory, name), "wb") as f:
            f.write(data)
    log = str(tmp_path / "calls")
    command = ["strace", "-f", "--seccomp-bpf", "-qq", "-e", "signal=none", "-y", "-xx", "-ttt", "-s", "65536"]
    command += ["-e", "raw=read,readv", "-e", f"trace={syscall_source.CALLS}", "-o", log, "--"]
    subprocess.run(command + [sys.executable, "-c", textwrap.dedent(program)], cwd=directory, check=True, timeout=60)
    model = Model(directory, dict(files or {}), {"."}, str(tmp_path / "acks"), directory)
    with open(log, encoding="ascii") as f:
        for call in strace_log.calls(f):
            model.feed(call)
    real = {}
    for root, _, names in os.walk(directory):
        for name in names:
            if os.path.islink(os.path.join(root, name)):  # a symbolic link is no file (the model keeps it in links)
                continue
            with open(os.path.join(root, name), "rb") as f:
                real[os.path.relpath(os.path.join(root, name), directory)] = f.read()
    return model, real


def test_real_strace_threads_forks_and_offsets_model_the_files_left(tmp_path):
    program = """
        import os, threading
        fd = os.open("a", os.O_CREAT | os.O_RDWR)
        os.write(fd, b"main.")
        ts = [threading.Thread(target=os.write, args=(fd, b"thread.")) for _ in range(3)]
        [t.start() for t in ts]; [t.join() for t in ts]
        pid = os.fork()
        if pid == 0:
            os.write(fd, b"child."); os._exit(0)
        os.waitpid(pid, 0)
        os.pwrite(fd, b"P", 0)
        os.lseek(fd, 1, os.SEEK_SET); os.read(fd, 2); os.write(fd, b"R")
        app = os.open("log", os.O_WRONLY | os.O_APPEND | os.O_DSYNC)
        os.pwrite(app, b"+appended", 0)
        os.rename("a", "b"); os.write(fd, b"renamed"); os.fsync(fd)
        os.link("b", "c"); os.write(fd, b"linked")
        os.sync()
    """
    model, real = _traced(tmp_path, program, {"log": b"old"})
    assert model.files == real and model.trace.complete, model.trace.unseen
    assert "sync" in [step.op for step in model.trace.steps]


def test_real_strace_subprocess_shell_and_copies_model_the_files_left(tmp_path):
    program = """
        import os, subprocess, shutil
        with open("log", "a") as f:
            subprocess.run(["sh", "-c", "echo hi; echo x > t; mv t moved; cp moved copied"], stdout=f, check=True)
        os.mkdir("sub")
        src = os.open("log", os.O_RDONLY); dst = os.open("sub/c", os.O_CREAT | os.O_WRONLY)
        os.sendfile(dst, src, None, 3); os.copy_file_range(src, dst, 2, 0)
    """
    model, real = _traced(tmp_path, program, {"log": b"old\n"})
    assert model.files == real and model.trace.complete, model.trace.unseen


def test_o_trunc_empties_a_file_whatever_the_access_mode():
    # open(2): the effect of O_RDONLY|O_TRUNC is unspecified; Linux truncates (checked on a real file)
    model = model_of(Lines()(1, opened(1, 3, "a", "O_RDONLY|O_TRUNC")), {"a": b"abc"})
    assert ops(model) == [("truncate", "a")] and model.files["a"] == b""


def test_an_open_whose_file_was_unlinked_before_strace_looked_uses_the_name_it_was_given():
    line = f"openat({cwd(D)}, {s('a')}, O_WRONLY|O_CREAT, 0644) = 3<{hx(D + '/a')}>(deleted)"
    model = model_of(Lines()(1, line))
    assert ops(model) == [("create", "a")] and model.files == {"a": b""}


def test_openat2_and_creat_read_their_flags():
    lines = Lines()
    how = "{flags=O_WRONLY|O_CREAT|O_APPEND, mode=0644, resolve=0}"
    lines(1, f"openat2({cwd(D)}, {s('a')}, {how}, 24) = {fd(3, D + '/a')}")
    lines(1, f"creat({s(D + '/b')}, 0644) = {fd(4, D + '/b')}")
    lines(1, wrote(3, D + "/a", b"1"))
    model = model_of(lines, {"a": b"0", "b": b"old"})
    assert ops(model) == [("truncate", "b"), ("write", "a")] and model.files == {"a": b"01", "b": b""}


def test_close_range_dup3_and_f_setfd_decide_what_exec_keeps():
    lines = Lines()
    for number in (3, 4, 5, 6):
        lines(1, opened(1, number, f"f{number}"))
    lines(1, f"dup3({fd(3, D + '/f3')}, 7, O_CLOEXEC) = {fd(7, D + '/f3')}")
    lines(1, f"fcntl({fd(4, D + '/f4')}, F_SETFD, FD_CLOEXEC) = 0")
    lines(1, "close_range(5, 5, 0) = 0")
    lines(1, f"execve({s('/bin/true')}, [{s('true')}], 0x7ffe /* 3 vars */) = 0")
    assert sorted(model_of(lines).processes[1].fds) == [3, 6]


def test_a_vfork_childs_dup2_of_an_o_append_descriptor_appends():
    lines = Lines()
    lines(1, opened(1, 3, "log", "O_WRONLY|O_APPEND|O_CLOEXEC"))
    lines(1, "vfork( <unfinished ...>")
    lines(2, f"dup2({fd(3, D + '/log')}, {fd(1, '/dev/null')}) = {fd(1, D + '/log')}")
    lines(2, f"execve({s('/bin/sh')}, [{s('sh')}], 0x7ffe /* 3 vars */ <unfinished ...>")
    lines(1, "<... vfork resumed>) = 2")
    lines(2, "<... execve resumed>) = 0")
    lines(2, wrote(1, D + "/log", b"hi\n"))
    model = model_of(lines, {"log": b"old\n"})
    assert model.files["log"] == b"old\nhi\n"


def test_real_strace_a_shared_mapping_a_temp_file_and_a_write_past_the_capture_limit_are_unseen(tmp_path):
    program = """
        import mmap, os
        fd = os.open("m", os.O_CREAT | os.O_RDWR); os.ftruncate(fd, 4)
        with mmap.mmap(fd, 4) as m:
            m[0:1] = b"M"
        big = os.open("big", os.O_CREAT | os.O_WRONLY); os.write(big, b"b" * 70000)
        os.close(os.open(".", os.O_TMPFILE | os.O_RDWR, 0o600))
    """
    model, _ = _traced(tmp_path, program)
    unseen = " | ".join(model.trace.unseen)
    assert "mapped shared and writable" in unseen and "capture limit" in unseen and "O_TMPFILE" in unseen


def test_dup2_onto_itself_keeps_close_on_exec():
    lines = Lines()
    lines(1, opened(1, 3, "a", "O_WRONLY|O_CREAT|O_CLOEXEC"))
    lines(1, f"dup2({fd(3, D + '/a')}, {fd(3, D + '/a')}) = {fd(3, D + '/a')}")
    lines(1, f"execve({s('/bin/true')}, [{s('true')}], 0x7ffe /* 3 vars */) = 0")
    assert model_of(lines).processes[1].fds == {}


def test_a_hard_link_is_one_file_under_two_names():
    lines = Lines()
    lines(1, f"link({s(D + '/a')}, {s(D + '/b')}) = 0")
    lines(1, opened(1, 3, "a"))
    lines(1, wrote(3, D + "/a", b"xyz"))
    lines(1, opened(1, 4, "b", "O_WRONLY|O_APPEND"))
    lines(1, wrote(4, D + "/b", b"!"))  # at the end of the one file
    lines(1, opened(1, 5, "b", "O_WRONLY|O_TRUNC"))
    model = model_of(lines, {"a": b"0"})
    assert writes(model) == [(0, b"xyz"), (3, b"!")]
    assert model.files == {"a": b"", "b": b""}


def test_a_descriptor_of_an_unlinked_name_of_a_hard_linked_file_is_unseen():
    lines = Lines()
    lines(1, opened(1, 3, "a"))
    lines(1, f"link({s(D + '/a')}, {s(D + '/b')}) = 0")
    lines(1, f"unlink({s(D + '/a')}) = 0")
    lines(1, f"write(3<{hx(D + '/a')}>(deleted), {s('x')}, 1) = 1")  # the kernel names the removed name only
    model = model_of(lines)
    assert any("has another name" in reason for reason in model.trace.unseen)


def test_children_whose_clone_never_returned_come_once_each_at_the_end():
    lines = Lines()
    lines(1, "vfork( <unfinished ...>")
    lines(2, f"{FORK % 3}")  # the held child makes a grandchild, itself held until that clone is read
    lines(3, wrote(4, D + "/a", b"g"))
    lines(2, wrote(4, D + "/a", b"c"))
    calls = [(c.pid, c.name, c.unfinished) for c in strace_log.calls(lines.lines)]
    assert calls == [(2, "clone", False), (3, "write", False), (2, "write", False), (1, "vfork", True)]


def test_real_strace_symlinks_exchanges_and_rmdir_replay_to_the_files_left(tmp_path):
    program = """
        import ctypes, os
        libc = ctypes.CDLL(None, use_errno=True)
        for name in ("v1", "v2"):
            with open(name, "w") as f:
                f.write(name)
        os.symlink("v1", "current.tmp"); os.replace("current.tmp", "current")
        with open("current", "a") as f:  # through the link: v1 grows
            f.write("+")
        assert libc.renameat2(-100, b"v1", -100, b"v2", 2) == 0  # RENAME_EXCHANGE
        assert libc.renameat2(-100, b"v1", -100, b"v2", 1) == -1  # RENAME_NOREPLACE onto v2: EEXIST
        os.mkdir("gone"); os.rmdir("gone")
        os.symlink("/nowhere", "dangling")
    """
    model, _ = _traced(tmp_path, program, {"old": b"o"})
    directory = os.path.realpath(tmp_path / "d")
    start = {replay.ROOT: {"old": b"o"}}
    assert model.trace.complete and replay.unseen(start, model.trace, directory) == "", model.trace.unseen
    image = replay.image_of(directory)[replay.ROOT]
    assert image["current"] == Symlink(b"v1") and isinstance(image["current"], Symlink)
    assert image["v2"] == b"v1+" and image["dangling"] == Symlink(b"/nowhere")


def test_a_crash_image_materialises_symlinks_as_symlinks_and_reads_them_back(tmp_path):
    image = {replay.ROOT: {"v1": b"one", "current": Symlink(b"v1")}, replay.ROOT + "/empty": {}}
    directory = str(tmp_path / "state")
    replay.materialise(image, directory)
    assert os.readlink(os.path.join(directory, "current")) == "v1"
    with open(os.path.join(directory, "current"), "rb") as f:  # a program's recover() opens through it
        assert f.read() == b"one"
    assert replay.fingerprint(replay.image_of(directory)) == replay.fingerprint(image)


def test_the_replay_check_names_a_directory_or_a_link_it_did_not_expect(tmp_path):
    directory = tmp_path / "real"
    directory.mkdir()
    os.symlink("v", directory / "l")
    (directory / "e").mkdir()
    problem = replay.unseen({replay.ROOT: {"l": b"v"}}, Trace(), str(directory))  # l a file holding "v", no e
    assert "(e/, l)" in problem
