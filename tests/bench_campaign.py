"""How fast the campaign judges: crash states per CPU-second of one worker, per fault kind.

Runs a workload's crash points the way a campaign worker does (campaign.plan_tasks, then each
batch through the worker's own task function), in this one process. CPU time counts the
children a kind forks (the process kind's killed runs), so it is what the machine pays for a
state whatever else runs on it; wall time is printed too, with the load average, since these
machines are shared and noisy. Never asserted anywhere.

    python -m tests.bench_campaign [--workload NAME] [--kinds power,process] [--seed N]
"""

from __future__ import annotations

import argparse
import os
import shutil
import tempfile
import time

from tests.bench_recovery import machine
from tornwrite.faultinject import campaign
from tornwrite.faultinject.core import workloads
from tornwrite.faultinject.kinds import NAMES
from tornwrite.faultinject.plan import Plan


def cpu_seconds() -> float:
    """User and system time of this process and of its children that have been waited for."""
    times = os.times()
    return times.user + times.system + times.children_user + times.children_system


def measure(workload: str, kind: str, seed: int) -> tuple[int, int, float, float]:
    """(crash points, states, CPU seconds, wall seconds) for every crash point of one kind."""
    plan = Plan((workload,), seed=seed, kinds=(kind,))
    batches, _ = campaign.plan_tasks(plan)
    shm = "/dev/shm" if os.access("/dev/shm", os.W_OK) else None
    scratch = tempfile.mkdtemp(prefix="bench-campaign-", dir=shm)
    try:
        campaign._init_worker(plan, scratch)
        points = states = 0
        cpu, wall = cpu_seconds(), time.perf_counter()
        for batch in batches:
            _, done, _, found = campaign._run_task(batch)
            points, states = points + done, states + len(found)
        return points, states, cpu_seconds() - cpu, time.perf_counter() - wall
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workload", default="basic", choices=sorted(workloads.MIXES))
    parser.add_argument("--kinds", default="power,process", help="comma-separated fault kinds (default power,process)")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    kinds = args.kinds.split(",")
    unknown = [kind for kind in kinds if kind not in NAMES]
    if unknown:
        parser.error(f"unknown fault kind {', '.join(unknown)}; known: {', '.join(NAMES)}")
    print(f"machine: {machine()}; load average {os.getloadavg()[0]:.1f} at the start")
    print(f"workload {args.workload}, seed {args.seed}, every crash point, one worker")
    print(f"{'kind':<12}{'points':>8}{'states':>10}{'CPU s':>9}{'wall s':>9}{'states/CPU-s':>14}")
    for kind in kinds:
        points, states, cpu, wall = measure(args.workload, kind, args.seed)
        print(f"{kind:<12}{points:>8,}{states:>10,}{cpu:>9.2f}{wall:>9.2f}{states / cpu if cpu else 0:>14,.0f}")
    print(f"load average {os.getloadavg()[0]:.1f} at the end")


if __name__ == "__main__":
    main()
