"""Walkthroughs of the write-ahead log: a torn record, truncation and a crash during recovery,
a TTL across a crash, and page cache versus durable bytes.

Each function tells one story on a `Story` (story.py): it runs things
(every number comes from there), writes the prose around the facts, and claims what the story
depends on. The registry, with what each one teaches, is in scenarios.py.
"""

from __future__ import annotations

from tornwrite.engine.format import wal_name
from tornwrite.faultinject.core.execution import DATA_DIR
from tornwrite.faultinject.walkthrough.record import (
    CrashAt,
    RecoveryView,
    described,
    records_of,
    short_name,
    torn_in_the_middle,
)
from tornwrite.faultinject.walkthrough.render import since_start
from tornwrite.faultinject.walkthrough.story import START_TIME, Story
from tornwrite.faultinject.zoo import mutants
from tornwrite.models.format_reader import read_files
from tornwrite.models.ops import Op

WAL_1, WAL_3 = wal_name(1), wal_name(3)
QUEUE_READ = Op.of("lrange", "queue", 0, -1)
GREETING_READ = Op.of("get", "greeting")


# --- 1 ---------------------------------------------------------------------------------------------


def wal_torn_write(s: Story) -> None:
    ops = [
        Op.of("set", "greeting", b"hello"),
        Op.of("rpush", "queue", b"job-1", b"job-2"),
        Op.of("set", "greeting", b"hello, world"),
    ]
    s.say(
        "Three writes. Each becomes one WAL record: the store appends it (`wal.append`), fsyncs it "
        "(`wal.fsync`), and only then applies it in memory and returns. An op is acknowledged only "
        "once its record is durable."
    )
    s.section("The run")
    run = s.run(ops, CrashAt("wal.append", "after", op=3), torn_in_the_middle)
    crash = run.power_loss
    s.say(
        f"The power fails just after step {crash.step.number}: op 3's record ({crash.step.nbytes} B) is "
        f"in the page cache, not yet fsynced, and op 3 has not returned. Of the {len(crash.states)} "
        f"disks this power loss may leave, we follow one where the disk wrote part of the record: "
        f"*{crash.state.description}*."
    )
    files = s.disk(crash.image, "On disk after the power loss")
    durable = next(f.synced for f in crash.files if f.name == WAL_1)
    torn = len(files[WAL_1]) - durable
    s.say(
        f"`{short_name(WAL_1)}` holds the {durable} B that were fsynced (the header and records 1 and 2) "
        f"and {torn} B of record 3 with no newline at the end: the signature of a torn write."
    )
    s.section("Recovery")
    recovery = s.recover(crash.image, crash.clock, reads=(GREETING_READ, QUEUE_READ))
    report = recovery.report
    cut = report.discarded[0] if report.discarded else None
    s.say(
        f"Recovery reads the segment record by record and stops at the first line that is torn, fails "
        f"its checksum or breaks the LSN sequence. Here that is offset {cut.offset if cut else '?'}: a "
        f"prefix of the last record, what a crash leaves, not damage. It copies the torn bytes into "
        f"quarantine/ (recovery never destroys a byte it removes), then "
        f"truncates the segment there and fsyncs the cut before taking any new write: were the torn "
        f"bytes left in place, the next record would land after garbage, and the recovery after that "
        f"would stop at the garbage and throw that acknowledged record away with it."
    )
    judged = s.judge(crash, recovery)
    s.say(
        "The checker allows exactly two states: the model after op 2 (every acknowledged op) and, since "
        "op 3 was in flight, after op 3. A torn record can only ever give the first."
    )
    tally = s.tally(crash)
    s.claim(
        cut is not None and cut.nbytes == torn > 0 and cut.records == 0 and not cut.damage,
        f"recovery discarded the {torn} torn bytes as a crash's residue, and no whole record",
    )
    after = {f.name: f for f in recovery.track.steps[-1].files} if recovery.track.steps else {}
    s.claim(
        report.records_replayed == 2 and recovery.reads.get(repr(GREETING_READ)) == b"hello",
        "both acknowledged records were replayed; op 3's value never appears",
    )
    labels = [step.label for step in recovery.track.steps]
    cuts = [i for i, label in enumerate(labels) if label == "wal.truncate"]
    s.claim(
        len(cuts) == 1
        and labels[cuts[0] + 1] == "wal.fsync"
        and "quarantine.rename" in labels[: cuts[0]]
        and WAL_1 in after
        and after[WAL_1].cached == after[WAL_1].synced == durable,
        f"the torn bytes were quarantined, then the truncation back to {durable} B fsynced before the store opened",
    )
    s.claim(judged.verdict.outcome == "ok" and judged.verdict.matched_prefix == 2, "verdict ok: the state after op 2")
    s.claim(
        tally.all_ok, f"every one of the {len(tally.rows)} disks this power loss may leave recovers to an allowed state"
    )
    s.fact("torn_bytes_discarded", cut.nbytes if cut else 0)
    s.fact("verdict", judged.verdict.outcome)
    s.fact("states", len(tally.rows))


