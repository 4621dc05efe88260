"""Commands that need a Dagger engine: `build` and `publish`. dagger-io is imported only when they run."""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from pipeline.cli.common import (
    BaseOption,
    HooksOption,
    ImageRewriteOption,
    InputsOption,
    OfflineOption,
    RootOption,
    find_root,
    open_planner,
)
from pipeline.cli.jobs import Destination, Job, export_to
from pipeline.errors import HeliosError, printable
from pipeline.mirror import Mirror, State, plan_inputs
from pipeline.plan import Plan, Planner
from pipeline.platforms import host_default
from pipeline.release import (
    DEFAULT_PLATFORMS,
    Metadata,
    Target,
    check_address,
    check_credentials,
    check_password_env,
    helios_version,
    matrix,
    tags_by_distro,
)
from pipeline.spelling import Front

if TYPE_CHECKING:  # shipping imports dagger-io, which the engine-free commands never load
    from pipeline.shipping import Shipped

DistrosOption = Annotated[
    list[str] | None,
    typer.Option(
        "--distro", "-d", metavar="NAME", help="Distro name or alias; repeat for several.", show_default=False
    ),
]
AllOption = Annotated[bool, typer.Option("--all", help="Every distro of the catalogue.")]
PlatformsOption = Annotated[
    list[str] | None,
    typer.Option(
        "--platform",
        metavar="PLATFORM",
        help="linux/amd64 or linux/arm64; repeat for several.",
        show_default=False,
    ),
]


def choose_targets(
    planner: Planner, distros: list[str] | None, every: bool, platforms: list[str] | None, default: list[str]
) -> list[Target]:
    """The distro x platform matrix the options ask for; an error when they name no distro."""
    if every and distros:
        raise HeliosError("--all and --distro were both given", hint="use one of them")
    if not every and not distros:
        raise HeliosError("no distro chosen", hint="pass --distro NAME (repeatable) or --all")
    return matrix(planner.catalogue, None if every else distros, platforms or default)


def metadata_for(root: Path) -> Metadata:
    """Labels and timestamps for a build of the checkout at ``root`` (see pipeline.cli.sourceinfo)."""
    from pipeline.cli.sourceinfo import source_info

    info = source_info(root)
    return Metadata(helios_version(), info.revision, info.url, info.epoch)


def prepare(
    root: Path | None,
    hooks: Path | None,
    distros: list[str] | None,
    every: bool,
    platforms: list[str] | None,
    default_platforms: list[str],
    base: str | None,
    inputs: Path | None = None,
    offline: bool = False,
    rewrites: list[str] | None = None,
) -> Job:
    """Everything a build needs, checked: the tree, each target's plan (made once), and metadata.

    Every bad input fails here, before the engine starts.
    """
    planner = open_planner(root, hooks, inputs, offline, rewrites)
    targets = choose_targets(planner, distros, every, platforms, default_platforms)
    plans = tuple(planner.plan_all(((t.distro, t.platform) for t in targets), base=base))
    if planner.mirror is not None:
        warn_unchecked(planner.mirror, plans)
    checkout = find_root(Path.cwd()) if root is None else root
    return Job(checkout, hooks, plans, metadata_for(checkout), inputs, tuple(rewrites or ()))


def warn_unchecked(mirror: Mirror, plans: Sequence[Plan]) -> None:
    """Name the entries the build takes unchecked (git bundles without git): their steps check them."""
    for item in plan_inputs(plans):
        state, why = mirror.state(item)
        if state is State.UNCHECKED:
            where = f"{mirror.location}/{item.path} ({item.name})"
            typer.echo(printable(f"warning: {where} was not checked here: {why}"), err=True)


def check_signing(key: Path | None, password_env: str | None, token_env: str | None) -> None:
    """The signing options agree, the key file is a cosign private key, the variables are set."""
    from pipeline.signing import check_key_file, check_signing_options  # imports dagger-io

    check_signing_options(key=key is not None, password=password_env is not None, token=token_env is not None)
    if key is not None:
        check_key_file(key)
    if password_env is not None:
        check_password_env(
            password_env,
            os.environ,
            option="--cosign-password-env",
            what="key password",
            example="COSIGN_PASSWORD",
        )
    if token_env is not None:
        check_password_env(
            token_env, os.environ, option="--oidc-token-env", what="token", example="SIGSTORE_ID_TOKEN"
        )


