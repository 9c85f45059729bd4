"""The simulated disk keeps exactly what docs/CRASH-MODEL.md says a crash can keep."""

import errno
import random

import pytest

from tornwrite.faultinject.core.simdisk import SECTOR, SimDisk, Symlink, image_fingerprint

D = "/d"


def disk_with(*names):
    disk = SimDisk()
    disk.mkdir(D)
    handles = {name: disk.create(f"{D}/{name}") for name in names}
    return disk, handles


def images(disk):
    return [state.image[D] for state in disk.power_loss_states(random.Random(0))]


def test_fsynced_data_and_entries_survive_every_power_loss():
    disk, h = disk_with("f")
    disk.write(h["f"], b"durable")
    disk.fsync(h["f"])
    disk.fsync_dir(D)
    assert images(disk) == [{"f": b"durable"}]


def test_unsynced_data_may_be_lost_kept_or_torn_at_every_byte():
    disk, h = disk_with("f")
    disk.fsync_dir(D)
    disk.write(h["f"], b"abcd")
    contents = {image["f"] for image in images(disk)}
    assert {b"", b"a", b"ab", b"abc", b"abcd", b"\0\0\0\0"} == contents


def test_long_writes_tear_at_sector_boundaries_and_seeded_offsets():
    disk, h = disk_with("f")
    disk.fsync_dir(D)
    data = bytes(range(256)) * 12  # 3072 bytes: five sector boundaries inside
    disk.write(h["f"], data)
    lengths = {len(image["f"]) for image in images(disk) if image["f"] == data[: len(image["f"])]}
    assert {SECTOR * k for k in range(1, 6)} <= lengths
    assert 12 <= len(lengths - {0, len(data)} - {SECTOR * k for k in range(1, 6)}) <= 12


def test_zero_filled_states_keep_the_size_but_not_the_data():
    disk, h = disk_with("f")
    disk.fsync_dir(D)
    disk.write(h["f"], b"x" * 1000)
    zeroed = [image["f"] for image in images(disk) if image["f"].endswith(b"\0")]
    assert b"\0" * 1000 in zeroed and b"x" * SECTOR + b"\0" * (1000 - SECTOR) in zeroed


def test_a_create_without_directory_fsync_may_vanish_even_when_its_data_is_synced():
    disk, h = disk_with("f")
    disk.write(h["f"], b"data")
    disk.fsync(h["f"])
    assert {tuple(sorted(image)) for image in images(disk)} == {(), ("f",)}


def test_every_subset_of_pending_entry_changes_can_persist():
    disk, h = disk_with("old")
    disk.fsync_dir(D)
    disk.create(f"{D}/tmp")
    disk.rename(f"{D}/tmp", f"{D}/final")
    disk.unlink(f"{D}/old")
    names = {tuple(sorted(image)) for image in images(disk)}
    # Notably: the unlink persisted but neither the create nor the rename.
    assert () in names and ("final", "old") in names and ("old", "tmp") in names and ("final",) in names


def test_a_rename_replaces_the_target_atomically():
    disk, h = disk_with("a", "b")
    disk.write(h["a"], b"new")
    disk.write(h["b"], b"old")
    disk.fsync(h["a"])
    disk.fsync(h["b"])
    disk.fsync_dir(D)
    disk.rename(f"{D}/a", f"{D}/b")
    assert {image["b"] for image in images(disk)} == {b"old", b"new"}


def test_process_crash_keeps_the_page_cache():
    disk, h = disk_with("f")
    disk.write(h["f"], b"unsynced")
    assert disk.process_crash_image()[D] == {"f": b"unsynced"}


def test_other_files_pending_data_is_lost_or_all_kept_together():
    disk, h = disk_with("a", "b")
    disk.fsync_dir(D)
    disk.write(h["a"], b"1")
    disk.write(h["b"], b"2")  # b is the file written last
    pairs = {(image["a"], image["b"]) for image in images(disk)}
    assert (b"", b"") in pairs and (b"1", b"2") in pairs and (b"1", b"") not in pairs


def test_truncate_is_pending_until_fsync():
    disk, h = disk_with("f")
    disk.write(h["f"], b"keep+tail")
    disk.fsync(h["f"])
    disk.fsync_dir(D)
    disk.truncate(h["f"], 4)
    assert {image["f"] for image in images(disk)} == {b"keep+tail", b"keep"}


def test_from_image_boots_a_disk_where_everything_is_durable():
    booted = SimDisk.from_image({D: {"f": b"x"}})
    assert images(booted) == [{"f": b"x"}] and booted.read(f"{D}/f") == b"x"


