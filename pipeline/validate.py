"""Checking hook trees without an engine: configs, hooks, drop-ins, and nothing unknown at a hook point.

The repository's tree and a user's hooks tree are checked the same way, except that a user's tree
may hold only the hook layout (``common/build``, ``common/root``, ``distros/<d>/{distro.toml,build,
root}``): it cannot replace the package list or the image configuration.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Sequence

from pipeline.errors import HeliosError, suggest
from pipeline.layers import REPO, Layers, Ref
from pipeline.layout import (
    BUILD,
    COMMON,
    COMMON_BUILD,
    COMMON_ROOT,
    CONFIG_NAME,
    DISTROS_DIR,
    DROP_IN_SUFFIX,
    HOOK_LIBRARY,
    IMAGE_CONFIG,
    LIBRARY_PARTS,
    PACKAGES_FILE,
    ROOT,
    TOPS,
)
from pipeline.order import BUILD_ORDER, Scope
from pipeline.plan import Planner
from pipeline.platforms import PLATFORMS
from pipeline.tree import MAX_SCRIPT_BYTES, Tree, too_large

# Top-level folders that merged-/usr bases (Debian 12+, Ubuntu, EL9) make links into /usr.
MERGED_USR = ("bin", "sbin", "lib", "lib32", "lib64", "libx32")
RUNTIME_STATE = ("run", "var/run")


def tree_problems(layers: Layers, hazards: Sequence[HeliosError] = ()) -> list[HeliosError]:
    """Every problem `helios validate` reports, which `build`, `publish` and `plan` refuse first.

    ``hazards`` are what :func:`pipeline.tree.tree_hazards` found in the user's hooks tree on disk
    (links out of it, unreadable files, odd names); a folder that is no hooks tree stops there.
    """
    problems = list(hazards)
    if any(" is not a hooks tree" in problem.message for problem in problems):
        return problems
    try:
        problems += validate_tree(layers)
    except HeliosError as error:  # a file or folder that cannot be read stops the walk
        problems.append(error)
    return unique_problems(problems)  # an unreadable file is found by both walks


def refusal(problems: list[HeliosError], checked: str) -> HeliosError:
    """One error for ``problems`` (not empty): the problem itself, or each of them and their count."""
    if len(problems) == 1:
        return problems[0]
    return HeliosError(f"{len(problems)} problem(s) found in {checked}", problems=problems)


def validate_tree(source: Tree | Layers) -> list[HeliosError]:
    """Every problem found; an empty list means every distro can be planned on every platform."""
    layers = source if isinstance(source, Layers) else Layers(source)
    problems: list[HeliosError | None] = []
    for layer in layers.layers:
        problems += LayoutCheck(layers, layer.name).problems()
    try:
        planner = Planner(layers)
    except HeliosError as error:
        return unique_problems([*(p for p in problems if p is not None), error])
    for name in planner.catalogue.names():
        for platform in PLATFORMS:
            try:
                plan = planner.plan(name, platform)
            except HeliosError as error:
                problems.append(error)
                break
            for planned in plan.steps:  # drop-in scripts are checked with their folder
                if planned.runs:
                    problems.append(_no_shebang(layers, planned.step.number, planned.hook))
    return unique_problems([p for p in problems if p is not None])


def unique_problems(problems: list[HeliosError]) -> list[HeliosError]:
    """``problems`` without repeats (the same problem is often found for both platforms)."""
    return list({str(problem): problem for problem in problems}.values())


def _no_shebang(layers: Layers, number: int, script: Ref) -> HeliosError | None:
    if layers.head(script, 2) == b"#!":
        return None
    return HeliosError(
        f"step {number}: {script} has no shebang", hint="start it with a line such as #!/usr/bin/env bash"
    )


def _hook_names(scope: Scope) -> tuple[list[str], list[str]]:
    """Hook file names and extra-file patterns allowed in a build folder of ``scope``."""
    steps = [s for s in BUILD_ORDER if s.is_hook and s.scope is scope]
    patterns = [pattern for s in steps for pattern in s.extras]
    if scope is Scope.COMMON:
        patterns.append(HOOK_LIBRARY.rsplit("/", 1)[1])
    return [s.name for s in steps], patterns


def _known_here(names: list[str]) -> str:
    return f"known here: {', '.join(names)}"


class LayoutCheck:
    """Problems with the files of one layer: every entry must be a known hook, file or folder."""

    def __init__(self, layers: Layers, layer: str) -> None:
        self.layers = layers
        self.layer = layer
        self.tree = layers.tree(layer)

    def _ref(self, path: str) -> Ref:
        return self.layers.ref(self.layer, path)

    def problems(self) -> list[HeliosError]:
        top = list(TOPS)
        found = [] if self.layer == REPO else self._folder("", files=[], dirs=top)
        common_files = [PACKAGES_FILE.rsplit("/", 1)[1], IMAGE_CONFIG.rsplit("/", 1)[1]]
        found += self._folder(COMMON, files=common_files if self.layer == REPO else [], dirs=[BUILD, ROOT])
        found += self._build_folder(COMMON_BUILD, Scope.COMMON)
        found += self._overlay(COMMON_ROOT)
        for distro in self.tree.list_dir(DISTROS_DIR):
            folder = f"{DISTROS_DIR}/{distro}"
            if not self.tree.is_dir(folder):
                found.append(
                    HeliosError(f"{self._ref(folder)} is not a folder", hint="each distro is a folder")
                )
                continue
            found += self._folder(folder, files=[CONFIG_NAME], dirs=[BUILD, ROOT])
            found += self._build_folder(f"{folder}/build", Scope.DISTRO)
            found += self._overlay(f"{folder}/root")
        return found

    def _overlay(self, root: str) -> list[HeliosError]:
        """An overlay must not shadow the base image's merged-/usr links or ship runtime state."""
        problems = []
        for entry in self.tree.list_dir(root):
            path = f"{root}/{entry}"
            if entry in MERGED_USR:
                problems.append(
                    HeliosError(
                        f"{self._ref(path)}/ would replace the base image's /{entry} -> usr/{entry} link",
                        hint=f"put these files under {root}/usr/{entry}/",
                    )
                )
        for state in RUNTIME_STATE:
            if self.tree.is_dir(f"{root}/{state}") or self.tree.is_file(f"{root}/{state}"):
                problems.append(
                    HeliosError(
                        f"{self._ref(f'{root}/{state}')} is runtime state, created fresh at every start",
                        hint="do not ship it; let a service or an init.d hook create it",
                    )
                )
        return problems

    def _folder(self, folder: str, *, files: list[str], dirs: list[str]) -> list[HeliosError]:
        problems = []
        for entry in self.tree.list_dir(folder):
            path = f"{folder}/{entry}" if folder else entry
            if entry in dirs:
                if not self.tree.is_dir(path):
                    problems.append(
                        HeliosError(f"{self._ref(path)} must be a folder", hint="move the file away")
                    )
            elif entry in files:
                if not self.tree.is_file(path):
                    problems.append(
                        HeliosError(
                            f"{self._ref(path)} is not a regular file", hint="hooks and configs are files"
                        )
                    )
            else:
                problems.append(
                    HeliosError(
                        f"{self._ref(path)} is not a known hook, file or folder",
                        hint=suggest(entry, [*files, *dirs], _known_here([*files, *dirs])),
                    )
                )
        return problems

    def _build_folder(self, folder: str, scope: Scope) -> list[HeliosError]:
        hooks, extras = _hook_names(scope)
        drop_ins = [name.removesuffix(".sh") + DROP_IN_SUFFIX for name in hooks]
        problems = []
        for entry in self.tree.list_dir(folder):
            path = f"{folder}/{entry}"
            if entry.endswith(DROP_IN_SUFFIX) and entry not in drop_ins:
                problems.append(
                    HeliosError(
                        f"{self._ref(path)} is a drop-in folder for a hook that does not exist here",
                        hint=suggest(entry, drop_ins, _known_here(drop_ins)),
                    )
                )
            elif entry in drop_ins:
                problems += self._drop_in_folder(path)
            elif scope is Scope.COMMON and path == LIBRARY_PARTS:
                problems += self._library_folder(path)
            else:
                problems += self._folder_entry(folder, entry, hooks, extras)
        return problems

    def _folder_entry(
        self, folder: str, entry: str, hooks: list[str], extras: list[str]
    ) -> list[HeliosError]:
        path = f"{folder}/{entry}"
        if entry in hooks or any(fnmatch.fnmatch(entry, p) for p in extras):
            if self.tree.is_file(path):
                return self._script_size(path) if entry.endswith(".sh") else []
            return [HeliosError(f"{self._ref(path)} is not a regular file", hint="hooks are files")]
        known = f"known hooks here: {', '.join(hooks)}"
        hint = suggest(entry, hooks, known)
        hint = hint if hint == known else f"{hint} ({known})"  # a close name, and what else is there
        return [HeliosError(f"{self._ref(path)} is not a known hook or file", hint=hint)]

    def _library_folder(self, folder: str) -> list[HeliosError]:
        """common/build/lib/ holds the hook library's parts: flat, *.sh, sourced (no shebang needed)."""
        if not self.tree.is_dir(folder):
            return [
                HeliosError(f"{self._ref(folder)} must be a folder", hint="it holds the hook library's parts")
            ]
        problems = []
        for entry in self.tree.list_dir(folder):
            path = f"{folder}/{entry}"
            if not entry.endswith(".sh") or not self.tree.is_file(path):
                hint = "parts are files named <part>.sh"
                problems.append(HeliosError(f"{self._ref(path)} is not a library part", hint=hint))
            else:
                problems += self._script_size(path)
        return problems

    def _script_size(self, path: str) -> list[HeliosError]:
        """A script (hook, drop-in, library part) larger than any script should be."""
        size = self.tree.size(path)
        return (
            [too_large(self._ref(path), size, MAX_SCRIPT_BYTES, "script")] if size > MAX_SCRIPT_BYTES else []
        )

    def _drop_in_folder(self, folder: str) -> list[HeliosError]:
        problems = []
        if not self.tree.is_dir(folder):
            return [HeliosError(f"{self._ref(folder)} must be a folder", hint="drop-in scripts live in it")]
        for entry in self.tree.list_dir(folder):
            path = f"{folder}/{entry}"
            if not self.tree.is_file(path):
                problems.append(
                    HeliosError(f"{self._ref(path)} is not a file", hint="drop-in folders are flat")
                )
            elif entry.endswith(".sh") and self._script_size(path):
                problems += self._script_size(path)
            elif entry.endswith(".sh") and self.tree.head(path, 2) != b"#!":
                problems.append(
                    HeliosError(f"{self._ref(path)} has no shebang", hint="start it with #!/usr/bin/env bash")
                )
        return problems
