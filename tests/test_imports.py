"""The pipeline's modules import one another without a cycle, so each can be read after what it uses.

The graph is read from the source (every `import` and `from ... import`, relative ones resolved,
also those inside functions), not from what Python happened to load; graphlib finds the cycle.
"""

from __future__ import annotations

import ast
import graphlib
from pathlib import Path

import pytest

from tests.conftest import REPO


def module_name(path: Path, root: Path) -> str:
    """The dotted name of the module at ``path``, a package's own name for its __init__.py."""
    parts = path.relative_to(root.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imported(node: ast.ImportFrom, package: str, known: set[str]) -> set[str]:
    """The modules of ``known`` that one `from ... import` names: a submodule, or else its module."""
    base = node.module or ""
    if node.level:
        anchor = package.split(".")[: len(package.split(".")) - (node.level - 1)]
        base = ".".join([*anchor, base] if base else anchor)
    targets = set()
    for alias in node.names:
        submodule = f"{base}.{alias.name}"
        if submodule in known:
            targets.add(submodule)
        elif base in known:
            targets.add(base)
    return targets


def import_graph(root: Path) -> dict[str, set[str]]:
    """Each module of the package at ``root`` with the modules of that package it imports."""
    paths = {module_name(path, root): path for path in root.rglob("*.py")}
    known = set(paths)
    graph: dict[str, set[str]] = {}
    for name, path in paths.items():
        package = name if path.name == "__init__.py" else name.rpartition(".")[0]
        arrows: set[str] = set()
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.ImportFrom):
                arrows |= imported(node, package, known)
            elif isinstance(node, ast.Import):
                arrows |= {alias.name for alias in node.names if alias.name in known}
        graph[name] = arrows - {name}
    return graph


def test_the_pipeline_has_no_import_cycle() -> None:
    graph = import_graph(REPO / "pipeline")
    assert len(graph) > 30, "the walk missed the pipeline's modules"
    try:
        graphlib.TopologicalSorter(graph).prepare()
    except graphlib.CycleError as error:
        pytest.fail(f"import cycle: {' -> '.join(error.args[1])}")


def test_a_cycle_is_found_where_there_is_one(tmp_path: Path) -> None:
    package = tmp_path / "house"
    (package / "rooms").mkdir(parents=True)
    (package / "__init__.py").write_text("")
    (package / "rooms" / "__init__.py").write_text("")
    (package / "plan.py").write_text("def plan():\n    from .rooms import kitchen\n")
    (package / "rooms" / "kitchen.py").write_text("from house.plan import plan\n")
    graph = import_graph(package)
    assert graph["house.plan"] == {"house.rooms.kitchen"}
    assert graph["house.rooms.kitchen"] == {"house.plan"}
    with pytest.raises(graphlib.CycleError):
        graphlib.TopologicalSorter(graph).prepare()
