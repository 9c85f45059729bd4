"""Which optional dependency comes from which extra, and the one message a missing one gives.

A plain `pip install tornwrite` runs `tornwrite program`, its pytest fixture and the CLI. The
extras add the rest (README, "Installing"): `figures` (matplotlib: crash maps, walkthrough
figures) and `campaign` (faker and hypothesis: the bundled engine's own workloads, mutants and
walkthroughs, plus `figures`). Importing them lazily keeps every other path working without them.
"""

from __future__ import annotations

import importlib
from types import ModuleType

EXTRA_OF = {"faker": "campaign", "hypothesis": "campaign", "matplotlib": "figures"}


class MissingExtraError(ImportError):
    """An optional dependency is not installed; the message names the extra that brings it."""


def hint(module: str) -> str | None:
    """The install line for a missing top-level `module`, or None if no extra brings it."""
    extra = EXTRA_OF.get(module.split(".")[0])
    return None if extra is None else f"{module.split('.')[0]} (pip install 'tornwrite[{extra}]')"


def require(module: str, needed_for: str) -> ModuleType:
    """Import `module`, or raise MissingExtraError saying what needs it and how to install it."""
    try:
        return importlib.import_module(module)
    except ModuleNotFoundError as exc:
        if exc.name is None or hint(exc.name) is None:
            raise
        raise MissingExtraError(f"{needed_for} needs {hint(exc.name)}", name=exc.name) from exc
