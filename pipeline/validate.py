"""Checking a whole hook tree without an engine: configs, hooks, and nothing unknown at a hook point."""

from __future__ import annotations

import difflib
import fnmatch

from pipeline.catalogue import CONFIG_NAME, DISTROS_DIR
from pipeline.errors import HeliosError
from pipeline.imageconfig import IMAGE_CONFIG
from pipeline.order import BUILD_ORDER, Scope
from pipeline.plan import COMMON_BUILD, PACKAGES_FILE, Planner
from pipeline.platforms import PLATFORMS
from pipeline.tree import Tree


def validate_tree(tree: Tree) -> list[HeliosError]:
    """Every problem found in ``tree``; an empty list means every distro can be planned."""
    problems = _unknown_entries(tree)
    try:
        planner = Planner(tree)
    except HeliosError as error:
        return [*problems, error]
    for name in planner.catalogue.names():
        for platform in PLATFORMS:
            try:
                plan = planner.plan(name, platform)
            except HeliosError as error:
                problems.append(error)
                break
            problems += [p for p in _hook_problems(tree, plan.steps) if p not in problems]
    return _unique(problems)


def _unique(problems: list[HeliosError]) -> list[HeliosError]:
    seen: set[str] = set()
    return [p for p in problems if not (str(p) in seen or seen.add(str(p)))]


def _hook_problems(tree: Tree, steps: tuple) -> list[HeliosError]:
    problems = []
    for planned in steps:
        if not planned.step.is_hook:
            continue
        head = tree.read_bytes(planned.hook)[:2]
        if head != b"#!":
            problems.append(
                HeliosError(
                    f"step {planned.step.number}: {planned.hook} has no shebang",
                    hint="start it with a line such as #!/usr/bin/env bash",
                )
            )
    return problems


def _known_names(scope: Scope) -> tuple[list[str], list[str]]:
    """Hook file names and extra-file patterns allowed in a build folder of ``scope``."""
    steps = [s for s in BUILD_ORDER if s.is_hook and s.scope is scope]
    return [s.name for s in steps], [pattern for s in steps for pattern in s.extras]


def _check_folder(
    tree: Tree, folder: str, *, files: list[str], patterns: list[str] = (), dirs: list[str] = ()
) -> list[HeliosError]:
    """Problems with the entries of ``folder``: each must be a known file (or pattern) or folder."""
    problems = []
    for entry in tree.list_dir(folder):
        path = f"{folder}/{entry}"
        if entry in dirs:
            if not tree.is_dir(path):
                problems.append(HeliosError(f"{path} must be a folder", hint="move the file away"))
        elif entry in files or any(fnmatch.fnmatch(entry, p) for p in patterns):
            if not tree.is_file(path):
                problems.append(
                    HeliosError(f"{path} is not a regular file", hint="hooks and configs are files")
                )
        else:
            known = [*files, *dirs]
            close = difflib.get_close_matches(entry, known, n=1)
            hint = f"did you mean {close[0]!r}?" if close else f"known here: {', '.join([*known, *patterns])}"
            problems.append(HeliosError(f"{path} is not a known hook, file or folder", hint=hint))
    return problems


def _unknown_entries(tree: Tree) -> list[HeliosError]:
    common_files = [PACKAGES_FILE.rsplit("/", 1)[1], IMAGE_CONFIG.rsplit("/", 1)[1]]
    problems = _check_folder(tree, "common", files=common_files, dirs=["build", "root"])
    hooks, extras = _known_names(Scope.COMMON)
    problems += _check_folder(tree, COMMON_BUILD, files=hooks, patterns=extras)
    hooks, extras = _known_names(Scope.DISTRO)
    for distro in tree.list_dir(DISTROS_DIR):
        folder = f"{DISTROS_DIR}/{distro}"
        if not tree.is_dir(folder):
            problems.append(HeliosError(f"{folder} is not a folder", hint="each distro is a folder"))
            continue
        problems += _check_folder(tree, folder, files=[CONFIG_NAME], dirs=["build", "root"])
        problems += _check_folder(tree, f"{folder}/build", files=hooks, patterns=extras)
    return problems
