"""Commands that need a Dagger engine: `build` and `publish`. dagger-io is imported only when they run."""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from pipeline.choice import plans_for
from pipeline.cli.common import find_root, open_planner
from pipeline.cli.jobs import Job, Push, export_to
from pipeline.cli.options import Fetching, RegistryLogin, SigningKeys, Targets, Trees, grouped
from pipeline.errors import printable
from pipeline.mirror.state import Mirror, State
from pipeline.plan import Plan, plan_inputs
from pipeline.platforms import host_default
from pipeline.release import DEFAULT_PLATFORMS, Metadata, helios_version, publication

if TYPE_CHECKING:  # shipping imports dagger-io, which the engine-free commands never load
    from pipeline.shipping import Shipped


def metadata_for(root: Path) -> Metadata:
    """Labels and timestamps for a build of the checkout at ``root`` (see pipeline.cli.sourceinfo)."""
    from pipeline.cli.sourceinfo import source_info

    info = source_info(root)
    return Metadata(helios_version(), info.revision, info.url, info.epoch)


def prepare(trees: Trees, targets: Targets, fetching: Fetching, *, default_platforms: tuple[str, ...]) -> Job:
    """Everything a build needs, checked: the trees, each chosen plan (made once), and metadata.

    Every bad input fails here, before the engine starts.
    """
    planner = open_planner(trees, fetching)
    plans = plans_for(planner, targets.choice(default_platforms))
    if planner.mirror is not None:
        warn_unchecked(planner.mirror, plans)
    checkout = find_root(Path.cwd()) if trees.root is None else trees.root
    return Job(
        root=checkout,
        hooks=trees.hooks,
        plans=plans,
        metadata=metadata_for(checkout),
        mirror=fetching.mirror,
        rewrites=tuple(fetching.image_rewrite or ()),
    )


def warn_unchecked(mirror: Mirror, plans: Sequence[Plan]) -> None:
    """Name the entries the build takes unchecked (git bundles without git): their steps check them."""
    for item in plan_inputs(plans):
        state, why = mirror.state(item)
        if state is State.UNCHECKED:
            where = f"{mirror.location}/{item.path} ({item.name})"
            typer.echo(printable(f"warning: {where} was not checked here: {why}"), err=True)


def print_summary(shipped: list[Shipped]) -> None:
    """The closing table on stdout: distro, platform, reference, digest."""
    from rich.console import Console
    from rich.table import Table

    table = Table("distro", "platform", "reference", "digest", box=None, pad_edge=False)
    for item in shipped:
        table.add_row(item.distro, item.platform, item.reference, item.digest)
    Console(width=200).print(table)


@grouped
def build(
    targets: Targets,
    export: Annotated[
        str | None,
        typer.Option(
            metavar="PATH",
            help="Write OCI tarballs: a file for one image, a folder (helios-<distro>-<arch>.tar) "
            "for several or for a PATH ending in /, made if missing. Written only when the build succeeds.",
        ),
    ] = None,
    *,
    fetching: Fetching,
    trees: Trees,
) -> None:
    """Build images on a Dagger engine, several at once (needs the engine; see README)."""
    job = prepare(trees, targets, fetching, default_platforms=(host_default(),))
    written = export_to(export, len(job.plans)) if export is not None else None
    from pipeline.cli.run import run_build  # imports dagger-io, so only here

    print_summary(run_build(job, written))


@grouped
def publish(
    address: Annotated[
        str,
        typer.Option(
            metavar="REPOSITORY", help="Registry repository without a tag, e.g. ghcr.io/org/helios."
        ),
    ],
    targets: Targets,
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
    *,
    registry: RegistryLogin,
    fetching: Fetching,
    trees: Trees,
    sbom: Annotated[
        bool, typer.Option(help="Attach each image's SPDX SBOM to it as an OCI referrer.")
    ] = True,
    signing: SigningKeys,
) -> None:
    """Build and push images, multi-arch (linux/amd64 + linux/arm64 by default), with derived tags.

    Each image gets its SBOM attached; with --cosign-key or --oidc-token-env, the pushed digests and
    SBOMs are signed too.
    """
    registry.check(os.environ)
    signing.check(os.environ)
    job = prepare(trees, targets, fetching, default_platforms=DEFAULT_PLATFORMS)
    where = publication(address, job.plans, version=job.metadata.version, tags=tag, channel=channel)
    from pipeline.cli.run import run_publish  # imports dagger-io, so only here

    print_summary(run_publish(job, Push(publication=where, registry=registry, signing=signing, sbom=sbom)))
