"""The `helios` command line.

`distros`, `plan` and `validate` (pipeline.cli.views) need no engine and never import dagger-io;
`build` and `publish` (pipeline.cli.ship) import it only when they run; `inputs`
(pipeline.cli.mirror) makes an input mirror without an engine.
"""

from __future__ import annotations

import typer

from pipeline.cli import mirror, ship, views
from pipeline.cli.common import Commands

app = typer.Typer(
    name="helios",
    cls=Commands,  # reports every command's HeliosError the same way, with its exit code
    help="Build ready-to-run Linux desktop images for many distros from one hook tree.",
    no_args_is_help=True,
    pretty_exceptions_show_locals=False,  # locals can hold secrets
    add_completion=False,
)
app.command()(views.distros)
app.command()(views.plan)
app.command()(views.images)
app.command()(views.validate)
app.command()(ship.build)
app.command()(ship.publish)
app.command()(mirror.inputs)


def main() -> None:
    """Console entry point; a HeliosError of any command is reported by :class:`Commands`."""
    app(prog_name="helios")
