"""Engine-free commands: `distros`, `plan`, `validate`. They never import dagger-io."""

from __future__ import annotations

from typing import Annotated

import typer

from pipeline.cli.common import (
    USAGE_ERROR,
    BaseOption,
    DistroOption,
    HooksOption,
    PlatformOption,
    RootOption,
    fail,
    make_plan,
    open_layers,
)
from pipeline.errors import HeliosError
from pipeline.plan import Planner
from pipeline.render import distros_table, plan_table
from pipeline.validate import validate_tree


def distros(hooks: HooksOption = None, root: RootOption = None) -> None:
    """List the distros with a one-line description each."""
    try:
        typer.echo(distros_table(Planner(open_layers(root, hooks)).catalogue))
    except HeliosError as error:
        fail(error)


def plan(
    distro: DistroOption,
    platform: PlatformOption = None,
    base: BaseOption = None,
    digests: Annotated[
        bool, typer.Option("--digests", help="Show a digest of everything each step's cache depends on.")
    ] = False,
    hooks: HooksOption = None,
    root: RootOption = None,
) -> None:
    """Show the numbered build steps for a distro: stage, the exact file each step runs, and its origin."""
    try:
        typer.echo(plan_table(make_plan(root, hooks, distro, platform, base), digests=digests))
    except HeliosError as error:
        fail(error)


def validate(hooks: HooksOption = None, root: RootOption = None) -> None:
    """Check the whole tree (and your hooks): configs load, hooks exist with a shebang, nothing unknown."""
    try:
        layers = open_layers(root, hooks)
    except HeliosError as error:
        fail(error)
    checked = " + ".join(str(getattr(layer.tree, "root", layer.label)) for layer in layers.layers)
    problems = validate_tree(layers)
    for problem in problems:
        typer.echo(f"error: {problem}", err=True)
    if problems:
        typer.echo(f"{len(problems)} problem(s) found in {checked}", err=True)
        raise typer.Exit(USAGE_ERROR)
    typer.echo(f"ok: {checked} is a valid Helios tree")
