"""`python -m tornwrite.faultinject repro ...`: rerun one crash state, saying everything.

Prints the trace up to the crash, what the disk holds at that moment, what recovery did, and
the checker's verdict. Exit status 0 if the state is ok, 1 if not.
"""

from __future__ import annotations

import errno
import os
import shutil
import tempfile

from tornwrite.engine import IOEvent, IOLayer
from tornwrite.faultinject.core import workloads
from tornwrite.faultinject.core.execution import DATA_DIR, Progress, clock_after, relative, run, trace
from tornwrite.faultinject.core.observe import newest_visible
from tornwrite.faultinject.core.restart import check_restart
from tornwrite.faultinject.core.results import RESTART, CrashPoint
from tornwrite.faultinject.core.simdisk import SimDisk
from tornwrite.faultinject.core.verdicts import Recovered, judge, recover_directory, recover_image
from tornwrite.faultinject.kinds import damage, ioerror, power, process
from tornwrite.faultinject.zoo import mutants
from tornwrite.models.checker import Oracle

_TAIL_LINES = 3


def file_lines(files: dict[str, bytes]) -> list[str]:
    """The files of a data directory, with sizes and the readable tail of each WAL segment."""
    lines = []
    for name in sorted(files):
        content = files[name]
        lines.append(f"  {name}  {len(content)} bytes")
        if name.startswith("wal-"):
            for tail in content.split(b"\n")[-_TAIL_LINES - 1 :]:
                if tail:
                    text = tail.decode("utf-8", "replace")
                    lines.append(f"      | {text[:100]}{'...' if len(text) > 100 else ''}")
    return lines or ["  (empty)"]


def recovery_lines(recovered: Recovered) -> list[str]:
    if recovered.error:
        return [f"  recovery REFUSED: {recovered.error}"]
    report = recovered.report
    lines = [
        f"  snapshot: {relative(report.snapshot) if report.snapshot else 'none'} (LSN {report.snapshot_lsn}); "
        f"replayed {report.records_replayed} records; last LSN {report.last_lsn}"
    ]
    lines += [
        f"  discarded {relative(d.path)} from offset {d.offset}: {d.nbytes} bytes, {d.records} whole "
        f"records ({d.reason})"
        for d in report.discarded
    ]
    lines += [f"  removed {relative(path)}" for path in report.removed]
    lines.append(
        f"  format reader: {'refuses: ' + recovered.reader_refused if recovered.reader_refused else 'agrees' if recovered.reader_state == recovered.state else 'DISAGREES'}"
    )
    return lines


def repro(
    kind: str,
    workload_name: str,
    seed: int,
    ops: int | None,
    step: int,
    phase: str,
    state: int,
    recovery_step: int | None = None,
    recovery_phase: str | None = None,
    recovery_state: int = 0,
    mutant: str | None = None,
    out=print,
) -> int:
    with mutants.active(mutant) as active:
        workload = workloads.build(workload_name, seed, ops)
        oracle = Oracle(list(workload.ops), workload.start_time)
        steps = trace(workload)
        out(
            f"workload {workload.name} (seed {seed}, {len(workload.ops)} ops)"
            + (f" on mutant {active.name}: {active.bug}" if active else " on the real engine")
        )
        if kind == "damage":
            return _repro_damage(workload, oracle, step, out)
        out("trace up to the fault:")
        for s in steps[:step]:
            op = workload.ops[s.op_index - 1] if s.op_index else "Store.open"
            out(f"  step {s.number:>4} {s.label:<16} {relative(s.path):<36} {s.nbytes:>7} B   in {op!r:.60}")
        out(f"I/O ERROR at step {step}" if kind == "ioerror" else f"CRASH ({kind}) {phase} step {step}")
        if kind == "ioerror":
            return _repro_ioerror(workload, oracle, steps[step - 1], state, out)
        if kind == "power":
            return _repro_power(
                workload, oracle, step, phase, state, recovery_step, recovery_phase, recovery_state, out
            )
        return _repro_process(
            workload, oracle, {s.number: s for s in steps}, step, phase, recovery_step, recovery_phase, out
        )


