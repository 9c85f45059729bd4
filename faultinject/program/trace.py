"""A program's trace: its durable file-system steps, as the kernel saw them, and its acks.

A step is one call that changes what a file or directory holds (a create, a write, a truncate,
an fsync, a rename, ...), numbered from 1 in the order the calls returned to the program. An
ack is a token the workload passed to `ack(token)`, placed after the steps that preceded it: a
crash before step N has seen `acked_before(N, "before")` tokens acknowledged.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

# What each step kind does to the simulated disk (faultinject/program/replay.py replays them).
STEP_OPS: tuple[str, ...] = ("create", "write", "truncate", "fsync", "fsync_dir", "sync", "rename", "unlink")
STEP_OPS += ("mkdir", "rmdir", "link", "symlink", "exchange")
PREVIEW = 24  # bytes of a write shown in its call


@dataclass(frozen=True)
class Step:
    """One durable step. `path` and `target` are relative to the program's directory."""

    number: int
    op: str  # one of STEP_OPS
    call: str  # the call as the program wrote it, e.g. "os.replace db.json.tmp -> db.json"
    path: str
    target: str = ""  # rename, link: the new name; exchange: the other name; symlink: the path the link holds
    offset: int = 0  # write: where it landed
    size: int = 0  # write: bytes written; truncate: the new size
    data: bytes = b""
    acked: int = 0  # tokens acked before this step began
    thread: str = "MainThread"

    def to_json(self) -> dict:
        row = asdict(self)
        row["data"] = self.data[:PREVIEW].decode("utf-8", "replace")
        return row


@dataclass
class Trace:
    """Everything one traced run of the workload did, plus what its trace source could not see.

    `unseen` lists why the trace is known to be incomplete (a call the source does not model, a
    shared writable mapping, files that differ from the replay, ...): a run on such a trace
    gives no verdict unless a real kill confirms a failure (docs/PROGRAMS.md, exit status 3).
    `warnings` are things worth saying that do not make the trace incomplete."""

    steps: list[Step] = field(default_factory=list)
    tokens: list = field(default_factory=list)  # acked tokens, in order
    ack_after: list[int] = field(default_factory=list)  # ack_after[i]: steps done when token i was acked
    seen: dict[tuple[int, str], list] = field(default_factory=dict)  # (step, phase): what observe acked there
    warnings: list[str] = field(default_factory=list)
    unseen: list[str] = field(default_factory=list)
    error: str = ""  # the workload raised this (the trace up to it is still crash-tested)
    duration: float = 0.0  # seconds the traced body ran (the system-call source's kills draw moments from it)

    def acked_before(self, number: int, phase: str) -> list:
        """Tokens acked before a crash at step `number` (1-based), `phase` "before" or "after"."""
        done = number - 1 if phase == "before" else number
        return [token for token, after in zip(self.tokens, self.ack_after) if after <= done]

    def acked_at(self, number: int, phase: str) -> list:
        """What a crash at step `number`, `phase` must keep: the tokens acked before it, then those
        the target's reader (`observe`) acked in its look just before the crash."""
        return self.acked_before(number, phase) + self.seen.get((number, phase), [])

    def in_flight_at(self, number: int, phase: str, acked: int | None = None) -> object | None:
        """The token of the op that had started but not returned at a crash at step `number`,
        `phase`, when `acked` tokens had been acked (default: as the trace has it); None when no op
        was in flight or its token is unknown (the workload never acked it)."""
        done = len(self.acked_before(number, phase)) if acked is None else acked
        op = self.op_of(number)
        return self.tokens[op - 1] if done < op <= len(self.tokens) else None

    def warn(self, message: str) -> None:
        if message not in self.warnings:
            self.warnings.append(message)

    def miss(self, reason: str) -> None:
        """Record that the trace is incomplete, and why."""
        if reason not in self.unseen:
            self.unseen.append(reason)

    @property
    def complete(self) -> bool:
        return not self.unseen

    def op_of(self, number: int) -> int:
        """The 1-based operation step `number` belongs to: one more than the acks before it."""
        return self.steps[number - 1].acked + 1


def describe_write(func: str, path: str, offset: int, data: bytes) -> str:
    preview = data[:PREVIEW]
    more = "..." if len(data) > PREVIEW else ""
    return f"{func} {path} {len(data)} B @{offset} {preview!r}{more}"
