"""Walkthroughs of snapshots: a power loss just before and just after the rename, and the bug a
missing directory fsync after the rename causes (on a mutant), next to the real engine.

Each function tells one story on a `Story` (story.py): it runs things
(every number comes from there), writes the prose around the facts, and claims what the story
depends on. The registry, with what each one teaches, is in scenarios.py.
"""

from __future__ import annotations

from tornwrite.engine.format import snapshot_name, wal_name
from tornwrite.faultinject.walkthrough.record import CrashAt, records_of, short_name, where
from tornwrite.faultinject.walkthrough.render import value_text
from tornwrite.faultinject.walkthrough.story import Story
from tornwrite.faultinject.walkthrough.wal import QUEUE_READ
from tornwrite.faultinject.zoo import mutants
from tornwrite.models.ops import Op

WAL_2, WAL_4 = wal_name(2), wal_name(4)
SNAP_1, SNAP_3 = snapshot_name(1), snapshot_name(3)


# --- 2, 3 --------------------------------------------------------------------------------------------

SNAPSHOT_OPS = [
    Op.of("rpush", "queue", b"job-1"),
    Op.of("snapshot"),
    Op.of("rpush", "queue", b"job-2"),
    Op.of("set", "greeting", b"hello"),
    Op.of("snapshot"),
    Op.of("rpush", "queue", b"job-3"),
]


def _snapshot_intro(s: Story) -> None:
    s.say(
        "A list, a first snapshot, two more writes, then a second snapshot, the one the power cuts "
        "short. A snapshot takes these steps: start a new WAL segment so later records do not go into "
        "the segments about to be cut; copy the state; write it to a temp file and fsync it; rename "
        "the temp file to its final name; fsync the directory so the rename is durable; only then "
        "delete the older snapshot and the segments it covers (the WAL cut), and fsync the directory "
        "again. The first snapshot (op 2) shows every step."
    )
    s.say(
        "The `rpush` at op 3 is the witness. Its record appends to a list that only the snapshot "
        "holds (the record that created the list went with the first cut), so if recovery ever "
        "replayed it on top of a snapshot that already contains it, `job-2` would appear twice."
    )


def snapshot_rename_before(s: Story) -> None:
    _snapshot_intro(s)
    s.section("The run")
    run = s.run(SNAPSHOT_OPS, CrashAt("snapshot.rename", "before", op=5), where(lambda f: SNAP_3 + ".tmp" in f))
    crash = run.power_loss
    s.say(
        f"The power fails just before the second snapshot's rename (step {crash.step.number}). Its temp "
        f"file is complete and its data fsynced, but its name was never made durable, nothing has been "
        f"renamed and nothing cut. We follow the disk where the temp file's name survived anyway; in the "
        f"other of the {len(crash.states)} possible disks it is simply gone."
    )
    files = s.disk(crash.image, "On disk after the power loss")
    s.section("Recovery")
    recovery = s.recover(crash.image, crash.clock, reads=(QUEUE_READ,))
    report = recovery.report
    s.say(
        f"Recovery never reads a `.tmp` file: a snapshot counts only once it has its final name, so this "
        f"one, complete as it is, is deleted. The newest valid snapshot is the first one (LSN "
        f"{report.snapshot_lsn}); the records after it come from `{short_name(WAL_2)}`."
    )
    judged = s.judge(crash, recovery)
    tally = s.tally(crash)
    queue = recovery.reads.get(repr(QUEUE_READ))
    s.claim(SNAP_3 + ".tmp" in files and SNAP_3 not in files, "the temp file was on disk, the new snapshot was not")
    s.claim(any(path.endswith(SNAP_3 + ".tmp") for path in report.removed), "recovery deleted the temp file unread")
    s.claim(
        report.snapshot_lsn == 1 and report.records_replayed == 2,
        "recovery used the last valid snapshot (LSN 1) and replayed records 2 and 3 from the WAL",
    )
    s.claim(queue == [b"job-1", b"job-2"], f"queue holds each item once: {queue}")
    s.claim(judged.verdict.outcome == "ok", "verdict ok")
    s.claim(
        tally.all_ok, f"every one of the {len(tally.rows)} disks this power loss may leave recovers to an allowed state"
    )
    s.fact("verdict", judged.verdict.outcome)
    s.fact("queue", queue)