def test_locks_and_missing_files_behave_like_the_os():
    disk, _ = disk_with()
    handle = disk.lock(f"{D}/LOCK")
    with pytest.raises(BlockingIOError):
        disk.lock(f"{D}/LOCK")
    disk.unlock(handle)
    disk.lock(f"{D}/LOCK")
    with pytest.raises(FileNotFoundError):
        disk.read(f"{D}/missing")
    with pytest.raises(FileExistsError):
        disk.create(f"{D}/LOCK")


@pytest.mark.parametrize("call", ["write", "fsync", "truncate", "close", "write_at"])
def test_io_through_a_closed_handle_is_refused_with_ebadf(call):
    disk, h = disk_with("f")
    disk.close(h["f"])
    args = {"write": (b"late",), "fsync": (), "truncate": (0,), "close": (), "write_at": (0, b"late")}[call]
    with pytest.raises(OSError) as refused:
        getattr(disk, call)(h["f"], *args)
    assert refused.value.errno == errno.EBADF
    assert disk.read(f"{D}/f") == b""  # nothing reached the file


@pytest.mark.parametrize("handle", ["from another disk", "from before a process crash", "not a handle"])
def test_io_through_a_handle_this_disk_never_opened_is_refused_with_ebadf(handle):
    disk, h = disk_with("f")
    stranger = {
        "from another disk": disk_with("f")[1]["f"],
        "from before a process crash": h["f"],
        "not a handle": object(),
    }[handle]
    if handle == "from before a process crash":
        disk = disk.after_process_crash()
    with pytest.raises(OSError) as refused:
        disk.write(stranger, b"x")
    assert refused.value.errno == errno.EBADF


def test_a_handle_opened_again_after_close_writes_as_before():
    disk, h = disk_with("f")
    disk.write(h["f"], b"a")
    disk.close(h["f"])
    again = disk.open_append(f"{D}/f")
    disk.write(again, b"b")
    assert disk.read(f"{D}/f") == b"ab"


def test_an_unlocked_lock_handle_cannot_be_unlocked_twice():
    disk = SimDisk()
    disk.mkdir(D)
    lock = disk.lock(f"{D}/LOCK")
    disk.unlock(lock)
    with pytest.raises(OSError):
        disk.unlock(lock)


# --- what a traced program may do beyond the engine: symbolic links, exchanges, rmdir -----------


def durable_files(disk, **files):
    for name, data in files.items():
        handle = disk.create(f"{D}/{name}")
        disk.write(handle, data)
        disk.fsync(handle)
    disk.fsync_dir(D)


def test_a_symlink_is_an_entry_pending_like_a_create_until_its_directory_is_fsynced():
    disk, _ = disk_with()
    disk.fsync_dir(D)
    disk.symlink("v1", f"{D}/current")
    assert disk.process_crash_image()[D] == {"current": Symlink(b"v1")}
    assert images(disk) == [{}, {"current": b"v1"}]
    assert all(type(image["current"]) is Symlink for image in images(disk) if image)
    disk.fsync_dir(D)
    assert images(disk) == [{"current": b"v1"}]


def test_a_symlink_is_no_file_holding_its_path_and_no_fsync_or_boot_makes_it_one():
    assert image_fingerprint({D: {"l": Symlink(b"f")}}) != image_fingerprint({D: {"l": b"f"}})
    booted = SimDisk.from_image({D: {"l": Symlink(b"f")}})
    booted.fsync(booted.open_append(f"{D}/l"))  # sync() fsyncs every entry, links included
    assert type(booted.durable_image()[D]["l"]) is Symlink
    with pytest.raises(FileExistsError):
        booted.symlink("g", f"{D}/l")


def test_a_rename_exchange_is_kept_whole_or_lost_whole_until_the_directory_fsync():
    disk, _ = disk_with()
    durable_files(disk, new=b"N", live=b"L")
    disk.exchange(f"{D}/new", f"{D}/live")
    assert disk.process_crash_image()[D] == {"new": b"L", "live": b"N"}
    # never a mix: both names still old, or both swapped; never one file under both names
    assert sorted((image["new"], image["live"]) for image in images(disk)) == [(b"L", b"N"), (b"N", b"L")]
    disk.fsync_dir(D)
    assert images(disk) == [{"new": b"L", "live": b"N"}]


def test_a_rename_exchange_needs_both_names_and_one_directory():
    disk, _ = disk_with()
    durable_files(disk, a=b"A")
    disk.mkdir(f"{D}/sub")
    with pytest.raises(FileNotFoundError):
        disk.exchange(f"{D}/a", f"{D}/missing")
    with pytest.raises(OSError) as across:
        disk.exchange(f"{D}/a", f"{D}/sub/a")
    assert across.value.errno == errno.EXDEV


