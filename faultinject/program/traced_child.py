"""The process the system-call source traces: a target's workload, recovery or restart, in a fresh interpreter.

    python -m tornwrite.faultinject.program.traced_child MODE TARGET DIRECTORY ACK_FILE [ACKED_FILE]

MODE is `workload` (workload(path, ack)), `recover` (recover(path) alone), `recover-each`
(recover() in each numbered subdirectory 0, 1, ... of DIRECTORY in turn, "R <n>" before each and
"X <n>" after one that raised: many restarts traced in one process), or `resume` (recover(path),
then resume(path, ack, acked) with the tokens in ACKED_FILE). Every line goes to
ACK_FILE with one write(2) on an O_APPEND descriptor: "S <pid>" at the start, "A <json>" per
ack, "E <traceback>" if the body raised, "D" at its end, and, when the target defines observe(),
"O <json list>" for each look its reader takes: the interposer is installed in this process only
to pause the workload at each of its Python-level file calls while the reader looks (kills.look),
and the look's tokens land among the system calls at the place whose files it saw. strace sees each of those writes in
order with the program's own calls, which is how an ack finds its place among the steps; the
file itself outlives a SIGKILL, which is how a killed run's acks are read back.
"""

from __future__ import annotations

import json
import os
import sys
import traceback

from tornwrite.faultinject.program import install, interposer, kills
from tornwrite.faultinject.program.target import load


def main(argv: list[str]) -> int:
    mode, spec, directory, ack_file = argv[:4]
    fd = os.open(ack_file, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC, 0o600)

    def say(line: str) -> None:
        os.write(fd, (line.replace("\n", "\\n") + "\n").encode())

    def ack(token: object) -> None:
        say("A " + json.dumps(token))

    say(f"S {os.getpid()}")
    status = 0
    try:
        if mode == "workload":
            install.install(directory)  # before the target binds os.fsync & co.: observe's pause points
        target = load(spec)
        if mode == "recover-each":
            for number in range(len(os.listdir(directory))):
                say(f"R {number}")
                try:
                    target.recover(os.path.join(directory, str(number)))
                except Exception:
                    say(f"X {number}")
        elif mode == "workload":
            if target.observe is not None:
                session = interposer.Session(os.path.realpath(directory))
                session.on_step = lambda step, when: say("O " + json.dumps(kills.look(target, session.directory)))
                interposer.INTERPOSER.arm(session)
            target.workload(directory, ack)
        elif mode in ("recover", "resume"):
            target.recover(directory)
            if mode == "resume":
                assert target.resume is not None
                with open(argv[4]) as f:
                    acked = json.load(f)
                target.resume(directory, ack, acked)
    except BaseException:  # sys.exit() too: what ran up to there is still the trace
        say("E " + traceback.format_exc())
        status = 1
    say("D")
    return status


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
