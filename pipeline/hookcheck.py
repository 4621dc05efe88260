"""The module's tree check: the checks of `helios validate`, on a ``--hooks`` directory as exported."""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import TYPE_CHECKING

from pipeline.errors import HeliosError
from pipeline.layers import Layers
from pipeline.tree import LocalTree, Tree, tree_hazards
from pipeline.validate import tree_problems

if TYPE_CHECKING:  # the CLI's engine-free commands import this module without dagger
    import dagger

LABEL = "--hooks"


def first_hazard(problems: list[HeliosError], listed_by: str) -> HeliosError:
    """One error for ``problems`` (not empty): the first, and how many more ``listed_by`` shows."""
    first = problems[0]
    more = f" (and {len(problems) - 1} more: {listed_by} lists all)" if len(problems) > 1 else ""
    return HeliosError(first.message + more, hint=first.hint)


async def directory_problems(repo: Tree, hooks: dagger.Directory | None) -> list[HeliosError]:
    """What `helios validate` finds in our tree ``repo`` with the user's ``hooks`` over it.

    A directory offers no readlink, and a snapshot sees files only, so ``hooks`` is exported into
    the function's own container (links stay links, empty folders stay folders) and checked there
    exactly as the CLI checks a local tree.
    """
    if hooks is None:
        return tree_problems(Layers(repo))
    with tempfile.TemporaryDirectory(prefix="helios-hooks-") as folder:
        await hooks.export(folder)
        root = Path(folder)
        return tree_problems(Layers(repo, LocalTree(root), user_label=LABEL), tree_hazards(root, LABEL))
