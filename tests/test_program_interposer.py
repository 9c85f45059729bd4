"""The interposer records a program's file I/O where it reaches the kernel, and only in its directory."""

import ctypes
import importlib
import io
import os
import shutil
import sys
import tempfile
import threading

import pytest

from tornwrite.faultinject.program import install, interposer, kills
from tornwrite.faultinject.program.interposer import INTERPOSER, Session
from tornwrite.faultinject.program.target import of


@pytest.fixture
def traced(tmp_path):
    """traced(body) -> Trace: run body(directory) with the interposer armed on tmp_path/data."""
    directory = tmp_path / "data"
    directory.mkdir()
    previous = install.install(str(tmp_path))

    def run(body):
        session = Session(os.path.realpath(directory))
        INTERPOSER.arm(session)
        try:
            body(session.directory)
        finally:
            INTERPOSER.disarm()
        return session.trace

    yield run
    install.uninstall(previous)


def calls(trace):
    return [(step.op, step.call.split(" b'")[0]) for step in trace.steps]


def test_buffered_writes_are_recorded_when_flushed_not_when_written(traced):
    seen = {}

    def body(d):
        with open(os.path.join(d, "a.txt"), "w") as f:
            f.write("hello")
            seen["before flush"] = len(INTERPOSER.session.trace.steps)
            f.flush()

    trace = traced(body)
    assert seen["before flush"] == 1  # the create only: "hello" was still in Python's buffer
    assert [s.op for s in trace.steps] == ["create", "write"]
    assert trace.steps[1].data == b"hello" and trace.steps[1].offset == 0


def test_open_for_writing_an_existing_file_is_a_truncate_step(traced):
    def body(d):
        path = os.path.join(d, "a.txt")
        with interposer.REAL_OPEN(path, "w") as f:  # written before: not traced
            f.write("old")
        with open(path, "w") as f:
            f.write("new")

    assert calls(traced(body)) == [
        ("truncate", "open('w') a.txt (truncated to 0 B)"),
        ("write", "file.write a.txt 3 B @0"),
    ]


def test_os_calls_are_steps_named_as_written(traced):
    def body(d):
        fd = os.open(os.path.join(d, "a"), os.O_WRONLY | os.O_CREAT, 0o644)
        os.write(fd, b"abc")
        os.pwrite(fd, b"Z", 1)
        os.writev(fd, [b"de", b"f"])
        os.ftruncate(fd, 4)
        os.fsync(fd)
        os.fdatasync(fd)
        os.close(fd)
        os.truncate(os.path.join(d, "a"), 2)
        os.link(os.path.join(d, "a"), os.path.join(d, "b"))
        os.rename(os.path.join(d, "b"), os.path.join(d, "c"))
        os.replace(os.path.join(d, "c"), os.path.join(d, "a"))
        os.mkdir(os.path.join(d, "sub"))
        dir_fd = os.open(d, os.O_RDONLY)
        os.fsync(dir_fd)
        os.close(dir_fd)
        os.rmdir(os.path.join(d, "sub"))
        os.remove(os.path.join(d, "a"))

    assert calls(traced(body)) == [
        ("create", "os.open a (created)"),
        ("write", "os.write a 3 B @0"),
        ("write", "os.pwrite a 1 B @1"),
        ("write", "os.writev a 3 B @3"),
        ("truncate", "os.ftruncate a to 4 B"),
        ("fsync", "os.fsync a"),
        ("fsync", "os.fdatasync a"),
        ("truncate", "os.truncate a to 2 B"),
        ("link", "os.link a -> b"),
        ("rename", "os.rename b -> c"),
        ("rename", "os.replace c -> a"),
        ("mkdir", "os.mkdir sub"),
        ("fsync_dir", "os.fsync ."),
        ("rmdir", "os.rmdir sub"),
        ("unlink", "os.remove a"),
    ]


def test_a_symlink_is_a_step_and_opens_and_truncates_through_it_reach_the_file_it_names(traced):
    def body(d):
        with interposer.REAL_OPEN(os.path.join(d, "v1"), "w") as f:  # written before: not traced
            f.write("old")
        os.symlink("v1", os.path.join(d, "current"))
        with open(os.path.join(d, "current"), "w") as f:
            f.write("new")
        os.truncate(os.path.join(d, "current"), 1)
        os.symlink("missing", os.path.join(d, "dangling"))
        with open(os.path.join(d, "dangling"), "w"):  # open(2) creates what a dangling link names
            pass
        os.replace(os.path.join(d, "dangling"), os.path.join(d, "current"))

    trace = traced(body)
    assert calls(trace) == [
        ("symlink", "os.symlink current -> v1"),
        ("truncate", "open('w') v1 (truncated to 0 B)"),
        ("write", "file.write v1 3 B @0"),
        ("truncate", "os.truncate v1 to 1 B"),
        ("symlink", "os.symlink dangling -> missing"),
        ("create", "open('w') missing (created)"),
        ("rename", "os.replace dangling -> current"),
    ]
    assert [step.target for step in trace.steps if step.op == "symlink"] == ["v1", "missing"]
    assert trace.complete and not trace.warnings


def test_a_c_library_loaded_through_ctypes_during_the_run_makes_the_trace_incomplete(traced):
    # its calls (a syncfs, say) are unseen: without this, a durable program was judged as losing acks
    trace = traced(lambda d: ctypes.CDLL(None))
    assert any("ctypes during the run" in reason for reason in trace.unseen)


