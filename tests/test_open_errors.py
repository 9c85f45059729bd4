"""Opening refuses clearly, before changing anything, when the directory cannot be trusted or used."""

import errno

import pytest

from tornwrite.engine import CorruptDataError, IOLayer, Store
from tornwrite.faultinject.core.simdisk import SimDisk


def test_a_path_that_is_a_file_is_refused(tmp_path, clock):
    path = tmp_path / "not-a-dir"
    path.write_bytes(b"mine")
    with pytest.raises(NotADirectoryError, match="a file is where the data directory should be"):
        Store.open(path, clock=clock)
    assert path.read_bytes() == b"mine"


class ReadOnlyDisk(SimDisk):
    """A directory the process may read but not write (what chmod a-w does to a non-root user)."""

    def _refuse(self, path: str):
        raise PermissionError(errno.EACCES, "Permission denied", path)

    def create(self, path):
        self._refuse(path)

    def lock(self, path):
        self._refuse(path)


def test_a_directory_that_is_not_writable_is_refused_before_anything_changes(clock):
    writable = SimDisk()
    with Store.open("/sim/data", io=IOLayer(writable), clock=clock) as store:
        store.set("k", b"v")
    image = writable.process_crash_image()
    disk = ReadOnlyDisk.from_image(image)
    with pytest.raises(PermissionError, match="/sim/data/LOCK"):
        Store.open("/sim/data", io=IOLayer(disk), clock=clock)
    assert disk.process_crash_image() == image


def test_unknown_format_version_in_a_snapshot_is_refused(tmp_path, clock):
    with Store.open(tmp_path / "d", clock=clock) as store:
        store.set("k", b"v")
        lsn = store.snapshot()
    snapshot = tmp_path / "d" / f"snapshot-{lsn:020d}.snap"
    snapshot.write_bytes(snapshot.read_bytes().replace(b"REDISLITE-SNAPSHOT 3 ", b"REDISLITE-SNAPSHOT 9 ", 1))
    before = {p.name: p.read_bytes() for p in (tmp_path / "d").iterdir()}
    with pytest.raises(CorruptDataError, match="unknown snapshot format version '9'"):
        Store.open(tmp_path / "d", clock=clock)
    assert {p.name: p.read_bytes() for p in (tmp_path / "d").iterdir()} == before