def _repro_power(workload, oracle, step, phase, state, recovery_step, recovery_phase, recovery_state, out) -> int:
    disk = SimDisk()
    found: dict = {}
    opened: list = []

    def on_step(event: IOEvent, number: int, progress: Progress) -> None:
        if (number, event.phase) == (step, phase):
            observed = newest_visible(opened[0], workload.keys) if opened else 0
            if state == RESTART:
                point = CrashPoint(
                    "power",
                    workload.name,
                    workload.seed,
                    len(workload.ops),
                    step,
                    phase,
                    event.label,
                    event.path,
                    progress.current,
                )
                check_restart(
                    disk,
                    workload,
                    oracle,
                    progress,
                    point,
                    observed,
                    power.state_rng(workload.seed, step, phase, "restart"),
                    found.setdefault("restart", []).append,
                )
                raise _Stop
            states = list(disk.power_loss_states(power.state_rng(workload.seed, step, phase)))
            found.update(
                progress=(progress.acked, progress.in_flight and progress.current > 0, progress.clock.now, observed),
                state=states[state],
            )
            raise _Stop

    try:
        run(workload, IOLayer(disk), DATA_DIR, on_step, on_open=opened.append)
    except _Stop:
        pass
    if state == RESTART:
        out("a process crash here, a restart on the same disk (unsynced data intact), then power losses:")
        for result in found["restart"]:
            where = result.second.description if result.second else "the restarted store's recovery"
            out(
                f"  {result.outcome:<20} {where}"
                + (f"\n      {result.detail.splitlines()[0]}" if result.detail else "")
            )
        return 0 if all(r.ok for r in found["restart"]) else 1
    acked, in_flight, check_time, observed = found["progress"]
    crash = found["state"]
    out(f"crash state #{state}: {crash.description}")
    out(
        f"acked ops: {acked}"
        + (f" (op {acked + 1} in flight: {workload.ops[acked]!r:.80})" if in_flight else "")
        + f"; newest op a reader saw before the crash: {observed}"
    )
    out("on disk after the power loss:")
    out("\n".join(file_lines(crash.image.get(DATA_DIR, {}))))
    recovered = recover_image(crash.image, check_time)
    if recovery_step is not None:
        out("recovery (the first, which is itself crashed):")
        out("\n".join(recovery_lines(recovered)))
        rng = power.state_rng(workload.seed, step, phase, state, "recovery")
        for second, again in power.crash_recovery(crash.image, check_time, rng):
            if (second.step, second.phase, second.state) == (recovery_step, recovery_phase, recovery_state):
                out(f"CRASH during recovery, {second.phase} its step {second.step}: {second.description}")
                recovered = again
                break
        else:
            out("recovery has no such step and state")
            return 2
    out("recovery:")
    out("\n".join(recovery_lines(recovered)))
    return _verdict(oracle, recovered, acked, in_flight, check_time, observed, out)


def _repro_process(workload, oracle, steps, step, phase, recovery_step, recovery_phase, out) -> int:
    base = tempfile.mkdtemp(prefix="redislite-repro-")
    try:
        directory = os.path.join(base, "data")
        report = process.kill_at(lambda child: process._run_workload(workload, directory, child), step, phase)
        in_flight = steps[step].op_index > 0
        check_time = clock_after(workload, report.acked)
        out(
            f"child {'killed' if report.killed else 'NOT killed: ' + report.error}; acked {report.acked}, "
            f"newest op observed by a reader {report.observed}"
        )
        out("on disk after the kill:")
        out(
            "\n".join(
                file_lines(
                    {n: open(os.path.join(directory, n), "rb").read() for n in os.listdir(directory) if n != "LOCK"}
                )
            )
        )
        if recovery_step is not None:
            again = process.kill_at(
                lambda child: process._open_only(directory, check_time, child), recovery_step, recovery_phase
            )
            out(
                f"CRASH during recovery, {recovery_phase} its step {recovery_step}: "
                f"{'killed' if again.killed else again.error}"
            )
        recovered = recover_directory(directory, check_time)
        out("recovery:")
        out("\n".join(recovery_lines(recovered)))
        return _verdict(oracle, recovered, report.acked, in_flight, check_time, report.observed, out)
    finally:
        shutil.rmtree(base, ignore_errors=True)


def _repro_ioerror(workload, oracle, step, variant, out) -> int:
    code, halfway = ioerror.variants(step.op)[variant]
    out(
        f"the step fails with {errno.errorcode[code]}"
        + (" after writing half its bytes" if halfway else " instead of happening")
    )
    progress, image, verdict = ioerror.run_with_error(workload, oracle, step, code, halfway)
    for index, (op, result) in enumerate(zip(workload.ops, progress.results), start=1):
        if index >= step.op_index and (isinstance(result, Exception) or index == step.op_index):
            out(
                f"  op {index:>3} {op!r:.70} -> {type(result).__name__ + ': ' + str(result) if isinstance(result, Exception) else repr(result)}"[
                    :160
                ]
            )
    out("on disk afterwards (the program's view):")
    out("\n".join(file_lines(image.get(DATA_DIR, {}))))
    out(f"verdict: {verdict.outcome}")
    if verdict.detail:
        out(verdict.detail)
    return 0 if verdict.outcome == "ok" else 1


def _repro_damage(workload, oracle, case, out) -> int:
    image, progress = damage.final_image(workload)
    description, name, damaged = damage.damage(image, case, workload.seed)
    out(f"the whole workload ran; then damage case {case}: {name}: {description}")
    out("on disk:")
    out("\n".join(file_lines(damaged.get(DATA_DIR, {}))))
    recovered = recover_image(damaged, progress.clock.now)
    out("recovery:")
    out("\n".join(recovery_lines(recovered)))
    verdict = damage.judge_damaged(oracle, damaged, progress.clock.now, len(workload.ops))
    out(
        f"verdict: {verdict.outcome}"
        + (f" (the model's state after op {verdict.matched_prefix})" if verdict.matched_prefix is not None else "")
    )
    if verdict.detail:
        out(verdict.detail)
    return 0 if verdict.outcome == "ok" else 1


def _verdict(oracle, recovered, acked, in_flight, check_time, observed, out) -> int:
    verdict = judge(oracle, recovered, acked=acked, in_flight=in_flight, check_time=check_time, observed=observed)
    out(f"verdict: {verdict.outcome}")
    if verdict.detail:
        out(verdict.detail)
    return 0 if verdict.outcome == "ok" else 1


class _Stop(BaseException):
    """Ends the run at the crash point (what a power loss does to a process)."""
