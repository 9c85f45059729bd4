"""The shape the code promises: no import cycles in faultinject/, models/ independent of engine/,
one top-level import name (a user's own `models` or `engine` package is never shadowed), and
every fault kind reachable through the registry alone."""

import ast
import subprocess
import sys
from pathlib import Path

from tornwrite.faultinject.kinds import REGISTRY
from tornwrite.faultinject.kinds.base import FaultKind

ROOT = Path(__file__).parent.parent


def module_imports(folder: str) -> dict[str, set[str]]:
    """Module-level imports between the modules of `folder` (as tornwrite.<folder>.*)."""
    modules = {}
    for path in (ROOT / folder).rglob("*.py"):
        name = ".".join(("tornwrite", *path.relative_to(ROOT).with_suffix("").parts)).removesuffix(".__init__")
        modules[name] = path
    graph: dict[str, set[str]] = {name: set() for name in modules}
    for name, path in modules.items():
        for node in ast.parse(path.read_text()).body:  # module level only: what runs at import
            if isinstance(node, ast.ImportFrom) and node.module:
                for alias in node.names:
                    target = f"{node.module}.{alias.name}"
                    graph[name].add(target if target in modules else node.module)
            elif isinstance(node, ast.Import):
                graph[name].update(alias.name for alias in node.names)
    return {name: {t for t in targets if t in modules and t != name} for name, targets in graph.items()}


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    found, state, path = [], {}, []

    def visit(node: str) -> None:
        state[node] = "open"
        path.append(node)
        for nxt in sorted(graph[node]):
            if state.get(nxt) == "open":
                found.append(path[path.index(nxt) :] + [nxt])
            elif nxt not in state:
                visit(nxt)
        path.pop()
        state[node] = "done"

    for node in sorted(graph):
        if node not in state:
            visit(node)
    return found


def test_faultinject_has_no_import_cycles():
    assert cycles(module_imports("faultinject")) == []


def test_models_import_nothing_from_the_engine():
    for path in (ROOT / "models").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom):
                assert not (node.module or "").startswith("tornwrite.engine"), path
            if isinstance(node, ast.Import):
                assert not any(a.name.startswith("tornwrite.engine") for a in node.names), path


def test_every_registered_kind_is_a_fault_kind_named_as_registered():
    assert list(REGISTRY) == ["process", "power", "ioerror", "damage", "concurrent"]
    for name, kind in REGISTRY.items():
        assert isinstance(kind, FaultKind) and kind.name == name and kind.summary


def test_a_users_own_top_level_models_and_engine_packages_are_not_shadowed(tmp_path):
    for package in ("models", "engine"):
        (tmp_path / package).mkdir()
        (tmp_path / package / "__init__.py").write_text(f"MINE = {package!r}\n")
    code = (
        "import models, engine, tornwrite.engine, tornwrite.models.opmodel, tornwrite.faultinject.campaign;"
        "assert models.MINE == 'models' and engine.MINE == 'engine', (models, engine)"
    )
    done = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
