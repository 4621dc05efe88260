"""Engine-free commands: `distros`, `plan`, `validate`. They never import dagger-io."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from pipeline.cli.common import (
    BaseOption,
    DistroOption,
    HooksOption,
    InputsOption,
    PlatformOption,
    RootOption,
    describe,
    layer_problems,
    make_plan,
    open_layers,
)
from pipeline.errors import HeliosError
from pipeline.layers import Layers
from pipeline.plan import Planner
from pipeline.render import distros_table, inputs_table, plan_table
from pipeline.validate import unique_problems


def validate_inputs(layers: Layers, inputs: Path) -> list[HeliosError]:
    """Problems of the mirror at ``inputs``, one per bad entry; entries no pin uses are warnings."""
    from pipeline.mirror import plan_inputs
    from pipeline.mirror_store import review
    from pipeline.platforms import PLATFORMS

    if not inputs.is_dir():
        return [HeliosError(f"--inputs {inputs}: no such folder", hint="make one with `helios inputs DIR`")]
    try:
        planner = Planner(layers)
        pins = plan_inputs(planner.plan(d, p) for d in planner.catalogue.names() for p in PLATFORMS)
    except HeliosError:
        return []  # the tree's own problems are reported already
    found = review(inputs, pins)
    for path in found.unused:
        typer.echo(
            f"warning: {inputs}/{path}: no pin uses it (kept: a mirror may serve several versions)",
            err=True,
        )
    hint = "delete it, or replace it with `helios inputs DIR`"
    return [HeliosError(f"{inputs}/{line}", hint=hint) for line in found.errors]


def distros(hooks: HooksOption = None, root: RootOption = None) -> None:
    """List the distros with a one-line description each."""
    typer.echo(distros_table(Planner(open_layers(root, hooks)).catalogue))


def plan(
    distro: DistroOption,
    platform: PlatformOption = None,
    base: BaseOption = None,
    digests: Annotated[
        bool, typer.Option("--digests", help="Show a digest of everything each step's cache depends on.")
    ] = False,
    hooks: HooksOption = None,
    inputs: InputsOption = None,
    root: RootOption = None,
) -> None:
    """Show the numbered build steps for a distro: stage, the exact file each step runs, and its origin.

    With --inputs, also the pinned upstream inputs each step consumes and whether the mirror has them.
    """
    planned = make_plan(root, hooks, distro, platform, base, inputs)
    typer.echo(plan_table(planned, digests=digests))
    if inputs is not None:
        typer.echo("\n" + inputs_table(planned, str(inputs), lambda path: (inputs / path).is_file()))


def validate(hooks: HooksOption = None, inputs: InputsOption = None, root: RootOption = None) -> None:
    """Check the whole tree (and your hooks): configs load, hooks exist with a shebang, nothing unknown.

    With --inputs, also every entry of that mirror against the pins (one line per bad entry), and
    warn about entries no pin uses.
    """
    layers = open_layers(root, hooks)
    checked = describe(layers)
    problems = layer_problems(layers, hooks)
    if inputs is not None:
        checked += f" with the input mirror {inputs}"
        problems += validate_inputs(layers, inputs)
    problems = unique_problems(problems)  # an unreadable file is found by both walks
    if problems:
        raise HeliosError(f"{len(problems)} problem(s) found in {checked}", problems=problems)
    typer.echo(f"ok: {checked} is a valid Helios tree")
