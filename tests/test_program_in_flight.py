"""check(state, acked, in_flight): the op that had started but not returned at a crash is named,
for process kills and power losses alike, and --explain draws each ack where the state has it."""

import json

from tornwrite.faultinject.program import cli
from tornwrite.faultinject.program.judge import judge, takes_in_flight
from tornwrite.faultinject.program.target import of
from tornwrite.faultinject.program.trace import Step, Trace

# One file per op, written, fsynced with its directory, then acked: after the last fsync returns and before
# its ack, the file is there but the op is not acked: it is in flight.
TARGET = """
import os

def workload(path, ack):
    for n in range(3):
        fd = os.open(os.path.join(path, f"k{n}"), os.O_CREAT | os.O_WRONLY)
        os.write(fd, b"v")
        os.fsync(fd)
        os.close(fd)
        directory = os.open(path, os.O_RDONLY)
        os.fsync(directory)
        os.close(directory)
        ack(f"k{n}")

def recover(path):
    return sorted(name for name in os.listdir(path) if name.startswith("k"))

def check(state, acked, in_flight=None):
    assert all(k in state for k in acked), f"lost an acked key: {acked} not all in {state}"
    # the rule: anything present was acked or was the op in flight at the crash
    allowed = set(acked) | ({in_flight} if in_flight is not None else set())
    assert set(state) <= allowed, f"{sorted(set(state) - allowed)} present but neither acked nor in flight"
"""


def trace_of(acked_after_each_step: list[int | None]) -> Trace:
    """A trace whose step i (1-based) is followed by an ack of token i when listed as 1."""
    trace = Trace()
    acked = 0
    for number, ack in enumerate(acked_after_each_step, 1):
        trace.steps.append(Step(number, "write", f"write {number}", "f", acked=acked))
        if ack:
            trace.tokens.append(f"op{acked + 1}")
            trace.ack_after.append(number)
            acked += 1
    return trace


def test_in_flight_is_the_started_op_not_yet_acked_and_none_once_its_ack_is_made():
    trace = trace_of([0, 1, 0, 1])  # op1 = steps 1-2, op2 = steps 3-4
    assert trace.in_flight_at(1, "before") == "op1"
    assert trace.in_flight_at(2, "after") is None  # the trace's ack follows step 2
    assert trace.in_flight_at(2, "after", acked=0) == "op1"  # a process killed before making that ack
    assert trace.in_flight_at(3, "before") == "op2"


def test_in_flight_is_none_when_the_op_never_acked():
    trace = trace_of([1, 0])  # step 2's op never acks: its token is unknown
    assert trace.in_flight_at(2, "after") is None


def test_a_two_parameter_check_is_called_as_before_and_a_three_parameter_one_is_told(tmp_path):
    seen = []
    old = of(
        type(
            "T",
            (),
            {
                "workload": staticmethod(lambda p, a: None),
                "recover": staticmethod(lambda p: 1),
                "check": staticmethod(lambda state, acked: seen.append(("old", acked))),
            },
        ),
        "t",
        "t",
    )
    new = of(
        type(
            "T",
            (),
            {
                "workload": staticmethod(lambda p, a: None),
                "recover": staticmethod(lambda p: 1),
                "check": staticmethod(lambda state, acked, in_flight: seen.append(("new", in_flight))),
            },
        ),
        "t",
        "t",
    )
    assert judge(old, str(tmp_path), [1], "x").ok and judge(new, str(tmp_path), [1], "x").ok
    assert seen == [("old", [1]), ("new", "x")]
    assert not takes_in_flight(lambda state, acked: None) and takes_in_flight(lambda *args: None)


def test_a_check_using_in_flight_passes_every_process_kill_and_power_loss(tmp_path, capsys):
    target = tmp_path / "files.py"
    target.write_text(TARGET)
    assert cli.main([str(target), "--kill", "0", "--out", str(tmp_path / "out"), "--quiet"]) == 0
    states = json.loads((tmp_path / "out" / "results.json").read_text())["states"]
    assert {s["kind"] for s in states} == {"process", "power"} and all(s["outcome"] == "ok" for s in states)


def test_without_in_flight_the_same_rule_fails_just_after_a_step_before_its_ack(tmp_path):
    target = tmp_path / "files.py"
    target.write_text(
        TARGET.replace("def check(state, acked, in_flight=None):", "def check(state, acked):\n    in_flight = None")
    )
    assert cli.main([str(target), "--kinds", "process", "--out", str(tmp_path / "out"), "--quiet"]) == 1


def test_explain_draws_an_ack_a_killed_process_never_made_below_the_crash_line_and_counts_alike(tmp_path, capsys):
    target = tmp_path / "files.py"
    target.write_text(TARGET)
    # step 4 is op 1's directory fsync, acked right after it in the trace; a real kill after it never makes that
    # ack (the interposer kills at the step; the system-call source's crash after step 4 is after the ack too)
    assert cli.main([str(target), "--kinds", "process", "--explain", "4:after", "--quiet", "--trace", "python"]) == 0
    text = capsys.readouterr().out
    crash = text.index("---- the process crash, after step 4")
    assert text.index('ack "k0"') > crash and "   (never happened)" in text[crash:].split("\n")[1]
    assert "Acked before the crash: 0 operations." in text
    assert 'In flight (started, never acked): "k0"' in text


def test_explain_draws_the_ack_above_the_line_for_a_power_loss_after_the_same_step(tmp_path, capsys):
    target = tmp_path / "files.py"
    target.write_text(TARGET)
    assert cli.main([str(target), "--kinds", "power", "--explain", "4:after:0", "--quiet", "--trace", "python"]) == 0
    text = capsys.readouterr().out
    assert text.index('ack "k0"') < text.index("---- the power crash, after step 4")
    assert "Acked before the crash: 1 operation." in text and "In flight (started, never acked): none." in text
