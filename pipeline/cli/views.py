"""Engine-free commands: `distros`, `plan`, `validate`. They never import dagger-io."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from pipeline.cli.common import (
    BaseOption,
    DistroOption,
    HooksOption,
    ImageRewriteOption,
    InputsOption,
    PlatformOption,
    RootOption,
    checked_layers,
    describe,
    layer_problems,
    open_layers,
    open_planner,
)
from pipeline.errors import HeliosError, printable
from pipeline.layers import Layers
from pipeline.plan import Planner
from pipeline.platforms import check_platform, host_default
from pipeline.render import distros_table, images_table, inputs_table, plan_table
from pipeline.validate import unique_problems


def validate_inputs(
    layers: Layers, inputs: Path, distros: list[str] | None, platforms: list[str] | None
) -> list[HeliosError]:
    """Problems of the mirror at ``inputs`` for the builds it must serve; warnings go to stderr."""
    from pipeline.mirror import plan_inputs
    from pipeline.mirror_store import validate_mirror
    from pipeline.platforms import PLATFORMS
    from pipeline.release import matrix

    if not inputs.is_dir():
        return [HeliosError(f"--inputs {inputs}: no such folder", hint="make one with `helios inputs DIR`")]
    try:
        planner = Planner(layers)
        every = plan_inputs(planner.plan(d, p) for d in planner.catalogue.names() for p in PLATFORMS)
        targets = matrix(planner.catalogue, distros, platforms or list(PLATFORMS))
        needed = [
            (t.distro, t.platform, item)
            for t in targets
            for item in plan_inputs([planner.plan(t.distro, t.platform)])
        ]
    except HeliosError as error:
        return [error]  # a selection that names no distro, or the tree's own problems (reported too)
    errors, warnings = validate_mirror(inputs, every, needed)
    for warning in warnings:
        typer.echo(printable(f"warning: {warning}"), err=True)
    return errors


def distros(hooks: HooksOption = None, root: RootOption = None) -> None:
    """List the distros with a one-line description each."""
    typer.echo(distros_table(Planner(checked_layers(root, hooks)).catalogue))


def plan(
    distro: DistroOption,
    platform: PlatformOption = None,
    base: BaseOption = None,
    digests: Annotated[
        bool, typer.Option("--digests", help="Show a digest of everything each step's cache depends on.")
    ] = False,
    hooks: HooksOption = None,
    inputs: InputsOption = None,
    image_rewrite: ImageRewriteOption = None,
    root: RootOption = None,
) -> None:
    """Show the numbered build steps for a distro: stage, the exact file each step runs, and its origin.

    With --inputs, also the pinned upstream inputs each step consumes and what the step will find
    of each in the mirror: sound (verified against its pin), corrupt (and why), or missing.
    """
    planner = open_planner(root, hooks, inputs, rewrites=image_rewrite)
    chosen = check_platform(platform) if platform is not None else host_default()
    planned = planner.plan(distro, chosen, base=base)
    typer.echo(plan_table(planned, digests=digests))
    if planner.mirror is not None:
        typer.echo("\n" + inputs_table(planned, planner.mirror))


def images(
    distro: Annotated[
        list[str] | None,
        typer.Option(
            "--distro",
            "-d",
            metavar="NAME",
            help="Only these distros; repeatable. Default: all.",
            show_default=False,
        ),
    ] = None,
    platform: Annotated[
        list[str] | None,
        typer.Option(
            metavar="PLATFORM",
            help="Only these platforms; repeatable. Default: linux/amd64 and linux/arm64.",
            show_default=False,
        ),
    ] = None,
    image_rewrite: ImageRewriteOption = None,
    hooks: HooksOption = None,
    root: RootOption = None,
) -> None:
    """List every image a build and a publish pull (after --image-rewrite), for a registry mirror."""
    from pipeline.release import matrix
    from pipeline.toolpins import tool_images

    planner = open_planner(root, hooks, rewrites=image_rewrite)
    plans = [planner.plan(t.distro, t.platform) for t in matrix(planner.catalogue, distro, platform)]
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


def validate(
    hooks: HooksOption = None,
    inputs: InputsOption = None,
    distro: SelectDistros = None,
    platform: SelectPlatforms = None,
    root: RootOption = None,
) -> None:
    """Check the whole tree (and your hooks): configs load, hooks exist with a shebang, nothing unknown.

    With --inputs, also every entry of that mirror against its pin, and that it holds every pinned
    input the chosen builds need (one line per problem); entries no pin uses are warnings.
    """
    if inputs is None and (distro or platform):
        raise HeliosError(
            "--distro and --platform choose what --inputs must serve", hint="pass --inputs DIR too"
        )
    layers = open_layers(root, hooks)
    checked = describe(layers)
    problems = layer_problems(layers, hooks)
    if inputs is not None:
        checked += f" with the input mirror {inputs}"
        problems += validate_inputs(layers, inputs, distro, platform)
    problems = unique_problems(problems)  # an unreadable file is found by both walks
    if problems:
        raise HeliosError(f"{len(problems)} problem(s) found in {checked}", problems=problems)
    typer.echo(printable(f"ok: {checked} is a valid Helios tree"))
