"""Walking the lazy Dagger graph without an engine, keyed the way the engine keys its cache.

The engine keys a container operation by its whole recipe, except that files and directories taken
from the host source are keyed by their *content* (dagger-facts §7). ``Keyer`` reproduces that: it
renders an object's selection chain, replacing every ``source.file(path)`` / ``source.directory(path)``
by the digest of that path in the tree on disk. Two graphs whose keys for an exec are equal would
hit the same cache entry on a real engine.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass
from typing import Any

import dagger
from dagger import dag

from pipeline.tree import LocalTree

SOURCE_PATH = "/helios-source"
USER_PATH = "/helios-user-hooks"


def source_directory(path: str = SOURCE_PATH) -> dagger.Directory:
    """A source test graphs are built from; its identity is replaced by content below."""
    return dag.host().directory(path)


def selections(obj: Any) -> list[Any]:
    return list(obj._ctx.selections)


def _source_path(fields: list[Any]) -> str | None:
    if (
        len(fields) >= 2
        and (fields[0].type_name, fields[0].name) == ("Query", "host")
        and fields[1].name == "directory"
    ):
        return fields[1].args.get("path")
    return None


@dataclass
class Keyer:
    """Renders objects to content-aware cache keys for one tree (and optionally a user's hooks)."""

    tree: LocalTree
    user: LocalTree | None = None

    def key(self, fields: list[Any]) -> str:
        trees = {SOURCE_PATH: self.tree, USER_PATH: self.user}
        tree = trees.get(_source_path(fields) or "")
        if tree is not None:
            rest = fields[2:]
            if all(f.name in ("file", "directory") for f in rest):
                path = "/".join(f.args["path"].strip("/") for f in rest)
                return f"content({path}:{tree.digest(path)})"
        return " / ".join(
            f"{f.type_name}.{f.name}({', '.join(f'{k}={self.value(v)}' for k, v in sorted(f.args.items()))})"
            for f in fields
        )

    def value(self, value: Any) -> str:
        if hasattr(value, "_ctx"):
            return "{" + self.key(selections(value)) + "}"
        if isinstance(value, list):
            return "[" + ", ".join(self.value(v) for v in value) + "]"
        return repr(value)

    def exec_keys(self, root: Any) -> dict[str, str]:
        """Every exec reachable from ``root``: its label ("step 5", "s6") -> key of the chain up to it."""
        found: dict[str, str] = {}
        for obj in reachable(root):
            fields = selections(obj)
            for index, field in enumerate(fields):
                if field.name == "withExec":
                    found[exec_label(field.args["args"])] = self.key(fields[: index + 1])
        return found


def hook_path(args: list[str]) -> str:
    """The hook script an exec runs: its first argument, or the command a settled exec wraps."""
    return next((arg for arg in args if arg.startswith("/helios/hooks/")), args[0])


def exec_label(args: list[str]) -> str:
    """ "step 9" for a hook, "step 9 system.d-50-x.sh" for a drop-in script, "s6" otherwise."""
    name = hook_path(args).rsplit("/", 1)[-1]
    number, _, rest = name.partition("-")
    if not number.isdigit():
        return "s6"
    drop_in = rest.split(".d-", 1)
    return f"step {int(number)}" + (f" {rest}" if len(drop_in) == 2 else "")


def reachable(root: Any) -> list[Any]:
    """``root`` and every object passed as an argument anywhere in its graph."""
    seen: list[Any] = []
    queue = deque([root])
    while queue:
        obj = queue.popleft()
        if any(obj is other for other in seen):
            continue
        seen.append(obj)
        for field in selections(obj):
            for value in field.args.values():
                for item in value if isinstance(value, list) else [value]:
                    if hasattr(item, "_ctx"):
                        queue.append(item)
    return seen


def container_state(fields: list[Any]) -> dict[str, Any]:
    """The mounts, env and copied directories a container's chain leaves in place, in order."""
    mounts: dict[str, str] = {}
    env: dict[str, str] = {}
    copies: list[tuple[str, Any]] = []
    for field in fields:
        args = field.args
        if field.name.startswith("withMounted"):
            mounts[args["path"]] = field.name
        elif field.name == "withoutMount":
            mounts.pop(args["path"], None)
        elif field.name == "withEnvVariable":
            env[args["name"]] = args["value"]
        elif field.name == "withoutEnvVariable":
            env.pop(args["name"], None)
        elif field.name in ("withDirectory", "withFile", "withNewFile", "withFiles"):
            copies.append((args["path"], args.get("source")))
    return {"mounts": mounts, "env": env, "copies": copies}
