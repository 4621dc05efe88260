"""The `helios` command line.

`distros`, `plan` and `validate` (pipeline.cli.views) need no engine and never import dagger-io;
`build` and `publish` (pipeline.cli.ship) import it only when they run; `inputs`
(pipeline.cli.mirror) makes an input mirror without an engine. Every error of every command,
usage errors included, is reported by pipeline.cli.group.
"""

from __future__ import annotations

from typing import Annotated

import typer

from pipeline.cli import mirror, ship, views
from pipeline.cli.group import Commands

app = typer.Typer(
    name="helios",
    cls=Commands,  # reports every command's errors the same way, with its exit code
    help="Build ready-to-run Linux desktop images for many distros from one hook tree.",
    no_args_is_help=True,
    pretty_exceptions_show_locals=False,  # locals can hold secrets
    add_completion=False,
    rich_markup_mode=None,  # plain help, as wide as the terminal: no panels, no clipped option names
)
for command in (
    views.distros,
    views.plan,
    views.images,
    views.validate,
    ship.build,
    ship.publish,
    mirror.inputs,
):
    app.command()(command)


def show_version(wanted: bool) -> None:
    if wanted:
        from pipeline.release import helios_version

        typer.echo(f"helios {helios_version()}")
        raise typer.Exit()


@app.callback()
def helios(
    version: Annotated[
        bool,
        typer.Option(
            "--version", callback=show_version, is_eager=True, help="Print Helios's version and exit."
        ),
    ] = False,
) -> None:
    """Build ready-to-run Linux desktop images for many distros from one hook tree."""


def main() -> None:
    """Console entry point; every error of every command is reported by :class:`Commands`."""
    app(prog_name="helios")
