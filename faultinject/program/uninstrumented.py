"""The child of `--kill`: run a target's workload in a fresh interpreter, with no interposer at all.

    python -m tornwrite.faultinject.program.uninstrumented TARGET DIRECTORY

Prints "S" when the workload starts, "A <json>" after each ack and "D" when it returns, each
line written straight to the stdout pipe, so a SIGKILL loses none of the lines before it.
"""

from __future__ import annotations

import json
import os
import sys

from tornwrite.faultinject.program.target import load


def main(argv: list[str]) -> int:
    spec, directory = argv
    target = load(spec)

    def say(line: str) -> None:
        os.write(1, (line + "\n").encode())

    say("S")
    target.workload(directory, lambda token: say("A " + json.dumps(token)))
    say("D")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