def print_summary(shipped: list[Shipped]) -> None:
    """The closing table on stdout: distro, platform, reference, digest."""
    from rich.console import Console
    from rich.table import Table

    table = Table("distro", "platform", "reference", "digest", box=None, pad_edge=False)
    for item in shipped:
        table.add_row(item.distro, item.platform, item.reference, item.digest)
    Console(width=200).print(table)


def build(
    distro: DistrosOption = None,
    every: AllOption = False,
    platform: PlatformsOption = None,
    base: BaseOption = None,
    export: Annotated[
        str | None,
        typer.Option(
            metavar="PATH",
            help="Write OCI tarballs: a file for one image, a folder (helios-<distro>-<arch>.tar) "
            "for several or for a PATH ending in /, made if missing. Written only when the build succeeds.",
        ),
    ] = None,
    hooks: HooksOption = None,
    inputs: InputsOption = None,
    offline: OfflineOption = False,
    image_rewrite: ImageRewriteOption = None,
    root: RootOption = None,
) -> None:
    """Build images on a Dagger engine, several at once (needs the engine; see README)."""
    job = prepare(
        root, hooks, distro, every, platform, [host_default()], base, inputs, offline, image_rewrite
    )
    written = export_to(export, len(job.plans)) if export is not None else None
    from pipeline.cli.run import run_build  # imports dagger-io, so only here

    print_summary(run_build(job, written))


def publish(
    address: Annotated[
        str,
        typer.Option(
            metavar="REPOSITORY", help="Registry repository without a tag, e.g. ghcr.io/org/helios."
        ),
    ],
    distro: DistrosOption = None,
    every: AllOption = False,
    tag: Annotated[
        list[str] | None,
        typer.Option(
            metavar="TAG",
            help="Tag to push instead of <version>-<distro> and <distro>; repeatable.",
            show_default=False,
        ),
    ] = None,
    channel: Annotated[
        str | None,
        typer.Option(
            metavar="CHANNEL",
            help="Publish as <channel>-<distro> (e.g. unstable) instead of release tags.",
            show_default=False,
        ),
    ] = None,
    platform: PlatformsOption = None,
    username: Annotated[
        str | None, typer.Option(metavar="NAME", help="Registry username.", show_default=False)
    ] = None,
    password_env: Annotated[
        str | None,
        typer.Option(
            metavar="VAR",
            help="Name of the environment variable holding the registry password or token "
            "(never pass the password itself on the command line).",
            show_default=False,
        ),
    ] = None,
    base: BaseOption = None,
    hooks: HooksOption = None,
    inputs: InputsOption = None,
    offline: OfflineOption = False,
    image_rewrite: ImageRewriteOption = None,
    root: RootOption = None,
    sbom: Annotated[
        bool, typer.Option(help="Attach each image's SPDX SBOM to it as an OCI referrer.")
    ] = True,
    cosign_key: Annotated[
        Path | None,
        typer.Option(
            metavar="FILE",
            help="Sign the pushed digests with this cosign private key file.",
            show_default=False,
        ),
    ] = None,
    cosign_password_env: Annotated[
        str | None,
        typer.Option(
            metavar="VAR",
            help="Name of the environment variable holding the cosign key's password.",
            show_default=False,
        ),
    ] = None,
    oidc_token_env: Annotated[
        str | None,
        typer.Option(
            metavar="VAR",
            help="Sign keyless (Sigstore): name of the environment variable holding an OIDC token "
            "of audience sigstore.",
            show_default=False,
        ),
    ] = None,
) -> None:
    """Build and push images, multi-arch (linux/amd64 + linux/arm64 by default), with derived tags.

    Each image gets its SBOM attached; with --cosign-key or --oidc-token-env, the pushed digests and
    SBOMs are signed too.
    """
    address = check_address(address)
    if password_env is not None:
        check_password_env(password_env, os.environ)
    check_credentials(username, password_env is not None, Front.CLI)
    check_signing(cosign_key, cosign_password_env, oidc_token_env)
    job = prepare(
        root, hooks, distro, every, platform, list(DEFAULT_PLATFORMS), base, inputs, offline, image_rewrite
    )
    distros = [plan.distro.name for plan in job.plans]
    defaults = [plan.distro.name for plan in job.plans if plan.distro.is_default]
    tags_by_distro(distros, job.metadata.version, defaults, tag, channel)
    destination = Destination(
        address,
        tuple(tag or ()),
        channel,
        username,
        password_env,
        sbom,
        cosign_key,
        cosign_password_env,
        oidc_token_env,
    )
    from pipeline.cli.run import run_publish  # imports dagger-io, so only here

    print_summary(run_publish(job, destination))
