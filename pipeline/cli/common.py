"""What every `helios` command shares: its options, its error reporting, and finding the tree."""

from __future__ import annotations

import errno
from pathlib import Path
from typing import Annotated

import typer

from pipeline.errors import HeliosError
from pipeline.imagerewrite import ImageRewrites
from pipeline.layers import Layers
from pipeline.layout import DISTROS_DIR, TOPS
from pipeline.plan import Planner
from pipeline.tree import LocalTree, readable, tree_hazards, unreadable
from pipeline.validate import refusal, tree_problems

RootOption = Annotated[
    Path | None,
    typer.Option(
        "--root",
        metavar="DIR",
        envvar="HELIOS_ROOT",
        help="The Helios tree (with common/ and distros/). Default: the nearest one above this folder.",
        show_default=False,
    ),
]
HooksOption = Annotated[
    Path | None,
    typer.Option(
        "--hooks",
        metavar="DIR",
        help="Your hooks tree, laid out like ours (common/build, common/root, distros/<d>/...), over ours.",
        show_default=False,
    ),
]
DistroOption = Annotated[
    str, typer.Option("--distro", "-d", metavar="NAME", help="Distro name or alias, e.g. rhel.")
]
PlatformOption = Annotated[
    str | None,
    typer.Option(
        metavar="PLATFORM", help="linux/amd64 or linux/arm64. Default: this machine's.", show_default=False
    ),
]
InputsOption = Annotated[
    Path | None,
    typer.Option(
        "--inputs",
        metavar="DIR",
        help="A local input mirror (sha256/, git/; see docs/inputs.md) to take pinned upstream inputs from.",
        show_default=False,
    ),
]
OfflineOption = Annotated[
    bool,
    typer.Option(
        "--offline",
        help="Never fetch a pinned input from upstream: one the --inputs mirror lacks is an error.",
    ),
]
ImageRewriteOption = Annotated[
    list[str] | None,
    typer.Option(
        "--image-rewrite",
        envvar="HELIOS_IMAGE_REWRITES",
        metavar="FROM=TO",
        help="Pull images from where your site keeps them: FROM=TO, e.g. docker.io=registry.corp/hub "
        "(repeatable; see docs/engine.md). The variable takes rules separated by blanks.",
        show_default=False,
    ),
]
BaseOption = Annotated[
    str | None,
    typer.Option(
        metavar="IMAGE", help="Replace the distro's base image, e.g. almalinux:9.6.", show_default=False
    ),
]


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


def open_layers(root: Path | None, hooks: Path | None) -> Layers:
    """Our tree, with the user's hooks tree over it when ``--hooks`` is given (not checked yet)."""
    repo = open_tree(root)
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


def checked_layers(root: Path | None, hooks: Path | None) -> Layers:
    """:func:`open_layers`, refused with every problem `helios validate` would report.

    `distros`, `plan`, `build`, `publish` and `inputs` start here, so a hooks tree that validate refuses (a
    misspelt hook, a script without a shebang, a folder at a hook's path) never builds or plans
    with our file in its place.
    """
    layers = open_layers(root, hooks)
    problems = layer_problems(layers, hooks)
    if problems:
        raise refusal(problems, describe(layers))
    return layers


def open_planner(
    root: Path | None,
    hooks: Path | None,
    inputs: Path | None = None,
    offline: bool = False,
    rewrites: list[str] | None = None,
) -> Planner:
    """A planner for our tree (and the user's hooks), taking pinned inputs from the mirror ``inputs``
    and pulling images as the ``rewrites`` rules say."""
    if offline and inputs is None:
        raise HeliosError("--offline needs --inputs DIR", hint="make a mirror with `helios inputs DIR` first")
    from pipeline.mirror_store import open_mirror

    mirror = open_mirror(inputs, offline=offline) if inputs is not None else None
    return Planner(checked_layers(root, hooks), mirror=mirror, rewrites=ImageRewrites(rewrites or ()))