def test_rmdir_is_pending_in_its_parent_until_the_parent_is_fsynced():
    disk, _ = disk_with()
    disk.mkdir(f"{D}/sub")
    disk.fsync_dir(D)
    disk.rmdir(f"{D}/sub")
    assert f"{D}/sub" not in disk.process_crash_image()
    states = list(disk.power_loss_states(random.Random(0)))
    assert sorted(f"{D}/sub" in state.image for state in states) == [False, True]  # kept, or lost: back, empty
    disk.fsync_dir(D)
    assert [f"{D}/sub" in state.image for state in disk.power_loss_states(random.Random(0))] == [False]


def test_a_removed_directory_whose_removal_is_lost_comes_back_with_its_durable_entries():
    disk, _ = disk_with()
    disk.mkdir(f"{D}/sub")
    handle = disk.create(f"{D}/sub/f")
    disk.write(handle, b"x")
    disk.fsync(handle)
    disk.fsync_dir(f"{D}/sub")
    disk.unlink(f"{D}/sub/f")  # not fsynced in sub
    disk.rmdir(f"{D}/sub")
    back = [state.image[f"{D}/sub"] for state in disk.power_loss_states(random.Random(0)) if f"{D}/sub" in state.image]
    assert back == [{"f": b"x"}]


def test_rmdir_refuses_a_directory_holding_a_file_or_a_directory():
    disk, _ = disk_with()
    disk.mkdir(f"{D}/sub/inner")
    with pytest.raises(OSError) as refused:
        disk.rmdir(f"{D}/sub")
    assert refused.value.errno == errno.ENOTEMPTY
    durable_files(disk, f=b"")
    with pytest.raises(OSError):
        disk.rmdir(D)


def test_a_directory_made_again_after_a_pending_rmdir_is_there_whatever_the_crash():
    disk, _ = disk_with()
    disk.mkdir(f"{D}/sub")
    disk.fsync_dir(D)
    disk.rmdir(f"{D}/sub")
    disk.mkdir(f"{D}/sub")
    assert [state.image[f"{D}/sub"] for state in disk.power_loss_states(random.Random(0))] == [{}]


def test_an_empty_directory_counts_in_an_images_fingerprint():
    # else a state whose rmdir was lost is judged as the state without the directory (one cache key)
    assert image_fingerprint({D: {}, f"{D}/sub": {}}) != image_fingerprint({D: {}})


def test_mkdir_is_pending_in_its_parent_until_the_parent_is_fsynced():
    disk, _ = disk_with()
    disk.mkdir(f"{D}/sub")
    assert f"{D}/sub" in disk.process_crash_image()  # the kernel keeps it through a process kill
    assert sorted(f"{D}/sub" in state.image for state in disk.power_loss_states(random.Random(0))) == [False, True]
    disk.fsync_dir(D)
    assert [f"{D}/sub" in state.image for state in disk.power_loss_states(random.Random(0))] == [True]


def test_a_directory_whose_making_is_lost_takes_everything_under_it():
    disk, _ = disk_with()
    disk.mkdir(f"{D}/sub/inner")  # two new entries: sub in D, inner in sub
    disk.fsync_dir(f"{D}/sub")  # inner's entry durable in sub, but sub's own entry is not
    handle = disk.create(f"{D}/sub/inner/f")
    disk.write(handle, b"x")
    disk.fsync(handle)
    disk.fsync_dir(f"{D}/sub/inner")
    shapes = {
        tuple(sorted(p for p in state.image if p.startswith(f"{D}/")))
        for state in disk.power_loss_states(random.Random(0))
    }
    assert shapes == {(), (f"{D}/sub", f"{D}/sub/inner")}
    disk.fsync_dir(D)
    assert [state.image[f"{D}/sub/inner"] for state in disk.power_loss_states(random.Random(0))] == [{"f": b"x"}]


def test_a_disk_booted_from_an_image_holds_its_directories_durably():
    disk = SimDisk.from_image({D: {}, f"{D}/sub": {"f": b"x"}})
    images = [state.image for state in disk.power_loss_states(random.Random(0))]
    assert [{p: files for p, files in image.items() if p.startswith(D)} for image in images] == [
        {D: {}, f"{D}/sub": {"f": b"x"}}
    ]


def test_every_crash_state_carries_the_fingerprint_of_its_own_image():
    """Torn appends are fingerprinted by one running hash: it must equal hashing each image whole."""
    disk, h = disk_with("f", "g")
    disk.write(h["f"], bytes(range(256)) * 9)
    disk.fsync(h["f"])
    disk.fsync_dir(D)
    disk.write(h["g"], b"other")
    disk.write(h["f"], b"tail" * 700)  # an append past several sectors: many torn copies
    states = list(disk.power_loss_states(random.Random(0)))
    assert len(states) > 12
    for state in states:
        assert state.fingerprint() == image_fingerprint(state.image)
    assert len({state.fingerprint() for state in states}) == len(states)