# --- 4 ---------------------------------------------------------------------------------------------


def wal_truncation(s: Story) -> None:
    ops = [
        Op.of("set", "greeting", b"hello"),
        Op.of("rpush", "queue", b"job-1"),
        Op.of("snapshot"),
        Op.of("set", "greeting", b"hello again"),
        Op.of("rpush", "queue", b"job-2"),
    ]
    s.say(
        "A snapshot cuts the WAL; later a power loss tears the newest record; the recovery that "
        "repairs the tear is itself cut short by a second power loss; and a third start has to "
        "finish the job. Recovery must be idempotent: however often it is interrupted, it must end "
        "in the same place."
    )
    s.section("The run")
    run = s.run(ops, CrashAt("wal.append", "after", op=5), torn_in_the_middle)
    crash = run.power_loss
    unlinks = [step for step in run.steps if step.label == "wal.unlink"]
    s.say(
        f"The snapshot at op 3 cut the WAL: step {unlinks[0].number if unlinks else '?'} deleted "
        f"`{short_name(WAL_1)}`, whose records the snapshot now holds, and the directory fsync after it "
        f"made the deletion durable. Ops 4 and 5 went to `{short_name(WAL_3)}`. The power fails after op "
        f"5's record was written and before its fsync; we follow the disk where it was torn "
        f"(*{crash.state.description}*)."
    )
    files = s.disk(crash.image, "On disk after the first power loss")
    s.section("Recovery #1, interrupted")
    first = s.recover(
        crash.image,
        crash.clock,
        title="recovery #1",
        crash=CrashAt("wal.truncate", "after"),
        pick=described("unsynced data lost"),
    )
    second_crash = first.track.power_loss
    s.say(
        f"Recovery #1 decides to cut `{short_name(WAL_3)}` back to its last good record and truncates it "
        f"(its step {second_crash.step.number}), but the power fails again before the truncation is "
        f"fsynced. In the state we follow (*{second_crash.state.description}*) the cut never reached the "
        f"disk: the torn bytes are back, exactly as before."
    )
    files_again = s.disk(second_crash.image, "On disk after the second power loss")
    s.section("Recovery #2")
    second = s.recover(second_crash.image, crash.clock, title="recovery #2", reads=(GREETING_READ, QUEUE_READ))
    report = second.report
    cut = report.discarded[0] if report.discarded else None
    s.say(
        "Recovery #2 knows nothing of recovery #1. It scans the same files, reaches the same decision, "
        "and this time the truncation and its fsync both complete."
    )
    judged = s.judge(crash, second)
    tally = s.tally_recovery_crashes(
        crash, "recovery #1 crashed at each of its steps, in every state, then recovered again"
    )
    final = {f.name: f for f in second.track.steps[-1].files} if second.track.steps else {}
    s.claim(
        WAL_1 not in files and bool(unlinks) and unlinks[0].path == WAL_1,
        f"the snapshot's WAL cut deleted {short_name(WAL_1)} before the crash",
    )
    s.claim(files_again == files, "after the second power loss the disk held exactly what the first left")
    s.claim(
        cut is not None and cut.nbytes > 0 and cut.offset == second_crash.step.nbytes,
        "recovery #2 discarded the torn bytes at the offset recovery #1 had chosen",
    )
    s.claim(
        report.snapshot_lsn == 2 and report.records_replayed == 1,
        "recovery #2 loaded the snapshot (LSN 2) and replayed the one whole record after it (LSN 3)",
    )
    s.claim(
        cut is not None and WAL_3 in final and final[WAL_3].cached == final[WAL_3].synced == cut.offset,
        f"{short_name(WAL_3)} ends durably at offset {cut.offset if cut else '?'}",
    )
    s.claim(judged.verdict.outcome == "ok" and judged.verdict.matched_prefix == 4, "verdict ok: the state after op 4")
    s.claim(tally.all_ok, f"all {len(tally.rows)} interrupted recoveries end in an allowed state")
    s.fact("torn_bytes_discarded", cut.nbytes if cut else 0)
    s.fact("verdict", judged.verdict.outcome)
    s.fact("compound_states", len(tally.rows))