def test_names_bound_at_import_after_install_are_traced(traced, tmp_path):
    (tmp_path / "bound_module.py").write_text("import os\n_fsync = os.fsync\n_open = open\n")
    sys.path.insert(0, str(tmp_path))
    try:
        bound_module = importlib.import_module("bound_module")
    finally:
        sys.path.remove(str(tmp_path))
        sys.modules.pop("bound_module", None)

    def body(d):
        with bound_module._open(os.path.join(d, "a"), "wb") as f:
            f.write(b"x")
            f.flush()
            bound_module._fsync(f.fileno())

    assert [s.op for s in traced(body).steps] == ["create", "write", "fsync"]


def test_io_outside_the_directory_is_not_recorded(traced, tmp_path):
    def body(d):
        with open(tmp_path / "elsewhere", "w") as f:
            f.write("x")
        os.replace(tmp_path / "elsewhere", tmp_path / "moved")

    assert traced(body).steps == []


def test_tempfile_opener_and_fileio_are_traced(traced):
    def body(d):
        with tempfile.NamedTemporaryFile(dir=d, delete=False) as f:
            f.write(b"temp")
        with open(os.path.join(d, "b"), "w", opener=lambda p, flags: os.open(p, flags, 0o644)) as f:
            f.write("opener")
        raw = io.FileIO(os.path.join(d, "c"), "w")
        raw.write(b"raw")
        raw.close()

    trace = traced(body)
    assert [s.op for s in trace.steps] == ["create", "write"] * 3
    assert [s.data for s in trace.steps if s.op == "write"] == [b"temp", b"opener", b"raw"]


def test_shutil_copy_is_traced_as_a_write_of_the_copied_bytes(traced):
    def body(d):
        with interposer.REAL_OPEN(os.path.join(d, "src"), "wb") as f:
            f.write(b"payload" * 100)
        shutil.copyfile(os.path.join(d, "src"), os.path.join(d, "dst"))

    trace = traced(body)
    assert [s.op for s in trace.steps] == ["create", "write"]
    assert trace.steps[1].data == b"payload" * 100 and trace.steps[1].path == "dst"


def test_a_file_opened_before_tracing_is_named_by_its_path(tmp_path, traced):
    fd = os.open(tmp_path / "data" / "early", os.O_WRONLY | os.O_CREAT)
    try:
        trace = traced(lambda d: os.write(fd, b"late"))
    finally:
        os.close(fd)
    assert calls(trace) == [("write", "os.write early 4 B @0")]


def test_a_renamed_file_is_named_by_its_current_path(traced):
    def body(d):
        with open(os.path.join(d, "tmp"), "wb") as f:
            f.write(b"x")
            f.flush()
            os.replace(os.path.join(d, "tmp"), os.path.join(d, "final"))
            os.fsync(f.fileno())

    assert calls(traced(body))[-1] == ("fsync", "os.fsync final")


def test_renaming_or_fsyncing_a_file_never_seen_written_warns(traced, tmp_path):
    def body(d):
        # Written behind the interposer's back, as C code would.
        fd = interposer.REAL["open"](os.path.join(d, "c-written"), os.O_WRONLY | os.O_CREAT)
        os.fsync(fd)
        os.close(fd)
        os.rename(os.path.join(d, "c-written"), os.path.join(d, "renamed"))

    warnings = traced(body).warnings
    assert any("fsyncs a file the trace never saw written" in w for w in warnings)
    assert any("renames a file the trace never saw written" in w for w in warnings)


def test_threads_are_traced_in_the_order_their_steps_happen(traced):
    def body(d):
        def writer(name):
            for i in range(20):
                with open(os.path.join(d, name), "ab") as f:
                    f.write(b"%d," % i)

        threads = [threading.Thread(target=writer, args=(n,), name=n) for n in ("t1", "t2")]
        for t in threads:
            t.start()
        for t in threads:
            t.join()

    trace = traced(body)
    assert [s.number for s in trace.steps] == list(range(1, len(trace.steps) + 1))
    assert {s.thread for s in trace.steps} == {"t1", "t2"}
    assert sum(s.op == "write" for s in trace.steps) == 40


def test_a_kill_loses_what_was_still_in_pythons_buffer(tmp_path):
    base = tmp_path / "base"
    directory = base / "data"
    directory.mkdir(parents=True)
    previous = install.install(str(base))

    class Target:
        @staticmethod
        def workload(path, ack):
            f = open(os.path.join(path, "log"), "w")
            f.write("buffered, never flushed")
            os.mkdir(os.path.join(path, "marker"))  # step 2: the kill lands after it

        @staticmethod
        def recover(path):
            return None

    try:
        report = kills.kill_at(of(Target, "t", "t"), str(directory), 2, "after")
    finally:
        install.uninstall(previous)
    assert report.killed
    assert (directory / "log").read_bytes() == b""


def test_files_opened_elsewhere_are_still_io_fileio_instances(traced, tmp_path):
    with tempfile.TemporaryFile() as f:  # outside the base: the real io.open, a C FileIO
        assert type(f.raw) is interposer.REAL_FILEIO and isinstance(f.raw, io.FileIO)
    with open(tmp_path / "data" / "inside", "wb") as f:
        assert isinstance(f.raw, io.FileIO)
