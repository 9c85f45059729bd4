"""Every format version the engine reads has a seeded starting directory, written as that version
wrote it; the state machine restarts on its files rewritten in each, and the campaign's from-v<N>
workloads start from them."""

import pytest

from tornwrite.engine import IOLayer, Store
from tornwrite.engine.format import FORMAT_VERSION, READ_VERSIONS
from tornwrite.faultinject import repro
from tornwrite.faultinject.campaign import execute, plan_tasks
from tornwrite.faultinject.core import oldformats, workloads
from tornwrite.faultinject.core.execution import DATA_DIR, FakeClock, run, trace
from tornwrite.faultinject.core.simdisk import SimDisk
from tornwrite.faultinject.kinds.base import ReproRequest
from tornwrite.faultinject.plan import Plan
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


OLDER = [version for version in READ_VERSIONS if version != FORMAT_VERSION]


@pytest.mark.parametrize("version", OLDER)
def test_each_older_version_has_a_default_campaign_workload_that_starts_from_its_directory(version):
    name = f"from-v{version}"
    workload = workloads.build(name, 0)
    assert name in workloads.DEFAULT_WORKLOADS
    assert workload.start == oldformats.start_files(version)
    assert workload.initial == opmodel.state_after(list(oldformats.START_OPS), oldformats.START)[0]
    # Its ops write to the old directory's own keys, so recovery and replay meet its values.
    assert {key for op in workload.ops if op.is_write for key in op.keys()} <= set(workload.initial)


def test_a_run_lays_the_starting_files_down_durably_before_its_first_crash_point():
    workload = workloads.build("from-v1", 0)
    disk = SimDisk()
    first: list[dict] = []
    run(workload, IOLayer(disk), DATA_DIR, lambda event, n, _: first.append(disk.durable_image()) if n == 1 else None)
    assert first[0][DATA_DIR] == dict(workload.start)  # every file, as the old version wrote it, before step 1
    assert trace(workload)[0].op_index == 0  # and step 1 is the engine's own, opening them


@pytest.mark.parametrize("kind", ["power", "process"])
@pytest.mark.parametrize("version", OLDER)
def test_every_crash_point_of_a_run_from_an_older_directory_recovers_to_a_state_the_model_allows(kind, version):
    plan = Plan((f"from-v{version}",), kinds=(kind,), budget=12)
    results = execute(plan, jobs=1).results
    assert results and all(r.ok for r in results), next(r.detail for r in results if not r.ok)


@pytest.mark.parametrize("kind", ["power", "process"])
def test_a_wal_reader_that_ignores_the_segments_version_is_caught_by_the_campaign_from_a_v1_directory(kind):
    plan = Plan(("from-v1",), kinds=(kind,), budget=3, mutant="wal-reader-ignores-version")
    assert all(not r.ok for r in execute(plan, jobs=1).results)


def test_kinds_that_cannot_start_from_files_skip_those_workloads():
    batches, _ = plan_tasks(Plan(("from-v2", "basic"), kinds=("damage", "concurrent", "power"), budget=2))
    assert {(kind, name) for kind, name, _ in batches} == {
        ("damage", "basic"),
        ("concurrent", "basic"),
        ("power", "basic"),
        ("power", "from-v2"),
    }


def test_a_repro_of_a_kind_that_skips_workloads_with_starting_files_is_refused():
    lines: list[str] = []
    assert repro.repro("damage", "from-v1", 0, None, ReproRequest(1, None), out=lines.append) == 2
    assert "starts from files" in lines[-1]