# --- 5 ---------------------------------------------------------------------------------------------

TTL, TICK = 30, 5
DOWN_SHORT, DOWN_LONG = 15, 40  # seconds the store stays down before each restart


def ttl_across_crash(s: Story) -> None:
    ops = [Op.of("set", "session:ada", b"logged-in", ttl=TTL), Op.of("tick", TICK), Op.of("set", "greeting", b"hello")]
    s.say(
        f"A session key with a {TTL}-second TTL, five seconds of (fake) time, another write, then a power "
        f"loss. The clock is a fake one the walkthrough moves by hand, so the story is the same on every "
        f"run. The store turns the relative `ttl={TTL}` into an absolute `expire_at` before it writes the "
        f"record: replay must never read a clock."
    )
    s.section("The run")
    run = s.run(ops, CrashAt("wal.fsync", "after", op=3), described("nothing pending"))
    crash = run.power_loss
    s.say(
        f"The power fails just after step {crash.step.number}, the fsync of op 3's record, an instant "
        f"before op 3 returns: its record is durable but op 3 was never acknowledged, so the checker "
        f"accepts the store with or without it."
    )
    files = s.disk(crash.image, "On disk after the power loss")
    expire_at = next(
        (args[2] for lsn, op, args in records_of(files.get(WAL_1, b"\n")) if op == "set" and args[0] == "session:ada"),
        None,
    )
    if expire_at is not None:
        s.note(run, f"WAL: session:ada expire_at {since_start(expire_at)}")
    s.say(
        f"Nothing was left unsynced, so this power loss can leave only one disk. Record 1 says "
        f'`expire_at` {expire_at!r}: start time {START_TIME!r} plus {TTL}, not "{TTL} seconds from now". '
        f"Had the log kept the relative TTL, every restart would give the session a fresh {TTL} seconds "
        f"and a key meant to expire would live forever."
    )
    get, ttl = Op.of("get", "session:ada"), Op.of("ttl", "session:ada")
    s.section(f"Restart after {DOWN_SHORT} s down")
    early = s.recover(crash.image, crash.clock + DOWN_SHORT, reads=(get, ttl), title=f"restart, {DOWN_SHORT} s down")
    _note_visibility(s, early, get, ttl)
    s.say(
        f"The clock reads {early.check_time!r}. The key is alive with {early.reads.get(repr(ttl))!r} seconds "
        f"left: its deadline did not move while the store was down."
    )
    early_judged = s.judge(crash, early)
    s.section(f"Restart after {DOWN_LONG} s down")
    late = s.recover(crash.image, crash.clock + DOWN_LONG, reads=(get, ttl), title=f"restart, {DOWN_LONG} s down")
    on_disk = read_files(files).entries.get("session:ada")
    if on_disk is not None and on_disk[2] is not None and "session:ada" not in (late.result.state or {}):
        s.note(late, "session:ada replayed, yet")
        s.note(late, f"  expire_at {since_start(on_disk[2])}: expired")
    _note_visibility(s, late, get, ttl)
    s.say(
        f"The clock reads {late.check_time!r}, past the deadline. Recovery replays both records, so the "
        f"key is in memory again (the format reader's replay has it too: {on_disk!r}), but it is "
        f"logically absent: every read path checks `expire_at` against the clock. The checker compares "
        f"states as they look at the check time, where expired keys are absent."
    )
    late_judged = s.judge(crash, late)
    report = late.report
    s.claim(expire_at == START_TIME + TTL, f"the WAL holds the absolute expire_at {START_TIME + TTL!r}")
    left = TTL - TICK - DOWN_SHORT
    s.claim(
        early.reads.get(repr(ttl)) == left and early.reads.get(repr(get)) == b"logged-in",
        f"after {DOWN_SHORT} s down the key is visible with {left} s left",
    )
    s.claim(
        late.reads.get(repr(get)) is None and late.reads.get(repr(ttl)) == -2,
        f"after {DOWN_LONG} s down get() returns None and ttl() returns -2",
    )
    s.claim(
        report is not None and report.records_replayed == 2 and on_disk is not None,
        "the expired key's record was still replayed: physically present, logically absent",
    )
    s.claim(early_judged.verdict.outcome == late_judged.verdict.outcome == "ok", "verdict ok at both check times")
    s.fact("expire_at", expire_at)
    s.fact("verdict", late_judged.verdict.outcome)


