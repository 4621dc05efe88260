"""The `helios` command line: engine-free views of the tree, and builds through a Dagger connection.

`distros`, `plan` and `validate` never import dagger-io (its import alone costs most of a second);
only `build` does, when it runs.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated, NoReturn

import typer

from pipeline.errors import HeliosError
from pipeline.layers import Layers
from pipeline.plan import Plan, Planner
from pipeline.platforms import check_platform, host_default
from pipeline.render import distros_table, plan_table
from pipeline.tree import LocalTree
from pipeline.validate import validate_tree

app = typer.Typer(
    name="helios",
    help="Build ready-to-run Linux desktop images for many distros from one hook tree.",
    no_args_is_help=True,
    pretty_exceptions_show_locals=False,  # locals can hold secrets
    add_completion=False,
)

USAGE_ERROR = 2
BUILD_FAILED = 1

RootOption = Annotated[
    Path | None,
    typer.Option(
        "--root",
        envvar="HELIOS_ROOT",
        help="The Helios tree (with common/ and distros/). Default: the nearest one above this folder.",
        show_default=False,
    ),
]
HooksOption = Annotated[
    Path | None,
    typer.Option(
        "--hooks",
        help="Your hooks tree, laid out like ours (common/build, common/root, distros/<d>/...), over ours.",
        show_default=False,
    ),
]
DistroOption = Annotated[str, typer.Option("--distro", "-d", help="Distro name or alias, e.g. rhel.")]
PlatformOption = Annotated[
    str | None,
    typer.Option(help="linux/amd64 or linux/arm64. Default: this machine's.", show_default=False),
]
BaseOption = Annotated[
    str | None, typer.Option(help="Replace the distro's base image, e.g. almalinux:9.6.", show_default=False)
]


def fail(error: HeliosError, code: int = USAGE_ERROR) -> NoReturn:
    """Report a user error on stderr in one line (plus hint) and exit, without a traceback."""
    typer.echo(f"error: {error.message}", err=True)
    if error.hint:
        typer.echo(f"hint: {error.hint}", err=True)
    raise typer.Exit(code)


def find_root(start: Path) -> Path:
    """The nearest folder at or above ``start`` that holds a Helios tree."""
    for folder in (start, *start.parents):
        if (folder / "distros").is_dir() and (folder / "common").is_dir():
            return folder
    raise HeliosError(
        f"no Helios tree (common/ and distros/) found at or above {start}",
        hint="run inside a Helios checkout, or pass --root PATH",
    )


def open_tree(root: Path | None) -> LocalTree:
    if root is None:
        return LocalTree(find_root(Path.cwd()))
    if not (root / "distros").is_dir():
        raise HeliosError(f"{root} has no distros/ folder", hint="pass the root of a Helios tree to --root")
    return LocalTree(root)


def open_layers(root: Path | None, hooks: Path | None) -> Layers:
    """Our tree, with the user's hooks tree over it when ``--hooks`` is given."""
    repo = open_tree(root)
    if hooks is None:
        return Layers(repo)
    if not hooks.is_dir():
        raise HeliosError(
            f"--hooks {hooks}: no such folder", hint="pass a folder laid out like common/ and distros/"
        )
    return Layers(repo, LocalTree(hooks), user_label=str(hooks))


def make_plan(
    root: Path | None, hooks: Path | None, distro: str, platform: str | None, base: str | None
) -> Plan:
    layers = open_layers(root, hooks)
    return Planner(layers).plan(distro, check_platform(platform) if platform else host_default(), base=base)


@app.command()
def distros(hooks: HooksOption = None, root: RootOption = None) -> None:
    """List the distros with a one-line description each."""
    try:
        typer.echo(distros_table(Planner(open_layers(root, hooks)).catalogue))
    except HeliosError as error:
        fail(error)


@app.command()
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


@app.command()
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


@app.command()
def build(
    distro: DistroOption,
    platform: PlatformOption = None,
    base: BaseOption = None,
    export: Annotated[
        Path | None,
        typer.Option(help="Write the image as an OCI tarball here (written only when the build succeeds)."),
    ] = None,
    hooks: HooksOption = None,
    root: RootOption = None,
) -> None:
    """Build a distro's image on a Dagger engine (needs the engine; see README)."""
    try:
        the_plan = make_plan(root, hooks, distro, platform, base)
        if export is not None and not export.parent.is_dir():
            raise HeliosError(
                f"cannot write {export}: {export.parent} is not a folder", hint="create it first"
            )
    except HeliosError as error:
        fail(error)
    from pipeline.run import run_build  # imports dagger-io, so only here

    try:
        message = run_build(find_root(Path.cwd()) if root is None else root, hooks, the_plan, export)
    except HeliosError as error:
        fail(error, BUILD_FAILED)
    typer.echo(message)


def main() -> None:
    """Console entry point."""
    app(prog_name="helios")


if __name__ == "__main__":
    sys.exit(main())
