"""One Store per directory: a second open, in this process or another, is refused."""

import subprocess
import sys

import pytest

from tornwrite.engine import Store, StoreLockedError


def test_second_open_in_the_same_process_is_refused(tmp_path, clock):
    with Store.open(tmp_path / "d", clock=clock):
        with pytest.raises(StoreLockedError):
            Store.open(tmp_path / "d", clock=clock)


def test_second_open_from_another_process_is_refused(tmp_path, clock):
    with Store.open(tmp_path / "d", clock=clock):
        child = subprocess.run(
            [
                sys.executable,
                "-c",
                "import sys\nfrom tornwrite.engine import Store, StoreLockedError\n"
                "try:\n    Store.open(sys.argv[1])\nexcept StoreLockedError:\n    sys.exit(7)\n",
                str(tmp_path / "d"),
            ],
            capture_output=True,
            text=True,
            timeout=60,  # a hang guard: an open that blocks on the lock instead of refusing is the bug
        )
        assert child.returncode == 7, child.stderr


def test_open_after_close_succeeds(tmp_path, clock):
    Store.open(tmp_path / "d", clock=clock).close()
    Store.open(tmp_path / "d", clock=clock).close()
