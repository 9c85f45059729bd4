"""A program's run in shards: `program TARGET --shard i/n` judges every n-th crash point (counted
over the trace, before and after each step), and `merge DIR... --out OUT` joins the shards'
results.json into the report, JUnit and exit status of the unsharded run.

The shards must be one run's: the same target, kinds, seed and trace, shards 1/n .. n/n each
once. Each crash point's states are judged in exactly one shard, in the order an unsharded run
judges them, so ordering the joined states by kind and point gives that run's order. A merged
run names its target but does not load it; `--explain` needs the target, so it is not offered.
"""

from __future__ import annotations

import json
import os
from dataclasses import replace

from tornwrite.faultinject.program import report
from tornwrite.faultinject.program.run import Options, ProgramRun, Result
from tornwrite.faultinject.program.target import Target
from tornwrite.faultinject.program.trace import Step, Trace

RUN_ORDER = ("power", "process", "kill")  # the order crash_test judges the kinds in


def is_program_results(directory: str) -> bool:
    """Whether `directory` holds a program run's results.json (not a campaign's)."""
    try:
        with open(os.path.join(directory, "results.json")) as f:
            return json.load(f).get("format") == report.FORMAT
    except (OSError, ValueError, AttributeError):
        return False


def _not_loaded(*args: object) -> None:
    raise RuntimeError("a merged run names its target but does not load it")


def read(directory: str) -> ProgramRun:
    """The run whose report.write wrote `directory`; ValueError if it is not one."""
    path = os.path.join(directory, "results.json")
    with open(path) as f:
        document = json.load(f)
    if not isinstance(document, dict) or document.get("format") != report.FORMAT:
        raise ValueError(f"{path} is not a program run's results.json ({report.FORMAT})")
    parameters = document["parameters"]
    shard = tuple(parameters["shard"]) if parameters.get("shard") else None
    options = Options(
        tuple(parameters["kinds"]),
        parameters["kill"],
        parameters["seed"],
        shard=shard,
        trace=parameters.get("trace", "python"),
    )
    trace = Trace(
        steps=[Step(**{**row, "data": row["data"].encode()}) for row in document["trace"]],
        tokens=[ack["token"] for ack in document["acks"]],
        ack_after=[ack["after_step"] for ack in document["acks"]],
        warnings=list(document["warnings"]),
        unseen=list(document.get("unseen", [])),
        error=document["workload_error"],
    )
    target = Target(parameters["target"], parameters["name"], _not_loaded, _not_loaded)
    run = ProgramRun(target, options, trace, elapsed=document["elapsed"], judged=document["judged"])
    for row in document["states"]:
        run.add(Result(**{k: v for k, v in row.items() if k not in ("repro", "confirmed")}))
    return run


def merge(directories: list[str]) -> ProgramRun:
    """One run from its shards; ValueError unless they are shards 1/n .. n/n of one run."""
    runs = [read(directory) for directory in directories]
    first = runs[0]
    whole = replace(first.options, shard=None)
    steps = [s.to_json() for s in first.trace.steps]
    for run in runs[1:]:
        if replace(run.options, shard=None) != whole or run.target.spec != first.target.spec:
            raise ValueError("these results are not shards of one program run (their parameters differ)")
        if [s.to_json() for s in run.trace.steps] != steps:
            raise ValueError("these shards traced different runs: the workload is not deterministic")
    shards = sorted(run.options.shard or (1, 1) for run in runs)
    count = shards[0][1]
    if shards != [(i, count) for i in range(1, count + 1)]:
        raise ValueError(
            f"shards {', '.join(f'{i}/{n}' for i, n in shards)} are not 1/{count} .. {count}/{count}, each once"
        )
    merged = ProgramRun(first.target, whole, first.trace, elapsed=max(run.elapsed for run in runs))
    for run in runs[1:]:
        for warning in run.trace.warnings:
            merged.trace.warn(warning)
    merged.judged = sum(run.judged for run in runs)
    joined = [result for run in runs for result in run.results]
    joined.sort(key=lambda r: (RUN_ORDER.index(r.kind), r.step, r.phase != "before"))  # stable: a point's own order
    for result in joined:
        merged.add(result)
    return merged
