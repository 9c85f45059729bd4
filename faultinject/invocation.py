"""How a printed command starts: the console script that ran us, or the interpreter that did.

A repro line must work when pasted into a shell outside the venv, so it never starts with a bare
`python`: it is `tornwrite ...` when the `tornwrite` on PATH belongs to this interpreter's
environment, and `/path/to/the/python -m tornwrite.faultinject ...` otherwise.
"""

from __future__ import annotations

import os
import shutil
import sys


def prefix() -> list[str]:
    """argv that runs the `tornwrite` command line in this environment."""
    found = shutil.which("tornwrite")
    here = os.path.join(os.path.dirname(sys.executable), "tornwrite")
    if found and os.path.exists(here) and os.path.samefile(found, here):
        return ["tornwrite"]
    return [sys.executable, "-m", "tornwrite.faultinject"]
