"""The target contract: a Python file or `module:attribute` defining the program under test.

    def setup(path): ...           # optional: the starting data in directory `path` (not traced)
    def workload(path, ack): ...   # traced: the program's writes; ack(token) after each op returns
    def recover(path): ...         # the program's own way to open its data after a crash -> state
    def check(state, acked, in_flight=None): ...  # optional: raise AssertionError if `state` breaks a
                                   # promise; in_flight: the token of the op started, not acked, at the crash
    def observe(path, ack): ...    # optional: a reader's look at a crash point; what it acks must survive
    def resume(path, ack, acked): ...  # optional: after a restart (recover ran), carry on writing; `acked`:
                                   # the tokens acked so far. Enables later lives

Load the target only after the interposer is installed (faultinject/program/interposer.py), so
that whatever it binds at import time is the recording version.
"""

from __future__ import annotations

import importlib
import importlib.util
import os
import sys
from collections.abc import Callable
from dataclasses import dataclass


class TargetError(ValueError):
    """The target cannot be loaded or does not follow the contract (a usage error: exit 2)."""


@dataclass(frozen=True)
class Target:
    spec: str  # as given on the command line: how a child process loads it again
    name: str  # short, for reports
    workload: Callable
    recover: Callable
    setup: Callable | None = None
    check: Callable | None = None
    observe: Callable | None = None
    resume: Callable | None = None


CONTRACT = __doc__.split("\n\n")[1]  # the functions above, shown by `tornwrite program --help`


def load(spec: str) -> Target:
    """Import `spec`: `path/to/file.py`, `file.py:attribute`, `package.module` or `package.module:attribute`."""
    where, _, attribute = spec.partition(":")
    if where.endswith(".py"):
        if not os.path.isfile(where):
            raise TargetError(f"no such file: {where}")
        name = os.path.splitext(os.path.basename(where))[0]
        module_name = f"_tornwrite_target_{name}"
        module_spec = importlib.util.spec_from_file_location(module_name, os.path.abspath(where))
        if module_spec is None or module_spec.loader is None:
            raise TargetError(f"cannot import {where}")
        module = importlib.util.module_from_spec(module_spec)
        folder = os.path.dirname(os.path.abspath(where))
        if folder not in sys.path:  # its sibling modules import too; appended, so a target named like a
            sys.path.append(folder)  # library it imports (tinydb.py doing `from tinydb import`) gets the library
        sys.modules[module_name] = module
        try:
            module_spec.loader.exec_module(module)
        except Exception as exc:
            raise TargetError(f"importing {where} raised {type(exc).__name__}: {exc}") from exc
    else:
        name = where.rsplit(".", 1)[-1]
        try:
            module = importlib.import_module(where)
        except ImportError as exc:
            raise TargetError(f"cannot import {where}: {exc}") from exc
    holder = module
    if attribute:
        try:
            holder = getattr(module, attribute)
        except AttributeError:
            raise TargetError(f"{where} has no attribute {attribute!r}") from None
        name = attribute
    return of(holder, spec, name)


def of(holder: object, spec: str, name: str) -> Target:
    """A Target from any object (module, class, namespace) with the contract's functions."""
    functions = {}
    for function in ("setup", "workload", "recover", "check", "observe", "resume"):
        value = getattr(holder, function, None)
        if value is not None and not callable(value):
            raise TargetError(f"{spec}: {function} is not callable")
        functions[function] = value
    missing = [f for f in ("workload", "recover") if functions[f] is None]
    if missing:
        raise TargetError(f"{spec} defines no {' and no '.join(missing)} (the contract: tornwrite program --help)")
    workload, recover = functions["workload"], functions["recover"]
    assert workload is not None and recover is not None
    return Target(
        spec, name, workload, recover, functions["setup"], functions["check"], functions["observe"], functions["resume"]
    )