def snapshot_rename_after(s: Story) -> None:
    _snapshot_intro(s)
    s.section("The run")
    run = s.run(SNAPSHOT_OPS, CrashAt("snapshot.rename", "after", op=5), where(lambda f: SNAP_3 in f and WAL_2 in f))
    crash = run.power_loss
    s.say(
        f"The power fails just after the second snapshot's rename (step {crash.step.number}), before the "
        f"directory fsync that makes it durable. Until that fsync the rename may or may not survive; we "
        f"follow a disk where it did. The cut has not happened, so "
        f"record 2 (the witness) is on disk twice over: inside `{short_name(SNAP_3)}`, and as a record in "
        f"`{short_name(WAL_2)}`."
    )
    files = s.disk(crash.image, "On disk after the power loss")
    s.section("Recovery")
    recovery = s.recover(crash.image, crash.clock, reads=(QUEUE_READ,))
    report = recovery.report
    s.say(
        f"Recovery loads the newest valid snapshot (LSN {report.snapshot_lsn}) and replays only records "
        f"with a higher LSN. `{short_name(WAL_2)}` holds nothing above it, so it is deleted unread, with the "
        f"older snapshot: recovery finishes the cut the power loss interrupted."
    )
    judged = s.judge(crash, recovery)
    tally = s.tally(crash)
    queue = recovery.reads.get(repr(QUEUE_READ))
    s.section("What if recovery replayed the covered records?")
    s.say(
        "The same disk, recovered by the mutant `replay-covered-records`, which replays every segment "
        "still on disk as if no snapshot covered it:"
    )
    with mutants.active("replay-covered-records"):
        s.panel("what if: mutant replay-covered-records", under="recovery")
        doubled = s.recover(crash.image, crash.clock, title="recovery by the mutant", reads=(QUEUE_READ,))
        doubled_judged = s.judge(crash, doubled)
    doubled_queue = doubled.reads.get(repr(QUEUE_READ))
    witness = [(lsn, args[1]) for lsn, op, args in records_of(files.get(WAL_2, b"\n")) if op == "rpush"]
    items = list(doubled_queue or [])
    for item in [item for item in dict.fromkeys(items) if items.count(item) > 1]:
        s.note(doubled, f"{value_text(item)} is in queue {items.count(item)} times")
        s.note(doubled, f"LSN {witness[0][0] if witness else '?'} replayed over snapshot LSN {report.snapshot_lsn}")
    s.claim(
        SNAP_3 in files and witness == [(2, False)],
        "the new snapshot and the segment holding the appending rpush (LSN 2) were both on disk",
    )
    s.claim(
        report.snapshot_lsn == 3 and report.records_replayed == 0,
        "recovery loaded the snapshot at LSN 3 and replayed no record",
    )
    s.claim(any(path.endswith(WAL_2) for path in report.removed), "recovery deleted the covered segment")
    s.claim(queue == [b"job-1", b"job-2"], f"queue holds each item once: {queue}")
    s.claim(judged.verdict.outcome == "ok", "verdict ok")
    s.claim(
        tally.all_ok, f"every one of the {len(tally.rows)} disks this power loss may leave recovers to an allowed state"
    )
    s.claim(
        doubled_queue == [b"job-1", b"job-2", b"job-2"] and doubled_judged.verdict.outcome != "ok",
        f"the mutant appends job-2 twice ({doubled_queue}); the checker says {doubled_judged.verdict.outcome}",
    )
    s.fact("verdict", judged.verdict.outcome)
    s.fact("queue", queue)
    s.fact("mutant_verdict", doubled_judged.verdict.outcome)


# --- 7 ---------------------------------------------------------------------------------------------

MUTANT = "snapshot-rename-no-dir-fsync"


