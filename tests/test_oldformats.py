"""Every format version the engine reads has a seeded starting directory, written as that version
wrote it, and the state machine restarts on its files rewritten in each."""

import pytest

from tornwrite.engine import IOLayer, Store
from tornwrite.engine.format import READ_VERSIONS
from tornwrite.faultinject.core import oldformats
from tornwrite.faultinject.core.execution import DATA_DIR, FakeClock
from tornwrite.faultinject.core.simdisk import SimDisk
from tornwrite.faultinject.zoo import mutants, stateful
from tornwrite.models import opmodel
from tornwrite.models.format_reader import read_files


@pytest.mark.parametrize("version", READ_VERSIONS)
def test_each_start_image_says_its_version_in_every_header_and_holds_non_ascii_values(version):
    files = oldformats.start_image(version)[DATA_DIR]
    logs = [data for name, data in files.items() if name.startswith(("wal-", "snapshot-"))]
    assert len(logs) >= 2 and all(data.split(b" ")[1] == str(version).encode() for data in logs)
    assert any(not data.isascii() for data in logs)


@pytest.mark.parametrize("version", READ_VERSIONS)
def test_the_engine_and_the_format_reader_read_each_version_as_its_ops_left_it(version):
    image = oldformats.start_image(version)
    expected = opmodel.view(opmodel.state_after(list(oldformats.START_OPS), oldformats.START)[0], oldformats.START)
    with Store.open(DATA_DIR, io=IOLayer(SimDisk.from_image(image)), clock=FakeClock(oldformats.START)) as store:
        assert store.dump() == expected
    assert read_files(image[DATA_DIR]).view(oldformats.START) == expected


def test_a_version_the_engine_does_not_read_is_refused():
    with pytest.raises(ValueError, match="not one the engine reads"):
        oldformats.start_image(max(READ_VERSIONS) + 1)


def test_a_wal_reader_that_ignores_the_segments_version_is_caught_by_a_restart_on_old_files(monkeypatch):
    monkeypatch.setattr(stateful, "note", lambda text: None)
    machine = stateful.StoreVersusModel()
    machine.hset("ключ", {"поле": "ζωή".encode()})
    with mutants.active("wal-reader-ignores-version"), pytest.raises(AssertionError, match="recovery lost or changed"):
        machine.restart_on_the_files_as_a_format_version_wrote_them(min(READ_VERSIONS))
