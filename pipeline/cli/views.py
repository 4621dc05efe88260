"""Engine-free commands: `distros`, `plan`, `images`, `validate`. They never import dagger-io."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from pipeline.choice import Choice, plans_for
from pipeline.cli.common import checked_layers, describe, layer_problems, open_layers, open_planner
from pipeline.cli.options import (
    BaseOption,
    DistroOption,
    Fetching,
    ImageRewriteOption,
    InputsOption,
    OnlyDistrosOption,
    OnlyPlatformsOption,
    PlatformOption,
    Trees,
    grouped,
)
from pipeline.errors import HeliosError, printable
from pipeline.layers import Layers
from pipeline.plan import Planner, plan_inputs
from pipeline.platforms import PLATFORMS, check_platform, host_default
from pipeline.render import distros_table, images_table, inputs_table, plan_table
from pipeline.validate import unique_problems


def mirror_problems(
    layers: Layers, mirror: Path, distros: list[str] | None, platforms: list[str] | None
) -> list[HeliosError]:
    """Problems of the mirror at ``mirror`` for the builds it must serve; warnings go to stderr."""
    from pipeline.mirror.local import validate_mirror

    if not mirror.is_dir():
        return [HeliosError(f"--inputs {mirror}: no such folder", hint="make one with `helios inputs DIR`")]
    try:
        planner = Planner(layers)
        every = plan_inputs(plans_for(planner, Choice(platforms=tuple(PLATFORMS))))
        chosen = plans_for(planner, Choice.of(distros, platforms, default=PLATFORMS))
        needed = [(plan.distro.name, plan.platform, item) for plan in chosen for item in plan_inputs([plan])]
    except HeliosError as error:
        return [error]  # a selection that names no distro, or the tree's own problems (reported too)
    errors, warnings = validate_mirror(mirror, every, needed)
    for warning in warnings:
        typer.echo(printable(f"warning: {warning}"), err=True)
    return errors


@grouped
def distros(trees: Trees) -> None:
    """List the distros with a one-line description each."""
    typer.echo(distros_table(Planner(checked_layers(trees)).catalogue))


@grouped
def plan(
    distro: DistroOption,
    platform: PlatformOption = None,
    base: BaseOption = None,
    digests: Annotated[
        bool, typer.Option("--digests", help="Show a digest of everything each step's cache depends on.")
    ] = False,
    inputs: InputsOption = None,
    image_rewrite: ImageRewriteOption = None,
    *,
    trees: Trees,
) -> None:
    """Show the numbered build steps for a distro: stage, the exact file each step runs, and its origin.

    With --inputs, also the pinned upstream inputs each step consumes and what the step will find
    of each in the mirror: sound (verified against its pin), corrupt (and why), or missing.
    """
    planner = open_planner(trees, Fetching(mirror=inputs, image_rewrite=image_rewrite))
    chosen = check_platform(platform) if platform is not None else host_default()
    planned = planner.plan(distro, chosen, base=base)
    typer.echo(plan_table(planned, digests=digests))
    if planner.mirror is not None:
        typer.echo("\n" + inputs_table(planned, planner.mirror))


@grouped
def images(
    distro: OnlyDistrosOption = None,
    platform: OnlyPlatformsOption = None,
    image_rewrite: ImageRewriteOption = None,
    *,
    trees: Trees,
) -> None:
    """List every image a build and a publish pull (after --image-rewrite), for a registry mirror."""
    from pipeline.toolpins import tool_images

    planner = open_planner(trees, Fetching(image_rewrite=image_rewrite))
    plans = plans_for(planner, Choice.of(distro, platform, default=PLATFORMS))
    typer.echo(images_table(plans, tool_images(planner.rewrites)))


SelectDistros = Annotated[
    list[str] | None,
    typer.Option(
        "--distro",
        "-d",
        metavar="NAME",
        help="With --inputs: the distros whose builds the mirror must serve; repeatable. Default: all.",
        show_default=False,
    ),
]
SelectPlatforms = Annotated[
    list[str] | None,
    typer.Option(
        "--platform",
        metavar="PLATFORM",
        help="With --inputs: the platforms the mirror must serve; repeatable. Default: both.",
        show_default=False,
    ),
]


@grouped
def validate(
    inputs: InputsOption = None,
    distro: SelectDistros = None,
    platform: SelectPlatforms = None,
    *,
    trees: Trees,
) -> None:
    """Check the whole tree (and your hooks): configs load, hooks exist with a shebang, nothing unknown.

    With --inputs, also every entry of that mirror against its pin, and that it holds every pinned
    input the chosen builds need (one line per problem); entries no pin uses are warnings.
    """
    if inputs is None and (distro or platform):
        raise HeliosError(
            "--distro and --platform choose what --inputs must serve", hint="pass --inputs DIR too"
        )
    layers = open_layers(trees)
    checked = describe(layers)
    problems = layer_problems(layers, trees.hooks)
    if inputs is not None:
        checked += f" with the input mirror {inputs}"
        problems += mirror_problems(layers, inputs, distro, platform)
    problems = unique_problems(problems)  # an unreadable file is found by both walks
    if problems:
        raise HeliosError(f"{len(problems)} problem(s) found in {checked}", problems=problems)
    typer.echo(printable(f"ok: {checked} is a valid Helios tree"))