def mutant_no_dir_fsync(s: Story) -> None:
    s.say(
        f"The workload of the two snapshot-rename walkthroughs again, twice: first on the mutant "
        f"`{MUTANT}`, which renames the snapshot into place and skips the directory fsync after it, then "
        f"on the real engine. Both lose power at the same point of the second snapshot: just after its "
        f"WAL cut deleted `{short_name(WAL_2)}`, before the directory fsync that follows."
    )
    crash_at = CrashAt("wal.unlink", "after", op=5)
    s.section(f"On the mutant {MUTANT}")
    with mutants.active(MUTANT):
        s.panel(f"mutant {MUTANT}")
        bad = s.run(
            SNAPSHOT_OPS,
            crash_at,
            where(lambda f: WAL_2 not in f and SNAP_3 not in f and SNAP_1 in f),
            title="the workload, on the mutant",
        )
        pending = ", ".join(f"`{short_name(change)}`" for change in bad.power_loss.pending_names)
        s.say(
            f"{len(bad.power_loss.pending_names)} name changes are pending at the crash, none made durable: "
            f"{pending}. POSIX promises no order between them until the directory is fsynced, so a power "
            f"loss may keep the deletion of `{short_name(WAL_2)}` and lose the rename. We follow such a disk."
        )
        s.disk(bad.power_loss.image, "On disk after the power loss")
        s.section("Recovery on the mutant")
        bad_recovery = s.recover(bad.power_loss.image, bad.power_loss.clock, title="recovery (mutant)")
        bad_judged = s.judge(bad.power_loss, bad_recovery)
        bad_tally = s.tally(bad.power_loss)
    failing = sum(count for outcome, count in bad_tally.outcomes().items() if outcome != "ok")
    s.say(
        f"Records 2 and 3 went with `{short_name(WAL_2)}`, and the snapshot that held them never got its name. "
        f"The old snapshot (LSN 1) and the new segment (`{short_name(WAL_4)}`) leave a hole in the log, so "
        f"recovery refuses rather than open without acknowledged writes. {failing} of the "
        f"{len(bad_tally.rows)} possible disks fail."
    )
    s.section("On the real engine")
    s.panel("the real engine")
    good = s.run(
        SNAPSHOT_OPS, crash_at, where(lambda f: WAL_2 not in f and SNAP_1 in f), title="the workload, real engine"
    )
    rename = next(i for i, step in enumerate(good.steps) if step.label == "snapshot.rename" and step.op_index == 5)
    pending = ", ".join(f"`{short_name(change)}`" for change in good.power_loss.pending_names)
    s.say(
        f"Here step {good.steps[rename + 1].number} (`{good.steps[rename + 1].label}`) made the rename durable "
        f"before anything was deleted. At the crash only the cut is pending: {pending}. We follow the same "
        f"kind of disk as on the mutant: the deletion of `{short_name(WAL_2)}` persisted, the old "
        f"snapshot's did not."
    )
    s.disk(good.power_loss.image, "On disk after the power loss")
    s.section("Recovery on the real engine")
    good_recovery = s.recover(
        good.power_loss.image, good.power_loss.clock, title="recovery (real engine)", reads=(QUEUE_READ,)
    )
    good_judged = s.judge(good.power_loss, good_recovery)
    good_tally = s.tally(good.power_loss)
    bad_rename = next(i for i, step in enumerate(bad.steps) if step.label == "snapshot.rename" and step.op_index == 5)
    s.claim(
        bad.steps[bad_rename + 1].op != "fsync_dir",
        "on the mutant, the WAL cut follows the rename with no directory fsync between",
    )
    s.claim(good.steps[rename + 1].op == "fsync_dir", "on the real engine, a directory fsync follows the rename")
    s.claim(
        bad_recovery.result.error is not None and "CorruptDataError" in bad_recovery.result.error,
        "the mutant's recovery refuses to open (CorruptDataError)",
    )
    s.claim(
        bad_judged.verdict.outcome != "ok" and failing > 0,
        f"the checker says {bad_judged.verdict.outcome}; {failing} of {len(bad_tally.rows)} states fail",
    )
    s.claim(
        good_judged.verdict.outcome == "ok" and good_recovery.report.snapshot_lsn == 3,
        "the real engine recovers from the new snapshot (LSN 3): verdict ok",
    )
    s.claim(good_tally.all_ok, f"all {len(good_tally.rows)} states of the real engine recover to an allowed state")
    s.fact("mutant_verdict", bad_judged.verdict.outcome)
    s.fact("failing_states", failing)
    s.fact("verdict", good_judged.verdict.outcome)
