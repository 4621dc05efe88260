"""Refusing a ``--hooks`` directory that the build would not copy as the plan reads it."""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import TYPE_CHECKING

from pipeline.errors import HeliosError
from pipeline.tree import tree_hazards

if TYPE_CHECKING:  # the CLI's engine-free commands import this module without dagger
    import dagger


def first_hazard(problems: list[HeliosError], listed_by: str) -> HeliosError:
    """One error for ``problems`` (not empty): the first, and how many more ``listed_by`` shows."""
    first = problems[0]
    more = f" (and {len(problems) - 1} more: {listed_by} lists all)" if len(problems) > 1 else ""
    return HeliosError(first.message + more, hint=first.hint)


async def check_hooks_directory(hooks: dagger.Directory, label: str = "--hooks") -> None:
    """Raise when ``hooks`` holds a link out of the tree, a name with control characters, ...

    A directory offers no readlink, so it is exported into the function's own container (where
    links stay links) and checked there by the same rule as a local tree.
    """
    with tempfile.TemporaryDirectory(prefix="helios-hooks-") as folder:
        await hooks.export(folder)
        problems = tree_hazards(Path(folder), label)
    if problems:
        raise first_hazard(problems, "`helios validate --hooks DIR`")
