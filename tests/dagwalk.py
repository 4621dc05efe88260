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

from pipeline.graph import STAMPED
from pipeline.hookenv import HOOKS_MOUNT as HOOKS
from pipeline.linkcheck import LINK_CHECK
from pipeline.stepmounts import PACKAGES_TXT
from pipeline.tree import LocalTree

SOURCE_PATH = "/helios-source"
USER_PATH = "/helios-user-hooks"
STAMP = "stamp"
OWN_EXECS = {"s6": "tar -C /s6", "link check": LINK_CHECK, "packages record": PACKAGES_TXT, STAMP: STAMPED}
"""The execs of the pipeline itself (no hook), by what their command holds; a stamping exec is
labelled by what it stamps ("stamp step 8", "stamp common/root")."""


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
        return {label: found.key for label, found in self.execs(root).items()}

    def execs(self, root: Any) -> dict[str, Exec]:
        """Every exec reachable from ``root`` by its label; two different execs never share a label."""
        found: dict[str, Exec] = {}
        for obj in reachable(root):
            fields = selections(obj)
            for index, field in enumerate(fields):
                if field.name != "withExec":
                    continue
                chain = fields[: index + 1]
                label = exec_label(field.args["args"])
                if label == STAMP:
                    label = f"{STAMP} {self._stamped(chain)}"
                seen = Exec(label, self.key(chain), self.own(chain), container_state(chain)["env"],
                            self.hook_files(chain))  # fmt: skip
                if label in found and found[label].key != seen.key:
                    raise AssertionError(f"two different execs are both labelled {label!r}")
                found[label] = seen
        return found

    def _stamped(self, fields: list[Any]) -> str:
        """What a stamping exec stamps: an overlay's path, or the label of the exec whose output it is."""
        copy = next(f for f in fields if f.name == "withDirectory" and f.args["path"] == STAMPED)
        source = selections(copy.args["source"])
        path = _source_path(source)
        if path is not None:
            return "/".join(f.args["path"].strip("/") for f in source[2:])
        made = [f for f in source if f.name == "withExec"]
        return exec_label(made[-1].args["args"]) if made else "a directory"

    def own(self, fields: list[Any]) -> str:
        """What an exec is given itself: its chain, with the output of other execs left out."""
        return " / ".join(
            f"{f.name}({', '.join(f'{k}={self._own_value(v)}' for k, v in sorted(f.args.items()))})"
            for f in fields
        )

    def _own_value(self, value: Any) -> str:
        if hasattr(value, "_ctx"):
            if any(f.name == "withExec" for obj in reachable(value) for f in selections(obj)):
                return "{output of another exec}"
            return "{" + self.key(selections(value)) + "}"
        if isinstance(value, list):
            return "[" + ", ".join(self._own_value(v) for v in value) + "]"
        return repr(value)

    def hook_files(self, fields: list[Any]) -> dict[str, str]:
        """The files in /helios/hooks when the last exec of ``fields`` runs: name -> source path."""
        mount = next(
            (f for f in reversed(fields) if f.name == "withMountedDirectory" and f.args["path"] == HOOKS),
            None,
        )
        if mount is None:
            return {}
        files = {}
        for step in selections(mount.args["source"]):
            if step.name == "withFile":
                source = selections(step.args["source"])
                files[step.args["path"]] = "/".join(f.args["path"].strip("/") for f in source[2:])
        return files


@dataclass(frozen=True)
class Exec:
    """One exec of a graph, as the walk sees it."""

    label: str
    key: str
    """Its cache key: the whole chain up to it, files by content."""
    own: str
    """What it is given itself (:meth:`Keyer.own`): where a pinned value it reads shows."""
    env: dict[str, str]
    """Its environment as it runs."""
    hook_files: dict[str, str]
    """For a hook: the files beside it in /helios/hooks, by name, with their source paths."""

    def depends_on(self, other: Exec) -> bool:
        """Whether this exec's key holds ``other``'s: it runs after it, or on its output."""
        return other.key in self.key


def hook_path(args: list[str]) -> str:
    """The hook script an exec runs: its first argument, or the command a settled exec wraps."""
    return next((arg for arg in args if arg.startswith("/helios/hooks/")), args[0])


def exec_label(args: list[str]) -> str:
    """The label of an exec by its command: "step 9" for a hook, "step 9 system.d-50-x.sh" for a
    drop-in script, "s6", "link check", "packages record" or "stamp" for the pipeline's own execs.
    """
    hook = hook_path(args)
    if hook.startswith(f"{HOOKS}/"):
        name = hook.rsplit("/", 1)[-1]
        number, _, rest = name.partition("-")
        drop_in = rest.split(".d-", 1)
        return f"step {int(number)}" + (f" {rest}" if len(drop_in) == 2 else "")
    command = " ".join(args)
    for label, mark in OWN_EXECS.items():
        if mark in command:
            return label
    raise AssertionError(f"an exec the walk does not know: {command[:200]!r}")


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
