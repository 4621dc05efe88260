"""What every `helios` command shares: finding the trees, checking them, and the planner."""

from __future__ import annotations

import errno
from pathlib import Path

from pipeline.cli.options import Fetching, Trees
from pipeline.errors import HeliosError
from pipeline.imagerewrite import ImageRewrites
from pipeline.layers import Layers
from pipeline.layout import DISTROS_DIR, TOPS
from pipeline.plan import Planner
from pipeline.tree import LocalTree, readable, tree_hazards, unreadable
from pipeline.validate import refusal, tree_problems


def find_root(start: Path) -> Path:
    """The nearest folder at or above ``start`` that holds a Helios tree."""
    for folder in (start, *start.parents):
        if all((folder / top).is_dir() for top in TOPS):
            return folder
    raise HeliosError(
        f"no Helios tree (common/ and distros/) found at or above {start}",
        hint="run inside a Helios checkout, or pass --root PATH",
    )


def open_tree(root: Path | None) -> LocalTree:
    if root is None:
        return LocalTree(find_root(Path.cwd()))
    if root.is_dir() and not readable(root, is_dir=True):
        raise unreadable(root, PermissionError(errno.EACCES, "Permission denied"))
    if not (root / DISTROS_DIR).is_dir():
        raise HeliosError(f"{root} has no distros/ folder", hint="pass the root of a Helios tree to --root")
    return LocalTree(root)


def open_layers(trees: Trees) -> Layers:
    """Our tree, with the user's hooks tree over it when ``--hooks`` is given (not checked yet)."""
    repo, hooks = open_tree(trees.root), trees.hooks
    if hooks is None:
        return Layers(repo)
    if not hooks.is_dir():
        raise HeliosError(
            f"--hooks {hooks}: no such folder", hint="pass a folder laid out like common/ and distros/"
        )
    return Layers(repo, LocalTree(hooks), user_label=str(hooks))


def describe(layers: Layers) -> str:
    """The trees of ``layers`` as the user named them: "/src/helios + ./site"."""
    return " + ".join(str(getattr(layer.tree, "root", layer.label)) for layer in layers.layers)


def layer_problems(layers: Layers, hooks: Path | None) -> list[HeliosError]:
    """What `helios validate` finds in ``layers``, the hooks tree at ``hooks`` read on disk first."""
    return tree_problems(layers, tree_hazards(hooks, str(hooks)) if hooks is not None else ())


def checked_layers(trees: Trees) -> Layers:
    """:func:`open_layers`, refused with every problem `helios validate` would report.

    `distros`, `plan`, `build`, `publish` and `inputs` start here, so a hooks tree that validate refuses (a
    misspelt hook, a script without a shebang, a folder at a hook's path) never builds or plans
    with our file in its place.
    """
    layers = open_layers(trees)
    problems = layer_problems(layers, trees.hooks)
    if problems:
        raise refusal(problems, describe(layers))
    return layers


def open_planner(trees: Trees, fetching: Fetching | None = None) -> Planner:
    """A planner for our tree (and the user's hooks), taking pinned inputs from the ``--inputs``
    mirror and pulling images as the ``--image-rewrite`` rules say."""
    fetching = fetching or Fetching()
    mirror_folder = fetching.mirror
    if fetching.offline and mirror_folder is None:
        raise HeliosError("--offline needs --inputs DIR", hint="make a mirror with `helios inputs DIR` first")
    from pipeline.mirror.local import open_mirror

    mirror = open_mirror(mirror_folder, offline=fetching.offline) if mirror_folder is not None else None
    rewrites = ImageRewrites(fetching.image_rewrite or ())
    return Planner(checked_layers(trees), mirror=mirror, rewrites=rewrites)
