"""The shape the code promises: no import cycles in faultinject/ (lazy and type-only imports
counted), models/ independent of engine/, one top-level import name (a user's own `models` or
`engine` package is never shadowed), and every fault kind reachable through the registry alone."""

import ast
import subprocess
import sys
from pathlib import Path

from tornwrite.faultinject.kinds import REGISTRY
from tornwrite.faultinject.kinds.base import FaultKind

ROOT = Path(__file__).parent.parent


def module_imports(folder: str, root: Path = ROOT) -> dict[str, set[str]]:
    """Every import between the modules of `folder` (as tornwrite.<folder>.*): those inside
    functions and under TYPE_CHECKING too, which tie modules together as much as any other. A
    package importing its own submodules (its registry, its re-exports) is not counted."""
    modules = {}
    for path in (root / folder).rglob("*.py"):
        name = ".".join(("tornwrite", *path.relative_to(root).with_suffix("").parts)).removesuffix(".__init__")
        modules[name] = path

    def known(target: str) -> str | None:  # the module a dotted name lives in, if it is one of ours
        while target and target not in modules:
            target = target.rpartition(".")[0]
        return target or None

    graph: dict[str, set[str]] = {}
    for name, path in modules.items():
        package = name if path.name == "__init__.py" else name.rpartition(".")[0]
        targets: set[str | None] = set()
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:  # relative: from the package, `level - 1` packages up
                    parts = package.split(".")[: len(package.split(".")) - (node.level - 1)]
                    base = ".".join([*parts, base] if base else parts)
                targets.update(known(f"{base}.{alias.name}") for alias in node.names)
            elif isinstance(node, ast.Import):
                targets.update(known(alias.name) for alias in node.names)
        graph[name] = {
            target
            for target in targets
            if target is not None and target != name and not (package == name and target.startswith(name + "."))
        }
    return graph


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


def test_faultinject_has_no_import_cycles_counting_lazy_and_type_only_imports():
    assert cycles(module_imports("faultinject")) == []


def test_a_cycle_through_a_lazy_or_type_only_import_is_a_cycle(tmp_path):
    package = tmp_path / "pkg"
    package.mkdir()
    (package / "__init__.py").write_text("from tornwrite.pkg import a\n")  # its own submodule: not a cycle
    (package / "a.py").write_text("def f():\n    from tornwrite.pkg.b import g\n")
    (package / "b.py").write_text(
        "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from tornwrite.pkg.c import Thing\n"
    )
    (package / "c.py").write_text("from tornwrite.pkg import a\n")
    assert cycles(module_imports("pkg", tmp_path)) == [
        ["tornwrite.pkg.a", "tornwrite.pkg.b", "tornwrite.pkg.c", "tornwrite.pkg.a"]
    ]


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