def _note_visibility(s: Story, recovery: RecoveryView, get: Op, ttl: Op) -> None:
    """The figure's line for the session key at this restart's clock: visible or not, as the reads said."""
    value, left = recovery.reads.get(repr(get)), recovery.reads.get(repr(ttl))
    if value is not None:
        s.note(recovery, f"session:ada visible: ttl → {left:g} s")
    else:
        s.note(recovery, "session:ada NOT visible:")
        s.note(recovery, f"  get → None, ttl → {left}")


# --- 6 ---------------------------------------------------------------------------------------------


def power_loss_unsynced(s: Story) -> None:
    ops = [
        Op.of("set", "greeting", b"hello"),
        Op.of("hset", "user:ada", {"name": b"Ada", "lang": b"en"}),
        Op.of("set", "greeting", b"hello, world"),
    ]
    s.say(
        "Every file has two versions: the bytes the process sees (the page cache) and the bytes that are "
        "durable (as of the file's last fsync). A write changes the first; only fsync moves the second. "
        "The same goes for a directory's names and a directory fsync. A power loss keeps the durable "
        "version and any part of the rest."
    )
    s.section("The run")
    run = s.run(ops, CrashAt("wal.append", "after", op=3), described("unsynced data lost"))
    crash = run.power_loss
    wal = next(f for f in crash.files if f.name == WAL_1)
    killed = crash.process_image.get(DATA_DIR, {}).get(WAL_1, b"")
    s.say(
        f"At the crash the process sees {wal.cached} B of `{short_name(WAL_1)}`; {wal.synced} B are durable. "
        f"The other {wal.cached - wal.synced} B are op 3's record, written and not yet fsynced. A process "
        f"crash (SIGKILL) here would keep all {len(killed)} B: the page cache belongs to the kernel, not "
        f"the process. A power loss may keep any of the {len(crash.states)} disks below."
    )
    tally = s.tally(crash)
    starts = all(state.image[DATA_DIR].get(WAL_1, b"")[: wal.synced] == killed[: wal.synced] for state in crash.states)
    survived = sorted(
        {row.matched_prefix for row in tally.rows if row.outcome == "ok" and row.matched_prefix is not None}
    )
    s.say(
        f"In every one of them the first {wal.synced} B are intact, because they were fsynced before ops 1 "
        f"and 2 returned. That is why an acknowledged write survives: the acknowledgement waits for the "
        f"fsync. Op 3 was never acknowledged, so the checker accepts it either way; it survives only where "
        f"the whole record reached the disk."
    )
    s.section("Recovery, in the state where the unsynced record is lost")
    s.disk(crash.image, "On disk")
    recovery = s.recover(crash.image, crash.clock)
    judged = s.judge(crash, recovery)
    s.section("What if the engine acknowledged before the fsync?")
    s.say(
        "The same ops on the mutant `wal-append-no-fsync`, whose WAL append skips the fsync, crashed at "
        "the same step, in the state where the unsynced data is lost:"
    )
    with mutants.active("wal-append-no-fsync"):
        s.panel("what if: mutant wal-append-no-fsync")
        bad = s.run(
            ops,
            CrashAt("wal.append", "after", op=3),
            described("unsynced data lost"),
            title="the workload, on the mutant",
        )
        bad_wal = next(f for f in bad.power_loss.files if f.name == WAL_1)
        s.disk(bad.power_loss.image, "On disk after the power loss")
        bad_recovery = s.recover(bad.power_loss.image, bad.power_loss.clock, title="recovery (mutant)")
        bad_judged = s.judge(bad.power_loss, bad_recovery)
    s.say(
        f"Ops 1 and 2 returned, but their records were never fsynced: only {bad_wal.synced} B (the header) "
        f"were durable, and the power loss took the rest."
    )
    s.claim(wal.synced < wal.cached, f"at the crash {wal.cached - wal.synced} B were only in the page cache")
    s.claim(len(killed) == wal.cached, "a process crash would keep every byte the process wrote")
    s.claim(starts, f"every power-loss state keeps the {wal.synced} durable bytes")
    s.claim(
        tally.all_ok and survived == [2, 3],
        f"all {len(tally.rows)} states recover to the state after op 2 or op 3; none loses an acknowledged op",
    )
    s.claim(judged.verdict.outcome == "ok", "verdict ok for the state we follow")
    s.claim(
        bad_judged.verdict.outcome == "lost-acked-write", f"on the mutant the checker says {bad_judged.verdict.outcome}"
    )
    s.fact("states", len(tally.rows))
    s.fact("verdict", judged.verdict.outcome)
    s.fact("mutant_verdict", bad_judged.verdict.outcome)
